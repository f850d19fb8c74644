//! End-to-end test support: a small check runner, an HTTP client, a test OpenID provider
//! and origin on 127.0.0.1, and the worker running in workerd through `wrangler dev`.
//!
//! Everything here is test code: a failed expectation may panic.
#![allow(
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod harness;
pub mod http;
pub mod origin;
pub mod provider;
pub mod server;
pub mod workerd;
pub mod wrangler;

/// Token minting and the test keys, shared with the `cedargate` crate's own tests.
#[path = "../../shared/tests/support/mod.rs"]
pub mod support;

use std::net::TcpListener;
use std::path::PathBuf;

/// The number after `--name` on the command line, if there is one and it is a number.
pub fn numeric_arg(name: &str) -> Option<u64> {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|s| s.parse().ok())
}

/// The workspace root.
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A folder for one run's files under `target/`.
pub fn work_dir(name: &str) -> PathBuf {
    let base = root().join("target/cedargate-e2e");
    // Folders of earlier runs of the same name are removed.
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}-"))
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
