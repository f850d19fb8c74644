//! The OpenID AuthZEN Authorization API 1.0 as a pure decision point: request bodies in,
//! response bodies out, decided by a validated [`Bundle`] through Cedar. No I/O and no
//! clock: a worker serves the four endpoints by handing the bodies it receives to [`Pdp`]
//! and [`metadata`], and answering with what they return.
//!
//! | API (1.0 §) | default path | here |
//! |---|---|---|
//! | Access Evaluation (6) | [`EVALUATION_PATH`] | [`Pdp::evaluation`], [`Pdp::evaluate`] |
//! | Access Evaluations (7) | [`EVALUATIONS_PATH`] | [`Pdp::evaluations`], [`Pdp::evaluate_all`] |
//! | Subject Search (8.4) | [`SEARCH_SUBJECT_PATH`] | [`Pdp::search_subject`], [`Pdp::search_subjects`] |
//! | Resource Search (8.5) | [`SEARCH_RESOURCE_PATH`] | [`Pdp::search_resource`], [`Pdp::search_resources`] |
//! | Action Search (8.6) | [`SEARCH_ACTION_PATH`] | [`Pdp::search_action`], [`Pdp::search_actions`] |
//! | (every Resource Search of one subject) | — | [`Pdp::permitted_resources`] |
//! | metadata (9) | [`WELL_KNOWN_PATH`] | [`metadata`], [`well_known_url`] |
//!
//! # Searches
//!
//! Every search decides each candidate by the one evaluation ([`Pdp::decide`]), so a
//! result is exactly what an Access Evaluation of it would permit. Candidates come from the
//! bundle's entity data: a Subject or Resource Search looks at the data's entities of the
//! searched type's Cedar type (an entity known only from tokens or requests is never
//! found; for the route type, the route templates with the action's method), an Action
//! Search at the bundle's actions that apply. An input subject or resource must be one the
//! data holds, unless the data holds no entity of its type at all (then the data is
//! partial for that type and the input is decided as given, [`Pdp::known`]).
//!
//! Pagination (§ 8.2): results are sorted (by id, or by action name), `page.limit` (at
//! least 1) bounds a page, and `next_token` names the last result given (`c1.` and its
//! base64url), so the next page is the results after it in that order: stateless, and
//! never giving a result twice, even when a new bundle came in between. A request with a
//! `page` is answered with `page: {next_token, count, total}`, `next_token` empty on the
//! last page; without one, all results come at once and there is no `page`.
//!
//! # From AuthZEN to Cedar
//!
//! - `subject.type` → a Cedar principal type, and `resource.type` → a Cedar resource type,
//!   by the bundle's [`Mapping`] (`authzen.json`); `id` is the entity id. An unknown type is
//!   an error.
//! - `action.name` → the Cedar action of that id in the bundle's namespace; unknown, or not
//!   applying to the two types, is an error. For the mapping's route type, `resource.id` is a
//!   route template and `action.name` an HTTP method: the action is the route's, the resource
//!   the bundle's (as the edge decides that route). Cedar actions have no attributes:
//!   `action.properties` reach the policies through the context member the mapping names
//!   (`action_properties`, for the actions that declare it; see [`Mapping`]), and are
//!   ignored otherwise, as are a route resource's `properties`.
//! - `properties` → the entity's attributes, `context` → the Cedar context, each checked
//!   against what the schema declares ([`AttributeError`]); undeclared members are dropped,
//!   since no (strictly validated) policy can read them.
//! - Entity data ([`Bundle::load_with_entities`]) is what the decision point knows, and
//!   properties are merged with it by one rule: the entities' parents (a user's roles) come
//!   only from the data, never from a request; a property the schema declares may add an
//!   attribute the data lacks, or repeat the value it has, but not change it
//!   ([`AttributeError::Conflict`], a 400; in a search, that candidate is not a result);
//!   properties the schema does not declare are ignored, as the specification asks of
//!   unknown fields.
//! - The Cedar request is validated against the schema, then decided by the bundle's
//!   policies with the bundle's rules (an erroring `forbid` denies; a deny caused by step-up
//!   `forbid`s alone names the sign-in to ask for).
//!
//! Errors are never a silent deny: a single evaluation that cannot be mapped is a Bad
//! Request ([`EvaluationError`], HTTP 400); in an Access Evaluations request it is that
//! evaluation's answer, `{"decision": false, "context": {"error": {"status": 400, "message":
//! "..."}}}` (§ 7.2.1), and counts as a deny for `deny_on_first_deny`.
//!
//! # The response context
//!
//! - `error`: `{"status": 400, "message": ...}` for a failed evaluation in a batch.
//! - `acr_values` (space-separated) and `max_age` (seconds): on a deny that only step-up
//!   requirements cause, the sign-in that would meet them (as in § 5.5.1's step-up example).
//! - `reason_admin`: `{"policies": [ids], "errors": [messages]}`, the `@id`s of the
//!   determining policies (the satisfied `permit`s of an allow, the satisfied or erroring
//!   `forbid`s of a deny, none for a default deny) and evaluation errors (when there were
//!   any). **Only with [`Reasons::Policies`]**; by default ([`Reasons::Omit`]) nothing about
//!   the policies is told, so that a caller cannot map them out by asking (§ 11.2).
//!
//! With nothing to say, there is no `context` member: `{"decision": true}`.
//!
//! # Secure defaults
//!
//! Duplicate JSON members are refused at any depth; bodies are at most
//! [`MAX_REQUEST_BYTES`], batches at most [`MAX_EVALUATIONS`]; policy ids are not disclosed;
//! request properties never set parents and never override entity data. The API's own
//! authentication of the PEP (§ 11.2) is the caller's: this module decides whatever it is
//! given.

mod mapping;
mod metadata;
mod types;
mod values;

pub mod interop;

pub use crate::bundle::{ENTITIES_FILE, MAX_ENTITIES};
pub use mapping::{MAPPING_FILE, Mapping, MappingFileError};
pub use metadata::{
    EVALUATION_PATH, EVALUATIONS_PATH, MetadataError, PdpMetadata, SEARCH_ACTION_PATH,
    SEARCH_RESOURCE_PATH, SEARCH_SUBJECT_PATH, WELL_KNOWN_PATH, metadata, well_known_url,
};
pub use types::{
    Action, ActionResult, ActionSearchError, ActionSearchRequest, ActionSearchResponse,
    AttributeError, BodyError, EntityResult, EvaluationError, EvaluationItem, EvaluationRequest,
    EvaluationResponse, EvaluationsError, EvaluationsOptions, EvaluationsRequest,
    EvaluationsResponse, EvaluationsSemantic, MAX_EVALUATIONS, MAX_REQUEST_BYTES, PageRequest,
    PageResponse, Resource, ResourceSearchRequest, SearchError, SearchResponse, SearchedEntity,
    Subject, SubjectSearchRequest,
};

use crate::bundle::{Bundle, error_chain};
use crate::decision::Decision;
use base64ct::{Base64UrlUnpadded, Encoding};
use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Whether a response's context tells which policies decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reasons {
    /// Nothing about the policies (the default).
    #[default]
    Omit,
    /// `context.reason_admin`: the determining policies' ids and any evaluation errors. For
    /// callers trusted with the policies, such as an operator's tools.
    Policies,
}

/// An AuthZEN decision point: a bundle (with its entity data) and the mapping bound to it.
#[derive(Clone, Debug)]
pub struct Pdp {
    bundle: Bundle,
    mapping: Mapping,
    reasons: Reasons,
}

/// What one subject may do with one action on the resources of one type
/// ([`Pdp::permitted_resources`]). Also what the bundle endpoint tells a person about
/// themselves ([`crate::wire::BundleEndpoint::permitted_resources`]): ids only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PermittedResources {
    /// The AuthZEN resource type (`record`).
    pub resource_type: String,
    /// The action (`view`).
    pub action: String,
    /// The ids of the resources it may be done on, sorted.
    pub ids: Vec<String>,
}

/// A request in Cedar's terms, ready to decide.
struct Query {
    action: String,
    request: Request,
    entities: Entities,
}

/// The attributes one entity of a request gets, from where.
struct Party<'a> {
    uid: EntityUid,
    properties: Option<&'a Map<String, Value>>,
    place: &'static str,
}

/// Where an action's candidate for an Action Search comes from.
struct Candidate {
    /// The name a result gives it.
    name: String,
    /// The Cedar action id.
    action: String,
}

impl Pdp {
    /// Binds the mapping file's text (`authzen.json`, see [`Mapping`]) to `bundle`.
    pub fn new(bundle: Bundle, mapping: &str) -> Result<Self, MappingFileError> {
        let mapping = Mapping::load(mapping, &bundle)?;
        Ok(Self {
            bundle,
            mapping,
            reasons: Reasons::default(),
        })
    }

    /// The same decision point, telling [`Reasons`] as chosen.
    pub fn with_reasons(mut self, reasons: Reasons) -> Self {
        self.reasons = reasons;
        self
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The mapping.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The Access Evaluation API: a request body in, the decision out.
    pub fn evaluation(&self, body: &[u8]) -> Result<EvaluationResponse, EvaluationError> {
        self.evaluate(&EvaluationRequest::from_json(body)?)
    }

    /// The Access Evaluations API: a request body in, the decisions out.
    pub fn evaluations(&self, body: &[u8]) -> Result<EvaluationsResponse, EvaluationsError> {
        self.evaluate_all(&EvaluationsRequest::from_json(body)?)
    }

    /// The Action Search API: a request body in, the permitted actions out.
    pub fn search_action(&self, body: &[u8]) -> Result<ActionSearchResponse, ActionSearchError> {
        self.search_actions(&ActionSearchRequest::from_json(body)?)
    }

    /// The Subject Search API: a request body in, the permitted subjects out.
    pub fn search_subject(&self, body: &[u8]) -> Result<SearchResponse, SearchError> {
        self.search_subjects(&SubjectSearchRequest::from_json(body)?)
    }

    /// The Resource Search API: a request body in, the permitted resources out.
    pub fn search_resource(&self, body: &[u8]) -> Result<SearchResponse, SearchError> {
        self.search_resources(&ResourceSearchRequest::from_json(body)?)
    }

    /// Searches the subjects of `subject.type` that may do `action` on `resource`: every
    /// entity of the type's Cedar type in the bundle's entity data (the candidates; an
    /// `id` in the request is ignored), each decided as [`Pdp::evaluate`] would with the
    /// request's `subject.properties`, `action`, `resource` and `context`; the permitted
    /// ones sorted by id, paginated ([`PageRequest`]). Nothing is found for an unknown
    /// type or action, a resource the data does not know (see [`Pdp::known`]), a candidate
    /// whose data conflicts with the given properties, or one whose decision lacks a
    /// required value; a property or context value of the wrong type is an error.
    pub fn search_subjects(
        &self,
        request: &SubjectSearchRequest,
    ) -> Result<SearchResponse, SearchError> {
        let page = Page::read(request.page.as_ref())?;
        let Some(ty) = self.mapping.subject_type(&request.subject.ty) else {
            return Ok(page.entities(Vec::new()));
        };
        if !self.known_resource(&request.resource) {
            return Ok(page.entities(Vec::new()));
        }
        let mut results = Vec::new();
        for id in self.candidates(ty) {
            let question = EvaluationRequest {
                subject: Subject {
                    ty: request.subject.ty.clone(),
                    id,
                    properties: request.subject.properties.clone(),
                },
                action: request.action.clone(),
                resource: request.resource.clone(),
                context: request.context.clone(),
            };
            match self.candidate(&question)? {
                Found::Permitted => results.push(EntityResult {
                    ty: question.subject.ty,
                    id: question.subject.id,
                }),
                Found::Not => {}
                Found::Nothing => return Ok(page.entities(Vec::new())),
            }
        }
        Ok(page.entities(results))
    }

    /// Searches the resources of `resource.type` that `subject` may do `action` on: every
    /// entity of the type's Cedar type in the entity data (for the mapping's route type,
    /// every route template with the action's method), each decided as
    /// [`Pdp::evaluate`] would; otherwise as [`Pdp::search_subjects`].
    pub fn search_resources(
        &self,
        request: &ResourceSearchRequest,
    ) -> Result<SearchResponse, SearchError> {
        let page = Page::read(request.page.as_ref())?;
        let candidates = if self.mapping.route_type() == Some(request.resource.ty.as_str()) {
            let method = request.action.name.to_ascii_lowercase();
            let mut templates: Vec<String> = self
                .bundle
                .routes
                .routes
                .iter()
                .filter(|r| r.method == method)
                .map(|r| r.template.clone())
                .collect();
            templates.sort();
            templates.dedup();
            templates
        } else if let Some(ty) = self.mapping.resource_type(&request.resource.ty) {
            self.candidates(ty)
        } else {
            return Ok(page.entities(Vec::new()));
        };
        if !self.known_subject(&request.subject) {
            return Ok(page.entities(Vec::new()));
        }
        let mut results = Vec::new();
        for id in candidates {
            let question = EvaluationRequest {
                subject: request.subject.clone(),
                action: request.action.clone(),
                resource: Resource {
                    ty: request.resource.ty.clone(),
                    id,
                    properties: request.resource.properties.clone(),
                },
                context: request.context.clone(),
            };
            match self.candidate(&question)? {
                Found::Permitted => results.push(EntityResult {
                    ty: question.resource.ty,
                    id: question.resource.id,
                }),
                Found::Not => {}
                Found::Nothing => return Ok(page.entities(Vec::new())),
            }
        }
        Ok(page.entities(results))
    }

    /// What `principal` may do on the entity data's resources: for each AuthZEN resource
    /// type of the mapping (not the route type) and each action that applies to the two
    /// Cedar types, the [`Pdp::search_resources`] of it, asked with the principal as the
    /// subject (the first AuthZEN subject type mapped to its Cedar type), no properties and
    /// no context. Sorted by resource type, then action; an action that finds nothing is
    /// there with no ids. Empty when no subject type maps to the principal's type, or the
    /// data does not hold the principal ([`Pdp::known`]). "Which records may I view, edit,
    /// delete", by the same evaluation as every search.
    pub fn permitted_resources(
        &self,
        principal: &EntityUid,
    ) -> Result<Vec<PermittedResources>, SearchError> {
        let Some(subject_type) = self
            .mapping
            .subject_types()
            .find(|(_, cedar)| *cedar == principal.type_name())
            .map(|(authzen, _)| authzen.to_owned())
        else {
            return Ok(Vec::new());
        };
        if !self.known(principal) {
            return Ok(Vec::new());
        }
        let subject = Subject {
            ty: subject_type,
            id: principal.id().unescaped().to_owned(),
            properties: None,
        };
        let mut out = Vec::new();
        for (resource_type, cedar) in self.mapping.resource_types() {
            let any = EntityUid::from_type_name_and_id(cedar.clone(), EntityId::new(""));
            for action in self.bundle.actions.keys() {
                if self.applies(action, principal, &any).is_err() {
                    continue;
                }
                let found = self.search_resources(&ResourceSearchRequest {
                    subject: subject.clone(),
                    action: Action {
                        name: action.clone(),
                        properties: None,
                    },
                    resource: SearchedEntity {
                        ty: resource_type.to_owned(),
                        id: None,
                        properties: None,
                    },
                    context: None,
                    page: None,
                })?;
                out.push(PermittedResources {
                    resource_type: resource_type.to_owned(),
                    action: action.clone(),
                    ids: found.results.into_iter().map(|r| r.id).collect(),
                });
            }
        }
        Ok(out)
    }

    /// The ids of the entity data's entities of `ty`, sorted.
    fn candidates(&self, ty: &EntityTypeName) -> Vec<String> {
        let mut ids: Vec<String> = self
            .bundle
            .entity_data
            .by_uid
            .keys()
            .filter(|uid| uid.type_name() == ty)
            .map(|uid| uid.id().unescaped().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// Whether a search may take `uid` as its input entity: the entity data holds it, or
    /// holds no entity of its type at all (the data is partial: entities of that type are
    /// known from requests alone, and decided as given). An id of a type the data
    /// enumerates but does not list is unknown, and the search finds nothing (the
    /// certification scenario's c-4-6-1).
    pub fn known(&self, uid: &EntityUid) -> bool {
        let data = &self.bundle.entity_data.by_uid;
        data.contains_key(uid) || !data.keys().any(|k| k.type_name() == uid.type_name())
    }

    fn known_subject(&self, subject: &Subject) -> bool {
        self.principal(subject).is_none_or(|uid| self.known(&uid))
    }

    fn known_resource(&self, resource: &Resource) -> bool {
        match self.mapping.resource_type(&resource.ty) {
            Some(ty) => self.known(&EntityUid::from_type_name_and_id(
                ty.clone(),
                EntityId::new(&resource.id),
            )),
            // A route (an unknown one finds nothing when decided) or an unknown type.
            None => true,
        }
    }

    /// One candidate of a search, decided.
    fn candidate(&self, question: &EvaluationRequest) -> Result<Found, SearchError> {
        match self.decide(question) {
            Ok(decision) if decision.is_allowed() => Ok(Found::Permitted),
            Ok(_) => Ok(Found::Not),
            // This candidate's data says otherwise, or its decision lacks a value: not
            // permitted.
            Err(EvaluationError::Attribute(
                AttributeError::Conflict { .. } | AttributeError::Missing { .. },
            )) => Ok(Found::Not),
            Err(
                EvaluationError::UnknownSubjectType(_)
                | EvaluationError::UnknownResourceType(_)
                | EvaluationError::UnknownAction(_)
                | EvaluationError::UnknownRoute { .. }
                | EvaluationError::NotApplicable { .. },
            ) => Ok(Found::Nothing),
            Err(err) => Err(search_error(err)),
        }
    }

    /// Decides one evaluation, with the response context of the module documentation.
    pub fn evaluate(
        &self,
        request: &EvaluationRequest,
    ) -> Result<EvaluationResponse, EvaluationError> {
        let decision = self.decide(request)?;
        Ok(self.response(&decision))
    }

    /// Decides one evaluation and gives the whole [`Decision`]: the action id, the
    /// determining policies, evaluation errors and any step-up requirement (for logs and
    /// tools; [`Pdp::evaluate`] is what a caller is answered).
    pub fn decide(&self, request: &EvaluationRequest) -> Result<Decision, EvaluationError> {
        let query = self.query(request)?;
        Ok(self.decide_query(&query))
    }

    /// Decides an Access Evaluations request. Without evaluations (or with an empty array)
    /// it is one Access Evaluation request of the top-level members, answered as such.
    /// Otherwise each evaluation takes the top-level `subject`, `action`, `resource` and
    /// `context` it lacks, each as a whole object, and is decided in order under
    /// `options.evaluations_semantic`.
    pub fn evaluate_all(
        &self,
        request: &EvaluationsRequest,
    ) -> Result<EvaluationsResponse, EvaluationsError> {
        let items = request.evaluations.as_deref().unwrap_or_default();
        if items.is_empty() {
            let single = resolve(request, &EvaluationItem::default()).map_err(|err| match err {
                // As the Access Evaluation API says it.
                EvaluationError::Missing(member) => {
                    EvaluationsError::Shape(format!("missing field `{member}`"))
                }
                other => EvaluationsError::Evaluation(other),
            })?;
            return self
                .evaluate(&single)
                .map(EvaluationsResponse::Single)
                .map_err(EvaluationsError::Evaluation);
        }
        if items.len() > MAX_EVALUATIONS {
            return Err(EvaluationsError::TooMany { count: items.len() });
        }
        let semantic = request
            .options
            .and_then(|options| options.evaluations_semantic)
            .unwrap_or_default();
        let mut evaluations = Vec::with_capacity(items.len());
        for item in items {
            let answer = resolve(request, item)
                .and_then(|single| self.evaluate(&single))
                .unwrap_or_else(|err| error_response(&err));
            let permitted = answer.decision;
            evaluations.push(answer);
            match semantic {
                EvaluationsSemantic::DenyOnFirstDeny if !permitted => break,
                EvaluationsSemantic::PermitOnFirstPermit if permitted => break,
                _ => {}
            }
        }
        Ok(EvaluationsResponse::Batch { evaluations })
    }

    /// Searches the actions `subject` is permitted on `resource`: every action of the
    /// bundle that applies to their types (for a route resource, every method of that
    /// route), each decided as [`Pdp::evaluate`] would with the request's context, the
    /// permitted ones sorted by name. A route's action is named by its method in uppercase
    /// (`GET`), as a gateway asks.
    ///
    /// An unknown subject or resource type, or an unknown route, finds nothing (an empty
    /// `results`, not an error); an action whose declared context needs a value the
    /// request's context does not give is not permitted. A property or context value of the
    /// wrong type is an error.
    pub fn search_actions(
        &self,
        request: &ActionSearchRequest,
    ) -> Result<ActionSearchResponse, ActionSearchError> {
        let page = Page::read(request.page.as_ref())?;
        let none = Ok(page.actions(Vec::new()));
        let Some(principal) = self.principal(&request.subject) else {
            return none;
        };
        if !self.known(&principal) || !self.known_resource(&request.resource) {
            return none;
        }
        let route = self.mapping.route_type() == Some(request.resource.ty.as_str());
        let (resource, resource_properties, candidates) = if route {
            let candidates: Vec<Candidate> = self
                .bundle
                .routes
                .routes
                .iter()
                .filter(|r| r.template == request.resource.id)
                .map(|r| Candidate {
                    name: r.method.to_ascii_uppercase(),
                    action: r.action.clone(),
                })
                .collect();
            (self.bundle.resource.clone(), None, candidates)
        } else {
            let Some(ty) = self.mapping.resource_type(&request.resource.ty) else {
                return none;
            };
            let uid =
                EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(&request.resource.id));
            let candidates = self
                .bundle
                .actions
                .keys()
                .map(|id| Candidate {
                    name: id.clone(),
                    action: id.clone(),
                })
                .collect();
            (uid, request.resource.properties.as_ref(), candidates)
        };
        let entities = self
            .entities(&parties(
                &principal,
                request.subject.properties.as_ref(),
                (!route).then_some((&resource, resource_properties)),
            ))
            .map_err(search_error)?;
        let mut results = Vec::new();
        for candidate in candidates {
            if self
                .applies(&candidate.action, &principal, &resource)
                .is_err()
            {
                continue;
            }
            let query = match self.cedar_request(
                &candidate.action,
                &principal,
                &resource,
                request.context.as_ref(),
                None,
                entities.clone(),
            ) {
                Ok(query) => query,
                // Not permitted without the value.
                Err(EvaluationError::Attribute(AttributeError::Missing { .. })) => continue,
                Err(err) => return Err(search_error(err)),
            };
            if self.decide_query(&query).is_allowed() {
                results.push(ActionResult {
                    name: candidate.name,
                });
            }
        }
        results.sort();
        results.dedup();
        Ok(page.actions(results))
    }

    fn principal(&self, subject: &Subject) -> Option<EntityUid> {
        let ty = self.mapping.subject_type(&subject.ty)?;
        Some(EntityUid::from_type_name_and_id(
            ty.clone(),
            EntityId::new(&subject.id),
        ))
    }

    /// Maps an evaluation to a Cedar request (see the module documentation).
    fn query(&self, request: &EvaluationRequest) -> Result<Query, EvaluationError> {
        let principal = self
            .principal(&request.subject)
            .ok_or_else(|| EvaluationError::UnknownSubjectType(request.subject.ty.clone()))?;
        let route = self.mapping.route_type() == Some(request.resource.ty.as_str());
        let (action, resource, resource_properties, action_properties) = if route {
            let method = request.action.name.to_ascii_lowercase();
            let route = self
                .bundle
                .routes
                .routes
                .iter()
                .find(|r| r.method == method && r.template == request.resource.id)
                .ok_or_else(|| EvaluationError::UnknownRoute {
                    method: request.action.name.clone(),
                    template: request.resource.id.clone(),
                })?;
            (
                route.action.clone(),
                self.bundle.resource.clone(),
                None,
                None,
            )
        } else {
            let ty = self
                .mapping
                .resource_type(&request.resource.ty)
                .ok_or_else(|| EvaluationError::UnknownResourceType(request.resource.ty.clone()))?;
            let uid =
                EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(&request.resource.id));
            (
                request.action.name.clone(),
                uid,
                request.resource.properties.as_ref(),
                request.action.properties.as_ref(),
            )
        };
        self.applies(&action, &principal, &resource)?;
        let entities = self.entities(&parties(
            &principal,
            request.subject.properties.as_ref(),
            (!route).then_some((&resource, resource_properties)),
        ))?;
        self.cedar_request(
            &action,
            &principal,
            &resource,
            request.context.as_ref(),
            action_properties,
            entities,
        )
    }

    /// The action exists and applies to the principal's and the resource's types.
    fn applies(
        &self,
        action: &str,
        principal: &EntityUid,
        resource: &EntityUid,
    ) -> Result<(), EvaluationError> {
        let entry = self
            .bundle
            .actions
            .get(action)
            .ok_or_else(|| EvaluationError::UnknownAction(action.to_owned()))?;
        let info = self
            .bundle
            .schema_info()
            .actions
            .get(&(entry.uid.type_name().to_string(), action.to_owned()))
            .ok_or_else(|| EvaluationError::UnknownAction(action.to_owned()))?;
        let principal_type = principal.type_name().to_string();
        let resource_type = resource.type_name().to_string();
        if info.principal_types.contains(&principal_type)
            && info.resource_types.contains(&resource_type)
        {
            Ok(())
        } else {
            Err(EvaluationError::NotApplicable {
                action: action.to_owned(),
                principal: principal_type,
                resource: resource_type,
            })
        }
    }

    /// The entity data with the request's entities added: each one's attributes are the
    /// data's (if the data has the entity) and the declared properties; its parents are the
    /// data's only. An entity the data lacks and the request gives no property for is left
    /// out (Cedar reads it as one without attributes or parents) unless its type requires
    /// attributes, which is an error.
    fn entities(&self, parties: &[Party<'_>]) -> Result<Entities, EvaluationError> {
        // One entity may be both subject and resource: its properties are merged.
        let mut merged: BTreeMap<String, (EntityUid, Map<String, Value>, &'static str)> =
            BTreeMap::new();
        for party in parties {
            let declared = self
                .bundle
                .schema_info()
                .entities
                .get(&party.uid.type_name().to_string())
                .map(|e| &e.attributes);
            let place = format!("{}.properties", party.place);
            let shaped = match (party.properties, declared) {
                (Some(given), Some(declared)) => {
                    values::shape_record(&place, given, declared, false)?
                }
                _ => Map::new(),
            };
            let key = party.uid.to_string();
            let entry = merged
                .entry(key)
                .or_insert_with(|| (party.uid.clone(), Map::new(), party.place));
            for (name, value) in shaped {
                let same = |existing: &Value| {
                    *existing == value
                        || declared
                            .and_then(|d| d.get(&name))
                            .is_some_and(|a| values::same_value(existing, &value, &a.ty))
                };
                match entry.1.get(&name) {
                    Some(existing) if !same(existing) => {
                        return Err(AttributeError::Conflict {
                            place: format!("{place}.{name}"),
                        }
                        .into());
                    }
                    _ => {
                        entry.1.insert(name, value);
                    }
                }
            }
        }
        let schema = &self.bundle.schema;
        let mut added = Vec::new();
        for (uid, properties, place) in merged.into_values() {
            let stored = self.bundle.entity_data.by_uid.get(&uid);
            let mut attributes = stored
                .and_then(|e| e.get("attrs"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let changed = !properties.is_empty();
            let declared = self
                .bundle
                .schema_info()
                .entities
                .get(&uid.type_name().to_string())
                .map(|e| &e.attributes);
            for (name, value) in properties {
                let same = |known: &Value| {
                    *known == value
                        || declared
                            .and_then(|d| d.get(&name))
                            .is_some_and(|a| values::same_value(known, &value, &a.ty))
                };
                match attributes.get(&name) {
                    Some(known) if !same(known) => {
                        return Err(AttributeError::Conflict {
                            place: format!("{place}.properties.{name}"),
                        }
                        .into());
                    }
                    _ => {
                        attributes.insert(name, value);
                    }
                }
            }
            if let Some(info) = self
                .bundle
                .schema_info()
                .entities
                .get(&uid.type_name().to_string())
                && let Some((name, _)) = info
                    .attributes
                    .iter()
                    .find(|(name, a)| a.required && !attributes.contains_key(*name))
            {
                return Err(AttributeError::Missing {
                    place: format!("{place}.properties.{name}"),
                }
                .into());
            }
            if !changed {
                continue;
            }
            let mut json = stored.cloned().unwrap_or_else(|| {
                json!({
                    "uid": {"type": uid.type_name().to_string(), "id": uid.id().unescaped()},
                    "parents": [],
                })
            });
            if let Some(object) = json.as_object_mut() {
                object.insert("attrs".into(), Value::Object(attributes));
            }
            let entity = Entity::from_json_value(json, Some(schema)).map_err(|err| {
                EvaluationError::Invalid(format!("{place}: {}", error_chain(&err)))
            })?;
            added.push(entity);
        }
        let entities = self.bundle.entities().clone();
        if added.is_empty() {
            return Ok(entities);
        }
        entities
            .upsert_entities(added, Some(schema))
            .map_err(|err| EvaluationError::Invalid(error_chain(&err)))
    }

    /// The context, checked against what `action` declares, and the Cedar request,
    /// validated against the schema. With the mapping's `action_properties` member declared
    /// by the action, that member is the action's properties (`{}` without any), and a
    /// context that gives it itself is refused.
    fn cedar_request(
        &self,
        action: &str,
        principal: &EntityUid,
        resource: &EntityUid,
        context: Option<&Map<String, Value>>,
        action_properties: Option<&Map<String, Value>>,
        entities: Entities,
    ) -> Result<Query, EvaluationError> {
        let entry = self
            .bundle
            .actions
            .get(action)
            .ok_or_else(|| EvaluationError::UnknownAction(action.to_owned()))?;
        let empty = Map::new();
        let declared = self
            .bundle
            .schema_info()
            .actions
            .get(&(entry.uid.type_name().to_string(), action.to_owned()))
            .map(|a| &a.context);
        let member = self
            .mapping
            .action_properties()
            .filter(|m| declared.is_some_and(|d| d.contains_key(*m)));
        let with_action;
        let context = match member {
            Some(member) => {
                if context.is_some_and(|c| c.contains_key(member)) {
                    return Err(EvaluationError::Reserved(member.to_owned()));
                }
                let mut all = context.cloned().unwrap_or_default();
                all.insert(
                    member.to_owned(),
                    Value::Object(action_properties.cloned().unwrap_or_default()),
                );
                with_action = all;
                Some(&with_action)
            }
            None => context,
        };
        let shaped = match declared {
            Some(declared) => {
                values::shape_record("context", context.unwrap_or(&empty), declared, true)?
            }
            None => Map::new(),
        };
        let schema = &self.bundle.schema;
        let context = Context::from_json_value(Value::Object(shaped), Some((schema, &entry.uid)))
            .map_err(|err| {
            EvaluationError::Invalid(format!("context: {}", error_chain(&err)))
        })?;
        let request = Request::new(
            principal.clone(),
            entry.uid.clone(),
            resource.clone(),
            context,
            Some(schema),
        )
        .map_err(|err| EvaluationError::Invalid(error_chain(&err)))?;
        Ok(Query {
            action: action.to_owned(),
            request,
            entities,
        })
    }

    /// Decided by the bundle's one evaluation ([`Bundle`]'s `decide_request`, the same as
    /// the edge's requests): an erroring `forbid` denies, step-up requirements are reported.
    fn decide_query(&self, query: &Query) -> Decision {
        self.bundle
            .decide_request(&query.request, &query.entities, &query.action)
    }

    fn response(&self, decision: &Decision) -> EvaluationResponse {
        let mut context = Map::new();
        if let Some(step_up) = &decision.step_up {
            if !step_up.acr_values.is_empty() {
                context.insert("acr_values".into(), json!(step_up.acr_values.join(" ")));
            }
            if let Some(max_age) = step_up.max_age {
                context.insert("max_age".into(), json!(max_age));
            }
        }
        if self.reasons == Reasons::Policies {
            let mut reason = Map::new();
            reason.insert("policies".into(), json!(decision.policies));
            if !decision.errors.is_empty() {
                reason.insert("errors".into(), json!(decision.errors));
            }
            context.insert("reason_admin".into(), Value::Object(reason));
        }
        EvaluationResponse {
            decision: decision.is_allowed(),
            context: (!context.is_empty()).then_some(context),
        }
    }
}

/// The entities of a request: the subject, and the resource unless it is the bundle's own
/// (a route's).
fn parties<'a>(
    principal: &EntityUid,
    subject_properties: Option<&'a Map<String, Value>>,
    resource: Option<(&EntityUid, Option<&'a Map<String, Value>>)>,
) -> Vec<Party<'a>> {
    let mut out = vec![Party {
        uid: principal.clone(),
        properties: subject_properties,
        place: "subject",
    }];
    if let Some((uid, properties)) = resource {
        out.push(Party {
            uid: uid.clone(),
            properties,
            place: "resource",
        });
    }
    out
}

/// One evaluation of a batch with the request's defaults filled in.
fn resolve(
    request: &EvaluationsRequest,
    item: &EvaluationItem,
) -> Result<EvaluationRequest, EvaluationError> {
    let defaults = &request.defaults;
    fn either<T: Clone>(
        own: &Option<T>,
        default: &Option<T>,
        name: &'static str,
    ) -> Result<T, EvaluationError> {
        own.as_ref()
            .or(default.as_ref())
            .cloned()
            .ok_or(EvaluationError::Missing(name))
    }
    Ok(EvaluationRequest {
        subject: either(&item.subject, &defaults.subject, "subject")?,
        action: either(&item.action, &defaults.action, "action")?,
        resource: either(&item.resource, &defaults.resource, "resource")?,
        context: item.context.as_ref().or(defaults.context.as_ref()).cloned(),
    })
}

/// A failed evaluation's answer in a batch (§ 7.2.1).
fn error_response(err: &EvaluationError) -> EvaluationResponse {
    let mut context = Map::new();
    context.insert(
        "error".into(),
        json!({"status": err.status(), "message": err.to_string()}),
    );
    EvaluationResponse {
        decision: false,
        context: Some(context),
    }
}

fn search_error(err: EvaluationError) -> SearchError {
    match err {
        EvaluationError::Attribute(e) => SearchError::Attribute(e),
        EvaluationError::Invalid(m) => SearchError::Invalid(m),
        other => SearchError::Invalid(other.to_string()),
    }
}

/// What one candidate of a search came to.
enum Found {
    Permitted,
    Not,
    /// The question cannot be asked at all (unknown type, action or route): the search
    /// finds nothing.
    Nothing,
}

/// The prefix of a page token: the token is `c1.` and the base64url (unpadded) of the key
/// (an id, or an action's name) of the last result given.
const TOKEN_PREFIX: &str = "c1.";

/// A search request's `page`, read.
struct Page {
    /// Whether the request had a `page` (then the response has one).
    asked: bool,
    /// Results after this key only.
    after: Option<String>,
    limit: Option<usize>,
}

impl Page {
    fn read(page: Option<&PageRequest>) -> Result<Self, SearchError> {
        let Some(page) = page else {
            return Ok(Self {
                asked: false,
                after: None,
                limit: None,
            });
        };
        let after = match page.token.as_deref() {
            None | Some("") => None,
            Some(token) => {
                let encoded = token
                    .strip_prefix(TOKEN_PREFIX)
                    .ok_or(SearchError::PageToken)?;
                let bytes =
                    Base64UrlUnpadded::decode_vec(encoded).map_err(|_| SearchError::PageToken)?;
                Some(String::from_utf8(bytes).map_err(|_| SearchError::PageToken)?)
            }
        };
        let limit = match page.limit {
            Some(0) => return Err(SearchError::PageLimit),
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => None,
        };
        Ok(Self {
            asked: true,
            after,
            limit,
        })
    }

    /// This page of `all` (sorted by `key`, without repeats) and its `page` object.
    fn cut<T>(&self, all: Vec<T>, key: impl Fn(&T) -> &str) -> (Vec<T>, Option<PageResponse>) {
        let total = all.len();
        let mut rest: Vec<T> = match &self.after {
            Some(after) => all
                .into_iter()
                .filter(|r| key(r) > after.as_str())
                .collect(),
            None => all,
        };
        let more = self.limit.is_some_and(|limit| rest.len() > limit);
        if let Some(limit) = self.limit {
            rest.truncate(limit);
        }
        let next_token = match rest.last() {
            Some(last) if more => format!(
                "{TOKEN_PREFIX}{}",
                Base64UrlUnpadded::encode_string(key(last).as_bytes())
            ),
            _ => String::new(),
        };
        let page = self.asked.then_some(PageResponse {
            next_token,
            count: rest.len() as u64,
            total: total as u64,
        });
        (rest, page)
    }

    fn entities(&self, mut all: Vec<EntityResult>) -> SearchResponse {
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all.dedup();
        let (results, page) = self.cut(all, |r| r.id.as_str());
        SearchResponse { results, page }
    }

    fn actions(&self, all: Vec<ActionResult>) -> ActionSearchResponse {
        let (results, page) = self.cut(all, |r| r.name.as_str());
        ActionSearchResponse { results, page }
    }
}
