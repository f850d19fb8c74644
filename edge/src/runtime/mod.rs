//! The Worker: entry point and per-isolate state.

mod app;
mod assertion;
mod bundle_refresh;
mod fetch;
mod introspection;
mod keys;
mod log;
mod proxy;
mod state;

use worker::{Context, Env, Result, event};

/// The platform's clock, in milliseconds since the epoch (the shared core reads none).
fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The platform's `Request` and `Response` as they are: workers-rs's own types would wrap
/// the request and rebuild the response (one more `Response` and its headers per request).
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    Ok(app::handle(req, env, ctx).await)
}
