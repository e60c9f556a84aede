//! Generates the `i18n` module from the translation files in `locales/` (leptos_i18n): one JSON
//! file per locale and namespace (a page, or `common` for the shell and shared components). A key
//! missing from a locale, or present in one only, is a build warning that `clippy -D warnings`
//! and the key-set test (`app/tests/locales.rs`) turn into a failure.

use leptos_i18n_build::options::CodegenOptions;
use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::error::Error;
use std::path::PathBuf;

/// The namespaces, one per page plus `common` (the shell, the sign-in page and the shared
/// components), `slip` (the payout slip's PDF, written on the server) and `problem` (the server's
/// refusals, worded from their data); each has a file per locale.
const NAMESPACES: [&str; 16] = [
    "common",
    "reception",
    "till",
    "dashboard",
    "owner",
    "payout",
    "employee",
    "payments",
    "settlements",
    "exports",
    "audits",
    "webhooks",
    "live",
    "settings",
    "slip",
    "problem",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    let out_dir = std::env::var_os("OUT_DIR").ok_or("cargo did not set OUT_DIR")?;
    let i18n_mod_directory = PathBuf::from(out_dir).join("i18n");
    // English first: the default when neither the user, the cookie nor Accept-Language names
    // one of the three.
    let config = Config::new("en")?
        .add_locale("de")?
        .add_locale("fr")?
        .add_namespaces(NAMESPACES)?
        .parse_options(ParseOptions::default().interpolate_display(true));
    let translations = TranslationsInfos::parse(config)?;
    translations.emit_diagnostics();
    translations.rerun_if_locales_changed();
    let attributes = "#![allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::wildcard_enum_match_arm)]".parse()?;
    translations.generate_i18n_module_with_options(
        i18n_mod_directory,
        CodegenOptions::default()
            .top_level_attributes(Some(attributes))
            .gen_docs(false),
    )?;
    Ok(())
}
