//! A test origin that answers every request with what it received (method, path, query,
//! headers, and the body's length and SHA-256), reading the body as a stream.

use crate::server::{Reply, Request, Server};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The running origin; stops when dropped.
pub struct EchoOrigin {
    server: Server,
}

impl EchoOrigin {
    /// Starts on a free port of 127.0.0.1.
    pub fn start() -> Result<Self, String> {
        Ok(Self {
            server: Server::start(answer)?,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }
}

fn answer(request: &mut Request<'_>) -> Reply {
    let mut hasher = Sha256::new();
    let mut length = 0usize;
    let mut buffer = [0u8; 64 * 1024];
    while let Ok(n) = request.body.read(&mut buffer) {
        if n == 0 {
            break;
        }
        length += n;
        hasher.update(&buffer[..n]);
    }
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
        .collect();
    let (path, query) = match request.target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (request.target.clone(), None),
    };
    let body = json!({
        "method": request.method,
        "path": path,
        "query": query,
        "headers": headers,
        "body_length": length,
        "body_sha256": format!("{:x}", hasher.finalize()),
    });
    Reply::Answer(
        200,
        vec![
            ("content-type".into(), "application/json".into()),
            ("x-origin".into(), "echo".into()),
            // For the worker to merge its own `Vary: Origin` into.
            ("vary".into(), "Accept-Encoding".into()),
        ],
        body.to_string().into_bytes(),
    )
}
