//! `cargo xtask build-edge`: the worker, built with local tools only: cargo, wasm-bindgen,
//! wasm-opt, and esbuild bundling the glue with the worker's own entry (`edge/entry.mjs`).

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
        "edge/entry.mjs",
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
    entry_build(node, "cedargate-edge", &root.join("edge/build"), &[], true)?;
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
/// data compiled in, so they skip wasm-opt, which is single-threaded here and
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
        entry_build(
            node,
            "cedargate-edge",
            &out,
            &[("CEDARGATE_POLICY_DIR", policies.as_os_str())],
            false,
        )?;
    }
    Ok(format!(
        "the worker with {policies_path} in target/edge-{name}"
    ))
}

/// `worker-build --release` of the crate in `dir` with the local wasm-bindgen, wasm-opt and
/// esbuild, into `out_dir`: workers-rs's own build and entry shim, kept for the benchmark's
/// Rust no-op worker, so the cost of that shim stays a number.
pub fn worker_build(node: &NodeTools, dir: &Path, out_dir: &Path) -> Result<(), String> {
    let mut cmd = Command::new(tools::cargo_bin("worker-build"));
    cmd.current_dir(dir)
        .arg("--release")
        .arg("--out-dir")
        .arg(out_dir);
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

/// Holds the worker build of this checkout (released when dropped). Cargo's own lock covers
/// the compile only: between it and wasm-bindgen, a second build with another bundle compiled
/// in (`CEDARGATE_POLICY_DIR`) would replace the wasm both read
/// (`target/wasm32-unknown-unknown/release/<crate>.wasm`), and two builds of `edge/build`
/// would share its `glue` directory. A second build waits for the first.
fn build_lock(path: &Path) -> Result<std::fs::File, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            println!("[build-edge] waiting for another worker build in this checkout");
            file.lock()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(format!("{}: {e}", path.display())),
    }
    Ok(file)
}

/// The wasm features the worker's code may use, enabled by name for wasm-opt so nothing is
/// lowered or rejected, and no newer encoding is emitted than workerd reads.
const WASM_FEATURES: [&str; 7] = [
    "mutable-globals",
    "sign-ext",
    "nontrapping-float-to-int",
    "bulk-memory",
    "multivalue",
    "reference-types",
    "exception-handling",
];

/// Builds the workers-rs crate `package` into `out` as a worker of two modules,
/// `index.js` and `index_bg.wasm`, with the worker's own entry (`edge/entry.mjs`):
/// `cargo build --release` for wasm32 (with `envs`), wasm-bindgen's `module` output, wasm-opt
/// `-Oz` keeping the names section when `optimize` (the shipped worker; test fixtures skip
/// it: it takes about 1.7 min here), then esbuild bundling the entry with the glue.
pub fn entry_build(
    node: &NodeTools,
    package: &str,
    out: &Path,
    envs: &[(&str, &std::ffi::OsStr)],
    optimize: bool,
) -> Result<(), String> {
    let root = run::root();
    let _lock = build_lock(&root.join("target/edge-build.lock"))?;
    let mut cargo = run::wasm32_release_build(package);
    cargo
        .arg("--lib")
        .envs(envs.iter().copied())
        // As worker-build builds: wasm-bindgen's macros use js-sys's futures.
        .env("WASM_BINDGEN_USE_JS_SYS", "1");
    if !run::run(&mut cargo, "  | ")?.success {
        return Err(format!("building {package} for wasm32 failed"));
    }
    let wasm = root
        .join("target/wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let glue = out.join("glue");
    if glue.exists() {
        std::fs::remove_dir_all(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    }
    let mut bindgen = Command::new(tools::cargo_bin("wasm-bindgen"));
    bindgen.arg(&wasm).arg("--out-dir").arg(&glue).args([
        "--no-typescript",
        "--target",
        "module",
        "--out-name",
        "index",
        // `__wbg_reset_state`, which the entry calls after a trap.
        "--experimental-reset-state-function",
    ]);
    if !run::run(&mut bindgen, "  | ")?.success {
        return Err(format!("wasm-bindgen of {package} failed"));
    }
    let glue_wasm = glue.join("index_bg.wasm");
    if optimize {
        let optimized = glue.join("index_opt.wasm");
        let mut opt = Command::new(&node.wasm_opt);
        opt.arg(&glue_wasm).arg("-o").arg(&optimized).args([
            "-Oz",
            "--strip-producers",
            // The names section stays for the size analysis; `strip_names` drops it from
            // the upload.
            "--debuginfo",
        ]);
        opt.args(WASM_FEATURES.map(|f| format!("--enable-{f}")));
        if !run::run(&mut opt, "  | ")?.success {
            return Err(format!("wasm-opt of {package} failed"));
        }
        std::fs::rename(&optimized, &glue_wasm)
            .map_err(|e| format!("{}: {e}", glue_wasm.display()))?;
    }
    // wasm-bindgen writes a source-phase import (`import source wasm from ...`), which
    // workerd reads as a plain import of a wasm module.
    let glue_js = glue.join("index.js");
    let text =
        std::fs::read_to_string(&glue_js).map_err(|e| format!("{}: {e}", glue_js.display()))?;
    std::fs::write(&glue_js, text.replace("import source ", "import "))
        .map_err(|e| format!("{}: {e}", glue_js.display()))?;
    let entry = glue.join("entry.mjs");
    std::fs::copy(root.join("edge/entry.mjs"), &entry)
        .map_err(|e| format!("{}: {e}", entry.display()))?;
    let mut esbuild = Command::new(&node.esbuild);
    esbuild
        .current_dir(&glue)
        .args([
            "entry.mjs",
            "--bundle",
            "--format=esm",
            "--minify",
            "--log-level=warning",
            "--external:./index_bg.wasm",
            "--external:cloudflare:*",
        ])
        .arg(format!("--outfile={}", out.join("index.js").display()));
    if !run::run(&mut esbuild, "  | ")?.success {
        return Err(format!("esbuild of {package}'s entry failed"));
    }
    let wasm_out = out.join("index_bg.wasm");
    std::fs::rename(&glue_wasm, &wasm_out).map_err(|e| format!("{}: {e}", wasm_out.display()))?;
    std::fs::remove_dir_all(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    // What wrangler and workerd read the bundle as: an ES module.
    let package_json = out.join("package.json");
    std::fs::write(
        &package_json,
        "{\n  \"name\": \"cedargate-edge\",\n  \"type\": \"module\",\n  \"main\": \"index.js\"\n}\n",
    )
    .map_err(|e| format!("{}: {e}", package_json.display()))
}

/// The worker's wasm as the build left it, with its names section (function names),
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

/// The build keeps the wasm names section (function names for stack traces); it is a
/// fifth of the upload. This drops it, with no other change to the code, writing `output`
/// (which may be `wasm` itself).
pub fn strip_names(node: &NodeTools, wasm: &Path, output: &Path) -> Result<(), String> {
    let stripped = output.with_extension("stripped.wasm");
    let mut cmd = Command::new(&node.wasm_opt);
    cmd.arg(wasm).arg("-o").arg(&stripped);
    cmd.args(WASM_FEATURES.map(|f| format!("--enable-{f}")));
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
    use super::{build_lock, without_build_table};

    #[test]
    fn a_second_worker_build_waits_for_the_first() {
        let dir = std::env::temp_dir().join(format!("cedargate-build-lock-{}", std::process::id()));
        let path = dir.join("edge-build.lock");
        let first = build_lock(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiting = {
            let path = path.clone();
            std::thread::spawn(move || {
                let second = build_lock(&path).unwrap();
                tx.send(()).unwrap();
                drop(second);
            })
        };
        // Still held: the second build has not started.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        waiting.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_build_table_alone_is_left_out() {
        let text = "name = \"w\"\n[build]\ncommand = \"x\"\nwatch_dir = [\"a\"]\n\n[vars.A]\nb = 1\n[env.production]\nname = \"w\"\n";
        assert_eq!(
            without_build_table(text),
            "name = \"w\"\n[vars.A]\nb = 1\n[env.production]\nname = \"w\"\n"
        );
    }
}
