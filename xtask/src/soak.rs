//! `cargo xtask soak`: the edge worker in workerd at saturation for N seconds with a mix of
//! allowed, denied and invalid requests, its bundles read from KV, with a staged candidate
//! written, replaced and promoted mid-run; every answer, the `decision_changed` lines and
//! the memory of workerd are checked (see `tests/src/bin/soak/`). Writes
//! `target/soak/report.md` and `report.json`.

use crate::{edge, run, tools};
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut forwarded = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" | "--connections" => {
                let value = rest
                    .next()
                    .filter(|v| v.parse::<u64>().is_ok_and(|n| n > 0))
                    .ok_or_else(|| format!("{arg} needs a positive whole number"))?;
                if arg == "--seconds" && value.parse::<u64>().is_ok_and(|n| n < 60) {
                    return Err("--seconds must be at least 60: workerd's memory grows for \
                                the first 20 to 30 seconds of load, which is not judged"
                        .into());
                }
                forwarded.extend([arg.clone(), value.clone()]);
            }
            other => return Err(format!("soak: unknown option {other}")),
        }
    }
    let node = tools::ensure_edge_build()?;
    println!("\n[soak] building the worker");
    edge::build(&node)?;
    println!("\n[soak] running");
    let mut soak = Command::new("cargo");
    soak.current_dir(run::root())
        .args([
            "run",
            "--release",
            "-p",
            "cedargate-tests",
            "--bin",
            "soak",
            "--",
        ])
        .args(&forwarded);
    if !run::run(&mut soak, "")?.success {
        return Err("the soak run failed; see target/soak/report.md".into());
    }
    println!("\n[soak] report: target/soak/report.md (raw numbers: target/soak/report.json)");
    Ok(())
}
