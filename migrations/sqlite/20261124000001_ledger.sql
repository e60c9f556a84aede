-- Double-entry ledger (issue 3). Amounts are INTEGER Rappen, debit positive, credit negative; the
-- postings of a transfer sum to zero. Transfers and postings are immutable: the triggers below
-- refuse UPDATE and DELETE, so a correction can only be a reversing transfer.

-- The chart of accounts: one of each code per studio, and one employee_payable per employee.
CREATE TABLE ledger_accounts (
    id           INTEGER PRIMARY KEY,
    studio_id    BLOB NOT NULL REFERENCES studios(id),
    code         TEXT NOT NULL CHECK (code IN ('cash_drawer', 'card_clearing', 'twint_clearing', 'bank',
                     'service_revenue', 'deduction_income', 'tips_payable', 'commission_expense',
                     'employee_payable', 'cash_over_short', 'cash_transfers')),
    employee_id  BLOB REFERENCES employees(id),
    CHECK ((code = 'employee_payable') = (employee_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_accounts_studio_code ON ledger_accounts(studio_id, code) WHERE employee_id IS NULL;
CREATE UNIQUE INDEX ledger_accounts_employee ON ledger_accounts(employee_id) WHERE employee_id IS NOT NULL;

-- A till (cash register) session: one per studio and business day, at most one open per studio.
-- Once closed it is unalterable (trigger below): its Z report is the day's record.
CREATE TABLE till_sessions (
    id              BLOB PRIMARY KEY NOT NULL,
    studio_id       BLOB NOT NULL REFERENCES studios(id),
    business_date   TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    opening_float   INTEGER NOT NULL CHECK (opening_float >= 0),
    opened_at       TEXT NOT NULL,
    closed_at       TEXT,
    expected_cash   INTEGER,
    counted_cash    INTEGER CHECK (counted_cash IS NULL OR counted_cash >= 0),
    variance        INTEGER,
    variance_reason TEXT,
    -- JSON: counted notes and coins, e.g. {"20000": 1, "500": 3} (denomination in Rappen: count).
    denominations   TEXT,
    -- JSON: the Z report, computed once at close.
    z_report        TEXT,
    UNIQUE (studio_id, business_date),
    CHECK ((state = 'closed') = (closed_at IS NOT NULL AND counted_cash IS NOT NULL AND z_report IS NOT NULL))
);
CREATE UNIQUE INDEX till_sessions_one_open ON till_sessions(studio_id) WHERE state = 'open';
CREATE TRIGGER till_sessions_closed_immutable BEFORE UPDATE ON till_sessions WHEN OLD.state = 'closed'
BEGIN SELECT RAISE(ABORT, 'a closed till session is unalterable'); END;
CREATE TRIGGER till_sessions_no_delete BEFORE DELETE ON till_sessions
BEGIN SELECT RAISE(ABORT, 'till sessions are never deleted'); END;

CREATE TABLE ledger_transfers (
    -- For a transfer of which each cause has exactly one (a service, a day, a payout), the cause's
    -- own id: a retry of the same posting finds this row instead of writing a second one.
    id            BLOB PRIMARY KEY NOT NULL,
    studio_id     BLOB NOT NULL REFERENCES studios(id),
    kind          TEXT NOT NULL CHECK (kind IN ('service_registered', 'day_recorded', 'payout_committed',
                      'cash_in', 'cash_out', 'till_variance', 'reversal')),
    reason        TEXT NOT NULL CHECK (length(reason) > 0),
    cause_type    TEXT NOT NULL,
    cause_id      BLOB NOT NULL,
    -- A transfer is reversed at most once.
    reverses      BLOB UNIQUE REFERENCES ledger_transfers(id),
    effective_on  TEXT NOT NULL,
    -- The till session whose cash it moved, when it moved cash while a till was open.
    till_session_id BLOB REFERENCES till_sessions(id),
    created_at    TEXT NOT NULL,
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
-- A committed payout has exactly one transfer; so does each registered service and recorded day.
CREATE UNIQUE INDEX ledger_transfers_one_per_cause ON ledger_transfers(kind, cause_id)
    WHERE kind IN ('service_registered', 'day_recorded', 'payout_committed', 'till_variance');
CREATE INDEX ledger_transfers_studio_date ON ledger_transfers(studio_id, effective_on);
CREATE INDEX ledger_transfers_till ON ledger_transfers(till_session_id) WHERE till_session_id IS NOT NULL;

CREATE TABLE ledger_postings (
    transfer_id  BLOB NOT NULL REFERENCES ledger_transfers(id),
    account_id   INTEGER NOT NULL REFERENCES ledger_accounts(id),
    amount       INTEGER NOT NULL,
    PRIMARY KEY (transfer_id, account_id)
) WITHOUT ROWID;
CREATE INDEX ledger_postings_account ON ledger_postings(account_id, transfer_id, amount);

CREATE TRIGGER ledger_transfers_immutable_update BEFORE UPDATE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable: post a reversing transfer'); END;
CREATE TRIGGER ledger_transfers_immutable_delete BEFORE DELETE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable: post a reversing transfer'); END;
CREATE TRIGGER ledger_postings_immutable_update BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable: post a reversing transfer'); END;
CREATE TRIGGER ledger_postings_immutable_delete BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable: post a reversing transfer'); END;

-- How a committed payout was paid: cash from the till or by bank transfer.
ALTER TABLE payouts ADD COLUMN method TEXT NOT NULL DEFAULT 'bank' CHECK (method IN ('bank', 'cash'));

-- VAT rate included in a service's price (basis points; 810 = the Swiss standard rate of 8.1 %
-- since 2024-01-01), fixed on the record when the service is registered.
ALTER TABLE services ADD COLUMN vat_rate_bps INTEGER NOT NULL DEFAULT 810 CHECK (vat_rate_bps BETWEEN 0 AND 10000);
ALTER TABLE service_records ADD COLUMN vat_rate_bps INTEGER NOT NULL DEFAULT 810 CHECK (vat_rate_bps BETWEEN 0 AND 10000);

-- One-off maintenance the engine runs at start-up, after the migrations (work that needs the
-- engine's own rules, e.g. posting the transfers of records that predate the ledger).
CREATE TABLE maintenance_tasks (
    task     TEXT PRIMARY KEY NOT NULL,
    done_at  TEXT
);
INSERT INTO maintenance_tasks (task) VALUES ('ledger_backfill');
