//! The mapping file (`authzen.json` in a bundle folder): which Cedar entity type each
//! AuthZEN subject and resource type is, and which resource type stands for the routes of the
//! bundle's route table.
//!
//! ```json
//! {
//!   "$comment": "optional, any text",
//!   "subject_types": { "user": "User", "identity": "User" },
//!   "resource_types": { "user": "User", "todo": "Todo" },
//!   "route_type": "route",
//!   "action_properties": "action"
//! }
//! ```
//!
//! - `subject_types` (required): AuthZEN `subject.type` → Cedar entity type. Names without
//!   `::` are in the bundle's namespace (`User` is `TodoApp::User`).
//! - `resource_types` (optional): AuthZEN `resource.type` → Cedar entity type, likewise.
//! - `route_type` (optional): the AuthZEN `resource.type` whose `id` is a route template of
//!   the route table (`/todos/{todoId}`). For such a resource, `action.name` is an HTTP
//!   method (any case), the Cedar action is the one the route table gives
//!   `"<lowercase method> <template>"` (`"put /todos/{todoId}"`), and the Cedar resource is the
//!   bundle's resource, as for the edge's own decisions.
//! - `action_properties` (optional): the member of the Cedar context that receives
//!   `action.properties` (Cedar actions have no attributes; a policy reads
//!   `context.action.soft`). It is given to the actions whose context declares that member,
//!   as a record (checked when loaded), and is always there for them: `action.properties`
//!   checked against the record's declared attributes (undeclared ones ignored), or `{}`
//!   when the action has none. A request's `context` may not give that member itself.
//!
//! Checked against the bundle when loaded: every named type is declared by the schema, is the
//! principal (for `subject_types`) or resource (for `resource_types`) type of at least one
//! action, no AuthZEN name is empty, the route type is not also in `resource_types`, and the
//! bundle has routes when there is a route type. Unknown members, duplicate members and
//! anything else are refused.

use crate::bundle::Bundle;
use crate::schema_info::{CedarType, qualify};
use crate::strict_json;
use cedar_policy::EntityTypeName;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The file name of a bundle's AuthZEN mapping.
pub const MAPPING_FILE: &str = "authzen.json";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    subject_types: BTreeMap<String, String>,
    #[serde(default)]
    resource_types: BTreeMap<String, String>,
    #[serde(default)]
    route_type: Option<String>,
    #[serde(default)]
    action_properties: Option<String>,
}

/// Why a mapping file was refused. Messages name the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingFileError {
    /// Not JSON, or JSON with duplicate member names.
    #[error("{MAPPING_FILE}:{}:{}: {message}", .line.0, .line.1)]
    Json {
        /// The parser's message.
        message: String,
        /// Line and column.
        line: (usize, usize),
    },
    /// JSON, but not of the mapping's shape (unknown members included).
    #[error("{MAPPING_FILE}: {0}")]
    Shape(String),
    /// An AuthZEN type name is empty.
    #[error("{MAPPING_FILE}: an AuthZEN type name is empty")]
    EmptyName,
    /// A Cedar type the schema does not declare.
    #[error(
        "{MAPPING_FILE}: {kind} type \"{authzen}\" maps to {cedar}, which the schema does not declare"
    )]
    UnknownType {
        /// `subject` or `resource`.
        kind: &'static str,
        /// The AuthZEN name.
        authzen: String,
        /// The Cedar type, qualified.
        cedar: String,
    },
    /// A Cedar type that no action takes as principal (for a subject type) or resource (for
    /// a resource type).
    #[error(
        "{MAPPING_FILE}: {kind} type \"{authzen}\" maps to {cedar}, which is not the {kind} type of any action"
    )]
    Unusable {
        /// `subject` or `resource`.
        kind: &'static str,
        /// The AuthZEN name.
        authzen: String,
        /// The Cedar type, qualified.
        cedar: String,
    },
    /// The route type is also a key of `resource_types`.
    #[error("{MAPPING_FILE}: route_type \"{0}\" is also in resource_types")]
    RouteTypeTaken(String),
    /// A route type, but the bundle has no route.
    #[error("{MAPPING_FILE}: route_type is set, but the bundle has no routes")]
    NoRoutes,
    /// An action declares the `action_properties` context member as something else than a
    /// record.
    #[error(
        "{MAPPING_FILE}: action_properties is \"{member}\", but action {action} declares context.{member} as another type than a record"
    )]
    ActionPropertiesNotRecord {
        /// The context member.
        member: String,
        /// The action id.
        action: String,
    },
}

/// A mapping file, checked against one bundle (see the module documentation for the format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    subject_types: BTreeMap<String, EntityTypeName>,
    resource_types: BTreeMap<String, EntityTypeName>,
    route_type: Option<String>,
    action_properties: Option<String>,
}

impl Mapping {
    /// Parses `text` and checks it against `bundle`.
    pub fn load(text: &str, bundle: &Bundle) -> Result<Self, MappingFileError> {
        let value =
            strict_json::from_slice(text.as_bytes()).map_err(|err| MappingFileError::Json {
                message: err.to_string(),
                line: (err.line(), err.column()),
            })?;
        let file: MappingFile = serde_json::from_value::<MappingFile>(value)
            .map_err(|err| MappingFileError::Shape(err.to_string()))?;
        let info = bundle.schema_info();
        let ns = bundle.namespace();
        let resolve = |kind: &'static str,
                       table: &BTreeMap<String, String>|
         -> Result<BTreeMap<String, EntityTypeName>, MappingFileError> {
            let mut out = BTreeMap::new();
            for (authzen, cedar) in table {
                if authzen.is_empty() {
                    return Err(MappingFileError::EmptyName);
                }
                let qualified = qualify(ns, cedar);
                let unknown = || MappingFileError::UnknownType {
                    kind,
                    authzen: authzen.clone(),
                    cedar: qualified.clone(),
                };
                if !info.entities.contains_key(&qualified) {
                    return Err(unknown());
                }
                let name = bundle.entity_type(&qualified).ok_or_else(unknown)?;
                let usable = info.actions.values().any(|action| {
                    let types = if kind == "subject" {
                        &action.principal_types
                    } else {
                        &action.resource_types
                    };
                    types.contains(&qualified)
                });
                if !usable {
                    return Err(MappingFileError::Unusable {
                        kind,
                        authzen: authzen.clone(),
                        cedar: qualified,
                    });
                }
                out.insert(authzen.clone(), name);
            }
            Ok(out)
        };
        let subject_types = resolve("subject", &file.subject_types)?;
        let resource_types = resolve("resource", &file.resource_types)?;
        if let Some(route_type) = &file.route_type {
            if route_type.is_empty() {
                return Err(MappingFileError::EmptyName);
            }
            if resource_types.contains_key(route_type) {
                return Err(MappingFileError::RouteTypeTaken(route_type.clone()));
            }
            if bundle.routes.routes.is_empty() {
                return Err(MappingFileError::NoRoutes);
            }
        }
        if let Some(member) = &file.action_properties {
            if member.is_empty() {
                return Err(MappingFileError::EmptyName);
            }
            for ((_, action), declared) in &info.actions {
                if let Some(attribute) = declared.context.get(member)
                    && !matches!(attribute.ty, CedarType::Record(_))
                {
                    return Err(MappingFileError::ActionPropertiesNotRecord {
                        member: member.clone(),
                        action: action.clone(),
                    });
                }
            }
        }
        Ok(Self {
            subject_types,
            resource_types,
            route_type: file.route_type,
            action_properties: file.action_properties,
        })
    }

    /// The Cedar entity type of an AuthZEN subject type.
    pub fn subject_type(&self, authzen: &str) -> Option<&EntityTypeName> {
        self.subject_types.get(authzen)
    }

    /// The Cedar entity type of an AuthZEN resource type (not the route type).
    pub fn resource_type(&self, authzen: &str) -> Option<&EntityTypeName> {
        self.resource_types.get(authzen)
    }

    /// Every AuthZEN subject type with its Cedar entity type, by AuthZEN name.
    pub fn subject_types(&self) -> impl Iterator<Item = (&str, &EntityTypeName)> {
        self.subject_types.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every AuthZEN resource type (not the route type) with its Cedar entity type, by
    /// AuthZEN name.
    pub fn resource_types(&self) -> impl Iterator<Item = (&str, &EntityTypeName)> {
        self.resource_types.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The AuthZEN resource type of routes, if any.
    pub fn route_type(&self) -> Option<&str> {
        self.route_type.as_deref()
    }

    /// The context member that receives `action.properties`, if any.
    pub fn action_properties(&self) -> Option<&str> {
        self.action_properties.as_deref()
    }

    /// The mapping as JSON, with Cedar types qualified: what a tool shows.
    pub fn to_json(&self) -> Value {
        let table = |t: &BTreeMap<String, EntityTypeName>| {
            Value::Object(
                t.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                    .collect(),
            )
        };
        let mut out = serde_json::Map::new();
        out.insert("subject_types".into(), table(&self.subject_types));
        out.insert("resource_types".into(), table(&self.resource_types));
        if let Some(route_type) = &self.route_type {
            out.insert("route_type".into(), Value::String(route_type.clone()));
        }
        if let Some(member) = &self.action_properties {
            out.insert("action_properties".into(), Value::String(member.clone()));
        }
        Value::Object(out)
    }
}
