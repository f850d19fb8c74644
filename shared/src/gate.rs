//! A bundle and the trust bound to it: what the edge and the browser keep.

use crate::bundle::Bundle;
use crate::companion::CompanionError;
use crate::context::{ContextConfig, RequestValues, TokenValues};
use crate::crypto::SignatureBackend;
use crate::decision::{ActionDecision, Decision, Outcome};
use crate::jwks::KeySet;
use crate::principal::{Principal, PrincipalShape};
use crate::routes::{RouteError, RouteMatch};
use crate::sharing::{Distinguishing, distinguishing};
use crate::time::UnixTime;
use crate::token::{TokenError, VerifiedToken};
use crate::trust::{HypotheticalPrincipal, MappingError, Trust};
use crate::trust_config::{ConfigError, TrustConfig};
use cedar_policy::EntityTypeName;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::Arc;

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
    /// The companion token ([`crate::IssuerConfig::companion`]) is missing, refused, or not
    /// the same person's from the same issuer.
    #[error(transparent)]
    Companion(#[from] CompanionError),
}

impl GateError {
    /// A stable, machine-readable reason: the [`TokenError`]'s kind name, `claims` for a
    /// token whose claims do not map, `no_keys` when the issuer's keys cannot be had, and
    /// the companion token's own ([`CompanionError::reason`]: `companion_missing`,
    /// `companion_unexpected`, `companion_invalid`, `companion_mismatch`). What a client
    /// may be told; the message is for logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Token(e) => e.kind().as_str(),
            Self::Mapping(MappingError::NoCompanion) => "companion_missing",
            Self::Mapping(_) => "claims",
            Self::NoKeys => "no_keys",
            Self::Companion(e) => e.reason(),
        }
    }
}

/// Why [`Gate::authenticate`] gave no principal: the token was refused, or its issuer's keys
/// could not be had (the [`KeySource`]'s own error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError<E> {
    /// The token was refused.
    #[error(transparent)]
    Refused(#[from] GateError),
    /// The key source failed.
    #[error("the issuer's keys are not available: {0}")]
    Keys(E),
}

/// What a request presents: its token (from `Authorization`, or the token cookie) and the
/// value of each companion header it carries ([`crate::Trust::companion_headers`], names
/// lowercase), for [`Gate::authenticate_with`].
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// The token.
    pub token: &'a str,
    /// Each companion header present, by name: every one the trust reads, not only the one
    /// the token's entry takes (a companion the entry does not take is refused).
    pub companions: &'a [(&'a str, &'a str)],
}

impl<'a> Credentials<'a> {
    /// A token alone.
    pub const fn token(token: &'a str) -> Self {
        Self {
            token,
            companions: &[],
        }
    }
}

/// Where [`Gate::authenticate`] gets an issuer's keys: asked with the (not yet verified)
/// issuer and `kid` of a token from a trusted issuer, it returns the key set, fetching it
/// if it must.
pub trait KeySource {
    /// A handle on a key set.
    type Keys: Deref<Target = KeySet>;
    /// Why keys could not be had.
    type Error;
    /// The key set to verify a token of `issuer` naming `kid` with.
    fn keys(
        &self,
        issuer: &str,
        kid: Option<&str>,
    ) -> impl Future<Output = Result<Self::Keys, Self::Error>>;
}

/// Key sets by issuer, already at hand: an issuer without one is [`GateError::NoKeys`].
impl<'a, S: std::hash::BuildHasher> KeySource for &'a HashMap<&str, KeySet, S> {
    type Keys = &'a KeySet;
    type Error = GateError;
    async fn keys(&self, issuer: &str, _kid: Option<&str>) -> Result<&'a KeySet, GateError> {
        self.get(issuer).ok_or(GateError::NoKeys)
    }
}

/// One issuer's key set, for that issuer's tokens only: a token that names any other issuer
/// gets [`GateError::NoKeys`], so with several trusted issuers one issuer's keys never
/// verify a token as another's.
#[derive(Clone, Copy, Debug)]
pub struct IssuerKeys<'a> {
    issuer: &'a str,
    keys: &'a KeySet,
}

impl<'a> IssuerKeys<'a> {
    /// The key set `keys` of `issuer` (exactly as tokens name it in `iss`).
    pub fn new(issuer: &'a str, keys: &'a KeySet) -> Self {
        Self { issuer, keys }
    }
}

impl<'a> KeySource for IssuerKeys<'a> {
    type Keys = &'a KeySet;
    type Error = GateError;
    async fn keys(&self, issuer: &str, _kid: Option<&str>) -> Result<&'a KeySet, GateError> {
        if issuer == self.issuer {
            Ok(self.keys)
        } else {
            Err(GateError::NoKeys)
        }
    }
}

/// A claim value an allowed action relies on: without it, the action would not be allowed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reliance {
    /// The claim, as the token names it (`scope`, `p1.permissions`, `group`).
    pub claim: String,
    /// The one value (a scope, a permission, a group).
    pub value: String,
}

/// A request decided ([`Gate::decide_route`]): everything an enforcement point needs to
/// answer it.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The route the request matched.
    pub route: RouteMatch,
    /// What the policies said.
    pub decision: Decision,
    /// Whether the same principal's same request (method and target) gets the same verdict
    /// again: false when the action reads the request's own values (time, address, country,
    /// headers), which may differ from one request to the next.
    pub cacheable: bool,
}

impl Verdict {
    /// Whether it may be given to another principal of the same [`DecisionKey`]: it may be
    /// reused ([`Verdict::cacheable`]) and its evaluation made no error (Cedar's error
    /// messages name the principal's own id).
    pub fn shareable(&self) -> bool {
        self.cacheable && self.decision.errors.is_empty()
    }
}

/// What a decision for a principal depends on besides the request's method and target,
/// when nothing in the bundle can tell principals of its type apart
/// ([`Gate::decision_key`]): its shape (type, groups, attribute values) and, for an action
/// whose context reads them, the token's values. Two principals with equal keys get the
/// same verdict for the same method and target from the same gate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DecisionKey {
    shape: Arc<PrincipalShape>,
    token: Option<TokenValues>,
}

/// A validated bundle and a trust configuration bound to its schema.
#[derive(Clone, Debug)]
pub struct Gate {
    bundle: Bundle,
    trust: Trust,
    /// Each principal type of the trust, with what in the bundle tells its principals apart
    /// (`None`: nothing, and their decisions may be shared), decided once when bound.
    sharing: Vec<(EntityTypeName, Option<Distinguishing>)>,
}

impl Gate {
    /// Binds `config` to `bundle` (see [`Trust::bind`]). The request context is not
    /// checked: for tools that decide without request values (or with values they make up).
    /// What enforces uses [`Gate::enforcing`].
    pub fn new(bundle: Bundle, config: &TrustConfig) -> Result<Self, ConfigError> {
        let trust = Trust::bind(config, &bundle)?;
        let sharing = trust
            .principal_types()
            .into_iter()
            .map(|ty| (ty.clone(), distinguishing(&bundle, &ty.to_string())))
            .collect();
        Ok(Self {
            bundle,
            trust,
            sharing,
        })
    }

    /// Binds `config` to `bundle` and checks that `context` fills every request value the
    /// bundle's actions declare ([`Bundle::check_context`]).
    pub fn enforcing(
        bundle: Bundle,
        config: &TrustConfig,
        context: &ContextConfig,
    ) -> Result<Self, ConfigError> {
        bundle
            .check_context(context)
            .map_err(ConfigError::Context)?;
        Self::new(bundle, config)
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The trusted issuers.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The pipeline's first half, the one the edge and the tools call: parses `token`, asks
    /// `keys` for its issuer's key set (which may fetch), verifies it and maps it to a
    /// principal.
    pub async fn authenticate<B, K>(
        &self,
        token: &str,
        keys: K,
        backend: &B,
        now: UnixTime,
    ) -> Result<(VerifiedToken, Principal), AuthError<K::Error>>
    where
        B: SignatureBackend,
        K: KeySource,
    {
        self.authenticate_with(Credentials::token(token), keys, backend, now)
            .await
    }

    /// [`Gate::authenticate`] of a token and its companion headers: when the token's entry
    /// takes a companion ([`crate::IssuerConfig::companion`]), the companion is parsed,
    /// its issuer checked, its keys asked of `keys`, and verified by its own rules; then the
    /// pair is checked (module `companion`: same subject, the access token's client allowed
    /// by the ID token) and mapped into one principal. Refused: a missing companion, one the
    /// entry does not take, one that fails ([`CompanionError`]).
    pub async fn authenticate_with<B, K>(
        &self,
        credentials: Credentials<'_>,
        keys: K,
        backend: &B,
        now: UnixTime,
    ) -> Result<(VerifiedToken, Principal), AuthError<K::Error>>
    where
        B: SignatureBackend,
        K: KeySource,
    {
        let (verified, principal) = self
            .authenticate_deferred_with(credentials, keys, backend, now)
            .await?;
        principal.entities().map_err(GateError::from)?;
        Ok((verified, principal))
    }

    /// [`Gate::authenticate_with`], every check of the tokens and of their claims made,
    /// without building the principal's Cedar entities: a caller that may find the decision
    /// by [`Gate::decision_key`] builds them ([`Principal::entities`], whose error refuses the
    /// token as [`Gate::authenticate`] would) only when it has to decide.
    pub async fn authenticate_deferred_with<B, K>(
        &self,
        credentials: Credentials<'_>,
        keys: K,
        backend: &B,
        now: UnixTime,
    ) -> Result<(VerifiedToken, Principal), AuthError<K::Error>>
    where
        B: SignatureBackend,
        K: KeySource,
    {
        let token = credentials.token;
        let jwt = self.trust.parse(token).map_err(GateError::from)?;
        let issuer = jwt
            .unverified_issuer()
            .ok_or(GateError::Token(TokenError::MissingClaim("iss")))?;
        let primary_keys = keys
            .keys(issuer, jwt.kid())
            .await
            .map_err(AuthError::Keys)?;
        let mut verified = self
            .trust
            .verify_owned(jwt, &primary_keys, backend, now)
            .await
            .map_err(GateError::from)?;
        drop(primary_keys);
        let header = self.trust.companion_of(&verified).map(|c| c.header_name());
        let mut present = credentials.companions.iter();
        let companion = match header {
            None if credentials.companions.is_empty() => None,
            None => return Err(GateError::from(CompanionError::Unexpected).into()),
            Some(name) => {
                let value = present
                    .clone()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                    .map(|(_, v)| *v)
                    .ok_or(GateError::from(CompanionError::Missing))?;
                if present.any(|(n, _)| !n.eq_ignore_ascii_case(&name)) {
                    return Err(GateError::from(CompanionError::Unexpected).into());
                }
                Some(value)
            }
        };
        if let Some(text) = companion {
            let verifier = self.trust.verifier();
            let jwt = crate::token::UntrustedJwt::parse(text, verifier.max_token_bytes())
                .map_err(|e| GateError::from(CompanionError::Invalid(e)))?;
            let expected = verifier
                .companion_rules_issuer(&verified)
                .ok_or(GateError::from(CompanionError::Unexpected))?;
            if jwt.unverified_issuer() != Some(expected) {
                return Err(GateError::from(CompanionError::Mismatch("issuer")).into());
            }
            let companion_keys = keys
                .keys(expected, jwt.kid())
                .await
                .map_err(AuthError::Keys)?;
            let second = verifier
                .verify_companion(&verified, jwt, &companion_keys, backend, now)
                .await
                .map_err(GateError::from)?;
            let access_text = match verified.kind {
                crate::TokenKind::Access => token,
                crate::TokenKind::Id => text,
            };
            crate::companion::check_pair(&verified, &second, access_text)
                .map_err(GateError::from)?;
            verified.expires_at = verified.expires_at.min(second.expires_at);
            verified.companion = Some(Box::new(second));
        }
        let principal = self
            .trust
            .principal_deferred(&verified)
            .map_err(GateError::from)?;
        Ok((verified, principal))
    }

    /// A request that carries no token: matched, and decided for the anonymous principal
    /// when its route is public. `None` when it is not (or the request matches no route):
    /// the request then needs a token, and the caller answers as for a missing one.
    ///
    /// Only a request with no credentials at all may come here; a token that is present
    /// but refused is refused, on public routes too.
    pub fn decide_anonymous(
        &self,
        method: &str,
        target: &str,
        values: &RequestValues,
    ) -> Option<(RouteMatch, Decision)> {
        let verdict = self.decide_route_anonymous(self.route(method, target).ok()?, values)?;
        Some((verdict.route, verdict.decision))
    }

    /// Every action decided for a what-if principal ([`Trust::hypothetical_principal`]), as
    /// [`Bundle::allowed_actions`] decides them for a real one. Offline; nothing here
    /// authorizes a request.
    pub fn what_if(&self, principal: &HypotheticalPrincipal) -> Vec<ActionDecision> {
        self.bundle.allowed_actions(principal.principal())
    }

    /// One request decided for a what-if principal, as [`Gate::decide`] decides it for a real
    /// one: the same route matching and the same evaluation. Offline; nothing here authorizes
    /// a request.
    pub fn what_if_request(
        &self,
        principal: &HypotheticalPrincipal,
        method: &str,
        target: &str,
        values: &RequestValues,
    ) -> Result<(RouteMatch, Decision), RouteError> {
        self.decide(principal.principal(), method, target, values)
    }

    /// What each action `principal` is allowed (without request values) relies on in its
    /// verified token: the scopes, permissions and groups that, taken away one at a time,
    /// would leave the action no longer allowed. Every allowed action has an entry, empty
    /// when no single value is needed (a public action, or two groups that each allow it).
    /// Decided by the same policies, for principals mapped from the token with one value
    /// less (see [`Trust::principals_without_each_value`]).
    pub fn reliances(
        &self,
        token: &VerifiedToken,
        principal: &Principal,
    ) -> Result<BTreeMap<String, Vec<Reliance>>, MappingError> {
        let allowed = |p: &Principal| -> Vec<String> {
            self.bundle
                .allowed_actions(p)
                .into_iter()
                .filter(|row| row.outcome == Some(Outcome::Allow))
                .map(|row| row.action)
                .collect()
        };
        let mut out: BTreeMap<String, Vec<Reliance>> = allowed(principal)
            .into_iter()
            .map(|action| (action, Vec::new()))
            .collect();
        for (claim, value, fewer) in self.trust.principals_without_each_value(token)? {
            let still = allowed(&fewer);
            for (action, list) in out.iter_mut() {
                if !still.contains(action) {
                    list.push(Reliance {
                        claim: claim.clone(),
                        value: value.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Matches the request and decides, with the request's own values (see
    /// [`Bundle::authorize`]).
    pub fn decide(
        &self,
        principal: &Principal,
        method: &str,
        target: &str,
        values: &RequestValues,
    ) -> Result<(RouteMatch, Decision), RouteError> {
        let verdict = self.decide_route(principal, self.route(method, target)?, values);
        Ok((verdict.route, verdict.decision))
    }

    /// The route of a request with `method` (as sent) and `target` (path and query as sent):
    /// matched once, then decided with [`Gate::decide_route`] or
    /// [`Gate::decide_route_anonymous`].
    pub fn route(&self, method: &str, target: &str) -> Result<RouteMatch, RouteError> {
        self.bundle.resolve(method, target)
    }

    /// What tells principals of type `ty` (fully qualified, `PetStore::User`) apart in this
    /// gate's bundle: `Ok` when nothing does and their decisions are shared
    /// ([`Gate::decision_key`]); the first place found otherwise. A type no issuer entry
    /// maps to is never shared.
    pub fn sharing(&self, ty: &str) -> Result<(), Distinguishing> {
        match self.sharing.iter().find(|(t, _)| t.to_string() == ty) {
            Some((_, None)) => Ok(()),
            Some((_, Some(why))) => Err(why.clone()),
            None => Err(Distinguishing::NotMapped),
        }
    }

    /// The key under which `principal`'s verdict on `route` may be shared with every
    /// principal of an equal key, for the same method and target ([`DecisionKey`]): `None`
    /// when it may not be, because something in the bundle can tell principals of its type
    /// apart ([`Gate::sharing`]), the action reads the request's own values, or the principal
    /// was mapped by a trust bound to another bundle. Made from the mapped claims alone,
    /// before any Cedar entity is built.
    pub fn decision_key(&self, principal: &Principal, route: &RouteMatch) -> Option<DecisionKey> {
        let shape = &principal.shape;
        let own_bundle = principal.checked_for.as_str() == self.bundle.text_version().as_str();
        let shared = self
            .sharing
            .iter()
            .any(|(ty, why)| why.is_none() && *ty == shape.ty);
        if !own_bundle || !shared || self.bundle.depends_on_request_values(&route.action) {
            return None;
        }
        let entry = self.bundle.actions.get(&route.action)?;
        Some(DecisionKey {
            shape: Arc::clone(shape),
            token: entry
                .context
                .token
                .is_some()
                .then(|| principal.token_values.clone()),
        })
    }

    /// A matched request decided for `principal`, with the request's own values.
    pub fn decide_route(
        &self,
        principal: &Principal,
        route: RouteMatch,
        values: &RequestValues,
    ) -> Verdict {
        let decision = self.bundle.authorize(principal, &route, values);
        self.verdict(route, decision)
    }

    /// A matched request that carries no token, decided for the anonymous principal when its
    /// route is public; `None` when it is not (see [`Gate::decide_anonymous`]).
    pub fn decide_route_anonymous(
        &self,
        route: RouteMatch,
        values: &RequestValues,
    ) -> Option<Verdict> {
        let decision = self.bundle.authorize_anonymous(&route, values)?;
        Some(self.verdict(route, decision))
    }

    fn verdict(&self, route: RouteMatch, decision: Decision) -> Verdict {
        let cacheable = !self.bundle.depends_on_request_values(&route.action);
        Verdict {
            route,
            decision,
            cacheable,
        }
    }
}
