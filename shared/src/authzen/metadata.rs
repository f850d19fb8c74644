//! The Policy Decision Point metadata document (§ 9) and where it is published.

use crate::url::{HttpUrl, UrlError};
use serde::{Deserialize, Serialize};

/// The default path of the Access Evaluation API (§ 10.1).
pub const EVALUATION_PATH: &str = "/access/v1/evaluation";
/// The default path of the Access Evaluations API.
pub const EVALUATIONS_PATH: &str = "/access/v1/evaluations";
/// The default path of the Subject Search API.
pub const SEARCH_SUBJECT_PATH: &str = "/access/v1/search/subject";
/// The default path of the Resource Search API.
pub const SEARCH_RESOURCE_PATH: &str = "/access/v1/search/resource";
/// The default path of the Action Search API.
pub const SEARCH_ACTION_PATH: &str = "/access/v1/search/action";
/// The well-known URI suffix of the metadata document (§ 9.2), inserted between the host
/// and the path of the decision point's identifier.
pub const WELL_KNOWN_PATH: &str = "/.well-known/authzen-configuration";

/// The metadata document (§ 9.1): the decision point's identifier and its endpoints.
/// Parameters without a value are omitted (§ 9.2.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdpMetadata {
    /// The decision point's identifier, its base URL.
    pub policy_decision_point: String,
    /// The Access Evaluation API.
    pub access_evaluation_endpoint: String,
    /// The Access Evaluations API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_evaluations_endpoint: Option<String>,
    /// The Subject Search API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_subject_endpoint: Option<String>,
    /// The Action Search API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_action_endpoint: Option<String>,
    /// The Resource Search API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_resource_endpoint: Option<String>,
    /// Capability URNs (cedargate declares none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

/// Why a base URL cannot identify a decision point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not an acceptable URL: https, or http only to a loopback host ([`crate::url`]).
    #[error("the decision point's base URL is refused: {0}")]
    Url(#[from] UrlError),
    /// The identifier has no query or fragment (§ 9.1.1).
    #[error("the decision point's base URL must not have a query or a fragment")]
    QueryOrFragment,
    /// A trailing slash: the identifier is compared as a string with the one the metadata
    /// was fetched for (§ 9.2.3), so it is written one way only, without it.
    #[error("the decision point's base URL must not end with /")]
    TrailingSlash,
}

fn checked(base: &str) -> Result<HttpUrl<'_>, MetadataError> {
    let url = HttpUrl::parse_secure(base)?;
    if url.has_query_or_fragment() {
        return Err(MetadataError::QueryOrFragment);
    }
    if base.ends_with('/') {
        return Err(MetadataError::TrailingSlash);
    }
    Ok(url)
}

/// The metadata document of a cedargate decision point at `base` (`https://pdp.example.com`,
/// or with a path, `https://example.com/tenant1`): the endpoints cedargate serves
/// (evaluation, evaluations, subject, resource and action search) at their default paths
/// below `base`. A server that does not serve one of them sets its member to `None`.
pub fn metadata(base: &str) -> Result<PdpMetadata, MetadataError> {
    checked(base)?;
    Ok(PdpMetadata {
        policy_decision_point: base.to_owned(),
        access_evaluation_endpoint: format!("{base}{EVALUATION_PATH}"),
        access_evaluations_endpoint: Some(format!("{base}{EVALUATIONS_PATH}")),
        search_subject_endpoint: Some(format!("{base}{SEARCH_SUBJECT_PATH}")),
        search_action_endpoint: Some(format!("{base}{SEARCH_ACTION_PATH}")),
        search_resource_endpoint: Some(format!("{base}{SEARCH_RESOURCE_PATH}")),
        capabilities: Vec::new(),
    })
}

/// Where the metadata of the decision point `base` is published (§ 9.2): the well-known
/// suffix between host and path, `https://example.com/tenant1` →
/// `https://example.com/.well-known/authzen-configuration/tenant1`.
pub fn well_known_url(base: &str) -> Result<String, MetadataError> {
    let url = checked(base)?;
    Ok(format!(
        "{}://{}{WELL_KNOWN_PATH}{}",
        url.scheme().as_str(),
        url.authority(),
        url.path()
    ))
}
