//! The bearer token of a request (RFC 6750 §2.1).

/// Why no token could be taken from `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization` header.
    #[error("no bearer token")]
    Missing,
    /// A header that is not one `Bearer <token>`.
    #[error("{0}")]
    Malformed(&'static str),
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
    let body = token.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return Err(BearerError::Malformed("bearer token is malformed"));
    }
    Ok(token)
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
