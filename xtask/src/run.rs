//! Running commands with their output shown live and kept for inspection.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// `cargo build --release --target wasm32-unknown-unknown -p <package>` from the root: the
/// size-tuned release profile the worker, the app's engine and the wasm benchmarks share.
pub fn wasm32_release_build(package: &str) -> Command {
    let mut cargo = Command::new("cargo");
    cargo
        .current_dir(root())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
        ])
        .arg(package);
    cargo
}

/// Describes a command for messages.
pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// What a command printed (stdout and stderr interleaved by line) and whether it succeeded.
pub struct Output {
    pub success: bool,
    pub text: String,
}

/// Runs `cmd`, echoing each line with `prefix`, and returns its output.
pub fn run(cmd: &mut Command, prefix: &str) -> Result<Output, String> {
    println!("{prefix}$ {}", describe(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", describe(cmd)))?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        readers.push(thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        }));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        }));
    }
    drop(tx);
    let mut text = String::new();
    let stdout = std::io::stdout();
    for line in rx {
        let mut lock = stdout.lock();
        let _ = writeln!(lock, "{prefix}{line}");
        text.push_str(&line);
        text.push('\n');
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {}: {e}", describe(cmd)))?;
    Ok(Output {
        success: status.success(),
        text,
    })
}

/// Runs `cmd` quietly and returns its stdout when it succeeds.
pub fn capture(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Sums the counts of Rust test harness summaries ("test result: ok. N passed; M failed").
pub fn test_counts(text: &str) -> (usize, usize) {
    let mut passed = 0;
    let mut failed = 0;
    for line in text.lines() {
        // node --test prints "# pass N" and "# fail N".
        let node = |prefix: &str| {
            line.trim()
                .strip_prefix(prefix)
                .and_then(|n| n.trim().parse::<usize>().ok())
        };
        if let Some(n) = node("# pass ") {
            passed += n;
            continue;
        }
        if let Some(n) = node("# fail ") {
            failed += n;
            continue;
        }
        let Some(rest) = line.split("test result: ").nth(1) else {
            continue;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let number = |i: usize| words.get(i).and_then(|w| w.parse::<usize>().ok());
            match words.as_slice() {
                [_, n, "passed"] | [n, "passed"] => {
                    passed += n.parse::<usize>().unwrap_or(0);
                }
                [_, "failed"] => failed += number(0).unwrap_or(0),
                _ => {}
            }
        }
    }
    (passed, failed)
}

/// The tests a run reports as failed, each with the reason its line gives (the edge
/// harness's `test x ... FAILED (reason)`, node's `not ok N - name`), at most `limit`, each
/// cut to 200 characters: what a stage's summary line names, so the failure shows at the end
/// of a long log.
pub fn failed_tests(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let mut name = if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, verdict)) = rest.split_once(" ... ")
            && verdict.starts_with("FAILED")
        {
            let reason = verdict["FAILED".len()..].trim();
            if reason.is_empty() {
                name.to_owned()
            } else {
                format!("{name} {reason}")
            }
        } else if let Some(rest) = line.strip_prefix("not ok ")
            && let Some((_, name)) = rest.split_once(" - ")
        {
            name.to_owned()
        } else {
            continue;
        };
        // The edge harness gives the message on the next line, indented.
        if let Some(message) = lines.next_if(|next| next.starts_with("    ")) {
            name.push_str(": ");
            name.push_str(message.trim());
        }
        if out.len() == limit {
            break;
        }
        out.push(name.chars().take(200).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_failed_tests_with_their_reasons() {
        let text = "  | test a::one ... ok (0.1s)\n\
                    test a::two ... FAILED (1.2s)\n    status 502, not 200\n\
                    test plain ... FAILED\n\
                    not ok 3 - the app signs in\n\
                    ok 4 - fine\n";
        assert_eq!(
            failed_tests(text, 5),
            [
                "a::two (1.2s): status 502, not 200",
                "plain",
                "the app signs in"
            ]
        );
        assert_eq!(
            failed_tests(text, 1),
            ["a::two (1.2s): status 502, not 200"]
        );
        assert!(failed_tests("test x ... ok\n", 5).is_empty());
    }

    #[test]
    fn counts_harness_summaries() {
        let text = "test result: ok. 10 passed; 0 failed; 0 ignored\n\
                    noise\n\
                    test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured";
        assert_eq!(test_counts(text), (13, 2));
        assert_eq!(test_counts("# tests 6\n# pass 5\n# fail 1\n"), (5, 1));
    }
}
