//! The OpenAPI 3.1 document of the JSON API, served at `GET /api/v1/openapi.json` (no sign-in
//! needed) and printed by `payout-engine openapi`.
//!
//! The document cannot drift from the routes: every route of [`crate::api::router`] and
//! [`crate::payments_api::router`] is registered through `utoipa_axum::routes!`, which takes the
//! path, method, parameters, body and responses from the handler's `#[utoipa::path]`; the
//! schemas are derived from the same domain types serde reads and writes. Left out on purpose:
//! the test-only fault injection routes and the HTML sign-out form (`POST /logout`).

use crate::api::ErrorBody;
use std::collections::BTreeMap;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ObjectBuilder, Ref, RefOr, Required, Response, Type};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Title, description, security schemes and tags; the paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Payout Engine API",
        description = "Payouts, service records, the till, the ledger, audits and card payments of \
            a business's studios. Amounts are integer Rappen (1 CHF = 100 Rappen), times are UTC \
            (RFC 3339), dates are ISO 8601 (YYYY-MM-DD), ids are UUIDs. Every error is \
            `{\"error\": {\"code\", \"message\", \"field\"?}}`. Writes that move money need an \
            `Idempotency-Key` header: a retry with the same key replays the first answer instead \
            of acting twice (IETF draft-ietf-httpapi-idempotency-key-header).",
        license(name = "Proprietary")
    ),
    modifiers(&SecuritySchemes),
    security(("api_key" = []), ("session" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "records", description = "Services performed and working days"),
        (name = "payouts", description = "Payouts to employees: preview, commit, finish, cancel"),
        (name = "ledger", description = "Double-entry ledger: balances and transfers"),
        (name = "till", description = "The cash register: open, movements, close (Z report)"),
        (name = "audits", description = "Ledger invariant checks and the alerts they send"),
        (name = "payments", description = "Card payment events, the inbox and payments"),
        (name = "webhooks", description = "Signed outbound webhooks: endpoints, messages, delivery receipts"),
        (name = "events", description = "The live feed of domain events (server-sent events)"),
        (name = "settlements", description = "Settlement tracking: pain.001 bank files, camt.053/054 statements, reconciliation"),
        (name = "exports", description = "CSV exports for the accountant: payouts, payout lines, ledger postings, Z reports of a period"),
        (name = "dashboard", description = "The owner dashboard: revenue, commission, tips and payouts per employee and per week or month"),
        (name = "access", description = "Sessions, users, API keys and the activity log"),
        (name = "operations", description = "Health of the service")
    )
)]
pub struct ApiDoc;

/// Adds the two ways to authenticate: an API key as a bearer token, or the browser's session
/// cookie.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi
            .components
            .get_or_insert_with(utoipa::openapi::Components::new);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pe_<prefix>_<secret>")
                    .description(Some(
                        "An API key created by an owner (POST /api/v1/api-keys), sent as \
                         `Authorization: Bearer pe_…`; its scopes limit what it may do.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                app::engine::auth::SESSION_COOKIE,
                "The session cookie set by POST /api/v1/session (HttpOnly, SameSite=Lax).",
            ))),
        );
    }
}

/// The errors any authenticated read can answer.
pub struct ReadErrors;

impl IntoResponses for ReadErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error_responses(&[
            (
                401,
                "Not signed in, or the API key is unknown or revoked (`unauthenticated`).",
            ),
            (
                403,
                "The caller's role or the API key's scopes do not allow this (`forbidden`).",
            ),
            (
                404,
                "The resource does not exist or belongs to another business (`not_found`).",
            ),
            (
                422,
                "A query or path parameter is malformed; `field` names it (`validation_failed`).",
            ),
            (
                500,
                "An unexpected failure; the details are in the server's log.",
            ),
        ])
    }
}

/// The errors any write can answer, in addition to those of a read.
pub struct WriteErrors;

impl IntoResponses for WriteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error_responses(&[
            (
                400,
                "The body is not JSON, or the Idempotency-Key is missing or malformed \
                 (`invalid_json`, `idempotency_key_missing`, `invalid_idempotency_key`).",
            ),
            (
                401,
                "Not signed in, or the API key is unknown or revoked (`unauthenticated`).",
            ),
            (
                403,
                "The caller's role or the API key's scopes do not allow this (`forbidden`).",
            ),
            (404, "A referenced resource does not exist (`not_found`)."),
            (
                409,
                "The change conflicts with the current state: an illegal transition, a stale \
                 `expected_version`, or the same Idempotency-Key still in flight \
                 (`idempotency_key_in_flight`); `error.payment` / `error.payout` carry the \
                 current state where there is one.",
            ),
            (
                413,
                "The body is larger than the endpoint accepts (`payload_too_large`).",
            ),
            (
                415,
                "The body is not sent as `Content-Type: application/json`.",
            ),
            (
                422,
                "The body has the wrong shape or breaks a business rule; `field` names the \
                 offending field (`validation_failed` and others). Also the Idempotency-Key used \
                 before with a different request (`idempotency_key_reused`).",
            ),
            (
                500,
                "An unexpected failure; the details are in the server's log. A payout that \
                 failed midway answers `payout_failed` with `error.payout`: finish it with the \
                 same Idempotency-Key or POST /api/v1/payouts/{id}/finish.",
            ),
        ])
    }
}

fn error_responses(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The `Idempotency-Key` header of the writes that move money or change records.
pub struct IdempotencyKeyHeader;

impl IntoParams for IdempotencyKeyHeader {
    fn into_params(_parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let key = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(app::engine::idempotency::MAX_KEY_LEN))
            .pattern(Some("^[!-~]+$"));
        vec![ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(
                "A key the client generates per intended change (a UUID is a good choice): 1 to \
                 255 printable ASCII characters. The same key with the same body replays the \
                 first answer; with a different request it is refused (422 `idempotency_key_reused`).",
            ))
            .schema(Some(key))
            .build()]
    }
}
