//! The cost of each step of a decision, natively, against the bare signature check it is
//! built on. `cargo xtask bench` runs these and puts them in its report.
//!
//! Criterion does not build for wasm32, so there the target is an empty program.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![cfg_attr(target_arch = "wasm32", no_main)]

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use base64ct::Encoding as _;
    use cedargate::{Bundle, BundleSource, Gate, RustCrypto, TokenKind, Trust, TrustConfig};
    use cedargate_test_support::*;
    use criterion::{Criterion, criterion_group};
    use jwt_compact::{Algorithm as _, AlgorithmSignature as _, alg};
    use serde_json::json;
    use std::hint::black_box;

    fn bare_signatures(c: &mut Criterion) {
        let token = mint(&id_claims("alice", &["AVP_Admin"], NOW), "a-rsa-1", "JWT");
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = base64ct::Base64UrlUnpadded::decode_vec(sig).unwrap();
        let Signer::Rsa(private) = &key("a-rsa-1").signer else {
            unreachable!()
        };
        let public = private.to_public_key();
        let rsa = alg::Rsa::rs256();
        let signature = alg::RsaSignature::try_from_slice(&sig).unwrap();
        c.bench_function("signature/rs256_bare", |b| {
            b.iter(|| {
                assert!(rsa.verify_signature(black_box(&signature), &public, input.as_bytes()))
            })
        });

        let token = mint(&id_claims("alice", &["AVP_Admin"], NOW), "a-ec-1", "JWT");
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = base64ct::Base64UrlUnpadded::decode_vec(sig).unwrap();
        let Signer::P256(private) = &key("a-ec-1").signer else {
            unreachable!()
        };
        let public = *private.verifying_key();
        let signature = p256::ecdsa::Signature::try_from_slice(&sig).unwrap();
        c.bench_function("signature/es256_bare", |b| {
            b.iter(|| {
                assert!(alg::Es256.verify_signature(
                    black_box(&signature),
                    &public,
                    input.as_bytes()
                ))
            })
        });
    }

    fn tokens(c: &mut Criterion) {
        let gate = gate();
        let keys = &key_sets()[ISSUER_A];
        for (name, key) in [
            ("token/verify_rs256", "a-rsa-1"),
            ("token/verify_es256", "a-ec-1"),
        ] {
            let token = mint(&id_claims("alice", &["AVP_Admin"], NOW), key, "JWT");
            c.bench_function(name, |b| {
                b.iter(|| {
                    let jwt = gate.trust().parse(black_box(&token)).unwrap();
                    pollster::block_on(gate.trust().verify(&jwt, keys, &RustCrypto, NOW)).unwrap()
                })
            });
        }
    }

    fn steps(c: &mut Criterion) {
        let gate = gate();
        let key_set = &key_sets()[ISSUER_A];
        let keys = cedargate::IssuerKeys::new(ISSUER_A, key_set);
        let token = mint(&id_claims("alice", &["AVP_Admin"], NOW), "a-rsa-1", "JWT");
        let jwt = gate.trust().parse(&token).unwrap();
        let verified =
            pollster::block_on(gate.trust().verify(&jwt, key_set, &RustCrypto, NOW)).unwrap();
        c.bench_function("mapping/principal", |b| {
            b.iter(|| gate.trust().principal(black_box(&verified)).unwrap())
        });
        // The same with the store made as cedar-policy makes it, its closure recomputed.
        c.bench_function("mapping/principal_closure_recomputed", |b| {
            b.iter(|| {
                let principal = gate
                    .trust()
                    .principal_deferred(black_box(&verified))
                    .unwrap();
                principal.entities_recomputed().unwrap()
            })
        });
        c.bench_function("routes/resolve", |b| {
            b.iter(|| {
                gate.bundle()
                    .resolve("GET", black_box("/pets/7?type=dog"))
                    .unwrap()
            })
        });
        let principal = gate.trust().principal(&verified).unwrap();
        let route = gate.bundle().resolve("GET", "/pets/7").unwrap();
        c.bench_function("decision/authorize", |b| {
            b.iter(|| {
                let decision = gate.bundle().authorize(
                    black_box(&principal),
                    &route,
                    &cedargate::RequestValues::at(cedargate::UnixTime(0)),
                );
                assert!(decision.is_allowed());
            })
        });
        // A new token's Cedar work without the signature: claims to principal, then the
        // route and its decision.
        let claims = verified.claims().clone();
        c.bench_function("decision/new_principal", |b| {
            b.iter(|| {
                let principal = gate
                    .trust()
                    .insecure_principal_from_claims(ISSUER_A, TokenKind::Id, black_box(&claims))
                    .unwrap();
                let (_, decision) = gate
                    .decide(
                        &principal,
                        "GET",
                        "/pets/7",
                        &cedargate::RequestValues::at(cedargate::UnixTime(0)),
                    )
                    .unwrap();
                assert!(decision.is_allowed());
            })
        });
        // The same new token when a principal of its shape was decided for the request
        // before (the edge's shared decisions): claims mapped, no Cedar entities, the key
        // made and looked up.
        let shared: std::collections::HashMap<cedargate::DecisionKey, bool> = [(
            gate.decision_key(&gate.trust().principal(&verified).unwrap(), &route)
                .unwrap(),
            true,
        )]
        .into();
        c.bench_function("decision/new_principal_shared", |b| {
            b.iter(|| {
                let principal = gate
                    .trust()
                    .principal_deferred(black_box(&verified))
                    .unwrap();
                let route = gate.route("GET", "/pets/7").unwrap();
                let key = gate.decision_key(&principal, &route).unwrap();
                assert!(shared[&key]);
                assert!(!principal.is_built());
            })
        });
        c.bench_function("pipeline/rs256", |b| {
            b.iter(|| {
                let (_, principal) = pollster::block_on(gate.authenticate(
                    black_box(&token),
                    keys,
                    &RustCrypto,
                    NOW,
                ))
                .unwrap();
                let (_, decision) = gate
                    .decide(
                        &principal,
                        "GET",
                        "/pets/7",
                        &cedargate::RequestValues::at(cedargate::UnixTime(0)),
                    )
                    .unwrap();
                assert!(decision.is_allowed());
            })
        });
    }

    /// A bundle of 50 actions over 10 resources, with group, scope and attribute policies.
    fn fifty_actions() -> BundleSource {
        let mut actions = String::new();
        let mut routes = Vec::new();
        for r in 0..10 {
            for method in ["get", "post", "put", "patch", "delete"] {
                let path = if method == "post" {
                    format!("/r{r}")
                } else {
                    format!("/r{r}/{{id}}")
                };
                let context = if method == "post" {
                    String::new()
                } else {
                    ", context: { pathParameters: { id: String } }".to_owned()
                };
                actions.push_str(&format!(
                    "  action \"{method} {path}\" appliesTo {{ principal: [User], resource: [Application]{context} }};\n"
                ));
                routes.push(format!("{method} {path}"));
            }
        }
        BundleSource {
            schema: format!(
                "namespace Big {{\n  entity UserGroup;\n  entity User in [UserGroup] {{ scope?: Set<String>, permissions?: Set<String> }};\n  entity Application;\n{actions}}}\n"
            ),
            policies: r#"@id("admins") permit (principal in Big::UserGroup::"admins", action, resource);
    @id("readers") permit (principal in Big::UserGroup::"readers", action, resource)
      when { context has pathParameters };
    @id("writers") permit (principal, action, resource)
      when { principal has scope && principal.scope.contains("write") };
    @id("no-deletes") forbid (principal, action in [Big::Action::"delete /r0/{id}", Big::Action::"delete /r1/{id}"], resource)
      unless { principal in Big::UserGroup::"admins" };
    "#
            .into(),
            routes: json!({ "namespace": "Big", "resource": { "type": "Application", "id": "big" }, "routes": routes }).to_string(),
        }
    }

    fn matrix(c: &mut Criterion) {
        let bundle = Bundle::load(&fifty_actions()).unwrap();
        let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
            "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID]
        }] }))
        .unwrap();
        let trust = Trust::bind(&config, &bundle).unwrap();
        let claims = serde_json::from_value(
            json!({ "sub": "u", "group": ["readers"], "scope": "read write" }),
        )
        .unwrap();
        let principal = trust
            .insecure_principal_from_claims(ISSUER_A, TokenKind::Id, &claims)
            .unwrap();
        assert_eq!(bundle.allowed_actions(&principal).len(), 50);
        c.bench_function("matrix/allowed_actions_50", |b| {
            b.iter(|| bundle.allowed_actions(black_box(&principal)))
        });
        let gate = Gate::new(bundle, &config).unwrap();
        c.bench_function("decision/authorize_50_action_bundle", |b| {
            b.iter(|| {
                gate.decide(
                    black_box(&principal),
                    "PUT",
                    "/r7/42",
                    &cedargate::RequestValues::at(cedargate::UnixTime(0)),
                )
                .unwrap()
            })
        });
    }

    /// What a new isolate does with its bundle: load the text (parse and validate, as a KV
    /// document is loaded) or load the compiled form the build script validated (the
    /// worker's built-in bundle).
    fn bundle_load(c: &mut Criterion) {
        let source = cedargate::examples::petstore_source();
        let from_text = Bundle::load(&source).unwrap();
        let compiled = from_text.compiled().clone();
        let version = from_text.version().to_string();
        c.bench_function("bundle/load_text", |b| {
            b.iter(|| Bundle::load(black_box(&source)).unwrap())
        });
        c.bench_function("bundle/load_compiled_validated_as", |b| {
            b.iter(|| {
                Bundle::load_compiled_validated_as(black_box(&compiled), None, &version).unwrap()
            })
        });
    }

    /// A bundle with entity data (the AuthZEN interop Todo bundle and its `entities.json`):
    /// the token's principal is joined with what the data says of it per decision. Rick's
    /// token names him by his identity provider's subject; the data makes that subject a
    /// member of his e-mail entity, which holds the `admin` role.
    fn entity_data(c: &mut Criterion) {
        let bundle = cedargate::examples::authzen_todo().unwrap();
        let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
            "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE],
            "group_claim": "roles", "group_type": "Role",
            "claims": [{ "claim": "email", "type": "String" }],
        }] }))
        .unwrap();
        let gate = Gate::new(bundle, &config).unwrap();
        let claims = json!({
            "iss": ISSUER_A, "aud": [API_AUDIENCE], "client_id": "todo-spa",
            "sub": "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "email": "rick@the-citadel.com",
            "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
        });
        let token = mint(&claims, "a-rsa-1", "at+jwt");
        let key_set = &key_sets()[ISSUER_A];
        let keys = cedargate::IssuerKeys::new(ISSUER_A, key_set);
        let (_, principal) =
            pollster::block_on(gate.authenticate(&token, keys, &RustCrypto, NOW)).unwrap();
        let values = cedargate::RequestValues::at(cedargate::UnixTime(0));
        let (_, decision) = gate.decide(&principal, "POST", "/todos", &values).unwrap();
        assert!(decision.is_allowed());
        c.bench_function("decision/authorize_entity_data", |b| {
            b.iter(|| {
                let (_, decision) = gate
                    .decide(black_box(&principal), "POST", "/todos", &values)
                    .unwrap();
                assert!(decision.is_allowed());
            })
        });
        // A new token's Cedar work without the signature: its claims mapped to a principal
        // and its first decision (the join with the data included).
        let claims = claims.as_object().unwrap().clone();
        c.bench_function("decision/new_principal_entity_data", |b| {
            b.iter(|| {
                let principal = gate
                    .trust()
                    .insecure_principal_from_claims(ISSUER_A, TokenKind::Access, black_box(&claims))
                    .unwrap();
                let (_, decision) = gate.decide(&principal, "POST", "/todos", &values).unwrap();
                assert!(decision.is_allowed());
            })
        });
        c.bench_function("pipeline/rs256_entity_data", |b| {
            b.iter(|| {
                let (_, principal) = pollster::block_on(gate.authenticate(
                    black_box(&token),
                    keys,
                    &RustCrypto,
                    NOW,
                ))
                .unwrap();
                let (_, decision) = gate.decide(&principal, "POST", "/todos", &values).unwrap();
                assert!(decision.is_allowed());
            })
        });
    }

    criterion_group!(
        benches,
        bare_signatures,
        tokens,
        steps,
        matrix,
        entity_data,
        bundle_load
    );
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);
