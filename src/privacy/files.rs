//! Files beside the workspace that name a person, for erasure: campaign
//! exports (audience CSVs with rendered subjects and bodies, folders of
//! .eml messages, zips of them; their paths are in `campaign_exports`),
//! right-of-access exports and uploaded CSVs in the app's scratch folder.
//!
//! An erasure plans what happens to each file (so the preview can list
//! them) and carries the plan out after its transaction commits:
//! - a CSV (an export, an upload) is rewritten without the rows that name
//!   the person, so everyone else's rows stay usable;
//! - an .eml message, a zip of messages or a file that cannot be read as
//!   CSV is deleted when it names the person (a zip is one file: it goes
//!   whole, as re-exporting the campaign rebuilds it);
//! - a right-of-access export folder is about one person: it goes whole.
//!
//! "Names the person" means: holds one of their email addresses or phone
//! numbers (also as ad platforms hash them: SHA-256 of the lowercased
//! address, of the E.164 number with and without `+`), or has a cell that
//! is exactly one of their customer ids or device ids (short ids are only
//! matched as whole cells, so `c2` does not hit `abc2`).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

use super::erase::{sql, Error, Result};

/// What erasure does to a file that names the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FileAction {
    /// A CSV kept without the person's rows.
    Rewritten,
    /// A file (or a right-of-access export folder) removed.
    Deleted,
}

/// A file beside the workspace that names the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct FileChange {
    pub path: String,
    pub action: FileAction,
    /// Rows taken out of a rewritten CSV (0 for a deleted file).
    #[ts(type = "number")]
    pub rows: u64,
}

/// What identifies the person in a file.
#[derive(Debug, Default)]
pub(crate) struct Needles {
    /// Lowercase text searched anywhere: addresses, E.164 numbers, their
    /// national digits, and the hex SHA-256 forms ad exports carry.
    anywhere: Vec<String>,
    /// Ids matched only as a whole (trimmed) cell.
    cells: BTreeSet<String>,
}

impl Needles {
    pub(crate) fn new<'a>(
        emails: impl IntoIterator<Item = &'a String>,
        phones: impl IntoIterator<Item = &'a String>,
        ids: impl IntoIterator<Item = &'a String>,
    ) -> Needles {
        let mut n = Needles::default();
        let sha = crate::campaigns::safe_csv::sha256_hex;
        for e in emails {
            let e = e.trim().to_lowercase();
            if e.is_empty() {
                continue;
            }
            n.anywhere.push(sha(&e));
            n.anywhere.push(e);
        }
        for p in phones {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            n.anywhere.push(sha(p));
            n.anywhere.push(sha(&digits));
            // The national number as typed without punctuation: the last
            // nine digits, as the rejected-row check reads them.
            if digits.len() >= 9 {
                n.anywhere.push(digits[digits.len() - 9..].to_string());
            }
            n.anywhere.push(p.to_lowercase());
        }
        n.cells = ids
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        n
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.anywhere.is_empty() && self.cells.is_empty()
    }

    /// Whether free text (a message, a JSON file) names the person.
    fn text(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        if self.anywhere.iter().any(|n| lower.contains(n.as_str())) {
            return true;
        }
        // A number written with punctuation, e.g. (646) 391-7788.
        self.phone_digits_in(&lower)
    }

    /// Phone digits inside runs of digits and phone punctuation.
    fn phone_digits_in(&self, text: &str) -> bool {
        let nationals: Vec<&String> = self
            .anywhere
            .iter()
            .filter(|n| n.len() == 9 && n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        if nationals.is_empty() {
            return false;
        }
        text.split(|c: char| !(c.is_ascii_digit() || " ()-.+/".contains(c)))
            .map(|run| run.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| d.len() >= 9)
            .any(|d| nationals.iter().any(|n| d.contains(n.as_str())))
    }

    /// Whether a whole text could name the person: a quick scan before a
    /// file is read cell by cell (most files do not).
    fn could_name(&self, text: &str) -> bool {
        self.cells.iter().any(|id| text.contains(id.as_str())) || self.text(text)
    }

    /// Whether a CSV cell names the person.
    fn cell(&self, cell: &str) -> bool {
        self.cells.contains(cell.trim()) || self.text(cell)
    }
}

/// The files beside the workspace that name the person, and what erasure
/// will do to each. Reads only. `scratch`: the apps' scratch folders
/// (uploads, right-of-access exports); a folder given twice is read once.
pub(crate) fn plan(
    conn: &Connection,
    needles: &Needles,
    scratch: &[PathBuf],
) -> Result<Vec<FileChange>> {
    let mut out = Vec::new();
    if needles.is_empty() {
        return Ok(out);
    }
    let mut st = conn
        .prepare("SELECT DISTINCT path FROM campaign_exports ORDER BY path")
        .map_err(sql("read the campaign exports"))?;
    let exports: Vec<String> = st
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql("read the campaign exports"))?;
    for path in exports {
        let path = PathBuf::from(path);
        if path.is_dir() {
            // A folder of .eml messages, one per recipient.
            for entry in entries(&path)? {
                if entry.is_file() && names_in_file(needles, &entry)? {
                    out.push(deleted(&entry));
                }
            }
        } else if path.is_file() {
            out.extend(plan_file(needles, &path)?);
        }
    }
    let mut seen = BTreeSet::new();
    for scratch in scratch {
        if !seen.insert(std::fs::canonicalize(scratch).unwrap_or_else(|_| scratch.clone())) {
            continue;
        }
        let uploads = scratch.join("uploads");
        if uploads.is_dir() {
            for entry in entries(&uploads)? {
                if entry.is_file() {
                    out.extend(plan_file(needles, &entry)?);
                }
            }
        }
        let access = scratch.join("person-exports");
        if access.is_dir() {
            for dir in entries(&access)? {
                let names = if dir.is_dir() {
                    let mut any = false;
                    for f in entries(&dir)? {
                        if f.is_file() && names_in_file(needles, &f)? {
                            any = true;
                            break;
                        }
                    }
                    any
                } else {
                    dir.is_file() && names_in_file(needles, &dir)?
                };
                if names {
                    out.push(deleted(&dir));
                }
            }
        }
    }
    Ok(out)
}

/// Carries out a plan (after the erasure committed). Each CSV is scanned
/// again, so a file that changed since the plan loses exactly the rows
/// naming the person now. Returns what was done.
pub(crate) fn apply(needles: &Needles, plan: &[FileChange]) -> Result<Vec<FileChange>> {
    let mut done = Vec::new();
    for change in plan {
        let path = Path::new(&change.path);
        match change.action {
            FileAction::Deleted => {
                let r = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                match r {
                    Ok(()) => done.push(change.clone()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(path, "delete", e)),
                }
            }
            FileAction::Rewritten => {
                if !path.exists() {
                    continue;
                }
                let Some(csv) = read_csv_text(path)? else {
                    // No longer CSV: it cannot be trimmed, so it goes.
                    std::fs::remove_file(path).map_err(|e| io(path, "delete", e))?;
                    done.push(deleted(path));
                    continue;
                };
                let rows = rewrite_csv(needles, path, &csv)?;
                if rows > 0 {
                    done.push(FileChange {
                        rows,
                        ..change.clone()
                    });
                }
            }
        }
    }
    Ok(done)
}

fn deleted(path: &Path) -> FileChange {
    FileChange {
        path: path.to_string_lossy().into_owned(),
        action: FileAction::Deleted,
        rows: 0,
    }
}

fn io(path: &Path, what: &str, source: std::io::Error) -> Error {
    Error::Io {
        context: format!("{what} {}", path.display()),
        source,
    }
}

/// A folder's entries, sorted (so previews list files in a stable order).
fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, "read the folder", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    Ok(out)
}

/// One file: a zip (by its entries), a CSV (by rows) or any other file
/// (by its text).
fn plan_file(needles: &Needles, path: &Path) -> Result<Option<FileChange>> {
    if is_zip(path) {
        return Ok(names_in_zip(needles, path)?.then(|| deleted(path)));
    }
    match read_csv_text(path)? {
        Some(csv) => {
            let rows = rows_naming(needles, &csv)?;
            Ok((rows > 0).then(|| FileChange {
                path: path.to_string_lossy().into_owned(),
                action: FileAction::Rewritten,
                rows,
            }))
        }
        None => Ok(names_in_file(needles, path)?.then(|| deleted(path))),
    }
}

fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

fn names_in_zip(needles: &Needles, path: &Path) -> Result<bool> {
    let file = std::fs::File::open(path).map_err(|e| io(path, "open", e))?;
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        // Not a readable zip after all: judge its bytes.
        return names_in_file(needles, path);
    };
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| io(path, "read", std::io::Error::other(e)))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| io(path, "read", e))?;
        if needles.text(&String::from_utf8_lossy(&bytes)) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn names_in_file(needles: &Needles, path: &Path) -> Result<bool> {
    if is_zip(path) {
        return names_in_zip(needles, path);
    }
    let bytes = std::fs::read(path).map_err(|e| io(path, "read", e))?;
    Ok(needles.text(&String::from_utf8_lossy(&bytes)))
}

/// A CSV as UTF-8 text with its delimiter and whether it began with a
/// byte-order mark; `None` when the file is not UTF-8 text in a CSV file
/// name (such a file is judged whole instead).
struct CsvText {
    text: String,
    delimiter: u8,
    bom: bool,
}

fn read_csv_text(path: &Path) -> Result<Option<CsvText>> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(ext.as_str(), "csv" | "tsv" | "txt") {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| io(path, "read", e))?;
    let bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let Ok(text) = String::from_utf8(bytes[if bom { 3 } else { 0 }..].to_vec()) else {
        return Ok(None);
    };
    // The delimiter the header line uses most.
    let header = text.lines().next().unwrap_or("");
    let delimiter = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    Ok(Some(CsvText {
        text,
        delimiter,
        bom,
    }))
}

fn reader(csv: &CsvText) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(csv.delimiter)
        .from_reader(csv.text.as_bytes())
}

/// Data rows (after the header) naming the person.
fn rows_naming(needles: &Needles, csv: &CsvText) -> Result<u64> {
    if !needles.could_name(&csv.text) {
        return Ok(0);
    }
    let mut n = 0;
    for (i, rec) in reader(csv).records().enumerate() {
        let Ok(rec) = rec else { continue };
        if i > 0 && rec.iter().any(|c| needles.cell(c)) {
            n += 1;
        }
    }
    Ok(n)
}

/// Writes the CSV again without the rows naming the person (through a
/// temporary file and a rename, so a failure leaves the old file whole).
fn rewrite_csv(needles: &Needles, path: &Path, csv: &CsvText) -> Result<u64> {
    let mut removed = 0;
    let mut out: Vec<u8> = Vec::with_capacity(csv.text.len() + 3);
    if csv.bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .delimiter(csv.delimiter)
            .from_writer(&mut out);
        for (i, rec) in reader(csv).records().enumerate() {
            let rec = rec.map_err(|e| io(path, "read", std::io::Error::other(e)))?;
            if i > 0 && rec.iter().any(|c| needles.cell(c)) {
                removed += 1;
                continue;
            }
            w.write_record(&rec)
                .map_err(|e| io(path, "rewrite", std::io::Error::other(e)))?;
        }
        w.flush().map_err(|e| io(path, "rewrite", e))?;
    }
    if removed == 0 {
        return Ok(0);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.erasing"));
    std::fs::write(&temp, &out).map_err(|e| io(&temp, "write", e))?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io(path, "replace", e)
    })?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles() -> Needles {
        Needles::new(
            &["zq@example.com".to_string()],
            &["+14155550199".to_string()],
            &["c2".to_string(), "dev-77".to_string()],
        )
    }

    #[test]
    fn names_by_address_hash_number_and_whole_id() {
        let n = needles();
        assert!(n.cell("ZQ@Example.com"));
        assert!(n.cell(&crate::campaigns::safe_csv::sha256_hex("zq@example.com")));
        assert!(n.cell(&crate::campaigns::safe_csv::sha256_hex("14155550199")));
        assert!(n.cell("(415) 555-0199"));
        assert!(n.cell(" c2 "));
        assert!(n.cell("dev-77"));
        assert!(!n.cell("abc2"), "short ids only as whole cells");
        assert!(!n.cell("ann@example.com"));
        assert!(!n.cell("(415) 555-0100"));
        assert!(n.text("To: Zebedee <zq@example.com>\r\n"));
        assert!(!n.text("To: Ann <ann@example.com>\r\nOrder c2 ships"));
    }

    #[test]
    fn a_csv_loses_only_the_persons_rows_and_keeps_its_bom() {
        let dir = tempfile::tempdir().unwrap();
        let exports = dir.path().join("exports");
        std::fs::create_dir_all(&exports).unwrap();
        let csv = exports.join("a.csv");
        std::fs::write(
            &csv,
            "\u{FEFF}email,body\nann@example.com,\"Hi Ann,\nsee you\"\nzq@example.com,\"Hi Zebedee\"\n",
        )
        .unwrap();
        let eml = exports.join("mail");
        std::fs::create_dir_all(&eml).unwrap();
        std::fs::write(eml.join("1.eml"), "To: zq@example.com\r\n\r\nHi").unwrap();
        std::fs::write(eml.join("2.eml"), "To: ann@example.com\r\n\r\nHi").unwrap();
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE campaign_exports (path TEXT)")
            .unwrap();
        for p in [&csv, &eml] {
            conn.execute(
                "INSERT INTO campaign_exports VALUES (?1)",
                [p.to_string_lossy()],
            )
            .unwrap();
        }
        let scratch = dir.path().join("scratch");
        let access = scratch.join("person-exports").join("person-1");
        std::fs::create_dir_all(&access).unwrap();
        std::fs::write(access.join("person.json"), "{\"email\":\"zq@example.com\"}").unwrap();
        let other = scratch.join("person-exports").join("person-2");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("person.json"), "{\"email\":\"ann@example.com\"}").unwrap();

        let n = needles();
        let planned = plan(&conn, &n, std::slice::from_ref(&scratch)).unwrap();
        let summary: Vec<(FileAction, u64)> = planned.iter().map(|c| (c.action, c.rows)).collect();
        assert_eq!(
            summary,
            vec![
                (FileAction::Rewritten, 1),
                (FileAction::Deleted, 0),
                (FileAction::Deleted, 0)
            ],
            "{planned:?}"
        );
        // Planning changed nothing.
        assert!(eml.join("1.eml").exists() && access.exists());
        let done = apply(&n, &planned).unwrap();
        assert_eq!(done, planned);
        let text = std::fs::read_to_string(&csv).unwrap();
        assert_eq!(
            text,
            "\u{FEFF}email,body\nann@example.com,\"Hi Ann,\nsee you\"\n"
        );
        assert!(!eml.join("1.eml").exists());
        assert!(eml.join("2.eml").exists());
        assert!(!access.exists());
        assert!(other.exists());
        // Nothing left to do.
        assert!(plan(&conn, &n, std::slice::from_ref(&scratch))
            .unwrap()
            .is_empty());
    }
}
