//! A check runner for end-to-end tests that share expensive processes: each check is
//! reported like a libtest test, and the summary line is the same, so `cargo xtask test`
//! counts them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// Runs named checks and reports them.
#[derive(Debug, Default)]
pub struct Harness {
    passed: usize,
    failed: Vec<String>,
    filter: Option<String>,
}

impl Harness {
    /// A runner; the first command-line argument that is not a flag filters checks by name.
    pub fn new() -> Self {
        let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        Self {
            filter,
            ..Self::default()
        }
    }

    /// Runs one check; a returned error or a panic fails it.
    pub fn check(&mut self, name: &str, f: impl FnOnce() -> Result<(), String>) {
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(f));
        let took = start.elapsed().as_secs_f64();
        match outcome {
            Ok(Ok(())) => {
                self.passed += 1;
                println!("test {name} ... ok ({took:.1}s)");
            }
            Ok(Err(message)) => {
                println!("test {name} ... FAILED ({took:.1}s)\n    {message}");
                self.failed.push(name.to_owned());
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                println!("test {name} ... FAILED (panicked, {took:.1}s)\n    {message}");
                self.failed.push(name.to_owned());
            }
        }
    }

    /// Runs a set-up. When it fails, that is a failed check named `name`, and `None`.
    pub fn start<T>(&mut self, name: &str, setup: impl FnOnce() -> Result<T, String>) -> Option<T> {
        match setup() {
            Ok(parts) => Some(parts),
            Err(err) => {
                self.check(name, || Err(err));
                None
            }
        }
    }

    /// Prints the summary; the process should exit with the returned code.
    pub fn finish(self) -> std::process::ExitCode {
        let ok = self.failed.is_empty();
        if !ok {
            println!("\nfailures:");
            for name in &self.failed {
                println!("    {name}");
            }
        }
        println!(
            "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out",
            if ok { "ok" } else { "FAILED" },
            self.passed,
            self.failed.len()
        );
        if ok && self.passed == 0 {
            println!("no check ran");
            return std::process::ExitCode::FAILURE;
        }
        if ok {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        }
    }
}

/// `Err` with a message unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

/// `Err` unless `left == right`.
pub fn same<T: PartialEq + std::fmt::Debug>(left: T, right: T, what: &str) -> Result<(), String> {
    ensure(left == right, || {
        format!("{what}: got {left:?}, expected {right:?}")
    })
}
