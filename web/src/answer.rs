//! What the edge answered to a try, read for people: the status in words, the edge's refusal
//! (an RFC 9457 problem document: title, detail, reason, the deciding policies, a step-up)
//! and any other body collapsed and capped. No I/O here.

use cedargate::StepUp;
use cedargate::wire::{PROBLEM_MEDIA_TYPE, ProblemDocument};

/// At most this many characters of a body are kept for display.
pub const MAX_BODY_CHARS: usize = 2_000;

/// The response header in which an origin (the demo's PetStore) echoes what it learned about
/// the caller: a JSON object, `{"headers": {name: value}, "assertion": {claim: value}}`. The
/// edge exposes it to the app when `cors.expose_headers` lists it.
pub const IDENTITY_ECHO_HEADER: &str = "x-identity-echo";
/// At most this many lines of an identity echo are shown.
pub const MAX_IDENTITY_LINES: usize = 40;

/// One answer of the edge (or of the origin behind it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The media type, without parameters, lowercase.
    pub media_type: Option<String>,
    /// The edge's refusal, when the body is a problem document.
    pub problem: Option<ProblemDocument>,
    /// The body as text, at most [`MAX_BODY_CHARS`] characters.
    pub body: String,
    /// The body's whole length in bytes.
    pub body_bytes: usize,
    /// Whether `body` was cut.
    pub truncated: bool,
    /// What the origin says it received about the caller ([`IDENTITY_ECHO_HEADER`]), as
    /// lines of name and value; empty when the origin echoes nothing.
    pub identity: Vec<(String, String)>,
}

impl Answer {
    /// Reads a response: a body sent as `application/problem+json` is the edge's refusal;
    /// anything else is kept as capped text.
    pub fn read(status: u16, content_type: Option<&str>, text: &str) -> Self {
        let media_type = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty());
        let problem = (media_type.as_deref() == Some(PROBLEM_MEDIA_TYPE))
            .then(|| serde_json::from_str::<ProblemDocument>(text).ok())
            .flatten();
        let truncated = text.chars().nth(MAX_BODY_CHARS).is_some();
        Self {
            status,
            media_type,
            problem,
            body: text.chars().take(MAX_BODY_CHARS).collect(),
            body_bytes: text.len(),
            truncated,
            identity: Vec::new(),
        }
    }

    /// Adds what the origin echoed about the caller: each identity header it received and
    /// each claim of the edge's assertion it verified (`assertion.sub`), in order, at most
    /// [`MAX_IDENTITY_LINES`]. An echo that is not a JSON object is shown as one line that
    /// says so.
    pub fn with_identity_echo(mut self, echo: Option<&str>) -> Self {
        let Some(echo) = echo else { return self };
        let Ok(serde_json::Value::Object(parts)) = serde_json::from_str(echo) else {
            self.identity = vec![(IDENTITY_ECHO_HEADER.into(), "not a JSON object".into())];
            return self;
        };
        let mut lines = Vec::new();
        if let Some(serde_json::Value::Object(headers)) = parts.get("headers") {
            for (name, value) in headers {
                lines.push((name.clone(), text_of(value)));
            }
        }
        if let Some(serde_json::Value::Object(claims)) = parts.get("assertion") {
            for (name, value) in claims {
                lines.push((format!("assertion.{name}"), text_of(value)));
            }
        }
        lines.truncate(MAX_IDENTITY_LINES);
        self.identity = lines;
        self
    }

    /// `403 Forbidden`: the status and the problem's title, or the status's own words.
    pub fn summary(&self) -> String {
        let words = self
            .problem
            .as_ref()
            .and_then(|p| p.title.clone())
            .unwrap_or_else(|| reason_phrase(self.status).to_owned());
        format!("{} {words}", self.status).trim_end().to_owned()
    }

    /// What the edge said went wrong, for people.
    pub fn detail(&self) -> Option<&str> {
        self.problem.as_ref()?.detail.as_deref()
    }

    /// The stable reason code of a refused token (`expired`, `inactive`, ...).
    pub fn reason(&self) -> Option<&str> {
        self.problem.as_ref()?.reason.as_deref()
    }

    /// The policies that decided a deny, as the edge names them (`@id`).
    pub fn policies(&self) -> &[String] {
        self.problem
            .as_ref()
            .and_then(|p| p.policies.as_deref())
            .unwrap_or_default()
    }

    /// The edge's id of the request, to find it in its log.
    pub fn request_id(&self) -> Option<&str> {
        self.problem.as_ref()?.request_id.as_deref()
    }

    /// On a 401 step-up answer (RFC 9470): what to sign in again with.
    pub fn step_up(&self) -> Option<&StepUp> {
        self.problem
            .as_ref()
            .filter(|_| self.status == 401)?
            .step_up
            .as_ref()
    }

    /// The body's size and type in words: `1.2 kB, text/html`.
    pub fn body_label(&self) -> String {
        let size = match self.body_bytes {
            n if n < 1_000 => format!("{n} B"),
            n if n < 1_000_000 => format!("{:.1} kB", n as f64 / 1_000.0),
            n => format!("{:.1} MB", n as f64 / 1_000_000.0),
        };
        match &self.media_type {
            Some(m) => format!("{size}, {m}"),
            None => size,
        }
    }
}

/// A JSON value as one line: strings as they are, lists joined by commas.
fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The words RFC 9110 gives a status (the common ones; empty for others).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}
