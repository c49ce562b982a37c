//! Errors that stop an import. Problems with single rows or values are not
//! errors: they are data ([`super::Problem`]) in the import report.

use std::path::{Path, PathBuf};

/// An import that could not run. Says which file, and where in it when that
/// is known. Boxed so `Result<_, ImportError>` stays one pointer wide.
#[derive(Debug)]
pub struct ImportError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    file: PathBuf,
    kind: ImportErrorKind,
}

#[derive(Debug)]
#[non_exhaustive]
pub enum ImportErrorKind {
    Io(std::io::Error),
    Empty,
    Binary {
        detail: String,
    },
    NoHeader {
        detail: String,
    },
    /// The CSV structure broke at a row (e.g. an unterminated quote at the end).
    Csv {
        row: u64,
        detail: String,
    },
    UnknownPreset {
        preset: String,
        known: Vec<&'static str>,
    },
    PresetKindMismatch {
        preset: String,
        preset_kind: super::Kind,
        kind: super::Kind,
    },
    UnknownColumn {
        column: String,
    },
    UnknownField {
        column: String,
        field: String,
        kind: super::Kind,
        known: Vec<&'static str>,
    },
    /// A field every row needs is not mapped from any column.
    MissingField {
        kind: super::Kind,
        field: &'static str,
        hint: String,
    },
    /// No preset matched and no kind was given.
    UnknownKind,
    Cancelled,
    Store(crate::store::StoreError),
}

impl ImportError {
    pub fn new(file: &Path, kind: ImportErrorKind) -> Self {
        ImportError(Box::new(Inner {
            file: file.to_path_buf(),
            kind,
        }))
    }

    pub fn file(&self) -> &Path {
        &self.0.file
    }

    pub fn kind(&self) -> &ImportErrorKind {
        &self.0.kind
    }

    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self.0.kind {
            ImportErrorKind::Io(_) => "io",
            ImportErrorKind::Empty => "empty_file",
            ImportErrorKind::Binary { .. } => "not_csv",
            ImportErrorKind::NoHeader { .. } => "no_header",
            ImportErrorKind::Csv { .. } => "csv_structure",
            ImportErrorKind::UnknownPreset { .. } => "unknown_preset",
            ImportErrorKind::PresetKindMismatch { .. } => "preset_kind_mismatch",
            ImportErrorKind::UnknownColumn { .. } => "unknown_column",
            ImportErrorKind::UnknownField { .. } => "unknown_field",
            ImportErrorKind::MissingField { .. } => "missing_field",
            ImportErrorKind::UnknownKind => "unknown_kind",
            ImportErrorKind::Cancelled => "cancelled",
            ImportErrorKind::Store(_) => "store",
        }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.0.file.display();
        match &self.0.kind {
            ImportErrorKind::Io(e) => write!(f, "{file}: {e}"),
            ImportErrorKind::Empty => write!(f, "{file}: the file is empty; nothing was imported"),
            ImportErrorKind::Binary { detail } => {
                write!(f, "{file}: this is not a CSV file (it looks binary: {detail}); nothing was imported")
            }
            ImportErrorKind::NoHeader { detail } => write!(f, "{file}: no header row: {detail}; nothing was imported"),
            ImportErrorKind::Csv { row, detail } => {
                write!(f, "{file}, row {}: the CSV is malformed ({detail}); nothing was imported", group(*row))
            }
            ImportErrorKind::UnknownPreset { preset, known } => {
                write!(f, "{file}: there is no preset called `{preset}`; presets are: {}", known.join(", "))
            }
            ImportErrorKind::PresetKindMismatch { preset, preset_kind, kind } => {
                write!(f, "{file}: preset `{preset}` reads {preset_kind}, not {kind}")
            }
            ImportErrorKind::UnknownColumn { column } => write!(f, "{file}: there is no column `{column}` in the header"),
            ImportErrorKind::UnknownField { column, field, kind, known } => write!(
                f,
                "{file}, column `{column}`: `{field}` is not a {kind} field; use one of {} or `attribute`",
                known.join(", ")
            ),
            ImportErrorKind::MissingField { kind, field, hint } => {
                write!(f, "{file}: no column is mapped to `{field}`, which every {kind} row needs; {hint}")
            }
            ImportErrorKind::UnknownKind => write!(
                f,
                "{file}: the columns match no known export; say what the file holds with --kind (contacts, orders, order_lines, events, products)"
            ),
            ImportErrorKind::Cancelled => write!(f, "{file}: import cancelled; the workspace is unchanged"),
            ImportErrorKind::Store(e) => write!(f, "{file}: {e}"),
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ImportErrorKind::Io(e) => Some(e),
            ImportErrorKind::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// 1204 → "1,204": row numbers read the way a spreadsheet user says them.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(7), "7");
        assert_eq!(group(1204), "1,204");
        assert_eq!(group(1_000_000), "1,000,000");
    }

    #[test]
    fn csv_error_names_file_and_row() {
        let e = ImportError::new(
            Path::new("orders.csv"),
            ImportErrorKind::Csv {
                row: 1204,
                detail: "x".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "orders.csv, row 1,204: the CSV is malformed (x); nothing was imported"
        );
        assert_eq!(e.code(), "csv_structure");
    }
}
