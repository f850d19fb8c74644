//! The benchmark's synchronous Rust no-op worker: the core a hand-written JS entry
//! (`index.mjs`) calls once per request, with no workers-rs and no futures. The entry passes
//! the request's method, URL and `Authorization` header in as strings; the core answers with
//! what to do, here always "answer 204", and the entry builds the `Response` in JavaScript.
//! A real core would answer either a response or "verify this signature, then call me
//! again"; the no-op measures what the crossing itself costs, against the workers-rs no-op
//! (`tests/bench/rust-noop`), which answers 204 through `#[event(fetch)]`'s async glue.
//! Built by `cargo xtask bench` with wasm-bindgen (`--target web`) and wasm-opt, not
//! worker-build.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::wasm_bindgen;

/// What to answer: the response's status (204 No Content for any request). The request's
/// fields are read (copied into wasm memory) as a core would read them.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn handle(method: &str, url: &str, authorization: &str) -> u16 {
    if method.is_empty() && url.is_empty() && authorization.is_empty() {
        400
    } else {
        204
    }
}
