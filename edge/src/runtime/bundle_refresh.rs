//! Newer policy bundles from KV: looked for when due ([`BundleWatch`]), after the response
//! is sent; opened by the shared core (signature first when a key is configured) and put in
//! force only with a higher serial ([`takes_serial`]).
//!
//! [`BundleWatch`]: crate::bundle_policy::BundleWatch

use super::log::event;
use super::now_ms;
use super::state::State;
use crate::bundle_policy::takes_serial;
use cedargate::open_bundle_document;
use serde_json::json;
use std::rc::Rc;
use worker::{Context, Env};

/// Looks for a newer bundle in KV when due; the look runs after the response is sent.
pub fn refresh_when_due(state: &Rc<State>, env: &Env, ctx: &Context) {
    let Some(kv_config) = state.config().bundle_kv.clone() else {
        return;
    };
    let now = (now_ms() / 1000.0) as i64;
    if !state.bundle_check_due(now, kv_config.refresh_seconds) {
        return;
    }
    let Ok(kv) = env.kv(&kv_config.binding) else {
        event("bundle_kv_missing", json!({ "binding": kv_config.binding }));
        return;
    };
    let state = state.clone();
    ctx.wait_until(async move {
        let text = match kv.get(&kv_config.key).text().await {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(err) => {
                event("bundle_kv_unreadable", json!({ "error": err.to_string() }));
                return;
            }
        };
        if !state.bundle_text_is_new(&text) {
            return;
        }
        let in_force = state.serial();
        let kept = || state.gate().bundle().version().to_string();
        let document = match open_bundle_document(&text, kv_config.public_key.as_ref()) {
            Ok(document) => document,
            Err(err) => {
                event(
                    "bundle_rejected",
                    json!({ "error": err.to_string(), "kept": kept() }),
                );
                return;
            }
        };
        if !takes_serial(document.serial, in_force, kv_config.min_serial) {
            event(
                "bundle_rollback_refused",
                json!({
                    "serial": document.serial,
                    "in_force": in_force,
                    "min_serial": kv_config.min_serial,
                    "kept": kept(),
                }),
            );
            return;
        }
        let loaded = document
            .load()
            .map_err(|e| e.to_string())
            .and_then(|bundle| state.prepare(bundle));
        match loaded {
            Ok((gate, authzen)) => {
                let version = gate.bundle().version().to_string();
                state.replace_gate(gate, authzen, document.serial);
                event(
                    "bundle_updated",
                    json!({ "version": version, "serial": document.serial }),
                );
            }
            Err(error) => event("bundle_rejected", json!({ "error": error, "kept": kept() })),
        }
    });
}
