-- Settlement tracking and Swiss bank files (issue 9). Money is BIGINT Rappen; dates are SIC
-- business days (app::domain::calendar). The ledger's new account codes (returned_payouts,
-- payout_write_offs) and transfer kinds (bank_payout_returned, bank_payout_resolved) widen two
-- CHECK constraints, replaced here (SQLite rebuilds the tables: app::engine::schema::upgrade).

ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_code_check,
    ADD CONSTRAINT ledger_accounts_code_check CHECK (code IN ('cash_drawer', 'card_clearing', 'twint_clearing',
        'bank', 'service_revenue', 'deduction_income', 'tips_payable', 'commission_expense',
        'employee_payable', 'cash_over_short', 'cash_transfers', 'card_sales',
        'returned_payouts', 'payout_write_offs'));
ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_kind_check,
    ADD CONSTRAINT ledger_transfers_kind_check CHECK (kind IN ('service_registered', 'day_recorded',
        'payout_committed', 'cash_in', 'cash_out', 'till_variance', 'reversal',
        'payment_captured', 'payment_refunded', 'payment_settled',
        'bank_payout_returned', 'bank_payout_resolved'));
DROP INDEX ledger_transfers_one_per_cause;
CREATE UNIQUE INDEX ledger_transfers_one_per_cause ON ledger_transfers(kind, cause_id)
    WHERE kind IN ('service_registered', 'day_recorded', 'payout_committed', 'till_variance',
                   'payment_captured', 'payment_refunded', 'payment_settled',
                   'bank_payout_returned', 'bank_payout_resolved');

-- Bank details: where an employee's bank payouts go, and the account a studio pays from.
-- The IBAN is stored in its electronic form (validated by the engine; a QR-IBAN is refused for
-- an employee because a payout carries no QR reference).
ALTER TABLE employees ADD COLUMN iban TEXT;
ALTER TABLE studios ADD COLUMN iban TEXT;
ALTER TABLE studios ADD COLUMN bank_account_holder TEXT;

-- How many business days after its cause money settles: 'bank_payout' (execution date to the
-- employee's bank), 'card' (capture to the acquirer's credit), or a provider's own name, which
-- wins over 'card'. A business's own term (set by its owner, PUT /api/v1/settlement-terms/{key})
-- wins over the default of every business (business_id NULL).
CREATE TABLE settlement_terms (
    business_id    UUID REFERENCES businesses(id),
    key            TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    business_days  BIGINT NOT NULL CHECK (business_days BETWEEN 0 AND 30),
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX settlement_terms_default ON settlement_terms(key) WHERE business_id IS NULL;
CREATE UNIQUE INDEX settlement_terms_business ON settlement_terms(business_id, key) WHERE business_id IS NOT NULL;
INSERT INTO settlement_terms (business_id, key, business_days, updated_at) VALUES
    (NULL, 'bank_payout', 1, now()),
    (NULL, 'card', 2, now());

-- A bank file (pain.001: reference = its MsgId, the XML kept byte for byte so a second download
-- is the same file) or an acquirer settlement batch.
CREATE TABLE settlement_batches (
    id           UUID PRIMARY KEY NOT NULL,
    studio_id    UUID NOT NULL REFERENCES studios(id),
    kind         TEXT NOT NULL CHECK (kind IN ('bank_payout', 'card_payment')),
    reference    TEXT NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 35),
    -- The acquirer of a card settlement batch (one batch per studio, provider and day).
    provider     TEXT,
    expected_on  DATE NOT NULL,
    document     TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX settlement_batches_studio ON settlement_batches(studio_id, created_at);
CREATE INDEX settlement_batches_card ON settlement_batches(studio_id, provider, expected_on) WHERE kind = 'card_payment';

-- One movement of money tracked until the statement shows it. A bank payout's end-to-end id
-- ties the pain.001 transfer (and the bank's camt lines) to it.
CREATE TABLE settlement_items (
    id              UUID PRIMARY KEY NOT NULL,
    studio_id       UUID NOT NULL REFERENCES studios(id),
    kind            TEXT NOT NULL CHECK (kind IN ('bank_payout', 'card_payment')),
    batch_id        UUID REFERENCES settlement_batches(id),
    payout_id       UUID REFERENCES payouts(id),
    payment_id      UUID REFERENCES payments(id),
    end_to_end_id   TEXT NOT NULL UNIQUE CHECK (length(end_to_end_id) BETWEEN 1 AND 35),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL DEFAULT 'CHF' CHECK (currency = 'CHF'),
    state           TEXT NOT NULL CHECK (state IN ('scheduled', 'in_transit', 'settled', 'failed',
                        'needs_reconciliation', 'reissued', 'written_off')),
    expected_on     DATE NOT NULL,
    -- The IBAN the transfer was sent to (bank payouts, from the bank file).
    creditor_iban   TEXT,
    reason          TEXT,
    bank_reference  TEXT,
    note            TEXT,
    reissue_of      UUID UNIQUE REFERENCES settlement_items(id),
    version         BIGINT NOT NULL CHECK (version >= 1),
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CHECK ((kind = 'bank_payout') = (payout_id IS NOT NULL)),
    CHECK ((kind = 'card_payment') = (payment_id IS NOT NULL)),
    -- Sent means in a batch.
    CHECK (state = 'scheduled' OR batch_id IS NOT NULL OR kind = 'card_payment')
);
-- A payout is scheduled once; a reissue is a new item pointing at the failed one.
CREATE UNIQUE INDEX settlement_items_one_per_payout ON settlement_items(payout_id)
    WHERE payout_id IS NOT NULL AND reissue_of IS NULL;
CREATE UNIQUE INDEX settlement_items_one_per_payment ON settlement_items(payment_id)
    WHERE payment_id IS NOT NULL;
CREATE INDEX settlement_items_studio_state ON settlement_items(studio_id, state, expected_on);
CREATE INDEX settlement_items_batch ON settlement_items(batch_id);

-- An imported camt.053 statement or camt.054 notification of a studio's account (found by the
-- statement's IBAN). The same file imported twice is recognised by its SHA-256 and changes nothing.
CREATE TABLE bank_statements (
    id           UUID PRIMARY KEY NOT NULL,
    studio_id    UUID NOT NULL REFERENCES studios(id),
    sha256       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('camt.053', 'camt.054')),
    message_id   TEXT NOT NULL,
    account      TEXT,
    imported_at  TIMESTAMPTZ NOT NULL,
    imported_by  TEXT NOT NULL,
    -- The import's result (StatementImport as JSON), answered again for a duplicate import.
    result       TEXT NOT NULL,
    UNIQUE (studio_id, sha256)
);

-- One transaction of a statement (an entry's TxDtls, or the entry itself without details).
CREATE TABLE bank_statement_lines (
    id              UUID PRIMARY KEY NOT NULL,
    statement_id    UUID NOT NULL REFERENCES bank_statements(id),
    position        BIGINT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('credit', 'debit')),
    reversal        BOOLEAN NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    end_to_end_id   TEXT,
    reference       TEXT,
    counterparty    TEXT,
    booked_on       DATE,
    return_reason   TEXT,
    match_state     TEXT NOT NULL CHECK (match_state IN ('matched', 'unmatched', 'mismatch', 'duplicate', 'dismissed')),
    item_id         UUID REFERENCES settlement_items(id),
    -- A card settlement batch the line paid as a whole (one acquirer credit for many payments).
    batch_id        UUID REFERENCES settlement_batches(id),
    explanation     TEXT,
    UNIQUE (statement_id, position)
);
CREATE INDEX bank_statement_lines_unmatched ON bank_statement_lines(match_state) WHERE match_state IN ('unmatched', 'mismatch');
CREATE INDEX bank_statement_lines_item ON bank_statement_lines(item_id);
