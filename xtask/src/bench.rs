//! `cargo xtask bench`: native Criterion benchmarks, then the workerd comparison, sizes and
//! start-up, into `target/bench/report.md` (and `report.json`). Nothing here asserts a time.

use crate::{edge, run, tools, web};
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let node = tools::ensure_edge_build()?;
    tools::ensure_web_build()?;
    tools::ensure_wrk()?;
    println!("\n[bench] building the worker and the app");
    edge::build(&node)?;
    web::build(&node)?;

    println!("\n[bench] native benchmarks (Criterion)");
    let mut criterion = Command::new("cargo");
    criterion.current_dir(run::root()).args([
        "bench",
        "-p",
        "cedargate",
        "--bench",
        "pipeline",
        "--",
    ]);
    if quick {
        criterion.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    if !run::run(&mut criterion, "  | ")?.success {
        return Err("cargo bench failed".into());
    }

    println!("\n[bench] workerd: no-op worker, cedargate, jose + cedar-wasm");
    let mut workerd = Command::new("cargo");
    workerd.current_dir(run::root()).args([
        "run",
        "--release",
        "-p",
        "cedargate-tests",
        "--bin",
        "bench",
        "--",
    ]);
    if quick {
        workerd.args(["--seconds", "3", "--rounds", "1"]);
    }
    let out = run::run(&mut workerd, "")?;
    if !out.success {
        return Err("the workerd benchmark failed".into());
    }
    println!("\n[bench] report: target/bench/report.md (raw numbers: target/bench/report.json)");
    Ok(())
}
