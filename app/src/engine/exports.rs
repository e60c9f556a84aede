//! CSV exports for the accountant (issue 10): the committed payouts, their lines, the ledger's
//! postings and the closed tills' Z reports of a period, in the documented layout of
//! `docs/exports.md` (UTF-8, RFC 4180, a header row of snake_case names, amounts as decimal CHF
//! with two places, dates `YYYY-MM-DD`, timestamps RFC 3339 UTC).
//!
//! It owns the datasets' columns and formats, their queries and the streaming. An export reads
//! one consistent snapshot (a read transaction: repeatable read on PostgreSQL, SQLite's snapshot
//! of a read transaction), so the row count it announces first is the number of rows it writes.
//! Rows are fetched as a stream and written into CSV chunks of [`ROWS_PER_CHUNK`] rows, at most
//! [`CHUNKS_IN_FLIGHT`] of them waiting for the reader, so memory stays bounded however large the
//! export. It must never load a whole export into memory, end a file silently short (a failure
//! mid-way is logged and ends the stream with an error, and a stream that stops without its end
//! mark is reported as failed by [`Export::next_chunk`]), compute money with floats, or show a row
//! of a studio outside the caller's scope.

use super::access::{studio_condition, Caller};
use super::db::{self, Backend, DbTransaction};
use super::{db_error, Engine};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::stream::BoxStream;
use futures::StreamExt as _;
use std::fmt;
use tokio::sync::mpsc;
use tracing::Instrument as _;

/// Longest period one export covers, in days (inclusive of both ends): a year, leap years
/// included. A longer one is split by the caller (or was a typing error).
pub const MAX_EXPORT_DAYS: i64 = 366;

/// Rows per CSV chunk: the unit in which an export is written, sent and reported as progress.
pub const ROWS_PER_CHUNK: usize = 500;

/// Chunks written ahead of the reader at most (the bound of the channel between the query and
/// the HTTP body or file): with [`ROWS_PER_CHUNK`] rows of a few hundred bytes each, well under a
/// megabyte per export.
pub const CHUNKS_IN_FLIGHT: usize = 4;

pub use crate::domain::export::ExportDataset;

impl ExportDataset {
    /// The header row: the columns of the dataset in order (`docs/exports.md` describes each).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ExportDataset::Payouts => &PAYOUT_COLUMNS,
            ExportDataset::PayoutLines => &PAYOUT_LINE_COLUMNS,
            ExportDataset::LedgerTransfers => &POSTING_COLUMNS,
            ExportDataset::ZReports => &Z_REPORT_COLUMNS,
        }
    }
}

/// Columns of `payouts`.
const PAYOUT_COLUMNS: [&str; 17] = [
    "payout_id",
    "committed_on",
    "committed_at",
    "studio_id",
    "studio_name",
    "employee_id",
    "employee_name",
    "period_start",
    "period_end",
    "method",
    "record_count",
    "commission",
    "tips",
    "top_ups",
    "deductions",
    "total",
    "currency",
];

/// Columns of `payout-lines`.
const PAYOUT_LINE_COLUMNS: [&str; 21] = [
    "payout_id",
    "committed_on",
    "studio_id",
    "studio_name",
    "employee_id",
    "employee_name",
    "line_kind",
    "record_id",
    "on_date",
    "service_name",
    "payment_method",
    "price",
    "commission_rate_pct",
    "commission",
    "tip",
    "deduction",
    "guaranteed_minimum",
    "day_earned",
    "top_up",
    "amount",
    "currency",
];

/// Columns of `ledger-transfers`.
const POSTING_COLUMNS: [&str; 18] = [
    "transfer_id",
    "kind",
    "effective_on",
    "created_at",
    "studio_id",
    "studio_name",
    "account",
    "account_name",
    "account_type",
    "employee_id",
    "employee_name",
    "amount",
    "reason",
    "cause_type",
    "cause_id",
    "reverses",
    "till_session_id",
    "currency",
];

/// Columns of `z-reports`.
const Z_REPORT_COLUMNS: [&str; 24] = [
    "till_session_id",
    "business_date",
    "studio_id",
    "studio_name",
    "opened_at",
    "closed_at",
    "sales_count",
    "sales_cash",
    "sales_card",
    "sales_twint",
    "sales_gross",
    "tips",
    "vat",
    "sales_net",
    "refunds",
    "cash_payouts",
    "cash_in",
    "cash_out",
    "opening_float",
    "expected_cash",
    "counted_cash",
    "variance",
    "variance_reason",
    "currency",
];

/// A period of business days (Europe/Zurich), both ends included, at most [`MAX_EXPORT_DAYS`]
/// long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportPeriod {
    first_day: NaiveDate,
    last_day: NaiveDate,
}

impl ExportPeriod {
    /// The period `from ..= to`.
    ///
    /// Errors (422, field `to`): `to` before `from`; more than [`MAX_EXPORT_DAYS`] days.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<ExportPeriod, AppError> {
        if to < from {
            return Err(AppError::invalid(
                "to",
                FieldProblem::EndsBeforeStart {
                    start: from,
                    end: to,
                },
            ));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_EXPORT_DAYS {
            return Err(AppError::invalid(
                "to",
                FieldProblem::PeriodTooLong {
                    days,
                    max_days: MAX_EXPORT_DAYS,
                },
            ));
        }
        Ok(ExportPeriod {
            first_day: from,
            last_day: to,
        })
    }

    /// The first business day (inclusive).
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// The last business day (inclusive).
    pub fn last_day(self) -> NaiveDate {
        self.last_day
    }
}

/// One export: what, over which business days, optionally of one studio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// The dataset.
    pub dataset: ExportDataset,
    /// The business days (Europe/Zurich) it covers.
    pub period: ExportPeriod,
    /// Only this studio (which must be the caller's); `None`: every studio of the caller.
    pub studio: Option<StudioId>,
}

impl ExportRequest {
    /// The file name to save the export as: `payouts-2026-09-01-2026-09-30.csv`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.csv",
            self.dataset,
            self.period.first_day(),
            self.period.last_day()
        )
    }
}

/// A piece of an export's CSV, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportChunk {
    /// UTF-8 CSV: the header row in the first chunk, then up to [`ROWS_PER_CHUNK`] records,
    /// each ending in CRLF.
    pub csv: Vec<u8>,
    /// Data rows written so far, this chunk's included (for progress against [`Export::rows`]).
    pub rows_written: u64,
}

/// What the writing task sends to the reader.
enum Piece {
    /// The next chunk.
    Chunk(ExportChunk),
    /// Every row was written: the export is complete.
    End,
    /// The export failed (already logged); nothing follows.
    Failed(AppError),
}

/// A running export: its row count, known before the first row, and its CSV chunks as they are
/// written.
pub struct Export {
    request: ExportRequest,
    rows: u64,
    pieces: mpsc::Receiver<Piece>,
    finished: bool,
}

impl Export {
    /// What is exported.
    pub fn request(&self) -> &ExportRequest {
        &self.request
    }

    /// The number of data rows the export contains (the header not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next chunk; `None` once the export is complete. An `Err` ends the export: it failed
    /// mid-way (already logged), or its writer stopped without marking the end, and what was
    /// received so far is not the whole file.
    pub async fn next_chunk(&mut self) -> Option<Result<ExportChunk, AppError>> {
        if self.finished {
            return None;
        }
        match self.pieces.recv().await {
            Some(Piece::Chunk(chunk)) => Some(Ok(chunk)),
            Some(Piece::End) => {
                self.finished = true;
                None
            }
            Some(Piece::Failed(error)) => {
                self.finished = true;
                Some(Err(error))
            }
            None => {
                self.finished = true;
                tracing::error!(
                    dataset = %self.request.dataset,
                    "the export's writer stopped before the end of the file"
                );
                Some(Err(AppError::Internal {
                    message: "the export stopped before its end; the file is incomplete (it is \
                              logged on the server)"
                        .into(),
                }))
            }
        }
    }
}

impl Engine {
    /// How many rows an export of `request` would contain now (for progress before starting).
    ///
    /// Errors: those of [`Engine::export`] before its first row.
    pub async fn export_row_count(
        &self,
        caller: &Caller,
        request: &ExportRequest,
    ) -> Result<u64, AppError> {
        check(caller, request)?;
        let filter = Filter::new(caller, request);
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(db_error("starting to count an export"))?;
        let rows = count(&mut tx, self.backend(), request.dataset, &filter).await?;
        tx.rollback()
            .await
            .map_err(db_error("ending the count of an export"))?;
        Ok(rows)
    }

    /// Starts an export: counts its rows and then writes them, as CSV chunks, on a task of its
    /// own while the caller reads [`Export::next_chunk`] (dropping the [`Export`] stops it). Rows
    /// are those of the caller's studios (or of `request.studio`), in a stable order: by
    /// business day, then time, then id.
    ///
    /// Errors: 403 unless the caller may export the books, or when `request.studio` is not one
    /// of theirs; 503/500 when the database cannot be read. Later failures arrive as an `Err`
    /// chunk.
    #[tracing::instrument(skip_all, fields(
        dataset = %request.dataset,
        from = %request.period.first_day(),
        to = %request.period.last_day(),
    ))]
    pub async fn export(
        &self,
        caller: &Caller,
        request: &ExportRequest,
    ) -> Result<Export, AppError> {
        check(caller, request)?;
        let filter = Filter::new(caller, request);
        let backend = self.backend();
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(db_error("starting an export"))?;
        if backend == Backend::Postgres {
            // One snapshot for the count and every row (SQLite's read transaction is one by
            // itself, from its first read on).
            db::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut tx)
                .await
                .map_err(db_error("starting an export"))?;
        }
        let rows = count(&mut tx, backend, request.dataset, &filter).await?;
        let (sender, pieces) = mpsc::channel(CHUNKS_IN_FLIGHT);
        tracing::info!(rows, actor = %caller.actor(), "export started");
        tokio::spawn(
            write_export(tx, backend, request.dataset, filter, rows, sender).in_current_span(),
        );
        Ok(Export {
            request: *request,
            rows,
            pieces,
            finished: false,
        })
    }
}

/// Refuses what the caller may not export.
fn check(caller: &Caller, request: &ExportRequest) -> Result<(), AppError> {
    match request.studio {
        Some(studio) => caller.require_studio(Permission::ExportBooks, studio),
        None => caller.require(Permission::ExportBooks),
    }
}

/// The parameters every export query takes: `$1` first day, `$2` last day, `$3` one studio or
/// NULL, `$4` the caller's studios ([`Caller::studio_filter`]).
struct Filter {
    first_day: NaiveDate,
    last_day: NaiveDate,
    studio: Option<StudioId>,
    scope: Option<String>,
}

impl Filter {
    fn new(caller: &Caller, request: &ExportRequest) -> Filter {
        Filter {
            first_day: request.period.first_day(),
            last_day: request.period.last_day(),
            studio: request.studio,
            scope: caller.studio_filter(),
        }
    }
}

/// A dataset's query in three parts: the select list, `FROM .. WHERE ..` (shared with the
/// count) and the order.
struct DatasetSql {
    select: &'static str,
    from_where: String,
    order: &'static str,
}

/// The joins and conditions selecting the payouts (`p`) committed in the period, with their
/// studio (`s`), employee (`e`) and transfer (`t`), after `more_joins`. A committed payout is in
/// the period of its `payout_committed` transfer's business day, so the payouts, their lines and
/// the ledger of one period agree.
fn committed_payouts_in_period(backend: Backend, more_joins: &str) -> String {
    format!(
        "JOIN ledger_transfers t ON t.id = p.id AND t.kind = 'payout_committed'
         JOIN studios s ON s.id = p.studio_id
         JOIN employees e ON e.id = p.employee_id
         {more_joins}
         WHERE p.state = 'committed' AND t.effective_on BETWEEN $1 AND $2
           AND ($3 IS NULL OR p.studio_id = $3) AND {}",
        studio_condition(backend, "p.studio_id", 4)
    )
}

fn dataset_sql(dataset: ExportDataset, backend: Backend) -> DatasetSql {
    match dataset {
        ExportDataset::Payouts => DatasetSql {
            select: "SELECT p.id, t.effective_on AS committed_on, p.committed_at, p.studio_id,
                    s.name AS studio_name, p.employee_id, e.name AS employee_name,
                    p.period_start, p.period_end, p.method, p.record_count,
                    (SELECT CAST(COALESCE(SUM(l.commission), 0) AS BIGINT) FROM payout_lines l
                     WHERE l.payout_id = p.id AND NOT l.released) AS commission,
                    (SELECT CAST(COALESCE(SUM(l.tip), 0) AS BIGINT) FROM payout_lines l
                     WHERE l.payout_id = p.id AND NOT l.released) AS tips,
                    (SELECT CAST(COALESCE(SUM(l.top_up), 0) AS BIGINT) FROM payout_lines l
                     WHERE l.payout_id = p.id AND NOT l.released) AS top_ups,
                    (SELECT CAST(COALESCE(SUM(l.deduction), 0) AS BIGINT) FROM payout_lines l
                     WHERE l.payout_id = p.id AND NOT l.released) AS deductions,
                    p.total, p.currency",
            from_where: format!(
                "FROM payouts p {}",
                committed_payouts_in_period(backend, "")
            ),
            order: "ORDER BY t.effective_on, p.committed_at, p.id",
        },
        ExportDataset::PayoutLines => DatasetSql {
            select: "SELECT p.id AS payout_id, t.effective_on AS committed_on, p.studio_id,
                    s.name AS studio_name, p.employee_id, e.name AS employee_name,
                    CASE WHEN l.service_record_id IS NOT NULL THEN 'service' ELSE 'day' END AS line_kind,
                    COALESCE(l.service_record_id, l.day_record_id) AS record_id, l.on_date,
                    sv.name AS service_name, sr.payment_method, l.price, l.commission_bps,
                    l.commission, l.tip, l.deduction, l.guaranteed_minimum, l.day_earned,
                    l.top_up, l.amount",
            from_where: format!(
                "FROM payout_lines l
                 JOIN payouts p ON p.id = l.payout_id
                 {}
                   AND NOT l.released",
                committed_payouts_in_period(
                    backend,
                    "LEFT JOIN service_records sr ON sr.id = l.service_record_id
                     LEFT JOIN services sv ON sv.id = sr.service_id"
                )
            ),
            order: "ORDER BY t.effective_on, p.committed_at, p.id, l.on_date, line_kind DESC,
                    service_name, record_id",
        },
        ExportDataset::LedgerTransfers => DatasetSql {
            select: "SELECT t.id AS transfer_id, t.kind, t.effective_on, t.created_at, t.studio_id,
                    s.name AS studio_name, a.code AS account, a.employee_id,
                    e.name AS employee_name, lp.amount, t.reason, t.cause_type, t.cause_id,
                    t.reverses, t.till_session_id",
            from_where: format!(
                "FROM ledger_postings lp
                 JOIN ledger_transfers t ON t.id = lp.transfer_id
                 JOIN ledger_accounts a ON a.id = lp.account_id
                 JOIN studios s ON s.id = t.studio_id
                 LEFT JOIN employees e ON e.id = a.employee_id
                 WHERE t.effective_on BETWEEN $1 AND $2
                   AND ($3 IS NULL OR t.studio_id = $3) AND {}",
                studio_condition(backend, "t.studio_id", 4)
            ),
            order: "ORDER BY t.effective_on, t.created_at, t.id, lp.amount DESC, a.code, a.employee_id",
        },
        ExportDataset::ZReports => DatasetSql {
            select: "SELECT ts.id, ts.studio_id, s.name AS studio_name, ts.business_date,
                    ts.opened_at, ts.closed_at, ts.z_report",
            from_where: format!(
                "FROM till_sessions ts
                 JOIN studios s ON s.id = ts.studio_id
                 WHERE ts.state = 'closed' AND ts.business_date BETWEEN $1 AND $2
                   AND ($3 IS NULL OR ts.studio_id = $3) AND {}",
                studio_condition(backend, "ts.studio_id", 4)
            ),
            order: "ORDER BY ts.business_date, s.name, ts.id",
        },
    }
}

/// The rows of `dataset` the filter selects, counted in `tx`.
async fn count(
    tx: &mut DbTransaction,
    backend: Backend,
    dataset: ExportDataset,
    filter: &Filter,
) -> Result<u64, AppError> {
    let sql = dataset_sql(dataset, backend);
    let rows: i64 = db::query_scalar(format!("SELECT COUNT(*) {}", sql.from_where))
        .bind(filter.first_day)
        .bind(filter.last_day)
        .bind(filter.studio)
        .bind(filter.scope.clone())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("counting the rows of an export"))?;
    u64::try_from(rows).map_err(|_| {
        tracing::error!(rows, "the database counted a negative number of rows");
        AppError::Internal {
            message: "the export's rows could not be counted; it is logged on the server".into(),
        }
    })
}

/// Why writing stopped early.
enum Stop {
    /// A query, a row or the CSV writer failed (logged where it happened).
    Failed(AppError),
    /// The reader went away (a cancelled download): nobody is waiting for the rest.
    Abandoned,
}

/// The task behind [`Engine::export`]: writes every row of `dataset` as CSV chunks into
/// `sender`, then ends the read transaction and sends the end mark, or logs the failure and
/// sends it.
async fn write_export(
    mut tx: DbTransaction,
    backend: Backend,
    dataset: ExportDataset,
    filter: Filter,
    expected: u64,
    sender: mpsc::Sender<Piece>,
) {
    let sql = dataset_sql(dataset, backend);
    let sql = format!("{} {} {}", sql.select, sql.from_where, sql.order);
    let columns = dataset.columns();
    let written = match dataset {
        ExportDataset::Payouts => {
            write_rows(&mut tx, &sql, &filter, columns, payout_fields, &sender).await
        }
        ExportDataset::PayoutLines => {
            write_rows(&mut tx, &sql, &filter, columns, payout_line_fields, &sender).await
        }
        ExportDataset::LedgerTransfers => {
            write_rows(&mut tx, &sql, &filter, columns, posting_fields, &sender).await
        }
        ExportDataset::ZReports => {
            write_rows(&mut tx, &sql, &filter, columns, z_report_fields, &sender).await
        }
    };
    if let Err(error) = tx.rollback().await {
        // Every row was read already; only the connection's clean-up failed.
        tracing::warn!(%error, "could not end an export's read transaction");
    }
    let outcome = match written {
        Ok(rows) if rows == expected => {
            tracing::info!(rows, "export complete");
            Piece::End
        }
        Ok(rows) => {
            tracing::error!(
                rows,
                expected,
                "an export wrote another number of rows than it counted in the same snapshot"
            );
            Piece::Failed(AppError::Internal {
                message: format!(
                    "the export wrote {rows} rows but announced {expected}; do not use the file \
                     (it is logged on the server)"
                ),
            })
        }
        Err(Stop::Failed(error)) => {
            tracing::error!(%error, expected, "export failed mid-way; the file is incomplete");
            Piece::Failed(error)
        }
        Err(Stop::Abandoned) => {
            tracing::info!("export abandoned by its reader (a cancelled download)");
            return;
        }
    };
    if sender.send(outcome).await.is_err() {
        tracing::info!("the export's reader left before its last message");
    }
}

/// Streams the rows of `sql` in `tx`, turns each into a record with `fields` and sends them as
/// chunks of [`ROWS_PER_CHUNK`] rows (the first one led by the header `columns`). Returns the
/// number of rows written.
async fn write_rows<R: db::Record + 'static>(
    tx: &mut DbTransaction,
    sql: &str,
    filter: &Filter,
    columns: &[&str],
    fields: fn(R) -> Result<Vec<String>, AppError>,
    sender: &mpsc::Sender<Piece>,
) -> Result<u64, Stop> {
    let mut rows = fetch_rows::<R>(tx, sql, filter);
    let mut chunk = ChunkWriter::new();
    chunk.header(columns)?;
    let mut written: u64 = 0;
    while let Some(row) = rows.next().await {
        let row = row.map_err(|error| Stop::Failed(db_error("reading an export's rows")(error)))?;
        let record = fields(row).map_err(Stop::Failed)?;
        chunk.write(&record)?;
        written += 1;
        if chunk.rows == ROWS_PER_CHUNK {
            let full = std::mem::replace(&mut chunk, ChunkWriter::new());
            send_chunk(sender, full, written).await?;
        }
    }
    // The last, partial chunk; with no rows at all, the header alone.
    if chunk.rows > 0 || written == 0 {
        send_chunk(sender, chunk, written).await?;
    }
    Ok(written)
}

async fn send_chunk(
    sender: &mpsc::Sender<Piece>,
    chunk: ChunkWriter,
    rows_written: u64,
) -> Result<(), Stop> {
    let csv = chunk.finish()?;
    sender
        .send(Piece::Chunk(ExportChunk { csv, rows_written }))
        .await
        .map_err(|_closed| Stop::Abandoned)
}

/// The rows of `sql` with the [`Filter`]'s four parameters, as a stream read from `tx` (sqlx's
/// `fetch`: one row at a time, never the whole result).
fn fetch_rows<'t, R: db::Record + 't>(
    tx: &'t mut DbTransaction,
    sql: &'t str,
    filter: &'t Filter,
) -> BoxStream<'t, Result<R, sqlx::Error>> {
    match tx {
        DbTransaction::Sqlite(tx, _) => sqlx::query_as::<sqlx::Sqlite, R>(sql)
            .bind(filter.first_day)
            .bind(filter.last_day)
            .bind(filter.studio)
            .bind(filter.scope.as_deref())
            .fetch(&mut **tx),
        DbTransaction::Postgres(tx) => sqlx::query_as::<sqlx::Postgres, R>(sql)
            .bind(filter.first_day)
            .bind(filter.last_day)
            .bind(filter.studio)
            .bind(filter.scope.as_deref())
            .fetch(&mut **tx),
    }
}

/// One chunk being written: an RFC 4180 CSV writer (comma, double quotes where needed, CRLF)
/// into memory.
struct ChunkWriter {
    writer: csv::Writer<Vec<u8>>,
    /// Data rows in this chunk (the header not counted).
    rows: usize,
}

impl ChunkWriter {
    fn new() -> ChunkWriter {
        ChunkWriter {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::with_capacity(64 * 1024)),
            rows: 0,
        }
    }

    /// Appends the header row (the first chunk's first record; not counted as a row).
    fn header(&mut self, columns: &[&str]) -> Result<(), Stop> {
        self.writer.write_record(columns).map_err(csv_failed)
    }

    /// Appends one data row.
    fn write(&mut self, record: &[String]) -> Result<(), Stop> {
        self.writer.write_record(record).map_err(csv_failed)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, Stop> {
        self.writer
            .into_inner()
            .map_err(|error| csv_failed(error.into_error()))
    }
}

fn csv_failed(error: impl fmt::Display) -> Stop {
    tracing::error!(%error, "cannot write an export's CSV");
    Stop::Failed(AppError::Internal {
        message: "the export's CSV could not be written; it is logged on the server".into(),
    })
}

// -------------------------------------------------------------------------------------------
// Formats
// -------------------------------------------------------------------------------------------

/// An amount of Rappen as decimal CHF with exactly two places, `.` as the separator and `-` for
/// negative amounts: `-123450` → `-1234.50`. Integer arithmetic only (no floats).
pub fn decimal_chf(rappen: i64) -> String {
    let sign = if rappen < 0 { "-" } else { "" };
    let magnitude = rappen.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

/// Basis points as a percentage with two places: `4000` → `40.00`.
fn percent(basis_points: i64) -> String {
    decimal_chf(basis_points)
}

/// A business date: `YYYY-MM-DD`.
fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// An instant: RFC 3339 in UTC with milliseconds, `2026-09-30T16:05:00.000Z`.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Free text typed by people (names, reasons): a leading `=`, `+`, `-`, `@`, tab or carriage
/// return gets a `'` in front, so a spreadsheet opening the file shows the text instead of
/// evaluating it as a formula (CSV injection, OWASP). Everything else is kept as typed.
fn text(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        Some(_) | None => value.to_string(),
    }
}

/// A nullable column's cell: its value shown, or empty for NULL (no error is involved: the
/// column is optional in the documented layout).
fn optional<T>(value: Option<T>, show: impl FnOnce(T) -> String) -> String {
    value.map(show).unwrap_or_default()
}

fn account_type(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Asset => "asset",
        AccountKind::Liability => "liability",
        AccountKind::Revenue => "revenue",
        AccountKind::Expense => "expense",
    }
}

// -------------------------------------------------------------------------------------------
// Rows
// -------------------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct PayoutRow {
    id: PayoutId,
    committed_on: NaiveDate,
    committed_at: Option<DateTime<Utc>>,
    studio_id: StudioId,
    studio_name: String,
    employee_id: EmployeeId,
    employee_name: String,
    period_start: NaiveDate,
    period_end: NaiveDate,
    method: String,
    record_count: i64,
    commission: i64,
    tips: i64,
    top_ups: i64,
    deductions: i64,
    total: i64,
    currency: String,
}

fn payout_fields(row: PayoutRow) -> Result<Vec<String>, AppError> {
    Ok(vec![
        row.id.to_string(),
        date(row.committed_on),
        optional(row.committed_at, timestamp),
        row.studio_id.to_string(),
        text(&row.studio_name),
        row.employee_id.to_string(),
        text(&row.employee_name),
        date(row.period_start),
        date(row.period_end),
        row.method,
        row.record_count.to_string(),
        decimal_chf(row.commission),
        decimal_chf(row.tips),
        decimal_chf(row.top_ups),
        decimal_chf(row.deductions),
        decimal_chf(row.total),
        row.currency,
    ])
}

#[derive(sqlx::FromRow)]
struct PayoutLineRow {
    payout_id: PayoutId,
    committed_on: NaiveDate,
    studio_id: StudioId,
    studio_name: String,
    employee_id: EmployeeId,
    employee_name: String,
    line_kind: String,
    record_id: uuid::Uuid,
    on_date: NaiveDate,
    service_name: Option<String>,
    payment_method: Option<String>,
    price: i64,
    commission_bps: i64,
    commission: i64,
    tip: i64,
    deduction: i64,
    guaranteed_minimum: i64,
    day_earned: i64,
    top_up: i64,
    amount: i64,
}

fn payout_line_fields(row: PayoutLineRow) -> Result<Vec<String>, AppError> {
    Ok(vec![
        row.payout_id.to_string(),
        date(row.committed_on),
        row.studio_id.to_string(),
        text(&row.studio_name),
        row.employee_id.to_string(),
        text(&row.employee_name),
        row.line_kind,
        row.record_id.to_string(),
        date(row.on_date),
        optional(row.service_name, |name| text(&name)),
        // NULL for a working day's line: an empty cell.
        row.payment_method.unwrap_or_default(),
        decimal_chf(row.price),
        percent(row.commission_bps),
        decimal_chf(row.commission),
        decimal_chf(row.tip),
        decimal_chf(row.deduction),
        decimal_chf(row.guaranteed_minimum),
        decimal_chf(row.day_earned),
        decimal_chf(row.top_up),
        decimal_chf(row.amount),
        CURRENCY.to_string(),
    ])
}

#[derive(sqlx::FromRow)]
struct PostingRow {
    transfer_id: TransferId,
    kind: TransferKind,
    effective_on: NaiveDate,
    created_at: DateTime<Utc>,
    studio_id: StudioId,
    studio_name: String,
    account: AccountCode,
    employee_id: Option<EmployeeId>,
    employee_name: Option<String>,
    amount: i64,
    reason: String,
    cause_type: String,
    cause_id: uuid::Uuid,
    reverses: Option<TransferId>,
    till_session_id: Option<TillSessionId>,
}

fn posting_fields(row: PostingRow) -> Result<Vec<String>, AppError> {
    Ok(vec![
        row.transfer_id.to_string(),
        row.kind.as_str().to_string(),
        date(row.effective_on),
        timestamp(row.created_at),
        row.studio_id.to_string(),
        text(&row.studio_name),
        row.account.as_str().to_string(),
        row.account.label().to_string(),
        account_type(row.account.kind()).to_string(),
        optional(row.employee_id, |id| id.to_string()),
        optional(row.employee_name, |name| text(&name)),
        decimal_chf(row.amount),
        text(&row.reason),
        row.cause_type,
        row.cause_id.to_string(),
        optional(row.reverses, |id| id.to_string()),
        optional(row.till_session_id, |id| id.to_string()),
        CURRENCY.to_string(),
    ])
}

#[derive(sqlx::FromRow)]
struct ZReportRow {
    id: TillSessionId,
    studio_id: StudioId,
    studio_name: String,
    business_date: NaiveDate,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    z_report: Option<String>,
}

fn z_report_fields(row: ZReportRow) -> Result<Vec<String>, AppError> {
    let unreadable = |why: String| {
        tracing::error!(till = %row.id, why, "unreadable Z report in an export");
        AppError::Internal {
            message: format!(
                "the Z report of till session {} cannot be read; it is logged on the server",
                row.id
            ),
        }
    };
    let report: ZReport = match &row.z_report {
        Some(json) => serde_json::from_str(json).map_err(|error| unreadable(error.to_string()))?,
        None => return Err(unreadable("a closed session without a Z report".into())),
    };
    let (mut count, mut cash, mut card, mut twint, mut gross) = (0_i64, 0_i64, 0_i64, 0_i64, 0_i64);
    for sales in &report.sales_by_method {
        match PaymentMethod::parse(&sales.payment_method)
            .map_err(|problem| unreadable(problem.explanation("payment_method")))?
        {
            PaymentMethod::Cash => cash += sales.gross.0,
            PaymentMethod::Card => card += sales.gross.0,
            PaymentMethod::Twint => twint += sales.gross.0,
        }
        count += sales.count;
        gross += sales.gross.0;
    }
    let vat: i64 = report.sales_by_vat_rate.iter().map(|rate| rate.vat.0).sum();
    let net: i64 = report.sales_by_vat_rate.iter().map(|rate| rate.net.0).sum();
    Ok(vec![
        row.id.to_string(),
        date(row.business_date),
        row.studio_id.to_string(),
        text(&row.studio_name),
        timestamp(row.opened_at),
        optional(row.closed_at, timestamp),
        count.to_string(),
        decimal_chf(cash),
        decimal_chf(card),
        decimal_chf(twint),
        decimal_chf(gross),
        decimal_chf(report.tips.0),
        decimal_chf(vat),
        decimal_chf(net),
        decimal_chf(report.refunds.0),
        decimal_chf(report.cash_payouts.0),
        decimal_chf(report.cash_in.0),
        decimal_chf(report.cash_out.0),
        decimal_chf(report.opening_float.0),
        decimal_chf(report.expected_cash.0),
        decimal_chf(report.counted_cash.0),
        decimal_chf(report.variance.0),
        optional(report.variance_reason, |reason| text(&reason)),
        report.currency,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_decimal_francs_with_two_places_from_whole_rappen() {
        assert_eq!(decimal_chf(0), "0.00");
        assert_eq!(decimal_chf(5), "0.05");
        assert_eq!(decimal_chf(-5), "-0.05");
        assert_eq!(decimal_chf(-123_450), "-1234.50");
        assert_eq!(decimal_chf(1_808_000), "18080.00");
        assert_eq!(decimal_chf(i64::MAX), "92233720368547758.07");
        assert_eq!(decimal_chf(i64::MIN), "-92233720368547758.08");
        assert_eq!(percent(4_250), "42.50");
    }

    #[test]
    fn dates_are_iso_and_instants_rfc3339_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or(NaiveDate::MIN);
        assert_eq!(date(day), "2026-09-01");
        // A constant instant in range: the default (the epoch) would fail the assertion below.
        let at = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap_or_default();
        assert_eq!(timestamp(at), "2026-09-21T14:13:20.123Z");
    }

    #[test]
    fn text_that_a_spreadsheet_would_evaluate_is_defused() {
        assert_eq!(text("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(text("-5 rounding"), "'-5 rounding");
        assert_eq!(text("@here"), "'@here");
        assert_eq!(text("Salon Seefeld, Zürich"), "Salon Seefeld, Zürich");
        assert_eq!(text(""), "");
    }

    #[test]
    fn a_period_ends_after_it_starts_and_spans_at_most_a_year() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or(NaiveDate::MIN);
        assert!(ExportPeriod::new(day("2026-09-01"), day("2026-09-01")).is_ok());
        assert!(ExportPeriod::new(day("2024-01-01"), day("2024-12-31")).is_ok());
        for (from, to) in [("2026-09-30", "2026-09-01"), ("2025-01-01", "2026-01-02")] {
            let refused = ExportPeriod::new(day(from), day(to));
            assert!(
                matches!(&refused, Err(AppError::Validation { field, .. }) if field == "to"),
                "{from}..{to}: {refused:?}"
            );
        }
    }

    #[test]
    fn datasets_read_back_from_their_names_and_name_the_file() {
        for dataset in ExportDataset::ALL {
            assert_eq!(ExportDataset::parse(dataset.as_str()), Ok(dataset));
            assert!(dataset
                .columns()
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
        }
        assert!(ExportDataset::parse("salaries").is_err());
        let day = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or(NaiveDate::MIN);
        let request = ExportRequest {
            dataset: ExportDataset::Payouts,
            period: ExportPeriod {
                first_day: day,
                last_day: day + chrono::Duration::days(29),
            },
            studio: None,
        };
        assert_eq!(request.file_name(), "payouts-2026-09-01-2026-09-30.csv");
    }
}
