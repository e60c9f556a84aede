-- Refunds (issue 3): a registered service can be refunded to the client once. The refund is a
-- reversing ledger transfer (`ledger_transfers.reverses` = the service's transfer); the record
-- keeps its row and gains when and why, and is never paid out afterwards.
ALTER TABLE service_records ADD COLUMN refunded_at TEXT;
ALTER TABLE service_records ADD COLUMN refund_reason TEXT;

-- Refunded records are few: the audit finds them without scanning every record.
CREATE INDEX service_records_refunded ON service_records(refunded_at) WHERE refunded_at IS NOT NULL;

-- The database, not only the engine, refuses what would pay or refund twice:
-- a refund is final,
CREATE TRIGGER service_records_refund_final BEFORE UPDATE OF refunded_at, refund_reason ON service_records
WHEN OLD.refunded_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'this service was already refunded'); END;
-- a service held by a live payout cannot be refunded (its commission is being paid),
CREATE TRIGGER service_records_refund_unclaimed BEFORE UPDATE OF refunded_at ON service_records
WHEN NEW.refunded_at IS NOT NULL AND EXISTS (
    SELECT 1 FROM payout_lines pl WHERE pl.service_record_id = NEW.id AND pl.released = 0)
BEGIN SELECT RAISE(ABORT, 'a service in a payout cannot be refunded'); END;
-- and a refunded service cannot be claimed by a payout.
CREATE TRIGGER payout_lines_not_refunded BEFORE INSERT ON payout_lines
WHEN NEW.service_record_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM service_records sr WHERE sr.id = NEW.service_record_id AND sr.refunded_at IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'a refunded service cannot be paid out'); END;
