//! The identity assertion's keys in the worker: the Ed25519 seeds of the Worker secrets,
//! imported into WebCrypto once per isolate (the platform signs; the wasm carries no signing
//! code), with the key set `/.cedargate/jwks` serves.

use crate::config::AssertionConfig;
use cedargate::assertion::{
    Assertion, assertion_jwks_of, assertion_jws, assertion_kid, assertion_public_jwk,
};
use js_sys::{Array, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};
use worker::Env;

/// PKCS#8 for an Ed25519 private key is this prefix and the 32-byte seed (RFC 8410).
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The configured seeds (checked when the isolate starts) and, once imported, the keys.
pub struct AssertionKeys {
    pub config: AssertionConfig,
    /// The current seed, then the previous one.
    seeds: Vec<[u8; 32]>,
    imported: RefCell<Option<Rc<Imported>>>,
}

/// The signing key and what is published.
pub struct Imported {
    key: CryptoKey,
    kid: String,
    /// The JWKS document: the current key, then the previous one.
    pub jwks: String,
}

impl AssertionKeys {
    /// Reads the Worker secrets; a missing or malformed one stops the isolate.
    pub fn build(env: &Env, config: &AssertionConfig) -> Result<Self, String> {
        let read = |name: &str| -> Result<[u8; 32], String> {
            let text = env
                .secret(name)
                .map_err(|_| format!("assertion: the Worker secret {name} is not set"))?
                .to_string();
            cedargate::assertion::assertion_seed(&text)
                .map_err(|e| format!("assertion: the Worker secret {name}: {e}"))
        };
        let mut seeds = vec![read(&config.key_secret)?];
        if let Some(previous) = &config.previous_key_secret {
            seeds.push(read(previous)?);
        }
        Ok(Self {
            config: config.clone(),
            seeds,
            imported: RefCell::default(),
        })
    }

    /// The imported keys, imported on first use.
    pub async fn imported(&self) -> Result<Rc<Imported>, String> {
        if let Some(done) = self.imported.borrow().clone() {
            return Ok(done);
        }
        let mut first = None;
        let mut jwks = Vec::new();
        for seed in &self.seeds {
            let (key, public) = import(seed).await?;
            jwks.push(assertion_public_jwk(&public));
            first.get_or_insert((key, assertion_kid(&public)));
        }
        let (key, kid) = first.ok_or("assertion: no key")?;
        let done = Rc::new(Imported {
            key,
            kid,
            jwks: assertion_jwks_of(&jwks),
        });
        *self.imported.borrow_mut() = Some(done.clone());
        Ok(done)
    }
}

impl Imported {
    /// The signed assertion.
    pub async fn sign(&self, assertion: &Assertion) -> Result<String, String> {
        let input = assertion.signing_input(&self.kid);
        let promise = subtle()?
            .sign_with_object_and_u8_array(&ed25519()?, &self.key, input.as_bytes())
            .map_err(describe)?;
        let signature = JsFuture::from(promise).await.map_err(describe)?;
        let signature = Uint8Array::new(&signature).to_vec();
        Ok(assertion_jws(&input, &signature))
    }
}

fn subtle() -> Result<SubtleCrypto, String> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(describe)?
        .dyn_into::<web_sys::Crypto>()
        .map_err(|_| "no crypto global".to_owned())?;
    Ok(crypto.subtle())
}

fn ed25519() -> Result<Object, String> {
    let params = Object::new();
    Reflect::set(&params, &"name".into(), &"Ed25519".into()).map_err(describe)?;
    Ok(params)
}

/// Imports a seed as a signing key, and reads its public key back from the JWK export.
async fn import(seed: &[u8; 32]) -> Result<(CryptoKey, Vec<u8>), String> {
    let mut pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
    pkcs8.extend_from_slice(seed);
    let subtle = subtle()?;
    let promise = subtle
        .import_key_with_object(
            "pkcs8",
            &Uint8Array::from(pkcs8.as_slice()),
            &ed25519()?,
            true,
            &Array::of1(&JsValue::from_str("sign")),
        )
        .map_err(describe)?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| "assertion: importKey returned no key".to_owned())?;
    let jwk = JsFuture::from(subtle.export_key("jwk", &key).map_err(describe)?)
        .await
        .map_err(describe)?;
    let x = Reflect::get(&jwk, &"x".into())
        .ok()
        .and_then(|x| x.as_string())
        .ok_or("assertion: the exported key has no x")?;
    use base64ct::Encoding as _;
    let public = base64ct::Base64UrlUnpadded::decode_vec(&x)
        .map_err(|_| "assertion: the exported key's x is not base64url".to_owned())?;
    Ok((key, public))
}

fn describe(err: JsValue) -> String {
    let name = Reflect::get(&err, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "Error".into());
    let message = Reflect::get(&err, &"message".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    format!("assertion: {name}: {message}")
}
