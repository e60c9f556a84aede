//! Fault injection for tests: make a chosen payout phase fail, or stop the run before a phase as
//! if the process had died there. Inert until armed; armed only by tests and by the
//! `/api/v1/test/faults` endpoint, which the server mounts only when started with
//! `--enable-fault-injection` (never in production). Per engine instance, so parallel tests with
//! their own databases never see each other's faults.

use crate::domain::PayoutPhase;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// What an armed fault does when its phase runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The phase's transaction fails and rolls back; the payout is marked `failed` at that phase.
    Error,
    /// The run stops before the phase, as if the process aborted between phases: nothing marks
    /// the payout failed, it stays `pending` at the previous phase.
    Crash,
    /// The process really aborts (`std::process::abort`) before the phase's transaction: for
    /// tests that restart the server on the same database and finish the payout.
    Abort,
    /// The phase's transaction stays open, holding the write lock, until the process is killed:
    /// for tests that kill a server (SIGKILL) in the middle of a payout and let another server
    /// process finish it.
    Hang,
}

/// One armed fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The phase whose transaction the fault hits.
    pub phase: PayoutPhase,
    /// Fail or crash.
    pub kind: FaultKind,
    /// How many times it fires before disarming itself (at least 1; default 1).
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// The set of armed faults of one engine.
#[derive(Debug, Default)]
pub struct FaultInjector {
    armed: Mutex<Vec<Fault>>,
}

impl FaultInjector {
    /// Arms `fault` (adds to what is armed).
    pub fn arm(&self, fault: Fault) {
        tracing::warn!(?fault, "fault injection armed");
        self.lock().push(Fault {
            times: fault.times.max(1),
            ..fault
        });
    }

    /// Disarms everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// What is armed now.
    pub fn armed(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// Called by the engine at the start of `phase`: fires (and counts down) a matching fault.
    pub(crate) fn fire(&self, phase: PayoutPhase) -> Option<FaultKind> {
        let mut armed = self.lock();
        let index = armed.iter().position(|f| f.phase == phase)?;
        let kind = armed[index].kind;
        armed[index].times -= 1;
        if armed[index].times == 0 {
            armed.remove(index);
        }
        tracing::warn!(phase = %phase, ?kind, "injected fault fired");
        Some(kind)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        // A panic while holding this lock can only come from a test; the list stays usable.
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
