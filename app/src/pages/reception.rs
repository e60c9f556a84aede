//! Reception desk: register a performed service (employee, service, price, tip, payment method,
//! date), record an employee's working day (deduction, guaranteed minimum), and see the latest of
//! both. One submission = one record, whatever the clicks.

use crate::api::{
    list_employees, list_services, recent_day_records, recent_service_records, studio_today,
    RefundService, RegisterDay, RegisterService,
};
use crate::components::{chf, idempotency_key_for, AttentionBanner, ErrorMessage, ScrollTable};
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn ReceptionPage() -> impl IntoView {
    let register = ServerAction::<RegisterService>::new();
    let key = idempotency_key_for(register.version().read_only());
    let employees = OnceResource::new(list_employees());
    let services = OnceResource::new(list_services());
    let today = OnceResource::new(studio_today());
    let refund = ServerAction::<RefundService>::new();
    let recent = Resource::new(
        move || (register.version().get(), refund.version().get()),
        |_| recent_service_records(None),
    );

    let employee = RwSignal::new(String::new());
    let service = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());

    view! {
        <AttentionBanner/>
        <section id="services">
        <h1>"Register a service"</h1>
        <Suspense fallback=|| view! { <p>"Loading the catalogue…"</p> }>
            {move || Suspend::new(async move {
                let (employees, services, today) = match (employees.await, services.await, today.await) {
                    (Ok(e), Ok(s), Ok(t)) => (e, s, t),
                    (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
                        return view! { <ErrorMessage error/> }.into_any();
                    }
                };
                let services = StoredValue::new(services);
                let studio_of = {
                    let employees = employees.clone();
                    move |id: &str| employees.iter().find(|e| e.id.to_string() == id).map(|e| e.studio_id)
                };
                let studio_of = StoredValue::new(studio_of);
                view! {
                    <ActionForm action=register>
                        <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                        <div class="form-grid">
                            <label>"Employee"
                                <select name="employee_id" required
                                    on:change=move |ev| { employee.set(event_target_value(&ev)); service.set(String::new()); }>
                                    <option value="">"— choose —"</option>
                                    {employees.iter().map(|e| view! {
                                        <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>"Service"
                                <select name="service_id" required
                                    on:change=move |ev| {
                                        let id = event_target_value(&ev);
                                        if let Some(s) = services.with_value(|all| all.iter().find(|s| s.id.to_string() == id).cloned()) {
                                            price.set(s.list_price.format_plain().replace('\'', ""));
                                        }
                                        service.set(id);
                                    }>
                                    <option value="">"— choose —"</option>
                                    {move || {
                                        let studio = studio_of.with_value(|f| f(&employee.get()));
                                        services.with_value(|all| all.iter()
                                            .filter(|s| studio.is_none() || Some(s.studio_id) == studio)
                                            .map(|s| view! {
                                                <option value=s.id.to_string() selected=s.id.to_string() == service.get_untracked()>
                                                    {format!("{} — {}", s.name, chf(s.list_price))}
                                                </option>
                                            }).collect_view())
                                    }}
                                </select>
                            </label>
                            <label>"Price (CHF)"
                                <input name="price" inputmode="decimal" required placeholder="85.00"
                                    prop:value=move || price.get() on:input=move |ev| price.set(event_target_value(&ev))/>
                            </label>
                            <label>"Tip (CHF, optional)"
                                <input name="tip" inputmode="decimal" placeholder="0.00"/>
                            </label>
                            <fieldset>
                                <legend>"Payment"</legend>
                                {PaymentMethod::ALL.into_iter().map(|m| view! {
                                    <label class="inline">
                                        <input type="radio" name="payment_method" value=m.as_str() checked=m == PaymentMethod::Card/>
                                        {m.label()}
                                    </label>
                                }).collect_view()}
                            </fieldset>
                            <label>"Date"
                                <input type="date" name="performed_on" value=today.clone() max=today required/>
                            </label>
                        </div>
                        <button type="submit" disabled=move || register.pending().get()>"Register service"</button>
                    </ActionForm>
                }.into_any()
            })}
        </Suspense>
        {move || match register.value().get() {
            Some(Ok(record)) => view! {
                <p class="notice success" role="status">
                    {format!("Registered: {} for {} on {}, {} (commission {}{}).",
                        record.service_name, record.employee_name, record.performed_on, chf(record.price), chf(record.commission),
                        if record.tip.0 > 0 { format!(", tip {}", chf(record.tip)) } else { String::new() })}
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        <h2>"Latest registrations"</h2>
        {move || match refund.value().get() {
            Some(Ok(record)) => view! {
                <p class="notice success" role="status">
                    {format!("Refunded: {} for {} on {}, {} back to the client{}.",
                        record.service_name, record.employee_name, record.performed_on, chf(Rappen(record.price.0 + record.tip.0)),
                        if record.payment_method == PaymentMethod::Cash { " from the till" } else { "" })}
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match recent.await {
                    Ok(records) => view! { <RecordTable records refund/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        </section>
        <DayForm/>
    }
}

#[component]
fn RecordTable(records: Vec<ServiceRecord>, refund: ServerAction<RefundService>) -> impl IntoView {
    view! {
        <ScrollTable label="Latest registrations">
            <table class="records">
                <thead><tr><th>"Date"</th><th>"Employee"</th><th>"Service"</th><th>"Payment"</th>
                    <th class="num">"Price"</th><th class="num">"Tip"</th><th class="num">"Commission"</th><th>"Paid out"</th>
                    <th>"Refund"</th></tr></thead>
                <tbody>
                    {records.into_iter().map(|r| {
                        let refund_cell = view! { <RefundCell record=r.clone() refund/> };
                        view! {
                        <tr class:refunded=r.refunded_at.is_some()>
                            <td>{r.performed_on.to_string()}</td>
                            <td>{r.employee_name}</td>
                            <td>{r.service_name}</td>
                            <td>{r.payment_method.label()}</td>
                            <td class="num">{chf(r.price)}</td>
                            <td class="num">{chf(r.tip)}</td>
                            <td class="num">{chf(r.commission)}</td>
                            <td>{match r.payout_id {
                                Some(id) => view! { <a href=format!("/payouts/{id}")>"yes"</a> }.into_any(),
                                None => view! { <span>"not yet"</span> }.into_any(),
                            }}</td>
                            <td>{refund_cell}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </ScrollTable>
    }
}

/// The refund of one service: a reason and a button while it can be refunded; otherwise why not
/// (already refunded, held by a payout), from the same rule the server enforces.
#[component]
fn RefundCell(record: ServiceRecord, refund: ServerAction<RefundService>) -> impl IntoView {
    if let Some(reason) = record
        .refund_reason
        .clone()
        .filter(|_| record.refunded_at.is_some())
    {
        return view! { <span class="refunded">{format!("refunded: {reason}")}</span> }.into_any();
    }
    if let Some(refusal) = record.refund_refusal() {
        return view! { <details class="refused"><summary>"not refundable"</summary>{refusal}</details> }
            .into_any();
    }
    let key = idempotency_key_for(refund.version().read_only());
    let label = format!(
        "Refund reason for {} of {}",
        record.service_name, record.employee_name
    );
    view! {
        <ActionForm action=refund attr:class="refund">
            <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
            <input type="hidden" name="record_id" value=record.id.to_string()/>
            <input name="reason" required maxlength="500" placeholder="reason" aria-label=label/>
            <button type="submit" class="secondary" disabled=move || refund.pending().get()>"Refund"</button>
        </ActionForm>
    }
    .into_any()
}

/// Records a working day: the daily deduction (chair rent) and the guaranteed daily minimum.
#[component]
fn DayForm() -> impl IntoView {
    let register = ServerAction::<RegisterDay>::new();
    let key = idempotency_key_for(register.version().read_only());
    let employees = OnceResource::new(list_employees());
    let today = OnceResource::new(studio_today());
    let recent = Resource::new(move || register.version().get(), |_| recent_day_records());
    view! {
        <section id="days">
        <h2>"Record a working day"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (employees, today) = match (employees.await, today.await) {
                    (Ok(e), Ok(t)) => (e, t),
                    (Err(error), _) | (_, Err(error)) => return view! { <ErrorMessage error/> }.into_any(),
                };
                view! {
                    <ActionForm action=register>
                        <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                        <div class="form-grid">
                            <label>"Employee"
                                <select name="employee_id" required>
                                    <option value="">"— choose —"</option>
                                    {employees.iter().map(|e| view! {
                                        <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>"Date"
                                <input type="date" name="worked_on" value=today.clone() max=today required/>
                            </label>
                            <label>"Deduction (CHF, e.g. chair rent)"
                                <input name="deduction" inputmode="decimal" placeholder="0.00"/>
                            </label>
                            <label>"Guaranteed minimum (CHF)"
                                <input name="guaranteed_minimum" inputmode="decimal" placeholder="0.00"/>
                            </label>
                            <label>"Note"
                                <input name="note" maxlength="500"/>
                            </label>
                        </div>
                        <button type="submit" disabled=move || register.pending().get()>"Record working day"</button>
                    </ActionForm>
                }.into_any()
            })}
        </Suspense>
        {move || match register.value().get() {
            Some(Ok(day)) => view! {
                <p class="notice success" role="status">
                    {format!("Recorded: {} worked on {} (deduction {}, guaranteed minimum {}).",
                        day.employee_name, day.worked_on, chf(day.deduction), chf(day.guaranteed_minimum))}
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match recent.await {
                    Ok(days) => view! {
                        <ScrollTable label="Latest working days">
                            <table class="days">
                                <thead><tr><th>"Date"</th><th>"Employee"</th><th class="num">"Deduction"</th>
                                    <th class="num">"Guaranteed minimum"</th><th>"Note"</th><th>"Paid out"</th></tr></thead>
                                <tbody>
                                    {days.into_iter().map(|d| view! {
                                        <tr>
                                            <td>{d.worked_on.to_string()}</td>
                                            <td>{d.employee_name}</td>
                                            <td class="num">{chf(d.deduction)}</td>
                                            <td class="num">{chf(d.guaranteed_minimum)}</td>
                                            <td>{d.note}</td>
                                            <td>{match d.payout_id {
                                                Some(id) => view! { <a href=format!("/payouts/{id}")>"yes"</a> }.into_any(),
                                                None => view! { <span>"not yet"</span> }.into_any(),
                                            }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </ScrollTable>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        </section>
    }
}

/// The reception desk as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct ReceptionRoute;

#[lazy_route]
impl LazyRoute for ReceptionRoute {
    fn data() -> Self {
        ReceptionRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <ReceptionPage/> }.into_any()
    }
}
