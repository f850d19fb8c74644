//! `cargo xtask bench`'s measurements in workerd, and the report.
//!
//! Runs, one after another on 127.0.0.1 with the same load generator (wrk), tokens, policy
//! and route: a no-op worker (the baseline), the cedargate edge worker (origin `none`, so
//! only the guard is measured) with each signature backend, and the JavaScript worker a
//! Cloudflare user would write instead (jose + @cedar-policy/cedar-wasm). Two workloads: one
//! token reused, and a fresh token per request (10,000 pre-minted). Then start-up times and
//! sizes, and the native Criterion results (`target/criterion`), into
//! `target/bench/report.md` and `report.json`.
//!
//!   cargo run --release -p cedargate-tests --bin bench -- [--seconds N]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_tests::support;
use cedargate_tests::workerd::{Binding, Module, Workerd};
use cedargate_tests::{http, provider::TestProvider, root};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const CLIENT: &str = "cedargate-bench";
const TOKENS: usize = 10_000;

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

fn main() {
    let seconds = cedargate_tests::numeric_arg("--seconds").unwrap_or(10);
    let rounds = cedargate_tests::numeric_arg("--rounds").unwrap_or(3);
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

    let workers = workers(&issuer, &out);
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
    let mut results: Vec<(String, Value)> = Vec::new();
    let mut table: Vec<Row<'_>> = Vec::new();
    for (worker, (one, many, startups, rss, one_c1, many_c1)) in workers.iter().zip(samples) {
        let startup = median(startups.clone());
        table.push(Row {
            worker,
            one: median_run(&one),
            many: median_run(&many),
            startup_ms: startup.unwrap_or(0.0),
            rss_kib: rss,
            one_c1: median_run(&one_c1),
            many_c1: median_run(&many_c1),
        });
        results.push((
            worker.key.to_owned(),
            json!({ "label": worker.label, "one_token": one, "fresh_tokens": many,
                    "one_token_one_connection": one_c1, "fresh_tokens_one_connection": many_c1,
                    "startup_ms": startups, "rss_kib": rss, "size": worker.size }),
        ));
    }

    let criterion = criterion_results();
    let web = web_size();
    let report = report(&table, &criterion, web, seconds, rounds);
    std::fs::write(out.join("report.md"), &report).unwrap();
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json!({
            "workerd": results.into_iter().collect::<serde_json::Map<_, _>>(),
            "native_ns": criterion,
            "web_wasm": web,
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
    // The JavaScript peer, bundled as a Cloudflare user's build would (esbuild).
    let peer_dir = out.join("js-peer");
    std::fs::create_dir_all(&peer_dir).unwrap();
    let peer_js = peer_dir.join("index.js");
    let peer_wasm = peer_dir.join("cedar_wasm_bg.wasm");
    let status = Command::new(modules.join("@esbuild/linux-x64/bin/esbuild"))
        .arg(root().join("tests/bench/js-peer/index.mjs"))
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
    let schema =
        std::fs::read_to_string(root().join("policies/petstore/schema.cedarschema")).unwrap();
    let policies =
        std::fs::read_to_string(root().join("policies/petstore/policies.cedar")).unwrap();

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
            bindings: vec![
                Binding::Text("SCHEMA".into(), schema),
                Binding::Text("POLICIES".into(), policies),
                Binding::Text("JWKS_URL".into(), format!("{issuer}/jwks")),
                Binding::Text("ISSUER".into(), issuer.to_owned()),
                Binding::Text("AUDIENCE".into(), CLIENT.to_owned()),
            ],
            size: sizes(&[&peer_js, &peer_wasm]),
            peer: true,
        },
    ]
}

/// A warm-up, then a measured wrk run (one thread, `connections` connections).
fn wrk(w: &Workerd, tokens: &Path, seconds: u64, connections: u32) -> Option<Run> {
    let script = root().join("tests/bench/tokens.lua");
    let run = |secs: u64| {
        Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                &format!("-d{secs}s"),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(w.url("/pets/7"))
            .env("TOKENS_FILE", tokens)
            .output()
            .ok()
    };
    run(2)?;
    let out = run(seconds)?;
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
        writeln!(r, "`GET /pets/7` on 127.0.0.1 with wrk, workerd run directly (no wrangler proxy), the median of {rounds} rounds. Throughput: 1 thread, 16 connections, {seconds} s after a 2 s warm-up; \"added per request\" is the time per request over the no-op worker's (1/throughput difference). Latency: one connection, one request at a time, {} s; \"added p50\" is over the no-op worker's p50.\n", seconds.div_ceil(2)).unwrap();
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
        for peer in rows.iter().filter(|row| row.worker.peer) {
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

    writeln!(r, "\n## Goals\n").unwrap();
    writeln!(r, "| goal | measured | met |\n|---|---|---|").unwrap();
    let find = |title: &str, key: &str| {
        summary
            .iter()
            .find(|s| s.0 == format!("{title}|{key}"))
            .cloned()
    };
    for title in [
        "one token reused",
        "a fresh token per request (10,000 tokens)",
    ] {
        if let (Some(c), Some(p)) = (find(title, "cedargate-webcrypto"), find(title, "js-peer")) {
            let ratio = c.1 / p.1;
            writeln!(
                r,
                "| added cost ≤ ⅓ of the JS peer's ({title}) | {:.0} µs vs {:.0} µs = {:.2} | {} |",
                c.1,
                p.1,
                ratio,
                if ratio <= 1.0 / 3.0 { "yes" } else { "no" }
            )
            .unwrap();
        }
        if let Some(c) = find(title, "cedargate-webcrypto") {
            writeln!(
                r,
                "| p50 added latency < 0.3 ms ({title}) | {:.2} ms | {} |",
                c.2,
                if c.2 < 0.3 { "yes" } else { "no" }
            )
            .unwrap();
        }
    }
    if let Some(edge) = rows
        .iter()
        .find(|row| row.worker.key == "cedargate-webcrypto")
    {
        writeln!(
            r,
            "| worker < 1 MB gzipped | {} | {} |",
            mib(edge.worker.size.1),
            if edge.worker.size.1 < 1_000_000 {
                "yes"
            } else {
                "no"
            }
        )
        .unwrap();
    }
    if let Some(ratio) = ratio {
        writeln!(
            r,
            "| native pipeline ≤ 1.3 × bare signature check | {ratio:.2} × | {} |",
            if ratio <= 1.3 { "yes" } else { "no" }
        )
        .unwrap();
    }
    r
}
