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
