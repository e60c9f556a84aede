//! Refunding a service through the JSON API: the client gets the money back, the books get a
//! reversing transfer, the employee's unpaid total drops by the commission and tip, a cash refund
//! leaves the till and shows in its Z report, and a service in a payout cannot be refunded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::engine::db;
use common::*;
use serde_json::{json, Value};

async fn posted(app: &TestApp, path: &str, key: &str, body: &Value, status: u16) -> Value {
    let response = app.post(path, key, body).await;
    let got = response.status().as_u16();
    let json: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{path}: {json}");
    json
}

/// Registers a service of `employee` today and returns it.
async fn register(app: &TestApp, employee: &Value, method: &str, price: i64, tip: i64) -> Value {
    let service = app
        .engine
        .services(&app::engine::access::Caller::operator("test"))
        .await
        .unwrap()
        .into_iter()
        .find(|s| json!(s.studio_id) == employee["studio_id"])
        .unwrap();
    posted(
        app,
        "/api/v1/service-records",
        &new_key(),
        &json!({"employee_id": employee["id"], "service_id": service.id, "price": price, "tip": tip,
                "payment_method": method, "performed_on": app::engine::today().to_string()}),
        201,
    )
    .await
}

fn refund_path(record: &Value) -> String {
    format!(
        "/api/v1/service-records/{}/refund",
        record["id"].as_str().unwrap()
    )
}

async fn balance(app: &TestApp, studio: &Value, code: &str) -> i64 {
    let balances = app
        .get_json(&format!(
            "/api/v1/ledger/balances?studio_id={}",
            studio.as_str().unwrap()
        ))
        .await;
    balances
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["account"] == code && b["employee_id"].is_null())
        .unwrap_or_else(|| panic!("no {code} account in {balances}"))["debit_balance"]
        .as_i64()
        .unwrap()
}

async fn assert_audit_clean(app: &TestApp) {
    let report = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            app::domain::AuditTrigger::Manual,
            None,
            None,
        )
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[tokio::test]
async fn a_card_refund_reverses_the_sale_and_the_commission_once() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let studio = jonas["studio_id"].clone();
    let record = register(&app, &jonas, "card", 12_000, 1_000).await;
    let commission = record["commission"].as_i64().unwrap();
    assert!(commission > 0);
    let unpaid_before = app.employee_named("Jonas Keller").await["unpaid_total"]
        .as_i64()
        .unwrap();
    let revenue_before = balance(&app, &studio, "service_revenue").await;
    let card_before = balance(&app, &studio, "card_clearing").await;

    let missing_reason = posted(
        &app,
        &refund_path(&record),
        &new_key(),
        &json!({"reason": "  "}),
        422,
    )
    .await;
    assert_eq!(missing_reason["error"]["field"], "reason");

    let key = new_key();
    let refunded = posted(
        &app,
        &refund_path(&record),
        &key,
        &json!({"reason": "client unhappy with the colour"}),
        200,
    )
    .await;
    assert!(refunded["refunded_at"].is_string());
    assert_eq!(refunded["refund_reason"], "client unhappy with the colour");

    // A retry with the same key replays; another reason under that key is refused; a second
    // refund with a new key is refused with the reason.
    let replay = posted(
        &app,
        &refund_path(&record),
        &key,
        &json!({"reason": "client unhappy with the colour"}),
        200,
    )
    .await;
    assert_eq!(replay, refunded);
    posted(
        &app,
        &refund_path(&record),
        &key,
        &json!({"reason": "something else"}),
        422,
    )
    .await;
    let twice = posted(
        &app,
        &refund_path(&record),
        &new_key(),
        &json!({"reason": "again"}),
        409,
    )
    .await;
    assert_eq!(twice["error"]["code"], "refund_refused");
    assert!(twice["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already refunded"));

    assert_eq!(
        app.employee_named("Jonas Keller").await["unpaid_total"],
        unpaid_before - commission - 1_000,
        "the refunded service no longer pays its commission and tip"
    );
    assert_eq!(
        balance(&app, &studio, "service_revenue").await,
        revenue_before + 12_000
    );
    assert_eq!(
        balance(&app, &studio, "card_clearing").await,
        card_before - 13_000
    );
    let reversals: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM ledger_transfers WHERE kind = 'reversal' AND reverses = $1",
    )
    .bind(uuid::Uuid::parse_str(record["id"].as_str().unwrap()).unwrap())
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(reversals, 1);

    // The next payout leaves it out and still verifies; the books stay clean.
    let kept = register(&app, &jonas, "card", 5_000, 0).await;
    let today = app::engine::today().to_string();
    let payout = posted(
        &app,
        "/api/v1/payouts",
        &new_key(),
        &json!({"employee_id": jonas["id"], "period_start": today, "period_end": today}),
        201,
    )
    .await;
    assert_eq!(payout["state"], "committed");
    assert_eq!(payout["record_count"], 1, "{payout}");
    assert_eq!(payout["total"], kept["commission"]);
    let detail = app
        .get_json(&format!(
            "/api/v1/payouts/{}",
            payout["id"].as_str().unwrap()
        ))
        .await;
    assert!(detail["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["record_id"] != record["id"]));
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn a_cash_refund_is_paid_from_the_open_till_and_shows_in_the_z_report() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let studio = jonas["studio_id"].clone();
    let record = register(&app, &jonas, "cash", 8_500, 500).await;

    let closed = posted(
        &app,
        &refund_path(&record),
        &new_key(),
        &json!({"reason": "double charged"}),
        409,
    )
    .await;
    assert_eq!(closed["error"]["code"], "till_not_open");

    posted(
        &app,
        "/api/v1/till/open",
        &new_key(),
        &json!({"studio_id": studio, "opening_float": 5_000}),
        201,
    )
    .await;
    let poor = posted(
        &app,
        &refund_path(&record),
        &new_key(),
        &json!({"reason": "double charged"}),
        422,
    )
    .await;
    assert_eq!(
        poor["error"]["field"], "amount",
        "the till holds CHF 50.00, not CHF 90.00"
    );
    posted(
        &app,
        "/api/v1/till/movements",
        &new_key(),
        &json!({"studio_id": studio, "direction": "in", "amount": 10_000, "reason": "change from the safe"}),
        201,
    )
    .await;
    posted(
        &app,
        &refund_path(&record),
        &new_key(),
        &json!({"reason": "double charged"}),
        200,
    )
    .await;
    let till = app
        .get_json(&format!(
            "/api/v1/till?studio_id={}",
            studio.as_str().unwrap()
        ))
        .await;
    assert_eq!(till["expected_cash"], 5_000 + 10_000 - 9_000);

    let mut count = serde_json::Map::new();
    count.insert("500".to_string(), json!(12));
    let z = posted(
        &app,
        "/api/v1/till/close",
        &new_key(),
        &json!({"studio_id": studio, "denominations": count}),
        200,
    )
    .await;
    assert_eq!(z["z_report"]["refunds"], 9_000);
    assert_eq!(z["z_report"]["expected_cash"], 6_000);
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn a_service_in_a_payout_cannot_be_refunded_and_a_refunded_one_cannot_be_paid() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let record = register(&app, &jonas, "twint", 6_000, 0).await;
    let today = app::engine::today().to_string();
    posted(
        &app,
        "/api/v1/payouts",
        &new_key(),
        &json!({"employee_id": jonas["id"], "period_start": today, "period_end": today}),
        201,
    )
    .await;
    let refused = posted(
        &app,
        &refund_path(&record),
        &new_key(),
        &json!({"reason": "late complaint"}),
        409,
    )
    .await;
    assert_eq!(refused["error"]["code"], "refund_refused");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("in a payout"));

    // The database refuses the same, whatever code tries it.
    let id = uuid::Uuid::parse_str(record["id"].as_str().unwrap()).unwrap();
    let direct =
        db::query("UPDATE service_records SET refunded_at = '2026-11-24T10:00:00Z' WHERE id = $1")
            .bind(id)
            .execute(app.engine.pool())
            .await;
    assert!(direct
        .unwrap_err()
        .to_string()
        .contains("cannot be refunded"));

    let other = register(&app, &jonas, "twint", 6_000, 0).await;
    posted(
        &app,
        &refund_path(&other),
        &new_key(),
        &json!({"reason": "wrong employee selected"}),
        200,
    )
    .await;
    let payout_id: uuid::Uuid = db::query_scalar("SELECT id FROM payouts LIMIT 1")
        .fetch_one(app.engine.pool())
        .await
        .unwrap();
    let claim = db::query(
        "INSERT INTO payout_lines (payout_id, service_record_id, on_date, amount) VALUES ($1, $2, '2026-11-24', 1)",
    )
    .bind(payout_id)
    .bind(uuid::Uuid::parse_str(other["id"].as_str().unwrap()).unwrap())
    .execute(app.engine.pool())
    .await;
    assert!(claim
        .unwrap_err()
        .to_string()
        .contains("cannot be paid out"));
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn the_audit_finds_a_refund_without_its_reversal() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let record = register(&app, &jonas, "card", 7_000, 0).await;
    let id = uuid::Uuid::parse_str(record["id"].as_str().unwrap()).unwrap();
    db::query("UPDATE service_records SET refunded_at = '2026-11-24T10:00:00Z', refund_reason = 'by hand' WHERE id = $1")
        .bind(id)
        .execute(app.engine.pool())
        .await
        .unwrap();
    let report = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            app::domain::AuditTrigger::Manual,
            None,
            None,
        )
        .await
        .unwrap();
    let finding = report
        .findings
        .iter()
        .find(|f| f.check == app::domain::AuditCheck::RecordWithoutTransfer)
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(finding.entity_id, Some(id));
    assert_eq!(finding.amount_at_stake, app::domain::Rappen(7_000));
    assert!(finding.message.contains("refund"), "{}", finding.message);
}
