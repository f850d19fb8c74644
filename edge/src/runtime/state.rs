//! What an isolate prepares once: configuration, bundle, trust, key and token caches.

use super::keys::KeyStore;
use crate::config::EdgeConfig;
use crate::config::SignatureBackendChoice;
use crate::token_cache::TokenCache;
use cedargate::RustCrypto;
use cedargate::crypto::WebCrypto;
use cedargate::{Bundle, BundleSource, Gate, Principal, VerifiedToken};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use worker::Env;

/// The bundle compiled into the worker (validated by the build script).
const BUILT_IN_BUNDLE: &str = include_str!(concat!(env!("OUT_DIR"), "/bundle.json"));
/// Its serial (`CEDARGATE_BUNDLE_SERIAL` at build time, 0 by default).
const BUILT_IN_SERIAL: &str = env!("CEDARGATE_BUNDLE_SERIAL");

/// A token that passed verification and mapping.
pub struct Authenticated {
    pub verified: VerifiedToken,
    pub principal: Principal,
}

/// The configured signature backend.
pub type Backend = cedargate::crypto::AnyBackend;

/// Per-isolate state.
pub struct State {
    pub config: EdgeConfig,
    /// SHA-256 (hex) of the configuration's `trust` and `keys` sections: key sets kept in the
    /// Cache API are bound to it.
    pub key_config_digest: String,
    gate: RefCell<Rc<Gate>>,
    /// The serial of the bundle in force: a KV document must have a higher one.
    serial: Cell<u64>,
    /// SHA-256 of the last KV bundle text looked at, valid or not.
    pub kv_seen: RefCell<Option<[u8; 32]>>,
    pub kv_next_check: Cell<i64>,
    pub crypto: Backend,
    pub keys: KeyStore,
    pub tokens: RefCell<TokenCache<Rc<Authenticated>>>,
}

/// The isolate's state, or why it could not be built.
pub type Shared = Rc<Result<Rc<State>, String>>;

thread_local! {
    static STATE: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

impl State {
    /// The isolate's state, built on first use. A configuration or bundle error is kept and
    /// returned every time: the worker then refuses every request.
    pub fn get(env: &Env) -> Shared {
        if let Some(state) = STATE.with(|s| s.borrow().clone()) {
            return state;
        }
        let state = Rc::new(Self::build(env).map(Rc::new));
        STATE.with(|s| *s.borrow_mut() = Some(state.clone()));
        state
    }

    fn build(env: &Env) -> Result<State, String> {
        let raw: serde_json::Value = env
            .object_var("CEDARGATE_CONFIG")
            .map_err(|e| format!("CEDARGATE_CONFIG is missing or not an object: {e}"))?;
        let config = EdgeConfig::from_json(&raw.to_string()).map_err(|e| e.to_string())?;
        let key_config_digest = key_config_digest(&raw);
        let source: BundleSource = serde_json::from_str(BUILT_IN_BUNDLE)
            .map_err(|e| format!("built-in bundle is unreadable: {e}"))?;
        let bundle = Bundle::load(&source).map_err(|e| format!("built-in bundle: {e}"))?;
        let gate = Gate::new(bundle, &config.trust).map_err(|e| e.to_string())?;
        let serial = BUILT_IN_SERIAL
            .parse()
            .map_err(|_| format!("built-in bundle serial {BUILT_IN_SERIAL} is not a number"))?;
        let tokens = TokenCache::new(config.token_cache_entries);
        let crypto = match config.signature_backend {
            SignatureBackendChoice::Webcrypto => Backend::Web(WebCrypto::new()),
            SignatureBackendChoice::Rust => Backend::Rust(RustCrypto),
        };
        Ok(State {
            config,
            key_config_digest,
            gate: RefCell::new(Rc::new(gate)),
            serial: Cell::new(serial),
            kv_seen: RefCell::new(None),
            kv_next_check: Cell::new(0),
            crypto,
            keys: KeyStore::default(),
            tokens: RefCell::new(tokens),
        })
    }

    /// The gate in force.
    pub fn gate(&self) -> Rc<Gate> {
        self.gate.borrow().clone()
    }

    /// The serial of the bundle in force.
    pub fn serial(&self) -> u64 {
        self.serial.get()
    }

    /// Puts a newer gate in force; cached principals belong to the old one.
    pub fn replace_gate(&self, gate: Gate, serial: u64) {
        *self.gate.borrow_mut() = Rc::new(gate);
        self.serial.set(serial);
        self.tokens.borrow_mut().clear();
    }
}

/// SHA-256 (hex) of the `trust` and `keys` members of the raw configuration (serde_json
/// writes object members in sorted order, so equal settings give equal digests).
fn key_config_digest(raw: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    let bound = serde_json::json!({ "trust": raw.get("trust"), "keys": raw.get("keys") });
    Sha256::digest(bound.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
