//! The operator's payments page (issue 6): the inbox at a glance, parked events with their
//! reasons, and every payment with the actions its state allows. The buttons come from the
//! shared payment state machine ([`PaymentState::apply`]); an action it refuses is listed with
//! the refusal's explanation instead of a button. The engine checks everything again, including
//! the version the operator saw (a stale page gets "the payment changed since you loaded it").

use crate::api::{list_payments, payment_inbox, ActOnPayment};
use crate::components::{chf, count, idempotency_key_for, utc_minute, ErrorMessage};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn PaymentsPage() -> impl IntoView {
    let act = ServerAction::<ActOnPayment>::new();
    let payments = Resource::new(move || act.version().get(), |_| list_payments(None));
    let inbox = Resource::new(move || act.version().get(), |_| payment_inbox());
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, payments.title)}</h1>
        <p>{t!(i18n, payments.intro)}</p>
        {move || act.value().get().map(|result| match result {
            Ok(payment) => view! {
                <p class="notice" role="status">{t_string!(
                    i18n,
                    payments.now,
                    id = payment.provider_payment_id.clone(),
                    state = payment_state_label(payment.state),
                    version = payment.version
                ).to_string()}</p>
            }.into_any(),
            // A money rule or the lifecycle refused it (someone else acted first, or the amount
            // is over what is left): the reason in the page's language.
            Err(error) => {
                let text = if let AppError::PaymentConflict {
                    payment_refusal: Some(reason),
                    ..
                } = &error
                {
                    Some(payment_refusal_text(*reason))
                } else {
                    None
                };
                view! { <ErrorMessage error text/> }.into_any()
            }
        })}
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match inbox.await {
                    Ok((summary, parked)) => view! { <Inbox summary parked/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <h2>{t!(i18n, payments.list.heading)}</h2>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match payments.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">{t!(i18n, payments.list.none)}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="payments">
                            <thead><tr>
                                <th>{t!(i18n, payments.list.payment)}</th><th>{t!(i18n, payments.list.state)}</th>
                                <th class="num">{t!(i18n, payments.list.amount)}</th><th class="num">{t!(i18n, payments.list.captured)}</th>
                                <th class="num">{t!(i18n, payments.list.refunded)}</th><th class="num">{t!(i18n, payments.list.settled)}</th>
                                <th>{t!(i18n, payments.list.last_change)}</th><th>{t!(i18n, payments.list.actions)}</th>
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
    let i18n = use_i18n();
    view! {
        <p class="inbox-summary">
            {t_string!(
                i18n,
                payments.inbox.summary,
                received = count(summary.received),
                applied = count(summary.applied),
                parked = count(summary.parked)
            ).to_string()}
        </p>
        {(!parked.is_empty()).then(|| view! {
            <h2>{t!(i18n, payments.parked.heading)}</h2>
            <p class="hint">{t!(i18n, payments.parked.hint)}</p>
            <table class="parked-events">
                <thead><tr>
                    <th>{t!(i18n, payments.parked.received)}</th><th>{t!(i18n, payments.parked.payment)}</th>
                    <th>{t!(i18n, payments.parked.event)}</th><th class="num">{t!(i18n, payments.parked.amount)}</th>
                    <th>{t!(i18n, payments.parked.why)}</th>
                </tr></thead>
                <tbody>
                    // A parked event always has its reason (the database refuses one without), so
                    // the empty default is never shown; events parked before the reason was also
                    // stored as data show the English one.
                    {parked.into_iter().map(|event| view! {
                        <tr>
                            <td>{utc_minute(event.received_at)}</td>
                            <td>{format!("{} {}", event.provider, event.provider_payment_id)}</td>
                            <td>{event_type_label(event.event_type)}</td>
                            <td class="num">{chf(event.amount)}</td>
                            <td class="reason">{match event.park_reason {
                                Some(reason) => park_reason_text(reason),
                                None => event.reason.unwrap_or_default(),
                            }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

/// A payment's state in the page's language (English: the stored spelling, "partially_refunded").
fn payment_state_label(state: PaymentState) -> &'static str {
    let i18n = use_i18n();
    match state {
        PaymentState::Draft => t_string!(i18n, payments.state.draft),
        PaymentState::Submitted => t_string!(i18n, payments.state.submitted),
        PaymentState::Processing => t_string!(i18n, payments.state.processing),
        PaymentState::Succeeded => t_string!(i18n, payments.state.succeeded),
        PaymentState::PartiallyRefunded => t_string!(i18n, payments.state.partially_refunded),
        PaymentState::Refunded => t_string!(i18n, payments.state.refunded),
        PaymentState::Failed => t_string!(i18n, payments.state.failed),
        PaymentState::Cancelled => t_string!(i18n, payments.state.cancelled),
    }
}

/// Why the worker parked an event, in the page's language ("the payment is not authorised
/// yet"; the row shows the event itself beside it).
fn park_reason_text(reason: ParkReason) -> String {
    let i18n = use_i18n();
    match reason {
        ParkReason::Refused { reason, .. } => payment_refusal_text(reason),
        ParkReason::UnknownPayment => t_string!(i18n, payments.parked.unknown_payment).to_string(),
        ParkReason::OtherStudio => t_string!(i18n, payments.parked.other_studio).to_string(),
    }
}

/// Why a payment refuses an action ([`PaymentBook::apply`]), in the page's language, amounts
/// included: "CHF 50.00 is over the authorised amount of CHF 40.00".
fn payment_refusal_text(reason: PaymentRefusalReason) -> String {
    use PaymentRefusalReason as R;
    let i18n = use_i18n();
    let zero = || chf(Rappen(0));
    match reason {
        R::NeverSubmitted => t_string!(i18n, payments.refusal.never_submitted).to_string(),
        R::NotAuthorised => t_string!(i18n, payments.refusal.not_authorised).to_string(),
        R::NothingCaptured => t_string!(i18n, payments.refusal.nothing_captured).to_string(),
        R::NothingToSettle => t_string!(i18n, payments.refusal.nothing_to_settle).to_string(),
        R::AlreadySubmitted => t_string!(i18n, payments.refusal.already_submitted).to_string(),
        R::AlreadyAuthorised => t_string!(i18n, payments.refusal.already_authorised).to_string(),
        R::StillProcessingCancelInstead => {
            t_string!(i18n, payments.refusal.still_processing_cancel_instead).to_string()
        }
        R::StillProcessing => t_string!(i18n, payments.refusal.still_processing).to_string(),
        R::AlreadyCaptured => t_string!(i18n, payments.refusal.already_captured).to_string(),
        R::CapturedCannotFail => t_string!(i18n, payments.refusal.captured_cannot_fail).to_string(),
        R::CapturedRefundInstead => {
            t_string!(i18n, payments.refusal.captured_refund_instead).to_string()
        }
        R::AlreadyRefunded => t_string!(i18n, payments.refusal.already_refunded).to_string(),
        R::Failed => t_string!(i18n, payments.refusal.failed).to_string(),
        R::Cancelled => t_string!(i18n, payments.refusal.cancelled).to_string(),
        R::AmountNotPositive => {
            t_string!(i18n, payments.refusal.amount_not_positive, zero = zero()).to_string()
        }
        R::CapturedAmountNotPositive => t_string!(
            i18n,
            payments.refusal.captured_amount_not_positive,
            zero = zero()
        )
        .to_string(),
        R::RefundedAmountNotPositive => t_string!(
            i18n,
            payments.refusal.refunded_amount_not_positive,
            zero = zero()
        )
        .to_string(),
        R::OverAuthorised { amount, authorised } => t_string!(
            i18n,
            payments.refusal.over_authorised,
            amount = chf(amount),
            authorised = chf(authorised)
        )
        .to_string(),
        R::FullRefundNotExact { amount, refundable } => t_string!(
            i18n,
            payments.refusal.full_refund_not_exact,
            amount = chf(amount),
            refundable = chf(refundable)
        )
        .to_string(),
        R::OverRefundable {
            amount,
            refundable,
            captured,
        } => t_string!(
            i18n,
            payments.refusal.over_refundable,
            amount = chf(amount),
            refundable = chf(refundable),
            captured = chf(captured)
        )
        .to_string(),
        R::AlreadySettled { settled } => t_string!(
            i18n,
            payments.refusal.already_settled,
            settled = chf(settled)
        )
        .to_string(),
        R::SettlementOutOfRange { amount, captured } => t_string!(
            i18n,
            payments.refusal.settlement_out_of_range,
            amount = chf(amount),
            zero = zero(),
            captured = chf(captured)
        )
        .to_string(),
    }
}

fn payment_action_label(action: PaymentAction) -> &'static str {
    let i18n = use_i18n();
    match action {
        PaymentAction::Submitted => t_string!(i18n, payments.action.submitted),
        PaymentAction::Authorized => t_string!(i18n, payments.action.authorized),
        PaymentAction::Captured => t_string!(i18n, payments.action.captured),
        PaymentAction::Failed => t_string!(i18n, payments.action.failed),
        PaymentAction::Cancelled => t_string!(i18n, payments.action.cancelled),
        PaymentAction::Refunded => t_string!(i18n, payments.action.refunded),
        PaymentAction::PartiallyRefunded => t_string!(i18n, payments.action.partially_refunded),
        PaymentAction::Settled => t_string!(i18n, payments.action.settled),
    }
}

/// A provider event's type in the page's language (English: the event type, "captured").
fn event_type_label(event_type: PaymentAction) -> &'static str {
    let i18n = use_i18n();
    match event_type {
        PaymentAction::Submitted => t_string!(i18n, payments.event.submitted),
        PaymentAction::Authorized => t_string!(i18n, payments.event.authorized),
        PaymentAction::Captured => t_string!(i18n, payments.event.captured),
        PaymentAction::Failed => t_string!(i18n, payments.event.failed),
        PaymentAction::Cancelled => t_string!(i18n, payments.event.cancelled),
        PaymentAction::Refunded => t_string!(i18n, payments.event.refunded),
        PaymentAction::PartiallyRefunded => t_string!(i18n, payments.event.partially_refunded),
        PaymentAction::Settled => t_string!(i18n, payments.event.settled),
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
    let i18n = use_i18n();
    let book = payment.book();
    let (allowed, refused): (Vec<_>, Vec<_>) = PaymentAction::ALL
        .into_iter()
        .map(|action| (action, book.state.apply(action)))
        .partition(|(_, outcome)| outcome.is_ok());
    let settled_refusal = (book.is_settled).then(|| {
        t_string!(
            i18n,
            payments.row.already_settled,
            action = payment_action_label(PaymentAction::Settled),
            amount = chf(book.settled)
        )
        .to_string()
    });
    let id = payment.id.to_string();
    let version = payment.version.to_string();
    view! {
        <tr data-state=payment.state.as_str() data-payment=payment.provider_payment_id.clone()>
            <td>{format!("{} {}", payment.provider, payment.provider_payment_id)}</td>
            <td><span class=format!("state state-{}", payment.state)>{payment_state_label(payment.state)}</span></td>
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
                                        <span class="visually-hidden">{t_string!(i18n, payments.row.amount_label, action = payment_action_label(action)).to_string()}</span>
                                        <input name="amount" inputmode="decimal" size="8" placeholder="CHF"
                                            value=amount.map(|a| format!("{}.{:02}", a.0 / 100, a.0 % 100)).unwrap_or_default()/>
                                    </label>
                                })}
                                <button type="submit" disabled=move || act.pending().get()>{payment_action_label(action)}</button>
                            </ActionForm>
                        }
                    }).collect_view()}
                <details class="refused-actions">
                    <summary>{t!(i18n, payments.row.not_possible_now)}</summary>
                    <ul>
                        {refused.into_iter().filter_map(|(action, outcome)| outcome.err().map(|refusal| view! {
                            <li>{t_string!(i18n, payments.row.refused, action = payment_action_label(action), why = payment_refusal_text(refusal.reason)).to_string()}</li>
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
