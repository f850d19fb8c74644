//! Errors caught by an `ErrorBoundary`, listed.

use leptos::prelude::*;

#[component]
pub fn Problems(errors: ArcRwSignal<Errors>, title: &'static str) -> impl IntoView {
    view! {
        <div class="problem" role="alert" data-testid="error">
            <strong>{title}</strong>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
