//! The app's configuration, read at start-up from `/config.json` beside the app, so one build
//! serves any environment.

use cedargate::url::{HttpUrl, UrlError};
use cedargate::{CompanionConfig, IssuerConfig, TokenKind, TrustConfig};
use serde::Deserialize;

/// `config.json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The issuer URL. Either this or `pingone`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// A PingOne environment: the issuer is `https://auth.pingone.<tld>/<environment_id>/as`.
    #[serde(default)]
    pub pingone: Option<PingOneEnvironment>,
    /// The application's client id.
    pub client_id: String,
    /// Where the provider sends the browser back (this app's `/callback`).
    pub redirect_uri: String,
    /// Where the provider sends the browser after sign-out.
    pub post_logout_redirect_uri: String,
    /// Scopes requested. Default `openid profile email`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The audience of access tokens for the API, to verify them too (optional).
    #[serde(default)]
    pub api_audience: Option<String>,
    /// Required `typ` of access tokens (`at+jwt` for RFC 9068 tokens). Default not checked.
    #[serde(default)]
    pub access_token_type: Option<String>,
    /// The access token's claim with the user's groups (PingOne adds one with a custom
    /// attribute mapping on the API's resource, e.g. `groups`). Default: the trust
    /// configuration's default (`group`, which PingOne puts in ID tokens only).
    #[serde(default)]
    pub access_group_claim: Option<String>,
    /// The entity type a token's groups become, in both tokens, for a bundle whose group
    /// type is not the default `UserGroup` (the Todo bundle's `Role`). Must be what the
    /// edge's trust entries say.
    #[serde(default)]
    pub group_type: Option<String>,
    /// Whether tokens name groups at all (default `true`); `false` for a bundle without a
    /// group type (the search bundle's people have a role and a department in its entity
    /// data instead), as the edge's trust entries say with `group_claim: null`.
    #[serde(default = "default_token_groups")]
    pub token_groups: bool,
    /// The edge worker's base URL.
    pub edge_url: String,
    /// Which token the app sends to the edge: `id` (default; PingOne puts `group` in the ID
    /// token only) or `access`.
    #[serde(default = "default_edge_token")]
    pub edge_token: TokenKind,
    /// Whether the app sends the ID token beside the access token (default `false`), for an
    /// edge whose access-token entry takes it as its companion: both tokens in one decision,
    /// groups from the ID token and scopes, permissions and client from the access token
    /// (`X-Cedargate-Id-Token`; see the guide "Both tokens in one decision"). Needs
    /// `edge_token: "access"` and `api_audience`; the app verifies and maps the pair as the
    /// edge does.
    #[serde(default)]
    pub edge_companion: bool,
    /// Example values for path parameters when trying routes (default `1`).
    #[serde(default)]
    pub example_parameters: std::collections::BTreeMap<String, String>,
}

/// A PingOne environment.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingOneEnvironment {
    /// `com` (North America), `eu`, `ca`, `asia`, `com.au`, `sg` (Singapore).
    pub region: String,
    /// The environment id (a UUID).
    pub environment_id: String,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into(), "email".into()]
}

fn default_token_groups() -> bool {
    true
}

fn default_edge_token() -> TokenKind {
    TokenKind::Id
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppConfigError {
    /// Not the expected JSON.
    #[error("config.json is invalid: {0}")]
    Shape(String),
    /// Neither or both of `issuer` and `pingone`.
    #[error("config.json must give exactly one of \"issuer\" and \"pingone\"")]
    Issuer,
    /// An unknown PingOne region.
    #[error("unknown PingOne region {0} (com, eu, ca, asia, com.au, sg)")]
    Region(String),
    /// A URL that is not https (http is allowed for 127.0.0.1, localhost and [::1]).
    #[error("{0} must be an https URL (http only to 127.0.0.1, localhost or [::1])")]
    Insecure(String),
    /// Not an absolute http(s) URL the app accepts.
    #[error("{0} is refused: {1}")]
    Url(String, UrlError),
    /// `edge_companion` without `edge_token: "access"` and `api_audience`.
    #[error(
        "edge_companion sends the ID token beside the access token: it needs edge_token \"access\" and api_audience"
    )]
    Companion,
    /// `openid` is not among the scopes.
    #[error("scopes must include openid")]
    NoOpenId,
    /// The trust configuration derived from this one is invalid.
    #[error("{0}")]
    Trust(String),
}

/// The shared core's rule (the edge applies the same one): https, or http only to a
/// loopback host, and a URL strict enough that the host checked is the host reached.
fn check_url(url: &str) -> Result<(), AppConfigError> {
    match HttpUrl::parse(url) {
        Ok(parsed) if parsed.is_secure() => Ok(()),
        Ok(_) => Err(AppConfigError::Insecure(url.to_owned())),
        Err(e) => Err(AppConfigError::Url(url.to_owned(), e)),
    }
}

impl AppConfig {
    /// Parses and checks `config.json`.
    pub fn from_json(text: &str) -> Result<Self, AppConfigError> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| AppConfigError::Shape(e.to_string()))?;
        let issuer = config.issuer()?;
        for url in [
            issuer.as_str(),
            &config.redirect_uri,
            &config.post_logout_redirect_uri,
            &config.edge_url,
        ] {
            check_url(url)?;
        }
        if !config.scopes.iter().any(|s| s == "openid") {
            return Err(AppConfigError::NoOpenId);
        }
        if config.edge_companion
            && (config.edge_token != TokenKind::Access || config.api_audience.is_none())
        {
            return Err(AppConfigError::Companion);
        }
        cedargate::Verifier::new(&config.trust_config()?)
            .map_err(|e| AppConfigError::Trust(e.to_string()))?;
        Ok(config)
    }

    /// The issuer URL.
    pub fn issuer(&self) -> Result<String, AppConfigError> {
        match (&self.issuer, &self.pingone) {
            (Some(issuer), None) => Ok(issuer.trim_end_matches('/').to_owned()),
            (None, Some(env)) => {
                let tld = match env.region.as_str() {
                    "com" | "na" => "com",
                    "eu" => "eu",
                    "ca" => "ca",
                    "asia" | "ap" => "asia",
                    "com.au" | "au" => "com.au",
                    "sg" => "sg",
                    other => return Err(AppConfigError::Region(other.to_owned())),
                };
                Ok(format!(
                    "https://auth.pingone.{tld}/{}/as",
                    env.environment_id
                ))
            }
            _ => Err(AppConfigError::Issuer),
        }
    }

    /// The scopes, space-separated.
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    /// The ID token's group claim, as the trust configuration maps it.
    pub fn group_claim(&self) -> Option<String> {
        let trust = self.trust_config().ok()?;
        trust
            .issuers
            .into_iter()
            .find(|i| i.token == TokenKind::Id)
            .and_then(|i| i.group_claim)
    }

    /// The trust the app verifies tokens with: its ID tokens (audience: the client id), and
    /// access tokens for the API when `api_audience` is given: a person's only (the app's
    /// user signed in; a client-credentials token is not one), groups from
    /// `access_group_claim`.
    pub fn trust_config(&self) -> Result<TrustConfig, AppConfigError> {
        let issuer = self.issuer()?;
        let mut id = IssuerConfig::new(issuer.clone(), TokenKind::Id, vec![self.client_id.clone()]);
        id.group_type = self.group_type.clone();
        if !self.token_groups {
            id.group_claim = None;
        }
        let mut issuers = vec![id];
        if let Some(audience) = &self.api_audience {
            let mut access = IssuerConfig::new(issuer, TokenKind::Access, vec![audience.clone()]);
            access.token_type = self.access_token_type.clone();
            access.caller = cedargate::Caller::User;
            access.group_type = self.group_type.clone();
            if let Some(claim) = &self.access_group_claim {
                access.group_claim = Some(claim.clone());
            }
            if !self.token_groups {
                access.group_claim = None;
            }
            if self.edge_companion {
                access.companion = Some(CompanionConfig::new(
                    TokenKind::Id,
                    vec![self.client_id.clone()],
                ));
            }
            issuers.push(access);
        }
        Ok(TrustConfig {
            max_token_bytes: cedargate::DEFAULT_MAX_TOKEN_BYTES,
            issuers,
            insecure_shared_group_ids: false,
            issuer_aliases: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const BASE: &str = r#"{
        "client_id": "app", "redirect_uri": "http://127.0.0.1:8080/callback",
        "post_logout_redirect_uri": "http://127.0.0.1:8080/", "edge_url": "http://127.0.0.1:8787",
        "#;

    #[test]
    fn pingone_environments_give_the_issuer() {
        let c = AppConfig::from_json(&format!(
            r#"{BASE} "pingone": {{ "region": "eu", "environment_id": "abc" }} }}"#
        ))
        .unwrap();
        assert_eq!(c.issuer().unwrap(), "https://auth.pingone.eu/abc/as");
        assert_eq!(c.scope(), "openid profile email");
        assert_eq!(c.edge_token, TokenKind::Id);
    }

    #[test]
    fn a_group_type_applies_to_both_tokens() {
        let c = AppConfig::from_json(&format!(
            r#"{BASE} "issuer": "https://auth.example.com/as", "api_audience": "https://api",
               "access_group_claim": "groups", "group_type": "Role" }}"#
        ))
        .unwrap();
        let trust = c.trust_config().unwrap();
        let types: Vec<_> = trust
            .issuers
            .iter()
            .map(|i| (i.token, i.group_claim.as_deref(), i.group_type.as_deref()))
            .collect();
        assert_eq!(
            types,
            [
                (TokenKind::Id, Some("group"), Some("Role")),
                (TokenKind::Access, Some("groups"), Some("Role"))
            ]
        );
    }

    #[test]
    fn the_id_token_goes_beside_the_access_token_only_when_asked_and_possible() {
        let c = AppConfig::from_json(&format!(
            r#"{BASE} "issuer": "https://auth.example.com/as", "api_audience": "https://api",
               "edge_token": "access", "edge_companion": true }}"#
        ))
        .unwrap();
        let trust = c.trust_config().unwrap();
        let access = trust
            .issuers
            .iter()
            .find(|i| i.token == TokenKind::Access)
            .unwrap();
        let companion = access.companion.as_ref().unwrap();
        assert_eq!(
            (companion.token, companion.audiences.as_slice()),
            (TokenKind::Id, &["app".to_owned()][..])
        );
        assert_eq!(companion.header_name(), cedargate::DEFAULT_ID_TOKEN_HEADER);
        assert_eq!(companion.from.group, TokenKind::Id);
        // Off by default; refused where there is no access token to go beside.
        let plain = AppConfig::from_json(&format!(
            r#"{BASE} "issuer": "https://auth.example.com/as", "api_audience": "https://api",
               "edge_token": "access" }}"#
        ))
        .unwrap();
        assert!(
            plain
                .trust_config()
                .unwrap()
                .issuers
                .iter()
                .all(|i| i.companion.is_none())
        );
        for wrong in [
            r#""api_audience": "https://api", "edge_companion": true"#,
            r#""edge_token": "access", "edge_companion": true"#,
        ] {
            assert_eq!(
                AppConfig::from_json(&format!(
                    r#"{BASE} "issuer": "https://auth.example.com/as", {wrong} }}"#
                )),
                Err(AppConfigError::Companion),
                "{wrong}"
            );
        }
    }

    #[test]
    fn tokens_without_groups_map_none() {
        let c = AppConfig::from_json(&format!(
            r#"{BASE} "issuer": "https://auth.example.com/as", "api_audience": "https://api",
               "token_groups": false }}"#
        ))
        .unwrap();
        let claims: Vec<_> = c
            .trust_config()
            .unwrap()
            .issuers
            .iter()
            .map(|i| (i.token, i.group_claim.clone()))
            .collect();
        assert_eq!(claims, [(TokenKind::Id, None), (TokenKind::Access, None)]);
        assert_eq!(c.group_claim(), None);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let both = format!(
            r#"{BASE} "issuer": "https://x/as", "pingone": {{ "region": "eu", "environment_id": "a" }} }}"#
        );
        assert_eq!(AppConfig::from_json(&both), Err(AppConfigError::Issuer));
        let http = format!(r#"{BASE} "issuer": "http://idp.example.com/as" }}"#);
        assert!(matches!(
            AppConfig::from_json(&http),
            Err(AppConfigError::Insecure(_))
        ));
        let tricky = format!(r#"{BASE} "issuer": "http://127.0.0.1.evil.test/as" }}"#);
        assert!(matches!(
            AppConfig::from_json(&tricky),
            Err(AppConfigError::Insecure(_))
        ));
        let userinfo = format!(r#"{BASE} "issuer": "http://localhost:1@evil.example/as" }}"#);
        assert_eq!(
            AppConfig::from_json(&userinfo),
            Err(AppConfigError::Url(
                "http://localhost:1@evil.example/as".into(),
                UrlError::Userinfo
            ))
        );
        for (region, issuer) in [
            ("com", "https://auth.pingone.com/e1/as"),
            ("eu", "https://auth.pingone.eu/e1/as"),
            ("ca", "https://auth.pingone.ca/e1/as"),
            ("asia", "https://auth.pingone.asia/e1/as"),
            ("com.au", "https://auth.pingone.com.au/e1/as"),
            ("sg", "https://auth.pingone.sg/e1/as"),
        ] {
            let json = format!(
                r#"{BASE} "pingone": {{ "region": "{region}", "environment_id": "e1" }} }}"#
            );
            let config = AppConfig::from_json(&json).unwrap();
            assert_eq!(config.issuer().unwrap(), issuer, "{region}");
        }
        let region =
            format!(r#"{BASE} "pingone": {{ "region": "mars", "environment_id": "a" }} }}"#);
        assert_eq!(
            AppConfig::from_json(&region),
            Err(AppConfigError::Region("mars".into()))
        );
        let scopes = format!(r#"{BASE} "issuer": "https://x/as", "scopes": ["profile"] }}"#);
        assert_eq!(AppConfig::from_json(&scopes), Err(AppConfigError::NoOpenId));
        assert!(matches!(
            AppConfig::from_json("{}"),
            Err(AppConfigError::Shape(_))
        ));
    }

    #[test]
    fn every_url_follows_the_core_rule() {
        let with = |field: &str, value: &str| {
            let mut json: serde_json::Value = serde_json::from_str(&format!(
                r#"{BASE} "issuer": "https://auth.example.com/as" }}"#
            ))
            .unwrap();
            json[field] = serde_json::Value::String(value.into());
            AppConfig::from_json(&json.to_string())
        };
        for field in [
            "issuer",
            "redirect_uri",
            "post_logout_redirect_uri",
            "edge_url",
        ] {
            for ok in [
                "https://app.example.com/x",
                "http://localhost:8080/x",
                "http://[::1]:8080/x",
                "http://127.0.0.1/x",
            ] {
                assert!(with(field, ok).is_ok(), "{field} {ok}");
            }
            for insecure in ["http://localhost.evil.example/x", "http://127.0.0.1.evil/x"] {
                assert_eq!(
                    with(field, insecure),
                    Err(AppConfigError::Insecure(insecure.into())),
                    "{field}"
                );
            }
            for (bad, reason) in [
                ("http://localhost:1@evil.example", UrlError::Userinfo),
                ("http://127.0.0.1@evil.example/x", UrlError::Userinfo),
                ("HTTPS://app.example.com/x", UrlError::Scheme),
                ("http://localhost\\@evil.example/x", UrlError::Character),
                ("http://localhost:99999/x", UrlError::Port),
                ("https:///callback", UrlError::EmptyHost),
            ] {
                assert_eq!(
                    with(field, bad),
                    Err(AppConfigError::Url(bad.into(), reason)),
                    "{field}"
                );
            }
        }
    }
}
