//! A check runner for end-to-end tests that share expensive processes: checks are named
//! functions grouped in suites, each suite sets up its processes once for its checks. Each
//! check is reported like a libtest test, and the summary line is the same, so
//! `cargo xtask test` counts them.
//!
//! The command line is read like libtest's: arguments that are not flags are filters (a check
//! runs when its name, `suite::function`, contains one of them), `--exact` makes them whole
//! names, `--skip F` leaves out the checks whose names contain `F`, `--list` lists the checks.
//! Other flags (those cargo passes, such as `--nocapture`) are accepted and ignored.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// A check of a suite: its name and the function, given the suite's state. Checks run in the
/// order of their suite's table, and a check may rely on what the ones before it did.
pub type Check<S> = (&'static str, CheckFn<S>);

/// The function of a [`Check`].
pub type CheckFn<S> = fn(&S) -> Result<(), String>;

/// A table of [`Check`]s named after their functions: `checks![first, second]`.
#[macro_export]
macro_rules! checks {
    ($($check:ident),+ $(,)?) => {
        &[$((stringify!($check), $check as $crate::harness::CheckFn<_>)),+]
    };
}

/// Flags of libtest that take a value (so the value is not taken for a filter).
const FLAGS_WITH_VALUE: [&str; 6] = [
    "--skip",
    "--test-threads",
    "--color",
    "--format",
    "--logfile",
    "-Z",
];

/// Which checks run, from the command line.
#[derive(Debug, Default)]
struct Selection {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
}

impl Selection {
    fn from_args(args: impl IntoIterator<Item = String>) -> Self {
        let mut selection = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--exact" => selection.exact = true,
                "--list" => selection.list = true,
                "--skip" => selection.skip.extend(args.next()),
                flag if FLAGS_WITH_VALUE.contains(&flag) => {
                    args.next();
                }
                flag if flag.starts_with('-') => {}
                _ => selection.filters.push(arg),
            }
        }
        selection
    }

    fn wants(&self, name: &str) -> bool {
        let matches = |filter: &String| {
            if self.exact {
                name == filter
            } else {
                name.contains(filter.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skip.iter().any(matches)
    }
}

/// Runs suites of named checks and reports them.
#[derive(Debug, Default)]
pub struct Harness {
    passed: usize,
    failed: Vec<String>,
    filtered_out: usize,
    listed: usize,
    selection: Selection,
}

impl Harness {
    /// A runner selecting checks by the command line (see the module's documentation).
    pub fn new() -> Self {
        Self {
            selection: Selection::from_args(std::env::args().skip(1)),
            ..Self::default()
        }
    }

    /// Runs the selected checks of the suite `suite` in order, on the state `setup` makes.
    /// The set-up runs only when a check of the suite is selected; when it fails, each of
    /// those checks fails. The state is dropped (its processes stopped) before this returns.
    pub fn suite<S>(
        &mut self,
        suite: &str,
        setup: impl FnOnce() -> Result<S, String>,
        checks: &[Check<S>],
    ) {
        let selected: Vec<(String, CheckFn<S>)> = checks
            .iter()
            .map(|(name, check)| (format!("{suite}::{name}"), *check))
            .filter(|(name, _)| self.selection.wants(name))
            .collect();
        self.filtered_out += checks.len() - selected.len();
        if self.selection.list {
            for (name, _) in &selected {
                println!("{name}: test");
            }
            self.listed += selected.len();
            return;
        }
        if selected.is_empty() {
            return;
        }
        let state = match setup() {
            Ok(state) => state,
            Err(err) => {
                println!("set-up of {suite} failed:\n    {err}");
                for (name, _) in selected {
                    println!("test {name} ... FAILED (not run: the set-up of {suite} failed)");
                    self.failed.push(name);
                }
                return;
            }
        };
        for (name, check) in selected {
            self.run(&name, || check(&state));
        }
    }

    /// Runs one check; a returned error or a panic fails it.
    fn run(&mut self, name: &str, f: impl FnOnce() -> Result<(), String>) {
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

    /// Prints the summary; the process should exit with the returned code. A run in which no
    /// check ran fails.
    pub fn finish(self) -> std::process::ExitCode {
        if self.selection.list {
            println!("\n{} tests, 0 benchmarks", self.listed);
            return std::process::ExitCode::SUCCESS;
        }
        let ok = self.failed.is_empty();
        if !ok {
            println!("\nfailures:");
            for name in &self.failed {
                println!("    {name}");
            }
        }
        println!(
            "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out",
            if ok { "ok" } else { "FAILED" },
            self.passed,
            self.failed.len(),
            self.filtered_out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(args: &[&str]) -> Selection {
        Selection::from_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn filters_like_libtest() {
        let all = selection(&["--nocapture", "--test-threads", "1"]);
        assert!(all.wants("faults::origin_down"));
        let some = selection(&["faults::", "corpus"]);
        assert!(some.wants("faults::origin_down"));
        assert!(some.wants("corpus::token_cases"));
        assert!(!some.wants("worker::petstore_matrix"));
        let exact = selection(&["--exact", "faults::origin"]);
        assert!(!exact.wants("faults::origin_down"));
        assert!(exact.wants("faults::origin"));
        let skip = selection(&["faults", "--skip", "slow"]);
        assert!(skip.wants("faults::origin_down"));
        assert!(!skip.wants("faults::slow_provider"));
    }

    #[test]
    fn a_suite_sets_up_only_for_selected_checks() {
        fn pass(_: &u8) -> Result<(), String> {
            Ok(())
        }
        fn fail(_: &u8) -> Result<(), String> {
            Err("no".into())
        }
        let mut h = Harness {
            selection: selection(&["pass"]),
            ..Harness::default()
        };
        h.suite("a", || Ok(1_u8), checks![pass, fail]);
        h.suite(
            "b",
            || -> Result<u8, String> { panic!("set up") },
            checks![fail],
        );
        assert_eq!((h.passed, h.failed.len(), h.filtered_out), (1, 0, 2));
        let mut h = Harness::default();
        h.suite("a", || Ok(1_u8), checks![pass, fail]);
        h.suite(
            "b",
            || -> Result<u8, String> { Err("down".into()) },
            checks![pass],
        );
        assert_eq!(h.passed, 1);
        assert_eq!(h.failed, ["a::fail", "b::pass"]);
    }
}
