use serde::{Deserialize, Serialize};

/// A point in time as whole seconds since the Unix epoch.
///
/// The crate never reads a clock: every check that depends on time takes one of these from
/// the caller, so tests are exact and the same code runs where no clock API exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Seconds since the epoch.
    pub const fn seconds(self) -> i64 {
        self.0
    }

    /// This time moved by `seconds` (saturating at the ends of the range).
    pub const fn offset(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

impl std::fmt::Display for UnixTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
