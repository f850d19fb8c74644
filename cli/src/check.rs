//! `cedargate check`: a policy folder validated as the edge will load it, plus what loads
//! but cannot be right: routes whose action the schema does not declare, actions no route
//! reaches, and actions no policy can ever allow; and, as a note, actions that no scope or
//! permission requirement guards.

use crate::folder;
use cedar_policy::{
    Authorizer, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, RequestBuilder,
    RestrictedExpression,
};
use cedargate::{Bundle, BundleSource, ROUTES_FILE};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Problems that stop the edge from loading the folder.
    pub errors: Vec<String>,
    /// Things that load but are probably mistakes.
    pub warnings: Vec<String>,
    /// Actions no policy can ever allow, for any principal and any request.
    pub never_allowed: Vec<String>,
    /// Actions declared in the schema that no route reaches.
    pub unrouted: Vec<String>,
    /// Actions some token without any scope or permission could be allowed: no scope or
    /// permission requirement guards them (a note, not a warning: an API of ID tokens and
    /// groups has none).
    pub no_requirement: Vec<String>,
    /// One line: version and counts, when the folder loads.
    pub summary: Option<String>,
}

/// Checks a folder's text.
pub fn check(source: &BundleSource) -> Report {
    let mut report = Report::default();
    let (namespace, routes) = folder::routes(&source.routes);
    let schema = folder::schema_json(&source.schema).ok();
    let declared = schema
        .as_ref()
        .map(|json| folder::declared_actions(json, &namespace))
        .unwrap_or_default();
    // Every route's action must be declared: listed all at once, with lines, before the
    // loader stops at the first.
    if schema.is_some() {
        for route in &routes {
            if !declared.contains_key(&route.action) {
                report.errors.push(format!(
                    "{ROUTES_FILE}:{}: route \"{}\": action \"{}\" is not declared in the schema",
                    route.line, route.route, route.action
                ));
            }
        }
    }
    let bundle = match Bundle::load(source) {
        Ok(bundle) => bundle,
        Err(err) => {
            let message = err.to_string();
            if report.errors.is_empty() || !message.contains("is not declared in the schema") {
                report.errors.push(message);
            }
            return report;
        }
    };
    // The bundle loaded, so the schema parsed, and its namespace is the routes' one.
    let attributes = schema
        .as_ref()
        .map(|json| folder::entity_attributes(json, bundle.namespace()))
        .unwrap_or_default();
    for id in declared.keys() {
        if !routes.iter().any(|r| &r.action == id) {
            report.unrouted.push(id.clone());
            report.warnings.push(format!(
                "action \"{id}\" has no route: requests can never reach it through the edge"
            ));
        }
    }
    match possible_without(&bundle, &declared, &attributes, &["scope", "permissions"]) {
        Ok(list) => report.no_requirement = list,
        Err(e) => report.errors.push(e),
    }
    match possible_without(&bundle, &declared, &attributes, &[]).map(|possible| {
        declared
            .keys()
            .filter(|id| !possible.contains(id))
            .cloned()
            .collect::<Vec<_>>()
    }) {
        Ok(list) => {
            for id in &list {
                report.warnings.push(format!(
                    "action \"{id}\": no policy can ever allow it, for any principal or request"
                ));
            }
            report.never_allowed = list;
        }
        Err(e) => report.errors.push(e),
    }
    report.summary = Some(format!(
        "bundle {}: {} actions, {} routes, {} policies",
        bundle.version(),
        declared.len(),
        routes.len(),
        bundle.policy_ids().len()
    ));
    report
}

/// Actions for which some principal the policies could tell apart may be allowed, when the
/// principal has none of the attributes `without` (`never allowed` is every other action).
///
/// Cedar's partial evaluation decides each action for a set of principals that covers every
/// case the policies distinguish: each principal id they name (and one they do not), as a
/// member of no group, of each group they name, and of all of them; every other attribute of
/// the principal and the whole context unknown. An action is possible unless every one of
/// these is denied outright — no permit can hold, or a forbid always does.
fn possible_without(
    bundle: &Bundle,
    declared: &BTreeMap<String, folder::DeclaredAction>,
    attributes: &HashMap<String, Vec<String>>,
    without: &[&str],
) -> Result<Vec<String>, String> {
    let policies = bundle.policies();
    let actions: Entities = bundle
        .schema()
        .action_entities()
        .map_err(|e| format!("schema: {e}"))?;
    let ns = bundle.namespace();
    let qualify = |name: &str| cedargate::qualify(ns, name);
    let action_type =
        EntityTypeName::from_str(&qualify("Action")).map_err(|e| format!("action type: {e}"))?;
    // Every entity the policies name, by type.
    let mut named: Vec<EntityUid> = Vec::new();
    for policy in policies.policies() {
        if let Ok(json) = policy.to_json() {
            collect_entities(&json, &mut named);
        }
    }
    let authorizer = Authorizer::new();
    let mut out = Vec::new();
    for (id, action) in declared {
        let uid = EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(id));
        let mut possible = false;
        'principals: for principal_type in &action.principals {
            let ty = EntityTypeName::from_str(principal_type)
                .map_err(|e| format!("{principal_type}: {e}"))?;
            let groups: Vec<EntityUid> = named
                .iter()
                .filter(|u| u.type_name() != &ty && u.type_name() != &action_type)
                .cloned()
                .collect();
            let mut ids: Vec<EntityUid> = named
                .iter()
                .filter(|u| u.type_name() == &ty)
                .cloned()
                .collect();
            ids.push(EntityUid::from_type_name_and_id(
                ty.clone(),
                EntityId::new("cedargate check: anyone else"),
            ));
            let mut memberships: Vec<HashSet<EntityUid>> = vec![HashSet::new()];
            memberships.extend(groups.iter().map(|g| HashSet::from([g.clone()])));
            memberships.push(groups.iter().cloned().collect());
            let attrs: HashMap<String, RestrictedExpression> = attributes
                .get(principal_type)
                .into_iter()
                .flatten()
                .filter(|name| !without.contains(&name.as_str()))
                .map(|name| (name.clone(), RestrictedExpression::new_unknown(name)))
                .collect();
            for principal in &ids {
                for parents in &memberships {
                    let entity = Entity::new(principal.clone(), attrs.clone(), parents.clone())
                        .map_err(|e| format!("{principal}: {e}"))?;
                    let entities = actions
                        .clone()
                        .add_entities([entity], None)
                        .map_err(|e| format!("{principal}: {e}"))?;
                    let request = RequestBuilder::default()
                        .principal(principal.clone())
                        .action(uid.clone())
                        .resource(bundle.resource().clone())
                        .build();
                    let response = authorizer.is_authorized_partial(&request, policies, &entities);
                    if response.decision() != Some(Decision::Deny) {
                        possible = true;
                        break 'principals;
                    }
                }
            }
        }
        if possible {
            out.push(id.clone());
        }
    }
    Ok(out)
}

/// Entity references in a policy's JSON form: scope constraints (`{"type", "id"}`) and
/// literals (`{"__entity": {...}}`).
fn collect_entities(json: &Value, out: &mut Vec<EntityUid>) {
    match json {
        Value::Object(map) => {
            if let (Some(Value::String(ty)), Some(Value::String(id)), 2) =
                (map.get("type"), map.get("id"), map.len())
                && let Ok(ty) = EntityTypeName::from_str(ty)
            {
                let uid = EntityUid::from_type_name_and_id(ty, EntityId::new(id));
                if !out.contains(&uid) {
                    out.push(uid);
                }
            }
            for value in map.values() {
                collect_entities(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_entities(v, out)),
        _ => {}
    }
}
