//! What a request is addressed to, decided once, from its method, path and route, before
//! anything else is done for it.
//!
//! The worker serves a few documents of its own beside the API it guards. Each request is
//! classified here exactly once ([`Endpoint::classify`]); the request path then follows the
//! one branch its endpoint names. Which endpoints exist depends on the configuration and the
//! bundle in force ([`Served`]): an endpoint that is not served is never recognised, and its
//! path is an API path like any other.
//!
//! The documents and the bundle endpoint are recognised by their path as sent. An AuthZEN
//! question is recognised by the route the request matched (the endpoint is a route of the
//! bundle, `post /access/v1/evaluation` and so on), so that whatever spelling of the path
//! matched the route (percent-encoding, a query), the answer comes from the decision point
//! the caller was authorized to ask, never from the origin.

use crate::BUNDLE_PATH;
use crate::authzen;
use crate::target::path_of;
use cedargate::RouteMatch;
use cedargate::assertion::JWKS_PATH;
use cedargate::authzen::WELL_KNOWN_PATH;

/// What a request is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET`/`HEAD /.well-known/authzen-configuration`: the AuthZEN metadata document
    /// (public).
    Metadata,
    /// `GET`/`HEAD /.cedargate/jwks`: the identity assertion's public keys (public).
    Jwks,
    /// A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), answered for
    /// allowed origins only.
    Preflight,
    /// `/.cedargate/bundle`, any method (only `GET` is answered): the policies and the
    /// caller's entity data, for a verified and active token.
    Bundle,
    /// An AuthZEN question: authenticated and decided like an API request (the endpoint is
    /// a route of the bundle), then answered by the decision point instead of the origin.
    Authzen(authzen::Endpoint),
    /// Everything else: the API the worker guards.
    Api,
}

/// Which of the worker's own endpoints are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// AuthZEN is configured (its metadata document and questions).
    pub authzen: bool,
    /// Identity assertions are configured (their public keys).
    pub assertion: bool,
    /// The bundle endpoint is on.
    pub bundle: bool,
}

impl Endpoint {
    /// The endpoint of a request with `method` exactly as sent and `target` (path and query
    /// as sent) that matched `route` (`None`: no route); `preflight`: it carries
    /// `Access-Control-Request-Method`.
    pub fn classify(
        method: &str,
        target: &str,
        preflight: bool,
        route: Option<&RouteMatch>,
        served: Served,
    ) -> Self {
        let path = path_of(target);
        let read = matches!(method, "GET" | "HEAD");
        if served.authzen && read && path == WELL_KNOWN_PATH {
            Self::Metadata
        } else if served.assertion && read && path == JWKS_PATH {
            Self::Jwks
        } else if method == "OPTIONS" && preflight {
            Self::Preflight
        } else if served.bundle && path == BUNDLE_PATH {
            Self::Bundle
        } else if let Some(question) = route
            .filter(|_| served.authzen)
            .and_then(|route| authzen::Endpoint::of(&route.method, &route.template))
        {
            Self::Authzen(question)
        } else {
            Self::Api
        }
    }

    /// Whether the request is answered without a token: the public documents and preflights.
    /// Every other endpoint authenticates (or decides for the anonymous principal on a
    /// public route).
    pub fn is_public_document(self) -> bool {
        matches!(self, Self::Metadata | Self::Jwks | Self::Preflight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Served = Served {
        authzen: true,
        assertion: true,
        bundle: true,
    };

    /// The route a bundle with the AuthZEN routes and `get /pets/{petId}` matches.
    fn route_of(method: &str, target: &str) -> Option<RouteMatch> {
        let path = path_of(target);
        let decoded = path.replace("%65", "e");
        let method = method.to_ascii_lowercase();
        let template = match (method.as_str(), decoded.as_str()) {
            ("post", p) if p.starts_with("/access/v1/") => p.to_owned(),
            ("get", p) if p.starts_with("/pets/") => "/pets/{petId}".to_owned(),
            _ => return None,
        };
        Some(RouteMatch {
            action: format!("{method} {template}"),
            method,
            template,
            path: decoded,
            query: None,
            path_parameters: Default::default(),
            query_parameters: Default::default(),
            public: false,
        })
    }

    fn classify(method: &str, target: &str, preflight: bool, served: Served) -> Endpoint {
        let route = route_of(method, target);
        Endpoint::classify(method, target, preflight, route.as_ref(), served)
    }

    #[test]
    fn each_endpoint_is_recognised_by_method_and_path() {
        let c = |m: &str, t: &str, pre: bool| classify(m, t, pre, ALL);
        assert_eq!(
            c("GET", "/.well-known/authzen-configuration", false),
            Endpoint::Metadata
        );
        assert_eq!(
            c("HEAD", "/.well-known/authzen-configuration?x", false),
            Endpoint::Metadata
        );
        assert_eq!(c("GET", "/.cedargate/jwks", false), Endpoint::Jwks);
        assert_eq!(c("OPTIONS", "/pets", true), Endpoint::Preflight);
        assert_eq!(c("GET", "/.cedargate/bundle?v=1", false), Endpoint::Bundle);
        assert_eq!(c("DELETE", "/.cedargate/bundle", false), Endpoint::Bundle);
        assert_eq!(
            c("POST", "/access/v1/evaluation", false),
            Endpoint::Authzen(authzen::Endpoint::Evaluation)
        );
        assert_eq!(
            c("POST", "/access/v1/evaluations", false),
            Endpoint::Authzen(authzen::Endpoint::Evaluations)
        );
        assert_eq!(
            c("POST", "/access/v1/search/action", false),
            Endpoint::Authzen(authzen::Endpoint::SearchAction)
        );
        assert_eq!(c("GET", "/pets/7", false), Endpoint::Api);
    }

    #[test]
    fn an_authzen_question_is_recognised_by_its_route_however_spelled() {
        let c = |m: &str, t: &str| classify(m, t, false, ALL);
        for target in ["/access/v1/%65valuation", "/access/v1/evaluation?x=1"] {
            assert_eq!(
                c("POST", target),
                Endpoint::Authzen(authzen::Endpoint::Evaluation),
                "{target}"
            );
        }
        // No route, no question: the request is refused as an unknown route.
        assert_eq!(
            Endpoint::classify("POST", "/access/v1/evaluation", false, None, ALL),
            Endpoint::Api
        );
    }

    #[test]
    fn near_misses_are_api_requests() {
        let c = |m: &str, t: &str, pre: bool| classify(m, t, pre, ALL);
        // Documents are read with GET or HEAD only; other methods are API requests.
        assert_eq!(
            c("POST", "/.well-known/authzen-configuration", false),
            Endpoint::Api
        );
        assert_eq!(c("PUT", "/.cedargate/jwks", false), Endpoint::Api);
        // A method is compared exactly as sent.
        assert_eq!(c("get", "/.cedargate/jwks", false), Endpoint::Api);
        // An OPTIONS without Access-Control-Request-Method is not a preflight.
        assert_eq!(c("OPTIONS", "/pets", false), Endpoint::Api);
        // A preflight to a document is a preflight.
        assert_eq!(
            c("OPTIONS", "/.cedargate/bundle", true),
            Endpoint::Preflight
        );
        // Paths match whole.
        assert_eq!(c("GET", "/.cedargate/bundle/x", false), Endpoint::Api);
        assert_eq!(c("GET", "/.cedargate/jwks/", false), Endpoint::Api);
        assert_eq!(c("GET", "/access/v1/evaluation", false), Endpoint::Api);
        assert_eq!(c("POST", "/access/v1/other", false), Endpoint::Api);
    }

    #[test]
    fn endpoints_that_are_not_served_are_api_paths() {
        let none = Served::default();
        for (method, target) in [
            ("GET", "/.well-known/authzen-configuration"),
            ("GET", "/.cedargate/jwks"),
            ("GET", "/.cedargate/bundle"),
            ("POST", "/access/v1/evaluation"),
        ] {
            assert_eq!(
                classify(method, target, false, none),
                Endpoint::Api,
                "{method} {target}"
            );
        }
        // A preflight needs no configuration: CORS refuses origins it does not allow.
        assert_eq!(
            classify("OPTIONS", "/pets", true, none),
            Endpoint::Preflight
        );
    }

    #[test]
    fn only_preflights_and_documents_skip_the_token() {
        assert!(Endpoint::Metadata.is_public_document());
        assert!(Endpoint::Jwks.is_public_document());
        assert!(Endpoint::Preflight.is_public_document());
        assert!(!Endpoint::Bundle.is_public_document());
        assert!(!Endpoint::Authzen(authzen::Endpoint::Evaluation).is_public_document());
        assert!(!Endpoint::Api.is_public_document());
    }
}
