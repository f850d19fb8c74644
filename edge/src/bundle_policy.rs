//! When the worker looks in KV for a newer policy bundle, and which ones it takes. Pure; the
//! worker reads KV and loads the bundle.

use sha2::{Digest, Sha256};

/// What an isolate remembers between looks at KV.
#[derive(Debug, Default)]
pub struct BundleWatch {
    /// When KV is due for the next look (seconds).
    next_check: i64,
    /// SHA-256 of the last KV text looked at, valid or not.
    seen: Option<[u8; 32]>,
    /// When the last read that left no bundle that may decide in force ended (seconds).
    failed_at: Option<i64>,
}

impl BundleWatch {
    /// Whether KV is due for a look at `now` (seconds); if so, the next look is due
    /// `every_seconds` later.
    pub fn due(&mut self, now: i64, every_seconds: u64) -> bool {
        if now < self.next_check {
            return false;
        }
        self.next_check = now + every_seconds as i64;
        true
    }

    /// While no bundle may decide: whether a request may read KV at `now` (seconds), that is
    /// not within `every_seconds` after a read that left none in force. Requests in between
    /// are refused at once instead of each reading KV again; a clock that went back allows a
    /// read.
    pub fn read_allowed(&self, now: i64, every_seconds: u64) -> bool {
        self.failed_at
            .is_none_or(|at| now < at || now - at >= every_seconds as i64)
    }

    /// Notes that a read ending at `now` (seconds) left no bundle that may decide in force.
    pub fn failed(&mut self, now: i64) {
        self.failed_at = Some(now);
    }

    /// Whether `text` differs from the text looked at last; it becomes the last one. A
    /// document already refused is not opened again.
    pub fn is_new(&mut self, text: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if self.seen == Some(digest) {
            return false;
        }
        self.seen = Some(digest);
        true
    }
}

/// Whether a KV document with `serial` may replace the bundle in force with `in_force`:
/// policies only move forward, and never below the configured `min_serial`.
pub fn takes_serial(serial: u64, in_force: u64, min_serial: u64) -> bool {
    serial > in_force && serial >= min_serial
}

/// Whether a KV document with `serial` may be the first in force on an isolate whose
/// built-in bundle (serial `built_in`) may not decide: never below the built-in bundle nor
/// below `min_serial`.
pub fn takes_first_serial(serial: u64, built_in: u64, min_serial: u64) -> bool {
    serial >= built_in && serial >= min_serial
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_is_read_once_per_interval() {
        let mut watch = BundleWatch::default();
        assert!(watch.due(1000, 60));
        assert!(!watch.due(1000, 60));
        assert!(!watch.due(1059, 60));
        assert!(watch.due(1060, 60));
        assert!(!watch.due(1061, 60));
    }

    #[test]
    fn while_nothing_may_decide_kv_is_read_again_only_after_the_interval() {
        let mut watch = BundleWatch::default();
        assert!(watch.read_allowed(1000, 60));
        watch.failed(1000);
        assert!(!watch.read_allowed(1000, 60));
        assert!(!watch.read_allowed(1059, 60));
        assert!(watch.read_allowed(1060, 60));
        assert!(watch.read_allowed(999, 60));
    }

    #[test]
    fn the_same_text_is_looked_at_once() {
        let mut watch = BundleWatch::default();
        assert!(watch.is_new("a"));
        assert!(!watch.is_new("a"));
        assert!(watch.is_new("b"));
        assert!(watch.is_new("a"));
    }

    #[test]
    fn only_higher_serials_at_or_above_the_minimum_are_taken() {
        assert!(takes_serial(2, 1, 0));
        assert!(!takes_serial(1, 1, 0));
        assert!(!takes_serial(0, 1, 0));
        assert!(!takes_serial(5, 1, 6));
        assert!(takes_serial(6, 1, 6));
    }

    #[test]
    fn the_first_kv_document_is_never_below_the_built_in_bundle_or_the_minimum() {
        assert!(takes_first_serial(0, 0, 0));
        assert!(takes_first_serial(3, 3, 0));
        assert!(!takes_first_serial(2, 3, 0));
        assert!(!takes_first_serial(5, 3, 6));
        assert!(takes_first_serial(6, 3, 6));
    }
}
