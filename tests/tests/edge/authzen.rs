//! The AuthZEN 1.0 endpoints (`target/edge-authzen`: the interop Todo bundle
//! `policies/authzen-todo` with its entity data and type mapping compiled in): the OpenID
//! interop decision files asked over HTTP, who may ask, metadata, errors.

use super::*;
use cedargate::authzen::interop::{self, Endpoint};
use cedargate_tests::pingone::LocalProvider;

const BASE_URL: &str = "https://todo-pdp.e2e.test";
/// A decision file: its name, its text, the adapter it needs and how many cases it has.
type DecisionFile = (
    &'static str,
    &'static str,
    Option<fn(&Value) -> Value>,
    usize,
);
const RICK: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";

pub struct Pdp {
    _provider: LocalProvider,
    _origin: EchoOrigin,
    w: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Pdp>] = checks![
    the_interop_decision_files_hold_at_the_edge,
    the_gateway_decisions_are_enforced_on_the_todo_api,
    the_bundle_endpoint_tells_each_person_their_own_data,
    only_services_with_the_evaluate_scope_may_ask,
    the_metadata_is_public_and_names_the_endpoints,
    bad_questions_are_400_with_a_reason_and_request_ids_are_echoed,
    only_json_bodies_are_taken_on_every_endpoint,
    every_answer_of_the_decision_point_carries_the_request_id,
    // Last: it changes the bundle in force.
    a_newer_bundle_from_kv_brings_its_entity_data_to_routes_and_questions,
];

pub fn start() -> Result<Pdp, String> {
    let main = built_worker("edge-authzen")?;
    let provider = LocalProvider::start("env-authzen", API)?;
    let issuer = provider.issuer().to_owned();
    let origin = EchoOrigin::start()?;
    let mut config = authzen_config(&issuer, &origin, BASE_URL);
    config["bundle_endpoint"] = json!(true);
    config["bundle_kv"] =
        json!({ "binding": "CEDARGATE_BUNDLES", "refresh_seconds": 1, "serve_built_in": true });
    // KV holds nothing the worker takes until the last check puts a newer bundle there:
    // the built-in bundle decides until then, as configured.
    let mut extra = kv_namespace("cedargate-e2e-authzen");
    extra["main"] = json!(main);
    let dir = cedargate_tests::work_dir("edge-authzen");
    std::fs::write(
        dir.join("wrangler.json"),
        json!({ "name": "cedargate-edge-authzen", "main": main,
                "compatibility_date": "2026-11-01", "kv_namespaces": extra["kv_namespaces"] })
        .to_string(),
    )
    .map_err(|e| e.to_string())?;
    Wrangler::kv_put(&dir, "CEDARGATE_BUNDLES", "current", "{}")?;
    let w = Wrangler::start_in(&dir, "edge-authzen", &config, &extra)?;
    Ok(Pdp {
        _provider: provider,
        _origin: origin,
        w,
        issuer,
    })
}

use super::access_token as token;

/// An enforcement point's client-credentials token.
fn pep(issuer: &str, scope: &str) -> String {
    token(
        issuer,
        json!({ "client_id": "todo-backend", "scope": scope }),
    )
}

fn ask(
    w: &Wrangler,
    path: &str,
    token: Option<&str>,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Result<Reply, String> {
    let auth = token.map(bearer);
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    headers.extend_from_slice(extra);
    http::send("POST", &w.url(path), &headers, Some(body))
}

/// A question to `path` with `content_type` (none when `None`) and `extra` headers.
fn ask_as(
    w: &Wrangler,
    path: &str,
    token: &str,
    body: &[u8],
    content_type: Option<&str>,
    extra: &[(&str, &str)],
) -> Result<Reply, String> {
    let auth = bearer(token);
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(content_type) = content_type {
        headers.push(("content-type", content_type));
    }
    headers.extend_from_slice(extra);
    http::send("POST", &w.url(path), &headers, Some(body))
}

/// A question each POST endpoint answers with 200 when it comes as JSON.
fn questions() -> [(&'static str, Vec<u8>); 3] {
    [
        ("/access/v1/evaluation", evaluation("GET")),
        (
            "/access/v1/evaluations",
            json!({
                "subject": {"type": "identity", "id": RICK},
                "resource": {"type": "route", "id": "/todos"},
                "evaluations": [{"action": {"name": "GET"}}, {"action": {"name": "DELETE"}}],
            })
            .to_string()
            .into_bytes(),
        ),
        (
            "/access/v1/search/action",
            json!({"subject": {"type": "identity", "id": RICK}, "resource": {"type": "route", "id": "/todos"}})
                .to_string()
                .into_bytes(),
        ),
    ]
}

fn evaluation(action: &str) -> Vec<u8> {
    json!({
        "subject": {"type": "identity", "id": RICK},
        "action": {"name": action},
        "resource": {"type": "route", "id": "/todos"}
    })
    .to_string()
    .into_bytes()
}

fn the_interop_decision_files_hold_at_the_edge(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let token = pep(issuer, "authzen:evaluate");
    let files: [DecisionFile; 3] = [
        (
            "todo-decisions",
            include_str!("../../authzen/interop/todo-decisions.json"),
            Some(interop::draft_00_to_1_0),
            40,
        ),
        (
            "todo-decisions-1_0-02",
            include_str!("../../authzen/interop/todo-decisions-1_0-02.json"),
            None,
            43,
        ),
        (
            "gateway-decisions",
            include_str!("../../authzen/interop/gateway-decisions.json"),
            None,
            25,
        ),
    ];
    let dir = cedargate_tests::root().join("target/authzen");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, text, adapter, count) in files {
        let cases = interop::decision_cases(text).map_err(|e| e.to_string())?;
        let results = interop::run_with(&cases, adapter, |endpoint, body| {
            let path = match endpoint {
                Endpoint::Evaluation => "/access/v1/evaluation",
                Endpoint::Evaluations => "/access/v1/evaluations",
            };
            let reply = ask(w, path, Some(&token), body, &[])?;
            if reply.status != 200 {
                return Err(format!("{} {}", reply.status, reply.text()));
            }
            serde_json::from_slice(&reply.body).map_err(|e| e.to_string())
        });
        let table = interop::results_table(&format!("{name} (the worker in workerd)"), &results);
        std::fs::write(dir.join(format!("{name}-workerd.md")), &table)
            .map_err(|e| e.to_string())?;
        let tally = interop::tally(&results);
        same(
            (tally.pass, tally.fail, tally.error),
            (count, 0, 0),
            &format!("{name}: pass, fail, error (see target/authzen/{name}-workerd.md)"),
        )?;
    }
    Ok(())
}

/// The gateway decision file asked as the API's own requests: each case's subject signs
/// in (its access token's `sub`), calls the method on the route, and the worker forwards
/// or refuses it, the roles coming from the bundle's entity data.
fn the_gateway_decisions_are_enforced_on_the_todo_api(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let file: Value =
        serde_json::from_str(include_str!("../../authzen/interop/gateway-decisions.json"))
            .map_err(|e| e.to_string())?;
    let cases = file["evaluation"].as_array().ok_or("no evaluation list")?;
    same(cases.len(), 25, "gateway cases")?;
    let mut wrong = Vec::new();
    for case in cases {
        let request = &case["request"];
        let (Some(subject), Some(method), Some(template), Some(expected)) = (
            request["subject"]["id"].as_str(),
            request["action"]["name"].as_str(),
            request["resource"]["id"].as_str(),
            case["expected"].as_bool(),
        ) else {
            return Err(format!("a case of unexpected shape: {case}"));
        };
        let path = template
            .replace("{userId}", "rick%40the-citadel.com")
            .replace("{todoId}", "7");
        let person = token(issuer, json!({ "sub": subject, "client_id": "todo-spa" }));
        let reply = call(w, method, &path, Some(&person))?;
        let want = if expected { 200 } else { 403 };
        if reply.status != want {
            wrong.push(format!(
                "{method} {path} as {subject}: {} not {want}",
                reply.status
            ));
        }
    }
    ensure(wrong.is_empty(), || wrong.join("; "))
}

/// What a person learns of the entity data from the bundle endpoint: their own
/// entities and roles, enough for the app to predict their requests, and nobody else's.
fn the_bundle_endpoint_tells_each_person_their_own_data(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let ids = |sub: &str| -> Result<Vec<String>, String> {
        let person = token(issuer, json!({ "sub": sub, "client_id": "todo-spa" }));
        let reply = call(w, "GET", cedargate::wire::BUNDLE_PATH, Some(&person))?;
        same(reply.status, 200, "the bundle endpoint")?;
        let doc: cedargate::wire::BundleEndpoint =
            serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
        let held = doc.bundle().map_err(|e| e.to_string())?;
        same(
            held.text_version().to_string(),
            doc.text_version.clone(),
            "the text's version",
        )?;
        Ok(doc
            .entities
            .unwrap_or_default()
            .iter()
            .map(|e| e["uid"]["id"].as_str().unwrap_or("?").to_owned())
            .collect())
    };
    same(
        ids(RICK)?,
        vec![
            "admin".to_owned(),
            "evil_genius".into(),
            RICK.into(),
            "rick@the-citadel.com".into(),
        ],
        "Rick's data",
    )?;
    same(
        ids("beth@the-smiths.com")?,
        vec!["viewer".to_owned(), "beth@the-smiths.com".into()],
        "Beth's data",
    )?;
    same(
        ids("someone-else")?,
        Vec::<String>::new(),
        "a stranger's data",
    )
}

/// A newer bundle from KV (`cedargate bundle` of the Todo folder) carries its own entity
/// data: once it is in force, Beth is an editor for the worker's route decisions, for
/// the AuthZEN questions about her and in what the bundle endpoint tells her.
fn a_newer_bundle_from_kv_brings_its_entity_data_to_routes_and_questions(
    s: &Pdp,
) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let folder = cedargate_tests::root().join("policies/authzen-todo");
    let read =
        |name: &str| std::fs::read_to_string(folder.join(name)).map_err(|e| format!("{name}: {e}"));
    let source = cedargate::BundleSource {
        schema: read("schema.cedarschema")?,
        policies: read("policies.cedar")?,
        routes: read("routes.json")?,
    };
    let mut entities: Value =
        serde_json::from_str(&read("entities.json")?).map_err(|e| e.to_string())?;
    for entity in entities
        .as_array_mut()
        .ok_or("entities.json is not a list")?
    {
        if entity["uid"]["id"] == "beth@the-smiths.com" {
            entity["parents"] = json!([{ "type": "TodoApp::Role", "id": "editor" }]);
        }
    }
    let document = cedargate_tests::bundles::compiled(
        cedargate::BundleDocument::new(source, 1).with_entities(entities.to_string()),
    )?;
    let version = document
        .load()
        .map_err(|e| e.to_string())?
        .version()
        .to_string();
    let beth = token(
        issuer,
        json!({ "sub": "beth@the-smiths.com", "client_id": "todo-spa" }),
    );
    same(
        call(w, "POST", "/todos", Some(&beth))?.status,
        403,
        "Beth, a viewer",
    )?;
    let text = serde_json::to_string(&document).map_err(|e| e.to_string())?;
    Wrangler::kv_put(&w.dir, "CEDARGATE_BUNDLES", "current", &text)?;
    poll("the bundle from KV to take over", || {
        let reply = call(w, "POST", "/todos", Some(&beth))?;
        Ok(reply.status == 200
            && reply.header("x-cedargate-bundle-version") == Some(version.as_str()))
    })?;
    let question = json!({
        "subject": { "type": "user", "id": "beth@the-smiths.com" },
        "action": { "name": "POST" },
        "resource": { "type": "route", "id": "/todos" }
    })
    .to_string();
    let answer = ask(
        w,
        "/access/v1/evaluation",
        Some(&pep(issuer, "authzen:evaluate")),
        question.as_bytes(),
        &[],
    )?;
    same(
        answer.text(),
        r#"{"decision":true}"#.to_owned(),
        "the decision point",
    )?;
    let reply = call(w, "GET", cedargate::wire::BUNDLE_PATH, Some(&beth))?;
    let doc: cedargate::wire::BundleEndpoint =
        serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
    let ids: Vec<String> = doc
        .entities
        .unwrap_or_default()
        .iter()
        .map(|e| e["uid"]["id"].as_str().unwrap_or("?").to_owned())
        .collect();
    same(
        ids,
        vec!["editor".to_owned(), "beth@the-smiths.com".into()],
        "Beth's data",
    )
}

fn only_services_with_the_evaluate_scope_may_ask(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let body = evaluation("GET");
    let allowed = ask(
        w,
        "/access/v1/evaluation",
        Some(&pep(issuer, "authzen:evaluate")),
        &body,
        &[],
    )?;
    same(allowed.status, 200, "a service with authzen:evaluate")?;
    same(
        allowed.text(),
        r#"{"decision":true}"#.to_owned(),
        "its answer",
    )?;
    // A service without the scope, and a person (Rick himself, an admin), may not ask.
    let other = pep(issuer, "todos:read");
    let rick = token(
        issuer,
        json!({ "sub": RICK, "client_id": "todo-spa", "scope": "authzen:evaluate" }),
    );
    for (who, token) in [("a service without the scope", &other), ("a person", &rick)] {
        for path in [
            "/access/v1/evaluation",
            "/access/v1/evaluations",
            "/access/v1/search/action",
        ] {
            let reply = ask(w, path, Some(token), &body, &[])?;
            same(reply.status, 403, &format!("{who} on {path}"))?;
            ensure(!reply.text().contains("decision"), || {
                format!("{who} learned a decision")
            })?;
        }
    }
    // No token: the bearer challenge.
    let none = ask(w, "/access/v1/evaluation", None, &body, &[])?;
    same(none.status, 401, "no token")?;
    ensure(
        none.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        || format!("challenge {:?}", none.header("www-authenticate")),
    )?;
    // Action search is the allowed-actions matrix for the subject: Rick may use every route.
    let search = ask(
        w,
        "/access/v1/search/action",
        Some(&pep(issuer, "authzen:evaluate")),
        json!({"subject": {"type": "identity", "id": RICK}, "resource": {"type": "route", "id": "/todos"}})
            .to_string()
            .as_bytes(),
        &[],
    )?;
    same(search.status, 200, "action search")?;
    let names: Vec<String> = search.json()["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|a| a["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ensure(!names.is_empty(), || {
        format!("action search found nothing: {}", search.text())
    })?;
    Ok(())
}

fn the_metadata_is_public_and_names_the_endpoints(s: &Pdp) -> Result<(), String> {
    let reply = http::send(
        "GET",
        &s.w.url("/.well-known/authzen-configuration"),
        &[],
        None,
    )?;
    same(reply.status, 200, "metadata")?;
    let doc = reply.json();
    same(
        doc["policy_decision_point"].as_str(),
        Some(BASE_URL),
        "policy_decision_point",
    )?;
    same(
        doc["access_evaluation_endpoint"]
            .as_str()
            .map(str::to_owned),
        Some(format!("{BASE_URL}/access/v1/evaluation")),
        "access_evaluation_endpoint",
    )?;
    same(
        doc["access_evaluations_endpoint"]
            .as_str()
            .map(str::to_owned),
        Some(format!("{BASE_URL}/access/v1/evaluations")),
        "access_evaluations_endpoint",
    )?;
    Ok(())
}

fn bad_questions_are_400_with_a_reason_and_request_ids_are_echoed(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let token = pep(issuer, "authzen:evaluate");
    let id = [("x-request-id", "pep-42")];
    let ok = ask(
        w,
        "/access/v1/evaluation",
        Some(&token),
        &evaluation("GET"),
        &id,
    )?;
    same(
        ok.header("x-request-id"),
        Some("pep-42"),
        "echoed on a decision",
    )?;
    let unknown = ask(
        w,
        "/access/v1/evaluation",
        Some(&token),
        &evaluation("PATCH"),
        &id,
    )?;
    same(unknown.status, 400, "an unknown action")?;
    same(
        unknown.header("x-request-id"),
        Some("pep-42"),
        "echoed on an error",
    )?;
    ensure(
        unknown
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        || format!("content type {:?}", unknown.header("content-type")),
    )?;
    let duplicate = br#"{"subject": {"type": "identity", "id": "a", "id": "b"}, "action": {"name": "GET"}, "resource": {"type": "route", "id": "/todos"}}"#;
    same(
        ask(w, "/access/v1/evaluation", Some(&token), duplicate, &[])?.status,
        400,
        "duplicate members",
    )?;
    let many = json!({
        "subject": {"type": "identity", "id": RICK},
        "resource": {"type": "route", "id": "/todos"},
        "evaluations": vec![json!({"action": {"name": "GET"}}); 65],
    });
    same(
        ask(
            w,
            "/access/v1/evaluations",
            Some(&token),
            many.to_string().as_bytes(),
            &[],
        )?
        .status,
        400,
        "65 evaluations",
    )?;
    let huge = vec![b' '; 70_000];
    same(
        ask(w, "/access/v1/evaluation", Some(&token), &huge, &[])?.status,
        413,
        "a body over 64 KiB",
    )?;
    // Without a Content-Length the body is read only up to the bound: the answer comes
    // although the body never ends.
    let auth = bearer(&token);
    same(
        http::unfinished_chunked(
            w.port,
            "POST",
            "/access/v1/evaluation",
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            70_000,
            Duration::from_secs(10),
        )?,
        413,
        "a chunked body past 64 KiB that never ends",
    )?;
    Ok(())
}

/// AuthZEN 1.0 takes requests as `application/json` only: any other content type, or none,
/// is a 400 problem document on every endpoint, before the body is read; the media type's
/// parameters (a UTF-8 charset) and its case do not matter.
fn only_json_bodies_are_taken_on_every_endpoint(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let token = pep(issuer, "authzen:evaluate");
    for (path, body) in questions() {
        for taken in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=\"UTF-8\"",
        ] {
            let reply = ask_as(w, path, &token, &body, Some(taken), &[])?;
            same(reply.status, 200, &format!("{path} as {taken}"))?;
        }
        for refused in [
            Some("text/plain"),
            Some("text/plain; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonp"),
            Some("application/json-patch+json"),
            Some("application/json; charset=iso-8859-1"),
            Some(""),
            None,
        ] {
            let label = format!("{path} as {refused:?}");
            let reply = ask_as(
                w,
                path,
                &token,
                &body,
                refused,
                &[("x-request-id", "pep-7")],
            )?;
            same(reply.status, 400, &label)?;
            same(
                reply.header("content-type"),
                Some("application/problem+json"),
                &format!("{label}: content type"),
            )?;
            let problem = reply.json();
            same(
                problem["type"].as_str(),
                Some("urn:cedargate:problem:unsupported-media-type"),
                &format!("{label}: problem type"),
            )?;
            ensure(!reply.text().contains("decision"), || {
                format!("{label} was answered: {}", reply.text())
            })?;
            same(
                reply.header("x-request-id"),
                Some("pep-7"),
                &format!("{label}: x-request-id"),
            )?;
        }
    }
    Ok(())
}

/// Every answer about the decision point (decisions, its 400s, 401, 403, 413 and the
/// metadata) carries one `X-Request-ID`: the caller's, or the worker's own id when the
/// caller sent none or one that is refused.
fn every_answer_of_the_decision_point_carries_the_request_id(s: &Pdp) -> Result<(), String> {
    let Pdp { w, issuer, .. } = s;
    let token = pep(issuer, "authzen:evaluate");
    let other = pep(issuer, "todos:read");
    let json = Some("application/json");
    let long = "p".repeat(129);
    for (sent, echoed) in [
        (Some("pep-43"), true),
        (None, false),
        (Some(long.as_str()), false),
    ] {
        let id: Vec<(&str, &str)> = sent.map(|id| ("x-request-id", id)).into_iter().collect();
        let mut replies = Vec::new();
        for (path, body) in questions() {
            replies.push((
                format!("{path}: 200"),
                200,
                ask_as(w, path, &token, &body, json, &id)?,
            ));
            replies.push((
                format!("{path}: 400 content type"),
                400,
                ask_as(w, path, &token, &body, Some("text/plain"), &id)?,
            ));
            replies.push((
                format!("{path}: 400 broken json"),
                400,
                ask_as(w, path, &token, b"{", json, &id)?,
            ));
            replies.push((
                format!("{path}: 403"),
                403,
                ask_as(w, path, &other, &body, json, &id)?,
            ));
            replies.push((format!("{path}: 401"), 401, ask(w, path, None, &body, &id)?));
            replies.push((
                format!("{path}: 413"),
                413,
                ask_as(w, path, &token, &vec![b' '; 70_000], json, &id)?,
            ));
        }
        replies.push((
            "metadata".into(),
            200,
            http::send(
                "GET",
                &w.url("/.well-known/authzen-configuration"),
                &id,
                None,
            )?,
        ));
        for (what, status, reply) in replies {
            let label = format!("{what} with x-request-id {sent:?}");
            same(reply.status, status, &label)?;
            let own = reply
                .header("x-cedargate-request-id")
                .ok_or_else(|| format!("{label}: no x-cedargate-request-id"))?;
            let want = match sent {
                Some(sent) if echoed => sent,
                _ => own,
            };
            let values: Vec<&str> = reply
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
                .map(|(_, v)| v.as_str())
                .collect();
            same(values, vec![want], &format!("{label}: x-request-id"))?;
        }
    }
    Ok(())
}
