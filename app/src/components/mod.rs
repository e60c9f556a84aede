//! Reusable UI pieces: the idempotency key every mutating form carries, the red banner of payouts
//! needing attention with its Finish payout button, error and money display.

use crate::api::{payouts_needing_attention, settlements_needing_attention, FinishPayout};
use crate::domain::*;
use leptos::prelude::*;

/// A fresh idempotency key, a random (v4) UUID: from `crypto.getRandomValues()` in the browser;
/// from the server's generator while rendering on the server (replaced by the browser's as soon as
/// the page hydrates). Not `crypto.randomUUID()`: browsers offer it only in secure contexts
/// (HTTPS or localhost), and a desk PC reaching the server at `http://<LAN address>` is not one;
/// there the call throws and the page would stop working. An empty key (no Web Crypto at all) is
/// refused by the server with a message saying the key is missing.
pub fn new_idempotency_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut bytes = [0_u8; 16];
        match web_sys::window().map(|w| w.crypto()) {
            Some(Ok(crypto)) => match crypto.get_random_values_with_u8_array(&mut bytes) {
                Ok(_) => {
                    return uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .to_string()
                }
                Err(error) => leptos::logging::error!(
                    "no idempotency key: crypto.getRandomValues failed: {error:?}"
                ),
            },
            Some(Err(error)) => {
                leptos::logging::error!("no idempotency key: no Web Crypto: {error:?}")
            }
            None => leptos::logging::error!("no idempotency key: no window"),
        }
    }
    #[cfg(feature = "ssr")]
    {
        return uuid::Uuid::new_v4().to_string();
    }
    #[allow(unreachable_code)]
    String::new()
}

/// A signal holding the idempotency key of one form: minted in the browser when the form renders
/// (after hydration), and renewed each time a submission completes, so a double click or a
/// retried request reuses the key and a new action gets a new one.
pub fn idempotency_key_for(completed: ReadSignal<usize>) -> RwSignal<String> {
    let key = RwSignal::new(new_idempotency_key());
    // Runs once after hydration (replacing the server-rendered key with the browser's own), then
    // whenever a submission of the form completes.
    Effect::new(move |_| {
        completed.track();
        key.set(new_idempotency_key());
    });
    key
}

/// Shows an error in words a receptionist understands, with the field it concerns.
#[component]
pub fn ErrorMessage(error: AppError) -> impl IntoView {
    let field = error.field().map(|f| format!("{}: ", f.replace('_', " ")));
    view! {
        <p class="error" role="alert" data-code=error.code().to_string()>
            <span class="icon" aria-hidden="true">"⚠ "</span>
            {field}
            {if let AppError::Validation { message, .. } = &error { message.clone() } else { error.to_string() }}
            {(error.code() == "unauthenticated").then(|| view! { " " <a href="/login">"Sign in"</a> })}
        </p>
    }
}

/// `CHF 18'080.00`.
pub fn chf(amount: Rappen) -> String {
    amount.to_string()
}

/// `2026-11-23 14:05 UTC`, built from the date parts (chrono's strftime and RFC 3339 formatters
/// would add their machinery to the WASM bundle).
pub fn utc_minute(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike as _;
    format!(
        "{} {:02}:{:02} UTC",
        at.date_naive(),
        at.hour(),
        at.minute()
    )
}

/// The red banner: every failed payout and every pending one past its grace period, each with the
/// employee, amount, progress, the failed phase and a one-click, idempotent Finish payout. Shown
/// on every owner and reception page; refreshed after any action and every 10 seconds.
#[component]
pub fn AttentionBanner() -> impl IntoView {
    let finish = ServerAction::<FinishPayout>::new();
    let tick = RwSignal::new(0_u32);
    Effect::new(move |_| {
        // Client only (effects do not run during server rendering): poll for payouts that fail
        // in another tab or on another desk.
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(10),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let attention = Resource::new(
        move || (finish.version().get(), tick.get()),
        |_| payouts_needing_attention(),
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match attention.await {
                    Ok(payouts) if payouts.is_empty() => ().into_any(),
                    Ok(payouts) => view! {
                        <section class="attention-banner" role="alert" aria-live="assertive">
                            <h2><span class="icon" aria-hidden="true">"⛔ "</span>
                                {format!("{} payout(s) did not complete", payouts.len())}</h2>
                            <ul>
                                {payouts.into_iter().map(|p| view! { <AttentionItem payout=p finish=finish/> }).collect_view()}
                            </ul>
                            <FinishOutcome finish=finish/>
                        </section>
                    }.into_any(),
                    // An employee's pages carry no banner: finishing payouts is not theirs to do.
                    Err(AppError::Denied { status: 403, .. }) => ().into_any(),
                    Err(error) => view! {
                        <section class="attention-banner" role="alert">
                            <p>"Could not check for unfinished payouts:"</p>
                            <ErrorMessage error/>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
        <FinishedNotice finish/>
        <SettlementAttention tick=tick.read_only()/>
    }
}

/// The banner's line about money that did not arrive: bank transfers the bank returned and
/// settlements the statement disagrees with, with a link to the Settlements page where a person
/// records what the bank says. Owners only (others get 403 and see nothing).
#[component]
fn SettlementAttention(tick: ReadSignal<u32>) -> impl IntoView {
    let items = Resource::new(move || tick.get(), |_| settlements_needing_attention());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match items.await {
                    Ok(items) if items.is_empty() => ().into_any(),
                    Ok(items) => view! {
                        <section class="settlement-banner" role="alert" aria-live="assertive">
                            <h2><span class="icon" aria-hidden="true">"⚠ "</span>
                                {format!("{} bank transfer(s) or settlement(s) need you", items.len())}</h2>
                            <ul>
                                {items.into_iter().map(|item| view! {
                                    <li>
                                        <strong>{format!("{} {}", item.counterparty, chf(item.amount))}</strong>
                                        {match &item.reason {
                                            Some(reason) => format!(" — {}: {reason}", item.state.label()),
                                            None => format!(" — {}", item.state.label()),
                                        }}
                                    </li>
                                }).collect_view()}
                            </ul>
                            <p><a href="/settlements">"Open Settlements to record what the bank says and resolve them"</a></p>
                        </section>
                    }.into_any(),
                    Err(AppError::Denied { status: 403, .. }) => ().into_any(),
                    Err(error) => view! {
                        <section class="settlement-banner" role="alert">
                            <p>"Could not check the settlements:"</p>
                            <ErrorMessage error/>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AttentionItem(payout: Payout, finish: ServerAction<FinishPayout>) -> impl IntoView {
    let key = idempotency_key_for(finish.version().read_only());
    let done = format!(
        "{} of {} records done",
        payout.record_count, payout.expected_record_count
    );
    let status = match (payout.state, payout.failed_phase) {
        (PayoutState::Failed, Some(phase)) => format!("failed while {}", phase.describe()),
        (PayoutState::Failed, None) => "failed".to_string(),
        _ => format!("interrupted after phase “{}”", payout.phase),
    };
    let error = payout.error.clone().unwrap_or_default();
    let id = payout.id.to_string();
    let href = format!("/payouts/{}", payout.id);
    view! {
        <li class="attention-item" data-payout-id=payout.id.to_string()>
            <p>
                <strong>{payout.employee_name.clone()}</strong>
                {format!(" — {} — {done} — {status}", chf(payout.expected_total))}
                {(!error.is_empty()).then(|| view! { <span class="detail">{format!(": {error}")}</span> })}
                " " <a href=href>"details"</a>
            </p>
            <ActionForm action=finish>
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <input type="hidden" name="payout_id" value=id.clone()/>
                <button type="submit" class="finish" disabled=move || finish.pending().get()>
                    "Finish payout"
                </button>
            </ActionForm>
        </li>
    }
}

#[component]
fn FinishOutcome(finish: ServerAction<FinishPayout>) -> impl IntoView {
    move || match finish.value().get() {
        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
        Some(Ok(_)) | None => ().into_any(),
    }
}

/// The outcome of a finish, shown outside the banner (the banner disappears once nothing is left).
#[component]
fn FinishedNotice(finish: ServerAction<FinishPayout>) -> impl IntoView {
    move || {
        match finish.value().get() {
        Some(Ok(payout)) => view! {
            <p class="notice success" role="status">
                {format!("Payout to {} {}: {} records, {}.", payout.employee_name, payout.state, payout.record_count, chf(payout.total))}
            </p>
        }
        .into_any(),
        Some(Err(_)) | None => ().into_any(),
    }
    }
}

/// A wide table that scrolls sideways inside its own box on a narrow screen (a phone at 375 px)
/// instead of widening the whole page. The box is a labelled region reachable with the keyboard
/// (`tabindex=0`), so it can be scrolled without a pointer (WCAG 2.1.1; axe-core's
/// `scrollable-region-focusable`).
#[component]
pub fn ScrollTable(
    /// What the table lists, for screen readers ("Payouts").
    label: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-scroll" role="region" aria-label=label tabindex="0">
            {children()}
        </div>
    }
}
