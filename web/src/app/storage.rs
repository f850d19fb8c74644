//! The sign-in record in sessionStorage: written before the redirect, read once and deleted
//! on the way back.

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

/// Takes the record out: it can be used once.
pub fn take() -> Option<PendingLogin> {
    let storage = storage()?;
    let text = storage.get_item(KEY).ok()??;
    let _ = storage.remove_item(KEY);
    serde_json::from_str(&text).ok()
}
