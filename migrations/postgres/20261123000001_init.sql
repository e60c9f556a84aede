-- Payout Engine schema (PostgreSQL). Money is BIGINT Rappen; dates are DATE (Europe/Zurich calendar
-- dates); timestamps are TIMESTAMPTZ (instants, written in UTC); ids are UUIDs; yes/no flags are
-- BOOLEAN. Each file here pairs with the SQLite migration of the same name (migrations/sqlite/) and
-- builds the same tables, columns, constraints and indexes.
-- The database, not the UI, is the last line of defence: constraints below refuse what code must
-- never do (a record held by two live payouts, a second open payout for one employee, negative prices).

CREATE TABLE studios (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE employees (
    id              UUID PRIMARY KEY NOT NULL,
    studio_id       UUID NOT NULL REFERENCES studios(id),
    name            TEXT NOT NULL,
    commission_bps  BIGINT NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX employees_studio ON employees(studio_id);

-- A category-specific commission rate (e.g. colour work pays more than cuts).
CREATE TABLE commission_overrides (
    employee_id     UUID NOT NULL REFERENCES employees(id),
    category        TEXT NOT NULL,
    commission_bps  BIGINT NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    PRIMARY KEY (employee_id, category)
);

CREATE TABLE services (
    id          UUID PRIMARY KEY NOT NULL,
    studio_id   UUID NOT NULL REFERENCES studios(id),
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    list_price  BIGINT NOT NULL CHECK (list_price > 0 AND list_price <= 10000000),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (studio_id, name)
);

CREATE TABLE service_records (
    id              UUID PRIMARY KEY NOT NULL,
    studio_id       UUID NOT NULL REFERENCES studios(id),
    employee_id     UUID NOT NULL REFERENCES employees(id),
    service_id      UUID NOT NULL REFERENCES services(id),
    performed_on    DATE NOT NULL,
    price           BIGINT NOT NULL CHECK (price > 0 AND price <= 10000000),
    tip             BIGINT NOT NULL DEFAULT 0 CHECK (tip >= 0 AND tip <= 10000000),
    payment_method  TEXT NOT NULL CHECK (payment_method IN ('cash', 'card', 'twint')),
    -- Rate and commission are fixed when the service is registered: a later rate change never
    -- rewrites what was earned.
    commission_bps  BIGINT NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
    commission      BIGINT NOT NULL CHECK (commission >= 0),
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX service_records_employee_date ON service_records(employee_id, performed_on);

CREATE TABLE day_records (
    id                  UUID PRIMARY KEY NOT NULL,
    studio_id           UUID NOT NULL REFERENCES studios(id),
    employee_id         UUID NOT NULL REFERENCES employees(id),
    worked_on           DATE NOT NULL,
    -- Deducted from the payout, e.g. chair rent. Positive number.
    deduction           BIGINT NOT NULL DEFAULT 0 CHECK (deduction >= 0 AND deduction <= 10000000),
    -- When the day's commission is below this, the payout tops it up. 0 = no guarantee.
    guaranteed_minimum  BIGINT NOT NULL DEFAULT 0 CHECK (guaranteed_minimum >= 0 AND guaranteed_minimum <= 10000000),
    note                TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (employee_id, worked_on)
);

CREATE TABLE payouts (
    id                      UUID PRIMARY KEY NOT NULL,
    studio_id               UUID NOT NULL REFERENCES studios(id),
    employee_id             UUID NOT NULL REFERENCES employees(id),
    period_start            DATE NOT NULL,
    period_end              DATE NOT NULL,
    state                   TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'failed', 'cancelled')),
    phase                   TEXT NOT NULL CHECK (phase IN ('created', 'lines_claimed', 'totals_verified', 'committed')),
    record_count            BIGINT NOT NULL DEFAULT 0,
    total                   BIGINT NOT NULL DEFAULT 0,
    currency                TEXT NOT NULL DEFAULT 'CHF' CHECK (currency = 'CHF'),
    expected_record_count   BIGINT NOT NULL,
    expected_total          BIGINT NOT NULL,
    failed_phase            TEXT CHECK (failed_phase IS NULL OR failed_phase IN ('created', 'lines_claimed', 'totals_verified', 'committed')),
    error                   TEXT,
    idempotency_key         TEXT UNIQUE,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    committed_at            TIMESTAMPTZ,
    cancelled_at            TIMESTAMPTZ,
    CHECK (period_end >= period_start),
    CHECK ((state = 'committed') = (phase = 'committed'))
);
-- At most one open (pending or failed) payout per employee: two tabs or fifty concurrent clicks can
-- never start a second payout while one is unfinished. (A unique index also holds across concurrent
-- transactions: the second insert waits for the first to commit, then fails.)
CREATE UNIQUE INDEX payouts_one_open_per_employee ON payouts(employee_id) WHERE state IN ('pending', 'failed');
CREATE INDEX payouts_state ON payouts(state, updated_at);
CREATE INDEX payouts_employee ON payouts(employee_id, period_start);

-- One row per record a payout settles, with the amount computed when it was claimed.
CREATE TABLE payout_lines (
    payout_id           UUID NOT NULL REFERENCES payouts(id),
    service_record_id   UUID REFERENCES service_records(id),
    day_record_id       UUID REFERENCES day_records(id),
    on_date             DATE NOT NULL,
    price               BIGINT NOT NULL DEFAULT 0,
    commission_bps      BIGINT NOT NULL DEFAULT 0,
    commission          BIGINT NOT NULL DEFAULT 0,
    tip                 BIGINT NOT NULL DEFAULT 0,
    deduction           BIGINT NOT NULL DEFAULT 0,
    guaranteed_minimum  BIGINT NOT NULL DEFAULT 0,
    day_earned          BIGINT NOT NULL DEFAULT 0,
    top_up              BIGINT NOT NULL DEFAULT 0,
    amount              BIGINT NOT NULL,
    -- TRUE once the payout is cancelled: the record is payable again.
    released            BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK ((service_record_id IS NULL) <> (day_record_id IS NULL))
);
-- A record belongs to at most one live (not cancelled) payout, enforced here, not only in code.
CREATE UNIQUE INDEX payout_lines_live_service_record ON payout_lines(service_record_id)
    WHERE NOT released AND service_record_id IS NOT NULL;
CREATE UNIQUE INDEX payout_lines_live_day_record ON payout_lines(day_record_id)
    WHERE NOT released AND day_record_id IS NOT NULL;
CREATE INDEX payout_lines_payout ON payout_lines(payout_id);

-- Idempotency keys (IETF draft "The Idempotency-Key HTTP Header Field"): the first request's
-- fingerprint and response, so a replay returns it and a different request with the same key is refused.
CREATE TABLE idempotency_keys (
    operation        TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    response_status  BIGINT,
    response_body    TEXT,
    locked_until     TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (operation, key)
);

-- Durable, ordered domain event log (also the transactional outbox): written in the same
-- transaction as the change it describes. Later consumers: alerts, webhooks, the live feed.
-- The id comes from an identity sequence and is never reused (as SQLite's AUTOINCREMENT); note that
-- with concurrent writers ids are handed out in insert order, not commit order.
CREATE TABLE events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  TIMESTAMPTZ NOT NULL,
    kind         TEXT NOT NULL,
    studio_id    UUID,
    entity_id    UUID,
    -- JSON, as the engine writes it.
    payload      TEXT NOT NULL
);
CREATE INDEX events_kind ON events(kind, id);
