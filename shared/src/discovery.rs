//! OpenID Connect Discovery 1.0 as a pure check: the document fetched from an issuer's
//! well-known URL must name that issuer exactly (§4.3) and every endpoint it gives must follow
//! the URL rule of [`crate::url`]. The edge (for `jwks_uri`) and the app (for every endpoint)
//! fetch the document themselves and call [`Discovery::from_json`].

use crate::url::{HttpUrl, UrlError};
use serde::{Deserialize, Serialize};

/// Where an issuer's discovery document is: `{issuer}/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The parts of a provider's discovery document cedargate uses.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Discovery {
    /// The issuer; equal to the one it was fetched for (checked by [`Discovery::from_json`]).
    pub issuer: String,
    /// Where the browser signs in.
    pub authorization_endpoint: String,
    /// Where codes become tokens (absent for providers without one).
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The issuer's keys.
    pub jwks_uri: String,
    /// RP-initiated logout, where offered.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// RFC 7009 token revocation, where offered (RFC 8414 `revocation_endpoint`).
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RFC 9207: every authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// Not JSON of the expected shape, or with duplicate members.
    #[error("the discovery document is not readable: {0}")]
    Shape(String),
    /// The document names another issuer.
    #[error("the discovery document names issuer {found}, not {expected}")]
    Issuer { expected: String, found: String },
    /// An endpoint breaks the URL rule.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
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
    /// Reads the document fetched for `issuer` (no duplicate members), and checks that it
    /// names that issuer and that its endpoints follow the URL rule.
    pub fn from_json(text: &str, issuer: &str) -> Result<Self, DiscoveryError> {
        let value = crate::strict_json::from_slice(text.as_bytes())
            .map_err(|e| DiscoveryError::Shape(e.to_string()))?;
        let doc: Self =
            serde_json::from_value(value).map_err(|e| DiscoveryError::Shape(e.to_string()))?;
        doc.checked_for(issuer)
    }

    /// The checks [`Discovery::from_json`] makes of a document read, made again of one kept
    /// (the app keeps it with a sign-in under way): it names `issuer` exactly, and every
    /// endpoint follows the URL rule.
    pub fn checked_for(self, issuer: &str) -> Result<Self, DiscoveryError> {
        if self.issuer != issuer {
            return Err(DiscoveryError::Issuer {
                expected: issuer.to_owned(),
                found: self.issuer,
            });
        }
        self.check_endpoints()?;
        Ok(self)
    }

    /// Every endpoint given follows the URL rule: https, or http only to loopback.
    pub fn check_endpoints(&self) -> Result<(), EndpointError> {
        let endpoints = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", self.token_endpoint.as_ref()),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const ISSUER: &str = "https://auth.pingone.com/env/as";

    #[test]
    fn documents_must_name_their_issuer_and_safe_endpoints() {
        let doc = |issuer: &str, jwks: &str| {
            format!(
                r#"{{"issuer":"{issuer}","authorization_endpoint":"{ISSUER}/authorize","jwks_uri":"{jwks}"}}"#
            )
        };
        let ok = Discovery::from_json(&doc(ISSUER, &format!("{ISSUER}/jwks")), ISSUER);
        assert_eq!(ok.map(|d| d.jwks_uri), Ok(format!("{ISSUER}/jwks")));
        assert!(matches!(
            Discovery::from_json(
                &doc(&format!("{ISSUER}/"), &format!("{ISSUER}/jwks")),
                ISSUER
            ),
            Err(DiscoveryError::Issuer { .. })
        ));
        assert!(matches!(
            Discovery::from_json(&doc(ISSUER, "http://evil.example/jwks"), ISSUER),
            Err(DiscoveryError::Endpoint(EndpointError {
                field: "jwks_uri",
                reason: UrlError::Insecure,
                ..
            }))
        ));
        let twice = format!(
            r#"{{"issuer":"{ISSUER}","issuer":"x","authorization_endpoint":"{ISSUER}/a","jwks_uri":"{ISSUER}/j"}}"#
        );
        assert!(matches!(
            Discovery::from_json(&twice, ISSUER),
            Err(DiscoveryError::Shape(_))
        ));
        assert_eq!(
            discovery_url(&format!("{ISSUER}/")),
            format!("{ISSUER}/.well-known/openid-configuration")
        );
    }
}
