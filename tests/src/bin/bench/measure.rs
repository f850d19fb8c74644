//! The workerd runs: the workers compared, wrk's throughput and latency, cold starts and the
//! memory of an isolate; and what the run needs from outside it (Criterion's results, the
//! machine, the date).

use crate::report::{Cold, Machine, Memory, Run, Samples, WorkerResult};
use crate::size::sizes;
use cedargate::BundleSlot;
use cedargate_tests::bundles;
use cedargate_tests::kv::KvServer;
use cedargate_tests::workerd::{Binding, Module, Workerd};
use cedargate_tests::{http, root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The audience of the tokens.
pub const CLIENT: &str = "cedargate-bench";
/// Copies of a worker in the run that measures the memory of one isolate.
pub const COPIES: usize = 5;
/// How long a loaded worker sits idle before its memory is read.
pub const IDLE: Duration = Duration::from_millis(500);

/// The deployment the KV workers' bundles are signed for.
const AUDIENCE: &str = "cedargate-bench";
/// The KV workers' namespace, and its live and staged entries.
const BUNDLES: &str = "CEDARGATE_BUNDLES";
const LIVE_KEY: &str = "current";
const STAGED_KEY: &str = "staged";
/// The live bundle's serial, and the staged candidate's (above it, so the worker takes it).
const LIVE_SERIAL: u64 = 10;
const STAGED_SERIAL: u64 = 20;
/// The group some fresh tokens carry besides AVP_Admin ([`MARKED_EVERY`]): the live
/// PetStore policies ignore it, the staged candidate's `forbid` denies it everything.
pub const MARKED_GROUP: &str = "bench-staged";
/// Every this many fresh tokens, one carries [`MARKED_GROUP`] (`user-0`, `user-10`, ...);
/// the reused token does not.
pub const MARKED_EVERY: usize = 10;
/// The staged candidate's one more policy.
const STAGED_FORBID: &str = "@id(\"bench-staged-forbid\")\nforbid (principal in PetStore::UserGroup::\"bench-staged\", action, resource);";
/// The KV baseline's key; the workers with a staged candidate are compared with it.
pub const KV_BASELINE: &str = "cedargate-kv";
/// The Todo worker's key.
pub const TODO_WORKER: &str = "cedargate-todo";
/// How long a worker with a staged candidate may take to log taking it (and, at 100 %, a
/// `decision_changed`) before the bench gives up.
const STAGED_WAIT: Duration = Duration::from_secs(15);

/// A worker to run: its modules and bindings, and what would be uploaded.
#[derive(Debug)]
pub struct Worker {
    pub label: &'static str,
    pub key: &'static str,
    pub modules: Vec<Module>,
    pub bindings: Vec<Binding>,
    pub size: crate::report::Size,
    /// Whether it is one of the peers cedargate is compared with.
    pub peer: bool,
    /// With a staged candidate in KV: its `shadow_percent`.
    pub shadow_percent: Option<u8>,
    /// The bundle it decides with, which says its request and tokens.
    pub scenario: Scenario,
}

/// The policies a worker decides with, and so the request it is measured with and the tokens
/// it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The PetStore bundle: `GET /pets/7`, allowed for the group `AVP_Admin` in the token.
    PetStore,
    /// The AuthZEN interop Todo bundle with its entity data (`policies/authzen-todo`):
    /// `POST /todos`, allowed for admins and editors; the tokens' subject is Rick's
    /// identity-provider id, whose roles only the entity data holds (it is a member of
    /// `rick@the-citadel.com`, which is in `admin`).
    Todo,
}

impl Scenario {
    pub fn method(self) -> &'static str {
        match self {
            Scenario::PetStore => "GET",
            Scenario::Todo => "POST",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Scenario::PetStore => "/pets/7",
            Scenario::Todo => "/todos",
        }
    }
}

/// Rick's subject in the Todo scenario's entity data (`policies/authzen-todo/entities.json`).
pub const TODO_SUBJECT: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
/// The KV key of the Todo worker's bundle.
const TODO_KEY: &str = "todo";

/// The tokens files wrk reads (one token a line), for one [`Scenario`].
#[derive(Debug)]
pub struct Tokens<'a> {
    /// One token, reused.
    pub one: &'a Path,
    /// 10,000 fresh tokens.
    pub fresh: &'a Path,
    /// The fresh tokens themselves (start-ups, cold starts and the forged token use them).
    pub fresh_tokens: &'a [String],
}

/// Every worker compared, in the order they run. The KV workers read their bundles from
/// `kv`, into which the live document and the staged candidate are written here.
pub fn workers(issuer: &str, out: &Path, kv: &KvServer) -> Vec<Worker> {
    let modules = root().join("tests/node_modules");
    let edge_js = root().join("edge/build/index.js");
    let edge_wasm = root().join("edge/build/index_bg.wasm");
    let edge_size = sizes(&[&edge_js, &edge_wasm]);
    let edge_modules = vec![
        Module::Es("index.js".into(), edge_js.clone()),
        Module::Wasm("index_bg.wasm".into(), edge_wasm.clone()),
    ];
    let settings = |backend: &str, cache: usize, log: &str| {
        json!({
            "origin": "none",
            "signature_backend": backend,
            "token_cache_entries": cache,
            "request_log": log,
            "trust": { "issuers": [{ "issuer": issuer, "token": "id", "audiences": [CLIENT] }] },
        })
    };
    let config = |backend: &str, cache: usize, log: &str| {
        vec![Binding::Json(
            "CEDARGATE_CONFIG".into(),
            settings(backend, cache, log),
        )]
    };
    // The KV workers: the default cedargate configuration with its bundle from `kv` (the
    // PetStore bundle, signed), and the staged candidate with `shadow_percent`.
    let publisher = bundles::run_key("bench").unwrap();
    let sign =
        |source, serial, slot| bundles::signed(&publisher, source, serial, AUDIENCE, slot).unwrap();
    kv.put(
        LIVE_KEY,
        &sign(
            cedargate::examples::petstore_source(),
            LIVE_SERIAL,
            BundleSlot::Live,
        ),
    );
    kv.put(
        STAGED_KEY,
        &sign(
            bundles::petstore_with(STAGED_FORBID),
            STAGED_SERIAL,
            BundleSlot::Staged,
        ),
    );
    // The Todo bundle with its entity data, as `cedargate bundle --entities` writes it.
    let todo = root().join("policies/authzen-todo");
    let read = |name: &str| std::fs::read_to_string(todo.join(name)).unwrap();
    let todo_source = cedargate::BundleSource {
        schema: read("schema.cedarschema"),
        policies: read("policies.cedar"),
        routes: read("routes.json"),
    };
    let todo_document = bundles::compiled(
        cedargate::BundleDocument::new(todo_source, LIVE_SERIAL)
            .with_audience(AUDIENCE)
            .with_slot(BundleSlot::Live)
            .with_entities(read("entities.json")),
    )
    .unwrap();
    kv.put(TODO_KEY, &publisher.sign(&todo_document).unwrap());
    let public_key = publisher.public_key().to_base64url();
    // The Todo tokens carry no groups: the principal's roles come from the entity data.
    let mut todo_settings = settings("webcrypto", 1024, "all");
    todo_settings["trust"]["issuers"][0]["group_claim"] = Value::Null;
    todo_settings["bundle_kv"] = json!({
        "binding": BUNDLES, "key": TODO_KEY,
        "public_key": public_key, "audience": AUDIENCE,
    });
    let kv_config = |shadow_percent: Option<u8>| {
        let mut bundle_kv = json!({
            "binding": BUNDLES, "key": LIVE_KEY,
            "public_key": public_key, "audience": AUDIENCE,
        });
        if let Some(percent) = shadow_percent {
            bundle_kv["staged_key"] = json!(STAGED_KEY);
            bundle_kv["shadow_percent"] = json!(percent);
        }
        let mut config = settings("webcrypto", 1024, "all");
        config["bundle_kv"] = bundle_kv;
        vec![
            Binding::Json("CEDARGATE_CONFIG".into(), config),
            Binding::Kv(BUNDLES.into(), kv.port()),
        ]
    };
    let kv_worker = |label, key, shadow_percent: Option<u8>| Worker {
        label,
        key,
        modules: edge_modules.clone(),
        bindings: kv_config(shadow_percent),
        size: edge_size,
        peer: false,
        shadow_percent,
        scenario: Scenario::PetStore,
    };

    let noop = root().join("tests/bench/noop/index.mjs");
    // The Rust no-op worker, built by `cargo xtask bench` as the edge is (worker-build).
    let rust_noop_js = out.join("rust-noop/index.js");
    let rust_noop_wasm = out.join("rust-noop/index_bg.wasm");
    // The same crate built as the edge is: its own entry (`edge/entry.mjs`), no shim.
    let entry_noop_js = out.join("rust-noop-entry/index.js");
    let entry_noop_wasm = out.join("rust-noop-entry/index_bg.wasm");
    // The synchronous one: its hand-written entry and the wasm-bindgen output it imports.
    let sync_entry = root().join("tests/bench/rust-noop-sync/index.mjs");
    let sync_js = out.join("rust-noop-sync/cedargate_bench_rust_noop_sync.js");
    let sync_wasm = out.join("rust-noop-sync/cedargate_bench_rust_noop_sync_bg.wasm");
    let floor = root().join("tests/bench/floor/index.mjs");
    // The JavaScript peers, bundled as a Cloudflare user's build would (esbuild).
    let bundle_peer = |name: &str| {
        let peer_dir = out.join(name);
        std::fs::create_dir_all(&peer_dir).unwrap();
        let peer_js = peer_dir.join("index.js");
        let peer_wasm = peer_dir.join("cedar_wasm_bg.wasm");
        let status = Command::new(modules.join("@esbuild/linux-x64/bin/esbuild"))
            .arg(root().join(format!("tests/bench/{name}/index.mjs")))
            .args([
                "--bundle",
                "--format=esm",
                "--platform=neutral",
                "--main-fields=module,main",
                "--conditions=worker,browser",
                "--external:*.wasm",
                "--minify",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", peer_js.display()))
            .status()
            .unwrap();
        assert!(status.success(), "esbuild failed");
        std::fs::copy(
            modules.join("@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm"),
            &peer_wasm,
        )
        .unwrap();
        (peer_js, peer_wasm)
    };
    let (peer_js, peer_wasm) = bundle_peer("js-peer");
    let (cache_js, cache_wasm) = bundle_peer("js-peer-cache");
    let schema =
        std::fs::read_to_string(root().join("policies/petstore/schema.cedarschema")).unwrap();
    let policies =
        std::fs::read_to_string(root().join("policies/petstore/policies.cedar")).unwrap();
    let peer_bindings = vec![
        Binding::Text("SCHEMA".into(), schema),
        Binding::Text("POLICIES".into(), policies),
        Binding::Text("JWKS_URL".into(), format!("{issuer}/jwks")),
        Binding::Text("ISSUER".into(), issuer.to_owned()),
        Binding::Text("AUDIENCE".into(), CLIENT.to_owned()),
    ];

    vec![
        Worker {
            label: "no-op worker (baseline)",
            key: "noop",
            modules: vec![Module::Es("index.js".into(), noop.clone())],
            bindings: Vec::new(),
            size: sizes(&[&noop]),
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "Rust no-op worker (workers-rs 0.8)",
            key: "rust-noop",
            modules: vec![
                Module::Es("index.js".into(), rust_noop_js.clone()),
                Module::Wasm("index_bg.wasm".into(), rust_noop_wasm.clone()),
            ],
            bindings: Vec::new(),
            size: sizes(&[&rust_noop_js, &rust_noop_wasm]),
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "Rust no-op worker, the edge's entry (workers-rs 0.8 without its shim)",
            key: "rust-noop-entry",
            modules: vec![
                Module::Es("index.js".into(), entry_noop_js.clone()),
                Module::Wasm("index_bg.wasm".into(), entry_noop_wasm.clone()),
            ],
            bindings: Vec::new(),
            size: sizes(&[&entry_noop_js, &entry_noop_wasm]),
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "Rust no-op worker, synchronous core, hand-written JS entry",
            key: "rust-noop-sync",
            modules: vec![
                Module::Es("index.js".into(), sync_entry.clone()),
                Module::Es("core.js".into(), sync_js.clone()),
                Module::Wasm("core_bg.wasm".into(), sync_wasm.clone()),
            ],
            bindings: Vec::new(),
            size: sizes(&[&sync_entry, &sync_js, &sync_wasm]),
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "floor: WebCrypto RS256 check only (JS)",
            key: "floor",
            modules: vec![Module::Es("index.js".into(), floor.clone())],
            bindings: vec![Binding::Text("JWKS_URL".into(), format!("{issuer}/jwks"))],
            size: sizes(&[&floor]),
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "cedargate, WebCrypto",
            key: "cedargate-webcrypto",
            modules: edge_modules.clone(),
            bindings: config("webcrypto", 1024, "all"),
            size: edge_size,
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "cedargate, WebCrypto, request log off",
            key: "cedargate-webcrypto-nolog",
            modules: edge_modules.clone(),
            bindings: config("webcrypto", 1024, "off"),
            size: edge_size,
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "cedargate, WebCrypto, no token cache",
            key: "cedargate-webcrypto-nocache",
            modules: edge_modules.clone(),
            bindings: config("webcrypto", 0, "all"),
            size: edge_size,
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "cedargate, pure Rust signatures",
            key: "cedargate-rust",
            modules: edge_modules.clone(),
            bindings: config("rust", 1024, "all"),
            size: edge_size,
            peer: false,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "cedargate, Todo bundle with entity data (from KV)",
            key: TODO_WORKER,
            modules: edge_modules.clone(),
            bindings: vec![
                Binding::Json("CEDARGATE_CONFIG".into(), todo_settings),
                Binding::Kv(BUNDLES.into(), kv.port()),
            ],
            size: edge_size,
            peer: false,
            shadow_percent: None,
            scenario: Scenario::Todo,
        },
        kv_worker("cedargate, bundle from KV", KV_BASELINE, None),
        kv_worker(
            "cedargate, bundle from KV, staged candidate at 1 %",
            "cedargate-kv-shadow-1",
            Some(1),
        ),
        kv_worker(
            "cedargate, bundle from KV, staged candidate at 10 %",
            "cedargate-kv-shadow-10",
            Some(10),
        ),
        kv_worker(
            "cedargate, bundle from KV, staged candidate at 100 %",
            "cedargate-kv-shadow-100",
            Some(100),
        ),
        Worker {
            label: "jose + @cedar-policy/cedar-wasm (JS)",
            key: "js-peer",
            modules: vec![
                Module::Es("index.js".into(), peer_js.clone()),
                Module::Wasm("cedar_wasm_bg.wasm".into(), peer_wasm.clone()),
            ],
            bindings: peer_bindings.clone(),
            size: sizes(&[&peer_js, &peer_wasm]),
            peer: true,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
        Worker {
            label: "jose + cedar-wasm + token cache (JS)",
            key: "js-peer-cache",
            modules: vec![
                Module::Es("index.js".into(), cache_js.clone()),
                Module::Wasm("cedar_wasm_bg.wasm".into(), cache_wasm.clone()),
            ],
            bindings: peer_bindings,
            size: sizes(&[&cache_js, &cache_wasm]),
            peer: true,
            shadow_percent: None,
            scenario: Scenario::PetStore,
        },
    ]
}

/// The token with one character of its signature changed.
fn forge(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 20;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Every worker in workerd: `rounds` rounds of throughput and latency with both workloads
/// (`seconds` each), then `cold_starts` cold starts, the first `memory_runs` of them with
/// the memory of an isolate. Rounds alternate the workers, so that slow phases of a shared
/// machine spread over all of them; each figure the report shows is the median.
pub fn in_workerd(
    workers: &[Worker],
    petstore: &Tokens<'_>,
    todo: &Tokens<'_>,
    seconds: u64,
    rounds: u64,
    cold_starts: u64,
    memory_runs: u64,
) -> Vec<WorkerResult> {
    let tokens_of = |worker: &Worker| match worker.scenario {
        Scenario::PetStore => petstore,
        Scenario::Todo => todo,
    };
    let mut samples: Vec<Samples> = workers.iter().map(|_| Samples::default()).collect();
    let mut rss: Vec<Option<u64>> = workers.iter().map(|_| None).collect();
    for round in 1..=rounds {
        for ((worker, sample), rss) in workers.iter().zip(&mut samples).zip(&mut rss) {
            eprintln!("[bench] round {round}/{rounds}: {}", worker.label);
            let tokens = tokens_of(worker);
            let fresh = tokens.fresh_tokens;
            let (method, path) = (worker.scenario.method(), worker.scenario.path());
            let w = match Workerd::start(worker.key, &worker.modules, &worker.bindings) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("[bench] {} did not start: {e}", worker.label);
                    continue;
                }
            };
            // Start-up: the first request on a fresh isolate (module compile, set-up, the
            // first key fetch for the guards), from the moment the socket accepts.
            let first = Instant::now();
            let reply = answers(&w.url(path), method, &fresh[0]);
            let startup_ms = first.elapsed().as_secs_f64() * 1000.0;
            if reply.is_err() {
                eprintln!(
                    "[bench] {}: first request failed: {reply:?}\n{}",
                    worker.label,
                    w.logs()
                );
                continue;
            }
            sample.first_request_ms.push(startup_ms);
            // Every worker but the no-ops must refuse a token whose signature is broken, or
            // its numbers would measure nothing.
            if round == 1
                && !matches!(
                    worker.key,
                    "noop" | "rust-noop" | "rust-noop-entry" | "rust-noop-sync"
                )
            {
                let forged = http::send(
                    method,
                    &w.url(path),
                    &[("authorization", &format!("Bearer {}", forge(&fresh[1])))],
                    None,
                );
                assert!(
                    matches!(forged, Ok(ref r) if r.status == 401),
                    "{} did not refuse a forged token: {forged:?}",
                    worker.label
                );
            }
            // A worker with a staged candidate is measured only once it has taken it; at
            // 100 % it must have decided one of the marked tokens otherwise and logged it, or
            // its numbers could measure nothing.
            if let Some(percent) = worker.shadow_percent {
                staged_in_force(&w, worker, &fresh[0], round == 1 && percent == 100);
            }
            let changed_before = logged(&w.logs(), "decision_changed");
            let in_round = |run: Run| Run { round, ..run };
            let scenario = worker.scenario;
            if let Some(run) = wrk_for(&w, scenario, tokens.one, seconds, 16) {
                sample.one_token.push(in_round(run));
            }
            if let Some(run) = wrk_for(&w, scenario, tokens.fresh, seconds, 16) {
                sample.fresh_tokens.push(in_round(run));
            }
            // Latency without queueing: one connection, one request at a time.
            if let Some(run) = wrk_for(&w, scenario, tokens.one, seconds.div_ceil(2), 1) {
                sample.one_token_one_connection.push(in_round(run));
            }
            if let Some(run) = wrk_for(&w, scenario, tokens.fresh, seconds.div_ceil(2), 1) {
                sample.fresh_tokens_one_connection.push(in_round(run));
            }
            if worker.shadow_percent.is_some() {
                let changed = logged(&w.logs(), "decision_changed") - changed_before;
                sample.decision_changed.push(changed as u64);
            }
            *rss = w.rss_kib();
        }
    }
    // Cold starts and memory, alternating the workers like the rounds.
    for n in 0..cold_starts {
        for (worker, sample) in workers.iter().zip(&mut samples) {
            eprintln!(
                "[bench] cold start {}/{cold_starts}: {}",
                n + 1,
                worker.label
            );
            let measure_memory = n < memory_runs;
            let token = &tokens_of(worker).fresh_tokens[n as usize % 100];
            if let Some((c, m)) = cold_start(worker, token, measure_memory) {
                sample.cold_starts.push(c);
                sample.memory.extend(m);
            }
        }
    }
    workers
        .iter()
        .zip(samples)
        .zip(rss)
        .map(|((worker, samples), rss_kib)| WorkerResult {
            key: worker.key.to_owned(),
            label: worker.label.to_owned(),
            peer: worker.peer,
            shadow_percent: worker.shadow_percent,
            upload: worker.size,
            one_token: median_run(&samples.one_token),
            fresh_tokens: median_run(&samples.fresh_tokens),
            one_token_one_connection: median_run(&samples.one_token_one_connection),
            fresh_tokens_one_connection: median_run(&samples.fresh_tokens_one_connection),
            first_request_ms: median(samples.first_request_ms.clone()),
            rss_kib,
            cold_start: median_cold(&samples.cold_starts),
            memory: median_memory(&samples.memory),
            samples,
        })
        .collect()
}

/// How many lines of a workerd log are the worker's event `name` (a JSON object with
/// `"event": name`, after workerd's own prefix if any).
pub fn logged(log: &str, name: &str) -> usize {
    log.lines()
        .filter(|line| line.contains(name))
        .filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok())
        .filter(|line| line["event"] == name)
        .count()
}

/// Waits until the worker `w` logged taking the staged candidate (`staged_bundle_updated`)
/// and, when `changed`, one `decision_changed`, sending `marked` (a token the candidate's
/// `forbid` denies, answered 204 as the live bundle says) meanwhile; panics after
/// [`STAGED_WAIT`], or when the worker refused the candidate.
fn staged_in_force(w: &Workerd, worker: &Worker, marked: &str, changed: bool) {
    let deadline = Instant::now() + STAGED_WAIT;
    loop {
        let log = w.logs();
        assert!(
            logged(&log, "staged_bundle_refused") == 0,
            "{} refused the staged candidate:\n{}",
            worker.label,
            tail(&log)
        );
        let taken = logged(&log, "staged_bundle_updated") > 0;
        if taken && (!changed || logged(&log, "decision_changed") > 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {} within {} s, so its numbers would measure no shadow evaluation:\n{}",
            worker.label,
            if taken {
                "no decision_changed logged"
            } else {
                "the staged candidate was not taken"
            },
            STAGED_WAIT.as_secs(),
            tail(&log)
        );
        let reply = answers(&w.url("/pets/7"), "GET", marked);
        assert!(
            reply.is_ok(),
            "{}: a token the staged candidate denies was not answered as live says: {reply:?}",
            worker.label
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last 40 lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Whether `method` on `url` with `token` is answered 204 (allowed).
fn answers(url: &str, method: &str, token: &str) -> Result<(), String> {
    match http::send(
        method,
        url,
        &[("authorization", &format!("Bearer {token}"))],
        None,
    ) {
        Ok(r) if r.status == 204 => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// A cold start of `worker` and, when `memory`, its memory with one and with `COPIES`
/// isolates.
fn cold_start(worker: &Worker, token: &str, memory: bool) -> Option<(Cold, Option<Memory>)> {
    let start = |copies: usize, poll: u64| {
        Workerd::start_copies(
            worker.key,
            &worker.modules,
            &worker.bindings,
            copies,
            Duration::from_millis(poll),
        )
        .map_err(|e| eprintln!("[bench] {} did not start: {e}", worker.label))
        .ok()
    };
    let w = start(1, 1)?;
    let listening = w.listening_at - w.spawned_at;
    let (method, path) = (worker.scenario.method(), worker.scenario.path());
    if let Err(e) = answers(&w.url(path), method, token) {
        eprintln!(
            "[bench] {}: first request failed: {e}\n{}",
            worker.label,
            w.logs()
        );
        return None;
    }
    let cold = Cold {
        listening_ms: listening.as_secs_f64() * 1000.0,
        total_ms: w.spawned_at.elapsed().as_secs_f64() * 1000.0,
    };
    if !memory {
        return Some((cold, None));
    }
    std::thread::sleep(IDLE);
    let one = w.rss_kib();
    drop(w);
    let w = start(COPIES, 20)?;
    for i in 0..COPIES {
        if let Err(e) = answers(&w.copy_url(i, path), method, token) {
            eprintln!("[bench] {}: copy {i} failed: {e}", worker.label);
            return Some((cold, None));
        }
    }
    std::thread::sleep(IDLE);
    let memory = match (one, w.rss_kib()) {
        (Some(one), Some(copies)) => Some(Memory {
            one_kib: one,
            copies_kib: copies,
            per_isolate_kib: (copies as f64 - one as f64) / (COPIES - 1) as f64,
        }),
        _ => None,
    };
    Some((cold, memory))
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// The run with the median throughput.
fn median_run(runs: &[Run]) -> Option<Run> {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    sorted.get(sorted.len() / 2).map(|r| (*r).clone())
}

fn median_cold(colds: &[Cold]) -> Option<Cold> {
    Some(Cold {
        listening_ms: median(colds.iter().map(|c| c.listening_ms).collect())?,
        total_ms: median(colds.iter().map(|c| c.total_ms).collect())?,
    })
}

fn median_memory(memories: &[Memory]) -> Option<Memory> {
    let mut sorted: Vec<&Memory> = memories.iter().collect();
    sorted.sort_by(|a, b| a.per_isolate_kib.total_cmp(&b.per_isolate_kib));
    sorted.get(sorted.len() / 2).map(|m| (*m).clone())
}

/// A warm-up, then a measured wrk run (one thread, `connections` connections) of the
/// PetStore request.
pub fn wrk(w: &Workerd, tokens: &Path, seconds: u64, connections: u32) -> Option<Run> {
    wrk_for(w, Scenario::PetStore, tokens, seconds, connections)
}

/// A warm-up, then a measured wrk run of `scenario`'s request.
fn wrk_for(
    w: &Workerd,
    scenario: Scenario,
    tokens: &Path,
    seconds: u64,
    connections: u32,
) -> Option<Run> {
    wrk_run(w, scenario, tokens, 2, connections)?;
    wrk_run(w, scenario, tokens, seconds, connections)
}

/// One wrk run (one thread, `connections` connections) of the PetStore request, no warm-up.
pub fn wrk_once(w: &Workerd, tokens: &Path, seconds: u64, connections: u32) -> Option<Run> {
    wrk_run(w, Scenario::PetStore, tokens, seconds, connections)
}

/// One wrk run of `scenario`'s request, no warm-up.
fn wrk_run(
    w: &Workerd,
    scenario: Scenario,
    tokens: &Path,
    seconds: u64,
    connections: u32,
) -> Option<Run> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(root().join("tests/bench/tokens.lua"))
        .arg(w.url(scenario.path()))
        .env("TOKENS_FILE", tokens)
        .env("BENCH_METHOD", scenario.method())
        .env("BENCH_PATH", scenario.path())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_wrk(&text).or_else(|| {
        eprintln!(
            "[bench] unreadable wrk output:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        None
    })
}

fn millis(value: &str) -> Option<f64> {
    let value = value.trim();
    let (number, factor) = if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (value, 1.0)
    };
    number.trim().parse::<f64>().ok().map(|n| n * factor)
}

fn parse_wrk(text: &str) -> Option<Run> {
    let mut run = Run::default();
    for line in text.lines() {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50_ms = millis(v)?,
            ["99%", v] => run.p99_ms = millis(v)?,
            ["Requests/sec:", v] => run.requests_per_second = v.parse().ok()?,
            [n, "requests", "in", ..] => run.requests = n.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => run.non_2xx = n.parse().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                run.errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    (run.requests_per_second > 0.0).then_some(run)
}

/// The native results `cargo xtask bench` had Criterion write (`target/criterion`): the mean
/// of each benchmark, in ns, by its folder's name.
pub fn criterion_results() -> BTreeMap<String, f64> {
    let dir = root().join("target/criterion");
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/estimates.json") {
                let name = path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|p| p.strip_prefix(&dir).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let estimates: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
                        .unwrap_or_default();
                if let Some(mean) = estimates["mean"]["point_estimate"].as_f64() {
                    out.insert(name, mean);
                }
            }
        }
    }
    out
}

/// The machine this runs on (`/proc`).
pub fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|name| name.trim().to_owned())
    });
    let cores = std::thread::available_parallelism().map(|n| n.get()).ok();
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| kib as f64 / 1048576.0);
    Machine {
        cpu,
        cores,
        memory_gib,
    }
}

/// Today, UTC, as `YYYY-MM-DD`.
pub fn today() -> Option<String> {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_candidate_denies_the_marked_group() {
        assert!(STAGED_FORBID.contains(&format!("PetStore::UserGroup::\"{MARKED_GROUP}\"")));
        assert!(STAGED_FORBID.starts_with("@id(") && STAGED_FORBID.contains("forbid ("));
    }

    #[test]
    fn only_the_events_named_are_counted() {
        let log = concat!(
            "{\"event\":\"decision_changed\",\"request_id\":\"a-1\"}\n",
            "workerd/io: {\"event\": \"decision_changed\", \"request_id\": \"a-2\"}\n",
            "{\"event\":\"staged_bundle_updated\",\"serial\":20}\n",
            "{\"request_id\":\"a-3\",\"note\":\"decision_changed\"}\n",
            "decision_changed, not JSON\n",
        );
        assert_eq!(logged(log, "decision_changed"), 2);
        assert_eq!(logged(log, "staged_bundle_updated"), 1);
        assert_eq!(logged(log, "staged_bundle_refused"), 0);
    }
}
