//! The owner's webhook portal (issue 7): register endpoints, see every message with its
//! delivery receipts, resend one, redrive the dead-letter queue, rotate or show the secret,
//! send a test event, enable and disable. A message's Resend button comes from the shared
//! message state machine ([`MessageState::apply`]); where it refuses, the explanation is shown
//! instead. The engine checks everything again.

use crate::api::{AddWebhookEndpoint, ResendWebhookMessage, WebhookEndpointAction};
use crate::components::{utc_minute, ErrorMessage};
use crate::domain::webhook::EVENT_TYPES;
use crate::domain::*;
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
    view! {
        <h1>"Webhooks"</h1>
        <p>"Accounting tools and automations can be told when a payout commits or fails, a payment changes, or the audit finds something. Each request is signed (Standard Webhooks: headers webhook-id, webhook-timestamp, webhook-signature); check the signature with the endpoint's secret. Failed deliveries are retried for about a day, then wait in the dead-letter queue until you redrive them."</p>
        <h2>"Add an endpoint"</h2>
        <ActionForm action=add attr:class="webhook-add">
            <label>"URL " <input name="url" type="url" required placeholder="https://example.com/webhooks" size="40"/></label>
            <label>"Description " <input name="description" size="30" placeholder="Accounting export"/></label>
            <label>"Event types " <input name="event_types" size="40" list="webhook-event-types"
                placeholder="payout.committed, payment.* (empty: all)"/></label>
            <datalist id="webhook-event-types">
                {EVENT_TYPES.iter().map(|(name, _)| view! { <option value=*name/> }).collect_view()}
            </datalist>
            <label><input name="ordered" type="checkbox" value="on"/>" Deliver in order"</label>
            <button type="submit" disabled=move || add.pending().get()>"Add endpoint"</button>
        </ActionForm>
        {move || add.value().get().map(|result| match result {
            Ok(created) => view! {
                <p class="notice" role="status" data-secret=created.secret.secret.clone()>
                    {format!("Endpoint {} added. Its signing secret is {} (shown again with “Show secret”).", created.endpoint.url, created.secret.secret)}
                </p>
            }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        {move || act.value().get().map(|result| match result {
            Ok(text) => view! { <p class="notice" role="status">{text}</p> }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        {move || resend.value().get().map(|result| match result {
            Ok(message) => view! { <p class="notice" role="status">{format!("Message {} is scheduled again.", message.webhook_id)}</p> }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })}
        <h2>"Endpoints"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match portal.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">"No endpoint yet."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|(endpoint, messages)| view! {
                        <EndpointCard endpoint messages act resend/>
                    }).collect_view().into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <details class="event-catalogue">
            <summary>"Event types"</summary>
            <dl>
                {EVENT_TYPES.iter().map(|(name, description)| view! { <dt>{*name}</dt><dd>{*description}</dd> }).collect_view()}
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
    let counts = endpoint.message_counts;
    let types = if endpoint.event_types.is_empty() {
        "every event type".to_string()
    } else {
        endpoint.event_types.join(", ")
    };
    let status = if endpoint.enabled {
        "enabled".to_string()
    } else {
        format!(
            "disabled: {}",
            endpoint.disabled_reason.clone().unwrap_or_default()
        )
    };
    view! {
        <section class="webhook-endpoint" data-url=endpoint.url.clone() data-enabled=endpoint.enabled.to_string()>
            <h3>{endpoint.url.clone()}</h3>
            <p>
                {(!endpoint.description.is_empty()).then(|| format!("{} · ", endpoint.description))}
                {format!("{types} · {}", if endpoint.ordered { "in order" } else { "any order" })}
            </p>
            <p class=if endpoint.enabled { "endpoint-state" } else { "endpoint-state error" }>
                {if endpoint.enabled { "✔ " } else { "⚠ " }}{status}
                {endpoint.failing_since.map(|since| format!(" · failing since {}", utc_minute(since)))}
            </p>
            <p class="counts">{format!(
                "{} scheduled · {} sending · {} delivered · {} dead-lettered",
                counts.scheduled, counts.sending, counts.delivered, counts.dead_lettered
            )}</p>
            <div class="endpoint-actions">
                {button("test", "Send test event".into(), endpoint.enabled)}
                {button("redrive", format!("Redrive dead-letter queue ({})", counts.dead_lettered), endpoint.enabled && counts.dead_lettered > 0)}
                {button("rotate", "Rotate secret".into(), true)}
                {button("secret", "Show secret".into(), true)}
                {if endpoint.enabled {
                    button("disable", "Disable".into(), true).into_any()
                } else {
                    button("enable", "Enable".into(), true).into_any()
                }}
            </div>
            {if messages.is_empty() {
                view! { <p class="hint">"No message yet."</p> }.into_any()
            } else {
                view! {
                    <table class="webhook-messages">
                        <thead><tr><th>"Created"</th><th>"Event"</th><th>"State"</th><th class="num">"Attempts"</th><th>"Receipts"</th><th>"Actions"</th></tr></thead>
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
    let message = detail.message;
    let refusal = match message.state.apply(MessageAction::Resend) {
        Ok(_) if !endpoint_enabled => Some("cannot resend: the endpoint is disabled".to_string()),
        Ok(_) => None,
        Err(refusal) => Some(refusal.explanation),
    };
    let id = message.id.to_string();
    view! {
        <tr data-state=message.state.as_str() data-type=message.event_type.clone()>
            <td>{utc_minute(message.created_at)}</td>
            <td>{message.event_type.clone()}</td>
            <td>
                <span class=format!("state state-{}", message.state)>{message.state.as_str()}</span>
                {message.next_attempt_at.filter(|_| message.state == MessageState::Scheduled)
                    .map(|at| format!(" · next {}", utc_minute(at)))}
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
                                attempt.status_code.map_or("no answer".to_string(), |s| format!("HTTP {s}")),
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
                            <button type="submit" disabled=move || resend.pending().get()>"Resend"</button>
                        </ActionForm>
                    }.into_any(),
                    Some(why) => view! { <span class="hint">{why}</span> }.into_any(),
                }}
            </td>
        </tr>
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
