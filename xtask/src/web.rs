//! `cargo xtask build-web`: the browser app, built by trunk with local tools only: its shell
//! (`web`, what the first paint needs) and its engine (`web/engine`, Cedar, a second wasm
//! module the shell imports as it starts), built first into `web/engine/pkg`, which trunk
//! copies to the app's `/engine/`.

use crate::edge::{gzip_size, human};
use crate::run;
use crate::tools::{self, NodeTools};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `web/dist/` (unless it is newer than every input) and reports its sizes.
pub fn build(node: &NodeTools) -> Result<String, String> {
    let root = run::root();
    let inputs = [
        "web/src",
        "web/Cargo.toml",
        "web/index.html",
        "web/style.css",
        "web/config.json",
        "web/Trunk.toml",
        "web/engine/src",
        "web/engine/Cargo.toml",
        "shared/src",
        "shared/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ]
    .map(|p| root.join(p));
    let built = crate::edge::newest(&[root.join("web/dist")]);
    let up_to_date = matches!((crate::edge::newest(&inputs), built), (Some(i), Some(b)) if b > i)
        && root.join("web/dist/index.html").is_file();
    if up_to_date {
        println!("[build-web] web/dist is up to date");
    } else {
        compile(node)?;
    }
    report()
}

/// The engine: cargo for wasm32, wasm-bindgen (`--target web`, for a dynamic `import()`),
/// wasm-opt -Oz (binaryen 132), into `web/engine/pkg`.
fn compile_engine(node: &NodeTools) -> Result<(), String> {
    let root = run::root();
    if !run::run(
        &mut run::wasm32_release_build("cedargate-web-engine"),
        "  | ",
    )?
    .success
    {
        return Err("building the app's engine (web/engine) failed".into());
    }
    let out = root.join("web/engine/pkg");
    let _ = std::fs::remove_dir_all(&out);
    let input = root.join("target/wasm32-unknown-unknown/release/cedargate_web_engine.wasm");
    let mut bindgen = Command::new(tools::cargo_bin("wasm-bindgen"));
    bindgen
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&out)
        .arg(&input);
    if !run::run(&mut bindgen, "  | ")?.success {
        return Err("wasm-bindgen for the app's engine failed".into());
    }
    let wasm = out.join(format!("{ENGINE}_bg.wasm"));
    let mut opt = Command::new(&node.wasm_opt);
    opt.arg(format!("--output={}", wasm.display()))
        .arg("-Oz")
        .arg(&wasm);
    if !run::run(&mut opt, "  | ")?.success {
        return Err("wasm-opt for the app's engine failed".into());
    }
    Ok(())
}

/// The engine's module name (wasm-bindgen's output is `{ENGINE}.js`, `{ENGINE}_bg.wasm`).
const ENGINE: &str = "cedargate_web_engine";

fn compile(node: &NodeTools) -> Result<(), String> {
    compile_engine(node)?;
    let root = run::root();
    // binaryen's wasm-opt (npm, version 132) and the wasm-bindgen matching Cargo.lock come
    // first on PATH: Debian's wasm-opt 108 silently breaks current wasm-bindgen output.
    let mut path = vec![
        node.wasm_opt
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default(),
        tools::cargo_bin("wasm-bindgen")
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default(),
    ];
    if let Some(node_dir) = node.node.parent() {
        path.push(node_dir.to_path_buf());
    }
    if let Some(existing) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&existing));
    }
    let path = std::env::join_paths(path).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(tools::cargo_bin("trunk"));
    cmd.current_dir(root.join("web"))
        .args(["build", "--release", "--offline"])
        .env("PATH", path)
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .env("NO_COLOR", "true");
    let out = run::run(&mut cmd, "  | ")?;
    if !out.success {
        return Err("trunk build failed".into());
    }
    Ok(())
}

/// The goal for what the first paint needs: the shell's wasm and JavaScript, gzipped
/// (issue 36).
pub const FIRST_PAINT_GOAL_BYTES: u64 = 400_000;

/// A gzipped size in words against [`FIRST_PAINT_GOAL_BYTES`].
fn against_goal(gz: u64) -> String {
    if gz <= FIRST_PAINT_GOAL_BYTES {
        format!(
            "within the 400 kB first-paint goal by {}",
            human(FIRST_PAINT_GOAL_BYTES - gz)
        )
    } else {
        format!(
            "over the 400 kB first-paint goal by {}",
            human(gz - FIRST_PAINT_GOAL_BYTES)
        )
    }
}

/// The files of `dir` (and below) whose name ends with one of `endings`.
fn files(dir: &Path, endings: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if endings.iter().any(|e| path.to_string_lossy().ends_with(e)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Raw and gzipped bytes of `paths`, summed.
fn sizes(paths: &[PathBuf]) -> Result<(u64, u64), String> {
    let mut raw = 0;
    let mut gz = 0;
    for path in paths {
        raw += std::fs::metadata(path).map_err(|e| e.to_string())?.len();
        gz += gzip_size(path)?;
    }
    Ok((raw, gz))
}

fn report() -> Result<String, String> {
    let dist = run::root().join("web/dist");
    let engine_dir = dist.join("engine");
    // The shell: everything trunk puts beside index.html but the engine.
    let shell: Vec<PathBuf> = files(&dist, &[".wasm", ".js"])
        .into_iter()
        .filter(|p| !p.starts_with(&engine_dir))
        .collect();
    if !shell
        .iter()
        .any(|p| p.extension().is_some_and(|x| x == "wasm"))
    {
        return Err("trunk produced no wasm file".into());
    }
    let engine = files(&engine_dir, &[".wasm", ".js"]);
    if !engine
        .iter()
        .any(|p| p.extension().is_some_and(|x| x == "wasm"))
    {
        return Err("web/dist/engine holds no wasm: the engine was not built".into());
    }
    let (shell_raw, shell_gz) = sizes(&shell)?;
    let (engine_raw, engine_gz) = sizes(&engine)?;
    let report = format!(
        "browser app: shell (first paint, wasm + JS) {} raw, {} gzip ({}); engine (loaded \
         beside it) {} raw, {} gzip",
        human(shell_raw),
        human(shell_gz),
        against_goal(shell_gz),
        human(engine_raw),
        human(engine_gz),
    );
    println!("[build-web] {report}");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_told_against_the_goal() {
        assert_eq!(
            against_goal(300_000),
            "within the 400 kB first-paint goal by 97.7 KiB"
        );
        assert_eq!(
            against_goal(1_200_000),
            "over the 400 kB first-paint goal by 781.2 KiB"
        );
    }
}
