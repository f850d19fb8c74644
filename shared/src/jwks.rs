//! JSON Web Key Sets (RFC 7517) and the signature algorithms they may verify.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::jwk::JsonWebKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::fmt;

/// The JWS algorithms cedargate verifies. Everything else, `none` and every HMAC algorithm
/// included, is refused before any key is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (PingOne's default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384 and a 48-byte salt.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512 and a 64-byte salt.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// Ed25519.
    EdDSA,
}

/// The key families; the family of a key fixes the algorithms it may verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    P256,
    P384,
    P521,
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 10] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// The registered JWS name (`alg` header value).
    pub const fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Looks up an `alg` value. The comparison is exact: `none`, `None`, `rs256` and
    /// every other spelling are not algorithms.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    pub(crate) const fn family(self) -> KeyFamily {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 => KeyFamily::P256,
            Self::ES384 => KeyFamily::P384,
            Self::ES512 => KeyFamily::P521,
            Self::EdDSA => KeyFamily::Ed25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The public key material of one usable key.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(P384Key),
    P521(P521Key),
    Ed25519(ed25519_compact::PublicKey),
}

/// A P-384 key, checked to be a point of the curve.
#[cfg(feature = "rust-p384-p521")]
pub(crate) type P384Key = p384::ecdsa::VerifyingKey;
/// A P-521 key, checked to be a point of the curve.
#[cfg(feature = "rust-p384-p521")]
pub(crate) type P521Key = p521::ecdsa::VerifyingKey;
/// A P-384 key: its coordinates have the right length; whether the point is on the curve is
/// left to WebCrypto's import, which refuses it otherwise (the pure-Rust backend, built
/// without the curve, refuses every ES384 signature).
#[cfg(not(feature = "rust-p384-p521"))]
pub(crate) type P384Key = UncheckedPoint;
/// A P-521 key; see `P384Key`.
#[cfg(not(feature = "rust-p384-p521"))]
pub(crate) type P521Key = UncheckedPoint;

/// An EC point whose curve arithmetic is not compiled in.
#[cfg(not(feature = "rust-p384-p521"))]
#[derive(Clone, Debug)]
pub(crate) struct UncheckedPoint;

/// One signature-verification key from a key set.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    material: KeyMaterial,
    thumbprint: String,
    public_jwk: Map<String, Value>,
}

impl VerificationKey {
    /// The key id (`kid`), if the set gave one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the set pinned this key to (`alg`), if any.
    pub fn pinned_algorithm(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: a stable identity for caches.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public members of the key as a JWK object (`kty` and the key parameters only),
    /// ready for `SubtleCrypto.importKey("jwk", ...)`.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.public_jwk
    }

    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }

    pub(crate) fn family(&self) -> KeyFamily {
        match self.material {
            KeyMaterial::Rsa(_) => KeyFamily::Rsa,
            KeyMaterial::P256(_) => KeyFamily::P256,
            KeyMaterial::P384(_) => KeyFamily::P384,
            KeyMaterial::P521(_) => KeyFamily::P521,
            KeyMaterial::Ed25519(_) => KeyFamily::Ed25519,
        }
    }

    /// Whether this key may verify a signature made with `alg`: the key's type must fit the
    /// algorithm, and a key pinned to an algorithm verifies only that one.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.family() == alg.family() && self.alg.is_none_or(|pinned| pinned == alg)
    }

    /// Size of an RSA modulus in bytes; signatures must have exactly this length.
    pub(crate) fn rsa_modulus_len(&self) -> Option<usize> {
        match &self.material {
            KeyMaterial::Rsa(key) => Some(key.size()),
            _ => None,
        }
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("family", &self.family())
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

/// A key the set contained that will never verify anything, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the set's `keys` array.
    pub index: usize,
    /// The key id, if it had one.
    pub kid: Option<String>,
    /// Why it is not used.
    pub reason: String,
}

/// Why a key set could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The document is larger than the limit.
    #[error("key set is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// Not JSON, or duplicate member names.
    #[error("key set is not valid JSON")]
    NotJson,
    /// No `keys` array.
    #[error("key set has no \"keys\" array")]
    NoKeysArray,
    /// Nothing in the set can verify a signature.
    #[error("key set has no usable signature key ({skipped} skipped)")]
    NoUsableKeys { skipped: usize },
}

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits: above every size providers offer (PingOne's
/// largest is 7680), and a bound on the work one signature check can cost.
pub const MAX_RSA_BITS: usize = 8192;

/// Largest key set document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The usable signature keys of one issuer.
///
/// Built once from the issuer's `jwks_uri` document and kept; selecting a key for a token
/// does no parsing.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
    skipped: Vec<SkippedKey>,
}

/// Why no key was selected for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// No key with the token's `kid` (or, without `kid`, no key of the algorithm's type).
    Unknown,
    /// A key with the token's `kid` exists but may not verify the token's algorithm.
    WrongAlgorithm,
    /// Several keys fit and the token does not say which.
    Ambiguous,
}

impl KeySet {
    /// Parses a JWKS document. Keys that cannot verify signatures are skipped with a reason
    /// (see [`KeySet::skipped`]): `use` other than `sig`, `key_ops` without `verify`,
    /// symmetric keys, private key material, RSA moduli under 2048 or over 8192 bits
    /// ([`MIN_RSA_BITS`], [`MAX_RSA_BITS`]), curves other than P-256, P-384, P-521 and
    /// Ed25519, `alg` values outside [`Algorithm`].
    pub fn from_json(document: &str) -> Result<Self, JwksError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                size: document.len(),
                limit: MAX_JWKS_BYTES,
            });
        }
        let root = crate::strict_json::object_from_slice(document.as_bytes())
            .map_err(|_| JwksError::NotJson)?;
        let Some(Value::Array(entries)) = root.get("keys") else {
            return Err(JwksError::NoKeysArray);
        };
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            match parse_key(entry) {
                Ok(key) => keys.push(key),
                Err(reason) => skipped.push(SkippedKey { index, kid, reason }),
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys {
                skipped: skipped.len(),
            });
        }
        Ok(Self { keys, skipped })
    }

    /// The usable keys.
    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// The keys that were left out, with the reason for each.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Whether a key with this `kid` is in the set.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid() == Some(kid))
    }

    /// Picks the key for a token. With a `kid`, exactly the key with that id, which must
    /// accept `alg`. Without one, the only key that accepts `alg`; a set with several such
    /// keys cannot serve tokens that do not name their key.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerificationKey, Selection> {
        let named: Vec<&VerificationKey> = match kid {
            Some(kid) => self.keys.iter().filter(|k| k.kid() == Some(kid)).collect(),
            None => self
                .keys
                .iter()
                .filter(|k| k.family() == alg.family())
                .collect(),
        };
        if named.is_empty() {
            return Err(Selection::Unknown);
        }
        let mut fitting = named.into_iter().filter(|k| k.accepts(alg));
        match (fitting.next(), fitting.next()) {
            (Some(key), None) => Ok(key),
            (None, _) => Err(Selection::WrongAlgorithm),
            (Some(_), Some(_)) => Err(Selection::Ambiguous),
        }
    }
}

// The keys are built with their own crates' constructors, not jwt-compact's `TryFrom<&JsonWebKey>`:
// those wrap errors in `anyhow`, whose `Debug` links backtrace printing and a symbol
// demangler into every wasm that parses a key set (about 10 KiB gzip of the app's shell).

/// An Ed25519 public key that is a canonical curve point of large order. The crate's
/// constructor checks only the length; a small-order key (the identity, say) would let
/// anyone forge signatures with a verifier that does not check for it, so it is refused
/// here, for every backend alike.
fn ed25519_key(x: &[u8]) -> Result<ed25519_compact::PublicKey, String> {
    let key = ed25519_compact::PublicKey::from_slice(x)
        .map_err(|_| "not a valid Ed25519 key: x must be 32 bytes".to_owned())?;
    match key.validate() {
        Ok(()) => Ok(key),
        Err(ed25519_compact::Error::WeakPublicKey) => {
            Err("not a valid Ed25519 key: the point has a small order".into())
        }
        Err(_) => Err("not a valid Ed25519 key: not a canonical curve point".into()),
    }
}

/// An RSA public key of [`MIN_RSA_BITS`] to [`MAX_RSA_BITS`] bits with an odd exponent
/// from 3 to 2^33 - 1 (what the `rsa` crate checks).
fn rsa_key(n: &[u8], e: &[u8]) -> Result<rsa::RsaPublicKey, String> {
    let n = rsa::BigUint::from_bytes_be(n);
    let bits = n.bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA modulus of {bits} bits is under {MIN_RSA_BITS}"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(format!("RSA modulus of {bits} bits is over {MAX_RSA_BITS}"));
    }
    rsa::RsaPublicKey::new_with_max_size(n, rsa::BigUint::from_bytes_be(e), MAX_RSA_BITS)
        .map_err(|err| format!("not a valid RSA key: {err}"))
}

/// The uncompressed SEC1 encoding of an EC point whose coordinates must each be exactly
/// `len` bytes (RFC 7518 §6.2.1.2).
fn sec1_point(x: &[u8], y: &[u8], len: usize, curve: &str) -> Result<Vec<u8>, String> {
    if x.len() != len || y.len() != len {
        return Err(format!(
            "not a valid {curve} key: coordinates must be {len} bytes"
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}

fn p256_key(point: &[u8]) -> Result<p256::ecdsa::VerifyingKey, String> {
    p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| "not a valid P-256 key: the point is not on the curve".into())
}

#[cfg(feature = "rust-p384-p521")]
fn p384_key(point: &[u8]) -> Result<P384Key, String> {
    p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| "not a valid P-384 key: the point is not on the curve".into())
}

#[cfg(feature = "rust-p384-p521")]
fn p521_key(point: &[u8]) -> Result<P521Key, String> {
    p521::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| "not a valid P-521 key: the point is not on the curve".into())
}

#[cfg(not(feature = "rust-p384-p521"))]
fn p384_key(_point: &[u8]) -> Result<P384Key, String> {
    Ok(UncheckedPoint)
}

#[cfg(not(feature = "rust-p384-p521"))]
fn p521_key(_point: &[u8]) -> Result<P521Key, String> {
    Ok(UncheckedPoint)
}

fn parse_key(entry: &Value) -> Result<VerificationKey, String> {
    let Value::Object(fields) = entry else {
        return Err("not a JSON object".into());
    };
    let string = |name: &str| -> Result<Option<&str>, String> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("\"{name}\" is not a string")),
        }
    };
    let kid = string("kid")?.map(str::to_owned);
    if let Some(usage) = string("use")?
        && usage != "sig"
    {
        return Err(format!("\"use\" is \"{usage}\", not \"sig\""));
    }
    if let Some(ops) = fields.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err("\"key_ops\" does not include \"verify\"".into());
        }
    }
    let alg = match string("alg")? {
        None => None,
        Some(name) => Some(
            Algorithm::from_name(name)
                .ok_or_else(|| format!("algorithm {name} is not supported"))?,
        ),
    };
    let kty = string("kty")?.ok_or("no \"kty\"")?;
    if kty == "oct" {
        return Err("symmetric keys are never used".into());
    }
    if ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        .iter()
        .any(|member| fields.contains_key(*member))
    {
        return Err("contains private key material".into());
    }
    let jwk: JsonWebKey<'_> = serde_json::from_value(entry.clone())
        .map_err(|err| format!("not a valid {kty} key: {err}"))?;
    let material = match &jwk {
        JsonWebKey::Rsa {
            modulus,
            public_exponent,
            ..
        } => KeyMaterial::Rsa(rsa_key(modulus, public_exponent)?),
        JsonWebKey::EllipticCurve { curve, x, y, .. } if curve == "P-256" => {
            KeyMaterial::P256(p256_key(&sec1_point(x, y, 32, "P-256")?)?)
        }
        JsonWebKey::EllipticCurve { curve, x, y, .. } if curve == "P-384" => {
            KeyMaterial::P384(p384_key(&sec1_point(x, y, 48, "P-384")?)?)
        }
        JsonWebKey::EllipticCurve { curve, x, y, .. } if curve == "P-521" => {
            KeyMaterial::P521(p521_key(&sec1_point(x, y, 66, "P-521")?)?)
        }
        JsonWebKey::KeyPair { curve, x, .. } if curve == "Ed25519" => {
            KeyMaterial::Ed25519(ed25519_key(x)?)
        }
        JsonWebKey::EllipticCurve { curve, .. } | JsonWebKey::KeyPair { curve, .. } => {
            return Err(format!("curve {curve} is not supported"));
        }
        _ => return Err(format!("key type {kty} is not supported")),
    };
    let thumbprint = Base64UrlUnpadded::encode_string(&jwk.thumbprint::<Sha256>());
    let public_jwk = match serde_json::to_value(&jwk) {
        Ok(Value::Object(map)) => map,
        _ => return Err("key cannot be re-encoded".into()),
    };
    let key = VerificationKey {
        kid,
        alg,
        material,
        thumbprint,
        public_jwk,
    };
    if let Some(alg) = alg
        && !key.accepts(alg)
    {
        return Err(format!("\"alg\" {alg} does not fit a {kty} key"));
    }
    Ok(key)
}
