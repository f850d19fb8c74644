//! Step 2 of the pipeline: token verification for a trust configuration, without any
//! schema. What a client needs to check tokens before it has a policy bundle; [`Trust`]
//! adds the claim mapping.
//!
//! [`Trust`]: crate::Trust

use crate::companion::CompanionError;
use crate::crypto::SignatureBackend;
use crate::jwks::{Algorithm, KeySet};
use crate::time::UnixTime;
use crate::token::{ClaimRules, TokenError, TokenKind, UntrustedJwt, VerifiedToken};
use crate::trust_config::{
    Caller, CompanionConfig, ConfigError, IssuerConfig, MAX_LEEWAY, TrustConfig,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One issuer entry's token rules.
#[derive(Clone, Debug)]
struct IssuerRules {
    /// The entry's place in the configuration (what [`Trust`](crate::Trust) maps by).
    index: usize,
    config: IssuerConfig,
    rules: ClaimRules,
    /// The rules of the entry's companion token ([`IssuerConfig::companion`]), as an entry
    /// of its own that only [`Verifier::verify_companion`] uses: a companion is never
    /// accepted alone.
    companion: Option<Box<IssuerRules>>,
}

/// Token verification for a trust configuration, without any schema: what a client needs to
/// check tokens before it has a policy bundle. [`Trust`](crate::Trust) adds the claim mapping.
#[derive(Clone, Debug)]
pub struct Verifier {
    max_token_bytes: usize,
    issuers: Vec<IssuerRules>,
}

impl Verifier {
    /// Checks what does not depend on a schema: at least one issuer, non-empty issuers and
    /// audiences, leeway within bounds, no two entries for the same issuer and token kind,
    /// and disjoint audiences where one issuer has an ID-token and an access-token entry.
    pub fn new(config: &TrustConfig) -> Result<Self, ConfigError> {
        if config.issuers.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        if config.max_token_bytes == 0 {
            return Err(ConfigError::ZeroTokenLimit);
        }
        let mut seen: HashMap<&str, Vec<&IssuerConfig>> = HashMap::new();
        let mut issuers = Vec::new();
        for (index, entry) in config.issuers.iter().enumerate() {
            if entry.issuer.is_empty() {
                return Err(ConfigError::EmptyIssuer { index });
            }
            if entry.audiences.is_empty() || entry.audiences.iter().any(String::is_empty) {
                return Err(ConfigError::NoAudience {
                    issuer: entry.issuer.clone(),
                });
            }
            if entry.leeway > MAX_LEEWAY {
                return Err(ConfigError::LeewayTooLarge {
                    issuer: entry.issuer.clone(),
                    leeway: entry.leeway,
                    max: MAX_LEEWAY,
                });
            }
            if entry.token == TokenKind::Id
                && let Some(t) = &entry.token_type
                && crate::token::media_type_eq(t, "at+jwt")
            {
                return Err(ConfigError::IdTokenType {
                    issuer: entry.issuer.clone(),
                    token_type: t.clone(),
                });
            }
            if entry.token == TokenKind::Id && entry.caller == Caller::Client {
                return Err(ConfigError::ClientIdToken {
                    issuer: entry.issuer.clone(),
                });
            }
            let others = seen.entry(&entry.issuer).or_default();
            for other in others.iter() {
                let reason = if other.token == entry.token {
                    if !other.caller.overlaps(entry.caller) {
                        continue;
                    }
                    if other.caller == Caller::Any && entry.caller == Caller::Any {
                        format!("two entries for {} tokens", entry.token)
                    } else {
                        format!(
                            "two entries for {} tokens whose callers overlap ({} and {})",
                            entry.token, other.caller, entry.caller
                        )
                    }
                } else if other.audiences.iter().any(|a| entry.audiences.contains(a)) {
                    "ID-token and access-token entries share an audience".to_owned()
                } else {
                    continue;
                };
                return Err(ConfigError::Ambiguous {
                    issuer: entry.issuer.clone(),
                    reason,
                });
            }
            others.push(entry);
            let companion = entry
                .companion
                .as_ref()
                .map(|c| companion_rules(index, entry, c, config))
                .transpose()?
                .map(Box::new);
            issuers.push(IssuerRules {
                companion,
                index,
                rules: ClaimRules {
                    issuer: entry.issuer.clone(),
                    audiences: entry.audiences.clone(),
                    required_type: entry.token_type.clone(),
                    leeway: leeway_seconds(entry.leeway),
                    kind: entry.token,
                    kind_claims: !entry.insecure_skip_token_kind_claims,
                },
                config: entry.clone(),
            });
        }
        Ok(Self {
            max_token_bytes: config.max_token_bytes,
            issuers,
        })
    }

    /// The distinct trusted issuer URLs, in configuration order (for key discovery).
    pub fn issuers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for entry in &self.issuers {
            if !out.contains(&entry.config.issuer.as_str()) {
                out.push(&entry.config.issuer);
            }
        }
        out
    }

    /// Step 1: parses a compact token (size limit first) and checks that its stated issuer is
    /// trusted. Nothing is verified yet; see [`Verifier::verify`].
    pub fn parse<'t>(&self, token: &'t str) -> Result<UntrustedJwt<'t>, TokenError> {
        let jwt = UntrustedJwt::parse(token, self.max_token_bytes)?;
        match jwt.unverified_issuer() {
            Some(iss) if self.issuers.iter().any(|p| p.config.issuer == iss) => Ok(jwt),
            Some(_) => Err(TokenError::WrongIssuer),
            None => Err(if jwt.claims().contains_key("iss") {
                TokenError::InvalidClaim {
                    claim: "iss",
                    reason: "not a string",
                }
            } else {
                TokenError::MissingClaim("iss")
            }),
        }
    }

    /// Step 2: verifies a parsed token with its issuer's `keys` at time `now`: `typ` and the
    /// algorithm first, then the signature through `backend`, then `iss`, `aud`, `exp`,
    /// `nbf`, `iat`, then that it is the entry's kind of token (ID or access; see
    /// [`IssuerConfig::insecure_skip_token_kind_claims`]).
    pub async fn verify<B: SignatureBackend>(
        &self,
        jwt: &UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<VerifiedToken, TokenError> {
        let checked = self.check(jwt, keys, backend, now).await?;
        Ok(checked.into_token(jwt.claims().clone()))
    }

    /// [`Verifier::verify`], taking the parsed token so that the verified one gets its
    /// claims without a copy (what [`crate::Gate::authenticate`] calls).
    pub(crate) async fn verify_owned<B: SignatureBackend>(
        &self,
        jwt: UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<VerifiedToken, TokenError> {
        let checked = self.check(&jwt, keys, backend, now).await?;
        Ok(checked.into_token(jwt.into_claims()))
    }

    /// Every check of [`Verifier::verify`], in its order.
    async fn check<B: SignatureBackend>(
        &self,
        jwt: &UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<Checked, TokenError> {
        Self::check_with(self.entry_for(jwt)?, jwt, keys, backend, now).await
    }

    /// Every check of [`Verifier::verify`] by the rules of `entry`.
    async fn check_with<B: SignatureBackend>(
        entry: &IssuerRules,
        jwt: &UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<Checked, TokenError> {
        entry.rules.check_type(jwt.header())?;
        let alg = jwt.algorithm();
        if !entry.config.algorithms.is_empty() && !entry.config.algorithms.contains(&alg) {
            return Err(TokenError::AlgorithmNotAllowed(alg));
        }
        let thumbprint = jwt.verify_signature(keys, backend).await?;
        let times = entry.rules.check_claims(jwt.claims(), now)?;
        entry.rules.check_kind(jwt.header(), jwt.claims())?;
        Ok(Checked {
            entry: entry.index,
            issuer: entry.config.issuer.clone(),
            kind: entry.config.token,
            algorithm: alg,
            key_thumbprint: thumbprint,
            expires_at: times.exp,
            issued_at: times.iat,
        })
    }

    /// Verifies the companion token of a token `primary` this verifier verified, by the
    /// rules of its entry's companion ([`IssuerConfig::companion`]): its issuer first
    /// (before any key is asked for: [`CompanionError::Mismatch`]), then every check of
    /// [`Verifier::verify`] with the companion's audiences, type, algorithms and leeway, the
    /// kind's claims always checked. Whether the two belong together is
    /// [`crate::companion::check_pair`]'s question.
    pub(crate) async fn verify_companion<B: SignatureBackend>(
        &self,
        primary: &VerifiedToken,
        jwt: UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<VerifiedToken, CompanionError> {
        let rules = self
            .companion_rules(primary)
            .ok_or(CompanionError::Unexpected)?;
        if jwt.unverified_issuer() != Some(rules.config.issuer.as_str()) {
            return Err(CompanionError::Mismatch("issuer"));
        }
        let checked = Self::check_with(rules, &jwt, keys, backend, now)
            .await
            .map_err(CompanionError::Invalid)?;
        Ok(checked.into_token(jwt.into_claims()))
    }

    /// The companion rules of the entry that accepted `primary`, if it takes a companion.
    pub(crate) fn companion_rules_issuer(&self, primary: &VerifiedToken) -> Option<&str> {
        self.companion_rules(primary)
            .map(|rules| rules.config.issuer.as_str())
    }

    fn companion_rules(&self, primary: &VerifiedToken) -> Option<&IssuerRules> {
        self.issuers
            .iter()
            .find(|p| p.index == primary.entry && p.config.token == primary.kind)
            .and_then(|p| p.companion.as_deref())
    }

    /// The longest compact token accepted.
    pub(crate) fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// Picks the issuer entry: by `iss`, then by the caller each entry accepts, and when
    /// the issuer still has an ID-token and an access-token entry, by which one's audiences
    /// the token names. Bind-time checks make at most one entry of each kind fit a caller.
    fn entry_for(&self, jwt: &UntrustedJwt<'_>) -> Result<&IssuerRules, TokenError> {
        let iss = jwt
            .unverified_issuer()
            .ok_or(TokenError::MissingClaim("iss"))?;
        let claims = jwt.claims();
        let mut of_issuer = self
            .issuers
            .iter()
            .filter(|p| p.config.issuer == iss)
            .peekable();
        if of_issuer.peek().is_none() {
            return Err(TokenError::WrongIssuer);
        }
        let fitting: Vec<&IssuerRules> = of_issuer
            .filter(|p| p.config.caller.accepts(claims))
            .collect();
        let several = match fitting.as_slice() {
            [] => return Err(TokenError::CallerNotAccepted),
            [only] => return Ok(only),
            several => several,
        };
        let auds: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => Vec::new(),
            None => return Err(TokenError::MissingClaim("aud")),
        };
        let names = |p: &&&IssuerRules| p.config.audiences.iter().any(|a| auds.contains(&&**a));
        match several.iter().filter(names).collect::<Vec<_>>().as_slice() {
            [one] => Ok(one),
            _ => Err(TokenError::WrongAudience),
        }
    }
}

/// The rules of `entry`'s companion, as an entry of the companion's kind: the checks that
/// need no schema (the mapping's are [`crate::Trust::bind`]'s).
fn companion_rules(
    index: usize,
    entry: &IssuerConfig,
    companion: &CompanionConfig,
    config: &TrustConfig,
) -> Result<IssuerRules, ConfigError> {
    let refuse = |reason: String| ConfigError::Companion {
        issuer: entry.issuer.clone(),
        reason,
    };
    if companion.token == entry.token {
        return Err(refuse(format!(
            "the companion of a {} token must be the other kind",
            entry.token
        )));
    }
    if entry.caller == Caller::Client {
        return Err(refuse(
            "a client-credentials caller has no ID token: a client entry takes no companion".into(),
        ));
    }
    let header = companion.header_name();
    let reserved = [
        crate::assertion::ASSERTION_HEADER,
        "x-cedargate-subject",
        "x-cedargate-principal",
        "x-cedargate-groups",
        "x-cedargate-issuer",
        "x-cedargate-client",
        "x-cedargate-action",
        "x-cedargate-policies",
        "x-cedargate-decision",
        "x-cedargate-anonymous",
        "x-cedargate-request-id",
    ];
    let token_chars = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    if !header.starts_with("x-cedargate-")
        || !header.bytes().all(token_chars)
        || reserved.iter().any(|r| r.eq_ignore_ascii_case(&header))
    {
        return Err(refuse(format!(
            "header {header} must be a name of letters, digits and dashes starting with \
             X-Cedargate- (never forwarded to the origin, never request context) and not one \
             the edge sets"
        )));
    }
    let issuer = companion.issuer_or(&entry.issuer);
    if !config.issuers.iter().any(|e| e.issuer == issuer) {
        return Err(refuse(format!(
            "issuer {issuer} is not an issuer of issuers (its keys would not be known)"
        )));
    }
    if issuer != entry.issuer
        && !config
            .issuer_aliases
            .iter()
            .any(|list| list.contains(&entry.issuer) && list.iter().any(|i| i == issuer))
    {
        return Err(refuse(format!(
            "issuer {issuer} is neither the entry's nor an alias of it (issuer_aliases)"
        )));
    }
    if companion.audiences.is_empty() || companion.audiences.iter().any(String::is_empty) {
        return Err(refuse("no audience is configured".into()));
    }
    if companion.leeway > MAX_LEEWAY {
        return Err(refuse(format!(
            "leeway of {} s is over the maximum of {} s",
            companion.leeway.as_secs(),
            MAX_LEEWAY.as_secs()
        )));
    }
    if companion.token == TokenKind::Id
        && let Some(t) = &companion.token_type
        && crate::token::media_type_eq(t, "at+jwt")
    {
        return Err(refuse(format!(
            "an ID-token companion cannot require token_type {t}"
        )));
    }
    let mut as_entry = IssuerConfig::new(issuer, companion.token, companion.audiences.clone());
    as_entry.token_type = companion.token_type.clone();
    as_entry.algorithms = companion.algorithms.clone();
    as_entry.leeway = companion.leeway;
    as_entry.caller = Caller::User;
    Ok(IssuerRules {
        index,
        rules: ClaimRules {
            issuer: issuer.to_owned(),
            audiences: companion.audiences.clone(),
            required_type: companion.token_type.clone(),
            leeway: leeway_seconds(companion.leeway),
            kind: companion.token,
            kind_claims: true,
        },
        config: as_entry,
        companion: None,
    })
}

/// What [`Verifier::verify`] found of a token that passed, without its claims.
struct Checked {
    entry: usize,
    issuer: String,
    kind: TokenKind,
    algorithm: Algorithm,
    key_thumbprint: String,
    expires_at: UnixTime,
    issued_at: Option<UnixTime>,
}

impl Checked {
    fn into_token(self, claims: Map<String, Value>) -> VerifiedToken {
        VerifiedToken {
            entry: self.entry,
            issuer: self.issuer,
            kind: self.kind,
            algorithm: self.algorithm,
            key_thumbprint: self.key_thumbprint,
            claims,
            expires_at: self.expires_at,
            issued_at: self.issued_at,
            companion: None,
        }
    }
}

/// A leeway as the claim checks count it: whole seconds (at most [`MAX_LEEWAY`] once the
/// configuration is checked).
fn leeway_seconds(leeway: core::time::Duration) -> i64 {
    i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX)
}
