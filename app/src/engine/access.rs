//! The caller of every use case and the checks made on their behalf. Each public engine method
//! takes a [`Caller`] and asks it first whether the action is allowed (role table in
//! [`crate::domain::access`], plus the API key's scopes), then scopes its queries to the caller's
//! studios and, for an employee, to their own employee id. A thing outside the caller's scope is
//! reported as not found, so its existence does not leak. This module also writes the
//! append-only activity log, inside the transaction of the change it describes.

use super::db::{self, Backend, DbTransaction};
use super::{db_error, now};
use crate::domain::{
    ApiKeyId, ApiScope, AppError, BusinessId, EmployeeId, Permission, PermissionRefusal, Problem,
    Role, StudioId, UserId,
};
use serde::Serialize;

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in person.
    User {
        /// Their id.
        id: UserId,
        /// Their sign-in email.
        email: String,
    },
    /// An integration with an API key.
    ApiKey {
        /// The key's id.
        id: ApiKeyId,
        /// The key's name, e.g. "booking system".
        name: String,
    },
    /// Someone at the server's console or a background worker of the server itself (`label`:
    /// `cli`, `audit-scheduler`, `demo-seed`, `test`). Never constructed from a web request.
    Operator {
        /// What runs as the operator.
        label: &'static str,
    },
}

/// The studios a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StudioScope {
    /// Every studio (the operator).
    All,
    /// These studios only (an owner: their business's; a receptionist: theirs).
    Only(std::sync::Arc<[StudioId]>),
}

/// The authenticated caller of a use case: who, in which role, over which studios (and, for an
/// employee, which employee), with which API key scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// Their role (the operator acts as an owner of every business).
    pub role: Role,
    /// Their business (`None` for the operator).
    pub business_id: Option<BusinessId>,
    /// The studios they may see.
    pub studios: StudioScope,
    /// An employee's own id: they see only their own payouts and records.
    pub employee: Option<EmployeeId>,
    /// An API key's scopes; `None` for people and the operator (their role decides alone).
    pub scopes: Option<Vec<ApiScope>>,
}

impl Caller {
    /// The operator: the command line, the server's own workers, tests. Allowed everything.
    pub fn operator(label: &'static str) -> Caller {
        Caller {
            principal: Principal::Operator { label },
            role: Role::Owner,
            business_id: None,
            studios: StudioScope::All,
            employee: None,
            scopes: None,
        }
    }

    /// The actor as stored in the activity log and idempotency namespace:
    /// `user:<uuid>`, `api_key:<uuid>`, `operator:<label>`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
            Principal::Operator { label } => format!("operator:{label}"),
        }
    }

    /// A readable name of the actor (email, key name, operator label).
    pub fn actor_label(&self) -> String {
        match &self.principal {
            Principal::User { email, .. } => email.clone(),
            Principal::ApiKey { name, .. } => format!("API key '{name}'"),
            Principal::Operator { label } => format!("operator ({label})"),
        }
    }

    /// Whether `action` is allowed by the role and, for an API key, its scopes.
    pub fn may(&self, action: Permission) -> bool {
        self.role.may(action)
            && match (&self.scopes, action.scope()) {
                (None, _) => true,
                (Some(granted), Some(needed)) => granted.contains(&needed),
                (Some(_), None) => false,
            }
    }

    /// Refuses `action` unless allowed.
    ///
    /// Errors: 403 `forbidden`, naming the role or the missing API key scope.
    pub fn require(&self, action: Permission) -> Result<(), AppError> {
        if self.may(action) {
            return Ok(());
        }
        let refusal = if !self.role.may(action) {
            PermissionRefusal::Role { role: self.role }
        } else {
            match action.scope() {
                Some(scope) => PermissionRefusal::MissingScope { scope },
                None => PermissionRefusal::NoApiKey,
            }
        };
        tracing::info!(actor = %self.actor(), ?action, "refused: not allowed");
        Err(AppError::denied_with(
            403,
            Problem::NotPermitted { action, refusal },
        ))
    }

    /// Whether the caller may see `studio`.
    pub fn sees_studio(&self, studio: StudioId) -> bool {
        match &self.studios {
            StudioScope::All => true,
            StudioScope::Only(studios) => studios.contains(&studio),
        }
    }

    /// Whether the caller may see data of `employee` working at `studio`.
    pub fn sees(&self, studio: StudioId, employee: EmployeeId) -> bool {
        self.sees_studio(studio) && self.employee.is_none_or(|own| own == employee)
    }

    /// Refuses `action` on a studio the caller may not see (403: studio ids are not secret
    /// inside a business, and the caller named it).
    pub fn require_studio(&self, action: Permission, studio: StudioId) -> Result<(), AppError> {
        self.require(action)?;
        if self.sees_studio(studio) {
            Ok(())
        } else {
            tracing::info!(actor = %self.actor(), %studio, ?action, "refused: another studio");
            Err(AppError::denied_with(
                403,
                Problem::NotPermitted {
                    action,
                    refusal: PermissionRefusal::OtherStudio,
                },
            ))
        }
    }

    /// The studio filter for SQL: `NULL` for every studio, else a JSON array of the studio ids
    /// as 32 hex digits, to use with [`studio_condition`].
    pub fn studio_filter(&self) -> Option<String> {
        match &self.studios {
            StudioScope::All => None,
            StudioScope::Only(studios) => Some(
                serde_json::Value::Array(
                    studios
                        .iter()
                        .map(|s| serde_json::Value::String(s.0.simple().to_string()))
                        .collect(),
                )
                .to_string(),
            ),
        }
    }
}

/// The outcome of authenticating a request, placed in its extensions by the server's
/// authentication layer for the JSON API and the server functions.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who is asking.
    pub caller: Caller,
    /// A signed-in person (absent for an API key).
    pub me: Option<crate::domain::Me>,
}

/// The client's IP address (the TCP peer), placed in the request's extensions by the server for
/// the per-IP sign-in limit.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

/// SQL condition scoping rows to the caller's studios; `$n` is bound to
/// [`Caller::studio_filter`].
pub fn studio_condition(backend: Backend, column: &str, parameter: usize) -> String {
    backend.id_in_json_array(column, parameter)
}

/// One line of the activity log, written with [`record`].
pub struct Activity<'a> {
    /// What was done, e.g. `payout.commit`, `service_record.register`.
    pub action: &'a str,
    /// The kind of thing changed, e.g. `payout`.
    pub entity_type: &'a str,
    /// Its id.
    pub entity_id: Option<String>,
    /// The studio it belongs to.
    pub studio_id: Option<StudioId>,
    /// The client's idempotency key of the request, if it had one.
    pub idempotency_key: Option<&'a str>,
}

/// Appends an entry to the activity log inside `tx` (so the entry exists exactly when the change
/// does). `before`/`after` are the states as JSON (`None` when there was nothing before, e.g. a
/// new record).
///
/// Errors: 500 when a state cannot be encoded or the row cannot be written; the change then
/// fails as a whole.
pub async fn record<B: Serialize, A: Serialize>(
    tx: &mut DbTransaction,
    caller: &Caller,
    activity: Activity<'_>,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), AppError> {
    fn encode<T: Serialize>(value: Option<&T>, action: &str) -> Result<Option<String>, AppError> {
        value
            .map(|v| {
                serde_json::to_string(v).map_err(|error| {
                    tracing::error!(%error, action, "cannot encode an activity state");
                    AppError::Internal {
                        message: "cannot write the activity log; it is logged on the server".into(),
                    }
                })
            })
            .transpose()
    }
    db::query(
        "INSERT INTO activity_log
             (at, actor, actor_label, role, action, entity_type, entity_id, studio_id,
              idempotency_key, before_state, after_state, business_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                 COALESCE($12, (SELECT business_id FROM studios WHERE id = $8)))",
    )
    .bind(now())
    .bind(caller.actor())
    .bind(caller.actor_label())
    .bind(caller.role.as_str())
    .bind(activity.action)
    .bind(activity.entity_type)
    .bind(activity.entity_id)
    .bind(activity.studio_id)
    .bind(activity.idempotency_key)
    .bind(encode(before, activity.action)?)
    .bind(encode(after, activity.action)?)
    .bind(caller.business_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error("writing the activity log"))?;
    Ok(())
}

/// "Nothing before" for [`record`].
pub const NOTHING: Option<&()> = None;
