//! Both tokens in one decision ([`crate::IssuerConfig::companion`]): an access token and an
//! ID token of one person, verified each by its own rules, checked to belong together
//! ([`check_pair`]) and mapped into one principal from the claims each mapping names
//! ([`mapping_claims`]). What Amazon Verified Permissions' `IsAuthorizedWithToken` does with
//! an access token and an identity token, failing closed at every step.

use crate::token::{TokenKind, VerifiedToken};
use serde_json::{Map, Value};

/// Why a companion token was refused. Messages name what failed, never a token or a claim's
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompanionError {
    /// The entry takes a companion and the request has none (`companion_missing`).
    #[error("the token's entry takes a companion token and the request carries none")]
    Missing,
    /// A companion header beside a token whose entry takes none, or a header another entry
    /// reads (`companion_unexpected`).
    #[error("a companion token the token's entry does not take")]
    Unexpected,
    /// The companion failed its own verification: malformed, bad signature, expired, wrong
    /// audience or the wrong kind of token (`companion_invalid`).
    #[error("the companion token is refused: {0}")]
    Invalid(crate::token::TokenError),
    /// The two are not one person's tokens from one issuer: the named check failed
    /// (`issuer`, `subject`, `client`, `azp` or `at_hash`) (`companion_mismatch`).
    #[error("the companion token does not match the token ({0})")]
    Mismatch(&'static str),
}

impl CompanionError {
    /// The stable reason code.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "companion_missing",
            Self::Unexpected => "companion_unexpected",
            Self::Invalid(_) => "companion_invalid",
            Self::Mismatch(_) => "companion_mismatch",
        }
    }
}

/// Whether `primary` and its verified `companion` are one person's tokens: issued by the
/// companion's configured issuer (checked before verification), both naming the same `sub`
/// (a non-empty string), and the ID token's `aud` containing the access token's
/// `client_id` (and its `azp`, when present, equal to it), as OpenID Connect Core §2 and
/// §3.1.3.7 say an ID token names the client it was issued to. An ID token with `at_hash`
/// must carry the hash of this access token (Core §3.2.2.9), so an ID token minted with
/// another access token is refused even when it names the same person.
pub(crate) fn check_pair(
    primary: &VerifiedToken,
    companion: &VerifiedToken,
    access_text: &str,
) -> Result<(), CompanionError> {
    let (access, id) = match (primary.kind, companion.kind) {
        (TokenKind::Access, TokenKind::Id) => (primary, companion),
        (TokenKind::Id, TokenKind::Access) => (companion, primary),
        _ => return Err(CompanionError::Mismatch("kind")),
    };
    match (primary.subject(), companion.subject()) {
        (Some(a), Some(b)) if !a.is_empty() && a == b => {}
        _ => return Err(CompanionError::Mismatch("subject")),
    }
    let client = access
        .client_id()
        .filter(|c| !c.is_empty())
        .ok_or(CompanionError::Mismatch("client"))?;
    let in_aud = match id.claims.get("aud") {
        Some(Value::String(aud)) => aud == client,
        Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(client)),
        _ => false,
    };
    if !in_aud {
        return Err(CompanionError::Mismatch("client"));
    }
    match id.claims.get("azp") {
        None => {}
        Some(Value::String(azp)) if azp == client => {}
        Some(_) => return Err(CompanionError::Mismatch("azp")),
    }
    if let Some(at_hash) = id.claims.get("at_hash") {
        let expected = at_hash_of(access_text, id.algorithm);
        if at_hash.as_str().is_none() || at_hash.as_str() != expected.as_deref() {
            return Err(CompanionError::Mismatch("at_hash"));
        }
    }
    Ok(())
}

/// OpenID Connect's `at_hash` of an access token for an ID token signed with `alg`: the
/// left half of the hash its algorithm uses, base64url without padding. `None` for an
/// algorithm whose hash is not defined here (a token with `at_hash` is then refused).
fn at_hash_of(access: &str, alg: crate::jwks::Algorithm) -> Option<String> {
    use crate::jwks::Algorithm as A;
    use sha2::{Digest, Sha256, Sha384, Sha512};
    let digest: Vec<u8> = match alg {
        A::RS256 | A::PS256 | A::ES256 => Sha256::digest(access.as_bytes()).to_vec(),
        A::RS384 | A::PS384 | A::ES384 => Sha384::digest(access.as_bytes()).to_vec(),
        A::RS512 | A::PS512 | A::ES512 | A::EdDSA => Sha512::digest(access.as_bytes()).to_vec(),
    };
    Some(base64url_nopad(&digest[..digest.len() / 2]))
}

fn base64url_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The claims a pair is mapped from: the token in `Authorization`'s, with each top-level
/// member that a mapping reads from the companion (`from_companion`: members no mapping
/// reads from the other token, which binding checks) replaced by the companion's (or
/// removed when the companion has none). A claim path reads inside one member, so it reads
/// the companion's value whole.
pub(crate) fn mapping_claims(
    primary: &Map<String, Value>,
    companion: &Map<String, Value>,
    from_companion: &[String],
) -> Map<String, Value> {
    let mut claims = primary.clone();
    for member in from_companion {
        match companion.get(member) {
            Some(value) => claims.insert(member.clone(), value.clone()),
            None => claims.remove(member),
        };
    }
    claims
}

/// The top-level member a claim setting reads: the name itself, or a pointer's first
/// segment (unescaped).
pub(crate) fn top_level(claim: &str) -> String {
    match claim.strip_prefix('/') {
        Some(pointer) => pointer
            .split('/')
            .next()
            .unwrap_or_default()
            .replace("~1", "/")
            .replace("~0", "~"),
        None => claim.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_base64url() {
        // OpenID Connect Core A.3's example: access token and at_hash (RS256).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(
            at_hash_of(token, crate::jwks::Algorithm::RS256).as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
    }

    #[test]
    fn top_level_members_of_names_and_pointers() {
        assert_eq!(top_level("p1.permissions"), "p1.permissions");
        assert_eq!(top_level("/address/country"), "address");
        assert_eq!(top_level("/a~1b/c"), "a/b");
    }
}
