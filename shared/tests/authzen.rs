//! The AuthZEN Authorization API 1.0 decision point (`cedargate::authzen`): the interop
//! decision files of the OpenID AuthZEN working group (tests/authzen/interop/), batches and
//! their semantics, the errors, action search, the metadata document, the mapping file and
//! the bundle's entity data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::authzen::interop::{self, CaseResult, Endpoint, Status};
use cedargate::authzen::{
    ActionSearchError, AttributeError, BodyError, EvaluationError, EvaluationItem,
    EvaluationRequest, EvaluationsError, EvaluationsRequest, EvaluationsResponse, MAPPING_FILE,
    MAX_EVALUATIONS, MAX_REQUEST_BYTES, MappingFileError, MetadataError, Pdp, Reasons, metadata,
    well_known_url,
};
use cedargate::{Bundle, BundleError, BundleSource};
use serde_json::{Value, json};
use std::sync::OnceLock;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TODO_DECISIONS: &str = include_str!("../../tests/authzen/interop/todo-decisions.json");
const TODO_1_0_02_DECISIONS: &str =
    include_str!("../../tests/authzen/interop/todo-decisions-1_0-02.json");
const GATEWAY_DECISIONS: &str = include_str!("../../tests/authzen/interop/gateway-decisions.json");

const TODO_ENTITIES: &str = include_str!("../../policies/authzen-todo/entities.json");
const TODO_MAPPING: &str = include_str!("../../policies/authzen-todo/authzen.json");

const RICK_PID: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const MORTY_PID: &str = "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const BETH_PID: &str = "CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";

fn todo_source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/authzen-todo/schema.cedarschema").into(),
        policies: include_str!("../../policies/authzen-todo/policies.cedar").into(),
        routes: include_str!("../../policies/authzen-todo/routes.json").into(),
    }
}

fn todo_bundle() -> Bundle {
    Bundle::load_with_entities(&todo_source(), TODO_ENTITIES).unwrap()
}

fn todo() -> &'static Pdp {
    static PDP: OnceLock<Pdp> = OnceLock::new();
    PDP.get_or_init(|| Pdp::new(todo_bundle(), TODO_MAPPING).unwrap())
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn decide(pdp: &Pdp, request: Value) -> Result<bool, EvaluationError> {
    pdp.evaluation(&body(&request)).map(|r| r.decision)
}

fn todo_item(id: &str, owner: &str) -> Value {
    json!({"type": "todo", "id": id, "properties": {"ownerID": owner}})
}

/// Writes a results table where the native tests keep their reports.
fn write_report(_name: &str, _table: &str) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/authzen");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{_name}.md")), _table).unwrap();
    }
}

fn failures(results: &[CaseResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.status() != Status::Pass)
        .map(|r| format!("{}: expected {}, got {:?}", r.request, r.expected, r.got))
        .collect()
}

// The interop decision files.

#[test]
fn the_vendored_decision_files_have_the_expected_cases() {
    let todo = interop::decision_cases(TODO_DECISIONS).unwrap();
    assert_eq!(todo.len(), 40);
    assert!(todo.iter().all(|c| c.endpoint == Endpoint::Evaluation));
    let gateway = interop::decision_cases(GATEWAY_DECISIONS).unwrap();
    assert_eq!(gateway.len(), 25);
    let strict = interop::decision_cases(TODO_1_0_02_DECISIONS).unwrap();
    assert_eq!(strict.len(), 43);
    assert_eq!(
        strict
            .iter()
            .filter(|c| c.endpoint == Endpoint::Evaluations)
            .count(),
        3
    );
    // Both outcomes occur in every file: a decision point that always says one thing fails.
    for cases in [&todo, &gateway, &strict] {
        assert!(cases.iter().any(|c| c.expected == json!(true)));
        assert!(cases.iter().any(|c| c.expected == json!(false)));
    }
}

/// Runs every case of a decision file, writes its table, and checks that all of them pass.
fn passes_every_case(
    file: &str,
    report: &str,
    title: &str,
    adapter: Option<fn(&Value) -> Value>,
    count: usize,
) {
    let cases = interop::decision_cases(file).unwrap();
    let results = interop::run(todo(), &cases, adapter);
    let table = interop::results_table(title, &results);
    write_report(report, &table);
    assert_eq!(failures(&results), Vec::<String>::new());
    assert_eq!(interop::tally(&results).pass, count);
    assert_eq!(table.matches("| PASS |").count(), count);
}

#[test]
fn todo_draft_00_file_passes_through_the_adapter() {
    passes_every_case(
        TODO_DECISIONS,
        "todo-decisions",
        "AuthZEN Todo, draft 00 (adapted)",
        Some(interop::draft_00_to_1_0),
        40,
    );
}

#[test]
fn todo_draft_00_file_fails_without_the_adapter() {
    // Read as 1.0, a draft-00 request's `ownerID` beside `type` and `id` is an unknown member
    // and ignored: the four cases where an editor changes their own todo are then denied.
    let cases = interop::decision_cases(TODO_DECISIONS).unwrap();
    let results = interop::run(todo(), &cases, None);
    let tally = interop::tally(&results);
    assert_eq!((tally.pass, tally.fail, tally.error), (36, 4, 0));
    for failed in results.iter().filter(|r| r.status() == Status::Fail) {
        assert_eq!(failed.expected, json!(true));
        assert!(
            ["can_update_todo", "can_delete_todo"]
                .contains(&failed.request["action"]["name"].as_str().unwrap())
        );
        assert_eq!(
            failed.request["subject"]["id"].as_str().unwrap(),
            failed.request["resource"]["ownerID"].as_str().unwrap()
        );
    }
    let table = interop::results_table("strict", &results);
    assert_eq!(table.matches("| FAIL |").count(), 4);
}

#[test]
fn todo_1_0_02_file_passes_strictly() {
    passes_every_case(
        TODO_1_0_02_DECISIONS,
        "todo-decisions-1_0-02",
        "AuthZEN Todo, Authorization API 1.0 (02)",
        None,
        43,
    );
}

#[test]
fn gateway_file_passes_strictly() {
    passes_every_case(
        GATEWAY_DECISIONS,
        "gateway-decisions",
        "AuthZEN API gateway",
        None,
        25,
    );
}

#[test]
fn a_wrong_expectation_fails_and_a_refused_request_errs() {
    let mut cases = interop::decision_cases(GATEWAY_DECISIONS).unwrap();
    cases.truncate(3);
    cases[0].expected = json!(false);
    cases[1].request["resource"]["type"] = json!("spaceship");
    let results = interop::run(todo(), &cases, None);
    let statuses: Vec<Status> = results.iter().map(CaseResult::status).collect();
    assert_eq!(statuses, [Status::Fail, Status::Error, Status::Pass]);
    let table = interop::results_table("t|x", &results);
    assert!(table.starts_with("# t\\|x\n"), "{table}");
    assert!(table.contains("1 of 3 PASS, 1 FAIL, 1 ERROR"), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert!(rows[1].starts_with(&format!("| 1 | evaluation | identity {RICK_PID} | GET | route /users/{{userId}} | false | true | FAIL |")), "{}", rows[1]);
    assert!(
        rows[2].contains("| error: resource type \"spaceship\" is not known |"),
        "{}",
        rows[2]
    );
    assert!(rows[2].ends_with("| ERROR |"));
}

#[test]
fn the_adapter_moves_members_into_properties() {
    let draft = json!({
        "subject": {"type": "user", "id": "a", "identity": "pid"},
        "action": {"name": "can_x", "verb": "PUT"},
        "resource": {"type": "todo", "id": "1", "ownerID": "a", "properties": {"ownerID": "kept", "n": 1}},
        "context": {"time": 1},
        "evaluations": [{"resource": {"type": "todo", "id": "2", "ownerID": "b"}}]
    });
    assert_eq!(
        interop::draft_00_to_1_0(&draft),
        json!({
            "subject": {"type": "user", "id": "a", "properties": {"identity": "pid"}},
            "action": {"name": "can_x", "properties": {"verb": "PUT"}},
            "resource": {"type": "todo", "id": "1", "properties": {"ownerID": "kept", "n": 1}},
            "context": {"time": 1},
            "evaluations": [{"resource": {"type": "todo", "id": "2", "properties": {"ownerID": "b"}}}]
        })
    );
    // A 1.0 request is unchanged.
    let strict = json!({"subject": {"type": "user", "id": "a"}, "action": {"name": "x"}, "resource": {"type": "todo", "id": "1", "properties": {"ownerID": "a"}}});
    assert_eq!(interop::draft_00_to_1_0(&strict), strict);
    assert_eq!(interop::draft_00_to_1_0(&json!([1])), json!([1]));
}

#[test]
fn decision_files_of_another_shape_are_refused() {
    for text in [
        "[]",
        "{}",
        r#"{"evaluation": {}}"#,
        r#"{"evaluation": [{"request": {}, "expected": 1}]}"#,
        r#"{"evaluation": [{"request": {}, "expected": true, "x": 1}]}"#,
        r#"{"evaluations": [{"request": {}, "expected": true}]}"#,
        r#"{"evaluation": [], "other": []}"#,
    ] {
        assert!(
            matches!(
                interop::decision_cases(text),
                Err(interop::DecisionFileError::Shape(_))
            ),
            "{text}"
        );
    }
    assert!(matches!(
        interop::decision_cases(r#"{"evaluation": [], "evaluation": []}"#),
        Err(interop::DecisionFileError::Json(_))
    ));
}

// Single evaluations.

#[test]
fn ownership_and_roles_decide_todo_requests() {
    let ask = |subject: &str, action: &str, owner: &str| {
        decide(
            todo(),
            json!({
                "subject": {"type": "user", "id": subject},
                "action": {"name": action},
                "resource": todo_item("t", owner),
            }),
        )
        .unwrap()
    };
    // By e-mail address or by PID: the PID entity is a member of the e-mail entity.
    assert!(ask(
        "morty@the-citadel.com",
        "can_update_todo",
        "morty@the-citadel.com"
    ));
    assert!(ask(MORTY_PID, "can_update_todo", "morty@the-citadel.com"));
    assert!(!ask(MORTY_PID, "can_update_todo", "rick@the-citadel.com"));
    assert!(ask(RICK_PID, "can_update_todo", "morty@the-citadel.com"));
    assert!(!ask(BETH_PID, "can_update_todo", "beth@the-smiths.com"));
    // An unknown user holds no role.
    assert!(!ask("nobody", "can_create_todo", "nobody"));
    assert!(ask("nobody", "can_read_todos", "nobody"));
}

#[test]
fn reasons_are_told_only_when_asked_for() {
    let request = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_update_todo"},
        "resource": todo_item("t", "morty@the-citadel.com"),
    });
    let quiet = todo().evaluation(&body(&request)).unwrap();
    assert_eq!(
        serde_json::to_value(&quiet).unwrap(),
        json!({"decision": true})
    );

    let told = todo().clone().with_reasons(Reasons::Policies);
    let loud = told.evaluation(&body(&request)).unwrap();
    assert_eq!(
        serde_json::to_value(&loud).unwrap(),
        json!({"decision": true, "context": {"reason_admin": {"policies": ["todo-update-editor-owner"]}}})
    );
    let mut denied = request.clone();
    denied["resource"]["properties"]["ownerID"] = json!("rick@the-citadel.com");
    let loud = told.evaluation(&body(&denied)).unwrap();
    assert_eq!(
        serde_json::to_value(&loud).unwrap(),
        json!({"decision": false, "context": {"reason_admin": {"policies": []}}})
    );
    let decision = todo()
        .decide(&serde_json::from_value(request).unwrap())
        .unwrap();
    assert_eq!(decision.action, "can_update_todo");
    assert_eq!(decision.policies, ["todo-update-editor-owner"]);
}

#[test]
fn gateway_routes_map_onto_the_route_actions() {
    let ask = |subject: &str, method: &str, template: &str| {
        decide(
            todo(),
            json!({
                "subject": {"type": "identity", "id": subject},
                "action": {"name": method},
                "resource": {"type": "route", "id": template},
            }),
        )
    };
    assert_eq!(ask(BETH_PID, "GET", "/todos"), Ok(true));
    assert_eq!(ask(BETH_PID, "get", "/todos"), Ok(true));
    assert_eq!(ask(BETH_PID, "POST", "/todos"), Ok(false));
    assert_eq!(ask(MORTY_PID, "PUT", "/todos/{todoId}"), Ok(true));
    let decision = todo()
        .decide(
            &serde_json::from_value(json!({
                "subject": {"type": "identity", "id": MORTY_PID},
                "action": {"name": "PUT"},
                "resource": {"type": "route", "id": "/todos/{todoId}"},
            }))
            .unwrap(),
        )
        .unwrap();
    assert_eq!(decision.action, "put /todos/{todoId}");
    // A route the table does not have, or a method it does not have for the route.
    assert_eq!(
        ask(MORTY_PID, "GET", "/todos/1"),
        Err(EvaluationError::UnknownRoute {
            method: "GET".into(),
            template: "/todos/1".into()
        })
    );
    assert!(matches!(
        ask(MORTY_PID, "PATCH", "/todos/{todoId}"),
        Err(EvaluationError::UnknownRoute { .. })
    ));
}

#[test]
fn unknown_types_and_actions_are_errors() {
    let request = |subject: &str, action: &str, resource: &str| {
        json!({
            "subject": {"type": subject, "id": MORTY_PID},
            "action": {"name": action},
            "resource": {"type": resource, "id": "todo-1"},
        })
    };
    let err = decide(todo(), request("robot", "can_read_todos", "todo")).unwrap_err();
    assert_eq!(err, EvaluationError::UnknownSubjectType("robot".into()));
    assert_eq!(err.to_string(), "subject type \"robot\" is not known");
    assert_eq!(err.status(), 400);
    assert_eq!(
        decide(todo(), request("user", "can_read_todos", "document")),
        Err(EvaluationError::UnknownResourceType("document".into()))
    );
    assert_eq!(
        decide(todo(), request("user", "can_fly", "todo")),
        Err(EvaluationError::UnknownAction("can_fly".into()))
    );
    // The route actions are actions of the bundle too, but not for a todo.
    let err = decide(todo(), request("user", "can_read_user", "todo")).unwrap_err();
    assert_eq!(
        err,
        EvaluationError::NotApplicable {
            action: "can_read_user".into(),
            principal: "TodoApp::User".into(),
            resource: "TodoApp::Todo".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "action \"can_read_user\" does not apply to TodoApp::User and TodoApp::Todo"
    );
}

#[test]
fn wrongly_typed_and_conflicting_properties_are_errors() {
    let err = decide(
        todo(),
        json!({
            "subject": {"type": "user", "id": MORTY_PID},
            "action": {"name": "can_update_todo"},
            "resource": {"type": "todo", "id": "t", "properties": {"ownerID": 7}},
        }),
    )
    .unwrap_err();
    assert_eq!(
        err,
        EvaluationError::Attribute(AttributeError::WrongType {
            place: "resource.properties.ownerID".into(),
            expected: "a string".into()
        })
    );
    assert_eq!(
        err.to_string(),
        "resource.properties.ownerID must be a string"
    );
    // Morty cannot claim Rick's address: the entity data has Morty's.
    let err = decide(
        todo(),
        json!({
            "subject": {"type": "user", "id": MORTY_PID, "properties": {"email": "rick@the-citadel.com"}},
            "action": {"name": "can_update_todo"},
            "resource": todo_item("t", "rick@the-citadel.com"),
        }),
    )
    .unwrap_err();
    assert_eq!(
        err,
        EvaluationError::Attribute(AttributeError::Conflict {
            place: "subject.properties.email".into()
        })
    );
    // The same value is no conflict.
    assert_eq!(
        decide(
            todo(),
            json!({
                "subject": {"type": "user", "id": MORTY_PID, "properties": {"email": "morty@the-citadel.com"}},
                "action": {"name": "can_update_todo"},
                "resource": todo_item("t", "morty@the-citadel.com"),
            }),
        ),
        Ok(true)
    );
}

#[test]
fn requests_of_the_wrong_shape_are_bad_requests() {
    let good = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_read_todos"},
        "resource": {"type": "todo", "id": "todo-1"},
    });
    assert_eq!(decide(todo(), good.clone()), Ok(true));
    let shape = |request: Value| match decide(todo(), request) {
        Err(EvaluationError::Shape(message)) => message,
        other => panic!("{other:?}"),
    };
    for member in ["subject", "action", "resource"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(member);
        assert_eq!(shape(missing), format!("missing field `{member}`"));
    }
    for (member, field) in [
        ("subject", "type"),
        ("subject", "id"),
        ("action", "name"),
        ("resource", "type"),
        ("resource", "id"),
    ] {
        let mut missing = good.clone();
        missing[member].as_object_mut().unwrap().remove(field);
        shape(missing);
    }
    let mut wrong = good.clone();
    wrong["subject"] = json!("alice");
    shape(wrong);
    let mut wrong = good.clone();
    wrong["action"]["name"] = json!(123);
    shape(wrong);
    let mut wrong = good.clone();
    wrong["context"] = json!([1]);
    shape(wrong);

    let err = todo().evaluation(b"").unwrap_err();
    assert_eq!(err, EvaluationError::Body(BodyError::Syntax));
    assert_eq!(err.status(), 400);
    assert_eq!(
        todo().evaluation(b"[]"),
        Err(EvaluationError::Body(BodyError::NotAnObject))
    );
    assert_eq!(
        todo().evaluation(b"{\"subject\": "),
        Err(EvaluationError::Body(BodyError::Syntax))
    );
}

#[test]
fn duplicate_members_are_refused_at_any_depth() {
    let subject = format!(r#""subject": {{"type": "user", "id": "{MORTY_PID}", "id": "x"}}"#);
    let evaluation = format!(
        r#"{{{subject}, "action": {{"name": "can_read_todos"}}, "resource": {{"type": "todo", "id": "todo-1"}}}}"#
    );
    assert_eq!(
        todo().evaluation(evaluation.as_bytes()),
        Err(EvaluationError::Body(BodyError::DuplicateMember))
    );
    let top = r#"{"action": {"name": "a"}, "action": {"name": "b"}}"#;
    assert_eq!(
        todo().evaluations(top.as_bytes()),
        Err(EvaluationsError::Body(BodyError::DuplicateMember))
    );
    let deep = r#"{"evaluations": [{"context": {"a": {"b": 1, "b": 2}}}]}"#;
    assert_eq!(
        todo().evaluations(deep.as_bytes()),
        Err(EvaluationsError::Body(BodyError::DuplicateMember))
    );
    let search = format!(r#"{{{subject}, "resource": {{"type": "todo", "id": "todo-1"}}}}"#);
    assert_eq!(
        todo().search_action(search.as_bytes()),
        Err(ActionSearchError::Body(BodyError::DuplicateMember))
    );
}

#[test]
fn bodies_larger_than_the_limit_are_refused() {
    let padding = "x".repeat(MAX_REQUEST_BYTES);
    let request = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_read_todos"},
        "resource": {"type": "todo", "id": "todo-1"},
        "context": {"padding": padding},
    });
    let err = todo().evaluation(&body(&request)).unwrap_err();
    assert_eq!(err, EvaluationError::Body(BodyError::TooLarge));
    assert_eq!(err.status(), 413);
    assert_eq!(
        todo().evaluations(&body(&request)).unwrap_err().status(),
        413
    );
    assert_eq!(
        todo().search_action(&body(&request)).unwrap_err().status(),
        413
    );
}

#[test]
fn unknown_members_and_undeclared_properties_are_ignored() {
    // 1.0 § 10.1.1: receivers ignore unknown fields; undeclared properties cannot be read by
    // any policy, and action properties have no Cedar counterpart.
    let request = json!({
        "subject": {"type": "user", "id": MORTY_PID, "properties": {"department": "Sales"}, "extra": 1},
        "action": {"name": "can_update_todo", "properties": {"method": "PUT"}},
        "resource": {"type": "todo", "id": "t", "properties": {"ownerID": "morty@the-citadel.com", "status": "active"}},
        "context": {"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"},
        "foo": "bar",
        "futureField": {"nested": true},
    });
    assert_eq!(decide(todo(), request), Ok(true));
}

// Batches.

fn morty_batch(resources: &[Value], semantic: Option<&str>) -> Value {
    let mut request = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_update_todo"},
        "evaluations": resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>(),
    });
    if let Some(semantic) = semantic {
        request["options"] = json!({"evaluations_semantic": semantic, "another_option": "value"});
    }
    request
}

fn batch(pdp: &Pdp, request: &Value) -> Value {
    serde_json::to_value(pdp.evaluations(&body(request)).unwrap()).unwrap()
}

#[test]
fn defaults_fill_what_an_evaluation_leaves_out() {
    let own = todo_item("a", "morty@the-citadel.com");
    let ricks = todo_item("b", "rick@the-citadel.com");
    let request = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_update_todo"},
        "resource": own,
        "evaluations": [
            {},
            {"resource": ricks},
            {"action": {"name": "can_read_todos"}, "resource": ricks},
            {"subject": {"type": "user", "id": RICK_PID}, "resource": ricks},
            {"subject": {"type": "identity", "id": BETH_PID}, "action": {"name": "GET"}, "resource": {"type": "route", "id": "/todos"}},
        ],
    });
    assert_eq!(
        batch(todo(), &request),
        json!({"evaluations": [
            {"decision": true}, {"decision": false}, {"decision": true}, {"decision": true}, {"decision": true}
        ]})
    );
}

#[test]
fn each_evaluations_semantic_shortens_as_specified() {
    let own = todo_item("a", "morty@the-citadel.com");
    let ricks = todo_item("b", "rick@the-citadel.com");
    let decisions = |request: &Value| -> Vec<bool> {
        batch(todo(), request)["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].as_bool().unwrap())
            .collect()
    };
    let mixed = [own.clone(), ricks.clone(), own.clone()];
    assert_eq!(decisions(&morty_batch(&mixed, None)), [true, false, true]);
    assert_eq!(
        decisions(&morty_batch(&mixed, Some("execute_all"))),
        [true, false, true]
    );
    assert_eq!(
        decisions(&morty_batch(&mixed, Some("deny_on_first_deny"))),
        [true, false]
    );
    assert_eq!(
        decisions(&morty_batch(&mixed, Some("permit_on_first_permit"))),
        [true]
    );
    let late = [ricks.clone(), ricks.clone(), own.clone(), own.clone()];
    assert_eq!(
        decisions(&morty_batch(&late, Some("permit_on_first_permit"))),
        [false, false, true]
    );
    assert_eq!(
        decisions(&morty_batch(&late, Some("deny_on_first_deny"))),
        [false]
    );
    let all = [own.clone(), own.clone()];
    assert_eq!(
        decisions(&morty_batch(&all, Some("deny_on_first_deny"))),
        [true, true]
    );
    assert!(matches!(
        todo().evaluations(&body(&morty_batch(&mixed, Some("first_one")))),
        Err(EvaluationsError::Shape(m)) if m.contains("unknown variant `first_one`")
    ));
    let mut bad = morty_batch(&mixed, None);
    bad["options"] = json!("fast");
    assert!(matches!(
        todo().evaluations(&body(&bad)),
        Err(EvaluationsError::Shape(_))
    ));
}

#[test]
fn a_failed_evaluation_is_answered_in_its_place() {
    let own = todo_item("a", "morty@the-citadel.com");
    let request = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_update_todo"},
        "options": {"evaluations_semantic": "execute_all"},
        "evaluations": [
            {"resource": own},
            {},
            {"resource": {"type": "spaceship", "id": "1"}},
            {"resource": own},
        ],
    });
    assert_eq!(
        batch(todo(), &request),
        json!({"evaluations": [
            {"decision": true},
            {"decision": false, "context": {"error": {"status": 400, "message": "the evaluation has no resource, and the request gives no default resource"}}},
            {"decision": false, "context": {"error": {"status": 400, "message": "resource type \"spaceship\" is not known"}}},
            {"decision": true},
        ]})
    );
    // A failure is a deny for deny_on_first_deny.
    let mut short = request.clone();
    short["options"]["evaluations_semantic"] = json!("deny_on_first_deny");
    assert_eq!(
        batch(todo(), &short)["evaluations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_batch_without_evaluations_is_one_evaluation() {
    let single = json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_read_todos"},
        "resource": {"type": "todo", "id": "todo-1"},
    });
    assert_eq!(batch(todo(), &single), json!({"decision": true}));
    let mut empty = single.clone();
    empty["evaluations"] = json!([]);
    assert_eq!(batch(todo(), &empty), json!({"decision": true}));
    let mut missing = single.clone();
    missing.as_object_mut().unwrap().remove("resource");
    assert_eq!(
        todo().evaluations(&body(&missing)),
        Err(EvaluationsError::Shape("missing field `resource`".into()))
    );
    let mut unknown = single.clone();
    unknown["subject"]["type"] = json!("robot");
    assert_eq!(
        todo().evaluations(&body(&unknown)).unwrap_err().status(),
        400
    );
    // A malformed top-level default or evaluation refuses the whole request.
    let mut malformed = single.clone();
    malformed["evaluations"] = json!([{"subject": "alice"}]);
    assert!(matches!(
        todo().evaluations(&body(&malformed)),
        Err(EvaluationsError::Shape(_))
    ));
}

#[test]
fn too_many_evaluations_are_refused() {
    let own = todo_item("a", "morty@the-citadel.com");
    let at_limit = vec![own.clone(); MAX_EVALUATIONS];
    let response = batch(todo(), &morty_batch(&at_limit, None));
    assert_eq!(
        response["evaluations"].as_array().unwrap().len(),
        MAX_EVALUATIONS
    );
    let over = vec![own; MAX_EVALUATIONS + 1];
    let err = todo()
        .evaluations(&body(&morty_batch(&over, None)))
        .unwrap_err();
    assert_eq!(
        err,
        EvaluationsError::TooMany {
            count: MAX_EVALUATIONS + 1
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the request has {} evaluations, more than the {MAX_EVALUATIONS} allowed",
            MAX_EVALUATIONS + 1
        )
    );
    // The typed entry point applies the same bound.
    let typed = EvaluationsRequest {
        evaluations: Some(vec![EvaluationItem::default(); MAX_EVALUATIONS + 1]),
        ..EvaluationsRequest::default()
    };
    assert!(matches!(
        todo().evaluate_all(&typed),
        Err(EvaluationsError::TooMany { .. })
    ));
}

// Action search.

fn search(pdp: &Pdp, request: Value) -> Vec<String> {
    pdp.search_action(&body(&request))
        .unwrap()
        .results
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[test]
fn action_search_finds_exactly_the_permitted_actions() {
    let subjects = [
        ("user", RICK_PID),
        ("user", MORTY_PID),
        ("user", BETH_PID),
        ("user", "summer@the-smiths.com"),
        ("user", "nobody"),
    ];
    let resources = [
        todo_item("a", "morty@the-citadel.com"),
        todo_item("b", "rick@the-citadel.com"),
        json!({"type": "todo", "id": "todo-1"}),
        json!({"type": "user", "id": "beth@the-smiths.com"}),
    ];
    let actions = [
        "can_read_user",
        "can_read_todos",
        "can_create_todo",
        "can_update_todo",
        "can_delete_todo",
    ];
    let mut seen_some = false;
    for (ty, id) in subjects {
        for resource in &resources {
            let subject = json!({"type": ty, "id": id});
            let found = search(todo(), json!({"subject": subject, "resource": resource}));
            // Exactly the actions a single evaluation permits.
            let mut expected: Vec<String> = actions
                .iter()
                .filter(|action| {
                    decide(
                        todo(),
                        json!({"subject": subject, "action": {"name": action}, "resource": resource}),
                    )
                    .unwrap_or(false)
                })
                .map(|a| (*a).to_owned())
                .collect();
            expected.sort();
            if id == "nobody" {
                // A user the entity data does not hold, of a type it lists: a search finds
                // nothing (the certification scenario's c-4-6-1), whatever an evaluation
                // of the id would permit.
                assert_eq!(found, Vec::<String>::new(), "{subject} {resource}");
                continue;
            }
            assert_eq!(found, expected, "{subject} {resource}");
            seen_some |= !found.is_empty();
        }
    }
    assert!(seen_some);
    assert_eq!(
        search(
            todo(),
            json!({"subject": {"type": "user", "id": MORTY_PID}, "resource": todo_item("a", "morty@the-citadel.com")})
        ),
        [
            "can_create_todo",
            "can_delete_todo",
            "can_read_todos",
            "can_update_todo"
        ]
    );
    assert_eq!(
        search(
            todo(),
            json!({"subject": {"type": "user", "id": MORTY_PID}, "resource": todo_item("b", "rick@the-citadel.com")})
        ),
        ["can_create_todo", "can_read_todos"]
    );
}

#[test]
fn action_search_on_a_route_finds_its_permitted_methods() {
    let route = |subject: &str, template: &str| {
        search(
            todo(),
            json!({"subject": {"type": "identity", "id": subject}, "resource": {"type": "route", "id": template}}),
        )
    };
    assert_eq!(route(BETH_PID, "/todos"), ["GET"]);
    assert_eq!(route(MORTY_PID, "/todos"), ["GET", "POST"]);
    assert_eq!(route(MORTY_PID, "/todos/{todoId}"), ["DELETE", "PUT"]);
    assert_eq!(route(BETH_PID, "/todos/{todoId}"), Vec::<String>::new());
    assert_eq!(route(BETH_PID, "/nowhere"), Vec::<String>::new());
}

#[test]
fn action_search_finds_nothing_for_unknown_types_and_refuses_bad_requests() {
    assert_eq!(
        search(
            todo(),
            json!({"subject": {"type": "spaceship", "id": "x"}, "resource": {"type": "todo", "id": "todo-1"}})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        search(
            todo(),
            json!({"subject": {"type": "user", "id": MORTY_PID}, "resource": {"type": "record", "id": "1"}})
        ),
        Vec::<String>::new()
    );
    let shape = |request: Value| {
        matches!(
            todo().search_action(&body(&request)),
            Err(ActionSearchError::Shape { .. })
        )
    };
    assert!(shape(json!({"subject": {"type": "user", "id": MORTY_PID}})));
    assert!(shape(
        json!({"subject": {"type": "user"}, "resource": {"type": "todo", "id": "todo-1"}})
    ));
    let err = todo()
        .search_action(&body(&json!({
            "subject": {"type": "user", "id": MORTY_PID},
            "resource": {"type": "todo", "id": "t", "properties": {"ownerID": false}},
        })))
        .unwrap_err();
    assert_eq!(
        err,
        ActionSearchError::Attribute(AttributeError::WrongType {
            place: "resource.properties.ownerID".into(),
            expected: "a string".into()
        })
    );
    assert_eq!(err.status(), 400);
}

// Required attributes, nested values, extension values, context: a bundle declaring them.

const DEMO_SCHEMA: &str = r#"
namespace Demo {
  entity Role;
  entity User in [Role] { department: String, level?: Long, tags?: Set<String> };
  entity Doc { owner: String, meta?: { pages: Long } };
  entity Application;
  action read appliesTo { principal: [User], resource: [Doc], context: { time: Long, ip?: ipaddr } };
  action write appliesTo { principal: [User], resource: [Doc] };
  action "get /" appliesTo { principal: [User], resource: [Application] };
}
"#;

const DEMO_POLICIES: &str = r#"
@id("read-own-department")
permit (principal, action == Demo::Action::"read", resource)
when { resource.owner == principal.department && context.time > 0 };

@id("read-from-the-office")
permit (principal, action == Demo::Action::"read", resource)
when { context has ip && context.ip.isInRange(ip("10.0.0.0/8")) };

@id("write-from-level-3")
permit (principal, action == Demo::Action::"write", resource)
when { principal has level && principal.level >= 3 };

@id("root-does-all")
permit (principal in Demo::Role::"root", action, resource);
"#;

const DEMO_ENTITIES: &str = r#"[
  {"uid": {"type": "Demo::Role", "id": "root"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Demo::User", "id": "ada"}, "attrs": {"department": "eng", "tags": ["a", "b"]},
   "parents": [{"type": "Demo::Role", "id": "root"}]}
]"#;

const DEMO_MAPPING: &str = r#"{"subject_types": {"user": "User"}, "resource_types": {"doc": "Doc"}, "route_type": "route"}"#;

fn demo_source() -> BundleSource {
    BundleSource {
        schema: DEMO_SCHEMA.into(),
        policies: DEMO_POLICIES.into(),
        routes: r#"{"namespace": "Demo", "resource": {"type": "Application", "id": "app"}, "routes": ["get /"]}"#.into(),
    }
}

fn demo() -> &'static Pdp {
    static PDP: OnceLock<Pdp> = OnceLock::new();
    PDP.get_or_init(|| {
        Pdp::new(
            Bundle::load_with_entities(&demo_source(), DEMO_ENTITIES).unwrap(),
            DEMO_MAPPING,
        )
        .unwrap()
    })
}

fn demo_ask(
    subject: Value,
    action: &str,
    resource: Value,
    context: Value,
) -> Result<bool, EvaluationError> {
    decide(
        demo(),
        json!({"subject": subject, "action": {"name": action}, "resource": resource, "context": context}),
    )
}

fn attribute(result: Result<bool, EvaluationError>) -> AttributeError {
    match result {
        Err(EvaluationError::Attribute(err)) => err,
        other => panic!("{other:?}"),
    }
}

#[test]
fn required_attributes_must_be_given_or_known() {
    let bob = json!({"type": "user", "id": "bob", "properties": {"department": "eng"}});
    let doc = json!({"type": "doc", "id": "d", "properties": {"owner": "eng"}});
    assert_eq!(
        demo_ask(bob.clone(), "read", doc.clone(), json!({"time": 5})),
        Ok(true)
    );
    assert_eq!(
        demo_ask(bob.clone(), "read", doc.clone(), json!({"time": 0})),
        Ok(false)
    );
    // Ada's department is in the entity data.
    assert_eq!(
        demo_ask(
            json!({"type": "user", "id": "ada"}),
            "write",
            doc.clone(),
            json!({})
        ),
        Ok(true)
    );
    let err = attribute(demo_ask(
        json!({"type": "user", "id": "bob"}),
        "read",
        doc.clone(),
        json!({"time": 5}),
    ));
    assert_eq!(
        err,
        AttributeError::Missing {
            place: "subject.properties.department".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "subject.properties.department is missing: the schema requires it"
    );
    assert_eq!(
        attribute(demo_ask(
            bob.clone(),
            "read",
            json!({"type": "doc", "id": "d"}),
            json!({"time": 5})
        )),
        AttributeError::Missing {
            place: "resource.properties.owner".into()
        }
    );
    assert_eq!(
        attribute(demo_ask(bob.clone(), "read", doc.clone(), json!({}))),
        AttributeError::Missing {
            place: "context.time".into()
        }
    );
    assert_eq!(
        attribute(demo_ask(bob.clone(), "read", doc.clone(), json!(null))),
        AttributeError::Missing {
            place: "context.time".into()
        }
    );
    let mut nested = doc.clone();
    nested["properties"]["meta"] = json!({});
    assert_eq!(
        attribute(demo_ask(bob.clone(), "write", nested, json!({}))),
        AttributeError::Missing {
            place: "resource.properties.meta.pages".into()
        }
    );
}

#[test]
fn values_of_the_wrong_type_are_errors() {
    let doc = json!({"type": "doc", "id": "d", "properties": {"owner": "eng"}});
    let wrong =
        |subject_properties: Value, resource: Value, context: Value| match attribute(demo_ask(
            json!({"type": "user", "id": "bob", "properties": subject_properties}),
            "read",
            resource,
            context,
        )) {
            AttributeError::WrongType { place, .. } => place,
            other => panic!("{other:?}"),
        };
    let eng = json!({"department": "eng"});
    assert_eq!(
        wrong(
            json!({"department": "eng", "level": "3"}),
            doc.clone(),
            json!({"time": 1})
        ),
        "subject.properties.level"
    );
    assert_eq!(
        wrong(
            json!({"department": "eng", "level": 1.5}),
            doc.clone(),
            json!({"time": 1})
        ),
        "subject.properties.level"
    );
    assert_eq!(
        wrong(json!({"department": null}), doc.clone(), json!({"time": 1})),
        "subject.properties.department"
    );
    assert_eq!(
        wrong(
            json!({"department": "eng", "tags": ["a", 1]}),
            doc.clone(),
            json!({"time": 1})
        ),
        "subject.properties.tags[1]"
    );
    assert_eq!(
        wrong(
            json!({"department": "eng", "tags": "a"}),
            doc.clone(),
            json!({"time": 1})
        ),
        "subject.properties.tags"
    );
    let mut pages = doc.clone();
    pages["properties"]["meta"] = json!({"pages": "ten"});
    assert_eq!(
        wrong(eng.clone(), pages, json!({"time": 1})),
        "resource.properties.meta.pages"
    );
    assert_eq!(
        wrong(eng.clone(), doc.clone(), json!({"time": "now"})),
        "context.time"
    );
    assert_eq!(
        wrong(eng.clone(), doc.clone(), json!({"time": 1, "ip": null})),
        "context.ip"
    );
    // An extension value Cedar cannot parse.
    assert!(matches!(
        demo_ask(
            json!({"type": "user", "id": "bob", "properties": eng}),
            "read",
            doc.clone(),
            json!({"time": 1, "ip": "not an address"})
        ),
        Err(EvaluationError::Invalid(_))
    ));
}

#[test]
fn extension_values_and_undeclared_members() {
    let bob = json!({"type": "user", "id": "bob", "properties": {"department": "ops", "level": 3}});
    let doc = json!({"type": "doc", "id": "d", "properties": {"owner": "eng", "secret": 1}});
    assert_eq!(
        demo_ask(
            bob.clone(),
            "read",
            doc.clone(),
            json!({"time": 1, "ip": "10.1.2.3"})
        ),
        Ok(true)
    );
    assert_eq!(
        demo_ask(
            bob.clone(),
            "read",
            doc.clone(),
            json!({"time": 1, "ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}}})
        ),
        Ok(true)
    );
    assert_eq!(
        demo_ask(
            bob.clone(),
            "read",
            doc.clone(),
            json!({"time": 1, "ip": "192.0.2.1", "extra": true})
        ),
        Ok(false)
    );
    assert_eq!(
        demo_ask(bob.clone(), "write", doc.clone(), json!({})),
        Ok(true)
    );
}

#[test]
fn parents_come_only_from_the_entity_data() {
    let doc = json!({"type": "doc", "id": "d", "properties": {"owner": "eng"}});
    let mallory = json!({"type": "user", "id": "mallory", "properties": {
        "department": "ops",
        "parents": [{"type": "Demo::Role", "id": "root"}],
        "roles": ["root"],
    }});
    assert_eq!(
        demo_ask(mallory, "write", doc.clone(), json!({})),
        Ok(false)
    );
    // Ada is root, and keeps her department: a property may not change it.
    assert_eq!(
        attribute(demo_ask(
            json!({"type": "user", "id": "ada", "properties": {"department": "ops"}}),
            "write",
            doc.clone(),
            json!({})
        )),
        AttributeError::Conflict {
            place: "subject.properties.department".into()
        }
    );
    // The same value written otherwise is no conflict: a set in another order, with repeats.
    let ada = |tags: Value| json!({"type": "user", "id": "ada", "properties": {"department": "eng", "tags": tags}});
    assert_eq!(
        demo_ask(ada(json!(["b", "a", "a"])), "write", doc.clone(), json!({})),
        Ok(true)
    );
    assert_eq!(
        attribute(demo_ask(ada(json!(["a"])), "write", doc.clone(), json!({}))),
        AttributeError::Conflict {
            place: "subject.properties.tags".into()
        }
    );
    // One entity as subject and resource: their properties merge, and must agree.
    let same = demo().evaluation(&body(&json!({
        "subject": {"type": "user", "id": "x", "properties": {"department": "a"}},
        "action": {"name": "read"},
        "resource": {"type": "doc", "id": "x", "properties": {"owner": "a"}},
        "context": {"time": 1},
    })));
    assert_eq!(same.map(|r| r.decision), Ok(true));
}

// Step-up and context defaults, with the PetStore bundle whose decisions see the request.

const PETSTORE_MAPPING: &str = r#"{"subject_types": {"user": "User"}, "route_type": "route"}"#;

fn petstore() -> &'static Pdp {
    static PDP: OnceLock<Pdp> = OnceLock::new();
    PDP.get_or_init(|| {
        let entities = r#"[
          {"uid": {"type": "PetStore::UserGroup", "id": "AVP_User"}, "attrs": {}, "parents": []},
          {"uid": {"type": "PetStore::UserGroup", "id": "AVP_Admin"}, "attrs": {}, "parents": []},
          {"uid": {"type": "PetStore::User", "id": "alice"}, "attrs": {}, "parents": [{"type": "PetStore::UserGroup", "id": "AVP_User"}]},
          {"uid": {"type": "PetStore::User", "id": "bob"}, "attrs": {}, "parents": [{"type": "PetStore::UserGroup", "id": "AVP_Admin"}]}
        ]"#;
        let bundle = Bundle::load_with_entities(
            &cedargate::examples::petstore_context_source(),
            entities,
        )
        .unwrap();
        Pdp::new(bundle, PETSTORE_MAPPING).unwrap()
    })
}

#[test]
fn a_step_up_deny_names_the_sign_in_to_ask_for() {
    let request = |token: Value| {
        json!({
            "subject": {"type": "user", "id": "bob"},
            "action": {"name": "DELETE"},
            "resource": {"type": "route", "id": "/pets/{petId}"},
            "context": {
                "pathParameters": {"petId": "7"},
                "request": {"time": 1000, "headers": {}},
                "token": token,
            },
        })
    };
    let denied = petstore().evaluation(&body(&request(json!({})))).unwrap();
    assert_eq!(
        serde_json::to_value(&denied).unwrap(),
        json!({"decision": false, "context": {"acr_values": "Multi_Factor", "max_age": 600}})
    );
    let allowed = petstore()
        .evaluation(&body(&request(
            json!({"acr": "Multi_Factor", "auth_time": 900}),
        )))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&allowed).unwrap(),
        json!({"decision": true})
    );
    // Alice is no admin: a plain deny, nothing to ask for.
    let mut alice = request(json!({}));
    alice["subject"]["id"] = json!("alice");
    assert_eq!(
        serde_json::to_value(petstore().evaluation(&body(&alice)).unwrap()).unwrap(),
        json!({"decision": false})
    );
}

#[test]
fn an_evaluations_context_replaces_the_default_as_a_whole() {
    let office = json!({"request": {"time": 1, "ip": "203.0.113.5", "country": "CH", "headers": {"x-tenant": "blue"}}});
    let request = json!({
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "GET"},
        "resource": {"type": "route", "id": "/pets"},
        "context": office,
        "evaluations": [
            {},
            // No `ip` here: the default's is not merged in.
            {"context": {"request": {"time": 1, "country": "CH", "headers": {"x-tenant": "blue"}}}},
            {"context": {"request": {"time": 1, "ip": "203.0.113.5", "country": "US", "headers": {"x-tenant": "blue"}}}},
            {"context": {}},
        ],
    });
    assert_eq!(
        batch(petstore(), &request),
        json!({"evaluations": [
            {"decision": true},
            {"decision": false},
            {"decision": false},
            {"decision": false, "context": {"error": {"status": 400, "message": "context.request is missing: the schema requires it"}}},
        ]})
    );
}

// The metadata document.

#[test]
fn metadata_names_the_endpoints_served() {
    let document = metadata("https://pdp.example.com").unwrap();
    assert_eq!(
        serde_json::to_value(&document).unwrap(),
        json!({
            "policy_decision_point": "https://pdp.example.com",
            "access_evaluation_endpoint": "https://pdp.example.com/access/v1/evaluation",
            "access_evaluations_endpoint": "https://pdp.example.com/access/v1/evaluations",
            "search_subject_endpoint": "https://pdp.example.com/access/v1/search/subject",
            "search_resource_endpoint": "https://pdp.example.com/access/v1/search/resource",
            "search_action_endpoint": "https://pdp.example.com/access/v1/search/action",
        })
    );
    let tenant = metadata("https://example.com/tenant1").unwrap();
    assert_eq!(
        tenant.access_evaluation_endpoint,
        "https://example.com/tenant1/access/v1/evaluation"
    );
    assert_eq!(
        well_known_url("https://example.com/tenant1").unwrap(),
        "https://example.com/.well-known/authzen-configuration/tenant1"
    );
    assert_eq!(
        well_known_url("https://pdp.example.com:8443").unwrap(),
        "https://pdp.example.com:8443/.well-known/authzen-configuration"
    );
    assert!(metadata("http://localhost:8787").is_ok());
    assert!(matches!(
        metadata("http://pdp.example.com"),
        Err(MetadataError::Url(_))
    ));
    assert_eq!(
        metadata("https://pdp.example.com/?x=1"),
        Err(MetadataError::QueryOrFragment)
    );
    assert_eq!(
        metadata("https://pdp.example.com#f"),
        Err(MetadataError::QueryOrFragment)
    );
    let err = metadata("https://pdp.example.com/").unwrap_err();
    assert_eq!(err, MetadataError::TrailingSlash);
    assert_eq!(
        err.to_string(),
        "the decision point's base URL must not end with /"
    );
    assert!(matches!(
        well_known_url("pdp.example.com"),
        Err(MetadataError::Url(_))
    ));
}

// The mapping file.

#[test]
fn mapping_files_are_checked_against_the_bundle() {
    let load = |text: &str| Pdp::new(todo_bundle(), text).map(|_| ()).unwrap_err();
    assert_eq!(
        load(r#"{"subject_types": {"user": "Person"}}"#),
        MappingFileError::UnknownType {
            kind: "subject",
            authzen: "user".into(),
            cedar: "TodoApp::Person".into()
        }
    );
    let err = load(r#"{"subject_types": {"role": "Role"}}"#);
    assert_eq!(
        err.to_string(),
        format!(
            "{MAPPING_FILE}: subject type \"role\" maps to TodoApp::Role, which is not the subject type of any action"
        )
    );
    assert!(matches!(
        load(r#"{"subject_types": {"user": "User"}, "resource_types": {"role": "TodoApp::Role"}}"#),
        MappingFileError::Unusable {
            kind: "resource",
            ..
        }
    ));
    assert_eq!(
        load(
            r#"{"subject_types": {"user": "User"}, "resource_types": {"route": "Todo"}, "route_type": "route"}"#
        ),
        MappingFileError::RouteTypeTaken("route".into())
    );
    assert_eq!(
        load(r#"{"subject_types": {"": "User"}}"#),
        MappingFileError::EmptyName
    );
    assert!(matches!(
        load(r#"{"subject_types": {"user": "User"}, "types": {}}"#),
        MappingFileError::Shape(_)
    ));
    assert!(matches!(
        load(r#"{"resource_types": {}}"#),
        MappingFileError::Shape(_)
    ));
    assert!(matches!(
        load("{\"subject_types\": {\"user\": \"User\",\n \"user\": \"User\"}}"),
        MappingFileError::Json { line: (2, _), .. }
    ));
    let pdp = todo();
    assert_eq!(
        pdp.mapping().to_json(),
        json!({
            "subject_types": {"identity": "TodoApp::User", "user": "TodoApp::User"},
            "resource_types": {"todo": "TodoApp::Todo", "user": "TodoApp::User"},
            "route_type": "route",
        })
    );
}

// Entity data in the bundle.

#[test]
fn entity_data_is_validated_when_the_bundle_loads() {
    let refused = |entities: &str| match Bundle::load_with_entities(&todo_source(), entities) {
        Err(BundleError::Entities { message, line }) => (message, line),
        other => panic!("{other:?}"),
    };
    let (message, _) = refused(
        r#"[{"uid": {"type": "TodoApp::User", "id": "a"}, "attrs": {"email": 1}, "parents": []}]"#,
    );
    assert!(message.starts_with("entity 0: "), "{message}");
    let (message, _) = refused(
        r#"[{"uid": {"type": "TodoApp::User", "id": "a"}, "attrs": {"phone": "1"}, "parents": []}]"#,
    );
    assert!(message.contains("phone"), "{message}");
    let (message, _) =
        refused(r#"[{"uid": {"type": "TodoApp::Robot", "id": "a"}, "attrs": {}, "parents": []}]"#);
    assert!(message.starts_with("entity 0: "), "{message}");
    let (message, _) = refused(
        r#"[{"uid": {"type": "TodoApp::Role", "id": "a"}, "attrs": {}, "parents": []},
            {"uid": {"type": "TodoApp::Role", "id": "a"}, "attrs": {}, "parents": []}]"#,
    );
    assert_eq!(message, r#"two entities are TodoApp::Role::"a""#);
    let (message, _) = refused(
        r#"[{"uid": {"type": "TodoApp::Action", "id": "can_read_todos"}, "attrs": {}, "parents": []}]"#,
    );
    assert!(
        message.contains("action entities come from the schema"),
        "{message}"
    );
    let (_, line) =
        refused("[\n{\"uid\": {\"type\": \"TodoApp::Role\", \"id\": \"a\", \"id\": \"b\"}}]");
    assert_eq!(line.map(|(l, _)| l), Some(2));
    let (message, _) = refused(r#"{"uid": {}}"#);
    assert_eq!(message, "must be a JSON array of entities");
    let many: Vec<Value> = (0..=cedargate::authzen::MAX_ENTITIES)
        .map(|i| json!({"uid": {"type": "TodoApp::Role", "id": i.to_string()}, "attrs": {}, "parents": []}))
        .collect();
    let (message, _) = refused(&serde_json::to_string(&many).unwrap());
    assert_eq!(
        message,
        format!(
            "holds {} entities, more than the {} a bundle may hold",
            cedargate::authzen::MAX_ENTITIES + 1,
            cedargate::authzen::MAX_ENTITIES
        )
    );
    let err = Bundle::load_with_entities(&todo_source(), "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "entities.json: must be a JSON array of entities"
    );
}

#[test]
fn entity_data_counts_for_the_version_but_not_its_order() {
    let without = Bundle::load(&todo_source()).unwrap();
    assert!(without.entities_source().is_none());
    let with = todo_bundle();
    assert_eq!(with.entities_source(), Some(TODO_ENTITIES));
    assert_ne!(with.version(), without.version());
    let mut reversed: Vec<Value> = serde_json::from_str(TODO_ENTITIES).unwrap();
    reversed.reverse();
    let reversed =
        Bundle::load_with_entities(&todo_source(), &serde_json::to_string(&reversed).unwrap())
            .unwrap();
    assert_eq!(reversed.version(), with.version());
    let fewer: Vec<Value> =
        serde_json::from_str::<Vec<Value>>(TODO_ENTITIES).unwrap()[1..].to_vec();
    let fewer = Bundle::load_with_entities(&todo_source(), &serde_json::to_string(&fewer).unwrap())
        .unwrap();
    assert_ne!(fewer.version(), with.version());
    // An empty list is entity data too, and differs from none.
    let empty = Bundle::load_with_entities(&todo_source(), "[]").unwrap();
    assert_ne!(empty.version(), without.version());
    // The hierarchy is computed: the PID entity is in Morty's e-mail entity and his role.
    let uid = |ty: &str, id: &str| {
        cedar_policy::EntityUid::from_type_name_and_id(
            ty.parse().unwrap(),
            cedar_policy::EntityId::new(id),
        )
    };
    let entities = with.entities();
    assert!(entities.is_ancestor_of(
        &uid("TodoApp::Role", "editor"),
        &uid("TodoApp::User", MORTY_PID)
    ));
    assert!(!entities.is_ancestor_of(
        &uid("TodoApp::Role", "admin"),
        &uid("TodoApp::User", MORTY_PID)
    ));
}

#[test]
fn typed_requests_decide_as_bodies_do() {
    let request: EvaluationRequest = serde_json::from_value(json!({
        "subject": {"type": "user", "id": MORTY_PID},
        "action": {"name": "can_delete_todo"},
        "resource": todo_item("a", "morty@the-citadel.com"),
    }))
    .unwrap();
    assert!(todo().evaluate(&request).unwrap().decision);
    let batch = EvaluationsRequest {
        defaults: EvaluationItem {
            subject: Some(request.subject.clone()),
            action: Some(request.action.clone()),
            ..EvaluationItem::default()
        },
        evaluations: Some(vec![EvaluationItem {
            resource: Some(request.resource.clone()),
            ..EvaluationItem::default()
        }]),
        ..EvaluationsRequest::default()
    };
    match todo().evaluate_all(&batch).unwrap() {
        EvaluationsResponse::Batch { evaluations } => {
            assert_eq!(evaluations.len(), 1);
            assert!(evaluations[0].decision);
        }
        other => panic!("{other:?}"),
    }
}
