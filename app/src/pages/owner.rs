//! The owner's payout desk: what each employee is owed, a preview of a payout (every line with its
//! commission formula, and the totals), the Commit button, and the payouts of both studios.

use crate::api::{list_employees, list_payouts, preview_payout, CommitPayout};
use crate::components::{
    chf, count, current_language, date, idempotency_key_for, payout_state_label, utc_minute,
    AttentionBanner, ErrorMessage, ScrollTable,
};
use crate::domain::slip::{slip_path, slip_refusal};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
use crate::wording::formula_terms;
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
    let i18n = use_i18n();

    view! {
        <AttentionBanner/>
        <h1>{t!(i18n, owner.title)}</h1>
        <h2>{t!(i18n, owner.owed)}</h2>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match employees.await {
                    Ok(list) => view! { <EmployeeTable employees=list/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <section id="prepare" class="card">
            <h2>{t!(i18n, owner.prepare.title)}</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = match employees.await {
                        Ok(list) => list,
                        Err(error) => return view! { <ErrorMessage error/> }.into_any(),
                    };
                    let (selected, start, end) = selection();
                    view! {
                        <form method="get" action="/owner#prepare" class="form-grid">
                            <label>{t!(i18n, owner.prepare.employee)}
                                <select name="employee" required>
                                    <option value="">{t!(i18n, owner.prepare.choose)}</option>
                                    {list.into_iter().map(|e| {
                                        let id = e.id.to_string();
                                        view! { <option selected=id == selected value=id>{format!("{} ({})", e.name, e.studio_name)}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>{t!(i18n, owner.prepare.from)} <input type="date" name="start" value=start required/></label>
                            <label>{t!(i18n, owner.prepare.to)} <input type="date" name="end" value=end required/></label>
                            <button type="submit">{t!(i18n, owner.prepare.preview)}</button>
                        </form>
                    }
                    .into_any()
                })}
            </Transition>
            <Transition fallback=move || view! { <p>{t!(i18n, owner.prepare.computing)}</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        None => view! { <p class="hint">{t!(i18n, owner.prepare.hint)}</p> }.into_any(),
                        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                        Some(Ok(preview)) => view! { <PreviewView preview commit/> }.into_any(),
                    }
                })}
            </Transition>
            {move || match commit.value().get() {
                Some(Ok(payout)) => view! {
                    <p class="notice success" role="status" data-state=payout.state.as_str()>
                        {t_string!(i18n, owner.committed,
                            name = payout.employee_name.clone(), state = payout_state_label(payout.state),
                            count = payout.record_count, n = count(payout.record_count), total = chf(payout.total)).to_string()}
                        <a href=format!("/payouts/{}", payout.id)>{t!(i18n, owner.open_payout)}</a>
                    </p>
                }.into_any(),
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
        </section>
        <h2>{t!(i18n, owner.both_studios)}</h2>
        <nav class="filters">
            <a href="/owner">{t!(i18n, owner.all)}</a>
            {PayoutState::ALL.into_iter().map(|s| view! { <a href=format!("/owner?state={s}")>{payout_state_label(s)}</a> }).collect_view()}
        </nav>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
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
    let i18n = use_i18n();
    view! {
        <table class="employees">
            <thead><tr><th>{t!(i18n, owner.employees.employee)}</th><th>{t!(i18n, owner.employees.studio)}</th>
                <th class="num">{t!(i18n, owner.employees.unpaid_records)}</th>
                <th class="num">{t!(i18n, owner.employees.unpaid_total)}</th><th></th></tr></thead>
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
                            <td class="num">{count(e.unpaid_record_count)}</td>
                            <td class="num">{chf(e.unpaid_total)}</td>
                            <td>{prepare.map(|href| view! { <a class="button" href=href>{t!(i18n, owner.employees.prepare)}</a> })}</td>
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
    let i18n = use_i18n();
    let summary = t_string!(
        i18n,
        owner.preview.summary,
        name = preview.employee_name.clone(),
        start = date(preview.period_start),
        end = date(preview.period_end),
        count = preview.record_count,
        n = count(preview.record_count),
        total = chf(preview.total)
    )
    .to_string();
    let can_commit = preview.record_count > 0 && preview.total.0 > 0;
    let line_count = preview.lines.len();
    let lines_text = t_string!(
        i18n,
        owner.preview.lines,
        count = line_count,
        n = count(i64::try_from(line_count).unwrap_or(i64::MAX))
    )
    .to_string();
    let commit_text = t_string!(i18n, owner.preview.commit, total = chf(preview.total)).to_string();
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
                        <legend>{t!(i18n, owner.preview.pay_by)}</legend>
                        <label class="inline"><input type="radio" name="method" value="bank" checked=true/>{t!(i18n, owner.preview.bank)}</label>
                        <label class="inline"><input type="radio" name="method" value="cash"/>{t!(i18n, owner.preview.cash)}</label>
                    </fieldset>
                    <button type="submit" class="commit" disabled=move || commit.pending().get()>
                        {commit_text}
                    </button>
                </ActionForm>
            })}
            {(!can_commit).then(|| view! { <p class="hint">{t!(i18n, owner.preview.nothing)}</p> })}
            <details open=line_count <= 50>
                <summary>{lines_text}</summary>
                <LineTable lines=preview.lines/>
            </details>
        </div>
    }
}

/// Lines of a payout or preview with their formulas.
#[component]
pub fn LineTable(lines: Vec<PayoutLine>) -> impl IntoView {
    let total = Rappen(lines.iter().map(|l| l.amount.0).sum());
    let i18n = use_i18n();
    view! {
        <table class="lines">
            <thead><tr><th>{t!(i18n, owner.lines.date)}</th><th>{t!(i18n, owner.lines.record)}</th>
                <th>{t!(i18n, owner.lines.formula)}</th><th class="num">{t!(i18n, owner.lines.amount)}</th></tr></thead>
            <tbody>
                {lines.into_iter().map(|l| view! {
                    <tr>
                        <td>{date(l.on_date)}</td>
                        <td>{match l.kind {
                            LineKind::Service => l.service_name.clone().unwrap_or_default(),
                            LineKind::Day => t_string!(i18n, owner.lines.working_day).to_string(),
                        }}</td>
                        <td class="formula">{formula_text(&l)}</td>
                        <td class="num">{chf(l.amount)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
            <tfoot><tr><th colspan="3">{t!(i18n, owner.lines.total)}</th><th class="num">{chf(total)}</th></tr></tfoot>
        </table>
    }
}

/// Payouts with their state and, when `slips` (the person looking may download slips), a
/// column with each committed payout's slip: a plain link, so it works without JavaScript.
#[component]
pub fn PayoutTable(payouts: Vec<Payout>, #[prop(optional)] slips: bool) -> impl IntoView {
    let i18n = use_i18n();
    if payouts.is_empty() {
        return view! { <p class="hint">{t!(i18n, owner.payouts.none)}</p> }.into_any();
    }
    view! {
        <ScrollTable label=t_string!(i18n, owner.payouts.label)>
            <table class="payouts">
                <thead><tr><th>{t!(i18n, owner.payouts.created)}</th><th>{t!(i18n, owner.payouts.employee)}</th>
                    <th>{t!(i18n, owner.payouts.period)}</th><th>{t!(i18n, owner.payouts.state)}</th>
                    <th class="num">{t!(i18n, owner.payouts.records)}</th><th class="num">{t!(i18n, owner.payouts.total)}</th>
                    {slips.then(|| view! { <th>{t!(i18n, owner.payouts.slip)}</th> })}</tr></thead>
                <tbody>
                    {payouts.into_iter().map(|p| {
                        let slip = slips.then(|| {
                            let href = slip_refusal(p.state).is_none().then(|| slip_path(p.id));
                            view! { <td>{href.map(|href| view! {
                                <a class="slip-download" href=href download>{t!(i18n, owner.payouts.download_slip)}</a>
                            })}</td> }
                        });
                        view! {
                            <tr data-payout-id=p.id.to_string()>
                                <td><a href=format!("/payouts/{}", p.id)>{utc_minute(p.created_at)}</a></td>
                                <td>{p.employee_name}</td>
                                <td>{format!("{} – {}", date(p.period_start), date(p.period_end))}</td>
                                <td><span class=format!("state state-{}", p.state)>{payout_state_label(p.state)}</span></td>
                                <td class="num">{count(p.record_count)}</td>
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

/// A line's formula in the page's language, its terms ([`formula_terms`]) with the tip and amount:
/// `40 % of CHF 85.00 = CHF 34.00 + tip CHF 5.00 = CHF 39.00`, or for a working day
/// `minimum CHF 150.00 − earned CHF 120.00 = top-up CHF 30.00; deduction −CHF 30.00 = CHF 0.00`.
fn formula_text(line: &PayoutLine) -> String {
    let i18n = use_i18n();
    let terms = formula_terms(current_language(), line).join("; ");
    match line.kind {
        LineKind::Service if line.tip.0 == 0 => terms,
        LineKind::Service => t_string!(
            i18n,
            owner.formula.tip,
            commission = terms,
            tip = chf(line.tip),
            amount = chf(line.amount)
        )
        .to_string(),
        LineKind::Day => format!("{terms} = {}", chf(line.amount)),
    }
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
