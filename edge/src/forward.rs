//! What crosses from the client to the origin: which request headers are dropped and which
//! identity headers are added.

/// Whether a client request header is passed to the origin. Dropped: the headers the edge
/// never forwards ([`cedargate::context::never_forwarded`], the list the context allow-list
/// is checked against: hop-by-hop headers, `host`, every `x-cedargate-*` header (the origin
/// trusts those to come from us), method overrides (the origin must act on the method that
/// was authorized), client-supplied forwarding headers (`Forwarded`, `X-Forwarded-*`,
/// `X-Real-IP`, ...: a client must not choose the address or scheme the origin believes)),
/// and `authorization` unless configured to pass it. Headers named in `Connection` are
/// dropped by [`request_headers`].
pub fn forwards_request_header(name: &str, forward_authorization: bool) -> bool {
    !cedargate::context::never_forwarded(name)
        && (forward_authorization || !name.eq_ignore_ascii_case("authorization"))
}

/// The header names a `Connection` value lists (RFC 9110 §7.6.1), lowercase.
fn connection_options<'a>(headers: impl Iterator<Item = &'a (String, String)>) -> Vec<String> {
    headers
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The client's headers that go to the origin: [`forwards_request_header`], less every
/// header the client's `Connection` header names (hop-by-hop by declaration), except those
/// in `decided_on`: the headers the decision read (lowercase names) reach the origin as the
/// policies saw them, so a client cannot have the edge decide on a header the origin then
/// never receives. With a token cookie (`token_cookie`, its name), `Cookie` goes without
/// that cookie ([`crate::token_cookie::forwarded_cookie`]: the other cookies kept, the header
/// left out when none is left or when it cannot be read).
pub fn request_headers<S: AsRef<str>>(
    incoming: &[(String, String)],
    forward_authorization: bool,
    decided_on: &[S],
    token_cookie: Option<&str>,
) -> Vec<(String, String)> {
    let named = connection_options(incoming.iter());
    incoming
        .iter()
        .filter(|(k, _)| {
            forwards_request_header(k, forward_authorization)
                && (!named.iter().any(|n| n.eq_ignore_ascii_case(k))
                    || decided_on
                        .iter()
                        .any(|d| d.as_ref().eq_ignore_ascii_case(k)))
        })
        .filter_map(|(k, v)| match token_cookie {
            Some(name) if k.eq_ignore_ascii_case("cookie") => {
                crate::token_cookie::forwarded_cookie(v, name).map(|v| (k.clone(), v))
            }
            _ => Some((k.clone(), v.clone())),
        })
        .collect()
}

/// The origin's headers that go back to the client: [`forwards_response_header`], less every
/// header the origin's `Connection` header names.
pub fn response_headers(incoming: &[(String, String)]) -> Vec<(String, String)> {
    let named = connection_options(incoming.iter());
    incoming
        .iter()
        .filter(|(k, _)| {
            forwards_response_header(k) && !named.iter().any(|n| n.eq_ignore_ascii_case(k))
        })
        .cloned()
        .collect()
}

/// `Vary` with `add`'s field names appended to the origin's, each once (case-insensitive);
/// `*` stays `*`.
pub fn merge_vary(existing: Option<&str>, add: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for name in existing
        .into_iter()
        .chain(std::iter::once(add))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if name == "*" {
            return "*".into();
        }
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    names.join(", ")
}

/// Adds `name` to the `Vary` of `headers` (the one `vary` entry, created when there is none),
/// each name once.
pub fn add_vary(headers: &mut Vec<(&'static str, String)>, name: &str) {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("vary"))
    {
        Some((_, value)) => *value = merge_vary(Some(value), name),
        None => headers.push(("vary", name.to_owned())),
    }
}

/// Whether the body of an allowed request goes to the origin (`Ok(true)`), is left out
/// (`Ok(false)`), or the request is refused (`Err`, with the reason for a 400).
///
/// `fetch` cannot send a body with GET or HEAD. Some clients announce an empty one
/// (`Content-Length: 0`); that request is forwarded without it. A GET or HEAD that carries
/// content is refused rather than forwarded with its content silently cut off.
pub fn forwards_body(
    method: &str,
    has_body: bool,
    content_length: Option<&str>,
) -> Result<bool, &'static str> {
    if !has_body {
        return Ok(false);
    }
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return match content_length.map(str::trim) {
            Some("0") => Ok(false),
            _ => Err("a GET or HEAD request cannot carry a body"),
        };
    }
    Ok(true)
}

/// Whether an origin response header is passed back to the client.
pub fn forwards_response_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "trailer"
            | "content-length"
    ) && !name.starts_with("access-control-")
}

/// Percent-encodes everything outside `A-Z a-z 0-9 - . _ ~ : @ | /` so a header value is
/// plain ASCII and a comma never appears inside one item.
pub fn header_safe(value: &str) -> String {
    cedargate::percent::encode_keeping(value, b":@|/")
}

/// Who the decision was made for, as the origin is told.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// A request without a token on a public route: nothing below is known, and only
    /// `X-Cedargate-Anonymous` says who called.
    pub anonymous: bool,
    pub issuer: &'a str,
    /// The principal id claim's value.
    pub subject: &'a str,
    /// The principal's entity id.
    pub principal: &'a str,
    /// The client the token was issued to, if it names one.
    pub client: Option<&'a str>,
    pub groups: &'a [String],
}

impl<'a> Identity<'a> {
    /// A mapped principal's identity.
    pub fn of(principal: &'a cedargate::Principal) -> Self {
        Self {
            anonymous: false,
            issuer: principal.issuer(),
            subject: principal.subject(),
            principal: principal.uid().id().unescaped(),
            client: principal.client(),
            groups: principal.groups(),
        }
    }

    /// The caller of a public route that sent no token.
    pub const fn anonymous() -> Self {
        Self {
            anonymous: true,
            issuer: "",
            subject: "",
            principal: "",
            client: None,
            groups: &[],
        }
    }
}

/// `X-Cedargate-*` headers describing the decision to the origin. `X-Cedargate-Client` is
/// sent only for a token that names its client. A request without a token (a public route)
/// gets `X-Cedargate-Anonymous: true` and no issuer, subject, principal or groups, so an
/// origin cannot mistake it for a user, whatever that user's id.
pub fn identity_headers(
    who: &Identity<'_>,
    action: &str,
    policies: &[String],
    request_id: &str,
) -> Vec<(&'static str, String)> {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| header_safe(i))
            .collect::<Vec<_>>()
            .join(",")
    };
    if who.anonymous {
        return vec![
            ("x-cedargate-anonymous", "true".to_owned()),
            ("x-cedargate-action", header_safe(action)),
            ("x-cedargate-policies", list(policies)),
            (crate::REQUEST_ID_HEADER, header_safe(request_id)),
        ];
    }
    let mut headers = vec![
        ("x-cedargate-issuer", header_safe(who.issuer)),
        ("x-cedargate-subject", header_safe(who.subject)),
        ("x-cedargate-principal", header_safe(who.principal)),
        ("x-cedargate-groups", list(who.groups)),
        ("x-cedargate-action", header_safe(action)),
        ("x-cedargate-policies", list(policies)),
        (crate::REQUEST_ID_HEADER, header_safe(request_id)),
    ];
    if let Some(client) = who.client {
        headers.push(("x-cedargate-client", header_safe(client)));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_of_get_and_head_are_dropped_when_empty_and_refused_otherwise() {
        assert_eq!(forwards_body("POST", true, Some("12")), Ok(true));
        assert_eq!(forwards_body("POST", true, None), Ok(true));
        assert_eq!(forwards_body("PUT", true, Some("0")), Ok(true));
        assert_eq!(forwards_body("GET", false, None), Ok(false));
        assert_eq!(forwards_body("GET", true, Some("0")), Ok(false));
        assert_eq!(forwards_body("HEAD", true, Some(" 0 ")), Ok(false));
        assert!(forwards_body("GET", true, Some("5")).is_err());
        assert!(forwards_body("get", true, None).is_err());
        assert!(forwards_body("HEAD", true, Some("x")).is_err());
    }

    #[test]
    fn an_anonymous_caller_is_never_described_as_a_user() {
        let headers = identity_headers(
            &Identity::anonymous(),
            "get /health",
            &["public-get-health".to_owned()],
            "r-1",
        );
        let names: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "x-cedargate-anonymous",
                "x-cedargate-action",
                "x-cedargate-policies",
                crate::REQUEST_ID_HEADER
            ]
        );
        assert_eq!(headers[0].1, "true");
        // A client cannot send its own.
        assert!(!forwards_request_header("X-Cedargate-Anonymous", true));
    }

    #[test]
    fn spoofable_and_hop_by_hop_headers_are_dropped() {
        for dropped in [
            "X-Cedargate-Subject",
            "x-cedargate-groups",
            "X-HTTP-Method-Override",
            "X-Method-Override",
            "Connection",
            "Transfer-Encoding",
            "Host",
        ] {
            assert!(!forwards_request_header(dropped, true), "{dropped}");
        }
        for kept in ["Content-Type", "Accept", "Authorization", "X-Request-Id"] {
            assert!(forwards_request_header(kept, true), "{kept}");
        }
        assert!(!forwards_request_header("authorization", false));
        assert!(!forwards_response_header("Access-Control-Allow-Origin"));
        assert!(forwards_response_header("Content-Type"));
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn client_forwarding_headers_and_connection_options_are_dropped() {
        let incoming = pairs(&[
            ("Connection", "keep-alive, X-Secret-Hop , x-admin"),
            ("X-Secret-Hop", "1"),
            ("X-Admin", "true"),
            ("Forwarded", "for=10.0.0.1;proto=https"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-Host", "admin.internal"),
            ("X-Forwarded-Proto", "https"),
            ("X-Real-IP", "10.0.0.1"),
            ("True-Client-IP", "10.0.0.1"),
            ("X-Host", "admin.internal"),
            ("X-Original-Host", "admin.internal"),
            ("Accept", "application/json"),
            ("X-Request-Id", "abc"),
        ]);
        let out = request_headers::<&str>(&incoming, false, &[], None);
        assert_eq!(
            out,
            pairs(&[("Accept", "application/json"), ("X-Request-Id", "abc")])
        );
        let answer = pairs(&[
            ("connection", "x-internal"),
            ("X-Internal", "secret"),
            ("Content-Type", "text/plain"),
        ]);
        assert_eq!(
            response_headers(&answer),
            pairs(&[("Content-Type", "text/plain")])
        );
    }

    #[test]
    fn a_header_the_decision_read_reaches_the_origin_whatever_connection_names() {
        let incoming = pairs(&[
            ("Connection", "X-Tenant, x-hop"),
            ("X-Tenant", "blue"),
            ("X-Hop", "1"),
        ]);
        assert_eq!(
            request_headers(&incoming, false, &["x-tenant"], None),
            pairs(&[("X-Tenant", "blue")])
        );
        // Still never the headers that are dropped whatever the decision read.
        let incoming = pairs(&[
            ("Connection", "x-cedargate-subject"),
            ("X-Cedargate-Subject", "a"),
        ]);
        assert!(request_headers(&incoming, false, &["x-cedargate-subject"], None).is_empty());
    }

    #[test]
    fn the_token_cookie_never_reaches_the_origin_and_other_cookies_do() {
        let incoming = pairs(&[
            ("Cookie", "theme=dark; at=h.p.s; lang=en"),
            ("Accept", "*/*"),
        ]);
        assert_eq!(
            request_headers::<&str>(&incoming, false, &[], Some("at")),
            pairs(&[("Cookie", "theme=dark; lang=en"), ("Accept", "*/*")])
        );
        // Only the token cookie: no Cookie header at all; an unreadable one is dropped whole.
        for cookie in ["at=h.p.s", "theme=dark, at=h.p.s"] {
            let incoming = pairs(&[("cookie", cookie), ("Accept", "*/*")]);
            assert_eq!(
                request_headers::<&str>(&incoming, false, &[], Some("at")),
                pairs(&[("Accept", "*/*")]),
                "{cookie}"
            );
        }
        // Without token_cookie, cookies go as they came.
        let incoming = pairs(&[("Cookie", "theme=dark; at=h.p.s")]);
        assert_eq!(
            request_headers::<&str>(&incoming, false, &[], None),
            incoming
        );
    }

    #[test]
    fn a_name_is_added_to_the_one_vary_header() {
        let mut headers = vec![("x-a", "1".to_owned())];
        add_vary(&mut headers, "Cookie");
        assert_eq!(headers, [("x-a", "1".into()), ("vary", "Cookie".into())]);
        let mut headers = vec![("vary", "Origin".to_owned()), ("x-a", "1".to_owned())];
        add_vary(&mut headers, "Cookie");
        add_vary(&mut headers, "cookie");
        assert_eq!(
            headers,
            [("vary", "Origin, Cookie".into()), ("x-a", "1".into())]
        );
    }

    #[test]
    fn vary_is_appended_to_not_replaced() {
        assert_eq!(merge_vary(None, "Origin"), "Origin");
        assert_eq!(
            merge_vary(Some("Accept-Encoding"), "Origin"),
            "Accept-Encoding, Origin"
        );
        assert_eq!(
            merge_vary(Some("origin, Accept"), "Origin"),
            "origin, Accept"
        );
        assert_eq!(merge_vary(Some("*"), "Origin"), "*");
        assert_eq!(merge_vary(Some(" , Accept ,"), "Origin"), "Accept, Origin");
    }

    #[test]
    fn identity_headers_are_ascii_and_unambiguous() {
        let groups = ["AVP_Admin".to_owned(), "a,b".to_owned()];
        let who = Identity {
            anonymous: false,
            issuer: "https://auth.pingone.com/env/as",
            subject: "ali,ce é",
            principal: "PetStore::User::\"alice\"",
            client: None,
            groups: &groups,
        };
        let headers = identity_headers(&who, "get /pets/{petId}", &["avp-admin-all".into()], "r-1");
        assert_eq!(headers.len(), 7, "no client header without a client");
        let with_client = identity_headers(
            &Identity {
                client: Some("inventory svc"),
                ..who
            },
            "get /pets",
            &[],
            "r-2",
        );
        assert_eq!(
            with_client.last(),
            Some(&("x-cedargate-client", "inventory%20svc".into()))
        );
        assert_eq!(
            headers[0],
            (
                "x-cedargate-issuer",
                "https://auth.pingone.com/env/as".into()
            )
        );
        let headers = &headers[1..];
        assert_eq!(
            headers[0],
            ("x-cedargate-subject", "ali%2Cce%20%C3%A9".into())
        );
        assert_eq!(
            headers[1],
            (
                "x-cedargate-principal",
                "PetStore::User::%22alice%22".into()
            )
        );
        assert_eq!(headers[2], ("x-cedargate-groups", "AVP_Admin,a%2Cb".into()));
        assert_eq!(
            headers[3],
            ("x-cedargate-action", "get%20/pets/%7BpetId%7D".into())
        );
        assert_eq!(headers[4], ("x-cedargate-policies", "avp-admin-all".into()));
    }
}
