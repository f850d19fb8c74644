//! Monitor mode (`rollout` in the configuration): the one place where a decided request is
//! either answered as enforced or forwarded with the decision it would have been
//! ([`settle`]), what the origin is told of it, and which actions the bundle endpoint says
//! are enforced.
//!
//! A request is decided the same way in both modes. Only what happens to a refusal differs:
//! on an action that is not enforced, an authorization refusal is forwarded marked
//! `would-deny`, a token that fails verification follows `rollout.invalid_tokens` (and is
//! never forwarded as an identity), and every other refusal (a malformed request, no route,
//! an unavailable provider, KV or origin, a misconfiguration) is answered as always.

use crate::config::{EdgeConfig, InvalidTokens};
use crate::problem::AppError;
use std::collections::BTreeMap;

/// The header that tells the origin the decision on a monitored action: `allow`, or
/// `would-deny; reason=<code>`. Never passed on from a client (every `x-cedargate-*` header
/// is dropped, `cedargate::context::never_forwarded`).
pub const DECISION_HEADER: &str = "x-cedargate-decision";

/// The header on every response of a monitored action: `monitor`.
pub const MODE_HEADER: &str = "x-cedargate-mode";

/// The value of [`MODE_HEADER`], and the log line's `mode`.
pub const MONITOR: &str = "monitor";

/// How a request's action is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Refusals are answered.
    Enforce,
    /// Authorization refusals are forwarded as `would-deny`; a token that fails verification
    /// is treated as `invalid_tokens` says.
    Monitor { invalid_tokens: InvalidTokens },
}

impl Mode {
    /// The mode of the route `method template` of `action` under `config`.
    pub fn of(config: &EdgeConfig, method: &str, template: &str, action: &str) -> Self {
        let rollout = &config.rollout;
        if rollout.enforces(config.authzen.is_some(), method, template, action) {
            Self::Enforce
        } else {
            Self::Monitor {
                invalid_tokens: rollout.invalid_tokens,
            }
        }
    }

    /// Whether this is monitor mode.
    pub fn is_monitor(self) -> bool {
        matches!(self, Self::Monitor { .. })
    }
}

/// What becomes of a decided request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Answered with this refusal, as on an enforced action.
    Refuse(AppError),
    /// Forwarded to the origin.
    Forward(Forwarded),
}

/// How a request is forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// Who the origin is told called.
    pub caller: Caller,
    /// [`DECISION_HEADER`]'s value (and the assertion's `decision`): `None` on an enforced
    /// action, which is forwarded only when allowed.
    pub decision: Option<String>,
    /// The refusal forwarded instead of answered, for the log.
    pub would_deny: Option<WouldDeny>,
}

/// Who the origin is told called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The caller the request was decided for: the verified token's principal, or the
    /// anonymous caller of a request without a token.
    AsDecided,
    /// Nobody: the token failed verification, so the request goes as anonymous, without
    /// identity headers and without its `Authorization` header.
    Withheld,
}

/// A refusal that was not answered (monitor mode): what the log line says of it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WouldDeny {
    /// The status it would have been answered with.
    pub status: u16,
    /// Its reason code (see [`reason`]).
    pub reason: &'static str,
}

/// The reason code of a refusal monitor mode may forward: the RFC 6750 and RFC 9470 error
/// codes (`invalid_token`, `insufficient_scope`, `insufficient_user_authentication`),
/// `missing_token` and `forbidden`. `None` for the refusals every mode answers.
pub fn reason(refusal: &AppError) -> Option<&'static str> {
    Some(match refusal {
        AppError::MissingToken => "missing_token",
        AppError::InvalidToken { .. } => "invalid_token",
        AppError::Forbidden { .. } => "forbidden",
        AppError::InsufficientScope { .. } => "insufficient_scope",
        AppError::StepUp { .. } => "insufficient_user_authentication",
        AppError::BadRequest { .. }
        | AppError::NoRoute
        | AppError::NoRouteForbidden
        | AppError::MethodNotAllowed { .. }
        | AppError::KeysUnavailable { .. }
        | AppError::RevocationUnavailable { .. }
        | AppError::IntrospectionUnavailable { .. }
        | AppError::BundleUnavailable { .. }
        | AppError::OriginUnreachable
        | AppError::Misconfigured
        | AppError::PreflightRefused
        | AppError::UnsupportedMediaType
        | AppError::CsrfRefused => return None,
    })
}

/// The choice: a request of an action in `mode`, allowed (`refusal` is `None`) or refused,
/// is answered with the refusal or forwarded, and told to the origin as what.
///
/// Enforced: an allowed request is forwarded as decided, a refusal answered. Monitored: an
/// allowed request is forwarded with `allow`; an authorization refusal is forwarded with
/// `would-deny; reason=<code>` as decided; a token that failed verification is answered, or
/// with `forward_without_identity` forwarded with `would-deny; reason=invalid_token` and the
/// caller [withheld](Caller::Withheld); every other refusal is answered.
pub fn settle(mode: Mode, refusal: Option<AppError>) -> Settled {
    let Mode::Monitor { invalid_tokens } = mode else {
        return match refusal {
            None => Settled::Forward(Forwarded {
                caller: Caller::AsDecided,
                decision: None,
                would_deny: None,
            }),
            Some(refusal) => Settled::Refuse(refusal),
        };
    };
    let Some(refusal) = refusal else {
        return Settled::Forward(Forwarded {
            caller: Caller::AsDecided,
            decision: Some("allow".into()),
            would_deny: None,
        });
    };
    let Some(code) = reason(&refusal) else {
        return Settled::Refuse(refusal);
    };
    let caller = match (&refusal, invalid_tokens) {
        (AppError::InvalidToken { .. }, InvalidTokens::Refuse) => {
            return Settled::Refuse(refusal);
        }
        (AppError::InvalidToken { .. }, InvalidTokens::ForwardWithoutIdentity) => Caller::Withheld,
        _ => Caller::AsDecided,
    };
    Settled::Forward(Forwarded {
        caller,
        decision: Some(format!("would-deny; reason={code}")),
        would_deny: Some(WouldDeny {
            status: refusal.status(),
            reason: code,
        }),
    })
}

/// Whether each action of `bundle`'s routes is enforced under `config`, as the bundle
/// endpoint's document says: an action is `false` when any of its routes is monitored.
pub fn enforced_actions(config: &EdgeConfig, bundle: &cedargate::Bundle) -> BTreeMap<String, bool> {
    let mut enforced = BTreeMap::new();
    for entry in bundle.routes() {
        let (method, template) = entry.route.split_once(' ').unwrap_or_default();
        let this = Mode::of(config, method, template, &entry.action) == Mode::Enforce;
        enforced
            .entry(entry.action)
            .and_modify(|all: &mut bool| *all = *all && this)
            .or_insert(this);
    }
    enforced
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forbidden() -> AppError {
        AppError::Forbidden {
            action: "post /pets".into(),
            policies: vec![],
        }
    }

    fn invalid(kind: &'static str) -> AppError {
        AppError::InvalidToken {
            kind,
            message: "m".into(),
        }
    }

    /// Every outcome a request can be decided to, in each mode: what is answered, what is
    /// forwarded and as whom.
    #[test]
    fn every_outcome_in_every_mode() {
        let step_up = cedargate::StepUp {
            acr_values: vec!["mfa".into()],
            max_age: Some(300),
        };
        let outcomes: Vec<(&str, Option<AppError>)> = vec![
            ("allowed", None),
            ("missing token", Some(AppError::MissingToken)),
            ("forbidden", Some(forbidden())),
            (
                "insufficient scope",
                Some(AppError::InsufficientScope {
                    action: "post /pets".into(),
                    policies: vec!["p".into()],
                    scopes: vec!["pets:write".into()],
                    step_up: None,
                }),
            ),
            (
                "step-up",
                Some(AppError::StepUp {
                    action: "delete /pets/{petId}".into(),
                    policies: vec!["p".into()],
                    step_up,
                }),
            ),
            ("forged", Some(invalid("bad_signature"))),
            ("expired", Some(invalid("expired"))),
            ("revoked", Some(invalid("revoked"))),
            ("inactive", Some(invalid("inactive"))),
            ("malformed header", Some(invalid("malformed_header"))),
            (
                "bad request",
                Some(AppError::BadRequest {
                    message: "dot segment".into(),
                }),
            ),
            ("no route", Some(AppError::NoRoute)),
            ("no route, forbidden", Some(AppError::NoRouteForbidden)),
            (
                "method",
                Some(AppError::MethodNotAllowed {
                    allow: vec!["GET".into()],
                }),
            ),
            ("keys", Some(AppError::KeysUnavailable { retry_after: 1 })),
            (
                "deny list",
                Some(AppError::RevocationUnavailable { retry_after: 1 }),
            ),
            (
                "introspection",
                Some(AppError::IntrospectionUnavailable { retry_after: 1 }),
            ),
            (
                "bundle",
                Some(AppError::BundleUnavailable { retry_after: 1 }),
            ),
            ("origin", Some(AppError::OriginUnreachable)),
            ("misconfigured", Some(AppError::Misconfigured)),
            ("preflight", Some(AppError::PreflightRefused)),
            ("csrf", Some(AppError::CsrfRefused)),
        ];
        let modes = [
            ("enforce", Mode::Enforce),
            (
                "monitor, refuse",
                Mode::Monitor {
                    invalid_tokens: InvalidTokens::Refuse,
                },
            ),
            (
                "monitor, forward",
                Mode::Monitor {
                    invalid_tokens: InvalidTokens::ForwardWithoutIdentity,
                },
            ),
        ];
        // (outcome, mode) → what the origin is told (decision, caller), or `None`: answered.
        let expected = |outcome: &str, mode: &str| -> Option<(Option<&str>, Caller)> {
            use Caller::*;
            match (outcome, mode) {
                ("allowed", "enforce") => Some((None, AsDecided)),
                ("allowed", _) => Some((Some("allow"), AsDecided)),
                (_, "enforce") => None,
                ("missing token", _) => Some((Some("would-deny; reason=missing_token"), AsDecided)),
                ("forbidden", _) => Some((Some("would-deny; reason=forbidden"), AsDecided)),
                ("insufficient scope", _) => {
                    Some((Some("would-deny; reason=insufficient_scope"), AsDecided))
                }
                ("step-up", _) => Some((
                    Some("would-deny; reason=insufficient_user_authentication"),
                    AsDecided,
                )),
                (
                    "forged" | "expired" | "revoked" | "inactive" | "malformed header",
                    "monitor, forward",
                ) => Some((Some("would-deny; reason=invalid_token"), Withheld)),
                _ => None,
            }
        };
        for (outcome, refusal) in &outcomes {
            for (name, mode) in modes {
                let got = settle(mode, refusal.clone());
                let case = format!("{outcome} under {name}");
                match (expected(outcome, name), got) {
                    (None, Settled::Refuse(err)) => {
                        assert_eq!(
                            Some(&err),
                            refusal.as_ref(),
                            "{case}: the refusal as decided"
                        )
                    }
                    (Some((decision, caller)), Settled::Forward(f)) => {
                        assert_eq!(f.decision.as_deref(), decision, "{case}");
                        assert_eq!(f.caller, caller, "{case}");
                        assert_eq!(
                            f.would_deny,
                            decision
                                .filter(|d| *d != "allow")
                                .and(refusal.as_ref())
                                .map(|r| {
                                    WouldDeny {
                                        status: r.status(),
                                        reason: reason(r).unwrap(),
                                    }
                                }),
                            "{case}"
                        );
                    }
                    (want, got) => panic!("{case}: expected {want:?}, got {got:?}"),
                }
            }
        }
    }

    #[test]
    fn a_token_that_failed_is_never_forwarded_as_the_caller() {
        for invalid_tokens in [InvalidTokens::Refuse, InvalidTokens::ForwardWithoutIdentity] {
            for kind in ["bad_signature", "expired", "revoked", "inactive", "claims"] {
                match settle(Mode::Monitor { invalid_tokens }, Some(invalid(kind))) {
                    Settled::Refuse(_) => {}
                    Settled::Forward(f) => assert_eq!(f.caller, Caller::Withheld, "{kind}"),
                }
            }
        }
    }

    #[test]
    fn the_would_deny_names_the_status_and_reason() {
        let monitor = Mode::Monitor {
            invalid_tokens: InvalidTokens::Refuse,
        };
        let Settled::Forward(f) = settle(monitor, Some(forbidden())) else {
            panic!("forwarded")
        };
        assert_eq!(
            f.would_deny,
            Some(WouldDeny {
                status: 403,
                reason: "forbidden"
            })
        );
        assert_eq!(
            serde_json::to_value(&f.would_deny).unwrap(),
            json!({ "status": 403, "reason": "forbidden" })
        );
        let Settled::Forward(f) = settle(monitor, Some(AppError::MissingToken)) else {
            panic!("forwarded")
        };
        assert_eq!(f.would_deny.map(|w| w.status), Some(401));
    }

    #[test]
    fn the_bundle_endpoint_says_which_actions_are_enforced() {
        let bundle = cedargate::examples::petstore().unwrap();
        let config = |rollout: serde_json::Value| {
            EdgeConfig::from_json(
                &json!({
                    "trust": { "issuers": [{ "issuer": "https://auth.pingone.com/env/as", "token": "id", "audiences": ["c"] }] },
                    "origin": "https://api.example.com",
                    "rollout": rollout,
                })
                .to_string(),
            )
            .unwrap()
        };
        let all = enforced_actions(&config(json!({})), &bundle);
        assert_eq!(
            all.keys().map(String::as_str).collect::<Vec<_>>(),
            ["get /", "get /pets", "get /pets/{petId}", "post /pets"]
        );
        assert!(all.values().all(|e| *e));
        let some = enforced_actions(
            &config(json!({ "enforce": false, "actions": { "get /pets": true } })),
            &bundle,
        );
        assert_eq!(some.get("get /pets"), Some(&true));
        assert_eq!(some.get("post /pets"), Some(&false));
        assert_eq!(some.get("get /"), Some(&false));
        assert_eq!(
            Mode::of(
                &config(json!({ "actions": { "post /pets": false } })),
                "POST",
                "/pets",
                "post /pets"
            ),
            Mode::Monitor {
                invalid_tokens: InvalidTokens::Refuse
            }
        );
    }
}
