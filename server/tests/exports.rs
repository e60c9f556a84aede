#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! CSV exports for the accountant (issue 10), through the real router and the `export` command:
//! every dataset of the demo period has exactly the rows and the sums a direct SQL query finds,
//! with the documented header, decimal francs, ISO dates and UTF-8 names; only owners may export,
//! and only their own business's rows; a bad request names its field; a large export streams in
//! chunks with its row count announced first; a failure mid-way ends the download with an error
//! instead of a short file. Runs on SQLite, and on PostgreSQL with PAYOUT_ENGINE_TEST_DATABASE.

mod common;

use app::domain::*;
use app::engine::access::Caller;
use app::engine::db;
use app::engine::exports::{ExportDataset, ExportPeriod, ExportRequest, ROWS_PER_CHUNK};
use app::engine::idempotency::IdempotencyKey;
use chrono::{DateTime, NaiveDate, Utc};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const OWNER: (&str, &str) = ("owner@demo.test", "owner-demo");
const RECEPTION_ZURICH: (&str, &str) = ("reception@demo.test", "reception-demo");
const LARA_LOGIN: (&str, &str) = ("lara@demo.test", "employee-demo");
/// An employee whose name needs more than ASCII.
const ZOE: &str = "Zoë Brändli-Müller";
const ZURICH: &str = "Salon Seefeld, Zürich";
const OTHER_STUDIO: &str = "Studio Fremd, Basel";
const OTHER_EMPLOYEE: &str = "Other Business Person";

/// The documented columns (docs/exports.md), per dataset.
const COLUMNS: [(&str, &[&str]); 4] = [
    (
        "payouts",
        &[
            "payout_id",
            "committed_on",
            "committed_at",
            "studio_id",
            "studio_name",
            "employee_id",
            "employee_name",
            "period_start",
            "period_end",
            "method",
            "record_count",
            "commission",
            "tips",
            "top_ups",
            "deductions",
            "total",
            "currency",
        ],
    ),
    (
        "payout-lines",
        &[
            "payout_id",
            "committed_on",
            "studio_id",
            "studio_name",
            "employee_id",
            "employee_name",
            "line_kind",
            "record_id",
            "on_date",
            "service_name",
            "payment_method",
            "price",
            "commission_rate_pct",
            "commission",
            "tip",
            "deduction",
            "guaranteed_minimum",
            "day_earned",
            "top_up",
            "amount",
            "currency",
        ],
    ),
    (
        "ledger-transfers",
        &[
            "transfer_id",
            "kind",
            "effective_on",
            "created_at",
            "studio_id",
            "studio_name",
            "account",
            "account_name",
            "account_type",
            "employee_id",
            "employee_name",
            "amount",
            "reason",
            "cause_type",
            "cause_id",
            "reverses",
            "till_session_id",
            "currency",
        ],
    ),
    (
        "z-reports",
        &[
            "till_session_id",
            "business_date",
            "studio_id",
            "studio_name",
            "opened_at",
            "closed_at",
            "sales_count",
            "sales_cash",
            "sales_card",
            "sales_twint",
            "sales_gross",
            "tips",
            "vat",
            "sales_net",
            "refunds",
            "cash_payouts",
            "cash_in",
            "cash_out",
            "opening_float",
            "expected_cash",
            "counted_cash",
            "variance",
            "variance_reason",
            "currency",
        ],
    ),
];

/// Amount columns (decimal CHF), per dataset.
fn amount_columns(dataset: &str) -> &'static [&'static str] {
    match dataset {
        "payouts" => &["commission", "tips", "top_ups", "deductions", "total"],
        "payout-lines" => &[
            "price",
            "commission",
            "tip",
            "deduction",
            "guaranteed_minimum",
            "day_earned",
            "top_up",
            "amount",
        ],
        "ledger-transfers" => &["amount"],
        "z-reports" => &[
            "sales_cash",
            "sales_card",
            "sales_twint",
            "sales_gross",
            "tips",
            "vat",
            "sales_net",
            "refunds",
            "cash_payouts",
            "cash_in",
            "cash_out",
            "opening_float",
            "expected_cash",
            "counted_cash",
            "variance",
        ],
        other => panic!("no dataset {other}"),
    }
}

/// Date columns (`YYYY-MM-DD`) and timestamp columns (RFC 3339 UTC), per dataset.
fn time_columns(dataset: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match dataset {
        "payouts" => (
            &["committed_on", "period_start", "period_end"],
            &["committed_at"],
        ),
        "payout-lines" => (&["committed_on", "on_date"], &[]),
        "ledger-transfers" => (&["effective_on"], &["created_at"]),
        "z-reports" => (&["business_date"], &["opened_at", "closed_at"]),
        other => panic!("no dataset {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A parsed CSV file.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    /// Parses `bytes` as UTF-8 RFC 4180 CSV with a header row (every row as wide as the header).
    fn parse(bytes: &[u8]) -> Csv {
        let text = std::str::from_utf8(bytes).expect("the export is UTF-8");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .expect("a header row")
            .iter()
            .map(String::from)
            .collect();
        let rows = reader
            .records()
            .map(|record| {
                record
                    .expect("a well-formed CSV record")
                    .iter()
                    .map(String::from)
                    .collect()
            })
            .collect();
        Csv { header, rows }
    }

    fn column(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let index = self.column(name);
        self.rows.iter().map(move |row| row[index].as_str())
    }

    /// The sum of an amount column, in Rappen.
    fn sum(&self, name: &str) -> i64 {
        self.values(name).map(rappen).sum()
    }
}

/// `-1234.50` → -123450, asserting the documented format: optional `-`, digits, `.`, exactly
/// two digits.
fn rappen(text: &str) -> i64 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (francs, cents) = digits
        .split_once('.')
        .unwrap_or_else(|| panic!("'{text}' is not decimal CHF with two places"));
    assert!(
        !francs.is_empty()
            && francs.chars().all(|c| c.is_ascii_digit())
            && cents.len() == 2
            && cents.chars().all(|c| c.is_ascii_digit()),
        "'{text}' is not decimal CHF with two places"
    );
    let value = francs.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
    if negative {
        -value
    } else {
        value
    }
}

fn is_iso_date(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn is_utc_timestamp(text: &str) -> bool {
    text.ends_with('Z') && DateTime::parse_from_rfc3339(text).is_ok()
}

async fn signed_in(app: &TestApp, login: (&str, &str)) -> reqwest::Client {
    match app.sign_in(login.0, login.1).await {
        Ok(client) => client,
        Err(response) => panic!("{} cannot sign in: {}", login.0, response.status()),
    }
}

fn export_path(dataset: &str, from: NaiveDate, to: NaiveDate) -> String {
    format!("/api/v1/exports/{dataset}.csv?from={from}&to={to}")
}

/// The announced row count of a successful export answer.
fn announced_rows(response: &reqwest::Response) -> usize {
    response
        .headers()
        .get("x-export-rows")
        .expect("an X-Export-Rows header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Downloads an export that must succeed; returns the announced row count and the file.
async fn download(
    app: &TestApp,
    client: &reqwest::Client,
    dataset: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> (usize, Csv) {
    let response = client
        .get(app.url(&export_path(dataset, from, to)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{dataset}");
    let rows = announced_rows(&response);
    let bytes = response.bytes().await.expect("the whole file");
    (rows, Csv::parse(&bytes))
}

/// The error of a refused export: status, code, field.
async fn refused(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
) -> (u16, String, Option<String>, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["field"].as_str().map(String::from),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(Some(text)).unwrap()
}

/// The demo business (the owner's).
async fn demo_business(app: &TestApp) -> BusinessId {
    db::query_scalar("SELECT business_id FROM users WHERE email = $1")
        .bind(OWNER.0)
        .fetch_one(app.engine.pool())
        .await
        .unwrap()
}

async fn studio_named(app: &TestApp, name: &str) -> StudioId {
    db::query_scalar("SELECT id FROM studios WHERE name = $1")
        .bind(name)
        .fetch_one(app.engine.pool())
        .await
        .unwrap()
}

/// Notes and coins adding up to `rappen`, as the close form sends them.
fn denominations(mut rappen: i64) -> BTreeMap<String, i64> {
    let mut count = BTreeMap::new();
    for denomination in CHF_DENOMINATIONS {
        if rappen >= denomination {
            count.insert(denomination.to_string(), rappen / denomination);
            rappen %= denomination;
        }
    }
    assert_eq!(rappen, 0, "a countable amount");
    count
}

/// A second business with a studio, an employee, a closed till, a service and a committed
/// payout of today: rows the demo owner must never see. Returns its studio.
async fn other_business(app: &TestApp) -> StudioId {
    let operator = Caller::operator("test");
    let business = BusinessId::generate();
    let studio = StudioId::generate();
    let employee = EmployeeId::generate();
    let service = ServiceId::generate();
    let now = Utc::now();
    let mut tx = app.engine.pool().begin().await.unwrap();
    db::query("INSERT INTO businesses (id, name, created_at) VALUES ($1, 'Other', $2)")
        .bind(business)
        .bind(now)
        .execute(&mut tx)
        .await
        .unwrap();
    db::query("INSERT INTO studios (id, name, created_at, business_id) VALUES ($1, $2, $3, $4)")
        .bind(studio)
        .bind(OTHER_STUDIO)
        .bind(now)
        .bind(business)
        .execute(&mut tx)
        .await
        .unwrap();
    db::query(
        "INSERT INTO employees (id, studio_id, name, commission_bps, created_at)
         VALUES ($1, $2, $3, 4000, $4)",
    )
    .bind(employee)
    .bind(studio)
    .bind(OTHER_EMPLOYEE)
    .bind(now)
    .execute(&mut tx)
    .await
    .unwrap();
    db::query(
        "INSERT INTO services (id, studio_id, name, category, list_price)
         VALUES ($1, $2, 'Cut', 'hair', 5000)",
    )
    .bind(service)
    .bind(studio)
    .execute(&mut tx)
    .await
    .unwrap();
    app::engine::ledger::ensure_accounts(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    let today = app::engine::today();
    app.engine
        .open_till(
            &operator,
            &key("other-open"),
            &OpenTillRequest {
                studio_id: studio,
                opening_float: 0,
                reason: Some("counted".into()),
            },
        )
        .await
        .unwrap();
    app.engine
        .register_service(
            &operator,
            &key("other-service"),
            &ServiceRecordRequest {
                employee_id: employee,
                service_id: service,
                price: 5_000,
                tip: 0,
                currency: None,
                payment_method: "cash".into(),
                performed_on: today,
            },
        )
        .await
        .unwrap();
    app.engine
        .close_till(
            &operator,
            &key("other-close"),
            &CloseTillRequest {
                studio_id: studio,
                denominations: denominations(5_000),
                variance_reason: None,
            },
        )
        .await
        .unwrap();
    app.engine
        .commit_payout(
            &operator,
            &key("other-payout"),
            &PayoutRequest {
                employee_id: employee,
                period_start: today,
                period_end: today,
                method: PayoutMethod::Bank,
            },
        )
        .await
        .unwrap();
    studio
}

/// Adds [`ZOE`] to the Zürich studio (with her payable account) and returns her id.
async fn employee_with_umlauts(app: &TestApp) -> EmployeeId {
    let zurich = studio_named(app, ZURICH).await;
    let zoe = EmployeeId::generate();
    let mut tx = app.engine.pool().begin().await.unwrap();
    db::query(
        "INSERT INTO employees (id, studio_id, name, commission_bps, created_at)
         VALUES ($1, $2, $3, 4500, $4)",
    )
    .bind(zoe)
    .bind(zurich)
    .bind(ZOE)
    .bind(Utc::now())
    .execute(&mut tx)
    .await
    .unwrap();
    app::engine::ledger::ensure_accounts(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    zoe
}

async fn posted(app: &TestApp, path: &str, body: &Value, status: u16) -> Value {
    let response = app.post(path, &new_key(), body).await;
    let got = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "POST {path}: {answer}");
    answer
}

/// A day at both demo tills, through the API: Zürich opens, sells to Zoë's clients (cash and
/// card), takes in change, and closes CHF 5.00 short with a reason a spreadsheet would evaluate;
/// Bern opens and closes empty. Then Zoë's day is paid out (bank).
async fn a_day_at_the_tills(app: &TestApp, zoe: EmployeeId) {
    let zurich = studio_named(app, ZURICH).await;
    let bern = studio_named(app, "Studio Marktgasse, Bern").await;
    let today = app::engine::today().to_string();
    let service = app
        .engine
        .services(&Caller::operator("test"))
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.studio_id == zurich)
        .unwrap();
    for studio in [zurich, bern] {
        posted(
            app,
            "/api/v1/till/open",
            &json!({"studio_id": studio, "opening_float": 20_000, "reason": "counted"}),
            201,
        )
        .await;
    }
    for (method, price, tip) in [("cash", 8_500, 500), ("card", 12_000, 0)] {
        posted(
            app,
            "/api/v1/service-records",
            &json!({"employee_id": zoe, "service_id": service.id, "price": price, "tip": tip,
                    "payment_method": method, "performed_on": today}),
            201,
        )
        .await;
    }
    posted(
        app,
        "/api/v1/till/movements",
        &json!({"studio_id": zurich, "direction": "in", "amount": 5_000, "reason": "change fund"}),
        201,
    )
    .await;
    for (studio, short, why) in [
        (zurich, 500, "=1+1 change given twice"),
        (bern, 0, "counted"),
    ] {
        let till = app
            .get_json(&format!("/api/v1/till?studio_id={studio}"))
            .await;
        let expected = till["expected_cash"].as_i64().unwrap();
        posted(
            app,
            "/api/v1/till/close",
            &json!({"studio_id": studio, "denominations": denominations(expected - short),
                    "variance_reason": why}),
            200,
        )
        .await;
    }
    posted(
        app,
        "/api/v1/payouts",
        &json!({"employee_id": zoe, "period_start": today, "period_end": today}),
        201,
    )
    .await;
}

/// `(rows, sums...)` the database itself has for `dataset` of `business` over `from..=to`.
async fn reference(
    app: &TestApp,
    dataset: &str,
    business: BusinessId,
    from: NaiveDate,
    to: NaiveDate,
) -> (i64, i64, i64) {
    let committed = "FROM payouts p JOIN studios s ON s.id = p.studio_id
         JOIN ledger_transfers t ON t.id = p.id AND t.kind = 'payout_committed'
         WHERE s.business_id = $1 AND p.state = 'committed' AND t.effective_on BETWEEN $2 AND $3";
    let sql = match dataset {
        "payouts" => format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(p.total), 0) AS BIGINT), CAST(0 AS BIGINT) {committed}"
        ),
        "payout-lines" => format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(l.amount), 0) AS BIGINT), CAST(0 AS BIGINT)
             FROM payout_lines l WHERE NOT l.released AND l.payout_id IN (SELECT p.id {committed})"
        ),
        "ledger-transfers" => "SELECT COUNT(*), CAST(COALESCE(SUM(lp.amount), 0) AS BIGINT),
                    CAST(COALESCE(SUM(ABS(lp.amount)), 0) AS BIGINT)
             FROM ledger_postings lp JOIN ledger_transfers t ON t.id = lp.transfer_id
             JOIN studios s ON s.id = t.studio_id
             WHERE s.business_id = $1 AND t.effective_on BETWEEN $2 AND $3"
            .to_string(),
        "z-reports" => "SELECT COUNT(*), CAST(COALESCE(SUM(ts.counted_cash), 0) AS BIGINT),
                    CAST(COALESCE(SUM(ts.variance), 0) AS BIGINT)
             FROM till_sessions ts JOIN studios s ON s.id = ts.studio_id
             WHERE s.business_id = $1 AND ts.state = 'closed' AND ts.business_date BETWEEN $2 AND $3"
            .to_string(),
        other => panic!("no dataset {other}"),
    };
    db::query_as::<(i64, i64, i64)>(sql)
        .bind(business)
        .bind(from)
        .bind(to)
        .fetch_one(app.engine.pool())
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Rows and sums equal the database's
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_export_of_the_demo_period_has_the_rows_and_sums_of_the_database() {
    let app = spawn_demo_app().await;
    let foreign_studio = other_business(&app).await;
    let zoe = employee_with_umlauts(&app).await;
    a_day_at_the_tills(&app, zoe).await;
    let business = demo_business(&app).await;
    let owner = signed_in(&app, OWNER).await;
    // The demo window's records and the payouts committed since (the demo commits September's
    // payouts when it is seeded: today).
    let (from, to) = (app::engine::demo::window_start(), app::engine::today());
    let foreign = [
        foreign_studio.to_string(),
        OTHER_STUDIO.to_string(),
        OTHER_EMPLOYEE.to_string(),
    ];
    let mut files = BTreeMap::new();
    for (dataset, columns) in COLUMNS {
        let (announced, csv) = download(&app, &owner, dataset, from, to).await;
        assert_eq!(csv.header, columns, "{dataset}: the documented header");
        let (rows, first_sum, second_sum) = reference(&app, dataset, business, from, to).await;
        assert!(rows > 0, "{dataset}: the demo period has rows");
        assert_eq!(
            csv.rows.len() as i64,
            rows,
            "{dataset}: rows of the database"
        );
        assert_eq!(announced, csv.rows.len(), "{dataset}: X-Export-Rows");
        match dataset {
            "payouts" => assert_eq!(csv.sum("total"), first_sum, "payout totals"),
            "payout-lines" => assert_eq!(csv.sum("amount"), first_sum, "line amounts"),
            "ledger-transfers" => {
                assert_eq!(csv.sum("amount"), first_sum, "postings sum to zero");
                assert_eq!(first_sum, 0);
                let moved: i64 = csv.values("amount").map(|a| rappen(a).abs()).sum();
                assert_eq!(moved, second_sum, "money moved, debits and credits");
            }
            "z-reports" => {
                assert_eq!(csv.sum("counted_cash"), first_sum, "counted cash");
                assert_eq!(csv.sum("variance"), second_sum, "variances");
            }
            other => panic!("no dataset {other}"),
        }
        // Formats: decimal francs, ISO dates, UTC timestamps, CHF.
        for column in amount_columns(dataset) {
            for value in csv.values(column) {
                rappen(value);
            }
        }
        let (dates, timestamps) = time_columns(dataset);
        for column in dates {
            for value in csv.values(column) {
                assert!(is_iso_date(value), "{dataset}.{column}: '{value}'");
            }
        }
        for column in timestamps {
            for value in csv.values(column) {
                assert!(is_utc_timestamp(value), "{dataset}.{column}: '{value}'");
            }
        }
        assert!(csv.values("currency").all(|c| c == "CHF"), "{dataset}");
        // Never a row of the other business.
        for row in &csv.rows {
            for field in row {
                assert!(
                    !foreign.contains(field),
                    "{dataset} shows the other business: {row:?}"
                );
            }
        }
        files.insert(dataset, csv);
    }

    // The files agree with each other: a payout's total is its lines' amounts, and its parts.
    let payouts = &files["payouts"];
    let lines = &files["payout-lines"];
    assert_eq!(payouts.sum("total"), lines.sum("amount"));
    for row in &payouts.rows {
        let amount = |name: &str| rappen(&row[payouts.column(name)]);
        assert_eq!(
            amount("commission") + amount("tips") + amount("top_ups") - amount("deductions"),
            amount("total"),
            "{row:?}"
        );
        let id = &row[payouts.column("payout_id")];
        let own_lines = lines
            .values("payout_id")
            .filter(|p| *p == id.as_str())
            .count();
        assert_eq!(
            own_lines.to_string(),
            row[payouts.column("record_count")],
            "{row:?}"
        );
    }

    // UTF-8 names survive, quoted where they hold a comma; typed text cannot become a formula.
    let zoe_payout = payouts
        .rows
        .iter()
        .find(|row| row[payouts.column("employee_name")] == ZOE)
        .expect("Zoë's payout");
    assert_eq!(zoe_payout[payouts.column("studio_name")], ZURICH);
    assert!(lines.values("employee_name").any(|name| name == ZOE));
    let ledger = &files["ledger-transfers"];
    assert!(ledger.values("employee_name").any(|name| name == ZOE));
    assert!(ledger.values("reason").any(|r| r.ends_with("change fund")));
    assert!(ledger
        .values("account")
        .all(|code| AccountCode::parse(code).is_ok()));
    let z = &files["z-reports"];
    let zurich_z = z
        .rows
        .iter()
        .find(|row| row[z.column("studio_name")] == ZURICH)
        .expect("Zürich's Z report");
    assert_eq!(zurich_z[z.column("variance")], "-5.00");
    assert_eq!(
        zurich_z[z.column("variance_reason")],
        "'=1+1 change given twice",
        "a reason starting with '=' is defused"
    );
    assert_eq!(zurich_z[z.column("cash_in")], "50.00");
    assert_eq!(zurich_z[z.column("sales_cash")], "85.00");
    assert_eq!(zurich_z[z.column("sales_card")], "120.00");
    assert_eq!(zurich_z[z.column("sales_gross")], "205.00");
    assert_eq!(zurich_z[z.column("tips")], "5.00");
    assert_eq!(
        rappen(&zurich_z[z.column("vat")]) + rappen(&zurich_z[z.column("sales_net")]),
        20_500
    );

    // The raw bytes: UTF-8 without a byte order mark, a comma-quoted studio name, CRLF lines.
    let raw = owner
        .get(app.url(&export_path("z-reports", from, to)))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8(raw.to_vec()).expect("UTF-8");
    assert!(text.starts_with("till_session_id,business_date,"), "{text}");
    assert!(text.contains("\"Salon Seefeld, Zürich\""), "{text}");
    assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'));
}

// ---------------------------------------------------------------------------------------------
// 2. Who may export, and what a bad request hears
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn only_owners_export_and_a_bad_request_names_its_field() {
    let app = spawn_demo_app().await;
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
    );
    let path = export_path("payouts", from, to);
    let zurich = studio_named(&app, ZURICH).await;
    let operator = Caller::operator("test");
    let receptionist_key = app
        .engine
        .create_api_key(
            &operator,
            &ApiKeyRequest {
                name: "desk".into(),
                role: Role::Receptionist,
                studio_id: Some(zurich),
                scopes: None,
            },
        )
        .await
        .unwrap()
        .key;
    let narrow_owner_key = app
        .engine
        .create_api_key(
            &operator,
            &ApiKeyRequest {
                name: "payouts only".into(),
                role: Role::Owner,
                studio_id: None,
                scopes: Some(vec![ApiScope::PayoutsRead]),
            },
        )
        .await
        .unwrap()
        .key;

    let (status, code, _, _) = refused(&app, &reqwest::Client::new(), &path).await;
    assert_eq!((status, code.as_str()), (401, "unauthenticated"));
    for (who, client) in [
        ("receptionist", signed_in(&app, RECEPTION_ZURICH).await),
        ("employee", signed_in(&app, LARA_LOGIN).await),
        ("receptionist key", bearer_client(&receptionist_key)),
    ] {
        for dataset in ExportDataset::ALL {
            let (status, code, _, _) =
                refused(&app, &client, &export_path(dataset.as_str(), from, to)).await;
            assert_eq!(
                (status, code.as_str()),
                (403, "forbidden"),
                "{who} {dataset}"
            );
        }
        // Not even whether an export exists.
        let (status, _, _, _) = refused(&app, &client, "/api/v1/exports/salaries.csv").await;
        assert_eq!(status, 403, "{who}");
    }
    let (status, _, _, message) = refused(&app, &bearer_client(&narrow_owner_key), &path).await;
    assert_eq!(status, 403);
    assert!(message.contains("exports:read"), "{message}");

    // The owner's API key (every scope) and the owner's session both download.
    let owner = signed_in(&app, OWNER).await;
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"payouts-2026-09-01-2026-09-30.csv\""
    );
    assert_eq!(headers["cache-control"], "no-store");

    for (path, status, field) in [
        (
            "/api/v1/exports/salaries.csv?from=2026-09-01&to=2026-09-30",
            404,
            None,
        ),
        (
            "/api/v1/exports/payouts?from=2026-09-01&to=2026-09-30",
            404,
            None,
        ),
        (
            "/api/v1/exports/payouts.csv?to=2026-09-30",
            422,
            Some("from"),
        ),
        (
            "/api/v1/exports/payouts.csv?from=2026-09-31&to=2026-09-30",
            422,
            Some("from"),
        ),
        (
            "/api/v1/exports/payouts.csv?from=2026-09-01",
            422,
            Some("to"),
        ),
        (
            "/api/v1/exports/payouts.csv?from=2026-09-01&to=30.09.2026",
            422,
            Some("to"),
        ),
        (
            "/api/v1/exports/payouts.csv?from=2026-09-30&to=2026-09-01",
            422,
            Some("to"),
        ),
        (
            "/api/v1/exports/payouts.csv?from=2025-09-01&to=2026-09-02",
            422,
            Some("to"),
        ),
        (
            "/api/v1/exports/z-reports.csv?from=2026-09-01&to=2026-09-30&studio_id=Zürich",
            422,
            Some("studio_id"),
        ),
    ] {
        let (got, code, got_field, message) = refused(&app, &owner, path).await;
        assert_eq!(
            (got, got_field.as_deref()),
            (status, field),
            "{path}: {code} {message}"
        );
        if status == 404 {
            assert_eq!(code, "not_found");
            assert!(
                message.contains("payouts.csv, payout-lines.csv"),
                "{message}"
            );
        }
    }
    // A year counts both ends: 366 days (a leap year) is fine, 367 are not.
    let leap = owner
        .get(app.url("/api/v1/exports/z-reports.csv?from=2028-01-01&to=2028-12-31"))
        .send()
        .await
        .unwrap();
    assert_eq!(leap.status(), 200);
    // A studio that is not the owner's is refused, not silently empty.
    let (status, code, _, _) = refused(
        &app,
        &owner,
        &format!("{path}&studio_id={}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));

    // One studio's export holds that studio's rows only, as many as the database has.
    let bern = studio_named(&app, "Studio Marktgasse, Bern").await;
    let response = owner
        .get(app.url(&format!(
            "{}&studio_id={bern}",
            export_path("ledger-transfers", from, to)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let announced = announced_rows(&response);
    let csv = Csv::parse(&response.bytes().await.unwrap());
    let expected: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM ledger_postings lp JOIN ledger_transfers t ON t.id = lp.transfer_id
         WHERE t.studio_id = $1 AND t.effective_on BETWEEN $2 AND $3",
    )
    .bind(bern)
    .bind(from)
    .bind(to)
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert!(expected > 0);
    assert_eq!(
        (csv.rows.len() as i64, announced as i64),
        (expected, expected)
    );
    assert!(csv.values("studio_id").all(|s| s == bern.to_string()));

    // An empty period is the header alone.
    let response = owner
        .get(app.url("/api/v1/exports/payout-lines.csv?from=2020-01-01&to=2020-01-31"))
        .send()
        .await
        .unwrap();
    assert_eq!(announced_rows(&response), 0);
    let text = response.text().await.unwrap();
    assert_eq!(text, format!("{}\r\n", COLUMNS[1].1.join(",")));
}

// ---------------------------------------------------------------------------------------------
// 3. Large exports stream; a failure mid-way is a failed download
// ---------------------------------------------------------------------------------------------

/// Posts `transfers` balanced two-posting transfers (cash in) directly, spread over March 2025,
/// in `studio`'s books.
async fn insert_transfers(app: &TestApp, studio: StudioId, transfers: usize) {
    let account = |code: &'static str| {
        db::query_scalar::<i64>(
            "SELECT id FROM ledger_accounts WHERE studio_id = $1 AND code = $2 AND employee_id IS NULL",
        )
        .bind(studio)
        .bind(code)
        .fetch_one(app.engine.pool())
    };
    let drawer = account("cash_drawer").await.unwrap();
    let outside = account("cash_transfers").await.unwrap();
    let created = Utc::now();
    let rows: Vec<(uuid::Uuid, NaiveDate, i64)> = (0..transfers)
        .map(|n| {
            (
                uuid::Uuid::new_v4(),
                NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
                    + chrono::Duration::days((n % 31) as i64),
                100 + (n as i64 % 977) * 5,
            )
        })
        .collect();
    let mut tx = app.engine.pool().begin().await.unwrap();
    for chunk in rows.chunks(2_000) {
        db::insert_values(
            "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, created_at)",
            chunk,
            8,
            |q, (id, day, _)| {
                q.bind(*id)
                    .bind(studio)
                    .bind("cash_in")
                    .bind("change fund (generated)")
                    .bind("test")
                    .bind(*id)
                    .bind(*day)
                    .bind(created)
            },
        )
        .execute(&mut tx)
        .await
        .unwrap();
        db::insert_values(
            "INSERT INTO ledger_postings (transfer_id, account_id, amount)",
            chunk
                .iter()
                .flat_map(|(id, _, amount)| [(*id, drawer, *amount), (*id, outside, -*amount)]),
            3,
            |q, (id, account, amount)| q.bind(id).bind(account).bind(amount),
        )
        .execute(&mut tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_large_export_streams_in_chunks_with_its_row_count_announced_first() {
    let app = spawn_demo_app().await;
    let zurich = studio_named(&app, ZURICH).await;
    insert_transfers(&app, zurich, 10_000).await;
    let (from, to) = (
        NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
    );
    let (postings, moved): (i64, i64) = db::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(ABS(lp.amount)), 0) AS BIGINT)
         FROM ledger_postings lp JOIN ledger_transfers t ON t.id = lp.transfer_id
         WHERE t.effective_on BETWEEN $1 AND $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(postings, 20_000);

    // Over HTTP: the count comes with the headers, the body in pieces.
    let mut response = app
        .client
        .get(app.url(&export_path("ledger-transfers", from, to)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(announced_rows(&response), 20_000);
    let mut body = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = response.chunk().await.expect("the body streams to its end") {
        pieces += 1;
        body.extend_from_slice(&piece);
    }
    assert!(pieces > 1, "the body arrived in {pieces} piece(s)");
    let csv = Csv::parse(&body);
    assert_eq!(csv.rows.len(), 20_000);
    assert_eq!(csv.sum("amount"), 0);
    assert_eq!(
        csv.values("amount").map(|a| rappen(a).abs()).sum::<i64>(),
        moved
    );

    // In the engine: chunks of at most ROWS_PER_CHUNK rows, in order, then the end.
    let mut export = app
        .engine
        .export(
            &Caller::operator("test"),
            &ExportRequest {
                dataset: ExportDataset::LedgerTransfers,
                period: ExportPeriod::new(from, to).unwrap(),
                studio: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(export.rows(), 20_000);
    let (mut chunks, mut last) = (0, 0);
    while let Some(chunk) = export.next_chunk().await {
        let chunk = chunk.expect("no failure");
        assert!(chunk.rows_written > last);
        assert!(chunk.rows_written - last <= ROWS_PER_CHUNK as u64);
        last = chunk.rows_written;
        chunks += 1;
    }
    assert_eq!((last, chunks), (20_000, 20_000 / ROWS_PER_CHUNK));
    assert!(export.next_chunk().await.is_none(), "the end stays the end");
}

#[tokio::test]
async fn an_export_failing_mid_way_ends_with_an_error_not_a_short_file() {
    let app = spawn_demo_app().await;
    let zurich = studio_named(&app, ZURICH).await;
    let bern = studio_named(&app, "Studio Marktgasse, Bern").await;
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let report = |day: NaiveDate| {
        let at = day.and_hms_opt(17, 0, 0).unwrap().and_utc();
        serde_json::to_string(&ZReport {
            studio_name: ZURICH.into(),
            business_date: day,
            opened_at: at,
            closed_at: at,
            sales_by_method: vec![SalesByMethod {
                payment_method: "cash".into(),
                count: 1,
                gross: Rappen(5_000),
                tips: Rappen(0),
            }],
            sales_by_vat_rate: vec![SalesByVatRate {
                vat_rate_bps: BasisPoints(810),
                gross: Rappen(5_000),
                vat: Rappen(375),
                net: Rappen(4_625),
            }],
            tips: Rappen(0),
            refunds: Rappen(0),
            cash_payouts: Rappen(0),
            cash_in: Rappen(0),
            cash_out: Rappen(0),
            opening_float: Rappen(0),
            expected_cash: Rappen(5_000),
            counted_cash: Rappen(5_000),
            variance: Rappen(0),
            variance_reason: None,
            denominations: BTreeMap::new(),
            movements: Vec::new(),
            currency: "CHF".into(),
        })
        .unwrap()
    };
    // 600 good Z reports, then one the database holds but nobody can read (the last day).
    let mut sessions: Vec<(StudioId, NaiveDate, String)> = (0..300)
        .flat_map(|n| {
            let day = first + chrono::Duration::days(n);
            [(zurich, day, report(day)), (bern, day, report(day))]
        })
        .collect();
    let last = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    sessions.push((zurich, last, "{not a Z report".into()));
    db::insert_values(
        "INSERT INTO till_sessions (id, studio_id, business_date, state, opening_float, opened_at,
             closed_at, expected_cash, counted_cash, variance, z_report)",
        &sessions,
        11,
        |q, (studio, day, z)| {
            let at = day.and_hms_opt(17, 0, 0).unwrap().and_utc();
            q.bind(TillSessionId::generate())
                .bind(*studio)
                .bind(*day)
                .bind("closed")
                .bind(0_i64)
                .bind(at)
                .bind(at)
                .bind(5_000_i64)
                .bind(5_000_i64)
                .bind(0_i64)
                .bind(z.clone())
        },
    )
    .execute(app.engine.pool())
    .await
    .unwrap();

    // Over HTTP: the announced count, then a body that breaks off: a failed download.
    let path = export_path("z-reports", first, last);
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(announced_rows(&response), 601);
    assert!(
        response.bytes().await.is_err(),
        "the client must see the download fail"
    );

    // In the engine: the first 500 rows, then the error, then nothing.
    let mut export = app
        .engine
        .export(
            &Caller::operator("test"),
            &ExportRequest {
                dataset: ExportDataset::ZReports,
                period: ExportPeriod::new(first, last).unwrap(),
                studio: None,
            },
        )
        .await
        .unwrap();
    let chunk = export.next_chunk().await.unwrap().expect("the first chunk");
    assert_eq!(chunk.rows_written, ROWS_PER_CHUNK as u64);
    let failure = export
        .next_chunk()
        .await
        .expect("not the end")
        .expect_err("the unreadable Z report");
    assert!(failure.to_string().contains("Z report"), "{failure}");
    assert!(export.next_chunk().await.is_none());
}

// ---------------------------------------------------------------------------------------------
// 4. The command line
// ---------------------------------------------------------------------------------------------

/// A new, empty database on the harness's backend; keep it alive while the binary uses it.
fn database() -> TestDatabase {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(test_database())
}

/// Runs `work` on the database at `url` through an engine of its own.
fn with_engine<T>(url: &str, work: impl AsyncFnOnce(&app::engine::Engine) -> T) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let engine = app::engine::Engine::connect(url, app::engine::EngineSettings::default())
            .await
            .unwrap();
        let result = work(&engine).await;
        engine.pool().close().await;
        result
    })
}

#[test]
fn the_export_command_writes_the_csv_with_progress_and_never_a_short_file() {
    let database = database();
    let url = database.url.clone();
    let seed = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    let today = app::engine::today().to_string();
    let (postings, payouts): (i64, i64) = with_engine(&url, async |engine| {
        let postings: i64 = db::query_scalar(
            "SELECT COUNT(*) FROM ledger_postings lp JOIN ledger_transfers t ON t.id = lp.transfer_id
             WHERE t.effective_on BETWEEN $1 AND $2",
        )
        .bind(app::engine::demo::window_start())
        .bind(app::engine::today())
        .fetch_one(engine.pool())
        .await
        .unwrap();
        let payouts: i64 =
            db::query_scalar("SELECT COUNT(*) FROM payouts WHERE state = 'committed'")
                .fetch_one(engine.pool())
                .await
                .unwrap();
        (postings, payouts)
    });
    assert!(postings > 2_000, "{postings}");

    // To a file: progress on standard error, the last line on standard output.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ledger.csv");
    let written = binary()
        .args([
            "--database-url",
            &url,
            "export",
            "ledger-transfers",
            "--from",
            "2026-09-01",
            "--to",
            &today,
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&written.stdout).to_string();
    let stderr = String::from_utf8_lossy(&written.stderr).to_string();
    assert!(written.status.success(), "{stderr}");
    let total = {
        let digits = postings.to_string();
        let mut grouped = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        grouped
    };
    assert!(
        stderr.contains(&format!("ledger-transfers: 1,000 / {total} rows (")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("ledger-transfers: 2,000 / {total} rows (")),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "ledger-transfers: {total} rows written to {}",
            out.display()
        )),
        "{stdout}"
    );
    let csv = Csv::parse(&std::fs::read(&out).unwrap());
    assert_eq!(csv.rows.len() as i64, postings);
    assert_eq!(csv.header, COLUMNS[2].1);
    assert_eq!(csv.sum("amount"), 0);

    // To standard output with `-`.
    let piped = binary()
        .args([
            "--database-url",
            &url,
            "export",
            "payouts",
            "--from",
            "2026-09-01",
            "--to",
            &today,
            "--out",
            "-",
        ])
        .output()
        .unwrap();
    assert!(piped.status.success());
    let csv = Csv::parse(&piped.stdout);
    assert_eq!(csv.rows.len() as i64, payouts);
    assert!(String::from_utf8_lossy(&piped.stderr).contains("rows written to standard output"));

    // A bad period is one clear line and exit code 1.
    let bad = binary()
        .args([
            "--database-url",
            &url,
            "export",
            "z-reports",
            "--from",
            "2026-09-30",
            "--to",
            "2026-09-01",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("to: the period ends (2026-09-01)"),
        "{stderr}"
    );

    // A Z report nobody can read: exit code 1, and no file (nor a partial one) is left.
    with_engine(&url, async |engine| {
        let studio: StudioId = db::query_scalar("SELECT id FROM studios WHERE name = $1")
            .bind(ZURICH)
            .fetch_one(engine.pool())
            .await
            .unwrap();
        let at = Utc::now();
        db::query(
            "INSERT INTO till_sessions (id, studio_id, business_date, state, opening_float,
                 opened_at, closed_at, expected_cash, counted_cash, variance, z_report)
             VALUES ($1, $2, $3, 'closed', 0, $4, $4, 0, 0, 0, '{broken')",
        )
        .bind(TillSessionId::generate())
        .bind(studio)
        .bind(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap())
        .bind(at)
        .execute(engine.pool())
        .await
        .unwrap();
    });
    let failed = binary()
        .args([
            "--database-url",
            &url,
            "export",
            "z-reports",
            "--from",
            "2025-06-01",
            "--to",
            "2025-06-30",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the z-reports export failed after 0 of 1 rows"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        left,
        vec!["ledger.csv".to_string()],
        "no file of the failed export"
    );
}
