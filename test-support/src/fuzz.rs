//! The properties the fuzz targets check, one function per target.
//!
//! Called by `fuzz/fuzz_targets/*.rs` and by `shared/tests/fuzz_replay.rs`, so every saved
//! input (seed or crash found by `cargo xtask fuzz`) is replayed by the normal tests with
//! exactly the assertions the fuzzer used. A property violation panics.

use std::sync::OnceLock;

/// Size limit the token parser is fuzzed with (the default).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
const ISSUER: &str = "https://auth.pingone.test/env/as";

fn petstore() -> &'static cedargate::Bundle {
    static BUNDLE: OnceLock<cedargate::Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| cedargate::examples::petstore().expect("the example bundle loads"))
}

fn trust() -> &'static cedargate::Trust {
    static TRUST: OnceLock<cedargate::Trust> = OnceLock::new();
    TRUST.get_or_init(|| {
        let config = serde_json::from_value(serde_json::json!({
            "issuers": [{ "issuer": ISSUER, "token": "access", "audiences": ["api"] }]
        }))
        .expect("a valid configuration");
        cedargate::Trust::bind(&config, petstore()).expect("binds")
    })
}

/// Any text is refused or parsed, never a panic; what parses is within the size limit,
/// names a supported algorithm and has three segments.
pub fn token_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jwt) = cedargate::UntrustedJwt::parse(text, MAX_TOKEN_BYTES) {
        assert!(text.len() <= MAX_TOKEN_BYTES, "an oversized token parsed");
        assert_eq!(
            text.split('.').count(),
            3,
            "a token without three segments parsed"
        );
        assert!(
            cedargate::Algorithm::from_name(jwt.algorithm().name()).is_some(),
            "a token with an unsupported algorithm parsed"
        );
        let _ = jwt.unverified_issuer();
    }
}

/// Any document is refused or parsed, never a panic; a parsed set has at least one key and
/// every key accepts at least one algorithm and never `none` or HMAC.
pub fn jwks_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = cedargate::KeySet::from_json(text) {
        assert!(!set.keys().is_empty(), "an empty key set parsed");
        for key in set.keys() {
            assert!(
                cedargate::Algorithm::ALL.iter().any(|a| key.accepts(*a)),
                "a key that accepts no algorithm was kept"
            );
        }
        for name in ["none", "HS256", "HS384", "HS512"] {
            assert!(
                cedargate::Algorithm::from_name(name).is_none(),
                "{name} is supported"
            );
        }
    }
}

/// "METHOD target" (or a bare target, as GET) through the PetStore route table: refused,
/// unmatched or matched, never a panic. A match's canonical path has no dot segments nor
/// empty segments, and the forwarded path and query resolve to the same action and
/// parameters again: what is forwarded is what was authorized.
pub fn path_matcher(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (method, target) = text.split_once(' ').unwrap_or(("GET", text));
    if let Ok(route) = petstore().resolve(method, target) {
        assert!(
            route.path.starts_with('/'),
            "canonical path {:?}",
            route.path
        );
        for segment in route.path.split('/').skip(1) {
            assert!(
                segment != "." && segment != ".." && (segment.is_empty() == (route.path == "/")),
                "canonical path {:?} has a dot or empty segment",
                route.path
            );
        }
        // What is forwarded (path and rebuilt query) means the same again, and carries no
        // reserved character but the delimiters themselves.
        let forwarded = match &route.query {
            Some(q) => format!("{}?{q}", route.path),
            None => route.path.clone(),
        };
        assert!(
            forwarded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%/?&=".contains(&b)),
            "forwarded target {forwarded:?} has a reserved character"
        );
        let again = petstore()
            .resolve(method, &forwarded)
            .expect("a canonical path resolves");
        assert_eq!(again.action, route.action);
        assert_eq!(again.path, route.path);
        assert_eq!(again.path_parameters, route.path_parameters);
        assert_eq!(again.query, route.query);
        assert_eq!(again.query_parameters, route.query_parameters);
    }
}

/// Any JSON object as access token claims maps to a principal or is refused, never a
/// panic. A principal's subject is the `sub` claim and its groups are exactly the group
/// claim's strings, deduplicated.
pub fn claim_mapper(data: &[u8]) {
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(data) else {
        return;
    };
    if let Ok(principal) =
        trust().insecure_principal_from_claims(ISSUER, cedargate::TokenKind::Access, &claims)
    {
        assert_eq!(Some(principal.subject()), claims["sub"].as_str());
        let mut expected: Vec<&str> = match claims.get("group") {
            None => Vec::new(),
            Some(serde_json::Value::String(s)) => vec![s.as_str()],
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().expect("a mapped group claim holds only strings"))
                .collect(),
            Some(other) => panic!("a group claim of shape {other} was accepted"),
        };
        let mut seen = std::collections::HashSet::new();
        expected.retain(|g| seen.insert(*g));
        let groups: Vec<&str> = principal.groups().iter().map(String::as_str).collect();
        assert_eq!(groups, expected);
    }
}
