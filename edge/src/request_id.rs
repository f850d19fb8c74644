//! The `X-Request-ID` on the worker's own answers: the id it used for the request, the
//! caller's when it is acceptable, else the worker's own.
//!
//! The worker names every request with an id of its own (`X-Cedargate-Request-Id`, its log
//! line, a problem's `request_id`, the assertion's `jti`), which a caller cannot choose. A
//! caller's `X-Request-ID` goes to the origin as sent and comes back on every answer the
//! worker gives itself (AuthZEN 1.0 asks a decision point to echo it), when it is printable
//! ASCII of at most [`MAX_REQUEST_ID_CHARS`]; anything else is never echoed, and the answer
//! carries the worker's own id instead.

/// The request header a caller (an enforcement point, a client) names its request with.
pub const CALLER_REQUEST_ID_HEADER: &str = "x-request-id";
/// An echoed request id is at most this long.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// The caller's `X-Request-ID`, when it is printable ASCII of at most
/// [`MAX_REQUEST_ID_CHARS`]; anything else is not echoed.
pub fn caller_request_id(value: Option<&str>) -> Option<&str> {
    let value = value?;
    (!value.is_empty()
        && value.len() <= MAX_REQUEST_ID_CHARS
        && value.bytes().all(|b| (0x20..0x7f).contains(&b)))
    .then_some(value)
}

/// The `X-Request-ID` an answer of the worker carries: the caller's, when
/// [`caller_request_id`] accepts it, else the worker's own id `own`.
pub fn answered_request_id(caller: Option<&str>, own: &str) -> String {
    caller_request_id(caller).unwrap_or(own).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_echoed_only_when_printable_and_short() {
        assert_eq!(caller_request_id(Some("abc-1")), Some("abc-1"));
        assert_eq!(caller_request_id(None), None);
        assert_eq!(caller_request_id(Some("")), None);
        assert_eq!(caller_request_id(Some("a\r\nx-evil: 1")), None);
        assert_eq!(caller_request_id(Some("é")), None);
        assert_eq!(caller_request_id(Some(&"a".repeat(129))), None);
        assert!(caller_request_id(Some(&"a".repeat(128))).is_some());
    }

    #[test]
    fn an_answer_carries_the_callers_id_or_the_workers_own() {
        assert_eq!(answered_request_id(Some("pep-42"), "w-1"), "pep-42");
        assert_eq!(answered_request_id(None, "w-1"), "w-1");
        assert_eq!(answered_request_id(Some(""), "w-1"), "w-1");
        assert_eq!(answered_request_id(Some("a\tb"), "w-1"), "w-1");
        assert_eq!(answered_request_id(Some(&"a".repeat(129)), "w-1"), "w-1");
    }
}
