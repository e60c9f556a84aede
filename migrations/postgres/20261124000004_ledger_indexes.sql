-- Bulk posting (the demo seed, the backfill) finds the transfers it just wrote by kind and time.
CREATE INDEX ledger_transfers_kind_created ON ledger_transfers(kind, created_at);
CREATE INDEX ledger_transfers_cause ON ledger_transfers(cause_id);
