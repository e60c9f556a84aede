//! Wasm-safe domain: typed ids, money, the payout state machine, wire/view types and the error
//! type. Compiled into both the server and the browser; it must never depend on sqlx, tokio or
//! anything else server-only (derives for sqlx sit behind `cfg_attr(feature = "ssr")`).

pub mod access;
pub mod audit;
pub mod calendar;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod feed;
pub mod ids;
pub mod ledger;
pub mod locale;
pub mod money;
pub mod payment;
pub mod payout;
pub mod problem;
pub mod records;
pub mod settlement;
pub mod slip;
pub mod till;
pub mod webhook;
pub mod wire;

pub use access::{
    local_redirect_target, mask_personal, ActivityEntry, ApiKeyInfo, ApiKeyRequest, ApiScope,
    CreatedApiKey, Me, Permission, Role, UserInfo, UserRequest,
};
pub use audit::*;
pub use dashboard::{
    Dashboard, DashboardAmounts, DashboardAttention, DashboardRequest, EmployeeAmounts,
    Granularity, PeriodAmounts, MAX_DASHBOARD_DAYS,
};
pub use error::AppError;
pub use feed::{FeedConnection, FeedDropped, FeedReady, LiveEvent};
pub use ids::*;
pub use ledger::*;
pub use locale::Language;
pub use money::{BasisPoints, Rappen, CURRENCY, MAX_SERVICE_AMOUNT};
pub use payment::*;
pub use payout::{IllegalTransition, PayoutAction, PayoutPhase, PayoutRefusalReason, PayoutState};
pub use problem::{
    parse_iso_date, AddressClass, CashUse, EndpointAction, FieldProblem, IbanError,
    PermissionRefusal, Problem, SignInLimit,
};
pub use records::*;
pub use settlement::*;
pub use till::*;
pub use webhook::{
    AttemptOutcome, CreatedWebhookEndpoint, EndpointDisabledReason, MessageAction, MessageCounts,
    MessageRefusal, MessageState, WebhookAttempt, WebhookEndpoint, WebhookEndpointRequest,
    WebhookEndpointUpdate, WebhookMessage, WebhookMessageDetail, WebhookSecret,
};
