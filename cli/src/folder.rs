//! A policy folder on disk (`schema.cedarschema`, `policies.cedar`, `routes.json`) and what
//! can be read from it without loading it as a bundle: the declared actions with their
//! context parameters, and the routes.

use cedar_policy::SchemaFragment;
use cedargate::{BundleSource, POLICIES_FILE, ROUTES_FILE, SCHEMA_FILE};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Reads the three files of a folder.
pub fn read(dir: &Path) -> Result<BundleSource, String> {
    let file = |name: &str| -> Result<String, String> {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
    };
    Ok(BundleSource {
        schema: file(SCHEMA_FILE)?,
        policies: file(POLICIES_FILE)?,
        routes: file(ROUTES_FILE)?,
    })
}

/// The text of a folder's entity data (`entities.json`), `None` when the folder has none.
pub fn read_entities(dir: &Path) -> Result<Option<String>, String> {
    let path = dir.join(cedargate::authzen::ENTITIES_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

/// Writes the three files, refusing to replace any unless `force`. Nothing is written when
/// one of them would be refused.
pub fn write(dir: &Path, source: &BundleSource, force: bool) -> Result<Vec<PathBuf>, String> {
    write_files(
        dir,
        &[
            (SCHEMA_FILE, &source.schema),
            (POLICIES_FILE, &source.policies),
            (ROUTES_FILE, &source.routes),
        ],
        force,
    )
}

/// Writes `files` into `dir` as a whole: refused (nothing written) when one exists and not
/// `force`; each is written to a temporary file first and renamed into place only when all
/// are written, so a failure leaves no half-written folder (a folder created for them is
/// removed again).
pub fn write_files(
    dir: &Path,
    files: &[(&str, &String)],
    force: bool,
) -> Result<Vec<PathBuf>, String> {
    if !force {
        for (name, _) in files {
            let path = dir.join(name);
            if path.exists() {
                return Err(format!(
                    "{} exists; pass --force to replace the folder's files",
                    path.display()
                ));
            }
        }
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let temporary = |name: &str| dir.join(format!(".{name}.cedargate-tmp"));
    let undo = |upto: usize| {
        for (name, _) in &files[..upto] {
            let _ = std::fs::remove_file(temporary(name));
        }
        if created {
            let _ = std::fs::remove_dir(dir);
        }
    };
    for (i, (name, text)) in files.iter().enumerate() {
        if let Err(e) = std::fs::write(temporary(name), text) {
            undo(i + 1);
            return Err(format!("{}: cannot write: {e}", dir.join(name).display()));
        }
    }
    let mut written = Vec::new();
    for (name, _) in files {
        let path = dir.join(name);
        std::fs::rename(temporary(name), &path)
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// An action as the schema declares it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeclaredAction {
    /// Principal types, qualified.
    pub principals: Vec<String>,
    pub path_parameters: Vec<String>,
    pub query_parameters: Vec<String>,
}

/// A schema in Cedar's JSON form (names as written, unqualified inside their namespace).
pub fn schema_json(schema: &str) -> Result<Value, String> {
    let (fragment, _) =
        SchemaFragment::from_cedarschema_str(schema).map_err(|e| format!("{SCHEMA_FILE}: {e}"))?;
    fragment
        .to_json_value()
        .map_err(|e| format!("{SCHEMA_FILE}: {e}"))
}

/// The attribute names each entity type of `namespace` declares, by qualified type name.
pub fn entity_attributes(json: &Value, namespace: &str) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for (name, ty) in json[namespace]["entityTypes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let attrs = ty["shape"]["attributes"]
            .as_object()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        out.insert(cedargate::qualify(namespace, name), attrs);
    }
    out
}

/// The actions of `namespace` in a schema's JSON form, by id.
pub fn declared_actions(json: &Value, namespace: &str) -> BTreeMap<String, DeclaredAction> {
    let mut out = BTreeMap::new();
    let Some(actions) = json
        .get(namespace)
        .and_then(|n| n.get("actions"))
        .and_then(Value::as_object)
    else {
        return out;
    };
    let names = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    for (id, action) in actions {
        let applies = action.get("appliesTo");
        let context = applies
            .and_then(|a| a.get("context"))
            .and_then(|c| c.get("attributes"));
        let principals = applies
            .and_then(|a| a.get("principalTypes"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|t| cedargate::qualify(namespace, t))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            id.clone(),
            DeclaredAction {
                principals,
                path_parameters: names(
                    context
                        .and_then(|c| c.get("pathParameters"))
                        .and_then(|p| p.get("attributes")),
                ),
                query_parameters: names(
                    context
                        .and_then(|c| c.get("queryStringParameters"))
                        .and_then(|p| p.get("attributes")),
                ),
            },
        );
    }
    out
}

/// One route of `routes.json`, with the action it names and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLine {
    /// `"<method> <template>"`, `any` expanded.
    pub route: String,
    pub action: String,
    pub line: usize,
}

/// The namespace and routes of a `routes.json` (shape errors are left to the bundle loader).
pub fn routes(text: &str) -> (String, Vec<RouteLine>) {
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return (String::new(), Vec::new());
    };
    let namespace = json
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut out = Vec::new();
    let mut search_from = 0;
    for entry in json
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (route, action) = match entry {
            Value::String(r) => (r.clone(), None),
            Value::Object(o) => (
                o.get("route")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                o.get("action").and_then(Value::as_str).map(str::to_owned),
            ),
            _ => continue,
        };
        let quoted = Value::String(route.clone()).to_string();
        let line = match text[search_from..].find(&quoted) {
            Some(at) => {
                search_from += at + quoted.len();
                text[..search_from].matches('\n').count() + 1
            }
            None => 0,
        };
        let Some((method, template)) = route.split_once(' ') else {
            continue;
        };
        let methods: Vec<String> = if method == "any" {
            crate::openapi::ANY_METHODS
                .iter()
                .map(|m| (*m).to_owned())
                .collect()
        } else {
            vec![method.to_owned()]
        };
        for m in methods {
            let expanded = format!("{m} {template}");
            out.push(RouteLine {
                action: action.clone().unwrap_or_else(|| expanded.clone()),
                route: expanded,
                line,
            });
        }
    }
    (namespace, out)
}
