//! The signed-in session: tokens in memory only (never in storage), with what was verified.

use crate::oauth::ResponseIssuer;
use cedargate::VerifiedToken;
use cedargate::url::{HttpUrl, UrlError};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// The provider's OpenID Connect discovery document (the parts the app uses).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// RFC 9207: every authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// An endpoint of the discovery document that breaks the URL rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the discovery document's {field} {url} is refused: {reason}")]
pub struct EndpointError {
    pub field: &'static str,
    pub url: String,
    pub reason: UrlError,
}

impl Discovery {
    /// The endpoints the app sends the browser to or fetches from follow the shared core's
    /// URL rule, as the edge's discovered `jwks_uri` does: https, or http only to loopback.
    pub fn check_endpoints(&self) -> Result<(), EndpointError> {
        let endpoints = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
        ];
        for (field, url) in endpoints {
            if let Some(url) = url {
                HttpUrl::parse_secure(url).map_err(|reason| EndpointError {
                    field,
                    url: url.clone(),
                    reason,
                })?;
            }
        }
        Ok(())
    }

    /// What a callback's `iss` is checked against.
    pub fn response_issuer(&self) -> ResponseIssuer<'_> {
        ResponseIssuer {
            issuer: &self.issuer,
            required: self.authorization_response_iss_parameter_supported,
        }
    }
}

/// A token's text. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The token itself, for an `Authorization` header or the copy button.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// A token with its decoded parts and the result of verifying it.
#[derive(Clone, Debug)]
pub struct Token {
    pub raw: Secret,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `Ok` when the signature and claims were verified; the reason otherwise.
    pub verified: Result<VerifiedToken, String>,
}

/// Who is signed in.
#[derive(Clone, Debug)]
pub struct Session {
    pub discovery: Discovery,
    pub id_token: Token,
    pub access_token: Option<Token>,
}

impl Session {
    /// A claim of the ID token as text.
    pub fn claim(&self, name: &str) -> Option<String> {
        match self.id_token.claims.get(name)? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// Group names from the ID token's group claim, the one the trust configuration maps
    /// (`None`: groups are off).
    pub fn groups(&self, claim: Option<&str>) -> Vec<String> {
        group_names(&self.id_token.claims, claim)
    }
}

/// The strings of `claim` (an array of strings, or one string), as the core's mapping reads
/// them; nothing when `claim` is `None`.
pub fn group_names(claims: &Map<String, Value>, claim: Option<&str>) -> Vec<String> {
    match claim.and_then(|c| claims.get(c)) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The session shared by the pages.
pub type SharedSession = Option<Arc<Session>>;

/// Decodes a JWT's header and payload for display, without trusting them.
pub fn decode_parts(token: &str) -> (Map<String, Value>, Map<String, Value>) {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut parts = token.split('.');
    let mut part = || -> Map<String, Value> {
        parts
            .next()
            .and_then(|p| Base64UrlUnpadded::decode_vec(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    };
    let header = part();
    let claims = part();
    (header, claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn groups_come_from_the_configured_claim() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "group": ["AVP_Admin"], "groups": "Other"
        }))
        .unwrap_or_default();
        assert_eq!(group_names(&claims, Some("group")), ["AVP_Admin"]);
        assert_eq!(group_names(&claims, Some("groups")), ["Other"]);
        assert!(group_names(&claims, None).is_empty());
        assert!(group_names(&claims, Some("missing")).is_empty());
    }
}
