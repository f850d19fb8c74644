//! The trust configuration: which issuers are trusted, how their tokens are told apart and
//! how their claims become entities. An Amazon Verified Permissions "identity source", with
//! every choice spelled out and every default documented.

use crate::jwks::Algorithm;
use crate::schema_info::CedarType;
use crate::token::TokenKind;
use core::time::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Default size limit of a compact token: 16 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Default clock leeway for `exp`, `nbf` and `iat`: 60 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Largest leeway a configuration may ask for: 5 minutes.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Every issuer cedargate trusts, and the limits that apply before an issuer is known.
///
/// Deserializes from JSON or TOML. Unknown fields are refused so that a misspelt option is an
/// error rather than a silently ignored security setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Longest compact token accepted, in bytes; checked before any decoding.
    /// Default 16384 (16 KiB).
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
    /// Issuers that are one identity space under several names. A PingOne environment with
    /// a custom domain issues tokens for the same users and groups under its standard issuer
    /// (`https://auth.pingone.<tld>/<environment id>/as`) and under the custom domain's
    /// (`https://login.example.com/as`). Each list names two or more issuers of `issuers`
    /// whose users and groups are the same Cedar entities: their entries may map to the same
    /// principal and group types with the same prefixes (which bind otherwise refuses), so
    /// one person is one principal whichever name signed the token. Each issuer keeps its own
    /// keys, audiences and checks. Default: none, every issuer its own space.
    ///
    /// # Security
    ///
    /// A token of any issuer of a list can name any user or group of the others: list only
    /// names of one directory (one PingOne environment), never two providers.
    #[serde(default)]
    pub issuer_aliases: Vec<Vec<String>>,
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
    /// Which callers this entry accepts: `any` (default), `user` (a token whose `sub` is a
    /// string other than its `client_id`: a person, possibly through a client), or `client`
    /// (a service with a client-credentials token: no `sub`, or `sub` equal to `client_id`;
    /// PingOne leaves `sub` out). One issuer may have a `user` and a `client` entry of the
    /// same kind, each with its own principal type and id claim; any other overlap is
    /// refused when the configuration is bound. A `client` entry is for access tokens only.
    #[serde(default)]
    pub caller: Caller,
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
    #[serde(
        rename = "leeway_seconds",
        default = "default_leeway",
        deserialize_with = "seconds",
        serialize_with = "seconds_out"
    )]
    pub leeway: Duration,
    /// Claim whose string value is the principal's entity id. Default `sub`, and
    /// `client_id` on a `client` entry (see [`principal_id_claim`](Self::principal_id_claim)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id_claim: Option<String>,
    /// Prefix put before the principal id. Default none. Amazon Verified Permissions uses
    /// the issuer without `https://` followed by `|`.
    #[serde(default)]
    pub entity_id_prefix: Option<String>,
    /// Entity type of the principal. Default `<Namespace>::User`, and `<Namespace>::Client`
    /// on a `client` entry.
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
    /// Claim naming the client the token was issued to, mapped to a `String` attribute so
    /// that policies can say which services may act for which users. Default `client_id`.
    /// Mapped only when the principal type declares the attribute; also sent to the origin
    /// (`X-Cedargate-Client`).
    #[serde(default = "default_client_claim")]
    pub client_claim: Option<String>,
    /// Attribute the client goes to. Default `client`.
    #[serde(default = "default_client_attribute")]
    pub client_attribute: String,
    /// Further claims mapped to principal attributes. Each must be declared on the principal
    /// type with the same type.
    #[serde(default)]
    pub claims: Vec<ClaimAttribute>,
    /// A second token every request of this entry carries beside its own: the ID token in a
    /// header when this entry takes the access token from `Authorization`, or the reverse.
    /// Both are verified in full, must come from one issuer and name one subject, and are
    /// mapped into one principal, each value from the token [`CompanionConfig::from`] names.
    /// Default none: one token per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub companion: Option<CompanionConfig>,
}

/// The companion token of an issuer entry ([`IssuerConfig::companion`]): where it comes
/// from, the rules it is verified by (its own, as an entry's), and which token each mapped
/// value is read from.
///
/// A request to an entry with a companion is refused without it (`companion_missing`), with
/// one that fails verification (`companion_invalid`), of another issuer, another subject or,
/// for an ID token, an audience or `azp` that does not allow the access token's client
/// (`companion_mismatch`). A companion header sent with a token of an entry that takes
/// none is refused too (`companion_unexpected`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanionConfig {
    /// The companion's kind: the other kind than the entry's `token`. Required.
    pub token: TokenKind,
    /// The request header the companion comes in, its value the compact token alone (no
    /// scheme). Its name must start with `X-Cedargate-`: the edge never forwards such a
    /// header to the origin and no policy may read it as request context, so the token goes
    /// no further than the decision. Default `X-Cedargate-Id-Token` for an ID token,
    /// `X-Cedargate-Access-Token` for an access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The companion's issuer: default the entry's own. Another issuer only when both are
    /// one identity space ([`TrustConfig::issuer_aliases`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Accepted `aud` values of the companion, as an entry's `audiences`: the app's client
    /// ids for an ID token, the API's audience for an access token. Required. For an ID
    /// token, the access token's `client_id` must besides be in the ID token's `aud` (and
    /// equal its `azp` when it has one).
    pub audiences: Vec<String>,
    /// Required `typ` of the companion, as an entry's `token_type`. Default: not checked
    /// (the kinds are told apart by their claims anyway, which a companion never skips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Algorithms accepted for the companion. Default: every supported one the key allows.
    #[serde(default)]
    pub algorithms: Vec<Algorithm>,
    /// Clock leeway for the companion's `exp`, `nbf` and `iat`, in seconds. Default 60, at
    /// most 300.
    #[serde(
        rename = "leeway_seconds",
        default = "default_leeway",
        deserialize_with = "seconds",
        serialize_with = "seconds_out"
    )]
    pub leeway: Duration,
    /// Which token each mapped value is read from. Each `claims` mapping of the entry names
    /// its own (`from`, required with a companion).
    #[serde(default)]
    pub from: CompanionSources,
}

/// Which token each built-in mapping reads ([`CompanionConfig::from`]), by kind (`id` or
/// `access`), whichever of the two comes in `Authorization`. The principal's id always
/// comes from the token in `Authorization` (whose `sub` the companion's must equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanionSources {
    /// The groups (`group_claim`). Default `id`: PingOne puts `group` in the ID token only.
    #[serde(default = "id_kind")]
    pub group: TokenKind,
    /// The scopes (`scope_claim`). Default and only value `access`: an ID token carries none.
    #[serde(default = "access_kind")]
    pub scope: TokenKind,
    /// The permissions (`permissions_claim`). Default `access`.
    #[serde(default = "access_kind")]
    pub permissions: TokenKind,
    /// The client (`client_claim`). Default and only value `access`: the client the API was
    /// called for.
    #[serde(default = "access_kind")]
    pub client: TokenKind,
    /// The values an action's `token` context record reads (`acr`, `amr`, `auth_time`,
    /// `client_id`). Default `access`.
    #[serde(default = "access_kind")]
    pub context: TokenKind,
}

impl Default for CompanionSources {
    fn default() -> Self {
        Self {
            group: TokenKind::Id,
            scope: TokenKind::Access,
            permissions: TokenKind::Access,
            client: TokenKind::Access,
            context: TokenKind::Access,
        }
    }
}

fn id_kind() -> TokenKind {
    TokenKind::Id
}
fn access_kind() -> TokenKind {
    TokenKind::Access
}

/// The companion header of an ID token when none is configured.
pub const DEFAULT_ID_TOKEN_HEADER: &str = "x-cedargate-id-token";
/// The companion header of an access token when none is configured.
pub const DEFAULT_ACCESS_TOKEN_HEADER: &str = "x-cedargate-access-token";

impl CompanionConfig {
    /// A companion of kind `token` for `audiences`, every other setting at its default: the
    /// entry's issuer, the kind's default header, groups from the ID token and the rest from
    /// the access token.
    pub fn new(token: TokenKind, audiences: Vec<String>) -> Self {
        Self {
            token,
            header: None,
            issuer: None,
            audiences,
            token_type: None,
            algorithms: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            from: CompanionSources::default(),
        }
    }

    /// The header it comes in, lowercase: the configured one or its kind's default.
    pub fn header_name(&self) -> String {
        match (&self.header, self.token) {
            (Some(name), _) => name.to_ascii_lowercase(),
            (None, TokenKind::Id) => DEFAULT_ID_TOKEN_HEADER.into(),
            (None, TokenKind::Access) => DEFAULT_ACCESS_TOKEN_HEADER.into(),
        }
    }

    /// Its issuer: the configured one or `entry_issuer`.
    pub fn issuer_or<'a>(&'a self, entry_issuer: &'a str) -> &'a str {
        self.issuer.as_deref().unwrap_or(entry_issuer)
    }
}

/// Who calls with the tokens of an issuer entry (see [`IssuerConfig::caller`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Caller {
    /// Every token of the entry's kind.
    #[default]
    Any,
    /// A person: `sub` is a string other than `client_id`.
    User,
    /// A service with a client-credentials token: `client_id` is a string and `sub` is
    /// absent or equal to it.
    Client,
}

impl Caller {
    /// Whether a token with these (verified) claims is this entry's caller. A `sub` that is
    /// not a string is neither a user nor a client.
    pub fn accepts(self, claims: &Map<String, Value>) -> bool {
        let client_id = claims.get("client_id").and_then(Value::as_str);
        match (self, claims.get("sub")) {
            (Self::Any, _) => true,
            (Self::Client, None) => client_id.is_some(),
            (Self::Client, Some(Value::String(sub))) => client_id == Some(sub.as_str()),
            (Self::User, Some(Value::String(sub))) => client_id != Some(sub.as_str()),
            (Self::Client | Self::User, Some(_)) | (Self::User, None) => false,
        }
    }

    /// Whether some token could be accepted by both.
    pub(crate) fn overlaps(self, other: Self) -> bool {
        self == Self::Any || other == Self::Any || self == other
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Any => "any",
            Self::User => "user",
            Self::Client => "client",
        })
    }
}

/// One claim mapped to a principal attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimAttribute {
    /// The claim: a top-level member's name, taken literally (`department`,
    /// `p1.permissions`), or, starting with `/`, a JSON pointer (RFC 6901) to a value nested
    /// in objects (`/address/country`, `/realm_access/roles`).
    pub claim: String,
    /// The attribute's name. Default: the claim's name (a pointer's last segment).
    #[serde(default)]
    pub attribute: Option<String>,
    /// The Cedar type the claim is converted to.
    #[serde(rename = "type")]
    pub ty: ClaimType,
    /// Whether a token without the claim is refused. Default false (the attribute is left
    /// out, so the schema must declare it optional).
    #[serde(default)]
    pub required: bool,
    /// Which token the claim is read from (`id` or `access`) on an entry with a
    /// [`companion`](IssuerConfig::companion): required there, where either token could be
    /// meant, and refused on an entry without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TokenKind>,
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
    pub(crate) fn cedar(self) -> CedarType {
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
fn default_leeway() -> Duration {
    Duration::from_secs(60)
}

/// A duration setting written as a whole number of seconds (`leeway_seconds`).
fn seconds<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Duration, D::Error> {
    u64::deserialize(value)
        .map(Duration::from_secs)
        .map_err(|_| serde::de::Error::custom("expected a whole number of seconds, 0 or more"))
}

/// A duration setting written back as its whole seconds.
fn seconds_out<S: serde::Serializer>(value: &Duration, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_u64(value.as_secs())
}
fn default_client_claim() -> Option<String> {
    Some("client_id".into())
}
fn default_client_attribute() -> String {
    "client".into()
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
            caller: Caller::Any,
            audiences,
            token_type: None,
            insecure_skip_token_kind_claims: false,
            algorithms: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            principal_id_claim: None,
            entity_id_prefix: None,
            principal_type: None,
            group_claim: default_group_claim(),
            group_type: None,
            group_id_prefix: None,
            scope_claim: default_scope_claim(),
            scope_attribute: default_scope_attribute(),
            permissions_claim: default_permissions_claim(),
            permissions_attribute: default_permissions_attribute(),
            client_claim: default_client_claim(),
            client_attribute: default_client_attribute(),
            claims: Vec::new(),
            companion: None,
        }
    }

    /// The claim the principal's id comes from: the configured one, or `client_id` on a
    /// `client` entry and `sub` on the others.
    pub fn principal_id_claim(&self) -> &str {
        match (&self.principal_id_claim, self.caller) {
            (Some(claim), _) => claim,
            (None, Caller::Client) => "client_id",
            (None, _) => "sub",
        }
    }

    /// The principal's entity type as configured, or its default (`User`, `Client` on a
    /// `client` entry), without the namespace.
    pub fn principal_type_name(&self) -> &str {
        match (&self.principal_type, self.caller) {
            (Some(name), _) => name,
            (None, Caller::Client) => "Client",
            (None, _) => "User",
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
    #[error("issuer {issuer}: leeway of {} s is over the maximum of {} s", leeway.as_secs(), max.as_secs())]
    LeewayTooLarge {
        issuer: String,
        leeway: Duration,
        max: Duration,
    },
    /// Size limit of zero.
    #[error("max_token_bytes must be positive")]
    ZeroTokenLimit,
    /// An entity type is not declared by the schema, or does not fit.
    #[error("issuer {issuer}: {reason}")]
    Schema { issuer: String, reason: String },
    /// An `issuer_aliases` list is not two or more issuers of `issuers`, each in one list.
    #[error("issuer_aliases: {0}")]
    IssuerAliases(String),
    /// A claim setting is not a claim name or a well-formed claim path
    /// ([`crate::claim_path`]).
    #[error("issuer {issuer}: {reason}")]
    ClaimPath {
        issuer: String,
        reason: crate::claim_path::ClaimPathError,
    },
    /// An ID-token entry for `client` callers (client credentials yield access tokens only).
    #[error("issuer {issuer}: an ID-token entry cannot be for client callers")]
    ClientIdToken { issuer: String },
    /// An ID-token entry requires `typ` `at+jwt`, the access-token type.
    #[error("issuer {issuer}: an ID-token entry cannot require token_type {token_type}")]
    IdTokenType { issuer: String, token_type: String },
    /// The worker's request-context allow-list does not fill what the bundle declares.
    #[error(transparent)]
    Context(crate::context::ContextError),
    /// A companion setting that is refused ([`IssuerConfig::companion`]).
    #[error("issuer {issuer}: companion: {reason}")]
    Companion { issuer: String, reason: String },
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
