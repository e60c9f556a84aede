//! Payouts: preview, create-and-commit, Finish (resume), cancel, and the queries behind the red
//! banner. A payout runs through recovery-point phases (see [`crate::domain::payout`]), each one
//! transaction that starts by re-checking the stored phase with a conditional update, so two
//! concurrent runners (a double click, two tabs, Finish during a slow commit) can never both
//! advance it: the second finds the phase already moved and simply reloads. All multi-record
//! work is set-based SQL: claiming 10,000 records is one `INSERT .. SELECT`, never a loop.

use super::access::{self, studio_condition, Activity, Caller};
use super::db::{self, DbTransaction};
use super::faults::FaultKind;
use super::idempotency::{self, Claim, IdempotencyKey};
use super::{db_error, is_unique_violation, now, Engine};
use crate::domain::*;
use chrono::NaiveDate;

/// Idempotency operation name of payout creation.
pub const COMMIT_PAYOUT: &str = "commit_payout";
/// Idempotency operation name of Finish.
pub const FINISH_PAYOUT: &str = "finish_payout";
/// Idempotency operation name of cancel.
pub const CANCEL_PAYOUT: &str = "cancel_payout";

/// Longest payout period: a year (a longer one is a typing error).
pub const MAX_PERIOD_DAYS: i64 = 366;

/// Every unpaid record of employee `$1` dated `$2..=$3` (inclusive), as payout lines. The single
/// definition of how a line's amount is computed: the preview, the claim and the employee
/// summary's totals all use this rule.
/// - service record: commission (fixed at registration) + tip; a refunded service pays nothing
///   and does not count towards the day's commission;
/// - day record: top-up to the guaranteed minimum (minimum − that day's commission, if positive)
///   − the daily deduction.
const PAYABLE_LINES: &str = "
    WITH earned AS (
        SELECT performed_on AS on_date, CAST(SUM(commission) AS BIGINT) AS earned
        FROM service_records
        WHERE employee_id = $1 AND performed_on BETWEEN $2 AND $3 AND refunded_at IS NULL
        GROUP BY performed_on
    )
    SELECT sr.id AS service_record_id, NULL AS day_record_id, sr.performed_on AS on_date,
           sr.price, sr.commission_bps, sr.commission, sr.tip,
           0 AS deduction, 0 AS guaranteed_minimum, 0 AS day_earned, 0 AS top_up,
           sr.commission + sr.tip AS amount
    FROM service_records sr
    WHERE sr.employee_id = $1 AND sr.performed_on BETWEEN $2 AND $3 AND sr.refunded_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM payout_lines pl WHERE pl.service_record_id = sr.id AND NOT pl.released)
    UNION ALL
    SELECT NULL, dr.id, dr.worked_on, 0, 0, 0, 0, dr.deduction, dr.guaranteed_minimum, COALESCE(e.earned, 0),
           CASE WHEN dr.guaranteed_minimum > COALESCE(e.earned, 0)
                THEN dr.guaranteed_minimum - COALESCE(e.earned, 0) ELSE 0 END,
           CASE WHEN dr.guaranteed_minimum > COALESCE(e.earned, 0)
                THEN dr.guaranteed_minimum - COALESCE(e.earned, 0) ELSE 0 END - dr.deduction
    FROM day_records dr
    LEFT JOIN earned e ON e.on_date = dr.worked_on
    WHERE dr.employee_id = $1 AND dr.worked_on BETWEEN $2 AND $3
      AND NOT EXISTS (SELECT 1 FROM payout_lines pl WHERE pl.day_record_id = dr.id AND NOT pl.released)";

/// Decorates line rows (from `PAYABLE_LINES` or `payout_lines`, aliased `l`) with names for people.
const LINE_VIEW: &str = "
    SELECT CASE WHEN l.service_record_id IS NOT NULL THEN 'service' ELSE 'day' END AS kind,
           COALESCE(l.service_record_id, l.day_record_id) AS record_id,
           l.on_date, s.name AS service_name, sr.payment_method,
           l.price, l.commission_bps, l.commission, l.tip, l.deduction, l.guaranteed_minimum,
           l.day_earned, l.top_up, l.amount
    FROM ({lines}) l
    LEFT JOIN service_records sr ON sr.id = l.service_record_id
    LEFT JOIN services s ON s.id = sr.service_id
    ORDER BY l.on_date, kind DESC, s.name, record_id";

/// SQL condition: the payout aliased `alias` needs a person (the red banner, the dashboard's
/// counts): it failed, or it is pending and was not updated since `$parameter`, bound to
/// [`Engine::attention_cutoff`].
pub(crate) fn needs_attention_condition(alias: &str, parameter: usize) -> String {
    format!(
        "({alias}.state = 'failed' OR ({alias}.state = 'pending' AND {alias}.updated_at < ${parameter}))"
    )
}

const PAYOUT_SELECT: &str = "
    SELECT p.id, p.employee_id, e.name AS employee_name, p.studio_id, p.state, p.phase, p.record_count,
           p.total, p.currency, p.period_start, p.period_end, p.failed_phase, p.error, p.created_at,
           p.updated_at, p.committed_at, p.method, p.expected_record_count, p.expected_total
    FROM payouts p JOIN employees e ON e.id = p.employee_id";

/// A validated payout request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PayoutPeriod {
    employee_id: EmployeeId,
    start: NaiveDate,
    end: NaiveDate,
    // Left out when bank, so fingerprints of requests from before cash payouts stay valid.
    #[serde(skip_serializing_if = "PayoutMethod::is_bank")]
    method: PayoutMethod,
}

impl PayoutPeriod {
    /// Errors (422): `period_end` before `period_start`; a period longer than a year.
    pub fn parse(request: &PayoutRequest) -> Result<PayoutPeriod, AppError> {
        if request.period_end < request.period_start {
            return Err(AppError::invalid(
                "period_end",
                FieldProblem::EndsBeforeStart {
                    start: request.period_start,
                    end: request.period_end,
                },
            ));
        }
        let days = (request.period_end - request.period_start).num_days() + 1;
        if days > MAX_PERIOD_DAYS {
            return Err(AppError::invalid(
                "period_end",
                FieldProblem::PeriodTooLong {
                    days,
                    max_days: MAX_PERIOD_DAYS,
                },
            ));
        }
        Ok(PayoutPeriod {
            employee_id: request.employee_id,
            start: request.period_start,
            end: request.period_end,
            method: request.method,
        })
    }
}

/// Why a phase did not complete.
enum PhaseError {
    /// The phase failed; the payout is to be marked failed with this message.
    Failed(String),
    /// Simulated process death (fault injection): leave the payout as it is.
    Crashed,
    /// The database could not be used at all; the payout stays as it is (the banner shows it
    /// once the grace period passes) and the caller gets this error.
    Infrastructure(AppError),
}

/// What running a phase did.
enum PhaseOutcome {
    /// This runner completed the phase.
    Advanced,
    /// Another runner had already moved the payout on; reload and continue.
    AlreadyMoved,
}

impl Engine {
    /// Every line a payout of `request` would pay, with totals; writes nothing.
    ///
    /// Errors: 403 unless the caller may preview payouts; 422 for an invalid period or unknown
    /// employee (or one outside the caller's studios), naming the field.
    pub async fn preview_payout(
        &self,
        caller: &Caller,
        request: &PayoutRequest,
    ) -> Result<PayoutPreview, AppError> {
        caller.require(Permission::PreviewPayout)?;
        let period = PayoutPeriod::parse(request)?;
        let employee = self.employee_for_payout(caller, period.employee_id).await?;
        let lines = db::query_as::<PayoutLine>(&LINE_VIEW.replace("{lines}", PAYABLE_LINES))
            .bind(period.employee_id)
            .bind(period.start)
            .bind(period.end)
            .fetch_all(self.pool())
            .await
            .map_err(db_error("computing the payout preview"))?;
        let total = Rappen(lines.iter().map(|l| l.amount.0).sum());
        Ok(PayoutPreview {
            employee_id: employee.0,
            employee_name: employee.1,
            period_start: period.start,
            period_end: period.end,
            record_count: i64::try_from(lines.len()).unwrap_or(i64::MAX),
            total,
            currency: CURRENCY.into(),
            lines,
        })
    }

    /// Creates a payout of every unpaid record of the employee in the period and runs it to
    /// `committed`, exactly once per idempotency key.
    ///
    /// Errors: 422 invalid period / unknown employee / `nothing_to_pay`; 409 `payout_in_progress`
    /// when the employee already has a pending or failed payout; 500 `payout_failed` when a phase
    /// failed (the payout is recorded as failed and shown in the banner; Finish resumes it); the
    /// idempotency refusals of [`idempotency::claim`].
    #[tracing::instrument(skip_all, fields(employee_id = %request.employee_id))]
    pub async fn commit_payout(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &PayoutRequest,
    ) -> Result<Payout, AppError> {
        caller.require(Permission::CommitPayout)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let period = PayoutPeriod::parse(request)?;
        // Refuse an employee outside the caller's studios before anything is claimed.
        self.employee_for_payout(caller, period.employee_id).await?;
        if let Some(replay) = self.claim_key_alone(COMMIT_PAYOUT, key, &period).await? {
            return replay;
        }
        let outcome = match self.payout_by_idempotency_key(key).await? {
            // A retry after the first request died: resume the payout it created.
            Some(existing) => self.run_phases(existing).await,
            None => match self.create_payout(caller, key, period).await {
                Ok(id) => self.run_phases(id).await,
                Err(error) => Err(error),
            },
        };
        self.settle_key(caller, COMMIT_PAYOUT, key, client_key, None, &outcome)
            .await;
        outcome
    }

    /// Resumes a pending or failed payout from its stored phase and commits it. Finishing a
    /// payout that is already committed returns it unchanged (two clicks complete once).
    ///
    /// Errors: 403 unless the caller may finish payouts; 404 unknown payout (or one outside the
    /// caller's studios); 409 `illegal_transition` for a cancelled payout; 500 `payout_failed`
    /// when a phase fails again (the payout stays failed with the new error).
    #[tracing::instrument(skip_all, fields(payout_id = %id))]
    pub async fn finish_payout(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        id: PayoutId,
    ) -> Result<Payout, AppError> {
        caller.require(Permission::FinishPayout)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let before = self.payout(caller, id).await?;
        if let Some(replay) = self.claim_key_alone(FINISH_PAYOUT, key, &id).await? {
            return replay;
        }
        let outcome = self.resume(caller, id).await;
        self.settle_key(
            caller,
            FINISH_PAYOUT,
            key,
            client_key,
            Some(&before),
            &outcome,
        )
        .await;
        outcome
    }

    /// Finish without an idempotency key, for the operator CLI and the stale-payout completer:
    /// safe to repeat because every phase is a conditional update.
    ///
    /// Errors: those of [`Engine::finish_payout`].
    pub async fn resume(&self, caller: &Caller, id: PayoutId) -> Result<Payout, AppError> {
        caller.require(Permission::FinishPayout)?;
        let payout = self.payout(caller, id).await?;
        match payout.state {
            PayoutState::Committed => return Ok(payout),
            PayoutState::Pending | PayoutState::Failed | PayoutState::Cancelled => {
                payout.state.apply(PayoutAction::Finish)?;
            }
        }
        tracing::info!(payout_id = %id, phase = %payout.phase, state = %payout.state, "finishing payout");
        self.run_phases(id).await
    }

    /// The stale-payout completer's sweep: finishes every payout still `pending` whose last phase
    /// started more than `older_than` ago (its request or its server process died between
    /// phases; a live payout moves to its next phase within milliseconds). Each is resumed from
    /// its stored phase exactly as the owner's Finish payout would, so it commits once however
    /// many processes sweep at the same time: every phase is a conditional update under the write
    /// lock. A `failed` payout is left for a person (its failure may need a decision).
    ///
    /// Returns each swept payout as it ended (committed, or failed with its reason, which the
    /// banner shows). Errors: only a failure to list the stale payouts; a payout that cannot be
    /// finished is logged and returned as it stands.
    pub async fn complete_stale_payouts(
        &self,
        older_than: std::time::Duration,
    ) -> Result<Vec<Payout>, AppError> {
        let cut_off =
            now() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::minutes(2));
        let stale: Vec<PayoutId> = db::query_scalar(
            "SELECT id FROM payouts WHERE state = 'pending' AND updated_at < $1
             ORDER BY updated_at LIMIT 50",
        )
        .bind(cut_off)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing stale payouts"))?;
        let completer = Caller::operator("stale-payout completer");
        let mut swept = Vec::with_capacity(stale.len());
        for id in stale {
            tracing::warn!(payout_id = %id, "payout pending past its grace: finishing it");
            match self.resume(&completer, id).await {
                Ok(payout) => {
                    tracing::info!(payout_id = %id, state = %payout.state, "stale payout swept");
                    swept.push(payout);
                }
                Err(error) => {
                    tracing::error!(payout_id = %id, %error, "the stale-payout completer could not finish a payout; it stays in the banner");
                    swept.push(self.payout(&completer, id).await?);
                }
            }
        }
        Ok(swept)
    }

    /// Voids a failed payout and releases its records, so they can be paid by a new payout.
    ///
    /// Errors: 403 unless the caller may cancel payouts; 404 unknown payout (or one outside the
    /// caller's studios); 409 `illegal_transition` unless the payout is failed.
    #[tracing::instrument(skip_all, fields(payout_id = %id))]
    pub async fn cancel_payout(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        id: PayoutId,
    ) -> Result<Payout, AppError> {
        caller.require(Permission::CancelPayout)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        self.payout(caller, id).await?;
        let fingerprint = idempotency::fingerprint(CANCEL_PAYOUT, &id)?;
        let mut tx = self.begin_write().await?;
        match idempotency::claim(
            &mut tx,
            CANCEL_PAYOUT,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            Claim::Replay { status, body } => return idempotency::decode(status, &body),
            Claim::New | Claim::TakenOver => {}
        }
        let payout = self.payout_in(&mut tx, id).await?;
        payout.state.apply(PayoutAction::Cancel)?;
        let at = now();
        let updated = db::query(
            "UPDATE payouts SET state = 'cancelled', cancelled_at = $2, updated_at = $2 WHERE id = $1 AND state = 'failed'",
        )
        .bind(id)
        .bind(at)
        .execute(&mut tx)
        .await
        .map_err(db_error("cancelling the payout"))?;
        if updated.rows_affected() != 1 {
            return Err(AppError::conflict_with(Problem::PayoutChanged));
        }
        db::query("UPDATE payout_lines SET released = TRUE WHERE payout_id = $1")
            .bind(id)
            .execute(&mut tx)
            .await
            .map_err(db_error("releasing the payout's records"))?;
        record_event(self.settings(), &mut tx, "payout.cancelled", &payout).await?;
        let cancelled = self.payout_in(&mut tx, id).await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "payout.cancel",
                entity_type: "payout",
                entity_id: Some(id.to_string()),
                studio_id: Some(cancelled.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            Some(&payout),
            Some(&cancelled),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            CANCEL_PAYOUT,
            key,
            200,
            &idempotency::encode(&cancelled)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the cancellation"))?;
        tracing::info!(payout_id = %id, "payout cancelled; records released");
        Ok(cancelled)
    }

    /// One payout.
    ///
    /// Errors: 403 unless the caller may read payouts; 404 when unknown or not the caller's to
    /// see (an employee guessing another employee's payout id learns nothing).
    pub async fn payout(&self, caller: &Caller, id: PayoutId) -> Result<Payout, AppError> {
        caller.require(Permission::ReadPayouts)?;
        self.load_payout(id)
            .await?
            .filter(|payout| caller.sees(payout.studio_id, payout.employee_id))
            .ok_or_else(|| AppError::not_found(format!("no payout with id {id}")))
    }

    /// One payout, whoever asks (the phases, once the caller was checked).
    async fn load_payout(&self, id: PayoutId) -> Result<Option<Payout>, AppError> {
        db::query_as::<Payout>(&format!("{PAYOUT_SELECT} WHERE p.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_error("reading the payout"))
    }

    /// One payout with its lines. Errors: those of [`Engine::payout`].
    pub async fn payout_detail(
        &self,
        caller: &Caller,
        id: PayoutId,
    ) -> Result<PayoutDetail, AppError> {
        let payout = self.payout(caller, id).await?;
        let lines = db::query_as::<PayoutLine>(&LINE_VIEW.replace(
            "{lines}",
            "SELECT * FROM payout_lines WHERE payout_id = $1 AND NOT released",
        ))
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the payout lines"))?;
        Ok(PayoutDetail { payout, lines })
    }

    /// Payouts, newest first, optionally only in `state` and/or of one employee; at most `limit`.
    /// Only the caller's studios (an employee: their own payouts).
    ///
    /// Errors: 403 unless the caller may read payouts.
    pub async fn payouts(
        &self,
        caller: &Caller,
        state: Option<PayoutState>,
        employee: Option<EmployeeId>,
        limit: i64,
    ) -> Result<Vec<Payout>, AppError> {
        caller.require(Permission::ReadPayouts)?;
        db::query_as::<Payout>(&format!(
            "{PAYOUT_SELECT} WHERE ($1 IS NULL OR p.state = $1) AND ($2 IS NULL OR p.employee_id = $2)
               AND ($4 IS NULL OR p.employee_id = $4) AND {}
             ORDER BY p.created_at DESC LIMIT $3",
            studio_condition(self.backend(), "p.studio_id", 5)
        ))
        .bind(state)
        .bind(employee)
        .bind(limit.clamp(1, 1000))
        .bind(caller.employee)
        .bind(caller.studio_filter())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing payouts"))
    }

    /// Payouts that need a person: every failed payout, and pending ones not updated for longer
    /// than the grace period (interrupted). Oldest first. Only the caller's studios.
    ///
    /// Errors: 403 unless the caller may see the banner.
    pub async fn payouts_needing_attention(
        &self,
        caller: &Caller,
    ) -> Result<Vec<Payout>, AppError> {
        caller.require(Permission::ReadAttention)?;
        db::query_as::<Payout>(&format!(
            "{PAYOUT_SELECT} WHERE {} ORDER BY p.created_at",
            needs_attention_condition("p", 1)
        ))
        .bind(self.attention_cutoff())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing payouts needing attention"))
        .map(|payouts| {
            payouts
                .into_iter()
                .filter(|p| caller.sees(p.studio_id, p.employee_id))
                .collect()
        })
    }

    /// The bound of [`needs_attention_condition`]: a pending payout not updated since this
    /// instant (now minus the grace period) was interrupted.
    pub(crate) fn attention_cutoff(&self) -> chrono::DateTime<chrono::Utc> {
        let grace = chrono::Duration::from_std(self.settings().pending_grace)
            .unwrap_or(chrono::Duration::seconds(30));
        now() - grace
    }

    /// The employee a payout is for. Errors: 422 naming `employee_id` when unknown or outside
    /// the caller's studios.
    async fn employee_for_payout(
        &self,
        caller: &Caller,
        id: EmployeeId,
    ) -> Result<(EmployeeId, String, StudioId), AppError> {
        let row: Option<(String, StudioId)> =
            db::query_as("SELECT name, studio_id FROM employees WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("looking up the employee"))?;
        row.filter(|(_, studio)| caller.sees(*studio, id))
            .map(|(name, studio)| (id, name, studio))
            .ok_or_else(|| AppError::invalid("employee_id", FieldProblem::UnknownEmployee { id }))
    }

    async fn payout_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<PayoutId>, AppError> {
        db::query_scalar("SELECT id FROM payouts WHERE idempotency_key = $1")
            .bind(key.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db_error("looking up the payout of this idempotency key"))
    }

    async fn payout_in(&self, tx: &mut DbTransaction, id: PayoutId) -> Result<Payout, AppError> {
        db::query_as::<Payout>(&format!("{PAYOUT_SELECT} WHERE p.id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("reading the payout"))?
            .ok_or_else(|| AppError::not_found(format!("no payout with id {id}")))
    }

    /// Phase `created`: one transaction inserts the pending payout with the preview's totals.
    async fn create_payout(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        period: PayoutPeriod,
    ) -> Result<PayoutId, AppError> {
        let (_, employee_name, studio_id) =
            self.employee_for_payout(caller, period.employee_id).await?;
        let mut tx = self.begin_write().await?;
        let (count, total): (i64, i64) = db::query_as(format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ({PAYABLE_LINES}) AS payable"
        ))
        .bind(period.employee_id)
        .bind(period.start)
        .bind(period.end)
        .fetch_one(&mut tx)
        .await
        .map_err(db_error("computing the payout totals"))?;
        if count == 0 {
            return Err(AppError::unprocessable_with(Problem::NoUnpaidRecords {
                employee_name,
                start: period.start,
                end: period.end,
            }));
        }
        if total <= 0 {
            return Err(AppError::unprocessable_with(
                Problem::DeductionsExceedEarnings {
                    employee_name,
                    start: period.start,
                    end: period.end,
                    total: Rappen(total),
                },
            ));
        }
        if period.method == PayoutMethod::Cash {
            let till = super::till::open_session_of(&mut tx, studio_id)
                .await?
                .ok_or_else(|| {
                    AppError::conflict_with(Problem::TillNotOpen {
                        cash_for: CashUse::Payout,
                    })
                })?;
            let in_till = super::till::expected_cash(&mut tx, till).await?;
            if in_till.0 < total {
                return Err(AppError::conflict_with(Problem::TillInsufficientCash {
                    holds: in_till,
                    employee_name,
                    total: Rappen(total),
                }));
            }
        }
        let id = PayoutId::generate();
        let at = now();
        let inserted = db::query(
            "INSERT INTO payouts (id, studio_id, employee_id, period_start, period_end, state, phase,
                                  record_count, total, expected_record_count, expected_total,
                                  idempotency_key, created_at, updated_at, method)
             VALUES ($1, $2, $3, $4, $5, 'pending', 'created', 0, $7, $6, $7, $8, $9, $9, $10)",
        )
        .bind(id)
        .bind(studio_id)
        .bind(period.employee_id)
        .bind(period.start)
        .bind(period.end)
        .bind(count)
        .bind(total)
        .bind(key.as_str())
        .bind(at)
        .bind(period.method)
        .execute(&mut tx)
        .await;
        if let Err(error) = inserted {
            if is_unique_violation(
                &error,
                "payouts.employee_id",
                "payouts_one_open_per_employee",
            ) {
                // PostgreSQL refuses every further statement of a transaction after an error, so
                // the open payout is looked up outside it.
                tx.rollback()
                    .await
                    .map_err(db_error("rolling back the refused payout"))?;
                let open: Option<(PayoutId, PayoutState)> = db::query_as(
                    "SELECT id, state FROM payouts WHERE employee_id = $1 AND state IN ('pending', 'failed')",
                )
                .bind(period.employee_id)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("looking up the open payout"))?;
                // No open payout found (it finished meanwhile): the refusal simply omits it.
                return Err(AppError::conflict_with(Problem::PayoutInProgress {
                    employee_name,
                    open,
                }));
            }
            return Err(db_error("creating the payout")(error));
        }
        let created = self.payout_in(&mut tx, id).await?;
        record_event(self.settings(), &mut tx, "payout.created", &created).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the new payout"))?;
        tracing::info!(payout_id = %id, records = count, total, "payout created");
        Ok(id)
    }

    /// Runs the remaining phases of a payout until it is committed, failed, or interrupted.
    async fn run_phases(&self, id: PayoutId) -> Result<Payout, AppError> {
        loop {
            let payout = self
                .load_payout(id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("no payout with id {id}")))?;
            let action = match payout.state {
                PayoutState::Committed => return Ok(payout),
                PayoutState::Cancelled => {
                    return Err(payout.state.apply(PayoutAction::Finish).err().map_or_else(
                        || AppError::conflict("payout_cancelled", "the payout was cancelled"),
                        AppError::from,
                    ))
                }
                PayoutState::Pending => PayoutAction::Commit,
                PayoutState::Failed => PayoutAction::Finish,
            };
            let Some(next) = payout.phase.next() else {
                return Ok(payout);
            };
            match self.run_phase(&payout, next, action).await {
                Ok(PhaseOutcome::Advanced) | Ok(PhaseOutcome::AlreadyMoved) => continue,
                Err(PhaseError::Crashed) => {
                    tracing::error!(payout_id = %id, phase = %next, "payout run stopped before a phase (injected crash)");
                    return Err(AppError::Unavailable {
                        message: format!(
                            "the payout was interrupted before {}; it stays pending and can be finished",
                            next.describe()
                        ),
                    });
                }
                Err(PhaseError::Infrastructure(error)) => return Err(error),
                Err(PhaseError::Failed(message)) => {
                    return Err(self.mark_failed(&payout, next, message).await)
                }
            }
        }
    }

    async fn run_phase(
        &self,
        payout: &Payout,
        phase: PayoutPhase,
        action: PayoutAction,
    ) -> Result<PhaseOutcome, PhaseError> {
        let failed = |context: &'static str| {
            move |error: sqlx::Error| {
                tracing::error!(%error, payout_id = %payout.id, phase = %phase, context, "payout phase failed");
                PhaseError::Failed(format!("database error while {context}"))
            }
        };
        let mut tx = self
            .begin_write()
            .await
            .map_err(PhaseError::Infrastructure)?;
        // Guard: only the runner that sees the stored phase unchanged may do this phase.
        let guard = db::query(
            "UPDATE payouts SET updated_at = $3 WHERE id = $1 AND phase = $2 AND state IN ('pending', 'failed')",
        )
        .bind(payout.id)
        .bind(payout.phase)
        .bind(now())
        .execute(&mut tx)
        .await
        .map_err(failed("locking the payout"))?;
        if guard.rows_affected() == 0 {
            return Ok(PhaseOutcome::AlreadyMoved);
        }
        match self.faults().fire(phase) {
            Some(FaultKind::Crash) => return Err(PhaseError::Crashed),
            Some(FaultKind::Abort) => {
                tracing::error!(payout_id = %payout.id, phase = %phase, "injected fault: aborting the process");
                std::process::abort();
            }
            Some(FaultKind::Hang) => {
                tracing::error!(payout_id = %payout.id, phase = %phase, "injected fault: hanging inside the phase until killed");
                std::future::pending::<()>().await;
            }
            Some(FaultKind::Error) => {
                return Err(PhaseError::Failed(format!(
                    "injected fault while {}",
                    phase.describe()
                )));
            }
            None => {}
        }
        match phase {
            PayoutPhase::Created => {
                return Err(PhaseError::Failed(
                    "internal error: a payout cannot re-enter its creation phase".into(),
                ));
            }
            PayoutPhase::LinesClaimed => {
                let claimed = db::query(format!(
                    "INSERT INTO payout_lines (payout_id, service_record_id, day_record_id, on_date, price,
                         commission_bps, commission, tip, deduction, guaranteed_minimum, day_earned, top_up, amount)
                     SELECT $4, l.* FROM ({PAYABLE_LINES}) l"
                ))
                .bind(payout.employee_id)
                .bind(payout.period_start)
                .bind(payout.period_end)
                .bind(payout.id)
                .execute(&mut tx)
                .await
                .map_err(failed("claiming the records"))?;
                if claimed.rows_affected() == 0 {
                    return Err(PhaseError::Failed(
                        "no unpaid records were left to claim in this period; cancel this payout"
                            .into(),
                    ));
                }
                db::query(
                    "UPDATE payouts SET phase = 'lines_claimed',
                         record_count = (SELECT COUNT(*) FROM payout_lines WHERE payout_id = $1 AND NOT released),
                         total = (SELECT COALESCE(SUM(amount), 0) FROM payout_lines WHERE payout_id = $1 AND NOT released)
                     WHERE id = $1",
                )
                .bind(payout.id)
                .execute(&mut tx)
                .await
                .map_err(failed("recording the claimed lines"))?;
            }
            PayoutPhase::TotalsVerified => {
                let (lines, sum, misplaced, altered): (i64, i64, i64, i64) = db::query_as(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(pl.amount), 0) AS BIGINT),
                            CAST(COALESCE(SUM(CASE WHEN COALESCE(sr.employee_id, dr.employee_id) <> $2
                                          OR COALESCE(sr.performed_on, dr.worked_on) NOT BETWEEN $3 AND $4
                                          THEN 1 ELSE 0 END), 0) AS BIGINT),
                            CAST(COALESCE(SUM(CASE WHEN sr.id IS NOT NULL AND pl.amount <> sr.commission + sr.tip
                                          THEN 1 ELSE 0 END), 0) AS BIGINT)
                     FROM payout_lines pl
                     LEFT JOIN service_records sr ON sr.id = pl.service_record_id
                     LEFT JOIN day_records dr ON dr.id = pl.day_record_id
                     WHERE pl.payout_id = $1 AND NOT pl.released",
                )
                .bind(payout.id)
                .bind(payout.employee_id)
                .bind(payout.period_start)
                .bind(payout.period_end)
                .fetch_one(&mut tx)
                .await
                .map_err(failed("verifying the totals"))?;
                let stored: (i64, i64) =
                    db::query_as("SELECT record_count, total FROM payouts WHERE id = $1")
                        .bind(payout.id)
                        .fetch_one(&mut tx)
                        .await
                        .map_err(failed("verifying the totals"))?;
                if (lines, sum) != stored || misplaced != 0 || altered != 0 {
                    return Err(PhaseError::Failed(format!(
                        "totals do not verify: {lines} lines summing to {} against {} records and {} recorded; \
                         {misplaced} lines of another employee or period, {altered} lines differing from their record",
                        Rappen(sum),
                        stored.0,
                        Rappen(stored.1)
                    )));
                }
                db::query("UPDATE payouts SET phase = 'totals_verified' WHERE id = $1")
                    .bind(payout.id)
                    .execute(&mut tx)
                    .await
                    .map_err(failed("recording the verification"))?;
            }
            PayoutPhase::Committed => {
                let to = payout
                    .state
                    .apply(action)
                    .map_err(|refusal| PhaseError::Failed(refusal.explanation))?;
                let at = now();
                db::query(
                    "UPDATE payouts SET state = $2, phase = 'committed', committed_at = $3, updated_at = $3
                     WHERE id = $1 AND phase = 'totals_verified'",
                )
                .bind(payout.id)
                .bind(to)
                .bind(at)
                .execute(&mut tx)
                .await
                .map_err(failed("committing the payout"))?;
                if payout.method == PayoutMethod::Cash
                    && super::till::open_session_of(&mut tx, payout.studio_id)
                        .await
                        .map_err(PhaseError::Infrastructure)?
                        .is_none()
                {
                    return Err(PhaseError::Failed(
                        "the till is closed, and a cash payout is paid from it: open the till, then Finish payout".into(),
                    ));
                }
                // Same transaction as the state change: a committed payout always has exactly
                // one transfer, and a failed posting leaves the payout uncommitted.
                let posted = super::ledger::post_payout_transfers(&mut tx, Some(payout.id), at)
                    .await
                    .map_err(|error| PhaseError::Failed(error.to_string()))?;
                if posted != 1 {
                    return Err(PhaseError::Failed(format!(
                        "the ledger transfer of the payout was not posted ({posted} written)"
                    )));
                }
                let committed = self
                    .payout_in(&mut tx, payout.id)
                    .await
                    .map_err(PhaseError::Infrastructure)?;
                // A bank payout is scheduled for the next bank file in the same transaction:
                // a committed bank payout is never missing from settlement tracking.
                super::settlements::schedule_bank_payout(&mut tx, &committed, at)
                    .await
                    .map_err(|error| PhaseError::Failed(error.to_string()))?;
                let kind = if action == PayoutAction::Finish {
                    "payout.finished"
                } else {
                    "payout.committed"
                };
                record_event(self.settings(), &mut tx, kind, &committed)
                    .await
                    .map_err(PhaseError::Infrastructure)?;
            }
        }
        tx.commit().await.map_err(failed("committing the phase"))?;
        tracing::info!(payout_id = %payout.id, phase = %phase, "payout phase done");
        Ok(PhaseOutcome::Advanced)
    }

    /// Records a phase failure on the payout (state `failed`, failing phase, error) and returns
    /// the error to show. If even that write fails, the payout stays pending (the banner shows it
    /// after the grace period) and the database error is returned instead.
    async fn mark_failed(&self, payout: &Payout, phase: PayoutPhase, message: String) -> AppError {
        let result: Result<Payout, AppError> = async {
            payout.state.apply(PayoutAction::Fail)?;
            let mut tx = self.begin_write().await?;
            db::query(
                "UPDATE payouts SET state = 'failed', failed_phase = $2, error = $3, updated_at = $4
                 WHERE id = $1 AND state IN ('pending', 'failed')",
            )
            .bind(payout.id)
            .bind(phase)
            .bind(&message)
            .bind(now())
            .execute(&mut tx)
            .await
            .map_err(db_error("recording the payout failure"))?;
            let failed = self.payout_in(&mut tx, payout.id).await?;
            record_event(self.settings(), &mut tx, "payout.failed", &failed).await?;
            tx.commit()
                .await
                .map_err(db_error("recording the payout failure"))?;
            Ok(failed)
        }
        .await;
        match result {
            Ok(failed) => {
                tracing::error!(payout_id = %payout.id, phase = %phase, error = %message, "payout failed");
                AppError::PayoutFailed {
                    message: format!(
                        "the payout to {} failed while {}: {message}. Nothing was paid twice; use Finish payout to complete it.",
                        failed.employee_name,
                        phase.describe()
                    ),
                    payout: Box::new(failed),
                }
            }
            Err(error) => {
                tracing::error!(payout_id = %payout.id, phase = %phase, error = %message, record_error = %error,
                    "payout failed and the failure could not be recorded");
                error
            }
        }
    }

    /// Claims `key` in a transaction of its own (for multi-transaction operations, whose key must
    /// be visible as in flight while their phases run). `Some` holds the stored response of a
    /// replay; `None` means: go ahead, then [`Self::settle_key`].
    async fn claim_key_alone<R: serde::Serialize>(
        &self,
        operation: &str,
        key: &IdempotencyKey,
        request: &R,
    ) -> Result<Option<Result<Payout, AppError>>, AppError> {
        let fingerprint = idempotency::fingerprint(operation, request)?;
        let mut tx = self.begin_write().await?;
        let claim = idempotency::claim(
            &mut tx,
            operation,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("claiming the idempotency key"))?;
        Ok(match claim {
            Claim::Replay { status, body } => Some(idempotency::decode(status, &body)),
            Claim::New | Claim::TakenOver => None,
        })
    }

    /// Stores the outcome of a keyed payout request for replay, or releases the key when nothing
    /// was created (so a corrected retry may reuse it). A failure to store is logged; the key then
    /// stays in flight until its lease ends, after which a retry resumes the same payout.
    ///
    /// The activity log entry (the payout before, and after or the failure) is written in the
    /// same transaction as the stored response: a crash before it leaves the key in flight, and
    /// the retry that resumes the payout writes it.
    async fn settle_key(
        &self,
        caller: &Caller,
        operation: &str,
        key: &IdempotencyKey,
        client_key: &IdempotencyKey,
        before: Option<&Payout>,
        outcome: &Result<Payout, AppError>,
    ) {
        let result: Result<(), AppError> = async {
            let mut tx = self.begin_write().await?;
            let action = if operation == FINISH_PAYOUT {
                "payout.finish"
            } else {
                "payout.commit"
            };
            let after = match outcome {
                Ok(payout) => Some(payout),
                Err(AppError::PayoutFailed { payout, .. }) => Some(payout.as_ref()),
                Err(_) => None,
            };
            if let Some(after) = after {
                access::record(
                    &mut tx,
                    caller,
                    Activity {
                        action,
                        entity_type: "payout",
                        entity_id: Some(after.id.to_string()),
                        studio_id: Some(after.studio_id),
                        idempotency_key: Some(client_key.as_str()),
                    },
                    before,
                    Some(after),
                )
                .await?;
            }
            match outcome {
                Ok(payout) => {
                    idempotency::complete(
                        &mut tx,
                        operation,
                        key,
                        201,
                        &idempotency::encode(payout)?,
                    )
                    .await?
                }
                Err(error @ AppError::PayoutFailed { .. }) => {
                    idempotency::complete(
                        &mut tx,
                        operation,
                        key,
                        error.status(),
                        &idempotency::encode(error)?,
                    )
                    .await?
                }
                Err(_) => idempotency::release(&mut tx, operation, key).await?,
            }
            tx.commit()
                .await
                .map_err(db_error("storing the idempotent response"))
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, operation, key = key.as_str(), "could not store the idempotent response; the key stays in flight until its lease ends");
        }
    }
}

/// Appends a payout's domain event to the durable event log, inside the caller's transaction.
async fn record_event(
    settings: &super::EngineSettings,
    tx: &mut DbTransaction,
    kind: &str,
    payout: &Payout,
) -> Result<(), AppError> {
    super::events::record(
        settings,
        tx,
        kind,
        Some(payout.studio_id),
        Some(payout.id.0),
        payout,
    )
    .await?;
    Ok(())
}

/// Runs [`Engine::complete_stale_payouts`] every `every` until `shutdown` resolves (finishing a
/// payout it has started first). Safe in several server processes at once.
pub async fn run_stale_payout_completer(
    engine: Engine,
    every: std::time::Duration,
    older_than: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tracing::info!(
        every_secs = every.as_secs(),
        older_than_secs = older_than.as_secs(),
        "stale-payout completer started"
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = &mut shutdown => break,
        }
        if let Err(error) = engine.complete_stale_payouts(older_than).await {
            tracing::error!(%error, "stale-payout sweep failed; retrying at the next sweep");
        }
    }
    tracing::info!("stale-payout completer stopped");
}
