//! Studios, employees, the service catalogue and service records: reads for the UI and API, and
//! the registration of a performed service (one transaction with its idempotency key). It never
//! touches payouts.

use super::access::{self, studio_condition, Activity, Caller, NOTHING};
use super::db;
use super::idempotency::{self, Claim, IdempotencyKey};
use super::{db_error, now, today, Engine};
use crate::domain::*;
use chrono::NaiveDate;

/// Idempotency operation name of service registration (shared by the JSON API and the UI).
pub const REGISTER_SERVICE: &str = "register_service";

/// Earliest date a service may be registered for (catches a mistyped year).
pub fn earliest_service_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// Refuses a record date in the future (Europe/Zurich) or before 2000 (a mistyped year), naming
/// `field` (422).
pub fn check_record_date(field: &str, date: NaiveDate) -> Result<(), AppError> {
    let today = today();
    if date > today {
        return Err(AppError::invalid(
            field,
            FieldProblem::InFuture { date, today },
        ));
    }
    if date < earliest_service_date() {
        return Err(AppError::invalid(
            field,
            FieldProblem::TooFarInPast { date },
        ));
    }
    Ok(())
}

/// Refuses an amount (Rappen) that may be zero but not negative nor over
/// [`MAX_SERVICE_AMOUNT`], naming `field` (422).
pub fn check_optional_amount(field: &str, amount: i64) -> Result<(), AppError> {
    if amount < 0 {
        return Err(AppError::invalid(field, FieldProblem::Negative));
    }
    if amount > MAX_SERVICE_AMOUNT.0 {
        return Err(AppError::invalid(
            field,
            FieldProblem::OverLimit {
                limit: MAX_SERVICE_AMOUNT,
            },
        ));
    }
    Ok(())
}

/// Refuses a `currency` other than CHF (422); absent means CHF.
pub fn check_currency(currency: Option<&str>) -> Result<(), AppError> {
    match currency {
        Some(currency) if currency != CURRENCY => Err(AppError::invalid(
            "currency",
            FieldProblem::UnsupportedCurrency {
                currency: currency.to_string(),
            },
        )),
        Some(_) | None => Ok(()),
    }
}

/// A validated service registration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NewServiceRecord {
    employee_id: EmployeeId,
    service_id: ServiceId,
    price: Rappen,
    tip: Rappen,
    payment_method: PaymentMethod,
    performed_on: NaiveDate,
}

impl NewServiceRecord {
    /// Checks every field of a request that does not need the database.
    ///
    /// Errors (422, naming the field): `price` not between 0.01 and 100,000.00 CHF; `tip` negative
    /// or over 100,000.00 CHF; `currency` other than CHF; `payment_method` not cash/card/twint;
    /// `performed_on` in the future (Europe/Zurich) or before 2000.
    pub fn parse(request: &ServiceRecordRequest) -> Result<NewServiceRecord, AppError> {
        let limit = MAX_SERVICE_AMOUNT;
        if request.price <= 0 {
            return Err(AppError::invalid("price", FieldProblem::NotPositive));
        }
        if request.price > limit.0 {
            return Err(AppError::invalid(
                "price",
                FieldProblem::OverServiceLimit { limit },
            ));
        }
        check_optional_amount("tip", request.tip)?;
        check_currency(request.currency.as_deref())?;
        let payment_method = PaymentMethod::parse(&request.payment_method)
            .map_err(|problem| AppError::invalid("payment_method", problem))?;
        check_record_date("performed_on", request.performed_on)?;
        Ok(NewServiceRecord {
            employee_id: request.employee_id,
            service_id: request.service_id,
            price: Rappen(request.price),
            tip: Rappen(request.tip),
            payment_method,
            performed_on: request.performed_on,
        })
    }
}

/// A service record with names for people and the payout holding it (`sr`, `e`, `s`).
pub(crate) const SERVICE_RECORD_SELECT: &str = "
    SELECT sr.id, sr.studio_id, sr.employee_id, e.name AS employee_name, sr.service_id, s.name AS service_name,
           sr.price, sr.tip, 'CHF' AS currency, sr.payment_method, sr.commission_bps, sr.commission,
           sr.performed_on, sr.created_at, sr.refunded_at, sr.refund_reason,
           (SELECT pl.payout_id FROM payout_lines pl WHERE pl.service_record_id = sr.id AND NOT pl.released) AS payout_id
    FROM service_records sr
    JOIN employees e ON e.id = sr.employee_id
    JOIN services s ON s.id = sr.service_id";

impl Engine {
    /// Both studios, by name.
    ///
    /// Errors: 403 unless the caller may read the catalogue.
    pub async fn studios(&self, caller: &Caller) -> Result<Vec<Studio>, AppError> {
        caller.require(Permission::ReadCatalog)?;
        let studios = db::query_as::<Studio>("SELECT id, name FROM studios ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(db_error("listing studios"))?;
        Ok(studios
            .into_iter()
            .filter(|s| caller.sees_studio(s.id))
            .collect())
    }

    /// Every active employee with their unpaid record count and total (set-based: one query for
    /// all employees), ordered by studio and name.
    ///
    /// Only the caller's studios; an employee sees only themselves.
    ///
    /// Errors: 403 unless the caller may read the catalogue.
    pub async fn employees(&self, caller: &Caller) -> Result<Vec<EmployeeSummary>, AppError> {
        caller.require(Permission::ReadCatalog)?;
        let all = db::query_as::<EmployeeSummary>(
            "WITH earned AS (
                 SELECT employee_id, performed_on, CAST(SUM(commission) AS BIGINT) AS earned
                 FROM service_records WHERE refunded_at IS NULL GROUP BY employee_id, performed_on
             ),
             unpaid_services AS (
                 SELECT sr.employee_id, COUNT(*) AS n, CAST(SUM(sr.commission + sr.tip) AS BIGINT) AS amount,
                        MIN(sr.performed_on) AS oldest, MAX(sr.performed_on) AS newest
                 FROM service_records sr
                 WHERE sr.refunded_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM payout_lines pl WHERE pl.service_record_id = sr.id AND NOT pl.released)
                 GROUP BY sr.employee_id
             ),
             unpaid_days AS (
                 SELECT dr.employee_id, COUNT(*) AS n,
                        CAST(SUM(CASE WHEN dr.guaranteed_minimum > COALESCE(e.earned, 0)
                                 THEN dr.guaranteed_minimum - COALESCE(e.earned, 0) ELSE 0 END - dr.deduction) AS BIGINT) AS amount,
                        MIN(dr.worked_on) AS oldest, MAX(dr.worked_on) AS newest
                 FROM day_records dr
                 LEFT JOIN earned e ON e.employee_id = dr.employee_id AND e.performed_on = dr.worked_on
                 WHERE NOT EXISTS (SELECT 1 FROM payout_lines pl WHERE pl.day_record_id = dr.id AND NOT pl.released)
                 GROUP BY dr.employee_id
             )
             SELECT e.id, e.name, e.studio_id, s.name AS studio_name, e.commission_bps,
                    COALESCE(us.n, 0) + COALESCE(ud.n, 0) AS unpaid_record_count,
                    COALESCE(us.amount, 0) + COALESCE(ud.amount, 0) AS unpaid_total,
                    'CHF' AS currency,
                    CASE WHEN us.oldest IS NULL THEN ud.oldest WHEN ud.oldest IS NULL THEN us.oldest
                         WHEN us.oldest < ud.oldest THEN us.oldest ELSE ud.oldest END AS oldest_unpaid_on,
                    CASE WHEN us.newest IS NULL THEN ud.newest WHEN ud.newest IS NULL THEN us.newest
                         WHEN us.newest > ud.newest THEN us.newest ELSE ud.newest END AS newest_unpaid_on
             FROM employees e
             JOIN studios s ON s.id = e.studio_id
             LEFT JOIN unpaid_services us ON us.employee_id = e.id
             LEFT JOIN unpaid_days ud ON ud.employee_id = e.id
             WHERE e.active
             ORDER BY s.name, e.name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing employees"))?;
        Ok(all
            .into_iter()
            .filter(|e| caller.sees(e.studio_id, e.id))
            .collect())
    }

    /// One employee's summary. Errors: 404 when unknown or not the caller's to see.
    pub async fn employee(
        &self,
        caller: &Caller,
        id: EmployeeId,
    ) -> Result<EmployeeSummary, AppError> {
        self.employees(caller)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::not_found(format!("no employee with id {id}")))
    }

    /// The active catalogue of both studios, by studio and name.
    ///
    /// Errors: 403 unless the caller may read the catalogue.
    pub async fn services(&self, caller: &Caller) -> Result<Vec<Service>, AppError> {
        caller.require(Permission::ReadCatalog)?;
        let services = db::query_as::<Service>(
            "SELECT id, studio_id, name, category, list_price FROM services WHERE active ORDER BY studio_id, category, name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing services"))?;
        Ok(services
            .into_iter()
            .filter(|s| caller.sees_studio(s.studio_id))
            .collect())
    }

    /// The most recently registered service records (newest first), optionally of one employee.
    /// Only the caller's studios (an employee: their own records).
    ///
    /// Errors: 403 unless the caller may read records.
    pub async fn recent_service_records(
        &self,
        caller: &Caller,
        employee: Option<EmployeeId>,
        limit: i64,
    ) -> Result<Vec<ServiceRecord>, AppError> {
        caller.require(Permission::ReadRecords)?;
        let sql = format!(
            "{SERVICE_RECORD_SELECT} WHERE ($1 IS NULL OR sr.employee_id = $1)
               AND ($3 IS NULL OR sr.employee_id = $3) AND {}
             ORDER BY sr.created_at DESC, sr.performed_on DESC LIMIT $2",
            studio_condition(self.backend(), "sr.studio_id", 4)
        );
        db::query_as::<ServiceRecord>(&sql)
            .bind(employee)
            .bind(limit.clamp(1, 500))
            .bind(caller.employee)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("listing service records"))
    }

    /// Registers a performed service, exactly once per idempotency key.
    ///
    /// One transaction claims the key, checks the employee and service (same studio), resolves the
    /// commission rate (category override, else the employee's rate), inserts the record and stores
    /// the response. A replay returns the first response; see [`idempotency`] for the refusals.
    ///
    /// Errors: 403 unless the caller may register services; 422 for an unknown or inactive
    /// employee (or one outside the caller's studios), an unknown service or one of another studio
    /// (naming `employee_id` / `service_id`), plus those of [`NewServiceRecord::parse`].
    #[tracing::instrument(skip_all, fields(employee_id = %request.employee_id))]
    pub async fn register_service(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &ServiceRecordRequest,
    ) -> Result<ServiceRecord, AppError> {
        caller.require(Permission::RegisterService)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let record = NewServiceRecord::parse(request)?;
        let fingerprint = idempotency::fingerprint(REGISTER_SERVICE, &record)?;
        let mut tx = self.begin_write().await?;
        match idempotency::claim(
            &mut tx,
            REGISTER_SERVICE,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            Claim::Replay { status, body } => return idempotency::decode(status, &body),
            Claim::New | Claim::TakenOver => {}
        }
        let employee: Option<(StudioId, BasisPoints, bool)> =
            db::query_as("SELECT studio_id, commission_bps, active FROM employees WHERE id = $1")
                .bind(record.employee_id)
                .fetch_optional(&mut tx)
                .await
                .map_err(db_error("looking up the employee"))?;
        let Some((studio_id, default_bps, active)) =
            employee.filter(|(studio, _, _)| caller.sees(*studio, record.employee_id))
        else {
            return Err(AppError::invalid(
                "employee_id",
                FieldProblem::UnknownEmployee {
                    id: record.employee_id,
                },
            ));
        };
        if !active {
            return Err(AppError::invalid("employee_id", FieldProblem::EmployeeLeft));
        }
        let service: Option<(StudioId, String, bool, BasisPoints)> = db::query_as(
            "SELECT studio_id, category, active, vat_rate_bps FROM services WHERE id = $1",
        )
        .bind(record.service_id)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up the service"))?;
        let Some((service_studio, category, service_active, vat_rate)) = service else {
            return Err(AppError::invalid(
                "service_id",
                FieldProblem::UnknownService {
                    id: record.service_id,
                },
            ));
        };
        if service_studio != studio_id {
            return Err(AppError::invalid(
                "service_id",
                FieldProblem::ServiceOfAnotherStudio,
            ));
        }
        if !service_active {
            return Err(AppError::invalid(
                "service_id",
                FieldProblem::ServiceRetired,
            ));
        }
        let override_bps: Option<BasisPoints> = db::query_scalar(
            "SELECT commission_bps FROM commission_overrides WHERE employee_id = $1 AND category = $2",
        )
        .bind(record.employee_id)
        .bind(&category)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up the commission rate"))?;
        let bps = override_bps.unwrap_or(default_bps);
        let id = ServiceRecordId::generate();
        db::query(
            "INSERT INTO service_records
                 (id, studio_id, employee_id, service_id, performed_on, price, tip, payment_method,
                  commission_bps, commission, vat_rate_bps, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(studio_id)
        .bind(record.employee_id)
        .bind(record.service_id)
        .bind(record.performed_on)
        .bind(record.price)
        .bind(record.tip)
        .bind(record.payment_method)
        .bind(bps)
        .bind(bps.commission_on(record.price))
        .bind(vat_rate)
        .bind(now())
        .execute(&mut tx)
        .await
        .map_err(db_error("saving the service record"))?;
        super::ledger::post_service_transfers(&mut tx, Some(id), now()).await?;
        let saved =
            db::query_as::<ServiceRecord>(&format!("{SERVICE_RECORD_SELECT} WHERE sr.id = $1"))
                .bind(id)
                .fetch_one(&mut tx)
                .await
                .map_err(db_error("reading the saved service record"))?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "service_record.register",
                entity_type: "service_record",
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
            REGISTER_SERVICE,
            key,
            201,
            &idempotency::encode(&saved)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the service record"))?;
        tracing::info!(record_id = %saved.id, amount = saved.price.0, "service registered");
        Ok(saved)
    }
}
