//! Cross-origin headers for the browser app.

use crate::config::CorsConfig;
use crate::request_id::CALLER_REQUEST_ID_HEADER;
use crate::rollout::MODE_HEADER;
use crate::{BUNDLE_VERSION_HEADER, REQUEST_ID_HEADER};

/// The origin to echo in `Access-Control-Allow-Origin`, if the request's `Origin` is allowed.
pub fn allowed_origin<'a>(config: &CorsConfig, origin: Option<&'a str>) -> Option<&'a str> {
    let origin = origin?;
    config
        .allowed_origins
        .iter()
        .any(|allowed| allowed == origin)
        .then_some(origin)
}

/// Headers on every answer to an allowed origin (forwarded, refused or an error).
pub fn response_headers(config: &CorsConfig, origin: &str) -> Vec<(&'static str, String)> {
    let mut exposed = format!(
        "www-authenticate, {CALLER_REQUEST_ID_HEADER}, {REQUEST_ID_HEADER}, {BUNDLE_VERSION_HEADER}, retry-after, {MODE_HEADER}"
    );
    for name in &config.expose_headers {
        exposed.push_str(", ");
        exposed.push_str(name);
    }
    vec![
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-expose-headers", exposed),
        ("vary", "Origin".into()),
    ]
}

/// The answer to a preflight from an allowed origin.
pub fn preflight_headers(
    config: &CorsConfig,
    origin: &str,
    methods: &[String],
) -> Vec<(&'static str, String)> {
    let mut headers = response_headers(config, origin);
    headers.push((
        "access-control-allow-methods",
        methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(", "),
    ));
    headers.push((
        "access-control-allow-headers",
        config.allow_headers.join(", "),
    ));
    headers.push((
        "access-control-max-age",
        config.max_age.as_secs().to_string(),
    ));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_cors_headers() {
        let config = CorsConfig {
            allowed_origins: vec!["http://127.0.0.1:8080".into()],
            ..CorsConfig::default()
        };
        assert_eq!(
            allowed_origin(&config, Some("http://127.0.0.1:8080")),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(allowed_origin(&config, Some("http://127.0.0.1:8081")), None);
        assert_eq!(allowed_origin(&config, Some("null")), None);
        assert_eq!(allowed_origin(&config, None), None);
        let pre = preflight_headers(
            &config,
            "http://127.0.0.1:8080",
            &["get".into(), "post".into()],
        );
        assert!(pre.contains(&("access-control-allow-methods", "GET, POST".into())));
        assert!(pre.contains(&(
            "access-control-allow-headers",
            "authorization, content-type".into()
        )));
        assert!(pre.contains(&("access-control-max-age", "600".into())));
        assert!(
            pre.contains(&(
                "access-control-expose-headers",
                "www-authenticate, x-request-id, x-cedargate-request-id, x-cedargate-bundle-version, retry-after, x-cedargate-mode"
                    .into()
            ))
        );
    }

    #[test]
    fn configured_headers_are_exposed_after_the_edges_own() {
        let config = CorsConfig {
            allowed_origins: vec!["http://127.0.0.1:8080".into()],
            expose_headers: vec!["x-identity-echo".into()],
            ..CorsConfig::default()
        };
        let headers = response_headers(&config, "http://127.0.0.1:8080");
        assert!(headers.contains(&(
            "access-control-expose-headers",
            "www-authenticate, x-request-id, x-cedargate-request-id, x-cedargate-bundle-version, retry-after, x-cedargate-mode, x-identity-echo"
                .into()
        )));
    }
}
