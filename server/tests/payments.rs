//! Payment events (issue 6), black-box over HTTP: idempotent ingestion (single and batch),
//! the inbox worker applying events in order with exactly-once effect, parked events with their
//! reasons, the operator's actions with optimistic concurrency, and the ledger transfers behind
//! every money movement. Runs on SQLite, and on PostgreSQL with PAYOUT_ENGINE_TEST_DATABASE.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::{IngestOutcome, PaymentEventRequest};
use app::engine::access::Caller;
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

/// A studio of the demo data.
async fn studio(app: &TestApp) -> String {
    app.engine
        .studios(&Caller::operator("test"))
        .await
        .expect("studios")
        .first()
        .expect("a demo studio")
        .id
        .to_string()
}

fn event(studio: &str, payment: &str, event_type: &str, amount: i64, minute: u32) -> Value {
    json!({
        "provider": "sumup",
        "provider_payment_id": payment,
        "event_type": event_type,
        "amount": amount,
        "currency": "CHF",
        "occurred_at": format!("2026-11-20T10:{minute:02}:00Z"),
        "studio_id": studio,
    })
}

async fn deliver(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/payment-events"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn deliver_batch(app: &TestApp, events: Vec<Value>) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/payment-events/batch"))
        .json(&json!({ "events": events }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn payment_of(app: &TestApp, provider_payment_id: &str) -> Value {
    let payments = app.get_json("/api/v1/payments?limit=500").await;
    payments
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["provider_payment_id"] == provider_payment_id)
        .unwrap_or_else(|| panic!("no payment {provider_payment_id} in {payments}"))
        .clone()
}

async fn balance(app: &TestApp, studio: &str, account: &str) -> i64 {
    let balances = app
        .get_json(&format!("/api/v1/ledger/balances?studio_id={studio}"))
        .await;
    balances
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["account"] == account && b["employee_id"].is_null())
        .unwrap_or_else(|| panic!("no {account} account in {balances}"))["balance"]
        .as_i64()
        .expect("an amount")
}

#[tokio::test]
async fn a_redelivered_event_is_acknowledged_without_effect_and_a_changed_one_is_refused() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let authorized = event(&studio, "pay-1", "authorized", 12_000, 0);
    let (status, first) = deliver(&app, &authorized).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["outcome"], "accepted");
    let key = first["event_key"].as_str().expect("a key").to_string();
    assert!(key.starts_with("pe_"), "{key}");

    let (status, again) = deliver(&app, &authorized).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["event_key"], key.as_str());
    assert_eq!(again["sequence"], first["sequence"]);

    let mut changed = authorized.clone();
    changed["amount"] = json!(13_000);
    let (status, refused) = deliver(&app, &changed).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "event_key_conflict");

    app.drain_payment_inbox().await;
    let summary = app.get_json("/api/v1/payment-events/summary").await;
    assert_eq!(summary, json!({ "received": 0, "applied": 1, "parked": 0 }));
    let payment = payment_of(&app, "pay-1").await;
    assert_eq!(payment["state"], "processing");
    assert_eq!(
        payment["amount"], 12_000,
        "the changed redelivery had no effect"
    );
    assert_eq!(payment["version"], 1);
}

/// The inbox's unique index is (occurred_at, event_key): as strong as the key alone only while
/// a key always comes with the same stored occurred_at. The key is made from the instant to the
/// millisecond, so the same instant written with another offset or more digits must be stored
/// exactly alike (and be a duplicate), in one request and across requests.
#[tokio::test]
async fn the_same_instant_written_differently_is_the_same_event() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let mut first = event(&studio, "pay-t", "authorized", 7_000, 0);
    first["occurred_at"] = json!("2026-11-20T10:00:00.123Z");
    let (status, accepted) = deliver(&app, &first).await;
    assert_eq!(status, 202, "{accepted}");
    for written in [
        "2026-11-20T11:00:00.123+01:00",
        "2026-11-20T10:00:00.123999Z",
        "2026-11-20T09:30:00.1234-00:30",
    ] {
        let mut again = first.clone();
        again["occurred_at"] = json!(written);
        let (status, duplicate) = deliver(&app, &again).await;
        assert_eq!(status, 200, "{written}: {duplicate}");
        assert_eq!(duplicate["outcome"], "duplicate", "{written}");
        assert_eq!(duplicate["sequence"], accepted["sequence"], "{written}");
        let mut changed = again.clone();
        changed["amount"] = json!(7_001);
        let (status, refused) = deliver(&app, &changed).await;
        assert_eq!(status, 409, "{written}: {refused}");
    }
    let mut batch_copy = first.clone();
    batch_copy["occurred_at"] = json!("2026-11-20T11:00:00.123456+01:00");
    let mut later = first.clone();
    later["occurred_at"] = json!("2026-11-20T10:00:00.124Z");
    let report = deliver_batch(&app, vec![batch_copy, later]).await;
    assert_eq!(
        (&report["accepted"], &report["duplicates"]),
        (&json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(app.count("payment_events").await, 2);
    if !on_postgres() {
        // SQLite compares the stored text: if an upgrade of sqlx changes how it writes an
        // instant, redeliveries of events stored before would no longer meet their row in the
        // unique index (occurred_at, event_key). Then the stored rows need converting first.
        let stored: Vec<String> =
            app::engine::db::query_scalar("SELECT occurred_at FROM payment_events ORDER BY seq")
                .fetch_all(app.engine.pool())
                .await
                .expect("stored instants");
        assert_eq!(
            stored,
            [
                "2026-11-20T10:00:00.123+00:00",
                "2026-11-20T10:00:00.124+00:00"
            ]
        );
    }
}

#[tokio::test]
async fn bad_events_get_a_clear_error_naming_the_field_and_nothing_is_stored() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let mut euro = event(&studio, "pay-eur", "captured", 1_000, 0);
    euro["currency"] = json!("EUR");
    let (status, body) = deliver(&app, &euro).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "currency");

    let mut negative = event(&studio, "pay-neg", "captured", 1_000, 0);
    negative["amount"] = json!(-5);
    let (status, body) = deliver(&app, &negative).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("amount"))
    );

    let mut unknown_type = event(&studio, "pay-x", "captured", 1_000, 0);
    unknown_type["event_type"] = json!("chargeback");
    let (status, body) = deliver(&app, &unknown_type).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("event_type"))
    );

    let nowhere = event(
        &uuid::Uuid::new_v4().to_string(),
        "pay-y",
        "authorized",
        1_000,
        0,
    );
    let (status, body) = deliver(&app, &nowhere).await;
    assert_eq!(status, 403, "not a studio of the caller's business: {body}");

    let summary = app.get_json("/api/v1/payment-events/summary").await;
    assert_eq!(summary, json!({ "received": 0, "applied": 0, "parked": 0 }));
}

#[tokio::test]
async fn a_batch_answers_every_event_on_its_own_in_order() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let authorized = event(&studio, "pay-b", "authorized", 5_000, 0);
    let mut broken = event(&studio, "pay-c", "authorized", 5_000, 1);
    broken["amount"] = json!("fifty");
    let report = deliver_batch(
        &app,
        vec![
            authorized.clone(),
            broken,
            event(&studio, "pay-b", "captured", 5_000, 2),
            authorized,
        ],
    )
    .await;
    assert_eq!(
        (
            &report["accepted"],
            &report["duplicates"],
            &report["rejected"]
        ),
        (&json!(2), &json!(1), &json!(1)),
        "{report}"
    );
    let outcomes: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(outcomes, ["accepted", "rejected", "accepted", "duplicate"]);
    assert_eq!(report["results"][1]["error"]["field"], "events[1].amount");

    let too_many: Vec<Value> = (0..501)
        .map(|n| event(&studio, &format!("p{n}"), "authorized", 100, 0))
        .collect();
    let response = app
        .client
        .post(app.url("/api/v1/payment-events/batch"))
        .json(&json!({ "events": too_many }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn a_payment_moves_money_through_the_ledger_and_reordered_events_still_apply_in_order() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let clearing_before = balance(&app, &studio, "card_clearing").await;
    let bank_before = balance(&app, &studio, "bank").await;
    // The capture overtakes its authorisation; the settlement overtakes the refund.
    deliver_batch(
        &app,
        vec![
            event(&studio, "pay-r", "captured", 10_000, 1),
            event(&studio, "pay-r", "settled", 7_000, 3),
            event(&studio, "pay-r", "authorized", 10_000, 0),
        ],
    )
    .await;
    app.drain_payment_inbox().await;
    deliver(
        &app,
        &event(&studio, "pay-r", "partially_refunded", 3_000, 2),
    )
    .await;
    app.drain_payment_inbox().await;

    let payment = payment_of(&app, "pay-r").await;
    assert_eq!(payment["state"], "partially_refunded", "{payment}");
    assert_eq!(
        (
            &payment["captured"],
            &payment["refunded"],
            &payment["settled"]
        ),
        (&json!(10_000), &json!(3_000), &json!(7_000))
    );
    let parked = app.get_json("/api/v1/payment-events?status=parked").await;
    assert_eq!(parked, json!([]), "everything applied once its turn came");
    assert_eq!(
        balance(&app, &studio, "card_clearing").await - clearing_before,
        10_000 - 3_000 - 7_000
    );
    assert_eq!(balance(&app, &studio, "card_sales").await, 7_000);
    assert_eq!(balance(&app, &studio, "bank").await - bank_before, 7_000);
    let totals = app.get_json("/api/v1/payments/totals").await;
    let mine = totals
        .as_array()
        .expect("totals")
        .iter()
        .find(|t| t["studio_id"] == studio.as_str())
        .expect("this studio's totals")
        .clone();
    assert_eq!(mine["card_sales_balance"], 7_000);
    assert_eq!(mine["settled"], 7_000);

    // Redelivering events that were applied long ago changes nothing.
    deliver_batch(
        &app,
        vec![
            event(&studio, "pay-r", "captured", 10_000, 1),
            event(&studio, "pay-r", "authorized", 10_000, 0),
        ],
    )
    .await;
    app.drain_payment_inbox().await;
    assert_eq!(balance(&app, &studio, "card_sales").await, 7_000);
}

#[tokio::test]
async fn events_that_cannot_apply_are_parked_with_their_reason_never_dropped() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    deliver_batch(
        &app,
        vec![
            event(&studio, "pay-p", "authorized", 5_000, 0),
            event(&studio, "pay-p", "captured", 5_000, 1),
            event(&studio, "pay-p", "partially_refunded", 6_000, 2),
            event(&studio, "pay-ghost", "refunded", 1_000, 3),
            event(&studio, "pay-q", "authorized", 2_000, 4),
            event(&studio, "pay-q", "captured", 2_500, 5),
        ],
    )
    .await;
    app.drain_payment_inbox().await;
    let parked = app.get_json("/api/v1/payment-events?status=parked").await;
    let reasons: Vec<(String, String)> = parked
        .as_array()
        .expect("parked events")
        .iter()
        .map(|e| {
            (
                e["provider_payment_id"].as_str().expect("id").to_string(),
                e["reason"].as_str().expect("a reason").to_string(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{parked}");
    assert!(
        reasons[0].0 == "pay-p" && reasons[0].1.contains("over the captured amount"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == "pay-ghost" && reasons[1].1.contains("unknown payment"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].0 == "pay-q" && reasons[2].1.contains("over the authorised amount"),
        "{reasons:?}"
    );
    // The same reasons as data, for a page to word in its reader's language.
    let park_reasons: Vec<&Value> = parked
        .as_array()
        .expect("parked events")
        .iter()
        .map(|e| &e["park_reason"])
        .collect();
    assert_eq!(
        park_reasons,
        [
            &json!({ "kind": "refused", "action": "partially_refunded", "from": "succeeded",
                     "reason": { "code": "over_refundable", "amount": 6_000, "refundable": 5_000, "captured": 5_000 } }),
            &json!({ "kind": "unknown_payment" }),
            &json!({ "kind": "refused", "action": "captured", "from": "processing",
                     "reason": { "code": "over_authorised", "amount": 2_500, "authorised": 2_000 } }),
        ]
    );
    assert_eq!(balance(&app, &studio, "card_sales").await, 5_000);
    let summary = app.get_json("/api/v1/payment-events/summary").await;
    assert_eq!(summary["parked"], 3);
    assert_eq!(summary["applied"], 3);
}

#[tokio::test]
async fn the_server_worker_applies_delivered_events_by_itself() {
    let app = spawn_demo_app().await;
    tokio::spawn(app::engine::payments::run_inbox_worker(
        app.engine.clone(),
        std::future::pending(),
    ));
    let studio = studio(&app).await;
    deliver(&app, &event(&studio, "pay-w", "authorized", 4_000, 0)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let summary = app.get_json("/api/v1/payment-events/summary").await;
        if summary["applied"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not apply the event: {summary}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(payment_of(&app, "pay-w").await["state"], "processing");
}

#[tokio::test]
async fn an_operator_acts_only_on_the_version_they_saw_and_only_legally() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let created = app
        .post(
            "/api/v1/payments",
            &new_key(),
            &json!({ "studio_id": studio, "amount": 8_000 }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let payment: Value = created.json().await.expect("json");
    assert_eq!(
        (&payment["state"], &payment["version"]),
        (&json!("draft"), &json!(1))
    );
    let actions = format!(
        "/api/v1/payments/{}/actions",
        payment["id"].as_str().expect("id")
    );

    let refund = app
        .post(
            &actions,
            &new_key(),
            &json!({ "action": "refunded", "amount": 8_000, "expected_version": 1 }),
        )
        .await;
    assert_eq!(refund.status(), 409);
    let refused: Value = refund.json().await.expect("json");
    assert_eq!(refused["error"]["code"], "illegal_transition");
    assert_eq!(
        refused["error"]["message"],
        "cannot refund: nothing has been captured yet"
    );
    assert_eq!(refused["error"]["payment"]["version"], 1);
    // A page gets the same refusal with its reason as data, to word in its reader's language.
    let refused = app
        .engine
        .act_on_payment(
            &Caller::operator("test"),
            &app::engine::idempotency::IdempotencyKey::parse(Some(&new_key())).expect("a key"),
            app::domain::PaymentId::parse(payment["id"].as_str().expect("id")).expect("an id"),
            &app::domain::PaymentActionRequest {
                action: app::domain::PaymentAction::Refunded,
                amount: Some(8_000),
                expected_version: 1,
            },
        )
        .await
        .expect_err("nothing captured, nothing to refund");
    assert!(
        matches!(
            refused,
            app::domain::AppError::PaymentConflict {
                payment_refusal: Some(app::domain::PaymentRefusalReason::NothingCaptured),
                ..
            }
        ),
        "{refused:?}"
    );

    let key = new_key();
    let authorise = json!({ "action": "authorized", "amount": 8_000, "expected_version": 1 });
    let first: Value = app
        .post(&actions, &key, &authorise)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (&first["state"], &first["version"]),
        (&json!("processing"), &json!(2))
    );
    let replay: Value = app
        .post(&actions, &key, &authorise)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        replay, first,
        "a retry with the same key answers the same and does nothing"
    );

    let stale = app
        .post(
            &actions,
            &new_key(),
            &json!({ "action": "captured", "amount": 8_000, "expected_version": 1 }),
        )
        .await;
    assert_eq!(stale.status(), 409);
    let stale: Value = stale.json().await.expect("json");
    assert_eq!(stale["error"]["code"], "stale_version");
    assert_eq!(stale["error"]["payment"]["version"], 2);
    assert_eq!(stale["error"]["payment"]["state"], "processing");

    let captured: Value = app
        .post(
            &actions,
            &new_key(),
            &json!({ "action": "captured", "amount": 8_000, "expected_version": 2 }),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(captured["state"], "succeeded");
    assert_eq!(balance(&app, &studio, "card_sales").await, 8_000);
}

#[tokio::test]
async fn an_operators_action_applies_the_parked_events_it_unblocks() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    deliver_batch(
        &app,
        vec![
            event(&studio, "pay-op", "authorized", 5_000, 0),
            event(&studio, "pay-op", "partially_refunded", 2_000, 2),
        ],
    )
    .await;
    app.drain_payment_inbox().await;
    let parked = app.get_json("/api/v1/payment-events?status=parked").await;
    assert_eq!(parked.as_array().map(Vec::len), Some(1), "{parked}");
    let payment = payment_of(&app, "pay-op").await;
    assert_eq!(payment["state"], "processing");

    let clearing_before = balance(&app, &studio, "card_clearing").await;
    // The provider's capture never comes; the operator records it.
    let actions = format!(
        "/api/v1/payments/{}/actions",
        payment["id"].as_str().expect("id")
    );
    let response = app
        .post(
            &actions,
            &new_key(),
            &json!({ "action": "captured", "amount": 5_000, "expected_version": payment["version"] }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.expect("json");
    assert_eq!(
        (&after["state"], &after["refunded"], &after["version"]),
        (
            &json!("partially_refunded"),
            &json!(2_000),
            &json!(payment["version"].as_i64().expect("version") + 2)
        ),
        "the capture, then the parked refund: {after}"
    );
    let parked = app.get_json("/api/v1/payment-events?status=parked").await;
    assert_eq!(parked, json!([]), "nothing is left parked");
    assert_eq!(balance(&app, &studio, "card_sales").await, 3_000);
    assert_eq!(
        balance(&app, &studio, "card_clearing").await - clearing_before,
        3_000,
        "captured 5,000, refunded 2,000 of it"
    );
}

/// The worker decides a round on a snapshot, outside the writer's turn (SQLite); an operator who
/// cancels the payment in between must not be written over: the round is decided again and the
/// late capture is parked, not posted.
#[tokio::test]
async fn a_round_decided_before_an_operators_action_is_decided_again_not_written_over_it() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    deliver_batch(
        &app,
        vec![event(&studio, "pay-race", "authorized", 5_000, 0)],
    )
    .await;
    app.drain_payment_inbox().await;
    let payment = payment_of(&app, "pay-race").await;
    assert_eq!(payment["state"], "processing");
    let sales_before = balance(&app, &studio, "card_sales").await;

    deliver_batch(&app, vec![event(&studio, "pay-race", "captured", 5_000, 1)]).await;
    let plan = app
        .engine
        .plan_inbox_round(500)
        .await
        .expect("a snapshot")
        .expect("the capture is waiting");
    assert_eq!(plan.events(), 1);

    let actions = format!(
        "/api/v1/payments/{}/actions",
        payment["id"].as_str().expect("id")
    );
    let cancelled = app
        .post(
            &actions,
            &new_key(),
            &json!({ "action": "cancelled", "expected_version": payment["version"] }),
        )
        .await;
    assert_eq!(cancelled.status(), 200);

    let taken = app
        .engine
        .write_planned_round(plan)
        .await
        .expect("the round is written");
    assert_eq!(taken, 1, "the round still takes the capture");
    let after = payment_of(&app, "pay-race").await;
    assert_eq!(
        (&after["state"], &after["captured"]),
        (&json!("cancelled"), &json!(0)),
        "the operator's cancellation stands: {after}"
    );
    assert_eq!(
        balance(&app, &studio, "card_sales").await,
        sales_before,
        "nothing was captured"
    );
    let parked = app.get_json("/api/v1/payment-events?status=parked").await;
    let parked = parked.as_array().expect("a list");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0]["event_type"], "captured");
    assert!(
        parked[0]["reason"]
            .as_str()
            .expect("a reason")
            .contains("cancelled"),
        "{}",
        parked[0]
    );
    assert_eq!(
        app.engine
            .process_payment_inbox(500)
            .await
            .expect("a round"),
        0,
        "nothing is left waiting"
    );
}

/// 10,000 requests in flight together, each of 2,000 events delivered five times: every event is
/// stored once, applied once and posted once.
#[tokio::test]
async fn ten_thousand_concurrent_deliveries_with_duplicates_post_each_movement_once() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    const PAYMENTS: usize = 1_000;
    let mut events = Vec::new();
    for n in 0..PAYMENTS {
        let id = format!("pay-c{n}");
        events.push(event(&studio, &id, "authorized", 1_000 + n as i64, 0));
        events.push(event(&studio, &id, "captured", 1_000 + n as i64, 1));
    }
    let mut deliveries: Vec<Value> = Vec::new();
    for _ in 0..5 {
        deliveries.extend(events.iter().cloned());
    }
    // Interleave the copies so duplicates race each other.
    deliveries.sort_by_key(|e| {
        (
            e["provider_payment_id"].as_str().map(str::to_string),
            e["event_type"].as_str().map(str::to_string),
        )
    });
    assert_eq!(deliveries.len(), 10_000);
    let worker = tokio::spawn(app::engine::payments::run_inbox_worker(
        app.engine.clone(),
        std::future::pending(),
    ));
    let statuses: Vec<u16> = futures::stream::iter(deliveries)
        .map(|body| {
            let client = app.client.clone();
            let url = app.url("/api/v1/payment-events");
            async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    let duplicates = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        (accepted, duplicates),
        (2 * PAYMENTS, 8 * PAYMENTS),
        "other statuses: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 200 && **s != 202)
            .collect::<Vec<_>>()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.get_json("/api/v1/payment-events/summary").await["received"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker fell behind"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.abort();
    let expected: i64 = (0..PAYMENTS as i64).map(|n| 1_000 + n).sum();
    assert_eq!(balance(&app, &studio, "card_sales").await, expected);
    let transfers: i64 = app::engine::db::query_scalar(
        "SELECT COUNT(*) FROM ledger_transfers WHERE kind = 'payment_captured'",
    )
    .fetch_one(app.engine.pool())
    .await
    .expect("count");
    assert_eq!(
        transfers, PAYMENTS as i64,
        "one capture transfer per payment"
    );
    let summary = app.get_json("/api/v1/payment-events/summary").await;
    assert_eq!(
        summary,
        json!({ "received": 0, "applied": 2 * PAYMENTS, "parked": 0 })
    );
}

/// Single events delivered together share a group commit, and each still gets its own outcome:
/// 600 requests at once, among them first deliveries, redeliveries, redeliveries with another
/// amount and events of a studio that does not exist. The bad ones never fail or drop a good
/// one: every first delivery is accepted and stored once, every redelivery recognised.
#[tokio::test]
async fn concurrent_single_events_sharing_a_commit_each_get_their_own_outcome() {
    let app = spawn_demo_app().await;
    let studio = studio(&app).await;
    let unknown_studio = uuid::Uuid::now_v7().to_string();
    let mut deliveries: Vec<(Value, IngestOutcome, Option<&str>)> = Vec::new();
    for n in 0..150 {
        let id = format!("pay-g{n}");
        let first = event(&studio, &id, "authorized", 500 + n, 0);
        let mut changed = first.clone();
        changed["amount"] = json!(501 + n);
        deliveries.push((first.clone(), IngestOutcome::Accepted, None));
        deliveries.push((first, IngestOutcome::Duplicate, None));
        deliveries.push((changed, IngestOutcome::Rejected, Some("event_key_conflict")));
        deliveries.push((
            event(&unknown_studio, &id, "captured", 500 + n, 1),
            IngestOutcome::Rejected,
            Some("not_found"),
        ));
    }
    // The first delivery of each event has to come first: the others are judged against it.
    let (firsts, rest): (Vec<_>, Vec<_>) = deliveries
        .into_iter()
        .partition(|(_, outcome, _)| *outcome == IngestOutcome::Accepted);
    let ingest = |batch: Vec<(Value, IngestOutcome, Option<&'static str>)>| {
        let engine = app.engine.clone();
        async move {
            let answers = futures::future::join_all(batch.iter().map(|(body, _, _)| {
                let engine = engine.clone();
                let request: PaymentEventRequest =
                    serde_json::from_value(body.clone()).expect("event");
                async move {
                    engine
                        .ingest_payment_events(&Caller::operator("test"), vec![Ok(request)])
                        .await
                        .expect("no request fails as a whole")
                }
            }))
            .await;
            for ((body, outcome, code), report) in batch.iter().zip(answers) {
                assert_eq!(report.results.len(), 1, "{body}");
                let result = &report.results[0];
                assert_eq!(result.outcome, *outcome, "{body}: {result:?}");
                assert_eq!(
                    result.error.as_ref().map(|e| e.code.as_str()),
                    *code,
                    "{body}: {result:?}"
                );
            }
        }
    };
    ingest(firsts).await;
    ingest(rest).await;
    let stored: i64 = app::engine::db::query_scalar(
        "SELECT COUNT(*) FROM payment_events WHERE provider_payment_id LIKE 'pay-g%'",
    )
    .fetch_one(app.engine.pool())
    .await
    .expect("count");
    assert_eq!(stored, 150, "each first delivery stored once, nothing else");
}
