//! Bakes the CLDR formatting data that `app::domain::locale` needs (CHF amounts, numbers and
//! Gregorian dates with times, for de-CH, fr-CH and en-CH) into `app/locale-data/src/baked/`.
//!
//! Why: ICU4X's `compiled_data` holds every CLDR locale. A formatter built with it links the data
//! of all ~1,500 locales into the WASM bundle, because the locale is only known at run time; the
//! currency data alone is 379 KB. The three Swiss locales are a few KB.
//!
//! Run it when the ICU4X crates are upgraded (the baked files name their types, so a mismatch
//! fails the build rather than formatting wrongly):
//! `cargo run -p locale-data-export -- app/locale-data/src/baked`

extern crate alloc;

use icu_provider::export::{make_exportable_provider, ExportableProvider};
use icu_provider::DataMarker;
use icu_provider_export::baked_exporter::{BakedExporter, Options};
use icu_provider_export::prelude::{
    DataLocaleFamily, DeduplicationStrategy, ExportDriver, LocaleFallbacker,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// ICU4X's compiled data, made iterable so the export driver can list what it holds.
struct CompiledData;

#[allow(unused_imports)]
const _: () = {
    use icu_datetime_data::*;
    use icu_decimal_data::*;
    use icu_experimental_data::*;
    pub mod icu {
        pub use icu_datetime as datetime;
        pub use icu_decimal as decimal;
        pub use icu_experimental as experimental;
        pub use icu_locale as locale;
    }
    icu_datetime_data::make_provider!(CompiledData);
    impl_datetime_patterns_date_gregorian_v1!(CompiledData, ITER);
    impl_datetime_patterns_time_v1!(CompiledData, ITER);
    impl_datetime_patterns_glue_v1!(CompiledData, ITER);
    impl_datetime_names_year_gregorian_v1!(CompiledData, ITER);
    impl_datetime_names_month_gregorian_v1!(CompiledData, ITER);
    impl_datetime_names_weekday_v1!(CompiledData, ITER);
    impl_datetime_names_dayperiod_v1!(CompiledData, ITER);
    impl_decimal_symbols_v1!(CompiledData, ITER);
    impl_decimal_digits_v1!(CompiledData, ITER);
    impl_currency_essentials_v1!(CompiledData, ITER);
};

make_exportable_provider!(
    CompiledData,
    [
        icu_datetime::provider::semantic_skeletons::DatetimePatternsDateGregorianV1,
        icu_datetime::provider::semantic_skeletons::DatetimePatternsTimeV1,
        icu_datetime::provider::semantic_skeletons::DatetimePatternsGlueV1,
        icu_datetime::provider::names::DatetimeNamesYearGregorianV1,
        icu_datetime::provider::names::DatetimeNamesMonthGregorianV1,
        icu_datetime::provider::names::DatetimeNamesWeekdayV1,
        icu_datetime::provider::names::DatetimeNamesDayperiodV1,
        icu_decimal::provider::DecimalSymbolsV1,
        icu_decimal::provider::DecimalDigitsV1,
        icu_experimental::dimension::provider::currency::essentials::CurrencyEssentialsV1,
    ]
);

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: locale-data-export <directory for the baked data>");
        return ExitCode::FAILURE;
    };
    let mut options = Options::default();
    // Run-time fallback stays on (de-CH → de → und, en-CH → en-150 → en-001 → en): CLDR
    // stores a pattern once, at the most general locale that has it (fr-CH's hour-cycle time
    // pattern is und's), and the export keeps that shape. Its data is ICU4X's compiled
    // likely-subtags and parents tables, a few KB.
    options.use_internal_fallback = true;
    options.use_separate_crates = true;
    options.overwrite = true;
    options.pretty = true;
    let exporter = match BakedExporter::new(out.clone(), options) {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("cannot write baked data to {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
    };
    let locales = ["de-CH", "fr-CH", "en-CH"].map(|locale| {
        locale
            .parse::<DataLocaleFamily>()
            .map_err(|error| format!("{locale}: {error}"))
    });
    let mut families = Vec::new();
    for locale in locales {
        match locale {
            Ok(family) => families.push(family),
            Err(error) => {
                eprintln!("bad locale family {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    let fallbacker = LocaleFallbacker::new().static_to_owned();
    let result = ExportDriver::new(families, DeduplicationStrategy::Maximal.into(), fallbacker)
        .with_markers(CompiledData.supported_markers())
        .export(&CompiledData, exporter);
    match result {
        Ok(_) => {
            println!("baked data written to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("export failed: {error}");
            ExitCode::FAILURE
        }
    }
}
