//! The edge's route decisions read a bundle's entity data: a verified token's principal is
//! joined with what `entities.json` holds about it (parents, attributes), so the roles only
//! the directory knows decide a request. Checked with the AuthZEN interop Todo bundle: its
//! API-gateway decision file, asked as real requests with tokens of each subject.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{Bundle, BundleSource, Gate, Outcome, RequestValues, TrustConfig, UnixTime};
use cedargate_test_support::*;
use serde_json::{Value, json};

const RICK: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";

fn source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/authzen-todo/schema.cedarschema").into(),
        policies: include_str!("../../policies/authzen-todo/policies.cedar").into(),
        routes: include_str!("../../policies/authzen-todo/routes.json").into(),
    }
}

fn with_data() -> Bundle {
    Bundle::load_with_entities(
        &source(),
        include_str!("../../policies/authzen-todo/entities.json"),
    )
    .unwrap()
}

/// Access tokens of people; `group_claim` names a claim whose values are `Role`s.
fn gate(bundle: Bundle, group_claim: Option<&str>) -> Gate {
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE],
        "group_claim": group_claim, "group_type": "Role",
        "claims": [{ "claim": "email", "type": "String" }],
    }] }))
    .unwrap();
    Gate::new(bundle, &config).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER_A, "aud": [API_AUDIENCE], "sub": sub, "client_id": "todo-spa",
        "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
    })
}

async fn principal(gate: &Gate, claims: &Value) -> cedargate::Principal {
    let token = mint(claims, "a-rsa-1", "at+jwt");
    let backend = backends().remove(0);
    gate.authenticate(&token, key_sets(), &backend, NOW)
        .await
        .unwrap()
        .1
}

/// What the edge decides for `method path` (a template's parameters filled in).
fn decide(gate: &Gate, principal: &cedargate::Principal, method: &str, template: &str) -> bool {
    let path = template
        .replace("{userId}", "rick%40the-citadel.com")
        .replace("{todoId}", "7");
    let (_, decision) = gate
        .decide(principal, method, &path, &RequestValues::at(UnixTime(0)))
        .unwrap();
    decision.is_allowed()
}

async_test! {
    async fn the_gateway_decision_file_holds_for_real_requests_with_each_subjects_token() {
        let gate = gate(with_data(), None);
        let file: Value =
            serde_json::from_str(include_str!("../../tests/authzen/interop/gateway-decisions.json"))
                .unwrap();
        let cases = file["evaluation"].as_array().unwrap();
        assert_eq!(cases.len(), 25);
        let mut wrong = Vec::new();
        for case in cases {
            let request = &case["request"];
            let subject = request["subject"]["id"].as_str().unwrap();
            let method = request["action"]["name"].as_str().unwrap();
            let template = request["resource"]["id"].as_str().unwrap();
            let expected = case["expected"].as_bool().unwrap();
            let principal = principal(&gate, &claims(subject)).await;
            if decide(&gate, &principal, method, template) != expected {
                wrong.push(format!("{subject} {method} {template}: expected {expected}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}

async_test! {
    async fn without_the_data_the_same_tokens_hold_no_roles() {
        // The bundle without entities.json: Rick's token alone says nothing of his roles.
        let gate = gate(Bundle::load(&source()).unwrap(), None);
        let rick = principal(&gate, &claims(RICK)).await;
        assert!(decide(&gate, &rick, "GET", "/todos"));
        assert!(!decide(&gate, &rick, "POST", "/todos"));
        assert!(!decide(&gate, &rick, "DELETE", "/todos/{todoId}"));
    }
}

async_test! {
    async fn a_subject_the_data_does_not_know_gets_only_what_anyone_gets() {
        let gate = gate(with_data(), None);
        let stranger = principal(&gate, &claims("someone-else")).await;
        assert!(decide(&gate, &stranger, "GET", "/todos"));
        assert!(!decide(&gate, &stranger, "POST", "/todos"));
        assert!(!decide(&gate, &stranger, "PUT", "/todos/{todoId}"));
    }
}

async_test! {
    async fn the_tokens_groups_add_to_the_datas_roles() {
        let gate = gate(with_data(), Some("roles"));
        // Beth is a viewer in the data; her token also makes her an editor.
        let mut beth = claims("beth@the-smiths.com");
        let viewer = principal(&gate, &beth).await;
        assert!(!decide(&gate, &viewer, "POST", "/todos"));
        beth["roles"] = json!(["editor"]);
        // A claim the data also gives, with the data's value: the join fits.
        beth["email"] = json!("beth@the-smiths.com");
        let editor = principal(&gate, &beth).await;
        assert!(decide(&gate, &editor, "POST", "/todos"));
        // Rick's token names no role; the data's admin and evil_genius still count.
        let mut rick = claims(RICK);
        rick["roles"] = json!([]);
        let rick = principal(&gate, &rick).await;
        assert!(decide(&gate, &rick, "DELETE", "/todos/{todoId}"));
        assert!(decide(&gate, &rick, "PUT", "/todos/{todoId}"));
    }
}

async_test! {
    async fn the_matrix_reads_the_data_too() {
        let gate = gate(with_data(), None);
        let rick = principal(&gate, &claims(RICK)).await;
        let stranger = principal(&gate, &claims("someone-else")).await;
        let outcome = |p: &cedargate::Principal, action: &str| {
            gate.bundle()
                .allowed_actions(p)
                .into_iter()
                .find(|d| d.action == action)
                .and_then(|d| d.outcome)
        };
        assert_eq!(outcome(&rick, "post /todos"), Some(Outcome::Allow));
        assert_eq!(outcome(&stranger, "post /todos"), Some(Outcome::Deny));
        assert_eq!(outcome(&stranger, "get /todos"), Some(Outcome::Allow));
    }
}

async_test! {
    async fn the_token_and_the_entity_data_must_agree_on_an_attribute_both_give() {
        let source = BundleSource {
            schema: r#"namespace T {
              entity Role;
              entity User in [Role] { email?: String, team?: String, tags?: Set<String> };
              entity Api;
              action "get /a" appliesTo { principal: [User], resource: [Api] };
              action "get /b" appliesTo { principal: [User], resource: [Api] };
            }"#
            .into(),
            policies: r#"
              @id("token-email")
              permit (principal, action == T::Action::"get /a", resource)
              when { principal has email && principal.email == "token@example.test" };
              @id("data-team")
              permit (principal, action == T::Action::"get /b", resource)
              when { principal has team && principal.team == "blue" };
            "#
            .into(),
            routes: json!({ "namespace": "T", "resource": { "type": "Api", "id": "api" },
                            "routes": ["get /a", "get /b"] })
            .to_string(),
        };
        let data = json!([{ "uid": { "type": "T::User", "id": "u" },
                            "attrs": { "email": "data@example.test", "team": "blue",
                                       "tags": ["a", "b"] },
                            "parents": [] }]);
        let bundle = Bundle::load_with_entities(&source, &data.to_string()).unwrap();
        let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
            "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE],
            "group_claim": null,
            "claims": [
                { "claim": "email", "type": "String" },
                { "claim": "tags", "type": "Set<String>" },
            ],
        }] }))
        .unwrap();
        let gate = Gate::new(bundle.clone(), &config).unwrap();
        let decide = |p: &cedargate::Principal, path: &str| {
            gate.decide(p, "GET", path, &RequestValues::at(UnixTime(0)))
                .unwrap()
                .1
        };

        // Route decisions: a claim the data gives otherwise denies, and says which one.
        let mut other_email = claims("u");
        other_email["email"] = json!("token@example.test");
        let other_email = principal(&gate, &other_email).await;
        for path in ["/a", "/b"] {
            let decision = decide(&other_email, path);
            assert!(!decision.is_allowed(), "{path}: the token's email does not win");
            assert_eq!(
                decision.errors,
                [r#"the token and the entity data disagree on attribute email of T::User::"u""#],
                "{path}"
            );
        }
        // The matrix too.
        for action in gate.bundle().allowed_actions(&other_email) {
            assert_eq!(action.outcome, Some(Outcome::Deny), "{}", action.action);
            assert!(action.errors[0].contains("disagree on attribute email"), "{:?}", action.errors);
        }
        // The same values, a set in another order or with repeats: no conflict.
        let mut same = claims("u");
        same["email"] = json!("data@example.test");
        same["tags"] = json!(["b", "a", "b"]);
        let same = principal(&gate, &same).await;
        assert!(!decide(&same, "/a").is_allowed());
        let allowed = decide(&same, "/b");
        assert!(allowed.is_allowed(), "{:?}", allowed.errors);
        let mut fewer_tags = claims("u");
        fewer_tags["tags"] = json!(["a"]);
        let fewer_tags = principal(&gate, &fewer_tags).await;
        assert_eq!(
            decide(&fewer_tags, "/b").errors,
            [r#"the token and the entity data disagree on attribute tags of T::User::"u""#]
        );
        // A claim the token does not carry is the data's.
        let without = principal(&gate, &claims("u")).await;
        assert!(!decide(&without, "/a").is_allowed(), "the data's email is used");
        assert!(decide(&without, "/b").is_allowed(), "the data's team is added");

        // AuthZEN questions about the same data hold to the same rule: a property the data
        // gives otherwise is refused, naming it; the same value written otherwise is none.
        let pdp = cedargate::authzen::Pdp::new(
            bundle,
            &json!({ "subject_types": { "user": "User" }, "resource_types": { "api": "Api" } })
                .to_string(),
        )
        .unwrap();
        let ask = |properties: Value| {
            pdp.evaluation(
                &serde_json::to_vec(&json!({
                    "subject": { "type": "user", "id": "u", "properties": properties },
                    "action": { "name": "get /b" },
                    "resource": { "type": "api", "id": "api" },
                }))
                .unwrap(),
            )
            .map(|r| r.decision)
        };
        let conflict = ask(json!({ "email": "token@example.test" })).unwrap_err();
        assert!(conflict.to_string().contains("subject.properties.email"), "{conflict}");
        let conflict = ask(json!({ "tags": ["a"] })).unwrap_err();
        assert!(conflict.to_string().contains("subject.properties.tags"), "{conflict}");
        assert_eq!(ask(json!({ "email": "data@example.test", "tags": ["b", "a", "b"] })), Ok(true));
    }
}

async_test! {
    async fn the_bundle_endpoint_tells_a_caller_its_own_data_and_nobody_elses() {
        let gate = gate(with_data(), None);
        let full = gate.bundle();
        let rick = principal(&gate, &claims(RICK)).await;
        let doc = cedargate::wire::BundleEndpoint::new(full, 1, &rick);
        let ids: Vec<String> = doc
            .entities
            .iter()
            .flatten()
            .map(|e| format!("{}::{}", e["uid"]["type"].as_str().unwrap(), e["uid"]["id"].as_str().unwrap()))
            .collect();
        assert_eq!(
            ids,
            [
                "TodoApp::Role::admin",
                "TodoApp::Role::evil_genius",
                format!("TodoApp::User::{RICK}").as_str(),
                "TodoApp::User::rick@the-citadel.com",
            ]
        );
        // Through the wire and back, the caller's bundle decides as the edge does.
        let wire = serde_json::to_string(&doc).unwrap();
        let doc: cedargate::wire::BundleEndpoint = serde_json::from_str(&wire).unwrap();
        let held = doc.bundle().unwrap();
        assert_eq!(held.text_version(), full.text_version());
        assert_eq!(doc.text_version, full.text_version().to_string());
        assert_ne!(held.version(), full.version(), "it holds only part of the data");
        let outcomes = |bundle: &Bundle| -> Vec<(String, Option<Outcome>)> {
            bundle
                .allowed_actions(&rick)
                .into_iter()
                .map(|d| (d.action, d.outcome))
                .collect()
        };
        assert_eq!(outcomes(&held), outcomes(full));
        assert!(outcomes(&held).contains(&("delete /todos/{todoId}".into(), Some(Outcome::Allow))));

        // Someone the data does not know learns nothing of it.
        let stranger = principal(&gate, &claims("someone-else")).await;
        let doc = cedargate::wire::BundleEndpoint::new(full, 1, &stranger);
        assert_eq!(doc.entities, Some(Vec::new()));
        // Without entity data there is no member, and both versions are the same.
        let plain = Bundle::load(&source()).unwrap();
        let doc = cedargate::wire::BundleEndpoint::new(&plain, 1, &stranger);
        assert_eq!(doc.entities, None);
        let written = serde_json::to_value(&doc).unwrap();
        assert!(written.get("entities").is_none(), "{written}");
        assert!(written.get("text_version").is_some());
        assert_eq!(plain.text_version(), plain.version());
        // What a person may do on a decision point's resources is the edge's to add: absent
        // from a new document and left out when written, so a document without it (an older
        // edge's) reads; read back as written when present, ids only.
        assert_eq!(doc.permitted_resources, None);
        assert!(written.get("permitted_resources").is_none(), "{written}");
        let read: cedargate::wire::BundleEndpoint = serde_json::from_value(written).unwrap();
        assert_eq!(read, doc);
        let mut listed = doc.clone();
        listed.permitted_resources = Some(vec![cedargate::wire::PermittedResources {
            resource_type: "record".into(),
            action: "edit".into(),
            ids: vec!["101".into(), "107".into()],
        }]);
        let written = serde_json::to_value(&listed).unwrap();
        assert_eq!(
            written["permitted_resources"],
            json!([{ "resource_type": "record", "action": "edit", "ids": ["101", "107"] }])
        );
        let read: cedargate::wire::BundleEndpoint = serde_json::from_value(written).unwrap();
        assert_eq!(read, listed);
    }
}

/// The Todo bundle with the API itself placed in the data: `Application::"Todo"` is in
/// `Env::"frozen"`, and a `forbid` stops every request to a frozen application.
fn frozen() -> Bundle {
    let schema = include_str!("../../policies/authzen-todo/schema.cedarschema").replace(
        "entity Application;",
        "entity Env;\n  entity Application in [Env];",
    );
    let policies = format!(
        "{}\n@id(\"frozen\")\nforbid (principal, action, resource in TodoApp::Env::\"frozen\");\n",
        include_str!("../../policies/authzen-todo/policies.cedar")
    );
    let mut data: Vec<Value> =
        serde_json::from_str(include_str!("../../policies/authzen-todo/entities.json")).unwrap();
    data.push(
        json!({ "uid": { "type": "TodoApp::Env", "id": "frozen" }, "attrs": {}, "parents": [] }),
    );
    data.push(json!({
        "uid": { "type": "TodoApp::Application", "id": "Todo" }, "attrs": {},
        "parents": [{ "type": "TodoApp::Env", "id": "frozen" }]
    }));
    let source = BundleSource {
        schema,
        policies,
        routes: source().routes,
    };
    Bundle::load_with_entities(&source, &serde_json::to_string(&data).unwrap()).unwrap()
}

async_test! {
    async fn what_the_data_holds_about_the_resource_decides_too() {
        let gate = gate(frozen(), None);
        // Rick (whom the data knows) and a stranger (whom it does not) alike: the data puts
        // the API in a frozen environment, so nothing is allowed.
        for sub in [RICK, "someone-else"] {
            let who = principal(&gate, &claims(sub)).await;
            for (method, template) in [("GET", "/todos"), ("POST", "/todos"), ("DELETE", "/todos/{todoId}")] {
                assert!(!decide(&gate, &who, method, template), "{sub}: {method} {template}");
            }
            let allowed: Vec<String> = gate
                .bundle()
                .allowed_actions(&who)
                .into_iter()
                .filter(|d| d.outcome == Some(Outcome::Allow))
                .map(|d| d.action)
                .collect();
            assert!(allowed.is_empty(), "{sub}: the matrix allows {allowed:?}");
        }
        // The bundle endpoint tells a caller about the API too, so the app predicts the same.
        let rick = principal(&gate, &claims(RICK)).await;
        let doc = cedargate::wire::BundleEndpoint::new(gate.bundle(), 1, &rick);
        let held = doc.bundle().unwrap();
        assert!(held.allowed_actions(&rick).iter().all(|d| d.outcome != Some(Outcome::Allow)));
        let stranger = principal(&gate, &claims("someone-else")).await;
        let doc = cedargate::wire::BundleEndpoint::new(gate.bundle(), 1, &stranger);
        let ids: Vec<&str> = doc.entities.iter().flatten().map(|e| e["uid"]["type"].as_str().unwrap()).collect();
        assert_eq!(ids, ["TodoApp::Application", "TodoApp::Env"]);
    }
}

async_test! {
    async fn a_forbid_on_the_resources_place_in_the_data_stops_anonymous_callers_too() {
        // The access bundle, its API placed by the entity data in a frozen environment that a
        // forbid closes: every caller is decided against the same data, with a token or
        // without, on the public route too.
        let frozen = BundleSource {
            schema: include_str!("../../policies/petstore-access/schema.cedarschema").replace(
                "  entity Application;\n",
                "  entity Env;\n  entity Application in [Env];\n",
            ),
            policies: format!(
                "{}\n@id(\"frozen\")\nforbid (principal, action, resource in PetStore::Env::\"frozen\");\n",
                include_str!("../../policies/petstore-access/policies.cedar")
            ),
            routes: include_str!("../../policies/petstore-access/routes.json").into(),
        };
        let data = json!([
            { "uid": { "type": "PetStore::Application", "id": "PetStore" }, "attrs": {},
              "parents": [{ "type": "PetStore::Env", "id": "frozen" }] },
        ]);
        let bundle = Bundle::load_with_entities(&frozen, &data.to_string()).unwrap();
        let values = RequestValues::at(UnixTime(0));
        let route = bundle.resolve("GET", "/health").unwrap();
        assert!(route.public);
        let anonymous = bundle.authorize_anonymous(&route, &values).unwrap();
        assert!(!anonymous.is_allowed());
        assert_eq!(anonymous.policies, ["frozen"]);

        let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
            "issuer": ISSUER_A, "token": "access", "caller": "user", "audiences": [API_AUDIENCE],
            "token_type": "at+jwt", "group_claim": "groups",
        }] }))
        .unwrap();
        let gate = Gate::new(bundle, &config).unwrap();
        let (_, anonymous) = gate.decide_anonymous("GET", "/health", &values).unwrap();
        assert_eq!(anonymous.policies, ["frozen"]);
        let mut admin = claims("alice");
        admin["groups"] = json!(["AVP_Admin"]);
        let admin = principal(&gate, &admin).await;
        let (_, decision) = gate.decide(&admin, "GET", "/health", &values).unwrap();
        assert!(!decision.is_allowed());
        assert_eq!(decision.policies, ["frozen"]);

        // Without the data the API is in no environment: the public route is open to all.
        let open = Bundle::load(&frozen).unwrap();
        let route = open.resolve("GET", "/health").unwrap();
        assert!(open.authorize_anonymous(&route, &values).unwrap().is_allowed());
    }
}
