-- The inbox's idempotency index in time order (issue 6, performance). The event key is the
-- SHA-256 of (provider, payment id, event type, occurred_at), so a unique index on the key alone
-- puts each new event on a random page of the index, and every commit rewrote about one page
-- per event once the index outgrew what one commit touches. The key is unique together with
-- occurred_at exactly when it is unique alone: the key is derived from occurred_at (to the
-- millisecond, the precision it is stored with), so two rows with the same key have the same
-- occurred_at. Deliveries come roughly in provider time, so new entries land on the right-most
-- pages. Dropping the column's UNIQUE needs a table rebuild in SQLite; nothing references
-- payment_events, so it runs inside the migration's transaction.
CREATE TABLE payment_events_new (
    seq                  INTEGER PRIMARY KEY,
    event_key            TEXT NOT NULL,
    studio_id            BLOB NOT NULL REFERENCES studios(id),
    provider             TEXT NOT NULL,
    provider_payment_id  TEXT NOT NULL,
    event_type           TEXT NOT NULL CHECK (event_type IN ('submitted', 'authorized', 'captured', 'failed',
                             'cancelled', 'refunded', 'partially_refunded', 'settled')),
    amount               INTEGER NOT NULL CHECK (amount >= 0),
    occurred_at          TEXT NOT NULL,
    received_at          TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'applied', 'parked')),
    reason               TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    processed_at         TEXT,
    CHECK ((status = 'parked') = (reason IS NOT NULL))
);
INSERT INTO payment_events_new (seq, event_key, studio_id, provider, provider_payment_id, event_type, amount,
                                occurred_at, received_at, status, reason, attempts, processed_at)
    SELECT seq, event_key, studio_id, provider, provider_payment_id, event_type, amount,
           occurred_at, received_at, status, reason, attempts, processed_at
    FROM payment_events ORDER BY seq;
DROP TABLE payment_events;
ALTER TABLE payment_events_new RENAME TO payment_events;
CREATE UNIQUE INDEX payment_events_key ON payment_events(occurred_at, event_key);
CREATE INDEX payment_events_waiting ON payment_events(seq) WHERE status = 'received';
CREATE INDEX payment_events_parked ON payment_events(provider_payment_id, provider) WHERE status = 'parked';
CREATE INDEX payment_events_parked_studio ON payment_events(studio_id, seq) WHERE status = 'parked';
CREATE TRIGGER payment_events_content_immutable
BEFORE UPDATE OF seq, event_key, studio_id, provider, provider_payment_id, event_type, amount, occurred_at, received_at
ON payment_events
BEGIN SELECT RAISE(ABORT, 'a delivered payment event is never changed'); END;
CREATE TRIGGER payment_events_applied_final BEFORE UPDATE ON payment_events WHEN OLD.status = 'applied'
BEGIN SELECT RAISE(ABORT, 'an applied payment event is final'); END;
CREATE TRIGGER payment_events_no_delete BEFORE DELETE ON payment_events
BEGIN SELECT RAISE(ABORT, 'payment events are never deleted'); END;
