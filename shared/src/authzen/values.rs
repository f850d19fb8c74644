//! Properties and context values against the schema's declarations, before Cedar reads them.
//!
//! Declared attributes are checked: a value of another JSON type than the declared Cedar type
//! (`null` included) is an error, as is a required attribute that is missing (context records
//! and nested records; an entity's own attributes are checked once merged with the entity
//! data). Members the schema does not declare are dropped: the policies are validated
//! strictly against the schema, so none can read them, and dropping them cannot change a
//! decision. Entity references and extension values (`ipaddr`, `decimal`, `datetime`,
//! `duration`) are left to Cedar's schema-directed parser, which takes them in Cedar's JSON
//! forms (`{"type", "id"}` or `{"__entity": ...}`; the value's string, or `{"__extn": ...}`).

use super::types::AttributeError;
use crate::schema_info::{Attribute, CedarType};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The declared members of `given`, each checked; with `require`, a missing required one is
/// an error.
pub(crate) fn shape_record(
    place: &str,
    given: &Map<String, Value>,
    declared: &BTreeMap<String, Attribute>,
    require: bool,
) -> Result<Map<String, Value>, AttributeError> {
    let mut out = Map::new();
    for (name, attribute) in declared {
        let at = format!("{place}.{name}");
        match given.get(name) {
            Some(value) => {
                out.insert(name.clone(), shape_value(&at, value, &attribute.ty)?);
            }
            None if require && attribute.required => {
                return Err(AttributeError::Missing { place: at });
            }
            None => {}
        }
    }
    Ok(out)
}

fn shape_value(place: &str, value: &Value, ty: &CedarType) -> Result<Value, AttributeError> {
    let wrong = |expected: &str| AttributeError::WrongType {
        place: place.to_owned(),
        expected: expected.to_owned(),
    };
    match ty {
        CedarType::String if value.is_string() => Ok(value.clone()),
        CedarType::String => Err(wrong("a string")),
        CedarType::Long if value.as_i64().is_some() => Ok(value.clone()),
        CedarType::Long => Err(wrong("an integer from -2^63 to 2^63-1 (Long)")),
        CedarType::Bool if value.is_boolean() => Ok(value.clone()),
        CedarType::Bool => Err(wrong("true or false")),
        CedarType::Set(element) => match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| shape_value(&format!("{place}[{i}]"), item, element))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(wrong(&format!("an array ({})", ty.describe()))),
        },
        CedarType::Record(fields) => match value {
            Value::Object(map) => shape_record(place, map, fields, true).map(Value::Object),
            _ => Err(wrong("an object")),
        },
        CedarType::Entity(name) => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(wrong(&format!("a reference to a {name} entity"))),
        },
        CedarType::Other(name) => match value {
            Value::Null => Err(wrong(&format!("a value of type {name}"))),
            _ => Ok(value.clone()),
        },
    }
}

/// Whether two values of declared type `ty` are the same Cedar value, however each is
/// written: sets compare without order or repeats, records member by member, entity
/// references in either JSON form, extension values as their `__extn` argument or the
/// plain string. Anything else compares as JSON.
pub(crate) fn same_value(a: &Value, b: &Value, ty: &CedarType) -> bool {
    match (ty, a, b) {
        (CedarType::Set(element), Value::Array(x), Value::Array(y)) => {
            x.iter()
                .all(|i| y.iter().any(|j| same_value(i, j, element)))
                && y.iter()
                    .all(|j| x.iter().any(|i| same_value(i, j, element)))
        }
        (CedarType::Record(fields), Value::Object(x), Value::Object(y)) => {
            let names =
                |m: &Map<String, Value>| m.keys().filter(|k| fields.contains_key(*k)).count();
            names(x) == names(y)
                && fields
                    .iter()
                    .all(|(name, field)| match (x.get(name), y.get(name)) {
                        (Some(i), Some(j)) => same_value(i, j, &field.ty),
                        (None, None) => true,
                        _ => false,
                    })
        }
        (CedarType::Entity(_), _, _) => match (entity_ref(a), entity_ref(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        (CedarType::Other(_), _, _) => extension_arg(a) == extension_arg(b),
        _ => a == b,
    }
}

/// `(type, id)` of an entity reference, `{"type", "id"}` or `{"__entity": {...}}`.
fn entity_ref(value: &Value) -> Option<(&str, &str)> {
    let object = value.as_object()?;
    let inner = match object.get("__entity") {
        Some(Value::Object(inner)) if object.len() == 1 => inner,
        Some(_) => return None,
        None => object,
    };
    if inner.len() != 2 {
        return None;
    }
    Some((inner.get("type")?.as_str()?, inner.get("id")?.as_str()?))
}

/// An extension value's argument: the string itself, or `{"__extn": {"fn", "arg"}}`'s `arg`.
fn extension_arg(value: &Value) -> &Value {
    match value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("__extn"))
        .and_then(Value::as_object)
        .and_then(|e| e.get("arg"))
    {
        Some(arg) => arg,
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_value_written_two_ways_is_the_same() {
        let set = CedarType::Set(Box::new(CedarType::String));
        assert!(same_value(
            &json!(["a", "b"]),
            &json!(["b", "a", "b"]),
            &set
        ));
        assert!(!same_value(&json!(["a", "b"]), &json!(["a"]), &set));
        let user = CedarType::Entity("Demo::User".into());
        let plain = json!({"type": "Demo::User", "id": "ada"});
        let escaped = json!({"__entity": {"type": "Demo::User", "id": "ada"}});
        assert!(same_value(&plain, &escaped, &user));
        assert!(!same_value(
            &plain,
            &json!({"__entity": {"type": "Demo::User", "id": "bob"}}),
            &user
        ));
        let ip = CedarType::Other("ipaddr".into());
        let extn = json!({"__extn": {"fn": "ip", "arg": "10.0.0.1"}});
        assert!(same_value(&json!("10.0.0.1"), &extn, &ip));
        assert!(!same_value(&json!("10.0.0.2"), &extn, &ip));
        assert!(!same_value(&json!(1), &json!("1"), &CedarType::Long));
    }
}
