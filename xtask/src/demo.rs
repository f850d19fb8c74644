//! `cargo xtask demo [--bundle petstore|access|context|todo|search]`: installs what is missing, builds the worker
//! (with the chosen reference bundle) and the app, then runs the whole system on 127.0.0.1
//! (tests/demo/run.mjs) until Ctrl-C.

use crate::{edge, run, tools, web};
use std::os::unix::process::CommandExt;
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let step = |n: u32, text: &str| println!("\n[demo {n}/4] {text}");
    step(1, "checking the tools (installing what is missing)");
    let node = tools::ensure_edge_build()?;
    tools::ensure_web_build()?;
    // `--bundle access`, `--bundle todo` and `--bundle search` run a worker with that bundle
    // compiled in (its entity data and AuthZEN mapping too).
    let bundle = args
        .windows(2)
        .find(|w| w[0] == "--bundle")
        .map(|w| w[1].as_str())
        .or_else(|| args.iter().find_map(|a| a.strip_prefix("--bundle=")));
    let built_in = match bundle {
        Some("access") => Some(("petstore-access", "access")),
        Some("todo") => Some(("authzen-todo", "authzen")),
        Some("search") => Some(("authzen-search", "authzen-search")),
        _ => None,
    };
    if let Some((folder, name)) = built_in {
        step(
            2,
            &format!("building the edge worker with policies/{folder} (target/edge-{name})"),
        );
        edge::build_with_bundle(&node, folder, name)?;
    } else {
        step(2, "building the edge worker (edge/build)");
        edge::build(&node)?;
    }
    step(3, "building the browser app (web/dist)");
    web::build(&node)?;
    step(
        4,
        "starting the provider, the origin, the worker and the app",
    );
    let error = Command::new(&node.node)
        .arg(run::root().join("tests/demo/run.mjs"))
        .args(args)
        .current_dir(run::root())
        .exec();
    Err(format!("cannot start the demo: {error}"))
}
