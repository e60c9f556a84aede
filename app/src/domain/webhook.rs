//! Outbound webhooks (issue 7): the event types a subscriber can choose, the retry schedule, and
//! the delivery state machine of a message. One definition, compiled into the server (which
//! enforces it when it delivers and when an owner acts) and into the WASM portal page (which
//! offers only the legal actions and shows why the others are refused). Matches are exhaustive
//! with no `_` arm.
//!
//! A message is one event for one endpoint. Its states and every legal transition:
//!
//! | from | action | to |
//! |---|---|---|
//! | scheduled | lease (a worker takes it when due) | sending |
//! | sending | delivered (a 2xx answer) | delivered |
//! | sending | retry (a failed attempt with attempts left) | scheduled |
//! | sending | dead_letter (no attempt left, `410 Gone`, the endpoint disabled) | dead_lettered |
//! | sending | lease_expired (the worker stopped mid-attempt) | scheduled |
//! | scheduled | dead_letter (the endpoint was disabled) | dead_lettered |
//! | delivered, dead_lettered | resend (the owner asks again) | scheduled |
//! | dead_lettered | redrive (the owner replays the dead-letter queue) | scheduled |
//!
//! Everything else is refused with an explanation ("cannot resend: the message is waiting for
//! its next attempt"). Delivery is at least once: a message whose attempt was cut short is sent
//! again, with the same `webhook-id`, so receivers deduplicate on it (Standard Webhooks).

use super::ids::{WebhookEndpointId, WebhookMessageId};
use super::problem::FieldProblem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every event type a webhook endpoint can subscribe to, with what it means. A filter entry is
/// one of these or a prefix with `.*` (`payment.*`).
pub const EVENT_TYPES: [(&str, &str); 26] = [
    (
        "payout.created",
        "A payout was created (pending until committed).",
    ),
    (
        "payout.committed",
        "A payout was committed: its records are paid.",
    ),
    (
        "payout.finished",
        "An interrupted payout was finished (Finish payout).",
    ),
    (
        "payout.failed",
        "A payout failed; it needs Finish payout or cancelling.",
    ),
    (
        "payout.cancelled",
        "A failed payout was voided and its records released.",
    ),
    ("payment.created", "A draft payment was created by hand."),
    ("payment.submitted", "A payment was sent to its provider."),
    ("payment.authorized", "A payment was authorised."),
    ("payment.captured", "A payment was captured."),
    ("payment.failed", "A payment failed."),
    (
        "payment.cancelled",
        "A payment was cancelled before capture.",
    ),
    (
        "payment.partially_refunded",
        "Part of a payment was refunded.",
    ),
    ("payment.refunded", "A payment was refunded in full."),
    (
        "payment.settled",
        "The acquirer paid a payment out to the bank.",
    ),
    (
        "settlement.bank_file_created",
        "Scheduled bank payouts were collected into a pain.001 bank file (one event per file).",
    ),
    (
        "settlement.settled",
        "A bank statement (or a person) confirmed that a settlement item's money arrived.",
    ),
    (
        "settlement.failed",
        "The bank returned or rejected a bank payout; it waits for a person.",
    ),
    (
        "settlement.needs_reconciliation",
        "A settlement item disagrees with the bank statement; it waits for a person.",
    ),
    (
        "settlement.resolved",
        "A failed bank payout was resolved as paid, reissued or written off.",
    ),
    (
        "payment_event.parked",
        "A payment event could not be applied and waits for a person.",
    ),
    (
        "service_record.refunded",
        "A registered service was refunded.",
    ),
    ("till.opened", "A till was opened."),
    ("till.closed", "A till was closed (Z report)."),
    (
        "audit.finding",
        "An audit found ledger invariants broken (one message per run).",
    ),
    (
        "webhook.endpoint_disabled",
        "A webhook endpoint was disabled (410 Gone or failing too long).",
    ),
    (
        "webhook.test",
        "A test event sent from the portal (only to the endpoint it was sent to).",
    ),
];

/// The webhook event type of an entry in the event log (`events.kind`), or `None` for log
/// entries that are not delivered. The log calls an audit run with findings `audit.findings`;
/// subscribers know it as `audit.finding`.
pub fn webhook_event_type(kind: &str) -> Option<&'static str> {
    let kind = match kind {
        "audit.findings" => "audit.finding",
        other => other,
    };
    EVENT_TYPES
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == kind && *name != "webhook.test")
}

/// Checks an endpoint's event-type filter: each entry a known type or a known prefix with `.*`.
/// Returns the entries trimmed and without repeats, in the given order.
///
/// Errors: the first unknown entry, named, with the list of known types.
pub fn validate_event_filter(filter: &[String]) -> Result<Vec<String>, FieldProblem> {
    let mut accepted: Vec<String> = Vec::with_capacity(filter.len());
    for entry in filter {
        let entry = entry.trim();
        let known = match entry.strip_suffix(".*") {
            Some(prefix) => EVENT_TYPES
                .iter()
                .any(|(name, _)| name.split('.').next() == Some(prefix)),
            None => EVENT_TYPES.iter().any(|(name, _)| *name == entry),
        };
        if !known {
            return Err(FieldProblem::UnknownEventType {
                entry: entry.to_string(),
            });
        }
        if !accepted.iter().any(|a| a == entry) {
            accepted.push(entry.to_string());
        }
    }
    Ok(accepted)
}

/// Whether an endpoint with `filter` receives `event_type`: an empty filter takes every type.
pub fn filter_matches(filter: &[String], event_type: &str) -> bool {
    filter.is_empty()
        || filter.iter().any(|entry| match entry.strip_suffix(".*") {
            Some(prefix) => event_type
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => entry == event_type,
        })
}

/// The default delays between attempts, in seconds: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
/// (the schedule Standard Webhooks implementations use). Eight attempts in all, over about 28 h.
pub const DEFAULT_RETRY_SCHEDULE_SECS: [u32; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

/// The longest delay one step of a custom schedule may have (24 h, in seconds).
pub const MAX_RETRY_DELAY_SECS: u32 = 86_400;

/// The most retries a custom schedule may have.
pub const MAX_RETRIES: usize = 20;

/// Checks a custom retry schedule: 0 to [`MAX_RETRIES`] delays of 1 s to
/// [`MAX_RETRY_DELAY_SECS`]. An empty schedule means one attempt and no retry.
///
/// Errors: which rule the schedule breaks.
pub fn validate_retry_schedule(schedule: &[u32]) -> Result<(), FieldProblem> {
    if schedule.len() > MAX_RETRIES {
        return Err(FieldProblem::TooManyRetries { max: MAX_RETRIES });
    }
    if let Some(bad) = schedule
        .iter()
        .find(|delay| !(1..=MAX_RETRY_DELAY_SECS).contains(*delay))
    {
        return Err(FieldProblem::RetryDelayOutOfRange {
            delay: *bad,
            max_secs: MAX_RETRY_DELAY_SECS,
        });
    }
    Ok(())
}

/// The default time an attempt may take before it counts as failed (seconds).
pub const DEFAULT_TIMEOUT_SECS: u32 = 15;

/// The longest an endpoint may ask an attempt to wait (seconds).
pub const MAX_TIMEOUT_SECS: u32 = 30;

/// Delivery state of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum MessageState {
    /// Waiting for its first or next attempt (`next_attempt_at`).
    Scheduled,
    /// A worker is attempting it (until its lease runs out).
    Sending,
    /// The endpoint answered 2xx.
    Delivered,
    /// In the dead-letter queue: out of attempts, refused with `410 Gone`, or its endpoint was
    /// disabled. Waits for the owner to resend or redrive it.
    DeadLettered,
}

/// What happens to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageAction {
    /// A worker takes a due message.
    Lease,
    /// The endpoint answered 2xx.
    Delivered,
    /// An attempt failed and another is scheduled.
    Retry,
    /// No further attempt: out of attempts, `410 Gone`, or the endpoint disabled.
    DeadLetter,
    /// The worker stopped mid-attempt; the lease ran out.
    LeaseExpired,
    /// The owner sends the message again.
    Resend,
    /// The owner replays the dead-letter queue.
    Redrive,
}

/// A refused transition, with the explanation shown to the person who asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{explanation}")]
pub struct MessageRefusal {
    /// The message's state.
    pub from: MessageState,
    /// What was asked.
    pub action: MessageAction,
    /// Human explanation, e.g. "cannot resend: the message is being sent right now".
    pub explanation: String,
}

impl MessageState {
    /// Every state, for exhaustive tests and filters.
    pub const ALL: [MessageState; 4] = [
        MessageState::Scheduled,
        MessageState::Sending,
        MessageState::Delivered,
        MessageState::DeadLettered,
    ];

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Scheduled => "scheduled",
            MessageState::Sending => "sending",
            MessageState::Delivered => "delivered",
            MessageState::DeadLettered => "dead_lettered",
        }
    }

    /// The state after `action`, or why it is not allowed now.
    pub fn apply(self, action: MessageAction) -> Result<MessageState, MessageRefusal> {
        use MessageAction as A;
        use MessageState as S;
        let refuse = |why: &str| {
            Err(MessageRefusal {
                from: self,
                action,
                explanation: format!("cannot {}: {why}", action.verb()),
            })
        };
        match (self, action) {
            (S::Scheduled, A::Lease) => Ok(S::Sending),
            (S::Sending, A::Delivered) => Ok(S::Delivered),
            (S::Sending, A::Retry) | (S::Sending, A::LeaseExpired) => Ok(S::Scheduled),
            (S::Sending, A::DeadLetter) | (S::Scheduled, A::DeadLetter) => Ok(S::DeadLettered),
            (S::Delivered, A::Resend) | (S::DeadLettered, A::Resend) => Ok(S::Scheduled),
            (S::DeadLettered, A::Redrive) => Ok(S::Scheduled),
            (S::Scheduled, A::Resend) | (S::Scheduled, A::Redrive) => {
                refuse("the message is already waiting for its next attempt")
            }
            (S::Sending, A::Resend) | (S::Sending, A::Redrive) | (S::Sending, A::Lease) => {
                refuse("the message is being sent right now")
            }
            (S::Delivered, A::Redrive) => {
                refuse("the message was delivered; only dead-lettered messages are redriven (resend it instead)")
            }
            (S::Scheduled, A::Delivered)
            | (S::Scheduled, A::Retry)
            | (S::Scheduled, A::LeaseExpired)
            | (S::Delivered, A::Delivered)
            | (S::Delivered, A::Retry)
            | (S::Delivered, A::LeaseExpired)
            | (S::DeadLettered, A::Delivered)
            | (S::DeadLettered, A::Retry)
            | (S::DeadLettered, A::LeaseExpired) => refuse("no attempt of it is under way"),
            (S::Delivered, A::Lease) => refuse("the message was delivered already"),
            (S::DeadLettered, A::Lease) => {
                refuse("the message is in the dead-letter queue; resend or redrive it first")
            }
            (S::Delivered, A::DeadLetter) => refuse("the message was delivered already"),
            (S::DeadLettered, A::DeadLetter) => {
                refuse("the message is in the dead-letter queue already")
            }
        }
    }
}

impl MessageAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [MessageAction; 7] = [
        MessageAction::Lease,
        MessageAction::Delivered,
        MessageAction::Retry,
        MessageAction::DeadLetter,
        MessageAction::LeaseExpired,
        MessageAction::Resend,
        MessageAction::Redrive,
    ];

    /// The actions an owner may ask for (the others are the worker's).
    pub const BY_OWNER: [MessageAction; 2] = [MessageAction::Resend, MessageAction::Redrive];

    /// Verb for explanations ("cannot resend: ...").
    pub fn verb(self) -> &'static str {
        match self {
            MessageAction::Lease => "start an attempt",
            MessageAction::Delivered => "mark it delivered",
            MessageAction::Retry => "schedule a retry",
            MessageAction::DeadLetter => "dead-letter it",
            MessageAction::LeaseExpired => "recover an interrupted attempt",
            MessageAction::Resend => "resend",
            MessageAction::Redrive => "redrive",
        }
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum AttemptOutcome {
    /// 2xx: delivered.
    Delivered,
    /// Failed; another attempt is scheduled.
    Retry,
    /// Failed and no attempt is left (or `410 Gone`): the message is dead-lettered.
    DeadLettered,
    /// The worker stopped before it recorded the answer; the message is sent again.
    Interrupted,
}

impl AttemptOutcome {
    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::DeadLettered => "dead_lettered",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }
}

/// An endpoint as an owner registers it (`POST /api/v1/webhooks/endpoints`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEndpointRequest {
    /// Where events are POSTed: `https://` (or `http://`), no user or password in it. Private,
    /// loopback and link-local destinations are refused unless the server allows them.
    pub url: String,
    /// What it is for (up to 200 characters).
    #[serde(default)]
    pub description: String,
    /// Event types or prefixes (`payment.*`); empty or absent: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Deliver in event order: a message waits until the one before it is delivered or
    /// dead-lettered. Default false (each message is attempted independently).
    #[serde(default)]
    pub ordered: bool,
    /// Seconds between attempts; absent: [`DEFAULT_RETRY_SCHEDULE_SECS`].
    #[serde(default)]
    pub retry_schedule_secs: Option<Vec<u32>>,
    /// Seconds an attempt may take (1 ..= [`MAX_TIMEOUT_SECS`]); absent:
    /// [`DEFAULT_TIMEOUT_SECS`].
    #[serde(default)]
    pub timeout_secs: Option<u32>,
}

/// A change to an endpoint (`PATCH /api/v1/webhooks/endpoints/{id}`): absent fields stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEndpointUpdate {
    /// The version the change is based on: a stale one is refused with 409 and the current
    /// endpoint.
    pub expected_version: i64,
    /// New URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New filter (empty: every type).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Enable (clears the reason it was disabled) or disable (dead-letters its scheduled
    /// messages).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Ordered delivery.
    #[serde(default)]
    pub ordered: Option<bool>,
    /// New schedule; `[]` means no retry. To return to the default, send the default.
    #[serde(default)]
    pub retry_schedule_secs: Option<Vec<u32>>,
    /// New timeout.
    #[serde(default)]
    pub timeout_secs: Option<u32>,
}

/// Why a webhook endpoint was disabled, as data, so that the portal words it in the reader's
/// language (`disabled_reason` keeps the English for the API). JSON: `{"code": "gone"}`,
/// `{"code": "by_caller", "by": "owner@demo.test"}`, `{"code": "failing_too_long", "since":
/// "2026-12-01T08:00:00Z", "limit_hours": 72}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum EndpointDisabledReason {
    /// A person, an API key or the operator turned it off: their email, `API key 'name'` or
    /// `operator (label)`.
    ByCaller {
        /// Who.
        by: String,
    },
    /// The endpoint answered 410 Gone: it asks not to be called again.
    Gone,
    /// Every attempt failed for longer than the configured limit.
    FailingTooLong {
        /// Since when (UTC).
        since: DateTime<Utc>,
        /// The limit, in hours.
        limit_hours: i64,
    },
}

impl EndpointDisabledReason {
    /// English, for the API and the logs ("the endpoint answered 410 Gone").
    pub fn explanation(&self) -> String {
        match self {
            EndpointDisabledReason::ByCaller { by } => format!("disabled by {by}"),
            EndpointDisabledReason::Gone => "the endpoint answered 410 Gone".into(),
            EndpointDisabledReason::FailingTooLong { since, limit_hours } => format!(
                "every attempt has failed since {} (the limit is {limit_hours} hours)",
                since.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// An endpoint as the portal and the API show it (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    /// Id.
    pub id: WebhookEndpointId,
    /// Destination.
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Subscribed types (empty: every type).
    pub event_types: Vec<String>,
    /// Whether events are delivered to it.
    pub enabled: bool,
    /// Why it was disabled (`410 Gone`, failing since ..., by the owner).
    pub disabled_reason: Option<String>,
    /// The same as data, for a page to word in its reader's language (`None` while enabled,
    /// and for endpoints disabled before this was stored).
    #[serde(default)]
    pub disabled_because: Option<EndpointDisabledReason>,
    /// Ordered delivery.
    pub ordered: bool,
    /// Seconds between attempts.
    pub retry_schedule_secs: Vec<u32>,
    /// Seconds an attempt may take.
    pub timeout_secs: u32,
    /// Since when every attempt has failed (UTC); `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version (+1 on every change).
    pub version: i64,
    /// Messages per state: scheduled, sending, delivered, dead-lettered.
    pub message_counts: MessageCounts,
    /// Registered (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// How many of an endpoint's messages are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MessageCounts {
    /// Waiting for an attempt.
    pub scheduled: i64,
    /// Being attempted.
    pub sending: i64,
    /// Delivered.
    pub delivered: i64,
    /// In the dead-letter queue.
    pub dead_lettered: i64,
}

/// The signing secret of an endpoint (`whsec_` and base64 of 24 random bytes), shown when the
/// endpoint is created, when the secret is rotated, and on request to its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookSecret {
    /// The current secret: sign checks must accept it.
    pub secret: String,
    /// After a rotation, the previous secret keeps signing beside the new one until then (UTC),
    /// so receivers can switch without losing a message.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// A created endpoint with its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// Its signing secret.
    pub secret: WebhookSecret,
}

/// One event for one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookMessage {
    /// Id.
    pub id: WebhookMessageId,
    /// The `webhook-id` header: the same on every attempt, for the receiver's deduplication.
    pub webhook_id: String,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event log entry it carries (`None` for a test event).
    pub event_id: Option<i64>,
    /// Event type.
    pub event_type: String,
    /// Delivery state.
    pub state: MessageState,
    /// Attempts made in all.
    pub attempts: i64,
    /// When the next attempt is due (scheduled messages; UTC).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The body sent: `{"type", "timestamp", "data"}`.
    pub payload: serde_json::Value,
    /// Written (UTC).
    pub created_at: DateTime<Utc>,
    /// Delivered (UTC).
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery receipt: one attempt, whatever its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookAttempt {
    /// 1 for the first attempt of the message.
    pub attempt: i64,
    /// When it started (UTC).
    pub started_at: DateTime<Utc>,
    /// The URL it went to.
    pub url: String,
    /// HTTP status, when an answer came.
    pub status_code: Option<i64>,
    /// Milliseconds until the answer (or the failure).
    pub latency_ms: Option<i64>,
    /// The first bytes of the answer's body (up to 1 KiB, as text).
    pub response_excerpt: Option<String>,
    /// What went wrong (connection, timeout, status, refused destination).
    pub error: Option<String>,
    /// How it ended.
    pub outcome: AttemptOutcome,
}

/// A message with its delivery receipts, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookMessageDetail {
    /// The message.
    pub message: WebhookMessage,
    /// Every attempt.
    pub attempts: Vec<WebhookAttempt>,
}

/// The `webhook-id` of a message: `msg_` and the id's 32 hex digits.
pub fn webhook_id(id: WebhookMessageId) -> String {
    format!("msg_{}", id.0.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_is_enumerated_and_the_refusals_explain() {
        let mut legal = Vec::new();
        for from in MessageState::ALL {
            for action in MessageAction::ALL {
                match from.apply(action) {
                    Ok(to) => legal.push((from, action, to)),
                    Err(refusal) => {
                        assert_eq!(refusal.from, from);
                        assert!(
                            refusal.explanation.starts_with("cannot "),
                            "{}",
                            refusal.explanation
                        );
                    }
                }
            }
        }
        use MessageAction as A;
        use MessageState as S;
        assert_eq!(
            legal,
            vec![
                (S::Scheduled, A::Lease, S::Sending),
                (S::Scheduled, A::DeadLetter, S::DeadLettered),
                (S::Sending, A::Delivered, S::Delivered),
                (S::Sending, A::Retry, S::Scheduled),
                (S::Sending, A::DeadLetter, S::DeadLettered),
                (S::Sending, A::LeaseExpired, S::Scheduled),
                (S::Delivered, A::Resend, S::Scheduled),
                (S::DeadLettered, A::Resend, S::Scheduled),
                (S::DeadLettered, A::Redrive, S::Scheduled),
            ]
        );
    }

    #[test]
    fn filters_take_exact_types_and_prefixes_and_refuse_unknown_ones() {
        let filter = validate_event_filter(&[
            " payout.committed ".into(),
            "payment.*".into(),
            "payout.committed".into(),
        ])
        .unwrap();
        assert_eq!(filter, vec!["payout.committed", "payment.*"]);
        assert!(filter_matches(&filter, "payout.committed"));
        assert!(filter_matches(&filter, "payment.captured"));
        assert!(!filter_matches(&filter, "payment_event.parked"));
        assert!(!filter_matches(&filter, "payout.failed"));
        assert!(filter_matches(&[], "payout.failed"));
        let error = validate_event_filter(&["payout.comitted".into()]).unwrap_err();
        assert_eq!(
            error,
            FieldProblem::UnknownEventType {
                entry: "payout.comitted".into()
            }
        );
        assert!(
            error
                .explanation("event_types")
                .starts_with("'payout.comitted' is not an event type; known: "),
            "{error:?}"
        );
        assert!(validate_event_filter(&["nothing.*".into()]).is_err());
    }

    #[test]
    fn the_event_log_maps_to_webhook_types() {
        assert_eq!(webhook_event_type("audit.findings"), Some("audit.finding"));
        assert_eq!(
            webhook_event_type("payout.committed"),
            Some("payout.committed")
        );
        assert_eq!(webhook_event_type("webhook.test"), None);
        assert_eq!(webhook_event_type("something.internal"), None);
    }

    #[test]
    fn retry_schedules_are_bounded() {
        assert!(validate_retry_schedule(&DEFAULT_RETRY_SCHEDULE_SECS).is_ok());
        assert!(validate_retry_schedule(&[]).is_ok());
        assert!(validate_retry_schedule(&[0]).is_err());
        assert!(validate_retry_schedule(&[MAX_RETRY_DELAY_SECS + 1]).is_err());
        assert!(validate_retry_schedule(&[1; MAX_RETRIES + 1]).is_err());
    }
}
