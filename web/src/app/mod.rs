//! The browser app itself.

pub mod edge;
pub mod engine;
pub mod oidc;
pub mod sessions;
pub mod storage;

mod components;
mod pages;

use crate::config::AppConfig;
use crate::session::{Discovery, SharedSession};
use futures::FutureExt as _;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use std::sync::Arc;

/// What the app needs before anything else: its configuration and the provider's discovery
/// document.
#[derive(Clone, Debug)]
pub struct Setup {
    pub config: AppConfig,
    /// `config.json`'s text, which the engine reads too.
    pub config_text: Arc<str>,
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

/// `config.json`, read and checked: what the sign-in button shows, before the provider's
/// discovery document has arrived.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: AppConfig,
    pub text: Arc<str>,
    pub issuer: String,
}

/// The configuration, loaded once.
pub type ConfigResource = LocalResource<Result<Arc<LoadedConfig>, AppError>>;

/// The set-up, loaded once.
pub type SetupResource = LocalResource<Result<Arc<Setup>, AppError>>;

async fn load_config() -> Result<Arc<LoadedConfig>, AppError> {
    // index.html preloads it, so it arrives with the wasm.
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
    Ok(Arc::new(LoadedConfig {
        config,
        text: text.into(),
        issuer,
    }))
}

/// The configuration's loading, awaited by both resources (the set-up's does not depend on
/// the configuration's resource, which would run it again when that resolves).
type ConfigFuture = futures::future::Shared<
    futures::future::LocalBoxFuture<'static, Result<Arc<LoadedConfig>, AppError>>,
>;

async fn load_setup(config: ConfigFuture) -> Result<Arc<Setup>, AppError> {
    let loaded = config.await?;
    let discovery = oidc::discover(&loaded.issuer)
        .await
        .map_err(AppError::from)?;
    Ok(Arc::new(Setup {
        config: loaded.config.clone(),
        config_text: loaded.text.clone(),
        discovery,
    }))
}

/// The app: a header, and the home and callback pages.
#[component]
pub fn App() -> impl IntoView {
    // The engine (Cedar) loads beside the set-up and the sign-in, which do not wait for it.
    engine::start();
    let loading: ConfigFuture = load_config().boxed_local().shared();
    let config: ConfigResource = LocalResource::new({
        let loading = loading.clone();
        move || loading.clone()
    });
    provide_context(config);
    let setup: SetupResource = LocalResource::new(move || load_setup(loading.clone()));
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
