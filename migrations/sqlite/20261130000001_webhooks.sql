-- Outbound webhooks (issue 7). The event log (events) is the transactional outbox: a dispatcher
-- reads it in id order behind a cursor and writes one message per subscribed endpoint, in the
-- same transaction as the cursor's advance, so an event is fanned out exactly once. Workers
-- lease due messages, attempt them, and store a receipt per attempt.

CREATE TABLE webhook_endpoints (
    id               BLOB PRIMARY KEY NOT NULL,
    business_id      BLOB NOT NULL REFERENCES businesses(id),
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    -- JSON array of event types and prefixes ('payment.*'); '[]': every type.
    event_types      TEXT NOT NULL DEFAULT '[]',
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    disabled_reason  TEXT,
    ordered          INTEGER NOT NULL DEFAULT 0 CHECK (ordered IN (0, 1)),
    -- JSON array of seconds between attempts.
    retry_schedule   TEXT NOT NULL,
    timeout_secs     INTEGER NOT NULL CHECK (timeout_secs BETWEEN 1 AND 30),
    failing_since    TEXT,
    -- Events up to this id predate the endpoint and are not sent to it.
    first_event_id   INTEGER NOT NULL,
    version          INTEGER NOT NULL CHECK (version >= 1),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_business ON webhook_endpoints(business_id);

-- Signing secrets. The current one has no expiry; a rotated-out one signs beside it until
-- expires_at (Standard Webhooks: several signatures in one header during the overlap).
CREATE TABLE webhook_secrets (
    id           INTEGER PRIMARY KEY,
    endpoint_id  BLOB NOT NULL REFERENCES webhook_endpoints(id),
    secret       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets(endpoint_id, id);

CREATE TABLE webhook_messages (
    seq              INTEGER PRIMARY KEY,
    id               BLOB NOT NULL UNIQUE,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints(id),
    -- NULL for a test event sent from the portal.
    event_id         INTEGER REFERENCES events(id),
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('scheduled', 'sending', 'delivered', 'dead_lettered')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Attempts since the message was (re)scheduled by a person: the step of the retry schedule.
    round_attempts   INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    lease_until      TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_messages_due ON webhook_messages(state, next_attempt_at);
CREATE INDEX webhook_messages_endpoint ON webhook_messages(endpoint_id, state, seq);

-- Delivery receipts: every attempt, whatever its outcome, kept apart from the message's state
-- so a failed first attempt is never mistaken for a delivered one.
CREATE TABLE webhook_attempts (
    id                INTEGER PRIMARY KEY,
    message_seq       INTEGER NOT NULL REFERENCES webhook_messages(seq),
    attempt           INTEGER NOT NULL CHECK (attempt >= 1),
    started_at        TEXT NOT NULL,
    url               TEXT NOT NULL,
    status_code       INTEGER,
    latency_ms        INTEGER,
    response_excerpt  TEXT,
    error             TEXT,
    outcome           TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead_lettered', 'interrupted')),
    UNIQUE (message_seq, attempt)
);

-- The dispatcher's cursor: the last event id fanned out. Starts at the newest event, so the
-- history before webhooks existed is not sent.
CREATE TABLE webhook_dispatch (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id  INTEGER NOT NULL
);
INSERT INTO webhook_dispatch (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM events;
