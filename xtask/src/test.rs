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
    /// `--filter`: what each stage narrows its work to (see [`FILTERS`]).
    filter: Option<String>,
}

/// Runs one stage.
type Stage = fn(&mut Context) -> Outcome;

/// The stages, in order.
const STAGES: [(&str, Stage); 12] = [
    ("fmt", fmt_stage),
    ("docs", docs_stage),
    ("clippy", clippy_stage),
    ("native", native_stage),
    ("fuzz", fuzz_stage),
    ("wasm-node", wasm_node_stage),
    ("wasm-chrome", wasm_chrome_stage),
    ("edge-build", edge_build_stage),
    ("edge", edge_stage),
    ("web-build", |cx| {
        let report = crate::web::build(&cx.tools.node)?;
        Ok((None, format!("{report}{}", note_suffix(&whole(cx)))))
    }),
    ("web-wasm", web_wasm_stage),
    ("browser", browser_stage),
];

/// What `--filter TEXT` does in each stage, as `cargo xtask help` and the contributing
/// guide say it. A stage without tests to pick runs whole and says so in its note.
pub const FILTERS: [(&str, &str); 12] = [
    (
        "fmt",
        "none: the whole workspace is checked (in about a second)",
    ),
    (
        "docs",
        "none: the whole book is checked (in about a second)",
    ),
    (
        "clippy",
        "the packages whose name contains TEXT (all when none does)",
    ),
    (
        "native",
        "the tests whose name contains TEXT (`cargo test -- TEXT`)",
    ),
    ("fuzz", "the fuzz targets whose name contains TEXT"),
    ("wasm-node", "the tests whose name contains TEXT"),
    ("wasm-chrome", "the tests whose name contains TEXT"),
    (
        "edge-build",
        "the workers whose name contains TEXT (all when none does): `petstore` (edge/build), \
         `access`, `authzen`, `authzen-cert`, `authzen-search`",
    ),
    ("edge", "the checks whose `suite::check` name contains TEXT"),
    ("web-build", "none: there is one app to build"),
    ("web-wasm", "the tests whose name contains TEXT"),
    (
        "browser",
        "the files and tests whose name contains TEXT (`node --test-name-pattern`)",
    ),
];

/// How each line of a command's output is shown.
const PREFIX: &str = "  | ";

/// The command line of `cargo xtask test`.
#[derive(Debug, Default, PartialEq)]
struct Options {
    /// `--only`: the stages to run, or all of them.
    only: Option<Vec<String>>,
    /// `--filter`: what each stage narrows its work to.
    filter: Option<String>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let Options { only, filter } = parse_options(args)?;
    let wanted = |stage: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == stage));

    let started = Instant::now();
    let (tools, setup) = setup()?;
    let mut results = vec![setup];
    let mut cx = Context {
        tools,
        node_passed: None,
        filter,
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

/// `--only STAGE,STAGE` and `--filter TEXT`.
fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
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
                options.only = Some(stages);
            }
            "--filter" => {
                let text = rest.next().filter(|t| !t.is_empty());
                options.filter = Some(text.ok_or("--filter needs a text to look for")?.clone());
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
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

/// The note of a stage that `--filter` does not narrow.
fn whole(cx: &Context) -> String {
    if cx.filter.is_some() {
        "the filter does not apply here: all of it ran".into()
    } else {
        String::new()
    }
}

fn fmt_stage(cx: &mut Context) -> Outcome {
    commands(vec![cargo(&["fmt", "--all", "--", "--check"])]).map(|_| (None, whole(cx)))
}

fn docs_stage(cx: &mut Context) -> Outcome {
    let report = crate::docs::check_and_build(true)?;
    Ok((None, format!("{report}{}", note_suffix(&whole(cx)))))
}

/// `; note`, or nothing for an empty note.
fn note_suffix(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!("; {note}")
    }
}

/// The workspace's packages, natively.
const PACKAGES: [&str; 11] = [
    "cedargate",
    "cedargate-test-support",
    "cedargate-edge",
    "cedargate-web",
    "cedargate-web-engine",
    "cedargate-cli",
    "cedargate-tests",
    "xtask",
    "cedargate-bench-rust-noop",
    "cedargate-bench-matrix",
    "cedargate-bench-stages",
];

/// The packages that are also checked for wasm32.
const WASM_PACKAGES: [&str; 8] = [
    "cedargate",
    "cedargate-test-support",
    "cedargate-edge",
    "cedargate-web",
    "cedargate-web-engine",
    "cedargate-bench-rust-noop",
    "cedargate-bench-matrix",
    "cedargate-bench-stages",
];

/// `names` that contain `filter` (all of them without one).
fn picked<'a>(names: &[&'a str], filter: Option<&str>) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|p| filter.is_none_or(|f| p.contains(f)))
        .collect()
}

/// What a build or lint stage works on: the `names` that contain `filter` when it names any,
/// else all of them, with a note saying so. One filter serves several stages
/// (`--only edge-build,edge --filter kv_` builds every worker and runs the `kv_` checks).
fn narrowed<'a>(names: &[&'a str], filter: Option<&str>) -> (Vec<&'a str>, String) {
    let some = picked(names, filter);
    if some.is_empty() {
        (
            names.to_vec(),
            "the filter names none of them: all of them".into(),
        )
    } else {
        (some, String::new())
    }
}

fn clippy_stage(cx: &mut Context) -> Outcome {
    let filter = cx.filter.as_deref();
    let (native, note) = narrowed(&PACKAGES, filter);
    let wasm: Vec<&str> = WASM_PACKAGES
        .iter()
        .copied()
        .filter(|p| native.contains(p))
        .collect();
    let mut cmds = Vec::new();
    let mut lint = |packages: &[&str], wasm: bool| {
        let mut cmd = cargo(&["clippy"]);
        if packages.len() == PACKAGES.len() {
            cmd.arg("--workspace");
        } else {
            for p in packages {
                cmd.args(["-p", p]);
            }
        }
        cmd.arg("--all-targets");
        if wasm {
            if packages.contains(&"cedargate") {
                cmd.args(["--features", "cedargate/webcrypto"]);
            }
            cmd.args(["--target", "wasm32-unknown-unknown"]);
        }
        cmd.args(["--", "-D", "warnings"]);
        cmds.push(cmd);
    };
    lint(&native, false);
    if !wasm.is_empty() {
        lint(&wasm, true);
    }
    commands(cmds).map(|_| {
        (
            None,
            format!(
                "{} packages natively, {} for wasm32{}",
                native.len(),
                wasm.len(),
                note_suffix(&note)
            ),
        )
    })
}

/// `--filter`'s text after `--`, for a libtest-like runner.
fn with_filter(mut cmd: Command, filter: Option<&str>) -> Command {
    if let Some(text) = filter {
        cmd.args(["--", text]);
    }
    cmd
}

fn native_stage(cx: &mut Context) -> Outcome {
    let filter = cx.filter.as_deref();
    let test = cargo(&["test", "--workspace", "--exclude", "cedargate-tests"]);
    // The test crate's own unit tests (its check runner, the bench report's rendering, the
    // soak's judging of decision_changed lines); its workerd suites are the edge stage.
    let harness = cargo(&[
        "test",
        "-p",
        "cedargate-tests",
        "--lib",
        "--bin",
        "bench",
        "--bin",
        "soak",
    ]);
    commands(vec![
        with_filter(test, filter),
        with_filter(harness, filter),
    ])
    .and_then(|text| counted(&text, "native Rust"))
}

/// Where `wasm-pack test` runs the tests.
#[derive(Clone, Copy)]
enum WasmRunner {
    Node,
    HeadlessChrome,
}

fn wasm_pack(cx: &Context, runner: WasmRunner, krate: &str) -> Command {
    let tools = &cx.tools;
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
    // wasm-pack hands what follows `--` to the test runner, which takes it as a filter.
    if let Some(text) = &cx.filter {
        cmd.args(["--", text]);
    }
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
    let outcome = commands(vec![wasm_pack(cx, WasmRunner::Node, "shared")])
        .and_then(|text| counted(&text, "shared under Node"));
    if let Ok((passed, _)) = &outcome {
        cx.node_passed = *passed;
    }
    outcome
}

fn wasm_chrome_stage(cx: &mut Context) -> Outcome {
    let text = commands(vec![wasm_pack(cx, WasmRunner::HeadlessChrome, "shared")])
        .and_then(ran_in_chrome)?;
    let (passed, note) = counted(&text, "shared in headless Chromium")?;
    match (passed, cx.node_passed) {
        (Some(c), Some(n)) if c != n => Err(format!(
            "{c} tests passed in Chrome but {n} under Node: some did not run"
        )),
        _ => Ok((passed, note)),
    }
}

/// The workers the edge stage builds: a name for `--filter`, and the policy folder and
/// output name of a fixture worker (`None` for `edge/build`, the one that ships).
const WORKERS: [(&str, Option<(&str, &str)>); 5] = [
    ("petstore", None),
    ("access", Some(("petstore-access", "access"))),
    ("authzen", Some(("authzen-todo", "authzen"))),
    ("authzen-cert", Some(("authzen-cert", "authzen-cert"))),
    ("authzen-search", Some(("authzen-search", "authzen-search"))),
];

fn edge_build_stage(cx: &mut Context) -> Outcome {
    let node = &cx.tools.node;
    let names: Vec<&str> = WORKERS.iter().map(|(n, _)| *n).collect();
    let (wanted, note) = narrowed(&names, cx.filter.as_deref());
    let mut notes = Vec::new();
    for (name, fixture) in WORKERS {
        if !wanted.contains(&name) {
            continue;
        }
        match fixture {
            None => {
                notes.push(crate::edge::build(node)?);
                notes.push(crate::edge::deploy_dry_run(node)?);
            }
            Some((bundle, out)) => notes.push(crate::edge::build_with_bundle(node, bundle, out)?),
        }
    }
    if !note.is_empty() {
        notes.push(note);
    }
    Ok((None, notes.join("; ")))
}

fn edge_stage(cx: &mut Context) -> Outcome {
    let mut test = cargo(&["test", "-p", "cedargate-tests", "--test", "edge"]);
    test.env("CEDARGATE_NODE", &cx.tools.node.node);
    test.env("CEDARGATE_WRANGLER", &cx.tools.node.wrangler);
    commands(vec![with_filter(test, cx.filter.as_deref())])
        .and_then(|text| counted(&text, "edge worker in workerd"))
}

fn web_wasm_stage(cx: &mut Context) -> Outcome {
    commands(vec![wasm_pack(cx, WasmRunner::HeadlessChrome, "web")])
        .and_then(ran_in_chrome)
        .and_then(|text| counted(&text, "browser app's tests in headless Chromium"))
}

fn browser_stage(cx: &mut Context) -> Outcome {
    let mut node = Command::new(&cx.tools.node.node);
    node.current_dir(run::root());
    // Two files at a time: each starts its own provider, worker, origin and browser on ports
    // of its own, and most of their time is spent waiting on them.
    node.args(["--test", "--test-reporter=tap", "--test-concurrency=2"]);
    // The longest first, so the two lanes end close together.
    let files = [
        "tests/browser/session.test.mjs",
        "tests/browser/demo.test.mjs",
        "tests/browser/step-up.test.mjs",
        "tests/browser/app.test.mjs",
        "tests/browser/staged.test.mjs",
        "tests/browser/both-tokens.test.mjs",
        "tests/demo/assertion.test.mjs",
        "tests/demo/options.test.mjs",
        "tests/demo/stack.test.mjs",
        "tests/entry/entry.test.mjs",
    ];
    match &cx.filter {
        // A file whose name contains the text runs whole; otherwise the text picks tests
        // by name in every file.
        Some(text) if files.iter().any(|f| f.contains(text.as_str())) => {
            node.args(files.iter().filter(|f| f.contains(text.as_str())));
        }
        Some(text) => {
            node.arg(format!("--test-name-pattern={}", regex_escape(text)));
            node.args(files);
        }
        None => {
            node.args(files);
        }
    }
    commands(vec![node]).and_then(|text| {
        counted(
            &text,
            "browser app and `cargo xtask demo` end to end in Chromium",
        )
    })
}

/// `text` with the characters a JavaScript regular expression gives a meaning escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Seconds each fuzz target runs in `cargo xtask test`; `cargo xtask fuzz` runs longer.
const FUZZ_SECONDS: u64 = 15;

/// A short run of every fuzz target; a target that ran without finding anything counts as
/// a passed test.
fn fuzz_stage(cx: &mut Context) -> Outcome {
    let targets: Vec<&'static str> = crate::fuzz::TARGETS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| cx.filter.as_deref().is_none_or(|f| t.contains(f)))
        .collect();
    if targets.is_empty() {
        let names: Vec<&str> = crate::fuzz::TARGETS.iter().map(|(t, _)| *t).collect();
        return Err(format!(
            "no fuzz target's name contains the filter; targets: {}",
            names.join(", ")
        ));
    }
    let runs = crate::fuzz::fuzz(&targets, FUZZ_SECONDS, crate::fuzz::Build::Dev)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn options_name_stages_and_a_filter() {
        assert_eq!(parse_options(&[]), Ok(Options::default()));
        assert_eq!(
            parse_options(&args(&["--only", "edge,browser", "--filter", "kv_"])),
            Ok(Options {
                only: Some(vec!["edge".into(), "browser".into()]),
                filter: Some("kv_".into()),
            })
        );
        assert!(parse_options(&args(&["--only", "edges"])).is_err());
        assert!(parse_options(&args(&["--filter"])).is_err());
        assert!(parse_options(&args(&["--filter", ""])).is_err());
        assert!(parse_options(&args(&["kv_"])).is_err());
    }

    #[test]
    fn every_stage_says_what_its_filter_does() {
        let stages: Vec<&str> = STAGES.iter().map(|(name, _)| *name).collect();
        let described: Vec<&str> = FILTERS.iter().map(|(name, _)| *name).collect();
        assert_eq!(stages, described);
    }

    #[test]
    fn a_filter_picks_packages_by_name() {
        assert_eq!(picked(&PACKAGES, None).len(), PACKAGES.len());
        assert_eq!(
            picked(&PACKAGES, Some("edge")),
            ["cedargate-edge"],
            "one package"
        );
        assert_eq!(
            picked(&WASM_PACKAGES, Some("bench")),
            [
                "cedargate-bench-rust-noop",
                "cedargate-bench-matrix",
                "cedargate-bench-stages"
            ]
        );
        assert!(picked(&WASM_PACKAGES, Some("xtask")).is_empty());
    }

    #[test]
    fn a_filter_naming_no_worker_or_package_builds_them_all() {
        let workers = ["petstore", "access", "authzen"];
        assert_eq!(
            narrowed(&workers, Some("access")),
            (vec!["access"], String::new())
        );
        let (all, note) = narrowed(&workers, Some("kv_"));
        assert_eq!(all, workers);
        assert!(note.contains("all of them"), "{note}");
        assert_eq!(narrowed(&workers, None), (workers.to_vec(), String::new()));
    }

    #[test]
    fn browser_filters_are_literal_patterns() {
        assert_eq!(regex_escape("sign-in (390 px)"), "sign-in \\(390 px\\)");
        assert_eq!(regex_escape("a.b*c"), "a\\.b\\*c");
    }
}
