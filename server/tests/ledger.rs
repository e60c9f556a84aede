//! The double-entry ledger as an owner or accountant sees it: every service, deduction and payout
//! is one balanced transfer, a retry never posts twice, the books cannot be edited, and balances
//! can be read now or as of any past day.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::*;
use app::engine::db;
use app::engine::demo::{window_end, window_start, FEATURED_EMPLOYEE, FEATURED_TOTAL};
use app::engine::faults::{Fault, FaultKind};
use common::*;
use serde_json::{json, Value};

/// Balance (as people read it) of `account` (and employee) in `balances`.
fn balance_of(balances: &Value, account: &str, employee: Option<&Value>) -> i64 {
    balances
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["account"] == account && employee.is_none_or(|e| b["employee_id"] == *e))
        .unwrap_or_else(|| panic!("no {account} account"))["balance"]
        .as_i64()
        .unwrap()
}

async fn balances(app: &TestApp, studio: &Value, as_of: Option<&str>) -> Value {
    let mut path = format!(
        "/api/v1/ledger/balances?studio_id={}",
        studio.as_str().unwrap()
    );
    if let Some(day) = as_of {
        path.push_str(&format!("&as_of={day}"));
    }
    app.get_json(&path).await
}

async fn transfers_caused_by(app: &TestApp, cause: &Value) -> Vec<Value> {
    app.get_json(&format!(
        "/api/v1/ledger/transfers?cause_id={}",
        cause.as_str().unwrap()
    ))
    .await
    .as_array()
    .unwrap()
    .clone()
}

async fn assert_audit_clean(app: &TestApp) {
    let report = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Manual,
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        report.findings,
        Vec::<AuditFinding>::new(),
        "the audit must find nothing"
    );
    assert_eq!(report.run.status, AuditStatus::Clean);
}

#[tokio::test]
async fn the_demo_books_balance_and_every_record_has_its_transfer() {
    let app = spawn_demo_app().await;
    let transfers = app.count("ledger_transfers").await;
    let services = app.count("service_records").await;
    let deducted: i64 = db::query_scalar("SELECT COUNT(*) FROM day_records WHERE deduction > 0")
        .fetch_one(app.engine.pool())
        .await
        .unwrap();
    let committed: i64 = db::query_scalar("SELECT COUNT(*) FROM payouts WHERE state = 'committed'")
        .fetch_one(app.engine.pool())
        .await
        .unwrap();
    assert_eq!(transfers, services + deducted + committed);
    let total: i64 = db::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_postings")
        .fetch_one(app.engine.pool())
        .await
        .unwrap();
    assert_eq!(total, 0, "all postings together sum to zero");
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn a_cash_service_posts_revenue_tip_and_commission_once_even_when_retried() {
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
    let before = balances(&app, &studio, None).await;
    let request = json!({
        "employee_id": jonas["id"],
        "service_id": service.id,
        "price": 8_500,
        "tip": 500,
        "payment_method": "cash",
        "performed_on": "2026-11-02",
    });
    let key = new_key();
    let first = app.post("/api/v1/service-records", &key, &request).await;
    assert_eq!(first.status(), 201);
    let record: Value = first.json().await.unwrap();
    let retry = app.post("/api/v1/service-records", &key, &request).await;
    assert_eq!(retry.status(), 201);

    let transfers = transfers_caused_by(&app, &record["id"]).await;
    assert_eq!(transfers.len(), 1, "one transfer, whatever the retries");
    let transfer = &transfers[0];
    assert_eq!(transfer["kind"], "service_registered");
    assert_eq!(transfer["effective_on"], "2026-11-02");
    let mut postings: Vec<(String, i64)> = transfer["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["account"].as_str().unwrap().to_string(),
                p["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    postings.sort();
    assert_eq!(
        postings,
        vec![
            ("cash_drawer".to_string(), 9_000),
            ("commission_expense".to_string(), 3_400),
            ("employee_payable".to_string(), -3_400),
            ("service_revenue".to_string(), -8_500),
            ("tips_payable".to_string(), -500),
        ]
    );

    let after = balances(&app, &studio, None).await;
    for (account, change) in [
        ("cash_drawer", 9_000),
        ("service_revenue", 8_500),
        ("tips_payable", 500),
        ("commission_expense", 3_400),
    ] {
        assert_eq!(
            balance_of(&after, account, None) - balance_of(&before, account, None),
            change,
            "{account}"
        );
    }
    assert_eq!(
        balance_of(&after, "employee_payable", Some(&jonas["id"]))
            - balance_of(&before, "employee_payable", Some(&jonas["id"])),
        3_400,
        "Jonas is owed 40 % of CHF 85.00 more"
    );
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn the_212_record_payout_posts_exactly_one_transfer_from_the_bank() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(FEATURED_EMPLOYEE).await;
    let studio = lara["studio_id"].clone();
    let before = balances(&app, &studio, None).await;
    let payout = app.commit_payout_of(FEATURED_EMPLOYEE).await;
    assert_eq!(payout["total"], FEATURED_TOTAL.0);

    let transfers = transfers_caused_by(&app, &payout["id"]).await;
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0]["kind"], "payout_committed");
    let bank_posting = transfers[0]["postings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["account"] == "bank")
        .unwrap()["amount"]
        .as_i64()
        .unwrap();
    assert_eq!(
        bank_posting, -FEATURED_TOTAL.0,
        "CHF 18,080.00 leaves the bank"
    );

    let after = balances(&app, &studio, None).await;
    assert_eq!(
        balance_of(&after, "bank", None) - balance_of(&before, "bank", None),
        -FEATURED_TOTAL.0
    );
    assert_eq!(
        balance_of(&after, "employee_payable", Some(&lara["id"])),
        0,
        "Lara is owed nothing once every record is paid"
    );
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn a_payout_failing_at_commit_posts_nothing_until_finished_then_once() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(FEATURED_EMPLOYEE).await;
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::Committed,
        kind: FaultKind::Error,
        times: 1,
    });
    let failed = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(failed.status(), 500);
    let body: Value = failed.json().await.unwrap();
    let payout_id = body["error"]["payout"]["id"].clone();
    assert!(transfers_caused_by(&app, &payout_id).await.is_empty());

    for _ in 0..2 {
        let finished = app
            .post(
                &format!("/api/v1/payouts/{}/finish", payout_id.as_str().unwrap()),
                &new_key(),
                &json!({}),
            )
            .await;
        assert_eq!(finished.status(), 200);
    }
    assert_eq!(transfers_caused_by(&app, &payout_id).await.len(), 1);
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn the_database_refuses_to_edit_or_delete_the_books() {
    let app = spawn_demo_app().await;
    for statement in [
        "UPDATE ledger_transfers SET reason = 'edited'",
        "DELETE FROM ledger_transfers",
        "UPDATE ledger_postings SET amount = amount + 1",
        "DELETE FROM ledger_postings",
    ] {
        let error = db::query(statement)
            .execute(app.engine.pool())
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("immutable"),
            "{statement}: {error}"
        );
    }
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn balances_as_of_a_past_day_exclude_what_came_later() {
    let app = spawn_demo_app().await;
    let lara = app.employee_named(FEATURED_EMPLOYEE).await;
    let studio = lara["studio_id"].clone();
    let day_before = (window_start() - chrono::Duration::days(1)).to_string();
    let empty = balances(&app, &studio, Some(&day_before)).await;
    assert!(
        empty.as_array().unwrap().iter().all(|b| b["balance"] == 0),
        "nothing was posted before the demo window: {empty}"
    );
    let at_end = balances(&app, &studio, Some(&window_end().to_string())).await;
    let now = balances(&app, &studio, None).await;
    assert_eq!(
        balance_of(&at_end, "service_revenue", None),
        balance_of(&now, "service_revenue", None),
        "every demo service falls inside the window"
    );
    assert!(balance_of(&at_end, "service_revenue", None) > 0);
    // Lara's unpaid commission minus deductions, as the ledger and the employee list see it.
    let payable = balance_of(&now, "employee_payable", Some(&lara["id"]));
    let tips: i64 = db::query_scalar(
        "SELECT CAST(SUM(tip) AS BIGINT) FROM service_records sr JOIN employees e ON e.id = sr.employee_id WHERE e.name = $1",
    )
    .bind(FEATURED_EMPLOYEE)
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(
        payable + tips,
        lara["unpaid_total"].as_i64().unwrap(),
        "payable plus tips is what the next payout pays (no guaranteed-minimum top-ups in Lara's data)"
    );

    let bad = app
        .client
        .get(app.url(&format!(
            "/api/v1/ledger/balances?studio_id={}&as_of=2026-02-30",
            studio.as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
