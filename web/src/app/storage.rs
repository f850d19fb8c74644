//! The sign-in record in sessionStorage: written before the redirect, deleted on the way back
//! once the callback's `state` has matched it.

use crate::oauth::PendingLogin;

const KEY: &str = "cedargate.pending-login";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// Saves the record for the round trip.
pub fn save(pending: &PendingLogin) -> Result<(), String> {
    let text = serde_json::to_string(pending).map_err(|e| e.to_string())?;
    storage()
        .ok_or("sessionStorage is not available")?
        .set_item(KEY, &text)
        .map_err(|_| "sessionStorage refused the sign-in record".to_owned())
}

/// Reads the record, leaving it in place: a callback must first show that it belongs to this
/// sign-in (its `state`) before the record is used up with [`remove`].
pub fn load() -> Option<PendingLogin> {
    let text = storage()?.get_item(KEY).ok()??;
    serde_json::from_str(&text).ok()
}

/// Deletes the record: it can be used once.
pub fn remove() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(KEY);
    }
}
