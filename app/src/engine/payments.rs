//! Payments from card terminals and payment providers (issue 6): idempotent ingestion into a
//! durable inbox, a worker that applies the inbox in delivery order with exactly-once effect,
//! operator actions with optimistic concurrency, and the ledger transfers every money movement
//! posts.
//!
//! Ingestion only stores: each event gets a deterministic key ([`payment_event_key`]); the first
//! delivery is accepted (`INSERT .. ON CONFLICT DO NOTHING`), a redelivery with the same content
//! is acknowledged as a duplicate, the same key with other content is rejected. The answer comes
//! as soon as the row is committed (fast acknowledge).
//!
//! The worker ([`Engine::process_payment_inbox`]) claims the oldest received events (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, so several workers share the inbox), loads their payments, applies
//! each event with the shared state machine ([`PaymentBook::apply`]) in memory, and writes the
//! outcome back set-based in the same transaction: payments (upsert), ledger transfers and
//! postings, outbox events, and the events' new status. On SQLite, whose one writer ingestion
//! and the worker share, the round is read and decided on a reader's snapshot and its statements
//! built before the writer's turn; under the turn it is written only if the payment state's epoch
//! (raised by every change of a payment or an event's status) is still the snapshot's, and
//! decided again under the turn otherwise. An event that cannot apply is parked with
//! the refusal as its reason and retried whenever its payment changes (so a capture that
//! overtook its authorisation applies once the authorisation arrives); it is never dropped.
//! Exactly-once effect: an event leaves `received` in the same transaction as its effect, each
//! transfer's id is derived from its event's key (a replay cannot post twice), and writers are
//! serialised ([`Engine::begin_write`]), so events of one payment apply in delivery order on any
//! number of server instances.

use super::access::{self, Activity, Caller};
use super::db::{self, DbTransaction, Executor as _};
use super::idempotency::{self, Claim, IdempotencyKey};
use super::{business_date, db_error, now, Engine};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Idempotency operation name of an operator's payment action.
pub const PAYMENT_ACTION: &str = "payment_action";
/// Idempotency operation name of creating a draft payment.
pub const CREATE_PAYMENT: &str = "create_payment";
/// Largest amount of one event: CHF 1 million, in Rappen.
pub const MAX_PAYMENT_AMOUNT: i64 = 100_000_000;
/// Events the worker takes from the inbox in a round when it has caught up: small rounds keep
/// the one writer free for ingestion and payouts. See [`RoundSize`].
pub const INBOX_BATCH: usize = 500;
/// Most events the worker takes in one round while it works off a backlog. Measured with the
/// replay (200,000 events, SQLite, medians of 3, 2026-12-05): rounds of 500 / 2,000 / 5,000
/// applied everything in 14.5 / 12.9 / 12.5 s and wrote 3.4 / 2.6 / 2.6 GB: a larger round
/// writes each page of the ledger's and the payments' indexes once for many events. Since the
/// worker decides its rounds outside the writer's turn (2026-12-06), rounds of up to 10,000 are
/// faster again at 1.2 million events (docs/replay.md). A round of 10,000 holds the writer for a
/// few hundred milliseconds, the most a payout or an ingestion group then waits.
pub const INBOX_BATCH_MAX: usize = 10_000;

/// How many events the inbox worker takes in its next round: [`INBOX_BATCH`] at first, doubled
/// after every full round (a backlog) up to a cap ([`INBOX_BATCH_MAX`] for the server's worker),
/// and back to [`INBOX_BATCH`] after a round that was not full (caught up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundSize {
    next: usize,
    max: usize,
}

impl RoundSize {
    /// Rounds of at most `max` events (at least 1); the first takes `min(INBOX_BATCH, max)`.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        RoundSize {
            next: INBOX_BATCH.min(max),
            max,
        }
    }

    /// The events to take in the next round.
    pub fn next(&self) -> usize {
        self.next
    }

    /// Adjusts after a round that took `taken` events (of [`next`](Self::next) asked).
    pub fn after(&mut self, taken: usize) {
        self.next = if taken >= self.next {
            self.next.saturating_mul(2).min(self.max)
        } else {
            INBOX_BATCH.min(self.max)
        };
    }
}

/// The deterministic idempotency key of a provider event: `pe_` and the first 128 bits of
/// SHA-256 over provider, payment id, event type and `occurred_at` (RFC 3339, UTC, milliseconds),
/// as 32 lowercase hex digits. A redelivery of the same event always has the same key, whoever
/// delivers it; two events differ in at least one of these four.
///
/// The inbox is unique on `(occurred_at, event_key)`, not on the key alone: the key determines
/// `occurred_at` (stored to the millisecond, as hashed here), so the pair is unique exactly when
/// the key is, and the index grows at its time-ordered end instead of on a random page per event
/// (migration `20261207000001_payment_event_key_by_time`).
pub fn payment_event_key(
    provider: &str,
    provider_payment_id: &str,
    event_type: PaymentAction,
    occurred_at: DateTime<Utc>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        provider,
        provider_payment_id,
        event_type.as_str(),
        &occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("pe_{}", hex::encode(&digest[..16]))
}

/// A UUID derived from `text` (the first 128 bits of its SHA-256, as a version-8 UUID): the id
/// of a transfer caused by an event, so applying the event twice can never post twice.
fn derived_id(text: &str) -> uuid::Uuid {
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A validated event, ready for the inbox.
#[derive(Clone, Debug)]
struct NewEvent {
    key: String,
    studio_id: StudioId,
    provider: String,
    provider_payment_id: String,
    event_type: PaymentAction,
    amount: i64,
    occurred_at: DateTime<Utc>,
}

/// What storing one event in the inbox came to, in delivery order (see
/// [`Engine::store_events`]).
#[derive(Clone, Debug)]
enum Stored {
    /// New: stored with this sequence number.
    Accepted(i64),
    /// Received before (or earlier in the same group) with the same studio and amount.
    Duplicate(i64),
    /// Received before with another studio or amount: a provider event never changes.
    Conflict(i64),
    /// No such studio.
    UnknownStudio(StudioId),
    /// Neither stored nor found: a bug, logged.
    Lost,
}

impl Stored {
    fn into_result(self, index: usize, key: String) -> IngestResult {
        let stored = |outcome, sequence| IngestResult {
            index,
            outcome,
            event_key: Some(key.clone()),
            sequence: Some(sequence),
            error: None,
        };
        match self {
            Stored::Accepted(seq) => stored(IngestOutcome::Accepted, seq),
            Stored::Duplicate(seq) => stored(IngestOutcome::Duplicate, seq),
            Stored::Conflict(seq) => {
                let mut result = rejected(
                    index,
                    Some(key.clone()),
                    &AppError::conflict(
                        "event_key_conflict",
                        format!(
                            "event {key} was already received (sequence {seq}) with another studio or amount; a provider event never changes"
                        ),
                    ),
                );
                result.sequence = Some(seq);
                result
            }
            Stored::UnknownStudio(studio) => rejected(
                index,
                Some(key.clone()),
                &AppError::not_found(format!("no studio with id {studio}")),
            ),
            Stored::Lost => {
                tracing::error!(%key, "a stored payment event cannot be found");
                rejected(
                    index,
                    Some(key.clone()),
                    &AppError::Internal {
                        message:
                            "the event was neither stored nor found; it is logged on the server"
                                .into(),
                    },
                )
            }
        }
    }
}

/// Most events one group commit stores (see [`Engine::store_in_next_group`]); a request's own
/// events are never split.
const MAX_GROUP_EVENTS: usize = 2_000;

/// One request's events, waiting for the next group commit, and where its answer goes.
struct IngestJob {
    events: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Stored>, AppError>>,
}

/// Group commit of the inbox: requests that arrive while a transaction is storing events wait
/// together and are stored by the next one, so 64 clients delivering one event each cost a few
/// transactions instead of 64 queued behind one another (SQLite has one writer; on PostgreSQL
/// each commit waits for its WAL flush).
///
/// One task at a time (the committer, see [`Engine::store_in_next_group`]) stores the waiting
/// requests' events, group after group, until none is waiting; a request only queues its events
/// and waits for its own answer, so it is woken once, when its group has committed.
#[derive(Default)]
pub(crate) struct IngestGroup {
    queue: std::sync::Mutex<IngestQueue>,
}

/// The requests waiting for a group commit, and whether a committer task is running.
#[derive(Default)]
struct IngestQueue {
    waiting: std::collections::VecDeque<IngestJob>,
    committer_running: bool,
}

impl IngestQueue {
    /// The next group: the oldest waiting requests, up to [`MAX_GROUP_EVENTS`] events (a
    /// request's own events are never split, so a large one forms a group alone).
    fn next_group(&mut self) -> Vec<IngestJob> {
        let mut events = 0;
        let take = self
            .waiting
            .iter()
            .take_while(|job| {
                let first = events == 0;
                events += job.events.len();
                first || events <= MAX_GROUP_EVENTS
            })
            .count();
        self.waiting.drain(..take).collect()
    }
}

/// Ends the committer's turn however it ends: on a panic, the requests still waiting are
/// answered with an error (their answer channels close) instead of waiting for a committer that
/// is gone, and the next request starts a new one.
struct CommitterTurn {
    group: Arc<IngestGroup>,
    /// Set when the turn ended normally (nothing waiting, `committer_running` already cleared).
    done: bool,
}

impl Drop for CommitterTurn {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut queue = self
            .group
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.committer_running = false;
        if !queue.waiting.is_empty() {
            tracing::error!(
                requests = queue.waiting.len(),
                "the payment events' committer stopped with requests waiting; they are answered with an error"
            );
            queue.waiting.clear();
        }
    }
}

/// Checks one event at the boundary.
///
/// Errors (422, naming the field): provider not 1 to 40 of `a-z 0-9 _ -`; payment id not 1 to
/// 100 printable ASCII; amount outside 0 ..= [`MAX_PAYMENT_AMOUNT`]; currency not CHF.
fn validate(event: &PaymentEventRequest) -> Result<NewEvent, AppError> {
    let provider = event.provider.trim();
    if provider.is_empty()
        || provider.len() > 40
        || !provider
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(AppError::validation(
            "provider",
            "the provider must be 1 to 40 characters of a-z, 0-9, '_' and '-'",
        ));
    }
    let payment_id = event.provider_payment_id.trim();
    if payment_id.is_empty()
        || payment_id.len() > 100
        || !payment_id.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(AppError::validation(
            "provider_payment_id",
            "the provider's payment id must be 1 to 100 printable ASCII characters",
        ));
    }
    if !(0..=MAX_PAYMENT_AMOUNT).contains(&event.amount) {
        return Err(AppError::validation(
            "amount",
            format!(
                "the amount must be 0 to {} Rappen (CHF 1,000,000.00)",
                MAX_PAYMENT_AMOUNT
            ),
        ));
    }
    if event.currency.trim() != CURRENCY {
        return Err(AppError::validation(
            "currency",
            format!("only CHF is accepted, not '{}'", event.currency),
        ));
    }
    // Stored exactly as the key sees it (to the millisecond): the inbox's unique index is
    // (occurred_at, event_key), as strong as the key alone only while a key always comes with
    // the same stored instant.
    let occurred_at = DateTime::from_timestamp_millis(event.occurred_at.timestamp_millis())
        .ok_or_else(|| {
            AppError::validation("occurred_at", "the time is out of the supported range")
        })?;
    Ok(NewEvent {
        key: payment_event_key(provider, payment_id, event.event_type, occurred_at),
        studio_id: event.studio_id,
        provider: provider.to_string(),
        provider_payment_id: payment_id.to_string(),
        event_type: event.event_type,
        amount: event.amount,
        occurred_at,
    })
}

fn rejected(index: usize, key: Option<String>, error: &AppError) -> IngestResult {
    IngestResult {
        index,
        outcome: IngestOutcome::Rejected,
        event_key: key,
        sequence: None,
        error: Some(IngestError {
            code: error.code().to_string(),
            message: error.to_string(),
            field: error.field().map(str::to_string),
        }),
    }
}

/// A payment row as the worker and the operator actions read and write it.
#[derive(Clone, Debug, sqlx::FromRow)]
struct PaymentRow {
    id: PaymentId,
    studio_id: StudioId,
    provider: String,
    provider_payment_id: String,
    state: PaymentState,
    amount: i64,
    captured: i64,
    refunded: i64,
    settled: i64,
    is_settled: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_event_at: Option<DateTime<Utc>>,
}

const PAYMENT_COLUMNS: &str = "id, studio_id, provider, provider_payment_id, state, amount, captured, refunded, settled, is_settled, version, created_at, updated_at, last_event_at";

impl PaymentRow {
    fn book(&self) -> PaymentBook {
        PaymentBook {
            state: self.state,
            amount: Rappen(self.amount),
            captured: Rappen(self.captured),
            refunded: Rappen(self.refunded),
            settled: Rappen(self.settled),
            is_settled: self.is_settled,
        }
    }

    fn set_book(&mut self, book: &PaymentBook) {
        self.state = book.state;
        self.amount = book.amount.0;
        self.captured = book.captured.0;
        self.refunded = book.refunded.0;
        self.settled = book.settled.0;
        self.is_settled = book.is_settled;
    }

    fn to_payment(&self) -> Payment {
        Payment {
            id: self.id,
            studio_id: self.studio_id,
            provider: self.provider.clone(),
            provider_payment_id: self.provider_payment_id.clone(),
            state: self.state,
            amount: Rappen(self.amount),
            captured: Rappen(self.captured),
            refunded: Rappen(self.refunded),
            settled: Rappen(self.settled),
            is_settled: self.is_settled,
            currency: CURRENCY.to_string(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_event_at: self.last_event_at,
        }
    }
}

/// An inbox row the worker applies.
#[derive(Clone, Debug, sqlx::FromRow)]
struct InboxRow {
    seq: i64,
    event_key: String,
    studio_id: StudioId,
    provider: String,
    provider_payment_id: String,
    event_type: PaymentAction,
    amount: i64,
    occurred_at: DateTime<Utc>,
    status: InboxStatus,
}

const INBOX_COLUMNS: &str = "seq, event_key, studio_id, provider, provider_payment_id, event_type, amount, occurred_at, status";

/// A ledger transfer of a payment movement, before it is written.
struct PaymentTransfer {
    id: uuid::Uuid,
    studio_id: StudioId,
    kind: TransferKind,
    reason: String,
    cause_type: &'static str,
    effective_on: chrono::NaiveDate,
    /// (debited account, credited account, Rappen > 0).
    debit: AccountCode,
    credit: AccountCode,
    amount: i64,
}

/// The id of a transfer of `kind` caused by `cause`. Derived, so applying the cause twice can
/// never post twice. Given the inbox `sequence` of the event that caused it, the id starts with
/// that number's 48 low bits (big-endian, like UUIDv7's timestamp) and goes on with the SHA-256
/// of cause and kind: the worker's transfers then arrive in id order and are appended to the
/// ledger's B-trees instead of landing on random pages (a replay profile counted 12 page writes
/// per event with purely hashed ids). The version and variant bits fall in the hashed part.
fn transfer_id(cause: &str, kind: TransferKind, sequence: Option<i64>) -> uuid::Uuid {
    let hashed = derived_id(&format!("{cause} {kind}"));
    match sequence
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s < 1 << 48)
    {
        Some(sequence) => {
            let mut bytes = *hashed.as_bytes();
            bytes[..6].copy_from_slice(&sequence.to_be_bytes()[2..]);
            uuid::Builder::from_custom_bytes(bytes).into_uuid()
        }
        None => hashed,
    }
}

/// The transfers a movement posts, with ids derived from `cause` (an event key and its inbox
/// `sequence`, or a payment id and version for an operator action; see [`transfer_id`]).
fn transfers_of(
    payment: &PaymentRow,
    moved: &PaymentMovement,
    cause: &str,
    sequence: Option<i64>,
    cause_type: &'static str,
    at: DateTime<Utc>,
) -> Vec<PaymentTransfer> {
    let effective_on = business_date(at);
    let mut transfers = Vec::new();
    let mut add = |kind: TransferKind, debit, credit, amount: Rappen, what: &str| {
        if amount.0 > 0 {
            transfers.push(PaymentTransfer {
                id: transfer_id(cause, kind, sequence),
                studio_id: payment.studio_id,
                kind,
                reason: format!(
                    "Card payment {} at {} {what}",
                    payment.provider_payment_id, payment.provider
                ),
                cause_type,
                effective_on,
                debit,
                credit,
                amount: amount.0,
            });
        }
    };
    add(
        TransferKind::PaymentCaptured,
        AccountCode::CardClearing,
        AccountCode::CardSales,
        moved.captured,
        "captured",
    );
    add(
        TransferKind::PaymentRefunded,
        AccountCode::CardSales,
        AccountCode::CardClearing,
        moved.refunded,
        "refunded",
    );
    add(
        TransferKind::PaymentSettled,
        AccountCode::Bank,
        AccountCode::CardClearing,
        moved.settled,
        "settled to the bank",
    );
    transfers
}

/// The card clearing, card sales and bank account ids of studios, by (studio, code).
type PaymentAccounts = HashMap<(StudioId, AccountCode), i64>;

/// The accounts `transfers` post to, as `tx` sees them; studios without them (created by hand,
/// or before card sales existed) get them opened first.
///
/// Errors: 503/500 when the database fails.
async fn accounts_for(
    tx: &mut DbTransaction,
    transfers: &[PaymentTransfer],
) -> Result<PaymentAccounts, AppError> {
    if let Some(accounts) = existing_accounts_for(tx, transfers).await? {
        return Ok(accounts);
    }
    super::ledger::ensure_accounts(tx).await?;
    let studios = db::distinct(transfers.iter().map(|t| t.studio_id));
    account_ids(tx, &studios).await
}

/// The accounts `transfers` post to, as `tx` sees them, without opening any: `None` when a
/// studio of theirs has no payment accounts yet (they are opened together: card clearing, card
/// sales and bank, so card sales stands for all three).
///
/// Errors: 503/500 when the database fails.
async fn existing_accounts_for(
    tx: &mut DbTransaction,
    transfers: &[PaymentTransfer],
) -> Result<Option<PaymentAccounts>, AppError> {
    let studios = db::distinct(transfers.iter().map(|t| t.studio_id));
    let accounts = account_ids(tx, &studios).await?;
    let complete = studios
        .iter()
        .all(|s| accounts.contains_key(&(*s, AccountCode::CardSales)));
    Ok(complete.then_some(accounts))
}

/// Writes `transfers` (two postings each) in `tx`, set-based.
///
/// Errors: 500 when a studio has no card clearing, card sales or bank account (nothing is
/// saved: the caller's transaction fails).
async fn write_transfers(
    tx: &mut DbTransaction,
    transfers: &[PaymentTransfer],
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    if transfers.is_empty() {
        return Ok(());
    }
    let accounts = accounts_for(tx, transfers).await?;
    run_statements(tx, transfer_inserts(transfers, &accounts, at)?).await
}

/// The inserts of `transfers` and their postings (two each), set-based.
///
/// Errors: 500 when a studio has no card clearing, card sales or bank account in `accounts`.
fn transfer_inserts(
    transfers: &[PaymentTransfer],
    accounts: &PaymentAccounts,
    at: DateTime<Utc>,
) -> Result<Vec<Statement>, AppError> {
    let account = |studio: StudioId, code: AccountCode| {
        accounts.get(&(studio, code)).copied().ok_or_else(|| {
            tracing::error!(%studio, %code, "a studio has no account for a payment transfer");
            AppError::Internal {
                message: format!("the studio has no {code} account; nothing was saved"),
            }
        })
    };
    let mut postings = Vec::with_capacity(transfers.len() * 2);
    for transfer in transfers {
        postings.push((
            transfer.id,
            account(transfer.studio_id, transfer.debit)?,
            transfer.amount,
        ));
        postings.push((
            transfer.id,
            account(transfer.studio_id, transfer.credit)?,
            -transfer.amount,
        ));
    }
    let mut statements = Vec::new();
    // 8 and 3 parameters per row: chunks stay far below SQLite's 32,766.
    for chunk in transfers.chunks(1000) {
        statements.push((
            db::insert_values(
                "INSERT INTO ledger_transfers (id, studio_id, kind, reason, cause_type, cause_id, effective_on, created_at)",
                chunk,
                8,
                |q, t| {
                    q.bind(t.id)
                        .bind(t.studio_id)
                        .bind(t.kind)
                        .bind(t.reason.clone())
                        .bind(t.cause_type)
                        .bind(t.id)
                        .bind(t.effective_on)
                        .bind(at)
                },
            ),
            "posting the payment transfers",
        ));
    }
    for chunk in postings.chunks(3000) {
        statements.push((
            db::insert_values(
                "INSERT INTO ledger_postings (transfer_id, account_id, amount)",
                chunk,
                3,
                |q, (transfer, account, amount)| q.bind(*transfer).bind(*account).bind(*amount),
            ),
            "posting the payment postings",
        ));
    }
    Ok(statements)
}

/// After an operator's action, the payment's parked events are retried against its new state,
/// in provider order, as the worker does after an event: a refund parked because the payment
/// was not captured yet applies once an operator captures it, instead of waiting for the
/// provider's next event. Returns the payment as it is after them.
async fn retry_parked_events(
    tx: &mut DbTransaction,
    row: PaymentRow,
    at: DateTime<Utc>,
) -> Result<PaymentRow, AppError> {
    let parked: Vec<InboxRow> = db::query_as(format!(
        "SELECT {INBOX_COLUMNS} FROM payment_events
         WHERE status = 'parked' AND provider_payment_id = $1 AND provider = $2"
    ))
    .bind(row.provider_payment_id.clone())
    .bind(row.provider.clone())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error("loading the payment's parked events"))?;
    if parked.is_empty() {
        return Ok(row);
    }
    let key = (row.provider.clone(), row.provider_payment_id.clone());
    let mut round = Round {
        at,
        payments: HashMap::from([(key.clone(), row)]),
        changed: HashSet::new(),
        parked: HashMap::from([(key.clone(), parked)]),
        decisions: BTreeMap::new(),
        transfers: Vec::new(),
        outbox: Vec::new(),
    };
    round.retry_parked(&key);
    write_round(tx, &round).await?;
    round.payments.remove(&key).ok_or_else(|| {
        tracing::error!(
            ?key,
            "a payment vanished while its parked events were retried"
        );
        AppError::Internal {
            message: "the payment could not be read back; nothing was saved".into(),
        }
    })
}

/// A worker round decided on a snapshot and not written yet ([`Engine::plan_inbox_round`]).
pub struct PlannedRound {
    /// The payment state's epoch at the snapshot (`None`: the database has no epoch row, and
    /// the round is always decided again under the writer's turn).
    epoch: Option<i64>,
    /// Events taken from the inbox.
    claimed: usize,
    /// The round's size limit, to decide it again with.
    limit: usize,
    round: Round,
    /// Its statements, built before the writer's turn (`None` when a studio of its transfers
    /// has no accounts yet: they are opened and the statements built under the turn).
    writes: Option<RoundWrites>,
}

impl PlannedRound {
    /// How many inbox events the round takes.
    pub fn events(&self) -> usize {
        self.claimed
    }
}

/// The payment state's epoch (SQLite): a counter that every transaction changing a payment or a
/// payment event's status raises ([`payment_state_changed`]). Equal at two instants, nothing a
/// round decides on changed in between. `None` on PostgreSQL (its workers claim their events)
/// and when the row is missing.
async fn payment_state_epoch(tx: &mut DbTransaction) -> Result<Option<i64>, AppError> {
    match tx.backend() {
        db::Backend::Sqlite => {
            db::query_scalar("SELECT epoch FROM payment_state_epoch WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error("reading the payment state's epoch"))
        }
        db::Backend::Postgres => Ok(None),
    }
}

/// Raises the payment state's epoch in `tx` (SQLite; see [`payment_state_epoch`]).
async fn payment_state_changed(tx: &mut DbTransaction) -> Result<(), AppError> {
    match tx.backend() {
        db::Backend::Sqlite => {
            db::query("UPDATE payment_state_epoch SET epoch = epoch + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await
                .map_err(db_error("raising the payment state's epoch"))?;
            Ok(())
        }
        db::Backend::Postgres => Ok(()),
    }
}

/// Takes up to `limit` (1 ..= [`INBOX_BATCH_MAX`]) received events in delivery order, as `tx`
/// sees the inbox, with their payments and parked events, and decides each in memory. Returns
/// how many events it took and the round; `None` when none was waiting. On PostgreSQL the
/// events are claimed (`FOR UPDATE SKIP LOCKED`) until `tx` ends.
///
/// Errors: 503/500 when a read fails.
async fn decide_round(
    tx: &mut DbTransaction,
    limit: usize,
) -> Result<Option<(usize, Round)>, AppError> {
    let claimed: Vec<InboxRow> = db::query_as(format!(
        "SELECT {INBOX_COLUMNS} FROM payment_events WHERE status = 'received'
         ORDER BY seq LIMIT $1 {}",
        tx.backend().for_update_skip_locked()
    ))
    // Lossless: at most INBOX_BATCH_MAX (10,000) after the clamp.
    .bind(limit.clamp(1, INBOX_BATCH_MAX) as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error("claiming payment events"))?;
    if claimed.is_empty() {
        return Ok(None);
    }
    let mut round = Round {
        at: now(),
        payments: HashMap::new(),
        changed: HashSet::new(),
        parked: HashMap::new(),
        decisions: BTreeMap::new(),
        transfers: Vec::new(),
        outbox: Vec::new(),
    };
    let providers = db::distinct(claimed.iter().map(|e| e.provider.clone()));
    let payment_ids = db::distinct(claimed.iter().map(|e| e.provider_payment_id.clone()));
    let wanted: HashSet<(String, String)> = claimed
        .iter()
        .map(|e| (e.provider.clone(), e.provider_payment_id.clone()))
        .collect();
    for chunk in payment_ids.chunks(2000) {
        let rows: Vec<PaymentRow> = db::query_as(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments
             WHERE provider IN ({}) AND provider_payment_id IN ({})",
            db::placeholders(1, providers.len()),
            db::placeholders(providers.len() + 1, chunk.len())
        ))
        .bind_all(providers.iter().cloned())
        .bind_all(chunk.iter().cloned())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("loading the payments of the events"))?;
        for row in rows {
            let key = (row.provider.clone(), row.provider_payment_id.clone());
            round.payments.insert(key, row);
        }
        let parked: Vec<InboxRow> = db::query_as(format!(
            "SELECT {INBOX_COLUMNS} FROM payment_events
             WHERE status = 'parked' AND provider_payment_id IN ({})",
            db::placeholders(1, chunk.len())
        ))
        .bind_all(chunk.iter().cloned())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("loading the parked events of the payments"))?;
        for row in parked {
            let key = (row.provider.clone(), row.provider_payment_id.clone());
            if wanted.contains(&key) {
                round.parked.entry(key).or_default().push(row);
            }
        }
    }
    let taken = claimed.len();
    for event in claimed {
        round.handle(event);
    }
    Ok(Some((taken, round)))
}

/// Writes what a [`Round`] decided, set-based, in `tx` (see [`RoundWrites`]). Returns how many
/// events were applied and how many are parked.
///
/// Errors: 503/500 when the database fails (the caller's transaction fails: nothing is saved).
async fn write_round(tx: &mut DbTransaction, round: &Round) -> Result<(usize, usize), AppError> {
    let accounts = if round.transfers.is_empty() {
        PaymentAccounts::new()
    } else {
        accounts_for(tx, &round.transfers).await?
    };
    RoundWrites::of(round, &accounts)?.execute(tx).await
}

/// The statements that write what a [`Round`] decided: the changed payments, their ledger
/// transfers and outbox events, and each decided event's status (applied, or parked with its
/// current reason). Built before the writer's turn when the round was decided on a snapshot.
struct RoundWrites {
    /// Each statement, with what it does (for its error).
    statements: Vec<Statement>,
    /// Whether the round decided anything (and so raises the payment state's epoch).
    decided: bool,
    applied: usize,
    parked: usize,
}

impl RoundWrites {
    /// The statements of `round`, whose transfers post to `accounts`.
    ///
    /// Errors: 500 when a studio of a transfer has no account in `accounts`.
    fn of(round: &Round, accounts: &PaymentAccounts) -> Result<RoundWrites, AppError> {
        let at = round.at;
        let changed: Vec<&PaymentRow> = round
            .changed
            .iter()
            .filter_map(|key| round.payments.get(key))
            .collect();
        let mut statements = payment_upserts(&changed);
        statements.extend(transfer_inserts(&round.transfers, accounts, at)?);
        statements.extend(outbox_inserts(&round.outbox, at));
        let applied: Vec<i64> = round
            .decisions
            .iter()
            .filter(|(_, decision)| matches!(decision, Decision::Applied))
            .map(|(seq, _)| *seq)
            .collect();
        for chunk in applied.chunks(5000) {
            statements.push((
                db::query(format!(
                    "UPDATE payment_events SET status = 'applied', reason = NULL, park_reason = NULL,
                         attempts = attempts + 1, processed_at = $1
                     WHERE seq IN ({})",
                    db::placeholders(2, chunk.len())
                ))
                .bind(at)
                .bind_all(chunk.iter().copied()),
                "marking payment events applied",
            ));
        }
        // Parked events keep their reason up to date (it may change as the payment moves on).
        let parked: Vec<(i64, &String, &ParkReason)> = round
            .decisions
            .iter()
            .filter_map(|(seq, decision)| match decision {
                Decision::Parked {
                    explanation,
                    reason,
                } => Some((*seq, explanation, reason)),
                Decision::Applied => None,
            })
            .collect();
        for chunk in parked.chunks(2000) {
            let sql = format!(
                "WITH decided (seq, reason, park_reason) AS (VALUES {})
                 UPDATE payment_events SET status = 'parked',
                     reason = (SELECT d.reason FROM decided d WHERE d.seq = payment_events.seq),
                     park_reason = (SELECT d.park_reason FROM decided d WHERE d.seq = payment_events.seq),
                     attempts = attempts + 1, processed_at = ${}
                 WHERE seq IN (SELECT d.seq FROM decided d)",
                db::values_list(chunk.len(), 3),
                chunk.len() * 3 + 1
            );
            statements.push((
                chunk
                    .iter()
                    .fold(db::query(sql), |q, (seq, explanation, reason)| {
                        q.bind(*seq)
                            .bind((*explanation).clone())
                            .bind(sqlx::types::Json(**reason))
                    })
                    .bind(at),
                "parking payment events",
            ));
        }
        Ok(RoundWrites {
            statements,
            decided: !round.decisions.is_empty(),
            applied: applied.len(),
            parked: parked.len(),
        })
    }

    /// Runs the statements in `tx`, after raising the payment state's epoch. Returns how many
    /// events were applied and how many are parked.
    ///
    /// Errors: 503/500 when the database fails.
    async fn execute(self, tx: &mut DbTransaction) -> Result<(usize, usize), AppError> {
        if self.decided {
            payment_state_changed(tx).await?;
        }
        run_statements(tx, self.statements).await?;
        Ok((self.applied, self.parked))
    }
}

/// A statement built before it runs, with what it does (for the error a failure returns).
type Statement = (db::Query<'static>, &'static str);

/// Runs `statements` in order in `tx`, stopping at the first that fails.
///
/// Errors: 503/500 when the database fails, naming what the failed statement was doing.
async fn run_statements(
    tx: &mut DbTransaction,
    statements: Vec<Statement>,
) -> Result<(), AppError> {
    for (statement, what) in statements {
        statement.execute(&mut *tx).await.map_err(db_error(what))?;
    }
    Ok(())
}

/// The ids of the card clearing, card sales and bank accounts of `studios`.
async fn account_ids(
    tx: &mut DbTransaction,
    studios: &[StudioId],
) -> Result<HashMap<(StudioId, AccountCode), i64>, AppError> {
    let mut found = HashMap::new();
    for chunk in studios.chunks(500) {
        let rows: Vec<(i64, StudioId, AccountCode)> = db::query_as(format!(
            "SELECT id, studio_id, code FROM ledger_accounts
             WHERE employee_id IS NULL AND code IN ('card_clearing', 'card_sales', 'bank')
               AND studio_id IN ({})",
            db::placeholders(1, chunk.len())
        ))
        .bind_all(chunk.iter().copied())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("looking up the payment accounts"))?;
        for (id, studio, code) in rows {
            found.insert((studio, code), id);
        }
    }
    Ok(found)
}

/// Writes `payments` (new or changed) with one multi-row upsert per chunk, raising the payment
/// state's epoch.
///
/// Errors: 503/500 when the database fails.
async fn upsert_payments(tx: &mut DbTransaction, payments: &[&PaymentRow]) -> Result<(), AppError> {
    if payments.is_empty() {
        return Ok(());
    }
    payment_state_changed(tx).await?;
    run_statements(tx, payment_upserts(payments)).await
}

/// The upserts of `payments`, one multi-row statement per chunk.
fn payment_upserts(payments: &[&PaymentRow]) -> Vec<Statement> {
    payments
        .chunks(1000)
        .map(|chunk| {
            let sql = format!(
                "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES {}
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, amount = excluded.amount,
                     captured = excluded.captured, refunded = excluded.refunded,
                     settled = excluded.settled, is_settled = excluded.is_settled,
                     version = excluded.version, updated_at = excluded.updated_at,
                     last_event_at = excluded.last_event_at",
                db::values_list(chunk.len(), 14)
            );
            let upsert = chunk.iter().fold(db::query(sql), |q, p| {
                q.bind(p.id)
                    .bind(p.studio_id)
                    .bind(p.provider.clone())
                    .bind(p.provider_payment_id.clone())
                    .bind(p.state)
                    .bind(p.amount)
                    .bind(p.captured)
                    .bind(p.refunded)
                    .bind(p.settled)
                    .bind(p.is_settled)
                    .bind(p.version)
                    .bind(p.created_at)
                    .bind(p.updated_at)
                    .bind(p.last_event_at)
            });
            (upsert, "saving the payments")
        })
        .collect()
}

/// An outbox event of a payment change, before it is written.
struct OutboxEvent {
    kind: String,
    studio_id: StudioId,
    entity_id: uuid::Uuid,
    payload: serde_json::Value,
}

fn payment_change_event(payment: &PaymentRow, action: PaymentAction, cause: &str) -> OutboxEvent {
    OutboxEvent {
        kind: format!("payment.{action}"),
        studio_id: payment.studio_id,
        entity_id: payment.id.0,
        payload: serde_json::json!({
            "payment_id": payment.id,
            "studio_id": payment.studio_id,
            "provider": payment.provider,
            "provider_payment_id": payment.provider_payment_id,
            "state": payment.state,
            "version": payment.version,
            "captured": payment.captured,
            "refunded": payment.refunded,
            "settled": payment.settled,
            "cause": cause,
        }),
    }
}

/// Appends `events` to the event log (the outbox) in `tx`, set-based.
///
/// Errors: 503/500 when the database fails.
async fn write_outbox(
    tx: &mut DbTransaction,
    events: &[OutboxEvent],
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    run_statements(tx, outbox_inserts(events, at)).await
}

/// The inserts of `events` into the event log, one multi-row statement per chunk.
fn outbox_inserts(events: &[OutboxEvent], at: DateTime<Utc>) -> Vec<Statement> {
    events
        .chunks(2000)
        .map(|chunk| {
            let insert = db::insert_values(
                "INSERT INTO events (occurred_at, kind, studio_id, entity_id, payload)",
                chunk,
                5,
                |q, e| {
                    q.bind(at)
                        .bind(e.kind.clone())
                        .bind(e.studio_id)
                        .bind(e.entity_id)
                        .bind(e.payload.to_string())
                },
            );
            (insert, "recording the payment events")
        })
        .collect()
}

/// What the worker decided for one inbox event.
enum Decision {
    Applied,
    /// Parked, with the reason in English (the inbox's `reason`) and as data.
    Parked {
        explanation: String,
        reason: ParkReason,
    },
}

/// The worker's view of one round: payments by (provider, payment id), parked events by payment.
struct Round {
    at: DateTime<Utc>,
    payments: HashMap<(String, String), PaymentRow>,
    changed: HashSet<(String, String)>,
    parked: HashMap<(String, String), Vec<InboxRow>>,
    decisions: BTreeMap<i64, Decision>,
    transfers: Vec<PaymentTransfer>,
    outbox: Vec<OutboxEvent>,
}

impl Round {
    /// Applies `event` (or parks it), then, if it applied, retries the payment's parked events
    /// in provider order until a pass applies none.
    fn handle(&mut self, event: InboxRow) {
        let key = (event.provider.clone(), event.provider_payment_id.clone());
        match self.try_apply(&event) {
            Ok(()) => {
                self.decisions.insert(event.seq, Decision::Applied);
                self.retry_parked(&key);
            }
            Err(reason) => {
                let explanation = reason.explanation(&event.provider, &event.provider_payment_id);
                let first_time = event.status != InboxStatus::Parked;
                if first_time {
                    self.outbox.push(OutboxEvent {
                        kind: "payment_event.parked".into(),
                        studio_id: event.studio_id,
                        entity_id: derived_id(&event.event_key),
                        payload: serde_json::json!({
                            "event_key": event.event_key,
                            "sequence": event.seq,
                            "provider": event.provider,
                            "provider_payment_id": event.provider_payment_id,
                            "event_type": event.event_type,
                            "amount": event.amount,
                            "reason": explanation,
                            "park_reason": reason,
                        }),
                    });
                }
                self.decisions.insert(
                    event.seq,
                    Decision::Parked {
                        explanation,
                        reason,
                    },
                );
                let mut parked = event;
                parked.status = InboxStatus::Parked;
                let list = self.parked.entry(key).or_default();
                if !list.iter().any(|p| p.seq == parked.seq) {
                    list.push(parked);
                }
            }
        }
    }

    fn retry_parked(&mut self, key: &(String, String)) {
        loop {
            let Some(mut waiting) = self.parked.remove(key) else {
                return;
            };
            waiting.sort_by_key(|e| (e.occurred_at, e.seq));
            let mut applied_any = false;
            let mut still = Vec::new();
            for event in waiting {
                match self.try_apply(&event) {
                    Ok(()) => {
                        applied_any = true;
                        self.decisions.insert(event.seq, Decision::Applied);
                    }
                    Err(reason) => {
                        let explanation =
                            reason.explanation(&event.provider, &event.provider_payment_id);
                        self.decisions.insert(
                            event.seq,
                            Decision::Parked {
                                explanation,
                                reason,
                            },
                        );
                        still.push(event);
                    }
                }
            }
            if !still.is_empty() {
                self.parked.insert(key.clone(), still);
            }
            if !applied_any {
                return;
            }
        }
    }

    /// Applies one event to its payment in memory, or says why it cannot.
    fn try_apply(&mut self, event: &InboxRow) -> Result<(), ParkReason> {
        let key = (event.provider.clone(), event.provider_payment_id.clone());
        let amount = Rappen(event.amount);
        let at = self.at;
        let payment = match self.payments.get_mut(&key) {
            Some(payment) => payment,
            None if event.event_type.creates_payment() => {
                let (book, _) = PaymentBook::new_draft(amount)
                    .apply(event.event_type, amount)
                    .map_err(|refusal| ParkReason::refused(&refusal))?;
                let mut row = PaymentRow {
                    id: PaymentId(derived_id(&format!(
                        "payment {} {}",
                        event.provider, event.provider_payment_id
                    ))),
                    studio_id: event.studio_id,
                    provider: event.provider.clone(),
                    provider_payment_id: event.provider_payment_id.clone(),
                    state: book.state,
                    amount: 0,
                    captured: 0,
                    refunded: 0,
                    settled: 0,
                    is_settled: false,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    last_event_at: Some(event.occurred_at),
                };
                row.set_book(&book);
                self.outbox.push(payment_change_event(
                    &row,
                    event.event_type,
                    &event.event_key,
                ));
                self.payments.insert(key.clone(), row);
                self.changed.insert(key);
                return Ok(());
            }
            None => return Err(ParkReason::UnknownPayment),
        };
        if payment.studio_id != event.studio_id {
            return Err(ParkReason::OtherStudio);
        }
        let (book, moved) = payment
            .book()
            .apply(event.event_type, amount)
            .map_err(|refusal| ParkReason::refused(&refusal))?;
        payment.set_book(&book);
        payment.version += 1;
        payment.updated_at = at;
        payment.last_event_at = Some(
            payment
                .last_event_at
                .map_or(event.occurred_at, |last| last.max(event.occurred_at)),
        );
        self.transfers.extend(transfers_of(
            payment,
            &moved,
            &event.event_key,
            Some(event.seq),
            "payment_event",
            event.occurred_at,
        ));
        self.outbox.push(payment_change_event(
            payment,
            event.event_type,
            &event.event_key,
        ));
        self.changed.insert(key);
        Ok(())
    }
}

impl Engine {
    /// Stores delivered provider events in the inbox, each on its own: accepted (new), duplicate
    /// (the same key was received with the same studio and amount: no effect) or rejected (with
    /// its error; nothing stored). `events` holds what the boundary could read: an `Err` item is
    /// reported as rejected. The batch is stored in one transaction, shared with the events
    /// of requests arriving at the same time (group commit); the worker is woken after it commits.
    ///
    /// Errors (the whole request): 403 unless the caller may deliver payment events; 503 when
    /// the database is unavailable (nothing was stored; retrying is safe). Per event: 422
    /// validation (field named), 403 for a studio that is not the caller's, 404 for an unknown
    /// studio, 409 `event_key_conflict` for a key already received with another studio or
    /// amount.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn ingest_payment_events(
        &self,
        caller: &Caller,
        events: Vec<Result<PaymentEventRequest, AppError>>,
    ) -> Result<IngestReport, AppError> {
        caller.require(Permission::IngestPaymentEvents)?;
        let mut results: Vec<Option<IngestResult>> = vec![None; events.len()];
        let mut valid: Vec<(usize, NewEvent)> = Vec::with_capacity(events.len());
        for (index, event) in events.into_iter().enumerate() {
            match event.and_then(|e| validate(&e)) {
                Ok(event) if !caller.sees_studio(event.studio_id) => {
                    results[index] = Some(rejected(
                        index,
                        Some(event.key),
                        &AppError::forbidden(format!(
                            "you may not deliver payment events of studio {}: it is not one of yours",
                            event.studio_id
                        )),
                    ));
                }
                Ok(event) => valid.push((index, event)),
                Err(error) => results[index] = Some(rejected(index, None, &error)),
            }
        }
        if !valid.is_empty() {
            let (indexes, events): (Vec<usize>, Vec<NewEvent>) = valid.into_iter().unzip();
            let keys: Vec<String> = events.iter().map(|e| e.key.clone()).collect();
            let stored = self.store_in_next_group(events).await?;
            for ((index, key), stored) in indexes.into_iter().zip(keys).zip(stored) {
                results[index] = Some(stored.into_result(index, key));
            }
        }
        let results: Vec<IngestResult> = results
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                result.unwrap_or_else(|| {
                    tracing::error!(index, "a payment event got no result");
                    rejected(
                        index,
                        None,
                        &AppError::Internal {
                            message: "the event got no result; it is logged on the server".into(),
                        },
                    )
                })
            })
            .collect();
        let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count();
        Ok(IngestReport {
            accepted: count(IngestOutcome::Accepted),
            duplicates: count(IngestOutcome::Duplicate),
            rejected: count(IngestOutcome::Rejected),
            results,
        })
    }

    /// Applies up to `limit` received inbox events in delivery order (see the module docs), in
    /// one transaction. Returns how many events it took from the inbox; 0 when none was waiting.
    ///
    /// On SQLite the round is decided on a reader's snapshot first ([`Engine::plan_inbox_round`])
    /// and only written under the writer's turn ([`Engine::write_planned_round`]), so the one
    /// writer is not kept waiting while the round reads and decides. On PostgreSQL the round
    /// claims its events with `FOR UPDATE SKIP LOCKED` and decides them in its own transaction,
    /// so several workers share the inbox.
    ///
    /// Errors: 503 when the database is unavailable, 500 on an unexpected database error (the
    /// transaction is rolled back: the events stay received and are taken again next round).
    pub async fn process_payment_inbox(&self, limit: usize) -> Result<usize, AppError> {
        match self.backend() {
            db::Backend::Sqlite => match self.plan_inbox_round(limit).await? {
                Some(plan) => self.write_planned_round(plan).await,
                None => Ok(0),
            },
            db::Backend::Postgres => {
                let tx = self.begin_write().await?;
                self.apply_inbox_round(tx, limit).await
            }
        }
    }

    /// Decides the next round of up to `limit` received events on a snapshot of the database
    /// (a reader connection, outside the writer's turn): the same reads and decisions as the
    /// round itself, remembered with the payment state's epoch they were made at. `None` when
    /// no event was waiting. SQLite only: PostgreSQL's workers claim their events instead.
    ///
    /// Errors: 503/500 when the database fails (nothing is changed).
    pub async fn plan_inbox_round(&self, limit: usize) -> Result<Option<PlannedRound>, AppError> {
        let mut snapshot = self
            .pool()
            .begin()
            .await
            .map_err(db_error("begin reading the inbox"))?;
        // The first read starts the snapshot: the epoch and the round are read at one instant.
        let epoch = payment_state_epoch(&mut snapshot).await?;
        let Some((claimed, round)) = decide_round(&mut snapshot, limit).await? else {
            snapshot
                .rollback()
                .await
                .map_err(db_error("ending the inbox snapshot"))?;
            return Ok(None);
        };
        // Accounts are never deleted: the ids the snapshot has are the ids under the turn. A
        // studio without its accounts yet gets them opened under the turn (by `write_round`).
        let accounts = existing_accounts_for(&mut snapshot, &round.transfers).await?;
        snapshot
            .rollback()
            .await
            .map_err(db_error("ending the inbox snapshot"))?;
        let writes = match accounts {
            Some(accounts) => Some(RoundWrites::of(&round, &accounts)?),
            None => None,
        };
        Ok(Some(PlannedRound {
            epoch,
            claimed,
            limit,
            round,
            writes,
        }))
    }

    /// Writes a round decided by [`Engine::plan_inbox_round`] under the writer's turn, when the
    /// payment state is still at the epoch it was decided at (nothing changed a payment or an
    /// event's status since: the decisions stand). Otherwise, for example when an operator acted
    /// on one of its payments in between, the round is read and decided again under the turn,
    /// as on PostgreSQL. Returns how many events the round took.
    ///
    /// Errors: 503 when the database is unavailable, 500 on an unexpected database error (rolled
    /// back: the events stay received).
    pub async fn write_planned_round(&self, plan: PlannedRound) -> Result<usize, AppError> {
        let mut tx = self.begin_write().await?;
        let current = payment_state_epoch(&mut tx).await?;
        if plan.epoch.is_none() || current != plan.epoch {
            tracing::debug!(
                planned = ?plan.epoch,
                ?current,
                "payments changed since the inbox round was decided; deciding it again"
            );
            return self.apply_inbox_round(tx, plan.limit).await;
        }
        let (applied, parked) = match plan.writes {
            Some(writes) => writes.execute(&mut tx).await?,
            None => write_round(&mut tx, &plan.round).await?,
        };
        tx.commit()
            .await
            .map_err(db_error("committing the inbox round"))?;
        tracing::debug!(
            claimed = plan.claimed,
            applied,
            parked,
            "inbox round (decided on a snapshot)"
        );
        Ok(plan.claimed)
    }

    /// Reads, decides and writes one round in `tx`, a write transaction, and commits it.
    async fn apply_inbox_round(
        &self,
        mut tx: DbTransaction,
        limit: usize,
    ) -> Result<usize, AppError> {
        let Some((claimed, round)) = decide_round(&mut tx, limit).await? else {
            tx.rollback()
                .await
                .map_err(db_error("ending an empty inbox round"))?;
            return Ok(0);
        };
        let (applied, parked) = write_round(&mut tx, &round).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the inbox round"))?;
        tracing::debug!(claimed, applied, parked, "inbox round");
        Ok(claimed)
    }

    /// Opens the ledger accounts of studios that have none yet (studios created by hand, e.g.
    /// by the replay). Idempotent.
    ///
    /// Errors: 503/500 when the database fails.
    pub async fn open_ledger_accounts(&self) -> Result<(), AppError> {
        let mut tx = self.begin_write().await?;
        super::ledger::ensure_accounts(&mut tx).await?;
        tx.commit()
            .await
            .map_err(db_error("committing the new accounts"))?;
        Ok(())
    }

    /// Wakes the inbox worker (after events were stored).
    pub fn payment_inbox_signal(&self) -> &tokio::sync::Notify {
        &self.inbox_signal
    }

    /// Payments of the caller's studios, newest change first: at most `limit` (1..=500), of one
    /// studio and/or state when given.
    ///
    /// Errors: 403 unless the caller may read payments.
    pub async fn payments(
        &self,
        caller: &Caller,
        studio: Option<StudioId>,
        state: Option<PaymentState>,
        limit: i64,
    ) -> Result<Vec<Payment>, AppError> {
        caller.require(Permission::ReadPayments)?;
        let rows: Vec<PaymentRow> = db::query_as(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments
             WHERE ($1 IS NULL OR studio_id = $1) AND ($2 IS NULL OR state = $2) AND {}
             ORDER BY updated_at DESC, id DESC LIMIT $3",
            access::studio_condition(self.backend(), "studio_id", 4)
        ))
        .bind(studio)
        .bind(state)
        .bind(limit.clamp(1, 500))
        .bind(caller.studio_filter())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing payments"))?;
        Ok(rows.iter().map(PaymentRow::to_payment).collect())
    }

    /// One payment.
    ///
    /// Errors: 403 unless the caller may read payments; 404 unknown (or another business's).
    pub async fn payment(&self, caller: &Caller, id: PaymentId) -> Result<Payment, AppError> {
        caller.require(Permission::ReadPayments)?;
        let row: Option<PaymentRow> = db::query_as(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("looking up the payment"))?;
        row.filter(|p| caller.sees_studio(p.studio_id))
            .map(|p| p.to_payment())
            .ok_or_else(|| AppError::not_found(format!("no payment with id {id}")))
    }

    /// Inbox events of the caller's studios with `status` (parked ones by default), oldest
    /// first, at most `limit` (1..=500).
    ///
    /// Errors: 403 unless the caller may read payments.
    pub async fn payment_inbox(
        &self,
        caller: &Caller,
        status: InboxStatus,
        limit: i64,
    ) -> Result<Vec<InboxEvent>, AppError> {
        caller.require(Permission::ReadPayments)?;
        db::query_as::<InboxEvent>(format!(
            "SELECT seq AS sequence, event_key, studio_id, provider, provider_payment_id, event_type,
                    amount, occurred_at, received_at, status, reason, park_reason, attempts
             FROM payment_events WHERE status = $1 AND {}
             ORDER BY seq LIMIT $2",
            access::studio_condition(self.backend(), "studio_id", 3)
        ))
        .bind(status)
        .bind(limit.clamp(1, 500))
        .bind(caller.studio_filter())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing inbox events"))
    }

    /// How many inbox events of the caller's studios are received, applied and parked.
    ///
    /// Errors: 403 unless the caller may read payments.
    pub async fn inbox_summary(&self, caller: &Caller) -> Result<InboxSummary, AppError> {
        caller.require(Permission::ReadPayments)?;
        let rows: Vec<(InboxStatus, i64)> = db::query_as(format!(
            "SELECT status, COUNT(*) FROM payment_events WHERE {} GROUP BY status",
            access::studio_condition(self.backend(), "studio_id", 1)
        ))
        .bind(caller.studio_filter())
        .fetch_all(self.pool())
        .await
        .map_err(db_error("counting inbox events"))?;
        let mut summary = InboxSummary::default();
        for (status, count) in rows {
            match status {
                InboxStatus::Received => summary.received = count,
                InboxStatus::Applied => summary.applied = count,
                InboxStatus::Parked => summary.parked = count,
            }
        }
        Ok(summary)
    }

    /// Per studio (of the caller's, with any payment or inbox event): payments by state, sums
    /// captured / refunded / settled, the card clearing, card sales and bank balances from the
    /// ledger, and parked events. For reconciliation and the parallel run.
    ///
    /// Errors: 403 unless the caller may read payments and the ledger.
    pub async fn payment_totals(&self, caller: &Caller) -> Result<Vec<PaymentTotals>, AppError> {
        caller.require(Permission::ReadPayments)?;
        caller.require(Permission::ReadLedger)?;
        let scope = caller.studio_filter();
        let condition = access::studio_condition(self.backend(), "studio_id", 1);
        let mut totals: BTreeMap<StudioId, PaymentTotals> = BTreeMap::new();
        let sums: Vec<(StudioId, PaymentState, i64, i64, i64, i64)> = db::query_as(format!(
            "SELECT studio_id, state, COUNT(*), CAST(SUM(captured) AS BIGINT),
                    CAST(SUM(refunded) AS BIGINT), CAST(SUM(settled) AS BIGINT)
             FROM payments WHERE {condition} GROUP BY studio_id, state"
        ))
        .bind(&scope)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("summing payments"))?;
        for (studio, state, count, captured, refunded, settled) in sums {
            let entry = totals
                .entry(studio)
                .or_insert_with(|| PaymentTotals::empty(studio));
            entry.payments.insert(state.as_str().to_string(), count);
            entry.captured += captured;
            entry.refunded += refunded;
            entry.settled += settled;
        }
        let balances: Vec<(StudioId, AccountCode, i64)> = db::query_as(format!(
            "SELECT a.studio_id, a.code, CAST(COALESCE(SUM(p.amount), 0) AS BIGINT)
             FROM ledger_accounts a JOIN ledger_postings p ON p.account_id = a.id
             WHERE a.employee_id IS NULL AND a.code IN ('card_clearing', 'card_sales', 'bank')
               AND {}
             GROUP BY a.studio_id, a.code",
            access::studio_condition(self.backend(), "a.studio_id", 1)
        ))
        .bind(&scope)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the payment balances"))?;
        for (studio, code, debit_balance) in balances {
            let entry = totals
                .entry(studio)
                .or_insert_with(|| PaymentTotals::empty(studio));
            match code {
                AccountCode::CardClearing => entry.card_clearing_balance = debit_balance,
                AccountCode::CardSales => entry.card_sales_balance = -debit_balance,
                AccountCode::Bank => entry.bank_balance = debit_balance,
                AccountCode::CashDrawer
                | AccountCode::TwintClearing
                | AccountCode::ServiceRevenue
                | AccountCode::DeductionIncome
                | AccountCode::TipsPayable
                | AccountCode::CommissionExpense
                | AccountCode::EmployeePayable
                | AccountCode::CashOverShort
                | AccountCode::CashTransfers
                | AccountCode::ReturnedPayouts
                | AccountCode::PayoutWriteOffs => {}
            }
        }
        let parked: Vec<(StudioId, i64)> = db::query_as(format!(
            "SELECT studio_id, COUNT(*) FROM payment_events WHERE status = 'parked' AND {condition}
             GROUP BY studio_id"
        ))
        .bind(&scope)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("counting parked events"))?;
        for (studio, count) in parked {
            totals
                .entry(studio)
                .or_insert_with(|| PaymentTotals::empty(studio))
                .parked_events = count;
        }
        Ok(totals.into_values().collect())
    }

    /// Creates a draft payment by hand (provider `manual`), exactly once per idempotency key.
    ///
    /// Errors: 403 unless the caller may act on payments of the studio; 404 unknown studio; 422
    /// amount not 1 ..= [`MAX_PAYMENT_AMOUNT`] or currency not CHF.
    pub async fn create_payment(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        request: &NewPaymentRequest,
    ) -> Result<Payment, AppError> {
        caller.require_studio(Permission::OperatePayments, request.studio_id)?;
        if !(1..=MAX_PAYMENT_AMOUNT).contains(&request.amount) {
            return Err(AppError::validation(
                "amount",
                "the amount must be CHF 0.01 to CHF 1,000,000.00, in Rappen",
            ));
        }
        super::catalog::check_currency(request.currency.as_deref())?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let fingerprint = idempotency::fingerprint(CREATE_PAYMENT, request)?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            CREATE_PAYMENT,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let known: Option<bool> = db::query_scalar("SELECT TRUE FROM studios WHERE id = $1")
            .bind(request.studio_id)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_error("looking up the studio"))?;
        if known.is_none() {
            return Err(AppError::not_found(format!(
                "no studio with id {}",
                request.studio_id
            )));
        }
        let at = now();
        let id = PaymentId::generate();
        let row = PaymentRow {
            id,
            studio_id: request.studio_id,
            provider: "manual".into(),
            provider_payment_id: format!("manual-{}", id.0.simple()),
            state: PaymentState::Draft,
            amount: request.amount,
            captured: 0,
            refunded: 0,
            settled: 0,
            is_settled: false,
            version: 1,
            created_at: at,
            updated_at: at,
            last_event_at: None,
        };
        upsert_payments(&mut tx, &[&row]).await?;
        let payment = row.to_payment();
        write_outbox(
            &mut tx,
            &[OutboxEvent {
                kind: "payment.created".into(),
                studio_id: row.studio_id,
                entity_id: row.id.0,
                payload: serde_json::json!({ "payment_id": row.id, "studio_id": row.studio_id, "amount": row.amount, "state": row.state, "version": row.version }),
            }],
            at,
        )
        .await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "payment.create",
                entity_type: "payment",
                entity_id: Some(id.to_string()),
                studio_id: Some(row.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            access::NOTHING,
            Some(&payment),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            CREATE_PAYMENT,
            key,
            201,
            &idempotency::encode(&payment)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the payment"))?;
        Ok(payment)
    }

    /// An operator's action on payment `id` (the operator page), exactly once per idempotency
    /// key: checks `expected_version`, applies the action with the shared state machine and
    /// money rules, posts the matching ledger transfer, records the outbox event and the
    /// activity, in one transaction.
    ///
    /// Errors: 403 unless the caller may act on payments of its studio; 404 unknown payment;
    /// 422 `amount` missing or out of range for an action that moves money; 409
    /// `stale_version` (the payment changed since the caller read it) or `illegal_transition`
    /// (the lifecycle or a money rule refuses it), both with the current payment.
    #[tracing::instrument(skip_all, fields(payment_id = %id, action = %request.action))]
    pub async fn act_on_payment(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        id: PaymentId,
        request: &PaymentActionRequest,
    ) -> Result<Payment, AppError> {
        caller.require(Permission::OperatePayments)?;
        let amount = match (request.action.takes_amount(), request.amount) {
            (true, Some(amount)) if (0..=MAX_PAYMENT_AMOUNT).contains(&amount) => amount,
            (true, Some(_)) => {
                return Err(AppError::validation(
                    "amount",
                    "the amount must be 0 to CHF 1,000,000.00, in Rappen",
                ))
            }
            (true, None) => {
                return Err(AppError::validation(
                    "amount",
                    format!("enter the amount to {}", request.action.verb()),
                ))
            }
            (false, _) => 0,
        };
        let client_key = key;
        let key = &key.for_caller(caller);
        let fingerprint = idempotency::fingerprint(PAYMENT_ACTION, &(id, request))?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            PAYMENT_ACTION,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let row: Option<PaymentRow> = db::query_as(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up the payment"))?;
        let mut row = row
            .filter(|p| caller.sees_studio(p.studio_id))
            .ok_or_else(|| AppError::not_found(format!("no payment with id {id}")))?;
        let before = row.to_payment();
        if row.version != request.expected_version {
            return Err(AppError::PaymentConflict {
                code: "stale_version".into(),
                message: format!(
                    "the payment changed since you loaded it (version {} now, you saw {}); look at it again and decide",
                    row.version, request.expected_version
                ),
                payment: Box::new(before),
                payment_refusal: None,
            });
        }
        let (book, moved) =
            row.book()
                .apply(request.action, Rappen(amount))
                .map_err(|refusal| AppError::PaymentConflict {
                    code: "illegal_transition".into(),
                    message: refusal.explanation,
                    payment: Box::new(before.clone()),
                    payment_refusal: Some(refusal.reason),
                })?;
        let at = now();
        row.set_book(&book);
        row.version += 1;
        row.updated_at = at;
        let cause = format!("payment {} version {}", row.id, row.version);
        upsert_payments(&mut tx, &[&row]).await?;
        write_transfers(
            &mut tx,
            &transfers_of(&row, &moved, &cause, None, "payment_action", at),
            at,
        )
        .await?;
        write_outbox(
            &mut tx,
            &[payment_change_event(&row, request.action, &cause)],
            at,
        )
        .await?;
        let row = retry_parked_events(&mut tx, row, at).await?;
        let payment = row.to_payment();
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "payment.act",
                entity_type: "payment",
                entity_id: Some(id.to_string()),
                studio_id: Some(row.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            Some(&before),
            Some(&payment),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            PAYMENT_ACTION,
            key,
            200,
            &idempotency::encode(&payment)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the payment action"))?;
        Ok(payment)
    }
}

impl Engine {
    /// Stores `events` in the inbox together with whatever other requests are waiting (group
    /// commit): the request queues its events and, when no committer is running, starts one (a
    /// task of its own, so a client that hangs up never stops the others' group); the committer
    /// stores every waiting request's events in one transaction, in arrival order, answers each,
    /// and goes on with the requests that arrived meanwhile until none is waiting. The outcomes
    /// are those of delivering the requests one after another.
    ///
    /// Errors: 503/500 when the transaction fails (nothing of the group was stored; delivering
    /// again is safe).
    async fn store_in_next_group(&self, events: Vec<NewEvent>) -> Result<Vec<Stored>, AppError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let start_committer = {
            let mut queue = self
                .ingest_group
                .queue
                .lock()
                .map_err(|_| group_poisoned())?;
            queue.waiting.push_back(IngestJob { events, reply });
            !std::mem::replace(&mut queue.committer_running, true)
        };
        if start_committer {
            let engine = self.clone();
            tokio::spawn(async move { engine.commit_waiting_groups().await });
        }
        answer.await.map_err(|_| {
            tracing::error!("a group commit ended without answering a request");
            AppError::Internal {
                message: "the events got no answer; it is logged on the server, and delivering again is safe".into(),
            }
        })?
    }

    /// The committer: stores the waiting requests' events group after group until none is
    /// waiting (see [`Engine::store_in_next_group`]).
    async fn commit_waiting_groups(&self) {
        let mut turn = CommitterTurn {
            group: Arc::clone(&self.ingest_group),
            done: false,
        };
        loop {
            let jobs = {
                let mut queue = match self.ingest_group.queue.lock() {
                    Ok(queue) => queue,
                    Err(_) => {
                        // The guard answers the waiting requests with an error.
                        tracing::error!(
                            "the payment events' group commit queue is poisoned (a panic while holding it)"
                        );
                        return;
                    }
                };
                let jobs = queue.next_group();
                if jobs.is_empty() {
                    queue.committer_running = false;
                    drop(queue);
                    turn.done = true;
                    return;
                }
                jobs
            };
            self.commit_group(jobs).await;
        }
    }

    /// Stores the events of `jobs` in one transaction and answers each job with its share.
    async fn commit_group(&self, jobs: Vec<IngestJob>) {
        let all: Vec<NewEvent> = jobs
            .iter()
            .flat_map(|job| job.events.iter().cloned())
            .collect();
        tracing::debug!(
            requests = jobs.len(),
            events = all.len(),
            "group commit of payment events"
        );
        match self.store_events(&all).await {
            Ok(stored) => {
                let mut stored = stored.into_iter();
                for job in jobs {
                    let share: Vec<Stored> = stored.by_ref().take(job.events.len()).collect();
                    if job.reply.send(Ok(share)).is_err() {
                        tracing::debug!("a client left before its events' answer; they are stored");
                    }
                }
            }
            Err(error) => {
                for job in jobs {
                    if job.reply.send(Err(error.clone())).is_err() {
                        tracing::debug!("a client left before its events' answer");
                    }
                }
            }
        }
    }

    /// Stores `events` in the inbox in one transaction, as if delivered one after another in
    /// this order: the first occurrence of a key is accepted, later ones (and keys received
    /// before) are duplicates, or conflicts when their studio or amount differs. Wakes the
    /// worker when anything new was stored.
    ///
    /// Errors: 503 when the database is unavailable, 500 on an unexpected database error
    /// (rolled back: nothing stored).
    async fn store_events(&self, events: &[NewEvent]) -> Result<Vec<Stored>, AppError> {
        // What needs no write lock is done before taking it: on SQLite the one writer is shared
        // with the inbox worker, and every moment a transaction holds it unused is lost to both.
        // Studios are never deleted, so a studio a reader knows is known under the lock too;
        // only the others are looked up again there.
        let studios = db::distinct(events.iter().map(|e| e.studio_id));
        let mut known: HashSet<StudioId> = existing_studios(self.pool().target(), &studios)
            .await?
            .into_iter()
            .collect();
        let received_at = now();
        let mut inserts = inbox_inserts(events, &known, received_at);
        let mut tx = match self.backend() {
            // Storing needs no read-then-write decision, so PostgreSQL does not wait for the
            // writers' lock: ingestion stays fast while the worker applies a batch.
            db::Backend::Postgres => self
                .pool()
                .begin()
                .await
                .map_err(db_error("begin transaction"))?,
            db::Backend::Sqlite => self.begin_write().await?,
        };
        let unknown: Vec<StudioId> = studios
            .iter()
            .filter(|studio| !known.contains(studio))
            .copied()
            .collect();
        let created_meanwhile = existing_studios((&mut tx).target(), &unknown).await?;
        if !created_meanwhile.is_empty() {
            known.extend(created_meanwhile);
            inserts = inbox_inserts(events, &known, received_at);
        }
        // key -> (sequence, studio, amount, stored by this transaction)
        let mut stored: HashMap<String, (i64, StudioId, i64, bool)> = HashMap::new();
        for (insert, chunk) in inserts.statements {
            let inserted: Vec<(i64, String)> = insert
                .fetch_all(&mut tx)
                .await
                .map_err(db_error("storing the payment events"))?;
            let by_key: HashMap<&str, &NewEvent> = chunk
                .iter()
                .map(|position| (events[*position].key.as_str(), &events[*position]))
                .collect();
            for (seq, key) in inserted {
                if let Some(event) = by_key.get(key.as_str()) {
                    stored.insert(key.clone(), (seq, event.studio_id, event.amount, true));
                }
            }
        }
        let first_of = inserts.first_of;
        let candidates: Vec<&NewEvent> = inserts
            .candidates
            .iter()
            .map(|position| &events[*position])
            .collect();
        let missing: Vec<&NewEvent> = candidates
            .iter()
            .copied()
            .filter(|e| !stored.contains_key(&e.key))
            .collect();
        for chunk in missing.chunks(1000) {
            // Through the unique index (occurred_at, event_key): a join with the wanted pairs
            // (SQLite scans the table for a row-value `IN (VALUES ..)`).
            let rows: Vec<(i64, String, StudioId, i64)> = chunk
                .iter()
                .fold(
                    db::query_as(format!(
                        "WITH wanted (occurred_at, event_key) AS (VALUES {})
                         SELECT e.seq, e.event_key, e.studio_id, e.amount
                         FROM wanted w JOIN payment_events e
                           ON e.occurred_at = w.occurred_at AND e.event_key = w.event_key",
                        db::values_list(chunk.len(), 2)
                    )),
                    |q, e| q.bind(e.occurred_at).bind(e.key.clone()),
                )
                .fetch_all(&mut tx)
                .await
                .map_err(db_error("looking up delivered payment events"))?;
            for (seq, key, studio, amount) in rows {
                stored.insert(key, (seq, studio, amount, false));
            }
        }
        tx.commit()
            .await
            .map_err(db_error("committing the payment events"))?;
        if stored.values().any(|(_, _, _, fresh)| *fresh) {
            self.inbox_signal.notify_one();
        }
        Ok(events
            .iter()
            .enumerate()
            .map(|(position, event)| {
                if !known.contains(&event.studio_id) {
                    return Stored::UnknownStudio(event.studio_id);
                }
                match stored.get(&event.key) {
                    Some((seq, studio, amount, _))
                        if *studio != event.studio_id || *amount != event.amount =>
                    {
                        Stored::Conflict(*seq)
                    }
                    Some((seq, _, _, fresh))
                        if *fresh && first_of.get(event.key.as_str()) == Some(&position) =>
                    {
                        Stored::Accepted(*seq)
                    }
                    Some((seq, _, _, _)) => Stored::Duplicate(*seq),
                    None => Stored::Lost,
                }
            })
            .collect())
    }
}

/// Those of `studios` that exist, as `on` sees them (in chunks of 1,000 ids).
///
/// Errors: 503/500 when the database fails.
async fn existing_studios(
    mut on: db::Target<'_>,
    studios: &[StudioId],
) -> Result<Vec<StudioId>, AppError> {
    let mut found = Vec::new();
    for chunk in studios.chunks(1000) {
        found.extend(
            db::query_scalar::<StudioId>(format!(
                "SELECT id FROM studios WHERE id IN ({})",
                db::placeholders(1, chunk.len())
            ))
            .bind_all(chunk.iter().copied())
            .fetch_all(on.reborrow())
            .await
            .map_err(db_error("looking up the studios"))?,
        );
    }
    Ok(found)
}

/// `INSERT .. ON CONFLICT DO NOTHING RETURNING seq, event_key` of inbox events.
type InboxInsert = db::QueryAs<'static, (i64, String)>;

/// The inbox inserts of a group, built before the write lock is taken.
struct InboxInserts {
    /// Each statement with the positions of the events it inserts.
    statements: Vec<(InboxInsert, Vec<usize>)>,
    /// Positions of the first occurrence of each key among events of known studios.
    candidates: Vec<usize>,
    /// Key -> position of its first occurrence (later ones compare with it like redeliveries).
    first_of: HashMap<String, usize>,
}

/// The inserts of the first occurrence of each key of `events` whose studio is `known`.
fn inbox_inserts(
    events: &[NewEvent],
    known: &HashSet<StudioId>,
    received_at: DateTime<Utc>,
) -> InboxInserts {
    let mut first_of: HashMap<String, usize> = HashMap::new();
    let mut candidates: Vec<usize> = Vec::new();
    for (position, event) in events.iter().enumerate() {
        if known.contains(&event.studio_id) && !first_of.contains_key(event.key.as_str()) {
            first_of.insert(event.key.clone(), position);
            candidates.push(position);
        }
    }
    let statements = candidates
        .chunks(1000)
        .map(|chunk| {
            let sql = format!(
                "INSERT INTO payment_events (event_key, studio_id, provider, provider_payment_id, event_type, amount, occurred_at, received_at)
                 VALUES {} ON CONFLICT (occurred_at, event_key) DO NOTHING RETURNING seq, event_key",
                db::values_list(chunk.len(), 8)
            );
            let insert = chunk.iter().map(|position| &events[*position]).fold(
                db::query_as::<(i64, String)>(sql),
                |q, e| {
                    q.bind(e.key.clone())
                        .bind(e.studio_id)
                        .bind(e.provider.clone())
                        .bind(e.provider_payment_id.clone())
                        .bind(e.event_type)
                        .bind(e.amount)
                        .bind(e.occurred_at)
                        .bind(received_at)
                },
            );
            (insert, chunk.to_vec())
        })
        .collect();
    InboxInserts {
        statements,
        candidates,
        first_of,
    }
}

fn group_poisoned() -> AppError {
    tracing::error!(
        "the payment events' group commit queue is poisoned (a panic while holding it)"
    );
    AppError::Internal {
        message: "payment events cannot be stored right now; it is logged on the server".into(),
    }
}

/// The inbox worker: applies received events as they arrive (woken by ingestion on this
/// instance, and at least every second for events stored by other instances), until `stop`
/// resolves. A failed round is logged and retried after a pause; its events stay received.
pub async fn run_inbox_worker(engine: Engine, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut failures: u32 = 0;
    let mut size = RoundSize::new(INBOX_BATCH_MAX);
    tracing::info!("payment inbox worker started");
    loop {
        let round = tokio::select! {
            _ = &mut stop => break,
            round = engine.process_payment_inbox(size.next()) => round,
        };
        let pause = match round {
            Ok(0) => {
                failures = 0;
                size.after(0);
                Some(std::time::Duration::from_secs(1))
            }
            Ok(taken) => {
                failures = 0;
                size.after(taken);
                None
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(%error, failures, "payment inbox round failed; the events stay in the inbox and are retried");
                Some(std::time::Duration::from_millis(
                    (250u64 << failures.min(6)).min(15_000),
                ))
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                _ = &mut stop => break,
                _ = engine.payment_inbox_signal().notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
    tracing::info!("payment inbox worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_grow_while_a_backlog_fills_them_and_shrink_once_caught_up() {
        let mut size = RoundSize::new(INBOX_BATCH_MAX);
        let mut taken = Vec::new();
        for _ in 0..7 {
            taken.push(size.next());
            size.after(size.next());
        }
        assert_eq!(taken, [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        size.after(3_000);
        assert_eq!(
            size.next(),
            INBOX_BATCH,
            "a round that was not full: caught up"
        );
        size.after(0);
        assert_eq!(size.next(), INBOX_BATCH);

        let mut small = RoundSize::new(200);
        assert_eq!(small.next(), 200);
        small.after(200);
        assert_eq!(small.next(), 200, "never over the cap");
        assert_eq!(RoundSize::new(0).next(), 1);
    }

    #[test]
    fn the_event_key_depends_on_exactly_provider_payment_type_and_time() {
        let at = DateTime::from_timestamp_millis(1_790_000_000_123).expect("a valid instant");
        let key = payment_event_key("sumup", "p-1", PaymentAction::Captured, at);
        assert!(key.starts_with("pe_") && key.len() == 35, "{key}");
        assert_eq!(
            key,
            payment_event_key("sumup", "p-1", PaymentAction::Captured, at)
        );
        for other in [
            payment_event_key("payrexx", "p-1", PaymentAction::Captured, at),
            payment_event_key("sumup", "p-2", PaymentAction::Captured, at),
            payment_event_key("sumup", "p-1", PaymentAction::Settled, at),
            payment_event_key(
                "sumup",
                "p-1",
                PaymentAction::Captured,
                at + chrono::Duration::milliseconds(1),
            ),
        ] {
            assert_ne!(key, other);
        }
        // Field boundaries are unambiguous: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            payment_event_key("ab", "c", PaymentAction::Captured, at),
            payment_event_key("a", "bc", PaymentAction::Captured, at)
        );
    }

    #[test]
    fn transfer_ids_are_derived_and_follow_the_inbox_sequence() {
        let captured = TransferKind::PaymentCaptured;
        let refunded = TransferKind::PaymentRefunded;
        // Derived: the same cause always gives the same id, so it can never post twice.
        assert_eq!(
            transfer_id("pe_1", captured, Some(7)),
            transfer_id("pe_1", captured, Some(7))
        );
        assert_ne!(
            transfer_id("pe_1", captured, Some(7)),
            transfer_id("pe_1", refunded, Some(7))
        );
        // Later events' transfers sort after earlier ones (appended to the ledger's indexes),
        // across the bytes the UUID version and variant occupy.
        let ids: Vec<uuid::Uuid> = [1_i64, 255, 256, 65_535, 65_536, 1 << 40, (1 << 48) - 1]
            .iter()
            .map(|s| transfer_id("pe_x", captured, Some(*s)))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(ids.iter().all(|id| id.get_version_num() == 8));
        // Without a sequence (an operator's action) or beyond 48 bits: the hash alone.
        assert_eq!(
            transfer_id("payment p version 2", captured, None),
            derived_id("payment p version 2 payment_captured")
        );
        assert_eq!(
            transfer_id("pe_1", captured, Some(1 << 48)),
            transfer_id("pe_1", captured, None)
        );
    }
}
