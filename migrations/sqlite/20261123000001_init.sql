-- Payout Engine schema (SQLite). Money is INTEGER Rappen; dates are TEXT 'YYYY-MM-DD' (Europe/Zurich
-- calendar dates); timestamps are TEXT RFC 3339 UTC; ids are UUIDs stored as 16-byte BLOBs.
-- The database, not the UI, is the last line of defence: constraints below refuse what code must
-- never do (a record held by two live payouts, a second open payout for one employee, negative prices).

CREATE TABLE studios (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE employees (
    id              BLOB PRIMARY KEY NOT NULL,
    studio_id       BLOB NOT NULL REFERENCES studios(id),
    name            TEXT NOT NULL,
    commission_bps  INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at      TEXT NOT NULL
);
CREATE INDEX employees_studio ON employees(studio_id);

-- A category-specific commission rate (e.g. colour work pays more than cuts).
CREATE TABLE commission_overrides (
    employee_id     BLOB NOT NULL REFERENCES employees(id),
    category        TEXT NOT NULL,
    commission_bps  INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    PRIMARY KEY (employee_id, category)
);

CREATE TABLE services (
    id          BLOB PRIMARY KEY NOT NULL,
    studio_id   BLOB NOT NULL REFERENCES studios(id),
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    list_price  INTEGER NOT NULL CHECK (list_price > 0 AND list_price <= 10000000),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    UNIQUE (studio_id, name)
);

CREATE TABLE service_records (
    id              BLOB PRIMARY KEY NOT NULL,
    studio_id       BLOB NOT NULL REFERENCES studios(id),
    employee_id     BLOB NOT NULL REFERENCES employees(id),
    service_id      BLOB NOT NULL REFERENCES services(id),
    performed_on    TEXT NOT NULL,
    price           INTEGER NOT NULL CHECK (price > 0 AND price <= 10000000),
    tip             INTEGER NOT NULL DEFAULT 0 CHECK (tip >= 0 AND tip <= 10000000),
    payment_method  TEXT NOT NULL CHECK (payment_method IN ('cash', 'card', 'twint')),
    -- Rate and commission are fixed when the service is registered: a later rate change never
    -- rewrites what was earned.
    commission_bps  INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    commission      INTEGER NOT NULL CHECK (commission >= 0),
    created_at      TEXT NOT NULL
);
CREATE INDEX service_records_employee_date ON service_records(employee_id, performed_on);

CREATE TABLE day_records (
    id                  BLOB PRIMARY KEY NOT NULL,
    studio_id           BLOB NOT NULL REFERENCES studios(id),
    employee_id         BLOB NOT NULL REFERENCES employees(id),
    worked_on           TEXT NOT NULL,
    -- Deducted from the payout, e.g. chair rent. Positive number.
    deduction           INTEGER NOT NULL DEFAULT 0 CHECK (deduction >= 0 AND deduction <= 10000000),
    -- When the day's commission is below this, the payout tops it up. 0 = no guarantee.
    guaranteed_minimum  INTEGER NOT NULL DEFAULT 0 CHECK (guaranteed_minimum >= 0 AND guaranteed_minimum <= 10000000),
    note                TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    UNIQUE (employee_id, worked_on)
);

CREATE TABLE payouts (
    id                      BLOB PRIMARY KEY NOT NULL,
    studio_id               BLOB NOT NULL REFERENCES studios(id),
    employee_id             BLOB NOT NULL REFERENCES employees(id),
    period_start            TEXT NOT NULL,
    period_end              TEXT NOT NULL,
    state                   TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'failed', 'cancelled')),
    phase                   TEXT NOT NULL CHECK (phase IN ('created', 'lines_claimed', 'totals_verified', 'committed')),
    record_count            INTEGER NOT NULL DEFAULT 0,
    total                   INTEGER NOT NULL DEFAULT 0,
    currency                TEXT NOT NULL DEFAULT 'CHF' CHECK (currency = 'CHF'),
    expected_record_count   INTEGER NOT NULL,
    expected_total          INTEGER NOT NULL,
    failed_phase            TEXT CHECK (failed_phase IS NULL OR failed_phase IN ('created', 'lines_claimed', 'totals_verified', 'committed')),
    error                   TEXT,
    idempotency_key         TEXT UNIQUE,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    committed_at            TEXT,
    cancelled_at            TEXT,
    CHECK (period_end >= period_start),
    CHECK ((state = 'committed') = (phase = 'committed'))
);
-- At most one open (pending or failed) payout per employee: two tabs or fifty concurrent clicks can
-- never start a second payout while one is unfinished.
CREATE UNIQUE INDEX payouts_one_open_per_employee ON payouts(employee_id) WHERE state IN ('pending', 'failed');
CREATE INDEX payouts_state ON payouts(state, updated_at);
CREATE INDEX payouts_employee ON payouts(employee_id, period_start);

-- One row per record a payout settles, with the amount computed when it was claimed.
CREATE TABLE payout_lines (
    payout_id           BLOB NOT NULL REFERENCES payouts(id),
    service_record_id   BLOB REFERENCES service_records(id),
    day_record_id       BLOB REFERENCES day_records(id),
    on_date             TEXT NOT NULL,
    price               INTEGER NOT NULL DEFAULT 0,
    commission_bps      INTEGER NOT NULL DEFAULT 0,
    commission          INTEGER NOT NULL DEFAULT 0,
    tip                 INTEGER NOT NULL DEFAULT 0,
    deduction           INTEGER NOT NULL DEFAULT 0,
    guaranteed_minimum  INTEGER NOT NULL DEFAULT 0,
    day_earned          INTEGER NOT NULL DEFAULT 0,
    top_up              INTEGER NOT NULL DEFAULT 0,
    amount              INTEGER NOT NULL,
    -- 1 once the payout is cancelled: the record is payable again.
    released            INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1)),
    CHECK ((service_record_id IS NULL) <> (day_record_id IS NULL))
);
-- A record belongs to at most one live (not cancelled) payout, enforced here, not only in code.
CREATE UNIQUE INDEX payout_lines_live_service_record ON payout_lines(service_record_id)
    WHERE released = 0 AND service_record_id IS NOT NULL;
CREATE UNIQUE INDEX payout_lines_live_day_record ON payout_lines(day_record_id)
    WHERE released = 0 AND day_record_id IS NOT NULL;
CREATE INDEX payout_lines_payout ON payout_lines(payout_id);

-- Idempotency keys (IETF draft "The Idempotency-Key HTTP Header Field"): the first request's
-- fingerprint and response, so a replay returns it and a different request with the same key is refused.
CREATE TABLE idempotency_keys (
    operation        TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    response_status  INTEGER,
    response_body    TEXT,
    locked_until     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (operation, key)
);

-- Durable, ordered domain event log (also the transactional outbox): written in the same
-- transaction as the change it describes. Later consumers: alerts, webhooks, the live feed.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    studio_id    BLOB,
    entity_id    BLOB,
    payload      TEXT NOT NULL
);
CREATE INDEX events_kind ON events(kind, id);
