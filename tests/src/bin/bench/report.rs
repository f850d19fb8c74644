//! The report: what one run measured ([`Report`], filled in by `measure`, `size` and
//! `profile`), and its two renderings, Markdown ([`Report::markdown`], with the goals judged
//! from the numbers) and JSON ([`Report::json`]). Nothing else writes report text; a
//! measurement that is missing is shown as missing, never as 0.

use crate::measure::{KV_BASELINE, MARKED_EVERY, MARKED_GROUP, TODO_WORKER};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Everything one run of the bench measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub header: Header,
    /// Criterion's mean per benchmark, in ns, by the name of its folder in
    /// `target/criterion` (`signature_rs256_bare`).
    pub native_ns: BTreeMap<String, f64>,
    /// The workers run in workerd, in the order they ran.
    pub workers: Vec<WorkerResult>,
    /// Each step of the request path alone.
    pub stages: Option<Stages>,
    /// The cedargate worker's CPU profile under load.
    pub profile: Option<Profile>,
    /// twiggy's breakdown of the edge's wasm.
    pub edge_size: Option<SizeBreakdown>,
    /// The browser app's shell (`web/dist` but its engine): its wasm and JavaScript, what
    /// the first paint needs.
    pub web_wasm: Option<Size>,
    /// The browser app's engine (`web/dist/engine`), loaded beside the shell.
    pub web_engine: Option<Size>,
    /// The app in Chromium over a throttled network (`tests/bench/first-paint`).
    pub first_paint: Option<FirstPaint>,
    /// The browser app's matrix, timed in wasm.
    pub matrix: Option<Matrix>,
}

/// When, where and how the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// UTC, `YYYY-MM-DD`.
    pub date: Option<String>,
    pub machine: Machine,
    /// The command that produced the report.
    pub command: String,
    pub settings: Settings,
}

/// The machine the run was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: Option<String>,
    pub cores: Option<usize>,
    pub memory_gib: Option<f64>,
}

/// The run's parameters, as the report's method paragraphs state them.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Seconds of each measured wrk run at 16 connections (half of them at one).
    pub seconds: u64,
    pub rounds: u64,
    pub cold_starts: u64,
    pub memory_runs: u64,
    /// Copies of a worker in the run that measures the memory of one isolate.
    pub copies: usize,
    /// How long a loaded worker sits idle before its memory is read, in ms.
    pub idle_ms: u64,
    /// Pairs of requests behind each step's "once per request".
    pub once_pairs: usize,
}

/// A file's size, or the sum of a few files'.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Size {
    pub raw: u64,
    pub gzip: u64,
}

/// One wrk run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Run {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub non_2xx: u64,
    pub errors: u64,
    /// The round it was measured in (from 1).
    pub round: u64,
}

/// One cold start: workerd spawned with the worker alone, then its first answer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cold {
    /// From spawning workerd to its socket accepting (checked every millisecond).
    pub listening_ms: f64,
    /// From spawning workerd to the first request's answer (sent as soon as it accepts).
    pub total_ms: f64,
}

/// workerd's resident memory, idle, with one copy of the worker and with
/// [`Settings::copies`] copies (each its own isolate), after each copy answered one request.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Memory {
    pub one_kib: u64,
    pub copies_kib: u64,
    pub per_isolate_kib: f64,
}

/// One worker's results: the medians the report shows, and every sample behind them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerResult {
    pub key: String,
    pub label: String,
    /// Whether it is one of the peers cedargate is compared with.
    pub peer: bool,
    /// With a staged candidate in KV: its `shadow_percent`.
    pub shadow_percent: Option<u8>,
    /// What would be uploaded (its modules), raw and gzipped.
    pub upload: Size,
    /// One token reused, 16 connections: the run with the median throughput.
    pub one_token: Option<Run>,
    /// A fresh token per request, 16 connections.
    pub fresh_tokens: Option<Run>,
    /// One token reused, one connection.
    pub one_token_one_connection: Option<Run>,
    /// A fresh token per request, one connection.
    pub fresh_tokens_one_connection: Option<Run>,
    /// The first request on a fresh isolate, median over the rounds.
    pub first_request_ms: Option<f64>,
    /// workerd's resident memory after the last round's runs.
    pub rss_kib: Option<u64>,
    /// The median cold start.
    pub cold_start: Option<Cold>,
    /// The run with the median memory per isolate.
    pub memory: Option<Memory>,
    pub samples: Samples,
}

/// Every measurement of a worker, round by round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Samples {
    pub one_token: Vec<Run>,
    pub fresh_tokens: Vec<Run>,
    pub one_token_one_connection: Vec<Run>,
    pub fresh_tokens_one_connection: Vec<Run>,
    pub first_request_ms: Vec<f64>,
    pub cold_starts: Vec<Cold>,
    pub memory: Vec<Memory>,
    /// With a staged candidate: the `decision_changed` lines logged during each round's
    /// wrk runs.
    pub decision_changed: Vec<u64>,
}

/// The median, smallest and largest of a set of times.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Each step of the edge's request path alone, in µs per call.
#[derive(Debug, Clone, Serialize)]
pub struct Stages {
    /// Under Node, timed inside (`tests/bench/stages-wasm/run.mjs`).
    pub node: NodeSteps,
    /// In workerd, timed from outside, in the worker's order.
    pub workerd: Vec<WorkerdStep>,
}

/// What `tests/bench/stages-wasm/run.mjs` prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeSteps {
    /// Node's version.
    pub node: String,
    pub steps: BTreeMap<String, Spread>,
    /// A new isolate's set-up, cold; absent from older outputs.
    #[serde(default)]
    pub cold: Option<ColdSetUp>,
}

/// A new isolate's set-up in wasm, timed in fresh Node processes (one per run), in ms: the
/// module compiled, instantiated, then the set-up's first call (`set_up`: configuration,
/// compiled bundle, trust), with code compiled on first use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ColdSetUp {
    pub runs: u64,
    pub compile: Spread,
    pub instantiate: Spread,
    pub set_up: Spread,
}

/// One step in workerd.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerdStep {
    pub name: String,
    /// (a request running it a batch of times − one running it 0 times) / batch, over rounds.
    pub in_batch: Spread,
    /// The median of a request running it once − one running it 0 times.
    pub once: f64,
}

/// The browser app's matrix in wasm (`tests/bench/matrix-wasm/run.mjs`'s output).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Matrix {
    pub node: Option<MatrixRun>,
    pub chromium: Option<MatrixRun>,
}

/// The matrix timed in one runtime; times in ms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MatrixRun {
    /// Node's version, or the browser's user agent.
    pub version: String,
    /// Whether the page was cross-origin isolated (browsers only).
    #[serde(default)]
    pub isolated: Option<bool>,
    pub actions: u64,
    pub rows: u64,
    pub allowed: u64,
    pub instantiate_ms: f64,
    pub first_load_ms: f64,
    pub first_matrix_ms: f64,
    pub matrix_ms: Spread,
    pub load_ms: Spread,
    pub samples: u64,
    pub batch: u64,
    #[serde(default)]
    pub timer_resolution_ms: Option<f64>,
}

/// The cedargate worker's V8 CPU profile, per workload.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub workloads: Vec<ProfiledWorkload>,
}

/// One workload's profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfiledWorkload {
    pub label: String,
    /// Requests answered while recording.
    pub requests: u64,
    pub seconds: u64,
    pub profile: CpuProfile,
}

/// What `tests/bench/profile/profile.mjs` prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuProfile {
    pub total_us: f64,
    pub samples: u64,
    /// Self time per function, heaviest first.
    pub functions: Vec<ProfiledFunction>,
}

/// A function's self time in a profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProfiledFunction {
    pub name: String,
    pub script: String,
    pub us: f64,
}

/// twiggy's view of the edge's wasm (the names-kept copy of the uploaded file).
#[derive(Debug, Clone, Serialize)]
pub struct SizeBreakdown {
    /// `twiggy top -n 25`.
    pub top: String,
    /// Bytes by crate (the first path segment of each item's name), largest first.
    pub by_crate: Vec<CrateSize>,
    /// The dominator tree, trimmed.
    pub dominators: String,
    /// The file's size.
    pub total: u64,
    /// The bytes of its names subsections (absent from the upload).
    pub names: u64,
}

/// The bytes twiggy counts for one crate.
#[derive(Debug, Clone, Serialize)]
pub struct CrateSize {
    pub name: String,
    pub bytes: u64,
}

/// Appends a line to the report.
macro_rules! line {
    ($r:expr) => {
        $r.push('\n')
    };
    ($r:expr, $($arg:tt)*) => {{
        let _ = writeln!($r, $($arg)*);
    }};
}

/// What a person feels of the browser app: `tests/bench/first-paint/run.mjs`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirstPaint {
    pub network: Network,
    pub runs: u64,
    /// From the navigation's start to the sign-in button.
    pub sign_in_ms: Spread,
    /// From the callback's request to the claims shown, and to the matrix's first row.
    pub claims_ms: Spread,
    pub matrix_ms: Spread,
    /// Bytes over the wire (gzipped) of the shell's wasm and JavaScript, and of the engine.
    pub shell_transfer_bytes: u64,
    pub engine_transfer_bytes: u64,
}

/// The throttled network, as CDP's `Network.emulateNetworkConditions` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    pub name: String,
    /// Bytes per second.
    pub download_throughput: f64,
    pub upload_throughput: f64,
    /// Added to each request, in ms.
    pub latency: f64,
}

impl FirstPaint {
    /// `target/bench/first-paint.json`, if `cargo xtask bench` wrote one in this run.
    pub fn read(path: &std::path::Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// The section of the report, alone (`cargo xtask bench --only first-paint` prints it).
    pub fn markdown(&self, shell: Option<Size>, engine: Option<Size>) -> String {
        let mut r = String::new();
        line!(
            r,
            "In headless Chromium (Debian's, driven by playwright-core) over a throttled network, CDP `Network.emulateNetworkConditions` with {}: {:.1} Mbit/s down, {:.2} Mbit/s up, {:.0} ms added to each request; a fresh browser context per run and the cache disabled (every run a first visit), 390 px wide; the app served gzipped; the local provider and the edge in workerd on the same machine, behind the same throttle. The median of {} runs (min – max). The sign-in button is timed from the navigation's start; the claims and the matrix from the request of `/callback` (the provider's redirect), when each first appears in the page.\n",
            self.network.name,
            self.network.download_throughput * 8.0 / 1e6,
            self.network.upload_throughput * 8.0 / 1e6,
            self.network.latency,
            self.runs,
        );
        line!(
            r,
            "| what | time (median) | min – max | goal |\n|---|---|---|---|"
        );
        for (what, v, goal) in [
            ("sign-in button", &self.sign_in_ms, SIGN_IN_GOAL_MS),
            ("claims after the callback", &self.claims_ms, CLAIMS_GOAL_MS),
            ("matrix after the callback", &self.matrix_ms, MATRIX_GOAL_MS),
        ] {
            line!(
                r,
                "| {what} | {:.0} ms | {:.0} – {:.0} ms | ≤ {:.1} s |",
                v.median,
                v.min,
                v.max,
                goal / 1000.0
            );
        }
        line!(
            r,
            "\nOver the wire: the shell's wasm and JavaScript {}, the engine's {}.",
            kb(self.shell_transfer_bytes),
            kb(self.engine_transfer_bytes)
        );
        if let (Some(shell), Some(engine)) = (shell, engine) {
            line!(
                r,
                "Built (`gzip -9`): the shell {} raw, {} gzip; the engine {} raw, {} gzip, {} over Cedar's own floor ({}, a bare wasm that loads Cedar's JSON forms and calls `is_authorized`).",
                kb(shell.raw),
                kb(shell.gzip),
                kb(engine.raw),
                kb(engine.gzip),
                kb(engine.gzip.saturating_sub(CEDAR_FLOOR_GZIP)),
                kb(CEDAR_FLOOR_GZIP),
            );
        }
        r
    }
}

/// Issue 36's goals: the sign-in button, the claims and the matrix, in ms.
pub const SIGN_IN_GOAL_MS: f64 = 1000.0;
pub const CLAIMS_GOAL_MS: f64 = 1000.0;
pub const MATRIX_GOAL_MS: f64 = 2500.0;
/// What the first paint may need, gzipped: the shell's wasm and JavaScript (bytes).
pub const FIRST_PAINT_GZIP_GOAL: u64 = 400_000;
/// Cedar's own floor in wasm, gzipped: a bare wasm that loads Cedar's JSON forms and calls
/// `is_authorized` (measured for issue 33, README "Speed and size").
pub const CEDAR_FLOOR_GZIP: u64 = 677_000;

/// Bytes in kB (1,000 bytes).
fn kb(bytes: u64) -> String {
    format!("{:.0} kB", bytes as f64 / 1000.0)
}

/// The two workloads of the workerd tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    OneToken,
    FreshTokens,
}

impl Workload {
    const ALL: [Workload; 2] = [Workload::OneToken, Workload::FreshTokens];

    fn title(self) -> &'static str {
        match self {
            Workload::OneToken => "one token reused",
            Workload::FreshTokens => "a fresh token per request (10,000 tokens)",
        }
    }

    /// Its runs at 16 connections, round by round.
    fn samples(self, w: &WorkerResult) -> &[Run] {
        match self {
            Workload::OneToken => &w.samples.one_token,
            Workload::FreshTokens => &w.samples.fresh_tokens,
        }
    }

    /// The run at 16 connections and the run at one connection.
    fn runs(self, w: &WorkerResult) -> (Option<&Run>, Option<&Run>) {
        match self {
            Workload::OneToken => (w.one_token.as_ref(), w.one_token_one_connection.as_ref()),
            Workload::FreshTokens => (
                w.fresh_tokens.as_ref(),
                w.fresh_tokens_one_connection.as_ref(),
            ),
        }
    }
}

/// What a row of the goals table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    NotMet,
    NotMeasured,
    /// The matrix's goal, judged for the first call and for repeated calls.
    FirstAndRepeated(bool, bool),
}

impl Verdict {
    fn of(met: bool) -> Self {
        if met { Verdict::Met } else { Verdict::NotMet }
    }

    fn word(self) -> String {
        let yes = |met: bool| if met { "met" } else { "not met" };
        match self {
            Verdict::Met => "met".into(),
            Verdict::NotMet => "not met".into(),
            Verdict::NotMeasured => "not measured".into(),
            Verdict::FirstAndRepeated(first, repeated) => {
                format!("first: {}; repeated: {}", yes(first), yes(repeated))
            }
        }
    }
}

/// A row of the goals table: the goal, what was measured (`None`: nothing), the verdict.
#[derive(Debug, Clone)]
struct Goal {
    goal: String,
    measured: Option<String>,
    verdict: Verdict,
}

impl Goal {
    /// A goal judged from a measurement, or not measured.
    fn judged(goal: impl Into<String>, judged: Option<(String, bool)>) -> Self {
        let goal = goal.into();
        match judged {
            Some((measured, met)) => Goal {
                goal,
                measured: Some(measured),
                verdict: Verdict::of(met),
            },
            None => Goal {
                goal,
                measured: None,
                verdict: Verdict::NotMeasured,
            },
        }
    }

    /// A goal met by reporting a measurement: not met when it is missing.
    fn reported(goal: impl Into<String>, measured: Option<String>) -> Self {
        let verdict = Verdict::of(measured.is_some());
        Goal {
            goal: goal.into(),
            measured,
            verdict,
        }
    }
}

/// The fewest rounds whose medians are headline figures.
const HEADLINE_ROUNDS: u64 = 3;

/// Shown for a measurement that is missing.
const MISSING: &str = "—";

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1048576.0)
}

/// A time in µs, one decimal, or [`MISSING`].
fn micros(v: Option<f64>) -> String {
    v.map_or(MISSING.into(), |v| format!("{v:.1} µs"))
}

/// The median, smallest and largest of `values`; `None` without any.
fn spread(mut values: Vec<f64>) -> Option<Spread> {
    values.sort_by(f64::total_cmp);
    Some(Spread {
        median: *values.get(values.len() / 2)?,
        min: *values.first()?,
        max: *values.last()?,
    })
}

/// A time in ms, no decimals, or [`MISSING`].
fn millis(v: Option<f64>) -> String {
    v.map_or(MISSING.into(), |v| format!("{v:.0} ms"))
}

/// KiB, as MiB from 10 MiB on, or [`MISSING`].
fn kib(v: Option<f64>) -> String {
    v.map_or(MISSING.into(), |v| {
        if v.abs() >= 10240.0 {
            format!("{:.1} MiB", v / 1024.0)
        } else {
            format!("{v:.0} KiB")
        }
    })
}

impl Machine {
    fn describe(&self) -> String {
        let cpu = self.cpu.clone().unwrap_or_else(|| "unknown CPU".into());
        let cores = self.cores.map_or("an unknown number of cores".into(), |n| {
            format!("{n} cores")
        });
        let memory = self
            .memory_gib
            .map_or("unknown memory".into(), |g| format!("{g:.0} GiB"));
        format!("{cpu}, {cores}, {memory}")
    }
}

impl Report {
    /// The report as JSON (`report.json`): every field, samples included.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as Markdown (`report.md`).
    pub fn markdown(&self) -> String {
        let mut r = String::new();
        self.header_section(&mut r);
        self.native_section(&mut r);
        for workload in Workload::ALL {
            self.workerd_section(&mut r, workload);
        }
        line!(
            r,
            "Cedarling (`@janssenproject/cedarling_wasm` 2.4.0) is not in these tables: it cannot run the same scenario. Its `authorize_multi_issuer` creates no principal (tokens become entities under `context.tokens`), and its `authorize_unsigned` builds the principal from entity data without parents (`build_principal_unsigned` passes an empty parent set), so `principal in PetStore::UserGroup::\"AVP_Admin\"` can never hold; the PetStore policies every other worker runs would have to be rewritten for its token model. (Its engine does load the PetStore schema and policies: in Node, `init` with an inline policy store succeeds.)\n"
        );
        self.shadow_section(&mut r);
        self.stages_section(&mut r);
        self.profile_section(&mut r);
        self.startup_section(&mut r);
        self.cold_section(&mut r);
        self.twiggy_section(&mut r);
        self.app_section(&mut r);
        self.goals_section(&mut r);
        r
    }

    fn worker(&self, key: &str) -> Option<&WorkerResult> {
        self.workers.iter().find(|w| w.key == key)
    }

    /// A native result by its benchmark name (`signature/rs256_bare`); Criterion names its
    /// folders with `/` replaced by `_`.
    fn native(&self, name: &str) -> Option<f64> {
        self.native_ns.get(&name.replace('/', "_")).copied()
    }

    /// The whole pipeline over the bare signature check, natively.
    fn native_ratio(&self) -> Option<f64> {
        match (
            self.native("pipeline/rs256"),
            self.native("signature/rs256_bare"),
        ) {
            (Some(p), Some(s)) if s > 0.0 => Some(p / s),
            _ => None,
        }
    }

    /// A worker's cost over the JS no-op's under `workload`: µs per request at 16
    /// connections, and the added p50 at one connection, in ms.
    fn added(&self, workload: Workload, key: &str) -> Option<(f64, f64)> {
        let (run, c1) = workload.runs(self.worker(key)?);
        let (base, base_c1) = workload.runs(self.worker("noop")?);
        let (run, c1, base, base_c1) = (run?, c1?, base?, base_c1?);
        Some((
            1e6 / run.requests_per_second - 1e6 / base.requests_per_second,
            c1.p50_ms - base_c1.p50_ms,
        ))
    }

    /// What `key` adds per request over `base` under `workload` at 16 connections, in µs
    /// (1/throughput difference), round by round over the rounds both ran: its median and
    /// range.
    fn added_over(&self, workload: Workload, key: &str, base: &str) -> Option<Spread> {
        let base_runs = workload.samples(self.worker(base)?);
        spread(
            workload
                .samples(self.worker(key)?)
                .iter()
                .filter_map(|run| {
                    let b = base_runs.iter().find(|b| b.round == run.round)?;
                    (run.requests_per_second > 0.0 && b.requests_per_second > 0.0)
                        .then(|| 1e6 / run.requests_per_second - 1e6 / b.requests_per_second)
                })
                .collect(),
        )
    }

    fn header_section(&self, r: &mut String) {
        let h = &self.header;
        let s = &h.settings;
        line!(r, "# cedargate benchmarks\n");
        line!(
            r,
            "Produced by `{}` on {}, on {}: {} round(s) of {} s per workload, {} cold start(s) and {} memory run(s) per worker.\n",
            h.command,
            h.date.as_deref().unwrap_or("an unknown date"),
            h.machine.describe(),
            s.rounds,
            s.seconds,
            s.cold_starts,
            s.memory_runs.min(s.cold_starts),
        );
        if s.rounds < HEADLINE_ROUNDS {
            line!(
                r,
                "**Not headline figures**: with fewer than {HEADLINE_ROUNDS} rounds, a figure is one run's, not a median. Headline figures are the median of {HEADLINE_ROUNDS} rounds or more (`cargo xtask bench`).\n"
            );
        }
    }

    fn native_section(&self, r: &mut String) {
        line!(r, "## Native (Criterion, mean)\n");
        line!(r, "| step | time |\n|---|---|");
        for (name, label) in [
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
            line!(
                r,
                "| {label} | {} |",
                micros(self.native(name).map(|ns| ns / 1000.0))
            );
        }
        line!(r);
    }

    fn workerd_section(&self, r: &mut String, workload: Workload) {
        let title = workload.title();
        let s = &self.header.settings;
        line!(r, "## In workerd: {title}\n");
        line!(
            r,
            "`GET /pets/7` (the Todo row: `POST /todos`) on 127.0.0.1 with wrk, workerd run directly (no wrangler proxy), the median of {} rounds. Logging is the same on both sides: cedargate (its default, `request_log: \"all\"`) and both JS peers write one JSON line per request with `console.log`, with the same members (request id, method, path, status, issuer, subject, action, decision, policies, token cache, error, time); the no-ops and the floor write none, and the \"request log off\" row is cedargate without its line. Throughput: 1 thread, 16 connections, {} s after a 2 s warm-up; \"added per request\" is the time per request over the (JavaScript) no-op worker's (1/throughput difference). Latency: one connection, one request at a time, {} s; \"added p50\" is over the no-op worker's p50. The Rust no-op worker's added cost is the workers-rs glue alone, with worker-build's shim; behind the edge's entry it is the same crate built as the edge is (`edge/entry.mjs` in place of the shim); the floor checks the token's RS256 signature with WebCrypto on every request (no cache) and nothing else; the caching JS peer skips jose's checks for a token it verified before (its cache, like cedargate's, holds 1,024 tokens, so 10,000 fresh tokens always miss). The synchronous Rust no-op is the same answer from a synchronous `#[wasm_bindgen]` function (method, URL and `Authorization` in, the status out) called by a hand-written JS entry that builds the `Response`, built with wasm-bindgen alone: no workers-rs, no async glue. The \"bundle from KV\" rows are the cedargate worker with its bundle read from a KV namespace, without and with a staged candidate (see the shadow evaluation section); the Todo row is the same with the AuthZEN interop Todo bundle and its entity data (`policies/authzen-todo`), whose tokens' subject holds its roles (admin) only through the entity data, asking `POST /todos` (admins and editors).\n",
            s.rounds,
            s.seconds,
            s.seconds.div_ceil(2)
        );
        line!(
            r,
            "| worker | req/s | added per request | p50 (1 conn.) | p99 (1 conn.) | added p50 | non-2xx |\n|---|---|---|---|---|---|---|"
        );
        for w in &self.workers {
            match (workload.runs(w), self.added(workload, &w.key)) {
                ((Some(run), Some(c1)), Some((cost, p50))) => line!(
                    r,
                    "| {} | {:.0} | {:.0} µs | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
                    w.label,
                    run.requests_per_second,
                    cost,
                    c1.p50_ms,
                    c1.p99_ms,
                    p50,
                    run.non_2xx + run.errors + c1.non_2xx + c1.errors
                ),
                _ => line!(r, "| {} | — | — | — | — | — | did not run |", w.label),
            }
        }
        line!(r);
        if let Some(glue) = self.added_over(workload, "rust-noop", "rust-noop-sync") {
            let rust_noop = self.added(workload, "rust-noop").map(|(c, _)| c);
            line!(
                r,
                "worker-build's shim and async glue: the Rust no-op adds {:.0} µs a request more than the synchronous core behind a hand-written entry (the median over rounds; {:.0} to {:.0} µs), of the Rust no-op's {} added.\n",
                glue.median,
                glue.min,
                glue.max,
                rust_noop.map_or(MISSING.into(), |c| format!("{c:.0} µs"))
            );
        }
        if let Some(shim) = self.added_over(workload, "rust-noop", "rust-noop-entry") {
            line!(
                r,
                "worker-build's shim alone (its entrypoint class and Proxy): the Rust no-op with worker-build's shim adds {:.0} µs a request more than the same crate behind the edge's own entry (the median over rounds; {:.0} to {:.0} µs).\n",
                shim.median,
                shim.min,
                shim.max
            );
        }
        if let Some(entities) = self.added_over(workload, TODO_WORKER, KV_BASELINE) {
            line!(
                r,
                "The Todo bundle with its entity data: {:.0} µs a request over the PetStore bundle from KV (the median over rounds; {:.0} to {:.0} µs), the same worker and settings with another bundle, route and tokens.\n",
                entities.median,
                entities.min,
                entities.max
            );
        }
        for peer in self.workers.iter().filter(|w| w.peer || w.key == "floor") {
            if let (Some((c, _)), Some((p, _))) = (
                self.added(workload, "cedargate-webcrypto"),
                self.added(workload, &peer.key),
            ) {
                line!(
                    r,
                    "cedargate (WebCrypto) / {}: added cost ratio **{:.2}**.\n",
                    peer.label,
                    c / p
                );
            }
        }
    }

    /// What deciding a share of requests with a staged candidate too adds over the same
    /// worker with its bundle from KV and no candidate.
    fn shadow_section(&self, r: &mut String) {
        line!(
            r,
            "## In workerd: shadow evaluation of a staged candidate\n"
        );
        let shadowed: Vec<&WorkerResult> = self
            .workers
            .iter()
            .filter(|w| w.shadow_percent.is_some())
            .collect();
        if shadowed.is_empty() || self.worker(KV_BASELINE).is_none() {
            line!(
                r,
                "Not measured (it needs `{KV_BASELINE}` and the `{KV_BASELINE}-shadow-*` workers in `--workers`).\n"
            );
            return;
        }
        line!(
            r,
            "The cedargate worker (WebCrypto, request log on) with its bundle from a KV namespace (`bundle_kv`, a local service of the bench: the PetStore bundle, signed, serial 10), alone (\"bundle from KV\", the baseline here) and with a staged candidate (`staged_key`: the same bundle, serial 20, with one more policy, `forbid (principal in PetStore::UserGroup::\"{MARKED_GROUP}\", action, resource)`) at `shadow_percent` 1, 10 and 100. Every {MARKED_EVERY}th fresh token (not the reused one) carries the group `{MARKED_GROUP}` besides AVP_Admin, which the live policies ignore and the candidate denies everything: with fresh tokens a tenth of the sampled requests are decided otherwise and logged (`decision_changed`), with the reused token none, so its rows are the second Cedar evaluation and the comparison alone. Every answer stays the live bundle's (204). \"Added per request\" is the worker's time per request over the KV baseline's at 16 connections (1/throughput difference) in each round, both measured in that round: the median and the range over {} round(s). Before a round's runs, the bench waits until the worker logged taking the candidate (`staged_bundle_updated`), and stops if the worker at 100 % logged no `decision_changed` in round 1. The lines counted are those logged during a round's four wrk runs (warm-ups included).\n",
            self.header.settings.rounds
        );
        line!(
            r,
            "| staged candidate | one token reused: added per request | min – max | fresh tokens: added per request | min – max | `decision_changed` lines per round |\n|---|---|---|---|---|---|"
        );
        let cell = |s: Option<Spread>| match s {
            Some(s) => (
                format!("{:.0} µs", s.median),
                format!("{:.0} – {:.0} µs", s.min, s.max),
            ),
            None => (MISSING.into(), MISSING.into()),
        };
        let mut rows = vec![(
            "no candidate: bundle from KV over the built-in bundle (cedargate, WebCrypto)"
                .to_owned(),
            KV_BASELINE,
            "cedargate-webcrypto",
            MISSING.to_owned(),
        )];
        for w in &shadowed {
            rows.push((
                format!(
                    "shadow evaluation at {} %: added per request over the KV baseline",
                    w.shadow_percent.unwrap_or_default()
                ),
                w.key.as_str(),
                KV_BASELINE,
                if w.samples.decision_changed.is_empty() {
                    MISSING.to_owned()
                } else {
                    w.samples
                        .decision_changed
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ));
        }
        for (label, key, base, lines) in rows {
            let (one, one_range) = cell(self.added_over(Workload::OneToken, key, base));
            let (fresh, fresh_range) = cell(self.added_over(Workload::FreshTokens, key, base));
            line!(
                r,
                "| {label} | {one} | {one_range} | {fresh} | {fresh_range} | {lines} |"
            );
        }
        line!(r);
        if let Some(full) = shadowed.iter().find(|w| w.shadow_percent == Some(100)) {
            let median = |workload| {
                self.added_over(workload, &full.key, KV_BASELINE)
                    .map_or(MISSING.into(), |s| format!("{:.0} µs", s.median))
            };
            line!(
                r,
                "Shadow evaluation of every request (100 %) adds **{}** per request with one token reused and **{}** with fresh tokens, over the same worker without a candidate.\n",
                median(Workload::OneToken),
                median(Workload::FreshTokens)
            );
        }
    }

    /// What each step of the request path costs, in Node and in workerd.
    fn stages_section(&self, r: &mut String) {
        line!(r, "## Where a request's time goes\n");
        let Some(stages) = &self.stages else {
            line!(
                r,
                "The steps were not timed (`target/bench/stages-wasm` is built by `cargo xtask bench`).\n"
            );
            return;
        };
        line!(
            r,
            "Each step of the edge's request path alone, in µs per call: the functions the worker calls (the shared core and `cedargate-edge`'s pure modules, built without its `runtime` as `tests/bench/stages-wasm`, with the worker's release profile and wasm-opt -Oz) on the PetStore bundle, with an RS256 ID token. Three steps stand for the worker's crossings into JavaScript: reading the `Request` (method, URL, three headers), building the allowed request's 204 `Response` (eight headers appended one by one, as the worker does, and, as a lever measured, handed over as one string that a JavaScript helper splits), and writing the log line with `console.log`. Node times inside (the median of 30 batches); workerd's clock does not move during a request, so there each step's time is (a request running it a batch of times − a request running it 0 times) / batch, the median of 15, timed by the bench over 127.0.0.1.\n"
        );
        line!(
            r,
            "\"Once per request\" is how the worker runs each step: the median over {} pairs of a request running the step once and one running it 0 times. The steps cost more that way than in a batch: between two requests workerd's HTTP handling, the load generator and the event loop run on the same cores, so a step starts with the engine's caches and predictors cold for its code and data.\n",
            self.header.settings.once_pairs
        );
        line!(
            r,
            "| step | Node | workerd, in a batch | workerd, once per request |\n|---|---|---|---|"
        );
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
            (
                "set_up",
                "new isolate: configuration, compiled bundle and trust set up (warm)",
            ),
        ];
        for (name, label) in labels {
            let in_workerd = stages.workerd.iter().find(|s| s.name == name);
            line!(
                r,
                "| {label} | {} | {} | {} |",
                micros(stages.node.steps.get(name).map(|s| s.median)),
                micros(in_workerd.map(|s| s.in_batch.median)),
                micros(in_workerd.map(|s| s.once)),
            );
        }
        line!(r);
        Self::cold_set_up(stages.node.cold.as_ref(), r);
    }

    /// A new isolate's set-up, cold, under Node.
    fn cold_set_up(cold: Option<&ColdSetUp>, r: &mut String) {
        let Some(cold) = cold else {
            line!(r, "A new isolate's set-up was not timed cold.\n");
            return;
        };
        line!(
            r,
            "A new isolate's set-up, cold: in {} fresh Node processes, the same wasm compiled (`new WebAssembly.Module`, V8 compiles each function when first called), instantiated, then the set-up's first call (`set_up`: the configuration parsed, the compiled bundle loaded as its validated version, routes checked, trust bound), before any other code ran; in ms, median (min – max). The gap between the first call and the warm row above is code compiled on first use and first-touch work.\n",
            cold.runs
        );
        line!(r, "| step | ms |\n|---|---|");
        let ms = |s: &Spread| format!("{:.1} ({:.1} – {:.1})", s.median, s.min, s.max);
        line!(r, "| compile the module | {} |", ms(&cold.compile));
        line!(r, "| instantiate it | {} |", ms(&cold.instantiate));
        line!(r, "| set-up, first call | {} |", ms(&cold.set_up));
        line!(r);
    }

    /// Where the worker's time goes, from its CPU profile: per request, the self time of the
    /// heaviest functions and of each kind of code, per workload.
    fn profile_section(&self, r: &mut String) {
        line!(r, "## Where the worker's own time goes (V8 CPU profile)\n");
        let Some(profile) = &self.profile else {
            line!(
                r,
                "No profile was recorded (it needs the cedargate worker in `--workers`).\n"
            );
            return;
        };
        line!(
            r,
            "The cedargate worker (WebCrypto) in workerd with its inspector on, under the load of the table above (16 connections), profiled by V8's sampling profiler for the run's seconds; its wasm is the names-kept copy of the uploaded one (the same code). Self time per request: a function's sampled time over the requests answered while recording. \"(program)\" is time in workerd and V8 outside any JavaScript or wasm function (the HTTP server, the event loop, and native code such as WebCrypto's); \"(idle)\" is waiting for requests (the load generator shares the machine). Workers-rs and wasm-bindgen's glue is `index.js`; built-ins without a script are workerd's APIs (`Headers`, `Response`, ...).\n"
        );
        let workloads = &profile.workloads;
        line!(
            r,
            "| per request | {} |",
            workloads
                .iter()
                .map(|w| w.label.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        line!(r, "|---|{}", "---|".repeat(workloads.len()));
        let mut row = "| requests recorded |".to_owned();
        for w in workloads {
            let _ = write!(row, " {} |", w.requests);
        }
        line!(r, "{row}");
        for k in CodeKind::ALL {
            let mut row = format!("| {} |", k.label());
            for w in workloads {
                let us: f64 = w
                    .profile
                    .functions
                    .iter()
                    .filter(|f| CodeKind::of(f) == k)
                    .map(|f| f.us)
                    .sum();
                let _ = write!(row, " {:.1} µs |", w.per_request(us));
            }
            line!(r, "{row}");
        }
        line!(r);
        for w in workloads {
            line!(
                r,
                "Heaviest functions, {} (self time per request):\n",
                w.label
            );
            line!(r, "| function | kind | µs |\n|---|---|---|");
            for f in w
                .profile
                .functions
                .iter()
                .filter(|f| f.name != "(idle)")
                .take(25)
            {
                line!(
                    r,
                    "| `{}` | {} | {:.1} |",
                    f.name.replace('|', "\\|"),
                    CodeKind::of(f).label(),
                    w.per_request(f.us)
                );
            }
            line!(r);
        }
    }

    fn startup_section(&self, r: &mut String) {
        line!(r, "## Start-up and size\n");
        line!(
            r,
            "| worker | first request on a fresh isolate (median) | upload raw | upload gzip | RSS after the runs |\n|---|---|---|---|---|"
        );
        for w in &self.workers {
            line!(
                r,
                "| {} | {} | {} | {} | {} |",
                w.label,
                millis(w.first_request_ms),
                mib(w.upload.raw),
                mib(w.upload.gzip),
                w.rss_kib
                    .map_or(MISSING.into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
            );
        }
        if let Some(web) = self.web_wasm {
            line!(
                r,
                "\nBrowser app shell (wasm + JS): {} raw, {} gzip.",
                mib(web.raw),
                mib(web.gzip)
            );
        }
    }

    fn cold_section(&self, r: &mut String) {
        let s = &self.header.settings;
        let noop = self.worker("noop");
        let noop_cold = noop.and_then(|n| n.cold_start.as_ref());
        let noop_memory = noop.and_then(|n| n.memory.as_ref());
        line!(r, "\n## Cold start and memory per isolate\n");
        line!(
            r,
            "Cold start: workerd is spawned with the worker alone; the harness checks every millisecond whether its socket accepts and then sends the first request (a fresh token). \"Spawn → first answer\" is the time from spawning workerd to that request's full answer: workerd's own start, creating the isolate, compiling and instantiating the modules, the worker's set-up and first key fetch, and the request. \"Over the JS no-op\" subtracts the same for the JavaScript no-op worker, which leaves out workerd's start and an empty isolate: it is the worker's own cold start. The median of {} starts per worker, alternating the workers. Memory: workerd's resident set (VmRSS) {} ms after the last answer, once with the worker loaded once and once with it loaded {} times ({} services, each its own isolate, each having answered one request); \"memory per isolate\" is the difference / {}; the median of {} runs. The \"over the JS no-op\" memory is the one-isolate RSS minus the JS no-op's.\n",
            s.cold_starts,
            s.idle_ms,
            s.copies,
            s.copies,
            s.copies.saturating_sub(1),
            s.memory_runs.min(s.cold_starts)
        );
        line!(
            r,
            "| worker | spawn → listening | spawn → first answer | cold start over the JS no-op | memory per isolate | RSS, one isolate, idle | RSS over the JS no-op |\n|---|---|---|---|---|---|---|"
        );
        for w in &self.workers {
            let cold = w.cold_start.as_ref();
            let memory = w.memory.as_ref();
            line!(
                r,
                "| {} | {} | {} | {} | {} | {} | {} |",
                w.label,
                millis(cold.map(|c| c.listening_ms)),
                millis(cold.map(|c| c.total_ms)),
                millis(cold.zip(noop_cold).map(|(c, n)| c.total_ms - n.total_ms)),
                kib(memory.map(|m| m.per_isolate_kib)),
                kib(memory.map(|m| m.one_kib as f64)),
                kib(memory
                    .zip(noop_memory)
                    .map(|(m, n)| m.one_kib as f64 - n.one_kib as f64)),
            );
        }
    }

    fn twiggy_section(&self, r: &mut String) {
        line!(r, "\n## The worker's size, broken down (twiggy)\n");
        let Some(t) = &self.edge_size else {
            line!(
                r,
                "twiggy did not run (the bench needs `--twiggy PATH --names-wasm PATH`; `cargo xtask bench` passes them)."
            );
            return;
        };
        line!(
            r,
            "twiggy 0.8 over `target/edge-names/index_bg.wasm`: the edge's wasm as worker-build leaves it, with its names section. `cargo xtask build-edge` keeps this copy before it drops the names for the upload, and `cargo xtask bench` checks that stripping the copy gives `edge/build/index_bg.wasm` byte for byte, so every item below is in the uploaded worker except the names subsections ({} of the copy's {}). Data segments are constants: Cedar's parser tables, strings, the policy bundle compiled in.\n",
            mib(t.names),
            mib(t.total)
        );
        line!(
            r,
            "By crate (each function counted for the first path segment of its name, so a generic of `core` or `alloc` instantiated for another crate's types counts for `core` or `alloc`; `AssertUnwindSafe<F>::poll`, for example, holds the edge's inlined async request handler):\n"
        );
        line!(
            r,
            "| crate | bytes | share of the upload's wasm |\n|---|---|---|"
        );
        let upload = t.total.saturating_sub(t.names) as f64;
        for c in t.by_crate.iter().take(20) {
            let share = if c.name.starts_with("(names") {
                MISSING.to_owned()
            } else {
                format!("{:.1}%", c.bytes as f64 / upload * 100.0)
            };
            line!(r, "| {} | {} | {share} |", c.name, c.bytes);
        }
        line!(
            r,
            "\nThe 25 largest items (`twiggy top -n 25`; names cut at 160 characters):\n"
        );
        line!(r, "```\n{}```\n", t.top);
        line!(
            r,
            "What keeps the big items (`twiggy dominators`, trimmed: items that keep at least 1% of the upload's wasm alive, to depth 5, at most 6 children each; \"retained\" is what would go with the item; the unreachable items are those twiggy cannot attribute to a caller, mostly data segments reached by address):\n"
        );
        line!(r, "```\n{}\n```", t.dominators);
    }

    /// The matrix's runtimes, Chromium first.
    fn matrix_runs(&self) -> Vec<(&'static str, &MatrixRun)> {
        let Some(m) = &self.matrix else {
            return Vec::new();
        };
        [("chromium", &m.chromium), ("node", &m.node)]
            .into_iter()
            .filter_map(|(name, run)| run.as_ref().map(|run| (name, run)))
            .collect()
    }

    fn app_section(&self, r: &mut String) {
        line!(r, "\n## The browser app\n");
        if let Some(web) = self.web_wasm {
            line!(
                r,
                "The app's shell (`web/dist` but its engine: wasm and JavaScript, trunk release, wasm-opt -Oz): {} raw, {} gzip.\n",
                mib(web.raw),
                mib(web.gzip)
            );
        }
        if let Some(engine) = self.web_engine {
            line!(
                r,
                "Its engine (`web/dist/engine`, wasm-bindgen `--target web`, wasm-opt -Oz), imported by the shell as it starts: {} raw, {} gzip.\n",
                mib(engine.raw),
                mib(engine.gzip)
            );
        }
        line!(r, "### How long a person waits\n");
        match &self.first_paint {
            Some(fp) => line!(r, "{}", fp.markdown(self.web_wasm, self.web_engine)),
            None => line!(
                r,
                "Not measured in this run (`cargo xtask bench --only first-paint`, `tests/bench/first-paint`).\n"
            ),
        }
        let runs = self.matrix_runs();
        if runs.is_empty() {
            line!(
                r,
                "The matrix was not timed in wasm (`target/bench/matrix-wasm` is built by `cargo xtask bench`)."
            );
            return;
        }
        line!(
            r,
            "The matrix (`Bundle::allowed_actions`, what the app computes once it has the bundle and the principal) for the 50-action bundle `tests/bench/fifty-actions` (10 resources × 5 methods, group, scope and attribute policies and a forbid; the Criterion bench's bundle), with a principal in `readers` holding the `write` scope, in wasm: the crate `tests/bench/matrix-wasm`, built with the app's profile and features, wasm-bindgen `--target web`, wasm-opt -Oz. \"First\" is the first call after loading the bundle (code not yet compiled by the engine's optimizing tier); \"repeated\" is the median over batches of calls (the sample count × batch size below), each batch's time divided by its size.\n"
        );
        line!(
            r,
            "| runtime | rows (allowed) | matrix, first | matrix, repeated (median) | min – max | bundle load, first | bundle load, repeated |\n|---|---|---|---|---|---|---|"
        );
        for (name, v) in runs {
            let label = match name {
                "chromium" => format!(
                    "headless Chromium ({} samples × {}; timer step {})",
                    v.samples,
                    v.batch,
                    v.timer_resolution_ms
                        .map_or(MISSING.into(), |t| format!("{t:.3} ms"))
                ),
                _ => format!("Node {} ({} samples × {})", v.version, v.samples, v.batch),
            };
            line!(
                r,
                "| {label} | {} ({}) | {:.2} ms | {:.3} ms | {:.3} – {:.3} ms | {:.1} ms | {:.2} ms |",
                v.rows,
                v.allowed,
                v.first_matrix_ms,
                v.matrix_ms.median,
                v.matrix_ms.min,
                v.matrix_ms.max,
                v.first_load_ms,
                v.load_ms.median,
            );
        }
        line!(
            r,
            "\nNatively (Criterion, opt-level 3, the same bundle): {}.",
            micros(
                self.native("matrix/allowed_actions_50")
                    .map(|ns| ns / 1000.0)
            )
        );
    }

    /// The issue's goals, each judged from the numbers above.
    fn goals(&self) -> Vec<Goal> {
        use Workload::{FreshTokens, OneToken};
        let cost = |workload, key| self.added(workload, key).map(|(c, _)| c);
        let cg = |workload| cost(workload, "cedargate-webcrypto");
        let label = |key: &str| self.worker(key).map_or(key.to_owned(), |w| w.label.clone());
        let edge = self.worker("cedargate-webcrypto");
        let noop = self.worker("noop");
        let cold_over_noop = |key: &str| {
            let cold = self.worker(key)?.cold_start.as_ref()?;
            Some(cold.total_ms - noop?.cold_start.as_ref()?.total_ms)
        };
        let mut out = vec![
            Goal::judged(
                "(a) new token per request: added cost ≤ ½ of jose + cedar-wasm's and ≤ the floor's + 100 µs",
                cg(FreshTokens)
                    .zip(cost(FreshTokens, "js-peer"))
                    .zip(cost(FreshTokens, "floor"))
                    .map(|((c, p), f)| {
                        let ratio = c / p;
                        (
                            format!(
                                "{c:.0} µs: {ratio:.2} of jose + cedar-wasm's {p:.0} µs; the floor's {f:.0} µs + 100 µs = {:.0} µs",
                                f + 100.0
                            ),
                            ratio <= 0.5 && c <= f + 100.0,
                        )
                    }),
            ),
            Goal::judged(
                "(b) token reused: added cost ≤ ⅓ of jose + cedar-wasm's",
                cg(OneToken).zip(cost(OneToken, "js-peer")).map(|(c, p)| {
                    let ratio = c / p;
                    (
                        format!("{c:.0} µs vs {p:.0} µs = {ratio:.2}"),
                        ratio <= 1.0 / 3.0,
                    )
                }),
            ),
            Goal::judged(
                "(c) first request on a new isolate: ≤ ½ of jose + cedar-wasm's (cold start over the JS no-op)",
                cold_over_noop("cedargate-webcrypto")
                    .zip(cold_over_noop("js-peer").filter(|p| *p > 0.0))
                    .map(|(c, p)| {
                        let ratio = c / p;
                        (
                            format!("{c:.0} ms vs {p:.0} ms = {ratio:.2}"),
                            ratio <= 0.5,
                        )
                    }),
            ),
            Goal::judged(
                "(d) worker ≤ 700 KB gzipped (700,000 bytes)",
                edge.map(|e| {
                    (
                        format!("{} ({} bytes)", mib(e.upload.gzip), e.upload.gzip),
                        e.upload.gzip <= 700_000,
                    )
                }),
            ),
            Goal::reported(
                "(d) memory per isolate reported beside the peers'",
                edge.and_then(|e| e.memory.as_ref()).map(|m| {
                    let of = |key: &str| {
                        self.worker(key)
                            .and_then(|w| w.memory.as_ref())
                            .map_or(MISSING.into(), |n| {
                                format!("{:.1} MiB", n.per_isolate_kib / 1024.0)
                            })
                    };
                    format!(
                        "{:.1} MiB per isolate; jose + cedar-wasm {}, with a token cache {}, the JS no-op {}",
                        m.per_isolate_kib / 1024.0,
                        of("js-peer"),
                        of("js-peer-cache"),
                        of("noop")
                    )
                }),
            ),
            Goal::judged(
                "(e) native full pipeline within 1.1 × a bare signature check",
                self.native_ratio()
                    .map(|ratio| (format!("{ratio:.2} ×"), ratio <= 1.1)),
            ),
        ];
        out.extend([
            Goal::judged(
                "token reused: added cost below the caching JS peer's",
                cg(OneToken)
                    .zip(cost(OneToken, "js-peer-cache"))
                    .map(|(c, p)| (format!("{c:.0} µs vs {p:.0} µs"), c < p)),
            ),
            Goal::judged(
                "fresh token: added cost ≤ 1.3 × the floor's",
                cg(FreshTokens)
                    .zip(cost(FreshTokens, "floor"))
                    .map(|(c, f)| {
                        let ratio = c / f;
                        (
                            format!("{c:.0} µs vs {f:.0} µs = {ratio:.2} ×"),
                            ratio <= 1.3,
                        )
                    }),
            ),
        ]);
        for key in ["js-peer", "js-peer-cache"] {
            out.push(Goal::judged(
                format!("fresh token: added cost below {}'s", label(key)),
                cg(FreshTokens)
                    .zip(cost(FreshTokens, key))
                    .map(|(c, p)| (format!("{c:.0} µs vs {p:.0} µs"), c < p)),
            ));
        }
        for (workload, name, limit) in [
            (OneToken, "token reused", 0.1),
            (FreshTokens, "fresh token", 0.2),
        ] {
            out.push(Goal::judged(
                format!("{name}: added p50 on one connection < {limit} ms"),
                self.added(workload, "cedargate-webcrypto")
                    .map(|(_, p50)| (format!("{p50:.3} ms"), p50 < limit)),
            ));
        }

        let edge_cold = edge.and_then(|e| e.cold_start.as_ref());
        let noop_cold = noop.and_then(|n| n.cold_start.as_ref());
        out.push(match edge_cold.zip(noop_cold) {
            Some((c, n)) => {
                let own = c.total_ms - n.total_ms;
                Goal::judged(
                    format!(
                        "cold start < 50 ms (over the JS no-op; spawn → first answer in all {:.0} ms)",
                        c.total_ms
                    ),
                    Some((format!("{own:.0} ms"), own < 50.0)),
                )
            }
            None => Goal::judged("cold start < 50 ms (over the JS no-op)", None),
        });
        out.push(match self.matrix_runs().first() {
            Some((name, v)) => {
                let (first, repeated) = (v.first_matrix_ms, v.matrix_ms.median);
                Goal {
                    goal: format!("browser app: matrix for a 50-action bundle < 5 ms ({name})"),
                    measured: Some(format!("{first:.2} ms first, {repeated:.3} ms repeated")),
                    verdict: Verdict::FirstAndRepeated(first < 5.0, repeated < 5.0),
                }
            }
            None => Goal::judged("browser app: matrix for a 50-action bundle < 5 ms", None),
        });
        out.push(Goal::reported(
            "browser app wasm size reported",
            self.web_wasm
                .map(|web| format!("{} raw, {} gzip", mib(web.raw), mib(web.gzip))),
        ));
        out.extend(self.first_paint_goals());
        out
    }

    /// Issue 36's goals for the app.
    fn first_paint_goals(&self) -> Vec<Goal> {
        let fp = self.first_paint.as_ref();
        let time = |v: Option<&Spread>, goal: f64| {
            v.map(|v| (format!("{:.0} ms (median)", v.median), v.median <= goal))
        };
        vec![
            Goal::judged(
                "app: first paint needs ≤ 400 kB gzipped of wasm + JS",
                self.web_wasm.map(|w| {
                    (
                        format!("{} (the shell)", kb(w.gzip)),
                        w.gzip <= FIRST_PAINT_GZIP_GOAL,
                    )
                }),
            ),
            Goal::judged(
                "app: sign-in button ≤ 1.0 s (Fast 4G, cold)",
                time(fp.map(|f| &f.sign_in_ms), SIGN_IN_GOAL_MS),
            ),
            Goal::judged(
                "app: claims ≤ 1.0 s after the callback",
                time(fp.map(|f| &f.claims_ms), CLAIMS_GOAL_MS),
            ),
            Goal::judged(
                "app: matrix ≤ 2.5 s after the callback",
                time(fp.map(|f| &f.matrix_ms), MATRIX_GOAL_MS),
            ),
            Goal::reported(
                "app: the engine reported against Cedar's own floor",
                self.web_engine.map(|e| {
                    format!(
                        "{} gzip, {} over the floor's {}",
                        kb(e.gzip),
                        kb(e.gzip.saturating_sub(CEDAR_FLOOR_GZIP)),
                        kb(CEDAR_FLOOR_GZIP)
                    )
                }),
            ),
        ]
    }

    fn goals_section(&self, r: &mut String) {
        line!(r, "\n## Goals\n");
        line!(
            r,
            "Issue 33's goals first, (a) to (e), then the earlier ones. \"Added cost\" is the time per request over the JavaScript no-op worker's at 16 connections (the median of {} round(s){}); \"added p50\" is over its p50 at one connection; cedargate is the WebCrypto configuration with the request log on (the default), against JS peers that log one line too.\n",
            self.header.settings.rounds,
            if self.header.settings.rounds < HEADLINE_ROUNDS {
                ": not headline figures"
            } else {
                ""
            }
        );
        line!(r, "| goal | measured | verdict |\n|---|---|---|");
        for g in self.goals() {
            line!(
                r,
                "| {} | {} | {} |",
                g.goal,
                g.measured.as_deref().unwrap_or(MISSING),
                g.verdict.word()
            );
        }
    }
}

/// Kinds of code in the worker's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    Wasm,
    Glue,
    WorkerdApis,
    OtherJs,
    Gc,
    Native,
    Idle,
}

impl CodeKind {
    const ALL: [CodeKind; 7] = [
        CodeKind::Wasm,
        CodeKind::Glue,
        CodeKind::WorkerdApis,
        CodeKind::OtherJs,
        CodeKind::Gc,
        CodeKind::Native,
        CodeKind::Idle,
    ];

    fn of(f: &ProfiledFunction) -> Self {
        match f.name.as_str() {
            "(idle)" => return CodeKind::Idle,
            "(program)" => return CodeKind::Native,
            "(garbage collector)" => return CodeKind::Gc,
            _ => {}
        }
        let script = f.script.as_str();
        if script.starts_with("wasm://") || script.ends_with(".wasm") {
            CodeKind::Wasm
        } else if script.ends_with("index.js") || script.ends_with("shim.mjs") {
            CodeKind::Glue
        } else if script.is_empty() {
            CodeKind::WorkerdApis
        } else {
            CodeKind::OtherJs
        }
    }

    fn label(self) -> &'static str {
        match self {
            CodeKind::Wasm => "the worker's wasm",
            CodeKind::Glue => "glue (workers-rs, wasm-bindgen)",
            CodeKind::WorkerdApis => "workerd's JavaScript APIs",
            CodeKind::OtherJs => "other JavaScript",
            CodeKind::Gc => "garbage collector",
            CodeKind::Native => "workerd and V8, native",
            CodeKind::Idle => "waiting (idle)",
        }
    }
}

impl ProfiledWorkload {
    /// `us` spread over the requests answered while recording.
    fn per_request(&self, us: f64) -> f64 {
        if self.requests > 0 {
            us / self.requests as f64
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(requests_per_second: f64, p50_ms: f64) -> Run {
        Run {
            requests_per_second,
            p50_ms,
            p99_ms: p50_ms * 2.0,
            requests: (requests_per_second * 3.0) as u64,
            non_2xx: 0,
            errors: 0,
            round: 1,
        }
    }

    /// A worker measured with both workloads: (req/s at 16 connections, p50 in ms at one).
    fn worker(key: &str, label: &str, one: (f64, f64), fresh: (f64, f64)) -> WorkerResult {
        WorkerResult {
            key: key.into(),
            label: label.into(),
            peer: key.starts_with("js-peer"),
            shadow_percent: None,
            upload: Size {
                raw: 10_000,
                gzip: 4_000,
            },
            one_token: Some(run(one.0, 0.5)),
            fresh_tokens: Some(run(fresh.0, 0.5)),
            one_token_one_connection: Some(run(5000.0, one.1)),
            fresh_tokens_one_connection: Some(run(5000.0, fresh.1)),
            first_request_ms: Some(40.0),
            rss_kib: Some(300 * 1024),
            cold_start: Some(Cold {
                listening_ms: 50.0,
                total_ms: 100.0,
            }),
            memory: Some(Memory {
                one_kib: 100_000,
                copies_kib: 108_192,
                per_isolate_kib: 2048.0,
            }),
            samples: Samples::default(),
        }
    }

    fn header() -> Header {
        Header {
            date: Some("2026-12-07".into()),
            machine: Machine {
                cpu: Some("AMD EPYC 7B13".into()),
                cores: Some(2),
                memory_gib: Some(23.4),
            },
            command: "cargo xtask bench --quick".into(),
            settings: Settings {
                seconds: 3,
                rounds: 1,
                cold_starts: 3,
                memory_runs: 1,
                copies: 5,
                idle_ms: 500,
                once_pairs: 401,
            },
        }
    }

    /// A report with every measurement. Over the no-op's 100 µs a request, cedargate adds
    /// 100 µs with one token and 300 µs with fresh ones; jose + cedar-wasm 400 and 400, the
    /// caching peer 150 and 150, the floor 25 and 100.
    fn full() -> Report {
        let mut cedargate = worker(
            "cedargate-webcrypto",
            "cedargate, WebCrypto",
            (5000.0, 0.15),
            (2500.0, 0.40),
        );
        cedargate.upload = Size {
            raw: 3_000_000,
            gzip: 1_200_000,
        };
        cedargate.cold_start = Some(Cold {
            listening_ms: 60.0,
            total_ms: 300.0,
        });
        cedargate.memory = Some(Memory {
            one_kib: 120_000,
            copies_kib: 193_728,
            per_isolate_kib: 18_432.0,
        });
        let matrix_run = |version: &str| MatrixRun {
            version: version.into(),
            isolated: None,
            actions: 50,
            rows: 50,
            allowed: 23,
            instantiate_ms: 5.0,
            first_load_ms: 160.0,
            first_matrix_ms: 11.8,
            matrix_ms: Spread {
                median: 1.06,
                min: 1.0,
                max: 1.5,
            },
            load_ms: Spread {
                median: 14.0,
                min: 13.0,
                max: 20.0,
            },
            samples: 30,
            batch: 10,
            timer_resolution_ms: Some(0.005),
        };
        let function = |name: &str, script: &str, us: f64| ProfiledFunction {
            name: name.into(),
            script: script.into(),
            us,
        };
        Report {
            header: header(),
            native_ns: [
                ("signature_rs256_bare", 100_000.0),
                ("pipeline_rs256", 120_000.0),
                ("matrix_allowed_actions_50", 900_000.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            workers: vec![
                worker(
                    "noop",
                    "no-op worker (baseline)",
                    (10_000.0, 0.10),
                    (10_000.0, 0.10),
                ),
                worker(
                    "floor",
                    "floor: WebCrypto RS256 check only (JS)",
                    (8000.0, 0.12),
                    (5000.0, 0.20),
                ),
                cedargate,
                WorkerResult {
                    cold_start: Some(Cold {
                        listening_ms: 50.0,
                        total_ms: 250.0,
                    }),
                    ..worker(
                        "js-peer",
                        "jose + @cedar-policy/cedar-wasm (JS)",
                        (2000.0, 0.30),
                        (2000.0, 0.30),
                    )
                },
                worker(
                    "js-peer-cache",
                    "jose + cedar-wasm + token cache (JS)",
                    (4000.0, 0.20),
                    (4000.0, 0.30),
                ),
            ],
            stages: Some(Stages {
                node: NodeSteps {
                    node: "v22.0.0".into(),
                    steps: [(
                        "decide".to_owned(),
                        Spread {
                            median: 12.34,
                            min: 12.0,
                            max: 13.0,
                        },
                    )]
                    .into_iter()
                    .collect(),
                    cold: Some(ColdSetUp {
                        runs: 7,
                        compile: Spread {
                            median: 20.0,
                            min: 15.0,
                            max: 25.0,
                        },
                        instantiate: Spread {
                            median: 1.5,
                            min: 1.0,
                            max: 2.0,
                        },
                        set_up: Spread {
                            median: 70.0,
                            min: 60.0,
                            max: 90.0,
                        },
                    }),
                },
                workerd: vec![WorkerdStep {
                    name: "decide".into(),
                    in_batch: Spread {
                        median: 17.0,
                        min: 16.0,
                        max: 18.0,
                    },
                    once: 54.0,
                }],
            }),
            profile: Some(Profile {
                workloads: vec![ProfiledWorkload {
                    label: "one token".into(),
                    requests: 1000,
                    seconds: 3,
                    profile: CpuProfile {
                        total_us: 3e6,
                        samples: 60_000,
                        functions: vec![
                            function("(idle)", "", 1e6),
                            function("handler", "wasm://wasm/abc", 21_000.0),
                            function("a|b", "index.js", 5_000.0),
                        ],
                    },
                }],
            }),
            edge_size: Some(SizeBreakdown {
                top: "top\n".into(),
                by_crate: vec![CrateSize {
                    name: "cedar_policy_core".into(),
                    bytes: 500_000,
                }],
                dominators: "tree".into(),
                total: 2_500_000,
                names: 500_000,
            }),
            web_wasm: Some(Size {
                raw: 3_000_000,
                gzip: 1_050_000,
            }),
            web_engine: Some(Size {
                raw: 2_600_000,
                gzip: 950_000,
            }),
            first_paint: Some(FirstPaint {
                network: Network {
                    name: "Fast 4G".into(),
                    download_throughput: 1_012_500.0,
                    upload_throughput: 168_750.0,
                    latency: 165.0,
                },
                runs: 5,
                sign_in_ms: Spread {
                    median: 900.0,
                    min: 850.0,
                    max: 950.0,
                },
                claims_ms: Spread {
                    median: 1100.0,
                    min: 1000.0,
                    max: 1200.0,
                },
                matrix_ms: Spread {
                    median: 2000.0,
                    min: 1900.0,
                    max: 2100.0,
                },
                shell_transfer_bytes: 430_000,
                engine_transfer_bytes: 950_000,
            }),
            matrix: Some(Matrix {
                node: Some(matrix_run("v22.0.0")),
                chromium: Some(matrix_run("HeadlessChrome")),
            }),
        }
    }

    /// Every line of `text` that starts with `prefix`.
    fn rows<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn goals_are_judged_from_the_numbers() {
        let md = full().markdown();
        let goals = md.split("## Goals").nth(1).expect("a goals section");
        for row in [
            "| (a) new token per request: added cost ≤ ½ of jose + cedar-wasm's and ≤ the floor's + 100 µs | 300 µs: 0.75 of jose + cedar-wasm's 400 µs; the floor's 100 µs + 100 µs = 200 µs | not met |",
            "| (b) token reused: added cost ≤ ⅓ of jose + cedar-wasm's | 100 µs vs 400 µs = 0.25 | met |",
            "| (c) first request on a new isolate: ≤ ½ of jose + cedar-wasm's (cold start over the JS no-op) | 200 ms vs 150 ms = 1.33 | not met |",
            "| token reused: added cost below the caching JS peer's | 100 µs vs 150 µs | met |",
            "| fresh token: added cost ≤ 1.3 × the floor's | 300 µs vs 100 µs = 3.00 × | not met |",
            "| fresh token: added cost below jose + @cedar-policy/cedar-wasm (JS)'s | 300 µs vs 400 µs | met |",
            "| fresh token: added cost below jose + cedar-wasm + token cache (JS)'s | 300 µs vs 150 µs | not met |",
            "| token reused: added p50 on one connection < 0.1 ms | 0.050 ms | met |",
            "| fresh token: added p50 on one connection < 0.2 ms | 0.300 ms | not met |",
            "| (d) worker ≤ 700 KB gzipped (700,000 bytes) | 1.14 MiB (1200000 bytes) | not met |",
            "| cold start < 50 ms (over the JS no-op; spawn → first answer in all 300 ms) | 200 ms | not met |",
            "| (d) memory per isolate reported beside the peers' | 18.0 MiB per isolate; jose + cedar-wasm 2.0 MiB, with a token cache 2.0 MiB, the JS no-op 2.0 MiB | met |",
            "| browser app: matrix for a 50-action bundle < 5 ms (chromium) | 11.80 ms first, 1.060 ms repeated | first: not met; repeated: met |",
            "| browser app wasm size reported | 2.86 MiB raw, 1.00 MiB gzip | met |",
            "| (e) native full pipeline within 1.1 × a bare signature check | 1.20 × | not met |",
        ] {
            assert!(goals.contains(row), "missing goal row {row}\nin:\n{goals}");
        }
        assert_eq!(rows(goals, "| ").len(), 21, "{goals}");
        for row in [
            "| app: first paint needs ≤ 400 kB gzipped of wasm + JS | 1050 kB (the shell) | not met |",
            "| app: sign-in button ≤ 1.0 s (Fast 4G, cold) | 900 ms (median) | met |",
            "| app: claims ≤ 1.0 s after the callback | 1100 ms (median) | not met |",
            "| app: matrix ≤ 2.5 s after the callback | 2000 ms (median) | met |",
            "| app: the engine reported against Cedar's own floor | 950 kB gzip, 273 kB over the floor's 677 kB | met |",
        ] {
            assert!(goals.contains(row), "{row}\n{goals}");
        }
        assert!(!goals.contains("not measured"), "{goals}");

        // The same goals flip when the numbers do.
        let mut faster = full();
        for w in &mut faster.workers {
            if w.key == "cedargate-webcrypto" {
                w.fresh_tokens = Some(run(8000.0, 0.5));
                w.upload.gzip = 699_999;
            }
        }
        let md = faster.markdown();
        for row in [
            "| fresh token: added cost ≤ 1.3 × the floor's | 25 µs vs 100 µs = 0.25 × | met |",
            "| fresh token: added cost below jose + cedar-wasm + token cache (JS)'s | 25 µs vs 150 µs | met |",
            "| (d) worker ≤ 700 KB gzipped (700,000 bytes) | 0.67 MiB (699999 bytes) | met |",
        ] {
            assert!(md.contains(row), "missing goal row {row}\nin:\n{md}");
        }
    }

    #[test]
    fn the_tables_show_each_measurement() {
        let md = full().markdown();
        assert!(
            md.contains(
                "| cedargate, WebCrypto | 5000 | 100 µs | 0.15 ms | 0.30 ms | 0.05 ms | 0 |"
            ),
            "{md}"
        );
        assert!(md.contains("cedargate (WebCrypto) / floor: WebCrypto RS256 check only (JS): added cost ratio **4.00**."), "{md}");
        assert!(
            md.contains(
                "| route + Cedar decision (`Gate::decide`) | 12.3 µs | 17.0 µs | 54.0 µs |"
            ),
            "{md}"
        );
        assert!(md.contains("| authorize | — |"), "{md}");
        assert!(md.contains("in 7 fresh Node processes"), "{md}");
        assert!(
            md.contains("| compile the module | 20.0 (15.0 – 25.0) |"),
            "{md}"
        );
        assert!(md.contains("| instantiate it | 1.5 (1.0 – 2.0) |"), "{md}");
        assert!(
            md.contains("| set-up, first call | 70.0 (60.0 – 90.0) |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| new isolate: configuration, compiled bundle and trust set up (warm) | — | — | — |"
            ),
            "{md}"
        );
        assert!(md.contains("| whole pipeline, RS256 | 120.0 µs |"), "{md}");
        assert!(md.contains("| the worker's wasm | 21.0 µs |"), "{md}");
        assert!(
            md.contains("| `a\\|b` | glue (workers-rs, wasm-bindgen) | 5.0 |"),
            "{md}"
        );
        assert!(md.contains("| cedargate, WebCrypto | 60 ms | 300 ms | 200 ms | 18.0 MiB | 117.2 MiB | 19.5 MiB |"), "{md}");
        assert!(
            md.contains("| cedar_policy_core | 500000 | 25.0% |"),
            "{md}"
        );
        assert!(md.contains("| headless Chromium (30 samples × 10; timer step 0.005 ms) | 50 (23) | 11.80 ms | 1.060 ms | 1.000 – 1.500 ms | 160.0 ms | 14.00 ms |"), "{md}");
        assert!(
            md.contains("Natively (Criterion, opt-level 3, the same bundle): 900.0 µs."),
            "{md}"
        );
        assert!(
            md.contains("| sign-in button | 900 ms | 850 – 950 ms | ≤ 1.0 s |"),
            "{md}"
        );
        assert!(
            md.contains("| matrix after the callback | 2000 ms | 1900 – 2100 ms | ≤ 2.5 s |"),
            "{md}"
        );
        let headings = rows(&md, "#");
        assert_eq!(
            headings,
            [
                "# cedargate benchmarks",
                "## Native (Criterion, mean)",
                "## In workerd: one token reused",
                "## In workerd: a fresh token per request (10,000 tokens)",
                "## In workerd: shadow evaluation of a staged candidate",
                "## Where a request's time goes",
                "## Where the worker's own time goes (V8 CPU profile)",
                "## Start-up and size",
                "## Cold start and memory per isolate",
                "## The worker's size, broken down (twiggy)",
                "## The browser app",
                "### How long a person waits",
                "## Goals",
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&full().json()).expect("JSON");
        assert_eq!(
            json["workers"][2]["fresh_tokens"]["requests_per_second"],
            2500.0
        );
        assert_eq!(json["header"]["settings"]["rounds"], 1);
    }

    #[test]
    fn missing_measurements_are_shown_as_missing() {
        let mut report = full();
        report.native_ns.clear();
        report.stages = None;
        report.profile = None;
        report.edge_size = None;
        report.web_wasm = None;
        report.web_engine = None;
        report.first_paint = None;
        report.matrix = None;
        for w in &mut report.workers {
            if w.key == "cedargate-webcrypto" {
                *w = WorkerResult {
                    key: w.key.clone(),
                    label: w.label.clone(),
                    upload: w.upload,
                    ..WorkerResult::default()
                };
            }
        }
        let md = report.markdown();
        assert_eq!(
            rows(&md, "| cedargate, WebCrypto |"),
            [
                "| cedargate, WebCrypto | — | — | — | — | — | did not run |",
                "| cedargate, WebCrypto | — | — | — | — | — | did not run |",
                "| cedargate, WebCrypto | — | 2.86 MiB | 1.14 MiB | — |",
                "| cedargate, WebCrypto | — | — | — | — | — | — |",
            ]
        );
        assert!(
            md.contains("| RS256 signature check alone (the floor) | — |"),
            "{md}"
        );
        for said in [
            "The steps were not timed",
            "No profile was recorded",
            "twiggy did not run",
            "The matrix was not timed in wasm",
        ] {
            assert!(md.contains(said), "{said}\nin:\n{md}");
        }
        assert!(!md.contains("Browser app wasm:"), "{md}");
        assert!(!md.contains("added cost ratio"), "{md}");
        assert!(!md.contains("was not timed cold"), "{md}");

        // Steps timed, but not the cold set-up (an older run.mjs's output).
        let mut warm_only = full();
        if let Some(stages) = &mut warm_only.stages {
            stages.node.cold = None;
        }
        let warm_md = warm_only.markdown();
        assert!(
            warm_md.contains("A new isolate's set-up was not timed cold."),
            "{warm_md}"
        );
        assert!(!warm_md.contains("| set-up, first call |"), "{warm_md}");
        let older: NodeSteps =
            serde_json::from_str(r#"{"node": "v22.0.0", "steps": {}}"#).expect("older output");
        assert!(older.cold.is_none());
        let goals = md.split("## Goals").nth(1).expect("a goals section");
        for row in [
            "| (a) new token per request: added cost ≤ ½ of jose + cedar-wasm's and ≤ the floor's + 100 µs | — | not measured |",
            "| (b) token reused: added cost ≤ ⅓ of jose + cedar-wasm's | — | not measured |",
            "| (c) first request on a new isolate: ≤ ½ of jose + cedar-wasm's (cold start over the JS no-op) | — | not measured |",
            "| token reused: added cost below the caching JS peer's | — | not measured |",
            "| fresh token: added cost ≤ 1.3 × the floor's | — | not measured |",
            "| fresh token: added cost below jose + @cedar-policy/cedar-wasm (JS)'s | — | not measured |",
            "| token reused: added p50 on one connection < 0.1 ms | — | not measured |",
            "| (d) worker ≤ 700 KB gzipped (700,000 bytes) | 1.14 MiB (1200000 bytes) | not met |",
            "| cold start < 50 ms (over the JS no-op) | — | not measured |",
            "| (d) memory per isolate reported beside the peers' | — | not met |",
            "| browser app: matrix for a 50-action bundle < 5 ms | — | not measured |",
            "| browser app wasm size reported | — | not met |",
            "| app: first paint needs ≤ 400 kB gzipped of wasm + JS | — | not measured |",
            "| app: sign-in button ≤ 1.0 s (Fast 4G, cold) | — | not measured |",
            "| app: claims ≤ 1.0 s after the callback | — | not measured |",
            "| app: matrix ≤ 2.5 s after the callback | — | not measured |",
            "| app: the engine reported against Cedar's own floor | — | not met |",
            "| (e) native full pipeline within 1.1 × a bare signature check | — | not measured |",
        ] {
            assert!(goals.contains(row), "missing goal row {row}\nin:\n{goals}");
        }
        assert!(
            !goals.contains(" 0 µs") && !goals.contains(" 0 ms"),
            "{goals}"
        );

        // Without the no-op worker nothing is "added", and the edge's size is unknown.
        report.workers.retain(|w| w.key == "js-peer");
        let md = report.markdown();
        assert!(
            md.contains(
                "| jose + @cedar-policy/cedar-wasm (JS) | — | — | — | — | — | did not run |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| (d) worker ≤ 700 KB gzipped (700,000 bytes) | — | not measured |"),
            "{md}"
        );
    }

    /// A KV worker measured in three rounds: its req/s at 16 connections with one token and
    /// with fresh ones, per round.
    fn kv_worker(key: &str, percent: Option<u8>, one: [f64; 3], fresh: [f64; 3]) -> WorkerResult {
        let rounds = |rps: [f64; 3]| -> Vec<Run> {
            rps.iter()
                .zip(1..)
                .map(|(&rps, round)| Run {
                    round,
                    ..run(rps, 0.5)
                })
                .collect()
        };
        let mut w = worker(key, key, (one[1], 0.2), (fresh[1], 0.4));
        w.shadow_percent = percent;
        w.samples.one_token = rounds(one);
        w.samples.fresh_tokens = rounds(fresh);
        if percent.is_some() {
            w.samples.decision_changed = vec![12, 0, 7];
        }
        w
    }

    #[test]
    fn shadow_evaluation_is_measured_round_by_round_over_the_kv_baseline() {
        let mut report = full();
        report.header.settings.rounds = 3;
        let mut webcrypto = kv_worker(
            "cedargate-webcrypto",
            None,
            [5000.0, 5000.0, 5000.0],
            [2500.0, 2500.0, 2500.0],
        );
        webcrypto.label = "cedargate, WebCrypto".into();
        report.workers.retain(|w| w.key != "cedargate-webcrypto");
        report.workers.push(webcrypto);
        // 200, 250 and 125 µs a request with one token; 400 µs with fresh ones.
        report.workers.push(kv_worker(
            KV_BASELINE,
            None,
            [5000.0, 4000.0, 8000.0],
            [2500.0, 2500.0, 2500.0],
        ));
        // Over the baseline, round by round: 50, 0 and 75 µs; 100, 100 and 100 µs.
        report.workers.push(kv_worker(
            "cedargate-kv-shadow-100",
            Some(100),
            [4000.0, 4000.0, 5000.0],
            [2000.0, 2000.0, 2000.0],
        ));
        let md = report.markdown();
        let section = md
            .split("## In workerd: shadow evaluation of a staged candidate")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("a shadow section");
        for row in [
            "| no candidate: bundle from KV over the built-in bundle (cedargate, WebCrypto) | 0 µs | -75 – 50 µs | 0 µs | 0 – 0 µs | — |",
            "| shadow evaluation at 100 %: added per request over the KV baseline | 50 µs | 0 – 75 µs | 100 µs | 100 – 100 µs | 12, 0, 7 |",
            "Shadow evaluation of every request (100 %) adds **50 µs** per request with one token reused and **100 µs** with fresh tokens",
            "over 3 round(s)",
        ] {
            assert!(section.contains(row), "missing {row}\nin:\n{section}");
        }

        // A round one of them missed is left out, not paired with another.
        for w in &mut report.workers {
            if w.key == "cedargate-kv-shadow-100" {
                w.samples.one_token.remove(2);
            }
        }
        assert!(report.markdown().contains(
            "| shadow evaluation at 100 %: added per request over the KV baseline | 50 µs | 0 – 50 µs |"
        ));

        // Without the KV workers the section says so.
        report
            .workers
            .retain(|w| !w.key.starts_with("cedargate-kv"));
        let md = report.markdown();
        assert!(md.contains("Not measured (it needs `cedargate-kv`"), "{md}");
        assert!(!md.contains("Shadow evaluation of every request"), "{md}");
    }

    #[test]
    fn the_glue_and_the_todo_bundle_are_measured_round_by_round() {
        let mut report = full();
        report.header.settings.rounds = 3;
        // Over the synchronous no-op, round by round: 75, 40 and 100 µs with one token.
        report.workers.push(kv_worker(
            "rust-noop",
            None,
            [5000.0, 5000.0, 5000.0],
            [5000.0, 5000.0, 5000.0],
        ));
        report.workers.push(kv_worker(
            "rust-noop-sync",
            None,
            [8000.0, 6250.0, 10000.0],
            [8000.0, 8000.0, 8000.0],
        ));
        // Over the PetStore bundle from KV: 50, 50 and 100 µs with one token.
        report.workers.push(kv_worker(
            KV_BASELINE,
            None,
            [4000.0, 4000.0, 5000.0],
            [2000.0, 2000.0, 2000.0],
        ));
        report.workers.push(kv_worker(
            TODO_WORKER,
            None,
            [1e6 / 300.0, 1e6 / 300.0, 1e6 / 300.0],
            [2000.0, 2000.0, 2000.0],
        ));
        let md = report.markdown();
        let one = md
            .split("## In workerd: one token reused")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("the one-token section");
        for said in [
            "worker-build's shim and async glue: the Rust no-op adds 75 µs a request more than the synchronous core behind a hand-written entry (the median over rounds; 40 to 100 µs), of the Rust no-op's 100 µs added.",
            "The Todo bundle with its entity data: 50 µs a request over the PetStore bundle from KV (the median over rounds; 50 to 100 µs)",
            "JS peers write one JSON line per request",
        ] {
            assert!(one.contains(said), "missing {said}\nin:\n{one}");
        }
        assert!(!md.contains("Not headline figures"), "{md}");
        assert!(full().markdown().contains("**Not headline figures**"));
        assert!(
            full()
                .markdown()
                .contains("(the median of 1 round(s): not headline figures)")
        );
    }

    #[test]
    fn the_header_names_the_date_the_machine_and_the_command() {
        let md = full().markdown();
        assert!(md.starts_with(
            "# cedargate benchmarks\n\nProduced by `cargo xtask bench --quick` on 2026-12-07, on AMD EPYC 7B13, 2 cores, 23 GiB: 1 round(s) of 3 s per workload, 3 cold start(s) and 1 memory run(s) per worker.\n"
        ), "{md}");
        let mut report = full();
        report.header.date = None;
        report.header.machine = Machine {
            cpu: None,
            cores: None,
            memory_gib: None,
        };
        assert!(report.markdown().contains(
            "on an unknown date, on unknown CPU, an unknown number of cores, unknown memory:"
        ));
    }
}
