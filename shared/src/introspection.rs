//! OAuth 2.0 Token Introspection (RFC 7662), the parts without I/O: the request the edge
//! sends, the answer it reads, and how long an answer may be reused.
//!
//! The edge asks the provider whether a verified token is still active (for the routes and
//! methods it is configured for) and refuses it when the provider says no; an answer is
//! kept no longer than configured and never past the token's `exp` or the answer's own
//! `exp`. What the answer says beyond `active` is not used: the verified token stays the
//! source of every claim.

use crate::percent;
use base64ct::{Base64, Encoding};
use core::time::Duration;
use serde_json::Value;

/// The largest introspection answer read: 64 KiB.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an introspection answer cannot be used (the edge then fails closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntrospectionError {
    /// The answer is not a JSON object, or too large.
    #[error("introspection answer is not a JSON object")]
    NotJson,
    /// `active` is missing or not a boolean.
    #[error("introspection answer has no boolean \"active\"")]
    NoActive,
    /// `exp` is present but not an integer.
    #[error("introspection answer's \"exp\" is not an integer")]
    BadExp,
}

/// What the provider said of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Introspected {
    /// The token is active: not revoked, not expired, issued by this provider.
    pub active: bool,
    /// The answer's own `exp`, when it gives one.
    pub exp: Option<i64>,
}

impl Introspected {
    /// Reads an answer (RFC 7662 §2.2). Duplicate member names are refused.
    pub fn from_json(text: &str) -> Result<Self, IntrospectionError> {
        if text.len() > MAX_RESPONSE_BYTES {
            return Err(IntrospectionError::NotJson);
        }
        let value: Value = crate::strict_json::from_slice(text.as_bytes())
            .map_err(|_| IntrospectionError::NotJson)?;
        let Value::Object(members) = value else {
            return Err(IntrospectionError::NotJson);
        };
        let active = members
            .get("active")
            .and_then(Value::as_bool)
            .ok_or(IntrospectionError::NoActive)?;
        let exp = match members.get("exp") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or(IntrospectionError::BadExp)?),
        };
        Ok(Self { active, exp })
    }

    /// Until when (milliseconds since the epoch) this answer may be reused, asked at `now_ms`
    /// for a token expiring at `token_exp` (seconds, as tokens say): `cache` at most,
    /// and never past the token's or the answer's `exp`. At or before `now_ms` means "not at
    /// all". In milliseconds, so an answer asked late in a second is reused for the whole
    /// cache time, not only until the second ends.
    pub fn reusable_until_ms(&self, now_ms: i64, cache: Duration, token_exp: i64) -> i64 {
        let cache_ms = i64::try_from(cache.as_millis()).unwrap_or(i64::MAX);
        let mut until = now_ms
            .saturating_add(cache_ms)
            .min(token_exp.saturating_mul(1000));
        if let Some(exp) = self.exp {
            until = until.min(exp.saturating_mul(1000));
        }
        until
    }
}

/// The form body of an introspection request for `token` (RFC 7662 §2.1).
pub fn request_body(token: &str, token_type_hint: &str) -> String {
    format!(
        "token={}&token_type_hint={}",
        form_encode(token),
        form_encode(token_type_hint)
    )
}

/// The `Authorization` value for a client authenticating with `client_secret_basic`
/// (RFC 6749 §2.3.1: each part form-encoded, then base64).
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let pair = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
    format!("Basic {}", Base64::encode_string(pair.as_bytes()))
}

/// `application/x-www-form-urlencoded` for one value: unreserved characters literal, the
/// rest percent-encoded (a space too, as `%20`, which every form parser reads).
fn form_encode(value: &str) -> String {
    percent::encode(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(
            Introspected::from_json(r#"{"active":true,"exp":100,"sub":"x"}"#),
            Ok(Introspected {
                active: true,
                exp: Some(100)
            })
        );
        assert_eq!(
            Introspected::from_json(r#"{"active":false}"#),
            Ok(Introspected {
                active: false,
                exp: None
            })
        );
        for bad in [
            "",
            "[]",
            "true",
            r#"{"active":"true"}"#,
            r#"{"active":1}"#,
            r#"{}"#,
            r#"{"active":false,"active":true}"#,
        ] {
            assert!(Introspected::from_json(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Introspected::from_json(r#"{"active":true,"exp":"soon"}"#),
            Err(IntrospectionError::BadExp)
        );
        let huge = format!(
            r#"{{"active":true,"x":"{}"}}"#,
            "a".repeat(MAX_RESPONSE_BYTES)
        );
        assert!(Introspected::from_json(&huge).is_err());
    }

    #[test]
    fn an_answer_is_reused_no_longer_than_every_bound() {
        let active = |exp| Introspected { active: true, exp };
        assert_eq!(
            active(None).reusable_until_ms(1_000_000, Duration::from_secs(30), 5000),
            1_030_000
        );
        assert_eq!(
            active(None).reusable_until_ms(1_000_000, Duration::from_secs(30), 1010),
            1_010_000
        );
        assert_eq!(
            active(Some(1005)).reusable_until_ms(1_000_000, Duration::from_secs(30), 5000),
            1_005_000
        );
        assert_eq!(
            active(None).reusable_until_ms(1_000_000, Duration::from_secs(0), 5000),
            1_000_000
        );
        assert_eq!(
            active(None).reusable_until_ms(1_000_000, Duration::from_millis(1500), 5000),
            1_001_500
        );
    }

    #[test]
    fn an_answer_asked_late_in_a_second_is_reused_for_the_whole_cache_time() {
        let active = Introspected {
            active: true,
            exp: None,
        };
        // Asked at 1000.95 s with a 1 s cache: still reusable at 1001.5 s.
        let until = active.reusable_until_ms(1_000_950, Duration::from_secs(1), 5000);
        assert!(1_001_500 < until, "reusable until {until}");
        assert_eq!(until, 1_001_950);
    }

    #[test]
    fn requests_are_form_encoded() {
        assert_eq!(
            request_body("a.b-c_d~e+f/g=", "access_token"),
            "token=a.b-c_d~e%2Bf%2Fg%3D&token_type_hint=access_token"
        );
        // RFC 6749 §2.3.1: "client:id" / "s e:c" encoded before base64.
        assert_eq!(
            basic_authorization("client:id", "s e:c"),
            format!("Basic {}", Base64::encode_string(b"client%3Aid:s%20e%3Ac"))
        );
    }
}
