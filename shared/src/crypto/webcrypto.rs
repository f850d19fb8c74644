//! Signature checks with the platform's WebCrypto (`crypto.subtle`), for workerd, browsers
//! and Node. Keys are imported once per (key, algorithm) and kept for the life of the value.

use super::{RustCrypto, SignatureBackend, SignatureCheck, SignatureError};
use crate::jwks::Algorithm;
use js_sys::{Array, Object, Reflect};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// Imported keys kept at most; the set is cleared when it grows past this (key sets hold a
/// handful of keys, so this only bounds memory under key churn).
const MAX_CACHED_KEYS: usize = 64;

/// WebCrypto verification. Keeps imported `CryptoKey`s, so one value should live as long as
/// the isolate or page (it is not `Send`; wasm32 is single-threaded).
///
/// Where the platform cannot import a key (for instance an engine without Ed25519), the
/// check goes to the fallback `F`: [`RustCrypto`] unless another is given
/// ([`WebCrypto::with_fallback`]); it never skips verification. A program that must stay
/// small gives another fallback so that it links no pure-Rust signature code (the browser
/// app's shell asks its engine module, which loads anyway).
#[derive(Debug)]
pub struct WebCrypto<F = RustCrypto> {
    keys: RefCell<HashMap<(String, Algorithm), KeyEntry>>,
    fallback: F,
}

impl Default for WebCrypto {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone)]
enum KeyEntry {
    Imported(CryptoKey),
    Unsupported,
}

impl WebCrypto {
    /// A backend with an empty key cache, falling back to [`RustCrypto`].
    pub fn new() -> Self {
        Self::with_fallback(RustCrypto)
    }
}

impl<F: SignatureBackend> WebCrypto<F> {
    /// A backend with an empty key cache that hands the checks the platform cannot make
    /// (a key it cannot import) to `fallback`.
    pub fn with_fallback(fallback: F) -> Self {
        Self {
            keys: RefCell::default(),
            fallback,
        }
    }

    async fn key_for(&self, check: &SignatureCheck<'_>) -> Result<KeyEntry, SignatureError> {
        let cache_key = (check.key.thumbprint().to_owned(), check.algorithm);
        if let Some(entry) = self.keys.borrow().get(&cache_key) {
            return Ok(entry.clone());
        }
        let entry = match import(check).await {
            Ok(key) => KeyEntry::Imported(key),
            Err(Import::NotSupported) => KeyEntry::Unsupported,
            Err(Import::Failed(reason)) => return Err(SignatureError::Unavailable(reason)),
        };
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(cache_key, entry.clone());
        Ok(entry)
    }

    async fn verify_checked(&self, check: &SignatureCheck<'_>) -> Result<(), SignatureError> {
        check.precheck()?;
        let key = match self.key_for(check).await? {
            KeyEntry::Imported(key) => key,
            KeyEntry::Unsupported => return self.fallback.verify(check).await,
        };
        let subtle = subtle()?;
        let promise = subtle
            .verify_with_object_and_u8_array_and_u8_array(
                &cached_verify_params(check.algorithm)?,
                &key,
                check.signature,
                check.message,
            )
            .map_err(js_error)?;
        let result = JsFuture::from(promise).await.map_err(js_error)?;
        if result.as_bool() == Some(true) {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

impl<F: SignatureBackend> SignatureBackend for WebCrypto<F> {
    fn name(&self) -> &'static str {
        "webcrypto"
    }

    fn verify(
        &self,
        check: &SignatureCheck<'_>,
    ) -> impl Future<Output = Result<(), SignatureError>> {
        self.verify_checked(check)
    }
}

enum Import {
    NotSupported,
    Failed(String),
}

thread_local! {
    /// `crypto.subtle`, looked up once.
    static SUBTLE: Option<SubtleCrypto> = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .filter(|v| v.is_object())
        .map(|c| c.unchecked_into::<web_sys::Crypto>().subtle());
    /// The `verify` parameter objects, built once per algorithm.
    static VERIFY_PARAMS: RefCell<HashMap<Algorithm, Object>> = RefCell::new(HashMap::new());
}

fn subtle() -> Result<SubtleCrypto, SignatureError> {
    SUBTLE
        .with(Clone::clone)
        .ok_or_else(|| SignatureError::Unavailable("no crypto global".into()))
}

fn cached_verify_params(alg: Algorithm) -> Result<Object, SignatureError> {
    if let Some(params) = VERIFY_PARAMS.with(|p| p.borrow().get(&alg).cloned()) {
        return Ok(params);
    }
    let params = verify_params(alg)?;
    VERIFY_PARAMS.with(|p| p.borrow_mut().insert(alg, params.clone()));
    Ok(params)
}

fn object(pairs: &[(&str, JsValue)]) -> Result<Object, SignatureError> {
    let obj = Object::new();
    for (name, value) in pairs {
        Reflect::set(&obj, &JsValue::from_str(name), value).map_err(js_error)?;
    }
    Ok(obj)
}

fn import_params(alg: Algorithm) -> Result<Object, SignatureError> {
    let s = JsValue::from_str;
    match alg {
        Algorithm::RS256 => object(&[("name", s("RSASSA-PKCS1-v1_5")), ("hash", s("SHA-256"))]),
        Algorithm::RS384 => object(&[("name", s("RSASSA-PKCS1-v1_5")), ("hash", s("SHA-384"))]),
        Algorithm::RS512 => object(&[("name", s("RSASSA-PKCS1-v1_5")), ("hash", s("SHA-512"))]),
        Algorithm::PS256 => object(&[("name", s("RSA-PSS")), ("hash", s("SHA-256"))]),
        Algorithm::PS384 => object(&[("name", s("RSA-PSS")), ("hash", s("SHA-384"))]),
        Algorithm::PS512 => object(&[("name", s("RSA-PSS")), ("hash", s("SHA-512"))]),
        Algorithm::ES256 => object(&[("name", s("ECDSA")), ("namedCurve", s("P-256"))]),
        Algorithm::ES384 => object(&[("name", s("ECDSA")), ("namedCurve", s("P-384"))]),
        Algorithm::ES512 => object(&[("name", s("ECDSA")), ("namedCurve", s("P-521"))]),
        Algorithm::EdDSA => object(&[("name", s("Ed25519"))]),
    }
}

fn verify_params(alg: Algorithm) -> Result<Object, SignatureError> {
    let s = JsValue::from_str;
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            object(&[("name", s("RSASSA-PKCS1-v1_5"))])
        }
        // RFC 7518 §3.5: the salt is as long as the hash output.
        Algorithm::PS256 => object(&[("name", s("RSA-PSS")), ("saltLength", JsValue::from(32))]),
        Algorithm::PS384 => object(&[("name", s("RSA-PSS")), ("saltLength", JsValue::from(48))]),
        Algorithm::PS512 => object(&[("name", s("RSA-PSS")), ("saltLength", JsValue::from(64))]),
        Algorithm::ES256 => object(&[("name", s("ECDSA")), ("hash", s("SHA-256"))]),
        Algorithm::ES384 => object(&[("name", s("ECDSA")), ("hash", s("SHA-384"))]),
        Algorithm::ES512 => object(&[("name", s("ECDSA")), ("hash", s("SHA-512"))]),
        Algorithm::EdDSA => object(&[("name", s("Ed25519"))]),
    }
}

async fn import(check: &SignatureCheck<'_>) -> Result<CryptoKey, Import> {
    let failed = |err: SignatureError| Import::Failed(err.to_string());
    let subtle = subtle().map_err(failed)?;
    let jwk_text = serde_json::to_string(check.key.public_jwk())
        .map_err(|_| Import::Failed("key cannot be encoded".into()))?;
    let jwk: Object = js_sys::JSON::parse(&jwk_text)
        .map_err(|_| Import::Failed("key cannot be encoded".into()))?
        .unchecked_into();
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = subtle
        .import_key_with_object(
            "jwk",
            &jwk,
            &import_params(check.algorithm).map_err(failed)?,
            false,
            &usages,
        )
        .map_err(classify)?;
    let key = JsFuture::from(promise).await.map_err(classify)?;
    key.dyn_into::<CryptoKey>()
        .map_err(|_| Import::Failed("importKey returned no key".into()))
}

fn classify(err: JsValue) -> Import {
    let name = Reflect::get(&err, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string());
    match name.as_deref() {
        Some("NotSupportedError") => Import::NotSupported,
        _ => Import::Failed(describe(&err)),
    }
}

fn js_error(err: JsValue) -> SignatureError {
    SignatureError::Unavailable(describe(&err))
}

fn describe(err: &JsValue) -> String {
    let name = Reflect::get(err, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "Error".into());
    let message = Reflect::get(err, &JsValue::from_str("message"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    format!("{name}: {message}")
}
