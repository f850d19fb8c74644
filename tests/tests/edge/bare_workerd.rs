//! The worker run by workerd itself, without wrangler's proxy in front (which hides some
//! request shapes from the worker): bodies of GET requests.

use super::*;
use cedargate_tests::workerd::{Binding, Module, Workerd};

pub struct BareWorkerd {
    _provider: TestProvider,
    _origin: Option<EchoOrigin>,
    worker: Workerd,
    issuer: String,
}

pub const CHECKS: &[Check<BareWorkerd>] =
    checks![get_with_empty_body_forwarded_with_content_refused];

/// Starts the worker in bare workerd.
pub fn start() -> Result<BareWorkerd, String> {
    let fixture = Fixture::new("env-bare")?.origin()?;
    let config = fixture.config(json!({ "unmatched": "forbidden" }));
    let main = cedargate_tests::wrangler::worker_main()?;
    let wasm = main.with_file_name("index_bg.wasm");
    let worker = Workerd::start(
        "edge-bare",
        &[
            Module::Es("index.js".into(), main),
            Module::Wasm("index_bg.wasm".into(), wasm),
        ],
        &[Binding::Json("CEDARGATE_CONFIG".into(), config)],
    )?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(BareWorkerd {
        _provider: provider,
        _origin: origin,
        worker,
        issuer,
    })
}

/// A GET with an empty body is forwarded, one with content is refused.
fn get_with_empty_body_forwarded_with_content_refused(s: &BareWorkerd) -> Result<(), String> {
    let BareWorkerd { worker, issuer, .. } = s;
    let admin = bearer(&id_token(issuer, "alice", &["AVP_Admin"], "a-rsa-1"));
    let auth = [("authorization", admin.as_str())];
    // `http::raw` always sends a Content-Length, here 0.
    let empty = http::raw(worker.port, "GET", "/pets/7", &auth, b"")?;
    same(empty.status, 200, "GET with Content-Length: 0")?;
    same(
        empty.json()["path"].as_str(),
        Some("/pets/7"),
        "path at the origin",
    )?;
    let full = http::raw(worker.port, "GET", "/pets/7", &auth, b"{\"x\":1}")?;
    same(full.status, 400, "GET with content")?;
    same(
        full.json()["type"].as_str(),
        Some("urn:cedargate:problem:bad-request"),
        "problem type",
    )?;
    let post = http::raw(worker.port, "POST", "/pets", &auth, b"{\"x\":1}")?;
    let hop = http::raw(
        worker.port,
        "GET",
        "/pets/7",
        &[
            ("authorization", admin.as_str()),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
        ],
        b"",
    )?;
    same(hop.status, 200, "GET with a Connection header")?;
    // `unmatched: forbidden` reveals neither routes nor methods.
    for (method, path) in [("MOVE", "/pets/7"), ("GET", "/owners")] {
        let hidden = http::raw(worker.port, method, path, &auth, b"")?;
        same(hidden.status, 403, path)?;
        same(hidden.header("allow"), None, "Allow")?;
    }
    ensure(hop.json()["headers"].get("x-hop").is_none(), || {
        "the origin received a header the client's Connection header named".into()
    })?;
    same(post.status, 200, "POST with content")?;
    same(
        post.json()["body_length"].as_u64(),
        Some(7),
        "body at the origin",
    )
}
