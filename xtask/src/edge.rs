//! `cargo xtask build-edge`: the worker, built by worker-build with local tools only.

use crate::run;
use crate::tools::{self, NodeTools};
use std::path::Path;
use std::process::Command;

/// Cloudflare's limit on a worker's compressed size (free plan).
const LIMIT_GZIP_BYTES: u64 = 3 * 1024 * 1024;

/// Newest modification time of the files under `paths`.
pub fn newest(paths: &[std::path::PathBuf]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack: Vec<std::path::PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.filter_map(Result::ok).map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = Some(newest.map_or(modified, |n: std::time::SystemTime| n.max(modified)));
        }
    }
    newest
}

/// Whether `output` is newer than every input of a worker built with the policy folder
/// `policies` (relative to the repository).
fn worker_is_current(output: &Path, policies: &str) -> bool {
    let root = run::root();
    let inputs = [
        "edge/src",
        "edge/Cargo.toml",
        "edge/build.rs",
        "shared/src",
        "shared/Cargo.toml",
        policies,
        "Cargo.toml",
        "Cargo.lock",
    ]
    .map(|p| root.join(p));
    match (
        newest(&inputs),
        std::fs::metadata(output).and_then(|m| m.modified()),
    ) {
        (Some(input), Ok(built)) => built > input,
        _ => false,
    }
}

/// Builds `edge/build/` (unless it is newer than every input) and reports its size.
pub fn build(node: &NodeTools) -> Result<String, String> {
    let root = run::root();
    let output = root.join("edge/build/index_bg.wasm");
    let policy_dir = std::env::var_os("CEDARGATE_POLICY_DIR");
    let up_to_date =
        policy_dir.is_none() && names_copy().is_file() && worker_is_current(&output, "policies");
    if up_to_date {
        println!("[build-edge] edge/build is up to date");
    } else {
        compile(node)?;
    }
    report()
}

fn compile(node: &NodeTools) -> Result<(), String> {
    let root = run::root();
    worker_build(node, &root.join("edge"), None)?;
    let wasm = root.join("edge/build/index_bg.wasm");
    let names = names_copy();
    if let Some(dir) = names.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::copy(&wasm, &names).map_err(|e| format!("{}: {e}", names.display()))?;
    strip_names(node, &wasm, &wasm)
}

/// The worker with another reference bundle compiled in, for the edge tests that need it:
/// `policies/<bundle>` into `target/edge-<name>/` (unless it is newer than every input).
/// `petstore-access` (services and scopes) goes to `target/edge-access`, `authzen-todo`
/// (the AuthZEN endpoints) to `target/edge-authzen`, `authzen-cert` (the AuthZEN
/// certification fixture) to `target/edge-authzen-cert`, `authzen-search` (the AuthZEN search
/// interop) to `target/edge-authzen-search`.
///
/// These are test and demo fixtures, not uploads: the same code as `edge/build` with other
/// data compiled in, so they skip wasm-opt (`--no-opt`), which is single-threaded here and
/// takes about 1.7 min per worker. The worker that ships, `edge/build`, is optimized, and
/// every other suite runs against it.
pub fn build_with_bundle(node: &NodeTools, bundle: &str, name: &str) -> Result<String, String> {
    let root = run::root();
    let out = root.join(format!("target/edge-{name}"));
    let policies_path = format!("policies/{bundle}");
    if worker_is_current(&out.join("index_bg.wasm"), &policies_path) {
        println!("[build-edge] target/edge-{name} is up to date");
    } else {
        let policies = root.join(&policies_path);
        worker_build_with(
            node,
            &root.join("edge"),
            Some(&out),
            &["--no-opt"],
            &[("CEDARGATE_POLICY_DIR", policies.as_os_str())],
        )?;
    }
    Ok(format!(
        "the worker with {policies_path} in target/edge-{name}"
    ))
}

/// `worker-build --release` of the crate in `dir` with the local wasm-bindgen, wasm-opt and
/// esbuild, into `out_dir` (worker-build's default, `dir/build`, when `None`).
pub fn worker_build(node: &NodeTools, dir: &Path, out_dir: Option<&Path>) -> Result<(), String> {
    worker_build_with(node, dir, out_dir, &[], &[])
}

/// [`worker_build`] with more worker-build flags and environment variables.
fn worker_build_with(
    node: &NodeTools,
    dir: &Path,
    out_dir: Option<&Path>,
    flags: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
) -> Result<(), String> {
    let mut cmd = Command::new(tools::cargo_bin("worker-build"));
    cmd.current_dir(dir).arg("--release").args(flags);
    if let Some(out) = out_dir {
        cmd.arg("--out-dir").arg(out);
    }
    cmd.envs(envs.iter().copied());
    cmd.env("WASM_BINDGEN_BIN", tools::cargo_bin("wasm-bindgen"))
        .env("WASM_OPT_BIN", &node.wasm_opt)
        .env("ESBUILD_BIN", &node.esbuild);
    let out = run::run(&mut cmd, "  | ")?;
    if out.success {
        Ok(())
    } else {
        Err(format!("worker-build in {} failed", dir.display()))
    }
}

/// The worker's wasm as worker-build left it, with its names section (function names),
/// kept for the size analysis of `cargo xtask bench` (twiggy); the uploaded
/// `edge/build/index_bg.wasm` is this file after [`strip_names`], which changes no code.
pub fn names_copy() -> std::path::PathBuf {
    run::root().join("target/edge-names/index_bg.wasm")
}

fn report() -> Result<String, String> {
    let root = run::root();
    let wasm = root.join("edge/build/index_bg.wasm");
    let js = root.join("edge/build/index.js");
    let raw = size(&wasm)? + size(&js)?;
    let gz = gzip_size(&wasm)? + gzip_size(&js)?;
    let report = format!(
        "worker upload size: {} raw, {} gzip (limit {} gzip)",
        human(raw),
        human(gz),
        human(LIMIT_GZIP_BYTES)
    );
    println!("[build-edge] {report}");
    if gz > LIMIT_GZIP_BYTES {
        return Err(format!(
            "the worker is over Cloudflare's size limit: {report}"
        ));
    }
    Ok(report)
}

/// worker-build keeps the wasm names section (function names for stack traces); it is a
/// fifth of the upload. This drops it, with no other change to the code, writing `output`
/// (which may be `wasm` itself).
pub fn strip_names(node: &NodeTools, wasm: &Path, output: &Path) -> Result<(), String> {
    let stripped = output.with_extension("stripped.wasm");
    let mut cmd = Command::new(&node.wasm_opt);
    cmd.arg(wasm).arg("-o").arg(&stripped);
    // The features worker-build enables, so nothing is lowered or rejected.
    for feature in [
        "mutable-globals",
        "sign-ext",
        "nontrapping-float-to-int",
        "bulk-memory",
        "multivalue",
        "reference-types",
        "exception-handling",
    ] {
        cmd.arg(format!("--enable-{feature}"));
    }
    cmd.args(["--strip-debug", "--strip-producers"]);
    let out = run::run(&mut cmd, "  | ")?;
    if !out.success {
        return Err("wasm-opt --strip-debug failed".into());
    }
    std::fs::rename(&stripped, output).map_err(|e| format!("{}: {e}", output.display()))
}

fn size(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Bytes of `gzip -9` output.
pub fn gzip_size(path: &Path) -> Result<u64, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip {} failed", path.display()));
    }
    Ok(out.stdout.len() as u64)
}

pub fn human(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// `wrangler deploy --dry-run --env production` on the built worker, offline and without an
/// account: wrangler reads `wrangler.toml` as a deployment would (its `[env.production]`
/// bindings, variables and compatibility settings) and bundles the worker, so a broken
/// deploy configuration fails here. The copy it reads leaves out `[build]` (the worker was
/// just built) and names the built worker by its absolute path.
pub fn deploy_dry_run(node: &NodeTools) -> Result<String, String> {
    let root = run::root();
    let main = root.join("edge/build/index.js");
    if !main.is_file() {
        return Err(format!(
            "{} is missing: build the worker first",
            main.display()
        ));
    }
    let text = std::fs::read_to_string(root.join("wrangler.toml"))
        .map_err(|e| format!("wrangler.toml: {e}"))?;
    let checked = without_build_table(&text).replace(
        "main = \"edge/build/index.js\"",
        &format!("main = {:?}", main.display().to_string()),
    );
    let dir = root.join("target/deploy-check");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("wrangler.toml");
    std::fs::write(&config, checked).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut cmd = Command::new(&node.node);
    cmd.arg(&node.wrangler)
        .args(["deploy", "--dry-run", "--env", "production", "--config"])
        .arg(&config)
        .arg("--outdir")
        .arg(dir.join("out"))
        .current_dir(&dir)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "1")
        .env("XDG_CONFIG_HOME", dir.join("xdg"));
    let out = run::run(&mut cmd, "  | ")?;
    if !out.success || !out.text.contains("--dry-run: exiting now") {
        return Err("`wrangler deploy --dry-run --env production` failed".into());
    }
    Ok("wrangler deploy --dry-run --env production: ok".into())
}

/// `text` (a wrangler.toml) without its `[build]` table.
fn without_build_table(text: &str) -> String {
    let mut out = String::new();
    let mut in_build = false;
    for line in text.lines() {
        let header = line.trim_start().starts_with('[');
        if header {
            in_build = line.trim() == "[build]";
        }
        if !in_build {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::without_build_table;

    #[test]
    fn the_build_table_alone_is_left_out() {
        let text = "name = \"w\"\n[build]\ncommand = \"x\"\nwatch_dir = [\"a\"]\n\n[vars.A]\nb = 1\n[env.production]\nname = \"w\"\n";
        assert_eq!(
            without_build_table(text),
            "name = \"w\"\n[vars.A]\nb = 1\n[env.production]\nname = \"w\"\n"
        );
    }
}
