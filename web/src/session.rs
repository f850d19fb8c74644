//! The signed-in session: tokens in memory only (never in storage), with what was verified.

use crate::oauth::ResponseIssuer;
use cedargate::{KeySet, VerifiedToken};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// The provider's discovery document, read and checked by the shared core.
pub use cedargate::discovery::{Discovery, EndpointError};

/// What the app reads from a discovery document beyond the core's check.
pub trait DiscoveryExt {
    /// What a callback's `iss` is checked against.
    fn response_issuer(&self) -> ResponseIssuer<'_>;
}

impl DiscoveryExt for Discovery {
    fn response_issuer(&self) -> ResponseIssuer<'_> {
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
    /// When this browser received it (its own clock, seconds since the epoch).
    pub received_at: i64,
    /// The token response's `expires_in` for it (the access token), when the provider
    /// sent one.
    pub expires_in: Option<i64>,
}

impl Token {
    /// The token as renewal sees it.
    pub fn held(&self) -> crate::renewal::Held<'_> {
        crate::renewal::Held {
            claims: &self.claims,
            received_at: self.received_at,
            expires_in: self.expires_in,
        }
    }
}

/// Who is signed in.
#[derive(Clone, Debug)]
pub struct Session {
    pub discovery: Discovery,
    /// The issuer's keys the tokens were verified with; the matrix verifies again with them
    /// through the edge's bundle (`Gate::authenticate`).
    pub keys: KeySet,
    /// The key set's text as fetched: the engine reads it again (it holds no `KeySet` of
    /// the shell's).
    pub jwks: Arc<str>,
    pub id_token: Token,
    pub access_token: Option<Token>,
    /// The refresh token, where the provider issues one: renewal uses it (and the provider
    /// rotates it). Kept in memory like the others.
    pub refresh_token: Option<Secret>,
    /// The nonce of the sign-in, which renewed ID tokens are held to.
    pub nonce: String,
    /// Where the session stands among the sessions of this browser's tabs: a tab adopts
    /// another's session only when it is newer than its own.
    pub generation: crate::tabs::Generation,
}

impl Session {
    /// When the session is to be renewed (seconds since the epoch): before its first token
    /// expires; `None` without a refresh token or when nothing expires.
    pub fn renewal_time(&self) -> Option<i64> {
        self.refresh_token.as_ref()?;
        let access = self.access_token.as_ref().map(Token::held);
        crate::renewal::session_renewal_time(std::iter::once(self.id_token.held()).chain(access))
    }

    /// The tokens as another tab adopts them.
    pub fn shared(&self) -> crate::renewal::SharedTokens {
        crate::renewal::SharedTokens {
            id_token: self.id_token.raw.expose().to_owned(),
            access_token: self
                .access_token
                .as_ref()
                .map(|t| t.raw.expose().to_owned()),
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            nonce: self.nonce.clone(),
            id_token_received_at: Some(self.id_token.received_at),
            access_token_received_at: self.access_token.as_ref().map(|t| t.received_at),
            access_expires_in: self.access_token.as_ref().and_then(|t| t.expires_in),
            generation: self.generation,
        }
    }

    /// Who signed in and with which sign-in: the same across renewals, new after another
    /// sign-in (a step-up, another person).
    pub fn sign_in_key(&self) -> (Option<String>, Option<String>, String) {
        (self.claim("iss"), self.claim("sub"), self.nonce.clone())
    }

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
