//! Each step of the edge's request path alone, in wasm32 with the worker's release profile:
//! the functions the worker calls (the shared core and `cedargate-edge`'s pure modules,
//! built without its `runtime`), on the PetStore bundle the worker is built with. What the
//! worker adds on top (workers-rs, `Request` and `Headers` crossing into Rust, `console.log`,
//! the Response) is the rest of the request's cost in `cargo xtask bench`'s table.
//!
//! `set_up` is what a new isolate does before its first request (`runtime::state`'s pure
//! part): the configuration parsed, the compiled bundle loaded as the version the build
//! script validated, its routes checked against the configuration and the trust bound.
//! `run.mjs` also times its first call in fresh Node processes, the module compiled and
//! instantiated just before: the cost a cold isolate pays, code compiled on first use
//! included.
//!
//! Three steps measure the crossings into JavaScript the worker makes: reading a `Request`
//! (method, URL, three headers), building a `Response` with the headers an allowed request
//! carries, and one `console.log` line.
//!
//! `steps.mjs` mints the token and key with WebCrypto and names the steps; `run.mjs` times
//! them under Node, `worker.mjs` runs them in workerd (timed from outside, by
//! `cargo xtask bench`). Every method runs its step `n` times and returns a number that
//! depends on the results, so nothing is optimized away.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use cedargate::crypto::WebCrypto;
    use cedargate::{Algorithm, SignatureBackend, SignatureCheck};
    use cedargate::{Bundle, CompiledBundle};
    use cedargate::{Gate, IssuerKeys, KeySet, Principal, TrustConfig, UnixTime, VerifiedToken};
    use cedargate_edge::BUNDLE_VERSION_HEADER;
    use cedargate_edge::config::EdgeConfig;
    use cedargate_edge::forward::{Identity, identity_headers};
    use cedargate_edge::key_policy::config_digest;
    use cedargate_edge::log_line::RequestRecord;
    use cedargate_edge::request_values::decided_on;
    use cedargate_edge::token_cache::{TokenCache, token_key};
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(
        inline_js = "export function headers_from_pairs(text) { const h = new Headers(); const p = text.split('\\0'); for (let i = 0; i + 1 < p.length; i += 2) h.append(p[i], p[i + 1]); return h; }"
    )]
    extern "C" {
        fn headers_from_pairs(text: &str) -> web_sys::Headers;
    }

    fn error(e: &dyn std::fmt::Display) -> JsError {
        JsError::new(&e.to_string())
    }

    /// The worker's gate with one issuer, a token of it, its verified form and principal.
    #[wasm_bindgen]
    #[derive(Debug)]
    pub struct Stages {
        gate: Gate,
        keys: KeySet,
        token: String,
        now: UnixTime,
        verified: VerifiedToken,
        principal: Principal,
        cache: TokenCache<u32>,
        /// A full token cache of verified tokens and principals, for `churn`.
        full: TokenCache<std::rc::Rc<(VerifiedToken, Principal)>>,
        inserted: u64,
        /// The worker's signature backend, kept like the worker keeps it (the key is
        /// imported once).
        backend: WebCrypto,
        /// The bundle's compiled form (JSON), its version and the worker's configuration
        /// (JSON), for `set_up`.
        compiled: String,
        version: String,
        config: String,
    }

    /// The pieces several steps share (not exported).
    impl Stages {
        /// The identity headers and the bundle version header, as an allowed request gets.
        fn answer_headers(&self) -> Vec<(&'static str, String)> {
            let mut headers = identity_headers(
                &Identity::of(&self.principal),
                "get /pets/{petId}",
                &["AdminCanDoAnything".to_owned()],
                "0123456789ab-1",
            );
            headers.push((BUNDLE_VERSION_HEADER, "0123456789abcdef".into()));
            headers
        }

        /// The allowed request's log line.
        fn line(&self) -> String {
            RequestRecord {
                issuer: Some(self.principal.issuer().to_owned()),
                subject: Some(self.principal.subject().to_owned()),
                client: self.principal.client().map(str::to_owned),
                action: Some("get /pets/{petId}".into()),
                decision: Some("allow"),
                policies: vec!["AdminCanDoAnything".into()],
                token_cache: Some("hit"),
                decision_cache: Some("hit"),
                error: None,
                anonymous: false,
                introspected: None,
                mode: None,
                would_deny: None,
            }
            .line("0123456789ab-1", "GET", "/pets/42?limit=1", 204, 120)
        }
    }

    /// A 204 answer with `headers`.
    fn no_content(headers: &web_sys::Headers) -> Result<u32, JsError> {
        let init = web_sys::ResponseInit::new();
        init.set_status(204);
        init.set_headers(headers);
        let response = web_sys::Response::new_with_opt_str_and_init(None, &init).map_err(js)?;
        Ok(u32::from(response.status()))
    }

    /// A cache key of its own for the `n`th entry.
    fn numbered_key(n: u64) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&n.to_le_bytes());
        key
    }

    fn js(e: JsValue) -> JsError {
        JsError::new(&format!("{e:?}"))
    }

    /// What a new isolate does before its first request, as `runtime::state` does it: the
    /// configuration (`config`, JSON) parsed and digested, the compiled bundle (`compiled`,
    /// its JSON form) loaded as the validated version `version` (no Cedar text parsed,
    /// nothing validated again), its routes checked against the configuration, the trust and
    /// context bound (`Gate::enforcing`) and the headers its decisions read listed. Returns a
    /// number that depends on the result.
    #[wasm_bindgen]
    pub fn set_up(compiled: &str, version: &str, config: &str) -> Result<u32, JsError> {
        let raw: serde_json::Value = serde_json::from_str(config).map_err(|e| error(&e))?;
        let config = EdgeConfig::from_json(&raw.to_string()).map_err(|e| error(&e))?;
        let digest = config_digest(&raw);
        let form: CompiledBundle = serde_json::from_str(compiled).map_err(|e| error(&e))?;
        let bundle =
            Bundle::load_compiled_validated_as(&form, None, version).map_err(|e| error(&e))?;
        config.check_bundle(&bundle).map_err(|e| error(&e))?;
        let gate =
            Gate::enforcing(bundle, &config.trust, &config.context).map_err(|e| error(&e))?;
        let headers = decided_on(gate.bundle().context_needs());
        Ok(digest.len() as u32
            + gate.bundle().version().as_str().len() as u32
            + headers.len() as u32)
    }

    #[wasm_bindgen]
    impl Stages {
        /// The PetStore gate trusting ID tokens of `issuer` for `audience`, with the key set
        /// `jwks` and `token` (which must pass at `now`, in seconds).
        pub async fn create(
            issuer: String,
            audience: String,
            jwks: String,
            token: String,
            now: f64,
        ) -> Result<Stages, JsError> {
            let bundle = cedargate::examples::petstore().map_err(|e| error(&e))?;
            let config: TrustConfig = serde_json::from_value(serde_json::json!({ "issuers": [{
                "issuer": issuer, "token": "id", "audiences": [audience]
            }] }))
            .map_err(|e| error(&e))?;
            let compiled = serde_json::to_string(bundle.compiled()).map_err(|e| error(&e))?;
            let version = bundle.version().to_string();
            // The bench's worker configuration (origin `none`, the request log on).
            let edge_config = serde_json::json!({
                "origin": "none", "signature_backend": "webcrypto",
                "token_cache_entries": 1024, "request_log": "all",
                "trust": { "issuers": [{ "issuer": issuer, "token": "id", "audiences": [audience] }] },
            })
            .to_string();
            let gate = Gate::new(bundle, &config).map_err(|e| error(&e))?;
            let keys = KeySet::from_json(&jwks).map_err(|e| error(&e))?;
            let now = UnixTime(now as i64);
            let backend = WebCrypto::new();
            let (verified, principal) = gate
                .authenticate(&token, IssuerKeys::new(&issuer, &keys), &backend, now)
                .await
                .map_err(|e| error(&e))?;
            let mut cache = TokenCache::new(1024);
            cache.insert(token_key(&token), 1, now.seconds() + 3600);
            let mut full = TokenCache::new(1024);
            let entry = std::rc::Rc::new((verified.clone(), principal.clone()));
            for i in 0..1024u64 {
                full.insert(numbered_key(i), entry.clone(), now.seconds() + 3600);
            }
            Ok(Stages {
                gate,
                keys,
                token,
                now,
                verified,
                principal,
                cache,
                full,
                inserted: 1024,
                backend,
                compiled,
                version,
                config: edge_config,
            })
        }

        /// What [`set_up`] takes, as JSON: `{"compiled", "version", "config"}` (for a fresh
        /// process that times its first call).
        pub fn set_up_input(&self) -> String {
            serde_json::json!({
                "compiled": self.compiled, "version": self.version, "config": self.config,
            })
            .to_string()
        }

        /// A new isolate's set-up ([`set_up`]), `n` times.
        pub fn set_up(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                sum += set_up(&self.compiled, &self.version, &self.config)?;
            }
            Ok(sum)
        }

        /// The token cache's key: SHA-256 of the token.
        pub fn token_key(&self, n: u32) -> u32 {
            (0..n).map(|_| u32::from(token_key(&self.token)[0])).sum()
        }

        /// A token cache hit: the key, then the lookup.
        pub fn cache_hit(&mut self, n: u32) -> u32 {
            let mut sum = 0;
            for _ in 0..n {
                let key = token_key(&self.token);
                sum += self
                    .cache
                    .get(&key, self.now.seconds())
                    .copied()
                    .unwrap_or(0);
            }
            sum
        }

        /// Route matching and the Cedar decision for `GET /pets/{petId}`.
        pub fn decide(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                let (route, decision) = self
                    .gate
                    .decide(
                        &self.principal,
                        "GET",
                        "/pets/42?limit=1",
                        &cedargate::RequestValues::at(cedargate::UnixTime(0)),
                    )
                    .map_err(|e| error(&e))?;
                sum += u32::from(decision.is_allowed()) + route.action.len() as u32;
            }
            Ok(sum)
        }

        /// The headers the origin is sent about the caller and the decision.
        pub fn identity_headers(&self, n: u32) -> u32 {
            (0..n)
                .map(|_| {
                    let headers = self.answer_headers();
                    headers.iter().map(|(_, v)| v.len() as u32).sum::<u32>()
                })
                .sum()
        }

        /// The request's log line, built and written out as text.
        pub fn log_line(&self, n: u32) -> u32 {
            (0..n).map(|_| self.line().len() as u32).sum()
        }

        /// A new token's first part: the JOSE header and claims parsed, before any key.
        pub fn parse(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                let jwt = self
                    .gate
                    .trust()
                    .parse(&self.token)
                    .map_err(|e| error(&e))?;
                sum += jwt.kid().map_or(0, |k| k.len() as u32);
            }
            Ok(sum)
        }

        /// A verified token mapped to its principal (the Cedar entity built and checked).
        pub fn map(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                let principal = self
                    .gate
                    .trust()
                    .principal(&self.verified)
                    .map_err(|e| error(&e))?;
                sum += principal.groups().len() as u32;
            }
            Ok(sum)
        }

        /// What the worker reads of each request: method, URL and three headers.
        pub fn read_request(&self, request: &web_sys::Request, n: u32) -> u32 {
            let mut sum = 0;
            for _ in 0..n {
                let headers = request.headers();
                sum += request.method().len() as u32 + request.url().len() as u32;
                let origin = headers.get("origin").ok().flatten();
                let preflight = headers
                    .has("access-control-request-method")
                    .unwrap_or(false);
                let authorization = headers.get("authorization").ok().flatten();
                sum += origin.map_or(0, |o| o.len() as u32)
                    + u32::from(preflight)
                    + authorization.map_or(0, |a| a.len() as u32);
            }
            sum
        }

        /// An allowed request's answer without an origin: a `Headers` with the identity and
        /// common headers appended one by one, then a 204 `Response`.
        pub fn respond(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                let out = web_sys::Headers::new().map_err(js)?;
                for (k, v) in &self.answer_headers() {
                    out.append(k, v).map_err(js)?;
                }
                sum += no_content(&out)?;
            }
            Ok(sum)
        }

        /// The same answer with the headers handed over as one string and appended by a
        /// JavaScript helper (`headers_from_pairs`).
        pub fn respond_joined(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                let mut joined = String::with_capacity(512);
                for (k, v) in &self.answer_headers() {
                    joined.push_str(k);
                    joined.push('\0');
                    joined.push_str(v);
                    joined.push('\0');
                }
                sum += no_content(&headers_from_pairs(&joined))?;
            }
            Ok(sum)
        }

        /// The request's log line, built and written with `console.log`.
        pub fn console_log(&self, n: u32) -> u32 {
            let mut sum = 0;
            for _ in 0..n {
                let line = self.line();
                sum += line.len() as u32;
                web_sys::console::log_1(&line.into());
            }
            sum
        }

        /// A new token kept in a full token cache (1,024 entries, as the worker's default):
        /// a verified token and principal copied in, the oldest entry dropped.
        pub fn churn(&mut self, n: u32) -> u32 {
            for _ in 0..n {
                let entry = std::rc::Rc::new((self.verified.clone(), self.principal.clone()));
                self.full.insert(
                    numbered_key(self.inserted),
                    entry,
                    self.now.seconds() + 3600,
                );
                self.inserted += 1;
            }
            self.full.len() as u32
        }

        /// The signature alone through the worker's WebCrypto backend (the key imported once,
        /// as in the worker): what a new token's check costs from Rust, promise included.
        pub async fn signature(&self, n: u32) -> Result<u32, JsError> {
            let backend = &self.backend;
            let key = self
                .keys
                .keys()
                .first()
                .ok_or_else(|| JsError::new("the key set is empty"))?;
            let (message, signature) = self
                .token
                .rsplit_once('.')
                .ok_or_else(|| JsError::new("the token has no signature"))?;
            let signature = Base64UrlUnpadded::decode_vec(signature).map_err(|e| error(&e))?;
            let check = SignatureCheck {
                algorithm: Algorithm::RS256,
                key,
                message: message.as_bytes(),
                signature: &signature,
            };
            let mut sum = 0;
            for _ in 0..n {
                backend.verify(&check).await.map_err(|e| error(&e))?;
                sum += 1;
            }
            Ok(sum)
        }

        /// A new token parsed and verified (signature through WebCrypto, then `iss`, `aud`,
        /// the times and the token's kind), without the mapping.
        pub async fn parse_verify(&self, n: u32) -> Result<u32, JsError> {
            let backend = &self.backend;
            let trust = self.gate.trust();
            let mut sum = 0;
            for _ in 0..n {
                let jwt = trust.parse(&self.token).map_err(|e| error(&e))?;
                let verified = trust
                    .verify(&jwt, &self.keys, backend, self.now)
                    .await
                    .map_err(|e| error(&e))?;
                sum += verified.claims().len() as u32;
            }
            Ok(sum)
        }

        /// The whole first half for a new token: parse, signature through WebCrypto, claims,
        /// mapping (`Gate::authenticate`, as the worker calls it on a cache miss).
        pub async fn authenticate(&self, n: u32) -> Result<u32, JsError> {
            let mut sum = 0;
            for _ in 0..n {
                let (_, principal) = self
                    .gate
                    .authenticate(
                        &self.token,
                        IssuerKeys::new(self.principal.issuer(), &self.keys),
                        &self.backend,
                        self.now,
                    )
                    .await
                    .map_err(|e| error(&e))?;
                sum += principal.groups().len() as u32;
            }
            Ok(sum)
        }
    }
}
