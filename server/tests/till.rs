//! The cash register through the JSON API: open with a float, cash sales and cash in flow in, a
//! cash payout flows out, closing with a variance needs a reason, the Z report is final, and the
//! audit finds the till matching its postings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::engine::db;
use common::*;
use serde_json::{json, Value};

async fn posted(app: &TestApp, path: &str, body: &Value, status: u16) -> Value {
    let response = app.post(path, &new_key(), body).await;
    let got = response.status().as_u16();
    let json: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{path}: {json}");
    json
}

#[tokio::test]
async fn a_day_at_the_till_from_opening_float_to_z_report() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let studio = jonas["studio_id"].clone();
    let service = app
        .engine
        .services(&app::engine::access::Caller::operator("test"))
        .await
        .unwrap()
        .into_iter()
        .find(|s| json!(s.studio_id) == studio)
        .unwrap();
    let today = app::engine::today().to_string();

    // A cash payout needs an open till.
    let refused = posted(
        &app,
        "/api/v1/payouts",
        &json!({"employee_id": jonas["id"], "period_start": "2026-10-01", "period_end": "2026-10-30", "method": "cash"}),
        409,
    )
    .await;
    assert_eq!(refused["error"]["code"], "till_not_open");

    let opened = posted(
        &app,
        "/api/v1/till/open",
        &json!({"studio_id": studio, "opening_float": 20_000}),
        201,
    )
    .await;
    assert_eq!(opened["state"], "open");
    assert_eq!(opened["expected_cash"], 20_000);
    let again = posted(
        &app,
        "/api/v1/till/open",
        &json!({"studio_id": studio, "opening_float": 20_000}),
        409,
    )
    .await;
    assert_eq!(again["error"]["code"], "till_already_open");

    for (method, price, tip) in [
        ("cash", 8_500, 500),
        ("card", 12_000, 0),
        ("cash", 5_500, 0),
    ] {
        posted(
            &app,
            "/api/v1/service-records",
            &json!({"employee_id": jonas["id"], "service_id": service.id, "price": price, "tip": tip,
                    "payment_method": method, "performed_on": today}),
            201,
        )
        .await;
    }
    let till = app
        .get_json(&format!(
            "/api/v1/till?studio_id={}",
            studio.as_str().unwrap()
        ))
        .await;
    assert_eq!(
        till["expected_cash"],
        20_000 + 9_000 + 5_500,
        "cash sales and tips flow in, card does not"
    );

    let short = posted(
        &app,
        "/api/v1/till/movements",
        &json!({"studio_id": studio, "direction": "out", "amount": 1_000_000, "reason": "bank"}),
        422,
    )
    .await;
    assert_eq!(short["error"]["field"], "amount");
    let no_reason = posted(
        &app,
        "/api/v1/till/movements",
        &json!({"studio_id": studio, "direction": "in", "amount": 500_000, "reason": " "}),
        422,
    )
    .await;
    assert_eq!(no_reason["error"]["field"], "reason");
    posted(
        &app,
        "/api/v1/till/movements",
        &json!({"studio_id": studio, "direction": "in", "amount": 500_000, "reason": "change fund from the safe"}),
        201,
    )
    .await;

    let payout = posted(
        &app,
        "/api/v1/payouts",
        &json!({"employee_id": jonas["id"], "period_start": "2026-10-01", "period_end": "2026-10-30", "method": "cash"}),
        201,
    )
    .await;
    assert_eq!(payout["state"], "committed");
    assert_eq!(payout["method"], "cash");
    let paid = payout["total"].as_i64().unwrap();
    let expected = 20_000 + 9_000 + 5_500 + 500_000 - paid;
    let till = app
        .get_json(&format!(
            "/api/v1/till?studio_id={}",
            studio.as_str().unwrap()
        ))
        .await;
    assert_eq!(till["expected_cash"], expected);

    // Count CHF 5.00 short: the reason is required, then the variance is posted.
    let mut count = serde_json::Map::new();
    let mut left = expected - 500;
    for denomination in app::domain::CHF_DENOMINATIONS {
        if left >= denomination {
            count.insert(denomination.to_string(), json!(left / denomination));
            left %= denomination;
        }
    }
    assert_eq!(left, 0);
    let unexplained = posted(
        &app,
        "/api/v1/till/close",
        &json!({"studio_id": studio, "denominations": count}),
        422,
    )
    .await;
    assert_eq!(unexplained["error"]["field"], "variance_reason");
    assert!(unexplained["error"]["message"]
        .as_str()
        .unwrap()
        .contains("short by CHF 5.00"));
    let closed = posted(
        &app,
        "/api/v1/till/close",
        &json!({"studio_id": studio, "denominations": count, "variance_reason": "change given twice"}),
        200,
    )
    .await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["variance"], -500);
    let z = &closed["z_report"];
    assert_eq!(z["opening_float"], 20_000);
    assert_eq!(z["expected_cash"], expected);
    assert_eq!(z["counted_cash"], expected - 500);
    assert_eq!(z["variance_reason"], "change given twice");
    assert_eq!(z["cash_in"], 500_000);
    assert_eq!(z["cash_payouts"], paid);
    assert_eq!(z["tips"], 500);
    let cash = z["sales_by_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["payment_method"] == "cash")
        .unwrap();
    assert_eq!(cash["count"], 2);
    assert_eq!(cash["gross"], 14_000);
    let vat = &z["sales_by_vat_rate"][0];
    assert_eq!(vat["vat_rate_bps"], 810);
    assert_eq!(vat["gross"], 26_000);
    assert_eq!(vat["vat"], 1_948, "8.1 % contained in CHF 260.00");
    assert_eq!(vat["net"], 26_000 - 1_948);

    // Final: no reopening, no movements, no edits.
    let reopen = posted(
        &app,
        "/api/v1/till/open",
        &json!({"studio_id": studio, "opening_float": 0}),
        409,
    )
    .await;
    assert_eq!(reopen["error"]["code"], "till_already_closed");
    let late = posted(
        &app,
        "/api/v1/till/movements",
        &json!({"studio_id": studio, "direction": "in", "amount": 100, "reason": "late"}),
        409,
    )
    .await;
    assert_eq!(late["error"]["code"], "till_not_open");
    let edit = db::query("UPDATE till_sessions SET counted_cash = 0")
        .execute(app.engine.pool())
        .await;
    assert!(edit.unwrap_err().to_string().contains("unalterable"));

    let stored = app
        .get_json(&format!(
            "/api/v1/till/sessions/{}",
            closed["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["z_report"], closed["z_report"]);
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
