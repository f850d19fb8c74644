//! JSON parsing that refuses duplicate object keys at any depth.
//!
//! RFC 7515 §5.2 and RFC 7519 §4 let a JWT consumer either reject duplicate member names
//! or use the last one. Different libraries pick differently, which lets a token mean one
//! thing to us and another to the origin behind us. We reject.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `bytes` as one JSON value, refusing duplicate keys.
pub(crate) fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue::deserialize(&mut deserializer)?.0;
    deserializer.end()?;
    Ok(value)
}

/// Parses `bytes` as a JSON object, refusing duplicate keys.
pub(crate) fn object_from_slice(bytes: &[u8]) -> Result<Map<String, Value>, ObjectError> {
    match from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ObjectError::NotAnObject),
        Err(err) if err.to_string().starts_with(DUPLICATE) => Err(ObjectError::DuplicateKey),
        Err(_) => Err(ObjectError::Syntax),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectError {
    Syntax,
    NotAnObject,
    DuplicateKey,
}

const DUPLICATE: &str = "duplicate key";

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn refuses_duplicates_at_any_depth() {
        assert_eq!(
            object_from_slice(br#"{"a":1,"a":2}"#),
            Err(ObjectError::DuplicateKey)
        );
        assert_eq!(
            object_from_slice(br#"{"a":{"b":1,"b":1}}"#),
            Err(ObjectError::DuplicateKey)
        );
        assert_eq!(
            object_from_slice(br#"{"a":[{"b":1,"b":1}]}"#),
            Err(ObjectError::DuplicateKey)
        );
    }

    #[test]
    fn accepts_ordinary_objects_and_refuses_other_values() {
        let map = object_from_slice(br#"{"a":1,"b":[true,null,"x",1.5]}"#);
        assert!(matches!(map, Ok(ref m) if m.len() == 2));
        assert_eq!(object_from_slice(b"[1]"), Err(ObjectError::NotAnObject));
        assert_eq!(object_from_slice(b"{"), Err(ObjectError::Syntax));
        assert_eq!(object_from_slice(b"{} x"), Err(ObjectError::Syntax));
    }
}
