//! The payout state machine and its recovery-point phases: one definition, compiled into both the
//! server (which enforces it) and the WASM UI (which offers only the legal actions and shows why
//! the others are refused). Matches are exhaustive with no `_` arm, so adding a state or an action
//! forces every decision here to be revisited.
//!
//! States: `pending -> committed`, `pending -> failed`, `failed -> committed` (Finish),
//! `failed -> cancelled` (the owner voids it; its records become payable again), plus
//! `failed -> failed` when a Finish attempt fails again (the error is updated).
//!
//! Phases: a payout runs `created -> lines_claimed -> totals_verified -> committed`, each phase in
//! its own database transaction, the current phase stored on the payout so a crash or failure
//! resumes from the last completed phase instead of starting over (the case this prevents: a
//! browser loop that marked ~100 of 212 records and reported success).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Lifecycle state of a payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum PayoutState {
    /// Created and running (or interrupted) through its phases; nothing is paid yet.
    Pending,
    /// All phases done: every line is claimed and the total verified. Final.
    Committed,
    /// A phase failed; the failing phase and error are recorded. Finish resumes it.
    Failed,
    /// Voided by the owner after failing; its records are payable again. Final.
    Cancelled,
}

/// What someone (or the engine) asks to do with a payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayoutAction {
    /// The engine completed the last phase of a running payout.
    Commit,
    /// A phase failed.
    Fail,
    /// Resume from the stored phase and complete (the "Finish payout" button).
    Finish,
    /// Void the payout and release its records.
    Cancel,
}

/// A refused transition, with the explanation shown to the person who asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{explanation}")]
pub struct IllegalTransition {
    /// State the payout is in.
    pub from: PayoutState,
    /// What was asked.
    pub action: PayoutAction,
    /// Why, as a code the UI words in the reader's language.
    pub reason: PayoutRefusalReason,
    /// English explanation for the API, logs and the command line, e.g. "cannot cancel: the
    /// payout is already committed".
    pub explanation: String,
}

/// Why the payout state machine refuses an action: a stable code (JSON: `"already_committed"`),
/// worded in English by [`PayoutRefusalReason::explanation`] and per language by the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayoutRefusalReason {
    /// A pending payout is cancelled while it may still be running.
    StillRunning,
    /// Commit or Finish of a committed payout.
    AlreadyCommitted,
    /// A committed payout cannot fail.
    CommittedCannotFail,
    /// A committed payout is never voided.
    CommittedIsFinal,
    /// The engine's commit of a failed payout (Finish resumes it).
    FailedNeedsFinish,
    /// Anything but Cancel on a cancelled payout.
    Cancelled,
    /// Cancel of a cancelled payout.
    AlreadyCancelled,
}

impl PayoutRefusalReason {
    /// Every reason, for exhaustive tests and the translation check.
    pub const ALL: [PayoutRefusalReason; 7] = [
        PayoutRefusalReason::StillRunning,
        PayoutRefusalReason::AlreadyCommitted,
        PayoutRefusalReason::CommittedCannotFail,
        PayoutRefusalReason::CommittedIsFinal,
        PayoutRefusalReason::FailedNeedsFinish,
        PayoutRefusalReason::Cancelled,
        PayoutRefusalReason::AlreadyCancelled,
    ];

    /// The reason in English, after "cannot <action>: ".
    pub fn explanation(self) -> &'static str {
        match self {
            PayoutRefusalReason::StillRunning => "the payout is still running; use Finish payout to complete it, or wait until it is marked failed",
            PayoutRefusalReason::AlreadyCommitted => "the payout is already committed",
            PayoutRefusalReason::CommittedCannotFail => "the payout is already committed and cannot fail any more",
            PayoutRefusalReason::CommittedIsFinal => "the payout is already committed; a committed payout is corrected by a new entry, never voided",
            PayoutRefusalReason::FailedNeedsFinish => "the payout failed; use Finish payout to resume it from its stored phase",
            PayoutRefusalReason::Cancelled => "the payout was cancelled; its records are payable again in a new payout",
            PayoutRefusalReason::AlreadyCancelled => "the payout is already cancelled",
        }
    }
}

impl PayoutState {
    /// Every state, for exhaustive tests and filters.
    pub const ALL: [PayoutState; 4] = [
        PayoutState::Pending,
        PayoutState::Committed,
        PayoutState::Failed,
        PayoutState::Cancelled,
    ];

    /// The state after `action`, or why `action` is not allowed in this state.
    pub fn apply(self, action: PayoutAction) -> Result<PayoutState, IllegalTransition> {
        use PayoutAction as A;
        use PayoutRefusalReason as R;
        use PayoutState as S;
        let refuse = |reason: PayoutRefusalReason| {
            Err(IllegalTransition {
                from: self,
                action,
                reason,
                explanation: format!("cannot {}: {}", action.verb(), reason.explanation()),
            })
        };
        match (self, action) {
            (S::Pending, A::Commit) => Ok(S::Committed),
            (S::Pending, A::Fail) => Ok(S::Failed),
            // Finishing a stalled pending payout completes it: the same edge as pending -> committed.
            (S::Pending, A::Finish) => Ok(S::Committed),
            (S::Pending, A::Cancel) => refuse(R::StillRunning),
            (S::Committed, A::Commit) | (S::Committed, A::Finish) => refuse(R::AlreadyCommitted),
            (S::Committed, A::Fail) => refuse(R::CommittedCannotFail),
            (S::Committed, A::Cancel) => refuse(R::CommittedIsFinal),
            (S::Failed, A::Commit) => refuse(R::FailedNeedsFinish),
            // A Finish attempt that fails again keeps the payout failed with the new error.
            (S::Failed, A::Fail) => Ok(S::Failed),
            (S::Failed, A::Finish) => Ok(S::Committed),
            (S::Failed, A::Cancel) => Ok(S::Cancelled),
            (S::Cancelled, A::Commit) | (S::Cancelled, A::Finish) | (S::Cancelled, A::Fail) => {
                refuse(R::Cancelled)
            }
            (S::Cancelled, A::Cancel) => refuse(R::AlreadyCancelled),
        }
    }

    /// Whether the payout still holds its records (pending, failed or committed; not cancelled).
    pub fn holds_records(self) -> bool {
        match self {
            PayoutState::Pending | PayoutState::Committed | PayoutState::Failed => true,
            PayoutState::Cancelled => false,
        }
    }

    /// Whether this state needs a person's attention (shown in the red banner).
    pub fn needs_attention(self) -> bool {
        match self {
            PayoutState::Pending | PayoutState::Failed => true,
            PayoutState::Committed | PayoutState::Cancelled => false,
        }
    }

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutState::Pending => "pending",
            PayoutState::Committed => "committed",
            PayoutState::Failed => "failed",
            PayoutState::Cancelled => "cancelled",
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<PayoutState, String> {
        PayoutState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!("'{text}' is not a payout state (pending, committed, failed, cancelled)")
            })
    }
}

impl fmt::Display for PayoutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PayoutAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [PayoutAction; 4] = [
        PayoutAction::Commit,
        PayoutAction::Fail,
        PayoutAction::Finish,
        PayoutAction::Cancel,
    ];

    fn verb(self) -> &'static str {
        match self {
            PayoutAction::Commit => "commit",
            PayoutAction::Fail => "mark as failed",
            PayoutAction::Finish => "finish",
            PayoutAction::Cancel => "cancel",
        }
    }
}

/// Recovery-point phase of a payout: the last phase whose transaction committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum PayoutPhase {
    /// The payout row exists with its preview totals; no record is claimed yet.
    Created,
    /// Every payable record of the period is claimed by a payout line (one set-based insert).
    LinesClaimed,
    /// Line count and total re-checked against the claimed records.
    TotalsVerified,
    /// The payout is committed.
    Committed,
}

impl PayoutPhase {
    /// Every phase in order.
    pub const ALL: [PayoutPhase; 4] = [
        PayoutPhase::Created,
        PayoutPhase::LinesClaimed,
        PayoutPhase::TotalsVerified,
        PayoutPhase::Committed,
    ];

    /// The phase that comes after this one, `None` once committed.
    pub fn next(self) -> Option<PayoutPhase> {
        match self {
            PayoutPhase::Created => Some(PayoutPhase::LinesClaimed),
            PayoutPhase::LinesClaimed => Some(PayoutPhase::TotalsVerified),
            PayoutPhase::TotalsVerified => Some(PayoutPhase::Committed),
            PayoutPhase::Committed => None,
        }
    }

    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutPhase::Created => "created",
            PayoutPhase::LinesClaimed => "lines_claimed",
            PayoutPhase::TotalsVerified => "totals_verified",
            PayoutPhase::Committed => "committed",
        }
    }

    /// Parses the database / JSON spelling.
    pub fn parse(text: &str) -> Result<PayoutPhase, String> {
        PayoutPhase::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| format!("'{text}' is not a payout phase"))
    }

    /// What the phase does, for people: "claiming the records".
    pub fn describe(self) -> &'static str {
        match self {
            PayoutPhase::Created => "creating the payout",
            PayoutPhase::LinesClaimed => "claiming the records",
            PayoutPhase::TotalsVerified => "verifying the totals",
            PayoutPhase::Committed => "committing",
        }
    }
}

impl fmt::Display for PayoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PayoutAction as A;
    use PayoutState as S;

    /// The full table: every (state, action) pair and its expected outcome. Written out by hand
    /// so the table, not the implementation, is the specification.
    const TABLE: [(PayoutState, PayoutAction, Option<PayoutState>); 16] = [
        (S::Pending, A::Commit, Some(S::Committed)),
        (S::Pending, A::Fail, Some(S::Failed)),
        (S::Pending, A::Finish, Some(S::Committed)),
        (S::Pending, A::Cancel, None),
        (S::Committed, A::Commit, None),
        (S::Committed, A::Fail, None),
        (S::Committed, A::Finish, None),
        (S::Committed, A::Cancel, None),
        (S::Failed, A::Commit, None),
        (S::Failed, A::Fail, Some(S::Failed)),
        (S::Failed, A::Finish, Some(S::Committed)),
        (S::Failed, A::Cancel, Some(S::Cancelled)),
        (S::Cancelled, A::Commit, None),
        (S::Cancelled, A::Fail, None),
        (S::Cancelled, A::Finish, None),
        (S::Cancelled, A::Cancel, None),
    ];

    #[test]
    fn every_state_and_action_pair_is_in_the_table_once() {
        for state in S::ALL {
            for action in A::ALL {
                let rows = TABLE
                    .iter()
                    .filter(|(s, a, _)| *s == state && *a == action)
                    .count();
                assert_eq!(rows, 1, "{state:?} x {action:?}");
            }
        }
    }

    #[test]
    fn each_transition_matches_the_table() {
        for (state, action, expected) in TABLE {
            let outcome = state.apply(action);
            match expected {
                Some(to) => assert_eq!(outcome, Ok(to), "{state:?} --{action:?}-->"),
                None => {
                    let refusal = outcome.expect_err("must be refused");
                    assert_eq!((refusal.from, refusal.action), (state, action));
                    assert!(
                        refusal.explanation.starts_with("cannot "),
                        "{}",
                        refusal.explanation
                    );
                    assert!(
                        refusal.explanation.len() > 20,
                        "explanation too thin: {}",
                        refusal.explanation
                    );
                }
            }
        }
    }

    #[test]
    fn refusals_explain_the_reason_in_words_a_person_understands() {
        let refusal = S::Committed.apply(A::Cancel).expect_err("refused");
        assert_eq!(
            refusal.explanation,
            "cannot cancel: the payout is already committed; a committed payout is corrected by a new entry, never voided"
        );
        let refusal = S::Failed.apply(A::Commit).expect_err("refused");
        assert!(refusal.explanation.contains("Finish payout"));
        assert_eq!(refusal.reason, PayoutRefusalReason::FailedNeedsFinish);
    }

    #[test]
    fn every_refusal_reason_is_reachable() {
        let given: Vec<PayoutRefusalReason> = S::ALL
            .into_iter()
            .flat_map(|state| A::ALL.map(|action| state.apply(action)))
            .filter_map(|outcome| outcome.err().map(|refusal| refusal.reason))
            .collect();
        for reason in PayoutRefusalReason::ALL {
            assert!(given.contains(&reason), "{reason:?} is never given");
        }
    }

    #[test]
    fn only_cancelled_payouts_release_their_records() {
        assert!(S::Pending.holds_records());
        assert!(S::Failed.holds_records());
        assert!(S::Committed.holds_records());
        assert!(!S::Cancelled.holds_records());
    }

    #[test]
    fn phases_run_in_order_and_round_trip_their_names() {
        let mut phase = PayoutPhase::Created;
        let mut seen = vec![phase];
        while let Some(next) = phase.next() {
            seen.push(next);
            phase = next;
        }
        assert_eq!(seen, PayoutPhase::ALL.to_vec());
        for p in PayoutPhase::ALL {
            assert_eq!(PayoutPhase::parse(p.as_str()), Ok(p));
        }
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Ok(s));
        }
        assert!(S::parse("paid").is_err());
    }
}
