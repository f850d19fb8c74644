//! Where a mapping reads a claim: a top-level member of the payload by its name, or a value
//! nested in objects by a JSON pointer.
//!
//! One syntax, chosen so that every name that worked before means what it meant: a claim
//! setting that starts with `/` is a JSON pointer (RFC 6901: `/address/country`,
//! `/https:~1~1example.com~1claims/roles`, with `~1` for `/` and `~0` for `~`, and an array
//! index as a decimal segment); any other text is the name of a top-level member, taken
//! literally, dots included (PingOne's `p1.permissions` is one member, not a path). A
//! pointer must have at least one segment, and no segment may be empty. The value found is
//! typed exactly as a top-level claim's would be.

use serde_json::{Map, Value};

/// Why a claim setting is not a usable claim path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimPathError {
    /// The setting is empty.
    #[error("a claim name or path is empty")]
    Empty,
    /// A pointer has an empty segment (`/`, `/a//b`, `/a/`).
    #[error("claim path {0} has an empty segment")]
    EmptySegment(String),
    /// A pointer has `~` not followed by `0` or `1`.
    #[error("claim path {0} has a ~ that is not ~0 or ~1")]
    Escape(String),
}

/// Checks a claim setting: a non-empty name, or a pointer of non-empty, well-escaped segments.
pub fn check(claim: &str) -> Result<(), ClaimPathError> {
    if claim.is_empty() {
        return Err(ClaimPathError::Empty);
    }
    let Some(pointer) = claim.strip_prefix('/') else {
        return Ok(());
    };
    for segment in pointer.split('/') {
        if segment.is_empty() {
            return Err(ClaimPathError::EmptySegment(claim.to_owned()));
        }
        if unescape(segment).is_none() {
            return Err(ClaimPathError::Escape(claim.to_owned()));
        }
    }
    Ok(())
}

/// The value `claim` names in `claims`, if there is one.
pub fn value_at<'a>(claims: &'a Map<String, Value>, claim: &str) -> Option<&'a Value> {
    let Some(pointer) = claim.strip_prefix('/') else {
        return claims.get(claim);
    };
    let mut segments = pointer.split('/');
    let first = unescape(segments.next()?)?;
    let mut value = claims.get(&first)?;
    for segment in segments {
        let segment = unescape(segment)?;
        value = match value {
            Value::Object(members) => members.get(&segment)?,
            Value::Array(items) => items.get(index(&segment)?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `claims` with the value `claim` names replaced by `value` (`None`: removed), when there
/// is one; unchanged otherwise.
pub fn replace_at(claims: &mut Map<String, Value>, claim: &str, value: Option<Value>) {
    let Some(pointer) = claim.strip_prefix('/') else {
        match value {
            Some(value) => claims.insert(claim.to_owned(), value),
            None => claims.remove(claim),
        };
        return;
    };
    let segments: Option<Vec<String>> = pointer.split('/').map(unescape).collect();
    let Some((last, parents)) = segments.as_deref().and_then(<[String]>::split_last) else {
        return;
    };
    let Some((first, rest)) = parents.split_first() else {
        match value {
            Some(value) => claims.insert(last.clone(), value),
            None => claims.remove(last),
        };
        return;
    };
    let Some(mut parent) = claims.get_mut(first) else {
        return;
    };
    for segment in rest {
        parent = match parent {
            Value::Object(members) => match members.get_mut(segment) {
                Some(next) => next,
                None => return,
            },
            Value::Array(items) => match index(segment).and_then(|i| items.get_mut(i)) {
                Some(next) => next,
                None => return,
            },
            _ => return,
        };
    }
    match (parent, value) {
        (Value::Object(members), Some(value)) => {
            members.insert(last.clone(), value);
        }
        (Value::Object(members), None) => {
            members.remove(last);
        }
        (Value::Array(items), value) => {
            if let Some(slot) = index(last).and_then(|i| items.get_mut(i)) {
                *slot = value.unwrap_or(Value::Null);
            }
        }
        _ => {}
    }
}

/// `claims` with `value` where `claim` names it, objects made along the way where members
/// are missing (an intermediate value that is not an object is replaced by one): for what-if
/// principals, whose claims may have values the token did not carry.
pub fn insert_at(claims: &mut Map<String, Value>, claim: &str, value: Value) {
    let Some(pointer) = claim.strip_prefix('/') else {
        claims.insert(claim.to_owned(), value);
        return;
    };
    let Some(segments) = pointer.split('/').map(unescape).collect::<Option<Vec<_>>>() else {
        return;
    };
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut members = claims;
    for segment in parents {
        let slot = members
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            return;
        };
        members = next;
    }
    members.insert(last.clone(), value);
}

/// The attribute a claim is mapped to when the mapping names none: the claim's name, or a
/// pointer's last segment.
pub fn default_attribute(claim: &str) -> String {
    match claim.strip_prefix('/') {
        Some(pointer) => pointer
            .rsplit('/')
            .next()
            .and_then(unescape)
            .unwrap_or_default(),
        None => claim.to_owned(),
    }
}

fn unescape(segment: &str) -> Option<String> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// An array index as RFC 6901 writes it: decimal, without leading zeros.
fn index(segment: &str) -> Option<usize> {
    if segment.is_empty()
        || !segment.bytes().all(|b| b.is_ascii_digit())
        || (segment.len() > 1 && segment.starts_with('0'))
    {
        return None;
    }
    segment.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> Map<String, Value> {
        json!({
            "sub": "u1",
            "p1.permissions": ["pets:read"],
            "address": { "country": "DE", "locality": "Berlin" },
            "https://example.com/claims": { "roles": ["admin", "ops"] },
            "a/b": { "c~d": 7 },
            "orgs": [{ "id": "o1" }, { "id": "o2" }],
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn names_are_top_level_members_taken_literally() {
        let c = claims();
        assert_eq!(value_at(&c, "sub"), Some(&json!("u1")));
        assert_eq!(value_at(&c, "p1.permissions"), Some(&json!(["pets:read"])));
        assert_eq!(value_at(&c, "address.country"), None, "no dotted paths");
        assert_eq!(value_at(&c, "missing"), None);
    }

    #[test]
    fn pointers_reach_nested_values() {
        let c = claims();
        assert_eq!(value_at(&c, "/address/country"), Some(&json!("DE")));
        assert_eq!(
            value_at(&c, "/https:~1~1example.com~1claims/roles"),
            Some(&json!(["admin", "ops"]))
        );
        assert_eq!(value_at(&c, "/a~1b/c~0d"), Some(&json!(7)));
        assert_eq!(value_at(&c, "/orgs/1/id"), Some(&json!("o2")));
        assert_eq!(value_at(&c, "/sub"), Some(&json!("u1")));
        for absent in [
            "/address/zip",
            "/orgs/2/id",
            "/orgs/01/id",
            "/orgs/-/id",
            "/sub/x",
            "/nothing",
        ] {
            assert_eq!(value_at(&c, absent), None, "{absent}");
        }
    }

    #[test]
    fn settings_are_checked() {
        for good in [
            "sub",
            "p1.permissions",
            "/address/country",
            "/a~1b/c~0d",
            "/orgs/0",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        assert_eq!(check(""), Err(ClaimPathError::Empty));
        for bad in ["/", "/a//b", "/a/"] {
            assert_eq!(check(bad), Err(ClaimPathError::EmptySegment(bad.into())));
        }
        for bad in ["/a~2", "/a~"] {
            assert_eq!(check(bad), Err(ClaimPathError::Escape(bad.into())));
        }
    }

    #[test]
    fn a_value_is_replaced_or_removed_where_the_path_names_it() {
        let mut c = claims();
        replace_at(
            &mut c,
            "/https:~1~1example.com~1claims/roles",
            Some(json!(["ops"])),
        );
        assert_eq!(
            value_at(&c, "/https:~1~1example.com~1claims/roles"),
            Some(&json!(["ops"]))
        );
        replace_at(&mut c, "/address/country", None);
        assert_eq!(value_at(&c, "/address/country"), None);
        assert_eq!(value_at(&c, "/address/locality"), Some(&json!("Berlin")));
        replace_at(&mut c, "p1.permissions", None);
        assert_eq!(value_at(&c, "p1.permissions"), None);
        replace_at(&mut c, "/orgs/0/id", Some(json!("o9")));
        assert_eq!(value_at(&c, "/orgs/0/id"), Some(&json!("o9")));
        let before = c.clone();
        replace_at(&mut c, "/nothing/here", Some(json!(1)));
        assert_eq!(c, before, "a path that names nothing changes nothing");
    }

    #[test]
    fn a_what_if_value_is_inserted_with_the_objects_it_needs() {
        let mut c = claims();
        insert_at(&mut c, "/realm/groups", json!(["g1"]));
        assert_eq!(value_at(&c, "/realm/groups"), Some(&json!(["g1"])));
        insert_at(&mut c, "/address/country", json!("FR"));
        assert_eq!(value_at(&c, "/address/country"), Some(&json!("FR")));
        assert_eq!(value_at(&c, "/address/locality"), Some(&json!("Berlin")));
        insert_at(&mut c, "/sub/x", json!(1));
        assert_eq!(value_at(&c, "/sub/x"), Some(&json!(1)));
        insert_at(&mut c, "scope", json!("a b"));
        assert_eq!(value_at(&c, "scope"), Some(&json!("a b")));
    }

    #[test]
    fn the_default_attribute_is_the_name_or_the_last_segment() {
        assert_eq!(default_attribute("department"), "department");
        assert_eq!(default_attribute("/address/country"), "country");
        assert_eq!(default_attribute("/a~1b/c~0d"), "c~d");
    }
}
