//! The cash register (till) vocabulary shared by the server and the UI: sessions, cash movements,
//! Swiss franc denominations and the Z report.

use super::ids::*;
use super::money::{BasisPoints, Rappen};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Swiss franc notes and coins in circulation, in Rappen, largest first (Swiss National Bank:
/// notes 1000, 200, 100, 50, 20, 10; coins 5, 2, 1, ½ franc, 20, 10, 5 centimes).
pub const CHF_DENOMINATIONS: [i64; 13] = [
    100_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 20, 10, 5,
];

/// Label of a denomination for people: "CHF 200" for notes and francs, "50 Rp." for coins under
/// a franc.
pub fn denomination_label(rappen: i64) -> String {
    if rappen >= 100 {
        format!("CHF {}", rappen / 100)
    } else {
        format!("{rappen} Rp.")
    }
}

/// Whether a till is open or closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type),
    sqlx(type_name = "TEXT", rename_all = "snake_case")
)]
pub enum TillState {
    /// Cash flows in and out; it can be closed.
    Open,
    /// Counted and closed; its Z report is final.
    Closed,
}

/// Cash put into or taken out of the till.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CashDirection {
    /// Cash put in (change fund from the safe, ...).
    In,
    /// Cash taken out (bank deposit, a purchase, ...).
    Out,
}

/// Opening a till: the counted float.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenTillRequest {
    /// Which studio's till.
    pub studio_id: StudioId,
    /// Cash counted in the drawer at opening, Rappen (0 to 10,000,000).
    pub opening_float: i64,
    /// Required when the count differs from the drawer's balance in the books (the difference
    /// is posted to cash over/short).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A cash movement into or out of an open till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CashMovementRequest {
    /// Which studio's till (must be open).
    pub studio_id: StudioId,
    /// In or out.
    pub direction: CashDirection,
    /// Rappen, 1 to 10,000,000.
    pub amount: i64,
    /// Why, for the Z report (required).
    pub reason: String,
}

/// Closing a till: the counted notes and coins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseTillRequest {
    /// Which studio's till (must be open).
    pub studio_id: StudioId,
    /// Count per denomination: key = denomination in Rappen as text ("20000" = CHF 200 note),
    /// value = number of notes or coins. Only [`CHF_DENOMINATIONS`].
    pub denominations: BTreeMap<String, i64>,
    /// Required when counted cash differs from expected.
    #[serde(default)]
    pub variance_reason: Option<String>,
}

/// One cash movement as the till page and the Z report show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TillMovement {
    /// The ledger transfer.
    pub transfer_id: TransferId,
    /// What moved the cash: "cash_in", "cash_out", "service_registered", "payout_committed".
    pub kind: String,
    /// Words for people.
    pub reason: String,
    /// Into the drawer positive, out negative (Rappen).
    pub amount: Rappen,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// A till session with what the drawer should hold now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TillSession {
    /// Session id.
    pub id: TillSessionId,
    /// Studio.
    pub studio_id: StudioId,
    /// Studio name.
    pub studio_name: String,
    /// Business day (Europe/Zurich).
    pub business_date: NaiveDate,
    /// Open or closed.
    pub state: TillState,
    /// Counted at opening, Rappen.
    pub opening_float: Rappen,
    /// Opened (UTC).
    pub opened_at: DateTime<Utc>,
    /// Closed (UTC).
    pub closed_at: Option<DateTime<Utc>>,
    /// Opening float plus every cash movement of the session, Rappen.
    pub expected_cash: Rappen,
    /// Counted at close.
    pub counted_cash: Option<Rappen>,
    /// Counted minus expected at close.
    pub variance: Option<Rappen>,
    /// Why counted and expected differ.
    pub variance_reason: Option<String>,
    /// Every cash movement, oldest first.
    pub movements: Vec<TillMovement>,
    /// The Z report, once closed.
    pub z_report: Option<ZReport>,
    /// Always "CHF".
    pub currency: String,
}

/// Sales of one payment method in a Z report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SalesByMethod {
    /// "cash", "card", "twint".
    pub payment_method: String,
    /// Services.
    pub count: i64,
    /// Prices, VAT included, Rappen (tips apart).
    pub gross: Rappen,
    /// Tips, Rappen.
    pub tips: Rappen,
}

/// Sales at one VAT rate in a Z report (VAT is included in the price).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SalesByVatRate {
    /// The rate (810 = 8.1 %).
    pub vat_rate_bps: BasisPoints,
    /// Prices, VAT included, Rappen.
    pub gross: Rappen,
    /// VAT contained in `gross`, rounded half up per rate: gross × rate / (1 + rate).
    pub vat: Rappen,
    /// `gross − vat`.
    pub net: Rappen,
}

/// The unalterable end-of-day report of a closed till (stored once at close).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ZReport {
    /// Studio name.
    pub studio_name: String,
    /// Business day.
    pub business_date: NaiveDate,
    /// Opened (UTC).
    pub opened_at: DateTime<Utc>,
    /// Closed (UTC).
    pub closed_at: DateTime<Utc>,
    /// The studio's services of the day, by payment method.
    pub sales_by_method: Vec<SalesByMethod>,
    /// The same sales by VAT rate.
    pub sales_by_vat_rate: Vec<SalesByVatRate>,
    /// All tips of the day, Rappen.
    pub tips: Rappen,
    /// Cash refunds to clients paid out of the till during the session, Rappen (positive).
    pub refunds: Rappen,
    /// Cash payouts to employees from this till, Rappen (positive).
    pub cash_payouts: Rappen,
    /// Cash put in, with reasons.
    pub cash_in: Rappen,
    /// Cash taken out, with reasons (positive).
    pub cash_out: Rappen,
    /// Counted at opening.
    pub opening_float: Rappen,
    /// Opening float plus cash sales and tips, cash in, minus cash out, cash refunds and cash
    /// payouts.
    pub expected_cash: Rappen,
    /// Counted at close.
    pub counted_cash: Rappen,
    /// Counted minus expected.
    pub variance: Rappen,
    /// Why they differ.
    pub variance_reason: Option<String>,
    /// The count: denomination in Rappen (as text) → number.
    pub denominations: BTreeMap<String, i64>,
    /// Every cash movement of the session.
    pub movements: Vec<TillMovement>,
    /// Always "CHF".
    pub currency: String,
}
