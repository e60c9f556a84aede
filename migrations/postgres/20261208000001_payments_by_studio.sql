-- Payments by studio without their state (issue 6, performance): see the SQLite migration of the
-- same name. On PostgreSQL an update that changes no indexed column can also stay on the same
-- heap page without touching any index (a HOT update); with the state indexed, every state
-- change wrote a new entry in each of the payments' indexes.
DROP INDEX payments_studio_state;
CREATE INDEX payments_studio ON payments(studio_id);
