//! The benchmark's Rust no-op worker: the edge's entry point (workers-rs 0.8,
//! `#[event(fetch)]`), answering `204 No Content` without reading the request, so the cost
//! of the workers-rs glue (request and response conversion, the async wrapper) is a number.
//! Built by `cargo xtask bench` with worker-build and the release profile, like the edge.

#[cfg(target_arch = "wasm32")]
use worker::{Context, Env, Request, Response, Result, event};

#[cfg(target_arch = "wasm32")]
#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Ok(Response::empty()?.with_status(204))
}
