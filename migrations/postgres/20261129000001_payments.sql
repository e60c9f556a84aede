-- Payments reported by card terminals and payment providers (issue 6): the inbox of delivered
-- events, the payments they drive, and the ledger's new account (card sales) and transfer kinds.
-- (SQLite rebuilds the two ledger tables to widen their checks; PostgreSQL replaces the checks.)

ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_code_check,
    ADD CONSTRAINT ledger_accounts_code_check CHECK (code IN ('cash_drawer', 'card_clearing', 'twint_clearing',
        'bank', 'service_revenue', 'deduction_income', 'tips_payable', 'commission_expense',
        'employee_payable', 'cash_over_short', 'cash_transfers', 'card_sales'));
ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_kind_check,
    ADD CONSTRAINT ledger_transfers_kind_check CHECK (kind IN ('service_registered', 'day_recorded',
        'payout_committed', 'cash_in', 'cash_out', 'till_variance', 'reversal',
        'payment_captured', 'payment_refunded', 'payment_settled'));
DROP INDEX ledger_transfers_one_per_cause;
CREATE UNIQUE INDEX ledger_transfers_one_per_cause ON ledger_transfers(kind, cause_id)
    WHERE kind IN ('service_registered', 'day_recorded', 'payout_committed', 'till_variance',
                   'payment_captured', 'payment_refunded', 'payment_settled');

CREATE TABLE payments (
    id                   UUID PRIMARY KEY NOT NULL,
    studio_id            UUID NOT NULL REFERENCES studios(id),
    provider             TEXT NOT NULL,
    provider_payment_id  TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'processing', 'succeeded',
                             'partially_refunded', 'refunded', 'failed', 'cancelled')),
    amount               BIGINT NOT NULL CHECK (amount >= 0),
    captured             BIGINT NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    refunded             BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= captured),
    settled              BIGINT NOT NULL DEFAULT 0 CHECK (settled >= 0 AND settled <= captured),
    is_settled           BOOLEAN NOT NULL DEFAULT FALSE,
    currency             TEXT NOT NULL DEFAULT 'CHF' CHECK (currency = 'CHF'),
    version              BIGINT NOT NULL CHECK (version >= 1),
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    last_event_at        TIMESTAMPTZ,
    UNIQUE (provider, provider_payment_id)
);
CREATE INDEX payments_studio_state ON payments(studio_id, state);
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION refuse_change('payments are never deleted');

CREATE TABLE payment_events (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key            TEXT NOT NULL UNIQUE,
    studio_id            UUID NOT NULL REFERENCES studios(id),
    provider             TEXT NOT NULL,
    provider_payment_id  TEXT NOT NULL,
    event_type           TEXT NOT NULL CHECK (event_type IN ('submitted', 'authorized', 'captured', 'failed',
                             'cancelled', 'refunded', 'partially_refunded', 'settled')),
    amount               BIGINT NOT NULL CHECK (amount >= 0),
    occurred_at          TIMESTAMPTZ NOT NULL,
    received_at          TIMESTAMPTZ NOT NULL,
    status               TEXT NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'applied', 'parked')),
    reason               TEXT,
    attempts             BIGINT NOT NULL DEFAULT 0,
    processed_at         TIMESTAMPTZ,
    CHECK ((status = 'parked') = (reason IS NOT NULL))
);
CREATE INDEX payment_events_waiting ON payment_events(seq) WHERE status = 'received';
CREATE INDEX payment_events_parked ON payment_events(provider_payment_id, provider) WHERE status = 'parked';
CREATE INDEX payment_events_parked_studio ON payment_events(studio_id, seq) WHERE status = 'parked';
CREATE TRIGGER payment_events_content_immutable
    BEFORE UPDATE OF seq, event_key, studio_id, provider, provider_payment_id, event_type, amount, occurred_at, received_at
    ON payment_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('a delivered payment event is never changed');
CREATE TRIGGER payment_events_applied_final BEFORE UPDATE ON payment_events
    FOR EACH ROW WHEN (OLD.status = 'applied')
    EXECUTE FUNCTION refuse_change('an applied payment event is final');
CREATE TRIGGER payment_events_no_delete BEFORE DELETE ON payment_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('payment events are never deleted');
