-- Why a webhook endpoint was disabled, as data (issue 10: the portal words it in the reader's
-- language; `disabled_reason` keeps the English for the API). JSON such as {"code": "gone"}.
-- NULL while enabled, and for endpoints disabled before this column existed (the page shows
-- `disabled_reason` then).
ALTER TABLE webhook_endpoints ADD COLUMN disabled_because JSONB;
