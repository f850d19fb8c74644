//! The staged bundle (`bundle_kv.staged_key`): a signed candidate beside the live PetStore
//! bundle, with a `forbid` on `get /pets` for AVP_User. Every request is also decided with
//! it (`shadow_percent` 100) and each disagreement is logged as `decision_changed`, while
//! every answer stays the live bundle's; staged documents that are forged, for another
//! deployment, for the live slot or with a lower serial are refused and logged; promoting
//! (the live entry written with a serial above both) changes the answers.

use super::*;
use cedargate::{BundleDocument, BundleSigningKey, BundleSlot, BundleSource};

/// The deployment the suite's worker is.
const AUDIENCE: &str = "e2e-staged";
const LIVE_SERIAL: u64 = 3;
const STAGED_SERIAL: u64 = 5;
const FROZEN: &str = "@id(\"users-frozen\")\nforbid (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"get /pets\", resource);";
/// What a `decision_changed` event may hold: nothing of the token beyond the principal's
/// type and groups.
const EVENT_FIELDS: [&str; 8] = [
    "event",
    "request_id",
    "action",
    "staged_action",
    "principal_type",
    "groups",
    "live",
    "staged",
];

pub struct StagedBundle {
    _provider: TestProvider,
    _origin: Option<EchoOrigin>,
    worker: Wrangler,
    issuer: String,
    publisher: BundleSigningKey,
    stranger: BundleSigningKey,
    /// The live bundle's version, which every answer names until the promotion.
    live_version: Mutex<Option<String>>,
}

pub const CHECKS: &[Check<StagedBundle>] = checks![
    without_a_staged_entry_nothing_is_compared,
    a_staged_forbid_logs_exactly_the_requests_it_changes_and_answers_stay_live,
    the_bundle_endpoint_shows_the_staged_candidate_beside_the_live_bundle,
    refused_staged_documents_are_logged_and_change_nothing,
    promoting_changes_the_answers_and_retires_the_candidate,
    no_token_reaches_the_log,
];

/// The PetStore policies with the `forbid` of the candidate.
fn frozen() -> BundleSource {
    cedargate_tests::bundles::petstore_with(FROZEN)
}

fn key(tag: &str) -> Result<BundleSigningKey, String> {
    cedargate_tests::bundles::run_key(&format!("staged-{tag}"))
}

/// `document` compiled (as `cedargate bundle` publishes it) and signed with `key`.
fn sign(key: &BundleSigningKey, document: &BundleDocument) -> Result<String, String> {
    key.sign(&cedargate_tests::bundles::compiled(document.clone())?)
        .map_err(|e| e.to_string())
}

pub fn start() -> Result<StagedBundle, String> {
    let publisher = key("publisher")?;
    let stranger = key("stranger")?;
    let live = sign(
        &publisher,
        &BundleDocument::new(cedargate::examples::petstore_source(), LIVE_SERIAL)
            .with_audience(AUDIENCE),
    )?;
    let fixture = Fixture::new("env-staged")?.origin()?;
    let config = fixture.config(json!({
        "bundle_endpoint": true,
        "bundle_kv": {
            "binding": "CEDARGATE_BUNDLES", "key": "current", "refresh_seconds": 1,
            "public_key": publisher.public_key().to_base64url(),
            "audience": AUDIENCE,
            "staged_key": "staged", "shadow_percent": 100,
        },
    }));
    let worker = start_with_kv("edge-staged", "cedargate-e2e-staged", &config, &live)?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(StagedBundle {
        _provider: provider,
        _origin: origin,
        worker,
        issuer,
        publisher,
        stranger,
        live_version: Mutex::new(None),
    })
}

impl StagedBundle {
    fn bob(&self) -> String {
        id_token(&self.issuer, "bob", &["AVP_User"], "a-rsa-1")
    }

    fn alice(&self) -> String {
        id_token(&self.issuer, "alice", &["AVP_Admin"], "a-rsa-1")
    }

    /// A document for the staged entry, signed by the publisher for this deployment.
    fn staged(&self, source: BundleSource, serial: u64) -> Result<String, String> {
        sign(
            &self.publisher,
            &BundleDocument::new(source, serial)
                .with_audience(AUDIENCE)
                .with_slot(BundleSlot::Staged),
        )
    }

    /// `method path` with `token`, answered as the live bundle answers: `status`, and the
    /// live bundle's version; the request id.
    fn answered(
        &self,
        method: &str,
        path: &str,
        token: &str,
        status: u16,
        what: &str,
    ) -> Result<String, String> {
        let reply = call(&self.worker, method, path, Some(token))?;
        same(reply.status, status, what)?;
        live_answer(&reply, &self.live_version, what)
    }

    /// The `decision_changed` events of the request `id`.
    fn changes_of(&self, id: &str) -> Vec<Value> {
        decision_changes(&self.worker, id)
    }

    /// Waits until the worker logged `event` with `field` containing `needle`, sending bob's
    /// `get /pets` (answered as the live bundle answers) meanwhile.
    fn logged(&self, event: &str, field: &str, needle: &str) -> Result<(), String> {
        poll(&format!("{event} with {field} {needle}"), || {
            self.answered("GET", "/pets", &self.bob(), 200, "while waiting")?;
            Ok(self
                .worker
                .log_lines()
                .into_iter()
                .any(|l| l["event"] == event && l[field].to_string().contains(needle)))
        })
    }

    /// The bundle endpoint's document, for bob.
    fn bundle_endpoint(&self) -> Result<Value, String> {
        let reply = call(
            &self.worker,
            "GET",
            cedargate_edge_bundle_path(),
            Some(&self.bob()),
        )?;
        same(reply.status, 200, "the bundle endpoint")?;
        Ok(reply.json())
    }
}

/// Without a staged entry in KV, requests are answered as the live bundle says and nothing
/// is compared.
fn without_a_staged_entry_nothing_is_compared(s: &StagedBundle) -> Result<(), String> {
    for _ in 0..3 {
        s.answered("GET", "/pets", &s.bob(), 200, "bob's get /pets")?;
        std::thread::sleep(Duration::from_millis(400));
    }
    let lines = s.worker.log_lines();
    ensure(
        !lines
            .iter()
            .any(|l| l["event"] == "decision_changed" || l["event"] == "staged_bundle_updated"),
        || "a staged decision without a staged entry".into(),
    )?;
    same(
        s.bundle_endpoint()?.get("staged").cloned(),
        None,
        "the bundle endpoint's staged candidate",
    )
}

/// The candidate's `forbid` would refuse bob's `get /pets` only: that request is logged as
/// changed (a cached decision of the same token too), alice's `get /pets` and bob's
/// `get /pets/{petId}` are not, and every answer is the live bundle's.
fn a_staged_forbid_logs_exactly_the_requests_it_changes_and_answers_stay_live(
    s: &StagedBundle,
) -> Result<(), String> {
    Wrangler::kv_put(
        &s.worker.dir,
        "CEDARGATE_BUNDLES",
        "staged",
        &s.staged(frozen(), STAGED_SERIAL)?,
    )?;
    s.logged(
        "staged_bundle_updated",
        "serial",
        &STAGED_SERIAL.to_string(),
    )?;
    let bob = s.bob();
    let changed = s.answered("GET", "/pets", &bob, 200, "bob's get /pets")?;
    let cached = s.answered("GET", "/pets", &bob, 200, "bob's get /pets again")?;
    let admin = s.answered("GET", "/pets", &s.alice(), 200, "alice's get /pets")?;
    let pet = s.answered("GET", "/pets/7", &bob, 200, "bob's get /pets/{petId}")?;
    // Denied by both bundles alike.
    let post = s.answered("POST", "/pets", &bob, 403, "bob's post /pets")?;
    for id in [&changed, &cached] {
        poll("bob's get /pets logged as changed", || {
            Ok(!s.changes_of(id).is_empty())
        })?;
    }
    let events = s.changes_of(&changed);
    same(events.len(), 1, "one decision_changed for the request")?;
    let event = &events[0];
    same(event["action"].as_str(), Some("get /pets"), "action")?;
    same(event.get("staged_action"), None, "the same route")?;
    same(
        event["live"].clone(),
        json!({ "decision": "allow", "policies": ["avp-user-all-but-post-pets"] }),
        "live",
    )?;
    same(
        event["staged"].clone(),
        json!({ "decision": "deny", "policies": ["users-frozen"] }),
        "staged",
    )?;
    same(
        event["principal_type"].as_str(),
        Some("PetStore::User"),
        "principal type",
    )?;
    ensure(event["groups"].to_string().contains("AVP_User"), || {
        format!("bob's group missing from {event}")
    })?;
    if let Value::Object(fields) = event {
        for name in fields.keys() {
            ensure(EVENT_FIELDS.contains(&name.as_str()), || {
                format!("decision_changed holds {name}: {event}")
            })?;
        }
    }
    // The request lines of the unaffected requests are there, their changes are not.
    poll("the request lines", || {
        let lines = s.worker.log_lines();
        Ok([&admin, &pet, &post].iter().all(|id| {
            lines
                .iter()
                .any(|l| l["request_id"] == **id && l["status"].is_u64())
        }))
    })?;
    for (id, what) in [
        (&admin, "alice's get /pets"),
        (&pet, "bob's get /pets/{petId}"),
        (&post, "bob's post /pets"),
    ] {
        same(
            s.changes_of(id).len(),
            0,
            &format!("{what}: decision_changed"),
        )?;
    }
    Ok(())
}

/// The bundle endpoint carries the candidate's version, serial and policies beside the
/// live bundle's.
fn the_bundle_endpoint_shows_the_staged_candidate_beside_the_live_bundle(
    s: &StagedBundle,
) -> Result<(), String> {
    let document = s.bundle_endpoint()?;
    same(
        document["serial"].as_u64(),
        Some(LIVE_SERIAL),
        "live serial",
    )?;
    let staged = &document["staged"];
    same(
        staged["serial"].as_u64(),
        Some(STAGED_SERIAL),
        "staged serial",
    )?;
    ensure(
        staged["version"].is_string() && staged["version"] != document["version"],
        || format!("the staged version is not its own: {}", staged["version"]),
    )?;
    // Both are compiled documents: their policies' texts travel in the compiled form.
    let texts = |side: &Value| side["compiled"]["policy_texts"].clone();
    ensure(
        texts(staged)["users-frozen"]
            .as_str()
            .is_some_and(|p| p.contains("forbid")),
        || "the staged policies are not the candidate's".into(),
    )?;
    ensure(
        texts(&document).is_object() && texts(&document).get("users-frozen").is_none(),
        || "the live policies hold the candidate's forbid".into(),
    )?;
    // The same document type loads both.
    let endpoint: cedargate::wire::BundleEndpoint =
        serde_json::from_value(document.clone()).map_err(|e| e.to_string())?;
    let candidate = endpoint.staged.ok_or("no staged candidate")?;
    candidate.bundle().map_err(|e| e.to_string())?;
    Ok(())
}

/// A staged document signed by someone else, signed for another deployment, made for the
/// live slot, or with a serial below the candidate's is refused and logged with its reason;
/// the candidate before it stays (bob's `get /pets` is still logged as changed) and the
/// answers are the live bundle's.
fn refused_staged_documents_are_logged_and_change_nothing(s: &StagedBundle) -> Result<(), String> {
    let cases = [
        (
            "a forged signature",
            sign(
                &s.stranger,
                &BundleDocument::new(frozen(), 6)
                    .with_audience(AUDIENCE)
                    .with_slot(BundleSlot::Staged),
            )?,
            "signature is invalid",
        ),
        (
            "another deployment",
            sign(
                &s.publisher,
                &BundleDocument::new(frozen(), 7)
                    .with_audience("e2e-elsewhere")
                    .with_slot(BundleSlot::Staged),
            )?,
            "e2e-elsewhere",
        ),
        (
            "the live slot",
            sign(
                &s.publisher,
                &BundleDocument::new(frozen(), 8).with_audience(AUDIENCE),
            )?,
            "is live, read as staged",
        ),
        (
            "a lower serial",
            s.staged(cedargate::examples::petstore_source(), 4)?,
            "serial 4 is not above",
        ),
    ];
    for (what, document, reason) in cases {
        Wrangler::kv_put(&s.worker.dir, "CEDARGATE_BUNDLES", "staged", &document)?;
        s.logged("staged_bundle_refused", "error", reason)
            .map_err(|e| format!("{what}: {e}"))?;
        let refusal = s
            .worker
            .log_lines()
            .into_iter()
            .find(|l| {
                l["event"] == "staged_bundle_refused"
                    && l["error"].as_str().unwrap_or_default().contains(reason)
            })
            .unwrap_or_default();
        same(
            refusal["kept"].as_u64(),
            Some(STAGED_SERIAL),
            &format!("{what}: the candidate kept"),
        )?;
        ensure(!refusal.to_string().contains(&document), || {
            format!("{what}: the document reached the log")
        })?;
        let id = s.answered("GET", "/pets", &s.bob(), 200, what)?;
        poll(&format!("{what}: the candidate still compared"), || {
            Ok(!s.changes_of(&id).is_empty())
        })?;
        s.answered("GET", "/pets", &s.alice(), 200, what)?;
    }
    same(
        s.bundle_endpoint()?["staged"]["serial"].as_u64(),
        Some(STAGED_SERIAL),
        "the candidate in force",
    )
}

/// `cedargate promote`'s document (the candidate's policies, live, a serial above both)
/// written to the live entry: after the refresh bob's `get /pets` is refused by the
/// candidate's `forbid`, the candidate is retired and nothing is compared any more.
fn promoting_changes_the_answers_and_retires_the_candidate(s: &StagedBundle) -> Result<(), String> {
    let promoted = sign(
        &s.publisher,
        &BundleDocument::new(frozen(), STAGED_SERIAL + 1).with_audience(AUDIENCE),
    )?;
    Wrangler::kv_put(&s.worker.dir, "CEDARGATE_BUNDLES", "current", &promoted)?;
    let mut last = None;
    poll("the promoted bundle to answer", || {
        let reply = call(&s.worker, "GET", "/pets", Some(&s.bob()))?;
        let done = reply.status == 403;
        last = Some(reply);
        Ok(done)
    })?;
    let refused = last.ok_or("no reply")?;
    same(
        refused.json()["policies"].clone(),
        json!(["users-frozen"]),
        "the deciding policy",
    )?;
    let retired = s.worker.log_lines().into_iter().any(|l| {
        l["event"] == "staged_bundle_retired" && l["serial"].as_u64() == Some(STAGED_SERIAL)
    });
    ensure(retired, || "no staged_bundle_retired event".into())?;
    let reply = call(&s.worker, "GET", "/pets", Some(&s.alice()))?;
    same(reply.status, 200, "alice's get /pets")?;
    let id = reply
        .header("x-cedargate-request-id")
        .unwrap_or_default()
        .to_owned();
    let document = s.bundle_endpoint()?;
    same(
        document["serial"].as_u64(),
        Some(STAGED_SERIAL + 1),
        "live serial",
    )?;
    same(
        document.get("staged").cloned(),
        None,
        "the staged candidate",
    )?;
    std::thread::sleep(Duration::from_millis(500));
    same(s.changes_of(&id).len(), 0, "compared after the promotion")
}

/// No token the suites sent appears in this worker's log.
fn no_token_reaches_the_log(s: &StagedBundle) -> Result<(), String> {
    let logs = s.worker.logs();
    ensure(logs.contains("decision_changed"), || {
        "the log has no decision_changed".into()
    })?;
    for token in SENT.lock().expect("tokens").iter() {
        let signature = token.rsplit('.').next().unwrap_or_default();
        ensure(signature.len() < 16 || !logs.contains(signature), || {
            "a token reached the log".into()
        })?;
        ensure(token.len() < 16 || !logs.contains(token.as_str()), || {
            "a token reached the log".into()
        })?;
    }
    Ok(())
}
