//! The allowed-actions matrix: every action of the edge's bundle evaluated here for the
//! signed-in principal, with the deciding policies, what in the token each allowed action
//! relies on (the scopes, permissions and groups without which it would be denied), and a
//! button to try each route through the edge; a prediction the edge contradicts is
//! highlighted.

use crate::answer::Answer;
use crate::app::components::Problems;
use crate::app::components::decisions::{MonitoredBadge, PolicyLinks, prediction};
use crate::app::components::permitted::PermittedPanel;
use crate::app::components::staged::StagedPanel;
use crate::app::components::what_if::WhatIfPanel;
use crate::app::edge;
use crate::app::{AppError, Setup, oidc};
use crate::session::Session;
use cedargate::{ActionDecision, Outcome, Reliance, StepUp};
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

#[component]
pub fn ActionsPanel(
    setup: Arc<Setup>,
    session: Arc<Session>,
    /// What tries are sent with, as it is now (renewals replace the tokens).
    token: Signal<Option<edge::EdgeCredentials>>,
) -> impl IntoView {
    let matrix = {
        let setup = setup.clone();
        let session = session.clone();
        LocalResource::new(move || {
            let setup = setup.clone();
            let session = session.clone();
            async move { edge::matrix(&setup, &session).await.map_err(AppError::from) }
        })
    };
    view! {
        <section class="card actions" data-testid="actions">
            <h2>"What you may do"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading the edge's policies…"</p> }>
                <ErrorBoundary fallback=|errors| {
                    view! { <Problems errors title="The edge's policies are not available"/> }
                }>
                    {move || {
                        let setup = setup.clone();
                        Suspend::new(async move {
                            let m = matrix.await?;
                            let texts = Arc::new(m.policy_texts.clone());
                            // The policy whose text is open, by id.
                            let open = RwSignal::new(None::<String>);
                            let panel_texts = texts.clone();
                            let what_if = m.clone();
                            let staged = m.staged.clone().map(|staged| {
                                staged.map(|staged| {
                                    let comparisons = crate::staged::compare(&m.rows, &staged.rows, &m.enforced);
                                    (comparisons, staged)
                                })
                            });
                            let enforced = m.enforced.clone();
                            let permitted = m.permitted.clone();
                            Ok::<_, AppError>(view! {
                                <p class="bundle">
                                    "Policy bundle "
                                    <code data-testid="bundle-version" title=m.version.clone()>
                                        {m.version[..12.min(m.version.len())].to_owned()}
                                    </code>
                                    <span class="badge ok" title="computed here from what the edge served, and refused were it not the edge's">
                                        "same as the edge"
                                    </span>
                                    " · principal " <code>{m.principal.clone()}</code>
                                </p>
                                {(!m.data_about.is_empty()).then(|| view! {
                                    <p class="bundle" data-testid="entity-data">
                                        "The edge's entity data also places you in "
                                        {m.data_about.iter().map(|uid| view! { <code>{uid.clone()}</code> " " }).collect_view()}
                                    </p>
                                })}
                                <div class="table-wrap">
                                    <table class="matrix">
                                        <thead>
                                            <tr>
                                                <th>"Action"</th>
                                                <th>"Predicted"</th>
                                                <th>"Decided by"</th>
                                                <th>"Relies on"</th>
                                                <th>"At the edge"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {m
                                                .rows
                                                .into_iter()
                                                .map(|row| {
                                                    let relies = m.reliances.get(&row.action).cloned();
                                                    let enforced = enforced.get(&row.action).copied().unwrap_or(true);
                                                    view! {
                                                        <ActionRow
                                                            row
                                                            relies
                                                            enforced
                                                            setup=setup.clone()
                                                            token
                                                            texts=texts.clone()
                                                            open
                                                        />
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                {(!permitted.is_empty()).then(|| view! { <PermittedPanel lists=permitted/> })}
                                {staged.map(|staged| match staged {
                                    Ok((comparisons, staged)) => view! {
                                        <StagedPanel comparisons staged live_texts=texts.clone() open/>
                                    }.into_any(),
                                    Err(e) => view! {
                                        <p class="error" role="alert" data-testid="staged-error">
                                            {format!("The edge's staged candidate cannot be shown: {e}")}
                                        </p>
                                    }.into_any(),
                                })}
                                <WhatIfPanel matrix=what_if open/>
                                {move || {
                                    let id = open.get()?;
                                    let text = panel_texts.get(&id)?.clone();
                                    Some(view! {
                                        <aside class="policy-text" data-testid="policy-text">
                                            <div class="policy-head">
                                                <span>"Policy " <code>{id}</code> " in the edge's bundle"</span>
                                                <button
                                                    class="button small"
                                                    data-testid="policy-close"
                                                    on:click=move |_| open.set(None)
                                                >
                                                    "Close"
                                                </button>
                                            </div>
                                            <pre>{text}</pre>
                                        </aside>
                                    })
                                }}
                            })
                        })
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

/// Whether the edge's status contradicts the prediction: a 403 is the edge's deny; any
/// other answer but 401 means it let the request through.
fn contradicts(predicted: Option<Outcome>, status: u16) -> bool {
    match predicted {
        Some(Outcome::Allow) => status == 403,
        Some(Outcome::Deny) => status != 403 && status != 401,
        None => false,
    }
}

/// What the edge's step-up challenge asks for, in words.
fn step_up_text(step_up: &StepUp) -> String {
    let mut parts = Vec::new();
    if !step_up.acr_values.is_empty() {
        parts.push(format!(
            "sign-on policy {}",
            step_up.acr_values.join(" or ")
        ));
    }
    match step_up.max_age {
        Some(0) => parts.push("a fresh sign-in".to_owned()),
        Some(seconds) => parts.push(format!("a sign-in in the last {}", duration(seconds))),
        None => {}
    }
    parts.join(", ")
}

fn duration(seconds: u32) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Restarts sign-in with what the edge's challenge names (RFC 9470 §5).
#[component]
fn StepUpButton(setup: Arc<Setup>, step_up: StepUp) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    let asks = step_up_text(&step_up);
    let start = move |_| {
        if let Err(err) = oidc::go_to_sign_in(&setup.config, &setup.discovery, Some(&step_up)) {
            set_error.set(Some(err.to_string()));
        }
    };
    view! {
        <span class="step-up" data-testid="step-up">
            <span class="step-up-asks">{format!("The edge asks for {asks}.")}</span>
            <button class="button small primary" data-testid="step-up-sign-in" on:click=start>
                "Sign in again"
            </button>
            {move || error.get().map(|e| view! { <span class="error" role="alert">{e}</span> })}
        </span>
    }
}

/// What the edge answered, readable: the status in words, its reason and deciding policies,
/// and any other body collapsed.
#[component]
fn AnswerView(
    answer: Answer,
    texts: Arc<BTreeMap<String, String>>,
    open: RwSignal<Option<String>>,
) -> impl IntoView {
    let detail = answer.detail().map(str::to_owned);
    let reason = answer.reason().map(str::to_owned);
    let policies = answer.policies().to_vec();
    let request_id = answer.request_id().map(str::to_owned);
    let body = (answer.problem.is_none() && answer.body_bytes > 0).then(|| {
        let label = answer.body_label();
        let mut text = answer.body.clone();
        if answer.truncated {
            text.push_str("\n…");
        }
        (label, text)
    });
    let identity = (!answer.identity.is_empty()).then(|| answer.identity.clone());
    view! {
        <div class="answer" data-testid="answer">
            {detail.map(|d| view! { <p class="answer-detail" data-testid="answer-detail">{d}</p> })}
            {reason
                .map(|r| {
                    view! {
                        <p>
                            "Reason " <code data-testid="answer-reason">{r}</code>
                        </p>
                    }
                })}
            {(!policies.is_empty())
                .then(|| {
                    view! {
                        <p data-testid="answer-policies">
                            "Decided by " <PolicyLinks ids=policies texts open/>
                        </p>
                    }
                })}
            {request_id
                .map(|id| {
                    view! {
                        <p class="muted">
                            "Request " <code>{id}</code>
                        </p>
                    }
                })}
            {identity
                .map(|lines| {
                    view! {
                        <details class="answer-identity" data-testid="answer-identity">
                            <summary>"What the origin received"</summary>
                            <table class="claims">
                                <tbody>
                                    {lines
                                        .into_iter()
                                        .map(|(name, value)| {
                                            let key = name.clone();
                                            view! {
                                                <tr data-name=key>
                                                    <th>{name}</th>
                                                    <td>
                                                        <code>{value}</code>
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </details>
                    }
                })}
            {body
                .map(|(label, text)| {
                    view! {
                        <details class="answer-body" data-testid="answer-body">
                            <summary>{format!("Body ({label})")}</summary>
                            <pre>{text}</pre>
                        </details>
                    }
                })}
        </div>
    }
}

#[component]
fn ActionRow(
    row: ActionDecision,
    relies: Option<Vec<Reliance>>,
    /// `false` for an action in the edge's monitor mode.
    enforced: bool,
    setup: Arc<Setup>,
    token: Signal<Option<edge::EdgeCredentials>>,
    texts: Arc<BTreeMap<String, String>>,
    open: RwSignal<Option<String>>,
) -> impl IntoView {
    let (class, label) = prediction(&row);
    let outcome = row.outcome;
    // What an undecided action reads of the request (`request.ip`, `token.acr`).
    let depends_on =
        (outcome.is_none() && !row.depends_on.is_empty()).then(|| row.depends_on.join(", "));
    let route = row.routes.first().cloned();
    let step_up_setup = setup.clone();
    let action = {
        let route = route.clone();
        Action::new_local(move |_: &()| {
            let setup = setup.clone();
            let token = token.get_untracked();
            let route = route.clone();
            async move {
                let token = token.ok_or("no token for the edge")?;
                let route = route.ok_or("this action has no route")?;
                edge::try_route(&setup.config, &token, &route).await
            }
        })
    };
    let result = action.value();
    let pending = action.pending();
    let mismatch = move || matches!(result.get(), Some(Ok(Answer { status, .. })) if contradicts(outcome, status));
    let policies = if row.policies.is_empty() {
        if outcome == Some(Outcome::Deny) {
            "no permit applies".into_any()
        } else {
            "—".into_any()
        }
    } else {
        view! { <PolicyLinks ids=row.policies.clone() texts=texts.clone() open/> }.into_any()
    };
    // For an allowed action: the token's values without which it would be denied.
    let relies = match relies {
        None => "—".to_owned(),
        Some(list) if list.is_empty() => "nothing in the token".to_owned(),
        Some(list) => list
            .iter()
            .map(|r| format!("{} {}", r.claim, r.value))
            .collect::<Vec<_>>()
            .join(", "),
    };
    view! {
        <tr data-action=row.action.clone() class:mismatch=mismatch>
            <td>
                <code>{row.action.clone()}</code>
            </td>
            <td>
                <span class=format!("badge {class}") data-testid="prediction">{label}</span>
                {(!enforced)
                    .then(|| {
                        view! {
                            " "
                            <MonitoredBadge/>
                        }
                    })}
                {depends_on
                    .map(|values| {
                        view! {
                            <span class="depends-on" data-testid="depends-on">
                                {format!(" on {values}")}
                            </span>
                        }
                    })}
            </td>
            <td class="policies">{policies}</td>
            <td class="relies" data-testid="relies">{relies}</td>
            <td class="try">
                {route
                    .is_some()
                    .then(|| {
                        view! {
                            <button
                                class="button small"
                                data-testid="try"
                                disabled=move || pending.get()
                                on:click=move |_| {
                                    action.dispatch(());
                                }
                            >
                                "Try"
                            </button>
                        }
                    })}
                <span class="tried" data-testid="edge-status">
                    {move || match result.get() {
                        None => String::new(),
                        Some(Ok(answer)) => answer.summary(),
                        Some(Err(e)) => format!("failed: {e}"),
                    }}
                </span>
                {move || mismatch().then(|| view! { <strong class="flag">"differs from the prediction"</strong> })}
                {move || {
                    let answer = result.get()?.ok()?;
                    let step_up = answer.step_up().cloned();
                    Some(view! {
                        <AnswerView answer texts=texts.clone() open/>
                        {step_up.map(|step_up| view! { <StepUpButton setup=step_up_setup.clone() step_up/> })}
                    })
                }}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_step_up_challenge_reads_as_words() {
        let step_up = |acr: &[&str], max_age| StepUp {
            acr_values: acr.iter().map(|a| a.to_string()).collect(),
            max_age,
        };
        assert_eq!(
            step_up_text(&step_up(&["urn:cedargate:mfa"], Some(600))),
            "sign-on policy urn:cedargate:mfa, a sign-in in the last 10 min"
        );
        assert_eq!(
            step_up_text(&step_up(&["a", "b"], None)),
            "sign-on policy a or b"
        );
        assert_eq!(step_up_text(&step_up(&[], Some(0))), "a fresh sign-in");
        assert_eq!(
            step_up_text(&step_up(&[], Some(7200))),
            "a sign-in in the last 2 h"
        );
        assert_eq!(
            step_up_text(&step_up(&[], Some(61))),
            "a sign-in in the last 61 s"
        );
    }
}
