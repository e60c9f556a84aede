//! Who may do what: the roles, the actions (use cases) of the product, the API key scopes, and the
//! one table that says which role may perform which action. The engine enforces it on every call
//! (`engine::access`); the WASM UI reads the same table to offer only what the signed-in person
//! may do. Hiding a button is a courtesy; the engine's refusal is the rule.

use super::ids::{ApiKeyId, EmployeeId, StudioId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A person's role (issue 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum Role {
    /// Everything in the studios of their business: payouts, audits, alerts, settings, users.
    Owner,
    /// One studio: register services, run the till, prepare, commit and finish payouts of that
    /// studio. No settings, no other studio.
    Receptionist,
    /// Read-only: their own payouts and records.
    Employee,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Owner, Role::Receptionist, Role::Employee];

    /// The stored and wire name (`owner`, `receptionist`, `employee`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Receptionist => "receptionist",
            Role::Employee => "employee",
        }
    }

    /// Parses a stored or typed role name. Errors name the accepted values.
    pub fn parse(text: &str) -> Result<Role, String> {
        match text.trim() {
            "owner" => Ok(Role::Owner),
            "receptionist" => Ok(Role::Receptionist),
            "employee" => Ok(Role::Employee),
            other => Err(format!(
                "'{other}' is not a role (owner, receptionist, employee)"
            )),
        }
    }

    /// Whether this role may perform `action` at all (the studio and employee scope is checked
    /// separately, against the data). Every (role, action) pair is enumerated: a new action must
    /// be decided for each role.
    pub fn may(self, action: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Receptionist => match action {
                ReadCatalog | ReadRecords | RegisterService | RefundService | RegisterDay
                | PreviewPayout | CommitPayout | FinishPayout | ReadPayouts | ReadAttention
                | ReadTill | OperateTill | ReadPayments | ReadLiveFeed => true,
                CancelPayout | ReadLedger | RunAudit | ReadAudits | ReadNotifications
                | ManageUsers | ManageApiKeys | ReadActivity | IngestPaymentEvents
                | OperatePayments | ReadWebhooks | ManageWebhooks | ReadSettlements
                | ManageSettlements | ExportBooks | ReadDashboard => false,
            },
            Role::Employee => match action {
                ReadCatalog | ReadRecords | ReadPayouts => true,
                RegisterService | RefundService | RegisterDay | PreviewPayout | CommitPayout
                | FinishPayout | CancelPayout | ReadAttention | ReadTill | OperateTill
                | ReadLedger | RunAudit | ReadAudits | ReadNotifications | ManageUsers
                | ManageApiKeys | ReadActivity | ReadPayments | IngestPaymentEvents
                | OperatePayments | ReadWebhooks | ManageWebhooks | ReadLiveFeed
                | ReadSettlements | ManageSettlements | ExportBooks | ReadDashboard => false,
            },
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every use case the engine offers, as authorisation sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Studios, services, employees (an employee sees only themselves).
    ReadCatalog,
    /// Service records and working days.
    ReadRecords,
    /// Register a performed service.
    RegisterService,
    /// Refund a registered service.
    RefundService,
    /// Record a working day (deduction, guaranteed minimum).
    RegisterDay,
    /// Preview a payout (writes nothing).
    PreviewPayout,
    /// Create and commit a payout.
    CommitPayout,
    /// Resume a pending or failed payout (Finish payout).
    FinishPayout,
    /// Void a failed payout and release its records.
    CancelPayout,
    /// Payouts and their lines.
    ReadPayouts,
    /// The red banner: payouts needing attention.
    ReadAttention,
    /// The till session and its Z report.
    ReadTill,
    /// Open, move cash in and out of, and close the till.
    OperateTill,
    /// Ledger balances and transfers.
    ReadLedger,
    /// Run an audit.
    RunAudit,
    /// Audit runs and findings.
    ReadAudits,
    /// Telegram messages and their delivery state.
    ReadNotifications,
    /// Create and deactivate users.
    ManageUsers,
    /// Create, list and revoke API keys.
    ManageApiKeys,
    /// Browse the activity log.
    ReadActivity,
    /// Payments, the payment-event inbox and its parked events.
    ReadPayments,
    /// Deliver payment events from a provider (the ingestion endpoints).
    IngestPaymentEvents,
    /// Act on a payment by hand (the operator page) and create draft payments.
    OperatePayments,
    /// Webhook endpoints, their messages and delivery receipts.
    ReadWebhooks,
    /// Register, change and disable endpoints; rotate secrets; resend, redrive, send tests.
    ManageWebhooks,
    /// Watch the live feed of domain events (`/api/v1/events/stream`, the Live page), limited to
    /// the caller's studios.
    ReadLiveFeed,
    /// Settlement items and batches, bank files, imported statements and their unmatched lines.
    ReadSettlements,
    /// Write bank files, import bank statements, resolve settlement items, set bank details and
    /// settlement terms.
    ManageSettlements,
    /// Download the books as CSV for the accountant (payouts, payout lines, ledger postings,
    /// Z reports of a period).
    ExportBooks,
    /// The owner dashboard: revenue, commission, tips and payouts per employee and per week or
    /// month. The business's takings are the owner's, not the desk's.
    ReadDashboard,
}

impl Permission {
    /// Every action.
    pub const ALL: [Permission; 30] = [
        Permission::ReadCatalog,
        Permission::ReadRecords,
        Permission::RegisterService,
        Permission::RefundService,
        Permission::RegisterDay,
        Permission::PreviewPayout,
        Permission::CommitPayout,
        Permission::FinishPayout,
        Permission::CancelPayout,
        Permission::ReadPayouts,
        Permission::ReadAttention,
        Permission::ReadTill,
        Permission::OperateTill,
        Permission::ReadLedger,
        Permission::RunAudit,
        Permission::ReadAudits,
        Permission::ReadNotifications,
        Permission::ManageUsers,
        Permission::ManageApiKeys,
        Permission::ReadActivity,
        Permission::ReadPayments,
        Permission::IngestPaymentEvents,
        Permission::OperatePayments,
        Permission::ReadWebhooks,
        Permission::ManageWebhooks,
        Permission::ReadLiveFeed,
        Permission::ReadSettlements,
        Permission::ManageSettlements,
        Permission::ExportBooks,
        Permission::ReadDashboard,
    ];

    /// What the action is, for refusals ("… may not cancel payouts").
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadCatalog => "read the studios, services and employees",
            Permission::ReadRecords => "read service records and working days",
            Permission::RegisterService => "register services",
            Permission::RefundService => "refund services",
            Permission::RegisterDay => "record working days",
            Permission::PreviewPayout => "preview payouts",
            Permission::CommitPayout => "commit payouts",
            Permission::FinishPayout => "finish payouts",
            Permission::CancelPayout => "cancel payouts",
            Permission::ReadPayouts => "read payouts",
            Permission::ReadAttention => "see the payouts needing attention",
            Permission::ReadTill => "see the till",
            Permission::OperateTill => "operate the till",
            Permission::ReadLedger => "read the ledger",
            Permission::RunAudit => "run audits",
            Permission::ReadAudits => "read audits",
            Permission::ReadNotifications => "read the alert messages",
            Permission::ManageUsers => "manage users",
            Permission::ManageApiKeys => "manage API keys",
            Permission::ReadActivity => "read the activity log",
            Permission::ReadPayments => "read payments and payment events",
            Permission::IngestPaymentEvents => "deliver payment events",
            Permission::OperatePayments => "act on payments",
            Permission::ReadWebhooks => "read webhook endpoints and deliveries",
            Permission::ManageWebhooks => "manage webhook endpoints",
            Permission::ReadLiveFeed => "watch the live feed",
            Permission::ReadSettlements => "read settlements and bank files",
            Permission::ManageSettlements => "manage bank files, statements and settlements",
            Permission::ExportBooks => "export the books",
            Permission::ReadDashboard => "read the dashboard of revenue, commission and payouts",
        }
    }

    /// The API key scope that grants the action, or `None` when no API key may ever perform it
    /// (users, API keys and the activity log are managed by signed-in owners only).
    pub fn scope(self) -> Option<ApiScope> {
        match self {
            Permission::ReadCatalog => Some(ApiScope::CatalogRead),
            Permission::ReadRecords => Some(ApiScope::ServiceRecordsRead),
            Permission::RegisterService | Permission::RefundService | Permission::RegisterDay => {
                Some(ApiScope::ServiceRecordsWrite)
            }
            Permission::PreviewPayout | Permission::ReadPayouts | Permission::ReadAttention => {
                Some(ApiScope::PayoutsRead)
            }
            Permission::CommitPayout | Permission::FinishPayout | Permission::CancelPayout => {
                Some(ApiScope::PayoutsWrite)
            }
            Permission::ReadTill => Some(ApiScope::TillRead),
            Permission::OperateTill => Some(ApiScope::TillWrite),
            // The dashboard sums what the books hold: a key that may read the ledger may read
            // its sums, and keys made before the dashboard existed keep working.
            Permission::ReadLedger | Permission::ReadDashboard => Some(ApiScope::LedgerRead),
            Permission::RunAudit => Some(ApiScope::AuditsWrite),
            Permission::ReadAudits => Some(ApiScope::AuditsRead),
            Permission::ReadNotifications => Some(ApiScope::NotificationsRead),
            Permission::ReadPayments => Some(ApiScope::PaymentsRead),
            Permission::IngestPaymentEvents => Some(ApiScope::PaymentEventsWrite),
            Permission::OperatePayments => Some(ApiScope::PaymentsWrite),
            Permission::ReadWebhooks => Some(ApiScope::WebhooksRead),
            Permission::ManageWebhooks => Some(ApiScope::WebhooksWrite),
            Permission::ReadLiveFeed => Some(ApiScope::EventsRead),
            Permission::ReadSettlements => Some(ApiScope::SettlementsRead),
            Permission::ManageSettlements => Some(ApiScope::SettlementsWrite),
            Permission::ExportBooks => Some(ApiScope::ExportsRead),
            Permission::ManageUsers | Permission::ManageApiKeys | Permission::ReadActivity => None,
        }
    }
}

/// What an API key may do, on top of its role (a key never exceeds its role).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ApiScope {
    /// `catalog:read`: studios, services, employees.
    #[serde(rename = "catalog:read")]
    CatalogRead,
    /// `service_records:read`: service records and working days.
    #[serde(rename = "service_records:read")]
    ServiceRecordsRead,
    /// `service_records:write`: register and refund services, record working days.
    #[serde(rename = "service_records:write")]
    ServiceRecordsWrite,
    /// `payouts:read`: payouts, lines, previews.
    #[serde(rename = "payouts:read")]
    PayoutsRead,
    /// `payouts:write`: commit, finish, cancel payouts.
    #[serde(rename = "payouts:write")]
    PayoutsWrite,
    /// `till:read`.
    #[serde(rename = "till:read")]
    TillRead,
    /// `till:write`: open, cash in/out, close.
    #[serde(rename = "till:write")]
    TillWrite,
    /// `ledger:read`: balances and transfers, and the dashboard's sums of them.
    #[serde(rename = "ledger:read")]
    LedgerRead,
    /// `audits:read`.
    #[serde(rename = "audits:read")]
    AuditsRead,
    /// `audits:write`: run an audit.
    #[serde(rename = "audits:write")]
    AuditsWrite,
    /// `notifications:read`.
    #[serde(rename = "notifications:read")]
    NotificationsRead,
    /// `payments:read`: payments, the inbox, parked events.
    #[serde(rename = "payments:read")]
    PaymentsRead,
    /// `payments:write`: operator actions on payments, draft payments.
    #[serde(rename = "payments:write")]
    PaymentsWrite,
    /// `payment_events:write`: deliver provider events (ingestion).
    #[serde(rename = "payment_events:write")]
    PaymentEventsWrite,
    /// `webhooks:read`: endpoints, messages, delivery receipts.
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    /// `webhooks:write`: manage endpoints, rotate secrets, resend and redrive messages.
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    /// `events:read`: the live feed of domain events (server-sent events).
    #[serde(rename = "events:read")]
    EventsRead,
    /// `settlements:read`: settlement items, bank files, statements.
    #[serde(rename = "settlements:read")]
    SettlementsRead,
    /// `settlements:write`: write bank files, import statements, resolve items, bank details.
    #[serde(rename = "settlements:write")]
    SettlementsWrite,
    /// `exports:read`: CSV exports of payouts, payout lines, ledger postings and Z reports.
    #[serde(rename = "exports:read")]
    ExportsRead,
}

impl ApiScope {
    /// Every scope.
    pub const ALL: [ApiScope; 20] = [
        ApiScope::CatalogRead,
        ApiScope::ServiceRecordsRead,
        ApiScope::ServiceRecordsWrite,
        ApiScope::PayoutsRead,
        ApiScope::PayoutsWrite,
        ApiScope::TillRead,
        ApiScope::TillWrite,
        ApiScope::LedgerRead,
        ApiScope::AuditsRead,
        ApiScope::AuditsWrite,
        ApiScope::NotificationsRead,
        ApiScope::PaymentsRead,
        ApiScope::PaymentsWrite,
        ApiScope::PaymentEventsWrite,
        ApiScope::WebhooksRead,
        ApiScope::WebhooksWrite,
        ApiScope::EventsRead,
        ApiScope::SettlementsRead,
        ApiScope::SettlementsWrite,
        ApiScope::ExportsRead,
    ];

    /// The wire name, e.g. `payouts:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::CatalogRead => "catalog:read",
            ApiScope::ServiceRecordsRead => "service_records:read",
            ApiScope::ServiceRecordsWrite => "service_records:write",
            ApiScope::PayoutsRead => "payouts:read",
            ApiScope::PayoutsWrite => "payouts:write",
            ApiScope::TillRead => "till:read",
            ApiScope::TillWrite => "till:write",
            ApiScope::LedgerRead => "ledger:read",
            ApiScope::AuditsRead => "audits:read",
            ApiScope::AuditsWrite => "audits:write",
            ApiScope::NotificationsRead => "notifications:read",
            ApiScope::PaymentsRead => "payments:read",
            ApiScope::PaymentsWrite => "payments:write",
            ApiScope::PaymentEventsWrite => "payment_events:write",
            ApiScope::WebhooksRead => "webhooks:read",
            ApiScope::WebhooksWrite => "webhooks:write",
            ApiScope::EventsRead => "events:read",
            ApiScope::SettlementsRead => "settlements:read",
            ApiScope::SettlementsWrite => "settlements:write",
            ApiScope::ExportsRead => "exports:read",
        }
    }

    /// Parses a wire name. Errors list the accepted scopes.
    pub fn parse(text: &str) -> Result<ApiScope, String> {
        ApiScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = ApiScope::ALL.iter().map(|s| s.as_str()).collect();
                format!("'{text}' is not a scope ({})", names.join(", "))
            })
    }

    /// The scopes a key of `role` can hold: those of the actions the role may perform.
    pub fn granted_to(role: Role) -> Vec<ApiScope> {
        ApiScope::ALL
            .into_iter()
            .filter(|scope| {
                Permission::ALL
                    .iter()
                    .any(|action| action.scope() == Some(*scope) && role.may(*action))
            })
            .collect()
    }
}

impl fmt::Display for ApiScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed-in person, as the UI sees them (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    /// Sign-in email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// A receptionist's studio.
    pub studio_id: Option<StudioId>,
    /// An employee's own employee id.
    pub employee_id: Option<EmployeeId>,
    /// The language they chose for the UI; `None` (or absent): the browser's language decides.
    #[serde(default)]
    pub language: Option<super::Language>,
}

impl Me {
    /// Whether the UI should offer `action` (the engine decides again on the request).
    pub fn may(&self, action: Permission) -> bool {
        self.role.may(action)
    }

    /// Refuses `action` unless the role allows it, the way the engine would: the page that
    /// checks before asking the server shows the same refusal the server would have sent.
    ///
    /// Errors: 403 [`Problem::NotPermitted`](super::Problem::NotPermitted) naming the role.
    pub fn require(&self, action: Permission) -> Result<(), super::AppError> {
        if self.may(action) {
            return Ok(());
        }
        Err(super::AppError::denied_with(
            403,
            super::Problem::NotPermitted {
                action,
                refusal: super::PermissionRefusal::Role { role: self.role },
            },
        ))
    }
}

/// An API key as listed (never the key itself).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiKeyInfo {
    /// Id.
    pub id: ApiKeyId,
    /// Name given at creation.
    pub name: String,
    /// The key's public prefix (`pe_<prefix>_…`), to recognise it.
    pub prefix: String,
    /// Role.
    pub role: Role,
    /// A receptionist key's studio.
    pub studio_id: Option<StudioId>,
    /// Scopes.
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub scopes: Vec<ApiScope>,
    /// When created (UTC).
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// When revoked (UTC), if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use (UTC, to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A created API key: shown once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    /// The key as listed from now on.
    pub info: ApiKeyInfo,
    /// The key itself, `pe_<prefix>_<secret>`: shown now and never again.
    pub key: String,
}

/// What creating an API key needs.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    /// A name saying what uses it, e.g. "booking system".
    pub name: String,
    /// `owner` or `receptionist`.
    pub role: Role,
    /// Required for a receptionist key: the studio it works for.
    #[serde(default)]
    pub studio_id: Option<StudioId>,
    /// Scopes; default every scope the role allows.
    #[serde(default)]
    pub scopes: Option<Vec<ApiScope>>,
}

/// What creating a user needs.
// No Debug: it carries a password.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// Sign-in email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// A receptionist's studio.
    #[serde(default)]
    pub studio_id: Option<StudioId>,
    /// An employee's employee id.
    #[serde(default)]
    pub employee_id: Option<EmployeeId>,
    /// The initial password (at least [`MIN_PASSWORD_CHARS`](crate::engine::auth::MIN_PASSWORD_CHARS) characters).
    pub password: String,
}

/// A user as listed (no hash).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserInfo {
    /// Id.
    pub id: UserId,
    /// Sign-in email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// A receptionist's studio.
    pub studio_id: Option<StudioId>,
    /// An employee's employee id.
    pub employee_id: Option<EmployeeId>,
    /// Whether they may sign in.
    pub active: bool,
    /// Whether the password is still the published demo one.
    pub demo_credentials: bool,
}

/// One entry of the activity log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ActivityEntry {
    /// Position in the log (monotonic).
    pub id: i64,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// `user:<uuid>`, `api_key:<uuid>`, `operator:<label>`.
    pub actor: String,
    /// Email, key name or operator label.
    pub actor_label: String,
    /// The actor's role.
    pub role: String,
    /// What was done, e.g. `payout.commit`.
    pub action: String,
    /// What kind of thing changed.
    pub entity_type: String,
    /// Its id.
    pub entity_id: Option<String>,
    /// Its studio.
    pub studio_id: Option<StudioId>,
    /// The request's idempotency key (namespaced by the actor).
    pub idempotency_key: Option<String>,
    /// The state before, as JSON text.
    pub before_state: Option<String>,
    /// The state after, as JSON text.
    pub after_state: Option<String>,
}

/// Masks personal data (an IBAN, a phone number, a Telegram chat id) for logs and for callers
/// who do not need it: every character but the last 4 becomes `•`, and anything of 4 or fewer
/// characters is masked entirely. `CH93 0076 2011 6238 5295 7` becomes `•••••••••••••••••••95 7`.
pub fn mask_personal(text: &str) -> String {
    let count = text.chars().count();
    let keep = if count > 4 { 4 } else { 0 };
    text.chars()
        .enumerate()
        .map(|(i, c)| if i < count - keep { '•' } else { c })
        .collect()
}

/// Where to send someone after signing in or choosing a language: `next` when it is a path on this
/// site (`/payouts?state=failed`), `/` otherwise. Refuses `//host` and `/\\host` (browsers read
/// both as another site: an open redirect, OWASP's "unvalidated redirects and forwards") and
/// control characters (browsers strip tabs and line breaks from URLs, which turns `/\t/host` into
/// `//host`). One rule for the sign-in page (WASM) and the server's `POST /language`.
pub fn local_redirect_target(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        Some(_) | None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receptionist_runs_the_desk_but_cannot_cancel_payouts_or_read_the_books() {
        for action in [
            Permission::RegisterService,
            Permission::CommitPayout,
            Permission::FinishPayout,
            Permission::OperateTill,
        ] {
            assert!(Role::Receptionist.may(action), "{action:?}");
        }
        for action in [
            Permission::CancelPayout,
            Permission::ReadLedger,
            Permission::ReadDashboard,
            Permission::RunAudit,
            Permission::ManageUsers,
            Permission::ManageApiKeys,
            Permission::ReadActivity,
        ] {
            assert!(!Role::Receptionist.may(action), "{action:?}");
        }
    }

    #[test]
    fn an_employee_only_reads() {
        let allowed: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|a| Role::Employee.may(*a))
            .collect();
        assert_eq!(
            allowed,
            vec![
                Permission::ReadCatalog,
                Permission::ReadRecords,
                Permission::ReadPayouts
            ]
        );
    }

    #[test]
    fn no_api_key_scope_reaches_user_or_key_management() {
        for action in [
            Permission::ManageUsers,
            Permission::ManageApiKeys,
            Permission::ReadActivity,
        ] {
            assert_eq!(action.scope(), None);
        }
        assert!(!ApiScope::granted_to(Role::Receptionist).contains(&ApiScope::LedgerRead));
        assert!(ApiScope::granted_to(Role::Owner).contains(&ApiScope::LedgerRead));
        assert_eq!(ApiScope::granted_to(Role::Owner).len(), ApiScope::ALL.len());
    }

    #[test]
    fn personal_data_keeps_only_its_last_four_characters() {
        assert_eq!(mask_personal("123456789"), "•••••6789");
        assert_eq!(mask_personal("1234"), "••••");
        assert_eq!(mask_personal(""), "");
    }

    #[test]
    fn scopes_and_roles_read_back_from_their_names() {
        for scope in ApiScope::ALL {
            assert_eq!(ApiScope::parse(scope.as_str()), Ok(scope));
            assert_eq!(
                serde_json::to_value(scope).ok(),
                Some(serde_json::Value::String(scope.as_str().into()))
            );
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(ApiScope::parse("payouts:delete").is_err());
    }

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        for local in [
            "/",
            "/payouts?state=failed",
            "/owner#top",
            "/reception/../owner",
        ] {
            assert_eq!(local_redirect_target(Some(local)), local);
        }
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example",
            "/\n/evil.example",
            "evil.example",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(local_redirect_target(Some(elsewhere)), "/", "{elsewhere:?}");
        }
        assert_eq!(local_redirect_target(None), "/");
    }

    #[test]
    fn a_page_refuses_a_role_with_the_engines_own_refusal() {
        use crate::domain::{AppError, PermissionRefusal, Problem};
        let employee = Me {
            email: "lara@example.ch".into(),
            name: "Lara Meier".into(),
            role: Role::Employee,
            studio_id: None,
            employee_id: None,
            language: None,
        };
        assert_eq!(employee.require(Permission::ReadPayouts), Ok(()));
        let refused = employee.require(Permission::ReadLiveFeed);
        assert_eq!(
            refused,
            Err(AppError::Denied {
                status: 403,
                code: "forbidden".into(),
                message: "an employee may not watch the live feed; ask the owner".into(),
                problem: Some(Problem::NotPermitted {
                    action: Permission::ReadLiveFeed,
                    refusal: PermissionRefusal::Role {
                        role: Role::Employee
                    },
                }),
            })
        );
    }
}
