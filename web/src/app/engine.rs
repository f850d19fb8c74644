//! The engine: a second wasm module (`web/engine`, everything that needs Cedar), imported
//! with a dynamic `import()` as the app starts, so the sign-in button, the callback and the
//! claims never wait for it. The two exchange JSON text ([`crate::engine_wire`]). The
//! engine also checks the signatures the browser's WebCrypto cannot ([`EngineCrypto`]).

use crate::engine_wire::{
    ENGINE_MODULE, EngineError, EngineInput, EngineMatrix, SignatureInput, WhatIfInput,
};
use cedargate::ActionDecision;
use cedargate::crypto::{SignatureBackend, SignatureCheck, SignatureError, WebCrypto};
use std::collections::BTreeMap;
use std::future::Future;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
let engine = null;
export function engine_start(url) {
  if (engine === null) {
    engine = import(url).then(async (m) => { await m.default(); return m; });
    // A failed load is told by the first call that needs the engine.
    engine.catch(() => {});
  }
}
export async function engine_matrix(input) {
  const m = await engine;
  return await m.matrix(input);
}
export async function engine_what_if(input) {
  const m = await engine;
  return m.what_if(input);
}
export async function engine_verify(input) {
  const m = await engine;
  return await m.verify_signature(input);
}
export function engine_release(handle) {
  if (engine !== null) engine.then((m) => m.release(handle), () => {});
}
"#)]
extern "C" {
    fn engine_start(url: &str);
    #[wasm_bindgen(catch)]
    async fn engine_matrix(input: String) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn engine_what_if(input: String) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn engine_verify(input: String) -> Result<JsValue, JsValue>;
    fn engine_release(handle: u32);
}

/// Starts loading the engine (once).
pub fn start() {
    engine_start(ENGINE_MODULE);
}

/// The shell's signature checks: the browser's WebCrypto, and for a key it cannot import,
/// the engine's pure-Rust check ([`EngineCrypto`]), so the shell links no signature code of
/// its own.
pub type ShellCrypto = WebCrypto<EngineCrypto>;

/// The shell's [`ShellCrypto`].
pub fn shell_crypto() -> ShellCrypto {
    WebCrypto::with_fallback(EngineCrypto)
}

/// The fallback of the shell's WebCrypto: the check handed to the engine
/// ([`SignatureInput`]), waiting for it to load. Fails closed: anything but the engine's
/// `true` refuses the signature.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineCrypto;

impl SignatureBackend for EngineCrypto {
    fn name(&self) -> &'static str {
        "engine"
    }

    fn verify(
        &self,
        check: &SignatureCheck<'_>,
    ) -> impl Future<Output = Result<(), SignatureError>> {
        let input = signature_input(check);
        async move {
            let answer = engine_verify(input?).await.map_err(|e| {
                SignatureError::Unavailable(format!(
                    "the engine cannot check the signature: {}",
                    thrown(&e)
                ))
            })?;
            match answer.as_bool() {
                Some(true) => Ok(()),
                Some(false) => Err(SignatureError::Invalid),
                None => Err(SignatureError::Unavailable(
                    "the engine gave no answer".into(),
                )),
            }
        }
    }
}

fn signature_input(check: &SignatureCheck<'_>) -> Result<String, SignatureError> {
    let message = std::str::from_utf8(check.message)
        .map_err(|_| SignatureError::Unavailable("the signed text is not UTF-8".into()))?;
    serde_json::to_string(&SignatureInput {
        alg: check.algorithm,
        jwk: check.key.public_jwk().clone(),
        message: message.to_owned(),
        signature: check.signature.to_vec(),
    })
    .map_err(|e| SignatureError::Unavailable(e.to_string()))
}

/// Why the engine gave no answer: its own error, or the module did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Engine(EngineError),
    Load(String),
}

/// What a thrown value says.
fn thrown(value: &JsValue) -> String {
    value.as_string().unwrap_or_else(|| {
        js_sys::Reflect::get(value, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| format!("{value:?}"))
    })
}

/// The matrix computed by the engine (waiting for it to load).
pub async fn matrix(input: &EngineInput) -> Result<(EngineMatrix, Handle), Failure> {
    let text = serde_json::to_string(input).map_err(|e| Failure::Load(e.to_string()))?;
    let answer = engine_matrix(text).await.map_err(|e| {
        let text = thrown(&e);
        match serde_json::from_str::<EngineError>(&text) {
            Ok(error) => Failure::Engine(error),
            Err(_) => Failure::Load(text),
        }
    })?;
    let answer = answer.as_string().unwrap_or_default();
    let matrix: EngineMatrix =
        serde_json::from_str(&answer).map_err(|e| Failure::Load(e.to_string()))?;
    let handle = Handle(matrix.handle);
    Ok((matrix, handle))
}

/// A matrix held by the engine for its what-ifs; released when dropped.
#[derive(Debug)]
pub struct Handle(u32);

impl Handle {
    /// The matrix's rows for its token with `replace`'s claims replaced.
    pub async fn what_if(
        &self,
        replace: BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<ActionDecision>, String> {
        let input = serde_json::to_string(&WhatIfInput {
            handle: self.0,
            replace,
        })
        .map_err(|e| e.to_string())?;
        let answer = engine_what_if(input).await.map_err(|e| thrown(&e))?;
        serde_json::from_str(&answer.as_string().unwrap_or_default()).map_err(|e| e.to_string())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        engine_release(self.0);
    }
}
