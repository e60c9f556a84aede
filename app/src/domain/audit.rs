//! Audit vocabulary shared by the server and the UI: the invariants an audit run checks, its
//! findings and the run itself.

use super::ids::*;
use super::money::Rappen;
use super::payout::PayoutPhase;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One invariant of the books. Each finding names the check it broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum AuditCheck {
    /// A committed payout's live lines do not add up to its record count and total.
    PayoutLines,
    /// A committed payout has no ledger transfer, more than one, or one for another amount.
    PayoutTransfer,
    /// A record is claimed by more than one live payout (it would be paid twice).
    RecordClaimedTwice,
    /// A payout line points at a record of another employee or outside the payout's period.
    LineMisplaced,
    /// A ledger transfer has fewer than two postings or its postings do not sum to zero.
    TransferUnbalanced,
    /// A registered service or a recorded deduction has no ledger transfer, or a refunded
    /// service has no reversal of it.
    RecordWithoutTransfer,
    /// An employee's payable balance differs from the commission of their unpaid records minus
    /// their unpaid deductions.
    PayableMismatch,
    /// A studio's tips payable differs from the tips of its unpaid records.
    TipsPayableMismatch,
    /// A closed till's expected cash differs from its opening float plus its cash postings, or
    /// its counted cash from expected plus variance.
    TillMismatch,
    /// A payout has been pending longer than the configured age (a crashed run nobody finished).
    PayoutStuck,
    /// A studio's returned bank payouts in the ledger differ from the amounts of its failed bank
    /// transfers (issue 9): a return or a resolution was booked without the other side.
    ReturnedPayoutsMismatch,
}

impl AuditCheck {
    /// Database / JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCheck::PayoutLines => "payout_lines",
            AuditCheck::PayoutTransfer => "payout_transfer",
            AuditCheck::RecordClaimedTwice => "record_claimed_twice",
            AuditCheck::LineMisplaced => "line_misplaced",
            AuditCheck::TransferUnbalanced => "transfer_unbalanced",
            AuditCheck::RecordWithoutTransfer => "record_without_transfer",
            AuditCheck::PayableMismatch => "payable_mismatch",
            AuditCheck::TipsPayableMismatch => "tips_payable_mismatch",
            AuditCheck::TillMismatch => "till_mismatch",
            AuditCheck::PayoutStuck => "payout_stuck",
            AuditCheck::ReturnedPayoutsMismatch => "returned_payouts_mismatch",
        }
    }
}

impl fmt::Display for AuditCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum AuditTrigger {
    /// The server's schedule (nightly by default).
    Schedule,
    /// `payout-engine audit`.
    Cli,
    /// The "Run audit now" button or `POST /api/v1/audits`.
    Manual,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum AuditStatus {
    /// Still checking.
    Running,
    /// Every invariant holds.
    Clean,
    /// At least one finding.
    Findings,
    /// The run could not complete (the error says why); nothing can be concluded from it.
    Error,
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditFinding {
    /// The invariant.
    #[cfg_attr(feature = "ssr", sqlx(rename = "check_name"))]
    pub check: AuditCheck,
    /// "payout", "service_record", "day_record", "transfer", "employee", "studio", "till_session".
    pub entity_type: String,
    /// The entity's id.
    pub entity_id: Option<uuid::Uuid>,
    /// What is wrong, for people (English; the alert's words).
    pub message: String,
    /// Rappen at stake (always positive).
    pub amount_at_stake: Rappen,
    /// What is wrong as data, for a page to word in its reader's language (`None` for findings
    /// stored before this was).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", sqlx(json(nullable)))]
    pub detail: Option<AuditFindingDetail>,
}

/// A record a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditedRecord {
    /// A registered service (its sale).
    Service,
    /// A working day (its deduction).
    WorkingDay,
    /// The refund of a service.
    Refund,
}

/// What an audit finding says, as data: the names, dates and amounts of
/// [`AuditFinding::message`], per check. JSON: `{"code": "till_differs", "studio": "Zürich",
/// "on": "2026-11-23", "expected": 5000, "postings": 4800}` (amounts in Rappen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AuditFindingDetail {
    /// [`AuditCheck::PayoutLines`]: a committed payout's lines sum to another total.
    LinesDoNotAddUp {
        /// Who is paid.
        employee: String,
        /// The payout's total.
        total: Rappen,
        /// Its live lines' sum.
        lines: Rappen,
    },
    /// [`AuditCheck::PayoutTransfer`]: a payout transfer for a payout that is not committed.
    TransferOfUncommittedPayout {
        /// Who the payout is for (`None`: the payout does not exist).
        employee: Option<String>,
    },
    /// [`AuditCheck::PayoutTransfer`]: the ledger pays out another amount than the payout's.
    PayoutTransferDiffers {
        /// Who is paid.
        employee: String,
        /// The payout's total.
        total: Rappen,
        /// What its postings pay out.
        paid_out: Rappen,
    },
    /// [`AuditCheck::RecordClaimedTwice`]: a record in several live payouts.
    ClaimedTwice {
        /// In how many.
        payouts: i64,
    },
    /// [`AuditCheck::LineMisplaced`]: a payout line of another employee or outside the period.
    LineMisplaced {
        /// The record.
        record: AuditedRecord,
        /// Whose record it is (`None`: the record is missing).
        owner: Option<String>,
        /// Its date (`None`: the record is missing).
        on: Option<NaiveDate>,
        /// Who the payout pays.
        payee: String,
        /// The payout's first day.
        period_start: NaiveDate,
        /// The payout's last day.
        period_end: NaiveDate,
    },
    /// [`AuditCheck::TransferUnbalanced`]: a ledger transfer whose postings do not sum to zero.
    Unbalanced {
        /// The transfer's reason, as booked.
        transfer: String,
        /// What its postings sum to.
        sum: Rappen,
    },
    /// [`AuditCheck::RecordWithoutTransfer`]: a record the ledger does not know.
    NoTransfer {
        /// The record.
        record: AuditedRecord,
        /// Whose.
        employee: String,
        /// Its date.
        on: NaiveDate,
        /// Its amount.
        amount: Rappen,
    },
    /// [`AuditCheck::PayableMismatch`]: what the ledger owes an employee differs from their
    /// unpaid records.
    PayableDiffers {
        /// Who.
        employee: String,
        /// The ledger's balance.
        ledger: Rappen,
        /// Commission of the unpaid records minus the unpaid deductions.
        records: Rappen,
    },
    /// [`AuditCheck::TipsPayableMismatch`]: a studio's tips owed differ from its unpaid tips.
    TipsPayableDiffers {
        /// The studio.
        studio: String,
        /// The ledger's balance.
        ledger: Rappen,
        /// The unpaid tips.
        records: Rappen,
    },
    /// [`AuditCheck::ReturnedPayoutsMismatch`]: returned bank payouts differ from the failed
    /// transfers.
    ReturnedPayoutsDiffer {
        /// The studio.
        studio: String,
        /// The ledger's balance.
        ledger: Rappen,
        /// The failed transfers' amounts.
        failed: Rappen,
    },
    /// [`AuditCheck::TillMismatch`]: a closed till that does not add up.
    TillDiffers {
        /// The studio.
        studio: String,
        /// The business day.
        on: NaiveDate,
        /// The cash it expected at closing.
        expected: Rappen,
        /// Its float plus its cash postings.
        postings: Rappen,
    },
    /// [`AuditCheck::PayoutStuck`]: a payout pending too long.
    PayoutStuck {
        /// Who is paid.
        employee: String,
        /// The phase it stopped in.
        phase: PayoutPhase,
    },
}

/// One audit run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditRun {
    /// Run id.
    pub id: AuditRunId,
    /// What started it.
    pub trigger: AuditTrigger,
    /// Days back from today that were checked; `None` = everything.
    pub days: Option<i64>,
    /// How it ended (or `running`).
    pub status: AuditStatus,
    /// Started (UTC).
    pub started_at: DateTime<Utc>,
    /// Finished (UTC).
    pub finished_at: Option<DateTime<Utc>>,
    /// Number of findings.
    pub finding_count: i64,
    /// Sum of the findings' amounts at stake, Rappen.
    pub amount_at_stake: Rappen,
    /// Why the run could not complete.
    pub error: Option<String>,
    /// Always "CHF".
    pub currency: String,
    /// Jobs of the run (a check over one key range; a large table's check runs as several).
    /// 0 until the run has planned them (and for runs from before progress was recorded).
    #[serde(default)]
    pub checks_total: i64,
    /// Jobs finished so far; equals `checks_total` once the run has finished its checks.
    #[serde(default)]
    pub checks_done: i64,
}

/// A run with its findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(from = "AuditReportWire")]
pub struct AuditReport {
    /// The run.
    #[serde(flatten)]
    pub run: AuditRun,
    /// Every finding, largest amount first.
    pub findings: Vec<AuditFinding>,
}

/// The JSON shape of [`AuditReport`] (the run's fields beside `findings`), read field by field:
/// the same input as `#[serde(flatten)]` accepts, without serde's buffering of the whole object,
/// whose generic machinery is large in the WASM bundle.
#[derive(Deserialize)]
struct AuditReportWire {
    id: AuditRunId,
    trigger: AuditTrigger,
    days: Option<i64>,
    status: AuditStatus,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    finding_count: i64,
    amount_at_stake: Rappen,
    error: Option<String>,
    currency: String,
    #[serde(default)]
    checks_total: i64,
    #[serde(default)]
    checks_done: i64,
    findings: Vec<AuditFinding>,
}

impl From<AuditReportWire> for AuditReport {
    fn from(wire: AuditReportWire) -> Self {
        AuditReport {
            run: AuditRun {
                id: wire.id,
                trigger: wire.trigger,
                days: wire.days,
                status: wire.status,
                started_at: wire.started_at,
                finished_at: wire.finished_at,
                finding_count: wire.finding_count,
                amount_at_stake: wire.amount_at_stake,
                error: wire.error,
                currency: wire.currency,
                checks_total: wire.checks_total,
                checks_done: wire.checks_done,
            },
            findings: wire.findings,
        }
    }
}

/// A Telegram message that did not reach its recipient (failed) or may not have (unknown), for
/// the owner's audit page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertProblem {
    /// When it was queued (UTC).
    pub created_at: DateTime<Utc>,
    /// "owner" or "employee".
    pub audience: String,
    /// "failed" or "unknown".
    pub state: String,
    /// Why.
    pub error: String,
    /// The message.
    pub text: String,
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_from_its_flat_json() {
        let at = DateTime::from_timestamp(1_790_000_000, 0).expect("a valid timestamp");
        let report = AuditReport {
            run: AuditRun {
                id: AuditRunId(uuid::Uuid::from_u128(7)),
                trigger: AuditTrigger::Manual,
                days: None,
                status: AuditStatus::Findings,
                started_at: at,
                finished_at: Some(at),
                finding_count: 1,
                amount_at_stake: Rappen(500),
                error: None,
                currency: "CHF".into(),
                checks_total: 12,
                checks_done: 12,
            },
            findings: vec![AuditFinding {
                check: AuditCheck::TillMismatch,
                entity_type: "till_session".into(),
                entity_id: Some(uuid::Uuid::from_u128(8)),
                message: "the till is 5 francs short".into(),
                amount_at_stake: Rappen(500),
                detail: Some(AuditFindingDetail::TillDiffers {
                    studio: "Zürich".into(),
                    on: NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date"),
                    expected: Rappen(5_000),
                    postings: Rappen(4_500),
                }),
            }],
        };
        let json = serde_json::to_value(&report).expect("a report serialises");
        assert_eq!(json["status"], "findings");
        assert_eq!(json["findings"][0]["check"], "till_mismatch");
        assert_eq!(
            serde_json::from_value::<AuditReport>(json).expect("its own JSON reads back"),
            report
        );
        // Optional run fields may be left out, as with the flattened run.
        let minimal = r#"{"id":"00000000-0000-0000-0000-000000000007","trigger":"cli",
            "status":"clean","started_at":"2026-09-21T12:26:40Z","finding_count":0,
            "amount_at_stake":0,"currency":"CHF","findings":[]}"#;
        let parsed = serde_json::from_str::<AuditReport>(minimal).expect("a minimal report reads");
        assert_eq!((parsed.run.days, parsed.run.finished_at), (None, None));
        assert_eq!((parsed.run.checks_done, parsed.run.checks_total), (0, 0));
    }
}
