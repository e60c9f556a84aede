//! Refunds: giving a client their money back for a registered service. The service record keeps
//! its row and gains when and why it was refunded; the ledger gets a reversing transfer of the
//! service's transfer (revenue, tip, commission and the payment account, all negated), so the
//! books show both the sale and its refund and nothing is ever edited. A cash refund leaves the
//! studio's open till and appears in its Z report.

use super::access::{self, Activity, Caller};
use super::catalog::SERVICE_RECORD_SELECT;
use super::db;
use super::idempotency::{self, Claim, IdempotencyKey};
use super::{business_date, db_error, now, Engine};
use crate::domain::*;

/// Idempotency operation name of a refund.
pub const REFUND_SERVICE: &str = "refund_service";

impl Engine {
    /// Refunds service record `id` to the client, exactly once per idempotency key.
    ///
    /// One transaction: marks the record refunded, posts the reversal of its transfer (effective
    /// today, Europe/Zurich) and records a `service_record.refunded` event. A cash refund is paid
    /// from the studio's open till and is tagged with it.
    ///
    /// Errors: 403 unless the caller may refund; 404 unknown record (or one outside the caller's
    /// studios); 422 `reason` empty or too long; 409 `refund_refused` with
    /// [`ServiceRecord::refund_refusal`]'s explanation (already refunded, held by a payout);
    /// 409 `till_not_open` for a cash refund without an open till; 422 `amount` when the till
    /// holds less than the refund.
    #[tracing::instrument(skip_all, fields(record_id = %id))]
    pub async fn refund_service_record(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        id: ServiceRecordId,
        request: &RefundRequest,
    ) -> Result<ServiceRecord, AppError> {
        caller.require(Permission::RefundService)?;
        let client_key = key;
        let key = &key.for_caller(caller);
        let reason = super::till::reason_of("reason", Some(&request.reason), true)?;
        let fingerprint = idempotency::fingerprint(REFUND_SERVICE, &(id, &reason))?;
        let mut tx = self.begin_write().await?;
        if let Claim::Replay { status, body } = idempotency::claim(
            &mut tx,
            REFUND_SERVICE,
            key,
            &fingerprint,
            self.settings().idempotency_lease,
        )
        .await?
        {
            return idempotency::decode(status, &body);
        }
        let load = format!("{SERVICE_RECORD_SELECT} WHERE sr.id = $1");
        let record = db::query_as::<ServiceRecord>(&load)
            .bind(id)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_error("looking up the service record"))?
            .filter(|record| caller.sees(record.studio_id, record.employee_id))
            .ok_or_else(|| AppError::not_found(format!("no service record with id {id}")))?;
        if let Some(refusal) = record.refund_refusal() {
            return Err(AppError::conflict_with(refusal));
        }
        let refunded = record.price.0 + record.tip.0;
        let till_session = match record.payment_method {
            PaymentMethod::Cash => {
                let session = super::till::open_session_of(&mut tx, record.studio_id)
                    .await?
                    .ok_or_else(|| {
                        AppError::conflict_with(Problem::TillNotOpen {
                            cash_for: CashUse::Refund,
                        })
                    })?;
                let holds = super::till::expected_cash(&mut tx, session).await?;
                if holds.0 < refunded {
                    return Err(AppError::invalid(
                        "amount",
                        FieldProblem::RefundOverTillCash {
                            holds,
                            amount: Rappen(refunded),
                        },
                    ));
                }
                Some(session)
            }
            PaymentMethod::Card | PaymentMethod::Twint => None,
        };
        let at = now();
        db::query("UPDATE service_records SET refunded_at = $1, refund_reason = $2 WHERE id = $3")
            .bind(at)
            .bind(&reason)
            .bind(id)
            .execute(&mut tx)
            .await
            .map_err(db_error("marking the service refunded"))?;
        super::ledger::post_reversal(
            &mut tx,
            id.0,
            &format!(
                "Refund of {} by {}: {reason}",
                record.service_name, record.employee_name
            ),
            business_date(at),
            till_session,
        )
        .await?;
        let saved = db::query_as::<ServiceRecord>(&load)
            .bind(id)
            .fetch_one(&mut tx)
            .await
            .map_err(db_error("reading the refunded service record"))?;
        super::events::record(
            self.settings(),
            &mut tx,
            "service_record.refunded",
            Some(saved.studio_id),
            Some(saved.id.0),
            &saved,
        )
        .await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "service_record.refund",
                entity_type: "service_record",
                entity_id: Some(id.to_string()),
                studio_id: Some(saved.studio_id),
                idempotency_key: Some(client_key.as_str()),
            },
            Some(&record),
            Some(&saved),
        )
        .await?;
        idempotency::complete(
            &mut tx,
            REFUND_SERVICE,
            key,
            200,
            &idempotency::encode(&saved)?,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the refund"))?;
        tracing::info!(amount = refunded, method = %saved.payment_method, "service refunded");
        Ok(saved)
    }
}
