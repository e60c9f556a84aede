//! Employees: the list, and each employee's own page with their payouts (status, lines, total,
//! the slip of each committed one), the bank transfers paying them (with the business-day
//! countdown) and what is not paid out yet.

use super::owner::PayoutTable;
use super::settlements::countdown;
use crate::api::{get_employee_summary, list_employees, list_payout_settlements, list_payouts};
use crate::components::{
    chf, count, date, settlement_item_reason, settlement_state_label, ErrorMessage, ScrollTable,
};
use crate::domain::slip::may_download_slips;
use crate::domain::{SettlementItem, SettlementState};
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn EmployeesPage() -> impl IntoView {
    let employees = OnceResource::new(list_employees());
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, employee.list.title)}</h1>
        <p>{t!(i18n, employee.list.intro)}</p>
        <Suspense fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match employees.await {
                    Ok(list) => view! {
                        <ul class="people">
                            {list.into_iter().map(|e| view! {
                                <li><a href=format!("/employees/{}", e.id)>{e.name}</a>{format!(" — {}", e.studio_name)}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn EmployeePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let summary = Resource::new(id, get_employee_summary);
    let payouts = Resource::new(id, |id| list_payouts(None, Some(id)));
    let transfers = Resource::new(id, list_payout_settlements);
    let session = expect_context::<crate::pages::Session>().me;
    let i18n = use_i18n();
    view! {
        <Suspense fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                // Without a session (its error shows in the top bar) no slip links: they would be refused.
                let slips = matches!(session.await, Ok(Some(me)) if may_download_slips(me.role));
                match (summary.await, payouts.await) {
                    (Ok(e), Ok(list)) => view! {
                        <h1>{e.name.clone()}</h1>
                        <p>{t_string!(
                            i18n,
                            employee.page.unpaid,
                            count = e.unpaid_record_count,
                            studio = e.studio_name.clone(),
                            records = count(e.unpaid_record_count),
                            total = chf(e.unpaid_total)
                        ).to_string()}</p>
                        <h2>{t!(i18n, employee.page.your_payouts)}</h2>
                        <PayoutTable payouts=list slips/>
                    }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
        <h2>{t!(i18n, employee.transfers.heading)}</h2>
        <Suspense fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match transfers.await {
                    Ok(list) => view! { <TransferTable transfers=list/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the employee reads about a transfer besides its state: when it arrives, or what happens
/// with it now.
fn transfer_status(item: &SettlementItem) -> String {
    let i18n = use_i18n();
    let reason = settlement_item_reason(item).unwrap_or_default();
    match item.state {
        SettlementState::Scheduled => t_string!(
            i18n,
            employee.status.scheduled,
            countdown = countdown(item).unwrap_or_default()
        )
        .to_string(),
        SettlementState::InTransit => countdown(item).unwrap_or_default(),
        SettlementState::Settled => t_string!(i18n, employee.status.settled).to_string(),
        SettlementState::Failed => {
            t_string!(i18n, employee.status.failed, reason = reason).to_string()
        }
        SettlementState::NeedsReconciliation => {
            t_string!(i18n, employee.status.needs_reconciliation, reason = reason).to_string()
        }
        SettlementState::Reissued => t_string!(i18n, employee.status.reissued).to_string(),
        SettlementState::WrittenOff => t_string!(i18n, employee.status.written_off).to_string(),
    }
}

/// The bank transfers of the employee's payouts, newest first.
#[component]
fn TransferTable(transfers: Vec<SettlementItem>) -> impl IntoView {
    let i18n = use_i18n();
    if transfers.is_empty() {
        return view! { <p class="hint">{t!(i18n, employee.transfers.none)}</p> }.into_any();
    }
    view! {
        <ScrollTable label=t_string!(i18n, employee.transfers.heading)>
            <table class="bank-transfers">
                <thead><tr>
                    <th class="num">{t!(i18n, employee.transfers.amount)}</th><th>{t!(i18n, employee.transfers.state)}</th>
                    <th>{t!(i18n, employee.transfers.expected)}</th><th>{t!(i18n, employee.transfers.what_now)}</th>
                </tr></thead>
                <tbody>
                    {transfers.into_iter().map(|item| {
                        let status = transfer_status(&item);
                        let attention = item.state.needs_attention();
                        view! {
                            <tr data-item-id=item.id.to_string() data-state=item.state.as_str()>
                                <td class="num">{chf(item.amount)}</td>
                                <td>
                                    {attention.then(|| view! { <span class="icon" aria-hidden="true">"⚠ "</span> })}
                                    <span class=format!("state state-{}", item.state.as_str())>{settlement_state_label(item.state)}</span>
                                </td>
                                <td>{date(item.expected_on)}</td>
                                <td class="transfer-status" class:overdue=item.overdue>{status}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </ScrollTable>
    }
    .into_any()
}

/// The list of employees as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct EmployeesRoute;

#[lazy_route]
impl LazyRoute for EmployeesRoute {
    fn data() -> Self {
        EmployeesRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <EmployeesPage/> }.into_any()
    }
}

/// One employee's page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct EmployeeRoute;

#[lazy_route]
impl LazyRoute for EmployeeRoute {
    fn data() -> Self {
        EmployeeRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <EmployeePage/> }.into_any()
    }
}
