//! Request context: shapes bound against the schema and the allow-list, decisions with
//! injected time and values, and step-up decisions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{
    Bundle, BundleError, BundleSource, ConfigError, ContextConfig, ContextError, Gate, Outcome,
    Principal, RequestValues, StepUp, TokenKind, TokenValue, UnixTime,
};
use cedargate_test_support::*;
use serde_json::{Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn source() -> BundleSource {
    cedargate::examples::petstore_context_source()
}

fn allow_all() -> ContextConfig {
    ContextConfig {
        time: true,
        ip: true,
        country: true,
        headers: vec!["x-tenant".into()],
        token: vec![TokenValue::Acr, TokenValue::Amr, TokenValue::AuthTime],
    }
}

fn gate() -> Gate {
    Gate::enforcing(
        Bundle::load(&source()).unwrap(),
        &trust_config(),
        &allow_all(),
    )
    .unwrap()
}

fn principal(gate: &Gate, groups: &[&str], extra: Value) -> Principal {
    let mut claims = id_claims("alice", groups, NOW);
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    gate.trust()
        .insecure_principal_from_claims(ISSUER_A, TokenKind::Id, claims.as_object().unwrap())
        .unwrap()
}

fn office() -> RequestValues {
    let mut values = RequestValues::at(NOW);
    values.ip = Some("203.0.113.7".into());
    values.country = Some("CH".into());
    values.headers.insert("x-tenant".into(), "blue".into());
    values
}

fn decide(
    gate: &Gate,
    p: &Principal,
    method: &str,
    path: &str,
    values: &RequestValues,
) -> cedargate::Decision {
    gate.decide(p, method, path, values).unwrap().1
}

#[test]
fn the_context_bundle_loads_and_says_what_it_needs() {
    let bundle = Bundle::load(&source()).unwrap();
    let needs = bundle.context_needs();
    assert!(needs.time && needs.ip && needs.country);
    assert_eq!(needs.headers, ["x-tenant"]);
    assert_eq!(
        needs.token,
        [TokenValue::Acr, TokenValue::Amr, TokenValue::AuthTime]
    );
    assert!(bundle.depends_on_request_values("get /pets"));
    assert!(bundle.depends_on_request_values("delete /pets/{petId}"));
    // Token values are the same for every request of one token.
    assert!(!bundle.depends_on_request_values("get /pets/{petId}"));
}

#[test]
fn request_values_decide() {
    let gate = gate();
    let user = principal(&gate, &["AVP_User"], json!({}));
    let allowed = decide(&gate, &user, "GET", "/pets", &office());
    assert_eq!(allowed.outcome, Outcome::Allow);
    assert_eq!(allowed.policies, ["users-list-from-the-office"]);

    let with = |f: &dyn Fn(&mut RequestValues)| {
        let mut v = office();
        f(&mut v);
        decide(&gate, &user, "GET", "/pets", &v).outcome
    };
    assert_eq!(with(&|v| v.ip = Some("198.51.100.7".into())), Outcome::Deny);
    assert_eq!(
        with(&|v| v.ip = Some("203.0.113.255".into())),
        Outcome::Allow
    );
    assert_eq!(
        with(&|v| v.ip = Some("::ffff:203.0.113.7".into())),
        Outcome::Deny
    );
    assert_eq!(
        with(&|v| v.ip = None),
        Outcome::Deny,
        "a missing address denies"
    );
    assert_eq!(with(&|v| v.country = Some("DE".into())), Outcome::Deny);
    assert_eq!(with(&|v| v.country = None), Outcome::Deny);
    assert_eq!(
        with(&|v| {
            v.headers.insert("x-tenant".into(), "red".into());
        }),
        Outcome::Deny
    );
    assert_eq!(
        with(&|v| {
            v.headers.clear();
        }),
        Outcome::Deny
    );
    // A header the bundle does not declare is not seen, whatever it says.
    assert_eq!(
        with(&|v| {
            v.headers.insert("x-admin".into(), "yes".into());
        }),
        Outcome::Allow
    );

    // An address that does not parse denies with an error instead of going missing.
    let bad = {
        let mut v = office();
        v.ip = Some("203.0.113.7; drop".into());
        decide(&gate, &user, "GET", "/pets", &v)
    };
    assert_eq!(bad.outcome, Outcome::Deny);
    assert!(
        bad.errors.iter().any(|e| e.contains("not an IP address")),
        "{:?}",
        bad.errors
    );
}

#[test]
fn token_values_decide() {
    let gate = gate();
    let with_amr = |amr: Value| {
        let user = principal(&gate, &["AVP_User"], json!({ "amr": amr }));
        decide(&gate, &user, "GET", "/pets/7", &RequestValues::at(NOW))
    };
    assert_eq!(with_amr(json!(["pwd"])).outcome, Outcome::Allow);
    assert_eq!(with_amr(json!(["otp", "pwd"])).outcome, Outcome::Allow);
    assert_eq!(with_amr(json!(["otp"])).outcome, Outcome::Deny);
    let malformed = with_amr(json!("pwd"));
    assert_eq!(malformed.outcome, Outcome::Deny);
    assert!(
        malformed
            .errors
            .iter()
            .any(|e| e.contains("amr claim is not an array")),
        "{:?}",
        malformed.errors
    );
    let none = principal(&gate, &["AVP_User"], json!({}));
    assert_eq!(
        decide(&gate, &none, "GET", "/pets/7", &RequestValues::at(NOW)).outcome,
        Outcome::Deny
    );
}

#[test]
fn step_up_is_asked_for_only_when_it_would_allow() {
    let gate = gate();
    let asked = StepUp {
        acr_values: vec!["Multi_Factor".into()],
        max_age: Some(600),
    };
    let admin = |extra: Value| principal(&gate, &["AVP_Admin"], extra);
    let at = |t: UnixTime| RequestValues::at(t);

    // Signed in with a password only: step up.
    let weak = decide(
        &gate,
        &admin(json!({ "acr": "Single_Factor", "auth_time": NOW.0 })),
        "DELETE",
        "/pets/7",
        &at(NOW),
    );
    assert_eq!(weak.outcome, Outcome::Deny);
    assert_eq!(weak.policies, ["delete-needs-recent-mfa"]);
    assert_eq!(weak.step_up.as_ref(), Some(&asked));

    // Multi-factor, recently: allowed.
    let strong = json!({ "acr": "Multi_Factor", "auth_time": NOW.0 - 60 });
    let ok = decide(&gate, &admin(strong.clone()), "DELETE", "/pets/7", &at(NOW));
    assert_eq!(ok.outcome, Outcome::Allow);
    assert_eq!(ok.step_up, None);

    // The same token eleven minutes later: the injected time decides, step up again.
    let later = decide(
        &gate,
        &admin(strong),
        "DELETE",
        "/pets/7",
        &at(NOW.offset(600)),
    );
    assert_eq!(later.step_up.as_ref(), Some(&asked));
    assert_eq!(
        decide(
            &gate,
            &admin(json!({ "acr": "Multi_Factor", "auth_time": NOW.0 - 60 })),
            "DELETE",
            "/pets/7",
            &at(NOW.offset(540))
        )
        .outcome,
        Outcome::Allow
    );

    // No acr at all: step up.
    assert!(
        decide(&gate, &admin(json!({})), "DELETE", "/pets/7", &at(NOW))
            .step_up
            .is_some()
    );

    // A user no policy lets delete: a stronger sign-in would not help, a plain deny.
    let user = principal(&gate, &["AVP_User"], json!({ "acr": "Single_Factor" }));
    let plain = decide(&gate, &user, "DELETE", "/pets/7", &at(NOW));
    assert_eq!(plain.outcome, Outcome::Deny);
    assert_eq!(plain.step_up, None);
}

#[test]
fn step_ups_merge_and_a_regular_forbid_wins() {
    let policies = format!(
        "{}\n{}",
        source().policies,
        r#"
@id("delete-needs-very-recent-sign-in")
@step_up_max_age("60")
@step_up_acr_values("Multi_Factor urn:cedargate:hwk")
forbid (principal, action == PetStore::Action::"delete /pets/{petId}", resource)
unless { context.token has auth_time && context.request.time - context.token.auth_time <= 60 };
"#
    );
    let bundle = Bundle::load(&BundleSource {
        policies: policies.clone(),
        ..source()
    })
    .unwrap();
    let gate = Gate::enforcing(bundle, &trust_config(), &allow_all()).unwrap();
    let admin = principal(
        &gate,
        &["AVP_Admin"],
        json!({ "acr": "Single_Factor", "auth_time": NOW.0 - 120 }),
    );
    let d = decide(&gate, &admin, "DELETE", "/pets/7", &RequestValues::at(NOW));
    assert_eq!(
        d.policies,
        [
            "delete-needs-recent-mfa",
            "delete-needs-very-recent-sign-in"
        ]
    );
    assert_eq!(
        d.step_up,
        Some(StepUp {
            acr_values: vec!["Multi_Factor".into(), "urn:cedargate:hwk".into()],
            max_age: Some(60),
        })
    );

    // A regular forbid that also applies: no sign-in helps.
    let blocked = format!(
        "{policies}\n@id(\"no-deleting-pet-7\")\nforbid (principal, action == PetStore::Action::\"delete /pets/{{petId}}\", resource) when {{ context.pathParameters.petId == \"7\" }};"
    );
    let bundle = Bundle::load(&BundleSource {
        policies: blocked,
        ..source()
    })
    .unwrap();
    let gate = Gate::enforcing(bundle, &trust_config(), &allow_all()).unwrap();
    let admin = principal(&gate, &["AVP_Admin"], json!({ "acr": "Single_Factor" }));
    let d = decide(&gate, &admin, "DELETE", "/pets/7", &RequestValues::at(NOW));
    assert!(
        d.policies.contains(&"no-deleting-pet-7".to_owned()),
        "{:?}",
        d.policies
    );
    assert_eq!(d.step_up, None);
}

#[test]
fn step_up_annotations_are_checked_when_loaded() {
    let with = |annotations: &str, effect: &str| {
        let policies = format!(
            "{}\n@id(\"x\")\n{annotations}\n{effect} (principal, action == PetStore::Action::\"delete /pets/{{petId}}\", resource);",
            source().policies
        );
        Bundle::load(&BundleSource {
            policies,
            ..source()
        })
    };
    let refused = |annotations: &str, effect: &str, needle: &str| match with(annotations, effect) {
        Err(BundleError::StepUp { id, reason }) => {
            assert_eq!(id, "x");
            assert!(reason.contains(needle), "{reason}");
        }
        other => panic!("{annotations} {effect}: {other:?}"),
    };
    refused("@step_up_max_age(\"600\")", "permit", "belong on a forbid");
    refused("@step_up_max_age(\"ten\")", "forbid", "whole number");
    refused("@step_up_max_age(\"-1\")", "forbid", "whole number");
    refused("@step_up_max_age(\"+5\")", "forbid", "whole number");
    refused("@step_up_acr_values(\" \")", "forbid", "empty");
    refused("@step_up_acr_values(\"a\\\"b\")", "forbid", "quotes");
    assert!(with("@step_up_max_age(\"0\")", "forbid").is_ok());
}

#[test]
fn shapes_are_bound_against_the_schema() {
    // Policies that read nothing, so that only the routes' check speaks.
    let loaded = |schema: String| {
        Bundle::load(&BundleSource {
            schema,
            policies: "@id(\"all\") permit (principal, action, resource);".into(),
            ..source()
        })
    };
    let with_request = |fields: &str| {
        let schema = source().schema.replace(
            "headers: {\n      \"x-tenant\"?: String,\n    },",
            &format!("headers: {{ \"x-tenant\"?: String }},\n    {fields}"),
        );
        assert_ne!(schema, source().schema, "the schema text changed");
        loaded(schema)
    };
    let refused = |result: Result<Bundle, BundleError>, needle: &str| match result {
        Err(BundleError::Route(message)) => assert!(message.contains(needle), "{message}"),
        other => panic!("{needle}: {other:?}"),
    };
    refused(
        with_request("method?: String,"),
        "context.request.method cannot be filled",
    );
    let schema = source().schema.replace("ip?: ipaddr", "ip: ipaddr");
    refused(loaded(schema), "context.request.ip must be optional");
    let schema = source().schema.replace("ip?: ipaddr", "ip?: String");
    refused(loaded(schema), "context.request.ip must be an ipaddr");
    let schema = source().schema.replace("time: Long", "time: String");
    refused(loaded(schema), "context.request.time must be a Long");
    let schema = source()
        .schema
        .replace("\"x-tenant\"?: String", "\"X-Tenant\"?: String");
    refused(loaded(schema), "not a lowercase header name");
    let schema = source()
        .schema
        .replace("\"x-tenant\"?: String", "\"authorization\"?: String");
    refused(loaded(schema), "carries credentials");
    let schema = source()
        .schema
        .replace("\"x-tenant\"?: String", "\"x-tenant\": String");
    refused(loaded(schema), "must be an optional String");
    let schema = source().schema.replace("acr?: String", "acr: String");
    refused(loaded(schema), "context.token.acr must be optional");
    let schema = source().schema.replace("amr?: Set<String>", "amr?: String");
    refused(loaded(schema), "context.token.amr must be Set<String>");
    let schema = source()
        .schema
        .replace("auth_time?: Long", "auth_time?: Long, nonce?: String");
    refused(loaded(schema), "context.token.nonce cannot be filled");
}

#[test]
fn the_allow_list_must_fill_every_declared_value() {
    let bundle = || Bundle::load(&source()).unwrap();
    assert!(bundle().check_context(&allow_all()).is_ok());
    let without = |f: &dyn Fn(&mut ContextConfig)| {
        let mut config = allow_all();
        f(&mut config);
        Gate::enforcing(bundle(), &trust_config(), &config).map(|_| ())
    };
    let not_allowed = |result: Result<(), ConfigError>, value: &str| match result {
        Err(ConfigError::Context(ContextError::NotAllowed { value: v, .. })) => {
            assert_eq!(v, value)
        }
        other => panic!("{value}: {other:?}"),
    };
    not_allowed(without(&|c| c.time = false), "request.time");
    not_allowed(without(&|c| c.ip = false), "request.ip");
    not_allowed(without(&|c| c.country = false), "request.country");
    not_allowed(
        without(&|c| c.headers.clear()),
        "request.headers[\"x-tenant\"]",
    );
    not_allowed(
        without(&|c| c.token.retain(|t| *t != TokenValue::Amr)),
        "token.amr",
    );
    // Credentials never go into a context, even when nothing declares them.
    assert!(matches!(
        without(&|c| c.headers.push("cookie".into())),
        Err(ConfigError::Context(ContextError::Header(_)))
    ));
    // More than is declared is fine; tools that decide without request values bind anyway.
    assert!(without(&|c| c.headers.push("x-extra".into())).is_ok());
    assert!(Gate::new(bundle(), &trust_config()).is_ok());
    // The PetStore bundle declares nothing: an empty allow-list binds.
    assert!(
        Gate::enforcing(
            cedargate::examples::petstore().unwrap(),
            &trust_config(),
            &ContextConfig::default()
        )
        .is_ok()
    );
    // The allow-list is read strictly.
    assert!(
        serde_json::from_value::<ContextConfig>(json!({ "time": true, "headrs": [] })).is_err()
    );
    let read: ContextConfig =
        serde_json::from_value(json!({ "ip": true, "token": ["acr", "auth_time"] })).unwrap();
    assert_eq!(read.token, [TokenValue::Acr, TokenValue::AuthTime]);
}

#[test]
fn the_matrix_says_what_an_action_depends_on() {
    let gate = gate();
    let user = principal(&gate, &["AVP_User"], json!({ "amr": ["pwd"] }));
    let rows = gate.bundle().allowed_actions(&user);
    let row = |action: &str| rows.iter().find(|r| r.action == action).unwrap();
    let list = row("get /pets");
    assert_eq!(list.outcome, None);
    assert_eq!(
        list.depends_on,
        ["request.country", "request.headers.x-tenant", "request.ip"]
    );
    let one = row("get /pets/{petId}");
    assert_eq!(one.outcome, None);
    assert_eq!(one.depends_on, ["token.amr"]);
    let admin = principal(&gate, &["AVP_Admin"], json!({}));
    let rows = gate.bundle().allowed_actions(&admin);
    let delete = rows
        .iter()
        .find(|r| r.action == "delete /pets/{petId}")
        .unwrap();
    assert_eq!(delete.outcome, None);
    assert_eq!(
        delete.depends_on,
        ["request.time", "token.acr", "token.auth_time"]
    );
    // Admins may list without conditions: known, nothing to depend on.
    let list = rows.iter().find(|r| r.action == "get /pets").unwrap();
    assert_eq!(list.outcome, Some(Outcome::Allow));
    assert!(list.depends_on.is_empty());
}

#[test]
fn a_header_the_edge_never_forwards_is_no_context_header() {
    // The policies would decide on a value the origin never sees: refused when the
    // allow-list is bound and when a schema declares it.
    let bundle = Bundle::load(&source()).unwrap();
    for name in [
        "x-forwarded-for",
        "x-forwarded-host",
        "forwarded",
        "x-real-ip",
        "true-client-ip",
        "x-client-ip",
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "te",
        "upgrade",
        "x-cedargate-subject",
        "x-cedargate-decision",
        "x-http-method-override",
        "x-original-url",
    ] {
        assert!(cedargate::context::never_forwarded(name), "{name}");
        let mut config = allow_all();
        config.headers.push(name.into());
        match bundle.check_context(&config) {
            Err(ContextError::Header(message)) => assert_eq!(
                message,
                format!(
                    "\"{name}\" is never forwarded to the origin, so a policy cannot decide on it"
                )
            ),
            other => panic!("{name}: {other:?}"),
        }
        let declared = source().schema.replace(
            r#""x-tenant"?: String"#,
            &format!(r#""x-tenant"?: String, "{name}"?: String"#),
        );
        assert_ne!(declared, source().schema);
        let err = Bundle::load(&BundleSource {
            schema: declared,
            ..source()
        })
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&format!("\"{name}\" is never forwarded to the origin")),
            "{err}"
        );
    }
    // The forwarded ones stay allowed; the credentials are refused as credentials.
    assert!(!cedargate::context::never_forwarded("x-tenant"));
    assert!(!cedargate::context::never_forwarded("authorization"));
    assert!(cedargate::context::never_forwarded("X-Forwarded-For"));
    let mut config = allow_all();
    config.headers.push("authorization".into());
    assert!(matches!(
        bundle.check_context(&config),
        Err(ContextError::Header(message)) if message.contains("carries credentials")
    ));
}
