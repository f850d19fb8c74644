//! `cargo xtask bench`: native Criterion benchmarks, then the workerd comparison, sizes and
//! start-up, into `target/bench/report.md` (and `report.json`). Nothing here asserts a time.

use crate::{edge, run, tools, web};
use std::path::Path;
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let node = tools::ensure_edge_build()?;
    tools::ensure_web_build()?;
    tools::ensure_wrk()?;
    let twiggy = tools::ensure_twiggy()?;
    println!("\n[bench] building the worker and the app");
    edge::build(&node)?;
    web::build(&node)?;
    check_names_copy(&node)?;
    println!(
        "\n[bench] building the Rust no-op worker, the app's matrix and the request path's steps for wasm32"
    );
    build_rust_noop(&node)?;
    build_wasm_bench(
        &node,
        "matrix-wasm",
        "cedargate-bench-matrix",
        "cedargate_bench_matrix",
    )?;
    build_wasm_bench(
        &node,
        "stages-wasm",
        "cedargate-bench-stages",
        "cedargate_bench_stages",
    )?;

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

    println!(
        "\n[bench] workerd: no-op workers, the floor, cedargate, jose + cedar-wasm (with and without a token cache)"
    );
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
    workerd.arg("--twiggy").arg(&twiggy);
    workerd
        .arg("--names-wasm")
        .arg(edge::names_copy())
        .arg("--node")
        .arg(&node.node);
    if quick {
        workerd.args([
            "--seconds",
            "3",
            "--rounds",
            "1",
            "--cold-starts",
            "3",
            "--memory-runs",
            "1",
        ]);
    }
    let out = run::run(&mut workerd, "")?;
    if !out.success {
        return Err("the workerd benchmark failed".into());
    }
    println!("\n[bench] report: target/bench/report.md (raw numbers: target/bench/report.json)");
    Ok(())
}

/// The size analysis reads the worker's names-kept copy; it must be the uploaded wasm with
/// its names, so it is stripped the same way and compared byte for byte.
fn check_names_copy(node: &tools::NodeTools) -> Result<(), String> {
    let root = run::root();
    let check = root.join("target/bench/names-check.wasm");
    std::fs::create_dir_all(root.join("target/bench")).map_err(|e| e.to_string())?;
    edge::strip_names(node, &edge::names_copy(), &check)?;
    let same = std::fs::read(&check).map_err(|e| e.to_string())?
        == std::fs::read(root.join("edge/build/index_bg.wasm")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&check);
    if same {
        println!(
            "[bench] {} strips to edge/build/index_bg.wasm exactly",
            edge::names_copy().display()
        );
        Ok(())
    } else {
        Err(format!(
            "{} is not the uploaded worker with names (remove it and run again to rebuild)",
            edge::names_copy().display()
        ))
    }
}

/// The Rust no-op worker (`tests/bench/rust-noop`), built as the edge is: worker-build with
/// the workspace's release profile and the edge's wasm-opt flags, then the names dropped.
fn build_rust_noop(node: &tools::NodeTools) -> Result<(), String> {
    let root = run::root();
    let out = root.join("target/bench/rust-noop");
    edge::worker_build(node, &root.join("tests/bench/rust-noop"), Some(&out))?;
    let wasm = out.join("index_bg.wasm");
    edge::strip_names(node, &wasm, &wasm)
}

/// A wasm32 benchmark crate of `tests/bench` (`dir`, package `package`, library `lib`): the
/// release profile, then wasm-bindgen (`--target web`, which Node and Chromium both load)
/// and wasm-opt `-Oz`, as trunk builds the app (`data-wasm-opt="z"`) and worker-build the
/// worker. Written to `target/bench/<dir>`.
fn build_wasm_bench(
    node: &tools::NodeTools,
    dir: &str,
    package: &str,
    lib: &str,
) -> Result<(), String> {
    let root = run::root();
    let mut cargo = Command::new("cargo");
    cargo.current_dir(&root).args([
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        package,
    ]);
    if !run::run(&mut cargo, "  | ")?.success {
        return Err(format!("building tests/bench/{dir} failed"));
    }
    let out = root.join("target/bench").join(dir);
    let input = root.join(format!("target/wasm32-unknown-unknown/release/{lib}.wasm"));
    let stamp = out.join("built-from");
    if newer(&input, &stamp) {
        println!("[bench] target/bench/{dir} is up to date");
        return Ok(());
    }
    let mut bindgen = Command::new(tools::cargo_bin("wasm-bindgen"));
    bindgen
        .args(["--target", "web", "--out-dir"])
        .arg(&out)
        .arg(&input);
    if !run::run(&mut bindgen, "  | ")?.success {
        return Err(format!("wasm-bindgen for tests/bench/{dir} failed"));
    }
    let wasm = out.join(format!("{lib}_bg.wasm"));
    let mut opt = Command::new(&node.wasm_opt);
    opt.arg(format!("--output={}", wasm.display()))
        .arg("-Oz")
        .arg(&wasm);
    if !run::run(&mut opt, "  | ")?.success {
        return Err(format!("wasm-opt for tests/bench/{dir} failed"));
    }
    std::fs::write(&stamp, input.display().to_string()).map_err(|e| e.to_string())
}

/// Whether `stamp` exists and is newer than `file`.
fn newer(file: &Path, stamp: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(file), modified(stamp)), (Some(f), Some(s)) if s >= f)
}
