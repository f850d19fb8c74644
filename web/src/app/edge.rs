//! The edge: its policy bundle, evaluated here (by the engine) for the signed-in principal,
//! and live calls through it.

use super::oidc::now;
use super::{Setup, engine};
use crate::answer::{Answer, IDENTITY_ECHO_HEADER};
use crate::config::AppConfig;
use crate::engine_wire::{EngineError, EngineInput, EngineStaged, WireSetClaim};
use crate::session::{Session, Token};
use cedargate::{ActionDecision, Reliance, TokenKind};
use gloo_net::http::{Method, Request, RequestBuilder};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The allowed-actions matrix, computed by the engine (`super::engine`).
#[derive(Clone, Debug)]
pub struct Matrix {
    /// The version of the bundle's text (without entity data, of which the app holds only
    /// what concerns its user): computed by the engine, and the bundle is refused unless it
    /// is the version the edge states.
    pub version: String,
    /// The principal the rows are for.
    pub principal: String,
    /// The entities the bundle's entity data places the principal in (its roles, say),
    /// beyond what its token says: from the bundle endpoint's part for this caller.
    pub data_about: Vec<String>,
    pub rows: Vec<ActionDecision>,
    /// For each allowed action, the token's values it relies on.
    pub reliances: BTreeMap<String, Vec<Reliance>>,
    /// Each policy's text, by `@id`, from the bundle the edge served.
    pub policy_texts: BTreeMap<String, String>,
    /// The engine's gate and verified token the rows were decided by: what a what-if
    /// starts from.
    pub engine: Arc<engine::Handle>,
    /// The token's set-valued claims a what-if may change.
    pub set_claims: Vec<WireSetClaim>,
    /// Whether the edge enforces each action (`false`: monitor mode); empty from an edge
    /// without monitor mode.
    pub enforced: BTreeMap<String, bool>,
    /// The staged candidate the edge decides beside the live bundle, evaluated the same
    /// way for the same token; `None` without one, why it could not be evaluated when it
    /// could not (the live matrix is shown all the same).
    pub staged: Option<Result<StagedMatrix, String>>,
    /// What the person may do on the edge's AuthZEN resources, by resource type (the bundle
    /// endpoint's `permitted_resources`, computed by the edge: the app holds none of the
    /// resources); empty when the edge sends none.
    pub permitted: Vec<crate::permitted::ResourceList>,
}

/// The staged candidate's matrix for the signed-in principal.
pub type StagedMatrix = EngineStaged;

/// Why the matrix could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeError {
    #[error("the edge could not be reached: {0}")]
    Network(String),
    #[error("the edge answered {status} to {what}{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        what: &'static str,
        status: u16,
        detail: Option<String>,
    },
    #[error("the edge's bundle does not load here: {0}")]
    Bundle(String),
    #[error("the {0} token cannot be used: {1}")]
    Token(TokenKind, String),
    #[error("the policy engine did not load: {0}")]
    Engine(String),
}

/// The token the app sends to the edge.
pub fn edge_token<'s>(config: &AppConfig, session: &'s Session) -> Result<&'s Token, EdgeError> {
    match config.edge_token {
        TokenKind::Id => Ok(&session.id_token),
        TokenKind::Access => session
            .access_token
            .as_ref()
            .ok_or_else(|| EdgeError::Token(TokenKind::Access, "the provider issued none".into())),
    }
}

/// What the app sends the edge: its token and, when it sends both (`edge_companion`), the
/// ID token beside the access token.
#[derive(Clone, Debug)]
pub struct EdgeCredentials {
    pub token: Token,
    pub companion: Option<Token>,
}

impl EdgeCredentials {
    /// `request` carrying them: the token as the bearer token and the ID token, when sent
    /// too, in the header the edge reads it from.
    fn send_with(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header(
            "authorization",
            &format!("Bearer {}", self.token.raw.expose()),
        );
        match &self.companion {
            Some(id) => request.header(cedargate::DEFAULT_ID_TOKEN_HEADER, id.raw.expose()),
            None => request,
        }
    }
}

/// The credentials the app sends to the edge, as the session holds them now.
pub fn edge_credentials(
    config: &AppConfig,
    session: &Session,
) -> Result<EdgeCredentials, EdgeError> {
    Ok(EdgeCredentials {
        token: edge_token(config, session)?.clone(),
        companion: config.edge_companion.then(|| session.id_token.clone()),
    })
}

/// Fetches the edge's bundle and has the engine evaluate every action for the signed-in
/// principal. The fetch does not wait for the engine, which loads meanwhile.
pub async fn matrix(setup: &Setup, session: &Session) -> Result<Matrix, EdgeError> {
    let config = &setup.config;
    let credentials = edge_credentials(config, session)?;
    let token = &credentials.token;
    // A token refused at sign-in keeps the reason it was refused for.
    token
        .verified
        .as_ref()
        .map_err(|e| EdgeError::Token(config.edge_token, e.clone()))?;
    let url = format!(
        "{}{}",
        config.edge_url.trim_end_matches('/'),
        cedargate::wire::BUNDLE_PATH
    );
    let response = credentials
        .send_with(Request::get(&url))
        .send()
        .await
        .map_err(|e| EdgeError::Network(e.to_string()))?;
    if !response.ok() {
        let detail = response
            .json::<cedargate::wire::ProblemDocument>()
            .await
            .ok()
            .and_then(|p| p.detail);
        return Err(EdgeError::Status {
            what: "the bundle request",
            status: response.status(),
            detail,
        });
    }
    let bundle = response
        .text()
        .await
        .map_err(|e| EdgeError::Network(e.to_string()))?;
    let input = EngineInput {
        config: setup.config_text.to_string(),
        issuer: session.discovery.issuer.clone(),
        jwks: session.jwks.to_string(),
        token: token.raw.expose().to_owned(),
        companion: credentials
            .companion
            .as_ref()
            .map(|id| id.raw.expose().to_owned()),
        bundle,
        now: now().0,
    };
    let (m, handle) = engine::matrix(&input).await.map_err(|e| match e {
        engine::Failure::Engine(EngineError::Token(e)) => EdgeError::Token(config.edge_token, e),
        engine::Failure::Engine(EngineError::Bundle(e) | EngineError::Input(e)) => {
            EdgeError::Bundle(e)
        }
        engine::Failure::Load(e) => EdgeError::Engine(e),
    })?;
    Ok(Matrix {
        permitted: crate::permitted::by_resource_type(&m.permitted_resources),
        version: m.version,
        principal: m.principal,
        data_about: m.data_about,
        rows: m.rows,
        reliances: m.reliances,
        policy_texts: m.policy_texts,
        engine: Arc::new(handle),
        set_claims: m.set_claims,
        enforced: m.enforced,
        staged: m.staged,
    })
}

/// A route (`"post /pets"`) made into a request path with example parameter values.
pub fn example_path(config: &AppConfig, template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            match segment
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .map(|s| s.trim_end_matches('+'))
            {
                Some(name) => config
                    .example_parameters
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| "1".into()),
                None => segment.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Calls one route through the edge with the session's token (and the ID token beside it
/// when the app sends both).
pub async fn try_route(
    config: &AppConfig,
    credentials: &EdgeCredentials,
    route: &str,
) -> Result<Answer, String> {
    let (method, template) = route.split_once(' ').ok_or("not a route")?;
    let method =
        Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|e| e.to_string())?;
    let url = format!(
        "{}{}",
        config.edge_url.trim_end_matches('/'),
        example_path(config, template)
    );
    let builder = credentials.send_with(Request::get(&url).method(method.clone()));
    let request = if method == Method::GET || method == Method::DELETE {
        builder.build()
    } else {
        builder
            .header("content-type", "application/json")
            .body(r#"{"type":"dog","price":249.99}"#)
    }
    .map_err(|e| e.to_string())?;
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let content_type = response.headers().get("content-type");
    let echo = response.headers().get(IDENTITY_ECHO_HEADER);
    let text = response.text().await.unwrap_or_default();
    Ok(Answer::read(status, content_type.as_deref(), &text).with_identity_echo(echo.as_deref()))
}
