//! Signature verification backends.
//!
//! Token verification hands a [`SignatureCheck`] to a [`SignatureBackend`] and awaits the
//! answer, so a backend may be synchronous Rust or the platform's asynchronous WebCrypto.

use crate::jwks::{Algorithm, KeyFamily, VerificationKey};
use std::future::Future;

#[cfg(all(feature = "webcrypto", target_arch = "wasm32"))]
mod webcrypto;
#[cfg(all(feature = "webcrypto", target_arch = "wasm32"))]
pub use webcrypto::WebCrypto;

/// One signature to check: the algorithm (already allowed for the key), the key, the signed
/// bytes and the signature.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    /// The token's algorithm; the key accepts it.
    pub algorithm: Algorithm,
    /// The issuer's key chosen for the token.
    pub key: &'a VerificationKey,
    /// `base64url(header) "." base64url(payload)`.
    pub message: &'a [u8],
    /// The decoded signature.
    pub signature: &'a [u8],
}

impl SignatureCheck<'_> {
    /// Length checks every backend relies on: a signature of the wrong size is invalid
    /// without further work.
    pub(crate) fn precheck(&self) -> Result<(), SignatureError> {
        let expected = match self.key.family() {
            KeyFamily::Rsa => self.key.rsa_modulus_len(),
            KeyFamily::P256 | KeyFamily::Ed25519 => Some(64),
            KeyFamily::P384 => Some(96),
            KeyFamily::P521 => Some(132),
        };
        if expected == Some(self.signature.len()) {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

/// Why a signature check did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature does not verify under the key.
    #[error("signature is invalid")]
    Invalid,
    /// The check could not be performed; the token is refused all the same.
    #[error("signature check unavailable: {0}")]
    Unavailable(String),
}

/// Something that verifies signatures. Implementations must return `Ok(())` only for a
/// signature that verifies under `check.key` with `check.algorithm`.
pub trait SignatureBackend {
    /// A short name for logs and benchmarks.
    fn name(&self) -> &'static str;

    /// Verifies one signature.
    fn verify(
        &self,
        check: &SignatureCheck<'_>,
    ) -> impl Future<Output = Result<(), SignatureError>>;
}

/// Pure-Rust verification: jwt-compact (`rsa`, `p256`, `ed25519-compact`) for RSA, ES256
/// and EdDSA, the `p384` and `p521` crates for ES384 and ES512 (feature `rust-p384-p521`;
/// without it ES384 and ES512 are refused as unavailable, never accepted).
///
/// Works everywhere, including wasm32, but in V8 it is about ten times slower than
/// WebCrypto; the edge and the browser use `WebCrypto` where it is available.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl RustCrypto {
    /// The synchronous check behind [`SignatureBackend::verify`].
    pub fn verify_now(check: &SignatureCheck<'_>) -> Result<(), SignatureError> {
        use crate::jwks::KeyMaterial;
        // Signatures are built with their own crates' constructors where jwt-compact's
        // `try_from_slice` would wrap a refusal in `anyhow` (see `jwks`); the RSA one
        // cannot fail.
        use jwt_compact::{Algorithm as _, AlgorithmSignature as _, alg};

        check.precheck()?;
        let ok = match (check.algorithm, check.key.material()) {
            (algorithm, KeyMaterial::Rsa(key)) => {
                let rsa = match algorithm {
                    Algorithm::RS256 => alg::Rsa::rs256(),
                    Algorithm::RS384 => alg::Rsa::rs384(),
                    Algorithm::RS512 => alg::Rsa::rs512(),
                    Algorithm::PS256 => alg::Rsa::ps256(),
                    Algorithm::PS384 => alg::Rsa::ps384(),
                    Algorithm::PS512 => alg::Rsa::ps512(),
                    Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 | Algorithm::EdDSA => {
                        return Err(SignatureError::Invalid);
                    }
                };
                let signature = alg::RsaSignature::try_from_slice(check.signature)
                    .map_err(|_| SignatureError::Invalid)?;
                rsa.verify_signature(&signature, key, check.message)
            }
            (Algorithm::ES256, KeyMaterial::P256(key)) => {
                let signature = p256::ecdsa::Signature::from_slice(check.signature)
                    .map_err(|_| SignatureError::Invalid)?;
                alg::Es256.verify_signature(&signature, key, check.message)
            }
            #[cfg(feature = "rust-p384-p521")]
            (Algorithm::ES384, KeyMaterial::P384(key)) => {
                use p384::ecdsa::signature::Verifier as _;
                let signature = p384::ecdsa::Signature::from_slice(check.signature)
                    .map_err(|_| SignatureError::Invalid)?;
                key.verify(check.message, &signature).is_ok()
            }
            #[cfg(feature = "rust-p384-p521")]
            (Algorithm::ES512, KeyMaterial::P521(key)) => {
                use p521::ecdsa::signature::Verifier as _;
                let signature = p521::ecdsa::Signature::from_slice(check.signature)
                    .map_err(|_| SignatureError::Invalid)?;
                key.verify(check.message, &signature).is_ok()
            }
            #[cfg(not(feature = "rust-p384-p521"))]
            (Algorithm::ES384 | Algorithm::ES512, _) => {
                return Err(SignatureError::Unavailable(format!(
                    "{} is not in this build's pure-Rust backend (feature rust-p384-p521)",
                    check.algorithm
                )));
            }
            (Algorithm::EdDSA, KeyMaterial::Ed25519(key)) => {
                let signature = ed25519_compact::Signature::from_slice(check.signature)
                    .map_err(|_| SignatureError::Invalid)?;
                alg::Ed25519.verify_signature(&signature, key, check.message)
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

impl SignatureBackend for RustCrypto {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn verify(
        &self,
        check: &SignatureCheck<'_>,
    ) -> impl Future<Output = Result<(), SignatureError>> {
        std::future::ready(Self::verify_now(check))
    }
}

/// A backend chosen at run time: by configuration at the edge, or each in turn in tests.
#[derive(Debug)]
pub enum AnyBackend {
    /// [`RustCrypto`].
    Rust(RustCrypto),
    /// [`WebCrypto`] (wasm32 with the `webcrypto` feature).
    #[cfg(all(feature = "webcrypto", target_arch = "wasm32"))]
    Web(WebCrypto),
}

impl SignatureBackend for AnyBackend {
    fn name(&self) -> &'static str {
        match self {
            Self::Rust(b) => b.name(),
            #[cfg(all(feature = "webcrypto", target_arch = "wasm32"))]
            Self::Web(b) => b.name(),
        }
    }

    fn verify(
        &self,
        check: &SignatureCheck<'_>,
    ) -> impl Future<Output = Result<(), SignatureError>> {
        let check = *check;
        async move {
            match self {
                Self::Rust(b) => b.verify(&check).await,
                #[cfg(all(feature = "webcrypto", target_arch = "wasm32"))]
                Self::Web(b) => b.verify(&check).await,
            }
        }
    }
}
