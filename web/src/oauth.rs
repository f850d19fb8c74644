//! The authorization code flow with PKCE (RFC 7636) as a browser app runs it (OAuth 2.0 for
//! Browser-Based Apps): verifier, challenge, state and nonce, the authorization URL, the
//! round-trip record, and the callback's parameters. No I/O here.

use base64ct::{Base64UrlUnpadded, Encoding};
use cedargate::discovery::Discovery;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

pub use cedargate::StepUp;

/// Random bytes from the platform's CSPRNG.
fn random_bytes<const N: usize>() -> Result<[u8; N], OAuthError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| OAuthError::Random)?;
    Ok(bytes)
}

/// An unguessable value for `state` or `nonce`: 32 random bytes, base64url.
pub fn random_value() -> Result<String, OAuthError> {
    Ok(Base64UrlUnpadded::encode_string(&random_bytes::<32>()?))
}

/// A PKCE code verifier. Deliberately neither `Clone` nor `Debug`-revealing: it leaves the
/// app once, in the token request.
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// 32 random bytes, base64url: 43 characters from the unreserved set.
    pub fn random() -> Result<Self, OAuthError> {
        Ok(Self(Base64UrlUnpadded::encode_string(
            &random_bytes::<32>()?
        )))
    }

    /// A verifier read back after the redirect; RFC 7636 §4.1: 43 to 128 characters of
    /// `A-Z a-z 0-9 - . _ ~`.
    pub fn parse(value: String) -> Result<Self, OAuthError> {
        let ok = (43..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if ok {
            Ok(Self(value))
        } else {
            Err(OAuthError::BadVerifier)
        }
    }

    /// The S256 challenge: base64url(SHA-256(verifier)).
    pub fn challenge(&self) -> String {
        Base64UrlUnpadded::encode_string(&Sha256::digest(self.0.as_bytes()))
    }

    /// The verifier itself, for the token request (and the round-trip record).
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier(..)")
    }
}

/// What the app remembers across the redirect (in sessionStorage only, deleted on return).
#[derive(Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// When the sign-in started (ms since the epoch); stale records are refused.
    pub started_ms: f64,
    /// The `max_age` asked for (a step-up): the ID token must then say when the person
    /// signed in, and not longer ago than this.
    #[serde(default)]
    pub max_age: Option<u32>,
    /// A silent sign-in (`prompt=none`) that restores a session after a reload: an answer
    /// that the person must sign in means the session is over, not an error.
    #[serde(default)]
    pub silent: bool,
    /// The provider's discovery document as it was when the sign-in started: the callback
    /// exchanges the code with it instead of waiting for the document to be fetched again
    /// (one round trip fewer before the claims show). Checked again when read
    /// ([`PendingLogin::discovery_for`]).
    #[serde(default)]
    pub discovery: Option<Discovery>,
}

impl PendingLogin {
    /// The discovery document kept with the sign-in, when it is still one for `issuer`:
    /// checked again as a fetched one is (it names `issuer` exactly, every endpoint follows
    /// the URL rule). `None` for a record without one, or whose document fails the checks:
    /// the callback then waits for the fetched document.
    pub fn discovery_for(&self, issuer: &str) -> Option<Discovery> {
        self.discovery.clone()?.checked_for(issuer).ok()
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("started_ms", &self.started_ms)
            .finish_non_exhaustive()
    }
}

/// How long a sign-in may take before its record is no longer accepted: 10 minutes.
pub const PENDING_MAX_AGE_MS: f64 = 10.0 * 60.0 * 1000.0;

/// Why the flow failed on our side.
///
/// Nothing from a callback's query appears in these messages unless the callback's `state`
/// matched the sign-in record; then the provider's `error` and `error_description` may, as
/// plain text cut to [`MAX_ERROR_CHARS`] and [`MAX_DESCRIPTION_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The random number generator is unavailable.
    #[error("no secure random numbers are available")]
    Random,
    /// A stored verifier is not one we made.
    #[error("the stored code verifier is invalid")]
    BadVerifier,
    /// The provider sent an error to the callback (its `state` matched).
    #[error("the provider refused the sign-in: {error}{}", .description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        error: String,
        description: Option<String>,
    },
    /// The callback came without a sign-in of ours under way (or it was already used).
    #[error("no sign-in is under way in this tab; start again")]
    NoPendingLogin,
    /// The sign-in record is too old.
    #[error("the sign-in took too long; start again")]
    Expired,
    /// `state` is missing, repeated or does not match: the response is not for this sign-in.
    /// The sign-in under way, if any, is left as it was.
    #[error("the response does not belong to this sign-in (state mismatch)")]
    StateMismatch,
    /// RFC 9207: the response names another issuer.
    #[error("the response comes from another issuer")]
    IssuerMismatch,
    /// RFC 9207: the provider advertises `iss` in responses, and this one has none.
    #[error("the response does not name its issuer (iss), which this provider always does")]
    MissingIssuer,
    /// A parameter the callback is checked by appears more than once.
    #[error("the response repeats the {0} parameter")]
    Repeated(&'static str),
    /// No `code` in the callback.
    #[error("the provider returned no authorization code")]
    MissingCode,
    /// `max_age` was asked for and the ID token does not say when the person signed in.
    #[error("the ID token has no auth_time, though max_age was asked for")]
    NoAuthTime,
    /// The sign-in the ID token names is older than the `max_age` asked for.
    #[error("the provider did not sign you in again within {max_age} seconds")]
    StaleAuthentication { max_age: u32 },
    /// The token endpoint's answer is not of a bearer token (RFC 6749 §5.1 makes
    /// `token_type` required): this app can only present bearer tokens, and would send a
    /// sender-constrained one (DPoP) without its proof.
    #[error("the provider issued a token of another type than Bearer")]
    NotBearer,
}

/// Checks a token endpoint answer's `token_type` (RFC 6749 §5.1, §7.1): `Bearer`, in any
/// letter case (RFC 6750 §4).
pub fn check_token_type(token_type: Option<&str>) -> Result<(), OAuthError> {
    match token_type {
        Some(t) if t.eq_ignore_ascii_case("bearer") => Ok(()),
        _ => Err(OAuthError::NotBearer),
    }
}

/// At most this many characters of a provider's `error` are shown.
pub const MAX_ERROR_CHARS: usize = 64;
/// At most this many characters of a provider's `error_description` are shown.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    cedargate::percent::encode(value)
}

/// Decodes a query component (`+` is a space).
pub fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key=value&...` with every part encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The authorization request (RFC 6749 §4.1.1 with PKCE and OpenID Connect `nonce`); for a
/// step-up (RFC 9470 §5), the `acr_values` and `max_age` the edge's challenge named; for a
/// silent sign-in, `prompt=none`.
pub fn authorization_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    pending: &PendingLogin,
    challenge: &str,
    step_up: Option<&StepUp>,
) -> String {
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let acr_values = step_up.map(|s| s.acr_values.join(" ")).unwrap_or_default();
    let max_age = step_up
        .and_then(|s| s.max_age)
        .map(|m| m.to_string())
        .unwrap_or_default();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", &pending.state),
        ("nonce", &pending.nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if !acr_values.is_empty() {
        pairs.push(("acr_values", &acr_values));
    }
    if !max_age.is_empty() {
        pairs.push(("max_age", &max_age));
    }
    if pending.silent {
        pairs.push(("prompt", "none"));
    }
    format!("{endpoint}{separator}{}", form(&pairs))
}

/// How far a provider's clock may be ahead of the browser's when `auth_time` is checked.
pub const AUTH_TIME_LEEWAY_SECONDS: i64 = 60;

/// OpenID Connect Core §3.1.2.1 / §3.1.3.7: when `max_age` was asked for, the ID token must
/// carry `auth_time`, and the sign-in it names must be at most `max_age` seconds before `now`
/// (with [`AUTH_TIME_LEEWAY_SECONDS`] for the provider's clock).
pub fn check_auth_time(
    claims: &serde_json::Map<String, serde_json::Value>,
    max_age: Option<u32>,
    now: i64,
) -> Result<(), OAuthError> {
    let Some(max_age) = max_age else {
        return Ok(());
    };
    let auth_time = claims
        .get("auth_time")
        .and_then(serde_json::Value::as_i64)
        .ok_or(OAuthError::NoAuthTime)?;
    if now.saturating_sub(auth_time) > i64::from(max_age) + AUTH_TIME_LEEWAY_SECONDS
        || auth_time > now + AUTH_TIME_LEEWAY_SECONDS
    {
        return Err(OAuthError::StaleAuthentication { max_age });
    }
    Ok(())
}

/// What a successful callback carries.
#[derive(Clone, PartialEq, Eq)]
pub struct Callback {
    pub code: String,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback { code: .. }")
    }
}

/// What the callback's `iss` (RFC 9207) is checked against: the issuer, and whether its
/// discovery document promises `iss` in every authorization response
/// (`authorization_response_iss_parameter_supported`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseIssuer<'a> {
    pub issuer: &'a str,
    pub required: bool,
}

/// A callback whose `state` matched the sign-in record. Only a callback that got this far
/// may consume the record; everything else leaves a sign-in under way untouched.
pub struct MatchedCallback {
    params: Vec<(String, String)>,
    started_ms: f64,
}

impl fmt::Debug for MatchedCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchedCallback")
            .field("started_ms", &self.started_ms)
            .finish_non_exhaustive()
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The value of a parameter that must appear at most once.
fn single(params: &[(String, String)], name: &'static str) -> Result<Option<String>, OAuthError> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => Ok(Some(value.clone())),
        (Some(_), Some(_)) => Err(OAuthError::Repeated(name)),
    }
}

/// The first check of a callback: is it for the sign-in under way? `state` must appear once
/// and equal the record's (compared in constant time). Nothing else is read yet, so a forged
/// link (`/callback?error=...&error_description=...`) can neither end the sign-in nor put its
/// text on the page.
pub fn match_state(
    query: &str,
    pending: Option<&PendingLogin>,
) -> Result<MatchedCallback, OAuthError> {
    let pending = pending.ok_or(OAuthError::NoPendingLogin)?;
    let params = parse_query(query);
    let state = single(&params, "state")
        .map_err(|_| OAuthError::StateMismatch)?
        .ok_or(OAuthError::StateMismatch)?;
    if !constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
        return Err(OAuthError::StateMismatch);
    }
    Ok(MatchedCallback {
        params,
        started_ms: pending.started_ms,
    })
}

impl MatchedCallback {
    /// The rest, in order: `iss` (required when the provider advertises it, compared when
    /// present), the record's age, the provider's error, and `code`.
    pub fn check(self, issuer: ResponseIssuer<'_>, now_ms: f64) -> Result<Callback, OAuthError> {
        match single(&self.params, "iss")? {
            Some(iss) if iss != issuer.issuer => return Err(OAuthError::IssuerMismatch),
            Some(_) => {}
            None if issuer.required => return Err(OAuthError::MissingIssuer),
            None => {}
        }
        if now_ms - self.started_ms > PENDING_MAX_AGE_MS {
            return Err(OAuthError::Expired);
        }
        if let Some(error) = single(&self.params, "error")? {
            return Err(OAuthError::Provider {
                error: plain_text(&error, MAX_ERROR_CHARS),
                description: single(&self.params, "error_description")?
                    .map(|d| plain_text(&d, MAX_DESCRIPTION_CHARS)),
            });
        }
        let code = single(&self.params, "code")?
            .filter(|c| !c.is_empty())
            .ok_or(OAuthError::MissingCode)?;
        Ok(Callback { code })
    }
}

/// Checks the callback's query string against the sign-in record: [`match_state`], then
/// [`MatchedCallback::check`].
pub fn check_callback(
    query: &str,
    pending: Option<&PendingLogin>,
    issuer: ResponseIssuer<'_>,
    now_ms: f64,
) -> Result<Callback, OAuthError> {
    match_state(query, pending)?.check(issuer, now_ms)
}

/// Text from the provider as one line of the characters RFC 6749 allows in `error` and
/// `error_description` (printable ASCII but `"` and `\`; others become `?`), at most `max`
/// characters (then `…`).
fn plain_text(value: &str, max: usize) -> String {
    let mut out: String = value
        .chars()
        .take(max)
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect();
    if value.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token request body (RFC 6749 §4.1.3 with the PKCE verifier; public client).
pub fn token_request(
    callback: &Callback,
    redirect_uri: &str,
    client_id: &str,
    verifier: &CodeVerifier,
) -> String {
    form(&[
        ("grant_type", "authorization_code"),
        ("code", &callback.code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier.secret()),
    ])
}

/// Which token a revocation request names (RFC 7009 `token_type_hint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedToken {
    Access,
    Refresh,
}

/// The token revocation request body (RFC 7009 §2.1; public client).
pub fn revocation_request(token: &str, kind: RevokedToken, client_id: &str) -> String {
    let hint = match kind {
        RevokedToken::Access => "access_token",
        RevokedToken::Refresh => "refresh_token",
    };
    form(&[
        ("token", token),
        ("token_type_hint", hint),
        ("client_id", client_id),
    ])
}

/// The RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0).
pub fn logout_url(
    end_session_endpoint: &str,
    id_token: &str,
    post_logout_redirect_uri: &str,
    client_id: &str,
    state: &str,
) -> String {
    let separator = if end_session_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    let query = form(&[
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", post_logout_redirect_uri),
        ("client_id", client_id),
        ("state", state),
    ]);
    format!("{end_session_endpoint}{separator}{query}")
}
