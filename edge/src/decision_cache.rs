//! The decisions already made for one verified token, so that a token used again for the
//! same request is not routed and decided again.
//!
//! A decision is a function of the principal, the request's method and target, and the gate
//! (bundle and trust): the principal is the cached token's, the same method and target give
//! the same route and context, and the whole token cache, with these decisions, is emptied
//! when the gate or an issuer's keys change. Nothing else goes in: a verdict whose action
//! reads the request's own values (time, address, headers) is never kept
//! ([`Verdict::cacheable`]), so Cedar's context of a kept one holds only path and query
//! values. Only successful routes are kept, and only for short targets, so one token's
//! entries stay small.

use cedargate::Verdict;
use std::rc::Rc;

/// At most this many decisions per token; the oldest goes first.
pub const DECISIONS_PER_TOKEN: usize = 8;

/// Targets longer than this are decided every time (they are rare and would cost memory).
pub const MAX_CACHED_TARGET: usize = 256;

/// One token's decisions, by method (as sent) and target (path and query as sent).
#[derive(Debug, Default)]
pub struct DecisionCache {
    entries: Vec<(String, String, Rc<Verdict>)>,
}

impl DecisionCache {
    /// The decision made before for `method` and `target`.
    pub fn get(&self, method: &str, target: &str) -> Option<Rc<Verdict>> {
        self.entries
            .iter()
            .find(|(m, t, _)| m == method && t == target)
            .map(|(_, _, d)| d.clone())
    }

    /// Keeps `decided` for `method` and `target`, unless it may not be reused
    /// ([`Verdict::cacheable`]) or the target is too long to keep.
    pub fn insert(&mut self, method: &str, target: &str, decided: Rc<Verdict>) {
        if !decided.cacheable
            || target.len() > MAX_CACHED_TARGET
            || method.len() > MAX_CACHED_TARGET
        {
            return;
        }
        self.entries
            .retain(|(m, t, _)| !(m == method && t == target));
        if self.entries.len() >= DECISIONS_PER_TOKEN {
            self.entries.remove(0);
        }
        self.entries
            .push((method.to_owned(), target.to_owned(), decided));
    }

    /// Decisions held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedargate::{Decision, Outcome, RouteMatch};

    fn decided(action: &str) -> Rc<Verdict> {
        verdict(action, true)
    }

    fn verdict(action: &str, cacheable: bool) -> Rc<Verdict> {
        let route = RouteMatch {
            action: action.into(),
            method: "get".into(),
            template: "/pets".into(),
            path: "/pets".into(),
            query: None,
            path_parameters: Default::default(),
            query_parameters: Default::default(),
            public: false,
        };
        Rc::new(Verdict {
            route,
            cacheable,
            decision: Decision {
                action: action.into(),
                outcome: Outcome::Allow,
                policies: vec![],
                errors: vec![],
                step_up: None,
                required_scopes: vec![],
            },
        })
    }

    #[test]
    fn the_same_method_and_target_hit_anything_else_misses() {
        let mut cache = DecisionCache::default();
        cache.insert("GET", "/pets?limit=1", decided("a"));
        assert_eq!(
            cache.get("GET", "/pets?limit=1").unwrap().decision.action,
            "a"
        );
        assert!(cache.get("GET", "/pets?limit=2").is_none());
        assert!(
            cache.get("get", "/pets?limit=1").is_none(),
            "methods as sent"
        );
        assert!(cache.get("POST", "/pets?limit=1").is_none());
        cache.insert("GET", "/pets?limit=1", decided("b"));
        assert_eq!(cache.len(), 1, "replaced, not repeated");
        assert_eq!(
            cache.get("GET", "/pets?limit=1").unwrap().decision.action,
            "b"
        );
    }

    #[test]
    fn a_verdict_on_the_requests_own_values_is_never_kept() {
        let mut cache = DecisionCache::default();
        cache.insert("GET", "/pets", verdict("a", false));
        assert!(cache.is_empty());
        assert!(cache.get("GET", "/pets").is_none());
    }

    #[test]
    fn entries_are_bounded_and_long_targets_are_not_kept() {
        let mut cache = DecisionCache::default();
        for i in 0..DECISIONS_PER_TOKEN + 3 {
            cache.insert("GET", &format!("/pets/{i}"), decided("a"));
        }
        assert_eq!(cache.len(), DECISIONS_PER_TOKEN);
        assert!(
            cache.get("GET", "/pets/0").is_none(),
            "the oldest went first"
        );
        assert!(
            cache
                .get("GET", &format!("/pets/{}", DECISIONS_PER_TOKEN + 2))
                .is_some()
        );
        let long = format!("/pets/{}", "7".repeat(MAX_CACHED_TARGET));
        let mut cache = DecisionCache::default();
        cache.insert("GET", &long, decided("a"));
        assert!(cache.is_empty());
    }
}
