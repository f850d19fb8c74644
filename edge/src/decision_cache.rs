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
//!
//! [`SharedDecisions`] keeps verdicts across tokens: by the [`DecisionKey`] of the principal
//! (its shape, when nothing in the bundle can tell principals of its type apart, see
//! `cedargate::sharing`), then by method and target as above. One is kept per gate in force
//! (`runtime::state::Live`), so it goes with the gate; keys and tokens do not enter a
//! verdict. A new token whose key has a verdict for its request is verified in full, but
//! neither its Cedar entities are built nor its request decided.

use cedargate::{DecisionKey, Verdict};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// At most this many decisions per token; the oldest goes first.
pub const DECISIONS_PER_TOKEN: usize = 8;

/// Targets longer than this are decided every time (they are rare and would cost memory).
pub const MAX_CACHED_TARGET: usize = 256;

/// At most this many principal shapes share decisions per gate; the oldest goes first.
pub const SHARED_KEYS: usize = 256;

/// At most this many decisions per shared key; the oldest goes first.
pub const DECISIONS_PER_KEY: usize = 32;

/// One token's decisions, by method (as sent) and target (path and query as sent).
#[derive(Debug)]
pub struct DecisionCache {
    entries: Vec<(String, String, Rc<Verdict>)>,
    capacity: usize,
}

impl Default for DecisionCache {
    fn default() -> Self {
        Self::with_capacity(DECISIONS_PER_TOKEN)
    }
}

impl DecisionCache {
    /// An empty cache of at most `capacity` decisions.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::new(),
            capacity,
        }
    }

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
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
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

/// Verdicts shared between principals of equal [`DecisionKey`]s, by key, method and target:
/// at most [`SHARED_KEYS`] keys of [`DECISIONS_PER_KEY`] decisions each.
#[derive(Debug, Default)]
pub struct SharedDecisions {
    by_key: HashMap<DecisionKey, DecisionCache>,
    /// Keys in insertion order, the oldest first.
    order: VecDeque<DecisionKey>,
}

impl SharedDecisions {
    /// The verdict made before for a principal of `key` and `method`, `target`.
    pub fn get(&self, key: &DecisionKey, method: &str, target: &str) -> Option<Rc<Verdict>> {
        self.by_key.get(key)?.get(method, target)
    }

    /// Keeps `decided` for every principal of `key`, unless it may not be shared
    /// ([`Verdict::shareable`]: reusable and made without evaluation errors) or the
    /// target is too long to keep.
    pub fn insert(&mut self, key: &DecisionKey, method: &str, target: &str, decided: Rc<Verdict>) {
        if !decided.shareable() {
            return;
        }
        if let Some(decisions) = self.by_key.get_mut(key) {
            decisions.insert(method, target, decided);
            return;
        }
        while self.by_key.len() >= SHARED_KEYS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.by_key.remove(&oldest);
        }
        let mut decisions = DecisionCache::with_capacity(DECISIONS_PER_KEY);
        decisions.insert(method, target, decided);
        if !decisions.is_empty() {
            self.by_key.insert(key.clone(), decisions);
            self.order.push_back(key.clone());
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
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

    /// The PetStore gate with one issuer of ID tokens, and a principal of `sub` in `groups`.
    fn petstore() -> cedargate::Gate {
        let config: cedargate::TrustConfig = serde_json::from_value(serde_json::json!({
            "issuers": [{ "issuer": "https://idp.test", "token": "id", "audiences": ["app"] }]
        }))
        .unwrap();
        cedargate::Gate::new(cedargate::examples::petstore().unwrap(), &config).unwrap()
    }

    fn key(gate: &cedargate::Gate, sub: &str, groups: &[&str], target: &str) -> DecisionKey {
        let claims = serde_json::json!({ "sub": sub, "group": groups });
        let principal = gate
            .trust()
            .insecure_principal_from_claims(
                "https://idp.test",
                cedargate::TokenKind::Id,
                claims.as_object().unwrap(),
            )
            .unwrap();
        let route = gate.route("GET", target).unwrap();
        gate.decision_key(&principal, &route).unwrap()
    }

    #[test]
    fn a_verdict_is_shared_by_principals_of_the_same_shape_only() {
        let gate = petstore();
        let alice = key(&gate, "alice", &["AVP_User"], "/pets");
        let bob = key(&gate, "bob", &["AVP_User"], "/pets");
        let admin = key(&gate, "carol", &["AVP_Admin"], "/pets");
        assert_eq!(alice, bob, "the same shape, another id");
        assert_ne!(alice, admin);
        let mut shared = SharedDecisions::default();
        shared.insert(&alice, "GET", "/pets", decided("a"));
        assert_eq!(
            shared.get(&bob, "GET", "/pets").unwrap().decision.action,
            "a"
        );
        assert!(shared.get(&admin, "GET", "/pets").is_none());
        assert!(shared.get(&bob, "GET", "/pets?limit=1").is_none());
    }

    #[test]
    fn a_verdict_with_errors_or_on_request_values_is_not_shared() {
        let gate = petstore();
        let alice = key(&gate, "alice", &["AVP_User"], "/pets");
        let mut shared = SharedDecisions::default();
        shared.insert(&alice, "GET", "/pets", verdict("a", false));
        assert!(shared.is_empty());
        let mut erring = verdict("a", true);
        Rc::get_mut(&mut erring)
            .unwrap()
            .decision
            .errors
            .push("p: error naming PetStore::User::\"alice\"".into());
        shared.insert(&alice, "GET", "/pets", erring);
        assert!(shared.is_empty());
        assert!(shared.get(&alice, "GET", "/pets").is_none());
    }

    #[test]
    fn shared_keys_are_bounded_the_oldest_going_first() {
        let gate = petstore();
        let mut shared = SharedDecisions::default();
        let keys: Vec<DecisionKey> = (0..SHARED_KEYS + 2)
            .map(|i| key(&gate, "alice", &[&format!("g{i}")], "/pets"))
            .collect();
        for k in &keys {
            shared.insert(k, "GET", "/pets", decided("a"));
        }
        assert_eq!(shared.len(), SHARED_KEYS);
        assert!(shared.get(&keys[0], "GET", "/pets").is_none());
        assert!(shared.get(&keys[SHARED_KEYS + 1], "GET", "/pets").is_some());
        for i in 0..DECISIONS_PER_KEY + 1 {
            shared.insert(
                &keys[SHARED_KEYS + 1],
                "GET",
                &format!("/pets/{i}"),
                decided("a"),
            );
        }
        assert!(shared.get(&keys[SHARED_KEYS + 1], "GET", "/pets").is_none());
    }
}
