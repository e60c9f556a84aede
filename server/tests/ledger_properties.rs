//! Ledger invariant fuzzing (in the spirit of Blnk's invariant tests): random sequences of
//! services, working days, payouts (committed, failed then finished, failed then cancelled),
//! retries of the same request, and till sessions with cash movements must leave books in which
//! every transfer balances, all postings sum to zero, and the audit finds nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use app::domain::*;
use app::engine::db;
use app::engine::faults::{Fault, FaultKind};
use app::engine::idempotency::IdempotencyKey;
use app::engine::{Engine, EngineSettings};
use chrono::NaiveDate;
use proptest::prelude::*;
use std::time::Duration;

#[path = "common/books.rs"]
mod books;
mod common;

#[derive(Clone, Debug)]
enum Op {
    Service {
        employee: usize,
        day: i64,
        price: i64,
        tip: i64,
        method: usize,
        retry: bool,
    },
    Day {
        employee: usize,
        day: i64,
        deduction: i64,
        minimum: i64,
    },
    Payout {
        employee: usize,
        from: i64,
        days: i64,
        cash: bool,
        fail_at: Option<usize>,
        cancel: bool,
    },
    OpenTill {
        float: i64,
    },
    Cash {
        amount: i64,
        out: bool,
    },
    /// Refund the `nth` registered service (modulo how many exist).
    Refund {
        nth: usize,
        retry: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3usize, 0..20i64, 100..50_000i64, 0..2_000i64, 0..3usize, any::<bool>()).prop_map(
            |(employee, day, price, tip, method, retry)| Op::Service { employee, day, price, tip, method, retry }
        ),
        2 => (0..3usize, 0..20i64, 0..6_000i64, 0..15_000i64).prop_map(|(employee, day, deduction, minimum)| Op::Day {
            employee, day, deduction, minimum
        }),
        2 => (0..3usize, 0..20i64, 1..15i64, any::<bool>(), proptest::option::of(0..3usize), any::<bool>()).prop_map(
            |(employee, from, days, cash, fail_at, cancel)| Op::Payout { employee, from, days, cash, fail_at, cancel }
        ),
        1 => (0..50_000i64).prop_map(|float| Op::OpenTill { float }),
        1 => (1..20_000i64, any::<bool>()).prop_map(|(amount, out)| Op::Cash { amount, out }),
        2 => (0..50usize, any::<bool>()).prop_map(|(nth, retry)| Op::Refund { nth, retry }),
    ]
}

fn key() -> IdempotencyKey {
    IdempotencyKey::parse(Some(&uuid::Uuid::new_v4().to_string())).unwrap()
}

struct Books {
    engine: Engine,
    studio: StudioId,
    employees: Vec<EmployeeId>,
    service: ServiceId,
    _database: common::TestDatabase,
}

async fn books() -> Books {
    // A new database on the harness's backend (SQLite, or PostgreSQL with
    // PAYOUT_ENGINE_TEST_DATABASE=postgres).
    let database = common::test_database().await;
    let engine = Engine::connect(
        &database.url,
        EngineSettings {
            pending_grace: Duration::ZERO,
            ..EngineSettings::default()
        },
    )
    .await
    .unwrap();
    let (studio, service) = books::studio_with_a_service(&engine, "Fuzz").await;
    let mut employees = Vec::new();
    for (index, bps) in [3_000, 4_000, 5_500].into_iter().enumerate() {
        employees.push(books::employee(&engine, studio, &format!("Employee {index}"), bps).await);
    }
    let mut tx = engine.pool().begin().await.unwrap();
    app::engine::ledger::ensure_accounts(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    Books {
        engine,
        studio,
        employees,
        service,
        _database: database,
    }
}

fn date(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 1).unwrap() + chrono::Duration::days(day)
}

/// Applies one operation. Refusals (nothing to pay, a day already recorded, a closed till, ...)
/// are legitimate outcomes; what matters is that the books stay consistent.
async fn apply(b: &Books, op: &Op) {
    match op {
        Op::Service {
            employee,
            day,
            price,
            tip,
            method,
            retry,
        } => {
            let request = ServiceRecordRequest {
                employee_id: b.employees[*employee],
                service_id: b.service,
                price: *price,
                tip: *tip,
                currency: None,
                payment_method: ["cash", "card", "twint"][*method].into(),
                performed_on: date(*day),
            };
            let key = key();
            b.engine
                .register_service(
                    &app::engine::access::Caller::operator("test"),
                    &key,
                    &request,
                )
                .await
                .unwrap();
            if *retry {
                b.engine
                    .register_service(
                        &app::engine::access::Caller::operator("test"),
                        &key,
                        &request,
                    )
                    .await
                    .unwrap();
            }
        }
        Op::Day {
            employee,
            day,
            deduction,
            minimum,
        } => {
            let request = DayRecordRequest {
                employee_id: b.employees[*employee],
                worked_on: date(*day),
                deduction: *deduction,
                guaranteed_minimum: *minimum,
                currency: None,
                note: None,
            };
            let outcome = b
                .engine
                .register_day(
                    &app::engine::access::Caller::operator("test"),
                    &key(),
                    &request,
                )
                .await;
            if let Err(error) = outcome {
                assert_eq!(error.code(), "day_already_recorded", "{error}");
            }
        }
        Op::Payout {
            employee,
            from,
            days,
            cash,
            fail_at,
            cancel,
        } => {
            if let Some(phase) = fail_at {
                b.engine.faults().arm(Fault {
                    phase: [
                        PayoutPhase::LinesClaimed,
                        PayoutPhase::TotalsVerified,
                        PayoutPhase::Committed,
                    ][*phase],
                    kind: FaultKind::Error,
                    times: 1,
                });
            }
            let request = PayoutRequest {
                employee_id: b.employees[*employee],
                period_start: date(*from),
                period_end: date(from + days),
                method: if *cash {
                    PayoutMethod::Cash
                } else {
                    PayoutMethod::Bank
                },
            };
            let outcome = b
                .engine
                .commit_payout(
                    &app::engine::access::Caller::operator("test"),
                    &key(),
                    &request,
                )
                .await;
            b.engine.faults().clear();
            match outcome {
                Ok(payout) => assert_eq!(payout.state, PayoutState::Committed),
                Err(AppError::PayoutFailed { payout, .. }) => {
                    if *cancel {
                        b.engine
                            .cancel_payout(
                                &app::engine::access::Caller::operator("test"),
                                &key(),
                                payout.id,
                            )
                            .await
                            .unwrap();
                    } else {
                        let finished = b
                            .engine
                            .finish_payout(
                                &app::engine::access::Caller::operator("test"),
                                &key(),
                                payout.id,
                            )
                            .await;
                        if let Err(error) = &finished {
                            // A cash payout whose till closed meanwhile stays failed: void it.
                            assert_eq!(error.code(), "payout_failed", "{error}");
                            b.engine
                                .cancel_payout(
                                    &app::engine::access::Caller::operator("test"),
                                    &key(),
                                    payout.id,
                                )
                                .await
                                .unwrap();
                        }
                    }
                }
                Err(error) => assert!(
                    ["nothing_to_pay", "till_not_open", "till_insufficient_cash"]
                        .contains(&error.code()),
                    "{error}"
                ),
            }
        }
        Op::OpenTill { float } => {
            let outcome = b
                .engine
                .open_till(
                    &app::engine::access::Caller::operator("test"),
                    &key(),
                    &OpenTillRequest {
                        studio_id: b.studio,
                        opening_float: *float,
                        reason: None,
                    },
                )
                .await;
            if let Err(error) = outcome {
                assert!(
                    ["till_already_open", "till_already_closed"].contains(&error.code()),
                    "{error}"
                );
            }
        }
        Op::Cash { amount, out } => {
            let outcome = b
                .engine
                .cash_movement(
                    &app::engine::access::Caller::operator("test"),
                    &key(),
                    &CashMovementRequest {
                        studio_id: b.studio,
                        direction: if *out {
                            CashDirection::Out
                        } else {
                            CashDirection::In
                        },
                        amount: *amount,
                        reason: "fuzz".into(),
                    },
                )
                .await;
            if let Err(error) = outcome {
                assert!(
                    ["till_not_open", "validation_failed"].contains(&error.code()),
                    "{error}"
                );
            }
        }
        Op::Refund { nth, retry } => {
            let ids: Vec<ServiceRecordId> =
                db::query_scalar("SELECT id FROM service_records ORDER BY created_at, id")
                    .fetch_all(b.engine.pool())
                    .await
                    .unwrap();
            if ids.is_empty() {
                return;
            }
            let id = ids[nth % ids.len()];
            let request = RefundRequest {
                reason: "fuzz".into(),
            };
            let key = key();
            let first = b
                .engine
                .refund_service_record(
                    &app::engine::access::Caller::operator("test"),
                    &key,
                    id,
                    &request,
                )
                .await;
            if let Err(error) = &first {
                // Already refunded, in a payout, cash without an open till or one holding too little.
                assert!(
                    ["refund_refused", "till_not_open", "validation_failed"]
                        .contains(&error.code()),
                    "{error}"
                );
            }
            if *retry {
                let again = b
                    .engine
                    .refund_service_record(
                        &app::engine::access::Caller::operator("test"),
                        &key,
                        id,
                        &request,
                    )
                    .await;
                match (&first, &again) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "a retry replays the refund"),
                    (Err(_), _) | (_, Err(_)) => {}
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..30), close_at_end in any::<bool>()) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let b = books().await;
            for op in &ops {
                apply(&b, op).await;
            }
            if close_at_end {
                if let Some(till) = b.engine.current_till(&app::engine::access::Caller::operator("test"), b.studio).await.unwrap() {
                    if till.state == TillState::Open {
                        let mut count = std::collections::BTreeMap::new();
                        let mut left = till.expected_cash.0;
                        for d in CHF_DENOMINATIONS {
                            if left >= d {
                                count.insert(d.to_string(), left / d);
                                left %= d;
                            }
                        }
                        // Whatever is below 5 Rappen cannot be counted: a variance with a reason.
                        b.engine
                            .close_till(&app::engine::access::Caller::operator("test"), &key(), &CloseTillRequest {
                                studio_id: b.studio,
                                denominations: count,
                                variance_reason: Some("rounding to 5 Rappen".into()),
                            })
                            .await
                            .unwrap();
                    }
                }
            }
            let total: i64 = db::query_scalar("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_postings")
                .fetch_one(b.engine.pool())
                .await
                .unwrap();
            assert_eq!(total, 0, "all postings sum to zero");
            let report = b.engine.run_audit(&app::engine::access::Caller::operator("test"), AuditTrigger::Manual, None, None).await.unwrap();
            assert!(report.findings.is_empty(), "{ops:#?}\n{:#?}", report.findings);
        });
    }
}
