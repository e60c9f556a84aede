//! Settlement tracking (issue 9): bank payouts from commit to the bank statement. It owns the
//! settlement items and batches, the pain.001 bank files and the imported camt.053/054
//! statements, and it is the only writer of their tables.
//!
//! - A committed bank payout is scheduled as one item, in the payout's commit transaction.
//! - [`Engine::create_bank_file`] collects a studio's scheduled items into one pain.001 file
//!   (Swiss Payment Standards, validated before it is stored) and marks them in transit.
//! - [`Engine::import_bank_statement`] reads a camt.053/054 of a studio's account and matches
//!   each line by end-to-end id and amount: the item settles, fails (a return), or needs
//!   reconciliation (another amount); the rest is listed for manual matching.
//! - A failed item is never sent again by itself: [`Engine::act_on_settlement_item`] needs a
//!   person who records what the bank said before resolving it as paid, reissued or written off.
//!
//! Ledger: a return posts `bank_payout_returned` (bank +, returned payouts −); a resolution posts
//! `bank_payout_resolved` (returned payouts +, and bank − when paid or reissued, payout
//! write-offs − when written off). Each at most once per item (unique per kind and cause).
//! The employee's payable is untouched: it was settled by the payout's commit.

use super::access::{self, studio_condition, Activity, Caller};
use super::db::{self, DbTransaction};
use super::idempotency::{self, Claim, IdempotencyKey};
use super::iso20022::camt::{self, Direction};
use super::iso20022::iban::{self, AccountKind};
use super::iso20022::pain001::{self, CreditTransfer, Party, PaymentOrder};
use super::ledger::{post_transfer, NewTransfer};
use super::{business_date, db_error, now, Engine};
use crate::domain::calendar::{BankCalendar, CalendarError};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Idempotency operation name of writing a bank file.
pub const CREATE_BANK_FILE: &str = "create_bank_file";
/// Idempotency operation name of a person's action on a settlement item.
pub const SETTLEMENT_ACTION: &str = "settlement_action";

/// The settlement term key of bank payouts (business days from execution to the payee's bank).
pub const BANK_PAYOUT_TERM: &str = "bank_payout";

/// The settlement term key of card payments whose provider has no term of its own.
pub const CARD_TERM: &str = "card";

/// Business days after its expected date that an item on its way waits for the statement
/// before the sweep flags it for reconciliation (a bank books late, a statement is imported
/// the next morning).
pub const OVERDUE_GRACE_DAYS: u32 = 2;

/// Most payments the sweep schedules per run (the rest wait for the next minute).
const SWEEP_BATCH: i64 = 1000;

/// Calendar days an acquirer's credit may lie before or after a card batch's expected date and
/// still be matched to it by amount.
const CARD_MATCH_WINDOW_DAYS: i64 = 7;

/// Longest bank reference or note a person records (characters).
pub const MAX_NOTE_LEN: usize = 1000;

/// Largest bank statement accepted (bytes): a studio's month is a few hundred kilobytes.
pub const MAX_STATEMENT_BYTES: usize = 10 * 1024 * 1024;

const ITEM_SELECT: &str = "
    SELECT i.id, i.kind, i.studio_id, i.batch_id, i.payout_id, p.employee_id,
           COALESCE(e.name, pm.provider, '') AS counterparty, i.end_to_end_id, i.amount, i.currency,
           i.state, i.expected_on, i.reason, i.reconciliation_reason, i.bank_reference, i.note, i.reissue_of, i.version,
           i.created_at, i.updated_at
    FROM settlement_items i
    LEFT JOIN payouts p ON p.id = i.payout_id
    LEFT JOIN employees e ON e.id = p.employee_id
    LEFT JOIN payments pm ON pm.id = i.payment_id";

const LINE_SELECT: &str = "
    SELECT l.id, l.statement_id, l.direction, l.amount, l.currency, l.end_to_end_id, l.reference,
           l.counterparty, l.booked_on, l.return_reason, l.match_state, l.item_id, l.batch_id, l.explanation,
           l.reconciliation_reason
    FROM bank_statement_lines l JOIN bank_statements s ON s.id = l.statement_id";

/// A settlement item as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
struct ItemRow {
    id: SettlementItemId,
    kind: SettlementKind,
    studio_id: StudioId,
    batch_id: Option<SettlementBatchId>,
    payout_id: Option<PayoutId>,
    employee_id: Option<EmployeeId>,
    counterparty: String,
    end_to_end_id: String,
    amount: Rappen,
    currency: String,
    state: SettlementState,
    expected_on: NaiveDate,
    reason: Option<String>,
    #[sqlx(json(nullable))]
    reconciliation_reason: Option<ReconciliationReason>,
    bank_reference: Option<String>,
    note: Option<String>,
    reissue_of: Option<SettlementItemId>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ItemRow {
    /// The item as shown, with its countdown from `today` (Europe/Zurich).
    fn to_item(&self, today: NaiveDate) -> Result<SettlementItem, AppError> {
        let open = matches!(
            self.state,
            SettlementState::Scheduled | SettlementState::InTransit
        );
        let business_days_left = if open {
            calendar()?
                .business_days_until(today, self.expected_on)
                .map_err(calendar_error)?
        } else {
            0
        };
        Ok(SettlementItem {
            id: self.id,
            kind: self.kind,
            studio_id: self.studio_id,
            batch_id: self.batch_id,
            payout_id: self.payout_id,
            employee_id: self.employee_id,
            counterparty: self.counterparty.clone(),
            end_to_end_id: self.end_to_end_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            state: self.state,
            expected_on: self.expected_on,
            business_days_left,
            overdue: open && self.expected_on < today,
            reason: self.reason.clone(),
            reconciliation_reason: self.reconciliation_reason.clone(),
            bank_reference: self.bank_reference.clone(),
            note: self.note.clone(),
            reissue_of: self.reissue_of,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The Swiss interbank calendar, or a 500 naming the damaged data file.
fn calendar() -> Result<&'static BankCalendar, AppError> {
    BankCalendar::swiss().map_err(calendar_error)
}

fn calendar_error(error: CalendarError) -> AppError {
    tracing::error!(%error, "bank calendar");
    match error {
        CalendarError::OutOfRange { .. } => {
            AppError::unprocessable("calendar_out_of_range", error.to_string())
        }
        CalendarError::Data { .. } => AppError::Internal {
            message: error.to_string(),
        },
    }
}

/// The end-to-end id of an item: `PE-` and the item id's 32 hex digits (35 characters, the
/// pain.001 maximum; letters and digits only, inside the SPS character set).
fn end_to_end_id(item: SettlementItemId) -> String {
    format!("PE-{}", item.0.simple()).to_uppercase()
}

/// Business days of the first settlement term of `keys` (in order of preference) for `studio`:
/// its business's own term of a key wins over the default of every business, and an earlier
/// key over a later one (a provider's term over `card`).
async fn term(tx: &mut DbTransaction, studio: StudioId, keys: &[&str]) -> Result<u32, AppError> {
    let mut found = None;
    for key in keys {
        found = db::query_scalar::<i64>(
            "SELECT business_days FROM settlement_terms
             WHERE key = $1
               AND (business_id IS NULL OR business_id = (SELECT business_id FROM studios WHERE id = $2))
             ORDER BY business_id IS NULL LIMIT 1",
        )
        .bind(*key)
        .bind(studio)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("reading the settlement terms"))?;
        if found.is_some() {
            break;
        }
    }
    let days = found.ok_or_else(|| {
        tracing::error!(?keys, "no settlement term");
        AppError::Internal {
            message: format!(
                "there is no settlement term for {}; it is logged on the server",
                keys.join(" or ")
            ),
        }
    })?;
    u32::try_from(days).map_err(|_| AppError::Internal {
        message: format!("the settlement term for {} is negative", keys.join(" or ")),
    })
}

/// Schedules the bank transfer of a just-committed bank payout (one item per payout; a retry
/// finds the existing one). Called in the payout's commit transaction, so a committed bank
/// payout always has its item. A payout of CHF 0.00 or less moves no money and gets none.
/// Expected on: the next business day's execution plus the `bank_payout` term.
///
/// Errors: 422 `calendar_out_of_range` beyond the holiday data; 500 on a database failure (the
/// commit then fails and the payout shows in the banner).
pub(crate) async fn schedule_bank_payout(
    tx: &mut DbTransaction,
    payout: &Payout,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    if payout.method != PayoutMethod::Bank || payout.total.0 <= 0 {
        return Ok(());
    }
    schedule_transfer(tx, payout.studio_id, payout.id, payout.total, None, at).await
}

/// Inserts a scheduled bank transfer of `amount` paying `payout` (a reissue names the failed
/// item it replaces), expected on the next business day's execution plus the `bank_payout`
/// term. A payout's first transfer is inserted once: a retry finds it.
async fn schedule_transfer(
    tx: &mut DbTransaction,
    studio: StudioId,
    payout: PayoutId,
    amount: Rappen,
    reissue_of: Option<SettlementItemId>,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let days = term(tx, studio, &[BANK_PAYOUT_TERM]).await?;
    let calendar = calendar()?;
    let execution = calendar
        .add_business_days(business_date(at), 1)
        .map_err(calendar_error)?;
    let expected_on = calendar
        .add_business_days(execution, days)
        .map_err(calendar_error)?;
    let id = SettlementItemId::generate();
    db::query(
        "INSERT INTO settlement_items (id, studio_id, kind, payout_id, end_to_end_id, amount, state,
                                       expected_on, reissue_of, version, created_at, updated_at)
         SELECT $1, $2, 'bank_payout', $3, $4, $5, 'scheduled', $6, $7, 1, $8, $8
         WHERE $7 IS NOT NULL
            OR NOT EXISTS (SELECT 1 FROM settlement_items WHERE payout_id = $3 AND reissue_of IS NULL)",
    )
    .bind(id)
    .bind(studio)
    .bind(payout)
    .bind(end_to_end_id(id))
    .bind(amount)
    .bind(expected_on)
    .bind(reissue_of)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db_error("scheduling the bank transfer"))?;
    Ok(())
}

/// Loads item `id` in `tx`, if the caller may see its studio.
async fn item_row(
    tx: &mut DbTransaction,
    caller: &Caller,
    id: SettlementItemId,
) -> Result<ItemRow, AppError> {
    let row: Option<ItemRow> = db::query_as(format!("{ITEM_SELECT} WHERE i.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("looking up the settlement item"))?;
    row.filter(|r| caller.sees_studio(r.studio_id))
        .ok_or_else(|| AppError::not_found(format!("no settlement item with id {id}")))
}

/// Trimmed `text` for `field`, required non-empty (when `required`) and at most
/// [`MAX_NOTE_LEN`] characters.
fn text_of(field: &str, text: Option<&str>, required: bool) -> Result<Option<String>, AppError> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    match text {
        None if required => Err(AppError::invalid(
            field,
            match field {
                "bank_reference" => FieldProblem::BankReferenceRequired,
                _ => FieldProblem::DecisionNoteRequired,
            },
        )),
        None => Ok(None),
        Some(t) if t.chars().count() > MAX_NOTE_LEN => Err(AppError::invalid(
            field,
            FieldProblem::TooLong {
                max_chars: MAX_NOTE_LEN,
            },
        )),
        Some(t) => Ok(Some(t.to_string())),
    }
}

/// What a transition records besides the new state.
struct Change<'a> {
    action: SettlementAction,
    /// Why it fails or needs reconciliation (stored with its English explanation).
    reason: Option<ReconciliationReason>,
    bank_reference: Option<String>,
    note: Option<String>,
    /// The activity log's action name, e.g. `settlement.resolve_paid`.
    activity: &'a str,
    idempotency_key: Option<&'a str>,
}

impl Engine {
    /// Applies `change` to `row` in `tx`: the state machine, a conditional update on the
    /// version, the ledger transfer of a return or resolution, the event and the activity log.
    /// Returns the item as it is afterwards.
    ///
    /// Errors: 409 `illegal_transition` (with the item), 409 `stale_version` when someone
    /// changed it meanwhile, 409 `already_returned` for a second return of one transfer.
    async fn transition_in(
        &self,
        tx: &mut DbTransaction,
        caller: &Caller,
        row: &ItemRow,
        change: Change<'_>,
        today: NaiveDate,
    ) -> Result<SettlementItem, AppError> {
        let before = row.to_item(today)?;
        let to = row
            .kind
            .apply(row.state, change.action)
            .map_err(|refusal| AppError::SettlementConflict {
                code: "illegal_transition".into(),
                message: refusal.explanation,
                item: Box::new(before.clone()),
                settlement_refusal: Some(refusal.reason),
            })?;
        let at = now();
        let updated = db::query(
            "UPDATE settlement_items
             SET state = $3, reason = COALESCE($4, reason), bank_reference = COALESCE($5, bank_reference),
                 note = COALESCE($6, note), version = version + 1, updated_at = $7,
                 reconciliation_reason = COALESCE($8, reconciliation_reason)
             WHERE id = $1 AND version = $2",
        )
        .bind(row.id)
        .bind(row.version)
        .bind(to)
        .bind(change.reason.as_ref().map(ReconciliationReason::explanation))
        .bind(&change.bank_reference)
        .bind(&change.note)
        .bind(at)
        .bind(change.reason.as_ref().map(sqlx::types::Json))
        .execute(&mut *tx)
        .await
        .map_err(db_error("changing the settlement item"))?;
        if updated.rows_affected() != 1 {
            return Err(AppError::SettlementConflict {
                code: "stale_version".into(),
                message: "the settlement item changed meanwhile; look at it again and decide"
                    .into(),
                item: Box::new(before),
                settlement_refusal: None,
            });
        }
        if row.kind == SettlementKind::BankPayout {
            self.post_settlement_transfer(tx, row, change.action, at)
                .await?;
        }
        if change.action == SettlementAction::Reissue {
            // A new transfer of the same amount for the next bank file, to the employee's IBAN
            // as it is then.
            let payout = row.payout_id.ok_or_else(|| AppError::Internal {
                message: "a bank transfer without its payout cannot be reissued".into(),
            })?;
            schedule_transfer(tx, row.studio_id, payout, row.amount, Some(row.id), at).await?;
        }
        let after = item_row(tx, caller, row.id).await?.to_item(today)?;
        let event = match to {
            SettlementState::Settled if row.state == SettlementState::Failed => {
                Some("settlement.resolved")
            }
            SettlementState::Settled => Some("settlement.settled"),
            SettlementState::Failed => Some("settlement.failed"),
            SettlementState::NeedsReconciliation => Some("settlement.needs_reconciliation"),
            SettlementState::Reissued | SettlementState::WrittenOff => Some("settlement.resolved"),
            SettlementState::Scheduled | SettlementState::InTransit => None,
        };
        if let Some(kind) = event {
            super::events::record(
                self.settings(),
                tx,
                kind,
                Some(row.studio_id),
                Some(row.id.0),
                &after,
            )
            .await?;
        }
        access::record(
            tx,
            caller,
            Activity {
                action: change.activity,
                entity_type: "settlement_item",
                entity_id: Some(row.id.to_string()),
                studio_id: Some(row.studio_id),
                idempotency_key: change.idempotency_key,
            },
            Some(&before),
            Some(&after),
        )
        .await?;
        tracing::info!(item = %row.id, from = %row.state, to = %to, "settlement item changed");
        Ok(after)
    }

    /// The ledger side of a bank payout's failure or resolution (see the module documentation).
    async fn post_settlement_transfer(
        &self,
        tx: &mut DbTransaction,
        row: &ItemRow,
        action: SettlementAction,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let amount = row.amount.0;
        let who = &row.counterparty;
        let (kind, reason, postings) = match action {
            SettlementAction::Fail => {
                let returned: Option<i64> = db::query_scalar(
                    "SELECT 1 FROM ledger_transfers WHERE kind = 'bank_payout_returned' AND cause_id = $1",
                )
                .bind(row.id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error("looking for an earlier return"))?;
                if returned.is_some() {
                    return Err(AppError::conflict_with(Problem::AlreadyReturned));
                }
                (
                    TransferKind::BankPayoutReturned,
                    format!("Bank payout to {who} returned by the bank"),
                    vec![
                        (AccountCode::Bank, None, amount),
                        (AccountCode::ReturnedPayouts, None, -amount),
                    ],
                )
            }
            SettlementAction::ResolvePaid | SettlementAction::Reissue => (
                TransferKind::BankPayoutResolved,
                if action == SettlementAction::Reissue {
                    format!("Returned bank payout to {who} reissued")
                } else {
                    format!("Returned bank payout to {who} paid after all")
                },
                vec![
                    (AccountCode::ReturnedPayouts, None, amount),
                    (AccountCode::Bank, None, -amount),
                ],
            ),
            SettlementAction::WriteOff => (
                TransferKind::BankPayoutResolved,
                format!("Returned bank payout to {who} written off"),
                vec![
                    (AccountCode::ReturnedPayouts, None, amount),
                    (AccountCode::PayoutWriteOffs, None, -amount),
                ],
            ),
            SettlementAction::Send | SettlementAction::Confirm | SettlementAction::Flag => {
                return Ok(())
            }
        };
        post_transfer(
            tx,
            &NewTransfer {
                id: TransferId::generate(),
                studio_id: row.studio_id,
                kind,
                reason,
                cause_type: "settlement_item",
                cause_id: row.id.0,
                effective_on: business_date(at),
                till_session_id: None,
                postings,
            },
        )
        .await?;
        Ok(())
    }

    /// The settlement overview of the caller's studios: what needs a person, what is on its way
    /// (with countdowns), what settled lately, the bank files, and unmatched statement lines.
    ///
    /// Errors: 403 without [`Permission::ReadSettlements`].
    pub async fn settlement_overview(
        &self,
        caller: &Caller,
    ) -> Result<SettlementOverview, AppError> {
        caller.require(Permission::ReadSettlements)?;
        let scope = caller.studio_filter();
        let today = business_date(now());
        let condition = studio_condition(self.backend(), "i.studio_id", 1);
        let items = |states: &str, order: &str, limit: i64| {
            format!("{ITEM_SELECT} WHERE i.state IN ({states}) AND {condition} ORDER BY {order} LIMIT {limit}")
        };
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(db_error("reading settlements"))?;
        let mut read = async |sql: String| {
            db::query_as::<ItemRow>(&sql)
                .bind(&scope)
                .fetch_all(&mut conn)
                .await
                .map_err(db_error("reading settlement items"))
        };
        let attention = read(items(
            "'failed', 'needs_reconciliation'",
            "i.updated_at, i.id",
            500,
        ))
        .await?;
        let in_transit = read(items(
            "'scheduled', 'in_transit'",
            "i.expected_on, i.created_at, i.id",
            500,
        ))
        .await?;
        let recent = read(items(
            "'settled', 'reissued', 'written_off'",
            "i.updated_at DESC, i.id",
            100,
        ))
        .await?;
        let to_items = |rows: Vec<ItemRow>| -> Result<Vec<SettlementItem>, AppError> {
            rows.iter().map(|r| r.to_item(today)).collect()
        };
        let in_transit_total = Rappen(in_transit.iter().map(|r| r.amount.0).sum());
        let batches = self.batches(&mut conn, caller).await?;
        let unmatched_lines = db::query_as::<StatementLine>(format!(
            "{LINE_SELECT} WHERE l.match_state IN ('unmatched', 'mismatch') AND {}
             ORDER BY s.imported_at, l.position LIMIT 500",
            studio_condition(self.backend(), "s.studio_id", 1)
        ))
        .bind(&scope)
        .fetch_all(&mut conn)
        .await
        .map_err(db_error("reading unmatched statement lines"))?;
        let unfinished_imports = self.unfinished_imports_on(&mut conn, caller).await?;
        Ok(SettlementOverview {
            attention: to_items(attention)?,
            in_transit: to_items(in_transit)?,
            recent: to_items(recent)?,
            batches,
            unmatched_lines,
            in_transit_total,
            unfinished_imports,
        })
    }

    /// The items that need a person (failed, needs reconciliation) of the caller's studios,
    /// oldest first, at most 50: the settlement line of the attention banner.
    ///
    /// Errors: 403 without [`Permission::ReadSettlements`] (the banner then shows nothing).
    pub async fn settlements_needing_attention(
        &self,
        caller: &Caller,
    ) -> Result<Vec<SettlementItem>, AppError> {
        caller.require(Permission::ReadSettlements)?;
        let rows: Vec<ItemRow> = db::query_as(format!(
            "{ITEM_SELECT} WHERE i.state IN ('failed', 'needs_reconciliation') AND {}
             ORDER BY i.updated_at, i.id LIMIT 50",
            studio_condition(self.backend(), "i.studio_id", 1)
        ))
        .bind(caller.studio_filter())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the settlements needing attention"))?;
        let today = business_date(now());
        rows.iter().map(|r| r.to_item(today)).collect()
    }

    /// The bank transfers of `employee`'s payouts, newest first (at most 50): what an employee
    /// checks ("in transit, expected Tuesday"). Employees see only their own.
    ///
    /// Errors: 403 without [`Permission::ReadPayouts`]; 404 for an employee the caller may not
    /// see.
    pub async fn payout_settlements(
        &self,
        caller: &Caller,
        employee: EmployeeId,
    ) -> Result<Vec<SettlementItem>, AppError> {
        caller.require(Permission::ReadPayouts)?;
        let studio: Option<StudioId> =
            db::query_scalar("SELECT studio_id FROM employees WHERE id = $1")
                .bind(employee)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("looking up the employee"))?;
        if !studio.is_some_and(|studio| caller.sees(studio, employee)) {
            return Err(AppError::not_found(format!(
                "no employee with id {employee}"
            )));
        }
        let rows: Vec<ItemRow> = db::query_as(format!(
            "{ITEM_SELECT} WHERE p.employee_id = $1 ORDER BY i.created_at DESC, i.id LIMIT 50"
        ))
        .bind(employee)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the payout settlements"))?;
        let today = business_date(now());
        rows.iter().map(|r| r.to_item(today)).collect()
    }

    /// The newest 50 batches of the caller's studios, each with its count, total and state
    /// derived from its items.
    async fn batches(
        &self,
        conn: &mut db::DbConnection,
        caller: &Caller,
    ) -> Result<Vec<SettlementBatch>, AppError> {
        #[derive(sqlx::FromRow)]
        struct BatchRow {
            id: SettlementBatchId,
            kind: SettlementKind,
            studio_id: StudioId,
            reference: String,
            provider: Option<String>,
            expected_on: NaiveDate,
            created_at: DateTime<Utc>,
        }
        let rows: Vec<BatchRow> = db::query_as(format!(
            "SELECT b.id, b.kind, b.studio_id, b.reference, b.provider, b.expected_on, b.created_at
             FROM settlement_batches b WHERE {} ORDER BY b.created_at DESC, b.id LIMIT 50",
            studio_condition(self.backend(), "b.studio_id", 1)
        ))
        .bind(caller.studio_filter())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("reading the bank files"))?;
        let mut states: HashMap<SettlementBatchId, (Vec<SettlementState>, i64, i64)> =
            HashMap::new();
        for batch in &rows {
            let counts: Vec<(SettlementState, i64, i64)> = db::query_as(
                "SELECT state, COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT)
                 FROM settlement_items WHERE batch_id = $1 GROUP BY state",
            )
            .bind(batch.id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error("reading a bank file's items"))?;
            let entry = states.entry(batch.id).or_default();
            for (state, count, total) in counts {
                entry.0.push(state);
                entry.1 += count;
                entry.2 += total;
            }
        }
        Ok(rows
            .into_iter()
            .map(|b| {
                let (item_states, count, total) = states.remove(&b.id).unwrap_or_default();
                SettlementBatch {
                    id: b.id,
                    kind: b.kind,
                    studio_id: b.studio_id,
                    reference: b.reference,
                    provider: b.provider,
                    expected_on: b.expected_on,
                    item_count: count,
                    total: Rappen(total),
                    state: SettlementState::of_batch(&item_states),
                    created_at: b.created_at,
                }
            })
            .collect())
    }

    /// Collects the studio's scheduled bank payouts into one pain.001.001.09 file (Swiss Payment
    /// Standards), stores it, and marks its items in transit, exactly once per idempotency key.
    /// Payouts whose employee has no usable IBAN are left scheduled and listed in `skipped`.
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`] for the studio; 422
    /// `execution_date` not a business day or in the past, `no_bank_account` when the studio
    /// has no IBAN, `nothing_to_send` when no scheduled payout can go, `invalid_bank_file` when
    /// the file would break the standard (the message names the transfer and field); the
    /// idempotency refusals.
    #[tracing::instrument(skip_all, fields(studio_id = %request.studio_id))]
    pub async fn create_bank_file(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &BankFileRequest,
    ) -> Result<BankFile, AppError> {
        caller.require_studio(Permission::ManageSettlements, request.studio_id)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let at = now();
        let today = business_date(at);
        let calendar = calendar()?;
        let execution = match request.execution_date {
            Some(date) => {
                if date < today {
                    return Err(AppError::invalid(
                        "execution_date",
                        FieldProblem::ExecutionDateInPast { date, today },
                    ));
                }
                if !calendar.is_business_day(date).map_err(calendar_error)? {
                    let next = calendar
                        .add_business_days(date, 0)
                        .map_err(calendar_error)?;
                    return Err(AppError::invalid(
                        "execution_date",
                        FieldProblem::NotABusinessDay { date, next },
                    ));
                }
                date
            }
            None => calendar
                .add_business_days(today, 1)
                .map_err(calendar_error)?,
        };
        let fingerprint = idempotency::fingerprint(CREATE_BANK_FILE, request)?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            CREATE_BANK_FILE,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let studio: Option<(String, Option<String>, Option<String>)> =
            db::query_as("SELECT name, iban, bank_account_holder FROM studios WHERE id = $1")
                .bind(request.studio_id)
                .fetch_optional(&mut tx)
                .await
                .map_err(db_error("looking up the studio"))?;
        let (studio_name, studio_iban, holder) =
            studio.ok_or_else(|| AppError::validation("studio_id", "no such studio"))?;
        let debtor_account = studio_iban
            .as_deref()
            .map(iban::parse_iban)
            .transpose()
            .map_err(|error| AppError::unprocessable_with(Problem::StudioIbanInvalid { error }))?
            .ok_or_else(|| {
                AppError::unprocessable_with(Problem::NoBankAccount {
                    studio_name: studio_name.clone(),
                })
            })?;
        #[derive(sqlx::FromRow)]
        struct Scheduled {
            id: SettlementItemId,
            end_to_end_id: String,
            amount: Rappen,
            employee_name: String,
            employee_iban: Option<String>,
            period_start: NaiveDate,
            period_end: NaiveDate,
        }
        let scheduled: Vec<Scheduled> = db::query_as(
            "SELECT i.id, i.end_to_end_id, i.amount, e.name AS employee_name, e.iban AS employee_iban,
                    p.period_start, p.period_end
             FROM settlement_items i JOIN payouts p ON p.id = i.payout_id JOIN employees e ON e.id = p.employee_id
             WHERE i.studio_id = $1 AND i.kind = 'bank_payout' AND i.state = 'scheduled' AND i.batch_id IS NULL
             ORDER BY i.created_at, i.id",
        )
        .bind(request.studio_id)
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("collecting the scheduled bank payouts"))?;
        let mut skipped = Vec::new();
        let mut transfers = Vec::new();
        let mut chosen = Vec::new();
        for item in &scheduled {
            let account = match item.employee_iban.as_deref().map(iban::parse_payee_iban) {
                None => {
                    skipped.push(SkippedPayout {
                        employee_name: item.employee_name.clone(),
                        iban_error: None,
                    });
                    continue;
                }
                Some(Err(error)) => {
                    skipped.push(SkippedPayout {
                        employee_name: item.employee_name.clone(),
                        iban_error: Some(error),
                    });
                    continue;
                }
                Some(Ok(account)) => account,
            };
            transfers.push(CreditTransfer {
                instruction_id: item.end_to_end_id.clone(),
                end_to_end_id: item.end_to_end_id.clone(),
                amount: item.amount,
                creditor: Party {
                    name: item.employee_name.clone(),
                    address: None,
                },
                creditor_account: account.clone(),
                remittance_info: Some(format!(
                    "Payout {} to {}, {studio_name}",
                    item.period_start, item.period_end
                )),
            });
            chosen.push((item.id, account));
        }
        if transfers.is_empty() {
            return Err(AppError::unprocessable_with(Problem::NothingToSend {
                skipped,
            }));
        }
        let batch_id = SettlementBatchId::generate();
        let reference = end_to_end_id(SettlementItemId(batch_id.0));
        let order = PaymentOrder {
            message_id: reference.clone(),
            created_at: at,
            initiating_party: holder.clone().unwrap_or_else(|| studio_name.clone()),
            payment_info_id: reference.clone(),
            requested_execution_date: execution,
            debtor: Party {
                name: holder.unwrap_or_else(|| studio_name.clone()),
                address: None,
            },
            debtor_account,
            debtor_agent_bic: None,
            // Commission is salary: the bank books the batch as salary payments, confidential
            // on the studio's statement (SPS: CtgyPurp SALA).
            category_purpose: Some("SALA".into()),
            transfers,
        };
        let document = pain001::write_pain001(&order).map_err(|error| {
            tracing::warn!(%error, "bank file refused by its own validation");
            AppError::unprocessable("invalid_bank_file", error.to_string())
        })?;
        let days = term(&mut tx, request.studio_id, &[BANK_PAYOUT_TERM]).await?;
        let expected_on = calendar
            .add_business_days(execution, days)
            .map_err(calendar_error)?;
        db::query(
            "INSERT INTO settlement_batches (id, studio_id, kind, reference, expected_on, document, created_at, created_by)
             VALUES ($1, $2, 'bank_payout', $3, $4, $5, $6, $7)",
        )
        .bind(batch_id)
        .bind(request.studio_id)
        .bind(&reference)
        .bind(expected_on)
        .bind(&document)
        .bind(at)
        .bind(caller.actor())
        .execute(&mut tx)
        .await
        .map_err(db_error("storing the bank file"))?;
        let mut sent = Vec::new();
        for (id, account) in &chosen {
            let row = item_row(&mut tx, caller, *id).await?;
            let before = row.to_item(today)?;
            let to = row
                .kind
                .apply(row.state, SettlementAction::Send)
                .map_err(|refusal| AppError::SettlementConflict {
                    code: "illegal_transition".into(),
                    message: refusal.explanation,
                    item: Box::new(before),
                    settlement_refusal: Some(refusal.reason),
                })?;
            let moved = db::query(
                "UPDATE settlement_items SET state = $3, batch_id = $4, creditor_iban = $5, expected_on = $6,
                        version = version + 1, updated_at = $7
                 WHERE id = $1 AND version = $2 AND batch_id IS NULL",
            )
            .bind(row.id)
            .bind(row.version)
            .bind(to)
            .bind(batch_id)
            .bind(account.as_str())
            .bind(expected_on)
            .bind(at)
            .execute(&mut tx)
            .await
            .map_err(db_error("marking the payout in transit"))?;
            if moved.rows_affected() != 1 {
                return Err(AppError::conflict_with(Problem::BankFileConflict));
            }
            sent.push(item_row(&mut tx, caller, row.id).await?.to_item(today)?);
        }
        let batch = SettlementBatch {
            id: batch_id,
            kind: SettlementKind::BankPayout,
            studio_id: request.studio_id,
            reference,
            provider: None,
            expected_on,
            item_count: i64::try_from(sent.len()).unwrap_or(i64::MAX),
            total: Rappen(sent.iter().map(|i| i.amount.0).sum()),
            state: SettlementState::InTransit,
            created_at: at,
        };
        let file = BankFile {
            download_url: format!("/api/v1/bank-files/{batch_id}/pain.001.xml"),
            batch,
            items: sent,
            skipped: skipped.iter().map(SkippedPayout::explanation).collect(),
            skipped_payouts: skipped,
        };
        super::events::record(
            self.settings(),
            &mut tx,
            "settlement.bank_file_created",
            Some(request.studio_id),
            Some(batch_id.0),
            &file,
        )
        .await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "settlement.bank_file",
                entity_type: "settlement_batch",
                entity_id: Some(batch_id.to_string()),
                studio_id: Some(request.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            None::<&()>,
            Some(&file),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            CREATE_BANK_FILE,
            key,
            201,
            &idempotency::encode(&file)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the bank file"))?;
        tracing::info!(batch = %batch_id, transfers = file.items.len(), total = file.batch.total.0, "bank file written");
        Ok(file)
    }

    /// The stored pain.001 document of bank file `id`, byte for byte as first written, with its
    /// file name (`<MsgId>.xml`).
    ///
    /// Errors: 403 without [`Permission::ReadSettlements`]; 404 unknown file or another
    /// business's.
    pub async fn bank_file_document(
        &self,
        caller: &Caller,
        id: SettlementBatchId,
    ) -> Result<(String, String), AppError> {
        caller.require(Permission::ReadSettlements)?;
        let row: Option<(StudioId, String, Option<String>)> = db::query_as(
            "SELECT studio_id, reference, document FROM settlement_batches WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("reading the bank file"))?;
        match row {
            Some((studio, reference, Some(document))) if caller.sees_studio(studio) => {
                Ok((format!("{reference}.xml"), document))
            }
            Some(_) | None => Err(AppError::not_found(format!("no bank file with id {id}"))),
        }
    }

    /// Sets the IBAN bank payouts to `employee` go to (a regular IBAN; a QR-IBAN is refused).
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`] for the employee's studio; 404
    /// unknown employee; 422 `iban` with the reason it is not valid.
    pub async fn set_employee_bank_account(
        &self,
        caller: &Caller,
        employee: EmployeeId,
        request: &BankAccountRequest,
    ) -> Result<(), AppError> {
        caller.require(Permission::ManageSettlements)?;
        let account = iban::parse_payee_iban(&request.iban)
            .map_err(|error| AppError::invalid("iban", FieldProblem::InvalidIban { error }))?;
        let mut tx = self.begin_write().await?;
        let studio: Option<StudioId> =
            db::query_scalar("SELECT studio_id FROM employees WHERE id = $1")
                .bind(employee)
                .fetch_optional(&mut tx)
                .await
                .map_err(db_error("looking up the employee"))?;
        let studio = studio
            .filter(|s| caller.sees_studio(*s))
            .ok_or_else(|| AppError::not_found(format!("no employee with id {employee}")))?;
        db::query("UPDATE employees SET iban = $2 WHERE id = $1")
            .bind(employee)
            .bind(account.as_str())
            .execute(&mut tx)
            .await
            .map_err(db_error("saving the employee's IBAN"))?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "employee.bank_account",
                entity_type: "employee",
                entity_id: Some(employee.to_string()),
                studio_id: Some(studio),
                idempotency_key: None,
            },
            None::<&()>,
            // Personal data: the log keeps the masked form only.
            Some(&serde_json::json!({ "iban": format!("{account:?}") })),
        )
        .await?;
        tx.commit().await.map_err(db_error("committing the IBAN"))?;
        Ok(())
    }

    /// Sets the account a studio's bank files pay from, and its holder's name.
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`] for the studio; 422 `iban` not
    /// valid or a QR-IBAN (it only receives QR-bill payments), `holder` longer than 70
    /// characters.
    pub async fn set_studio_bank_account(
        &self,
        caller: &Caller,
        studio: StudioId,
        request: &BankAccountRequest,
    ) -> Result<(), AppError> {
        caller.require_studio(Permission::ManageSettlements, studio)?;
        let account = iban::parse_iban(&request.iban)
            .map_err(|error| AppError::invalid("iban", FieldProblem::InvalidIban { error }))?;
        if account.kind() == AccountKind::QrIban {
            return Err(AppError::invalid("iban", FieldProblem::QrIbanCannotPay));
        }
        let holder = text_of("holder", request.holder.as_deref(), false)?;
        if holder
            .as_ref()
            .is_some_and(|h| h.chars().count() > pain001::MAX_NAME_LEN)
        {
            return Err(AppError::invalid(
                "holder",
                FieldProblem::TooLong {
                    max_chars: pain001::MAX_NAME_LEN,
                },
            ));
        }
        let mut tx = self.begin_write().await?;
        let updated =
            db::query("UPDATE studios SET iban = $2, bank_account_holder = $3 WHERE id = $1")
                .bind(studio)
                .bind(account.as_str())
                .bind(&holder)
                .execute(&mut tx)
                .await
                .map_err(db_error("saving the studio's bank account"))?;
        if updated.rows_affected() != 1 {
            return Err(AppError::not_found(format!("no studio with id {studio}")));
        }
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "studio.bank_account",
                entity_type: "studio",
                entity_id: Some(studio.to_string()),
                studio_id: Some(studio),
                idempotency_key: None,
            },
            None::<&()>,
            Some(&serde_json::json!({ "iban": format!("{account:?}"), "holder": holder })),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the bank account"))?;
        Ok(())
    }

    /// A person's action on a settlement item ([`SettlementAction::BY_PEOPLE`]), exactly once
    /// per idempotency key: confirm by hand (optionally with the statement line that shows
    /// it), record the bank's failure, or resolve a failure as paid, reissued or written off.
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`]; 404 unknown item or line; 422
    /// `action` that only the engine takes, `bank_reference` / `note` missing where the bank's
    /// word must be recorded, `line_id` already matched; 409 `stale_version` /
    /// `illegal_transition` with the current item; the idempotency refusals.
    #[tracing::instrument(skip_all, fields(item = %id, action = ?request.action))]
    pub async fn act_on_settlement_item(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        id: SettlementItemId,
        request: &SettlementActionRequest,
    ) -> Result<SettlementItem, AppError> {
        caller.require(Permission::ManageSettlements)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        if !SettlementAction::BY_PEOPLE.contains(&request.action) {
            return Err(AppError::validation(
                "action",
                "sending happens by writing a bank file, and flagging by importing a statement; choose confirm, fail, resolve_paid, reissue or write_off",
            ));
        }
        let needs_record = request.action.needs_bank_record();
        let bank_reference = text_of(
            "bank_reference",
            request.bank_reference.as_deref(),
            needs_record,
        )?;
        let note = text_of(
            "note",
            request.note.as_deref(),
            needs_record || request.action == SettlementAction::Confirm,
        )?;
        let fingerprint = idempotency::fingerprint(SETTLEMENT_ACTION, &(id, request))?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            SETTLEMENT_ACTION,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let today = business_date(now());
        let row = item_row(&mut tx, caller, id).await?;
        if !caller.may(Permission::ManageSettlements) || !caller.sees_studio(row.studio_id) {
            return Err(AppError::not_found(format!(
                "no settlement item with id {id}"
            )));
        }
        if row.version != request.expected_version {
            return Err(AppError::SettlementConflict {
                code: "stale_version".into(),
                message: format!(
                    "the settlement item changed since you loaded it (version {} now, you saw {}); look at it again and decide",
                    row.version, request.expected_version
                ),
                item: Box::new(row.to_item(today)?),
                settlement_refusal: None,
            });
        }
        if let Some(line) = request.line_id {
            if request.action != SettlementAction::Confirm {
                return Err(AppError::invalid(
                    "line_id",
                    FieldProblem::LineMatchedOnlyByConfirming,
                ));
            }
            self.match_line_by_hand(&mut tx, caller, line, &row).await?;
        }
        let reason = match request.action {
            // A failure needs the bank's record, so `note` was checked present above.
            SettlementAction::Fail => note
                .as_ref()
                .map(|note| ReconciliationReason::BankReportsFailure { note: note.clone() }),
            SettlementAction::Send
            | SettlementAction::Confirm
            | SettlementAction::Flag
            | SettlementAction::ResolvePaid
            | SettlementAction::Reissue
            | SettlementAction::WriteOff => None,
        };
        let activity = match request.action {
            SettlementAction::Confirm => "settlement.confirm",
            SettlementAction::Fail => "settlement.fail",
            SettlementAction::ResolvePaid => "settlement.resolve_paid",
            SettlementAction::Reissue => "settlement.reissue",
            SettlementAction::WriteOff => "settlement.write_off",
            SettlementAction::Send | SettlementAction::Flag => "settlement.engine",
        };
        let item = self
            .transition_in(
                &mut tx,
                caller,
                &row,
                Change {
                    action: request.action,
                    reason,
                    bank_reference,
                    note,
                    activity,
                    idempotency_key: Some(client_key.as_str()),
                },
                today,
            )
            .await?;
        idempotency::complete(
            &mut tx,
            SETTLEMENT_ACTION,
            key,
            200,
            &idempotency::encode(&item)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the settlement action"))?;
        Ok(item)
    }

    /// Marks an unmatched (or mismatched) statement line of the item's studio as matched to it.
    async fn match_line_by_hand(
        &self,
        tx: &mut DbTransaction,
        caller: &Caller,
        line: StatementLineId,
        item: &ItemRow,
    ) -> Result<(), AppError> {
        let found: Option<(StudioId, String)> = db::query_as(
            "SELECT s.studio_id, l.match_state FROM bank_statement_lines l
             JOIN bank_statements s ON s.id = l.statement_id WHERE l.id = $1",
        )
        .bind(line)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("looking up the statement line"))?;
        let (studio, state) = found
            .filter(|(studio, _)| caller.sees_studio(*studio))
            .ok_or_else(|| AppError::not_found(format!("no statement line with id {line}")))?;
        if studio != item.studio_id {
            return Err(AppError::invalid(
                "line_id",
                FieldProblem::LineOfAnotherStudio,
            ));
        }
        if state != "unmatched" && state != "mismatch" {
            return Err(AppError::invalid(
                "line_id",
                FieldProblem::LineAlreadyHandled { state },
            ));
        }
        db::query(
            "UPDATE bank_statement_lines SET match_state = 'matched', item_id = $2,
                    explanation = $3, reconciliation_reason = $4 WHERE id = $1",
        )
        .bind(line)
        .bind(item.id)
        .bind(ReconciliationReason::MatchedByHand.explanation())
        .bind(sqlx::types::Json(ReconciliationReason::MatchedByHand))
        .execute(&mut *tx)
        .await
        .map_err(db_error("matching the statement line"))?;
        Ok(())
    }

    /// Takes a statement line off the manual-matching list with a note (it is not a settlement:
    /// rent, bank fees).
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`]; 404 unknown line; 422 `note`
    /// missing, or the line is matched already.
    pub async fn dismiss_statement_line(
        &self,
        caller: &Caller,
        line: StatementLineId,
        request: &DismissLineRequest,
    ) -> Result<StatementLine, AppError> {
        caller.require(Permission::ManageSettlements)?;
        let note = text_of("note", Some(&request.note), true)?;
        let mut tx = self.begin_write().await?;
        let studio: Option<StudioId> = db::query_scalar(
            "SELECT s.studio_id FROM bank_statement_lines l JOIN bank_statements s ON s.id = l.statement_id
             WHERE l.id = $1",
        )
        .bind(line)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up the statement line"))?;
        let studio = studio
            .filter(|s| caller.sees_studio(*s))
            .ok_or_else(|| AppError::not_found(format!("no statement line with id {line}")))?;
        let before: StatementLine = db::query_as(format!("{LINE_SELECT} WHERE l.id = $1"))
            .bind(line)
            .fetch_one(&mut tx)
            .await
            .map_err(db_error("reading the statement line"))?;
        if before.match_state != "unmatched" && before.match_state != "mismatch" {
            return Err(AppError::invalid(
                "note",
                FieldProblem::LineAlreadyHandled {
                    state: before.match_state.clone(),
                },
            ));
        }
        db::query("UPDATE bank_statement_lines SET match_state = 'dismissed', explanation = $2, reconciliation_reason = NULL WHERE id = $1")
            .bind(line)
            .bind(&note)
            .execute(&mut tx)
            .await
            .map_err(db_error("dismissing the statement line"))?;
        let after: StatementLine = db::query_as(format!("{LINE_SELECT} WHERE l.id = $1"))
            .bind(line)
            .fetch_one(&mut tx)
            .await
            .map_err(db_error("reading the statement line"))?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "bank_statement.dismiss_line",
                entity_type: "bank_statement_line",
                entity_id: Some(line.to_string()),
                studio_id: Some(studio),
                idempotency_key: None,
            },
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the dismissal"))?;
        Ok(after)
    }

    /// Imports a camt.053 statement or camt.054 notification of one of the caller's studios'
    /// accounts (found by the statement's IBAN) and matches its lines. Importing the same file
    /// again changes nothing and answers the first import's result with `duplicate: true`.
    ///
    /// Matching, per line in CHF: a debit carrying a bank payout's end-to-end id with the same
    /// amount confirms it (settled); another amount flags it (needs reconciliation); a credit
    /// carrying the id, or a reversed debit, is a return (failed, with the bank's reason code).
    /// A line already matched by an earlier statement counts as a duplicate. Everything else is
    /// listed for manual matching.
    ///
    /// The lines are matched in steps of [`super::EngineSettings::statement_step_lines`], each
    /// step one transaction that stores its lines, their matches and the import's progress
    /// together (a statement of one step is imported whole or not at all, as before). An import
    /// that stopped part-way is listed in [`SettlementOverview::unfinished_imports`]; importing
    /// the same file again continues it from the next line, so no line is matched twice.
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`]; 422 `invalid_statement` (not a
    /// camt.053/054, with the parser's reason), `unknown_account` (the statement is not of a
    /// studio's account the caller sees), 413-like 422 `statement_too_large`; a step's database
    /// failure as 503/500, with the steps before it kept.
    pub async fn import_bank_statement(
        &self,
        caller: &Caller,
        document: &str,
    ) -> Result<StatementImport, AppError> {
        self.import_bank_statement_with_progress(caller, document, &|_| {})
            .await
    }

    /// [`Engine::import_bank_statement`], calling `progress` after each step has committed (the
    /// command line prints it). The statement's row records the same, so the settlements page
    /// shows it to anyone while the import goes on.
    ///
    /// Errors: those of [`Engine::import_bank_statement`].
    #[tracing::instrument(skip_all)]
    pub async fn import_bank_statement_with_progress(
        &self,
        caller: &Caller,
        document: &str,
        progress: &(dyn Fn(&StatementImportProgress) + Send + Sync),
    ) -> Result<StatementImport, AppError> {
        caller.require(Permission::ManageSettlements)?;
        if document.len() > MAX_STATEMENT_BYTES {
            return Err(AppError::unprocessable_with(Problem::StatementTooLarge {
                max_mib: MAX_STATEMENT_BYTES / 1024 / 1024,
            }));
        }
        let statement = camt::parse_statement(document).map_err(|error| {
            tracing::info!(%error, "bank statement refused");
            AppError::unprocessable_with(Problem::InvalidStatement {
                detail: error.to_string(),
            })
        })?;
        let account = statement
            .account
            .as_deref()
            .map(|a| {
                a.chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_uppercase()
            })
            .ok_or_else(|| AppError::unprocessable_with(Problem::StatementWithoutAccount))?;
        let studio: Option<StudioId> = db::query_scalar(format!(
            "SELECT id FROM studios s WHERE s.iban = $2 AND {}",
            studio_condition(self.backend(), "s.id", 1)
        ))
        .bind(caller.studio_filter())
        .bind(&account)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("finding the statement's studio"))?;
        let studio = studio.ok_or_else(|| {
            AppError::unprocessable_with(Problem::UnknownStatementAccount {
                account: account.clone(),
            })
        })?;
        let sha256 = hex::encode(Sha256::digest(document.as_bytes()));
        let kind = match statement.kind {
            camt::StatementKind::Camt053 => "camt.053",
            camt::StatementKind::Camt054 => "camt.054",
        };
        let lines: Vec<Line> = statement.entries.iter().flat_map(lines_of).collect();
        let lines_total = i64::try_from(lines.len()).map_err(|_| AppError::Internal {
            message: "the statement has more lines than can be counted".into(),
        })?;
        let step = self.settings().statement_step_lines.max(1);
        // Whether a step of this call committed: an import that only found the file finished
        // is a duplicate.
        let mut changed = false;
        loop {
            let mut tx = self.begin_write().await?;
            let stored: Option<StoredImport> = db::query_as(
                "SELECT id, result, lines_done, finished_at IS NOT NULL AS finished, imported_at
                 FROM bank_statements WHERE studio_id = $1 AND sha256 = $2",
            )
            .bind(studio)
            .bind(&sha256)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_error("looking for an earlier import"))?;
            let (statement_id, mut result, lines_done, started_at) = match stored {
                Some(stored) if stored.finished => {
                    let mut result: StatementImport = idempotency::decode(200, &stored.result)?;
                    result.duplicate = !changed;
                    return Ok(result);
                }
                Some(stored) => {
                    let result: StatementImport = idempotency::decode(200, &stored.result)?;
                    (stored.id, result, stored.lines_done, stored.imported_at)
                }
                None => {
                    let statement_id = BankStatementId::generate();
                    let result = StatementImport {
                        statement_id,
                        duplicate: false,
                        kind: kind.into(),
                        message_id: statement.message_id.clone(),
                        lines: 0,
                        settled: 0,
                        failed: 0,
                        needs_reconciliation: 0,
                        unmatched: 0,
                        duplicates: 0,
                    };
                    let at = now();
                    db::query(
                        "INSERT INTO bank_statements (id, studio_id, sha256, kind, message_id, account, imported_at,
                                imported_by, result, lines_total, lines_done, progress_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $7)",
                    )
                    .bind(statement_id)
                    .bind(studio)
                    .bind(&sha256)
                    .bind(kind)
                    .bind(&statement.message_id)
                    .bind(&account)
                    .bind(at)
                    .bind(caller.actor())
                    .bind(idempotency::encode(&result)?)
                    .bind(lines_total)
                    .execute(&mut tx)
                    .await
                    .map_err(db_error("storing the statement"))?;
                    (statement_id, result, 0, at)
                }
            };
            let step_lines = usize::try_from(lines_done)
                .ok()
                .and_then(|done| lines.get(done..(done + step).min(lines.len())))
                .ok_or_else(|| {
                    tracing::error!(statement = %statement_id, lines_done, lines_total, "the stored progress is past the file's lines");
                    AppError::Internal {
                        message: "the statement's stored progress does not fit the file; it is logged on the server".into(),
                    }
                })?;
            let stepped = self
                .import_step(
                    &mut tx,
                    caller,
                    studio,
                    statement_id,
                    lines_done,
                    step_lines,
                    &mut result,
                )
                .await;
            if let Err(error) = stepped {
                // The step rolls back; the steps before it stay, and the row says it stopped.
                drop(tx);
                if lines_done > 0 {
                    tracing::error!(statement = %statement_id, lines_done, lines_total, %error,
                        "the statement import stopped part-way; importing the same file again continues it");
                    self.record_import_stopped(statement_id).await;
                }
                return Err(error);
            }
            let lines_done = lines_done + step_lines.len() as i64;
            let finished = lines_done == lines_total;
            let at = now();
            db::query(
                "UPDATE bank_statements SET result = $2, lines_done = $3, progress_at = $4,
                        finished_at = CASE WHEN $5 THEN $4 ELSE NULL END, stopped_at = NULL
                 WHERE id = $1",
            )
            .bind(statement_id)
            .bind(idempotency::encode(&result)?)
            .bind(lines_done)
            .bind(at)
            .bind(finished)
            .execute(&mut tx)
            .await
            .map_err(db_error("storing the import's progress"))?;
            if finished {
                access::record(
                    &mut tx,
                    caller,
                    Activity {
                        action: "bank_statement.import",
                        entity_type: "bank_statement",
                        entity_id: Some(statement_id.to_string()),
                        studio_id: Some(studio),
                        idempotency_key: None,
                    },
                    None::<&()>,
                    Some(&result),
                )
                .await?;
            }
            tx.commit()
                .await
                .map_err(db_error("committing a step of the statement import"))?;
            changed = true;
            progress(&StatementImportProgress {
                statement_id,
                studio_id: studio,
                kind: kind.into(),
                message_id: statement.message_id.clone(),
                lines_done,
                lines_total,
                started_at,
                progress_at: at,
                stalled: false,
            });
            if finished {
                tracing::info!(statement = %statement_id, lines = result.lines, settled = result.settled, failed = result.failed, unmatched = result.unmatched, "bank statement imported");
                return Ok(result);
            }
        }
    }

    /// Marks an unfinished import as stopped (a step failed), so the page says so at once. A
    /// failure to mark it is logged: the import then shows as stopped a minute later anyway.
    async fn record_import_stopped(&self, statement_id: BankStatementId) {
        let marked = async {
            let mut tx = self.begin_write().await?;
            db::query("UPDATE bank_statements SET stopped_at = $2 WHERE id = $1")
                .bind(statement_id)
                .bind(now())
                .execute(&mut tx)
                .await
                .map_err(db_error("recording that the statement import stopped"))?;
            tx.commit()
                .await
                .map_err(db_error("recording that the statement import stopped"))
        }
        .await;
        if let Err(error) = marked {
            tracing::error!(statement = %statement_id, %error, "could not record that the statement import stopped");
        }
    }

    /// One step of a statement import: matches and stores `lines`, the first of them at
    /// position `lines_before + 1`, counting into `result`.
    #[allow(clippy::too_many_arguments)]
    async fn import_step(
        &self,
        tx: &mut DbTransaction,
        caller: &Caller,
        studio: StudioId,
        statement_id: BankStatementId,
        lines_before: i64,
        lines: &[Line],
        result: &mut StatementImport,
    ) -> Result<(), AppError> {
        let today = business_date(now());
        for (position, line) in (lines_before + 1..).zip(lines) {
            result.lines += 1;
            let matched = self
                .match_line(tx, caller, studio, line, today, result)
                .await?;
            db::query(
                "INSERT INTO bank_statement_lines (id, statement_id, position, direction, reversal, amount, currency,
                        end_to_end_id, reference, counterparty, booked_on, return_reason, match_state, item_id, batch_id, explanation,
                        reconciliation_reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(StatementLineId::generate())
            .bind(statement_id)
            .bind(position)
            .bind(match line.direction {
                Direction::Credit => "credit",
                Direction::Debit => "debit",
            })
            .bind(line.reversal)
            .bind(line.amount)
            .bind(&line.currency)
            .bind(&line.end_to_end_id)
            .bind(&line.reference)
            .bind(&line.counterparty)
            .bind(line.booked_on)
            .bind(&line.return_reason)
            .bind(matched.state)
            .bind(matched.item)
            .bind(matched.batch)
            .bind(matched.reason.as_ref().map(ReconciliationReason::explanation))
            .bind(matched.reason.map(sqlx::types::Json))
            .execute(&mut *tx)
            .await
            .map_err(db_error("storing a statement line"))?;
        }
        Ok(())
    }

    /// The statement imports of the caller's studios that have not finished, oldest first:
    /// the settlements page shows them (and polls them while its own import goes on).
    ///
    /// Errors: 403 without [`Permission::ReadSettlements`]; 503/500 when the database fails.
    pub async fn unfinished_statement_imports(
        &self,
        caller: &Caller,
    ) -> Result<Vec<StatementImportProgress>, AppError> {
        caller.require(Permission::ReadSettlements)?;
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(db_error("reading statement imports"))?;
        self.unfinished_imports_on(&mut conn, caller).await
    }

    async fn unfinished_imports_on(
        &self,
        conn: &mut db::DbConnection,
        caller: &Caller,
    ) -> Result<Vec<StatementImportProgress>, AppError> {
        let rows: Vec<UnfinishedImportRow> = db::query_as(format!(
            "SELECT s.id, s.studio_id, s.kind, s.message_id, s.lines_done, s.lines_total, s.imported_at,
                    COALESCE(s.progress_at, s.imported_at) AS progress_at, s.stopped_at
             FROM bank_statements s WHERE s.finished_at IS NULL AND {}
             ORDER BY s.imported_at, s.id LIMIT 100",
            studio_condition(self.backend(), "s.studio_id", 1)
        ))
        .bind(caller.studio_filter())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("reading unfinished statement imports"))?;
        let stalled_before = now() - chrono::Duration::seconds(STATEMENT_IMPORT_STALLS_AFTER_SECS);
        Ok(rows
            .into_iter()
            .map(|row| StatementImportProgress {
                statement_id: row.id,
                studio_id: row.studio_id,
                kind: row.kind,
                message_id: row.message_id,
                lines_done: row.lines_done,
                lines_total: row.lines_total,
                started_at: row.imported_at,
                progress_at: row.progress_at,
                stalled: row.stopped_at.is_some() || row.progress_at < stalled_before,
            })
            .collect())
    }

    /// Matches an acquirer's credit (no end-to-end id of ours) to an open card settlement batch
    /// of the studio: the one whose open items add up to the amount and whose expected date is
    /// within a week of the booking settles whole; a single batch in the window that was paid
    /// less is flagged item by item (a partial failure a person sorts out); anything else is
    /// left for manual matching.
    async fn match_card_batch(
        &self,
        tx: &mut DbTransaction,
        caller: &Caller,
        studio: StudioId,
        line: &Line,
        today: NaiveDate,
        result: &mut StatementImport,
    ) -> Result<LineMatch, AppError> {
        let open: Vec<(SettlementBatchId, NaiveDate, i64)> = db::query_as(
            "SELECT i.batch_id, b.expected_on, CAST(SUM(i.amount) AS BIGINT)
             FROM settlement_items i JOIN settlement_batches b ON b.id = i.batch_id
             WHERE i.studio_id = $1 AND i.kind = 'card_payment'
               AND i.state IN ('scheduled', 'in_transit', 'needs_reconciliation')
             GROUP BY i.batch_id, b.expected_on",
        )
        .bind(studio)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("looking for card settlement batches"))?;
        let near = |expected: NaiveDate| {
            line.booked_on
                .is_none_or(|booked| (booked - expected).num_days().abs() <= CARD_MATCH_WINDOW_DAYS)
        };
        let exact: Vec<_> = open
            .iter()
            .filter(|(_, expected, total)| *total == line.amount.0 && near(*expected))
            .collect();
        let in_window: Vec<_> = open
            .iter()
            .filter(|(_, expected, _)| near(*expected))
            .collect();
        let (batch, action, reason) = match (exact.as_slice(), in_window.as_slice()) {
            ([(batch, _, _)], _) => (*batch, SettlementAction::Confirm, None),
            ([], [(batch, _, total)]) if line.amount.0 < *total => (
                *batch,
                SettlementAction::Flag,
                Some(ReconciliationReason::BatchShort {
                    credited: line.amount,
                    expected: Rappen(*total),
                }),
            ),
            ([], _) => {
                result.unmatched += 1;
                return Ok(LineMatch::unmatched(ReconciliationReason::NoCardBatch));
            }
            (several, _) => {
                result.unmatched += 1;
                return Ok(LineMatch::unmatched(
                    ReconciliationReason::SeveralCardBatches {
                        count: u32::try_from(several.len()).unwrap_or(u32::MAX),
                    },
                ));
            }
        };
        let rows: Vec<ItemRow> = db::query_as(format!(
            "{ITEM_SELECT} WHERE i.batch_id = $1
               AND i.state IN ('scheduled', 'in_transit', 'needs_reconciliation')
             ORDER BY i.id"
        ))
        .bind(batch)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("reading the card batch"))?;
        for row in &rows {
            if action == SettlementAction::Flag && row.state == SettlementState::NeedsReconciliation
            {
                continue;
            }
            self.transition_in(
                tx,
                caller,
                row,
                Change {
                    action,
                    reason: reason.clone(),
                    bank_reference: None,
                    note: None,
                    activity: if action == SettlementAction::Confirm {
                        "settlement.statement_match"
                    } else {
                        "settlement.statement_mismatch"
                    },
                    idempotency_key: None,
                },
                today,
            )
            .await?;
        }
        if action == SettlementAction::Confirm {
            result.settled += i64::try_from(rows.len()).unwrap_or(i64::MAX);
            Ok(LineMatch::batch("matched", batch, None))
        } else {
            result.needs_reconciliation += i64::try_from(rows.len()).unwrap_or(i64::MAX);
            Ok(LineMatch::batch("mismatch", batch, reason))
        }
    }

    /// The settlement terms in force for the caller's business (`T+N` per method or
    /// provider), by key: its own where it set one, else the default of every business.
    ///
    /// Errors: 403 without [`Permission::ReadSettlements`].
    pub async fn settlement_terms(&self, caller: &Caller) -> Result<Vec<SettlementTerm>, AppError> {
        caller.require(Permission::ReadSettlements)?;
        let rows: Vec<SettlementTerm> = db::query_as(
            "SELECT key, business_days, updated_at FROM settlement_terms
             WHERE business_id IS NULL OR business_id = $1
             ORDER BY key, business_id IS NULL",
        )
        .bind(caller.business_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the settlement terms"))?;
        let mut terms: Vec<SettlementTerm> = Vec::new();
        for term in rows {
            // Ordered by key, the business's own first: keep the first of each key.
            if terms.last().is_none_or(|last| last.key != term.key) {
                terms.push(term);
            }
        }
        Ok(terms)
    }

    /// Sets the term of `key` (`bank_payout`, `card`, or a provider's name as its events name
    /// it) for the caller's business (the operator sets the default of every business).
    /// Applies to items scheduled from now on; items already expected keep their date.
    ///
    /// Errors: 403 without [`Permission::ManageSettlements`]; 422 `key` empty or longer than
    /// 64 characters, `business_days` outside 0 to 30.
    pub async fn set_settlement_term(
        &self,
        caller: &Caller,
        key: &str,
        request: &SettlementTermRequest,
    ) -> Result<SettlementTerm, AppError> {
        caller.require(Permission::ManageSettlements)?;
        let key = key.trim();
        if key.is_empty() || key.chars().count() > 64 {
            return Err(AppError::validation(
                "key",
                "name the method (bank_payout, card) or the provider, at most 64 characters",
            ));
        }
        if !(0..=30).contains(&request.business_days) {
            return Err(AppError::validation(
                "business_days",
                "settlement takes 0 to 30 business days",
            ));
        }
        let at = now();
        let mut tx = self.begin_write().await?;
        let before: Option<SettlementTerm> = db::query_as(
            "SELECT key, business_days, updated_at FROM settlement_terms
             WHERE key = $1 AND business_id IS NOT DISTINCT FROM $2",
        )
        .bind(key)
        .bind(caller.business_id)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("reading the settlement term"))?;
        db::query(
            "DELETE FROM settlement_terms WHERE key = $1 AND business_id IS NOT DISTINCT FROM $2",
        )
        .bind(key)
        .bind(caller.business_id)
        .execute(&mut tx)
        .await
        .map_err(db_error("replacing the settlement term"))?;
        db::query(
            "INSERT INTO settlement_terms (business_id, key, business_days, updated_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(caller.business_id)
        .bind(key)
        .bind(request.business_days)
        .bind(at)
        .execute(&mut tx)
        .await
        .map_err(db_error("saving the settlement term"))?;
        let after = SettlementTerm {
            key: key.to_string(),
            business_days: request.business_days,
            updated_at: at,
        };
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "settlement.term",
                entity_type: "settlement_term",
                entity_id: Some(key.to_string()),
                studio_id: None,
                idempotency_key: None,
            },
            before.as_ref(),
            Some(&after),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the settlement term"))?;
        Ok(after)
    }

    /// The settlement sweep, run every minute by `serve` (safe in several processes: each run is
    /// one write transaction): schedules captured card payments into their acquirer's batch of
    /// the day (expected `T+N` business days after the capture, `N` the provider's term or
    /// `card`), puts a scheduled card payment in transit once its provider reports it settled,
    /// and flags items still on their way [`OVERDUE_GRACE_DAYS`] business days after their
    /// expected date. A bank payout waiting for its bank file is never flagged: the owner has
    /// not sent it yet (the page shows it overdue).
    ///
    /// The capture day is the day of the payment's latest event when the sweep first sees it
    /// captured (within a minute while the server runs).
    ///
    /// Errors: a database failure (nothing of the run is kept); 422 `calendar_out_of_range`.
    pub async fn sweep_settlements(&self) -> Result<SweepReport, AppError> {
        let caller = Caller::operator("settlement-sweep");
        let at = now();
        let today = business_date(at);
        let calendar = calendar()?;
        let mut report = SweepReport::default();
        let mut tx = self.begin_write().await?;
        let mut terms: HashMap<(StudioId, String), u32> = HashMap::new();
        #[derive(sqlx::FromRow)]
        struct Captured {
            id: PaymentId,
            studio_id: StudioId,
            provider: String,
            amount: i64,
            captured_at: DateTime<Utc>,
            is_settled: bool,
        }
        let captured: Vec<Captured> = db::query_as(
            "SELECT p.id, p.studio_id, p.provider, p.captured - p.refunded AS amount,
                    COALESCE(p.last_event_at, p.updated_at) AS captured_at, p.is_settled
             FROM payments p
             WHERE p.captured > p.refunded
               AND NOT EXISTS (SELECT 1 FROM settlement_items i WHERE i.payment_id = p.id)
             ORDER BY p.id LIMIT $1",
        )
        .bind(SWEEP_BATCH)
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("finding captured card payments"))?;
        let mut batches: HashMap<(StudioId, String, NaiveDate), SettlementBatchId> = HashMap::new();
        for payment in &captured {
            let days = match terms.get(&(payment.studio_id, payment.provider.clone())) {
                Some(days) => *days,
                None => {
                    let days =
                        term(&mut tx, payment.studio_id, &[&payment.provider, CARD_TERM]).await?;
                    terms.insert((payment.studio_id, payment.provider.clone()), days);
                    days
                }
            };
            let expected_on = calendar
                .add_business_days(business_date(payment.captured_at), days)
                .map_err(calendar_error)?;
            let key = (payment.studio_id, payment.provider.clone(), expected_on);
            let batch = match batches.get(&key) {
                Some(batch) => *batch,
                None => {
                    let existing: Option<SettlementBatchId> = db::query_scalar(
                        "SELECT id FROM settlement_batches
                         WHERE kind = 'card_payment' AND studio_id = $1 AND provider = $2 AND expected_on = $3",
                    )
                    .bind(payment.studio_id)
                    .bind(&payment.provider)
                    .bind(expected_on)
                    .fetch_optional(&mut tx)
                    .await
                    .map_err(db_error("finding the card batch"))?;
                    let batch = match existing {
                        Some(batch) => batch,
                        None => {
                            let batch = SettlementBatchId::generate();
                            db::query(
                                "INSERT INTO settlement_batches (id, studio_id, kind, reference, provider, expected_on, created_at, created_by)
                                 VALUES ($1, $2, 'card_payment', $3, $4, $5, $6, $7)",
                            )
                            .bind(batch)
                            .bind(payment.studio_id)
                            .bind(end_to_end_id(SettlementItemId(batch.0)))
                            .bind(&payment.provider)
                            .bind(expected_on)
                            .bind(at)
                            .bind(caller.actor())
                            .execute(&mut tx)
                            .await
                            .map_err(db_error("opening a card batch"))?;
                            batch
                        }
                    };
                    batches.insert(key, batch);
                    batch
                }
            };
            let id = SettlementItemId::generate();
            db::query(
                "INSERT INTO settlement_items (id, studio_id, kind, batch_id, payment_id, end_to_end_id, amount, state,
                                               expected_on, version, created_at, updated_at)
                 VALUES ($1, $2, 'card_payment', $3, $4, $5, $6, $7, $8, 1, $9, $9)",
            )
            .bind(id)
            .bind(payment.studio_id)
            .bind(batch)
            .bind(payment.id)
            .bind(end_to_end_id(id))
            .bind(payment.amount)
            .bind(if payment.is_settled {
                SettlementState::InTransit
            } else {
                SettlementState::Scheduled
            })
            .bind(expected_on)
            .bind(at)
            .execute(&mut tx)
            .await
            .map_err(db_error("scheduling a card settlement"))?;
            report.scheduled += 1;
        }
        let paid_out: Vec<ItemRow> = db::query_as(format!(
            "{ITEM_SELECT} WHERE i.kind = 'card_payment' AND i.state = 'scheduled' AND pm.is_settled
             ORDER BY i.id LIMIT {SWEEP_BATCH}"
        ))
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("finding settled card payments"))?;
        for row in &paid_out {
            self.transition_in(
                &mut tx,
                &caller,
                row,
                Change {
                    action: SettlementAction::Send,
                    reason: None,
                    bank_reference: None,
                    note: None,
                    activity: "settlement.acquirer_paid_out",
                    idempotency_key: None,
                },
                today,
            )
            .await?;
            report.sent += 1;
        }
        let due: Vec<ItemRow> = db::query_as(format!(
            "{ITEM_SELECT} WHERE (i.state = 'in_transit' OR (i.state = 'scheduled' AND i.kind = 'card_payment'))
               AND i.expected_on < $1
             ORDER BY i.expected_on, i.id LIMIT {SWEEP_BATCH}"
        ))
        .bind(today)
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("finding overdue settlements"))?;
        for row in &due {
            let deadline = calendar
                .add_business_days(row.expected_on, OVERDUE_GRACE_DAYS)
                .map_err(calendar_error)?;
            if deadline >= today {
                continue;
            }
            let reason = ReconciliationReason::Overdue {
                expected_on: row.expected_on,
                grace_days: OVERDUE_GRACE_DAYS,
            };
            self.transition_in(
                &mut tx,
                &caller,
                row,
                Change {
                    action: SettlementAction::Flag,
                    reason: Some(reason),
                    bank_reference: None,
                    note: None,
                    activity: "settlement.overdue",
                    idempotency_key: None,
                },
                today,
            )
            .await?;
            report.flagged += 1;
        }
        tx.commit()
            .await
            .map_err(db_error("committing the settlement sweep"))?;
        if report != SweepReport::default() {
            tracing::info!(
                scheduled = report.scheduled,
                sent = report.sent,
                flagged = report.flagged,
                "settlement sweep"
            );
        }
        Ok(report)
    }

    /// Matches one statement line (see [`Engine::import_bank_statement`]), changing the item it
    /// matches; returns the line's match state, item and explanation.
    async fn match_line(
        &self,
        tx: &mut DbTransaction,
        caller: &Caller,
        studio: StudioId,
        line: &Line,
        today: NaiveDate,
        result: &mut StatementImport,
    ) -> Result<LineMatch, AppError> {
        let unmatched = |why: ReconciliationReason, result: &mut StatementImport| {
            result.unmatched += 1;
            Ok(LineMatch::unmatched(why))
        };
        if line.currency != CURRENCY {
            return unmatched(
                ReconciliationReason::OtherCurrency {
                    currency: line.currency.clone(),
                },
                result,
            );
        }
        let Some(e2e) = &line.end_to_end_id else {
            if line.direction == Direction::Credit && !line.reversal {
                return self
                    .match_card_batch(tx, caller, studio, line, today, result)
                    .await;
            }
            return unmatched(ReconciliationReason::NoEndToEndId, result);
        };
        let row: Option<ItemRow> = db::query_as(format!(
            "{ITEM_SELECT} WHERE i.end_to_end_id = $1 AND i.studio_id = $2"
        ))
        .bind(e2e)
        .bind(studio)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("matching a statement line"))?;
        let Some(row) = row else {
            if line.direction == Direction::Credit && !line.reversal {
                return self
                    .match_card_batch(tx, caller, studio, line, today, result)
                    .await;
            }
            return unmatched(
                ReconciliationReason::UnknownEndToEndId {
                    end_to_end_id: e2e.clone(),
                },
                result,
            );
        };
        let returned = line.direction == Direction::Credit || line.reversal;
        let change = |action, reason: Option<ReconciliationReason>, activity| Change {
            action,
            reason,
            bank_reference: None,
            note: None,
            activity,
            idempotency_key: None,
        };
        if returned {
            if row.state == SettlementState::Failed || row.state.is_final() {
                result.duplicates += 1;
                return Ok(LineMatch::item(
                    "duplicate",
                    row.id,
                    Some(ReconciliationReason::AlreadyFinal { state: row.state }),
                ));
            }
            let reason = ReconciliationReason::ReturnedByBank {
                bank_code: line.return_reason.clone(),
            };
            self.transition_in(
                tx,
                caller,
                &row,
                change(
                    SettlementAction::Fail,
                    Some(reason),
                    "settlement.statement_return",
                ),
                today,
            )
            .await?;
            result.failed += 1;
            return Ok(LineMatch::item("matched", row.id, None));
        }
        match row.state {
            SettlementState::Settled => {
                result.duplicates += 1;
                Ok(LineMatch::item(
                    "duplicate",
                    row.id,
                    Some(ReconciliationReason::AlreadySettled),
                ))
            }
            SettlementState::Scheduled
            | SettlementState::InTransit
            | SettlementState::NeedsReconciliation
                if line.amount == row.amount =>
            {
                self.transition_in(
                    tx,
                    caller,
                    &row,
                    change(
                        SettlementAction::Confirm,
                        None,
                        "settlement.statement_match",
                    ),
                    today,
                )
                .await?;
                result.settled += 1;
                Ok(LineMatch::item("matched", row.id, None))
            }
            SettlementState::Scheduled | SettlementState::InTransit => {
                let why = ReconciliationReason::AmountDiffers {
                    debited: line.amount,
                    expected: row.amount,
                };
                self.transition_in(
                    tx,
                    caller,
                    &row,
                    change(
                        SettlementAction::Flag,
                        Some(why.clone()),
                        "settlement.statement_mismatch",
                    ),
                    today,
                )
                .await?;
                result.needs_reconciliation += 1;
                Ok(LineMatch::item("mismatch", row.id, Some(why)))
            }
            SettlementState::NeedsReconciliation
            | SettlementState::Failed
            | SettlementState::Reissued
            | SettlementState::WrittenOff => {
                result.unmatched += 1;
                Ok(LineMatch::item(
                    "mismatch",
                    row.id,
                    Some(ReconciliationReason::DebitForUnsettled {
                        debited: line.amount,
                        state: row.state,
                    }),
                ))
            }
        }
    }
}

/// A statement's row, as an import finds it.
#[derive(sqlx::FromRow)]
struct StoredImport {
    id: BankStatementId,
    /// The import's [`StatementImport`] so far, as JSON.
    result: String,
    lines_done: i64,
    finished: bool,
    imported_at: DateTime<Utc>,
}

/// An unfinished import's row ([`Engine::unfinished_statement_imports`]).
#[derive(sqlx::FromRow)]
struct UnfinishedImportRow {
    id: BankStatementId,
    studio_id: StudioId,
    kind: String,
    message_id: String,
    lines_done: i64,
    lines_total: i64,
    imported_at: DateTime<Utc>,
    progress_at: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
}

/// How a statement line was matched: its state ("matched", "unmatched", "mismatch",
/// "duplicate"), the item or card batch it matched, and why, for people.
struct LineMatch {
    state: &'static str,
    item: Option<SettlementItemId>,
    batch: Option<SettlementBatchId>,
    reason: Option<ReconciliationReason>,
}

impl LineMatch {
    fn item(
        state: &'static str,
        item: SettlementItemId,
        reason: Option<ReconciliationReason>,
    ) -> Self {
        LineMatch {
            state,
            item: Some(item),
            batch: None,
            reason,
        }
    }

    fn batch(
        state: &'static str,
        batch: SettlementBatchId,
        reason: Option<ReconciliationReason>,
    ) -> Self {
        LineMatch {
            state,
            item: None,
            batch: Some(batch),
            reason,
        }
    }

    fn unmatched(why: ReconciliationReason) -> Self {
        LineMatch {
            state: "unmatched",
            item: None,
            batch: None,
            reason: Some(why),
        }
    }
}

/// What one settlement sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Card payments scheduled into a batch.
    pub scheduled: u64,
    /// Card payments put in transit (their provider reported them settled).
    pub sent: u64,
    /// Items flagged as overdue.
    pub flagged: u64,
}

/// Runs [`Engine::sweep_settlements`] every `every` until `shutdown` resolves; a failed run is
/// logged and retried at the next one.
pub async fn run_sweeper(
    engine: Engine,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tracing::info!(every_secs = every.as_secs(), "settlement sweeper started");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = &mut shutdown => break,
        }
        if let Err(error) = engine.sweep_settlements().await {
            tracing::error!(%error, "settlement sweep failed; retrying at the next one");
        }
    }
    tracing::info!("settlement sweeper stopped");
}

/// A statement line: one transaction of an entry (or the entry itself without details).
struct Line {
    direction: Direction,
    reversal: bool,
    amount: Rappen,
    currency: String,
    end_to_end_id: Option<String>,
    reference: Option<String>,
    counterparty: Option<String>,
    booked_on: Option<NaiveDate>,
    return_reason: Option<String>,
}

/// The lines of `entry`: one per transaction detail (a batch booking has many), the amount of
/// each its own (or the entry's when it is the only one and carries none).
fn lines_of(entry: &camt::StatementEntry) -> Vec<Line> {
    let booked_on = entry.booking_date.or(entry.value_date);
    if entry.transactions.is_empty() {
        return vec![Line {
            direction: entry.direction,
            reversal: entry.reversal,
            amount: Rappen(entry.amount_minor),
            currency: entry.currency.clone(),
            end_to_end_id: None,
            reference: entry
                .additional_info
                .clone()
                .or_else(|| entry.account_servicer_ref.clone()),
            counterparty: None,
            booked_on,
            return_reason: None,
        }];
    }
    let single = entry.transactions.len() == 1;
    entry
        .transactions
        .iter()
        .map(|tx| Line {
            direction: entry.direction,
            reversal: entry.reversal,
            amount: Rappen(match tx.amount_minor {
                Some(amount) => amount,
                None if single => entry.amount_minor,
                None => 0,
            }),
            currency: tx
                .currency
                .clone()
                .unwrap_or_else(|| entry.currency.clone()),
            end_to_end_id: tx.end_to_end_id.clone(),
            reference: tx
                .creditor_reference
                .clone()
                .or_else(|| tx.unstructured_remittance.clone())
                .or_else(|| entry.additional_info.clone()),
            counterparty: tx.counterparty_name.clone(),
            booked_on,
            return_reason: tx.return_reason.clone(),
        })
        .collect()
}
