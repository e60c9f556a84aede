//! Settlement tracking and Swiss bank files (issue 9), through the JSON API on the demo data:
//! committed bank payouts are scheduled with a business-day countdown, a pain.001 bank file is
//! written (and validated against the SIX schema with xmllint), a camt.053 statement settles,
//! returns and flags them, a second import changes nothing, and a failed transfer waits for a
//! person who records the bank's word before it is reissued, with the ledger following.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::calendar::BankCalendar;
use app::engine::db;
use chrono::NaiveDate;
use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;

const ZURICH_IBAN: &str = "CH9300762011623852957";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../app/fixtures/iso20022")
        .join(name)
}

/// Validates `xml` against the SIX pain.001.001.09 CH schema with xmllint (libxml2-utils).
fn assert_valid_pain001(xml: &str) {
    let path = std::env::temp_dir().join(format!("pain001-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&path, xml).unwrap();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(fixture("pain.001.001.09.ch.03.xsd"))
        .arg(&path)
        .output()
        .expect("xmllint runs (apt install libxml2-utils; scripts/bootstrap.sh installs it)");
    std::fs::remove_file(&path).unwrap();
    assert!(
        output.status.success(),
        "the bank file is not valid against the SIX schema:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// CHF text of Rappen: 184050 -> "1840.50".
fn chf(rappen: i64) -> String {
    format!("{}.{:02}", rappen / 100, rappen % 100)
}

/// One camt.053 entry: `(direction, rappen, transactions)`, each transaction `(end-to-end id,
/// rappen, return reason)`.
type Entry<'a> = (&'a str, i64, Vec<(Option<&'a str>, i64, Option<&'a str>)>);

/// A camt.053.001.08 statement of `iban` with `entries`, booked on 7 December 2026.
fn statement(message_id: &str, iban: &str, entries: &[Entry]) -> String {
    let mut body = String::new();
    for (direction, amount, transactions) in entries {
        body.push_str(&format!(
            "<Ntry><Amt Ccy=\"CHF\">{}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
             <BookgDt><Dt>2026-12-07</Dt></BookgDt><ValDt><Dt>2026-12-07</Dt></ValDt>\
             <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>AUTT</SubFmlyCd></Fmly></Domn></BkTxCd>",
            chf(*amount)
        ));
        if transactions.is_empty() {
            body.push_str(
                "<AddtlNtryInf>Worldline Schweiz AG WL-BATCH-20261204-0042</AddtlNtryInf>",
            );
        } else {
            body.push_str("<NtryDtls>");
            for (e2e, amount, reason) in transactions {
                body.push_str(&format!(
                    "<TxDtls><Refs><EndToEndId>{}</EndToEndId></Refs><Amt Ccy=\"CHF\">{}</Amt>",
                    e2e.unwrap_or("NOTPROVIDED"),
                    chf(*amount)
                ));
                if let Some(reason) = reason {
                    body.push_str(&format!("<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf>"));
                }
                body.push_str("</TxDtls>");
            }
            body.push_str("</NtryDtls>");
        }
        body.push_str("</Ntry>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-12-07T18:00:00+01:00</CreDtTm></GrpHdr>\
         <Stmt><Id>{message_id}-1</Id><CreDtTm>2026-12-07T18:00:00+01:00</CreDtTm>\
         <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>CHF</Ccy></Acct>{body}</Stmt></BkToCstmrStmt></Document>"
    )
}

async fn import(app: &TestApp, xml: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/bank-statements"))
        .header("Content-Type", "application/xml")
        .body(xml.to_string())
        .send()
        .await
        .unwrap()
}

/// `{"id": ..}` of the studio employee `name` works at (Jonas Keller: Zürich, Luca Schmid: Bern).
async fn studio_of(app: &TestApp, name: &str) -> Value {
    json!({ "id": app.employee_named(name).await["studio_id"] })
}

/// The balance (sum of postings, debit positive) of a studio account `code`.
async fn balance(app: &TestApp, studio: &Value, code: &str) -> i64 {
    let studio = app::domain::StudioId::parse(studio["id"].as_str().unwrap()).unwrap();
    db::query_scalar(
        "SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM ledger_postings p
         JOIN ledger_accounts a ON a.id = p.account_id
         WHERE a.studio_id = $1 AND a.code = $2 AND a.employee_id IS NULL",
    )
    .bind(studio)
    .bind(code)
    .fetch_one(app.engine.pool())
    .await
    .unwrap()
}

/// Writes the bank file of `studio` through the API; asserts 201.
async fn bank_file(app: &TestApp, studio: &Value) -> Value {
    let response = app
        .post(
            "/api/v1/bank-files",
            &new_key(),
            &json!({ "studio_id": studio["id"] }),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn act(app: &TestApp, item: &Value, body: Value) -> reqwest::Response {
    app.post(
        &format!(
            "/api/v1/settlements/items/{}/actions",
            item["id"].as_str().unwrap()
        ),
        &new_key(),
        &body,
    )
    .await
}

fn items_of<'a>(overview: &'a Value, list: &str) -> &'a Vec<Value> {
    overview[list].as_array().unwrap()
}

#[tokio::test]
async fn committed_bank_payouts_are_scheduled_with_a_business_day_countdown() {
    let app = spawn_demo_app().await;
    let overview = app.get_json("/api/v1/settlements").await;
    let scheduled = items_of(&overview, "in_transit");
    // The demo commits September for every employee but the featured one: 11 bank payouts.
    assert_eq!(scheduled.len(), 11, "{overview:#}");
    let calendar = BankCalendar::swiss().unwrap();
    let today = app::engine::business_date(chrono::Utc::now());
    let execution = calendar.add_business_days(today, 1).unwrap();
    let expected = calendar.add_business_days(execution, 1).unwrap();
    for item in scheduled {
        assert_eq!(item["state"], "scheduled");
        assert_eq!(item["kind"], "bank_payout");
        assert_eq!(item["expected_on"], expected.to_string(), "{item}");
        assert_eq!(item["business_days_left"], 2, "{item}");
        assert!(item["amount"].as_i64().unwrap() > 0);
        assert!(item["end_to_end_id"].as_str().unwrap().starts_with("PE-"));
        assert_eq!(item["end_to_end_id"].as_str().unwrap().len(), 35);
    }
    let total: i64 = scheduled
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(overview["in_transit_total"], total);
    // A new commit is scheduled too, in the same transaction as the payout.
    let payout = app.commit_payout_of("Lara Meier").await;
    let overview = app.get_json("/api/v1/settlements").await;
    let lara: Vec<&Value> = items_of(&overview, "in_transit")
        .iter()
        .filter(|i| i["payout_id"] == payout["id"])
        .collect();
    assert_eq!(lara.len(), 1);
    assert_eq!(lara[0]["amount"], payout["total"]);
    assert_eq!(lara[0]["counterparty"], "Lara Meier");
}

#[tokio::test]
async fn a_bank_file_a_statement_and_a_resolved_return_settle_the_payouts_and_the_ledger() {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Jonas Keller").await;
    let bank_before = balance(&app, &zurich, "bank").await;

    // The bank file: the studio's scheduled payouts, except Noah Weber's (no IBAN).
    let key = new_key();
    let request = json!({ "studio_id": zurich["id"] });
    let response = app.post("/api/v1/bank-files", &key, &request).await;
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();
    let items = file["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4, "{file:#}");
    assert!(items.iter().all(|i| i["state"] == "in_transit"));
    assert_eq!(file["batch"]["state"], "in_transit");
    let skipped = file["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0]
        .as_str()
        .unwrap()
        .starts_with("Noah Weber: no IBAN"));
    // The same as data, for the page to word in its reader's language.
    assert_eq!(
        file["skipped_payouts"],
        json!([{ "employee_name": "Noah Weber", "iban_error": null }])
    );
    // The same request again is the same file, not a second one.
    let replay: Value = app
        .post("/api/v1/bank-files", &key, &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replay["batch"]["id"], file["batch"]["id"]);
    assert_eq!(app.count("settlement_batches").await, 1);
    // Nothing else to send: Noah's payout waits for his IBAN.
    let again = app.post("/api/v1/bank-files", &new_key(), &request).await;
    assert_eq!(again.status(), 422);
    let refusal: Value = again.json().await.unwrap();
    assert_eq!(refusal["error"]["code"], "nothing_to_send");
    assert!(refusal["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Noah Weber"));

    // The file itself: valid against the SIX schema, one transfer per item.
    let download = app
        .client
        .get(app.url(file["download_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(file["batch"]["reference"].as_str().unwrap()));
    let xml = download.text().await.unwrap();
    assert_valid_pain001(&xml);
    assert!(xml.contains(ZURICH_IBAN));
    for item in &items {
        assert!(xml.contains(&format!(
            "<EndToEndId>{}</EndToEndId>",
            item["end_to_end_id"].as_str().unwrap()
        )));
        assert!(xml.contains(&format!(
            ">{}</InstdAmt>",
            chf(item["amount"].as_i64().unwrap())
        )));
    }
    let total: i64 = items.iter().map(|i| i["amount"].as_i64().unwrap()).sum();
    assert!(xml.contains(&format!("<CtrlSum>{}</CtrlSum>", chf(total))));

    // The statement: two settle in a batch booking, one with another amount, one settles and
    // is returned (AC04), one unknown debit and one acquirer credit.
    let e2e = |n: usize| items[n]["end_to_end_id"].as_str().unwrap();
    let amount = |n: usize| items[n]["amount"].as_i64().unwrap();
    let xml = statement(
        "STMT-20261207-1",
        ZURICH_IBAN,
        &[
            (
                "DBIT",
                amount(0) + amount(1),
                vec![
                    (Some(e2e(0)), amount(0), None),
                    (Some(e2e(1)), amount(1), None),
                ],
            ),
            (
                "DBIT",
                amount(2) + 100,
                vec![(Some(e2e(2)), amount(2) + 100, None)],
            ),
            ("DBIT", amount(3), vec![(Some(e2e(3)), amount(3), None)]),
            (
                "CRDT",
                amount(3),
                vec![(Some(e2e(3)), amount(3), Some("AC04"))],
            ),
            ("DBIT", 9990, vec![(Some("UNKNOWN-0009"), 9990, None)]),
            ("CRDT", 391235, vec![]),
        ],
    );
    let response = import(&app, &xml).await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["duplicate"], false);
    assert_eq!(result["kind"], "camt.053");
    assert_eq!(result["lines"], 7);
    assert_eq!(result["settled"], 3, "{result:#}");
    assert_eq!(result["failed"], 1);
    assert_eq!(result["needs_reconciliation"], 1);
    assert_eq!(result["unmatched"], 2);
    let events_after_import = app.count("events").await;
    // The same file again changes nothing.
    let again: Value = import(&app, &xml).await.json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["statement_id"], result["statement_id"]);
    assert_eq!(app.count("bank_statements").await, 1);
    assert_eq!(app.count("events").await, events_after_import);

    let overview = app.get_json("/api/v1/settlements").await;
    let find = |list: &str, n: usize| {
        items_of(&overview, list)
            .iter()
            .find(|i| i["id"] == items[n]["id"])
            .cloned()
            .unwrap_or_else(|| panic!("item {n} not in {list}: {overview:#}"))
    };
    assert_eq!(find("recent", 0)["state"], "settled");
    assert_eq!(find("recent", 1)["state"], "settled");
    let flagged = find("attention", 2);
    assert_eq!(flagged["state"], "needs_reconciliation");
    assert!(flagged["reason"]
        .as_str()
        .unwrap()
        .contains("the bank debited"));
    // Each reason also comes as data, for the page to word in its reader's language.
    assert_eq!(
        flagged["reconciliation_reason"],
        json!({ "code": "amount_differs", "debited": amount(2) + 100, "expected": amount(2) })
    );
    let returned = find("attention", 3);
    assert_eq!(returned["state"], "failed");
    assert_eq!(
        returned["reason"],
        "returned by the bank (AC04: account closed)"
    );
    assert_eq!(
        returned["reconciliation_reason"],
        json!({ "code": "returned_by_bank", "bank_code": "AC04" })
    );
    assert_eq!(overview["batches"][0]["state"], "needs_reconciliation");
    let unmatched = items_of(&overview, "unmatched_lines");
    // The unknown debit, the acquirer credit and the mismatched debit wait for a person.
    assert_eq!(unmatched.len(), 3, "{overview:#}");
    let unknown = unmatched
        .iter()
        .find(|l| l["amount"] == 9990)
        .expect("the unknown debit");
    assert_eq!(
        unknown["explanation"],
        "no bank payout has the end-to-end id UNKNOWN-0009"
    );
    assert_eq!(
        unknown["reconciliation_reason"],
        json!({ "code": "unknown_end_to_end_id", "end_to_end_id": "UNKNOWN-0009" })
    );
    // The return is booked: the money is back in the bank and owed in returned payouts.
    assert_eq!(balance(&app, &zurich, "returned_payouts").await, -amount(3));
    assert_eq!(
        balance(&app, &zurich, "bank").await,
        bank_before + amount(3)
    );

    // No resolution without the bank's word; a stale version is refused with the item.
    let missing = act(
        &app,
        &returned,
        json!({ "action": "reissue", "expected_version": returned["version"], "note": "new IBAN" }),
    )
    .await;
    assert_eq!(missing.status(), 422);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["error"]["field"], "bank_reference");
    let stale = act(
        &app,
        &returned,
        json!({ "action": "reissue", "expected_version": 1,
        "bank_reference": "ZKB-RET-77", "note": "Account closed; Mia gave her new IBAN" }),
    )
    .await;
    assert_eq!(stale.status(), 409);
    let stale: Value = stale.json().await.unwrap();
    assert_eq!(stale["error"]["code"], "stale_version");
    assert_eq!(stale["error"]["item"]["state"], "failed");
    // A failed transfer is never confirmed as if nothing happened.
    let illegal = act(&app, &returned, json!({ "action": "confirm", "expected_version": returned["version"], "note": "looks fine" })).await;
    assert_eq!(illegal.status(), 409);
    let illegal: Value = illegal.json().await.unwrap();
    assert!(illegal["error"]["message"]
        .as_str()
        .unwrap()
        .contains("resolve it as paid"));

    let resolved = act(
        &app,
        &returned,
        json!({ "action": "reissue", "expected_version": returned["version"],
        "bank_reference": "ZKB-RET-77", "note": "Account closed; new IBAN given by phone" }),
    )
    .await;
    assert_eq!(resolved.status(), 200);
    let resolved: Value = resolved.json().await.unwrap();
    assert_eq!(resolved["state"], "reissued");
    assert_eq!(resolved["bank_reference"], "ZKB-RET-77");
    assert_eq!(resolved["note"], "Account closed; new IBAN given by phone");
    assert_eq!(balance(&app, &zurich, "returned_payouts").await, 0);
    assert_eq!(balance(&app, &zurich, "bank").await, bank_before);
    let overview = app.get_json("/api/v1/settlements").await;
    let reissue: Vec<&Value> = items_of(&overview, "in_transit")
        .iter()
        .filter(|i| i["reissue_of"] == resolved["id"])
        .collect();
    assert_eq!(reissue.len(), 1, "the reissue waits for the next bank file");
    assert_eq!(reissue[0]["state"], "scheduled");
    assert_eq!(reissue[0]["amount"], resolved["amount"]);
    assert_ne!(reissue[0]["end_to_end_id"], resolved["end_to_end_id"]);

    // The mismatch is confirmed by hand against its statement line, with a note.
    let line = unmatched
        .iter()
        .find(|l| l["item_id"] == flagged["id"])
        .unwrap();
    let confirmed = act(
        &app,
        &flagged,
        json!({ "action": "confirm", "expected_version": flagged["version"],
        "line_id": line["id"], "note": "CHF 1.00 bank fee charged on the transfer" }),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["state"], "settled");
    // The acquirer's credit is not a payout: dismissed with a note.
    let acquirer = unmatched
        .iter()
        .find(|l| l["direction"] == "credit")
        .unwrap();
    let dismissed = app
        .post(
            &format!(
                "/api/v1/bank-statements/lines/{}/dismiss",
                acquirer["id"].as_str().unwrap()
            ),
            &new_key(),
            &json!({ "note": "card settlement, booked by the payment provider" }),
        )
        .await;
    assert_eq!(dismissed.status(), 200);
    let overview = app.get_json("/api/v1/settlements").await;
    assert_eq!(items_of(&overview, "unmatched_lines").len(), 1);
    assert!(items_of(&overview, "attention").is_empty(), "{overview:#}");
    assert_eq!(overview["batches"][0]["state"], "settled");

    // Every change is in the event log (webhooks, live feed) and the activity log.
    for kind in [
        "settlement.bank_file_created",
        "settlement.settled",
        "settlement.failed",
        "settlement.needs_reconciliation",
        "settlement.resolved",
    ] {
        let count: i64 = db::query_scalar("SELECT COUNT(*) FROM events WHERE kind = $1")
            .bind(kind)
            .fetch_one(app.engine.pool())
            .await
            .unwrap();
        assert!(count >= 1, "no {kind} event");
    }
    let logged: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM activity_log WHERE action IN ('settlement.reissue', 'settlement.confirm', 'bank_statement.import', 'bank_statement.dismiss_line', 'settlement.bank_file')",
    )
    .fetch_one(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(logged, 5);
}

#[tokio::test]
async fn the_shipped_camt053_fixture_matches_its_transfers_and_lists_the_rest() {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Jonas Keller").await;
    let file = bank_file(&app, &zurich).await;
    // Give three of the file's transfers the fixture's end-to-end ids and amounts, as if the
    // bank had booked this file.
    for (n, (e2e, amount)) in [
        ("E2E-FIXTURE-0001", 125040),
        ("E2E-FIXTURE-0002", 83000),
        ("E2E-FIXTURE-0003", 41500),
    ]
    .into_iter()
    .enumerate()
    {
        let id =
            app::domain::SettlementItemId::parse(file["items"][n]["id"].as_str().unwrap()).unwrap();
        db::query("UPDATE settlement_items SET end_to_end_id = $2, amount = $3 WHERE id = $1")
            .bind(id)
            .bind(e2e)
            .bind(amount)
            .execute(app.engine.pool())
            .await
            .unwrap();
    }
    let xml = std::fs::read_to_string(fixture("camt053-studio-chf.xml")).unwrap();
    let result: Value = import(&app, &xml).await.json().await.unwrap();
    // 0001 and 0002 (one batch booking) and 0003 settle; 0003 comes back (AC04); the unknown
    // debit and the acquirer's credit are left for a person.
    assert_eq!(result["lines"], 6, "{result:#}");
    assert_eq!(result["settled"], 3);
    assert_eq!(result["failed"], 1);
    assert_eq!(result["unmatched"], 2);
    let overview = app.get_json("/api/v1/settlements").await;
    let failed = items_of(&overview, "attention");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["end_to_end_id"], "E2E-FIXTURE-0003");
    let lines = items_of(&overview, "unmatched_lines");
    let references: Vec<String> = lines
        .iter()
        .map(|l| format!("{} {}", l["end_to_end_id"], l["reference"]))
        .collect();
    assert!(
        references.iter().any(|r| r.contains("UNKNOWN-0009")),
        "{references:?}"
    );
    assert!(
        references
            .iter()
            .any(|r| r.contains("WL-BATCH-20261201-0042")),
        "{references:?}"
    );

    // The camt.054 notification of the same two transfers is recognised as already settled.
    let xml = std::fs::read_to_string(fixture("camt054-studio-chf.xml")).unwrap();
    let result: Value = import(&app, &xml).await.json().await.unwrap();
    assert_eq!(result["kind"], "camt.054");
    assert_eq!(result["duplicates"], 2, "{result:#}");
    assert_eq!(result["settled"], 0);
}

#[tokio::test]
async fn bank_details_and_statements_are_checked_at_the_door() {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Jonas Keller").await;
    let jonas = app.employee_named("Jonas Keller").await;
    let put = |path: String, body: Value| {
        let app = &app;
        async move {
            app.client
                .put(app.url(&path))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let employee_path = format!(
        "/api/v1/employees/{}/bank-account",
        jonas["id"].as_str().unwrap()
    );
    let studio_path = format!(
        "/api/v1/studios/{}/bank-account",
        zurich["id"].as_str().unwrap()
    );
    // A QR-IBAN receives only QR-bill payments: refused for an employee and for the payer.
    let qr = put(
        employee_path.clone(),
        json!({ "iban": "CH44 3199 9123 0008 8901 2" }),
    )
    .await;
    assert_eq!(qr.status(), 422);
    let qr: Value = qr.json().await.unwrap();
    assert_eq!(qr["error"]["field"], "iban");
    assert!(qr["error"]["message"].as_str().unwrap().contains("QR"));
    let qr = put(
        studio_path.clone(),
        json!({ "iban": "CH4431999123000889012" }),
    )
    .await;
    assert_eq!(qr.status(), 422);
    let typo = put(
        employee_path.clone(),
        json!({ "iban": "CH94 0076 2011 6238 5295 7" }),
    )
    .await;
    assert_eq!(typo.status(), 422);
    let saved = put(
        employee_path,
        json!({ "iban": "ch93 0076 2011 6238 5295 7" }),
    )
    .await;
    assert_eq!(saved.status(), 204);
    let stored: Option<String> =
        db::query_scalar("SELECT iban FROM employees WHERE name = 'Jonas Keller'")
            .fetch_one(app.engine.pool())
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some("CH9300762011623852957"));

    // A statement of an account that is not a studio's, a payment file, and not XML at all.
    let sample = std::fs::read_to_string(fixture("camt053-sample-v8.xml")).unwrap();
    let refused: Value = import(&app, &sample).await.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "unknown_account", "{refused:#}");
    let file = bank_file(&app, &zurich).await;
    let pain = app
        .client
        .get(app.url(file["download_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused: Value = import(&app, &pain).await.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "invalid_statement");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pain.001"),
        "{refused:#}"
    );
    let refused = import(&app, "hello").await;
    assert_eq!(refused.status(), 422);
    assert_eq!(app.count("bank_statements").await, 0);
    assert_eq!(app.count("bank_statement_lines").await, 0);

    // Execution dates are Swiss bank business days, today or later.
    let saturday = NaiveDate::from_ymd_opt(2027, 1, 2).unwrap();
    for (date, words) in [
        (saturday.to_string(), "is not a Swiss bank business day"),
        ("2026-01-05".to_string(), "is in the past"),
    ] {
        let refused = app
            .post(
                "/api/v1/bank-files",
                &new_key(),
                &json!({ "studio_id": studio_of(&app, "Luca Schmid").await["id"], "execution_date": date }),
            )
            .await;
        assert_eq!(refused.status(), 422);
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(refused["error"]["field"], "execution_date");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(words),
            "{refused:#}"
        );
    }
}

#[tokio::test]
async fn an_audit_finds_a_returned_payout_whose_transfer_state_disagrees_with_the_ledger() {
    use app::domain::{AuditCheck, AuditTrigger};
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Jonas Keller").await;
    let file = bank_file(&app, &zurich).await;
    let item = &file["items"][0];
    let amount = item["amount"].as_i64().unwrap();
    let e2e = item["end_to_end_id"].as_str().unwrap();
    let returned = statement(
        "STMT-RETURN-1",
        ZURICH_IBAN,
        &[("CRDT", amount, vec![(Some(e2e), amount, Some("AC01"))])],
    );
    let result: Value = import(&app, &returned).await.json().await.unwrap();
    assert_eq!(result["failed"], 1);
    let audit = || async {
        app.engine
            .run_audit(
                &app::engine::access::Caller::operator("test"),
                AuditTrigger::Manual,
                None,
                None,
            )
            .await
            .unwrap()
    };
    let clean = audit().await;
    assert!(
        clean
            .findings
            .iter()
            .all(|f| f.check != AuditCheck::ReturnedPayoutsMismatch),
        "{:?}",
        clean.findings
    );
    // A rogue edit puts the returned transfer back in transit: the ledger still holds the return.
    let id = app::domain::SettlementItemId::parse(item["id"].as_str().unwrap()).unwrap();
    db::query("UPDATE settlement_items SET state = 'in_transit' WHERE id = $1")
        .bind(id)
        .execute(app.engine.pool())
        .await
        .unwrap();
    let report = audit().await;
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.check == AuditCheck::ReturnedPayoutsMismatch)
        .collect();
    assert_eq!(found.len(), 1, "{:?}", report.findings);
    assert_eq!(found[0].amount_at_stake.0, amount);
    assert!(
        found[0].message.contains("Salon Seefeld"),
        "{}",
        found[0].message
    );
}

/// A provider event for `payment` of Zürich at `at` (UTC).
fn card_event(
    studio: &Value,
    provider: &str,
    payment: &str,
    kind: &str,
    amount: i64,
    at: &str,
) -> Value {
    json!({
        "provider": provider, "provider_payment_id": payment, "event_type": kind, "amount": amount,
        "currency": "CHF", "occurred_at": at, "studio_id": studio["id"],
    })
}

async fn deliver_all(app: &TestApp, events: &[Value]) {
    let response = app
        .client
        .post(app.url("/api/v1/payment-events/batch"))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    for result in report["results"].as_array().unwrap() {
        assert_ne!(result["outcome"], "rejected", "{result}");
    }
    app.drain_payment_inbox().await;
}

#[tokio::test]
async fn card_payments_settle_in_acquirer_batches_by_provider_term_and_a_short_credit_is_sorted_out_by_hand(
) {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Jonas Keller").await;
    // Worldline pays T+1; SumUp keeps the default card term (T+2).
    let term = app
        .client
        .put(app.url("/api/v1/settlement-terms/worldline"))
        .json(&json!({ "business_days": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(term.status(), 200);
    let refused = app
        .client
        .put(app.url("/api/v1/settlement-terms/worldline"))
        .json(&json!({ "business_days": 31 }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let terms = app.get_json("/api/v1/settlement-terms").await;
    let terms: Vec<(String, i64)> = terms
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["business_days"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        terms,
        vec![
            ("bank_payout".into(), 1),
            ("card".into(), 2),
            ("worldline".into(), 1)
        ]
    );
    // The owner's term is her business's own; the default of every business is untouched.
    let scoped: Vec<(bool, i64)> = db::query_as(
        "SELECT business_id IS NULL, business_days FROM settlement_terms WHERE key = 'worldline'",
    )
    .fetch_all(app.engine.pool())
    .await
    .unwrap();
    assert_eq!(scoped, vec![(false, 1)]);
    let mut events = Vec::new();
    for (provider, payment, amount, day) in [
        ("worldline", "wl-1", 5_000, "2026-12-03"),
        ("worldline", "wl-2", 7_000, "2026-12-03"),
        ("worldline", "wl-3", 3_000, "2026-12-04"),
        ("sumup", "su-1", 4_000, "2026-12-03"),
    ] {
        events.push(card_event(
            &zurich,
            provider,
            payment,
            "authorized",
            amount,
            &format!("{day}T09:00:00Z"),
        ));
        events.push(card_event(
            &zurich,
            provider,
            payment,
            "captured",
            amount,
            &format!("{day}T09:01:00Z"),
        ));
    }
    deliver_all(&app, &events).await;
    let report = app.engine.sweep_settlements().await.unwrap();
    assert_eq!(report.scheduled, 4);
    assert_eq!(
        app.engine.sweep_settlements().await.unwrap().scheduled,
        0,
        "scheduled once"
    );

    let overview = app.get_json("/api/v1/settlements").await;
    let mut card_batches: Vec<(String, String, i64, i64)> = overview["batches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["kind"] == "card_payment")
        .map(|b| {
            (
                b["provider"].as_str().unwrap().to_string(),
                b["expected_on"].as_str().unwrap().to_string(),
                b["item_count"].as_i64().unwrap(),
                b["total"].as_i64().unwrap(),
            )
        })
        .collect();
    card_batches.sort();
    // Thursday + 1 = Friday; Friday + 1 = Monday; Thursday + 2 = Monday.
    assert_eq!(
        card_batches,
        vec![
            ("sumup".into(), "2026-12-07".into(), 1, 4_000),
            ("worldline".into(), "2026-12-04".into(), 2, 12_000),
            ("worldline".into(), "2026-12-07".into(), 1, 3_000),
        ]
    );

    // The provider reports one payment paid out: it is in transit from the next sweep on.
    deliver_all(
        &app,
        &[card_event(
            &zurich,
            "worldline",
            "wl-3",
            "settled",
            3_000,
            "2026-12-05T06:00:00Z",
        )],
    )
    .await;
    assert_eq!(app.engine.sweep_settlements().await.unwrap().sent, 1);

    // The statement: Worldline's two credits match their batches whole; SumUp paid 25.00 of
    // 40.00.
    let xml = statement(
        "STMT-CARDS-1",
        ZURICH_IBAN,
        &[
            ("CRDT", 12_000, vec![]),
            ("CRDT", 3_000, vec![]),
            ("CRDT", 2_500, vec![]),
        ],
    );
    let result: Value = import(&app, &xml).await.json().await.unwrap();
    assert_eq!(result["settled"], 3, "{result:#}");
    assert_eq!(result["needs_reconciliation"], 1);
    assert_eq!(result["unmatched"], 0);
    let overview = app.get_json("/api/v1/settlements").await;
    let short = overview["attention"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "card_payment")
        .cloned()
        .unwrap();
    assert_eq!(short["counterparty"], "sumup");
    assert!(
        short["reason"]
            .as_str()
            .unwrap()
            .contains("credited CHF 25.00 of the CHF 40.00"),
        "{short}"
    );
    let line = overview["unmatched_lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["amount"] == 2_500)
        .cloned()
        .unwrap();
    assert_eq!(line["match_state"], "mismatch");
    assert!(line["batch_id"].is_string());
    assert_eq!(
        line["reconciliation_reason"],
        json!({ "code": "batch_short", "credited": 2_500, "expected": 4_000 })
    );

    // A card settlement is never reissued or written off by us; a failure is recorded, then
    // resolved when the acquirer pays the rest.
    let reissue = act(
        &app,
        &short,
        json!({ "action": "reissue", "expected_version": short["version"],
        "bank_reference": "SU-123", "note": "?" }),
    )
    .await;
    assert_eq!(reissue.status(), 409);
    let reissue: Value = reissue.json().await.unwrap();
    assert!(reissue["error"]["message"]
        .as_str()
        .unwrap()
        .contains("acquirer"));
    let failed: Value = act(
        &app,
        &short,
        json!({ "action": "fail", "expected_version": short["version"],
        "bank_reference": "SU-TICKET-9", "note": "SumUp held back 15.00 for a dispute" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(failed["state"], "failed");
    assert_eq!(
        balance(&app, &zurich, "returned_payouts").await,
        0,
        "card items post nothing here"
    );
    let paid: Value = act(
        &app,
        &failed,
        json!({ "action": "resolve_paid", "expected_version": failed["version"],
        "bank_reference": "SU-TICKET-9", "note": "dispute won, 15.00 paid on 9 December" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(paid["state"], "settled");
    let overview = app.get_json("/api/v1/settlements").await;
    assert!(
        overview["batches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["kind"] == "card_payment")
            .all(|b| b["state"] == "settled"),
        "{overview:#}"
    );
}

#[tokio::test]
async fn a_transfer_missing_from_the_statements_two_business_days_after_its_date_is_flagged() {
    let app = spawn_demo_app().await;
    let zurich = studio_of(&app, "Jonas Keller").await;
    let file = bank_file(&app, &zurich).await;
    // Nothing is due yet: the sweep leaves everything alone.
    assert_eq!(app.engine.sweep_settlements().await.unwrap().flagged, 0);
    // As if the file had been executed three weeks ago and no statement showed it since.
    db::query("UPDATE settlement_items SET expected_on = $1 WHERE batch_id IS NOT NULL")
        .bind(NaiveDate::from_ymd_opt(2026, 11, 13).unwrap())
        .execute(app.engine.pool())
        .await
        .unwrap();
    let report = app.engine.sweep_settlements().await.unwrap();
    assert_eq!(
        report.flagged,
        file["items"].as_array().unwrap().len() as u64
    );
    let overview = app.get_json("/api/v1/settlements").await;
    let flagged = overview["attention"].as_array().unwrap();
    assert_eq!(flagged.len(), 4);
    assert!(flagged[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("not on any bank statement 2 business days after it was due (2026-11-13)"));
    assert_eq!(
        flagged[0]["reconciliation_reason"],
        json!({ "code": "overdue", "expected_on": "2026-11-13", "grace_days": 2 })
    );
    // Noah's payout still waits for a bank file: not flagged, shown overdue only once due.
    assert!(overview["in_transit"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["state"] == "scheduled"));
}

#[tokio::test]
async fn the_pages_import_takes_a_statement_far_larger_than_a_json_request() {
    use leptos::server_fn::ServerFn;
    let app = spawn_demo_app().await;
    let owner = app.sign_in("owner@demo.test", "owner-demo").await.unwrap();
    // 2,000 debits nobody made through us: a busy month's statement, about 1 MiB.
    let entries: Vec<Entry> = (0..2_000)
        .map(|n| ("DBIT", 1_000 + n, vec![(None, 1_000 + n, None)]))
        .collect();
    let xml = statement("STMT-LARGE-1", ZURICH_IBAN, &entries);
    assert!(xml.len() > 512 * 1024, "{} bytes", xml.len());
    let response = owner
        .post(app.url(<app::api::ImportBankStatement as ServerFn>::PATH))
        .header("Origin", &app.address)
        .form(&[("document", xml.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["lines"], 2_000);
    assert_eq!(result["unmatched"], 2_000);
    assert_eq!(app.count("bank_statement_lines").await, 2_000);
    // The JSON API takes it too (its own 10 MiB limit) and knows the file.
    let again: Value = import(&app, &xml).await.json().await.unwrap();
    assert_eq!(again["duplicate"], true, "{again}");
}

/// Makes the database refuse to store statement line `position` (as a full disk would), until
/// [`let_statement_lines_in`].
async fn refuse_statement_line(app: &TestApp, position: i64) {
    let statements = if on_postgres() {
        vec![
            format!(
                "CREATE FUNCTION refuse_statement_line() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.position = {position} THEN RAISE EXCEPTION 'the disk is full'; END IF;
                 RETURN NEW; END $$"
            ),
            "CREATE TRIGGER refuse_statement_line BEFORE INSERT ON bank_statement_lines
             FOR EACH ROW EXECUTE FUNCTION refuse_statement_line()"
                .to_string(),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_statement_line BEFORE INSERT ON bank_statement_lines
             WHEN NEW.position = {position} BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        )]
    };
    for sql in statements {
        db::query(&sql)
            .execute(app.engine.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn let_statement_lines_in(app: &TestApp) {
    let sql = if on_postgres() {
        "DROP TRIGGER refuse_statement_line ON bank_statement_lines"
    } else {
        "DROP TRIGGER refuse_statement_line"
    };
    db::query(sql)
        .execute(app.engine.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn a_statement_is_matched_in_steps_and_an_import_stopped_part_way_continues_where_it_stopped()
{
    let app = spawn_app_with(app::engine::EngineSettings {
        pending_grace: std::time::Duration::ZERO,
        statement_step_lines: 2,
        ..app::engine::EngineSettings::default()
    })
    .await;
    assert!(app.engine.seed_demo().await.unwrap().seeded);
    let zurich = studio_of(&app, "Jonas Keller").await;
    let file = bank_file(&app, &zurich).await;
    let items = file["items"].as_array().unwrap().clone();
    let e2e = |n: usize| items[n]["end_to_end_id"].as_str().unwrap();
    let amount = |n: usize| items[n]["amount"].as_i64().unwrap();
    // Five lines, matched two at a time: three transfers settle, one unknown debit, one
    // transfer debited with another amount.
    let xml = statement(
        "STMT-STEPS-1",
        ZURICH_IBAN,
        &[
            ("DBIT", amount(0), vec![(Some(e2e(0)), amount(0), None)]),
            ("DBIT", amount(1), vec![(Some(e2e(1)), amount(1), None)]),
            ("DBIT", amount(2), vec![(Some(e2e(2)), amount(2), None)]),
            ("DBIT", 9990, vec![(Some("UNKNOWN-0009"), 9990, None)]),
            (
                "DBIT",
                amount(3) + 100,
                vec![(Some(e2e(3)), amount(3) + 100, None)],
            ),
        ],
    );

    // The second step fails on its second line: the first step's two lines stay, the second
    // step's first line (a settlement) is rolled back with it.
    refuse_statement_line(&app, 4).await;
    let stopped = import(&app, &xml).await;
    assert!(stopped.status().is_server_error(), "{}", stopped.status());
    assert_eq!(app.count("bank_statement_lines").await, 2);
    let unfinished = app.get_json("/api/v1/bank-statements/unfinished").await;
    let unfinished = unfinished.as_array().unwrap();
    assert_eq!(unfinished.len(), 1, "{unfinished:?}");
    assert_eq!(unfinished[0]["message_id"], "STMT-STEPS-1");
    assert_eq!(unfinished[0]["kind"], "camt.053");
    assert_eq!(unfinished[0]["studio_id"], zurich["id"]);
    assert_eq!(unfinished[0]["lines_done"], 2);
    assert_eq!(unfinished[0]["lines_total"], 5);
    // Stopped, not "going on": the page tells the owner to import the file again.
    assert_eq!(unfinished[0]["stalled"], true);
    let overview = app.get_json("/api/v1/settlements").await;
    assert_eq!(overview["unfinished_imports"][0], unfinished[0]);
    // Without a failed step, an import counts as going on until its last step is a minute old
    // (its process ended without a word).
    let stalled = |app: &TestApp| {
        let url = app.url("/api/v1/bank-statements/unfinished");
        let client = app.client.clone();
        async move {
            let list: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            list[0]["stalled"].clone()
        }
    };
    db::query("UPDATE bank_statements SET stopped_at = NULL")
        .execute(app.engine.pool())
        .await
        .unwrap();
    assert_eq!(stalled(&app).await, false);
    db::query("UPDATE bank_statements SET progress_at = $1")
        .bind(chrono::Utc::now() - chrono::Duration::seconds(61))
        .execute(app.engine.pool())
        .await
        .unwrap();
    assert_eq!(stalled(&app).await, true);
    let state_of = |overview: &Value, n: usize| {
        ["in_transit", "recent", "attention"]
            .iter()
            .flat_map(|list| items_of(overview, list).iter())
            .find(|i| i["id"] == items[n]["id"])
            .map(|i| i["state"].clone())
            .unwrap_or_else(|| panic!("item {n} is not listed: {overview:#}"))
    };
    assert_eq!(state_of(&overview, 0), "settled");
    assert_eq!(state_of(&overview, 1), "settled");
    assert_eq!(state_of(&overview, 2), "in_transit");

    // The same file again continues after line 2: nothing is matched twice.
    let_statement_lines_in(&app).await;
    let response = import(&app, &xml).await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["statement_id"], unfinished[0]["statement_id"]);
    assert_eq!(result["duplicate"], false);
    assert_eq!(result["lines"], 5);
    assert_eq!(result["settled"], 3, "{result:#}");
    assert_eq!(result["unmatched"], 1, "{result:#}");
    assert_eq!(result["needs_reconciliation"], 1, "{result:#}");
    assert_eq!(result["duplicates"], 0, "{result:#}");
    let positions: Vec<i64> =
        db::query_scalar("SELECT position FROM bank_statement_lines ORDER BY position")
            .fetch_all(app.engine.pool())
            .await
            .unwrap();
    assert_eq!(positions, vec![1, 2, 3, 4, 5]);
    let overview = app.get_json("/api/v1/settlements").await;
    assert_eq!(state_of(&overview, 2), "settled");
    assert_eq!(state_of(&overview, 3), "needs_reconciliation");
    assert_eq!(overview["unfinished_imports"], json!([]));
    assert_eq!(
        app.get_json("/api/v1/bank-statements/unfinished").await,
        json!([])
    );
    // Finished, it is a duplicate like any file imported before.
    let again: Value = import(&app, &xml).await.json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["settled"], 3);
    assert_eq!(app.count("bank_statement_lines").await, 5);

    // The engine tells its caller (the command line) after each step.
    let steps = std::sync::Mutex::new(Vec::new());
    let other: Vec<Entry> = (0..5)
        .map(|n| ("DBIT", 1_000 + n, vec![(None, 1_000 + n, None)]))
        .collect();
    let result = app
        .engine
        .import_bank_statement_with_progress(
            &app::engine::access::Caller::operator("test"),
            &statement("STMT-STEPS-2", ZURICH_IBAN, &other),
            &|step| {
                steps
                    .lock()
                    .unwrap()
                    .push((step.lines_done, step.lines_total, step.percent()))
            },
        )
        .await
        .unwrap();
    assert_eq!(result.lines, 5);
    assert_eq!(
        steps.into_inner().unwrap(),
        vec![(2, 5, 40), (4, 5, 80), (5, 5, 100)]
    );
}
