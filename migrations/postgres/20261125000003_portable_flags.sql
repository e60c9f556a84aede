-- The engine's SQL now runs on SQLite and PostgreSQL, where `released` is a BOOLEAN and
-- `released = 0` is a type error. Queries say `NOT released`; SQLite uses a partial index only
-- when the query's condition matches the index's, so the live-line indexes say it the same way.
-- Here the indexes said `NOT released` from the start (init), so this rebuild changes nothing; it
-- is kept, identical to SQLite's, so that both backends run the same versions and end with the
-- same index definitions. (Every PostgreSQL database runs it right after init, on empty tables.)
DROP INDEX payout_lines_live_service_record;
CREATE UNIQUE INDEX payout_lines_live_service_record ON payout_lines(service_record_id)
    WHERE NOT released AND service_record_id IS NOT NULL;
DROP INDEX payout_lines_live_day_record;
CREATE UNIQUE INDEX payout_lines_live_day_record ON payout_lines(day_record_id)
    WHERE NOT released AND day_record_id IS NOT NULL;
