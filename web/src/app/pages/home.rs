//! `/`: the sign-in button, or who is signed in, their tokens and their allowed actions.

use crate::app::components::{ActionsPanel, Problems, TokenPanel};
use crate::app::{AppError, Setup, SetupResource, oidc};
use crate::session::{Session, SharedSession};
use leptos::prelude::*;
use std::sync::Arc;

#[component]
pub fn Home() -> impl IntoView {
    let setup = expect_context::<SetupResource>();
    let session = expect_context::<RwSignal<SharedSession>>();
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
                    let setup = setup.await?;
                    Ok::<_, AppError>(view! {
                        {move || match session.get() {
                            None => view! { <SignIn setup=setup.clone()/> }.into_any(),
                            Some(current) => {
                                view! { <SignedIn setup=setup.clone() session=current/> }.into_any()
                            }
                        }}
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn SignIn(setup: Arc<Setup>) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    let issuer = setup.discovery.issuer.clone();
    let client = setup.config.client_id.clone();
    let start = move |_| {
        if let Err(err) = oidc::go_to_sign_in(&setup.config, &setup.discovery, None) {
            set_error.set(Some(err.to_string()));
        }
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
    let state = expect_context::<RwSignal<SharedSession>>();
    let name = session
        .claim("name")
        .unwrap_or_else(|| session.claim("sub").unwrap_or_default());
    let subject = session.claim("sub").unwrap_or_default();
    let groups = session.groups(setup.config.group_claim().as_deref());
    let sign_out = {
        let setup = setup.clone();
        let session = session.clone();
        move |_| {
            let setup = setup.clone();
            let session = session.clone();
            leptos::task::spawn_local(async move {
                oidc::revoke_access_token(&setup.config, &session).await;
                let url = oidc::sign_out_url(&setup.config, &session);
                state.set(None);
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
    let id_token = session.id_token.clone();
    let access_token = session.access_token.clone();
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
        </section>
        <ActionsPanel setup=setup.clone() session=session.clone()/>
        <TokenPanel title="ID token" token=id_token now testid="id-token"/>
        {access_token
            .map(|token| {
                view! { <TokenPanel title="Access token" token now testid="access-token"/> }
            })}
    }
}
