//! Typed identifiers. Every entity id is a UUID wrapped in its own type so an employee id can never
//! be passed where a studio id is expected. On the wire they are plain UUID strings.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses a UUID string; the error names what was expected.
            pub fn parse(text: &str) -> Result<Self, String> {
                Uuid::parse_str(text.trim())
                    .map($name)
                    .map_err(|_| format!("'{}' is not a valid id (expected a UUID)", text))
            }

            /// A fresh, time-ordered id (UUIDv7, RFC 9562). Time order keeps B-tree index
            /// inserts on the newest pages instead of scattering them over the whole index as
            /// random v4 ids do once the tables are large. Server only: the browser never mints
            /// entity ids.
            #[cfg(feature = "ssr")]
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// A studio (business location).
    StudioId
);
typed_id!(
    /// An employee of one studio.
    EmployeeId
);
typed_id!(
    /// A service in a studio's catalogue.
    ServiceId
);
typed_id!(
    /// One service an employee performed for a client.
    ServiceRecordId
);
typed_id!(
    /// One working day of an employee (carries the daily deduction / guaranteed minimum).
    DayRecordId
);
typed_id!(
    /// A payout to one employee for one period.
    PayoutId
);
typed_id!(
    /// A ledger transfer (a balanced set of postings). Derived from its cause, not random.
    TransferId
);
typed_id!(
    /// A till (cash register) session of one studio and business day.
    TillSessionId
);
typed_id!(
    /// One audit run.
    AuditRunId
);
typed_id!(
    /// A business: the owner's studios together.
    BusinessId
);
typed_id!(
    /// A person who signs in (owner, receptionist, employee).
    UserId
);
typed_id!(
    /// An API key of an integration.
    ApiKeyId
);
typed_id!(
    /// A payment reported by a card terminal or payment provider (issue 6).
    PaymentId
);
typed_id!(
    /// A subscriber's webhook endpoint (issue 7).
    WebhookEndpointId
);
typed_id!(
    /// One event for one webhook endpoint; its `webhook-id` header is `msg_` and the 32 hex
    /// digits of this id.
    WebhookMessageId
);
typed_id!(
    /// One settlement item (a bank payout transfer or a card payment in a settlement batch).
    SettlementItemId
);
typed_id!(
    /// A settlement batch: one pain.001 bank file, or one acquirer settlement.
    SettlementBatchId
);
typed_id!(
    /// One imported bank statement (camt.053) or notification (camt.054).
    BankStatementId
);
typed_id!(
    /// One line (booked transaction) of an imported bank statement.
    StatementLineId
);
