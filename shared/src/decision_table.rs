//! Decision tables (`shared/tests/data/petstore_decisions.toml`): cases of a principal's
//! claims, a method and a path, with the outcome a case is expected to come to. The core's
//! tests mint each case's token and decide it through the whole pipeline; `cedargate
//! diff-decisions` maps each case's claims offline and decides it with two bundles. Both read
//! a case here: which issuer ([`DecisionCase::issuer`]), which token
//! ([`DecisionCase::kind`]), which claims ([`DecisionCase::claims`]), and what a decision
//! comes to ([`CaseOutcome`]). The types deserialize from any serde format; the files are
//! TOML.

use crate::decision::Decision;
use crate::routes::{RouteError, RouteMatch};
use crate::token::TokenKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A table: the file's `[[case]]` entries, in order.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionTable {
    /// The cases.
    pub case: Vec<DecisionCase>,
}

/// One request of one principal, described by its claims.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionCase {
    /// What the case is about, for people.
    pub name: String,
    /// The `group` claim exactly (an array, or one string); absent: no `group` claim.
    #[serde(default)]
    pub group: Option<Value>,
    /// The token kind: `id` (the default) or `access`.
    #[serde(default)]
    pub token: Option<TokenKind>,
    /// The issuer: `A`, `B`, `C`, ... (the first, second, third ... issuer of those the table
    /// is read with), or an issuer itself. Default `A`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Further claims, put over the base claims; the string `"<remove>"` removes one.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// The companion token's claims ([`crate::IssuerConfig::companion`]), put over the base
    /// claims of the other kind than `token` as `claims` are ([`DecisionCase::companion_claims`]).
    /// Absent: the case has one token.
    #[serde(default)]
    pub companion: Option<Map<String, Value>>,
    /// The method, as sent.
    pub method: String,
    /// The request target: path and query, as sent.
    pub path: String,
    /// The outcome expected.
    #[serde(default)]
    pub expect: Option<CaseOutcome>,
    /// The determining policies expected, for `allow` and `deny`.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// The error message expected, for `refused` and `unauthenticated`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A claim value in [`DecisionCase::claims`] that removes the claim.
pub const REMOVE_CLAIM: &str = "<remove>";

/// Why a case cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionTableError {
    /// The case's `issuer` is a letter past the issuers given, or not one of them.
    #[error("case \"{case}\": issuer \"{issuer}\" is not one of the {count} trusted issuers")]
    UnknownIssuer {
        /// The case's name.
        case: String,
        /// What it says.
        issuer: String,
        /// How many issuers there are.
        count: usize,
    },
}

impl DecisionCase {
    /// The token kind (an ID token unless `token` says otherwise).
    pub fn kind(&self) -> TokenKind {
        self.token.unwrap_or(TokenKind::Id)
    }

    /// The case's issuer among `issuers`: a single capital letter is a position (`A` the
    /// first), anything else must be one of them. Without `issuer`, the first.
    pub fn issuer<'a>(&self, issuers: &[&'a str]) -> Result<&'a str, DecisionTableError> {
        let stated = self.issuer.as_deref().unwrap_or("A");
        let mut letters = stated.bytes();
        let found = match (letters.next(), letters.next()) {
            (Some(letter @ b'A'..=b'Z'), None) => issuers.get(usize::from(letter - b'A')),
            _ => issuers.iter().find(|issuer| **issuer == stated),
        };
        found
            .copied()
            .ok_or_else(|| DecisionTableError::UnknownIssuer {
                case: self.name.clone(),
                issuer: stated.to_owned(),
                count: issuers.len(),
            })
    }

    /// The case's claims: `base` with its `group` claim replaced by the case's `group` (left
    /// out when the case has none), then the case's `claims` put over it, each
    /// [`REMOVE_CLAIM`] removing its claim.
    pub fn claims(&self, mut base: Map<String, Value>) -> Map<String, Value> {
        base.remove("group");
        if let Some(group) = &self.group {
            base.insert("group".into(), group.clone());
        }
        for (claim, value) in &self.claims {
            if value.as_str() == Some(REMOVE_CLAIM) {
                base.remove(claim);
            } else {
                base.insert(claim.clone(), value.clone());
            }
        }
        base
    }
}

impl DecisionCase {
    /// The companion's claims: `base` with the case's `companion` claims put over it, each
    /// [`REMOVE_CLAIM`] removing its claim; `None` for a case of one token.
    pub fn companion_claims(&self, mut base: Map<String, Value>) -> Option<Map<String, Value>> {
        let over = self.companion.as_ref()?;
        for (claim, value) in over {
            if value.as_str() == Some(REMOVE_CLAIM) {
                base.remove(claim);
            } else {
                base.insert(claim.clone(), value.clone());
            }
        }
        Some(base)
    }
}

/// What a case comes to, in a table's words (`expect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    /// The policies allow the request.
    Allow,
    /// The policies deny it.
    Deny,
    /// No route matches (404).
    NoRoute,
    /// No route names the method (405).
    MethodNotAllowed,
    /// The request target is refused before any route is matched (400).
    Refused,
    /// The token, or its claims, give no principal (401).
    Unauthenticated,
}

impl CaseOutcome {
    /// What a matched and decided request, or the route error that stopped it, comes to.
    pub fn of(decided: &Result<(RouteMatch, Decision), RouteError>) -> Self {
        match decided {
            Ok((_, decision)) if decision.is_allowed() => Self::Allow,
            Ok(_) => Self::Deny,
            Err(RouteError::NoRoute) => Self::NoRoute,
            Err(RouteError::MethodNotAllowed { .. }) => Self::MethodNotAllowed,
            Err(RouteError::Refused(_)) => Self::Refused,
        }
    }

    /// The table's word for it: `allow`, `deny`, `no_route`, `method_not_allowed`,
    /// `refused`, `unauthenticated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::NoRoute => "no_route",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Refused => "refused",
            Self::Unauthenticated => "unauthenticated",
        }
    }
}

impl fmt::Display for CaseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn case(fields: Value) -> DecisionCase {
        let mut all = json!({ "name": "c", "method": "GET", "path": "/" });
        if let (Some(all), Some(fields)) = (all.as_object_mut(), fields.as_object()) {
            all.extend(fields.clone());
        }
        serde_json::from_value(all).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn issuers_are_letters_or_themselves() {
        let issuers = ["https://a", "https://b"];
        assert_eq!(case(json!({})).issuer(&issuers), Ok("https://a"));
        assert_eq!(
            case(json!({"issuer": "B"})).issuer(&issuers),
            Ok("https://b")
        );
        assert_eq!(
            case(json!({"issuer": "https://b"})).issuer(&issuers),
            Ok("https://b")
        );
        for unknown in ["C", "a", "AB", "https://c", ""] {
            assert_eq!(
                case(json!({ "issuer": unknown })).issuer(&issuers),
                Err(DecisionTableError::UnknownIssuer {
                    case: "c".into(),
                    issuer: unknown.into(),
                    count: 2,
                })
            );
        }
    }

    #[test]
    fn claims_go_over_the_base() {
        let base = json!({"sub": "alice", "group": ["X"], "scope": "a"});
        let base = base.as_object().cloned().unwrap_or_default();
        let claims = case(json!({"group": "Y", "claims": {"sub": "<remove>", "scope": "b"}}))
            .claims(base.clone());
        assert_eq!(Value::Object(claims), json!({"group": "Y", "scope": "b"}));
        // No `group`: no group claim at all.
        let claims = case(json!({})).claims(base);
        assert_eq!(Value::Object(claims), json!({"sub": "alice", "scope": "a"}));
        assert_eq!(case(json!({"token": "access"})).kind(), TokenKind::Access);
        assert_eq!(case(json!({})).kind(), TokenKind::Id);
    }

    #[test]
    fn outcomes_read_as_tables_write_them() {
        let c = case(json!({"expect": "method_not_allowed"}));
        assert_eq!(c.expect, Some(CaseOutcome::MethodNotAllowed));
        assert_eq!(
            CaseOutcome::MethodNotAllowed.to_string(),
            "method_not_allowed"
        );
        assert!(
            serde_json::from_value::<DecisionCase>(json!({
                "name": "c", "method": "GET", "path": "/", "expect": "maybe"
            }))
            .is_err()
        );
    }
}
