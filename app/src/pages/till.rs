//! The till (cash register) of a studio: open with the counted float, put cash in or take it
//! out with a reason, see what the drawer should hold, close by counting notes and coins, and read
//! or print the Z report.

use crate::api::{current_till, list_studios, CloseTill, MoveCash, OpenTill};
use crate::components::{
    chf, count, date, idempotency_key_for, percent, utc_minute, AttentionBanner, ErrorMessage,
};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
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
    let i18n = use_i18n();
    view! {
        <AttentionBanner/>
        <h1>{t!(i18n, till.title)}</h1>
        <Suspense fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match studios.await {
                    Ok(list) => {
                        if studio.get_untracked().is_empty() {
                            if let Some(first) = list.first() {
                                studio.set(first.id.to_string());
                            }
                        }
                        view! {
                            <label>{t!(i18n, till.studio)}
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
        <Transition fallback=move || view! { <p>{t!(i18n, till.loading_till)}</p> }>
            {move || Suspend::new(async move {
                match till.await {
                    Ok(None) => view! { <OpenForm studio=studio.get_untracked() open/> }.into_any(),
                    Ok(Some(session)) if session.state == TillState::Open => {
                        view! { <OpenTillView session movement close/> }.into_any()
                    }
                    Ok(Some(session)) => match session.z_report {
                        Some(report) => view! { <ZReportView report/> }.into_any(),
                        None => view! { <p class="error">{t!(i18n, till.closed_without_report)}</p> }.into_any(),
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
    let i18n = use_i18n();
    view! {
        <section id="open-till">
            <h2>{t!(i18n, till.open.title)}</h2>
            <ActionForm action=open>
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <input type="hidden" name="studio_id" value=studio/>
                <div class="form-grid">
                    <label>{t!(i18n, till.open.float)}
                        <input name="opening_float" inputmode="decimal" required placeholder="200.00"/>
                    </label>
                    <label>{t!(i18n, till.open.note)}
                        <input name="reason" maxlength="500"/>
                    </label>
                </div>
                <button type="submit" disabled=move || open.pending().get()>{t!(i18n, till.open.submit)}</button>
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
    let i18n = use_i18n();
    let summary = t_string!(
        i18n,
        till.session.summary,
        studio = session.studio_name.clone(),
        since = utc_minute(session.opened_at),
        float = chf(session.opening_float)
    )
    .to_string();
    let expected = t_string!(
        i18n,
        till.session.expected,
        amount = chf(session.expected_cash)
    )
    .to_string();
    view! {
        <section id="till" data-state="open">
            <p class="summary">
                {summary}
                <strong class="expected" data-expected=session.expected_cash.0>{expected}</strong>
            </p>
            <MovementTable movements=session.movements.clone()/>
            <h2>{t!(i18n, till.movement.title)}</h2>
            <ActionForm action=movement attr:id="movement-form">
                <input type="hidden" name="idempotency_key" prop:value=move || movement_key.get()/>
                <input type="hidden" name="studio_id" value=studio/>
                <div class="form-grid">
                    <fieldset>
                        <legend>{t!(i18n, till.movement.direction)}</legend>
                        <label class="inline"><input type="radio" name="direction" value="in" checked=true/>{t!(i18n, till.movement.cash_in)}</label>
                        <label class="inline"><input type="radio" name="direction" value="out"/>{t!(i18n, till.movement.cash_out)}</label>
                    </fieldset>
                    <label>{t!(i18n, till.movement.amount)}<input name="amount" inputmode="decimal" required/></label>
                    <label>{t!(i18n, till.movement.reason)}<input name="reason" required maxlength="500"/></label>
                </div>
                <button type="submit" disabled=move || movement.pending().get()>{t!(i18n, till.movement.submit)}</button>
            </ActionForm>
            <h2>{t!(i18n, till.close.title)}</h2>
            <ActionForm action=close attr:id="close-form">
                <input type="hidden" name="idempotency_key" prop:value=move || close_key.get()/>
                <input type="hidden" name="studio_id" value=studio_for_close/>
                <div class="form-grid denominations">
                    {CHF_DENOMINATIONS.into_iter().map(|d| view! {
                        <label>{denomination_text(d)}
                            <input name=format!("denominations[{d}]") inputmode="numeric" placeholder="0" size="4"/>
                        </label>
                    }).collect_view()}
                </div>
                <label>{t!(i18n, till.close.variance_reason)}<input name="variance_reason" maxlength="500"/></label>
                <button type="submit" disabled=move || close.pending().get()>{t!(i18n, till.close.submit)}</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn MovementTable(movements: Vec<TillMovement>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <table class="movements">
            <thead><tr><th>{t!(i18n, till.movements.time)}</th><th>{t!(i18n, till.movements.what)}</th>
                <th class="num">{t!(i18n, till.movements.amount)}</th></tr></thead>
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
    let i18n = use_i18n();
    let title = t_string!(
        i18n,
        till.z_report.title,
        studio = report.studio_name.clone(),
        date = date(report.business_date)
    )
    .to_string();
    let times = t_string!(
        i18n,
        till.z_report.times,
        opened = utc_minute(report.opened_at),
        closed = utc_minute(report.closed_at)
    )
    .to_string();
    view! {
        <section id="z-report" class="z-report">
            <h2>{title}</h2>
            <p>{times}</p>
            <h3>{t!(i18n, till.z_report.by_method)}</h3>
            <table>
                <thead><tr><th>{t!(i18n, till.z_report.method)}</th><th class="num">{t!(i18n, till.z_report.services)}</th>
                    <th class="num">{t!(i18n, till.z_report.sales)}</th><th class="num">{t!(i18n, till.z_report.tips)}</th></tr></thead>
                <tbody>
                    {report.sales_by_method.into_iter().map(|m| view! {
                        <tr><td>{method_label(&m.payment_method)}</td><td class="num">{count(m.count)}</td><td class="num">{chf(m.gross)}</td><td class="num">{chf(m.tips)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h3>{t!(i18n, till.z_report.by_vat_rate)}</h3>
            <table>
                <thead><tr><th>{t!(i18n, till.z_report.rate)}</th><th class="num">{t!(i18n, till.z_report.gross)}</th>
                    <th class="num">{t!(i18n, till.z_report.vat)}</th><th class="num">{t!(i18n, till.z_report.net)}</th></tr></thead>
                <tbody>
                    {report.sales_by_vat_rate.into_iter().map(|v| view! {
                        <tr><td>{percent(v.vat_rate_bps)}</td><td class="num">{chf(v.gross)}</td><td class="num">{chf(v.vat)}</td><td class="num">{chf(v.net)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h3>{t!(i18n, till.z_report.cash)}</h3>
            <table class="cash">
                <tbody>
                    <tr><th>{t!(i18n, till.z_report.opening_float)}</th><td class="num">{chf(report.opening_float)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.tips_all)}</th><td class="num">{chf(report.tips)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.refunds)}</th><td class="num">{chf(report.refunds)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.cash_payouts)}</th><td class="num">{chf(report.cash_payouts)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.cash_in)}</th><td class="num">{chf(report.cash_in)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.cash_out)}</th><td class="num">{chf(report.cash_out)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.expected)}</th><td class="num expected">{chf(report.expected_cash)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.counted)}</th><td class="num counted">{chf(report.counted_cash)}</td></tr>
                    <tr><th>{t!(i18n, till.z_report.variance)}</th><td class="num variance">{variance_text}</td></tr>
                </tbody>
            </table>
            <MovementTable movements=report.movements/>
            <button type="button" class="no-print" onclick="window.print()">{t!(i18n, till.z_report.print)}</button>
        </section>
    }
}

/// A note or coin in the page's language: "CHF 200" for notes and francs, "50 Rp." for coins
/// under a franc (the same split as [`denomination_label`]).
fn denomination_text(rappen: i64) -> String {
    let i18n = use_i18n();
    if rappen >= 100 {
        t_string!(i18n, till.denomination.francs, francs = rappen / 100).to_string()
    } else {
        t_string!(i18n, till.denomination.rappen, rappen = rappen).to_string()
    }
}

/// A Z report's payment method ("cash", as the report stores it) in the page's language; a
/// spelling the app does not know is shown as it is.
fn method_label(stored: &str) -> String {
    let i18n = use_i18n();
    match PaymentMethod::parse(stored) {
        Ok(PaymentMethod::Cash) => t_string!(i18n, till.z_report.methods.cash).to_string(),
        Ok(PaymentMethod::Card) => t_string!(i18n, till.z_report.methods.card).to_string(),
        Ok(PaymentMethod::Twint) => t_string!(i18n, till.z_report.methods.twint).to_string(),
        Err(_) => stored.to_string(),
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
