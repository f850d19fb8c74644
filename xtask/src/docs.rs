//! `cargo xtask docs`: checks the internal links of the book (`docs/src`), `README.md`,
//! `SECURITY.md` and `ARCHITECTURE.md`, that every page of the book is in its `SUMMARY.md`,
//! and builds the book with mdBook into `target/book`.

use crate::run;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The documents outside the book whose links are checked too.
const ROOT_DOCUMENTS: [&str; 3] = ["README.md", "SECURITY.md", "ARCHITECTURE.md"];

/// `cargo xtask docs`: the link check, then the book when mdbook is installed.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(other) = args.first() {
        return Err(format!("unknown option {other}; usage: cargo xtask docs"));
    }
    let report = check_and_build(false)?;
    println!("{report}");
    Ok(())
}

/// Checks the links, then builds the book; without mdbook the build is skipped, or refused
/// when `require_mdbook` (the test stage, whose setup installs it).
pub fn check_and_build(require_mdbook: bool) -> Result<String, String> {
    let root = run::root();
    let checked = check_links(&root)?;
    let built = if mdbook_installed() {
        build(&root)?;
        "book built into target/book"
    } else if require_mdbook {
        return Err("mdbook is not installed (cargo xtask setup installs it)".into());
    } else {
        "mdbook is not installed, book not built (cargo xtask setup installs it)"
    };
    Ok(format!("{checked}; {built}"))
}

fn mdbook_installed() -> bool {
    Command::new("mdbook")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

fn build(root: &Path) -> Result<(), String> {
    let dest = root.join("target").join("book");
    let out = run::run(
        Command::new("mdbook")
            .arg("build")
            .arg(root.join("docs"))
            .arg("--dest-dir")
            .arg(&dest)
            .current_dir(root),
        "  | ",
    )?;
    if out.success {
        Ok(())
    } else {
        Err("mdbook build docs failed".into())
    }
}

/// Every problem of the repository's documents, or how many links were checked.
fn check_links(root: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    markdown_files(&root.join("docs").join("src"), &mut files)?;
    let pages = files.len();
    for name in ROOT_DOCUMENTS {
        files.push(root.join(name));
    }
    let mut problems = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        count += links(&text).len();
        problems.extend(
            file_problems(file, &text)
                .into_iter()
                .map(|p| format!("{}: {p}", relative(root, file))),
        );
    }
    problems.extend(summary_problems(&root.join("docs").join("src"), &files));
    if problems.is_empty() {
        Ok(format!(
            "{count} links in {pages} pages of the book and {} root documents resolve",
            ROOT_DOCUMENTS.len()
        ))
    } else {
        Err(format!(
            "{} broken link(s) or missing page(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The `.md` files under `dir`, recursively.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            markdown_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// Pages of `src` that `src/SUMMARY.md` does not link to.
fn summary_problems(src: &Path, files: &[PathBuf]) -> Vec<String> {
    let summary_path = src.join("SUMMARY.md");
    let Ok(summary) = std::fs::read_to_string(&summary_path) else {
        return vec!["docs/src/SUMMARY.md is missing".into()];
    };
    let listed: Vec<PathBuf> = links(&summary)
        .into_iter()
        .filter_map(|link| {
            let path = link.target.split('#').next().unwrap_or_default();
            (!path.is_empty() && !is_external(path)).then(|| normalize(&src.join(path)))
        })
        .collect();
    files
        .iter()
        .filter(|f| f.starts_with(src) && **f != summary_path)
        .filter(|f| !listed.contains(&normalize(f)))
        .map(|f| {
            format!(
                "docs/src/{} is not in SUMMARY.md",
                relative(src, f).replace('\\', "/")
            )
        })
        .collect()
}

/// A link of a document: its line (from 1) and its target.
#[derive(Debug, PartialEq)]
struct Link {
    line: usize,
    target: String,
}

fn is_external(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    ["http://", "https://", "mailto:", "ftp://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

/// The problems of one document's links: a file that does not exist, an anchor no heading of
/// the target has.
fn file_problems(file: &Path, text: &str) -> Vec<String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    for link in links(text) {
        if is_external(&link.target) {
            continue;
        }
        let (path, anchor) = match link.target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (link.target.as_str(), None),
        };
        let target = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(percent_decode(path))
        };
        if !target.exists() {
            problems.push(format!(
                "line {}: {} does not exist",
                link.line, link.target
            ));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if target.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let heads = match std::fs::read_to_string(&target) {
            Ok(t) => anchors(&t),
            Err(e) => {
                problems.push(format!("line {}: cannot read {}: {e}", link.line, path));
                continue;
            }
        };
        if !heads.iter().any(|h| h == anchor) {
            problems.push(format!(
                "line {}: {} has no heading #{anchor}",
                link.line,
                if path.is_empty() { "this page" } else { path }
            ));
        }
    }
    problems
}

/// `a/./b/../c` as `a/c`, for comparing paths that need not exist.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lines of a document outside fenced code blocks, with their numbers (from 1).
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// `line` without its code spans (`` `...` ``).
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// The inline links (`[text](target)`, images too) and reference definitions
/// (`[name]: target`) of a document, outside code.
fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code(line);
        let trimmed = line.trim_start();
        if let Some((label, rest)) = trimmed
            .strip_prefix('[')
            .and_then(|after| after.split_once("]:"))
            && !label.is_empty()
        {
            if let Some(target) = rest.split_whitespace().next() {
                out.push(Link {
                    line: number,
                    target: target.trim_matches(['<', '>']).to_owned(),
                });
            }
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let mut depth = 0usize;
            let end = after.char_indices().find(|&(_, c)| match c {
                '(' => {
                    depth += 1;
                    false
                }
                ')' if depth == 0 => true,
                ')' => {
                    depth -= 1;
                    false
                }
                _ => false,
            });
            let Some((end, _)) = end else { break };
            let inside = after[..end].trim();
            // A title after the target: `[a](page.md "title")`.
            let target = inside.split_whitespace().next().unwrap_or_default();
            let target = target.trim_matches(['<', '>']);
            if !target.is_empty() {
                out.push(Link {
                    line: number,
                    target: target.to_owned(),
                });
            }
            rest = &after[end..];
        }
    }
    out
}

/// The anchors of a document's headings, as mdBook and GitHub make them (a repeated one gets
/// `-1`, `-2`, ...), and the `id`s of its HTML elements.
fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, line) in prose_lines(text) {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let base = slug(trimmed[hashes..].trim().trim_end_matches('#').trim());
            let mut candidate = base.clone();
            let mut n = 0;
            while out.contains(&candidate) {
                n += 1;
                candidate = format!("{base}-{n}");
            }
            out.push(candidate);
        }
        let mut rest = line;
        while let Some(at) = rest.find(" id=\"") {
            let after = &rest[at + 5..];
            let Some(end) = after.find('"') else { break };
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

/// A heading's anchor: its text without link targets and markup, lowercase, spaces as `-`,
/// other punctuation dropped.
fn slug(heading: &str) -> String {
    // `[text](target)` counts as `text`.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](") {
            Some(mid) => match rest[open + mid..].find(')') {
                Some(close) => {
                    text.push_str(&rest[..open]);
                    text.push_str(&rest[open + 1..open + mid]);
                    rest = &rest[open + mid + close + 1..];
                }
                None => break,
            },
            None => break,
        }
    }
    text.push_str(rest);
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().collect::<String>())
            } else if c.is_whitespace() {
                Some("-".into())
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cedargate-docs-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("docs/src/howto")).unwrap();
        dir
    }

    fn write(dir: &Path, path: &str, text: &str) {
        std::fs::write(dir.join(path), text).unwrap();
    }

    #[test]
    fn slugs_follow_mdbook_and_github() {
        assert_eq!(slug("Public routes"), "public-routes");
        assert_eq!(
            slug("Trust configuration (`trust`)"),
            "trust-configuration-trust"
        );
        assert_eq!(slug("AuthZEN 1.0 decisions"), "authzen-10-decisions");
        assert_eq!(slug("Step-up"), "step-up");
        assert_eq!(slug("The [browser app](x.md)"), "the-browser-app");
        assert_eq!(slug("What's new?"), "whats-new");
    }

    #[test]
    fn finds_links_outside_code_and_repeated_headings() {
        let text = "# A\n\nsee [b](b.md#x) and `[c](c.md)`, ![i](i.png \"t\")\n\
                    ```\n[d](d.md)\n```\n[ref]: e.md\n# A\n";
        let targets: Vec<String> = links(text).into_iter().map(|l| l.target).collect();
        assert_eq!(targets, ["b.md#x", "i.png", "e.md"]);
        assert_eq!(anchors(text), ["a", "a-1"]);
        assert_eq!(links("x [a](b.md)\n")[0].line, 1);
    }

    #[test]
    fn reports_a_broken_link_and_a_bad_anchor() {
        let dir = scratch("broken");
        write(
            &dir,
            "docs/src/SUMMARY.md",
            "# Summary\n\n- [Deploy](howto/deploy.md)\n",
        );
        write(
            &dir,
            "docs/src/howto/deploy.md",
            "# Deploy\n\n## With KV\n\n[ok](#with-kv) [ok too](../SUMMARY.md)\n\
             [gone](missing.md) [bad](#without-kv) [bad too](../SUMMARY.md#nowhere)\n\
             [web](https://example.com/nothing)\n",
        );
        for name in ROOT_DOCUMENTS {
            write(
                &dir,
                name,
                "# Root\n\n[the book](docs/src/howto/deploy.md#with-kv)\n",
            );
        }
        let err = check_links(&dir).unwrap_err();
        assert!(err.contains("line 6: missing.md does not exist"), "{err}");
        assert!(
            err.contains("line 6: this page has no heading #without-kv"),
            "{err}"
        );
        assert!(
            err.contains("line 6: ../SUMMARY.md has no heading #nowhere"),
            "{err}"
        );
        assert!(err.starts_with("3 broken link(s)"), "{err}");
        assert!(!err.contains("example.com"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reports_a_page_missing_from_the_summary() {
        let dir = scratch("summary");
        write(&dir, "docs/src/SUMMARY.md", "# Summary\n\n- [A](a.md)\n");
        write(&dir, "docs/src/a.md", "# A\n");
        write(&dir, "docs/src/howto/b.md", "# B\n");
        for name in ROOT_DOCUMENTS {
            write(&dir, name, "# Root\n");
        }
        let err = check_links(&dir).unwrap_err();
        assert!(
            err.contains("docs/src/howto/b.md is not in SUMMARY.md"),
            "{err}"
        );
        write(
            &dir,
            "docs/src/SUMMARY.md",
            "# Summary\n\n- [A](a.md)\n  - [B](./howto/b.md)\n",
        );
        let ok = check_links(&dir).unwrap();
        assert!(ok.contains("3 pages"), "{ok}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
