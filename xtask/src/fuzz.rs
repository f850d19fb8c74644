//! `cargo xtask fuzz`: runs each cargo-fuzz target, saves what it finds as regression
//! inputs for the normal tests, and reports.

use crate::run;
use crate::tools;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The fuzz targets of `fuzz/` and the largest input each is given (the token parser's a
/// little over the 16 KiB size limit, so the limit itself is exercised).
pub const TARGETS: [(&str, usize); 4] = [
    ("token_parser", 17 * 1024),
    ("jwks_parser", 8 * 1024),
    ("path_matcher", 4 * 1024),
    ("claim_mapper", 4 * 1024),
];

/// Where saved inputs live: the seeds, and every crash found, replayed by
/// `shared/tests/fuzz_replay.rs`.
fn saved_dir(target: &str) -> PathBuf {
    run::root().join("shared/tests/data/fuzz").join(target)
}

/// How the targets are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Optimized (cargo-fuzz's default, with debug assertions): for fuzzing campaigns,
    /// `cargo xtask fuzz`.
    Release,
    /// Unoptimized (`--dev`): half the build time and about a third of the speed, for the
    /// short runs of `cargo xtask test`, where the build is most of the stage's time.
    Dev,
}

impl Build {
    /// cargo-fuzz's flags for this build. Release is its default: an explicit `--release`
    /// would turn the debug assertions off.
    fn flags(self) -> &'static [&'static str] {
        match self {
            Build::Release => &[],
            Build::Dev => &["--dev"],
        }
    }
}

/// One target's run.
pub struct TargetRun {
    pub target: &'static str,
    pub seconds: u64,
    pub executions: Option<u64>,
    pub corpus: usize,
    /// Inputs that broke a property, now saved under `shared/tests/data/fuzz/<target>/`.
    pub found: Vec<PathBuf>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut minutes: f64 = 1.0;
    let mut only: Option<String> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--minutes" => {
                minutes = rest
                    .next()
                    .and_then(|m| m.parse().ok())
                    .filter(|m: &f64| *m > 0.0 && *m <= 24.0 * 60.0)
                    .ok_or("--minutes needs a number of minutes per target")?;
            }
            "--target" => only = Some(rest.next().ok_or("--target needs a target name")?.clone()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let targets: Vec<&'static str> = TARGETS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| only.as_deref().is_none_or(|o| o == *t))
        .collect();
    if targets.is_empty() {
        let names: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
        return Err(format!("unknown target; targets: {}", names.join(", ")));
    }
    tools::ensure_cargo_fuzz()?;
    let runs = fuzz(&targets, (minutes * 60.0).round() as u64, Build::Release)?;
    let report = report(&runs);
    let path = run::root().join("target/fuzz/report.md");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, &report).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("\n{report}\n(written to {})", path.display());
    check(&runs)
}

/// Fails when any target found an input that breaks its property.
pub fn check(runs: &[TargetRun]) -> Result<(), String> {
    let found: Vec<String> = runs
        .iter()
        .flat_map(|r| r.found.iter().map(|p| p.display().to_string()))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "inputs that break a property were saved as regression cases: {}; fix the code, \
             then commit them (the native tests replay them)",
            found.join(", ")
        ))
    }
}

/// Builds the targets as `build` says and runs each for `seconds`.
pub fn fuzz(
    targets: &[&'static str],
    seconds: u64,
    build_as: Build,
) -> Result<Vec<TargetRun>, String> {
    let fuzz_dir = run::root().join("fuzz");
    let mut build = Command::new("cargo");
    build
        .current_dir(&fuzz_dir)
        .args(["fuzz", "build"])
        .args(build_as.flags())
        .args(["--sanitizer", "none"]);
    if !run::run(&mut build, "  | ")?.success {
        return Err("cargo fuzz build failed".into());
    }
    let mut runs = Vec::new();
    for &target in targets {
        let max_len = TARGETS
            .iter()
            .find(|(t, _)| *t == target)
            .map_or(4096, |(_, l)| *l);
        let corpus = fuzz_dir.join("corpus").join(target);
        let artifacts = fuzz_dir.join("artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let before = entries(&artifacts);
        let started = Instant::now();
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&fuzz_dir)
            .args(["fuzz", "run"])
            .args(build_as.flags())
            .args(["--sanitizer", "none", target])
            .arg(&corpus)
            .arg(saved_dir(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-max_len={max_len}"))
            .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"]);
        let out = run::run(&mut cmd, &format!("  {target} | "))?;
        let mut found = Vec::new();
        for artifact in entries(&artifacts) {
            if before.contains(&artifact) {
                continue;
            }
            let Some(name) = artifact.file_name() else {
                continue;
            };
            let saved = saved_dir(target).join(name);
            std::fs::copy(&artifact, &saved)
                .map_err(|e| format!("cannot save {}: {e}", artifact.display()))?;
            found.push(saved);
        }
        if !out.success && found.is_empty() {
            return Err(format!(
                "fuzzing {target} failed after {:.0} s without saving an input",
                started.elapsed().as_secs_f64()
            ));
        }
        runs.push(TargetRun {
            target,
            seconds: started.elapsed().as_secs(),
            executions: final_stat(&out.text, "stat::number_of_executed_units:"),
            corpus: entries(&corpus).len(),
            found,
        });
    }
    Ok(runs)
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn final_stat(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// A Markdown table of the runs.
pub fn report(runs: &[TargetRun]) -> String {
    let mut text = String::from(
        "# cargo xtask fuzz\n\n| target | seconds | executions | corpus | inputs breaking a property |\n|---|---:|---:|---:|---|\n",
    );
    for r in runs {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.target,
            r.seconds,
            r.executions.map_or("-".into(), |e| e.to_string()),
            r.corpus,
            if r.found.is_empty() {
                "none".to_owned()
            } else {
                r.found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    text
}
