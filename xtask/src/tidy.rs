//! Checks of the source tree's shape, run by `cargo test` (they read files, nothing else).
//!
//! No module of `shared/`, `edge/`, `web/` or `cli/` depends on itself through other modules:
//! the `crate::` and `super::` paths in code (comments aside) form no circle, at the crate's
//! top level and inside each module directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Module name → the sibling modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The names that follow `prefix` in `text`, outside comment lines.
fn named_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let before_ok = at == 0 || {
                let b = rest.as_bytes()[at - 1];
                !(b.is_ascii_alphanumeric() || b == b'_')
            };
            rest = &rest[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if before_ok && !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Every `.rs` file under `dir`, with its path relative to `dir`.
fn rust_files(dir: &Path, rel: &Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = rel.join(entry.file_name());
        if path.is_dir() {
            rust_files(&path, &name, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = fs::read_to_string(&path)
        {
            out.push((name, text));
        }
    }
}

/// The module a file belongs to, one level below `parent` (a path of directory names):
/// `a.rs` and `a/...` belong to `a`; `mod.rs`, `lib.rs` and `main.rs` to none.
fn module_below(file: &Path, parent: &[String]) -> Option<String> {
    let parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.len() <= parent.len() || parts[..parent.len()] != *parent {
        return None;
    }
    let first = &parts[parent.len()];
    let name = first.strip_suffix(".rs").unwrap_or(first);
    if parts.len() == parent.len() + 1 && matches!(name, "mod" | "lib" | "main") {
        return None;
    }
    Some(name.to_owned())
}

/// The graphs of a crate's `src/`: its top level, and each module directory.
fn graphs(src: &Path) -> BTreeMap<String, Graph> {
    let mut files = Vec::new();
    rust_files(src, Path::new(""), &mut files);
    let mut dirs: BTreeSet<Vec<String>> = BTreeSet::new();
    dirs.insert(Vec::new());
    for (file, _) in &files {
        let parts: Vec<String> = file
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        for n in 1..parts.len() {
            dirs.insert(parts[..n].to_vec());
        }
    }
    let mut out = BTreeMap::new();
    for dir in dirs {
        let mut graph = Graph::new();
        let crate_prefix = std::iter::once("crate".to_owned())
            .chain(dir.iter().cloned())
            .collect::<Vec<_>>()
            .join("::")
            + "::";
        for (file, text) in &files {
            let Some(module) = module_below(file, &dir) else {
                continue;
            };
            let mut named = named_after(text, &crate_prefix);
            // `super::` from a file directly in the directory names a sibling.
            let depth = file.iter().count();
            if !dir.is_empty() && depth == dir.len() + 1 {
                named.extend(named_after(text, "super::"));
            }
            named.remove(&module);
            graph.entry(module).or_default().extend(named);
        }
        let known: BTreeSet<String> = graph.keys().cloned().collect();
        for deps in graph.values_mut() {
            deps.retain(|d| known.contains(d));
        }
        out.insert(format!("{}/{}", src.display(), dir.join("/")), graph);
    }
    out
}

/// A circle in `graph`, if there is one.
fn circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask sits in the repository")
            .to_path_buf()
    }

    #[test]
    fn modules_import_in_no_circle() {
        let mut checked = 0;
        for krate in ["shared", "edge", "web", "cli"] {
            for (dir, graph) in graphs(&root().join(krate).join("src")) {
                checked += graph.len();
                assert_eq!(circle(&graph), None, "modules of {dir} import in a circle");
            }
        }
        assert!(checked > 40, "only {checked} modules were found");
    }

    #[test]
    fn circles_are_found() {
        let graph: Graph = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(
            circle(&graph),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let text = "use crate::token::X;\n// crate::bundle in a comment\nlet y = crate::jwks::f();";
        assert_eq!(
            named_after(text, "crate::"),
            BTreeSet::from(["token".to_owned(), "jwks".to_owned()])
        );
    }
}
