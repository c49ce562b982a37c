//! Looking at a file before reading it: encoding, delimiter, line endings,
//! header. Everything here works on a bounded sample from the start of the
//! file, so sniffing a 10 GB export costs the same as a 10 kB one.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{ImportError, ImportErrorKind};

/// How many bytes of the file the sniffer looks at.
const SAMPLE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf16Le => "UTF-16 LE",
            Encoding::Utf16Be => "UTF-16 BE",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineEnding {
    Lf,
    CrLf,
    /// Classic Mac OS: a lone carriage return.
    Cr,
    Mixed,
    /// The sample holds a single line.
    None,
}

impl LineEnding {
    pub fn label(self) -> &'static str {
        match self {
            LineEnding::Lf => "LF (Unix)",
            LineEnding::CrLf => "CRLF (Windows)",
            LineEnding::Cr => "CR (classic Mac)",
            LineEnding::Mixed => "mixed",
            LineEnding::None => "none (one line)",
        }
    }
}

/// What the sniffer found out about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    pub encoding: Encoding,
    pub delimiter: char,
    pub line_ending: LineEnding,
    /// Column names as they appear (duplicates made unique with " (2)", " (3)"…;
    /// empty names become "column N").
    pub header: Vec<String>,
    /// Fields in the header row, trailing empty ones included: rows may have
    /// up to this many fields (Excel pads every row to the widest).
    pub header_fields: usize,
    /// Things worth telling the user ("2 columns are both called `Email`").
    pub notes: Vec<String>,
}

impl Detected {
    pub fn delimiter_label(&self) -> &'static str {
        match self.delimiter {
            ',' => "comma",
            ';' => "semicolon",
            '\t' => "tab",
            '|' => "pipe",
            _ => "other",
        }
    }
}

/// Sniffs `path`. Fails for empty, binary and header-less files.
pub fn sniff(path: &Path) -> Result<Detected, ImportError> {
    let err = |kind| ImportError::new(path, kind);
    let mut file = File::open(path).map_err(|e| err(ImportErrorKind::Io(e)))?;
    let mut sample = Vec::with_capacity(SAMPLE_BYTES);
    (&mut file)
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(|e| err(ImportErrorKind::Io(e)))?;
    let truncated = sample.len() == SAMPLE_BYTES;
    if sample.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(err(ImportErrorKind::Empty));
    }
    let encoding = detect_encoding(&sample, truncated).map_err(err)?;
    let text = decode_sample(&sample, encoding);
    let line_ending = detect_line_ending(&text);
    let delimiter = detect_delimiter(&text);
    let (header, header_fields, notes) = read_header(&text, delimiter).map_err(err)?;
    Ok(Detected {
        encoding,
        delimiter: delimiter as char,
        line_ending,
        header,
        header_fields,
        notes,
    })
}

fn detect_encoding(sample: &[u8], truncated: bool) -> Result<Encoding, ImportErrorKind> {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(Encoding::Utf8Bom);
    }
    if sample.starts_with(&[0xFF, 0xFE]) {
        return Ok(Encoding::Utf16Le);
    }
    if sample.starts_with(&[0xFE, 0xFF]) {
        return Ok(Encoding::Utf16Be);
    }
    // UTF-16 without a BOM: ASCII text leaves a NUL in every other byte.
    let pairs = sample.len() / 2;
    if pairs >= 4 {
        let even_nul = sample.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_nul = sample
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|b| **b == 0)
            .count();
        if odd_nul * 10 > pairs * 7 && even_nul * 10 < pairs {
            return Ok(Encoding::Utf16Le);
        }
        if even_nul * 10 > pairs * 7 && odd_nul * 10 < pairs {
            return Ok(Encoding::Utf16Be);
        }
    }
    let controls = sample
        .iter()
        .filter(|b| matches!(**b, 0..=8 | 14..=26 | 28..=31))
        .count();
    if sample.contains(&0) || controls * 100 > sample.len() {
        return Err(ImportErrorKind::Binary {
            detail: format!(
                "{controls} control bytes in the first {} bytes",
                sample.len()
            ),
        });
    }
    // A file that is valid UTF-8, or UTF-8 with fewer stray bytes than real
    // multi-byte characters, is UTF-8 (the stray bytes are reported per value).
    // Invalid bytes and no multi-byte characters at all is the signature of
    // Excel's Windows-1252.
    let (valid_multibyte, invalid) = utf8_census(sample, truncated);
    if invalid == 0 || valid_multibyte > invalid {
        Ok(Encoding::Utf8)
    } else {
        Ok(Encoding::Windows1252)
    }
}

/// Counts well-formed multi-byte UTF-8 sequences and invalid bytes.
fn utf8_census(mut bytes: &[u8], truncated: bool) -> (usize, usize) {
    let (mut multibyte, mut invalid) = (0, 0);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                multibyte += s.chars().filter(|c| c.len_utf8() > 1).count();
                return (multibyte, invalid);
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                // SAFETY-free: `good` was just validated by from_utf8.
                multibyte += std::str::from_utf8(good)
                    .map(|s| s.chars().filter(|c| c.len_utf8() > 1).count())
                    .unwrap_or(0);
                match e.error_len() {
                    Some(n) => {
                        invalid += 1;
                        bytes = &rest[n..];
                    }
                    // An incomplete sequence at the end of a cut sample is not an error.
                    None => {
                        if !truncated {
                            invalid += 1;
                        }
                        return (multibyte, invalid);
                    }
                }
            }
        }
    }
}

fn decode_sample(sample: &[u8], encoding: Encoding) -> String {
    let enc = match encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => encoding_rs::UTF_8,
        Encoding::Utf16Le => encoding_rs::UTF_16LE,
        Encoding::Utf16Be => encoding_rs::UTF_16BE,
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
    };
    let (text, _, _) = enc.decode(sample);
    text.into_owned()
}

fn detect_line_ending(text: &str) -> LineEnding {
    let bytes = text.as_bytes();
    let (mut lf, mut crlf, mut cr) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                crlf += 1;
                i += 1;
            }
            b'\r' => cr += 1,
            b'\n' => lf += 1,
            _ => {}
        }
        i += 1;
    }
    match (lf > 0, crlf > 0, cr > 0) {
        (false, false, false) => LineEnding::None,
        (true, false, false) => LineEnding::Lf,
        (false, true, false) => LineEnding::CrLf,
        (false, false, true) => LineEnding::Cr,
        // Quoted fields may hold a different newline than the rows; go by the majority.
        _ if crlf > 2 * (lf + cr) => LineEnding::CrLf,
        _ if lf > 2 * (crlf + cr) => LineEnding::Lf,
        _ if cr > 2 * (crlf + lf) => LineEnding::Cr,
        _ => LineEnding::Mixed,
    }
}

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Picks the delimiter that splits the first lines into the same number of
/// fields most consistently (quotes respected), preferring more fields.
fn detect_delimiter(text: &str) -> u8 {
    let mut best = (b',', 0usize, 0usize); // (delimiter, consistent lines, fields)
    for d in DELIMITERS {
        let counts = field_counts(text, d, 50);
        let Some(&first) = counts.first() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        let consistent = counts.iter().filter(|&&c| c == first).count();
        if (consistent, first) > (best.1, best.2) {
            best = (d, consistent, first);
        }
    }
    best.0
}

/// Field counts of the first `max_rows` records, honouring quotes.
fn field_counts(text: &str, delimiter: u8, max_rows: usize) -> Vec<usize> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    while out.len() < max_rows {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => out.push(rec.len()),
            _ => break,
        }
    }
    // The last record of a cut sample may be partial.
    if out.len() > 2 {
        out.pop();
    }
    out
}

fn read_header(
    text: &str,
    delimiter: u8,
) -> Result<(Vec<String>, usize, Vec<String>), ImportErrorKind> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Err(ImportErrorKind::Empty),
        Err(e) => {
            return Err(ImportErrorKind::NoHeader {
                detail: e.to_string(),
            })
        }
    }
    let raw: Vec<&str> = rec
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .collect();
    let header_fields = raw.len();
    // Trailing empty columns (an Excel habit) are not columns.
    let last = raw.iter().rposition(|h| !h.is_empty()).map_or(0, |i| i + 1);
    let raw = &raw[..last];
    if raw.is_empty() {
        return Err(ImportErrorKind::NoHeader {
            detail: "the first row is empty".into(),
        });
    }
    let data_like: Vec<&str> = raw.iter().copied().filter(|h| looks_like_data(h)).collect();
    if !data_like.is_empty() && data_like.len() * 2 >= raw.len() {
        return Err(ImportErrorKind::NoHeader {
            detail: format!(
                "the first row looks like data, not column names (for example `{}`); add a header row",
                data_like[0]
            ),
        });
    }
    let mut notes = Vec::new();
    let mut header: Vec<String> = Vec::with_capacity(raw.len());
    for (i, h) in raw.iter().enumerate() {
        let base = if h.is_empty() {
            format!("column {}", i + 1)
        } else {
            h.to_string()
        };
        let mut name = base.clone();
        let mut n = 1;
        while header.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            n += 1;
            name = format!("{base} ({n})");
        }
        if n > 1 {
            notes.push(format!(
                "column {} is also called `{base}`; it is read as `{name}`",
                i + 1
            ));
        }
        if h.is_empty() {
            notes.push(format!(
                "column {} has no name; it is read as `{name}`",
                i + 1
            ));
        }
        header.push(name);
    }
    Ok((header, header_fields, notes))
}

/// Whether a header cell looks like a value rather than a column name.
fn looks_like_data(h: &str) -> bool {
    if h.is_empty() {
        return false;
    }
    let digits = h.chars().filter(|c| c.is_ascii_digit()).count();
    h.contains('@') || digits * 2 > h.chars().count() || h.parse::<f64>().is_ok()
}

/// Opens `path` as a stream of UTF-8 (or, for UTF-8 files, of the file's own
/// bytes: stray invalid bytes are dealt with per value by the pipeline).
/// Returns the reader and a counter of file bytes consumed.
pub fn open_decoded(
    path: &Path,
    detected: &Detected,
) -> Result<(Box<dyn Read + Send>, ByteCounter), ImportError> {
    let file = File::open(path).map_err(|e| ImportError::new(path, ImportErrorKind::Io(e)))?;
    let count = ByteCounter::default();
    let counted = CountedSend {
        inner: file,
        count: count.clone(),
    };
    let reader: Box<dyn Read + Send> = match detected.encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => {
            Box::new(SkipBom::new(BufReader::with_capacity(1 << 20, counted)))
        }
        other => {
            let enc = match other {
                Encoding::Utf16Le => encoding_rs::UTF_16LE,
                Encoding::Utf16Be => encoding_rs::UTF_16BE,
                _ => encoding_rs::WINDOWS_1252,
            };
            Box::new(BufReader::with_capacity(
                1 << 20,
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(enc))
                    .bom_override(true)
                    .build(counted),
            ))
        }
    };
    Ok((reader, count))
}

/// Bytes of the file read so far; shared with the thread that reads.
#[derive(Debug, Clone, Default)]
pub struct ByteCounter(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl ByteCounter {
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

struct CountedSend<R> {
    inner: R,
    count: ByteCounter,
}

impl<R: Read> Read for CountedSend<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .0
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Drops a leading UTF-8 byte order mark.
struct SkipBom<R> {
    inner: R,
    checked: bool,
}

impl<R: Read> SkipBom<R> {
    fn new(inner: R) -> Self {
        SkipBom {
            inner,
            checked: false,
        }
    }
}

impl<R: io::BufRead> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.checked {
            self.checked = true;
            let head = self.inner.fill_buf()?;
            if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.inner.consume(3);
            }
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff_bytes(bytes: &[u8]) -> Result<Detected, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, bytes).unwrap();
        sniff(&path)
    }

    #[test]
    fn utf8_comma_lf() {
        let d = sniff_bytes(b"Email,First Name\na@b.co,Ann\n").unwrap();
        assert_eq!(
            (d.encoding, d.delimiter, d.line_ending),
            (Encoding::Utf8, ',', LineEnding::Lf)
        );
        assert_eq!(d.header, ["Email", "First Name"]);
    }

    #[test]
    fn utf8_bom_semicolon_crlf() {
        let d = sniff_bytes("\u{feff}E-Mail;Vorname;Betrag\r\na@b.de;Jörg;1.234,50\r\n".as_bytes())
            .unwrap();
        assert_eq!(
            (d.encoding, d.delimiter, d.line_ending),
            (Encoding::Utf8Bom, ';', LineEnding::CrLf)
        );
        assert_eq!(d.header[0], "E-Mail");
    }

    #[test]
    fn utf16_le_and_be_with_bom_tab() {
        let text = "Email\tName\r\na@b.co\tZoë\r\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let d = sniff_bytes(&le).unwrap();
        assert_eq!((d.encoding, d.delimiter), (Encoding::Utf16Le, '\t'));
        assert_eq!(d.header, ["Email", "Name"]);
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(sniff_bytes(&be).unwrap().encoding, Encoding::Utf16Be);
    }

    #[test]
    fn windows_1252_and_old_mac_line_endings() {
        // "Müller" and "café" in Windows-1252, rows ended by lone CRs.
        let d = sniff_bytes(b"Name|City\rM\xfcller|caf\xe9\rX|Y\r").unwrap();
        assert_eq!(
            (d.encoding, d.delimiter, d.line_ending),
            (Encoding::Windows1252, '|', LineEnding::Cr)
        );
    }

    #[test]
    fn a_stray_byte_in_utf8_text_stays_utf8() {
        let mut bytes = "Name,City\nZoë,Köln\nJosé,Málaga\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"Bad,caf\xe9\n");
        assert_eq!(sniff_bytes(&bytes).unwrap().encoding, Encoding::Utf8);
    }

    #[test]
    fn quoted_newlines_do_not_confuse_the_delimiter() {
        let d = sniff_bytes(b"a;b;c\n\"x,\ny,z\";2;3\n4;5;6\n").unwrap();
        assert_eq!(d.delimiter, ';');
    }

    #[test]
    fn duplicate_and_empty_headers_are_named_and_noted() {
        let d = sniff_bytes(b"Email,Email,,Name,,\na,b,c,d,,\n").unwrap();
        assert_eq!(d.header, ["Email", "Email (2)", "column 3", "Name"]);
        assert_eq!(d.notes.len(), 2);
    }

    #[test]
    fn empty_binary_and_headerless_files_fail() {
        assert!(matches!(
            sniff_bytes(b"").unwrap_err().kind(),
            ImportErrorKind::Empty
        ));
        assert!(matches!(
            sniff_bytes(b"  \n\n").unwrap_err().kind(),
            ImportErrorKind::Empty
        ));
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";
        assert!(matches!(
            sniff_bytes(png).unwrap_err().kind(),
            ImportErrorKind::Binary { .. }
        ));
        let e = sniff_bytes(b"ann@example.com,Ann,42\nbob@example.com,Bob,7\n").unwrap_err();
        assert!(matches!(e.kind(), ImportErrorKind::NoHeader { .. }), "{e}");
        assert!(e.to_string().contains("ann@example.com"), "{e}");
    }
}
