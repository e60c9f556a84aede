//! The replay's parts on their own: the generator keeps its promises (deterministic, exact
//! proportions), the reference ("legacy batch") follows the rules on hand-written streams, the
//! comparison catches a planted difference; and a 20,000-event replay through the real engine
//! agrees with the reference (both backends).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::{PaymentAction, PaymentEventRequest, PaymentTotals, StudioId};
use app::engine::{Engine, EngineSettings};
use chrono::{DateTime, TimeZone as _, Utc};
use payout_server::replay::{self, generate, reference, ReplayOptions, StreamOptions};
use std::collections::{HashMap, HashSet};

fn small(seed: u64) -> StreamOptions {
    StreamOptions {
        events: 30_000,
        studios: 40,
        seed,
    }
}

#[test]
fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
    let a = generate::generate(small(7));
    let b = generate::generate(small(7));
    let c = generate::generate(small(8));
    assert_eq!(a, b);
    assert_ne!(a.events, c.events);
    assert_ne!(a.studios, c.studios);
}

#[test]
fn the_stream_keeps_its_promised_proportions_exactly() {
    let stream = generate::generate(small(1));
    let s = &stream.stats;
    let n = 30_000;
    assert_eq!(stream.events.len(), n);
    assert_eq!(s.delivered, n);
    assert_eq!(s.duplicates, n / 10);
    assert_eq!(s.reordered, n / 20);
    assert_eq!(s.invalid(), n / 100);
    for kind in [
        s.over_refunds,
        s.over_captures,
        s.wrong_currency,
        s.negative_amount,
        s.unknown_studio,
        s.conflicting,
    ] {
        assert_eq!(kind, n / 100 / 7);
    }
    assert_eq!(
        s.lifecycle_events + s.duplicates + s.invalid(),
        n,
        "every event is accounted for"
    );
    assert_eq!(
        s.lifecycle_by_type.iter().sum::<usize>(),
        s.lifecycle_events
    );
    assert_eq!(stream.studios.len(), 40);

    // What is in the events themselves.
    let eur = stream.events.iter().filter(|e| e.currency == "EUR").count();
    let negative = stream.events.iter().filter(|e| e.amount < 0).count();
    let studios: HashSet<StudioId> = stream.studios.iter().copied().collect();
    let foreign = stream
        .events
        .iter()
        .filter(|e| !studios.contains(&e.studio_id))
        .count();
    assert_eq!(
        (eur, negative, foreign),
        (s.wrong_currency, s.negative_amount, s.unknown_studio)
    );
    let mut copies: HashMap<String, usize> = HashMap::new();
    for e in &stream.events {
        *copies.entry(serde_json::to_string(e).unwrap()).or_default() += 1;
    }
    let exact_copies: usize = copies.values().map(|c| c - 1).sum();
    assert_eq!(exact_copies, s.duplicates);
    // Lifecycle mix: mostly captured, some failed and cancelled, refunds and settlements.
    let count = |a: PaymentAction| s.lifecycle_by_type[generate::action_index(a)] as f64;
    let authorised = count(PaymentAction::Authorized);
    let captured = count(PaymentAction::Captured) / authorised;
    assert!((0.85..0.95).contains(&captured), "captured {captured}");
    for rare in [PaymentAction::Failed, PaymentAction::Cancelled] {
        let share = count(rare) / authorised;
        assert!((0.03..0.07).contains(&share), "{rare} {share}");
    }
    let settled = count(PaymentAction::Settled) / count(PaymentAction::Captured);
    assert!((0.80..0.90).contains(&settled), "settled {settled}");
    let refunded = count(PaymentAction::Refunded) / count(PaymentAction::Captured);
    assert!((0.03..0.07).contains(&refunded), "refunded {refunded}");
    assert!(count(PaymentAction::PartiallyRefunded) > 0.15 * count(PaymentAction::Captured));
    let ids: HashSet<&str> = stream
        .events
        .iter()
        .map(|e| e.provider_payment_id.as_str())
        .collect();
    assert!(ids.len() >= s.payments, "payment ids are unique");
    // The expected ingestion answers are what the reference computes.
    let outcome = reference::compute(&stream.events, &stream.studios);
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.rejected),
        (
            s.expected_accepted,
            s.expected_duplicates,
            s.expected_rejected
        )
    );
    // Nothing left over that the generator did not mean: parked = unknown payment +
    // over-refunds + over-captures (+ events behind a refused capture, and `submitted` after a
    // late-applied authorisation, which are realistic leftovers) at least.
    let parked: i64 = outcome.totals.iter().map(|t| t.parked_events).sum();
    assert!(
        parked as usize >= s.unknown_payment + s.over_refunds + s.over_captures,
        "parked {parked}"
    );
}

// ---- the reference on hand-written streams ----

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).single().unwrap() + chrono::Duration::minutes(minute)
}

fn studio(n: u128) -> StudioId {
    StudioId(uuid::Uuid::from_u128(n))
}

fn ev(id: &str, action: PaymentAction, amount: i64, minute: i64) -> PaymentEventRequest {
    PaymentEventRequest {
        provider: "sumup".into(),
        provider_payment_id: id.into(),
        event_type: action,
        amount,
        currency: "CHF".into(),
        occurred_at: at(minute),
        studio_id: studio(1),
    }
}

fn only(outcome: &reference::ReferenceOutcome) -> &PaymentTotals {
    assert_eq!(outcome.totals.len(), 1, "{outcome:?}");
    &outcome.totals[0]
}

fn states(totals: &PaymentTotals) -> Vec<(&str, i64)> {
    totals
        .payments
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

use PaymentAction as A;

#[test]
fn a_redelivered_event_is_a_duplicate_and_moves_no_money_twice() {
    let capture = ev("p1", A::Captured, 4_000, 1);
    let outcome = reference::compute(
        &[
            ev("p1", A::Authorized, 5_000, 0),
            capture.clone(),
            capture.clone(),
            capture,
        ],
        &[studio(1)],
    );
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.rejected),
        (2, 2, 0)
    );
    let t = only(&outcome);
    assert_eq!(states(t), [("succeeded", 1)]);
    assert_eq!(
        (t.captured, t.card_clearing_balance, t.card_sales_balance),
        (4_000, 4_000, 4_000)
    );
    assert_eq!(t.parked_events, 0);
}

#[test]
fn a_capture_delivered_before_its_authorisation_applies_when_the_authorisation_arrives() {
    let outcome = reference::compute(
        &[
            ev("p1", A::Settled, 4_000, 2_000),
            ev("p1", A::Captured, 4_000, 1),
            ev("p1", A::Authorized, 5_000, 0),
        ],
        &[studio(1)],
    );
    assert_eq!(outcome.accepted, 3);
    let t = only(&outcome);
    assert_eq!(states(t), [("succeeded", 1)]);
    assert_eq!(
        (
            t.captured,
            t.settled,
            t.card_clearing_balance,
            t.bank_balance
        ),
        (4_000, 4_000, 0, 4_000)
    );
    assert_eq!(t.parked_events, 0, "both retried and applied");
}

#[test]
fn a_full_refund_waits_for_the_partial_refund_before_it() {
    let outcome = reference::compute(
        &[
            ev("p1", A::Authorized, 5_000, 0),
            ev("p1", A::Captured, 5_000, 1),
            ev("p1", A::Refunded, 3_000, 3),
            ev("p1", A::PartiallyRefunded, 2_000, 2),
        ],
        &[studio(1)],
    );
    let t = only(&outcome);
    assert_eq!(states(t), [("refunded", 1)]);
    assert_eq!(
        (t.refunded, t.card_sales_balance, t.parked_events),
        (5_000, 0, 0)
    );
}

#[test]
fn a_refund_over_the_captured_amount_is_parked() {
    let outcome = reference::compute(
        &[
            ev("p1", A::Authorized, 5_000, 0),
            ev("p1", A::Captured, 5_000, 1),
            ev("p1", A::PartiallyRefunded, 5_001, 2),
            ev("p1", A::PartiallyRefunded, 1_000, 3),
        ],
        &[studio(1)],
    );
    let t = only(&outcome);
    assert_eq!(states(t), [("partially_refunded", 1)]);
    assert_eq!((t.refunded, t.parked_events), (1_000, 1));
}

#[test]
fn events_of_an_unknown_payment_are_parked_and_other_studios_cannot_touch_a_payment() {
    let mut stranger = ev("p1", A::Captured, 1_000, 1);
    stranger.studio_id = studio(2);
    let outcome = reference::compute(
        &[
            ev("ghost", A::Captured, 1_000, 0),
            ev("ghost", A::Settled, 1_000, 1),
            ev("p1", A::Authorized, 1_000, 0),
            stranger,
        ],
        &[studio(1), studio(2)],
    );
    assert_eq!(outcome.accepted, 4);
    let one = outcome
        .totals
        .iter()
        .find(|t| t.studio_id == studio(1))
        .unwrap();
    let two = outcome
        .totals
        .iter()
        .find(|t| t.studio_id == studio(2))
        .unwrap();
    assert_eq!((one.parked_events, one.captured), (2, 0));
    assert_eq!(states(one), [("processing", 1)]);
    assert_eq!((two.parked_events, two.payments.len()), (1, 0));
}

#[test]
fn the_same_key_with_another_amount_or_invalid_content_is_rejected() {
    let mut other_studio = ev("p1", A::Authorized, 5_000, 0);
    other_studio.studio_id = studio(2);
    let mut eur = ev("p2", A::Authorized, 5_000, 0);
    eur.currency = "EUR".into();
    let mut unknown_studio = ev("p3", A::Authorized, 5_000, 0);
    unknown_studio.studio_id = studio(99);
    let mut bad_provider = ev("p4", A::Authorized, 5_000, 0);
    bad_provider.provider = "SumUp".into();
    let outcome = reference::compute(
        &[
            ev("p1", A::Authorized, 5_000, 0),
            ev("p1", A::Authorized, 5_001, 0),
            other_studio,
            eur,
            ev("p5", A::Authorized, -1, 0),
            ev("p6", A::Authorized, 100_000_001, 0),
            unknown_studio,
            bad_provider,
            ev("", A::Authorized, 5_000, 0),
        ],
        &[studio(1), studio(2)],
    );
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.rejected),
        (1, 0, 8)
    );
    assert_eq!(states(only(&outcome)), [("processing", 1)]);
}

#[test]
fn final_states_refuse_and_settlement_happens_once() {
    let outcome = reference::compute(
        &[
            ev("f", A::Authorized, 5_000, 0),
            ev("f", A::Failed, 5_000, 1),
            ev("f", A::Captured, 5_000, 2),
            ev("s", A::Authorized, 5_000, 0),
            ev("s", A::Captured, 4_000, 1),
            ev("s", A::Settled, 4_000, 2),
            ev("s", A::Settled, 3_000, 3),
            ev("s", A::PartiallyRefunded, 500, 4),
        ],
        &[studio(1)],
    );
    let t = only(&outcome);
    assert_eq!(states(t), [("failed", 1), ("partially_refunded", 1)]);
    assert_eq!(
        (
            t.captured,
            t.refunded,
            t.settled,
            t.card_clearing_balance,
            t.parked_events
        ),
        (4_000, 500, 4_000, -500, 2)
    );
}

#[test]
fn the_comparison_finds_a_planted_difference() {
    let stream = generate::generate(StreamOptions {
        events: 5_000,
        studios: 10,
        seed: 3,
    });
    let outcome = reference::compute(&stream.events, &stream.studios);
    assert!(reference::compare(&outcome.totals, &outcome.totals).is_empty());
    let mut planted = outcome.totals.clone();
    planted[0].settled += 1;
    *planted[1].payments.entry("refunded".into()).or_insert(0) += 1;
    let removed = planted.pop().unwrap();
    let found = reference::compare(&planted, &outcome.totals);
    assert!(found.iter().any(|d| d.studio_id == planted[0].studio_id
        && d.field == "settled"
        && d.engine == d.reference + 1));
    assert!(found
        .iter()
        .any(|d| d.studio_id == planted[1].studio_id && d.field == "payments.refunded"));
    assert!(
        found.iter().any(|d| d.studio_id == removed.studio_id),
        "a studio the engine does not report is a discrepancy"
    );
}

// ---- end to end ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20000_event_replay_through_the_engine_agrees_with_the_reference() {
    common::show_server_logs();
    let database = common::test_database().await;
    let engine = Engine::connect(&database.url, EngineSettings::default())
        .await
        .unwrap();
    let report = replay::run(
        &engine,
        ReplayOptions {
            stream: StreamOptions {
                events: 20_000,
                studios: 50,
                seed: 20,
            },
            // Rounds smaller than a batch: a payment's events span several rounds.
            round_events: 150,
            in_flight: 3,
        },
    )
    .await
    .unwrap();
    println!("{report}");
    assert_eq!(report.engine, report.reference);
    assert_eq!(report.discrepancies, 0, "{:#?}", report.described);
    assert!(report.studios_compared > 0);
    // A second replay into the same database is refused.
    let again = replay::run(&engine, ReplayOptions::default()).await;
    assert!(again.is_err());
    engine.close().await;
}

#[test]
fn the_replay_command_reports_zero_discrepancies_and_leaves_no_database_behind() {
    let output = common::binary()
        .args([
            "replay",
            "--events",
            "5000",
            "--studios",
            "20",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(": 0 discrepancies"), "{stdout}");
    assert!(stdout.contains("events/s"), "{stdout}");
    // The temporary SQLite file is gone.
    let url = stdout
        .lines()
        .find_map(|line| line.strip_prefix("replaying into sqlite://"))
        .expect("the database it used");
    let dir = std::path::Path::new(url).parent().unwrap();
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn the_replay_command_refuses_a_database_that_has_data() {
    let database = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::test_database());
    let run = || {
        common::binary()
            .args(["replay", "--events", "2000", "--studios", "5"])
            .args(["--database-url", &database.url])
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs an empty database"), "{stderr}");
}

/// The same stream through the domain's own state machine and money rules
/// (`PaymentBook::apply`), with the parking rules written out once more: the reference and the
/// domain, written separately, must agree (a disagreement is a bug in one of them, found before
/// the engine is involved).
fn through_the_domain(stream: &generate::GeneratedStream) -> Vec<PaymentTotals> {
    use app::domain::{PaymentBook, Rappen};
    use std::collections::BTreeMap;
    let studios: HashSet<StudioId> = stream.studios.iter().copied().collect();
    let mut seen = HashSet::new();
    let mut accepted = Vec::new();
    for e in &stream.events {
        if reference::valid_at_the_boundary(e, &studios)
            && seen.insert((
                e.provider.clone(),
                e.provider_payment_id.clone(),
                e.event_type,
                e.occurred_at,
            ))
        {
            accepted.push((accepted.len(), e.clone()));
        }
    }
    type Key = (String, String);
    let mut books: HashMap<Key, (StudioId, PaymentBook)> = HashMap::new();
    let mut parked: HashMap<Key, Vec<(usize, PaymentEventRequest)>> = HashMap::new();
    let try_apply = |books: &mut HashMap<Key, (StudioId, PaymentBook)>,
                     key: &Key,
                     e: &PaymentEventRequest|
     -> bool {
        let current = match books.get(key) {
            Some((studio, _)) if *studio != e.studio_id => return false,
            Some((_, book)) => *book,
            None if e.event_type.creates_payment() => PaymentBook::new_draft(Rappen(0)),
            None => return false,
        };
        match current.apply(e.event_type, Rappen(e.amount)) {
            Ok((next, _)) => {
                books.insert(key.clone(), (e.studio_id, next));
                true
            }
            Err(_) => false,
        }
    };
    for (sequence, e) in accepted {
        let key = (e.provider.clone(), e.provider_payment_id.clone());
        if !try_apply(&mut books, &key, &e) {
            parked.entry(key).or_default().push((sequence, e));
            continue;
        }
        loop {
            let mut waiting = parked.remove(&key).unwrap_or_default();
            waiting.sort_by_key(|(sequence, e)| (e.occurred_at, *sequence));
            let before = waiting.len();
            waiting.retain(|(_, e)| !try_apply(&mut books, &key, e));
            let progressed = waiting.len() < before;
            if !waiting.is_empty() {
                parked.insert(key.clone(), waiting);
            }
            if !progressed {
                break;
            }
        }
    }
    let mut totals: BTreeMap<StudioId, PaymentTotals> = BTreeMap::new();
    for (studio, book) in books.values() {
        let t = totals
            .entry(*studio)
            .or_insert_with(|| PaymentTotals::empty(*studio));
        *t.payments.entry(book.state.to_string()).or_insert(0) += 1;
        t.captured += book.captured.0;
        t.refunded += book.refunded.0;
        t.settled += book.settled.0;
        t.card_clearing_balance += book.captured.0 - book.refunded.0 - book.settled.0;
        t.card_sales_balance += book.captured.0 - book.refunded.0;
        t.bank_balance += book.settled.0;
    }
    for (_, e) in parked.values().flatten() {
        totals
            .entry(e.studio_id)
            .or_insert_with(|| PaymentTotals::empty(e.studio_id))
            .parked_events += 1;
    }
    totals.into_values().collect()
}

#[test]
fn the_reference_agrees_with_the_domain_state_machine_on_generated_streams() {
    for seed in [1, 2, 3] {
        let stream = generate::generate(StreamOptions {
            events: 40_000,
            studios: 30,
            seed,
        });
        let outcome = reference::compute(&stream.events, &stream.studios);
        let domain = through_the_domain(&stream);
        let found = reference::compare(&domain, &outcome.totals);
        assert!(
            found.is_empty(),
            "seed {seed}: {:#?}",
            &found[..found.len().min(10)]
        );
    }
}
