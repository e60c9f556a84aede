//! The owner's payout desk: what each employee is owed, a preview of a payout (every line with its
//! commission formula, and the totals), the Commit button, and the payouts of both studios.

use crate::api::{list_employees, list_payouts, preview_payout, CommitPayout};
use crate::components::{
    chf, idempotency_key_for, utc_minute, AttentionBanner, ErrorMessage, ScrollTable,
};
use crate::domain::slip::{slip_path, slip_refusal};
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn OwnerPage() -> impl IntoView {
    let query = use_query_map();
    let commit = ServerAction::<CommitPayout>::new();
    let employees = Resource::new(move || commit.version().get(), |_| list_employees());
    let selection = move || {
        query.with(|q| {
            (
                q.get("employee").unwrap_or_default(),
                q.get("start").unwrap_or_default(),
                q.get("end").unwrap_or_default(),
            )
        })
    };
    let preview = Resource::new(
        move || (selection(), commit.version().get()),
        |((employee, start, end), _)| async move {
            if employee.is_empty() {
                None
            } else {
                Some(preview_payout(employee, start, end).await)
            }
        },
    );
    let state_filter = move || query.with(|q| q.get("state").unwrap_or_default());
    let payouts = Resource::new(
        move || (state_filter(), commit.version().get()),
        |(state, _)| list_payouts(Some(state), None),
    );

    view! {
        <AttentionBanner/>
        <h1>"Payouts"</h1>
        <h2>"What each employee is owed"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match employees.await {
                    Ok(list) => view! { <EmployeeTable employees=list/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <section id="prepare" class="card">
            <h2>"Prepare a payout"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = match employees.await {
                        Ok(list) => list,
                        Err(error) => return view! { <ErrorMessage error/> }.into_any(),
                    };
                    let (selected, start, end) = selection();
                    view! {
                        <form method="get" action="/owner#prepare" class="form-grid">
                            <label>"Employee"
                                <select name="employee" required>
                                    <option value="">"— choose —"</option>
                                    {list.into_iter().map(|e| {
                                        let id = e.id.to_string();
                                        view! { <option selected=id == selected value=id>{format!("{} ({})", e.name, e.studio_name)}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>"From" <input type="date" name="start" value=start required/></label>
                            <label>"To" <input type="date" name="end" value=end required/></label>
                            <button type="submit">"Preview"</button>
                        </form>
                    }
                    .into_any()
                })}
            </Transition>
            <Transition fallback=|| view! { <p>"Computing the preview…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        None => view! { <p class="hint">"Choose an employee and a period, then Preview."</p> }.into_any(),
                        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                        Some(Ok(preview)) => view! { <PreviewView preview commit/> }.into_any(),
                    }
                })}
            </Transition>
            {move || match commit.value().get() {
                Some(Ok(payout)) => view! {
                    <p class="notice success" role="status" data-state=payout.state.as_str()>
                        {format!("Payout to {} {}: {} records, {}. ", payout.employee_name, payout.state, payout.record_count, chf(payout.total))}
                        <a href=format!("/payouts/{}", payout.id)>"Open payout"</a>
                    </p>
                }.into_any(),
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
        </section>
        <h2>"Payouts of both studios"</h2>
        <nav class="filters">
            <a href="/owner">"All"</a>
            {PayoutState::ALL.into_iter().map(|s| view! { <a href=format!("/owner?state={s}")>{s.as_str()}</a> }).collect_view()}
        </nav>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match payouts.await {
                    Ok(list) => view! { <PayoutTable payouts=list/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EmployeeTable(employees: Vec<EmployeeSummary>) -> impl IntoView {
    view! {
        <table class="employees">
            <thead><tr><th>"Employee"</th><th>"Studio"</th><th class="num">"Unpaid records"</th>
                <th class="num">"Unpaid total"</th><th></th></tr></thead>
            <tbody>
                {employees.into_iter().map(|e| {
                    let prepare = match (e.oldest_unpaid_on, e.newest_unpaid_on) {
                        (Some(start), Some(end)) => Some(format!("/owner?employee={}&start={start}&end={end}#prepare", e.id)),
                        _ => None,
                    };
                    view! {
                        <tr data-employee=e.name.clone()>
                            <td><a href=format!("/employees/{}", e.id)>{e.name.clone()}</a></td>
                            <td>{e.studio_name}</td>
                            <td class="num">{e.unpaid_record_count}</td>
                            <td class="num">{chf(e.unpaid_total)}</td>
                            <td>{prepare.map(|href| view! { <a class="button" href=href>"Prepare payout"</a> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn PreviewView(preview: PayoutPreview, commit: ServerAction<CommitPayout>) -> impl IntoView {
    let key = idempotency_key_for(commit.version().read_only());
    let summary = format!(
        "{} — {} to {}: {} records, total {}",
        preview.employee_name,
        preview.period_start,
        preview.period_end,
        preview.record_count,
        chf(preview.total)
    );
    let can_commit = preview.record_count > 0 && preview.total.0 > 0;
    let line_count = preview.lines.len();
    view! {
        <div class="preview">
            <p class="summary" data-record-count=preview.record_count data-total=preview.total.0>{summary}</p>
            {can_commit.then(|| view! {
                <ActionForm action=commit>
                    <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                    <input type="hidden" name="employee_id" value=preview.employee_id.to_string()/>
                    <input type="hidden" name="period_start" value=preview.period_start.to_string()/>
                    <input type="hidden" name="period_end" value=preview.period_end.to_string()/>
                    <fieldset class="method">
                        <legend>"Pay by"</legend>
                        <label class="inline"><input type="radio" name="method" value="bank" checked=true/>"Bank transfer"</label>
                        <label class="inline"><input type="radio" name="method" value="cash"/>"Cash from the till"</label>
                    </fieldset>
                    <button type="submit" class="commit" disabled=move || commit.pending().get()>
                        {format!("Commit payout of {}", chf(preview.total))}
                    </button>
                </ActionForm>
            })}
            {(!can_commit).then(|| view! { <p class="hint">"Nothing to pay in this period."</p> })}
            <details open=line_count <= 50>
                <summary>{format!("{line_count} lines")}</summary>
                <LineTable lines=preview.lines/>
            </details>
        </div>
    }
}

/// Lines of a payout or preview with their formulas.
#[component]
pub fn LineTable(lines: Vec<PayoutLine>) -> impl IntoView {
    let total = Rappen(lines.iter().map(|l| l.amount.0).sum());
    view! {
        <table class="lines">
            <thead><tr><th>"Date"</th><th>"Record"</th><th>"How it is computed"</th><th class="num">"Amount"</th></tr></thead>
            <tbody>
                {lines.into_iter().map(|l| view! {
                    <tr>
                        <td>{l.on_date.to_string()}</td>
                        <td>{match l.kind {
                            LineKind::Service => l.service_name.clone().unwrap_or_default(),
                            LineKind::Day => "Working day".to_string(),
                        }}</td>
                        <td class="formula">{l.formula()}</td>
                        <td class="num">{chf(l.amount)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
            <tfoot><tr><th colspan="3">"Total"</th><th class="num">{chf(total)}</th></tr></tfoot>
        </table>
    }
}

/// Payouts with their state and, when `slips` (the person looking may download slips), a
/// column with each committed payout's slip: a plain link, so it works without JavaScript.
#[component]
pub fn PayoutTable(payouts: Vec<Payout>, #[prop(optional)] slips: bool) -> impl IntoView {
    if payouts.is_empty() {
        return view! { <p class="hint">"No payouts."</p> }.into_any();
    }
    view! {
        <ScrollTable label="Payouts">
            <table class="payouts">
                <thead><tr><th>"Created"</th><th>"Employee"</th><th>"Period"</th><th>"State"</th>
                    <th class="num">"Records"</th><th class="num">"Total"</th>
                    {slips.then(|| view! { <th>"Slip"</th> })}</tr></thead>
                <tbody>
                    {payouts.into_iter().map(|p| {
                        let slip = slips.then(|| {
                            let href = slip_refusal(p.state).is_none().then(|| slip_path(p.id));
                            view! { <td>{href.map(|href| view! {
                                <a class="slip-download" href=href download>"Download slip (PDF)"</a>
                            })}</td> }
                        });
                        view! {
                            <tr data-payout-id=p.id.to_string()>
                                <td><a href=format!("/payouts/{}", p.id)>{utc_minute(p.created_at)}</a></td>
                                <td>{p.employee_name}</td>
                                <td>{format!("{} – {}", p.period_start, p.period_end)}</td>
                                <td><span class=format!("state state-{}", p.state)>{p.state.as_str()}</span></td>
                                <td class="num">{p.record_count}</td>
                                <td class="num">{chf(p.total)}</td>
                                {slip}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </ScrollTable>
    }
    .into_any()
}

/// The owner's payouts page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct OwnerRoute;

#[lazy_route]
impl LazyRoute for OwnerRoute {
    fn data() -> Self {
        OwnerRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <OwnerPage/> }.into_any()
    }
}
