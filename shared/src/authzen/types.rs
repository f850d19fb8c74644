//! The messages of the Authorization API 1.0, as its JSON serialization (§ 10.1.1) defines
//! them, and the errors of each operation.
//!
//! Parsing follows the specification: members the API does not define are ignored (§ 10.1.1,
//! "receivers MUST ignore unknown fields"), a required member that is missing or has the
//! wrong JSON type is a Bad Request. Beyond it, for I-JSON (§ 11.5): duplicate member names
//! are refused at any depth, and a body is at most [`MAX_REQUEST_BYTES`].

use crate::strict_json::{self, ObjectError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest request body any operation reads, in bytes (64 KiB). Larger bodies are
/// refused before they are parsed ([`BodyError::TooLarge`], HTTP 413).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The most evaluations one Access Evaluations request may carry. More are refused as a
/// whole ([`EvaluationsError::TooMany`]): each evaluation is a full Cedar decision, and a
/// bound keeps one request's work within what an edge worker may spend on it.
pub const MAX_EVALUATIONS: usize = 64;

/// The Subject (§ 5.1): who asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The subject's type, mapped to a Cedar entity type by [`super::Mapping`].
    #[serde(rename = "type")]
    pub ty: String,
    /// The subject's id, scoped to its type; the Cedar entity id.
    pub id: String,
    /// Attributes of the subject; those the schema declares for its entity type become the
    /// entity's attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// The Resource (§ 5.2): what is asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The resource's type, mapped to a Cedar entity type by [`super::Mapping`] (or the
    /// mapping's route type).
    #[serde(rename = "type")]
    pub ty: String,
    /// The resource's id, scoped to its type (a route template for the route type).
    pub id: String,
    /// Attributes of the resource; those the schema declares for its entity type become the
    /// entity's attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// The Action (§ 5.3): what the subject would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The action's name: a Cedar action id of the bundle's namespace, or an HTTP method for
    /// a route resource.
    pub name: String,
    /// Attributes of the action. Cedar actions have no attributes: with the mapping's
    /// `action_properties` they become that member of the Cedar context, checked against
    /// what the action declares there; otherwise they are accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// The Access Evaluation request (§ 6.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRequest {
    /// Who asks.
    pub subject: Subject,
    /// What they would do.
    pub action: Action,
    /// What they would do it to.
    pub resource: Resource,
    /// The environment (§ 5.4); the members the action's Cedar context declares become the
    /// Cedar context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

impl EvaluationRequest {
    /// Parses a request body: at most [`MAX_REQUEST_BYTES`], a JSON object without
    /// duplicate member names, of the Access Evaluation request's shape.
    pub fn from_json(body: &[u8]) -> Result<Self, EvaluationError> {
        parse(body).map_err(|err| match err {
            ParseError::Body(e) => EvaluationError::Body(e),
            ParseError::Shape(m) => EvaluationError::Shape(m),
        })
    }
}

/// The Decision (§ 5.5): the answer to one evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationResponse {
    /// Whether the request may go forward.
    pub decision: bool,
    /// What else the decision point says: see [`super::Pdp`] for the members cedargate
    /// writes. Absent when there is nothing to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// One evaluation of an Access Evaluations request (§ 7.1): what it leaves out comes from
/// the request's top-level defaults (the same members), each a whole object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationItem {
    /// The subject, replacing the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// The action, replacing the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The resource, replacing the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// The context, replacing the default one as a whole (members are not merged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// `options.evaluations_semantic` (§ 7.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationsSemantic {
    /// Every evaluation, every answer (the default).
    #[default]
    ExecuteAll,
    /// In order, stopping after the first deny (or failed evaluation): the answers up to and
    /// including it.
    DenyOnFirstDeny,
    /// In order, stopping after the first permit: the answers up to and including it.
    PermitOnFirstPermit,
}

/// The `options` of an Access Evaluations request (§ 7.1.2); options other than
/// `evaluations_semantic` are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationsOptions {
    /// How the evaluations are run; [`EvaluationsSemantic::ExecuteAll`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluations_semantic: Option<EvaluationsSemantic>,
}

/// The Access Evaluations request (§ 7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationsRequest {
    /// The top-level `subject`, `action`, `resource` and `context`: the defaults of every
    /// evaluation that leaves them out.
    #[serde(flatten)]
    pub defaults: EvaluationItem,
    /// The evaluations; absent or empty, the request is one Access Evaluation request made
    /// of the top-level members (§ 7.1, backwards compatibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluations: Option<Vec<EvaluationItem>>,
    /// How the evaluations are run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<EvaluationsOptions>,
}

impl EvaluationsRequest {
    /// Parses a request body: at most [`MAX_REQUEST_BYTES`], a JSON object without
    /// duplicate member names, at most [`MAX_EVALUATIONS`] evaluations (counted before the
    /// evaluations are read), of the Access Evaluations request's shape.
    pub fn from_json(body: &[u8]) -> Result<Self, EvaluationsError> {
        let map = object(body).map_err(EvaluationsError::Body)?;
        if let Some(Value::Array(items)) = map.get("evaluations")
            && items.len() > MAX_EVALUATIONS
        {
            return Err(EvaluationsError::TooMany { count: items.len() });
        }
        serde_json::from_value(Value::Object(map))
            .map_err(|err| EvaluationsError::Shape(err.to_string()))
    }
}

/// The Access Evaluations response (§ 7.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EvaluationsResponse {
    /// `{"evaluations": [...]}`, one answer per evaluation run, in request order.
    Batch {
        /// The answers.
        evaluations: Vec<EvaluationResponse>,
    },
    /// The answer to a request without evaluations, as the Access Evaluation API gives it.
    Single(EvaluationResponse),
}

/// The Action Search request (§ 8.6.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSearchRequest {
    /// Who asks.
    pub subject: Subject,
    /// What about.
    pub resource: Resource,
    /// The environment, given to every action's evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Pagination (§ 8.2.1): see [`super::Pdp`]'s search methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageRequest>,
}

impl ActionSearchRequest {
    /// Parses a request body: at most [`MAX_REQUEST_BYTES`], a JSON object without
    /// duplicate member names, of the Action Search request's shape.
    pub fn from_json(body: &[u8]) -> Result<Self, ActionSearchError> {
        parse_search(body, "action")
    }
}

/// The searched-for entity of a Subject or Resource Search (§ 8.4.1, § 8.5.1): its type;
/// an `id` is allowed and ignored (the search resolves it), `properties` apply to every
/// candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchedEntity {
    /// The type searched for.
    #[serde(rename = "type")]
    pub ty: String,
    /// Ignored, as the specification asks (it SHOULD be omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Properties every candidate is decided with, merged with its entity data by the one
    /// rule of [`super::Pdp`]: a candidate whose data holds a different value is not a
    /// result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// The Subject Search request (§ 8.4.1): which subjects of a type may do `action` on
/// `resource`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectSearchRequest {
    /// The subject type searched for.
    pub subject: SearchedEntity,
    /// What they would do.
    pub action: Action,
    /// What they would do it to.
    pub resource: Resource,
    /// The environment, given to every candidate's evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Pagination (§ 8.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageRequest>,
}

impl SubjectSearchRequest {
    /// Parses a request body: at most [`MAX_REQUEST_BYTES`], a JSON object without
    /// duplicate member names, of the Subject Search request's shape.
    pub fn from_json(body: &[u8]) -> Result<Self, SearchError> {
        parse_search(body, "subject")
    }
}

/// The Resource Search request (§ 8.5.1): which resources of a type `subject` may do
/// `action` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSearchRequest {
    /// Who asks.
    pub subject: Subject,
    /// What they would do.
    pub action: Action,
    /// The resource type searched for.
    pub resource: SearchedEntity,
    /// The environment, given to every candidate's evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Pagination (§ 8.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageRequest>,
}

impl ResourceSearchRequest {
    /// Parses a request body: at most [`MAX_REQUEST_BYTES`], a JSON object without
    /// duplicate member names, of the Resource Search request's shape.
    pub fn from_json(body: &[u8]) -> Result<Self, SearchError> {
        parse_search(body, "resource")
    }
}

/// A search request's `page` object (§ 8.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// A previous response's `next_token`; absent or empty, the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The most results wanted (at least 1); absent, all the remaining ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Implementation-specific pagination attributes (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// A search response's `page` object (§ 8.3): present when the request had one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageResponse {
    /// The token of the next page; empty when this page is the last.
    pub next_token: String,
    /// How many results this page holds.
    pub count: u64,
    /// How many results the whole search has.
    pub total: u64,
}

/// One result of an Action Search: an Action without properties.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action's name, as an evaluation request names it.
    pub name: String,
}

/// The Action Search response (§ 8.3): the permitted actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSearchResponse {
    /// The permitted actions of this page, sorted by name.
    pub results: Vec<ActionResult>,
    /// Where the next page starts; only when the request had a `page`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageResponse>,
}

/// One result of a Subject or Resource Search: the entity's type (as the request named it)
/// and id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityResult {
    /// The searched-for type.
    #[serde(rename = "type")]
    pub ty: String,
    /// The entity's id.
    pub id: String,
}

/// The Subject Search and Resource Search response (§ 8.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// The permitted entities of this page, sorted by id.
    pub results: Vec<EntityResult>,
    /// Where the next page starts; only when the request had a `page`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageResponse>,
}

/// Why a request body was not read: what every operation refuses before looking at the
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// More than [`MAX_REQUEST_BYTES`].
    #[error("the request body is larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    /// Not one JSON value (an empty body included).
    #[error("the request body is not valid JSON")]
    Syntax,
    /// Two members of one object have the same name (I-JSON, RFC 7493 § 2.3).
    #[error("the request body has an object with a duplicate member name")]
    DuplicateMember,
    /// JSON, but not an object.
    #[error("the request body is not a JSON object")]
    NotAnObject,
}

/// Where a property or context value breaks the schema. `place` is its path in the
/// request, such as `resource.properties.ownerID` or `context.request.time`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    /// A required attribute that neither the request nor the entity data gives.
    #[error("{place} is missing: the schema requires it")]
    Missing {
        /// Where it is missing.
        place: String,
    },
    /// A value of another type than the schema declares (`null` included).
    #[error("{place} must be {expected}")]
    WrongType {
        /// The value's place.
        place: String,
        /// What the schema declares, in words.
        expected: String,
    },
    /// A property that differs from the entity data's value for the same attribute: what
    /// the decision point knows is not overridden by a request.
    #[error("{place} differs from the decision point's entity data")]
    Conflict {
        /// The property's place.
        place: String,
    },
}

/// Why an Access Evaluation request was not decided (HTTP 400, or 413 for a body too large:
/// [`EvaluationError::status`]). In an Access Evaluations request, the same errors of one
/// evaluation are that evaluation's answer: a deny whose context says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationError {
    /// The body was not read.
    #[error(transparent)]
    Body(BodyError),
    /// A required member is missing or has the wrong JSON type.
    #[error("the request is not an access evaluation request: {0}")]
    Shape(String),
    /// An evaluation of an Access Evaluations request lacks a member, and the request
    /// gives no default for it.
    #[error("the evaluation has no {0}, and the request gives no default {0}")]
    Missing(&'static str),
    /// The subject's type is not in the mapping.
    #[error("subject type \"{0}\" is not known")]
    UnknownSubjectType(String),
    /// The resource's type is not in the mapping.
    #[error("resource type \"{0}\" is not known")]
    UnknownResourceType(String),
    /// The action is not an action of the bundle.
    #[error("action \"{0}\" is not known")]
    UnknownAction(String),
    /// A route resource names no route of the bundle with this method.
    #[error("there is no route \"{method} {template}\"")]
    UnknownRoute {
        /// The method, as the action's name gave it.
        method: String,
        /// The route template, as the resource's id gave it.
        template: String,
    },
    /// The action does not apply to the subject's and the resource's types.
    #[error("action \"{action}\" does not apply to {principal} and {resource}")]
    NotApplicable {
        /// The Cedar action id.
        action: String,
        /// The Cedar principal type.
        principal: String,
        /// The Cedar resource type.
        resource: String,
    },
    /// A property or context value breaks the schema.
    #[error(transparent)]
    Attribute(#[from] AttributeError),
    /// The context gives the member that the mapping's `action_properties` fills from
    /// `action.properties`.
    #[error("context.{0} is given by action.properties, not by the context")]
    Reserved(String),
    /// Cedar refused the entities, the context or the request against the schema (for
    /// example an extension value that does not parse).
    #[error("the request does not fit the schema: {0}")]
    Invalid(String),
}

impl EvaluationError {
    /// The HTTP status to answer with: 413 for a body too large, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Body(BodyError::TooLarge) => 413,
            _ => 400,
        }
    }
}

/// Why an Access Evaluations request was refused as a whole (HTTP 400, or 413 for a body
/// too large). Errors of single evaluations are not among them: they are answered in the
/// response, each in its place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationsError {
    /// The body was not read.
    #[error(transparent)]
    Body(BodyError),
    /// A member is of the wrong JSON type, an evaluation is not an object, or
    /// `options.evaluations_semantic` is not one of the three.
    #[error("the request is not an access evaluations request: {0}")]
    Shape(String),
    /// More than [`MAX_EVALUATIONS`] evaluations.
    #[error("the request has {count} evaluations, more than the {MAX_EVALUATIONS} allowed")]
    TooMany {
        /// How many it has.
        count: usize,
    },
    /// A request without evaluations is one evaluation; this is why it was not decided.
    #[error(transparent)]
    Evaluation(EvaluationError),
}

impl EvaluationsError {
    /// The HTTP status to answer with: 413 for a body too large, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Body(BodyError::TooLarge) => 413,
            Self::Evaluation(err) => err.status(),
            _ => 400,
        }
    }
}

/// Why a Subject, Resource or Action Search request was refused (HTTP 400, or 413 for a
/// body too large). A type the mapping does not know, an unknown action or a route
/// template the bundle does not have is no error: the search finds nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The body was not read.
    #[error(transparent)]
    Body(BodyError),
    /// A required member is missing or has the wrong JSON type.
    #[error("the request is not {kind} search request: {message}", kind = article(.search))]
    Shape {
        /// `subject`, `resource` or `action`: which search.
        search: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A property or context value breaks the schema.
    #[error(transparent)]
    Attribute(#[from] AttributeError),
    /// Cedar refused the entities, the context or a request against the schema.
    #[error("the request does not fit the schema: {0}")]
    Invalid(String),
    /// `page.token` is not a token this decision point gave for this search.
    #[error("page.token is not a next_token of this search")]
    PageToken,
    /// `page.limit` is 0.
    #[error("page.limit must be at least 1")]
    PageLimit,
}

/// The error of an Action Search, the same as the other searches'.
pub type ActionSearchError = SearchError;

fn article(search: &str) -> String {
    match search {
        "action" => "an action".to_owned(),
        other => format!("a {other}"),
    }
}

impl SearchError {
    /// The HTTP status to answer with: 413 for a body too large, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Body(BodyError::TooLarge) => 413,
            _ => 400,
        }
    }
}

enum ParseError {
    Body(BodyError),
    Shape(String),
}

/// The body as a JSON object: size first, then strict JSON.
fn object(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(BodyError::TooLarge);
    }
    strict_json::object_from_slice(body).map_err(|err| match err {
        ObjectError::Syntax => BodyError::Syntax,
        ObjectError::NotAnObject => BodyError::NotAnObject,
        ObjectError::DuplicateKey => BodyError::DuplicateMember,
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    let map = object(body).map_err(ParseError::Body)?;
    serde_json::from_value(Value::Object(map)).map_err(|err| ParseError::Shape(err.to_string()))
}

fn parse_search<T: DeserializeOwned>(body: &[u8], search: &'static str) -> Result<T, SearchError> {
    parse(body).map_err(|err| match err {
        ParseError::Body(e) => SearchError::Body(e),
        ParseError::Shape(message) => SearchError::Shape { search, message },
    })
}
