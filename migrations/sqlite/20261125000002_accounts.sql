-- Accounts, roles and security (issue 4): businesses own studios; users sign in with a password
-- (Argon2id PHC string) and hold a session; integrations use API keys with scopes; every mutation
-- is written to an append-only activity log in the same transaction as the change.

CREATE TABLE businesses (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Studios created before businesses existed belong to one business (a deployment was one
-- business until now); `ensure_business` in the engine does the same for a fresh database.
ALTER TABLE studios ADD COLUMN business_id BLOB REFERENCES businesses(id);
INSERT INTO businesses (id, name, created_at)
    SELECT randomblob(16), 'Studios', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE EXISTS (SELECT 1 FROM studios);
UPDATE studios SET business_id = (SELECT id FROM businesses LIMIT 1) WHERE business_id IS NULL;

CREATE TABLE users (
    id                BLOB PRIMARY KEY NOT NULL,
    business_id       BLOB NOT NULL REFERENCES businesses(id),
    email             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'receptionist', 'employee')),
    studio_id         BLOB REFERENCES studios(id),
    employee_id       BLOB REFERENCES employees(id),
    password_hash     TEXT NOT NULL,
    -- 1 while the password is one the README publishes (demo logins): `serve` outside demo mode
    -- refuses to start while such a user is active.
    demo_credentials  INTEGER NOT NULL DEFAULT 0 CHECK (demo_credentials IN (0, 1)),
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at        TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    -- A receptionist works at exactly one studio; an employee is exactly one employee.
    CHECK ((role = 'receptionist') = (studio_id IS NOT NULL)),
    CHECK ((role = 'employee') = (employee_id IS NOT NULL))
);

-- A session cookie holds a random token; only its SHA-256 is stored, so a copy of the database
-- cannot be used to sign in.
CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users(id),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- An API key is `pe_<prefix>_<secret>`; the prefix identifies it in lists and logs, the
-- SHA-256 of the whole key authenticates it (the secret has 256 bits of entropy, so a slow
-- password hash adds nothing but latency to every request).
CREATE TABLE api_keys (
    id            BLOB PRIMARY KEY NOT NULL,
    business_id   BLOB NOT NULL REFERENCES businesses(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    key_hash      BLOB NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'receptionist')),
    studio_id     BLOB REFERENCES studios(id),
    -- JSON array of scope names, e.g. ["payouts:read","service_records:write"].
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at    TEXT,
    last_used_at  TEXT,
    CHECK ((role = 'receptionist') = (studio_id IS NOT NULL))
);

-- Who did what, when, with which idempotency key, and the state before and after. Append-only:
-- triggers refuse UPDATE and DELETE.
CREATE TABLE activity_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               TEXT NOT NULL,
    -- user:<uuid>, api_key:<uuid> or operator:<label> (the command line, a background worker).
    actor            TEXT NOT NULL,
    actor_label      TEXT NOT NULL,
    role             TEXT NOT NULL,
    -- The business the entry belongs to (the actor's, else the studio's): what an owner browses.
    business_id      BLOB,
    action           TEXT NOT NULL,
    entity_type      TEXT NOT NULL,
    entity_id        TEXT,
    studio_id        BLOB,
    idempotency_key  TEXT,
    before_state     TEXT,
    after_state      TEXT
);
CREATE INDEX activity_log_business ON activity_log(business_id, id);
CREATE TRIGGER activity_log_append_only_update BEFORE UPDATE ON activity_log
BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
CREATE TRIGGER activity_log_append_only_delete BEFORE DELETE ON activity_log
BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;

-- A studio inserted without a business joins the deployment's business (created on first use):
-- one deployment is one business unless studios are created with an explicit business.
CREATE TRIGGER studios_default_business AFTER INSERT ON studios WHEN NEW.business_id IS NULL
BEGIN
    INSERT INTO businesses (id, name, created_at)
        SELECT randomblob(16), 'Studios', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE NOT EXISTS (SELECT 1 FROM businesses);
    UPDATE studios SET business_id = (SELECT id FROM businesses ORDER BY created_at, id LIMIT 1)
        WHERE id = NEW.id;
END;
