//! What cedargate needs to know about a schema's shapes: attribute types of entity types
//! and the context record of each action. Read from Cedar's JSON form of the schema.

use serde_json::Value;
use std::collections::BTreeMap;

/// A Cedar type, as far as claim mapping and request contexts care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CedarType {
    String,
    Long,
    Bool,
    Set(Box<CedarType>),
    Record(BTreeMap<String, Attribute>),
    Entity(String),
    /// Extension types (`ipaddr`, `decimal`, `datetime`, `duration`) and anything else.
    Other(String),
}

impl CedarType {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::String => "String".into(),
            Self::Long => "Long".into(),
            Self::Bool => "Bool".into(),
            Self::Set(element) => format!("Set<{}>", element.describe()),
            Self::Record(_) => "Record".into(),
            Self::Entity(name) => name.clone(),
            Self::Other(name) => name.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) ty: CedarType,
    pub(crate) required: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct EntityInfo {
    pub(crate) member_of: Vec<String>,
    pub(crate) attributes: BTreeMap<String, Attribute>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ActionInfo {
    pub(crate) principal_types: Vec<String>,
    pub(crate) resource_types: Vec<String>,
    /// Attributes of the context record (empty when the action declares no context).
    pub(crate) context: BTreeMap<String, Attribute>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SchemaInfo {
    /// Namespaces that declare something, in schema order is not kept (sorted).
    pub(crate) namespaces: Vec<String>,
    /// Entity types by fully qualified name.
    pub(crate) entities: BTreeMap<String, EntityInfo>,
    /// Actions by fully qualified action entity type (`NS::Action`) and id.
    pub(crate) actions: BTreeMap<(String, String), ActionInfo>,
}

/// `name` in `namespace` (`PetStore` + `User` = `PetStore::User`); a name that already has a
/// namespace, or an empty namespace, leaves it as it is. The one rule for every type and
/// action name a bundle, a trust configuration or the policy tool writes unqualified.
/// The entity type of `schema`, an entity type or the type of its actions, whose fully
/// qualified name is `qualified` (`PetStore::User`, `PetStore::Action`): taken from the
/// schema, not parsed, so binding names to a bundle needs no Cedar parser. `None` when the
/// schema declares none.
pub(crate) fn declared_type(
    schema: &cedar_policy::Schema,
    qualified: &str,
) -> Option<cedar_policy::EntityTypeName> {
    schema
        .entity_types()
        .chain(schema.actions().map(cedar_policy::EntityUid::type_name))
        .find(|ty| ty.to_string() == qualified)
        .cloned()
}

pub fn qualify(namespace: &str, name: &str) -> String {
    if namespace.is_empty() || name.contains("::") {
        name.to_owned()
    } else {
        format!("{namespace}::{name}")
    }
}

impl SchemaInfo {
    /// Reads the resolved JSON form of a schema (`schema_str_to_json_with_resolved_types`).
    pub(crate) fn from_json(json: &Value) -> Result<Self, String> {
        let Value::Object(namespaces) = json else {
            return Err("schema JSON is not an object".into());
        };
        let mut common: BTreeMap<String, Value> = BTreeMap::new();
        for (ns, body) in namespaces {
            if let Some(Value::Object(types)) = body.get("commonTypes") {
                for (name, ty) in types {
                    common.insert(qualify(ns, name), ty.clone());
                }
            }
        }
        let mut info = SchemaInfo::default();
        for (ns, body) in namespaces {
            info.namespaces.push(ns.clone());
            let resolver = Resolver {
                namespace: ns,
                common: &common,
            };
            if let Some(Value::Object(types)) = body.get("entityTypes") {
                for (name, decl) in types {
                    let member_of = strings(decl.get("memberOfTypes"))
                        .into_iter()
                        .map(|t| qualify(ns, &t))
                        .collect();
                    let attributes = match decl.get("shape") {
                        Some(shape) => match resolver.ty(shape, 0)? {
                            CedarType::Record(attrs) => attrs,
                            other => {
                                return Err(format!(
                                    "shape of {name} is {}, not a record",
                                    other.describe()
                                ));
                            }
                        },
                        None => BTreeMap::new(),
                    };
                    info.entities.insert(
                        qualify(ns, name),
                        EntityInfo {
                            member_of,
                            attributes,
                        },
                    );
                }
            }
            if let Some(Value::Object(actions)) = body.get("actions") {
                for (id, decl) in actions {
                    let applies = decl.get("appliesTo");
                    let types = |field| {
                        strings(applies.and_then(|a| a.get(field)))
                            .into_iter()
                            .map(|t| qualify(ns, &t))
                            .collect()
                    };
                    let context = match applies.and_then(|a| a.get("context")) {
                        Some(ctx) => match resolver.ty(ctx, 0)? {
                            CedarType::Record(attrs) => attrs,
                            other => {
                                return Err(format!(
                                    "context of action \"{id}\" is {}, not a record",
                                    other.describe()
                                ));
                            }
                        },
                        None => BTreeMap::new(),
                    };
                    info.actions.insert(
                        (qualify(ns, "Action"), id.clone()),
                        ActionInfo {
                            principal_types: types("principalTypes"),
                            resource_types: types("resourceTypes"),
                            context,
                        },
                    );
                }
            }
        }
        Ok(info)
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

struct Resolver<'a> {
    namespace: &'a str,
    common: &'a BTreeMap<String, Value>,
}

impl Resolver<'_> {
    fn ty(&self, decl: &Value, depth: usize) -> Result<CedarType, String> {
        if depth > 32 {
            return Err("schema types nest too deeply".into());
        }
        let Some(kind) = decl.get("type").and_then(Value::as_str) else {
            return Err("schema type without \"type\"".into());
        };
        Ok(match kind {
            "String" => CedarType::String,
            "Long" => CedarType::Long,
            "Boolean" | "Bool" => CedarType::Bool,
            "Set" => CedarType::Set(Box::new(
                self.ty(decl.get("element").unwrap_or(&Value::Null), depth + 1)?,
            )),
            "Record" => {
                let mut attrs = BTreeMap::new();
                if let Some(Value::Object(fields)) = decl.get("attributes") {
                    for (name, field) in fields {
                        attrs.insert(name.clone(), self.attribute(field, depth + 1)?);
                    }
                }
                CedarType::Record(attrs)
            }
            "Entity" => CedarType::Entity(qualify(
                self.namespace,
                decl.get("name").and_then(Value::as_str).unwrap_or_default(),
            )),
            "Extension" => CedarType::Other(
                decl.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("extension")
                    .to_owned(),
            ),
            name => match self
                .common
                .get(&qualify(self.namespace, name))
                .or_else(|| self.common.get(name))
            {
                Some(common) => self.ty(common, depth + 1)?,
                None => CedarType::Other(name.to_owned()),
            },
        })
    }

    fn attribute(&self, decl: &Value, depth: usize) -> Result<Attribute, String> {
        Ok(Attribute {
            ty: self.ty(decl, depth)?,
            required: decl
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }
}
