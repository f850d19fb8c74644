//! A bundle and the trust bound to it: what the edge and the browser keep.

use crate::bundle::{Bundle, Decision};
use crate::crypto::SignatureBackend;
use crate::identity::{ConfigError, MappingError, Principal, Trust, TrustConfig};
use crate::jwks::KeySet;
use crate::routes::{RouteError, RouteMatch};
use crate::time::UnixTime;
use crate::token::{TokenError, VerifiedToken};

/// Why a bearer token did not yield a principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The token was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token is valid but its claims do not map to a principal.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// No key set is available for the token's issuer.
    #[error("no keys are available for the token's issuer")]
    NoKeys,
}

impl GateError {
    /// A stable, machine-readable reason: the [`TokenError`]'s kind name, `claims` for a
    /// token whose claims do not map, `no_keys` when the issuer's keys cannot be had. What
    /// a client may be told; the message is for logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Token(e) => e.kind().as_str(),
            Self::Mapping(_) => "claims",
            Self::NoKeys => "no_keys",
        }
    }
}

/// A validated bundle and a trust configuration bound to its schema.
#[derive(Clone, Debug)]
pub struct Gate {
    bundle: Bundle,
    trust: Trust,
}

impl Gate {
    /// Binds `config` to `bundle` (see [`Trust::bind`]).
    pub fn new(bundle: Bundle, config: &TrustConfig) -> Result<Self, ConfigError> {
        let trust = Trust::bind(config, &bundle)?;
        Ok(Self { bundle, trust })
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The trusted issuers.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Parses and verifies `token` and maps it to a principal. `keys` returns the key set of
    /// an issuer URL.
    pub async fn authenticate<'k, B, K>(
        &self,
        token: &str,
        keys: K,
        backend: &B,
        now: UnixTime,
    ) -> Result<(VerifiedToken, Principal), GateError>
    where
        B: SignatureBackend,
        K: FnOnce(&str) -> Option<&'k KeySet>,
    {
        let jwt = self.trust.parse(token)?;
        let issuer = jwt
            .unverified_issuer()
            .ok_or(TokenError::MissingClaim("iss"))?;
        let keys = keys(issuer).ok_or(GateError::NoKeys)?;
        let verified = self.trust.verify(&jwt, keys, backend, now).await?;
        let principal = self.trust.principal(&verified)?;
        Ok((verified, principal))
    }

    /// Matches the request and decides.
    pub fn decide(
        &self,
        principal: &Principal,
        method: &str,
        target: &str,
    ) -> Result<(RouteMatch, Decision), RouteError> {
        let route = self.bundle.resolve(method, target)?;
        let decision = self.bundle.authorize(principal, &route);
        Ok((route, decision))
    }
}
