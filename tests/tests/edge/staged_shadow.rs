//! The staged bundle's shadow decisions on a public route, sampled at `shadow_percent` 50,
//! and a candidate the worker's configuration refuses. The live bundle (from KV) is the
//! PetStore bundle with the public `get /health` (`policies/petstore-access/`); requests
//! without a token to `/health` are decided for the anonymous principal by the live bundle
//! and, for the requests [`sampled`] picks by their request id, by the staged candidate too.
//! The candidates: one whose `forbid` refuses the anonymous principal `get /health`, then one
//! where `get /health` is no longer public, then one without the route `get /pets/{petId}`,
//! which the configuration's `rollout.actions` names, so the worker refuses it
//! (`check_bundle`) and keeps the one before. Every answer stays the live bundle's.

use super::*;
use cedargate::{BundleDocument, BundleSigningKey, BundleSlot, BundleSource};
use sha2::Digest as _;

/// The deployment the suite's worker is.
const AUDIENCE: &str = "e2e-staged-shadow";
const LIVE_SERIAL: u64 = 3;
/// The candidate whose `forbid` refuses the anonymous principal `get /health`.
const CLOSED_SERIAL: u64 = 5;
/// The candidate where `get /health` is not public.
const PRIVATE_SERIAL: u64 = 6;
/// The candidate the configuration refuses.
const UNFIT_SERIAL: u64 = 7;
const SHADOW_PERCENT: u8 = 50;
/// The action `rollout.actions` names: the live bundle and the built-in one route it.
const NAMED_ACTION: &str = "get /pets/{petId}";
const HEALTH_CLOSED: &str = "@id(\"health-closed\")\nforbid (principal is PetStore::Anonymous, action == PetStore::Action::\"get /health\", resource);";

pub struct StagedShadow {
    _provider: TestProvider,
    _origin: Option<EchoOrigin>,
    worker: Wrangler,
    issuer: String,
    publisher: BundleSigningKey,
    /// The live bundle's version, which every answer names.
    live_version: Mutex<Option<String>>,
}

pub const CHECKS: &[Check<StagedShadow>] = checks![
    a_public_route_decided_otherwise_by_the_candidate_is_logged_and_answered_live,
    at_half_the_requests_exactly_those_sampled_by_their_id_are_compared,
    a_route_no_longer_public_in_the_candidate_is_logged_as_no_route,
    a_candidate_the_configuration_refuses_is_logged_and_changes_nothing,
];

/// Whether the request `id` is decided with the candidate too at `percent`: what
/// `cedargate_edge::shadow::sampled` decides (the first eight bytes of the id's SHA-256,
/// big-endian, modulo 100, below the share), written out here so the test predicts it.
fn sampled(id: &str, percent: u8) -> bool {
    let digest = sha2::Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100 < u64::from(percent)
}

/// The PetStore bundle with the public `get /health`, its routes changed by `routes` and
/// `policies` (Cedar text) added.
fn access_source(
    policies: &str,
    routes: impl FnOnce(&mut Vec<Value>),
) -> Result<BundleSource, String> {
    let dir = cedargate_tests::root().join("policies/petstore-access");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string());
    let mut table: Value =
        serde_json::from_str(&read("routes.json")?).map_err(|e| e.to_string())?;
    let list = table["routes"]
        .as_array_mut()
        .ok_or("routes.json has no routes")?;
    routes(list);
    Ok(BundleSource {
        schema: read("schema.cedarschema")?,
        policies: format!("{}\n{policies}\n", read("policies.cedar")?),
        routes: table.to_string(),
    })
}

pub fn start() -> Result<StagedShadow, String> {
    let publisher = cedargate_tests::bundles::run_key("staged-shadow")?;
    let live = publisher
        .sign(&cedargate_tests::bundles::compiled(
            BundleDocument::new(access_source("", |_| {})?, LIVE_SERIAL).with_audience(AUDIENCE),
        )?)
        .map_err(|e| e.to_string())?;
    let fixture = Fixture::new("env-staged-shadow")?.origin()?;
    let config = fixture.config(json!({
        "bundle_endpoint": true,
        "rollout": { "actions": { NAMED_ACTION: true } },
        "bundle_kv": {
            "binding": "CEDARGATE_BUNDLES", "key": "current", "refresh_seconds": 1,
            "public_key": publisher.public_key().to_base64url(),
            "audience": AUDIENCE,
            "staged_key": "staged", "shadow_percent": SHADOW_PERCENT,
        },
    }));
    let worker = start_with_kv("edge-shadow", "cedargate-e2e-staged-shadow", &config, &live)?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(StagedShadow {
        _provider: provider,
        _origin: origin,
        worker,
        issuer,
        publisher,
        live_version: Mutex::new(None),
    })
}

impl StagedShadow {
    /// Writes `source` with `serial` for the staged slot of this deployment.
    fn stage(&self, source: BundleSource, serial: u64) -> Result<(), String> {
        let document = self
            .publisher
            .sign(&cedargate_tests::bundles::compiled(
                BundleDocument::new(source, serial)
                    .with_audience(AUDIENCE)
                    .with_slot(BundleSlot::Staged),
            )?)
            .map_err(|e| e.to_string())?;
        Wrangler::kv_put(&self.worker.dir, "CEDARGATE_BUNDLES", "staged", &document)
    }

    /// `GET /health` without a token, answered as the live bundle answers (200 from the
    /// origin, the live bundle's version); its request id.
    fn health(&self, what: &str) -> Result<String, String> {
        let reply = call(&self.worker, "GET", "/health", None)?;
        same(reply.status, 200, what)?;
        same(
            reply.header("x-origin"),
            Some("echo"),
            &format!("{what}: answered by the origin"),
        )?;
        live_answer(&reply, &self.live_version, what)
    }

    /// Anonymous `GET /health`s until one whose id is sampled; its id.
    fn sampled_health(&self, what: &str) -> Result<String, String> {
        for _ in 0..40 {
            let id = self.health(what)?;
            if sampled(&id, SHADOW_PERCENT) {
                return Ok(id);
            }
        }
        Err(format!("{what}: no sampled request id in 40"))
    }

    /// The `decision_changed` events of the request `id`.
    fn changes_of(&self, id: &str) -> Vec<Value> {
        decision_changes(&self.worker, id)
    }

    /// The one `decision_changed` event of the request `id`, once logged.
    fn change_of(&self, id: &str, what: &str) -> Result<Value, String> {
        poll(&format!("{what}: decision_changed"), || {
            Ok(!self.changes_of(id).is_empty())
        })?;
        let events = self.changes_of(id);
        same(events.len(), 1, &format!("{what}: decision_changed lines"))?;
        Ok(events[0].clone())
    }

    /// Waits until the worker logged `event` with `field` containing `needle`, sending
    /// anonymous `GET /health`s (answered as the live bundle answers) meanwhile.
    fn logged(&self, event: &str, field: &str, needle: &str) -> Result<Value, String> {
        let find = || {
            self.worker
                .log_lines()
                .into_iter()
                .find(|l| l["event"] == event && l[field].to_string().contains(needle))
        };
        poll(&format!("{event} with {field} {needle}"), || {
            self.health("while waiting")?;
            Ok(find().is_some())
        })?;
        find().ok_or_else(|| format!("{event} gone from the log"))
    }

    /// The staged candidate's serial on the bundle endpoint (`None`: none), asked with a
    /// token.
    fn staged_serial(&self) -> Result<Option<u64>, String> {
        let bob = id_token(&self.issuer, "bob", &["AVP_User"], "a-rsa-1");
        let reply = call(
            &self.worker,
            "GET",
            cedargate_edge_bundle_path(),
            Some(&bob),
        )?;
        same(reply.status, 200, "the bundle endpoint")?;
        let document = reply.json();
        same(
            document["serial"].as_u64(),
            Some(LIVE_SERIAL),
            "the live serial",
        )?;
        Ok(document.get("staged").and_then(|s| s["serial"].as_u64()))
    }
}

/// The candidate's `forbid` refuses the anonymous principal `get /health`: a sampled
/// request without a token is logged as changed, for the anonymous principal's type and no
/// groups, with both sides' deciding policies, and is answered (200, forwarded) as the live
/// bundle says.
fn a_public_route_decided_otherwise_by_the_candidate_is_logged_and_answered_live(
    s: &StagedShadow,
) -> Result<(), String> {
    s.health("before the candidate")?;
    s.stage(access_source(HEALTH_CLOSED, |_| {})?, CLOSED_SERIAL)?;
    s.logged(
        "staged_bundle_updated",
        "serial",
        &CLOSED_SERIAL.to_string(),
    )?;
    let id = s.sampled_health("GET /health without a token")?;
    let event = s.change_of(&id, "GET /health without a token")?;
    same(event["action"].as_str(), Some("get /health"), "action")?;
    same(event.get("staged_action"), None, "the same route")?;
    same(
        event["principal_type"].as_str(),
        Some("PetStore::Anonymous"),
        "principal type",
    )?;
    same(event["groups"].clone(), json!([]), "groups")?;
    same(
        event["live"].clone(),
        json!({ "decision": "allow", "policies": ["public-get-health"] }),
        "live",
    )?;
    same(
        event["staged"].clone(),
        json!({ "decision": "deny", "policies": ["health-closed"] }),
        "staged",
    )?;
    same(s.staged_serial()?, Some(CLOSED_SERIAL), "the candidate")
}

/// At `shadow_percent` 50, of anonymous `GET /health`s (each of which the candidate decides
/// otherwise) exactly those whose request id [`sampled`] picks have a `decision_changed`
/// line, one each; the others have none once their request line is logged.
fn at_half_the_requests_exactly_those_sampled_by_their_id_are_compared(
    s: &StagedShadow,
) -> Result<(), String> {
    let mut ids = Vec::new();
    // Enough of both kinds: 24 requests, more if they fall unevenly (at most 80).
    while ids.len() < 80 {
        ids.push(s.health("GET /health without a token")?);
        let picked = ids.iter().filter(|id| sampled(id, SHADOW_PERCENT)).count();
        if ids.len() >= 24 && picked >= 4 && ids.len() - picked >= 4 {
            break;
        }
    }
    let (picked, left): (Vec<&String>, Vec<&String>) =
        ids.iter().partition(|id| sampled(id, SHADOW_PERCENT));
    ensure(picked.len() >= 4 && left.len() >= 4, || {
        format!(
            "{} sampled and {} not of {} ids",
            picked.len(),
            left.len(),
            ids.len()
        )
    })?;
    poll("the request lines", || {
        let lines = s.worker.log_lines();
        Ok(ids.iter().all(|id| {
            lines
                .iter()
                .any(|l| l["request_id"] == id.as_str() && l["status"].is_u64())
        }))
    })?;
    for id in &picked {
        let event = s.change_of(id, &format!("sampled request {id}"))?;
        same(
            event["staged"]["policies"].clone(),
            json!(["health-closed"]),
            "the candidate's policies",
        )?;
    }
    let compared: Vec<&&String> = left
        .iter()
        .filter(|id| !s.changes_of(id).is_empty())
        .collect();
    ensure(compared.is_empty(), || {
        format!(
            "requests not sampled by their id were compared: {compared:?} ({} sampled of {})",
            picked.len(),
            ids.len()
        )
    })
}

/// A candidate where `get /health` is not public: no route of it takes a request without a
/// token, so a sampled one is logged with `staged_action` "no route" and a deny by no policy.
fn a_route_no_longer_public_in_the_candidate_is_logged_as_no_route(
    s: &StagedShadow,
) -> Result<(), String> {
    let private = access_source("", |routes| {
        for route in routes.iter_mut() {
            if route["route"] == "get /health" {
                *route = json!("get /health");
            }
        }
    })?;
    ensure(!private.routes.contains("public"), || {
        "get /health is still public in the candidate".into()
    })?;
    s.stage(private, PRIVATE_SERIAL)?;
    s.logged(
        "staged_bundle_updated",
        "serial",
        &PRIVATE_SERIAL.to_string(),
    )?;
    let id = s.sampled_health("GET /health without a token")?;
    let event = s.change_of(&id, "GET /health without a token")?;
    same(event["action"].as_str(), Some("get /health"), "action")?;
    same(
        event["staged_action"].as_str(),
        Some("no route"),
        "staged action",
    )?;
    same(
        event["staged"].clone(),
        json!({ "decision": "deny", "policies": [] }),
        "staged",
    )?;
    same(
        event["principal_type"].as_str(),
        Some("PetStore::Anonymous"),
        "principal type",
    )
}

/// A candidate signed for this deployment's staged slot with a serial above both, but
/// without the route of the action `rollout.actions` names: the worker's check of a bundle
/// against its configuration refuses it, logs why and keeps the candidate before it, which
/// is still compared; the answers stay the live bundle's. No token sent is in the log.
fn a_candidate_the_configuration_refuses_is_logged_and_changes_nothing(
    s: &StagedShadow,
) -> Result<(), String> {
    let unfit = access_source(HEALTH_CLOSED, |routes| {
        routes.retain(|r| *r != NAMED_ACTION);
    })?;
    ensure(!unfit.routes.contains(NAMED_ACTION), || {
        format!("the candidate still routes {NAMED_ACTION}")
    })?;
    // The document itself is sound: it loads.
    cedargate::Bundle::load(&unfit).map_err(|e| format!("the unfit candidate: {e}"))?;
    s.stage(unfit, UNFIT_SERIAL)?;
    let refusal = s.logged(
        "staged_bundle_refused",
        "error",
        "is not an action of the bundle's routes",
    )?;
    ensure(
        refusal["error"]
            .as_str()
            .unwrap_or_default()
            .contains(NAMED_ACTION),
        || format!("the refusal does not name {NAMED_ACTION}: {refusal}"),
    )?;
    same(
        refusal["kept"].as_u64(),
        Some(PRIVATE_SERIAL),
        "the candidate kept",
    )?;
    ensure(
        !s.worker.log_lines().iter().any(|l| {
            l["event"] == "staged_bundle_updated" && l["serial"].as_u64() == Some(UNFIT_SERIAL)
        }),
        || "the refused candidate was taken".into(),
    )?;
    same(
        s.staged_serial()?,
        Some(PRIVATE_SERIAL),
        "the candidate in force",
    )?;
    // Still the candidate before: a sampled request is compared with it (no route), not
    // with the refused one (which would deny by its forbid).
    let id = s.sampled_health("after the refusal")?;
    let event = s.change_of(&id, "after the refusal")?;
    same(
        event["staged_action"].as_str(),
        Some("no route"),
        "compared with the candidate kept",
    )?;
    // The tokens sent to this worker (the bundle endpoint's) are not in its log.
    let logs = s.worker.logs();
    for token in SENT.lock().map_err(|e| e.to_string())?.iter() {
        let signature = token.rsplit('.').next().unwrap_or_default();
        ensure(signature.len() < 16 || !logs.contains(signature), || {
            "a token reached the log".into()
        })?;
    }
    Ok(())
}
