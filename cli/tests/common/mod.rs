//! What the command's integration tests share: the repository root and a run of the
//! `cedargate` binary from it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cedargate args...`, run from the repository root.
pub fn cedargate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cedargate"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}
