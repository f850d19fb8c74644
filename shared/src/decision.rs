//! Step 5 of the pipeline, the one decision point: a principal, a matched route and the
//! bundle's policies give a [`Decision`]; [`Bundle::allowed_actions`] evaluates every action
//! at once without request values.
//!
//! One rule beyond Cedar's own: Cedar skips a policy whose evaluation errors, and here a
//! `forbid` that errors denies ([`Bundle::erroring_forbids`]).

use crate::actions::ActionEntry;
use crate::bundle::{Bundle, StepUp};
use crate::context::{self, RequestValues, TokenValues};
use crate::principal::Principal;
use crate::routes::RouteMatch;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Effect, Entities, Entity, EntityUid, Policy,
    PolicySet, Request, RestrictedExpression,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A `permit` applied and no `forbid` did.
    Allow,
    /// A `forbid` applied or errored, or no `permit` applied.
    Deny,
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The action id.
    pub action: String,
    /// Allow or deny.
    pub outcome: Outcome,
    /// The ids of the policies that determined the outcome: the satisfied `permit`s for an
    /// allow, the satisfied or erroring `forbid`s for a deny, none for a default deny.
    pub policies: Vec<String>,
    /// Evaluation errors, as `"<policy id>: <message>"`.
    pub errors: Vec<String>,
    /// Set on a deny that only step-up `forbid`s caused, when the request would be allowed
    /// without them: the stronger sign-in to ask for (RFC 9470). `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
    /// Set on a deny that only `forbid`s annotated `@required_scopes` caused (possibly
    /// together with step-up ones), when the request would be allowed without them all: the
    /// scopes they name, for RFC 6750's `insufficient_scope`. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_scopes: Vec<String>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// What the policies say about one action for one principal, before any request values are
/// known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDecision {
    /// The action id.
    pub action: String,
    /// The routes (`"<method> <template>"`) that lead to it.
    pub routes: Vec<String>,
    /// `Some` when the policies decide without looking at the request's context; `None` when
    /// the answer depends on path or query values.
    pub outcome: Option<Outcome>,
    /// Determining policies for a known outcome; the policies that may decide otherwise.
    pub policies: Vec<String>,
    /// Evaluation errors, as `"<policy id>: <message>"`.
    pub errors: Vec<String>,
    /// For an unknown outcome, the context values the undecided policies read
    /// (`request.time`, `token.acr`, `pathParameters.petId`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl Bundle {
    /// The one decision point: may `principal` perform the matched request?
    ///
    /// Cedar skips a policy whose evaluation errors; here an erroring `forbid` denies.
    ///
    /// `values` are the request's own (time, address, headers): only what the action's
    /// context declares is used.
    pub fn authorize(
        &self,
        principal: &Principal,
        route: &RouteMatch,
        values: &RequestValues,
    ) -> Decision {
        self.authorize_as(
            principal.uid(),
            self.entities_for(principal),
            &principal.token_values,
            route,
            values,
        )
    }

    /// [`Bundle::authorize`] with the principal's entities checked against the schema and
    /// joined with the bundle's action entities and data whatever bundle's trust mapped it:
    /// what [`Bundle::authorize`] leaves out for a principal of this bundle's trust, for
    /// tests that compare both.
    #[cfg(feature = "testing")]
    pub fn authorize_checked(
        &self,
        principal: &Principal,
        route: &RouteMatch,
        values: &RequestValues,
    ) -> Decision {
        self.authorize_as(
            principal.uid(),
            principal
                .entities()
                .map_err(|err| err.to_string())
                .and_then(|own| self.join(principal.uid(), own, false)),
            &principal.token_values,
            route,
            values,
        )
    }

    /// What the entity data says about `principal` and about the API: the data's entities
    /// for the principal, its groups and the bundle's resource, and every entity the data
    /// places above them, as written (Cedar's JSON entity format), sorted by uid. `None` for
    /// a bundle without entity data; empty when the data names none of them. This is what
    /// the bundle endpoint tells a caller, and nothing about anyone else: what a policy
    /// reaches through another person's entity is decided by the edge with the whole data
    /// ([`Bundle::authorize`]), but not predicted by a client that holds only this part.
    pub fn entity_data_about(&self, principal: &Principal) -> Option<Vec<serde_json::Value>> {
        self.entities_source()?;
        let by_uid = &self.entity_data.by_uid;
        // A principal whose entities cannot be built is refused every decision; what the data
        // says about it alone is still what it says.
        let empty = Entities::empty();
        let own = principal.entities().unwrap_or(&empty);
        let (mut about, above) = self.data_scope(principal.uid(), own);
        about.extend(above);
        about.push(&self.resource);
        if let Some(parents) = self.entity_data.entities.ancestors(&self.resource) {
            about.extend(parents);
        }
        let mut found: Vec<(String, &serde_json::Value)> = about
            .into_iter()
            .filter_map(|member| Some((member.to_string(), by_uid.get(member)?)))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|a, b| a.0 == b.0);
        Some(
            found
                .into_iter()
                .map(|(_, entity)| entity.clone())
                .collect(),
        )
    }

    /// Whom the entity data is read for about `principal`: the principal and the groups its
    /// token names, then every entity the stored data places above them (the stored
    /// hierarchy is already closed; an entity may appear in both, or twice).
    fn data_scope<'a>(
        &'a self,
        uid: &'a EntityUid,
        own: &'a Entities,
    ) -> (Vec<&'a EntityUid>, Vec<&'a EntityUid>) {
        let mut start = vec![uid];
        if let Some(parents) = own.ancestors(uid) {
            start.extend(parents);
        }
        let stored = &self.entity_data.entities;
        let above = start
            .iter()
            .filter_map(|member| stored.ancestors(member))
            .flatten()
            .collect();
        (start, above)
    }

    /// The entities a decision for `principal` is evaluated against: the bundle's entity
    /// data ([`Bundle::load_with_entities`]), all of it, with the token's principal and
    /// groups joined in. A principal or group the data names gets the data's parents as well
    /// as the token's, and the data's attributes as well as the token's; one the data does
    /// not name is added as the token maps it. So `principal in Role::"admin"` holds for a
    /// user the data makes an admin, and what the data says of the resource (its parents) or
    /// of entities a policy reaches through attributes decides too, exactly as for an
    /// AuthZEN question. The token's entities as they are for a bundle without entity data.
    ///
    /// Neither side wins an attribute both give: where the token's claims and the data give
    /// one attribute different values (compared as Cedar values, so a set in another order
    /// or with repeats is the same), the join fails with an error naming the attribute, as
    /// an AuthZEN property that differs from the data is refused
    /// ([`AttributeError::Conflict`]). It fails too when the joined entities do not fit the
    /// schema. A decision with such an error is a deny.
    ///
    /// The join is kept with the principal for the first bundle with entity data it is
    /// decided with (by that bundle's version), so later decisions for the same token with
    /// that bundle make it no more.
    ///
    /// [`AttributeError::Conflict`]: crate::authzen::AttributeError::Conflict
    pub(crate) fn entities_for<'a>(
        &self,
        principal: &'a Principal,
    ) -> Result<Cow<'a, Entities>, String> {
        let checked = principal.checked_for.as_str() == self.text_version().as_str();
        let own = principal.entities().map_err(|err| err.to_string())?;
        if !checked || self.entity_data.by_uid.is_empty() {
            return self.join(principal.uid(), own, checked);
        }
        // With entity data, the join is made once per principal and bundle version.
        let (version, joined) = principal.joined.get_or_init(|| {
            let joined = self.join(principal.uid(), own, true);
            (self.version().clone(), joined.map(Cow::into_owned))
        });
        if version == self.version() {
            joined.as_ref().map(Cow::Borrowed).map_err(Clone::clone)
        } else {
            self.join(principal.uid(), own, true)
        }
    }

    /// The one join of a caller's own entities (`own`: its principal `uid` and the groups
    /// above it, and the schema's action entities) with the bundle's entity data, for a
    /// token's principal ([`Bundle::entities_for`]) and the anonymous principal alike.
    ///
    /// `checked`: `own` fits this bundle's schema and holds its action entities, because
    /// the trust that mapped the principal was bound to a bundle of this text version
    /// (schema included), or it is this bundle's anonymous principal, checked at load. Then
    /// `own` is used as it is without entity data, and the joined entities are not checked
    /// against the schema again: each one is the token's entity (which fits), the data's
    /// (checked at load), or the two merged, whose attributes each come from one of them
    /// (an attribute both give has one value, or the join fails) and whose parents are the
    /// union of two sets of allowed types; so the merged entity has every attribute the
    /// data's has, none the schema does not declare, each of its type, and allowed parents.
    /// Debug builds check anyway and stop if the check disagrees. Otherwise (a principal of
    /// another bundle's trust, such as the live bundle's principal decided by the staged
    /// candidate) the principal and its groups are checked against this schema and joined
    /// with this bundle's action entities and data, never the other bundle's.
    fn join<'a>(
        &self,
        uid: &EntityUid,
        own: &'a Entities,
        checked: bool,
    ) -> Result<Cow<'a, Entities>, String> {
        let stored = &self.entity_data.entities;
        if checked && self.entity_data.by_uid.is_empty() {
            return Ok(Cow::Borrowed(own));
        }
        let (start, _) = self.data_scope(uid, own);
        let mut joined = Vec::new();
        for &member in &start {
            let token_entity = own.get(member).cloned();
            let data_entity = stored
                .get(member)
                .filter(|_| self.entity_data.by_uid.contains_key(member))
                .cloned();
            let entity = match (token_entity, data_entity) {
                (Some(token), Some(data)) => {
                    if let Some(name) = disagreement(&token, &data) {
                        return Err(format!(
                            "the token and the entity data disagree on attribute {name} of {member}"
                        ));
                    }
                    let (uid, mut attrs, mut parents) = token.into_inner();
                    let (_, data_attrs, data_parents) = data.into_inner();
                    for (name, value) in data_attrs {
                        attrs.entry(name).or_insert(value);
                    }
                    parents.extend(data_parents);
                    Entity::new(uid, attrs, parents).map_err(|err| err.to_string())?
                }
                (Some(entity), None) => entity,
                // Already in the data as it is.
                (None, _) => continue,
            };
            joined.push(entity);
        }
        #[cfg(debug_assertions)]
        let with_check = checked.then(|| {
            stored
                .clone()
                .upsert_entities(joined.clone(), Some(&self.schema))
                .map_err(|err| err.to_string())
        });
        let schema = (!checked).then_some(&self.schema);
        let entities = stored
            .clone()
            .upsert_entities(joined, schema)
            .map_err(|err| format!("the entity data and the token do not fit together: {err}"));
        #[cfg(debug_assertions)]
        if let Some(with_check) = with_check {
            debug_assert!(
                with_check.as_ref().ok() == entities.as_ref().ok(),
                "the joined entities fit the schema by construction: {:?}",
                with_check.err()
            );
        }
        entities.map(Cow::Owned)
    }

    /// The decision for a request without a token on a public route, through the same
    /// policies, for the anonymous principal ([`Bundle::anonymous_principal`]), against the
    /// same entities as a token's principal: the whole entity data with the anonymous
    /// principal joined in, so what the data says of the resource decides for every caller.
    /// `None` when the route is not public: such a request needs a token, and is never
    /// decided.
    pub fn authorize_anonymous(
        &self,
        route: &RouteMatch,
        values: &RequestValues,
    ) -> Option<Decision> {
        let (uid, own) = self.anonymous.as_ref()?;
        route.public.then(|| {
            self.authorize_as(
                uid,
                self.join(uid, own, true),
                &TokenValues::default(),
                route,
                values,
            )
        })
    }

    /// Decides for `uid` against `entities` (the join of its own entities with the entity
    /// data), or denies with the join's error.
    fn authorize_as(
        &self,
        uid: &EntityUid,
        entities: Result<Cow<'_, Entities>, String>,
        token: &TokenValues,
        route: &RouteMatch,
        values: &RequestValues,
    ) -> Decision {
        let deny = |errors: Vec<String>| Decision {
            action: route.action.clone(),
            outcome: Outcome::Deny,
            policies: Vec::new(),
            errors,
            step_up: None,
            required_scopes: Vec::new(),
        };
        let entities = match entities {
            Ok(entities) => entities,
            Err(err) => return deny(vec![err]),
        };
        let Some(entry) = self.actions.get(&route.action) else {
            return deny(vec!["action is not in the bundle".into()]);
        };
        let request = match self.request(uid, entry, route, token, values) {
            Ok(request) => request,
            Err(err) => return deny(vec![err]),
        };
        self.decide_request(&request, &entities, &route.action)
    }

    /// The one Cedar evaluation every decision goes through (the edge's requests through
    /// [`Bundle::authorize`], AuthZEN questions through `authzen::Pdp`): the policies decide,
    /// an erroring `forbid` denies, and a deny caused only by requirements a caller can meet
    /// (step-up and `@required_scopes` `forbid`s) carries them when meeting them all would
    /// allow. `request` is schema-validated by the caller.
    pub(crate) fn decide_request(
        &self,
        request: &Request,
        entities: &Entities,
        action: &str,
    ) -> Decision {
        let mut decision = self.evaluate(request, &self.policies, entities, action);
        if decision.outcome == Outcome::Deny
            && !decision.policies.is_empty()
            && decision.policies.iter().all(|id| self.is_requirement(id))
        {
            // Denied by requirements alone: ask for the stronger sign-in and the scopes only
            // when meeting them would allow.
            let without = self.evaluate(request, &self.without_requirements, entities, action);
            if without.is_allowed() {
                (decision.step_up, decision.required_scopes) =
                    self.requirements_of(&decision.policies);
            }
        }
        decision
    }

    fn evaluate(
        &self,
        request: &Request,
        policies: &PolicySet,
        entities: &Entities,
        action: &str,
    ) -> Decision {
        let response = Authorizer::new().is_authorized(request, policies, entities);
        let errors: Vec<(String, String)> = response
            .diagnostics()
            .errors()
            .map(
                |cedar_policy::AuthorizationError::PolicyEvaluationError(e)| {
                    (e.policy_id().to_string(), e.to_string())
                },
            )
            .collect();
        let erroring_forbids = self.erroring_forbids(errors.iter().map(|(id, _)| id.as_str()));
        let errors_text = errors
            .into_iter()
            .map(|(id, e)| format!("{id}: {e}"))
            .collect();
        if !erroring_forbids.is_empty() {
            return Decision {
                action: action.to_owned(),
                outcome: Outcome::Deny,
                policies: erroring_forbids,
                errors: errors_text,
                step_up: None,
                required_scopes: Vec::new(),
            };
        }
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policies.sort();
        Decision {
            action: action.to_owned(),
            outcome: match response.decision() {
                CedarDecision::Allow => Outcome::Allow,
                CedarDecision::Deny => Outcome::Deny,
            },
            policies,
            errors: errors_text,
            step_up: None,
            required_scopes: Vec::new(),
        }
    }

    /// The rule Cedar does not have: of the policies whose evaluation errored, the `forbid`s,
    /// each of which denies. Sorted, without repeats.
    fn erroring_forbids<'a>(&self, errored: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut ids: Vec<String> = errored
            .filter(|id| self.effects.get(*id) == Some(&Effect::Forbid))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn request(
        &self,
        principal: &EntityUid,
        entry: &ActionEntry,
        route: &RouteMatch,
        token: &TokenValues,
        values: &RequestValues,
    ) -> Result<Request, String> {
        let record = |map: &BTreeMap<String, String>| {
            RestrictedExpression::new_record(
                map.iter()
                    .map(|(k, v)| (k.clone(), RestrictedExpression::new_string(v.clone()))),
            )
            .map_err(|e| e.to_string())
        };
        let mut pairs = Vec::new();
        if entry.context.path_parameters {
            pairs.push(("pathParameters".to_owned(), record(&route.path_parameters)?));
        }
        if entry.context.query_parameters.is_some() {
            pairs.push((
                "queryStringParameters".to_owned(),
                record(&route.query_parameters)?,
            ));
        }
        if let Some(shape) = &entry.context.request {
            pairs.push((
                "request".to_owned(),
                context::request_record(shape, values)?,
            ));
        }
        if let Some(shape) = &entry.context.token {
            pairs.push(("token".to_owned(), context::token_record(shape, token)?));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        // No per-request schema check: every part was checked when the bundle and the trust
        // were loaded (the action and resource exist and fit, the context is built from the
        // shape the action declares, the principal's entity was validated when mapped).
        Request::new(
            principal.clone(),
            entry.uid.clone(),
            self.resource.clone(),
            context,
            None,
        )
        .map_err(|e| format!("request is invalid: {e}"))
    }

    /// Evaluates every action of the schema that applies to the principal's type and the
    /// bundle's resource, in one pass, without request values: an action whose policies
    /// look at the context comes back as "depends on the request" (`outcome: None`).
    pub fn allowed_actions(&self, principal: &Principal) -> Vec<ActionDecision> {
        let entities = match self.entities_for(principal) {
            Ok(entities) => entities,
            Err(err) => {
                return self
                    .actions
                    .keys()
                    .map(|id| ActionDecision {
                        action: id.clone(),
                        routes: Vec::new(),
                        outcome: Some(Outcome::Deny),
                        policies: Vec::new(),
                        errors: vec![err.clone()],
                        depends_on: Vec::new(),
                    })
                    .collect();
            }
        };
        let principal_type = principal.uid().type_name().to_string();
        let resource_type = self.resource.type_name().to_string();
        let authorizer = Authorizer::new();
        let mut out = Vec::new();
        for (id, entry) in &self.actions {
            let applies = self
                .info
                .actions
                .get(&(entry.uid.type_name().to_string(), id.clone()))
                .is_some_and(|a| {
                    a.principal_types.contains(&principal_type)
                        && a.resource_types.contains(&resource_type)
                });
            if !applies {
                continue;
            }
            let routes: Vec<String> = self
                .routes
                .routes
                .iter()
                .filter(|r| &r.action == id)
                .map(|r| format!("{} {}", r.method, r.template))
                .collect();
            let request = Request::builder()
                .principal(principal.uid().clone())
                .action(entry.uid.clone())
                .resource(self.resource.clone())
                .schema(&self.schema)
                .build();
            let request = match request {
                Ok(request) => request,
                Err(err) => {
                    out.push(ActionDecision {
                        action: id.clone(),
                        routes,
                        outcome: Some(Outcome::Deny),
                        policies: Vec::new(),
                        errors: vec![err.to_string()],
                        depends_on: Vec::new(),
                    });
                    continue;
                }
            };
            let partial = authorizer.is_authorized_partial(&request, &self.policies, &entities);
            let errored: Vec<String> = partial
                .definitely_errored()
                .map(ToString::to_string)
                .collect();
            let erroring_forbids = self.erroring_forbids(errored.iter().map(String::as_str));
            let ids = |policies: Vec<Policy>| {
                let mut ids: Vec<String> = policies.iter().map(|p| p.id().to_string()).collect();
                ids.sort();
                ids.dedup();
                ids
            };
            let mut depends_on = Vec::new();
            let (outcome, policies) = if !erroring_forbids.is_empty() {
                (Some(Outcome::Deny), erroring_forbids)
            } else {
                match partial.decision() {
                    Some(CedarDecision::Allow) => (
                        Some(Outcome::Allow),
                        ids(partial
                            .definitely_satisfied()
                            .filter(|p| p.effect() == Effect::Permit)
                            .collect()),
                    ),
                    Some(CedarDecision::Deny) => (
                        Some(Outcome::Deny),
                        ids(partial
                            .definitely_satisfied()
                            .filter(|p| p.effect() == Effect::Forbid)
                            .collect()),
                    ),
                    None => {
                        let undecided: Vec<Policy> = partial.may_be_determining().collect();
                        // The residuals name the context as an unknown: read the paths
                        // from the policies as written.
                        for residual in &undecided {
                            if let Some(json) = self.policy_json(residual.id().as_ref()) {
                                context::context_paths(json, &mut depends_on);
                            }
                        }
                        (None, ids(undecided))
                    }
                }
            };
            out.push(ActionDecision {
                action: id.clone(),
                routes,
                outcome,
                policies,
                errors: errored
                    .iter()
                    .map(|id| format!("{id}: evaluation error"))
                    .collect(),
                depends_on: shortest_paths(depends_on),
            });
        }
        out
    }
}

/// The first attribute (by name) that both `token` and `data` give, with values that differ
/// as Cedar values (sets compare without order or repeats, records member by member). A
/// value that is not a concrete one counts as differing.
fn disagreement(token: &Entity, data: &Entity) -> Option<String> {
    token
        .attrs()
        .filter(|(name, value)| match (value, data.attr(name)) {
            (_, None) => false,
            (Ok(ours), Some(Ok(theirs))) => *ours != theirs,
            _ => true,
        })
        .map(|(name, _)| name)
        .min()
        .map(str::to_owned)
}

/// Sorted paths without repeats and without any path another one extends (`token` goes
/// when `token.acr` is there).
fn shortest_paths(mut paths: Vec<String>) -> Vec<String> {
    paths.sort();
    paths.dedup();
    let keep: Vec<bool> = paths
        .iter()
        .map(|p| {
            !paths.iter().any(|q| {
                q.len() > p.len() && q.starts_with(p.as_str()) && q[p.len()..].starts_with('.')
            })
        })
        .collect();
    paths
        .into_iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(p))
        .collect()
}
