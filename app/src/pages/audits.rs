//! The owner's audit page: run the audit now, the latest runs, the findings of the newest run
//! (each with the entity, what is wrong and the amount at stake), and Telegram alerts that did
//! not arrive.

use crate::api::{alert_problems, get_audit_report, list_audit_runs, RunAuditNow};
use crate::components::{chf, utc_minute, AttentionBanner, ErrorMessage};
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn AuditsPage() -> impl IntoView {
    let run = ServerAction::<RunAuditNow>::new();
    // While a run started here goes on, the list of runs is read twice a second: the running
    // run's row shows how many of its checks are done.
    let tick = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if run.pending().get() {
            match set_interval_with_handle(
                move || tick.update(|t| *t += 1),
                std::time::Duration::from_millis(500),
            ) {
                Ok(handle) => on_cleanup(move || handle.clear()),
                Err(error) => {
                    leptos::logging::warn!("the audit's progress cannot be followed: {error:?}")
                }
            }
        }
    });
    let runs = Resource::new(
        move || (run.version().get(), tick.get()),
        |_| list_audit_runs(),
    );
    let problems = Resource::new(move || run.version().get(), |_| alert_problems());
    view! {
        <AttentionBanner/>
        <h1>"Audit"</h1>
        <p>"Every night the audit checks the books: payouts against their lines and ledger transfers, balances against unpaid records, tills against their cash. It alerts only when something is wrong."</p>
        <ActionForm action=run>
            <button type="submit" class="run-audit" disabled=move || run.pending().get()>"Run audit now"</button>
        </ActionForm>
        {move || run.pending().get().then(|| {
            let running = match runs.get() {
                Some(Ok(list)) => list.into_iter().find(|r| r.status == AuditStatus::Running),
                // The list's own error shows under Runs.
                Some(Err(_)) | None => None,
            };
            let (done, total) = running.as_ref().map_or((0, 0), |r| (r.checks_done, r.checks_total));
            let text = running.map_or_else(|| "starting".to_string(), |r| r.progress_text());
            view! {
                <p class="audit-progress" role="status" data-testid="audit-progress">
                    "Running the audit: "
                    <progress max=total.max(1).to_string() value=done.to_string() aria-label="Audit progress"></progress>
                    " "{text}
                </p>
            }
        })}
        {move || match run.value().get() {
            Some(Ok(report)) => view! { <Findings report/> }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => view! { <LatestFindings runs/> }.into_any(),
        }}
        <h2>"Runs"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(runs) => view! {
                        <table class="audit-runs">
                            <thead><tr><th>"Started"</th><th>"Trigger"</th><th>"Result"</th><th class="num">"Findings"</th><th class="num">"At stake"</th></tr></thead>
                            <tbody>
                                {runs.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{utc_minute(r.started_at)}</td>
                                        <td>{trigger_text(r.trigger)}</td>
                                        <td>{status_text(r.status, r.error.as_deref())}
                                            {(r.status == AuditStatus::Running).then(|| format!(" ({})", r.progress_text()))}</td>
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
        <h2>"Alerts that did not arrive"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match problems.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">"Every Telegram alert was delivered (or none was needed)."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="alert-problems">
                            <thead><tr><th>"Queued"</th><th>"To"</th><th>"State"</th><th>"Why"</th><th>"Message"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|p| view! {
                                    <tr><td>{utc_minute(p.created_at)}</td><td>{p.audience}</td><td>{p.state}</td><td>{p.error}</td><td>{p.text}</td></tr>
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
    match trigger {
        AuditTrigger::Schedule => "nightly",
        AuditTrigger::Cli => "command line",
        AuditTrigger::Manual => "button",
    }
}

fn status_text(status: AuditStatus, error: Option<&str>) -> String {
    match status {
        AuditStatus::Running => "running".into(),
        AuditStatus::Clean => "clean".into(),
        AuditStatus::Findings => "findings".into(),
        AuditStatus::Error => format!("could not run: {}", error.unwrap_or("see the server log")),
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
                    Ok(None) => view! { <p class="hint">"No audit has run yet."</p> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Findings(report: AuditReport) -> impl IntoView {
    let headline = if report.findings.is_empty() {
        format!(
            "Audit of {}: clean, every invariant holds.",
            utc_minute(report.run.started_at)
        )
    } else {
        format!(
            "Audit of {}: {} findings, {} at stake.",
            utc_minute(report.run.started_at),
            report.findings.len(),
            chf(report.run.amount_at_stake)
        )
    };
    let clean = report.findings.is_empty();
    view! {
        <section class="findings" data-status=if clean { "clean" } else { "findings" }>
            <p class=if clean { "notice success" } else { "notice error" } role="status">{headline}</p>
            {(!clean).then(|| view! {
                <table>
                    <thead><tr><th>"Check"</th><th>"Entity"</th><th>"What is wrong"</th><th class="num">"At stake"</th></tr></thead>
                    <tbody>
                        {report.findings.into_iter().map(|f| view! {
                            <tr>
                                <td>{f.check.as_str()}</td>
                                <td>{format!("{} {}", f.entity_type, f.entity_id.map(|id| id.to_string()).unwrap_or_default())}</td>
                                <td>{f.message}</td>
                                <td class="num">{chf(f.amount_at_stake)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
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
