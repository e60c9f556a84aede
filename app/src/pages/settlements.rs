//! The owner's settlements page (issue 9): bank payouts from commit to the bank statement.
//!
//! 1. Needs attention: failed and disagreeing transfers, each with its reason and one form whose
//!    buttons are the actions the shared state machine allows ([`SettlementState::apply`] over
//!    [`SettlementAction::BY_PEOPLE`]); the refused ones are listed with their explanation.
//!    Every way out of a failure records what the bank said (its reference and a note).
//! 2. In transit: scheduled and sent transfers with their business-day countdown and the total.
//! 3. Bank files: write a studio's pain.001 file (and download it), and the files written so far.
//! 4. Import bank statement: a camt.053/054 file read in the browser (or its XML pasted, which
//!    also works without JavaScript), matched by the server.
//! 5. Unmatched statement lines, each dismissable with a note.
//! 6. Bank details: a studio's paying account, an employee's IBAN.
//!
//! The engine checks everything again, including the version the page showed (a stale page gets
//! "the settlement item changed since you loaded it").

use crate::api::{
    get_settlement_overview, list_employees, list_studios, settlement_action_name,
    unfinished_statement_imports, ActOnSettlementItem, CreateBankFile, DismissStatementLine,
    ImportBankStatement, SetEmployeeBankAccount, SetStudioBankAccount,
};
use crate::components::{
    chf, count, date, idempotency_key_for, reconciliation_reason_text, settlement_item_reason,
    settlement_state_label, skipped_payout_text, state_in_sentence, ticks_while, utc_minute,
    ErrorMessage,
};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n, Locale};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_i18n::I18nContext;
use leptos_router::{lazy_route, LazyRoute};

/// "arrives in 2 business days", "due today" or "overdue since 2026-12-07" for a transfer still
/// on its way (scheduled or in transit); `None` for the others, whose date is history.
pub fn countdown(item: &SettlementItem) -> Option<String> {
    match item.state {
        SettlementState::Scheduled | SettlementState::InTransit => {}
        SettlementState::Settled
        | SettlementState::Failed
        | SettlementState::NeedsReconciliation
        | SettlementState::Reissued
        | SettlementState::WrittenOff => return None,
    }
    let i18n = use_i18n();
    Some(if item.overdue {
        t_string!(
            i18n,
            settlements.countdown.overdue_since,
            date = date(item.expected_on)
        )
        .to_string()
    } else {
        match item.business_days_left {
            0 => t_string!(i18n, settlements.countdown.due_today).to_string(),
            n => t_string!(i18n, settlements.countdown.arrives_in, count = n).to_string(),
        }
    })
}

/// An amount as the statement has it: CHF as everywhere, another currency with its code.
fn line_amount(line: &StatementLine) -> String {
    if line.currency == CURRENCY {
        chf(line.amount)
    } else {
        format!(
            "{} {}.{:02}",
            line.currency,
            line.amount.0 / 100,
            line.amount.0 % 100
        )
    }
}

/// "Debit (money out)" / "Credit (money in)".
fn direction_words(direction: &str) -> String {
    let i18n = use_i18n();
    match direction {
        "debit" => t_string!(i18n, settlements.direction.debit).to_string(),
        "credit" => t_string!(i18n, settlements.direction.credit).to_string(),
        other => other.to_string(),
    }
}

/// Why the settlement state machine refuses an action ([`SettlementState::apply`]), in the
/// page's language: "it is already on its way".
fn settlement_refusal_text(reason: SettlementRefusalReason) -> &'static str {
    use SettlementRefusalReason as R;
    let i18n = use_i18n();
    match reason {
        R::NotSentYet => t_string!(i18n, settlements.refusal.not_sent_yet),
        R::OnlyFailedAreResolved => t_string!(i18n, settlements.refusal.only_failed_are_resolved),
        R::AlreadyOnItsWay => t_string!(i18n, settlements.refusal.already_on_its_way),
        R::SentAndNeedsReconciliation => {
            t_string!(i18n, settlements.refusal.sent_and_needs_reconciliation)
        }
        R::AlreadyNeedsReconciliation => {
            t_string!(i18n, settlements.refusal.already_needs_reconciliation)
        }
        R::Settled => t_string!(i18n, settlements.refusal.settled),
        R::FailedIsNeverResent => t_string!(i18n, settlements.refusal.failed_is_never_resent),
        R::FailedResolveAsPaid => t_string!(i18n, settlements.refusal.failed_resolve_as_paid),
        R::FailedNeedsAPerson => t_string!(i18n, settlements.refusal.failed_needs_a_person),
        R::AlreadyFailed => t_string!(i18n, settlements.refusal.already_failed),
        R::Reissued => t_string!(i18n, settlements.refusal.reissued),
        R::WrittenOff => t_string!(i18n, settlements.refusal.written_off),
        R::CardPaidByAcquirer => t_string!(i18n, settlements.refusal.card_paid_by_acquirer),
    }
}

/// An action's button label in the page's language ("Confirm settled").
fn action_label(action: SettlementAction) -> &'static str {
    let i18n = use_i18n();
    match action {
        SettlementAction::Send => t_string!(i18n, settlements.action.send),
        SettlementAction::Confirm => t_string!(i18n, settlements.action.confirm),
        SettlementAction::Flag => t_string!(i18n, settlements.action.flag),
        SettlementAction::Fail => t_string!(i18n, settlements.action.fail),
        SettlementAction::ResolvePaid => t_string!(i18n, settlements.action.resolve_paid),
        SettlementAction::Reissue => t_string!(i18n, settlements.action.reissue),
        SettlementAction::WriteOff => t_string!(i18n, settlements.action.write_off),
    }
}

/// A statement line's match state in the page's language ("unmatched"); a state this page does
/// not know is shown as stored.
fn match_state_words(state: &str) -> String {
    let i18n = use_i18n();
    match state {
        "matched" => t_string!(i18n, settlements.match_state.matched).to_string(),
        "unmatched" => t_string!(i18n, settlements.match_state.unmatched).to_string(),
        "mismatch" => t_string!(i18n, settlements.match_state.mismatch).to_string(),
        "duplicate" => t_string!(i18n, settlements.match_state.duplicate).to_string(),
        "dismissed" => t_string!(i18n, settlements.match_state.dismissed).to_string(),
        other => other.to_string(),
    }
}

fn studio_name(studios: &[Studio], id: StudioId) -> String {
    studios
        .iter()
        .find(|s| s.id == id)
        .map_or_else(|| id.to_string(), |s| s.name.clone())
}

/// Counts the completed submissions of `action` that may have changed what the page shows: all
/// but those refused as invalid input, so a refused form is not redrawn and keeps what was typed.
fn changes<S>(action: ServerAction<S>) -> Memo<usize>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Memo::new(move |previous: Option<&usize>| {
        let version = action.version().get();
        let refused = action
            .value()
            .with(|value| matches!(value, Some(Err(AppError::Validation { .. }))));
        match previous {
            Some(previous) if refused => *previous,
            Some(_) | None => version,
        }
    })
}

/// The actions of the page, shared by its sections.
#[derive(Clone, Copy)]
struct Actions {
    act: ServerAction<ActOnSettlementItem>,
    write: ServerAction<CreateBankFile>,
    import: ServerAction<ImportBankStatement>,
    dismiss: ServerAction<DismissStatementLine>,
}

/// The settlements page: checks the role, then shows the sections.
#[component]
pub fn SettlementsPage() -> impl IntoView {
    let session = expect_context::<crate::pages::Session>().me;
    let i18n = use_i18n();
    view! {
        <h1>{t!(i18n, settlements.title)}</h1>
        <p>{t!(i18n, settlements.intro)}</p>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(me)) => match me.require(Permission::ReadSettlements) {
                        Ok(()) => view! { <Settlements/> }.into_any(),
                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                    },
                    Ok(None) => {
                        let error = AppError::unauthenticated(t_string!(i18n, common.sign_in_first));
                        view! { <ErrorMessage error/> }.into_any()
                    }
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Settlements() -> impl IntoView {
    let actions = Actions {
        act: ServerAction::<ActOnSettlementItem>::new(),
        write: ServerAction::<CreateBankFile>::new(),
        import: ServerAction::<ImportBankStatement>::new(),
        dismiss: ServerAction::<DismissStatementLine>::new(),
    };
    let (acted, written, imported, dismissed) = (
        changes(actions.act),
        changes(actions.write),
        changes(actions.import),
        changes(actions.dismiss),
    );
    let overview = Resource::new(
        move || (acted.get(), written.get(), imported.get(), dismissed.get()),
        |_| get_settlement_overview(),
    );
    let studios = OnceResource::new(list_studios());
    let data = move || async move { (overview.await, studios.await) };
    let i18n = use_i18n();
    view! {
        <ActOutcome act=actions.act/>
        <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
            {move || Suspend::new(async move {
                match data().await {
                    (Ok(overview), Ok(studios)) => view! {
                        <NeedsAttention overview=overview.clone() studios=studios.clone() act=actions.act/>
                        <InTransit overview studios act=actions.act/>
                    }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Transition>
        <BankFiles overview studios write=actions.write/>
        <ImportStatement overview import=actions.import/>
        <UnmatchedLines overview dismiss=actions.dismiss/>
        <BankDetails studios/>
    }
}

/// The outcome of the latest action on an item: its new state, or why it was refused (a 409
/// says how the item is now; the lists below show it so).
#[component]
fn ActOutcome(act: ServerAction<ActOnSettlementItem>) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        act.value().get().map(|result| match result {
            Ok(item) => {
                let next = match item.state {
                    SettlementState::Reissued => t_string!(i18n, settlements.outcome.reissued_next),
                    SettlementState::Settled
                    | SettlementState::WrittenOff
                    | SettlementState::Failed
                    | SettlementState::NeedsReconciliation
                    | SettlementState::Scheduled
                    | SettlementState::InTransit => "",
                };
                view! {
                    <p class="notice success" role="status" data-state=item.state.as_str()>
                        {t_string!(
                            i18n,
                            settlements.outcome.now,
                            who = item.counterparty.clone(),
                            amount = chf(item.amount),
                            state = state_in_sentence(item.state),
                            next = next
                        ).to_string()}
                    </p>
                }
                .into_any()
            }
            Err(AppError::SettlementConflict {
                code,
                message,
                item,
                settlement_refusal,
            }) => {
                let now = t_string!(
                    i18n,
                    settlements.outcome.conflict,
                    who = item.counterparty.clone(),
                    amount = chf(item.amount),
                    state = state_in_sentence(item.state),
                    version = item.version
                )
                .to_string();
                let text =
                    settlement_refusal.map(|reason| settlement_refusal_text(reason).to_string());
                let error = AppError::SettlementConflict {
                    code,
                    message,
                    item,
                    settlement_refusal,
                };
                view! {
                    <div class="settlement-conflict">
                        <ErrorMessage error text/>
                        <p class="hint">{now}</p>
                    </div>
                }
                .into_any()
            }
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    }
}

/// Failed and disagreeing transfers, red, each with its reason and what may be done.
#[component]
fn NeedsAttention(
    overview: SettlementOverview,
    studios: Vec<Studio>,
    act: ServerAction<ActOnSettlementItem>,
) -> impl IntoView {
    let items = overview.attention;
    let lines = overview.unmatched_lines;
    let item_count = items.len();
    let i18n = use_i18n();
    let class = if items.is_empty() {
        "settlement-attention"
    } else {
        "settlement-attention has-items"
    };
    view! {
        <section class=class aria-labelledby="attention-heading" data-count=item_count>
            <h2 id="attention-heading">{t!(i18n, settlements.attention.heading)}</h2>
            {if items.is_empty() {
                view! { <p class="hint">{t!(i18n, settlements.attention.none)}</p> }.into_any()
            } else {
                view! {
                    <p class="attention-summary">
                        <span class="icon" aria-hidden="true">"⛔ "</span>
                        {t_string!(i18n, settlements.attention.summary, count = item_count).to_string()}
                        {t!(i18n, settlements.attention.decide)}
                    </p>
                    {items.into_iter().map(|item| {
                        let studio = studio_name(&studios, item.studio_id);
                        view! { <AttentionItem item studio lines=lines.clone() act/> }
                    }).collect_view()}
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn AttentionItem(
    item: SettlementItem,
    studio: String,
    lines: Vec<StatementLine>,
    act: ServerAction<ActOnSettlementItem>,
) -> impl IntoView {
    let i18n = use_i18n();
    let icon = match item.state {
        SettlementState::Failed => "⛔ ",
        SettlementState::NeedsReconciliation
        | SettlementState::Scheduled
        | SettlementState::InTransit
        | SettlementState::Settled
        | SettlementState::Reissued
        | SettlementState::WrittenOff => "⚠ ",
    };
    let (id, state, label) = (
        item.id.to_string(),
        item.state,
        format!("{}, {}", item.counterparty, chf(item.amount)),
    );
    let (expected_on, end_to_end_id) = (item.expected_on, item.end_to_end_id.clone());
    let reason = settlement_item_reason(&item)
        .unwrap_or_else(|| t_string!(i18n, settlements.item.no_reason).to_string());
    view! {
        <article class="settlement-item" data-item-id=id data-state=state.as_str() aria-label=label.clone()>
            <h3>
                <span class="icon" aria-hidden="true">{icon}</span>
                {label.replacen(", ", " — ", 1)}
            </h3>
            <p>
                <span class=format!("state state-{}", state.as_str())>{settlement_state_label(state)}</span>
                <span class="reason">{t_string!(i18n, settlements.item.reason, reason = reason).to_string()}</span>
            </p>
            <p class="facts">
                {t_string!(i18n, settlements.item.facts, studio = studio, date = date(expected_on)).to_string()}
                <code>{end_to_end_id}</code>
            </p>
            <ItemActions item lines act/>
        </article>
    }
}

/// One form for the item: the inputs its legal actions need and one button per legal action
/// (the button says which action is asked for); the refused actions with their explanation.
#[component]
fn ItemActions(
    item: SettlementItem,
    lines: Vec<StatementLine>,
    act: ServerAction<ActOnSettlementItem>,
) -> impl IntoView {
    let (allowed, refused): (Vec<_>, Vec<_>) = SettlementAction::BY_PEOPLE
        .into_iter()
        .map(|action| (action, item.kind.apply(item.state, action)))
        .partition(|(_, outcome)| outcome.is_ok());
    let allowed: Vec<SettlementAction> = allowed.into_iter().map(|(action, _)| action).collect();
    let needs_record = allowed.iter().any(|a| a.needs_bank_record());
    let confirm = allowed.contains(&SettlementAction::Confirm);
    // A bank payout leaves the account (a debit); a card settlement arrives (a credit).
    let direction = match item.kind {
        SettlementKind::BankPayout => "debit",
        SettlementKind::CardPayment => "credit",
    };
    let lines: Vec<StatementLine> = lines
        .into_iter()
        .filter(|line| line.direction == direction)
        .collect();
    let key = idempotency_key_for(act.version().read_only());
    let i18n = use_i18n();
    let note_label = if needs_record {
        t_string!(i18n, settlements.item_actions.note_bank)
    } else {
        t_string!(i18n, settlements.item_actions.note)
    };
    let hint = match (needs_record, confirm) {
        (true, true) => t_string!(i18n, settlements.item_actions.hint_record_confirm),
        (true, false) => t_string!(i18n, settlements.item_actions.hint_record),
        (false, true) => t_string!(i18n, settlements.item_actions.hint_confirm),
        (false, false) => "",
    };
    view! {
        {(!allowed.is_empty()).then(|| view! {
            <ActionForm action=act attr:class="settlement-action">
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <input type="hidden" name="item_id" value=item.id.to_string()/>
                <input type="hidden" name="expected_version" value=item.version.to_string()/>
                {(confirm && !lines.is_empty()).then(|| view! {
                    <label>{t!(i18n, settlements.item_actions.statement_line)}
                        <select name="line_id">
                            <option value="">{t!(i18n, settlements.item_actions.no_line)}</option>
                            {lines.into_iter().map(|line| {
                                let (direction, amount) = (direction_words(&line.direction), line_amount(&line));
                                let reference = line
                                    .end_to_end_id
                                    .clone()
                                    .or_else(|| line.reference.clone())
                                    .unwrap_or_else(|| t_string!(i18n, settlements.item_actions.no_reference).to_string());
                                let text = match line.booked_on {
                                    Some(day) => t_string!(
                                        i18n,
                                        settlements.item_actions.line_option,
                                        direction = direction,
                                        amount = amount,
                                        date = date(day),
                                        reference = reference
                                    ).to_string(),
                                    None => t_string!(
                                        i18n,
                                        settlements.item_actions.line_option_undated,
                                        direction = direction,
                                        amount = amount,
                                        reference = reference
                                    ).to_string(),
                                };
                                view! { <option value=line.id.to_string()>{text}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                })}
                {needs_record.then(|| view! {
                    <label>{t!(i18n, settlements.item_actions.bank_reference)}<span class="required">{t!(i18n, settlements.item_actions.required)}</span>
                        <input type="text" name="bank_reference" aria-required="true" autocomplete="off" maxlength="1000"/>
                    </label>
                })}
                <label>{note_label}<span class="required">{t!(i18n, settlements.item_actions.required)}</span>
                    <textarea name="note" rows="2" aria-required="true" maxlength="1000"></textarea>
                </label>
                <p class="hint">{hint}</p>
                <div class="buttons">
                    {allowed.iter().map(|action| view! {
                        <button type="submit" name="action" value=settlement_action_name(*action)
                            disabled=move || act.pending().get()>{action_label(*action)}</button>
                    }).collect_view()}
                </div>
            </ActionForm>
        })}
        <details class="refused-actions">
            <summary>{t!(i18n, settlements.item_actions.not_possible_now)}</summary>
            <ul>
                {refused.into_iter().filter_map(|(action, outcome)| outcome.err().map(|refusal| view! {
                    <li>{t_string!(
                        i18n,
                        settlements.item_actions.refused,
                        action = action_label(action),
                        why = settlement_refusal_text(refusal.reason)
                    ).to_string()}</li>
                })).collect_view()}
            </ul>
        </details>
    }
}

/// Scheduled and sent transfers with their countdown, soonest first, and the total.
#[component]
fn InTransit(
    overview: SettlementOverview,
    studios: Vec<Studio>,
    act: ServerAction<ActOnSettlementItem>,
) -> impl IntoView {
    let items = overview.in_transit;
    let lines = overview.unmatched_lines;
    let total = overview.in_transit_total;
    let i18n = use_i18n();
    view! {
        <section class="in-transit" aria-labelledby="in-transit-heading">
            <h2 id="in-transit-heading">{t!(i18n, settlements.in_transit.heading)}</h2>
            <p class="in-transit-total" data-total=total.0 data-count=items.len()>
                {t_string!(i18n, settlements.in_transit.total, count = items.len(), total = chf(total)).to_string()}
            </p>
            {(!items.is_empty()).then(|| view! {
                <table class="in-transit">
                    <thead><tr>
                        <th>{t!(i18n, settlements.in_transit.counterparty)}</th><th>{t!(i18n, settlements.in_transit.studio)}</th>
                        <th class="num">{t!(i18n, settlements.in_transit.amount)}</th><th>{t!(i18n, settlements.in_transit.state)}</th>
                        <th>{t!(i18n, settlements.in_transit.expected)}</th><th>{t!(i18n, settlements.in_transit.end_to_end_id)}</th>
                        <th>{t!(i18n, settlements.in_transit.by_hand)}</th>
                    </tr></thead>
                    <tbody>
                        {items.into_iter().map(|item| {
                            let studio = studio_name(&studios, item.studio_id);
                            let countdown = countdown(&item).unwrap_or_default();
                            let overdue = item.overdue;
                            let (id, state, e2e) = (item.id.to_string(), item.state, item.end_to_end_id.clone());
                            let e2e_attribute = e2e.clone();
                            let (counterparty, amount, expected_on) = (item.counterparty.clone(), item.amount, item.expected_on);
                            view! {
                                <tr data-item-id=id data-state=state.as_str() data-e2e=e2e_attribute>
                                    <td>{counterparty}</td>
                                    <td>{studio}</td>
                                    <td class="num">{chf(amount)}</td>
                                    <td><span class=format!("state state-{}", state.as_str())>{settlement_state_label(state)}</span></td>
                                    <td>
                                        {date(expected_on)}
                                        <br/>
                                        <span class="countdown" class:overdue=overdue>
                                            {overdue.then(|| view! { <span class="icon" aria-hidden="true">"⚠ "</span> })}
                                            {countdown}
                                        </span>
                                    </td>
                                    <td><code>{e2e}</code></td>
                                    <td>
                                        <details class="item-actions">
                                            <summary>{t!(i18n, settlements.in_transit.record_by_hand)}</summary>
                                            <ItemActions item lines=lines.clone() act/>
                                        </details>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                    <tfoot><tr>
                        <th colspan="2">{t!(i18n, settlements.in_transit.total_row)}</th><td class="num">{chf(total)}</td><td colspan="4"></td>
                    </tr></tfoot>
                </table>
            })}
        </section>
    }
}

/// The bank file form with its result, and the files written so far.
#[component]
fn BankFiles(
    overview: Resource<Result<SettlementOverview, AppError>>,
    studios: OnceResource<Result<Vec<Studio>, AppError>>,
    write: ServerAction<CreateBankFile>,
) -> impl IntoView {
    let key = idempotency_key_for(write.version().read_only());
    let i18n = use_i18n();
    view! {
        <section class="bank-files" aria-labelledby="bank-files-heading">
            <h2 id="bank-files-heading">{t!(i18n, settlements.bank_files.heading)}</h2>
            <p class="hint">{t!(i18n, settlements.bank_files.hint)}</p>
            <ActionForm action=write attr:class="form-grid bank-file-form">
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <label>{t!(i18n, settlements.bank_files.studio)}
                    <StudioSelect studios/>
                </label>
                <label>{t!(i18n, settlements.bank_files.execution_date)}
                    <input type="date" name="execution_date"/>
                </label>
                <button type="submit" disabled=move || write.pending().get()>{t!(i18n, settlements.bank_files.write)}</button>
            </ActionForm>
            <p class="hint">{t!(i18n, settlements.bank_files.no_date_hint)}</p>
            {move || write.value().get().map(|result| match result {
                Ok(file) => view! { <BankFileResult file/> }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
            <h3>{t!(i18n, settlements.bank_files.written_so_far)}</h3>
            <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
                {move || Suspend::new(async move {
                    match (overview.await, studios.await) {
                        (Ok(overview), Ok(studios)) => view! { <BatchTable batches=overview.batches studios/> }.into_any(),
                        (Err(error), _) | (_, Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A `<select name="studio_id">` of the caller's studios.
#[component]
fn StudioSelect(studios: OnceResource<Result<Vec<Studio>, AppError>>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <select name="studio_id" required>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match studios.await {
                        Ok(list) => list.into_iter().map(|s| view! {
                            <option value=s.id.to_string()>{s.name}</option>
                        }).collect_view().into_any(),
                        // The error itself shows above the page's lists (the same resource).
                        Err(_) => view! { <option value="">{t!(i18n, settlements.bank_files.studios_unavailable)}</option> }.into_any(),
                    }
                })}
            </Suspense>
        </select>
    }
}

#[component]
fn BankFileResult(file: BankFile) -> impl IntoView {
    let skipped: Vec<String> = file
        .skipped_payouts
        .iter()
        .map(skipped_payout_text)
        .collect();
    let i18n = use_i18n();
    view! {
        <div class="notice success bank-file-result" role="status" data-batch-id=file.batch.id.to_string()>
            <p>{t_string!(
                i18n,
                settlements.bank_files.written,
                count = file.items.len(),
                reference = file.batch.reference.clone(),
                total = chf(file.batch.total),
                date = date(file.batch.expected_on)
            ).to_string()}</p>
            <p><a href=file.download_url download>{t!(i18n, settlements.bank_files.download_file)}</a></p>
            {(!skipped.is_empty()).then(|| view! {
                <p class="skipped-heading">{t!(i18n, settlements.bank_files.skipped)}</p>
                <ul class="skipped">
                    {skipped.into_iter().map(|why| view! { <li>{why}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
}

#[component]
fn BatchTable(batches: Vec<SettlementBatch>, studios: Vec<Studio>) -> impl IntoView {
    let i18n = use_i18n();
    if batches.is_empty() {
        return view! { <p class="hint">{t!(i18n, settlements.bank_files.none)}</p> }.into_any();
    }
    view! {
        <table class="bank-files">
            <thead><tr>
                <th>{t!(i18n, settlements.bank_files.created)}</th><th>{t!(i18n, settlements.bank_files.studio)}</th>
                <th>{t!(i18n, settlements.bank_files.reference)}</th><th>{t!(i18n, settlements.bank_files.state)}</th>
                <th class="num">{t!(i18n, settlements.bank_files.transfers)}</th><th class="num">{t!(i18n, settlements.bank_files.total)}</th>
                <th>{t!(i18n, settlements.bank_files.executed)}</th><th>{t!(i18n, settlements.bank_files.file)}</th>
            </tr></thead>
            <tbody>
                {batches.into_iter().map(|batch| {
                    let download = match batch.kind {
                        SettlementKind::BankPayout => Some(format!("/api/v1/bank-files/{}/pain.001.xml", batch.id)),
                        SettlementKind::CardPayment => None,
                    };
                    let reference = batch.reference.clone();
                    view! {
                        <tr data-batch-id=batch.id.to_string() data-state=batch.state.as_str()>
                            <td>{utc_minute(batch.created_at)}</td>
                            <td>{studio_name(&studios, batch.studio_id)}</td>
                            <td><code>{batch.reference}</code></td>
                            <td><span class=format!("state state-{}", batch.state.as_str())>{settlement_state_label(batch.state)}</span></td>
                            <td class="num">{count(batch.item_count)}</td>
                            <td class="num">{chf(batch.total)}</td>
                            <td>{date(batch.expected_on)}</td>
                            <td>{match download {
                                Some(href) => view! {
                                    <a href=href download aria-label=t_string!(i18n, settlements.bank_files.download_named, reference = reference).to_string()>
                                        {t!(i18n, settlements.bank_files.download)}
                                    </a>
                                }.into_any(),
                                None => view! { <span class="hint">{t!(i18n, settlements.bank_files.card_settlement)}</span> }.into_any(),
                            }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// "camt.053 MSG-1: 250 of 1,000 lines matched (25 %)": an import's progress.
fn import_progress_text(progress: &StatementImportProgress) -> String {
    let i18n = use_i18n();
    t_string!(
        i18n,
        settlements.import.progress,
        kind = progress.kind.clone(),
        id = progress.message_id.clone(),
        done = count(progress.lines_done),
        total = count(progress.lines_total),
        percent = progress.percent()
    )
    .to_string()
}

/// An unfinished import the overview lists: going on (someone else's, or this page's before it
/// was reloaded) or stopped part-way, with what to do about it.
fn unfinished_import_text(progress: &StatementImportProgress) -> String {
    let i18n = use_i18n();
    if progress.stalled {
        t_string!(
            i18n,
            settlements.import.stalled,
            kind = progress.kind.clone(),
            id = progress.message_id.clone(),
            done = count(progress.lines_done),
            total = count(progress.lines_total),
            started = utc_minute(progress.started_at)
        )
        .to_string()
    } else {
        t_string!(
            i18n,
            settlements.import.running,
            kind = progress.kind.clone(),
            id = progress.message_id.clone(),
            done = count(progress.lines_done),
            total = count(progress.lines_total),
            percent = progress.percent()
        )
        .to_string()
    }
}

/// The statement import: a file read in the browser and sent as text, or the XML pasted (the
/// way that also works without JavaScript). While it goes on, the unfinished imports are read
/// twice a second: the server commits the lines in steps and records how many are done.
#[component]
fn ImportStatement(
    overview: Resource<Result<SettlementOverview, AppError>>,
    import: ServerAction<ImportBankStatement>,
) -> impl IntoView {
    // Why the chosen file could not be read (the browser's side; the server's refusals are in
    // the action's value).
    let unreadable = RwSignal::new(None::<AppError>);
    let tick = ticks_while(move || import.pending().get(), "the statement import");
    // Only read while this page's import goes on (the overview lists the others).
    let running = Resource::new(
        move || (import.pending().get(), tick.get()),
        |(pending, _)| async move {
            if pending {
                Some(unfinished_statement_imports().await)
            } else {
                None
            }
        },
    );
    let i18n = use_i18n();
    view! {
        <section class="statement-import" aria-labelledby="import-heading">
            <h2 id="import-heading">{t!(i18n, settlements.import.heading)}</h2>
            <p class="hint">{t!(i18n, settlements.import.hint)}</p>
            <form class="statement-file" on:submit=|ev| ev.prevent_default()>
                <label>{t!(i18n, settlements.import.file)}
                    <input type="file" name="statement_file" accept=".xml,application/xml,text/xml"
                        disabled=move || import.pending().get()
                        on:change=move |ev| file_chosen(ev, import, unreadable, i18n)/>
                </label>
            </form>
            <details class="paste-statement">
                <summary>{t!(i18n, settlements.import.paste)}</summary>
                <ActionForm action=import>
                    <label>{t!(i18n, settlements.import.xml)}
                        <textarea name="document" rows="6" required spellcheck="false"></textarea>
                    </label>
                    <button type="submit" disabled=move || import.pending().get()>{t!(i18n, settlements.import.submit)}</button>
                </ActionForm>
            </details>
            {move || import.pending().get().then(|| {
                // The import that moved last is taken as this page's: another one going on at
                // the same time is listed below from the overview.
                let latest = match running.get() {
                    Some(Some(Ok(list))) => list
                        .into_iter()
                        .filter(|p| !p.stalled)
                        .max_by_key(|p| p.progress_at),
                    // Not read yet, or the read failed: the import's own answer will tell.
                    Some(Some(Err(_)) | None) | None => None,
                };
                let label = t_string!(i18n, settlements.import.progress_label);
                view! {
                    <p class="statement-progress" role="status" data-testid="statement-progress">
                        {t!(i18n, settlements.import.importing)}" "
                        {match &latest {
                            Some(p) => view! {
                                <progress max=p.lines_total.max(1).to_string() value=p.lines_done.to_string() aria-label=label></progress>
                            }.into_any(),
                            // Indeterminate until the first step has committed.
                            None => view! { <progress aria-label=label></progress> }.into_any(),
                        }}
                        " "{latest.as_ref().map(import_progress_text)}
                    </p>
                }
            })}
            {move || unreadable.get().map(|error| view! { <ErrorMessage error/> })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let unfinished = match overview.await {
                        Ok(overview) => overview.unfinished_imports,
                        // The overview's own error shows at the top of the page.
                        Err(_) => Vec::new(),
                    };
                    (!unfinished.is_empty()).then(|| view! {
                        <ul class="unfinished-imports" data-testid="unfinished-imports">
                            {unfinished.iter().map(|p| view! {
                                <li class:notice=!p.stalled class:error=p.stalled data-statement-id=p.statement_id.to_string()>
                                    {unfinished_import_text(p)}
                                </li>
                            }).collect_view()}
                        </ul>
                    })
                })}
            </Transition>
            {move || import.value().get().map(|result| match result {
                Ok(outcome) if outcome.duplicate => view! {
                    <p class="notice" role="status" data-statement-id=outcome.statement_id.to_string()>
                        {t_string!(i18n, settlements.import.duplicate, id = outcome.message_id.clone()).to_string()}
                    </p>
                }.into_any(),
                Ok(outcome) => {
                    let lines = t_string!(
                        i18n,
                        settlements.import.lines,
                        count = outcome.lines,
                        lines = count(outcome.lines)
                    )
                    .to_string();
                    let duplicates = if outcome.duplicates > 0 {
                        t_string!(i18n, settlements.import.duplicates, duplicates = count(outcome.duplicates))
                            .to_string()
                    } else {
                        String::new()
                    };
                    view! {
                        <p class="notice success" role="status" data-statement-id=outcome.statement_id.to_string()>
                            {t_string!(
                                i18n,
                                settlements.import.done,
                                id = outcome.message_id.clone(),
                                kind = outcome.kind.clone(),
                                lines = lines,
                                settled = count(outcome.settled),
                                failed = count(outcome.failed),
                                reconcile = count(outcome.needs_reconciliation),
                                unmatched = count(outcome.unmatched),
                                duplicates = duplicates
                            ).to_string()}
                        </p>
                    }.into_any()
                }
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
        </section>
    }
}

/// The file input's change: reads the chosen file in the browser and imports its text (a file
/// that cannot be read says why in the page's language, `i18n`).
fn file_chosen(
    ev: leptos::ev::Event,
    import: ServerAction<ImportBankStatement>,
    unreadable: RwSignal<Option<AppError>>,
    i18n: I18nContext<Locale>,
) {
    #[cfg(feature = "hydrate")]
    browser::read_and_import(&ev, import, unreadable, i18n);
    // Server rendering never runs event handlers.
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, import, unreadable, i18n);
}

/// The browser side of the import: reading the chosen file.
#[cfg(feature = "hydrate")]
mod browser {
    use crate::api::ImportBankStatement;
    use crate::domain::AppError;
    use crate::i18n::{tu_string, Locale};
    use leptos::prelude::*;
    use leptos_i18n::I18nContext;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{Blob, FileReader, FormData, HtmlInputElement};

    /// Reads the file chosen in the input that fired `ev` (through its form's data: the file is
    /// a `Blob`) as text, then dispatches the import with it. A file that cannot be read shows
    /// why in `unreadable`, in the page's language (`i18n`, read untracked: an event handler).
    pub(super) fn read_and_import(
        ev: &leptos::ev::Event,
        import: ServerAction<ImportBankStatement>,
        unreadable: RwSignal<Option<AppError>>,
        i18n: I18nContext<Locale>,
    ) {
        unreadable.set(None);
        let input = event_target::<HtmlInputElement>(ev);
        let problem = move |why: String| {
            leptos::logging::warn!("bank statement file: {why}");
            unreadable.set(Some(AppError::validation("statement_file", why)));
        };
        let Some(form) = input.form() else {
            return problem(tu_string!(i18n, settlements.file_problem.no_form).to_string());
        };
        let file = match FormData::new_with_form(&form) {
            Ok(data) => data.get(&input.name()),
            Err(error) => {
                return problem(
                    tu_string!(
                        i18n,
                        settlements.file_problem.form_unreadable,
                        error = format!("{error:?}")
                    )
                    .to_string(),
                )
            }
        };
        let Ok(blob) = file.dyn_into::<Blob>() else {
            return problem(tu_string!(i18n, settlements.file_problem.no_file).to_string());
        };
        if blob.size() == 0.0 {
            return problem(tu_string!(i18n, settlements.file_problem.empty).to_string());
        }
        let reader = match FileReader::new() {
            Ok(reader) => reader,
            Err(error) => {
                return problem(
                    tu_string!(
                        i18n,
                        settlements.file_problem.no_reader,
                        error = format!("{error:?}")
                    )
                    .to_string(),
                )
            }
        };
        let done = {
            let reader = reader.clone();
            let input = input.clone();
            Closure::once_into_js(move |_event: JsValue| {
                match reader.result().map(|text| text.as_string()) {
                    Ok(Some(document)) => {
                        import.dispatch(ImportBankStatement { document });
                    }
                    Ok(None) => {
                        problem(tu_string!(i18n, settlements.file_problem.not_text).to_string())
                    }
                    Err(error) => problem(
                        tu_string!(
                            i18n,
                            settlements.file_problem.unreadable_retry,
                            error = format!("{error:?}")
                        )
                        .to_string(),
                    ),
                }
                // Choosing the same file again imports it again (and is answered "imported
                // before").
                input.set_value("");
            })
        };
        reader.set_onloadend(Some(done.unchecked_ref()));
        if let Err(error) = reader.read_as_text(&blob) {
            problem(
                tu_string!(
                    i18n,
                    settlements.file_problem.unreadable,
                    error = format!("{error:?}")
                )
                .to_string(),
            );
        }
    }
}

/// Statement lines that matched nothing, each with a Dismiss form.
#[component]
fn UnmatchedLines(
    overview: Resource<Result<SettlementOverview, AppError>>,
    dismiss: ServerAction<DismissStatementLine>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="unmatched" aria-labelledby="unmatched-heading">
            <h2 id="unmatched-heading">{t!(i18n, settlements.unmatched.heading)}</h2>
            <p class="hint">{t!(i18n, settlements.unmatched.hint)}</p>
            {move || dismiss.value().get().map(|result| match result {
                Ok(line) => view! {
                    <p class="notice success" role="status">{t_string!(
                        i18n,
                        settlements.unmatched.dismissed,
                        amount = line_amount(&line),
                        note = line.explanation.clone().unwrap_or_default()
                    ).to_string()}</p>
                }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
            <Transition fallback=move || view! { <p>{t!(i18n, common.loading)}</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) if overview.unmatched_lines.is_empty() => view! {
                            <p class="hint">{t!(i18n, settlements.unmatched.none)}</p>
                        }.into_any(),
                        Ok(overview) => view! {
                            <table class="unmatched-lines">
                                <thead><tr>
                                    <th>{t!(i18n, settlements.unmatched.booked)}</th><th>{t!(i18n, settlements.unmatched.direction)}</th>
                                    <th class="num">{t!(i18n, settlements.unmatched.amount)}</th><th>{t!(i18n, settlements.unmatched.end_to_end_id)}</th>
                                    <th>{t!(i18n, settlements.unmatched.reference)}</th><th>{t!(i18n, settlements.unmatched.why)}</th>
                                    <th>{t!(i18n, settlements.unmatched.dismiss_column)}</th>
                                </tr></thead>
                                <tbody>
                                    {overview.unmatched_lines.into_iter().map(|line| view! { <LineRow line dismiss/> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LineRow(line: StatementLine, dismiss: ServerAction<DismissStatementLine>) -> impl IntoView {
    let i18n = use_i18n();
    let reference = [line.reference.clone(), line.counterparty.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    // Lines imported before the reason was also stored as data show their English text.
    let text = line
        .reconciliation_reason
        .clone()
        .map(reconciliation_reason_text)
        .or_else(|| line.explanation.clone());
    let why = match (text, line.match_state.as_str()) {
        (Some(text), "mismatch") => {
            t_string!(i18n, settlements.unmatched.mismatch, text = text).to_string()
        }
        (Some(text), _) => text,
        (None, state) => match_state_words(state),
    };
    let amount = line_amount(&line);
    view! {
        <tr data-line-id=line.id.to_string() data-match-state=line.match_state.clone()>
            <td>{line.booked_on.map_or_else(|| "—".to_string(), date)}</td>
            <td>{direction_words(&line.direction)}</td>
            <td class="num">{amount.clone()}</td>
            <td>{match line.end_to_end_id.clone() {
                Some(id) => view! { <code>{id}</code> }.into_any(),
                None => view! { "—" }.into_any(),
            }}</td>
            <td>{reference}{line.return_reason.clone().map(|code| t_string!(i18n, settlements.unmatched.return_reason, code = code).to_string())}</td>
            <td class="reason">{why}</td>
            <td>
                <ActionForm action=dismiss attr:class="dismiss-line">
                    <input type="hidden" name="line_id" value=line.id.to_string()/>
                    <label>
                        <span class="visually-hidden">{t_string!(i18n, settlements.unmatched.note_label, amount = amount.clone()).to_string()}</span>
                        <input type="text" name="note" required placeholder=t_string!(i18n, settlements.unmatched.note_placeholder) maxlength="1000"/>
                    </label>
                    <button type="submit" disabled=move || dismiss.pending().get()>{t!(i18n, settlements.unmatched.dismiss)}</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// A studio's paying account and an employee's IBAN; the server says why one is refused.
#[component]
fn BankDetails(studios: OnceResource<Result<Vec<Studio>, AppError>>) -> impl IntoView {
    let studio_account = ServerAction::<SetStudioBankAccount>::new();
    let employee_account = ServerAction::<SetEmployeeBankAccount>::new();
    let employees = OnceResource::new(list_employees());
    let i18n = use_i18n();
    view! {
        <section class="bank-details" aria-labelledby="bank-details-heading">
            <h2 id="bank-details-heading">{t!(i18n, settlements.bank_details.heading)}</h2>
            <h3>{t!(i18n, settlements.bank_details.studio_heading)}</h3>
            <p class="hint">{t!(i18n, settlements.bank_details.studio_hint)}</p>
            <ActionForm action=studio_account attr:class="form-grid bank-account-form studio-account">
                <label>{t!(i18n, settlements.bank_details.studio)}
                    <StudioSelect studios/>
                </label>
                <label>{t!(i18n, settlements.bank_details.studio_iban)}
                    <input type="text" name="iban" required autocomplete="off" spellcheck="false" placeholder="CH93 0076 2011 6238 5295 7"/>
                </label>
                <label>{t!(i18n, settlements.bank_details.holder)}
                    <input type="text" name="holder" maxlength="70" placeholder=t_string!(i18n, settlements.bank_details.holder_placeholder)/>
                </label>
                <button type="submit" disabled=move || studio_account.pending().get()>{t!(i18n, settlements.bank_details.save_studio)}</button>
            </ActionForm>
            {move || studio_account.value().get().map(|result| match result {
                Ok(()) => view! { <p class="notice success" role="status">{t!(i18n, settlements.bank_details.studio_saved)}</p> }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
            <h3>{t!(i18n, settlements.bank_details.employee_heading)}</h3>
            <p class="hint">{t!(i18n, settlements.bank_details.employee_hint)}</p>
            <ActionForm action=employee_account attr:class="form-grid bank-account-form employee-account">
                <label>{t!(i18n, settlements.bank_details.employee)}
                    <select name="employee_id" required>
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                match employees.await {
                                    Ok(list) => list.into_iter().map(|e| view! {
                                        <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                                    }).collect_view().into_any(),
                                    Err(_) => view! { <option value="">{t!(i18n, settlements.bank_details.employees_unavailable)}</option> }.into_any(),
                                }
                            })}
                        </Suspense>
                    </select>
                </label>
                <label>{t!(i18n, settlements.bank_details.employee_iban)}
                    <input type="text" name="iban" required autocomplete="off" spellcheck="false" placeholder="CH.. .... .... .... .... ."/>
                </label>
                <button type="submit" disabled=move || employee_account.pending().get()>{t!(i18n, settlements.bank_details.save_employee)}</button>
            </ActionForm>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    employees.await.err().map(|error| view! { <ErrorMessage error/> })
                })}
            </Suspense>
            {move || employee_account.value().get().map(|result| match result {
                Ok(()) => view! { <p class="notice success" role="status">{t!(i18n, settlements.bank_details.employee_saved)}</p> }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
        </section>
    }
}

/// The settlements page as a lazy route (its own WASM chunk).
pub struct SettlementsRoute;

#[lazy_route]
impl LazyRoute for SettlementsRoute {
    fn data() -> Self {
        SettlementsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <SettlementsPage/> }.into_any()
    }
}
