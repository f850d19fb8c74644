//! What-if: the matrix decided here (by the engine), offline, for a hypothetical principal — the signed-in
//! token with other groups, scopes or permissions — next to the real one. Nothing of it is
//! sent to the edge.

use crate::app::components::decisions::{PolicyLinks, prediction};
use crate::app::edge::Matrix;
use crate::engine_wire::WireSetClaim as SetClaim;
use cedargate::ActionDecision;
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A claim's values as the input shows them: space-separated for `scope`-like claims,
/// comma-separated otherwise (group names may contain spaces).
pub fn shown(claim: &SetClaim) -> String {
    claim
        .values
        .join(if claim.space_separated { " " } else { ", " })
}

/// The values typed for a claim.
pub fn typed(claim: &SetClaim, text: &str) -> Vec<String> {
    let parts: Vec<&str> = if claim.space_separated {
        text.split_whitespace().collect()
    } else {
        text.split(',').map(str::trim).collect()
    };
    parts
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One action, now and in the what-if.
#[derive(Clone, Debug)]
struct Compared {
    now: ActionDecision,
    then: ActionDecision,
}

#[component]
pub fn WhatIfPanel(matrix: Matrix, open: RwSignal<Option<String>>) -> impl IntoView {
    let texts = Arc::new(matrix.policy_texts.clone());
    let claims = matrix.set_claims.clone();
    let inputs: Vec<(SetClaim, RwSignal<String>)> = claims
        .iter()
        .map(|c| (c.clone(), RwSignal::new(shown(c))))
        .collect();
    let (result, set_result) = signal(None::<Result<Vec<Compared>, String>>);
    let evaluate = {
        let inputs = inputs.clone();
        let matrix = matrix.clone();
        move |_| {
            let replace: BTreeMap<String, Vec<String>> = inputs
                .iter()
                .map(|(claim, text)| (claim.claim.clone(), typed(claim, &text.get_untracked())))
                .collect();
            let matrix = matrix.clone();
            // Decided by the engine, which holds the matrix's gate and verified token.
            leptos::task::spawn_local(async move {
                let outcome = matrix.engine.what_if(replace).await.map(|then| {
                    matrix
                        .rows
                        .iter()
                        .filter_map(|now| {
                            let then = then.iter().find(|t| t.action == now.action)?.clone();
                            Some(Compared {
                                now: now.clone(),
                                then,
                            })
                        })
                        .collect()
                });
                set_result.set(Some(outcome));
            });
        }
    };
    let reset = {
        let inputs = inputs.clone();
        move |_| {
            for (claim, text) in &inputs {
                text.set(shown(claim));
            }
            set_result.set(None);
        }
    };
    view! {
        <div class="what-if" data-testid="what-if">
            <h3>"What if" <span class="badge depends">"hypothetical"</span></h3>
            <p class="muted">
                "The same policies decided here, offline, for this token with other values. "
                "Nothing is sent to the edge; the edge still decides by the real token."
            </p>
            {if inputs.is_empty() {
                view! { <p class="muted">"This token's mapping has no groups, scopes or permissions to change."</p> }
                    .into_any()
            } else {
                view! {
                    <div class="what-if-inputs">
                        {inputs
                            .iter()
                            .map(|(claim, text)| {
                                let text = *text;
                                let id = format!("what-if-{}", claim.claim);
                                let hint = if claim.space_separated {
                                    "space-separated"
                                } else {
                                    "comma-separated"
                                };
                                let label = if claim.group {
                                    format!("Groups ({})", claim.claim)
                                } else {
                                    claim.claim.clone()
                                };
                                view! {
                                    <label for=id.clone()>
                                        {label} <span class="muted">{format!(" {hint}")}</span>
                                    </label>
                                    <input
                                        id=id.clone()
                                        data-testid=id
                                        prop:value=move || text.get()
                                        on:input=move |ev| text.set(event_target_value(&ev))
                                    />
                                }
                            })
                            .collect_view()}
                    </div>
                    <p class="what-if-buttons">
                        <button class="button primary small" data-testid="what-if-run" on:click=evaluate>
                            "Decide"
                        </button>
                        <button class="button small" data-testid="what-if-reset" on:click=reset>
                            "Back to my token"
                        </button>
                    </p>
                }
                    .into_any()
            }}
            {move || match result.get() {
                None => None,
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{e}</p> }.into_any()),
                Some(Ok(rows)) => {
                    let changed = rows.iter().filter(|r| r.now.outcome != r.then.outcome).count();
                    let texts = texts.clone();
                    Some(
                        view! {
                            <p data-testid="what-if-summary">
                                {match changed {
                                    0 => "No action changes.".to_owned(),
                                    1 => "1 action changes.".to_owned(),
                                    n => format!("{n} actions change."),
                                }}
                            </p>
                            <div class="table-wrap">
                                <table class="matrix">
                                    <thead>
                                        <tr>
                                            <th>"Action"</th>
                                            <th>"Your token"</th>
                                            <th>"What if"</th>
                                            <th>"Decided by"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows
                                            .into_iter()
                                            .map(|row| {
                                                let (now_class, now_label) = prediction(&row.now);
                                                let (then_class, then_label) = prediction(&row.then);
                                                let differs = row.now.outcome != row.then.outcome;
                                                view! {
                                                    <tr
                                                        data-what-if=row.now.action.clone()
                                                        data-changed=differs.to_string()
                                                        class:changed=differs
                                                    >
                                                        <td>
                                                            <code>{row.now.action.clone()}</code>
                                                        </td>
                                                        <td>
                                                            <span class=format!("badge {now_class}")>{now_label}</span>
                                                        </td>
                                                        <td>
                                                            <span class=format!("badge {then_class}") data-testid="what-if-outcome">
                                                                {then_label}
                                                            </span>
                                                        </td>
                                                        <td class="policies" data-testid="what-if-policies">
                                                            {if row.then.policies.is_empty() {
                                                                "—".into_any()
                                                            } else {
                                                                view! {
                                                                    <PolicyLinks ids=row.then.policies texts=texts.clone() open/>
                                                                }
                                                                    .into_any()
                                                            }}
                                                        </td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                            .into_any(),
                    )
                }
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn claim(values: &[&str], space_separated: bool) -> SetClaim {
        SetClaim {
            claim: "c".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            space_separated,
            group: false,
        }
    }

    #[test]
    fn values_are_shown_and_typed_by_the_claim_kind() {
        let scope = claim(&["pets:read", "pets:write"], true);
        assert_eq!(shown(&scope), "pets:read pets:write");
        assert_eq!(
            typed(&scope, "  pets:read\tpets:write  "),
            ["pets:read", "pets:write"]
        );
        let groups = claim(&["AVP User", "AVP_Admin"], false);
        assert_eq!(shown(&groups), "AVP User, AVP_Admin");
        assert_eq!(
            typed(&groups, "AVP User,, AVP_Admin ,"),
            ["AVP User", "AVP_Admin"]
        );
        assert!(typed(&groups, " , ").is_empty());
    }
}
