//! The owner's audit page: run the audit now, the latest runs, the findings of the newest run
//! (each with the entity, what is wrong and the amount at stake), and Telegram alerts that did
//! not arrive.

use crate::api::{alert_problems, get_audit_report, list_audit_runs, RunAuditNow};
use crate::components::{
    chf, date, payout_phase_label, ticks_while, utc_minute, AttentionBanner, ErrorMessage,
};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn AuditsPage() -> impl IntoView {
    let run = ServerAction::<RunAuditNow>::new();
    // While a run started here goes on, the list of runs is read twice a second: the running
    // run's row shows how many of its checks are done.
    let tick = ticks_while(move || run.pending().get(), "the audit");
    let runs = Resource::new(
        move || (run.version().get(), tick.get()),
        |_| list_audit_runs(),
    );
    let problems = Resource::new(move || run.version().get(), |_| alert_problems());
    let i18n = use_i18n();
    view! {
        <AttentionBanner/>
        <h1>{t!(i18n, audits.title)}</h1>
        <p>{t!(i18n, audits.intro)}</p>
        <ActionForm action=run>
            <button type="submit" class="run-audit" disabled=move || run.pending().get()>{t!(i18n, audits.run_now)}</button>
        </ActionForm>
        {move || run.pending().get().then(|| {
            let running = match runs.get() {
                Some(Ok(list)) => list.into_iter().find(|r| r.status == AuditStatus::Running),
                // The list's own error shows under Runs.
                Some(Err(_)) | None => None,
            };
            let (done, total) = running.as_ref().map_or((0, 0), |r| (r.checks_done, r.checks_total));
            let text = running.map_or_else(
                || t_string!(i18n, audits.progress.starting).to_string(),
                |r| progress_text(&r),
            );
            view! {
                <p class="audit-progress" role="status" data-testid="audit-progress">
                    {t!(i18n, audits.progress.running)}
                    <progress max=total.max(1).to_string() value=done.to_string() aria-label=t_string!(i18n, audits.progress.label)></progress>
                    " "{text}
                </p>
            }
        })}
        {move || match run.value().get() {
            Some(Ok(report)) => view! { <Findings report/> }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => view! { <LatestFindings runs/> }.into_any(),
        }}
        <h2>{t!(i18n, audits.runs.title)}</h2>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(runs) => view! {
                        <table class="audit-runs">
                            <thead><tr><th>{t!(i18n, audits.runs.started)}</th><th>{t!(i18n, audits.runs.trigger)}</th><th>{t!(i18n, audits.runs.result)}</th><th class="num">{t!(i18n, audits.runs.findings)}</th><th class="num">{t!(i18n, audits.runs.at_stake)}</th></tr></thead>
                            <tbody>
                                {runs.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{utc_minute(r.started_at)}</td>
                                        <td>{trigger_text(r.trigger)}</td>
                                        <td>{status_text(r.status, r.error.as_deref())}
                                            {(r.status == AuditStatus::Running).then(|| format!(" ({})", progress_text(&r)))}</td>
                                        <td class="num">{r.finding_count}</td>
                                        <td class="num">{chf(r.amount_at_stake)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <h2>{t!(i18n, audits.alerts.title)}</h2>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match problems.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">{t!(i18n, audits.alerts.all_delivered)}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="alert-problems">
                            <thead><tr><th>{t!(i18n, audits.alerts.queued)}</th><th>{t!(i18n, audits.alerts.to)}</th><th>{t!(i18n, audits.alerts.state)}</th><th>{t!(i18n, audits.alerts.why)}</th><th>{t!(i18n, audits.alerts.message)}</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|p| view! {
                                    <tr><td>{utc_minute(p.created_at)}</td><td>{audience_text(p.audience)}</td><td>{alert_state_text(p.state)}</td><td>{p.error}</td><td>{p.text}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn trigger_text(trigger: AuditTrigger) -> &'static str {
    let i18n = use_i18n();
    match trigger {
        AuditTrigger::Schedule => t_string!(i18n, audits.trigger.schedule),
        AuditTrigger::Cli => t_string!(i18n, audits.trigger.cli),
        AuditTrigger::Manual => t_string!(i18n, audits.trigger.manual),
    }
}

fn status_text(status: AuditStatus, error: Option<&str>) -> String {
    let i18n = use_i18n();
    match status {
        AuditStatus::Running => t_string!(i18n, audits.status.running).into(),
        AuditStatus::Clean => t_string!(i18n, audits.status.clean).into(),
        AuditStatus::Findings => t_string!(i18n, audits.status.findings).into(),
        AuditStatus::Error => t_string!(
            i18n,
            audits.status.error,
            error = error.unwrap_or(t_string!(i18n, audits.status.see_log))
        )
        .to_string(),
    }
}

/// How far a running run is, in the page's language: "planning the checks", "3 / 11 checks".
fn progress_text(run: &AuditRun) -> String {
    let i18n = use_i18n();
    if run.checks_total == 0 {
        t_string!(i18n, audits.progress.planning).to_string()
    } else {
        t_string!(
            i18n,
            audits.progress.checks,
            done = run.checks_done,
            count = run.checks_total
        )
        .to_string()
    }
}

/// Who an alert was for ("owner" or "employee") in the page's language; another value as it
/// came.
fn audience_text(audience: String) -> String {
    let i18n = use_i18n();
    match audience.as_str() {
        "owner" => t_string!(i18n, common.role.owner).to_string(),
        "employee" => t_string!(i18n, common.role.employee).to_string(),
        _ => audience,
    }
}

/// An undelivered alert's state ("failed" or "unknown") in the page's language; another value
/// as it came.
fn alert_state_text(state: String) -> String {
    let i18n = use_i18n();
    match state.as_str() {
        "failed" => t_string!(i18n, audits.alerts.failed).to_string(),
        "unknown" => t_string!(i18n, audits.alerts.unknown).to_string(),
        _ => state,
    }
}

/// The findings of the newest run.
#[component]
fn LatestFindings(runs: Resource<Result<Vec<AuditRun>, AppError>>) -> impl IntoView {
    let report = Resource::new(
        move || {
            runs.get()
                .and_then(Result::ok)
                .and_then(|r| r.first().map(|run| run.id.to_string()))
        },
        |id| async move {
            match id {
                Some(id) => get_audit_report(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(Some(report)) => view! { <Findings report/> }.into_any(),
                    Ok(None) => view! { <p class="hint">{t!(use_i18n(), audits.findings.none_yet)}</p> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Findings(report: AuditReport) -> impl IntoView {
    let i18n = use_i18n();
    let headline = if report.findings.is_empty() {
        t_string!(
            i18n,
            audits.findings.clean,
            at = utc_minute(report.run.started_at)
        )
        .to_string()
    } else {
        t_string!(
            i18n,
            audits.findings.found,
            at = utc_minute(report.run.started_at),
            count = report.findings.len() as u64,
            total = chf(report.run.amount_at_stake)
        )
        .to_string()
    };
    let clean = report.findings.is_empty();
    view! {
        <section class="findings" data-status=if clean { "clean" } else { "findings" }>
            <p class=if clean { "notice success" } else { "notice error" } role="status">{headline}</p>
            {(!clean).then(|| view! {
                <table>
                    <thead><tr><th>{t!(i18n, audits.findings.check)}</th><th>{t!(i18n, audits.findings.entity)}</th><th>{t!(i18n, audits.findings.what)}</th><th class="num">{t!(i18n, audits.findings.at_stake)}</th></tr></thead>
                    <tbody>
                        // Findings stored before their detail was kept as data show the audit's
                        // English message (marked as English for screen readers).
                        {report.findings.into_iter().map(|f| view! {
                            <tr data-check=f.check.as_str()>
                                <td>{check_title(f.check)}</td>
                                <td>{entity_type_words(&f.entity_type)}" "<code>{f.entity_id.map(|id| id.to_string()).unwrap_or_default()}</code></td>
                                {match f.detail {
                                    Some(detail) => view! { <td>{finding_text(detail)}</td> }.into_any(),
                                    None => view! { <td lang="en">{f.message}</td> }.into_any(),
                                }}
                                <td class="num">{chf(f.amount_at_stake)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}

/// What a finding says, in the page's language: "the till of Zürich on 23.11.2026 closed
/// expecting CHF 50.00 but its float and cash postings come to CHF 48.00".
fn finding_text(detail: AuditFindingDetail) -> String {
    use AuditFindingDetail as D;
    let i18n = use_i18n();
    match detail {
        D::LinesDoNotAddUp {
            employee,
            total,
            lines,
        } => t_string!(
            i18n,
            audits.detail.lines_do_not_add_up,
            employee = employee,
            total = chf(total),
            lines = chf(lines)
        )
        .to_string(),
        D::TransferOfUncommittedPayout {
            employee: Some(employee),
        } => t_string!(
            i18n,
            audits.detail.transfer_of_uncommitted_payout,
            employee = employee
        )
        .to_string(),
        D::TransferOfUncommittedPayout { employee: None } => {
            t_string!(i18n, audits.detail.transfer_of_unknown_payout).to_string()
        }
        D::PayoutTransferDiffers {
            employee,
            total,
            paid_out,
        } => t_string!(
            i18n,
            audits.detail.payout_transfer_differs,
            employee = employee,
            total = chf(total),
            paid_out = chf(paid_out)
        )
        .to_string(),
        D::ClaimedTwice { payouts } => {
            t_string!(i18n, audits.detail.claimed_twice, payouts = payouts).to_string()
        }
        D::LineMisplaced {
            record,
            owner: Some(owner),
            on: Some(on),
            payee,
            period_start,
            period_end,
        } => t_string!(
            i18n,
            audits.detail.line_misplaced,
            record = record_words(record),
            owner = owner,
            date = date(on),
            payee = payee,
            start = date(period_start),
            end = date(period_end)
        )
        .to_string(),
        D::LineMisplaced {
            record,
            payee,
            period_start,
            period_end,
            ..
        } => t_string!(
            i18n,
            audits.detail.line_of_missing_record,
            record = record_words(record),
            payee = payee,
            start = date(period_start),
            end = date(period_end)
        )
        .to_string(),
        D::Unbalanced { transfer, sum } => t_string!(
            i18n,
            audits.detail.unbalanced,
            transfer = transfer,
            sum = chf(sum)
        )
        .to_string(),
        D::NoTransfer {
            record,
            employee,
            on,
            amount,
        } => t_string!(
            i18n,
            audits.detail.no_transfer,
            record = record_words(record),
            employee = employee,
            date = date(on),
            amount = chf(amount)
        )
        .to_string(),
        D::PayableDiffers {
            employee,
            ledger,
            records,
        } => t_string!(
            i18n,
            audits.detail.payable_differs,
            employee = employee,
            ledger = chf(ledger),
            records = chf(records)
        )
        .to_string(),
        D::TipsPayableDiffers {
            studio,
            ledger,
            records,
        } => t_string!(
            i18n,
            audits.detail.tips_payable_differs,
            studio = studio,
            ledger = chf(ledger),
            records = chf(records)
        )
        .to_string(),
        D::ReturnedPayoutsDiffer {
            studio,
            ledger,
            failed,
        } => t_string!(
            i18n,
            audits.detail.returned_payouts_differ,
            studio = studio,
            ledger = chf(ledger),
            failed = chf(failed)
        )
        .to_string(),
        D::TillDiffers {
            studio,
            on,
            expected,
            postings,
        } => t_string!(
            i18n,
            audits.detail.till_differs,
            studio = studio,
            date = date(on),
            expected = chf(expected),
            postings = chf(postings)
        )
        .to_string(),
        D::PayoutStuck { employee, phase } => t_string!(
            i18n,
            audits.detail.payout_stuck,
            employee = employee,
            phase = payout_phase_label(phase)
        )
        .to_string(),
    }
}

/// A record a finding is about, in the page's language ("working-day deduction").
fn record_words(record: AuditedRecord) -> &'static str {
    let i18n = use_i18n();
    match record {
        AuditedRecord::Service => t_string!(i18n, audits.record.service),
        AuditedRecord::WorkingDay => t_string!(i18n, audits.record.working_day),
        AuditedRecord::Refund => t_string!(i18n, audits.record.refund),
    }
}

/// The invariant a check guards, in the page's language ("Till does not add up").
fn check_title(check: AuditCheck) -> &'static str {
    let i18n = use_i18n();
    match check {
        AuditCheck::PayoutLines => t_string!(i18n, audits.check.payout_lines),
        AuditCheck::PayoutTransfer => t_string!(i18n, audits.check.payout_transfer),
        AuditCheck::RecordClaimedTwice => t_string!(i18n, audits.check.record_claimed_twice),
        AuditCheck::LineMisplaced => t_string!(i18n, audits.check.line_misplaced),
        AuditCheck::TransferUnbalanced => t_string!(i18n, audits.check.transfer_unbalanced),
        AuditCheck::RecordWithoutTransfer => t_string!(i18n, audits.check.record_without_transfer),
        AuditCheck::PayableMismatch => t_string!(i18n, audits.check.payable_mismatch),
        AuditCheck::TipsPayableMismatch => t_string!(i18n, audits.check.tips_payable_mismatch),
        AuditCheck::TillMismatch => t_string!(i18n, audits.check.till_mismatch),
        AuditCheck::PayoutStuck => t_string!(i18n, audits.check.payout_stuck),
        AuditCheck::ReturnedPayoutsMismatch => {
            t_string!(i18n, audits.check.returned_payouts_mismatch)
        }
    }
}

/// A finding's entity type in the page's language; a type this page does not know is shown as
/// stored.
fn entity_type_words(entity_type: &str) -> String {
    let i18n = use_i18n();
    match entity_type {
        "payout" => t_string!(i18n, audits.entity_type.payout).to_string(),
        "service_record" => t_string!(i18n, audits.entity_type.service_record).to_string(),
        "day_record" => t_string!(i18n, audits.entity_type.day_record).to_string(),
        "transfer" => t_string!(i18n, audits.entity_type.transfer).to_string(),
        "employee" => t_string!(i18n, audits.entity_type.employee).to_string(),
        "studio" => t_string!(i18n, audits.entity_type.studio).to_string(),
        "till_session" => t_string!(i18n, audits.entity_type.till_session).to_string(),
        other => other.to_string(),
    }
}

/// The audit page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct AuditsRoute;

#[lazy_route]
impl LazyRoute for AuditsRoute {
    fn data() -> Self {
        AuditsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <AuditsPage/> }.into_any()
    }
}
