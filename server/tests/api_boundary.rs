//! The JSON API's boundary: idempotency (400 / 409 / 422 / replay, per the IETF Idempotency-Key
//! draft) and bad input (each case answered 4xx naming the field, with the database unchanged).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::engine::db;
use common::*;
use serde_json::{json, Value};

struct Fixture {
    app: TestApp,
    jonas: Value,
    seefeld_service: Value,
    bern_service: Value,
}

async fn fixture() -> Fixture {
    let app = spawn_demo_app().await;
    let jonas = app.employee_named("Jonas Keller").await;
    let services = app
        .engine
        .services(&app::engine::access::Caller::operator("test"))
        .await
        .unwrap();
    let seefeld = services
        .iter()
        .find(|s| s.studio_id.to_string() == jonas["studio_id"].as_str().unwrap())
        .unwrap();
    let bern = services
        .iter()
        .find(|s| s.studio_id.to_string() != jonas["studio_id"].as_str().unwrap())
        .unwrap();
    Fixture {
        jonas,
        seefeld_service: json!(seefeld.id),
        bern_service: json!(bern.id),
        app,
    }
}

impl Fixture {
    fn record(&self) -> Value {
        json!({
            "employee_id": self.jonas["id"],
            "service_id": self.seefeld_service,
            "price": 8_500,
            "tip": 500,
            "currency": "CHF",
            "payment_method": "card",
            "performed_on": "2026-11-02",
        })
    }
}

#[tokio::test]
async fn registering_a_service_returns_the_record_with_its_commission() {
    let f = fixture().await;
    let before = f.app.employee_named("Jonas Keller").await;
    let response = f
        .app
        .post("/api/v1/service-records", &new_key(), &f.record())
        .await;
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.unwrap();
    assert_eq!(record["price"], 8_500);
    assert_eq!(record["tip"], 500);
    assert_eq!(record["currency"], "CHF");
    assert_eq!(record["commission_bps"], 4_000);
    assert_eq!(record["commission"], 3_400, "40 % of CHF 85.00");
    let after = f.app.employee_named("Jonas Keller").await;
    assert_eq!(
        after["unpaid_record_count"].as_i64().unwrap(),
        before["unpaid_record_count"].as_i64().unwrap() + 1
    );
    assert_eq!(
        after["unpaid_total"].as_i64().unwrap(),
        before["unpaid_total"].as_i64().unwrap() + 3_900
    );
}

#[tokio::test]
async fn a_replay_returns_the_first_response_and_writes_nothing() {
    let f = fixture().await;
    let key = new_key();
    let first: Value = f
        .app
        .post("/api/v1/service-records", &key, &f.record())
        .await
        .json()
        .await
        .unwrap();
    let before = f.app.snapshot().await;
    let replay = f
        .app
        .post("/api/v1/service-records", &key, &f.record())
        .await;
    assert_eq!(replay.status(), 201);
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        first,
        "the same record, same id"
    );
    assert_eq!(f.app.snapshot().await, before);

    // Payouts too: replaying the commit returns the same payout, never a second one.
    let lara = f.app.employee_named("Lara Meier").await;
    let key = new_key();
    let payout: Value = f
        .app
        .post(
            "/api/v1/payouts",
            &key,
            &TestApp::window_request(&lara["id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    let replay = f
        .app
        .post(
            "/api/v1/payouts",
            &key,
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], payout["id"]);
    assert_eq!(f.app.payouts_of(&lara["id"], None).await.len(), 1);
}

#[tokio::test]
async fn a_missing_idempotency_key_is_refused_with_400() {
    let f = fixture().await;
    let before = f.app.snapshot().await;
    let response = f
        .app
        .client
        .post(f.app.url("/api/v1/service-records"))
        .json(&f.record())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "idempotency_key_missing"
    );
    let lara = f.app.employee_named("Lara Meier").await;
    let response = f
        .app
        .client
        .post(f.app.url("/api/v1/payouts"))
        .json(&TestApp::window_request(&lara["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(f.app.snapshot().await, before);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_refused_with_422() {
    let f = fixture().await;
    let key = new_key();
    assert_eq!(
        f.app
            .post("/api/v1/service-records", &key, &f.record())
            .await
            .status(),
        201
    );
    let before = f.app.snapshot().await;
    let mut changed = f.record();
    changed["price"] = json!(9_000);
    let response = f.app.post("/api/v1/service-records", &key, &changed).await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
    assert_eq!(f.app.snapshot().await, before);
}

/// Holds `key` for a payout `request` as an in-flight request would (same fingerprint), with its
/// lease ending `lease` from now.
async fn hold_payout_key(f: &Fixture, key: &str, request: &Value, lease: chrono::Duration) {
    let period: app::domain::PayoutRequest = serde_json::from_value(request.clone()).unwrap();
    let validated = app::engine::payouts::PayoutPeriod::parse(&period).unwrap();
    let fingerprint =
        app::engine::idempotency::fingerprint(app::engine::payouts::COMMIT_PAYOUT, &validated)
            .unwrap();
    db::query(
        "INSERT INTO idempotency_keys (operation, key, fingerprint, state, locked_until, created_at)
         VALUES ('commit_payout', $1, $2, 'in_flight', $3, $4)",
    )
    // Keys live in their client's namespace.
    .bind(format!("{} {key}", f.app.owner_actor))
    .bind(&fingerprint)
    .bind(chrono::Utc::now() + lease)
    .bind(chrono::Utc::now())
    .execute(f.app.engine.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn the_same_key_while_the_first_request_is_in_flight_is_refused_with_409() {
    let f = fixture().await;
    let lara = f.app.employee_named("Lara Meier").await;
    let request = TestApp::window_request(&lara["id"]);
    let key = new_key();
    hold_payout_key(&f, &key, &request, chrono::Duration::seconds(60)).await;

    let before = f.app.snapshot().await;
    let response = f.app.post("/api/v1/payouts", &key, &request).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "idempotency_key_in_flight"
    );
    assert_eq!(f.app.snapshot().await, before);
}

#[tokio::test]
async fn a_key_abandoned_by_a_dead_request_is_taken_over_after_its_lease() {
    let f = fixture().await;
    let lara = f.app.employee_named("Lara Meier").await;
    let request = TestApp::window_request(&lara["id"]);
    let key = new_key();
    // Held by a request that died: its lease ended five seconds ago.
    hold_payout_key(&f, &key, &request, chrono::Duration::seconds(-5)).await;
    let response = f.app.post("/api/v1/payouts", &key, &request).await;
    assert_eq!(response.status(), 201);
    assert_eq!(f.app.payouts_of(&lara["id"], None).await.len(), 1);
}

/// Sends `body` (raw bytes with `content_type`) and asserts the status, the field named, and that
/// no table changed.
async fn assert_refused(
    f: &Fixture,
    body: Vec<u8>,
    content_type: &str,
    status: u16,
    field: Option<&str>,
    case: &str,
) {
    let before = f.app.snapshot().await;
    let response = f
        .app
        .client
        .post(f.app.url("/api/v1/service-records"))
        .header("Idempotency-Key", new_key())
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), status, "{case}");
    let error: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{case}: body is not JSON: {e}"));
    assert!(error["error"]["code"].is_string(), "{case}: {error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}: {error}"
    );
    if let Some(field) = field {
        assert_eq!(error["error"]["field"], field, "{case}: {error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(field),
            "{case}: the message names the field"
        );
    }
    assert_eq!(f.app.snapshot().await, before, "{case}: nothing written");
}

/// (case, body, content type, expected status, field the error must name)
type BadInput = (
    &'static str,
    Vec<u8>,
    &'static str,
    u16,
    Option<&'static str>,
);

fn with(f: &Fixture, field: &str, value: Value) -> Vec<u8> {
    let mut body = f.record();
    body[field] = value;
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn bad_service_records_are_refused_naming_the_field_and_nothing_is_written() {
    let f = fixture().await;
    let json = "application/json";
    let cases: Vec<BadInput> = vec![
        (
            "negative price",
            with(&f, "price", json!(-100)),
            json,
            422,
            Some("price"),
        ),
        (
            "zero price",
            with(&f, "price", json!(0)),
            json,
            422,
            Some("price"),
        ),
        (
            "over 100,000 CHF",
            with(&f, "price", json!(10_000_001)),
            json,
            422,
            Some("price"),
        ),
        (
            "beyond i64",
            br#"{"price": 99999999999999999999}"#.to_vec(),
            json,
            422,
            Some("price"),
        ),
        (
            "fractional Rappen",
            with(&f, "price", json!(85.5)),
            json,
            422,
            Some("price"),
        ),
        (
            "negative tip",
            with(&f, "tip", json!(-1)),
            json,
            422,
            Some("tip"),
        ),
        (
            "other currency",
            with(&f, "currency", json!("EUR")),
            json,
            422,
            Some("currency"),
        ),
        (
            "unknown employee",
            with(&f, "employee_id", json!(uuid::Uuid::new_v4())),
            json,
            422,
            Some("employee_id"),
        ),
        (
            "malformed employee uuid",
            with(&f, "employee_id", json!("not-a-uuid")),
            json,
            422,
            Some("employee_id"),
        ),
        (
            "unknown service",
            with(&f, "service_id", json!(uuid::Uuid::new_v4())),
            json,
            422,
            Some("service_id"),
        ),
        (
            "service of the other studio",
            with(&f, "service_id", f.bern_service.clone()),
            json,
            422,
            Some("service_id"),
        ),
        (
            "malformed date",
            with(&f, "performed_on", json!("2026-13-45")),
            json,
            422,
            Some("performed_on"),
        ),
        (
            "date in the future",
            with(&f, "performed_on", json!("2999-01-01")),
            json,
            422,
            Some("performed_on"),
        ),
        (
            "unknown payment method",
            with(&f, "payment_method", json!("bitcoin")),
            json,
            422,
            Some("payment_method"),
        ),
        (
            "unknown field",
            with(&f, "discount", json!(5)),
            json,
            422,
            None,
        ),
        (
            "missing field",
            br#"{"price": 100}"#.to_vec(),
            json,
            422,
            None,
        ),
        ("not JSON", b"price=100".to_vec(), json, 400, None),
        (
            "wrong content type",
            serde_json::to_vec(&f.record()).unwrap(),
            "text/plain",
            415,
            None,
        ),
        (
            "invalid UTF-8",
            b"{\"payment_method\": \"\xff\xfe\"}".to_vec(),
            json,
            400,
            None,
        ),
        (
            "oversized body (over 64 KB)",
            format!("{{\"x\": \"{}\"}}", "a".repeat(70 * 1024)).into_bytes(),
            json,
            413,
            None,
        ),
    ];
    for (case, body, content_type, status, field) in cases {
        assert_refused(&f, body, content_type, status, field, case).await;
    }
}

#[tokio::test]
async fn bad_payout_requests_are_refused_naming_the_field_and_nothing_is_written() {
    let f = fixture().await;
    let lara = f.app.employee_named("Lara Meier").await;
    let cases = vec![
        (
            "end before start",
            json!({"employee_id": lara["id"], "period_start": "2026-10-30", "period_end": "2026-09-01"}),
            422,
            "period_end",
        ),
        (
            "malformed date",
            json!({"employee_id": lara["id"], "period_start": "01.09.2026", "period_end": "2026-10-30"}),
            422,
            "period_start",
        ),
        (
            "unknown employee",
            json!({"employee_id": uuid::Uuid::new_v4(), "period_start": "2026-09-01", "period_end": "2026-10-30"}),
            422,
            "employee_id",
        ),
        (
            "malformed uuid",
            json!({"employee_id": "42", "period_start": "2026-09-01", "period_end": "2026-10-30"}),
            422,
            "employee_id",
        ),
        (
            "period over a year",
            json!({"employee_id": lara["id"], "period_start": "2024-01-01", "period_end": "2026-10-30"}),
            422,
            "period_end",
        ),
    ];
    for (case, body, status, field) in cases {
        let before = f.app.snapshot().await;
        let response = f.app.post("/api/v1/payouts", &new_key(), &body).await;
        assert_eq!(response.status().as_u16(), status, "{case}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{case}: {error}");
        assert_eq!(f.app.snapshot().await, before, "{case}: nothing written");
    }
    let bad_id = f
        .app
        .post("/api/v1/payouts/not-a-uuid/finish", &new_key(), &json!({}))
        .await;
    assert_eq!(bad_id.status(), 422);
    assert_eq!(
        bad_id.json::<Value>().await.unwrap()["error"]["field"],
        "payout_id"
    );
    let unknown = f
        .app
        .post(
            &format!("/api/v1/payouts/{}/finish", uuid::Uuid::new_v4()),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let bad_state = f
        .app
        .client
        .get(f.app.url("/api/v1/payouts?state=paid"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_state.status(), 422);
}

#[tokio::test]
async fn health_reports_the_backend() {
    let app = spawn_app().await;
    let health = app.get_json("/healthz").await;
    let backend = if on_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(health, json!({"status": "ok", "database": backend}));
}
