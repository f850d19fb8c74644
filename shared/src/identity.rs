//! Trusted issuers and the mapping from verified claims to Cedar entities: an Amazon Verified
//! Permissions "identity source", with every choice spelled out.

use crate::bundle::Bundle;
use crate::crypto::SignatureBackend;
use crate::jwks::{Algorithm, KeySet};
pub use crate::principal::Principal;
use crate::schema_info::{Attribute, CedarType, EntityInfo};
use crate::time::UnixTime;
pub use crate::token::TokenKind;
use crate::token::{ClaimRules, TokenError, UntrustedJwt, VerifiedToken};
use cedar_policy::{Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

/// Default size limit of a compact token: 16 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Default clock leeway for `exp`, `nbf` and `iat`: 60 seconds.
pub const DEFAULT_LEEWAY_SECONDS: u32 = 60;
/// Largest leeway a configuration may ask for: 5 minutes.
pub const MAX_LEEWAY_SECONDS: u32 = 300;

/// Every issuer cedargate trusts, and the limits that apply before an issuer is known.
///
/// Deserializes from JSON or TOML. Unknown fields are refused so that a misspelt option is an
/// error rather than a silently ignored security setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Longest compact token accepted, in bytes; checked before any decoding.
    /// Default 16 KiB.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// The trusted issuers. At least one. One issuer may appear twice, once per token kind,
    /// with disjoint audiences. Entries of different issuers must map to distinct principal
    /// ids (an `entity_id_prefix` of their own, AVP's `<issuer without https://>|` for
    /// instance) and distinct group ids (`group_id_prefix`), or bind refuses them.
    pub issuers: Vec<IssuerConfig>,
    /// Lets issuers share group ids: a group name (with its prefix) denotes the same Cedar
    /// group whichever trusted issuer asserts it. Default false.
    ///
    /// # Security
    ///
    /// Anyone able to put a group name in a token of *any* of the issuers gets that group's
    /// permissions. Use only when every issuer is administered by the same people (for
    /// instance several environments of one PingOne organization).
    #[serde(default)]
    pub insecure_shared_group_ids: bool,
}

/// One trusted issuer: how its tokens are validated and how their claims become entities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` value, compared byte for byte (no trailing-slash or case folding).
    /// PingOne: `https://auth.pingone.<tld>/<environment id>/as`.
    pub issuer: String,
    /// Which token this entry accepts.
    pub token: TokenKind,
    /// Accepted `aud` values: client ids for ID tokens, the resource's audience for access
    /// tokens. The token's `aud` (string or array) must contain one of them. Required.
    pub audiences: Vec<String>,
    /// Required `typ` header, compared as a media type (`at+jwt` matches
    /// `application/at+jwt`). Default: not checked. RFC 9068 access tokens use `at+jwt`;
    /// requiring it stops ID tokens from being replayed as access tokens. PingOne sets it on
    /// every access token from March 2027 on. Refused on an ID-token entry when `at+jwt`.
    ///
    /// Independently of this setting, the two kinds are told apart by their claims (see
    /// `insecure_skip_token_kind_claims`), and an ID-token entry always refuses `at+jwt`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Turns off the claim checks that tell ID tokens from access tokens: an ID-token entry
    /// refuses tokens with `client_id` or `scope`; an access-token entry requires
    /// `client_id` and refuses `nonce`, `at_hash` and `c_hash`. Default false (checked), which
    /// fits PingOne and RFC 9068.
    ///
    /// # Security
    ///
    /// With this on, only the audiences (and `typ`, where required) separate the two kinds:
    /// an access token whose audience is also a client id, or an ID token whose audience is
    /// the API, is accepted as the other kind. Turn it on only for a provider whose tokens do
    /// not carry these claims, and then require `token_type` on access entries.
    #[serde(default)]
    pub insecure_skip_token_kind_claims: bool,
    /// Algorithms accepted from this issuer. Default: every supported algorithm that the key
    /// set's key types allow (PingOne signs with RS256).
    #[serde(default)]
    pub algorithms: Vec<Algorithm>,
    /// Clock leeway for `exp`, `nbf` and `iat`, in seconds. Default 60, at most 300.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u32,
    /// Claim whose string value is the principal's entity id. Default `sub`.
    #[serde(default = "default_principal_id_claim")]
    pub principal_id_claim: String,
    /// Prefix put before the principal id. Default none. Amazon Verified Permissions uses
    /// the issuer without `https://` followed by `|`.
    #[serde(default)]
    pub entity_id_prefix: Option<String>,
    /// Entity type of the principal. Default `<Namespace>::User`.
    #[serde(default)]
    pub principal_type: Option<String>,
    /// Claim holding group names (an array of strings, or one string); each becomes a parent
    /// entity of the principal. Default `group` (PingOne's ID token). `null` turns groups off.
    #[serde(default = "default_group_claim")]
    pub group_claim: Option<String>,
    /// Entity type of the groups. Default `<Namespace>::UserGroup`.
    #[serde(default)]
    pub group_type: Option<String>,
    /// Prefix put before each group name. Default none.
    #[serde(default)]
    pub group_id_prefix: Option<String>,
    /// Claim holding space-separated scopes, mapped to a `Set<String>` attribute. Default
    /// `scope`. Mapped only when the principal type declares the attribute.
    #[serde(default = "default_scope_claim")]
    pub scope_claim: Option<String>,
    /// Attribute the scopes go to. Default `scope`.
    #[serde(default = "default_scope_attribute")]
    pub scope_attribute: String,
    /// Claim holding an array of permission strings, mapped to a `Set<String>` attribute.
    /// Default `p1.permissions` (PingOne). Mapped only when the principal type declares the
    /// attribute.
    #[serde(default = "default_permissions_claim")]
    pub permissions_claim: Option<String>,
    /// Attribute the permissions go to. Default `permissions`.
    #[serde(default = "default_permissions_attribute")]
    pub permissions_attribute: String,
    /// Further claims mapped to principal attributes. Each must be declared on the principal
    /// type with the same type.
    #[serde(default)]
    pub claims: Vec<ClaimAttribute>,
}

/// One claim mapped to a principal attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimAttribute {
    /// The claim's name (a top-level member of the payload, taken literally).
    pub claim: String,
    /// The attribute's name. Default: the claim's name.
    #[serde(default)]
    pub attribute: Option<String>,
    /// The Cedar type the claim is converted to.
    #[serde(rename = "type")]
    pub ty: ClaimType,
    /// Whether a token without the claim is refused. Default false (the attribute is left
    /// out, so the schema must declare it optional).
    #[serde(default)]
    pub required: bool,
}

/// Cedar types a claim can be mapped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimType {
    /// A JSON string.
    String,
    /// A JSON integer.
    Long,
    /// A JSON boolean.
    Bool,
    /// An array of strings, or one string.
    #[serde(rename = "Set<String>")]
    SetOfString,
    /// An array of integers.
    #[serde(rename = "Set<Long>")]
    SetOfLong,
}

impl ClaimType {
    fn cedar(self) -> CedarType {
        match self {
            Self::String => CedarType::String,
            Self::Long => CedarType::Long,
            Self::Bool => CedarType::Bool,
            Self::SetOfString => CedarType::Set(Box::new(CedarType::String)),
            Self::SetOfLong => CedarType::Set(Box::new(CedarType::Long)),
        }
    }
}

fn default_max_token_bytes() -> usize {
    DEFAULT_MAX_TOKEN_BYTES
}
fn default_leeway() -> u32 {
    DEFAULT_LEEWAY_SECONDS
}
fn default_principal_id_claim() -> String {
    "sub".into()
}
fn default_group_claim() -> Option<String> {
    Some("group".into())
}
fn default_scope_claim() -> Option<String> {
    Some("scope".into())
}
fn default_scope_attribute() -> String {
    "scope".into()
}
fn default_permissions_claim() -> Option<String> {
    Some("p1.permissions".into())
}
fn default_permissions_attribute() -> String {
    "permissions".into()
}

impl IssuerConfig {
    /// An entry with every default: the principal id from `sub`, groups from `group`, scopes
    /// and PingOne permissions where the schema declares them.
    pub fn new(issuer: impl Into<String>, token: TokenKind, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            token,
            audiences,
            token_type: None,
            insecure_skip_token_kind_claims: false,
            algorithms: Vec::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            principal_id_claim: default_principal_id_claim(),
            entity_id_prefix: None,
            principal_type: None,
            group_claim: default_group_claim(),
            group_type: None,
            group_id_prefix: None,
            scope_claim: default_scope_claim(),
            scope_attribute: default_scope_attribute(),
            permissions_claim: default_permissions_claim(),
            permissions_attribute: default_permissions_attribute(),
            claims: Vec::new(),
        }
    }
}

/// Why a trust configuration cannot be used with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No issuer is configured.
    #[error("no trusted issuer is configured")]
    NoIssuers,
    /// An entry's issuer is empty.
    #[error("issuer {index}: issuer is empty")]
    EmptyIssuer { index: usize },
    /// An entry has no audience.
    #[error("issuer {issuer}: no audience is configured")]
    NoAudience { issuer: String },
    /// The same issuer and token kind twice, or audiences shared between entries of one issuer.
    #[error("issuer {issuer}: entries overlap ({reason})")]
    Ambiguous { issuer: String, reason: String },
    /// Leeway above the maximum.
    #[error("issuer {issuer}: leeway of {leeway} s is over the maximum of {max} s")]
    LeewayTooLarge {
        issuer: String,
        leeway: u32,
        max: u32,
    },
    /// Size limit of zero.
    #[error("max_token_bytes must be positive")]
    ZeroTokenLimit,
    /// An entity type is not declared by the schema, or does not fit.
    #[error("issuer {issuer}: {reason}")]
    Schema { issuer: String, reason: String },
    /// An ID-token entry requires `typ` `at+jwt`, the access-token type.
    #[error("issuer {issuer}: an ID-token entry cannot require token_type {token_type}")]
    IdTokenType { issuer: String, token_type: String },
    /// Two issuers would map users or groups to the same Cedar entities.
    #[error(
        "issuers {first} and {second} map to the same {what}: give each its own {field}, such as \"{suggestion}\""
    )]
    SharedIdentity {
        first: String,
        second: String,
        what: &'static str,
        field: &'static str,
        suggestion: String,
    },
}

/// Why verified claims could not become a principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A claim the mapping needs is absent.
    #[error("token has no \"{claim}\" claim")]
    MissingClaim { claim: String },
    /// A claim has the wrong JSON shape.
    #[error("claim \"{claim}\" must be {expected}")]
    ClaimShape {
        claim: String,
        expected: &'static str,
    },
    /// The entities do not conform to the schema.
    #[error("principal does not conform to the schema: {0}")]
    Schema(String),
    /// No trusted issuer entry fits.
    #[error("issuer is not trusted for {0} tokens")]
    UnknownIssuer(TokenKind),
}

#[derive(Clone, Debug)]
struct AttributeMap {
    claim: String,
    attribute: String,
    ty: ClaimType,
    required: bool,
    /// Space-separated string to set (OAuth `scope`).
    space_separated: bool,
}

/// One issuer entry's token rules.
#[derive(Clone, Debug)]
struct IssuerRules {
    config: IssuerConfig,
    rules: ClaimRules,
}

/// One issuer entry's claim mapping, bound to a schema.
#[derive(Clone, Debug)]
struct IssuerPolicy {
    config: IssuerConfig,
    principal_type: EntityTypeName,
    group_type: Option<EntityTypeName>,
    attributes: Vec<AttributeMap>,
}

/// Token verification for a trust configuration, without any schema: what a client needs to
/// check tokens before it has a policy bundle. [`Trust`] adds the claim mapping.
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
            if entry.leeway_seconds > MAX_LEEWAY_SECONDS {
                return Err(ConfigError::LeewayTooLarge {
                    issuer: entry.issuer.clone(),
                    leeway: entry.leeway_seconds,
                    max: MAX_LEEWAY_SECONDS,
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
            let others = seen.entry(&entry.issuer).or_default();
            for other in others.iter() {
                let reason = if other.token == entry.token {
                    format!("two entries for {} tokens", entry.token)
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
            issuers.push(IssuerRules {
                rules: ClaimRules {
                    issuer: entry.issuer.clone(),
                    audiences: entry.audiences.clone(),
                    required_type: entry.token_type.clone(),
                    leeway: i64::from(entry.leeway_seconds),
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
        let entry = self.entry_for(jwt)?;
        entry.rules.check_type(jwt.header())?;
        let alg = jwt.algorithm();
        if !entry.config.algorithms.is_empty() && !entry.config.algorithms.contains(&alg) {
            return Err(TokenError::AlgorithmNotAllowed(alg));
        }
        let thumbprint = jwt.verify_signature(keys, backend).await?;
        let times = entry.rules.check_claims(jwt.claims(), now)?;
        entry.rules.check_kind(jwt.header(), jwt.claims())?;
        Ok(VerifiedToken {
            issuer: entry.config.issuer.clone(),
            kind: entry.config.token,
            algorithm: alg,
            key_thumbprint: thumbprint,
            claims: jwt.claims().clone(),
            expires_at: times.exp,
            issued_at: times.iat,
        })
    }

    /// Picks the issuer entry: by `iss`, and when the issuer has an ID-token and an
    /// access-token entry, by which one's audiences the token names.
    fn entry_for(&self, jwt: &UntrustedJwt<'_>) -> Result<&IssuerRules, TokenError> {
        let iss = jwt
            .unverified_issuer()
            .ok_or(TokenError::MissingClaim("iss"))?;
        let mut candidates = self.issuers.iter().filter(|p| p.config.issuer == iss);
        let first = candidates.next().ok_or(TokenError::WrongIssuer)?;
        let Some(second) = candidates.next() else {
            return Ok(first);
        };
        let auds: Vec<&str> = match jwt.claims().get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => Vec::new(),
            None => return Err(TokenError::MissingClaim("aud")),
        };
        let names = |p: &IssuerRules| p.config.audiences.iter().any(|a| auds.contains(&&**a));
        match (names(first), names(second)) {
            (true, false) => Ok(first),
            (false, true) => Ok(second),
            _ => Err(TokenError::WrongAudience),
        }
    }
}

/// A trust configuration checked against a bundle's schema: ready to verify tokens and map
/// them to principals. Build it once per isolate or page.
#[derive(Clone, Debug)]
pub struct Trust {
    verifier: Verifier,
    issuers: Vec<IssuerPolicy>,
    schema: cedar_policy::Schema,
}

impl Trust {
    /// Checks `config` (see [`Verifier::new`]) and binds it to `bundle`'s schema: entity
    /// types exist, the principal can be a member of the group type, mapped attributes are
    /// declared with the same type, and every required attribute of the principal type is
    /// filled by some mapping.
    pub fn bind(config: &TrustConfig, bundle: &Bundle) -> Result<Self, ConfigError> {
        let verifier = Verifier::new(config)?;
        let issuers = config
            .issuers
            .iter()
            .map(|entry| bind_issuer(entry, bundle))
            .collect::<Result<Vec<_>, _>>()?;
        check_distinct_identities(&issuers, config.insecure_shared_group_ids)?;
        Ok(Self {
            verifier,
            issuers,
            schema: bundle.schema().clone(),
        })
    }

    /// The verification half.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The distinct trusted issuer URLs (see [`Verifier::issuers`]).
    pub fn issuers(&self) -> Vec<&str> {
        self.verifier.issuers()
    }

    /// Step 1 (see [`Verifier::parse`]).
    pub fn parse<'t>(&self, token: &'t str) -> Result<UntrustedJwt<'t>, TokenError> {
        self.verifier.parse(token)
    }

    /// Step 2 (see [`Verifier::verify`]).
    pub async fn verify<B: SignatureBackend>(
        &self,
        jwt: &UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<VerifiedToken, TokenError> {
        self.verifier.verify(jwt, keys, backend, now).await
    }

    /// Step 3: maps a verified token's claims to the principal entity and its groups,
    /// checked against the schema.
    /// A token verified by any [`Verifier`] built from the same configuration maps here.
    pub fn principal(&self, token: &VerifiedToken) -> Result<Principal, MappingError> {
        let policy = self
            .issuers
            .iter()
            .find(|p| p.config.issuer == token.issuer && p.config.token == token.kind)
            .ok_or(MappingError::UnknownIssuer(token.kind))?;
        self.map(policy, token.claims())
    }

    /// Maps claims that were **not** verified here to a principal.
    ///
    /// # Security
    ///
    /// Nothing checks where `claims` came from. Use this only for claims that were verified
    /// elsewhere, for what-if evaluation and tests; authorizing real requests with it lets
    /// anyone choose their identity.
    #[cfg(feature = "testing")]
    pub fn insecure_principal_from_claims(
        &self,
        issuer: &str,
        kind: TokenKind,
        claims: &Map<String, Value>,
    ) -> Result<Principal, MappingError> {
        let policy = self
            .issuers
            .iter()
            .find(|p| p.config.issuer == issuer && p.config.token == kind)
            .ok_or(MappingError::UnknownIssuer(kind))?;
        self.map(policy, claims)
    }

    fn map(
        &self,
        policy: &IssuerPolicy,
        claims: &Map<String, Value>,
    ) -> Result<Principal, MappingError> {
        let config = &policy.config;
        let id_claim = &config.principal_id_claim;
        let subject = match claims.get(id_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => {
                return Err(MappingError::ClaimShape {
                    claim: id_claim.clone(),
                    expected: "a non-empty string",
                });
            }
            None => {
                return Err(MappingError::MissingClaim {
                    claim: id_claim.clone(),
                });
            }
        };
        let entity_id = format!(
            "{}{}",
            config.entity_id_prefix.as_deref().unwrap_or(""),
            subject
        );
        let uid = EntityUid::from_type_name_and_id(
            policy.principal_type.clone(),
            EntityId::new(&entity_id),
        );

        let mut groups = Vec::new();
        let mut parents = HashSet::new();
        let mut entities = Vec::new();
        if let (Some(claim), Some(group_type)) = (&config.group_claim, &policy.group_type) {
            for name in string_set(claims, claim, "an array of strings or a string")? {
                let id = format!(
                    "{}{}",
                    config.group_id_prefix.as_deref().unwrap_or(""),
                    name
                );
                let group =
                    EntityUid::from_type_name_and_id(group_type.clone(), EntityId::new(&id));
                if parents.insert(group.clone()) {
                    entities.push(Entity::new_no_attrs(group, HashSet::new()));
                    groups.push(name);
                }
            }
        }

        let mut attrs = HashMap::new();
        for map in &policy.attributes {
            if !claims.contains_key(&map.claim) {
                if map.required {
                    return Err(MappingError::MissingClaim {
                        claim: map.claim.clone(),
                    });
                }
                continue;
            }
            let value = if map.space_separated {
                let Some(Value::String(text)) = claims.get(&map.claim) else {
                    return Err(MappingError::ClaimShape {
                        claim: map.claim.clone(),
                        expected: "a space-separated string",
                    });
                };
                let mut scopes: Vec<&str> = text.split(' ').filter(|s| !s.is_empty()).collect();
                scopes.sort_unstable();
                scopes.dedup();
                RestrictedExpression::new_set(
                    scopes
                        .into_iter()
                        .map(|s| RestrictedExpression::new_string(s.to_owned())),
                )
            } else {
                claim_value(claims, &map.claim, map.ty)?
            };
            attrs.insert(map.attribute.clone(), value);
        }

        let principal = Entity::new(uid.clone(), attrs, parents)
            .map_err(|err| MappingError::Schema(err.to_string()))?;
        entities.push(principal);
        let entities = Entities::from_entities(entities, Some(&self.schema))
            .map_err(|err| MappingError::Schema(err.to_string()))?;
        Ok(Principal {
            uid,
            entities,
            subject,
            groups,
            issuer: config.issuer.clone(),
            kind: config.token,
        })
    }
}

/// AVP's entity id prefix for an issuer: the issuer without its scheme, then `|`.
fn avp_prefix(issuer: &str) -> String {
    let bare = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    format!("{bare}|")
}

/// Refuses entries of different issuers whose users (or groups) would be the same Cedar
/// entities: equal type and equal prefix (none counts as the empty prefix).
fn check_distinct_identities(
    issuers: &[IssuerPolicy],
    shared_groups: bool,
) -> Result<(), ConfigError> {
    let prefix = |p: &Option<String>| p.clone().unwrap_or_default();
    for (i, a) in issuers.iter().enumerate() {
        for b in &issuers[i + 1..] {
            if a.config.issuer == b.config.issuer {
                continue;
            }
            let shared = |what, field| ConfigError::SharedIdentity {
                first: a.config.issuer.clone(),
                second: b.config.issuer.clone(),
                what,
                field,
                suggestion: avp_prefix(&b.config.issuer),
            };
            if a.principal_type == b.principal_type
                && prefix(&a.config.entity_id_prefix) == prefix(&b.config.entity_id_prefix)
            {
                return Err(shared("principal ids", "entity_id_prefix"));
            }
            if !shared_groups
                && let (Some(ga), Some(gb)) = (&a.group_type, &b.group_type)
                && ga == gb
                && prefix(&a.config.group_id_prefix) == prefix(&b.config.group_id_prefix)
            {
                return Err(shared("group ids", "group_id_prefix"));
            }
        }
    }
    Ok(())
}

fn string_set(
    claims: &Map<String, Value>,
    claim: &str,
    expected: &'static str,
) -> Result<Vec<String>, MappingError> {
    let shape = || MappingError::ClaimShape {
        claim: claim.to_owned(),
        expected,
    };
    match claims.get(claim) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(shape))
            .collect(),
        Some(_) => Err(shape()),
    }
}

fn claim_value(
    claims: &Map<String, Value>,
    claim: &str,
    ty: ClaimType,
) -> Result<RestrictedExpression, MappingError> {
    let shape = |expected| MappingError::ClaimShape {
        claim: claim.to_owned(),
        expected,
    };
    let value = claims.get(claim).unwrap_or(&Value::Null);
    Ok(match ty {
        ClaimType::String => RestrictedExpression::new_string(
            value.as_str().ok_or_else(|| shape("a string"))?.to_owned(),
        ),
        ClaimType::Long => {
            RestrictedExpression::new_long(value.as_i64().ok_or_else(|| shape("an integer"))?)
        }
        ClaimType::Bool => {
            RestrictedExpression::new_bool(value.as_bool().ok_or_else(|| shape("a boolean"))?)
        }
        ClaimType::SetOfString => RestrictedExpression::new_set(
            string_set(claims, claim, "an array of strings or a string")?
                .into_iter()
                .map(RestrictedExpression::new_string),
        ),
        ClaimType::SetOfLong => {
            let items = value
                .as_array()
                .ok_or_else(|| shape("an array of integers"))?;
            let longs = items
                .iter()
                .map(|v| v.as_i64().ok_or_else(|| shape("an array of integers")))
                .collect::<Result<Vec<_>, _>>()?;
            RestrictedExpression::new_set(longs.into_iter().map(RestrictedExpression::new_long))
        }
    })
}

fn bind_issuer(entry: &IssuerConfig, bundle: &Bundle) -> Result<IssuerPolicy, ConfigError> {
    let schema_err = |reason: String| ConfigError::Schema {
        issuer: entry.issuer.clone(),
        reason,
    };
    let namespace = bundle.namespace();
    let qualify = |name: &Option<String>, default: &str| {
        crate::schema_info::qualify(namespace, name.as_deref().unwrap_or(default))
    };
    let info = bundle.schema_info();
    let principal_name = qualify(&entry.principal_type, "User");
    let principal_info: &EntityInfo = info
        .entities
        .get(&principal_name)
        .ok_or_else(|| schema_err(format!("principal type {principal_name} is not declared")))?;
    let principal_type = EntityTypeName::from_str(&principal_name)
        .map_err(|_| schema_err(format!("{principal_name} is not a valid type name")))?;

    let group_type = match &entry.group_claim {
        None => None,
        Some(_) => {
            let group_name = qualify(&entry.group_type, "UserGroup");
            if !info.entities.contains_key(&group_name) {
                return Err(schema_err(format!(
                    "group type {group_name} is not declared"
                )));
            }
            if !principal_info.member_of.contains(&group_name) {
                return Err(schema_err(format!(
                    "{principal_name} cannot be a member of {group_name}"
                )));
            }
            Some(
                EntityTypeName::from_str(&group_name)
                    .map_err(|_| schema_err(format!("{group_name} is not a valid type name")))?,
            )
        }
    };

    let declared = |attr: &str| principal_info.attributes.get(attr);
    let set_of_string = CedarType::Set(Box::new(CedarType::String));
    let mut attributes = Vec::new();
    let mut builtin = |claim: &Option<String>, attribute: &str, space_separated: bool| {
        let Some(claim) = claim else { return Ok(()) };
        match declared(attribute) {
            None => Ok(()),
            Some(Attribute { ty, .. }) if *ty == set_of_string => {
                attributes.push(AttributeMap {
                    claim: claim.clone(),
                    attribute: attribute.to_owned(),
                    ty: ClaimType::SetOfString,
                    required: false,
                    space_separated,
                });
                Ok(())
            }
            Some(Attribute { ty, .. }) => Err(schema_err(format!(
                "attribute {attribute} of {principal_name} is {}, not Set<String>",
                ty.describe()
            ))),
        }
    };
    builtin(&entry.scope_claim, &entry.scope_attribute, true)?;
    builtin(
        &entry.permissions_claim,
        &entry.permissions_attribute,
        false,
    )?;
    for claim in &entry.claims {
        let attribute = claim
            .attribute
            .clone()
            .unwrap_or_else(|| claim.claim.clone());
        match declared(&attribute) {
            None => {
                return Err(schema_err(format!(
                    "attribute {attribute} is not declared on {principal_name}"
                )));
            }
            Some(Attribute { ty, .. }) if *ty != claim.ty.cedar() => {
                return Err(schema_err(format!(
                    "attribute {attribute} of {principal_name} is {}, not {}",
                    ty.describe(),
                    claim.ty.cedar().describe()
                )));
            }
            Some(Attribute { required, .. }) if *required && !claim.required => {
                return Err(schema_err(format!(
                    "attribute {attribute} is required by the schema, so claim {} must be required",
                    claim.claim
                )));
            }
            Some(_) => {}
        }
        if attributes.iter().any(|a| a.attribute == attribute) {
            return Err(schema_err(format!("attribute {attribute} is mapped twice")));
        }
        attributes.push(AttributeMap {
            claim: claim.claim.clone(),
            attribute,
            ty: claim.ty,
            required: claim.required,
            space_separated: false,
        });
    }
    for (name, attr) in &principal_info.attributes {
        if attr.required && !attributes.iter().any(|a| &a.attribute == name) {
            return Err(schema_err(format!(
                "attribute {name} of {principal_name} is required but no claim is mapped to it"
            )));
        }
    }

    Ok(IssuerPolicy {
        config: entry.clone(),
        principal_type,
        group_type,
        attributes,
    })
}
