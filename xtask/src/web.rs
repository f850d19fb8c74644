//! `cargo xtask build-web`: the browser app, built by trunk with local tools only.

use crate::edge::{gzip_size, human};
use crate::run;
use crate::tools::{self, NodeTools};
use std::process::Command;

/// Builds `web/dist/` (unless it is newer than every input) and reports its wasm's size.
pub fn build(node: &NodeTools) -> Result<String, String> {
    let root = run::root();
    let inputs = [
        "web/src",
        "web/Cargo.toml",
        "web/index.html",
        "web/style.css",
        "web/config.json",
        "web/Trunk.toml",
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

fn compile(node: &NodeTools) -> Result<(), String> {
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

/// The app's size goal: its wasm under 700 kB gzipped.
pub const GZIP_GOAL_BYTES: u64 = 700_000;

/// The gzipped size in words against [`GZIP_GOAL_BYTES`].
fn against_goal(gz: u64) -> String {
    if gz < GZIP_GOAL_BYTES {
        format!("under the 700 kB goal by {}", human(GZIP_GOAL_BYTES - gz))
    } else {
        format!("over the 700 kB goal by {}", human(gz - GZIP_GOAL_BYTES))
    }
}

fn report() -> Result<String, String> {
    let dist = run::root().join("web/dist");
    let wasm = std::fs::read_dir(&dist)
        .map_err(|e| format!("{}: {e}", dist.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))
        .ok_or("trunk produced no wasm file")?;
    let raw = std::fs::metadata(&wasm).map_err(|e| e.to_string())?.len();
    let gz = gzip_size(&wasm)?;
    let report = format!(
        "browser app wasm: {} raw, {} gzip ({})",
        human(raw),
        human(gz),
        against_goal(gz)
    );
    println!("[build-web] {report}");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_told_against_the_goal() {
        assert_eq!(against_goal(600_000), "under the 700 kB goal by 97.7 KiB");
        assert_eq!(against_goal(1_200_000), "over the 700 kB goal by 488.3 KiB");
    }
}
