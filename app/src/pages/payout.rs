//! One payout: state, phase, totals, every line, and the actions the state machine allows now
//! (Finish, Cancel), with the reason shown for those it refuses.

use super::owner::LineTable;
use crate::api::{get_payout_detail, CancelPayout, FinishPayout};
use crate::components::{
    chf, count, date, idempotency_key_for, payout_phase_doing, payout_phase_label,
    payout_refusal_text, payout_state_label, utc_minute, AttentionBanner, ErrorMessage,
};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n};
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
    let i18n = use_i18n();
    view! {
        <AttentionBanner/>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
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
    let i18n = use_i18n();
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
        <h1>{t_string!(i18n, payout.title, name = p.employee_name.clone()).to_string()}</h1>
        <dl class="facts" data-state=p.state.as_str()>
            <dt>{t!(i18n, payout.facts.state)}</dt><dd><span class=format!("state state-{}", p.state)>{payout_state_label(p.state)}</span></dd>
            <dt>{t!(i18n, payout.facts.phase)}</dt><dd>{payout_phase_label(p.phase)}</dd>
            <dt>{t!(i18n, payout.facts.period)}</dt><dd>{format!("{} – {}", date(p.period_start), date(p.period_end))}</dd>
            <dt>{t!(i18n, payout.facts.records)}</dt>
            <dd>{t_string!(
                i18n,
                payout.facts.records_value,
                records = count(p.record_count),
                expected = count(p.expected_record_count)
            ).to_string()}</dd>
            <dt>{t!(i18n, payout.facts.total)}</dt><dd class="total">{chf(p.total)}</dd>
            {p.failed_phase.map(|phase| view! { <dt>{t!(i18n, payout.facts.failed_while)}</dt><dd>{payout_phase_doing(phase)}</dd> })}
            {p.error.clone().map(|e| view! { <dt>{t!(i18n, payout.facts.error)}</dt><dd>{e}</dd> })}
            <dt>{t!(i18n, payout.facts.created)}</dt><dd>{utc_minute(p.created_at)}</dd>
            {p.committed_at.map(|at| view! { <dt>{t!(i18n, payout.facts.committed)}</dt><dd>{utc_minute(at)}</dd> })}
        </dl>
        <div class="actions">
            {slip_href.map(|href| view! { <a class="slip-download" href=href download>{t!(i18n, payout.actions.slip)}</a> })}
            {finish_allowed.map(|allowed| match allowed {
                Ok(_) => view! {
                    <ActionForm action=finish>
                        <input type="hidden" name="idempotency_key" prop:value=move || finish_key.get()/>
                        <input type="hidden" name="payout_id" value=id.clone()/>
                        <button type="submit" class="finish" disabled=move || finish.pending().get()>{t!(i18n, payout.actions.finish)}</button>
                    </ActionForm>
                }.into_any(),
                Err(refusal) => view! { <p class="refused">{t_string!(i18n, payout.actions.finish_refused, why = payout_refusal_text(refusal.reason)).to_string()}</p> }.into_any(),
            })}
            {cancel_allowed.map(|allowed| match allowed {
                Ok(_) => view! {
                    <ActionForm action=cancel>
                        <input type="hidden" name="idempotency_key" prop:value=move || cancel_key.get()/>
                        <input type="hidden" name="payout_id" value=cancel_id/>
                        <button type="submit" class="cancel" disabled=move || cancel.pending().get()>{t!(i18n, payout.actions.cancel)}</button>
                    </ActionForm>
                }.into_any(),
                Err(refusal) => view! { <p class="refused">{t_string!(i18n, payout.actions.cancel_refused, why = payout_refusal_text(refusal.reason)).to_string()}</p> }.into_any(),
            })}
        </div>
        <h2>{t!(i18n, payout.lines.heading)}</h2>
        {if detail.lines.is_empty() {
            view! { <p class="hint">{t!(i18n, payout.lines.none)}</p> }.into_any()
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
