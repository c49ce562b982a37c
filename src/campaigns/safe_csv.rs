//! Cells that are safe to open in a spreadsheet, and the file writer that
//! hashes and counts what it writes.
//!
//! OWASP "CSV injection": a text cell whose first character is `=`, `+`,
//! `-`, `@`, tab, carriage return or NUL is evaluated as a formula by Excel,
//! LibreOffice and Google Sheets. Quoting the field does not help; prefixing
//! it with a single quote `'` does. Numbers written as numbers need no
//! prefix. Which columns get the prefix is decided per destination in
//! [`super::formats`]: a receiving tool that parses E.164 phones itself must
//! get `+447911123456`, not `'+447911123456`.

use std::borrow::Cow;
use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// Characters that make a spreadsheet evaluate a cell (OWASP list, plus NUL).
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\0'];

/// `text` with a leading `'` when a spreadsheet would evaluate it.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some(c) if FORMULA_STARTS.contains(&c) => {
            let mut s = String::with_capacity(text.len() + 1);
            s.push('\'');
            s.push_str(text);
            Cow::Owned(s)
        }
        _ => Cow::Borrowed(text),
    }
}

/// Whether `text` would be evaluated by a spreadsheet as it stands.
pub fn is_dangerous(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| FORMULA_STARTS.contains(&c))
}

/// A strict E.164 number: `+`, a non-zero digit, 6 to 14 more digits. Such a
/// cell cannot carry a formula (only `+` and digits), so tools that parse
/// phones get it unchanged.
pub fn is_e164(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 8
        && b.len() <= 16
        && b[0] == b'+'
        && (b'1'..=b'9').contains(&b[1])
        && b[2..].iter().all(u8::is_ascii_digit)
}

/// How one column's cells are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Text for people and spreadsheets: neutralised.
    Text,
    /// A phone number the receiving tool parses: kept as is when it is
    /// strict E.164, neutralised otherwise.
    Phone,
    /// A number written as a number, or lowercase hex from SHA-256: nothing
    /// a spreadsheet would evaluate (`-5` is the number −5, not a formula
    /// that could reach outside the sheet), written as is.
    Verbatim,
}

impl Guard {
    pub fn apply(self, text: &str) -> Cow<'_, str> {
        match self {
            Guard::Text => neutralise(text),
            Guard::Phone if is_e164(text) => Cow::Borrowed(text),
            Guard::Phone => neutralise(text),
            Guard::Verbatim => Cow::Borrowed(text),
        }
    }
}

/// A writer that passes bytes on while computing their SHA-256 and count.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the lowercase hex SHA-256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_prefixed() {
        for s in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "\0x",
        ] {
            assert_eq!(neutralise(s), format!("'{s}"), "{s:?}");
            assert!(is_dangerous(s));
        }
        for s in ["Anna", "", " =1", "a=b", "O'Brien", "'quoted"] {
            assert_eq!(neutralise(s), s, "{s:?}");
        }
    }

    #[test]
    fn phone_guard_keeps_e164_only() {
        assert_eq!(Guard::Phone.apply("+447911123456"), "+447911123456");
        assert_eq!(Guard::Phone.apply("+1+1"), "'+1+1");
        assert_eq!(Guard::Phone.apply("+44 7911"), "'+44 7911");
        assert_eq!(Guard::Phone.apply("=1"), "'=1");
        assert_eq!(Guard::Text.apply("+447911123456"), "'+447911123456");
        assert_eq!(Guard::Verbatim.apply("-12"), "-12");
        assert!(is_e164("+14155550101"));
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+123456"));
        assert!(!is_e164("14155550101"));
    }

    #[test]
    fn sha256_standard_vectors() {
        // printf %s test@example.com | sha256sum
        assert_eq!(
            sha256_hex("test@example.com"),
            "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
        );
        // printf %s abc | sha256sum (FIPS 180-2 example)
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hashing_writer_counts_and_hashes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (inner, sha, bytes) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(bytes, 3);
        assert_eq!(sha, sha256_hex("abc"));
    }
}
