//! Schema changes SQLite cannot make inside a migration's transaction.
//!
//! Widening a CHECK constraint in SQLite means rebuilding the table, and rebuilding a table that
//! others reference needs `PRAGMA foreign_keys = OFF`, which has no effect inside a transaction
//! (<https://sqlite.org/lang_altertable.html>, "Making Other Kinds Of Table Schema Changes").
//! sqlx runs each SQLite migration inside a transaction, so these steps run here, after the
//! migrations, on one dedicated connection, each guarded by a check of the current schema so it
//! runs once. PostgreSQL makes the same changes in its migrations (`ALTER TABLE .. CONSTRAINT`).

use super::db::DbPool;
use crate::domain::{AccountCode, TransferKind};
use anyhow::Context as _;
use sqlx::Connection as _;

/// `'a', 'b', ..`: the SQL list of `names`.
fn sql_list(names: impl IntoIterator<Item = &'static str>) -> String {
    names
        .into_iter()
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rebuild of `ledger_accounts` and `ledger_transfers` whose CHECK constraints list exactly
/// the account codes and transfer kinds of this build ([`AccountCode::ALL`],
/// [`TransferKind::ALL`]: issue 6 added card sales and the payment kinds, issue 9 the returned
/// bank payout accounts and kinds), following SQLite's documented procedure: create the new
/// table, copy, drop the old one, rename, recreate indexes and triggers, check the foreign keys,
/// commit. Every existing row satisfies the wider checks.
fn widen_ledger_checks() -> String {
    let codes = sql_list(AccountCode::ALL.into_iter().map(AccountCode::as_str));
    let kinds = sql_list(TransferKind::ALL.into_iter().map(TransferKind::as_str));
    let one_per_cause = sql_list(
        TransferKind::ALL
            .into_iter()
            .filter(|kind| kind.one_per_cause())
            .map(TransferKind::as_str),
    );
    format!(
        r#"
BEGIN IMMEDIATE;
CREATE TABLE ledger_accounts_new (
    id           INTEGER PRIMARY KEY,
    studio_id    BLOB NOT NULL REFERENCES studios(id),
    code         TEXT NOT NULL CHECK (code IN ({codes})),
    employee_id  BLOB REFERENCES employees(id),
    CHECK ((code = 'employee_payable') = (employee_id IS NOT NULL))
);
INSERT INTO ledger_accounts_new (id, studio_id, code, employee_id)
    SELECT id, studio_id, code, employee_id FROM ledger_accounts;
DROP TABLE ledger_accounts;
ALTER TABLE ledger_accounts_new RENAME TO ledger_accounts;
CREATE UNIQUE INDEX ledger_accounts_studio_code ON ledger_accounts(studio_id, code) WHERE employee_id IS NULL;
CREATE UNIQUE INDEX ledger_accounts_employee ON ledger_accounts(employee_id) WHERE employee_id IS NOT NULL;

CREATE TABLE ledger_transfers_new (
    id            BLOB PRIMARY KEY NOT NULL,
    studio_id     BLOB NOT NULL REFERENCES studios(id),
    kind          TEXT NOT NULL CHECK (kind IN ({kinds})),
    reason        TEXT NOT NULL CHECK (length(reason) > 0),
    cause_type    TEXT NOT NULL,
    cause_id      BLOB NOT NULL,
    reverses      BLOB UNIQUE REFERENCES ledger_transfers_new(id),
    effective_on  TEXT NOT NULL,
    till_session_id BLOB REFERENCES till_sessions(id),
    created_at    TEXT NOT NULL,
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
INSERT INTO ledger_transfers_new (id, studio_id, kind, reason, cause_type, cause_id, reverses, effective_on, till_session_id, created_at)
    SELECT id, studio_id, kind, reason, cause_type, cause_id, reverses, effective_on, till_session_id, created_at
    FROM ledger_transfers;
DROP TABLE ledger_transfers;
ALTER TABLE ledger_transfers_new RENAME TO ledger_transfers;
CREATE UNIQUE INDEX ledger_transfers_one_per_cause ON ledger_transfers(kind, cause_id)
    WHERE kind IN ({one_per_cause});
CREATE INDEX ledger_transfers_studio_date ON ledger_transfers(studio_id, effective_on);
CREATE INDEX ledger_transfers_till ON ledger_transfers(till_session_id) WHERE till_session_id IS NOT NULL;
CREATE INDEX ledger_transfers_kind_created ON ledger_transfers(kind, created_at);
CREATE INDEX ledger_transfers_cause ON ledger_transfers(cause_id);
CREATE TRIGGER ledger_transfers_immutable_update BEFORE UPDATE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable: post a reversing transfer'); END;
CREATE TRIGGER ledger_transfers_immutable_delete BEFORE DELETE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable: post a reversing transfer'); END;
"#
    )
}

/// Runs the SQLite-only schema steps that have not run yet. A no-op on PostgreSQL.
///
/// Errors: the database cannot be reached, a step fails (it is rolled back whole), or a step
/// would leave a foreign key pointing nowhere (rolled back, with the first offending table).
pub async fn upgrade(pool: &DbPool) -> anyhow::Result<()> {
    let Some(pool) = pool.as_sqlite() else {
        return Ok(());
    };
    // Widened already when both tables' definitions name every code and kind of this build.
    let definitions: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_schema WHERE type = 'table'
           AND name IN ('ledger_accounts', 'ledger_transfers')",
    )
    .fetch_all(pool)
    .await
    .context("reading the ledger schema")?;
    let named = |name: &str| {
        let quoted = format!("'{name}'");
        definitions.iter().any(|sql| sql.contains(&quoted))
    };
    if AccountCode::ALL
        .into_iter()
        .all(|code| named(code.as_str()))
        && TransferKind::ALL
            .into_iter()
            .all(|kind| named(kind.as_str()))
    {
        return Ok(());
    }
    tracing::info!(
        "rebuilding ledger_accounts and ledger_transfers for new account codes and transfer kinds"
    );
    // A connection of its own, closed afterwards, so no pooled connection keeps the changed
    // foreign-key setting or a stale schema.
    let mut conn = pool
        .acquire()
        .await
        .context("no database connection for the ledger rebuild")?
        .detach();
    sqlx::raw_sql("PRAGMA foreign_keys = OFF")
        .execute(&mut conn)
        .await
        .context("turning foreign keys off for the ledger rebuild")?;
    let rebuilt = async {
        sqlx::raw_sql(&widen_ledger_checks())
            .execute(&mut conn)
            .await
            .context("rebuilding the ledger tables")?;
        let dangling: Option<String> = sqlx::query_scalar(
            "SELECT \"table\" FROM pragma_foreign_key_check WHERE \"table\" LIKE 'ledger_%' LIMIT 1",
        )
        .fetch_optional(&mut conn)
        .await
        .context("checking the foreign keys after the ledger rebuild")?;
        if let Some(table) = dangling {
            anyhow::bail!("the ledger rebuild would leave a dangling foreign key in {table}");
        }
        sqlx::raw_sql("COMMIT")
            .execute(&mut conn)
            .await
            .context("committing the ledger rebuild")?;
        Ok(())
    }
    .await;
    if let Err(error) = &rebuilt {
        tracing::error!(error = %format!("{error:#}"), "the ledger rebuild failed; rolling back");
        if let Err(rollback) = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await {
            // "no transaction is active" when the failure was BEGIN itself: nothing to undo.
            tracing::warn!(error = %rollback, "rolling back the ledger rebuild");
        }
    }
    if let Err(error) = conn.close().await {
        tracing::warn!(%error, "closing the ledger rebuild's connection");
    }
    rebuilt
}
