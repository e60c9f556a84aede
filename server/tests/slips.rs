//! Payout slips (issue 10), through the JSON API on the demo data: the PDF of a committed payout
//! carries the studio, the employee (umlauts intact), the period, every line's commission
//! formula, the deductions, the masked IBAN with the transfer's reference and the total exactly
//! as the API reports it, with page numbers over several pages for a long payout; the text is
//! read back with `pdftotext` (poppler-utils; `scripts/bootstrap.sh` installs it). Owners and the
//! employee paid download it; receptionists do not; a payout that is not committed has none.
//! Runs on SQLite, and on PostgreSQL with PAYOUT_ENGINE_TEST_DATABASE=postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::locale::{format_chf, format_date};
use app::domain::{
    ApiKeyRequest, ApiScope, BasisPoints, DayRecordRequest, EmployeeId, Language, PayoutPhase,
    Rappen, Role, ServiceRecordRequest, StudioId,
};
use app::engine::access::Caller;
use app::engine::db;
use app::engine::idempotency::IdempotencyKey;
use chrono::NaiveDate;
use common::*;
use serde_json::{json, Value};

const LARA_LOGIN: (&str, &str) = ("lara@demo.test", "employee-demo");
const RECEPTION_ZURICH: (&str, &str) = ("reception@demo.test", "reception-demo");
/// Lara's IBAN in the demo data, and how a slip shows it.
const LARA_IBAN: &str = "CH0300700110000123456";
const LARA_IBAN_MASKED: &str = "CH03 **** **** **** *456";

/// The text of a PDF as `pdftotext` extracts it, pages separated by form feeds.
fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("slip-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        // Layout mode keeps each table row on one line, as printed.
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt install poppler-utils; scripts/bootstrap.sh installs it)");
    std::fs::remove_file(&path).unwrap();
    assert!(
        output.status.success(),
        "pdftotext cannot read the slip: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 text")
}

/// `text` with every run of whitespace (line breaks too) as one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Pages of extracted text (pdftotext ends every page with a form feed).
fn pages(text: &str) -> usize {
    text.matches('\u{c}').count()
}

/// `GET /api/v1/payouts/{id}/slip.pdf` with `client`: the status, the headers and the body.
async fn slip(
    app: &TestApp,
    client: &reqwest::Client,
    payout: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = client
        .get(app.url(&format!("/api/v1/payouts/{payout}/slip.pdf")))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The JSON error of a refused slip.
fn error(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)))
}

/// The formula parts a slip prints for an API payout line.
fn formulas(line: &Value) -> Vec<String> {
    let rappen = |field: &str| Rappen(line[field].as_i64().unwrap());
    match line["kind"].as_str().unwrap() {
        "service" => vec![format!(
            "{} of {} = {}",
            BasisPoints(line["commission_bps"].as_i64().unwrap()).percent_text(),
            rappen("price"),
            rappen("commission")
        )],
        "day" => {
            let mut parts = Vec::new();
            if rappen("guaranteed_minimum").0 > 0 {
                parts.push(format!(
                    "minimum {} − earned {} = top-up {}",
                    rappen("guaranteed_minimum"),
                    rappen("day_earned"),
                    rappen("top_up")
                ));
            }
            if rappen("deduction").0 > 0 {
                parts.push(format!("deduction −{}", rappen("deduction")));
            }
            parts
        }
        other => panic!("a line of kind {other}"),
    }
}

/// Asserts that the slip's text shows every line's formula, its amount and the payout's total
/// exactly as the API reports them.
fn assert_shows_the_payout(text: &str, detail: &Value) {
    let flat = flat(text);
    let lines = detail["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    for line in lines {
        for formula in formulas(line) {
            assert!(
                flat.contains(&formula),
                "the slip lacks the formula '{formula}'"
            );
        }
        let amount = format_chf(Language::En, Rappen(line["amount"].as_i64().unwrap()))
            .replace('\u{a0}', " ");
        assert!(flat.contains(&amount), "the slip lacks the amount {amount}");
        assert!(flat.contains(&english_date(&line["on_date"])));
    }
    let total = Rappen(detail["total"].as_i64().unwrap()).to_string();
    assert!(
        flat.contains(&format!("Total paid out {total}")) || flat.contains(&total),
        "the slip lacks the total {total}"
    );
    assert!(flat.contains(&total));
    assert!(
        flat.contains(detail["id"].as_str().unwrap()),
        "the payout id"
    );
}

/// An API date (`2026-09-01`) as an English slip prints it (`1 Sept 2026`).
fn english_date(date: &Value) -> String {
    let date = NaiveDate::parse_from_str(date.as_str().unwrap(), "%Y-%m-%d").unwrap();
    flat(&format_date(Language::En, date))
}

/// A client signed in as `login`.
async fn signed_in(app: &TestApp, login: (&str, &str)) -> reqwest::Client {
    app.sign_in(login.0, login.1)
        .await
        .unwrap_or_else(|response| panic!("{} cannot sign in: {}", login.0, response.status()))
}

/// Lara's payout of the whole demo window, committed by bank transfer: 212 services and her
/// working days with chair rent. Returns it with its lines, as `GET /api/v1/payouts/{id}`.
async fn laras_committed_payout(app: &TestApp) -> Value {
    let payout = app.commit_payout_of("Lara Meier").await;
    assert_eq!(payout["state"], "committed");
    app.get_json(&format!(
        "/api/v1/payouts/{}",
        payout["id"].as_str().unwrap()
    ))
    .await
}

#[tokio::test]
async fn the_owner_downloads_a_slip_with_every_line_its_formula_the_masked_iban_and_the_total() {
    let app = spawn_demo_app().await;
    let payout = laras_committed_payout(&app).await;
    let id = payout["id"].as_str().unwrap();

    let (status, headers, pdf) = slip(&app, &app.client, id).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        format!(
            "attachment; filename=\"slip-lara-meier-{}-to-{}.pdf\"",
            payout["period_start"].as_str().unwrap(),
            payout["period_end"].as_str().unwrap()
        )
        .as_str()
    );
    assert_eq!(headers["cache-control"], "private, no-store");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");

    let text = pdf_text(&pdf);
    let flat_text = flat(&text);
    assert!(flat_text.contains("Payout slip"));
    assert!(
        flat_text.contains("Salon Seefeld, Zürich"),
        "the studio, umlaut intact"
    );
    assert!(flat_text.contains("Lara Meier"));
    assert!(flat_text.contains(&format!(
        "{} – {}",
        english_date(&payout["period_start"]),
        english_date(&payout["period_end"])
    )));
    assert!(flat_text.contains("Bank transfer"));
    assert_shows_the_payout(&text, &payout);
    assert_eq!(payout["total"], 1_808_000, "the demo's featured payout");
    assert!(flat_text.contains("CHF 18'080.00"));
    // Lara pays chair rent on her working days: the deductions are summed.
    let deductions: i64 = payout["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["deduction"].as_i64().unwrap())
        .sum();
    assert!(deductions > 0);
    assert!(
        flat_text.contains(&format!("−{}", Rappen(deductions))),
        "the deductions' sum"
    );

    // The bank transfer: the masked IBAN and the end-to-end reference the bank will quote.
    let transfers = app
        .get_json(&format!(
            "/api/v1/employees/{}/settlements",
            payout["employee_id"].as_str().unwrap()
        ))
        .await;
    let transfer = transfers
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["payout_id"] == payout["id"])
        .expect("the payout's transfer");
    assert!(flat_text.contains(transfer["end_to_end_id"].as_str().unwrap()));
    assert!(flat_text.contains(LARA_IBAN_MASKED), "{flat_text:.2000}");
    for whole in [LARA_IBAN, "CH03 0070 0110 0001 2345 6", "0123456"] {
        assert!(!flat_text.contains(whole), "the IBAN in full: {whole}");
        assert!(
            !pdf.windows(whole.len()).any(|w| w == whole.as_bytes()),
            "the IBAN in the PDF's bytes"
        );
    }

    // 212 services and her working days do not fit on one page: numbered pages.
    let count = pages(&text);
    assert!(count >= 4, "{count} pages");
    for page in 1..=count {
        assert!(flat_text.contains(&format!("Page {page} of {count}")));
    }

    // The same slip again is the same document.
    let (_, _, again) = slip(&app, &app.client, id).await;
    assert_eq!(again, pdf);
}

#[tokio::test]
async fn a_slip_speaks_the_language_asked_for_else_the_readers_own() {
    let app = spawn_demo_app().await;
    let payout = laras_committed_payout(&app).await;
    let id = payout["id"].as_str().unwrap();
    let owner_slip = |query: &'static str, accept: &'static str| {
        let request = app
            .client
            .get(app.url(&format!("/api/v1/payouts/{id}/slip.pdf{query}")))
            .header("Accept-Language", accept);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        }
    };

    // Asked for by name: German and French, amounts and dates the Swiss way of each.
    let (status, pdf) = owner_slip("?language=de", "en").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    let german = flat(&pdf_text(&pdf));
    for text in [
        "Auszahlungsbeleg",
        "Banküberweisung",
        "Ausbezahlt total CHF 18'080.00",
        "Seite 1 von",
        "Provisionsberechnung",
    ] {
        assert!(
            german.contains(text),
            "German slip lacks '{text}': {german:.1500}"
        );
    }
    assert!(!german.contains("Total paid out"));
    let (status, pdf) = owner_slip("?language=fr", "de").await;
    assert_eq!(status, 200);
    let french = flat(&pdf_text(&pdf));
    for text in [
        "Fiche de versement",
        "Total versé 18'080,00 CHF",
        "Virement bancaire",
    ] {
        assert!(
            french.contains(text),
            "French slip lacks '{text}': {french:.1500}"
        );
    }

    // Not named: the browser's Accept-Language (the owner chose no language).
    let (_, pdf) = owner_slip("", "fr-CH, de;q=0.8").await;
    assert!(flat(&pdf_text(&pdf)).contains("Fiche de versement"));
    let (_, pdf) = owner_slip("", "it-CH").await;
    assert!(flat(&pdf_text(&pdf)).contains("Total paid out CHF 18'080.00"));

    // A language the slips do not speak is refused, naming the field.
    let (status, body) = owner_slip("?language=it", "de").await;
    assert_eq!(status, 422);
    assert_eq!(error(&body)["error"]["field"], "language");

    // Lara chose German once; her slip is German wherever she downloads it.
    let lara = signed_in(&app, LARA_LOGIN).await;
    let chosen = lara
        .post(app.url("/language"))
        .header("Origin", &app.address)
        .form(&[("language", "de"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert!(chosen.status().is_success(), "{}", chosen.status());
    let elsewhere = signed_in(&app, LARA_LOGIN).await;
    let response = elsewhere
        .get(app.url(&format!("/api/v1/payouts/{id}/slip.pdf")))
        .header("Accept-Language", "en-US")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pdf = response.bytes().await.unwrap();
    assert!(flat(&pdf_text(&pdf)).contains("Ausbezahlt total CHF 18'080.00"));
}

#[tokio::test]
async fn an_employee_downloads_her_own_slip_and_receptionists_and_others_are_refused() {
    let app = spawn_demo_app().await;
    let payout = laras_committed_payout(&app).await;
    let id = payout["id"].as_str().unwrap();
    let jonas = app.employee_named("Jonas Keller").await;
    let jonas_september = app
        .payouts_of(&jonas["id"], Some(app::domain::PayoutState::Committed))
        .await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Lara, signed in in her browser: her own slip, with her total.
    let lara = signed_in(&app, LARA_LOGIN).await;
    let (status, _, pdf) = slip(&app, &lara, id).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(flat(&pdf_text(&pdf)).contains("CHF 18'080.00"));
    // Another employee's slip: as with the payout itself, she learns nothing of it.
    let (status, _, body) = slip(&app, &lara, &jonas_september).await;
    assert_eq!(
        (status, error(&body)["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // The owner reads Jonas's slip.
    let (status, _, _) = slip(&app, &app.client, &jonas_september).await;
    assert_eq!(status, 200);

    // The receptionist commits payouts at the desk but does not download slips.
    let reception = signed_in(&app, RECEPTION_ZURICH).await;
    let (status, _, body) = slip(&app, &reception, id).await;
    assert_eq!(status, 403);
    let refusal = error(&body);
    assert_eq!(refusal["error"]["code"], "forbidden");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("receptionist"),
        "{refusal}"
    );

    // API keys: an owner key needs payouts:read; a receptionist key never gets slips.
    let studio: StudioId = serde_json::from_value(payout["studio_id"].clone()).unwrap();
    let key = |role: Role, studio_id: Option<StudioId>, scopes: Vec<ApiScope>| {
        let app = &app;
        async move {
            app.engine
                .create_api_key(
                    &Caller::operator("test"),
                    &ApiKeyRequest {
                        name: format!("slips {role:?} {scopes:?}"),
                        role,
                        studio_id,
                        scopes: Some(scopes),
                    },
                )
                .await
                .expect("an API key")
                .key
        }
    };
    let reader = bearer_client(&key(Role::Owner, None, vec![ApiScope::PayoutsRead]).await);
    assert_eq!(slip(&app, &reader, id).await.0, 200);
    let ledger_only = bearer_client(&key(Role::Owner, None, vec![ApiScope::LedgerRead]).await);
    assert_eq!(slip(&app, &ledger_only, id).await.0, 403);
    let desk = bearer_client(
        &key(
            Role::Receptionist,
            Some(studio),
            vec![ApiScope::PayoutsRead],
        )
        .await,
    );
    assert_eq!(slip(&app, &desk, id).await.0, 403);

    // Nobody signed in.
    let (status, _, body) = slip(&app, &reqwest::Client::new(), id).await;
    assert_eq!(
        (status, error(&body)["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
}

#[tokio::test]
async fn a_payout_that_is_not_committed_has_no_slip_until_it_is_finished() {
    let app = spawn_demo_app().await;
    // Jonas's October: interrupted before its lines are claimed, so it stays pending.
    let jonas = app
        .interrupt_payout_of("Jonas Keller", PayoutPhase::LinesClaimed)
        .await;
    let pending = app
        .payouts_of(&jonas["id"], Some(app::domain::PayoutState::Pending))
        .await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, body) = slip(&app, &app.client, &pending).await;
    assert_eq!(status, 409);
    let refusal = error(&body);
    assert_eq!(refusal["error"]["code"], "payout_not_committed");
    assert_eq!(
        refusal["error"]["message"],
        "the payout is not committed yet; finish it first"
    );

    // Finished, it has its slip.
    let finished = app
        .post(
            &format!("/api/v1/payouts/{pending}/finish"),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(finished.status(), 200);
    let (status, _, pdf) = slip(&app, &app.client, &pending).await;
    assert_eq!(status, 200);
    let payout = app.get_json(&format!("/api/v1/payouts/{pending}")).await;
    assert_shows_the_payout(&pdf_text(&pdf), &payout);

    // An unknown payout is 404, a malformed id 422.
    let (status, _, _) = slip(&app, &app.client, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(status, 404);
    let (status, _, body) = slip(&app, &app.client, "not-a-payout").await;
    assert_eq!(
        (status, error(&body)["error"]["field"].as_str()),
        (422, Some("payout_id"))
    );
}

#[tokio::test]
async fn a_payout_of_three_hundred_lines_fills_numbered_pages_with_every_formula_and_umlaut() {
    let app = spawn_demo_app().await;
    let operator = Caller::operator("test");
    let lara = app.employee_named("Lara Meier").await;
    let studio: StudioId = serde_json::from_value(lara["studio_id"].clone()).unwrap();
    let service = app
        .engine
        .services(&operator)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.studio_id == studio)
        .expect("a service in Zürich");

    // Jürg Müller (45 %) joins Salon Seefeld in June, before the demo's records.
    let jurg = EmployeeId(uuid::Uuid::new_v4());
    db::query(
        "INSERT INTO employees (id, studio_id, name, commission_bps, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(jurg)
    .bind(studio)
    .bind("Jürg Müller")
    .bind(4_500_i64)
    .bind(chrono::Utc::now())
    .execute(app.engine.pool())
    .await
    .unwrap();
    // His payable account in the ledger (a new employee's, as at start-up).
    app.engine.open_ledger_accounts().await.unwrap();
    let response = app
        .client
        .put(app.url(&format!("/api/v1/employees/{jurg}/bank-account")))
        .json(&json!({ "iban": "CH93 0076 2011 6238 5295 7" }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );

    // 300 services over June (ten a day), a tip on every seventh; chair rent on five days, and
    // a guaranteed minimum above what he earned on the first day (a top-up and a deduction).
    let june = |day: u32| NaiveDate::from_ymd_opt(2026, 6, day).unwrap();
    for n in 0..300_u32 {
        app.engine
            .register_service(
                &operator,
                &IdempotencyKey::parse(Some(&format!("jurg-service-{n}"))).unwrap(),
                &ServiceRecordRequest {
                    employee_id: jurg,
                    service_id: service.id,
                    price: 4_000 + i64::from(n) * 35,
                    tip: if n % 7 == 0 { 500 } else { 0 },
                    currency: None,
                    payment_method: "card".into(),
                    performed_on: june(1 + n / 10),
                },
            )
            .await
            .unwrap();
    }
    for day in [1, 2, 3, 4, 5] {
        app.engine
            .register_day(
                &operator,
                &IdempotencyKey::parse(Some(&format!("jurg-day-{day}"))).unwrap(),
                &DayRecordRequest {
                    employee_id: jurg,
                    worked_on: june(day),
                    deduction: 1_500,
                    guaranteed_minimum: if day == 1 { 50_000 } else { 0 },
                    currency: None,
                    note: None,
                },
            )
            .await
            .unwrap();
    }
    let response = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &json!({ "employee_id": jurg, "period_start": "2026-06-01", "period_end": "2026-06-30" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let committed: Value = response.json().await.unwrap();
    assert_eq!(committed["record_count"], 305);
    let id = committed["id"].as_str().unwrap();
    let payout = app.get_json(&format!("/api/v1/payouts/{id}")).await;

    let (status, headers, pdf) = slip(&app, &app.client, id).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"slip-juerg-mueller-2026-06-01-to-2026-06-30.pdf\""
    );
    let text = pdf_text(&pdf);
    let flat_text = flat(&text);
    assert!(flat_text.contains("Jürg Müller"), "umlauts intact");
    assert!(flat_text.contains("1 Jun 2026 – 30 Jun 2026"));
    assert!(flat_text.contains("CH93 **** **** **** *957"));
    assert!(!flat_text.contains("CH9300762011623852957"));
    assert!(
        flat_text.contains("45 % of CHF 40.00 = CHF 18.00"),
        "the first line's formula"
    );
    assert!(
        flat_text.contains("minimum CHF 500.00 − earned"),
        "the top-up's formula"
    );
    assert!(
        flat_text.contains("Deductions (5 days) −CHF 75.00"),
        "{flat_text:.3000}"
    );
    assert_shows_the_payout(&text, &payout);

    let count = pages(&text);
    assert!(count >= 5, "300 lines on {count} pages");
    for page in 1..=count {
        assert!(flat_text.contains(&format!("Page {page} of {count}")));
    }
    // The total is printed once, on the last page, as the API reports it.
    let total = Rappen(payout["total"].as_i64().unwrap()).to_string();
    let last_page = text.split('\u{c}').nth(count - 1).unwrap();
    assert!(
        flat(last_page).contains(&format!("Total paid out {total}")),
        "{last_page}"
    );
}
