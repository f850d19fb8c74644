//! Absolute http(s) URLs, parsed strictly enough to decide where the edge and the app may
//! send requests and whom they trust, and the one rule both apply: **https, or http only to
//! a loopback host** (`127.0.0.0/8`, `localhost`, `[::1]`).
//!
//! The parser does not normalize anything. It refuses what other parsers would read
//! differently (userinfo, backslashes, whitespace, control characters, hosts that end in a
//! number but are not a canonical IPv4 address) instead of interpreting it, so the host this
//! module sees is the host a browser or workerd connects to. The scheme must be written in
//! lowercase: issuers and origins are compared as strings elsewhere, and `HTTPS://` would
//! never compare equal.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Why a text is not an acceptable http(s) URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The scheme is not `http://` or `https://` (in lowercase).
    #[error("the URL must start with https:// or http://")]
    Scheme,
    /// Whitespace, a control character or a backslash.
    #[error("the URL contains whitespace, a control character or a backslash")]
    Character,
    /// `user@host` or `user:password@host`.
    #[error("the URL must not contain a user name or password (@)")]
    Userinfo,
    /// `https://` or `https://:443`.
    #[error("the URL has no host")]
    EmptyHost,
    /// A host with characters a host name cannot have, or an invalid IP address.
    #[error("the URL's host is not a valid host name or IP address")]
    Host,
    /// A port that is empty, not a decimal number, zero, above 65535 or has leading zeros.
    #[error("the URL's port is not a number from 1 to 65535")]
    Port,
    /// http to a host that is not loopback.
    #[error("the URL must use https (http only to 127.0.0.1, localhost or [::1])")]
    Insecure,
}

/// The host of a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// A registered name as written (ASCII letters, digits, `-`, `.`, `_`).
    Name(&'a str),
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// A bracketed IPv6 address.
    Ipv6(Ipv6Addr),
}

impl Host<'_> {
    /// `127.0.0.0/8`, `localhost` (any case) or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Name(name) => name.eq_ignore_ascii_case("localhost"),
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        }
    }
}

/// An absolute http(s) URL, borrowed from the text it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    text: &'a str,
    scheme: Scheme,
    authority: &'a str,
    host: Host<'a>,
    port: Option<u16>,
    /// Everything after the authority: path, query and fragment.
    rest: &'a str,
}

impl<'a> HttpUrl<'a> {
    /// Parses `scheme://authority[/path][?query][#fragment]`.
    pub fn parse(text: &'a str) -> Result<Self, UrlError> {
        if text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(UrlError::Character);
        }
        let (scheme, after) = if let Some(after) = text.strip_prefix("https://") {
            (Scheme::Https, after)
        } else if let Some(after) = text.strip_prefix("http://") {
            (Scheme::Http, after)
        } else {
            return Err(UrlError::Scheme);
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        let (host_text, port_text) = split_port(authority)?;
        let host = parse_host(host_text)?;
        let port = port_text.map(parse_port).transpose()?;
        Ok(Self {
            text,
            scheme,
            authority,
            host,
            port,
            rest,
        })
    }

    /// Parses and applies the rule: https, or http only to a loopback host.
    pub fn parse_secure(text: &'a str) -> Result<Self, UrlError> {
        let url = Self::parse(text)?;
        if url.is_secure() {
            Ok(url)
        } else {
            Err(UrlError::Insecure)
        }
    }

    /// The whole URL as given.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host[:port]` as written.
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The port when one is written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path: empty or starting with `/`, up to `?` or `#`.
    pub fn path(&self) -> &'a str {
        let end = self.rest.find(['?', '#']).unwrap_or(self.rest.len());
        &self.rest[..end]
    }

    /// Whether a query or a fragment follows the path.
    pub fn has_query_or_fragment(&self) -> bool {
        self.rest.contains(['?', '#'])
    }

    /// Whether the URL is an origin: `scheme://host[:port]` with nothing after it.
    pub fn is_origin(&self) -> bool {
        self.rest.is_empty()
    }

    /// Whether the host is loopback.
    pub fn is_loopback(&self) -> bool {
        self.host.is_loopback()
    }

    /// The rule: https, or http only to a loopback host.
    pub fn is_secure(&self) -> bool {
        self.scheme == Scheme::Https || self.is_loopback()
    }
}

impl fmt::Display for HttpUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// `host[:port]` → host and the port's text. A bracketed IPv6 host keeps its brackets.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlError::Host)?;
        let (host, after) = authority.split_at(close + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(UrlError::Host),
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn parse_host(text: &str) -> Result<Host<'_>, UrlError> {
    if text.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(UrlError::Host)?;
        return inner.parse().map(Host::Ipv6).map_err(|_| UrlError::Host);
    }
    let name_chars = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !name_chars || text.starts_with('.') || text.contains("..") {
        return Err(UrlError::Host);
    }
    // WHATWG URL parsers read a host whose last label is a number (`127.1`, `0x7f.1`,
    // `0177.0.0.1`) as an IPv4 address. Only the canonical dotted quad is accepted, so the
    // address seen here is the one connected to.
    let last = text.rsplit('.').find(|l| !l.is_empty()).unwrap_or(text);
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"));
    if numeric {
        return text.parse().map(Host::Ipv4).map_err(|_| UrlError::Host);
    }
    Ok(Host::Name(text))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || text.starts_with('0') {
        return Err(UrlError::Port);
    }
    text.parse().map_err(|_| UrlError::Port)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn secure(text: &str) -> Result<HttpUrl<'_>, UrlError> {
        HttpUrl::parse_secure(text)
    }

    #[test]
    fn https_anywhere_and_http_to_loopback_only() {
        for ok in [
            "https://auth.pingone.com/env/as",
            "https://api.example.com",
            "https://api.example.com:8443/v1/?a=1#f",
            "http://127.0.0.1:9400/env/as",
            "http://127.0.0.1",
            "http://127.255.0.9/x",
            "http://localhost:8080/callback",
            "http://LOCALHOST/",
            "http://[::1]:8787",
            "http://[0:0:0:0:0:0:0:1]/",
            "https://[2001:db8::1]/",
            "https://10.0.0.1/",
        ] {
            assert!(secure(ok).is_ok(), "{ok}");
        }
        for insecure in [
            "http://idp.example.com/as",
            "http://localhost.evil.example/",
            "http://127.0.0.1.evil/",
            "http://127.0.0.1.evil.test/as",
            "http://evil.example#@localhost",
            "http://evil.example?@127.0.0.1",
            "http://10.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[2001:db8::1]/",
            "http://localhost./",
            "http://local_host/",
        ] {
            assert_eq!(secure(insecure), Err(UrlError::Insecure), "{insecure}");
        }
    }

    #[test]
    fn userinfo_is_refused_wherever_it_points() {
        for url in [
            "http://localhost:1@evil.example",
            "http://localhost@evil.example/",
            "http://127.0.0.1@evil.example/",
            "https://user:pass@api.example.com/",
            "https://@api.example.com/",
            "http://evil.example@localhost/",
        ] {
            assert_eq!(HttpUrl::parse(url), Err(UrlError::Userinfo), "{url}");
        }
    }

    #[test]
    fn scheme_must_be_lowercase_http_or_https() {
        for url in [
            "HTTPS://api.example.com/",
            "Http://localhost/",
            "ftp://x",
            "https:/api.example.com",
            "https:api.example.com",
            "//api.example.com",
            "api.example.com",
            "javascript://localhost/",
            "",
        ] {
            assert_eq!(HttpUrl::parse(url), Err(UrlError::Scheme), "{url}");
        }
    }

    #[test]
    fn hosts_and_ports_are_checked() {
        for (url, error) in [
            ("https://", UrlError::EmptyHost),
            ("https:///path", UrlError::EmptyHost),
            ("https://:443/", UrlError::EmptyHost),
            ("http://localhost:/", UrlError::Port),
            ("http://localhost:0/", UrlError::Port),
            ("http://localhost:65536/", UrlError::Port),
            ("http://localhost:08080/", UrlError::Port),
            ("http://localhost:80a/", UrlError::Port),
            ("http://localhost:+80/", UrlError::Port),
            ("http://localhost:1:2/", UrlError::Port),
            ("http://[::1]:/", UrlError::Port),
            ("http://[::1/", UrlError::Host),
            ("http://[::1]x/", UrlError::Host),
            ("http://[evil.example]/", UrlError::Host),
            ("http://[::1%25lo]/", UrlError::Host),
            ("http://127.1/", UrlError::Host),
            ("http://0177.0.0.1/", UrlError::Host),
            ("http://0x7f.0.0.1/", UrlError::Host),
            ("http://127.0.0.256/", UrlError::Host),
            ("http://2130706433/", UrlError::Host),
            ("http://evil.example.127/", UrlError::Host),
            ("http://ex%41mple.com/", UrlError::Host),
            ("https://exämple.com/", UrlError::Host),
            ("https://./", UrlError::Host),
            ("https://.example.com/", UrlError::Host),
            ("https://api..example.com/", UrlError::Host),
        ] {
            assert_eq!(HttpUrl::parse(url), Err(error), "{url}");
        }
        let url = HttpUrl::parse("http://[::1]:8787/x?y#z").unwrap();
        assert_eq!(url.host(), Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(url.port(), Some(8787));
        assert_eq!(url.authority(), "[::1]:8787");
        assert_eq!(url.path(), "/x");
        assert!(url.has_query_or_fragment());
        let url = HttpUrl::parse("https://api.example.com:65535").unwrap();
        assert_eq!(url.host(), Host::Name("api.example.com"));
        assert_eq!(url.port(), Some(65535));
        assert_eq!(url.scheme(), Scheme::Https);
        assert!(url.is_origin());
        assert_eq!(url.path(), "");
        assert_eq!(url.to_string(), "https://api.example.com:65535");
    }

    #[test]
    fn whitespace_control_characters_and_backslashes_are_refused() {
        for url in [
            "http://localhost\\@evil.example/",
            "http://evil.example\\.localhost/",
            "https://api.example.com/a\\b",
            "http://local host/",
            " https://api.example.com/",
            "https://api.example.com/\n",
            "https://api.example.com/\t",
            "http://localhost\u{0}.evil/",
            "https://api.example.com/\u{7f}",
            "https://api.example.com/\u{a0}",
        ] {
            assert_eq!(HttpUrl::parse(url), Err(UrlError::Character), "{url:?}");
        }
    }

    #[test]
    fn the_parts_are_where_they_belong() {
        let url = HttpUrl::parse("https://auth.example.com/env/as?x=1#frag").unwrap();
        assert_eq!(url.authority(), "auth.example.com");
        assert_eq!(url.path(), "/env/as");
        assert!(!url.is_origin());
        assert!(!url.is_loopback());
        let url = HttpUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(url.host(), Host::Ipv4(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(url.is_origin());
        assert!(url.is_secure());
        assert!(
            !HttpUrl::parse("http://127.0.0.1:8080/")
                .unwrap()
                .is_origin()
        );
        let url = HttpUrl::parse("https://x.example?q").unwrap();
        assert_eq!(url.path(), "");
        assert!(url.has_query_or_fragment());
        assert_eq!(Scheme::Http.as_str(), "http");
    }
}
