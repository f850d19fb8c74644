//! Documents that cross between the edge and its clients, defined once for both sides.

pub use crate::bundle::RouteEntry;
use crate::bundle::{Bundle, BundleSource};
use serde::{Deserialize, Serialize};

/// What `GET /.cedargate/bundle` answers: the bundle the edge enforces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEndpoint {
    /// The bundle's version (the hash of its canonical content).
    pub version: String,
    /// The serial of the bundle in force.
    pub serial: u64,
    /// The Cedar namespace.
    pub namespace: String,
    /// Every route with its action.
    pub routes: Vec<RouteEntry>,
    /// The bundle's text, for clients that evaluate it themselves.
    pub source: BundleSource,
}

impl BundleEndpoint {
    /// The document for `bundle` in force with `serial`.
    pub fn new(bundle: &Bundle, serial: u64) -> Self {
        Self {
            version: bundle.version().to_string(),
            serial,
            namespace: bundle.namespace().to_owned(),
            routes: bundle.routes(),
            source: bundle.source().clone(),
        }
    }
}
