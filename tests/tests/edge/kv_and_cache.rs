//! Newer bundles from KV, and keys kept in the Cache API across isolates. The checks build
//! on each other: the newer bundle is the one the rollback check expects, and the last
//! check stops the worker to start another isolate.

use super::*;
use std::cell::{Ref, RefCell};

pub struct KvAndCache {
    provider: TestProvider,
    _origin: Option<EchoOrigin>,
    issuer: String,
    config: Value,
    extra: Value,
    invalid: String,
    /// A valid bundle's text document, serial 1.
    text: String,
    newer: String,
    newer_version: String,
    older: String,
    same_serial: String,
    built_in: String,
    /// Until the last check stops it.
    worker: RefCell<Option<Wrangler>>,
}

impl KvAndCache {
    fn worker(&self) -> Result<Ref<'_, Wrangler>, String> {
        Ref::filter_map(self.worker.borrow(), Option::as_ref)
            .map_err(|_| "the KV worker was stopped by an earlier check".to_owned())
    }

    fn user(&self) -> String {
        id_token(&self.issuer, "bob", &["AVP_User"], "a-rsa-1")
    }
}

pub const CHECKS: &[Check<KvAndCache>] = checks![
    invalid_bundle_logged_built_in_stays,
    a_text_document_is_refused_for_its_form,
    newer_bundle_takes_over_without_restart,
    older_or_equal_serial_cannot_roll_back,
    a_bundle_binding_that_is_not_bound_makes_the_worker_refuse_to_run,
    new_isolate_takes_keys_from_cache_api,
];

/// Starts the provider, the origin and the KV worker.
pub fn start() -> Result<KvAndCache, String> {
    let fixture = Fixture::new("env-kv")?.origin()?;
    let config = fixture.config(json!({
        // The built-in bundle may decide until KV holds one the worker takes: what this
        // suite checks is how newer ones replace it (`signed_kv_bundles`: KV required).
        "bundle_kv": { "binding": "CEDARGATE_BUNDLES", "key": "current", "refresh_seconds": 1, "serve_built_in": true },
    }));
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    let extra = kv_namespace("cedargate-e2e-bundles");
    let petstore = cedargate::examples::petstore_source();
    // A compiled document whose form does not validate: one more policy, for an action the
    // schema does not declare (the worker validates a form as it loads it).
    let mut broken =
        cedargate_tests::bundles::compiled(cedargate::BundleDocument::new(petstore.clone(), 1))?;
    if let Some(Value::Array(policies)) = broken
        .compiled
        .as_mut()
        .and_then(|c| c.content.get_mut("policies"))
    {
        policies.push(json!({ "id": "broken", "policy": {
            "effect": "permit",
            "principal": { "op": "All" },
            "action": { "op": "==", "entity": { "type": "PetStore::Action", "id": "no such action" } },
            "resource": { "op": "All" },
            "conditions": [],
            "annotations": { "id": "broken" }
        }}));
    }
    let invalid = serde_json::to_string(&broken).map_err(|e| e.to_string())?;
    // The folder's text, which the worker does not read (it links no Cedar text parser).
    let text = serde_json::to_string(&cedargate::BundleDocument::new(petstore.clone(), 1))
        .map_err(|e| e.to_string())?;
    let newer_source = cedargate::BundleSource {
        policies: format!(
            "{}\n@id(\"users-may-post\")\npermit (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"post /pets\", resource);\n",
            petstore.policies
        ),
        ..petstore.clone()
    };
    let newer_version = cedargate::Bundle::load(&newer_source)
        .map(|b| b.version().to_string())
        .unwrap_or_default();
    let compiled = |source: cedargate::BundleSource, serial: u64| {
        cedargate_tests::bundles::compiled_json(cedargate::BundleDocument::new(source, serial))
    };
    let newer = compiled(newer_source.clone(), 2)?;
    // What an attacker able to write KV but not to sign could put back: the older policies
    // (a lower serial), or other ones under the serial in force.
    let older = compiled(petstore.clone(), 1)?;
    let same_serial = compiled(
        cedargate::BundleSource {
            policies: format!("{}\n// another text\n", petstore.policies),
            ..petstore.clone()
        },
        2,
    )?;
    let worker = start_with_kv("edge-kv", "cedargate-e2e-bundles", &config, &invalid)?;
    let built_in = cedargate::examples::petstore()
        .map(|b| b.version().to_string())
        .unwrap_or_default();
    Ok(KvAndCache {
        provider,
        _origin: origin,
        issuer,
        config,
        extra,
        invalid,
        text,
        newer,
        newer_version,
        older,
        same_serial,
        built_in,
        worker: RefCell::new(Some(worker)),
    })
}

/// An invalid bundle in KV is logged and the built-in one stays.
fn invalid_bundle_logged_built_in_stays(s: &KvAndCache) -> Result<(), String> {
    let worker = s.worker()?;
    let KvAndCache { built_in, .. } = s;
    let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
    same(reply.status, 403, "built-in policies")?;
    std::thread::sleep(Duration::from_millis(1500));
    let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
    same(reply.status, 403, "still the built-in policies")?;
    same(
        reply.header("x-cedargate-bundle-version"),
        Some(built_in.as_str()),
        "version",
    )?;
    let rejected = worker
        .log_lines()
        .into_iter()
        .find(|l| l["event"] == "bundle_rejected");
    let rejected = rejected.ok_or("no bundle_rejected event")?;
    ensure(
        rejected["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no such action"),
        || rejected.to_string(),
    )?;
    same(
        rejected["kept"].as_str(),
        Some(built_in.as_str()),
        "kept version",
    )
}

/// A document of the folder's text (valid, and with a serial the worker would take) is
/// refused for its form, naming `cedargate bundle`, and the built-in bundle stays.
fn a_text_document_is_refused_for_its_form(s: &KvAndCache) -> Result<(), String> {
    let worker = s.worker()?;
    Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", &s.text)?;
    poll("the text document to be refused", || {
        // A request makes the worker look at KV.
        call(&worker, "GET", "/pets", Some(&s.user()))?;
        Ok(worker.log_lines().into_iter().any(|l| {
            l["event"] == "bundle_rejected"
                && l["error"].as_str().is_some_and(|e| {
                    e.contains("not its compiled form") && e.contains("cedargate bundle")
                })
        }))
    })?;
    let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
    same(reply.status, 403, "the built-in policies")?;
    same(
        reply.header("x-cedargate-bundle-version"),
        Some(s.built_in.as_str()),
        "version",
    )
}

/// A valid newer bundle in KV takes over without a restart.
fn newer_bundle_takes_over_without_restart(s: &KvAndCache) -> Result<(), String> {
    let worker = s.worker()?;
    let KvAndCache {
        invalid,
        newer,
        newer_version,
        ..
    } = s;
    Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", newer)?;
    poll("the newer bundle to take over", || {
        let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
        if reply.status != 200 {
            return Ok(false);
        }
        same(
            reply.header("x-cedargate-bundle-version"),
            Some(newer_version.as_str()),
            "version",
        )?;
        Ok(true)
    })?;
    let updated = worker
        .log_lines()
        .into_iter()
        .any(|l| l["event"] == "bundle_updated");
    ensure(updated, || "no bundle_updated event".into())?;
    // A broken bundle after it does not undo it.
    Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", invalid)?;
    std::thread::sleep(Duration::from_millis(2500));
    same(
        call(&worker, "POST", "/pets", Some(&s.user()))?.status,
        200,
        "last good bundle kept",
    )?;
    same(
        call(&worker, "POST", "/pets", Some(&s.user()))?.status,
        200,
        "last good bundle kept",
    )
}

/// An older or equal serial in KV cannot roll the policies back.
fn older_or_equal_serial_cannot_roll_back(s: &KvAndCache) -> Result<(), String> {
    let worker = s.worker()?;
    let KvAndCache {
        newer_version,
        older,
        same_serial,
        ..
    } = s;
    for (document, serial) in [(&older, 1), (&same_serial, 2)] {
        Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", document)?;
        poll(
            &format!("bundle_rollback_refused for serial {serial}"),
            || {
                let _ = call(&worker, "GET", "/pets", Some(&s.user()))?;
                Ok(worker
                    .log_lines()
                    .into_iter()
                    .any(|l| l["event"] == "bundle_rollback_refused" && l["serial"] == serial))
            },
        )?;
        let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
        same(reply.status, 200, "the newer policies stay")?;
        same(
            reply.header("x-cedargate-bundle-version"),
            Some(newer_version.as_str()),
            "version",
        )?;
    }
    Ok(())
}

/// A `bundle_kv.binding` the worker does not have would leave it on the built-in
/// bundle for good, even with `serve_built_in`: it refuses to run instead.
fn a_bundle_binding_that_is_not_bound_makes_the_worker_refuse_to_run(
    s: &KvAndCache,
) -> Result<(), String> {
    let mut config = s.config.clone();
    config["bundle_kv"]["binding"] = json!("NO_SUCH_KV");
    let unbound = Wrangler::start("edge-kv-unbound", &config, &s.extra)?;
    let reply = call(&unbound, "GET", "/pets", Some(&s.user()))?;
    same(reply.status, 500, "a binding that is not bound")?;
    let logged = unbound.log_lines().into_iter().any(|l| {
        l["error"]
            .as_str()
            .is_some_and(|e| e.contains("bundle_kv.binding NO_SUCH_KV is not a KV namespace"))
    });
    ensure(logged, || {
        format!("the reason is logged:\n{}", unbound.logs())
    })
}

/// A new isolate takes the issuer's keys from the Cache API.
fn new_isolate_takes_keys_from_cache_api(s: &KvAndCache) -> Result<(), String> {
    let KvAndCache {
        provider,
        config,
        extra,
        ..
    } = s;
    let hits = provider.jwks_hits("env-kv");
    ensure(hits >= 1, || "keys were never fetched".into())?;
    let worker = s.worker.borrow_mut().take();
    let worker = worker.ok_or("the KV worker was stopped by an earlier check")?;
    let dir = worker.dir.clone();
    drop(worker);
    let again = Wrangler::start_in(&dir, "edge-kv", config, extra)?;
    same(
        call(&again, "GET", "/pets", Some(&s.user()))?.status,
        200,
        "request on the new isolate",
    )?;
    same(provider.jwks_hits("env-kv"), hits, "no new JWKS fetch")?;
    let refreshed = again
        .log_lines()
        .into_iter()
        .any(|l| l["event"] == "keys_refreshed");
    ensure(refreshed, || "no keys_refreshed event".into())
}
