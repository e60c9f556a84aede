//! The translations are complete (issue 10: "no untranslated strings in the UI; a test checks
//! the key sets"): every namespace has a file per language, and every file of a namespace has
//! the same keys, none empty, with the same `{{ variables }}`. Plural forms (`_one`, `_other`, …)
//! count as one key, since each language has its own plural categories (CLDR), and each must
//! have `_other`, the form every language falls back to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LANGUAGES: [&str; 3] = ["en", "de", "fr"];
const PLURAL_SUFFIXES: [&str; 6] = ["_zero", "_one", "_two", "_few", "_many", "_other"];

fn locales_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")
}

/// The namespaces (file stems) of one language.
fn namespaces(language: &str) -> BTreeSet<String> {
    std::fs::read_dir(locales_dir().join(language))
        .unwrap_or_else(|e| panic!("locales/{language}: {e}"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Every key of a translation file (dotted, plural suffix removed) with its texts.
fn keys(language: &str, namespace: &str) -> BTreeMap<String, Vec<String>> {
    let path = locales_dir()
        .join(language)
        .join(format!("{namespace}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut flat = BTreeMap::new();
    flatten("", &json, &mut flat, &path);
    flat
}

fn flatten(prefix: &str, value: &Value, into: &mut BTreeMap<String, Vec<String>>, path: &Path) {
    match value {
        Value::Object(entries) => {
            for (key, value) in entries {
                let dotted = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&dotted, value, into, path);
            }
        }
        Value::String(text) => {
            assert!(
                !text.trim().is_empty(),
                "{}: '{prefix}' is empty",
                path.display()
            );
            into.entry(prefix.to_string())
                .or_default()
                .push(text.clone());
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) => {
            panic!("{}: '{prefix}' is not a text", path.display())
        }
    }
}

/// `key` without its plural suffix, and whether it had one.
fn base_key(key: &str) -> (String, Option<&'static str>) {
    for suffix in PLURAL_SUFFIXES {
        if let Some(base) = key.strip_suffix(suffix) {
            return (base.to_string(), Some(suffix));
        }
    }
    (key.to_string(), None)
}

/// The `{{ name }}` variables of a text (the name before any `, formatter`).
fn variables(text: &str) -> BTreeSet<String> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}"))
        .map(|(inside, _)| inside.split(',').next().unwrap_or("").trim().to_string())
        .collect()
}

/// Per base key: the variables of all its forms, and its plural suffixes.
type Entries = BTreeMap<String, (BTreeSet<String>, BTreeSet<&'static str>)>;

fn entries(language: &str, namespace: &str) -> Entries {
    let mut entries = Entries::new();
    for (key, texts) in keys(language, namespace) {
        let (base, suffix) = base_key(&key);
        let entry = entries.entry(base).or_default();
        for text in texts {
            entry.0.extend(variables(&text));
        }
        entry.1.extend(suffix);
    }
    entries
}

#[test]
fn every_language_has_every_namespace() {
    let english = namespaces("en");
    assert!(english.contains("common"), "{english:?}");
    for language in LANGUAGES {
        assert_eq!(
            namespaces(language),
            english,
            "namespaces of {language} vs en"
        );
    }
}

#[test]
fn every_language_has_the_same_keys_and_variables() {
    let mut problems = Vec::new();
    for namespace in namespaces("en") {
        let english = entries("en", &namespace);
        assert!(!english.is_empty(), "{namespace}.json (en) has no keys");
        for language in LANGUAGES {
            let other = entries(language, &namespace);
            for key in english.keys().filter(|k| !other.contains_key(*k)) {
                problems.push(format!("{language}/{namespace}.json lacks '{key}'"));
            }
            for key in other.keys().filter(|k| !english.contains_key(*k)) {
                problems.push(format!(
                    "{language}/{namespace}.json has '{key}', en has not"
                ));
            }
            for (key, (vars, suffixes)) in &other {
                if let Some((english_vars, _)) = english.get(key) {
                    // A plural key is always given `count`; a language may or may not print it
                    // ("Eine Auszahlung" / "1 payout").
                    let without_count = |set: &BTreeSet<String>| -> BTreeSet<String> {
                        set.iter()
                            .filter(|v| suffixes.is_empty() || *v != "count")
                            .cloned()
                            .collect()
                    };
                    if without_count(vars) != without_count(english_vars) {
                        problems.push(format!(
                            "{language}/{namespace}.json '{key}' uses {vars:?}, en {english_vars:?}"
                        ));
                    }
                }
                if !suffixes.is_empty() && !suffixes.contains("_other") {
                    problems.push(format!("{language}/{namespace}.json '{key}' lacks _other"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_notices_a_missing_key_and_a_changed_variable() {
    // The comparison itself, on made-up entries: the test above must be able to fail.
    let english: Entries = [(
        "banner.title".to_string(),
        (
            BTreeSet::from(["count".to_string()]),
            BTreeSet::from(["_one", "_other"]),
        ),
    )]
    .into();
    let german: Entries = [(
        "banner.title".to_string(),
        (
            BTreeSet::from(["anzahl".to_string()]),
            BTreeSet::from(["_one"]),
        ),
    )]
    .into();
    assert_ne!(
        english.get("banner.title").map(|e| &e.0),
        german.get("banner.title").map(|e| &e.0)
    );
    assert!(!german["banner.title"].1.contains("_other"));
    assert_eq!(
        variables("{{ done }} of {{ expected, number }}"),
        BTreeSet::from(["done".into(), "expected".into()])
    );
    assert_eq!(
        base_key("title_other"),
        ("title".to_string(), Some("_other"))
    );
}
