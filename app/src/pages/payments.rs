//! The operator's payments page (issue 6): the inbox at a glance, parked events with their
//! reasons, and every payment with the actions its state allows. The buttons come from the
//! shared payment state machine ([`PaymentState::apply`]); an action it refuses is listed with
//! the refusal's explanation instead of a button. The engine checks everything again, including
//! the version the operator saw (a stale page gets "the payment changed since you loaded it").

use crate::api::{list_payments, payment_inbox, ActOnPayment};
use crate::components::{chf, idempotency_key_for, utc_minute, ErrorMessage};
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn PaymentsPage() -> impl IntoView {
    let act = ServerAction::<ActOnPayment>::new();
    let payments = Resource::new(move || act.version().get(), |_| list_payments(None));
    let inbox = Resource::new(move || act.version().get(), |_| payment_inbox());
    view! {
        <h1>"Payments"</h1>
        <p>"Payments reported by the card terminals and payment providers. Each one offers only what its state allows; the reason is shown for the rest."</p>
        {move || act.value().get().map(|result| match result {
            Ok(payment) => view! {
                <p class="notice" role="status">{format!("Payment {} is now {} (version {}).", payment.provider_payment_id, payment.state, payment.version)}</p>
            }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match inbox.await {
                    Ok((summary, parked)) => view! { <Inbox summary parked/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <h2>"Payments"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match payments.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">"No payment has been reported yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="payments">
                            <thead><tr>
                                <th>"Payment"</th><th>"State"</th><th class="num">"Amount"</th><th class="num">"Captured"</th>
                                <th class="num">"Refunded"</th><th class="num">"Settled"</th><th>"Last change"</th><th>"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|payment| view! { <PaymentRow payment act/> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Inbox(summary: InboxSummary, parked: Vec<InboxEvent>) -> impl IntoView {
    view! {
        <p class="inbox-summary">
            {format!("Inbox: {} waiting, {} applied, {} parked.", summary.received, summary.applied, summary.parked)}
        </p>
        {(!parked.is_empty()).then(|| view! {
            <h2>"Parked events"</h2>
            <p class="hint">"These events could not be applied. Each is retried whenever its payment changes; none is dropped."</p>
            <table class="parked-events">
                <thead><tr><th>"Received"</th><th>"Payment"</th><th>"Event"</th><th class="num">"Amount"</th><th>"Why it is parked"</th></tr></thead>
                <tbody>
                    // A parked event always has its reason (the database refuses one without), so
                    // the empty default is never shown.
                    {parked.into_iter().map(|event| view! {
                        <tr>
                            <td>{utc_minute(event.received_at)}</td>
                            <td>{format!("{} {}", event.provider, event.provider_payment_id)}</td>
                            <td>{event.event_type.as_str()}</td>
                            <td class="num">{chf(event.amount)}</td>
                            <td class="reason">{event.reason.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

/// The amount an action most likely wants, as the form's starting value.
fn suggested_amount(book: &PaymentBook, action: PaymentAction) -> Option<Rappen> {
    match action {
        PaymentAction::Submitted | PaymentAction::Authorized | PaymentAction::Captured => {
            Some(book.amount)
        }
        PaymentAction::Refunded => Some(book.refundable()),
        PaymentAction::PartiallyRefunded => None,
        PaymentAction::Settled => Some(book.refundable()),
        PaymentAction::Failed | PaymentAction::Cancelled => None,
    }
}

#[component]
fn PaymentRow(payment: Payment, act: ServerAction<ActOnPayment>) -> impl IntoView {
    let book = payment.book();
    let (allowed, refused): (Vec<_>, Vec<_>) = PaymentAction::ALL
        .into_iter()
        .map(|action| (action, book.state.apply(action)))
        .partition(|(_, outcome)| outcome.is_ok());
    let settled_refusal = (book.is_settled).then(|| {
        format!(
            "Mark settled: cannot settle: the payment is already settled ({})",
            chf(book.settled)
        )
    });
    let id = payment.id.to_string();
    let version = payment.version.to_string();
    view! {
        <tr data-state=payment.state.as_str() data-payment=payment.provider_payment_id.clone()>
            <td>{format!("{} {}", payment.provider, payment.provider_payment_id)}</td>
            <td><span class=format!("state state-{}", payment.state)>{payment.state.as_str()}</span></td>
            <td class="num">{chf(payment.amount)}</td>
            <td class="num">{chf(payment.captured)}</td>
            <td class="num">{chf(payment.refunded)}</td>
            <td class="num">{chf(payment.settled)}</td>
            <td>{utc_minute(payment.updated_at)}</td>
            <td class="payment-actions">
                {allowed.into_iter()
                    .filter(|(action, _)| !(*action == PaymentAction::Settled && book.is_settled))
                    .map(|(action, _)| {
                        let key = idempotency_key_for(act.version().read_only());
                        let amount = suggested_amount(&book, action);
                        let (id, version) = (id.clone(), version.clone());
                        view! {
                            <ActionForm action=act attr:class="payment-action">
                                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                                <input type="hidden" name="payment_id" value=id/>
                                <input type="hidden" name="action" value=action.as_str()/>
                                <input type="hidden" name="expected_version" value=version/>
                                {action.takes_amount().then(|| view! {
                                    <label>
                                        <span class="visually-hidden">{format!("{} amount (CHF)", action.label())}</span>
                                        <input name="amount" inputmode="decimal" size="8" placeholder="CHF"
                                            value=amount.map(|a| format!("{}.{:02}", a.0 / 100, a.0 % 100)).unwrap_or_default()/>
                                    </label>
                                })}
                                <button type="submit" disabled=move || act.pending().get()>{action.label()}</button>
                            </ActionForm>
                        }
                    }).collect_view()}
                <details class="refused-actions">
                    <summary>"Not possible now"</summary>
                    <ul>
                        {refused.into_iter().filter_map(|(action, outcome)| outcome.err().map(|refusal| view! {
                            <li>{format!("{}: {}", action.label(), refusal.explanation)}</li>
                        })).collect_view()}
                        {settled_refusal.map(|text| view! { <li>{text}</li> })}
                    </ul>
                </details>
            </td>
        </tr>
    }
}

/// The payments page as a lazy route (its own WASM chunk).
pub struct PaymentsRoute;

#[lazy_route]
impl LazyRoute for PaymentsRoute {
    fn data() -> Self {
        PaymentsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <PaymentsPage/> }.into_any()
    }
}
