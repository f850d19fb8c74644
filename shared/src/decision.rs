//! Step 5 of the pipeline, the one decision point: a principal, a matched route and the
//! bundle's policies give a [`Decision`]; [`Bundle::allowed_actions`] evaluates every action
//! at once without request values.
//!
//! One rule beyond Cedar's own: Cedar skips a policy whose evaluation errors, and here a
//! `forbid` that errors denies ([`Bundle::erroring_forbids`]).

use crate::actions::ActionEntry;
use crate::bundle::Bundle;
use crate::principal::Principal;
use crate::routes::RouteMatch;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Effect, Entities, EntityUid, Policy, Request,
    RestrictedExpression,
};
use serde::{Deserialize, Serialize};
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
}

impl Bundle {
    /// The one decision point: may `principal` perform the matched request?
    ///
    /// Cedar skips a policy whose evaluation errors; here an erroring `forbid` denies.
    pub fn authorize(&self, principal: &Principal, route: &RouteMatch) -> Decision {
        self.authorize_as(principal.uid(), principal.entities(), route)
    }

    /// The decision for a request without a token on a public route, through the same
    /// policies, for the anonymous principal ([`Bundle::anonymous_principal`]). `None` when
    /// the route is not public: such a request needs a token, and is never decided.
    pub fn authorize_anonymous(&self, route: &RouteMatch) -> Option<Decision> {
        let (uid, entities) = self.anonymous.as_ref()?;
        route
            .public
            .then(|| self.authorize_as(uid, entities, route))
    }

    fn authorize_as(&self, uid: &EntityUid, entities: &Entities, route: &RouteMatch) -> Decision {
        let deny = |errors: Vec<String>| Decision {
            action: route.action.clone(),
            outcome: Outcome::Deny,
            policies: Vec::new(),
            errors,
        };
        let Some(entry) = self.actions.get(&route.action) else {
            return deny(vec!["action is not in the bundle".into()]);
        };
        let request = match self.request(uid, entry, route) {
            Ok(request) => request,
            Err(err) => return deny(vec![err]),
        };
        let response = Authorizer::new().is_authorized(&request, &self.policies, entities);
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
                action: route.action.clone(),
                outcome: Outcome::Deny,
                policies: erroring_forbids,
                errors: errors_text,
            };
        }
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policies.sort();
        Decision {
            action: route.action.clone(),
            outcome: match response.decision() {
                CedarDecision::Allow => Outcome::Allow,
                CedarDecision::Deny => Outcome::Deny,
            },
            policies,
            errors: errors_text,
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
                    });
                    continue;
                }
            };
            let partial =
                authorizer.is_authorized_partial(&request, &self.policies, principal.entities());
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
                    None => (None, ids(partial.may_be_determining().collect())),
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
            });
        }
        out
    }
}
