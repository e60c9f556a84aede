//! Outbound webhooks (issue 7) against a local receiver that can fail, rate-limit, answer
//! `410 Gone` or hang, with the delivery clock driven by the test: signatures checked
//! independently (HMAC-SHA256 here, not the engine's signing code), retries on schedule,
//! `Retry-After`, the dead-letter queue and its redrive, a worker stopped mid-delivery, ordered
//! delivery, secret rotation and the refusal of private destinations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::*;
use app::engine::webhooks::{webhook_client, AllowedDestinations, WebhookSettings};
use app::engine::{db, EngineSettings};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer of the receiver.
#[derive(Clone)]
struct Reply {
    status: u16,
    retry_after: Option<&'static str>,
    delay: Duration,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }
}

/// A request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    received: Vec<Received>,
}

/// A local webhook receiver: answers from its script, then 200.
struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Receiver {
        async fn receive(
            State(script): State<Arc<Mutex<Script>>>,
            headers: HeaderMap,
            body: String,
        ) -> axum::response::Response {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let reply = {
                let mut script = script.lock().unwrap();
                script.received.push(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body,
                });
                script
                    .replies
                    .pop_front()
                    .unwrap_or_else(|| Reply::status(200))
            };
            tokio::time::sleep(reply.delay).await;
            let status = StatusCode::from_u16(reply.status).unwrap();
            match reply.retry_after {
                Some(after) => (status, [("retry-after", after)], "slow down").into_response(),
                None => (status, format!("answer {}", reply.status)).into_response(),
            }
        }
        let script = Arc::new(Mutex::new(Script::default()));
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Receiver { url, script }
    }

    fn answer(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().replies.extend(replies);
    }

    fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }
}

fn loopback_settings() -> EngineSettings {
    EngineSettings {
        pending_grace: Duration::ZERO,
        webhooks: WebhookSettings {
            allowed_destinations: AllowedDestinations {
                loopback: true,
                ..AllowedDestinations::default()
            },
            ..WebhookSettings::default()
        },
        ..EngineSettings::default()
    }
}

async fn demo_app() -> TestApp {
    let app = spawn_app_with(loopback_settings()).await;
    app.engine.seed_demo().await.unwrap();
    app
}

/// Registers an endpoint through the API; returns its id and secret.
async fn add_endpoint(app: &TestApp, body: Value) -> (String, String) {
    let response = app
        .client
        .post(app.url("/api/v1/webhooks/endpoints"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let created: Value = response.json().await.unwrap();
    (
        created["endpoint"]["id"].as_str().unwrap().to_string(),
        created["secret"]["secret"].as_str().unwrap().to_string(),
    )
}

/// Verifies a `webhook-signature` header strictly (Standard Webhooks): one of its
/// space-separated `v1,<base64>` entries must equal HMAC-SHA256(secret, id.timestamp.body)
/// exactly, length included.
fn signed_by(received: &Received, secret: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", received.id, received.timestamp, received.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    received
        .signature
        .split(' ')
        .any(|candidate| candidate == expected)
}

async fn fan_out(app: &TestApp) {
    while app.engine.dispatch_webhook_events().await.unwrap() > 0 {}
}

async fn deliver(app: &TestApp, at: DateTime<Utc>) -> app::engine::webhooks::DeliveryRound {
    let client = webhook_client(&app.engine.settings().webhooks).unwrap();
    app.engine.deliver_due_webhooks(&client, at).await.unwrap()
}

async fn messages(app: &TestApp, endpoint: &str) -> Vec<Value> {
    app.get_json(&format!("/api/v1/webhooks/endpoints/{endpoint}/messages"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

async fn message_detail(app: &TestApp, message: &Value) -> Value {
    app.get_json(&format!(
        "/api/v1/webhooks/messages/{}",
        message["id"].as_str().unwrap()
    ))
    .await
}

fn outcomes(detail: &Value) -> Vec<String> {
    detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect()
}

/// The test's clock: now, to the millisecond (the precision the engine stores).
fn clock() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap()
}

fn next_attempt(message: &Value) -> DateTime<Utc> {
    message["next_attempt_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn signing_matches_the_standard_webhooks_test_vector() {
    let signature = app::engine::webhooks::sign(
        &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string()],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        br#"{"test": 2432232314}"#,
    )
    .unwrap();
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // The test's own verifier agrees, and refuses a truncated signature.
    let received = Received {
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
        timestamp: "1614265330".into(),
        signature,
        body: r#"{"test": 2432232314}"#.into(),
    };
    assert!(signed_by(
        &received,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ));
    let truncated = Received {
        signature: "v1,".into(),
        ..received
    };
    assert!(!signed_by(
        &truncated,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ));
}

#[tokio::test]
async fn a_committed_payout_reaches_the_endpoint_signed_with_a_delivery_receipt() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = add_endpoint(
        &app,
        json!({"url": receiver.url, "description": "accounting", "event_types": ["payout.committed"]}),
    )
    .await;
    let payout = app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let round = deliver(&app, clock()).await;
    assert_eq!(round.delivered, 1, "{round:?}");

    let received = receiver.received();
    assert_eq!(received.len(), 1, "only the subscribed type is sent");
    assert!(signed_by(&received[0], &secret), "{:?}", received[0]);
    assert!(received[0].id.starts_with("msg_"));
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["type"], "payout.committed");
    assert_eq!(body["data"]["id"], payout["id"]);
    assert_eq!(body["data"]["total"], 1_808_000);

    let listed = messages(&app, &endpoint).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "delivered");
    assert_eq!(listed[0]["webhook_id"], received[0].id.as_str());
    let detail = message_detail(&app, &listed[0]).await;
    assert_eq!(outcomes(&detail), ["delivered"]);
    assert_eq!(detail["attempts"][0]["status_code"], 200);
    assert_eq!(detail["attempts"][0]["response_excerpt"], "answer 200");
    assert!(detail["attempts"][0]["latency_ms"].as_i64().unwrap() >= 0);

    // Nothing is sent twice: fanning out and delivering again finds nothing new.
    fan_out(&app).await;
    assert_eq!(deliver(&app, clock()).await.attempted, 0);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn failed_attempts_are_retried_on_the_schedule_and_every_attempt_has_a_receipt() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([Reply::status(500), Reply::status(503)]);
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.committed"]}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let t0 = clock();

    assert_eq!(deliver(&app, t0).await.retrying, 1);
    let first = &messages(&app, &endpoint).await[0];
    assert_eq!(first["state"], "scheduled");
    assert_eq!(first["last_error"], "the endpoint answered 500");
    // 5 s with ±10 % jitter.
    let wait = (next_attempt(first) - t0).num_milliseconds();
    assert!(
        (4_500..=5_500).contains(&wait),
        "first retry after {wait} ms"
    );

    // Not due yet: nothing is attempted.
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::seconds(4))
            .await
            .attempted,
        0
    );
    assert_eq!(receiver.received().len(), 1);

    let t1 = t0 + chrono::Duration::seconds(6);
    assert_eq!(deliver(&app, t1).await.retrying, 1);
    let second = &messages(&app, &endpoint).await[0];
    // 5 min with ±10 % jitter.
    let wait = (next_attempt(second) - t1).num_seconds();
    assert!((270..=330).contains(&wait), "second retry after {wait} s");

    let t2 = t1 + chrono::Duration::seconds(331);
    assert_eq!(deliver(&app, t2).await.delivered, 1);
    let delivered = &messages(&app, &endpoint).await[0];
    assert_eq!(delivered["state"], "delivered");
    assert_eq!(delivered["attempts"], 3);
    let detail = message_detail(&app, delivered).await;
    assert_eq!(outcomes(&detail), ["retry", "retry", "delivered"]);
    let codes: Vec<i64> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    // The same webhook-id on every attempt, so the receiver can deduplicate.
    let ids: Vec<String> = receiver.received().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[tokio::test]
async fn a_429_with_retry_after_waits_at_least_that_long() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([Reply {
        status: 429,
        retry_after: Some("120"),
        delay: Duration::ZERO,
    }]);
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.committed"]}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let t0 = clock();
    assert_eq!(deliver(&app, t0).await.retrying, 1);
    let message = &messages(&app, &endpoint).await[0];
    let wait = (next_attempt(message) - t0).num_seconds();
    assert!(
        (120..=121).contains(&wait),
        "Retry-After 120 s beats the 5 s schedule step: {wait} s"
    );
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::seconds(60))
            .await
            .attempted,
        0
    );
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::seconds(122))
            .await
            .delivered,
        1
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint_alerts_and_the_dead_letter_queue_can_be_redriven() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([Reply::status(410)]);
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.*"], "ordered": true}),
    )
    .await;
    let watcher = Receiver::start().await;
    add_endpoint(
        &app,
        json!({"url": watcher.url, "event_types": ["webhook.endpoint_disabled"]}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    // payout.created and payout.committed, in order: the first gets the 410.
    let round = deliver(&app, clock()).await;
    assert_eq!(round.dead_lettered, 1, "{round:?}");
    let endpoint_now = app
        .get_json(&format!("/api/v1/webhooks/endpoints/{endpoint}"))
        .await;
    assert_eq!(endpoint_now["enabled"], false);
    assert_eq!(
        endpoint_now["disabled_reason"],
        "the endpoint answered 410 Gone"
    );
    assert_eq!(endpoint_now["disabled_because"], json!({ "code": "gone" }));
    assert_eq!(endpoint_now["message_counts"]["dead_lettered"], 2);
    let alerts: i64 =
        db::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'webhook.endpoint_disabled'")
            .fetch_one(app.engine.pool())
            .await
            .unwrap();
    assert_eq!(alerts, 1);
    // The business's other endpoint that subscribed to it hears about it.
    fan_out(&app).await;
    assert_eq!(deliver(&app, clock()).await.delivered, 1);
    let alert: Value = serde_json::from_str(&watcher.received()[0].body).unwrap();
    assert_eq!(alert["type"], "webhook.endpoint_disabled");
    assert_eq!(alert["data"]["url"], receiver.url.as_str());
    assert_eq!(alert["data"]["reason"], "the endpoint answered 410 Gone");

    // A disabled endpoint gets nothing, and cannot be redriven until enabled.
    assert_eq!(deliver(&app, clock()).await.attempted, 0);
    let refused = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}/redrive")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let enabled = app
        .client
        .patch(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}")))
        .json(&json!({"expected_version": endpoint_now["version"], "enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let redriven: Value = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}/redrive")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(redriven["redriven"], 2);
    // Ordered: one at a time, oldest first.
    assert_eq!(deliver(&app, clock()).await.delivered, 1);
    assert_eq!(deliver(&app, clock()).await.delivered, 1);
    let types: Vec<String> = receiver.received()[1..]
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].to_string())
        .collect();
    assert_eq!(types, ["\"payout.created\"", "\"payout.committed\""]);
}

#[tokio::test]
async fn an_endpoint_that_hangs_is_cut_off_at_its_timeout_and_retried() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([Reply {
        status: 200,
        retry_after: None,
        delay: Duration::from_secs(5),
    }]);
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.committed"], "timeout_secs": 1}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let started = std::time::Instant::now();
    assert_eq!(deliver(&app, clock()).await.retrying, 1);
    assert!(started.elapsed() < Duration::from_secs(4));
    let message = &messages(&app, &endpoint).await[0];
    let detail = message_detail(&app, message).await;
    assert_eq!(detail["attempts"][0]["error"], "no answer within 1 s");
    assert_eq!(detail["attempts"][0]["status_code"], Value::Null);
    assert_eq!(outcomes(&detail), ["retry"]);
}

#[tokio::test]
async fn after_the_last_attempt_a_message_is_dead_lettered_and_a_resend_delivers_it() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([Reply::status(500), Reply::status(500)]);
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.committed"], "retry_schedule_secs": [10]}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let t0 = clock();
    assert_eq!(deliver(&app, t0).await.retrying, 1);
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::seconds(12))
            .await
            .dead_lettered,
        1
    );
    let dead = app
        .get_json(&format!(
            "/api/v1/webhooks/endpoints/{endpoint}/messages?state=dead_lettered"
        ))
        .await;
    assert_eq!(dead.as_array().unwrap().len(), 1);
    let message = dead[0].clone();
    // Much later: a dead-lettered message is never attempted by itself.
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::days(3))
            .await
            .attempted,
        0
    );
    let resend = |id: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url(&format!("/api/v1/webhooks/messages/{id}/resend")))
                .send()
                .await
                .unwrap()
        }
    };
    let id = message["id"].as_str().unwrap().to_string();
    assert_eq!(resend(id.clone()).await.status(), 202);
    // Already scheduled: a second resend is refused with the reason.
    let again = resend(id.clone()).await;
    assert_eq!(again.status(), 409);
    let error: Value = again.json().await.unwrap();
    assert_eq!(
        error["error"]["message"],
        "cannot resend: the message is already waiting for its next attempt"
    );
    assert_eq!(deliver(&app, clock()).await.delivered, 1);
    let detail = message_detail(&app, &message).await;
    assert_eq!(outcomes(&detail), ["retry", "dead_lettered", "delivered"]);
}

#[tokio::test]
async fn a_worker_stopped_mid_delivery_loses_nothing() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    receiver.answer([Reply {
        status: 200,
        retry_after: None,
        delay: Duration::from_secs(30),
    }]);
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.committed"], "timeout_secs": 20}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let t0 = clock();
    // The worker dies while the receiver is still working on the request.
    let client = webhook_client(&app.engine.settings().webhooks).unwrap();
    let mut round = Box::pin(app.engine.deliver_due_webhooks(&client, t0));
    let arrived = async {
        while receiver.received().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = &mut round => panic!("the round ended although the receiver had not answered"),
        arrived = tokio::time::timeout(Duration::from_secs(15), arrived) => {
            arrived.expect("the attempt reached the receiver");
        }
    }
    // Dropping the round mid-request is the crash.
    drop(round);
    assert_eq!(receiver.received().len(), 1);
    let leased = &messages(&app, &endpoint).await[0];
    assert_eq!(leased["state"], "sending");

    // Before the lease runs out (timeout + 60 s) nobody takes it; after, it is sent again.
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::seconds(30))
            .await
            .attempted,
        0
    );
    let round = deliver(&app, t0 + chrono::Duration::seconds(81)).await;
    assert_eq!((round.recovered, round.delivered), (1, 1), "{round:?}");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].id, received[1].id,
        "same webhook-id: deduplicable"
    );
    let detail = message_detail(&app, leased).await;
    assert_eq!(outcomes(&detail), ["interrupted", "delivered"]);
    assert_eq!(detail["message"]["state"], "delivered");
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_until_the_overlap_ends() {
    let app = demo_app().await;
    let receiver = Receiver::start().await;
    let (endpoint, old_secret) = add_endpoint(&app, json!({"url": receiver.url})).await;
    let rotated: Value = app
        .client
        .post(app.url(&format!(
            "/api/v1/webhooks/endpoints/{endpoint}/rotate-secret"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    assert!(new_secret.starts_with("whsec_"));
    let test = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(test.status(), 202);
    assert_eq!(deliver(&app, clock()).await.delivered, 1);
    let received = &receiver.received()[0];
    assert_eq!(received.signature.split(' ').count(), 2);
    assert!(signed_by(received, &old_secret));
    assert!(signed_by(received, &new_secret));
    let body: Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(body["type"], "webhook.test");

    // A day later only the new secret signs.
    app.client
        .post(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}/test")))
        .send()
        .await
        .unwrap();
    deliver(&app, clock() + chrono::Duration::hours(25)).await;
    let later = &receiver.received()[1];
    assert!(signed_by(later, &new_secret));
    assert!(!signed_by(later, &old_secret));
}

/// The owner's endpoint form gets what is wrong with an endpoint as data, to word in the page's
/// language: the URL's problem with its address and kind, an unknown event type by name.
#[tokio::test]
async fn the_endpoint_form_gets_its_refusals_as_data() {
    use leptos::server_fn::ServerFn;
    let app = spawn_demo_app().await;
    let owner = app.sign_in("owner@demo.test", "owner-demo").await.unwrap();
    let add = |url: &'static str, event_types: &'static str| {
        owner
            .post(app.url(<app::api::AddWebhookEndpoint as ServerFn>::PATH))
            .header("Origin", &app.address)
            .form(&[
                ("url", url),
                ("description", ""),
                ("event_types", event_types),
            ])
            .send()
    };
    let cases = [
        (
            "http://10.0.0.7/hook",
            "",
            AppError::invalid(
                "url",
                FieldProblem::DestinationNotAllowed {
                    ip: "10.0.0.7".into(),
                    class: AddressClass::Private,
                },
            ),
        ),
        (
            "ftp://example.com/x",
            "",
            AppError::invalid("url", FieldProblem::UrlScheme),
        ),
        (
            "https://example.com/hook",
            "payout.comitted",
            AppError::invalid(
                "event_types",
                FieldProblem::UnknownEventType {
                    entry: "payout.comitted".into(),
                },
            ),
        ),
    ];
    for (url, event_types, expected) in cases {
        let refused = server_fn_refusal(add(url, event_types).await.unwrap()).await;
        assert_eq!(refused, (422, expected), "{url} {event_types}");
    }
    // The JSON API keeps its English sentence.
    let refused = AppError::invalid(
        "url",
        FieldProblem::DestinationNotAllowed {
            ip: "10.0.0.7".into(),
            class: AddressClass::Private,
        },
    );
    assert!(
        refused.to_string().starts_with(
            "url: 10.0.0.7 is a private address; webhooks may not reach it (server-side request forgery protection"
        ),
        "{refused}"
    );
}

#[tokio::test]
async fn private_and_loopback_destinations_are_refused_unless_allowed() {
    // Default settings: no private destination allowed.
    let app = spawn_app().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/webhooks/endpoints"))
            .json(&json!({"url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{url}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], "url");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("webhooks may not reach it"),
            "{error}"
        );
    }
    // A name is checked where it resolves, at each attempt.
    let (endpoint, _) = add_endpoint(&app, json!({"url": "http://localhost:9/hook"})).await;
    app.client
        .post(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(deliver(&app, clock()).await.retrying, 1);
    let message = &messages(&app, &endpoint).await[0];
    let error = message["last_error"].as_str().unwrap();
    assert!(error.contains("loopback address"), "{error}");
    for bad in [
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
        "nonsense",
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/webhooks/endpoints"))
            .json(&json!({"url": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
}

#[tokio::test]
async fn an_endpoint_failing_longer_than_the_limit_is_disabled() {
    let mut settings = loopback_settings();
    settings.webhooks.disable_after = Duration::from_secs(3600);
    let app = spawn_app_with(settings).await;
    app.engine.seed_demo().await.unwrap();
    let receiver = Receiver::start().await;
    receiver.answer((0..10).map(|_| Reply::status(502)));
    let (endpoint, _) = add_endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["payout.committed"], "retry_schedule_secs": [1800, 1800, 1800]}),
    )
    .await;
    app.commit_payout_of("Lara Meier").await;
    fan_out(&app).await;
    let t0 = clock();
    assert_eq!(deliver(&app, t0).await.retrying, 1);
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::minutes(35))
            .await
            .retrying,
        1
    );
    // Failing since t0, an hour and more later: disabled, the message dead-lettered.
    assert_eq!(
        deliver(&app, t0 + chrono::Duration::minutes(70))
            .await
            .dead_lettered,
        1
    );
    let endpoint_now = app
        .get_json(&format!("/api/v1/webhooks/endpoints/{endpoint}"))
        .await;
    assert_eq!(endpoint_now["enabled"], false);
    assert!(endpoint_now["disabled_reason"]
        .as_str()
        .unwrap()
        .starts_with("every attempt has failed since"));
    assert_eq!(
        endpoint_now["disabled_because"]["code"], "failing_too_long",
        "{endpoint_now}"
    );
}

#[tokio::test]
async fn endpoints_validate_their_settings_and_stay_within_their_business() {
    let app = demo_app().await;
    for (body, field) in [
        (
            json!({"url": "https://example.com/h", "event_types": ["payout.comitted"]}),
            "event_types",
        ),
        (
            json!({"url": "https://example.com/h", "retry_schedule_secs": [0]}),
            "retry_schedule_secs",
        ),
        (
            json!({"url": "https://example.com/h", "timeout_secs": 31}),
            "timeout_secs",
        ),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/webhooks/endpoints"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field);
    }
    let (endpoint, _) = add_endpoint(&app, json!({"url": "https://example.com/h"})).await;
    // A stale version is refused with the current one named.
    let stale = app
        .client
        .patch(app.url(&format!("/api/v1/webhooks/endpoints/{endpoint}")))
        .json(&json!({"expected_version": 7, "description": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);
    // A receptionist may not see webhooks.
    let receptionist = app
        .engine
        .create_api_key(
            &app::engine::access::Caller::operator("test"),
            &ApiKeyRequest {
                name: "front desk".into(),
                role: Role::Receptionist,
                studio_id: Some(
                    StudioId::parse(
                        app.employee_named("Lara Meier").await["studio_id"]
                            .as_str()
                            .unwrap(),
                    )
                    .unwrap(),
                ),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let listed = bearer_client(&receptionist.key)
        .get(app.url("/api/v1/webhooks/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 403);
    // An endpoint of another business is not found.
    let other_business = BusinessId::generate();
    db::query("INSERT INTO businesses (id, name, created_at) VALUES ($1, 'Other', $2)")
        .bind(other_business)
        .bind(clock())
        .execute(app.engine.pool())
        .await
        .unwrap();
    let foreign = WebhookEndpointId::generate();
    db::query(
        "INSERT INTO webhook_endpoints (id, business_id, url, enabled, retry_schedule, timeout_secs,
             first_event_id, version, created_at, updated_at)
         VALUES ($1, $2, 'https://example.com/other', TRUE, '[]', 15, 0, 1, $3, $3)",
    )
    .bind(foreign)
    .bind(other_business)
    .bind(clock())
    .execute(app.engine.pool())
    .await
    .unwrap();
    let read = app
        .client
        .get(app.url(&format!("/api/v1/webhooks/endpoints/{foreign}")))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 404);
    let listed = app.get_json("/api/v1/webhooks/endpoints").await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "only this business's endpoint"
    );
}
