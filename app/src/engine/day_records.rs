//! Day records: one per employee and working day, carrying the daily deduction (chair rent) and
//! the guaranteed daily minimum that the next payout covering the date settles.

use super::access::{self, studio_condition, Activity, Caller, NOTHING};
use super::catalog::{check_currency, check_optional_amount, check_record_date};
use super::db;
use super::idempotency::{self, Claim, IdempotencyKey};
use super::{db_error, is_unique_violation, now, Engine};
use crate::domain::*;
use chrono::NaiveDate;

/// Idempotency operation name of day registration (shared by the JSON API and the UI).
pub const REGISTER_DAY: &str = "register_day";

/// Longest note on a day record, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// A validated day registration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NewDayRecord {
    employee_id: EmployeeId,
    worked_on: NaiveDate,
    deduction: Rappen,
    guaranteed_minimum: Rappen,
    note: String,
}

impl NewDayRecord {
    /// Checks every field that does not need the database.
    ///
    /// Errors (422, naming the field): `deduction` or `guaranteed_minimum` negative or over
    /// 100,000.00 CHF; `currency` other than CHF; `worked_on` in the future (Europe/Zurich) or
    /// before 2000; `note` over 500 characters.
    pub fn parse(request: &DayRecordRequest) -> Result<NewDayRecord, AppError> {
        check_optional_amount("deduction", request.deduction)?;
        check_optional_amount("guaranteed_minimum", request.guaranteed_minimum)?;
        check_currency(request.currency.as_deref())?;
        check_record_date("worked_on", request.worked_on)?;
        let note = request.note.as_deref().unwrap_or("").trim().to_string();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(AppError::invalid(
                "note",
                FieldProblem::TooLong {
                    max_chars: MAX_NOTE_CHARS,
                },
            ));
        }
        Ok(NewDayRecord {
            employee_id: request.employee_id,
            worked_on: request.worked_on,
            deduction: Rappen(request.deduction),
            guaranteed_minimum: Rappen(request.guaranteed_minimum),
            note,
        })
    }
}

const DAY_RECORD_SELECT: &str = "
    SELECT dr.id, dr.studio_id, dr.employee_id, e.name AS employee_name, dr.worked_on, dr.deduction,
           dr.guaranteed_minimum, 'CHF' AS currency, dr.note, dr.created_at,
           (SELECT pl.payout_id FROM payout_lines pl WHERE pl.day_record_id = dr.id AND NOT pl.released) AS payout_id
    FROM day_records dr
    JOIN employees e ON e.id = dr.employee_id";

impl Engine {
    /// The most recently worked days (newest first), optionally of one employee; `limit` is
    /// clamped to 1..=500.
    ///
    /// Only the caller's studios (an employee: their own days).
    ///
    /// Errors: 403 unless the caller may read records.
    pub async fn recent_day_records(
        &self,
        caller: &Caller,
        employee: Option<EmployeeId>,
        limit: i64,
    ) -> Result<Vec<DayRecord>, AppError> {
        caller.require(Permission::ReadRecords)?;
        let sql = format!(
            "{DAY_RECORD_SELECT} WHERE ($1 IS NULL OR dr.employee_id = $1)
               AND ($3 IS NULL OR dr.employee_id = $3) AND {}
             ORDER BY dr.worked_on DESC, e.name LIMIT $2",
            studio_condition(self.backend(), "dr.studio_id", 4)
        );
        db::query_as::<DayRecord>(&sql)
            .bind(employee)
            .bind(limit.clamp(1, 500))
            .bind(caller.employee)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("listing day records"))
    }

    /// Records an employee's working day, exactly once per idempotency key (one transaction with
    /// the key; a replay returns the first response).
    ///
    /// Errors: those of [`NewDayRecord::parse`]; 422 naming `employee_id` for an unknown or
    /// inactive employee; 409 `day_already_recorded` when the employee already has a day record
    /// for that date (the database's unique constraint is the final arbiter).
    #[tracing::instrument(skip_all, fields(employee_id = %request.employee_id, worked_on = %request.worked_on))]
    pub async fn register_day(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &DayRecordRequest,
    ) -> Result<DayRecord, AppError> {
        caller.require(Permission::RegisterDay)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let day = NewDayRecord::parse(request)?;
        let fingerprint = idempotency::fingerprint(REGISTER_DAY, &day)?;
        let mut tx = self.begin_write().await?;
        match idempotency::claim(
            &mut tx,
            REGISTER_DAY,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            Claim::Replay { status, body } => return idempotency::decode(status, &body),
            Claim::New | Claim::TakenOver => {}
        }
        let employee: Option<(StudioId, bool)> =
            db::query_as("SELECT studio_id, active FROM employees WHERE id = $1")
                .bind(day.employee_id)
                .fetch_optional(&mut tx)
                .await
                .map_err(db_error("looking up the employee"))?;
        let Some((studio_id, active)) =
            employee.filter(|(studio, _)| caller.sees(*studio, day.employee_id))
        else {
            return Err(AppError::invalid(
                "employee_id",
                FieldProblem::UnknownEmployee {
                    id: day.employee_id,
                },
            ));
        };
        if !active {
            return Err(AppError::invalid("employee_id", FieldProblem::EmployeeLeft));
        }
        let already_recorded = || {
            AppError::conflict_with(Problem::DayAlreadyRecorded {
                worked_on: day.worked_on,
            })
        };
        let id = DayRecordId::generate();
        db::query(
            "INSERT INTO day_records
                 (id, studio_id, employee_id, worked_on, deduction, guaranteed_minimum, note, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(studio_id)
        .bind(day.employee_id)
        .bind(day.worked_on)
        .bind(day.deduction)
        .bind(day.guaranteed_minimum)
        .bind(&day.note)
        .bind(now())
        .execute(&mut tx)
        .await
        .map_err(|error| {
            if is_unique_violation(&error, "day_records.employee_id", "day_records_employee_id_worked_on_key") {
                already_recorded()
            } else {
                db_error("saving the day record")(error)
            }
        })?;
        // Same transaction: the deduction is charged to the employee's payable as it is recorded.
        super::ledger::post_day_transfers(&mut tx, Some(id), now()).await?;
        let saved = db::query_as::<DayRecord>(&format!("{DAY_RECORD_SELECT} WHERE dr.id = $1"))
            .bind(id)
            .fetch_one(&mut tx)
            .await
            .map_err(db_error("reading the saved day record"))?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "day_record.register",
                entity_type: "day_record",
                entity_id: Some(id.to_string()),
                studio_id: Some(studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            NOTHING,
            Some(&saved),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            REGISTER_DAY,
            key,
            201,
            &idempotency::encode(&saved)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the day record"))?;
        tracing::info!(record_id = %saved.id, deduction = saved.deduction.0, "working day recorded");
        Ok(saved)
    }
}
