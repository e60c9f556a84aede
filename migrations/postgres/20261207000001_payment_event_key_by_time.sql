-- The inbox's idempotency index in time order (issue 6, performance): see the SQLite migration
-- of the same name. The event key is derived from occurred_at (to the millisecond, the
-- precision it is stored with), so (occurred_at, event_key) is unique exactly when event_key is;
-- new entries land on the right-most pages instead of a random one.
ALTER TABLE payment_events DROP CONSTRAINT payment_events_event_key_key;
ALTER TABLE payment_events ADD CONSTRAINT payment_events_key UNIQUE (occurred_at, event_key);
