//! The OpenID AuthZEN Authorization API 1.0 certification scenario
//! (`certification/authorization-api-1_0-scenario.md` of github.com/openid/authzen) as a
//! harness: every test of every level, written from the scenario's text, run through a
//! [`Transport`]: the core's `Pdp` natively (`shared/tests/authzen_cert.rs`), or HTTP against
//! the worker in workerd (`tests/tests/edge/authzen_cert.rs`). The decision point under test
//! must hold the scenario's fixture (`policies/authzen-cert`).
//!
//! The harness validates what the scenario says it validates: the structure of every
//! response, and decision values (and search results) only for the fixture's cases. A test of
//! the transport itself (content type, `X-Request-ID`) needs HTTP; a transport that is not
//! HTTP answers [`Transport::http`] false and those tests are [`Outcome::NotApplicable`].

use serde_json::{Value, json};

/// One of the decision point's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `POST /access/v1/evaluation`.
    Evaluation,
    /// `POST /access/v1/evaluations`.
    Evaluations,
    /// `POST /access/v1/search/subject`.
    SearchSubject,
    /// `POST /access/v1/search/resource`.
    SearchResource,
    /// `POST /access/v1/search/action`.
    SearchAction,
}

impl Api {
    /// The default path (§ c-6-6).
    pub fn path(self) -> &'static str {
        match self {
            Self::Evaluation => "/access/v1/evaluation",
            Self::Evaluations => "/access/v1/evaluations",
            Self::SearchSubject => "/access/v1/search/subject",
            Self::SearchResource => "/access/v1/search/resource",
            Self::SearchAction => "/access/v1/search/action",
        }
    }

    /// The metadata member naming it (§ c-6-3, c-6-4).
    pub fn metadata_member(self) -> &'static str {
        match self {
            Self::Evaluation => "access_evaluation_endpoint",
            Self::Evaluations => "access_evaluations_endpoint",
            Self::SearchSubject => "search_subject_endpoint",
            Self::SearchResource => "search_resource_endpoint",
            Self::SearchAction => "search_action_endpoint",
        }
    }

    /// All five.
    pub const ALL: [Api; 5] = [
        Api::Evaluation,
        Api::Evaluations,
        Api::SearchSubject,
        Api::SearchResource,
        Api::SearchAction,
    ];
}

/// A request: a body posted to an endpoint, with its content type (none when `None`) and
/// `X-Request-ID` (none when `None`).
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    /// The endpoint.
    pub api: Api,
    /// The body.
    pub body: &'a [u8],
    /// The `Content-Type`.
    pub content_type: Option<&'a str>,
    /// The `X-Request-ID`.
    pub request_id: Option<&'a str>,
}

/// What came back.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: Option<String>,
    /// The `X-Request-ID` values (several if the answer repeated the header).
    pub request_ids: Vec<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// How the harness reaches the decision point.
pub trait Transport {
    /// Whether requests go over HTTP, so that content types and headers are the decision
    /// point's own.
    fn http(&self) -> bool;
    /// Posts a request.
    fn send(&mut self, sent: Sent<'_>) -> Result<Reply, String>;
    /// `GET` of the metadata document (`/.well-known/authzen-configuration`).
    fn metadata(&mut self) -> Result<Reply, String>;
    /// The base URL the decision point is identified by (`policy_decision_point`).
    fn base_url(&self) -> String;
}

/// A certification level and sub-level (§ "Certification Levels").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Basic, Core.
    BasicCore,
    /// Basic, Properties.
    BasicProperties,
    /// Batch, Core.
    BatchCore,
    /// Batch, Properties.
    BatchProperties,
    /// Search, Core.
    SearchCore,
    /// Search, Properties.
    SearchProperties,
    /// Discovery.
    Discovery,
    /// The transport requirements (c-5), which apply to every level.
    Transport,
}

impl Level {
    /// Every level, in the scenario's order.
    pub const ALL: [Level; 8] = [
        Level::BasicCore,
        Level::BasicProperties,
        Level::BatchCore,
        Level::BatchProperties,
        Level::SearchCore,
        Level::SearchProperties,
        Level::Discovery,
        Level::Transport,
    ];

    /// The level's and sub-level's names, as the scenario's table gives them.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::BasicCore => ("Basic", "Core"),
            Self::BasicProperties => ("Basic", "Properties"),
            Self::BatchCore => ("Batch", "Core"),
            Self::BatchProperties => ("Batch", "Properties"),
            Self::SearchCore => ("Search", "Core"),
            Self::SearchProperties => ("Search", "Properties"),
            Self::Discovery => ("Discovery", "—"),
            Self::Transport => ("Transport (all levels)", "—"),
        }
    }
}

/// How one test came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Pass,
    /// A check failed: what.
    Fail(String),
    /// The test is about HTTP and the transport is not.
    NotApplicable,
}

/// One test's result.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// The scenario's id (`c-2-2-1`).
    pub id: &'static str,
    /// Its level.
    pub level: Level,
    /// The outcome.
    pub outcome: Outcome,
}

type Run = fn(&mut dyn Transport) -> Result<(), String>;

/// The scenario's tests: id, level, whether it needs HTTP, the test.
const TESTS: &[(&str, Level, bool, Run)] = &[
    ("c-2-2-1", Level::BasicCore, false, c_2_2_1),
    ("c-2-2-2", Level::BasicCore, false, c_2_2_2),
    ("c-2-2-3", Level::BasicCore, false, c_2_2_3),
    ("c-2-2-8", Level::BasicCore, false, c_2_2_8),
    ("c-2-2-9", Level::BasicCore, false, c_2_2_9),
    ("c-2-3", Level::BasicCore, false, c_2_3),
    ("c-2-4-1", Level::BasicCore, false, c_2_4_1),
    ("c-2-4-2", Level::BasicCore, false, c_2_4_2),
    ("c-2-4-3", Level::BasicCore, true, c_2_4_3),
    ("c-2-4-4", Level::BasicCore, false, c_2_4_4),
    ("c-2-4-5", Level::BasicCore, false, c_2_4_5),
    ("c-2-4-6", Level::BasicCore, false, c_2_4_6),
    ("c-2-5-1", Level::BasicCore, true, c_2_5_1),
    ("c-2-5-2", Level::BasicCore, false, c_2_5_2),
    ("c-2-6", Level::BasicCore, false, c_2_6),
    ("c-2-2-4", Level::BasicProperties, false, c_2_2_4),
    ("c-2-2-5", Level::BasicProperties, false, c_2_2_5),
    ("c-2-2-6", Level::BasicProperties, false, c_2_2_6),
    ("c-2-2-7", Level::BasicProperties, false, c_2_2_7),
    ("c-3-2-1", Level::BatchCore, false, c_3_2_1),
    ("c-3-2-2", Level::BatchCore, false, c_3_2_2),
    ("c-3-2-5", Level::BatchCore, false, c_3_2_5),
    ("c-3-2-6", Level::BatchCore, false, c_3_2_6),
    ("c-3-3", Level::BatchCore, false, c_3_3),
    ("c-3-4-1", Level::BatchCore, false, c_3_4_1),
    ("c-3-4-2", Level::BatchCore, false, c_3_4_2),
    ("c-3-4-3", Level::BatchCore, false, c_3_4_3),
    ("c-3-2-3", Level::BatchProperties, false, c_3_2_3),
    ("c-3-2-4", Level::BatchProperties, false, c_3_2_4),
    ("c-3-2-7", Level::BatchProperties, false, c_3_2_7),
    ("c-4-2-1", Level::SearchCore, false, c_4_2_1),
    ("c-4-2-2", Level::SearchCore, false, c_4_2_2),
    ("c-4-2-3", Level::SearchCore, false, c_4_2_3),
    ("c-4-3-1", Level::SearchCore, false, c_4_3_1),
    ("c-4-3-2", Level::SearchCore, false, c_4_3_2),
    ("c-4-3-3", Level::SearchCore, false, c_4_3_3),
    ("c-4-4-1", Level::SearchCore, false, c_4_4_1),
    ("c-4-4-2", Level::SearchCore, false, c_4_4_2),
    ("c-4-5", Level::SearchCore, false, c_4_5),
    ("c-4-6-1", Level::SearchCore, false, c_4_6_1),
    ("c-4-6-2", Level::SearchCore, false, c_4_6_2),
    ("c-4-7-1", Level::SearchCore, false, c_4_7_1),
    ("c-4-7-2", Level::SearchCore, false, c_4_7_2),
    ("c-4-2-4", Level::SearchProperties, false, c_4_2_4),
    ("c-4-3-4", Level::SearchProperties, false, c_4_3_4),
    ("c-4-4-3", Level::SearchProperties, false, c_4_4_3),
    ("c-6", Level::Discovery, false, c_6),
    ("c-5", Level::Transport, true, c_5),
];

/// Runs every test through `transport`, in the scenario's order.
pub fn run(transport: &mut dyn Transport) -> Vec<TestResult> {
    TESTS
        .iter()
        .map(|(id, level, needs_http, test)| {
            let outcome = if *needs_http && !transport.http() {
                Outcome::NotApplicable
            } else {
                match test(transport) {
                    Ok(()) => Outcome::Pass,
                    Err(why) => Outcome::Fail(why),
                }
            };
            TestResult {
                id,
                level: *level,
                outcome,
            }
        })
        .collect()
}

/// The results as a Markdown table, one row per level (passed, failed, not applicable),
/// then the failures.
pub fn table(title: &str, results: &[TestResult]) -> String {
    let mut out =
        format!("# {title}\n\n| Level | Sub-level | Tests | Result |\n|---|---|---|---|\n");
    for level in Level::ALL {
        let of: Vec<&TestResult> = results.iter().filter(|r| r.level == level).collect();
        let passed = of.iter().filter(|r| r.outcome == Outcome::Pass).count();
        let failed = of
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .count();
        let skipped = of.len() - passed - failed;
        let result = if failed > 0 {
            format!("FAIL ({failed} of {})", of.len())
        } else if skipped > 0 {
            format!("PASS ({passed}; {skipped} need HTTP)")
        } else {
            format!("PASS ({passed})")
        };
        let ids: Vec<&str> = of.iter().map(|r| r.id).collect();
        let (name, sub) = level.names();
        out.push_str(&format!(
            "| {name} | {sub} | {} | {result} |\n",
            ids.join(", ")
        ));
    }
    for r in results {
        if let Outcome::Fail(why) = &r.outcome {
            out.push_str(&format!("\n- {} FAIL: {why}", r.id));
        }
    }
    out.push('\n');
    out
}

// Requests and checks.

fn post(t: &mut dyn Transport, api: Api, body: &Value) -> Result<Reply, String> {
    let text = body.to_string();
    t.send(Sent {
        api,
        body: text.as_bytes(),
        content_type: Some("application/json"),
        request_id: None,
    })
}

/// A 200 with a JSON object body (and, over HTTP, `Content-Type: application/json`).
fn ok_json(t: &dyn Transport, reply: &Reply, what: &str) -> Result<Value, String> {
    if reply.status != 200 {
        return Err(format!(
            "{what}: status {} ({})",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ));
    }
    if t.http() {
        let media = reply.content_type.as_deref().unwrap_or_default();
        let essence = media.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(format!("{what}: content type {media:?}"));
        }
    }
    let value: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("{what}: the body is not JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("{what}: the body is not an object: {value}"));
    }
    Ok(value)
}

/// A decision object's `decision` (c-2-3): a boolean, with `context` an object if present.
fn decision_of(value: &Value, what: &str) -> Result<bool, String> {
    if let Some(context) = value.get("context")
        && !context.is_object()
    {
        return Err(format!("{what}: context is not an object: {value}"));
    }
    value
        .get("decision")
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("{what}: no boolean decision: {value}"))
}

/// An Access Evaluation's decision (`want`: the fixture's value, or `None` when only the
/// structure is validated).
fn evaluate(
    t: &mut dyn Transport,
    api: Api,
    body: &Value,
    want: Option<bool>,
    what: &str,
) -> Result<bool, String> {
    let reply = post(t, api, body)?;
    let value = ok_json(t, &reply, what)?;
    let decision = decision_of(&value, what)?;
    if let Some(want) = want
        && decision != want
    {
        return Err(format!(
            "{what}: decision {decision}, the fixture says {want}"
        ));
    }
    Ok(decision)
}

fn single(
    t: &mut dyn Transport,
    body: Value,
    want: Option<bool>,
    what: &str,
) -> Result<(), String> {
    evaluate(t, Api::Evaluation, &body, want, what).map(|_| ())
}

/// A batch's decisions (c-3-3): an `evaluations` array as long as the request's, each a
/// decision object; `want` the fixture's values where the scenario validates them.
fn batch(
    t: &mut dyn Transport,
    body: Value,
    want: &[Option<bool>],
    what: &str,
) -> Result<Vec<bool>, String> {
    let reply = post(t, Api::Evaluations, &body)?;
    let value = ok_json(t, &reply, what)?;
    let items = value
        .get("evaluations")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{what}: no evaluations array: {value}"))?;
    if items.len() != want.len() {
        return Err(format!(
            "{what}: {} evaluations answered for {} asked",
            items.len(),
            want.len()
        ));
    }
    let mut decisions = Vec::new();
    for (i, (item, want)) in items.iter().zip(want).enumerate() {
        let decision = decision_of(item, &format!("{what}: evaluation {i}"))?;
        if let Some(want) = want
            && decision != *want
        {
            return Err(format!(
                "{what}: evaluation {i} is {decision}, the fixture says {want}"
            ));
        }
        decisions.push(decision);
    }
    Ok(decisions)
}

/// A 400 for a body (sent as JSON).
fn refused(t: &mut dyn Transport, api: Api, body: &[u8], what: &str) -> Result<(), String> {
    let reply = t.send(Sent {
        api,
        body,
        content_type: Some("application/json"),
        request_id: None,
    })?;
    if reply.status == 400 {
        Ok(())
    } else {
        Err(format!(
            "{what}: status {}, not 400 ({})",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ))
    }
}

fn refused_json(t: &mut dyn Transport, api: Api, body: Value, what: &str) -> Result<(), String> {
    refused(t, api, body.to_string().as_bytes(), what)
}

/// A search response's results (c-4-2-1 and on): a `results` array of objects with `type`
/// (equal to `ty`) and `id`, or, for an Action Search (`ty` `None`), with `name`; `page`, if
/// present, an object whose `next_token` is a string. The ids or names, and the `page`.
fn search_page(
    t: &mut dyn Transport,
    api: Api,
    body: &Value,
    ty: Option<&str>,
    what: &str,
) -> Result<(Vec<String>, Option<Value>), String> {
    let reply = post(t, api, body)?;
    let value = ok_json(t, &reply, what)?;
    let results = value
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{what}: no results array: {value}"))?;
    let mut keys = Vec::new();
    for result in results {
        let key = match ty {
            Some(ty) => {
                if result.get("type").and_then(Value::as_str) != Some(ty) {
                    return Err(format!("{what}: a result not of type {ty}: {result}"));
                }
                result.get("id").and_then(Value::as_str)
            }
            None => result.get("name").and_then(Value::as_str),
        };
        keys.push(
            key.ok_or_else(|| format!("{what}: a result without its key: {result}"))?
                .to_owned(),
        );
    }
    let page = value.get("page").cloned();
    if let Some(page) = &page {
        if !page.is_object() {
            return Err(format!("{what}: page is not an object: {page}"));
        }
        if let Some(token) = page.get("next_token")
            && !token.is_string()
        {
            return Err(format!("{what}: page.next_token is not a string: {page}"));
        }
    }
    Ok((keys, page))
}

fn search(
    t: &mut dyn Transport,
    api: Api,
    body: Value,
    ty: Option<&str>,
    what: &str,
) -> Result<Vec<String>, String> {
    search_page(t, api, &body, ty, what).map(|(keys, _)| keys)
}

/// `found` includes every one of `wanted`.
fn includes(found: &[String], wanted: &[&str], what: &str) -> Result<(), String> {
    for w in wanted {
        if !found.iter().any(|f| f == w) {
            return Err(format!("{what}: {w} is not among the results {found:?}"));
        }
    }
    Ok(())
}

/// Two result sets are the same set.
fn same_set(a: &[String], b: &[String], what: &str) -> Result<(), String> {
    let mut x = a.to_vec();
    let mut y = b.to_vec();
    x.sort();
    y.sort();
    if x == y {
        Ok(())
    } else {
        Err(format!("{what}: {a:?} differs from {b:?}"))
    }
}

fn alice() -> Value {
    json!({"type": "user", "id": "alice"})
}

fn bob() -> Value {
    json!({"type": "user", "id": "bob"})
}

fn record(id: &str) -> Value {
    json!({"type": "record", "id": id})
}

fn act(name: &str) -> Value {
    json!({"name": name})
}

fn sample_context() -> Value {
    json!({"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"})
}

// Basic Core (c-2).

fn c_2_2_1(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        Some(true),
        "rule 1",
    )
}

fn c_2_2_2(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": bob(), "action": act("write"), "resource": record("record-1")}),
        Some(false),
        "rule 4",
    )
}

fn c_2_2_3(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1"),
               "context": sample_context()}),
        Some(true),
        "rule 1 with context",
    )
}

fn c_2_2_8(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({
            "subject": {"type": "user", "id": "alice",
                        "properties": {"department": "Sales", "role": "manager"}},
            "action": {"name": "read", "properties": {"method": "GET"}},
            "resource": {"type": "record", "id": "record-1",
                         "properties": {"status": "active", "owner": "bob"}}
        }),
        Some(true),
        "additional properties",
    )
}

fn c_2_2_9(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1"),
               "foo": "bar", "futureField": {"nested": true}}),
        Some(true),
        "unknown fields",
    )
}

fn c_2_3(t: &mut dyn Transport) -> Result<(), String> {
    // c-2-3-1 and c-2-3-2: a boolean decision and, if any, an object context, on a permit
    // and on a deny.
    single(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        None,
        "permit",
    )?;
    single(
        t,
        json!({"subject": bob(), "action": act("write"), "resource": record("record-1")}),
        None,
        "deny",
    )
}

fn c_2_4_1(t: &mut dyn Transport) -> Result<(), String> {
    refused_json(
        t,
        Api::Evaluation,
        json!({"action": act("read"), "resource": record("record-1")}),
        "missing subject",
    )?;
    refused_json(
        t,
        Api::Evaluation,
        json!({"subject": alice(), "resource": record("record-1")}),
        "missing action",
    )?;
    refused_json(
        t,
        Api::Evaluation,
        json!({"subject": alice(), "action": act("read")}),
        "missing resource",
    )
}

fn c_2_4_2(t: &mut dyn Transport) -> Result<(), String> {
    let cases = [
        (
            json!({"subject": {"id": "alice"}, "action": act("read"), "resource": record("record-1")}),
            "subject missing type",
        ),
        (
            json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("record-1")}),
            "subject missing id",
        ),
        (
            json!({"subject": alice(), "action": {}, "resource": record("record-1")}),
            "action missing name",
        ),
        (
            json!({"subject": alice(), "action": act("read"), "resource": {"id": "record-1"}}),
            "resource missing type",
        ),
        (
            json!({"subject": alice(), "action": act("read"), "resource": {"type": "record"}}),
            "resource missing id",
        ),
    ];
    for (body, what) in cases {
        refused_json(t, Api::Evaluation, body, what)?;
    }
    Ok(())
}

fn c_2_4_3(t: &mut dyn Transport) -> Result<(), String> {
    let body = json!({"subject": alice(), "action": act("read"), "resource": record("record-1")})
        .to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let reply = t.send(Sent {
            api: Api::Evaluation,
            body: body.as_bytes(),
            content_type,
            request_id: None,
        })?;
        if reply.status != 400 {
            return Err(format!(
                "content type {content_type:?}: status {}, not 400",
                reply.status
            ));
        }
    }
    Ok(())
}

fn c_2_4_4(t: &mut dyn Transport) -> Result<(), String> {
    refused(
        t,
        Api::Evaluation,
        br#"{"subject": {"type": "user", "id": "#,
        "malformed JSON",
    )
}

fn c_2_4_5(t: &mut dyn Transport) -> Result<(), String> {
    refused(t, Api::Evaluation, b"", "empty body")
}

fn c_2_4_6(t: &mut dyn Transport) -> Result<(), String> {
    refused_json(
        t,
        Api::Evaluation,
        json!({"subject": "alice", "action": act("read"), "resource": record("record-1")}),
        "subject is a string",
    )?;
    refused_json(
        t,
        Api::Evaluation,
        json!({"subject": alice(), "action": {"name": 123}, "resource": record("record-1")}),
        "action.name is a number",
    )
}

fn c_2_5_1(t: &mut dyn Transport) -> Result<(), String> {
    let body = json!({"subject": alice(), "action": act("read"), "resource": record("record-1")})
        .to_string();
    let id = "cert-c-2-5-1-7f3a";
    let reply = t.send(Sent {
        api: Api::Evaluation,
        body: body.as_bytes(),
        content_type: Some("application/json"),
        request_id: Some(id),
    })?;
    ok_json(t, &reply, "with X-Request-ID")?;
    if reply.request_ids != [id] {
        return Err(format!("X-Request-ID {:?}, sent {id:?}", reply.request_ids));
    }
    Ok(())
}

fn c_2_5_2(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        Some(true),
        "without X-Request-ID",
    )
}

fn c_2_6(t: &mut dyn Transport) -> Result<(), String> {
    for body in [
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        json!({"subject": bob(), "action": act("write"), "resource": record("record-1")}),
    ] {
        let first = evaluate(t, Api::Evaluation, &body, None, "first")?;
        for i in 1..5 {
            let again = evaluate(t, Api::Evaluation, &body, None, "again")?;
            if again != first {
                return Err(format!(
                    "request {i} of {body} decided {again}, the first {first}"
                ));
            }
        }
    }
    Ok(())
}

// Basic Properties.

fn c_2_2_4(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": act("write"),
               "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
        Some(false),
        "rule 5",
    )
}

fn c_2_2_5(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}},
               "action": act("write"),
               "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
        Some(true),
        "rule 6",
    )
}

fn c_2_2_6(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": {"name": "delete", "properties": {"soft": true}},
               "resource": record("record-1")}),
        Some(true),
        "rule 7",
    )
}

fn c_2_2_7(t: &mut dyn Transport) -> Result<(), String> {
    single(
        t,
        json!({"subject": alice(), "action": {"name": "delete", "properties": {"soft": false}},
               "resource": record("record-1")}),
        Some(false),
        "rule 8",
    )
}

// Batch Core (c-3).

fn c_3_2_1(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"subject": alice(), "action": act("read"),
               "evaluations": [{"resource": record("record-1")}, {"resource": record("record-2")}]}),
        &[None, None],
        "batch",
    )
    .map(|_| ())
}

fn c_3_2_2(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"subject": bob(), "resource": record("record-1"),
               "evaluations": [{"action": act("read")}, {"action": act("write")}]}),
        &[Some(true), Some(false)],
        "rules 3 and 4",
    )
    .map(|_| ())
}

fn c_3_2_5(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"evaluations": [
            {"subject": alice(), "action": act("read"), "resource": record("record-1")},
            {"subject": bob(), "action": act("write"), "resource": record("record-1")}
        ]}),
        &[Some(true), Some(false)],
        "no defaults",
    )
    .map(|_| ())
}

fn c_3_2_6(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"subject": alice(), "action": act("read"),
        "context": {"time": "2025-06-27T18:03-07:00"},
        "evaluations": [
            {"resource": record("record-1")},
            {"resource": record("record-2"),
             "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}}
        ]}),
        &[None, None],
        "context inheritance",
    )
    .map(|_| ())
}

fn c_3_3(t: &mut dyn Transport) -> Result<(), String> {
    // c-3-3-1 to c-3-3-3: as many answers as evaluations, in their order, each a decision
    // (permit, deny, permit, deny of the fixture's rules 1, 4, 3, 4).
    batch(
        t,
        json!({"resource": record("record-1"), "evaluations": [
            {"subject": alice(), "action": act("read")},
            {"subject": bob(), "action": act("write")},
            {"subject": bob(), "action": act("read")},
            {"subject": bob(), "action": act("write")}
        ]}),
        &[Some(true), Some(false), Some(true), Some(false)],
        "order",
    )
    .map(|_| ())
}

fn c_3_4_1(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"subject": alice(), "action": act("read"),
               "options": {"evaluations_semantic": "execute_all"},
               "evaluations": [{"resource": record("record-1")}, {}]}),
        &[Some(true), Some(false)],
        "a failed evaluation",
    )
    .map(|_| ())
}

fn c_3_4_2(t: &mut dyn Transport) -> Result<(), String> {
    evaluate(
        t,
        Api::Evaluations,
        &json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        Some(true),
        "no evaluations",
    )
    .map(|_| ())
}

fn c_3_4_3(t: &mut dyn Transport) -> Result<(), String> {
    evaluate(
        t,
        Api::Evaluations,
        &json!({"subject": alice(), "action": act("read"), "resource": record("record-1"),
                "evaluations": []}),
        Some(true),
        "empty evaluations",
    )
    .map(|_| ())
}

// Batch Properties.

fn c_3_2_3(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"subject": alice(), "action": act("write"), "evaluations": [
            {"resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}}},
            {"resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}
        ]}),
        &[Some(true), Some(false)],
        "rules 2 and 5",
    )
    .map(|_| ())
}

fn c_3_2_4(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"action": act("write"),
        "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}},
        "evaluations": [
            {"subject": alice()},
            {"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}}}
        ]}),
        &[Some(false), Some(true)],
        "rules 5 and 6",
    )
    .map(|_| ())
}

fn c_3_2_7(t: &mut dyn Transport) -> Result<(), String> {
    batch(
        t,
        json!({"subject": alice(), "action": act("write"),
        "resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}},
        "evaluations": [
            {},
            {"resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}
        ]}),
        &[Some(true), Some(false)],
        "top-level defaults",
    )
    .map(|_| ())
}

// Search Core (c-4).

fn subject_search(t: &mut dyn Transport, body: Value, what: &str) -> Result<Vec<String>, String> {
    search(t, Api::SearchSubject, body, Some("user"), what)
}

fn resource_search(t: &mut dyn Transport, body: Value, what: &str) -> Result<Vec<String>, String> {
    search(t, Api::SearchResource, body, Some("record"), what)
}

fn action_search(t: &mut dyn Transport, body: Value, what: &str) -> Result<Vec<String>, String> {
    search(t, Api::SearchAction, body, None, what)
}

fn s1(t: &mut dyn Transport) -> Result<Vec<String>, String> {
    let found = subject_search(
        t,
        json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("record-1")}),
        "S1",
    )?;
    includes(&found, &["alice", "bob"], "S1")?;
    Ok(found)
}

fn c_4_2_1(t: &mut dyn Transport) -> Result<(), String> {
    s1(t).map(|_| ())
}

fn c_4_2_2(t: &mut dyn Transport) -> Result<(), String> {
    let plain = s1(t)?;
    let with = subject_search(
        t,
        json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("record-1"),
               "context": sample_context()}),
        "with context",
    )?;
    same_set(&with, &plain, "with context")
}

fn c_4_2_3(t: &mut dyn Transport) -> Result<(), String> {
    let plain = s1(t)?;
    let with = subject_search(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        "with subject.id",
    )?;
    same_set(&with, &plain, "with subject.id")
}

fn s2(t: &mut dyn Transport) -> Result<Vec<String>, String> {
    let found = resource_search(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": {"type": "record"}}),
        "S2",
    )?;
    includes(&found, &["record-1"], "S2")?;
    Ok(found)
}

fn c_4_3_1(t: &mut dyn Transport) -> Result<(), String> {
    s2(t).map(|_| ())
}

fn c_4_3_2(t: &mut dyn Transport) -> Result<(), String> {
    let plain = s2(t)?;
    let with = resource_search(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": {"type": "record"},
               "context": sample_context()}),
        "with context",
    )?;
    same_set(&with, &plain, "with context")
}

fn c_4_3_3(t: &mut dyn Transport) -> Result<(), String> {
    let plain = s2(t)?;
    let with = resource_search(
        t,
        json!({"subject": alice(), "action": act("read"), "resource": record("record-1")}),
        "with resource.id",
    )?;
    same_set(&with, &plain, "with resource.id")
}

fn s3(t: &mut dyn Transport) -> Result<Vec<String>, String> {
    let found = action_search(
        t,
        json!({"subject": alice(), "resource": record("record-1")}),
        "S3",
    )?;
    includes(&found, &["read", "write"], "S3")?;
    Ok(found)
}

fn c_4_4_1(t: &mut dyn Transport) -> Result<(), String> {
    s3(t).map(|_| ())
}

fn c_4_4_2(t: &mut dyn Transport) -> Result<(), String> {
    let plain = s3(t)?;
    let with = action_search(
        t,
        json!({"subject": alice(), "resource": record("record-1"), "context": sample_context()}),
        "with context",
    )?;
    same_set(&with, &plain, "with context")
}

fn c_4_5(t: &mut dyn Transport) -> Result<(), String> {
    // c-4-5-1: a limit is taken; c-4-5-2 and c-4-5-3: a token is followed, each page's
    // `page` is an object with a string `next_token`, empty on the last page. The pages
    // together are the unpaginated results.
    let question =
        json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("record-1")});
    let all = subject_search(t, question.clone(), "unpaginated")?;
    let mut body = question.clone();
    body["page"] = json!({"limit": 1});
    let (mut found, mut page) = search_page(t, Api::SearchSubject, &body, Some("user"), "limit 1")?;
    let mut pages = 1;
    loop {
        let token = match page.as_ref().and_then(|p| p.get("next_token")) {
            Some(Value::String(token)) if !token.is_empty() => token.clone(),
            _ => break,
        };
        pages += 1;
        if pages > all.len() + 1 {
            return Err(format!("more pages than results ({})", all.len()));
        }
        let mut next = question.clone();
        next["page"] = json!({"token": token, "limit": 1});
        let (more, next_page) =
            search_page(t, Api::SearchSubject, &next, Some("user"), "next page")?;
        let next_page =
            next_page.ok_or_else(|| "a response to a page token has no page".to_owned())?;
        if next_page
            .get("next_token")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(format!("page without next_token: {next_page}"));
        }
        found.extend(more);
        page = Some(next_page);
    }
    same_set(&found, &all, "the pages together")
}

fn c_4_6_1(t: &mut dyn Transport) -> Result<(), String> {
    let empty = |found: Vec<String>, what: &str| {
        if found.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: results {found:?}, not none"))
        }
    };
    empty(
        action_search(
            t,
            json!({"subject": {"type": "user", "id": "nonexistent-user"}, "resource": record("record-1")}),
            "action search",
        )?,
        "action search",
    )?;
    empty(
        subject_search(
            t,
            json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("nonexistent-record")}),
            "subject search",
        )?,
        "subject search",
    )?;
    empty(
        resource_search(
            t,
            json!({"subject": {"type": "user", "id": "nonexistent-user"}, "action": act("read"), "resource": {"type": "record"}}),
            "resource search",
        )?,
        "resource search",
    )
}

fn c_4_6_2(t: &mut dyn Transport) -> Result<(), String> {
    let cases = [
        (
            Api::SearchSubject,
            json!({"subject": {"type": "spaceship"}, "action": act("read"), "resource": record("record-1")}),
            Some("spaceship"),
        ),
        (
            Api::SearchResource,
            json!({"subject": alice(), "action": act("read"), "resource": {"type": "spaceship"}}),
            Some("spaceship"),
        ),
        (
            Api::SearchAction,
            json!({"subject": alice(), "resource": {"type": "spaceship", "id": "x"}}),
            None,
        ),
    ];
    for (api, body, ty) in cases {
        let found = search(t, api, body, ty, api.path())?;
        if !found.is_empty() {
            return Err(format!("{}: results {found:?}, not none", api.path()));
        }
    }
    Ok(())
}

fn c_4_7_1(t: &mut dyn Transport) -> Result<(), String> {
    refused_json(
        t,
        Api::SearchSubject,
        json!({"subject": {"type": "user"}, "resource": record("record-1")}),
        "subject search without action",
    )?;
    refused_json(
        t,
        Api::SearchResource,
        json!({"action": act("read"), "resource": {"type": "record"}}),
        "resource search without subject",
    )?;
    refused_json(
        t,
        Api::SearchAction,
        json!({"subject": alice()}),
        "action search without resource",
    )
}

fn c_4_7_2(t: &mut dyn Transport) -> Result<(), String> {
    let both_without_id =
        json!({"subject": {"type": "user"}, "action": act("read"), "resource": {"type": "record"}});
    refused_json(
        t,
        Api::SearchSubject,
        both_without_id.clone(),
        "subject search, resource without id",
    )?;
    refused_json(
        t,
        Api::SearchResource,
        both_without_id,
        "resource search, subject without id",
    )?;
    refused_json(
        t,
        Api::SearchAction,
        json!({"subject": {"type": "user"}, "resource": record("record-1")}),
        "action search, subject without id",
    )
}

// Search Properties.

fn c_4_2_4(t: &mut dyn Transport) -> Result<(), String> {
    let found = subject_search(
        t,
        json!({"subject": {"type": "user"}, "action": act("write"),
               "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
        "S4",
    )?;
    includes(&found, &["bob"], "S4")
}

fn c_4_3_4(t: &mut dyn Transport) -> Result<(), String> {
    let found = resource_search(
        t,
        json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}},
               "action": act("write"), "resource": {"type": "record"}}),
        "S5",
    )?;
    includes(&found, &["record-2"], "S5")
}

fn c_4_4_3(t: &mut dyn Transport) -> Result<(), String> {
    let found = action_search(
        t,
        json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}},
               "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
        "S6",
    )?;
    includes(&found, &["write"], "S6")
}

// Discovery (c-6).

fn https_url(value: &Value, what: &str) -> Result<String, String> {
    let url = value
        .as_str()
        .ok_or_else(|| format!("{what} is not a string: {value}"))?;
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("{what} is not an https URL: {url}"))?;
    if rest.is_empty() || rest.starts_with('/') || url.contains(['?', '#', ' ']) {
        return Err(format!("{what} is not a valid https URL: {url}"));
    }
    Ok(url.to_owned())
}

fn c_6(t: &mut dyn Transport) -> Result<(), String> {
    let reply = t.metadata()?;
    if reply.status != 200 {
        return Err(format!("metadata: status {}", reply.status));
    }
    let media = reply.content_type.as_deref().unwrap_or_default();
    if !media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("application/json")
    {
        return Err(format!("metadata: content type {media:?}"));
    }
    let document: Value =
        serde_json::from_slice(&reply.body).map_err(|e| format!("metadata: not JSON: {e}"))?;
    let base = t.base_url();
    if document
        .get("policy_decision_point")
        .and_then(Value::as_str)
        != Some(base.as_str())
    {
        return Err(format!(
            "metadata: policy_decision_point is not {base}: {document}"
        ));
    }
    https_url(&document["policy_decision_point"], "policy_decision_point")?;
    for api in Api::ALL {
        let member = api.metadata_member();
        match document.get(member) {
            None if api == Api::Evaluation => {
                return Err(format!("metadata: no {member}"));
            }
            None => {}
            Some(value) => {
                let url = https_url(value, member)?;
                // The harness asks at the default paths: the document must name them.
                if url != format!("{base}{}", api.path()) {
                    return Err(format!("metadata: {member} is {url}"));
                }
            }
        }
    }
    if let Some(capabilities) = document.get("capabilities")
        && !capabilities
            .as_array()
            .is_some_and(|c| c.iter().all(Value::is_string))
    {
        return Err("metadata: capabilities is not an array of strings".into());
    }
    if document.get("signed_metadata").is_some() {
        return Err("metadata: signed_metadata is not verified by this harness".into());
    }
    Ok(())
}

// Transport (c-5): every endpoint answers a success with `Content-Type: application/json`
// and echoes `X-Request-ID`; a missing required field is 400 and unknown fields are
// ignored on each.

fn c_5(t: &mut dyn Transport) -> Result<(), String> {
    let questions = [
        (
            Api::Evaluation,
            json!({"subject": alice(), "action": act("read"), "resource": record("record-1"), "x-unknown": 1}),
            json!({"action": act("read"), "resource": record("record-1")}),
        ),
        (
            Api::Evaluations,
            json!({"subject": alice(), "action": act("read"), "x-unknown": 1,
                   "evaluations": [{"resource": record("record-1")}]}),
            // Without evaluations, the top level is one evaluation (c-3-4-2): no subject.
            json!({"action": act("read"), "resource": record("record-1")}),
        ),
        (
            Api::SearchSubject,
            json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("record-1"), "x-unknown": 1}),
            json!({"subject": {"type": "user"}, "action": act("read")}),
        ),
        (
            Api::SearchResource,
            json!({"subject": alice(), "action": act("read"), "resource": {"type": "record"}, "x-unknown": 1}),
            json!({"subject": alice(), "resource": {"type": "record"}}),
        ),
        (
            Api::SearchAction,
            json!({"subject": alice(), "resource": record("record-1"), "x-unknown": 1}),
            json!({"resource": record("record-1")}),
        ),
    ];
    for (i, (api, good, missing)) in questions.into_iter().enumerate() {
        let id = format!("cert-c-5-{i}");
        let text = good.to_string();
        let reply = t.send(Sent {
            api,
            body: text.as_bytes(),
            content_type: Some("application/json; charset=utf-8"),
            request_id: Some(&id),
        })?;
        ok_json(t, &reply, api.path())?;
        if reply.request_ids != [id.clone()] {
            return Err(format!(
                "{}: X-Request-ID {:?}, sent {id:?}",
                api.path(),
                reply.request_ids
            ));
        }
        let text = missing.to_string();
        let reply = t.send(Sent {
            api,
            body: text.as_bytes(),
            content_type: Some("application/json"),
            request_id: Some(&id),
        })?;
        if reply.status != 400 || reply.request_ids != [id.clone()] {
            return Err(format!(
                "{}: a missing field is {} with X-Request-ID {:?}",
                api.path(),
                reply.status,
                reply.request_ids
            ));
        }
    }
    Ok(())
}

/// The search interop scenario's expected results (`tests/authzen/search/*-results.json`,
/// `{"evaluation": [{"request", "expected": {"results"}}]}`), each request handed to `ask`
/// and its answer's `results` compared with the expected ones as the working group's
/// harness compares them: the same set, exactly. The number of cases, the failures and a
/// PASS/FAIL table titled `name`.
pub fn search_interop(
    name: &str,
    text: &str,
    mut ask: impl FnMut(&[u8]) -> Result<Value, String>,
) -> (usize, Vec<String>, String) {
    let as_set = |results: &Value| {
        let mut out: Vec<String> = results
            .as_array()
            .map(|items| items.iter().map(Value::to_string).collect())
            .unwrap_or_default();
        out.sort();
        out
    };
    let file: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let cases = file["evaluation"].as_array().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    let mut table = format!("# {name}\n\n| # | request | result |\n|---|---|---|\n");
    for (i, case) in cases.iter().enumerate() {
        let request = case["request"].to_string();
        let verdict = match ask(request.as_bytes()) {
            Ok(answer) if as_set(&answer["results"]) == as_set(&case["expected"]["results"]) => {
                "PASS"
            }
            Ok(answer) => {
                failures.push(format!(
                    "{request}: {answer}, expected {}",
                    case["expected"]
                ));
                "FAIL"
            }
            Err(err) => {
                failures.push(format!("{request}: {err}"));
                "ERROR"
            }
        };
        table.push_str(&format!("| {} | `{request}` | {verdict} |\n", i + 1));
    }
    (cases.len(), failures, table)
}
