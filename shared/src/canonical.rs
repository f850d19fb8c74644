//! Canonical JSON text: object members sorted by key, no insignificant whitespace. Used for
//! the bundle version and the edge's configuration digest, so that the same content hashes
//! the same everywhere, whatever the order its members were written in.

use serde_json::Value;

/// `value` as canonical JSON text.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

pub(crate) fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn sorts_keys_at_every_level() {
        let v: Value = serde_json::from_str(r#"{"b":[{"d":1,"c":2}],"a":"x"}"#).unwrap();
        let mut out = String::new();
        write(&v, &mut out);
        assert_eq!(out, r#"{"a":"x","b":[{"c":2,"d":1}]}"#);
    }
}
