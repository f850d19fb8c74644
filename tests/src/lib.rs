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

pub mod bundles;
pub mod harness;
pub mod http;
pub mod kv;
pub mod origin;
pub mod pingone;
pub mod provider;
pub mod server;
pub mod workerd;
pub mod wrangler;

/// Token minting, the test keys and the case tables, shared with the `cedargate` crate's
/// own tests: the `cedargate-test-support` crate.
pub use cedargate_test_support as support;

use std::net::TcpListener;
use std::path::PathBuf;

/// The number after `--name` on the command line, if there is one and it is a number.
pub fn numeric_arg(name: &str) -> Option<u64> {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|s| s.parse().ok())
}

/// Stops a child started in its own process group (`process_group(0)`) and everything it
/// started: SIGTERM to the group, then SIGKILL after `grace`.
pub fn stop_group(child: &mut std::process::Child, grace: std::time::Duration) {
    let group = format!("-{}", child.id());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status();
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status();
    let _ = child.wait();
}

/// The workspace root.
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A port on 127.0.0.1 that was free a moment ago, and that this process has not handed out
/// before: suites run side by side, so two of them asking at once must not both be told the
/// same port before either has bound it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        if port != 0 && !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    0
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

#[cfg(test)]
mod tests {
    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..200).map(|_| super::free_port()).collect();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len());
        assert!(!ports.contains(&0));
    }
}
