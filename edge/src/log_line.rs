//! The worker's JSON log lines: one per request, saying what was decided and why, and
//! events (key refreshes, bundle updates). Pure; the worker writes them with `console.log`.
//! A line never holds a token.

use crate::config::RequestLog;
use crate::problem::AppError;
use crate::rollout::WouldDeny;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// What the log line says about a request, filled in as the request goes.
#[derive(Debug, Default)]
pub struct RequestRecord {
    /// The issuer the token named.
    pub issuer: Option<String>,
    /// The token's subject, once verified.
    pub subject: Option<String>,
    /// The client the token was issued to, when it names one (the service itself for a
    /// client-credentials token).
    pub client: Option<String>,
    /// The action the route matched.
    pub action: Option<String>,
    /// `allow` or `deny`, once decided.
    pub decision: Option<&'static str>,
    /// The policies that decided.
    pub policies: Vec<String>,
    /// `hit`, `miss` or `off`.
    pub token_cache: Option<&'static str>,
    /// `hit` when the token's decision for this method and target was reused, `shared` when
    /// another token's principal of the same shape made it (`decision_cache::SharedDecisions`),
    /// `miss` when it was made now.
    pub decision_cache: Option<&'static str>,
    /// What went wrong, in more detail than the client is told.
    pub error: Option<String>,
    /// The request had no token and was decided for the anonymous principal (a public
    /// route).
    pub anonymous: bool,
    /// What the provider's introspection said (asked now or reused), when it was consulted.
    pub introspected: Option<bool>,
    /// `monitor` when the request's action is not enforced (`rollout`).
    pub mode: Option<&'static str>,
    /// In monitor mode, the refusal the request was forwarded instead of: its status and
    /// reason code (the deciding policies are `policies`).
    pub would_deny: Option<WouldDeny>,
}

impl RequestRecord {
    /// Notes why the request was refused, unless an error was noted already (a policy
    /// evaluation error explains a deny better). A refused token's message stays here: the
    /// client gets the reason code only.
    pub fn refused(&mut self, err: &AppError) {
        if self.error.is_none() {
            self.error = Some(match err {
                AppError::InvalidToken { kind, message } => format!("{kind}: {message}"),
                other => other.code(),
            });
        }
    }

    /// Notes the decision on `action`: its policies, its evaluation errors, allow or deny.
    pub fn decided(&mut self, action: &str, decision: &cedargate::Decision) {
        self.action = Some(action.to_owned());
        self.policies = decision.policies.clone();
        if !decision.errors.is_empty() {
            self.error = Some(decision.errors.join("; "));
        }
        self.decision = Some(if decision.is_allowed() {
            "allow"
        } else {
            "deny"
        });
    }

    /// Whether `mode` logs this request, answered with `status`.
    pub fn logged(&self, mode: RequestLog, status: u16) -> bool {
        match mode {
            RequestLog::All => true,
            RequestLog::Refusals => self.decision != Some("allow") || status >= 400,
            RequestLog::Off => false,
        }
    }

    /// The line for the request `id` (`method` and `target` as sent), answered with
    /// `status` after `micros` microseconds. The query is left out.
    pub fn line(&self, id: &str, method: &str, target: &str, status: u16, micros: i64) -> String {
        let line = Line {
            request_id: id,
            method,
            path: crate::target::path_of(target),
            status,
            issuer: self.issuer.as_deref(),
            subject: self.subject.as_deref(),
            client: self.client.as_deref(),
            action: self.action.as_deref(),
            decision: self.decision,
            policies: &self.policies,
            token_cache: self.token_cache,
            decision_cache: self.decision_cache,
            error: self.error.as_deref(),
            anonymous: self.anonymous,
            introspected: self.introspected,
            mode: self.mode,
            would_deny: self.would_deny.as_ref().map(|w| WouldDenyLine {
                status: w.status,
                reason: w.reason,
                policies: &self.policies,
            }),
            us: micros,
        };
        // Strings, numbers and a list of strings always serialize.
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// A request's line as written, members in this order; serialized straight from the
/// record's fields (one allocation, no intermediate JSON tree).
#[derive(Serialize)]
struct Line<'a> {
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    issuer: Option<&'a str>,
    subject: Option<&'a str>,
    client: Option<&'a str>,
    action: Option<&'a str>,
    decision: Option<&'a str>,
    policies: &'a [String],
    token_cache: Option<&'a str>,
    decision_cache: Option<&'a str>,
    error: Option<&'a str>,
    /// Only on the line of a request without a token (a public route).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    anonymous: bool,
    /// Only when introspection was consulted: whether the token was active.
    #[serde(skip_serializing_if = "Option::is_none")]
    introspected: Option<bool>,
    /// Only for an action that is not enforced: `monitor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a str>,
    /// Only for a refusal forwarded in monitor mode: what would have been answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    would_deny: Option<WouldDenyLine<'a>>,
    us: i64,
}

/// The refusal a monitored request would have been answered with, as the line says it.
#[derive(Serialize)]
struct WouldDenyLine<'a> {
    status: u16,
    reason: &'a str,
    policies: &'a [String],
}

/// An event's line: `{"event": name}` followed by the members of `fields` (an object).
pub fn event_line(name: &str, fields: Value) -> Value {
    let mut line = Map::new();
    line.insert("event".into(), json!(name));
    if let Value::Object(fields) = fields {
        line.extend(fields);
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_has_every_member_and_no_query() {
        let record = RequestRecord {
            issuer: Some("https://idp.example".into()),
            subject: Some("alice".into()),
            client: Some("portal".into()),
            action: Some("get /pets".into()),
            decision: Some("allow"),
            policies: vec!["p1".into()],
            token_cache: Some("miss"),
            decision_cache: Some("miss"),
            error: None,
            anonymous: false,
            introspected: None,
            mode: None,
            would_deny: None,
        };
        assert_eq!(
            record.line("r-1", "GET", "/pets?limit=1", 200, 42),
            r#"{"request_id":"r-1","method":"GET","path":"/pets","status":200,"issuer":"https://idp.example","subject":"alice","client":"portal","action":"get /pets","decision":"allow","policies":["p1"],"token_cache":"miss","decision_cache":"miss","error":null,"us":42}"#
        );
        let asked = RequestRecord {
            introspected: Some(true),
            ..record
        };
        assert!(
            asked
                .line("r-1", "GET", "/pets", 200, 42)
                .ends_with(r#""error":null,"introspected":true,"us":42}"#)
        );
    }

    #[test]
    fn a_request_without_a_token_says_so() {
        let record = RequestRecord {
            action: Some("get /health".into()),
            decision: Some("allow"),
            policies: vec!["public-get-health".into()],
            anonymous: true,
            ..RequestRecord::default()
        };
        assert_eq!(
            record.line("r-2", "GET", "/health", 200, 7),
            r#"{"request_id":"r-2","method":"GET","path":"/health","status":200,"issuer":null,"subject":null,"client":null,"action":"get /health","decision":"allow","policies":["public-get-health"],"token_cache":null,"decision_cache":null,"error":null,"anonymous":true,"us":7}"#
        );
    }

    #[test]
    fn a_monitored_request_says_so_and_what_it_would_have_been() {
        let record = RequestRecord {
            subject: Some("bob".into()),
            action: Some("post /pets".into()),
            decision: Some("deny"),
            error: Some("forbidden".into()),
            mode: Some(crate::rollout::MONITOR),
            would_deny: Some(WouldDeny {
                status: 403,
                reason: "forbidden",
            }),
            ..RequestRecord::default()
        };
        assert_eq!(
            record.line("r-3", "POST", "/pets", 201, 9),
            r#"{"request_id":"r-3","method":"POST","path":"/pets","status":201,"issuer":null,"subject":"bob","client":null,"action":"post /pets","decision":"deny","policies":[],"token_cache":null,"decision_cache":null,"error":"forbidden","mode":"monitor","would_deny":{"status":403,"reason":"forbidden","policies":[]},"us":9}"#
        );
        // Logged when only refusals are: it was one.
        assert!(record.logged(RequestLog::Refusals, 201));
        let allowed = RequestRecord {
            decision: Some("allow"),
            policies: vec!["avp-admin-all".into()],
            mode: Some(crate::rollout::MONITOR),
            ..RequestRecord::default()
        };
        let line = allowed.line("r-4", "GET", "/pets", 200, 1);
        assert!(
            line.contains(r#""mode":"monitor","us":1}"#),
            "no would_deny on an allowed request: {line}"
        );
    }

    #[test]
    fn refusals_keep_the_first_error_and_the_token_message_stays_in_the_log() {
        let mut record = RequestRecord::default();
        record.refused(&AppError::InvalidToken {
            kind: "expired",
            message: "token expired at 1000".into(),
        });
        assert_eq!(
            record.error.as_deref(),
            Some("expired: token expired at 1000")
        );
        record.refused(&AppError::NoRoute);
        assert_eq!(
            record.error.as_deref(),
            Some("expired: token expired at 1000")
        );
        let mut record = RequestRecord::default();
        record.refused(&AppError::OriginUnreachable);
        assert_eq!(record.error.as_deref(), Some("origin-unreachable"));
    }

    #[test]
    fn a_decision_is_noted_with_its_policies_and_errors() {
        let mut record = RequestRecord::default();
        record.decided(
            "post /pets",
            &cedargate::Decision {
                action: "post /pets".into(),
                outcome: cedargate::Outcome::Deny,
                policies: vec!["f".into()],
                errors: vec!["f: bad".into(), "g: worse".into()],
                step_up: None,
                required_scopes: vec![],
            },
        );
        assert_eq!(record.action.as_deref(), Some("post /pets"));
        assert_eq!(record.decision, Some("deny"));
        assert_eq!(record.policies, ["f"]);
        assert_eq!(record.error.as_deref(), Some("f: bad; g: worse"));
    }

    #[test]
    fn the_log_mode_chooses_the_requests() {
        let allowed = RequestRecord {
            decision: Some("allow"),
            ..RequestRecord::default()
        };
        let refused = RequestRecord::default();
        assert!(allowed.logged(RequestLog::All, 200));
        assert!(!allowed.logged(RequestLog::Refusals, 200));
        assert!(allowed.logged(RequestLog::Refusals, 502));
        assert!(refused.logged(RequestLog::Refusals, 401));
        assert!(!refused.logged(RequestLog::Off, 401));
    }

    #[test]
    fn events_name_themselves_first() {
        assert_eq!(
            event_line("keys_refreshed", json!({ "issuer": "i", "error": null })).to_string(),
            r#"{"event":"keys_refreshed","issuer":"i","error":null}"#
        );
    }
}
