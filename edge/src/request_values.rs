//! The request values a decision may see (`cedargate::context`), read from the request as
//! the bundle needs them: nothing is read that no action declares.

use cedargate::{ContextNeeds, RequestValues, UnixTime};

/// Where the client's address comes from: Cloudflare's front sets it on every request and
/// replaces any value the client sent. Elsewhere (bare workerd, a service binding) whoever
/// calls the worker sets it.
pub const CLIENT_IP_HEADER: &str = "cf-connecting-ip";

/// The values for one request. `header` reads a request header by lowercase name;
/// `country` reads `request.cf.country` (absent where the platform gives none, as in local
/// workerd); `through_front` tells whether the request came through Cloudflare's front
/// (`request.cf` with its `colo`): only then is [`CLIENT_IP_HEADER`] the client's address,
/// otherwise the address is absent and a policy that needs it denies.
pub fn request_values(
    needs: &ContextNeeds,
    now: UnixTime,
    header: impl Fn(&str) -> Option<String>,
    country: impl FnOnce() -> Option<String>,
    through_front: impl FnOnce() -> bool,
) -> RequestValues {
    let mut values = RequestValues::at(now);
    if needs.ip && through_front() {
        values.ip = header(CLIENT_IP_HEADER);
    }
    if needs.country {
        values.country = country();
    }
    for name in &needs.headers {
        if let Some(value) = header(name) {
            values.headers.insert(name.clone(), value);
        }
    }
    values
}

/// The request headers a bundle's decisions read (lowercase names): those its actions
/// declare, and [`CLIENT_IP_HEADER`] when some action reads the client's address. The same
/// for every request a bundle decides, so computed once per bundle.
pub fn decided_on(needs: &ContextNeeds) -> Vec<String> {
    needs
        .headers
        .iter()
        .cloned()
        .chain(needs.ip.then(|| CLIENT_IP_HEADER.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_read_the_declared_headers_and_the_address_header() {
        let mut needs = ContextNeeds::default();
        assert!(decided_on(&needs).is_empty());
        needs.headers = vec!["x-tenant".into()];
        assert_eq!(decided_on(&needs), ["x-tenant"]);
        needs.ip = true;
        assert_eq!(decided_on(&needs), ["x-tenant", CLIENT_IP_HEADER]);
    }

    fn header(name: &str) -> Option<String> {
        match name {
            "cf-connecting-ip" => Some("203.0.113.9".into()),
            "x-tenant" => Some("blue".into()),
            "x-other" => Some("unused".into()),
            _ => None,
        }
    }

    #[test]
    fn only_what_the_bundle_declares_is_read() {
        let none = request_values(
            &ContextNeeds::default(),
            UnixTime(5),
            header,
            || panic!("country is not needed"),
            || panic!("the address is not needed"),
        );
        assert_eq!(none, RequestValues::at(UnixTime(5)));

        let needs = ContextNeeds {
            time: true,
            ip: true,
            country: true,
            headers: vec!["x-tenant".into(), "x-missing".into()],
            token: Vec::new(),
        };
        let values = request_values(&needs, UnixTime(7), header, || Some("CH".into()), || true);
        assert_eq!(values.time, UnixTime(7));
        assert_eq!(values.ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(values.country.as_deref(), Some("CH"));
        assert_eq!(
            values.headers.into_iter().collect::<Vec<_>>(),
            [("x-tenant".to_owned(), "blue".to_owned())]
        );
    }

    #[test]
    fn the_address_header_counts_only_through_the_front() {
        let needs = ContextNeeds {
            ip: true,
            ..ContextNeeds::default()
        };
        let values = request_values(&needs, UnixTime(7), header, || None, || false);
        assert_eq!(values.ip, None);
        let values = request_values(&needs, UnixTime(7), header, || None, || true);
        assert_eq!(values.ip.as_deref(), Some("203.0.113.9"));
    }
}
