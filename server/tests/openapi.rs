//! The OpenAPI document (`GET /api/v1/openapi.json`): served without signing in, internally
//! consistent, every documented operation routed with the documented sign-in requirement, and
//! the real answers of the API (successes and errors) valid against the documented schemas, with
//! no undocumented fields. An integrator who generates a client from the document gets one that
//! reads what the server sends. Runs on SQLite, and on PostgreSQL with PAYOUT_ENGINE_TEST_DATABASE.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::engine::access::Caller;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn served_document(app: &TestApp) -> Value {
    let response = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "the document needs no sign-in");
    response.json().await.expect("JSON")
}

/// Every `(method, path template, operation)` of the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method.to_string(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    refs.insert(inner.as_str().expect("a $ref is a string").to_string());
                } else {
                    collect_refs(inner, refs);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

#[tokio::test]
async fn the_document_is_served_to_anyone_and_every_reference_resolves() {
    let app = spawn_app().await;
    let document = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document,
        serde_json::to_value(payout_server::api::openapi_document()).unwrap(),
        "GET /api/v1/openapi.json serves what `payout-engine openapi` prints"
    );

    let mut refs = BTreeSet::new();
    collect_refs(&document, &mut refs);
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for reference in &refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{reference} points outside the components"));
        assert!(schemas.contains_key(name), "{reference} does not resolve");
    }

    let operations = operations(&document);
    let mut operation_ids = BTreeSet::new();
    for (method, path, operation) in &operations {
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path} documents no success"
        );
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
        let id = operation["operationId"].as_str().expect("operationId");
        assert!(
            operation_ids.insert(id.to_string()),
            "operationId {id} twice"
        );
    }
    // The contract the issues name, among the rest.
    for (method, path) in [
        ("post", "/api/v1/payouts"),
        ("post", "/api/v1/payouts/{id}/finish"),
        ("post", "/api/v1/service-records"),
        ("post", "/api/v1/payment-events"),
        ("post", "/api/v1/payment-events/batch"),
        ("post", "/api/v1/payments/{id}/actions"),
        ("get", "/api/v1/ledger/balances"),
        ("post", "/api/v1/till/close"),
        ("post", "/api/v1/audits"),
    ] {
        assert!(
            operations.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} is not documented"
        );
    }
    assert!(
        operations.len() >= 44,
        "{} operations documented",
        operations.len()
    );
    // Money-moving writes declare their Idempotency-Key.
    let finish = &document["paths"]["/api/v1/payouts/{id}/finish"]["post"]["parameters"];
    assert!(
        finish
            .as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == "Idempotency-Key"
                && p["in"] == "header"
                && p["required"] == true),
        "{finish}"
    );
}

/// A request to `template` with every `{param}` replaced by a fresh UUID, without credentials.
async fn anonymous_call(app: &TestApp, method: &str, template: &str) -> (u16, String) {
    let mut path = template.to_string();
    while let (Some(open), Some(close)) = (path.find('{'), path.find('}')) {
        path.replace_range(open..=close, &uuid::Uuid::new_v4().to_string());
    }
    let client = reqwest::Client::new();
    let request = match method {
        "get" => client.get(app.url(&path)),
        "delete" => client.delete(app.url(&path)),
        "put" => client
            .put(app.url(&path))
            .header("Origin", &app.address)
            .json(&json!({})),
        "patch" => client
            .patch(app.url(&path))
            .header("Origin", &app.address)
            .json(&json!({})),
        "post" => client
            .post(app.url(&path))
            .header("Origin", &app.address)
            .header("Idempotency-Key", new_key())
            .json(&json!({})),
        other => panic!("no {other} operations expected"),
    };
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_asks_for_the_documented_sign_in() {
    let app = spawn_app().await;
    let document = served_document(&app).await;
    let global_security = document["security"].clone();
    for (method, path, operation) in operations(&document) {
        let (status, body) = anonymous_call(&app, &method, &path).await;
        let is_json_answer = serde_json::from_str::<Value>(&body).is_ok();
        assert!(
            status != 405 && (status != 404 || is_json_answer),
            "{method} {path} is documented but not routed ({status} {body})"
        );
        let security = operation.get("security").unwrap_or(&global_security);
        let public = security
            .as_array()
            .expect("security")
            .iter()
            .any(|requirement| requirement.as_object().is_some_and(|r| r.is_empty()));
        if public {
            assert_ne!(
                status, 401,
                "{method} {path} is documented as public: {body}"
            );
        } else {
            assert_eq!(status, 401, "{method} {path} needs a sign-in: {body}");
        }
    }
}

/// The document's component schemas made strict for checking answers: an object may carry only
/// the properties its schema declares. `allOf` compositions (`#[serde(flatten)]`) are merged
/// into one object first, as JSON Schema's `unevaluatedProperties` cannot see through them
/// once every part is strict.
fn strict(document: &Value) -> Value {
    fn merge_all_of(value: &mut Value, schemas: &serde_json::Map<String, Value>) {
        match value {
            Value::Object(map) => {
                map.values_mut()
                    .for_each(|inner| merge_all_of(inner, schemas));
                let Some(Value::Array(parts)) = map.remove("allOf") else {
                    return;
                };
                let mut properties = serde_json::Map::new();
                let mut required = Vec::new();
                for part in parts {
                    let mut part = match part["$ref"].as_str() {
                        Some(reference) => {
                            let name = reference.trim_start_matches("#/components/schemas/");
                            schemas[name].clone()
                        }
                        None => part,
                    };
                    merge_all_of(&mut part, schemas);
                    if let Some(Value::Object(more)) = part.get("properties") {
                        properties.extend(more.clone());
                    }
                    if let Some(Value::Array(more)) = part.get("required") {
                        required.extend(more.clone());
                    }
                }
                map.insert("type".into(), json!("object"));
                map.insert("properties".into(), Value::Object(properties));
                map.insert("required".into(), Value::Array(required));
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| merge_all_of(item, schemas)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    fn tighten(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                    map.insert("additionalProperties".into(), json!(false));
                }
                map.values_mut().for_each(tighten);
            }
            Value::Array(items) => items.iter_mut().for_each(tighten),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    let mut components = document["components"].clone();
    let schemas = components["schemas"].as_object().expect("schemas").clone();
    merge_all_of(&mut components, &schemas);
    tighten(&mut components);
    components
}

/// Sends requests to the app and checks each answer against the document.
struct Probe<'a> {
    app: &'a TestApp,
    document: Value,
    /// The document's components, made [`strict`].
    components: Value,
    /// `method template status` of every answer checked.
    checked: Vec<String>,
}

impl Probe<'_> {
    async fn get(&mut self, client: &reqwest::Client, template: &str, path: &str) -> (u16, Value) {
        let request = client.get(self.app.url(path));
        self.send("get", template, request).await
    }

    /// POSTs with a fresh Idempotency-Key.
    async fn post(
        &mut self,
        client: &reqwest::Client,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = client
            .post(self.app.url(path))
            .header("Idempotency-Key", new_key());
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send("post", template, request).await
    }

    async fn send(
        &mut self,
        method: &str,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (u16, Value) {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {template}: not JSON: {text}"))
        };
        self.check(method, template, status, &body);
        (status, body)
    }

    /// Checks one answer: its status must be documented for the operation, and its body valid
    /// against the documented schema.
    fn check(&mut self, method: &str, template: &str, status: u16, body: &Value) {
        let operation = &self.document["paths"][template][method];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which is not documented: {body}"
        );
        let Some(schema) = response
            .pointer("/content/application~1json/schema")
            .cloned()
        else {
            assert!(
                body.is_null(),
                "{method} {template} {status} documents no body but sent {body}"
            );
            return;
        };
        let mut root = schema;
        root["components"] = self.components.clone();
        let validator = jsonschema::draft202012::new(&root).expect("a valid JSON Schema");
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: the answer does not match the document:\n{}\n{:.2000}",
            errors.join("\n"),
            body.to_string()
        );
        self.checked.push(format!("{method} {template} {status}"));
    }
}

#[tokio::test]
async fn real_answers_match_their_documented_schemas() {
    let app = spawn_demo_app().await;
    let document = served_document(&app).await;
    let mut probe = Probe {
        app: &app,
        components: strict(&document),
        document,
        checked: Vec::new(),
    };
    let owner = app.client.clone();
    let studio = app
        .engine
        .studios(&Caller::operator("test"))
        .await
        .expect("studios")[0]
        .id
        .to_string();

    probe.get(&owner, "/healthz", "/healthz").await;
    let (_, employees) = probe
        .get(&owner, "/api/v1/employees", "/api/v1/employees")
        .await;
    let employee = employees[0]["id"]
        .as_str()
        .expect("an employee")
        .to_string();
    for template in ["/api/v1/service-records", "/api/v1/day-records"] {
        probe
            .get(&owner, template, &format!("{template}?limit=500"))
            .await;
    }
    // A validation error names its field.
    let (status, refused) = probe
        .get(
            &owner,
            "/api/v1/service-records",
            "/api/v1/service-records?limit=0",
        )
        .await;
    assert_eq!(
        (status, refused["error"]["field"].as_str()),
        (422, Some("limit"))
    );

    let (_, payouts) = probe
        .get(&owner, "/api/v1/payouts", "/api/v1/payouts")
        .await;
    let payout = payouts[0]["id"]
        .as_str()
        .expect("a demo payout")
        .to_string();
    probe
        .get(
            &owner,
            "/api/v1/payouts/{id}",
            &format!("/api/v1/payouts/{payout}"),
        )
        .await;
    // Settlements (issue 9): the bank file, the overview with its countdowns, an employee's
    // transfers, and a settlement action refused with the item attached.
    let (_, file) = probe
        .post(
            &owner,
            "/api/v1/bank-files",
            "/api/v1/bank-files",
            Some(json!({ "studio_id": studio })),
        )
        .await;
    probe
        .get(&owner, "/api/v1/settlements", "/api/v1/settlements")
        .await;
    probe
        .get(
            &owner,
            "/api/v1/employees/{id}/settlements",
            &format!("/api/v1/employees/{employee}/settlements"),
        )
        .await;
    let item = file["items"][0]["id"]
        .as_str()
        .expect("a transfer")
        .to_string();
    let (status, refused) = probe
        .post(
            &owner,
            "/api/v1/settlements/items/{id}/actions",
            &format!("/api/v1/settlements/items/{item}/actions"),
            Some(json!({ "action": "write_off", "expected_version": 2,
                         "bank_reference": "X-1", "note": "not failed at all" })),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("illegal_transition"))
    );
    assert_eq!(refused["error"]["item"]["state"], "in_transit");
    let window = TestApp::window_request(&json!(employee));
    probe
        .post(
            &owner,
            "/api/v1/payouts/preview",
            "/api/v1/payouts/preview",
            Some(window),
        )
        .await;
    probe
        .get(
            &owner,
            "/api/v1/ledger/balances",
            &format!("/api/v1/ledger/balances?studio_id={studio}"),
        )
        .await;
    probe
        .get(
            &owner,
            "/api/v1/ledger/transfers",
            "/api/v1/ledger/transfers?limit=500",
        )
        .await;
    let (_, report) = probe
        .post(&owner, "/api/v1/audits", "/api/v1/audits", Some(json!({})))
        .await;
    let run = report["id"].as_str().expect("an audit run").to_string();
    probe.get(&owner, "/api/v1/audits", "/api/v1/audits").await;
    probe
        .get(
            &owner,
            "/api/v1/audits/{id}",
            &format!("/api/v1/audits/{run}"),
        )
        .await;
    probe
        .get(&owner, "/api/v1/notifications", "/api/v1/notifications")
        .await;
    probe
        .get(
            &owner,
            "/api/v1/till",
            &format!("/api/v1/till?studio_id={studio}"),
        )
        .await;

    // Payments: an event, a batch with a bad one, the inbox, a payment and a stale action.
    let event = |id: &str, event_type: &str| {
        json!({
            "provider": "sumup", "provider_payment_id": id, "event_type": event_type,
            "amount": 4_500, "currency": "CHF", "occurred_at": "2026-11-20T10:00:00Z",
            "studio_id": studio,
        })
    };
    let (status, _) = probe
        .post(
            &owner,
            "/api/v1/payment-events",
            "/api/v1/payment-events",
            Some(event("tx-1", "submitted")),
        )
        .await;
    assert_eq!(status, 202);
    let (status, _) = probe
        .post(
            &owner,
            "/api/v1/payment-events",
            "/api/v1/payment-events",
            Some(event("tx-1", "submitted")),
        )
        .await;
    assert_eq!(status, 200, "a redelivery");
    let (_, batch) = probe.post(&owner, "/api/v1/payment-events/batch", "/api/v1/payment-events/batch", Some(json!({ "events": [event("tx-2", "submitted"), event("tx-3", "refunded"), { "amount": "ten" }] })))
    .await;
    assert_eq!(batch["results"].as_array().map(Vec::len), Some(3));
    app.drain_payment_inbox().await;
    probe
        .get(
            &owner,
            "/api/v1/payment-events",
            "/api/v1/payment-events?status=parked",
        )
        .await;
    probe
        .get(
            &owner,
            "/api/v1/payment-events/summary",
            "/api/v1/payment-events/summary",
        )
        .await;
    probe
        .get(&owner, "/api/v1/payments", "/api/v1/payments")
        .await;
    probe
        .get(&owner, "/api/v1/payments/totals", "/api/v1/payments/totals")
        .await;
    let (_, draft) = probe
        .post(
            &owner,
            "/api/v1/payments",
            "/api/v1/payments",
            Some(json!({ "studio_id": studio, "amount": 1_000 })),
        )
        .await;
    let payment = draft["id"].as_str().expect("a payment").to_string();
    probe
        .get(
            &owner,
            "/api/v1/payments/{id}",
            &format!("/api/v1/payments/{payment}"),
        )
        .await;
    let actions = format!("/api/v1/payments/{payment}/actions");
    let (status, submitted) = probe.post(&owner, "/api/v1/payments/{id}/actions", &actions, Some(
            json!({ "action": "submitted", "amount": 1_000, "expected_version": draft["version"] }),
        ))
    .await;
    assert_eq!(status, 200, "{submitted}");
    let (status, conflict) = probe
        .post(
            &owner,
            "/api/v1/payments/{id}/actions",
            &actions,
            Some(json!({ "action": "cancelled", "expected_version": draft["version"] })),
        )
        .await;
    assert_eq!(
        (status, conflict["error"]["code"].as_str()),
        (409, Some("stale_version")),
        "{conflict}"
    );
    assert_eq!(conflict["error"]["payment"]["id"], payment.as_str());

    // The owner dashboard, after the audit above (its run is in the answer).
    probe
        .get(
            &owner,
            "/api/v1/dashboard",
            "/api/v1/dashboard?from=2026-09-01&to=2026-10-30&granularity=month",
        )
        .await;

    // A browser session.
    let session = app
        .sign_in("owner@demo.test", "owner-demo")
        .await
        .unwrap_or_else(|r| panic!("sign-in refused: {}", r.status()));
    probe
        .get(&session, "/api/v1/session", "/api/v1/session")
        .await;

    // Access management is for people, not API keys.
    for template in ["/api/v1/api-keys", "/api/v1/users"] {
        probe.get(&session, template, template).await;
    }
    probe
        .get(&session, "/api/v1/activity", "/api/v1/activity?limit=500")
        .await;

    let refusals: Vec<&str> = probe
        .checked
        .iter()
        .map(String::as_str)
        .filter(|answer| {
            !answer.ends_with(" 200") && !answer.ends_with(" 201") && !answer.ends_with(" 202")
        })
        .collect();
    assert_eq!(
        refusals,
        [
            "get /api/v1/service-records 422",
            "post /api/v1/settlements/items/{id}/actions 409",
            "post /api/v1/payments/{id}/actions 409"
        ],
        "only the deliberate refusals"
    );
    assert_eq!(probe.checked.len(), 35, "{:?}", probe.checked);
}
