//! The Worker: entry point and per-isolate state.

mod app;
mod bundle_refresh;
mod keys;
mod log;
mod proxy;
mod state;

use worker::{Context, Env, Request, Response, Result, event};

/// The platform's clock, in milliseconds since the epoch (the shared core reads none).
fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    Ok(app::handle(req, env, ctx).await)
}
