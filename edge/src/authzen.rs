//! The worker's AuthZEN 1.0 endpoints without I/O: the decision point prepared from the
//! built-in bundle, which endpoint a request is for, and the answer to a request body.
//!
//! Who may ask is decided before any of this runs: the `POST` endpoints are routes of the
//! bundle, so a caller presents a bearer token verified like any other and the bundle's
//! policies allow or refuse it (the reference bundles `policies/authzen-todo` and
//! `policies/authzen-cert` let only services with the scope `authzen:evaluate` ask). The
//! metadata document is public. Access Evaluation, Access Evaluations and Action Search must
//! be routes of the bundle; Subject and Resource Search are served, and named by the
//! metadata, when the bundle routes them.

use crate::config::AuthzenConfig;
use cedargate::authzen::{
    EVALUATION_PATH, EVALUATIONS_PATH, EvaluationError, EvaluationsError, MAX_REQUEST_BYTES, Pdp,
    PermittedResources, Reasons, SEARCH_ACTION_PATH, SEARCH_RESOURCE_PATH, SEARCH_SUBJECT_PATH,
    SearchError, metadata,
};
use cedargate::{Bundle, Caller, Principal};

/// The decision point and its metadata document, prepared once per isolate.
#[derive(Debug)]
pub struct Authzen {
    pdp: Pdp,
    metadata: String,
}

/// Why the AuthZEN endpoints cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzenSetupError {
    /// `authzen` is configured but the bundle has no type mapping.
    #[error("authzen is configured but the built-in bundle has no authzen.json")]
    NoMapping,
    /// The mapping does not fit the bundle.
    #[error("authzen.json: {0}")]
    Mapping(String),
    /// The base URL is not one the metadata can name.
    #[error("authzen.base_url: {0}")]
    BaseUrl(String),
    /// An endpoint is not a route of the bundle, so no caller could ever be authorized for
    /// it and every question to it would be refused as an unknown route.
    #[error("authzen is configured but the built-in bundle has no route for post {0}")]
    NoRoute(&'static str),
}

impl Authzen {
    /// The decision point over `bundle` (with its entity data) and `mapping`, the text of
    /// the bundle's `authzen.json`.
    pub fn build(
        config: &AuthzenConfig,
        bundle: Bundle,
        mapping: Option<&str>,
    ) -> Result<Self, AuthzenSetupError> {
        let mapping = mapping.ok_or(AuthzenSetupError::NoMapping)?;
        // The route must be the endpoint itself, not a template that happens to match.
        let routed = |path: &str| {
            bundle
                .resolve("POST", path)
                .is_ok_and(|route| Endpoint::of(&route.method, &route.template).is_some())
        };
        for path in [EVALUATION_PATH, EVALUATIONS_PATH, SEARCH_ACTION_PATH] {
            if !routed(path) {
                return Err(AuthzenSetupError::NoRoute(path));
            }
        }
        let subject_search = routed(SEARCH_SUBJECT_PATH);
        let resource_search = routed(SEARCH_RESOURCE_PATH);
        let reasons = if config.reasons {
            Reasons::Policies
        } else {
            Reasons::Omit
        };
        let pdp = Pdp::new(bundle, mapping)
            .map_err(|e| AuthzenSetupError::Mapping(e.to_string()))?
            .with_reasons(reasons);
        let mut document =
            metadata(&config.base_url).map_err(|e| AuthzenSetupError::BaseUrl(e.to_string()))?;
        if !subject_search {
            document.search_subject_endpoint = None;
        }
        if !resource_search {
            document.search_resource_endpoint = None;
        }
        let metadata = serde_json::to_string(&document).unwrap_or_default();
        Ok(Self { pdp, metadata })
    }

    /// The metadata document (`/.well-known/authzen-configuration`).
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// What the bundle endpoint tells `caller` it may do on the entity data's resources
    /// ([`cedargate::wire::BundleEndpoint::permitted_resources`]): the decision point's
    /// [`Pdp::permitted_resources`] for the caller's own entity, when the caller is a person
    /// (a token of an entry that is not `caller: client`) whom the entity data holds, of a
    /// type an AuthZEN subject type maps, and the document describes the bundle the decision
    /// point was built over (`bundle`, by version; a newer bundle may have come in between).
    /// `Ok(None)` otherwise, and when there is nothing to list (no resource type, no action
    /// that applies). Only ids, of resources the caller may act on: no other record data,
    /// nothing about anyone else. So a resource type whose Cedar type is also a subject
    /// type's (people: the Todo bundle's `user`) is left out, since its ids would be other
    /// people's, and so is a type the data holds no entity of (nothing to enumerate: a
    /// search of it finds nothing).
    pub fn permitted_for(
        &self,
        bundle: &Bundle,
        caller: &Principal,
    ) -> Result<Option<Vec<PermittedResources>>, SearchError> {
        let data = self.pdp.bundle();
        if caller.caller() == Caller::Client
            || data.version() != bundle.version()
            || data.entities_source().is_none()
            || data.entities().get(caller.uid()).is_none()
        {
            return Ok(None);
        }
        let mapping = self.pdp.mapping();
        let listed = |resource_type: &str| {
            mapping.resource_type(resource_type).is_some_and(|cedar| {
                mapping.subject_types().all(|(_, person)| person != cedar)
                    && data.entities().iter().any(|e| e.uid().type_name() == cedar)
            })
        };
        let mut permitted = self.pdp.permitted_resources(caller.uid())?;
        permitted.retain(|p| listed(&p.resource_type));
        Ok(Some(permitted).filter(|p| !p.is_empty()))
    }

    /// The answer to a request body for `endpoint`: 200 with the decision(s), 400 (or 413)
    /// with the reason as plain text for a request the decision point cannot take.
    pub fn answer(&self, endpoint: Endpoint, body: &[u8]) -> Answer {
        let result = match endpoint {
            Endpoint::Evaluation => written(self.pdp.evaluation(body), EvaluationError::status),
            Endpoint::Evaluations => written(self.pdp.evaluations(body), EvaluationsError::status),
            Endpoint::SearchSubject => written(self.pdp.search_subject(body), SearchError::status),
            Endpoint::SearchResource => {
                written(self.pdp.search_resource(body), SearchError::status)
            }
            Endpoint::SearchAction => written(self.pdp.search_action(body), SearchError::status),
        };
        match result {
            Ok(Ok(json)) => Answer::json(json),
            // Serializing decisions cannot fail; if it did, the caller gets no decision.
            Ok(Err(_)) => Answer::text(500, "the decision could not be written".into()),
            Err((status, message)) => Answer::text(status, message),
        }
    }
}

/// A decision point's answer as JSON text, or the status and message of its refusal.
fn written<T: serde::Serialize, E: std::fmt::Display>(
    result: Result<T, E>,
    status: fn(&E) -> u16,
) -> Result<Result<String, serde_json::Error>, (u16, String)> {
    result
        .map(|r| serde_json::to_string(&r))
        .map_err(|e| (status(&e), e.to_string()))
}

/// The AuthZEN endpoints a bundle route can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /access/v1/evaluation`.
    Evaluation,
    /// `POST /access/v1/evaluations`.
    Evaluations,
    /// `POST /access/v1/search/subject`.
    SearchSubject,
    /// `POST /access/v1/search/resource`.
    SearchResource,
    /// `POST /access/v1/search/action`.
    SearchAction,
}

impl Endpoint {
    /// The endpoint a matched route's method and canonical path name, if any.
    pub fn of(method: &str, path: &str) -> Option<Self> {
        if !method.eq_ignore_ascii_case("post") {
            return None;
        }
        match path {
            EVALUATION_PATH => Some(Self::Evaluation),
            EVALUATIONS_PATH => Some(Self::Evaluations),
            SEARCH_SUBJECT_PATH => Some(Self::SearchSubject),
            SEARCH_RESOURCE_PATH => Some(Self::SearchResource),
            SEARCH_ACTION_PATH => Some(Self::SearchAction),
            _ => None,
        }
    }
}

/// What an AuthZEN endpoint answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    fn json(body: String) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body,
        }
    }

    fn text(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    /// The answer to a body larger than the decision point reads.
    pub fn too_large() -> Self {
        Self::text(
            413,
            format!("the request body is larger than {MAX_REQUEST_BYTES} bytes"),
        )
    }
}

/// Whether a declared `Content-Length` is more than the decision point reads.
pub fn too_large(content_length: Option<&str>) -> bool {
    content_length
        .and_then(|l| l.trim().parse::<u64>().ok())
        .is_some_and(|l| l > MAX_REQUEST_BYTES as u64)
}

/// Whether an AuthZEN request's `Content-Type` is JSON, the only media type AuthZEN 1.0
/// takes on its `POST` endpoints (anything else, or none, is a 400 before the body is
/// read): `application/json` in any case, with parameters, as long as a `charset`
/// parameter names UTF-8 (RFC 8259 §8.1). Several `Content-Type` headers (a list) are
/// refused.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|parameter| {
        let parameter = parameter.trim();
        if parameter.is_empty() {
            return true;
        }
        match parameter.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
            }
            Some((name, _)) => !name.trim().is_empty(),
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedargate::{BundleSource, examples};

    fn todo(reasons: bool) -> Authzen {
        let bundle = examples::authzen_todo().unwrap();
        let config = AuthzenConfig {
            base_url: "https://pdp.example.com".into(),
            reasons,
        };
        let mapping = examples::AUTHZEN_TODO_MAPPING;
        assert_eq!(
            Authzen::build(&config, bundle.clone(), None).err(),
            Some(AuthzenSetupError::NoMapping)
        );
        Authzen::build(&config, bundle, Some(mapping)).unwrap()
    }

    #[test]
    fn bodies_are_answered_with_decisions_or_a_plain_reason() {
        let pdp = todo(false);
        let metadata: serde_json::Value = serde_json::from_str(pdp.metadata()).unwrap();
        assert_eq!(metadata["policy_decision_point"], "https://pdp.example.com");
        assert_eq!(
            metadata["access_evaluation_endpoint"],
            "https://pdp.example.com/access/v1/evaluation"
        );
        // The Todo bundle routes neither Subject nor Resource Search: not named.
        assert_eq!(metadata.get("search_subject_endpoint"), None);
        assert_eq!(metadata.get("search_resource_endpoint"), None);
        let ask = |action: &str| {
            serde_json::json!({
                "subject": {"type": "identity", "id": "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"},
                "action": {"name": action},
                "resource": {"type": "route", "id": "/todos"}
            })
            .to_string()
        };
        let allowed = pdp.answer(Endpoint::Evaluation, ask("GET").as_bytes());
        assert_eq!(
            (allowed.status, allowed.content_type, allowed.body.as_str()),
            (200, "application/json", r#"{"decision":true}"#)
        );
        let unknown = pdp.answer(Endpoint::Evaluation, ask("PATCH").as_bytes());
        assert_eq!(unknown.status, 400);
        assert!(unknown.content_type.starts_with("text/plain"));
        let broken = pdp.answer(Endpoint::Evaluations, b"{\"evaluations\": [");
        assert_eq!(broken.status, 400);
        let with_reasons = todo(true).answer(Endpoint::Evaluation, ask("GET").as_bytes());
        assert!(
            with_reasons.body.contains("reason_admin"),
            "{}",
            with_reasons.body
        );
    }

    #[test]
    fn the_certification_bundle_serves_and_names_every_search() {
        let source = BundleSource {
            schema: include_str!("../../policies/authzen-cert/schema.cedarschema").into(),
            policies: include_str!("../../policies/authzen-cert/policies.cedar").into(),
            routes: include_str!("../../policies/authzen-cert/routes.json").into(),
        };
        let entities = include_str!("../../policies/authzen-cert/entities.json");
        let bundle = Bundle::load_with_entities(&source, entities).unwrap();
        let config = AuthzenConfig {
            base_url: "https://pdp.example.com".into(),
            reasons: false,
        };
        let mapping = include_str!("../../policies/authzen-cert/authzen.json");
        let pdp = Authzen::build(&config, bundle, Some(mapping)).unwrap();
        let metadata: serde_json::Value = serde_json::from_str(pdp.metadata()).unwrap();
        assert_eq!(
            metadata["search_subject_endpoint"],
            "https://pdp.example.com/access/v1/search/subject"
        );
        assert_eq!(
            metadata["search_resource_endpoint"],
            "https://pdp.example.com/access/v1/search/resource"
        );
        let subjects = pdp.answer(
            Endpoint::SearchSubject,
            br#"{"subject": {"type": "user"}, "action": {"name": "write"}, "resource": {"type": "record", "id": "record-2"}}"#,
        );
        assert_eq!(
            (subjects.status, subjects.body.as_str()),
            (200, r#"{"results":[{"type":"user","id":"bob"}]}"#)
        );
        let resources = pdp.answer(
            Endpoint::SearchResource,
            br#"{"subject": {"type": "user", "id": "alice"}, "action": {"name": "write"}, "resource": {"type": "record"}, "page": {"limit": 5}}"#,
        );
        assert_eq!(
            (resources.status, resources.body.as_str()),
            (
                200,
                r#"{"results":[{"type":"record","id":"record-1"}],"page":{"next_token":"","count":1,"total":1}}"#
            )
        );
        let missing = pdp.answer(
            Endpoint::SearchResource,
            br#"{"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record"}}"#,
        );
        assert_eq!(missing.status, 400);
    }

    /// The search interop's bundle, its decision point and a gate that maps people's and
    /// services' access tokens as the demo's worker does.
    fn search() -> (Authzen, cedargate::Gate) {
        let bundle = examples::authzen_search().unwrap();
        let config = AuthzenConfig {
            base_url: "https://pdp.example.com".into(),
            reasons: false,
        };
        let mapping = examples::AUTHZEN_SEARCH_MAPPING;
        let authzen = Authzen::build(&config, bundle.clone(), Some(mapping)).unwrap();
        let entry = |caller: &str| {
            serde_json::json!({ "issuer": "https://idp.test", "token": "access",
                "caller": caller, "audiences": ["api"], "group_claim": null })
        };
        let trust: cedargate::TrustConfig = serde_json::from_value(serde_json::json!({
            "issuers": [entry("user"), entry("client")]
        }))
        .unwrap();
        (authzen, cedargate::Gate::new(bundle, &trust).unwrap())
    }

    fn caller(gate: &cedargate::Gate, claims: serde_json::Value) -> Principal {
        gate.trust()
            .insecure_principal_from_claims(
                "https://idp.test",
                cedargate::TokenKind::Access,
                claims.as_object().unwrap(),
            )
            .unwrap()
    }

    /// A person's "which records may I view, edit, delete" is the interop's expected
    /// Resource Search results for that person, ids only.
    #[test]
    fn a_person_in_the_data_gets_the_interop_resource_search_results() {
        let (authzen, gate) = search();
        let interop: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/authzen/search/resource-results.json"
        ))
        .unwrap();
        for user in ["alice", "bob", "carol", "dan", "erin", "felix"] {
            let mut expected: Vec<(String, String, Vec<String>)> = interop["evaluation"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|case| case["request"]["subject"]["id"] == user)
                .map(|case| {
                    let mut ids: Vec<String> = case["expected"]["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["id"].as_str().unwrap().to_owned())
                        .collect();
                    ids.sort();
                    let action = case["request"]["action"]["name"].as_str().unwrap();
                    ("record".to_owned(), action.to_owned(), ids)
                })
                .collect();
            expected.sort();
            assert_eq!(expected.len(), 3, "{user}");
            let person = caller(
                &gate,
                serde_json::json!({ "sub": user, "client_id": "app" }),
            );
            let found: Vec<(String, String, Vec<String>)> = authzen
                .permitted_for(gate.bundle(), &person)
                .unwrap()
                .unwrap()
                .into_iter()
                .map(|p| (p.resource_type, p.action, p.ids))
                .collect();
            assert_eq!(found, expected, "{user}");
        }
        let alice = caller(
            &gate,
            serde_json::json!({ "sub": "alice", "client_id": "app" }),
        );
        let listed = authzen
            .permitted_for(gate.bundle(), &alice)
            .unwrap()
            .unwrap();
        let edit = listed.iter().find(|p| p.action == "edit").unwrap();
        assert_eq!(edit.ids, ["101", "107", "110", "113", "119"]);
        // On the wire: ids, the resource type and the action, nothing of the records.
        let written = serde_json::to_value(&listed).unwrap();
        for item in written.as_array().unwrap() {
            let mut members: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            members.sort_unstable();
            assert_eq!(members, ["action", "ids", "resource_type"]);
        }
    }

    /// Nothing for someone the data does not hold, for a service, for a document of another
    /// bundle than the decision point's, nor for a bundle whose mapping names no resource
    /// type.
    #[test]
    fn nobody_else_gets_a_list() {
        let (authzen, gate) = search();
        let stranger = caller(
            &gate,
            serde_json::json!({ "sub": "mallory", "client_id": "app" }),
        );
        assert_eq!(authzen.permitted_for(gate.bundle(), &stranger), Ok(None));
        let service = caller(
            &gate,
            serde_json::json!({ "client_id": "alice", "scope": "authzen:evaluate" }),
        );
        assert_eq!(authzen.permitted_for(gate.bundle(), &service), Ok(None));
        let alice = caller(
            &gate,
            serde_json::json!({ "sub": "alice", "client_id": "app" }),
        );
        assert!(
            authzen
                .permitted_for(gate.bundle(), &alice)
                .unwrap()
                .is_some()
        );
        let other = cedargate::examples::petstore().unwrap();
        assert_eq!(authzen.permitted_for(&other, &alice), Ok(None));
        // The Todo bundle's mapping has routes only: a person the data holds gets no list.
        let todo = todo(false);
        let bundle = examples::authzen_todo().unwrap();
        let trust: cedargate::TrustConfig = serde_json::from_value(serde_json::json!({
            "issuers": [{ "issuer": "https://idp.test", "token": "access", "caller": "user",
                "audiences": ["api"], "group_claim": null }]
        }))
        .unwrap();
        let todo_gate = cedargate::Gate::new(bundle, &trust).unwrap();
        let rick = caller(
            &todo_gate,
            serde_json::json!({ "sub": "rick@the-citadel.com", "client_id": "app" }),
        );
        // The search itself finds other people (`can_read_user`): never sent.
        let people = todo.pdp.permitted_resources(rick.uid()).unwrap();
        assert!(
            people
                .iter()
                .any(|p| p.resource_type == "user" && p.ids.len() > 1),
            "{people:?}"
        );
        assert_eq!(todo.permitted_for(todo_gate.bundle(), &rick), Ok(None));
    }

    #[test]
    fn a_bundle_without_a_route_for_an_endpoint_is_refused_at_start_up() {
        let routes = include_str!("../../policies/authzen-todo/routes.json")
            .replace(r#""post /access/v1/evaluations","#, "");
        let source = BundleSource {
            routes,
            ..examples::authzen_todo_source()
        };
        let bundle = Bundle::load_with_entities(&source, examples::AUTHZEN_TODO_ENTITIES).unwrap();
        let config = AuthzenConfig {
            base_url: "https://pdp.example.com".into(),
            reasons: false,
        };
        let mapping = examples::AUTHZEN_TODO_MAPPING;
        let refused = Authzen::build(&config, bundle, Some(mapping)).err();
        assert_eq!(
            refused,
            Some(AuthzenSetupError::NoRoute("/access/v1/evaluations"))
        );
        assert_eq!(
            refused.map(|e| e.to_string()).as_deref(),
            Some(
                "authzen is configured but the built-in bundle has no route for post /access/v1/evaluations"
            )
        );
    }

    #[test]
    fn only_posts_to_the_five_paths_are_endpoints() {
        assert_eq!(
            Endpoint::of("post", "/access/v1/evaluation"),
            Some(Endpoint::Evaluation)
        );
        assert_eq!(
            Endpoint::of("POST", "/access/v1/evaluations"),
            Some(Endpoint::Evaluations)
        );
        assert_eq!(
            Endpoint::of("post", "/access/v1/search/action"),
            Some(Endpoint::SearchAction)
        );
        assert_eq!(
            Endpoint::of("post", "/access/v1/search/subject"),
            Some(Endpoint::SearchSubject)
        );
        assert_eq!(
            Endpoint::of("post", "/access/v1/search/resource"),
            Some(Endpoint::SearchResource)
        );
        assert_eq!(Endpoint::of("get", "/access/v1/evaluation"), None);
        assert_eq!(Endpoint::of("post", "/access/v1/evaluation/"), None);
        assert_eq!(Endpoint::of("post", "/todos"), None);
    }

    #[test]
    fn every_endpoint_the_worker_answers_is_enforced_in_a_monitoring_deployment() {
        // A monitored refusal is forwarded to the origin; a question to the decision point
        // never is, whichever of the five endpoints it is for.
        let monitoring: crate::config::RolloutConfig =
            serde_json::from_value(serde_json::json!({ "enforce": false })).unwrap();
        for path in [
            EVALUATION_PATH,
            EVALUATIONS_PATH,
            SEARCH_SUBJECT_PATH,
            SEARCH_RESOURCE_PATH,
            SEARCH_ACTION_PATH,
        ] {
            assert!(Endpoint::of("post", path).is_some(), "{path}");
            assert!(
                monitoring.enforces(true, "post", path, &format!("post {path}")),
                "{path}"
            );
        }
    }

    #[test]
    fn only_json_content_types_are_taken() {
        for taken in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            " application/json ; charset=utf8",
            "application/json;",
            "application/json; profile=authzen",
        ] {
            assert!(is_json_content_type(Some(taken)), "{taken}");
        }
        for refused in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/json-patch+json",
            "application/problem+json",
            "application/json; charset=iso-8859-1",
            "application/json; charset",
            "application/json; =x",
            "application/json, text/plain",
            "json",
            "",
        ] {
            assert!(!is_json_content_type(Some(refused)), "{refused}");
        }
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn a_declared_length_over_the_bound_is_too_large() {
        assert!(too_large(Some("65537")));
        assert!(!too_large(Some("65536")));
        assert!(!too_large(Some("nonsense")));
        assert!(!too_large(None));
    }
}
