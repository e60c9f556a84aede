-- Why a settlement item failed or needs reconciliation, and why a bank statement line matched
-- nothing or not exactly, as data (issue 10: the settlements page words it in the reader's
-- language; `reason` and `explanation` keep the English for the API). JSON such as
-- {"code": "amount_differs", "debited": 12000, "expected": 15000}. NULL where there is no
-- reason, for a dismissed line (its explanation is the person's note), and for rows written
-- before this column existed (the page shows the English text then).
ALTER TABLE settlement_items ADD COLUMN reconciliation_reason TEXT;
ALTER TABLE bank_statement_lines ADD COLUMN reconciliation_reason TEXT;
