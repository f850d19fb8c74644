//! Decisions shared between principals that nothing in a bundle can tell apart.
//!
//! Two tokens often map to principals that differ in their ids only: the same entity type,
//! the same groups, the same attribute values ([`crate::principal::PrincipalShape`]). Cedar
//! looks at an entity's id in one way only: comparing it with another entity (`==`, `in`,
//! `contains`, the hierarchy), and the entities it can compare a principal with are written
//! as literals in a policy, reached through attributes, the context or the resource, or
//! stored in the entity data. Renaming one entity to an id that appears nowhere changes no
//! comparison, so no answer, when no such place can hold an entity of the principal's type:
//! two principals of the same shape, each in a store that differs only by which one it
//! holds, are then evaluated alike by every policy, for the same action, resource and
//! context.
//!
//! [`distinguishing`] decides this once per bundle and principal type, statically, and
//! names the first place it finds that could tell ids apart (any one makes decisions
//! per principal again, as without sharing):
//! - a policy with an entity literal of the type, in its scope or its conditions (templates
//!   are refused by the bundle loader; a policy set with one counts as such a place);
//! - a schema type of the type: an attribute or tag of any entity type, a common type, an
//!   action's context (so `resource.owner == principal` cannot be written), or the type in
//!   the `memberOfTypes` of any entity type, itself included (so no entity, and no group
//!   named in a token, can have a principal above it);
//! - an entity of the type in the entity data, or any reference to one (an attribute value,
//!   a parent, a tag), whose join with the token's principal would depend on its id;
//! - the bundle's resource being of the type (`resource == principal`);
//! - the type being an enumerated one (`entity User enum [...]`): the schema check refuses
//!   a principal whose id is not listed, so the id decides whether it may be decided at all.
//!
//! What else a decision depends on is part of the key the edge shares it under
//! ([`crate::Gate::decision_key`]): the shape, the token values the action's context reads,
//! and the request's method and target (which give the route, its path and query values).
//! A decision whose action reads the request's own values is not kept at all, and one with
//! evaluation errors is not shared (Cedar's messages name the principal's id).

use crate::bundle::Bundle;
use crate::schema_info::qualify;
use serde_json::Value;

/// Why decisions for principals of one type are not shared in a bundle: the first place
/// found that could tell two of them apart by their ids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Distinguishing {
    /// A policy names an entity of the type (`principal == User::"alice"`,
    /// `principal in User::"alice"`, `[User::"bob"].contains(principal)`), or could not be
    /// read as JSON, or the policy set holds a template.
    #[error("policy {policy} names an entity of the principal's type")]
    PolicyLiteral { policy: String },
    /// The schema gives something (an attribute, a tag, a common type, an action's
    /// context) the principal's type, or lets an entity type be a member of it.
    #[error("the schema can refer to the principal's type: {place}")]
    SchemaType { place: String },
    /// The entity data holds an entity of the type or refers to one.
    #[error("the entity data refers to an entity of the principal's type: {entity}")]
    EntityData { entity: String },
    /// The bundle's resource is of the type.
    #[error("the bundle's resource is of the principal's type")]
    Resource,
    /// No issuer entry of the gate's trust maps principals of the type.
    #[error("no issuer entry maps principals of the type")]
    NotMapped,
}

/// The first place in `bundle` that could tell two principals of type `ty` (fully qualified,
/// `PetStore::User`) apart by their ids; `None` when there is none, and decisions may be
/// shared between principals of the same shape.
pub fn distinguishing(bundle: &Bundle, ty: &str) -> Option<Distinguishing> {
    if bundle.resource().type_name().to_string() == ty {
        return Some(Distinguishing::Resource);
    }
    if let Some(template) = bundle.policies().templates().next() {
        return Some(Distinguishing::PolicyLiteral {
            policy: template.id().to_string(),
        });
    }
    for policy in bundle.policies().policies() {
        // The policy's JSON form as the bundle holds it (its compiled form, what the policy
        // set was loaded from), so no Cedar code converts policies back to JSON.
        let named = match bundle.policy_json(policy.id().as_ref()) {
            Some(json) => names_entity_of(json, ty),
            // A policy whose form cannot be found is assumed to name one.
            None => true,
        };
        if named {
            return Some(Distinguishing::PolicyLiteral {
                policy: policy.id().to_string(),
            });
        }
    }
    if let Some(place) = schema_place(bundle.compiled().content.get("schema"), ty) {
        return Some(Distinguishing::SchemaType { place });
    }
    let data = &bundle.entity_data.by_uid;
    let mut found: Vec<String> = data
        .iter()
        .filter(|(uid, entity)| uid.type_name().to_string() == ty || names_entity_of(entity, ty))
        .map(|(uid, _)| uid.to_string())
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .map(|entity| Distinguishing::EntityData { entity })
}

/// Whether `json` (a policy in Cedar's JSON form, an entity in Cedar's JSON entity format)
/// holds an entity reference of type `ty` anywhere: an object whose `type` is `ty` (the
/// form of an entity uid in both, `__entity` values included).
fn names_entity_of(json: &Value, ty: &str) -> bool {
    match json {
        Value::Object(members) => members.iter().any(|(key, value)| {
            (key == "type" && value.as_str() == Some(ty)) || names_entity_of(value, ty)
        }),
        Value::Array(items) => items.iter().any(|item| names_entity_of(item, ty)),
        _ => false,
    }
}

/// Where the schema (Cedar's JSON schema format) can refer to `ty` other than as an
/// action's principal type and its own declaration: a type written anywhere in a common
/// type, an entity type's shape or tags, or an action's context, and any `memberOfTypes`.
/// A name is compared both as written and qualified with its namespace, so an unqualified
/// name that may mean the type counts.
fn schema_place(schema: Option<&Value>, ty: &str) -> Option<String> {
    let Some(Value::Object(namespaces)) = schema else {
        return Some("the schema's JSON form is missing".into());
    };
    for (ns, body) in namespaces {
        let refers = |value: &Value| refers_to(value, ns, ty);
        if let Some(Value::Object(common)) = body.get("commonTypes") {
            for (name, decl) in common {
                if refers(decl) {
                    return Some(format!("common type {}", qualify(ns, name)));
                }
            }
        }
        if let Some(Value::Object(types)) = body.get("entityTypes") {
            for (name, decl) in types {
                // An enumerated type's ids are checked against its list: a token whose id is
                // not on it is refused, so its id decides whether it is decided at all.
                if qualify(ns, name) == ty && decl.get("enum").is_some() {
                    return Some(format!("{ty} is an enumerated type"));
                }
                let member_of = decl
                    .get("memberOfTypes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|parent| parent == ty || qualify(ns, parent) == ty);
                if member_of {
                    return Some(format!("{} can be a member of it", qualify(ns, name)));
                }
                for part in ["shape", "tags"] {
                    if decl.get(part).is_some_and(refers) {
                        return Some(format!("the {part} of {}", qualify(ns, name)));
                    }
                }
            }
        }
        if let Some(Value::Object(actions)) = body.get("actions") {
            for (id, decl) in actions {
                let context = decl.get("appliesTo").and_then(|a| a.get("context"));
                if context.is_some_and(refers) {
                    return Some(format!("the context of action \"{id}\""));
                }
            }
        }
    }
    None
}

/// Whether a schema type (Cedar's JSON schema format) written in namespace `ns` names `ty`
/// anywhere: a `type` or `name` member (entity and common type references, in any of the
/// format's spellings) equal to it as written or qualified.
fn refers_to(value: &Value, ns: &str, ty: &str) -> bool {
    match value {
        Value::Object(members) => members.iter().any(|(key, value)| match value {
            Value::String(name) if key == "type" || key == "name" => {
                name == ty || qualify(ns, name) == ty
            }
            _ => refers_to(value, ns, ty),
        }),
        Value::Array(items) => items.iter().any(|item| refers_to(item, ns, ty)),
        _ => false,
    }
}
