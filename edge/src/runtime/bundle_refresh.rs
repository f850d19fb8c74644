//! Policy bundles from KV. Opened by the shared core (signature first when a key is
//! configured, then the deployment they are for) and put in force only with a higher serial ([`takes_serial`]).
//!
//! While no bundle that may decide is in force (KV is required, the default with
//! `bundle_kv`), a request reads KV itself and waits for it: it is decided by the document
//! it finds or answered 503 `bundle-unavailable`, never by the built-in bundle. Once one is
//! in force, newer ones are looked for when due ([`BundleWatch`]), after the response is
//! sent.
//!
//! With `bundle_kv.staged_key`, the staged entry is read beside the live one, on the same
//! schedule and always after the response ([`look_staged`]): a candidate the shadow
//! decisions compare with the live bundle, never one that answers.
//!
//! [`BundleWatch`]: crate::bundle_policy::BundleWatch

use super::log::event;
use super::now_ms;
use super::state::{Live, Staged, State};
use crate::bundle_policy::{takes_first_serial, takes_serial, takes_staged_serial};
use crate::config::BundleKvConfig;
use crate::problem::AppError;
use cedargate::{BundleSlot, open_bundle_document_for, open_bundle_document_for_slot};
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
    now: i64,
) -> Result<Rc<Live>, AppError> {
    let Some(kv_config) = state.config().bundle_kv.as_ref() else {
        return Ok(state.gate());
    };
    if state.may_decide() {
        if state.bundle_check_due(now, kv_config.refresh) {
            let kv = store(env, kv_config);
            let state = state.clone();
            ctx.wait_until(async move {
                if let Some(kv) = kv {
                    look(&state, &kv).await;
                    look_staged(&state, &kv).await;
                }
            });
        }
        return Ok(state.gate());
    }
    let unavailable = AppError::BundleUnavailable {
        retry_after: kv_config.refresh.as_secs().max(1),
    };
    if !state.bundle_read_allowed(now, kv_config.refresh) {
        return Err(unavailable);
    }
    // The next look in the background is due an interval after this one.
    state.bundle_check_due(now, kv_config.refresh);
    if let Some(kv) = store(env, kv_config) {
        look(state, &kv).await;
        // The staged candidate after the response: it never holds a request up.
        if kv_config.staged_key.is_some() {
            let state = state.clone();
            ctx.wait_until(async move {
                look_staged(&state, &kv).await;
            });
        }
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
    // The compiled form only (a text document is refused): the worker links no Cedar text
    // parser. The form is validated as it loads.
    let loaded = document
        .load_compiled()
        .map_err(|e| e.to_string())
        .and_then(|bundle| state.prepare(bundle).map_err(|e| e.to_string()));
    match loaded {
        Ok((gate, authzen)) => {
            let version = gate.bundle().version().to_string();
            let retired = state.replace_gate(gate, authzen, document.serial);
            event(
                "bundle_updated",
                json!({ "version": version, "serial": document.serial }),
            );
            if let Some(staged) = retired {
                event(
                    "staged_bundle_retired",
                    json!({ "serial": staged, "live_serial": document.serial }),
                );
            }
        }
        Err(error) => event("bundle_rejected", json!({ "error": error, "kept": kept() })),
    }
}

/// Reads the staged entry (`bundle_kv.staged_key`) and puts its document in force as the
/// staged candidate when it is new, opens for the staged slot (signature, audience, slot),
/// has a serial above the candidate before it and the live bundle, and loads into a gate
/// the configuration accepts. A refused document is logged (`staged_bundle_refused`, the
/// reason, never the document) and the candidate before it stays; an empty entry withdraws
/// the candidate. Nothing here touches the live bundle.
async fn look_staged(state: &Rc<State>, kv: &KvStore) {
    let Some(kv_config) = state.config().bundle_kv.as_ref() else {
        return;
    };
    let Some(key) = kv_config.staged_key.as_deref() else {
        return;
    };
    let text = match kv.get(key).text().await {
        Ok(Some(text)) => text,
        Ok(None) => {
            state.staged_text_is_new(None);
            if let Some(staged) = state.staged() {
                state.replace_staged(None);
                event(
                    "staged_bundle_withdrawn",
                    json!({ "key": key, "serial": staged.serial }),
                );
            }
            return;
        }
        Err(err) => {
            event(
                "staged_bundle_unreadable",
                json!({ "error": err.to_string() }),
            );
            return;
        }
    };
    if !state.staged_text_is_new(Some(&text)) {
        return;
    }
    let before = state.staged();
    let refused = |error: String| {
        event(
            "staged_bundle_refused",
            json!({
                "error": error,
                "kept": before.as_ref().map(|s| s.serial),
            }),
        );
    };
    let document = match open_bundle_document_for_slot(
        &text,
        kv_config.public_key.as_ref(),
        kv_config.audience.as_deref(),
        BundleSlot::Staged,
    ) {
        Ok(document) => document,
        Err(err) => return refused(err.to_string()),
    };
    let live = state.serial();
    if !takes_staged_serial(
        document.serial,
        before.as_ref().map(|s| s.serial),
        live,
        kv_config.min_serial,
    ) {
        let serial = document.serial;
        return refused(match before.as_ref().map(|s| s.serial) {
            Some(staged) if serial <= staged => {
                format!("serial {serial} is not above the staged candidate's {staged}")
            }
            _ if serial <= live => format!("serial {serial} is not above the live bundle's {live}"),
            _ => format!(
                "serial {serial} is below min_serial {}",
                kv_config.min_serial
            ),
        });
    }
    let loaded = document
        .load_compiled()
        .map_err(|e| e.to_string())
        .and_then(|bundle| state.prepare_staged(bundle));
    match loaded {
        Ok(gate) => {
            let version = gate.bundle().version().to_string();
            state.replace_staged(Some(Staged {
                gate,
                serial: document.serial,
            }));
            event(
                "staged_bundle_updated",
                json!({ "version": version, "serial": document.serial }),
            );
        }
        Err(error) => refused(error),
    }
}
