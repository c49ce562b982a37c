//! Turning one CSV row into records: standardise every mapped value, keep the
//! raw text where it changed, keep unmapped columns as attributes, and decide
//! whether the row can be stored.
//!
//! This is the hot loop of an import; it allocates only for values it keeps.

use std::collections::HashMap;
use xxhash_rust::xxh3::Xxh3;

use super::fields::{Field, Kind, Table, ValueType};
use super::standardise::{self as std_, DateOrder, Invalid};
use super::Problem;

/// A value bound into SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl Cell {
    fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
    fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// What happens to one column of the file.
#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub index: usize,
    pub name: String,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub(crate) enum Action {
    Field {
        field: &'static Field,
        table: usize,
        slot: usize,
        order: DateOrder,
    },
    Attribute,
}

/// The columns of one table's insert statement (after the fixed spine).
#[derive(Debug, Clone)]
pub(crate) struct TableLayout {
    pub table: Table,
    pub columns: Vec<&'static str>,
}

impl TableLayout {
    pub fn slot(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == column)
    }
}

/// One record ready to be upserted.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub table: usize,
    pub row: u64,
    pub key: String,
    pub hash: i64,
    pub cells: Vec<Cell>,
    pub raw: Option<String>,
    pub extra: Option<String>,
}

/// The outcome of one row.
#[derive(Debug, Default)]
pub struct Processed {
    pub records: Vec<Record>,
    pub warnings: Vec<Problem>,
    /// Set when the row cannot be stored; `records` is then empty.
    pub rejection: Vec<Problem>,
    /// Set when the row names a person erased on request: it is counted
    /// and reported, never stored (not even as a rejected row, which would
    /// keep their data again). Everything else is then empty.
    pub suppressed_erased: bool,
}

/// Everything needed to process rows of one file.
pub(crate) struct RowProcessor {
    kind: Kind,
    header_len: usize,
    /// Fields in the header row including trailing empty ones.
    header_fields: usize,
    /// Whether a column is mapped to the record's own key field.
    key_mapped: bool,
    columns: Vec<ColumnPlan>,
    pub layouts: Vec<TableLayout>,
    constants: Vec<(usize, usize, Cell)>,
    region: phonenumber::country::Id,
    default_currency: &'static str,
    /// Next line number per order, for files without a line number column.
    next_line: HashMap<String, i64>,
    /// The last order seen with a currency: Shopify leaves order columns empty
    /// on an order's second and later line rows.
    last_order_currency: Option<(String, &'static str)>,
    // Scratch buffers reused across rows.
    values: Vec<Vec<Cell>>,
    raw: Vec<JsonObject>,
    extra: JsonObject,
    /// Row hash per table: xxh3 over (column index, raw text), a format
    /// that is stable across Rust versions, because hashes are stored.
    hashers: Vec<Xxh3>,
    present: Vec<bool>,
    /// People erased on request (`privacy::erase`). `None` when nobody
    /// was, so the hot loop hashes nothing.
    erased: Option<crate::privacy::erase::ErasedSet>,
    /// (table, slot, kind) of the columns that identify a person: email,
    /// phone, customer id (orders, events) and device id.
    erased_slots: Vec<(usize, usize, ErasedKind)>,
}

/// What an identifying column holds, for the erased-people check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErasedKind {
    Email,
    Phone,
    CustomerKey,
    Device,
}

/// Columns every kind's tables get beyond its fields.
fn layout_for(kind: Kind, table: Table) -> TableLayout {
    let mut columns: Vec<&'static str> = Vec::new();
    for f in kind
        .fields()
        .iter()
        .filter(|f| f.table == table && f.column != "source_key")
    {
        if !columns.contains(&f.column) {
            columns.push(f.column);
        }
    }
    let implicit: &[&str] = match table {
        Table::OrderLines => &["order_key", "line_number", "currency"],
        _ => &[],
    };
    for c in implicit {
        if !columns.contains(c) {
            columns.push(c);
        }
    }
    TableLayout { table, columns }
}

pub(crate) fn tables_of(kind: Kind) -> Vec<Table> {
    match kind {
        Kind::Contacts => vec![Table::Contacts],
        Kind::Orders => vec![Table::Orders, Table::OrderLines],
        Kind::OrderLines => vec![Table::OrderLines],
        Kind::Events => vec![Table::Events],
        Kind::Products => vec![Table::Products],
    }
}

impl RowProcessor {
    /// A processor for the rows of the file `plan` describes. `region` and
    /// `default_currency` apply to values that do not name their own.
    pub fn new(
        plan: &super::Plan,
        region: phonenumber::country::Id,
        default_currency: &'static str,
    ) -> RowProcessor {
        let kind = plan.kind;
        let header = &plan.detected.header;
        let header_fields = plan.detected.header_fields;
        let mapping: Vec<Option<&'static Field>> = plan
            .mapping
            .iter()
            .map(|m| m.field.as_deref().and_then(|f| kind.field(f)))
            .collect();
        let orders: Vec<DateOrder> = header
            .iter()
            .map(|c| super::date_order_of(plan, c))
            .collect();
        let constants: Vec<(&'static Field, String)> = plan
            .constants
            .iter()
            .filter_map(|(f, v)| kind.field(f).map(|f| (f, v.clone())))
            .collect();
        let tables = tables_of(kind);
        let layouts: Vec<TableLayout> = tables.iter().map(|t| layout_for(kind, *t)).collect();
        let locate = |field: &'static Field| -> (usize, usize) {
            let table = tables
                .iter()
                .position(|t| *t == field.table)
                .expect("field table belongs to kind");
            // "source_key" fields write the key, which sits just past the data columns.
            let slot = layouts[table]
                .slot(field.column)
                .unwrap_or(layouts[table].columns.len());
            (table, slot)
        };
        let mut columns: Vec<ColumnPlan> = header
            .iter()
            .enumerate()
            .map(|(index, name)| ColumnPlan {
                index,
                name: name.clone(),
                action: match mapping[index] {
                    Some(field) => {
                        let (table, slot) = locate(field);
                        Action::Field {
                            field,
                            table,
                            slot,
                            order: orders[index],
                        }
                    }
                    None => Action::Attribute,
                },
            })
            .collect();
        // Currency and country columns first, so amounts know their currency
        // and phone numbers their country.
        columns.sort_by_key(|c| match c.action {
            Action::Field {
                field:
                    Field {
                        ty: ValueType::Currency,
                        ..
                    },
                ..
            } => 0,
            Action::Field {
                field:
                    Field {
                        ty: ValueType::Country,
                        ..
                    },
                ..
            } => 1,
            _ => 2,
        });
        let constants = constants
            .iter()
            .filter_map(|(field, raw)| {
                let (table, slot) = locate(field);
                let cell = match field.ty {
                    ValueType::Consent => std_::consent(raw)
                        .ok()
                        .map(|c| Cell::Text(c.as_str().into())),
                    _ => Some(Cell::Text(raw.clone())),
                }?;
                Some((table, slot, cell))
            })
            .collect();
        let n = layouts.len();
        let erased_slots = layouts
            .iter()
            .enumerate()
            .flat_map(|(t, l)| {
                // Not a contact's own key: the same number in another
                // CRM is another person, and contacts carry their
                // addresses, which are checked.
                l.columns.iter().enumerate().filter_map(move |(i, c)| {
                    let kind = match *c {
                        "email" => ErasedKind::Email,
                        "phone" => ErasedKind::Phone,
                        "customer_key" => ErasedKind::CustomerKey,
                        "anonymous_id" => ErasedKind::Device,
                        _ => return None,
                    };
                    Some((t, i, kind))
                })
            })
            .collect();
        RowProcessor {
            kind,
            header_len: header.len(),
            header_fields: header_fields.max(header.len()),
            key_mapped: mapping.iter().flatten().any(|f| f.column == "source_key"),
            values: layouts
                .iter()
                .map(|l| vec![Cell::Null; l.columns.len() + 1])
                .collect(),
            layouts,
            columns,
            constants,
            region,
            default_currency,
            next_line: HashMap::new(),
            last_order_currency: None,
            raw: (0..n).map(|_| JsonObject::default()).collect(),
            extra: JsonObject::default(),
            hashers: vec![Xxh3::new(); n],
            present: vec![false; n],
            erased: None,
            erased_slots,
        }
    }

    /// Skip rows naming these erased people from now on.
    pub fn suppress_erased(&mut self, set: Option<crate::privacy::erase::ErasedSet>) {
        self.erased = set.filter(|s| !s.is_empty());
    }

    /// Whether the standardised email or phone of the current row was
    /// erased; for a row that will be rejected, also any raw field that
    /// reads as one (its text would go to `rejected_rows`).
    fn names_erased(&self, record: &csv::ByteRecord, rejected: bool) -> bool {
        let Some(set) = &self.erased else {
            return false;
        };
        let stored = self.erased_slots.iter().any(|&(t, slot, kind)| {
            let Some(v) = self.values[t][slot].as_text() else {
                return false;
            };
            match kind {
                ErasedKind::Email => set.has_email(v),
                ErasedKind::Phone => set.has_phone(v),
                ErasedKind::CustomerKey => set.has_customer_key(v),
                ErasedKind::Device => set.has_device(v),
            }
        });
        stored || (rejected && self.raw_names_erased(record))
    }

    /// Any field of the raw row that standardises to an erased address.
    fn raw_names_erased(&self, record: &csv::ByteRecord) -> bool {
        let Some(set) = &self.erased else {
            return false;
        };
        record.iter().any(|f| {
            let text = String::from_utf8_lossy(f);
            if text.contains('@') {
                std_::email(&text).is_ok_and(|e| set.has_email(&e))
            } else if text.bytes().filter(u8::is_ascii_digit).count() >= 6 {
                std_::phone(&text, self.region).is_ok_and(|p| set.has_phone(&p))
            } else {
                false
            }
        })
    }

    /// Processes data row `row_number` (the header is row 1).
    pub fn process(&mut self, row_number: u64, record: &csv::ByteRecord) -> Processed {
        let mut out = Processed::default();
        // Field count: a row may stop short of trailing header cells that
        // have no name (Excel pads rows to the widest), but never has more
        // fields than the header: a shifted row would put values in the
        // wrong columns.
        let n = record.len();
        let unnamed_filled =
            (self.header_len..n).any(|i| !record[i].iter().all(u8::is_ascii_whitespace));
        if n < self.header_len || n > self.header_fields || unnamed_filled {
            if self.raw_names_erased(record) {
                out.suppressed_erased = true;
                return out;
            }
            out.rejection.push(Problem {
                row: row_number,
                column: None,
                value: None,
                code: "field_count",
                message: format!(
                    "the row has {n} fields but the header has {}",
                    self.header_fields
                ),
            });
            return out;
        }
        for v in &mut self.values {
            v.iter_mut().for_each(|c| *c = Cell::Null);
        }
        self.raw.iter_mut().for_each(JsonObject::clear);
        self.extra.clear();
        self.present.iter_mut().for_each(|p| *p = false);
        self.hashers.iter_mut().for_each(Xxh3::reset);
        let mut row_currency: [Option<&'static str>; 2] = [None, None];
        let mut row_region: Option<phonenumber::country::Id> = None;

        for ci in 0..self.columns.len() {
            let (index, action) = (self.columns[ci].index, self.columns[ci].action.clone());
            let text = match decode(&record[index]) {
                Ok(t) => t,
                Err(t) => {
                    out.warnings.push(self.problem(
                        row_number,
                        ci,
                        &t,
                        "encoding",
                        "contains bytes that are not UTF-8; read as Windows-1252".into(),
                    ));
                    std::borrow::Cow::Owned(t)
                }
            };
            let raw = text.as_ref();
            if raw.trim().is_empty() {
                continue;
            }
            match action {
                Action::Attribute => {
                    feed(&mut self.hashers[0], index, raw);
                    self.extra.push(&self.columns[ci].name, raw);
                }
                Action::Field {
                    field,
                    table,
                    slot,
                    order,
                } => {
                    feed(&mut self.hashers[table], index, raw);
                    if field.column != "source_key" && field.column != "order_key" {
                        self.present[table] = true;
                    }
                    let currency = row_currency[table].or(row_currency[0]);
                    match self.standardise(field, raw, order, currency, row_region) {
                        Ok((cell, money_currency)) => {
                            if field.ty == ValueType::Country && row_region.is_none() {
                                row_region = cell.as_text().and_then(|c| c.parse().ok());
                            }
                            if !self.values[table][slot].is_null() {
                                // Another column already filled this field: keep this one as an attribute if it says something else.
                                if self.values[table][slot] != cell {
                                    self.extra.push(&self.columns[ci].name, raw);
                                }
                                continue;
                            }
                            if field.ty == ValueType::Currency {
                                row_currency[table] = cell.as_text().and_then(std_::currency_code);
                            } else if let (None, Some(c)) = (currency, money_currency) {
                                row_currency[table] = Some(c);
                            }
                            if cell_text_differs(&cell, raw) {
                                self.raw[table].push(field.name, raw);
                            }
                            self.values[table][slot] = cell;
                        }
                        Err(invalid) => {
                            let p =
                                self.problem(row_number, ci, raw, invalid.code, invalid.message);
                            self.raw[table].push(field.name, raw);
                            // In a file keyed by email, a bad email is a bad key.
                            let is_key = field.required
                                || (field.name == "email"
                                    && self.kind == Kind::Contacts
                                    && !self.key_mapped);
                            if is_key {
                                out.rejection.push(p);
                            } else {
                                out.warnings.push(p);
                            }
                        }
                    }
                }
            }
        }
        for (table, slot, cell) in &self.constants {
            if self.values[*table][*slot].is_null() {
                self.values[*table][*slot] = cell.clone();
            }
        }
        if self.erased.is_some() && self.names_erased(record, !out.rejection.is_empty()) {
            return Processed {
                suppressed_erased: true,
                ..Processed::default()
            };
        }
        if !out.rejection.is_empty() {
            out.warnings.clear();
            return out;
        }
        self.assemble(row_number, row_currency, &mut out);
        if !out.rejection.is_empty() {
            out.records.clear();
            out.warnings.clear();
        }
        out
    }

    fn problem(
        &self,
        row: u64,
        ci: usize,
        raw: &str,
        code: &'static str,
        message: String,
    ) -> Problem {
        Problem {
            row,
            column: Some(self.columns[ci].name.clone()),
            value: Some(raw.to_string()),
            code,
            message,
        }
    }

    /// The first file column mapped to `field`, to name it in a problem.
    fn column_of(&self, field: &str) -> Option<String> {
        self.columns.iter().find_map(|c| match &c.action {
            Action::Field { field: f, .. } if f.name == field => Some(c.name.clone()),
            _ => None,
        })
    }

    fn missing(&self, row: u64, what: &str, field: &str) -> Problem {
        Problem {
            row,
            column: self.column_of(field),
            value: None,
            code: "missing_key",
            message: format!("{what} is empty, so the row cannot be stored"),
        }
    }

    /// Builds the records of a row whose values are all read.
    fn assemble(&mut self, row: u64, currency: [Option<&'static str>; 2], out: &mut Processed) {
        let key_slot = |layout: &TableLayout| layout.columns.len();
        for table in 0..self.layouts.len() {
            let layout = &self.layouts[table];
            let ks = key_slot(layout);
            // Required fields that were simply absent.
            for f in self
                .kind
                .fields()
                .iter()
                .filter(|f| f.required && f.table == layout.table)
            {
                let slot = layout.slot(f.column).unwrap_or(ks);
                if self.values[table][slot].is_null() {
                    out.rejection.push(Problem {
                        row,
                        column: self.column_of(f.name),
                        value: None,
                        code: "missing_field",
                        message: format!("{} is empty, so the row cannot be stored", f.label),
                    });
                }
            }
        }
        if !out.rejection.is_empty() {
            return;
        }
        let mut order_key: Option<String> = None;
        for table in 0..self.layouts.len() {
            let layout_table = self.layouts[table].table;
            let ks = key_slot(&self.layouts[table]);
            let hash = self.hashers[table].clone();
            let key = match layout_table {
                Table::Contacts => {
                    // A file with an id column is keyed by it, and a row without an id
                    // is incomplete; files without one are keyed by email.
                    let key = match std::mem::replace(&mut self.values[table][ks], Cell::Null) {
                        Cell::Text(k) => Some(k),
                        _ if self.key_mapped => None,
                        _ => self.values[table][self.layouts[table].slot("email").unwrap()]
                            .as_text()
                            .map(str::to_string),
                    };
                    match key {
                        Some(k) => k,
                        None if self.key_mapped => {
                            out.rejection
                                .push(self.missing(row, "The customer ID", "source_key"));
                            return;
                        }
                        None => {
                            out.rejection.push(self.missing(
                                row,
                                "The email (this file's key)",
                                "email",
                            ));
                            return;
                        }
                    }
                }
                Table::Orders => {
                    let Cell::Text(k) = std::mem::replace(&mut self.values[table][ks], Cell::Null)
                    else {
                        out.rejection
                            .push(self.missing(row, "The order number", "order_key"));
                        return;
                    };
                    order_key = Some(k.clone());
                    let has_order_data = self.present[table]
                        || !self.present.get(table + 1).copied().unwrap_or(false);
                    if let Some(c) = currency[table] {
                        self.last_order_currency = Some((k.clone(), c));
                    }
                    if !has_order_data {
                        continue;
                    }
                    k
                }
                Table::OrderLines => {
                    if self.kind == Kind::Orders && !self.present[table] {
                        continue;
                    }
                    let ok_slot = self.layouts[table].slot("order_key").unwrap();
                    let ok = match order_key.take() {
                        Some(k) => k,
                        None => match self.values[table][ok_slot].as_text() {
                            Some(k) => k.to_string(),
                            None => {
                                out.rejection.push(self.missing(
                                    row,
                                    "The order number",
                                    "order_key",
                                ));
                                return;
                            }
                        },
                    };
                    let ln_slot = self.layouts[table].slot("line_number").unwrap();
                    let line = match self.values[table][ln_slot] {
                        Cell::Int(n) => n,
                        _ => {
                            let next = self.next_line.entry(ok.clone()).or_insert(0);
                            *next += 1;
                            *next
                        }
                    };
                    self.values[table][ln_slot] = Cell::Int(line);
                    let cur_slot = self.layouts[table].slot("currency").unwrap();
                    if self.values[table][cur_slot].is_null() && currency[table].is_none() {
                        let c = self
                            .last_order_currency
                            .as_ref()
                            .filter(|(k, _)| *k == ok)
                            .map(|(_, c)| *c)
                            .or(currency[0]);
                        if let Some(c) = c {
                            self.values[table][cur_slot] = Cell::Text(c.to_string());
                        }
                    }
                    let key = format!("{ok}/{line}");
                    self.values[table][ok_slot] = Cell::Text(ok);
                    key
                }
                Table::Events => match std::mem::replace(&mut self.values[table][ks], Cell::Null) {
                    Cell::Text(k) => k,
                    // No event id in the export: the row's content is its identity,
                    // so re-importing the same rows does not duplicate them.
                    _ => format!("{:016x}", hash.digest()),
                },
                Table::Products => {
                    let slot = self.layouts[table].slot("sku").unwrap();
                    match self.values[table][slot].as_text() {
                        Some(k) => k.to_string(),
                        None => {
                            out.rejection.push(self.missing(row, "The SKU", "sku"));
                            return;
                        }
                    }
                }
            };
            // Amounts are stored with the currency they were read in: the row's,
            // else the workspace default when the table holds any amount.
            if let Some(slot) = self.layouts[table].slot("currency") {
                if self.values[table][slot].is_null() {
                    let has_money = self.layouts[table]
                        .columns
                        .iter()
                        .enumerate()
                        .any(|(i, c)| {
                            matches!(self.values[table][i], Cell::Int(_))
                                && self.kind.fields().iter().any(|f| {
                                    f.table == layout_table
                                        && f.column == *c
                                        && f.ty == ValueType::Money
                                })
                        });
                    let c = currency[table].or(has_money.then_some(self.default_currency));
                    if let Some(c) = c {
                        self.values[table][slot] = Cell::Text(c.to_string());
                    }
                }
            }
            // Attribute columns were fed to the first table's hash as they were read.
            let extra = if table == 0 { self.extra.take() } else { None };
            let raw = self.raw[table].take();
            // Move the values out (no copies); the slots start the next row empty.
            let width = self.layouts[table].columns.len();
            let mut cells = std::mem::replace(&mut self.values[table], vec![Cell::Null; width + 1]);
            cells.truncate(width);
            out.records.push(Record {
                table,
                row,
                key,
                hash: hash.digest() as i64,
                cells,
                raw,
                extra,
            });
        }
    }

    /// Standardises one value. Returns the cell and, for amounts written with
    /// a currency symbol or code, that currency.
    fn standardise(
        &self,
        field: &Field,
        raw: &str,
        order: DateOrder,
        row_currency: Option<&'static str>,
        row_region: Option<phonenumber::country::Id>,
    ) -> Result<(Cell, Option<&'static str>), Invalid> {
        let t = raw.trim();
        // Analytics exports write placeholders where they have no value.
        if matches!(
            t,
            "(not set)" | "(none)" | "(not provided)" | "(data deleted)"
        ) {
            return Ok((Cell::Null, None));
        }
        let cell = match field.ty {
            ValueType::Key => Cell::Text(std_::excel_guard_strip(t).trim().to_string()),
            ValueType::Text => Cell::Text(t.to_string()),
            ValueType::Name => Cell::Text(std_::name(t)),
            ValueType::Email => Cell::Text(std_::email(t)?),
            // A number written without its country code belongs to the row's country when it has one.
            ValueType::Phone => Cell::Text(std_::phone(t, row_region.unwrap_or(self.region))?),
            ValueType::Country => Cell::Text(std_::country(t)?.to_string()),
            ValueType::Date => {
                Cell::Text(std_::Timestamp::Date(std_::datetime(t, order)?.date()).to_iso())
            }
            ValueType::DateTime => Cell::Text(std_::datetime(t, order)?.to_iso()),
            ValueType::Money => {
                let m = std_::money(t)?;
                let target = match (row_currency, m.currency) {
                    (Some(r), Some(c)) if r != c => {
                        return Err(Invalid {
                            code: "money_currency",
                            message: format!("`{t}` is in {c} but the row's currency is {r}"),
                        })
                    }
                    (Some(r), _) => r,
                    (None, Some(c)) => c,
                    (None, None) => self.default_currency,
                };
                let from = m.currency.map(std_::minor_unit_exponent).unwrap_or(2);
                let minor = std_::rescale(m.minor, from, std_::minor_unit_exponent(target));
                return Ok((Cell::Int(minor), m.currency));
            }
            ValueType::Integer => Cell::Int(integer(t)?),
            ValueType::Boolean => Cell::Int(std_::boolean(t)? as i64),
            ValueType::Consent => Cell::Text(std_::consent(t)?.as_str().to_string()),
            ValueType::OptOut => {
                let out = std_::boolean(t)?;
                Cell::Text(if out { "denied" } else { "granted" }.to_string())
            }
            ValueType::Gender => Cell::Text(std_::gender(t)?.to_string()),
            ValueType::Currency => match std_::currency_code(t) {
                Some(c) => Cell::Text(c.to_string()),
                None => {
                    return Err(Invalid {
                        code: "currency_unknown",
                        message: format!("`{t}` is not an ISO 4217 currency"),
                    })
                }
            },
        };
        Ok((cell, None))
    }
}

fn feed(h: &mut Xxh3, column: usize, raw: &str) {
    h.update(&(column as u64).to_le_bytes());
    h.update(raw.as_bytes());
    h.update(&[0xff]);
}

fn integer(t: &str) -> Result<i64, Invalid> {
    let s = t.replace([',', '_', ' '], "");
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    // Excel writes whole numbers as "2.0" now and then.
    match s.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(Invalid {
            code: "integer_syntax",
            message: format!("`{t}` is not a whole number"),
        }),
    }
}

/// UTF-8 text of a field, or its Windows-1252 reading when it is not UTF-8.
fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(std::borrow::Cow::Borrowed(s)),
        Err(_) => Err(encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned()),
    }
}

fn cell_text_differs(cell: &Cell, raw: &str) -> bool {
    match cell {
        Cell::Text(s) => s != raw,
        Cell::Int(n) => raw != itoa::Buffer::new().format(*n),
        Cell::Null => true,
    }
}

/// A JSON object written straight into one buffer: `{"k":"v",...}`.
#[derive(Debug, Default)]
struct JsonObject(Vec<u8>);

impl JsonObject {
    fn push(&mut self, key: &str, value: &str) {
        self.0.push(if self.0.is_empty() { b'{' } else { b',' });
        serde_json::to_writer(&mut self.0, key).expect("writing to a Vec cannot fail");
        self.0.push(b':');
        serde_json::to_writer(&mut self.0, value).expect("writing to a Vec cannot fail");
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    /// The finished object, or None when nothing was pushed.
    fn take(&mut self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        self.0.push(b'}');
        Some(
            String::from_utf8(std::mem::take(&mut self.0)).expect("JSON written from str is UTF-8"),
        )
    }
}
