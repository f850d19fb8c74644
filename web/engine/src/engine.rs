//! The engine's functions, as JavaScript sees them.

use cedargate::crypto::{
    RustCrypto, SignatureBackend as _, SignatureCheck, SignatureError, WebCrypto,
};
use cedargate::wire::BundleEndpoint;
use cedargate::{
    Bundle, Credentials, Gate, IssuerKeys, KeySet, Principal, UnixTime, VerifiedToken,
};
use cedargate_web::config::AppConfig;
use cedargate_web::engine_wire::{
    EngineError, EngineInput, EngineMatrix, EngineStaged, SignatureInput, WhatIfInput, WireSetClaim,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// A matrix's gate and verified token, kept for its what-ifs.
struct Held {
    gate: Gate,
    verified: VerifiedToken,
}

thread_local! {
    static HELD: RefCell<(u32, BTreeMap<u32, Held>)> = const { RefCell::new((0, BTreeMap::new())) };
}

fn text<T: serde::Serialize>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(|e| JsValue::from_str(&e.to_string()))
}

fn refused(error: EngineError) -> JsValue {
    JsValue::from_str(&serde_json::to_string(&error).unwrap_or_default())
}

/// The matrix for [`EngineInput`] (JSON): an [`EngineMatrix`] (JSON), or an [`EngineError`]
/// (JSON) thrown.
#[wasm_bindgen]
pub async fn matrix(input: String) -> Result<String, JsValue> {
    let input: EngineInput =
        serde_json::from_str(&input).map_err(|e| refused(EngineError::Input(e.to_string())))?;
    let (matrix, held) = compute(&input).await.map_err(refused)?;
    let handle = HELD.with(|held_all| {
        let mut held_all = held_all.borrow_mut();
        held_all.0 = held_all.0.wrapping_add(1);
        let handle = held_all.0;
        held_all.1.insert(handle, held);
        handle
    });
    text(&EngineMatrix { handle, ..matrix })
}

/// A what-if ([`WhatIfInput`], JSON): the rows (JSON) for the matrix's token with the claims
/// replaced, or why not (a string thrown).
#[wasm_bindgen]
pub fn what_if(input: String) -> Result<String, JsValue> {
    let input: WhatIfInput =
        serde_json::from_str(&input).map_err(|e| JsValue::from_str(&e.to_string()))?;
    HELD.with(|held_all| {
        let held_all = held_all.borrow();
        let held = held_all
            .1
            .get(&input.handle)
            .ok_or_else(|| JsValue::from_str("this matrix is no longer held"))?;
        let principal = held
            .gate
            .trust()
            .hypothetical_principal(&held.verified, &input.replace)
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        text(&held.gate.what_if(&principal))
    })
}

/// Forgets a matrix's gate (the shell no longer shows it).
#[wasm_bindgen]
pub fn release(handle: u32) {
    HELD.with(|held_all| held_all.borrow_mut().1.remove(&handle));
}

async fn compute(input: &EngineInput) -> Result<(EngineMatrix, Held), EngineError> {
    let config =
        AppConfig::from_json(&input.config).map_err(|e| EngineError::Input(e.to_string()))?;
    let trust_config = config
        .trust_config()
        .map_err(|e| EngineError::Bundle(e.to_string()))?;
    let keys = KeySet::from_json(&input.jwks).map_err(|e| EngineError::Token(e.to_string()))?;
    let doc: BundleEndpoint = serde_json::from_str(&input.bundle)
        .map_err(|e| EngineError::Bundle(format!("the bundle endpoint's answer: {e}")))?;
    let now = UnixTime(input.now);
    // The compiled form, with what the entity data says about this caller (its roles, say).
    // Not validated again, so the engine does not link Cedar's validator: it is the content
    // the edge validated, since its version is the one the edge names (or it is refused).
    let bundle = doc
        .insecure_bundle_unvalidated()
        .map_err(|e| EngineError::Bundle(e.to_string()))?;
    let gate = Gate::new(bundle, &trust_config).map_err(|e| EngineError::Bundle(e.to_string()))?;
    // The pipeline the edge runs, with the keys the session was verified with.
    let (verified, principal) = gate
        .authenticate_with(
            Credentials {
                token: &input.token,
                companions: &presented(input),
            },
            IssuerKeys::new(&input.issuer, &keys),
            &WebCrypto::new(),
            now,
        )
        .await
        .map_err(|e| EngineError::Token(e.to_string()))?;
    let reliances = gate
        .reliances(&verified, &principal)
        .map_err(|e| EngineError::Token(e.to_string()))?;
    let set_claims = gate
        .trust()
        .set_claims(&verified)
        .map_err(|e| EngineError::Token(e.to_string()))?;
    let staged = match doc.staged.as_deref() {
        Some(candidate) => Some(
            staged(&trust_config, input, &keys, candidate, now)
                .await
                .map_err(|e| match e {
                    EngineError::Bundle(e) | EngineError::Token(e) | EngineError::Input(e) => e,
                }),
        ),
        None => None,
    };
    let bundle = gate.bundle();
    let matrix = EngineMatrix {
        handle: 0,
        version: bundle.text_version().to_string(),
        principal: principal.uid().to_string(),
        data_about: data_above(&doc, &principal),
        rows: bundle.allowed_actions(&principal),
        reliances,
        policy_texts: texts_of(bundle),
        set_claims: set_claims.into_iter().map(WireSetClaim::from).collect(),
        enforced: doc.enforced.clone(),
        staged,
        permitted_resources: doc.permitted_resources.clone().unwrap_or_default(),
    };
    Ok((matrix, Held { gate, verified }))
}

/// The companion header the app sends, as the edge reads it: the ID token beside the access
/// token when the app sends both (`edge_companion`), else none.
fn presented(input: &EngineInput) -> Vec<(&str, &str)> {
    input
        .companion
        .as_deref()
        .map(|id| vec![(cedargate::DEFAULT_ID_TOKEN_HEADER, id)])
        .unwrap_or_default()
}

/// Each policy's text, by `@id`.
fn texts_of(bundle: &Bundle) -> BTreeMap<String, String> {
    bundle
        .policy_ids()
        .into_iter()
        .filter_map(|entry| Some((entry.id.clone(), bundle.policy_text(&entry.id)?)))
        .collect()
}

/// The staged candidate's matrix: its bundle loaded as the live one is, and the token
/// authenticated by it (its entity data may place the principal elsewhere).
async fn staged(
    trust_config: &cedargate::TrustConfig,
    input: &EngineInput,
    keys: &KeySet,
    candidate: &BundleEndpoint,
    now: UnixTime,
) -> Result<EngineStaged, EngineError> {
    let staged_error = |e: String| EngineError::Bundle(format!("the staged candidate: {e}"));
    let bundle = candidate
        .insecure_bundle_unvalidated()
        .map_err(|e| staged_error(e.to_string()))?;
    let gate = Gate::new(bundle, trust_config).map_err(|e| staged_error(e.to_string()))?;
    let (_, principal) = gate
        .authenticate_with(
            Credentials {
                token: &input.token,
                companions: &presented(input),
            },
            IssuerKeys::new(&input.issuer, keys),
            &WebCrypto::new(),
            now,
        )
        .await
        .map_err(|e| EngineError::Token(e.to_string()))?;
    let bundle = gate.bundle();
    Ok(EngineStaged {
        version: bundle.text_version().to_string(),
        serial: candidate.serial,
        rows: bundle.allowed_actions(&principal),
        policy_texts: texts_of(bundle),
    })
}

/// The uids of the entity data's entities about `principal`, other than the principal itself
/// and the groups its token names, written as Cedar writes them (`TodoApp::Role::"viewer"`).
fn data_above(doc: &BundleEndpoint, principal: &Principal) -> Vec<String> {
    let own = principal.uid();
    let from_token: Vec<(String, String)> = std::iter::once(own)
        .chain(
            principal
                .entities()
                .ok()
                .and_then(|entities| entities.ancestors(own))
                .into_iter()
                .flatten(),
        )
        .map(|uid| (uid.type_name().to_string(), uid.id().unescaped().to_owned()))
        .collect();
    doc.entities
        .iter()
        .flatten()
        .filter_map(|entity| {
            let uid = entity.get("uid")?;
            Some((
                uid.get("type")?.as_str()?.to_owned(),
                uid.get("id")?.as_str()?.to_owned(),
            ))
        })
        .filter(|uid| !from_token.contains(uid))
        .map(|(ty, id)| format!("{ty}::\"{}\"", id.escape_debug()))
        .collect()
}

/// A signature the shell's WebCrypto could not check ([`SignatureInput`], JSON), checked
/// with the shared core's pure-Rust backend: `true` when it verifies, `false` when it does
/// not, or why it cannot be checked (a string thrown). The shell's tokens are refused
/// unless this answers `true`.
#[wasm_bindgen]
pub async fn verify_signature(input: String) -> Result<bool, JsValue> {
    let cannot = |why: String| JsValue::from_str(&why);
    let input: SignatureInput =
        serde_json::from_str(&input).map_err(|e| cannot(format!("unreadable check: {e}")))?;
    let keys = KeySet::from_json(&serde_json::json!({ "keys": [input.jwk] }).to_string())
        .map_err(|e| cannot(format!("the key is not usable: {e}")))?;
    let key = keys
        .keys()
        .first()
        .filter(|key| key.accepts(input.alg))
        .ok_or_else(|| cannot(format!("the key cannot verify {}", input.alg)))?;
    let check = SignatureCheck {
        algorithm: input.alg,
        key,
        message: input.message.as_bytes(),
        signature: &input.signature,
    };
    match RustCrypto.verify(&check).await {
        Ok(()) => Ok(true),
        Err(SignatureError::Invalid) => Ok(false),
        Err(SignatureError::Unavailable(why)) => Err(cannot(why)),
    }
}
