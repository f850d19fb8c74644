//! `cedargate diff-decisions`: requests decided offline by two bundles, the live one and a
//! staged candidate, and the requests whose outcome, action or deciding policies differ.
//!
//! The requests come from a decision table (the format of the core's
//! `shared/tests/data/petstore_decisions.toml`, read by `cedargate::decision_table`) or from a
//! file of past requests, one JSON object per line ([`request_cases`]). Each is decided as
//! the edge decides it after the token: its claims mapped by the trust configuration
//! (`Trust::hypothetical_principal_from_claims`, bound to each bundle's schema), the route
//! matched, the policies evaluated (`Gate::what_if_request`). No token is made or verified:
//! the claims are taken as given, so what a token check would refuse is not seen, and the
//! same claims go to both bundles.

use cedargate::decision_table::{CaseOutcome, DecisionTable};
use cedargate::{Bundle, BundlePublicKey, Gate, RequestValues, TokenKind};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The subject of a table case whose claims name none (the core's tests mint the same).
pub const TABLE_SUBJECT: &str = "alice";

/// One request to decide with both bundles.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// How the report names it: the table case's name, or `FILE:LINE` (or the line's `name`).
    pub name: String,
    /// Who sent it; `None` for a request without a token.
    pub caller: Option<Caller>,
    /// The method, as sent.
    pub method: String,
    /// The request target (path and query), as sent.
    pub path: String,
}

/// The principal of a request, as the claims of its verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The token's issuer (`iss`), one the trust configuration trusts.
    pub issuer: String,
    /// The kind of token.
    pub kind: TokenKind,
    /// The claims the mapping reads (`sub`, groups, scopes, permissions, `client_id`, ...).
    pub claims: Map<String, Value>,
    /// The companion token's claims, for an issuer entry that takes one
    /// (`trust.issuers[].companion`: the ID token beside an access token, or the reverse);
    /// `None` when the request carried one token.
    pub companion: Option<Map<String, Value>>,
}

/// The bundle at `path`: a policy folder (with its `entities.json`, when it has one), or a
/// bundle document as `cedargate bundle` writes it (signed ones need `key`), of either slot.
pub fn load_bundle(path: &Path, key: Option<&BundlePublicKey>) -> Result<Bundle, String> {
    let name = path.display();
    let document = if path.is_dir() {
        let document = cedargate::BundleDocument::new(crate::folder::read(path)?, 0);
        match crate::folder::read_entities(path)? {
            Some(entities) => document.with_entities(entities),
            None => document,
        }
    } else {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
        cedargate::open_bundle_document(&text, key).map_err(|e| format!("{name}: {e}"))?
    };
    document.load().map_err(|e| format!("{name}: {e}"))
}

/// A decision table's cases, issuers `A`, `B`, ... being `issuers` in order. A case's claims
/// are `sub` [`TABLE_SUBJECT`], its `group` and its `claims` (see
/// `cedargate::decision_table::DecisionCase::claims`); a case with `companion` claims has a
/// companion token of the same subject with those claims.
pub fn table_cases(table: &DecisionTable, issuers: &[&str]) -> Result<Vec<Case>, String> {
    table
        .case
        .iter()
        .map(|case| {
            let issuer = case.issuer(issuers).map_err(|e| e.to_string())?;
            let mut base = Map::new();
            base.insert("sub".into(), Value::String(TABLE_SUBJECT.into()));
            Ok(Case {
                name: case.name.clone(),
                caller: Some(Caller {
                    issuer: issuer.to_owned(),
                    kind: case.kind(),
                    claims: case.claims(base.clone()),
                    companion: case.companion_claims(base),
                }),
                method: case.method.clone(),
                path: case.path.clone(),
            })
        })
        .collect()
}

/// One line of a file of past requests.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    token: Option<TokenKind>,
    #[serde(default)]
    claims: Option<Map<String, Value>>,
    #[serde(default)]
    companion: Option<Map<String, Value>>,
    method: String,
    path: String,
}

/// The requests of a file of past requests (`file` names it in messages): one JSON object
/// per line, blank lines skipped:
/// `{"issuer": ISS, "token": "id"|"access", "claims": {...}, "method": M, "path": P}`, with
/// `token` `id` by default, an optional `name`, and an optional `companion` (the claims of
/// the companion token, for an issuer entry that takes one); without `issuer` and `claims`,
/// a request that carried no token.
pub fn request_cases(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{file}:{}", index + 1);
        let request: RequestLine = serde_json::from_str(line).map_err(|e| format!("{at}: {e}"))?;
        let caller = match (request.issuer, request.claims) {
            (Some(issuer), Some(claims)) => Some(Caller {
                issuer,
                kind: request.token.unwrap_or(TokenKind::Id),
                claims,
                companion: request.companion,
            }),
            (None, None) if request.token.is_none() && request.companion.is_none() => None,
            _ => {
                return Err(format!(
                    "{at}: a request with a token has \"issuer\" and \"claims\", one without has neither (nor \"token\" or \"companion\")"
                ));
            }
        };
        cases.push(Case {
            name: request.name.unwrap_or(at),
            caller,
            method: request.method,
            path: request.path,
        });
    }
    Ok(cases)
}

/// What one bundle decides for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// In a decision table's words.
    pub outcome: CaseOutcome,
    /// The action of the route matched, when one matched.
    pub action: Option<String>,
    /// The determining policies, sorted: the permits of an allow, the forbids of a deny.
    pub policies: Vec<String>,
    /// Why, for `refused` and `unauthenticated`.
    pub reason: Option<String>,
}

/// The principal `caller`'s claims map to: with its companion's claims when it has them
/// (an entry that takes a companion refuses a caller without one, as the edge does).
fn principal_of(
    gate: &Gate,
    caller: &Caller,
) -> Result<cedargate::HypotheticalPrincipal, cedargate::MappingError> {
    let trust = gate.trust();
    match &caller.companion {
        Some(companion) => trust.hypothetical_principal_from_pair(
            &caller.issuer,
            caller.kind,
            &caller.claims,
            companion,
        ),
        None => {
            trust.hypothetical_principal_from_claims(&caller.issuer, caller.kind, &caller.claims)
        }
    }
}

/// `case` decided by `gate` with `values`.
pub fn decide(gate: &Gate, case: &Case, values: &RequestValues) -> Verdict {
    let decided = match &case.caller {
        Some(caller) => match principal_of(gate, caller) {
            Ok(principal) => gate.what_if_request(&principal, &case.method, &case.path, values),
            Err(err) => {
                return Verdict {
                    outcome: CaseOutcome::Unauthenticated,
                    action: None,
                    policies: Vec::new(),
                    reason: Some(err.to_string()),
                };
            }
        },
        None => match gate.decide_anonymous(&case.method, &case.path, values) {
            Some(decided) => Ok(decided),
            // The edge answers a request without a token on any other route 401.
            None => {
                return Verdict {
                    outcome: CaseOutcome::Unauthenticated,
                    action: gate
                        .bundle()
                        .resolve(&case.method, &case.path)
                        .ok()
                        .map(|route| route.action),
                    policies: Vec::new(),
                    reason: Some("no token, and the route is not public".into()),
                };
            }
        },
    };
    let outcome = CaseOutcome::of(&decided);
    match decided {
        Ok((route, decision)) => {
            let mut policies = decision.policies;
            policies.sort();
            Verdict {
                outcome,
                action: Some(route.action),
                policies,
                reason: None,
            }
        }
        Err(err) => Verdict {
            outcome,
            action: None,
            policies: Vec::new(),
            reason: Some(err.to_string()),
        },
    }
}

/// A request the two bundles decide differently.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub case: Case,
    pub live: Verdict,
    pub staged: Verdict,
}

/// The requests decided by both bundles.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// How many requests were decided.
    pub cases: usize,
    /// Those whose outcome, action or deciding policies differ, in their order.
    pub changes: Vec<Change>,
}

/// Every case decided by `live` and by `staged`.
pub fn compare(live: &Gate, staged: &Gate, cases: &[Case], values: &RequestValues) -> Report {
    let changes = cases
        .iter()
        .filter_map(|case| {
            let (before, after) = (decide(live, case, values), decide(staged, case, values));
            let same = before.outcome == after.outcome
                && before.action == after.action
                && before.policies == after.policies;
            (!same).then(|| Change {
                case: case.clone(),
                live: before,
                staged: after,
            })
        })
        .collect();
    Report {
        cases: cases.len(),
        changes,
    }
}

fn policies(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_owned()
    } else {
        list.join(", ")
    }
}

fn action(verdict: &Verdict) -> &str {
    verdict.action.as_deref().unwrap_or("(no action)")
}

impl Report {
    /// The changes, a block each, then a summary line:
    ///
    /// ```text
    /// "user lists pets" GET /pets
    ///     get /pets: allow → deny
    ///     live:   avp-user-all-but-post-pets
    ///     staged: users-may-not-list-pets
    /// 41 cases: 1 changed (allow → deny 1), 40 unchanged
    /// ```
    pub fn text(&self) -> String {
        let mut text = String::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for change in &self.changes {
            let (live, staged) = (&change.live, &change.staged);
            let _ = writeln!(
                text,
                "\"{}\" {} {}",
                change.case.name, change.case.method, change.case.path
            );
            let actions = if live.action == staged.action {
                action(live).to_owned()
            } else {
                format!("{} → {}", action(live), action(staged))
            };
            let _ = writeln!(text, "    {actions}: {} → {}", live.outcome, staged.outcome);
            for (side, verdict) in [("live:  ", live), ("staged:", staged)] {
                let why = match &verdict.reason {
                    Some(reason) => reason.clone(),
                    None => policies(&verdict.policies),
                };
                let _ = writeln!(text, "    {side} {why}");
            }
            let kind = if live.outcome == staged.outcome {
                format!("{} with other policies or action", live.outcome)
            } else {
                format!("{} → {}", live.outcome, staged.outcome)
            };
            *counts.entry(kind).or_default() += 1;
        }
        let kinds = counts
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let changed = self.changes.len();
        let _ = if changed == 0 {
            writeln!(text, "{} cases: none changed", self.cases)
        } else {
            writeln!(
                text,
                "{} cases: {changed} changed ({kinds}), {} unchanged",
                self.cases,
                self.cases - changed
            )
        };
        text
    }
}
