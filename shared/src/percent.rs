//! Percent-encoding (RFC 3986 §2.1), the one implementation the core, the edge and the app
//! use: every byte outside the unreserved set (`A-Z a-z 0-9 - . _ ~`), and outside the
//! characters a caller explicitly keeps, becomes `%XX` with uppercase hex digits.

use std::fmt::Write as _;

/// `text` with only unreserved characters literal.
pub fn encode(text: &str) -> String {
    encode_keeping(text, b"")
}

/// `text` with unreserved characters and the bytes of `keep` literal.
pub fn encode_keeping(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    encode_into(text, keep, &mut out);
    out
}

/// [`encode_keeping`] onto `out`.
pub fn encode_into(text: &str, keep: &[u8], out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn only_unreserved_and_kept_bytes_stay() {
        assert_eq!(encode("a b/c;d=é~"), "a%20b%2Fc%3Bd%3D%C3%A9~");
        assert_eq!(encode_keeping("a:b@c/d e", b":@/"), "a:b@c/d%20e");
    }
}
