//! KV bundles with the publisher's signature required, and KV required (the default with
//! `bundle_kv`): no request is decided by the built-in bundle. Unsigned, wrongly signed,
//! missing or garbled documents leave every request 503; a signed one with a higher serial
//! takes over, and decides the very first request of a new isolate.

use super::*;

pub struct SignedKvBundles {
    provider: TestProvider,
    _origin: Option<EchoOrigin>,
    worker: Wrangler,
    issuer: String,
    config: Value,
    publisher: cedargate::BundleSigningKey,
    forged: String,
    signed: String,
    /// Signed by the publisher for the deployment `staging`.
    for_staging: String,
    /// Signed by the publisher, naming no deployment.
    for_nobody: String,
}

/// The deployment the suite's worker is.
const AUDIENCE: &str = "e2e-production";

impl SignedKvBundles {
    fn user(&self) -> String {
        id_token(&self.issuer, "bob", &["AVP_User"], "a-rsa-1")
    }

    /// Waits for a `bundle_rejected` event whose error contains `needle`.
    fn rejected_with(&self, needle: &str) -> Result<(), String> {
        poll(&format!("bundle_rejected with \"{needle}\""), || {
            let _ = call(&self.worker, "GET", "/pets", Some(&self.user()))?;
            Ok(self.worker.log_lines().into_iter().any(|l| {
                l["event"] == "bundle_rejected"
                    && l["error"].as_str().unwrap_or_default().contains(needle)
            }))
        })
    }

    /// A new worker (a new isolate, its own KV) whose KV entry is `entry` (none: no
    /// entry at all) when it starts.
    fn cold_worker(&self, name: &str, entry: Option<&str>) -> Result<Wrangler, String> {
        let extra = kv_namespace(&format!("cedargate-e2e-{name}"));
        let dir = cedargate_tests::work_dir(name);
        match entry {
            Some(entry) => {
                start_with_kv(name, &format!("cedargate-e2e-{name}"), &self.config, entry)
            }
            None => Wrangler::start_in(&dir, name, &self.config, &extra),
        }
    }
}

/// The PetStore policies with `more` added.
fn petstore_with(more: &str) -> cedargate::BundleSource {
    let petstore = cedargate::examples::petstore_source();
    cedargate::BundleSource {
        policies: format!("{}\n{more}\n", petstore.policies),
        ..petstore
    }
}

const USERS_MAY_POST: &str = "@id(\"users-may-post\")\npermit (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"post /pets\", resource);";

/// A 503 `bundle-unavailable` that names no bundle version.
fn unavailable(reply: &Reply, what: &str) -> Result<(), String> {
    same(reply.status, 503, what)?;
    same(
        reply.json()["type"].as_str(),
        Some("urn:cedargate:problem:bundle-unavailable"),
        what,
    )?;
    ensure(reply.header("retry-after").is_some(), || {
        format!("{what}: no Retry-After")
    })?;
    same(reply.header("x-cedargate-bundle-version"), None, what)
}

pub const CHECKS: &[Check<SignedKvBundles>] = checks![
    unsigned_and_wrongly_signed_documents_are_503_never_the_built_in_policies,
    publisher_signed_bundle_takes_over,
    a_new_isolate_decides_its_first_request_with_the_kv_bundle,
    a_new_isolate_without_a_document_it_takes_answers_503,
];

/// Makes the signing keys and starts the signed-bundle worker.
pub fn start() -> Result<SignedKvBundles, String> {
    use sha2::Digest as _;
    let seed = |tag: &str| -> [u8; 32] {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        sha2::Sha256::digest(format!("{tag}-{}-{nanos}", std::process::id())).into()
    };
    let (Ok(publisher), Ok(stranger)) = (
        cedargate::BundleSigningKey::from_seed(seed("publisher")),
        cedargate::BundleSigningKey::from_seed(seed("stranger")),
    ) else {
        return Err("no key".into());
    };
    let permissive = petstore_with(USERS_MAY_POST);
    let compiled = |document| cedargate_tests::bundles::compiled(document);
    let unsigned = cedargate_tests::bundles::compiled_json(cedargate::BundleDocument::new(
        permissive.clone(),
        5,
    ))?;
    let forged = stranger
        .sign(&compiled(
            cedargate::BundleDocument::new(permissive.clone(), 6).with_audience(AUDIENCE),
        )?)
        .unwrap_or_default();
    let signed = publisher
        .sign(&compiled(
            cedargate::BundleDocument::new(permissive.clone(), 7).with_audience(AUDIENCE),
        )?)
        .unwrap_or_default();
    // Signed by the publisher, for another deployment, or for none.
    let for_staging = publisher
        .sign(&compiled(
            cedargate::BundleDocument::new(permissive.clone(), 9).with_audience("staging"),
        )?)
        .unwrap_or_default();
    let for_nobody = publisher
        .sign(&compiled(cedargate::BundleDocument::new(permissive, 9))?)
        .unwrap_or_default();
    let fixture = Fixture::new("env-signed")?.origin()?;
    let config = fixture.config(json!({
        "bundle_kv": {
            "binding": "CEDARGATE_BUNDLES", "key": "current", "refresh_seconds": 1,
            "public_key": publisher.public_key().to_base64url(),
            "audience": AUDIENCE,
        },
    }));
    let worker = start_with_kv("edge-signed", "cedargate-e2e-signed", &config, &unsigned)?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(SignedKvBundles {
        provider,
        _origin: origin,
        worker,
        issuer,
        config,
        publisher,
        forged,
        signed,
        for_staging,
        for_nobody,
    })
}

/// With a public key configured, unsigned and wrongly signed bundles are refused, and
/// with nothing else in KV every request is 503: the built-in policies (which allow
/// `get /pets`) never decide.
fn unsigned_and_wrongly_signed_documents_are_503_never_the_built_in_policies(
    s: &SignedKvBundles,
) -> Result<(), String> {
    let SignedKvBundles { worker, forged, .. } = s;
    unavailable(
        &call(worker, "GET", "/pets", Some(&s.user()))?,
        "the first request, with an unsigned document in KV",
    )?;
    s.rejected_with("not signed")?;
    unavailable(
        &call(worker, "GET", "/pets", Some(&s.user()))?,
        "after an unsigned document",
    )?;
    // Public routes and requests without a token alike.
    unavailable(&call(worker, "GET", "/pets", None)?, "without a token")?;
    Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", forged)?;
    s.rejected_with("signature is invalid")?;
    unavailable(
        &call(worker, "GET", "/pets", Some(&s.user()))?,
        "after a forged document",
    )?;
    let logged = worker
        .log_lines()
        .into_iter()
        .any(|l| l["status"] == 503 && l["error"] == "bundle-unavailable");
    ensure(logged, || {
        "no 503 log line naming bundle-unavailable".into()
    })
}

/// A bundle signed by the publisher takes over.
fn publisher_signed_bundle_takes_over(s: &SignedKvBundles) -> Result<(), String> {
    let SignedKvBundles { worker, signed, .. } = s;
    Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", signed)?;
    poll("the signed bundle to take over", || {
        Ok(call(worker, "POST", "/pets", Some(&s.user()))?.status == 200)
    })?;
    let updated = worker
        .log_lines()
        .into_iter()
        .any(|l| l["event"] == "bundle_updated" && l["serial"] == 7);
    ensure(updated, || "no bundle_updated event with serial 7".into())
}

/// A `forbid` shipped through KV holds from the very first request of a new isolate:
/// the KV read is awaited, never decided around.
fn a_new_isolate_decides_its_first_request_with_the_kv_bundle(
    s: &SignedKvBundles,
) -> Result<(), String> {
    let frozen = petstore_with(
        "@id(\"users-frozen\")\nforbid (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"get /pets\", resource);",
    );
    let document = s
        .publisher
        .sign(&cedargate_tests::bundles::compiled(
            cedargate::BundleDocument::new(frozen, 8).with_audience(AUDIENCE),
        )?)
        .map_err(|e| e.to_string())?;
    let cold = s.cold_worker("edge-signed-cold", Some(&document))?;
    let first = call(&cold, "GET", "/pets", Some(&s.user()))?;
    same(first.status, 403, "the very first request")?;
    same(
        first.json()["policies"].clone(),
        json!(["users-frozen"]),
        "deciding policies",
    )?;
    let admin = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    same(
        call(&cold, "GET", "/pets", Some(&admin))?.status,
        200,
        "others as the policies say",
    )
}

/// A new isolate whose KV entry is missing, garbage, signed by someone else, or signed
/// by the publisher for another deployment or for none answers 503, and keeps answering
/// it, never with the older policies compiled in.
fn a_new_isolate_without_a_document_it_takes_answers_503(
    s: &SignedKvBundles,
) -> Result<(), String> {
    let hits = s.provider.jwks_hits("env-signed");
    let cases = [
        ("edge-signed-none", None),
        (
            "edge-signed-garbage",
            Some("{\"serial\": 99, \"not\": \"a bundle\""),
        ),
        ("edge-signed-forged", Some(s.forged.as_str())),
        ("edge-signed-staging", Some(s.for_staging.as_str())),
        ("edge-signed-nobody", Some(s.for_nobody.as_str())),
    ];
    // Started side by side: each is a new isolate on its own, and starting five one after
    // the other would be most of this check's time.
    let started: Vec<Result<Wrangler, String>> = std::thread::scope(|scope| {
        let starting: Vec<_> = cases
            .iter()
            .map(|(name, entry)| scope.spawn(move || s.cold_worker(name, *entry)))
            .collect();
        starting
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("starting panicked".into())))
            .collect()
    });
    let colds = started.into_iter().collect::<Result<Vec<_>, _>>()?;
    for ((name, _), cold) in cases.iter().zip(&colds) {
        for attempt in ["first", "second"] {
            unavailable(
                &call(cold, "GET", "/pets", Some(&s.user()))?,
                &format!("{name}: the {attempt} request"),
            )?;
        }
    }
    std::thread::sleep(Duration::from_millis(1100)); // past refresh_seconds
    for ((name, _), cold) in cases.iter().zip(&colds) {
        unavailable(
            &call(cold, "GET", "/pets", Some(&s.user()))?,
            &format!("{name}: after a second read"),
        )?;
    }
    // Nothing was decided, so no token needed verifying.
    same(s.provider.jwks_hits("env-signed"), hits, "no key fetch")
}
