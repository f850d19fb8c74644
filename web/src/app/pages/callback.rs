//! `/callback`: checks the provider's answer, exchanges the code, verifies the ID token,
//! then goes home with the session in memory. The code is exchanged with the discovery
//! document kept with the sign-in, without waiting for the set-up's own fetch of it.
//!
//! The completion runs exactly once per page load: the sign-in record it consumes can be
//! used only once, so it must not sit in a resource that may re-run. The answer is taken
//! out of the address (`history.replaceState`) as soon as it is read.

use crate::app::oidc::SignInError;
use crate::app::sessions::Sessions;
use crate::app::{AppError, ConfigResource, SetupResource, oidc};
use crate::oauth::OAuthError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

#[component]
pub fn Callback() -> impl IntoView {
    let config = expect_context::<ConfigResource>();
    let setup = expect_context::<SetupResource>();
    let sessions = expect_context::<Sessions>();
    let (outcome, set_outcome) = signal(None::<Result<(), AppError>>);
    let location = window().location();
    let query = location.search().unwrap_or_default();
    // The answer (the code, the state) is read once, here: it leaves the address bar and
    // this history entry at once, whatever comes of it, so a failed sign-in leaves no code
    // to be copied, bookmarked or reloaded.
    if !query.is_empty()
        && let (Ok(history), Ok(path)) = (window().history(), location.pathname())
    {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
    let navigate = use_navigate();
    spawn_local(async move {
        let result = match config.await {
            Ok(loaded) => {
                // The discovery document kept with the sign-in, so the code is exchanged
                // while the set-up still fetches its own; the fetched one otherwise.
                let discovery = match oidc::remembered_discovery(&loaded.issuer) {
                    Some(discovery) => Ok(discovery),
                    None => setup.await.map(|setup| setup.discovery.clone()),
                };
                match discovery {
                    Ok(discovery) => oidc::complete(&loaded.config, &discovery, &query).await,
                    Err(err) => Err(SignInError::Config(err.to_string())),
                }
            }
            Err(err) => Err(SignInError::Config(err.to_string())),
        };
        let home = || {
            navigate(
                "/",
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            )
        };
        match result {
            Ok(signed_in) => {
                sessions.set(signed_in);
                set_outcome.set(Some(Ok(())));
                home();
            }
            // A silent sign-in after a reload: the provider's session is over, so the
            // person is simply signed out.
            Err(SignInError::NoSession) => {
                sessions.ended();
                home();
            }
            // A callback that is not the answer to this tab's sign-in (no record, another
            // state): anyone can send such a link, so it ends nothing, not even the hint
            // that restores a session on the next load.
            Err(
                err @ SignInError::OAuth(OAuthError::NoPendingLogin | OAuthError::StateMismatch),
            ) => {
                set_outcome.set(Some(Err(AppError::from(err))));
            }
            Err(err) => {
                // A silent sign-in that failed otherwise is not tried again on the next
                // load.
                sessions.ended();
                set_outcome.set(Some(Err(AppError::from(err))));
            }
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
