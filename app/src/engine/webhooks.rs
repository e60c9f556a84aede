//! Outbound webhooks (issue 7): endpoints per business, fan-out from the event log, signed
//! delivery with retries, receipts and a dead-letter queue.
//!
//! - **Fan-out** ([`Engine::dispatch_webhook_events`]): the event log (`events`) is the
//!   transactional outbox. Under the write lock (so every event with a smaller id is committed:
//!   all writers hold it), the dispatcher reads the events after its cursor, writes one message
//!   per enabled, subscribed endpoint of the event's business, and advances the cursor in the
//!   same transaction: each event is fanned out exactly once.
//! - **Delivery** ([`Engine::deliver_due_webhooks`], a round at an explicit time so tests drive
//!   the clock): recover messages whose lease ran out (a worker stopped mid-attempt: a receipt
//!   says so and the message is due again: at least once), lease the due ones (respecting
//!   ordered endpoints), POST them concurrently, then record a receipt per attempt and move each
//!   message by [`MessageState::apply`].
//! - **Signatures** follow Standard Webhooks (<https://www.standardwebhooks.com/>): headers
//!   `webhook-id`, `webhook-timestamp` (Unix seconds of the attempt), `webhook-signature`
//!   (`v1,` and base64 HMAC-SHA256 over `id.timestamp.body`), one signature per valid secret,
//!   space-separated, during a rotation's overlap.
//! - **Destinations**: private, loopback and link-local addresses are refused (server-side
//!   request forgery) unless [`AllowedDestinations`] admits them; the check runs on the
//!   addresses a name resolves to at the time of each attempt, and on literal addresses.
//!   Redirects are not followed (a 3xx is a failed attempt).

use super::access::Caller;
use super::db::{self, DbTransaction};
use super::events::{self, operating_business};
use super::{db_error, now, Engine};
use crate::domain::webhook::{
    filter_matches, validate_event_filter, validate_retry_schedule, webhook_event_type, webhook_id,
    DEFAULT_RETRY_SCHEDULE_SECS, DEFAULT_TIMEOUT_SECS, MAX_TIMEOUT_SECS,
};
use crate::domain::*;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which non-public destinations webhook requests may reach. Everything else that is not a
/// public unicast address (unspecified, multicast, broadcast) is always refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllowedDestinations {
    /// 127.0.0.0/8, ::1 (tests and a receiver on the same machine).
    pub loopback: bool,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7.
    pub private: bool,
    /// 169.254/16 (cloud metadata services live here), fe80::/10.
    pub link_local: bool,
}

impl AllowedDestinations {
    /// Parses a comma-separated list of `loopback`, `private`, `link_local` (empty: none).
    ///
    /// Errors: an unknown word, named.
    pub fn parse(text: &str) -> Result<AllowedDestinations, String> {
        let mut allowed = AllowedDestinations::default();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "loopback" => allowed.loopback = true,
                "private" => allowed.private = true,
                "link_local" => allowed.link_local = true,
                other => {
                    return Err(format!(
                        "'{other}' is not a destination class (loopback, private, link_local)"
                    ))
                }
            }
        }
        Ok(allowed)
    }

    /// Whether a request may go to `ip`, or why not (its English explanation is the refusal's
    /// `Display`).
    pub fn check(&self, ip: IpAddr) -> Result<(), DestinationRefused> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            IpAddr::V4(v4) => IpAddr::V4(v4),
        };
        let (class, allowed) = match ip {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() {
                    (AddressClass::NotUnicast, false)
                } else if v4.is_loopback() {
                    (AddressClass::Loopback, self.loopback)
                } else if v4.is_link_local() {
                    (AddressClass::LinkLocal, self.link_local)
                } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) || a == 0 {
                    (AddressClass::Private, self.private)
                } else {
                    return Ok(());
                }
            }
            IpAddr::V6(v6) => {
                if v6.is_unspecified() || v6.is_multicast() {
                    (AddressClass::NotUnicast, false)
                } else if v6.is_loopback() {
                    (AddressClass::Loopback, self.loopback)
                } else if v6.is_unicast_link_local() {
                    (AddressClass::LinkLocal, self.link_local)
                } else if v6.is_unique_local() {
                    (AddressClass::Private, self.private)
                } else {
                    return Ok(());
                }
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(DestinationRefused(FieldProblem::DestinationNotAllowed {
                ip: ip.to_string(),
                class,
            }))
        }
    }
}

/// A destination address webhooks may not reach ([`AllowedDestinations::check`]): a
/// [`FieldProblem::DestinationNotAllowed`] for the endpoint form, its English sentence for the
/// delivery log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationRefused(pub FieldProblem);

impl std::fmt::Display for DestinationRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.explanation("url"))
    }
}

/// Webhook delivery settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Non-public destinations that are allowed (none by default).
    pub allowed_destinations: AllowedDestinations,
    /// How often the worker looks for new events and due messages.
    pub poll_interval: Duration,
    /// An endpoint whose every attempt has failed for this long is disabled and the owner
    /// alerted (default 5 days).
    pub disable_after: Duration,
    /// How long a rotated-out secret keeps signing beside the new one (default 24 h).
    pub rotation_overlap: Duration,
    /// Attempts in flight at once per worker.
    pub concurrency: usize,
    /// Messages one delivery round leases at most.
    pub round_size: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allowed_destinations: AllowedDestinations::default(),
            poll_interval: Duration::from_secs(1),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            rotation_overlap: Duration::from_secs(24 * 3600),
            concurrency: 32,
            round_size: 256,
        }
    }
}

/// Events one fan-out round reads at most.
const DISPATCH_BATCH: i64 = 1000;

/// What a lease adds to an attempt's timeout before the message counts as interrupted.
const LEASE_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// The bytes of an answer's body a receipt keeps.
const EXCERPT_BYTES: usize = 1024;

/// The longest `Retry-After` honoured (a larger one is capped to this).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A new signing secret: `whsec_` and the base64 of 24 random bytes (the format Standard
/// Webhooks libraries read).
fn new_secret() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The `webhook-signature` header: one `v1,<base64>` per secret, space-separated.
///
/// Errors: a secret that is not `whsec_` + base64 (never stored by this engine).
pub fn sign(
    secrets: &[String],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = standardwebhooks::Webhook::new(secret)
            .map_err(|error| format!("unreadable signing secret: {error}"))?;
        signatures.push(
            signer
                .sign(webhook_id, timestamp, body)
                .map_err(|error| format!("cannot sign: {error}"))?,
        );
    }
    Ok(signatures.join(" "))
}

/// Resolves names for webhook requests and drops every address [`AllowedDestinations`] refuses,
/// at the time of the request (a name that resolved to a public address when the endpoint was
/// registered may point inside later: DNS rebinding).
struct GuardedResolver {
    allowed: AllowedDestinations,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusals = Vec::new();
            let permitted: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|address| match allowed.check(address.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refusals.push(why.to_string());
                        false
                    }
                })
                .collect();
            if permitted.is_empty() {
                let why = refusals
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("{host} has no address"));
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{host}: {why}"),
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client webhook attempts use: guarded name resolution, no redirects, no proxy from
/// the environment. Per-attempt timeouts are the endpoint's.
///
/// Errors: the TLS backend cannot be initialised.
pub fn webhook_client(settings: &WebhookSettings) -> Result<reqwest::Client, AppError> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allowed: settings.allowed_destinations,
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("PayoutEngine-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| {
            tracing::error!(%error, "cannot build the webhook HTTP client");
            AppError::Internal {
                message: "cannot build the webhook HTTP client; it is logged on the server".into(),
            }
        })
}

/// The longest endpoint URL accepted, in bytes of its text (browsers and proxies handle
/// 2,000 safely).
const MAX_URL_CHARS: usize = 2000;

/// Checks an endpoint URL at the boundary: `http(s)`, a host, no credentials, at most 2,000
/// characters; a literal address must be allowed. (Names are checked when resolved, at each
/// attempt.)
fn validate_url(url: &str, allowed: &AllowedDestinations) -> Result<String, AppError> {
    let field = |problem: FieldProblem| AppError::invalid("url", problem);
    let text = url.trim();
    if text.len() > MAX_URL_CHARS {
        return Err(field(FieldProblem::UrlTooLong {
            max_chars: MAX_URL_CHARS,
        }));
    }
    let parsed = reqwest::Url::parse(text).map_err(|error| {
        field(FieldProblem::NotAUrl {
            text: text.into(),
            reason: error.to_string(),
        })
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(field(FieldProblem::UrlScheme));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(field(FieldProblem::UrlWithCredentials));
    }
    let refused = |refusal: DestinationRefused| field(refusal.0);
    match parsed.host() {
        None => return Err(field(FieldProblem::UrlWithoutHost)),
        Some(url::Host::Ipv4(ip)) => allowed.check(IpAddr::V4(ip)).map_err(refused)?,
        Some(url::Host::Ipv6(ip)) => allowed.check(IpAddr::V6(ip)).map_err(refused)?,
        Some(url::Host::Domain(_)) => {}
    }
    Ok(parsed.to_string())
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: WebhookEndpointId,
    business_id: BusinessId,
    url: String,
    description: String,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    #[sqlx(json(nullable))]
    disabled_because: Option<EndpointDisabledReason>,
    ordered: bool,
    retry_schedule: String,
    timeout_secs: i64,
    failing_since: Option<DateTime<Utc>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, business_id, url, description, event_types, enabled, \
    disabled_reason, disabled_because, ordered, retry_schedule, timeout_secs, failing_since, version, created_at, \
    updated_at";

fn stored_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(|error| {
        tracing::error!(%error, what, "unreadable stored webhook data");
        AppError::Internal {
            message: format!("the stored {what} is unreadable; it is logged on the server"),
        }
    })
}

fn encode_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|error| {
        tracing::error!(%error, what, "cannot encode webhook data");
        AppError::Internal {
            message: format!("cannot encode the {what}; it is logged on the server"),
        }
    })
}

impl EndpointRow {
    fn schedule(&self) -> Result<Vec<u32>, AppError> {
        stored_json("retry schedule", &self.retry_schedule)
    }

    fn into_endpoint(self, counts: MessageCounts) -> Result<WebhookEndpoint, AppError> {
        Ok(WebhookEndpoint {
            retry_schedule_secs: self.schedule()?,
            event_types: stored_json("event-type filter", &self.event_types)?,
            id: self.id,
            url: self.url,
            description: self.description,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            disabled_because: self.disabled_because,
            ordered: self.ordered,
            timeout_secs: u32::try_from(self.timeout_secs).unwrap_or(DEFAULT_TIMEOUT_SECS),
            failing_since: self.failing_since,
            version: self.version,
            message_counts: counts,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    seq: i64,
    id: WebhookMessageId,
    endpoint_id: WebhookEndpointId,
    event_id: Option<i64>,
    event_type: String,
    payload: String,
    state: MessageState,
    attempts: i64,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

const MESSAGE_COLUMNS: &str = "m.seq, m.id, m.endpoint_id, m.event_id, m.event_type, m.payload, \
    m.state, m.attempts, m.next_attempt_at, m.last_error, m.created_at, m.delivered_at";

impl MessageRow {
    fn into_message(self) -> Result<WebhookMessage, AppError> {
        Ok(WebhookMessage {
            webhook_id: webhook_id(self.id),
            payload: stored_json("message body", &self.payload)?,
            id: self.id,
            endpoint_id: self.endpoint_id,
            event_id: self.event_id,
            event_type: self.event_type,
            state: self.state,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            created_at: self.created_at,
            delivered_at: self.delivered_at,
        })
    }
}

/// A due message with its endpoint's delivery settings.
#[derive(sqlx::FromRow)]
struct DueRow {
    seq: i64,
    id: WebhookMessageId,
    endpoint_id: WebhookEndpointId,
    payload: String,
    attempts: i64,
    round_attempts: i64,
    url: String,
    timeout_secs: i64,
    retry_schedule: String,
}

/// A leased message with what its attempt needs.
struct Lease {
    seq: i64,
    id: WebhookMessageId,
    endpoint_id: WebhookEndpointId,
    url: String,
    body: String,
    timeout: Duration,
    attempt: i64,
    round_attempts: i64,
    schedule: Vec<u32>,
    secrets: Vec<String>,
}

/// What one attempt saw.
struct Answer {
    status: Option<u16>,
    latency_ms: i64,
    excerpt: Option<String>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

/// What one delivery round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    /// Attempts made.
    pub attempted: usize,
    /// Delivered (2xx).
    pub delivered: usize,
    /// Failed with a retry scheduled.
    pub retrying: usize,
    /// Moved to the dead-letter queue.
    pub dead_lettered: usize,
    /// Interrupted attempts recovered (their lease ran out).
    pub recovered: usize,
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3), capped at
/// [`MAX_RETRY_AFTER`].
fn retry_after(value: &str, at: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let when = httpdate::parse_http_date(value).ok()?;
            let at: std::time::SystemTime = at.into();
            when.duration_since(at).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The delay before retry number `step` (1-based) of `schedule`, with ±10 % jitter so the
/// retries of many messages failing together do not arrive together; `None` when the schedule
/// has no such step.
fn retry_delay(schedule: &[u32], step: i64) -> Option<Duration> {
    use rand::Rng as _;
    let base = *schedule.get(usize::try_from(step.checked_sub(1)?).ok()?)?;
    let factor: f64 = rand::rng().random_range(0.9..=1.1);
    Some(Duration::from_secs_f64(f64::from(base) * factor))
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::days(1))
}

impl Engine {
    /// Reads one endpoint the caller may see (the operator, with no business, sees all).
    async fn endpoint_row(
        &self,
        executor: impl db::Executor<'_>,
        caller: &Caller,
        id: WebhookEndpointId,
    ) -> Result<EndpointRow, AppError> {
        let row = db::query_as::<EndpointRow>(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(db_error("reading a webhook endpoint"))?;
        match (row, caller.business_id) {
            (Some(row), Some(business)) if row.business_id != business => Err(AppError::not_found(
                format!("no webhook endpoint with id {id}"),
            )),
            (Some(row), _) => Ok(row),
            (None, _) => Err(AppError::not_found(format!(
                "no webhook endpoint with id {id}"
            ))),
        }
    }

    async fn message_counts(
        &self,
        endpoints: &[WebhookEndpointId],
    ) -> Result<HashMap<WebhookEndpointId, MessageCounts>, AppError> {
        let mut counts: HashMap<WebhookEndpointId, MessageCounts> = HashMap::new();
        for chunk in endpoints.chunks(500) {
            let rows: Vec<(WebhookEndpointId, MessageState, i64)> = db::query_as(format!(
                "SELECT endpoint_id, state, COUNT(*) FROM webhook_messages
                 WHERE endpoint_id IN ({}) GROUP BY endpoint_id, state",
                db::placeholders(1, chunk.len())
            ))
            .bind_all(chunk.iter().copied())
            .fetch_all(self.pool())
            .await
            .map_err(db_error("counting webhook messages"))?;
            for (endpoint, state, count) in rows {
                let entry = counts.entry(endpoint).or_default();
                match state {
                    MessageState::Scheduled => entry.scheduled = count,
                    MessageState::Sending => entry.sending = count,
                    MessageState::Delivered => entry.delivered = count,
                    MessageState::DeadLettered => entry.dead_lettered = count,
                }
            }
        }
        Ok(counts)
    }

    async fn endpoint_view(&self, row: EndpointRow) -> Result<WebhookEndpoint, AppError> {
        let counts = self.message_counts(&[row.id]).await?;
        // No row in the counts: the endpoint has no message yet (all zero).
        let count = counts.get(&row.id).copied().unwrap_or_default();
        row.into_endpoint(count)
    }

    /// Registers an endpoint for the caller's business with a new signing secret. It receives
    /// events recorded from now on.
    ///
    /// Errors: 403 unless the caller may manage webhooks; 422 naming the field (URL, filter,
    /// schedule, timeout, description).
    pub async fn create_webhook_endpoint(
        &self,
        caller: &Caller,
        request: &WebhookEndpointRequest,
    ) -> Result<CreatedWebhookEndpoint, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        let url = validate_url(&request.url, &self.settings().webhooks.allowed_destinations)?;
        let description = validate_description(&request.description)?;
        let event_types = validate_event_filter(&request.event_types)
            .map_err(|problem| AppError::invalid("event_types", problem))?;
        let schedule = request
            .retry_schedule_secs
            .clone()
            .unwrap_or_else(|| DEFAULT_RETRY_SCHEDULE_SECS.to_vec());
        validate_retry_schedule(&schedule)
            .map_err(|problem| AppError::invalid("retry_schedule_secs", problem))?;
        let timeout = validate_timeout(request.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))?;
        let business = match caller.business_id {
            Some(business) => business,
            None => operating_business(self.pool()).await?,
        };
        let id = WebhookEndpointId::generate();
        let secret = new_secret();
        let at = now();
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO webhook_endpoints (id, business_id, url, description, event_types, enabled,
                 ordered, retry_schedule, timeout_secs, first_event_id, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $8,
                 (SELECT COALESCE(MAX(id), 0) FROM events), 1, $9, $9)",
        )
        .bind(id)
        .bind(business)
        .bind(&url)
        .bind(&description)
        .bind(encode_json("event-type filter", &event_types)?)
        .bind(request.ordered)
        .bind(encode_json("retry schedule", &schedule)?)
        .bind(i64::from(timeout))
        .bind(at)
        .execute(&mut tx)
        .await
        .map_err(db_error("registering the webhook endpoint"))?;
        store_secret(&mut tx, id, &secret, at).await?;
        log_activity(
            &mut tx,
            caller,
            "webhook_endpoint.create",
            "webhook_endpoint",
            Some(id.0),
            &serde_json::json!({ "url": url, "event_types": event_types }),
        )
        .await?;
        let row = self.endpoint_row(&mut tx, caller, id).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the webhook endpoint"))?;
        tracing::info!(endpoint = %id, %url, "webhook endpoint registered");
        Ok(CreatedWebhookEndpoint {
            endpoint: row.into_endpoint(MessageCounts::default())?,
            secret: WebhookSecret {
                secret,
                previous_valid_until: None,
            },
        })
    }

    /// The caller's business's endpoints, oldest first, with their message counts.
    ///
    /// Errors: 403 unless the caller may read webhooks.
    pub async fn webhook_endpoints(
        &self,
        caller: &Caller,
    ) -> Result<Vec<WebhookEndpoint>, AppError> {
        caller.require(Permission::ReadWebhooks)?;
        let rows = db::query_as::<EndpointRow>(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
             WHERE ($1 IS NULL OR business_id = $1) ORDER BY created_at, id"
        ))
        .bind(caller.business_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing webhook endpoints"))?;
        let ids: Vec<WebhookEndpointId> = rows.iter().map(|r| r.id).collect();
        let counts = self.message_counts(&ids).await?;
        rows.into_iter()
            .map(|row| {
                // No row in the counts: the endpoint has no message yet (all zero).
                let count = counts.get(&row.id).copied().unwrap_or_default();
                row.into_endpoint(count)
            })
            .collect()
    }

    /// One endpoint.
    ///
    /// Errors: 403 unless the caller may read webhooks; 404 for an endpoint of another business
    /// or none.
    pub async fn webhook_endpoint(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, AppError> {
        caller.require(Permission::ReadWebhooks)?;
        let row = self.endpoint_row(self.pool(), caller, id).await?;
        self.endpoint_view(row).await
    }

    /// Changes an endpoint. Disabling dead-letters its scheduled messages (the owner redrives
    /// them after enabling it again); enabling clears the failure record.
    ///
    /// Errors: 403; 404; 409 `version_conflict` when `expected_version` is stale (the message
    /// names the current version); 422 naming the field.
    pub async fn update_webhook_endpoint(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
        update: &WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        let url = update
            .url
            .as_deref()
            .map(|url| validate_url(url, &self.settings().webhooks.allowed_destinations))
            .transpose()?;
        let description = update
            .description
            .as_deref()
            .map(validate_description)
            .transpose()?;
        let event_types = update
            .event_types
            .as_deref()
            .map(validate_event_filter)
            .transpose()
            .map_err(|problem| AppError::invalid("event_types", problem))?;
        if let Some(schedule) = &update.retry_schedule_secs {
            validate_retry_schedule(schedule)
                .map_err(|problem| AppError::invalid("retry_schedule_secs", problem))?;
        }
        let timeout = update.timeout_secs.map(validate_timeout).transpose()?;
        let mut tx = self.begin_write().await?;
        let current = self.endpoint_row(&mut tx, caller, id).await?;
        if update.expected_version != current.version {
            return Err(AppError::conflict_with(Problem::EndpointVersionConflict {
                current: current.version,
                expected: update.expected_version,
            }));
        }
        let at = now();
        let enabled = update.enabled.unwrap_or(current.enabled);
        let (disabled_reason, disabled_because, failing_since) = match (current.enabled, enabled) {
            (true, false) => {
                let because = EndpointDisabledReason::ByCaller {
                    by: caller.actor_label(),
                };
                (
                    Some(because.explanation()),
                    Some(because),
                    current.failing_since,
                )
            }
            (false, true) => (None, None, None),
            (true, true) | (false, false) => (
                current.disabled_reason.clone(),
                current.disabled_because.clone(),
                current.failing_since,
            ),
        };
        db::query(
            "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5,
                 disabled_reason = $6, ordered = $7, retry_schedule = $8, timeout_secs = $9,
                 failing_since = $10, version = version + 1, updated_at = $11, disabled_because = $12
             WHERE id = $1",
        )
        .bind(id)
        .bind(url.unwrap_or_else(|| current.url.clone()))
        .bind(description.unwrap_or_else(|| current.description.clone()))
        .bind(match event_types {
            Some(types) => encode_json("event-type filter", &types)?,
            None => current.event_types.clone(),
        })
        .bind(enabled)
        .bind(disabled_reason.clone())
        .bind(update.ordered.unwrap_or(current.ordered))
        .bind(match &update.retry_schedule_secs {
            Some(schedule) => encode_json("retry schedule", schedule)?,
            None => current.retry_schedule.clone(),
        })
        .bind(timeout.map_or(current.timeout_secs, i64::from))
        .bind(failing_since)
        .bind(at)
        .bind(disabled_because.map(sqlx::types::Json))
        .execute(&mut tx)
        .await
        .map_err(db_error("changing the webhook endpoint"))?;
        if current.enabled && !enabled {
            dead_letter_scheduled(
                &mut tx,
                id,
                disabled_reason.as_deref().unwrap_or("disabled"),
            )
            .await?;
        }
        log_activity(
            &mut tx,
            caller,
            "webhook_endpoint.update",
            "webhook_endpoint",
            Some(id.0),
            update,
        )
        .await?;
        let row = self.endpoint_row(&mut tx, caller, id).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the webhook endpoint change"))?;
        self.endpoint_view(row).await
    }

    /// The endpoint's signing secret (and until when the previous one still signs).
    ///
    /// Errors: 403 unless the caller may manage webhooks; 404.
    pub async fn webhook_secret(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
    ) -> Result<WebhookSecret, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        self.endpoint_row(self.pool(), caller, id).await?;
        let secrets: Vec<(String, Option<DateTime<Utc>>)> = db::query_as(
            "SELECT secret, expires_at FROM webhook_secrets
             WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC",
        )
        .bind(id)
        .bind(now())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the webhook secret"))?;
        let current = secrets
            .iter()
            .find(|(_, expires)| expires.is_none())
            .map(|(secret, _)| secret.clone())
            .ok_or_else(|| {
                tracing::error!(endpoint = %id, "a webhook endpoint has no current secret");
                AppError::Internal {
                    message: "the endpoint has no current secret; rotate it".into(),
                }
            })?;
        Ok(WebhookSecret {
            secret: current,
            previous_valid_until: secrets.iter().filter_map(|(_, expires)| *expires).max(),
        })
    }

    /// Replaces the signing secret. The previous one keeps signing beside the new one for
    /// [`WebhookSettings::rotation_overlap`], so a receiver can switch without losing messages.
    ///
    /// Errors: 403; 404.
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
    ) -> Result<WebhookSecret, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        let at = now();
        let until = at + chrono_duration(self.settings().webhooks.rotation_overlap);
        let secret = new_secret();
        let mut tx = self.begin_write().await?;
        self.endpoint_row(&mut tx, caller, id).await?;
        db::query(
            "UPDATE webhook_secrets SET expires_at = $2
             WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(id)
        .bind(until)
        .execute(&mut tx)
        .await
        .map_err(db_error("retiring the webhook secret"))?;
        store_secret(&mut tx, id, &secret, at).await?;
        log_activity(
            &mut tx,
            caller,
            "webhook_endpoint.rotate_secret",
            "webhook_endpoint",
            Some(id.0),
            &serde_json::json!({ "previous_valid_until": until }),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the secret rotation"))?;
        tracing::info!(endpoint = %id, %until, "webhook secret rotated");
        Ok(WebhookSecret {
            secret,
            previous_valid_until: Some(until),
        })
    }

    /// Queues a `webhook.test` message for the endpoint (whatever its filter), due now.
    ///
    /// Errors: 403; 404; 409 `endpoint_disabled` for a disabled endpoint.
    pub async fn send_webhook_test(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
    ) -> Result<WebhookMessage, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        let at = now();
        let mut tx = self.begin_write().await?;
        let endpoint = self.endpoint_row(&mut tx, caller, id).await?;
        require_enabled(&endpoint, EndpointAction::SendTest)?;
        let message = WebhookMessageId::generate();
        let body = encode_json(
            "message body",
            &serde_json::json!({
                "type": "webhook.test",
                "timestamp": at,
                "data": { "endpoint_id": id, "sent_by": caller.actor_label() },
            }),
        )?;
        db::query(
            "INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, state,
                 next_attempt_at, created_at)
             VALUES ($1, $2, NULL, 'webhook.test', $3, 'scheduled', $4, $4)",
        )
        .bind(message)
        .bind(id)
        .bind(body)
        .bind(at)
        .execute(&mut tx)
        .await
        .map_err(db_error("queueing the test message"))?;
        let row = message_row(&mut tx, message).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the test message"))?;
        row.into_message()
    }

    /// The endpoint's messages, newest first (at most `limit`, 1..=500), optionally in one
    /// state (`dead_lettered`: the dead-letter queue).
    ///
    /// Errors: 403; 404.
    pub async fn webhook_messages(
        &self,
        caller: &Caller,
        endpoint: WebhookEndpointId,
        state: Option<MessageState>,
        limit: i64,
    ) -> Result<Vec<WebhookMessage>, AppError> {
        caller.require(Permission::ReadWebhooks)?;
        self.endpoint_row(self.pool(), caller, endpoint).await?;
        let rows = db::query_as::<MessageRow>(format!(
            "SELECT {MESSAGE_COLUMNS} FROM webhook_messages m
             WHERE m.endpoint_id = $1 AND ($2 IS NULL OR m.state = $2)
             ORDER BY m.seq DESC LIMIT $3"
        ))
        .bind(endpoint)
        .bind(state)
        .bind(limit.clamp(1, 500))
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing webhook messages"))?;
        rows.into_iter().map(MessageRow::into_message).collect()
    }

    /// A message with every delivery receipt, oldest first.
    ///
    /// Errors: 403; 404 for a message of another business or none.
    pub async fn webhook_message(
        &self,
        caller: &Caller,
        id: WebhookMessageId,
    ) -> Result<WebhookMessageDetail, AppError> {
        caller.require(Permission::ReadWebhooks)?;
        let row = message_row(self.pool(), id).await?;
        self.endpoint_row(self.pool(), caller, row.endpoint_id)
            .await
            .map_err(|_| AppError::not_found(format!("no webhook message with id {id}")))?;
        let attempts = db::query_as::<(
            i64,
            DateTime<Utc>,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
            AttemptOutcome,
        )>(
            "SELECT attempt, started_at, url, status_code, latency_ms, response_excerpt, error, outcome
             FROM webhook_attempts WHERE message_seq = $1 ORDER BY attempt",
        )
        .bind(row.seq)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the delivery receipts"))?
        .into_iter()
        .map(
            |(attempt, started_at, url, status_code, latency_ms, response_excerpt, error, outcome)| {
                WebhookAttempt {
                    attempt,
                    started_at,
                    url,
                    status_code,
                    latency_ms,
                    response_excerpt,
                    error,
                    outcome,
                }
            },
        )
        .collect();
        Ok(WebhookMessageDetail {
            message: row.into_message()?,
            attempts,
        })
    }

    /// Sends a delivered or dead-lettered message again, due now, with a fresh retry schedule.
    ///
    /// Errors: 403; 404; 409 `illegal_transition` naming the state (a scheduled or sending
    /// message is on its way already); 409 `endpoint_disabled`.
    pub async fn resend_webhook_message(
        &self,
        caller: &Caller,
        id: WebhookMessageId,
    ) -> Result<WebhookMessage, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        let mut tx = self.begin_write().await?;
        let row = message_row(&mut tx, id).await?;
        let endpoint = self
            .endpoint_row(&mut tx, caller, row.endpoint_id)
            .await
            .map_err(|_| AppError::not_found(format!("no webhook message with id {id}")))?;
        require_enabled(&endpoint, EndpointAction::Resend)?;
        row.state
            .apply(MessageAction::Resend)
            .map_err(|refusal| AppError::conflict("illegal_transition", refusal.explanation))?;
        let at = now();
        db::query(
            "UPDATE webhook_messages SET state = 'scheduled', round_attempts = 0, next_attempt_at = $2,
                 last_error = NULL
             WHERE seq = $1",
        )
        .bind(row.seq)
        .bind(at)
        .execute(&mut tx)
        .await
        .map_err(db_error("rescheduling the webhook message"))?;
        log_activity(
            &mut tx,
            caller,
            "webhook_message.resend",
            "webhook_message",
            Some(id.0),
            &serde_json::json!({ "from": row.state }),
        )
        .await?;
        let row = message_row(&mut tx, id).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the resend"))?;
        row.into_message()
    }

    /// Redrives the endpoint's dead-letter queue: every dead-lettered message is scheduled
    /// again, due now, with a fresh retry schedule. Returns how many.
    ///
    /// Errors: 403; 404; 409 `endpoint_disabled`.
    pub async fn redrive_webhook_endpoint(
        &self,
        caller: &Caller,
        id: WebhookEndpointId,
    ) -> Result<u64, AppError> {
        caller.require(Permission::ManageWebhooks)?;
        let mut tx = self.begin_write().await?;
        let endpoint = self.endpoint_row(&mut tx, caller, id).await?;
        require_enabled(&endpoint, EndpointAction::Redrive)?;
        let redriven = db::query(
            "UPDATE webhook_messages SET state = 'scheduled', round_attempts = 0, next_attempt_at = $2,
                 last_error = NULL
             WHERE endpoint_id = $1 AND state = 'dead_lettered'",
        )
        .bind(id)
        .bind(now())
        .execute(&mut tx)
        .await
        .map_err(db_error("redriving the dead-letter queue"))?
        .rows_affected();
        log_activity(
            &mut tx,
            caller,
            "webhook_endpoint.redrive",
            "webhook_endpoint",
            Some(id.0),
            &serde_json::json!({ "messages": redriven }),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the redrive"))?;
        tracing::info!(endpoint = %id, messages = redriven, "webhook dead-letter queue redriven");
        Ok(redriven)
    }

    /// Fans out the events recorded since the last round (at most [`DISPATCH_BATCH`]): one
    /// message per enabled endpoint of the event's business whose filter takes its type.
    /// Returns how many events it read (0: caught up).
    ///
    /// Errors: 503/500 from the database (nothing is fanned out; the next round reads the same
    /// events).
    pub async fn dispatch_webhook_events(&self) -> Result<usize, AppError> {
        // Idle rounds stay off the write lock: a read says whether anything is new.
        let behind: bool = db::query_scalar(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM events)
                  > (SELECT last_event_id FROM webhook_dispatch WHERE id = 1)",
        )
        .fetch_one(self.pool())
        .await
        .map_err(db_error("checking the event log for new events"))?;
        if !behind {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let cursor: i64 =
            db::query_scalar("SELECT last_event_id FROM webhook_dispatch WHERE id = 1")
                .fetch_one(&mut tx)
                .await
                .map_err(db_error("reading the webhook cursor"))?;
        let events = events::read_after(&mut tx, cursor, None, DISPATCH_BATCH).await?;
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(0);
        };
        let endpoints: Vec<(WebhookEndpointId, BusinessId, String, i64)> = db::query_as(
            "SELECT id, business_id, event_types, first_event_id FROM webhook_endpoints
             WHERE enabled ORDER BY id",
        )
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("reading the webhook endpoints"))?;
        let mut messages: Vec<(WebhookMessageId, WebhookEndpointId, i64, &str, String)> =
            Vec::new();
        if !endpoints.is_empty() {
            let filters: Vec<Vec<String>> = endpoints
                .iter()
                .map(|(_, _, types, _)| stored_json("event-type filter", types))
                .collect::<Result<_, _>>()?;
            let owners = events::businesses_of(&mut tx, &events, &mut HashMap::new()).await?;
            for (
                events::LogEvent {
                    id: event_id,
                    kind,
                    payload,
                    occurred_at,
                    ..
                },
                owner,
            ) in events.iter().zip(owners)
            {
                let Some(event_type) = webhook_event_type(kind) else {
                    continue;
                };
                let Some(business) = owner else {
                    continue;
                };
                let subscribed = endpoints.iter().zip(&filters).filter(
                    |((_, endpoint_business, _, first_event), filter)| {
                        *endpoint_business == business
                            && event_id > first_event
                            && filter_matches(filter, event_type)
                    },
                );
                let mut body: Option<String> = None;
                for ((endpoint, ..), _) in subscribed {
                    let body = match &body {
                        Some(body) => body.clone(),
                        None => {
                            let data: serde_json::Value = stored_json("event payload", payload)?;
                            let text = encode_json(
                                "message body",
                                &serde_json::json!({
                                    "type": event_type,
                                    "timestamp": occurred_at,
                                    "data": data,
                                }),
                            )?;
                            body = Some(text.clone());
                            text
                        }
                    };
                    messages.push((
                        WebhookMessageId::generate(),
                        *endpoint,
                        *event_id,
                        event_type,
                        body,
                    ));
                }
            }
        }
        let at = now();
        for chunk in messages.chunks(200) {
            let sql = format!(
                "INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, state,
                     next_attempt_at, created_at)
                 VALUES {} ON CONFLICT (endpoint_id, event_id) DO NOTHING",
                db::values_list(chunk.len(), 8)
            );
            chunk
                .iter()
                .fold(
                    db::query(sql),
                    |row, (id, endpoint, event, event_type, body)| {
                        row.bind(*id)
                            .bind(*endpoint)
                            .bind(*event)
                            .bind(*event_type)
                            .bind(body.clone())
                            .bind(MessageState::Scheduled)
                            .bind(at)
                            .bind(at)
                    },
                )
                .execute(&mut tx)
                .await
                .map_err(db_error("writing webhook messages"))?;
        }
        db::query("UPDATE webhook_dispatch SET last_event_id = $1 WHERE id = 1")
            .bind(last)
            .execute(&mut tx)
            .await
            .map_err(db_error("advancing the webhook cursor"))?;
        tx.commit()
            .await
            .map_err(db_error("committing the webhook fan-out"))?;
        if !messages.is_empty() {
            tracing::debug!(
                events = events.len(),
                messages = messages.len(),
                "webhook fan-out"
            );
        }
        Ok(events.len())
    }

    /// One delivery round at `at` (the worker passes the current time; tests pass a
    /// controlled clock): recovers interrupted attempts, leases the due messages (at most
    /// [`WebhookSettings::round_size`]), attempts them concurrently with `client` and records
    /// each outcome.
    ///
    /// Errors: 503/500 from the database. Attempts that were made but could not be recorded
    /// stay leased and are recovered as interrupted (sent again: at least once).
    pub async fn deliver_due_webhooks(
        &self,
        client: &reqwest::Client,
        at: DateTime<Utc>,
    ) -> Result<DeliveryRound, AppError> {
        // Stored times have millisecond precision (PostgreSQL keeps microseconds, the engine
        // writes milliseconds everywhere), so schedules computed from `at` read back exactly.
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let mut round = DeliveryRound {
            recovered: self.recover_interrupted_webhooks(at).await?,
            ..DeliveryRound::default()
        };
        let leases = self.lease_due_webhooks(at).await?;
        if leases.is_empty() {
            return Ok(round);
        }
        let concurrency = self.settings().webhooks.concurrency.max(1);
        let allowed = &self.settings().webhooks.allowed_destinations;
        let answers: Vec<(Lease, Answer)> = futures::stream::iter(leases)
            .map(|lease| async move {
                let answer = attempt(client, &lease, at, allowed).await;
                (lease, answer)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        round.attempted = answers.len();
        let mut tx = self.begin_write().await?;
        let (delivered, failed): (Vec<_>, Vec<_>) = answers
            .iter()
            .partition(|(_, answer)| answer.status.is_some_and(|s| (200..300).contains(&s)));
        round.delivered += record_deliveries(&mut tx, &delivered, at).await?;
        for (lease, answer) in failed {
            match self.record_failure(&mut tx, lease, answer, at).await? {
                AttemptOutcome::Delivered => round.delivered += 1,
                AttemptOutcome::Retry => round.retrying += 1,
                AttemptOutcome::DeadLettered => round.dead_lettered += 1,
                AttemptOutcome::Interrupted => {}
            }
        }
        tx.commit()
            .await
            .map_err(db_error("committing the delivery receipts"))?;
        Ok(round)
    }

    /// Messages whose lease ran out mid-attempt get an `interrupted` receipt and are due again.
    async fn recover_interrupted_webhooks(&self, at: DateTime<Utc>) -> Result<usize, AppError> {
        let any: bool = db::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE state = 'sending' AND lease_until < $1)",
        )
        .bind(at)
        .fetch_one(self.pool())
        .await
        .map_err(db_error("checking for interrupted webhook attempts"))?;
        if !any {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let lost: Vec<(i64, i64, String)> = db::query_as(
            "SELECT m.seq, m.attempts, e.url FROM webhook_messages m
             JOIN webhook_endpoints e ON e.id = m.endpoint_id
             WHERE m.state = 'sending' AND m.lease_until < $1",
        )
        .bind(at)
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("finding interrupted webhook attempts"))?;
        if lost.is_empty() {
            return Ok(0);
        }
        let why = "the server stopped during this attempt; its outcome is unknown, so the message is sent again (receivers deduplicate on webhook-id)";
        for (seq, attempt, url) in &lost {
            db::query(
                "INSERT INTO webhook_attempts (message_seq, attempt, started_at, url, error, outcome)
                 VALUES ($1, $2, $3, $4, $5, 'interrupted') ON CONFLICT (message_seq, attempt) DO NOTHING",
            )
            .bind(seq)
            .bind(attempt)
            .bind(at)
            .bind(url)
            .bind(why)
            .execute(&mut tx)
            .await
            .map_err(db_error("recording an interrupted attempt"))?;
            db::query(
                "UPDATE webhook_messages SET state = 'scheduled', lease_until = NULL, next_attempt_at = $2,
                     last_error = $3
                 WHERE seq = $1 AND state = 'sending'",
            )
            .bind(seq)
            .bind(at)
            .bind(why)
            .execute(&mut tx)
            .await
            .map_err(db_error("rescheduling an interrupted message"))?;
        }
        tx.commit()
            .await
            .map_err(db_error("committing the recovered messages"))?;
        tracing::warn!(
            messages = lost.len(),
            "webhook attempts interrupted by a stopped worker are sent again"
        );
        Ok(lost.len())
    }

    /// Leases the due messages of enabled endpoints, oldest first; for an ordered endpoint only
    /// its oldest message that is neither delivered nor dead-lettered.
    async fn lease_due_webhooks(&self, at: DateTime<Utc>) -> Result<Vec<Lease>, AppError> {
        let any: bool = db::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE state = 'scheduled' AND next_attempt_at <= $1)",
        )
        .bind(at)
        .fetch_one(self.pool())
        .await
        .map_err(db_error("checking for due webhook messages"))?;
        if !any {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let due: Vec<DueRow> = db::query_as(
            "SELECT m.seq, m.id, m.endpoint_id, m.payload, m.attempts, m.round_attempts,
                        e.url, e.timeout_secs, e.retry_schedule
                 FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
                 WHERE m.state = 'scheduled' AND m.next_attempt_at <= $1 AND e.enabled
                   AND (NOT e.ordered OR NOT EXISTS (
                        SELECT 1 FROM webhook_messages p
                        WHERE p.endpoint_id = m.endpoint_id AND p.seq < m.seq
                          AND p.state IN ('scheduled', 'sending')))
                 ORDER BY m.seq LIMIT $2",
        )
        .bind(at)
        .bind(i64::try_from(self.settings().webhooks.round_size).unwrap_or(256))
        .fetch_all(&mut tx)
        .await
        .map_err(db_error("finding due webhook messages"))?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let endpoints = db::distinct(due.iter().map(|d| d.endpoint_id));
        let mut secrets: HashMap<WebhookEndpointId, Vec<String>> = HashMap::new();
        for chunk in endpoints.chunks(500) {
            let rows: Vec<(WebhookEndpointId, String)> = db::query_as(format!(
                "SELECT endpoint_id, secret FROM webhook_secrets
                 WHERE endpoint_id IN ({}) AND (expires_at IS NULL OR expires_at > ${})
                 ORDER BY id DESC",
                db::placeholders(1, chunk.len()),
                chunk.len() + 1
            ))
            .bind_all(chunk.iter().copied())
            .bind(at)
            .fetch_all(&mut tx)
            .await
            .map_err(db_error("reading the webhook secrets"))?;
            for (endpoint, secret) in rows {
                secrets.entry(endpoint).or_default().push(secret);
            }
        }
        let mut leases = Vec::with_capacity(due.len());
        for DueRow {
            seq,
            id,
            endpoint_id,
            payload: body,
            attempts,
            round_attempts,
            url,
            timeout_secs,
            retry_schedule: schedule,
        } in due
        {
            let timeout = Duration::from_secs(u64::try_from(timeout_secs).unwrap_or(15));
            leases.push(Lease {
                seq,
                id,
                endpoint_id,
                url,
                body,
                timeout,
                attempt: attempts + 1,
                round_attempts: round_attempts + 1,
                schedule: stored_json("retry schedule", &schedule)?,
                // No valid secret: the attempt fails with "has no valid signing secret".
                secrets: secrets.get(&endpoint_id).cloned().unwrap_or_default(),
            });
        }
        // One statement per timeout (usually one in all) instead of one per message.
        let mut by_timeout: HashMap<Duration, Vec<i64>> = HashMap::new();
        for lease in &leases {
            by_timeout.entry(lease.timeout).or_default().push(lease.seq);
        }
        for (timeout, seqs) in by_timeout {
            let lease_until = at + chrono_duration(timeout) + LEASE_MARGIN;
            for chunk in seqs.chunks(500) {
                db::query(format!(
                    "UPDATE webhook_messages SET state = 'sending', attempts = attempts + 1,
                         round_attempts = round_attempts + 1, lease_until = $1
                     WHERE state = 'scheduled' AND seq IN ({})",
                    db::placeholders(2, chunk.len())
                ))
                .bind(lease_until)
                .bind_all(chunk.iter().copied())
                .execute(&mut tx)
                .await
                .map_err(db_error("leasing webhook messages"))?;
            }
        }
        tx.commit()
            .await
            .map_err(db_error("committing the webhook leases"))?;
        Ok(leases)
    }

    /// Stores the receipt of one failed attempt (anything but 2xx; those are recorded together
    /// by [`record_deliveries`]) and moves its message to its retry or the dead-letter queue
    /// (and, for `410 Gone` or an endpoint failing too long, disables the endpoint and alerts
    /// the owner).
    async fn record_failure(
        &self,
        tx: &mut DbTransaction,
        lease: &Lease,
        answer: &Answer,
        at: DateTime<Utc>,
    ) -> Result<AttemptOutcome, AppError> {
        let mut disable: Option<EndpointDisabledReason> = None;
        let outcome = if answer.status == Some(410) {
            disable = Some(EndpointDisabledReason::Gone);
            AttemptOutcome::DeadLettered
        } else {
            let failing_since: Option<DateTime<Utc>> =
                db::query_scalar("SELECT failing_since FROM webhook_endpoints WHERE id = $1")
                    .bind(lease.endpoint_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error("reading the endpoint's failures"))?;
            let since = failing_since.unwrap_or(at);
            let limit = chrono_duration(self.settings().webhooks.disable_after);
            if at - since >= limit {
                disable = Some(EndpointDisabledReason::FailingTooLong {
                    since,
                    limit_hours: limit.num_hours(),
                });
                AttemptOutcome::DeadLettered
            } else if retry_delay(&lease.schedule, lease.round_attempts).is_some() {
                AttemptOutcome::Retry
            } else {
                AttemptOutcome::DeadLettered
            }
        };
        let error = match (&answer.error, answer.status) {
            (Some(error), _) => Some(error.clone()),
            (None, Some(status)) => Some(format!("the endpoint answered {status}")),
            (None, None) => None,
        };
        db::query(
            "INSERT INTO webhook_attempts (message_seq, attempt, started_at, url, status_code,
                 latency_ms, response_excerpt, error, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (message_seq, attempt) DO NOTHING",
        )
        .bind(lease.seq)
        .bind(lease.attempt)
        .bind(at)
        .bind(&lease.url)
        .bind(answer.status.map(i64::from))
        .bind(answer.latency_ms)
        .bind(answer.excerpt.clone())
        .bind(error.clone())
        .bind(outcome)
        .execute(&mut *tx)
        .await
        .map_err(db_error("storing a delivery receipt"))?;
        let next_attempt_at = match outcome {
            AttemptOutcome::Retry => {
                let delay = retry_delay(&lease.schedule, lease.round_attempts)
                    .unwrap_or(Duration::ZERO)
                    .max(answer.retry_after.unwrap_or(Duration::ZERO));
                Some(at + chrono_duration(delay))
            }
            AttemptOutcome::Delivered
            | AttemptOutcome::DeadLettered
            | AttemptOutcome::Interrupted => None,
        };
        let state = match outcome {
            AttemptOutcome::Delivered => MessageState::Delivered,
            AttemptOutcome::Retry | AttemptOutcome::Interrupted => MessageState::Scheduled,
            AttemptOutcome::DeadLettered => MessageState::DeadLettered,
        };
        // The lease guard: a message recovered as interrupted (and perhaps leased again) is
        // not overwritten by a late answer; its receipt above is kept either way.
        db::query(
            "UPDATE webhook_messages SET state = $2, next_attempt_at = $3, lease_until = NULL,
                 last_error = $4
             WHERE seq = $1 AND state = 'sending' AND attempts = $5",
        )
        .bind(lease.seq)
        .bind(state)
        .bind(next_attempt_at)
        .bind(error.clone())
        .bind(lease.attempt)
        .execute(&mut *tx)
        .await
        .map_err(db_error("recording a webhook delivery"))?;
        db::query(
            "UPDATE webhook_endpoints SET failing_since = $2
             WHERE id = $1 AND failing_since IS NULL",
        )
        .bind(lease.endpoint_id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error("recording the endpoint's failure"))?;
        match outcome {
            AttemptOutcome::Delivered => {}
            AttemptOutcome::Retry => tracing::warn!(
                message = %lease.id, attempt = lease.attempt, error = ?error, next = ?next_attempt_at,
                "webhook attempt failed; retry scheduled"
            ),
            AttemptOutcome::DeadLettered | AttemptOutcome::Interrupted => tracing::error!(
                message = %lease.id, attempt = lease.attempt, error = ?error,
                "webhook message dead-lettered"
            ),
        }
        if let Some(because) = disable {
            self.disable_endpoint(tx, lease.endpoint_id, &because, at)
                .await?;
        }
        Ok(outcome)
    }

    /// Disables an endpoint (once), dead-letters its scheduled messages, and records a
    /// `webhook.endpoint_disabled` event (the owner's Telegram alert and webhook).
    async fn disable_endpoint(
        &self,
        tx: &mut DbTransaction,
        endpoint: WebhookEndpointId,
        because: &EndpointDisabledReason,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let reason = because.explanation();
        let changed = db::query(
            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $2, version = version + 1,
                 updated_at = $3, disabled_because = $4
             WHERE id = $1 AND enabled",
        )
        .bind(endpoint)
        .bind(&reason)
        .bind(at)
        .bind(sqlx::types::Json(because))
        .execute(&mut *tx)
        .await
        .map_err(db_error("disabling the webhook endpoint"))?
        .rows_affected();
        if changed == 0 {
            return Ok(());
        }
        dead_letter_scheduled(
            tx,
            endpoint,
            &format!("the endpoint was disabled: {reason}"),
        )
        .await?;
        let url: String = db::query_scalar("SELECT url FROM webhook_endpoints WHERE id = $1")
            .bind(endpoint)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error("reading the disabled endpoint"))?;
        tracing::error!(%endpoint, %url, %reason, "webhook endpoint disabled");
        super::events::record(
            self.settings(),
            tx,
            "webhook.endpoint_disabled",
            None,
            Some(endpoint.0),
            &EndpointDisabled {
                endpoint_id: endpoint,
                url,
                reason,
                disabled_because: Some(because.clone()),
            },
        )
        .await?;
        Ok(())
    }
}

/// The payload of a `webhook.endpoint_disabled` event.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EndpointDisabled {
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Its URL.
    pub url: String,
    /// Why (410 Gone, failing since ...).
    pub reason: String,
    /// The same as data (absent from events recorded before it was added).
    #[serde(default)]
    pub disabled_because: Option<EndpointDisabledReason>,
}

/// Records the 2xx answers of a round in a few set-based statements: their receipts, the
/// messages delivered (each only if its lease is still the one this round took), and the
/// endpoints' failure records cleared. Returns how many messages it marked delivered.
async fn record_deliveries(
    tx: &mut DbTransaction,
    delivered: &[&(Lease, Answer)],
    at: DateTime<Utc>,
) -> Result<usize, AppError> {
    let mut marked = 0;
    for chunk in delivered.chunks(200) {
        let sql = format!(
            "INSERT INTO webhook_attempts (message_seq, attempt, started_at, url, status_code,
                 latency_ms, response_excerpt, error, outcome)
             VALUES {} ON CONFLICT (message_seq, attempt) DO NOTHING",
            db::values_list(chunk.len(), 9)
        );
        chunk
            .iter()
            .fold(db::query(sql), |row, (lease, answer)| {
                row.bind(lease.seq)
                    .bind(lease.attempt)
                    .bind(at)
                    .bind(lease.url.clone())
                    .bind(answer.status.map(i64::from))
                    .bind(answer.latency_ms)
                    .bind(answer.excerpt.clone())
                    .bind(None::<String>)
                    .bind(AttemptOutcome::Delivered)
            })
            .execute(&mut *tx)
            .await
            .map_err(db_error("storing delivery receipts"))?;
        // (seq, attempts) pairs: a message recovered as interrupted meanwhile (and leased
        // again) is not overwritten by this late answer; its receipt above is kept either way.
        let updated = chunk
            .iter()
            .fold(
                db::query(format!(
                    "UPDATE webhook_messages SET state = 'delivered', next_attempt_at = NULL,
                         lease_until = NULL, last_error = NULL, delivered_at = ${}
                     WHERE state = 'sending' AND (seq, attempts) IN (VALUES {})",
                    chunk.len() * 2 + 1,
                    db::values_list(chunk.len(), 2)
                )),
                |row, (lease, _)| row.bind(lease.seq).bind(lease.attempt),
            )
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_error("recording webhook deliveries"))?;
        marked += usize::try_from(updated.rows_affected()).unwrap_or(usize::MAX);
        let endpoints = db::distinct(chunk.iter().map(|(lease, _)| lease.endpoint_id));
        db::query(format!(
            "UPDATE webhook_endpoints SET failing_since = NULL
             WHERE failing_since IS NOT NULL AND id IN ({})",
            db::placeholders(1, endpoints.len())
        ))
        .bind_all(endpoints)
        .execute(&mut *tx)
        .await
        .map_err(db_error("clearing the endpoints' failures"))?;
    }
    if marked > 0 {
        tracing::debug!(messages = marked, "webhooks delivered");
    }
    Ok(marked)
}

async fn dead_letter_scheduled(
    tx: &mut DbTransaction,
    endpoint: WebhookEndpointId,
    reason: &str,
) -> Result<(), AppError> {
    db::query(
        "UPDATE webhook_messages SET state = 'dead_lettered', next_attempt_at = NULL, last_error = $2
         WHERE endpoint_id = $1 AND state = 'scheduled'",
    )
    .bind(endpoint)
    .bind(reason)
    .execute(&mut *tx)
    .await
    .map_err(db_error("dead-lettering the endpoint's messages"))?;
    Ok(())
}

async fn message_row(
    executor: impl db::Executor<'_>,
    id: WebhookMessageId,
) -> Result<MessageRow, AppError> {
    db::query_as::<MessageRow>(format!(
        "SELECT {MESSAGE_COLUMNS} FROM webhook_messages m WHERE m.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(db_error("reading a webhook message"))?
    .ok_or_else(|| AppError::not_found(format!("no webhook message with id {id}")))
}

/// Stores `secret` as the endpoint's current one, in `tx`.
async fn store_secret(
    tx: &mut DbTransaction,
    endpoint: WebhookEndpointId,
    secret: &str,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    db::query("INSERT INTO webhook_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)")
        .bind(endpoint)
        .bind(secret)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error("storing the webhook secret"))?;
    Ok(())
}

/// Refuses `action` on a disabled endpoint (409 `endpoint_disabled`).
fn require_enabled(endpoint: &EndpointRow, action: EndpointAction) -> Result<(), AppError> {
    if endpoint.enabled {
        return Ok(());
    }
    Err(AppError::conflict_with(Problem::EndpointDisabled {
        action,
    }))
}

/// Appends the owner's action to the activity log, in `tx`.
async fn log_activity<A: serde::Serialize>(
    tx: &mut DbTransaction,
    caller: &Caller,
    action: &str,
    entity_type: &str,
    entity_id: Option<uuid::Uuid>,
    after: &A,
) -> Result<(), AppError> {
    super::access::record(
        tx,
        caller,
        super::access::Activity {
            action,
            entity_type,
            entity_id: entity_id.map(|id| id.to_string()),
            studio_id: None,
            idempotency_key: None,
        },
        super::access::NOTHING,
        Some(after),
    )
    .await
}

/// The longest endpoint description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 200;

fn validate_description(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AppError::invalid(
            "description",
            FieldProblem::TooLong {
                max_chars: MAX_DESCRIPTION_CHARS,
            },
        ));
    }
    Ok(text.to_string())
}

fn validate_timeout(seconds: u32) -> Result<u32, AppError> {
    if (1..=MAX_TIMEOUT_SECS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(AppError::invalid(
            "timeout_secs",
            FieldProblem::TimeoutOutOfRange {
                max_secs: MAX_TIMEOUT_SECS,
            },
        ))
    }
}

/// POSTs one message: signed with every valid secret, bounded by the endpoint's timeout.
async fn attempt(
    client: &reqwest::Client,
    lease: &Lease,
    at: DateTime<Utc>,
    allowed: &AllowedDestinations,
) -> Answer {
    let started = Instant::now();
    let elapsed =
        |started: Instant| i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let failed = |error: String, started: Instant| Answer {
        status: None,
        latency_ms: elapsed(started),
        excerpt: None,
        error: Some(error),
        retry_after: None,
    };
    let id = webhook_id(lease.id);
    let timestamp = at.timestamp();
    let signature = match sign(&lease.secrets, &id, timestamp, lease.body.as_bytes()) {
        Ok(signature) if !signature.is_empty() => signature,
        Ok(_) => {
            return failed(
                "the endpoint has no valid signing secret; rotate it".into(),
                started,
            )
        }
        Err(error) => return failed(error, started),
    };
    // A literal address skips name resolution, so it is checked here.
    if let Some(host) = reqwest::Url::parse(&lease.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
    {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            if let Err(why) = allowed.check(ip) {
                return failed(why.to_string(), started);
            }
        }
    }
    let response = client
        .post(&lease.url)
        .timeout(lease.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(lease.body.clone())
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            let why = if error.is_timeout() {
                format!("no answer within {} s", lease.timeout.as_secs())
            } else if error.is_connect() {
                format!("cannot connect: {}", error_chain(&error))
            } else {
                format!("request failed: {}", error_chain(&error))
            };
            return failed(why, started);
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| retry_after(value, at));
    let mut excerpt: Vec<u8> = Vec::new();
    let mut body_error = None;
    let mut response = response;
    let remaining = lease.timeout.saturating_sub(started.elapsed());
    let read = tokio::time::timeout(remaining, async {
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    let room = EXCERPT_BYTES.saturating_sub(excerpt.len());
                    excerpt.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                Ok(None) => break,
                Err(error) => {
                    body_error = Some(format!(
                        "reading the answer failed: {}",
                        error_chain(&error)
                    ));
                    break;
                }
            }
        }
    })
    .await;
    let latency_ms = elapsed(started);
    let excerpt = Some(String::from_utf8_lossy(&excerpt).into_owned()).filter(|t| !t.is_empty());
    let error = match read {
        Ok(()) => body_error,
        Err(_elapsed) => Some(format!(
            "the answer's body did not arrive within {} s",
            lease.timeout.as_secs()
        )),
    };
    Answer {
        status: Some(status),
        latency_ms,
        excerpt,
        error: if (200..300).contains(&status) {
            None
        } else {
            error
        },
        retry_after,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Fans out new events and delivers due messages until `stop` resolves; a round under way when
/// it resolves is finished and recorded first (an attempt is never abandoned between its
/// request and its receipt, except by a crash, which the lease covers). Safe to run in several
/// server processes: every step runs under the write lock.
pub async fn run_worker(engine: Engine, stop: impl std::future::Future<Output = ()>) {
    use futures::FutureExt as _;
    let settings = engine.settings().webhooks.clone();
    let client = match webhook_client(&settings) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhooks are NOT delivered: no HTTP client");
            return;
        }
    };
    tokio::pin!(stop);
    let mut failures: u32 = 0;
    tracing::info!(allowed = ?settings.allowed_destinations, "webhook worker started");
    loop {
        let round = async {
            let mut busy = false;
            loop {
                let read = engine.dispatch_webhook_events().await?;
                busy |= read > 0;
                if read < usize::try_from(DISPATCH_BATCH).unwrap_or(usize::MAX) {
                    break;
                }
            }
            let delivered = engine.deliver_due_webhooks(&client, now()).await?;
            Ok::<bool, AppError>(busy || delivered.attempted > 0 || delivered.recovered > 0)
        }
        .await;
        let pause = match round {
            Ok(true) => {
                failures = 0;
                None
            }
            Ok(false) => {
                failures = 0;
                Some(settings.poll_interval)
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(%error, failures, "webhook round failed; nothing is lost, retrying");
                Some(Duration::from_millis(
                    (250u64 << failures.min(6)).min(15_000),
                ))
            }
        };
        match pause {
            Some(pause) => {
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            None => {
                if (&mut stop).now_or_never().is_some() {
                    break;
                }
            }
        }
    }
    tracing::info!("webhook worker stopped");
}
