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

    /// Forgets the last text looked at: the next one is new, whatever it is (an entry that
    /// was removed and put back).
    pub fn forget(&mut self) {
        self.seen = None;
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

/// Whether a staged document with `serial` may replace the staged candidate before it
/// (`staged`, none without one) beside the live bundle with `live`: above both, since
/// `cedargate promote` gives the promoted bundle a serial above both, and never below the
/// configured `min_serial`.
pub fn takes_staged_serial(serial: u64, staged: Option<u64>, live: u64, min_serial: u64) -> bool {
    serial > live && staged.is_none_or(|staged| serial > staged) && serial >= min_serial
}

/// Whether the staged candidate with `staged` has been overtaken by the live bundle with
/// `live` (promoted, or a newer live bundle published over it): it is then retired.
pub fn staged_outlived(staged: u64, live: u64) -> bool {
    staged <= live
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
    fn a_staged_serial_is_above_the_candidate_before_it_and_the_live_bundle() {
        assert!(takes_staged_serial(5, None, 3, 0));
        assert!(takes_staged_serial(6, Some(5), 3, 0));
        assert!(!takes_staged_serial(5, Some(5), 3, 0));
        assert!(!takes_staged_serial(4, Some(5), 3, 0));
        assert!(!takes_staged_serial(3, None, 3, 0));
        assert!(!takes_staged_serial(2, None, 3, 0));
        assert!(!takes_staged_serial(5, None, 3, 6));
        assert!(staged_outlived(5, 5));
        assert!(staged_outlived(5, 6));
        assert!(!staged_outlived(5, 4));
    }

    #[test]
    fn a_forgotten_text_is_new_again() {
        let mut watch = BundleWatch::default();
        assert!(watch.is_new("a"));
        watch.forget();
        assert!(watch.is_new("a"));
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
