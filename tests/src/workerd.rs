//! A worker run directly in workerd (no wrangler proxy in front), for measurements: a
//! generated Cap'n Proto configuration, the modules linked beside it, one socket on
//! 127.0.0.1, outbound access to loopback. For the memory of an isolate, the same worker can
//! be loaded several times (one service, so one isolate, and one socket each).

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
    /// A KV namespace served on 127.0.0.1:`port` ([`crate::kv::KvServer`]).
    Kv(String, u16),
}

/// One running workerd; stopped when dropped.
pub struct Workerd {
    child: Child,
    /// The socket of the (first) worker.
    pub port: u16,
    /// The socket of each copy of the worker (`ports[0] == port`).
    pub ports: Vec<u16>,
    pub dir: PathBuf,
    /// Just before workerd was spawned.
    pub spawned_at: Instant,
    /// When every socket had accepted a connection (checked every `poll`).
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
        Self::start_copies(name, modules, bindings, 1, Duration::from_millis(20))
    }

    /// Starts workerd with `copies` services running the same worker, each its own isolate
    /// on its own socket; returns once every socket accepts, checking every `poll`.
    pub fn start_copies(
        name: &str,
        modules: &[Module],
        bindings: &[Binding],
        copies: usize,
        poll: Duration,
    ) -> Result<Self, String> {
        Self::launch(name, modules, bindings, copies, poll, None)
    }

    /// Starts workerd with its V8 inspector on 127.0.0.1:`inspector` (for CPU profiles: the
    /// worker's isolate is `ws://127.0.0.1:<inspector>/main`).
    pub fn start_inspected(
        name: &str,
        modules: &[Module],
        bindings: &[Binding],
        inspector: u16,
    ) -> Result<Self, String> {
        Self::launch(
            name,
            modules,
            bindings,
            1,
            Duration::from_millis(20),
            Some(inspector),
        )
    }

    fn launch(
        name: &str,
        modules: &[Module],
        bindings: &[Binding],
        copies: usize,
        poll: Duration,
        inspector: Option<u16>,
    ) -> Result<Self, String> {
        let dir = work_dir(&format!("workerd-{name}"));
        let ports: Vec<u16> = (0..copies.max(1)).map(|_| free_port()).collect();
        let mut module_lines = Vec::new();
        for module in modules {
            let (kind, name, path) = match module {
                Module::Es(n, p) => ("esModule", n, p),
                Module::Wasm(n, p) => ("wasm", n, p),
            };
            let link = dir.join(name);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
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
                Binding::Kv(n, _) => format!(
                    "    (name = {}, kvNamespace = {}),",
                    text(n),
                    text(&format!("kv-{n}"))
                ),
            })
            .collect();
        // Each KV namespace is an outside HTTP service of its own.
        let kv_services: Vec<String> = bindings
            .iter()
            .filter_map(|b| match b {
                Binding::Kv(n, port) => Some(format!(
                    "    (name = {}, external = (address = \"127.0.0.1:{port}\", http = ())),",
                    text(&format!("kv-{n}"))
                )),
                _ => None,
            })
            .collect();
        // The first service is `main`, as it always was; copies are `main-1`, `main-2`, ...
        let service = |i: usize| {
            if i == 0 {
                "main".to_owned()
            } else {
                format!("main-{i}")
            }
        };
        let services: Vec<String> = (0..ports.len())
            .map(|i| format!("    (name = \"{}\", worker = .worker),", service(i)))
            .chain(kv_services)
            .collect();
        let sockets: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                format!(
                    "    (name = \"http-{i}\", address = \"127.0.0.1:{port}\", http = (), service = \"{}\"),",
                    service(i)
                )
            })
            .collect();
        let config = format!(
            r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
{}
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
{}
  ],
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
            services.join("\n"),
            sockets.join("\n"),
            module_lines.join("\n"),
            binding_lines.join("\n")
        );
        std::fs::write(dir.join("config.capnp"), config).map_err(|e| e.to_string())?;
        let log = File::create(dir.join("workerd.log")).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let spawned_at = Instant::now();
        let mut command = Command::new(binary());
        command.args(["serve", "config.capnp"]);
        if let Some(port) = inspector {
            command.arg(format!("--inspector-addr=127.0.0.1:{port}"));
        }
        let child = command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting workerd: {e}"))?;
        let mut me = Self {
            child,
            port: ports[0],
            ports,
            dir,
            spawned_at,
            listening_at: Instant::now(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut waiting: Vec<u16> = me.ports.clone();
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(format!("workerd exited ({status}):\n{}", me.logs()));
            }
            waiting.retain(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_err());
            if waiting.is_empty() {
                me.listening_at = Instant::now();
                return Ok(me);
            }
            if Instant::now() > deadline {
                return Err(format!("workerd did not listen:\n{}", me.logs()));
            }
            std::thread::sleep(poll);
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The same for copy `i` of the worker.
    pub fn copy_url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[i])
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
