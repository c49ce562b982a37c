//! Writing a campaign's audience to a file, previewing it, and the export
//! log.
//!
//! One pass: the members' consent and suppression evidence is read in two
//! set-based queries ([`Evidence::load`]), then one query streams the
//! profiles in id order and is merged with the (ascending) members. Rows
//! are rendered into a reused buffer of cells, a chunk at a time; hashed
//! formats hash a chunk's cells on rayon, then the chunk is written. The
//! file is written to a temporary name in the target folder and renamed
//! when complete, in the same transaction that logs the export and stores
//! the holdout: a failed export leaves no file and no log row. The same
//! transaction records every included recipient and its A/B variant in
//! `campaign_sends`; personalised content (rendered columns, .eml files)
//! comes from the caller through [`Personalisation`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::formats::{truncate, Format, Layout, ProfileView, EMAIL, PHONE, PROFILE_COLUMNS};
use super::holdout::{self, Holdout};
use super::pseudonymise::{self, Kind, Pseudonymiser};
use super::safe_csv::{hex, HashingWriter};
use super::suppression::{Evidence, Reason};
use super::{sql, Campaign, CampaignError, Result};

/// Meta does not use customer lists smaller than this.
pub const META_MIN_ROWS: u64 = 100;

/// Personalised content for [`export_with`], implemented by
/// `crate::templates::send`: the A/B variant each recipient gets, and
/// either columns rendered per chunk of rows or files written instead of
/// the CSV (one .eml per recipient). This module stays ignorant of
/// templates; it only decides who is included and logs what was sent.
pub trait Personalisation {
    /// The variant name of an included recipient ("" without a template).
    fn variant(&self, id: i64) -> String;
    /// Headers of the columns added after the layout's (CSV output).
    fn headers(&self) -> Vec<String> {
        Vec::new()
    }
    /// Renders the added columns for `ids` (ascending) into `cells`,
    /// row-major (`ids.len() × headers().len()`).
    fn render(&mut self, _conn: &Connection, _ids: &[i64], _cells: &mut [String]) -> Result<()> {
        Ok(())
    }
    /// Whether the export writes files (through the methods below) instead
    /// of a CSV.
    fn writes_files(&self) -> bool {
        false
    }
    /// Writes the files of `ids` (ascending) to a temporary place.
    fn write_files(&mut self, _conn: &Connection, _ids: &[i64]) -> Result<()> {
        Ok(())
    }
    /// Completes the temporary output: its SHA-256 (hex) and size.
    fn finish_files(&mut self) -> Result<(String, u64)> {
        Ok((String::new(), 0))
    }
    /// Moves the finished output to `ExportRequest::path` (inside the
    /// export's transaction, as the CSV's rename is).
    fn publish_files(&mut self) -> Result<()> {
        Ok(())
    }
    /// Removes the published output when the transaction fails.
    fn unpublish_files(&mut self) {}
    /// The format the export log records, when not the request's (`eml`).
    fn logged_format(&self) -> Option<&'static str> {
        None
    }
}

/// Rows rendered together when content columns are added (each row can
/// carry a whole HTML body).
const CONTENT_ROWS: usize = 512;

/// What to write and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub format: Format,
    /// Generic CSV only: profile fields and traits, in order; empty for the
    /// defaults (email, first_name, last_name, phone, country).
    #[serde(default)]
    pub columns: Vec<String>,
    /// Start the file with a UTF-8 BOM (Excel); ignored for Meta and Google
    /// Ads, which want plain UTF-8.
    #[serde(default)]
    pub bom: bool,
    pub path: PathBuf,
    /// Generic CSV only: the profile id, email and phone replaced by the
    /// workspace's keyed hash, names, street address, postcode and birth
    /// date left out (see [`super::pseudonymise`]).
    #[serde(default)]
    pub pseudonymise: bool,
}

/// Who a campaign reaches: everyone in the segment is exactly one of held
/// out, suppressed (under one reason) or included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub members: u64,
    pub held_out: u64,
    pub suppressed: u64,
    /// Every reason, in snake_case (`suppression_list`, `bounced`,
    /// `unsubscribed`, `no_consent`, `missing_address`), zeros included.
    pub suppressed_by_reason: BTreeMap<String, u64>,
    pub included: u64,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub export_id: i64,
    pub campaign_id: i64,
    /// As the export log records it: the format's name (`mailchimp`,
    /// `csv`…), or `eml` / `eml_zip` for one message file per recipient.
    pub format: String,
    pub path: PathBuf,
    pub members: u64,
    pub held_out: u64,
    pub suppressed: u64,
    pub suppressed_by_reason: BTreeMap<String, u64>,
    pub exported: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    pub bytes: u64,
    /// Things the marketer should know (e.g. a Meta list under 100 people).
    pub warnings: Vec<String>,
    /// Recipients per A/B variant ("" without a template), as recorded in
    /// `campaign_sends`.
    #[serde(default)]
    pub sent_by_variant: BTreeMap<String, u64>,
}

/// One row of the export log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub id: i64,
    pub campaign_id: i64,
    pub at: String,
    pub format: String,
    pub path: String,
    pub segment_id: i64,
    pub segment_version: Option<i64>,
    /// The segment definition used, as JSON text.
    pub definition: Option<String>,
    pub members: u64,
    pub held_out: u64,
    pub suppressed: u64,
    pub suppressed_by_reason: BTreeMap<String, u64>,
    pub exported: u64,
    pub sha256: String,
    pub bytes: u64,
}

/// Counts of one pass.
#[derive(Debug, Default)]
struct Tally {
    members: u64,
    held_out: u64,
    by_reason: [u64; Reason::ALL.len()],
    included: u64,
    /// Held out by hash and not yet stored.
    new_holdout: Vec<i64>,
    /// Every held-out member, ascending.
    held: Vec<i64>,
    /// The included members, ascending (one `campaign_sends` row each).
    sent: Vec<i64>,
}

impl Tally {
    fn reasons(&self) -> BTreeMap<String, u64> {
        Reason::ALL
            .iter()
            .zip(self.by_reason)
            .map(|(r, n)| (r.as_str().to_owned(), n))
            .collect()
    }

    fn suppressed(&self) -> u64 {
        self.by_reason.iter().sum()
    }
}

/// Members as an ascending, distinct list (copied only when they are not).
fn ascending(members: &[i64]) -> Cow<'_, [i64]> {
    if members.windows(2).all(|w| w[0] < w[1]) {
        Cow::Borrowed(members)
    } else {
        let mut v = members.to_vec();
        v.sort_unstable();
        v.dedup();
        Cow::Owned(v)
    }
}

const PROGRESS_EVERY: usize = 16_384;

/// The one pass over the members: decides held out / suppressed /
/// included, and hands each included profile to `include`.
fn scan(
    conn: &Connection,
    campaign: &Campaign,
    members: &[i64],
    layout: Option<&Layout>,
    progress: &mut dyn FnMut(u64, u64),
    mut include: impl FnMut(&ProfileView<'_, '_>) -> Result<()>,
) -> Result<Tally> {
    let members = ascending(members);
    let members: &[i64] = &members;
    let total = members.len() as u64;
    let holdout = Holdout::load(conn, campaign)?;
    let evidence = Evidence::load(conn, members)?;
    let mut tally = Tally {
        members: total,
        ..Tally::default()
    };
    progress(0, total);
    if members.is_empty() {
        return Ok(tally);
    }
    let mut select: Vec<String> = PROFILE_COLUMNS.iter().map(|c| format!("p.{c}")).collect();
    let mut join = "";
    if let Some(layout) = layout {
        select.extend(layout.extra_sql.iter().cloned());
        if layout.needs_traits {
            join = "LEFT JOIN profile_traits t ON t.profile_id = p.id";
        }
    }
    // Column names come from PROFILE_COLUMNS and the whitelist in Layout.
    let query = format!(
        "SELECT {} FROM profiles p {join} WHERE p.id BETWEEN ?1 AND ?2 ORDER BY p.id",
        select.join(", ")
    );
    let mut stmt = conn.prepare(&query).map_err(sql("read the profiles"))?;
    let mut rows = stmt
        .query(params![members[0], members[members.len() - 1]])
        .map_err(sql("read the profiles"))?;

    let channel = campaign.channel;
    let mut j = 0usize;
    // A member without a profile (merged away since the segment was
    // evaluated) has no address: suppressed as missing_address, never in
    // the holdout (which is drawn from people who could be sent to).
    let missing = |_: usize, tally: &mut Tally| {
        tally.by_reason[Reason::MissingAddress as usize] += 1;
    };
    let tick = |j: usize, progress: &mut dyn FnMut(u64, u64)| {
        if j % PROGRESS_EVERY == 0 {
            progress(j as u64, total);
        }
    };
    while let Some(row) = rows.next().map_err(sql("read the profiles"))? {
        let id: i64 = row.get(0).map_err(sql("read the profiles"))?;
        while j < members.len() && members[j] < id {
            missing(j, &mut tally);
            j += 1;
            tick(j, progress);
        }
        if j == members.len() {
            break;
        }
        if members[j] != id {
            continue;
        }
        // Suppression first, then the holdout among the eligible only: a
        // suppressed person in the holdout would be compared with
        // recipients though nobody could have sent to them (biasing the
        // uplift), and would be missing from the suppression counts. Who
        // is held out stays a hash of salt and id (stored, never exported).
        let view = ProfileView::read(row).map_err(sql("read the profiles"))?;
        match evidence.reason(j, channel, view.fields[EMAIL], view.fields[PHONE]) {
            Some(reason) => tally.by_reason[reason as usize] += 1,
            None if holdout.contains(id) => {
                tally.held_out += 1;
                tally.held.push(id);
                if holdout.is_new(id) {
                    tally.new_holdout.push(id);
                }
            }
            None => {
                tally.included += 1;
                tally.sent.push(id);
                include(&view)?;
            }
        }
        j += 1;
        tick(j, progress);
    }
    while j < members.len() {
        missing(j, &mut tally);
        j += 1;
    }
    progress(total, total);
    Ok(tally)
}

/// `path` made absolute, with its folder's symbolic links resolved: the
/// log (and whoever reads it later, from another working directory or the
/// app) then says exactly where the file went. The file itself need not
/// exist yet; a folder that does not exist is left to the write to report.
fn absolute(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (path.file_name(), dir.canonicalize()) {
        (Some(name), Ok(dir)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The members held out of `campaign`, ascending: those not suppressed
/// whose hash (or the stored holdout) says so.
pub(crate) fn held_out(
    conn: &Connection,
    campaign: &Campaign,
    members: &[i64],
) -> Result<Vec<i64>> {
    Ok(scan(conn, campaign, members, None, &mut |_, _| {}, |_| Ok(()))?.held)
}

/// Who the campaign would reach, without writing anything.
pub fn preview(conn: &Connection, campaign: &Campaign, members: &[i64]) -> Result<Audience> {
    let tally = scan(conn, campaign, members, None, &mut |_, _| {}, |_| Ok(()))?;
    Ok(Audience {
        members: tally.members,
        held_out: tally.held_out,
        suppressed: tally.suppressed(),
        suppressed_by_reason: tally.reasons(),
        included: tally.included,
    })
}

/// Rows rendered a chunk at a time into reused cells, hashed in parallel
/// when the format hashes, personalised content rendered for the chunk
/// when there is some, then written.
struct RowSink<'l, 'c, 'p, W: Write> {
    wtr: csv::Writer<W>,
    layout: &'l Layout,
    path: &'l Path,
    hashed: Vec<usize>,
    cells: Vec<String>,
    rows: usize,
    content: Option<ContentCells<'c, 'p>>,
    /// Pseudonymised exports: the keyed hash and the columns it replaces.
    pseudonyms: Option<(Pseudonymiser, Vec<(usize, Kind)>)>,
}

/// The personalised columns of a chunk of rows.
struct ContentCells<'c, 'p> {
    conn: &'c Connection,
    source: &'c mut (dyn Personalisation + 'p),
    headers: Vec<String>,
    ids: Vec<i64>,
    cells: Vec<String>,
}

const CHUNK_ROWS: usize = 8192;

fn csv_error(path: &Path, e: csv::Error) -> CampaignError {
    CampaignError::Write {
        path: path.to_path_buf(),
        source: match e.into_kind() {
            csv::ErrorKind::Io(io) => io,
            other => std::io::Error::other(format!("{other:?}")),
        },
    }
}

impl<'l, 'c, 'p, W: Write> RowSink<'l, 'c, 'p, W> {
    fn new(
        wtr: csv::Writer<W>,
        layout: &'l Layout,
        path: &'l Path,
        content: Option<(&'c Connection, &'c mut (dyn Personalisation + 'p))>,
        pseudonyms: Option<(Pseudonymiser, Vec<(usize, Kind)>)>,
    ) -> Self {
        let hashed = (0..layout.columns.len())
            .filter(|&c| layout.columns[c].hashed)
            .collect();
        let content = content
            .map(|(conn, source)| ContentCells {
                conn,
                headers: source.headers(),
                source,
                ids: Vec::new(),
                cells: Vec::new(),
            })
            .filter(|c| !c.headers.is_empty());
        let chunk = if layout.has_hashed() || pseudonyms.is_some() {
            CHUNK_ROWS
        } else if content.is_some() {
            CONTENT_ROWS
        } else {
            1
        };
        RowSink {
            wtr,
            layout,
            path,
            hashed,
            cells: vec![String::new(); chunk * layout.columns.len()],
            rows: 0,
            content,
            pseudonyms,
        }
    }

    fn header(&mut self) -> Result<()> {
        let extra = self.content.iter().flat_map(|c| c.headers.iter());
        let headers: Vec<&[u8]> = self
            .layout
            .columns
            .iter()
            .map(|c| c.header.as_bytes())
            .chain(extra.map(|h| h.as_bytes()))
            .collect();
        self.wtr
            .write_record(headers)
            .map_err(|e| csv_error(self.path, e))
    }

    fn push(&mut self, p: &ProfileView<'_, '_>) -> Result<()> {
        let n = self.layout.columns.len();
        let row = &mut self.cells[self.rows * n..(self.rows + 1) * n];
        for (cell, column) in row.iter_mut().zip(&self.layout.columns) {
            cell.clear();
            column.render(p, cell);
        }
        if let Some(c) = &mut self.content {
            c.ids
                .push(p.extra.get(0).map_err(sql("read the profiles"))?);
        }
        self.rows += 1;
        if self.rows * n == self.cells.len() {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<()> {
        let n = self.layout.columns.len();
        let used = &mut self.cells[..self.rows * n];
        if !self.hashed.is_empty() {
            let hashed = &self.hashed;
            used.par_chunks_mut(n).for_each(|row| {
                for &c in hashed {
                    let cell = &mut row[c];
                    if !cell.is_empty() {
                        let digest = Sha256::digest(cell.as_bytes());
                        cell.clear();
                        cell.push_str(&hex(&digest));
                    }
                }
            });
        }
        if let Some((p, columns)) = &self.pseudonyms {
            used.par_chunks_mut(n).for_each(|row| {
                for &(c, kind) in columns {
                    let cell = &mut row[c];
                    if !cell.is_empty() {
                        *cell = p.pseudonym(kind, cell);
                    }
                }
            });
        }
        let mut width = 0;
        if let Some(c) = &mut self.content {
            width = c.headers.len();
            c.cells.clear();
            c.cells.resize(c.ids.len() * width, String::new());
            if !c.ids.is_empty() {
                c.source.render(c.conn, &c.ids, &mut c.cells)?;
            }
            c.ids.clear();
        }
        let path = self.path;
        for (r, row) in used.chunks(n).enumerate() {
            for (cell, column) in row.iter().zip(&self.layout.columns) {
                let safe = column.guard.apply(cell);
                let safe = match column.max_bytes {
                    Some(max) => truncate(&safe, max),
                    None => &safe,
                };
                self.wtr
                    .write_field(safe.as_bytes())
                    .map_err(|e| csv_error(path, e))?;
            }
            if let Some(c) = &self.content {
                for cell in &c.cells[r * width..(r + 1) * width] {
                    // Rendered text is guarded like any text cell.
                    let safe = super::safe_csv::Guard::Text.apply(cell);
                    self.wtr
                        .write_field(safe.as_bytes())
                        .map_err(|e| csv_error(path, e))?;
                }
            }
            self.wtr
                .write_record(None::<&[u8]>)
                .map_err(|e| csv_error(path, e))?;
        }
        self.rows = 0;
        Ok(())
    }

    fn finish(mut self) -> Result<W> {
        self.flush_chunk()?;
        let path = self.path;
        self.wtr
            .into_inner()
            .map_err(|e| csv_error(path, csv::Error::from(e.into_error())))
    }
}

/// A temporary file next to `path`, removed on drop unless kept.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export.csv".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}.part", std::process::id()))
}

/// Writes the campaign's audience (members minus held-out and suppressed)
/// to `request.path` in `request.format`, stores newly held-out members,
/// logs the export, and reports what happened. `members` are the segment's
/// profile ids (ascending), evaluated by the caller; `segment_version` and
/// `definition_json` are logged with it. `progress(done, total)` is called
/// every few thousand members.
#[allow(clippy::too_many_arguments)]
pub fn export(
    conn: &mut Connection,
    campaign: &Campaign,
    members: &[i64],
    request: &ExportRequest,
    segment_version: Option<i64>,
    definition_json: Option<String>,
    now: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary> {
    export_with(
        conn,
        campaign,
        members,
        request,
        None,
        segment_version,
        definition_json,
        now,
        progress,
    )
}

/// [`export`] with personalised content: columns added to each row, or
/// files written instead of the CSV (see [`Personalisation`]). Without
/// content, recipients of a campaign with a template still get their A/B
/// variant recorded. Every included recipient gets a `campaign_sends` row
/// in the export's transaction.
#[allow(clippy::too_many_arguments)]
pub fn export_with(
    conn: &mut Connection,
    campaign: &Campaign,
    members: &[i64],
    request: &ExportRequest,
    mut content: Option<&mut dyn Personalisation>,
    segment_version: Option<i64>,
    definition_json: Option<String>,
    now: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary> {
    let format = request.format;
    let mut layout = Layout::new(conn, format, campaign.channel, &request.columns)?;
    let mut warnings = Vec::new();
    let pseudonyms = if request.pseudonymise {
        pseudonymise::check_format(format)?;
        if let Some(c) = content.as_deref() {
            let rendered = c.writes_files()
                || c.headers()
                    .iter()
                    .any(|h| !h.eq_ignore_ascii_case("variant"));
            if rendered {
                return Err(CampaignError::Pseudonymise(
                    "rendered content (subjects, bodies, .eml files) carries names and addresses, so it cannot go in a pseudonymised export; export the audience without content".into(),
                ));
            }
        }
        let (columns, dropped) = pseudonymise::apply(&mut layout);
        if layout.columns.is_empty() {
            return Err(CampaignError::Pseudonymise(format!(
                "every chosen column identifies a person ({}); choose others, such as email, country or traits, to pseudonymise",
                dropped.join(", ")
            )));
        }
        if !dropped.is_empty() {
            warnings.push(format!(
                "pseudonymised: {} left out, as they identify a person",
                dropped.join(", ")
            ));
        }
        Some((Pseudonymiser::for_workspace(conn)?, columns))
    } else {
        None
    };
    if !request.columns.is_empty() && format != Format::Csv {
        warnings.push(format!(
            "{} files have fixed columns; the chosen columns were not used",
            format.label()
        ));
    }
    let path = &absolute(&request.path);
    let write_err = |source: std::io::Error| CampaignError::Write {
        path: path.clone(),
        source,
    };

    let files = content.as_deref().is_some_and(|c| c.writes_files());
    let mut temp = None;
    let (tally, sha256, bytes) = if files {
        // One file per recipient, rendered a chunk of recipients at a time.
        let c = content
            .as_deref_mut()
            .expect("files are written by the content");
        let shared: &Connection = conn;
        let mut chunk: Vec<i64> = Vec::with_capacity(CONTENT_ROWS);
        let tally = scan(shared, campaign, members, None, progress, |p| {
            chunk.push(p.extra.get(0).map_err(sql("read the profiles"))?);
            if chunk.len() == CONTENT_ROWS {
                c.write_files(shared, &chunk)?;
                chunk.clear();
            }
            Ok(())
        })?;
        if !chunk.is_empty() {
            c.write_files(shared, &chunk)?;
        }
        let (sha256, bytes) = c.finish_files()?;
        (tally, sha256, bytes)
    } else {
        let t = TempFile {
            path: temp_path(path),
            keep: false,
        };
        let file = File::create(&t.path).map_err(write_err)?;
        let mut out = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        if request.bom {
            if format.allows_bom() {
                out.write_all(b"\xEF\xBB\xBF").map_err(write_err)?;
            } else {
                warnings.push(format!(
                    "no BOM written: {} wants plain UTF-8",
                    format.label()
                ));
            }
        }
        let wtr = csv::WriterBuilder::new()
            .delimiter(format.delimiter())
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(1 << 16)
            .from_writer(out);
        let shared: &Connection = conn;
        let mut sink = RowSink::new(
            wtr,
            &layout,
            path,
            content.as_deref_mut().map(|c| (shared, c)),
            pseudonyms,
        );
        sink.header()?;
        let tally = scan(shared, campaign, members, Some(&layout), progress, |p| {
            sink.push(p)
        })?;
        let out = sink.finish()?;
        let (buffered, sha256, bytes) = out.finish();
        let file = buffered
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        temp = Some(t);
        (tally, sha256, bytes)
    };

    if format == Format::Meta && tally.included < META_MIN_ROWS {
        warnings.push(format!(
            "Meta does not use customer lists under {META_MIN_ROWS} people; this one has {}",
            tally.included
        ));
    }

    // Who gets which variant: from the content, else from the campaign's
    // template (hashed ad lists carry no message).
    let template_variants = match &content {
        Some(_) => Vec::new(),
        None if format.is_hashed() => Vec::new(),
        None => crate::templates::send::variant_names(conn, campaign)?,
    };
    let variant_of = |id: i64| -> String {
        match &content {
            Some(c) => c.variant(id),
            None if template_variants.is_empty() => String::new(),
            None => template_variants
                [holdout::variant_of(&campaign.salt, template_variants.len(), id)]
            .clone(),
        }
    };

    let reasons = tally.reasons();
    let logged_format = content
        .as_deref()
        .and_then(|c| c.logged_format())
        .unwrap_or(format.as_str());
    let tx = conn.transaction().map_err(sql("log the export"))?;
    holdout::store(&tx, campaign.id, &tally.new_holdout)?;
    tx.execute(
        "INSERT INTO campaign_exports (campaign_id, at, format, path, segment_id, segment_version,
             definition, members, held_out, suppressed, suppressed_reasons, exported, file_sha256, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            campaign.id,
            now,
            logged_format,
            path.to_string_lossy(),
            campaign.segment_id,
            segment_version,
            definition_json,
            tally.members as i64,
            tally.held_out as i64,
            tally.suppressed() as i64,
            serde_json::to_string(&reasons).expect("a map of counts serialises"),
            tally.included as i64,
            sha256,
            bytes as i64,
        ],
    )
    .map_err(sql("log the export"))?;
    let export_id = tx.last_insert_rowid();
    // One row per recipient; a later export of the same campaign replaces
    // it (same variant: the split is a hash of salt and id).
    let mut sent_by_variant: BTreeMap<String, u64> = BTreeMap::new();
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO campaign_sends (campaign_id, profile_id, variant, export_id, sent_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (campaign_id, profile_id) DO UPDATE
                    SET variant = excluded.variant, export_id = excluded.export_id,
                        sent_at = excluded.sent_at",
            )
            .map_err(sql("record who was sent what"))?;
        for &id in &tally.sent {
            let variant = variant_of(id);
            insert
                .execute(params![campaign.id, id, variant, export_id, now])
                .map_err(sql("record who was sent what"))?;
            *sent_by_variant.entry(variant).or_default() += 1;
        }
    }
    crate::privacy::audit::record(
        &tx,
        crate::privacy::audit::Action::CampaignExport,
        now,
        Some(&format!("campaign {}", campaign.id)),
        &serde_json::json!({
            "export_id": export_id,
            "format": logged_format,
            "members": tally.members,
            "held_out": tally.held_out,
            "suppressed": tally.suppressed(),
            "exported": tally.included,
        }),
    )
    .map_err(sql("log the export"))?;
    match temp.as_mut() {
        Some(t) => {
            std::fs::rename(&t.path, path).map_err(write_err)?;
            t.keep = true;
        }
        None => {
            if let Some(c) = content.as_deref_mut() {
                c.publish_files()?;
            }
        }
    }
    if let Err(e) = tx.commit() {
        match temp {
            Some(_) => {
                let _ = std::fs::remove_file(path);
            }
            None => {
                if let Some(c) = content {
                    c.unpublish_files();
                }
            }
        }
        return Err(sql("log the export")(e));
    }
    Ok(ExportSummary {
        export_id,
        campaign_id: campaign.id,
        format: logged_format.to_owned(),
        path: path.clone(),
        members: tally.members,
        held_out: tally.held_out,
        suppressed: tally.suppressed(),
        suppressed_by_reason: reasons,
        exported: tally.included,
        sha256,
        bytes,
        warnings,
        sent_by_variant,
    })
}

/// The export log, newest first; all campaigns' or one's.
pub fn exports(conn: &Connection, campaign_id: Option<i64>) -> Result<Vec<ExportRecord>> {
    let mut stmt = conn
        .prepare(
            "SELECT id, campaign_id, at, format, path, segment_id, segment_version, definition,
                    members, held_out, suppressed, suppressed_reasons, exported, file_sha256, bytes
               FROM campaign_exports
              WHERE ?1 IS NULL OR campaign_id = ?1
              ORDER BY at DESC, id DESC",
        )
        .map_err(sql("list the exports"))?;
    let rows = stmt
        .query_map([campaign_id], |r| {
            let reasons: String = r.get(11)?;
            Ok(ExportRecord {
                id: r.get(0)?,
                campaign_id: r.get(1)?,
                at: r.get(2)?,
                format: r.get(3)?,
                path: r.get(4)?,
                segment_id: r.get(5)?,
                segment_version: r.get(6)?,
                definition: r.get(7)?,
                members: r.get(8)?,
                held_out: r.get(9)?,
                suppressed: r.get(10)?,
                suppressed_by_reason: serde_json::from_str(&reasons).unwrap_or_default(),
                exported: r.get(12)?,
                sha256: r.get(13)?,
                bytes: r.get(14)?,
            })
        })
        .map_err(sql("list the exports"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("list the exports"))?;
    Ok(rows)
}
