//! The "legacy batch": an independent, in-memory computation of what a delivered event stream
//! must leave behind, per studio: payments by state, captured, refunded and settled amounts, the
//! three ledger balances and the parked events. The replay compares the engine with it.
//!
//! It is written from the rules (docs/replay.md), not from the engine: it must never call
//! `PaymentBook::apply`, `PaymentState::apply` or anything in `app::engine`, and it shares only
//! plain data types with them, so that a mistake in the engine's state machine or money rules
//! shows up as a discrepancy instead of being repeated here.

use app::domain::{PaymentAction, PaymentEventRequest, PaymentState, PaymentTotals, StudioId};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Largest amount an event may carry, Rappen (CHF 1 million).
pub const MAX_AMOUNT: i64 = 100_000_000;

/// What the reference computed from a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceOutcome {
    /// Events stored (first delivery of a valid key).
    pub accepted: usize,
    /// Redeliveries of a stored key with the same studio and amount.
    pub duplicates: usize,
    /// Invalid events and redeliveries of a key with another studio or amount.
    pub rejected: usize,
    /// Per studio with any payment or accepted event, ordered by studio id.
    pub totals: Vec<PaymentTotals>,
}

/// One accepted event, with its place in delivery order.
#[derive(Clone, Debug)]
struct Stored {
    sequence: u64,
    /// Provider time in milliseconds since 1970 (the precision the key uses).
    at_ms: i64,
    studio: StudioId,
    action: PaymentAction,
    amount: i64,
}

/// A payment as the rules see it; amounts in Rappen.
#[derive(Clone, Debug)]
struct Book {
    studio: StudioId,
    state: PaymentState,
    authorised: i64,
    captured: i64,
    refunded: i64,
    settled: Option<i64>,
}

type PaymentKey = (String, String);

/// A studio's compared fields: (name, value).
type Fields = Vec<(String, i64)>;

/// Computes the outcome of delivering `events` in order to a system whose studios are
/// `studios`.
pub fn compute(events: &[PaymentEventRequest], studios: &[StudioId]) -> ReferenceOutcome {
    let known: HashSet<StudioId> = studios.iter().copied().collect();
    // Ingestion: the first delivery of each key is stored, in delivery order.
    let mut seen: HashMap<(String, String, PaymentAction, i64), (StudioId, i64)> = HashMap::new();
    let mut stored: Vec<(PaymentKey, Stored)> = Vec::new();
    let (mut duplicates, mut rejected) = (0, 0);
    for event in events {
        if !valid_at_the_boundary(event, &known) {
            rejected += 1;
            continue;
        }
        let at_ms = event.occurred_at.timestamp_millis();
        let key = (
            event.provider.clone(),
            event.provider_payment_id.clone(),
            event.event_type,
            at_ms,
        );
        match seen.get(&key) {
            Some(&(studio, amount)) if studio == event.studio_id && amount == event.amount => {
                duplicates += 1;
            }
            Some(_) => rejected += 1,
            None => {
                seen.insert(key, (event.studio_id, event.amount));
                stored.push((
                    (event.provider.clone(), event.provider_payment_id.clone()),
                    Stored {
                        sequence: stored.len() as u64 + 1,
                        at_ms,
                        studio: event.studio_id,
                        action: event.event_type,
                        amount: event.amount,
                    },
                ));
            }
        }
    }
    let accepted = stored.len();

    // Application, in sequence order, with the parked events of a payment retried after each
    // change of it.
    let mut books: HashMap<PaymentKey, Book> = HashMap::new();
    let mut parked: HashMap<PaymentKey, Vec<Stored>> = HashMap::new();
    let mut active: HashSet<StudioId> = HashSet::new();
    for (payment, event) in stored {
        active.insert(event.studio);
        if apply(&mut books, &payment, &event) {
            retry_parked(&mut books, &mut parked, &payment);
        } else {
            parked.entry(payment).or_default().push(event);
        }
    }

    // Totals per studio.
    let mut totals: BTreeMap<StudioId, PaymentTotals> = BTreeMap::new();
    for studio in active {
        totals.insert(studio, PaymentTotals::empty(studio));
    }
    for book in books.values() {
        let t = totals
            .entry(book.studio)
            .or_insert_with(|| PaymentTotals::empty(book.studio));
        *t.payments
            .entry(book.state.as_str().to_string())
            .or_insert(0) += 1;
        let settled = book.settled.unwrap_or(0);
        t.captured += book.captured;
        t.refunded += book.refunded;
        t.settled += settled;
        t.card_clearing_balance += book.captured - book.refunded - settled;
        t.card_sales_balance += book.captured - book.refunded;
        t.bank_balance += settled;
    }
    for event in parked.values().flatten() {
        totals
            .entry(event.studio)
            .or_insert_with(|| PaymentTotals::empty(event.studio))
            .parked_events += 1;
    }
    ReferenceOutcome {
        accepted,
        duplicates,
        rejected,
        totals: totals.into_values().collect(),
    }
}

/// Whether ingestion may store the event at all: CHF, an amount of 0 to [`MAX_AMOUNT`], a
/// provider of 1 to 40 of `a-z 0-9 _ -`, a payment id of 1 to 100 printable ASCII characters
/// (space included), a known studio.
pub fn valid_at_the_boundary(event: &PaymentEventRequest, studios: &HashSet<StudioId>) -> bool {
    let provider_ok = (1..=40).contains(&event.provider.len())
        && event
            .provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let id_ok = (1..=100).contains(&event.provider_payment_id.len())
        && event
            .provider_payment_id
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b));
    event.currency == "CHF"
        && (0..=MAX_AMOUNT).contains(&event.amount)
        && provider_ok
        && id_ok
        && studios.contains(&event.studio_id)
}

/// Retries the parked events of `payment` in provider-time order (delivery order among equal
/// times), pass after pass, until a pass applies none.
fn retry_parked(
    books: &mut HashMap<PaymentKey, Book>,
    parked: &mut HashMap<PaymentKey, Vec<Stored>>,
    payment: &PaymentKey,
) {
    loop {
        let Some(mut waiting) = parked.remove(payment) else {
            return;
        };
        waiting.sort_by_key(|e| (e.at_ms, e.sequence));
        let mut still = Vec::with_capacity(waiting.len());
        let mut progressed = false;
        for event in waiting {
            if apply(books, payment, &event) {
                progressed = true;
            } else {
                still.push(event);
            }
        }
        if !still.is_empty() {
            parked.insert(payment.clone(), still);
        }
        if !progressed {
            return;
        }
    }
}

/// Applies one event to its payment (creating it when the event may); whether it applied.
fn apply(books: &mut HashMap<PaymentKey, Book>, payment: &PaymentKey, event: &Stored) -> bool {
    match books.get_mut(payment) {
        Some(book) => {
            if book.studio != event.studio {
                return false;
            }
            match step(book, event.action, event.amount) {
                Some(next) => {
                    *book = next;
                    true
                }
                None => false,
            }
        }
        None => {
            let creates = matches!(
                event.action,
                PaymentAction::Submitted | PaymentAction::Authorized
            );
            if !creates {
                return false;
            }
            let draft = Book {
                studio: event.studio,
                state: PaymentState::Draft,
                authorised: 0,
                captured: 0,
                refunded: 0,
                settled: None,
            };
            match step(&draft, event.action, event.amount) {
                Some(created) => {
                    books.insert(payment.clone(), created);
                    true
                }
                None => false,
            }
        }
    }
}

/// The rules: the book after `action` with `amount`, or `None` when the rules refuse it.
fn step(book: &Book, action: PaymentAction, amount: i64) -> Option<Book> {
    use PaymentState as S;
    let mut next = book.clone();
    let from = book.state;
    let refundable = book.captured - book.refunded;
    let captured_before = matches!(from, S::Succeeded | S::PartiallyRefunded);
    match action {
        PaymentAction::Submitted => {
            if from != S::Draft || amount <= 0 {
                return None;
            }
            next.state = S::Submitted;
            next.authorised = amount;
        }
        PaymentAction::Authorized => {
            if !matches!(from, S::Draft | S::Submitted) || amount <= 0 {
                return None;
            }
            next.state = S::Processing;
            next.authorised = amount;
        }
        PaymentAction::Cancelled => {
            if !matches!(from, S::Draft | S::Submitted | S::Processing) {
                return None;
            }
            next.state = S::Cancelled;
        }
        PaymentAction::Failed => {
            if !matches!(from, S::Submitted | S::Processing) {
                return None;
            }
            next.state = S::Failed;
        }
        PaymentAction::Captured => {
            if from != S::Processing || amount <= 0 || amount > book.authorised {
                return None;
            }
            next.state = S::Succeeded;
            next.captured = amount;
        }
        PaymentAction::PartiallyRefunded => {
            if !captured_before || amount <= 0 || amount > refundable {
                return None;
            }
            next.refunded += amount;
            next.state = if next.refunded == next.captured {
                S::Refunded
            } else {
                S::PartiallyRefunded
            };
        }
        PaymentAction::Refunded => {
            if !captured_before || amount != refundable {
                return None;
            }
            next.refunded = book.captured;
            next.state = S::Refunded;
        }
        PaymentAction::Settled => {
            let settleable = captured_before || from == S::Refunded;
            if !settleable || book.settled.is_some() || amount < 0 || amount > book.captured {
                return None;
            }
            next.settled = Some(amount);
        }
    }
    Some(next)
}

/// One field of one studio where the engine and the reference disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discrepancy {
    /// The studio.
    pub studio_id: StudioId,
    /// The field (`captured`, `payments.refunded`, `parked_events`, ...).
    pub field: String,
    /// The engine's value (Rappen, or a count).
    pub engine: i64,
    /// The reference's value.
    pub reference: i64,
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "studio {} {}: engine {} vs reference {} (difference {})",
            self.studio_id,
            self.field,
            self.engine,
            self.reference,
            self.engine - self.reference
        )
    }
}

/// The fields compared, with their values, of one studio's totals.
fn fields(totals: &PaymentTotals) -> Fields {
    let mut fields: Fields = PaymentState::ALL
        .iter()
        .map(|state| {
            (
                format!("payments.{}", state.as_str()),
                totals.payments.get(state.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    // A state name neither side knows is a discrepancy too (the engine reporting "unknown").
    for (name, count) in &totals.payments {
        if PaymentState::parse(name).is_err() {
            fields.push((format!("payments.{name}"), *count));
        }
    }
    fields.extend([
        ("captured".to_string(), totals.captured),
        ("refunded".to_string(), totals.refunded),
        ("settled".to_string(), totals.settled),
        (
            "card_clearing_balance".to_string(),
            totals.card_clearing_balance,
        ),
        ("card_sales_balance".to_string(), totals.card_sales_balance),
        ("bank_balance".to_string(), totals.bank_balance),
        ("parked_events".to_string(), totals.parked_events),
    ]);
    fields
}

/// Every field where `engine` and `reference` disagree, studio by studio (a studio missing on
/// one side counts as all zeros there; a studio listed twice by the engine is a discrepancy on
/// the field `listed`).
pub fn compare(engine: &[PaymentTotals], reference: &[PaymentTotals]) -> Vec<Discrepancy> {
    let mut found = Vec::new();
    let mut by_studio: BTreeMap<StudioId, (Fields, Fields)> = BTreeMap::new();
    let mut listed: BTreeMap<StudioId, i64> = BTreeMap::new();
    for totals in engine {
        *listed.entry(totals.studio_id).or_insert(0) += 1;
        by_studio.entry(totals.studio_id).or_default().0 = fields(totals);
    }
    for totals in reference {
        by_studio.entry(totals.studio_id).or_default().1 = fields(totals);
    }
    for (studio_id, times) in listed {
        if times > 1 {
            found.push(Discrepancy {
                studio_id,
                field: "listed".into(),
                engine: times,
                reference: 1,
            });
        }
    }
    for (studio_id, (engine, reference)) in by_studio {
        let engine: BTreeMap<String, i64> = engine.into_iter().collect();
        let reference: BTreeMap<String, i64> = reference.into_iter().collect();
        let names: std::collections::BTreeSet<&String> =
            engine.keys().chain(reference.keys()).collect();
        for name in names {
            let e = engine.get(name).copied().unwrap_or(0);
            let r = reference.get(name).copied().unwrap_or(0);
            if e != r {
                found.push(Discrepancy {
                    studio_id,
                    field: name.clone(),
                    engine: e,
                    reference: r,
                });
            }
        }
    }
    found
}
