//! One payout: state, phase, totals, every line, and the actions the state machine allows now
//! (Finish, Cancel), with the reason shown for those it refuses.

use super::owner::LineTable;
use crate::api::{get_payout_detail, CancelPayout, FinishPayout};
use crate::components::{chf, idempotency_key_for, utc_minute, AttentionBanner, ErrorMessage};
use crate::domain::*;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

#[component]
pub fn PayoutPage() -> impl IntoView {
    let params = use_params_map();
    let finish = ServerAction::<FinishPayout>::new();
    let cancel = ServerAction::<CancelPayout>::new();
    let detail = Resource::new(
        move || {
            (
                params.with(|p| p.get("id").unwrap_or_default()),
                finish.version().get(),
                cancel.version().get(),
            )
        },
        |(id, _, _)| get_payout_detail(id),
    );
    let session = expect_context::<crate::pages::Session>().me;
    view! {
        <AttentionBanner/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let me = session.await.ok().flatten();
                match detail.await {
                    Ok(detail) => view! { <PayoutView detail me finish cancel/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        {move || finish.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
        {move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
    }
}

#[component]
fn PayoutView(
    detail: PayoutDetail,
    me: Option<Me>,
    finish: ServerAction<FinishPayout>,
    cancel: ServerAction<CancelPayout>,
) -> impl IntoView {
    let p = detail.payout;
    let finish_key = idempotency_key_for(finish.version().read_only());
    let cancel_key = idempotency_key_for(cancel.version().read_only());
    let id = p.id.to_string();
    let cancel_id = id.clone();
    // The state machine says what the payout allows; the role says who may ask (an employee
    // reads their payout; only the owner cancels). The engine checks both again.
    let may = |action| me.as_ref().is_some_and(|me| me.may(action));
    let finish_allowed = may(Permission::FinishPayout).then(|| p.state.apply(PayoutAction::Finish));
    let cancel_allowed = may(Permission::CancelPayout).then(|| p.state.apply(PayoutAction::Cancel));
    // The slip of a committed payout, for those who may download it (a plain link: works
    // without JavaScript).
    let slip_href = (slip::slip_refusal(p.state).is_none()
        && me
            .as_ref()
            .is_some_and(|me| slip::may_download_slips(me.role)))
    .then(|| slip::slip_path(p.id));
    view! {
        <h1>{format!("Payout to {}", p.employee_name)}</h1>
        <dl class="facts" data-state=p.state.as_str()>
            <dt>"State"</dt><dd><span class=format!("state state-{}", p.state)>{p.state.as_str()}</span></dd>
            <dt>"Phase"</dt><dd>{p.phase.as_str()}</dd>
            <dt>"Period"</dt><dd>{format!("{} – {}", p.period_start, p.period_end)}</dd>
            <dt>"Records"</dt><dd>{format!("{} (preview counted {})", p.record_count, p.expected_record_count)}</dd>
            <dt>"Total"</dt><dd class="total">{chf(p.total)}</dd>
            {p.failed_phase.map(|phase| view! { <dt>"Failed while"</dt><dd>{phase.describe()}</dd> })}
            {p.error.clone().map(|e| view! { <dt>"Error"</dt><dd>{e}</dd> })}
            <dt>"Created"</dt><dd>{utc_minute(p.created_at)}</dd>
            {p.committed_at.map(|at| view! { <dt>"Committed"</dt><dd>{utc_minute(at)}</dd> })}
        </dl>
        <div class="actions">
            {slip_href.map(|href| view! { <a class="slip-download" href=href download>"Download slip (PDF)"</a> })}
            {finish_allowed.map(|allowed| match allowed {
                Ok(_) => view! {
                    <ActionForm action=finish>
                        <input type="hidden" name="idempotency_key" prop:value=move || finish_key.get()/>
                        <input type="hidden" name="payout_id" value=id.clone()/>
                        <button type="submit" class="finish" disabled=move || finish.pending().get()>"Finish payout"</button>
                    </ActionForm>
                }.into_any(),
                Err(refusal) => view! { <p class="refused">{format!("Finish: {}", refusal.explanation)}</p> }.into_any(),
            })}
            {cancel_allowed.map(|allowed| match allowed {
                Ok(_) => view! {
                    <ActionForm action=cancel>
                        <input type="hidden" name="idempotency_key" prop:value=move || cancel_key.get()/>
                        <input type="hidden" name="payout_id" value=cancel_id/>
                        <button type="submit" class="cancel" disabled=move || cancel.pending().get()>"Cancel payout and release its records"</button>
                    </ActionForm>
                }.into_any(),
                Err(refusal) => view! { <p class="refused">{format!("Cancel: {}", refusal.explanation)}</p> }.into_any(),
            })}
        </div>
        <h2>"Lines"</h2>
        {if detail.lines.is_empty() {
            view! { <p class="hint">"No records are claimed yet."</p> }.into_any()
        } else {
            view! { <LineTable lines=detail.lines/> }.into_any()
        }}
    }
}

/// One payout's page as a lazy route: its code is a separate WASM chunk (`cargo leptos --split`), loaded
/// when the page is first shown.
pub struct PayoutRoute;

#[lazy_route]
impl LazyRoute for PayoutRoute {
    fn data() -> Self {
        PayoutRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <PayoutPage/> }.into_any()
    }
}
