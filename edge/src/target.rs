//! The request target: path and query as the client sent them.

use crate::BUNDLE_PATH;

/// Path and query of a request URL (without scheme, host and fragment); `/` if it has no path.
pub fn target_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    target.split('#').next().unwrap_or("/").to_owned()
}

/// The path of a target, without its query.
pub fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or_default()
}

/// Whether a target is addressed to the bundle endpoint (whatever its query).
pub fn is_bundle_endpoint(target: &str) -> bool {
    path_of(target) == BUNDLE_PATH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_path_and_query_as_sent() {
        assert_eq!(
            target_of("https://api.example/pets/1?x=%2F#frag"),
            "/pets/1?x=%2F"
        );
        assert_eq!(target_of("https://api.example/a//b/../c"), "/a//b/../c");
        assert_eq!(target_of("https://api.example"), "/");
        assert_eq!(target_of("https://api.example:8443/"), "/");
        assert_eq!(path_of("/pets?limit=1?x"), "/pets");
        assert!(is_bundle_endpoint("/.cedargate/bundle?x=1"));
        assert!(!is_bundle_endpoint("/.cedargate/bundle/x"));
    }
}
