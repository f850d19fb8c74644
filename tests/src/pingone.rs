//! The local PingOne-shaped provider (`tests/provider/pingone.mjs`, npm `oidc-provider`) run
//! by the Rust tests: its issuer, and client-credentials tokens of its service client.

use crate::{free_port, root, wrangler::node_and_wrangler};
use base64ct::{Base64, Encoding};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The provider's service client (its defaults in `pingone.mjs`).
pub const SERVICE_ID: &str = "inventory";
const SERVICE_SECRET: &str = "inventory-local-secret";

/// One running provider; stopped when dropped.
pub struct LocalProvider {
    child: Child,
    issuer: String,
}

impl LocalProvider {
    /// Starts environment `env` for the API audience `audience` on a free port of 127.0.0.1
    /// and waits for it to say it is ready.
    pub fn start(env: &str, audience: &str) -> Result<Self, String> {
        Self::start_with(free_port(), env, audience, &[])
    }

    /// Starts environment `env` on `port` (its issuer is then known before it starts:
    /// `http://127.0.0.1:<port>/<env>/as`) with more of `pingone.mjs`'s options (`extra`).
    pub fn start_with(
        port: u16,
        env: &str,
        audience: &str,
        extra: &[String],
    ) -> Result<Self, String> {
        let (node, _) = node_and_wrangler();
        let mut child = Command::new(node)
            .arg(root().join("tests/provider/pingone.mjs"))
            .args([
                "--port",
                &port.to_string(),
                "--env",
                env,
                "--audience",
                audience,
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting the local provider: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the local provider has no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // The provider writes notices to stdout later (oidc-provider's `console.info`, on
            // a first sign-in): the pipe is drained until it ends, since a write to a closed
            // pipe would end the provider.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut me = Self {
            child,
            issuer: String::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "the local provider did not start in 30 s".to_owned())?;
        let ready: serde_json::Value = serde_json::from_str(line.trim())
            .map_err(|_| format!("the local provider said: {line}"))?;
        me.issuer = ready["issuer"]
            .as_str()
            .ok_or_else(|| format!("the local provider said: {line}"))?
            .to_owned();
        Ok(me)
    }

    /// `http://127.0.0.1:<port>/<env>/as`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A client-credentials access token of the service client, asking for `scope`: what a
    /// service runs (`POST /token` with HTTP Basic client authentication).
    pub fn client_credentials(&self, scope: &str) -> Result<String, String> {
        let basic = format!(
            "Basic {}",
            Base64::encode_string(format!("{SERVICE_ID}:{SERVICE_SECRET}").as_bytes())
        );
        let body = format!(
            "grant_type=client_credentials&scope={}",
            cedargate::percent::encode_keeping(scope, b"")
        );
        let reply = crate::http::send(
            "POST",
            &format!("{}/token", self.issuer),
            &[
                ("authorization", basic.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(body.as_bytes()),
        )?;
        if reply.status != 200 {
            return Err(format!(
                "token endpoint answered {}: {}",
                reply.status,
                reply.text()
            ));
        }
        reply.json()["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the token response has no access_token".to_owned())
    }
}

impl Drop for LocalProvider {
    fn drop(&mut self) {
        crate::stop_group(&mut self.child, Duration::from_secs(3));
    }
}
