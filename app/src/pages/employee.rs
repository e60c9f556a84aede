//! Employees: the list, and each employee's own page with their payouts (status, lines, total,
//! the slip of each committed one), the bank transfers paying them (with the business-day
//! countdown) and what is not paid out yet.

use super::owner::PayoutTable;
use super::settlements::countdown;
use crate::api::{get_employee_summary, list_employees, list_payout_settlements, list_payouts};
use crate::components::{chf, ErrorMessage, ScrollTable};
use crate::domain::slip::may_download_slips;
use crate::domain::{SettlementItem, SettlementState};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn EmployeesPage() -> impl IntoView {
    let employees = OnceResource::new(list_employees());
    view! {
        <h1>"Employees"</h1>
        <p>"Open your page to see your payouts."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
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
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                // Without a session (its error shows in the top bar) no slip links: they would be refused.
                let slips = matches!(session.await, Ok(Some(me)) if may_download_slips(me.role));
                match (summary.await, payouts.await) {
                    (Ok(e), Ok(list)) => view! {
                        <h1>{e.name.clone()}</h1>
                        <p>{format!("{} · not paid out yet: {} records, {}", e.studio_name, e.unpaid_record_count, chf(e.unpaid_total))}</p>
                        <h2>"Your payouts"</h2>
                        <PayoutTable payouts=list slips/>
                    }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Bank transfers"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
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
    let reason = item.reason.clone().unwrap_or_default();
    match item.state {
        SettlementState::Scheduled => format!(
            "goes out with the studio's next bank file · {}",
            countdown(item).unwrap_or_default()
        ),
        SettlementState::InTransit => countdown(item).unwrap_or_default(),
        SettlementState::Settled => "arrived: the bank statement shows it".to_string(),
        SettlementState::Failed => format!("{reason} — the studio is resolving it"),
        SettlementState::NeedsReconciliation => {
            format!("{reason} — the studio is checking it with the bank")
        }
        SettlementState::Reissued => "paid again with a new transfer (see above)".to_string(),
        SettlementState::WrittenOff => {
            "not paid out again by bank transfer; ask the studio".to_string()
        }
    }
}

/// The bank transfers of the employee's payouts, newest first.
#[component]
fn TransferTable(transfers: Vec<SettlementItem>) -> impl IntoView {
    if transfers.is_empty() {
        return view! { <p class="hint">"No bank transfer yet: a payout by bank transfer shows here once it is committed."</p> }.into_any();
    }
    view! {
        <ScrollTable label="Bank transfers">
            <table class="bank-transfers">
                <thead><tr><th class="num">"Amount"</th><th>"State"</th><th>"Expected"</th><th>"What happens now"</th></tr></thead>
                <tbody>
                    {transfers.into_iter().map(|item| {
                        let status = transfer_status(&item);
                        let attention = item.state.needs_attention();
                        view! {
                            <tr data-item-id=item.id.to_string() data-state=item.state.as_str()>
                                <td class="num">{chf(item.amount)}</td>
                                <td>
                                    {attention.then(|| view! { <span class="icon" aria-hidden="true">"⚠ "</span> })}
                                    <span class=format!("state state-{}", item.state.as_str())>{item.state.label()}</span>
                                </td>
                                <td>{item.expected_on.to_string()}</td>
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
