//! A test origin that answers every request with what it received (method, path, query,
//! headers, and the body's length and SHA-256), reading the body as a stream.

use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::thread;

/// The running origin; stops when dropped.
pub struct EchoOrigin {
    server: Arc<tiny_http::Server>,
    port: u16,
    threads: Vec<thread::JoinHandle<()>>,
}

impl EchoOrigin {
    /// Starts on a free port of 127.0.0.1.
    pub fn start() -> Result<Self, String> {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| format!("origin: {e}"))?);
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("origin: no port")?;
        let acceptor = {
            let server = server.clone();
            thread::spawn(move || {
                // One thread per request: slow or large requests never queue behind others.
                while let Ok(request) = server.recv() {
                    thread::spawn(move || answer(request));
                }
            })
        };
        Ok(Self {
            server,
            port,
            threads: vec![acceptor],
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn answer(mut request: tiny_http::Request) {
    let mut hasher = Sha256::new();
    let mut length = 0usize;
    let mut buffer = [0u8; 64 * 1024];
    let reader = request.as_reader();
    while let Ok(n) = reader.read(&mut buffer) {
        if n == 0 {
            break;
        }
        length += n;
        hasher.update(&buffer[..n]);
    }
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                json!(h.value.as_str()),
            )
        })
        .collect();
    let url = request.url().to_owned();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (url.clone(), None),
    };
    let body = json!({
        "method": request.method().as_str(),
        "path": path,
        "query": query,
        "headers": headers,
        "body_length": length,
        "body_sha256": format!("{:x}", hasher.finalize()),
    });
    let response = tiny_http::Response::from_string(body.to_string())
        .with_header(header("content-type", "application/json"))
        .with_header(header("x-origin", "echo"))
        // tiny_http reads requests on a small pool of threads, and a kept-alive connection
        // holds one; closing each connection keeps concurrent requests from queueing.
        .with_header(header("connection", "close"));
    let _ = request.respond(response);
}

/// A response header from constant text.
pub fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("constant header")
}

impl Drop for EchoOrigin {
    fn drop(&mut self) {
        self.server.unblock();
        for _ in 0..self.threads.len() {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
