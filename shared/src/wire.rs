//! Documents that cross between the edge and its clients, defined once for both sides.

pub use crate::authzen::PermittedResources;
pub use crate::bundle::RouteEntry;
use crate::bundle::{Bundle, BundleError, BundleSource, CompiledBundle};
use crate::principal::Principal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Path of the edge's authenticated endpoint that serves the policy bundle (when enabled):
/// a GET answers [`BundleEndpoint`].
pub const BUNDLE_PATH: &str = "/.cedargate/bundle";

/// The media type of the edge's refusals (RFC 9457 §3).
pub const PROBLEM_MEDIA_TYPE: &str = "application/problem+json";

/// What every problem type the edge sends starts with: `urn:cedargate:problem:<code>`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:cedargate:problem:";

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
    /// Whether each action of the routes is enforced: `false` for an action in the edge's
    /// monitor mode, whose refusals the edge forwards to the origin marked `would-deny`
    /// instead of answering them. [`BundleEndpoint::new`] says every action is; the edge
    /// sets what its configuration says. Empty when read from an edge without monitor mode.
    #[serde(default)]
    pub enforced: BTreeMap<String, bool>,
    /// The bundle's text, to read (absent when the edge loaded the bundle from its compiled
    /// form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BundleSource>,
    /// The bundle's compiled form ([`Bundle::compiled`]), for clients that evaluate it
    /// themselves: it loads without a Cedar parser ([`BundleEndpoint::bundle`]).
    pub compiled: CompiledBundle,
    /// The version of the text alone ([`Bundle::text_version`]): what a client compares,
    /// since it holds only the entity data about its caller.
    pub text_version: String,
    /// What the bundle's entity data says about the caller ([`Bundle::entity_data_about`]):
    /// its own entities and those above them, never anyone else's. Absent for a bundle
    /// without entity data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<serde_json::Value>>,
    /// The staged candidate the edge decides beside this bundle (`bundle_kv.staged_key`),
    /// in the same form (its own version, serial, policies and entity data about the
    /// caller; no candidate of its own), for showing what it would change. It never answers
    /// a request. Absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<Box<BundleEndpoint>>,
    /// What the caller may do on the entity data's resources, computed by the edge's AuthZEN
    /// decision point ([`crate::authzen::Pdp::permitted_resources`]: per resource type and
    /// action, the ids a Resource Search of the caller finds): "which records may I view,
    /// edit, delete". A client cannot compute it, since it holds the entity data about its
    /// caller only, never the resources (each may name another person, its owner). Only the
    /// ids of resources the caller may act on, the caller's own permissions: no other
    /// attribute of a resource, nothing about anyone else. Absent unless the edge has a
    /// decision point and the caller is a person its data holds; never on `staged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted_resources: Option<Vec<PermittedResources>>,
}

impl BundleEndpoint {
    /// The document for `bundle` in force with `serial`, as `caller` may see it, every
    /// action enforced.
    pub fn new(bundle: &Bundle, serial: u64, caller: &Principal) -> Self {
        let routes = bundle.routes();
        Self {
            version: bundle.version().to_string(),
            serial,
            namespace: bundle.namespace().to_owned(),
            enforced: routes.iter().map(|r| (r.action.clone(), true)).collect(),
            routes,
            source: bundle.source().cloned(),
            compiled: bundle.compiled().clone(),
            text_version: bundle.text_version().to_string(),
            entities: bundle.entity_data_about(caller),
            staged: None,
            permitted_resources: None,
        }
    }

    /// The bundle as the caller holds it: the compiled form ([`Bundle::load_compiled`], so
    /// no Cedar text is parsed), with the entity data about the caller when there is any. It
    /// decides the caller's requests as the edge does; its [`Bundle::text_version`] equals
    /// [`BundleEndpoint::text_version`] when the form is the edge's.
    pub fn bundle(&self) -> Result<Bundle, BundleError> {
        Bundle::load_compiled(&self.compiled, self.entities_text().as_deref())
    }

    /// [`BundleEndpoint::bundle`] without validating the policies against the schema
    /// ([`Bundle::insecure_load_compiled_unvalidated`]), refused unless the version of what
    /// was loaded is [`BundleEndpoint::text_version`]: the version the edge computed for the
    /// bundle it validated, so what is held is that content. What the browser app predicts
    /// with.
    ///
    /// # Security warning
    ///
    /// For a client that predicts what its edge decides, with a document from that edge;
    /// never to decide requests. See [`Bundle::insecure_load_compiled_unvalidated`].
    pub fn insecure_bundle_unvalidated(&self) -> Result<Bundle, BundleError> {
        let bundle = Bundle::insecure_load_compiled_unvalidated(
            &self.compiled,
            self.entities_text().as_deref(),
        )?;
        if bundle.text_version().as_str() != self.text_version {
            return Err(BundleError::Compiled(format!(
                "its content has version {}, not the {} the document names",
                bundle.text_version(),
                self.text_version
            )));
        }
        Ok(bundle)
    }

    /// The entity data about the caller as the text of an `entities.json`.
    fn entities_text(&self) -> Option<String> {
        self.entities
            .as_ref()
            .map(|entities| serde_json::Value::Array(entities.clone()).to_string())
    }
}

/// A refusal from the edge: an RFC 9457 problem document, sent as [`PROBLEM_MEDIA_TYPE`].
///
/// On the wire the cedargate members (`reason`, `action`, `policies`, `allow`, `step_up`,
/// `required_scopes`) come first,
/// then `type`, `title`, `status`, `detail` and `request_id`; absent members are left out. A
/// body names the action and, for a deny, the policies; never a token or internal error
/// text.
///
/// Read leniently, as RFC 9457 §3.1 asks of clients: every member may be absent (`type` is
/// then `about:blank`), so any JSON object of the right member types is a problem document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDocument {
    /// Why a token was refused: a stable reason code (`expired`, `bad_signature`, ...), the
    /// only thing a client is told about it. On `invalid-token` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The action the policies denied. On a deny (`forbidden`) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The policies that denied it (empty when none permits it). On a deny only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// The methods of the routes that match the path. On `method-not-allowed` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// The sign-in to start again with (`acr_values`, `max_age`), the same as the
    /// `WWW-Authenticate` challenge's. On `insufficient-user-authentication`, and on
    /// `insufficient-scope` when a stronger sign-in is needed as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<crate::bundle::StepUp>,
    /// The scopes a new token needs (the challenge's `scope`, RFC 6750 §3.1). On
    /// `insufficient-scope` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_scopes: Option<Vec<String>>,
    /// The problem type: [`PROBLEM_TYPE_PREFIX`] and a code (see [`ProblemDocument::code`]).
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    /// A short summary of the problem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTTP status code of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong with this request, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The edge's id of the request (also its `x-cedargate-request-id` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// RFC 9457's default problem type.
fn about_blank() -> String {
    "about:blank".into()
}

impl ProblemDocument {
    /// A problem of type `urn:cedargate:problem:<code>`, without cedargate members or
    /// request id.
    pub fn new(code: &str, title: &str, status: u16, detail: impl Into<String>) -> Self {
        Self {
            reason: None,
            action: None,
            policies: None,
            allow: None,
            step_up: None,
            required_scopes: None,
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{code}"),
            title: Some(title.to_owned()),
            status: Some(status),
            detail: Some(detail.into()),
            request_id: None,
        }
    }

    /// The code of a cedargate problem type (`forbidden` of `urn:cedargate:problem:forbidden`);
    /// `None` for other types.
    pub fn code(&self) -> Option<&str> {
        self.problem_type.strip_prefix(PROBLEM_TYPE_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn problem_documents_write_their_members_in_wire_order_and_read_back() {
        let deny = ProblemDocument {
            action: Some("post /pets".into()),
            policies: Some(vec![]),
            request_id: Some("r-1".into()),
            ..ProblemDocument::new(
                "forbidden",
                "Forbidden",
                403,
                "no policy permits this action",
            )
        };
        let text = serde_json::to_string(&deny).expect("serializes");
        assert_eq!(
            text,
            r#"{"action":"post /pets","policies":[],"type":"urn:cedargate:problem:forbidden","title":"Forbidden","status":403,"detail":"no policy permits this action","request_id":"r-1"}"#
        );
        let read: ProblemDocument = serde_json::from_str(&text).expect("reads back");
        assert_eq!(read, deny);
        assert_eq!(deny.code(), Some("forbidden"));
    }

    #[test]
    fn any_member_may_be_absent_when_read() {
        let doc: ProblemDocument =
            serde_json::from_str(r#"{"detail":"gone","extra":1}"#).expect("reads");
        assert_eq!(doc.detail.as_deref(), Some("gone"));
        assert_eq!(doc.problem_type, "about:blank");
        assert_eq!(
            (doc.code(), doc.status, doc.title.as_deref()),
            (None, None, None)
        );
        assert!(serde_json::from_str::<ProblemDocument>(r#"{"status":"bad"}"#).is_err());
    }
}
