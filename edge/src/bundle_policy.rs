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
}
