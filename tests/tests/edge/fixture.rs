//! The start-up most suites share: a test provider publishing one environment, its issuer,
//! an echo origin when the suite forwards requests, and a worker configuration trusting
//! that issuer.

use super::trust;
use cedargate_tests::origin::EchoOrigin;
use cedargate_tests::provider::TestProvider;
use serde_json::{Value, json};

/// A test provider with one environment, its issuer and maybe an echo origin; the suite keeps
/// what it needs (`let Fixture { provider, issuer, origin } = ...`).
pub struct Fixture {
    pub provider: TestProvider,
    pub issuer: String,
    /// Started by [`Fixture::origin`]; without it, workers are configured `origin: "none"`.
    pub origin: Option<EchoOrigin>,
}

impl Fixture {
    /// Starts a provider publishing environment `env` with the test key `a-rsa-1`.
    pub fn new(env: &str) -> Result<Self, String> {
        Self::with_keys(env, &["a-rsa-1"])
    }

    /// Starts a provider publishing environment `env` with the test keys `keys`.
    pub fn with_keys(env: &str, keys: &[&str]) -> Result<Self, String> {
        let provider = TestProvider::start()?;
        provider.add_env(env, keys);
        let issuer = provider.issuer(env);
        Ok(Self {
            provider,
            issuer,
            origin: None,
        })
    }

    /// Starts the echo origin workers forward to.
    pub fn origin(mut self) -> Result<Self, String> {
        self.origin = Some(EchoOrigin::start()?);
        Ok(self)
    }

    /// A worker configuration trusting the issuer ([`trust`]), forwarding to the echo origin
    /// (or `"none"` without one), with the members of `settings` added.
    pub fn config(&self, settings: Value) -> Value {
        let origin = self
            .origin
            .as_ref()
            .map_or_else(|| "none".to_owned(), EchoOrigin::url);
        let mut config = json!({ "trust": trust(&[(&self.issuer, "")]), "origin": origin });
        if let (Value::Object(target), Value::Object(more)) = (&mut config, settings) {
            target.extend(more);
        }
        config
    }
}
