//! The engine: a second wasm module (`web/engine`, everything that needs Cedar), imported
//! with a dynamic `import()` as the app starts, so the sign-in button, the callback and the
//! claims never wait for it. The two exchange JSON text ([`crate::engine_wire`]).

use crate::engine_wire::{ENGINE_MODULE, EngineError, EngineInput, EngineMatrix, WhatIfInput};
use cedargate::ActionDecision;
use std::collections::BTreeMap;
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
    fn engine_release(handle: u32);
}

/// Starts loading the engine (once).
pub fn start() {
    engine_start(ENGINE_MODULE);
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
