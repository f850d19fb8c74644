//! How a decision is shown: its outcome as a badge, its policies as ids that open their text.

use cedargate::{ActionDecision, Outcome};
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The mark of an action the edge monitors instead of enforcing (`rollout`): it forwards
/// what it would deny, marked `would-deny`.
#[component]
pub(super) fn MonitoredBadge() -> impl IntoView {
    view! {
        <span
            class="badge warn"
            data-testid="monitored"
            title="monitor mode: the edge forwards what it would deny, marked would-deny"
        >
            "monitored, not enforced"
        </span>
    }
}

/// The badge class and label of an outcome (`None`: it depends on the request).
pub(super) fn prediction(row: &ActionDecision) -> (&'static str, &'static str) {
    match row.outcome {
        Some(Outcome::Allow) => ("allow", "Allow"),
        Some(Outcome::Deny) => ("deny", "Deny"),
        None => ("depends", "Depends on the request"),
    }
}

/// Policy ids that open their text from the bundle; an id the bundle lacks stays plain.
#[component]
pub(super) fn PolicyLinks(
    ids: Vec<String>,
    texts: Arc<BTreeMap<String, String>>,
    open: RwSignal<Option<String>>,
) -> impl IntoView {
    let last = ids.len().saturating_sub(1);
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| {
            let link = if texts.contains_key(&id) {
                let target = id.clone();
                view! {
                    <button
                        class="policy-link"
                        data-testid="policy"
                        title="Show this policy's text"
                        on:click=move |_| open.set(Some(target.clone()))
                    >
                        {id}
                    </button>
                }
                .into_any()
            } else {
                view! { <code>{id}</code> }.into_any()
            };
            view! {
                {link}
                {(i < last).then_some(", ")}
            }
        })
        .collect_view()
}
