//! A check runner for end-to-end tests that share expensive processes: checks are named
//! functions grouped in suites, each suite sets up its processes once for its checks. Each
//! check is reported like a libtest test, and the summary line is the same, so
//! `cargo xtask test` counts them.
//!
//! The command line is read like libtest's: arguments that are not flags are filters (a check
//! runs when its name, `suite::function`, contains one of them), `--exact` makes them whole
//! names, `--skip F` leaves out the checks whose names contain `F`, `--list` lists the checks,
//! `--test-threads N` runs up to `N` suites at once (default [`DEFAULT_THREADS`], or
//! `RUST_TEST_THREADS`). Other flags (those cargo passes, such as `--nocapture`) are accepted
//! and ignored.
//!
//! Suites are independent (each starts its own processes on ports of its own), so they run
//! side by side; the checks of one suite run in order on one thread, since a check may rely
//! on what the ones before it did. Each check's line is printed when it ends, with its
//! suite's name, so lines of suites running together interleave but never mix.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
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

/// Suites run at once when neither `--test-threads` nor `RUST_TEST_THREADS` says otherwise:
/// most of a suite's time is spent waiting on its processes, so two suites per core keep a
/// two-core machine busy without starving the workers they start.
pub const DEFAULT_THREADS: usize = 3;

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
    /// `--test-threads`, when given and a positive number.
    threads: Option<usize>,
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
                "--test-threads" => {
                    selection.threads = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0);
                }
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

/// What running one suite gave: the checks that passed and those that failed, by name.
#[derive(Debug, Default)]
struct SuiteOutcome {
    passed: usize,
    failed: Vec<String>,
}

/// A suite waiting to run: its set-up and checks, with the suite's state type erased.
type Job = Box<dyn FnOnce() -> SuiteOutcome + Send>;

/// Runs suites of named checks and reports them.
#[derive(Default)]
pub struct Harness {
    passed: usize,
    failed: Vec<String>,
    filtered_out: usize,
    listed: usize,
    selection: Selection,
    /// Suites registered and not yet run, in order.
    queued: Vec<Job>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("passed", &self.passed)
            .field("failed", &self.failed)
            .field("filtered_out", &self.filtered_out)
            .field("queued", &self.queued.len())
            .finish()
    }
}

impl Harness {
    /// A runner selecting checks by the command line (see the module's documentation).
    pub fn new() -> Self {
        Self {
            selection: Selection::from_args(std::env::args().skip(1)),
            ..Self::default()
        }
    }

    /// Registers the suite `suite`: when the suites run ([`Harness::finish`]), its selected
    /// checks run in order, on the state `setup` makes. The set-up runs only when a check of
    /// the suite is selected; when it fails (or panics), each of those checks fails. The
    /// state is dropped (its processes stopped) when the suite's last check has run.
    pub fn suite<S: 'static>(
        &mut self,
        suite: &'static str,
        setup: fn() -> Result<S, String>,
        checks: &'static [Check<S>],
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
        self.queued
            .push(Box::new(move || run_suite(suite, setup, selected)));
    }

    /// How many suites run at once: `--test-threads`, else `RUST_TEST_THREADS`, else
    /// [`DEFAULT_THREADS`].
    fn threads(&self) -> usize {
        self.selection
            .threads
            .or_else(|| {
                std::env::var("RUST_TEST_THREADS")
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
            })
            .unwrap_or(DEFAULT_THREADS)
    }

    /// Runs the registered suites, up to [`Harness::threads`] at once, taking them in the
    /// order they were registered, and adds up what they gave.
    fn run_queued(&mut self) {
        let threads = self.threads().min(self.queued.len()).max(1);
        let jobs: VecDeque<(usize, Job)> = std::mem::take(&mut self.queued)
            .into_iter()
            .enumerate()
            .collect();
        let queue = Mutex::new(jobs);
        let outcomes: Mutex<Vec<(usize, SuiteOutcome)>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let job = match queue.lock() {
                            Ok(mut q) => q.pop_front(),
                            Err(_) => None,
                        };
                        let Some((index, job)) = job else { break };
                        let outcome = job();
                        if let Ok(mut all) = outcomes.lock() {
                            all.push((index, outcome));
                        }
                    }
                });
            }
        });
        // Reported in the order the suites were registered, whichever ended first.
        let mut outcomes = outcomes.into_inner().unwrap_or_default();
        outcomes.sort_by_key(|(index, _)| *index);
        for (_, outcome) in outcomes {
            self.passed += outcome.passed;
            self.failed.extend(outcome.failed);
        }
    }

    /// Runs the registered suites and prints the summary; the process should exit with the
    /// returned code. A run in which no check ran fails.
    pub fn finish(mut self) -> std::process::ExitCode {
        if self.selection.list {
            println!("\n{} tests, 0 benchmarks", self.listed);
            return std::process::ExitCode::SUCCESS;
        }
        let started = Instant::now();
        self.run_queued();
        let ok = self.failed.is_empty();
        if !ok {
            println!("\nfailures:");
            for name in &self.failed {
                println!("    {name}");
            }
        }
        println!(
            "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s",
            if ok { "ok" } else { "FAILED" },
            self.passed,
            self.failed.len(),
            self.filtered_out,
            started.elapsed().as_secs_f64()
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

/// The text of a panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Sets up one suite and runs its `selected` checks in order, printing a line for each.
fn run_suite<S>(
    suite: &str,
    setup: fn() -> Result<S, String>,
    selected: Vec<(String, CheckFn<S>)>,
) -> SuiteOutcome {
    let mut outcome = SuiteOutcome::default();
    let started = Instant::now();
    let set_up = match catch_unwind(setup) {
        Ok(result) => result,
        Err(panic) => Err(format!("panicked: {}", panic_message(panic.as_ref()))),
    };
    let state = match set_up {
        Ok(state) => state,
        Err(err) => {
            println!(
                "set-up of {suite} failed after {:.1}s:\n    {err}",
                started.elapsed().as_secs_f64()
            );
            for (name, _) in selected {
                println!("test {name} ... FAILED (not run: the set-up of {suite} failed)");
                outcome.failed.push(name);
            }
            return outcome;
        }
    };
    println!(
        "suite {suite} set up in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    for (name, check) in selected {
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| check(&state)));
        let took = start.elapsed().as_secs_f64();
        match result {
            Ok(Ok(())) => {
                outcome.passed += 1;
                println!("test {name} ... ok ({took:.1}s)");
            }
            Ok(Err(message)) => {
                println!("test {name} ... FAILED ({took:.1}s)\n    {message}");
                outcome.failed.push(name);
            }
            Err(panic) => {
                println!(
                    "test {name} ... FAILED (panicked, {took:.1}s)\n    {}",
                    panic_message(panic.as_ref())
                );
                outcome.failed.push(name);
            }
        }
    }
    drop(state);
    println!(
        "suite {suite} done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    outcome
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
        h.run_queued();
        assert_eq!((h.passed, h.failed.len(), h.filtered_out), (1, 0, 2));
        let mut h = Harness::default();
        h.suite("a", || Ok(1_u8), checks![pass, fail]);
        h.suite(
            "b",
            || -> Result<u8, String> { Err("down".into()) },
            checks![pass],
        );
        h.suite(
            "c",
            || -> Result<u8, String> { panic!("set up") },
            checks![pass],
        );
        h.run_queued();
        assert_eq!(h.passed, 1);
        assert_eq!(h.failed, ["a::fail", "b::pass", "c::pass"]);
    }

    /// Suites run side by side, up to the number of threads, and their failures are
    /// reported in the order the suites were registered.
    #[test]
    fn suites_run_side_by_side_up_to_the_threads() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        fn overlap(_: &u8) -> Result<(), String> {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(5);
            while MOST.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
        fn slow_failure(_: &u8) -> Result<(), String> {
            std::thread::sleep(Duration::from_millis(200));
            Err("slow".into())
        }
        fn quick_failure(_: &u8) -> Result<(), String> {
            Err("quick".into())
        }
        let mut h = Harness {
            selection: selection(&["--test-threads", "2"]),
            ..Harness::default()
        };
        assert_eq!(h.threads(), 2);
        h.suite("one", || Ok(1_u8), checks![overlap, slow_failure]);
        h.suite("two", || Ok(2_u8), checks![overlap, quick_failure]);
        h.suite("three", || Ok(3_u8), checks![overlap]);
        h.run_queued();
        assert_eq!(
            MOST.load(Ordering::SeqCst),
            2,
            "two suites at once, never three"
        );
        assert_eq!(h.passed, 3);
        assert_eq!(h.failed, ["one::slow_failure", "two::quick_failure"]);
    }
}
