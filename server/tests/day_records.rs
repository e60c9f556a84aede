//! Day records through the JSON API: recording a working day, once per key and once per date,
//! refusing bad input without writing, and the payout settling its deduction and top-up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};

fn day(employee: &Value, worked_on: &str) -> Value {
    json!({
        "employee_id": employee["id"],
        "worked_on": worked_on,
        "deduction": 5_000,
        "guaranteed_minimum": 20_000,
        "currency": "CHF",
        "note": "chair rent",
    })
}

#[tokio::test]
async fn a_recorded_day_lowers_what_is_owed_by_its_deduction_and_is_listed() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let before = app.employee_named("Jonas Keller").await;
    let mut request = day(&jonas, "2026-11-02");
    request["guaranteed_minimum"] = json!(0);
    let key = new_key();
    let response = app.post("/api/v1/day-records", &key, &request).await;
    assert_eq!(response.status(), 201);
    let recorded: Value = response.json().await.unwrap();
    assert_eq!(recorded["worked_on"], "2026-11-02");
    assert_eq!(recorded["deduction"], 5_000);
    assert_eq!(recorded["currency"], "CHF");
    assert_eq!(recorded["note"], "chair rent");
    assert_eq!(recorded["payout_id"], Value::Null);

    let after = app.employee_named("Jonas Keller").await;
    assert_eq!(
        after["unpaid_record_count"].as_i64().unwrap(),
        before["unpaid_record_count"].as_i64().unwrap() + 1
    );
    assert_eq!(
        after["unpaid_total"].as_i64().unwrap(),
        before["unpaid_total"].as_i64().unwrap() - 5_000
    );

    let listed = app
        .get_json(&format!(
            "/api/v1/day-records?employee_id={}&limit=5",
            jonas["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(listed[0]["id"], recorded["id"], "newest day first");

    let replay = app.post("/api/v1/day-records", &key, &request).await;
    assert_eq!(replay.status(), 201);
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(
        replayed["id"], recorded["id"],
        "a replay returns the first record"
    );
}

#[tokio::test]
async fn a_second_record_for_the_same_day_is_refused_with_409_and_writes_nothing() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let first = app
        .post(
            "/api/v1/day-records",
            &new_key(),
            &day(&jonas, "2026-11-02"),
        )
        .await;
    assert_eq!(first.status(), 201);
    let before = app.snapshot().await;
    let second = app
        .post(
            "/api/v1/day-records",
            &new_key(),
            &day(&jonas, "2026-11-02"),
        )
        .await;
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "day_already_recorded");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn bad_day_records_get_422_naming_the_field_and_write_nothing() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let base = day(&jonas, "2026-11-02");
    let cases: Vec<(&str, Value)> = vec![
        ("deduction", json!(-1)),
        ("deduction", json!(10_000_001)),
        ("guaranteed_minimum", json!(-500)),
        ("worked_on", json!("2099-01-01")),
        ("worked_on", json!("1999-12-31")),
        ("employee_id", json!(uuid::Uuid::new_v4())),
        ("currency", json!("EUR")),
        ("note", json!("x".repeat(501))),
        ("worked_on", json!("2026-13-01")),
        ("deduction", json!("50.00")),
        ("employee_id", json!("not-a-uuid")),
    ];
    let before = app.snapshot().await;
    for (field, value) in cases {
        let mut request = base.clone();
        request[field] = value.clone();
        let response = app.post("/api/v1/day-records", &new_key(), &request).await;
        assert_eq!(response.status(), 422, "{field} = {value}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{field} = {value}: {body}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_payout_settles_the_day_top_up_minus_deduction() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    // A day with no services: the guaranteed CHF 200.00 is topped up in full, less CHF 50.00 rent.
    let response = app
        .post(
            "/api/v1/day-records",
            &new_key(),
            &day(&jonas, "2026-11-03"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let request = json!({
        "employee_id": jonas["id"],
        "period_start": "2026-11-03",
        "period_end": "2026-11-03",
    });
    let committed = app.post("/api/v1/payouts", &new_key(), &request).await;
    assert_eq!(committed.status(), 201);
    let payout: Value = committed.json().await.unwrap();
    assert_eq!(payout["state"], "committed");
    assert_eq!(payout["record_count"], 1);
    assert_eq!(payout["total"], 15_000);
    let detail = app
        .get_json(&format!(
            "/api/v1/payouts/{}",
            payout["id"].as_str().unwrap()
        ))
        .await;
    let line = &detail["lines"][0];
    assert_eq!(line["kind"], "day");
    assert_eq!(line["top_up"], 20_000);
    assert_eq!(line["deduction"], 5_000);

    let listed = app.get_json("/api/v1/day-records?limit=1").await;
    assert_eq!(
        listed[0]["payout_id"], payout["id"],
        "the day shows its payout"
    );
}

#[tokio::test]
async fn a_recorded_deduction_is_posted_to_the_employees_payable_at_once() {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let response = app
        .post(
            "/api/v1/day-records",
            &new_key(),
            &day(&jonas, "2026-11-02"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let recorded: Value = response.json().await.unwrap();
    let transfers = app
        .get_json(&format!(
            "/api/v1/ledger/transfers?cause_id={}",
            recorded["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(transfers.as_array().unwrap().len(), 1);
    assert_eq!(transfers[0]["kind"], "day_recorded");
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
async fn the_reception_form_gets_its_refusals_as_data_to_word_in_its_own_language() {
    use app::domain::{AppError, FieldProblem, Problem};
    use leptos::server_fn::ServerFn;
    let app = spawn_demo_app().await;
    let owner = app.sign_in("owner@demo.test", "owner-demo").await.unwrap();
    let jonas = app.employee_named("Jonas Keller").await;
    let jonas_id = jonas["id"].as_str().unwrap().to_string();
    let send = |key: String, deduction: &'static str| {
        owner
            .post(app.url(<app::api::RegisterDay as ServerFn>::PATH))
            .header("Origin", &app.address)
            .form(&[
                ("idempotency_key", key.as_str()),
                ("employee_id", jonas_id.as_str()),
                ("worked_on", "2026-11-02"),
                ("deduction", deduction),
                ("guaranteed_minimum", ""),
                ("note", ""),
            ])
            .send()
    };

    // A mistyped amount: the page gets the field and what is wrong with it, the API's English
    // sentence beside it.
    let (status, error) = server_fn_refusal(send(new_key(), "12.345").await.unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        AppError::invalid(
            "deduction",
            FieldProblem::TooManyDecimals {
                text: "12.345".into()
            }
        )
    );
    assert_eq!(
        error.to_string(),
        "deduction: '12.345' has more than two decimals; CHF amounts are in whole Rappen"
    );

    // The day recorded, then once more: the refusal names the date as a date, not a sentence.
    let first = send(new_key(), "25.00").await.unwrap();
    assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
    let before = app.snapshot().await;
    let again = new_key();
    let expected = AppError::conflict_with(Problem::DayAlreadyRecorded {
        worked_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
    });
    let (status, error) = server_fn_refusal(send(again.clone(), "25.00").await.unwrap()).await;
    assert_eq!((status, &error), (409, &expected));
    assert_eq!(error.code(), "day_already_recorded");
    // The same key again (a retried request) gets the same refusal, problem included.
    let (status, error) = server_fn_refusal(send(again, "25.00").await.unwrap()).await;
    assert_eq!((status, error), (409, expected));
    assert_eq!(app.snapshot().await, before);
}
