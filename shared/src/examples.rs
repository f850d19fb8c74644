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
