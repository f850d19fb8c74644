//! `cedargate explain`: one request decided offline, step by step, exactly as the edge
//! decides it — the token verified against a JWKS file, mapped to a principal, the route
//! matched, the policies evaluated. The token itself is never printed.

use cedargate::{
    Bundle, DEFAULT_MAX_TOKEN_BYTES, Gate, IssuerConfig, IssuerKeys, KeySet, Outcome, RustCrypto,
    TokenKind, TrustConfig, UnixTime, UntrustedJwt,
};
use std::fmt::Write as _;

/// Which issuers to trust for the explanation.
#[derive(Debug, Clone)]
pub enum TrustChoice {
    /// A trust configuration, as the edge's `trust` setting.
    Config(TrustConfig),
    /// The token's own issuer, with these audiences, for this kind of token.
    Audiences(Vec<String>, TokenKind),
}

/// The request to explain.
#[derive(Debug)]
pub struct Question<'a> {
    pub token: &'a str,
    pub jwks: &'a str,
    /// Whose keys `jwks` holds: needed when `trust` is a configuration with several
    /// issuers (the keys verify tokens of that issuer only); otherwise the one issuer the
    /// trust has.
    pub jwks_issuer: Option<&'a str>,
    pub trust: TrustChoice,
    pub method: &'a str,
    pub target: &'a str,
    pub now: UnixTime,
}

/// The decision and its steps, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// `Some(true)` allowed, `Some(false)` denied or refused.
    pub allowed: bool,
    /// The answer the edge would give: 200 (forwarded), 400, 401, 403 or 404.
    pub status: u16,
    pub text: String,
}

/// The issuer whose keys `--jwks` holds: `named` (one of `config`'s), or the one issuer
/// `config` trusts.
fn jwks_issuer(config: &TrustConfig, named: Option<&str>) -> Result<String, String> {
    let mut issuers: Vec<&str> = config.issuers.iter().map(|i| i.issuer.as_str()).collect();
    issuers.sort_unstable();
    issuers.dedup();
    match (named, issuers.as_slice()) {
        (Some(named), _) if issuers.contains(&named) => Ok(named.to_owned()),
        (Some(named), _) => Err(format!(
            "--issuer {named} is not an issuer the trust configuration names"
        )),
        (None, [one]) => Ok((*one).to_owned()),
        (None, _) => Err(format!(
            "the trust configuration names {} issuers: say whose keys --jwks holds with --issuer",
            issuers.len()
        )),
    }
}

/// Decides `question` against `bundle`. `Err` is for unusable input (a JWKS or trust
/// configuration that does not load); a refused token is an explanation.
pub fn explain(bundle: Bundle, question: &Question<'_>) -> Result<Explanation, String> {
    let mut text = String::new();
    let keys = KeySet::from_json(question.jwks).map_err(|e| format!("--jwks: {e}"))?;
    let config = match &question.trust {
        TrustChoice::Config(config) => config.clone(),
        TrustChoice::Audiences(audiences, kind) => {
            let issuer = UntrustedJwt::parse(question.token, DEFAULT_MAX_TOKEN_BYTES)
                .ok()
                .and_then(|jwt| jwt.unverified_issuer().map(str::to_owned));
            let Some(issuer) = issuer else {
                return Ok(refusal(
                    text,
                    401,
                    "the token is not a JWT with an \"iss\" claim",
                ));
            };
            TrustConfig {
                max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
                issuers: vec![IssuerConfig::new(issuer, *kind, audiences.clone())],
                insecure_shared_group_ids: false,
                issuer_aliases: Vec::new(),
            }
        }
    };
    let keys_issuer = jwks_issuer(&config, question.jwks_issuer)?;
    let gate = Gate::new(bundle, &config).map_err(|e| format!("trust configuration: {e}"))?;
    let _ = writeln!(text, "bundle     {}", gate.bundle().version());
    for skipped in keys.skipped() {
        let kid = skipped.kid.as_deref().unwrap_or("(no kid)");
        let _ = writeln!(
            text,
            "jwks       key {} {kid} not used: {}",
            skipped.index, skipped.reason
        );
    }
    let authenticated = pollster::block_on(gate.authenticate(
        question.token,
        IssuerKeys::new(&keys_issuer, &keys),
        &RustCrypto,
        question.now,
    ));
    let (verified, principal) = match authenticated {
        Ok(pair) => pair,
        Err(err) => return Ok(refusal(text, 401, &format!("token refused: {err}"))),
    };
    let expires = verified.expires_at().0 - question.now.0;
    let _ = writeln!(
        text,
        "token      {} {} token from {}, verified ({}, expires in {})",
        verified.algorithm(),
        verified.kind(),
        verified.issuer(),
        verified.key_thumbprint(),
        duration(expires)
    );
    let _ = writeln!(text, "principal  {}", principal.uid());
    let groups = principal.groups();
    let _ = writeln!(
        text,
        "groups     {}",
        if groups.is_empty() {
            "(none)".to_owned()
        } else {
            groups.join(", ")
        }
    );
    if let Some(json) = principal
        .entities()
        .ok()
        .and_then(|entities| entities.to_json_value().ok())
    {
        let uid = principal.uid().to_string();
        for entity in json.as_array().into_iter().flatten() {
            let ty = entity["uid"]["type"].as_str().unwrap_or_default();
            let id = entity["uid"]["id"].as_str().unwrap_or_default();
            let same = format!("{ty}::{}", serde_json::Value::String(id.to_owned())) == uid;
            if same {
                for (name, value) in entity["attrs"].as_object().into_iter().flatten() {
                    let _ = writeln!(text, "attribute  {name} = {value}");
                }
            }
        }
    }
    let (route, decision) = match gate.decide(
        &principal,
        question.method,
        question.target,
        &cedargate::RequestValues::at(question.now),
    ) {
        Ok(pair) => pair,
        Err(err) => {
            let status = match err {
                cedargate::RouteError::NoRoute => 404,
                cedargate::RouteError::MethodNotAllowed { .. } => 405,
                cedargate::RouteError::Refused(_) => 400,
            };
            return Ok(refusal(text, status, &format!("request refused: {err}")));
        }
    };
    let _ = writeln!(
        text,
        "request    {} {} -> action \"{}\"",
        question.method, route.path, route.action
    );
    for (name, value) in &route.path_parameters {
        let _ = writeln!(text, "path       {name} = {value:?}");
    }
    for (name, value) in &route.query_parameters {
        let _ = writeln!(text, "query      {name} = {value:?}");
    }
    for error in &decision.errors {
        let _ = writeln!(text, "error      {error}");
    }
    let allowed = decision.outcome == Outcome::Allow;
    let why = if decision.policies.is_empty() {
        "no policy permits it (Cedar's default deny)".to_owned()
    } else if allowed {
        format!("permitted by {}", decision.policies.join(", "))
    } else {
        format!("forbidden by {}", decision.policies.join(", "))
    };
    if let Some(step_up) = &decision.step_up {
        let mut asked = Vec::new();
        if !step_up.acr_values.is_empty() {
            asked.push(format!("acr_values {}", step_up.acr_values.join(" ")));
        }
        if let Some(max_age) = step_up.max_age {
            asked.push(format!("max_age {max_age}"));
        }
        let _ = writeln!(
            text,
            "step-up    a new sign-in with {} would be allowed (the edge answers 401)",
            asked.join(", ")
        );
    }
    let _ = writeln!(
        text,
        "decision   {}: {why}",
        if allowed { "ALLOW" } else { "DENY" }
    );
    let status = match (allowed, &decision.step_up) {
        (true, _) => 200,
        (false, Some(_)) => 401,
        (false, None) => 403,
    };
    Ok(Explanation {
        allowed,
        status,
        text,
    })
}

fn refusal(mut text: String, status: u16, why: &str) -> Explanation {
    let _ = writeln!(text, "decision   DENY ({status}): {why}");
    Explanation {
        allowed: false,
        status,
        text,
    }
}

fn duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    match s {
        0..=119 => format!("{sign}{s} s"),
        120..=7199 => format!("{sign}{} min", s / 60),
        _ => format!("{sign}{} h", s / 3600),
    }
}
