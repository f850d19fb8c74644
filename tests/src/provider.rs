//! A test OpenID provider: discovery and JWKS for several environments, each with its own
//! keys and behaviour (answering, down, slow, 500, garbage), counting what it serves.

use crate::server::{Reply, Request, Server};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How an environment answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Normally.
    Up,
    /// Closes the connection without answering.
    Down,
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// Answers this status with an empty body.
    Status(u16),
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers discovery normally and the JWKS with a 302 to this URL.
    RedirectJwks(String),
    /// Answers discovery normally and the JWKS with 200 and a chunked body of this many
    /// bytes (its keys, then padding), without `Content-Length`.
    HugeJwks(usize),
}

/// How much of a chunked JWKS body was sent, and whether all of it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Bytes handed to the connection.
    pub bytes: usize,
    /// Whether the whole body was handed over.
    pub complete: bool,
}

#[derive(Debug, Clone)]
struct Environment {
    keys: Vec<Value>,
    mode: Mode,
    cache_control: String,
    discovery_hits: usize,
    jwks_hits: usize,
    streamed: Arc<Mutex<Streamed>>,
    /// Tokens the introspection endpoint calls inactive.
    revoked: Vec<String>,
    introspection_hits: usize,
}

/// The client the introspection endpoint accepts (`client_secret_basic`).
pub const INTROSPECTION_CLIENT: (&str, &str) = ("cedargate-edge", "introspection secret");

type Shared = Arc<Mutex<HashMap<String, Environment>>>;

/// The running provider; stops when dropped.
pub struct TestProvider {
    server: Server,
    envs: Shared,
}

impl TestProvider {
    /// Starts on a free port of 127.0.0.1 with no environments.
    pub fn start() -> Result<Self, String> {
        let envs: Shared = Arc::default();
        let state = envs.clone();
        let server = Server::start(move |request| serve(request, &state))?;
        Ok(Self { server, envs })
    }

    /// Adds (or resets) an environment publishing the public halves of `keys`
    /// (names of test keys).
    pub fn add_env(&self, env: &str, keys: &[&str]) {
        let keys = keys.iter().map(|k| crate::support::public_jwk(k)).collect();
        self.envs.lock().expect("provider state").insert(
            env.to_owned(),
            Environment {
                keys,
                mode: Mode::Up,
                cache_control: "public, max-age=300".into(),
                discovery_hits: 0,
                jwks_hits: 0,
                streamed: Arc::default(),
                revoked: Vec::new(),
                introspection_hits: 0,
            },
        );
    }

    /// Adds (or resets) an environment publishing a JWKS document given as JSON text.
    pub fn add_env_document(&self, env: &str, document: &str) {
        let keys = serde_json::from_str::<Value>(document)
            .ok()
            .and_then(|d| d["keys"].as_array().cloned())
            .unwrap_or_default();
        self.add_env(env, &[]);
        self.with_env(env, |e| e.keys = keys);
    }

    /// The issuer URL of an environment.
    pub fn issuer(&self, env: &str) -> String {
        format!("http://127.0.0.1:{}/{env}/as", self.server.port())
    }

    fn with_env<T>(&self, env: &str, f: impl FnOnce(&mut Environment) -> T) -> T {
        let mut envs = self.envs.lock().expect("provider state");
        f(envs.get_mut(env).expect("known environment"))
    }

    /// Replaces the published keys.
    pub fn set_keys(&self, env: &str, keys: &[&str]) {
        let keys = keys.iter().map(|k| crate::support::public_jwk(k)).collect();
        self.with_env(env, |e| e.keys = keys);
    }

    /// Changes how the environment answers.
    pub fn set_mode(&self, env: &str, mode: Mode) {
        self.with_env(env, |e| e.mode = mode);
    }

    /// Changes the JWKS `Cache-Control`.
    pub fn set_cache_control(&self, env: &str, value: &str) {
        self.with_env(env, |e| e.cache_control = value.to_owned());
    }

    /// JWKS documents served so far.
    pub fn jwks_hits(&self, env: &str) -> usize {
        self.with_env(env, |e| e.jwks_hits)
    }

    /// How much of the last chunked JWKS body (`Mode::HugeJwks`) was sent.
    pub fn streamed(&self, env: &str) -> Streamed {
        self.with_env(env, |e| *e.streamed.lock().expect("stream state"))
    }

    /// Makes the introspection endpoint call `token` inactive from now on.
    pub fn revoke(&self, env: &str, token: &str) {
        self.with_env(env, |e| e.revoked.push(token.to_owned()));
    }

    /// Introspection requests answered so far.
    pub fn introspection_hits(&self, env: &str) -> usize {
        self.with_env(env, |e| e.introspection_hits)
    }

    /// Discovery documents served so far.
    pub fn discovery_hits(&self, env: &str) -> usize {
        self.with_env(env, |e| e.discovery_hits)
    }
}

fn serve(request: &mut Request<'_>, envs: &Shared) -> Reply {
    let not_found = || Reply::Answer(404, Vec::new(), Vec::new());
    let host = request.header("host").unwrap_or("127.0.0.1").to_owned();
    let url = request.target.clone();
    let mut parts = url.trim_start_matches('/').splitn(3, '/');
    let (Some(env), Some("as"), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return not_found();
    };
    let snapshot = {
        let mut envs = envs.lock().expect("provider state");
        let Some(state) = envs.get_mut(env) else {
            return not_found();
        };
        match rest {
            ".well-known/openid-configuration" => state.discovery_hits += 1,
            "jwks" => state.jwks_hits += 1,
            "introspect" => state.introspection_hits += 1,
            _ => {}
        }
        state.clone()
    };
    match &snapshot.mode {
        Mode::Down => return Reply::Hang,
        Mode::Slow(delay) => thread::sleep(*delay),
        Mode::Status(code) => return Reply::Answer(*code, Vec::new(), Vec::new()),
        Mode::Garbage => return Reply::Answer(200, Vec::new(), b"<html>oops</html>".to_vec()),
        Mode::RedirectJwks(to) if rest == "jwks" => {
            return Reply::Answer(302, vec![("location".into(), to.clone())], Vec::new());
        }
        Mode::HugeJwks(size) if rest == "jwks" => {
            return huge_jwks(&snapshot.keys, *size, &snapshot.streamed);
        }
        Mode::Up | Mode::RedirectJwks(_) | Mode::HugeJwks(_) => {}
    }
    let issuer = format!("http://{host}/{env}/as");
    let (body, cache_control) = match rest {
        ".well-known/openid-configuration" => (
            json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/jwks"),
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "id_token_signing_alg_values_supported": ["RS256"],
            }),
            "public, max-age=3600".to_owned(),
        ),
        "jwks" => (
            json!({ "keys": snapshot.keys }),
            snapshot.cache_control.clone(),
        ),
        "introspect" => return introspect(request, &snapshot),
        _ => return not_found(),
    };
    Reply::Answer(
        200,
        vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), cache_control),
        ],
        body.to_string().into_bytes(),
    )
}

/// RFC 7662: a POST with the edge's client credentials and a form body; `active` unless the
/// token was revoked. Anything else is a 400 or 401, as a provider would answer.
fn introspect(request: &mut Request<'_>, env: &Environment) -> Reply {
    use base64ct::{Base64, Encoding};
    let (id, secret) = INTROSPECTION_CLIENT;
    let expected = format!(
        "Basic {}",
        Base64::encode_string(format!("{id}:{}", secret.replace(' ', "%20")).as_bytes())
    );
    if request.method != "POST" {
        return Reply::Answer(405, Vec::new(), Vec::new());
    }
    if request.header("authorization") != Some(expected.as_str()) {
        return Reply::Answer(401, Vec::new(), br#"{"error":"invalid_client"}"#.to_vec());
    }
    if request.header("content-type") != Some("application/x-www-form-urlencoded") {
        return Reply::Answer(400, Vec::new(), br#"{"error":"invalid_request"}"#.to_vec());
    }
    let mut body = String::new();
    if std::io::Read::read_to_string(&mut request.body, &mut body).is_err() {
        return Reply::Answer(400, Vec::new(), Vec::new());
    }
    // Compact JWTs are unreserved characters and dots: nothing in them is encoded.
    let token = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .unwrap_or_default();
    if token.is_empty() {
        return Reply::Answer(400, Vec::new(), br#"{"error":"invalid_request"}"#.to_vec());
    }
    let active = !env.revoked.iter().any(|t| t == token);
    Reply::Answer(
        200,
        vec![("content-type".into(), "application/json".into())],
        json!({ "active": active }).to_string().into_bytes(),
    )
}

/// A JWKS body of `size` bytes in 64 KiB chunks, counting what the connection takes.
fn huge_jwks(keys: &[Value], size: usize, streamed: &Arc<Mutex<Streamed>>) -> Reply {
    const CHUNK: usize = 64 * 1024;
    *streamed.lock().expect("stream state") = Streamed::default();
    let head = format!("{{\"keys\":{},\"padding\":\"", Value::from(keys.to_vec()));
    let tail = "\"}";
    let padding = size.saturating_sub(head.len() + tail.len());
    let mut body = head.into_bytes();
    body.resize(body.len() + padding, b'a');
    body.extend_from_slice(tail.as_bytes());
    let counter = streamed.clone();
    let mut offset = 0;
    let chunks = std::iter::from_fn(move || {
        let mut state = counter.lock().expect("stream state");
        // What the previous item was: handed over, since the server asks for the next one
        // only after writing it.
        state.bytes = offset;
        if offset >= body.len() {
            state.complete = true;
            return None;
        }
        let end = (offset + CHUNK).min(body.len());
        let chunk = body[offset..end].to_vec();
        offset = end;
        Some(chunk)
    });
    Reply::Chunked(
        200,
        vec![("content-type".into(), "application/json".into())],
        Box::new(chunks),
    )
}
