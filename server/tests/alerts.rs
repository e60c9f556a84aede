//! Telegram alerts against a fake Bot API: a clean audit says nothing, a finding sends one message
//! per owner chat, a 429 waits exactly `retry_after`, an employee hears of a payout only after it
//! is committed, and a message whose fate is unknown is never sent twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::*;
use app::engine::db;
use app::engine::faults::{Fault, FaultKind};
use app::engine::notifications::{
    deliver_due, run_worker, BotToken, DeliveryState, TelegramSettings,
};
use app::engine::EngineSettings;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use common::*;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "123456:SECRET-token";

/// The fake Bot API: records every request; answers from a script, then 200 ok.
#[derive(Clone, Default)]
struct FakeTelegram {
    received: Arc<Mutex<Vec<(String, Value)>>>,
    script: Arc<Mutex<VecDeque<(StatusCode, Value)>>>,
}

impl FakeTelegram {
    fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }

    fn answer_next(&self, status: StatusCode, body: Value) {
        self.script.lock().unwrap().push_back((status, body));
    }
}

async fn fake_bot_api(State(fake): State<FakeTelegram>, request: Request) -> impl IntoResponse {
    let path = request.uri().path().to_string();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    fake.received.lock().unwrap().push((path, body));
    let (status, answer) = fake.script.lock().unwrap().pop_front().unwrap_or((
        StatusCode::OK,
        json!({"ok": true, "result": {"message_id": 1}}),
    ));
    (status, Json(answer))
}

struct Alerts {
    app: TestApp,
    fake: FakeTelegram,
    settings: TelegramSettings,
    client: reqwest::Client,
}

impl Alerts {
    async fn deliver(&self) -> usize {
        deliver_due(&self.app.engine, &self.settings, &self.client)
            .await
            .unwrap()
    }

    async fn states(&self) -> Vec<(String, DeliveryState)> {
        self.app
            .engine
            .notifications(&app::engine::access::Caller::operator("test"), None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|n| (n.recipient, n.state))
            .collect()
    }
}

async fn alerts() -> Alerts {
    let fake = FakeTelegram::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(fake_bot_api)
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut settings =
        TelegramSettings::new(BotToken::new(TOKEN.into()), vec!["owner-chat".into()]);
    settings.api_base = format!("http://{addr}");
    settings.first_retry = Duration::from_millis(100);
    let app = spawn_app_with(EngineSettings {
        pending_grace: Duration::ZERO,
        telegram: Some(settings.clone()),
        ..EngineSettings::default()
    })
    .await;
    app.engine.seed_demo().await.unwrap();
    Alerts {
        app,
        fake,
        settings,
        client: reqwest::Client::new(),
    }
}

async fn corrupt_a_payout(app: &TestApp) {
    db::query(
        "UPDATE payouts SET total = total + 500
         WHERE id = (SELECT id FROM payouts WHERE state = 'committed' ORDER BY id LIMIT 1)",
    )
    .execute(app.engine.pool())
    .await
    .unwrap();
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

#[tokio::test]
async fn a_clean_audit_sends_nothing() {
    let a = alerts().await;
    assert_eq!(audit(&a.app).await.run.status, AuditStatus::Clean);
    assert_eq!(a.deliver().await, 0);
    assert!(a.fake.received().is_empty());
}

#[tokio::test]
async fn a_finding_sends_one_message_to_the_owner_once() {
    let a = alerts().await;
    corrupt_a_payout(&a.app).await;
    audit(&a.app).await;
    assert_eq!(a.deliver().await, 1);
    assert_eq!(a.deliver().await, 0, "sent once");
    let received = a.fake.received();
    assert_eq!(received.len(), 1);
    let (path, body) = &received[0];
    assert_eq!(path, &format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(body["chat_id"], "owner-chat");
    let text = body["text"].as_str().unwrap();
    // The altered total breaks two invariants: the lines and the transfer no longer match it.
    assert!(
        text.starts_with("⚠️ Audit found 2 problems, CHF 10.00 at stake:"),
        "{text}"
    );
    assert!(text.contains("committed payout to"), "{text}");
    // The chat id is personal data: listed masked to its last four characters.
    assert_eq!(
        a.states().await,
        vec![("••••••chat".to_string(), DeliveryState::Sent)]
    );
}

#[tokio::test]
async fn a_429_is_retried_only_after_retry_after() {
    let a = alerts().await;
    a.fake.answer_next(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
               "parameters": {"retry_after": 1}}),
    );
    corrupt_a_payout(&a.app).await;
    audit(&a.app).await;
    assert_eq!(a.deliver().await, 1);
    assert_eq!(a.states().await[0].1, DeliveryState::Pending);
    assert_eq!(a.deliver().await, 0, "not before retry_after has passed");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(a.deliver().await, 1);
    assert_eq!(a.states().await[0].1, DeliveryState::Sent);
    assert_eq!(a.fake.received().len(), 2, "one refused, one delivered");
}

#[tokio::test]
async fn a_server_error_is_retried_with_backoff_and_a_refusal_is_visible_as_failed() {
    let a = alerts().await;
    a.fake.answer_next(
        StatusCode::BAD_GATEWAY,
        json!({"ok": false, "description": "Bad Gateway"}),
    );
    a.fake.answer_next(
        StatusCode::BAD_REQUEST,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
    );
    corrupt_a_payout(&a.app).await;
    audit(&a.app).await;
    assert_eq!(a.deliver().await, 1);
    assert_eq!(a.states().await[0].1, DeliveryState::Pending);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a.deliver().await, 1);
    let failed = a.app.get_json("/api/v1/notifications?state=failed").await;
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert!(failed[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("chat not found"));
    assert!(
        !failed.to_string().contains(TOKEN),
        "the bot token never leaves the server"
    );
}

#[tokio::test]
async fn an_employee_hears_of_a_payout_only_after_it_is_committed() {
    let a = alerts().await;
    let lara = a.app.employee_named("Lara Meier").await;
    db::query("UPDATE employees SET telegram_chat_id = 'lara-chat' WHERE name = 'Lara Meier'")
        .execute(a.app.engine.pool())
        .await
        .unwrap();
    a.app.engine.faults().arm(Fault {
        phase: PayoutPhase::Committed,
        kind: FaultKind::Error,
        times: 1,
    });
    let failed = a
        .app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&lara["id"]),
        )
        .await;
    assert_eq!(failed.status(), 500);
    let payout_id = failed.json::<Value>().await.unwrap()["error"]["payout"]["id"].clone();
    a.deliver().await;
    let received = a.fake.received();
    assert_eq!(received.len(), 1, "only the owner hears of the failure");
    assert_eq!(received[0].1["chat_id"], "owner-chat");
    assert!(received[0].1["text"]
        .as_str()
        .unwrap()
        .contains("The payout to Lara Meier (CHF 18'080.00) failed while committing"));

    let finished = a
        .app
        .post(
            &format!("/api/v1/payouts/{}/finish", payout_id.as_str().unwrap()),
            &new_key(),
            &json!({}),
        )
        .await;
    assert_eq!(finished.status(), 200);
    a.deliver().await;
    let received = a.fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].1["chat_id"], "lara-chat");
    assert_eq!(
        received[1].1["text"],
        "Your payout of CHF 18'080.00 for 2026-09-01 to 2026-10-30 is committed (212 records)."
    );
}

#[tokio::test]
async fn a_message_interrupted_while_sending_is_marked_unknown_and_never_resent() {
    let a = alerts().await;
    corrupt_a_payout(&a.app).await;
    audit(&a.app).await;
    // As if the process died after claiming the message, before recording Telegram's answer.
    db::query("UPDATE notifications SET state = 'sending', attempts = 1")
        .execute(a.app.engine.pool())
        .await
        .unwrap();
    run_worker(
        a.app.engine.clone(),
        tokio::time::sleep(Duration::from_millis(300)),
    )
    .await;
    assert_eq!(a.states().await[0].1, DeliveryState::Unknown);
    assert!(a.fake.received().is_empty(), "at most once: not re-sent");
}

#[test]
fn the_bot_token_is_never_printed() {
    let settings = TelegramSettings::new(BotToken::new(TOKEN.into()), vec!["1".into()]);
    assert!(!format!("{settings:?}").contains("SECRET"));
    assert_eq!(BotToken::new(TOKEN.into()).to_string(), "***");
}
