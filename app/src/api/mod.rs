//! Thin server functions for the Leptos UI: read the form fields, turn them into the same typed
//! requests the JSON API uses, call the engine, and hand back its result or its [`AppError`]
//! unchanged (the UI shows the message). No business rule lives here.

use crate::domain::wire::JsonText;
use crate::domain::*;
#[cfg(feature = "ssr")]
use chrono::NaiveDate;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn engine() -> Result<crate::engine::Engine, AppError> {
    use_context::<crate::engine::Engine>().ok_or_else(|| {
        tracing::error!("the engine is missing from the server function context");
        AppError::Internal {
            message: "server misconfiguration: no engine; it is logged on the server".into(),
        }
    })
}

/// The signed-in caller of this server function, resolved by the server's authentication
/// layer from the session cookie.
///
/// Errors: 401 `unauthenticated` when nobody is signed in (the UI then shows the sign-in form).
#[cfg(feature = "ssr")]
fn caller() -> Result<crate::engine::access::Caller, AppError> {
    authenticated()
        .map(|auth| auth.caller)
        .ok_or_else(|| answer_error(AppError::unauthenticated("sign in first")))
}

#[cfg(feature = "ssr")]
fn authenticated() -> Option<crate::engine::access::Authenticated> {
    use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .extensions
            .get::<crate::engine::access::Authenticated>()
            .cloned()
    })
}

#[cfg(feature = "ssr")]
fn key(raw: &str) -> Result<crate::engine::idempotency::IdempotencyKey, AppError> {
    crate::engine::idempotency::IdempotencyKey::parse(Some(raw))
}

#[cfg(feature = "ssr")]
fn parse_money(field: &str, text: &str, optional: bool) -> Result<i64, AppError> {
    if optional && text.trim().is_empty() {
        return Ok(0);
    }
    Rappen::parse_chf(text)
        .map(|r| r.0)
        .map_err(|problem| AppError::invalid(field, problem))
}

/// Sets the HTTP status of a server function's response to the error's own (422, 409, ...)
/// instead of the blanket 500, so logs and proxies tell a refused input from a fault.
#[cfg(feature = "ssr")]
fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    result.map_err(answer_error)
}

#[cfg(feature = "ssr")]
fn answer_error(error: AppError) -> AppError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(
            http::StatusCode::from_u16(error.status())
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
    tracing::info!(code = error.code(), status = error.status(), message = %error, "server function refused");
    error
}

/// Retries a keyed UI action while its first submission is still in flight (a double click),
/// so the second submission shows the first one's result instead of a confusing 409.
#[cfg(feature = "ssr")]
async fn wait_for_first<T, F, Fut>(mut attempt: F) -> Result<T, AppError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    for _ in 0..50 {
        match attempt().await {
            Err(AppError::Conflict { code, .. }) if code == "idempotency_key_in_flight" => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
    attempt().await
}

/// Who is signed in (`None` when nobody is): the shell decides between the sign-in form and
/// the pages, and which pages to offer.
#[server(output = JsonText)]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    Ok(authenticated().and_then(|auth| auth.me))
}

/// Signs in with email and password and sets the session cookie (HttpOnly, SameSite=Lax, Secure
/// over HTTPS).
///
/// Errors: 401 `invalid_credentials`; 429 `too_many_login_attempts`.
#[server(output = JsonText)]
pub async fn sign_in(email: String, password: String) -> Result<Me, AppError> {
    use crate::engine::access::ClientIp;
    let parts = use_context::<http::request::Parts>();
    let ip = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<ClientIp>())
        .map(|ClientIp(ip)| *ip);
    let header = |name: &str| {
        parts
            .as_ref()
            .and_then(|p| p.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let https = parts
        .as_ref()
        .is_some_and(|p| crate::engine::auth::served_over_https(&p.headers));
    let session = answer(
        engine()?
            .login(&email, &password, ip, header("user-agent").as_deref())
            .await,
    )?;
    set_cookie(&crate::engine::auth::session_cookie(
        &session.token,
        session.expires_at,
        https,
    ))?;
    // This browser remembers the person's language, also for the sign-in page after signing out.
    if let Some(language) = session.me.language {
        set_cookie(&crate::engine::auth::language_cookie(language, https))?;
    }
    Ok(session.me)
}

#[cfg(feature = "ssr")]
fn set_cookie(value: &str) -> Result<(), AppError> {
    let response = use_context::<leptos_axum::ResponseOptions>().ok_or_else(|| {
        tracing::error!("no response options in the server function context");
        AppError::Internal {
            message:
                "server misconfiguration: cannot set the session cookie; it is logged on the server"
                    .into(),
        }
    })?;
    let value = http::HeaderValue::from_str(value).map_err(|error| {
        tracing::error!(%error, "the session cookie is not a valid header value");
        AppError::Internal {
            message: "cannot set the session cookie; it is logged on the server".into(),
        }
    })?;
    response.append_header(http::header::SET_COOKIE, value);
    Ok(())
}

/// Studios.
#[server(output = JsonText)]
pub async fn list_studios() -> Result<Vec<Studio>, AppError> {
    engine()?.studios(&caller()?).await
}

/// Employees with their unpaid totals.
#[server(output = JsonText)]
pub async fn list_employees() -> Result<Vec<EmployeeSummary>, AppError> {
    engine()?.employees(&caller()?).await
}

/// The service catalogue of both studios.
#[server(output = JsonText)]
pub async fn list_services() -> Result<Vec<Service>, AppError> {
    engine()?.services(&caller()?).await
}

/// The latest registered services (newest first).
#[server(output = JsonText)]
pub async fn recent_service_records(
    employee_id: Option<String>,
) -> Result<Vec<ServiceRecord>, AppError> {
    let employee = match employee_id.filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(EmployeeId::parse(&text).map_err(|m| AppError::validation("employee_id", m))?)
        }
        None => None,
    };
    engine()?
        .recent_service_records(&caller()?, employee, 15)
        .await
}

/// Registers a performed service from the reception form (amounts as CHF text).
#[server(output = JsonText)]
pub async fn register_service(
    idempotency_key: String,
    employee_id: String,
    service_id: String,
    price: String,
    tip: String,
    payment_method: String,
    performed_on: String,
) -> Result<ServiceRecord, AppError> {
    let request = answer((|| -> Result<ServiceRecordRequest, AppError> {
        Ok(ServiceRecordRequest {
            employee_id: EmployeeId::parse(&employee_id)
                .map_err(|m| AppError::validation("employee_id", m))?,
            service_id: ServiceId::parse(&service_id)
                .map_err(|m| AppError::validation("service_id", m))?,
            price: parse_money("price", &price, false)?,
            tip: parse_money("tip", &tip, true)?,
            currency: None,
            payment_method,
            performed_on: parse_iso_date("performed_on", &performed_on)?,
        })
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.register_service(&caller, &key, &request)).await)
}

/// Refunds a registered service to the client (reason required; a cash refund needs the open till).
#[server(output = JsonText)]
pub async fn refund_service(
    idempotency_key: String,
    record_id: String,
    reason: String,
) -> Result<ServiceRecord, AppError> {
    let id = answer(
        ServiceRecordId::parse(&record_id).map_err(|m| AppError::validation("record_id", m)),
    )?;
    let request = RefundRequest { reason };
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.refund_service_record(&caller, &key, id, &request)).await)
}

/// Records an employee's working day from the reception form (amounts as CHF text).
#[server(output = JsonText)]
pub async fn register_day(
    idempotency_key: String,
    employee_id: String,
    worked_on: String,
    deduction: String,
    guaranteed_minimum: String,
    note: String,
) -> Result<DayRecord, AppError> {
    let request = answer((|| -> Result<DayRecordRequest, AppError> {
        Ok(DayRecordRequest {
            employee_id: EmployeeId::parse(&employee_id)
                .map_err(|m| AppError::validation("employee_id", m))?,
            worked_on: parse_iso_date("worked_on", &worked_on)?,
            deduction: parse_money("deduction", &deduction, true)?,
            guaranteed_minimum: parse_money("guaranteed_minimum", &guaranteed_minimum, true)?,
            currency: None,
            note: Some(note),
        })
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.register_day(&caller, &key, &request)).await)
}

/// The latest recorded working days (newest first).
#[server(output = JsonText)]
pub async fn recent_day_records() -> Result<Vec<DayRecord>, AppError> {
    engine()?.recent_day_records(&caller()?, None, 15).await
}

#[cfg(feature = "ssr")]
fn payout_request(
    employee_id: &str,
    period_start: &str,
    period_end: &str,
    method: Option<&str>,
) -> Result<PayoutRequest, AppError> {
    Ok(PayoutRequest {
        employee_id: EmployeeId::parse(employee_id)
            .map_err(|m| AppError::validation("employee_id", m))?,
        period_start: parse_iso_date("period_start", period_start)?,
        period_end: parse_iso_date("period_end", period_end)?,
        method: PayoutMethod::parse(method.unwrap_or(""))
            .map_err(|m| AppError::validation("method", m))?,
    })
}

/// Every line a payout would pay; writes nothing.
#[server(output = JsonText)]
pub async fn preview_payout(
    employee_id: String,
    period_start: String,
    period_end: String,
) -> Result<PayoutPreview, AppError> {
    let request = answer(payout_request(
        &employee_id,
        &period_start,
        &period_end,
        None,
    ))?;
    answer(engine()?.preview_payout(&caller()?, &request).await)
}

/// Creates and commits a payout.
#[server(output = JsonText)]
pub async fn commit_payout(
    idempotency_key: String,
    employee_id: String,
    period_start: String,
    period_end: String,
    method: Option<String>,
) -> Result<Payout, AppError> {
    let request = answer(payout_request(
        &employee_id,
        &period_start,
        &period_end,
        method.as_deref(),
    ))?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.commit_payout(&caller, &key, &request)).await)
}

/// Resumes a pending or failed payout (the banner's Finish payout button).
#[server(output = JsonText)]
pub async fn finish_payout(idempotency_key: String, payout_id: String) -> Result<Payout, AppError> {
    let id = PayoutId::parse(&payout_id).map_err(|m| AppError::validation("payout_id", m))?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.finish_payout(&caller, &key, id)).await)
}

/// Voids a failed payout and releases its records.
#[server(output = JsonText)]
pub async fn cancel_payout(idempotency_key: String, payout_id: String) -> Result<Payout, AppError> {
    let id = PayoutId::parse(&payout_id).map_err(|m| AppError::validation("payout_id", m))?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.cancel_payout(&caller, &key, id)).await)
}

/// Failed payouts and interrupted pending ones (the red banner).
#[server(output = JsonText)]
pub async fn payouts_needing_attention() -> Result<Vec<Payout>, AppError> {
    engine()?.payouts_needing_attention(&caller()?).await
}

/// Bank transfers and card settlements that need a person (the attention banner's second
/// part). Empty for whoever may not read settlements (receptionists, employees): the banner
/// asks on every page every 10 s, and that is no refusal worth logging.
#[server(output = JsonText)]
pub async fn settlements_needing_attention() -> Result<Vec<SettlementItem>, AppError> {
    let caller = caller()?;
    if !caller.may(Permission::ReadSettlements) {
        return Ok(Vec::new());
    }
    engine()?.settlements_needing_attention(&caller).await
}

/// The owner dashboard for the page's GET form (`from`, `to`, `studio_id`, `granularity` as
/// typed; empty means the default). The same engine call as `GET /api/v1/dashboard`.
///
/// Errors: 403 unless the caller may read the dashboard; 422 naming the malformed field.
#[server(output = JsonText)]
pub async fn owner_dashboard(
    from: Option<String>,
    to: Option<String>,
    studio_id: Option<String>,
    granularity: Option<String>,
) -> Result<Dashboard, AppError> {
    let caller = caller()?;
    // Who may ask first: a receptionist hears that the dashboard is not theirs, not that a
    // date was mistyped.
    answer(caller.require(Permission::ReadDashboard))?;
    let request = answer(DashboardRequest::parse(
        from.as_deref(),
        to.as_deref(),
        studio_id.as_deref(),
        granularity.as_deref(),
    ))?;
    answer(engine()?.dashboard(&caller, &request).await)
}

/// Payouts, newest first, optionally by state and/or employee.
#[server(output = JsonText)]
pub async fn list_payouts(
    state: Option<String>,
    employee_id: Option<String>,
) -> Result<Vec<Payout>, AppError> {
    let state = match state.filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(PayoutState::parse(&text).map_err(|m| AppError::validation("state", m))?)
        }
        None => None,
    };
    let employee = match employee_id.filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(EmployeeId::parse(&text).map_err(|m| AppError::validation("employee_id", m))?)
        }
        None => None,
    };
    engine()?.payouts(&caller()?, state, employee, 100).await
}

/// One payout with its lines.
#[server(output = JsonText)]
pub async fn get_payout_detail(payout_id: String) -> Result<PayoutDetail, AppError> {
    let id = PayoutId::parse(&payout_id).map_err(|m| AppError::validation("payout_id", m))?;
    engine()?.payout_detail(&caller()?, id).await
}

/// One employee's summary.
#[server(output = JsonText)]
pub async fn get_employee_summary(employee_id: String) -> Result<EmployeeSummary, AppError> {
    let id = EmployeeId::parse(&employee_id).map_err(|m| AppError::validation("employee_id", m))?;
    engine()?.employee(&caller()?, id).await
}

/// Today's date in Zurich (the default date of the register form), as YYYY-MM-DD.
#[server(output = JsonText)]
pub async fn studio_today() -> Result<String, AppError> {
    Ok(crate::engine::today().to_string())
}

/// The studio's current till (open, or today's closed one with its Z report).
#[server(output = JsonText)]
pub async fn current_till(studio_id: String) -> Result<Option<TillSession>, AppError> {
    let studio = StudioId::parse(&studio_id).map_err(|m| AppError::validation("studio_id", m))?;
    answer(engine()?.current_till(&caller()?, studio).await)
}

/// Opens today's till with the counted float (CHF text).
#[server(output = JsonText)]
pub async fn open_till(
    idempotency_key: String,
    studio_id: String,
    opening_float: String,
    reason: Option<String>,
) -> Result<TillSession, AppError> {
    let request = answer((|| -> Result<OpenTillRequest, AppError> {
        Ok(OpenTillRequest {
            studio_id: StudioId::parse(&studio_id)
                .map_err(|m| AppError::validation("studio_id", m))?,
            opening_float: parse_money("opening_float", &opening_float, true)?,
            reason,
        })
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.open_till(&caller, &key, &request)).await)
}

/// Cash into or out of the open till (CHF text, reason required).
#[server(output = JsonText)]
pub async fn move_cash(
    idempotency_key: String,
    studio_id: String,
    direction: String,
    amount: String,
    reason: String,
) -> Result<TillSession, AppError> {
    let request = answer((|| -> Result<CashMovementRequest, AppError> {
        Ok(CashMovementRequest {
            studio_id: StudioId::parse(&studio_id)
                .map_err(|m| AppError::validation("studio_id", m))?,
            direction: match direction.as_str() {
                "in" => CashDirection::In,
                "out" => CashDirection::Out,
                other => {
                    return Err(AppError::validation(
                        "direction",
                        format!("'{other}' is not in or out"),
                    ))
                }
            },
            amount: parse_money("amount", &amount, false)?,
            reason,
        })
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.cash_movement(&caller, &key, &request)).await)
}

/// Counts and closes the till: one count per denomination (`denominations[20000]` = number of
/// CHF 200 notes; empty = 0).
#[server(output = JsonText)]
pub async fn close_till(
    idempotency_key: String,
    studio_id: String,
    denominations: std::collections::BTreeMap<String, String>,
    variance_reason: Option<String>,
) -> Result<TillSession, AppError> {
    let request = answer((|| -> Result<CloseTillRequest, AppError> {
        let mut counts = std::collections::BTreeMap::new();
        for (denomination, count) in &denominations {
            let count = count.trim();
            if count.is_empty() {
                continue;
            }
            let parsed: i64 = count.parse().map_err(|_| {
                AppError::invalid(
                    "denominations",
                    FieldProblem::NotACount { text: count.into() },
                )
            })?;
            counts.insert(denomination.clone(), parsed);
        }
        Ok(CloseTillRequest {
            studio_id: StudioId::parse(&studio_id)
                .map_err(|m| AppError::validation("studio_id", m))?,
            denominations: counts,
            variance_reason,
        })
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.close_till(&caller, &key, &request)).await)
}

/// Runs the audit now (the owner's button).
#[server(output = JsonText)]
pub async fn run_audit_now() -> Result<AuditReport, AppError> {
    answer(
        engine()?
            .run_audit(&caller()?, AuditTrigger::Manual, None, None)
            .await,
    )
}

/// The latest audit runs.
#[server(output = JsonText)]
pub async fn list_audit_runs() -> Result<Vec<AuditRun>, AppError> {
    engine()?.audit_runs(&caller()?, 20).await
}

/// One run with its findings.
#[server(output = JsonText)]
pub async fn get_audit_report(run_id: String) -> Result<AuditReport, AppError> {
    let id = AuditRunId::parse(&run_id).map_err(|m| AppError::validation("run_id", m))?;
    answer(engine()?.audit_report(&caller()?, id).await)
}

/// Telegram messages that failed or whose delivery is unknown, newest first.
#[server(output = JsonText)]
pub async fn alert_problems() -> Result<Vec<AlertProblem>, AppError> {
    let engine = engine()?;
    let caller = caller()?;
    let mut problems = Vec::new();
    for state in [
        crate::engine::notifications::DeliveryState::Failed,
        crate::engine::notifications::DeliveryState::Unknown,
    ] {
        for n in engine.notifications(&caller, Some(state), 50).await? {
            problems.push(AlertProblem {
                created_at: n.created_at,
                audience: n.audience,
                state: n.state.as_str().to_string(),
                error: n.last_error.unwrap_or_default(),
                text: n.text,
            });
        }
    }
    problems.sort_by_key(|p| std::cmp::Reverse(p.created_at));
    Ok(problems)
}

/// The API keys of the owner's business (never the keys themselves).
#[server(output = JsonText)]
pub async fn list_api_keys() -> Result<Vec<ApiKeyInfo>, AppError> {
    answer(engine()?.api_keys(&caller()?).await)
}

/// Creates an API key from the settings form: `access` is `full` (every scope the role allows)
/// or `read_only` (only its `…:read` scopes). The key is in the result, shown once.
#[server(output = JsonText)]
pub async fn create_api_key(
    name: String,
    role: String,
    studio_id: Option<String>,
    access: String,
) -> Result<CreatedApiKey, AppError> {
    let request = answer((|| -> Result<ApiKeyRequest, AppError> {
        let role = Role::parse(&role).map_err(|m| AppError::validation("role", m))?;
        let studio_id = match studio_id.filter(|s| !s.trim().is_empty()) {
            Some(text) => {
                Some(StudioId::parse(&text).map_err(|m| AppError::validation("studio_id", m))?)
            }
            None => None,
        };
        let scopes = match access.as_str() {
            "full" => None,
            "read_only" => Some(
                ApiScope::granted_to(role)
                    .into_iter()
                    .filter(|scope| scope.as_str().ends_with(":read"))
                    .collect(),
            ),
            other => {
                return Err(AppError::validation(
                    "access",
                    format!("'{other}' is not full or read_only"),
                ))
            }
        };
        Ok(ApiKeyRequest {
            name,
            role,
            studio_id,
            scopes,
        })
    })())?;
    answer(engine()?.create_api_key(&caller()?, &request).await)
}

/// Revokes an API key.
#[server(output = JsonText)]
pub async fn revoke_api_key(key_id: String) -> Result<ApiKeyInfo, AppError> {
    let id = answer(ApiKeyId::parse(&key_id).map_err(|m| AppError::validation("key_id", m)))?;
    answer(engine()?.revoke_api_key(&caller()?, id).await)
}

/// The users of the owner's business.
#[server(output = JsonText)]
pub async fn list_users() -> Result<Vec<UserInfo>, AppError> {
    answer(engine()?.users(&caller()?).await)
}

/// The activity log, newest first, 50 entries before entry `before` (all newest when absent).
#[server(output = JsonText)]
pub async fn list_activity(before: Option<i64>) -> Result<Vec<ActivityEntry>, AppError> {
    answer(engine()?.activity(&caller()?, before, 50).await)
}

/// Adds a person who signs in (the owner's settings form). `studio_id` for a receptionist,
/// `employee_id` for an employee; the initial password has at least 12 characters.
#[server(output = JsonText)]
pub async fn create_user(
    email: String,
    name: String,
    role: String,
    studio_id: Option<String>,
    employee_id: Option<String>,
    password: String,
) -> Result<UserInfo, AppError> {
    let request = answer((|| -> Result<UserRequest, AppError> {
        let role = Role::parse(&role).map_err(|m| AppError::validation("role", m))?;
        let keep =
            |wanted: bool, text: Option<String>| text.filter(|t| wanted && !t.trim().is_empty());
        Ok(UserRequest {
            email,
            name,
            studio_id: keep(role == Role::Receptionist, studio_id)
                .map(|t| StudioId::parse(&t).map_err(|m| AppError::validation("studio_id", m)))
                .transpose()?,
            employee_id: keep(role == Role::Employee, employee_id)
                .map(|t| EmployeeId::parse(&t).map_err(|m| AppError::validation("employee_id", m)))
                .transpose()?,
            role,
            password,
        })
    })())?;
    answer(engine()?.create_user(&caller()?, &request).await)
}

/// Deactivates (`active` = "false") or reactivates a user; deactivating ends their sessions.
#[server(output = JsonText)]
pub async fn set_user_active(user_id: String, active: String) -> Result<UserInfo, AppError> {
    let id = answer(UserId::parse(&user_id).map_err(|m| AppError::validation("user_id", m)))?;
    answer(
        engine()?
            .set_user_active(&caller()?, id, active == "true")
            .await,
    )
}

/// Payments for the operator page, newest change first (optionally of one state).
#[server(output = JsonText)]
pub async fn list_payments(state: Option<String>) -> Result<Vec<Payment>, AppError> {
    let state = match state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(PaymentState::parse(text).map_err(|m| AppError::validation("state", m))?)
        }
        None => None,
    };
    answer(engine()?.payments(&caller()?, None, state, 200).await)
}

/// The inbox counts and its parked events (oldest first), for the operator page.
#[server(output = JsonText)]
pub async fn payment_inbox() -> Result<(InboxSummary, Vec<InboxEvent>), AppError> {
    let engine = engine()?;
    let caller = caller()?;
    let summary = answer(engine.inbox_summary(&caller).await)?;
    let parked = answer(
        engine
            .payment_inbox(&caller, InboxStatus::Parked, 200)
            .await,
    )?;
    Ok((summary, parked))
}

/// An operator's action on a payment; `amount` in CHF (e.g. "12.50"), needed for actions that
/// move money.
#[server(output = JsonText)]
pub async fn act_on_payment(
    idempotency_key: String,
    payment_id: String,
    action: String,
    amount: Option<String>,
    expected_version: String,
) -> Result<Payment, AppError> {
    let id = PaymentId::parse(&payment_id).map_err(|m| AppError::validation("payment_id", m))?;
    let action = PaymentAction::parse(&action).map_err(|m| AppError::validation("action", m))?;
    let amount = match amount.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(parse_money("amount", text, false)?),
        None => None,
    };
    let expected_version = expected_version
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::validation("expected_version", "reload the page"))?;
    let request = PaymentActionRequest {
        action,
        amount,
        expected_version,
    };
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(engine.act_on_payment(&caller, &key, id, &request).await)
}

/// The webhook portal's data: the business's endpoints, and for each its latest messages
/// (newest first, at most 20) with their delivery receipts.
#[server(output = JsonText)]
pub async fn webhook_portal() -> Result<Vec<(WebhookEndpoint, Vec<WebhookMessageDetail>)>, AppError>
{
    let engine = engine()?;
    let caller = caller()?;
    let endpoints = answer(engine.webhook_endpoints(&caller).await)?;
    let mut portal = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let messages = answer(
            engine
                .webhook_messages(&caller, endpoint.id, None, 20)
                .await,
        )?;
        let mut details = Vec::with_capacity(messages.len());
        for message in messages {
            details.push(answer(engine.webhook_message(&caller, message.id).await)?);
        }
        portal.push((endpoint, details));
    }
    Ok(portal)
}

/// Registers an endpoint from the portal form; `event_types` is comma-separated (empty: every
/// type); `ordered` is present when the box is ticked.
#[server(output = JsonText)]
pub async fn add_webhook_endpoint(
    url: String,
    description: Option<String>,
    event_types: Option<String>,
    ordered: Option<String>,
) -> Result<CreatedWebhookEndpoint, AppError> {
    let request = WebhookEndpointRequest {
        url,
        description: description.unwrap_or_default(),
        event_types: event_types
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        ordered: ordered.is_some(),
        retry_schedule_secs: None,
        timeout_secs: None,
    };
    answer(
        engine()?
            .create_webhook_endpoint(&caller()?, &request)
            .await,
    )
}

#[cfg(feature = "ssr")]
fn webhook_endpoint_id(raw: &str) -> Result<WebhookEndpointId, AppError> {
    answer(WebhookEndpointId::parse(raw).map_err(|m| AppError::validation("endpoint_id", m)))
}

/// What the portal's buttons on an endpoint do: `test` (send a test event), `rotate` (rotate
/// the secret), `redrive` (the dead-letter queue), `secret` (show the secret), `enable`,
/// `disable` (with the version the page showed). Answers a sentence for the page.
#[server(output = JsonText)]
pub async fn webhook_endpoint_action(
    endpoint_id: String,
    action: String,
    expected_version: String,
) -> Result<String, AppError> {
    let engine = engine()?;
    let caller = caller()?;
    let id = webhook_endpoint_id(&endpoint_id)?;
    match action.as_str() {
        "test" => {
            let message = answer(engine.send_webhook_test(&caller, id).await)?;
            Ok(format!(
                "Test event {} queued; it is sent within a few seconds.",
                message.webhook_id
            ))
        }
        "rotate" => {
            let secret = answer(engine.rotate_webhook_secret(&caller, id).await)?;
            Ok(format!(
                "New signing secret: {} (the previous one also signs until {}).",
                secret.secret,
                secret
                    .previous_valid_until
                    .map(crate::components::utc_minute)
                    .unwrap_or_default()
            ))
        }
        "secret" => {
            let secret = answer(engine.webhook_secret(&caller, id).await)?;
            Ok(format!("Signing secret: {}", secret.secret))
        }
        "redrive" => {
            let redriven = answer(engine.redrive_webhook_endpoint(&caller, id).await)?;
            Ok(format!(
                "{redriven} dead-lettered message(s) scheduled again."
            ))
        }
        "enable" | "disable" => {
            let expected_version = answer(
                expected_version
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| AppError::validation("expected_version", "reload the page")),
            )?;
            let update = WebhookEndpointUpdate {
                expected_version,
                enabled: Some(action == "enable"),
                ..WebhookEndpointUpdate::default()
            };
            let endpoint = answer(engine.update_webhook_endpoint(&caller, id, &update).await)?;
            Ok(format!(
                "{} is now {}.",
                endpoint.url,
                if endpoint.enabled { "enabled" } else { "disabled" }
            ))
        }
        other => Err(answer_error(AppError::validation(
            "action",
            format!("'{other}' is not an endpoint action (test, rotate, secret, redrive, enable, disable)"),
        ))),
    }
}

/// Sends a delivered or dead-lettered message again.
#[server(output = JsonText)]
pub async fn resend_webhook_message(message_id: String) -> Result<WebhookMessage, AppError> {
    let id = answer(
        WebhookMessageId::parse(&message_id).map_err(|m| AppError::validation("message_id", m)),
    )?;
    answer(engine()?.resend_webhook_message(&caller()?, id).await)
}

// Settlements (issue 9)

/// The wire name of a settlement action (`resolve_paid`), as the JSON API spells it: the value
/// of the page's action buttons.
pub fn settlement_action_name(action: SettlementAction) -> &'static str {
    match action {
        SettlementAction::Send => "send",
        SettlementAction::Confirm => "confirm",
        SettlementAction::Flag => "flag",
        SettlementAction::Fail => "fail",
        SettlementAction::ResolvePaid => "resolve_paid",
        SettlementAction::Reissue => "reissue",
        SettlementAction::WriteOff => "write_off",
    }
}

/// `text` as one of the actions a person may take (the engine refuses the others again).
#[cfg(feature = "ssr")]
fn settlement_action(text: &str) -> Result<SettlementAction, AppError> {
    SettlementAction::ALL
        .into_iter()
        .find(|action| settlement_action_name(*action) == text.trim())
        .ok_or_else(|| {
            AppError::validation(
                "action",
                format!("'{text}' is not a settlement action (confirm, fail, resolve_paid, reissue, write_off)"),
            )
        })
}

/// The text of an optional form field, `None` when it is absent or blank.
#[cfg(feature = "ssr")]
fn filled(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// The settlement overview of the caller's studios: what needs a person, what is on its way,
/// the bank files and the unmatched statement lines.
#[server(output = JsonText)]
pub async fn get_settlement_overview() -> Result<SettlementOverview, AppError> {
    answer(engine()?.settlement_overview(&caller()?).await)
}

/// The statement imports of the caller's studios that have not finished (how many lines of
/// how many are matched): the settlements page polls it while its import goes on.
#[server(output = JsonText)]
pub async fn unfinished_statement_imports() -> Result<Vec<StatementImportProgress>, AppError> {
    answer(engine()?.unfinished_statement_imports(&caller()?).await)
}

/// Writes a studio's pain.001 bank file of its scheduled bank payouts; `execution_date` is
/// YYYY-MM-DD or empty (the next bank business day).
#[server(output = JsonText)]
pub async fn create_bank_file(
    idempotency_key: String,
    studio_id: String,
    execution_date: Option<String>,
) -> Result<BankFile, AppError> {
    let request = answer((|| -> Result<BankFileRequest, AppError> {
        Ok(BankFileRequest {
            studio_id: StudioId::parse(&studio_id)
                .map_err(|m| AppError::validation("studio_id", m))?,
            execution_date: filled(execution_date)
                .map(|text| parse_iso_date("execution_date", &text))
                .transpose()?,
        })
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.create_bank_file(&caller, &key, &request)).await)
}

/// Imports a camt.053 statement or camt.054 notification (the XML text); importing the same
/// file again changes nothing.
#[server(output = JsonText)]
pub async fn import_bank_statement(document: String) -> Result<StatementImport, AppError> {
    if document.trim().is_empty() {
        return Err(answer_error(AppError::validation(
            "document",
            "choose the statement file (or paste its XML)",
        )));
    }
    answer(engine()?.import_bank_statement(&caller()?, &document).await)
}

/// A person's action on a settlement item: `action` is confirm, fail, resolve_paid, reissue
/// or write_off; `bank_reference` and `note` record what the bank said; `line_id` (optional,
/// confirm only) is the statement line that shows the money.
#[server(output = JsonText)]
pub async fn act_on_settlement_item(
    idempotency_key: String,
    item_id: String,
    action: String,
    expected_version: String,
    bank_reference: Option<String>,
    note: Option<String>,
    line_id: Option<String>,
) -> Result<SettlementItem, AppError> {
    let (id, request) = answer((|| -> Result<_, AppError> {
        let id =
            SettlementItemId::parse(&item_id).map_err(|m| AppError::validation("item_id", m))?;
        let request = SettlementActionRequest {
            action: settlement_action(&action)?,
            expected_version: expected_version
                .trim()
                .parse::<i64>()
                .map_err(|_| AppError::validation("expected_version", "reload the page"))?,
            bank_reference: filled(bank_reference),
            note: filled(note),
            line_id: filled(line_id)
                .map(|text| {
                    StatementLineId::parse(&text).map_err(|m| AppError::validation("line_id", m))
                })
                .transpose()?,
        };
        Ok((id, request))
    })())?;
    let engine = engine()?;
    let caller = caller()?;
    let key = key(&idempotency_key)?;
    answer(wait_for_first(|| engine.act_on_settlement_item(&caller, &key, id, &request)).await)
}

/// Takes a statement line off the manual-matching list with a note (it is not a settlement).
#[server(output = JsonText)]
pub async fn dismiss_statement_line(
    line_id: String,
    note: String,
) -> Result<StatementLine, AppError> {
    let id =
        answer(StatementLineId::parse(&line_id).map_err(|m| AppError::validation("line_id", m)))?;
    answer(
        engine()?
            .dismiss_statement_line(&caller()?, id, &DismissLineRequest { note })
            .await,
    )
}

/// Sets the IBAN an employee's bank payouts go to (a QR-IBAN is refused).
#[server(output = JsonText)]
pub async fn set_employee_bank_account(employee_id: String, iban: String) -> Result<(), AppError> {
    let id = answer(
        EmployeeId::parse(&employee_id).map_err(|m| AppError::validation("employee_id", m)),
    )?;
    let request = BankAccountRequest { iban, holder: None };
    answer(
        engine()?
            .set_employee_bank_account(&caller()?, id, &request)
            .await,
    )
}

/// Sets the account a studio's bank files pay from, and its holder's name (empty: the studio's
/// name).
#[server(output = JsonText)]
pub async fn set_studio_bank_account(
    studio_id: String,
    iban: String,
    holder: Option<String>,
) -> Result<(), AppError> {
    let id = answer(StudioId::parse(&studio_id).map_err(|m| AppError::validation("studio_id", m)))?;
    let request = BankAccountRequest {
        iban,
        holder: filled(holder),
    };
    answer(
        engine()?
            .set_studio_bank_account(&caller()?, id, &request)
            .await,
    )
}

/// The bank transfers of an employee's payouts, newest first (employees: only their own).
#[server(output = JsonText)]
pub async fn list_payout_settlements(employee_id: String) -> Result<Vec<SettlementItem>, AppError> {
    let id = answer(
        EmployeeId::parse(&employee_id).map_err(|m| AppError::validation("employee_id", m)),
    )?;
    answer(engine()?.payout_settlements(&caller()?, id).await)
}

#[cfg(test)]
mod settlement_tests {
    use super::*;

    #[test]
    fn settlement_action_names_are_the_json_names() {
        for action in SettlementAction::ALL {
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(serde_json::Value::String(
                    settlement_action_name(action).to_string()
                )),
                "{action:?}"
            );
        }
    }
}

/// The Exports page: how many rows each CSV export has for the business days `from ..= to`
/// (YYYY-MM-DD; empty: this year so far, Europe/Zurich) of one studio (`studio_id`, empty for
/// every studio of the caller).
///
/// Errors: 422 naming `from`, `to` or `studio_id`; 403 unless the caller may export the books.
#[server(output = JsonText)]
pub async fn export_overview(
    from: String,
    to: String,
    studio_id: String,
) -> Result<crate::domain::export::ExportOverview, AppError> {
    use crate::domain::export::{ExportDataset, ExportOverview, ExportSummary};
    use crate::engine::exports::{ExportPeriod, ExportRequest};
    use chrono::Datelike as _;
    let engine = engine()?;
    let caller = caller()?;
    answer(
        async {
            let today = crate::engine::today();
            let to = match to.trim() {
                "" => today,
                text => parse_iso_date("to", text)?,
            };
            let from = match from.trim() {
                "" => NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to),
                text => parse_iso_date("from", text)?,
            };
            let period = ExportPeriod::new(from, to)?;
            let studio = match studio_id.trim() {
                "" => None,
                text => {
                    Some(StudioId::parse(text).map_err(|m| AppError::validation("studio_id", m))?)
                }
            };
            let mut datasets = Vec::with_capacity(ExportDataset::ALL.len());
            for dataset in ExportDataset::ALL {
                let request = ExportRequest {
                    dataset,
                    period,
                    studio,
                };
                let rows = engine.export_row_count(&caller, &request).await?;
                datasets.push(ExportSummary { dataset, rows });
            }
            Ok(ExportOverview {
                from: from.to_string(),
                to: to.to_string(),
                studio_id: studio.map(|id| id.to_string()),
                datasets,
            })
        }
        .await,
    )
}
