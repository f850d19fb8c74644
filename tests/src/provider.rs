//! A test OpenID provider: discovery and JWKS for several environments, each with its own
//! keys and behaviour (answering, down, slow, 500, garbage), counting what it serves.

use crate::origin::header;
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
}

#[derive(Debug, Clone)]
struct Environment {
    keys: Vec<Value>,
    mode: Mode,
    cache_control: String,
    discovery_hits: usize,
    jwks_hits: usize,
}

type Shared = Arc<Mutex<HashMap<String, Environment>>>;

/// The running provider; stops when dropped.
pub struct TestProvider {
    server: Arc<tiny_http::Server>,
    port: u16,
    envs: Shared,
    threads: Vec<thread::JoinHandle<()>>,
}

impl TestProvider {
    /// Starts on a free port of 127.0.0.1 with no environments.
    pub fn start() -> Result<Self, String> {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| format!("provider: {e}"))?);
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("provider: no port")?;
        let envs: Shared = Arc::default();
        let threads = (0..4)
            .map(|_| {
                let server = server.clone();
                let envs = envs.clone();
                thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        serve(request, port, &envs);
                    }
                })
            })
            .collect();
        Ok(Self {
            server,
            port,
            envs,
            threads,
        })
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
            },
        );
    }

    /// The issuer URL of an environment.
    pub fn issuer(&self, env: &str) -> String {
        format!("http://127.0.0.1:{}/{env}/as", self.port)
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

    /// Discovery documents served so far.
    pub fn discovery_hits(&self, env: &str) -> usize {
        self.with_env(env, |e| e.discovery_hits)
    }
}

fn serve(request: tiny_http::Request, port: u16, envs: &Shared) {
    let url = request.url().to_owned();
    let mut parts = url.trim_start_matches('/').splitn(3, '/');
    let (Some(env), Some("as"), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        let _ = request.respond(tiny_http::Response::empty(404));
        return;
    };
    let snapshot = {
        let mut envs = envs.lock().expect("provider state");
        let Some(state) = envs.get_mut(env) else {
            drop(envs);
            let _ = request.respond(tiny_http::Response::empty(404));
            return;
        };
        match rest {
            ".well-known/openid-configuration" => state.discovery_hits += 1,
            "jwks" => state.jwks_hits += 1,
            _ => {}
        }
        state.clone()
    };
    match &snapshot.mode {
        Mode::Down => {
            // Dropping the request without a response closes the connection.
            drop(request);
            return;
        }
        Mode::Slow(delay) => thread::sleep(*delay),
        Mode::Status(code) => {
            let _ = request.respond(tiny_http::Response::empty(*code));
            return;
        }
        Mode::Garbage => {
            let _ = request.respond(tiny_http::Response::from_string("<html>oops</html>"));
            return;
        }
        Mode::Up => {}
    }
    let issuer = format!("http://127.0.0.1:{port}/{env}/as");
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
        _ => {
            let _ = request.respond(tiny_http::Response::empty(404));
            return;
        }
    };
    let response = tiny_http::Response::from_string(body.to_string())
        .with_header(header("content-type", "application/json"))
        .with_header(header("cache-control", &cache_control))
        .with_header(header("connection", "close"));
    let _ = request.respond(response);
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        for _ in 0..self.threads.len() {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
