//! The edge: its policy bundle, evaluated here for the signed-in principal, and live calls
//! through it.

use super::oidc::now;
use crate::answer::{Answer, IDENTITY_ECHO_HEADER};
use crate::config::AppConfig;
use crate::session::{Session, Token};
use cedargate::crypto::WebCrypto;
use cedargate::{ActionDecision, Gate, IssuerKeys, Reliance, SetClaim, TokenKind, VerifiedToken};
use gloo_net::http::{Method, Request};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The allowed-actions matrix.
#[derive(Clone, Debug)]
pub struct Matrix {
    /// The version of the bundle's text (without entity data, of which the app holds only
    /// what concerns its user): computed here, and the bundle is refused unless it is the
    /// version the edge states.
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
    /// The gate the rows were decided by, and the verified token: what a what-if starts from.
    pub gate: Arc<Gate>,
    pub verified: VerifiedToken,
    /// The token's set-valued claims a what-if may change.
    pub set_claims: Vec<SetClaim>,
    /// Whether the edge enforces each action (`false`: monitor mode); empty from an edge
    /// without monitor mode.
    pub enforced: BTreeMap<String, bool>,
    /// The staged candidate the edge decides beside the live bundle, evaluated here the same
    /// way for the same token; `None` without one, why it could not be evaluated when it
    /// could not (the live matrix is shown all the same).
    pub staged: Option<Result<StagedMatrix, String>>,
    /// What the person may do on the edge's AuthZEN resources, by resource type (the bundle
    /// endpoint's `permitted_resources`, computed by the edge: the app holds none of the
    /// resources); empty when the edge sends none.
    pub permitted: Vec<crate::permitted::ResourceList>,
}

/// The staged candidate's matrix for the signed-in principal.
#[derive(Clone, Debug)]
pub struct StagedMatrix {
    /// The version of the candidate's text, as for the live bundle.
    pub version: String,
    pub serial: u64,
    pub rows: Vec<ActionDecision>,
    /// Each of the candidate's policies' text, by `@id`.
    pub policy_texts: BTreeMap<String, String>,
}

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

/// Fetches the edge's bundle and evaluates every action for the signed-in principal.
pub async fn matrix(config: &AppConfig, session: &Session) -> Result<Matrix, EdgeError> {
    let token = edge_token(config, session)?;
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
    let response = Request::get(&url)
        .header("authorization", &format!("Bearer {}", token.raw.expose()))
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
    let doc: cedargate::wire::BundleEndpoint = response
        .json()
        .await
        .map_err(|e| EdgeError::Network(e.to_string()))?;
    // The compiled form, with what the entity data says about this caller (its roles, say).
    // Not validated again, so the app does not link Cedar's validator: it is the content the
    // edge validated, since its version is the one the edge names (or it is refused).
    let bundle = doc
        .insecure_bundle_unvalidated()
        .map_err(|e| EdgeError::Bundle(e.to_string()))?;
    let trust_config = config
        .trust_config()
        .map_err(|e| EdgeError::Bundle(e.to_string()))?;
    let gate = Gate::new(bundle, &trust_config).map_err(|e| EdgeError::Bundle(e.to_string()))?;
    // The pipeline the edge runs, with the keys the session was verified with.
    let (verified, principal) = gate
        .authenticate(
            token.raw.expose(),
            IssuerKeys::new(&session.discovery.issuer, &session.keys),
            &WebCrypto::new(),
            now(),
        )
        .await
        .map_err(|e| EdgeError::Token(config.edge_token, e.to_string()))?;
    let reliances = gate
        .reliances(&verified, &principal)
        .map_err(|e| EdgeError::Token(config.edge_token, e.to_string()))?;
    let set_claims = gate
        .trust()
        .set_claims(&verified)
        .map_err(|e| EdgeError::Token(config.edge_token, e.to_string()))?;
    let bundle = gate.bundle();
    let policy_texts = texts_of(bundle);
    let rows = bundle.allowed_actions(&principal);
    let data_about = data_above(&doc, &principal);
    let version = bundle.text_version().to_string();
    let staged = match doc.staged.as_deref() {
        Some(candidate) => Some(
            staged_matrix(config, session, token, candidate)
                .await
                .map_err(|e| e.to_string()),
        ),
        None => None,
    };
    let permitted =
        crate::permitted::by_resource_type(doc.permitted_resources.as_deref().unwrap_or_default());
    Ok(Matrix {
        permitted,
        enforced: doc.enforced.clone(),
        staged,
        policy_texts,
        set_claims,
        verified,
        version,
        principal: principal.uid().to_string(),
        data_about,
        rows,
        reliances,
        gate: Arc::new(gate),
    })
}

/// Each policy's text, by `@id`.
fn texts_of(bundle: &cedargate::Bundle) -> BTreeMap<String, String> {
    bundle
        .policy_ids()
        .into_iter()
        .filter_map(|entry| Some((entry.id.clone(), bundle.policy_text(&entry.id)?)))
        .collect()
}

/// The staged candidate's matrix: its bundle loaded as the live one is, and the token
/// authenticated by it (its entity data may place the principal elsewhere).
async fn staged_matrix(
    config: &AppConfig,
    session: &Session,
    token: &Token,
    candidate: &cedargate::wire::BundleEndpoint,
) -> Result<StagedMatrix, EdgeError> {
    let staged_error = |e: String| EdgeError::Bundle(format!("the staged candidate: {e}"));
    let bundle = candidate
        .insecure_bundle_unvalidated()
        .map_err(|e| staged_error(e.to_string()))?;
    let trust_config = config
        .trust_config()
        .map_err(|e| EdgeError::Bundle(e.to_string()))?;
    let gate = Gate::new(bundle, &trust_config).map_err(|e| staged_error(e.to_string()))?;
    let (_, principal) = gate
        .authenticate(
            token.raw.expose(),
            IssuerKeys::new(&session.discovery.issuer, &session.keys),
            &WebCrypto::new(),
            now(),
        )
        .await
        .map_err(|e| EdgeError::Token(config.edge_token, e.to_string()))?;
    let bundle = gate.bundle();
    Ok(StagedMatrix {
        version: bundle.text_version().to_string(),
        serial: candidate.serial,
        rows: bundle.allowed_actions(&principal),
        policy_texts: texts_of(bundle),
    })
}

/// The uids of the entity data's entities about `principal`, other than the principal itself
/// and the groups its token names, written as Cedar writes them (`TodoApp::Role::"viewer"`).
fn data_above(
    doc: &cedargate::wire::BundleEndpoint,
    principal: &cedargate::Principal,
) -> Vec<String> {
    let own = principal.uid();
    let from_token: Vec<(String, String)> = std::iter::once(own)
        .chain(
            principal
                .entities()
                .ok()
                .and_then(|entities| entities.ancestors(own))
                .into_iter()
                .flatten(),
        )
        .map(|uid| (uid.type_name().to_string(), uid.id().unescaped().to_owned()))
        .collect();
    doc.entities
        .iter()
        .flatten()
        .filter_map(|entity| {
            let uid = entity.get("uid")?;
            Some((
                uid.get("type")?.as_str()?.to_owned(),
                uid.get("id")?.as_str()?.to_owned(),
            ))
        })
        .filter(|uid| !from_token.contains(uid))
        .map(|(ty, id)| format!("{ty}::\"{}\"", id.escape_debug()))
        .collect()
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

/// Calls one route through the edge with the session's token.
pub async fn try_route(config: &AppConfig, token: &Token, route: &str) -> Result<Answer, String> {
    let (method, template) = route.split_once(' ').ok_or("not a route")?;
    let method =
        Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|e| e.to_string())?;
    let url = format!(
        "{}{}",
        config.edge_url.trim_end_matches('/'),
        example_path(config, template)
    );
    let builder = Request::get(&url)
        .method(method.clone())
        .header("authorization", &format!("Bearer {}", token.raw.expose()));
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
