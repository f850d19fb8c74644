//! A worker run directly in workerd (no wrangler proxy in front), for measurements: a
//! generated Cap'n Proto configuration, the modules linked beside it, one socket on
//! 127.0.0.1, outbound access to loopback.

use crate::{free_port, root, work_dir};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A module of the worker.
#[derive(Clone, Debug)]
pub enum Module {
    /// An ES module; the first one is the entry point.
    Es(String, PathBuf),
    /// A WebAssembly module (imported by name from the ES modules).
    Wasm(String, PathBuf),
}

/// A binding of the worker's `env`.
#[derive(Clone, Debug)]
pub enum Binding {
    /// A JSON value (e.g. `CEDARGATE_CONFIG`).
    Json(String, serde_json::Value),
    /// A string.
    Text(String, String),
}

/// One running workerd; stopped when dropped.
pub struct Workerd {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// When the socket first accepted a connection.
    pub listening_at: Instant,
}

/// The workerd binary of the npm package `@cloudflare/workerd-linux-64` (wrangler's own).
pub fn binary() -> PathBuf {
    root().join("tests/node_modules/@cloudflare/workerd-linux-64/bin/workerd")
}

/// A Cap'n Proto text literal.
fn text(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into())
}

impl Workerd {
    /// Writes the configuration and starts workerd; returns once the socket accepts.
    pub fn start(name: &str, modules: &[Module], bindings: &[Binding]) -> Result<Self, String> {
        let dir = work_dir(&format!("workerd-{name}"));
        let port = free_port();
        let mut module_lines = Vec::new();
        for module in modules {
            let (kind, name, path) = match module {
                Module::Es(n, p) => ("esModule", n, p),
                Module::Wasm(n, p) => ("wasm", n, p),
            };
            let link = dir.join(name);
            std::fs::copy(path, &link).map_err(|e| format!("{}: {e}", path.display()))?;
            module_lines.push(format!(
                "    (name = {}, {kind} = embed {}),",
                text(name),
                text(name)
            ));
        }
        let binding_lines: Vec<String> = bindings
            .iter()
            .map(|b| match b {
                Binding::Json(n, v) => {
                    format!("    (name = {}, json = {}),", text(n), text(&v.to_string()))
                }
                Binding::Text(n, v) => format!("    (name = {}, text = {}),", text(n), text(v)),
            })
            .collect();
        let config = format!(
            r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
{}
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
{}
  ],
  globalOutbound = "internet",
);
"#,
            module_lines.join("\n"),
            binding_lines.join("\n")
        );
        std::fs::write(dir.join("config.capnp"), config).map_err(|e| e.to_string())?;
        let log = File::create(dir.join("workerd.log")).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(binary())
            .args(["serve", "config.capnp"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting workerd: {e}"))?;
        let mut me = Self {
            child,
            port,
            dir,
            listening_at: Instant::now(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(format!("workerd exited ({status}):\n{}", me.logs()));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                me.listening_at = Instant::now();
                return Ok(me);
            }
            if Instant::now() > deadline {
                return Err(format!("workerd did not listen:\n{}", me.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What workerd printed.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("workerd.log")).unwrap_or_default()
    }

    /// The process id of workerd.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The resident set size of the workerd process, in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }
}

/// Resident set size of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl Drop for Workerd {
    fn drop(&mut self) {
        crate::stop_group(&mut self.child, Duration::from_secs(3));
    }
}
