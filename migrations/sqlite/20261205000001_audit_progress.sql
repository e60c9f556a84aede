-- Progress of a running audit (issue 10): a run is a number of jobs (each check over one key
-- range); the page and the command line show how many are done while it runs.
ALTER TABLE audit_runs ADD COLUMN checks_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_runs ADD COLUMN checks_done INTEGER NOT NULL DEFAULT 0;
