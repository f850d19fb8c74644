//! When to use, refresh or give up on an issuer's cached keys. Pure; the worker does the
//! fetching.

use crate::config::{KeyCacheConfig, whole_millis, whole_seconds};

/// What the worker knows about one issuer's key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    /// When the key set was fetched (seconds).
    pub fetched_at: i64,
    /// The same instant in milliseconds, for the interval between forced fetches (an
    /// interval of whole seconds counted from any instant, not from a second's start).
    pub fetched_at_ms: i64,
    /// How long it is fresh (seconds).
    pub ttl: u64,
    /// When the last fetch forced by an unknown `kid` started, if any (milliseconds).
    pub forced_at_ms: Option<i64>,
}

impl KeyTimes {
    /// Whether the keys are within their TTL.
    pub fn fresh(&self, now: i64) -> bool {
        now < self.fetched_at.saturating_add(self.ttl as i64)
    }

    /// Whether the keys may still serve when the provider cannot be reached.
    pub fn servable(&self, now: i64, config: &KeyCacheConfig) -> bool {
        let limit = self
            .fetched_at
            .saturating_add(self.ttl as i64)
            .saturating_add(whole_seconds(config.max_stale));
        now < limit
    }

    /// Whether an unknown `kid` may trigger a refetch at `now_ms` (at most one per
    /// interval, counted in milliseconds from the last fetch).
    pub fn may_force(&self, now_ms: i64, config: &KeyCacheConfig) -> bool {
        let last = self
            .forced_at_ms
            .unwrap_or(i64::MIN)
            .max(self.fetched_at_ms);
        let interval_ms = whole_millis(config.unknown_kid_refetch);
        now_ms.saturating_sub(last) >= interval_ms
    }
}

/// The TTL of a fetched key set: `max-age` (or `s-maxage`) of its `Cache-Control`, within
/// the configured bounds; `no-store`/`no-cache` mean the minimum.
pub fn ttl_from_cache_control(value: Option<&str>, config: &KeyCacheConfig) -> u64 {
    let mut ttl = None;
    if let Some(value) = value {
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-store" || directive == "no-cache" {
                ttl = Some(0);
                break;
            }
            if let Some(age) = directive
                .strip_prefix("s-maxage=")
                .or_else(|| directive.strip_prefix("max-age="))
                && let Ok(age) = age.trim_matches('"').parse::<u64>()
            {
                ttl = Some(ttl.map_or(age, |t: u64| t.min(age)));
            }
        }
    }
    ttl.unwrap_or(config.default_ttl.as_secs())
        .clamp(config.min_ttl.as_secs(), config.max_ttl.as_secs())
}

/// Seconds a client should wait before retrying when keys are unavailable.
pub fn retry_after(config: &KeyCacheConfig) -> u64 {
    config.unknown_kid_refetch.as_secs().max(1)
}

/// The first pause after a failed fetch of an issuer's keys (milliseconds); it doubles with
/// every further failure up to [`max_backoff_ms`].
pub const FIRST_BACKOFF_MS: i64 = 1000;

/// The longest pause between attempts after failures: a quarter of the staleness bound (so
/// stale keys see several attempts before they expire), at least [`FIRST_BACKOFF_MS`] and at
/// most five minutes.
pub fn max_backoff_ms(config: &KeyCacheConfig) -> i64 {
    let quarter = whole_millis(config.max_stale) / 4;
    quarter.clamp(FIRST_BACKOFF_MS, 300_000)
}

/// Failed fetches of one issuer's keys, and when the next attempt is allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    /// Failures since the last success.
    pub failures: u32,
    /// When the last failure happened (milliseconds).
    pub failed_at_ms: i64,
}

impl Backoff {
    /// The pause after the last failure (0 with no failures).
    pub fn delay_ms(&self, config: &KeyCacheConfig) -> i64 {
        if self.failures == 0 {
            return 0;
        }
        let doublings = (self.failures - 1).min(30);
        FIRST_BACKOFF_MS
            .saturating_mul(1_i64 << doublings)
            .min(max_backoff_ms(config))
    }

    /// Milliseconds until the next attempt is allowed (0: now).
    pub fn remaining_ms(&self, now_ms: i64, config: &KeyCacheConfig) -> i64 {
        if self.failures == 0 {
            return 0;
        }
        self.failed_at_ms
            .saturating_add(self.delay_ms(config))
            .saturating_sub(now_ms)
            .max(0)
    }

    /// Records a failed fetch.
    pub fn failed(&mut self, now_ms: i64) {
        self.failures = self.failures.saturating_add(1);
        self.failed_at_ms = now_ms;
    }

    /// Records a successful fetch.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }
}

/// What an issuer's key store holds when a token arrives.
#[derive(Debug, Clone, Copy)]
pub struct KeyState<'a> {
    /// The cached key set's times, if there is a key set.
    pub times: Option<&'a KeyTimes>,
    /// Whether the cached key set has the token's `kid` (true when it names none).
    pub kid_known: bool,
    /// Whether a fetch for this issuer is under way (in any request).
    pub refreshing: bool,
    /// Failed fetches so far.
    pub backoff: &'a Backoff,
}

/// What to do with a token's keys now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Use the cached keys; if `refresh`, start a fetch in the background (after the
    /// response, through `wait_until`) without waiting for it.
    Serve { refresh: bool },
    /// Wait for the fetch under way and use its keys (or the cached ones, if still
    /// servable, when it fails).
    Wait,
    /// Fetch in this request and wait for it; `forced` when an unknown `kid` causes it.
    Fetch { forced: bool },
    /// Answer 503 at once: no usable keys and the last fetch failed too recently.
    Unavailable { retry_after_seconds: u64 },
}

/// Decides how to get the keys for a token, at `now` (seconds) and `now_ms`.
///
/// Fresh keys serve at once; an unknown `kid` waits for a fetch (at most one forced fetch per
/// interval). Stale keys that may still serve, serve at once while one background fetch at a
/// time (after the backoff) renews them. Without usable keys, a request fetches (or waits for
/// the fetch under way) unless a fetch failed within the backoff: then 503 at once.
pub fn decide(state: KeyState<'_>, now: i64, now_ms: i64, config: &KeyCacheConfig) -> KeyAction {
    let may_attempt = state.backoff.remaining_ms(now_ms, config) == 0;
    let usable = state.times.filter(|t| t.servable(now, config));
    match usable {
        Some(times) => {
            if !state.kid_known {
                if state.refreshing {
                    return KeyAction::Wait;
                }
                if times.may_force(now_ms, config) {
                    return KeyAction::Fetch { forced: true };
                }
            }
            KeyAction::Serve {
                refresh: !times.fresh(now) && !state.refreshing && may_attempt,
            }
        }
        None if state.refreshing => KeyAction::Wait,
        None if may_attempt => KeyAction::Fetch { forced: false },
        None => {
            let wait = state.backoff.remaining_ms(now_ms, config);
            let seconds = u64::try_from(wait.saturating_add(999) / 1000).unwrap_or(1);
            KeyAction::Unavailable {
                retry_after_seconds: seconds.max(1),
            }
        }
    }
}

/// Whether a key set read from the Cache API may be used: it must have been written for
/// this issuer by a worker of this configuration (`config_digest`), and when this isolate
/// already knows the issuer's `jwks_uri` (from discovery), for that same URI.
pub fn cache_entry_matches(
    recorded_issuer: Option<&str>,
    recorded_config: Option<&str>,
    recorded_jwks_uri: Option<&str>,
    issuer: &str,
    config_digest: &str,
    known_jwks_uri: Option<&str>,
) -> bool {
    recorded_issuer == Some(issuer)
        && recorded_config == Some(config_digest)
        && recorded_jwks_uri.is_some_and(|uri| known_jwks_uri.is_none_or(|known| known == uri))
}

/// SHA-256 (hex) of the `trust` and `keys` members of the raw configuration as canonical JSON
/// (members sorted at every level): key sets kept in the Cache API are bound to it, and the
/// same settings written in another order give the same digest.
pub fn config_digest(raw: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    let bound = serde_json::json!({ "trust": raw.get("trust"), "keys": raw.get("keys") });
    hex(&Sha256::digest(
        cedargate::canonical::to_string(&bound).as_bytes(),
    ))
}

/// The Cache API key of an issuer's key set, bound to the key configuration's digest.
pub fn cache_key(config_digest: &str, issuer: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(config_digest.as_bytes());
    hash.update([0]);
    hash.update(issuer.as_bytes());
    format!(
        "https://cedargate.invalid/jwks/v2/{}",
        hex(&hash.finalize())
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> KeyCacheConfig {
        KeyCacheConfig {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            default_ttl: Duration::from_secs(600),
            max_stale: Duration::from_secs(100),
            unknown_kid_refetch: Duration::from_secs(30),
            fetch_timeout: Duration::from_millis(1000),
            jwks_uris: Default::default(),
        }
    }

    #[test]
    fn cache_control_is_honoured_within_bounds() {
        let c = config();
        assert_eq!(ttl_from_cache_control(None, &c), 600);
        assert_eq!(ttl_from_cache_control(Some("public, max-age=120"), &c), 120);
        assert_eq!(ttl_from_cache_control(Some("max-age=5"), &c), 60);
        assert_eq!(ttl_from_cache_control(Some("max-age=999999"), &c), 3600);
        assert_eq!(
            ttl_from_cache_control(Some("max-age=900, s-maxage=300"), &c),
            300
        );
        assert_eq!(ttl_from_cache_control(Some("no-store"), &c), 60);
        assert_eq!(ttl_from_cache_control(Some("max-age=abc"), &c), 600);
    }

    #[test]
    fn freshness_staleness_and_forced_refetches() {
        let c = config();
        let t = times(1000);
        assert!(t.fresh(1059));
        assert!(!t.fresh(1060));
        assert!(t.servable(1159, &c));
        assert!(!t.servable(1160, &c));
        assert!(!t.may_force(1_029_999, &c), "just fetched");
        assert!(t.may_force(1_030_000, &c));
        let forced = KeyTimes {
            forced_at_ms: Some(1_040_000),
            ..t
        };
        assert!(!forced.may_force(1_069_999, &c));
        assert!(forced.may_force(1_070_000, &c));
    }

    #[test]
    fn the_interval_between_forced_fetches_counts_from_the_instant_not_the_second() {
        let c = KeyCacheConfig {
            unknown_kid_refetch: Duration::from_secs(2),
            ..config()
        };
        // Fetched at 1000.95 s: a second later (second 1002 on the clock) is still within
        // the 2 s interval.
        let t = KeyTimes {
            fetched_at: 1000,
            fetched_at_ms: 1_000_950,
            ttl: 60,
            forced_at_ms: None,
        };
        assert!(!t.may_force(1_002_010, &c), "1.06 s after the fetch");
        assert!(t.may_force(1_002_950, &c));
        let forced = KeyTimes {
            forced_at_ms: Some(1_004_990),
            ..t
        };
        assert!(
            !forced.may_force(1_006_020, &c),
            "1.03 s after the forced fetch"
        );
        assert!(forced.may_force(1_006_990, &c));
    }

    fn times(fetched_at: i64) -> KeyTimes {
        KeyTimes {
            fetched_at,
            fetched_at_ms: fetched_at * 1000,
            ttl: 60,
            forced_at_ms: None,
        }
    }

    #[test]
    fn backoff_doubles_up_to_a_cap_bounded_by_the_staleness() {
        let c = config();
        assert_eq!(max_backoff_ms(&c), 25_000, "a quarter of max_stale");
        let long = KeyCacheConfig {
            max_stale: Duration::from_secs(86_400),
            ..c.clone()
        };
        assert_eq!(max_backoff_ms(&long), 300_000, "five minutes at most");
        let short = KeyCacheConfig {
            max_stale: Duration::ZERO,
            ..c.clone()
        };
        assert_eq!(max_backoff_ms(&short), 1000, "a second at least");
        let mut b = Backoff::default();
        assert_eq!(b.delay_ms(&c), 0);
        assert_eq!(b.remaining_ms(5_000, &c), 0, "no failure, no wait");
        let mut delays = Vec::new();
        for _ in 0..8 {
            b.failed(10_000);
            delays.push(b.delay_ms(&c));
        }
        assert_eq!(
            delays,
            [1000, 2000, 4000, 8000, 16_000, 25_000, 25_000, 25_000]
        );
        assert_eq!(b.remaining_ms(10_000, &c), 25_000);
        assert_eq!(b.remaining_ms(30_000, &c), 5_000);
        assert_eq!(b.remaining_ms(35_000, &c), 0);
        for _ in 0..100 {
            b.failed(10_000);
        }
        assert_eq!(b.delay_ms(&long), 300_000, "no overflow");
        b.succeeded();
        assert_eq!(b, Backoff::default());
    }

    fn state<'a>(
        times: Option<&'a KeyTimes>,
        kid_known: bool,
        refreshing: bool,
        backoff: &'a Backoff,
    ) -> KeyState<'a> {
        KeyState {
            times,
            kid_known,
            refreshing,
            backoff,
        }
    }

    #[test]
    fn fresh_keys_serve_and_an_unknown_kid_fetches_at_most_once_per_interval() {
        let c = config();
        let ok = Backoff::default();
        let t = times(1000);
        let ms = 1_040_000;
        assert_eq!(
            decide(state(Some(&t), true, false, &ok), 1040, ms, &c),
            KeyAction::Serve { refresh: false }
        );
        assert_eq!(
            decide(state(Some(&t), false, false, &ok), 1040, ms, &c),
            KeyAction::Fetch { forced: true }
        );
        assert_eq!(
            decide(state(Some(&t), false, true, &ok), 1040, ms, &c),
            KeyAction::Wait
        );
        let forced = KeyTimes {
            forced_at_ms: Some(1_035_000),
            ..t
        };
        assert_eq!(
            decide(state(Some(&forced), false, false, &ok), 1040, ms, &c),
            KeyAction::Serve { refresh: false },
            "within the interval: the keys as they are (the token then has no key)"
        );
    }

    #[test]
    fn stale_keys_serve_at_once_and_refresh_in_the_background_after_the_backoff() {
        let c = config();
        let t = times(1000);
        // Stale at 1060, servable until 1160.
        let now = 1100;
        let ms = now * 1000;
        let ok = Backoff::default();
        assert_eq!(
            decide(state(Some(&t), true, false, &ok), now, ms, &c),
            KeyAction::Serve { refresh: true }
        );
        assert_eq!(
            decide(state(Some(&t), true, true, &ok), now, ms, &c),
            KeyAction::Serve { refresh: false },
            "one refresh at a time, and nobody waits for it"
        );
        let mut failed = Backoff::default();
        failed.failed(ms - 500);
        assert_eq!(
            decide(state(Some(&t), true, false, &failed), now, ms, &c),
            KeyAction::Serve { refresh: false },
            "within the backoff"
        );
        assert_eq!(
            decide(state(Some(&t), true, false, &failed), now, ms + 500, &c),
            KeyAction::Serve { refresh: true },
            "after the backoff"
        );
    }

    #[test]
    fn without_usable_keys_a_recent_failure_answers_at_once() {
        let c = config();
        let ok = Backoff::default();
        let expired = times(1000);
        let now = 1200; // past 1160
        let ms = now * 1000;
        for t in [None, Some(&expired)] {
            assert_eq!(
                decide(state(t, true, false, &ok), now, ms, &c),
                KeyAction::Fetch { forced: false }
            );
            assert_eq!(
                decide(state(t, false, true, &ok), now, ms, &c),
                KeyAction::Wait
            );
            let mut failed = Backoff::default();
            failed.failed(ms - 200);
            failed.failed(ms - 200);
            assert_eq!(
                decide(state(t, true, false, &failed), now, ms, &c),
                KeyAction::Unavailable {
                    retry_after_seconds: 2
                },
                "1.8 s of a 2 s backoff left"
            );
            assert_eq!(
                decide(state(t, true, false, &failed), now, ms + 1800, &c),
                KeyAction::Fetch { forced: false }
            );
        }
    }

    #[test]
    fn a_cached_key_set_must_be_bound_to_this_configuration() {
        let uri = "https://id.example/jwks";
        let iss = "https://id.example";
        assert!(cache_entry_matches(
            Some(iss),
            Some("d1"),
            Some(uri),
            iss,
            "d1",
            None
        ));
        assert!(cache_entry_matches(
            Some(iss),
            Some("d1"),
            Some(uri),
            iss,
            "d1",
            Some(uri)
        ));
        assert!(!cache_entry_matches(
            None,
            Some("d1"),
            Some(uri),
            iss,
            "d1",
            None
        ));
        assert!(!cache_entry_matches(
            Some("https://other.example"),
            Some("d1"),
            Some(uri),
            iss,
            "d1",
            None
        ));
        assert!(!cache_entry_matches(
            Some(iss),
            None,
            Some(uri),
            iss,
            "d1",
            None
        ));
        assert!(!cache_entry_matches(
            Some(iss),
            Some("d2"),
            Some(uri),
            iss,
            "d1",
            None
        ));
        assert!(!cache_entry_matches(
            Some(iss),
            Some("d1"),
            None,
            iss,
            "d1",
            None
        ));
        assert!(!cache_entry_matches(
            Some(iss),
            Some("d1"),
            Some("https://evil.example/jwks"),
            iss,
            "d1",
            Some(uri)
        ));
    }

    #[test]
    fn cache_entries_are_keyed_by_the_trust_and_keys_sections_and_the_issuer() {
        let raw = |origin: &str, ttl: u64| {
            serde_json::json!({
                "origin": origin,
                "trust": { "issuers": [{ "issuer": "https://idp.example", "token": "id" }] },
                "keys": { "min_ttl_seconds": ttl, "max_ttl_seconds": 3600 },
            })
        };
        let digest = config_digest(&raw("https://a.example", 60));
        // SHA-256 of `{"keys":{...},"trust":{...}}` in canonical form: entries stored by
        // earlier workers of the same configuration stay usable.
        assert_eq!(
            digest,
            "a25f0a8278bcfee5a52c5147fceb30fc00d08cdce743b7bff4140661dce5aaac"
        );
        let reordered: serde_json::Value = serde_json::from_str(
            r#"{"keys": {"max_ttl_seconds": 3600, "min_ttl_seconds": 60},
                "trust": {"issuers": [{"token": "id", "issuer": "https://idp.example"}]}}"#,
        )
        .unwrap();
        assert_eq!(digest, config_digest(&reordered));
        assert_eq!(
            cache_key(&digest, "https://idp.example"),
            "https://cedargate.invalid/jwks/v2/0a9c4077e9a04eb14cf0177ac8585e1e9c45f92d5ed15d8994bfbbf3f5f35084"
        );
        assert_eq!(digest, config_digest(&raw("https://b.example", 60)));
        assert_ne!(digest, config_digest(&raw("https://a.example", 61)));
        assert_ne!(
            cache_key(&digest, "https://idp.example"),
            cache_key(&digest, "https://idp.example/other")
        );
    }
}
