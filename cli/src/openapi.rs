//! The operations of an OpenAPI 3.0 or 3.1 document (YAML or JSON), as cedargate needs them:
//! method, path template, path parameters and query parameters.

use crate::doc::{Doc, Located, Node};

/// The methods `x-amazon-apigateway-any-method` stands for: the ones cedargate's route table
/// expands `any` to (OPTIONS is left to the edge's CORS handling).
pub use cedargate::ANY_METHODS;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const ANY_KEY: &str = "x-amazon-apigateway-any-method";

/// The API as cedargate sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// One per method and path, in document order; ANY already expanded.
    pub operations: Vec<Operation>,
    /// Operations left out, and why (OPTIONS and TRACE).
    pub skipped: Vec<String>,
    /// `components.securitySchemes`, in document order.
    pub schemes: Vec<Scheme>,
}

impl Api {
    /// Whether some scheme lets services call with client-credentials tokens.
    pub fn has_service_callers(&self) -> bool {
        self.schemes.iter().any(|s| s.client_credentials)
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Lowercase.
    pub method: String,
    /// The path template as written (`/pets/{petId}`, `/files/{proxy+}`).
    pub path: String,
    /// Path parameter names in template order (without `+`).
    pub path_parameters: Vec<String>,
    /// Query parameter names in declaration order (path item's first).
    pub query_parameters: Vec<String>,
    /// Whether it came from `x-amazon-apigateway-any-method`.
    pub from_any: bool,
    /// What the document requires of a caller (the operation's `security`, else the
    /// document's).
    pub security: Security,
    /// PingOne permissions the operation requires (`x-cedargate-permissions`), all of them.
    pub permissions: Vec<String>,
    /// Where the operation is written.
    pub line: usize,
}

/// An operation's security requirements, as OpenAPI states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Neither the operation nor the document says anything.
    Unstated,
    /// `security: []`, or an empty requirement `{}` among the alternatives: callable
    /// without credentials.
    Public,
    /// Alternatives (any one suffices), each the scopes it needs, all of them (sorted, no
    /// repeats; empty for a scheme without scopes, such as an API key or plain bearer).
    Scopes(Vec<Vec<String>>),
}

/// A security scheme of `components.securitySchemes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    pub name: String,
    /// `type`: `oauth2`, `openIdConnect`, `http`, `apiKey`, `mutualTLS`.
    pub kind: String,
    /// An `oauth2` scheme with a `clientCredentials` flow: services call the API.
    pub client_credentials: bool,
}

impl Operation {
    /// The action id: `"<method> <path>"`.
    pub fn action(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl Api {
    /// Reads an OpenAPI document. `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, Located> {
        let doc = Doc::parse(file, text)?;
        Reader { doc: &doc }.api()
    }
}

struct Reader<'d> {
    doc: &'d Doc,
}

/// One parameter after `$ref` resolution.
struct Param<'d> {
    name: String,
    location: String,
    node: &'d Node,
    field: String,
}

impl<'d> Reader<'d> {
    fn err(&self, node: &Node, field: &str, message: impl Into<String>) -> Located {
        self.doc.error(node, field, message)
    }

    fn map<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [(Node, Node)], Located> {
        node.entries().ok_or_else(|| {
            self.err(
                node,
                field,
                format!("expected a mapping, found {}", node.kind()),
            )
        })
    }

    fn string<'n>(&self, node: &'n Node, field: &str) -> Result<&'n str, Located> {
        node.as_str().ok_or_else(|| {
            self.err(
                node,
                field,
                format!("expected a string, found {}", node.kind()),
            )
        })
    }

    fn api(&self) -> Result<Api, Located> {
        let root = &self.doc.root;
        self.map(root, "")?;
        if root.get("swagger").is_some() {
            return Err(self.err(
                root,
                "swagger",
                "Swagger 2.0 is not supported: convert the document to OpenAPI 3 first",
            ));
        }
        let version_node = root
            .get("openapi")
            .ok_or_else(|| self.err(root, "openapi", "missing: this is not an OpenAPI document"))?;
        let version = self.string(version_node, "openapi")?;
        if !(version.starts_with("3.0") || version.starts_with("3.1")) {
            return Err(self.err(
                version_node,
                "openapi",
                format!("version {version} is not supported (3.0 and 3.1 are)"),
            ));
        }
        let info = root
            .get("info")
            .ok_or_else(|| self.err(root, "info", "missing"))?;
        let title = info
            .get("title")
            .map(|t| self.string(t, "info.title"))
            .transpose()?
            .unwrap_or_default()
            .to_owned();
        let api_version = info
            .get("version")
            .map(|t| self.string(t, "info.version"))
            .transpose()?
            .unwrap_or_default()
            .to_owned();
        let paths_node = root
            .get("paths")
            .ok_or_else(|| self.err(root, "paths", "missing: the API has no operations"))?;
        let schemes = self.schemes()?;
        let default_security = match root.get("security") {
            Some(list) => self.security(list, "security", &schemes)?,
            None => Security::Unstated,
        };
        let mut api = Api {
            title,
            version: api_version,
            operations: Vec::new(),
            skipped: Vec::new(),
            schemes,
        };
        for (key, item) in self.map(paths_node, "paths")? {
            let path = self.string(key, "paths")?;
            let field = format!("paths.{path}");
            let template = self.template(key, &field, path)?;
            self.path_item(&mut api, item, &field, path, &template, &default_security)?;
        }
        if api.operations.is_empty() {
            return Err(self.err(paths_node, "paths", "no operation cedargate can guard"));
        }
        Ok(api)
    }

    /// The path parameters of a template, checked: absolute, `{name}` segments or literal
    /// ones, `{name+}` only last, no repeated name.
    fn template(&self, key: &Node, field: &str, path: &str) -> Result<Vec<String>, Located> {
        let bad = |why: &str| self.err(key, field, format!("path template \"{path}\": {why}"));
        let Some(rest) = path.strip_prefix('/') else {
            return Err(bad("must start with /"));
        };
        let mut names: Vec<String> = Vec::new();
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, segment) in segments.iter().enumerate() {
            if segment.is_empty() {
                return Err(bad("has an empty segment"));
            }
            if let Some(inner) = segment.strip_prefix('{') {
                let inner = inner
                    .strip_suffix('}')
                    .ok_or_else(|| bad("a parameter must be a whole segment, like {petId}"))?;
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(n) => (n, true),
                    None => (inner, false),
                };
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(bad(&format!(
                        "parameter name \"{name}\" is not a plain name"
                    )));
                }
                if greedy && i + 1 != segments.len() {
                    return Err(bad(&format!("{{{name}+}} must be the last segment")));
                }
                if names.iter().any(|n| n == name) {
                    return Err(bad(&format!("parameter {{{name}}} appears twice")));
                }
                names.push(name.to_owned());
            } else if segment.contains(['{', '}']) {
                return Err(bad("a parameter must be a whole segment, like {petId}"));
            }
        }
        Ok(names)
    }

    fn path_item(
        &self,
        api: &mut Api,
        item: &Node,
        field: &str,
        path: &str,
        template: &[String],
        default_security: &Security,
    ) -> Result<(), Located> {
        let entries = self.map(item, field)?;
        if item.get("$ref").is_some() {
            return Err(self.err(
                item,
                &format!("{field}.$ref"),
                "path item references are not supported",
            ));
        }
        let shared = match item.get("parameters") {
            Some(list) => self.parameters(list, &format!("{field}.parameters"))?,
            None => Vec::new(),
        };
        let explicit: Vec<&str> = entries
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .filter(|k| METHODS.contains(k))
            .collect();
        for (key, operation) in entries {
            let name = self.string(key, field)?;
            let op_field = format!("{field}.{name}");
            let methods: Vec<(&str, bool)> = if name == ANY_KEY {
                ANY_METHODS
                    .iter()
                    .filter(|m| !explicit.contains(m))
                    .map(|m| (*m, true))
                    .collect()
            } else if METHODS.contains(&name) {
                vec![(name, false)]
            } else if name.starts_with("x-")
                || matches!(name, "parameters" | "summary" | "description" | "servers")
            {
                continue;
            } else {
                return Err(self.err(key, &op_field, "not a field of an OpenAPI path item"));
            };
            self.map(operation, &op_field)?;
            let own = match operation.get("parameters") {
                Some(list) => self.parameters(list, &format!("{op_field}.parameters"))?,
                None => Vec::new(),
            };
            // Operation parameters override path item ones with the same name and location.
            let mut params: Vec<&Param<'_>> = shared
                .iter()
                .filter(|p| {
                    !own.iter()
                        .any(|o| o.name == p.name && o.location == p.location)
                })
                .collect();
            params.extend(own.iter());
            let declared_path: Vec<&Param<'_>> = params
                .iter()
                .copied()
                .filter(|p| p.location == "path")
                .collect();
            for p in &declared_path {
                if !template.contains(&p.name) {
                    return Err(self.err(
                        p.node,
                        &p.field,
                        format!(
                            "path parameter \"{}\" is not in the path template {path}",
                            p.name
                        ),
                    ));
                }
            }
            for name_in_template in template {
                if !declared_path.iter().any(|p| &p.name == name_in_template) {
                    return Err(self.err(
                        operation,
                        &op_field,
                        format!("path parameter \"{name_in_template}\" of {path} is not declared"),
                    ));
                }
            }
            let query: Vec<String> = params
                .iter()
                .filter(|p| p.location == "query")
                .map(|p| p.name.clone())
                .collect();
            let security = match operation.get("security") {
                Some(list) => self.security(list, &format!("{op_field}.security"), &api.schemes)?,
                None => default_security.clone(),
            };
            let permissions = match operation.get("x-cedargate-permissions") {
                Some(list) => self.strings(list, &format!("{op_field}.x-cedargate-permissions"))?,
                None => Vec::new(),
            };
            for (method, from_any) in methods {
                if method == "options" || method == "trace" {
                    api.skipped.push(format!(
                        "{method} {path}: {} requests are answered by the edge (CORS) or refused, never routed",
                        method.to_uppercase()
                    ));
                    continue;
                }
                api.operations.push(Operation {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    path_parameters: template.to_vec(),
                    query_parameters: query.clone(),
                    from_any,
                    security: security.clone(),
                    permissions: permissions.clone(),
                    line: key.line,
                });
            }
        }
        Ok(())
    }

    /// `components.securitySchemes`: each scheme's type, and whether an `oauth2` one has a
    /// `clientCredentials` flow.
    fn schemes(&self) -> Result<Vec<Scheme>, Located> {
        let Some(node) = self
            .doc
            .root
            .get("components")
            .and_then(|c| c.get("securitySchemes"))
        else {
            return Ok(Vec::new());
        };
        let field = "components.securitySchemes";
        let mut out = Vec::new();
        for (key, scheme) in self.map(node, field)? {
            let name = self.string(key, field)?.to_owned();
            let at = format!("{field}.{name}");
            let (scheme, at) = self.resolve(scheme, &at)?;
            let kind_node = scheme
                .get("type")
                .ok_or_else(|| self.err(scheme, &at, "a security scheme needs a type"))?;
            let kind = self.string(kind_node, &format!("{at}.type"))?.to_owned();
            if !matches!(
                kind.as_str(),
                "oauth2" | "openIdConnect" | "http" | "apiKey" | "mutualTLS"
            ) {
                return Err(self.err(
                    kind_node,
                    &format!("{at}.type"),
                    format!("\"{kind}\" is not a security scheme type"),
                ));
            }
            let client_credentials = kind == "oauth2"
                && scheme
                    .get("flows")
                    .and_then(|f| f.get("clientCredentials"))
                    .is_some();
            out.push(Scheme {
                name,
                kind,
                client_credentials,
            });
        }
        Ok(out)
    }

    /// A `security` list: alternatives, each a map from scheme name to the scopes it needs.
    /// Scopes are read for `oauth2` and `openIdConnect` schemes; other schemes must list
    /// none (OpenAPI 3.0) or only roles, which cedargate does not map, so they are refused.
    fn security(&self, list: &Node, field: &str, schemes: &[Scheme]) -> Result<Security, Located> {
        let items = self.list(list, field)?;
        if items.is_empty() {
            return Ok(Security::Public);
        }
        let mut alternatives: Vec<Vec<String>> = Vec::new();
        for (i, requirement) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let entries = self.map(requirement, &at)?;
            if entries.is_empty() {
                return Ok(Security::Public);
            }
            let mut scopes: Vec<String> = Vec::new();
            for (key, value) in entries {
                let name = self.string(key, &at)?;
                let scheme = schemes.iter().find(|s| s.name == name).ok_or_else(|| {
                    self.err(
                        key,
                        &format!("{at}.{name}"),
                        format!("\"{name}\" is not in components.securitySchemes"),
                    )
                })?;
                let listed = self.strings(value, &format!("{at}.{name}"))?;
                if !listed.is_empty() && !matches!(scheme.kind.as_str(), "oauth2" | "openIdConnect")
                {
                    return Err(self.err(
                        value,
                        &format!("{at}.{name}"),
                        format!(
                            "scheme {name} ({}) lists roles, which cannot be mapped; list scopes of an oauth2 or openIdConnect scheme",
                            scheme.kind
                        ),
                    ));
                }
                scopes.extend(listed);
            }
            scopes.sort();
            scopes.dedup();
            if !alternatives.contains(&scopes) {
                alternatives.push(scopes);
            }
        }
        Ok(Security::Scopes(alternatives))
    }

    /// A sequence node's items.
    fn list<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [Node], Located> {
        node.items().ok_or_else(|| {
            self.err(
                node,
                field,
                format!("expected a list, found {}", node.kind()),
            )
        })
    }

    /// A list of strings.
    fn strings(&self, list: &Node, field: &str) -> Result<Vec<String>, Located> {
        let items = self.list(list, field)?;
        items
            .iter()
            .map(|item| self.string(item, field).map(str::to_owned))
            .collect()
    }

    fn parameters(&self, list: &'d Node, field: &str) -> Result<Vec<Param<'d>>, Located> {
        let items = self.list(list, field)?;
        let mut out: Vec<Param<'d>> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            let (node, at) = self.resolve(item, &item_field)?;
            let name_node = node
                .get("name")
                .ok_or_else(|| self.err(node, &at, "a parameter needs a name"))?;
            let name = self.string(name_node, &format!("{at}.name"))?.to_owned();
            let in_node = node
                .get("in")
                .ok_or_else(|| self.err(node, &at, "a parameter needs \"in\""))?;
            let location = self.string(in_node, &format!("{at}.in"))?.to_owned();
            if !matches!(location.as_str(), "path" | "query" | "header" | "cookie") {
                return Err(self.err(
                    in_node,
                    &format!("{at}.in"),
                    format!(
                        "\"{location}\" is not a parameter location (path, query, header, cookie)"
                    ),
                ));
            }
            if location == "path" && node.get("required").and_then(Node::as_bool) != Some(true) {
                return Err(self.err(
                    node,
                    &at,
                    format!("path parameter \"{name}\" must be required: true"),
                ));
            }
            if out.iter().any(|p| p.name == name && p.location == location) {
                return Err(self.err(
                    node,
                    &at,
                    format!("{location} parameter \"{name}\" is declared twice"),
                ));
            }
            out.push(Param {
                name,
                location,
                node,
                field: at,
            });
        }
        Ok(out)
    }

    /// Follows local `$ref`s (`#/components/parameters/Name`), at most 16 deep.
    fn resolve(&self, node: &'d Node, field: &str) -> Result<(&'d Node, String), Located> {
        let mut node = node;
        let mut field = field.to_owned();
        for _ in 0..16 {
            let Some(reference) = node.get("$ref") else {
                return Ok((node, field));
            };
            let target = self.string(reference, &format!("{field}.$ref"))?;
            let pointer = target.strip_prefix("#/").ok_or_else(|| {
                self.err(
                    reference,
                    &format!("{field}.$ref"),
                    format!("only references inside the document are supported, not \"{target}\""),
                )
            })?;
            let mut at = &self.doc.root;
            for part in pointer.split('/') {
                let part = part.replace("~1", "/").replace("~0", "~");
                at = at.get(&part).ok_or_else(|| {
                    self.err(
                        reference,
                        &format!("{field}.$ref"),
                        format!("\"{target}\" does not exist"),
                    )
                })?;
            }
            node = at;
            field = pointer.replace('/', ".");
        }
        Err(self.err(node, &field, "references nest too deep (a cycle?)"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const SMALL: &str = r#"
openapi: 3.0.1
info: { title: T, version: "1" }
components:
  parameters:
    Id: { name: id, in: path, required: true, schema: { type: string } }
paths:
  /things:
    get:
      parameters:
        - { name: q, in: query }
        - { name: X-Trace, in: header }
    options: {}
  /things/{id}:
    parameters:
      - $ref: '#/components/parameters/Id'
    get: {}
    x-amazon-apigateway-any-method: {}
"#;

    const SECURED: &str = r#"
openapi: 3.1.0
info: { title: T, version: "1" }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials: { tokenUrl: "https://idp.test/token", scopes: { a: "", b: "" } }
    key: { type: apiKey, in: header, name: X-Key }
security:
  - oauth: [a]
paths:
  /default:
    get: {}
  /either:
    get:
      security: [{ oauth: [b, a, b] }, { oauth: [a], key: [] }, { oauth: [b, a] }]
  /open:
    get: { security: [] }
  /optional:
    get: { security: [{}, { oauth: [a] }] }
  /perm:
    post: { x-cedargate-permissions: ["pets:create"] }
"#;

    #[test]
    fn security_requirements_are_read_per_operation() {
        let api = Api::parse("s.yaml", SECURED).unwrap();
        assert!(api.has_service_callers());
        let of = |action: &str| {
            let op = api
                .operations
                .iter()
                .find(|o| o.action() == action)
                .unwrap();
            (op.security.clone(), op.permissions.clone())
        };
        let scopes = |sets: &[&[&str]]| {
            Security::Scopes(
                sets.iter()
                    .map(|s| s.iter().map(|x| (*x).to_owned()).collect())
                    .collect(),
            )
        };
        assert_eq!(of("get /default").0, scopes(&[&["a"]]));
        // Alternatives sorted and without repeats; the API key adds no scope.
        assert_eq!(of("get /either").0, scopes(&[&["a", "b"], &["a"]]));
        assert_eq!(of("get /open").0, Security::Public);
        assert_eq!(of("get /optional").0, Security::Public);
        assert_eq!(
            of("post /perm"),
            (scopes(&[&["a"]]), vec!["pets:create".to_owned()])
        );
        let plain = Api::parse(
            "p.yaml",
            "openapi: 3.0.0\ninfo: {title: T, version: '1'}\npaths:\n  /a:\n    get: {}\n",
        )
        .unwrap();
        assert_eq!(plain.operations[0].security, Security::Unstated);
        assert!(!plain.has_service_callers());
    }

    #[test]
    fn security_requirements_that_cannot_be_mapped_are_refused() {
        // SECURED with `from` replaced by `to` is refused with a message containing `error`.
        let refused = |from: &str, to: &str, error: &str| {
            let text = SECURED.replace(from, to);
            assert_ne!(text, SECURED, "{from} is not in the document");
            let message = Api::parse("s.yaml", &text).unwrap_err().to_string();
            assert!(message.contains(error), "{message}");
        };
        refused(
            "security: [{ oauth: [b, a, b] }",
            "security: [{ other: [b] }",
            "\"other\" is not in components.securitySchemes",
        );
        refused(
            "key: [] }",
            "key: [admin] }",
            "scheme key (apiKey) lists roles, which cannot be mapped",
        );
        refused(
            "x-cedargate-permissions: [\"pets:create\"]",
            "x-cedargate-permissions: pets:create",
            "expected a list",
        );
        refused(
            "type: apiKey",
            "type: password",
            "\"password\" is not a security scheme type",
        );
    }

    #[test]
    fn operations_parameters_and_any() {
        let api = Api::parse("t.yaml", SMALL).unwrap();
        let actions: Vec<String> = api.operations.iter().map(Operation::action).collect();
        assert_eq!(
            actions,
            [
                "get /things",
                "get /things/{id}",
                "post /things/{id}",
                "put /things/{id}",
                "patch /things/{id}",
                "delete /things/{id}"
            ]
        );
        assert_eq!(api.operations[0].query_parameters, ["q"]);
        assert_eq!(api.operations[1].path_parameters, ["id"]);
        assert!(api.operations[2].from_any);
        assert_eq!(api.skipped.len(), 1);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let text = SMALL.replace("{ name: q, in: query }", "{ name: q, in: body }");
        let err = Api::parse("t.yaml", &text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.yaml:11:26: paths./things.get.parameters[0].in: \"body\" is not a parameter location (path, query, header, cookie)"
        );
        let text = SMALL.replace("/things/{id}:", "/things/{id}/{id}:");
        let err = Api::parse("t.yaml", &text).unwrap_err();
        assert!(
            err.to_string().contains("parameter {id} appears twice"),
            "{err}"
        );
        let text = SMALL.replace(
            "    parameters:\n      - $ref: '#/components/parameters/Id'\n",
            "",
        );
        let err = Api::parse("t.yaml", &text).unwrap_err();
        assert!(
            err.to_string()
                .contains("path parameter \"id\" of /things/{id} is not declared"),
            "{err}"
        );
        let text = SMALL.replace("#/components/parameters/Id", "#/components/parameters/Nope");
        let err = Api::parse("t.yaml", &text).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = Api::parse("s.json", r#"{"swagger": "2.0", "paths": {}}"#).unwrap_err();
        assert!(
            err.to_string().contains("Swagger 2.0 is not supported"),
            "{err}"
        );
    }
}
