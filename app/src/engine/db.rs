//! One engine, two databases: SQLite (the embedded default) and PostgreSQL (the scale-out
//! backend). The engine writes each statement once, in SQL both understand, and runs it through
//! this module, which binds the arguments for whichever backend the pool is on. The few places
//! where the dialects differ ask [`Backend`] for the fragment.
//!
//! The API mirrors sqlx's (`query`, `query_as`, `query_scalar`, `bind`, `execute`, `fetch_*`) so
//! the SQL reads as before; only the executor types are ours ([`DbPool`], [`DbConnection`],
//! [`DbTransaction`]). A value can be bound when sqlx can encode it for both backends, and a row
//! type decoded when it derives `sqlx::FromRow` over types both backends decode: `i64` Rappen,
//! `bool`, `String`, `Uuid` ids (16-byte BLOB / `uuid`), `NaiveDate` (TEXT / `date`),
//! `DateTime<Utc>` (TEXT RFC 3339 / `timestamptz`).

use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments as _, Encode, FromRow, Postgres, Sqlite, Transaction, Type};
use std::borrow::Cow;

/// Which database the engine runs on (reported by `/healthz`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file, one writer at a time (`BEGIN IMMEDIATE`).
    Sqlite,
    /// PostgreSQL, shared by any number of server instances.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// SQL condition: `column` (a UUID) is one of the ids in parameter `$n`, a JSON array of ids
    /// as 32 hex digits (see [`super::access::Caller::studio_filter`]), or `$n` is NULL (no
    /// restriction).
    pub fn id_in_json_array(self, column: &str, parameter: usize) -> String {
        match self {
            Backend::Sqlite => format!(
                "(${parameter} IS NULL OR {column} IN (SELECT unhex(value) FROM json_each(${parameter})))"
            ),
            Backend::Postgres => format!(
                "(${parameter}::text IS NULL OR {column} IN \
                 (SELECT value::uuid FROM json_array_elements_text(${parameter}::json)))"
            ),
        }
    }

    /// SQL expression: the UTC calendar date (`YYYY-MM-DD`, as a date value) of the timestamp
    /// `column`.
    pub fn utc_date_of(self, column: &str) -> String {
        match self {
            Backend::Sqlite => format!("substr({column}, 1, 10)"),
            Backend::Postgres => format!("(({column}) AT TIME ZONE 'UTC')::date"),
        }
    }

    /// SQL expression: the first day (a date) of the ISO week (its Monday) or the calendar month
    /// the date `column` falls in, the same day [`Granularity::start_of`] computes, so rows can
    /// be grouped by week or month in the database.
    ///
    /// [`Granularity::start_of`]: crate::domain::Granularity::start_of
    pub fn period_start_of(self, column: &str, granularity: crate::domain::Granularity) -> String {
        use crate::domain::Granularity;
        match (self, granularity) {
            // 'weekday 0' moves forward to the next Sunday (a Sunday stays), 6 days back is the
            // Monday of that ISO week.
            (Backend::Sqlite, Granularity::Week) => {
                format!("date({column}, 'weekday 0', '-6 days')")
            }
            (Backend::Sqlite, Granularity::Month) => format!("date({column}, 'start of month')"),
            // On a timestamp without time zone, so the session's time zone plays no part.
            (Backend::Postgres, Granularity::Week) => {
                format!("CAST(date_trunc('week', CAST({column} AS TIMESTAMP)) AS DATE)")
            }
            (Backend::Postgres, Granularity::Month) => {
                format!("CAST(date_trunc('month', CAST({column} AS TIMESTAMP)) AS DATE)")
            }
        }
    }

    /// The locking clause of a `SELECT` that claims jobs: PostgreSQL locks the rows it picks and
    /// skips rows another process has locked (`FOR UPDATE SKIP LOCKED`), so concurrent workers
    /// claim disjoint jobs; SQLite needs nothing (one writer at a time).
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A connection pool on either backend; cheap to clone.
#[derive(Clone, Debug)]
pub enum DbPool {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// A connection taken from a [`DbPool`] (returned to it on drop).
pub enum DbConnection {
    /// SQLite.
    Sqlite(PoolConnection<Sqlite>),
    /// PostgreSQL.
    Postgres(PoolConnection<Postgres>),
}

/// An open transaction; dropped without [`DbTransaction::commit`], it rolls back.
pub enum DbTransaction {
    /// SQLite, with this process's writer turn when it is a write transaction (see
    /// [`WriterQueue`]).
    Sqlite(Transaction<'static, Sqlite>, Option<WriterTurn>),
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

/// This process's queue for SQLite's single writer. SQLite lets one transaction write at a time
/// and makes the others poll (`busy_timeout` sleeps of up to 100 ms between tries), so two
/// writers of one process that meet (the inbox worker and ingestion, say) would leave the lock
/// idle while the loser sleeps and would be served in no particular order. Writers of this
/// process wait here instead, first come first served, and only another process's writers
/// meet the busy timeout.
#[derive(Clone, Debug, Default)]
pub struct WriterQueue(std::sync::Arc<tokio::sync::Mutex<()>>);

/// A write transaction's place at the head of the [`WriterQueue`]; dropping it lets the next in.
#[derive(Debug)]
pub struct WriterTurn {
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl WriterQueue {
    /// Waits up to `timeout` for this process's turn to write.
    ///
    /// Errors: [`tokio::time::error::Elapsed`] when the turn did not come in time (the caller
    /// answers 503, as for a busy database).
    pub async fn turn(
        &self,
        timeout: std::time::Duration,
    ) -> Result<WriterTurn, tokio::time::error::Elapsed> {
        let held = tokio::time::timeout(timeout, self.0.clone().lock_owned()).await?;
        Ok(WriterTurn { _held: held })
    }
}

impl DbPool {
    /// The backend this pool connects to.
    pub fn backend(&self) -> Backend {
        match self {
            DbPool::Sqlite(_) => Backend::Sqlite,
            DbPool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Takes a connection (waits up to the pool's acquire timeout).
    pub async fn acquire(&self) -> Result<DbConnection, sqlx::Error> {
        Ok(match self {
            DbPool::Sqlite(pool) => DbConnection::Sqlite(pool.acquire().await?),
            DbPool::Postgres(pool) => DbConnection::Postgres(pool.acquire().await?),
        })
    }

    /// Starts a plain transaction (`BEGIN`).
    pub async fn begin(&self) -> Result<DbTransaction, sqlx::Error> {
        Ok(match self {
            DbPool::Sqlite(pool) => DbTransaction::Sqlite(pool.begin().await?, None),
            DbPool::Postgres(pool) => DbTransaction::Postgres(pool.begin().await?),
        })
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match self {
            DbPool::Sqlite(pool) => pool.close().await,
            DbPool::Postgres(pool) => pool.close().await,
        }
    }

    /// Connections open (in use or idle), for diagnostics.
    pub fn size(&self) -> u32 {
        match self {
            DbPool::Sqlite(pool) => pool.size(),
            DbPool::Postgres(pool) => pool.size(),
        }
    }

    /// The SQLite pool, when on SQLite (benchmarks compare against bare sqlx).
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match self {
            DbPool::Sqlite(pool) => Some(pool),
            DbPool::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, when on PostgreSQL.
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match self {
            DbPool::Sqlite(_) => None,
            DbPool::Postgres(pool) => Some(pool),
        }
    }
}

impl DbConnection {
    /// The backend of this connection.
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Sqlite(_) => Backend::Sqlite,
            DbConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

impl DbTransaction {
    /// The backend of this transaction.
    pub fn backend(&self) -> Backend {
        match self {
            DbTransaction::Sqlite(..) => Backend::Sqlite,
            DbTransaction::Postgres(_) => Backend::Postgres,
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            // The turn is passed on only after COMMIT returned.
            DbTransaction::Sqlite(tx, _turn) => tx.commit().await,
            DbTransaction::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls back explicitly (dropping does too, but later, on the connection's next use).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            DbTransaction::Sqlite(tx, _turn) => tx.rollback().await,
            DbTransaction::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// Where a statement runs: a pool, a connection or a transaction of either backend.
pub enum Target<'a> {
    /// Any connection of a SQLite pool.
    SqlitePool(&'a SqlitePool),
    /// One SQLite connection (possibly inside a transaction).
    Sqlite(&'a mut SqliteConnection),
    /// Any connection of a PostgreSQL pool.
    PostgresPool(&'a PgPool),
    /// One PostgreSQL connection (possibly inside a transaction).
    Postgres(&'a mut PgConnection),
}

impl Target<'_> {
    /// The same target for one more statement, so that a helper can run several on it.
    pub fn reborrow(&mut self) -> Target<'_> {
        match self {
            Target::SqlitePool(pool) => Target::SqlitePool(pool),
            Target::Sqlite(conn) => Target::Sqlite(conn),
            Target::PostgresPool(pool) => Target::PostgresPool(pool),
            Target::Postgres(conn) => Target::Postgres(conn),
        }
    }
}

impl<'a> Executor<'a> for Target<'a> {
    fn target(self) -> Target<'a> {
        self
    }
}

/// Something a statement can run on: `&DbPool`, `&mut DbConnection`, `&mut DbTransaction`
/// (or a [`Target`] one of them gave).
pub trait Executor<'a>: Send {
    /// Where the statement runs.
    fn target(self) -> Target<'a>;
}

impl<'a> Executor<'a> for &'a DbPool {
    fn target(self) -> Target<'a> {
        match self {
            DbPool::Sqlite(pool) => Target::SqlitePool(pool),
            DbPool::Postgres(pool) => Target::PostgresPool(pool),
        }
    }
}

impl<'a> Executor<'a> for &'a mut DbConnection {
    fn target(self) -> Target<'a> {
        match self {
            DbConnection::Sqlite(conn) => Target::Sqlite(conn),
            DbConnection::Postgres(conn) => Target::Postgres(conn),
        }
    }
}

impl<'a> Executor<'a> for &'a mut DbTransaction {
    fn target(self) -> Target<'a> {
        match self {
            DbTransaction::Sqlite(tx, _) => Target::Sqlite(tx),
            DbTransaction::Postgres(tx) => Target::Postgres(tx),
        }
    }
}

/// A value bindable on both backends (blanket-implemented for everything sqlx encodes for both).
pub trait Argument<'q>: Send {
    /// Appends the value to SQLite arguments.
    fn add_to_sqlite(
        self: Box<Self>,
        arguments: &mut SqliteArguments<'q>,
    ) -> Result<(), BoxDynError>;
    /// Appends the value to PostgreSQL arguments.
    fn add_to_postgres(self: Box<Self>, arguments: &mut PgArguments) -> Result<(), BoxDynError>;
}

impl<'q, T> Argument<'q> for T
where
    T: 'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>,
{
    fn add_to_sqlite(
        self: Box<Self>,
        arguments: &mut SqliteArguments<'q>,
    ) -> Result<(), BoxDynError> {
        arguments.add(*self)
    }

    fn add_to_postgres(self: Box<Self>, arguments: &mut PgArguments) -> Result<(), BoxDynError> {
        arguments.add(*self)
    }
}

/// A row type decodable on both backends (anything deriving `sqlx::FromRow` over such fields).
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// The bound arguments of a statement, encoded when it runs (when the backend is known).
struct Bound<'q>(Vec<Box<dyn Argument<'q> + 'q>>);

impl<'q> Bound<'q> {
    fn for_sqlite(self) -> Result<SqliteArguments<'q>, BoxDynError> {
        let mut arguments = SqliteArguments::default();
        for value in self.0 {
            value.add_to_sqlite(&mut arguments)?;
        }
        Ok(arguments)
    }

    fn for_postgres(self) -> Result<PgArguments, BoxDynError> {
        let mut arguments = PgArguments::default();
        arguments.reserve(self.0.len(), self.0.len() * 8);
        for value in self.0 {
            value.add_to_postgres(&mut arguments)?;
        }
        Ok(arguments)
    }
}

/// Runs `$run` (a closure-like expression using `$exec` and `$args`) on whichever executor the
/// target is, with the arguments encoded for its backend.
/// On SQLite, `$sql` is first rewritten by [`sqlite_placeholders`].
macro_rules! on_target {
    ($target:expr, $bound:expr, $sql:ident, |$exec:ident, $args:ident| $run:expr) => {
        match $target {
            Target::SqlitePool($exec) => {
                let $args = $bound.for_sqlite().map_err(sqlx::Error::Encode)?;
                let $sql = sqlite_placeholders($sql);
                $run
            }
            Target::Sqlite($exec) => {
                let $args = $bound.for_sqlite().map_err(sqlx::Error::Encode)?;
                let $sql = sqlite_placeholders($sql);
                $run
            }
            Target::PostgresPool($exec) => {
                let $args = $bound.for_postgres().map_err(sqlx::Error::Encode)?;
                $run
            }
            Target::Postgres($exec) => {
                let $args = $bound.for_postgres().map_err(sqlx::Error::Encode)?;
                $run
            }
        }
    };
}

/// `$1, $2, …` rewritten to SQLite's anonymous `?` when they appear exactly in order, each once
/// (as in the set-based multi-row statements [`values_list`] and [`placeholders`] build);
/// anything else is returned as written.
///
/// Why: SQLite keeps `$N` as *named* parameters. It resolves each name by a linear scan of the
/// names so far while parsing, and sqlx asks for every parameter's name when binding (another
/// linear scan), so a statement with thousands of parameters is quadratic: 61 % of the CPU of
/// a 60,000-event replay went to `sqlite3_bind_parameter_name` and `strncmp`. Anonymous
/// parameters are numbered left to right, so in-order names bind the same values. Quoted text
/// and `--` comments are skipped.
pub fn sqlite_placeholders(sql: Cow<'_, str>) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let mut rewritten = String::with_capacity(sql.len());
    let mut next = 1_usize;
    let mut copied_to = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            // An anonymous parameter already: mixing the two styles is left alone.
            b'?' => return sql,
            b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let number = sql[i + 1..i + 1 + digits].parse::<usize>();
                if number != Ok(next) {
                    return sql;
                }
                rewritten.push_str(&sql[copied_to..i]);
                rewritten.push('?');
                next += 1;
                i += 1 + digits;
                copied_to = i;
            }
            _ => i += 1,
        }
    }
    if next == 1 {
        return sql;
    }
    rewritten.push_str(&sql[copied_to.min(sql.len())..]);
    Cow::Owned(rewritten)
}

/// What a statement that returns no rows did.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    /// Rows inserted, updated or deleted.
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// A statement whose rows, if any, are not read.
#[must_use = "a query does nothing until it is executed"]
pub struct Query<'q> {
    sql: Cow<'q, str>,
    bound: Bound<'q>,
}

/// A statement whose rows decode into `T`.
#[must_use = "a query does nothing until it is fetched"]
pub struct QueryAs<'q, T> {
    sql: Cow<'q, str>,
    bound: Bound<'q>,
    row: std::marker::PhantomData<fn() -> T>,
}

/// A statement whose first column decodes into `T`.
#[must_use = "a query does nothing until it is fetched"]
pub struct QueryScalar<'q, T> {
    sql: Cow<'q, str>,
    bound: Bound<'q>,
    value: std::marker::PhantomData<fn() -> T>,
}

/// A statement, with `$1`, `$2`, ... placeholders (both backends read them).
pub fn query<'q>(sql: impl Into<Cow<'q, str>>) -> Query<'q> {
    Query {
        sql: sql.into(),
        bound: Bound(Vec::new()),
    }
}

/// A statement whose rows decode into `T`.
pub fn query_as<'q, T: Record>(sql: impl Into<Cow<'q, str>>) -> QueryAs<'q, T> {
    QueryAs {
        sql: sql.into(),
        bound: Bound(Vec::new()),
        row: std::marker::PhantomData,
    }
}

/// A statement whose first column decodes into `T`.
pub fn query_scalar<'q, T>(sql: impl Into<Cow<'q, str>>) -> QueryScalar<'q, T>
where
    T: Send + Unpin,
    (T,): Record,
{
    QueryScalar {
        sql: sql.into(),
        bound: Bound(Vec::new()),
        value: std::marker::PhantomData,
    }
}

impl<'q> Query<'q> {
    /// Binds the next `$n`.
    pub fn bind<V: Argument<'q> + 'q>(mut self, value: V) -> Self {
        self.bound.0.push(Box::new(value));
        self
    }

    /// Binds each of `values` to the next `$n`s (an `IN` list made with [`placeholders`]).
    pub fn bind_all<V: Argument<'q> + 'q>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        for value in values {
            self.bound.0.push(Box::new(value));
        }
        self
    }

    /// Runs the statement.
    pub async fn execute<'a>(self, on: impl Executor<'a>) -> Result<Done, sqlx::Error> {
        let Query { sql, bound } = self;
        let rows_affected = on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_with(&sql, args)
                .execute(exec)
                .await?
                .rows_affected()
        });
        Ok(Done { rows_affected })
    }
}

impl<'q, T: Record> QueryAs<'q, T> {
    /// Binds the next `$n`.
    pub fn bind<V: Argument<'q> + 'q>(mut self, value: V) -> Self {
        self.bound.0.push(Box::new(value));
        self
    }

    /// Binds each of `values` to the next `$n`s (an `IN` list made with [`placeholders`]).
    pub fn bind_all<V: Argument<'q> + 'q>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        for value in values {
            self.bound.0.push(Box::new(value));
        }
        self
    }

    /// Every row.
    pub async fn fetch_all<'a>(self, on: impl Executor<'a>) -> Result<Vec<T>, sqlx::Error> {
        let QueryAs { sql, bound, .. } = self;
        on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_as_with::<_, T, _>(&sql, args)
                .fetch_all(exec)
                .await
        })
    }

    /// Exactly one row (`RowNotFound` otherwise).
    pub async fn fetch_one<'a>(self, on: impl Executor<'a>) -> Result<T, sqlx::Error> {
        let QueryAs { sql, bound, .. } = self;
        on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_as_with::<_, T, _>(&sql, args)
                .fetch_one(exec)
                .await
        })
    }

    /// The first row, if any.
    pub async fn fetch_optional<'a>(self, on: impl Executor<'a>) -> Result<Option<T>, sqlx::Error> {
        let QueryAs { sql, bound, .. } = self;
        on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_as_with::<_, T, _>(&sql, args)
                .fetch_optional(exec)
                .await
        })
    }
}

impl<'q, T> QueryScalar<'q, T>
where
    T: Send + Unpin,
    (T,): Record,
{
    /// Binds the next `$n`.
    pub fn bind<V: Argument<'q> + 'q>(mut self, value: V) -> Self {
        self.bound.0.push(Box::new(value));
        self
    }

    /// Binds each of `values` to the next `$n`s (an `IN` list made with [`placeholders`]).
    pub fn bind_all<V: Argument<'q> + 'q>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        for value in values {
            self.bound.0.push(Box::new(value));
        }
        self
    }

    /// The first column of every row.
    pub async fn fetch_all<'a>(self, on: impl Executor<'a>) -> Result<Vec<T>, sqlx::Error> {
        let QueryScalar { sql, bound, .. } = self;
        on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_scalar_with::<_, T, _>(&sql, args)
                .fetch_all(exec)
                .await
        })
    }

    /// The first column of exactly one row (`RowNotFound` otherwise).
    pub async fn fetch_one<'a>(self, on: impl Executor<'a>) -> Result<T, sqlx::Error> {
        let QueryScalar { sql, bound, .. } = self;
        on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_scalar_with::<_, T, _>(&sql, args)
                .fetch_one(exec)
                .await
        })
    }

    /// The first column of the first row, if any.
    pub async fn fetch_optional<'a>(self, on: impl Executor<'a>) -> Result<Option<T>, sqlx::Error> {
        let QueryScalar { sql, bound, .. } = self;
        on_target!(on.target(), bound, sql, |exec, args| {
            sqlx::query_scalar_with::<_, T, _>(&sql, args)
                .fetch_optional(exec)
                .await
        })
    }
}

/// One `INSERT` of many rows: `head` (`INSERT INTO t (a, b) `) followed by `VALUES ($1, $2),
/// ($3, $4), ...` for each item of `rows`, whose `columns` values `bind_row` binds in order.
/// Keep `rows × columns` under SQLite's 32,766 bound parameters (PostgreSQL allows 65,535).
pub fn insert_values<'q, I, F>(head: &str, rows: I, columns: usize, mut bind_row: F) -> Query<'q>
where
    I: IntoIterator,
    F: FnMut(Query<'q>, I::Item) -> Query<'q>,
{
    let rows: Vec<I::Item> = rows.into_iter().collect();
    let sql = format!("{head} VALUES {}", values_list(rows.len(), columns));
    rows.into_iter().fold(query(sql), &mut bind_row)
}

/// `($1, $2), ($3, $4), ...`: the placeholders of `rows` rows of `columns` values each, for a
/// multi-row `VALUES` list the caller completes (`ON CONFLICT`, `RETURNING`, a `WITH` list).
pub fn values_list(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    let mut parameter = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            parameter += 1;
            sql.push('$');
            sql.push_str(&parameter.to_string());
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, ...`: `count` placeholders for an `IN (...)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each of `items` once (for one `IN (...)` lookup per chunk), in no particular order.
pub fn distinct<T: std::hash::Hash + Eq>(items: impl Iterator<Item = T>) -> Vec<T> {
    items
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(sql: &str) -> String {
        sqlite_placeholders(Cow::Borrowed(sql)).into_owned()
    }

    #[test]
    fn in_order_placeholders_become_anonymous_for_sqlite() {
        assert_eq!(
            rewrite(&format!(
                "INSERT INTO t (a, b) VALUES {}",
                values_list(2, 2)
            )),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            rewrite("SELECT x FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT 5"),
            "SELECT x FROM t WHERE a = ? AND b IN (?, ?) LIMIT 5"
        );
        assert_eq!(
            rewrite("SELECT '$2', \"$9\" FROM t -- $7\nWHERE a = $1 AND b = $2"),
            "SELECT '$2', \"$9\" FROM t -- $7\nWHERE a = ? AND b = ?"
        );
    }

    #[test]
    fn placeholders_out_of_order_reused_or_mixed_are_left_as_written() {
        for sql in [
            "UPDATE t SET a = $2 WHERE id = $1",
            "SELECT x FROM t WHERE a = $1 OR b = $1",
            "SELECT x FROM t WHERE a = $1 AND b = ?",
            "SELECT x FROM t WHERE a = $1 AND b = $3",
            "SELECT 1",
        ] {
            assert_eq!(rewrite(sql), sql);
        }
    }
}
