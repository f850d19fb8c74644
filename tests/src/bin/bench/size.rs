//! Sizes: what each worker uploads and the browser app's wasm, raw and gzipped, and twiggy's
//! breakdown of the edge's wasm (by crate, the largest items, the dominator tree).

use crate::report::{CrateSize, Size, SizeBreakdown};
use cedargate_tests::root;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn gzip_len(path: &Path) -> u64 {
    Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|o| o.stdout.len() as u64)
        .unwrap_or(0)
}

/// The files' sizes, summed, raw and gzipped (`gzip -9`).
pub fn sizes(paths: &[&Path]) -> Size {
    paths.iter().fold(Size::default(), |sum, p| Size {
        raw: sum.raw + std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        gzip: sum.gzip + gzip_len(p),
    })
}

/// The files below `dir` whose extension is `wasm` or `js`, leaving out `except`.
fn wasm_and_js(dir: &Path, except: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if except.is_some_and(|e| path.starts_with(e)) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "wasm" || x == "js") {
                out.push(path);
            }
        }
    }
    out
}

/// The browser app's shell (`web/dist` but its engine): its wasm and JavaScript, what the
/// first paint needs; `None` unless it is built.
pub fn web_wasm() -> Option<Size> {
    let dist = root().join("web/dist");
    let files = wasm_and_js(&dist, Some(&dist.join("engine")));
    files
        .iter()
        .any(|p| p.extension().is_some_and(|x| x == "wasm"))
        .then(|| sizes(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>()))
}

/// The browser app's engine (`web/dist/engine`): its wasm and JavaScript.
pub fn web_engine() -> Option<Size> {
    let files = wasm_and_js(&root().join("web/dist/engine"), None);
    files
        .iter()
        .any(|p| p.extension().is_some_and(|x| x == "wasm"))
        .then(|| sizes(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>()))
}

fn twiggy(twiggy: &Path, args: &[&str], wasm: &Path) -> Option<String> {
    let out = Command::new(twiggy).args(args).arg(wasm).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "[bench] twiggy {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The crate an item of twiggy's output belongs to, by the first path segment of its name.
fn crate_of(name: &str) -> String {
    if name.starts_with("data segment") || name.starts_with("data[") {
        return "(data segments: constants, parser tables)".into();
    }
    if name.ends_with("subsection")
        || name.ends_with("subsection\"")
        || name.contains("\" subsection")
    {
        return "(names section, not uploaded)".into();
    }
    let mut t = name.trim_start_matches(['<', '&', '*', ' ']);
    for prefix in ["mut ", "dyn ", "const "] {
        t = t.trim_start_matches(prefix);
    }
    let mut first = t.split("::").next().unwrap_or("");
    if let Some((_, tr)) = first.rsplit_once(" as ") {
        first = tr;
    }
    let first = first.split('[').next().unwrap_or("").trim();
    let ident = !first.is_empty()
        && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !first.starts_with(|c: char| c.is_ascii_digit());
    if ident && !["code", "elem", "table", "type", "global", "memory"].contains(&first) {
        first.to_owned()
    } else {
        "(unnamed code, imports, exports, types, tables)".into()
    }
}

/// Prints the dominator tree (twiggy's JSON): items keeping at least 1% of the uploaded
/// size, to depth 5, at most 6 children a node, 40 rows.
fn dominator_lines(node: &Value, depth: usize, base: f64, rows: &mut Vec<String>) {
    let mut children: Vec<&Value> = node["children"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    children.sort_by_key(|c| std::cmp::Reverse(c["retained_size"].as_u64().unwrap_or(0)));
    for child in children.into_iter().take(6) {
        let retained = child["retained_size"].as_u64().unwrap_or(0);
        if (retained as f64) < base * 0.01 || rows.len() >= 40 {
            return;
        }
        let name: String = child["name"]
            .as_str()
            .unwrap_or("?")
            .chars()
            .take(110)
            .collect();
        rows.push(format!(
            "{:>9} {:>6.2}%  {}{}",
            retained,
            retained as f64 / base * 100.0,
            "  ".repeat(depth),
            name
        ));
        if depth < 5 {
            dominator_lines(child, depth + 1, base, rows);
        }
    }
}

/// twiggy's view of `wasm` (the names-kept copy of the edge's uploaded wasm), run with the
/// twiggy at `bin`.
pub fn breakdown(bin: &Path, wasm: &Path) -> Option<SizeBreakdown> {
    let top: String = twiggy(bin, &["top", "-n", "25"], wasm)?
        .lines()
        .map(|l| l.chars().take(160).collect::<String>() + "\n")
        .collect();
    let items: Vec<Value> =
        serde_json::from_str(&twiggy(bin, &["top", "-f", "json"], wasm)?).ok()?;
    let mut crates: std::collections::BTreeMap<String, u64> = Default::default();
    for item in &items {
        let name = item["name"].as_str().unwrap_or("");
        *crates.entry(crate_of(name)).or_default() += item["shallow_size"].as_u64().unwrap_or(0);
    }
    let total = std::fs::metadata(wasm).ok()?.len();
    let names = crates
        .get("(names section, not uploaded)")
        .copied()
        .unwrap_or(0);
    let mut by_crate: Vec<CrateSize> = crates
        .into_iter()
        .map(|(name, bytes)| CrateSize { name, bytes })
        .collect();
    by_crate.sort_by_key(|c| std::cmp::Reverse(c.bytes));
    let tree: Value =
        serde_json::from_str(&twiggy(bin, &["dominators", "-f", "json"], wasm)?).ok()?;
    let base = (total - names) as f64;
    let mut rows = vec![format!("{:>9} {:>7}  item", "retained", "share")];
    if let Some(root) = tree["items"].get(0) {
        dominator_lines(root, 0, base, &mut rows);
    }
    for extra in tree["summary"].as_array().into_iter().flatten() {
        let retained = extra["retained_size"].as_u64().unwrap_or(0);
        rows.push(format!(
            "{:>9} {:>6.2}%  {}",
            retained,
            retained as f64 / base * 100.0,
            extra["name"].as_str().unwrap_or("?")
        ));
    }
    Some(SizeBreakdown {
        top,
        by_crate,
        dominators: rows.join("\n"),
        total,
        names,
    })
}
