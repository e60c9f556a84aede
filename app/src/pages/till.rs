//! The till (cash register) of a studio: open with the counted float, put cash in or take it
//! out with a reason, see what the drawer should hold, close by counting notes and coins, and read
//! or print the Z report.

use crate::api::{current_till, list_studios, CloseTill, MoveCash, OpenTill};
use crate::components::{chf, idempotency_key_for, utc_minute, AttentionBanner, ErrorMessage};
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn TillPage() -> impl IntoView {
    let studios = OnceResource::new(list_studios());
    let studio = RwSignal::new(String::new());
    let open = ServerAction::<OpenTill>::new();
    let movement = ServerAction::<MoveCash>::new();
    let close = ServerAction::<CloseTill>::new();
    let till = Resource::new(
        move || {
            (
                studio.get(),
                open.version().get(),
                movement.version().get(),
                close.version().get(),
            )
        },
        |(studio, ..)| async move {
            if studio.is_empty() {
                Ok(None)
            } else {
                current_till(studio).await
            }
        },
    );
    view! {
        <AttentionBanner/>
        <h1>"Till"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match studios.await {
                    Ok(list) => {
                        if studio.get_untracked().is_empty() {
                            if let Some(first) = list.first() {
                                studio.set(first.id.to_string());
                            }
                        }
                        view! {
                            <label>"Studio "
                                <select name="studio" on:change=move |ev| studio.set(event_target_value(&ev))>
                                    {list.into_iter().map(|s| view! {
                                        <option value=s.id.to_string() selected=s.id.to_string() == studio.get_untracked()>{s.name}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
        {move || [open.value().get(), movement.value().get(), close.value().get()]
            .into_iter()
            .flatten()
            .filter_map(Result::err)
            .map(|error| view! { <ErrorMessage error/> })
            .collect_view()}
        <Transition fallback=|| view! { <p>"Loading the till…"</p> }>
            {move || Suspend::new(async move {
                match till.await {
                    Ok(None) => view! { <OpenForm studio=studio.get_untracked() open/> }.into_any(),
                    Ok(Some(session)) if session.state == TillState::Open => {
                        view! { <OpenTillView session movement close/> }.into_any()
                    }
                    Ok(Some(session)) => match session.z_report {
                        Some(report) => view! { <ZReportView report/> }.into_any(),
                        None => view! { <p class="error">"This till is closed but has no Z report."</p> }.into_any(),
                    },
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OpenForm(studio: String, open: ServerAction<OpenTill>) -> impl IntoView {
    let key = idempotency_key_for(open.version().read_only());
    view! {
        <section id="open-till">
            <h2>"Open today's till"</h2>
            <ActionForm action=open>
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <input type="hidden" name="studio_id" value=studio/>
                <div class="form-grid">
                    <label>"Counted float (CHF)"
                        <input name="opening_float" inputmode="decimal" required placeholder="200.00"/>
                    </label>
                    <label>"Note (optional)"
                        <input name="reason" maxlength="500"/>
                    </label>
                </div>
                <button type="submit" disabled=move || open.pending().get()>"Open till"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn OpenTillView(
    session: TillSession,
    movement: ServerAction<MoveCash>,
    close: ServerAction<CloseTill>,
) -> impl IntoView {
    let movement_key = idempotency_key_for(movement.version().read_only());
    let close_key = idempotency_key_for(close.version().read_only());
    let studio = session.studio_id.to_string();
    let studio_for_close = studio.clone();
    view! {
        <section id="till" data-state="open">
            <p class="summary">
                {format!("{} — open since {} with a float of {}. ", session.studio_name, utc_minute(session.opened_at), chf(session.opening_float))}
                <strong class="expected" data-expected=session.expected_cash.0>{format!("The drawer should hold {}.", chf(session.expected_cash))}</strong>
            </p>
            <MovementTable movements=session.movements.clone()/>
            <h2>"Cash in or out"</h2>
            <ActionForm action=movement attr:id="movement-form">
                <input type="hidden" name="idempotency_key" prop:value=move || movement_key.get()/>
                <input type="hidden" name="studio_id" value=studio/>
                <div class="form-grid">
                    <fieldset>
                        <legend>"Direction"</legend>
                        <label class="inline"><input type="radio" name="direction" value="in" checked=true/>"Cash in"</label>
                        <label class="inline"><input type="radio" name="direction" value="out"/>"Cash out"</label>
                    </fieldset>
                    <label>"Amount (CHF)"<input name="amount" inputmode="decimal" required/></label>
                    <label>"Reason"<input name="reason" required maxlength="500"/></label>
                </div>
                <button type="submit" disabled=move || movement.pending().get()>"Record cash movement"</button>
            </ActionForm>
            <h2>"Close: count the drawer"</h2>
            <ActionForm action=close attr:id="close-form">
                <input type="hidden" name="idempotency_key" prop:value=move || close_key.get()/>
                <input type="hidden" name="studio_id" value=studio_for_close/>
                <div class="form-grid denominations">
                    {CHF_DENOMINATIONS.into_iter().map(|d| view! {
                        <label>{denomination_label(d)}
                            <input name=format!("denominations[{d}]") inputmode="numeric" placeholder="0" size="4"/>
                        </label>
                    }).collect_view()}
                </div>
                <label>"Reason for a difference"<input name="variance_reason" maxlength="500"/></label>
                <button type="submit" disabled=move || close.pending().get()>"Close till"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn MovementTable(movements: Vec<TillMovement>) -> impl IntoView {
    view! {
        <table class="movements">
            <thead><tr><th>"Time"</th><th>"What"</th><th class="num">"Amount"</th></tr></thead>
            <tbody>
                {movements.into_iter().map(|m| view! {
                    <tr><td>{utc_minute(m.at)}</td><td>{m.reason}</td><td class="num">{chf(m.amount)}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The Z report, printable (the print style hides everything else).
#[component]
fn ZReportView(report: ZReport) -> impl IntoView {
    let variance_text = match &report.variance_reason {
        Some(reason) => format!("{} ({reason})", chf(report.variance)),
        None => chf(report.variance),
    };
    view! {
        <section id="z-report" class="z-report">
            <h2>{format!("Z report — {}, {}", report.studio_name, report.business_date)}</h2>
            <p>{format!("Opened {}, closed {}.", utc_minute(report.opened_at), utc_minute(report.closed_at))}</p>
            <h3>"Sales by payment method"</h3>
            <table>
                <thead><tr><th>"Method"</th><th class="num">"Services"</th><th class="num">"Sales"</th><th class="num">"Tips"</th></tr></thead>
                <tbody>
                    {report.sales_by_method.into_iter().map(|m| view! {
                        <tr><td>{m.payment_method}</td><td class="num">{m.count}</td><td class="num">{chf(m.gross)}</td><td class="num">{chf(m.tips)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h3>"Sales by VAT rate"</h3>
            <table>
                <thead><tr><th>"Rate"</th><th class="num">"Gross"</th><th class="num">"VAT"</th><th class="num">"Net"</th></tr></thead>
                <tbody>
                    {report.sales_by_vat_rate.into_iter().map(|v| view! {
                        <tr><td>{v.vat_rate_bps.percent_text()}</td><td class="num">{chf(v.gross)}</td><td class="num">{chf(v.vat)}</td><td class="num">{chf(v.net)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h3>"Cash"</h3>
            <table class="cash">
                <tbody>
                    <tr><th>"Opening float"</th><td class="num">{chf(report.opening_float)}</td></tr>
                    <tr><th>"Tips (all methods)"</th><td class="num">{chf(report.tips)}</td></tr>
                    <tr><th>"Refunds"</th><td class="num">{chf(report.refunds)}</td></tr>
                    <tr><th>"Cash payouts"</th><td class="num">{chf(report.cash_payouts)}</td></tr>
                    <tr><th>"Cash in"</th><td class="num">{chf(report.cash_in)}</td></tr>
                    <tr><th>"Cash out"</th><td class="num">{chf(report.cash_out)}</td></tr>
                    <tr><th>"Expected closing cash"</th><td class="num expected">{chf(report.expected_cash)}</td></tr>
                    <tr><th>"Counted closing cash"</th><td class="num counted">{chf(report.counted_cash)}</td></tr>
                    <tr><th>"Variance"</th><td class="num variance">{variance_text}</td></tr>
                </tbody>
            </table>
            <MovementTable movements=report.movements/>
            <button type="button" class="no-print" onclick="window.print()">"Print"</button>
        </section>
    }
}

/// The till page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct TillRoute;

#[lazy_route]
impl LazyRoute for TillRoute {
    fn data() -> Self {
        TillRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <TillPage/> }.into_any()
    }
}
