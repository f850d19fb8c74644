//! The OpenID AuthZEN interop decision files (github.com/openid/authzen, `interop/`), run
//! against a [`Pdp`] as the working group's harnesses run them, and their results as a
//! markdown table. Pure: the caller reads the files and writes the table.
//!
//! A decision file is a JSON object whose `evaluation` (or, in the oldest Todo file,
//! `decisions`) array holds `{"request", "expected": <bool>}` cases for the Access
//! Evaluation API, and whose optional `evaluations` array holds `{"request", "expected":
//! [<decision>, ...]}` cases for the Access Evaluations API. As the harnesses do, a single
//! case passes when the response's `decision` equals `expected`, a batch case when the
//! response's `evaluations` array equals `expected` as JSON (context included).
//!
//! Each request goes through the same strict parsing an HTTP body does (it is serialized
//! and handed to [`Pdp::evaluation`] or [`Pdp::evaluations`]).

use super::Pdp;
use crate::strict_json;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Which API a case is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The Access Evaluation API.
    Evaluation,
    /// The Access Evaluations API.
    Evaluations,
}

impl Endpoint {
    /// `evaluation` or `evaluations`, the last segment of the default path.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Evaluation => "evaluation",
            Self::Evaluations => "evaluations",
        }
    }
}

/// One case of a decision file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The API it is for.
    pub endpoint: Endpoint,
    /// The request body, as the file has it.
    pub request: Value,
    /// The expected `decision` (a boolean) or `evaluations` (an array).
    pub expected: Value,
}

/// Why a decision file was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecisionFileError {
    /// Not JSON, or JSON with duplicate member names.
    #[error("the decision file is not valid JSON: {0}")]
    Json(String),
    /// JSON of another shape.
    #[error("the decision file is not of the interop shape: {0}")]
    Shape(String),
}

/// Reads a decision file's cases, single evaluations first (in file order), then batches.
pub fn decision_cases(text: &str) -> Result<Vec<Case>, DecisionFileError> {
    let value = strict_json::from_slice(text.as_bytes())
        .map_err(|err| DecisionFileError::Json(err.to_string()))?;
    let Value::Object(top) = value else {
        return Err(DecisionFileError::Shape("not an object".into()));
    };
    let mut cases = Vec::new();
    for key in ["decisions", "evaluation", "evaluations"] {
        let Some(list) = top.get(key) else { continue };
        let Value::Array(items) = list else {
            return Err(DecisionFileError::Shape(format!("{key} is not an array")));
        };
        let endpoint = if key == "evaluations" {
            Endpoint::Evaluations
        } else {
            Endpoint::Evaluation
        };
        for (i, item) in items.iter().enumerate() {
            let shape = |what: &str| DecisionFileError::Shape(format!("{key}[{i}]: {what}"));
            let Value::Object(case) = item else {
                return Err(shape("not an object"));
            };
            if let Some(other) = case.keys().find(|k| *k != "request" && *k != "expected") {
                return Err(shape(&format!("unexpected member {other}")));
            }
            let request = case
                .get("request")
                .filter(|r| r.is_object())
                .ok_or_else(|| shape("no request object"))?;
            let expected = case
                .get("expected")
                .filter(|e| match endpoint {
                    Endpoint::Evaluation => e.is_boolean(),
                    Endpoint::Evaluations => e.is_array(),
                })
                .ok_or_else(|| shape("no expected value of the endpoint's type"))?;
            cases.push(Case {
                endpoint,
                request: request.clone(),
                expected: expected.clone(),
            });
        }
    }
    if let Some(other) = top
        .keys()
        .find(|k| !["decisions", "evaluation", "evaluations"].contains(&k.as_str()))
    {
        return Err(DecisionFileError::Shape(format!(
            "unexpected member {other}"
        )));
    }
    if cases.is_empty() {
        return Err(DecisionFileError::Shape("no cases".into()));
    }
    Ok(cases)
}

/// Rewrites a request of Authorization API 1.0 **draft 00**, where attributes sit beside
/// `type` and `id` (`{"type": "todo", "id": "1", "ownerID": "..."}`), into the 1.0 shape,
/// where they are in `properties`: for `subject`, `resource` and `action` (and the same
/// members of each `evaluations` item), every member other than `type`, `id`, `name` (for
/// the action) and `properties` moves into `properties`; a member `properties` already has
/// is kept as it is. Anything else is returned unchanged.
///
/// This adapter exists for the interop's oldest Todo decision file only. The decision
/// point itself reads 1.0 strictly: given a draft-00 request, it ignores the members
/// beside `type` and `id`, as 1.0 asks of unknown members.
pub fn draft_00_to_1_0(request: &Value) -> Value {
    let mut out = request.clone();
    if let Some(top) = out.as_object_mut() {
        adapt_members(top);
        if let Some(Value::Array(items)) = top.get_mut("evaluations") {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                adapt_members(item);
            }
        }
    }
    out
}

fn adapt_members(object: &mut Map<String, Value>) {
    for (member, keep) in [
        ("subject", &["type", "id", "properties"][..]),
        ("resource", &["type", "id", "properties"][..]),
        ("action", &["name", "properties"][..]),
    ] {
        let Some(Value::Object(entity)) = object.get_mut(member) else {
            continue;
        };
        let moved: Vec<String> = entity
            .keys()
            .filter(|k| !keep.contains(&k.as_str()))
            .cloned()
            .collect();
        if moved.is_empty() {
            continue;
        }
        let mut properties = match entity.remove("properties") {
            Some(Value::Object(p)) => p,
            Some(other) => {
                // Not an object: left for the decision point to refuse.
                entity.insert("properties".into(), other);
                continue;
            }
            None => Map::new(),
        };
        for key in moved {
            if let Some(value) = entity.remove(&key) {
                properties.entry(key).or_insert(value);
            }
        }
        entity.insert("properties".into(), Value::Object(properties));
    }
}

/// How a case came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The response matched `expected`.
    Pass,
    /// A response that does not match.
    Fail,
    /// No response: the request was refused.
    Error,
}

impl Status {
    /// `PASS`, `FAIL` or `ERROR`, as the harnesses print it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Error => "ERROR",
        }
    }
}

/// One case's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The API it was for.
    pub endpoint: Endpoint,
    /// The request as sent (after any adapter).
    pub request: Value,
    /// What was expected.
    pub expected: Value,
    /// What came back: the `decision` (single) or the `evaluations` array (batch), or why
    /// the request was refused.
    pub got: Result<Value, String>,
}

impl CaseResult {
    /// Pass, fail or error.
    pub fn status(&self) -> Status {
        match &self.got {
            Ok(got) if *got == self.expected => Status::Pass,
            Ok(_) => Status::Fail,
            Err(_) => Status::Error,
        }
    }
}

/// Runs every case against `pdp`, in order; `adapter` rewrites each request first (for the
/// draft-00 file, [`draft_00_to_1_0`]), `None` sends them as the file has them.
pub fn run(pdp: &Pdp, cases: &[Case], adapter: Option<fn(&Value) -> Value>) -> Vec<CaseResult> {
    run_with(cases, adapter, |endpoint, body| match endpoint {
        Endpoint::Evaluation => pdp
            .evaluation(body)
            .map_err(|e| e.to_string())
            .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())),
        Endpoint::Evaluations => pdp
            .evaluations(body)
            .map_err(|e| e.to_string())
            .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())),
    })
}

/// [`run`] against any decision point: `ask` sends a request body to an endpoint (a
/// [`Pdp`], or a worker over HTTP) and returns the response document, or why there is
/// none. An evaluation's result is its `decision`; a batch's, its `evaluations` array.
pub fn run_with(
    cases: &[Case],
    adapter: Option<fn(&Value) -> Value>,
    mut ask: impl FnMut(Endpoint, &[u8]) -> Result<Value, String>,
) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|case| {
            let request = adapter.map_or_else(|| case.request.clone(), |f| f(&case.request));
            let body = serde_json::to_vec(&request).unwrap_or_default();
            let got = ask(case.endpoint, &body).and_then(|answer| match case.endpoint {
                Endpoint::Evaluation => answer
                    .get("decision")
                    .filter(|d| d.is_boolean())
                    .cloned()
                    .ok_or_else(|| format!("no boolean decision in {answer}")),
                Endpoint::Evaluations => Ok(answer
                    .get("evaluations")
                    .cloned()
                    .unwrap_or_else(|| Value::Array(Vec::new()))),
            });
            CaseResult {
                endpoint: case.endpoint,
                request,
                expected: case.expected.clone(),
                got,
            }
        })
        .collect()
}

/// How many cases passed, failed and erred.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Cases that passed.
    pub pass: usize,
    /// Cases that failed.
    pub fail: usize,
    /// Cases whose request was refused.
    pub error: usize,
}

/// Counts the results.
pub fn tally(results: &[CaseResult]) -> Tally {
    let mut tally = Tally::default();
    for result in results {
        match result.status() {
            Status::Pass => tally.pass += 1,
            Status::Fail => tally.fail += 1,
            Status::Error => tally.error += 1,
        }
    }
    tally
}

/// The results as a markdown document, as the interop results pages show them: a heading
/// (`title`), the tally, and one table row per request with its endpoint, subject, action,
/// resource, what was expected, what came back and `PASS`, `FAIL` or `ERROR`. A batch's row
/// lists the default subject, action and resource, or each evaluation's when there is no
/// default.
pub fn results_table(title: &str, results: &[CaseResult]) -> String {
    let tally = tally(results);
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", cell(title));
    let _ = writeln!(
        out,
        "{} of {} PASS, {} FAIL, {} ERROR\n",
        tally.pass,
        results.len(),
        tally.fail,
        tally.error
    );
    out.push_str("| # | endpoint | subject | action | resource | expected | got | result |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for (i, result) in results.iter().enumerate() {
        let got = match &result.got {
            Ok(v) => compact(v),
            Err(e) => format!("error: {e}"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            result.endpoint.as_str(),
            cell(&member(&result.request, "subject", describe_entity)),
            cell(&member(&result.request, "action", describe_action)),
            cell(&member(&result.request, "resource", describe_entity)),
            cell(&compact(&result.expected)),
            cell(&got),
            result.status().as_str(),
        );
    }
    out
}

/// A member of the request, or of each evaluation when the request has no default.
fn member(request: &Value, key: &str, describe: fn(&Value) -> String) -> String {
    if let Some(value) = request.get(key) {
        return describe(value);
    }
    match request.get("evaluations") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.get(key).map_or_else(|| "(default)".into(), describe))
            .collect::<Vec<_>>()
            .join("<br>"),
        _ => String::new(),
    }
}

fn describe_entity(value: &Value) -> String {
    let text = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut out = format!("{} {}", text("type"), text("id"));
    if let Some(properties) = value.get("properties") {
        out.push(' ');
        out.push_str(&compact(properties));
    }
    out
}

fn describe_action(value: &Value) -> String {
    let mut out = value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(properties) = value.get("properties") {
        out.push(' ');
        out.push_str(&compact(properties));
    }
    out
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Text safe in a table cell: pipes escaped, line breaks as spaces.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
