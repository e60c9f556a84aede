//! The owner dashboard: revenue, commission, tips and payouts of a period, per employee and per
//! week or month, and what needs the owner (failed and interrupted payouts, open audit findings).
//!
//! It only reads. The sums are set-based: one `GROUP BY employee, week-or-month` over the service
//! records and one over the lines of committed payouts, both scoped to the caller's studios in
//! SQL; the few hundred grouped rows are then folded into per-employee and per-period figures
//! here, so the totals, the employees' figures and the periods' figures come from the same rows
//! and always agree. It must never count a refunded service or a payout that is not committed.

use super::access::{studio_condition, Caller};
use super::catalog::earliest_service_date;
use super::db;
use super::payouts::needs_attention_condition;
use super::{db_error, today, Engine};
use crate::domain::*;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};

/// One employee's service records in one week or month.
#[derive(sqlx::FromRow)]
struct ServiceCell {
    employee_id: EmployeeId,
    period_start: NaiveDate,
    services: i64,
    revenue: i64,
    commission: i64,
    tips: i64,
}

/// What committed payouts paid one employee for the work of one week or month.
#[derive(sqlx::FromRow)]
struct PayoutCell {
    employee_id: EmployeeId,
    period_start: NaiveDate,
    payouts: i64,
}

/// An employee who may appear on the dashboard.
#[derive(sqlx::FromRow)]
struct EmployeeRow {
    id: EmployeeId,
    name: String,
    studio_id: StudioId,
    studio_name: String,
    active: bool,
}

/// A request with its defaults applied and checked.
struct Selection {
    from: NaiveDate,
    to: NaiveDate,
    studio: Option<StudioId>,
    granularity: Granularity,
}

impl Engine {
    /// The owner dashboard for `request` (see [`Dashboard`] for the figures and the defaults).
    ///
    /// Errors: 403 unless the caller may read the dashboard, or when `studio_id` is not one of
    /// the caller's studios; 422 naming `from` or `to` when `from` is after `to`, the period is
    /// longer than [`MAX_DASHBOARD_DAYS`], or a date is before 2000; 503/500 when the database
    /// fails.
    #[tracing::instrument(skip_all, fields(actor = %caller.actor()))]
    pub async fn dashboard(
        &self,
        caller: &Caller,
        request: &DashboardRequest,
    ) -> Result<Dashboard, AppError> {
        match request.studio_id {
            Some(studio) => caller.require_studio(Permission::ReadDashboard, studio)?,
            None => caller.require(Permission::ReadDashboard)?,
        }
        let selection = self.selection(caller, request).await?;
        let studios = self.dashboard_studios(caller).await?;
        let employees = self.dashboard_employees(caller).await?;

        let mut cells: BTreeMap<(EmployeeId, NaiveDate), DashboardAmounts> = BTreeMap::new();
        for cell in self.service_cells(caller, &selection).await? {
            let amounts = cells
                .entry((cell.employee_id, cell.period_start))
                .or_default();
            amounts.services = cell.services;
            amounts.revenue = Rappen(cell.revenue);
            amounts.commission = Rappen(cell.commission);
            amounts.tips = Rappen(cell.tips);
        }
        for cell in self.payout_cells(caller, &selection).await? {
            cells
                .entry((cell.employee_id, cell.period_start))
                .or_default()
                .payouts = Rappen(cell.payouts);
        }

        let mut periods: Vec<PeriodAmounts> = selection
            .granularity
            .periods(selection.from, selection.to)
            .into_iter()
            .map(|(start, end)| PeriodAmounts {
                label: selection
                    .granularity
                    .label(selection.granularity.start_of(start)),
                start,
                end,
                amounts: DashboardAmounts::default(),
            })
            .collect();
        let period_index: HashMap<NaiveDate, usize> = periods
            .iter()
            .enumerate()
            .map(|(index, period)| (selection.granularity.start_of(period.start), index))
            .collect();
        let mut per_employee: HashMap<EmployeeId, DashboardAmounts> = HashMap::new();
        let mut totals = DashboardAmounts::default();
        for ((employee, period_start), amounts) in &cells {
            let Some(index) = period_index.get(period_start) else {
                tracing::error!(%period_start, granularity = %selection.granularity,
                    "the database grouped a day into a week or month the dashboard does not have");
                return Err(AppError::Internal {
                    message: "the dashboard's weeks or months do not match the database's; it is logged on the server".into(),
                });
            };
            let period = periods.get_mut(*index).map(|p| &mut p.amounts);
            for target in [
                period,
                Some(per_employee.entry(*employee).or_default()),
                Some(&mut totals),
            ]
            .into_iter()
            .flatten()
            {
                target.add(amounts).map_err(overflow)?;
            }
        }

        let mut listed = Vec::new();
        for row in employees {
            let amounts = per_employee.remove(&row.id).unwrap_or_default();
            let selected = selection
                .studio
                .is_none_or(|studio| studio == row.studio_id);
            if (row.active && selected) || !amounts.is_zero() {
                listed.push(EmployeeAmounts {
                    employee_id: row.id,
                    employee_name: row.name,
                    studio_id: row.studio_id,
                    studio_name: row.studio_name,
                    amounts,
                });
            }
        }
        if !per_employee.is_empty() {
            tracing::error!(
                missing = per_employee.len(),
                "the dashboard has figures of employees it cannot name"
            );
            return Err(AppError::Internal {
                message:
                    "the dashboard found figures of an unknown employee; it is logged on the server"
                        .into(),
            });
        }

        let attention = self.dashboard_attention(caller, &selection).await?;
        Ok(Dashboard {
            from: selection.from,
            to: selection.to,
            studio_id: selection.studio,
            studios,
            granularity: selection.granularity,
            currency: CURRENCY.to_string(),
            totals,
            employees: listed,
            periods,
            attention,
        })
    }

    /// Applies the defaults and checks the period.
    async fn selection(
        &self,
        caller: &Caller,
        request: &DashboardRequest,
    ) -> Result<Selection, AppError> {
        let to = match request.to {
            Some(to) => to,
            None => self
                .latest_service_day(caller, request.studio_id)
                .await?
                .unwrap_or_else(today),
        };
        let from = match request.from {
            Some(from) => from,
            // The 1st of the month before `to`'s: last month and this month so far.
            None => to
                .with_day(1)
                .and_then(|first| first.checked_sub_months(Months::new(1)))
                .unwrap_or(to),
        };
        for (field, date) in [("from", from), ("to", to)] {
            if date < earliest_service_date() {
                return Err(AppError::invalid(
                    field,
                    FieldProblem::TooFarInPast { date },
                ));
            }
        }
        if from > to {
            return Err(AppError::invalid(
                "from",
                FieldProblem::EndsBeforeStart {
                    start: from,
                    end: to,
                },
            ));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_DASHBOARD_DAYS {
            return Err(AppError::invalid(
                "to",
                FieldProblem::PeriodTooLong {
                    days,
                    max_days: MAX_DASHBOARD_DAYS,
                },
            ));
        }
        Ok(Selection {
            from,
            to,
            studio: request.studio_id,
            granularity: request.granularity.unwrap_or_default(),
        })
    }

    /// The latest day with a registered service in `studio` (or every studio of the caller), by
    /// asking each employee's newest record (an index lookup each, not a scan of every record).
    async fn latest_service_day(
        &self,
        caller: &Caller,
        studio: Option<StudioId>,
    ) -> Result<Option<NaiveDate>, AppError> {
        let sql = format!(
            "SELECT MAX((SELECT MAX(sr.performed_on) FROM service_records sr
                         WHERE sr.employee_id = e.id
                           AND ($1 IS NULL OR sr.studio_id = $1) AND {}))
             FROM employees e",
            studio_condition(self.backend(), "sr.studio_id", 2)
        );
        db::query_scalar::<Option<NaiveDate>>(&sql)
            .bind(studio)
            .bind(caller.studio_filter())
            .fetch_one(self.pool())
            .await
            .map_err(db_error("finding the latest day with a service"))
    }

    /// Every studio the caller may see, by name.
    async fn dashboard_studios(&self, caller: &Caller) -> Result<Vec<Studio>, AppError> {
        let sql = format!(
            "SELECT s.id, s.name FROM studios s WHERE {} ORDER BY s.name",
            studio_condition(self.backend(), "s.id", 1)
        );
        db::query_as::<Studio>(&sql)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("listing the dashboard's studios"))
    }

    /// Every employee of the caller's studios, by studio and name (the dashboard picks those of
    /// the selection, and any other with figures in it).
    async fn dashboard_employees(&self, caller: &Caller) -> Result<Vec<EmployeeRow>, AppError> {
        let sql = format!(
            "SELECT e.id, e.name, e.studio_id, s.name AS studio_name, e.active
             FROM employees e JOIN studios s ON s.id = e.studio_id
             WHERE {}
             ORDER BY s.name, e.name, e.id",
            studio_condition(self.backend(), "e.studio_id", 1)
        );
        db::query_as::<EmployeeRow>(&sql)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("listing the dashboard's employees"))
    }

    /// Services registered (and not refunded) in the period, summed per employee and week or
    /// month. Driven from the employees so each one's records are read through the
    /// `(employee_id, performed_on)` index.
    async fn service_cells(
        &self,
        caller: &Caller,
        selection: &Selection,
    ) -> Result<Vec<ServiceCell>, AppError> {
        let backend = self.backend();
        let sql = format!(
            "SELECT sr.employee_id, {} AS period_start, COUNT(*) AS services,
                    CAST(SUM(sr.price) AS BIGINT) AS revenue,
                    CAST(SUM(sr.commission) AS BIGINT) AS commission,
                    CAST(SUM(sr.tip) AS BIGINT) AS tips
             FROM employees e
             JOIN service_records sr ON sr.employee_id = e.id
             WHERE sr.performed_on >= $1 AND sr.performed_on <= $2 AND sr.refunded_at IS NULL
               AND ($3 IS NULL OR sr.studio_id = $3) AND {}
             GROUP BY 1, 2",
            backend.period_start_of("sr.performed_on", selection.granularity),
            studio_condition(backend, "sr.studio_id", 4)
        );
        db::query_as::<ServiceCell>(&sql)
            .bind(selection.from)
            .bind(selection.to)
            .bind(selection.studio)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("summing the dashboard's services"))
    }

    /// The lines of committed payouts dated in the period (the days of the work they pay),
    /// summed per employee and week or month. A line lies inside its payout's period, so only
    /// payouts overlapping the selection are read.
    async fn payout_cells(
        &self,
        caller: &Caller,
        selection: &Selection,
    ) -> Result<Vec<PayoutCell>, AppError> {
        let backend = self.backend();
        let sql = format!(
            "SELECT p.employee_id, {} AS period_start, CAST(SUM(pl.amount) AS BIGINT) AS payouts
             FROM payouts p
             JOIN payout_lines pl ON pl.payout_id = p.id
             WHERE p.state = 'committed' AND NOT pl.released
               AND p.period_start <= $2 AND p.period_end >= $1
               AND pl.on_date >= $1 AND pl.on_date <= $2
               AND ($3 IS NULL OR p.studio_id = $3) AND {}
             GROUP BY 1, 2",
            backend.period_start_of("pl.on_date", selection.granularity),
            studio_condition(backend, "p.studio_id", 4)
        );
        db::query_as::<PayoutCell>(&sql)
            .bind(selection.from)
            .bind(selection.to)
            .bind(selection.studio)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("summing the dashboard's payouts"))
    }

    /// Failed and interrupted payouts of the selected studios, counted by the red banner's rule,
    /// and the findings of the latest completed audit run.
    async fn dashboard_attention(
        &self,
        caller: &Caller,
        selection: &Selection,
    ) -> Result<DashboardAttention, AppError> {
        let sql = format!(
            "SELECT p.state, COUNT(*) FROM payouts p
             WHERE {} AND ($2 IS NULL OR p.studio_id = $2) AND {}
             GROUP BY p.state",
            needs_attention_condition("p", 1),
            studio_condition(self.backend(), "p.studio_id", 3)
        );
        let counts: Vec<(PayoutState, i64)> = db::query_as(&sql)
            .bind(self.attention_cutoff())
            .bind(selection.studio)
            .bind(caller.studio_filter())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("counting the payouts needing attention"))?;
        let mut attention = DashboardAttention::default();
        for (state, count) in counts {
            match state {
                PayoutState::Failed => attention.failed_payouts = count,
                PayoutState::Pending => attention.pending_payouts = count,
                // Never matched by the condition.
                PayoutState::Committed | PayoutState::Cancelled => {}
            }
        }
        let latest: Option<(AuditRunId, DateTime<Utc>, i64)> = db::query_as(
            "SELECT id, started_at, finding_count FROM audit_runs
             WHERE status IN ('clean', 'findings')
             ORDER BY started_at DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("reading the latest audit run"))?;
        if let Some((run, started_at, findings)) = latest {
            attention.open_audit_findings = findings;
            attention.audit_run_id = Some(run);
            attention.audited_at = Some(started_at);
        }
        Ok(attention)
    }
}

/// A figure whose sum does not fit in an `i64` (never with real amounts), as a logged 500.
fn overflow(figure: &'static str) -> AppError {
    tracing::error!(figure, "a dashboard sum overflows i64");
    AppError::Internal {
        message: format!(
            "the dashboard's {figure} do not fit in a number; it is logged on the server"
        ),
    }
}
