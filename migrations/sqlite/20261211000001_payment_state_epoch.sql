-- The payment state's epoch (issue 6, SQLite only): a counter every transaction that changes a
-- payment or a payment event's status raises. The inbox worker decides a round on a reader's
-- snapshot, outside the one writer's turn, and writes it only if the epoch is still the one it
-- read (nothing it decided on changed in between); otherwise it decides the round again under
-- the turn. PostgreSQL's workers claim their events with FOR UPDATE SKIP LOCKED instead, so
-- PostgreSQL has no such row (a shared counter would serialise its workers).
CREATE TABLE payment_state_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  INTEGER NOT NULL
);
INSERT INTO payment_state_epoch (id, epoch) VALUES (1, 0);
