//! Tokens from a cookie (`token_cookie`): for a same-site app or a backend-for-frontend that
//! keeps its token in a cookie rather than in script. Which token a request carries
//! ([`request_token`]: `Authorization` or the named cookie, never both), the CSRF defence a
//! token from a cookie needs on an unsafe method ([`csrf_allows`]), and the `Cookie` header
//! the origin gets without the token cookie ([`forwarded_cookie`]).
//!
//! The `Cookie` header is read strictly (RFC 6265 §4.2.1): `name=value` pairs separated by
//! `;` and optional spaces, each name a token, each value cookie-octets (optionally in
//! double quotes). A header that is not that, or that names the token cookie twice, is
//! refused rather than guessed at: two cookies of one name are what a sibling subdomain
//! planting its own cookie looks like.

use crate::bearer::{BearerError, bearer_token, is_b64token};

/// Where a request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Authorization,
    /// The configured token cookie.
    Cookie,
}

/// The cookie pairs of a `Cookie` value, in order; `Err` when it is not RFC 6265's
/// `cookie-string` (spaces or tabs are accepted after each `;` and around the whole value).
pub fn cookie_pairs(header: &str) -> Result<Vec<(&str, &str)>, &'static str> {
    let ows = |c: char| c == ' ' || c == '\t';
    let header = header.trim_matches(ows);
    if header.is_empty() {
        return Err("cookie header is empty");
    }
    header
        .split(';')
        .map(|pair| {
            let pair = pair.trim_start_matches(ows);
            let (name, value) = pair
                .split_once('=')
                .ok_or("cookie header has a pair without =")?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err("cookie header has an invalid name");
            }
            let inner = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            if !inner.bytes().all(is_cookie_octet) {
                return Err("cookie header has an invalid value");
            }
            Ok((name, value))
        })
        .collect()
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6265 `cookie-octet`: printable ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// The value of the cookie `name` (compared exactly) in a `Cookie` value: `Ok(None)` when it
/// is not there; `Err` when the header is malformed or names it more than once.
pub fn named_cookie<'a>(header: &'a str, name: &str) -> Result<Option<&'a str>, BearerError> {
    let pairs = cookie_pairs(header).map_err(BearerError::MalformedCookie)?;
    let mut found = pairs
        .into_iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v);
    let first = found.next();
    if found.next().is_some() {
        return Err(BearerError::MalformedCookie(
            "token cookie sent more than once",
        ));
    }
    Ok(first)
}

/// The request's token and where it was found. Without `cookie_name` (no `token_cookie`)
/// only `Authorization` is read, as [`bearer_token`] says. With it, the token is taken from
/// `Authorization` or from that cookie; both at once is [`BearerError::Ambiguous`], and a
/// malformed `Cookie` header is refused even beside `Authorization` (whether it holds the
/// token cookie cannot be known). `Ok(None)`: no token at all.
pub fn request_token<'a>(
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
    cookie_name: Option<&str>,
) -> Result<Option<(&'a str, TokenSource)>, BearerError> {
    let from_cookie = match (cookie_name, cookie_header) {
        (Some(name), Some(header)) => named_cookie(header, name)?,
        _ => None,
    };
    match (authorization, from_cookie) {
        (Some(_), Some(_)) => Err(BearerError::Ambiguous),
        (Some(header), None) => {
            bearer_token(Some(header)).map(|token| Some((token, TokenSource::Authorization)))
        }
        (None, Some(token)) if is_b64token(token) => Ok(Some((token, TokenSource::Cookie))),
        (None, Some(_)) => Err(BearerError::MalformedCookie(
            "token cookie is not one b64token",
        )),
        (None, None) => Ok(None),
    }
}

/// Whether a request whose token came from a cookie passes the CSRF defence: a safe method
/// (`GET`, `HEAD`, `OPTIONS`, exactly as sent) always; any other only with an `Origin` that
/// is one of `allowed_origins` (exact), or with the configured custom header present
/// (`csrf_header_present`: a header a cross-site form or link cannot send, and a cross-site
/// script only after a preflight the worker refuses to origins it does not allow).
pub fn csrf_allows(
    method: &str,
    origin: Option<&str>,
    allowed_origins: &[String],
    csrf_header_present: bool,
) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
        || csrf_header_present
        || origin.is_some_and(|origin| allowed_origins.iter().any(|a| a == origin))
}

/// The `Cookie` value the origin gets: the client's pairs without the token cookie `name`,
/// in order, joined by `; `. `None` (no `Cookie` header at all) when nothing is left, or
/// when the value is malformed: a value that cannot be read cannot be known not to carry
/// the token.
pub fn forwarded_cookie(header: &str, name: &str) -> Option<String> {
    let kept: Vec<String> = cookie_pairs(header)
        .ok()?
        .into_iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "__Host-token";

    #[test]
    fn reads_cookie_pairs_strictly() {
        assert_eq!(
            cookie_pairs("a=1; b=\"two\";c=;\td=x.y-z"),
            Ok(vec![
                ("a", "1"),
                ("b", "\"two\""),
                ("c", ""),
                ("d", "x.y-z")
            ])
        );
        assert_eq!(cookie_pairs("  a=1  "), Ok(vec![("a", "1")]));
        for bad in [
            "",
            "   ",
            "a",
            "a=1;",
            "a=1; ; b=2",
            "=1",
            "a b=1",
            "a=1 2",
            "a=1, b=2",
            "a=\"1",
            "a=x\\y",
            "a=caf\u{e9}",
            "a=1\u{7f}",
        ] {
            assert!(cookie_pairs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_token_cookie_is_taken_once_or_refused() {
        assert_eq!(
            named_cookie("a=1; __Host-token=t.k.n", NAME),
            Ok(Some("t.k.n"))
        );
        assert_eq!(named_cookie("a=1", NAME), Ok(None));
        // Names are compared exactly.
        assert_eq!(named_cookie("__host-token=t", NAME), Ok(None));
        assert_eq!(
            named_cookie("__Host-token=a; __Host-token=b", NAME),
            Err(BearerError::MalformedCookie(
                "token cookie sent more than once"
            ))
        );
        assert!(matches!(
            named_cookie("__Host-token=a, b=c", NAME),
            Err(BearerError::MalformedCookie(_))
        ));
    }

    #[test]
    fn one_token_from_authorization_or_the_cookie_never_both() {
        let token = |a, c, n| request_token(a, c, n);
        // Without token_cookie, cookies are not looked at, malformed or not.
        assert_eq!(
            token(Some("Bearer abc"), Some("__Host-token=x; ,;"), None),
            Ok(Some(("abc", TokenSource::Authorization)))
        );
        assert_eq!(token(None, Some("__Host-token=x"), None), Ok(None));
        // With it.
        let name = Some(NAME);
        assert_eq!(
            token(None, Some("theme=dark; __Host-token=h.p.s"), name),
            Ok(Some(("h.p.s", TokenSource::Cookie)))
        );
        assert_eq!(
            token(Some("Bearer abc"), Some("theme=dark"), name),
            Ok(Some(("abc", TokenSource::Authorization)))
        );
        assert_eq!(
            token(Some("Bearer abc"), None, name),
            Ok(Some(("abc", TokenSource::Authorization)))
        );
        assert_eq!(token(None, Some("theme=dark"), name), Ok(None));
        assert_eq!(token(None, None, name), Ok(None));
        assert_eq!(
            token(Some("Bearer abc"), Some("__Host-token=h.p.s"), name),
            Err(BearerError::Ambiguous)
        );
        // A malformed header beside Authorization: it may hide the token cookie.
        assert!(matches!(
            token(Some("Bearer abc"), Some("theme"), name),
            Err(BearerError::MalformedCookie(_))
        ));
        for bad in [
            "__Host-token=",
            "__Host-token=\"h.p.s\"",
            "__Host-token=a=b",
        ] {
            assert!(
                matches!(
                    token(None, Some(bad), name),
                    Err(BearerError::MalformedCookie(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            token(Some("Basic x"), None, name),
            Err(BearerError::Malformed(_))
        ));
    }

    #[test]
    fn unsafe_methods_need_an_allowed_origin_or_the_custom_header() {
        let allowed = ["https://app.example".to_owned()];
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert!(csrf_allows(method, None, &allowed, false), "{method}");
            assert!(csrf_allows(
                method,
                Some("https://evil.example"),
                &allowed,
                false
            ));
        }
        for method in ["POST", "PUT", "PATCH", "DELETE", "get", "PURGE"] {
            assert!(!csrf_allows(method, None, &allowed, false), "{method}");
            assert!(!csrf_allows(
                method,
                Some("https://evil.example"),
                &allowed,
                false
            ));
            assert!(!csrf_allows(method, Some("null"), &allowed, false));
            assert!(!csrf_allows(
                method,
                Some("https://app.example/"),
                &allowed,
                false
            ));
            assert!(!csrf_allows(
                method,
                Some("https://app.example"),
                &[],
                false
            ));
            assert!(csrf_allows(
                method,
                Some("https://app.example"),
                &allowed,
                false
            ));
            assert!(csrf_allows(method, None, &allowed, true));
        }
    }

    #[test]
    fn the_origin_never_gets_the_token_cookie() {
        assert_eq!(
            forwarded_cookie("theme=dark; __Host-token=h.p.s; lang=\"en\"", NAME).as_deref(),
            Some("theme=dark; lang=\"en\"")
        );
        assert_eq!(forwarded_cookie("__Host-token=h.p.s", NAME), None);
        assert_eq!(
            forwarded_cookie("__Host-token=a;__Host-token=b", NAME),
            None
        );
        assert_eq!(
            forwarded_cookie("theme=dark", NAME).as_deref(),
            Some("theme=dark")
        );
        // Unreadable: dropped whole, never passed on as it came.
        assert_eq!(
            forwarded_cookie("theme=dark, __Host-token=h.p.s", NAME),
            None
        );
    }
}
