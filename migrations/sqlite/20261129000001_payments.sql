-- Payments reported by card terminals and payment providers (issue 6): the inbox of delivered
-- events and the payments they drive. The ledger's new account (card_sales) and transfer kinds
-- (payment_captured, payment_refunded, payment_settled) widen two CHECK constraints, which SQLite
-- can only do by rebuilding the tables with foreign keys off, outside a transaction; sqlx runs
-- every SQLite migration inside one, so the engine does that rebuild itself right after the
-- migrations (app::engine::schema::widen_ledger_checks, idempotent).

-- A payment at a provider, driven by its events (or an operator's actions). Money is INTEGER
-- Rappen; the checks repeat the money rules of app::domain::payment as the last line of defence.
CREATE TABLE payments (
    id                   BLOB PRIMARY KEY NOT NULL,
    studio_id            BLOB NOT NULL REFERENCES studios(id),
    provider             TEXT NOT NULL,
    provider_payment_id  TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'processing', 'succeeded',
                             'partially_refunded', 'refunded', 'failed', 'cancelled')),
    amount               INTEGER NOT NULL CHECK (amount >= 0),
    captured             INTEGER NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    refunded             INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= captured),
    settled              INTEGER NOT NULL DEFAULT 0 CHECK (settled >= 0 AND settled <= captured),
    is_settled           INTEGER NOT NULL DEFAULT 0 CHECK (is_settled IN (0, 1)),
    currency             TEXT NOT NULL DEFAULT 'CHF' CHECK (currency = 'CHF'),
    -- Optimistic concurrency: +1 on every change.
    version              INTEGER NOT NULL CHECK (version >= 1),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    last_event_at        TEXT,
    UNIQUE (provider, provider_payment_id)
);
CREATE INDEX payments_studio_state ON payments(studio_id, state);
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
BEGIN SELECT RAISE(ABORT, 'payments are never deleted'); END;

-- The inbox: every delivered event, stored once under its deterministic key (fast acknowledge),
-- then applied by the worker (status applied) or parked with its reason. Never deleted; an
-- applied event never changes again.
CREATE TABLE payment_events (
    seq                  INTEGER PRIMARY KEY,
    event_key            TEXT NOT NULL UNIQUE,
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

