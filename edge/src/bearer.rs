//! The bearer token of a request (RFC 6750 §2.1), and the b64token rule a token taken from
//! a cookie ([`crate::token_cookie`]) meets too.

/// Why no token could be taken from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization` header.
    #[error("no bearer token")]
    Missing,
    /// A header that is not one `Bearer <token>`.
    #[error("{0}")]
    Malformed(&'static str),
    /// A `Cookie` header that is not RFC 6265 cookie pairs, the token cookie twice, or a
    /// token cookie whose value is not one b64token (`token_cookie` configured only).
    #[error("{0}")]
    MalformedCookie(&'static str),
    /// A token in `Authorization` and one in the token cookie: RFC 6750 §2 allows one
    /// method per request, and neither is preferred.
    #[error("a token in both authorization and the token cookie")]
    Ambiguous,
}

/// Takes the token from an `Authorization` value: the scheme `Bearer` in any case, one
/// space, then one b64token. Several `Authorization` headers reach the worker joined by
/// commas and are refused.
pub fn bearer_token(header: Option<&str>) -> Result<&str, BearerError> {
    let value = header.ok_or(BearerError::Missing)?;
    if value.contains(',') {
        return Err(BearerError::Malformed("several authorization headers"));
    }
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Malformed(
        "authorization is not a bearer token",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Malformed(
            "authorization is not a bearer token",
        ));
    }
    if !is_b64token(token) {
        return Err(BearerError::Malformed("bearer token is malformed"));
    }
    Ok(token)
}

/// Whether `token` is one RFC 6750 b64token: `A-Z a-z 0-9 - . _ ~ + /`, at least one, then
/// any number of `=`.
pub fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_exactly_one_bearer_token() {
        assert_eq!(bearer_token(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("BEARER abc==")), Ok("abc=="));
        assert_eq!(bearer_token(None), Err(BearerError::Missing));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer  abc",
            "Bearer abc def",
            "Basic YWxhZGRpbjpvcGVu",
            "Bearer a, Bearer b",
            "Bearer a\tb",
            "Bearer ==",
        ] {
            assert!(bearer_token(Some(bad)).is_err(), "{bad}");
        }
    }
}
