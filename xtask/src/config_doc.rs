//! `cargo xtask docs-config`: writes `docs/src/reference/configuration.md`, the reference of
//! the worker's `CEDARGATE_CONFIG`, from the configuration types' code and doc comments.
//!
//! xtask has no dependencies, so the Rust source is read as text by a small reader that
//! knows the shapes the configuration types are written in: top-level `pub struct` and
//! `pub enum` items deriving `Deserialize`, their `///` doc comments, one field or variant a
//! line, `#[serde(...)]` attributes (`default`, `default = "fn"`, `rename`, `rename_all`,
//! `deny_unknown_fields`, `deserialize_with`), `#[default]` variants, and `fn default_x() -> T`
//! functions whose body is one literal (or a `const` of literals). Anything else in the
//! files is skipped. A type the page needs but the reader cannot find is an error, not a
//! silently thinner page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The page, relative to the repository root.
pub const PAGE: &str = "docs/src/reference/configuration.md";

/// The files the configuration types live in, relative to the repository root. The first
/// one's `//!` comment opens the page.
const SOURCES: [&str; 5] = [
    "edge/src/config.rs",
    "shared/src/trust_config.rs",
    "shared/src/context.rs",
    "shared/src/token.rs",
    "shared/src/jwks.rs",
];

/// The type the page starts from.
const ROOT: &str = "EdgeConfig";

/// `cargo xtask docs-config`.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask docs-config".into());
    }
    let root = crate::run::root();
    let page = generate(&root)?;
    let path = root.join(PAGE);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {PAGE}");
    Ok(())
}

/// The page for the sources under `root`.
pub fn generate(root: &Path) -> Result<String, String> {
    let mut source = Source::default();
    let mut intro = String::new();
    for (i, file) in SOURCES.iter().enumerate() {
        let text = std::fs::read_to_string(root.join(file))
            .map_err(|e| format!("{file}: {e} (the configuration reference reads it)"))?;
        if i == 0 {
            intro = module_doc(&text);
        }
        source.read(file, &text)?;
    }
    render(&source, ROOT, &intro)
}

/// One `#[derive(Deserialize)]` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub file: String,
    pub doc: Vec<String>,
    pub deny_unknown_fields: bool,
    pub rename_all: Option<String>,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Struct(Vec<Field>),
    Enum(Vec<Variant>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The Rust name.
    pub name: String,
    /// `#[serde(rename = "...")]`.
    pub rename: Option<String>,
    /// The type as written.
    pub ty: String,
    pub doc: Vec<String>,
    pub default: SerdeDefault,
    pub deserialize_with: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerdeDefault {
    /// No `default`: the field is required unless it is an `Option`.
    None,
    /// `#[serde(default)]`: the type's `Default`.
    Type,
    /// `#[serde(default = "f")]`.
    Function(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub rename: Option<String>,
    pub doc: Vec<String>,
    /// `#[default]`.
    pub is_default: bool,
}

/// Everything read from the sources.
#[derive(Debug, Default)]
pub struct Source {
    pub items: BTreeMap<String, Item>,
    /// Bodies of free functions without parameters, trimmed: `fn name() -> T { body }`.
    pub functions: BTreeMap<String, String>,
    /// `const NAME: T = value;`.
    pub consts: BTreeMap<String, String>,
}

/// The `//!` lines of a file.
fn module_doc(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l).to_owned())
        .collect();
    lines.join("\n")
}

/// A doc line's text: `/// text` → `text`.
fn doc_line(trimmed: &str) -> Option<String> {
    let rest = trimmed.strip_prefix("///")?;
    if rest.starts_with('/') {
        return None; // `////` is an ordinary comment
    }
    Some(rest.strip_prefix(' ').unwrap_or(rest).to_owned())
}

/// The top-level `key` or `key = "value"` entries of an attribute's parentheses.
fn attribute_args(inner: &str) -> Vec<(String, Option<String>)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (
                k.trim().to_owned(),
                Some(v.trim().trim_matches('"').to_owned()),
            ),
            None => (p.to_owned(), None),
        })
        .collect()
}

/// Attributes and docs gathered before an item, field or variant.
#[derive(Debug, Default)]
struct Pending {
    doc: Vec<String>,
    derives_deserialize: bool,
    serde: Vec<(String, Option<String>)>,
    is_default: bool,
}

impl Pending {
    fn attribute(&mut self, attr: &str) {
        let attr = attr.trim();
        let body = attr
            .strip_prefix("#[")
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or("")
            .trim();
        if body == "default" {
            self.is_default = true;
        } else if let Some(inner) = body
            .strip_prefix("derive(")
            .and_then(|b| b.strip_suffix(')'))
        {
            if attribute_args(inner)
                .iter()
                .any(|(k, _)| k.rsplit("::").next() == Some("Deserialize"))
            {
                self.derives_deserialize = true;
            }
        } else if let Some(inner) = body
            .strip_prefix("serde(")
            .and_then(|b| b.strip_suffix(')'))
        {
            self.serde.extend(attribute_args(inner));
        }
    }

    fn serde_value(&self, key: &str) -> Option<&str> {
        self.serde
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    fn serde_flag(&self, key: &str) -> bool {
        self.serde.iter().any(|(k, _)| k == key)
    }
}

/// Lines with multi-line attributes joined into one.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    for line in text.lines() {
        if let Some(mut acc) = open.take() {
            acc.push(' ');
            acc.push_str(line.trim());
            if balanced(&acc) {
                out.push(acc);
            } else {
                open = Some(acc);
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[") && !balanced(trimmed) {
            open = Some(line.to_owned());
        } else {
            out.push(line.to_owned());
        }
    }
    if let Some(acc) = open {
        out.push(acc);
    }
    out
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    let mut in_string = false;
    for c in text.chars() {
        match c {
            '"' => in_string = !in_string,
            '[' | '(' if !in_string => depth += 1,
            ']' | ')' if !in_string => depth -= 1,
            _ => {}
        }
    }
    depth <= 0
}

impl Source {
    /// Reads one file's items, functions and constants.
    pub fn read(&mut self, file: &str, text: &str) -> Result<(), String> {
        let lines = logical_lines(text);
        let mut pending = Pending::default();
        let mut i = 0;
        while i < lines.len() {
            let line = &lines[i];
            let trimmed = line.trim();
            i += 1;
            // Only top-level items: no indentation.
            if line.starts_with(char::is_whitespace) || trimmed.is_empty() {
                if trimmed.is_empty() {
                    pending = Pending::default();
                }
                continue;
            }
            if let Some(doc) = doc_line(trimmed) {
                pending.doc.push(doc);
                continue;
            }
            if trimmed.starts_with("#[") {
                pending.attribute(trimmed);
                continue;
            }
            if trimmed.starts_with("//") {
                continue;
            }
            let taken = std::mem::take(&mut pending);
            let words: Vec<&str> = trimmed.split_whitespace().collect();
            match words.as_slice() {
                ["pub", kw @ ("struct" | "enum"), name, "{", ..] if taken.derives_deserialize => {
                    let name = name.to_string();
                    let (body, next) = block_body(&lines, i);
                    i = next;
                    let kind = if *kw == "struct" {
                        Kind::Struct(read_fields(&body, &name, file)?)
                    } else {
                        Kind::Enum(read_variants(&body, &name, file)?)
                    };
                    let item = Item {
                        name: name.clone(),
                        file: file.to_owned(),
                        doc: taken.doc.clone(),
                        deny_unknown_fields: taken.serde_flag("deny_unknown_fields"),
                        rename_all: taken.serde_value("rename_all").map(str::to_owned),
                        kind,
                    };
                    if self.items.insert(name.clone(), item).is_some() {
                        return Err(format!("{file}: a second item named {name}"));
                    }
                }
                _ if trimmed.starts_with("fn ") || trimmed.starts_with("pub fn ") => {
                    let head = trimmed.trim_start_matches("pub ").trim_start_matches("fn ");
                    if let Some((name, rest)) = head.split_once("()") {
                        let rest = rest.trim_end();
                        if let Some(one_line) =
                            rest.strip_suffix('}').filter(|_| rest.contains('{'))
                        {
                            let body = one_line.split_once('{').map_or("", |(_, b)| b);
                            self.functions
                                .insert(name.to_owned(), body.trim().to_owned());
                        } else if rest.ends_with('{') {
                            let (body, next) = block_body(&lines, i);
                            i = next;
                            let body: Vec<&str> = body.iter().map(|l| l.trim()).collect();
                            self.functions.insert(name.to_owned(), body.join(" "));
                        }
                    }
                }
                _ if trimmed.starts_with("pub const ") || trimmed.starts_with("const ") => {
                    let head = trimmed
                        .trim_start_matches("pub ")
                        .trim_start_matches("const ");
                    if let (Some((name, _)), Some((_, value))) =
                        (head.split_once(':'), head.split_once('='))
                    {
                        self.consts.insert(
                            name.trim().to_owned(),
                            value.trim().trim_end_matches(';').trim().to_owned(),
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The lines after an opening line up to its closing `}` at column 0, and the index after it.
fn block_body(lines: &[String], start: usize) -> (Vec<String>, usize) {
    let mut body = Vec::new();
    let mut i = start;
    while i < lines.len() {
        if lines[i].starts_with('}') {
            return (body, i + 1);
        }
        body.push(lines[i].clone());
        i += 1;
    }
    (body, i)
}

fn read_fields(body: &[String], item: &str, file: &str) -> Result<Vec<Field>, String> {
    let mut fields = Vec::new();
    let mut pending = Pending::default();
    for line in body {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(doc) = doc_line(trimmed) {
            pending.doc.push(doc);
            continue;
        }
        if trimmed.starts_with("#[") {
            pending.attribute(trimmed);
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let taken = std::mem::take(&mut pending);
        let decl = trimmed
            .strip_prefix("pub(crate) ")
            .or_else(|| trimmed.strip_prefix("pub "))
            .unwrap_or(trimmed);
        let Some((name, ty)) = decl.split_once(':') else {
            return Err(format!(
                "{file}: {item}: cannot read the field line {trimmed:?}"
            ));
        };
        let ty = ty.trim().trim_end_matches(',').trim();
        if ty.is_empty()
            || ty.matches('<').count() != ty.matches('>').count()
            || name.trim().contains(char::is_whitespace)
        {
            return Err(format!(
                "{file}: {item}: the field line {trimmed:?} is not `name: Type,` on one line"
            ));
        }
        let default = match taken.serde.iter().find(|(k, _)| k == "default") {
            None => SerdeDefault::None,
            Some((_, None)) => SerdeDefault::Type,
            Some((_, Some(f))) => SerdeDefault::Function(f.clone()),
        };
        fields.push(Field {
            name: name.trim().to_owned(),
            rename: taken.serde_value("rename").map(str::to_owned),
            ty: ty.to_owned(),
            doc: taken.doc.clone(),
            default,
            deserialize_with: taken.serde_value("deserialize_with").map(str::to_owned),
        });
    }
    Ok(fields)
}

fn read_variants(body: &[String], item: &str, file: &str) -> Result<Vec<Variant>, String> {
    let mut variants = Vec::new();
    let mut pending = Pending::default();
    for line in body {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") && doc_line(trimmed).is_none() {
            continue;
        }
        if let Some(doc) = doc_line(trimmed) {
            pending.doc.push(doc);
            continue;
        }
        if trimmed.starts_with("#[") {
            pending.attribute(trimmed);
            continue;
        }
        let taken = std::mem::take(&mut pending);
        let name: String = trimmed
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let rest = trimmed[name.len()..].trim();
        if name.is_empty() || !(rest.is_empty() || rest == ",") {
            return Err(format!(
                "{file}: {item}: only unit variants are read, not {trimmed:?}"
            ));
        }
        variants.push(Variant {
            name,
            rename: taken.serde_value("rename").map(str::to_owned),
            doc: taken.doc.clone(),
            is_default: taken.is_default,
        });
    }
    Ok(variants)
}

/// Words of a Rust identifier (`NotFound` → `not`, `found`; `max_ttl` → `max`, `ttl`).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut word = String::new();
        for c in part.chars() {
            if c.is_uppercase() && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            word.extend(c.to_lowercase());
        }
        out.push(word);
    }
    out
}

/// A name as `#[serde(rename_all = rule)]` spells it.
pub fn apply_rename_all(rule: &str, name: &str) -> Result<String, String> {
    let w = words(name);
    let capital = |s: &String| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    Ok(match rule {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "snake_case" => w.join("_"),
        "kebab-case" => w.join("-"),
        "SCREAMING_SNAKE_CASE" => w.join("_").to_uppercase(),
        "PascalCase" => w.iter().map(capital).collect(),
        "camelCase" => w
            .iter()
            .enumerate()
            .map(|(i, s)| if i == 0 { s.clone() } else { capital(s) })
            .collect(),
        other => return Err(format!("rename_all = {other:?} is not known to the reader")),
    })
}

/// A field's JSON name.
pub fn json_field_name(item: &Item, field: &Field) -> Result<String, String> {
    match (&field.rename, &item.rename_all) {
        (Some(r), _) => Ok(r.clone()),
        (None, Some(rule)) => apply_rename_all(rule, &field.name),
        (None, None) => Ok(field.name.clone()),
    }
}

/// A variant's JSON name.
pub fn json_variant_name(item: &Item, variant: &Variant) -> Result<String, String> {
    match (&variant.rename, &item.rename_all) {
        (Some(r), _) => Ok(r.clone()),
        (None, Some(rule)) => apply_rename_all(rule, &variant.name),
        (None, None) => Ok(variant.name.clone()),
    }
}

/// The last path segment of a type (`cedargate::ContextConfig` → `ContextConfig`).
fn last_segment(ty: &str) -> &str {
    ty.rsplit("::").next().unwrap_or(ty).trim()
}

/// The argument of `Wrapper<...>`, if `ty` is one.
fn generic_arg<'a>(ty: &'a str, wrapper: &str) -> Option<&'a str> {
    let ty = ty.trim();
    let rest = ty.strip_prefix(wrapper)?.strip_prefix('<')?;
    rest.strip_suffix('>').map(str::trim)
}

/// What a type is to a reader of the JSON.
#[derive(Debug, PartialEq, Eq)]
pub enum Shape {
    Option(Box<Shape>),
    List(Box<Shape>),
    /// A JSON object whose members are named by the user (`BTreeMap<String, T>`).
    Map(Box<Shape>),
    /// A configuration type of the page.
    Item(String),
    Plain(&'static str),
    /// A type the reader does not know.
    Other(String),
}

/// A field's shape: its type's, except for a `Duration` read by the `seconds` or
/// `milliseconds` reader, which JSON writes as a whole number of that unit.
pub fn field_shape(field: &Field, source: &Source) -> Shape {
    match (last_segment(&field.ty), field.deserialize_with.as_deref()) {
        ("Duration", Some("seconds")) => Shape::Plain("integer ≥ 0, in seconds"),
        ("Duration", Some("milliseconds")) => Shape::Plain("integer ≥ 0, in milliseconds"),
        _ => shape(&field.ty, source),
    }
}

/// Whether the field's reader is one the page names by its shape (see [`field_shape`]).
fn reader_is_a_unit(field: &Field) -> bool {
    matches!(
        field.deserialize_with.as_deref(),
        Some("seconds" | "milliseconds")
    ) && last_segment(&field.ty) == "Duration"
}

pub fn shape(ty: &str, source: &Source) -> Shape {
    if let Some(inner) = generic_arg(ty, "Option") {
        return Shape::Option(Box::new(shape(inner, source)));
    }
    if let Some(inner) = generic_arg(ty, "Vec") {
        return Shape::List(Box::new(shape(inner, source)));
    }
    if let Some(value) = ["BTreeMap", "HashMap"]
        .iter()
        .find_map(|map| generic_arg(ty, map))
        .and_then(|args| args.strip_prefix("String,"))
    {
        return Shape::Map(Box::new(shape(value, source)));
    }
    let name = last_segment(ty);
    match name {
        "String" | "str" => Shape::Plain("string"),
        "bool" => Shape::Plain("boolean"),
        "u8" | "u16" | "u32" | "u64" | "usize" => Shape::Plain("integer ≥ 0"),
        "i8" | "i16" | "i32" | "i64" | "isize" => Shape::Plain("integer"),
        "f32" | "f64" => Shape::Plain("number"),
        _ if source.items.contains_key(name) => Shape::Item(name.to_owned()),
        _ => Shape::Other(name.to_owned()),
    }
}

fn anchor(name: &str) -> String {
    name.to_lowercase()
}

fn render_shape(s: &Shape) -> String {
    match s {
        Shape::Option(inner) => render_shape(inner),
        Shape::List(inner) => format!("list of {}", render_shape(inner)),
        Shape::Map(inner) => format!("object of {} by name", render_shape(inner)),
        Shape::Item(name) => format!("[`{name}`](#{})", anchor(name)),
        Shape::Plain(p) => (*p).to_owned(),
        Shape::Other(name) => format!("`{name}`"),
    }
}

/// A default function's value when its body is a literal, as JSON would write it.
pub fn literal_value(body: &str, source: &Source) -> Option<String> {
    let body = body.trim();
    if let Some(inner) = body.strip_prefix("Some(").and_then(|b| b.strip_suffix(')')) {
        return literal_value(inner, source);
    }
    if let Some(inner) = body.strip_prefix("vec![").and_then(|b| b.strip_suffix(']')) {
        let items: Option<Vec<String>> = attribute_args(&inner.replace('"', "\u{0}"))
            .iter()
            .map(|(k, _)| literal_value(&k.replace('\u{0}', "\""), source))
            .collect();
        return items.map(|i| format!("[{}]", i.join(", ")));
    }
    for suffix in [".into()", ".to_string()", ".to_owned()"] {
        if let Some(s) = body.strip_suffix(suffix) {
            return string_literal(s);
        }
    }
    if let Some(s) = body
        .strip_prefix("String::from(")
        .and_then(|b| b.strip_suffix(')'))
    {
        return string_literal(s);
    }
    for constructor in ["Duration::from_secs(", "Duration::from_millis("] {
        if let Some(inner) = body
            .strip_prefix(constructor)
            .and_then(|b| b.strip_suffix(')'))
        {
            return integer(inner.trim()).map(|n| n.to_string());
        }
    }
    if body == "true" || body == "false" {
        return Some(body.to_owned());
    }
    if let Some(n) = integer(body) {
        return Some(n.to_string());
    }
    if let Some(value) = source.consts.get(body) {
        return literal_value(value, source);
    }
    // A product of integer literals, as constants are written (`16 * 1024`).
    let factors: Option<Vec<u128>> = body.split('*').map(|f| integer(f.trim())).collect();
    factors
        .filter(|f| f.len() > 1)
        .and_then(|f| f.iter().try_fold(1u128, |a, b| a.checked_mul(*b)))
        .map(|n| n.to_string())
}

fn integer(text: &str) -> Option<u128> {
    let digits: String = text.chars().filter(|c| *c != '_').collect();
    let digits = ["u8", "u16", "u32", "u64", "usize", "i64", "i32"]
        .iter()
        .find_map(|s| digits.strip_suffix(s))
        .unwrap_or(&digits);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn string_literal(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"') && !inner.contains('\\')).then(|| format!("\"{inner}\""))
}

/// The doc comment's "Default ..." sentence, if any (before any `# ` section).
pub fn doc_default_sentence(doc: &[String]) -> Option<String> {
    let text = doc
        .iter()
        .take_while(|l| !l.starts_with("# "))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let mut search = 0;
    while let Some(found) = text[search..].find("Default") {
        let start = search + found;
        let before = text[..start].trim_end();
        if before.is_empty() || before.ends_with(['.', ':', ';', '(']) {
            let rest = &text[start..];
            // The sentence ends at a period followed by a space or the end, outside code.
            let mut in_code = false;
            let mut end = rest.len();
            let bytes = rest.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                match b {
                    b'`' => in_code = !in_code,
                    b'.' if !in_code && (i + 1 == bytes.len() || bytes[i + 1] == b' ') => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            return Some(rest[..end].trim().to_owned());
        }
        search = start + "Default".len();
    }
    None
}

/// A field's default and where it comes from, for the page.
pub fn describe_default(field: &Field, source: &Source) -> Option<String> {
    let shape = field_shape(field, source);
    let from_doc = || doc_default_sentence(&field.doc).map(|s| format!("{s} (doc comment)"));
    match &field.default {
        SerdeDefault::Function(f) => match source
            .functions
            .get(f)
            .and_then(|b| literal_value(b, source))
        {
            Some(v) => Some(format!("`{v}` (code: `{f}()`)")),
            None => from_doc().or_else(|| Some(format!("see `{f}()` in the code"))),
        },
        SerdeDefault::Type => match &shape {
            Shape::Plain("boolean") => Some("`false` (serde `default`)".into()),
            Shape::Plain("integer ≥ 0" | "integer" | "number") => {
                Some("`0` (serde `default`)".into())
            }
            Shape::List(_) => Some("`[]` (serde `default`)".into()),
            Shape::Map(_) => Some("`{}` (serde `default`)".into()),
            Shape::Option(_) => Some("none (serde `default`)".into()),
            Shape::Plain("string") => Some("`\"\"` (serde `default`)".into()),
            Shape::Item(name) => match source.items.get(name).map(|i| &i.kind) {
                Some(Kind::Enum(variants)) => {
                    let item = source.items.get(name)?;
                    variants
                        .iter()
                        .find(|v| v.is_default)
                        .and_then(|v| json_variant_name(item, v).ok())
                        .map(|v| format!("`\"{v}\"` (code: the `#[default]` variant)"))
                        .or_else(from_doc)
                }
                _ => Some(format!(
                    "every field of [`{name}`](#{}) at its default (serde `default`)",
                    anchor(name)
                )),
            },
            _ => from_doc().or_else(|| Some("the type's `Default` (serde `default`)".into())),
        },
        SerdeDefault::None => match shape {
            Shape::Option(_) => Some("none (an absent `Option`)".into()),
            _ => None,
        },
    }
}

/// Rustdoc links made plain Markdown: ``[`X`](path)`` and ``[`X`]`` → `` `X` ``.
fn plain_links(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("[`") {
        let after = &rest[at + 2..];
        let Some(close) = after.find("`]") else {
            break;
        };
        out.push_str(&rest[..at]);
        out.push('`');
        out.push_str(&after[..close]);
        out.push('`');
        let mut tail = &after[close + 2..];
        if let Some(end) = tail.find(')').filter(|_| tail.starts_with('(')) {
            tail = &tail[end + 1..];
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// A doc comment as Markdown: `# Security` sections as warnings, other headings as bold.
fn render_doc(doc: &[String]) -> String {
    let mut out = String::new();
    let mut warning = false;
    let mut blank = true;
    for line in doc {
        let line = plain_links(line);
        if let Some(heading) = line.strip_prefix("# ") {
            warning = heading.trim() == "Security";
            if !blank {
                out.push('\n');
            }
            if warning {
                out.push_str("> **⚠ Security**\n>\n");
            } else {
                out.push_str(&format!("**{}**\n", heading.trim()));
            }
            blank = false;
            continue;
        }
        if warning {
            if line.trim().is_empty() {
                if !out.ends_with(">\n") {
                    out.push_str(">\n");
                }
            } else {
                out.push_str(&format!("> {line}\n"));
            }
        } else {
            if line.trim().is_empty() && blank {
                continue;
            }
            out.push_str(&line);
            out.push('\n');
            blank = line.trim().is_empty();
        }
    }
    while out.ends_with(">\n>\n") {
        out.truncate(out.len() - 2);
    }
    out.trim_end().to_owned()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The item names reachable from `root`, depth first in field order, each with the JSON path
/// where it first appears.
pub fn order(source: &Source, root: &str) -> Result<Vec<(String, String)>, String> {
    fn visit(
        source: &Source,
        name: &str,
        path: &str,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        if !seen.insert(name.to_owned()) {
            return Ok(());
        }
        let item = source
            .items
            .get(name)
            .ok_or_else(|| format!("the configuration type {name} was not found"))?;
        out.push((name.to_owned(), path.to_owned()));
        if let Kind::Struct(fields) = &item.kind {
            for field in fields {
                let json = json_field_name(item, field)?;
                let mut s = field_shape(field, source);
                let mut p = if path.is_empty() {
                    json
                } else {
                    format!("{path}.{json}")
                };
                loop {
                    match s {
                        Shape::Option(inner) => s = *inner,
                        Shape::List(inner) => {
                            p.push_str("[]");
                            s = *inner;
                        }
                        Shape::Map(inner) => {
                            p.push_str(".<name>");
                            s = *inner;
                        }
                        _ => break,
                    }
                }
                if let Shape::Item(child) = s {
                    visit(source, &child, &p, seen, out)?;
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    visit(source, root, "", &mut BTreeSet::new(), &mut out)?;
    Ok(out)
}

/// The page.
pub fn render(source: &Source, root: &str, intro: &str) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(
        "<!-- Generated by `cargo xtask docs-config` from the configuration types' code and doc comments. Do not edit by hand: edit the doc comments and run the command. -->\n\n",
    );
    out.push_str("# Configuration reference\n\n");
    out.push_str(&plain_links(intro));
    out.push_str("\n\n");
    out.push_str(
        "This page is generated from the configuration types (`cargo xtask docs-config`): \
the field names, types, required fields and defaults come from the code, the descriptions \
from the doc comments. `cargo test -p xtask` fails when the page is not current.\n\n\
**Defaults.** Each default says where it comes from: *code* is the literal value of the \
field's `#[serde(default = \"...\")]` function (or the enum's `#[default]` variant); *serde \
`default`* is the type's own default (`false`, `0`, `[]`, none; for a nested object, each of \
its fields at its default); *doc comment* is the field's documented \"Default ...\" sentence, \
used when the default function is not a literal. A field without a default is required, \
except an optional one, which may be left out.\n\n",
    );
    let sections = order(source, root)?;
    out.push_str("## Contents\n\n");
    for (name, path) in &sections {
        let at = if path.is_empty() {
            "the `CEDARGATE_CONFIG` object".to_owned()
        } else {
            format!("`{path}`")
        };
        out.push_str(&format!("- [`{name}`](#{}): {at}\n", anchor(name)));
    }
    out.push('\n');
    for (name, path) in &sections {
        let item = source
            .items
            .get(name)
            .ok_or_else(|| format!("the configuration type {name} was not found"))?;
        out.push_str(&format!("## {name}\n\n"));
        let at = if path.is_empty() {
            "The whole `CEDARGATE_CONFIG` object.".to_owned()
        } else {
            format!("At `{path}`.")
        };
        out.push_str(&format!("{at} Source: `{}`.\n\n", item.file));
        let doc = render_doc(&item.doc);
        if !doc.is_empty() {
            out.push_str(&doc);
            out.push_str("\n\n");
        }
        match &item.kind {
            Kind::Struct(fields) => {
                if item.deny_unknown_fields {
                    out.push_str("A JSON object. Unknown fields are refused.\n\n");
                } else {
                    out.push_str("A JSON object.\n\n");
                }
                out.push_str("| field | type | required | default |\n|---|---|---|---|\n");
                for field in fields {
                    let json = json_field_name(item, field)?;
                    let s = field_shape(field, source);
                    let required = matches!(field.default, SerdeDefault::None)
                        && !matches!(s, Shape::Option(_));
                    let default = describe_default(field, source).unwrap_or_else(|| "—".into());
                    out.push_str(&format!(
                        "| [`{json}`](#{}) | {} | {} | {} |\n",
                        field_anchor(name, &json),
                        cell(&render_shape(&s)),
                        if required { "required" } else { "optional" },
                        cell(&default),
                    ));
                }
                out.push('\n');
                for field in fields {
                    let json = json_field_name(item, field)?;
                    out.push_str(&format!(
                        "<a id=\"{}\"></a>\n\n### `{}`\n\n",
                        field_anchor(name, &json),
                        if path.is_empty() {
                            json.clone()
                        } else {
                            format!("{path}.{json}")
                        }
                    ));
                    let s = field_shape(field, source);
                    let mut facts = vec![format!("Type: {}", render_shape(&s))];
                    if matches!(field.default, SerdeDefault::None) && !matches!(s, Shape::Option(_))
                    {
                        facts.push("required".into());
                    } else if let Some(d) = describe_default(field, source) {
                        facts.push(format!("default: {d}"));
                    }
                    if let Some(with) = field
                        .deserialize_with
                        .as_ref()
                        .filter(|_| !reader_is_a_unit(field))
                    {
                        facts.push(format!("read by `{with}`"));
                    }
                    out.push_str(&format!("*{}.*\n\n", facts.join("; ")));
                    let doc = render_doc(&field.doc);
                    if doc.is_empty() {
                        out.push_str("(No doc comment.)\n\n");
                    } else {
                        out.push_str(&doc);
                        out.push_str("\n\n");
                    }
                }
            }
            Kind::Enum(variants) => {
                out.push_str("One of these JSON strings:\n\n| value | meaning |\n|---|---|\n");
                for v in variants {
                    let json = json_variant_name(item, v)?;
                    let mut doc = v
                        .doc
                        .iter()
                        .map(|l| plain_links(l))
                        .collect::<Vec<_>>()
                        .join(" ");
                    if v.is_default {
                        doc = format!("(default) {doc}");
                    }
                    out.push_str(&format!(
                        "| `\"{}\"` | {} |\n",
                        cell(&json),
                        cell(doc.trim())
                    ));
                }
                out.push('\n');
            }
        }
    }
    Ok(format!("{}\n", out.trim_end()))
}

fn field_anchor(item: &str, json: &str) -> String {
    format!(
        "{}-{}",
        anchor(item),
        json.replace(|c: char| !c.is_alphanumeric(), "-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"//! A sample.

/// The top.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Top {
    /// How long. Default 30, from 1 to 60.
    #[serde(default = "default_wait")]
    pub wait_seconds: u64,
    /// A name.
    #[serde(
        default = "default_name"
    )]
    pub name: String,
    /// Optional text.
    #[serde(default)]
    pub note: Option<String>,
    /// Is it on. Default false.
    ///
    /// # Security
    ///
    /// Careful.
    #[serde(default)]
    pub on: bool,
    /// The nested one (see [`Inner`]).
    pub inner: Inner,
    /// Modes.
    #[serde(default)]
    pub modes: Vec<Mode>,
    /// Renamed.
    #[serde(default, rename = "type")]
    pub ty: Mode,
}

/// Not read: no Deserialize.
#[derive(Clone, Debug)]
pub struct Hidden {
    pub x: u8,
}

/// Inside.
#[derive(Deserialize)]
pub struct Inner {
    /// A number, from a constant.
    #[serde(default = "default_size")]
    pub size: usize,
}

/// The modes.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The usual.
    #[default]
    NotFound,
    /// Other.
    #[serde(rename = "x-other")]
    Other,
}

pub const SIZE: usize = 16 * 1024;

fn default_wait() -> u64 {
    30
}
fn default_name() -> String {
    "edge".into()
}
fn default_size() -> usize {
    SIZE
}
"#;

    fn sample() -> Source {
        let mut source = Source::default();
        source.read("sample.rs", SAMPLE).unwrap();
        source
    }

    #[test]
    fn the_reader_reads_structs_fields_and_attributes() {
        let source = sample();
        assert_eq!(
            source.items.keys().collect::<Vec<_>>(),
            ["Inner", "Mode", "Top"]
        );
        let top = &source.items["Top"];
        assert!(top.deny_unknown_fields);
        assert_eq!(top.doc, ["The top."]);
        let Kind::Struct(fields) = &top.kind else {
            panic!("Top is a struct")
        };
        let names: Vec<String> = fields
            .iter()
            .map(|f| json_field_name(top, f).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "wait_seconds",
                "name",
                "note",
                "on",
                "inner",
                "modes",
                "type"
            ]
        );
        assert_eq!(
            fields[0].default,
            SerdeDefault::Function("default_wait".into())
        );
        assert_eq!(
            fields[1].default,
            SerdeDefault::Function("default_name".into())
        );
        assert_eq!(fields[2].default, SerdeDefault::Type);
        assert_eq!(fields[4].default, SerdeDefault::None);
        assert_eq!(
            describe_default(&fields[0], &source).unwrap(),
            "`30` (code: `default_wait()`)"
        );
        assert_eq!(
            describe_default(&fields[1], &source).unwrap(),
            "`\"edge\"` (code: `default_name()`)"
        );
        assert_eq!(
            describe_default(&fields[2], &source).unwrap(),
            "none (serde `default`)"
        );
        assert_eq!(
            describe_default(&fields[3], &source).unwrap(),
            "`false` (serde `default`)"
        );
        assert_eq!(describe_default(&fields[4], &source), None);
        assert_eq!(
            describe_default(&fields[5], &source).unwrap(),
            "`[]` (serde `default`)"
        );
        assert_eq!(
            shape(&fields[2].ty, &source),
            Shape::Option(Box::new(Shape::Plain("string")))
        );
        assert_eq!(shape(&fields[4].ty, &source), Shape::Item("Inner".into()));
        assert_eq!(
            shape(&fields[5].ty, &source),
            Shape::List(Box::new(Shape::Item("Mode".into())))
        );
        assert_eq!(
            doc_default_sentence(&fields[0].doc).as_deref(),
            Some("Default 30, from 1 to 60.")
        );
        let Kind::Struct(inner) = &source.items["Inner"].kind else {
            panic!("Inner is a struct")
        };
        assert_eq!(
            describe_default(&inner[0], &source).unwrap(),
            "`16384` (code: `default_size()`)"
        );
    }

    #[test]
    fn the_reader_reads_enums_with_rename_all() {
        let source = sample();
        let mode = &source.items["Mode"];
        let Kind::Enum(variants) = &mode.kind else {
            panic!("Mode is an enum")
        };
        let names: Vec<String> = variants
            .iter()
            .map(|v| json_variant_name(mode, v).unwrap())
            .collect();
        assert_eq!(names, ["not_found", "x-other"]);
        assert!(variants[0].is_default && !variants[1].is_default);
        assert_eq!(
            apply_rename_all("lowercase", "NotFound").unwrap(),
            "notfound"
        );
        assert_eq!(
            apply_rename_all("kebab-case", "NotFound").unwrap(),
            "not-found"
        );
        assert!(apply_rename_all("Title Case", "A").is_err());
    }

    #[test]
    fn the_page_goes_depth_first_and_renders_warnings_and_links() {
        let source = sample();
        assert_eq!(
            order(&source, "Top").unwrap(),
            [
                ("Top".to_owned(), String::new()),
                ("Inner".to_owned(), "inner".to_owned()),
                ("Mode".to_owned(), "modes[]".to_owned()),
            ]
        );
        let page = render(&source, "Top", "A sample.").unwrap();
        assert!(page.starts_with("<!-- Generated by `cargo xtask docs-config`"));
        assert!(page.contains("> **⚠ Security**\n>\n> Careful."), "{page}");
        assert!(page.contains("| [`inner`](#top-inner) | [`Inner`](#inner) | required |"));
        assert!(page.contains("(see `Inner`)"));
        assert!(page.contains("| `\"not_found\"` | (default) The usual. |"));
        assert!(
            page.contains("`\"not_found\"` (code: the `#[default]` variant)"),
            "{page}"
        );
        assert!(render(&source, "Missing", "").is_err());
    }

    #[test]
    fn maps_by_name_are_objects() {
        let source = sample();
        let map = shape("BTreeMap<String, bool>", &source);
        assert_eq!(map, Shape::Map(Box::new(Shape::Plain("boolean"))));
        assert_eq!(render_shape(&map), "object of boolean by name");
        assert_eq!(
            render_shape(&shape("HashMap<String, Mode>", &source)),
            "object of [`Mode`](#mode) by name"
        );
        let field = Field {
            name: "actions".into(),
            rename: None,
            ty: "BTreeMap<String, bool>".into(),
            doc: vec![],
            default: SerdeDefault::Type,
            deserialize_with: None,
        };
        assert_eq!(
            describe_default(&field, &source).as_deref(),
            Some("`{}` (serde `default`)")
        );
    }

    #[test]
    fn durations_read_in_a_unit_show_as_whole_numbers_of_it() {
        let text = r#"/// X.
#[derive(Deserialize)]
pub struct X {
    /// How long.
    #[serde(rename = "wait_ms", default = "default_wait", deserialize_with = "milliseconds")]
    pub wait: Duration,
    /// Another reader.
    #[serde(deserialize_with = "other")]
    pub other: Duration,
}

fn default_wait() -> Duration {
    Duration::from_millis(1_500)
}
"#;
        let mut source = Source::default();
        source.read("x.rs", text).unwrap();
        let page = render(&source, "X", "").unwrap();
        assert!(
            page.contains("| [`wait_ms`](#x-wait-ms) | integer ≥ 0, in milliseconds | optional | `1500` (code: `default_wait()`) |"),
            "{page}"
        );
        assert!(!page.contains("read by `milliseconds`"), "{page}");
        assert!(page.contains("| `Duration` | required |"), "{page}");
        assert!(page.contains("read by `other`"), "{page}");
    }

    #[test]
    fn a_field_the_reader_cannot_read_is_an_error() {
        let bad = "/// X.\n#[derive(Deserialize)]\npub struct X {\n    pub a:\n        u8,\n}\n";
        assert!(Source::default().read("bad.rs", bad).is_err());
        let tuple = "#[derive(Deserialize)]\npub enum E {\n    A(u8),\n}\n";
        assert!(Source::default().read("bad.rs", tuple).is_err());
    }

    /// Where a default function is a literal and the doc comment has a "Default ..."
    /// sentence, the sentence names the value (the drift this page exists to stop).
    #[test]
    fn doc_comments_state_the_code_defaults() {
        let root = crate::run::root();
        let mut source = Source::default();
        for file in SOURCES {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            source.read(file, &text).unwrap();
        }
        let mut wrong = Vec::new();
        for item in source.items.values() {
            let Kind::Struct(fields) = &item.kind else {
                continue;
            };
            for field in fields {
                let SerdeDefault::Function(f) = &field.default else {
                    continue;
                };
                let Some(value) = source
                    .functions
                    .get(f)
                    .and_then(|b| literal_value(b, &source))
                else {
                    continue;
                };
                let sentence = doc_default_sentence(&field.doc).unwrap_or_default();
                let parts: Vec<String> = value
                    .trim_matches(['[', ']'])
                    .split(", ")
                    .map(|p| p.trim_matches('"').to_owned())
                    .collect();
                if parts.iter().any(|p| !sentence.contains(p.as_str())) {
                    wrong.push(format!(
                        "{}.{}: code default {value}, doc says {sentence:?}",
                        item.name, field.name
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_committed_page_is_current() {
        let root = crate::run::root();
        let now = generate(&root).unwrap();
        let committed = std::fs::read_to_string(root.join(PAGE)).unwrap_or_default();
        assert!(
            committed == now,
            "{PAGE} is not what the configuration types say now: run `cargo xtask docs-config` and commit the page"
        );
    }
}
