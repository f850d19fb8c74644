//! An emergency deny list: token ids (`jti`) and session ids (`sid`) that are refused even
//! though their tokens verify. The edge reads it from KV; here it is only parsed and
//! consulted (no I/O, no clock).

use crate::token::VerifiedToken;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// Largest deny list document accepted, in bytes.
pub const MAX_DENY_LIST_BYTES: usize = 1024 * 1024;

/// Why a deny list document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DenyListError {
    /// Over [`MAX_DENY_LIST_BYTES`].
    #[error("deny list is {0} bytes, over the limit of {MAX_DENY_LIST_BYTES}")]
    TooLarge(usize),
    /// Not `{ "jti": [strings], "sid": [strings] }` (both optional, nothing else).
    #[error("deny list is not {{\"jti\": [...], \"sid\": [...]}}: {0}")]
    Shape(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    jti: Vec<String>,
    #[serde(default)]
    sid: Vec<String>,
}

/// The token and session ids to refuse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenyList {
    jti: HashSet<String>,
    sid: HashSet<String>,
}

impl DenyList {
    /// Parses `{ "jti": [...], "sid": [...] }`: strict JSON (no duplicate members), nothing
    /// but those two arrays of strings.
    pub fn from_json(text: &str) -> Result<Self, DenyListError> {
        if text.len() > MAX_DENY_LIST_BYTES {
            return Err(DenyListError::TooLarge(text.len()));
        }
        let object = crate::strict_json::object_from_slice(text.as_bytes()).map_err(|_| {
            DenyListError::Shape("not a JSON object without duplicate members".into())
        })?;
        let doc: Document = serde_json::from_value(Value::Object(object))
            .map_err(|e| DenyListError::Shape(e.to_string()))?;
        Ok(Self {
            jti: doc.jti.into_iter().collect(),
            sid: doc.sid.into_iter().collect(),
        })
    }

    /// Which claim of `token` the list refuses (`"jti"` or `"sid"`), if any.
    pub fn denies(&self, token: &VerifiedToken) -> Option<&'static str> {
        let claim = |name: &str| token.claims().get(name).and_then(Value::as_str);
        if claim("jti").is_some_and(|jti| self.jti.contains(jti)) {
            return Some("jti");
        }
        if claim("sid").is_some_and(|sid| self.sid.contains(sid)) {
            return Some("sid");
        }
        None
    }

    /// How many ids the list holds.
    pub fn len(&self) -> usize {
        self.jti.len() + self.sid.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
