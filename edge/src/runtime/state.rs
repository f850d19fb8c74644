//! What an isolate prepares once: configuration, bundle, trust, key and token caches.

use super::assertion::AssertionKeys;
use super::introspection::Client as IntrospectionClient;
use super::keys::KeyStore;
use crate::authzen::{Authzen, AuthzenSetupError};
use crate::bundle_policy::BundleWatch;
use crate::config::SignatureBackendChoice;
use crate::config::{EdgeConfig, EdgeConfigError, whole_seconds};
use crate::decision_cache::{DecisionCache, SharedDecisions};
use crate::key_policy::config_digest;
use crate::request_values::decided_on;
use crate::token_cache::{TokenCache, TokenKey};
use cedargate::RustCrypto;
use cedargate::crypto::WebCrypto;
use cedargate::revocation::DenyList;
use cedargate::{Bundle, CompiledBundle, Gate, Principal, VerifiedToken};
use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;
use std::time::Duration;
use worker::Env;

/// The bundle compiled into the worker: its compiled form ([`CompiledBundle`]), validated
/// by the build script.
const BUILT_IN_BUNDLE: &str = include_str!(concat!(env!("OUT_DIR"), "/bundle.json"));
/// The version the build script validated it as (entity data included).
const BUILT_IN_VERSION: &str = env!("CEDARGATE_BUNDLE_VERSION");
/// Its entity data and AuthZEN mapping, when its folder has them (`{"entities": text or
/// null, "mapping": text or null}`, validated by the build script).
const BUILT_IN_AUTHZEN: &str = include_str!(concat!(env!("OUT_DIR"), "/authzen.json"));
/// Its serial (`CEDARGATE_BUNDLE_SERIAL` at build time, 0 by default).
const BUILT_IN_SERIAL: &str = env!("CEDARGATE_BUNDLE_SERIAL");

/// A token that passed verification and mapping, and the decisions made for it.
pub struct Authenticated {
    pub verified: VerifiedToken,
    pub principal: Principal,
    pub decisions: RefCell<DecisionCache>,
    /// The provider's last introspection answer (active or not) and until when it may be
    /// reused (milliseconds since the epoch).
    pub introspected: Cell<Option<(bool, i64)>>,
}

/// The gate in force, with what every request it decides needs and that does not change
/// while it is in force: prepared once per bundle, not per request.
pub struct Live {
    gate: Gate,
    /// The bundle's version, as `X-Cedargate-Bundle-Version` names it.
    pub version: String,
    /// The request headers its decisions read ([`decided_on`]): they reach the origin as the
    /// policies saw them.
    pub decided_on: Vec<String>,
    /// Its verdicts shared between principals of one shape (`Gate::decision_key`).
    pub shared: RefCell<SharedDecisions>,
}

impl Live {
    fn new(gate: Gate) -> Self {
        let version = gate.bundle().version().to_string();
        let decided_on = decided_on(gate.bundle().context_needs());
        Self {
            gate,
            version,
            decided_on,
            shared: RefCell::default(),
        }
    }
}

impl std::ops::Deref for Live {
    type Target = Gate;
    fn deref(&self) -> &Gate {
        &self.gate
    }
}

/// The staged candidate (`bundle_kv.staged_key`): its gate, bound to this configuration
/// like the live one, and its serial. It decides requests beside the live gate, never in
/// its place.
pub struct Staged {
    pub gate: Gate,
    pub serial: u64,
}

/// The configured signature backend.
pub type Backend = cedargate::crypto::AnyBackend;

/// Per-isolate state.
pub struct State {
    config: EdgeConfig,
    /// One client per introspected issuer.
    introspection: Vec<IntrospectionClient>,
    gate: RefCell<Rc<Live>>,
    /// The serial of the bundle in force: a KV document must have a higher one.
    serial: Cell<u64>,
    /// Whether the gate may decide: always without `bundle_kv`; with it, once a KV document
    /// is in force, or from the start when the built-in bundle may serve until then
    /// ([`BundleKvConfig::built_in_may_decide`](crate::config::BundleKvConfig::built_in_may_decide)).
    may_decide: Cell<bool>,
    /// When KV was looked at, and what it held.
    bundle_watch: RefCell<BundleWatch>,
    /// The staged candidate in force, if any.
    staged: RefCell<Option<Rc<Staged>>>,
    /// What the staged entry held when last looked at.
    staged_watch: RefCell<BundleWatch>,
    crypto: Backend,
    keys: Rc<KeyStore>,
    tokens: RefCell<TokenCache<Rc<Authenticated>>>,
    /// The key store's [changes](KeyStore::changes) the token cache was emptied for.
    key_changes_seen: Cell<u64>,
    assertion: Option<AssertionKeys>,
    /// The deny list last read, and when.
    deny: RefCell<(Option<Rc<DenyList>>, Option<i64>)>,
    /// The AuthZEN decision point over the bundle in force, when configured.
    authzen: RefCell<Option<Rc<Authzen>>>,
    /// The AuthZEN type mapping compiled in (`authzen.json`), for newer bundles too.
    authzen_mapping: Option<String>,
}

/// The entity data and AuthZEN mapping compiled in with the bundle.
#[derive(serde::Deserialize)]
struct BuiltInAuthzen {
    entities: Option<String>,
    mapping: Option<String>,
}

/// Why an isolate cannot serve: its configuration, its secrets or its built-in bundle. Kept
/// and returned for every request, each refused 500 `misconfigured`; the message goes to
/// the log only.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// `CEDARGATE_CONFIG` is not a JSON object variable.
    #[error("CEDARGATE_CONFIG is missing or not an object: {0}")]
    ConfigMissing(String),
    /// The configuration is not valid.
    #[error(transparent)]
    Config(#[from] EdgeConfigError),
    /// The compiled-in bundle or its entity data cannot be read.
    #[error("built-in {what} is unreadable: {message}")]
    BuiltInUnreadable { what: &'static str, message: String },
    /// The compiled-in bundle does not load.
    #[error("built-in bundle: {0}")]
    BuiltIn(#[from] cedargate::BundleError),
    /// The serial the worker was built with is not a number.
    #[error("built-in bundle serial {0} is not a number")]
    Serial(&'static str),
    /// `bundle_kv` names a KV namespace the worker is not bound to: the worker would stay on
    /// the built-in bundle (or answer 503) for good, without a word.
    #[error("bundle_kv.binding {0} is not a KV namespace bound to the worker")]
    KvBinding(String),
    /// The bundle does not fit the configuration.
    #[error(transparent)]
    Bundle(#[from] PrepareError),
    /// An assertion signing key is missing or invalid.
    #[error("{0}")]
    Assertion(String),
    /// An introspection client secret is missing or empty.
    #[error("{0}")]
    Introspection(String),
}

/// Why a bundle cannot be put in force under this configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PrepareError {
    /// A route setting of the configuration does not fit the bundle
    /// ([`EdgeConfig::check_bundle`]).
    #[error(transparent)]
    Routes(EdgeConfigError),
    /// The AuthZEN decision point cannot be built over it.
    #[error(transparent)]
    Authzen(#[from] AuthzenSetupError),
    /// The trust or context configuration cannot be bound to its schema.
    #[error(transparent)]
    Trust(#[from] cedargate::ConfigError),
}

/// The isolate's state, or why it could not be built.
pub type Shared = Rc<Result<Rc<State>, StateError>>;

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

    fn build(env: &Env) -> Result<State, StateError> {
        let raw: serde_json::Value = env
            .object_var("CEDARGATE_CONFIG")
            .map_err(|e| StateError::ConfigMissing(e.to_string()))?;
        let config = EdgeConfig::from_json(&raw.to_string())?;
        let keys = KeyStore::new(config.keys.clone(), config_digest(&raw));
        let unreadable = |what| {
            move |e: serde_json::Error| StateError::BuiltInUnreadable {
                what,
                message: e.to_string(),
            }
        };
        let compiled: CompiledBundle =
            serde_json::from_str(BUILT_IN_BUNDLE).map_err(unreadable("bundle"))?;
        let extra: BuiltInAuthzen =
            serde_json::from_str(BUILT_IN_AUTHZEN).map_err(unreadable("entity data"))?;
        // Validated by the build script, which compiled in the version it validated.
        let bundle = Bundle::load_compiled_validated_as(
            &compiled,
            extra.entities.as_deref(),
            BUILT_IN_VERSION,
        )?;
        let (gate, authzen) = prepare(&config, extra.mapping.as_deref(), bundle)?;
        let serial = BUILT_IN_SERIAL
            .parse()
            .map_err(|_| StateError::Serial(BUILT_IN_SERIAL))?;
        let may_decide = match &config.bundle_kv {
            Some(kv) => {
                if env.kv(&kv.binding).is_err() {
                    return Err(StateError::KvBinding(kv.binding.clone()));
                }
                kv.built_in_may_decide(serial)?
            }
            None => true,
        };
        let tokens = TokenCache::new(config.token_cache_entries);
        let crypto = match config.signature_backend {
            SignatureBackendChoice::Webcrypto => Backend::Web(WebCrypto::new()),
            SignatureBackendChoice::Rust => Backend::Rust(RustCrypto),
        };
        let assertion = config
            .assertion
            .as_ref()
            .map(|a| AssertionKeys::build(env, a))
            .transpose()
            .map_err(StateError::Assertion)?;
        let introspection = config
            .introspection
            .iter()
            .map(|i| IntrospectionClient::build(env, i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StateError::Introspection)?;
        Ok(State {
            authzen: RefCell::new(authzen.map(Rc::new)),
            authzen_mapping: extra.mapping,
            assertion,
            introspection,
            deny: RefCell::default(),
            config,
            gate: RefCell::new(Rc::new(Live::new(gate))),
            serial: Cell::new(serial),
            may_decide: Cell::new(may_decide),
            bundle_watch: RefCell::default(),
            staged: RefCell::default(),
            staged_watch: RefCell::default(),
            crypto,
            keys: Rc::new(keys),
            tokens: RefCell::new(tokens),
            key_changes_seen: Cell::new(0),
        })
    }

    /// The worker's configuration.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The deny list, when it was read less than `refresh` ago (or its last read
    /// failed less than that ago: then the list before, if any, and `Err(())` without one).
    pub fn deny_list_if_fresh(
        &self,
        now: i64,
        refresh: Duration,
    ) -> Option<Result<Option<Rc<DenyList>>, ()>> {
        let (list, read_at) = &*self.deny.borrow();
        let refresh = whole_seconds(refresh);
        let fresh = read_at.is_some_and(|at| now - at < refresh && now >= at);
        fresh.then(|| match list {
            Some(list) => Ok(Some(list.clone())),
            None => Err(()),
        })
    }

    /// Notes a read of the deny list at `now`: the new list, or `None` to keep the last one.
    pub fn deny_list_read(&self, now: i64, list: Option<DenyList>) -> Option<Rc<DenyList>> {
        let mut deny = self.deny.borrow_mut();
        if let Some(list) = list {
            deny.0 = Some(Rc::new(list));
        }
        deny.1 = Some(now);
        deny.0.clone()
    }

    /// The introspection client for `issuer`, when configured.
    pub fn introspection(&self, issuer: &str) -> Option<&IntrospectionClient> {
        self.introspection
            .iter()
            .find(|c| c.config.issuer == issuer)
    }

    /// The AuthZEN decision point over the bundle in force, when configured.
    pub fn authzen(&self) -> Option<Rc<Authzen>> {
        self.authzen.borrow().clone()
    }

    /// The identity assertion's keys, when configured.
    pub fn assertion(&self) -> Option<&AssertionKeys> {
        self.assertion.as_ref()
    }

    /// The signature backend tokens are verified with.
    pub fn signature_backend(&self) -> &Backend {
        &self.crypto
    }

    /// The issuers' keys.
    pub fn keys(&self) -> &Rc<KeyStore> {
        &self.keys
    }

    /// The gate in force.
    pub fn gate(&self) -> Rc<Live> {
        self.gate.borrow().clone()
    }

    /// The serial of the bundle in force.
    pub fn serial(&self) -> u64 {
        self.serial.get()
    }

    /// Whether the gate in force may decide requests (see [`State::gate`]); when not, every
    /// request waits for KV or is refused.
    pub fn may_decide(&self) -> bool {
        self.may_decide.get()
    }

    /// The gate and, when configured, the AuthZEN decision point for a newer bundle, both
    /// checked before either is put in force ([`State::replace_gate`]).
    pub fn prepare(&self, bundle: Bundle) -> Result<(Gate, Option<Authzen>), PrepareError> {
        prepare(&self.config, self.authzen_mapping.as_deref(), bundle)
    }

    /// Puts a newer gate (and the decision point over the same bundle) in force; cached
    /// principals belong to the old one. A staged candidate the new serial reaches is
    /// retired; its serial is returned.
    pub fn replace_gate(&self, gate: Gate, authzen: Option<Authzen>, serial: u64) -> Option<u64> {
        *self.gate.borrow_mut() = Rc::new(Live::new(gate));
        *self.authzen.borrow_mut() = authzen.map(Rc::new);
        self.serial.set(serial);
        self.may_decide.set(true);
        self.tokens.borrow_mut().clear();
        let mut staged = self.staged.borrow_mut();
        let outlived = staged
            .as_ref()
            .map(|s| s.serial)
            .filter(|&staged| crate::bundle_policy::staged_outlived(staged, serial));
        if outlived.is_some() {
            *staged = None;
        }
        outlived
    }

    /// The staged candidate in force, if any.
    pub fn staged(&self) -> Option<Rc<Staged>> {
        self.staged.borrow().clone()
    }

    /// The gate of a staged candidate's bundle, checked against the configuration as a live
    /// bundle is ([`EdgeConfig::check_bundle`], the context allow-list).
    pub fn prepare_staged(&self, bundle: Bundle) -> Result<Gate, String> {
        self.config
            .check_bundle(&bundle)
            .map_err(|e| e.to_string())?;
        Gate::enforcing(bundle, &self.config.trust, &self.config.context).map_err(|e| e.to_string())
    }

    /// Puts a staged candidate in force (`None`: withdraws the one there is).
    pub fn replace_staged(&self, staged: Option<Staged>) {
        *self.staged.borrow_mut() = staged.map(Rc::new);
    }

    /// Whether the staged entry's text `text` differs from the one looked at last (valid
    /// or not); it becomes the last one. `None`: the entry is empty, and the next text is
    /// new whatever it is.
    pub fn staged_text_is_new(&self, text: Option<&str>) -> bool {
        let mut watch = self.staged_watch.borrow_mut();
        match text {
            Some(text) => watch.is_new(text),
            None => {
                watch.forget();
                false
            }
        }
    }

    /// The token cache, emptied first if an issuer's keys changed since it was last used:
    /// tokens verified with keys the provider no longer publishes are dropped.
    fn tokens(&self) -> RefMut<'_, TokenCache<Rc<Authenticated>>> {
        let mut tokens = self.tokens.borrow_mut();
        let changes = self.keys.changes();
        if self.key_changes_seen.replace(changes) != changes {
            tokens.clear();
        }
        tokens
    }

    /// The token with cache key `key` as verified and mapped before, if still valid at `now`
    /// (seconds).
    pub fn cached_token(&self, key: &TokenKey, now: i64) -> Option<Rc<Authenticated>> {
        self.tokens().get(key, now).cloned()
    }

    /// Which emptying of the token cache is current: read before verifying a token, so that
    /// [`remember_token`](Self::remember_token) can tell whether keys or the gate changed
    /// while it was verified.
    pub fn token_generation(&self) -> u64 {
        self.tokens().generation()
    }

    /// Keeps a verified and mapped token until `expires_at` (seconds), unless the token cache
    /// was emptied since `generation` (new keys or a new gate while it was verified).
    pub fn remember_token(
        &self,
        generation: u64,
        key: TokenKey,
        auth: Rc<Authenticated>,
        expires_at: i64,
    ) {
        self.tokens().insert_from(generation, key, auth, expires_at);
    }

    /// Whether KV is due for a look for a newer bundle at `now` (seconds); if so, the next
    /// look is due `every` later.
    pub fn bundle_check_due(&self, now: i64, every: Duration) -> bool {
        self.bundle_watch.borrow_mut().due(now, every.as_secs())
    }

    /// Whether a request may read KV now while no bundle may decide: not within
    /// `every` of a read that left none in force.
    pub fn bundle_read_allowed(&self, now: i64, every: Duration) -> bool {
        self.bundle_watch
            .borrow()
            .read_allowed(now, every.as_secs())
    }

    /// Notes at `now` a read of KV that left no bundle that may decide in force.
    pub fn bundle_read_failed(&self, now: i64) {
        self.bundle_watch.borrow_mut().failed(now);
    }

    /// Whether the KV text `text` differs from the one looked at last (valid or not); it
    /// becomes the last one.
    pub fn bundle_text_is_new(&self, text: &str) -> bool {
        self.bundle_watch.borrow_mut().is_new(text)
    }
}

/// The gate over `bundle` and, when `authzen` is configured, the decision point over the same
/// bundle with the compiled-in `mapping`.
fn prepare(
    config: &EdgeConfig,
    mapping: Option<&str>,
    bundle: Bundle,
) -> Result<(Gate, Option<Authzen>), PrepareError> {
    config.check_bundle(&bundle).map_err(PrepareError::Routes)?;
    let authzen = config
        .authzen
        .as_ref()
        .map(|a| Authzen::build(a, bundle.clone(), mapping))
        .transpose()?;
    let gate = Gate::enforcing(bundle, &config.trust, &config.context)?;
    Ok((gate, authzen))
}
