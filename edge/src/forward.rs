//! What crosses from the client to the origin: which request headers are dropped and which
//! identity headers are added.

/// Whether a client request header is passed to the origin. Dropped: hop-by-hop headers,
/// `host`, every `x-cedargate-*` header (the origin trusts those to come from us), method
/// overrides (the origin must act on the method that was authorized), and `authorization`
/// unless configured to pass it.
pub fn forwards_request_header(name: &str, forward_authorization: bool) -> bool {
    let name = name.to_ascii_lowercase();
    if name.starts_with("x-cedargate-") {
        return false;
    }
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "x-http-method-override"
            | "x-http-method"
            | "x-method-override"
            | "x-original-method"
            | "x-original-url"
            | "x-rewrite-url"
    ) && (forward_authorization || name != "authorization")
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
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@|/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `X-Cedargate-*` headers describing the decision to the origin.
pub fn identity_headers(
    subject: &str,
    principal: &str,
    groups: &[String],
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
    vec![
        ("x-cedargate-subject", header_safe(subject)),
        ("x-cedargate-principal", header_safe(principal)),
        ("x-cedargate-groups", list(groups)),
        ("x-cedargate-action", header_safe(action)),
        ("x-cedargate-policies", list(policies)),
        ("x-cedargate-request-id", header_safe(request_id)),
    ]
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

    #[test]
    fn identity_headers_are_ascii_and_unambiguous() {
        let headers = identity_headers(
            "ali,ce é",
            "PetStore::User::\"alice\"",
            &["AVP_Admin".into(), "a,b".into()],
            "get /pets/{petId}",
            &["avp-admin-all".into()],
            "r-1",
        );
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
