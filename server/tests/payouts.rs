//! Payout engine behaviour through the JSON API: the 212-record payout, failures at every phase,
//! Finish, cancel, concurrency, and the red-banner queries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::{Payout, PayoutPhase, PayoutState};
use app::engine::db;
use app::engine::faults::{Fault, FaultKind};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const LARA: &str = "Lara Meier";

#[tokio::test]
async fn the_212_record_payout_commits_every_line_with_the_exact_total() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    assert_eq!(lara["unpaid_record_count"], 212);
    assert_eq!(lara["unpaid_total"], 1_808_000);

    let payout = app.commit_payout_of(LARA).await;
    assert_eq!(payout["state"], "committed");
    assert_eq!(payout["phase"], "committed");
    assert_eq!(payout["record_count"], 212);
    assert_eq!(payout["total"], 1_808_000);
    assert_eq!(payout["currency"], "CHF");
    assert_eq!(payout["failed_phase"], Value::Null);

    let detail = app
        .get_json(&format!(
            "/api/v1/payouts/{}",
            payout["id"].as_str().unwrap()
        ))
        .await;
    let lines = detail["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 212);
    assert_eq!(
        lines
            .iter()
            .map(|l| l["amount"].as_i64().unwrap())
            .sum::<i64>(),
        1_808_000
    );

    let after = app.employee_named(LARA).await;
    assert_eq!(after["unpaid_record_count"], 0, "every record is now paid");
    assert_eq!(after["unpaid_total"], 0);
    assert_eq!(app.double_claims().await, 0);
}

async fn assert_finish_completes(app: &TestApp, payout_id: &str) {
    let finished = app
        .post(
            &format!("/api/v1/payouts/{payout_id}/finish"),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(
        finished.status(),
        200,
        "{}",
        finished.text().await.unwrap_or_default()
    );
    let finished: Value = finished.json().await.unwrap();
    assert_eq!(finished["state"], "committed");
    assert_eq!(finished["record_count"], 212);
    assert_eq!(
        finished["total"], 1_808_000,
        "the same total as an uninterrupted payout"
    );
    assert_eq!(app.double_claims().await, 0, "no record paid twice");
    let lara = app.employee_named(LARA).await;
    assert_eq!(lara["unpaid_record_count"], 0);
    assert_eq!(
        app.payouts_of(&lara["id"], None).await.len(),
        1,
        "still exactly one payout"
    );
    assert!(
        app.engine
            .payouts_needing_attention(&app::engine::access::Caller::operator("test"))
            .await
            .unwrap()
            .is_empty(),
        "the banner is gone"
    );
}

#[tokio::test]
async fn a_failure_in_each_phase_leaves_a_visible_failed_payout_that_finish_completes() {
    for phase in [
        PayoutPhase::LinesClaimed,
        PayoutPhase::TotalsVerified,
        PayoutPhase::Committed,
    ] {
        let app = spawn_demo_app().await;
        let lara = app.employee_named(LARA).await;
        app.engine.faults().arm(Fault {
            phase,
            kind: FaultKind::Error,
            times: 1,
        });

        let response = app
            .post(
                "/api/v1/payouts",
                &new_key(),
                &TestApp::window_request(&lara["id"]),
            )
            .await;
        assert_eq!(response.status(), 500, "phase {phase}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "payout_failed");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Finish payout"));
        let failed = &body["error"]["payout"];
        assert_eq!(failed["state"], "failed");
        assert_eq!(failed["failed_phase"], phase.as_str());
        assert!(failed["error"].as_str().unwrap().contains("injected fault"));

        // Visible: in the failed list and in the banner query.
        let listed = app.get_json("/api/v1/payouts?state=failed").await;
        assert_eq!(listed.as_array().unwrap().len(), 1, "phase {phase}");
        let banner = app
            .engine
            .payouts_needing_attention(&app::engine::access::Caller::operator("test"))
            .await
            .unwrap();
        assert_eq!(banner.len(), 1);
        assert_eq!(banner[0].expected_record_count, 212);

        assert_finish_completes(&app, failed["id"].as_str().unwrap()).await;
    }
}

#[tokio::test]
async fn a_crash_between_phases_leaves_a_pending_payout_in_the_banner_that_finish_completes() {
    for phase in [
        PayoutPhase::LinesClaimed,
        PayoutPhase::TotalsVerified,
        PayoutPhase::Committed,
    ] {
        let app = spawn_demo_app().await;
        let lara = app.employee_named(LARA).await;
        app.engine.faults().arm(Fault {
            phase,
            kind: FaultKind::Crash,
            times: 1,
        });

        let response = app
            .post(
                "/api/v1/payouts",
                &new_key(),
                &TestApp::window_request(&lara["id"]),
            )
            .await;
        assert_eq!(response.status(), 503, "phase {phase}");
        let pending = app
            .payouts_of(&lara["id"], Some(PayoutState::Pending))
            .await;
        assert_eq!(
            pending.len(),
            1,
            "the interrupted payout stays pending (phase {phase})"
        );
        let stored_phase = pending[0]["phase"].as_str().unwrap();
        assert_ne!(
            stored_phase,
            phase.as_str(),
            "stopped before the crashed phase"
        );
        // The test engine's grace period is zero, so the banner shows it at once.
        assert_eq!(
            app.engine
                .payouts_needing_attention(&app::engine::access::Caller::operator("test"))
                .await
                .unwrap()
                .len(),
            1
        );

        assert_finish_completes(&app, pending[0]["id"].as_str().unwrap()).await;
    }
}

#[tokio::test]
async fn finishing_twice_or_concurrently_completes_once() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::TotalsVerified,
        kind: FaultKind::Error,
        times: 1,
    });
    let body: Value = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = body["error"]["payout"]["id"].as_str().unwrap().to_string();

    let finishes = (0..10).map(|_| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post(
                &format!("/api/v1/payouts/{id}/finish"),
                &new_key(),
                &json!({}),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures::future::join_all(finishes).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let committed = app
        .payouts_of(&lara["id"], Some(PayoutState::Committed))
        .await;
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0]["total"], 1_808_000);
    let events: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM events WHERE kind IN ('payout.committed', 'payout.finished') AND entity_id = $1",
    )
    .bind(app::domain::PayoutId::parse(&id).unwrap())
    .fetch_one(app.engine.pool())
        .await
        .unwrap();
    assert_eq!(events, 1, "committed exactly once");
    assert_eq!(app.double_claims().await, 0);
}

#[tokio::test]
async fn fifty_concurrent_commits_for_the_same_employee_and_period_yield_one_payout() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    let request = TestApp::window_request(&lara["id"]);
    let attempts = (0..50).map(|_| {
        let app = &app;
        let request = request.clone();
        async move {
            app.post("/api/v1/payouts", &new_key(), &request)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [201, 409, 422].contains(s)),
        "losers are refused with a conflict or nothing-to-pay, never a server error: {statuses:?}"
    );
    let payouts = app.payouts_of(&lara["id"], None).await;
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0]["state"], "committed");
    assert_eq!(payouts[0]["total"], 1_808_000);
    assert_eq!(app.double_claims().await, 0);
}

#[tokio::test]
async fn a_second_payout_while_one_is_unfinished_is_refused_with_a_conflict() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::LinesClaimed,
        kind: FaultKind::Error,
        times: 1,
    });
    let first = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(first.status(), 500);
    let second = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payout_in_progress");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("finish or cancel it first"));
}

#[tokio::test]
async fn cancelling_a_failed_payout_releases_its_records_for_a_new_payout() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::Committed,
        kind: FaultKind::Error,
        times: 1,
    });
    let body: Value = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = body["error"]["payout"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.employee_named(LARA).await["unpaid_record_count"],
        0,
        "a failed payout still holds its records"
    );

    let cancelled = app
        .post(
            &format!("/api/v1/payouts/{id}/cancel"),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["state"],
        "cancelled"
    );
    assert_eq!(
        app.employee_named(LARA).await["unpaid_record_count"],
        212,
        "records are payable again"
    );

    let again = app
        .post(
            &format!("/api/v1/payouts/{id}/finish"),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 409, "a cancelled payout cannot be finished");
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"]["code"],
        "illegal_transition"
    );

    let fresh = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(fresh.status(), 201);
    assert_eq!(fresh.json::<Value>().await.unwrap()["total"], 1_808_000);
    assert_eq!(app.double_claims().await, 0);
}

#[tokio::test]
async fn cancelling_a_committed_payout_is_refused_with_the_reason() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    let payout: Value = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    let refused = app
        .post(
            &format!("/api/v1/payouts/{}/cancel", payout["id"].as_str().unwrap()),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "illegal_transition");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("cannot cancel: the payout is already committed"));
}

#[tokio::test]
async fn a_period_without_unpaid_records_is_refused_as_nothing_to_pay() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    let before = app.snapshot().await;
    let response = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &json!({"employee_id": lara["id"], "period_start": "2025-01-01", "period_end": "2025-01-31"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "nothing_to_pay"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_demo_data_is_deterministic_and_pays_september_for_everyone_but_lara() {
    let app = spawn_demo_app().await;
    let employees = app.get_json("/api/v1/employees").await;
    let employees = employees.as_array().unwrap();
    assert_eq!(employees.len(), 12);
    let studios: std::collections::BTreeSet<_> = employees
        .iter()
        .map(|e| e["studio_id"].to_string())
        .collect();
    assert_eq!(studios.len(), 2);
    let committed = app.get_json("/api/v1/payouts?state=committed").await;
    assert_eq!(committed.as_array().unwrap().len(), 11);
    // A second engine seeded from scratch produces the same ids and amounts.
    let other = spawn_demo_app().await;
    let again = other.get_json("/api/v1/employees").await;
    let ids = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| (e["id"].clone(), e["unpaid_total"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&Value::Array(employees.clone())), ids(&again));
    // Seeding again does nothing.
    assert!(!app.engine.seed_demo().await.unwrap().seeded);
}

#[tokio::test]
async fn the_pages_render_on_the_server_with_the_red_banner_when_a_payout_failed() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(LARA).await;
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::TotalsVerified,
        kind: FaultKind::Error,
        times: 1,
    });
    assert_eq!(
        app.post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"])
        )
        .await
        .status(),
        500
    );
    for page in ["/", "/reception", "/owner"] {
        let html = app
            .client
            .get(app.url(page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("attention-banner"), "{page} shows the banner");
        assert!(html.contains("Lara Meier"), "{page} names the employee");
        assert!(
            html.contains("CHF\u{a0}18&#x27;080.00") || html.contains("CHF\u{a0}18'080.00"),
            "{page} shows the amount"
        );
        assert!(
            html.contains("212 of 212 records done"),
            "{page} shows the progress (claimed before the failing phase)"
        );
        assert!(
            html.contains("failed while verifying the totals"),
            "{page} shows the failed phase"
        );
        assert!(
            html.contains("Finish payout"),
            "{page} offers Finish payout"
        );
    }
}

#[tokio::test]
async fn the_stale_payout_completer_finishes_an_interrupted_payout_once_even_when_two_sweep() {
    let app = spawn_demo_app().await;
    let lara = app
        .interrupt_payout_of(LARA, PayoutPhase::TotalsVerified)
        .await;
    let pending = app
        .payouts_of(&lara["id"], Some(PayoutState::Pending))
        .await;
    assert_eq!(pending.len(), 1);

    // Not stale yet: a sweep with a long grace leaves it alone.
    let early = app
        .engine
        .complete_stale_payouts(Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(early.is_empty(), "{early:?}");
    assert_eq!(
        app.payouts_of(&lara["id"], Some(PayoutState::Pending))
            .await
            .len(),
        1
    );

    // Two sweeps at once (as two server processes would): one commit, one transfer.
    let (first, second) = tokio::join!(
        app.engine.complete_stale_payouts(Duration::ZERO),
        app.engine.complete_stale_payouts(Duration::ZERO)
    );
    let swept: Vec<Payout> = first.unwrap().into_iter().chain(second.unwrap()).collect();
    assert!(!swept.is_empty());
    assert!(
        swept.iter().all(|p| p.state == PayoutState::Committed),
        "{swept:?}"
    );
    let committed = app
        .payouts_of(&lara["id"], Some(PayoutState::Committed))
        .await;
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0]["record_count"], 212);
    assert_eq!(committed[0]["total"], 1_808_000);
    let transfers: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM ledger_transfers WHERE kind = 'payout_committed' AND cause_id = $1",
    )
    .bind(uuid::Uuid::parse_str(committed[0]["id"].as_str().unwrap()).unwrap())
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(transfers, 1);
    assert!(app
        .engine
        .complete_stale_payouts(Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
}
