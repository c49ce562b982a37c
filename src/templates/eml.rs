//! One RFC 5322 message (.eml) per recipient, for email tools and clients
//! that import ready-made messages, written to a folder or a zip.
//!
//! A message is `multipart/alternative` with the plain-text part first and
//! the HTML part last (RFC 2046: the richest last), each UTF-8 in
//! quoted-printable (readable in a text editor, lines under 76
//! characters). Header values that are not plain ASCII are RFC 2047
//! encoded words (`=?UTF-8?B?…?=`), folded. The preheader goes into the
//! HTML as the usual hidden first element, since no header carries it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{Result, TemplateError};

/// What one message says and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// `Name <address>` or a bare address.
    pub from: &'a str,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub subject: &'a str,
    pub preheader: &'a str,
    pub html: &'a str,
    pub text: &'a str,
    /// RFC 5322 date (`Sun, 01 Nov 2026 12:00:00 +0000`).
    pub date: &'a str,
    /// Without angle brackets.
    pub message_id: &'a str,
}

/// `s` as an RFC 2047 header value: as is when it is printable ASCII,
/// else UTF-8 base64 encoded words of at most 75 characters, folded.
pub fn header_value(s: &str) -> String {
    let plain = s.bytes().all(|b| (0x20..0x7f).contains(&b));
    if plain && !s.contains("=?") {
        return s.to_owned();
    }
    // 45 bytes make 60 base64 characters: 12 + 60 < 75.
    let mut words = Vec::new();
    let mut start = 0;
    while start < s.len() {
        let mut end = (start + 45).min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&s.as_bytes()[start..end]);
        words.push(format!("=?UTF-8?B?{b64}?="));
        start = end;
    }
    words.join("\r\n ")
}

/// An address with its display name (quoted or encoded as needed).
pub fn mailbox(name: &str, email: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return format!("<{email}>");
    }
    let ascii = name.bytes().all(|b| (0x20..0x7f).contains(&b));
    let special = name.chars().any(|c| "()<>[]:;@\\,.\"".contains(c));
    if !ascii {
        format!("{} <{email}>", header_value(name))
    } else if special {
        format!(
            "\"{}\" <{email}>",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        )
    } else {
        format!("{name} <{email}>")
    }
}

/// Quoted-printable (RFC 2045) with CRLF line ends and soft breaks before
/// 76 characters.
pub fn quoted_printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let normal = s.replace("\r\n", "\n");
    let lines: Vec<&str> = normal.split('\n').collect();
    for (li, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let mut col = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || ((33..=126).contains(&b) && b != b'=');
            let piece_len = if literal { 1 } else { 3 };
            if col + piece_len > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                out.push_str(&format!("={b:02X}"));
            }
            col += piece_len;
        }
        if li + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

/// The HTML with the preheader as a hidden first element of the body.
fn with_preheader(html: &str, preheader: &str) -> String {
    if preheader.trim().is_empty() {
        return html.to_owned();
    }
    let escaped = preheader
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let hidden = format!(
        "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">{escaped}</div>"
    );
    let lower = html.to_ascii_lowercase();
    match lower
        .find("<body")
        .and_then(|b| lower[b..].find('>').map(|e| b + e + 1))
    {
        Some(at) => format!("{}{hidden}{}", &html[..at], &html[at..]),
        None => format!("{hidden}{html}"),
    }
}

fn part(out: &mut String, content_type: &str, body: &str) {
    out.push_str(&format!(
        "Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    ));
    out.push_str(&quoted_printable(body));
    out.push_str("\r\n");
}

/// The message as bytes.
pub fn message(m: &Message<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(m.html.len() * 11 / 10 + m.text.len() + 1024);
    out.push_str(&format!("From: {}\r\n", m.from));
    out.push_str(&format!("To: {}\r\n", mailbox(m.to_name, m.to_email)));
    out.push_str(&format!("Subject: {}\r\n", header_value(m.subject)));
    out.push_str(&format!("Date: {}\r\n", m.date));
    out.push_str(&format!("Message-ID: <{}>\r\n", m.message_id));
    out.push_str("MIME-Version: 1.0\r\n");
    let html = with_preheader(m.html, m.preheader);
    match (m.text.is_empty(), html.is_empty()) {
        (false, false) => {
            // The boundary must not occur in the (quoted-printable) parts;
            // `=_` cannot start a quoted-printable sequence.
            let digest = Sha256::digest(m.message_id.as_bytes());
            let boundary = format!(
                "=_cohort_{}",
                crate::campaigns::safe_csv::hex(&digest[..12])
            );
            out.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
            ));
            out.push_str("This is a multi-part message in MIME format.\r\n");
            out.push_str(&format!("--{boundary}\r\n"));
            part(&mut out, "text/plain", m.text);
            out.push_str(&format!("--{boundary}\r\n"));
            part(&mut out, "text/html", &html);
            out.push_str(&format!("--{boundary}--\r\n"));
        }
        (true, false) => part(&mut out, "text/html", &html),
        _ => part(&mut out, "text/plain", m.text),
    }
    out.into_bytes()
}

/// Where the messages go: a folder of .eml files, or one zip of them.
/// Written under a temporary name beside the target and moved there by
/// [`EmlWriter::publish`], so a failed export leaves nothing half-written.
pub struct EmlWriter {
    target: PathBuf,
    temp: PathBuf,
    zip: Option<zip::ZipWriter<BufWriter<File>>>,
    /// A folder that was at the target, moved aside while publishing.
    previous: Option<PathBuf>,
    hasher: Sha256,
    bytes: u64,
    published: bool,
    finished: Option<(String, u64)>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> TemplateError + '_ {
    move |source| TemplateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn zip_err(path: &Path, e: zip::result::ZipError) -> TemplateError {
    TemplateError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl EmlWriter {
    /// A writer for `target`: a folder, or a `.zip` file when `zip`.
    pub fn create(target: &Path, zip: bool) -> Result<EmlWriter> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "messages".into());
        let temp = target.with_file_name(format!(".{name}.{}.part", std::process::id()));
        let _ = std::fs::remove_dir_all(&temp);
        let _ = std::fs::remove_file(&temp);
        let zip = if zip {
            let file = File::create(&temp).map_err(io_err(&temp))?;
            Some(zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, file)))
        } else {
            std::fs::create_dir_all(&temp).map_err(io_err(&temp))?;
            None
        };
        Ok(EmlWriter {
            target: target.to_path_buf(),
            temp,
            zip,
            previous: None,
            hasher: Sha256::new(),
            bytes: 0,
            published: false,
            finished: None,
        })
    }

    /// Adds one message as `file_name`.
    pub fn add(&mut self, file_name: &str, bytes: &[u8]) -> Result<()> {
        match &mut self.zip {
            Some(z) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                z.start_file(file_name, options)
                    .map_err(|e| zip_err(&self.temp, e))?;
                z.write_all(bytes).map_err(io_err(&self.temp))?;
            }
            None => {
                let path = self.temp.join(file_name);
                std::fs::write(&path, bytes).map_err(io_err(&path))?;
                // A folder has no single file to hash: the SHA-256 is of
                // the messages in the order written.
                self.hasher.update(bytes);
                self.bytes += bytes.len() as u64;
            }
        }
        Ok(())
    }

    /// Completes the output: the SHA-256 of the zip (or of the messages in
    /// order, for a folder) and its size.
    pub fn finish(&mut self) -> Result<(String, u64)> {
        if let Some(done) = &self.finished {
            return Ok(done.clone());
        }
        let done = match self.zip.take() {
            Some(z) => {
                let buffered = z.finish().map_err(|e| zip_err(&self.temp, e))?;
                let file = buffered
                    .into_inner()
                    .map_err(|e| io_err(&self.temp)(e.into_error()))?;
                file.sync_all().map_err(io_err(&self.temp))?;
                drop(file);
                let mut f = File::open(&self.temp).map_err(io_err(&self.temp))?;
                let mut h = Sha256::new();
                let n = std::io::copy(&mut f, &mut h).map_err(io_err(&self.temp))?;
                (crate::campaigns::safe_csv::hex(&h.finalize()), n)
            }
            None => (
                crate::campaigns::safe_csv::hex(&self.hasher.clone().finalize()),
                self.bytes,
            ),
        };
        self.finished = Some(done.clone());
        Ok(done)
    }

    /// Moves the output to the target (a folder already there is replaced).
    pub fn publish(&mut self) -> Result<()> {
        if self.target.is_dir() {
            let aside = self.temp.with_extension("previous");
            let _ = std::fs::remove_dir_all(&aside);
            std::fs::rename(&self.target, &aside).map_err(io_err(&self.target))?;
            self.previous = Some(aside);
        }
        std::fs::rename(&self.temp, &self.target).map_err(io_err(&self.target))?;
        self.published = true;
        Ok(())
    }

    /// Puts things back as they were (the export's transaction failed).
    pub fn unpublish(&mut self) {
        if self.published {
            if self.target.is_dir() {
                let _ = std::fs::remove_dir_all(&self.target);
            } else {
                let _ = std::fs::remove_file(&self.target);
            }
            if let Some(prev) = self.previous.take() {
                let _ = std::fs::rename(prev, &self.target);
            }
            self.published = false;
        }
    }
}

impl Drop for EmlWriter {
    fn drop(&mut self) {
        if self.published {
            if let Some(prev) = self.previous.take() {
                let _ = std::fs::remove_dir_all(prev);
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.temp);
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_encoded_when_needed() {
        assert_eq!(header_value("Spring sale"), "Spring sale");
        let enc = header_value("Grüße, Zoë");
        assert!(enc.starts_with("=?UTF-8?B?"), "{enc}");
        let decoded: String = enc
            .split("\r\n ")
            .map(|w| {
                let b64 = w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(decoded, "Grüße, Zoë");
        // Long values become several words, each at most 75 characters.
        let long = header_value(&"é".repeat(100));
        assert!(long.split("\r\n ").all(|w| w.len() <= 75), "{long}");
        assert!(long.split("\r\n ").count() >= 4);
        assert_eq!(mailbox("Anna Smith", "a@x.com"), "Anna Smith <a@x.com>");
        assert_eq!(
            mailbox("Smith, Anna", "a@x.com"),
            "\"Smith, Anna\" <a@x.com>"
        );
        assert_eq!(mailbox("", "a@x.com"), "<a@x.com>");
        assert!(mailbox("Zoë", "z@x.com").starts_with("=?UTF-8?B?"));
    }

    #[test]
    fn quoted_printable_lines() {
        assert_eq!(quoted_printable("a=b"), "a=3Db");
        assert_eq!(quoted_printable("é"), "=C3=A9");
        assert_eq!(quoted_printable("end \nnext"), "end=20\r\nnext");
        let long = quoted_printable(&"x".repeat(200));
        assert!(long.split("\r\n").all(|l| l.len() <= 76), "{long}");
        assert_eq!(long.replace("=\r\n", ""), "x".repeat(200));
    }

    #[test]
    fn message_structure() {
        let m = Message {
            from: "Shop <news@shop.example>",
            to_name: "Zoë Smith",
            to_email: "zoe@example.com",
            subject: "Für dich",
            preheader: "Only today",
            html: "<html><body><p>Hi</p></body></html>",
            text: "Hi",
            date: "Sun, 01 Nov 2026 12:00:00 +0000",
            message_id: "c1.42@cohort.invalid",
        };
        let eml = String::from_utf8(message(&m)).unwrap();
        assert!(eml.contains("Subject: =?UTF-8?B?"), "{eml}");
        assert!(eml.contains("To: =?UTF-8?B?"), "{eml}");
        assert!(eml.contains("<zoe@example.com>\r\n"));
        assert!(eml.contains("MIME-Version: 1.0\r\n"));
        assert!(eml.contains("Content-Type: multipart/alternative; boundary=\"=_cohort_"));
        let plain = eml.find("Content-Type: text/plain").unwrap();
        let html = eml.find("Content-Type: text/html").unwrap();
        assert!(plain < html, "text first, HTML last");
        assert!(eml.contains("Only today</div><p>Hi</p>") || eml.contains("Only today</div>"));
        assert!(eml.trim_end().ends_with("--"));
        // Without a text body: a single HTML part.
        let only = String::from_utf8(message(&Message { text: "", ..m })).unwrap();
        assert!(!only.contains("multipart"));
        assert!(only.contains("Content-Type: text/html; charset=utf-8"));
    }

    #[test]
    fn folder_and_zip_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("out");
        let mut w = EmlWriter::create(&folder, false).unwrap();
        w.add("1.eml", b"one").unwrap();
        w.add("2.eml", b"two").unwrap();
        let (sha, bytes) = w.finish().unwrap();
        assert_eq!(bytes, 6);
        assert_eq!(sha.len(), 64);
        assert!(!folder.exists());
        w.publish().unwrap();
        drop(w);
        assert_eq!(std::fs::read(folder.join("2.eml")).unwrap(), b"two");
        // A second export replaces the folder.
        let mut w = EmlWriter::create(&folder, false).unwrap();
        w.add("3.eml", b"three").unwrap();
        w.finish().unwrap();
        w.publish().unwrap();
        drop(w);
        assert!(!folder.join("1.eml").exists());
        assert!(folder.join("3.eml").exists());

        let zip_path = dir.path().join("out.zip");
        let mut w = EmlWriter::create(&zip_path, true).unwrap();
        w.add("1.eml", b"hello").unwrap();
        w.finish().unwrap();
        w.publish().unwrap();
        drop(w);
        let mut archive = zip::ZipArchive::new(File::open(&zip_path).unwrap()).unwrap();
        assert_eq!(archive.len(), 1);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut archive.by_index(0).unwrap(), &mut s).unwrap();
        assert_eq!(s, "hello");
        // An abandoned writer leaves nothing behind.
        let other = dir.path().join("never.zip");
        let mut w = EmlWriter::create(&other, true).unwrap();
        w.add("1.eml", b"x").unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
