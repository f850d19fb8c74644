//! The edge worker running in workerd (`wrangler dev`), in front of a test origin, with a
//! test OpenID provider: the PetStore matrix, headers, CORS, keys, faults, limits, logs.
//!
//! Needs the built workers (`cargo xtask test --only edge-build`: `edge/build`, with the
//! access-token bundle `target/edge-access`, with the AuthZEN Todo bundle
//! `target/edge-authzen`, with the AuthZEN certification and search interop bundles
//! `target/edge-authzen-cert` and `target/edge-authzen-search`); `cargo xtask test` builds them
//! first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_tests::checks;
use cedargate_tests::harness::{Check, Harness, ensure, same};
use cedargate_tests::http::{self, Reply};
use cedargate_tests::origin::EchoOrigin;
use cedargate_tests::provider::{Mode, TestProvider};
use cedargate_tests::support::{self, b64, mint_raw};
use cedargate_tests::wrangler::Wrangler;
use cedargate_tests::{free_port, now};
use fixture::Fixture;
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CLIENT: &str = "cedargate-e2e-spa";
const API: &str = "https://petstore.e2e.test";
const APP_ORIGIN: &str = "http://127.0.0.1:8080";

/// Every token sent, to check that none reaches a log.
static SENT: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SERIAL: AtomicU64 = AtomicU64::new(0);

fn record(token: String) -> String {
    SENT.lock().expect("tokens").push(token.clone());
    token
}

/// An ID token of `issuer` for `sub` in `groups`, signed with `key`, unique (`jti`).
fn id_token(issuer: &str, sub: &str, groups: &[&str], key: &str) -> String {
    let t = now();
    let claims = json!({
        "iss": issuer, "aud": CLIENT, "sub": sub, "group": groups,
        "iat": t - 5, "exp": t + 600,
        "jti": format!("{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed)),
    });
    record(support::mint(&claims, key, "JWT"))
}

/// An access token of `issuer` for the API with `claims` added (unique, `at+jwt`, signed
/// with the test key `a-rsa-1`, which the local PingOne-shaped provider publishes).
fn access_token(issuer: &str, claims: Value) -> String {
    let t = now();
    let mut all = json!({
        "iss": issuer, "aud": [API], "iat": t - 5, "exp": t + 600,
        "jti": format!("{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed)),
    });
    if let (Value::Object(target), Value::Object(more)) = (&mut all, claims) {
        target.extend(more);
    }
    record(support::mint(&all, "a-rsa-1", "at+jwt"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(w: &Wrangler, method: &str, path: &str, token: Option<&str>) -> Result<Reply, String> {
    let auth = token.map(bearer);
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    http::send(method, &w.url(path), &headers, None)
}

/// ID-token and access-token entries for each issuer. With several issuers, each gets its own
/// principal ids (AVP's prefix); they stand for environments of one organization here, so
/// they share group names (the tests with several issuers are about keys, not identity).
fn trust(issuers: &[(&str, &str)]) -> Value {
    let mut list = Vec::new();
    let several = issuers.len() > 1;
    for (issuer, _) in issuers {
        let prefix = several.then(|| format!("{}|", issuer.trim_start_matches("http://")));
        list.push(json!({ "issuer": issuer, "token": "id", "audiences": [CLIENT], "entity_id_prefix": prefix }));
        list.push(json!({ "issuer": issuer, "token": "access", "audiences": [API], "token_type": "at+jwt", "entity_id_prefix": prefix }));
    }
    json!({ "issuers": list, "insecure_shared_group_ids": several })
}

/// Calls `step` every 300 ms until it says done, for at most 20 s; `what` names the wait.
fn poll(what: &str, mut step: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !step()? {
        ensure(Instant::now() < deadline, || {
            format!("timed out waiting: {what}")
        })?;
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

/// The `decision_changed` events `worker` logged for the request `id` (the staged
/// candidate's disagreements with the live bundle).
fn decision_changes(worker: &Wrangler, id: &str) -> Vec<Value> {
    worker
        .log_lines()
        .into_iter()
        .filter(|l| l["event"] == "decision_changed" && l["request_id"] == id)
        .collect()
}

/// Checks that `reply` names the live bundle's version, the same for every reply of a
/// suite (`live` holds the first one seen), and gives its request id
/// (`X-Cedargate-Request-Id`).
fn live_answer(
    reply: &Reply,
    live: &std::sync::Mutex<Option<String>>,
    what: &str,
) -> Result<String, String> {
    let version = reply
        .header("x-cedargate-bundle-version")
        .map(str::to_owned);
    ensure(version.is_some(), || format!("{what}: no bundle version"))?;
    let mut live = live.lock().map_err(|e| e.to_string())?;
    if live.is_none() {
        *live = version.clone();
    }
    same(
        version.as_deref(),
        live.as_deref(),
        &format!("{what}: the live bundle's version"),
    )?;
    reply
        .header("x-cedargate-request-id")
        .map(str::to_owned)
        .ok_or_else(|| format!("{what}: no request id"))
}

/// The entry module of a worker the edge-build stage built with another bundle folder
/// (`target/<build>/index.js`, e.g. `edge-authzen-cert`).
fn built_worker(build: &str) -> Result<std::path::PathBuf, String> {
    let main = cedargate_tests::root()
        .join("target")
        .join(build)
        .join("index.js");
    ensure(main.is_file(), || {
        format!(
            "{} is missing: `cargo xtask test` builds it in its edge-build stage",
            main.display()
        )
    })?;
    Ok(main)
}

/// The configuration of an AuthZEN decision point in front of `origin`: access tokens of
/// `issuer` for [`API`], of people (`user`) and of services (`client`), without groups,
/// answering AuthZEN under `base_url`.
fn authzen_config(issuer: &str, origin: &EchoOrigin, base_url: &str) -> Value {
    let entry = |caller: &str| {
        json!({ "issuer": issuer, "token": "access", "caller": caller, "audiences": [API],
                "token_type": "at+jwt", "group_claim": null })
    };
    json!({
        "trust": { "issuers": [entry("user"), entry("client")] },
        "origin": origin.url(),
        "authzen": { "base_url": base_url },
    })
}

/// The wrangler settings of a KV namespace bound as `CEDARGATE_BUNDLES`.
fn kv_namespace(id: &str) -> Value {
    json!({ "kv_namespaces": [{ "binding": "CEDARGATE_BUNDLES", "id": id }] })
}

/// Starts worker `name` with `CEDARGATE_BUNDLES` (namespace `kv_id`) holding `initial` under
/// `current` before it starts (written into the same local state).
fn start_with_kv(
    name: &str,
    kv_id: &str,
    config: &Value,
    initial: &str,
) -> Result<Wrangler, String> {
    start_with_kv_and_cf(name, kv_id, config, initial, None)
}

/// [`start_with_kv`], with `request.cf` from `cf` (wrangler's `CLOUDFLARE_CF_FETCH_PATH`,
/// which the harness points at `cf.json`) when given.
fn start_with_kv_and_cf(
    name: &str,
    kv_id: &str,
    config: &Value,
    initial: &str,
    cf: Option<&Value>,
) -> Result<Wrangler, String> {
    let extra = kv_namespace(kv_id);
    let dir = cedargate_tests::work_dir(name);
    std::fs::write(
        dir.join("wrangler.json"),
        json!({
            "name": format!("cedargate-{name}"), "main": cedargate_tests::wrangler::worker_main()?,
            "compatibility_date": "2026-11-01", "kv_namespaces": extra["kv_namespaces"],
        })
        .to_string(),
    )
    .map_err(|e| e.to_string())?;
    if let Some(cf) = cf {
        std::fs::write(dir.join("cf.json"), cf.to_string()).map_err(|e| e.to_string())?;
    }
    Wrangler::kv_put(&dir, "CEDARGATE_BUNDLES", "current", initial)?;
    Wrangler::start_in(&dir, name, config, &extra)
}

fn main() -> ExitCode {
    let mut h = Harness::new();
    h.suite("worker", worker::start, worker::CHECKS);
    h.suite("faults", faults::start, faults::CHECKS);
    h.suite("corpus", corpus::start, corpus::CHECKS);
    h.suite("rust_backend", rust_backend::start, rust_backend::CHECKS);
    h.suite("bare_workerd", bare_workerd::start, bare_workerd::CHECKS);
    h.suite("kv_and_cache", kv_and_cache::start, kv_and_cache::CHECKS);
    h.suite(
        "signed_kv_bundles",
        signed_kv_bundles::start,
        signed_kv_bundles::CHECKS,
    );
    h.suite("key_hardening", key_hardening::start, key_hardening::CHECKS);
    h.suite("cache_binding", cache_binding::start, cache_binding::CHECKS);
    h.suite("webcrypto", webcrypto::start, webcrypto::CHECKS);
    h.suite("access_bundle", access_bundle::start, access_bundle::CHECKS);
    h.suite("assertion", assertion::start, assertion::CHECKS);
    h.suite("deny_list", deny_list::start, deny_list::CHECKS);
    h.suite("introspection", introspection::start, introspection::CHECKS);
    h.suite(
        "request_context",
        request_context::start,
        request_context::CHECKS,
    );
    h.suite("authzen", authzen::start, authzen::CHECKS);
    h.suite("authzen_cert", authzen_cert::start, authzen_cert::CHECKS);
    h.suite(
        "authzen_search",
        authzen_search::start,
        authzen_search::CHECKS,
    );
    h.suite("authzen_idp", authzen_idp::start, authzen_idp::CHECKS);
    h.suite("monitor", monitor::start, monitor::CHECKS);
    h.suite("staged_bundle", staged_bundle::start, staged_bundle::CHECKS);
    h.suite("staged_shadow", staged_shadow::start, staged_shadow::CHECKS);
    h.suite("token_cookie", token_cookie::start, token_cookie::CHECKS);
    h.suite("both_tokens", both_tokens::start, both_tokens::CHECKS);
    h.finish()
}

fn cedargate_edge_bundle_path() -> &'static str {
    "/.cedargate/bundle"
}

mod access_bundle;
mod assertion;
mod authzen;
mod authzen_cert;
mod authzen_idp;
mod authzen_search;
mod bare_workerd;
mod both_tokens;
mod cache_binding;
mod corpus;
mod deny_list;
mod faults;
mod fixture;
mod introspection;
mod key_hardening;
mod kv_and_cache;
mod monitor;
mod request_context;
mod rust_backend;
mod signed_kv_bundles;
mod staged_bundle;
mod staged_shadow;
mod token_cookie;
mod webcrypto;
mod worker;
