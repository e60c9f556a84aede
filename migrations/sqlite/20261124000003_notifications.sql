-- Telegram alerts through a transactional outbox (issue 3). A message row is written in the same
-- transaction as the event that causes it; a worker delivers it.

-- An employee's Telegram chat id (optional): they are told when their payout is committed.
ALTER TABLE employees ADD COLUMN telegram_chat_id TEXT;

CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    -- One message per event and recipient, whatever retries or restarts happen.
    dedupe_key       TEXT NOT NULL UNIQUE,
    event_id         INTEGER NOT NULL REFERENCES events(id),
    channel          TEXT NOT NULL CHECK (channel = 'telegram'),
    audience         TEXT NOT NULL CHECK (audience IN ('owner', 'employee')),
    recipient        TEXT NOT NULL,
    text             TEXT NOT NULL,
    -- pending -> sending -> sent; sending -> pending (retryable: 429, 5xx, refused connection);
    -- sending -> failed (refused by Telegram, or out of attempts); sending -> unknown (a timeout or a
    -- crash while sending: it may have arrived, so it is never re-sent automatically).
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX notifications_due ON notifications(state, next_attempt_at);
