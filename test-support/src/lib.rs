//! Test support for `cedargate`, shared by the core's tests and benchmark (`shared/`), the
//! end-to-end tests (`cedargate-tests`), the policy tool's tests and the fuzz targets: the
//! test keys, key sets, token minting, the trust configuration, the signature backends to
//! run every case with, the token and request case tables ([`cases`], [`requests`]), the
//! fuzz properties ([`fuzz`]), Project Wycheproof's signature vectors ([`wycheproof`]) and
//! the AuthZEN 1.0 certification scenario's tests ([`certification`]).
//!
//! The keys and tables are the core's test data (`shared/tests/keys`, `shared/tests/data`),
//! embedded with `include_str!` so the same tests run natively and compiled to wasm32.
//!
//! This is test code: it depends on `cedargate`'s `testing` feature, and a failed
//! expectation panics.
#![warn(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cases;
pub mod certification;
pub mod fuzz;
pub mod requests;
pub mod wycheproof;

use base64ct::{Base64UrlUnpadded, Encoding};
use cedargate::{
    Gate, GateError, KeySet, Principal, RustCrypto, TrustConfig, UnixTime, VerifiedToken,
};
use jwt_compact::{Algorithm as _, AlgorithmSignature as _, alg};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Runs an async test natively (blocking) and under wasm-bindgen-test.
#[macro_export]
macro_rules! async_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        #[cfg(target_arch = "wasm32")]
        #[$crate::__private::wasm_bindgen_test::wasm_bindgen_test(
            crate = $crate::__private::wasm_bindgen_test
        )]
        $(#[$meta])*
        async fn $name() $body

        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        $(#[$meta])*
        fn $name() {
            $crate::__private::pollster::block_on(async $body)
        }
    };
}

/// Lets the event loop take a turn (a `setTimeout` of 0) under wasm; nothing natively. A test
/// that computes for long stretches calls it now and then: in a browser the page has one
/// thread, and the headless runner's own requests to the page time out while it is held.
pub async fn yield_to_event_loop() {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            let global = js_sys::global();
            let timer = js_sys::Reflect::get(&global, &"setTimeout".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            let scheduled = timer
                .map(|set_timeout| set_timeout.call2(&global, &resolve, &0.into()).is_ok())
                .unwrap_or(false);
            if !scheduled {
                let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// What [`async_test!`] expands to refers to; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(not(target_arch = "wasm32"))]
    pub use pollster;
    #[cfg(target_arch = "wasm32")]
    pub use wasm_bindgen_test;
}

/// The fixed "current time" of the shared tests.
pub const NOW: UnixTime = UnixTime(1_800_000_000);
/// Issuer A, shaped like a PingOne environment: ID and access tokens, RSA, P-256 and
/// Ed25519 keys.
pub const ISSUER_A: &str = "https://auth.pingone.test/env-a/as";
/// Issuer B, a second environment: access tokens only, RS256 only.
pub const ISSUER_B: &str = "https://auth.pingone.test/env-b/as";
/// Issuer C, another provider: ID tokens only, groups in `groups`; it shares issuer B's
/// key.
pub const ISSUER_C: &str = "https://idp.example.test/c";
/// The browser app's client: the audience of ID tokens.
pub const CLIENT_ID: &str = "petstore-spa";
/// The PetStore API: the audience of access tokens.
pub const API_AUDIENCE: &str = "https://api.petstore.test";

/// The private half of a test key.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "a handful of keys, loaded once")]
pub enum Signer {
    /// RS256, RS384, RS512, PS256, PS384 and PS512.
    Rsa(rsa::RsaPrivateKey),
    /// ES256.
    P256(p256::ecdsa::SigningKey),
    /// ES384.
    P384(p384::ecdsa::SigningKey),
    /// ES512 (kept as the secret scalar: p521 0.13's signing key has no `Debug`).
    P521(p521::SecretKey),
    /// EdDSA.
    Ed25519(ed25519_compact::KeyPair),
}

/// A test key (`shared/tests/keys`, described in its README).
#[derive(Debug)]
pub struct TestKey {
    /// The key's name, also its `kid`.
    pub kid: &'static str,
    /// The private key.
    pub signer: Signer,
}

const PEMS: [(&str, &str); 12] = [
    (
        "a-rsa-1",
        include_str!("../../shared/tests/keys/a-rsa-1.pem"),
    ),
    (
        "a-rsa-2",
        include_str!("../../shared/tests/keys/a-rsa-2.pem"),
    ),
    ("a-ec-1", include_str!("../../shared/tests/keys/a-ec-1.pem")),
    (
        "a-p384-1",
        include_str!("../../shared/tests/keys/a-p384-1.pem"),
    ),
    (
        "a-p521-1",
        include_str!("../../shared/tests/keys/a-p521-1.pem"),
    ),
    (
        "a-rsa-3072",
        include_str!("../../shared/tests/keys/a-rsa-3072.pem"),
    ),
    (
        "a-rsa-4096",
        include_str!("../../shared/tests/keys/a-rsa-4096.pem"),
    ),
    (
        "a-rsa-7680",
        include_str!("../../shared/tests/keys/a-rsa-7680.pem"),
    ),
    ("a-ed-1", include_str!("../../shared/tests/keys/a-ed-1.pem")),
    ("b-rsa", include_str!("../../shared/tests/keys/b-rsa.pem")),
    (
        "attacker-rsa",
        include_str!("../../shared/tests/keys/attacker-rsa.pem"),
    ),
    (
        "weak-rsa-1024",
        include_str!("../../shared/tests/keys/weak-rsa-1024.pem"),
    ),
];

fn load(kid: &'static str, pem: &str) -> TestKey {
    use p256::pkcs8::DecodePrivateKey as _;
    let signer = if kid.contains("-ec-") {
        Signer::P256(p256::ecdsa::SigningKey::from_pkcs8_pem(pem).unwrap())
    } else if kid.contains("-p384-") {
        Signer::P384(p384::ecdsa::SigningKey::from_pkcs8_pem(pem).unwrap())
    } else if kid.contains("-p521-") {
        Signer::P521(p521::SecretKey::from_pkcs8_pem(pem).unwrap())
    } else if kid.contains("-ed-") {
        Signer::Ed25519(ed25519_compact::KeyPair::from_pem(pem).unwrap())
    } else {
        use rsa::pkcs8::DecodePrivateKey as _;
        Signer::Rsa(rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap())
    };
    TestKey { kid, signer }
}

/// The test key `name`; panics when there is none.
pub fn key(name: &str) -> &'static TestKey {
    static KEYS: OnceLock<HashMap<&'static str, TestKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        PEMS.iter()
            .map(|(kid, pem)| (*kid, load(kid, pem)))
            .collect()
    })
    .get(name)
    .unwrap_or_else(|| panic!("no test key {name}"))
}

/// The public JWK of a test key, with `kid`, `use: sig` and no `alg`.
pub fn public_jwk(name: &str) -> Value {
    use jwt_compact::jwk::JsonWebKey;
    let k = key(name);
    let jwk = match &k.signer {
        Signer::Rsa(private) => serde_json::to_value(JsonWebKey::from(&private.to_public_key())),
        Signer::P256(private) => serde_json::to_value(JsonWebKey::from(private.verifying_key())),
        Signer::P384(private) => Ok(ec_jwk::<p384::NistP384>(
            "P-384",
            &private.verifying_key().to_encoded_point(false),
        )),
        Signer::P521(private) => {
            use p521::elliptic_curve::sec1::ToEncodedPoint as _;
            Ok(ec_jwk::<p521::NistP521>(
                "P-521",
                &private.public_key().to_encoded_point(false),
            ))
        }
        Signer::Ed25519(pair) => serde_json::to_value(JsonWebKey::from(&pair.pk)),
    };
    let mut jwk = jwk.unwrap();
    jwk["kid"] = json!(k.kid);
    jwk["use"] = json!("sig");
    jwk
}

/// The public JWK of an EC point (jwt-compact 0.8 knows only P-256 and secp256k1).
fn ec_jwk<C>(curve: &str, point: &p384::elliptic_curve::sec1::EncodedPoint<C>) -> Value
where
    C: p384::elliptic_curve::Curve,
    p384::elliptic_curve::FieldBytesSize<C>: p384::elliptic_curve::sec1::ModulusSize,
{
    json!({
        "kty": "EC",
        "crv": curve,
        "x": b64(point.x().unwrap()),
        "y": b64(point.y().unwrap()),
    })
}

/// A JWKS document with the public halves of `names`, plus `extra` raw entries.
pub fn jwks_document(names: &[&str], extra: &[Value]) -> String {
    let mut keys: Vec<Value> = names.iter().map(|n| public_jwk(n)).collect();
    keys.extend_from_slice(extra);
    json!({ "keys": keys }).to_string()
}

/// Issuer A's key set: its six keys (two RSA, P-256, P-384, P-521, Ed25519), plus entries
/// that must be skipped.
pub fn issuer_a_jwks() -> String {
    let mut encryption = public_jwk("a-rsa-2");
    encryption["use"] = json!("enc");
    encryption["kid"] = json!("a-enc");
    let mut weak = public_jwk("weak-rsa-1024");
    weak["kid"] = json!("a-weak");
    jwks_document(
        &[
            "a-rsa-1", "a-rsa-2", "a-ec-1", "a-p384-1", "a-p521-1", "a-ed-1",
        ],
        &[
            encryption,
            weak,
            json!({ "kty": "oct", "kid": "a-hmac", "k": "c2VjcmV0" }),
        ],
    )
}

/// The parsed key sets of issuers A, B and C.
pub fn key_sets() -> &'static HashMap<&'static str, KeySet> {
    static SETS: OnceLock<HashMap<&'static str, KeySet>> = OnceLock::new();
    SETS.get_or_init(|| {
        let b = KeySet::from_json(&jwks_document(&["b-rsa"], &[])).unwrap();
        HashMap::from([
            (ISSUER_A, KeySet::from_json(&issuer_a_jwks()).unwrap()),
            (ISSUER_B, b.clone()),
            (ISSUER_C, b),
        ])
    })
}

/// The test trust configuration (`shared/tests/data/trust.toml`).
pub fn trust_config() -> TrustConfig {
    toml::from_str(include_str!("../../shared/tests/data/trust.toml")).unwrap()
}

/// The PetStore example bundle with the test trust configuration.
pub fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        Gate::new(cedargate::examples::petstore().unwrap(), &trust_config()).unwrap()
    })
}

/// Signs `message` with the named key and JWS algorithm.
pub fn sign(alg_name: &str, key_name: &str, message: &[u8]) -> Vec<u8> {
    let k = key(key_name);
    match (&k.signer, alg_name) {
        (Signer::Rsa(private), name) => {
            let rsa = match name {
                "RS256" => alg::Rsa::rs256(),
                "RS384" => alg::Rsa::rs384(),
                "RS512" => alg::Rsa::rs512(),
                "PS256" => alg::Rsa::ps256(),
                "PS384" => alg::Rsa::ps384(),
                "PS512" => alg::Rsa::ps512(),
                other => panic!("cannot sign {other} with an RSA key"),
            };
            rsa.sign(private, message).as_bytes().into_owned()
        }
        (Signer::P256(private), "ES256") => {
            alg::Es256.sign(private, message).as_bytes().into_owned()
        }
        (Signer::P384(private), "ES384") => {
            use p384::ecdsa::signature::Signer as _;
            let signature: p384::ecdsa::Signature = private.sign(message);
            signature.to_bytes().to_vec()
        }
        (Signer::P521(private), "ES512") => {
            use p521::ecdsa::signature::Signer as _;
            let private = p521::ecdsa::SigningKey::from_bytes(&private.to_bytes()).unwrap();
            let signature: p521::ecdsa::Signature = private.sign(message);
            signature.to_bytes().to_vec()
        }
        (Signer::Ed25519(pair), "EdDSA") => {
            alg::Ed25519.sign(&pair.sk, message).as_bytes().into_owned()
        }
        (_, other) => panic!("cannot sign {other} with key {key_name}"),
    }
}

/// Base64url without padding, as JWS encodes its segments.
pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Default signing algorithm of a key.
pub fn default_alg(key_name: &str) -> &'static str {
    match key(key_name).signer {
        Signer::Rsa(_) => "RS256",
        Signer::P256(_) => "ES256",
        Signer::P384(_) => "ES384",
        Signer::P521(_) => "ES512",
        Signer::Ed25519(_) => "EdDSA",
    }
}

/// Mints a compact token: header and payload serialized as given, signed with `key_name`
/// using the header's `alg`.
pub fn mint_raw(header_json: &str, claims_json: &str, key_name: &str) -> String {
    let header: Value = serde_json::from_str(header_json).unwrap_or(Value::Null);
    let signing_input = format!(
        "{}.{}",
        b64(header_json.as_bytes()),
        b64(claims_json.as_bytes())
    );
    let alg = header["alg"].as_str().unwrap_or("RS256");
    let signature = sign(alg, key_name, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&signature))
}

/// Mints with `kid` and `alg` of the key.
pub fn mint(claims: &Value, key_name: &str, typ: &str) -> String {
    let header = json!({ "alg": default_alg(key_name), "kid": key(key_name).kid, "typ": typ });
    mint_raw(&header.to_string(), &claims.to_string(), key_name)
}

/// Claims of a valid ID token of issuer A for `sub` in `groups`, issued at `now`.
pub fn id_claims(sub: &str, groups: &[&str], now: UnixTime) -> Value {
    json!({
        "iss": ISSUER_A,
        "aud": CLIENT_ID,
        "sub": sub,
        "group": groups,
        "iat": now.seconds() - 10,
        "exp": now.seconds() + 3600,
        "nonce": "n-0S6_WzA2Mj",
    })
}

/// Claims of a valid access token of issuer A for `sub`.
pub fn access_claims(sub: &str, now: UnixTime) -> Value {
    json!({
        "iss": ISSUER_A,
        "aud": [API_AUDIENCE],
        "sub": sub,
        "client_id": CLIENT_ID,
        "scope": "openid profile pets:read",
        "p1.permissions": ["pets:read"],
        "iat": now.seconds() - 10,
        "exp": now.seconds() + 3600,
    })
}

/// The signature backends every case runs with: pure Rust everywhere, WebCrypto too under
/// wasm.
pub type Backend = cedargate::crypto::AnyBackend;

/// Every [`Backend`] of the target.
pub fn backends() -> Vec<Backend> {
    #[allow(unused_mut)]
    let mut all = vec![Backend::Rust(RustCrypto)];
    #[cfg(target_arch = "wasm32")]
    all.push(Backend::Web(cedargate::crypto::WebCrypto::new()));
    all
}

/// Verifies and maps a token with the test gate and key sets.
pub async fn authenticate(
    token: &str,
    backend: &Backend,
    now: UnixTime,
) -> Result<(VerifiedToken, Principal), GateError> {
    gate()
        .authenticate(token, key_sets(), backend, now)
        .await
        .map_err(|err| match err {
            cedargate::AuthError::Refused(e) | cedargate::AuthError::Keys(e) => e,
        })
}

/// Unverified claims of a compact token, for assertions.
pub fn claims_of(token: &str) -> Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}
