-- Refunds (issue 3): a registered service can be refunded to the client once. The refund is a
-- reversing ledger transfer (`ledger_transfers.reverses` = the service's transfer); the record
-- keeps its row and gains when and why, and is never paid out afterwards.
ALTER TABLE service_records ADD COLUMN refunded_at TIMESTAMPTZ;
ALTER TABLE service_records ADD COLUMN refund_reason TEXT;

-- Refunded records are few: the audit finds them without scanning every record.
CREATE INDEX service_records_refunded ON service_records(refunded_at) WHERE refunded_at IS NOT NULL;

-- The database, not only the engine, refuses what would pay or refund twice:
-- a refund is final,
CREATE TRIGGER service_records_refund_final BEFORE UPDATE OF refunded_at, refund_reason ON service_records
    FOR EACH ROW WHEN (OLD.refunded_at IS NOT NULL)
    EXECUTE FUNCTION refuse_change('this service was already refunded');

-- a service held by a live payout cannot be refunded (its commission is being paid),
-- (PostgreSQL allows no subquery in a trigger's WHEN, so the EXISTS test is in the function.)
CREATE FUNCTION service_records_refuse_refund_in_payout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM payout_lines pl WHERE pl.service_record_id = NEW.id AND NOT pl.released) THEN
        RAISE EXCEPTION 'a service in a payout cannot be refunded';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER service_records_refund_unclaimed BEFORE UPDATE OF refunded_at ON service_records
    FOR EACH ROW WHEN (NEW.refunded_at IS NOT NULL)
    EXECUTE FUNCTION service_records_refuse_refund_in_payout();

-- and a refunded service cannot be claimed by a payout.
-- SQLite runs one writer at a time, so these two checks cannot race there. Here a refund and a
-- claim of the same service may run in concurrent transactions, each not yet seeing the other's
-- row. The claim therefore reads the service record FOR SHARE: it waits for a refund in progress
-- to commit and then sees it; and a refund started after the claim waits on that lock (an UPDATE
-- locks its row before BEFORE triggers run) until the claim commits, then sees its payout line.
-- (The row is locked whatever its refunded_at, and tested after the lock is held: a filter on
-- refunded_at in the locking query would skip a row whose refund is not yet committed.)
CREATE FUNCTION payout_lines_refuse_refunded_service() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    refunded TIMESTAMPTZ;
BEGIN
    SELECT sr.refunded_at INTO refunded FROM service_records sr
        WHERE sr.id = NEW.service_record_id
        FOR SHARE;
    IF refunded IS NOT NULL THEN
        RAISE EXCEPTION 'a refunded service cannot be paid out';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER payout_lines_not_refunded BEFORE INSERT ON payout_lines
    FOR EACH ROW WHEN (NEW.service_record_id IS NOT NULL)
    EXECUTE FUNCTION payout_lines_refuse_refunded_service();
