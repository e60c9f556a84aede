//! Who may do what, through the real router: every JSON API endpoint against every kind of
//! caller (nobody, the owner, a receptionist, an employee, a narrow API key), employees and
//! receptionists kept inside their own data, cross-site requests refused, sign-in rate limits,
//! sessions that really end, revocable API keys and the append-only activity log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::{
    ApiKeyRequest, ApiScope, BankFileRequest, NewPaymentRequest, PayoutPhase, Role, StudioId,
    WebhookEndpointRequest,
};
use app::engine::access::Caller;
use app::engine::db;
use app::engine::faults::{Fault, FaultKind};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

const LARA: &str = "Lara Meier";
const JONAS: &str = "Jonas Keller";
const OWNER: (&str, &str) = ("owner@demo.test", "owner-demo");
const RECEPTION_ZURICH: (&str, &str) = ("reception@demo.test", "reception-demo");
const RECEPTION_BERN: (&str, &str) = ("reception.bern@demo.test", "reception-demo");
const LARA_LOGIN: (&str, &str) = ("lara@demo.test", "employee-demo");
const EVIL: &str = "http://evil.example";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A cookie-session client signed in as `login`.
async fn signed_in(app: &TestApp, login: (&str, &str)) -> reqwest::Client {
    match app.sign_in(login.0, login.1).await {
        Ok(client) => client,
        Err(response) => panic!("{} cannot sign in: {}", login.0, response.status()),
    }
}

/// Sends `method path` like the app's own pages would: a change carries `Origin: <this site>`
/// and a fresh `Idempotency-Key`. Returns the status and the body (JSON, else the raw text).
async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    method: &Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client.request(method.clone(), app.url(path));
    if *method != Method::GET {
        request = request
            .header("Origin", &app.address)
            .header("Idempotency-Key", new_key());
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let streaming = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        // The live feed never ends: its status is the answer.
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Lara's studio (Salon Seefeld, Zürich), Lara, and a service of that studio's catalogue.
struct Zurich {
    studio: Value,
    lara: Value,
    service: Value,
}

async fn zurich(app: &TestApp) -> Zurich {
    let lara = app.employee_named(LARA).await;
    let studio = lara["studio_id"].clone();
    let service = app
        .engine
        .services(&Caller::operator("test"))
        .await
        .expect("services")
        .into_iter()
        .find(|s| json!(s.studio_id) == studio)
        .expect("a service in Zürich");
    Zurich {
        studio,
        lara,
        service: json!(service.id),
    }
}

fn today() -> String {
    app::engine::today().to_string()
}

/// A card-paid service Lara performed today, as the register form sends it.
fn service_today(z: &Zurich) -> Value {
    json!({
        "employee_id": z.lara["id"],
        "service_id": z.service,
        "price": 5_000,
        "payment_method": "card",
        "performed_on": today(),
    })
}

/// A payout request for Lara covering today only.
fn lara_today(z: &Zurich) -> Value {
    json!({ "employee_id": z.lara["id"], "period_start": today(), "period_end": today() })
}

/// Registers a service for Lara (as the owner's API key) that nothing has paid yet; its id.
async fn unpaid_record(app: &TestApp, z: &Zurich) -> String {
    let response = app
        .post("/api/v1/service-records", &new_key(), &service_today(z))
        .await;
    assert_eq!(response.status(), 201, "registering a service for the test");
    let record: Value = response.json().await.expect("json");
    record["id"].as_str().expect("id").to_string()
}

fn set_cookie_attributes(response: &reqwest::Response) -> Vec<String> {
    let header = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .expect("ascii");
    header
        .split(';')
        .map(|part| part.trim().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. The authorisation matrix
// ---------------------------------------------------------------------------------------------

/// What a caller should hear from an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 2xx.
    Done,
    /// Let through authorisation: 2xx, or a 4xx that is not 401/403 (e.g. 409 when an earlier
    /// caller already did the one thing there was to do today).
    Let,
    /// 401 `unauthenticated`.
    Who,
    /// 403 `forbidden`.
    No,
}
use Expect::{Done, Let, No, Who};

impl Expect {
    fn met_by(self, status: u16, body: &Value) -> bool {
        let success = (200..300).contains(&status);
        match self {
            Done => success,
            Let => success || ((400..500).contains(&status) && status != 401 && status != 403),
            Who => status == 401 && error_code(body) == "unauthenticated",
            No => status == 403 && error_code(body) == "forbidden",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Done => "2xx",
            Let => "allowed (2xx or a 4xx other than 401/403)",
            Who => "401 unauthenticated",
            No => "403 forbidden",
        }
    }
}

/// Callers, in the order of each row's expectations.
const CALLERS: [&str; 5] = [
    "nobody",
    "owner (cookie)",
    "receptionist Zürich (cookie)",
    "employee Lara (cookie)",
    "API key receptionist Zürich payouts:read",
];

/// Something a row needs made afresh before each call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fresh {
    Nothing,
    /// A new unpaid service record of Lara (today, card); `{record}` in the path is its id.
    UnpaidRecord,
}

/// One endpoint: `{n}` in the path or body becomes a number unique to the call, `{till}` the id
/// of Zürich's current till session.
struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    fresh: Fresh,
    expect: [Expect; 5],
}

fn row(method: Method, path: impl Into<String>, body: Option<Value>, expect: [Expect; 5]) -> Row {
    Row {
        method,
        path: path.into(),
        body,
        fresh: Fresh::Nothing,
        expect,
    }
}

fn fresh(mut row: Row) -> Row {
    row.fresh = Fresh::UnpaidRecord;
    row
}

struct Placeholders<'a> {
    app: &'a TestApp,
    zurich: &'a Zurich,
    counter: AtomicUsize,
}

impl Placeholders<'_> {
    async fn fill(&self, text: &str, record: Option<&str>) -> String {
        let mut text = text.to_string();
        if text.contains("{n}") {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            text = text.replace("{n}", &n.to_string());
        }
        if text.contains("{day}") {
            // A working day long before the demo window, distinct for every call.
            let n = self.counter.fetch_add(1, Ordering::Relaxed) as i64;
            let day = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date")
                + chrono::Duration::days(n);
            text = text.replace("{day}", &day.to_string());
        }
        if text.contains("{till}") {
            let till = self
                .app
                .get_json(&format!(
                    "/api/v1/till?studio_id={}",
                    self.zurich.studio.as_str().expect("id")
                ))
                .await;
            text = text.replace("{till}", till["id"].as_str().unwrap_or("no-till-open"));
        }
        if let Some(record) = record {
            text = text.replace("{record}", record);
        }
        text
    }
}

#[tokio::test]
async fn every_api_endpoint_admits_exactly_the_roles_and_scopes_the_role_table_allows() {
    let app = spawn_demo_app().await;
    let z = zurich(&app).await;
    let studio = z.studio.as_str().expect("studio id").to_string();
    let lara_id = z.lara["id"].as_str().expect("id").to_string();

    // Things to point at, made with the harness's owner API key.
    let lara_payout: Value = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&z.lara["id"]),
        )
        .await
        .json()
        .await
        .expect("json");
    let lara_payout = lara_payout["id"]
        .as_str()
        .expect("Lara's payout")
        .to_string();
    let jonas = app.employee_named(JONAS).await;
    assert_eq!(jonas["studio_id"], z.studio, "Jonas works in Zürich");
    app.engine.faults().arm(Fault {
        phase: PayoutPhase::LinesClaimed,
        kind: FaultKind::Error,
        times: 1,
    });
    let failed: Value = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&jonas["id"]),
        )
        .await
        .json()
        .await
        .expect("json");
    let failed_payout = failed["error"]["payout"]["id"]
        .as_str()
        .expect("a failed payout of Jonas")
        .to_string();
    let audit: Value = app
        .post("/api/v1/audits", &new_key(), &json!({ "days": 1 }))
        .await
        .json()
        .await
        .expect("json");
    let audit_run = audit["id"].as_str().expect("an audit run").to_string();
    let operator = Caller::operator("test");
    let spare_key = app
        .engine
        .create_api_key(
            &operator,
            &ApiKeyRequest {
                name: "spare key to revoke".into(),
                role: Role::Owner,
                studio_id: None,
                scopes: None,
            },
        )
        .await
        .expect("spare key")
        .info
        .id;
    let bern_receptionist = app
        .engine
        .users(&operator)
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.email == RECEPTION_BERN.0)
        .expect("the Bern receptionist")
        .id;
    let studio_id: StudioId = serde_json::from_value(z.studio.clone()).expect("studio id");
    let draft_payment = app
        .engine
        .create_payment(
            &operator,
            &app::engine::idempotency::IdempotencyKey::parse(Some("authz-draft")).expect("key"),
            &NewPaymentRequest {
                studio_id,
                amount: 5_000,
                currency: None,
            },
        )
        .await
        .expect("a draft payment")
        .id;
    let payment_event = json!({
        "provider": "sumup", "provider_payment_id": "authz-1", "event_type": "authorized",
        "amount": 5_000, "currency": "CHF", "occurred_at": "2026-11-20T10:00:00Z", "studio_id": studio_id,
    });
    let narrow_key = app
        .engine
        .create_api_key(
            &operator,
            &ApiKeyRequest {
                name: "payouts reader".into(),
                role: Role::Receptionist,
                studio_id: Some(studio_id),
                scopes: Some(vec![ApiScope::PayoutsRead]),
            },
        )
        .await
        .expect("narrow key")
        .key;

    let webhook = app
        .engine
        .create_webhook_endpoint(
            &operator,
            &WebhookEndpointRequest {
                url: "https://example.com/authz-hook".into(),
                ..WebhookEndpointRequest::default()
            },
        )
        .await
        .expect("a webhook endpoint")
        .endpoint
        .id;
    let webhook_message = app
        .engine
        .send_webhook_test(&operator, webhook)
        .await
        .expect("a webhook message")
        .id;

    let bank_file = app
        .engine
        .create_bank_file(
            &operator,
            &app::engine::idempotency::IdempotencyKey::parse(Some("authz-bank-file")).expect("key"),
            &BankFileRequest {
                studio_id,
                execution_date: None,
            },
        )
        .await
        .expect("a bank file");
    let bank_batch = bank_file.batch.id;
    let settlement_item = bank_file.items[0].id;
    let nowhere = uuid::Uuid::new_v4();

    let clients = [
        reqwest::Client::new(),
        signed_in(&app, OWNER).await,
        signed_in(&app, RECEPTION_ZURICH).await,
        signed_in(&app, LARA_LOGIN).await,
        bearer_client(&narrow_key),
    ];

    let (get, post, delete, patch, put) = (
        Method::GET,
        Method::POST,
        Method::DELETE,
        Method::PATCH,
        Method::PUT,
    );
    #[rustfmt::skip]
    let table = vec![
        //                                                                         nobody owner rec  Lara key
        row(get.clone(), "/api/v1/employees", None,                                [Who, Done, Done, Done, No]),
        row(get.clone(), "/api/v1/service-records", None,                          [Who, Done, Done, Done, No]),
        row(post.clone(), "/api/v1/service-records", Some(service_today(&z)),      [Who, Done, Done, No, No]),
        fresh(row(post.clone(), "/api/v1/service-records/{record}/refund",
            Some(json!({ "reason": "client complained" })),                        [Who, Done, Done, No, No])),
        row(get.clone(), "/api/v1/day-records", None,                              [Who, Done, Done, Done, No]),
        row(post.clone(), "/api/v1/day-records",
            Some(json!({ "employee_id": lara_id, "worked_on": "{day}", "deduction": 1_000 })),
                                                                                   [Who, Done, Done, No, No]),
        fresh(row(post.clone(), "/api/v1/payouts/preview", Some(lara_today(&z)),   [Who, Done, Done, No, Done])),
        fresh(row(post.clone(), "/api/v1/payouts", Some(lara_today(&z)),           [Who, Done, Done, No, No])),
        row(get.clone(), "/api/v1/payouts", None,                                  [Who, Done, Done, Done, Done]),
        row(get.clone(), format!("/api/v1/payouts/{lara_payout}"), None,           [Who, Done, Done, Done, Done]),
        // Payout slips (issue 10): owners and the employee paid; not receptionists or their keys.
        row(get.clone(), format!("/api/v1/payouts/{lara_payout}/slip.pdf"), None,  [Who, Done, No, Done, No]),
        row(post.clone(), format!("/api/v1/payouts/{lara_payout}/finish"), Some(json!({})),
                                                                                   [Who, Done, Done, No, No]),
        row(post.clone(), format!("/api/v1/payouts/{failed_payout}/cancel"), Some(json!({})),
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/ledger/balances?studio_id={studio}"), None,
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/ledger/transfers?studio_id={studio}&limit=5"), None,
                                                                                   [Who, Done, No, No, No]),
        // Payments (issue 6): receptionists see them; only owners deliver events and act.
        row(post.clone(), "/api/v1/payment-events", Some(payment_event.clone()),   [Who, Done, No, No, No]),
        row(post.clone(), "/api/v1/payment-events/batch",
            Some(json!({ "events": [payment_event.clone()] })),                    [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/payment-events?status=parked", None,             [Who, Done, Done, No, No]),
        row(get.clone(), "/api/v1/payment-events/summary", None,                   [Who, Done, Done, No, No]),
        row(get.clone(), "/api/v1/payments", None,                                 [Who, Done, Done, No, No]),
        row(post.clone(), "/api/v1/payments", Some(json!({ "studio_id": studio_id, "amount": 1_000 })),
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/payments/totals", None,                          [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/payments/{draft_payment}"), None,        [Who, Done, Done, No, No]),
        row(post.clone(), format!("/api/v1/payments/{draft_payment}/actions"),
            Some(json!({ "action": "cancelled", "expected_version": 1 })),         [Who, Done, No, No, No]),
        row(post.clone(), "/api/v1/audits", Some(json!({ "days": 1 })),            [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/audits", None,                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/audits/{audit_run}"), None,              [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/notifications", None,                            [Who, Done, No, No, No]),
        // The dashboard (issue 10): owners only.
        row(get.clone(), "/api/v1/dashboard", None,                                [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/dashboard?studio_id={studio}&granularity=month"), None,
                                                                                   [Who, Done, No, No, No]),
        // Webhooks (issue 7): owners only.
        row(post.clone(), "/api/v1/webhooks/endpoints",
            Some(json!({ "url": "https://example.com/hook{n}" })),                 [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/webhooks/endpoints", None,                       [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/webhooks/event-types", None,                     [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/webhooks/endpoints/{webhook}"), None,    [Who, Done, No, No, No]),
        row(patch.clone(), format!("/api/v1/webhooks/endpoints/{webhook}"),
            Some(json!({ "expected_version": 1, "description": "changed" })),      [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/webhooks/endpoints/{webhook}/secret"), None,
                                                                                   [Who, Done, No, No, No]),
        row(post.clone(), format!("/api/v1/webhooks/endpoints/{webhook}/rotate-secret"), None,
                                                                                   [Who, Done, No, No, No]),
        row(post.clone(), format!("/api/v1/webhooks/endpoints/{webhook}/test"), None,
                                                                                   [Who, Done, No, No, No]),
        row(post.clone(), format!("/api/v1/webhooks/endpoints/{webhook}/redrive"), None,
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/webhooks/endpoints/{webhook}/messages"), None,
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/webhooks/messages/{webhook_message}"), None,
                                                                                   [Who, Done, No, No, No]),
        // The test message is still scheduled: the owner is let through and hears 409.
        row(post.clone(), format!("/api/v1/webhooks/messages/{webhook_message}/resend"), None,
                                                                                   [Who, Let, No, No, No]),
        row(get.clone(), "/api/v1/events/stream", None,                            [Who, Done, Done, No, No]),
        row(get.clone(), format!("/api/v1/events/stream?studio_id={studio}&types=payout.*"), None,
                                                                                   [Who, Done, Done, No, No]),
        // Settlements (issue 9): owners only; an employee's own transfers for whoever sees payouts.
        row(get.clone(), "/api/v1/settlements", None,                              [Who, Done, No, No, No]),
        // Zürich's file was written above (Noah has no IBAN): the owner hears 422 nothing_to_send.
        row(post.clone(), "/api/v1/bank-files", Some(json!({ "studio_id": studio })),
                                                                                   [Who, Let, No, No, No]),
        row(get.clone(), format!("/api/v1/bank-files/{bank_batch}/pain.001.xml"), None,
                                                                                   [Who, Done, No, No, No]),
        // JSON instead of XML: the owner is let through and hears 415.
        row(post.clone(), "/api/v1/bank-statements", Some(json!({})),              [Who, Let, No, No, No]),
        row(post.clone(), format!("/api/v1/bank-statements/lines/{nowhere}/dismiss"),
            Some(json!({ "note": "rent" })),                                       [Who, Let, No, No, No]),
        row(post.clone(), format!("/api/v1/settlements/items/{settlement_item}/actions"),
            Some(json!({ "action": "confirm", "expected_version": 2, "note": "seen on the e-banking" })),
                                                                                   [Who, Let, No, No, No]),
        row(put.clone(), format!("/api/v1/employees/{lara_id}/bank-account"),
            Some(json!({ "iban": "CH93 0076 2011 6238 5295 7" })),                 [Who, Done, No, No, No]),
        row(put.clone(), format!("/api/v1/studios/{studio}/bank-account"),
            Some(json!({ "iban": "CH9300762011623852957", "holder": "Salon Seefeld" })),
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/employees/{lara_id}/settlements"), None, [Who, Done, Done, Done, Done]),
        row(get.clone(), "/api/v1/settlement-terms", None,                         [Who, Done, No, No, No]),
        row(put.clone(), "/api/v1/settlement-terms/worldline", Some(json!({ "business_days": 1 })),
                                                                                   [Who, Done, No, No, No]),
        // CSV exports (issue 10): owners only.
        row(get.clone(), "/api/v1/exports/payouts.csv?from=2026-09-01&to=2026-09-30", None,
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), format!("/api/v1/till?studio_id={studio}"), None,         [Who, Done, Done, No, No]),
        // One till session per studio and day: the owner opens it, the receptionist hears 409.
        row(post.clone(), "/api/v1/till/open",
            Some(json!({ "studio_id": studio, "opening_float": 0, "reason": "counted" })),
                                                                                   [Who, Done, Let, No, No]),
        row(post.clone(), "/api/v1/till/movements",
            Some(json!({ "studio_id": studio, "direction": "in", "amount": 1_000, "reason": "change" })),
                                                                                   [Who, Done, Done, No, No]),
        row(get.clone(), "/api/v1/till/sessions/{till}", None,                     [Who, Done, Done, No, No]),
        // Closed by the owner; the receptionist then hears 409 till_not_open.
        row(post.clone(), "/api/v1/till/close",
            Some(json!({ "studio_id": studio, "denominations": { "1000": 1 }, "variance_reason": "counted" })),
                                                                                   [Who, Done, Let, No, No]),
        row(post.clone(), "/api/v1/api-keys",
            Some(json!({ "name": "booking {n}", "role": "receptionist", "studio_id": studio, "scopes": ["payouts:read"] })),
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/api-keys", None,                                 [Who, Done, No, No, No]),
        row(post.clone(), format!("/api/v1/api-keys/{spare_key}/revoke"), None,    [Who, Done, No, No, No]),
        row(post.clone(), "/api/v1/users",
            Some(json!({ "email": "new{n}@demo.test", "name": "New Person", "role": "receptionist",
                         "studio_id": studio, "password": "a long enough password" })),
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/users", None,                                    [Who, Done, No, No, No]),
        // Deactivated, then reactivated (the sign-in row below signs in as her).
        row(post.clone(), format!("/api/v1/users/{bern_receptionist}/deactivate"), None,
                                                                                   [Who, Done, No, No, No]),
        row(post.clone(), format!("/api/v1/users/{bern_receptionist}/reactivate"), None,
                                                                                   [Who, Done, No, No, No]),
        row(get.clone(), "/api/v1/activity", None,                                 [Who, Done, No, No, No]),
        // An API key is not a signed-in person.
        row(get.clone(), "/api/v1/session", None,                                  [Who, Done, Done, Done, Who]),
        // Last: signing out (204 even for nobody), then signing in (open to everybody).
        row(delete.clone(), "/api/v1/session", None,                               [Done, Done, Done, Done, Done]),
        row(post.clone(), "/api/v1/session",
            Some(json!({ "email": RECEPTION_BERN.0, "password": RECEPTION_BERN.1 })),
                                                                                   [Done, Done, Done, Done, Done]),
    ];

    let placeholders = Placeholders {
        app: &app,
        zurich: &z,
        counter: AtomicUsize::new(1),
    };
    let mut mismatches = Vec::new();
    let mut calls = 0;
    for row in &table {
        for (caller, (client, expect)) in clients.iter().zip(row.expect).enumerate() {
            let record = match row.fresh {
                Fresh::UnpaidRecord => Some(unpaid_record(&app, &z).await),
                Fresh::Nothing => None,
            };
            let path = placeholders.fill(&row.path, record.as_deref()).await;
            let body = match &row.body {
                Some(body) => {
                    let text = placeholders
                        .fill(&body.to_string(), record.as_deref())
                        .await;
                    Some(serde_json::from_str::<Value>(&text).expect("body"))
                }
                None => None,
            };
            let (status, answer) = send(&app, client, &row.method, &path, body.as_ref()).await;
            calls += 1;
            if !expect.met_by(status, &answer) {
                let mut answer = answer.to_string();
                answer.truncate(160);
                mismatches.push(format!(
                    "{} {} as {}: expected {}, got {status} {answer}",
                    row.method,
                    row.path,
                    CALLERS[caller],
                    expect.describe(),
                ));
            }
        }
    }
    assert_eq!(
        table.len(),
        72,
        "every route but /healthz and the test faults"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {calls} calls were answered against the role table:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Employees see only themselves
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_employee_cannot_read_a_colleagues_payout_by_guessing_its_id() {
    let app = spawn_demo_app().await;
    let z = zurich(&app).await;
    // Lara gets a payout of her own, so her list has something in it.
    let own = app
        .post(
            "/api/v1/payouts",
            &new_key(),
            &TestApp::window_request(&z.lara["id"]),
        )
        .await;
    assert_eq!(own.status(), 201);
    let all = app.get_json("/api/v1/payouts?state=committed").await;
    let colleague = all
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["employee_id"] != z.lara["id"] && p["studio_id"] == z.studio)
        .expect("a committed September payout of a colleague in Lara's studio")
        .clone();
    let lara = signed_in(&app, LARA_LOGIN).await;

    let (status, body) = send(
        &app,
        &lara,
        &Method::GET,
        &format!("/api/v1/payouts/{}", colleague["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "not_found");
    let text = body.to_string();
    assert!(
        body.get("lines").is_none()
            && body.get("total").is_none()
            && !text.contains(colleague["employee_name"].as_str().unwrap()),
        "no payout data in the refusal: {text}"
    );

    let (status, listed) = send(&app, &lara, &Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 200);
    let listed = listed.as_array().expect("array");
    assert!(!listed.is_empty(), "Lara sees her own payout");
    let foreign: Vec<&Value> = listed
        .iter()
        .filter(|p| p["employee_id"] != z.lara["id"])
        .collect();
    assert!(
        foreign.is_empty(),
        "Lara sees payouts of others: {foreign:?}"
    );

    let (status, employees) = send(&app, &lara, &Method::GET, "/api/v1/employees", None).await;
    assert_eq!(status, 200);
    let employees = employees.as_array().expect("array");
    assert_eq!(employees.len(), 1, "only herself: {employees:?}");
    assert_eq!(employees[0]["id"], z.lara["id"]);

    // Her records, and only hers, even when she asks for a colleague's.
    let colleague_id = colleague["employee_id"].as_str().unwrap();
    for path in [
        "/api/v1/service-records?limit=500".to_string(),
        "/api/v1/day-records?limit=500".to_string(),
        format!("/api/v1/service-records?employee_id={colleague_id}&limit=500"),
        format!("/api/v1/day-records?employee_id={colleague_id}&limit=500"),
        format!("/api/v1/payouts?employee_id={colleague_id}"),
    ] {
        let (status, listed) = send(&app, &lara, &Method::GET, &path, None).await;
        if !path.contains("employee_id=") {
            assert!(
                listed.as_array().is_some_and(|items| !items.is_empty()),
                "{path}: Lara sees her own records: {status} {listed}"
            );
        }
        let others: Vec<&Value> = match listed.as_array() {
            Some(items) => items
                .iter()
                .filter(|item| item["employee_id"] != z.lara["id"])
                .collect(),
            None => {
                assert!(matches!(status, 403 | 404), "{path}: {status} {listed}");
                Vec::new()
            }
        };
        assert!(
            others.is_empty(),
            "{path} shows Lara {} entries of others, e.g. {}",
            others.len(),
            others[0]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A receptionist stays in their studio
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_receptionist_in_bern_can_neither_see_nor_pay_anyone_in_zurich() {
    let app = spawn_demo_app().await;
    let z = zurich(&app).await;
    let zurich_payout = app
        .get_json("/api/v1/payouts?state=committed")
        .await
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["studio_id"] == z.studio)
        .expect("a Zürich payout")
        .clone();
    let bern = signed_in(&app, RECEPTION_BERN).await;
    let payouts_before = app.count("payouts").await;

    let (status, body) = send(
        &app,
        &bern,
        &Method::GET,
        &format!("/api/v1/payouts/{}", zurich_payout["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "not_found");
    assert!(body.get("lines").is_none(), "{body}");

    let (status, body) = send(
        &app,
        &bern,
        &Method::POST,
        "/api/v1/payouts",
        Some(&TestApp::window_request(&z.lara["id"])),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "validation_failed");
    assert_eq!(
        body["error"]["field"], "employee_id",
        "reported like an unknown employee: {body}"
    );

    let (status, body) = send(
        &app,
        &bern,
        &Method::GET,
        &format!("/api/v1/till?studio_id={}", z.studio.as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "forbidden");

    assert_eq!(
        app.count("payouts").await,
        payouts_before,
        "nothing written"
    );
    assert_eq!(
        app.employee_named(LARA).await["unpaid_record_count"],
        212,
        "Lara is still owed everything"
    );

    // Nor touch Zürich's records, payouts or till by id, nor list them.
    let record = unpaid_record(&app, &z).await;
    let opened = app
        .post(
            "/api/v1/till/open",
            &new_key(),
            &json!({ "studio_id": z.studio, "opening_float": 0, "reason": "counted" }),
        )
        .await;
    assert_eq!(opened.status(), 201);
    let till: Value = opened.json().await.expect("json");
    let before = app.snapshot().await;
    let zurich_payout_id = zurich_payout["id"].as_str().unwrap();
    let by_id = [
        (
            Method::POST,
            format!("/api/v1/service-records/{record}/refund"),
            Some(json!({ "reason": "not ours" })),
        ),
        (
            Method::POST,
            format!("/api/v1/payouts/{zurich_payout_id}/finish"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/v1/till/sessions/{}", till["id"].as_str().unwrap()),
            None,
        ),
    ];
    for (method, path, body) in &by_id {
        let (status, answer) = send(&app, &bern, method, path, body.as_ref()).await;
        assert!(
            matches!(status, 403 | 404),
            "{method} {path} as Bern's receptionist: {status} {answer}"
        );
    }
    assert_eq!(app.snapshot().await, before, "nothing written");
    let (status, refunded) = send(
        &app,
        &app.client,
        &Method::GET,
        "/api/v1/service-records?limit=500",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let refunded = refunded
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == record.as_str())
        .expect("the record")["refunded_at"]
        .clone();
    assert_eq!(refunded, Value::Null, "the Zürich service is not refunded");

    let (_, bern_me) = send(&app, &bern, &Method::GET, "/api/v1/session", None).await;
    let bern_studio = bern_me["studio_id"].clone();
    assert_ne!(bern_studio, z.studio);
    for path in [
        "/api/v1/employees".to_string(),
        "/api/v1/payouts".to_string(),
        "/api/v1/service-records?limit=500".to_string(),
        "/api/v1/day-records?limit=500".to_string(),
        format!(
            "/api/v1/service-records?employee_id={}",
            z.lara["id"].as_str().unwrap()
        ),
        format!(
            "/api/v1/payouts?employee_id={}",
            z.lara["id"].as_str().unwrap()
        ),
    ] {
        let (status, listed) = send(&app, &bern, &Method::GET, &path, None).await;
        let zurich_items: Vec<&Value> = match listed.as_array() {
            Some(items) => items
                .iter()
                .filter(|item| item["studio_id"] != bern_studio)
                .collect(),
            None => {
                assert!(
                    matches!(status, 403 | 404 | 422),
                    "{path}: {status} {listed}"
                );
                Vec::new()
            }
        };
        assert!(
            zurich_items.is_empty(),
            "{path} shows Bern's receptionist {} entries of Zürich, e.g. {}",
            zurich_items.len(),
            zurich_items[0]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Cross-site requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_in_browser_cannot_be_made_to_change_data_from_another_site() {
    use leptos::server_fn::ServerFn;

    let app = spawn_demo_app().await;
    let z = zurich(&app).await;
    let owner = signed_in(&app, OWNER).await;
    let open = json!({ "studio_id": z.studio, "opening_float": 0, "reason": "counted" });
    let url = app.url("/api/v1/till/open");
    let sessions_before = app.count("till_sessions").await;

    let evil = owner
        .post(&url)
        .header("Origin", EVIL)
        .header("Idempotency-Key", new_key())
        .json(&open)
        .send()
        .await
        .expect("request");
    assert_eq!(evil.status(), 403);
    let body: Value = evil.json().await.expect("json");
    assert_eq!(error_code(&body), "csrf_rejected");
    assert_eq!(
        app.count("till_sessions").await,
        sessions_before,
        "no till opened"
    );

    let evil_referer = owner
        .post(&url)
        .header("Referer", format!("{EVIL}/page"))
        .header("Idempotency-Key", new_key())
        .json(&open)
        .send()
        .await
        .expect("request");
    assert_eq!(
        evil_referer.status(),
        403,
        "a foreign Referer without Origin"
    );

    let headless = owner
        .post(&url)
        .header("Idempotency-Key", new_key())
        .json(&open)
        .send()
        .await
        .expect("request");
    assert_eq!(headless.status(), 403, "a cookie without Origin or Referer");
    let body: Value = headless.json().await.expect("json");
    assert_eq!(error_code(&body), "csrf_rejected");
    assert_eq!(app.count("till_sessions").await, sessions_before);

    let same_site = owner
        .post(&url)
        .header("Origin", &app.address)
        .header("Idempotency-Key", new_key())
        .json(&open)
        .send()
        .await
        .expect("request");
    assert_eq!(same_site.status(), 201, "the app itself may open the till");
    assert_eq!(app.count("till_sessions").await, sessions_before + 1);

    // The UI's server functions (form-encoded POSTs) are guarded the same way.
    let server_fn = app.url(<app::api::RegisterService as ServerFn>::PATH);
    let form = |key: String| {
        vec![
            ("idempotency_key", key),
            ("employee_id", z.lara["id"].as_str().unwrap().to_string()),
            ("service_id", z.service.as_str().unwrap().to_string()),
            ("price", "50.00".to_string()),
            ("tip", String::new()),
            ("payment_method", "card".to_string()),
            ("performed_on", today()),
        ]
    };
    let records_before = app.count("service_records").await;
    let evil = owner
        .post(&server_fn)
        .header("Origin", EVIL)
        .form(&form(new_key()))
        .send()
        .await
        .expect("request");
    assert_eq!(evil.status(), 403, "server function from another site");
    assert_eq!(app.count("service_records").await, records_before);
    let same_site = owner
        .post(&server_fn)
        .header("Origin", &app.address)
        .form(&form(new_key()))
        .send()
        .await
        .expect("request");
    let status = same_site.status();
    assert_eq!(
        status,
        200,
        "the same server function from the app itself: {}",
        same_site.text().await.unwrap_or_default()
    );
    assert_eq!(app.count("service_records").await, records_before + 1);

    // Signing in (or over) from another site while holding a cookie.
    let evil_sign_in = owner
        .post(app.url("/api/v1/session"))
        .header("Origin", EVIL)
        .json(&json!({ "email": OWNER.0, "password": OWNER.1 }))
        .send()
        .await
        .expect("request");
    assert_eq!(evil_sign_in.status(), 403);

    // A Bearer key is never sent by a browser on its own: no CSRF to defend against.
    let bearer = app
        .client
        .post(app.url("/api/v1/till/movements"))
        .header("Origin", EVIL)
        .header("Idempotency-Key", new_key())
        .json(&json!({ "studio_id": z.studio, "direction": "in", "amount": 1_000, "reason": "change" }))
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), 201, "an API key with a foreign Origin");
}

// ---------------------------------------------------------------------------------------------
// 5. Sign-in rate limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn after_five_wrong_passwords_an_account_must_wait_but_others_can_still_sign_in() {
    let app = spawn_demo_app().await;
    for attempt in 1..=5 {
        let refused = app
            .sign_in(OWNER.0, "wrong password")
            .await
            .expect_err("a wrong password is refused");
        assert_eq!(refused.status(), 401, "attempt {attempt}");
        let body: Value = refused.json().await.expect("json");
        assert_eq!(
            error_code(&body),
            "invalid_credentials",
            "attempt {attempt}"
        );
    }

    let limited = app
        .sign_in(OWNER.0, OWNER.1)
        .await
        .expect_err("the sixth attempt is refused even with the right password");
    assert_eq!(limited.status(), 429);
    assert!(
        limited.headers().get(reqwest::header::SET_COOKIE).is_none(),
        "no session for a limited attempt"
    );
    let body: Value = limited.json().await.expect("json");
    assert_eq!(error_code(&body), "too_many_login_attempts");
    let message = body["error"]["message"].as_str().expect("message");
    let seconds: u64 = message
        .split("try again in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the message says how long to wait: {message}"));
    assert!((1..=60).contains(&seconds), "{message}");
    let recased = app
        .sign_in(" Owner@Demo.TEST ", OWNER.1)
        .await
        .expect_err("another spelling of the same email is the same account");
    assert_eq!(recased.status(), 429);

    assert!(
        app.sign_in(RECEPTION_ZURICH.0, RECEPTION_ZURICH.1)
            .await
            .is_ok(),
        "the limit is per account"
    );
}

#[tokio::test]
async fn one_computer_trying_many_accounts_is_stopped_by_the_per_ip_limit() {
    let app = spawn_app_with(app::engine::EngineSettings {
        login_limits: app::engine::auth::LoginLimits {
            per_ip_burst: 3,
            ..Default::default()
        },
        pending_grace: std::time::Duration::ZERO,
        ..Default::default()
    })
    .await;
    app.engine.seed_demo().await.expect("demo seed");

    for email in [OWNER.0, RECEPTION_ZURICH.0, LARA_LOGIN.0] {
        let refused = app
            .sign_in(email, "wrong password")
            .await
            .expect_err("refused");
        assert_eq!(refused.status(), 401, "{email}");
    }
    let limited = app
        .sign_in(RECEPTION_BERN.0, RECEPTION_BERN.1)
        .await
        .expect_err("a fourth account from the same computer is refused");
    assert_eq!(limited.status(), 429);
    let body: Value = limited.json().await.expect("json");
    assert_eq!(error_code(&body), "too_many_login_attempts");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("seconds"),
        "{body}"
    );
}

/// The sign-in page's server function answers a refusal with its problem as data, so the page
/// says it in the reader's language ("E-Mail oder Passwort ist falsch."), and the wait in
/// seconds as a number.
#[tokio::test]
async fn the_sign_in_page_gets_its_refusals_as_data_to_word_in_its_own_language() {
    use app::domain::{AppError, Problem, SignInLimit};
    use leptos::server_fn::ServerFn;
    let app = spawn_demo_app().await;
    let browser = reqwest::Client::new();
    let sign_in = |password: &'static str| {
        browser
            .post(app.url(<app::api::SignIn as ServerFn>::PATH))
            .header("Origin", &app.address)
            .form(&[("email", OWNER.0), ("password", password)])
            .send()
    };
    for attempt in 1..=5 {
        let (status, error) = server_fn_refusal(sign_in("wrong password").await.unwrap()).await;
        assert_eq!(
            (status, &error),
            (
                401,
                &AppError::denied_with(401, Problem::InvalidCredentials)
            ),
            "attempt {attempt}"
        );
        assert_eq!(error.to_string(), "wrong email or password");
    }
    let (status, error) = server_fn_refusal(sign_in(OWNER.1).await.unwrap()).await;
    assert_eq!(status, 429);
    let AppError::Denied {
        problem:
            Some(Problem::TooManySignInAttempts {
                limit: SignInLimit::ThisAccount,
                seconds,
            }),
        ref code,
        ..
    } = error
    else {
        panic!("expected the account's attempt limit as data, got {error:?}");
    };
    assert_eq!(code, "too_many_login_attempts");
    assert!((1..=60).contains(&seconds), "{error:?}");
}

/// The owner's settings form gets what is wrong with a new account as data: the field and the
/// problem, with the values its sentence needs.
#[tokio::test]
async fn the_settings_form_gets_account_refusals_as_data() {
    use app::domain::{AppError, FieldProblem};
    use leptos::server_fn::ServerFn;
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let create = |email: &'static str, password: &'static str| {
        owner
            .post(app.url(<app::api::CreateUser as ServerFn>::PATH))
            .header("Origin", &app.address)
            .form(&[
                ("email", email),
                ("name", "Mia Frei"),
                ("role", "owner"),
                ("password", password),
            ])
            .send()
    };
    let cases = [
        (
            "mia.frei",
            "long enough password",
            AppError::invalid(
                "email",
                FieldProblem::NotAnEmail {
                    text: "mia.frei".into(),
                },
            ),
        ),
        (
            "mia@demo.test",
            "short",
            AppError::invalid(
                "password",
                FieldProblem::PasswordTooShort {
                    min_chars: app::engine::auth::MIN_PASSWORD_CHARS,
                },
            ),
        ),
        (
            OWNER.0,
            "long enough password",
            AppError::invalid(
                "email",
                FieldProblem::EmailTaken {
                    email: OWNER.0.into(),
                },
            ),
        ),
    ];
    for (email, password, expected) in cases {
        let (status, error) = server_fn_refusal(create(email, password).await.unwrap()).await;
        assert_eq!((status, error), (422, expected), "{email}");
    }
}

#[tokio::test]
async fn a_refused_permission_reaches_the_page_as_data_to_word_in_its_own_language() {
    use app::domain::{AppError, Permission, PermissionRefusal, Problem, Role};
    use leptos::server_fn::ServerFn;
    let app = spawn_demo_app().await;
    let reception = signed_in(&app, RECEPTION_ZURICH).await;
    let response = reception
        .post(app.url(<app::api::CreateUser as ServerFn>::PATH))
        .header("Origin", &app.address)
        .form(&[
            ("email", "mia@demo.test"),
            ("name", "Mia Frei"),
            ("role", "owner"),
            ("password", "long enough password"),
        ])
        .send()
        .await
        .unwrap();
    let (status, error) = server_fn_refusal(response).await;
    assert_eq!(status, 403);
    let AppError::Denied {
        code,
        message,
        problem,
        ..
    } = error
    else {
        panic!("not a refusal: {error:?}");
    };
    assert_eq!(code, "forbidden");
    assert_eq!(
        message,
        "a receptionist may not manage users; ask the owner"
    );
    assert_eq!(
        problem,
        Some(Problem::NotPermitted {
            action: Permission::ManageUsers,
            refusal: PermissionRefusal::Role {
                role: Role::Receptionist
            },
        })
    );

    // The same refusal through the JSON API keeps its English message for integrations.
    let response = reception
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(
        body["error"]["message"],
        "a receptionist may not manage users; ask the owner"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Sessions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_not_only_in_the_browser() {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let (status, me) = send(&app, &owner, &Method::GET, "/api/v1/session", None).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], OWNER.0);
    assert_eq!(me["role"], "owner");

    // The raw cookie, as a thief who copied it would replay it.
    let plain = reqwest::Client::new();
    let signed = plain
        .post(app.url("/api/v1/session"))
        .header("Origin", &app.address)
        .json(&json!({ "email": OWNER.0, "password": OWNER.1 }))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), 201);
    let cookie = set_cookie_attributes(&signed)[0].clone();
    assert!(cookie.starts_with("pe_session="), "{cookie}");
    let with_cookie = |method: Method, path: &str| {
        plain
            .request(method, app.url(path))
            .header("Cookie", &cookie)
            .header("Origin", &app.address)
    };
    let before = with_cookie(Method::GET, "/api/v1/session")
        .send()
        .await
        .expect("request");
    assert_eq!(before.status(), 200);

    // Signing out through the browser's cookie jar.
    let (status, _) = send(&app, &owner, &Method::DELETE, "/api/v1/session", None).await;
    assert_eq!(status, 204);
    let (status, body) = send(&app, &owner, &Method::GET, "/api/v1/session", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = send(&app, &owner, &Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 401, "{body}");

    // Signing out the replayed cookie: the token itself is dead afterwards.
    let signed_out = with_cookie(Method::DELETE, "/api/v1/session")
        .send()
        .await
        .expect("request");
    assert_eq!(signed_out.status(), 204);
    for path in ["/api/v1/session", "/api/v1/payouts"] {
        let replayed = with_cookie(Method::GET, path)
            .send()
            .await
            .expect("request");
        assert_eq!(
            replayed.status(),
            401,
            "{path} with an ended session's cookie"
        );
        let body: Value = replayed.json().await.expect("json");
        assert_eq!(error_code(&body), "unauthenticated", "{path}");
    }
}

#[tokio::test]
async fn the_session_cookie_is_hidden_from_scripts_and_secure_behind_https() {
    let app = spawn_demo_app().await;
    let plain = reqwest::Client::new();
    let sign_in = |https: bool| {
        let mut request = plain
            .post(app.url("/api/v1/session"))
            .header("Origin", &app.address)
            .json(&json!({ "email": OWNER.0, "password": OWNER.1 }));
        if https {
            request = request.header("X-Forwarded-Proto", "https");
        }
        request.send()
    };

    let over_http = sign_in(false).await.expect("sign in");
    assert_eq!(over_http.status(), 201);
    let attributes = set_cookie_attributes(&over_http);
    assert!(attributes[0].starts_with("pe_session="), "{attributes:?}");
    assert!(attributes.iter().any(|a| a == "HttpOnly"), "{attributes:?}");
    assert!(
        attributes.iter().any(|a| a == "SameSite=Lax"),
        "{attributes:?}"
    );
    assert!(
        !attributes.iter().any(|a| a.eq_ignore_ascii_case("Secure")),
        "plain HTTP cannot carry a Secure cookie: {attributes:?}"
    );

    let over_https = sign_in(true).await.expect("sign in");
    assert_eq!(over_https.status(), 201);
    let attributes = set_cookie_attributes(&over_https);
    assert!(attributes.iter().any(|a| a == "Secure"), "{attributes:?}");
    assert!(attributes.iter().any(|a| a == "HttpOnly"), "{attributes:?}");
    assert!(
        attributes.iter().any(|a| a == "SameSite=Lax"),
        "{attributes:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. API keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_revoked_api_key_stops_working_and_keys_are_never_listed() {
    let app = spawn_demo_app().await;
    let z = zurich(&app).await;
    let owner = signed_in(&app, OWNER).await;
    let request = json!({
        "name": "booking system",
        "role": "receptionist",
        "studio_id": z.studio,
        "scopes": ["payouts:read"],
    });

    // An API key, even the owner's, cannot mint keys: only a signed-in owner can.
    let (status, body) = send(
        &app,
        &app.client,
        &Method::POST,
        "/api/v1/api-keys",
        Some(&request),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    let (status, created) = send(
        &app,
        &owner,
        &Method::POST,
        "/api/v1/api-keys",
        Some(&request),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"]
        .as_str()
        .expect("the key, shown once")
        .to_string();
    let id = created["info"]["id"].as_str().expect("id").to_string();
    assert!(key.starts_with("pe_"), "{key}");
    assert_eq!(created["info"]["scopes"], json!(["payouts:read"]));

    let integration = bearer_client(&key);
    let (status, _) = send(&app, &integration, &Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 200, "the new key works");

    let listed = owner
        .get(app.url("/api/v1/api-keys"))
        .send()
        .await
        .expect("request");
    assert_eq!(listed.status(), 200);
    let listed = listed.text().await.expect("text");
    let secret = key.rsplit('_').next().expect("secret");
    assert!(
        !listed.contains(&key) && !listed.contains(secret),
        "the key is never listed again: {listed}"
    );
    assert!(listed.contains(&id), "but the key is listed by id");

    let revoked = owner
        .post(app.url(&format!("/api/v1/api-keys/{id}/revoke")))
        .header("Origin", &app.address)
        .send()
        .await
        .expect("request");
    assert_eq!(revoked.status(), 200, "revoking needs no Idempotency-Key");
    let revoked: Value = revoked.json().await.expect("json");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");

    let (status, body) = send(&app, &integration, &Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "invalid_api_key");

    let (status, body) = send(
        &app,
        &bearer_client("pe_x_y"),
        &Method::GET,
        "/api/v1/payouts",
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "invalid_api_key");
}

// ---------------------------------------------------------------------------------------------
// 8. The activity log
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_activity_log_records_who_registered_a_service_and_cannot_be_rewritten() {
    let app = spawn_demo_app().await;
    let z = zurich(&app).await;
    let owner = signed_in(&app, OWNER).await;
    let key = new_key();
    let response = owner
        .post(app.url("/api/v1/service-records"))
        .header("Origin", &app.address)
        .header("Idempotency-Key", &key)
        .json(&service_today(&z))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.expect("json");
    let record_id = record["id"].as_str().expect("id").to_string();

    let (status, log) = send(
        &app,
        &owner,
        &Method::GET,
        "/api/v1/activity?limit=50",
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let entry = log
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["action"] == "service_record.register" && e["entity_id"] == record_id.as_str())
        .unwrap_or_else(|| panic!("no log entry for record {record_id}: {log}"))
        .clone();
    assert_eq!(entry["actor_label"], OWNER.0, "{entry}");
    assert_eq!(entry["role"], "owner", "{entry}");
    assert_eq!(entry["idempotency_key"], key.as_str(), "{entry}");
    assert_eq!(
        entry["before_state"],
        Value::Null,
        "a new record had no state before"
    );
    assert!(
        entry["after_state"]
            .as_str()
            .is_some_and(|after| after.contains(&record_id)),
        "{entry}"
    );
    assert_eq!(entry["studio_id"], z.studio);

    let reception = signed_in(&app, RECEPTION_ZURICH).await;
    let (status, body) = send(&app, &reception, &Method::GET, "/api/v1/activity", None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "forbidden");

    let entries = app.count("activity_log").await;
    let rewritten = db::query("UPDATE activity_log SET action = 'x'")
        .execute(app.engine.pool())
        .await;
    assert!(rewritten.is_err(), "the log cannot be rewritten");
    let erased = db::query("DELETE FROM activity_log")
        .execute(app.engine.pool())
        .await;
    assert!(erased.is_err(), "the log cannot be erased");
    assert_eq!(app.count("activity_log").await, entries);
    let actions: Vec<String> =
        db::query_scalar("SELECT action FROM activity_log WHERE entity_id = $1")
            .bind(&record_id)
            .fetch_all(app.engine.pool())
            .await
            .expect("read");
    assert_eq!(actions, vec!["service_record.register".to_string()]);
}

/// Signs in with a client that keeps no cookies and returns the raw session token.
async fn session_token_of(app: &TestApp, login: (&str, &str)) -> String {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .header("Origin", &app.address)
        .json(&json!({ "email": login.0, "password": login.1 }))
        .send()
        .await
        .expect("sign-in request");
    assert_eq!(response.status(), 201);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    cookie
        .strip_prefix("pe_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("pe_session=<token>")
        .to_string()
}

#[tokio::test]
async fn a_session_past_its_lifetime_is_refused() {
    // A lifetime of zero: the session has expired by the time it is used. The token is sent by
    // hand (a browser would already have dropped a cookie with Max-Age=0), so the server's own
    // expiry check is what refuses it.
    let app = spawn_app_with(app::engine::EngineSettings {
        session_ttl: std::time::Duration::ZERO,
        pending_grace: std::time::Duration::ZERO,
        ..Default::default()
    })
    .await;
    app.engine.seed_demo().await.expect("demo seed");
    let token = session_token_of(&app, OWNER).await;
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/payouts"))
        .header("Cookie", format!("pe_session={token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);

    // The same request with a session of the normal lifetime is answered.
    let fresh = spawn_demo_app().await;
    let token = session_token_of(&fresh, OWNER).await;
    let response = reqwest::Client::new()
        .get(fresh.url("/api/v1/payouts"))
        .header("Cookie", format!("pe_session={token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_deactivated_person_is_signed_out_at_once_and_cannot_sign_in_again() {
    let app = spawn_demo_app().await;
    let owner = signed_in(&app, OWNER).await;
    let lara = signed_in(&app, LARA_LOGIN).await;
    let (status, _) = send(&app, &lara, &Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 200);
    let (_, users) = send(&app, &owner, &Method::GET, "/api/v1/users", None).await;
    let lara_user = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == LARA_LOGIN.0)
        .expect("Lara's account")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, body) = send(
        &app,
        &owner,
        &Method::POST,
        &format!("/api/v1/users/{lara_user}/deactivate"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    // Her open session ends with the deactivation, not at its expiry.
    let (status, body) = send(&app, &lara, &Method::GET, "/api/v1/payouts", None).await;
    assert_eq!(status, 401, "{body}");
    let refused = app
        .sign_in(LARA_LOGIN.0, LARA_LOGIN.1)
        .await
        .expect_err("a deactivated account cannot sign in");
    assert_eq!(refused.status(), 401);

    // The owner cannot lock themselves out.
    let (_, me) = send(&app, &owner, &Method::GET, "/api/v1/session", None).await;
    let owner_user = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == me["email"])
        .expect("the owner's account")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, body) = send(
        &app,
        &owner,
        &Method::POST,
        &format!("/api/v1/users/{owner_user}/deactivate"),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Reactivated, she signs in again.
    let (status, _) = send(
        &app,
        &owner,
        &Method::POST,
        &format!("/api/v1/users/{lara_user}/reactivate"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(app.sign_in(LARA_LOGIN.0, LARA_LOGIN.1).await.is_ok());
}
