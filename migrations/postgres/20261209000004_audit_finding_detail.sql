-- What an audit finding says, as data (issue 10: the audit page words it in the reader's
-- language; `message` keeps the English of the alert). JSON such as {"code": "till_differs",
-- "studio": "Zürich", "on": "2026-11-23", "expected": 5000, "postings": 4800}. NULL for findings
-- stored before this column existed (the page shows `message` then).
ALTER TABLE audit_findings ADD COLUMN detail JSONB;
