//! The audit: set-based SQL checks of every invariant of the books, run on a schedule, from the
//! CLI or on demand. Each check is one read-only query; the checks run concurrently on separate
//! pool connections (SQLite WAL readers do not block each other or the writer).
//!
//! A run and its findings are stored (`audit_runs`, `audit_findings`). A run with findings
//! writes an `audit.findings` event in the same transaction as its result; the alert outbox
//! turns that into the owner's Telegram message. A clean run writes nothing but its own row.

use super::db::{self, Backend};
use super::{business_date, db_error, now, Engine};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// One result row of a check: the entity, two numbers to compare (Rappen or counts, per check),
/// and a label for people.
#[derive(sqlx::FromRow, Debug)]
struct CheckRow {
    /// Overrides the check's entity type when one check covers two kinds of entity.
    #[sqlx(default)]
    entity_type: Option<String>,
    entity_id: Option<uuid::Uuid>,
    label: String,
    expected: i64,
    actual: i64,
    amount: i64,
    /// The parts of a label that a page words in its own language (names, dates as
    /// `YYYY-MM-DD`, a record's kind or a payout's phase), for the checks whose label joins
    /// them in English ([`Check::detail_columns`]).
    #[sqlx(default)]
    subject: Option<String>,
    #[sqlx(default)]
    on_date: Option<String>,
    #[sqlx(default)]
    kind: Option<String>,
    #[sqlx(default)]
    payee: Option<String>,
    #[sqlx(default)]
    period_start: Option<String>,
    #[sqlx(default)]
    period_end: Option<String>,
}

/// A detail column a check's SQL must return.
fn required(value: &Option<String>, column: &str) -> Result<String, String> {
    value.clone().ok_or_else(|| format!("{column} is missing"))
}

/// A detail column's date (`YYYY-MM-DD`).
fn detail_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|error| format!("date {text:?}: {error}"))
}

/// A check: its invariant, the entity type it reports, its SQL (`$1` = first day of the window
/// or NULL for everything, `$2` = the stuck-payout cut-off, UTC; a partitioned check also gets
/// `$3`..`$4`, its key range) and how to word a finding.
struct Check {
    check: AuditCheck,
    entity_type: &'static str,
    sql: &'static str,
    /// The PostgreSQL spelling, where `sql` is tuned with SQLite-only syntax (`NOT INDEXED`,
    /// `LIMIT -1`, a `CROSS JOIN ... ON` that fixes the join order); `None`: `sql` runs on both.
    postgres_sql: Option<&'static str>,
    /// Whether the SQL returns an `entity_type` column (one check covering two kinds).
    reports_entity_type: bool,
    describe: fn(&CheckRow) -> String,
    /// The finding as data ([`AuditFindingDetail`]); `Err` names a column that did not read
    /// (the finding keeps its English message, and the error is logged).
    detail: fn(&CheckRow) -> Result<AuditFindingDetail, String>,
    /// The columns beyond the common ones that `sql` returns for `detail` (`, subject, on_date`),
    /// passed through PostgreSQL's wrapper.
    detail_columns: &'static str,
    /// For a check that is one pass over a big table: how to split it into key ranges that run
    /// concurrently, each on its own connection (one pass over 4.7 million postings is most of
    /// an audit). SQLite only: PostgreSQL splits a big scan over parallel workers itself.
    partitioning: Option<Partitioning>,
}

/// How a check's table splits into [`PARTITIONS`] key ranges of about equal row counts.
struct Partitioning {
    /// SQL: the table's row count.
    rows: &'static str,
    /// SQL: the key at offset `$1` in the table's key order (a walk of its primary-key index).
    key_at: &'static str,
}

/// Key ranges a partitioned check is split into (the audit's target machine has 2 cores; more
/// ranges than cores lets the other checks fill the gaps).
const PARTITIONS: i64 = 4;

/// Below every 16-byte UUID blob (blobs compare bytewise, then a shorter one first).
const KEY_RANGE_START: &[u8] = &[0x00];
/// Above every 16-byte UUID blob.
const KEY_RANGE_END: &[u8] = &[0xFF; 17];

/// Every check. The SQL returns only violations, so a clean database returns no rows.
const CHECKS: &[Check] = &[
    Check {
        check: AuditCheck::PayoutLines,
        entity_type: "payout",
        postgres_sql: None,
        reports_entity_type: false,
        sql: "SELECT p.id AS entity_id, e.name AS label, p.total AS expected,
                     COALESCE(l.total, 0) AS actual, ABS(p.total - COALESCE(l.total, 0)) +
                     CASE WHEN COALESCE(l.n, 0) <> p.record_count AND p.total = COALESCE(l.total, 0)
                          THEN p.total ELSE 0 END AS amount
              FROM payouts p JOIN employees e ON e.id = p.employee_id
              LEFT JOIN (SELECT payout_id, COUNT(*) AS n, SUM(amount) AS total FROM payout_lines
                         WHERE NOT released GROUP BY payout_id) l ON l.payout_id = p.id
              WHERE p.state = 'committed' AND ($1 IS NULL OR p.period_end >= $1)
                AND (COALESCE(l.n, 0) <> p.record_count OR COALESCE(l.total, 0) <> p.total)",
        describe: |r| {
            format!(
                "committed payout to {} records {} but its lines sum to {}",
                r.label,
                Rappen(r.expected),
                Rappen(r.actual)
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::LinesDoNotAddUp {
                employee: r.label.clone(),
                total: Rappen(r.expected),
                lines: Rappen(r.actual),
            })
        },
        detail_columns: "",
        partitioning: None,
    },
    Check {
        check: AuditCheck::PayoutTransfer,
        entity_type: "payout",
        postgres_sql: None,
        reports_entity_type: false,
        sql: "SELECT entity_id, label, expected, actual, ABS(expected - actual) AS amount, label AS subject
              FROM (SELECT p.id AS entity_id, e.name AS label, p.total AS expected,
                           COALESCE((SELECT -SUM(pp.amount) FROM ledger_postings pp
                                     JOIN ledger_accounts a ON a.id = pp.account_id
                                     WHERE pp.transfer_id = p.id AND a.code IN ('bank', 'cash_drawer')), 0) AS actual
                    FROM payouts p JOIN employees e ON e.id = p.employee_id
                    WHERE p.state = 'committed' AND ($1 IS NULL OR p.period_end >= $1)) AS committed
              WHERE actual <> expected
              UNION ALL
              SELECT t.cause_id, COALESCE(e.name, 'an unknown payout'), 0, COUNT(*), 0, e.name
              FROM ledger_transfers t LEFT JOIN payouts p ON p.id = t.cause_id
              LEFT JOIN employees e ON e.id = p.employee_id
              WHERE t.kind = 'payout_committed' AND ($1 IS NULL OR t.effective_on >= $1)
                AND (p.id IS NULL OR p.state <> 'committed')
              GROUP BY t.cause_id, e.name",
        describe: |r| {
            if r.expected == 0 {
                format!(
                    "a payout transfer exists for {} although that payout is not committed",
                    r.label
                )
            } else {
                format!(
                    "committed payout to {} of {} has ledger postings paying out {} (it must have exactly one transfer for its total)",
                    r.label,
                    Rappen(r.expected),
                    Rappen(r.actual)
                )
            }
        },
        detail: |r| {
            Ok(if r.expected == 0 {
                AuditFindingDetail::TransferOfUncommittedPayout {
                    employee: r.subject.clone(),
                }
            } else {
                AuditFindingDetail::PayoutTransferDiffers {
                    employee: r.label.clone(),
                    total: Rappen(r.expected),
                    paid_out: Rappen(r.actual),
                }
            })
        },
        detail_columns: ", subject",
        partitioning: None,
    },
    Check {
        check: AuditCheck::RecordClaimedTwice,
        entity_type: "service_record",
        postgres_sql: None,
        reports_entity_type: true,
        // Duplicates are found by counting in the order of the one-live-line-per-record index;
        // only duplicated records are read back for the amount at stake.
        sql: "SELECT 'service_record' AS entity_type, d.service_record_id AS entity_id, 'service record' AS label,
                     1 AS expected, COUNT(*) AS actual, SUM(pl.amount) - MIN(pl.amount) AS amount
              FROM (SELECT service_record_id FROM payout_lines
                    WHERE NOT released AND service_record_id IS NOT NULL
                    GROUP BY service_record_id HAVING COUNT(*) > 1) d
              JOIN payout_lines pl ON pl.service_record_id = d.service_record_id AND NOT pl.released
              GROUP BY d.service_record_id
              UNION ALL
              SELECT 'day_record', day_record_id, 'day record', 1, COUNT(*), ABS(SUM(amount) - MIN(amount))
              FROM payout_lines WHERE NOT released AND day_record_id IS NOT NULL
              GROUP BY day_record_id HAVING COUNT(*) > 1",
        describe: |r| {
            format!(
                "{} is claimed by {} live payouts (it would be paid {} times)",
                r.label, r.actual, r.actual
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::ClaimedTwice {
                payouts: r.actual,
            })
        },
        detail_columns: "",
        partitioning: None,
    },
    Check {
        check: AuditCheck::LineMisplaced,
        entity_type: "payout",
        postgres_sql: Some(
            "SELECT m.payout_id AS entity_id,
                     m.kind || replace(CAST(m.record_id AS TEXT), '-', '') || ' of ' || COALESCE(re.name, 'nobody')
                       || ' on ' || COALESCE(CAST(m.on_date AS TEXT), '?')
                       || ' is in the payout to ' || pe.name || ' for ' || m.period_start || ' to ' || m.period_end AS label,
                     0 AS expected, 0 AS actual, ABS(m.amount) AS amount,
                     re.name AS subject, CAST(m.on_date AS TEXT) AS on_date, m.kind AS kind, pe.name AS payee,
                     CAST(m.period_start AS TEXT) AS period_start, CAST(m.period_end AS TEXT) AS period_end
              FROM (SELECT pl.payout_id, 'service record ' AS kind, pl.service_record_id AS record_id,
                           sr.employee_id AS record_employee_id, sr.performed_on AS on_date,
                           p.employee_id, p.period_start, p.period_end, pl.amount
                    FROM payout_lines pl
                    LEFT JOIN service_records sr ON sr.id = pl.service_record_id
                    JOIN payouts p ON p.id = pl.payout_id
                    WHERE NOT pl.released AND pl.service_record_id IS NOT NULL
                      AND ($1 IS NULL OR pl.on_date >= $1)
                      AND (sr.employee_id IS DISTINCT FROM p.employee_id OR sr.performed_on IS NULL
                           OR sr.performed_on NOT BETWEEN p.period_start AND p.period_end)
                    UNION ALL
                    SELECT pl.payout_id, 'day record ', pl.day_record_id, dr.employee_id, dr.worked_on,
                           p.employee_id, p.period_start, p.period_end, pl.amount
                    FROM payout_lines pl
                    LEFT JOIN day_records dr ON dr.id = pl.day_record_id
                    JOIN payouts p ON p.id = pl.payout_id
                    WHERE NOT pl.released AND pl.day_record_id IS NOT NULL
                      AND ($1 IS NULL OR pl.on_date >= $1)
                      AND (dr.employee_id IS DISTINCT FROM p.employee_id OR dr.worked_on IS NULL
                           OR dr.worked_on NOT BETWEEN p.period_start AND p.period_end)) m
              JOIN employees pe ON pe.id = m.employee_id
              LEFT JOIN employees re ON re.id = m.record_employee_id",
        ),
        reports_entity_type: false,
        // Lines are read in record-id order (the one-live-line-per-record index), so the record
        // lookups walk the records' B-tree forwards instead of jumping across it once per payout
        // (1,000,000 records: 1.9 s -> 0.4 s). Names are looked up only for misplaced lines.
        sql: "SELECT m.payout_id AS entity_id,
                     m.kind || lower(hex(m.record_id)) || ' of ' || COALESCE(re.name, 'nobody')
                       || ' on ' || COALESCE(CAST(m.on_date AS TEXT), '?')
                       || ' is in the payout to ' || pe.name || ' for ' || m.period_start || ' to ' || m.period_end AS label,
                     0 AS expected, 0 AS actual, ABS(m.amount) AS amount,
                     re.name AS subject, CAST(m.on_date AS TEXT) AS on_date, m.kind AS kind, pe.name AS payee,
                     CAST(m.period_start AS TEXT) AS period_start, CAST(m.period_end AS TEXT) AS period_end
              FROM (SELECT pl.payout_id, 'service record ' AS kind, pl.service_record_id AS record_id,
                           sr.employee_id AS record_employee_id, sr.performed_on AS on_date,
                           p.employee_id, p.period_start, p.period_end, pl.amount
                    FROM payout_lines pl
                    LEFT JOIN service_records sr ON sr.id = pl.service_record_id
                    CROSS JOIN payouts p ON p.id = pl.payout_id
                    WHERE NOT pl.released AND pl.service_record_id IS NOT NULL
                      AND ($1 IS NULL OR pl.on_date >= $1)
                      AND (sr.employee_id IS NOT p.employee_id OR sr.performed_on IS NULL
                           OR sr.performed_on NOT BETWEEN p.period_start AND p.period_end)
                    UNION ALL
                    SELECT pl.payout_id, 'day record ', pl.day_record_id, dr.employee_id, dr.worked_on,
                           p.employee_id, p.period_start, p.period_end, pl.amount
                    FROM payout_lines pl
                    LEFT JOIN day_records dr ON dr.id = pl.day_record_id
                    CROSS JOIN payouts p ON p.id = pl.payout_id
                    WHERE NOT pl.released AND pl.day_record_id IS NOT NULL
                      AND ($1 IS NULL OR pl.on_date >= $1)
                      AND (dr.employee_id IS NOT p.employee_id OR dr.worked_on IS NULL
                           OR dr.worked_on NOT BETWEEN p.period_start AND p.period_end)) m
              JOIN employees pe ON pe.id = m.employee_id
              LEFT JOIN employees re ON re.id = m.record_employee_id",
        describe: |r| format!("{}: not that employee's or not in that period", r.label),
        detail: |r| {
            Ok(AuditFindingDetail::LineMisplaced {
                record: match r.kind.as_deref().map(str::trim) {
                    Some("service record") => AuditedRecord::Service,
                    Some("day record") => AuditedRecord::WorkingDay,
                    other => return Err(format!("kind {other:?}")),
                },
                owner: r.subject.clone(),
                on: r.on_date.as_deref().map(detail_date).transpose()?,
                payee: required(&r.payee, "payee")?,
                period_start: detail_date(&required(&r.period_start, "period_start")?)?,
                period_end: detail_date(&required(&r.period_end, "period_end")?)?,
            })
        },
        detail_columns: ", subject, on_date, kind, payee, period_start, period_end",
        partitioning: None,
    },
    Check {
        check: AuditCheck::TransferUnbalanced,
        entity_type: "transfer",
        postgres_sql: Some(
            "SELECT t.id AS entity_id, t.reason AS label, 0 AS expected, COALESCE(SUM(p.amount), 0) AS actual,
                    GREATEST(ABS(COALESCE(SUM(p.amount), 0)), CASE WHEN COUNT(p.account_id) < 2 THEN 1 ELSE 0 END) AS amount
             FROM ledger_transfers t LEFT JOIN ledger_postings p ON p.transfer_id = t.id
             WHERE $1 IS NULL OR t.effective_on >= $1
             GROUP BY t.id, t.reason
             HAVING COUNT(p.account_id) < 2 OR COALESCE(SUM(p.amount), 0) <> 0",
        ),
        reports_entity_type: false,
        // Everything: one ordered pass over the postings (clustered by transfer) counts the
        // transfers with postings and the unbalanced ones; only when that pass finds a problem,
        // or fewer transfers with postings than transfers, does the per-transfer listing run.
        // A window: that listing, restricted to the window's transfers. Both within the key
        // range [$3, $4) of this partition.
        sql: "WITH summary AS MATERIALIZED (
                  SELECT COUNT(*) AS transfers, COALESCE(SUM(n < 2 OR total <> 0), 0) AS unbalanced
                  FROM (SELECT COUNT(*) AS n, SUM(amount) AS total FROM ledger_postings
                        WHERE $1 IS NULL AND transfer_id >= $3 AND transfer_id < $4
                        GROUP BY transfer_id))
              SELECT t.id AS entity_id, t.reason AS label, 0 AS expected, COALESCE(SUM(p.amount), 0) AS actual,
                     MAX(ABS(COALESCE(SUM(p.amount), 0)), COUNT(p.account_id) < 2) AS amount
              FROM ledger_transfers t LEFT JOIN ledger_postings p ON p.transfer_id = t.id
              WHERE $1 IS NULL AND t.id >= $3 AND t.id < $4
                AND EXISTS (SELECT 1 FROM summary
                            WHERE unbalanced > 0
                               OR transfers <> (SELECT COUNT(*) FROM ledger_transfers WHERE id >= $3 AND id < $4))
              GROUP BY t.id, t.reason
              HAVING COUNT(p.account_id) < 2 OR COALESCE(SUM(p.amount), 0) <> 0
              UNION ALL
              SELECT t.id, t.reason, 0, COALESCE(SUM(p.amount), 0),
                     MAX(ABS(COALESCE(SUM(p.amount), 0)), COUNT(p.account_id) < 2)
              FROM ledger_transfers t LEFT JOIN ledger_postings p ON p.transfer_id = t.id
              WHERE $1 IS NOT NULL AND t.effective_on >= $1 AND t.id >= $3 AND t.id < $4
              GROUP BY t.id, t.reason
              HAVING COUNT(p.account_id) < 2 OR COALESCE(SUM(p.amount), 0) <> 0",
        describe: |r| {
            format!(
                "transfer \"{}\" does not balance: its postings sum to {} (they must sum to zero, with at least two)",
                r.label,
                Rappen(r.actual)
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::Unbalanced {
                transfer: r.label.clone(),
                sum: Rappen(r.actual),
            })
        },
        detail_columns: "",
        partitioning: Some(Partitioning {
            rows: "SELECT COUNT(*) FROM ledger_transfers",
            key_at: "SELECT id FROM ledger_transfers ORDER BY id LIMIT 1 OFFSET $1",
        }),
    },
    Check {
        check: AuditCheck::RecordWithoutTransfer,
        entity_type: "service_record",
        postgres_sql: Some(
            "WITH missing AS MATERIALIZED (
                  SELECT id FROM service_records WHERE $1 IS NULL
                  EXCEPT SELECT id FROM ledger_transfers WHERE $1 IS NULL)
              SELECT 'service_record' AS entity_type, sr.id AS entity_id,
                     'service of ' || e.name || ' on ' || sr.performed_on AS label,
                     sr.price + sr.tip AS expected, 0 AS actual, sr.price + sr.tip AS amount,
                     e.name AS subject, CAST(sr.performed_on AS TEXT) AS on_date, 'service' AS kind
              FROM missing JOIN service_records sr ON sr.id = missing.id
              JOIN employees e ON e.id = sr.employee_id
              UNION ALL
              SELECT 'service_record', m.id, 'service of ' || e.name || ' on ' || m.performed_on,
                     m.amount, 0, m.amount, e.name, CAST(m.performed_on AS TEXT), 'service'
              FROM (SELECT sr.id, sr.employee_id, sr.performed_on, sr.price + sr.tip AS amount
                    FROM service_records sr
                    WHERE $1 IS NOT NULL AND sr.performed_on >= $1
                      AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = sr.id)) m
              JOIN employees e ON e.id = m.employee_id
              UNION ALL
              SELECT 'day_record', dr.id, 'deduction of ' || e.name || ' on ' || dr.worked_on, dr.deduction, 0, dr.deduction,
                     e.name, CAST(dr.worked_on AS TEXT), 'deduction'
              FROM day_records dr JOIN employees e ON e.id = dr.employee_id
              WHERE ($1 IS NULL OR dr.worked_on >= $1) AND dr.deduction > 0
                AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = dr.id)
              UNION ALL
              SELECT 'service_record', sr.id, 'refund of the service of ' || e.name || ' on ' || sr.performed_on,
                     sr.price + sr.tip, 0, sr.price + sr.tip, e.name, CAST(sr.performed_on AS TEXT), 'refund'
              FROM service_records sr JOIN employees e ON e.id = sr.employee_id
              WHERE sr.refunded_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.reverses = sr.id)",
        ),
        reports_entity_type: true,
        // A record's transfer has the record's id. Everything: a merge of the two primary-key
        // indexes in id order (`EXCEPT ... ORDER BY` with `LIMIT -1`, which keeps SQLite from
        // dropping the ORDER BY that makes it a merge instead of a temporary B-tree); a window:
        // one primary-key probe per record of the window. Names only for records that fail.
        sql: "WITH missing AS MATERIALIZED (
                  SELECT id FROM service_records WHERE $1 IS NULL
                  EXCEPT SELECT id FROM ledger_transfers WHERE $1 IS NULL
                  ORDER BY 1 LIMIT -1)
              SELECT 'service_record' AS entity_type, sr.id AS entity_id,
                     'service of ' || e.name || ' on ' || sr.performed_on AS label,
                     sr.price + sr.tip AS expected, 0 AS actual, sr.price + sr.tip AS amount,
                     e.name AS subject, CAST(sr.performed_on AS TEXT) AS on_date, 'service' AS kind
              FROM missing JOIN service_records sr ON sr.id = missing.id
              JOIN employees e ON e.id = sr.employee_id
              UNION ALL
              SELECT 'service_record', m.id, 'service of ' || e.name || ' on ' || m.performed_on,
                     m.amount, 0, m.amount, e.name, CAST(m.performed_on AS TEXT), 'service'
              FROM (SELECT sr.id, sr.employee_id, sr.performed_on, sr.price + sr.tip AS amount
                    FROM service_records sr
                    WHERE $1 IS NOT NULL AND sr.performed_on >= $1
                      AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = sr.id)) m
              JOIN employees e ON e.id = m.employee_id
              UNION ALL
              SELECT 'day_record', dr.id, 'deduction of ' || e.name || ' on ' || dr.worked_on, dr.deduction, 0, dr.deduction,
                     e.name, CAST(dr.worked_on AS TEXT), 'deduction'
              FROM day_records dr JOIN employees e ON e.id = dr.employee_id
              WHERE ($1 IS NULL OR dr.worked_on >= $1) AND dr.deduction > 0
                AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = dr.id)
              UNION ALL
              SELECT 'service_record', sr.id, 'refund of the service of ' || e.name || ' on ' || sr.performed_on,
                     sr.price + sr.tip, 0, sr.price + sr.tip, e.name, CAST(sr.performed_on AS TEXT), 'refund'
              FROM service_records sr JOIN employees e ON e.id = sr.employee_id
              WHERE sr.refunded_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.reverses = sr.id)",
        describe: |r| format!("the {} ({}) has no ledger transfer", r.label, Rappen(r.expected)),
        detail: |r| {
            Ok(AuditFindingDetail::NoTransfer {
                record: match r.kind.as_deref() {
                    Some("service") => AuditedRecord::Service,
                    Some("deduction") => AuditedRecord::WorkingDay,
                    Some("refund") => AuditedRecord::Refund,
                    other => return Err(format!("kind {other:?}")),
                },
                employee: required(&r.subject, "subject")?,
                on: detail_date(&required(&r.on_date, "on_date")?)?,
                amount: Rappen(r.expected),
            })
        },
        detail_columns: ", subject, on_date, kind",
        partitioning: None,
    },
    Check {
        check: AuditCheck::PayableMismatch,
        entity_type: "employee",
        postgres_sql: Some(
            "WITH earned AS (SELECT employee_id, SUM(commission) AS v
                              FROM service_records
                              WHERE refunded_at IS NULL GROUP BY employee_id),
                   charged AS (SELECT employee_id, SUM(deduction) AS v FROM day_records GROUP BY employee_id),
                   paid AS (SELECT p.employee_id,
                                   SUM((SELECT SUM(pl.commission) - SUM(pl.deduction) FROM payout_lines pl
                                        WHERE pl.payout_id = p.id AND NOT pl.released)) AS v
                            FROM payouts p WHERE p.state = 'committed' GROUP BY p.employee_id),
                   ledger AS MATERIALIZED (SELECT a.employee_id,
                                     -(SELECT SUM(lp.amount) FROM ledger_postings lp WHERE lp.account_id = a.id) AS v
                              FROM ledger_accounts a WHERE a.code = 'employee_payable')
              SELECT e.id AS entity_id, e.name AS label,
                     COALESCE(earned.v, 0) - COALESCE(charged.v, 0) - COALESCE(paid.v, 0) AS expected,
                     COALESCE(ledger.v, 0) AS actual,
                     ABS(COALESCE(earned.v, 0) - COALESCE(charged.v, 0) - COALESCE(paid.v, 0) - COALESCE(ledger.v, 0)) AS amount
              FROM employees e
              LEFT JOIN earned ON earned.employee_id = e.id
              LEFT JOIN charged ON charged.employee_id = e.id
              LEFT JOIN paid ON paid.employee_id = e.id
              LEFT JOIN ledger ON ledger.employee_id = e.id
              WHERE COALESCE(earned.v, 0) - COALESCE(charged.v, 0) - COALESCE(paid.v, 0) <> COALESCE(ledger.v, 0)",
        ),
        reports_entity_type: false,
        // Unpaid = not in a committed payout, computed as (everything) − (paid). Every sum reads
        // a covering index in key order: records by employee (service_records_employee_sums),
        // each committed payout's live lines (payout_lines_payout_live), each payable account's
        // postings (ledger_postings_account); no table scan, no sort of a million rows.
        sql: "WITH earned AS (SELECT employee_id, SUM(commission) AS v
                              FROM service_records
                              WHERE refunded_at IS NULL GROUP BY employee_id),
                   charged AS (SELECT employee_id, SUM(deduction) AS v FROM day_records NOT INDEXED GROUP BY employee_id),
                   paid AS (SELECT p.employee_id,
                                   SUM((SELECT SUM(pl.commission) - SUM(pl.deduction) FROM payout_lines pl
                                        WHERE pl.payout_id = p.id AND NOT pl.released)) AS v
                            FROM payouts p WHERE p.state = 'committed' GROUP BY p.employee_id),
                   ledger AS MATERIALIZED (SELECT a.employee_id,
                                     -(SELECT SUM(lp.amount) FROM ledger_postings lp WHERE lp.account_id = a.id) AS v
                              FROM ledger_accounts a WHERE a.code = 'employee_payable')
              SELECT e.id AS entity_id, e.name AS label,
                     COALESCE(earned.v, 0) - COALESCE(charged.v, 0) - COALESCE(paid.v, 0) AS expected,
                     COALESCE(ledger.v, 0) AS actual,
                     ABS(COALESCE(earned.v, 0) - COALESCE(charged.v, 0) - COALESCE(paid.v, 0) - COALESCE(ledger.v, 0)) AS amount
              FROM employees e
              LEFT JOIN earned ON earned.employee_id = e.id
              LEFT JOIN charged ON charged.employee_id = e.id
              LEFT JOIN paid ON paid.employee_id = e.id
              LEFT JOIN ledger ON ledger.employee_id = e.id
              WHERE COALESCE(earned.v, 0) - COALESCE(charged.v, 0) - COALESCE(paid.v, 0) <> COALESCE(ledger.v, 0)",
        describe: |r| {
            format!(
                "the ledger owes {} {} but their unpaid records come to {} (commission minus deductions)",
                r.label,
                Rappen(r.actual),
                Rappen(r.expected)
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::PayableDiffers {
                employee: r.label.clone(),
                ledger: Rappen(r.actual),
                records: Rappen(r.expected),
            })
        },
        detail_columns: "",
        partitioning: None,
    },
    Check {
        check: AuditCheck::TipsPayableMismatch,
        entity_type: "studio",
        postgres_sql: None,
        reports_entity_type: false,
        // As the payable check: covering indexes in key order, then a roll-up of a hundred rows.
        sql: "WITH received AS (SELECT studio_id, SUM(v) AS v
                                FROM (SELECT studio_id, SUM(tip) AS v
                                      FROM service_records
                                      WHERE refunded_at IS NULL GROUP BY employee_id, studio_id) AS per_employee
                                GROUP BY studio_id),
                   paid AS (SELECT p.studio_id,
                                   SUM((SELECT SUM(pl.tip) FROM payout_lines pl
                                        WHERE pl.payout_id = p.id AND NOT pl.released)) AS v
                            FROM payouts p WHERE p.state = 'committed' GROUP BY p.studio_id),
                   ledger AS (SELECT a.studio_id, -SUM((SELECT SUM(lp.amount) FROM ledger_postings lp
                                                       WHERE lp.account_id = a.id)) AS v
                              FROM ledger_accounts a WHERE a.code = 'tips_payable' GROUP BY a.studio_id)
              SELECT s.id AS entity_id, s.name AS label,
                     COALESCE(received.v, 0) - COALESCE(paid.v, 0) AS expected, COALESCE(ledger.v, 0) AS actual,
                     ABS(COALESCE(received.v, 0) - COALESCE(paid.v, 0) - COALESCE(ledger.v, 0)) AS amount
              FROM studios s
              LEFT JOIN received ON received.studio_id = s.id
              LEFT JOIN paid ON paid.studio_id = s.id
              LEFT JOIN ledger ON ledger.studio_id = s.id
              WHERE COALESCE(received.v, 0) - COALESCE(paid.v, 0) <> COALESCE(ledger.v, 0)",
        describe: |r| {
            format!(
                "tips payable of {} is {} in the ledger but the unpaid tips come to {}",
                r.label,
                Rappen(r.actual),
                Rappen(r.expected)
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::TipsPayableDiffers {
                studio: r.label.clone(),
                ledger: Rappen(r.actual),
                records: Rappen(r.expected),
            })
        },
        detail_columns: "",
        partitioning: None,
    },
    Check {
        check: AuditCheck::ReturnedPayoutsMismatch,
        entity_type: "studio",
        postgres_sql: None,
        reports_entity_type: false,
        sql: "WITH failed AS (SELECT studio_id, SUM(amount) AS v FROM settlement_items
                              WHERE kind = 'bank_payout' AND state = 'failed' GROUP BY studio_id),
                   ledger AS (SELECT a.studio_id, -SUM((SELECT SUM(lp.amount) FROM ledger_postings lp
                                                       WHERE lp.account_id = a.id)) AS v
                              FROM ledger_accounts a WHERE a.code = 'returned_payouts' GROUP BY a.studio_id)
              SELECT s.id AS entity_id, s.name AS label,
                     COALESCE(failed.v, 0) AS expected, COALESCE(ledger.v, 0) AS actual,
                     ABS(COALESCE(failed.v, 0) - COALESCE(ledger.v, 0)) AS amount
              FROM studios s
              LEFT JOIN failed ON failed.studio_id = s.id
              LEFT JOIN ledger ON ledger.studio_id = s.id
              WHERE COALESCE(failed.v, 0) <> COALESCE(ledger.v, 0)",
        describe: |r| {
            format!(
                "returned bank payouts of {} are {} in the ledger but its failed bank transfers come to {}",
                r.label,
                Rappen(r.actual),
                Rappen(r.expected)
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::ReturnedPayoutsDiffer {
                studio: r.label.clone(),
                ledger: Rappen(r.actual),
                failed: Rappen(r.expected),
            })
        },
        detail_columns: "",
        partitioning: None,
    },
    Check {
        check: AuditCheck::TillMismatch,
        entity_type: "till_session",
        postgres_sql: None,
        reports_entity_type: false,
        sql: "WITH moved AS (
                  SELECT t.till_session_id, SUM(lp.amount) AS v
                  FROM ledger_transfers t JOIN ledger_postings lp ON lp.transfer_id = t.id
                  JOIN ledger_accounts a ON a.id = lp.account_id AND a.code = 'cash_drawer'
                  WHERE t.till_session_id IS NOT NULL AND t.kind <> 'till_variance'
                  GROUP BY t.till_session_id)
              SELECT ts.id AS entity_id, s.name || ' on ' || ts.business_date AS label,
                     s.name AS subject, CAST(ts.business_date AS TEXT) AS on_date,
                     ts.opening_float + COALESCE(moved.v, 0) AS expected, ts.expected_cash AS actual,
                     ABS(ts.opening_float + COALESCE(moved.v, 0) - ts.expected_cash)
                       + ABS(ts.counted_cash - ts.expected_cash - ts.variance) AS amount
              FROM till_sessions ts JOIN studios s ON s.id = ts.studio_id
              LEFT JOIN moved ON moved.till_session_id = ts.id
              WHERE ts.state = 'closed' AND ($1 IS NULL OR ts.business_date >= $1)
                AND (ts.opening_float + COALESCE(moved.v, 0) <> ts.expected_cash
                     OR ts.counted_cash - ts.expected_cash <> ts.variance)",
        describe: |r| {
            format!(
                "the till of {} closed expecting {} but its float and cash postings come to {}",
                r.label,
                Rappen(r.actual),
                Rappen(r.expected)
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::TillDiffers {
                studio: required(&r.subject, "subject")?,
                on: detail_date(&required(&r.on_date, "on_date")?)?,
                expected: Rappen(r.actual),
                postings: Rappen(r.expected),
            })
        },
        detail_columns: ", subject, on_date",
        partitioning: None,
    },
    Check {
        check: AuditCheck::PayoutStuck,
        entity_type: "payout",
        postgres_sql: None,
        reports_entity_type: false,
        sql: "SELECT p.id AS entity_id, e.name || ' (' || p.phase || ')' AS label, 0 AS expected, 0 AS actual,
                     p.expected_total AS amount, e.name AS subject, p.phase AS kind
              FROM payouts p JOIN employees e ON e.id = p.employee_id
              WHERE p.state = 'pending' AND p.updated_at < $2",
        describe: |r| {
            format!(
                "the payout to {} has been pending too long; use Finish payout",
                r.label
            )
        },
        detail: |r| {
            Ok(AuditFindingDetail::PayoutStuck {
                employee: required(&r.subject, "subject")?,
                phase: PayoutPhase::parse(&required(&r.kind, "kind")?)?,
            })
        },
        detail_columns: ", subject, kind",
        partitioning: None,
    },
];

/// When scheduled audits run: a cron expression (seconds first, as the `cron` crate reads it)
/// evaluated in Europe/Zurich, and the window each run checks.
#[derive(Clone, Debug)]
pub struct AuditSchedule {
    /// E.g. `0 0 2 * * *` = every night at 02:00 Zurich time (the default).
    pub cron: cron::Schedule,
    /// Days back each run checks; `None` = everything.
    pub days: Option<i64>,
}

impl AuditSchedule {
    /// The default: nightly at 02:00 Europe/Zurich, everything checked.
    pub const DEFAULT_CRON: &'static str = "0 0 2 * * *";

    /// Parses a cron expression (`sec min hour day-of-month month day-of-week`).
    ///
    /// Errors: the expression is not valid cron; the message names it.
    pub fn parse(expression: &str, days: Option<i64>) -> Result<AuditSchedule, String> {
        use std::str::FromStr as _;
        let cron = cron::Schedule::from_str(expression.trim()).map_err(|error| {
            format!(
                "'{expression}' is not a cron schedule (sec min hour day month weekday): {error}"
            )
        })?;
        Ok(AuditSchedule { cron, days })
    }

    /// The first slot strictly after `after`, in UTC.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .after(&after.with_timezone(&super::STUDIO_TIME_ZONE))
            .next()
            .map(|slot| slot.with_timezone(&Utc))
    }
}

/// Runs the audit at every slot of `schedule` until `shutdown` resolves. Each slot is claimed in
/// the database (`audit_runs_schedule_slot`), so with several server processes it runs once.
pub async fn run_scheduler(
    engine: Engine,
    schedule: AuditSchedule,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let Some(slot) = schedule.next_after(Utc::now()) else {
            tracing::warn!("the audit schedule has no further slots; scheduled audits stop");
            return;
        };
        tracing::info!(next_audit = %slot, "audit scheduled");
        // Negative only when the slot passed since `next_after` (a slow moment): then no wait,
        // the audit runs at once; no error is involved.
        let wait = (slot - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => return,
        }
        match engine
            .run_audit(
                &super::access::Caller::operator("audit-scheduler"),
                AuditTrigger::Schedule,
                schedule.days,
                Some(slot),
            )
            .await
        {
            Ok(report) => tracing::info!(
                run_id = %report.run.id,
                findings = report.findings.len(),
                "scheduled audit done"
            ),
            Err(error) if error.code() == "audit_slot_taken" => {
                tracing::info!(%slot, "scheduled audit already run by another server process")
            }
            Err(error) => tracing::error!(%error, %slot, "scheduled audit failed"),
        }
    }
}

const RUN_SELECT: &str = "SELECT id, trigger, days, status, started_at, finished_at, finding_count,
                                 amount_at_stake, error, 'CHF' AS currency, checks_total,
                                 checks_done FROM audit_runs";

/// How far a running audit is, as each of its jobs (a check over one key range) finishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditProgress {
    /// Jobs finished, this one included.
    pub done: usize,
    /// Jobs of the run.
    pub total: usize,
    /// The check the job just finished ran.
    pub check: AuditCheck,
}

impl Engine {
    /// Runs every check and stores the run with its findings; returns the report.
    ///
    /// `days`: only entities of the last `days` days (records by date, payouts by period end,
    /// transfers by effective date); balance checks (payables, tips) always cover everything.
    /// `scheduled_for`: the schedule slot, for scheduled runs; a slot another process already
    /// ran is refused with 409 `audit_slot_taken`, so a slot runs once across instances.
    ///
    /// Errors: 422 `days` not positive; 409 as above; 503/500 when the database fails (the run
    /// is then stored with status `error` when possible).
    pub async fn run_audit(
        &self,
        caller: &super::access::Caller,
        trigger: AuditTrigger,
        days: Option<i64>,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> Result<AuditReport, AppError> {
        self.run_audit_with_progress(caller, trigger, days, scheduled_for, &|_| {})
            .await
    }

    /// [`Engine::run_audit`], calling `progress` as each job of the run finishes (the command
    /// line prints it). The run's row records the same (`checks_done` of `checks_total`), so the
    /// audit page shows it to anyone while the run goes on.
    ///
    /// Errors: those of [`Engine::run_audit`].
    #[tracing::instrument(skip(self, progress))]
    pub async fn run_audit_with_progress(
        &self,
        caller: &super::access::Caller,
        trigger: AuditTrigger,
        days: Option<i64>,
        scheduled_for: Option<DateTime<Utc>>,
        progress: &(dyn Fn(AuditProgress) + Send + Sync),
    ) -> Result<AuditReport, AppError> {
        caller.require(crate::domain::Permission::RunAudit)?;
        if days.is_some_and(|d| d <= 0) {
            return Err(AppError::validation("days", "days must be at least 1"));
        }
        let id = AuditRunId::generate();
        let started = now();
        let inserted = db::query(
            "INSERT INTO audit_runs (id, trigger, scheduled_for, days, status, started_at)
             VALUES ($1, $2, $3, $4, 'running', $5)",
        )
        .bind(id)
        .bind(trigger)
        .bind(scheduled_for)
        .bind(days)
        .bind(started)
        .execute(self.pool())
        .await;
        if let Err(error) = inserted {
            if super::is_unique_violation(
                &error,
                "audit_runs.scheduled_for",
                "audit_runs_schedule_slot",
            ) {
                return Err(AppError::conflict(
                    "audit_slot_taken",
                    "this scheduled audit already ran (another server process took it)",
                ));
            }
            return Err(db_error("starting the audit run")(error));
        }
        let since = days.map(|d| business_date(started) - chrono::Duration::days(d - 1));
        let stuck_before = started
            - chrono::Duration::from_std(self.settings().stuck_payout_age)
                .unwrap_or(chrono::Duration::hours(1));
        let outcome = self.run_checks(id, since, stuck_before, progress).await;
        match outcome {
            Ok(findings) => self.finish_audit(id, findings).await,
            Err(error) => {
                tracing::error!(run_id = %id, %error, "audit run failed");
                let stored = db::query(
                    "UPDATE audit_runs SET status = 'error', finished_at = $2, error = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(now())
                .bind(error.to_string())
                .execute(self.pool())
                .await;
                if let Err(store_error) = stored {
                    tracing::error!(run_id = %id, error = %store_error, "could not record the failed audit run");
                }
                Err(error)
            }
        }
    }

    /// Runs every check concurrently (a partitioned check as one job per key range); findings
    /// sorted by amount at stake, largest first. Records the number of jobs on the run's row,
    /// then each finished one, and tells `progress`.
    async fn run_checks(
        &self,
        id: AuditRunId,
        since: Option<NaiveDate>,
        stuck_before: DateTime<Utc>,
        progress: &(dyn Fn(AuditProgress) + Send + Sync),
    ) -> Result<Vec<AuditFinding>, AppError> {
        type CheckFuture<'a> =
            Pin<Box<dyn Future<Output = Result<Vec<AuditFinding>, AppError>> + Send + 'a>>;
        let mut jobs = Vec::new();
        for check in CHECKS {
            for range in self.key_ranges(check).await? {
                jobs.push((check, range));
            }
        }
        let total = jobs.len();
        db::query("UPDATE audit_runs SET checks_total = $2 WHERE id = $1")
            .bind(id)
            .bind(total as i64)
            .execute(self.pool())
            .await
            .map_err(db_error("recording the audit's checks"))?;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let done = &done;
        let runs: Vec<CheckFuture<'_>> = jobs
            .into_iter()
            .map(|(check, range)| -> CheckFuture<'_> {
                Box::pin(async move {
                    let findings = self.run_check(check, range, since, stuck_before).await?;
                    let finished = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    // Told before the next await, so `progress` sees the counts in order.
                    progress(AuditProgress {
                        done: finished,
                        total,
                        check: check.check,
                    });
                    // Rows may be written out of order: the row keeps the highest count.
                    db::query(
                        "UPDATE audit_runs SET checks_done = CASE WHEN checks_done < $2 THEN $2
                         ELSE checks_done END WHERE id = $1",
                    )
                    .bind(id)
                    .bind(finished as i64)
                    .execute(self.pool())
                    .await
                    .map_err(db_error("recording the audit's progress"))?;
                    Ok(findings)
                })
            })
            .collect();
        // Each job waits on its own pool connection, so the queries run in parallel.
        let mut findings: Vec<AuditFinding> = futures::future::try_join_all(runs)
            .await?
            .into_iter()
            .flatten()
            .collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.amount_at_stake));
        Ok(findings)
    }

    /// The key ranges `[start, end)` a check runs as: the whole key space for an unpartitioned
    /// check or a small table, else [`PARTITIONS`] ranges of about equal row counts.
    async fn key_ranges(&self, check: &Check) -> Result<Vec<(Vec<u8>, Vec<u8>)>, AppError> {
        let whole = vec![(KEY_RANGE_START.to_vec(), KEY_RANGE_END.to_vec())];
        let Some(partitioning) = check
            .partitioning
            .as_ref()
            .filter(|_| self.backend() == Backend::Sqlite)
        else {
            return Ok(whole);
        };
        let rows: i64 = db::query_scalar(partitioning.rows)
            .fetch_one(self.pool())
            .await
            .map_err(db_error("sizing an audit check's partitions"))?;
        if rows < PARTITIONS * 10_000 {
            return Ok(whole);
        }
        let mut bounds = vec![KEY_RANGE_START.to_vec()];
        for part in 1..PARTITIONS {
            let key: Option<Vec<u8>> = db::query_scalar(partitioning.key_at)
                .bind(rows * part / PARTITIONS)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("finding an audit check's partition bounds"))?;
            // Rows deleted meanwhile (they are never deleted) would only merge two ranges.
            if let Some(key) = key.filter(|key| bounds.last().is_some_and(|last| key > last)) {
                bounds.push(key);
            }
        }
        bounds.push(KEY_RANGE_END.to_vec());
        Ok(bounds
            .windows(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect())
    }

    /// Runs one check over one key range and words its findings.
    async fn run_check(
        &self,
        check: &Check,
        (start, end): (Vec<u8>, Vec<u8>),
        since: Option<NaiveDate>,
        stuck_before: DateTime<Utc>,
    ) -> Result<Vec<AuditFinding>, AppError> {
        let sql = match self.backend() {
            Backend::Sqlite => Cow::Borrowed(check.sql),
            // PostgreSQL sums BIGINT into NUMERIC: the wrapper brings each number back to BIGINT.
            Backend::Postgres => Cow::Owned(format!(
                "SELECT {entity_type} entity_id, label, CAST(expected AS BIGINT) AS expected,
                        CAST(actual AS BIGINT) AS actual, CAST(amount AS BIGINT) AS amount {detail}
                 FROM ({sql}) AS check_rows",
                detail = check.detail_columns,
                entity_type = if check.reports_entity_type {
                    "entity_type,"
                } else {
                    ""
                },
                sql = check.postgres_sql.unwrap_or(check.sql),
            )),
        };
        let rows = db::query_as::<CheckRow>(sql)
            .bind(since)
            .bind(stuck_before)
            .bind(start)
            .bind(end)
            .fetch_all(self.pool())
            .await
            .map_err(|error| {
                tracing::error!(check = %check.check, %error, "audit check failed");
                db_error("running an audit check")(error)
            })?;
        Ok(rows
            .iter()
            .map(|row| AuditFinding {
                check: check.check,
                entity_type: row
                    .entity_type
                    .clone()
                    .unwrap_or_else(|| check.entity_type.to_string()),
                entity_id: row.entity_id,
                message: (check.describe)(row),
                amount_at_stake: Rappen(row.amount.abs()),
                detail: match (check.detail)(row) {
                    Ok(detail) => Some(detail),
                    Err(error) => {
                        // The finding stands with its English message; the page shows that.
                        tracing::error!(check = %check.check, %error, "an audit finding's detail did not read");
                        None
                    }
                },
            })
            .collect())
    }

    /// Stores the findings and the run's result (and, when anything was found, the
    /// `audit.findings` event for the alert outbox) in one transaction.
    async fn finish_audit(
        &self,
        id: AuditRunId,
        findings: Vec<AuditFinding>,
    ) -> Result<AuditReport, AppError> {
        let mut tx = self.begin_write().await?;
        for chunk in findings.chunks(1_000) {
            db::insert_values(
                "INSERT INTO audit_findings (run_id, check_name, entity_type, entity_id, message, amount_at_stake, detail)",
                chunk,
                7,
                |row, f| {
                    row.bind(id)
                        .bind(f.check)
                        .bind(f.entity_type.as_str())
                        .bind(f.entity_id)
                        .bind(f.message.as_str())
                        .bind(f.amount_at_stake)
                        .bind(f.detail.as_ref().map(sqlx::types::Json))
                },
            )
            .execute(&mut tx)
                .await
                .map_err(db_error("storing audit findings"))?;
        }
        let at_stake: i64 = findings.iter().map(|f| f.amount_at_stake.0).sum();
        let status = if findings.is_empty() {
            AuditStatus::Clean
        } else {
            AuditStatus::Findings
        };
        db::query(
            "UPDATE audit_runs SET status = $2, finished_at = $3, finding_count = $4, amount_at_stake = $5
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(now())
        .bind(findings.len() as i64)
        .bind(at_stake)
        .execute(&mut tx)
        .await
        .map_err(db_error("recording the audit result"))?;
        let run = db::query_as::<AuditRun>(&format!("{RUN_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut tx)
            .await
            .map_err(db_error("reading the audit run"))?;
        let report = AuditReport { run, findings };
        if !report.findings.is_empty() {
            super::events::record(
                self.settings(),
                &mut tx,
                "audit.findings",
                None,
                Some(id.0),
                &report,
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(db_error("committing the audit result"))?;
        if report.findings.is_empty() {
            tracing::info!(run_id = %id, "audit clean");
        } else {
            tracing::warn!(run_id = %id, findings = report.findings.len(), at_stake, "audit found problems");
        }
        Ok(report)
    }

    /// Runs each check alone, one after another (a partitioned check's ranges concurrently, as
    /// in a run), and returns how long each took and how many findings it had (for the audit
    /// benchmark; stores nothing).
    pub async fn profile_audit_checks(
        &self,
    ) -> Result<Vec<(AuditCheck, std::time::Duration, usize)>, AppError> {
        let stuck_before = Utc::now();
        let mut timings = Vec::new();
        for check in CHECKS {
            let started = std::time::Instant::now();
            let ranges = self.key_ranges(check).await?;
            let findings = futures::future::try_join_all(
                ranges
                    .into_iter()
                    .map(|range| self.run_check(check, range, None, stuck_before)),
            )
            .await?;
            timings.push((
                check.check,
                started.elapsed(),
                findings.iter().map(Vec::len).sum(),
            ));
        }
        Ok(timings)
    }

    /// The latest audit runs, newest first (at most `limit`, clamped to 1..=200).
    ///
    /// Errors: 403 unless the caller may read audits.
    pub async fn audit_runs(
        &self,
        caller: &super::access::Caller,
        limit: i64,
    ) -> Result<Vec<AuditRun>, AppError> {
        caller.require(crate::domain::Permission::ReadAudits)?;
        db::query_as::<AuditRun>(&format!("{RUN_SELECT} ORDER BY started_at DESC LIMIT $1"))
            .bind(limit.clamp(1, 200))
            .fetch_all(self.pool())
            .await
            .map_err(db_error("listing audit runs"))
    }

    /// One run with its findings (largest amount first).
    ///
    /// Errors: 403 unless the caller may read audits; 404 unknown run.
    pub async fn audit_report(
        &self,
        caller: &super::access::Caller,
        id: AuditRunId,
    ) -> Result<AuditReport, AppError> {
        caller.require(crate::domain::Permission::ReadAudits)?;
        let run = db::query_as::<AuditRun>(&format!("{RUN_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_error("reading the audit run"))?
            .ok_or_else(|| AppError::not_found(format!("no audit run with id {id}")))?;
        let findings = db::query_as::<AuditFinding>(
            "SELECT check_name, entity_type, entity_id, message, amount_at_stake, detail
             FROM audit_findings WHERE run_id = $1 ORDER BY amount_at_stake DESC, rowid",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading audit findings"))?;
        Ok(AuditReport { run, findings })
    }
}
