//! The companion token of a request (`trust.issuers[].companion`, issue 35): the second
//! token of a pair, in its own header ([`cedargate::Trust::companion_headers`]), and the
//! token cache's key for a token and its companions ([`credentials_key`]), which must tell a
//! pair from its token alone and from the same token with another companion.
//!
//! The header's value is the compact token alone. Which headers an entry takes, what is
//! refused and why is the shared core's (`Gate::authenticate_with`); the worker only reads
//! the headers the trust names, never logs them, and never forwards them (their names start
//! with `x-cedargate-`, which no request header reaching the origin does).

use crate::token_cache::TokenKey;

/// The companion headers present on a request, of those the trust reads (`names`,
/// lowercase), each with its value as `read` returns it.
pub fn companion_headers(
    names: &[String],
    read: impl Fn(&str) -> Option<String>,
) -> Vec<(&str, String)> {
    names
        .iter()
        .filter_map(|name| read(name).map(|value| (name.as_str(), value)))
        .collect()
}

/// The cache key of a token with the companion headers that came with it: the token's own
/// key ([`crate::token_cache::token_key`]) when none did, so a token alone is cached as
/// before; otherwise the SHA-256 of the token and each header's name and value, each
/// length-prefixed (no two different lists give the same input), so a verified pair is
/// never found for its token alone or with another companion.
pub fn credentials_key(token: &str, companions: &[(&str, String)]) -> TokenKey {
    use sha2::{Digest, Sha256};
    if companions.is_empty() {
        return crate::token_cache::token_key(token);
    }
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    part(token.as_bytes());
    for (name, value) in companions {
        part(name.as_bytes());
        part(value.as_bytes());
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token_cache::token_key;

    #[test]
    fn only_the_named_headers_are_read() {
        let names = vec!["x-cedargate-id-token".to_owned()];
        let read = |name: &str| (name == "x-cedargate-id-token").then(|| "h.p.s".to_owned());
        assert_eq!(
            companion_headers(&names, read),
            vec![("x-cedargate-id-token", "h.p.s".to_owned())]
        );
        assert!(companion_headers(&names, |_| None).is_empty());
        assert!(companion_headers(&[], read).is_empty());
    }

    #[test]
    fn a_pair_is_keyed_apart_from_its_token_and_from_other_pairs() {
        let alone = credentials_key("a.b.c", &[]);
        assert_eq!(alone, token_key("a.b.c"));
        let pair = credentials_key("a.b.c", &[("x-cedargate-id-token", "d.e.f".into())]);
        assert_ne!(pair, alone);
        let other = credentials_key("a.b.c", &[("x-cedargate-id-token", "d.e.g".into())]);
        assert_ne!(pair, other);
        let other_header = credentials_key("a.b.c", &[("x-cedargate-id-tokeN", "d.e.f".into())]);
        assert_ne!(pair, other_header);
        // Where one part ends and the next begins is in the input.
        let shifted = credentials_key("a.b.", &[("cx-cedargate-id-token", "d.e.f".into())]);
        assert_ne!(pair, shifted);
    }
}
