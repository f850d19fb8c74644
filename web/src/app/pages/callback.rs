//! `/callback`: checks the provider's answer, exchanges the code, verifies the ID token,
//! then goes home with the session in memory.

use crate::app::components::Problems;
use crate::app::{AppError, SetupResource, oidc};
use crate::session::SharedSession;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use std::sync::Arc;

#[component]
pub fn Callback() -> impl IntoView {
    let setup = expect_context::<SetupResource>();
    let session = expect_context::<RwSignal<SharedSession>>();
    let query = window().location().search().unwrap_or_default();
    let outcome = LocalResource::new(move || {
        let query = query.clone();
        async move {
            let setup = setup.await?;
            oidc::complete(&setup.config, &setup.discovery, &query)
                .await
                .map_err(AppError::from)
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(signed_in)) = outcome.get() {
            session.set(Some(Arc::new(signed_in)));
            navigate(
                "/",
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    view! {
        <section class="card" data-testid="callback">
            <h1>"Signing in"</h1>
            <Transition fallback=|| view! { <p class="loading">"Completing sign-in…"</p> }>
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <Problems errors title="Sign-in failed"/>
                        <p><a href="/" class="button">"Back"</a></p>
                    }
                }>
                    {move || Suspend::new(async move {
                        outcome.await.map(|_| view! { <p>"Signed in."</p> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
