-- Why a parked payment event is parked, as data (issue 10: the operator's page words it in the
-- reader's language; `reason` keeps the English explanation for the API). JSON such as
-- {"kind": "refused", "action": "refunded", "from": "processing", "reason": {"code": "still_processing"}}.
-- NULL for events parked before this column existed (the page shows `reason` then) and for
-- events not parked.
ALTER TABLE payment_events ADD COLUMN park_reason JSONB;
