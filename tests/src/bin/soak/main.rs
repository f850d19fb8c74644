//! `cargo xtask soak`: the edge worker in workerd under saturation for a while, with a mix
//! of allowed, denied and invalid requests, every answer checked, and the memory of the
//! workerd process sampled once a second.
//!
//! Set-up on 127.0.0.1: the test provider (one issuer, RS256 and ES256 keys), the echo
//! origin, and the built worker (`edge/build`) run directly by workerd, so that its process
//! is the one measured. Each client thread keeps one connection open and sends the next
//! request as soon as the previous answer has arrived, so the worker is never idle.
//!
//! The worker reads its bundles from a KV namespace the soak serves, and mid-run the staged
//! bundle is swapped: a staged candidate is written at a tenth of the run, replaced by
//! another at a quarter, and promoted to live at two fifths (see `staged.rs`).
//!
//! It fails (exit 1) when any answer is not the one expected (status, problem type, or the
//! identity the origin saw; after the promotion, what the promoted bundle answers, either
//! within a window around it), on any 5xx or transport error, when a `decision_changed`
//! line is missing or out of place (`staged.rs`), or when the resident memory of
//! workerd keeps growing (`memory.rs`). workerd's memory grows while it warms up (isolate
//! start, key fetch, caches filling, V8's heap growing: 20 to 30 s of load on an idle
//! machine, a minute or more on a loaded one, a no-op worker's too) and then levels off; a
//! leak keeps growing. So the trend is judged, not two levels: over the last 30 s of the run
//! (the last half when longer, never before half the run), the least-squares slope of the
//! resident set against time, projected over the whole requested run, may be at most 10 %
//! of the window's median or 16 MiB, whichever is larger. When it is not at the requested
//! end, the load goes on and the window slides forward each second until it is, for at most
//! as long again as the run (120 s at most); a warm-up plateau then passes, a steady leak
//! still fails. Runs are at least 60 s.
//!
//!   cargo run --release -p cedargate-tests --bin soak -- [--seconds N] [--connections N]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod memory;
mod staged;

use cedargate_tests::kv::KvServer;
use cedargate_tests::origin::EchoOrigin;
use cedargate_tests::provider::TestProvider;
use cedargate_tests::support::{self, b64, mint_raw};
use cedargate_tests::workerd::{Binding, Module, Workerd};
use cedargate_tests::{now, root};
use serde_json::{Value, json};
use staged::{Bundles, Changed, Seen, Timeline, When};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENT: &str = "cedargate-soak";
/// Distinct tokens for the "fresh token" case: more than the worker's token cache holds,
/// so the cache keeps evicting.
const FRESH_TOKENS: usize = 3000;
const TOKEN_CACHE_ENTRIES: usize = 1024;

/// One kind of request, and what the worker must answer.
struct Case {
    name: &'static str,
    /// How many of every [`TOTAL_WEIGHT`] requests are of this kind.
    weight: usize,
    method: &'static str,
    path: &'static str,
    tokens: Vec<String>,
    status: u16,
    /// For 2xx: the subject the origin must see; for refusals: the problem type.
    expect: &'static str,
    /// Which staged candidate changes its decision.
    changed: Changed,
    /// Status and `expect` once the promoted bundle answers, when it answers otherwise.
    promoted: Option<(u16, &'static str)>,
}

#[derive(Default, Clone, serde::Serialize)]
struct Tally {
    requests: u64,
    right: u64,
    wrong: u64,
    server_errors: u64,
    transport_errors: u64,
    statuses: BTreeMap<u16, u64>,
    /// Up to five examples of wrong answers.
    examples: Vec<String>,
    /// Answers within the window around the promotion that were the first live bundle's,
    /// and the promoted bundle's (kinds of request the promotion changes).
    window_before: u64,
    window_after: u64,
}

#[derive(Clone, Copy, serde::Serialize)]
struct Sample {
    second: f64,
    rss_kib: u64,
    /// CPU time of workerd over the last interval, as a share of one core.
    cpu: f64,
}

/// The command line.
struct Options {
    seconds: u64,
    connections: usize,
}

impl Options {
    fn from_args() -> Self {
        Self {
            seconds: cedargate_tests::numeric_arg("--seconds")
                .unwrap_or(60)
                .max(4),
            connections: cedargate_tests::numeric_arg("--connections")
                .unwrap_or(8)
                .max(1) as usize,
        }
    }
}

fn main() -> std::process::ExitCode {
    let options = Options::from_args();
    let out = root().join("target/soak");
    std::fs::create_dir_all(&out).unwrap();

    let provider = TestProvider::start().unwrap();
    provider.add_env("soak", &["a-rsa-1", "a-ec-1"]);
    provider.set_cache_control("soak", "public, max-age=86400");
    let issuer = provider.issuer("soak");
    let origin = EchoOrigin::start().unwrap();
    let kv = Arc::new(KvServer::start().unwrap());
    let bundles = Arc::new(Bundles::sign());
    bundles.install(&kv);
    let cases = cases(Tokens::mint(&issuer));
    let workerd = start_workerd(&origin.url(), &issuer, &bundles, &kv);
    // The run's clock (the swaps, the samples) starts once workerd listens.
    let mix = Mix::new(cases);

    eprintln!(
        "[soak] {} s, {} connections, {} kinds of request",
        options.seconds,
        options.connections,
        mix.cases.len()
    );
    let mix = Arc::new(mix);
    let run = run_load(&workerd, &mix, &options, &kv, &bundles);
    // The last lines reach the log.
    std::thread::sleep(Duration::from_millis(500));
    let kinds: Vec<(&'static str, Changed)> =
        mix.cases.iter().map(|c| (c.name, c.changed)).collect();
    let staged = staged::judge(
        &kinds,
        &run.seen,
        &workerd.logs(),
        &mix.timeline,
        kv.reads(),
    );
    let report = Report {
        seconds: run.seconds,
        requested: options.seconds,
        connections: options.connections,
        total_weight: mix.cases.iter().map(|c| c.weight).sum(),
        cases: &mix.cases,
        tallies: &run.tallies,
        samples: &run.samples,
        staged: &staged,
    };
    let ok = write_report(&out, &report);
    if !ok {
        eprintln!("[soak] workerd's log:\n{}", tail(&workerd.logs(), 40));
    }
    // Returning (rather than exiting) stops workerd, the provider and the origin on the way.
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// The tokens of the mix, valid and not.
struct Tokens {
    /// [`FRESH_TOKENS`] distinct tokens of one user.
    fresh: Vec<String>,
    alice: String,
    bob: String,
    nobody: String,
    expired: String,
    other_audience: String,
    tampered: String,
    unknown_key: String,
    alg_none: String,
}

impl Tokens {
    /// Tokens of `issuer` for the soak's client.
    fn mint(issuer: &str) -> Self {
        let t = now();
        let id = |sub: &str, groups: &[&str], key: &str, extra: Value| {
            let mut claims = json!({
                "iss": issuer, "aud": CLIENT, "sub": sub, "group": groups,
                "iat": t - 5, "exp": t + 3 * 3600,
            });
            if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
                c.extend(e.clone());
            }
            support::mint(&claims, key, "JWT")
        };
        eprintln!("[soak] minting {FRESH_TOKENS} tokens");
        let fresh: Vec<String> = (0..FRESH_TOKENS)
            .map(|n| {
                id(
                    "carol",
                    &["AVP_User"],
                    "a-rsa-1",
                    json!({ "jti": format!("soak-{n}") }),
                )
            })
            .collect();
        let alice = id("alice", &["AVP_Admin"], "a-rsa-1", json!({}));
        let bob = id("bob", &["AVP_User"], "a-ec-1", json!({}));
        let nobody = id("dave", &[], "a-rsa-1", json!({}));
        let expired = support::mint(
            &json!({ "iss": issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin"],
                     "iat": t - 7200, "exp": t - 3600 }),
            "a-rsa-1",
            "JWT",
        );
        let other_audience = support::mint(
            &json!({ "iss": issuer, "aud": "someone-else", "sub": "alice", "group": ["AVP_Admin"],
                     "iat": t - 5, "exp": t + 3600 }),
            "a-rsa-1",
            "JWT",
        );
        let tampered = {
            let (rest, signature) = alice.rsplit_once('.').unwrap();
            let (header, _) = rest.split_once('.').unwrap();
            let claims = json!({ "iss": issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin", "x"],
                                 "iat": t - 5, "exp": t + 3600 });
            format!(
                "{header}.{}.{signature}",
                b64(claims.to_string().as_bytes())
            )
        };
        let unknown_key = mint_raw(
            &json!({ "alg": "RS256", "kid": "not-published" }).to_string(),
            &json!({ "iss": issuer, "aud": CLIENT, "sub": "alice", "exp": t + 3600 }).to_string(),
            "a-rsa-2",
        );
        let alg_none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(json!({ "iss": issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin"], "exp": t + 3600 })
                .to_string()
                .as_bytes())
        );
        Self {
            fresh,
            alice,
            bob,
            nobody,
            expired,
            other_audience,
            tampered,
            unknown_key,
            alg_none,
        }
    }
}

/// The kinds of request of the mix.
fn cases(tokens: Tokens) -> Vec<Case> {
    let Tokens {
        fresh,
        alice,
        bob,
        nobody,
        expired,
        other_audience,
        tampered,
        unknown_key,
        alg_none,
    } = tokens;
    let invalid = "urn:cedargate:problem:invalid-token";
    [
        (
            "admin reads a pet",
            20,
            "GET",
            "/pets/7",
            vec![alice.clone()],
            200,
            "alice",
        ),
        (
            "admin adds a pet",
            6,
            "POST",
            "/pets",
            vec![alice.clone()],
            200,
            "alice",
        ),
        (
            "user lists pets",
            12,
            "GET",
            "/pets",
            vec![bob.clone()],
            200,
            "bob",
        ),
        (
            "user with a new token each time",
            12,
            "GET",
            "/pets/3",
            fresh,
            200,
            "carol",
        ),
        (
            "user may not add a pet",
            10,
            "POST",
            "/pets",
            vec![bob.clone()],
            403,
            "urn:cedargate:problem:forbidden",
        ),
        (
            "no group, no access",
            4,
            "GET",
            "/pets",
            vec![nobody],
            403,
            "urn:cedargate:problem:forbidden",
        ),
        (
            "no token",
            6,
            "GET",
            "/pets",
            vec![],
            401,
            "urn:cedargate:problem:missing-token",
        ),
        (
            "expired token",
            6,
            "GET",
            "/pets",
            vec![expired],
            401,
            invalid,
        ),
        (
            "token for another audience",
            4,
            "GET",
            "/pets",
            vec![other_audience],
            401,
            invalid,
        ),
        (
            "tampered claims",
            6,
            "GET",
            "/pets",
            vec![tampered],
            401,
            invalid,
        ),
        (
            "unpublished key",
            3,
            "GET",
            "/pets",
            vec![unknown_key],
            401,
            invalid,
        ),
        ("alg none", 3, "GET", "/pets", vec![alg_none], 401, invalid),
        (
            "garbage token",
            3,
            "GET",
            "/pets",
            vec!["not.a.token".into()],
            401,
            invalid,
        ),
        (
            "no route",
            3,
            "GET",
            "/admin",
            vec![alice.clone()],
            404,
            "urn:cedargate:problem:no-route",
        ),
        (
            "encoded slash",
            2,
            "GET",
            "/pets%2F7",
            vec![alice.clone()],
            400,
            "urn:cedargate:problem:bad-request",
        ),
        (
            "a method no route names",
            2,
            "MOVE",
            "/pets/7",
            vec![alice],
            405,
            "urn:cedargate:problem:method-not-allowed",
        ),
    ]
    .into_iter()
    .map(Case::from)
    .map(|mut case| {
        // The staged candidates' `forbid`s (staged.rs): the first refuses AVP_User's
        // `get /pets`, the second (promoted) AVP_User's `get /pets/{petId}`.
        match case.name {
            "user lists pets" => case.changed = Changed::First,
            "user with a new token each time" => {
                case.changed = Changed::Second;
                case.promoted = Some((403, "urn:cedargate:problem:forbidden"));
            }
            _ => {}
        }
        case
    })
    .collect()
}

/// One request over a connection of its own, for methods ureq does not send.
fn send_raw(base: &str, case: &Case, token: Option<&str>) -> Result<Answer, String> {
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .ok_or_else(|| format!("no port in {base}"))?;
    let authorization = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(value) = &authorization {
        headers.push(("authorization", value));
    }
    let reply = cedargate_tests::http::raw(port, case.method, case.path, &headers, b"")?;
    Ok(Answer {
        status: reply.status,
        origin: reply.header("x-origin").map(str::to_owned),
        request_id: reply.header("x-cedargate-request-id").map(str::to_owned),
        body: reply.body,
    })
}

/// The built worker (`edge/build`) run by workerd, in front of `origin`, trusting `issuer`,
/// its bundles from `kv`.
fn start_workerd(origin: &str, issuer: &str, bundles: &Bundles, kv: &KvServer) -> Workerd {
    let edge_js = root().join("edge/build/index.js");
    let edge_wasm = root().join("edge/build/index_bg.wasm");
    let config = json!({
        "origin": origin,
        "token_cache_entries": TOKEN_CACHE_ENTRIES,
        "request_log": "off",
        "trust": { "issuers": [{ "issuer": issuer, "token": "id", "audiences": [CLIENT] }] },
        "bundle_kv": bundles.config(),
    });
    Workerd::start(
        "soak",
        &[
            Module::Es("index.js".into(), edge_js),
            Module::Wasm("index_bg.wasm".into(), edge_wasm),
        ],
        &[
            Binding::Json("CEDARGATE_CONFIG".into(), config),
            Binding::Kv(staged::BINDING.into(), kv.port()),
        ],
    )
    .unwrap_or_else(|e| panic!("workerd did not start: {e}"))
}

/// What the client threads share: the kinds of request, the order they are sent in, and when
/// to stop.
struct Mix {
    cases: Vec<Case>,
    /// Indexes into `cases`, each as often as its weight.
    schedule: Vec<usize>,
    stop: AtomicBool,
    /// The number of the next request.
    next: AtomicUsize,
    /// When the bundles were swapped.
    timeline: Timeline,
}

impl Mix {
    fn new(cases: Vec<Case>) -> Self {
        let schedule: Vec<usize> = cases
            .iter()
            .enumerate()
            .flat_map(|(i, c)| std::iter::repeat_n(i, c.weight))
            .collect();
        Self {
            cases,
            schedule,
            stop: AtomicBool::new(false),
            next: AtomicUsize::new(0),
            timeline: Timeline::new(),
        }
    }
}

/// What a run measured.
struct Run {
    seconds: f64,
    /// One per case of the mix.
    tallies: Vec<Tally>,
    samples: Vec<Sample>,
    /// Every answered request with a request id.
    seen: Vec<Seen>,
}

/// The load: one client thread per connection for `options.seconds`, with workerd sampled
/// every second meanwhile.
fn run_load(
    workerd: &Workerd,
    mix: &Arc<Mix>,
    options: &Options,
    kv: &Arc<KvServer>,
    bundles: &Arc<Bundles>,
) -> Run {
    let started = mix.timeline.started;
    let swapper = {
        let (mix, kv, bundles, seconds) =
            (mix.clone(), kv.clone(), bundles.clone(), options.seconds);
        std::thread::spawn(move || staged::swap(&kv, &bundles, &mix.timeline, seconds, &mix.stop))
    };
    let clients: Vec<_> = (0..options.connections)
        .map(|_| {
            let mix = mix.clone();
            let base = workerd.url("");
            std::thread::spawn(move || client(&base, &mix))
        })
        .collect();
    let samples = sample_workerd(workerd, started, options.seconds);
    mix.stop.store(true, Ordering::Relaxed);
    let mut tallies: Vec<Tally> = vec![Tally::default(); mix.cases.len()];
    let mut seen = Vec::new();
    for handle in clients {
        let (parts, mut more) = handle.join().unwrap();
        for (tally, part) in tallies.iter_mut().zip(parts) {
            merge(tally, part);
        }
        seen.append(&mut more);
    }
    swapper.join().unwrap();
    Run {
        seconds: started.elapsed().as_secs_f64(),
        tallies,
        samples,
        seen,
    }
}

/// The memory and CPU time of workerd once a second until `seconds` after `started`, and on
/// while its memory has not settled (`memory::keep_going`).
fn sample_workerd(workerd: &Workerd, started: Instant, seconds: u64) -> Vec<Sample> {
    let pid = workerd.pid();
    let mut samples = Vec::new();
    let ticks_per_second = ticks_per_second();
    let mut last_cpu = cpu_ticks(pid);
    let mut last_at = Instant::now();
    let mut points: Vec<memory::Point> = Vec::new();
    // Past `seconds`, on while the memory has not settled (memory.rs), within a bound.
    while memory::keep_going(&points, seconds as f64, started.elapsed().as_secs_f64()) {
        std::thread::sleep(Duration::from_secs(1));
        let ticks = cpu_ticks(pid);
        let at = Instant::now();
        let cpu = match (ticks, last_cpu) {
            (Some(now), Some(before)) => {
                (now - before) as f64 / ticks_per_second / (at - last_at).as_secs_f64()
            }
            _ => 0.0,
        };
        (last_cpu, last_at) = (ticks, at);
        if let Some(rss_kib) = workerd.rss_kib() {
            let second = started.elapsed().as_secs_f64();
            samples.push(Sample {
                second,
                rss_kib,
                cpu,
            });
            points.push((second, rss_kib));
        }
    }
    samples
}

/// Writes `report.md` and `report.json` into `out` and prints the report; whether the run
/// passed.
fn write_report(out: &Path, report: &Report) -> bool {
    let (text, ok) = report.render();
    std::fs::write(out.join("report.md"), &text).unwrap();
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json!({
            "seconds": report.seconds,
            "connections": report.connections,
            "cases": report.cases.iter().zip(report.tallies).map(|(c, t)| json!({
                "name": c.name, "status": c.status, "tally": t,
            })).collect::<Vec<_>>(),
            "samples": report.samples,
            "staged": report.staged,
            "passed": ok,
        }))
        .unwrap(),
    )
    .unwrap();
    println!("{text}");
    ok
}

/// A row of the table in `cases`: name, weight, method, path, tokens, status, expected.
type Row = (
    &'static str,
    usize,
    &'static str,
    &'static str,
    Vec<String>,
    u16,
    &'static str,
);

impl From<Row> for Case {
    fn from((name, weight, method, path, tokens, status, expect): Row) -> Self {
        Self {
            name,
            weight,
            method,
            path,
            tokens,
            status,
            expect,
            changed: Changed::Neither,
            promoted: None,
        }
    }
}

fn merge(into: &mut Tally, part: Tally) {
    into.requests += part.requests;
    into.right += part.right;
    into.wrong += part.wrong;
    into.server_errors += part.server_errors;
    into.transport_errors += part.transport_errors;
    into.window_before += part.window_before;
    into.window_after += part.window_after;
    for (status, n) in part.statuses {
        *into.statuses.entry(status).or_default() += n;
    }
    for example in part.examples {
        if into.examples.len() < 5 {
            into.examples.push(example);
        }
    }
}

/// One connection: requests back to back until told to stop.
fn client(base: &str, mix: &Mix) -> (Vec<Tally>, Vec<Seen>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections_per_host(1)
        .build()
        .new_agent();
    let schedule = &mix.schedule;
    let mut tallies = vec![Tally::default(); mix.cases.len()];
    let mut seen = Vec::new();
    while !mix.stop.load(Ordering::Relaxed) {
        let n = mix.next.fetch_add(1, Ordering::Relaxed);
        // A fixed stride through the schedule mixes the kinds evenly over time.
        let index = schedule[(n * 7919) % schedule.len()];
        let case = &mix.cases[index];
        let tally = &mut tallies[index];
        tally.requests += 1;
        let token = (!case.tokens.is_empty())
            .then(|| case.tokens[(n / schedule.len()) % case.tokens.len()].as_str());
        let start = mix.timeline.now();
        match send(&agent, base, case, token) {
            Ok(answer) => {
                let end = mix.timeline.now();
                judge(tally, case, &answer, mix.timeline.when(start, end));
                if let Some(id) = answer.request_id {
                    seen.push(Seen {
                        case: index,
                        start,
                        end,
                        id,
                    });
                }
            }
            Err(e) => {
                tally.transport_errors += 1;
                if tally.examples.len() < 5 {
                    tally.examples.push(format!("transport: {e}"));
                }
            }
        }
    }
    (tallies, seen)
}

/// An answer of the worker.
struct Answer {
    status: u16,
    /// The `X-Origin` header: `echo` when the origin answered.
    origin: Option<String>,
    /// The `X-Cedargate-Request-Id` header.
    request_id: Option<String>,
    body: Vec<u8>,
}

/// Sends one request of the kind `case`, with `token` as the bearer token.
fn send(
    agent: &ureq::Agent,
    base: &str,
    case: &Case,
    token: Option<&str>,
) -> Result<Answer, String> {
    // ureq sends only the methods of RFC 9110 and PATCH; others (MOVE) go over a raw
    // connection, one per request.
    if !["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"].contains(&case.method) {
        return send_raw(base, case, token);
    }
    let mut request = ureq::http::Request::builder()
        .method(case.method)
        .uri(format!("{base}{}", case.path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = if case.method == "POST" {
        br#"{"type":"dog","price":249.99}"#.to_vec()
    } else {
        Vec::new()
    };
    let request = request
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    agent
        .run(request)
        .map_err(|e| e.to_string())
        .and_then(|mut r| {
            let status = r.status().as_u16();
            let header = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let origin = header("x-origin");
            let request_id = header("x-cedargate-request-id");
            let body = r
                .body_mut()
                .read_to_vec()
                .map_err(|e| format!("reading the body: {e}"))?;
            Ok(Answer {
                status,
                origin,
                request_id,
                body,
            })
        })
}

/// Counts `answer` in `tally`: right when it is what `case` expects of the bundle in force
/// (`when`: the first live bundle, the promoted one, or either around the promotion).
fn judge(tally: &mut Tally, case: &Case, answer: &Answer, when: When) {
    let Answer {
        status,
        origin,
        body,
        ..
    } = answer;
    let status = *status;
    *tally.statuses.entry(status).or_default() += 1;
    if status >= 500 {
        tally.server_errors += 1;
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let seen = if status < 300 {
        (origin.as_deref() == Some("echo"))
            .then(|| body["headers"]["x-cedargate-subject"].as_str())
            .flatten()
    } else {
        body["type"].as_str()
    };
    let before = status == case.status && seen == Some(case.expect);
    let after = match case.promoted {
        Some((promoted_status, promoted_expect)) => {
            status == promoted_status && seen == Some(promoted_expect)
        }
        None => before,
    };
    let right = match when {
        When::Before => before,
        When::After => after,
        When::Window => before || after,
    };
    if when == When::Window && case.promoted.is_some() {
        if before {
            tally.window_before += 1;
        } else if after {
            tally.window_after += 1;
        }
    }
    if right {
        tally.right += 1;
    } else {
        tally.wrong += 1;
        if tally.examples.len() < 5 {
            tally.examples.push(format!(
                "{status} {:?} (origin {origin:?}, {when:?} the promotion)",
                seen
            ));
        }
    }
}

struct Report<'a> {
    seconds: f64,
    /// The seconds asked for (`--seconds`); the run goes on while memory settles.
    requested: u64,
    connections: usize,
    total_weight: usize,
    cases: &'a [Case],
    tallies: &'a [Tally],
    samples: &'a [Sample],
    staged: &'a staged::Outcome,
}

impl Report<'_> {
    /// The report, and whether the run passed.
    fn render(&self) -> (String, bool) {
        let mut ok = true;
        let mut s = String::new();
        let requests: u64 = self.tallies.iter().map(|t| t.requests).sum();
        let wrong: u64 = self.tallies.iter().map(|t| t.wrong).sum();
        let server_errors: u64 = self.tallies.iter().map(|t| t.server_errors).sum();
        let transport: u64 = self.tallies.iter().map(|t| t.transport_errors).sum();
        writeln!(s, "# cargo xtask soak\n").unwrap();
        writeln!(
            s,
            "{requests} requests in {:.0} s over {} connections ({:.0} requests/s) against the \
             edge worker in workerd (origin: the echo server, token cache {TOKEN_CACHE_ENTRIES} \
             entries, {FRESH_TOKENS} distinct tokens in the mix).\n",
            self.seconds,
            self.connections,
            requests as f64 / self.seconds
        )
        .unwrap();
        writeln!(
            s,
            "| request | share | expected | requests | right | wrong | 5xx | transport errors | statuses seen |"
        )
        .unwrap();
        writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---|").unwrap();
        for (case, tally) in self.cases.iter().zip(self.tallies) {
            let statuses: Vec<String> = tally
                .statuses
                .iter()
                .map(|(k, v)| format!("{k}×{v}"))
                .collect();
            writeln!(
                s,
                "| {} | {:.0} % | {} | {} | {} | {} | {} | {} | {} |",
                case.name,
                100.0 * case.weight as f64 / self.total_weight as f64,
                match case.promoted {
                    Some((after, _)) => format!("{}, {after} once promoted", case.status),
                    None => case.status.to_string(),
                },
                tally.requests,
                tally.right,
                tally.wrong,
                tally.server_errors,
                tally.transport_errors,
                statuses.join(", ")
            )
            .unwrap();
        }
        for (case, tally) in self.cases.iter().zip(self.tallies) {
            for example in &tally.examples {
                writeln!(s, "\n- wrong answer to \"{}\": {example}", case.name).unwrap();
            }
        }
        if requests == 0 || wrong > 0 || server_errors > 0 || transport > 0 {
            ok = false;
        }
        writeln!(
            s,
            "\nAnswers: {} right, {wrong} wrong, {server_errors} 5xx, {transport} transport errors.",
            requests - wrong - transport
        )
        .unwrap();

        // Memory: the trend over the settled end of the run (memory.rs).
        let cpu: Vec<f64> = self.samples.iter().skip(1).map(|x| x.cpu).collect();
        let mean_cpu = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
        let points: Vec<memory::Point> =
            self.samples.iter().map(|x| (x.second, x.rss_kib)).collect();
        match memory::judge(&points, self.requested as f64) {
            Some(verdict) => {
                ok &= verdict.flat;
                let peak = self.samples.iter().map(|x| x.rss_kib).max().unwrap_or(0);
                let start = self.samples.first().map_or(0, |x| x.rss_kib);
                let extended = self.seconds - self.requested as f64;
                let projected = verdict.projected_kib / 1024.0;
                writeln!(
                    s,
                    "\nMemory of the workerd process (resident set, sampled every second): \
                     {:.1} MiB after 1 s, growing while V8 and workerd warm up; peak {:.1} MiB. \
                     Judged from {:.0} s to {:.0} s ({} samples, median {:.1} MiB): least-squares \
                     slope {:+.2} MiB/min, {}{:.1} MiB over the {} s run asked for (at most \
                     +{:.1} MiB allowed){}: {}.",
                    mib(start),
                    mib(peak),
                    verdict.from,
                    verdict.to,
                    verdict.samples,
                    mib(verdict.median_kib),
                    verdict.slope_kib_per_second * 60.0 / 1024.0,
                    if projected >= 0.0 { "+" } else { "" },
                    projected,
                    self.requested,
                    verdict.allowed_kib / 1024.0,
                    if extended >= 1.0 {
                        format!(
                            "; the run went on {extended:.0} s past the time asked for while \
                             the memory settled (at most {:.0} s)",
                            memory::max_extension(self.requested as f64)
                        )
                    } else {
                        String::new()
                    },
                    if verdict.flat { "flat" } else { "GROWING" }
                )
                .unwrap();
            }
            None => {
                ok = false;
                writeln!(s, "\nMemory: too few samples.").unwrap();
            }
        }
        writeln!(
            s,
            "workerd used {:.0} % of one core on average (2 cores on this machine are shared \
             with the load generator and the origin).",
            100.0 * mean_cpu
        )
        .unwrap();
        writeln!(
            s,
            "\n| second | RSS (MiB) | workerd CPU |\n|---:|---:|---:|"
        )
        .unwrap();
        let step = self.samples.len().div_ceil(20).max(1);
        for sample in self.samples.iter().step_by(step) {
            writeln!(
                s,
                "| {:.0} | {:.1} | {:.0} % |",
                sample.second,
                mib(sample.rss_kib),
                100.0 * sample.cpu
            )
            .unwrap();
        }
        let window = self.tallies.iter().fold((0, 0), |(b, a), t| {
            (b + t.window_before, a + t.window_after)
        });
        staged::render(&mut s, self.staged, window);
        ok &= self.staged.passed();
        writeln!(s, "\nResult: {}", if ok { "passed" } else { "FAILED" }).unwrap();
        (s, ok)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// User plus system CPU time of a process, in clock ticks (Linux `/proc`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it are space-separated.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
