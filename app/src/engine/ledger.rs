//! The double-entry ledger: the chart of accounts, posting rules and balances.
//!
//! Posting rules are set-based SQL, one statement per rule, used alike for one record (inside the
//! transaction that registers it) and for many (the demo seed, the one-off backfill of records
//! that predate the ledger), so the two can never disagree:
//!
//! | cause | postings (debit +, credit −, Rappen) |
//! |---|---|
//! | service registered | payment account (cash drawer / card / TWINT clearing) +(price+tip); service revenue −price; tips payable −tip; commission expense +commission; employee payable −commission |
//! | day recorded (deduction > 0) | employee payable +deduction; deduction income −deduction |
//! | payout committed | employee payable +(commission − deductions); tips payable +tips; commission expense +top-ups; cash drawer or bank −total |
//!
//! A transfer caused by one record or payout takes that cause's id as its own, and
//! `ledger_transfers_one_per_cause` makes a second one impossible: a retry finds the existing
//! transfer. Every posting statement is followed by a balance check of what it wrote; an
//! unbalanced transfer (e.g. a missing account) fails the whole transaction.

use super::access::Caller;
use super::db::{self, DbTransaction};
use super::{db_error, now, Engine};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};

/// Creates every missing account: the studio accounts of each studio and the payable account of
/// each employee. Idempotent; run at start-up and after the demo seed creates people.
pub async fn ensure_accounts(conn: &mut DbTransaction) -> Result<(), AppError> {
    let studio_codes = AccountCode::ALL
        .into_iter()
        .filter(|c| *c != AccountCode::EmployeePayable)
        .map(|c| format!("SELECT '{}' AS code", c.as_str()))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db::query(format!(
        "INSERT INTO ledger_accounts (studio_id, code)
         SELECT s.id, c.code FROM studios s CROSS JOIN ({studio_codes}) c
         WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a
                           WHERE a.studio_id = s.id AND a.code = c.code AND a.employee_id IS NULL)"
    ))
    .execute(&mut *conn)
    .await
    .map_err(db_error("opening the studio accounts"))?;
    db::query(
        "INSERT INTO ledger_accounts (studio_id, code, employee_id)
         SELECT e.studio_id, 'employee_payable', e.id FROM employees e
         WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.employee_id = e.id)",
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error("opening the employee payable accounts"))?;
    Ok(())
}

/// The row filter of a posting rule: one cause (`{alias}.id = $1`) or all (`$1` is NULL). Two
/// spellings instead of `($1 IS NULL OR id = $1)`, which SQLite cannot answer from the primary key.
fn only(alias: &str, one: bool) -> String {
    if one {
        format!("{alias}.id = $1")
    } else {
        "$1 IS NULL".to_string()
    }
}

/// `JOIN` of the studio account `code` (a SQL expression) for rows aliased `n` with `studio_id`.
fn studio_account(alias: &str, code: &str) -> String {
    format!(
        "JOIN ledger_accounts {alias} ON {alias}.studio_id = n.studio_id AND {alias}.employee_id IS NULL AND {alias}.code = {code}"
    )
}

/// Posts the `service_registered` transfer of every service record matching `record` (`None` =
/// every record without one). `till_session` tags cash sales with the open till. Returns the
/// number of transfers written.
pub async fn post_service_transfers(
    tx: &mut DbTransaction,
    record: Option<ServiceRecordId>,
    at: DateTime<Utc>,
) -> Result<u64, AppError> {
    let written = db::query(format!(
        "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, till_session_id, created_at)
         SELECT sr.id, sr.studio_id, 'service_registered',
                s.name || ' by ' || e.name || ', ' || sr.payment_method,
                'service_record', sr.id, sr.performed_on,
                CASE WHEN sr.payment_method = 'cash' AND $2
                     THEN (SELECT t.id FROM till_sessions t WHERE t.studio_id = sr.studio_id AND t.state = 'open')
                END,
                $3
         FROM service_records sr
         JOIN services s ON s.id = sr.service_id
         JOIN employees e ON e.id = sr.employee_id
         WHERE {only} AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = sr.id)",
        only = only("sr", record.is_some()),
    ))
    .bind(record)
    .bind(record.is_some())
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the service's transfer"))?
    .rows_affected();
    if written == 0 {
        return Ok(0);
    }
    let payment_account = studio_account(
        "a",
        "CASE n.payment_method WHEN 'cash' THEN 'cash_drawer' WHEN 'card' THEN 'card_clearing' ELSE 'twint_clearing' END",
    );
    let revenue = studio_account("a", "'service_revenue'");
    let tips = studio_account("a", "'tips_payable'");
    let expense = studio_account("a", "'commission_expense'");
    db::query(format!(
        "WITH n AS (
             SELECT sr.* FROM service_records sr JOIN ledger_transfers t ON t.id = sr.id
             WHERE t.kind = 'service_registered' AND t.created_at = $2 AND {only}
               AND NOT EXISTS (SELECT 1 FROM ledger_postings x WHERE x.transfer_id = t.id)
         )
         INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT n.id, a.id, n.price + n.tip FROM n {payment_account}
         UNION ALL SELECT n.id, a.id, -n.price FROM n {revenue}
         UNION ALL SELECT n.id, a.id, -n.tip FROM n {tips} WHERE n.tip > 0
         UNION ALL SELECT n.id, a.id, n.commission FROM n {expense} WHERE n.commission > 0
         UNION ALL SELECT n.id, a.id, -n.commission FROM n
             JOIN ledger_accounts a ON a.employee_id = n.employee_id WHERE n.commission > 0",
        only = only("sr", record.is_some()),
    ))
    .bind(record)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the service's postings"))?;
    verify_written(tx, TransferKind::ServiceRegistered, at, record.map(|r| r.0)).await?;
    Ok(written)
}

/// Posts the `day_recorded` transfer (the deduction) of every day record matching `record` (`None`
/// = every day record with a deduction and no transfer). Days without a deduction move no money
/// and get no transfer. Returns the number written.
pub async fn post_day_transfers(
    tx: &mut DbTransaction,
    record: Option<DayRecordId>,
    at: DateTime<Utc>,
) -> Result<u64, AppError> {
    let written = db::query(format!(
        "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, created_at)
         SELECT dr.id, dr.studio_id, 'day_recorded', 'Daily deduction of ' || e.name || ' for ' || dr.worked_on,
                'day_record', dr.id, dr.worked_on, $2
         FROM day_records dr JOIN employees e ON e.id = dr.employee_id
         WHERE {only} AND dr.deduction > 0
           AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = dr.id)",
        only = only("dr", record.is_some()),
    ))
    .bind(record)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the day's transfer"))?
    .rows_affected();
    if written == 0 {
        return Ok(0);
    }
    let income = studio_account("a", "'deduction_income'");
    db::query(format!(
        "WITH n AS (
             SELECT dr.* FROM day_records dr JOIN ledger_transfers t ON t.id = dr.id
             WHERE t.kind = 'day_recorded' AND t.created_at = $2 AND {only}
               AND NOT EXISTS (SELECT 1 FROM ledger_postings x WHERE x.transfer_id = t.id)
         )
         INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT n.id, a.id, n.deduction FROM n JOIN ledger_accounts a ON a.employee_id = n.employee_id
         UNION ALL SELECT n.id, a.id, -n.deduction FROM n {income}",
        only = only("dr", record.is_some()),
    ))
    .bind(record)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the day's postings"))?;
    verify_written(tx, TransferKind::DayRecorded, at, record.map(|r| r.0)).await?;
    Ok(written)
}

/// Posts the `payout_committed` transfer of every committed payout matching `payout` (`None` =
/// every committed payout without one), from the sums of its live lines. Called in the same
/// transaction that marks the payout committed, so a committed payout always has exactly one.
/// Returns the number written.
pub async fn post_payout_transfers(
    tx: &mut DbTransaction,
    payout: Option<PayoutId>,
    at: DateTime<Utc>,
) -> Result<u64, AppError> {
    let written = db::query(format!(
        "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, till_session_id, created_at)
         SELECT p.id, p.studio_id, 'payout_committed',
                'Payout to ' || e.name || ' for ' || p.period_start || ' to ' || p.period_end || ' (' || p.method || ')',
                'payout', p.id,
                -- Backfilled payouts (no id given) take the UTC date of their commit.
                CASE WHEN $1 IS NULL THEN {commit_date} ELSE $3 END,
                CASE WHEN p.method = 'cash'
                     THEN (SELECT t.id FROM till_sessions t WHERE t.studio_id = p.studio_id AND t.state = 'open')
                END,
                $2
         FROM payouts p JOIN employees e ON e.id = p.employee_id
         WHERE {only} AND p.state = 'committed'
           AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = p.id)",
        only = only("p", payout.is_some()),
        commit_date = tx.backend().utc_date_of("p.committed_at"),
    ))
    .bind(payout)
    .bind(at)
    .bind(super::business_date(at))
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the payout's transfer"))?
    .rows_affected();
    if written == 0 {
        return Ok(0);
    }
    let settlement = studio_account(
        "a",
        "CASE n.method WHEN 'cash' THEN 'cash_drawer' ELSE 'bank' END",
    );
    let tips = studio_account("a", "'tips_payable'");
    let expense = studio_account("a", "'commission_expense'");
    db::query(format!(
        "WITH n AS (
             SELECT p.id, p.studio_id, p.employee_id, p.method,
                    SUM(pl.commission) - SUM(pl.deduction) AS payable, SUM(pl.tip) AS tips,
                    SUM(pl.top_up) AS top_ups, SUM(pl.amount) AS total
             FROM payouts p JOIN ledger_transfers t ON t.id = p.id
             JOIN payout_lines pl ON pl.payout_id = p.id AND NOT pl.released
             WHERE t.kind = 'payout_committed' AND t.created_at = $2 AND {only}
               AND NOT EXISTS (SELECT 1 FROM ledger_postings x WHERE x.transfer_id = t.id)
             GROUP BY p.id, p.studio_id, p.employee_id, p.method
         )
         INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT n.id, a.id, n.payable FROM n JOIN ledger_accounts a ON a.employee_id = n.employee_id
         UNION ALL SELECT n.id, a.id, n.tips FROM n {tips} WHERE n.tips <> 0
         UNION ALL SELECT n.id, a.id, n.top_ups FROM n {expense} WHERE n.top_ups <> 0
         UNION ALL SELECT n.id, a.id, -n.total FROM n {settlement}",
        only = only("p", payout.is_some()),
    ))
    .bind(payout)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the payout's postings"))?;
    verify_written(tx, TransferKind::PayoutCommitted, at, payout.map(|p| p.0)).await?;
    Ok(written)
}

/// Checks that the transfers just posted (the one with id `only`, or else every transfer of
/// `kind` posted at `at`) each have at least two postings summing to zero. Errors (500): any
/// does not; the caller's transaction is then rolled back, so nothing unbalanced is ever stored.
async fn verify_written(
    tx: &mut DbTransaction,
    kind: TransferKind,
    at: DateTime<Utc>,
    only: Option<uuid::Uuid>,
) -> Result<(), AppError> {
    let filter = if only.is_some() {
        "t.id = $3"
    } else {
        "t.kind = $1 AND t.created_at = $2"
    };
    let unbalanced: Vec<(TransferId, i64, i64)> = db::query_as(format!(
        "SELECT t.id, COUNT(p.account_id), CAST(COALESCE(SUM(p.amount), 0) AS BIGINT)
         FROM ledger_transfers t LEFT JOIN ledger_postings p ON p.transfer_id = t.id
         WHERE {filter}
         GROUP BY t.id
         HAVING COUNT(p.account_id) < 2 OR COALESCE(SUM(p.amount), 0) <> 0
         LIMIT 5"
    ))
    .bind(kind)
    .bind(at)
    .bind(only)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error("verifying the new transfers"))?;
    if let Some((id, postings, sum)) = unbalanced.first() {
        tracing::error!(%kind, transfer_id = %id, postings, sum, "refusing an unbalanced transfer");
        return Err(AppError::Internal {
            message: format!(
                "the ledger refused an unbalanced {kind} transfer ({postings} postings summing to {}); nothing was saved",
                Rappen(*sum)
            ),
        });
    }
    Ok(())
}

/// One row of the balance query.
#[derive(sqlx::FromRow)]
struct BalanceRow {
    code: AccountCode,
    employee_id: Option<EmployeeId>,
    employee_name: Option<String>,
    debit_balance: i64,
}

impl Engine {
    /// Every account of a studio with its balance at the end of business day `as_of` (every
    /// transfer effective on or before it), or now when `None`; in chart order, payables by name.
    ///
    /// Errors: 403 unless the caller may read this studio's ledger; 404 when the studio is
    /// unknown.
    pub async fn balances(
        &self,
        caller: &Caller,
        studio: StudioId,
        as_of: Option<NaiveDate>,
    ) -> Result<Vec<AccountBalance>, AppError> {
        caller.require_studio(Permission::ReadLedger, studio)?;
        let known: Option<bool> = db::query_scalar("SELECT TRUE FROM studios WHERE id = $1")
            .bind(studio)
            .fetch_optional(self.pool())
            .await
            .map_err(db_error("looking up the studio"))?;
        if known.is_none() {
            return Err(AppError::not_found(format!("no studio with id {studio}")));
        }
        let rows = db::query_as::<BalanceRow>(
            "SELECT a.code, a.employee_id, e.name AS employee_name,
                    CAST(COALESCE((SELECT SUM(p.amount) FROM ledger_postings p
                              JOIN ledger_transfers t ON t.id = p.transfer_id
                              WHERE p.account_id = a.id AND ($2 IS NULL OR t.effective_on <= $2)), 0) AS BIGINT) AS debit_balance
             FROM ledger_accounts a LEFT JOIN employees e ON e.id = a.employee_id
             WHERE a.studio_id = $1",
        )
        .bind(studio)
        .bind(as_of)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("computing balances"))?;
        let mut balances: Vec<AccountBalance> = rows
            .into_iter()
            .map(|row| {
                let kind = row.code.kind();
                let shown = if kind.debit_normal() {
                    row.debit_balance
                } else {
                    -row.debit_balance
                };
                let name = match row.employee_name {
                    Some(employee) => format!("{} — {employee}", row.code.label()),
                    None => row.code.label().to_string(),
                };
                AccountBalance {
                    account: row.code,
                    name,
                    kind,
                    employee_id: row.employee_id,
                    debit_balance: Rappen(row.debit_balance),
                    balance: Rappen(shown),
                    currency: CURRENCY.to_string(),
                }
            })
            .collect();
        let position = |code: AccountCode| AccountCode::ALL.iter().position(|c| *c == code);
        balances.sort_by(|a, b| {
            position(a.account)
                .cmp(&position(b.account))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(balances)
    }

    /// The transfers of a studio, newest first (at most `limit`, clamped to 1..=500), each with
    /// its postings. Only the caller's studios.
    ///
    /// Errors: 403 unless the caller may read the ledger.
    pub async fn transfers(
        &self,
        caller: &Caller,
        studio: Option<StudioId>,
        cause: Option<uuid::Uuid>,
        limit: i64,
    ) -> Result<Vec<Transfer>, AppError> {
        caller.require(Permission::ReadLedger)?;
        let scope = caller.studio_filter();
        #[derive(sqlx::FromRow)]
        struct Row {
            id: TransferId,
            studio_id: StudioId,
            kind: TransferKind,
            reason: String,
            cause_type: String,
            cause_id: uuid::Uuid,
            effective_on: NaiveDate,
            created_at: DateTime<Utc>,
            reverses: Option<TransferId>,
        }
        let filter = format!(
            "FROM ledger_transfers
             WHERE ($1 IS NULL OR studio_id = $1) AND ($2 IS NULL OR cause_id = $2 OR reverses = $2)
               AND {}
             ORDER BY created_at DESC, id DESC LIMIT $3",
            super::access::studio_condition(self.backend(), "studio_id", 4)
        );
        let limit = limit.clamp(1, 500);
        let rows = db::query_as::<Row>(&format!(
            "SELECT id, studio_id, kind, reason, cause_type, cause_id, effective_on, created_at, reverses {filter}"
        ))
        .bind(studio)
        .bind(cause)
        .bind(limit)
        .bind(&scope)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing transfers"))?;
        #[derive(sqlx::FromRow)]
        struct PostingRow {
            transfer_id: TransferId,
            #[sqlx(flatten)]
            posting: Posting,
        }
        let postings = db::query_as::<PostingRow>(&format!(
            "SELECT p.transfer_id, a.code AS account, a.employee_id, p.amount
             FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
             WHERE p.transfer_id IN (SELECT id {filter})
             ORDER BY p.amount DESC, a.code"
        ))
        .bind(studio)
        .bind(cause)
        .bind(limit)
        .bind(&scope)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading postings"))?;
        let mut by_transfer: std::collections::HashMap<TransferId, Vec<Posting>> =
            std::collections::HashMap::new();
        for row in postings {
            by_transfer
                .entry(row.transfer_id)
                .or_default()
                .push(row.posting);
        }
        let transfers = rows
            .into_iter()
            .map(|row| Transfer {
                // The postings were read with the transfers' own filter, so a transfer without
                // an entry has no postings stored: it is shown as stored (an empty list), not
                // hidden; no error is involved.
                postings: by_transfer.remove(&row.id).unwrap_or_default(),
                id: row.id,
                studio_id: row.studio_id,
                kind: row.kind,
                reason: row.reason,
                cause_type: row.cause_type,
                cause_id: row.cause_id,
                effective_on: row.effective_on,
                created_at: row.created_at,
                reverses: row.reverses,
                currency: CURRENCY.to_string(),
            })
            .collect();
        Ok(transfers)
    }

    /// Posts the transfers of every record and committed payout that has none (records that
    /// predate the ledger, or the demo seed's bulk inserts), in one transaction. Returns how many
    /// transfers were written.
    pub async fn backfill_ledger(&self) -> Result<u64, AppError> {
        let mut tx = self.begin_write().await?;
        ensure_accounts(&mut tx).await?;
        let at = now();
        let written = post_service_transfers(&mut tx, None, at).await?
            + post_day_transfers(&mut tx, None, at).await?
            + post_payout_transfers(&mut tx, None, at).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the ledger backfill"))?;
        tracing::info!(written, "ledger backfilled");
        Ok(written)
    }
}

/// A transfer built in code (till movements and variances), as opposed to the set-based rules.
#[derive(Clone, Debug)]
pub struct NewTransfer {
    /// Idempotent id: a retry with the same id and the same postings returns the existing one.
    pub id: TransferId,
    /// Whose books.
    pub studio_id: StudioId,
    /// Why.
    pub kind: TransferKind,
    /// Words for people.
    pub reason: String,
    /// What caused it ("till_session", ...).
    pub cause_type: &'static str,
    /// Its id.
    pub cause_id: uuid::Uuid,
    /// Business day.
    pub effective_on: NaiveDate,
    /// The till whose cash it moves, if any.
    pub till_session_id: Option<TillSessionId>,
    /// (account, employee for a payable, amount: debit +, credit −); at least two, summing to 0.
    pub postings: Vec<(AccountCode, Option<EmployeeId>, i64)>,
}

/// Posts `transfer` in `tx`.
///
/// Errors: 500 when the postings are fewer than two or do not sum to zero (nothing is written);
/// 409 `transfer_conflict` when a transfer with this id exists with other postings (a retry
/// with different content); 500 when an account is missing.
pub async fn post_transfer(
    tx: &mut DbTransaction,
    transfer: &NewTransfer,
) -> Result<TransferId, AppError> {
    let sum: i64 = transfer.postings.iter().map(|p| p.2).sum();
    if transfer.postings.len() < 2 || sum != 0 {
        tracing::error!(?transfer, sum, "refusing an unbalanced transfer");
        return Err(AppError::Internal {
            message: format!(
                "the ledger refused an unbalanced {} transfer ({} postings summing to {}); nothing was saved",
                transfer.kind,
                transfer.postings.len(),
                Rappen(sum)
            ),
        });
    }
    let mut wanted: Vec<(AccountCode, Option<EmployeeId>, i64)> = transfer.postings.clone();
    wanted.sort();
    let existing: Vec<(AccountCode, Option<EmployeeId>, i64)> = db::query_as(
        "SELECT a.code, a.employee_id, p.amount FROM ledger_postings p
         JOIN ledger_accounts a ON a.id = p.account_id WHERE p.transfer_id = $1",
    )
    .bind(transfer.id)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error("looking up the transfer"))?;
    if !existing.is_empty() {
        let mut existing = existing;
        existing.sort();
        if existing == wanted {
            return Ok(transfer.id);
        }
        return Err(AppError::conflict(
            "transfer_conflict",
            format!(
                "transfer {} already exists with other postings; post a reversal instead",
                transfer.id
            ),
        ));
    }
    let at = now();
    db::query(
        "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, till_session_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(transfer.id)
    .bind(transfer.studio_id)
    .bind(transfer.kind)
    .bind(&transfer.reason)
    .bind(transfer.cause_type)
    .bind(transfer.cause_id)
    .bind(transfer.effective_on)
    .bind(transfer.till_session_id)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting a transfer"))?;
    for (account, employee, amount) in &transfer.postings {
        let written = db::query(
            "INSERT INTO ledger_postings (transfer_id, account_id, amount)
             SELECT $1, a.id, $2 FROM ledger_accounts a
             WHERE a.studio_id = $3 AND a.code = $4 AND a.employee_id IS NOT DISTINCT FROM $5",
        )
        .bind(transfer.id)
        .bind(amount)
        .bind(transfer.studio_id)
        .bind(account)
        .bind(employee)
        .execute(&mut *tx)
        .await
        .map_err(db_error("posting a transfer's posting"))?;
        if written.rows_affected() != 1 {
            tracing::error!(%account, "a transfer names an account the studio does not have");
            return Err(AppError::Internal {
                message: format!("the studio has no {account} account; nothing was saved"),
            });
        }
    }
    Ok(transfer.id)
}

/// Posts the reversal of transfer `original`: a `reversal` transfer with every posting negated,
/// effective on `effective_on`, tagged with `till_session` when it moves the till's cash. A
/// transfer is reversed at most once (`ledger_transfers.reverses` is unique).
///
/// Errors: 409 `already_reversed` when `original` has a reversal; 500 when `original` does not
/// exist or the reversal does not balance (nothing is written: the caller's transaction fails).
pub async fn post_reversal(
    tx: &mut DbTransaction,
    original: uuid::Uuid,
    reason: &str,
    effective_on: NaiveDate,
    till_session: Option<TillSessionId>,
) -> Result<TransferId, AppError> {
    let reversal = TransferId::generate();
    let written = db::query(
        "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, reverses, effective_on, till_session_id, created_at)
         SELECT $1, t.studio_id, 'reversal', $2, t.cause_type, t.cause_id, t.id, $3, $4, $5
         FROM ledger_transfers t WHERE t.id = $6",
    )
    .bind(reversal)
    .bind(reason)
    .bind(effective_on)
    .bind(till_session)
    .bind(now())
    .bind(original)
    .execute(&mut *tx)
    .await
    .map_err(|error| {
        if super::is_unique_violation(&error, "ledger_transfers.reverses", "ledger_transfers_reverses_key") {
            AppError::conflict(
                "already_reversed",
                "this transfer has already been reversed",
            )
        } else {
            db_error("posting the reversal")(error)
        }
    })?;
    if written.rows_affected() != 1 {
        tracing::error!(%original, "asked to reverse a transfer that does not exist");
        return Err(AppError::Internal {
            message: format!("the ledger has no transfer {original} to reverse; nothing was saved"),
        });
    }
    db::query(
        "INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT $1, account_id, -amount FROM ledger_postings WHERE transfer_id = $2",
    )
    .bind(reversal)
    .bind(original)
    .execute(&mut *tx)
    .await
    .map_err(db_error("posting the reversal's postings"))?;
    verify_written(tx, TransferKind::Reversal, now(), Some(reversal.0)).await?;
    Ok(reversal)
}
