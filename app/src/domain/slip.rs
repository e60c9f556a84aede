//! Payout slips (issue 10): which payouts have a slip, who may download it, and where. One rule
//! for the engine, which enforces it (`engine::slips`), and the UI, which offers the download
//! link only where it will work. Matches are exhaustive with no `_` arm, so a new role or payout
//! state forces the decision to be made here.

use super::{PayoutId, PayoutState, Role};

/// Why a payout in `state` has no slip (yet), in words the UI shows; `None` when it has one.
/// Only a committed payout paid anything, so only it has a slip.
pub fn slip_refusal(state: PayoutState) -> Option<&'static str> {
    match state {
        PayoutState::Committed => None,
        PayoutState::Pending | PayoutState::Failed => {
            Some("the payout is not committed yet; finish it first")
        }
        PayoutState::Cancelled => {
            Some("the payout was cancelled and paid nothing, so it has no slip")
        }
    }
}

/// Whether people in `role` may download payout slips: owners (every slip of their business) and
/// employees (their own). A slip is a pay document between the business and the person paid, so
/// receptionists, who run the desk and may commit payouts, do not download them.
pub fn may_download_slips(role: Role) -> bool {
    match role {
        Role::Owner | Role::Employee => true,
        Role::Receptionist => false,
    }
}

/// Where the slip of payout `id` downloads from (`GET`, a PDF attachment).
pub fn slip_path(id: PayoutId) -> String {
    format!("/api/v1/payouts/{id}/slip.pdf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_committed_payout_has_a_slip() {
        for state in PayoutState::ALL {
            assert_eq!(
                slip_refusal(state).is_none(),
                state == PayoutState::Committed,
                "{state}"
            );
        }
        assert_eq!(
            slip_refusal(PayoutState::Failed),
            Some("the payout is not committed yet; finish it first")
        );
    }

    #[test]
    fn owners_and_employees_download_slips_and_receptionists_do_not() {
        assert!(may_download_slips(Role::Owner));
        assert!(may_download_slips(Role::Employee));
        assert!(!may_download_slips(Role::Receptionist));
    }
}
