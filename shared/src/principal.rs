//! The principal a verified token becomes: the Cedar entity, its groups, and the entities a
//! request is evaluated against. Made by [`crate::Trust::principal`]; read by
//! [`crate::Bundle::authorize`].
//!
//! A principal is mapped in two steps: the claims become plain values first (its uid and
//! its [`PrincipalShape`]: type, groups and attribute values), and Cedar's entities are
//! built from them, checked against the schema, when first needed
//! ([`Principal::entities`]). [`crate::Trust::principal`] builds them at once; the edge's
//! [`crate::Gate::authenticate_deferred_with`] leaves them until a decision needs them, so a
//! decision shared between principals of the same shape ([`crate::Gate::decision_key`])
//! costs no Cedar work.

use crate::bundle::BundleVersion;
use crate::context::TokenValues;
use crate::token::TokenKind;
use crate::trust_config::Caller;
use cedar_policy::{Entities, Entity, EntityTypeName, EntityUid, RestrictedExpression, Schema};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

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
    /// The claim's value, with this issuer's prefix, starts with the longer prefix of
    /// another issuer: it would name that issuer's user or group.
    #[error("claim \"{claim}\" names an entity in another issuer's id space")]
    ForeignIdentity { claim: String },
    /// The token's entry takes a companion token ([`crate::IssuerConfig::companion`]) and
    /// none was verified with it.
    #[error("the token's entry takes a companion token and none was verified with it")]
    NoCompanion,
}

/// A mapped attribute's value, as the claims gave it. Sets are sorted and without repeats,
/// as Cedar compares them, so two values that are the same Cedar value are equal here too.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AttributeValue {
    String(String),
    Long(i64),
    Bool(bool),
    Strings(Vec<String>),
    Longs(Vec<i64>),
}

impl AttributeValue {
    fn expression(&self) -> RestrictedExpression {
        match self {
            Self::String(s) => RestrictedExpression::new_string(s.clone()),
            Self::Long(n) => RestrictedExpression::new_long(*n),
            Self::Bool(b) => RestrictedExpression::new_bool(*b),
            Self::Strings(items) => RestrictedExpression::new_set(
                items.iter().cloned().map(RestrictedExpression::new_string),
            ),
            Self::Longs(items) => RestrictedExpression::new_set(
                items.iter().copied().map(RestrictedExpression::new_long),
            ),
        }
    }
}

/// Everything a decision can see of a principal but its id: its entity type, its parents
/// (the groups its token names) and its attribute values. Two principals of the same shape
/// are the same entity up to their ids; when nothing in a bundle can tell ids of their type
/// apart, they get the same decisions (`crate::sharing`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrincipalShape {
    pub(crate) ty: EntityTypeName,
    /// Sorted, without repeats.
    pub(crate) parents: Vec<EntityUid>,
    /// Sorted by name.
    pub(crate) attributes: Vec<(String, AttributeValue)>,
}

impl PrincipalShape {
    /// The principal's entity type.
    pub fn entity_type(&self) -> &EntityTypeName {
        &self.ty
    }

    /// The principal entity `uid` of this shape and its groups.
    fn cedar_entities(&self, uid: &EntityUid) -> Result<Vec<Entity>, MappingError> {
        let mut entities: Vec<Entity> = self
            .parents
            .iter()
            .map(|group| Entity::new_no_attrs(group.clone(), HashSet::new()))
            .collect();
        let attrs: HashMap<String, RestrictedExpression> = self
            .attributes
            .iter()
            .map(|(name, value)| (name.clone(), value.expression()))
            .collect();
        let parents: HashSet<EntityUid> = self.parents.iter().cloned().collect();
        let principal = Entity::new(uid.clone(), attrs, parents)
            .map_err(|err| MappingError::Schema(err.to_string()))?;
        entities.push(principal);
        Ok(entities)
    }

    /// The principal entity `uid` of this shape and its groups, checked against `schema`,
    /// with the schema's action entities ([`closed_store`]).
    fn entities(&self, uid: &EntityUid, schema: &Schema) -> Result<Entities, MappingError> {
        closed_store(self.cedar_entities(uid)?, schema)
            .map_err(|err| MappingError::Schema(err.to_string()))
    }
}

/// A store of `entities` checked against `schema`, with the schema's action entities, as
/// cedar-policy's `Entities::from_entities(entities, Some(schema))` makes it, but without
/// computing the transitive closure of the hierarchy, which cedar-policy always does and
/// which costs as much as the schema check: a principal's entities are closed already. The
/// principal's parents are the token's groups, and the groups have no parents; so every
/// ancestor of the principal is a parent, and there is no cycle (a group with the
/// principal's uid would be a second entity of that uid, which the store refuses). The
/// action entities come from the schema with their closure computed. Tests compare the
/// store with cedar-policy's over the decision tables (`Principal::entities_recomputed`).
fn closed_store(entities: Vec<Entity>, schema: &Schema) -> Result<Entities, String> {
    use cedar_policy_core::entities::{Entities as CoreEntities, TCComputation};
    CoreEntities::from_entities(
        entities.iter().map(|entity| entity.as_ref().clone()),
        Some(&cedar_policy_core::validator::CoreSchema::new(
            schema.as_ref(),
        )),
        TCComputation::AssumeAlreadyComputed,
        cedar_policy_core::extensions::Extensions::all_available(),
    )
    .map(Entities::from)
    .map_err(|err| err.to_string())
}

/// The Cedar principal for one verified token: the user entity, its groups, and the
/// entities a request is evaluated against.
#[derive(Clone)]
pub struct Principal {
    pub(crate) uid: EntityUid,
    pub(crate) shape: Arc<PrincipalShape>,
    /// The schema of the trust that mapped it, which its entities are checked against.
    pub(crate) schema: Arc<Schema>,
    /// Built from `uid` and `shape` when first needed ([`Principal::entities`]).
    pub(crate) entities: OnceLock<Result<Entities, MappingError>>,
    pub(crate) subject: String,
    pub(crate) client: Option<String>,
    pub(crate) caller: Caller,
    pub(crate) groups: Vec<String>,
    pub(crate) issuer: String,
    pub(crate) kind: TokenKind,
    /// The claims a request context may carry (`acr`, `amr`, `auth_time`, `client_id`).
    pub(crate) token_values: TokenValues,
    /// The text version of the bundle whose schema `entities` fit: the bundle the trust
    /// that mapped it was bound to. A decision with a bundle of this version joins them with
    /// its entity data without checking them against the schema again
    /// (`decision::Bundle::join`); any other bundle checks them.
    pub(crate) checked_for: Arc<BundleVersion>,
    /// The join of `entities` with the entity data of the first bundle with data that
    /// decided for this principal, by that bundle's version (which covers its text and its
    /// data): made once per token and bundle, not per decision (`decision::Bundle::join`).
    pub(crate) joined: OnceLock<(BundleVersion, Result<Entities, String>)>,
}

impl Principal {
    /// The principal's entity uid, e.g. `PetStore::User::"alice"`.
    pub fn uid(&self) -> &EntityUid {
        &self.uid
    }

    /// The principal id claim's value (without prefix).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The client the token was issued to (the `client_claim`, `client_id` by default), if
    /// the token names one: the service itself for a client-credentials token, the app a
    /// person signed in with otherwise.
    pub fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// Which callers the issuer entry that accepted the token takes (`client` for a service
    /// with a client-credentials token).
    pub fn caller(&self) -> Caller {
        self.caller
    }

    /// Group names from the group claim (without prefix), in claim order, deduplicated.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The issuer that vouched for it.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The kind of token it came from.
    pub fn token_kind(&self) -> TokenKind {
        self.kind
    }

    /// Its type, groups and attribute values: everything a decision sees of it but its id.
    pub fn shape(&self) -> &PrincipalShape {
        &self.shape
    }

    /// The principal, its groups and the schema's action entities, checked against the
    /// schema: built on the first call (at once by [`crate::Trust::principal`]), then kept.
    /// The error is the one [`crate::Trust::principal`] refuses the token with.
    pub fn entities(&self) -> Result<&Entities, MappingError> {
        self.entities
            .get_or_init(|| self.shape.entities(&self.uid, &self.schema))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Its entities as cedar-policy's `Entities::from_entities` builds them, with the
    /// schema check and the transitive closure computed: what [`Principal::entities`] builds
    /// without computing the closure, for tests and benchmarks that compare both.
    #[cfg(feature = "testing")]
    pub fn entities_recomputed(&self) -> Result<Entities, MappingError> {
        Entities::from_entities(self.shape.cedar_entities(&self.uid)?, Some(&self.schema))
            .map_err(|err| MappingError::Schema(err.to_string()))
    }

    /// The principal with its entities built as [`Principal::entities_recomputed`] builds
    /// them, so that decisions with both can be compared.
    #[cfg(feature = "testing")]
    pub fn with_entities_recomputed(&self) -> Result<Self, MappingError> {
        let mut principal = self.clone();
        principal.joined = OnceLock::new();
        principal.entities = OnceLock::from(Ok(self.entities_recomputed()?));
        Ok(principal)
    }

    /// Whether its entities were built ([`Principal::entities`]).
    pub fn is_built(&self) -> bool {
        self.entities.get().is_some()
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("uid", &self.uid.to_string())
            .field("client", &self.client)
            .field("caller", &self.caller)
            .field("groups", &self.groups)
            .field("issuer", &self.issuer)
            .field("kind", &self.kind)
            .finish()
    }
}
