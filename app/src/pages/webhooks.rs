//! The owner's webhook portal (issue 7): register endpoints, see every message with its
//! delivery receipts, resend one, redrive the dead-letter queue, rotate or show the secret,
//! send a test event, enable and disable. A message's Resend button comes from the shared
//! message state machine ([`MessageState::apply`]); where it refuses, the explanation is shown
//! instead. The engine checks everything again.

use crate::api::{AddWebhookEndpoint, ResendWebhookMessage, WebhookEndpointAction};
use crate::components::{count, utc_minute, ErrorMessage};
use crate::domain::webhook::EVENT_TYPES;
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let add = ServerAction::<AddWebhookEndpoint>::new();
    let act = ServerAction::<WebhookEndpointAction>::new();
    let resend = ServerAction::<ResendWebhookMessage>::new();
    let portal = Resource::new(
        move || {
            (
                add.version().get(),
                act.version().get(),
                resend.version().get(),
            )
        },
        |_| crate::api::webhook_portal(),
    );
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, webhooks.title)}</h1>
        <p>{t!(i18n, webhooks.intro)}</p>
        <h2>{t!(i18n, webhooks.add.title)}</h2>
        <ActionForm action=add attr:class="webhook-add">
            <label>{t!(i18n, webhooks.add.url)} <input name="url" type="url" required placeholder="https://example.com/webhooks" size="40"/></label>
            <label>{t!(i18n, webhooks.add.description)} <input name="description" size="30" placeholder=t_string!(i18n, webhooks.add.description_placeholder)/></label>
            <label>{t!(i18n, webhooks.add.event_types)} <input name="event_types" size="40" list="webhook-event-types"
                placeholder=t_string!(i18n, webhooks.add.event_types_placeholder)/></label>
            <datalist id="webhook-event-types">
                {EVENT_TYPES.iter().map(|(name, _)| view! { <option value=*name/> }).collect_view()}
            </datalist>
            <label><input name="ordered" type="checkbox" value="on"/>{t!(i18n, webhooks.add.ordered)}</label>
            <button type="submit" disabled=move || add.pending().get()>{t!(i18n, webhooks.add.submit)}</button>
        </ActionForm>
        {move || add.value().get().map(|result| match result {
            Ok(created) => view! {
                <p class="notice" role="status" data-secret=created.secret.secret.clone()>
                    {t_string!(i18n, webhooks.add.added, url = created.endpoint.url.clone(), secret = created.secret.secret.clone()).to_string()}
                </p>
            }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        {move || act.value().get().map(|result| match result {
            Ok(text) => view! { <p class="notice" role="status">{text}</p> }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        {move || resend.value().get().map(|result| match result {
            Ok(message) => view! { <p class="notice" role="status">{t_string!(i18n, webhooks.rescheduled, id = message.webhook_id.to_string()).to_string()}</p> }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        <h2>{t!(i18n, webhooks.endpoints)}</h2>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match portal.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">{t!(i18n, webhooks.no_endpoint)}</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|(endpoint, messages)| view! {
                        <EndpointCard endpoint messages act resend/>
                    }).collect_view().into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <details class="event-catalogue">
            <summary>{t!(i18n, webhooks.catalogue)}</summary>
            <dl>
                {EVENT_TYPES.iter().map(|(name, description)| view! { <dt>{*name}</dt><dd>{event_description(name, description)}</dd> }).collect_view()}
            </dl>
        </details>
    }
}

#[component]
fn EndpointCard(
    endpoint: WebhookEndpoint,
    messages: Vec<WebhookMessageDetail>,
    act: ServerAction<WebhookEndpointAction>,
    resend: ServerAction<ResendWebhookMessage>,
) -> impl IntoView {
    let id = endpoint.id.to_string();
    let version = endpoint.version.to_string();
    let button = move |action: &'static str, label: String, enabled: bool| {
        let (id, version) = (id.clone(), version.clone());
        view! {
            <ActionForm action=act attr:class="endpoint-action">
                <input type="hidden" name="endpoint_id" value=id/>
                <input type="hidden" name="action" value=action/>
                <input type="hidden" name="expected_version" value=version/>
                <button type="submit" disabled=move || !enabled || act.pending().get()>{label}</button>
            </ActionForm>
        }
    };
    let i18n = use_i18n();
    let counts = endpoint.message_counts;
    let types = if endpoint.event_types.is_empty() {
        t_string!(i18n, webhooks.endpoint.every_type).to_string()
    } else {
        endpoint.event_types.join(", ")
    };
    let status = if endpoint.enabled {
        t_string!(i18n, webhooks.endpoint.enabled).to_string()
    } else {
        t_string!(
            i18n,
            webhooks.endpoint.disabled,
            // Endpoints disabled before the reason was stored as data: its English text.
            reason = endpoint
                .disabled_because
                .clone()
                .map(disabled_reason_text)
                .or_else(|| endpoint.disabled_reason.clone())
                .unwrap_or_default()
        )
        .to_string()
    };
    let order = if endpoint.ordered {
        t_string!(i18n, webhooks.endpoint.in_order)
    } else {
        t_string!(i18n, webhooks.endpoint.any_order)
    };
    let count_texts = [
        t_string!(
            i18n,
            webhooks.counts.scheduled,
            count = counts.scheduled,
            n = count(counts.scheduled)
        )
        .to_string(),
        t_string!(
            i18n,
            webhooks.counts.sending,
            count = counts.sending,
            n = count(counts.sending)
        )
        .to_string(),
        t_string!(
            i18n,
            webhooks.counts.delivered,
            count = counts.delivered,
            n = count(counts.delivered)
        )
        .to_string(),
        t_string!(
            i18n,
            webhooks.counts.dead_lettered,
            count = counts.dead_lettered,
            n = count(counts.dead_lettered)
        )
        .to_string(),
    ];
    view! {
        <section class="webhook-endpoint" data-url=endpoint.url.clone() data-enabled=endpoint.enabled.to_string()>
            <h3>{endpoint.url.clone()}</h3>
            <p>
                {(!endpoint.description.is_empty()).then(|| format!("{} · ", endpoint.description))}
                {format!("{types} · {order}")}
            </p>
            <p class=if endpoint.enabled { "endpoint-state" } else { "endpoint-state error" }>
                {if endpoint.enabled { "✔ " } else { "⚠ " }}{status}
                {endpoint.failing_since.map(|since| t_string!(i18n, webhooks.endpoint.failing_since, since = utc_minute(since)).to_string())}
            </p>
            <p class="counts">{count_texts.join(" · ")}</p>
            <div class="endpoint-actions">
                {button("test", t_string!(i18n, webhooks.actions.test).to_string(), endpoint.enabled)}
                {button(
                    "redrive",
                    t_string!(i18n, webhooks.actions.redrive, n = count(counts.dead_lettered)).to_string(),
                    endpoint.enabled && counts.dead_lettered > 0,
                )}
                {button("rotate", t_string!(i18n, webhooks.actions.rotate).to_string(), true)}
                {button("secret", t_string!(i18n, webhooks.actions.show_secret).to_string(), true)}
                {if endpoint.enabled {
                    button("disable", t_string!(i18n, webhooks.actions.disable).to_string(), true).into_any()
                } else {
                    button("enable", t_string!(i18n, webhooks.actions.enable).to_string(), true).into_any()
                }}
            </div>
            {if messages.is_empty() {
                view! { <p class="hint">{t!(i18n, webhooks.no_message)}</p> }.into_any()
            } else {
                view! {
                    <table class="webhook-messages">
                        <thead><tr><th>{t!(i18n, webhooks.messages.created)}</th><th>{t!(i18n, webhooks.messages.event)}</th>
                            <th>{t!(i18n, webhooks.messages.state)}</th><th class="num">{t!(i18n, webhooks.messages.attempts)}</th>
                            <th>{t!(i18n, webhooks.messages.receipts)}</th><th>{t!(i18n, webhooks.messages.actions)}</th></tr></thead>
                        <tbody>
                            {messages.into_iter().map(|detail| view! { <MessageRow detail resend endpoint_enabled=endpoint.enabled/> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn MessageRow(
    detail: WebhookMessageDetail,
    resend: ServerAction<ResendWebhookMessage>,
    endpoint_enabled: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let message = detail.message;
    let refusal = match message.state.apply(MessageAction::Resend) {
        Ok(_) if !endpoint_enabled => {
            Some(t_string!(i18n, webhooks.refusal.endpoint_disabled).to_string())
        }
        Ok(_) => None,
        Err(refusal) => Some(resend_refusal_text(&refusal)),
    };
    let id = message.id.to_string();
    view! {
        <tr data-state=message.state.as_str() data-type=message.event_type.clone()>
            <td>{utc_minute(message.created_at)}</td>
            <td>{message.event_type.clone()}</td>
            <td>
                <span class=format!("state state-{}", message.state)>{message_state_label(message.state)}</span>
                {message.next_attempt_at.filter(|_| message.state == MessageState::Scheduled)
                    .map(|at| t_string!(i18n, webhooks.messages.next, at = utc_minute(at)).to_string())}
            </td>
            <td class="num">{message.attempts}</td>
            <td>
                <ol class="receipts">
                    {detail.attempts.into_iter().map(|attempt| view! {
                        <li class=format!("receipt receipt-{}", attempt.outcome.as_str())>
                            {format!(
                                "#{} {} · {} · {}{}",
                                attempt.attempt,
                                utc_minute(attempt.started_at),
                                attempt.status_code.map_or_else(|| t_string!(i18n, webhooks.messages.no_answer).to_string(), |s| format!("HTTP {s}")),
                                attempt.latency_ms.map_or(String::new(), |ms| format!("{ms} ms")),
                                attempt.error.map_or(String::new(), |e| format!(" · {e}")),
                            )}
                        </li>
                    }).collect_view()}
                </ol>
            </td>
            <td>
                {match refusal {
                    None => view! {
                        <ActionForm action=resend attr:class="message-resend">
                            <input type="hidden" name="message_id" value=id/>
                            <button type="submit" disabled=move || resend.pending().get()>{t!(i18n, webhooks.messages.resend)}</button>
                        </ActionForm>
                    }.into_any(),
                    Some(why) => view! { <span class="hint">{why}</span> }.into_any(),
                }}
            </td>
        </tr>
    }
}

/// Why an endpoint was disabled, in the page's language ("the endpoint answered 410 Gone").
fn disabled_reason_text(because: EndpointDisabledReason) -> String {
    let i18n = use_i18n();
    match because {
        EndpointDisabledReason::ByCaller { by } => {
            t_string!(i18n, webhooks.disabled_because.by_caller, by = by).to_string()
        }
        EndpointDisabledReason::Gone => t_string!(i18n, webhooks.disabled_because.gone).to_string(),
        EndpointDisabledReason::FailingTooLong { since, limit_hours } => t_string!(
            i18n,
            webhooks.disabled_because.failing_too_long,
            since = utc_minute(since),
            hours = limit_hours
        )
        .to_string(),
    }
}

/// A message's delivery state in the page's language.
fn message_state_label(state: MessageState) -> &'static str {
    let i18n = use_i18n();
    match state {
        MessageState::Scheduled => t_string!(i18n, webhooks.message_state.scheduled),
        MessageState::Sending => t_string!(i18n, webhooks.message_state.sending),
        MessageState::Delivered => t_string!(i18n, webhooks.message_state.delivered),
        MessageState::DeadLettered => t_string!(i18n, webhooks.message_state.dead_lettered),
    }
}

/// Why a message cannot be resent now, in the page's language: the state machine's refusal of
/// [`MessageAction::Resend`] (only a scheduled or a sending message refuses it); any other
/// refusal is shown with the state machine's own words.
fn resend_refusal_text(refusal: &MessageRefusal) -> String {
    let i18n = use_i18n();
    match (refusal.action, refusal.from) {
        (MessageAction::Resend, MessageState::Scheduled) => {
            t_string!(i18n, webhooks.refusal.already_waiting).to_string()
        }
        (MessageAction::Resend, MessageState::Sending) => {
            t_string!(i18n, webhooks.refusal.being_sent).to_string()
        }
        (
            MessageAction::Resend
            | MessageAction::Lease
            | MessageAction::Delivered
            | MessageAction::Retry
            | MessageAction::DeadLetter
            | MessageAction::LeaseExpired
            | MessageAction::Redrive,
            MessageState::Scheduled
            | MessageState::Sending
            | MessageState::Delivered
            | MessageState::DeadLettered,
        ) => refusal.explanation.clone(),
    }
}

/// An event type's description in the page's language; a type this page has no words for keeps
/// the catalogue's (English) description.
fn event_description(name: &str, fallback: &'static str) -> &'static str {
    let i18n = use_i18n();
    match name {
        "payout.created" => t_string!(i18n, webhooks.events.payout.created),
        "payout.committed" => t_string!(i18n, webhooks.events.payout.committed),
        "payout.finished" => t_string!(i18n, webhooks.events.payout.finished),
        "payout.failed" => t_string!(i18n, webhooks.events.payout.failed),
        "payout.cancelled" => t_string!(i18n, webhooks.events.payout.cancelled),
        "payment.created" => t_string!(i18n, webhooks.events.payment.created),
        "payment.submitted" => t_string!(i18n, webhooks.events.payment.submitted),
        "payment.authorized" => t_string!(i18n, webhooks.events.payment.authorized),
        "payment.captured" => t_string!(i18n, webhooks.events.payment.captured),
        "payment.failed" => t_string!(i18n, webhooks.events.payment.failed),
        "payment.cancelled" => t_string!(i18n, webhooks.events.payment.cancelled),
        "payment.partially_refunded" => {
            t_string!(i18n, webhooks.events.payment.partially_refunded)
        }
        "payment.refunded" => t_string!(i18n, webhooks.events.payment.refunded),
        "payment.settled" => t_string!(i18n, webhooks.events.payment.settled),
        "settlement.bank_file_created" => {
            t_string!(i18n, webhooks.events.settlement.bank_file_created)
        }
        "settlement.settled" => t_string!(i18n, webhooks.events.settlement.settled),
        "settlement.failed" => t_string!(i18n, webhooks.events.settlement.failed),
        "settlement.needs_reconciliation" => {
            t_string!(i18n, webhooks.events.settlement.needs_reconciliation)
        }
        "settlement.resolved" => t_string!(i18n, webhooks.events.settlement.resolved),
        "payment_event.parked" => t_string!(i18n, webhooks.events.payment_event.parked),
        "service_record.refunded" => t_string!(i18n, webhooks.events.service_record.refunded),
        "till.opened" => t_string!(i18n, webhooks.events.till.opened),
        "till.closed" => t_string!(i18n, webhooks.events.till.closed),
        "audit.finding" => t_string!(i18n, webhooks.events.audit.finding),
        "webhook.endpoint_disabled" => t_string!(i18n, webhooks.events.webhook.endpoint_disabled),
        "webhook.test" => t_string!(i18n, webhooks.events.webhook.test),
        _ => fallback,
    }
}

/// The webhook portal as a lazy route (its own WASM chunk).
pub struct WebhooksRoute;

#[lazy_route]
impl LazyRoute for WebhooksRoute {
    fn data() -> Self {
        WebhooksRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <WebhooksPage/> }.into_any()
    }
}
