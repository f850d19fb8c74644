//! The principal a verified token becomes: the Cedar entity, its groups, and the entities a
//! request is evaluated against. Made by [`crate::Trust::principal`]; read by
//! [`crate::Bundle::authorize`].

use crate::bundle::BundleVersion;
use crate::context::TokenValues;
use crate::token::TokenKind;
use crate::trust_config::Caller;
use cedar_policy::{Entities, EntityUid};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The Cedar principal for one verified token: the user entity, its groups, and the
/// entities a request is evaluated against.
#[derive(Clone)]
pub struct Principal {
    pub(crate) uid: EntityUid,
    pub(crate) entities: Entities,
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

    /// The principal, its groups and the schema's action entities.
    pub fn entities(&self) -> &Entities {
        &self.entities
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
