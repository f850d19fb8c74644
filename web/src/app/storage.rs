//! What the app keeps in storage: the sign-in record in sessionStorage (written before the
//! redirect, deleted on the way back once the callback's `state` has matched it), and in
//! localStorage only the fact that someone is signed in. Tokens are never stored.

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

/// The one thing about a session kept in storage: that there is one (no token, no claim).
/// A tab that starts with it set, and finds no other tab holding the session, restores it
/// with a silent sign-in.
const SIGNED_IN_KEY: &str = "cedargate.signed-in";

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Notes that the person is signed in (or no longer is).
pub fn set_signed_in(signed_in: bool) {
    if let Some(storage) = local() {
        let _ = if signed_in {
            storage.set_item(SIGNED_IN_KEY, "1")
        } else {
            storage.remove_item(SIGNED_IN_KEY)
        };
    }
}

/// Whether a session was left signed in.
pub fn was_signed_in() -> bool {
    local()
        .and_then(|s| s.get_item(SIGNED_IN_KEY).ok().flatten())
        .is_some()
}
