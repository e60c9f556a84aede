//! The cash register: one till session per studio and business day. Opening sets the drawer to
//! the counted float; cash sales (cash service records), cash payouts and cash in/out flow through
//! the ledger tagged with the session; closing counts notes and coins, posts the variance (reason
//! required when non-zero) and stores the unalterable Z report.

use super::access::{self, Activity, Caller, NOTHING};
use super::db::{self, DbTransaction};
use super::idempotency::{self, Claim, IdempotencyKey};
use super::ledger::{post_transfer, NewTransfer};
use super::{business_date, db_error, now, Engine};
use crate::domain::*;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// Idempotency operation names.
pub const OPEN_TILL: &str = "open_till";
/// See [`OPEN_TILL`].
pub const CASH_MOVEMENT: &str = "cash_movement";
/// See [`OPEN_TILL`].
pub const CLOSE_TILL: &str = "close_till";

const MAX_REASON_CHARS: usize = 500;

/// The open session of a studio, if any.
pub(crate) async fn open_session_of(
    conn: &mut DbTransaction,
    studio: StudioId,
) -> Result<Option<TillSessionId>, AppError> {
    db::query_scalar("SELECT id FROM till_sessions WHERE studio_id = $1 AND state = 'open'")
        .bind(studio)
        .fetch_optional(conn)
        .await
        .map_err(db_error("looking up the open till"))
}

/// What the drawer of an open session should hold now, Rappen.
pub(crate) async fn expected_cash(
    conn: &mut DbTransaction,
    session: TillSessionId,
) -> Result<Rappen, AppError> {
    Ok(load_session(conn, session).await?.expected_cash)
}

/// A trimmed reason of at most 500 characters. Errors (422 `field`): empty when `required`, too long.
pub(crate) fn reason_of(
    field: &str,
    text: Option<&str>,
    required: bool,
) -> Result<String, AppError> {
    let reason = text.unwrap_or("").trim().to_string();
    if required && reason.is_empty() {
        return Err(AppError::invalid(field, FieldProblem::ReasonRequired));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::invalid(
            field,
            FieldProblem::TooLong {
                max_chars: MAX_REASON_CHARS,
            },
        ));
    }
    Ok(reason)
}

/// Sum of a count of notes and coins, in Rappen.
///
/// Errors (422 `denominations`): a key that is not a Swiss franc note or coin, a negative or
/// absurd (over 100,000) count.
pub fn counted_total(denominations: &BTreeMap<String, i64>) -> Result<Rappen, AppError> {
    let mut total: i64 = 0;
    for (key, count) in denominations {
        let value: i64 = key
            .trim()
            .parse()
            .ok()
            .filter(|v| CHF_DENOMINATIONS.contains(v))
            .ok_or_else(|| {
                AppError::invalid(
                    "denominations",
                    FieldProblem::UnknownDenomination { key: key.clone() },
                )
            })?;
        if !(0..=100_000).contains(count) {
            return Err(AppError::invalid(
                "denominations",
                FieldProblem::CountOutOfRange {
                    denomination: Rappen(value),
                    count: *count,
                },
            ));
        }
        total += value * count;
    }
    Ok(Rappen(total))
}

/// VAT contained in a VAT-inclusive `gross` at `rate`, rounded half up:
/// gross × rate / (10,000 + rate). Example: CHF 108.10 at 8.1 % contains CHF 8.10.
pub fn vat_included(gross: Rappen, rate: BasisPoints) -> Rappen {
    let denominator = 10_000 + rate.0;
    Rappen((gross.0 * rate.0 * 2 + denominator) / (2 * denominator))
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: TillSessionId,
    studio_id: StudioId,
    studio_name: String,
    business_date: NaiveDate,
    state: TillState,
    opening_float: i64,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    counted_cash: Option<i64>,
    variance: Option<i64>,
    variance_reason: Option<String>,
    z_report: Option<String>,
}

const SESSION_SELECT: &str = "
    SELECT t.id, t.studio_id, s.name AS studio_name, t.business_date, t.state, t.opening_float, t.opened_at,
           t.closed_at, t.counted_cash, t.variance, t.variance_reason, t.z_report
    FROM till_sessions t JOIN studios s ON s.id = t.studio_id";

async fn movements(
    conn: &mut DbTransaction,
    session: TillSessionId,
) -> Result<Vec<TillMovement>, AppError> {
    db::query_as::<TillMovement>(
        "SELECT t.id AS transfer_id, t.kind, t.reason, p.amount, t.created_at AS at
         FROM ledger_transfers t
         JOIN ledger_postings p ON p.transfer_id = t.id
         JOIN ledger_accounts a ON a.id = p.account_id AND a.code = 'cash_drawer'
         WHERE t.till_session_id = $1 AND t.kind <> 'till_variance'
         ORDER BY t.created_at, t.id",
    )
    .bind(session)
    .fetch_all(conn)
    .await
    .map_err(db_error("listing the till's movements"))
}

async fn load_session(
    conn: &mut DbTransaction,
    id: TillSessionId,
) -> Result<TillSession, AppError> {
    let row = db::query_as::<SessionRow>(&format!("{SESSION_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error("reading the till"))?
        .ok_or_else(|| AppError::not_found(format!("no till session with id {id}")))?;
    let movements = movements(conn, id).await?;
    let moved: i64 = movements.iter().map(|m| m.amount.0).sum();
    let z_report = match &row.z_report {
        Some(json) => Some(serde_json::from_str::<ZReport>(json).map_err(|error| {
            tracing::error!(%error, till = %id, "unreadable Z report");
            AppError::Internal {
                message: "the stored Z report cannot be read; it is logged on the server".into(),
            }
        })?),
        None => None,
    };
    Ok(TillSession {
        id: row.id,
        studio_id: row.studio_id,
        studio_name: row.studio_name,
        business_date: row.business_date,
        state: row.state,
        opening_float: Rappen(row.opening_float),
        opened_at: row.opened_at,
        closed_at: row.closed_at,
        expected_cash: Rappen(row.opening_float + moved),
        counted_cash: row.counted_cash.map(Rappen),
        variance: row.variance.map(Rappen),
        variance_reason: row.variance_reason,
        movements,
        z_report,
        currency: CURRENCY.to_string(),
    })
}

impl Engine {
    /// The studio's current till: the open one, else today's (closed), else `None`.
    ///
    /// Errors: 403 unless the caller may see this studio's till.
    pub async fn current_till(
        &self,
        caller: &Caller,
        studio: StudioId,
    ) -> Result<Option<TillSession>, AppError> {
        caller.require_studio(Permission::ReadTill, studio)?;
        let mut conn = self
            .pool()
            .begin()
            .await
            .map_err(db_error("reading the till"))?;
        let id: Option<TillSessionId> = db::query_scalar(
            "SELECT id FROM till_sessions WHERE studio_id = $1 AND (state = 'open' OR business_date = $2)
             ORDER BY state = 'open' DESC, business_date DESC LIMIT 1",
        )
        .bind(studio)
        .bind(super::today())
        .fetch_optional(&mut conn)
        .await
        .map_err(db_error("reading the till"))?;
        match id {
            Some(id) => Ok(Some(load_session(&mut conn, id).await?)),
            None => Ok(None),
        }
    }

    /// One till session with its movements and (once closed) Z report.
    ///
    /// Errors: 403 unless the caller may see tills; 404 unknown (or another studio's).
    pub async fn till_session(
        &self,
        caller: &Caller,
        id: TillSessionId,
    ) -> Result<TillSession, AppError> {
        caller.require(Permission::ReadTill)?;
        let mut conn = self
            .pool()
            .begin()
            .await
            .map_err(db_error("reading the till"))?;
        let session = load_session(&mut conn, id).await?;
        if caller.sees_studio(session.studio_id) {
            Ok(session)
        } else {
            Err(AppError::not_found(format!("no till session with id {id}")))
        }
    }

    /// Opens today's till of a studio with the counted float. The drawer's book balance is set to
    /// the count (the difference moves to cash in/out, so the books hold what the drawer holds).
    ///
    /// Errors: 403 unless the caller may operate this studio's till; 422 `opening_float` negative or over CHF 100,000.00, `studio_id` unknown, `reason`
    /// too long; 409 `till_already_open` (a till of this studio is open, perhaps yesterday's:
    /// close it first) or `till_already_closed` (today's was closed; it cannot reopen).
    #[tracing::instrument(skip_all, fields(studio_id = %request.studio_id))]
    pub async fn open_till(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &OpenTillRequest,
    ) -> Result<TillSession, AppError> {
        caller.require_studio(Permission::OperateTill, request.studio_id)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        super::catalog::check_optional_amount("opening_float", request.opening_float)?;
        let reason = reason_of("reason", request.reason.as_deref(), false)?;
        let fingerprint = idempotency::fingerprint(OPEN_TILL, request)?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            OPEN_TILL,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let studio_name: Option<String> =
            db::query_scalar("SELECT name FROM studios WHERE id = $1")
                .bind(request.studio_id)
                .fetch_optional(&mut tx)
                .await
                .map_err(db_error("looking up the studio"))?;
        let Some(studio_name) = studio_name else {
            return Err(AppError::invalid(
                "studio_id",
                FieldProblem::UnknownStudio {
                    id: request.studio_id,
                },
            ));
        };
        let at = now();
        let today = business_date(at);
        let existing: Option<(NaiveDate, TillState)> = db::query_as(
            "SELECT business_date, state FROM till_sessions WHERE studio_id = $1 AND (state = 'open' OR business_date = $2)
             ORDER BY state = 'open' DESC LIMIT 1",
        )
        .bind(request.studio_id)
        .bind(today)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up today's till"))?;
        match existing {
            Some((date, TillState::Open)) => {
                return Err(AppError::conflict_with(Problem::TillAlreadyOpen {
                    studio_name,
                    opened_on: date,
                }))
            }
            Some((_, TillState::Closed)) => {
                return Err(AppError::conflict_with(Problem::TillAlreadyClosed {
                    studio_name,
                }))
            }
            None => {}
        }
        let id = TillSessionId::generate();
        db::query(
            "INSERT INTO till_sessions (id, studio_id, business_date, state, opening_float, opened_at)
             VALUES ($1, $2, $3, 'open', $4, $5)",
        )
        .bind(id)
        .bind(request.studio_id)
        .bind(today)
        .bind(request.opening_float)
        .bind(at)
        .execute(&mut tx)
        .await
        .map_err(db_error("opening the till"))?;
        let drawer: i64 = db::query_scalar(
            "SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM ledger_postings p
             JOIN ledger_accounts a ON a.id = p.account_id
             WHERE a.studio_id = $1 AND a.code = 'cash_drawer'",
        )
        .bind(request.studio_id)
        .fetch_one(&mut tx)
        .await
        .map_err(db_error("reading the drawer's balance"))?;
        let difference = request.opening_float - drawer;
        if difference != 0 {
            let kind = if difference > 0 {
                TransferKind::CashIn
            } else {
                TransferKind::CashOut
            };
            let mut why = format!(
                "Opening count {} against {} in the books",
                Rappen(request.opening_float),
                Rappen(drawer)
            );
            if !reason.is_empty() {
                why.push_str(&format!(": {reason}"));
            }
            post_transfer(
                &mut tx,
                &NewTransfer {
                    id: TransferId::generate(),
                    studio_id: request.studio_id,
                    kind,
                    reason: why,
                    cause_type: "till_opening",
                    cause_id: id.0,
                    effective_on: today,
                    // Not tagged: the float itself is the session's starting point.
                    till_session_id: None,
                    postings: vec![
                        (AccountCode::CashDrawer, None, difference),
                        (AccountCode::CashTransfers, None, -difference),
                    ],
                },
            )
            .await?;
        }
        let session = load_session(&mut tx, id).await?;
        super::events::record(
            self.settings(),
            &mut tx,
            "till.opened",
            Some(request.studio_id),
            Some(id.0),
            &session,
        )
        .await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "till.open",
                entity_type: "till_session",
                entity_id: Some(session.id.to_string()),
                studio_id: Some(request.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            NOTHING,
            Some(&session),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            OPEN_TILL,
            key,
            201,
            &idempotency::encode(&session)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the opened till"))?;
        tracing::info!(till = %id, float = request.opening_float, "till opened");
        Ok(session)
    }

    /// Puts cash into or takes cash out of the studio's open till (reason required).
    ///
    /// Errors: 403 unless the caller may operate this studio's till; 422 `amount` not 0.01 to 100,000.00 CHF or more than the till holds (out),
    /// `reason` empty or too long; 409 `till_not_open`.
    #[tracing::instrument(skip_all, fields(studio_id = %request.studio_id))]
    pub async fn cash_movement(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &CashMovementRequest,
    ) -> Result<TillSession, AppError> {
        caller.require_studio(Permission::OperateTill, request.studio_id)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        if request.amount <= 0 {
            return Err(AppError::invalid("amount", FieldProblem::NotPositive));
        }
        super::catalog::check_optional_amount("amount", request.amount)?;
        let reason = reason_of("reason", Some(&request.reason), true)?;
        let fingerprint = idempotency::fingerprint(CASH_MOVEMENT, request)?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            CASH_MOVEMENT,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let session = self.open_session_in(&mut tx, request.studio_id).await?;
        let (kind, signed, label) = match request.direction {
            CashDirection::In => (TransferKind::CashIn, request.amount, "Cash in"),
            CashDirection::Out => (TransferKind::CashOut, -request.amount, "Cash out"),
        };
        if signed < 0 && session.expected_cash.0 + signed < 0 {
            return Err(AppError::invalid(
                "amount",
                FieldProblem::OverTillCash {
                    holds: session.expected_cash,
                    amount: Rappen(request.amount),
                },
            ));
        }
        post_transfer(
            &mut tx,
            &NewTransfer {
                id: TransferId::generate(),
                studio_id: request.studio_id,
                kind,
                reason: format!("{label}: {reason}"),
                cause_type: "till_session",
                cause_id: session.id.0,
                effective_on: session.business_date,
                till_session_id: Some(session.id),
                postings: vec![
                    (AccountCode::CashDrawer, None, signed),
                    (AccountCode::CashTransfers, None, -signed),
                ],
            },
        )
        .await?;
        let updated = load_session(&mut tx, session.id).await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "till.cash_movement",
                entity_type: "till_session",
                entity_id: Some(updated.id.to_string()),
                studio_id: Some(request.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            Some(&session),
            Some(&updated),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            CASH_MOVEMENT,
            key,
            201,
            &idempotency::encode(&updated)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the cash movement"))?;
        tracing::info!(till = %session.id, amount = signed, "cash movement");
        Ok(updated)
    }

    /// Counts and closes the studio's open till: posts the variance (counted − expected) to cash
    /// over/short and stores the Z report; afterwards the session cannot change.
    ///
    /// Errors: 403 unless the caller may operate this studio's till; 422 `denominations` (see [`counted_total`]), `variance_reason` missing when the
    /// count differs from expected; 409 `till_not_open`.
    #[tracing::instrument(skip_all, fields(studio_id = %request.studio_id))]
    pub async fn close_till(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &CloseTillRequest,
    ) -> Result<TillSession, AppError> {
        caller.require_studio(Permission::OperateTill, request.studio_id)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let counted = counted_total(&request.denominations)?;
        let reason = reason_of("variance_reason", request.variance_reason.as_deref(), false)?;
        let fingerprint = idempotency::fingerprint(CLOSE_TILL, request)?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            CLOSE_TILL,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let session = self.open_session_in(&mut tx, request.studio_id).await?;
        let variance = Rappen(counted.0 - session.expected_cash.0);
        if variance.0 != 0 && reason.is_empty() {
            return Err(AppError::invalid(
                "variance_reason",
                FieldProblem::VarianceUnexplained {
                    counted,
                    expected: session.expected_cash,
                },
            ));
        }
        if variance.0 != 0 {
            post_transfer(
                &mut tx,
                &NewTransfer {
                    id: TransferId(session.id.0),
                    studio_id: request.studio_id,
                    kind: TransferKind::TillVariance,
                    reason: format!(
                        "Till count {} ({reason})",
                        if variance.0 > 0 { "over" } else { "short" }
                    ),
                    cause_type: "till_session",
                    cause_id: session.id.0,
                    effective_on: session.business_date,
                    till_session_id: Some(session.id),
                    postings: vec![
                        (AccountCode::CashDrawer, None, variance.0),
                        (AccountCode::CashOverShort, None, -variance.0),
                    ],
                },
            )
            .await?;
        }
        let closed_at = now();
        let report = self
            .z_report(
                &mut tx,
                &session,
                closed_at,
                counted,
                variance,
                &reason,
                &request.denominations,
            )
            .await?;
        let report_json = idempotency::encode(&report)?;
        let denominations_json = idempotency::encode(&request.denominations)?;
        db::query(
            "UPDATE till_sessions SET state = 'closed', closed_at = $2, expected_cash = $3, counted_cash = $4,
                 variance = $5, variance_reason = $6, denominations = $7, z_report = $8
             WHERE id = $1 AND state = 'open'",
        )
        .bind(session.id)
        .bind(closed_at)
        .bind(session.expected_cash)
        .bind(counted)
        .bind(variance)
        .bind(if reason.is_empty() { None } else { Some(&reason) })
        .bind(denominations_json)
        .bind(report_json)
        .execute(&mut tx)
        .await
        .map_err(db_error("closing the till"))?;
        let closed = load_session(&mut tx, session.id).await?;
        super::events::record(
            self.settings(),
            &mut tx,
            "till.closed",
            Some(request.studio_id),
            Some(session.id.0),
            &report,
        )
        .await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "till.close",
                entity_type: "till_session",
                entity_id: Some(closed.id.to_string()),
                studio_id: Some(request.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            Some(&session),
            Some(&closed),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            CLOSE_TILL,
            key,
            200,
            &idempotency::encode(&closed)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the closed till"))?;
        tracing::info!(till = %session.id, counted = counted.0, variance = variance.0, "till closed");
        Ok(closed)
    }

    async fn open_session_in(
        &self,
        tx: &mut DbTransaction,
        studio: StudioId,
    ) -> Result<TillSession, AppError> {
        let id = open_session_of(tx, studio).await?.ok_or_else(|| {
            AppError::conflict_with(Problem::TillNotOpen {
                cash_for: CashUse::Till,
            })
        })?;
        load_session(tx, id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn z_report(
        &self,
        tx: &mut DbTransaction,
        session: &TillSession,
        closed_at: DateTime<Utc>,
        counted: Rappen,
        variance: Rappen,
        reason: &str,
        denominations: &BTreeMap<String, i64>,
    ) -> Result<ZReport, AppError> {
        let by_method: Vec<(String, i64, i64, i64)> = db::query_as(
            "SELECT payment_method, COUNT(*), CAST(SUM(price) AS BIGINT), CAST(SUM(tip) AS BIGINT) FROM service_records
             WHERE studio_id = $1 AND performed_on = $2 GROUP BY payment_method ORDER BY payment_method",
        )
        .bind(session.studio_id)
        .bind(session.business_date)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("summing the day's sales"))?;
        let by_rate: Vec<(i64, i64)> = db::query_as(
            "SELECT vat_rate_bps, CAST(SUM(price) AS BIGINT) FROM service_records
             WHERE studio_id = $1 AND performed_on = $2 GROUP BY vat_rate_bps ORDER BY vat_rate_bps DESC",
        )
        .bind(session.studio_id)
        .bind(session.business_date)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("summing the day's VAT"))?;
        let sum_of = |kind: &str| -> i64 {
            session
                .movements
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.amount.0)
                .sum()
        };
        Ok(ZReport {
            studio_name: session.studio_name.clone(),
            business_date: session.business_date,
            opened_at: session.opened_at,
            closed_at,
            tips: Rappen(by_method.iter().map(|m| m.3).sum()),
            sales_by_method: by_method
                .into_iter()
                .map(|(payment_method, count, gross, tips)| SalesByMethod {
                    payment_method,
                    count,
                    gross: Rappen(gross),
                    tips: Rappen(tips),
                })
                .collect(),
            sales_by_vat_rate: by_rate
                .into_iter()
                .map(|(rate, gross)| {
                    let vat = vat_included(Rappen(gross), BasisPoints(rate));
                    SalesByVatRate {
                        vat_rate_bps: BasisPoints(rate),
                        gross: Rappen(gross),
                        vat,
                        net: Rappen(gross - vat.0),
                    }
                })
                .collect(),
            refunds: Rappen(-sum_of("reversal")),
            cash_payouts: Rappen(-sum_of("payout_committed")),
            cash_in: Rappen(sum_of("cash_in")),
            cash_out: Rappen(-sum_of("cash_out")),
            opening_float: session.opening_float,
            expected_cash: session.expected_cash,
            counted_cash: counted,
            variance,
            variance_reason: if reason.is_empty() {
                None
            } else {
                Some(reason.to_string())
            },
            denominations: denominations.clone(),
            movements: session.movements.clone(),
            currency: CURRENCY.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_included_in_a_swiss_price_rounds_half_up() {
        assert_eq!(vat_included(Rappen(10_810), BasisPoints(810)), Rappen(810));
        assert_eq!(vat_included(Rappen(8_500), BasisPoints(810)), Rappen(637));
        assert_eq!(vat_included(Rappen(10_260), BasisPoints(260)), Rappen(260));
        assert_eq!(vat_included(Rappen(5_000), BasisPoints(0)), Rappen(0));
    }

    #[test]
    fn counting_notes_and_coins_refuses_what_is_not_a_franc_denomination() {
        let count: BTreeMap<String, i64> = [
            ("20000".to_string(), 1),
            ("500".to_string(), 3),
            ("5".to_string(), 2),
        ]
        .into();
        assert_eq!(counted_total(&count), Ok(Rappen(21_510)));
        let bad: BTreeMap<String, i64> = [("300".to_string(), 1)].into();
        assert_eq!(
            counted_total(&bad).unwrap_err().field(),
            Some("denominations")
        );
        let negative: BTreeMap<String, i64> = [("100".to_string(), -1)].into();
        assert!(counted_total(&negative).is_err());
    }
}
