-- Each user's language (issue 10): 'de', 'fr' or 'en'; NULL until they choose one, while the
-- browser's language (cookie, then Accept-Language) decides.
ALTER TABLE users ADD COLUMN locale TEXT CHECK (locale IN ('de', 'fr', 'en'));
