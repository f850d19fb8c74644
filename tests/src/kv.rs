//! A KV namespace for a worker run directly in workerd ([`crate::workerd::Binding::Kv`]):
//! workerd asks a KV binding's service `GET /<key, percent-encoded>?urlencoded=true` and
//! reads 200 with the value, or 404 for a missing key. Here the entries are a map in
//! memory, written with [`KvServer::put`] and [`KvServer::delete`]: a write is seen by the
//! worker's next read, as in `wrangler dev`'s local KV (Cloudflare's own takes up to a
//! minute to spread).

use crate::server::{Reply, Request, Server};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The running namespace; stops when dropped.
pub struct KvServer {
    server: Server,
    entries: Arc<Mutex<BTreeMap<String, String>>>,
    reads: Arc<Mutex<u64>>,
}

impl KvServer {
    /// Starts on a free port of 127.0.0.1, empty.
    pub fn start() -> Result<Self, String> {
        let entries = Arc::new(Mutex::new(BTreeMap::<String, String>::new()));
        let reads = Arc::new(Mutex::new(0u64));
        let server = {
            let entries = entries.clone();
            let reads = reads.clone();
            Server::start(move |request: &mut Request<'_>| {
                *reads.lock().unwrap() += 1;
                let path = request.target.split('?').next().unwrap_or_default();
                let key = decode(path.trim_start_matches('/'));
                if request.method != "GET" {
                    return Reply::Answer(405, Vec::new(), Vec::new());
                }
                match entries.lock().unwrap().get(&key) {
                    Some(value) => Reply::Answer(200, Vec::new(), value.as_bytes().to_vec()),
                    None => Reply::Answer(404, Vec::new(), Vec::new()),
                }
            })?
        };
        Ok(Self {
            server,
            entries,
            reads,
        })
    }

    /// The port workerd's KV service reaches.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Writes `key`.
    pub fn put(&self, key: &str, value: &str) {
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_owned());
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) {
        self.entries.lock().unwrap().remove(key);
    }

    /// How many requests workerd made.
    pub fn reads(&self) -> u64 {
        *self.reads.lock().unwrap()
    }
}

/// Percent-decoding of a key (`encodeURIComponent`'s form).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_percent_decoded() {
        assert_eq!(super::decode("a%2Fb%20c"), "a/b c");
        assert_eq!(super::decode("staged"), "staged");
        assert_eq!(super::decode("100%"), "100%");
    }
}
