//! Reception desk: register a performed service (employee, service, price, tip, payment method,
//! date), record an employee's working day (deduction, guaranteed minimum), and see the latest of
//! both. One submission = one record, whatever the clicks.

use crate::api::{
    list_employees, list_services, recent_day_records, recent_service_records, studio_today,
    RefundService, RegisterDay, RegisterService,
};
use crate::components::{
    chf, date, idempotency_key_for, AttentionBanner, ErrorMessage, ScrollTable,
};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
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
    let i18n = use_i18n();

    view! {
        <AttentionBanner/>
        <section id="services">
        <h1>{t!(i18n, reception.title)}</h1>
        <Suspense fallback=move || view! { <p>{t!(i18n, reception.loading_catalogue)}</p> }>
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
                            <label>{t!(i18n, reception.form.employee)}
                                <select name="employee_id" required
                                    on:change=move |ev| { employee.set(event_target_value(&ev)); service.set(String::new()); }>
                                    <option value="">{t!(i18n, reception.form.choose)}</option>
                                    {employees.iter().map(|e| view! {
                                        <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>{t!(i18n, reception.form.service)}
                                <select name="service_id" required
                                    on:change=move |ev| {
                                        let id = event_target_value(&ev);
                                        if let Some(s) = services.with_value(|all| all.iter().find(|s| s.id.to_string() == id).cloned()) {
                                            price.set(s.list_price.format_plain().replace('\'', ""));
                                        }
                                        service.set(id);
                                    }>
                                    <option value="">{t!(i18n, reception.form.choose)}</option>
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
                            <label>{t!(i18n, reception.form.price)}
                                <input name="price" inputmode="decimal" required placeholder="85.00"
                                    prop:value=move || price.get() on:input=move |ev| price.set(event_target_value(&ev))/>
                            </label>
                            <label>{t!(i18n, reception.form.tip)}
                                <input name="tip" inputmode="decimal" placeholder="0.00"/>
                            </label>
                            <fieldset>
                                <legend>{t!(i18n, reception.form.payment)}</legend>
                                {PaymentMethod::ALL.into_iter().map(|m| view! {
                                    <label class="inline">
                                        <input type="radio" name="payment_method" value=m.as_str() checked=m == PaymentMethod::Card/>
                                        {payment_method_label(m)}
                                    </label>
                                }).collect_view()}
                            </fieldset>
                            <label>{t!(i18n, reception.form.date)}
                                <input type="date" name="performed_on" value=today.clone() max=today required/>
                            </label>
                        </div>
                        <button type="submit" disabled=move || register.pending().get()>{t!(i18n, reception.form.submit)}</button>
                    </ActionForm>
                }.into_any()
            })}
        </Suspense>
        {move || match register.value().get() {
            Some(Ok(record)) => view! {
                <p class="notice success" role="status">
                    {if record.tip.0 > 0 {
                        t_string!(i18n, reception.registered_with_tip,
                            service = record.service_name.clone(), employee = record.employee_name.clone(),
                            date = date(record.performed_on), price = chf(record.price),
                            commission = chf(record.commission), tip = chf(record.tip)).to_string()
                    } else {
                        t_string!(i18n, reception.registered,
                            service = record.service_name.clone(), employee = record.employee_name.clone(),
                            date = date(record.performed_on), price = chf(record.price),
                            commission = chf(record.commission)).to_string()
                    }}
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        <h2>{t!(i18n, reception.latest)}</h2>
        {move || match refund.value().get() {
            Some(Ok(record)) => view! {
                <p class="notice success" role="status">
                    {if record.payment_method == PaymentMethod::Cash {
                        t_string!(i18n, reception.refunded_from_till,
                            service = record.service_name.clone(), employee = record.employee_name.clone(),
                            date = date(record.performed_on), amount = chf(Rappen(record.price.0 + record.tip.0))).to_string()
                    } else {
                        t_string!(i18n, reception.refunded,
                            service = record.service_name.clone(), employee = record.employee_name.clone(),
                            date = date(record.performed_on), amount = chf(Rappen(record.price.0 + record.tip.0))).to_string()
                    }}
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
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
    let i18n = use_i18n();
    view! {
        <ScrollTable label=t_string!(i18n, reception.table.label)>
            <table class="records">
                <thead><tr><th>{t!(i18n, reception.table.date)}</th><th>{t!(i18n, reception.table.employee)}</th>
                    <th>{t!(i18n, reception.table.service)}</th><th>{t!(i18n, reception.table.payment)}</th>
                    <th class="num">{t!(i18n, reception.table.price)}</th><th class="num">{t!(i18n, reception.table.tip)}</th>
                    <th class="num">{t!(i18n, reception.table.commission)}</th><th>{t!(i18n, reception.table.paid_out)}</th>
                    <th>{t!(i18n, reception.table.refund)}</th></tr></thead>
                <tbody>
                    {records.into_iter().map(|r| {
                        let refund_cell = view! { <RefundCell record=r.clone() refund/> };
                        view! {
                        <tr class:refunded=r.refunded_at.is_some()>
                            <td>{date(r.performed_on)}</td>
                            <td>{r.employee_name}</td>
                            <td>{r.service_name}</td>
                            <td>{payment_method_label(r.payment_method)}</td>
                            <td class="num">{chf(r.price)}</td>
                            <td class="num">{chf(r.tip)}</td>
                            <td class="num">{chf(r.commission)}</td>
                            <td>{match r.payout_id {
                                Some(id) => view! { <a href=format!("/payouts/{id}")>{t!(i18n, reception.table.yes)}</a> }.into_any(),
                                None => view! { <span>{t!(i18n, reception.table.not_yet)}</span> }.into_any(),
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
    let i18n = use_i18n();
    if let Some(reason) = record
        .refund_reason
        .clone()
        .filter(|_| record.refunded_at.is_some())
    {
        return view! { <span class="refunded">{t_string!(i18n, reception.refund.refunded, reason = reason).to_string()}</span> }.into_any();
    }
    if record.refund_refusal().is_some() {
        // The rule is the domain's; its explanation, in the page's language.
        let refusal = match record.refunded_at {
            Some(at) => t_string!(
                i18n,
                reception.refund.already_refunded,
                date = date(at.date_naive())
            )
            .to_string(),
            None => t_string!(i18n, reception.refund.in_payout).to_string(),
        };
        return view! { <details class="refused"><summary>{t!(i18n, reception.refund.not_refundable)}</summary>{refusal}</details> }
            .into_any();
    }
    let key = idempotency_key_for(refund.version().read_only());
    let label = t_string!(
        i18n,
        reception.refund.label,
        service = record.service_name.clone(),
        employee = record.employee_name.clone()
    )
    .to_string();
    view! {
        <ActionForm action=refund attr:class="refund">
            <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
            <input type="hidden" name="record_id" value=record.id.to_string()/>
            <input name="reason" required maxlength="500" placeholder=t_string!(i18n, reception.refund.placeholder) aria-label=label/>
            <button type="submit" class="secondary" disabled=move || refund.pending().get()>{t!(i18n, reception.refund.submit)}</button>
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
    let i18n = use_i18n();
    view! {
        <section id="days">
        <h2>{t!(i18n, reception.day.title)}</h2>
        <Suspense fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                let (employees, today) = match (employees.await, today.await) {
                    (Ok(e), Ok(t)) => (e, t),
                    (Err(error), _) | (_, Err(error)) => return view! { <ErrorMessage error/> }.into_any(),
                };
                view! {
                    <ActionForm action=register>
                        <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                        <div class="form-grid">
                            <label>{t!(i18n, reception.day.employee)}
                                <select name="employee_id" required>
                                    <option value="">{t!(i18n, reception.form.choose)}</option>
                                    {employees.iter().map(|e| view! {
                                        <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>{t!(i18n, reception.day.date)}
                                <input type="date" name="worked_on" value=today.clone() max=today required/>
                            </label>
                            <label>{t!(i18n, reception.day.deduction)}
                                <input name="deduction" inputmode="decimal" placeholder="0.00"/>
                            </label>
                            <label>{t!(i18n, reception.day.guaranteed_minimum)}
                                <input name="guaranteed_minimum" inputmode="decimal" placeholder="0.00"/>
                            </label>
                            <label>{t!(i18n, reception.day.note)}
                                <input name="note" maxlength="500"/>
                            </label>
                        </div>
                        <button type="submit" disabled=move || register.pending().get()>{t!(i18n, reception.day.submit)}</button>
                    </ActionForm>
                }.into_any()
            })}
        </Suspense>
        {move || match register.value().get() {
            Some(Ok(day)) => view! {
                <p class="notice success" role="status">
                    {t_string!(i18n, reception.day.recorded,
                        employee = day.employee_name.clone(), date = date(day.worked_on),
                        deduction = chf(day.deduction), minimum = chf(day.guaranteed_minimum)).to_string()}
                </p>
            }.into_any(),
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match recent.await {
                    Ok(days) => view! {
                        <ScrollTable label=t_string!(i18n, reception.day.table.label)>
                            <table class="days">
                                <thead><tr><th>{t!(i18n, reception.day.table.date)}</th><th>{t!(i18n, reception.day.table.employee)}</th>
                                    <th class="num">{t!(i18n, reception.day.table.deduction)}</th>
                                    <th class="num">{t!(i18n, reception.day.table.guaranteed_minimum)}</th>
                                    <th>{t!(i18n, reception.day.table.note)}</th><th>{t!(i18n, reception.day.table.paid_out)}</th></tr></thead>
                                <tbody>
                                    {days.into_iter().map(|d| view! {
                                        <tr>
                                            <td>{date(d.worked_on)}</td>
                                            <td>{d.employee_name}</td>
                                            <td class="num">{chf(d.deduction)}</td>
                                            <td class="num">{chf(d.guaranteed_minimum)}</td>
                                            <td>{d.note}</td>
                                            <td>{match d.payout_id {
                                                Some(id) => view! { <a href=format!("/payouts/{id}")>{t!(i18n, reception.table.yes)}</a> }.into_any(),
                                                None => view! { <span>{t!(i18n, reception.table.not_yet)}</span> }.into_any(),
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

/// A payment method's name in the page's language ("Cash").
fn payment_method_label(method: PaymentMethod) -> &'static str {
    let i18n = use_i18n();
    match method {
        PaymentMethod::Cash => t_string!(i18n, reception.payment_method.cash),
        PaymentMethod::Card => t_string!(i18n, reception.payment_method.card),
        PaymentMethod::Twint => t_string!(i18n, reception.payment_method.twint),
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
