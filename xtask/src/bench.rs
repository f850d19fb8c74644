//! `cargo xtask bench`: native Criterion benchmarks, then the workerd comparison, sizes and
//! start-up, into `target/bench/report.md` (and `report.json`), and the book's benchmarks
//! page (`docs/src/benchmarks.md`) generated from that report. Nothing here asserts a time.
//!
//! The page ends with a digest of everything above it ([`PAGE_MARKER`]); a tidy check
//! (`cargo test -p xtask`) fails when the page's text no longer matches it.

use crate::{edge, run, tools, web};
use std::path::Path;
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .map(|i| args.get(i + 1).map(String::as_str));
    match only {
        None => {}
        Some(Some("first-paint")) => return first_paint_alone(),
        Some(other) => {
            return Err(format!(
                "--only takes first-paint (the app in Chromium over a throttled network), not {}",
                other.unwrap_or("nothing")
            ));
        }
    }
    let node = tools::ensure_edge_build()?;
    tools::ensure_web_build()?;
    tools::ensure_wrk()?;
    let twiggy = tools::ensure_twiggy()?;
    tools::ensure_worker_build()?;
    println!("\n[bench] building the worker and the app");
    edge::build(&node)?;
    web::build(&node)?;
    check_names_copy(&node)?;
    println!(
        "\n[bench] building the Rust no-op workers, the app's matrix and the request path's steps for wasm32"
    );
    build_rust_noop(&node)?;
    // The synchronous no-op: its core through wasm-bindgen alone, loaded by a hand-written
    // entry (`tests/bench/rust-noop-sync/index.mjs`) instead of worker-build's shim.
    build_wasm_bench(
        &node,
        "rust-noop-sync",
        "cedargate-bench-rust-noop-sync",
        "cedargate_bench_rust_noop_sync",
    )?;
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

    // Before the workerd runs, never beside them: the report reads what it wrote.
    first_paint(&node, if quick { 3 } else { 5 })?;

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
        "\n[bench] workerd: no-op workers, the floor, cedargate (and its bundle from KV, with a staged candidate), jose + cedar-wasm (with and without a token cache)"
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
    let command = if quick {
        "cargo xtask bench --quick"
    } else {
        "cargo xtask bench"
    };
    workerd.args(["--command", command]);
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
    let root = run::root();
    let report = std::fs::read_to_string(root.join("target/bench/report.md"))
        .map_err(|e| format!("cannot read target/bench/report.md: {e}"))?;
    std::fs::write(root.join(PAGE), page(&report))
        .map_err(|e| format!("cannot write {PAGE}: {e}"))?;
    println!(
        "\n[bench] report: target/bench/report.md (raw numbers: target/bench/report.json); \
         the book's page: {PAGE}"
    );
    Ok(())
}

/// Where the first-paint step writes its answer, which the report reads.
const FIRST_PAINT_JSON: &str = "target/bench/first-paint.json";

/// `cargo xtask bench --only first-paint`: the app built, then the first-paint step alone
/// (its numbers printed and written to [`FIRST_PAINT_JSON`]; the report is not rewritten).
fn first_paint_alone() -> Result<(), String> {
    let node = tools::ensure_edge_build()?;
    tools::ensure_web_build()?;
    println!("\n[bench] building the worker and the app");
    edge::build(&node)?;
    web::build(&node)?;
    first_paint(&node, 5)?;
    let json = std::fs::read_to_string(run::root().join(FIRST_PAINT_JSON))
        .map_err(|e| format!("{FIRST_PAINT_JSON}: {e}"))?;
    println!("\n[bench] first paint ({FIRST_PAINT_JSON}):\n{json}");
    Ok(())
}

/// The app in Chromium over a throttled network with a cold cache
/// (`tests/bench/first-paint/run.mjs`): the time to the sign-in button, and from the
/// callback to the claims and to the matrix, over `runs` runs.
fn first_paint(node: &tools::NodeTools, runs: u32) -> Result<(), String> {
    println!(
        "\n[bench] the app's first paint in Chromium (Fast 4G, cold cache, {runs} runs): sign-in button, claims, matrix"
    );
    let root = run::root();
    let out = root.join(FIRST_PAINT_JSON);
    let _ = std::fs::remove_file(&out);
    std::fs::create_dir_all(root.join("target/bench")).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&node.node);
    cmd.current_dir(&root)
        .arg("tests/bench/first-paint/run.mjs")
        .args(["--runs", &runs.to_string(), "--out", FIRST_PAINT_JSON]);
    if !run::run(&mut cmd, "  | ")?.success {
        return Err("the first-paint step failed".into());
    }
    Ok(())
}

/// The book's benchmarks page, relative to the repository.
pub const PAGE: &str = "docs/src/benchmarks.md";

/// The start of the page's last line, which holds the SHA-256 of the text above it (in hex)
/// and ends with `-->`.
pub const PAGE_MARKER: &str = "<!-- generated by cargo xtask bench; sha256: ";

/// What the page says before the report.
const PREFACE: &str = "\
# Benchmarks

This page is the report `cargo xtask bench` writes (`target/bench/report.md`), as that command
generated it on the date and machine named below. It is not edited by hand: `cargo xtask bench`
rewrites it, and `cargo test -p xtask` fails when its text no longer matches the digest on its
last line.

Run it yourself for your machine's figures:

```sh
cargo xtask bench               # Criterion natively, then workerd: no-ops, floor, cedargate, JS peers; sizes, cold start, memory, the app's matrix
cargo xtask bench --quick       # the same rows, shorter runs (one round of 3 s, 3 cold starts, 1 memory run): not headline figures
# after `cargo xtask bench` has built everything once, a subset of the workerd rows
# (into target/bench/report.md only, not this page):
cargo run --release -p cedargate-tests --bin bench -- --seconds 3 --rounds 3 --workers noop,rust-noop,floor,cedargate-webcrypto,js-peer,js-peer-cache
# the workers-rs glue against a synchronous core behind a hand-written entry, and the Todo bundle with entity data
cargo run --release -p cedargate-tests --bin bench -- --seconds 3 --rounds 3 --workers noop,rust-noop,rust-noop-sync,cedargate-kv,cedargate-todo
# the shadow evaluation rows: the bundle built in, from KV, and from KV with a staged candidate at 1, 10, 100 %
cargo run --release -p cedargate-tests --bin bench -- --seconds 3 --rounds 3 --workers cedargate-webcrypto,cedargate-kv,cedargate-kv-shadow-1,cedargate-kv-shadow-10,cedargate-kv-shadow-100
```

On a shared two-core machine, with wrk and workerd on the same cores, runs vary by ±30 % from
one hour to the next: compare rows of one run, not across runs. Each section below states its
method. The program is `tests/src/bin/bench/`; the workers and wasm crates it runs are in
`tests/bench/`. Fuzzing and the soak run (`cargo xtask fuzz`, `cargo xtask soak`) write their
own reports, `target/fuzz/report.md` and `target/soak/report.md`.

";

/// The benchmarks page for a report: the preface, the report without its title, and the
/// digest of both.
pub fn page(report: &str) -> String {
    let report = report.trim_start();
    let report = match report.strip_prefix("# ") {
        Some(titled) => titled.split_once('\n').map_or("", |(_, rest)| rest),
        None => report,
    };
    // A blank line before the digest's line, so that no table or paragraph takes it in.
    let body = format!("{PREFACE}{}\n\n", report.trim());
    format!("{body}{PAGE_MARKER}{} -->\n", sha256_hex(body.as_bytes()))
}

/// SHA-256 (FIPS 180-4) in lowercase hex; xtask uses the standard library alone.
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, add) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(add);
        }
    }
    h.iter().map(|word| format!("{word:08x}")).collect()
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

/// The Rust no-op worker (`tests/bench/rust-noop`) twice, with the workspace's release
/// profile and the names dropped: with worker-build and its own shim
/// (`target/bench/rust-noop`), and as the edge is built, behind the edge's entry
/// (`target/bench/rust-noop-entry`), so the report shows what each leaves of the glue.
fn build_rust_noop(node: &tools::NodeTools) -> Result<(), String> {
    let root = run::root();
    let out = root.join("target/bench/rust-noop");
    edge::worker_build(node, &root.join("tests/bench/rust-noop"), &out)?;
    let wasm = out.join("index_bg.wasm");
    edge::strip_names(node, &wasm, &wasm)?;
    let out = root.join("target/bench/rust-noop-entry");
    edge::entry_build(node, "cedargate-bench-rust-noop", &out, &[], true)?;
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
    if !run::run(&mut run::wasm32_release_build(package), "  | ")?.success {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vectors() {
        for (input, digest) in [
            (
                "".to_owned(),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "abc".to_owned(),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".to_owned(),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                "a".repeat(1_000_000),
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
            ),
        ] {
            assert_eq!(
                sha256_hex(input.as_bytes()),
                digest,
                "{} bytes",
                input.len()
            );
        }
    }

    #[test]
    fn the_page_is_the_preface_the_report_and_its_digest() {
        let page = page(
            "# cedargate benchmarks\n\nProduced by `cargo xtask bench` on 2026-12-07.\n\n## Goals\n",
        );
        assert!(
            page.starts_with("# Benchmarks\n\nThis page is the report"),
            "{page}"
        );
        assert!(!page.contains("# cedargate benchmarks"), "{page}");
        let (body, last) = page
            .trim_end_matches('\n')
            .rsplit_once('\n')
            .expect("lines");
        assert!(
            body.ends_with("Produced by `cargo xtask bench` on 2026-12-07.\n\n## Goals\n"),
            "{page}"
        );
        assert_eq!(
            last,
            format!(
                "{PAGE_MARKER}{} -->",
                sha256_hex(format!("{body}\n").as_bytes())
            )
        );
    }
}
