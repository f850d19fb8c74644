//! `/callback`: checks the provider's answer, exchanges the code, verifies the ID token,
//! then goes home with the session in memory.
//!
//! The completion runs exactly once per page load: the sign-in record it consumes can be
//! used only once, so it must not sit in a resource that may re-run.

use crate::app::{AppError, SetupResource, oidc};
use crate::session::SharedSession;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use std::sync::Arc;

#[component]
pub fn Callback() -> impl IntoView {
    let setup = expect_context::<SetupResource>();
    let session = expect_context::<RwSignal<SharedSession>>();
    let (outcome, set_outcome) = signal(None::<Result<(), AppError>>);
    let query = window().location().search().unwrap_or_default();
    let navigate = use_navigate();
    spawn_local(async move {
        let result = match setup.await {
            Ok(setup) => oidc::complete(&setup.config, &setup.discovery, &query)
                .await
                .map_err(AppError::from),
            Err(err) => Err(err),
        };
        match result {
            Ok(signed_in) => {
                session.set(Some(Arc::new(signed_in)));
                set_outcome.set(Some(Ok(())));
                navigate(
                    "/",
                    NavigateOptions {
                        replace: true,
                        ..Default::default()
                    },
                );
            }
            Err(err) => set_outcome.set(Some(Err(err))),
        }
    });
    view! {
        <section class="card" data-testid="callback">
            <h1>"Signing in"</h1>
            {move || match outcome.get() {
                None => view! { <p class="loading">"Completing sign-in…"</p> }.into_any(),
                Some(Ok(())) => view! { <p>"Signed in."</p> }.into_any(),
                Some(Err(err)) => {
                    view! {
                        <div class="problem" role="alert" data-testid="error">
                            <strong>"Sign-in failed"</strong>
                            <p>{err.to_string()}</p>
                        </div>
                        <p>
                            <a href="/" class="button">"Back"</a>
                        </p>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
