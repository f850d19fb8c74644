//! `cargo xtask test`: every check and test, in order, with a summary.

use crate::run::{self, test_counts};
use crate::tools::Tools;
use std::process::Command;
use std::time::{Duration, Instant};

struct StageResult {
    name: &'static str,
    ok: bool,
    passed: Option<usize>,
    elapsed: Duration,
    note: String,
}

/// What a stage proved: how many tests passed (when it counts tests) and a note; an error
/// fails the stage.
type Outcome = Result<(Option<usize>, String), String>;

/// What the stages share.
struct Context {
    tools: Tools,
    /// How many tests passed under Node, which the run in Chrome must match.
    node_passed: Option<usize>,
}

/// Runs one stage.
type Stage = fn(&mut Context) -> Outcome;

/// The stages, in order.
const STAGES: [(&str, Stage); 12] = [
    ("fmt", fmt_stage),
    ("docs", |_| {
        crate::docs::check_and_build(true).map(|report| (None, report))
    }),
    ("clippy", clippy_stage),
    ("native", native_stage),
    ("fuzz", |_| fuzz_stage()),
    ("wasm-node", wasm_node_stage),
    ("wasm-chrome", wasm_chrome_stage),
    ("edge-build", |cx| {
        let report = crate::edge::build(&cx.tools.node)?;
        let deploy = crate::edge::deploy_dry_run(&cx.tools.node)?;
        let access = crate::edge::build_with_bundle(&cx.tools.node, "petstore-access", "access")?;
        let authzen = crate::edge::build_with_bundle(&cx.tools.node, "authzen-todo", "authzen")?;
        Ok((None, format!("{report}; {deploy}; {access}; {authzen}")))
    }),
    ("edge", edge_stage),
    ("web-build", |cx| {
        crate::web::build(&cx.tools.node).map(|report| (None, report))
    }),
    ("web-wasm", web_wasm_stage),
    ("browser", browser_stage),
];

/// How each line of a command's output is shown.
const PREFIX: &str = "  | ";

pub fn run(args: &[String]) -> Result<(), String> {
    let only = parse_only(args)?;
    let wanted = |stage: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == stage));

    let started = Instant::now();
    let (tools, setup) = setup()?;
    let mut results = vec![setup];
    let mut cx = Context {
        tools,
        node_passed: None,
    };
    for (stage, run_stage) in STAGES {
        if !wanted(stage) {
            continue;
        }
        println!("\n== {stage}");
        let start = Instant::now();
        let outcome = run_stage(&mut cx);
        results.push(StageResult::new(stage, outcome, start.elapsed()));
    }

    print_summary(&results, started.elapsed());
    let failed: Vec<&str> = results.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed stages: {}", failed.join(", ")))
    }
}

/// The stages `--only` names, or `None` for all of them.
fn parse_only(args: &[String]) -> Result<Option<Vec<String>>, String> {
    let mut only = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--only" => {
                let list = rest.next().ok_or("--only needs a list of stages")?;
                let stages: Vec<String> = list.split(',').map(str::to_owned).collect();
                let known = |s: &String| STAGES.iter().any(|(name, _)| name == s);
                if let Some(unknown) = stages.iter().find(|s| !known(s)) {
                    let names: Vec<&str> = STAGES.iter().map(|(name, _)| *name).collect();
                    return Err(format!(
                        "unknown stage {unknown}; stages: {}",
                        names.join(", ")
                    ));
                }
                only = Some(stages);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(only)
}

/// Installs what is missing; the set-up's line of the summary.
fn setup() -> Result<(Tools, StageResult), String> {
    println!("== setup");
    let start = Instant::now();
    let tools = Tools::ensure()?;
    let result = StageResult {
        name: "setup",
        ok: true,
        passed: None,
        elapsed: start.elapsed(),
        note: format!("wasm-bindgen {}", tools.wasm_bindgen_version),
    };
    Ok((tools, result))
}

impl StageResult {
    fn new(name: &'static str, outcome: Outcome, elapsed: Duration) -> Self {
        match outcome {
            Ok((passed, note)) => Self {
                name,
                ok: true,
                passed,
                elapsed,
                note,
            },
            Err(note) => Self {
                name,
                ok: false,
                passed: None,
                elapsed,
                note,
            },
        }
    }
}

fn print_summary(results: &[StageResult], elapsed: Duration) {
    println!("\n== summary");
    println!(
        "{:<12} {:<6} {:>7} {:>9}  note",
        "stage", "result", "passed", "time"
    );
    for r in results {
        println!(
            "{:<12} {:<6} {:>7} {:>8.1}s  {}",
            r.name,
            if r.ok { "ok" } else { "FAILED" },
            r.passed
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            r.elapsed.as_secs_f64(),
            r.note
        );
    }
    let total: usize = results.iter().filter_map(|r| r.passed).sum();
    println!(
        "{} tests passed in {:.1} min",
        total,
        elapsed.as_secs_f64() / 60.0
    );
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(run::root());
    cmd.args(args);
    cmd
}

/// Runs commands in order; the stage passes when all succeed.
fn commands(cmds: Vec<Command>) -> Result<String, String> {
    let mut text = String::new();
    for mut cmd in cmds {
        let out = run::run(&mut cmd, PREFIX)?;
        text.push_str(&out.text);
        if !out.success {
            let failed = run::failed_tests(&out.text, 3);
            let which = if failed.is_empty() {
                String::new()
            } else {
                format!(": {}", failed.join("; "))
            };
            return Err(format!("`{}` failed{which}", run::describe(&cmd)));
        }
    }
    Ok(text)
}

fn fmt_stage(_: &mut Context) -> Outcome {
    commands(vec![cargo(&["fmt", "--all", "--", "--check"])]).map(|_| (None, String::new()))
}

fn clippy_stage(_: &mut Context) -> Outcome {
    let native = cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    let wasm = cargo(&[
        "clippy",
        "-p",
        "cedargate",
        "-p",
        "cedargate-test-support",
        "-p",
        "cedargate-edge",
        "-p",
        "cedargate-web",
        "-p",
        "cedargate-bench-rust-noop",
        "-p",
        "cedargate-bench-matrix",
        "-p",
        "cedargate-bench-stages",
        "--all-targets",
        "--features",
        "cedargate/webcrypto",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]);
    commands(vec![native, wasm]).map(|_| (None, "native and wasm32".into()))
}

fn native_stage(_: &mut Context) -> Outcome {
    let test = cargo(&["test", "--workspace", "--exclude", "cedargate-tests"]);
    commands(vec![test]).and_then(|text| counted(&text, "native Rust"))
}

/// Where `wasm-pack test` runs the tests.
#[derive(Clone, Copy)]
enum WasmRunner {
    Node,
    HeadlessChrome,
}

fn wasm_pack(tools: &Tools, runner: WasmRunner, krate: &str) -> Command {
    let mut cmd = Command::new("wasm-pack");
    cmd.current_dir(run::root());
    cmd.arg("test");
    match runner {
        WasmRunner::HeadlessChrome => {
            // Without this variable the browser run skips every test and still exits 0.
            cmd.env("WASM_BINDGEN_USE_BROWSER", "1");
            // The runner gives a test file 20 s by default; the Wycheproof file, every vector
            // through both backends in a debug build, takes about 30 s in Chromium here.
            cmd.env("WASM_BINDGEN_TEST_TIMEOUT", "300");
            cmd.args(["--headless", "--chrome", "--chromedriver"]);
            cmd.arg(&tools.chromedriver);
        }
        WasmRunner::Node => {
            cmd.arg("--node");
        }
    }
    cmd.arg(krate);
    cmd
}

/// The output of a run in Chrome, or an error when the tests did not run there.
fn ran_in_chrome(text: String) -> Result<String, String> {
    if text.contains("Running headless tests in Chrome") {
        Ok(text)
    } else {
        Err("the tests did not run in Chrome".into())
    }
}

fn wasm_node_stage(cx: &mut Context) -> Outcome {
    let outcome = commands(vec![wasm_pack(&cx.tools, WasmRunner::Node, "shared")])
        .and_then(|text| counted(&text, "shared under Node"));
    if let Ok((passed, _)) = &outcome {
        cx.node_passed = *passed;
    }
    outcome
}

fn wasm_chrome_stage(cx: &mut Context) -> Outcome {
    let text = commands(vec![wasm_pack(
        &cx.tools,
        WasmRunner::HeadlessChrome,
        "shared",
    )])
    .and_then(ran_in_chrome)?;
    let (passed, note) = counted(&text, "shared in headless Chromium")?;
    match (passed, cx.node_passed) {
        (Some(c), Some(n)) if c != n => Err(format!(
            "{c} tests passed in Chrome but {n} under Node: some did not run"
        )),
        _ => Ok((passed, note)),
    }
}

fn edge_stage(cx: &mut Context) -> Outcome {
    let mut test = cargo(&["test", "-p", "cedargate-tests", "--test", "edge"]);
    test.env("CEDARGATE_NODE", &cx.tools.node.node);
    test.env("CEDARGATE_WRANGLER", &cx.tools.node.wrangler);
    commands(vec![test]).and_then(|text| counted(&text, "edge worker in workerd"))
}

fn web_wasm_stage(cx: &mut Context) -> Outcome {
    commands(vec![wasm_pack(
        &cx.tools,
        WasmRunner::HeadlessChrome,
        "web",
    )])
    .and_then(ran_in_chrome)
    .and_then(|text| counted(&text, "browser app's tests in headless Chromium"))
}

fn browser_stage(cx: &mut Context) -> Outcome {
    let mut node = Command::new(&cx.tools.node.node);
    node.current_dir(run::root());
    node.args([
        "--test",
        "--test-reporter=tap",
        "--test-concurrency=1",
        "tests/demo/assertion.test.mjs",
        "tests/browser/app.test.mjs",
        "tests/browser/step-up.test.mjs",
        "tests/browser/session.test.mjs",
        "tests/browser/demo.test.mjs",
    ]);
    commands(vec![node]).and_then(|text| {
        counted(
            &text,
            "browser app and `cargo xtask demo` end to end in Chromium",
        )
    })
}

/// Seconds each fuzz target runs in `cargo xtask test`; `cargo xtask fuzz` runs longer.
const FUZZ_SECONDS: u64 = 15;

/// A short run of every fuzz target; a target that ran without finding anything counts as
/// a passed test.
fn fuzz_stage() -> Outcome {
    let targets: Vec<&'static str> = crate::fuzz::TARGETS.iter().map(|(t, _)| *t).collect();
    let runs = crate::fuzz::fuzz(&targets, FUZZ_SECONDS)?;
    println!("{}", crate::fuzz::report(&runs));
    crate::fuzz::check(&runs)?;
    let executions: u64 = runs.iter().filter_map(|r| r.executions).sum();
    if executions == 0 {
        return Err("the fuzz targets executed no input".into());
    }
    Ok((
        Some(runs.len()),
        format!(
            "{} targets x {FUZZ_SECONDS} s, {executions} inputs",
            runs.len()
        ),
    ))
}

/// Passed-test count of a stage; a stage that ran no test has not proven anything.
fn counted(text: &str, what: &str) -> Outcome {
    let (passed, failed) = test_counts(text);
    if failed > 0 {
        let names = run::failed_tests(text, 3);
        let which = if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join("; "))
        };
        return Err(format!("{failed} tests failed{which}"));
    }
    if passed == 0 {
        return Err(format!("no test ran ({what})"));
    }
    Ok((Some(passed), what.to_owned()))
}
