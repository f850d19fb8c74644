//! The browser app itself.

pub mod edge;
pub mod oidc;
pub mod sessions;
pub mod storage;

mod components;
mod pages;

use crate::config::AppConfig;
use crate::session::{Discovery, SharedSession};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use std::sync::Arc;

/// What the app needs before anything else: its configuration and the provider's discovery
/// document.
#[derive(Clone, Debug)]
pub struct Setup {
    pub config: AppConfig,
    pub discovery: Discovery,
}

/// An error shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AppError(pub String);

impl AppError {
    fn from(err: impl std::fmt::Display) -> Self {
        Self(err.to_string())
    }
}

/// The set-up, loaded once.
pub type SetupResource = LocalResource<Result<Arc<Setup>, AppError>>;

async fn load_setup() -> Result<Arc<Setup>, AppError> {
    let response = gloo_net::http::Request::get("/config.json")
        .send()
        .await
        .map_err(|e| AppError(format!("config.json could not be loaded: {e}")))?;
    if !response.ok() {
        return Err(AppError(format!(
            "config.json could not be loaded: status {}",
            response.status()
        )));
    }
    let text = response.text().await.map_err(AppError::from)?;
    let config = AppConfig::from_json(&text).map_err(AppError::from)?;
    let issuer = config.issuer().map_err(AppError::from)?;
    let discovery = oidc::discover(&issuer).await.map_err(AppError::from)?;
    Ok(Arc::new(Setup { config, discovery }))
}

/// The app: a header, and the home and callback pages.
#[component]
pub fn App() -> impl IntoView {
    let setup: SetupResource = LocalResource::new(load_setup);
    provide_context(setup);
    let callback = window()
        .location()
        .pathname()
        .is_ok_and(|p| p == "/callback");
    let sessions = sessions::Sessions::start(setup, callback);
    provide_context(sessions);
    provide_context::<RwSignal<SharedSession>>(sessions.session);
    view! {
        <Router>
            <header class="top">
                <a href="/" class="brand">"cedargate"</a>
                <span class="tagline">"PingOne sign-in · Cedar decisions at the edge"</span>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="card">"Page not found."</p> }>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/callback") view=pages::Callback/>
                </Routes>
            </main>
        </Router>
    }
}
