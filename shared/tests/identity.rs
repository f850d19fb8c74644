//! Trust configuration: parsing, binding to a schema, and claim mapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{
    Bundle, BundleSource, ConfigError, IssuerConfig, MappingError, TokenKind, Trust, TrustConfig,
};
use cedargate_test_support::*;
use serde_json::{Map, Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn petstore() -> Bundle {
    cedargate::examples::petstore().unwrap()
}

fn config(issuers: Value) -> TrustConfig {
    serde_json::from_value(json!({ "issuers": issuers })).unwrap()
}

fn bind(issuers: Value) -> Result<Trust, ConfigError> {
    Trust::bind(&config(issuers), &petstore())
}

fn claims(value: Value) -> Map<String, Value> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn toml_and_json_configurations_are_the_same_shape() {
    let from_toml = trust_config();
    let from_json: TrustConfig =
        serde_json::from_str(&serde_json::to_string(&from_toml).unwrap()).unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(from_toml.issuers.len(), 4);
    let a = &from_toml.issuers[0];
    assert_eq!(a.leeway, std::time::Duration::from_secs(60));
    assert_eq!(a.principal_id_claim(), "sub");
    assert_eq!(a.group_claim.as_deref(), Some("group"));
    assert_eq!(a.permissions_claim.as_deref(), Some("p1.permissions"));
    assert_eq!(from_toml.max_token_bytes, 16 * 1024);
    assert_eq!(
        *a,
        IssuerConfig::new(ISSUER_A, TokenKind::Id, vec![CLIENT_ID.into()])
    );
}

#[test]
fn unknown_options_are_refused() {
    let err = serde_json::from_value::<TrustConfig>(json!({
        "issuers": [{ "issuer": ISSUER_A, "token": "id", "audiences": ["x"], "audience": "x" }]
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown field `audience`"),
        "{err}"
    );
    assert!(
        serde_json::from_value::<TrustConfig>(json!({
            "issuers": [{ "issuer": ISSUER_A, "token": "refresh", "audiences": ["x"] }]
        }))
        .is_err()
    );
}

#[test]
fn the_leeway_is_a_whole_number_of_seconds_written_back_as_one() {
    let entry = |leeway: Value| {
        serde_json::from_value::<TrustConfig>(json!({
            "issuers": [{ "issuer": ISSUER_A, "token": "id", "audiences": ["x"], "leeway_seconds": leeway }]
        }))
    };
    let config = entry(json!(90)).unwrap();
    assert_eq!(config.issuers[0].leeway, std::time::Duration::from_secs(90));
    let written = serde_json::to_value(&config).unwrap();
    assert_eq!(written["issuers"][0]["leeway_seconds"], json!(90));
    for bad in [json!(-1), json!(1.5), json!("60")] {
        let err = entry(bad.clone()).unwrap_err().to_string();
        assert!(
            err.contains("expected a whole number of seconds, 0 or more"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn configurations_that_cannot_work_are_refused_at_start() {
    let base = || json!({ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID] });
    assert_eq!(bind(json!([])).unwrap_err(), ConfigError::NoIssuers);

    let mut no_aud = base();
    no_aud["audiences"] = json!([]);
    assert!(matches!(
        bind(json!([no_aud])),
        Err(ConfigError::NoAudience { .. })
    ));

    let mut leeway = base();
    leeway["leeway_seconds"] = json!(3600);
    assert!(matches!(
        bind(json!([leeway])),
        Err(ConfigError::LeewayTooLarge { .. })
    ));

    assert!(matches!(
        bind(json!([base(), base()])),
        Err(ConfigError::Ambiguous { .. })
    ));
    let mut access_same_aud = base();
    access_same_aud["token"] = json!("access");
    assert!(matches!(
        bind(json!([base(), access_same_aud])),
        Err(ConfigError::Ambiguous { .. })
    ));

    let schema_error = |entry: Value| match bind(json!([entry])) {
        Err(ConfigError::Schema { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    let mut wrong_type = base();
    wrong_type["principal_type"] = json!("Customer");
    assert_eq!(
        schema_error(wrong_type),
        "principal type PetStore::Customer is not declared"
    );
    let mut wrong_group = base();
    wrong_group["group_type"] = json!("Application");
    assert_eq!(
        schema_error(wrong_group),
        "PetStore::User cannot be a member of PetStore::Application (set group_claim to null for an entry without groups)"
    );
    let mut undeclared = base();
    undeclared["claims"] = json!([{ "claim": "email", "type": "String" }]);
    assert_eq!(
        schema_error(undeclared),
        "attribute email is not declared on PetStore::User"
    );
    let mut mistyped = base();
    mistyped["claims"] = json!([{ "claim": "roles", "attribute": "scope", "type": "String" }]);
    assert_eq!(
        schema_error(mistyped),
        "attribute scope of PetStore::User is Set<String>, not String"
    );
    let mut twice = base();
    twice["claims"] = json!([{ "claim": "roles", "attribute": "scope", "type": "Set<String>" }]);
    assert_eq!(schema_error(twice), "attribute scope is mapped twice");
    // The built-in mappings too: scope and permissions into one attribute.
    let mut built_in_twice = base();
    built_in_twice["permissions_attribute"] = json!("scope");
    assert_eq!(
        schema_error(built_in_twice),
        "attribute scope is mapped twice"
    );

    // Turning groups off is allowed; the schema need not declare a group type then.
    let mut no_groups = base();
    no_groups["group_claim"] = Value::Null;
    no_groups["group_type"] = json!("Nope");
    assert!(bind(json!([no_groups])).is_ok());
}

const SCHEMA: &str = r#"namespace Corp {
  entity Team;
  entity Employee in [Team] {
    email: String,
    level?: Long,
    admin?: Bool,
    roles?: Set<String>,
    badges?: Set<Long>,
  };
  entity Api;
  action "get /" appliesTo { principal: [Employee], resource: [Api] };
}"#;

fn corp() -> Bundle {
    Bundle::load(&BundleSource {
        schema: SCHEMA.into(),
        policies: "@id(\"all\") permit(principal, action, resource);".into(),
        routes: json!({ "namespace": "Corp", "resource": { "type": "Api", "id": "corp" },
                        "routes": ["get /"] })
        .to_string(),
    })
    .unwrap()
}

fn corp_entry() -> Value {
    json!({
        "issuer": "https://idp.corp.test",
        "token": "access",
        "audiences": ["corp-api"],
        "principal_type": "Employee",
        "group_type": "Corp::Team",
        "group_claim": "teams",
        "group_id_prefix": "team:",
        "principal_id_claim": "uid",
        "scope_claim": null,
        "claims": [
            { "claim": "email", "type": "String", "required": true },
            { "claim": "lvl", "attribute": "level", "type": "Long" },
            { "claim": "is_admin", "attribute": "admin", "type": "Bool" },
            { "claim": "roles", "type": "Set<String>" },
            { "claim": "badges", "type": "Set<Long>" }
        ]
    })
}

#[test]
fn required_schema_attributes_need_a_required_claim() {
    let mut entry = corp_entry();
    entry["claims"][0]["required"] = json!(false);
    match Trust::bind(&config(json!([entry])), &corp()) {
        Err(ConfigError::Schema { reason, .. }) => {
            assert!(reason.contains("required by the schema"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let mut entry = corp_entry();
    entry["claims"].as_array_mut().unwrap().remove(0);
    match Trust::bind(&config(json!([entry])), &corp()) {
        Err(ConfigError::Schema { reason, .. }) => {
            assert!(reason.contains("no claim is mapped"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn claims_become_typed_attributes_and_groups() {
    let trust = Trust::bind(&config(json!([corp_entry()])), &corp()).unwrap();
    let map = |c: Value| {
        trust.insecure_principal_from_claims("https://idp.corp.test", TokenKind::Access, &claims(c))
    };
    let principal = map(json!({
        "uid": "e-17", "email": "e17@corp.test", "lvl": 3, "is_admin": false,
        "roles": ["dev", "ops"], "badges": [1, 2], "teams": "platform"
    }))
    .unwrap();
    assert_eq!(principal.uid().to_string(), r#"Corp::Employee::"e-17""#);
    assert_eq!(principal.groups(), ["platform"]);
    let entity = principal.entities().unwrap().get(principal.uid()).unwrap();
    let attr = |name: &str| entity.attr(name).unwrap().unwrap().to_string();
    assert_eq!(attr("email"), r#""e17@corp.test""#);
    assert_eq!(attr("level"), "3");
    assert_eq!(attr("admin"), "false");
    assert_eq!(attr("roles"), r#"["dev", "ops"]"#);
    assert_eq!(attr("badges"), "[1, 2]");
    let team = principal
        .entities()
        .unwrap()
        .iter()
        .find(|e| e.uid().type_name().to_string() == "Corp::Team")
        .unwrap();
    assert_eq!(team.uid().to_string(), r#"Corp::Team::"team:platform""#);

    // Optional claims may be absent.
    let minimal = map(json!({ "uid": "e-18", "email": "e18@corp.test" })).unwrap();
    assert!(
        minimal
            .entities()
            .unwrap()
            .get(minimal.uid())
            .unwrap()
            .attr("level")
            .is_none()
    );

    let shape = |c: Value| map(c).unwrap_err();
    assert_eq!(
        shape(json!({ "uid": "e", "email": 5 })),
        MappingError::ClaimShape {
            claim: "email".into(),
            expected: "a string"
        }
    );
    assert_eq!(
        shape(json!({ "uid": "e", "email": "x", "lvl": "3" })),
        MappingError::ClaimShape {
            claim: "lvl".into(),
            expected: "an integer"
        }
    );
    assert_eq!(
        shape(json!({ "uid": "e", "email": "x", "lvl": 1.5 })),
        MappingError::ClaimShape {
            claim: "lvl".into(),
            expected: "an integer"
        }
    );
    assert_eq!(
        shape(json!({ "uid": "e", "email": "x", "is_admin": "yes" })),
        MappingError::ClaimShape {
            claim: "is_admin".into(),
            expected: "a boolean"
        }
    );
    assert_eq!(
        shape(json!({ "uid": "e", "email": "x", "badges": ["1"] })),
        MappingError::ClaimShape {
            claim: "badges".into(),
            expected: "an array of integers"
        }
    );
    assert_eq!(
        shape(json!({ "uid": "e", "email": "x", "teams": {"a": 1} })),
        MappingError::ClaimShape {
            claim: "teams".into(),
            expected: "an array of strings or a string"
        }
    );
    assert_eq!(
        shape(json!({ "uid": "e" })),
        MappingError::MissingClaim {
            claim: "email".into()
        }
    );
    assert_eq!(
        shape(json!({ "sub": "e", "email": "x" })),
        MappingError::MissingClaim {
            claim: "uid".into()
        }
    );
    assert_eq!(
        shape(json!({ "uid": 7, "email": "x" })),
        MappingError::ClaimShape {
            claim: "uid".into(),
            expected: "a non-empty string"
        }
    );
    assert_eq!(
        trust
            .insecure_principal_from_claims(
                "https://idp.corp.test",
                TokenKind::Id,
                &claims(json!({}))
            )
            .unwrap_err(),
        MappingError::UnknownIssuer(TokenKind::Id)
    );
}

#[test]
fn claims_nested_in_objects_map_by_json_pointer() {
    // Keycloak's realm roles and a namespaced custom claim, as a JSON pointer each.
    let mut entry = corp_entry();
    entry["group_claim"] = json!("/realm_access/roles");
    entry["principal_id_claim"] = json!("/https:~1~1corp.test~1identity/uid");
    entry["claims"] = json!([
        { "claim": "/https:~1~1corp.test~1identity/email", "type": "String", "required": true },
        { "claim": "/profile/lvl", "attribute": "level", "type": "Long" },
        { "claim": "/profile/roles", "type": "Set<String>" },
    ]);
    let trust = Trust::bind(&config(json!([entry])), &corp()).unwrap();
    let map = |c: Value| {
        trust.insecure_principal_from_claims("https://idp.corp.test", TokenKind::Access, &claims(c))
    };
    let principal = map(json!({
        "https://corp.test/identity": { "uid": "e-17", "email": "e17@corp.test" },
        "realm_access": { "roles": ["platform", "sre"] },
        "profile": { "lvl": 3, "roles": ["dev"] },
        // Top-level claims of the same names are not what the pointers name.
        "uid": "someone-else", "email": "other@corp.test", "roles": ["admin"],
    }))
    .unwrap();
    assert_eq!(principal.uid().to_string(), r#"Corp::Employee::"e-17""#);
    assert_eq!(principal.groups(), ["platform", "sre"]);
    let entity = principal.entities().unwrap().get(principal.uid()).unwrap();
    let attr = |name: &str| entity.attr(name).unwrap().unwrap().to_string();
    assert_eq!(attr("email"), r#""e17@corp.test""#);
    assert_eq!(attr("level"), "3");
    assert_eq!(
        attr("roles"),
        r#"["dev"]"#,
        "the pointer's last segment names it"
    );

    // The same strict typing as top-level claims.
    let shape = |c: Value| map(c).unwrap_err();
    let identity = json!({ "uid": "e-17", "email": "e17@corp.test" });
    assert_eq!(
        shape(json!({ "https://corp.test/identity": identity, "profile": { "lvl": "3" } })),
        MappingError::ClaimShape {
            claim: "/profile/lvl".into(),
            expected: "an integer"
        }
    );
    assert_eq!(
        shape(json!({ "https://corp.test/identity": identity, "realm_access": { "roles": [1] } })),
        MappingError::ClaimShape {
            claim: "/realm_access/roles".into(),
            expected: "an array of strings or a string"
        }
    );
    assert_eq!(
        shape(json!({ "https://corp.test/identity": { "uid": "e-17" } })),
        MappingError::MissingClaim {
            claim: "/https:~1~1corp.test~1identity/email".into()
        }
    );

    // A malformed pointer is refused when the configuration is bound.
    for bad in ["/profile//lvl", "/profile/lv~2", "/"] {
        let mut entry = corp_entry();
        entry["claims"][1]["claim"] = json!(bad);
        assert!(
            matches!(
                Trust::bind(&config(json!([entry])), &corp()),
                Err(ConfigError::ClaimPath { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn scopes_and_permissions_map_only_where_the_schema_declares_them() {
    // Corp's Employee declares neither `scope` nor `permissions`: the defaults stay quiet.
    let mut entry = corp_entry();
    entry["scope_claim"] = json!("scope");
    let trust = Trust::bind(&config(json!([entry])), &corp()).unwrap();
    let principal = trust
        .insecure_principal_from_claims(
            "https://idp.corp.test",
            TokenKind::Access,
            &claims(json!({ "uid": "e", "email": "x", "scope": "a b", "p1.permissions": ["p"] })),
        )
        .unwrap();
    let entity = principal.entities().unwrap().get(principal.uid()).unwrap();
    assert!(entity.attr("scope").is_none());
    assert!(entity.attr("permissions").is_none());
}

async_test! {
    async fn a_verifier_checks_tokens_before_any_bundle_is_known() {
        // A client verifies its ID token first, and maps it once the bundle arrives.
        let verifier = cedargate::Verifier::new(&trust_config()).unwrap();
        assert_eq!(verifier.issuers(), [ISSUER_A, ISSUER_B, ISSUER_C]);
        let token = mint(&id_claims("alice", &["AVP_Admin"], NOW), "a-rsa-1", "JWT");
        let backend = backends().remove(0);
        let jwt = verifier.parse(&token).unwrap();
        let verified = verifier
            .verify(&jwt, &key_sets()[ISSUER_A], &backend, NOW)
            .await
            .unwrap();
        let trust = Trust::bind(&trust_config(), &petstore()).unwrap();
        let principal = trust.principal(&verified).unwrap();
        assert_eq!(principal.groups(), ["AVP_Admin"]);
        // A trust without an entry for that issuer and kind refuses to map it.
        let other = Trust::bind(&config(json!([{ "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE] }])), &petstore()).unwrap();
        assert_eq!(other.principal(&verified).unwrap_err(), MappingError::UnknownIssuer(TokenKind::Id));
    }
}

#[test]
fn aliases_of_one_identity_space_map_a_person_to_one_principal() {
    // One PingOne environment under its standard issuer and under a custom domain.
    let standard = "https://auth.pingone.test/env-a/as";
    let custom = "https://login.petstore.test/as";
    let entry = |issuer: &str| json!({ "issuer": issuer, "token": "id", "audiences": [CLIENT_ID] });
    // Without the alias, the two names are two spaces that would share users: refused.
    assert!(matches!(
        bind(json!([entry(standard), entry(custom)])),
        Err(ConfigError::SharedIdentity { .. })
    ));
    let aliased = |aliases: Value| {
        let config: TrustConfig = serde_json::from_value(json!({
            "issuers": [entry(standard), entry(custom), entry(ISSUER_C)],
            "issuer_aliases": aliases,
        }))
        .unwrap();
        Trust::bind(&config, &petstore())
    };
    // ISSUER_C is not in the space: it still needs prefixes of its own.
    assert!(matches!(
        aliased(json!([[standard, custom]])),
        Err(ConfigError::SharedIdentity { .. })
    ));
    let config: TrustConfig = serde_json::from_value(json!({
        "issuers": [entry(standard), entry(custom)],
        "issuer_aliases": [[standard, custom]],
    }))
    .unwrap();
    let trust = Trust::bind(&config, &petstore()).unwrap();
    let person = |issuer: &str| {
        trust
            .insecure_principal_from_claims(
                issuer,
                TokenKind::Id,
                &claims(json!({ "sub": "u-1", "group": ["AVP_User"] })),
            )
            .unwrap()
    };
    let (a, b) = (person(standard), person(custom));
    assert_eq!(a.uid(), b.uid(), "one person, whichever name signed");
    assert_eq!(a.groups(), b.groups());
    assert_eq!(a.issuer(), standard);
    assert_eq!(b.issuer(), custom);
    // Lists are checked.
    for (aliases, message) in [
        (
            json!([[standard]]),
            "list 0 names 1 issuer(s); an alias needs two or more",
        ),
        (
            json!([[standard, "https://unknown.test/as"]]),
            "https://unknown.test/as is not an issuer of issuers",
        ),
        (
            json!([[standard, custom], [custom, ISSUER_C]]),
            "https://login.petstore.test/as is named twice",
        ),
    ] {
        match aliased(aliases) {
            Err(ConfigError::IssuerAliases(m)) => assert_eq!(m, message),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn issuers_cannot_share_users_or_groups() {
    let a = json!({ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID] });
    let c = json!({ "issuer": ISSUER_C, "token": "id", "audiences": [CLIENT_ID] });
    let err = bind(json!([a, c])).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::SharedIdentity {
                what: "principal ids",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "issuers https://auth.pingone.test/env-a/as and https://idp.example.test/c map to the \
         same principal ids: give each its own entity_id_prefix, such as \"idp.example.test/c|\""
    );
    // Distinct users, but the same group names.
    let mut c_users = c.clone();
    c_users["entity_id_prefix"] = json!("idp.example.test/c|");
    let err = bind(json!([a, c_users])).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::SharedIdentity {
                what: "group ids",
                ..
            }
        ),
        "{err}"
    );
    // Distinct groups too: accepted; or groups shared on purpose.
    let mut c_apart = c_users.clone();
    c_apart["group_id_prefix"] = json!("idp.example.test/c|");
    assert!(bind(json!([a, c_apart])).is_ok());
    let shared: TrustConfig = serde_json::from_value(
        json!({ "issuers": [a, c_users], "insecure_shared_group_ids": true }),
    )
    .unwrap();
    assert!(Trust::bind(&shared, &petstore()).is_ok());
    // Groups switched off on one side share nothing.
    let mut c_no_groups = c_users;
    c_no_groups["group_claim"] = Value::Null;
    assert!(bind(json!([a, c_no_groups])).is_ok());
    // The two entries of one issuer are one identity on purpose.
    let access = json!({ "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE] });
    assert!(bind(json!([a, access])).is_ok());
}

/// A prefix that starts another issuer's longer one (none at all starts every one) is let
/// through at start-up, so its values must never fall in the other issuer's space.
#[test]
fn an_issuer_cannot_name_users_or_groups_in_a_longer_prefix_of_another() {
    let a = json!({ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID] });
    let mut c = json!({ "issuer": ISSUER_C, "token": "id", "audiences": [CLIENT_ID] });
    c["entity_id_prefix"] = json!("idp.example.test/c|");
    c["group_id_prefix"] = json!("idp.example.test/c|");
    let trust = bind(json!([a, c])).unwrap();
    let map = |issuer: &str, value: Value| {
        trust.insecure_principal_from_claims(issuer, TokenKind::Id, &claims(value))
    };
    let c_admin = map(ISSUER_C, json!({ "sub": "bob", "group": ["AVP_Admin"] })).unwrap();
    assert_eq!(c_admin.uid().id().unescaped(), "idp.example.test/c|bob");

    // Issuer A naming C's group or C's user is refused, never mapped onto them.
    let group = map(
        ISSUER_A,
        json!({ "sub": "mallory", "group": ["idp.example.test/c|AVP_Admin"] }),
    );
    assert_eq!(
        group.unwrap_err(),
        MappingError::ForeignIdentity {
            claim: "group".into()
        }
    );
    let user = map(ISSUER_A, json!({ "sub": "idp.example.test/c|bob" }));
    assert_eq!(
        user.unwrap_err(),
        MappingError::ForeignIdentity {
            claim: "sub".into()
        }
    );
    // A's own values that merely look alike are A's.
    let own = map(
        ISSUER_A,
        json!({ "sub": "idp.example.test/d|bob", "group": ["idp.example.test/c"] }),
    );
    assert_eq!(own.unwrap().groups(), ["idp.example.test/c"]);

    // Two prefixes, one extending the other: the shorter's values are kept out of the longer's.
    let mut b = json!({ "issuer": ISSUER_B, "token": "id", "audiences": [CLIENT_ID] });
    b["entity_id_prefix"] = json!("idp.example.test/");
    b["group_id_prefix"] = json!("idp.example.test/");
    let trust = bind(json!([b, c])).unwrap();
    let err = trust
        .insecure_principal_from_claims(ISSUER_B, TokenKind::Id, &claims(json!({ "sub": "c|bob" })))
        .unwrap_err();
    assert_eq!(
        err,
        MappingError::ForeignIdentity {
            claim: "sub".into()
        }
    );
    let c_bob = trust
        .insecure_principal_from_claims(ISSUER_C, TokenKind::Id, &claims(json!({ "sub": "bob" })))
        .unwrap();
    assert_eq!(c_bob.uid().id().unescaped(), "idp.example.test/c|bob");

    // Groups shared on purpose are not kept apart.
    let shared: TrustConfig = serde_json::from_value(json!({
        "issuers": [a, { "issuer": ISSUER_C, "token": "id", "audiences": [CLIENT_ID],
                         "entity_id_prefix": "idp.example.test/c|", "group_id_prefix": "c|" }],
        "insecure_shared_group_ids": true
    }))
    .unwrap();
    let trust = Trust::bind(&shared, &petstore()).unwrap();
    let principal = trust
        .insecure_principal_from_claims(
            ISSUER_A,
            TokenKind::Id,
            &claims(json!({ "sub": "x", "group": ["c|g"] })),
        )
        .unwrap();
    assert_eq!(principal.groups(), ["c|g"]);
}

#[test]
fn an_id_token_entry_cannot_require_the_access_token_type() {
    let err = bind(json!([
        { "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID], "token_type": "application/at+jwt" }
    ]))
    .unwrap_err();
    assert!(matches!(err, ConfigError::IdTokenType { .. }), "{err}");
}

async fn verify_with(
    entries: Value,
    claims: &Value,
    typ: &str,
) -> Result<(), cedargate::TokenError> {
    let verifier = cedargate::Verifier::new(&config(entries)).unwrap();
    let token = mint(claims, "a-rsa-1", typ);
    let jwt = verifier.parse(&token)?;
    let backend = backends().remove(0);
    verifier
        .verify(&jwt, &key_sets()[ISSUER_A], &backend, NOW)
        .await
        .map(|_| ())
}

async_test! {
    async fn id_and_access_tokens_are_told_apart_by_more_than_the_audience() {
        use cedargate::TokenErrorKind as K;
        let kind = |r: Result<(), cedargate::TokenError>| r.map_err(|e| e.kind());
        let id_entry = json!([{ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID] }]);
        let access_entry = json!([{ "issuer": ISSUER_A, "token": "access", "audiences": [CLIENT_ID, API_AUDIENCE] }]);

        // An access token whose audience is the client id, at an ID-token entry.
        let mut access = access_claims("alice", NOW);
        access["aud"] = json!(CLIENT_ID);
        assert_eq!(kind(verify_with(id_entry.clone(), &access, "at+jwt").await), Err(K::WrongTokenKind));
        assert_eq!(kind(verify_with(id_entry.clone(), &access, "application/AT+JWT").await), Err(K::WrongTokenKind));
        // Without `typ`, its claims give it away (PingOne before March 2027).
        assert_eq!(kind(verify_with(id_entry.clone(), &access, "JWT").await), Err(K::WrongTokenKind));
        let mut scope_only = id_claims("alice", &[], NOW);
        scope_only["scope"] = json!("openid");
        assert_eq!(kind(verify_with(id_entry.clone(), &scope_only, "JWT").await), Err(K::WrongTokenKind));
        let relaxed = json!([{ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID], "insecure_skip_token_kind_claims": true }]);
        assert_eq!(kind(verify_with(relaxed.clone(), &access, "JWT").await), Ok(()));
        // ... but never with `typ` at+jwt.
        assert_eq!(kind(verify_with(relaxed, &access, "at+jwt").await), Err(K::WrongTokenKind));

        // azp (OpenID Connect Core 3.1.3.7).
        let id = id_claims("alice", &[], NOW);
        assert_eq!(kind(verify_with(id_entry.clone(), &id, "JWT").await), Ok(()));
        let mut azp = id.clone();
        azp["azp"] = json!(CLIENT_ID);
        assert_eq!(kind(verify_with(id_entry.clone(), &azp, "JWT").await), Ok(()));
        azp["azp"] = json!("another-client");
        assert_eq!(kind(verify_with(id_entry.clone(), &azp, "JWT").await), Err(K::WrongAuthorizedParty));
        azp["azp"] = json!(7);
        assert_eq!(kind(verify_with(id_entry.clone(), &azp, "JWT").await), Err(K::WrongAuthorizedParty));
        // An audience the entry does not trust is refused beside its own, azp or not
        // (3.1.3.7 step 3); several trusted ones need the azp.
        let mut several = id.clone();
        several["aud"] = json!([CLIENT_ID, "another-client"]);
        assert_eq!(kind(verify_with(id_entry.clone(), &several, "JWT").await), Err(K::WrongAudience));
        several["azp"] = json!(CLIENT_ID);
        assert_eq!(kind(verify_with(id_entry, &several, "JWT").await), Err(K::WrongAudience));
        let both = json!([{ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID, "another-client"] }]);
        assert_eq!(kind(verify_with(both.clone(), &several, "JWT").await), Ok(()));
        several.as_object_mut().unwrap().remove("azp");
        assert_eq!(kind(verify_with(both, &several, "JWT").await), Err(K::WrongAuthorizedParty));
        // An access token for several audiences needs only one of them to be the API.
        let mut wide = access_claims("alice", NOW);
        wide["aud"] = json!([API_AUDIENCE, "https://other.api.test"]);
        assert_eq!(kind(verify_with(access_entry.clone(), &wide, "at+jwt").await), Ok(()));

        // An ID token at an access-token entry that does not require `typ`.
        let mut id_for_api = id_claims("alice", &[], NOW);
        id_for_api["aud"] = json!(API_AUDIENCE);
        assert_eq!(kind(verify_with(access_entry.clone(), &id_for_api, "JWT").await), Err(K::WrongTokenKind));
        id_for_api["client_id"] = json!(CLIENT_ID);
        // `nonce` marks it as an ID token even with a client_id.
        assert_eq!(kind(verify_with(access_entry.clone(), &id_for_api, "JWT").await), Err(K::WrongTokenKind));
        id_for_api.as_object_mut().unwrap().remove("nonce");
        id_for_api["at_hash"] = json!("x");
        assert_eq!(kind(verify_with(access_entry.clone(), &id_for_api, "JWT").await), Err(K::WrongTokenKind));
        let mut bad_client = access_claims("alice", NOW);
        bad_client["client_id"] = json!(["x"]);
        assert_eq!(kind(verify_with(access_entry.clone(), &bad_client, "at+jwt").await), Err(K::InvalidClaim));
        assert_eq!(kind(verify_with(access_entry, &access_claims("alice", NOW), "at+jwt").await), Ok(()));
    }
}
