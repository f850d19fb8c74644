//! Measurements inside wasm: each step of the request path alone (under Node and in
//! workerd), the browser app's matrix (under Node and in Chromium), and a V8 CPU profile of
//! the cedargate worker under load.

use crate::measure::{Worker, wrk, wrk_once};
use crate::report::{
    CpuProfile, Matrix, NodeSteps, Profile, ProfiledWorkload, Spread, Stages, WorkerdStep,
};
use cedargate_tests::workerd::{Module, Workerd};
use cedargate_tests::{http, root};
use serde::Deserialize;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Pairs of requests (the step once, and not at all) behind each step's "once per request".
pub const ONCE_PAIRS: usize = 401;

/// The browser app's matrix, timed in wasm (`tests/bench/matrix-wasm/run.mjs`): under Node,
/// and in Chromium when it is installed.
pub fn matrix_in_wasm(node: &Path) -> Option<Matrix> {
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
    serde_json::from_slice(&out.stdout)
        .map_err(|e| eprintln!("[bench] unreadable output of the matrix run: {e}"))
        .ok()
}

/// A step the stages worker lists (`GET /steps`).
#[derive(Debug, Deserialize)]
struct Step {
    name: String,
    batch: u64,
}

/// Each step of the edge's request path alone (`tests/bench/stages-wasm`): under Node
/// (`run.mjs`, timed inside), and in workerd (`worker.mjs`), where the clock does not move
/// during a request, so each step is timed from here: the median over rounds of a request
/// running it `batch` times, less a request running it 0 times, divided by `batch`.
pub fn stages_in_wasm(node: &Path) -> Option<Stages> {
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
    let in_node: NodeSteps = serde_json::from_slice(&out.stdout)
        .map_err(|e| eprintln!("[bench] unreadable output of the steps' run under Node: {e}"))
        .ok()?;

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
    let steps: Vec<Step> = match http::get(&w.url("/steps"), &[]) {
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
    let mut in_workerd = Vec::new();
    for Step { name, batch } in steps {
        // Warm-up (the engine's optimizing tier), then rounds of (batch − empty) / batch.
        timed(&name, batch)?;
        let mut samples = Vec::new();
        for _ in 0..15 {
            let empty = timed(&name, 0)?;
            let full = timed(&name, batch)?;
            samples.push((full - empty) / batch as f64);
        }
        samples.sort_by(f64::total_cmp);
        // Once per request, as the worker runs each step: a request running it once against
        // one running it 0 times, interleaved, the median of many such pairs (a single
        // request's time varies by tens of µs).
        let mut once = Vec::new();
        for _ in 0..ONCE_PAIRS {
            let empty = timed(&name, 0)?;
            let one = timed(&name, 1)?;
            once.push(one - empty);
        }
        once.sort_by(f64::total_cmp);
        in_workerd.push(WorkerdStep {
            name,
            in_batch: Spread {
                median: samples[samples.len() / 2],
                min: samples[0],
                max: samples[samples.len() - 1],
            },
            once: once[once.len() / 2],
        });
    }
    Some(Stages {
        node: in_node,
        workerd: in_workerd,
    })
}

/// A V8 CPU profile of `worker` under each workload (`(label, tokens file)`, 16
/// connections, `seconds` after a warm-up), through workerd's inspector and
/// `tests/bench/profile/profile.mjs`. With `names`, the worker's wasm is that copy (the same
/// code with its names section), so wasm functions are named. Per workload: the requests
/// answered while recording and the self time per function.
pub fn profile_worker(
    worker: &Worker,
    names: Option<&Path>,
    workloads: &[(&str, &Path)],
    seconds: u64,
    node: &Path,
) -> Option<Profile> {
    let modules: Vec<Module> = worker
        .modules
        .iter()
        .map(|m| match (m, names) {
            (Module::Wasm(name, _), Some(named)) => Module::Wasm(name.clone(), named.to_owned()),
            (other, _) => other.clone(),
        })
        .collect();
    let mut out = Vec::new();
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
        let profile: CpuProfile = match serde_json::from_slice(&recorded.stdout) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("[bench] the CPU profile could not be recorded");
                return None;
            }
        };
        let run = load?;
        out.push(ProfiledWorkload {
            label: (*label).to_owned(),
            requests: run.requests,
            seconds,
            profile,
        });
    }
    Some(Profile { workloads: out })
}
