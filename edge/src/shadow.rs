//! The staged candidate's shadow decisions (`bundle_kv.staged_key`): which requests are
//! decided with it too ([`sampled`]) and what of its decision is logged when it differs from
//! the live bundle's ([`decision_changed`]). Pure; the worker decides, this compares. Nothing
//! here reaches an answer: the live decision alone is answered.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The event logged when the staged candidate decides a request otherwise than the live
/// bundle.
pub const DECISION_CHANGED: &str = "decision_changed";

/// What the staged side of the event says when no route of the candidate matches the
/// request (or, for a request without a token, no public one does).
pub const NO_ROUTE: &str = "no route";

/// Whether the request with id `request_id` is decided with the staged candidate too, for a
/// share of `percent` (0 to 100) of requests: the first eight bytes of the id's SHA-256
/// against the share, so the choice is the same every time for one id and spread evenly
/// over ids. 0 is none, 100 (or more) every request.
pub fn sampled(request_id: &str, percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    if percent >= 100 {
        return true;
    }
    let digest = Sha256::digest(request_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100 < u64::from(percent)
}

/// One side's decision of a request: its route's action, allow or deny, the deciding
/// policies, and evaluation errors.
#[derive(Clone, Copy, Debug)]
pub struct Outcome<'a> {
    pub action: &'a str,
    pub allowed: bool,
    pub policies: &'a [String],
    pub errors: &'a [String],
}

impl<'a> Outcome<'a> {
    /// The outcome of `decision` on the route of `action`.
    pub fn of(action: &'a str, decision: &'a cedargate::Decision) -> Self {
        Self {
            action,
            allowed: decision.is_allowed(),
            policies: &decision.policies,
            errors: &decision.errors,
        }
    }

    fn decision(&self) -> &'static str {
        if self.allowed { "allow" } else { "deny" }
    }
}

/// Who the request was decided for, as the decision saw it: the principal's entity type and
/// its groups (none for the anonymous principal). Nothing else of the token.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub principal_type: &'a str,
    pub groups: &'a [String],
}

/// Whether the staged decision differs from the live one: another outcome, other deciding
/// policies (in any order), or another action (no route at all is one: the candidate would
/// never forward the request).
pub fn differs(live: &Outcome<'_>, staged: Option<&Outcome<'_>>) -> bool {
    let Some(staged) = staged else {
        return true;
    };
    fn sorted(policies: &[String]) -> Vec<&str> {
        let mut sorted: Vec<&str> = policies.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        sorted
    }
    live.action != staged.action
        || live.allowed != staged.allowed
        || sorted(live.policies) != sorted(staged.policies)
}

/// The fields of the `decision_changed` event for the request `request_id`, when the staged
/// decision (`None`: no route of the candidate matches) differs from the live one
/// ([`differs`]); `None` when they agree. The action is the live route's, and `staged_action`
/// is there only when the candidate's differs ([`NO_ROUTE`] without one). Without no route,
/// the staged side is a deny by no policy.
pub fn decision_changed(
    request_id: &str,
    caller: &Caller<'_>,
    live: &Outcome<'_>,
    staged: Option<&Outcome<'_>>,
) -> Option<Value> {
    if !differs(live, staged) {
        return None;
    }
    let side = |outcome: &Outcome<'_>| {
        let mut side = json!({ "decision": outcome.decision(), "policies": outcome.policies });
        if !outcome.errors.is_empty() {
            side["errors"] = json!(outcome.errors);
        }
        side
    };
    let mut fields = json!({
        "request_id": request_id,
        "action": live.action,
        "principal_type": caller.principal_type,
        "groups": caller.groups,
        "live": side(live),
        "staged": match staged {
            Some(staged) => side(staged),
            None => json!({ "decision": "deny", "policies": [] }),
        },
    });
    match staged {
        None => fields["staged_action"] = json!(NO_ROUTE),
        Some(staged) if staged.action != live.action => {
            fields["staged_action"] = json!(staged.action);
        }
        Some(_) => {}
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sampling_is_deterministic_and_follows_the_share() {
        let ids: Vec<String> = (0..10_000).map(|n| format!("a1b2c3d4e5f6-{n:x}")).collect();
        for id in &ids {
            assert!(!sampled(id, 0));
            assert!(sampled(id, 100));
            assert_eq!(
                sampled(id, 37),
                sampled(id, 37),
                "the same id, the same choice"
            );
        }
        for percent in [1u8, 10, 50, 90] {
            let taken = ids.iter().filter(|id| sampled(id, percent)).count();
            let expected = 100 * usize::from(percent);
            assert!(
                taken.abs_diff(expected) < 100 + expected / 5,
                "{percent}%: {taken} of 10000"
            );
        }
        // A request sampled at one share is sampled at every larger one.
        for id in &ids {
            if sampled(id, 10) {
                assert!(sampled(id, 11) && sampled(id, 50));
            }
        }
        // Shares above 100 (refused by the configuration) are every request.
        assert!(sampled("x", 200));
    }

    #[test]
    fn only_a_different_outcome_policy_set_or_route_is_a_change() {
        let permit = strings(&["users-read"]);
        let both = strings(&["users-read", "admins-all"]);
        let both_again = strings(&["admins-all", "users-read"]);
        let frozen = strings(&["users-frozen"]);
        let none: Vec<String> = Vec::new();
        let o = |action, allowed, policies| Outcome {
            action,
            allowed,
            policies,
            errors: &[],
        };
        let live = o("get /pets", true, &permit);
        assert!(!differs(&live, Some(&o("get /pets", true, &permit))));
        assert!(differs(&live, Some(&o("get /pets", false, &frozen))));
        assert!(differs(&live, Some(&o("get /pets", true, &both))));
        assert!(differs(&live, Some(&o("get /pets/{petId}", true, &permit))));
        assert!(differs(&live, None));
        // Order is not a difference.
        let live_both = o("get /pets", true, &both);
        assert!(!differs(
            &live_both,
            Some(&o("get /pets", true, &both_again))
        ));
        // A default deny both ways is the same decision.
        let denied = o("post /pets", false, &none);
        assert!(!differs(&denied, Some(&o("post /pets", false, &none))));
    }

    #[test]
    fn the_event_names_both_sides_and_the_caller_only() {
        let permit = strings(&["users-read"]);
        let frozen = strings(&["users-frozen"]);
        let groups = strings(&["AVP_User"]);
        let caller = Caller {
            principal_type: "PetStore::User",
            groups: &groups,
        };
        let live = Outcome {
            action: "get /pets",
            allowed: true,
            policies: &permit,
            errors: &[],
        };
        let staged = Outcome {
            action: "get /pets",
            allowed: false,
            policies: &frozen,
            errors: &[],
        };
        assert_eq!(decision_changed("r-1", &caller, &live, Some(&live)), None);
        let event = decision_changed("r-1", &caller, &live, Some(&staged)).unwrap();
        assert_eq!(
            event,
            json!({
                "request_id": "r-1",
                "action": "get /pets",
                "principal_type": "PetStore::User",
                "groups": ["AVP_User"],
                "live": { "decision": "allow", "policies": ["users-read"] },
                "staged": { "decision": "deny", "policies": ["users-frozen"] },
            })
        );
        let unrouted = decision_changed("r-2", &caller, &live, None).unwrap();
        assert_eq!(unrouted["staged_action"], "no route");
        assert_eq!(
            unrouted["staged"],
            json!({ "decision": "deny", "policies": [] })
        );
        let errors = strings(&["users-frozen: type error"]);
        let moved = Outcome {
            action: "get /animals",
            errors: &errors,
            ..staged
        };
        let moved = decision_changed("r-3", &caller, &live, Some(&moved)).unwrap();
        assert_eq!(moved["staged_action"], "get /animals");
        assert_eq!(
            moved["staged"]["errors"],
            json!(["users-frozen: type error"])
        );
    }
}
