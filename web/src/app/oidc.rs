//! The network half of sign-in: discovery, the redirect, the code exchange, key retrieval and
//! ID token verification with the shared core (WebCrypto), nonce included.

use crate::app::engine::{ShellCrypto, shell_crypto};
use crate::app::storage;
use crate::config::AppConfig;
use crate::oauth::{self, CodeVerifier, OAuthError, PendingLogin, StepUp};
use crate::renewal::{self, SharedTokens};
use crate::session::{Discovery, DiscoveryExt as _, Secret, Session, Token, decode_parts};
use crate::tabs::Generation;
use cedargate::{KeySet, TokenKind, UnixTime, Verifier};
use gloo_net::http::Request;
use serde::Deserialize;
use std::sync::Arc;

/// A step of sign-in that failed, described for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("{0}")]
    OAuth(#[from] OAuthError),
    #[error("{step}: {message}")]
    Network { step: &'static str, message: String },
    #[error("{step}: the provider answered {status}: {body}")]
    Status {
        step: &'static str,
        status: u16,
        body: String,
    },
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("the discovery document names issuer {found}, not {expected}")]
    DiscoveryIssuer { expected: String, found: String },
    #[error("{0}")]
    Config(String),
    /// A silent sign-in found no session at the provider: the person is signed out.
    #[error("the provider has no session for you any more; sign in again")]
    NoSession,
}

fn network(step: &'static str) -> impl Fn(gloo_net::Error) -> SignInError {
    move |e| SignInError::Network {
        step,
        message: e.to_string(),
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub fn now() -> UnixTime {
    UnixTime((now_ms() / 1000.0) as i64)
}

/// `{issuer}/.well-known/openid-configuration`, whose `issuer` must be the configured one and
/// whose endpoints must follow the URL rule.
pub async fn discover(issuer: &str) -> Result<Discovery, SignInError> {
    let url = cedargate::discovery::discovery_url(issuer);
    let response = Request::get(&url)
        .send()
        .await
        .map_err(network("discovery"))?;
    if !response.ok() {
        return Err(SignInError::Status {
            step: "discovery",
            status: response.status(),
            body: String::new(),
        });
    }
    let text = response.text().await.map_err(network("discovery"))?;
    Discovery::from_json(&text, issuer).map_err(|e| match e {
        cedargate::discovery::DiscoveryError::Issuer { expected, found } => {
            SignInError::DiscoveryIssuer { expected, found }
        }
        other => SignInError::Config(other.to_string()),
    })
}

/// Starts sign-in: records the round trip and returns the authorization URL to go to. A
/// step-up (the edge's RFC 9470 challenge) asks the provider for its `acr_values` and
/// `max_age`.
pub fn begin(
    config: &AppConfig,
    discovery: &Discovery,
    step_up: Option<&StepUp>,
    silent: bool,
) -> Result<String, SignInError> {
    let verifier = CodeVerifier::random()?;
    let pending = PendingLogin {
        state: oauth::random_value()?,
        nonce: oauth::random_value()?,
        verifier: verifier.secret().to_owned(),
        started_ms: now_ms(),
        max_age: step_up.and_then(|s| s.max_age),
        silent,
        discovery: Some(discovery.clone()),
    };
    storage::save(&pending).map_err(SignInError::Config)?;
    Ok(oauth::authorization_url(
        &discovery.authorization_endpoint,
        &config.client_id,
        &config.redirect_uri,
        &config.scope(),
        &pending,
        &verifier.challenge(),
        step_up,
    ))
}

/// The discovery document kept with this tab's sign-in under way, checked again for
/// `issuer` ([`PendingLogin::discovery_for`]); `None` when there is none or it fails.
pub fn remembered_discovery(issuer: &str) -> Option<Discovery> {
    storage::load()?.discovery_for(issuer)
}

/// Starts sign-in ([`begin`]) and sends the browser to the provider.
pub fn go_to_sign_in(
    config: &AppConfig,
    discovery: &Discovery,
    step_up: Option<&StepUp>,
) -> Result<(), SignInError> {
    go_to(begin(config, discovery, step_up, false)?)
}

/// Restores a session after a reload: a `prompt=none` sign-in, which comes back signed in
/// while the provider's session lasts, and otherwise signed out without showing a page.
pub fn go_to_silent_sign_in(config: &AppConfig, discovery: &Discovery) -> Result<(), SignInError> {
    go_to(begin(config, discovery, None, true)?)
}

fn go_to(url: String) -> Result<(), SignInError> {
    leptos::prelude::window()
        .location()
        .assign(&url)
        .map_err(|_| SignInError::Config("the browser refused to open the sign-in page".into()))
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    /// The access token's lifetime in seconds (RFC 6749 §5.1); read leniently, since some
    /// providers send it as a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenResponse {
    /// `expires_in` as whole seconds, when it is a non-negative number or such a string.
    fn expires_in(&self) -> Option<i64> {
        match self.expires_in.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|seconds| *seconds >= 0)
    }
}

/// Fetches the issuer's keys.
pub async fn keys(discovery: &Discovery) -> Result<(KeySet, Arc<str>), SignInError> {
    let response = Request::get(&discovery.jwks_uri)
        .send()
        .await
        .map_err(network("keys"))?;
    if !response.ok() {
        return Err(SignInError::Status {
            step: "keys",
            status: response.status(),
            body: String::new(),
        });
    }
    let text = response.text().await.map_err(network("keys"))?;
    let keys = KeySet::from_json(&text).map_err(|e| SignInError::IdToken(e.to_string()))?;
    Ok((keys, text.into()))
}

/// Posts a grant to the token endpoint; an OAuth error answer is told by its `error` and
/// `error_description`.
async fn token_call(
    discovery: &Discovery,
    body: String,
    step: &'static str,
) -> Result<TokenResponse, SignInError> {
    let token_endpoint = discovery
        .token_endpoint
        .as_deref()
        .ok_or_else(|| SignInError::Config("the provider publishes no token_endpoint".into()))?;
    let response = Request::post(token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .map_err(network(step))?
        .send()
        .await
        .map_err(network(step))?;
    if !response.ok() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        // OAuth error responses are JSON with `error` and `error_description`.
        let described = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .map(|v| {
                format!(
                    "{} {}",
                    v["error"].as_str().unwrap_or_default(),
                    v["error_description"].as_str().unwrap_or_default()
                )
            })
            .unwrap_or_default();
        return Err(SignInError::Status {
            step,
            status,
            body: described.trim().to_owned(),
        });
    }
    let tokens: TokenResponse = response.json().await.map_err(network(step))?;
    oauth::check_token_type(tokens.token_type.as_deref())?;
    Ok(tokens)
}

/// What verifies a session's tokens: the trust configuration, the issuer's current keys and
/// WebCrypto.
struct Tokens {
    verifier: Verifier,
    keys: KeySet,
    /// The key set's text, for the engine.
    jwks: Arc<str>,
    backend: ShellCrypto,
}

impl Tokens {
    async fn new(config: &AppConfig, discovery: &Discovery) -> Result<Self, SignInError> {
        let (keys, jwks) = keys(discovery).await?;
        let trust = config
            .trust_config()
            .map_err(|e| SignInError::Config(e.to_string()))?;
        let verifier = Verifier::new(&trust).map_err(|e| SignInError::Config(e.to_string()))?;
        Ok(Self {
            verifier,
            keys,
            jwks,
            backend: shell_crypto(),
        })
    }

    /// An ID token, verified (signature, `iss`, `aud`, `exp`), or why not.
    async fn id_token(&self, raw: String) -> Result<Token, SignInError> {
        let token = verify(&self.verifier, &self.keys, &self.backend, raw).await;
        let verified = token
            .verified
            .as_ref()
            .map_err(|e| SignInError::IdToken(e.clone()))?;
        if verified.kind() != TokenKind::Id {
            return Err(SignInError::IdToken("not an ID token".into()));
        }
        Ok(token)
    }

    /// An access token, verified when an API audience is configured (and kept with the
    /// reason otherwise).
    async fn access_token(&self, config: &AppConfig, raw: String) -> Token {
        if config.api_audience.is_some() {
            return verify(&self.verifier, &self.keys, &self.backend, raw).await;
        }
        let (header, claims) = decode_parts(&raw);
        Token {
            raw: Secret::new(raw),
            header,
            claims,
            verified: Err("not verified: no api_audience is configured".into()),
            received_at: now().0,
            expires_in: None,
        }
    }

    /// A session from an ID token whose `nonce` must be `nonce` (or, with `renewed`, may be
    /// absent: a renewed ID token need not repeat it), and the other tokens.
    #[allow(clippy::too_many_arguments)]
    async fn session(
        self,
        config: &AppConfig,
        discovery: &Discovery,
        id_token: String,
        access_token: Option<String>,
        access_expires_in: Option<i64>,
        refresh_token: Option<String>,
        nonce: String,
        renewed: bool,
        generation: Generation,
    ) -> Result<Session, SignInError> {
        let id_token = self.id_token(id_token).await?;
        let given = id_token.claims.get("nonce").and_then(|n| n.as_str());
        if given != Some(nonce.as_str()) && !(renewed && given.is_none()) {
            return Err(SignInError::IdToken(
                "nonce does not match this sign-in".into(),
            ));
        }
        let access_token = match access_token {
            Some(raw) => Some(Token {
                expires_in: access_expires_in,
                ..self.access_token(config, raw).await
            }),
            None => None,
        };
        Ok(Session {
            discovery: discovery.clone(),
            keys: self.keys,
            jwks: self.jwks,
            id_token,
            access_token,
            refresh_token: refresh_token.map(Secret::new),
            nonce,
            generation,
        })
    }
}

/// Finishes sign-in on the callback page: checks the callback's `state` against the record
/// (which is deleted only when it matched), then the rest of the callback, exchanges the
/// code, verifies the ID token (signature, `iss`, `aud`, `exp`, `nonce`, and `auth_time`
/// when `max_age` was asked for) and, when configured, the access token. A silent sign-in
/// the provider answers with "the person must sign in" ends as [`SignInError::NoSession`].
pub async fn complete(
    config: &AppConfig,
    discovery: &Discovery,
    query: &str,
) -> Result<Session, SignInError> {
    let pending = storage::load().ok_or(OAuthError::NoPendingLogin)?;
    // A callback that is not for this sign-in leaves the record alone: a forged link cannot
    // cancel the sign-in under way.
    let matched = oauth::match_state(query, Some(&pending))?;
    storage::remove();
    let callback = match matched.check(discovery.response_issuer(), now_ms()) {
        Err(OAuthError::Provider { error, .. })
            if pending.silent && renewal::is_no_session(&error) =>
        {
            return Err(SignInError::NoSession);
        }
        other => other?,
    };
    let verifier = CodeVerifier::parse(pending.verifier)?;
    let body = oauth::token_request(
        &callback,
        &config.redirect_uri,
        &config.client_id,
        &verifier,
    );
    // The issuer's keys are fetched while the code is exchanged: one round trip fewer
    // before the claims show.
    let (tokens, verifying) = futures::future::join(
        token_call(discovery, body, "token request"),
        Tokens::new(config, discovery),
    )
    .await;
    let tokens = tokens?;
    let expires_in = tokens.expires_in();
    let id_token = tokens
        .id_token
        .ok_or_else(|| SignInError::IdToken("the provider returned no ID token".into()))?;
    let session = verifying?
        .session(
            config,
            discovery,
            id_token,
            tokens.access_token,
            expires_in,
            tokens.refresh_token,
            pending.nonce,
            false,
            Generation::first(now_ms() as i64),
        )
        .await?;
    oauth::check_auth_time(&session.id_token.claims, pending.max_age, now().0)?;
    Ok(session)
}

/// Renews a session with its refresh token (RFC 6749 §6). The new ID token, if any, must
/// keep the session's issuer, subject, audience, sign-in time and nonce (OpenID Connect
/// Core §12.2); a token the provider does not send again is kept, and so is the refresh
/// token when the provider does not rotate it.
pub async fn refresh(config: &AppConfig, session: &Session) -> Result<Session, SignInError> {
    let refresh_token = session
        .refresh_token
        .as_ref()
        .ok_or_else(|| SignInError::Config("the session has no refresh token".into()))?;
    let body = renewal::refresh_request(refresh_token.expose(), &config.client_id);
    let tokens = token_call(&session.discovery, body, "renewal").await?;
    let expires_in = tokens.expires_in();
    let verifying = Tokens::new(config, &session.discovery).await?;
    let id_token = match tokens.id_token {
        Some(raw) => {
            let token = verifying.id_token(raw).await?;
            renewal::check_refreshed_id_token(&session.id_token.claims, &token.claims)
                .map_err(|e| SignInError::IdToken(e.to_string()))?;
            token
        }
        None => session.id_token.clone(),
    };
    let access_token = match tokens.access_token {
        Some(raw) => Some(Token {
            expires_in,
            ..verifying.access_token(config, raw).await
        }),
        None => session.access_token.clone(),
    };
    Ok(Session {
        discovery: session.discovery.clone(),
        keys: verifying.keys,
        jwks: verifying.jwks,
        id_token,
        access_token,
        refresh_token: tokens
            .refresh_token
            .map(Secret::new)
            .or_else(|| session.refresh_token.clone()),
        nonce: session.nonce.clone(),
        // A renewal rotates the refresh token: the renewed session is the next.
        generation: session.generation.next(),
    })
}

/// Takes over the session another tab holds, verifying its tokens again here.
pub async fn adopt(
    config: &AppConfig,
    discovery: &Discovery,
    shared: SharedTokens,
) -> Result<Session, SignInError> {
    let mut session = Tokens::new(config, discovery)
        .await?
        .session(
            config,
            discovery,
            shared.id_token,
            shared.access_token,
            shared.access_expires_in,
            shared.refresh_token,
            shared.nonce,
            true,
            shared.generation,
        )
        .await?;
    // Renewed when the sharing tab would have renewed them: received when it received them.
    if let Some(at) = shared.id_token_received_at {
        session.id_token.received_at = at;
    }
    if let (Some(token), Some(at)) = (&mut session.access_token, shared.access_token_received_at) {
        token.received_at = at;
    }
    Ok(session)
}

async fn verify(verifier: &Verifier, keys: &KeySet, backend: &ShellCrypto, raw: String) -> Token {
    let (header, claims) = decode_parts(&raw);
    let verified = match verifier.parse(&raw) {
        Ok(jwt) => verifier
            .verify(&jwt, keys, backend, now())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Token {
        raw: Secret::new(raw),
        header,
        claims,
        verified,
        received_at: now().0,
        expires_in: None,
    }
}

/// Revokes the session's refresh token and access token at the provider (RFC 7009), where
/// it offers revocation: the refresh token can renew nothing more, and a copy of the access
/// token is refused by an edge that introspects it. A failure does not stop the sign-out.
pub async fn revoke_tokens(config: &AppConfig, session: &Session) {
    let Some(endpoint) = session.discovery.revocation_endpoint.as_deref() else {
        return;
    };
    let tokens = [
        session
            .refresh_token
            .as_ref()
            .map(|t| (t.expose(), oauth::RevokedToken::Refresh)),
        session
            .access_token
            .as_ref()
            .map(|t| (t.raw.expose(), oauth::RevokedToken::Access)),
    ];
    for (token, kind) in tokens.into_iter().flatten() {
        let body = oauth::revocation_request(token, kind, &config.client_id);
        if let Ok(request) = Request::post(endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
        {
            let _ = request.send().await;
        }
    }
}

/// The URL that ends the session at the provider, if it has an end-session endpoint.
pub fn sign_out_url(config: &AppConfig, session: &Arc<Session>) -> Option<String> {
    let endpoint = session.discovery.end_session_endpoint.as_ref()?;
    let state = oauth::random_value().ok()?;
    Some(oauth::logout_url(
        endpoint,
        session.id_token.raw.expose(),
        &config.post_logout_redirect_uri,
        &config.client_id,
        &state,
    ))
}
