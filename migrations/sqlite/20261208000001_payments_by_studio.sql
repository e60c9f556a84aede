-- Payments by studio without their state (issue 6, performance). The index on (studio_id, state)
-- moved a payment's entry on every state change (authorised, captured, refunded: a delete and an
-- insert on two pages of the studio's range), and SQLite rewrites an index on every UPDATE that
-- sets one of its columns, so even an unchanged state (a settlement) rewrote it. The worker's
-- upsert sets the state on every event, and a 200,000-event replay wrote 76,000 pages of it
-- (15 % of all pages). On studio_id alone the entry is written once, when the payment is
-- created; listing a studio's payments in one state reads the studio's range and filters.
DROP INDEX payments_studio_state;
CREATE INDEX payments_studio ON payments(studio_id);
