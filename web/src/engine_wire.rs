//! What the app's shell and its engine (`web/engine`, a second wasm module loaded by a
//! dynamic `import()`) exchange: JSON text both ways, so the shell links no Cedar.
//!
//! The shell fetches the edge's bundle endpoint and hands its text to the engine with the
//! token and the keys the session verified it with; the engine loads the bundle, runs the
//! edge's pipeline for the token and answers with an [`EngineMatrix`]. A what-if names the
//! matrix by its handle ([`WhatIfInput`]).

use cedargate::wire::PermittedResources;
use cedargate::{ActionDecision, Reliance, SetClaim};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The module the shell imports, relative to the app's origin.
pub const ENGINE_MODULE: &str = "/engine/cedargate_web_engine.js";

/// What the matrix is computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInput {
    /// `config.json` as the app read it.
    pub config: String,
    /// The issuer the session signed in with, and its key set (JWKS) as fetched.
    pub issuer: String,
    pub jwks: String,
    /// The token sent to the edge.
    pub token: String,
    /// The ID token sent beside it, when the app sends both (`edge_companion`).
    #[serde(default)]
    pub companion: Option<String>,
    /// The bundle endpoint's answer, as the edge sent it.
    pub bundle: String,
    /// Now, on this browser's clock (seconds since the epoch).
    pub now: i64,
}

/// A set-valued claim a what-if may change ([`SetClaim`] on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSetClaim {
    pub claim: String,
    pub values: Vec<String>,
    pub space_separated: bool,
    pub group: bool,
}

impl From<SetClaim> for WireSetClaim {
    fn from(c: SetClaim) -> Self {
        Self {
            claim: c.claim,
            values: c.values,
            space_separated: c.space_separated,
            group: c.group,
        }
    }
}

/// The matrix the engine computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineMatrix {
    /// Names the engine's gate and verified token for what-ifs ([`WhatIfInput`]).
    pub handle: u32,
    pub version: String,
    pub principal: String,
    pub data_about: Vec<String>,
    pub rows: Vec<ActionDecision>,
    pub reliances: BTreeMap<String, Vec<Reliance>>,
    pub policy_texts: BTreeMap<String, String>,
    pub set_claims: Vec<WireSetClaim>,
    pub enforced: BTreeMap<String, bool>,
    /// The staged candidate's matrix, or why it could not be evaluated.
    pub staged: Option<Result<EngineStaged, String>>,
    pub permitted_resources: Vec<PermittedResources>,
}

/// The staged candidate's matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStaged {
    pub version: String,
    pub serial: u64,
    pub rows: Vec<ActionDecision>,
    pub policy_texts: BTreeMap<String, String>,
}

/// Why the engine computed no matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum EngineError {
    /// The bundle does not load (or the configuration does not bind to it).
    Bundle(String),
    /// The token does not pass the bundle's pipeline.
    Token(String),
    /// The input itself is malformed (a shell and an engine of different builds).
    Input(String),
}

/// A what-if: the matrix's token with some set-valued claims replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatIfInput {
    pub handle: u32,
    pub replace: BTreeMap<String, Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn an_error_is_tagged_on_the_wire() {
        let text = serde_json::to_string(&EngineError::Token("expired".into())).unwrap();
        assert_eq!(text, r#"{"kind":"token","message":"expired"}"#);
        let back: EngineError = serde_json::from_str(&text).unwrap();
        assert_eq!(back, EngineError::Token("expired".into()));
    }
}

/// A signature the shell's WebCrypto cannot check (a key the browser cannot import, such as
/// Ed25519 in an older one), handed to the engine, which checks it with the shared core's
/// pure-Rust backend: the shell links none of that code. The engine answers `true` (it
/// verifies), `false` (it does not), or throws why it cannot check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureInput {
    /// The token's algorithm, which the key accepts.
    pub alg: cedargate::Algorithm,
    /// The issuer's key, as its public JWK.
    pub jwk: serde_json::Map<String, serde_json::Value>,
    /// The signed text: `base64url(header) "." base64url(payload)`.
    pub message: String,
    /// The signature's bytes.
    pub signature: Vec<u8>,
}
