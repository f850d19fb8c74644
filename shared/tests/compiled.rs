//! Bundles loaded from their compiled form (`Bundle::compiled`, `Bundle::load_compiled`): the
//! same bundle as from the text, decided the same, and every form that is not one refused
//! with the part it is wrong in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{Bundle, BundleError, BundleSource, CompiledBundle, Gate, RouteError, TokenKind};
use cedargate_test_support::requests::{expand, table};
use cedargate_test_support::*;
use serde_json::{Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! folder {
    ($name:literal) => {
        BundleSource {
            schema: include_str!(concat!("../../policies/", $name, "/schema.cedarschema")).into(),
            policies: include_str!(concat!("../../policies/", $name, "/policies.cedar")).into(),
            routes: include_str!(concat!("../../policies/", $name, "/routes.json")).into(),
        }
    };
}

/// Every policy folder of the repository, with its entity data where it has any.
fn folders() -> Vec<(&'static str, BundleSource, Option<&'static str>)> {
    vec![
        ("petstore", folder!("petstore"), None),
        ("petstore-access", folder!("petstore-access"), None),
        ("petstore-context", folder!("petstore-context"), None),
        (
            "authzen-todo",
            folder!("authzen-todo"),
            Some(include_str!("../../policies/authzen-todo/entities.json")),
        ),
    ]
}

/// The compiled form after a trip through JSON, as a client receives it.
fn over_the_wire(bundle: &Bundle) -> CompiledBundle {
    serde_json::from_str(&serde_json::to_string(bundle.compiled()).unwrap()).unwrap()
}

#[test]
fn every_policy_folder_loads_from_its_compiled_form_as_from_its_text() {
    for (name, source, entities) in folders() {
        let from_text = match entities {
            Some(data) => Bundle::load_with_entities(&source, data),
            None => Bundle::load(&source),
        }
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(from_text.source().is_some(), "{name}");
        let compiled = over_the_wire(&from_text);
        let held = Bundle::load_compiled(&compiled, entities)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(held.text_version(), from_text.text_version(), "{name}");
        assert_eq!(held.version(), from_text.version(), "{name}");
        assert_eq!(held.compiled(), from_text.compiled(), "{name}");
        let unvalidated = Bundle::insecure_load_compiled_unvalidated(&compiled, entities)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(unvalidated.version(), from_text.version(), "{name}");
        assert_eq!(unvalidated.compiled(), from_text.compiled(), "{name}");
        assert_eq!(held.source(), None, "{name}: it was not loaded from text");
        assert_eq!(held.namespace(), from_text.namespace(), "{name}");
        assert_eq!(held.resource(), from_text.resource(), "{name}");
        assert_eq!(
            held.anonymous_principal(),
            from_text.anonymous_principal(),
            "{name}"
        );
        // The same routes; a compiled form keeps them in its canonical order.
        let sorted = |bundle: &Bundle| {
            let mut routes = bundle.routes();
            routes.sort_by(|a, b| a.route.cmp(&b.route));
            routes
        };
        assert_eq!(sorted(&held), sorted(&from_text), "{name}");
        assert_eq!(held.context_needs(), from_text.context_needs(), "{name}");
        let ids = from_text.policy_ids();
        assert!(!ids.is_empty(), "{name}");
        assert_eq!(held.policy_ids(), ids, "{name}");
        for entry in &ids {
            // The author's text, comments inside a policy and layout included.
            let text = from_text.policy_text(&entry.id).unwrap();
            assert!(
                text.contains(&format!("@id(\"{}\")", entry.id)),
                "{name}: {text}"
            );
            assert_eq!(held.policy_text(&entry.id), Some(text), "{name}");
        }
        // Without the texts, each policy is shown in its JSON form.
        let bare = CompiledBundle {
            policy_texts: Default::default(),
            ..compiled.clone()
        };
        let bare = Bundle::load_compiled(&bare, entities).unwrap();
        assert_eq!(bare.text_version(), from_text.text_version(), "{name}");
        let first = &ids[0].id;
        let shown: Value = serde_json::from_str(&bare.policy_text(first).unwrap()).unwrap();
        assert_eq!(shown["annotations"]["id"], json!(first), "{name}");
    }
}

#[test]
fn the_request_case_table_is_decided_the_same_from_the_compiled_form() {
    let held = Bundle::load_compiled(&over_the_wire(gate().bundle()), None).unwrap();
    let compiled_gate = Gate::new(held, &trust_config()).unwrap();
    let values = cedargate::RequestValues::at(cedargate::UnixTime(0));
    let table = table();
    assert!(table.case.len() >= 25);
    let mut allowed = 0;
    for case in &table.case {
        let group = if case.user == "admin" {
            "AVP_Admin"
        } else {
            "AVP_User"
        };
        let claims = serde_json::from_value(json!({ "sub": case.user, "group": [group] })).unwrap();
        let principal = gate()
            .trust()
            .insecure_principal_from_claims(ISSUER_A, TokenKind::Id, &claims)
            .unwrap();
        let path = expand(&case.path);
        let from_text = gate().decide(&principal, &case.method, &path, &values);
        let from_compiled = compiled_gate.decide(&principal, &case.method, &path, &values);
        if let Ok((_, decision)) = &from_text {
            allowed += usize::from(decision.is_allowed());
        }
        let show = |decided: &Result<_, RouteError>| format!("{decided:?}");
        assert_eq!(show(&from_compiled), show(&from_text), "{}", case.name);
    }
    assert!(allowed > 0, "some case is allowed");
}

/// The PetStore's compiled content, changed by `change`.
fn changed(change: impl FnOnce(&mut Value)) -> CompiledBundle {
    let mut compiled = over_the_wire(gate().bundle());
    change(&mut compiled.content);
    compiled
}

/// The PetStore's compiled content, changed by `change`, loaded.
fn load_changed(change: impl FnOnce(&mut Value)) -> Result<Bundle, BundleError> {
    Bundle::load_compiled(&changed(change), None)
}

/// The policy of the PetStore's compiled content with `id`.
fn policy<'a>(content: &'a mut Value, id: &str) -> &'a mut Value {
    content["policies"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|item| item["id"] == id)
        .map(|item| &mut item["policy"])
        .unwrap()
}

#[test]
fn a_form_that_is_not_a_bundles_is_refused_with_the_part_it_is_wrong_in() {
    type Change = fn(&mut Value);
    type Expected = fn(&BundleError) -> bool;
    let cases: Vec<(&str, Change, Expected)> = vec![
        (
            "not an object",
            (|c| *c = json!([])),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("not a JSON object")),
        ),
        (
            "an unknown member (entity data goes beside the form, not in it)",
            (|c| c["entities"] = json!([])),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("\"entities\"")),
        ),
        (
            "another format",
            (|c| c["format"] = json!(2)),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("format")),
        ),
        (
            "no schema",
            (|c| {
                c.as_object_mut().unwrap().remove("schema");
            }),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("\"schema\" is missing")),
        ),
        (
            "a schema Cedar refuses",
            (|c| c["schema"] = json!({ "PetStore": { "entityTypes": 1 } })),
            |e| matches!(e, BundleError::Schema { .. }),
        ),
        (
            "a policy listed under another id than its @id",
            (|c| c["policies"][0]["id"] = json!("someone-else")),
            |e| matches!(e, BundleError::Policies { message, .. } if message.contains("@id")),
        ),
        (
            "two policies with one id",
            (|c| {
                let first = c["policies"][0].clone();
                c["policies"].as_array_mut().unwrap().push(first);
            }),
            |e| matches!(e, BundleError::DuplicateId { .. }),
        ),
        (
            "a policy not in Cedar's JSON format",
            (|c| c["policies"][0]["policy"]["effect"] = json!("maybe")),
            |e| matches!(e, BundleError::Policies { .. }),
        ),
        (
            "a policy that does not validate against the schema",
            (|c| {
                policy(c, "avp-admin-all")["conditions"] = json!([{ "kind": "when", "body": {
                    ".": { "left": { "Var": "principal" }, "attr": "undeclared" }
                } }]);
            }),
            |e| matches!(e, BundleError::Validation(problems) if problems[0].contains("avp-admin-all")),
        ),
        (
            "step-up annotations on a permit",
            (|c| {
                policy(c, "avp-admin-all")["annotations"]["step_up_max_age"] = json!("60");
            }),
            |e| matches!(e, BundleError::StepUp { id, .. } if id == "avp-admin-all"),
        ),
        (
            "a route to an action the schema does not declare",
            (|c| c["routes"]["routes"][0][2] = json!("fly /pets")),
            |e| matches!(e, BundleError::Route(m) if m.contains("fly /pets")),
        ),
        (
            "a route that is not [method, template, action]",
            (|c| c["routes"]["routes"][0] = json!(["get"])),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("[method, template, action]")),
        ),
        (
            "a route's fourth member other than \"public\"",
            (|c| {
                c["routes"]["routes"][0]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("private"));
            }),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("\"public\"")),
        ),
        (
            "a resource that is not [type, id]",
            (|c| c["routes"]["resource"] = json!("PetStore::Application")),
            |e| matches!(e, BundleError::Compiled(m) if m.contains("[type, id]")),
        ),
    ];
    for (what, change, expected) in cases {
        let err = load_changed(change).expect_err(what);
        assert!(expected(&err), "{what}: {err:?}");
        assert!(!err.to_string().ends_with('.'), "{what}: {err}");
        // Without validation every other check is made.
        let unvalidated = Bundle::insecure_load_compiled_unvalidated(&changed(change), None);
        if matches!(err, BundleError::Validation(_)) {
            assert!(unvalidated.is_ok(), "{what}: the one check it leaves out");
        } else {
            let err = unvalidated.expect_err(what);
            assert!(expected(&err), "{what}, unvalidated: {err:?}");
        }
    }
    // The unchanged form loads, so each refusal above is the change's.
    assert!(load_changed(|_| {}).is_ok());
}

#[test]
fn a_changed_policy_changes_the_version_the_form_loads_with() {
    let original = gate().bundle();
    let changed = load_changed(|c| {
        policy(c, "avp-user-all-but-post-pets")["annotations"]["note"] = json!("changed");
    })
    .unwrap();
    assert_ne!(changed.text_version(), original.text_version());
}

#[test]
fn the_unvalidated_endpoint_bundle_is_the_one_the_edge_names_or_refused() {
    let principal = gate()
        .trust()
        .insecure_principal_from_claims(
            ISSUER_A,
            TokenKind::Id,
            &serde_json::from_value(json!({ "sub": "bob", "group": ["AVP_User"] })).unwrap(),
        )
        .unwrap();
    let doc = cedargate::wire::BundleEndpoint::new(gate().bundle(), 1, &principal);
    let doc: cedargate::wire::BundleEndpoint =
        serde_json::from_str(&serde_json::to_string(&doc).unwrap()).unwrap();
    let held = doc.insecure_bundle_unvalidated().unwrap();
    assert_eq!(held.text_version(), gate().bundle().text_version());
    assert_eq!(
        held.allowed_actions(&principal),
        gate().bundle().allowed_actions(&principal)
    );
    assert_eq!(doc.bundle().unwrap().version(), held.version());

    // A form that is not the content the edge names is refused, even one that validates.
    let mut other = doc.clone();
    policy(&mut other.compiled.content, "avp-admin-all")["annotations"]["note"] = json!("x");
    assert!(other.bundle().is_ok(), "it is a valid bundle");
    let err = other.insecure_bundle_unvalidated().unwrap_err();
    assert!(
        matches!(&err, BundleError::Compiled(m) if m.contains(&doc.text_version)),
        "{err}"
    );
    let mut renamed = doc.clone();
    renamed.text_version = "0".repeat(64);
    assert!(renamed.insecure_bundle_unvalidated().is_err());
}

#[test]
fn required_scopes_travel_in_the_compiled_form_and_are_checked_there() {
    let from_text = Bundle::load(&folder!("petstore-access")).unwrap();
    let mut compiled = over_the_wire(&from_text);
    assert_eq!(
        policy(&mut compiled.content, "requires-scopes-get-pets")["annotations"]["required_scopes"],
        "pets:read"
    );
    let held = Bundle::load_compiled(&compiled, None).unwrap();
    let annotated = |bundle: &Bundle| {
        bundle
            .policies()
            .policies()
            .filter(|p| p.annotation("required_scopes").is_some())
            .count()
    };
    assert_eq!(annotated(&held), 4);
    // Checked as from the text: on a forbid only, scope tokens only.
    for (id, value) in [
        ("avp-admin-all", "pets:read"),
        ("requires-scopes-get-pets", "pets:read\u{7f}"),
        ("requires-scopes-get-pets", ""),
    ] {
        let mut bad = over_the_wire(&from_text);
        policy(&mut bad.content, id)["annotations"]["required_scopes"] = json!(value);
        for loaded in [
            Bundle::load_compiled(&bad, None),
            Bundle::insecure_load_compiled_unvalidated(&bad, None),
        ] {
            assert!(
                matches!(&loaded, Err(BundleError::RequiredScopes { id: at, .. }) if at == id),
                "{id} {value:?}: {loaded:?}"
            );
        }
    }
}

#[test]
fn a_form_validated_before_loads_as_its_version_and_any_other_content_is_refused() {
    for (name, source, entities) in folders() {
        let from_text = match entities {
            Some(data) => Bundle::load_with_entities(&source, data),
            None => Bundle::load(&source),
        }
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        let compiled = over_the_wire(&from_text);
        let version = from_text.version().as_str();
        let held = Bundle::load_compiled_validated_as(&compiled, entities, version)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(held.version(), from_text.version(), "{name}");
        assert_eq!(held.compiled(), from_text.compiled(), "{name}");
        // Another version than the content's is refused, naming the one it has.
        let err =
            Bundle::load_compiled_validated_as(&compiled, entities, &"0".repeat(64)).unwrap_err();
        assert!(
            matches!(&err, BundleError::Compiled(m) if m.contains(version)),
            "{name}: {err}"
        );
        // With entity data, the version covers it: the text's version alone is refused.
        if entities.is_some() {
            assert_ne!(from_text.text_version(), from_text.version(), "{name}");
            let text_only = from_text.text_version().as_str();
            assert!(
                Bundle::load_compiled_validated_as(&compiled, entities, text_only).is_err(),
                "{name}"
            );
        }
    }
    // A policy changed after validation (here one the validator refuses: an attribute the
    // schema lacks) is refused for its version, not loaded unvalidated.
    let original = gate().bundle();
    let tampered = changed(|c| {
        policy(c, "avp-admin-all")["conditions"] = json!([{
            "kind": "when",
            "body": { ".": { "left": { "Var": "principal" }, "attr": "no_such_attribute" } }
        }]);
    });
    assert!(
        Bundle::load_compiled(&tampered, None).is_err(),
        "the validator refuses it"
    );
    assert!(
        Bundle::insecure_load_compiled_unvalidated(&tampered, None).is_ok(),
        "only the validator refuses it"
    );
    let err = Bundle::load_compiled_validated_as(&tampered, None, original.version().as_str())
        .unwrap_err();
    assert!(matches!(err, BundleError::Compiled(_)), "{err}");
}

/// A bundle document in compiled form, as `cedargate bundle` publishes it: the same bundle
/// as the text document, its text gone from the JSON, signed and opened like any other.
#[test]
fn a_compiled_document_holds_the_text_documents_bundle_and_no_text() {
    for (name, source, entities) in folders() {
        let mut text = cedargate::BundleDocument::new(source, 4)
            .with_audience("production")
            .with_slot(cedargate::BundleSlot::Staged);
        if let Some(data) = entities {
            text = text.with_entities(data);
        }
        let from_text = text.load().unwrap_or_else(|err| panic!("{name}: {err}"));
        let compiled = text.clone().compile().unwrap();
        assert!(compiled.is_compiled() && !text.is_compiled(), "{name}");
        assert_eq!(compiled.source(), None, "{name}");
        assert_eq!(
            (
                compiled.serial,
                compiled.slot,
                &compiled.audience,
                &compiled.entities
            ),
            (
                4,
                cedargate::BundleSlot::Staged,
                &text.audience,
                &text.entities
            ),
            "{name}"
        );
        // Compiling again changes nothing.
        assert_eq!(compiled.clone().compile().unwrap(), compiled, "{name}");
        let json: Value = serde_json::to_value(&compiled).unwrap();
        for member in ["schema", "policies", "routes"] {
            assert!(json.get(member).is_none(), "{name}: {member} in {json}");
        }
        let key = cedargate::BundleSigningKey::from_seed([3; 32]).unwrap();
        let opened = cedargate::open_bundle_document_for_slot(
            &key.sign(&compiled).unwrap(),
            Some(&key.public_key()),
            Some("production"),
            cedargate::BundleSlot::Staged,
        )
        .unwrap();
        assert_eq!(opened, compiled, "{name}");
        for held in [opened.load().unwrap(), opened.load_compiled().unwrap()] {
            assert_eq!(held.version(), from_text.version(), "{name}");
            assert_eq!(held.policy_ids(), from_text.policy_ids(), "{name}");
        }
        // Loading the compiled form alone refuses a text document, naming the way out.
        let err = text.load_compiled().unwrap_err();
        assert!(
            matches!(&err, BundleError::Compiled(m) if m.contains("cedargate bundle")),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_document_with_both_forms_or_an_invalid_compiled_form_is_refused() {
    let text = cedargate::BundleDocument::new(cedargate::examples::petstore_source(), 1);
    let compiled = text.clone().compile().unwrap();
    // Both: which one would decide is not for the reader to guess.
    let both = cedargate::BundleDocument {
        policies: text.policies.clone(),
        ..compiled.clone()
    };
    for result in [both.load(), both.load_compiled()] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, BundleError::Compiled(m) if m.contains("not both")),
            "{err}"
        );
    }
    // A compiled form is validated as it loads: a policy changed after compiling to read an
    // attribute the schema lacks is refused.
    let mut tampered = compiled.clone();
    let content = &mut tampered.compiled.as_mut().unwrap().content;
    policy(content, "avp-admin-all")["conditions"] = json!([{
        "kind": "when",
        "body": { ".": { "left": { "Var": "principal" }, "attr": "no_such_attribute" } }
    }]);
    let err = tampered.load().unwrap_err();
    assert!(
        !matches!(err, BundleError::Compiled(_)),
        "refused by the validator: {err}"
    );
    assert!(compiled.load().is_ok());
}
