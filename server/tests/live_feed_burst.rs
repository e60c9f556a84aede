//! The live feed under a burst it cannot deliver (issue 8): 100,000 events of about 1 KiB each
//! (some 100 MiB) to a client that reads 4 KiB per millisecond through a 4 KiB socket buffer.
//! The server must drop the oldest events of that client's buffer rather than hold them, say
//! exactly how many it dropped, and keep the order. Alone in its test binary, so the process's
//! memory is this test's (shown, with the feed's own peak, which is asserted).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::domain::feed::{FeedDropped, FeedReady, LiveEvent};
use app::domain::StudioId;
use app::engine::{db, EngineSettings};
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BURST: i64 = 100_000;
const BUFFER: usize = 256;

/// The process's resident anonymous memory (its heap and stacks, not the mapped database
/// files), in bytes (Linux's `RssAnon`).
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100000_events_to_a_slow_client_drops_the_oldest_with_an_exact_count() {
    let mut settings = EngineSettings::default();
    settings.live_feed.buffer = BUFFER;
    let app = spawn_app_with(settings).await;
    assert!(app.engine.seed_demo().await.unwrap().seeded);
    let studio: StudioId = db::query_scalar("SELECT id FROM studios ORDER BY name LIMIT 1")
        .fetch_one(app.engine.pool())
        .await
        .unwrap();

    // The slow client: HTTP/1.0 (a plain, close-delimited body), a 4 KiB receive buffer.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = app
        .address
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let mut connection = socket.connect(address).await.unwrap();
    connection
        .write_all(
            format!(
                "GET /api/v1/events/stream HTTP/1.0\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
                app.owner_key
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut text = String::new();
    let mut chunk = vec![0_u8; 4096];
    let ready: FeedReady = loop {
        let read = connection.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the stream closed before ready: {text}");
        text.push_str(std::str::from_utf8(&chunk[..read]).unwrap());
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        assert!(text.starts_with("HTTP/1.0 200"), "{text}");
        let body = text[head_end + 4..].to_string();
        if let Some(frame_end) = body.find("\n\n") {
            let frame = body[..frame_end].to_string();
            text = body[frame_end + 2..].to_string();
            assert!(frame.starts_with("event: ready"), "{frame}");
            let data = frame
                .lines()
                .find_map(|line| line.strip_prefix("data: "))
                .unwrap();
            break serde_json::from_str(data).unwrap();
        }
    };

    // Watch the server's buffers while the burst goes through.
    let burst_done = Arc::new(AtomicBool::new(false));
    let most_buffered = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let engine = app.engine.clone();
        let done = Arc::clone(&burst_done);
        let most = Arc::clone(&most_buffered);
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let buffered = engine.live_feed_stats().buffered;
                most.fetch_max(buffered.into_iter().max().unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let memory_before = resident_bytes();
    let peak_memory = Arc::new(AtomicUsize::new(memory_before));
    let memory_watcher = {
        let done = Arc::clone(&burst_done);
        let peak = Arc::clone(&peak_memory);
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(resident_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // The burst: 100,000 events in one transaction, each with ~1 KiB of payload.
    let note = "x".repeat(1000);
    let newest = app
        .append_events("payment.captured", Some(studio), BURST, |n| {
            format!("{{\"n\":{n},\"note\":\"{note}\"}}")
        })
        .await;
    let first = ready.head + 1;
    let last = ready.head + BURST;
    assert_eq!(newest, last, "nothing else was written meanwhile");

    // Read slowly: 4 KiB, then a millisecond's pause.
    let mut received: Vec<i64> = Vec::new();
    let mut markers: Vec<(FeedDropped, Option<i64>)> = Vec::new();
    let mut dropped = 0_u64;
    let reading = async {
        while received.len() as u64 + dropped < BURST as u64 {
            while let Some(end) = text.find("\n\n") {
                let frame: String = text.drain(..end + 2).collect();
                if frame.starts_with(':') {
                    continue;
                }
                let data = frame
                    .lines()
                    .find_map(|line| line.strip_prefix("data: "))
                    .unwrap();
                if frame.starts_with("event: dropped") {
                    let marker: FeedDropped = serde_json::from_str(data).unwrap();
                    dropped += marker.dropped;
                    assert_eq!(marker.total_dropped, dropped, "the running total");
                    markers.push((marker, None));
                } else {
                    let event: LiveEvent = serde_json::from_str(data).unwrap();
                    if let Some((_, next @ None)) = markers.last_mut() {
                        *next = Some(event.id);
                    }
                    received.push(event.id);
                }
            }
            let read = connection.read(&mut chunk).await.unwrap();
            assert!(read > 0, "the stream ended early");
            text.push_str(std::str::from_utf8(&chunk[..read]).unwrap());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), reading)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "only {} received + {dropped} dropped of {BURST} after 120 s",
                received.len()
            )
        });
    burst_done.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    memory_watcher.await.unwrap();

    assert_eq!(
        received.len() as u64 + dropped,
        BURST as u64,
        "every event was either received or counted as dropped, once"
    );
    assert!(dropped > 0, "the client was slow enough to lose events");
    assert!(
        received.windows(2).all(|pair| pair[0] < pair[1]),
        "in order, no repeats"
    );
    assert!(received.first().is_some_and(|id| *id >= first));
    assert_eq!(received.last(), Some(&last), "the newest is never dropped");
    for (marker, next) in &markers {
        let next = next.expect("an event follows every marker");
        assert_eq!(
            (next - marker.after_id - 1) as u64,
            marker.dropped,
            "the marker counts exactly the gap before the next event ({marker:?}, next {next})"
        );
        assert!(received.contains(&marker.after_id) || marker.after_id == ready.head);
    }
    assert!(
        most_buffered.load(Ordering::Relaxed) <= BUFFER,
        "the server's buffer for the client held {} events (limit {BUFFER})",
        most_buffered.load(Ordering::Relaxed)
    );
    // The feed's own memory: the encoded events it held at once. A buffer per client of
    // BUFFER events plus the page being published; without the bound, the 100,000 events
    // (some 100 MiB) would pile up for this client.
    let stats = app.engine.live_feed_stats();
    // One event's JSON: ~1,000 bytes of note plus ids, type and time.
    let event_bytes = 1250;
    assert!(
        stats.peak_held_bytes <= (BUFFER + 1000 + 8) * event_bytes,
        "the feed held {} KiB of events at once",
        stats.peak_held_bytes >> 10
    );
    let growth = peak_memory
        .load(Ordering::Relaxed)
        .saturating_sub(memory_before);
    // On SQLite the process's growth includes the page caches (64 MiB per connection) filled by
    // writing and reading 100 MiB of events; on PostgreSQL those are in another process, and
    // the whole process must stay well under the burst's size.
    if on_postgres() {
        assert!(
            growth < 48 << 20,
            "the server process grew by {} MiB for a {} MiB burst",
            growth >> 20,
            (BURST * 1024) >> 20
        );
    }
    println!(
        "received {}, dropped {dropped} in {} markers, most buffered {}, feed peak {} KiB, process growth {} MiB",
        received.len(),
        markers.len(),
        most_buffered.load(Ordering::Relaxed),
        stats.peak_held_bytes >> 10,
        growth >> 20
    );
}
