//! Reusable UI pieces: the idempotency key every mutating form carries, the red banner of payouts
//! needing attention with its Finish payout button, error and money display.

use crate::api::{payouts_needing_attention, settlements_needing_attention, FinishPayout};
use crate::domain::locale::{
    format_chf, format_count, format_date, format_percent, format_utc_minute,
};
use crate::domain::*;
use crate::i18n::{t, t_string, use_i18n, Locale};
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

/// Shows an error in words a receptionist understands, with the field it concerns. `text`
/// replaces the words for an error a page can word better than this (a refusal whose reasons
/// only that page knows, e.g. a payment's money rules).
#[component]
pub fn ErrorMessage(
    error: AppError,
    #[prop(default = None)] text: Option<String>,
) -> impl IntoView {
    let field = error.field().map(|f| {
        let label = field_label(f);
        format!(
            "{} ",
            t_string!(use_i18n(), problem.about_field, field = label)
        )
    });
    view! {
        <p class="error" role="alert" data-code=error.code().to_string() title=failure_detail(&error)>
            <span class="icon" aria-hidden="true">"⚠ "</span>
            {field}
            {text.unwrap_or_else(|| error_text(&error))}
            {(error.code() == "unauthenticated").then(|| view! { " " <a href="/login">{t!(use_i18n(), common.error.sign_in)}</a> })}
        </p>
    }
}

/// What failed, in the server's words, for a failure whose shown text only says what to do
/// (kept in the message's `title` for whoever reports it); `None` for refusals, which say it all.
fn failure_detail(error: &AppError) -> Option<String> {
    match error {
        AppError::Unavailable { .. }
        | AppError::Internal { .. }
        | AppError::Transport { .. }
        | AppError::NotFound { .. } => Some(error.to_string()),
        AppError::Validation { .. }
        | AppError::BadRequest { .. }
        | AppError::Denied { .. }
        | AppError::Conflict { .. }
        | AppError::Unprocessable { .. }
        | AppError::IllegalTransition(_)
        | AppError::PayoutFailed { .. }
        | AppError::PaymentConflict { .. }
        | AppError::SettlementConflict { .. } => None,
    }
}

/// An error's words for the person: what is wrong with a field (the field is shown before it),
/// a refusal or a payout state machine's refusal in the page's language where the server sent it
/// as data, else the error's (English) message.
fn error_text(error: &AppError) -> String {
    match error {
        AppError::Validation {
            problem: Some(problem),
            ..
        } => field_problem_text(problem),
        AppError::Validation { message, .. } => message.clone(),
        AppError::Conflict {
            problem: Some(problem),
            ..
        }
        | AppError::Unprocessable {
            problem: Some(problem),
            ..
        }
        | AppError::Denied {
            problem: Some(problem),
            ..
        } => problem_text(problem),
        AppError::IllegalTransition(refusal) => payout_refusal_text(refusal.reason).to_string(),
        // What failed matters to whoever runs the server (it is in the log, and in the
        // message's `title`); the person at the desk needs what to do next.
        AppError::Denied { code, .. } if code == "unauthenticated" => {
            t_string!(use_i18n(), problem.failed.unauthenticated).to_string()
        }
        AppError::Unavailable { .. } => {
            t_string!(use_i18n(), problem.failed.unavailable).to_string()
        }
        // Someone else acted on the payment or transfer first; the page shows it as it is now.
        AppError::PaymentConflict { code, .. } if code == "stale_version" => {
            t_string!(use_i18n(), problem.refused.payment_changed).to_string()
        }
        AppError::SettlementConflict { code, .. } if code == "stale_version" => {
            t_string!(use_i18n(), problem.refused.settlement_item_changed).to_string()
        }
        AppError::Internal { .. } => t_string!(use_i18n(), problem.failed.internal).to_string(),
        AppError::Transport { .. } => t_string!(use_i18n(), problem.failed.transport).to_string(),
        // Which id was not found says nothing to the person (it is in the `title`); that it is
        // gone or not theirs to see does.
        AppError::NotFound { .. } => t_string!(use_i18n(), problem.failed.not_found).to_string(),
        AppError::BadRequest { .. }
        | AppError::Denied { .. }
        | AppError::Conflict { problem: None, .. }
        | AppError::Unprocessable { problem: None, .. }
        | AppError::PayoutFailed { .. }
        | AppError::PaymentConflict { .. }
        | AppError::SettlementConflict { .. } => error.to_string(),
    }
}

/// An input's name as the request spells it (`guaranteed_minimum`), in the page's language as
/// the forms label it; a name no form sends (only the JSON API does) is shown spaced, as it is.
fn field_label(field: &str) -> String {
    let i18n = use_i18n();
    let label = match field {
        "amount" => t_string!(i18n, problem.field.amount),
        "currency" => t_string!(i18n, problem.field.currency),
        "deduction" => t_string!(i18n, problem.field.deduction),
        "description" => t_string!(i18n, problem.field.description),
        "event_types" => t_string!(i18n, problem.field.event_types),
        "retry_schedule_secs" => t_string!(i18n, problem.field.retry_schedule_secs),
        "timeout_secs" => t_string!(i18n, problem.field.timeout_secs),
        "types" => t_string!(i18n, problem.field.types),
        "url" => t_string!(i18n, problem.field.url),
        "email" => t_string!(i18n, problem.field.email),
        "name" => t_string!(i18n, problem.field.name),
        "password" => t_string!(i18n, problem.field.password),
        "role" => t_string!(i18n, problem.field.role),
        "scopes" => t_string!(i18n, problem.field.scopes),
        "user_id" => t_string!(i18n, problem.field.user_id),
        "denominations" => t_string!(i18n, problem.field.denominations),
        "bank_reference" => t_string!(i18n, problem.field.bank_reference),
        "employee_id" => t_string!(i18n, problem.field.employee_id),
        "execution_date" => t_string!(i18n, problem.field.execution_date),
        "holder" => t_string!(i18n, problem.field.holder),
        "iban" => t_string!(i18n, problem.field.iban),
        "line_id" => t_string!(i18n, problem.field.line_id),
        "from" => t_string!(i18n, problem.field.from),
        "method" => t_string!(i18n, problem.field.method),
        "period_end" => t_string!(i18n, problem.field.period_end),
        "period_start" => t_string!(i18n, problem.field.period_start),
        "to" => t_string!(i18n, problem.field.to),
        "guaranteed_minimum" => t_string!(i18n, problem.field.guaranteed_minimum),
        "note" => t_string!(i18n, problem.field.note),
        "opening_float" => t_string!(i18n, problem.field.opening_float),
        "payment_method" => t_string!(i18n, problem.field.payment_method),
        "performed_on" => t_string!(i18n, problem.field.performed_on),
        "price" => t_string!(i18n, problem.field.price),
        "reason" => t_string!(i18n, problem.field.reason),
        "service_id" => t_string!(i18n, problem.field.service_id),
        "studio_id" => t_string!(i18n, problem.field.studio_id),
        "tip" => t_string!(i18n, problem.field.tip),
        "variance_reason" => t_string!(i18n, problem.field.variance_reason),
        "worked_on" => t_string!(i18n, problem.field.worked_on),
        other => return other.replace('_', " "),
    };
    label.to_string()
}

/// What is wrong with an input, in the page's language, to be read after the field's label
/// ([`ErrorMessage`]): "darf nicht negativ sein".
fn field_problem_text(problem: &FieldProblem) -> String {
    use FieldProblem as P;
    let i18n = use_i18n();
    match problem {
        P::AmountMissing => t_string!(i18n, problem.invalid.amount_missing).to_string(),
        P::NotAnAmount { text } => {
            t_string!(i18n, problem.invalid.not_an_amount, text = text).to_string()
        }
        P::TooManyDecimals { text } => {
            t_string!(i18n, problem.invalid.too_many_decimals, text = text).to_string()
        }
        P::TooLarge { text } => t_string!(i18n, problem.invalid.too_large, text = text).to_string(),
        P::NotADate { text } => {
            t_string!(i18n, problem.invalid.not_a_date, text = text).to_string()
        }
        P::NotACount { text } => {
            t_string!(i18n, problem.invalid.not_a_count, text = text).to_string()
        }
        P::InFuture { date: day, today } => t_string!(
            i18n,
            problem.invalid.in_future,
            date = date(*day),
            today = date(*today)
        )
        .to_string(),
        P::TooFarInPast { date: day } => {
            t_string!(i18n, problem.invalid.too_far_in_past, date = date(*day)).to_string()
        }
        P::EndsBeforeStart { start, end } => t_string!(
            i18n,
            problem.invalid.ends_before_start,
            start = date(*start),
            end = date(*end)
        )
        .to_string(),
        P::PeriodTooLong { days, max_days } => t_string!(
            i18n,
            problem.invalid.period_too_long,
            days = count(*days),
            max = count(*max_days)
        )
        .to_string(),
        P::Negative => t_string!(i18n, problem.invalid.negative).to_string(),
        P::NotPositive => {
            t_string!(i18n, problem.invalid.not_positive, zero = chf(Rappen(0))).to_string()
        }
        P::OverLimit { limit } => {
            t_string!(i18n, problem.invalid.over_limit, limit = chf(*limit)).to_string()
        }
        P::OverServiceLimit { limit } => t_string!(
            i18n,
            problem.invalid.over_service_limit,
            limit = chf(*limit)
        )
        .to_string(),
        P::UnsupportedCurrency { currency } => t_string!(
            i18n,
            problem.invalid.unsupported_currency,
            currency = currency
        )
        .to_string(),
        P::UnknownPaymentMethod { text } => {
            t_string!(i18n, problem.invalid.unknown_payment_method, text = text).to_string()
        }
        P::UnknownEmployee { .. } => t_string!(i18n, problem.invalid.unknown_employee).to_string(),
        P::EmployeeLeft => t_string!(i18n, problem.invalid.employee_left).to_string(),
        P::UnknownService { .. } => t_string!(i18n, problem.invalid.unknown_service).to_string(),
        P::ServiceOfAnotherStudio => {
            t_string!(i18n, problem.invalid.service_of_another_studio).to_string()
        }
        P::ServiceRetired => t_string!(i18n, problem.invalid.service_retired).to_string(),
        P::UnknownStudio { .. } => t_string!(i18n, problem.invalid.unknown_studio).to_string(),
        P::ReasonRequired => t_string!(i18n, problem.invalid.reason_required).to_string(),
        P::TooLong { max_chars } => t_string!(
            i18n,
            problem.invalid.too_long,
            max = count(i64::try_from(*max_chars).unwrap_or(i64::MAX))
        )
        .to_string(),
        P::UnknownDenomination { key } => {
            t_string!(i18n, problem.invalid.unknown_denomination, key = key).to_string()
        }
        P::CountOutOfRange { denomination, .. } => t_string!(
            i18n,
            problem.invalid.count_out_of_range,
            denomination = chf(*denomination),
            max = count(100_000)
        )
        .to_string(),
        P::OverTillCash { holds, amount } => t_string!(
            i18n,
            problem.invalid.over_till_cash,
            holds = chf(*holds),
            amount = chf(*amount)
        )
        .to_string(),
        P::RefundOverTillCash { holds, amount } => t_string!(
            i18n,
            problem.invalid.refund_over_till_cash,
            holds = chf(*holds),
            amount = chf(*amount)
        )
        .to_string(),
        P::BankReferenceRequired => {
            t_string!(i18n, problem.invalid.bank_reference_required).to_string()
        }
        P::DecisionNoteRequired => {
            t_string!(i18n, problem.invalid.decision_note_required).to_string()
        }
        P::ExecutionDateInPast { date: day, today } => t_string!(
            i18n,
            problem.invalid.execution_date_in_past,
            date = date(*day),
            today = date(*today)
        )
        .to_string(),
        P::NotABusinessDay { date: day, next } => t_string!(
            i18n,
            problem.invalid.not_a_business_day,
            date = date(*day),
            next = date(*next)
        )
        .to_string(),
        P::InvalidIban { error } => iban_problem_text(error),
        P::QrIbanCannotPay => t_string!(i18n, problem.invalid.qr_iban_cannot_pay).to_string(),
        P::LineMatchedOnlyByConfirming => {
            t_string!(i18n, problem.invalid.line_matched_only_by_confirming).to_string()
        }
        P::LineOfAnotherStudio => {
            t_string!(i18n, problem.invalid.line_of_another_studio).to_string()
        }
        P::LineAlreadyHandled { .. } => {
            t_string!(i18n, problem.invalid.line_already_handled).to_string()
        }
        P::NotAnEmail { text } => {
            t_string!(i18n, problem.invalid.not_an_email, text = text).to_string()
        }
        P::PersonNameRequired => t_string!(i18n, problem.invalid.person_name_required).to_string(),
        P::KeyNameLength { max_chars } => {
            t_string!(i18n, problem.invalid.key_name_length, max = *max_chars).to_string()
        }
        P::PasswordTooShort { min_chars } => {
            t_string!(i18n, problem.invalid.password_too_short, min = *min_chars).to_string()
        }
        P::ReceptionistNeedsStudio => {
            t_string!(i18n, problem.invalid.receptionist_needs_studio).to_string()
        }
        P::ReceptionistKeyNeedsStudio => {
            t_string!(i18n, problem.invalid.receptionist_key_needs_studio).to_string()
        }
        P::OwnerKeyCoversAllStudios => {
            t_string!(i18n, problem.invalid.owner_key_covers_all_studios).to_string()
        }
        P::KeyForEmployee => t_string!(i18n, problem.invalid.key_for_employee).to_string(),
        P::EmployeeAccountNeedsEmployee => {
            t_string!(i18n, problem.invalid.employee_account_needs_employee).to_string()
        }
        P::ScopeBeyondRole { role, scope } => t_string!(
            i18n,
            problem.invalid.scope_beyond_role,
            role = role_label(*role),
            scope = scope.to_string()
        )
        .to_string(),
        P::EmailTaken { email } => {
            t_string!(i18n, problem.invalid.email_taken, email = email).to_string()
        }
        P::CannotDeactivateSelf => {
            t_string!(i18n, problem.invalid.cannot_deactivate_self).to_string()
        }
        P::UrlTooLong { max_chars } => t_string!(
            i18n,
            problem.invalid.url_too_long,
            max = count(*max_chars as i64)
        )
        .to_string(),
        P::NotAUrl { text, .. } => {
            t_string!(i18n, problem.invalid.not_a_url, text = text).to_string()
        }
        P::UrlScheme => t_string!(i18n, problem.invalid.url_scheme).to_string(),
        P::UrlWithCredentials => t_string!(i18n, problem.invalid.url_with_credentials).to_string(),
        P::UrlWithoutHost => t_string!(i18n, problem.invalid.url_without_host).to_string(),
        P::DestinationNotAllowed { ip, class } => {
            let class = match class {
                AddressClass::NotUnicast => {
                    return t_string!(i18n, problem.invalid.destination_not_unicast, ip = ip)
                        .to_string()
                }
                AddressClass::Loopback => t_string!(i18n, problem.address_class.loopback),
                AddressClass::Private => t_string!(i18n, problem.address_class.private),
                AddressClass::LinkLocal => t_string!(i18n, problem.address_class.link_local),
            };
            t_string!(
                i18n,
                problem.invalid.destination_not_allowed,
                ip = ip,
                class = class
            )
            .to_string()
        }
        P::UnknownEventType { entry } => {
            t_string!(i18n, problem.invalid.unknown_event_type, entry = entry).to_string()
        }
        P::TooManyRetries { max } => {
            t_string!(i18n, problem.invalid.too_many_retries, max = *max).to_string()
        }
        P::RetryDelayOutOfRange { delay, max_secs } => t_string!(
            i18n,
            problem.invalid.retry_delay_out_of_range,
            delay = count(i64::from(*delay)),
            max = count(i64::from(*max_secs))
        )
        .to_string(),
        P::TimeoutOutOfRange { max_secs } => {
            t_string!(i18n, problem.invalid.timeout_out_of_range, max = *max_secs).to_string()
        }
        P::VarianceUnexplained { counted, expected } => {
            let over = counted.0 > expected.0;
            let variance = chf(Rappen((counted.0 - expected.0).abs()));
            let (counted, expected) = (chf(*counted), chf(*expected));
            if over {
                t_string!(
                    i18n,
                    problem.invalid.variance_over,
                    counted = counted,
                    expected = expected,
                    variance = variance
                )
                .to_string()
            } else {
                t_string!(
                    i18n,
                    problem.invalid.variance_short,
                    counted = counted,
                    expected = expected,
                    variance = variance
                )
                .to_string()
            }
        }
    }
}

/// A payout a bank file left out, and why, in the page's language: "Lara Meier: no IBAN on
/// file; add it under Settlements".
pub fn skipped_payout_text(skipped: &SkippedPayout) -> String {
    let i18n = use_i18n();
    match &skipped.iban_error {
        None => t_string!(
            i18n,
            problem.refused.skipped_without_iban,
            name = skipped.employee_name.clone()
        )
        .to_string(),
        Some(error) => t_string!(
            i18n,
            problem.refused.skipped_invalid_iban,
            name = skipped.employee_name.clone(),
            detail = iban_problem_text(error)
        )
        .to_string(),
    }
}

/// Why a text is not an acceptable IBAN, in the page's language.
fn iban_problem_text(error: &IbanError) -> String {
    let i18n = use_i18n();
    match error {
        IbanError::Empty => t_string!(i18n, problem.iban.empty).to_string(),
        IbanError::Format => t_string!(i18n, problem.iban.format).to_string(),
        IbanError::Length {
            country,
            expected,
            actual,
        } => t_string!(
            i18n,
            problem.iban.length,
            country = country,
            expected = expected,
            actual = actual
        )
        .to_string(),
        IbanError::Checksum => t_string!(i18n, problem.iban.checksum).to_string(),
        IbanError::CountryFormat { country } => {
            t_string!(i18n, problem.iban.country_format, country = country).to_string()
        }
        IbanError::UnknownCountry { country } => {
            t_string!(i18n, problem.iban.unknown_country, country = country).to_string()
        }
        IbanError::QrIban => t_string!(i18n, problem.iban.qr_iban).to_string(),
    }
}

/// A refusal of the whole request, in the page's language: "Die Kasse des Studios ist nicht
/// geöffnet: zuerst die Kasse öffnen."
fn problem_text(problem: &Problem) -> String {
    use Problem as P;
    let i18n = use_i18n();
    match problem {
        P::TillNotOpen {
            cash_for: CashUse::Till,
        } => t_string!(i18n, problem.refused.till_not_open).to_string(),
        P::TillNotOpen {
            cash_for: CashUse::Refund,
        } => t_string!(i18n, problem.refused.refund_needs_till).to_string(),
        P::TillNotOpen {
            cash_for: CashUse::Payout,
        } => t_string!(i18n, problem.refused.payout_needs_till).to_string(),
        P::TillAlreadyOpen {
            studio_name,
            opened_on,
        } => t_string!(
            i18n,
            problem.refused.till_already_open,
            studio = studio_name,
            date = date(*opened_on)
        )
        .to_string(),
        P::TillAlreadyClosed { studio_name } => t_string!(
            i18n,
            problem.refused.till_already_closed,
            studio = studio_name
        )
        .to_string(),
        P::DayAlreadyRecorded { worked_on } => t_string!(
            i18n,
            problem.refused.day_already_recorded,
            date = date(*worked_on)
        )
        .to_string(),
        P::AlreadyRefunded { on } => {
            t_string!(i18n, problem.refused.already_refunded, date = date(*on)).to_string()
        }
        P::RefundHeldByPayout => t_string!(i18n, problem.refused.refund_held_by_payout).to_string(),
        P::NoUnpaidRecords {
            employee_name,
            start,
            end,
        } => t_string!(
            i18n,
            problem.refused.no_unpaid_records,
            employee = employee_name,
            start = date(*start),
            end = date(*end)
        )
        .to_string(),
        P::DeductionsExceedEarnings {
            employee_name,
            start,
            end,
            total,
        } => t_string!(
            i18n,
            problem.refused.deductions_exceed_earnings,
            employee = employee_name,
            start = date(*start),
            end = date(*end),
            total = chf(*total)
        )
        .to_string(),
        P::TillInsufficientCash {
            holds,
            employee_name,
            total,
        } => t_string!(
            i18n,
            problem.refused.till_insufficient_cash,
            holds = chf(*holds),
            employee = employee_name,
            total = chf(*total)
        )
        .to_string(),
        P::PayoutInProgress {
            employee_name,
            open: Some((_, state)),
        } => t_string!(
            i18n,
            problem.refused.payout_in_progress_state,
            employee = employee_name,
            state = payout_state_label(*state)
        )
        .to_string(),
        P::PayoutInProgress {
            employee_name,
            open: None,
        } => t_string!(
            i18n,
            problem.refused.payout_in_progress,
            employee = employee_name
        )
        .to_string(),
        P::PayoutChanged => t_string!(i18n, problem.refused.payout_changed).to_string(),
        P::IdempotencyKeyReused => {
            t_string!(i18n, problem.refused.idempotency_key_reused).to_string()
        }
        P::IdempotencyKeyInFlight => {
            t_string!(i18n, problem.refused.idempotency_key_in_flight).to_string()
        }
        P::AlreadyReturned => t_string!(i18n, problem.refused.already_returned).to_string(),
        P::NoBankAccount { studio_name } => {
            t_string!(i18n, problem.refused.no_bank_account, studio = studio_name).to_string()
        }
        P::StudioIbanInvalid { error } => t_string!(
            i18n,
            problem.refused.studio_iban_invalid,
            detail = iban_problem_text(error)
        )
        .to_string(),
        P::NothingToSend { skipped } if skipped.is_empty() => {
            t_string!(i18n, problem.refused.nothing_waiting_to_send).to_string()
        }
        P::NothingToSend { skipped } => t_string!(
            i18n,
            problem.refused.nothing_to_send,
            skipped = skipped
                .iter()
                .map(skipped_payout_text)
                .collect::<Vec<_>>()
                .join("; ")
        )
        .to_string(),
        P::BankFileConflict => t_string!(i18n, problem.refused.bank_file_conflict).to_string(),
        P::InvalidStatement { detail } => {
            t_string!(i18n, problem.refused.invalid_statement, detail = detail).to_string()
        }
        P::StatementTooLarge { max_mib } => {
            t_string!(i18n, problem.refused.statement_too_large, max = max_mib).to_string()
        }
        P::StatementWithoutAccount => {
            t_string!(i18n, problem.refused.statement_without_account).to_string()
        }
        P::UnknownStatementAccount { account } => t_string!(
            i18n,
            problem.refused.unknown_statement_account,
            account = account
        )
        .to_string(),
        P::EndpointDisabled {
            action: EndpointAction::SendTest,
        } => t_string!(i18n, problem.refused.endpoint_disabled_test).to_string(),
        P::EndpointDisabled {
            action: EndpointAction::Resend,
        } => t_string!(i18n, problem.refused.endpoint_disabled_resend).to_string(),
        P::EndpointDisabled {
            action: EndpointAction::Redrive,
        } => t_string!(i18n, problem.refused.endpoint_disabled_redrive).to_string(),
        P::EndpointVersionConflict { .. } => {
            t_string!(i18n, problem.refused.endpoint_version_conflict).to_string()
        }
        P::InvalidCredentials => t_string!(i18n, problem.refused.invalid_credentials).to_string(),
        P::TooManySignInAttempts {
            limit: SignInLimit::ThisComputer,
            seconds,
        } => t_string!(
            i18n,
            problem.refused.too_many_attempts_computer,
            seconds = *seconds
        )
        .to_string(),
        P::TooManySignInAttempts {
            limit: SignInLimit::ThisAccount,
            seconds,
        } => t_string!(
            i18n,
            problem.refused.too_many_attempts_account,
            seconds = *seconds
        )
        .to_string(),
        P::NotPermitted { action, refusal } => {
            let action = permission_text(*action);
            match refusal {
                PermissionRefusal::Role { role } => t_string!(
                    i18n,
                    problem.refused.not_permitted_role,
                    role = role_label(*role),
                    action = action
                )
                .to_string(),
                PermissionRefusal::MissingScope { scope } => t_string!(
                    i18n,
                    problem.refused.not_permitted_scope,
                    action = action,
                    scope = scope.to_string()
                )
                .to_string(),
                PermissionRefusal::NoApiKey => {
                    t_string!(i18n, problem.refused.not_permitted_api_key, action = action)
                        .to_string()
                }
                PermissionRefusal::OtherStudio => {
                    t_string!(i18n, problem.refused.not_permitted_studio, action = action)
                        .to_string()
                }
            }
        }
    }
}

/// A role's name in the page's language ("Empfang"): the top bar, the settings page's people and
/// keys, and refusals that name the role.
pub fn role_label(role: Role) -> &'static str {
    let i18n = use_i18n();
    match role {
        Role::Owner => t_string!(i18n, common.role.owner),
        Role::Receptionist => t_string!(i18n, common.role.receptionist),
        Role::Employee => t_string!(i18n, common.role.employee),
    }
}

/// What a permission allows, as the rest of a sentence in the page's language ("Auszahlungen
/// stornieren"); the English is [`Permission::describe`].
fn permission_text(permission: Permission) -> &'static str {
    use Permission as A;
    let i18n = use_i18n();
    match permission {
        A::ReadCatalog => t_string!(i18n, problem.permission.read_catalog),
        A::ReadRecords => t_string!(i18n, problem.permission.read_records),
        A::RegisterService => t_string!(i18n, problem.permission.register_service),
        A::RefundService => t_string!(i18n, problem.permission.refund_service),
        A::RegisterDay => t_string!(i18n, problem.permission.register_day),
        A::PreviewPayout => t_string!(i18n, problem.permission.preview_payout),
        A::CommitPayout => t_string!(i18n, problem.permission.commit_payout),
        A::FinishPayout => t_string!(i18n, problem.permission.finish_payout),
        A::CancelPayout => t_string!(i18n, problem.permission.cancel_payout),
        A::ReadPayouts => t_string!(i18n, problem.permission.read_payouts),
        A::ReadAttention => t_string!(i18n, problem.permission.read_attention),
        A::ReadTill => t_string!(i18n, problem.permission.read_till),
        A::OperateTill => t_string!(i18n, problem.permission.operate_till),
        A::ReadLedger => t_string!(i18n, problem.permission.read_ledger),
        A::RunAudit => t_string!(i18n, problem.permission.run_audit),
        A::ReadAudits => t_string!(i18n, problem.permission.read_audits),
        A::ReadNotifications => t_string!(i18n, problem.permission.read_notifications),
        A::ManageUsers => t_string!(i18n, problem.permission.manage_users),
        A::ManageApiKeys => t_string!(i18n, problem.permission.manage_api_keys),
        A::ReadActivity => t_string!(i18n, problem.permission.read_activity),
        A::ReadPayments => t_string!(i18n, problem.permission.read_payments),
        A::IngestPaymentEvents => t_string!(i18n, problem.permission.ingest_payment_events),
        A::OperatePayments => t_string!(i18n, problem.permission.operate_payments),
        A::ReadWebhooks => t_string!(i18n, problem.permission.read_webhooks),
        A::ManageWebhooks => t_string!(i18n, problem.permission.manage_webhooks),
        A::ReadLiveFeed => t_string!(i18n, problem.permission.read_live_feed),
        A::ReadSettlements => t_string!(i18n, problem.permission.read_settlements),
        A::ManageSettlements => t_string!(i18n, problem.permission.manage_settlements),
        A::ExportBooks => t_string!(i18n, problem.permission.export_books),
        A::ReadDashboard => t_string!(i18n, problem.permission.read_dashboard),
    }
}

impl From<Locale> for Language {
    fn from(locale: Locale) -> Language {
        match locale {
            Locale::en => Language::En,
            Locale::de => Language::De,
            Locale::fr => Language::Fr,
        }
    }
}

impl From<Language> for Locale {
    fn from(language: Language) -> Locale {
        match language {
            Language::En => Locale::en,
            Language::De => Locale::de,
            Language::Fr => Locale::fr,
        }
    }
}

/// The language of the page being rendered: the signed-in person's choice, else this browser's
/// (cookie, then Accept-Language), else English. Read once, not tracked: choosing another
/// language loads the page again ([`LanguageMenu`]). Outside the app's context (a test), English.
pub fn current_language() -> Language {
    use_context::<leptos_i18n::I18nContext<Locale>>()
        .map_or(Language::En, |i18n| i18n.get_locale_untracked().into())
}

/// An amount in the page's language: `CHF 18'080.00` (de, en), `18'080,00 CHF` (fr).
pub fn chf(amount: Rappen) -> String {
    format_chf(current_language(), amount)
}

/// A moment to the minute in the page's language, in UTC: `23.11.2026, 14:05 UTC` (de).
pub fn utc_minute(at: chrono::DateTime<chrono::Utc>) -> String {
    format_utc_minute(current_language(), at)
}

/// A date in the page's language: `23.11.2026` (de), `23 nov. 2026` (fr), `23 Nov 2026` (en).
pub fn date(day: chrono::NaiveDate) -> String {
    format_date(current_language(), day)
}

/// A counter that goes up twice a second while `active()` is true: a page reads a long
/// operation's recorded progress again on each tick (the audit run's checks, a statement
/// import's lines). The timer stops when `active()` turns false or the page goes away; `what`
/// names the operation in the browser's console if no timer can be set.
pub fn ticks_while(
    active: impl Fn() -> bool + Send + Sync + 'static,
    what: &'static str,
) -> RwSignal<u32> {
    let tick = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if active() {
            match set_interval_with_handle(
                move || tick.update(|t| *t += 1),
                std::time::Duration::from_millis(500),
            ) {
                Ok(handle) => on_cleanup(move || handle.clear()),
                Err(error) => {
                    leptos::logging::warn!("the progress of {what} cannot be followed: {error:?}")
                }
            }
        }
    });
    tick
}

/// A count with the page language's grouping: `1'234`.
pub fn count(n: impl Into<i64>) -> String {
    format_count(current_language(), n.into())
}

/// A rate (commission, VAT) in the page's language: `42.5 %` (de, en), `42,5 %` (fr).
pub fn percent(rate: BasisPoints) -> String {
    format_percent(current_language(), rate)
}

/// A payout's state in words of the page's language.
pub fn payout_state_label(state: PayoutState) -> &'static str {
    let i18n = use_i18n();
    match state {
        PayoutState::Pending => t_string!(i18n, common.payout_state.pending),
        PayoutState::Committed => t_string!(i18n, common.payout_state.committed),
        PayoutState::Failed => t_string!(i18n, common.payout_state.failed),
        PayoutState::Cancelled => t_string!(i18n, common.payout_state.cancelled),
    }
}

/// Why the payout state machine refuses an action ([`PayoutState::apply`]), in the page's
/// language: "the payout is already committed".
pub fn payout_refusal_text(reason: PayoutRefusalReason) -> &'static str {
    let i18n = use_i18n();
    match reason {
        PayoutRefusalReason::StillRunning => t_string!(i18n, payout.refusal.still_running),
        PayoutRefusalReason::AlreadyCommitted => t_string!(i18n, payout.refusal.already_committed),
        PayoutRefusalReason::CommittedCannotFail => {
            t_string!(i18n, payout.refusal.committed_cannot_fail)
        }
        PayoutRefusalReason::CommittedIsFinal => t_string!(i18n, payout.refusal.committed_is_final),
        PayoutRefusalReason::FailedNeedsFinish => {
            t_string!(i18n, payout.refusal.failed_needs_finish)
        }
        PayoutRefusalReason::Cancelled => t_string!(i18n, payout.refusal.cancelled),
        PayoutRefusalReason::AlreadyCancelled => t_string!(i18n, payout.refusal.already_cancelled),
    }
}

/// A payout phase's name in the page's language ("totals verified").
pub fn payout_phase_label(phase: PayoutPhase) -> &'static str {
    let i18n = use_i18n();
    match phase {
        PayoutPhase::Created => t_string!(i18n, common.payout_phase.created),
        PayoutPhase::LinesClaimed => t_string!(i18n, common.payout_phase.lines_claimed),
        PayoutPhase::TotalsVerified => t_string!(i18n, common.payout_phase.totals_verified),
        PayoutPhase::Committed => t_string!(i18n, common.payout_phase.committed),
    }
}

/// What a payout phase does, in the page's language ("verifying the totals").
pub fn payout_phase_doing(phase: PayoutPhase) -> &'static str {
    let i18n = use_i18n();
    match phase {
        PayoutPhase::Created => t_string!(i18n, common.payout_phase_doing.created),
        PayoutPhase::LinesClaimed => t_string!(i18n, common.payout_phase_doing.lines_claimed),
        PayoutPhase::TotalsVerified => t_string!(i18n, common.payout_phase_doing.totals_verified),
        PayoutPhase::Committed => t_string!(i18n, common.payout_phase_doing.committed),
    }
}

/// A settlement's state in the page's language ("Needs reconciliation").
pub fn settlement_state_label(state: SettlementState) -> &'static str {
    let i18n = use_i18n();
    match state {
        SettlementState::Scheduled => t_string!(i18n, common.settlement_state.scheduled),
        SettlementState::InTransit => t_string!(i18n, common.settlement_state.in_transit),
        SettlementState::Settled => t_string!(i18n, common.settlement_state.settled),
        SettlementState::Failed => t_string!(i18n, common.settlement_state.failed),
        SettlementState::NeedsReconciliation => {
            t_string!(i18n, common.settlement_state.needs_reconciliation)
        }
        SettlementState::Reissued => t_string!(i18n, common.settlement_state.reissued),
        SettlementState::WrittenOff => t_string!(i18n, common.settlement_state.written_off),
    }
}

/// The language menu: a plain form posting to `/language`, which remembers the choice (cookie,
/// and the signed-in person's account) and loads the current page again in that language. With
/// JavaScript, choosing an entry submits at once; without, the button does.
#[component]
pub fn LanguageMenu() -> impl IntoView {
    let i18n = use_i18n();
    let location = leptos_router::hooks::use_location();
    let here = move || format!("{}{}", location.pathname.get(), location.search.get());
    let current = current_language();
    let form = NodeRef::<leptos::html::Form>::new();
    let submit = move |_| {
        if let Some(form) = form.get() {
            if let Err(error) = form.request_submit() {
                leptos::logging::error!("could not submit the language menu: {error:?}");
            }
        }
    };
    view! {
        <form class="language-menu" method="post" action="/language" node_ref=form>
            <input type="hidden" name="next" value=here/>
            <label>
                <span class="visually-hidden">{t!(i18n, common.language.label)}</span>
                <select name="language" on:change=submit>
                    {Language::ALL.into_iter().map(|language| view! {
                        <option value=language.code() selected=language == current lang=language.code()>
                            {language.native_name()}
                        </option>
                    }).collect_view()}
                </select>
            </label>
            <noscript><button type="submit">{t!(i18n, common.language.apply)}</button></noscript>
        </form>
    }
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
                    Ok(payouts) => {
                        let payouts_count = payouts.len() as u64;
                        view! {
                        <section class="attention-banner" role="alert" aria-live="assertive">
                            <h2><span class="icon" aria-hidden="true">"⛔ "</span>
                                {t!(use_i18n(), common.banner.payouts_title, count = move || payouts_count)}</h2>
                            <ul>
                                {payouts.into_iter().map(|p| view! { <AttentionItem payout=p finish=finish/> }).collect_view()}
                            </ul>
                            <FinishOutcome finish=finish/>
                        </section>
                    }.into_any()
                    }
                    // An employee's pages carry no banner: finishing payouts is not theirs to do.
                    Err(AppError::Denied { status: 403, .. }) => ().into_any(),
                    Err(error) => view! {
                        <section class="attention-banner" role="alert">
                            <p>{t!(use_i18n(), common.banner.could_not_check)}</p>
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

/// A settlement state inside a sentence ("…: now reissued."), in the page's language.
pub fn state_in_sentence(state: SettlementState) -> &'static str {
    let i18n = use_i18n();
    match state {
        SettlementState::Scheduled => t_string!(i18n, settlements.state_now.scheduled),
        SettlementState::InTransit => t_string!(i18n, settlements.state_now.in_transit),
        SettlementState::Settled => t_string!(i18n, settlements.state_now.settled),
        SettlementState::Failed => t_string!(i18n, settlements.state_now.failed),
        SettlementState::NeedsReconciliation => {
            t_string!(i18n, settlements.state_now.needs_reconciliation)
        }
        SettlementState::Reissued => t_string!(i18n, settlements.state_now.reissued),
        SettlementState::WrittenOff => t_string!(i18n, settlements.state_now.written_off),
    }
}

/// Why a statement line matched nothing or not exactly, or why an item failed or needs
/// reconciliation, in the page's language: "the bank debited CHF 120.00 but the payout is
/// CHF 150.00".
pub fn reconciliation_reason_text(reason: ReconciliationReason) -> String {
    use ReconciliationReason as R;
    let i18n = use_i18n();
    match reason {
        R::OtherCurrency { currency } => {
            t_string!(i18n, settlements.why.other_currency, currency = currency).to_string()
        }
        R::NoEndToEndId => t_string!(i18n, settlements.why.no_end_to_end_id).to_string(),
        R::UnknownEndToEndId { end_to_end_id } => t_string!(
            i18n,
            settlements.why.unknown_end_to_end_id,
            end_to_end_id = end_to_end_id
        )
        .to_string(),
        R::NoCardBatch => t_string!(i18n, settlements.why.no_card_batch).to_string(),
        R::SeveralCardBatches { count: batches } => t_string!(
            i18n,
            settlements.why.several_card_batches,
            count = count(batches)
        )
        .to_string(),
        R::BatchShort { credited, expected } => t_string!(
            i18n,
            settlements.why.batch_short,
            credited = chf(credited),
            expected = chf(expected)
        )
        .to_string(),
        R::AlreadyFinal { state } => t_string!(
            i18n,
            settlements.why.already_final,
            state = state_in_sentence(state)
        )
        .to_string(),
        R::AlreadySettled => t_string!(i18n, settlements.why.already_settled).to_string(),
        R::AmountDiffers { debited, expected } => t_string!(
            i18n,
            settlements.why.amount_differs,
            debited = chf(debited),
            expected = chf(expected)
        )
        .to_string(),
        R::DebitForUnsettled { debited, state } => t_string!(
            i18n,
            settlements.why.debit_for_unsettled,
            debited = chf(debited),
            state = state_in_sentence(state)
        )
        .to_string(),
        R::ReturnedByBank { bank_code: None } => {
            t_string!(i18n, settlements.why.returned_without_code).to_string()
        }
        R::ReturnedByBank {
            bank_code: Some(code),
        } => match ReturnCode::parse(&code) {
            Some(known) => t_string!(
                i18n,
                settlements.why.returned_known_code,
                code = code.clone(),
                meaning = return_code_words(known)
            )
            .to_string(),
            None => t_string!(i18n, settlements.why.returned, code = code).to_string(),
        },
        R::BankReportsFailure { note } => {
            t_string!(i18n, settlements.why.bank_reports_failure, note = note).to_string()
        }
        R::Overdue {
            expected_on,
            grace_days,
        } => t_string!(
            i18n,
            settlements.why.overdue,
            days = grace_days,
            date = date(expected_on)
        )
        .to_string(),
        R::MatchedByHand => t_string!(i18n, settlements.why.matched_by_hand).to_string(),
    }
}

/// Why a settlement item failed or needs reconciliation, in the page's language: its reason
/// as data where it was stored so, else (recorded before) its English text; `None` when none was
/// recorded. The banner, the settlements page and the employee's transfers all show this.
pub fn settlement_item_reason(item: &SettlementItem) -> Option<String> {
    item.reconciliation_reason
        .clone()
        .map(reconciliation_reason_text)
        .or_else(|| item.reason.clone())
}

/// What an ISO 20022 return reason code means, in the page's language ("account closed").
pub fn return_code_words(code: ReturnCode) -> &'static str {
    let i18n = use_i18n();
    match code {
        ReturnCode::Ac01 => t_string!(i18n, settlements.return_code.ac01),
        ReturnCode::Ac04 => t_string!(i18n, settlements.return_code.ac04),
        ReturnCode::Ac06 => t_string!(i18n, settlements.return_code.ac06),
        ReturnCode::Am04 => t_string!(i18n, settlements.return_code.am04),
        ReturnCode::Be01 => t_string!(i18n, settlements.return_code.be01),
        ReturnCode::Ms03 => t_string!(i18n, settlements.return_code.ms03),
        ReturnCode::Rc01 => t_string!(i18n, settlements.return_code.rc01),
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
                    Ok(items) => {
                        let items_count = items.len() as u64;
                        view! {
                        <section class="settlement-banner" role="alert" aria-live="assertive">
                            <h2><span class="icon" aria-hidden="true">"⚠ "</span>
                                {t!(use_i18n(), common.banner.settlements_title, count = move || items_count)}</h2>
                            <ul>
                                {items.into_iter().map(|item| view! {
                                    <li>
                                        <strong>{format!("{} {}", item.counterparty, chf(item.amount))}</strong>
                                        {match settlement_item_reason(&item) {
                                            Some(reason) => format!(" — {}: {reason}", settlement_state_label(item.state)),
                                            None => format!(" — {}", settlement_state_label(item.state)),
                                        }}
                                    </li>
                                }).collect_view()}
                            </ul>
                            <p><a href="/settlements">{t!(use_i18n(), common.banner.settlements_link)}</a></p>
                        </section>
                    }.into_any()
                    }
                    Err(AppError::Denied { status: 403, .. }) => ().into_any(),
                    Err(error) => view! {
                        <section class="settlement-banner" role="alert">
                            <p>{t!(use_i18n(), common.banner.settlements_could_not_check)}</p>
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
    let i18n = use_i18n();
    let done = t_string!(
        i18n,
        common.banner.records_done,
        done = count(payout.record_count),
        expected = count(payout.expected_record_count)
    )
    .to_string();
    let status = match (payout.state, payout.failed_phase) {
        (PayoutState::Failed, Some(phase)) => t_string!(
            i18n,
            common.banner.failed_while,
            phase = payout_phase_doing(phase)
        )
        .to_string(),
        (PayoutState::Failed, None) => t_string!(i18n, common.banner.failed).to_string(),
        _ => t_string!(
            i18n,
            common.banner.interrupted_after,
            phase = payout_phase_label(payout.phase)
        )
        .to_string(),
    };
    // An interrupted payout (pending, no phase failed) has no error recorded: nothing to show.
    let error = payout.error.clone().unwrap_or_default();
    let id = payout.id.to_string();
    let href = format!("/payouts/{}", payout.id);
    view! {
        <li class="attention-item" data-payout-id=payout.id.to_string()>
            <p>
                <strong>{payout.employee_name.clone()}</strong>
                {format!(" — {} — {done} — {status}", chf(payout.expected_total))}
                {(!error.is_empty()).then(|| view! { <span class="detail">{format!(": {error}")}</span> })}
                " " <a href=href>{t!(i18n, common.banner.details)}</a>
            </p>
            <ActionForm action=finish>
                <input type="hidden" name="idempotency_key" prop:value=move || key.get()/>
                <input type="hidden" name="payout_id" value=id.clone()/>
                <button type="submit" class="finish" disabled=move || finish.pending().get()>
                    {t!(i18n, common.banner.finish)}
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
    move || match finish.value().get() {
        Some(Ok(payout)) => view! {
            <p class="notice success" role="status">
                {t_string!(
                    use_i18n(),
                    common.banner.finished,
                    name = payout.employee_name.clone(),
                    state = payout_state_label(payout.state),
                    count = count(payout.record_count),
                    total = chf(payout.total)
                ).to_string()}
            </p>
        }
        .into_any(),
        Some(Err(_)) | None => ().into_any(),
    }
}

/// A wide table that scrolls sideways inside its own box on a narrow screen (a phone at 375 px)
/// instead of widening the whole page. The box is a labelled region reachable with the keyboard
/// (`tabindex=0`), so it can be scrolled without a pointer (WCAG 2.1.1; axe-core's
/// `scrollable-region-focusable`).
#[component]
pub fn ScrollTable(
    /// What the table lists, for screen readers ("Payouts").
    #[prop(into)]
    label: String,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-scroll" role="region" aria-label=label tabindex="0">
            {children()}
        </div>
    }
}
