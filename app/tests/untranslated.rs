//! No English left in the pages' markup (issue 10: "no untranslated strings in the UI"): every
//! text a person reads comes from the translation files through `t!` / `t_string!`. This test
//! reads the source of the pages and shared components and looks inside every `view!` for
//! - text nodes written as string literals that contain words (`<h1>"Payouts"</h1>`),
//! - human-facing attributes with words (`placeholder`, `title`, `aria-label`, `alt`, and the
//!   `label` of our own components),
//! - `format!` sentences inside the markup (`{format!("{} records", n)}`).
//!
//! Punctuation, spaces, symbols and icons (`" — "`, `"⚠ "`) are fine; so are the few texts that
//! are the same in every language, listed in [`SAME_IN_EVERY_LANGUAGE`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Texts that read the same in German, French and English: the product's name, the currency,
/// code a person types as it is (a header, a command), example values (an IBAN, a URL), units and
/// protocol words, and CSS class lists built with `format!`.
const SAME_IN_EVERY_LANGUAGE: [&str; 17] = [
    "Payout Engine",
    "CHF",
    "Authorization: Bearer pe_…",
    "payout-engine user set-password --email EMAIL",
    "CH93 0076 2011 6238 5295 7",
    "CH.. .... .... .... .... .",
    "https://example.com/webhooks",
    "HTTP {s}",
    "{ms} ms",
    "state state-{}",
    "receipt receipt-{}",
    "total {}",
    "swatch {}",
    "bar {}",
    "Payout Engine — {}",
    "{} · {role}",
    "—",
];

/// Attributes whose value a person reads (or hears, with a screen reader).
const HUMAN_ATTRIBUTES: [&str; 6] = [
    "placeholder",
    "title",
    "aria-label",
    "alt",
    "label",
    "summary",
];

/// Whether `text` holds a word (two letters in a row) that is not allowed as is.
fn has_words(text: &str) -> bool {
    let trimmed = text.trim();
    if SAME_IN_EVERY_LANGUAGE.contains(&trimmed) {
        return false;
    }
    let mut run = 0;
    for ch in trimmed.chars() {
        if ch.is_alphabetic() {
            run += 1;
            if run >= 2 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// A format string's text without its `{…}` placeholders.
fn without_placeholders(format: &str) -> String {
    let mut text = String::new();
    let mut depth = 0;
    for ch in format.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            other if depth == 0 => text.push(other),
            _ => {}
        }
    }
    text
}

/// Whether a `format!` text inside the markup reads as prose: a word and a space (paths such
/// as `/payouts/{}` and ids have no spaces).
fn is_prose(format: &str) -> bool {
    let text = without_placeholders(format);
    has_words(&text) && text.contains(' ')
}

/// The value of a string literal token, if it is one.
fn string_value(literal: &proc_macro2::Literal) -> Option<String> {
    match syn::parse_str::<syn::LitStr>(&literal.to_string()) {
        Ok(lit) => Some(lit.value()),
        Err(_) => None,
    }
}

struct Finder {
    file: PathBuf,
    findings: Vec<String>,
}

impl Finder {
    fn report(&mut self, what: &str, text: &str) {
        if SAME_IN_EVERY_LANGUAGE.contains(&text) {
            return;
        }
        self.findings
            .push(format!("{}: {what} {text:?}", self.file.display()));
    }

    /// Markup tokens: text nodes and attributes; `{…}` groups are Rust code.
    fn markup(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Literal(literal) => {
                    let Some(value) = string_value(literal) else {
                        continue;
                    };
                    let after_equals = matches!(i.checked_sub(1).map(|p| &tokens[p]), Some(TokenTree::Punct(p)) if p.as_char() == '=');
                    if after_equals {
                        let name = attribute_name(&tokens[..i - 1]);
                        if HUMAN_ATTRIBUTES.contains(&name.as_str()) && has_words(&value) {
                            self.report(&format!("attribute {name}="), &value);
                        }
                    } else if has_words(&value) {
                        self.report("text", &value);
                    }
                }
                TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
                    self.code(group.stream());
                }
                // A macro call as an attribute value (`href=format!(…)`, `path=path!("/x")`).
                TokenTree::Group(group) => match macro_name(&tokens, i) {
                    Some(name) => self.macro_call(&name, group.stream()),
                    None => self.markup(group.stream()),
                },
                TokenTree::Ident(_) | TokenTree::Punct(_) => {}
            }
        }
    }

    /// The arguments of the macro `name`: `view!` is markup, a `format!` text is checked, any
    /// other macro's arguments are code.
    fn macro_call(&mut self, name: &str, arguments: TokenStream) {
        match name {
            "view" => self.markup(arguments),
            "format" => {
                if let Some(TokenTree::Literal(literal)) = arguments.clone().into_iter().next() {
                    if let Some(value) = string_value(&literal) {
                        if is_prose(&value) {
                            self.report("format!", &value);
                        }
                    }
                }
                self.code(arguments);
            }
            _ => self.code(arguments),
        }
    }

    /// Rust code inside the markup: nested `view!`s are markup again; `format!` texts are checked.
    fn code(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            let TokenTree::Group(group) = token else {
                continue;
            };
            match macro_name(&tokens, i) {
                Some(name) => self.macro_call(&name, group.stream()),
                None => self.code(group.stream()),
            }
        }
    }
}

/// The name of the macro whose arguments are `tokens[i]` (`name ! (…)`), if they are a macro's.
fn macro_name(tokens: &[TokenTree], i: usize) -> Option<String> {
    match (
        i.checked_sub(2).map(|p| &tokens[p]),
        i.checked_sub(1).map(|p| &tokens[p]),
    ) {
        (Some(TokenTree::Ident(name)), Some(TokenTree::Punct(bang))) if bang.as_char() == '!' => {
            Some(name.to_string())
        }
        _ => None,
    }
}

/// The attribute name before an `=`: `aria-label` is the tokens `aria`, `-`, `label`.
fn attribute_name(before: &[TokenTree]) -> String {
    let mut parts = Vec::new();
    let mut rest = before;
    while let Some((TokenTree::Ident(ident), earlier)) = rest.split_last() {
        parts.push(ident.to_string());
        match earlier.split_last() {
            Some((TokenTree::Punct(p), earlier)) if p.as_char() == '-' || p.as_char() == ':' => {
                parts.push(p.as_char().to_string());
                rest = earlier;
            }
            _ => break,
        }
    }
    parts.reverse();
    // `attr:title` and `prop:title` name the same attribute.
    let name = parts.concat();
    name.rsplit(':').next().unwrap_or("").to_string()
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if mac.path.is_ident("view") {
            self.markup(mac.tokens.clone());
        }
        syn::visit::visit_macro(self, mac);
    }
}

fn ui_sources() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(src.join("pages"))
        .expect("src/pages")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.push(src.join("components").join("mod.rs"));
    files.sort();
    files
}

fn findings_in(file: &Path) -> Vec<String> {
    let source =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let syntax = syn::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut finder = Finder {
        file: file.to_path_buf(),
        findings: Vec::new(),
    };
    finder.visit_file(&syntax);
    finder.findings
}

#[test]
fn the_pages_markup_has_no_untranslated_text() {
    let files = ui_sources();
    assert!(files.len() > 10, "{files:?}");
    let findings: Vec<String> = files.iter().flat_map(|file| findings_in(file)).collect();
    assert!(
        findings.is_empty(),
        "{} untranslated texts (put them in app/locales/*/<page>.json and use t!):\n{}",
        findings.len(),
        findings.join("\n")
    );
}

#[test]
fn the_check_finds_english_in_markup() {
    // The finder on a made-up page: it must be able to fail.
    let source = r#"
        fn page() -> impl IntoView {
            view! {
                <h1>"Payouts"</h1>
                <p>" — "{t!(i18n, owner.title)}</p>
                <input placeholder="Search" name="query"/>
                <ScrollTable label="Lines">{format!("{} records", n)}</ScrollTable>
                <a href=format!("/payouts/{}", id)>"→"</a>
                {move || view! { <span>"nested"</span> }}
            }
        }
    "#;
    let syntax = syn::parse_file(source).expect("parses");
    let mut finder = Finder {
        file: PathBuf::from("example.rs"),
        findings: Vec::new(),
    };
    finder.visit_file(&syntax);
    let found = finder.findings.join("\n");
    assert_eq!(finder.findings.len(), 5, "{found}");
    for text in [
        "\"Payouts\"",
        "\"Search\"",
        "\"Lines\"",
        "\"{} records\"",
        "\"nested\"",
    ] {
        assert!(found.contains(text), "{text} not found in:\n{found}");
    }
}
