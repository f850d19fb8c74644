//! `cargo xtask`: the project's commands. See README.md.

mod bench;
mod config_doc;
mod demo;
mod docs;
mod edge;
mod fuzz;
mod run;
mod soak;
mod test;
#[cfg(test)]
mod tidy;
mod tools;
mod web;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  demo [OPTIONS]                   install what is missing, build, and run the whole system on
                                   127.0.0.1 until Ctrl-C; options: --bundle petstore|access|
                                   context|todo|search, --port-app, --port-edge,
                                   --port-provider, --port-origin, and --pingone --region R
                                   --environment-id E --client-id C for a real PingOne
                                   (petstore, access, context; access also needs
                                   --api-audience A, and --introspection-client-id I with
                                   PINGONE_INTROSPECTION_SECRET to introspect)
  test [--only STAGE[,STAGE...]] [--filter TEXT]
                                   install what is missing, then run every check and test;
                                   --filter narrows each stage to what TEXT names (below)
  docs                             check every internal link and anchor of the book (docs/src),
                                   README.md, SECURITY.md and ARCHITECTURE.md and that every
                                   page is in SUMMARY.md; then build the book with mdbook into
                                   target/book (skipped when mdbook is not installed)
  bench [--quick]                  native benchmarks, the workerd comparison and the app's
                                   first paint; writes target/bench/report.md and
                                   docs/src/benchmarks.md
  bench --only first-paint         the app in Chromium over a throttled network alone
                                   (target/bench/first-paint.json)
  fuzz [--minutes N] [--target T]  run each cargo-fuzz target N minutes (default 1); inputs that
                                   break a property are saved in shared/tests/data/fuzz/ and
                                   replayed by the native tests; writes target/fuzz/report.md
  soak [--seconds N] [--connections C]
                                   N seconds (60 by default and at least) of mixed valid,
                                   invalid and denied requests over C connections (default 8)
                                   at saturation against the worker in workerd; checks every
                                   answer and the process's memory; writes
                                   target/soak/report.md
  setup                            only install what is missing
  build-edge                       build the worker into edge/build (local tools, edge/entry.mjs)
  build-web                        build the browser app into web/dist (trunk, local tools)
  docs-config                      write docs/src/reference/configuration.md from the
                                   configuration types' code and doc comments
  wrangler [ARGS...]               run the project's wrangler (Node 22) from the repository root,
                                   e.g. `cargo xtask wrangler dev --ip 127.0.0.1`
  help                             this text

stages of `test`, in order, and what `--filter TEXT` picks in each:
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("docs") => docs::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        Some("setup") => tools::Tools::ensure().map(|_| ()),
        Some("wrangler") => tools::ensure_node_tools().and_then(|node| {
            let status = std::process::Command::new(&node.node)
                .arg(&node.wrangler)
                .args(&args[1..])
                .current_dir(run::root())
                .env("WRANGLER_SEND_METRICS", "false")
                .status()
                .map_err(|e| format!("cannot start wrangler: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("wrangler exited with {status}"))
            }
        }),
        Some("build-web") => {
            tools::ensure_web_build().and_then(|node| web::build(&node).map(|_| ()))
        }
        Some("docs-config") => config_doc::run(&args[1..]),
        Some("build-edge") => {
            tools::ensure_edge_build().and_then(|node| edge::build(&node).map(|_| ()))
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            for (stage, filter) in test::FILTERS {
                println!("  {stage:<13}{filter}");
            }
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
