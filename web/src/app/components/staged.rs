//! The staged candidate beside the live bundle: for every action, what the live bundle and
//! the candidate decide for the signed-in principal, side by side, each action whose outcome
//! would change marked with the change and the candidate's deciding policies, and each
//! monitored action named as such.

use crate::app::components::decisions::{MonitoredBadge, PolicyLinks};
use crate::app::edge::StagedMatrix;
use crate::staged::{Comparison, outcome_word};
use cedargate::ActionDecision;
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn badge_class(decision: Option<&ActionDecision>) -> &'static str {
    match outcome_word(decision) {
        "Allow" => "allow",
        "Deny" => "deny",
        _ => "depends",
    }
}

/// The live and staged matrices side by side.
#[component]
pub fn StagedPanel(
    comparisons: Vec<Comparison>,
    staged: StagedMatrix,
    live_texts: Arc<BTreeMap<String, String>>,
    /// The live policy whose text is open (the live matrix's panel shows it).
    open: RwSignal<Option<String>>,
) -> impl IntoView {
    let changes = comparisons.iter().filter(|c| c.changed()).count();
    let staged_texts = Arc::new(staged.policy_texts.clone());
    let open_staged = RwSignal::new(None::<String>);
    let panel_texts = staged_texts.clone();
    let summary = match changes {
        0 => "The candidate decides every action as the live bundle does.".to_owned(),
        1 => "1 action would be decided differently.".to_owned(),
        n => format!("{n} actions would be decided differently."),
    };
    view! {
        <div class="staged" data-testid="staged">
            <h3>
                "Staged candidate "
                <code data-testid="staged-version" title=staged.version.clone()>
                    {staged.version[..12.min(staged.version.len())].to_owned()}
                </code>
                <span class="muted">{format!(" serial {}", staged.serial)}</span>
            </h3>
            <p class="muted">
                "The edge decides requests with it too and logs where it differs, but answers as the live bundle says. "
                <span data-testid="staged-summary">{summary}</span>
            </p>
            <div class="table-wrap">
                <table class="matrix compare" data-testid="staged-matrix">
                    <thead>
                        <tr>
                            <th>"Action"</th>
                            <th>"Live"</th>
                            <th>"Staged"</th>
                            <th>"Change"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {comparisons
                            .into_iter()
                            .map(|c| {
                                view! {
                                    <CompareRow
                                        c
                                        live_texts=live_texts.clone()
                                        staged_texts=staged_texts.clone()
                                        open
                                        open_staged
                                    />
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            {move || {
                let id = open_staged.get()?;
                let text = panel_texts.get(&id)?.clone();
                Some(view! {
                    <aside class="policy-text" data-testid="staged-policy-text">
                        <div class="policy-head">
                            <span>"Policy " <code>{id}</code> " in the staged candidate"</span>
                            <button
                                class="button small"
                                data-testid="staged-policy-close"
                                on:click=move |_| open_staged.set(None)
                            >
                                "Close"
                            </button>
                        </div>
                        <pre>{text}</pre>
                    </aside>
                })
            }}
        </div>
    }
}

/// One side of a row: the outcome as a badge and its deciding policies.
#[component]
fn Side(
    decision: Option<ActionDecision>,
    side: &'static str,
    texts: Arc<BTreeMap<String, String>>,
    open: RwSignal<Option<String>>,
) -> impl IntoView {
    let class = badge_class(decision.as_ref());
    let word = outcome_word(decision.as_ref());
    let policies = decision.map(|d| d.policies).unwrap_or_default();
    view! {
        <span class="cell-label">{side}</span>
        <span class=format!("badge {class}") data-testid="outcome">{word}</span>
        {(!policies.is_empty())
            .then(|| view! { <span class="policies">" " <PolicyLinks ids=policies texts open/></span> })}
    }
}

#[component]
fn CompareRow(
    c: Comparison,
    live_texts: Arc<BTreeMap<String, String>>,
    staged_texts: Arc<BTreeMap<String, String>>,
    open: RwSignal<Option<String>>,
    open_staged: RwSignal<Option<String>>,
) -> impl IntoView {
    let change = c.change_text();
    let changed = change.is_some();
    let outcome_changed = c.outcome_changed();
    let by = c.staged_policies().to_vec();
    let staged_policy_texts = staged_texts.clone();
    view! {
        <tr
            data-compare=c.action.clone()
            data-changed=if changed { "true" } else { "false" }
            class:changed=outcome_changed
        >
            <td>
                <code>{c.action.clone()}</code>
                {(!c.enforced)
                    .then(|| {
                        view! {
                            " "
                            <MonitoredBadge/>
                        }
                    })}
            </td>
            <td data-testid="live">
                <Side decision=c.live.clone() side="Live" texts=live_texts open/>
            </td>
            <td data-testid="staged-side">
                <Side decision=c.staged.clone() side="Staged" texts=staged_texts open=open_staged/>
            </td>
            <td data-testid="change">
                {match change {
                    None => view! { <span class="muted">"no change"</span> }.into_any(),
                    Some(text) => {
                        view! {
                            <strong class="flag" data-testid="change-text">{text}</strong>
                            {(!by.is_empty())
                                .then(|| {
                                    view! {
                                        <span class="change-by">
                                            " by " <PolicyLinks ids=by texts=staged_policy_texts open=open_staged/>
                                        </span>
                                    }
                                })}
                        }
                            .into_any()
                    }
                }}
            </td>
        </tr>
    }
}
