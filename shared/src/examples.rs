//! The bundled reference scenario: the PetStore API of the PingOne + Amazon Verified
//! Permissions walkthrough (`policies/petstore/`), and the other reference bundles tests load.

use crate::bundle::{Bundle, BundleError, BundleSource};

/// The PetStore bundle's text.
pub fn petstore_source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/petstore/schema.cedarschema").to_owned(),
        policies: include_str!("../../policies/petstore/policies.cedar").to_owned(),
        routes: include_str!("../../policies/petstore/routes.json").to_owned(),
    }
}

/// The PetStore bundle, loaded and validated.
pub fn petstore() -> Result<Bundle, BundleError> {
    Bundle::load(&petstore_source())
}

/// The PetStore bundle whose decisions see the request (`policies/petstore-context/`): the
/// client's address, country and a tenant header, the token's `amr`, and a step-up
/// requirement for deleting.
pub fn petstore_context_source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/petstore-context/schema.cedarschema").to_owned(),
        policies: include_str!("../../policies/petstore-context/policies.cedar").to_owned(),
        routes: include_str!("../../policies/petstore-context/routes.json").to_owned(),
    }
}

/// The AuthZEN interop Todo bundle's text (`policies/authzen-todo/`).
pub fn authzen_todo_source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/authzen-todo/schema.cedarschema").to_owned(),
        policies: include_str!("../../policies/authzen-todo/policies.cedar").to_owned(),
        routes: include_str!("../../policies/authzen-todo/routes.json").to_owned(),
    }
}

/// The Todo bundle's entity data (`entities.json`).
pub const AUTHZEN_TODO_ENTITIES: &str = include_str!("../../policies/authzen-todo/entities.json");

/// The Todo bundle's AuthZEN type mapping (`authzen.json`).
pub const AUTHZEN_TODO_MAPPING: &str = include_str!("../../policies/authzen-todo/authzen.json");

/// The Todo bundle with its entity data, loaded and validated.
pub fn authzen_todo() -> Result<Bundle, BundleError> {
    Bundle::load_with_entities(&authzen_todo_source(), AUTHZEN_TODO_ENTITIES)
}

/// The AuthZEN search interop bundle's text (`policies/authzen-search/`).
pub fn authzen_search_source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/authzen-search/schema.cedarschema").to_owned(),
        policies: include_str!("../../policies/authzen-search/policies.cedar").to_owned(),
        routes: include_str!("../../policies/authzen-search/routes.json").to_owned(),
    }
}

/// The search bundle's entity data (`entities.json`).
pub const AUTHZEN_SEARCH_ENTITIES: &str =
    include_str!("../../policies/authzen-search/entities.json");

/// The search bundle's AuthZEN type mapping (`authzen.json`).
pub const AUTHZEN_SEARCH_MAPPING: &str = include_str!("../../policies/authzen-search/authzen.json");

/// The search bundle with its entity data, loaded and validated.
pub fn authzen_search() -> Result<Bundle, BundleError> {
    Bundle::load_with_entities(&authzen_search_source(), AUTHZEN_SEARCH_ENTITIES)
}
