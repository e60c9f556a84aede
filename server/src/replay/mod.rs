//! `payout-engine replay` (issue 6's parallel run): generates a seeded, realistic stream of
//! payment-provider events ([`generate`]), feeds it through the engine's real ingestion path and
//! inbox worker, and compares the per-studio payments, payouts (settlements) and ledger balances
//! with the independent "legacy batch" ([`reference`]). It reports the discrepancies (which must
//! be 0) and the throughput.
//!
//! It writes studios and events, so it only runs on an empty database; it never changes the
//! engine's rules and never reads the reference's results into the engine.

pub mod generate;
pub mod reference;

use anyhow::Context as _;
use app::domain::{IngestReport, PaymentTotals, MAX_PAYMENT_EVENT_BATCH};
use app::engine::access::Caller;
use app::engine::payments::RoundSize;
use app::engine::{db, Engine};
use futures::StreamExt as _;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use generate::{GeneratedStream, StreamOptions, StreamStats};
pub use reference::{Discrepancy, ReferenceOutcome};

/// Batches delivered at once unless told otherwise (`--in-flight`).
pub const DEFAULT_IN_FLIGHT: usize = 4;

/// How many discrepancies the report describes one by one.
pub const DESCRIBED_DISCREPANCIES: usize = 10;

/// What to replay, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// The stream: events, studios, seed.
    pub stream: StreamOptions,
    /// Most events the inbox worker applies in one transaction (default: the server worker's
    /// [`INBOX_BATCH_MAX`](app::engine::payments::INBOX_BATCH_MAX)); rounds grow to it while
    /// a backlog fills them, as the server's do ([`RoundSize`](app::engine::payments::RoundSize)).
    pub round_events: usize,
    /// Batches of [`MAX_PAYMENT_EVENT_BATCH`] delivered at once (default [`DEFAULT_IN_FLIGHT`]), like a provider's
    /// concurrent connections.
    pub in_flight: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            stream: StreamOptions::default(),
            round_events: app::engine::payments::INBOX_BATCH_MAX,
            in_flight: DEFAULT_IN_FLIGHT,
        }
    }
}

/// Counts of what ingestion answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Newly stored.
    pub accepted: usize,
    /// Redeliveries acknowledged without effect.
    pub duplicates: usize,
    /// Refused.
    pub rejected: usize,
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayReport {
    /// What was replayed.
    pub options: ReplayOptions,
    /// What the generated stream contains.
    pub stream: StreamStats,
    /// What the engine's ingestion answered.
    pub engine: IngestCounts,
    /// What the reference says ingestion must answer.
    pub reference: IngestCounts,
    /// Studios the engine and the reference report on (the union).
    pub studios_compared: usize,
    /// Every disagreement: per studio and field, plus one per ingestion count that differs.
    pub discrepancies: usize,
    /// The first [`DESCRIBED_DISCREPANCIES`] of them, described.
    pub described: Vec<String>,
    /// Generating the stream.
    pub generate_time: Duration,
    /// From the first batch sent to the last answered.
    pub ingest_time: Duration,
    /// From the first batch sent to the inbox empty (everything applied or parked).
    pub end_to_end_time: Duration,
    /// The reference computation (it runs beside ingestion and the worker).
    pub reference_time: Duration,
    /// The whole replay (studios, generation, ingestion, application, totals, reference).
    pub wall_time: Duration,
}

impl ReplayReport {
    /// Events per second through ingestion alone.
    pub fn ingest_rate(&self) -> f64 {
        self.stream.delivered as f64 / self.ingest_time.as_secs_f64().max(1e-9)
    }

    /// Events per second from the first delivery to the inbox empty.
    pub fn end_to_end_rate(&self) -> f64 {
        self.stream.delivered as f64 / self.end_to_end_time.as_secs_f64().max(1e-9)
    }
}

/// Replays the stream `options` describes on `engine`, whose database must be empty (no
/// studios, no payment events).
///
/// Errors: the database is not empty, a studio cannot be written, or ingestion, the inbox
/// worker or the totals fail (an engine error ends the replay; it is never counted as a
/// discrepancy).
pub async fn run(engine: &Engine, options: ReplayOptions) -> anyhow::Result<ReplayReport> {
    let began = Instant::now();
    let studios: i64 = db::query_scalar("SELECT COUNT(*) FROM studios")
        .fetch_one(engine.pool())
        .await
        .context("cannot count the studios")?;
    let events: i64 = db::query_scalar("SELECT COUNT(*) FROM payment_events")
        .fetch_one(engine.pool())
        .await
        .context("cannot count the payment events")?;
    if studios > 0 || events > 0 {
        anyhow::bail!(
            "the replay needs an empty database; this one has {studios} studios and {events} payment events"
        );
    }

    let generating = Instant::now();
    let stream = Arc::new(generate::generate(options.stream));
    let generate_time = generating.elapsed();
    create_studios(engine, &stream.studios).await?;
    // A parallel run: the legacy batch computes beside the engine (on a core the engine's one
    // SQLite writer leaves mostly idle), from the same stream and nothing else.
    let reference_run = {
        let stream = Arc::clone(&stream);
        tokio::task::spawn_blocking(move || {
            let computing = Instant::now();
            let expected = reference::compute(&stream.events, &stream.studios);
            (expected, computing.elapsed())
        })
    };

    let caller = Caller::operator("replay");
    let done = Arc::new(AtomicBool::new(false));
    let drain = tokio::spawn(drain_inbox(
        engine.clone(),
        options.round_events,
        done.clone(),
    ));
    let ingesting = Instant::now();
    let mut counts = IngestCounts::default();
    // Up to `in_flight` batches are delivered at once, as a provider does over several
    // connections; ingestion's group commit stores them together. `buffered` first polls each
    // delivery in stream order, and a delivery joins the group commit's queue on its first poll
    // (before anything awaits), so the events are stored in stream order: a key delivered twice
    // with different amounts is decided for the first, as the reference assumes.
    let mut deliveries = futures::stream::iter(stream.events.chunks(MAX_PAYMENT_EVENT_BATCH))
        .map(|batch| engine.ingest_payment_events(&caller, batch.iter().cloned().map(Ok).collect()))
        .buffered(options.in_flight.max(1));
    while let Some(delivered) = deliveries.next().await {
        if drain.is_finished() {
            break;
        }
        let report: IngestReport = match delivered {
            Ok(report) => report,
            Err(error) => {
                // The worker would wait for more forever. The reference runs on a blocking
                // thread, which cannot be cancelled; the process ends with this error anyway.
                drain.abort();
                anyhow::bail!("ingesting a batch of payment events failed: {error}");
            }
        };
        counts.accepted += report.accepted;
        counts.duplicates += report.duplicates;
        counts.rejected += report.rejected;
    }
    drop(deliveries);
    let ingest_time = ingesting.elapsed();
    done.store(true, Ordering::SeqCst);
    drain
        .await
        .context("the inbox worker panicked")?
        .context("the inbox worker failed")?;
    let end_to_end_time = ingesting.elapsed();
    let answered = counts.accepted + counts.duplicates + counts.rejected;
    if answered != stream.events.len() {
        anyhow::bail!(
            "ingestion answered {answered} of {} events (the inbox worker stopped early)",
            stream.events.len()
        );
    }

    let totals: Vec<PaymentTotals> = engine
        .payment_totals(&caller)
        .await
        .map_err(|e| anyhow::anyhow!("reading the payment totals failed: {e}"))?;
    let (expected, reference_time) = reference_run
        .await
        .context("the reference computation panicked")?;

    let reference_counts = IngestCounts {
        accepted: expected.accepted,
        duplicates: expected.duplicates,
        rejected: expected.rejected,
    };
    let mut described = Vec::new();
    let mut discrepancies = 0;
    for (what, engine_count, reference_count) in [
        ("accepted", counts.accepted, reference_counts.accepted),
        ("duplicates", counts.duplicates, reference_counts.duplicates),
        ("rejected", counts.rejected, reference_counts.rejected),
    ] {
        if engine_count != reference_count {
            discrepancies += 1;
            described.push(format!(
                "ingestion {what}: engine {engine_count} vs reference {reference_count}"
            ));
        }
    }
    let found = reference::compare(&totals, &expected.totals);
    discrepancies += found.len();
    described.extend(found.iter().map(|d| d.to_string()));
    described.truncate(DESCRIBED_DISCREPANCIES);
    let studios_compared = totals
        .iter()
        .chain(&expected.totals)
        .map(|t| t.studio_id)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Ok(ReplayReport {
        options,
        stream: stream.stats.clone(),
        engine: counts,
        reference: reference_counts,
        studios_compared,
        discrepancies,
        described,
        generate_time,
        ingest_time,
        end_to_end_time,
        reference_time,
        wall_time: began.elapsed(),
    })
}

/// Writes `studios` (named "Replay studio 001", ...; the names must not exist yet) and opens
/// their ledger accounts.
///
/// Errors: a studio cannot be written (e.g. the name exists), or the accounts cannot be opened.
pub async fn create_studios(
    engine: &Engine,
    studios: &[app::domain::StudioId],
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let numbered: Vec<(usize, app::domain::StudioId)> =
        studios.iter().copied().enumerate().collect();
    for chunk in numbered.chunks(200) {
        db::insert_values(
            "INSERT INTO studios (id, name, created_at)",
            chunk,
            3,
            |row, (n, id)| {
                row.bind(*id)
                    .bind(format!("Replay studio {:03}", n + 1))
                    .bind(now)
            },
        )
        .execute(engine.pool())
        .await
        .context("cannot create the replay's studios")?;
    }
    engine.studios_changed();
    engine
        .open_ledger_accounts()
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the studios' ledger accounts: {e}"))
}

/// Applies the inbox in rounds of up to `round_events` until ingestion is `done` and a round
/// finds nothing waiting.
async fn drain_inbox(
    engine: Engine,
    round_events: usize,
    done: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut size = RoundSize::new(round_events);
    loop {
        // Read before the round: a round that finds nothing after ingestion ended saw every event.
        let finished = done.load(Ordering::SeqCst);
        let taken = engine
            .process_payment_inbox(size.next())
            .await
            .map_err(|e| anyhow::anyhow!("applying the payment inbox failed: {e}"))?;
        size.after(taken);
        if taken == 0 {
            if finished {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl fmt::Display for ReplayReport {
    /// The report as the command prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stream;
        let o = &self.options.stream;
        writeln!(
            f,
            "replay: {} events, {} studios, seed {}, {} batches in flight, rounds of up to {} events",
            s.delivered, o.studios, o.seed, self.options.in_flight, self.options.round_events
        )?;
        writeln!(
            f,
            "stream: {} payments, {} lifecycle events, {} duplicates, {} reordered, {} invalid \
             ({} over-refunds, {} over-captures, {} unknown payment, {} EUR, {} negative amount, \
             {} unknown studio, {} same key other amount)",
            s.payments,
            s.lifecycle_events,
            s.duplicates,
            s.reordered,
            s.invalid(),
            s.over_refunds,
            s.over_captures,
            s.unknown_payment,
            s.wrong_currency,
            s.negative_amount,
            s.unknown_studio,
            s.conflicting
        )?;
        writeln!(
            f,
            "ingestion: engine {} accepted, {} duplicates, {} rejected; reference {} / {} / {}",
            self.engine.accepted,
            self.engine.duplicates,
            self.engine.rejected,
            self.reference.accepted,
            self.reference.duplicates,
            self.reference.rejected
        )?;
        writeln!(
            f,
            "compared {} studios: {} discrepancies",
            self.studios_compared, self.discrepancies
        )?;
        for line in &self.described {
            writeln!(f, "  {line}")?;
        }
        if self.discrepancies > self.described.len() {
            writeln!(
                f,
                "  ... and {} more",
                self.discrepancies - self.described.len()
            )?;
        }
        writeln!(
            f,
            "throughput: ingestion {:.0} events/s ({}), end to end {:.0} events/s ({})",
            self.ingest_rate(),
            secs(self.ingest_time),
            self.end_to_end_rate(),
            secs(self.end_to_end_time)
        )?;
        write!(
            f,
            "wall time: {} (generating {}; the reference, beside ingestion, {})",
            secs(self.wall_time),
            secs(self.generate_time),
            secs(self.reference_time)
        )
    }
}
