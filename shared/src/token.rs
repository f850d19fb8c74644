//! Compact JWS tokens: parsing (nothing trusted yet) and verification (signature, then
//! claims).

use crate::base64url;
use crate::crypto::{SignatureBackend, SignatureCheck, SignatureError};
use crate::jwks::{Algorithm, KeySet, Selection};
use crate::strict_json::{self, ObjectError};
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Which token an issuer entry accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// OpenID Connect ID token: `aud` is the client id. PingOne puts `group` only here.
    Id,
    /// OAuth access token for the API: `aud` is the resource's audience.
    Access,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Id => "id",
            Self::Access => "access",
        })
    }
}

/// Why a token was refused. Messages describe the reason and never contain the token or
/// any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than the configured limit; nothing was decoded.
    #[error("token is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// Not a compact JWS, or its header or payload cannot be read.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is not one of the supported asymmetric algorithms (this covers `none` and HMAC).
    #[error("token algorithm is not supported")]
    UnsupportedAlgorithm,
    /// The issuer's configuration does not allow this algorithm.
    #[error("token algorithm {0} is not allowed for this issuer")]
    AlgorithmNotAllowed(Algorithm),
    /// The header lists critical extensions (`crit`), none of which are understood.
    #[error("token requires header extensions that are not supported")]
    CriticalHeader,
    /// No key of the issuer matches the token's `kid` (or its algorithm, without `kid`).
    #[error("no key of the issuer matches the token")]
    UnknownKey,
    /// The key named by `kid` may not verify the token's algorithm.
    #[error("the token's key cannot verify algorithm {0}")]
    KeyAlgorithmMismatch(Algorithm),
    /// The token names no key and several of the issuer's keys would fit.
    #[error("token does not name its key and the issuer has several")]
    AmbiguousKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// The signature check itself could not run (for example WebCrypto refused the key).
    #[error("signature check failed: {0}")]
    SignatureBackend(String),
    /// `exp` is past (with leeway).
    #[error("token expired at {expired_at}")]
    Expired { expired_at: UnixTime },
    /// `nbf` is in the future (with leeway).
    #[error("token is not valid before {not_before}")]
    NotYetValid { not_before: UnixTime },
    /// `iat` is in the future (with leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `iss` is missing or not a trusted issuer.
    #[error("token issuer is not trusted")]
    WrongIssuer,
    /// `aud` holds none of the configured audiences.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// A required claim is absent.
    #[error("token has no \"{0}\" claim")]
    MissingClaim(&'static str),
    /// A registered claim has the wrong JSON type or an impossible value.
    #[error("token claim \"{claim}\" is invalid: {reason}")]
    InvalidClaim {
        claim: &'static str,
        reason: &'static str,
    },
    /// `typ` is not the one required for this issuer.
    #[error("token type is not {expected}")]
    WrongType { expected: String },
    /// The token is of the other kind than the issuer entry accepts: an access token where an
    /// ID token is expected (`typ` `at+jwt`, or `client_id` / `scope` claims), or an ID token
    /// where an access token is expected (no `client_id`, or `nonce` / `at_hash` claims).
    #[error("token is not an {expected} token ({reason})")]
    WrongTokenKind {
        expected: TokenKind,
        reason: &'static str,
    },
    /// An ID token's `azp` is not the client, or a token for several audiences has none
    /// (OpenID Connect Core 3.1.3.7).
    #[error("token authorized party is not accepted")]
    WrongAuthorizedParty,
    /// The issuer's entries accept other callers: a person's token where only a service
    /// (client credentials) is trusted, or the reverse (see `IssuerConfig::caller`).
    #[error("token's caller is not accepted for this issuer")]
    CallerNotAccepted,
}

/// A stable, machine-readable name for each [`TokenError`] variant, used by logs, response
/// bodies and test tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenErrorKind {
    TooLarge,
    Malformed,
    UnsupportedAlgorithm,
    AlgorithmNotAllowed,
    CriticalHeader,
    UnknownKey,
    KeyAlgorithmMismatch,
    AmbiguousKey,
    BadSignature,
    SignatureBackend,
    Expired,
    NotYetValid,
    IssuedInFuture,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
    InvalidClaim,
    WrongType,
    WrongTokenKind,
    WrongAuthorizedParty,
    CallerNotAccepted,
}

impl TokenErrorKind {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::CriticalHeader => "critical_header",
            Self::UnknownKey => "unknown_key",
            Self::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            Self::AmbiguousKey => "ambiguous_key",
            Self::BadSignature => "bad_signature",
            Self::SignatureBackend => "signature_backend",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaim => "invalid_claim",
            Self::WrongType => "wrong_type",
            Self::WrongTokenKind => "wrong_token_kind",
            Self::WrongAuthorizedParty => "wrong_authorized_party",
            Self::CallerNotAccepted => "caller_not_accepted",
        }
    }
}

impl fmt::Display for TokenErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TokenError {
    /// The variant's stable name.
    pub const fn kind(&self) -> TokenErrorKind {
        match self {
            Self::TooLarge { .. } => TokenErrorKind::TooLarge,
            Self::Malformed(_) => TokenErrorKind::Malformed,
            Self::UnsupportedAlgorithm => TokenErrorKind::UnsupportedAlgorithm,
            Self::AlgorithmNotAllowed(_) => TokenErrorKind::AlgorithmNotAllowed,
            Self::CriticalHeader => TokenErrorKind::CriticalHeader,
            Self::UnknownKey => TokenErrorKind::UnknownKey,
            Self::KeyAlgorithmMismatch(_) => TokenErrorKind::KeyAlgorithmMismatch,
            Self::AmbiguousKey => TokenErrorKind::AmbiguousKey,
            Self::BadSignature => TokenErrorKind::BadSignature,
            Self::SignatureBackend(_) => TokenErrorKind::SignatureBackend,
            Self::Expired { .. } => TokenErrorKind::Expired,
            Self::NotYetValid { .. } => TokenErrorKind::NotYetValid,
            Self::IssuedInFuture => TokenErrorKind::IssuedInFuture,
            Self::WrongIssuer => TokenErrorKind::WrongIssuer,
            Self::WrongAudience => TokenErrorKind::WrongAudience,
            Self::MissingClaim(_) => TokenErrorKind::MissingClaim,
            Self::InvalidClaim { .. } => TokenErrorKind::InvalidClaim,
            Self::WrongType { .. } => TokenErrorKind::WrongType,
            Self::WrongTokenKind { .. } => TokenErrorKind::WrongTokenKind,
            Self::WrongAuthorizedParty => TokenErrorKind::WrongAuthorizedParty,
            Self::CallerNotAccepted => TokenErrorKind::CallerNotAccepted,
        }
    }
}

impl From<SignatureError> for TokenError {
    fn from(err: SignatureError) -> Self {
        match err {
            SignatureError::Invalid => Self::BadSignature,
            SignatureError::Unavailable(reason) => Self::SignatureBackend(reason),
        }
    }
}

/// The header members cedargate looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JwtHeader {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

/// A token whose structure is sound but whose signature and claims are not yet checked.
///
/// Nothing in it may be trusted; the only claim exposed is the unverified issuer, which
/// decides whose keys to check the signature with.
pub struct UntrustedJwt<'t> {
    raw: &'t str,
    signature: Vec<u8>,
    header: JwtHeader,
    claims: Map<String, Value>,
}

impl fmt::Debug for UntrustedJwt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntrustedJwt")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("len", &self.raw.len())
            .finish_non_exhaustive()
    }
}

impl<'t> UntrustedJwt<'t> {
    /// Parses a compact JWS. The size limit is checked before anything is decoded; then the
    /// token must be three base64url segments (canonical, unpadded) with a JSON object header
    /// and payload, no duplicate member names, a supported `alg`, no `crit`, and a JSON
    /// content type. Each segment is decoded once.
    ///
    /// Header members `jku`, `x5u`, `jwk` and `x5c` are never used: keys come only from the
    /// issuer's configured key set.
    pub fn parse(token: &'t str, max_bytes: usize) -> Result<Self, TokenError> {
        if token.len() > max_bytes {
            return Err(TokenError::TooLarge {
                size: token.len(),
                limit: max_bytes,
            });
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(TokenError::Malformed("characters outside base64url"));
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(TokenError::Malformed("not three segments"));
        };
        let signature = base64url::decode(signature_b64)
            .map_err(|_| TokenError::Malformed("invalid base64url"))?;

        let header = decode_object(header_b64, "header")?;
        let payload = decode_object(payload_b64, "payload")?;

        // Only JSON payloads: a `cty` of JWT would be a nested token, anything else not JSON.
        match header.get("cty") {
            None => {}
            Some(Value::String(cty)) if cty.eq_ignore_ascii_case("json") => {}
            Some(_) => {
                return Err(TokenError::Malformed(
                    "content type is not JSON (nested tokens are refused)",
                ));
            }
        }
        if header.contains_key("crit") {
            return Err(TokenError::CriticalHeader);
        }
        if header.contains_key("b64") {
            // RFC 7797 unencoded payloads change what is signed; never accepted.
            return Err(TokenError::CriticalHeader);
        }
        let alg = match header.get("alg") {
            Some(Value::String(name)) => {
                Algorithm::from_name(name).ok_or(TokenError::UnsupportedAlgorithm)?
            }
            Some(_) => return Err(TokenError::Malformed("\"alg\" is not a string")),
            None => return Err(TokenError::Malformed("no \"alg\" in header")),
        };
        let text = |name: &'static str| -> Result<Option<String>, TokenError> {
            match header.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(TokenError::Malformed("a header member has the wrong type")),
            }
        };
        let header = JwtHeader {
            alg,
            kid: text("kid")?,
            typ: text("typ")?,
        };
        Ok(Self {
            raw: token,
            signature,
            header,
            claims: payload,
        })
    }

    /// The `iss` claim as the token states it. Unverified: use it only to choose whose keys
    /// verify the token.
    pub fn unverified_issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// The token's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.header.alg
    }

    /// The token's key id, if it names one. Unverified.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    pub(crate) fn header(&self) -> &JwtHeader {
        &self.header
    }

    pub(crate) fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The claims, for a verified token made from this one without copying them.
    pub(crate) fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// The bytes the signature covers: `base64url(header) "." base64url(payload)`.
    fn signing_input(&self) -> &'t [u8] {
        match self.raw.rfind('.') {
            Some(end) => &self.raw.as_bytes()[..end],
            None => &[],
        }
    }

    /// Checks the signature with `keys` through `backend`: the key is chosen by `kid` and
    /// must accept the token's algorithm.
    pub async fn verify_signature<B: SignatureBackend>(
        &self,
        keys: &KeySet,
        backend: &B,
    ) -> Result<String, TokenError> {
        let alg = self.header.alg;
        let key = keys.select(self.kid(), alg).map_err(|err| match err {
            Selection::Unknown => TokenError::UnknownKey,
            Selection::WrongAlgorithm => TokenError::KeyAlgorithmMismatch(alg),
            Selection::Ambiguous => TokenError::AmbiguousKey,
        })?;
        let check = SignatureCheck {
            algorithm: alg,
            key,
            message: self.signing_input(),
            signature: &self.signature,
        };
        check.precheck()?;
        backend.verify(&check).await?;
        Ok(key.thumbprint().to_owned())
    }
}

fn decode_object(segment: &str, part: &'static str) -> Result<Map<String, Value>, TokenError> {
    let bytes =
        base64url::decode(segment).map_err(|_| TokenError::Malformed("invalid base64url"))?;
    strict_json::object_from_slice(&bytes).map_err(|err| {
        TokenError::Malformed(match (part, err) {
            (_, ObjectError::DuplicateKey) => "duplicate member name",
            ("header", ObjectError::NotAnObject) => "header is not a JSON object",
            ("header", ObjectError::Syntax) => "header is not valid JSON",
            (_, ObjectError::NotAnObject) => "payload is not a JSON object",
            (_, ObjectError::Syntax) => "payload is not valid JSON",
        })
    })
}

/// What a token's claims are checked against (one trusted issuer's rules).
#[derive(Clone, Debug)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) required_type: Option<String>,
    pub(crate) leeway: i64,
    /// The kind of token the entry accepts.
    pub(crate) kind: TokenKind,
    /// Whether the claims that tell ID and access tokens apart are checked (see
    /// [`ClaimRules::check_kind`]).
    pub(crate) kind_claims: bool,
}

/// Time-related claims, read from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) exp: UnixTime,
    pub(crate) nbf: Option<UnixTime>,
    pub(crate) iat: Option<UnixTime>,
}

impl ClaimRules {
    /// Checks `typ` before any cryptography.
    pub(crate) fn check_type(&self, header: &JwtHeader) -> Result<(), TokenError> {
        let Some(expected) = &self.required_type else {
            return Ok(());
        };
        let matches = header
            .typ
            .as_deref()
            .is_some_and(|typ| media_type_eq(typ, expected));
        if matches {
            Ok(())
        } else {
            Err(TokenError::WrongType {
                expected: expected.clone(),
            })
        }
    }

    /// Tells ID tokens and access tokens apart (after the signature and the other claims).
    ///
    /// An ID-token entry refuses `typ` `at+jwt` always, and (unless `kind_claims` is off)
    /// tokens carrying `client_id` or `scope`, which RFC 9068 access tokens and PingOne's
    /// access tokens carry and ID tokens do not; its `azp`, when present, must be one of the
    /// entry's client ids, and a token for several audiences must have one. An access-token
    /// entry (unless `kind_claims` is off) requires `client_id` (RFC 9068 §2.2, always in
    /// PingOne's access tokens) and refuses `nonce`, `at_hash` and `c_hash`, which only ID
    /// tokens carry.
    pub(crate) fn check_kind(
        &self,
        header: &JwtHeader,
        claims: &Map<String, Value>,
    ) -> Result<(), TokenError> {
        let wrong = |reason| TokenError::WrongTokenKind {
            expected: self.kind,
            reason,
        };
        match self.kind {
            TokenKind::Id => {
                if header
                    .typ
                    .as_deref()
                    .is_some_and(|typ| media_type_eq(typ, "at+jwt"))
                {
                    return Err(wrong("typ is at+jwt"));
                }
                if self.kind_claims {
                    if claims.contains_key("client_id") {
                        return Err(wrong("it has a client_id claim"));
                    }
                    if claims.contains_key("scope") {
                        return Err(wrong("it has a scope claim"));
                    }
                }
                let several = matches!(claims.get("aud"), Some(Value::Array(a)) if a.len() > 1);
                match claims.get("azp") {
                    Some(Value::String(azp)) if self.audiences.iter().any(|a| a == azp) => {}
                    Some(_) => return Err(TokenError::WrongAuthorizedParty),
                    None if several => return Err(TokenError::WrongAuthorizedParty),
                    None => {}
                }
            }
            TokenKind::Access if self.kind_claims => {
                match claims.get("client_id") {
                    Some(Value::String(id)) if !id.is_empty() => {}
                    Some(_) => {
                        return Err(TokenError::InvalidClaim {
                            claim: "client_id",
                            reason: "not a non-empty string",
                        });
                    }
                    None => return Err(wrong("it has no client_id claim")),
                }
                for claim in ["nonce", "at_hash", "c_hash"] {
                    if claims.contains_key(claim) {
                        return Err(wrong(match claim {
                            "nonce" => "it has a nonce claim",
                            "at_hash" => "it has an at_hash claim",
                            _ => "it has a c_hash claim",
                        }));
                    }
                }
            }
            TokenKind::Access => {}
        }
        Ok(())
    }

    /// Checks `iss`, `aud`, `exp`, `nbf`, `iat` at time `now`; for ID tokens also that every
    /// audience is trusted and that `iat` and `sub` are present.
    pub(crate) fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: UnixTime,
    ) -> Result<Times, TokenError> {
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(Value::String(_)) => return Err(TokenError::WrongIssuer),
            Some(_) => {
                return Err(TokenError::InvalidClaim {
                    claim: "iss",
                    reason: "not a string",
                });
            }
            None => return Err(TokenError::MissingClaim("iss")),
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audiences.iter().any(|a| a == aud),
            Some(Value::Array(items)) => {
                let mut found = false;
                let mut untrusted = false;
                for item in items {
                    let Value::String(aud) = item else {
                        return Err(TokenError::InvalidClaim {
                            claim: "aud",
                            reason: "not a string or an array of strings",
                        });
                    };
                    let trusted = self.audiences.iter().any(|a| a == aud);
                    found |= trusted;
                    untrusted |= !trusted;
                }
                // OpenID Connect Core 3.1.3.7: an ID token with an audience the client does
                // not trust is refused, even beside its own.
                found && !(untrusted && self.kind == TokenKind::Id)
            }
            Some(_) => {
                return Err(TokenError::InvalidClaim {
                    claim: "aud",
                    reason: "not a string or an array of strings",
                });
            }
            None => return Err(TokenError::MissingClaim("aud")),
        };
        if !audience_ok {
            return Err(TokenError::WrongAudience);
        }
        let exp = numeric_date(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
        let nbf = numeric_date(claims, "nbf")?;
        let iat = numeric_date(claims, "iat")?;
        if self.kind == TokenKind::Id {
            // OpenID Connect Core §2: `iat` and `sub` are required in every ID token.
            if iat.is_none() {
                return Err(TokenError::MissingClaim("iat"));
            }
            match claims.get("sub") {
                Some(Value::String(sub)) if !sub.is_empty() => {}
                Some(_) => {
                    return Err(TokenError::InvalidClaim {
                        claim: "sub",
                        reason: "not a non-empty string",
                    });
                }
                None => return Err(TokenError::MissingClaim("sub")),
            }
        }
        if now.seconds() > exp.seconds().saturating_add(self.leeway) {
            return Err(TokenError::Expired { expired_at: exp });
        }
        if let Some(nbf) = nbf
            && now.seconds().saturating_add(self.leeway) < nbf.seconds()
        {
            return Err(TokenError::NotYetValid { not_before: nbf });
        }
        if let Some(iat) = iat
            && iat.seconds() > now.seconds().saturating_add(self.leeway)
        {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(Times { exp, nbf, iat })
    }
}

/// Largest NumericDate accepted: the year 9999. Anything later is a mistake or an attack.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// Reads an RFC 7519 NumericDate: a JSON number (fractions allowed and truncated towards
/// the past). Strings, booleans, non-finite and absurd values are refused.
fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<UnixTime>, TokenError> {
    let invalid = |reason| TokenError::InvalidClaim { claim, reason };
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                if i.unsigned_abs() as f64 > MAX_NUMERIC_DATE {
                    return Err(invalid("out of range"));
                }
                return Ok(Some(UnixTime(i)));
            }
            match n.as_f64() {
                Some(f) if f.is_finite() && f.abs() <= MAX_NUMERIC_DATE =>
                {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Some(UnixTime(f.floor() as i64)))
                }
                _ => Err(invalid("out of range")),
            }
        }
        Some(_) => Err(invalid("not a number")),
    }
}

/// Compares `typ` values as media types (RFC 7515 §4.1.9): case-insensitive, and
/// `application/` may be left out.
pub(crate) fn media_type_eq(actual: &str, expected: &str) -> bool {
    fn bare(s: &str) -> &str {
        let lower_prefix = "application/";
        if s.len() >= lower_prefix.len()
            && s[..lower_prefix.len()].eq_ignore_ascii_case(lower_prefix)
        {
            &s[lower_prefix.len()..]
        } else {
            s
        }
    }
    bare(actual).eq_ignore_ascii_case(bare(expected))
}

/// A token whose signature and claims have been verified against one trusted issuer.
#[derive(Clone)]
pub struct VerifiedToken {
    /// The issuer entry that accepted it: its place in the trust configuration.
    pub(crate) entry: usize,
    pub(crate) issuer: String,
    pub(crate) kind: TokenKind,
    pub(crate) algorithm: Algorithm,
    pub(crate) key_thumbprint: String,
    pub(crate) claims: Map<String, Value>,
    pub(crate) expires_at: UnixTime,
    pub(crate) issued_at: Option<UnixTime>,
    /// The companion token verified with it ([`crate::IssuerConfig::companion`]), whose
    /// claims the principal is mapped from too; its `exp` is within `expires_at`.
    pub(crate) companion: Option<Box<VerifiedToken>>,
}

impl VerifiedToken {
    /// The companion token verified with this one, when its entry takes one.
    pub fn companion(&self) -> Option<&VerifiedToken> {
        self.companion.as_deref()
    }

    /// The trusted issuer that signed it.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether it was accepted as an ID token or an access token.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The algorithm it was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Thumbprint (RFC 7638) of the key that verified it.
    pub fn key_thumbprint(&self) -> &str {
        &self.key_thumbprint
    }

    /// Every claim of the payload.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// `sub`, when it is a string.
    pub fn subject(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// `client_id` (the client the token was issued to), when it is a string.
    pub fn client_id(&self) -> Option<&str> {
        self.claims.get("client_id").and_then(Value::as_str)
    }

    /// `exp`: callers caching verified tokens must drop them at this time. With a companion,
    /// the earlier of the two tokens' `exp`.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// `iat`, if present.
    pub fn issued_at(&self) -> Option<UnixTime> {
        self.issued_at
    }
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("issuer", &self.issuer)
            .field("kind", &self.kind)
            .field("algorithm", &self.algorithm)
            .field("subject", &self.subject())
            .field("expires_at", &self.expires_at)
            .field("companion", &self.companion)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn media_types_compare_like_rfc_7515_says() {
        assert!(media_type_eq("at+jwt", "at+jwt"));
        assert!(media_type_eq("application/at+jwt", "at+jwt"));
        assert!(media_type_eq("AT+JWT", "application/at+jwt"));
        assert!(!media_type_eq("JWT", "at+jwt"));
        assert!(!media_type_eq("at+jwt2", "at+jwt"));
    }

    #[test]
    fn numeric_dates_accept_numbers_only() {
        let claims = |v: Value| {
            let mut m = Map::new();
            m.insert("exp".into(), v);
            m
        };
        assert_eq!(
            numeric_date(&claims(Value::from(10)), "exp"),
            Ok(Some(UnixTime(10)))
        );
        assert_eq!(
            numeric_date(&claims(Value::from(10.9)), "exp"),
            Ok(Some(UnixTime(10)))
        );
        assert_eq!(
            numeric_date(&claims(Value::from(-5)), "exp"),
            Ok(Some(UnixTime(-5)))
        );
        assert!(numeric_date(&claims(Value::from("10")), "exp").is_err());
        assert!(numeric_date(&claims(Value::from(1e300)), "exp").is_err());
        assert!(numeric_date(&claims(Value::from(u64::MAX)), "exp").is_err());
        assert_eq!(numeric_date(&Map::new(), "exp"), Ok(None));
    }
}
