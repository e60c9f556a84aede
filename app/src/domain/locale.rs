//! The languages of the UI and how numbers, CHF amounts and dates read in each (issue 10).
//!
//! The studios are in Switzerland, so every language formats the Swiss way for its language:
//! German as `de-CH` (`CHF 18'080.00`, `23.11.2026`), French as `fr-CH` (`18'080,00 CHF`,
//! `23 nov. 2026`) and English as `en-CH` (`CHF 18'080.00`, `23 Nov 2026`). The patterns and
//! separators are CLDR's, through ICU4X, not written here; CLDR puts a no-break space between
//! `CHF` and the number. The data is the three locales' only (`locale_data::LocaleData`, baked
//! from ICU4X's compiled data): the compiled data of every CLDR locale made the WASM bundle
//! 2.1 times as large.
//!
//! The translations themselves live in `app/locales/{en,de,fr}/*.json` (leptos_i18n); the
//! generated `crate::i18n::Locale` converts to and from [`Language`] without a default arm, so a
//! language added to one is a compile error until it is added to the other.

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, Timelike as _, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::{BasisPoints, Rappen};

/// A language the UI is translated into. Stored per user (`users.locale`, `None`: the browser's
/// language decides) and sent in [`super::Me`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "lowercase")
)]
pub enum Language {
    /// English (`en`), formatted as `en-CH`; the default when the browser asks for none of the three.
    En,
    /// German (`de`), formatted as `de-CH`.
    De,
    /// French (`fr`), formatted as `fr-CH`.
    Fr,
}

impl Language {
    /// Every language, in the order the language menu lists them.
    pub const ALL: [Language; 3] = [Language::De, Language::Fr, Language::En];

    /// The BCP 47 language code: `en`, `de`, `fr` (the cookie's and the API's value).
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Fr => "fr",
        }
    }

    /// The language's name in itself, as a language menu shows it: `Deutsch`, `Français`, `English`.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::De => "Deutsch",
            Language::Fr => "Français",
        }
    }

    /// The language from its code (`en`, `de`, `fr`, any case); `None` for anything else.
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|language| language.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The CLDR locale its numbers and dates are formatted in: the language in Switzerland.
    fn formatting_locale(self) -> icu_locale::Locale {
        match self {
            Language::En => icu_locale::locale!("en-CH"),
            Language::De => icu_locale::locale!("de-CH"),
            Language::Fr => icu_locale::locale!("fr-CH"),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The ICU4X formatters of one language, made once per thread: loading a formatter reads and
/// checks its data, which an amount column of 200 rows should not repeat 200 times.
struct Formatters {
    currency: icu_experimental::dimension::currency::formatter::CurrencyFormatter,
    decimal: icu_decimal::DecimalFormatter,
    date: icu_datetime::FixedCalendarDateTimeFormatter<
        icu_calendar::Gregorian,
        icu_datetime::fieldsets::YMD,
    >,
    date_time: icu_datetime::FixedCalendarDateTimeFormatter<
        icu_calendar::Gregorian,
        icu_datetime::fieldsets::YMDT,
    >,
}

impl Formatters {
    /// The formatters of `language`. Errors: `LocaleData` lacks one (it has all three
    /// locales: the unit test `every_language_has_its_formatters` proves it).
    fn new(language: Language) -> Result<Formatters, String> {
        use icu_datetime::fieldsets::{YMD, YMDT};
        use icu_datetime::options::TimePrecision;
        use locale_data::LocaleData;
        let locale = language.formatting_locale();
        let failed = |what: &str, error: &dyn fmt::Display| {
            format!(
                "no {what} formatter for {}: {error}",
                language.formatting_locale()
            )
        };
        Ok(Formatters {
            currency:
                icu_experimental::dimension::currency::formatter::CurrencyFormatter::try_new_unstable(
                    &LocaleData,
                    (&locale).into(),
                    Default::default(),
                )
            .map_err(|e| failed("currency", &e))?,
            decimal: icu_decimal::DecimalFormatter::try_new_unstable(
                &LocaleData,
                (&locale).into(),
                Default::default(),
            )
            .map_err(|e| failed("number", &e))?,
            date: icu_datetime::FixedCalendarDateTimeFormatter::try_new_unstable(
                &LocaleData,
                (&locale).into(),
                YMD::medium(),
            )
            .map_err(|e| failed("date", &e))?,
            date_time: icu_datetime::FixedCalendarDateTimeFormatter::try_new_unstable(
                &LocaleData,
                (&locale).into(),
                YMDT::medium().with_time_precision(TimePrecision::Minute),
            )
            .map_err(|e| failed("date and time", &e))?,
        })
    }
}

thread_local! {
    static FORMATTERS: [Result<Formatters, String>; 3] = [
        Formatters::new(Language::En),
        Formatters::new(Language::De),
        Formatters::new(Language::Fr),
    ];
}

/// Runs `format` with the formatters of `language`, or logs why they are missing and returns
/// `fallback()` (never for the three languages; the fallback keeps an amount readable).
fn with_formatters(
    language: Language,
    format: impl FnOnce(&Formatters) -> String,
    fallback: impl FnOnce() -> String,
) -> String {
    let index = match language {
        Language::En => 0,
        Language::De => 1,
        Language::Fr => 2,
    };
    FORMATTERS.with(|all| match &all[index] {
        Ok(formatters) => format(formatters),
        Err(error) => {
            leptos::logging::error!("{error}");
            fallback()
        }
    })
}

/// `amount` as a decimal with exactly two places (Rappen are hundredths of a franc).
fn francs(amount: Rappen) -> fixed_decimal::Decimal {
    let mut decimal = fixed_decimal::Decimal::from(amount.0);
    decimal.multiply_pow10(-2);
    decimal.pad_end(-2);
    decimal
}

/// A CHF amount the way `language` writes it in Switzerland: `CHF 18'080.00` (de, en),
/// `18'080,00 CHF` (fr); negative amounts with the locale's minus sign (`-CHF 12.34`).
pub fn format_chf(language: Language, amount: Rappen) -> String {
    let code = icu_experimental::dimension::currency::CurrencyCode(tinystr::tinystr!(3, "CHF"));
    with_formatters(
        language,
        |f| {
            f.currency
                .format_fixed_decimal(&francs(amount), &code)
                .to_string()
        },
        || amount.to_string(),
    )
}

/// A count or other whole number with the locale's grouping: `1'234`.
pub fn format_count(language: Language, count: i64) -> String {
    with_formatters(
        language,
        |f| {
            f.decimal
                .format(&fixed_decimal::Decimal::from(count))
                .to_string()
        },
        || count.to_string(),
    )
}

/// A rate the way `language` writes its decimals, then a no-break space and `%`, trailing zeros
/// dropped: `42.5 %` (de, en), `42,5 %` (fr), `8.1 %`, `40 %`. The space is the Swiss
/// typographic rule for all three languages; CLDR's de-CH and en patterns have none, but the
/// studios' price lists and the federal VAT notices write one.
pub fn format_percent(language: Language, rate: BasisPoints) -> String {
    with_formatters(
        language,
        |f| {
            let mut percent = fixed_decimal::Decimal::from(rate.0);
            percent.multiply_pow10(-2);
            percent.trim_end();
            format!("{}\u{a0}%", f.decimal.format(&percent))
        },
        || rate.percent_text(),
    )
}

/// A calendar date, medium length: `23.11.2026` (de), `23 nov. 2026` (fr), `23 Nov 2026` (en).
pub fn format_date(language: Language, date: NaiveDate) -> String {
    let Ok(icu_date) =
        icu_calendar::Date::try_new_gregorian(date.year(), date.month() as u8, date.day() as u8)
    else {
        return date.to_string();
    };
    with_formatters(
        language,
        |f| f.date.format(&icu_date).to_string(),
        || date.to_string(),
    )
}

/// A moment to the minute, in UTC and saying so: `23.11.2026, 14:05 UTC` (de).
pub fn format_utc_minute(language: Language, at: DateTime<Utc>) -> String {
    format!("{} UTC", format_minute(language, at.naive_utc()))
}

/// A wall-clock moment to the minute, without a time zone (the caller says which):
/// `23.11.2026, 14:05` (de), `23 nov. 2026, 14:05` (fr).
pub fn format_minute(language: Language, at: NaiveDateTime) -> String {
    let date = at.date();
    let plain = || format!("{date} {:02}:{:02}", at.hour(), at.minute());
    let (Ok(icu_date), Ok(icu_time)) = (
        icu_calendar::Date::try_new_gregorian(date.year(), date.month() as u8, date.day() as u8),
        icu_datetime::input::Time::try_new(at.hour() as u8, at.minute() as u8, 0, 0),
    ) else {
        return plain();
    };
    let moment = icu_datetime::input::DateTime {
        date: icu_date,
        time: icu_time,
    };
    with_formatters(language, |f| f.date_time.format(&moment).to_string(), plain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn every_language_has_its_formatters() {
        for language in Language::ALL {
            if let Err(error) = Formatters::new(language) {
                panic!("{error}");
            }
        }
    }

    #[test]
    fn amounts_read_the_swiss_way_in_each_language() {
        let payout = Rappen(1_808_000);
        // The payout of the incident this product exists for, as the issue writes it (CLDR puts
        // a no-break space between the currency and the number, so they never wrap apart).
        assert_eq!(format_chf(Language::De, payout), "CHF\u{a0}18'080.00");
        assert_eq!(format_chf(Language::En, payout), "CHF\u{a0}18'080.00");
        assert_eq!(format_chf(Language::Fr, payout), "18'080,00\u{a0}CHF");
        assert_eq!(format_chf(Language::De, Rappen(5)), "CHF\u{a0}0.05");
        assert_eq!(format_chf(Language::De, Rappen(100)), "CHF\u{a0}1.00");
        assert_eq!(format_chf(Language::De, Rappen(-1_234)), "-CHF\u{a0}12.34");
    }

    #[test]
    fn dates_and_counts_follow_the_language() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(format_date(Language::De, date), "23.11.2026");
        assert_eq!(format_date(Language::Fr, date), "23 nov. 2026");
        assert_eq!(format_date(Language::En, date), "23 Nov 2026");
        assert_eq!(format_count(Language::De, 1_234_567), "1'234'567");
        assert_eq!(
            format_percent(Language::De, BasisPoints(4_250)),
            "42.5\u{a0}%"
        );
        assert_eq!(format_percent(Language::Fr, BasisPoints(810)), "8,1\u{a0}%");
        assert_eq!(
            format_percent(Language::En, BasisPoints(4_000)),
            "40\u{a0}%"
        );
        assert_eq!(
            format_percent(Language::Fr, BasisPoints(1_005)),
            "10,05\u{a0}%"
        );
        let at = date.and_hms_opt(14, 5, 59).unwrap().and_utc();
        assert_eq!(format_utc_minute(Language::De, at), "23.11.2026, 14:05 UTC");
        assert_eq!(
            format_utc_minute(Language::Fr, at),
            "23 nov. 2026, 14:05 UTC"
        );
        assert_eq!(
            format_utc_minute(Language::En, at),
            "23 Nov 2026, 14:05 UTC"
        );
        // fr-CH groups with the Swiss apostrophe too (fr-FR would use a narrow no-break space).
        assert_eq!(format_count(Language::Fr, 1_234_567), "1'234'567");
        assert_eq!(format_count(Language::En, 1_234_567), "1'234'567");
    }

    #[test]
    fn codes_round_trip() {
        for language in Language::ALL {
            assert_eq!(Language::from_code(language.code()), Some(language));
        }
        assert_eq!(Language::from_code("DE"), Some(Language::De));
        assert_eq!(Language::from_code("it"), None);
    }
}
