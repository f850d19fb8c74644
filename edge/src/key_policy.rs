//! When to use, refresh or give up on an issuer's cached keys. Pure; the worker does the
//! fetching.

use crate::config::KeyCacheConfig;

/// What the worker knows about one issuer's key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    /// When the key set was fetched (seconds).
    pub fetched_at: i64,
    /// How long it is fresh (seconds).
    pub ttl: u64,
    /// When the last fetch forced by an unknown `kid` started, if any.
    pub forced_at: Option<i64>,
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
            .saturating_add(config.max_stale_seconds as i64);
        now < limit
    }

    /// Whether an unknown `kid` may trigger a refetch now (at most one per interval).
    pub fn may_force(&self, now: i64, config: &KeyCacheConfig) -> bool {
        let last = self.forced_at.unwrap_or(i64::MIN).max(self.fetched_at);
        now.saturating_sub(last) >= config.unknown_kid_refetch_seconds as i64
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
    ttl.unwrap_or(config.default_ttl_seconds)
        .clamp(config.min_ttl_seconds, config.max_ttl_seconds)
}

/// Seconds a client should wait before retrying when keys are unavailable.
pub fn retry_after(config: &KeyCacheConfig) -> u64 {
    config.unknown_kid_refetch_seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> KeyCacheConfig {
        KeyCacheConfig {
            min_ttl_seconds: 60,
            max_ttl_seconds: 3600,
            default_ttl_seconds: 600,
            max_stale_seconds: 100,
            unknown_kid_refetch_seconds: 30,
            fetch_timeout_ms: 1000,
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
        let t = KeyTimes {
            fetched_at: 1000,
            ttl: 60,
            forced_at: None,
        };
        assert!(t.fresh(1059));
        assert!(!t.fresh(1060));
        assert!(t.servable(1159, &c));
        assert!(!t.servable(1160, &c));
        assert!(!t.may_force(1029, &c), "just fetched");
        assert!(t.may_force(1030, &c));
        let forced = KeyTimes {
            forced_at: Some(1040),
            ..t
        };
        assert!(!forced.may_force(1069, &c));
        assert!(forced.may_force(1070, &c));
    }
}
