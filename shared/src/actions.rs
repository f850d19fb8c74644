//! Step 4's table, compiled: the route file bound to the schema's action declarations.
//! Every route's action is declared and applies to the resource, and every action's context
//! is a shape cedargate can fill from the request.

use crate::context::{self, RequestShape, TokenShape};
use crate::routes::{self, ANY_METHODS, Route, RouteTable, RoutesFile};
use crate::schema_info::{Attribute, CedarType, SchemaInfo, declared_type};
use cedar_policy::{EntityId, EntityTypeName, EntityUid, Schema};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One action the bundle can decide: its entity and the context it takes.
#[derive(Clone, Debug)]
pub(crate) struct ActionEntry {
    pub(crate) uid: EntityUid,
    pub(crate) context: ContextShape,
}

/// The context an action declares, of the shapes cedargate fills.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContextShape {
    /// Context fills `pathParameters`.
    pub(crate) path_parameters: bool,
    /// Context fills `queryStringParameters`, with these declared names; `None` when the
    /// action declares no such record.
    pub(crate) query_parameters: Option<Vec<String>>,
    /// Context fills `request` (see [`crate::context`]).
    pub(crate) request: Option<RequestShape>,
    /// Context fills `token` (see [`crate::context`]).
    pub(crate) token: Option<TokenShape>,
}

/// The route file compiled against a schema.
#[derive(Debug)]
pub(crate) struct BuiltRoutes {
    pub(crate) table: RouteTable,
    /// Every action of the namespace, routed or not, by id.
    pub(crate) actions: BTreeMap<String, ActionEntry>,
    pub(crate) resource: EntityUid,
    /// The routes in canonical form, for the bundle's version.
    pub(crate) canonical: Value,
    /// The anonymous principal's type, when a route is public.
    pub(crate) anonymous: Option<EntityTypeName>,
}

/// The entity type (in the route file's namespace) of the principal a public route's
/// request without a token is decided for.
pub const ANONYMOUS_TYPE: &str = "Anonymous";

/// Compiles the route file against the schema; the error is a message about the route file.
///
/// Entity type names are taken from `schema` ([`declared_type`]), never parsed.
pub(crate) fn build_routes(
    file: &RoutesFile,
    info: &SchemaInfo,
    schema: &Schema,
) -> Result<BuiltRoutes, String> {
    let ns = &file.namespace;
    let qualify = |name: &str| crate::schema_info::qualify(ns, name);
    let action_type_name = qualify("Action");
    let action_type = || {
        declared_type(schema, &action_type_name)
            .ok_or_else(|| format!("the schema declares no actions of type {action_type_name}"))
    };
    let resource_type_name = qualify(&file.resource.ty);
    if !info.entities.contains_key(&resource_type_name) {
        return Err(format!(
            "resource type {resource_type_name} is not declared in the schema"
        ));
    }
    let resource = EntityUid::from_type_name_and_id(
        declared_type(schema, &resource_type_name).ok_or_else(|| {
            format!("resource type {resource_type_name} is not declared in the schema")
        })?,
        EntityId::new(&file.resource.id),
    );

    let anonymous_type_name = qualify(ANONYMOUS_TYPE);
    let mut anonymous = None;
    let mut table = RouteTable::default();
    let mut actions: BTreeMap<String, ActionEntry> = BTreeMap::new();
    let mut canonical_routes = Vec::new();
    for entry in &file.routes {
        let (route_text, explicit_action, public) = entry.parts();
        let (method, template, segments) = routes::parse_route(route_text)?;
        let methods: Vec<String> = if method == "any" {
            ANY_METHODS.iter().map(|m| (*m).to_owned()).collect()
        } else {
            vec![method]
        };
        for method in methods {
            let action = explicit_action
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{method} {template}"));
            let declared = info
                .actions
                .get(&(action_type_name.clone(), action.clone()))
                .ok_or_else(|| {
                    format!(
                        "route \"{method} {template}\": action \"{action}\" is not declared in the schema"
                    )
                })?;
            if !declared.resource_types.contains(&resource_type_name) {
                return Err(format!(
                    "action \"{action}\" does not apply to resource type {resource_type_name}"
                ));
            }
            if public {
                if !info.entities.contains_key(&anonymous_type_name) {
                    return Err(format!(
                        "route \"{method} {template}\" is public, but the schema declares no entity type {anonymous_type_name} for requests without a token"
                    ));
                }
                if !declared.principal_types.contains(&anonymous_type_name) {
                    return Err(format!(
                        "route \"{method} {template}\" is public, but action \"{action}\" does not apply to principal type {anonymous_type_name}"
                    ));
                }
                anonymous = Some(declared_type(schema, &anonymous_type_name).ok_or_else(|| {
                    format!(
                        "the schema declares no entity type {anonymous_type_name} for requests without a token"
                    )
                })?);
            }
            let mut route = Route {
                method: method.clone(),
                template: template.clone(),
                segments: segments.clone(),
                action: action.clone(),
                query: Vec::new(),
                public,
            };
            let context = context_shape(&route, &declared.context)
                .map_err(|reason| format!("action \"{action}\": {reason}"))?;
            route.query = context.query_parameters.clone().unwrap_or_default();
            // A public route's entry has a fourth member; the others keep their shape, so the
            // version of a bundle without public routes is what it was.
            canonical_routes.push(if public {
                json!([method, template, action, "public"])
            } else {
                json!([method, template, action])
            });
            actions.insert(
                action.clone(),
                ActionEntry {
                    uid: EntityUid::from_type_name_and_id(action_type()?, EntityId::new(&action)),
                    context,
                },
            );
            table.routes.push(route);
        }
    }
    table.check_overlaps()?;
    // Actions without a route still appear in `allowed_actions`.
    for (action_type_key, id) in info.actions.keys() {
        if *action_type_key == action_type_name && !actions.contains_key(id) {
            actions.insert(
                id.clone(),
                ActionEntry {
                    uid: EntityUid::from_type_name_and_id(action_type()?, EntityId::new(id)),
                    context: ContextShape::default(),
                },
            );
        }
    }
    // Matching does not depend on the order of routes (overlaps are refused above), so
    // neither does the version.
    canonical_routes.sort_by_cached_key(Value::to_string);
    let routes_json = json!({
        "namespace": ns,
        "resource": [resource_type_name, file.resource.id],
        "routes": canonical_routes,
    });
    Ok(BuiltRoutes {
        table,
        actions,
        resource,
        canonical: routes_json,
        anonymous,
    })
}

/// Checks that an action's context is one cedargate fills: `pathParameters` (a record of
/// exactly the route's parameters, all `String`), `queryStringParameters` (a record of
/// optional `String`s), and the request values and token claims of [`crate::context`]
/// (`request`, `token`).
fn context_shape(
    route: &Route,
    context: &BTreeMap<String, Attribute>,
) -> Result<ContextShape, String> {
    let mut path = false;
    let mut query = Vec::new();
    let mut has_query = false;
    let mut request = None;
    let mut token = None;
    for (name, attr) in context {
        match (name.as_str(), &attr.ty) {
            ("pathParameters", CedarType::Record(fields)) => {
                path = true;
                let mut wanted: Vec<&str> = route.parameters().collect();
                wanted.sort_unstable();
                let declared: Vec<&str> = fields.keys().map(String::as_str).collect();
                if wanted != declared {
                    return Err(format!(
                        "context.pathParameters declares {declared:?} but route \"{} {}\" has {wanted:?}",
                        route.method, route.template
                    ));
                }
                if let Some((field, _)) = fields
                    .iter()
                    .find(|(_, a)| a.ty != CedarType::String || !a.required)
                {
                    return Err(format!(
                        "context.pathParameters.{field} must be a required String"
                    ));
                }
            }
            ("queryStringParameters", CedarType::Record(fields)) => {
                has_query = true;
                for (field, a) in fields {
                    if a.ty != CedarType::String || a.required {
                        return Err(format!(
                            "context.queryStringParameters.{field} must be an optional String (\"{field}?: String\")"
                        ));
                    }
                    query.push(field.clone());
                }
            }
            ("request", _) => request = Some(context::request_shape(attr)?),
            ("token", _) => token = Some(context::token_shape(attr)?),
            _ => {
                return Err(format!(
                    "context attribute {name} cannot be filled (only pathParameters, queryStringParameters, request and token records are)"
                ));
            }
        }
    }
    Ok(ContextShape {
        path_parameters: path,
        query_parameters: has_query.then_some(query),
        request,
        token,
    })
}
