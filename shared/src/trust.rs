//! Step 3 of the pipeline: a trust configuration bound to a bundle's schema, and the mapping
//! from verified claims to the Cedar principal and its groups.

use crate::bundle::{Bundle, BundleVersion};
use crate::claim_path::{insert_at, replace_at, value_at};
use crate::context::TokenValues;
use crate::crypto::SignatureBackend;
use crate::jwks::KeySet;
pub use crate::principal::MappingError;
use crate::principal::{AttributeValue, Principal, PrincipalShape};
use crate::schema_info::{Attribute, CedarType, EntityInfo};
use crate::time::UnixTime;
use crate::token::{TokenError, TokenKind, UntrustedJwt, VerifiedToken};
use crate::trust_config::{ClaimType, ConfigError, IssuerConfig, TrustConfig};
use crate::verifier::Verifier;
use cedar_policy::{EntityId, EntityTypeName, EntityUid};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A set-valued claim of a token's mapping, with the token's values ([`Trust::set_claims`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetClaim {
    pub claim: String,
    /// The token's values, sorted, without repeats.
    pub values: Vec<String>,
    /// A space-separated string (OAuth `scope`) rather than an array.
    pub space_separated: bool,
    /// The group claim (its values are groups the principal is in).
    pub group: bool,
}

/// A principal for a what-if: mapped from a verified token's claims with some set-valued
/// claims replaced ([`Trust::hypothetical_principal`]), or from claims no token carried
/// ([`Trust::hypothetical_principal_from_claims`]). Deliberately not a [`Principal`]: only
/// [`crate::Gate::what_if`] and [`crate::Gate::what_if_request`] take it, so it cannot
/// authorize a request.
#[derive(Clone, Debug)]
pub struct HypotheticalPrincipal {
    principal: Principal,
}

impl HypotheticalPrincipal {
    /// The principal's entity, as the hypothetical claims map it.
    pub fn uid(&self) -> &EntityUid {
        self.principal.uid()
    }

    pub(crate) fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// At most this many bytes per value of a what-if.
pub const MAX_WHAT_IF_VALUE_BYTES: usize = 256;

/// Why a what-if principal could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatIfError {
    /// Only the set-valued claims of the token's mapping may be changed.
    #[error("\"{0}\" is not a set-valued claim of this token's mapping")]
    NotASetClaim(String),
    /// An empty value, a control character, a space in a space-separated claim, or too long.
    #[error("\"{value}\" cannot be a value of \"{claim}\"")]
    BadValue { claim: String, value: String },
    /// The changed claims do not map.
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

/// The group claim and the claims mapped to sets or space-separated attributes.
fn set_claim_names(policy: &IssuerPolicy) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    if let (Some(claim), Some(_)) = (&policy.config.group_claim, &policy.group_type) {
        names.push(claim);
    }
    for map in &policy.attributes {
        if (map.space_separated || map.ty == ClaimType::SetOfString)
            && !names.contains(&map.claim.as_str())
        {
            names.push(&map.claim);
        }
    }
    names
}

fn is_space_separated(policy: &IssuerPolicy, claim: &str) -> bool {
    policy
        .attributes
        .iter()
        .any(|m| m.claim == claim && m.space_separated)
}

/// A set-valued claim's strings, sorted, without repeats.
fn claim_values(value: Option<&Value>, space_separated: bool) -> Vec<String> {
    let mut values: Vec<String> = match value {
        Some(Value::String(text)) if space_separated => text
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    values.sort_unstable();
    values.dedup();
    values
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

/// One issuer entry's claim mapping, bound to a schema.
#[derive(Clone, Debug)]
struct IssuerPolicy {
    config: IssuerConfig,
    principal_type: EntityTypeName,
    group_type: Option<EntityTypeName>,
    attributes: Vec<AttributeMap>,
    /// Longer prefixes of other issuers' principals of the same type, which start with this
    /// entry's own: an id of this entry must not fall in their space.
    foreign_id_prefixes: Vec<String>,
    /// The same for groups (empty with `insecure_shared_group_ids`).
    foreign_group_prefixes: Vec<String>,
    /// With a companion ([`IssuerConfig::companion`]): the top-level claims the mapping
    /// reads from the companion, and whether the context's token values come from it.
    companion: Option<CompanionMapping>,
}

/// What of an entry's mapping reads its companion token.
#[derive(Clone, Debug)]
struct CompanionMapping {
    members: Vec<String>,
    context: bool,
}

/// A trust configuration checked against a bundle's schema: ready to verify tokens and map
/// them to principals. Build it once per isolate or page.
#[derive(Clone, Debug)]
pub struct Trust {
    verifier: Verifier,
    issuers: Vec<IssuerPolicy>,
    schema: Arc<cedar_policy::Schema>,
    /// The text version of the bundle the trust was bound to: the schema every principal
    /// it maps fits, which [`Principal::checked_for`] carries so that a decision with the
    /// same bundle does not check the principal against the schema again.
    checked_for: Arc<BundleVersion>,
    /// [`Trust::companion_headers`], found once when bound.
    companion_headers: Vec<String>,
}

impl Trust {
    /// Checks `config` (see [`Verifier::new`]) and binds it to `bundle`'s schema: entity
    /// types exist, the principal can be a member of the group type, mapped attributes are
    /// declared with the same type, and every required attribute of the principal type is
    /// filled by some mapping.
    pub fn bind(config: &TrustConfig, bundle: &Bundle) -> Result<Self, ConfigError> {
        let verifier = Verifier::new(config)?;
        let mut issuers = config
            .issuers
            .iter()
            .map(|entry| bind_issuer(entry, bundle))
            .collect::<Result<Vec<_>, _>>()?;
        let spaces = identity_spaces(config)?;
        check_distinct_identities(&issuers, config.insecure_shared_group_ids, &spaces)?;
        set_foreign_prefixes(&mut issuers, config.insecure_shared_group_ids, &spaces);
        let mut companion_headers: Vec<String> = Vec::new();
        for entry in &config.issuers {
            if let Some(c) = &entry.companion {
                let name = c.header_name();
                if !companion_headers.contains(&name) {
                    companion_headers.push(name);
                }
            }
        }
        Ok(Self {
            verifier,
            issuers,
            schema: Arc::new(bundle.schema().clone()),
            checked_for: Arc::new(bundle.text_version().clone()),
            companion_headers,
        })
    }

    /// The principal types of its issuer entries, without repeats.
    pub(crate) fn principal_types(&self) -> Vec<&EntityTypeName> {
        let mut types: Vec<&EntityTypeName> = Vec::new();
        for policy in &self.issuers {
            if !types.contains(&&policy.principal_type) {
                types.push(&policy.principal_type);
            }
        }
        types
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

    /// [`Trust::verify`], taking the parsed token (see [`Verifier::verify_owned`]).
    pub(crate) async fn verify_owned<B: SignatureBackend>(
        &self,
        jwt: UntrustedJwt<'_>,
        keys: &KeySet,
        backend: &B,
        now: UnixTime,
    ) -> Result<VerifiedToken, TokenError> {
        self.verifier.verify_owned(jwt, keys, backend, now).await
    }

    /// Step 3: maps a verified token's claims to the principal entity and its groups,
    /// checked against the schema.
    /// A token verified by any [`Verifier`] built from the same configuration maps here.
    pub fn principal(&self, token: &VerifiedToken) -> Result<Principal, MappingError> {
        let policy = self.policy_of(token)?;
        let (claims, context) = mapped_claims(policy, token)?;
        self.map(policy, &claims, context)
    }

    /// [`Trust::principal`] without building its Cedar entities yet: every claim is mapped
    /// and checked (a claim that does not map is refused here, as there), and the entities
    /// are built and checked against the schema when a decision first needs them
    /// ([`Principal::entities`]).
    pub fn principal_deferred(&self, token: &VerifiedToken) -> Result<Principal, MappingError> {
        let policy = self.policy_of(token)?;
        let (claims, context) = mapped_claims(policy, token)?;
        self.map_deferred(policy, &claims, context)
    }

    /// The header the companion of a token of this entry comes in, for every entry that
    /// takes one (lowercase, without repeats): what an enforcement point reads besides
    /// `Authorization`. Found once when the trust is bound: the edge asks on every request.
    pub fn companion_headers(&self) -> &[String] {
        &self.companion_headers
    }

    /// The companion configuration of the entry that accepted `token`, if it takes one.
    pub fn companion_of(&self, token: &VerifiedToken) -> Option<&crate::CompanionConfig> {
        self.policy_of(token).ok()?.config.companion.as_ref()
    }

    /// The values of a verified token's set-valued claims that its principal could lose:
    /// each group of the group claim and each member of a mapped set or space-separated
    /// attribute (`scope`, `p1.permissions`), with the principal mapped from the same
    /// claims without that one value. Taking a value away never gives the principal more, so
    /// this is safe for what-if answers ("which scopes did this allow rely on").
    pub fn principals_without_each_value(
        &self,
        token: &VerifiedToken,
    ) -> Result<Vec<(String, String, Principal)>, MappingError> {
        let policy = self.policy_of(token)?;
        let (mapped, context) = mapped_claims(policy, token)?;
        let claims = &*mapped;
        let set_claims = set_claim_names(policy);
        let mut out = Vec::new();
        for claim in set_claims {
            let space_separated = is_space_separated(policy, claim);
            for value in claim_values(value_at(claims, claim), space_separated) {
                let mut fewer = claims.clone();
                let rest = match value_at(claims, claim) {
                    Some(Value::String(text)) if space_separated => {
                        let rest: Vec<&str> = text
                            .split(' ')
                            .filter(|s| !s.is_empty() && *s != value)
                            .collect();
                        Some(Value::String(rest.join(" ")))
                    }
                    Some(Value::Array(items)) => Some(Value::Array(
                        items
                            .iter()
                            .filter(|i| i.as_str() != Some(value.as_str()))
                            .cloned()
                            .collect(),
                    )),
                    _ => None,
                };
                replace_at(&mut fewer, claim, rest);
                // A principal that cannot be mapped without the value is not offered: its
                // token would be refused, not decided.
                if let Ok(principal) = self.map(policy, &fewer, context) {
                    out.push((claim.to_owned(), value, principal));
                }
            }
        }
        Ok(out)
    }

    /// The set-valued claims of a verified token's mapping (the group claim, and claims
    /// mapped to a set or space-separated attribute such as `scope` and `p1.permissions`),
    /// with the token's values: what a what-if may change.
    pub fn set_claims(&self, token: &VerifiedToken) -> Result<Vec<SetClaim>, MappingError> {
        let policy = self.policy_of(token)?;
        let (claims, _) = mapped_claims(policy, token)?;
        Ok(set_claim_names(policy)
            .into_iter()
            .map(|claim| {
                let space_separated = is_space_separated(policy, claim);
                SetClaim {
                    claim: claim.to_owned(),
                    values: claim_values(value_at(&claims, claim), space_separated),
                    space_separated,
                    group: policy.config.group_claim.as_deref() == Some(claim),
                }
            })
            .collect())
    }

    /// The principal a verified token would map to if some of its set-valued claims (see
    /// [`Trust::set_claims`]) had other values; every other claim stays the token's. The
    /// result can only be evaluated with [`crate::Gate::what_if`], never authorize a request.
    pub fn hypothetical_principal(
        &self,
        token: &VerifiedToken,
        replace: &BTreeMap<String, Vec<String>>,
    ) -> Result<HypotheticalPrincipal, WhatIfError> {
        let policy = self.policy_of(token)?;
        let names = set_claim_names(policy);
        let (mapped, context) = mapped_claims(policy, token)?;
        let mut claims = mapped.into_owned();
        for (claim, values) in replace {
            if !names.contains(&claim.as_str()) {
                return Err(WhatIfError::NotASetClaim(claim.clone()));
            }
            let space_separated = is_space_separated(policy, claim);
            for value in values {
                let bad = value.is_empty()
                    || value.len() > MAX_WHAT_IF_VALUE_BYTES
                    || value.chars().any(char::is_control)
                    || (space_separated && value.contains(' '));
                if bad {
                    return Err(WhatIfError::BadValue {
                        claim: claim.clone(),
                        value: value.chars().take(40).collect(),
                    });
                }
            }
            let mut values = values.clone();
            values.sort_unstable();
            values.dedup();
            let value = if space_separated {
                Value::String(values.join(" "))
            } else {
                Value::Array(values.into_iter().map(Value::String).collect())
            };
            insert_at(&mut claims, claim, value);
        }
        Ok(HypotheticalPrincipal {
            principal: self.map(policy, &claims, context)?,
        })
    }

    /// The principal claims that no token carried would map to, for the issuer entry of
    /// `issuer` and `kind` that accepts such a caller ([`crate::Caller`]), as
    /// [`Trust::principal`] maps a verified token's: for decisions about requests that are not
    /// being made (`cedargate diff-decisions` replays past requests and decision tables
    /// through two bundles). Nothing checks where the claims came from, which is why the
    /// result is a [`HypotheticalPrincipal`]: only [`crate::Gate::what_if`] and
    /// [`crate::Gate::what_if_request`] take it, and it cannot authorize a request.
    pub fn hypothetical_principal_from_claims(
        &self,
        issuer: &str,
        kind: TokenKind,
        claims: &Map<String, Value>,
    ) -> Result<HypotheticalPrincipal, MappingError> {
        let policy = self.policy_for_claims(issuer, kind, claims)?;
        if policy.companion.is_some() {
            return Err(MappingError::NoCompanion);
        }
        Ok(HypotheticalPrincipal {
            principal: self.map(policy, claims, claims)?,
        })
    }

    /// [`Trust::hypothetical_principal_from_claims`] for an entry that takes a companion
    /// ([`IssuerConfig::companion`]): `claims` those of the token in `Authorization`,
    /// `companion` those of its companion, mapped as a verified pair would be (the pair's
    /// checks, same subject and client, are not made: nothing here was verified).
    pub fn hypothetical_principal_from_pair(
        &self,
        issuer: &str,
        kind: TokenKind,
        claims: &Map<String, Value>,
        companion: &Map<String, Value>,
    ) -> Result<HypotheticalPrincipal, MappingError> {
        let policy = self.policy_for_claims(issuer, kind, claims)?;
        let mapping = policy.companion.as_ref().ok_or(MappingError::NoCompanion)?;
        let merged = crate::companion::mapping_claims(claims, companion, &mapping.members);
        let context = if mapping.context { companion } else { claims };
        Ok(HypotheticalPrincipal {
            principal: self.map(policy, &merged, context)?,
        })
    }

    /// The entry of `issuer` and `kind` whose callers include the one `claims` describe.
    fn policy_for_claims(
        &self,
        issuer: &str,
        kind: TokenKind,
        claims: &Map<String, Value>,
    ) -> Result<&IssuerPolicy, MappingError> {
        self.issuers
            .iter()
            .find(|p| {
                p.config.issuer == issuer
                    && p.config.token == kind
                    && p.config.caller.accepts(claims)
            })
            .ok_or(MappingError::UnknownIssuer(kind))
    }

    /// The issuer entry that accepted a verified token.
    fn policy_of(&self, token: &VerifiedToken) -> Result<&IssuerPolicy, MappingError> {
        self.issuers
            .get(token.entry)
            .filter(|p| p.config.issuer == token.issuer && p.config.token == token.kind)
            .ok_or(MappingError::UnknownIssuer(token.kind))
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
        self.map(
            self.policy_for_claims(issuer, kind, claims)?,
            claims,
            claims,
        )
    }

    /// The claims mapped to a principal whose entities are built and checked.
    fn map(
        &self,
        policy: &IssuerPolicy,
        claims: &Map<String, Value>,
        context: &Map<String, Value>,
    ) -> Result<Principal, MappingError> {
        let principal = self.map_deferred(policy, claims, context)?;
        principal.entities()?;
        Ok(principal)
    }

    /// The claims mapped to a principal whose entities are built when first needed; the
    /// request context's token values are read from `context`.
    fn map_deferred(
        &self,
        policy: &IssuerPolicy,
        claims: &Map<String, Value>,
        context: &Map<String, Value>,
    ) -> Result<Principal, MappingError> {
        let config = &policy.config;
        let id_claim = config.principal_id_claim();
        let subject = match value_at(claims, id_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => {
                return Err(MappingError::ClaimShape {
                    claim: id_claim.to_owned(),
                    expected: "a non-empty string",
                });
            }
            None => {
                return Err(MappingError::MissingClaim {
                    claim: id_claim.to_owned(),
                });
            }
        };
        let entity_id = format!(
            "{}{}",
            config.entity_id_prefix.as_deref().unwrap_or(""),
            subject
        );
        if in_foreign_space(&entity_id, &policy.foreign_id_prefixes) {
            return Err(MappingError::ForeignIdentity {
                claim: id_claim.to_owned(),
            });
        }
        let uid = EntityUid::from_type_name_and_id(
            policy.principal_type.clone(),
            EntityId::new(&entity_id),
        );

        let mut groups = Vec::new();
        let mut parents = Vec::new();
        let mut seen = HashSet::new();
        if let (Some(claim), Some(group_type)) = (&config.group_claim, &policy.group_type) {
            for name in string_set(claims, claim, "an array of strings or a string")? {
                let id = format!(
                    "{}{}",
                    config.group_id_prefix.as_deref().unwrap_or(""),
                    name
                );
                if in_foreign_space(&id, &policy.foreign_group_prefixes) {
                    return Err(MappingError::ForeignIdentity {
                        claim: claim.clone(),
                    });
                }
                let group =
                    EntityUid::from_type_name_and_id(group_type.clone(), EntityId::new(&id));
                if seen.insert(id) {
                    parents.push(group);
                    groups.push(name);
                }
            }
        }
        parents.sort_unstable();

        let mut attributes = Vec::with_capacity(policy.attributes.len());
        for map in &policy.attributes {
            if value_at(claims, &map.claim).is_none() {
                if map.required {
                    return Err(MappingError::MissingClaim {
                        claim: map.claim.clone(),
                    });
                }
                continue;
            }
            let value = if map.space_separated {
                let Some(Value::String(text)) = value_at(claims, &map.claim) else {
                    return Err(MappingError::ClaimShape {
                        claim: map.claim.clone(),
                        expected: "a space-separated string",
                    });
                };
                let mut scopes: Vec<String> = text
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                scopes.sort_unstable();
                scopes.dedup();
                AttributeValue::Strings(scopes)
            } else {
                claim_value(claims, &map.claim, map.ty)?
            };
            attributes.push((map.attribute.clone(), value));
        }
        attributes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let shape = PrincipalShape {
            ty: policy.principal_type.clone(),
            parents,
            attributes,
        };
        let client = config
            .client_claim
            .as_ref()
            .and_then(|claim| value_at(claims, claim))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Principal {
            uid,
            shape: Arc::new(shape),
            schema: Arc::clone(&self.schema),
            entities: std::sync::OnceLock::new(),
            subject,
            client,
            caller: config.caller,
            groups,
            issuer: config.issuer.clone(),
            kind: config.token,
            token_values: TokenValues::from_claims(context),
            checked_for: Arc::clone(&self.checked_for),
            joined: std::sync::OnceLock::new(),
        })
    }
}

/// The claims a verified token is mapped from, and those its context's token values come
/// from: its own, or with a companion, the pair's ([`crate::companion::mapping_claims`]).
/// A token of an entry that takes a companion, verified without one, maps to nothing.
type Claims = Map<String, Value>;

fn mapped_claims<'t>(
    policy: &IssuerPolicy,
    token: &'t VerifiedToken,
) -> Result<(Cow<'t, Claims>, &'t Claims), MappingError> {
    match (&policy.companion, token.companion()) {
        (None, None) => Ok((Cow::Borrowed(token.claims()), token.claims())),
        (Some(mapping), Some(companion)) => Ok((
            Cow::Owned(crate::companion::mapping_claims(
                token.claims(),
                companion.claims(),
                &mapping.members,
            )),
            if mapping.context {
                companion.claims()
            } else {
                token.claims()
            },
        )),
        (Some(_), None) => Err(MappingError::NoCompanion),
        (None, Some(_)) => Err(MappingError::UnknownIssuer(token.kind)),
    }
}

/// AVP's entity id prefix for an issuer: the issuer without its scheme, then `|`.
fn avp_prefix(issuer: &str) -> String {
    let bare = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    format!("{bare}|")
}

/// Which issuers are one identity space ([`TrustConfig::issuer_aliases`]): an issuer and
/// the index of its list. Each list names two or more configured issuers, each in one list.
fn identity_spaces(config: &TrustConfig) -> Result<HashMap<&str, usize>, ConfigError> {
    let mut spaces = HashMap::new();
    for (i, list) in config.issuer_aliases.iter().enumerate() {
        if list.len() < 2 {
            return Err(ConfigError::IssuerAliases(format!(
                "list {i} names {} issuer(s); an alias needs two or more",
                list.len()
            )));
        }
        for issuer in list {
            if !config.issuers.iter().any(|e| e.issuer == *issuer) {
                return Err(ConfigError::IssuerAliases(format!(
                    "{issuer} is not an issuer of issuers"
                )));
            }
            if spaces.insert(issuer.as_str(), i).is_some() {
                return Err(ConfigError::IssuerAliases(format!(
                    "{issuer} is named twice"
                )));
            }
        }
    }
    Ok(spaces)
}

/// Whether two issuers' users and groups are the same Cedar entities by configuration: the
/// same issuer, or aliases of one identity space.
fn one_space(a: &str, b: &str, spaces: &HashMap<&str, usize>) -> bool {
    a == b
        || spaces
            .get(a)
            .is_some_and(|space| spaces.get(b) == Some(space))
}

/// Refuses entries of different issuers whose users (or groups) would be the same Cedar
/// entities: equal type and equal prefix (none counts as the empty prefix), unless the
/// issuers are aliases of one identity space.
fn check_distinct_identities(
    issuers: &[IssuerPolicy],
    shared_groups: bool,
    spaces: &HashMap<&str, usize>,
) -> Result<(), ConfigError> {
    let prefix = |p: &Option<String>| p.clone().unwrap_or_default();
    for (i, a) in issuers.iter().enumerate() {
        for b in &issuers[i + 1..] {
            if one_space(&a.config.issuer, &b.config.issuer, spaces) {
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

/// For each entry, the prefixes of other issuers' principals (and groups) of the same type
/// that strictly extend the entry's own prefix (none counts as the empty prefix). Equal
/// prefixes are refused by [`check_distinct_identities`]; these are the ones it lets through,
/// such as an issuer without prefix beside one with `idp.example|`, whose ids [`Trust::map`]
/// keeps apart by refusing a value that falls in the longer prefix's space.
fn set_foreign_prefixes(
    issuers: &mut [IssuerPolicy],
    shared_groups: bool,
    spaces: &HashMap<&str, usize>,
) {
    let prefix = |p: &Option<String>| p.clone().unwrap_or_default();
    let extends =
        |longer: &str, shorter: &str| longer.len() > shorter.len() && longer.starts_with(shorter);
    let mut found = Vec::with_capacity(issuers.len());
    for a in issuers.iter() {
        let mut ids = Vec::new();
        let mut groups = Vec::new();
        for b in issuers
            .iter()
            .filter(|b| !one_space(&a.config.issuer, &b.config.issuer, spaces))
        {
            let (own, theirs) = (
                prefix(&a.config.entity_id_prefix),
                prefix(&b.config.entity_id_prefix),
            );
            if a.principal_type == b.principal_type && extends(&theirs, &own) {
                ids.push(theirs);
            }
            let (own, theirs) = (
                prefix(&a.config.group_id_prefix),
                prefix(&b.config.group_id_prefix),
            );
            if !shared_groups
                && a.group_type.is_some()
                && a.group_type == b.group_type
                && extends(&theirs, &own)
            {
                groups.push(theirs);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        groups.sort_unstable();
        groups.dedup();
        found.push((ids, groups));
    }
    for (issuer, (ids, groups)) in issuers.iter_mut().zip(found) {
        issuer.foreign_id_prefixes = ids;
        issuer.foreign_group_prefixes = groups;
    }
}

fn in_foreign_space(id: &str, foreign_prefixes: &[String]) -> bool {
    foreign_prefixes.iter().any(|p| id.starts_with(p.as_str()))
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
    match value_at(claims, claim) {
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
) -> Result<AttributeValue, MappingError> {
    let shape = |expected| MappingError::ClaimShape {
        claim: claim.to_owned(),
        expected,
    };
    let value = value_at(claims, claim).unwrap_or(&Value::Null);
    Ok(match ty {
        ClaimType::String => {
            AttributeValue::String(value.as_str().ok_or_else(|| shape("a string"))?.to_owned())
        }
        ClaimType::Long => AttributeValue::Long(value.as_i64().ok_or_else(|| shape("an integer"))?),
        ClaimType::Bool => AttributeValue::Bool(value.as_bool().ok_or_else(|| shape("a boolean"))?),
        ClaimType::SetOfString => {
            let mut items = string_set(claims, claim, "an array of strings or a string")?;
            items.sort_unstable();
            items.dedup();
            AttributeValue::Strings(items)
        }
        ClaimType::SetOfLong => {
            let items = value
                .as_array()
                .ok_or_else(|| shape("an array of integers"))?;
            let mut longs = items
                .iter()
                .map(|v| v.as_i64().ok_or_else(|| shape("an array of integers")))
                .collect::<Result<Vec<_>, _>>()?;
            longs.sort_unstable();
            longs.dedup();
            AttributeValue::Longs(longs)
        }
    })
}

fn bind_issuer(entry: &IssuerConfig, bundle: &Bundle) -> Result<IssuerPolicy, ConfigError> {
    let companion = companion_mapping(entry)?;
    let schema_err = |reason: String| ConfigError::Schema {
        issuer: entry.issuer.clone(),
        reason,
    };
    let settings = [
        Some(entry.principal_id_claim()),
        entry.group_claim.as_deref(),
        entry.scope_claim.as_deref(),
        entry.permissions_claim.as_deref(),
        entry.client_claim.as_deref(),
    ];
    for claim in settings
        .into_iter()
        .flatten()
        .chain(entry.claims.iter().map(|c| c.claim.as_str()))
    {
        crate::claim_path::check(claim).map_err(|reason| ConfigError::ClaimPath {
            issuer: entry.issuer.clone(),
            reason,
        })?;
    }
    let namespace = bundle.namespace();
    let qualify = |name: &Option<String>, default: &str| {
        crate::schema_info::qualify(namespace, name.as_deref().unwrap_or(default))
    };
    let info = bundle.schema_info();
    let principal_name = crate::schema_info::qualify(namespace, entry.principal_type_name());
    let principal_info: &EntityInfo = info
        .entities
        .get(&principal_name)
        .ok_or_else(|| schema_err(format!("principal type {principal_name} is not declared")))?;
    let principal_type = bundle
        .entity_type(&principal_name)
        .ok_or_else(|| schema_err(format!("principal type {principal_name} is not declared")))?;

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
                    "{principal_name} cannot be a member of {group_name} (set group_claim to null for an entry without groups)"
                )));
            }
            Some(
                bundle.entity_type(&group_name).ok_or_else(|| {
                    schema_err(format!("group type {group_name} is not declared"))
                })?,
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
    if let Some(claim) = &entry.client_claim {
        match declared(&entry.client_attribute) {
            None => {}
            Some(Attribute { ty, .. }) if *ty == CedarType::String => {
                attributes.push(AttributeMap {
                    claim: claim.clone(),
                    attribute: entry.client_attribute.clone(),
                    ty: ClaimType::String,
                    required: false,
                    space_separated: false,
                });
            }
            Some(Attribute { ty, .. }) => {
                return Err(schema_err(format!(
                    "attribute {} of {principal_name} is {}, not String",
                    entry.client_attribute,
                    ty.describe()
                )));
            }
        }
    }
    for claim in &entry.claims {
        let attribute = claim
            .attribute
            .clone()
            .unwrap_or_else(|| crate::claim_path::default_attribute(&claim.claim));
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
        attributes.push(AttributeMap {
            claim: claim.claim.clone(),
            attribute,
            ty: claim.ty,
            required: claim.required,
            space_separated: false,
        });
    }
    // One claim per attribute, built-in mappings (scope, permissions, client) included: two
    // would overwrite each other depending on which claims a token carries.
    for (i, a) in attributes.iter().enumerate() {
        if attributes[..i].iter().any(|b| b.attribute == a.attribute) {
            return Err(schema_err(format!(
                "attribute {} is mapped twice",
                a.attribute
            )));
        }
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
        foreign_id_prefixes: Vec::new(),
        foreign_group_prefixes: Vec::new(),
        companion,
    })
}

/// Which claims of an entry's mapping its companion gives ([`IssuerConfig::companion`]).
/// Refused: a `claims` mapping that does not say which token it reads (`from`) on an entry
/// with a companion, or that says it on one without; scopes or the client from an ID token
/// (which carries neither); and one top-level claim read from both tokens, which the pair's
/// claims could not hold (the principal id is always read from the token in
/// `Authorization`).
fn companion_mapping(entry: &IssuerConfig) -> Result<Option<CompanionMapping>, ConfigError> {
    let refuse = |reason: String| ConfigError::Companion {
        issuer: entry.issuer.clone(),
        reason,
    };
    let Some(companion) = &entry.companion else {
        if let Some(claim) = entry.claims.iter().find(|c| c.from.is_some()) {
            return Err(ConfigError::Schema {
                issuer: entry.issuer.clone(),
                reason: format!(
                    "claim {} names a token (from) but the entry takes no companion",
                    claim.claim
                ),
            });
        }
        return Ok(None);
    };
    let from = &companion.from;
    if from.scope == TokenKind::Id || from.client == TokenKind::Id {
        return Err(refuse(
            "scopes and the client are read from the access token (from.scope and \
             from.client must be access): an ID token carries neither"
                .into(),
        ));
    }
    let mut reads: Vec<(&str, TokenKind)> = vec![(entry.principal_id_claim(), entry.token)];
    for (claim, kind) in [
        (&entry.group_claim, from.group),
        (&entry.scope_claim, from.scope),
        (&entry.permissions_claim, from.permissions),
        (&entry.client_claim, from.client),
    ] {
        if let Some(claim) = claim {
            reads.push((claim, kind));
        }
    }
    for claim in &entry.claims {
        let kind = claim.from.ok_or_else(|| {
            refuse(format!(
                "claim {} must say which token it is read from (from = \"id\" or \"access\")",
                claim.claim
            ))
        })?;
        reads.push((&claim.claim, kind));
    }
    let mut members: Vec<(String, TokenKind)> = Vec::new();
    for (claim, kind) in reads {
        let member = crate::companion::top_level(claim);
        match members.iter().find(|(m, _)| *m == member) {
            Some((_, other)) if *other != kind => {
                return Err(refuse(format!(
                    "claim {member} is read from both tokens (the {other} token and the {kind} token)"
                )));
            }
            Some(_) => {}
            None => members.push((member, kind)),
        }
    }
    Ok(Some(CompanionMapping {
        members: members
            .into_iter()
            .filter(|(_, kind)| *kind == companion.token)
            .map(|(member, _)| member)
            .collect(),
        context: from.context == companion.token,
    }))
}
