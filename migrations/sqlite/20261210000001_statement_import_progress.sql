-- A statement is imported in steps of a few hundred lines, each step its own transaction (issue
-- 10: long operations show their progress). The page and the command line read how far an
-- import is from these columns; an import that stopped part-way (its process ended, a step
-- failed) is continued by importing the same file again, from the line after `lines_done`.
ALTER TABLE bank_statements ADD COLUMN lines_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_statements ADD COLUMN lines_done INTEGER NOT NULL DEFAULT 0;
-- When the last step committed (UTC); an unfinished import without a step for a minute stopped.
ALTER TABLE bank_statements ADD COLUMN progress_at TEXT;
-- When a step failed (UTC), so the page says the import stopped rather than that it goes on;
-- cleared by the next step that commits.
ALTER TABLE bank_statements ADD COLUMN stopped_at TEXT;
-- When the last line was matched (UTC); NULL while the import is unfinished.
ALTER TABLE bank_statements ADD COLUMN finished_at TEXT;

-- Statements imported before this migration were imported whole, in one transaction.
UPDATE bank_statements SET
    lines_total = (SELECT COUNT(*) FROM bank_statement_lines l WHERE l.statement_id = bank_statements.id),
    lines_done = (SELECT COUNT(*) FROM bank_statement_lines l WHERE l.statement_id = bank_statements.id),
    progress_at = imported_at,
    finished_at = imported_at;

CREATE INDEX bank_statements_unfinished ON bank_statements (studio_id, imported_at) WHERE finished_at IS NULL;
