//! The browser app's matrix (`Bundle::allowed_actions`, what `web/src/app/edge.rs` shows)
//! for the benchmark's 50-action bundle (`tests/bench/fifty-actions`), compiled to wasm32
//! with the app's release profile and the core's `webcrypto` feature, as the app is.
//! `cargo xtask bench` builds it with wasm-bindgen (`--target nodejs`) and wasm-opt `-Oz`
//! (the app's `data-wasm-opt="z"`), and `tests/bench/matrix-wasm/run.mjs` times it.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use cedargate::{Bundle, BundleSource, Principal, TokenKind, Trust, TrustConfig};
    use wasm_bindgen::prelude::*;

    const ISSUER: &str = "https://issuer.bench.test";

    fn source() -> BundleSource {
        BundleSource {
            schema: include_str!("../../fifty-actions/schema.cedarschema").into(),
            policies: include_str!("../../fifty-actions/policies.cedar").into(),
            routes: include_str!("../../fifty-actions/routes.json").into(),
        }
    }

    /// Loads the bundle (schema, policies and routes parsed and validated); returns its
    /// number of actions.
    #[wasm_bindgen]
    pub fn load_bundle() -> Result<usize, JsError> {
        let bundle = Bundle::load(&source()).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(bundle.routes().len())
    }

    /// The bundle and a principal of the `readers` group with the `write` scope, so that
    /// every policy takes part.
    #[wasm_bindgen]
    #[derive(Debug)]
    pub struct Matrix {
        bundle: Bundle,
        principal: Principal,
    }

    #[wasm_bindgen]
    impl Matrix {
        #[wasm_bindgen(constructor)]
        pub fn new() -> Result<Matrix, JsError> {
            let error = |e: &dyn std::fmt::Display| JsError::new(&e.to_string());
            let bundle = Bundle::load(&source()).map_err(|e| error(&e))?;
            let config: TrustConfig = serde_json::from_value(serde_json::json!({ "issuers": [{
                "issuer": ISSUER, "token": "id", "audiences": ["bench"]
            }] }))
            .map_err(|e| error(&e))?;
            let trust = Trust::bind(&config, &bundle).map_err(|e| error(&e))?;
            let claims = serde_json::from_value(
                serde_json::json!({ "sub": "u", "group": ["readers"], "scope": "read write" }),
            )
            .map_err(|e| error(&e))?;
            let principal = trust
                .insecure_principal_from_claims(ISSUER, TokenKind::Id, &claims)
                .map_err(|e| error(&e))?;
            Ok(Matrix { bundle, principal })
        }

        /// Computes the matrix; returns its number of rows.
        pub fn rows(&self) -> usize {
            self.bundle.allowed_actions(&self.principal).len()
        }

        /// How many rows are allowed outright (a check that the policies were evaluated).
        pub fn allowed(&self) -> usize {
            self.bundle
                .allowed_actions(&self.principal)
                .iter()
                .filter(|row| row.outcome == Some(cedargate::Outcome::Allow))
                .count()
        }
    }
}
