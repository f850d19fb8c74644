//! Issuer keys: OpenID discovery, JWKS fetching with a timeout, isolate memory and the Cache
//! API, one refetch at a time per issuer, stale serving within bounds, then 503.
//!
//! Workers forbid one request from touching I/O objects (fetches, streams) another request
//! created. So a refetch runs entirely inside the request that started it; concurrent
//! requests for the same issuer wait for its result by polling shared isolate memory with
//! timers of their own, and take over if it is abandoned.

use super::fetch::fetch_capped;
use super::now_ms;
use crate::config::KeyCacheConfig;
use crate::key_policy::{
    Backoff, KeyAction, KeyState, KeyTimes, cache_entry_matches, cache_key, decide, retry_after,
    ttl_from_cache_control,
};
use crate::problem::AppError;
use cedargate::KeySet;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use worker::{Cache, Context, Delay, Headers, RequestInit, Response, ResponseBuilder};

#[derive(Default)]
struct IssuerKeys {
    keys: Option<Rc<KeySet>>,
    times: Option<KeyTimes>,
    jwks_uri: Option<String>,
    /// Start (ms) of the refetch under way, if any.
    refreshing_since: Option<f64>,
    /// Incremented when a refetch ends, successfully or not.
    generation: u64,
    /// Whether the last refetch failed.
    last_failed: bool,
    /// Whether the Cache API was already consulted in this isolate.
    cache_checked: bool,
    /// Failed fetches since the last success.
    backoff: Backoff,
}

/// Key sets by issuer, with the settings they are fetched and kept by.
pub struct KeyStore {
    config: KeyCacheConfig,
    /// The digest of the key configuration that Cache API entries are bound to
    /// ([`crate::key_policy::config_digest`]).
    config_digest: String,
    issuers: RefCell<HashMap<String, IssuerKeys>>,
    /// How many refetches found a key set other than the one held before.
    changes: Cell<u64>,
}

/// Upper bound on the size of discovery and JWKS documents: the shared core's JWKS limit.
const MAX_DOCUMENT_BYTES: usize = cedargate::MAX_JWKS_BYTES;

/// How often a waiting request looks at a refetch under way.
const WAIT_STEP_MS: u64 = 5;

impl KeyStore {
    /// An empty store fetching and keeping keys by `config`; its Cache API entries are bound
    /// to `config_digest`.
    pub fn new(config: KeyCacheConfig, config_digest: String) -> Self {
        Self {
            config,
            config_digest,
            issuers: RefCell::default(),
            changes: Cell::new(0),
        }
    }

    /// How many times a refetch found that an issuer publishes other keys than before: a
    /// token verified before the last change may have been verified with a withdrawn key.
    pub fn changes(&self) -> u64 {
        self.changes.get()
    }
}

/// The issuer's keys for a token with `kid`, at `now` (seconds).
///
/// What to do is decided by [`decide`]: fresh keys serve at once; stale keys that may still
/// serve, serve at once while one refresh at a time runs after the response
/// (`ctx.wait_until`); without usable keys the request fetches (or waits for the fetch under
/// way), unless a fetch failed within the backoff: then 503 at once.
pub async fn keys_for(
    store: &Rc<KeyStore>,
    ctx: &Context,
    issuer: &str,
    kid: Option<&str>,
    now: i64,
) -> Result<Rc<KeySet>, AppError> {
    let config = &store.config;
    let unavailable = || AppError::KeysUnavailable {
        retry_after: retry_after(config),
    };
    let (cached, times, cache_checked, backoff) = {
        let issuers = store.issuers.borrow();
        match issuers.get(issuer) {
            Some(entry) => (
                entry.keys.clone(),
                entry.times,
                entry.cache_checked,
                entry.backoff,
            ),
            None => (None, None, false, Backoff::default()),
        }
    };
    let kid_known = cached
        .as_ref()
        .is_some_and(|keys| kid.is_none_or(|kid| keys.contains_kid(kid)));
    let key_state = KeyState {
        times: times.as_ref(),
        kid_known,
        refreshing: refreshing(store, issuer),
        backoff: &backoff,
    };
    // The cached keys, if they may still serve.
    let servable = cached.filter(|_| times.is_some_and(|t| t.servable(now, config)));
    let clock_ms = now_ms() as i64;
    match decide(key_state, now, clock_ms, config) {
        KeyAction::Serve { refresh } => {
            let keys = servable.ok_or_else(unavailable)?;
            if refresh {
                let guard = RefreshGuard::begin(store, issuer);
                let (store, issuer) = (store.clone(), issuer.to_owned());
                ctx.wait_until(async move {
                    let _ = run_refresh(&store, &issuer, now, !cache_checked, guard).await;
                });
            }
            Ok(keys)
        }
        KeyAction::Wait => wait_for_refresh(store, issuer)
            .await
            .or(servable)
            .ok_or_else(unavailable),
        KeyAction::Fetch { forced } => {
            if forced
                && let Some(t) = store
                    .issuers
                    .borrow_mut()
                    .get_mut(issuer)
                    .and_then(|e| e.times.as_mut())
            {
                t.forced_at_ms = Some(clock_ms);
            }
            let guard = RefreshGuard::begin(store, issuer);
            run_refresh(store, issuer, now, !cache_checked, guard)
                .await
                .or(servable)
                .ok_or_else(unavailable)
        }
        KeyAction::Unavailable {
            retry_after_seconds,
        } => Err(AppError::KeysUnavailable {
            retry_after: retry_after_seconds,
        }),
    }
}

/// Whether another request is refetching this issuer's keys (and has not given up: a
/// refetch older than the fetch timeout twice over is considered abandoned).
fn refreshing(store: &KeyStore, issuer: &str) -> bool {
    let limit = 2.0 * store.config.fetch_timeout.as_secs_f64() * 1000.0 + 1000.0;
    store
        .issuers
        .borrow()
        .get(issuer)
        .and_then(|e| e.refreshing_since)
        .is_some_and(|since| now_ms() - since < limit)
}

/// Waits for the refetch under way and returns the keys it produced (`None` if it failed
/// or was abandoned).
async fn wait_for_refresh(store: &KeyStore, issuer: &str) -> Option<Rc<KeySet>> {
    let generation = store.issuers.borrow().get(issuer).map(|e| e.generation)?;
    let deadline = now_ms() + 2.0 * store.config.fetch_timeout.as_secs_f64() * 1000.0 + 1000.0;
    loop {
        Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
        let (done, keys, failed) = {
            let issuers = store.issuers.borrow();
            let entry = issuers.get(issuer)?;
            (
                entry.generation != generation,
                entry.keys.clone(),
                entry.last_failed,
            )
        };
        if done {
            return if failed { None } else { keys };
        }
        if now_ms() > deadline {
            return None;
        }
    }
}

/// Marks a refetch as under way until dropped (also when the request is cancelled).
struct RefreshGuard {
    store: Rc<KeyStore>,
    issuer: String,
}

impl RefreshGuard {
    /// Marks the issuer's refetch as under way, at once (before any await, so no other
    /// request starts one too).
    fn begin(store: &Rc<KeyStore>, issuer: &str) -> Self {
        let mut issuers = store.issuers.borrow_mut();
        let entry = issuers.entry(issuer.to_owned()).or_default();
        entry.refreshing_since = Some(now_ms());
        entry.cache_checked = true;
        Self {
            store: store.clone(),
            issuer: issuer.to_owned(),
        }
    }
}

impl Drop for RefreshGuard {
    fn drop(&mut self) {
        if let Ok(mut issuers) = self.store.issuers.try_borrow_mut()
            && let Some(entry) = issuers.get_mut(&self.issuer)
        {
            entry.refreshing_since = None;
            entry.generation += 1;
        }
    }
}

/// Refetches an issuer's keys (in the request or the `wait_until` that owns `_guard`) and
/// stores the result; a failure extends the backoff. Other keys than before count as a
/// [change](KeyStore::changes).
async fn run_refresh(
    store: &KeyStore,
    issuer: &str,
    now: i64,
    try_cache: bool,
    _guard: RefreshGuard,
) -> Option<Rc<KeySet>> {
    let result = fetch_keys(store, issuer, now, try_cache).await;
    let mut issuers = store.issuers.borrow_mut();
    let entry = issuers.entry(issuer.to_owned()).or_default();
    match result {
        Ok((keys, times, jwks_uri)) => {
            let changed = entry
                .keys
                .as_ref()
                .is_some_and(|old| thumbprints(old) != thumbprints(&keys));
            let keys = Rc::new(keys);
            entry.keys = Some(keys.clone());
            entry.times = Some(KeyTimes {
                forced_at_ms: entry.times.and_then(|t| t.forced_at_ms),
                ..times
            });
            entry.jwks_uri = Some(jwks_uri);
            entry.last_failed = false;
            entry.backoff.succeeded();
            drop(issuers);
            if changed {
                store.changes.set(store.changes.get() + 1);
            }
            log_event("keys_refreshed", issuer, None);
            Some(keys)
        }
        Err(err) => {
            entry.last_failed = true;
            entry.backoff.failed(now_ms() as i64);
            drop(issuers);
            log_event("keys_unavailable", issuer, Some(&err));
            None
        }
    }
}

fn thumbprints(keys: &KeySet) -> Vec<&str> {
    keys.keys().iter().map(|k| k.thumbprint()).collect()
}

fn log_event(event: &str, issuer: &str, error: Option<&str>) {
    super::log::event(
        event,
        serde_json::json!({ "issuer": issuer, "error": error }),
    );
}

async fn fetch_keys(
    store: &KeyStore,
    issuer: &str,
    now: i64,
    try_cache: bool,
) -> Result<(KeySet, KeyTimes, String), String> {
    let config = &store.config;
    if try_cache && let Some(found) = from_cache(store, issuer, now).await {
        return Ok(found);
    }
    let known_uri = known_jwks_uri(store, issuer);
    let jwks_uri = match known_uri {
        Some(uri) => uri,
        None => discover(issuer, config).await?,
    };
    let (body, cache_control) = get(&jwks_uri, config).await?;
    let keys = KeySet::from_json(&body).map_err(|e| format!("{jwks_uri}: {e}"))?;
    let ttl = ttl_from_cache_control(cache_control.as_deref(), config);
    let times = KeyTimes {
        fetched_at: now,
        fetched_at_ms: now_ms() as i64,
        ttl,
        forced_at_ms: None,
    };
    to_cache(store, issuer, &body, &jwks_uri, now, ttl).await;
    Ok((keys, times, jwks_uri))
}

/// The `jwks_uri` of `issuer` when it is known without discovery: configured
/// (`keys.jwks_uris`), or discovered before by this isolate.
fn known_jwks_uri(store: &KeyStore, issuer: &str) -> Option<String> {
    if let Some(configured) = store.config.jwks_uris.get(issuer) {
        return Some(configured.clone());
    }
    store
        .issuers
        .borrow()
        .get(issuer)
        .and_then(|e| e.jwks_uri.clone())
}

async fn discover(issuer: &str, config: &KeyCacheConfig) -> Result<String, String> {
    let url = cedargate::discovery::discovery_url(issuer);
    let (body, _) = get(&url, config).await?;
    // The shared core's check: the issuer it was fetched for, endpoints by the URL rule.
    cedargate::discovery::Discovery::from_json(&body, issuer)
        .map(|doc| doc.jwks_uri)
        .map_err(|e| format!("{url}: {e}"))
}

/// GET with a timeout; the body and `Cache-Control` of a 200 answer of at most
/// [`MAX_DOCUMENT_BYTES`] ([`fetch_capped`]).
async fn get(url: &str, config: &KeyCacheConfig) -> Result<(String, Option<String>), String> {
    let timeout = config.fetch_timeout;
    let fetched = fetch_capped(url, RequestInit::new(), timeout, MAX_DOCUMENT_BYTES).await?;
    Ok((fetched.body, fetched.cache_control))
}

/// A key set kept in the Cache API, if it was written for this issuer by a worker of this
/// configuration, for the `jwks_uri` this isolate uses (if it knows it), and is fresh.
async fn from_cache(
    store: &KeyStore,
    issuer: &str,
    now: i64,
) -> Option<(KeySet, KeyTimes, String)> {
    let mut response = Cache::default()
        .get(cache_key(&store.config_digest, issuer).as_str(), false)
        .await
        .ok()??;
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let known_uri = known_jwks_uri(store, issuer);
    let (recorded_issuer, recorded_config, jwks_uri) = (
        header("x-cedargate-issuer"),
        header("x-cedargate-config"),
        header("x-cedargate-jwks-uri"),
    );
    if !cache_entry_matches(
        recorded_issuer.as_deref(),
        recorded_config.as_deref(),
        jwks_uri.as_deref(),
        &crate::forward::header_safe(issuer),
        &store.config_digest,
        known_uri.as_deref(),
    ) {
        log_event("keys_cache_entry_ignored", issuer, None);
        return None;
    }
    let jwks_uri = jwks_uri?;
    let fetched_at: i64 = header("x-cedargate-fetched-at")?.parse().ok()?;
    let ttl: u64 = header("x-cedargate-ttl")?.parse().ok()?;
    let body = response.text().await.ok()?;
    let keys = KeySet::from_json(&body).ok()?;
    // Another isolate's fetch: its second is all the entry says.
    let times = KeyTimes {
        fetched_at,
        fetched_at_ms: fetched_at.saturating_mul(1000),
        ttl,
        forced_at_ms: None,
    };
    times.fresh(now).then_some((keys, times, jwks_uri))
}

async fn to_cache(store: &KeyStore, issuer: &str, body: &str, jwks_uri: &str, now: i64, ttl: u64) {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).is_ok();
    let ok = set("cache-control", &format!("max-age={ttl}"))
        && set("content-type", "application/json")
        && set("x-cedargate-fetched-at", &now.to_string())
        && set("x-cedargate-ttl", &ttl.to_string())
        && set("x-cedargate-issuer", &crate::forward::header_safe(issuer))
        && set("x-cedargate-config", &store.config_digest)
        && set("x-cedargate-jwks-uri", jwks_uri);
    if !ok {
        return;
    }
    let response: Response = ResponseBuilder::new()
        .with_headers(headers)
        .fixed(body.as_bytes().to_vec());
    if let Err(err) = Cache::default()
        .put(cache_key(&store.config_digest, issuer).as_str(), response)
        .await
    {
        log_event("keys_cache_put_failed", issuer, Some(&err.to_string()));
    }
}
