//! The bundled reference scenario: the PetStore API of the PingOne + Amazon Verified
//! Permissions walkthrough (`policies/petstore/`).

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
