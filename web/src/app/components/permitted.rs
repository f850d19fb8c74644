//! What the signed-in person may do on the edge's AuthZEN resources ("which records may I
//! view, edit, delete"), beside the matrix: the bundle endpoint's `permitted_resources`,
//! which the edge's decision point computes by Resource Search over entity data the app
//! does not hold (the records name other people). Per resource type, each action with the
//! ids it may be done on, and a lookup of one id. Not shown when the edge sends no list.

use crate::permitted::{ResourceList, count_text};
use leptos::prelude::*;

/// Every resource type the edge listed.
#[component]
pub fn PermittedPanel(lists: Vec<ResourceList>) -> impl IntoView {
    view! {
        <div class="permitted" data-testid="permitted">
            <h3>"Which resources you may act on"</h3>
            <p class="muted">
                "The edge's AuthZEN decision point searched its entity data for you (a Resource Search per action, the same evaluation as every decision). It sends the ids of what you may act on, and nothing else about them or anyone."
            </p>
            {lists.into_iter().map(|list| view! { <ResourceTable list/> }).collect_view()}
        </div>
    }
}

/// One resource type: its actions with their ids, and which actions one id allows.
#[component]
fn ResourceTable(list: ResourceList) -> impl IntoView {
    let (query, set_query) = signal(String::new());
    let lookup = list.clone();
    let found = Memo::new(move |_| {
        let id = query.get();
        (!id.trim().is_empty()).then(|| (id.trim().to_owned(), lookup.actions_on(&id)))
    });
    let ty = list.resource_type.clone();
    let total = list.ids().len();
    let label = format!("May I act on this {ty}?");
    let input_id = format!("permitted-lookup-{ty}");
    view! {
        <div class="permitted-type" data-permitted-type=ty.clone()>
            <h4>
                <code>{ty.clone()}</code>
                <span class="muted" data-testid="permitted-total">
                    {format!(" · you may act on {}", count_text(total, &ty))}
                </span>
            </h4>
            <div class="table-wrap">
                <table class="permitted-table">
                    <thead>
                        <tr>
                            <th>"Action"</th>
                            <th>{format!("On which {ty}s")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {list
                            .actions
                            .iter()
                            .map(|(action, ids)| {
                                let count = count_text(ids.len(), &ty);
                                view! {
                                    <tr data-permitted-action=action.clone()>
                                        <td><code>{action.clone()}</code></td>
                                        <td>
                                            <span class="muted permitted-count" data-testid="permitted-count">{count}</span>
                                            <span class="permitted-ids">
                                                {ids
                                                    .iter()
                                                    .map(|id| view! { <code class="id-chip" data-testid="permitted-id">{id.clone()}</code> })
                                                    .collect_view()}
                                            </span>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            <div class="permitted-lookup">
                <label for=input_id.clone()>{label}</label>
                <input
                    id=input_id
                    type="text"
                    autocomplete="off"
                    placeholder=format!("a {ty} id")
                    data-testid="permitted-lookup"
                    prop:value=query
                    on:input=move |ev| set_query.set(event_target_value(&ev))
                />
                <span data-testid="permitted-lookup-result" aria-live="polite">
                    {move || {
                        found
                            .get()
                            .map(|(id, actions)| {
                                if actions.is_empty() {
                                    format!("No action on {id}.")
                                } else {
                                    format!("On {id} you may {}.", actions.join(", "))
                                }
                            })
                    }}
                </span>
            </div>
        </div>
    }
}
