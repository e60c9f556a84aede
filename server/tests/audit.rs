//! The audit, one invariant at a time: each test corrupts the demo books with SQL the way a bug, a
//! rogue script or a half-finished migration would, and expects the finding that names the
//! entity, what is wrong and the amount at stake. A clean database yields a clean run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::*;
use app::engine::db;
use app::engine::EngineSettings;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn exec(app: &TestApp, sql: &str) {
    db::query(sql)
        .execute(app.engine.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn audit(app: &TestApp) -> AuditReport {
    app.engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Manual,
            None,
            None,
        )
        .await
        .unwrap()
}

fn of(report: &AuditReport, check: AuditCheck) -> Vec<&AuditFinding> {
    report
        .findings
        .iter()
        .filter(|f| f.check == check)
        .collect()
}

/// Lets the test rewrite the books, as only a rogue SQL session could.
async fn unlock_the_books(app: &TestApp) {
    for (table, trigger) in [
        ("ledger_transfers", "ledger_transfers_immutable_update"),
        ("ledger_transfers", "ledger_transfers_immutable_delete"),
        ("ledger_postings", "ledger_postings_immutable_update"),
        ("ledger_postings", "ledger_postings_immutable_delete"),
    ] {
        // SQLite has no way to switch a trigger off: drop it. PostgreSQL: disable it (the
        // database's owner may), which leaves it in place but silent.
        let unlock = if on_postgres() {
            format!("ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        } else {
            format!("DROP TRIGGER {trigger}")
        };
        exec(app, &unlock).await;
    }
}

/// SQL expression: a new random id (a 16-byte BLOB on SQLite, a UUID on PostgreSQL).
fn random_id() -> &'static str {
    if on_postgres() {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    }
}

/// SQL expressions for today's UTC date and the current instant, as the columns store them
/// (SQLite: text; PostgreSQL: DATE and TIMESTAMPTZ).
fn today_and_now() -> (&'static str, &'static str) {
    if on_postgres() {
        ("(now() AT TIME ZONE 'UTC')::date", "now()")
    } else {
        ("date('now')", "datetime('now')")
    }
}

const A_COMMITTED_PAYOUT: &str =
    "(SELECT id FROM payouts WHERE state = 'committed' ORDER BY id LIMIT 1)";

#[tokio::test]
async fn a_clean_database_gives_a_clean_run_and_no_alert_event() {
    let app = spawn_demo_app().await;
    let events_before = app.count("events").await;
    let response = app
        .client
        .post(app.url("/api/v1/audits"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["status"], "clean");
    assert_eq!(report["finding_count"], 0);
    assert_eq!(report["findings"], json!([]));
    assert_eq!(
        app.count("events").await,
        events_before,
        "a clean run says nothing"
    );
    let runs = app.get_json("/api/v1/audits").await;
    assert_eq!(runs[0]["id"], report["id"]);
}

#[tokio::test]
async fn a_run_reports_each_finished_check_in_order_and_records_its_progress_on_the_run() {
    let app = spawn_demo_app().await;
    let steps = std::sync::Mutex::new(Vec::new());
    let report = app
        .engine
        .run_audit_with_progress(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Manual,
            None,
            None,
            &|step| steps.lock().unwrap().push(step),
        )
        .await
        .unwrap();
    let steps = steps.into_inner().unwrap();
    // One step per job, counting up to the total, which every step agrees on.
    let total = steps.len();
    assert!(total >= 10, "every check reports: {steps:?}");
    assert_eq!(
        steps.iter().map(|s| s.done).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    assert!(steps.iter().all(|s| s.total == total));
    // The run's row says the same to whoever reads the runs (the audit page).
    assert_eq!(
        (report.run.checks_done, report.run.checks_total),
        (total as i64, total as i64)
    );
    let runs = app.get_json("/api/v1/audits").await;
    assert_eq!(runs[0]["id"], report.run.id.to_string());
    assert_eq!(runs[0]["checks_done"], total);
    assert_eq!(runs[0]["checks_total"], total);
}

#[tokio::test]
async fn a_payout_whose_total_was_altered_is_found_with_the_difference_at_stake() {
    let app = spawn_demo_app().await;
    exec(
        &app,
        &format!("UPDATE payouts SET total = total + 12345 WHERE id = {A_COMMITTED_PAYOUT}"),
    )
    .await;
    let report = audit(&app).await;
    let lines = of(&report, AuditCheck::PayoutLines);
    assert_eq!(lines.len(), 1, "{:#?}", report.findings);
    assert_eq!(lines[0].amount_at_stake, Rappen(12_345));
    assert_eq!(lines[0].entity_type, "payout");
    assert!(
        matches!(&lines[0].detail, Some(AuditFindingDetail::LinesDoNotAddUp { total, lines, .. }) if total.0 - lines.0 == 12_345),
        "{:?}",
        lines[0].detail
    );
    assert_eq!(report.run.status, AuditStatus::Findings);
    let events: i64 = db::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'audit.findings'")
        .fetch_one(app.engine.pool())
        .await
        .unwrap();
    assert_eq!(events, 1, "findings raise one alert event");
    let stored = app
        .get_json(&format!("/api/v1/audits/{}", report.run.id))
        .await;
    assert_eq!(
        stored["findings"].as_array().unwrap().len(),
        report.findings.len()
    );
    // The detail is stored with the finding, for the page to word in its reader's language.
    assert!(stored["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["detail"]["code"] == "lines_do_not_add_up"));
}

#[tokio::test]
async fn a_committed_payout_without_its_transfer_is_found() {
    let app = spawn_demo_app().await;
    unlock_the_books(&app).await;
    exec(
        &app,
        &format!("DELETE FROM ledger_postings WHERE transfer_id = {A_COMMITTED_PAYOUT}"),
    )
    .await;
    exec(
        &app,
        &format!("DELETE FROM ledger_transfers WHERE id = {A_COMMITTED_PAYOUT}"),
    )
    .await;
    let report = audit(&app).await;
    let missing = of(&report, AuditCheck::PayoutTransfer);
    assert_eq!(missing.len(), 1, "{:#?}", report.findings);
    assert!(missing[0].message.contains("exactly one transfer"));
    assert!(
        matches!(
            &missing[0].detail,
            Some(AuditFindingDetail::PayoutTransferDiffers {
                paid_out: Rappen(0),
                ..
            })
        ),
        "{:?}",
        missing[0].detail
    );
    assert!(missing[0].amount_at_stake.0 > 0);
}

#[tokio::test]
async fn a_record_claimed_by_two_payouts_is_found() {
    let app = spawn_demo_app().await;
    exec(&app, "DROP INDEX payout_lines_live_service_record").await;
    exec(
        &app,
        "INSERT INTO payout_lines (payout_id, service_record_id, on_date, price, commission_bps, commission, tip, amount)
         SELECT (SELECT id FROM payouts WHERE state = 'committed' AND id <> pl.payout_id LIMIT 1),
                pl.service_record_id, pl.on_date, pl.price, pl.commission_bps, pl.commission, pl.tip, pl.amount
         FROM payout_lines pl WHERE pl.service_record_id IS NOT NULL LIMIT 1",
    )
    .await;
    let report = audit(&app).await;
    let twice = of(&report, AuditCheck::RecordClaimedTwice);
    assert_eq!(twice.len(), 1, "{:#?}", report.findings);
    assert_eq!(twice[0].entity_type, "service_record");
    assert!(twice[0].message.contains("paid 2 times"));
    assert_eq!(
        twice[0].detail,
        Some(AuditFindingDetail::ClaimedTwice { payouts: 2 })
    );
}

#[tokio::test]
async fn eleven_day_records_pointing_at_another_employees_payout_are_each_found() {
    // The seed incident of the system this replaces: 11 day records pointing at the wrong payout.
    let app = spawn_demo_app().await;
    exec(
        &app,
        "UPDATE payout_lines SET payout_id = (
             SELECT p.id FROM payouts p JOIN payouts mine ON mine.id = payout_lines.payout_id
             WHERE p.state = 'committed' AND p.employee_id <> mine.employee_id ORDER BY p.id LIMIT 1)
         WHERE day_record_id IN (SELECT day_record_id FROM payout_lines WHERE day_record_id IS NOT NULL
                                 AND NOT released ORDER BY day_record_id LIMIT 11)",
    )
    .await;
    let report = audit(&app).await;
    let misplaced = of(&report, AuditCheck::LineMisplaced);
    assert_eq!(misplaced.len(), 11, "{:#?}", report.findings);
    assert!(misplaced
        .iter()
        .all(|f| f.message.contains("day record") && f.message.contains("is in the payout to")));
    assert!(
        misplaced.iter().all(|f| matches!(
            &f.detail,
            Some(AuditFindingDetail::LineMisplaced {
                record: AuditedRecord::WorkingDay,
                owner: Some(_),
                on: Some(_),
                ..
            })
        )),
        "{misplaced:#?}"
    );
}

#[tokio::test]
async fn a_transfer_that_does_not_balance_is_found() {
    let app = spawn_demo_app().await;
    exec(
        &app,
        "INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT t.id, a.id, 700 FROM ledger_transfers t
         JOIN ledger_accounts a ON a.studio_id = t.studio_id AND a.code = 'cash_over_short'
         WHERE t.kind = 'service_registered' ORDER BY t.id LIMIT 1",
    )
    .await;
    let report = audit(&app).await;
    let unbalanced = of(&report, AuditCheck::TransferUnbalanced);
    assert_eq!(unbalanced.len(), 1, "{:#?}", report.findings);
    assert_eq!(unbalanced[0].amount_at_stake, Rappen(700));
    assert_eq!(unbalanced[0].entity_type, "transfer");
    assert!(
        matches!(
            &unbalanced[0].detail,
            Some(AuditFindingDetail::Unbalanced {
                sum: Rappen(700),
                ..
            })
        ),
        "{:?}",
        unbalanced[0].detail
    );
}

#[tokio::test]
async fn a_service_written_behind_the_engines_back_has_no_transfer_and_skews_the_payable() {
    let app = spawn_demo_app().await;
    db::query(
        "INSERT INTO service_records (id, studio_id, employee_id, service_id, performed_on, price, tip,
                                      payment_method, commission_bps, commission, created_at)
         SELECT $1, studio_id, employee_id, service_id, performed_on, 9900, 0, 'card', 4000, 3960, created_at
         FROM service_records ORDER BY id LIMIT 1",
    )
    .bind(uuid::Uuid::new_v4())
    .execute(app.engine.pool())
    .await
    .unwrap();
    let report = audit(&app).await;
    let missing = of(&report, AuditCheck::RecordWithoutTransfer);
    assert_eq!(missing.len(), 1, "{:#?}", report.findings);
    assert_eq!(missing[0].amount_at_stake, Rappen(9_900));
    assert!(
        matches!(
            &missing[0].detail,
            Some(AuditFindingDetail::NoTransfer {
                record: AuditedRecord::Service,
                amount: Rappen(9_900),
                ..
            })
        ),
        "{:?}",
        missing[0].detail
    );
    let payable = of(&report, AuditCheck::PayableMismatch);
    assert_eq!(payable.len(), 1);
    assert_eq!(payable[0].amount_at_stake, Rappen(3_960));
    assert!(
        matches!(&payable[0].detail, Some(AuditFindingDetail::PayableDiffers { ledger, records, .. }) if records.0 - ledger.0 == 3_960),
        "{:?}",
        payable[0].detail
    );
}

#[tokio::test]
async fn a_balanced_but_wrong_transfer_is_found_by_the_payable_and_tips_checks() {
    let app = spawn_demo_app().await;
    // Balanced, so no unbalanced-transfer finding: it moves CHF 50.00 off an employee's payable
    // and CHF 20.00 off tips payable into revenue, as a buggy posting rule would.
    // Transfer 00...01, caused by a made-up 00...01 (both bound: a BLOB or a UUID).
    let rogue = uuid::Uuid::from_u128(1);
    db::query(
        "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, created_at)
         SELECT $1, studio_id, 'cash_in', 'rogue', 'test', $2, '2026-10-01', '2026-10-01T00:00:00Z'
         FROM employees ORDER BY id LIMIT 1",
    )
    .bind(rogue)
    .bind(rogue)
    .execute(app.engine.pool())
    .await
    .unwrap();
    db::query(
        "INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT $1, a.id, 5000 FROM ledger_accounts a
             WHERE a.employee_id = (SELECT id FROM employees ORDER BY id LIMIT 1)
         UNION ALL SELECT $1, a.id, 2000 FROM ledger_accounts a
             WHERE a.code = 'tips_payable' AND a.studio_id = (SELECT studio_id FROM employees ORDER BY id LIMIT 1)
         UNION ALL SELECT $1, a.id, -7000 FROM ledger_accounts a
             WHERE a.code = 'service_revenue' AND a.studio_id = (SELECT studio_id FROM employees ORDER BY id LIMIT 1)",
    )
    .bind(rogue)
    .execute(app.engine.pool())
    .await
    .unwrap();
    let report = audit(&app).await;
    assert!(of(&report, AuditCheck::TransferUnbalanced).is_empty());
    let payable = of(&report, AuditCheck::PayableMismatch);
    assert_eq!(payable.len(), 1, "{:#?}", report.findings);
    assert_eq!(payable[0].amount_at_stake, Rappen(5_000));
    let tips = of(&report, AuditCheck::TipsPayableMismatch);
    assert_eq!(tips.len(), 1);
    assert_eq!(tips[0].amount_at_stake, Rappen(2_000));
    assert!(
        matches!(&tips[0].detail, Some(AuditFindingDetail::TipsPayableDiffers { ledger, records, .. }) if records.0 - ledger.0 == 2_000),
        "{:?}",
        tips[0].detail
    );
}

#[tokio::test]
async fn a_closed_till_that_does_not_match_its_postings_is_found() {
    let app = spawn_demo_app().await;
    db::query(
        "INSERT INTO till_sessions (id, studio_id, business_date, state, opening_float, opened_at, closed_at,
                                    expected_cash, counted_cash, variance, variance_reason, denominations, z_report)
         SELECT $1, id, '2026-10-01', 'closed', 20000, '2026-10-01T07:00:00Z', '2026-10-01T18:00:00Z',
                25000, 25000, 0, NULL, '{}', '{}'
         FROM studios ORDER BY id LIMIT 1",
    )
    .bind(uuid::Uuid::new_v4())
    .execute(app.engine.pool())
    .await
    .unwrap();
    let report = audit(&app).await;
    let tills = of(&report, AuditCheck::TillMismatch);
    assert_eq!(tills.len(), 1, "{:#?}", report.findings);
    assert_eq!(
        tills[0].amount_at_stake,
        Rappen(5_000),
        "CHF 50.00 expected that never came in"
    );
    assert!(
        matches!(
            &tills[0].detail,
            Some(AuditFindingDetail::TillDiffers {
                expected: Rappen(25_000),
                postings: Rappen(20_000),
                on,
                ..
            }) if on.to_string() == "2026-10-01"
        ),
        "{:?}",
        tills[0].detail
    );
}

#[tokio::test]
async fn a_payout_pending_past_the_configured_age_is_found() {
    let app = spawn_app_with(EngineSettings {
        pending_grace: Duration::ZERO,
        stuck_payout_age: Duration::ZERO,
        ..EngineSettings::default()
    })
    .await;
    app.engine.seed_demo().await.unwrap();
    app.interrupt_payout_of("Lara Meier", PayoutPhase::TotalsVerified)
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = audit(&app).await;
    let stuck = of(&report, AuditCheck::PayoutStuck);
    assert_eq!(stuck.len(), 1, "{:#?}", report.findings);
    assert!(stuck[0].message.contains("Lara Meier"));
    assert!(
        matches!(&stuck[0].detail, Some(AuditFindingDetail::PayoutStuck { employee, .. }) if employee == "Lara Meier"),
        "{:?}",
        stuck[0].detail
    );
    assert_eq!(stuck[0].amount_at_stake, Rappen(1_808_000));
}

#[tokio::test]
async fn a_window_of_days_leaves_out_older_problems_but_not_balance_checks() {
    let app = spawn_demo_app().await;
    exec(
        &app,
        &format!("UPDATE payouts SET total = total + 1 WHERE id = {A_COMMITTED_PAYOUT}"),
    )
    .await;
    let recent = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Cli,
            Some(1),
            None,
        )
        .await
        .unwrap();
    assert!(
        of(&recent, AuditCheck::PayoutLines).is_empty(),
        "the September payout is outside the last day"
    );
    assert_eq!(of(&audit(&app).await, AuditCheck::PayoutLines).len(), 1);
    let refused = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Cli,
            Some(0),
            None,
        )
        .await;
    assert_eq!(refused.unwrap_err().field(), Some("days"));
}

#[tokio::test]
async fn a_schedule_slot_runs_once_across_processes() {
    let app = spawn_demo_app().await;
    let slot = chrono::DateTime::parse_from_rfc3339("2026-11-24T01:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let first = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Schedule,
            None,
            Some(slot),
        )
        .await;
    assert!(first.is_ok());
    let second = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Schedule,
            None,
            Some(slot),
        )
        .await;
    assert_eq!(second.unwrap_err().code(), "audit_slot_taken");
}

#[tokio::test]
async fn two_schedulers_on_one_database_run_each_slot_once() {
    let app = spawn_demo_app().await;
    let every_second = app::engine::audit::AuditSchedule::parse("* * * * * *", None).unwrap();
    let stop = || tokio::time::sleep(Duration::from_millis(2_600));
    let first = tokio::spawn(app::engine::audit::run_scheduler(
        app.engine.clone(),
        every_second.clone(),
        stop(),
    ));
    let second = tokio::spawn(app::engine::audit::run_scheduler(
        app.engine.clone(),
        every_second,
        stop(),
    ));
    first.await.unwrap();
    second.await.unwrap();
    let (runs, slots): (i64, i64) = db::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT scheduled_for) FROM audit_runs WHERE trigger = 'schedule'",
    )
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert!(runs >= 2, "a slot every second for 2.6 s: {runs} runs");
    assert_eq!(runs, slots, "no slot ran twice");
    let bad = app::engine::audit::AuditSchedule::parse("at two", None);
    assert!(bad.unwrap_err().contains("is not a cron schedule"));
}

#[tokio::test]
async fn a_transfer_stripped_of_its_postings_is_found() {
    let app = spawn_demo_app().await;
    unlock_the_books(&app).await;
    exec(
        &app,
        "DELETE FROM ledger_postings WHERE transfer_id =
             (SELECT id FROM ledger_transfers WHERE kind = 'day_recorded' ORDER BY id LIMIT 1)",
    )
    .await;
    let report = audit(&app).await;
    let empty = of(&report, AuditCheck::TransferUnbalanced);
    assert_eq!(empty.len(), 1, "{:#?}", report.findings);
    assert_eq!(empty[0].entity_type, "transfer");
    let windowed = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Cli,
            Some(400),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        of(&windowed, AuditCheck::TransferUnbalanced).len(),
        1,
        "the window's join finds it too"
    );
}

#[tokio::test]
async fn a_ledger_large_enough_to_be_audited_in_key_ranges_reports_each_unbalanced_transfer_once() {
    let app = spawn_demo_app().await;
    // 60,000 balanced cash movements make the ledger big enough for the transfer check to run
    // as several key ranges concurrently.
    let (today, now) = today_and_now();
    let id = random_id();
    exec(
        &app,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 59999)
             INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, created_at)
             SELECT {id}, (SELECT id FROM studios ORDER BY id LIMIT 1), 'cash_in', 'bulk cash in',
                    'test', {id}, {today}, {now}
             FROM n"
        ),
    )
    .await;
    exec(
        &app,
        "INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT t.id, a.id, CASE a.code WHEN 'cash_drawer' THEN 100 ELSE -100 END
         FROM ledger_transfers t JOIN ledger_accounts a
           ON a.studio_id = t.studio_id AND a.code IN ('cash_drawer', 'cash_transfers')
         WHERE t.reason = 'bulk cash in'",
    )
    .await;
    assert!(
        audit(&app).await.findings.is_empty(),
        "balanced bulk transfers are clean"
    );

    // Unbalance the first, the middle and the last bulk transfer in key order (random ids, so
    // they are near the start, the middle and the end of the whole key space): one in each
    // outer range and one inside. Dated today, so a window of days includes them.
    exec(
        &app,
        "WITH bulk AS (SELECT id FROM ledger_transfers WHERE reason = 'bulk cash in')
         INSERT INTO ledger_postings (transfer_id, account_id, amount)
         SELECT t.id, a.id, 700 FROM ledger_transfers t
         JOIN ledger_accounts a ON a.studio_id = t.studio_id AND a.code = 'cash_over_short'
         WHERE t.id IN ((SELECT id FROM bulk ORDER BY id LIMIT 1),
                        (SELECT id FROM bulk ORDER BY id LIMIT 1 OFFSET 30000),
                        (SELECT id FROM bulk ORDER BY id DESC LIMIT 1))",
    )
    .await;
    let report = audit(&app).await;
    let unbalanced = of(&report, AuditCheck::TransferUnbalanced);
    assert_eq!(unbalanced.len(), 3, "{:#?}", report.findings);
    let mut ids: Vec<_> = unbalanced.iter().map(|f| f.entity_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each transfer reported once: {unbalanced:#?}");
    assert!(unbalanced.iter().all(|f| f.amount_at_stake == Rappen(700)));

    let windowed = app
        .engine
        .run_audit(
            &app::engine::access::Caller::operator("test"),
            AuditTrigger::Cli,
            Some(2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        of(&windowed, AuditCheck::TransferUnbalanced).len(),
        3,
        "a window finds each once too: {:#?}",
        windowed.findings
    );
}
