//! Amazon Verified Permissions policy stores, to and from policy folders.
//!
//! The document is the shape of AVP's API: `schema.cedarJson` is what `PutSchema` takes (and
//! `GetSchema` returns as `schema`), and each policy is what `CreatePolicy` takes and
//! `GetPolicy` returns — `policyId`, and `definition.static` with `statement` and
//! `description`. AVP names policies by `policyId`; a folder names them by `@id`, so the
//! export moves `@id` into `policyId` and the import moves it back. AVP has no route table:
//! the export leaves it out, and the import derives one from action ids that look like
//! operations (`"<method> <path>"`), as AVP's API Gateway set-up names them.

use crate::doc::{Doc, Located};
use cedar_policy::{Policy, PolicyId, SchemaFragment};
use cedargate::{Bundle, BundleSource};
use serde_json::{Map, Value, json};

/// Turns a loaded folder into a policy store document.
pub fn export(bundle: &Bundle) -> Result<Value, String> {
    let source = bundle
        .source()
        .ok_or("the bundle was loaded from its compiled form, without its text")?;
    let (fragment, _) =
        SchemaFragment::from_cedarschema_str(&source.schema).map_err(|e| format!("schema: {e}"))?;
    let schema_json = fragment
        .to_json_string()
        .map_err(|e| format!("schema: {e}"))?;
    let mut policies = Vec::new();
    for policy in bundle.policies().policies() {
        let id = policy
            .annotation("id")
            .ok_or("a policy has no @id")?
            .to_owned();
        let mut json = policy.to_json().map_err(|e| format!("policy {id}: {e}"))?;
        if let Some(annotations) = json.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("id");
            if annotations.is_empty() {
                json.as_object_mut().map(|o| o.remove("annotations"));
            }
        }
        let statement = Policy::from_json(None, json)
            .map_err(|e| format!("policy {id}: {e}"))?
            .to_string();
        policies.push(json!({
            "policyId": id,
            "policyType": "STATIC",
            "definition": { "static": {
                "description": description(&source.policies, &id),
                "statement": statement,
            } },
        }));
    }
    policies.sort_by(|a, b| a["policyId"].as_str().cmp(&b["policyId"].as_str()));
    Ok(json!({
        "validationSettings": { "mode": "STRICT" },
        "schema": { "cedarJson": schema_json },
        "policies": policies,
    }))
}

/// The `//` comment lines right above a policy's `@id("...")`, joined.
fn description(policies: &str, id: &str) -> String {
    let marker = format!("@id({})", Value::String(id.to_owned()));
    let Some(at) = policies.find(&marker) else {
        return String::new();
    };
    let mut lines: Vec<&str> = Vec::new();
    for line in policies[..at].lines().rev() {
        match line.trim().strip_prefix("//") {
            Some(comment) => lines.push(comment.trim()),
            None if line.trim().is_empty() && lines.is_empty() => {}
            None => break,
        }
    }
    lines.reverse();
    lines.join(" ")
}

/// Options of the import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The resource entity's id; default: the namespace.
    pub resource_id: Option<String>,
}

/// What an import produced: the folder's text and notes for the user.
#[derive(Debug, Clone)]
pub struct Imported {
    pub source: BundleSource,
    pub notes: Vec<String>,
}

/// Turns a policy store document into a folder's text, validated as a bundle. Errors name
/// the file, line and field (`store.json:12:24: policies[1].definition.static.statement:
/// ...`).
pub fn import(file: &str, document: &str, options: &ImportOptions) -> Result<Imported, Located> {
    let doc = Doc::parse(file, document)?;
    let fail = |field: &str, message: String| doc.error_at(field, message);
    let json: Value = serde_json::from_str(document).map_err(|e| Located {
        file: file.to_owned(),
        line: e.line(),
        col: e.column(),
        field: String::new(),
        message: format!("not JSON: {e}"),
    })?;
    let schema_value = json
        .get("schema")
        .ok_or_else(|| fail("schema", "missing".into()))?;
    // `{"cedarJson": "..."}` (PutSchema), or the string itself (GetSchema's `schema`).
    let (schema_text, schema_field) = match schema_value {
        Value::String(s) => (s.clone(), "schema"),
        Value::Object(o) => match o.get("cedarJson") {
            Some(Value::String(s)) => (s.clone(), "schema.cedarJson"),
            Some(v @ Value::Object(_)) => (v.to_string(), "schema.cedarJson"),
            _ => {
                return Err(fail(
                    "schema.cedarJson",
                    "missing, or not a JSON schema".into(),
                ));
            }
        },
        _ => return Err(fail("schema", "expected an object with cedarJson".into())),
    };
    let schema_json: Value = serde_json::from_str(&schema_text)
        .map_err(|e| fail(schema_field, format!("not a JSON schema: {e}")))?;
    let fragment = SchemaFragment::from_json_value(schema_json.clone())
        .map_err(|e| fail(schema_field, e.to_string()))?;
    let schema = fragment
        .to_cedarschema()
        .map_err(|e| fail(schema_field, e.to_string()))?;
    let namespaces: Vec<&String> = schema_json
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let [namespace] = namespaces.as_slice() else {
        return Err(fail(
            schema_field,
            format!("expected exactly one namespace, found {}", namespaces.len()),
        ));
    };
    let namespace = (*namespace).clone();

    let mut notes = Vec::new();
    let mut text = String::new();
    let list = json
        .get("policies")
        .and_then(Value::as_array)
        .ok_or_else(|| fail("policies", "missing or not a list".into()))?;
    for (i, entry) in list.iter().enumerate() {
        let at = format!("policies[{i}]");
        let field = |rest: &str| format!("{at}{rest}");
        let id = entry
            .get("policyId")
            .and_then(Value::as_str)
            .ok_or_else(|| fail(&field(".policyId"), "missing".into()))?;
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(fail(
                &field(".policyId"),
                format!("\"{id}\" is not a policy id AVP accepts"),
            ));
        }
        let definition = entry
            .get("definition")
            .ok_or_else(|| fail(&field(".definition"), "missing".into()))?;
        if definition.get("templateLinked").is_some() {
            return Err(fail(
                &field(".definition.templateLinked"),
                "template-linked policies are not supported".into(),
            ));
        }
        let statement_field = field(".definition.static.statement");
        let statement = definition
            .get("static")
            .and_then(|s| s.get("statement"))
            .and_then(Value::as_str)
            .ok_or_else(|| fail(&statement_field, "missing".into()))?;
        let policy = Policy::parse(Some(PolicyId::new(id)), statement)
            .map_err(|e| fail(&statement_field, e.to_string()))?;
        if policy.annotation("id").is_some() {
            return Err(fail(
                &statement_field,
                "already has an @id; the id is policyId".into(),
            ));
        }
        if !text.is_empty() {
            text.push('\n');
        }
        if let Some(d) = definition["static"]
            .get("description")
            .and_then(Value::as_str)
            && !d.trim().is_empty()
        {
            for line in d.lines() {
                text.push_str(&format!("// {}\n", line.trim()));
            }
        }
        text.push_str(&format!(
            "@id({})\n{}\n",
            Value::String(id.to_owned()),
            statement.trim()
        ));
    }

    let actions: Map<String, Value> = schema_json[&namespace]["actions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut resource_types: Vec<String> = Vec::new();
    let mut routes = Vec::new();
    for (id, action) in &actions {
        let routed = id.split_once(' ').is_some_and(|(m, p)| {
            matches!(m, "get" | "post" | "put" | "patch" | "delete" | "head") && p.starts_with('/')
        });
        if routed {
            // An action the `Anonymous` principal may take is a public route (see
            // docs/src/howto/writing-policies.md, "Public routes"): that is how a folder's
            // public routes come back.
            let public = action["appliesTo"]["principalTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|t| {
                    t == cedargate::ANONYMOUS_TYPE
                        || t == format!("{namespace}::{}", cedargate::ANONYMOUS_TYPE)
                });
            routes.push((id.clone(), public));
            for ty in action["appliesTo"]["resourceTypes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(ty) = ty.as_str()
                    && !resource_types.iter().any(|t| t == ty)
                {
                    resource_types.push(ty.to_owned());
                }
            }
        } else {
            notes.push(format!(
                "action \"{id}\" is not named \"<method> <path>\": it gets no route"
            ));
        }
    }
    let [resource_type] = resource_types.as_slice() else {
        return Err(fail(
            schema_field,
            format!(
                "the actions named \"<method> <path>\" must apply to exactly one resource type, found {}",
                if resource_types.is_empty() {
                    "none".to_owned()
                } else {
                    resource_types.join(", ")
                }
            ),
        ));
    };
    let resource_type = resource_type.rsplit("::").next().unwrap_or(resource_type);
    let routes_text = format!(
        "{{\n  \"namespace\": {},\n  \"resource\": {{ \"type\": {}, \"id\": {} }},\n  \"routes\": [\n{}\n  ]\n}}\n",
        Value::String(namespace.clone()),
        Value::String(resource_type.to_owned()),
        Value::String(
            options
                .resource_id
                .clone()
                .unwrap_or_else(|| namespace.clone())
        ),
        routes
            .iter()
            .map(|(r, public)| {
                let route = Value::String(r.clone());
                if *public {
                    format!("    {{ \"route\": {route}, \"public\": true }}")
                } else {
                    format!("    {route}")
                }
            })
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let source = BundleSource {
        schema,
        policies: text,
        routes: routes_text,
    };
    Bundle::load(&source).map_err(|e| Located {
        file: file.to_owned(),
        line: 0,
        col: 0,
        field: String::new(),
        message: format!("the imported store does not load as a bundle: {e}"),
    })?;
    Ok(Imported { source, notes })
}
