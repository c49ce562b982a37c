//! Import: CSV exports in, canonical records out.
//!
//! `plan` looks at a file (encoding, delimiter, header, preset, mapping, date
//! order) without changing anything; `preview` adds the first rows with an
//! inferred type per column; `import` streams the file through
//! standardisation into the workspace in one transaction.
//!
//! **Architecture invariant:** an import commits whole or not at all, and a
//! row that cannot be stored is never dropped silently: it lands in
//! `rejected_rows` with its row number, column, raw value and reason.

pub mod error;
pub mod fields;
mod history;
pub mod presets;
mod rows;
pub mod sniff;
pub mod standardise;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::{ImportError, ImportErrorKind};
pub use fields::{Field, Kind, ValueType};
pub use history::{
    import_exists, imports, rejected_rows, value_warnings, ImportSummary, StoredProblem,
};
pub use presets::{ColumnMapping, Preset};
pub use rows::Cell;
pub use sniff::{Detected, Encoding, LineEnding};

use crate::progress::{Progress, Tick};
use crate::store::{setting, Workspace};
use rows::{RowProcessor, TableLayout};
use standardise::{DateEvidence, DateOrder};

/// A problem with one row or value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Row number as a spreadsheet shows it: the header is row 1.
    pub row: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}", error::group(self.row))?;
        if let Some(c) = &self.column {
            write!(f, ", column `{c}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What the user asks of an import. Everything is optional: by default the
/// preset is recognised from the header.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: Option<Kind>,
    pub preset: Option<String>,
    /// `(column, field)`: map a column to a field, or keep it as an attribute
    /// with the field `attribute` (or an empty field).
    pub overrides: Vec<(String, String)>,
    /// Import even if the same file content was imported before.
    pub force: bool,
    /// Source name; defaults to the preset's label (generic files: the file name).
    pub source: Option<String>,
    /// The time the import starts, passed in so tests are reproducible.
    pub now: chrono::DateTime<chrono::Utc>,
}

impl ImportOptions {
    pub fn new(now: chrono::DateTime<chrono::Utc>) -> Self {
        ImportOptions {
            kind: None,
            preset: None,
            overrides: Vec::new(),
            force: false,
            source: None,
            now,
        }
    }
}

/// How the dates of one column are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateColumn {
    pub column: String,
    /// `month_first` (US), `day_first` (most of the world), or `not_needed`
    /// when no value is a numeric a/b/year date.
    pub order: &'static str,
    /// True when every numeric date could be read either way and the order
    /// came from the workspace's region, not from the data.
    pub ambiguous: bool,
    pub explanation: String,
}

/// What an import would do with a file: detected format, preset, mapping.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub file: PathBuf,
    pub file_name: String,
    pub file_size: u64,
    pub detected: Detected,
    pub preset: &'static str,
    pub preset_label: &'static str,
    pub kind: Kind,
    pub mapping: Vec<ColumnMapping>,
    pub dates: Vec<DateColumn>,
    /// Values applied to every row, e.g. email consent from a Mailchimp
    /// "unsubscribed" export's file name: `(field, value)`.
    pub constants: Vec<(String, String)>,
    pub notes: Vec<String>,
}

/// Looks at `path` and decides how it would be imported. Changes nothing.
/// `scan_all`: when a date column is ambiguous in the first rows, read the
/// whole file for evidence (imports do; previews do not).
pub fn plan(
    path: &Path,
    options: &ImportOptions,
    region: &str,
    scan_all: bool,
) -> Result<Plan, ImportError> {
    let err = |kind| ImportError::new(path, kind);
    let file_size = std::fs::metadata(path)
        .map_err(|e| err(ImportErrorKind::Io(e)))?
        .len();
    let detected = sniff::sniff(path)?;
    let header = &detected.header;
    let preset = match &options.preset {
        Some(id) => {
            let p = presets::find(id).ok_or_else(|| {
                err(ImportErrorKind::UnknownPreset {
                    preset: id.clone(),
                    known: presets::ids(),
                })
            })?;
            if let Some(kind) = options.kind.filter(|k| *k != p.kind) {
                return Err(err(ImportErrorKind::PresetKindMismatch {
                    preset: p.id.into(),
                    preset_kind: p.kind,
                    kind,
                }));
            }
            p
        }
        None => presets::detect(header, options.kind)
            .ok_or_else(|| err(ImportErrorKind::UnknownKind))?,
    };
    let kind = preset.kind;
    let mut mapping = presets::map_columns(preset, header);
    for (column, field) in &options.overrides {
        let m = mapping
            .iter_mut()
            .find(|m| m.column.eq_ignore_ascii_case(column.trim()))
            .ok_or_else(|| {
                err(ImportErrorKind::UnknownColumn {
                    column: column.clone(),
                })
            })?;
        let field = field.trim();
        m.field = if field.is_empty() || field.eq_ignore_ascii_case("attribute") {
            None
        } else {
            let f = kind.field(field).ok_or_else(|| {
                err(ImportErrorKind::UnknownField {
                    column: column.clone(),
                    field: field.into(),
                    kind,
                    known: kind.fields().iter().map(|f| f.name).collect(),
                })
            })?;
            Some(f.name.to_string())
        };
    }
    let mapped = |name: &str| mapping.iter().any(|m| m.field.as_deref() == Some(name));
    for f in kind.fields().iter().filter(|f| f.required) {
        if !mapped(f.name) {
            return Err(err(ImportErrorKind::MissingField {
                kind,
                field: f.name,
                hint: format!(
                    "map a column to it with --map COLUMN={}; the columns are: {}",
                    f.name,
                    header.join(", ")
                ),
            }));
        }
    }
    if kind == Kind::Contacts && !mapped("source_key") && !mapped("email") {
        return Err(err(ImportErrorKind::MissingField {
            kind,
            field: "source_key",
            hint: format!("contacts need a customer ID or an email column (--map COLUMN=source_key or --map COLUMN=email); the columns are: {}", header.join(", ")),
        }));
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut constants = Vec::new();
    let mut notes = detected.notes.clone();
    if preset.consent_from_file_name && !mapped("consent_email") {
        let lower = file_name.to_lowercase();
        let status = ["unsubscribed", "cleaned", "nonsubscribed", "subscribed"]
            .into_iter()
            .find(|s| lower.contains(s));
        if let Some(status) = status {
            let value = if status == "nonsubscribed" {
                "never subscribed"
            } else {
                status
            };
            constants.push(("consent_email".to_string(), value.to_string()));
            notes.push(format!(
                "email consent is read from the file name: every row is `{value}`"
            ));
        }
    }
    let fields: Vec<Option<&'static Field>> = mapping
        .iter()
        .map(|m| m.field.as_deref().and_then(|f| kind.field(f)))
        .collect();
    let dates = decide_date_orders(path, &detected, &fields, region, scan_all)?;
    Ok(Plan {
        file: path.to_path_buf(),
        file_name,
        file_size,
        detected,
        preset: preset.id,
        preset_label: preset.label,
        kind,
        mapping,
        dates,
        constants,
        notes,
    })
}

/// Rows sampled for date evidence before deciding whether to read on.
const DATE_SAMPLE_ROWS: u64 = 20_000;

fn decide_date_orders(
    path: &Path,
    detected: &Detected,
    fields: &[Option<&'static Field>],
    region: &str,
    scan_all: bool,
) -> Result<Vec<DateColumn>, ImportError> {
    let date_cols: Vec<usize> = (0..fields.len())
        .filter(|i| {
            matches!(
                fields[*i].map(|f| f.ty),
                Some(ValueType::Date | ValueType::DateTime)
            )
        })
        .collect();
    if date_cols.is_empty() {
        return Ok(Vec::new());
    }
    // (month_first, day_first, ambiguous) per date column
    let mut counts = vec![(0u64, 0u64, 0u64); date_cols.len()];
    let mut rdr = csv_reader(path, detected)?;
    let mut rec = csv::ByteRecord::new();
    let mut row = 0u64;
    loop {
        // Read on only while some column has dates that read either way and none that decide.
        let open = counts.iter().any(|c| c.2 > 0 && c.0 == 0 && c.1 == 0);
        if row >= DATE_SAMPLE_ROWS && !(scan_all && open) {
            break;
        }
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(ImportError::new(
                    path,
                    ImportErrorKind::Csv {
                        row: row + 2,
                        detail: e.to_string(),
                    },
                ))
            }
        }
        row += 1;
        for (k, &i) in date_cols.iter().enumerate() {
            let Some(v) = rec.get(i).and_then(|b| std::str::from_utf8(b).ok()) else {
                continue;
            };
            match standardise::date_evidence(v) {
                DateEvidence::MonthFirst => counts[k].0 += 1,
                DateEvidence::DayFirst => counts[k].1 += 1,
                DateEvidence::Ambiguous => counts[k].2 += 1,
                DateEvidence::NotNumericDate => {}
            }
        }
    }
    let region_order = if matches!(region, "US" | "PH" | "FM" | "MH" | "PW" | "BZ") {
        DateOrder::MonthFirst
    } else {
        DateOrder::DayFirst
    };
    Ok(date_cols
        .iter()
        .zip(counts)
        .map(|(&i, (mf, df, amb))| {
            let column = detected.header[i].clone();
            let name = |o: DateOrder| if o == DateOrder::MonthFirst { "month_first" } else { "day_first" };
            let (order, ambiguous, explanation) = match (mf, df) {
                (0, 0) if amb == 0 => (DateOrder::DayFirst, false, "no dates written as a/b/year".to_string()),
                (0, 0) => (
                    region_order,
                    true,
                    format!(
                        "all {amb} numeric dates read either way (day and month both 12 or less); read as {} from the workspace region {region}",
                        if region_order == DateOrder::MonthFirst { "MM/DD/YYYY" } else { "DD/MM/YYYY" }
                    ),
                ),
                (mf, 0) => (DateOrder::MonthFirst, false, format!("{} a day above 12 in second place: MM/DD/YYYY", dates_have(mf))),
                (0, df) => (DateOrder::DayFirst, false, format!("{} a day above 12 in first place: DD/MM/YYYY", dates_have(df))),
                (mf, df) => {
                    let o = if mf >= df { DateOrder::MonthFirst } else { DateOrder::DayFirst };
                    (o, true, format!("conflicting evidence ({mf} look MM/DD, {df} look DD/MM); read as the majority, the others are flagged"))
                }
            };
            let order = if mf == 0 && df == 0 && amb == 0 { "not_needed" } else { name(order) };
            DateColumn { column, order, ambiguous, explanation }
        })
        .collect())
}

pub(crate) fn date_order_of(plan: &Plan, column: &str) -> DateOrder {
    match plan
        .dates
        .iter()
        .find(|d| d.column == column)
        .map(|d| d.order)
    {
        Some("month_first") => DateOrder::MonthFirst,
        _ => DateOrder::DayFirst,
    }
}

/// A CSV reader positioned after the header.
fn csv_reader(
    path: &Path,
    detected: &Detected,
) -> Result<csv::Reader<Box<dyn std::io::Read + Send>>, ImportError> {
    Ok(csv_reader_counted(path, detected)?.0)
}

fn csv_reader_counted(
    path: &Path,
    detected: &Detected,
) -> Result<
    (
        csv::Reader<Box<dyn std::io::Read + Send>>,
        sniff::ByteCounter,
    ),
    ImportError,
> {
    let (input, counter) = sniff::open_decoded(path, detected)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(detected.delimiter as u8)
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut header = csv::ByteRecord::new();
    rdr.read_byte_record(&mut header).map_err(|e| {
        ImportError::new(
            path,
            ImportErrorKind::Csv {
                row: 1,
                detail: e.to_string(),
            },
        )
    })?;
    Ok((rdr, counter))
}

/// The first rows of a file, with the plan and a guessed type per column.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub plan: Plan,
    pub columns: Vec<PreviewColumn>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewColumn {
    pub name: String,
    /// `empty`, `integer`, `decimal`, `money`, `date`, `datetime`, `email`, `phone`, `boolean`, `text`
    pub inferred: &'static str,
    pub field: Option<String>,
}

/// Shows what importing `path` would do, with its first `rows` rows.
pub fn preview(
    path: &Path,
    options: &ImportOptions,
    region: &str,
    rows: usize,
) -> Result<Preview, ImportError> {
    let plan = plan(path, options, region, false)?;
    let mut rdr = csv_reader(path, &plan.detected)?;
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut rec = csv::ByteRecord::new();
    // Types are inferred from more rows than are shown.
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); plan.detected.header.len()];
    for n in 0..500usize {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(ImportError::new(
                    path,
                    ImportErrorKind::Csv {
                        row: n as u64 + 2,
                        detail: e.to_string(),
                    },
                ))
            }
        }
        let row: Vec<String> = (0..plan.detected.header.len())
            .map(|i| {
                rec.get(i)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default()
            })
            .collect();
        for (i, v) in row.iter().enumerate() {
            if !v.trim().is_empty() {
                samples[i].push(v.clone());
            }
        }
        if out.len() < rows {
            out.push(row);
        }
    }
    let phone_region: phonenumber::country::Id =
        region.parse().unwrap_or(phonenumber::country::Id::US);
    let columns = plan
        .detected
        .header
        .iter()
        .enumerate()
        .map(|(i, name)| PreviewColumn {
            name: name.clone(),
            inferred: infer_type(&samples[i], phone_region),
            field: plan.mapping[i].field.clone(),
        })
        .collect();
    Ok(Preview {
        plan,
        columns,
        rows: out,
    })
}

/// The type most (90%) of a column's sample values parse as.
fn infer_type(values: &[String], region: phonenumber::country::Id) -> &'static str {
    if values.is_empty() {
        return "empty";
    }
    let share = |ok: &dyn Fn(&str) -> bool| {
        values.iter().filter(|v| ok(v.trim())).count() * 10 >= values.len() * 9
    };
    let is_int = |v: &str| standardise::excel_guard_strip(v).parse::<i64>().is_ok();
    let is_date = |v: &str| {
        standardise::datetime(v, DateOrder::DayFirst).is_ok()
            || standardise::datetime(v, DateOrder::MonthFirst).is_ok()
    };
    if share(&|v| standardise::boolean(v).is_ok() && !is_int(v)) {
        "boolean"
    } else if share(&|v| standardise::email(v).is_ok()) {
        "email"
    } else if share(&|v| {
        v.contains(['-', ':', '/', '.']) && is_date(v) && v.parse::<f64>().is_err()
    }) {
        if share(&|v| {
            matches!(
                standardise::datetime(v, DateOrder::DayFirst)
                    .or(standardise::datetime(v, DateOrder::MonthFirst)),
                Ok(standardise::Timestamp::Date(_))
            )
        }) {
            "date"
        } else {
            "datetime"
        }
    } else if share(&|v| is_int(v) && v.len() < 12) {
        "integer"
    } else if share(&|v| v.parse::<f64>().is_ok()) {
        "decimal"
    } else if share(&|v| standardise::money(v).is_ok()) {
        "money"
    } else if share(&|v| {
        v.chars().filter(|c| c.is_ascii_digit()).count() >= 7
            && standardise::phone(v, region).is_ok()
    }) {
        "phone"
    } else {
        "text"
    }
}

/// Rows and values counted per table of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TableCounts {
    pub table: String,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    pub code: String,
    pub count: u64,
    /// The first problem of this kind, as an example.
    pub example: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// None when the file was skipped.
    pub import_id: Option<i64>,
    /// Set when the same content was imported before and `force` was off.
    pub duplicate_of: Option<i64>,
    pub source: String,
    pub plan: Plan,
    pub content_hash: String,
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub values_flagged: u64,
    pub tables: Vec<TableCounts>,
    pub rejected_by_reason: Vec<ReasonCount>,
    pub flagged_by_reason: Vec<ReasonCount>,
    /// Rows skipped because they name a person erased on request
    /// (`privacy::erase`): counted here, never stored.
    pub suppressed_erased: u64,
    pub seconds: f64,
}

/// Rows per batch handed from the reading thread to the writing one.
const BATCH_ROWS: usize = 2048;

struct Batch {
    rows: Vec<(rows::Processed, Option<String>)>,
    bytes: u64,
}

/// Imports `path` into the workspace in one transaction.
pub fn import(
    ws: &mut Workspace,
    path: &Path,
    options: &ImportOptions,
    progress: &mut dyn Progress,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let err = |kind| ImportError::new(path, kind);
    let store = |e| err(ImportErrorKind::Store(e));
    let region = ws.setting(setting::DEFAULT_REGION).map_err(store)?;
    let default_currency =
        standardise::currency_code(&ws.setting(setting::DEFAULT_CURRENCY).map_err(store)?)
            .unwrap_or("USD");
    let plan = plan(path, options, &region, true)?;
    let content_hash = hash_file(path, plan.file_size, started, progress)?;
    let source_name = options.source.clone().unwrap_or_else(|| {
        if presets::find(plan.preset).is_some_and(|p| p.is_generic()) {
            plan.file_name.clone()
        } else {
            plan.preset_label.to_string()
        }
    });
    let mut report = ImportReport {
        import_id: None,
        duplicate_of: None,
        source: source_name.clone(),
        plan,
        content_hash,
        rows_read: 0,
        rows_rejected: 0,
        values_flagged: 0,
        tables: Vec::new(),
        rejected_by_reason: Vec::new(),
        flagged_by_reason: Vec::new(),
        suppressed_erased: 0,
        seconds: 0.0,
    };
    if !options.force {
        let previous: Option<i64> = ws
            .conn()
            .query_row(
                "SELECT id FROM imports WHERE content_hash = ?1 ORDER BY id DESC LIMIT 1",
                [&report.content_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| store(ws.sql(e)))?;
        if let Some(previous) = previous {
            report.duplicate_of = Some(previous);
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    }

    let plan = &report.plan;
    let kind = plan.kind;
    let phone_region: phonenumber::country::Id =
        region.parse().unwrap_or(phonenumber::country::Id::US);
    let mut processor = RowProcessor::new(plan, phone_region, default_currency);
    // People erased on request stay erased: loaded once, so the row loop
    // hashes nothing unless somebody was.
    processor.suppress_erased(
        crate::privacy::erase::ErasedSet::load(ws.conn()).map_err(|e| store(ws.sql(e)))?,
    );
    let layouts: Vec<TableLayout> = processor.layouts.clone();
    let (mut rdr, counter) = csv_reader_counted(path, &plan.detected)?;
    let total_bytes = plan.file_size;
    let now = options.now;

    let path_text = path.to_string_lossy().into_owned();
    let ws_path = ws.path().to_path_buf();
    let sql_err = |e: rusqlite::Error| {
        ImportError::new(
            path,
            ImportErrorKind::Store(crate::store::classify(&ws_path, e)),
        )
    };
    let tx = ws.conn_mut().transaction().map_err(sql_err)?;
    // Foreign keys are checked at commit instead of after every row. With
    // `OR FAIL` below, this spares SQLite a statement journal (a page copy)
    // per row; the transaction still fails whole on any violation.
    tx.pragma_update(None, "defer_foreign_keys", "ON")
        .map_err(sql_err)?;
    let source_id =
        find_or_create_source(&tx, &source_name, kind, plan.preset, now).map_err(sql_err)?;
    tx.execute(
        "INSERT INTO imports (source_id, file_name, file_path, file_size, content_hash, kind, preset, mapping, detected, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            source_id,
            plan.file_name,
            path_text,
            plan.file_size as i64,
            report.content_hash,
            kind.as_str(),
            plan.preset,
            serde_json::to_string(&plan.mapping).expect("mapping serialises"),
            serde_json::to_string(&serde_json::json!({
                "encoding": plan.detected.encoding.label(),
                "delimiter": plan.detected.delimiter_label(),
                "line_ending": plan.detected.line_ending.label(),
                "dates": plan.dates,
                "constants": plan.constants,
                "notes": plan.notes,
            }))
            .expect("detected serialises"),
            iso(now),
        ],
    )
    .map_err(sql_err)?;
    let import_id = tx.last_insert_rowid();

    let mut tables: Vec<TableCounts> = layouts
        .iter()
        .map(|l| TableCounts {
            table: l.table.name().to_string(),
            ..Default::default()
        })
        .collect();
    let mut rejected: Vec<ReasonCount> = Vec::new();
    let mut flagged: Vec<ReasonCount> = Vec::new();
    let (mut rows_read, mut rows_rejected, mut values_flagged) = (0u64, 0u64, 0u64);
    let mut suppressed_erased = 0u64;
    let mut csv_error: Option<ImportError> = None;
    let mut cancelled = false;
    {
        let mut writers: Vec<TableWriter<'_>> = layouts
            .iter()
            .map(|l| TableWriter::new(&tx, l))
            .collect::<Result<_, _>>()
            .map_err(sql_err)?;
        let mut reject_stmt = tx
            .prepare("INSERT INTO rejected_rows (import_id, row_number, column_name, raw_value, reason_code, reason, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .map_err(sql_err)?;
        let mut warn_stmt = tx
            .prepare("INSERT INTO value_warnings (import_id, row_number, column_name, raw_value, reason_code, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(sql_err)?;
        let (sender, receiver) = mpsc::sync_channel::<Result<Batch, ImportError>>(4);
        let mut write_result: Result<(), rusqlite::Error> = Ok(());
        std::thread::scope(|scope| {
            // Reading, decoding and standardising run on their own thread so
            // that they overlap with SQLite's work on this one.
            scope.spawn(move || {
                let mut rec = csv::ByteRecord::new();
                let mut row_number = 1u64;
                loop {
                    let mut batch = Batch {
                        rows: Vec::with_capacity(BATCH_ROWS),
                        bytes: 0,
                    };
                    let mut done = false;
                    while batch.rows.len() < BATCH_ROWS {
                        match rdr.read_byte_record(&mut rec) {
                            Ok(true) => {}
                            Ok(false) => {
                                done = true;
                                break;
                            }
                            Err(e) => {
                                let _ = sender.send(Err(ImportError::new(
                                    path,
                                    ImportErrorKind::Csv {
                                        row: row_number + 1,
                                        detail: e.to_string(),
                                    },
                                )));
                                return;
                            }
                        }
                        row_number += 1;
                        // A blank line is not a row.
                        if rec.len() <= 1
                            && rec
                                .get(0)
                                .is_none_or(|f| f.iter().all(u8::is_ascii_whitespace))
                        {
                            continue;
                        }
                        let processed = processor.process(row_number, &rec);
                        let record_json = (!processed.rejection.is_empty()).then(|| {
                            serde_json::to_string(
                                &rec.iter()
                                    .map(|f| String::from_utf8_lossy(f))
                                    .collect::<Vec<_>>(),
                            )
                            .expect("strings serialise")
                        });
                        batch.rows.push((processed, record_json));
                    }
                    batch.bytes = counter.get();
                    if sender.send(Ok(batch)).is_err() || done {
                        return;
                    }
                }
            });
            let tally = |list: &mut Vec<ReasonCount>, p: &Problem| match list
                .iter_mut()
                .find(|r| r.code == p.code)
            {
                Some(r) => r.count += 1,
                None => list.push(ReasonCount {
                    code: p.code.to_string(),
                    count: 1,
                    example: p.to_string(),
                }),
            };
            for batch in receiver.iter() {
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        csv_error = Some(e);
                        break;
                    }
                };
                let r: Result<(), rusqlite::Error> = (|| {
                    for (processed, record_json) in &batch.rows {
                        rows_read += 1;
                        if processed.suppressed_erased {
                            suppressed_erased += 1;
                            continue;
                        }
                        if !processed.rejection.is_empty() {
                            rows_rejected += 1;
                            for p in &processed.rejection {
                                tally(&mut rejected, p);
                                reject_stmt.execute(params![
                                    import_id,
                                    p.row as i64,
                                    p.column,
                                    p.value,
                                    p.code,
                                    p.message,
                                    record_json
                                ])?;
                            }
                            continue;
                        }
                        for p in &processed.warnings {
                            values_flagged += 1;
                            tally(&mut flagged, p);
                            warn_stmt.execute(params![
                                import_id,
                                p.row as i64,
                                p.column,
                                p.value,
                                p.code,
                                p.message
                            ])?;
                        }
                        for rec in &processed.records {
                            let counts = &mut tables[rec.table];
                            match writers[rec.table].write(source_id, import_id, rec)? {
                                Written::Inserted => counts.inserted += 1,
                                Written::Updated => counts.updated += 1,
                                Written::Unchanged => counts.unchanged += 1,
                            }
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = r {
                    write_result = Err(e);
                    break;
                }
                progress.tick(&Tick {
                    stage: "Importing",
                    done: rows_read,
                    total: None,
                    bytes: batch.bytes,
                    total_bytes: Some(total_bytes),
                    elapsed: started.elapsed(),
                });
                if progress.is_cancelled() {
                    cancelled = true;
                    break;
                }
            }
            // Dropping the receiver stops the reader thread at its next send.
            drop(receiver);
        });
        write_result.map_err(sql_err)?;
    }
    if cancelled {
        return Err(err(ImportErrorKind::Cancelled));
    }
    if let Some(e) = csv_error {
        return Err(e);
    }
    // Consent evidence of the rows just written, set-based, in this
    // transaction: the ledger and the records land (or vanish) together.
    let consent_evidence = if crate::privacy::consent::import_carries_consent(plan) {
        crate::privacy::consent::record_import(&tx, import_id, &iso(now)).map_err(sql_err)?
    } else {
        0
    };
    let finished = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let primary = &tables[0];
    tx.execute(
        "UPDATE imports SET rows_read = ?2, rows_inserted = ?3, rows_updated = ?4, rows_unchanged = ?5, rows_rejected = ?6,
                values_flagged = ?7, table_counts = ?8, finished_at = ?9 WHERE id = ?1",
        params![
            import_id,
            rows_read as i64,
            primary.inserted as i64,
            primary.updated as i64,
            primary.unchanged as i64,
            rows_rejected as i64,
            values_flagged as i64,
            serde_json::to_string(&tables).expect("counts serialise"),
            iso(finished),
        ],
    )
    .map_err(sql_err)?;
    crate::privacy::audit::record(
        &tx,
        crate::privacy::audit::Action::Import,
        &iso(now),
        Some(&format!("import {import_id}")),
        &serde_json::json!({
            "source_id": source_id,
            "kind": kind.as_str(),
            "rows_read": rows_read,
            "rows_rejected": rows_rejected,
            "values_flagged": values_flagged,
            "suppressed_erased": suppressed_erased,
            // Consent changes this import brought (ledger rows written).
            "consent_evidence": consent_evidence,
            "tables": &tables,
        }),
    )
    .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    report.import_id = Some(import_id);
    report.suppressed_erased = suppressed_erased;
    report.rows_read = rows_read;
    report.rows_rejected = rows_rejected;
    report.values_flagged = values_flagged;
    report.tables = tables;
    report.rejected_by_reason = rejected;
    report.flagged_by_reason = flagged;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// SHA-256 of the file, streamed: the identity of an export for "imported before?".
fn hash_file(
    path: &Path,
    size: u64,
    started: Instant,
    progress: &mut dyn Progress,
) -> Result<String, ImportError> {
    use std::io::Read;
    let err = |e| ImportError::new(path, ImportErrorKind::Io(e));
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        if done % (64 << 20) < n as u64 {
            progress.tick(&Tick {
                stage: "Checking file",
                done: 0,
                total: None,
                bytes: done,
                total_bytes: Some(size),
                elapsed: started.elapsed(),
            });
            if progress.is_cancelled() {
                return Err(ImportError::new(path, ImportErrorKind::Cancelled));
            }
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn find_or_create_source(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    kind: Kind,
    preset: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<i64> {
    // A source holds one kind of record; the same name for another kind gets its own source.
    let name = match tx
        .query_row("SELECT kind FROM sources WHERE name = ?1", [name], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    {
        Some(k) if k != kind.as_str() => format!("{name} ({kind})"),
        _ => name.to_string(),
    };
    if let Some(id) = tx
        .query_row("SELECT id FROM sources WHERE name = ?1", [&name], |r| {
            r.get(0)
        })
        .optional()?
    {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO sources (name, kind, preset, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, kind.as_str(), preset, iso(now)],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The statements that write one table's records.
///
/// A plain `INSERT OR IGNORE` then, only when the key exists, an `UPDATE`
/// that changes the row only if its hash differs. An UPSERT (`ON CONFLICT DO
/// UPDATE`) would do both in one statement, but SQLite gives such a statement
/// a statement journal, copying a page for every row: the import would run at
/// half speed. Every NOT NULL column is filled by construction (the spine
/// always, required fields are checked by the row processor), so IGNORE can
/// only ever skip a row because its key exists.
struct TableWriter<'c> {
    insert: rusqlite::Statement<'c>,
    update: rusqlite::Statement<'c>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Inserted,
    Updated,
    Unchanged,
}

impl<'c> TableWriter<'c> {
    fn new(
        tx: &'c rusqlite::Transaction<'_>,
        layout: &TableLayout,
    ) -> rusqlite::Result<TableWriter<'c>> {
        let mut cols: Vec<&str> = vec![
            "source_id",
            "import_id",
            "source_key",
            "row_number",
            "row_hash",
        ];
        cols.extend(layout.columns.iter().copied());
        cols.extend(["raw", layout.table.extra_column()]);
        // Both statements number their parameters the same way, so one binding serves both.
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| !matches!(**c, "source_id" | "source_key"))
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        let t = layout.table.name();
        Ok(TableWriter {
            insert: tx.prepare(&format!(
                "INSERT OR IGNORE INTO {t} ({}) VALUES ({})",
                cols.join(", "),
                placeholders.join(", ")
            ))?,
            update: tx.prepare(&format!(
                "UPDATE {t} SET {} WHERE source_id = ?1 AND source_key = ?3 AND row_hash <> ?5",
                sets.join(", ")
            ))?,
        })
    }

    fn write(
        &mut self,
        source_id: i64,
        import_id: i64,
        rec: &rows::Record,
    ) -> rusqlite::Result<Written> {
        if bind(&mut self.insert, source_id, import_id, rec)?.raw_execute()? == 1 {
            return Ok(Written::Inserted);
        }
        Ok(
            match bind(&mut self.update, source_id, import_id, rec)?.raw_execute()? {
                0 => Written::Unchanged,
                _ => Written::Updated,
            },
        )
    }
}

fn bind<'s, 'c>(
    stmt: &'s mut rusqlite::Statement<'c>,
    source_id: i64,
    import_id: i64,
    rec: &rows::Record,
) -> rusqlite::Result<&'s mut rusqlite::Statement<'c>> {
    stmt.raw_bind_parameter(1, source_id)?;
    stmt.raw_bind_parameter(2, import_id)?;
    stmt.raw_bind_parameter(3, &rec.key)?;
    stmt.raw_bind_parameter(4, rec.row as i64)?;
    stmt.raw_bind_parameter(5, rec.hash)?;
    let mut i = 6;
    for cell in &rec.cells {
        stmt.raw_bind_parameter(i, cell)?;
        i += 1;
    }
    stmt.raw_bind_parameter(i, &rec.raw)?;
    stmt.raw_bind_parameter(i + 1, &rec.extra)?;
    Ok(stmt)
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Cell::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// "1 date has" / "3 dates have".
fn dates_have(n: u64) -> String {
    if n == 1 {
        "1 date has".into()
    } else {
        format!("{n} dates have")
    }
}
