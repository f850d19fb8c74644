//! RFC 7662 introspection at the edge: the configured issuers' clients (their secrets read
//! once per isolate) and the request to the provider, with a timeout. What is sent and read,
//! and how long an answer is kept, is the shared core's (`cedargate::introspection`).

use super::fetch::fetch_capped;
use crate::config::IntrospectionConfig;
use cedargate::introspection::{
    Introspected, MAX_RESPONSE_BYTES, basic_authorization, request_body,
};
use std::fmt;
use worker::{Env, Headers, Method, RequestInit};

/// One issuer's introspection client.
pub struct Client {
    pub config: IntrospectionConfig,
    /// `Basic ...` with the client's secret: never logged.
    authorization: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .field("authorization", &"[redacted]")
            .finish()
    }
}

impl Client {
    /// Reads the client's secret; a missing one stops the isolate.
    pub fn build(env: &Env, config: &IntrospectionConfig) -> Result<Self, String> {
        let name = &config.client_secret_secret;
        let secret = env
            .secret(name)
            .map_err(|_| format!("introspection: the Worker secret {name} is not set"))?
            .to_string();
        if secret.is_empty() {
            return Err(format!("introspection: the Worker secret {name} is empty"));
        }
        Ok(Self {
            authorization: basic_authorization(&config.client_id, &secret),
            config: config.clone(),
        })
    }

    /// Asks the provider about `token`. Anything but a 200 with a well-formed answer within
    /// the timeout and the size bound is an error (the caller fails closed); redirects are
    /// not followed ([`fetch_capped`]).
    pub async fn ask(&self, token: &str, hint: &str) -> Result<Introspected, String> {
        let url = &self.config.endpoint;
        let headers = Headers::new();
        let set = |k: &str, v: &str| {
            headers
                .set(k, v)
                .map_err(|_| format!("introspection: header {k} refused"))
        };
        set("content-type", "application/x-www-form-urlencoded")?;
        set("accept", "application/json")?;
        set("authorization", &self.authorization)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(request_body(token, hint).into()));
        let timeout = self.config.timeout;
        let fetched = fetch_capped(url, init, timeout, MAX_RESPONSE_BYTES).await?;
        Introspected::from_json(&fetched.body).map_err(|e| format!("{url}: {e}"))
    }
}
