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
    ActOnSettlementItem, CreateBankFile, DismissStatementLine, ImportBankStatement,
    SetEmployeeBankAccount, SetStudioBankAccount,
};
use crate::components::{chf, idempotency_key_for, utc_minute, ErrorMessage};
use crate::domain::*;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
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
    Some(if item.overdue {
        format!("overdue since {}", item.expected_on)
    } else {
        match item.business_days_left {
            0 => "due today".to_string(),
            1 => "arrives in 1 business day".to_string(),
            n => format!("arrives in {n} business days"),
        }
    })
}

/// "1 transfer", "4 transfers".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
    match direction {
        "debit" => "Debit (money out)".to_string(),
        "credit" => "Credit (money in)".to_string(),
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
    view! {
        <h1>"Settlements"</h1>
        <p>"Bank payouts on their way to the employees: write the bank file for your e-banking, import the bank's statement, and decide what the bank returned. Business days are Swiss bank business days."</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(me)) if me.may(Permission::ReadSettlements) => view! { <Settlements/> }.into_any(),
                    Ok(Some(me)) => {
                        let article = match me.role {
                            Role::Owner | Role::Employee => "an",
                            Role::Receptionist => "a",
                        };
                        let error = AppError::forbidden(format!(
                            "{article} {} may not {}; ask the owner",
                            me.role,
                            Permission::ReadSettlements.describe()
                        ));
                        view! { <ErrorMessage error/> }.into_any()
                    }
                    Ok(None) => {
                        let error = AppError::unauthenticated("sign in first");
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
    view! {
        <ActOutcome act=actions.act/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
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
        <ImportStatement import=actions.import/>
        <UnmatchedLines overview dismiss=actions.dismiss/>
        <BankDetails studios/>
    }
}

/// The outcome of the latest action on an item: its new state, or why it was refused (a 409
/// says how the item is now; the lists below show it so).
#[component]
fn ActOutcome(act: ServerAction<ActOnSettlementItem>) -> impl IntoView {
    move || {
        act.value().get().map(|result| match result {
            Ok(item) => {
                let next = match item.state {
                    SettlementState::Reissued => {
                        " A new transfer is scheduled for the next bank file."
                    }
                    SettlementState::Settled
                    | SettlementState::WrittenOff
                    | SettlementState::Failed
                    | SettlementState::NeedsReconciliation
                    | SettlementState::Scheduled
                    | SettlementState::InTransit => "",
                };
                view! {
                    <p class="notice success" role="status" data-state=item.state.as_str()>
                        {format!(
                            "{}, {}: now {}.{next}",
                            item.counterparty,
                            chf(item.amount),
                            item.state.label().to_lowercase()
                        )}
                    </p>
                }
                .into_any()
            }
            Err(AppError::SettlementConflict {
                code,
                message,
                item,
            }) => {
                let now = format!(
                    "{}, {} is now {} (version {}); the lists below show it as it is now.",
                    item.counterparty,
                    chf(item.amount),
                    item.state.label().to_lowercase(),
                    item.version
                );
                let error = AppError::SettlementConflict {
                    code,
                    message,
                    item,
                };
                view! {
                    <div class="settlement-conflict">
                        <ErrorMessage error/>
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
    let class = if items.is_empty() {
        "settlement-attention"
    } else {
        "settlement-attention has-items"
    };
    view! {
        <section class=class aria-labelledby="attention-heading" data-count=item_count>
            <h2 id="attention-heading">"Needs attention"</h2>
            {if items.is_empty() {
                view! { <p class="hint">"✔ Nothing needs you: no transfer failed or disagrees with the bank."</p> }.into_any()
            } else {
                view! {
                    <p class="attention-summary">
                        <span class="icon" aria-hidden="true">"⛔ "</span>
                        {format!("{} the bank returned, or the statement disagrees with.", count(items.len(), "transfer", "transfers"))}
                        " Nothing is sent again by itself: record what the bank said, then decide."
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
    let reason = item
        .reason
        .clone()
        .unwrap_or_else(|| "no reason recorded".to_string());
    view! {
        <article class="settlement-item" data-item-id=id data-state=state.as_str() aria-label=label.clone()>
            <h3>
                <span class="icon" aria-hidden="true">{icon}</span>
                {label.replacen(", ", " — ", 1)}
            </h3>
            <p>
                <span class=format!("state state-{}", state.as_str())>{state.label()}</span>
                <span class="reason">{format!(": {reason}")}</span>
            </p>
            <p class="facts">
                {format!("{studio} · expected {expected_on} · end-to-end id ")}
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
        .map(|action| (action, item.state.apply(action)))
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
    let note_label = if needs_record {
        "What the bank said"
    } else {
        "Note"
    };
    let hint = match (needs_record, confirm) {
        (true, true) => "Confirming needs a note; recording a failure also needs the bank's reference.",
        (true, false) => "Record the bank's reference (its case or transaction number) and what it told you before deciding.",
        (false, true) => "Confirming by hand needs a note; choose the statement line that shows the money if there is one.",
        (false, false) => "",
    };
    view! {
        {(!allowed.is_empty()).then(|| view! {
            <ActionForm action=act attr:class="settlement-action">
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <input type="hidden" name="item_id" value=item.id.to_string()/>
                <input type="hidden" name="expected_version" value=item.version.to_string()/>
                {(confirm && !lines.is_empty()).then(|| view! {
                    <label>"Statement line that shows it (to confirm)"
                        <select name="line_id">
                            <option value="">"— none —"</option>
                            {lines.into_iter().map(|line| view! {
                                <option value=line.id.to_string()>{format!(
                                    "{} {} on {} · {}",
                                    direction_words(&line.direction),
                                    line_amount(&line),
                                    line.booked_on.map_or_else(|| "an unknown date".to_string(), |d| d.to_string()),
                                    line.end_to_end_id.clone().or_else(|| line.reference.clone()).unwrap_or_else(|| "no reference".to_string()),
                                )}</option>
                            }).collect_view()}
                        </select>
                    </label>
                })}
                {needs_record.then(|| view! {
                    <label>"Bank reference"<span class="required">" (required)"</span>
                        <input type="text" name="bank_reference" aria-required="true" autocomplete="off" maxlength="1000"/>
                    </label>
                })}
                <label>{note_label}<span class="required">" (required)"</span>
                    <textarea name="note" rows="2" aria-required="true" maxlength="1000"></textarea>
                </label>
                <p class="hint">{hint}</p>
                <div class="buttons">
                    {allowed.iter().map(|action| view! {
                        <button type="submit" name="action" value=settlement_action_name(*action)
                            disabled=move || act.pending().get()>{action.label()}</button>
                    }).collect_view()}
                </div>
            </ActionForm>
        })}
        <details class="refused-actions">
            <summary>"Not possible now"</summary>
            <ul>
                {refused.into_iter().filter_map(|(action, outcome)| outcome.err().map(|refusal| view! {
                    <li>{format!("{}: {}", action.label(), refusal.explanation)}</li>
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
    view! {
        <section class="in-transit" aria-labelledby="in-transit-heading">
            <h2 id="in-transit-heading">"In transit"</h2>
            <p class="in-transit-total" data-total=total.0 data-count=items.len()>
                {format!(
                    "{} on their way or waiting for the next bank file: {} in total.",
                    count(items.len(), "transfer", "transfers"),
                    chf(total)
                )}
            </p>
            {(!items.is_empty()).then(|| view! {
                <table class="in-transit">
                    <thead><tr>
                        <th>"Employee / provider"</th><th>"Studio"</th><th class="num">"Amount"</th><th>"State"</th>
                        <th>"Expected"</th><th>"End-to-end id"</th><th>"By hand"</th>
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
                                    <td><span class=format!("state state-{}", state.as_str())>{state.label()}</span></td>
                                    <td>
                                        {expected_on.to_string()}
                                        <br/>
                                        <span class="countdown" class:overdue=overdue>
                                            {overdue.then(|| view! { <span class="icon" aria-hidden="true">"⚠ "</span> })}
                                            {countdown}
                                        </span>
                                    </td>
                                    <td><code>{e2e}</code></td>
                                    <td>
                                        <details class="item-actions">
                                            <summary>"Record by hand"</summary>
                                            <ItemActions item lines=lines.clone() act/>
                                        </details>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                    <tfoot><tr>
                        <th colspan="2">"Total in transit"</th><td class="num">{chf(total)}</td><td colspan="4"></td>
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
    view! {
        <section class="bank-files" aria-labelledby="bank-files-heading">
            <h2 id="bank-files-heading">"Bank files"</h2>
            <p class="hint">"A bank file (pain.001) collects a studio's scheduled bank payouts for your e-banking. Payouts of employees without an IBAN stay scheduled for the next file."</p>
            <ActionForm action=write attr:class="form-grid bank-file-form">
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <label>"Studio"
                    <StudioSelect studios/>
                </label>
                <label>"Execution date (optional)"
                    <input type="date" name="execution_date"/>
                </label>
                <button type="submit" disabled=move || write.pending().get()>"Write bank file"</button>
            </ActionForm>
            <p class="hint">"Without a date the bank executes it on the next bank business day."</p>
            {move || write.value().get().map(|result| match result {
                Ok(file) => view! { <BankFileResult file/> }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
            <h3>"Written so far"</h3>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
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
    view! {
        <select name="studio_id" required>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match studios.await {
                        Ok(list) => list.into_iter().map(|s| view! {
                            <option value=s.id.to_string()>{s.name}</option>
                        }).collect_view().into_any(),
                        // The error itself shows above the page's lists (the same resource).
                        Err(_) => view! { <option value="">"— the studios could not be loaded —"</option> }.into_any(),
                    }
                })}
            </Suspense>
        </select>
    }
}

#[component]
fn BankFileResult(file: BankFile) -> impl IntoView {
    let skipped = file.skipped;
    view! {
        <div class="notice success bank-file-result" role="status" data-batch-id=file.batch.id.to_string()>
            <p>{format!(
                "Bank file {} written: {}, {}, executed on {}.",
                file.batch.reference,
                count(file.items.len(), "transfer", "transfers"),
                chf(file.batch.total),
                file.batch.expected_on
            )}</p>
            <p><a href=file.download_url download>"Download the bank file (pain.001)"</a></p>
            {(!skipped.is_empty()).then(|| view! {
                <p class="skipped-heading">"Left out, still scheduled for the next file:"</p>
                <ul class="skipped">
                    {skipped.into_iter().map(|why| view! { <li>{why}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
}

#[component]
fn BatchTable(batches: Vec<SettlementBatch>, studios: Vec<Studio>) -> impl IntoView {
    if batches.is_empty() {
        return view! { <p class="hint">"No bank file yet."</p> }.into_any();
    }
    view! {
        <table class="bank-files">
            <thead><tr>
                <th>"Created"</th><th>"Studio"</th><th>"Reference"</th><th>"State"</th>
                <th class="num">"Transfers"</th><th class="num">"Total"</th><th>"Executed / expected"</th><th>"File"</th>
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
                            <td><span class=format!("state state-{}", batch.state.as_str())>{batch.state.label()}</span></td>
                            <td class="num">{batch.item_count}</td>
                            <td class="num">{chf(batch.total)}</td>
                            <td>{batch.expected_on.to_string()}</td>
                            <td>{match download {
                                Some(href) => view! {
                                    <a href=href download aria-label=format!("Download {reference}")>"Download"</a>
                                }.into_any(),
                                None => view! { <span class="hint">"card settlement"</span> }.into_any(),
                            }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The statement import: a file read in the browser and sent as text, or the XML pasted (the
/// way that also works without JavaScript).
#[component]
fn ImportStatement(import: ServerAction<ImportBankStatement>) -> impl IntoView {
    // Why the chosen file could not be read (the browser's side; the server's refusals are in
    // the action's value).
    let unreadable = RwSignal::new(None::<AppError>);
    view! {
        <section class="statement-import" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import bank statement"</h2>
            <p class="hint">"The camt.053 statement (or camt.054 notification) of a studio's account, as your e-banking exports it. Transfers it shows settle, returned ones fail, other amounts need reconciliation. Importing the same file again changes nothing."</p>
            <form class="statement-file" on:submit=|ev| ev.prevent_default()>
                <label>"Bank statement file (camt.053 / camt.054 XML)"
                    <input type="file" name="statement_file" accept=".xml,application/xml,text/xml"
                        disabled=move || import.pending().get()
                        on:change=move |ev| file_chosen(ev, import, unreadable)/>
                </label>
            </form>
            <details class="paste-statement">
                <summary>"Or paste the statement's XML"</summary>
                <ActionForm action=import>
                    <label>"Statement XML"
                        <textarea name="document" rows="6" required spellcheck="false"></textarea>
                    </label>
                    <button type="submit" disabled=move || import.pending().get()>"Import statement"</button>
                </ActionForm>
            </details>
            {move || import.pending().get().then(|| view! { <p class="hint" role="status">"Importing the statement…"</p> })}
            {move || unreadable.get().map(|error| view! { <ErrorMessage error/> })}
            {move || import.value().get().map(|result| match result {
                Ok(outcome) if outcome.duplicate => view! {
                    <p class="notice" role="status" data-statement-id=outcome.statement_id.to_string()>
                        {format!("Statement {}: this file was imported before: nothing changed.", outcome.message_id)}
                    </p>
                }.into_any(),
                Ok(outcome) => view! {
                    <p class="notice success" role="status" data-statement-id=outcome.statement_id.to_string()>
                        {format!(
                            "Statement {} ({}) imported, {}: {} settled, {} failed, {} needs reconciliation, {} unmatched{}.",
                            outcome.message_id,
                            outcome.kind,
                            if outcome.lines == 1 { "1 line".to_string() } else { format!("{} lines", outcome.lines) },
                            outcome.settled,
                            outcome.failed,
                            outcome.needs_reconciliation,
                            outcome.unmatched,
                            if outcome.duplicates > 0 {
                                format!(", {} already matched by an earlier statement", outcome.duplicates)
                            } else {
                                String::new()
                            }
                        )}
                    </p>
                }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
        </section>
    }
}

/// The file input's change: reads the chosen file in the browser and imports its text.
fn file_chosen(
    ev: leptos::ev::Event,
    import: ServerAction<ImportBankStatement>,
    unreadable: RwSignal<Option<AppError>>,
) {
    #[cfg(feature = "hydrate")]
    browser::read_and_import(&ev, import, unreadable);
    // Server rendering never runs event handlers.
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, import, unreadable);
}

/// The browser side of the import: reading the chosen file.
#[cfg(feature = "hydrate")]
mod browser {
    use crate::api::ImportBankStatement;
    use crate::domain::AppError;
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{Blob, FileReader, FormData, HtmlInputElement};

    /// Reads the file chosen in the input that fired `ev` (through its form's data: the file is
    /// a `Blob`) as text, then dispatches the import with it. A file that cannot be read shows
    /// why in `unreadable`.
    pub(super) fn read_and_import(
        ev: &leptos::ev::Event,
        import: ServerAction<ImportBankStatement>,
        unreadable: RwSignal<Option<AppError>>,
    ) {
        unreadable.set(None);
        let input = event_target::<HtmlInputElement>(ev);
        let problem = move |why: String| {
            leptos::logging::warn!("bank statement file: {why}");
            unreadable.set(Some(AppError::validation("statement_file", why)));
        };
        let Some(form) = input.form() else {
            return problem("the file input has no form; paste the XML instead".into());
        };
        let file = match FormData::new_with_form(&form) {
            Ok(data) => data.get(&input.name()),
            Err(error) => {
                return problem(format!(
                    "the browser cannot read the form ({error:?}); paste the XML instead"
                ))
            }
        };
        let Ok(blob) = file.dyn_into::<Blob>() else {
            return problem("no file chosen".into());
        };
        if blob.size() == 0.0 {
            return problem("no file chosen, or the file is empty".into());
        }
        let reader = match FileReader::new() {
            Ok(reader) => reader,
            Err(error) => {
                return problem(format!(
                    "this browser cannot read files ({error:?}); paste the XML instead"
                ))
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
                    Ok(None) => problem(
                        "the file is not text; choose the camt XML file or paste it".into(),
                    ),
                    Err(error) => problem(format!(
                        "the browser could not read the file ({error:?}); choose it again or paste the XML"
                    )),
                }
                // Choosing the same file again imports it again (and is answered "imported
                // before").
                input.set_value("");
            })
        };
        reader.set_onloadend(Some(done.unchecked_ref()));
        if let Err(error) = reader.read_as_text(&blob) {
            problem(format!("the browser could not read the file ({error:?})"));
        }
    }
}

/// Statement lines that matched nothing, each with a Dismiss form.
#[component]
fn UnmatchedLines(
    overview: Resource<Result<SettlementOverview, AppError>>,
    dismiss: ServerAction<DismissStatementLine>,
) -> impl IntoView {
    view! {
        <section class="unmatched" aria-labelledby="unmatched-heading">
            <h2 id="unmatched-heading">"Unmatched statement lines"</h2>
            <p class="hint">"Lines of imported statements that matched no transfer. Match one by confirming its transfer above (choose the line), or dismiss it with a note when it is not a settlement (rent, bank fees)."</p>
            {move || dismiss.value().get().map(|result| match result {
                Ok(line) => view! {
                    <p class="notice success" role="status">{format!(
                        "Line of {} dismissed: {}",
                        line_amount(&line),
                        line.explanation.unwrap_or_default()
                    )}</p>
                }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) if overview.unmatched_lines.is_empty() => view! {
                            <p class="hint">"None: every imported line matched."</p>
                        }.into_any(),
                        Ok(overview) => view! {
                            <table class="unmatched-lines">
                                <thead><tr>
                                    <th>"Booked"</th><th>"Direction"</th><th class="num">"Amount"</th><th>"End-to-end id"</th>
                                    <th>"Reference"</th><th>"Why unmatched"</th><th>"Dismiss"</th>
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
    let reference = [line.reference.clone(), line.counterparty.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let why = match (line.explanation.clone(), line.match_state.as_str()) {
        (Some(text), "mismatch") => format!("does not match its transfer: {text}"),
        (Some(text), _) => text,
        (None, state) => state.to_string(),
    };
    let amount = line_amount(&line);
    view! {
        <tr data-line-id=line.id.to_string() data-match-state=line.match_state.clone()>
            <td>{line.booked_on.map_or_else(|| "—".to_string(), |d| d.to_string())}</td>
            <td>{direction_words(&line.direction)}</td>
            <td class="num">{amount.clone()}</td>
            <td>{match line.end_to_end_id.clone() {
                Some(id) => view! { <code>{id}</code> }.into_any(),
                None => view! { "—" }.into_any(),
            }}</td>
            <td>{reference}{line.return_reason.clone().map(|code| format!(" · return reason {code}"))}</td>
            <td class="reason">{why}</td>
            <td>
                <ActionForm action=dismiss attr:class="dismiss-line">
                    <input type="hidden" name="line_id" value=line.id.to_string()/>
                    <label>
                        <span class="visually-hidden">{format!("Why the line of {amount} is not a settlement")}</span>
                        <input type="text" name="note" required placeholder="why it is not a settlement" maxlength="1000"/>
                    </label>
                    <button type="submit" disabled=move || dismiss.pending().get()>"Dismiss"</button>
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
    view! {
        <section class="bank-details" aria-labelledby="bank-details-heading">
            <h2 id="bank-details-heading">"Bank details"</h2>
            <h3>"A studio's account"</h3>
            <p class="hint">"The account the studio's bank files pay from (a regular IBAN, not a QR-IBAN)."</p>
            <ActionForm action=studio_account attr:class="form-grid bank-account-form studio-account">
                <label>"Studio"
                    <StudioSelect studios/>
                </label>
                <label>"Studio IBAN"
                    <input type="text" name="iban" required autocomplete="off" spellcheck="false" placeholder="CH93 0076 2011 6238 5295 7"/>
                </label>
                <label>"Account holder (optional)"
                    <input type="text" name="holder" maxlength="70" placeholder="the studio's name"/>
                </label>
                <button type="submit" disabled=move || studio_account.pending().get()>"Save studio account"</button>
            </ActionForm>
            {move || studio_account.value().get().map(|result| match result {
                Ok(()) => view! { <p class="notice success" role="status">"The studio's account is saved: the next bank file pays from it."</p> }.into_any(),
                Err(error) => view! { <ErrorMessage error/> }.into_any(),
            })}
            <h3>"An employee's account"</h3>
            <p class="hint">"Where the employee's bank payouts go. Their scheduled payouts go into the next bank file."</p>
            <ActionForm action=employee_account attr:class="form-grid bank-account-form employee-account">
                <label>"Employee"
                    <select name="employee_id" required>
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                match employees.await {
                                    Ok(list) => list.into_iter().map(|e| view! {
                                        <option value=e.id.to_string()>{format!("{} ({})", e.name, e.studio_name)}</option>
                                    }).collect_view().into_any(),
                                    Err(_) => view! { <option value="">"— the employees could not be loaded —"</option> }.into_any(),
                                }
                            })}
                        </Suspense>
                    </select>
                </label>
                <label>"Employee IBAN"
                    <input type="text" name="iban" required autocomplete="off" spellcheck="false" placeholder="CH.. .... .... .... .... ."/>
                </label>
                <button type="submit" disabled=move || employee_account.pending().get()>"Save employee account"</button>
            </ActionForm>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    employees.await.err().map(|error| view! { <ErrorMessage error/> })
                })}
            </Suspense>
            {move || employee_account.value().get().map(|result| match result {
                Ok(()) => view! { <p class="notice success" role="status">"The employee's IBAN is saved: their scheduled payouts go into the next bank file."</p> }.into_any(),
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
