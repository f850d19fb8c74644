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

const STAGES: [&str; 11] = [
    "fmt",
    "clippy",
    "native",
    "fuzz",
    "wasm-node",
    "wasm-chrome",
    "edge-build",
    "edge",
    "web-build",
    "web-wasm",
    "browser",
];

fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(run::root());
    cmd
}

/// Runs commands in order; the stage passes when all succeed.
fn commands(cmds: Vec<Command>, prefix: &str) -> Result<String, String> {
    let mut text = String::new();
    for mut cmd in cmds {
        let out = run::run(&mut cmd, prefix)?;
        text.push_str(&out.text);
        if !out.success {
            return Err(format!("`{}` failed", run::describe(&cmd)));
        }
    }
    Ok(text)
}

fn wasm_pack(tools: &Tools, browser: bool, krate: &str) -> Command {
    let mut cmd = Command::new("wasm-pack");
    cmd.current_dir(run::root());
    cmd.arg("test");
    if browser {
        // Without this variable the browser run skips every test and still exits 0.
        cmd.env("WASM_BINDGEN_USE_BROWSER", "1");
        cmd.args(["--headless", "--chrome", "--chromedriver"]);
        cmd.arg(&tools.chromedriver);
    } else {
        cmd.arg("--node");
    }
    cmd.arg(krate);
    cmd
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut only: Option<Vec<String>> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--only" => {
                let list = rest.next().ok_or("--only needs a list of stages")?;
                let stages: Vec<String> = list.split(',').map(str::to_owned).collect();
                if let Some(unknown) = stages.iter().find(|s| !STAGES.contains(&s.as_str())) {
                    return Err(format!(
                        "unknown stage {unknown}; stages: {}",
                        STAGES.join(", ")
                    ));
                }
                only = Some(stages);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let wanted = |stage: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == stage));

    let started = Instant::now();
    println!("== setup");
    let setup_start = Instant::now();
    let tools = Tools::ensure()?;
    let mut results = vec![StageResult {
        name: "setup",
        ok: true,
        passed: None,
        elapsed: setup_start.elapsed(),
        note: format!("wasm-bindgen {}", tools.wasm_bindgen_version),
    }];

    let mut node_passed = None;
    for stage in STAGES {
        if !wanted(stage) {
            continue;
        }
        println!("\n== {stage}");
        let start = Instant::now();
        let prefix = "  | ";
        let outcome: Result<(Option<usize>, String), String> = match stage {
            "fmt" => commands(
                vec![{
                    let mut c = cargo();
                    c.args(["fmt", "--all", "--", "--check"]);
                    c
                }],
                prefix,
            )
            .map(|_| (None, String::new())),
            "clippy" => commands(
                vec![
                    {
                        let mut c = cargo();
                        c.args([
                            "clippy",
                            "--workspace",
                            "--all-targets",
                            "--",
                            "-D",
                            "warnings",
                        ]);
                        c
                    },
                    {
                        let mut c = cargo();
                        c.args([
                            "clippy",
                            "-p",
                            "cedargate",
                            "-p",
                            "cedargate-test-support",
                            "-p",
                            "cedargate-edge",
                            "-p",
                            "cedargate-web",
                            "--all-targets",
                            "--features",
                            "cedargate/webcrypto",
                            "--target",
                            "wasm32-unknown-unknown",
                            "--",
                            "-D",
                            "warnings",
                        ]);
                        c
                    },
                ],
                prefix,
            )
            .map(|_| (None, "native and wasm32".into())),
            "native" => commands(
                vec![{
                    let mut c = cargo();
                    c.args(["test", "--workspace", "--exclude", "cedargate-tests"]);
                    c
                }],
                prefix,
            )
            .and_then(|text| counted(&text, "native Rust")),
            "fuzz" => fuzz_stage(),
            "wasm-node" => commands(vec![wasm_pack(&tools, false, "shared")], prefix)
                .and_then(|text| counted(&text, "shared under Node"))
                .inspect(|(n, _)| node_passed = *n),
            "wasm-chrome" => {
                commands(vec![wasm_pack(&tools, true, "shared")], prefix).and_then(|text| {
                    if !text.contains("Running headless tests in Chrome") {
                        return Err("the tests did not run in Chrome".into());
                    }
                    let (passed, note) = counted(&text, "shared in headless Chromium")?;
                    match (passed, node_passed) {
                        (Some(c), Some(n)) if c != n => Err(format!(
                            "{c} tests passed in Chrome but {n} under Node: some did not run"
                        )),
                        _ => Ok((passed, note)),
                    }
                })
            }
            "edge-build" => crate::edge::build(&tools.node).map(|report| (None, report)),
            "edge" => commands(
                vec![{
                    let mut c = cargo();
                    c.args(["test", "-p", "cedargate-tests", "--test", "edge"]);
                    c.env("CEDARGATE_NODE", &tools.node.node);
                    c.env("CEDARGATE_WRANGLER", &tools.node.wrangler);
                    c
                }],
                prefix,
            )
            .and_then(|text| counted(&text, "edge worker in workerd")),
            "web-build" => crate::web::build(&tools.node).map(|report| (None, report)),
            "web-wasm" => commands(vec![wasm_pack(&tools, true, "web")], prefix).and_then(|text| {
                if !text.contains("Running headless tests in Chrome") {
                    return Err("the tests did not run in Chrome".into());
                }
                counted(&text, "browser app's tests in headless Chromium")
            }),
            "browser" => commands(
                vec![{
                    let mut c = Command::new(&tools.node.node);
                    c.current_dir(run::root());
                    c.args([
                        "--test",
                        "--test-reporter=tap",
                        "--test-concurrency=1",
                        "tests/browser/app.test.mjs",
                        "tests/browser/demo.test.mjs",
                    ]);
                    c
                }],
                prefix,
            )
            .and_then(|text| {
                counted(
                    &text,
                    "browser app and `cargo xtask demo` end to end in Chromium",
                )
            }),
            _ => Err(format!("unknown stage {stage}")),
        };
        let elapsed = start.elapsed();
        results.push(match outcome {
            Ok((passed, note)) => StageResult {
                name: stage,
                ok: true,
                passed,
                elapsed,
                note,
            },
            Err(note) => StageResult {
                name: stage,
                ok: false,
                passed: None,
                elapsed,
                note,
            },
        });
    }

    println!("\n== summary");
    println!(
        "{:<12} {:<6} {:>7} {:>9}  note",
        "stage", "result", "passed", "time"
    );
    for r in &results {
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
        started.elapsed().as_secs_f64() / 60.0
    );
    let failed: Vec<&str> = results.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed stages: {}", failed.join(", ")))
    }
}

/// Seconds each fuzz target runs in `cargo xtask test`; `cargo xtask fuzz` runs longer.
const FUZZ_SECONDS: u64 = 15;

/// A short run of every fuzz target; a target that ran without finding anything counts as
/// a passed test.
fn fuzz_stage() -> Result<(Option<usize>, String), String> {
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
fn counted(text: &str, what: &str) -> Result<(Option<usize>, String), String> {
    let (passed, failed) = test_counts(text);
    if failed > 0 {
        return Err(format!("{failed} tests failed"));
    }
    if passed == 0 {
        return Err(format!("no test ran ({what})"));
    }
    Ok((Some(passed), what.to_owned()))
}
