//! A seeded, realistic stream of payment-provider events (issue 6's parallel run): payments
//! across many studios with their lifecycles interleaved in provider time, then delivered the way
//! providers deliver webhooks: some twice, some late, some wrong. The same seed always gives the
//! same stream (ChaCha8), so a discrepancy can be replayed.
//!
//! This module only builds data; it never touches the engine or the database. Every count it
//! promises (duplicates, reordered, each kind of invalid event) is exact and reported in
//! [`StreamStats`].

use app::domain::{PaymentAction, PaymentEventRequest, StudioId};
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Most positions a reordered event is delivered late by.
pub const MAX_REORDER_DISTANCE: usize = 200;

/// Most positions after its original a duplicate (or a conflicting redelivery) arrives.
pub const MAX_REDELIVERY_DISTANCE: usize = 5_000;

/// The smallest and largest authorised amount of a generated payment, Rappen (CHF 5 to 500).
pub const AUTHORISED_RANGE: std::ops::RangeInclusive<i64> = 500..=50_000;

/// The providers payments come from.
pub const PROVIDERS: [&str; 3] = ["sumup", "worldline", "payrexx"];

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamOptions {
    /// Events delivered in total (lifecycle events, invalid ones and redeliveries together).
    pub events: usize,
    /// Studios (merchants) the payments belong to; at least 1.
    pub studios: usize,
    /// The ChaCha seed.
    pub seed: u64,
}

impl Default for StreamOptions {
    /// Issue 6's replay: 1.2 million events across 500 studios, seed 6.
    fn default() -> Self {
        StreamOptions {
            events: 1_200_000,
            studios: 500,
            seed: 6,
        }
    }
}

/// What the stream contains, exactly. The `expected_*` counts are what ingestion must answer
/// (a boundary-invalid event or a conflicting redelivery is rejected; a redelivered copy is a
/// duplicate; everything else is accepted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Events delivered in total (= the requested number).
    pub delivered: usize,
    /// Payments with a lifecycle (not counting the ids of unknown-payment events).
    pub payments: usize,
    /// Lifecycle events: what the providers really reported, each delivered once at least.
    pub lifecycle_events: usize,
    /// Of those, by event type (indexed like [`PaymentAction::ALL`]).
    pub lifecycle_by_type: [usize; 8],
    /// Exact redeliveries of an earlier event (same content, later).
    pub duplicates: usize,
    /// Events delivered late by 1 to [`MAX_REORDER_DISTANCE`] positions.
    pub reordered: usize,
    /// Partial refunds over the captured amount (accepted, then parked for good).
    pub over_refunds: usize,
    /// Captures over the authorised amount (accepted, then parked for good).
    pub over_captures: usize,
    /// Events of payments that never existed (accepted, then parked for good).
    pub unknown_payment: usize,
    /// Events in another currency ("EUR"): rejected at ingestion.
    pub wrong_currency: usize,
    /// Events with a negative amount: rejected at ingestion.
    pub negative_amount: usize,
    /// Events of a studio that does not exist: rejected at ingestion.
    pub unknown_studio: usize,
    /// Redeliveries of an earlier event's key with another amount: rejected at ingestion.
    pub conflicting: usize,
    /// Events ingestion must accept.
    pub expected_accepted: usize,
    /// Events ingestion must acknowledge as duplicates.
    pub expected_duplicates: usize,
    /// Events ingestion must reject.
    pub expected_rejected: usize,
}

impl StreamStats {
    /// All invalid events (money-invalid, unknown payment, boundary-invalid, conflicting).
    pub fn invalid(&self) -> usize {
        self.over_refunds
            + self.over_captures
            + self.unknown_payment
            + self.wrong_currency
            + self.negative_amount
            + self.unknown_studio
            + self.conflicting
    }
}

/// The generated stream: the studios to create and the events in delivery order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedStream {
    /// The studios the events belong to (create them before ingesting).
    pub studios: Vec<StudioId>,
    /// The events, in delivery order.
    pub events: Vec<PaymentEventRequest>,
    /// What the stream contains.
    pub stats: StreamStats,
}

/// How a provider-time event came about (decides what it may be copied into).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A real lifecycle event.
    Lifecycle,
    /// Accepted at ingestion but never applicable (over-refund, over-capture, unknown payment).
    Unapplicable,
    /// Rejected at ingestion (bad currency, negative amount, unknown studio).
    BoundaryInvalid,
}

struct Draft {
    event: PaymentEventRequest,
    kind: Kind,
}

/// One payment's provider-time events, built in order.
struct Lifecycle {
    studio: StudioId,
    provider: &'static str,
    id: String,
    at: DateTime<Utc>,
    events: Vec<PaymentEventRequest>,
}

impl Lifecycle {
    /// Appends an event `gap_ms` milliseconds (≥ 1) after the previous one.
    fn push(&mut self, event_type: PaymentAction, amount: i64, gap_ms: i64) {
        self.at += Duration::milliseconds(gap_ms.max(1));
        self.events.push(event(
            self.provider,
            &self.id,
            event_type,
            amount,
            self.at,
            self.studio,
        ));
    }
}

fn event(
    provider: &str,
    id: &str,
    event_type: PaymentAction,
    amount: i64,
    occurred_at: DateTime<Utc>,
    studio_id: StudioId,
) -> PaymentEventRequest {
    PaymentEventRequest {
        provider: provider.to_string(),
        provider_payment_id: id.to_string(),
        event_type,
        amount,
        currency: "CHF".to_string(),
        occurred_at,
        studio_id,
    }
}

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// Generates the stream `options` describes. Deterministic: the same options give the same
/// studios and events.
///
/// The counts: 10% of the delivered events are duplicates, 5% are reordered, 1% are invalid
/// (split evenly over the seven kinds of [`StreamStats`]); the rest are lifecycle events.
/// Each is an exact integer share of `options.events` (rounded down), reported in the stats.
pub fn generate(options: StreamOptions) -> GeneratedStream {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let studio_count = options.studios.max(1);
    let studios: Vec<StudioId> = (0..studio_count)
        .map(|_| StudioId(uuid::Builder::from_random_bytes(rng.random()).into_uuid()))
        .collect();
    let total = options.events;
    let duplicates = total / 10;
    let reordered = total / 20;
    let invalid = total / 100;
    let per_kind = invalid / 7;
    let mut stats = StreamStats {
        delivered: total,
        duplicates,
        over_captures: per_kind,
        over_refunds: per_kind,
        wrong_currency: per_kind,
        negative_amount: per_kind,
        unknown_studio: per_kind,
        conflicting: per_kind,
        unknown_payment: invalid - 6 * per_kind,
        ..StreamStats::default()
    };
    // Each over-capture needs an authorisation, counted as a lifecycle event.
    let lifecycle_budget = total - duplicates - invalid;
    let pick_studio = |rng: &mut ChaCha8Rng| -> StudioId {
        // A skewed spread: some studios are much busier than others.
        let u: f64 = rng.random();
        studios[((u * u * studio_count as f64) as usize).min(studio_count - 1)]
    };
    // Payments start spread over a window that grows with their number (about one every 20
    // seconds over all studios), so their lifecycles interleave.
    let epoch = Utc
        .with_ymd_and_hms(2026, 1, 5, 6, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let window_ms = ((lifecycle_budget as i64) / 4).max(1) * 20 * SECOND;
    let mut counter = 0_usize;
    let mut new_lifecycle = |rng: &mut ChaCha8Rng| -> Lifecycle {
        counter += 1;
        let p = rng.random_range(0..PROVIDERS.len());
        let provider = PROVIDERS[p];
        let id = match p {
            0 => format!("TX{counter:010}"),
            1 => format!("WL-{:04}-{counter:09}", 1000 + counter % 9000),
            _ => format!("prx_{counter:09}"),
        };
        Lifecycle {
            studio: pick_studio(rng),
            provider,
            id,
            at: epoch + Duration::milliseconds(rng.random_range(0..window_ms)),
            events: Vec::new(),
        }
    };

    let mut lifecycles: Vec<Lifecycle> = Vec::new();
    let mut lifecycle_events = 0_usize;
    let mut drafts: Vec<Draft> = Vec::with_capacity(total);
    // Over-captures: an authorisation, then a capture of more than it.
    for _ in 0..stats.over_captures.min(lifecycle_budget) {
        let mut payment = new_lifecycle(&mut rng);
        let authorised = rng.random_range(AUTHORISED_RANGE);
        payment.push(PaymentAction::Authorized, authorised, 0);
        lifecycle_events += 1;
        let over = authorised + rng.random_range(1..=2_000);
        payment.push(
            PaymentAction::Captured,
            over,
            rng.random_range(SECOND..=10 * MINUTE),
        );
        let captured = payment.events.pop();
        drafts.extend(captured.map(|event| Draft {
            event,
            kind: Kind::Unapplicable,
        }));
        lifecycles.push(payment);
    }
    stats.over_captures = stats.over_captures.min(lifecycle_budget);
    // Regular payments until the lifecycle budget is spent exactly (the last one may be cut
    // short: a prefix of a lifecycle is a lifecycle that has not finished yet).
    while lifecycle_events < lifecycle_budget {
        let mut payment = new_lifecycle(&mut rng);
        regular_lifecycle(&mut rng, &mut payment);
        payment.events.truncate(lifecycle_budget - lifecycle_events);
        lifecycle_events += payment.events.len();
        lifecycles.push(payment);
    }
    stats.payments = lifecycles.len();
    // Over-refunds: a partial refund of more than was captured, after a payment's last event.
    let captured: Vec<usize> = lifecycles
        .iter()
        .enumerate()
        .filter(|(_, p)| captured_amount(p).is_some())
        .map(|(i, _)| i)
        .collect();
    if captured.is_empty() {
        stats.over_refunds = 0;
    }
    for _ in 0..stats.over_refunds {
        let payment = &mut lifecycles[captured[rng.random_range(0..captured.len())]];
        let amount = captured_amount(payment).unwrap_or(0) + rng.random_range(1..=5_000);
        payment.push(
            PaymentAction::PartiallyRefunded,
            amount,
            rng.random_range(MINUTE..=48 * HOUR),
        );
        let over = payment.events.pop();
        drafts.extend(over.map(|event| Draft {
            event,
            kind: Kind::Unapplicable,
        }));
    }
    for payment in lifecycles {
        for event in payment.events {
            stats.lifecycle_by_type[action_index(event.event_type)] += 1;
            drafts.push(Draft {
                event,
                kind: Kind::Lifecycle,
            });
        }
    }
    stats.lifecycle_events = lifecycle_events;
    // Events of payments that never existed, and the boundary-invalid ones (each with its own
    // payment id, so that no rule but the broken one decides their fate).
    let after_event_types = [
        PaymentAction::Captured,
        PaymentAction::PartiallyRefunded,
        PaymentAction::Refunded,
        PaymentAction::Settled,
    ];
    let mut stray = |rng: &mut ChaCha8Rng, prefix: &str, kind: Kind| -> Draft {
        let payment = new_lifecycle(rng);
        let event_type = after_event_types[rng.random_range(0..after_event_types.len())];
        Draft {
            event: event(
                payment.provider,
                &format!("{prefix}-{}", payment.id),
                event_type,
                rng.random_range(AUTHORISED_RANGE),
                payment.at,
                payment.studio,
            ),
            kind,
        }
    };
    for _ in 0..stats.unknown_payment {
        drafts.push(stray(&mut rng, "ghost", Kind::Unapplicable));
    }
    for _ in 0..stats.wrong_currency {
        let mut draft = stray(&mut rng, "eur", Kind::BoundaryInvalid);
        draft.event.currency = "EUR".into();
        drafts.push(draft);
    }
    for _ in 0..stats.negative_amount {
        let mut draft = stray(&mut rng, "neg", Kind::BoundaryInvalid);
        draft.event.amount = -draft.event.amount;
        drafts.push(draft);
    }
    for _ in 0..stats.unknown_studio {
        let mut draft = stray(&mut rng, "nostudio", Kind::BoundaryInvalid);
        draft.event.studio_id =
            StudioId(uuid::Builder::from_random_bytes(rng.random()).into_uuid());
        drafts.push(draft);
    }

    // Provider time order (payments interleave), then the late deliveries.
    drafts.sort_by_key(|draft| draft.event.occurred_at);
    let reorder_candidates = drafts.len().saturating_sub(1);
    stats.reordered = reordered.min(reorder_candidates);
    let mut moved = vec![false; drafts.len()];
    let mut chosen = 0;
    while chosen < stats.reordered {
        let i = rng.random_range(0..reorder_candidates);
        if !moved[i] {
            moved[i] = true;
            chosen += 1;
        }
    }
    // Delivery positions: an event moved by d goes right after the event d places later.
    let mut keyed: Vec<((usize, u8, usize), Draft)> = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| {
            let position = if moved[i] {
                let d = rng.random_range(1..=MAX_REORDER_DISTANCE);
                ((i + d).min(reorder_candidates), 1, i)
            } else {
                (i, 0, i)
            };
            (position, draft)
        })
        .collect();
    keyed.sort_by_key(|(position, _)| *position);
    let delivered: Vec<Draft> = keyed.into_iter().map(|(_, draft)| draft).collect();

    // Redeliveries: exact copies (duplicates) of events ingestion accepts, and copies of
    // lifecycle events with another amount (conflicting), each some positions after the original.
    let copyable: Vec<usize> = (0..delivered.len())
        .filter(|&i| delivered[i].kind != Kind::BoundaryInvalid)
        .collect();
    let lifecycle_positions: Vec<usize> = (0..delivered.len())
        .filter(|&i| delivered[i].kind == Kind::Lifecycle)
        .collect();
    if copyable.is_empty() {
        stats.duplicates = 0;
    }
    if lifecycle_positions.is_empty() {
        stats.conflicting = 0;
    }
    let mut copies: Vec<((usize, u8, usize), PaymentEventRequest)> =
        Vec::with_capacity(stats.duplicates + stats.conflicting);
    for n in 0..stats.duplicates {
        let from = copyable[rng.random_range(0..copyable.len())];
        let at = from + rng.random_range(1..=MAX_REDELIVERY_DISTANCE);
        copies.push(((at, 1, n), delivered[from].event.clone()));
    }
    for n in 0..stats.conflicting {
        let from = lifecycle_positions[rng.random_range(0..lifecycle_positions.len())];
        let at = from + rng.random_range(1..=MAX_REDELIVERY_DISTANCE);
        let mut copy = delivered[from].event.clone();
        copy.amount += rng.random_range(1..=100);
        copies.push(((at, 1, stats.duplicates + n), copy));
    }
    let mut all: Vec<((usize, u8, usize), PaymentEventRequest)> = delivered
        .into_iter()
        .enumerate()
        .map(|(i, draft)| ((i, 0, i), draft.event))
        .chain(copies)
        .collect();
    all.sort_by_key(|(position, _)| *position);
    let events: Vec<PaymentEventRequest> = all.into_iter().map(|(_, event)| event).collect();

    let boundary_invalid = stats.wrong_currency + stats.negative_amount + stats.unknown_studio;
    stats.delivered = events.len();
    stats.expected_duplicates = stats.duplicates;
    stats.expected_rejected = boundary_invalid + stats.conflicting;
    stats.expected_accepted = stats.delivered - stats.expected_duplicates - stats.expected_rejected;
    GeneratedStream {
        studios,
        events,
        stats,
    }
}

/// A regular payment (provider time): sometimes `submitted` first, then `authorized`; then
/// captured (90%), failed (5%) or cancelled (5%); of the captured ones about 20% get one or two
/// partial refunds and 5% a full refund, and 85% are settled for what is left after the refunds
/// before it (one partial refund may follow the settlement).
fn regular_lifecycle(rng: &mut ChaCha8Rng, payment: &mut Lifecycle) {
    let authorised = rng.random_range(AUTHORISED_RANGE);
    if rng.random_bool(0.10) {
        payment.push(PaymentAction::Submitted, authorised, 0);
        payment.push(
            PaymentAction::Authorized,
            authorised,
            rng.random_range(SECOND..=2 * MINUTE),
        );
    } else {
        payment.push(PaymentAction::Authorized, authorised, 0);
    }
    let outcome: f64 = rng.random();
    if outcome < 0.05 {
        payment.push(
            PaymentAction::Failed,
            authorised,
            rng.random_range(SECOND..=5 * MINUTE),
        );
        return;
    }
    if outcome < 0.10 {
        payment.push(
            PaymentAction::Cancelled,
            authorised,
            rng.random_range(SECOND..=30 * MINUTE),
        );
        return;
    }
    let captured = if rng.random_bool(0.7) {
        authorised
    } else {
        authorised - rng.random_range(1..=authorised / 10)
    };
    payment.push(
        PaymentAction::Captured,
        captured,
        rng.random_range(SECOND..=10 * MINUTE),
    );
    // The refunds, in order: (type, amount).
    let mut refunds: Vec<(PaymentAction, i64)> = Vec::new();
    let refund: f64 = rng.random();
    if refund < 0.20 {
        let first = rng.random_range(1..=(captured / 2).max(1));
        refunds.push((PaymentAction::PartiallyRefunded, first));
        if rng.random_bool(0.4) && captured - first >= 1 {
            refunds.push((
                PaymentAction::PartiallyRefunded,
                rng.random_range(1..=captured - first),
            ));
        }
    } else if refund < 0.25 {
        if rng.random_bool(0.3) {
            refunds.push((
                PaymentAction::PartiallyRefunded,
                rng.random_range(1..=(captured / 2).max(1)),
            ));
        }
        let so_far: i64 = refunds.iter().map(|(_, a)| a).sum();
        refunds.push((PaymentAction::Refunded, captured - so_far));
    }
    let settles = rng.random_bool(0.85);
    // Where the settlement goes among the refunds: after all of them, or (sometimes) before the
    // last one.
    let settle_before = if settles && !refunds.is_empty() && rng.random_bool(0.15) {
        refunds.len() - 1
    } else {
        refunds.len()
    };
    let mut refunded = 0;
    for (i, (action, amount)) in refunds.iter().enumerate() {
        if settles && i == settle_before {
            payment.push(
                PaymentAction::Settled,
                captured - refunded,
                rng.random_range(12 * HOUR..=72 * HOUR),
            );
        }
        payment.push(*action, *amount, rng.random_range(MINUTE..=48 * HOUR));
        refunded += amount;
    }
    if settles && settle_before == refunds.len() {
        payment.push(
            PaymentAction::Settled,
            captured - refunded,
            rng.random_range(12 * HOUR..=72 * HOUR),
        );
    }
}

/// The captured amount of a lifecycle whose capture is in it.
fn captured_amount(payment: &Lifecycle) -> Option<i64> {
    payment
        .events
        .iter()
        .find(|e| e.event_type == PaymentAction::Captured)
        .map(|e| e.amount)
}

/// Position of `action` in [`PaymentAction::ALL`].
pub fn action_index(action: PaymentAction) -> usize {
    PaymentAction::ALL
        .iter()
        .position(|a| *a == action)
        .unwrap_or(0)
}
