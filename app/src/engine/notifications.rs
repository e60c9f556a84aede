//! Telegram alerts through a transactional outbox.
//!
//! Rules (who hears what): the owner's chats get a message when an audit finds something
//! (`audit.findings`), a payout fails (`payout.failed`) or the bank returns a bank payout
//! (`settlement.failed`); an employee with a chat id gets one when
//! their payout is committed (`payout.committed`, `payout.finished`), never before. A clean audit
//! writes no event, so it says nothing.
//!
//! [`enqueue`] writes the message rows in the same transaction as the event; [`run_worker`]
//! delivers them with the Bot API's `sendMessage`: retries with exponential backoff and jitter
//! (the `backon` crate's schedule) on a refused connection or a 5xx, waits exactly
//! `parameters.retry_after` on a 429, and never re-sends a message whose fate is unknown (a
//! timeout, or a crash while sending): those are marked `unknown` for the owner to check, so a
//! message is sent at most once per event and recipient, even across restarts.
//!
//! The bot token is a [`BotToken`]: its `Debug` and `Display` print `***`, and transport errors
//! are logged without their URL (which contains the token).

use super::db::{self, DbTransaction};
use super::{db_error, now, Engine};
use crate::domain::*;
use backon::BackoffBuilder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A Telegram bot token. Never printed: `Debug` and `Display` show `***`.
#[derive(Clone)]
pub struct BotToken(String);

impl BotToken {
    /// Wraps a token (from configuration).
    pub fn new(token: String) -> BotToken {
        BotToken(token)
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Telegram configuration. Without it no message rows are written.
#[derive(Clone, Debug)]
pub struct TelegramSettings {
    /// The bot's token.
    pub bot_token: BotToken,
    /// Bot API base URL; `https://api.telegram.org` in production, a local fake in tests.
    pub api_base: String,
    /// The owner's chat ids (audit findings, failed payouts).
    pub owner_chat_ids: Vec<String>,
    /// How often the worker looks for due messages.
    pub poll_interval: Duration,
    /// Bound on one `sendMessage` call (a timeout makes the message `unknown`).
    pub request_timeout: Duration,
    /// Attempts before a retryable failure becomes `failed`.
    pub max_attempts: i64,
    /// First retry delay; later ones grow exponentially (with jitter) up to one hour.
    pub first_retry: Duration,
}

impl TelegramSettings {
    /// Production defaults for `token` and `owner_chat_ids`.
    pub fn new(bot_token: BotToken, owner_chat_ids: Vec<String>) -> TelegramSettings {
        TelegramSettings {
            bot_token,
            api_base: "https://api.telegram.org".into(),
            owner_chat_ids,
            poll_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(15),
            max_attempts: 8,
            first_retry: Duration::from_secs(5),
        }
    }
}

/// Delivery state of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// An attempt is under way.
    Sending,
    /// Telegram accepted it.
    Sent,
    /// Telegram refused it, or every attempt failed; `last_error` says why.
    Failed,
    /// A timeout or crash during sending: it may have arrived. Never re-sent automatically.
    Unknown,
}

impl DeliveryState {
    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Unknown => "unknown",
        }
    }
}

/// A message as the owner page and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Outbox id.
    pub id: i64,
    /// The event that caused it.
    pub event_id: i64,
    /// "owner" or "employee".
    pub audience: String,
    /// Chat id.
    pub recipient: String,
    /// The message.
    pub text: String,
    /// Delivery state.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (for pending messages).
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Written (UTC).
    pub created_at: DateTime<Utc>,
    /// Accepted by Telegram (UTC).
    pub sent_at: Option<DateTime<Utc>>,
}

/// Writes the messages an event causes (by the rules above), inside the event's transaction.
/// Does nothing when Telegram is not configured.
pub async fn enqueue(
    tx: &mut DbTransaction,
    settings: Option<&TelegramSettings>,
    event_id: i64,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<(), AppError> {
    let Some(settings) = settings else {
        return Ok(());
    };
    // The payload is the typed value the event was recorded with; read it back as that type,
    // so a malformed event fails loudly instead of producing a message with blanks in it.
    fn typed<T: serde::de::DeserializeOwned>(
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<T, AppError> {
        serde_json::from_value(payload.clone()).map_err(|error| {
            tracing::error!(%error, kind, "an event payload does not have its kind's shape");
            AppError::Internal {
                message: format!(
                    "the {kind} event cannot be read for its alert; it is logged on the server"
                ),
            }
        })
    }
    let mut messages: Vec<(&str, String, String)> = Vec::new();
    match kind {
        "audit.findings" => {
            let text = audit_text(&typed::<AuditReport>(kind, payload)?);
            for chat in &settings.owner_chat_ids {
                messages.push(("owner", chat.clone(), text.clone()));
            }
        }
        "payout.failed" => {
            let payout: Payout = typed(kind, payload)?;
            let text = format!(
                "⚠️ The payout to {} ({}) failed while {}: {}. Open Payout Engine and click Finish payout.",
                payout.employee_name,
                payout.expected_total,
                payout.failed_phase.map_or("running", PayoutPhase::describe),
                payout.error.as_deref().unwrap_or("no error was recorded"),
            );
            for chat in &settings.owner_chat_ids {
                messages.push(("owner", chat.clone(), text.clone()));
            }
        }
        "settlement.failed" => {
            let item: SettlementItem = typed(kind, payload)?;
            let text = format!(
                "⚠️ The bank transfer of {} to {} failed: {}. It will not be sent again by itself: open Settlements in Payout Engine, record what the bank says, then resolve it (paid, reissue or write off).",
                item.amount,
                item.counterparty,
                item.reason.as_deref().unwrap_or("the bank gave no reason"),
            );
            for chat in &settings.owner_chat_ids {
                messages.push(("owner", chat.clone(), text.clone()));
            }
        }
        "webhook.endpoint_disabled" => {
            let disabled: super::webhooks::EndpointDisabled = typed(kind, payload)?;
            let text = format!(
                "⚠️ The webhook endpoint {} was disabled: {}. Its waiting messages are in the dead-letter queue. Open Webhooks in Payout Engine to enable it again and redrive them.",
                disabled.url, disabled.reason
            );
            for chat in &settings.owner_chat_ids {
                messages.push(("owner", chat.clone(), text.clone()));
            }
        }
        "payout.committed" | "payout.finished" => {
            let payout: Payout = typed(kind, payload)?;
            let chat: Option<Option<String>> =
                db::query_scalar("SELECT telegram_chat_id FROM employees WHERE id = $1")
                    .bind(payout.employee_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error("looking up the employee's chat"))?;
            if let Some(Some(chat)) = chat.filter(|c| c.as_deref().is_some_and(|c| !c.is_empty())) {
                messages.push((
                    "employee",
                    chat,
                    format!(
                        "Your payout of {} for {} to {} is committed ({} records).",
                        payout.total, payout.period_start, payout.period_end, payout.record_count
                    ),
                ));
            }
        }
        _ => {}
    }
    let at = now();
    for (audience, recipient, text) in messages {
        db::query(
            "INSERT INTO notifications (dedupe_key, event_id, channel, audience, recipient, text, state,
                                        next_attempt_at, created_at)
             VALUES ($1, $2, 'telegram', $3, $4, $5, 'pending', $6, $6)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(format!("event:{event_id}:{audience}:{recipient}"))
        .bind(event_id)
        .bind(audience)
        .bind(&recipient)
        .bind(&text)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error("queueing a Telegram message"))?;
    }
    Ok(())
}

/// "⚠️ Audit found 3 problems, CHF 123.45 at stake:" and the five largest findings.
fn audit_text(report: &AuditReport) -> String {
    let findings = &report.findings;
    let mut text = format!(
        "⚠️ Audit found {} problem{}, {} at stake:",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        report.run.amount_at_stake
    );
    for finding in findings.iter().take(5) {
        text.push_str(&format!(
            "\n• {} ({})",
            finding.message, finding.amount_at_stake
        ));
    }
    if findings.len() > 5 {
        text.push_str(&format!(
            "\n… and {} more on the audit page.",
            findings.len() - 5
        ));
    }
    text
}

/// The Bot API's answer (the fields we read).
#[derive(Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
struct BotAnswer {
    ok: bool,
    description: Option<String>,
    parameters: Option<BotParameters>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
struct BotParameters {
    retry_after: Option<u64>,
}

/// What one attempt concluded.
enum Outcome {
    Sent,
    /// Try again at this time.
    Retry(DateTime<Utc>, String),
    Failed(String),
    Unknown(String),
}

/// Delivers due messages until `shutdown` resolves; a message claimed when it resolves is
/// attempted and recorded first (never abandoned mid-send). Safe to run in several server
/// processes at once: see [`deliver_due`].
pub async fn run_worker(engine: Engine, shutdown: impl std::future::Future<Output = ()>) {
    let Some(settings) = engine.settings().telegram.clone() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error.without_url(), "cannot build the Telegram HTTP client; alerts are NOT delivered");
            return;
        }
    };
    tracing::info!(api_base = %settings.api_base, owner_chats = settings.owner_chat_ids.len(), "Telegram alert worker started");
    tokio::pin!(shutdown);
    loop {
        if let Err(error) = deliver_due(&engine, &settings, &client).await {
            tracing::error!(%error, "Telegram delivery round failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_interval) => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("Telegram alert worker stopped");
}

/// Messages one delivery round claims (and so the most a crashed process leaves `unknown`).
const CLAIM_BATCH: i64 = 10;

/// Claims due messages (at most [`CLAIM_BATCH`]) and attempts each once.
///
/// Several processes may run this at once: a claim is a lease (`claimed_until`, long enough to
/// attempt the whole batch), taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one
/// writer), so each message is claimed by one process. First, messages whose lease ran out while
/// `sending` (their process died mid-send) are marked `unknown`: they may have arrived, and at
/// most once beats twice.
pub async fn deliver_due(
    engine: &Engine,
    settings: &TelegramSettings,
    client: &reqwest::Client,
) -> Result<usize, AppError> {
    let at = now();
    let abandoned = db::query(
        "UPDATE notifications SET state = 'unknown', claimed_until = NULL,
             last_error = 'the server stopped while sending it; Telegram may or may not have delivered it'
         WHERE state = 'sending' AND (claimed_until IS NULL OR claimed_until < $1)",
    )
    .bind(at)
    .execute(engine.pool())
    .await
    .map_err(db_error("recovering interrupted Telegram messages"))?;
    if abandoned.rows_affected() > 0 {
        tracing::warn!(
            messages = abandoned.rows_affected(),
            "Telegram messages interrupted by a stopped server are marked unknown, not re-sent"
        );
    }
    let lease = settings.request_timeout * u32::try_from(CLAIM_BATCH).unwrap_or(10)
        + std::time::Duration::from_secs(60);
    let claimed_until =
        at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
    let claimed: Vec<(i64, String, String, i64)> = db::query_as(format!(
        "UPDATE notifications SET state = 'sending', attempts = attempts + 1, claimed_until = $2
         WHERE state = 'pending'
           AND id IN (SELECT id FROM notifications WHERE state = 'pending' AND next_attempt_at <= $1
                      ORDER BY id LIMIT $3 {skip_locked})
         RETURNING id, recipient, text, attempts",
        skip_locked = engine.backend().for_update_skip_locked(),
    ))
    .bind(at)
    .bind(claimed_until)
    .bind(CLAIM_BATCH)
    .fetch_all(engine.pool())
    .await
    .map_err(db_error("claiming due Telegram messages"))?;
    for (id, recipient, text, attempts) in &claimed {
        let outcome = attempt(settings, client, recipient, text, *attempts).await;
        let (state, next, error, sent_at) = match outcome {
            Outcome::Sent => (DeliveryState::Sent, now(), None, Some(now())),
            Outcome::Retry(at, why) => (DeliveryState::Pending, at, Some(why), None),
            Outcome::Failed(why) => (DeliveryState::Failed, now(), Some(why), None),
            Outcome::Unknown(why) => (DeliveryState::Unknown, now(), Some(why), None),
        };
        match state {
            DeliveryState::Sent => tracing::info!(notification = id, "Telegram message sent"),
            DeliveryState::Pending => {
                tracing::warn!(notification = id, attempts, error = ?error, retry_at = %next, "Telegram message will be retried")
            }
            DeliveryState::Failed | DeliveryState::Unknown | DeliveryState::Sending => {
                tracing::error!(notification = id, attempts, state = ?state, error = ?error, "Telegram message not delivered")
            }
        }
        db::query(
            "UPDATE notifications SET state = $2, next_attempt_at = $3, last_error = $4, sent_at = $5,
                 claimed_until = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(sent_at)
        .execute(engine.pool())
        .await
        .map_err(db_error("recording a Telegram delivery"))?;
    }
    Ok(claimed.len())
}

async fn attempt(
    settings: &TelegramSettings,
    client: &reqwest::Client,
    chat: &str,
    text: &str,
    attempts: i64,
) -> Outcome {
    let url = format!(
        "{}/bot{}/sendMessage",
        settings.api_base.trim_end_matches('/'),
        settings.bot_token.0
    );
    let retry_later = |why: String| {
        if attempts >= settings.max_attempts {
            return Outcome::Failed(format!("{why} (gave up after {attempts} attempts)"));
        }
        let delay = backon::ExponentialBuilder::default()
            .with_min_delay(settings.first_retry)
            .with_max_delay(Duration::from_secs(3600))
            .with_jitter()
            .without_max_times()
            .build()
            .nth(usize::try_from(attempts.saturating_sub(1)).unwrap_or(0))
            .unwrap_or(Duration::from_secs(3600));
        Outcome::Retry(
            // `delay` is at most the hour above, far inside chrono's range: `from_std` cannot
            // fail here.
            now() + chrono::Duration::from_std(delay).unwrap_or_default(),
            why,
        )
    };
    let response = client
        .post(url)
        .json(&serde_json::json!({ "chat_id": chat, "text": text }))
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        // Never log the URL: it carries the bot token.
        Err(error) if error.is_connect() => {
            return retry_later(format!("cannot reach Telegram: {}", error.without_url()))
        }
        Err(error) => {
            return Outcome::Unknown(format!(
                "no answer from Telegram ({}); it may have been delivered",
                error.without_url()
            ))
        }
    };
    let status = response.status();
    let answer: Option<BotAnswer> = match response.json::<BotAnswer>().await {
        Ok(answer) => Some(answer),
        Err(error) => {
            tracing::warn!(error = %error.without_url(), %status, "unreadable Telegram answer");
            None
        }
    };
    let description = answer
        .as_ref()
        .and_then(|a| a.description.clone())
        .unwrap_or_else(|| status.to_string());
    if status.is_success() && answer.as_ref().is_some_and(|a| a.ok) {
        return Outcome::Sent;
    }
    if status.as_u16() == 429 {
        let wait = answer
            .and_then(|a| a.parameters)
            .and_then(|p| p.retry_after)
            .unwrap_or(30);
        return Outcome::Retry(
            now() + chrono::Duration::seconds(i64::try_from(wait).unwrap_or(30)),
            format!("rate limited by Telegram: retry after {wait} s"),
        );
    }
    if status.is_server_error() {
        return retry_later(format!("Telegram answered {status}: {description}"));
    }
    Outcome::Failed(format!(
        "Telegram refused the message ({status}): {description}"
    ))
}

impl Engine {
    /// The latest messages (newest first, at most `limit`, clamped to 1..=500), optionally in
    /// one state: the owner page shows failed and unknown ones.
    ///
    /// Recipients (Telegram chat ids, personal data) are masked to their last 4 characters.
    ///
    /// Errors: 403 unless the caller may read the alert messages.
    pub async fn notifications(
        &self,
        caller: &super::access::Caller,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<Notification>, AppError> {
        caller.require(crate::domain::Permission::ReadNotifications)?;
        let messages = db::query_as::<Notification>(
            "SELECT id, event_id, audience, recipient, text, state, attempts, next_attempt_at, last_error,
                    created_at, sent_at
             FROM notifications WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(state)
        .bind(limit.clamp(1, 500))
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing Telegram messages"))?;
        Ok(messages
            .into_iter()
            .map(|message| Notification {
                recipient: crate::domain::mask_personal(&message.recipient),
                ..message
            })
            .collect())
    }
}
