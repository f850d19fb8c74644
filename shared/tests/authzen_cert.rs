//! The AuthZEN 1.0 certification scenario (`cedargate_test_support::certification`) against
//! the core's decision point over the reference bundle `policies/authzen-cert`, and what the
//! scenario leaves to the implementer: pagination, action properties through the context,
//! the merge of properties with entity data, partial data in searches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::authzen::{MappingFileError, Pdp, SearchError, metadata};
use cedargate::{Bundle, BundleSource};
use cedargate_test_support::certification::{self, Api, Outcome, Reply, Sent, Transport};
use serde_json::{Value, json};
use std::sync::OnceLock;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const BASE: &str = "https://pdp.example.com";

fn source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/authzen-cert/schema.cedarschema").into(),
        policies: include_str!("../../policies/authzen-cert/policies.cedar").into(),
        routes: include_str!("../../policies/authzen-cert/routes.json").into(),
    }
}

const ENTITIES: &str = include_str!("../../policies/authzen-cert/entities.json");
const MAPPING: &str = include_str!("../../policies/authzen-cert/authzen.json");

fn cert() -> &'static Pdp {
    static PDP: OnceLock<Pdp> = OnceLock::new();
    PDP.get_or_init(|| {
        let bundle = Bundle::load_with_entities(&source(), ENTITIES).unwrap();
        Pdp::new(bundle, MAPPING).unwrap()
    })
}

/// The core as the scenario's transport: a body handed to the operation, its answer or
/// refusal as status and JSON. Not HTTP: content types and headers are the edge's, and
/// tested there.
struct Core<'a>(&'a Pdp);

fn answer<T: serde::Serialize, E: std::fmt::Display>(
    result: Result<T, E>,
    status: impl Fn(&E) -> u16,
) -> Reply {
    let (status, body) = match result {
        Ok(value) => (200, serde_json::to_vec(&value).unwrap()),
        Err(err) => (status(&err), err.to_string().into_bytes()),
    };
    Reply {
        status,
        content_type: Some("application/json".into()),
        request_ids: Vec::new(),
        body,
    }
}

impl Transport for Core<'_> {
    fn http(&self) -> bool {
        false
    }

    fn send(&mut self, sent: Sent<'_>) -> Result<Reply, String> {
        let pdp = self.0;
        Ok(match sent.api {
            Api::Evaluation => answer(pdp.evaluation(sent.body), |e| e.status()),
            Api::Evaluations => answer(pdp.evaluations(sent.body), |e| e.status()),
            Api::SearchSubject => answer(pdp.search_subject(sent.body), SearchError::status),
            Api::SearchResource => answer(pdp.search_resource(sent.body), SearchError::status),
            Api::SearchAction => answer(pdp.search_action(sent.body), SearchError::status),
        })
    }

    fn metadata(&mut self) -> Result<Reply, String> {
        Ok(answer(metadata(BASE), |_| 500))
    }

    fn base_url(&self) -> String {
        BASE.into()
    }
}

#[test]
fn every_level_of_the_certification_scenario_passes_in_the_core() {
    let results = certification::run(&mut Core(cert()));
    let table = certification::table("AuthZEN 1.0 certification (the core)", &results);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/authzen");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("certification.md"), &table).unwrap();
    }
    for r in &results {
        match &r.outcome {
            Outcome::Pass => {}
            // Only the tests of HTTP itself, which the edge's run covers.
            Outcome::NotApplicable => assert!(["c-2-4-3", "c-2-5-1", "c-5"].contains(&r.id)),
            Outcome::Fail(why) => panic!("{}: {why}\n{table}", r.id),
        }
    }
    assert_eq!(results.len(), 48, "{table}");
}

fn body(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn decide(pdp: &Pdp, request: Value) -> bool {
    pdp.evaluation(&body(&request)).unwrap().decision
}

fn ids(response: cedargate::authzen::SearchResponse) -> Vec<String> {
    response.results.into_iter().map(|r| r.id).collect()
}

#[test]
fn subject_and_resource_search_find_what_evaluations_permit() {
    let pdp = cert();
    let users = ["alice", "bob"];
    let records = ["record-1", "record-2"];
    let mut found_any = false;
    for action in ["read", "write", "delete"] {
        for record in records {
            let found = ids(pdp
                .search_subject(&body(&json!({
                    "subject": {"type": "user"}, "action": {"name": action},
                    "resource": {"type": "record", "id": record}
                })))
                .unwrap());
            let expected: Vec<String> = users
                .iter()
                .filter(|u| {
                    decide(
                        pdp,
                        json!({"subject": {"type": "user", "id": u}, "action": {"name": action},
                                       "resource": {"type": "record", "id": record}}),
                    )
                })
                .map(|u| (*u).to_owned())
                .collect();
            assert_eq!(found, expected, "{action} {record}");
            found_any |= !found.is_empty();
        }
        for user in users {
            let found = ids(pdp
                .search_resource(&body(&json!({
                    "subject": {"type": "user", "id": user}, "action": {"name": action},
                    "resource": {"type": "record"}
                })))
                .unwrap());
            let expected: Vec<String> = records
                .iter()
                .filter(|r| {
                    decide(
                        pdp,
                        json!({"subject": {"type": "user", "id": user}, "action": {"name": action},
                                       "resource": {"type": "record", "id": r}}),
                    )
                })
                .map(|r| (*r).to_owned())
                .collect();
            assert_eq!(found, expected, "{user} {action}");
        }
    }
    assert!(found_any);
    // The fixture's rules, seen through the searches.
    let writers = |record: &str| {
        ids(pdp
            .search_subject(&body(
                &json!({"subject": {"type": "user"}, "action": {"name": "write"},
                                          "resource": {"type": "record", "id": record}}),
            ))
            .unwrap())
    };
    assert_eq!(writers("record-1"), ["alice"]);
    assert_eq!(writers("record-2"), ["bob"]);
    // Properties a candidate's data contradicts make it no result: bob's data says admin.
    let managers = ids(pdp
        .search_subject(&body(&json!({
            "subject": {"type": "user", "properties": {"role": "manager"}},
            "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}
        })))
        .unwrap());
    assert_eq!(managers, ["alice"]);
    // An unknown action finds nothing, as an unknown type does.
    assert!(ids(pdp
        .search_resource(&body(&json!({"subject": {"type": "user", "id": "alice"},
                                       "action": {"name": "archive"}, "resource": {"type": "record"}})))
        .unwrap())
    .is_empty());
}

#[test]
fn search_pages_follow_their_tokens_to_the_end() {
    let pdp = cert();
    let question = json!({"subject": {"type": "user"}, "action": {"name": "read"},
                          "resource": {"type": "record", "id": "record-1"}});
    let all = pdp.search_subject(&body(&question)).unwrap();
    assert_eq!(all.page, None, "no page asked, none answered");
    assert_eq!(ids(all), ["alice", "bob"]);
    let mut asked = question.clone();
    asked["page"] = json!({"limit": 1});
    let first = pdp.search_subject(&body(&asked)).unwrap();
    let page = first.page.clone().unwrap();
    assert_eq!((page.count, page.total), (1, 2));
    assert!(!page.next_token.is_empty());
    assert_eq!(ids(first), ["alice"]);
    asked["page"] = json!({"limit": 1, "token": page.next_token});
    let second = pdp.search_subject(&body(&asked)).unwrap();
    let last = second.page.clone().unwrap();
    assert_eq!(ids(second), ["bob"]);
    assert_eq!(
        (last.next_token.as_str(), last.count, last.total),
        ("", 1, 2)
    );
    // A page without a limit is the rest; a page object alone is all, with an empty token.
    asked["page"] = json!({"token": page.next_token});
    assert_eq!(ids(pdp.search_subject(&body(&asked)).unwrap()), ["bob"]);
    asked["page"] = json!({});
    let whole = pdp.search_subject(&body(&asked)).unwrap();
    assert_eq!(whole.page.as_ref().map(|p| p.next_token.as_str()), Some(""));
    assert_eq!(ids(whole), ["alice", "bob"]);
    // Action Search pages the same way, by name.
    let actions = json!({"subject": {"type": "user", "id": "alice"},
                         "resource": {"type": "record", "id": "record-1"}, "page": {"limit": 1}});
    let first = pdp.search_action(&body(&actions)).unwrap();
    assert_eq!(first.results.len(), 1);
    assert_eq!(first.results[0].name, "read");
    let token = first.page.unwrap().next_token;
    let mut next = actions.clone();
    next["page"] = json!({"token": token});
    let rest = pdp.search_action(&body(&next)).unwrap();
    assert_eq!(rest.results.len(), 1);
    assert_eq!(rest.results[0].name, "write");
    // Tokens not given by a search, and a zero limit, are refused.
    for bad in ["nonsense", "c1.%%%", "c1.__8"] {
        asked["page"] = json!({"token": bad});
        assert_eq!(
            pdp.search_subject(&body(&asked)),
            Err(SearchError::PageToken),
            "{bad}"
        );
    }
    asked["page"] = json!({"limit": 0});
    let zero = pdp.search_subject(&body(&asked)).unwrap_err();
    assert_eq!(
        (zero.status(), zero.to_string().as_str()),
        (400, "page.limit must be at least 1")
    );
}

#[test]
fn action_properties_reach_the_policies_through_the_declared_context_member() {
    let pdp = cert();
    let delete = |properties: Value, context: Option<Value>| {
        let mut request = json!({"subject": {"type": "user", "id": "alice"},
                                 "action": {"name": "delete", "properties": properties},
                                 "resource": {"type": "record", "id": "record-1"}});
        if let Some(context) = context {
            request["context"] = context;
        }
        pdp.evaluation(&body(&request))
    };
    assert!(delete(json!({"soft": true}), None).unwrap().decision);
    assert!(!delete(json!({"soft": false}), None).unwrap().decision);
    // Absent: `context.action` is `{}`, and a hard delete.
    assert!(!delete(json!({}), None).unwrap().decision);
    // Undeclared properties are ignored, declared ones checked.
    assert!(
        delete(json!({"soft": true, "reason": "cleanup"}), None)
            .unwrap()
            .decision
    );
    let wrong = delete(json!({"soft": "yes"}), None).unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "context.action.soft must be true or false"
    );
    // The context cannot give the member itself.
    let reserved = delete(json!({}), Some(json!({"action": {"soft": true}}))).unwrap_err();
    assert_eq!(
        reserved.to_string(),
        "context.action is given by action.properties, not by the context"
    );
    // An action without the member ignores the properties, and a context member of that
    // name, as it ignores any undeclared context.
    assert!(decide(
        pdp,
        json!({"subject": {"type": "user", "id": "alice"},
                                "action": {"name": "read", "properties": {"soft": "x"}},
                                "resource": {"type": "record", "id": "record-1"},
                                "context": {"action": 1}})
    ));
}

#[test]
fn properties_merge_with_the_entity_data_by_one_rule() {
    let pdp = cert();
    let write = |subject: Value, resource: Value| {
        pdp.evaluation(&body(
            &json!({"subject": subject, "action": {"name": "write"}, "resource": resource}),
        ))
    };
    let archived = json!({"type": "record", "id": "record-2"});
    // The data's value, repeated or not, decides.
    assert!(
        write(json!({"type": "user", "id": "bob"}), archived.clone())
            .unwrap()
            .decision
    );
    assert!(
        write(
            json!({"type": "user", "id": "bob", "properties": {"role": "admin"}}),
            archived.clone()
        )
        .unwrap()
        .decision
    );
    // A property adds what the data lacks: alice has no role there.
    assert!(
        write(
            json!({"type": "user", "id": "alice", "properties": {"role": "admin"}}),
            archived.clone()
        )
        .unwrap()
        .decision
    );
    // A subject the data does not know is decided by its properties alone.
    assert!(
        write(
            json!({"type": "user", "id": "carol", "properties": {"role": "admin"}}),
            json!({"type": "record", "id": "record-9", "properties": {"status": "archived"}})
        )
        .unwrap()
        .decision
    );
    // A property may not change what the data holds.
    let conflict = write(
        json!({"type": "user", "id": "alice"}),
        json!({"type": "record", "id": "record-1", "properties": {"status": "archived"}}),
    )
    .unwrap_err();
    assert_eq!(
        (conflict.status(), conflict.to_string().as_str()),
        (
            400,
            "resource.properties.status differs from the decision point's entity data"
        )
    );
    // Undeclared properties are ignored; declared ones are checked.
    assert!(
        write(
            json!({"type": "user", "id": "alice", "properties": {"department": "Sales"}}),
            json!({"type": "record", "id": "record-1", "properties": {"owner": "bob"}})
        )
        .unwrap()
        .decision
    );
    let wrong = write(
        json!({"type": "user", "id": "alice", "properties": {"role": 7}}),
        archived,
    )
    .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "subject.properties.role must be a string"
    );
}

#[test]
fn a_search_input_the_data_does_not_hold_finds_nothing_unless_the_data_lacks_its_type() {
    // The cert data lists users and records: an unknown one finds nothing.
    let pdp = cert();
    assert!(
        pdp.search_action(&body(&json!({"subject": {"type": "user", "id": "carol"},
                                      "resource": {"type": "record", "id": "record-1"}})))
            .unwrap()
            .results
            .is_empty()
    );
    // Without any record in the data, a record is decided as given.
    let entities: Vec<Value> = serde_json::from_str::<Vec<Value>>(ENTITIES)
        .unwrap()
        .into_iter()
        .filter(|e| e["uid"]["type"] != "Cert::Record")
        .collect();
    let bundle =
        Bundle::load_with_entities(&source(), &Value::Array(entities).to_string()).unwrap();
    let partial = Pdp::new(bundle, MAPPING).unwrap();
    let found = partial
        .search_action(&body(&json!({"subject": {"type": "user", "id": "alice"},
                                      "resource": {"type": "record", "id": "record-7",
                                                   "properties": {"status": "active"}}})))
        .unwrap();
    let names: Vec<&str> = found.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["read", "write"]);
    // And a resource search has no candidates of that type.
    assert!(partial
        .search_resource(&body(&json!({"subject": {"type": "user", "id": "alice"},
                                        "action": {"name": "read"}, "resource": {"type": "record"}})))
        .unwrap()
        .results
        .is_empty());
}

#[test]
fn the_action_properties_member_must_be_a_record_where_declared() {
    let bundle = Bundle::load_with_entities(&source(), ENTITIES).unwrap();
    let mapping = |member: &str| {
        json!({"subject_types": {"user": "User"}, "resource_types": {"record": "Record"},
               "action_properties": member})
        .to_string()
    };
    assert!(Pdp::new(bundle.clone(), &mapping("action")).is_ok());
    assert_eq!(
        Pdp::new(bundle.clone(), &mapping("")).err(),
        Some(MappingFileError::EmptyName)
    );
    let schema = include_str!("../../policies/authzen-cert/schema.cedarschema")
        .replace("action: {\n        soft?: Bool,\n      },", "action: Long,");
    let policies = include_str!("../../policies/authzen-cert/policies.cedar").replace(
        "when { context.action has soft && context.action.soft }",
        "when { context.action == 1 }",
    );
    let flat = Bundle::load_with_entities(
        &BundleSource {
            schema,
            policies,
            ..source()
        },
        ENTITIES,
    )
    .unwrap();
    let refused = Pdp::new(flat, &mapping("action")).err().unwrap();
    assert_eq!(
        refused.to_string(),
        "authzen.json: action_properties is \"action\", but action delete declares context.action as another type than a record"
    );
}
