//! Employees: the list, and each employee's own page with their payouts (status, lines, total)
//! and what is not paid out yet.

use super::owner::PayoutTable;
use crate::api::{get_employee_summary, list_employees, list_payouts};
use crate::components::{chf, ErrorMessage};
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
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (summary.await, payouts.await) {
                    (Ok(e), Ok(list)) => view! {
                        <h1>{e.name.clone()}</h1>
                        <p>{format!("{} · not paid out yet: {} records, {}", e.studio_name, e.unpaid_record_count, chf(e.unpaid_total))}</p>
                        <h2>"Your payouts"</h2>
                        <PayoutTable payouts=list/>
                    }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
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
