//! Business days of the Swiss interbank payment system (SIC): when CHF money can move. Settlement
//! dates (`T+N`), bank-file execution dates and the settlement countdown are all counted here, in
//! one definition shared by the server and the WASM UI.
//!
//! The holidays come from a data file compiled into the binary, `app/data/ch-sic-bank-holidays.txt`,
//! whose header names its source (SIX Interbank Clearing's SIC holiday rule) and how the Easter
//! dates were computed. A business day is a Monday to Friday that is not one of those holidays.
//! Dates outside the file's years are refused ([`CalendarError::OutOfRange`]) rather than guessed:
//! a wrong settlement date is worse than a visible error, and the fix is a longer data file.
//!
//! Counting follows the market convention (QuantLib's `Calendar::advance` in days): `T+N` is the
//! N-th business day strictly after `T`, whatever day `T` is, so a card batch captured on a
//! Saturday with `T+2` settles on Tuesday.

use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The SIC holiday data file (see the module documentation for its source and format).
const SIC_HOLIDAYS: &str = include_str!("../../data/ch-sic-bank-holidays.txt");

/// Why a business-day question has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The date is outside the years the holiday data covers.
    #[error("{date} is outside the Swiss bank-holiday calendar, which covers {first_year} to {last_year}; the calendar's data file needs the missing years")]
    OutOfRange {
        /// The date asked about (or reached while counting).
        date: NaiveDate,
        /// First year covered.
        first_year: i32,
        /// Last year covered.
        last_year: i32,
    },
    /// The compiled-in data file has a line that is not `YYYY-MM-DD name`.
    #[error("the bank-holiday data file is damaged at line {line}: {text}")]
    Data {
        /// 1-based line number.
        line: usize,
        /// The line's text.
        text: String,
    },
}

/// A business-day calendar: weekends and a set of holidays over a covered range of years.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankCalendar {
    holidays: BTreeSet<NaiveDate>,
    first_year: i32,
    last_year: i32,
}

impl BankCalendar {
    /// The Swiss interbank (SIC) calendar from the compiled-in data file, parsed once.
    ///
    /// Errors: [`CalendarError::Data`] if the data file is damaged (a unit test parses it, so a
    /// release cannot ship with one).
    pub fn swiss() -> Result<&'static BankCalendar, CalendarError> {
        static SWISS: OnceLock<Result<BankCalendar, CalendarError>> = OnceLock::new();
        SWISS
            .get_or_init(|| BankCalendar::parse(SIC_HOLIDAYS))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses a holiday list: `#` comments and blank lines are skipped, every other line is
    /// `YYYY-MM-DD` followed by the holiday's name. The covered years are the first and last
    /// year that have a holiday.
    pub fn parse(text: &str) -> Result<BankCalendar, CalendarError> {
        let mut holidays = BTreeSet::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let damaged = || CalendarError::Data {
                line: index + 1,
                text: line.to_string(),
            };
            let (date, name) = line.split_once(' ').ok_or_else(damaged)?;
            if name.trim().is_empty() {
                return Err(damaged());
            }
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| damaged())?;
            holidays.insert(date);
        }
        let (Some(first), Some(last)) = (holidays.first(), holidays.last()) else {
            return Err(CalendarError::Data {
                line: 0,
                text: "no holidays listed".into(),
            });
        };
        Ok(BankCalendar {
            first_year: first.year(),
            last_year: last.year(),
            holidays,
        })
    }

    /// First and last year covered (inclusive).
    pub fn covered_years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    fn check(&self, date: NaiveDate) -> Result<(), CalendarError> {
        if date.year() < self.first_year || date.year() > self.last_year {
            return Err(CalendarError::OutOfRange {
                date,
                first_year: self.first_year,
                last_year: self.last_year,
            });
        }
        Ok(())
    }

    /// Whether money moves on `date`: Monday to Friday and not a holiday.
    ///
    /// Errors: [`CalendarError::OutOfRange`].
    pub fn is_business_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.check(date)?;
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        Ok(!weekend && !self.holidays.contains(&date))
    }

    /// The `days`-th business day strictly after `date` (`T+N`); `days = 0` gives `date` itself
    /// if it is a business day, else the next one (the execution date of something due today).
    ///
    /// Errors: [`CalendarError::OutOfRange`] when `date` or the result is outside the data.
    pub fn add_business_days(
        &self,
        date: NaiveDate,
        days: u32,
    ) -> Result<NaiveDate, CalendarError> {
        self.check(date)?;
        let mut current = date;
        if days == 0 {
            while !self.is_business_day(current)? {
                current = self.next_day(current)?;
            }
            return Ok(current);
        }
        let mut left = days;
        while left > 0 {
            current = self.next_day(current)?;
            if self.is_business_day(current)? {
                left -= 1;
            }
        }
        Ok(current)
    }

    /// Business days after `from` up to and including `to`: the countdown "arrives in N
    /// business days". 0 when `to` is `from` or earlier (due or overdue).
    ///
    /// Errors: [`CalendarError::OutOfRange`].
    pub fn business_days_until(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        self.check(from)?;
        self.check(to)?;
        let mut count = 0;
        let mut current = from;
        while current < to {
            current = self.next_day(current)?;
            if self.is_business_day(current)? {
                count += 1;
            }
        }
        Ok(count)
    }

    fn next_day(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let next = date.succ_opt().ok_or(CalendarError::OutOfRange {
            date,
            first_year: self.first_year,
            last_year: self.last_year,
        })?;
        self.check(next)?;
        Ok(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn swiss() -> &'static BankCalendar {
        BankCalendar::swiss().expect("the compiled-in data file parses")
    }

    #[test]
    fn the_data_file_covers_2020_to_2040_with_nine_sic_holidays_a_year() {
        let calendar = swiss();
        assert_eq!(calendar.covered_years(), (2020, 2040));
        for year in 2020..=2040 {
            let in_year = calendar
                .holidays
                .iter()
                .filter(|d| d.year() == year)
                .count();
            assert_eq!(in_year, 9, "{year}");
        }
    }

    #[test]
    fn easter_holidays_fall_on_the_published_dates() {
        // Easter Sunday: 2024-03-31, 2025-04-20, 2026-04-05, 2027-03-28.
        for holiday in [
            "2024-03-29",
            "2024-04-01",
            "2024-05-09",
            "2024-05-20",
            "2025-04-18",
            "2025-04-21",
            "2025-05-29",
            "2025-06-09",
            "2026-04-03",
            "2026-04-06",
            "2026-05-14",
            "2026-05-25",
            "2027-03-26",
            "2027-03-29",
            "2027-05-06",
            "2027-05-17",
        ] {
            assert!(!swiss().is_business_day(day(holiday)).unwrap(), "{holiday}");
        }
    }

    #[test]
    fn fixed_holidays_are_closed_and_cantonal_days_and_new_years_eve_are_open() {
        // 1 August 2025 is a Friday; 1 August 2026 a Saturday, and SIC has no substitute Monday.
        for closed in ["2026-01-01", "2026-01-02", "2025-08-01", "2026-12-25"] {
            assert!(!swiss().is_business_day(day(closed)).unwrap(), "{closed}");
        }
        // 1 May (a cantonal holiday), 24 and 31 December: SIC settles.
        for open in [
            "2026-05-01",
            "2026-12-24",
            "2026-12-31",
            "2026-08-03",
            "2026-12-28",
        ] {
            assert!(swiss().is_business_day(day(open)).unwrap(), "{open}");
        }
    }

    #[test]
    fn t_plus_2_skips_weekends_and_holidays() {
        let calendar = swiss();
        // Thursday -> Monday (weekend skipped).
        assert_eq!(
            calendar.add_business_days(day("2026-12-03"), 2).unwrap(),
            day("2026-12-07")
        );
        // Saturday -> Tuesday: counting starts after T whatever day T is.
        assert_eq!(
            calendar.add_business_days(day("2026-12-05"), 2).unwrap(),
            day("2026-12-08")
        );
        // Wednesday 23 Dec 2026: 24 Dec open, 25 (Fri) holiday, weekend, 28 Dec -> Monday.
        assert_eq!(
            calendar.add_business_days(day("2026-12-23"), 2).unwrap(),
            day("2026-12-28")
        );
        // Maundy Thursday 2026 (2 Apr): Good Friday, weekend, Easter Monday closed -> 8 Apr.
        assert_eq!(
            calendar.add_business_days(day("2026-04-02"), 2).unwrap(),
            day("2026-04-08")
        );
        // Across the year end: 30 Dec 2026 + 2 -> 31 Dec, then 1 and 2 Jan closed, weekend -> 4 Jan.
        assert_eq!(
            calendar.add_business_days(day("2026-12-30"), 2).unwrap(),
            day("2027-01-04")
        );
        // T+0 on a holiday rolls to the next business day; on a business day stays.
        assert_eq!(
            calendar.add_business_days(day("2026-12-25"), 0).unwrap(),
            day("2026-12-28")
        );
        assert_eq!(
            calendar.add_business_days(day("2026-12-04"), 0).unwrap(),
            day("2026-12-04")
        );
    }

    #[test]
    fn the_countdown_counts_business_days_and_never_goes_negative() {
        let calendar = swiss();
        assert_eq!(
            calendar
                .business_days_until(day("2026-12-23"), day("2026-12-28"))
                .unwrap(),
            2
        );
        assert_eq!(
            calendar
                .business_days_until(day("2026-12-04"), day("2026-12-04"))
                .unwrap(),
            0
        );
        assert_eq!(
            calendar
                .business_days_until(day("2026-12-08"), day("2026-12-04"))
                .unwrap(),
            0
        );
        for n in 0..15 {
            let start = day("2026-03-30");
            let due = calendar.add_business_days(start, n).unwrap();
            assert_eq!(calendar.business_days_until(start, due).unwrap(), n);
        }
    }

    #[test]
    fn dates_outside_the_data_are_refused_with_the_covered_years() {
        let refusal = swiss().add_business_days(day("2040-12-28"), 5).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "2041-01-01 is outside the Swiss bank-holiday calendar, which covers 2020 to 2040; the calendar's data file needs the missing years"
        );
        assert!(swiss().is_business_day(day("2019-12-31")).is_err());
    }

    #[test]
    fn a_damaged_line_is_reported_with_its_number() {
        let refusal = BankCalendar::parse("# header\n2026-01-01 New Year\n2026-13-01 Nonsense\n")
            .unwrap_err();
        assert_eq!(
            refusal,
            CalendarError::Data {
                line: 3,
                text: "2026-13-01 Nonsense".into()
            }
        );
        assert!(BankCalendar::parse("# nothing\n").is_err());
    }
}
