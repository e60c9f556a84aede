//! The `payout-engine` binary as an operator meets it: a bad configuration is one clear line and
//! exit code 1 (never a panic), `migrate` and `seed-demo` work on a fresh path, and `serve` stops
//! cleanly on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{binary, start_server};
use std::process::Command;

use std::time::{Duration, Instant};

/// A new, empty database on the harness's backend (SQLite in a temporary directory, or
/// PostgreSQL with `PAYOUT_ENGINE_TEST_DATABASE=postgres`); keep it alive while the binary uses
/// its `url`.
fn database() -> common::TestDatabase {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::test_database())
}

fn assert_clear_failure(args: &[&str], expected: &str) {
    let output = binary().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected '{expected}' in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
}

#[test]
fn a_database_url_that_is_not_sqlite_is_a_clear_error() {
    assert_clear_failure(
        &["--database-url", "mysql://localhost/payouts", "migrate"],
        "unsupported DATABASE_URL",
    );
}

#[test]
fn an_unwritable_database_path_is_a_clear_error() {
    assert_clear_failure(
        &[
            "--database-url",
            "sqlite:///proc/payout-engine/cannot/payouts.db",
            "migrate",
        ],
        "cannot create the database directory",
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let database = database();
    let url = &database.url;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_clear_failure(
        &["--database-url", url, "serve", "--addr", &addr],
        "cannot listen on",
    );
}

#[test]
fn migrate_and_seed_demo_work_on_a_fresh_path_and_seeding_twice_is_harmless() {
    // SQLite: a file in directories that do not exist yet. PostgreSQL: a new, empty database
    // (a server's databases have no path to create).
    let dir = tempfile::tempdir().unwrap();
    let database = database();
    let url = if common::on_postgres() {
        database.url.clone()
    } else {
        format!("sqlite://{}", dir.path().join("new/sub/dir/p.db").display())
    };
    let migrate = binary()
        .args(["--database-url", &url, "migrate"])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let seed = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    assert!(String::from_utf8_lossy(&seed.stdout).contains("demo data seeded"));
    let again = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already has data"));
}

#[test]
fn audit_exits_0_on_clean_books_and_1_with_each_finding_printed() {
    let database = database();
    let url = database.url.clone();
    let seed = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    let clean = binary()
        .args(["--database-url", &url, "audit", "--days", "30"])
        .output()
        .unwrap();
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains(": clean"));
    // Its progress goes to standard error, one line per check, ending with all of them done.
    let progress = String::from_utf8_lossy(&clean.stderr);
    let last = progress
        .lines()
        .rfind(|line| line.starts_with("audit: "))
        .unwrap_or_else(|| panic!("no progress on standard error: {progress}"));
    let counts: Vec<&str> = last["audit: ".len()..].split(' ').collect();
    assert_eq!(
        counts[0], counts[2],
        "the last step is the last check: {last}"
    );

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        // Behind the binary's back, through a pool of this test's own.
        let engine = app::engine::Engine::connect(&url, app::engine::EngineSettings::default())
            .await
            .unwrap();
        app::engine::db::query(
            "UPDATE payouts SET total = total + 100
             WHERE id = (SELECT id FROM payouts WHERE state = 'committed' LIMIT 1)",
        )
        .execute(engine.pool())
        .await
        .unwrap();
        engine.pool().close().await;
    });
    let found = binary()
        .args(["--database-url", &url, "audit"])
        .output()
        .unwrap();
    assert_eq!(found.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert!(stdout.contains("payout_lines"), "{stdout}");
    assert!(
        stdout.contains("1 findings") || stdout.contains("findings,"),
        "{stdout}"
    );
}

#[test]
fn bank_file_writes_the_pain001_and_import_statement_matches_it_once() {
    let database = database();
    let url = database.url.clone();
    let seed = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    let studio: String = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let engine = app::engine::Engine::connect(&url, app::engine::EngineSettings::default())
            .await
            .unwrap();
        let id: app::domain::StudioId = app::engine::db::query_scalar(
            "SELECT studio_id FROM employees WHERE name = 'Jonas Keller'",
        )
        .fetch_one(engine.pool())
        .await
        .unwrap();
        engine.pool().close().await;
        id.to_string()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("payouts.xml");
    let written = binary()
        .args([
            "--database-url",
            &url,
            "bank-file",
            "--studio",
            &studio,
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&written.stdout).to_string();
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    assert!(stdout.contains("4 transfers"), "{stdout}");
    assert!(stdout.contains("skipped: Noah Weber: no IBAN"), "{stdout}");
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"));
    // The first transfer comes back on a statement: debited once.
    let first = stdout.lines().next().unwrap();
    let mut columns = first.split_whitespace();
    let e2e = columns.next().unwrap();
    let amount = columns.nth(1).unwrap().replace('\'', "");
    let statement = format!(
        "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>CLI-1</MsgId><CreDtTm>2026-12-07T18:00:00+01:00</CreDtTm></GrpHdr><Stmt><Id>CLI-1-1</Id>\
         <CreDtTm>2026-12-07T18:00:00+01:00</CreDtTm><Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>\
         <Ntry><Amt Ccy=\"CHF\">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
         <BookgDt><Dt>2026-12-07</Dt></BookgDt><NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>\
         <Amt Ccy=\"CHF\">{amount}</Amt></TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>"
    );
    let camt = dir.path().join("statement.xml");
    std::fs::write(&camt, statement).unwrap();
    // Standard error: the progress after each step of lines.
    let import = |expected: &str| {
        let output = binary()
            .args(["--database-url", &url, "import-statement"])
            .arg(&camt)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        assert!(stdout.contains(expected), "{stdout}");
        stderr
    };
    let progress = import("1 lines, 1 settled, 0 failed, 0 need reconciliation, 0 unmatched");
    assert!(
        progress.contains("camt.053 CLI-1: 1 / 1 lines (100 %)"),
        "{progress}"
    );
    let progress = import("was imported before: nothing changed");
    assert!(!progress.contains("lines ("), "{progress}");
    // A file that is not a statement is one clear line and exit code 1.
    assert_clear_failure(
        &[
            "--database-url",
            &url,
            "import-statement",
            out.to_str().unwrap(),
        ],
        "this is a pain.001",
    );
}

#[test]
fn serve_refuses_to_start_outside_demo_mode_while_demo_passwords_sign_in() {
    let database = database();
    let url = database.url.clone();
    assert!(binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap()
        .status
        .success());
    let refused = binary()
        .args(["--database-url", &url, "serve", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("owner@demo.test"), "{stderr}");
    assert!(stderr.contains("set-password"), "{stderr}");
    for email in [
        "owner@demo.test",
        "reception@demo.test",
        "reception.bern@demo.test",
        "lara@demo.test",
    ] {
        let changed = binary()
            .args([
                "--database-url",
                &url,
                "user",
                "set-password",
                "--email",
                email,
            ])
            .env("PAYOUT_ENGINE_NEW_PASSWORD", "a-long-private-passphrase")
            .output()
            .unwrap();
        assert!(changed.status.success(), "{changed:?}");
    }
    let (mut child, _) = start_server(&url, &[], &[]);
    terminate(&mut child);
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let database = database();
    let url = database.url.clone();
    let (mut child, base) = start_server(&url, &[], &[]);
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    terminate(&mut child);
}

/// Sends SIGTERM and asserts a clean exit within 20 s.
fn terminate(child: &mut std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for_exit(child);
    assert!(exit.success(), "exit after SIGTERM: {exit}");
}

fn wait_for_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "process did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_process_killed_between_phases_leaves_a_pending_payout_that_a_restarted_server_finishes()
{
    use serde_json::{json, Value};
    let database = common::test_database().await;
    let url = database.url.clone();
    assert!(binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap()
        .status
        .success());
    let created = binary()
        .args([
            "--database-url",
            &url,
            "api-key",
            "create",
            "--name",
            "restart test",
            "--role",
            "owner",
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(key.starts_with("pe_"), "the key is printed once: {key}");
    let client = common::bearer_client(&key);

    // The demo logins' passwords are published: serving needs demo mode.
    let (mut first, base) = start_server(&url, &["--demo", "--enable-fault-injection"], &[]);
    let employees: Value = client
        .get(format!("{base}/api/v1/employees"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lara = employees
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Lara Meier")
        .unwrap()
        .clone();
    let armed = client
        .post(format!("{base}/api/v1/test/faults"))
        .json(&json!({"phase": "totals_verified", "kind": "abort"}))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), 200);
    let request = json!({"employee_id": lara["id"], "period_start": "2026-09-01", "period_end": "2026-10-30"});
    let died = client
        .post(format!("{base}/api/v1/payouts"))
        .header("Idempotency-Key", "abort-test-1")
        .json(&request)
        .send()
        .await;
    assert!(
        died.is_err(),
        "the server died mid-payout, so no response: {died:?}"
    );
    assert!(!wait_for_exit(&mut first).success(), "the process aborted");

    // A new process on the same database: the payout is pending at the last completed phase,
    // holding its records, and shown as needing attention.
    let (mut second, base) = start_server(&url, &["--demo"], &[]);
    let pending: Value = client
        .get(format!("{base}/api/v1/payouts?state=pending"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["phase"], "lines_claimed");
    assert_eq!(pending[0]["record_count"], 212);
    let html = client
        .get(format!("{base}/owner"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("attention-banner") && html.contains("Finish payout"),
        "the banner shows it"
    );

    let finished = client
        .post(format!(
            "{base}/api/v1/payouts/{}/finish",
            pending[0]["id"].as_str().unwrap()
        ))
        .header("Idempotency-Key", "abort-test-finish")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 200);
    let finished: Value = finished.json().await.unwrap();
    assert_eq!(finished["state"], "committed");
    assert_eq!(finished["record_count"], 212);
    assert_eq!(finished["total"], 1_808_000);
    // Retrying the original request with its key resumes the same payout, never a second one.
    let retried = client
        .post(format!("{base}/api/v1/payouts"))
        .header("Idempotency-Key", "abort-test-1")
        .json(&request)
        .send()
        .await
        .unwrap();
    let retried_status = retried.status().as_u16();
    let retried: Value = retried.json().await.unwrap();
    assert!(
        retried_status == 409 || (retried_status == 201 && retried["id"] == finished["id"]),
        "{retried_status}: {retried}"
    );
    let all: Value = client
        .get(format!(
            "{base}/api/v1/payouts?employee_id={}",
            lara["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "exactly one payout for Lara"
    );

    terminate(&mut second);
}
