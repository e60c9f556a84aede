//! The owner dashboard's vocabulary, shared by the server (engine, JSON API) and the WASM page:
//! the period granularity with its calendar arithmetic, and the answer's shape.
//!
//! Units and time: every amount is an integer of Rappen (1 CHF = 100 Rappen) beside a `currency`
//! field; every date is an ISO 8601 calendar date (`YYYY-MM-DD`) of a business day in
//! Europe/Zurich, the day a service was performed (or, for payouts, the day of the work a payout
//! line pays); the one timestamp (`audited_at`) is UTC. Nothing here computes with floats: the
//! page turns amounts into bar lengths only when it draws them.

use super::error::AppError;
use super::ids::{AuditRunId, EmployeeId, StudioId};
use super::money::Rappen;
use super::problem::parse_iso_date;
use super::records::Studio;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest period one dashboard covers: a year and a day (a leap year's 366 days). Longer
/// charts would have more bars than anyone reads, and the request would scan years of records.
pub const MAX_DASHBOARD_DAYS: i64 = 366;

/// How the period is cut into chart bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// ISO weeks, Monday to Sunday (the default: a two-month period gives about nine bars).
    #[default]
    Week,
    /// Calendar months.
    Month,
}

impl Granularity {
    /// Both, in the order the page offers them.
    pub const ALL: [Granularity; 2] = [Granularity::Week, Granularity::Month];

    /// The wire name: `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// Parses a wire name (surrounding spaces and case ignored). Errors name the accepted values.
    pub fn parse(text: &str) -> Result<Granularity, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            _ => Err(format!("'{text}' is not a granularity (week or month)")),
        }
    }

    /// The first day of the week (its Monday) or month `day` falls in.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Granularity::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the week or month after the one starting on `start`; `None` past the end
    /// of the calendar.
    pub fn next_start(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Granularity::Week => start.checked_add_days(Days::new(7)),
            Granularity::Month => self.start_of(start).checked_add_months(Months::new(1)),
        }
    }

    /// The name of the week or month starting on `start`, as people and spreadsheets sort it:
    /// `2026-W36` (ISO week number of its year) or `2026-09`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Granularity::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Granularity::Month => format!("{}-{:02}", start.year(), start.month()),
        }
    }

    /// The periods covering `from..=to`, in order, each clipped to that range (the first and
    /// last week or month may be partial). Empty when `from` is after `to`.
    pub fn periods(self, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
        let mut periods = Vec::new();
        if from > to {
            return periods;
        }
        let mut start = self.start_of(from);
        while start <= to {
            let next = self.next_start(start);
            let end = next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX);
            periods.push((start.max(from), end.min(to)));
            match next {
                Some(next) => start = next,
                None => break,
            }
        }
        periods
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the dashboard is asked for. Every field is optional; see [`Dashboard`] for the defaults
/// the answer reports back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardRequest {
    /// First business day of the period (inclusive).
    pub from: Option<NaiveDate>,
    /// Last business day of the period (inclusive).
    pub to: Option<NaiveDate>,
    /// One studio; `None` for every studio the caller may see.
    pub studio_id: Option<StudioId>,
    /// Chart bars per week or per month.
    pub granularity: Option<Granularity>,
}

impl DashboardRequest {
    /// Reads the query parameters as the JSON API and the page's GET form send them (`from`,
    /// `to`, `studio_id`, `granularity`); an empty parameter is an absent one.
    ///
    /// Errors: 422 naming the parameter: a date that is not `YYYY-MM-DD`, a studio id that is
    /// not a UUID, a granularity other than `week` or `month`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        studio_id: Option<&str>,
        granularity: Option<&str>,
    ) -> Result<DashboardRequest, AppError> {
        fn given(text: Option<&str>) -> Option<&str> {
            text.map(str::trim).filter(|t| !t.is_empty())
        }
        fn date(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, AppError> {
            given(text).map(|t| parse_iso_date(field, t)).transpose()
        }
        Ok(DashboardRequest {
            from: date("from", from)?,
            to: date("to", to)?,
            studio_id: given(studio_id)
                .map(|t| StudioId::parse(t).map_err(|m| AppError::validation("studio_id", m)))
                .transpose()?,
            granularity: given(granularity)
                .map(|t| Granularity::parse(t).map_err(|m| AppError::validation("granularity", m)))
                .transpose()?,
        })
    }
}

/// The four figures the dashboard shows for an employee, a period and the whole selection, in
/// Rappen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DashboardAmounts {
    /// Services registered (not refunded): how many.
    pub services: i64,
    /// Their prices: what the clients paid for the services, tips excluded (Rappen). A refunded
    /// service counts for nothing here or below: the refund reversed its sale.
    pub revenue: Rappen,
    /// The employees' commission on those services, at the rate fixed when each was registered
    /// (Rappen).
    pub commission: Rappen,
    /// Tips given with those services, owed to the employees in full (Rappen).
    pub tips: Rappen,
    /// What committed payouts paid for the work of these days: the sum of their lines dated in
    /// the period, i.e. commission and tips plus guaranteed-minimum top-ups minus deductions such
    /// as chair rent (Rappen). A payout covering a longer period counts here with the lines of
    /// the days inside it. Pending, failed and cancelled payouts count for nothing.
    pub payouts: Rappen,
}

impl DashboardAmounts {
    /// Adds `other` into `self`.
    ///
    /// Errors: the name of the figure whose sum would not fit in an `i64` (never with real
    /// amounts: that is 92 quadrillion francs).
    pub fn add(&mut self, other: &DashboardAmounts) -> Result<(), &'static str> {
        fn sum(a: i64, b: i64, what: &'static str) -> Result<i64, &'static str> {
            a.checked_add(b).ok_or(what)
        }
        self.services = sum(self.services, other.services, "services")?;
        self.revenue = Rappen(sum(self.revenue.0, other.revenue.0, "revenue")?);
        self.commission = Rappen(sum(self.commission.0, other.commission.0, "commission")?);
        self.tips = Rappen(sum(self.tips.0, other.tips.0, "tips")?);
        self.payouts = Rappen(sum(self.payouts.0, other.payouts.0, "payouts")?);
        Ok(())
    }

    /// Whether every figure is zero (an inactive employee without any is left out).
    pub fn is_zero(&self) -> bool {
        *self == DashboardAmounts::default()
    }
}

/// One employee's figures over the whole period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EmployeeAmounts {
    /// The employee.
    pub employee_id: EmployeeId,
    /// Their name.
    pub employee_name: String,
    /// Their studio.
    pub studio_id: StudioId,
    /// That studio's name.
    pub studio_name: String,
    /// Their figures.
    pub amounts: DashboardAmounts,
}

/// One week's or month's figures over the selected employees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PeriodAmounts {
    /// `2026-W36` (ISO week) or `2026-09` (month).
    pub label: String,
    /// First day counted: the Monday or the 1st, or the period's `from` when that is later
    /// (YYYY-MM-DD, Europe/Zurich).
    pub start: NaiveDate,
    /// Last day counted: the Sunday or the month's last day, or the period's `to` when that is
    /// earlier (YYYY-MM-DD, Europe/Zurich).
    pub end: NaiveDate,
    /// The figures.
    pub amounts: DashboardAmounts,
}

/// What needs the owner, shown above the charts. Payouts are counted like the red banner counts
/// them, in the selected studios; audit findings are the whole business's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DashboardAttention {
    /// Payouts that failed and wait to be finished or cancelled.
    pub failed_payouts: i64,
    /// Payouts still pending past their grace period (interrupted), waiting to be finished.
    pub pending_payouts: i64,
    /// Findings of the latest completed audit run (0 when it was clean or none has run): what
    /// is wrong in the books right now, as far as the last audit saw.
    pub open_audit_findings: i64,
    /// That run, if any audit has completed.
    pub audit_run_id: Option<AuditRunId>,
    /// When that run started (UTC).
    pub audited_at: Option<DateTime<Utc>>,
}

/// The owner dashboard (`GET /api/v1/dashboard`): revenue, commission, tips and payouts of a
/// period per employee and per week or month, with their totals and what needs the owner.
///
/// The totals equal the sum of the employees' figures and the sum of the periods' figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// First business day covered (YYYY-MM-DD, Europe/Zurich). Default: the 1st of the month
    /// before the one `to` falls in.
    pub from: NaiveDate,
    /// Last business day covered (YYYY-MM-DD, Europe/Zurich). Default: the latest day with a
    /// registered service in the selected studios, else today.
    pub to: NaiveDate,
    /// The selected studio; absent for every studio the caller may see.
    pub studio_id: Option<StudioId>,
    /// Every studio the caller may see (the page's studio choices), by name.
    pub studios: Vec<Studio>,
    /// How the periods are cut (default `week`).
    pub granularity: Granularity,
    /// Always `CHF`.
    pub currency: String,
    /// The whole selection.
    pub totals: DashboardAmounts,
    /// Per employee of the selected studios, by studio and name: the active ones, and inactive
    /// ones with figures in the period.
    pub employees: Vec<EmployeeAmounts>,
    /// Per week or month, in order, every one of the period (empty ones included).
    pub periods: Vec<PeriodAmounts>,
    /// Failed and interrupted payouts and open audit findings.
    pub attention: DashboardAttention,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-09-30 is a Wednesday; 2026-10-04 a Sunday.
        assert_eq!(
            Granularity::Week.start_of(day("2026-09-30")),
            day("2026-09-28")
        );
        assert_eq!(
            Granularity::Week.start_of(day("2026-10-04")),
            day("2026-09-28")
        );
        assert_eq!(
            Granularity::Week.start_of(day("2026-09-28")),
            day("2026-09-28")
        );
        assert_eq!(
            Granularity::Month.start_of(day("2026-09-30")),
            day("2026-09-01")
        );
        assert_eq!(Granularity::Week.label(day("2026-09-28")), "2026-W40");
        assert_eq!(Granularity::Month.label(day("2026-09-01")), "2026-09");
        // ISO week years: 2027-01-01 (a Friday) belongs to 2026's week 53.
        assert_eq!(
            Granularity::Week.label(Granularity::Week.start_of(day("2027-01-01"))),
            "2026-W53"
        );
    }

    #[test]
    fn a_week_across_a_month_end_is_one_period_by_week_and_two_by_month() {
        let by_week = Granularity::Week.periods(day("2026-09-28"), day("2026-10-04"));
        assert_eq!(by_week, vec![(day("2026-09-28"), day("2026-10-04"))]);
        let by_month = Granularity::Month.periods(day("2026-09-28"), day("2026-10-04"));
        assert_eq!(
            by_month,
            vec![
                (day("2026-09-28"), day("2026-09-30")),
                (day("2026-10-01"), day("2026-10-04"))
            ]
        );
    }

    #[test]
    fn the_first_and_last_periods_are_clipped_to_the_range() {
        let periods = Granularity::Week.periods(day("2026-09-01"), day("2026-10-30"));
        assert_eq!(periods.len(), 9);
        assert_eq!(periods[0], (day("2026-09-01"), day("2026-09-06")));
        assert_eq!(periods[8], (day("2026-10-26"), day("2026-10-30")));
        // Contiguous: each period starts the day after the previous one ends.
        for pair in periods.windows(2) {
            assert_eq!(pair[0].1.succ_opt(), Some(pair[1].0));
        }
        assert!(Granularity::Month
            .periods(day("2026-10-02"), day("2026-10-01"))
            .is_empty());
    }

    #[test]
    fn granularities_read_back_from_their_names() {
        for granularity in Granularity::ALL {
            assert_eq!(Granularity::parse(granularity.as_str()), Ok(granularity));
        }
        assert_eq!(Granularity::parse(" Month "), Ok(Granularity::Month));
        assert!(Granularity::parse("day").is_err());
    }

    #[test]
    fn query_parameters_are_read_and_malformed_ones_are_named() {
        let request = DashboardRequest::parse(Some("2026-09-01"), Some(""), None, Some("month"));
        assert_eq!(
            request,
            Ok(DashboardRequest {
                from: Some(day("2026-09-01")),
                to: None,
                studio_id: None,
                granularity: Some(Granularity::Month),
            })
        );
        for (from, to, studio, granularity, field) in [
            (Some("2026-13-01"), None, None, None, "from"),
            (None, Some("01.10.2026"), None, None, "to"),
            (None, None, Some("zurich"), None, "studio_id"),
            (None, None, None, Some("day"), "granularity"),
        ] {
            let refused = DashboardRequest::parse(from, to, studio, granularity);
            assert_eq!(
                refused.as_ref().err().and_then(AppError::field),
                Some(field),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn amounts_add_up_and_refuse_to_overflow() {
        let mut total = DashboardAmounts::default();
        let one = DashboardAmounts {
            services: 1,
            revenue: Rappen(9_500),
            commission: Rappen(4_750),
            tips: Rappen(500),
            payouts: Rappen(5_250),
        };
        assert_eq!(total.add(&one), Ok(()));
        assert_eq!(total.add(&one), Ok(()));
        assert_eq!(total.revenue, Rappen(19_000));
        assert_eq!(total.services, 2);
        let huge = DashboardAmounts {
            revenue: Rappen(i64::MAX),
            ..DashboardAmounts::default()
        };
        assert_eq!(total.add(&huge), Err("revenue"));
    }
}
