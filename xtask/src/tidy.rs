//! Checks of the source tree's shape, run by `cargo test` (they read files, nothing else).
//!
//! No module of `shared/`, `edge/`, `web/` or `cli/` depends on itself through other modules:
//! the `crate::` and `super::` paths in code (comments aside) form no circle, at the crate's
//! top level and inside each module directory.
//!
//! `ARCHITECTURE.md` names only what exists (see [`doc_failures`]).
//!
//! The book's benchmarks page is as `cargo xtask bench` generated it (see [`page_edited`]).

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

// What ARCHITECTURE.md names.
//
// Every code span that is a Rust path (`a::b::c`, `Type::method`, `cedargate::Item`) must
// resolve in the workspace's source, read here without a parser of Rust beyond a lexer: its
// module segments to a module (a file, a directory or an inline `mod`) of some crate, its last
// segment to an item that module defines or re-exports (`pub use`), or, after a type, to a
// method, associated item or enum variant the type has. A bare `Type::member` may be anywhere
// in the workspace, except in a row of a table whose first column is `module`: there it must
// be in that row's module (its file and the files below it), so a method described under
// the wrong module is found. A module path ending in `Type::member` means the member is in
// that module's code, or the type is an item of that module and has the member. Every code span
// that is a relative file path (it has a `/` and ends in `/` or a known extension, or starts
// with a top-level entry of the repository) must exist, from the repository's root or, for a
// path written relative to what the text is about (`runtime/`), as the end of some path in it.

/// The source directories the document may name, by crate directory.
const CRATE_DIRS: [&str; 7] = [
    "shared",
    "edge",
    "web",
    "cli",
    "test-support",
    "xtask",
    "tests",
];

/// Extensions that make a code span with a `/` a file path.
const FILE_EXTENSIONS: [&str; 6] = [".rs", ".toml", ".md", ".mjs", ".json", ".js"];

/// An identifier or one character of punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Punct(char),
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The index past the string literal whose contents start at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The tokens of Rust source, without comments, string and character literals and lifetimes.
fn lex(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if c == '\'' {
            if at(i + 1) == Some('\\') {
                // '\n', '\'', '\u{7f}'
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == Some('\'') {
                i += 3;
            } else {
                // A lifetime.
                i += 1;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
            }
        } else if is_ident_char(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if matches!(word.as_str(), "r" | "br" | "cr") && matches!(at(i), Some('"' | '#')) {
                let mut hashes = 0;
                while at(i + hashes) == Some('#') {
                    hashes += 1;
                }
                if at(i + hashes) == Some('"') {
                    // A raw string: it ends at `"` and as many `#`.
                    i += hashes + 1;
                    while i < chars.len()
                        && !(chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == Some('#')))
                    {
                        i += 1;
                    }
                    i += hashes + 1;
                    continue;
                }
                // A raw identifier, `r#type`.
                i += hashes;
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
                continue;
            }
            out.push(Tok::Ident(word));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// What one module's code defines.
#[derive(Debug, Default)]
struct ModuleDefs {
    /// Items (fn, struct, enum, union, trait, type, const, static, mod, macro) and the names
    /// its `pub use` declarations export.
    items: BTreeSet<String>,
    /// Type or trait → the methods, associated items and enum variants given to it here.
    members: BTreeMap<String, BTreeSet<String>>,
    /// The paths of its `pub use path::*` declarations.
    globs: Vec<Vec<String>>,
}

/// What a `{`, `(` or `[` opened.
#[derive(Debug, Clone)]
enum Scope {
    Mod(String),
    Impl(String),
    Trait(String),
    Enum(String),
    Other,
}

fn ident(tok: Option<&Tok>) -> Option<&str> {
    match tok {
        Some(Tok::Ident(name)) => Some(name),
        _ => None,
    }
}

fn punct(tok: Option<&Tok>, c: char) -> bool {
    tok == Some(&Tok::Punct(c))
}

/// The index past the angle brackets that open at `j` (`->` inside them is not a bracket).
fn skip_angles(toks: &[Tok], mut j: usize) -> usize {
    let mut depth = 0;
    while j < toks.len() {
        if punct(toks.get(j), '-') && punct(toks.get(j + 1), '>') {
            j += 2;
            continue;
        }
        if punct(toks.get(j), '<') {
            depth += 1;
        } else if punct(toks.get(j), '>') {
            depth -= 1;
            if depth == 0 {
                return j + 1;
            }
        }
        j += 1;
    }
    j
}

/// For the `impl` at `at`: the name of the type it is for and the index of its `{`.
fn impl_header(toks: &[Tok], at: usize) -> Option<(String, usize)> {
    let mut j = at + 1;
    if punct(toks.get(j), '<') {
        j = skip_angles(toks, j);
    }
    let mut start = j;
    let mut end = None;
    let mut depth = 0;
    while j < toks.len() {
        match &toks[j] {
            Tok::Punct('-') if punct(toks.get(j + 1), '>') => j += 1,
            Tok::Punct('<') => depth += 1,
            Tok::Punct('>') => depth -= 1,
            Tok::Punct(';') => return None,
            Tok::Ident(word) if depth == 0 && word == "for" => start = j + 1,
            Tok::Ident(word) if depth == 0 && word == "where" => end = end.or(Some(j)),
            Tok::Punct('{') if depth == 0 => {
                end = end.or(Some(j));
                break;
            }
            _ => {}
        }
        j += 1;
    }
    let brace = j;
    let ty = &toks[start..end?];
    let mut k = 0;
    while matches!(ty.get(k), Some(Tok::Punct('&' | '(' | '!')))
        || matches!(ident(ty.get(k)), Some("mut" | "dyn"))
    {
        k += 1;
    }
    let mut name = ident(ty.get(k))?;
    while punct(ty.get(k + 1), ':') && punct(ty.get(k + 2), ':') {
        k += 3;
        name = ident(ty.get(k))?;
    }
    Some((name.to_owned(), brace))
}

/// The names a `use` declaration whose tokens run from `from` to its `;` brings in, and its
/// glob paths; and the index of the `;`.
fn use_names(toks: &[Tok], from: usize) -> (Vec<String>, Vec<Vec<String>>, usize) {
    let mut names = Vec::new();
    let mut globs = Vec::new();
    let mut j = from;
    while j < toks.len() && !punct(toks.get(j), ';') {
        match &toks[j] {
            Tok::Ident(name)
                if matches!(toks.get(j + 1), Some(Tok::Punct(',' | '}' | ';')))
                    && name != "self"
                    && name != "_" =>
            {
                names.push(name.clone());
            }
            Tok::Punct('*') => {
                let mut path = Vec::new();
                let mut k = j;
                while k >= 2 && punct(toks.get(k - 1), ':') && punct(toks.get(k - 2), ':') {
                    match ident(toks.get(k.wrapping_sub(3))) {
                        Some(seg) => path.insert(0, seg.to_owned()),
                        None => break,
                    }
                    k -= 3;
                }
                globs.push(path);
            }
            _ => {}
        }
        j += 1;
    }
    (names, globs, j)
}

/// Adds what the tokens of the file of `module` define.
fn read_module(toks: &[Tok], module: &[String], out: &mut BTreeMap<Vec<String>, ModuleDefs>) {
    let mut stack: Vec<Scope> = Vec::new();
    let mut pending: Option<Scope> = None;
    let here = |stack: &[Scope]| -> Vec<String> {
        let mut path = module.to_vec();
        path.extend(stack.iter().filter_map(|s| match s {
            Scope::Mod(name) => Some(name.clone()),
            _ => None,
        }));
        path
    };
    out.entry(module.to_vec()).or_default();
    let mut i = 0;
    while i < toks.len() {
        let at_module_level = stack.iter().all(|s| matches!(s, Scope::Mod(_)));
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        match &toks[i] {
            Tok::Punct('{') => stack.push(pending.take().unwrap_or(Scope::Other)),
            Tok::Punct('(' | '[') => stack.push(Scope::Other),
            Tok::Punct('}' | ')' | ']') => {
                stack.pop();
            }
            Tok::Punct(';') => pending = None,
            Tok::Ident(word) => {
                let word = word.as_str();
                let next = ident(toks.get(i + 1));
                let defs = out.entry(here(&stack)).or_default();
                match (stack.last(), word) {
                    (Some(Scope::Enum(name)), variant)
                        if matches!(prev, Some(Tok::Punct('{' | ',' | ']'))) =>
                    {
                        let name = name.clone();
                        defs.members
                            .entry(name)
                            .or_default()
                            .insert(variant.to_owned());
                    }
                    (_, "impl")
                        if prev.is_none()
                            || matches!(prev, Some(Tok::Punct(';' | '}' | '{' | ']')))
                            || matches!(ident(prev), Some("unsafe" | "default")) =>
                    {
                        if let Some((ty, brace)) = impl_header(toks, i) {
                            pending = Some(Scope::Impl(ty));
                            i = brace;
                            continue;
                        }
                    }
                    (_, "macro_rules") if at_module_level && punct(toks.get(i + 1), '!') => {
                        if let Some(name) = ident(toks.get(i + 2)) {
                            defs.items.insert(name.to_owned());
                        }
                    }
                    (_, "use") if at_module_level && is_pub(toks, i) => {
                        let (names, globs, end) = use_names(toks, i + 1);
                        defs.items.extend(names);
                        defs.globs.extend(globs);
                        i = end;
                        continue;
                    }
                    (
                        top,
                        "fn" | "struct" | "union" | "enum" | "trait" | "type" | "const" | "static"
                        | "mod",
                    ) => {
                        let name = if word == "static" && next == Some("mut") {
                            ident(toks.get(i + 2))
                        } else {
                            next
                        };
                        let Some(name) = name.filter(|n| {
                            !matches!(*n, "_" | "fn" | "unsafe" | "async" | "extern" | "mut")
                        }) else {
                            i += 1;
                            continue;
                        };
                        let name = name.to_owned();
                        match top {
                            Some(Scope::Impl(ty) | Scope::Trait(ty)) => {
                                let ty = ty.clone();
                                defs.members.entry(ty).or_default().insert(name.clone());
                            }
                            _ if at_module_level => {
                                defs.items.insert(name.clone());
                            }
                            _ => {}
                        }
                        pending = match word {
                            "enum" => Some(Scope::Enum(name)),
                            "trait" => Some(Scope::Trait(name)),
                            "mod" if at_module_level => {
                                let mut path = here(&stack);
                                path.push(name.clone());
                                out.entry(path).or_default();
                                Some(Scope::Mod(name))
                            }
                            _ => pending,
                        };
                    }
                    _ => {}
                }
            }
            Tok::Punct(_) => {}
        }
        i += 1;
    }
}

/// Whether the `use` at `at` is `pub` or `pub(...)`.
fn is_pub(toks: &[Tok], at: usize) -> bool {
    let before = |n: usize| at.checked_sub(n).and_then(|p| toks.get(p));
    ident(before(1)) == Some("pub")
        || (punct(before(1), ')') && (2..6).any(|n| ident(before(n)) == Some("pub")))
}

/// One crate's modules, by path below its root.
#[derive(Debug)]
struct Krate {
    /// As Rust code names it (`cedargate_edge`).
    name: String,
    modules: BTreeMap<Vec<String>, ModuleDefs>,
}

impl Krate {
    /// A crate from its `src/` files, given by path relative to `src/` and text.
    fn from_files(name: &str, files: &[(std::path::PathBuf, String)]) -> Self {
        let mut modules = BTreeMap::new();
        modules.insert(Vec::new(), ModuleDefs::default());
        for (file, text) in files {
            let mut path: Vec<String> = file
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if let Some(last) = path.pop() {
                let stem = last.strip_suffix(".rs").unwrap_or(&last);
                if !matches!(stem, "mod" | "lib" | "main") {
                    path.push(stem.to_owned());
                }
            }
            for n in 1..path.len() {
                modules.entry(path[..n].to_vec()).or_default();
            }
            read_module(&lex(text), &path, &mut modules);
        }
        Krate {
            name: name.to_owned(),
            modules,
        }
    }

    fn has_module(&self, path: &[String]) -> bool {
        self.modules.contains_key(path)
    }

    /// The names an item path can end in at `module`: its items, submodules and re-exports.
    fn items(&self, module: &[String]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(defs) = self.modules.get(module) else {
            return out;
        };
        out.extend(defs.items.iter().cloned());
        for path in self.modules.keys() {
            if path.len() == module.len() + 1 && path.starts_with(module) {
                out.extend(path.last().cloned());
            }
        }
        for glob in &defs.globs {
            let target: Vec<String> = match glob.first().map(String::as_str) {
                Some("crate") => glob[1..].to_vec(),
                Some("self") => module.iter().chain(&glob[1..]).cloned().collect(),
                Some("super") => {
                    let parent = &module[..module.len().saturating_sub(1)];
                    parent.iter().chain(&glob[1..]).cloned().collect()
                }
                _ => module.iter().chain(glob).cloned().collect(),
            };
            if let Some(defs) = self.modules.get(&target) {
                out.extend(defs.items.iter().cloned());
            }
        }
        out
    }

    /// The modules at or below `module` that give `ty` the member `member`.
    fn member_places(&self, module: &[String], ty: &str, member: &str) -> Vec<String> {
        self.modules
            .iter()
            .filter(|(path, defs)| {
                path.starts_with(module) && defs.members.get(ty).is_some_and(|m| m.contains(member))
            })
            .map(|(path, _)| {
                std::iter::once(self.name.as_str())
                    .chain(path.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join("::")
            })
            .collect()
    }
}

/// Whether a path segment names a type (or trait) rather than a module or function.
fn is_type_name(seg: &str) -> bool {
    seg.starts_with(|c: char| c.is_ascii_uppercase()) && seg.chars().any(|c| c.is_lowercase())
}

/// The crates of the workspace.
#[derive(Debug)]
struct Workspace {
    crates: Vec<Krate>,
}

impl Workspace {
    /// The crates of [`CRATE_DIRS`] under `root`, named as their manifests name them.
    fn load(root: &Path) -> Self {
        let crates = CRATE_DIRS
            .iter()
            .map(|dir| {
                let manifest =
                    fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap_or_default();
                let name = manifest
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("name = \""))
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or(dir)
                    .replace('-', "_");
                let mut files = Vec::new();
                rust_files(&root.join(dir).join("src"), Path::new(""), &mut files);
                Krate::from_files(&name, &files)
            })
            .collect();
        Workspace { crates }
    }

    fn named(&self, name: &str) -> Option<&Krate> {
        self.crates.iter().find(|k| k.name == name)
    }

    /// Where in the workspace `ty` is given `member`.
    fn member_places(&self, ty: &str, member: &str) -> Vec<String> {
        self.crates
            .iter()
            .flat_map(|k| k.member_places(&[], ty, member))
            .collect()
    }

    /// Why the path `segs` names nothing, or `None` if it names something.
    fn unresolved(&self, segs: &[&str]) -> Option<String> {
        if let [ty, member] = segs
            && is_type_name(ty)
        {
            return self
                .member_places(ty, member)
                .is_empty()
                .then(|| format!("`{ty}` has no method, associated item or variant `{member}`"));
        }
        let (candidates, rest): (Vec<&Krate>, &[&str]) = match self.named(segs[0]) {
            Some(krate) => (vec![krate], &segs[1..]),
            None => (self.crates.iter().collect(), segs),
        };
        let mut best: Option<(usize, String)> = None;
        for krate in candidates {
            match self.unresolved_in(krate, rest) {
                None => return None,
                Some((depth, why)) => {
                    if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                        best = Some((depth, why));
                    }
                }
            }
        }
        best.map(|(_, why)| why)
    }

    /// How many segments of `segs` name modules of `krate`, and why the path does not
    /// resolve there; `None` if it does.
    fn unresolved_in(&self, krate: &Krate, segs: &[&str]) -> Option<(usize, String)> {
        let mut module: Vec<String> = Vec::new();
        for seg in segs.iter().take_while(|s| !is_type_name(s)) {
            let mut deeper = module.clone();
            deeper.push((*seg).to_owned());
            if !krate.has_module(&deeper) {
                break;
            }
            module = deeper;
        }
        let depth = module.len();
        let shown = std::iter::once(krate.name.as_str())
            .chain(module.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("::");
        let why = match &segs[depth..] {
            [] => return None,
            [item] if krate.items(&module).contains(*item) => return None,
            [item] => format!("no item `{item}` in `{shown}`"),
            [ty, member] if is_type_name(ty) => {
                if !krate.member_places(&module, ty, member).is_empty()
                    || (krate.items(&module).contains(*ty)
                        && !self.member_places(ty, member).is_empty())
                {
                    return None;
                }
                format!("no `{ty}::{member}` in `{shown}`")
            }
            [first, ..] if is_type_name(first) => {
                format!("`{first}` in `{shown}` is a type, not a module")
            }
            [first, ..] => format!("no module `{first}` in `{shown}`"),
        };
        Some((depth, why))
    }
}

/// The code spans of a line of Markdown (the text between pairs of backticks).
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The cells of a table row, split at `|` outside code spans.
fn cells(row: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_code = false;
    let mut start = 0;
    for (at, c) in row.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '|' if !in_code => {
                out.push(&row[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    out.push(&row[start..]);
    // The text before the first `|` and after the last one is no cell.
    out.into_iter()
        .skip(1)
        .rev()
        .skip(1)
        .rev()
        .map(str::trim)
        .collect()
}

/// The segments of a code span written as a Rust path (`a::b`, `Type::method()`).
fn rust_path(span: &str) -> Option<Vec<&str>> {
    let span = span.strip_suffix("()").unwrap_or(span);
    let segs: Vec<&str> = span.split("::").collect();
    (segs.len() > 1
        && segs.iter().all(|s| {
            s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }))
    .then_some(segs)
}

/// Whether a code span is a relative file or directory path.
fn is_file_path(span: &str, top_level: &BTreeSet<String>) -> bool {
    span.contains('/')
        && !span.starts_with(['/', '.'])
        && span
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
        && (span.ends_with('/')
            || FILE_EXTENSIONS.iter().any(|e| span.ends_with(e))
            || span
                .split('/')
                .next()
                .is_some_and(|s| top_level.contains(s)))
}

/// Every file and directory of the repository below `dir`, as `/`-separated paths relative
/// to the repository (directories end in `/`); build output, dependencies and hidden entries
/// left out.
fn tree(dir: &Path, rel: &str, out: &mut BTreeSet<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        let path = format!("{rel}{name}");
        if entry.path().is_dir() {
            out.insert(format!("{path}/"));
            tree(&entry.path(), &format!("{path}/"), out);
        } else {
            out.insert(path);
        }
    }
}

/// Whether the file path `span` names an entry of `files` (from the repository's root, or as
/// the end of a longer path).
fn file_exists(span: &str, files: &BTreeSet<String>) -> bool {
    let as_dir = format!("{}/", span.trim_end_matches('/'));
    let wanted: Vec<&str> = if span.ends_with('/') {
        vec![&as_dir]
    } else {
        vec![span, &as_dir]
    };
    wanted.iter().any(|w| {
        files.contains(*w)
            || files
                .iter()
                .any(|f| f.ends_with(*w) && f[..f.len() - w.len()].ends_with('/'))
    })
}

/// What the document names that does not exist, one line per failure with its line number;
/// and how many code spans were checked.
fn doc_failures(doc: &str, ws: &Workspace, files: &BTreeSet<String>) -> (Vec<String>, usize) {
    let top_level: BTreeSet<String> = files
        .iter()
        .map(|f| f.split('/').next().unwrap_or_default().to_owned())
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    // The crate a heading names, whose modules a module table lists.
    let mut section_crate: Option<&Krate> = None;
    let mut in_module_table = false;
    let mut in_fence = false;
    for (n, line) in doc.lines().enumerate() {
        let n = n + 1;
        let mut fail = |span: &str, why: String| {
            failures.push(format!("ARCHITECTURE.md:{n}: `{span}`: {why}"));
        };
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if line.starts_with('#') {
            section_crate = code_spans(line).into_iter().find_map(|s| ws.named(s));
        }
        if line.starts_with('|') {
            let row = cells(line);
            if row.first() == Some(&"module") {
                in_module_table = true;
            } else if in_module_table && !row.iter().all(|c| c.chars().all(|c| "-: ".contains(c))) {
                check_module_row(&row, section_crate, ws, &mut fail);
            }
        } else {
            in_module_table = false;
        }
        for span in code_spans(line) {
            if let Some(segs) = rust_path(span) {
                checked += 1;
                if let Some(why) = ws.unresolved(&segs) {
                    fail(span, why);
                }
            } else if span.contains("::") {
                fail(span, "not a path the check can read".to_owned());
            } else if is_file_path(span, &top_level) {
                checked += 1;
                if !file_exists(span, files) {
                    fail(span, "no such file or directory".to_owned());
                }
            }
        }
    }
    (failures, checked)
}

/// A row of a module table: the modules of its first cell exist (in the section's crate, or
/// in some crate), and every bare `Type::member` of the other cells is in one of them.
fn check_module_row(
    row: &[&str],
    section_crate: Option<&Krate>,
    ws: &Workspace,
    fail: &mut impl FnMut(&str, String),
) {
    let crates: Vec<&Krate> = match section_crate {
        Some(krate) => vec![krate],
        None => ws.crates.iter().collect(),
    };
    let modules: Vec<(&Krate, Vec<String>)> = code_spans(row.first().copied().unwrap_or(""))
        .into_iter()
        .filter_map(|span| {
            let path: Vec<String> = span.split("::").map(str::to_owned).collect();
            let found = crates.iter().find(|k| k.has_module(&path));
            if found.is_none() {
                let within =
                    section_crate.map_or("any crate".to_owned(), |k| format!("`{}`", k.name));
                fail(span, format!("no module of that name in {within}"));
            }
            found.map(|k| (*k, path))
        })
        .collect();
    if modules.is_empty() {
        return;
    }
    for span in row.iter().skip(1).flat_map(|cell| code_spans(cell)) {
        let Some(segs) = rust_path(span) else {
            continue;
        };
        let [ty, member] = segs[..] else {
            continue;
        };
        if !is_type_name(ty)
            || modules
                .iter()
                .any(|(k, m)| !k.member_places(m, ty, member).is_empty())
        {
            continue;
        }
        let places = ws.member_places(ty, member);
        if !places.is_empty() {
            let listed: Vec<String> = modules.iter().map(|(_, m)| m.join("::")).collect();
            fail(
                span,
                format!(
                    "listed under `{}` but defined in `{}`",
                    listed.join("`, `"),
                    places.join("`, `")
                ),
            );
        }
    }
}

// The benchmarks page.
//
// `cargo xtask bench` writes `docs/src/benchmarks.md` from its report and ends it with a line
// holding the SHA-256 of the text above ([`crate::bench::page`]). A page whose text no longer
// matches that digest was edited by hand after it was generated.

/// Why the benchmarks page `page` is not as `cargo xtask bench` wrote it, or `None`.
fn page_edited(page: &str) -> Option<String> {
    use crate::bench::{PAGE_MARKER, sha256_hex};
    let body_end = page
        .trim_end_matches('\n')
        .rfind('\n')
        .map_or(0, |at| at + 1);
    let (body, last) = page.split_at(body_end);
    let Some(digest) = last
        .trim_end_matches('\n')
        .strip_prefix(PAGE_MARKER)
        .and_then(|rest| rest.strip_suffix(" -->"))
    else {
        return Some(format!(
            "its last line is not the `{PAGE_MARKER}... -->` line `cargo xtask bench` ends it \
             with; the page is generated, run `cargo xtask bench` to write it"
        ));
    };
    let actual = sha256_hex(body.as_bytes());
    (digest != actual).then(|| {
        format!(
            "its text was changed after `cargo xtask bench` generated it (the last line says \
             sha256 {digest}, the text above it is {actual}): undo the edit, or run \
             `cargo xtask bench` to generate the page again"
        )
    })
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
    fn architecture_names_what_exists() {
        let root = root();
        let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
        let ws = Workspace::load(&root);
        let mut files = BTreeSet::new();
        tree(&root, "", &mut files);
        let (failures, checked) = doc_failures(&doc, &ws, &files);
        assert!(
            failures.is_empty(),
            "ARCHITECTURE.md names what does not exist:\n{}",
            failures.join("\n")
        );
        assert!(checked > 60, "only {checked} names were checked");
    }

    #[test]
    fn benchmarks_page_is_as_generated() {
        let page_path = root().join(crate::bench::PAGE);
        let page = fs::read_to_string(&page_path).expect("the benchmarks page");
        if let Some(why) = page_edited(&page) {
            panic!("{}: {why}", crate::bench::PAGE);
        }
    }

    #[test]
    fn hand_edits_of_the_benchmarks_page_are_found() {
        let page = crate::bench::page(
            "# cedargate benchmarks\n\nProduced by `cargo xtask bench`.\n\n| goal | met |\n|---|---|\n| a | no |\n",
        );
        assert_eq!(page_edited(&page), None);
        let edited = page.replace("| a | no |", "| a | yes |");
        assert!(
            page_edited(&edited).is_some_and(|why| why.contains("changed after")),
            "{edited}"
        );
        let added = page.replacen("\n\n", "\n\nA word of praise.\n\n", 1);
        assert!(page_edited(&added).is_some(), "{added}");
        let (body, _) = page
            .trim_end_matches('\n')
            .rsplit_once('\n')
            .expect("lines");
        for unmarked in [
            format!("{body}\n"),
            format!("{body}\n<!-- generated by hand -->\n"),
            format!("{page}More text after the marker.\n"),
            String::new(),
        ] {
            assert!(
                page_edited(&unmarked).is_some_and(|why| why.contains("last line")),
                "{unmarked}"
            );
        }
        let forged = format!("{body}\n{}0 -->\n", crate::bench::PAGE_MARKER);
        assert!(page_edited(&forged).is_some(), "{forged}");
        // A trailing newline more or less is not an edit of the text.
        assert_eq!(page_edited(page.trim_end_matches('\n')), None);
    }

    #[test]
    fn made_up_and_misplaced_names_are_found() {
        let files = [
            (
                "lib.rs",
                "pub mod a;\nmod b;\npub use a::{Thing, Kind as Sort};\nmacro_rules! m { () => {} }",
            ),
            (
                "a.rs",
                "/// impl Gone { fn no() }\npub struct Thing;\nimpl Thing {\n    pub fn real(&self) {\n        \
                 let s = \"}\"; let c = '{'; let r = r#\"}\"#;\n        fn inner() {}\n    }\n}\n\
                 pub enum Kind { #[default] One, Two(u8), Three { x: u8 } }\n\
                 impl<'a, T: Fn() -> u8> std::fmt::Debug for Wrap<'a, T> where T: Copy { fn fmt() {} }",
            ),
            (
                "b/mod.rs",
                "impl crate::a::Thing { fn elsewhere(&self) {} }\npub fn helper(x: impl Fn()) {}\n\
                 mod tests { fn hidden() {} }",
            ),
        ];
        let files: Vec<_> = files
            .iter()
            .map(|(p, t)| (Path::new(p).to_path_buf(), (*t).to_owned()))
            .collect();
        let ws = Workspace {
            crates: vec![Krate::from_files("demo", &files)],
        };
        let tree: BTreeSet<String> = ["src/", "src/a.rs", "src/b/", "src/b/mod.rs"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let doc = "## Modules of `demo`\n\
                   \n\
                   | module | job |\n\
                   |---|---|\n\
                   | `a` | `Thing`, `Thing::real`, `Kind::Three`, `Wrap::fmt`, `b::Thing::elsewhere` |\n\
                   | `a` | `Thing::elsewhere` |\n\
                   | `nope`, `b` | `Thing::elsewhere` |\n\
                   \n\
                   Fine: `a::Thing`, `demo::Thing`, `demo::Sort`, `demo::m`, `demo::a::Kind::One`,\n\
                   `b::helper`, `b::tests::hidden`, `Thing::real()`, `src/a.rs`, `b/`, `text/plain`, `/.well-known/x`.\n\
                   Not: `a::Gone`, `Gone::no`, `Thing::inner`, `Thing::made_up`, `zz::y`, `b::hidden`,\n\
                   `a::Thing::elsewhere::x`, `Vec<u8>::new`, `src/gone.rs`, `src/b/mod.rs/`.";
        let (failures, checked) = doc_failures(doc, &ws, &tree);
        let failed: Vec<(&str, &str)> = failures
            .iter()
            .map(|f| {
                let (line, rest) = f.split_once(": `").expect("line, then span");
                (line, rest.split('`').next().expect("a span"))
            })
            .collect();
        assert_eq!(
            failed,
            [
                ("ARCHITECTURE.md:6", "Thing::elsewhere"),
                ("ARCHITECTURE.md:7", "nope"),
                ("ARCHITECTURE.md:11", "a::Gone"),
                ("ARCHITECTURE.md:11", "Gone::no"),
                ("ARCHITECTURE.md:11", "Thing::inner"),
                ("ARCHITECTURE.md:11", "Thing::made_up"),
                ("ARCHITECTURE.md:11", "zz::y"),
                ("ARCHITECTURE.md:11", "b::hidden"),
                ("ARCHITECTURE.md:12", "a::Thing::elsewhere::x"),
                ("ARCHITECTURE.md:12", "Vec<u8>::new"),
                ("ARCHITECTURE.md:12", "src/gone.rs"),
                ("ARCHITECTURE.md:12", "src/b/mod.rs/"),
            ],
            "{failures:#?}"
        );
        assert!(
            failures[0].contains("defined in `demo::b`"),
            "{}",
            failures[0]
        );
        assert_eq!(checked, 25, "{failures:#?}");
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
