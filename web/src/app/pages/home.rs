//! `/`: the sign-in button, or who is signed in, their tokens and their allowed actions.

use crate::app::components::{ActionsPanel, Problems, TokenPanel};
use crate::app::sessions::Sessions;
use crate::app::{AppError, ConfigResource, LoadedConfig, Setup, SetupResource, edge, oidc};
use crate::session::Session;
use leptos::prelude::*;
use std::sync::Arc;

#[component]
pub fn Home() -> impl IntoView {
    let config = expect_context::<ConfigResource>();
    let setup = expect_context::<SetupResource>();
    let sessions = expect_context::<Sessions>();
    // The signed-in view is built again only for another sign-in, not for a renewal.
    let sign_in = Memo::new(move |_| {
        sessions
            .session
            .with(|s| s.as_ref().map(|s| s.sign_in_key()))
    });
    view! {
        <Transition fallback=|| view! { <p class="card loading">"Loading configuration…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! {
                    <section class="card">
                        <Problems errors title="The app cannot start"/>
                    </section>
                }
            }>
                {move || Suspend::new(async move {
                    // The sign-in button waits for the configuration only: the provider's
                    // discovery document is needed when it is pressed.
                    let loaded = config.await?;
                    Ok::<_, AppError>(view! {
                        {move || match (sign_in.get(), sessions.restoring.get()) {
                            (None, true) => {
                                view! {
                                    <section class="card hero" data-testid="restoring">
                                        <p class="loading">"Restoring your session…"</p>
                                    </section>
                                }
                                    .into_any()
                            }
                            (None, false) => {
                                view! { <SignIn loaded=loaded.clone() setup/> }.into_any()
                            }
                            (Some(_), _) => {
                                match (sessions.session.get_untracked(), setup.get()) {
                                    (Some(current), Some(Ok(setup))) => {
                                        view! { <SignedIn setup session=current/> }.into_any()
                                    }
                                    (_, Some(Err(err))) => {
                                        view! {
                                            <p class="card problem" role="alert">{err.to_string()}</p>
                                        }
                                            .into_any()
                                    }
                                    _ => ().into_any(),
                                }
                            }
                        }}
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn SignIn(loaded: Arc<LoadedConfig>, setup: SetupResource) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    let issuer = loaded.issuer.clone();
    let client = loaded.config.client_id.clone();
    let start = move |_| {
        leptos::task::spawn_local(async move {
            let outcome = match setup.await {
                Ok(setup) => oidc::go_to_sign_in(&setup.config, &setup.discovery, None)
                    .map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            if let Err(err) = outcome {
                set_error.set(Some(err));
            }
        });
    };
    view! {
        <section class="card hero" data-testid="signed-out">
            <h1>"Sign in to see what you may do"</h1>
            <p>
                "Signing in uses the authorization code flow with PKCE. Your tokens stay in this "
                "tab's memory; the actions the policies allow are computed here by the same "
                "engine the edge runs, and you can try each one through the edge."
            </p>
            <dl class="facts">
                <dt>"Issuer"</dt>
                <dd><code>{issuer}</code></dd>
                <dt>"Client"</dt>
                <dd><code>{client}</code></dd>
            </dl>
            <button class="button primary" data-testid="sign-in" on:click=start>
                "Sign in with PingOne"
            </button>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}

#[component]
fn SignedIn(setup: Arc<Setup>, session: Arc<Session>) -> impl IntoView {
    let sessions = expect_context::<Sessions>();
    let state = sessions.session;
    let name = session
        .claim("name")
        .unwrap_or_else(|| session.claim("sub").unwrap_or_default());
    let subject = session.claim("sub").unwrap_or_default();
    let groups = session.groups(setup.config.group_claim().as_deref());
    let sign_out = {
        let setup = setup.clone();
        move |_| {
            let setup = setup.clone();
            let Some(session) = state.get_untracked() else {
                return;
            };
            // A renewal in flight is not taken from now on: it revokes what it brings
            // (`Sessions::renew`), and the page stays until it has.
            sessions.begin_sign_out();
            leptos::task::spawn_local(async move {
                oidc::revoke_tokens(&setup.config, &session).await;
                sessions.renewal_settled().await;
                let url = oidc::sign_out_url(&setup.config, &session);
                sessions.sign_out();
                if let Some(url) = url {
                    let _ = window().location().assign(&url);
                }
            });
        }
    };
    let (now, set_now) = signal(oidc::now_ms() / 1000.0);
    if let Ok(handle) = set_interval_with_handle(
        move || set_now.set(oidc::now_ms() / 1000.0),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    // The tokens as they are now: a renewal replaces them in place.
    let id_token = move || state.get().map(|s| s.id_token.clone());
    let access_token = move || state.get().and_then(|s| s.access_token.clone());
    let edge_credentials = {
        let config = setup.config.clone();
        Signal::derive(move || {
            state
                .get()
                .and_then(|s| edge::edge_credentials(&config, &s).ok())
        })
    };
    view! {
        <section class="card profile" data-testid="profile">
            <div class="who">
                <h1 data-testid="user-name">{name}</h1>
                <p>
                    "Subject " <code data-testid="subject">{subject}</code>
                </p>
                <p class="groups" data-testid="groups">
                    {if groups.is_empty() {
                        view! { <span class="muted">"No groups"</span> }.into_any()
                    } else {
                        groups
                            .into_iter()
                            .map(|g| view! { <span class="chip">{g}</span> })
                            .collect_view()
                            .into_any()
                    }}
                </p>
            </div>
            <button class="button" data-testid="sign-out" on:click=sign_out>
                "Sign out"
            </button>
            <Show when=move || sessions.sign_out_waiting.get()>
                <p class="muted" role="status" data-testid="sign-out-waiting">
                    "Signing out after the renewal under way…"
                </p>
            </Show>
        </section>
        {move || {
            sessions
                .renewal_error
                .get()
                .map(|e| {
                    view! {
                        <p class="card problem" role="alert" data-testid="renewal-error">
                            "The session could not be renewed: " {e}
                            ". It ends when its tokens expire; sign in again then."
                        </p>
                    }
                })
        }}
        <ActionsPanel setup=setup.clone() session=session.clone() token=edge_credentials/>
        {move || {
            id_token()
                .map(|token| {
                    view! { <TokenPanel title="ID token" token now testid="id-token"/> }
                })
        }}
        {move || {
            access_token()
                .map(|token| {
                    view! { <TokenPanel title="Access token" token now testid="access-token"/> }
                })
        }}
    }
}
