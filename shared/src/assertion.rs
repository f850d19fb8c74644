//! The identity assertion the edge signs for the origin: a short-lived EdDSA JWT that binds
//! who called (the token's issuer, subject, principal, groups and client, or "anonymous") to
//! what was allowed (action, method, path, query, deciding policies, request id), with the
//! origin as audience.
//!
//! The edge signs with an [`AssertionSigningKey`] read from a Worker secret and publishes the
//! public keys at [`JWKS_PATH`]; an origin checks every request with an
//! [`AssertionVerifier`] (signature, type, issuer, audience, lifetime), then
//! [`Assertion::binds`] (the request it received is the one that was allowed), and keeps a
//! [`ReplayGuard`] so an assertion is used once. Like the rest of the core this does no I/O
//! and reads no clock: keys arrive as text, time as [`UnixTime`].

use crate::crypto::{RustCrypto, SignatureCheck};
use crate::jwks::{Algorithm, KeySet};
use crate::time::UnixTime;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The assertion's `typ` header.
pub const ASSERTION_TYPE: &str = "cedargate-assertion+jwt";
/// The request header that carries it to the origin.
pub const ASSERTION_HEADER: &str = "x-cedargate-assertion";
/// Where the edge publishes the public keys (a JWKS document; no token needed).
pub const JWKS_PATH: &str = "/.cedargate/jwks";
/// The longest lifetime an assertion may have, in seconds.
pub const MAX_ASSERTION_SECONDS: i64 = 300;
/// Clock difference tolerated between the edge and the origin, in seconds.
pub const ASSERTION_LEEWAY_SECONDS: i64 = 5;

/// What the edge asserts about one allowed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// The edge (its configured issuer name).
    pub iss: String,
    /// The origin.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at; at most [`MAX_ASSERTION_SECONDS`] after `iat`.
    pub exp: i64,
    /// The request id (`X-Request-Id`): unique, and what [`ReplayGuard`] remembers.
    pub jti: String,
    /// The bearer token's issuer; absent for an anonymous request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_iss: Option<String>,
    /// The principal id claim's value; absent for an anonymous request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The principal's Cedar entity uid, e.g. `PetStore::User::"alice"`.
    pub principal: String,
    /// The principal's groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The client the token was issued to, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The request carried no token (a public route).
    #[serde(default)]
    pub anonymous: bool,
    /// The action that was allowed (on an action that is not enforced: the action that was
    /// decided, see `decision`).
    pub action: String,
    /// The method forwarded (uppercase).
    pub method: String,
    /// The path forwarded.
    pub path: String,
    /// The query forwarded, without `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The policies that allowed it (on an action that is not enforced: the deciding ones).
    #[serde(default)]
    pub policies: Vec<String>,
    /// `false` when the action is not enforced (the edge's monitor mode): the request was
    /// forwarded whatever the policies decided, and `decision` says what they decided.
    /// Absent (true) on an enforced action, which is forwarded only when allowed.
    #[serde(default = "enforced", skip_serializing_if = "is_enforced")]
    pub enforced: bool,
    /// On an action that is not enforced, the decision as `X-Cedargate-Decision` says it:
    /// `allow`, or `would-deny; reason=<code>`. Absent on an enforced action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

fn enforced() -> bool {
    true
}

fn is_enforced(enforced: &bool) -> bool {
    *enforced
}

impl Assertion {
    /// What is signed: `base64url(header) "." base64url(payload)`, the header naming `kid`.
    pub fn signing_input(&self, kid: &str) -> String {
        let header = json!({ "alg": "EdDSA", "typ": ASSERTION_TYPE, "kid": kid });
        // An `Assertion` is strings, numbers and lists of strings: it always serializes.
        let payload = serde_json::to_string(self).unwrap_or_default();
        format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(header.to_string().as_bytes()),
            Base64UrlUnpadded::encode_string(payload.as_bytes())
        )
    }

    /// Whether the policies allowed the request: always on an enforced action (only allowed
    /// requests are forwarded), and in monitor mode when `decision` is `allow`. An origin
    /// that takes the assertion as proof of authorization checks this too.
    pub fn allowed(&self) -> bool {
        self.enforced || self.decision.as_deref() == Some("allow")
    }

    /// Whether this is the assertion of the request the origin received: the same method
    /// (compared uppercase), path and query, exactly.
    pub fn binds(&self, method: &str, path: &str, query: Option<&str>) -> bool {
        self.method == method.to_ascii_uppercase()
            && self.path == path
            && self.query.as_deref().filter(|q| !q.is_empty()) == query.filter(|q| !q.is_empty())
    }
}

/// Why an assertion key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionKeyError {
    /// Not an unpadded base64url 32-byte seed.
    #[error("an assertion key is a 32-byte seed in unpadded base64url")]
    Encoding,
}

/// Reads an assertion key's seed: 32 bytes, unpadded base64url, surrounding whitespace
/// ignored (the text of the Worker secret, as `cedargate keygen` writes it).
pub fn assertion_seed(text: &str) -> Result<[u8; 32], AssertionKeyError> {
    let bytes =
        Base64UrlUnpadded::decode_vec(text.trim()).map_err(|_| AssertionKeyError::Encoding)?;
    bytes.try_into().map_err(|_| AssertionKeyError::Encoding)
}

/// The edge's Ed25519 signing key: a 32-byte seed, unpadded base64url, from a Worker secret.
/// Never in the repository; `Debug` shows the key id only.
pub struct AssertionSigningKey {
    pair: ed25519_compact::KeyPair,
    kid: String,
}

impl AssertionSigningKey {
    /// A key from a 32-byte seed (from a CSPRNG).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
        let kid = assertion_kid(pair.pk.as_ref());
        Self { pair, kid }
    }

    /// Reads a seed from unpadded base64url (surrounding whitespace ignored).
    pub fn from_base64url(text: &str) -> Result<Self, AssertionKeyError> {
        assertion_seed(text).map(Self::from_seed)
    }

    /// The seed as unpadded base64url, for the secret.
    pub fn to_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(self.pair.sk.seed().as_ref())
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, with `kid`, `use: sig` and `alg: EdDSA`.
    pub fn public_jwk(&self) -> Value {
        assertion_public_jwk(self.pair.pk.as_ref())
    }

    /// The compact JWS of `assertion` (Ed25519 signatures are deterministic).
    pub fn sign(&self, assertion: &Assertion) -> String {
        let input = assertion.signing_input(&self.kid);
        let signature = self.pair.sk.sign(input.as_bytes(), None);
        assertion_jws(&input, signature.as_ref())
    }
}

impl fmt::Debug for AssertionSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The JWKS document the edge publishes: the current key first, then the previous ones
/// still accepted during a rotation.
pub fn assertion_jwks(keys: &[&AssertionSigningKey]) -> String {
    let keys: Vec<Value> = keys.iter().map(|k| k.public_jwk()).collect();
    assertion_jwks_of(&keys)
}

/// [`assertion_jwks`] from public JWKs ([`assertion_public_jwk`]), for a signer whose
/// private key lives elsewhere (the worker signs with WebCrypto).
pub fn assertion_jwks_of(jwks: &[Value]) -> String {
    json!({ "keys": jwks }).to_string()
}

/// The key id of an Ed25519 public key: its RFC 7638 thumbprint (SHA-256 of the required
/// members in lexicographic order), unpadded base64url.
pub fn assertion_kid(public_key: &[u8]) -> String {
    let x = Base64UrlUnpadded::encode_string(public_key);
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    Base64UrlUnpadded::encode_string(&Sha256::digest(canonical.as_bytes()))
}

/// The public JWK of an Ed25519 key, with its `kid`, `use: sig` and `alg: EdDSA`.
pub fn assertion_public_jwk(public_key: &[u8]) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": Base64UrlUnpadded::encode_string(public_key),
        "kid": assertion_kid(public_key),
        "use": "sig",
        "alg": "EdDSA",
    })
}

/// The compact JWS from a signing input ([`Assertion::signing_input`]) and its Ed25519
/// signature.
pub fn assertion_jws(signing_input: &str, signature: &[u8]) -> String {
    format!(
        "{signing_input}.{}",
        Base64UrlUnpadded::encode_string(signature)
    )
}

/// Why an assertion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// The edge's key set cannot be used.
    #[error("the edge's key set is unusable: {0}")]
    Keys(String),
    /// Not a compact JWS with JSON header and payload of the expected shape.
    #[error("assertion is malformed")]
    Malformed,
    /// The header is not `alg: EdDSA`, `typ: cedargate-assertion+jwt` with a `kid`.
    #[error("assertion header is not an EdDSA {ASSERTION_TYPE} with a kid")]
    WrongHeader,
    /// No key of the edge's set has the assertion's `kid`.
    #[error("assertion key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("assertion signature is invalid")]
    BadSignature,
    /// Another edge's assertion.
    #[error("assertion issuer is not the edge's")]
    WrongIssuer,
    /// For another origin.
    #[error("assertion audience is not this origin")]
    WrongAudience,
    /// Issued in the future.
    #[error("assertion is not valid yet")]
    NotYetValid,
    /// Expired.
    #[error("assertion has expired")]
    Expired,
    /// Valid for longer than [`MAX_ASSERTION_SECONDS`].
    #[error("assertion lifetime is over {MAX_ASSERTION_SECONDS} seconds")]
    TooLong,
    /// Its request id was seen before.
    #[error("assertion was used before")]
    Replayed,
    /// The [`ReplayGuard`] is full of live assertions: a new one cannot be remembered, so it
    /// is not taken.
    #[error("too many live assertions to remember another")]
    GuardFull,
}

/// What an origin checks an assertion with: the edge's public keys, the edge's issuer name
/// and the origin's own audience.
#[derive(Clone, Debug)]
pub struct AssertionVerifier {
    keys: KeySet,
    issuer: String,
    audience: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

impl AssertionVerifier {
    /// A verifier for the edge's key set document (what [`JWKS_PATH`] serves).
    pub fn new(jwks: &str, issuer: &str, audience: &str) -> Result<Self, AssertionError> {
        let keys = KeySet::from_json(jwks).map_err(|e| AssertionError::Keys(e.to_string()))?;
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// Verifies `jwt` at `now`: header, key, signature, issuer, audience and lifetime. The
    /// caller then checks [`Assertion::binds`] and a [`ReplayGuard`].
    pub fn verify(&self, jwt: &str, now: UnixTime) -> Result<Assertion, AssertionError> {
        let mut parts = jwt.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AssertionError::Malformed);
        };
        let decode =
            |s: &str| Base64UrlUnpadded::decode_vec(s).map_err(|_| AssertionError::Malformed);
        let header_bytes = decode(header)?;
        crate::strict_json::object_from_slice(&header_bytes)
            .map_err(|_| AssertionError::Malformed)?;
        let head: Header =
            serde_json::from_slice(&header_bytes).map_err(|_| AssertionError::WrongHeader)?;
        if head.alg != "EdDSA" || head.typ != ASSERTION_TYPE {
            return Err(AssertionError::WrongHeader);
        }
        let key = self
            .keys
            .keys()
            .iter()
            .find(|k| k.kid() == Some(head.kid.as_str()) && k.accepts(Algorithm::EdDSA))
            .ok_or(AssertionError::UnknownKey)?;
        let signature = decode(signature)?;
        let message = jwt
            .rsplit_once('.')
            .map(|(input, _)| input)
            .ok_or(AssertionError::Malformed)?;
        RustCrypto::verify_now(&SignatureCheck {
            algorithm: Algorithm::EdDSA,
            key,
            message: message.as_bytes(),
            signature: &signature,
        })
        .map_err(|_| AssertionError::BadSignature)?;
        // Only a signed payload is read.
        let payload_bytes = decode(payload)?;
        crate::strict_json::object_from_slice(&payload_bytes)
            .map_err(|_| AssertionError::Malformed)?;
        let assertion: Assertion =
            serde_json::from_slice(&payload_bytes).map_err(|_| AssertionError::Malformed)?;
        if assertion.iss != self.issuer {
            return Err(AssertionError::WrongIssuer);
        }
        if assertion.aud != self.audience {
            return Err(AssertionError::WrongAudience);
        }
        if assertion.exp - assertion.iat > MAX_ASSERTION_SECONDS || assertion.exp < assertion.iat {
            return Err(AssertionError::TooLong);
        }
        if assertion.iat > now.seconds() + ASSERTION_LEEWAY_SECONDS {
            return Err(AssertionError::NotYetValid);
        }
        if assertion.exp + ASSERTION_LEEWAY_SECONDS <= now.seconds() {
            return Err(AssertionError::Expired);
        }
        Ok(assertion)
    }
}

/// The request ids of the assertions an origin has taken, each kept until it expires, so
/// that none is taken twice. Bounded, and failing closed: when it holds `capacity` live
/// assertions, a new one is refused ([`AssertionError::GuardFull`]) rather than forgetting
/// one that could then be replayed. Size it for the requests of one assertion lifetime.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    seen: BTreeMap<String, i64>,
    capacity: usize,
}

impl ReplayGuard {
    /// A guard remembering at most `capacity` live assertions (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Takes `assertion` once: [`AssertionError::Replayed`] if its `jti` was taken before
    /// and has not expired.
    pub fn check(&mut self, assertion: &Assertion, now: UnixTime) -> Result<(), AssertionError> {
        let horizon = now.seconds() - ASSERTION_LEEWAY_SECONDS;
        self.seen.retain(|_, exp| *exp > horizon);
        if self.seen.contains_key(&assertion.jti) {
            return Err(AssertionError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(AssertionError::GuardFull);
        }
        self.seen.insert(assertion.jti.clone(), assertion.exp);
        Ok(())
    }
}
