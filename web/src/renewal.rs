//! Sessions that last, with tokens only in memory: when to renew, the refresh request
//! (RFC 6749 §6, public client), the checks a refreshed ID token must pass (OpenID Connect
//! Core §12.2), which silent sign-in answers mean "no session at the provider" (§3.1.2.6),
//! and the messages tabs exchange to share one session. No I/O here.

use crate::oauth::form;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Tokens are renewed this long before they expire at most...
pub const MAX_MARGIN_SECONDS: i64 = 120;
/// ...and at least a quarter of their lifetime before.
pub const LIFETIME_DIVISOR: i64 = 4;

/// When a token issued at `iat` and expiring at `exp` is renewed: `exp` less the smaller of
/// [`MAX_MARGIN_SECONDS`] and a quarter of its lifetime (a short-lived token is not renewed
/// the moment it arrives; a long-lived one leaves room for a timer in a background tab that
/// the browser slows down).
pub fn renewal_time(iat: i64, exp: i64) -> i64 {
    let lifetime = exp.saturating_sub(iat).max(0);
    exp.saturating_sub((lifetime / LIFETIME_DIVISOR).min(MAX_MARGIN_SECONDS))
}

/// How long after it was received a token that lives `lifetime` seconds is renewed: the
/// rule of [`renewal_time`] as a duration.
pub fn renewal_delay(lifetime: i64) -> i64 {
    let lifetime = lifetime.max(0);
    lifetime - (lifetime / LIFETIME_DIVISOR).min(MAX_MARGIN_SECONDS)
}

/// A token of a session as renewal sees it.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    pub claims: &'a Map<String, Value>,
    /// When this browser received it (its own clock, seconds since the epoch).
    pub received_at: i64,
    /// The token response's `expires_in` (RFC 6749 §5.1), for the access token.
    pub expires_in: Option<i64>,
}

/// When a session holding these tokens is renewed, by the browser's clock: for each token,
/// the time it was received plus [`renewal_delay`] of its lifetime, which is the token
/// response's `expires_in` or else `exp - iat`. Both are durations the provider states, so
/// a browser clock that is off (by a token's lifetime, say) moves no renewal against the
/// token's real expiry. A token with `exp` but neither is renewed [`MAX_MARGIN_SECONDS`]
/// before `exp` as the browser's clock reads it. The earliest; `None` when none expires.
pub fn session_renewal_time<'a>(tokens: impl IntoIterator<Item = Held<'a>>) -> Option<i64> {
    tokens
        .into_iter()
        .filter_map(|held| {
            let exp = held.claims.get("exp").and_then(Value::as_i64);
            let iat = held.claims.get("iat").and_then(Value::as_i64);
            let lifetime = held.expires_in.or_else(|| Some(exp?.saturating_sub(iat?)));
            match (lifetime, exp) {
                (Some(lifetime), _) => {
                    Some(held.received_at.saturating_add(renewal_delay(lifetime)))
                }
                (None, Some(exp)) => Some(exp.saturating_sub(MAX_MARGIN_SECONDS)),
                (None, None) => None,
            }
        })
        .min()
}

/// The refresh request body (RFC 6749 §6 for a public client, which names itself).
pub fn refresh_request(refresh_token: &str, client_id: &str) -> String {
    form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ])
}

/// Why a refreshed ID token is not accepted in place of the session's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// `iss`, `sub`, `aud` or `azp` differ from the session's ID token (an `azp` present in
    /// one and not the other differs too).
    #[error("the renewed ID token names another {0} than the session's")]
    Changed(&'static str),
    /// `auth_time` must still name the original sign-in.
    #[error("the renewed ID token names another sign-in time (auth_time)")]
    AuthTime,
    /// A `nonce`, if present, must be the original sign-in's.
    #[error("the renewed ID token carries another nonce")]
    Nonce,
}

/// OpenID Connect Core §12.2: a refreshed ID token has the original `iss`, `sub`, `aud`
/// and `azp` (none when the original had none), and, when present, the original
/// `auth_time` and `nonce`.
pub fn check_refreshed_id_token(
    original: &Map<String, Value>,
    refreshed: &Map<String, Value>,
) -> Result<(), RefreshError> {
    for claim in ["iss", "sub", "aud", "azp"] {
        if original.get(claim) != refreshed.get(claim) {
            return Err(RefreshError::Changed(claim));
        }
    }
    if let Some(time) = refreshed.get("auth_time")
        && original.get("auth_time") != Some(time)
    {
        return Err(RefreshError::AuthTime);
    }
    if let Some(nonce) = refreshed.get("nonce")
        && original.get("nonce") != Some(nonce)
    {
        return Err(RefreshError::Nonce);
    }
    Ok(())
}

/// The errors a `prompt=none` sign-in gets when the provider cannot sign the person in
/// without showing a page (OpenID Connect Core §3.1.2.6): the session is then simply over.
pub fn is_no_session(error: &str) -> bool {
    matches!(
        error,
        "login_required"
            | "interaction_required"
            | "consent_required"
            | "account_selection_required"
    )
}

/// The session's tokens as one tab hands them to another (a same-origin BroadcastChannel,
/// memory to memory; never storage). `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedTokens {
    pub id_token: String,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The nonce of the sign-in the tokens come from, which renewed ID tokens are held to.
    pub nonce: String,
    /// When the tab that shares them received the ID token and the access token (the same
    /// browser's clock), and the access token's `expires_in`: so that a tab taking the
    /// session over renews it when the first would have. Absent from a tab that does not
    /// send them; the tokens are then taken as received on arrival.
    #[serde(default)]
    pub id_token_received_at: Option<i64>,
    #[serde(default)]
    pub access_token_received_at: Option<i64>,
    #[serde(default)]
    pub access_expires_in: Option<i64>,
    /// Where the session stands ([`crate::tabs::Generation`]): a tab takes it only when it
    /// is newer than the one it holds. Absent from a tab that does not send it: then the
    /// oldest there is, which a tab holding a session never takes.
    #[serde(default)]
    pub generation: crate::tabs::Generation,
}

impl fmt::Debug for SharedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokens")
            .field("access_token", &self.access_token.is_some())
            .field("refresh_token", &self.refresh_token.is_some())
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// What tabs of the app say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TabMessage {
    /// A tab that starts without a session asks whether another has one.
    Hello,
    /// The current session: after a sign-in, after a renewal, or in answer to `Hello`.
    Session(SharedTokens),
    /// The person signed out in some tab: every tab forgets the session.
    SignedOut,
}

impl TabMessage {
    /// Reads a message; anything else on the channel is ignored (`None`).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
