-- Accounts, roles and security (issue 4): businesses own studios; users sign in with a password
-- (Argon2id PHC string) and hold a session; integrations use API keys with scopes; every mutation
-- is written to an append-only activity log in the same transaction as the change.

CREATE TABLE businesses (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Studios created before businesses existed belong to one business (a deployment was one
-- business until now); `ensure_business` in the engine does the same for a fresh database.
ALTER TABLE studios ADD COLUMN business_id UUID REFERENCES businesses(id);
INSERT INTO businesses (id, name, created_at)
    SELECT gen_random_uuid(), 'Studios', now()
    WHERE EXISTS (SELECT 1 FROM studios);
UPDATE studios SET business_id = (SELECT id FROM businesses LIMIT 1) WHERE business_id IS NULL;

CREATE TABLE users (
    id                UUID PRIMARY KEY NOT NULL,
    business_id       UUID NOT NULL REFERENCES businesses(id),
    -- Unique regardless of case (SQLite: UNIQUE COLLATE NOCASE): see users_email_key below.
    -- Stored as typed; look it up with lower(email) = lower($1) so the index serves the query.
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'receptionist', 'employee')),
    studio_id         UUID REFERENCES studios(id),
    employee_id       UUID REFERENCES employees(id),
    password_hash     TEXT NOT NULL,
    -- TRUE while the password is one the README publishes (demo logins): `serve` outside demo mode
    -- refuses to start while such a user is active.
    demo_credentials  BOOLEAN NOT NULL DEFAULT FALSE,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        TIMESTAMPTZ NOT NULL,
    password_changed_at TIMESTAMPTZ NOT NULL,
    -- A receptionist works at exactly one studio; an employee is exactly one employee.
    CHECK ((role = 'receptionist') = (studio_id IS NOT NULL)),
    CHECK ((role = 'employee') = (employee_id IS NOT NULL))
);
-- One account per email address, whatever its case. Named as PostgreSQL names a column's UNIQUE
-- constraint; a duplicate fails with "duplicate key value violates unique constraint
-- "users_email_key"". (SQLite's NOCASE folds ASCII letters only; lower() folds every letter.)
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A session cookie holds a random token; only its SHA-256 is stored, so a copy of the database
-- cannot be used to sign in. (A 32-byte hash, not a UUID: BYTEA.)
CREATE TABLE sessions (
    token_hash    BYTEA PRIMARY KEY NOT NULL,
    user_id       UUID NOT NULL REFERENCES users(id),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- An API key is `pe_<prefix>_<secret>`; the prefix identifies it in lists and logs, the
-- SHA-256 of the whole key (32 bytes: BYTEA) authenticates it (the secret has 256 bits of entropy,
-- so a slow password hash adds nothing but latency to every request).
CREATE TABLE api_keys (
    id            UUID PRIMARY KEY NOT NULL,
    business_id   UUID NOT NULL REFERENCES businesses(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    key_hash      BYTEA NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'receptionist')),
    studio_id     UUID REFERENCES studios(id),
    -- JSON array of scope names, e.g. ["payouts:read","service_records:write"].
    scopes        JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    -- Who created it (the creator's label, e.g. an email), not a time.
    created_by    TEXT NOT NULL,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    CHECK ((role = 'receptionist') = (studio_id IS NOT NULL))
);

-- Who did what, when, with which idempotency key, and the state before and after. Append-only:
-- triggers refuse UPDATE and DELETE (and TRUNCATE).
-- The id comes from an identity sequence and is never reused (as SQLite's AUTOINCREMENT).
CREATE TABLE activity_log (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               TIMESTAMPTZ NOT NULL,
    -- user:<uuid>, api_key:<uuid> or operator:<label> (the command line, a background worker).
    actor            TEXT NOT NULL,
    actor_label      TEXT NOT NULL,
    role             TEXT NOT NULL,
    -- The business the entry belongs to (the actor's, else the studio's): what an owner browses.
    business_id      UUID,
    action           TEXT NOT NULL,
    entity_type      TEXT NOT NULL,
    -- Text, not UUID: the engine writes the changed entity's id as a string.
    entity_id        TEXT,
    studio_id        UUID,
    idempotency_key  TEXT,
    -- JSON, as the engine writes it.
    before_state     TEXT,
    after_state      TEXT
);
CREATE INDEX activity_log_business ON activity_log(business_id, id);
CREATE TRIGGER activity_log_append_only_update BEFORE UPDATE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the activity log is append-only');
CREATE TRIGGER activity_log_append_only_delete BEFORE DELETE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the activity log is append-only');
CREATE TRIGGER activity_log_append_only_truncate BEFORE TRUNCATE ON activity_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the activity log is append-only');

-- A studio inserted without a business joins the deployment's business (created on first use):
-- one deployment is one business unless studios are created with an explicit business.
-- (SQLite does this AFTER INSERT by updating the new row; here a BEFORE INSERT trigger sets
-- NEW.business_id, with the same result. The transaction-scoped advisory lock makes concurrent
-- first studios, which SQLite's single writer serialises, agree on one business instead of
-- creating two; it is taken only when a studio comes without a business.)
CREATE FUNCTION studios_default_business() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('payout_engine.studios_default_business'));
    INSERT INTO businesses (id, name, created_at)
        SELECT gen_random_uuid(), 'Studios', now()
        WHERE NOT EXISTS (SELECT 1 FROM businesses);
    NEW.business_id := (SELECT id FROM businesses ORDER BY created_at, id LIMIT 1);
    RETURN NEW;
END;
$$;
CREATE TRIGGER studios_default_business BEFORE INSERT ON studios
    FOR EACH ROW WHEN (NEW.business_id IS NULL)
    EXECUTE FUNCTION studios_default_business();
