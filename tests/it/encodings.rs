//! The ways real exports break importers (FORMATS.md): BOMs, UTF-16 and
//! Windows-1252 from Excel, `;` delimiters, old Mac line endings, stray bytes,
//! quoted newlines, trailing empty columns, duplicate headers.

use cohort::ingest::{Encoding, LineEnding};

use crate::support::{contact, import, Scratch};

const TEXT: &str = "Email,First Name,City\r\nzoe@example.com,Zoë,Köln\r\n\"ann@example.com\",\"Ann\",\"Saint-Étienne\"\r\n";

#[test]
fn utf8_bom_utf16_le_be_and_windows_1252_import_the_same_values() {
    let s = Scratch::new();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(TEXT.as_bytes());
    let mut le = vec![0xFF, 0xFE];
    le.extend(TEXT.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let mut be = vec![0xFE, 0xFF];
    be.extend(TEXT.encode_utf16().flat_map(|u| u.to_be_bytes()));
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(TEXT);
    for (name, bytes, enc) in [
        ("bom.csv", bom, Encoding::Utf8Bom),
        ("le.csv", le, Encoding::Utf16Le),
        ("be.csv", be, Encoding::Utf16Be),
        ("cp1252.csv", cp1252.into_owned(), Encoding::Windows1252),
    ] {
        let mut ws = cohort::store::Workspace::open(s.path(&format!("{name}.cohort"))).unwrap();
        let f = s.write(name, bytes);
        let r = import(&mut ws, &f);
        assert_eq!(r.plan.detected.encoding, enc, "{name}");
        assert_eq!(r.plan.detected.line_ending, LineEnding::CrLf, "{name}");
        assert_eq!(r.rows_read, 2, "{name}");
        assert_eq!(
            contact(&ws, "zoe@example.com", "first_name").as_deref(),
            Some("Zoë"),
            "{name}"
        );
        assert_eq!(
            contact(&ws, "ann@example.com", "city").as_deref(),
            Some("Saint-Étienne"),
            "{name}"
        );
    }
}

#[test]
fn semicolons_old_mac_line_endings_quoted_newlines_and_trailing_columns() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let f = s.write(
        "excel_eu.csv",
        "Email;First Name;Notes;;\rjo@example.com;Jo;\"line one\rline two; still notes\";;\rmo@example.com;Mo;;;\r",
    );
    let r = import(&mut ws, &f);
    assert_eq!(
        (r.plan.detected.delimiter, r.plan.detected.line_ending),
        (';', LineEnding::Cr)
    );
    assert_eq!(r.plan.detected.header, ["Email", "First Name", "Notes"]);
    assert_eq!(r.rows_read, 2);
    assert_eq!(r.rows_rejected, 0);
    let attrs = contact(&ws, "jo@example.com", "attributes").unwrap();
    assert!(
        attrs.contains("line one\\rline two; still notes"),
        "{attrs}"
    );
}

#[test]
fn a_stray_non_utf8_byte_is_read_as_windows_1252_and_flagged() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    // A UTF-8 file (plenty of UTF-8 accents) with one row typed in by a Windows-1252 tool.
    let mut bytes = "Email,First Name,City\nzoe@example.com,Zoë,Köln\nchloe@example.com,Chloé,Besançon\nrene@example.com,René,Zürich\n".as_bytes().to_vec();
    bytes.extend_from_slice(b"jose@example.com,Jos\xe9,M\xe1laga\n");
    let f = s.write("stray.csv", bytes);
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.detected.encoding, Encoding::Utf8);
    assert_eq!(
        contact(&ws, "chloe@example.com", "city").as_deref(),
        Some("Besançon")
    );
    assert_eq!(
        contact(&ws, "jose@example.com", "first_name").as_deref(),
        Some("José")
    );
    assert_eq!(
        contact(&ws, "jose@example.com", "city").as_deref(),
        Some("Málaga")
    );
    assert_eq!(
        r.flagged_by_reason
            .iter()
            .find(|c| c.code == "encoding")
            .map(|c| c.count),
        Some(2)
    );
}

#[test]
fn duplicate_header_names_are_both_kept() {
    let s = Scratch::new();
    let mut ws = s.workspace();
    let f = s.write(
        "dups.csv",
        "Email,Phone,Phone\nann@example.com,+1 617 555 0134,+1 617 555 0199\n",
    );
    let r = import(&mut ws, &f);
    assert_eq!(r.plan.detected.header, ["Email", "Phone", "Phone (2)"]);
    assert_eq!(
        contact(&ws, "ann@example.com", "phone").as_deref(),
        Some("+16175550134")
    );
    let attrs = contact(&ws, "ann@example.com", "attributes").unwrap();
    assert!(
        attrs.contains("\"Phone (2)\":\"+1 617 555 0199\""),
        "{attrs}"
    );
}
