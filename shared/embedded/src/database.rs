use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use thiserror::Error;
use tokio::sync::Notify;

use accueil_core::ports::{Clock, StoreError, SystemClock};

use crate::arrivals::Arrivals;
use crate::schema::{ADDED_COLUMNS, INDEXES, REKEYED, SCHEMA, THREADS};

#[derive(Debug, Error)]
pub enum DatabaseError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database worker stopped")]
    Worker,
}

impl From<DatabaseError> for StoreError {
    fn from(e: DatabaseError) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }
}

/// How many compiled statements a connection keeps: more than the store
/// and the queue have (the claim's take a few forms), so that none of
/// those a message runs through is compiled again.
const STATEMENTS_KEPT: usize = 64;

/// Statements compiled once and kept by the connection: a message runs
/// through about twenty, and compiling them again each time was a quarter
/// of a drain's CPU (bench/README.md).
pub(crate) trait Cached {
    fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize>;
    fn query_row_cached<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// One SQLite file: the thread store and the durable queue. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pub(crate) connection: Arc<Mutex<Connection>>,
    /// Wakes the worker when a job is enqueued.
    pub(crate) enqueued: Arc<Notify>,
    /// Ingest's jobs waiting to be committed together.
    pub(crate) arrivals: Arc<Arrivals>,
    /// When queued jobs become available: the system's, or a test's.
    pub(crate) clock: Arc<dyn Clock>,
    /// Calls run on the caller's thread, blocking it (`on_own_thread`).
    in_place: bool,
    path: PathBuf,
}

impl Database {
    pub fn open(path: &Path) -> Result<Database, DatabaseError> {
        let open_error = |source| DatabaseError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut connection = Connection::open(path).map_err(open_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        connection.execute_batch(SCHEMA).map_err(open_error)?;
        connection
            .execute_batch(&THREADS.replace("{table}", "threads"))
            .map_err(open_error)?;
        // Off while `migrate` may rebuild the threads table: dropping the
        // old one would otherwise delete every message with it (cascade).
        connection
            .execute_batch("PRAGMA foreign_keys = OFF")
            .map_err(open_error)?;
        migrate(&mut connection).map_err(open_error)?;
        connection
            .execute_batch("PRAGMA foreign_keys = ON")
            .map_err(open_error)?;
        Ok(Database {
            connection: Arc::new(Mutex::new(connection)),
            enqueued: Arc::new(Notify::new()),
            arrivals: Arc::default(),
            clock: Arc::new(SystemClock),
            in_place: false,
            path: path.to_path_buf(),
        })
    }

    /// The same database, its queue on `clock`: tests move time forward
    /// to where a delayed job is due.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Database {
        self.clock = clock;
        self
    }

    /// The same database, for a caller with a thread of its own (the
    /// worker of `accueil serve`): each call blocks that thread, with no
    /// hand-off to another, while the HTTP server's threads answer
    /// webhooks. The runtime on that thread waits for its calls anyway,
    /// all on the one connection.
    pub fn on_own_thread(mut self) -> Database {
        self.in_place = true;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a closure on the connection. On a thread of its own
    /// (`on_own_thread`) it simply blocks it. Elsewhere it tells the async
    /// runtime that it blocks: a multi-threaded runtime lets it run in
    /// place, moving the thread's other tasks to another (a call costs
    /// about 1 µs where handing it to the blocking pool and back cost 25,
    /// bench/README.md); a single-threaded runtime cannot, and hands it over.
    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, DatabaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DatabaseError> + Send + 'static,
    {
        if self.in_place {
            return self.locked(f)();
        }
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(self.locked(f))
            }
            _ => self.off_thread(f).await,
        }
    }

    /// The same, always on the blocking pool: for ingest's commits, which
    /// wait for the disk and for each other (`arrivals`), so that waiting
    /// never holds a thread that answers HTTP requests.
    pub(crate) async fn off_thread<T, F>(&self, f: F) -> Result<T, DatabaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DatabaseError> + Send + 'static,
    {
        tokio::task::spawn_blocking(self.locked(f))
            .await
            .map_err(|_| DatabaseError::Worker)?
    }

    fn locked<T, F>(&self, f: F) -> impl FnOnce() -> Result<T, DatabaseError>
    where
        F: FnOnce(&mut Connection) -> Result<T, DatabaseError>,
    {
        let connection = self.connection.clone();
        move || {
            // A panic while holding the lock leaves SQLite consistent (its
            // transaction rolled back), so the poisoned guard is still usable.
            let mut guard = connection.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        }
    }
}

/// Brings a database made by an earlier version to the current schema, in
/// one transaction: nothing it held is lost or left half-changed.
fn migrate(connection: &mut Connection) -> rusqlite::Result<()> {
    // Immediate: a second process opening the same old file waits, then
    // finds the columns there, rather than adding them twice.
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (table, column, definition, fill) in ADDED_COLUMNS {
        let present: i64 = tx.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )?;
        if present == 0 {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
            if let Some(from) = fill {
                tx.execute_batch(&format!("UPDATE {table} SET {column} = {from}"))?;
            }
        }
    }
    let threads: String = tx.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'threads'",
        [],
        |r| r.get(0),
    )?;
    if !threads.contains("'answered'") {
        rebuild_threads(&tx)?;
    }
    tx.execute_batch(REKEYED)?;
    tx.execute_batch(INDEXES)?;
    tx.commit()
}

/// SQLite cannot change a table's CHECK in place: the threads table of a
/// database from before answered and snoozed threads is made anew with
/// the same rows (its indexes come back with `INDEXES`).
fn rebuild_threads(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    // Dangling rows from before, if any, are not this rebuild's to judge;
    // that it adds none is.
    let dangling = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<i64> {
        tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
    };
    let before = dangling(tx)?;
    tx.execute_batch(&THREADS.replace("{table}", "threads_rebuilt"))?;
    let columns: Vec<String> = tx
        .prepare("SELECT name FROM pragma_table_info('threads_rebuilt')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let columns = columns.join(", ");
    tx.execute_batch(&format!(
        "INSERT INTO threads_rebuilt ({columns}) SELECT {columns} FROM threads;
         DROP TABLE threads;
         ALTER TABLE threads_rebuilt RENAME TO threads;"
    ))?;
    if dangling(tx)? > before {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some("rebuilding threads left rows pointing nowhere".into()),
        ));
    }
    Ok(())
}

pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}
