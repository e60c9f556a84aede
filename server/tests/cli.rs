//! The `payout-engine` binary as an operator meets it: a bad configuration is one clear line and
//! exit code 1 (never a panic), `migrate` and `seed-demo` work on a fresh path, and `serve` stops
//! cleanly on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payout-engine"));
    command.env_remove("DATABASE_URL").env("RUST_LOG", "error");
    command
}

fn assert_clear_failure(args: &[&str], expected: &str) {
    let output = binary().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected '{expected}' in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
}

#[test]
fn a_database_url_that_is_not_sqlite_is_a_clear_error() {
    assert_clear_failure(
        &["--database-url", "mysql://localhost/payouts", "migrate"],
        "unsupported DATABASE_URL",
    );
}

#[test]
fn an_unwritable_database_path_is_a_clear_error() {
    assert_clear_failure(
        &[
            "--database-url",
            "sqlite:///proc/payout-engine/cannot/payouts.db",
            "migrate",
        ],
        "cannot create the database directory",
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    assert_clear_failure(
        &["--database-url", &url, "serve", "--addr", &addr],
        "cannot listen on",
    );
}

#[test]
fn migrate_and_seed_demo_work_on_a_fresh_path_and_seeding_twice_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("new/sub/dir/p.db").display());
    let migrate = binary()
        .args(["--database-url", &url, "migrate"])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let seed = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    assert!(String::from_utf8_lossy(&seed.stdout).contains("demo data seeded"));
    let again = binary()
        .args(["--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already has data"));
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut child = binary()
        .args(["--database-url", &url, "serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("running at http://127.0.0.1:"), "{line}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "exit after SIGTERM: {exit}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
