//! The network half of sign-in: discovery, the redirect, the code exchange, key retrieval and
//! ID token verification with the shared core (WebCrypto), nonce included.

use crate::app::storage;
use crate::config::AppConfig;
use crate::oauth::{self, CodeVerifier, OAuthError, PendingLogin, StepUp};
use crate::session::{Discovery, DiscoveryExt as _, Secret, Session, Token, decode_parts};
use cedargate::crypto::WebCrypto;
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
) -> Result<String, SignInError> {
    let verifier = CodeVerifier::random()?;
    let pending = PendingLogin {
        state: oauth::random_value()?,
        nonce: oauth::random_value()?,
        verifier: verifier.secret().to_owned(),
        started_ms: now_ms(),
        max_age: step_up.and_then(|s| s.max_age),
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

/// Starts sign-in ([`begin`]) and sends the browser to the provider.
pub fn go_to_sign_in(
    config: &AppConfig,
    discovery: &Discovery,
    step_up: Option<&StepUp>,
) -> Result<(), SignInError> {
    let url = begin(config, discovery, step_up)?;
    leptos::prelude::window()
        .location()
        .assign(&url)
        .map_err(|_| SignInError::Config("the browser refused to open the sign-in page".into()))
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
    #[serde(default)]
    access_token: Option<String>,
}

/// Fetches the issuer's keys.
pub async fn keys(discovery: &Discovery) -> Result<KeySet, SignInError> {
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
    KeySet::from_json(&text).map_err(|e| SignInError::IdToken(e.to_string()))
}

/// Finishes sign-in on the callback page: checks the callback's `state` against the record
/// (which is deleted only when it matched), then the rest of the callback, exchanges the code, verifies the ID token (signature, `iss`, `aud`, `exp`,
/// `nonce`) and, when configured, the access token.
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
    let callback = matched.check(discovery.response_issuer(), now_ms())?;
    let verifier = CodeVerifier::parse(pending.verifier)?;
    let body = oauth::token_request(
        &callback,
        &config.redirect_uri,
        &config.client_id,
        &verifier,
    );
    let token_endpoint = discovery
        .token_endpoint
        .as_deref()
        .ok_or_else(|| SignInError::Config("the provider publishes no token_endpoint".into()))?;
    let response = Request::post(token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .map_err(network("token request"))?
        .send()
        .await
        .map_err(network("token request"))?;
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
            step: "token request",
            status,
            body: described.trim().to_owned(),
        });
    }
    let tokens: TokenResponse = response.json().await.map_err(network("token request"))?;
    let keys = keys(discovery).await?;
    let trust = config
        .trust_config()
        .map_err(|e| SignInError::Config(e.to_string()))?;
    let verifier = Verifier::new(&trust).map_err(|e| SignInError::Config(e.to_string()))?;
    let backend = WebCrypto::new();

    let id_token = verify(&verifier, &keys, &backend, tokens.id_token).await;
    let verified = id_token
        .verified
        .as_ref()
        .map_err(|e| SignInError::IdToken(e.clone()))?;
    if verified.kind() != TokenKind::Id {
        return Err(SignInError::IdToken("not an ID token".into()));
    }
    let nonce = verified.claims().get("nonce").and_then(|n| n.as_str());
    if nonce != Some(pending.nonce.as_str()) {
        return Err(SignInError::IdToken(
            "nonce does not match this sign-in".into(),
        ));
    }
    oauth::check_auth_time(verified.claims(), pending.max_age, now().0)?;
    let access_token = match tokens.access_token {
        Some(raw) if config.api_audience.is_some() => {
            Some(verify(&verifier, &keys, &backend, raw).await)
        }
        Some(raw) => {
            let (header, claims) = decode_parts(&raw);
            Some(Token {
                raw: Secret::new(raw),
                header,
                claims,
                verified: Err("not verified: no api_audience is configured".into()),
            })
        }
        None => None,
    };
    Ok(Session {
        discovery: discovery.clone(),
        keys,
        id_token,
        access_token,
    })
}

async fn verify(verifier: &Verifier, keys: &KeySet, backend: &WebCrypto, raw: String) -> Token {
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
    }
}

/// Revokes the session's access token at the provider (RFC 7009), where it offers
/// revocation: a copy of the token is then refused by an edge that introspects it. A failure
/// does not stop the sign-out.
pub async fn revoke_access_token(config: &AppConfig, session: &Session) {
    let (Some(endpoint), Some(token)) = (
        session.discovery.revocation_endpoint.as_deref(),
        session.access_token.as_ref(),
    ) else {
        return;
    };
    let body = oauth::revocation_request(token.raw.expose(), &config.client_id);
    if let Ok(request) = Request::post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
    {
        let _ = request.send().await;
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
