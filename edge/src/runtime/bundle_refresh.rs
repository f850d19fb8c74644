//! Policy bundles from KV. Opened by the shared core (signature first when a key is
//! configured, then the deployment they are for) and put in force only with a higher serial ([`takes_serial`]).
//!
//! While no bundle that may decide is in force (KV is required, the default with
//! `bundle_kv`), a request reads KV itself and waits for it: it is decided by the document
//! it finds or answered 503 `bundle-unavailable`, never by the built-in bundle. Once one is
//! in force, newer ones are looked for when due ([`BundleWatch`]), after the response is
//! sent.
//!
//! [`BundleWatch`]: crate::bundle_policy::BundleWatch

use super::log::event;
use super::now_ms;
use super::state::State;
use crate::bundle_policy::{takes_first_serial, takes_serial};
use crate::config::BundleKvConfig;
use crate::problem::AppError;
use cedargate::{Gate, open_bundle_document_for};
use serde_json::json;
use std::rc::Rc;
use worker::{Context, Env, kv::KvStore};

/// The gate this request is decided with. Without `bundle_kv`, the built-in one. With it:
/// the one in force when it may decide (a newer one is looked for after the response when
/// due); otherwise KV is read now, and without a document the worker takes the answer is
/// 503 (no more than one read per `refresh_seconds` after one that failed).
pub async fn gate_for_request(
    state: &Rc<State>,
    env: &Env,
    ctx: &Context,
) -> Result<Rc<Gate>, AppError> {
    let Some(kv_config) = state.config().bundle_kv.as_ref() else {
        return Ok(state.gate());
    };
    let now = (now_ms() / 1000.0) as i64;
    if state.may_decide() {
        if state.bundle_check_due(now, kv_config.refresh_seconds) {
            let kv = store(env, kv_config);
            let state = state.clone();
            ctx.wait_until(async move {
                if let Some(kv) = kv {
                    look(&state, &kv).await;
                }
            });
        }
        return Ok(state.gate());
    }
    let unavailable = AppError::BundleUnavailable {
        retry_after: kv_config.refresh_seconds.max(1),
    };
    if !state.bundle_read_allowed(now, kv_config.refresh_seconds) {
        return Err(unavailable);
    }
    // The next look in the background is due an interval after this one.
    state.bundle_check_due(now, kv_config.refresh_seconds);
    if let Some(kv) = store(env, kv_config) {
        look(state, &kv).await;
    }
    if state.may_decide() {
        Ok(state.gate())
    } else {
        state.bundle_read_failed((now_ms() / 1000.0) as i64);
        Err(unavailable)
    }
}

/// The configured KV namespace, or `None` (logged) when it is not bound.
fn store(env: &Env, kv_config: &BundleKvConfig) -> Option<KvStore> {
    let kv = env.kv(&kv_config.binding).ok();
    if kv.is_none() {
        event("bundle_kv_missing", json!({ "binding": kv_config.binding }));
    }
    kv
}

/// Reads the KV entry and puts its document in force when it is new, opens (signature
/// first), has a serial the worker takes and loads into a gate; logs why not otherwise.
async fn look(state: &Rc<State>, kv: &KvStore) {
    let Some(kv_config) = state.config().bundle_kv.as_ref() else {
        return;
    };
    let text = match kv.get(&kv_config.key).text().await {
        Ok(Some(text)) => text,
        Ok(None) => {
            event("bundle_kv_empty", json!({ "key": kv_config.key }));
            return;
        }
        Err(err) => {
            event("bundle_kv_unreadable", json!({ "error": err.to_string() }));
            return;
        }
    };
    if !state.bundle_text_is_new(&text) {
        return;
    }
    let in_force = state.serial();
    // What stays in force: the bundle before, or none while none may decide.
    let kept = || {
        state
            .may_decide()
            .then(|| state.gate().bundle().version().to_string())
    };
    let document = match open_bundle_document_for(
        &text,
        kv_config.public_key.as_ref(),
        kv_config.audience.as_deref(),
    ) {
        Ok(document) => document,
        Err(err) => {
            event(
                "bundle_rejected",
                json!({ "error": err.to_string(), "kept": kept() }),
            );
            return;
        }
    };
    // While none may decide, the built-in bundle's serial is a floor (the same serial is
    // taken); after that, only a newer one is.
    let taken = if state.may_decide() {
        takes_serial(document.serial, in_force, kv_config.min_serial)
    } else {
        takes_first_serial(document.serial, in_force, kv_config.min_serial)
    };
    if !taken {
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
}
