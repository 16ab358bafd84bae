//! Storage: one code base over SQLite and PostgreSQL.
//!
//! `DbConnection` is diesel's `MultiConnection` over both backends; the pool is r2d2 with a small
//! manager of our own that picks the backend from the URL scheme (diesel's `ConnectionManager`
//! would call `MultiConnection::establish`, which tries every backend in turn: with PostgreSQL
//! down, SQLite would be asked to open the `postgres://` URL as a file). Health comes from
//! diesel's `R2D2Connection`: a connection left inside a transaction (its holder panicked) or
//! with a failed one is broken and dropped. A check-out does not ping (a round trip per
//! request); a dead PostgreSQL connection is noticed by the statement that finds it closed, and
//! work that failed there before anything took effect runs again on another (`run`). The SQLite
//! pragmas are a `CustomizeConnection`.
//! Backend-specific SQL (advisory locks, row locks, pragmas) lives in this module and nowhere else.

pub mod schema;
pub mod stamp;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{Backend, DatabaseSettings};
use crate::error::AppError;

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Key of the PostgreSQL advisory lock that serialises migrations between instances.
const MIGRATION_LOCK_KEY: i64 = 0x0068_6f74_6c69_6e65; // "hotline" in ASCII

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Opens connections of the backend named by the URL scheme.
#[derive(Debug)]
pub struct ConnectionManager {
    target: Target,
}

/// Sets the SQLite pragmas on every new connection: WAL lets readers run beside one writer; the
/// busy timeout makes writers queue instead of failing with `SQLITE_BUSY`.
#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout_ms: u32,
}

impl CustomizeConnection<DbConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(conn) = conn {
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = 0;",
                self.busy_timeout_ms
            ))
            .map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Target {
    Postgres(String),
    Sqlite(PathBuf),
}

impl ConnectionManager {
    pub fn new(url: &str) -> Result<Self, AppError> {
        let target = match Backend::from_url(url) {
            Some(Backend::Postgres) => Target::Postgres(url.to_string()),
            Some(Backend::Sqlite) => Target::Sqlite(sqlite_path(url)),
            None => {
                return Err(AppError::Config(format!(
                    "database.url: unsupported scheme in '{}'",
                    crate::config::redact_url(url)
                )))
            }
        };
        Ok(ConnectionManager { target })
    }
}

/// `sqlite://data/hotline.db` → `data/hotline.db`; `sqlite:///var/x.db` → `/var/x.db`.
pub fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest)
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.target {
            Target::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // No JIT: the service's statements take a millisecond or less, and a row
                // estimate gone wrong (statistics dropped by a type change) had PostgreSQL
                // compile a page's deadline look-up, which then took 30-136 ms instead of
                // 0.3 ms (docs/benchmarks.md, "The ninth round"). JIT pays for itself only on
                // queries that run for seconds.
                conn.batch_execute("SET jit = off")
                    .map_err(r2d2::Error::QueryError)?;
                conn.set_instrumentation(watch::Watch);
                Ok(DbConnection::Pg(conn))
            }
            Target::Sqlite(path) => {
                configure_sqlite();
                SqliteConnection::establish(&path.to_string_lossy())
                    .map(DbConnection::Sqlite)
                    .map_err(r2d2::Error::ConnectionError)
            }
        }
    }

    /// r2d2 calls this at check-out only with `test_on_check_out`, which is off (see `run`);
    /// `run_once` pings by itself.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        match conn {
            DbConnection::Pg(_) => conn.ping().map_err(r2d2::Error::QueryError),
            DbConnection::Sqlite(_) => Ok(()),
        }
    }

    /// Run at each return: a connection still inside a transaction, whose transaction failed
    /// to roll back, or found closed by one of its statements, is dropped.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken() || (matches!(conn, DbConnection::Pg(_)) && watch::closed_seen())
    }
}

/// Initialises OpenSSL before libpq does, without its `atexit` clean-up: that clean-up runs
/// while r2d2's threads may still hold TLS connections to PostgreSQL, and then the process
/// crashes on exit (diesel-rs/diesel#3441). Idempotent; call before the first connection.
pub fn init_tls() {
    openssl::init();
}

/// SQLite's process-wide settings, once, before its first connection: no memory statistics.
/// With them (SQLite's default) every allocation of every connection takes one process-wide
/// mutex, and the full-text index allocates a buffer for each page it reads: under `wrk` at
/// c=8 a fifth of the server's time went to that mutex (docs/benchmarks.md, "The fourth
/// round"). Nothing here reads the statistics.
///
/// `sqlite3_config` must not run while another thread uses SQLite: `main` calls this first of
/// all, before any thread exists; the pool calls it again (a no-op then) for programs that
/// embed the library.
pub fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config takes this option with one int; in the binary this runs in
        // `main` before any other thread (see above). SQLite refuses it (MISUSE) once it is
        // initialised — then the statistics stay on, which is only slower
        let rc = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised before its memory statistics could be turned off"
            );
        }
        // SAFETY: as above, one int. A statement journal (kept by a statement that may have to
        // undo part of itself: the ticket `UPDATE` fires triggers) stays in memory instead of
        // becoming a temporary file past SQLite's default of 64 KiB, which the ticket `UPDATE`
        // did for each statement. Never spilled (-1): with a spill threshold of 256 KiB or more
        // (it was 4 MiB), SQLite 3.46 answered SQLITE_FULL to a transaction that drops a large
        // index and builds it again, so a migration could not run on a large file (the test
        // `robustness::a_large_index_is_rebuilt_inside_a_transaction`; docs/benchmarks.md, "The
        // ninth round"). Only statements that change many pages inside a larger transaction
        // (migrations) keep a large journal. Sorts and temporary tables still spill to disk.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_STMTJRNL_SPILL,
                STATEMENT_JOURNAL_IN_MEMORY as std::os::raw::c_int,
            )
        };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised before its statement journal size could be set"
            );
        }
    });
}

/// Bytes of a statement journal SQLite keeps in memory before it spills to a file: -1, never
/// (see `configure_sqlite`).
const STATEMENT_JOURNAL_IN_MEMORY: i32 = -1;

/// Drops the `ANALYZE` samples (`sqlite_stat4`) that make SQLite prepare statements again and
/// again, before the pool opens its connections. SQLite plans a statement by the samples of a
/// column it binds a value to, and so prepares it again whenever that value changes:
/// - the search index's FTS5 tables: FTS5 looks its terms up with an internal statement bound
///   to the term, prepared again for every term looked up — half the time of a common-word
///   list, and parsing allocates under a process-wide mutex;
/// - indexes whose leading column is (nearly) unique — primary keys, a ticket's deadlines or
///   events by ticket id: the samples say nothing the average does not (a few rows a value),
///   yet every cached statement looking a row up by id was prepared again at each call (a
///   GET's statements, a command's ticket `UPDATE` with its triggers).
///
/// The samples of skewed columns stay (a status, a department's path, a column mostly NULL),
/// where the value bound decides the plan. `ANALYZE` makes them all again; the next start
/// drops them again (docs/operations.md).
fn forget_replanning_samples(path: &std::path::Path) -> Result<(), AppError> {
    configure_sqlite();
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
        .map_err(|e| AppError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    // only slower without it: a busy or unreadable file is no reason not to start here (the
    // pool reports a file it cannot use)
    if let Err(e) = drop_replanning_samples(&mut conn) {
        tracing::warn!(error = %e, "could not drop the ANALYZE samples that force re-planning");
    }
    Ok(())
}

/// FTS5's own tables of the search index (`ticket_search`); `ticket_search_docs` is ours.
const FTS5_TABLES: &str =
    "('ticket_search_data', 'ticket_search_idx', 'ticket_search_docsize', 'ticket_search_config')";

/// Rows a value of an index's leading column may average (`sqlite_stat1`'s second figure) for
/// its samples to be dropped: a ticket has at most five deadlines.
const NEAR_UNIQUE: i64 = 8;

fn drop_replanning_samples(conn: &mut SqliteConnection) -> Result<(), AppError> {
    use diesel::sql_types::BigInt;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
    let analysed: i64 = diesel::select(const_sql::<BigInt>(
        "(SELECT count(*) FROM sqlite_schema WHERE name IN ('sqlite_stat1', 'sqlite_stat4'))",
    ))
    .get_result(conn)?;
    if analysed < 2 {
        return Ok(());
    }
    // `stat` is "rows per-index-rows-a-leading-value …"; CAST reads the leading integer
    let which = format!(
        "tbl IN {FTS5_TABLES} OR idx IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL \
         AND CAST(substr(stat, instr(stat, ' ') + 1) AS INTEGER) <= {NEAR_UNIQUE})"
    );
    // read first: the write lock is taken only when there is something to drop
    let samples: i64 = diesel::select(diesel::dsl::sql::<BigInt>(&format!(
        "(SELECT count(*) FROM sqlite_stat4 WHERE {which})"
    )))
    .get_result(conn)?;
    if samples > 0 {
        conn.batch_execute(&format!("DELETE FROM sqlite_stat4 WHERE {which};"))?;
    }
    Ok(())
}

/// Builds the pool; for SQLite it creates the database file's directory first.
pub fn build_pool(settings: &DatabaseSettings) -> Result<Pool, AppError> {
    init_tls();
    let manager = ConnectionManager::new(&settings.url)?;
    if let Target::Sqlite(path) = &manager.target {
        prepare_sqlite_file(path)?;
        if path.as_os_str() != ":memory:" {
            forget_replanning_samples(path)?;
        }
    }
    let sqlite = matches!(manager.target, Target::Sqlite(_));
    let pool = r2d2::Pool::builder()
        .max_size(settings.pool_size())
        .connection_timeout(Duration::from_secs(settings.connect_timeout_seconds))
        .test_on_check_out(false)
        .connection_customizer(Box::new(SqlitePragmas {
            busy_timeout_ms: settings.sqlite_busy_timeout_ms,
        }))
        .build(manager)
        .map_err(|e| {
            AppError::Unavailable(format!(
                "cannot connect to {}: {e}",
                crate::config::redact_url(&settings.url)
            ))
        })?;
    if sqlite {
        warn_of_unified_page_cache(&pool);
    }
    Ok(pool)
}

/// Warns when the linked SQLite keeps one page cache for all connections
/// (`sqlite_has_unified_page_cache`). A diagnostic only: a failure to ask is logged and the
/// service goes on.
fn warn_of_unified_page_cache(pool: &Pool) {
    let Ok(mut conn) = pool.get() else { return };
    let DbConnection::Sqlite(lite) = &mut *conn else {
        return;
    };
    match sqlite_has_unified_page_cache(lite) {
        Ok(false) => {}
        Ok(true) => tracing::warn!(
            "SQLite was compiled with SQLITE_ENABLE_MEMORY_MANAGEMENT: all connections share one \
             page cache behind one mutex, and concurrent reads wait on one another. Build with \
             cargo from the project's directory, where .cargo/config.toml sets LIBSQLITE3_FLAGS \
             (not `cargo install`, and without LIBSQLITE3_FLAGS set in the environment; \
             docs/ARCHITECTURE.md, \"SQLite as it is compiled\")"
        ),
        Err(e) => tracing::debug!(error = %e, "could not read SQLite's compile options"),
    }
}

/// Whether the linked SQLite was compiled with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, under which
/// the page caches of all connections form one group behind one process-wide mutex
/// (`.cargo/config.toml` turns it off).
pub fn sqlite_has_unified_page_cache(conn: &mut SqliteConnection) -> Result<bool, AppError> {
    use diesel::sql_types::Integer;
    let used: i32 = diesel::select(diesel::dsl::sql::<Integer>(
        "sqlite_compileoption_used('ENABLE_MEMORY_MANAGEMENT')",
    ))
    .get_result(conn)?;
    Ok(used != 0)
}

/// The SQLite database and its journal files are private: the directory is created 0700, the
/// file 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files the database
/// file's mode), and an existing file is narrowed to 0600.
fn prepare_sqlite_file(path: &std::path::Path) -> Result<(), AppError> {
    let fail = |what: &str, p: &std::path::Path, e: std::io::Error| {
        AppError::Config(format!("cannot {what} {}: {e}", p.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            crate::files::create_private_dir(dir)
                .map_err(|e| fail("create database directory", dir, e))?;
        }
    }
    if path.as_os_str() == ":memory:" {
        return Ok(());
    }
    if !path.exists() {
        match crate::files::write_private(path, b"") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail("create database file", path, e)),
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        crate::files::restrict_file(&file).map_err(|e| fail("restrict", &file, e))?;
    }
    Ok(())
}

/// Locks ticket rows for the rest of the transaction, in id order (so two transactions locking
/// the same rows cannot deadlock). PostgreSQL: `SELECT ... FOR UPDATE`; SQLite needs nothing,
/// `write_tx` already holds the database's write lock. Commands that need no version then
/// read the newest row and append after it instead of failing on a concurrent change.
pub fn lock_tickets(conn: &mut DbConnection, ids: &[&str]) -> Result<(), AppError> {
    use schema::tickets;
    if let DbConnection::Pg(pg) = conn {
        let mut ids: Vec<&str> = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        tickets::table
            .filter(tickets::id.eq_any(ids))
            .order(tickets::id)
            .select(tickets::id)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}

/// Locks one ticket row unless another transaction holds it: `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL (another instance's sweeper, or a command, has it: skip it this time); on SQLite
/// `write_tx` already holds the write lock, so the row is simply there or not. Answers whether
/// the caller holds the row now.
pub fn try_lock_ticket(conn: &mut DbConnection, id: &str) -> Result<bool, AppError> {
    use schema::tickets;
    match conn {
        DbConnection::Pg(pg) => Ok(tickets::table
            .find(id)
            .select(tickets::id)
            .for_update()
            .skip_locked()
            .first::<String>(pg)
            .optional()?
            .is_some()),
        DbConnection::Sqlite(_) => Ok(true),
    }
}

/// The next ticket number from `ticket_number_seq`, taking with it, in the same statement, the
/// transaction-scoped advisory lock of `lock` (`lock_id`) when given.
pub fn next_ticket_number(pg: &mut PgConnection, lock: Option<&str>) -> Result<i64, AppError> {
    use diesel::sql_types::BigInt;
    Ok(match lock {
        None => {
            diesel::select(const_sql::<BigInt>("nextval('ticket_number_seq')")).get_result(pg)?
        }
        Some(key) => diesel::select(LockedNextval(lock_id(key))).get_result(pg)?,
    })
}

/// The number of a PostgreSQL transaction-scoped advisory lock (`pg_advisory_xact_lock`) that
/// serialises work on `key` for the rest of a transaction: the first 8 bytes of its SHA-256.
/// (SQLite's `write_tx` already holds the write lock.)
fn lock_id(key: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Applies pending migrations and returns their names. On PostgreSQL an advisory lock makes
/// instances that start together take turns; on SQLite an exclusive transaction does the same.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, AppError> {
    let migrate_err = |e: Box<dyn std::error::Error + Send + Sync>| {
        AppError::Internal(format!("migration failed: {e}"))
    };
    match conn {
        DbConnection::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<String>>())
                .map_err(migrate_err);
            let unlocked =
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
            let applied = result?;
            unlocked?;
            Ok(applied)
        }
        DbConnection::Sqlite(c) => c
            .exclusive_transaction(|c| {
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<String>>())
                    .map_err(diesel::result::Error::QueryBuilderError)
            })
            .map_err(|e| AppError::Internal(format!("migration failed: {e}"))),
    }
}

/// True when every embedded migration has been applied.
pub fn migrations_current(conn: &mut DbConnection) -> Result<bool, AppError> {
    let pending = match conn {
        DbConnection::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending
        .map(|p| !p)
        .map_err(|e| AppError::Unavailable(format!("cannot read migration state: {e}")))
}

/// Runs blocking database work on actix's blocking thread pool with a pooled connection.
/// Every query in the service goes through here (or `run_once`), so no async worker ever
/// waits on the database.
///
/// A connection is not pinged when it is checked out (that was a round trip per request).
/// Instead, when `f` fails because its first statement — `BEGIN` or a `SELECT` — found the
/// connection closed (PostgreSQL restarted, an administrator ended the session), nothing `f`
/// did took effect: the dead connection is dropped and `f` runs again on another one (see
/// `watch` for what is never retried). So `f` may run more than once, but only after an
/// attempt of which the database saw nothing.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, AppError>
where
    F: FnMut(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || with_connection(&pool, f))
        .await
        .map_err(|_| AppError::Internal("database task was cancelled".into()))?
}

/// The body of `run`, on its blocking thread. Whether an attempt is run again depends on what
/// its connection saw, not on what `f` made of it (a caller may turn a database error into an
/// answer of its own, as Open311's do).
fn with_connection<T, F>(pool: &Pool, mut f: F) -> Result<T, AppError>
where
    F: FnMut(&mut DbConnection) -> Result<T, AppError>,
{
    // every connection of the pool may have died at once; one attempt more than it holds
    let attempts = pool.max_size() + 1;
    let mut attempt = 1;
    loop {
        let mut conn = checkout(pool)?;
        let watch = watch::Attempt::start();
        let result = f(&mut conn);
        if attempt < attempts && watch.closed_before_any_statement() {
            tracing::info!(
                attempt,
                "database connection found closed before its first statement; retrying"
            );
            attempt += 1;
        } else {
            return result;
        }
    }
}

/// `run` for work that consumes what it is given (uploaded files): it cannot run twice, so
/// its connection is pinged first instead.
pub async fn run_once<T, F>(pool: &Pool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = live_connection(&pool)?;
        f(&mut conn)
    })
    .await
    .map_err(|_| AppError::Internal("database task was cancelled".into()))?
}

/// A connection that answered a ping (PostgreSQL; a SQLite connection cannot be taken away).
fn live_connection(pool: &Pool) -> Result<PooledConnection, AppError> {
    let mut last = None;
    for _ in 0..=pool.max_size() {
        let mut conn = checkout(pool)?;
        watch::forget();
        match &mut *conn {
            DbConnection::Pg(pg) => match pg.ping() {
                Ok(()) => return Ok(conn),
                Err(e) => last = Some(e),
            },
            DbConnection::Sqlite(_) => return Ok(conn),
        }
    }
    Err(AppError::Unavailable(format!(
        "no live database connection: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

fn checkout(pool: &Pool) -> Result<PooledConnection, AppError> {
    pool.get()
        .map_err(|e| AppError::Unavailable(format!("no database connection: {e}")))
}

/// Which statements of a check-out succeeded, and whether one found its connection closed:
/// diesel's instrumentation reports every statement (`BEGIN` included) to `Watch`, which
/// keeps the tally for the thread running it (a checked-out connection stays on one thread).
///
/// A closed connection allows a retry only when the statement that found it closed could not
/// have changed anything — `BEGIN` or a `SELECT`. An insert outside a transaction that fails
/// with a closed connection may have been committed before the reply was lost; it is never
/// retried. Retries stop after the pool's size plus one attempts (every pooled connection may
/// have died at once), which also bounds how often a `SELECT` that itself brings the server
/// down is sent again.
mod watch {
    use std::cell::Cell;

    use diesel::connection::{Instrumentation, InstrumentationEvent};
    use diesel::result::{DatabaseErrorKind, Error};

    thread_local! {
        static SUCCEEDED: Cell<u64> = const { Cell::new(0) };
        static CLOSED: Cell<bool> = const { Cell::new(false) };
        static RETRYABLE: Cell<bool> = const { Cell::new(false) };
    }

    /// Installed on every PostgreSQL connection when it is opened.
    #[derive(Debug)]
    pub struct Watch;

    impl Instrumentation for Watch {
        fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
            let InstrumentationEvent::FinishQuery { query, error, .. } = event else {
                return;
            };
            match error {
                None => SUCCEEDED.set(SUCCEEDED.get().wrapping_add(1)),
                Some(e) if is_closed(e) => {
                    CLOSED.set(true);
                    // the text is formatted only on this rare path
                    let text = query.to_string();
                    let head: String = text.trim_start().chars().take(6).collect();
                    let head = head.to_ascii_uppercase();
                    let harmless = head.starts_with("BEGIN") || head == "SELECT";
                    RETRYABLE.set(harmless);
                }
                Some(_) => {}
            }
        }
    }

    fn is_closed(e: &Error) -> bool {
        matches!(
            e,
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _
            )
        )
    }

    /// One use of a checked-out connection.
    pub struct Attempt {
        succeeded: u64,
    }

    /// Forgets what an earlier check-out on this thread saw.
    pub fn forget() {
        CLOSED.set(false);
        RETRYABLE.set(false);
    }

    impl Attempt {
        pub fn start() -> Attempt {
            forget();
            Attempt {
                succeeded: SUCCEEDED.get(),
            }
        }

        /// The connection was found closed by a statement that changed nothing (`BEGIN` or a
        /// `SELECT`) and no statement of this attempt had succeeded: the database saw nothing
        /// of it.
        pub fn closed_before_any_statement(&self) -> bool {
            CLOSED.get() && RETRYABLE.get() && SUCCEEDED.get() == self.succeeded
        }
    }

    /// Whether a statement on this thread found its connection closed since the last
    /// `Attempt::start` (the pool then drops the connection instead of keeping it).
    pub fn closed_seen() -> bool {
        CLOSED.get()
    }
}

/// A new time-ordered (UUID v7) identifier as text, so primary keys also sort by creation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The SQLite write lock of this process (see `write_tx`). One for the process: SQLite serves
/// one instance on one machine, and a process opens one database (tests open many; their
/// writes then queue on each other, which costs them a little time and nothing else).
/// parking_lot's lock is eventually fair: a writer that unlocks cannot take it straight back
/// while another thread (the checkpoint's second pass) has waited half a millisecond.
static SQLITE_WRITER: parking_lot::Mutex<()> = parking_lot::const_mutex(());

/// SQLite's own checkpoint (copying the WAL back into the database file, with an fsync) runs
/// inside the commit that crosses its threshold, while that writer holds the write lock: every
/// writer queued behind it waits, and one request in a few dozen took tens of milliseconds.
/// Connections turn it off (`wal_autocheckpoint = 0`); instead every 128th write transaction of
/// the process asks for a PASSIVE checkpoint of its database file (a passive checkpoint blocks
/// neither readers nor writers), which `checkpointer` runs on a thread of its own: run by the
/// request that committed, it made every 128th write answer 20-33 ms late (docs/benchmarks.md,
/// "The tenth round"). The WAL holds the pages of about 128 writes between rewinds.
fn checkpoint_now_and_then(conn: &mut DbConnection) {
    static COMMITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if COMMITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 128 != 127 {
        return;
    }
    let DbConnection::Sqlite(inner) = conn else {
        return;
    };
    match database_file(inner) {
        // an in-memory database has no file and no WAL
        Ok(None) => {}
        Ok(Some(path)) => checkpointer::request(Some(path), inner),
        Err(e) => {
            tracing::warn!(error = %e, "cannot name the database file; checkpointing in place");
            checkpointer::request(None, inner)
        }
    }
}

/// The file of a SQLite connection's main database; `None` in memory.
fn database_file(conn: &mut SqliteConnection) -> QueryResult<Option<PathBuf>> {
    #[derive(QueryableByName)]
    struct Main {
        #[diesel(sql_type = diesel::sql_types::Text)]
        file: String,
    }
    let main: Main = diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .get_result(conn)?;
    Ok((!main.file.is_empty()).then(|| PathBuf::from(main.file)))
}

/// The thread that checkpoints SQLite files, in two passes: the bulk of the WAL beside the
/// writers, then what they appended meanwhile with the process's writers held (a few
/// milliseconds), so that the checkpoint reaches the WAL's end and the next writer starts it
/// again from its beginning. It keeps a connection of its own to the file it checkpointed last,
/// opened with `mode=rw` (a file deleted meanwhile is not created again) and kept open, so that
/// it goes on naming the file the pool has open even if another file is moved to its path.
/// Requests coalesce: while one waits, another adds nothing to do. After `GIVE_UP`
/// failures in a row (no file descriptor left, the file gone), or when the thread cannot be
/// started, the writer that asks runs the checkpoint in place, as before the thread: the WAL
/// must not grow without end.
mod checkpointer {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
    use std::sync::OnceLock;

    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};

    static QUEUE: OnceLock<Option<SyncSender<PathBuf>>> = OnceLock::new();
    /// Checkpoints the thread failed in a row.
    static FAILING: AtomicU32 = AtomicU32::new(0);
    const GIVE_UP: u32 = 3;

    /// Asks for a checkpoint of the file at `path`; `None` (the file could not be named), a
    /// thread gone or failing make `conn` run it in place.
    pub(super) fn request(path: Option<PathBuf>, conn: &mut SqliteConnection) {
        let queue = QUEUE.get_or_init(|| {
            let (tx, rx) = sync_channel::<PathBuf>(1);
            std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || serve(rx))
                .map_err(|e| tracing::warn!(error = %e, "no checkpoint thread; checkpoints run in place"))
                .ok()
                .map(|_| tx)
        });
        let handed_over = match (path, queue) {
            (Some(path), Some(queue)) if FAILING.load(Ordering::Relaxed) < GIVE_UP => {
                !matches!(queue.try_send(path), Err(TrySendError::Disconnected(_)))
            }
            _ => false,
        };
        if !handed_over {
            if let Err(e) = passive(conn) {
                tracing::warn!(error = %e, "WAL checkpoint failed; the next one will retry");
            }
        }
    }

    fn serve(requests: Receiver<PathBuf>) {
        let mut last: Option<(PathBuf, SqliteConnection)> = None;
        for path in requests {
            let conn = match last.take() {
                Some((p, conn)) if p == path => Ok(conn),
                _ => open(&path),
            };
            let done = conn.and_then(|mut conn| {
                // the bulk, beside the writers
                passive(&mut conn)?;
                // what they wrote meanwhile, with this process's writers held: only a WAL
                // copied to its end is started again from its beginning by the next writer;
                // with writes going on during every pass, it would grow without end
                let _writers = super::SQLITE_WRITER.lock();
                passive(&mut conn)?;
                Ok(conn)
            });
            match done {
                Ok(conn) => {
                    FAILING.store(0, Ordering::Relaxed);
                    last = Some((path, conn));
                }
                Err(e) => {
                    FAILING.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, file = %path.display(),
                        "WAL checkpoint failed; the next one will retry");
                }
            }
        }
    }

    /// A PASSIVE checkpoint: it copies what it can of the WAL without waiting for anyone.
    fn passive(conn: &mut SqliteConnection) -> Result<(), String> {
        conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
            .map_err(|e| e.to_string())
    }

    /// A connection to the existing file at `path` (never creating it).
    pub(super) fn open(path: &Path) -> Result<SqliteConnection, String> {
        let mut uri = String::from("file:");
        for c in path.to_string_lossy().chars() {
            match c {
                '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
                c => uri.push(c),
            }
        }
        uri.push_str("?mode=rw");
        SqliteConnection::establish(&uri).map_err(|e| e.to_string())
    }
}

/// Runs `f` in a write transaction. On SQLite the outermost one starts with `BEGIN IMMEDIATE`,
/// taking the write lock up front: a deferred transaction that reads and then writes can fail at
/// once with `SQLITE_BUSY` when another writer got there first, whatever the busy timeout.
/// Nested calls become savepoints; PostgreSQL uses a plain transaction.
pub fn write_tx<T, F>(conn: &mut DbConnection, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost_sqlite = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::transaction_manager_status_mut(inner)
                .transaction_depth()?
                .is_none()
        }
        DbConnection::Pg(_) => false,
    };
    if !outermost_sqlite {
        return conn.transaction(f);
    }
    // one writer at a time: this process's writers queue on a lock, woken the moment it is
    // free, instead of sleeping in SQLite's busy handler (whose growing sleeps made the p99 of
    // concurrent writes hundreds of milliseconds); readers are not held
    let _writer = SQLITE_WRITER.lock();
    if let DbConnection::Sqlite(inner) = conn {
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            drop(_writer);
            checkpoint_now_and_then(conn);
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) =
                <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)
            {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Runs one insert in a savepoint and answers the rows written, 0 when a unique constraint
/// refused it: `ON CONFLICT DO NOTHING` for both backends (diesel's upsert does not reach through
/// the `MultiConnection`), without aborting the caller's PostgreSQL transaction.
pub fn insert_unless_duplicate<F>(conn: &mut DbConnection, f: F) -> Result<usize, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<usize, AppError>,
{
    match conn.transaction(f) {
        Err(AppError::Duplicate) => Ok(0),
        other => other,
    }
}

/// A piece of SQL fixed at compile time, as an expression of type `ST`. Unlike diesel's `sql()`
/// (whose text may be built at run time, so diesel never keeps its statements prepared), a
/// statement holding only constant pieces is cached as a prepared statement by its SQL text:
/// PostgreSQL parses and plans it once per connection instead of at every call.
#[derive(Debug, Clone, Copy)]
pub struct ConstSql<ST> {
    sql: &'static str,
    _type: std::marker::PhantomData<ST>,
}

/// `ConstSql` of `sql`.
pub const fn const_sql<ST>(sql: &'static str) -> ConstSql<ST> {
    ConstSql {
        sql,
        _type: std::marker::PhantomData,
    }
}

impl<ST: diesel::expression::TypedExpressionType> diesel::Expression for ConstSql<ST> {
    type SqlType = ST;
}

impl<ST, DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for ConstSql<ST> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

/// No static query id (two `ConstSql` of one type differ in their text): diesel keys the
/// prepared statement by its SQL.
impl<ST> diesel::query_builder::QueryId for ConstSql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS, ST: diesel::expression::TypedExpressionType> diesel::SelectableExpression<QS>
    for ConstSql<ST>
{
}

impl<QS, ST: diesel::expression::TypedExpressionType> diesel::AppearsOnTable<QS> for ConstSql<ST> {}

impl<ST, GB> diesel::expression::ValidGrouping<GB> for ConstSql<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// A statement kept prepared on its connection although diesel would prepare it again at every
/// call. Diesel never caches an `UPDATE` (nor an insert of optional values), since the columns it
/// sets may differ between calls; it does cache any statement by its SQL text when told it is
/// safe, and for a statement whose text takes a few shapes at most it is (not for an `IN` list
/// as long as some input: each length is another statement kept).
/// Preparing the ticket `UPDATE` on SQLite compiles its triggers too: a seventh of a dispatch's
/// time (docs/benchmarks.md, "The sixth round"). Use it as `Cached(statement).execute(conn)`.
/// SQLite only, in effect: PostgreSQL's connection asks a reference to the statement whether it
/// is safe, and a reference answers by walking the inner statement, whose `UPDATE` or `DEFAULT`
/// says no — so there a statement is kept prepared only when nothing in it says no (inserts of
/// rows that bind `None` as NULL, `Fixed` texts; "The seventh round").
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Cached<Q>
where
    Q: diesel::query_builder::QueryFragment<DB>,
    DB: diesel::backend::Backend,
{
    fn walk_ast<'b>(&'b self, out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// Keyed by its SQL text (and the types of its binds), never by type.
impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

/// A PostgreSQL statement of fixed text with text binds, kept prepared by its text (diesel sends
/// a `sql_query` to be parsed and planned at every call): `pieces` are the text around the binds,
/// one more than them (checked when compiled). Its text is PostgreSQL's: it is a `Write` on
/// SQLite too only so that it can go into `write_together`, whose callers choose it on
/// PostgreSQL alone (`search::new_ticket_row`).
pub struct Fixed<'a, const N: usize> {
    pieces: &'static [&'static str],
    binds: [&'a str; N],
}

impl<'a, const N: usize> Fixed<'a, N> {
    pub fn new<const M: usize>(pieces: &'static [&'static str; M], binds: [&'a str; N]) -> Self {
        const { assert!(M == N + 1, "a piece of text around each bind") };
        Fixed { pieces, binds }
    }
}

/// On either backend (so that it can be a `Write`), though its text is written for one.
impl<DB, const N: usize> diesel::query_builder::QueryFragment<DB> for Fixed<'_, N>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        let mut pieces = self.pieces.iter();
        if let Some(first) = pieces.next() {
            out.push_sql(first);
        }
        for bind in &self.binds {
            out.push_bind_param::<diesel::sql_types::Text, _>(*bind)?;
            if let Some(piece) = pieces.next() {
                out.push_sql(piece);
            }
        }
        Ok(())
    }
}

/// Keyed by its SQL text, never by type.
impl<const N: usize> diesel::query_builder::QueryId for Fixed<'_, N> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<const N: usize, Conn> RunQueryDsl<Conn> for Fixed<'_, N> {}

/// `nextval('ticket_number_seq')` after taking the advisory lock `0` (`next_ticket_number`), as
/// an expression kept prepared (diesel's `sql()` would be parsed at every call).
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct LockedNextval(i64);

impl diesel::Expression for LockedNextval {
    type SqlType = diesel::sql_types::BigInt;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for LockedNextval {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("(SELECT nextval('ticket_number_seq') FROM (SELECT pg_advisory_xact_lock(");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.0)?;
        out.push_sql(")) AS locked)");
        Ok(())
    }
}

impl<QS> diesel::SelectableExpression<QS> for LockedNextval {}

impl<QS> diesel::AppearsOnTable<QS> for LockedNextval {}

impl<GB> diesel::expression::ValidGrouping<GB> for LockedNextval {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// A statement that answers nothing, on either backend (see `write_together`).
pub trait Write:
    diesel::query_builder::QueryFragment<diesel::pg::Pg>
    + diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
{
}

impl<T> Write for T where
    T: diesel::query_builder::QueryFragment<diesel::pg::Pg>
        + diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
{
}

/// Writes `statements` in order. PostgreSQL gets them as one statement, the first ones as
/// data-modifying `WITH` parts of the last (`WITH w0 AS (s0), w1 AS (s1) s2`): one round trip
/// instead of one each, kept prepared by its text unless a part says otherwise (an `UPDATE`
/// does: see `Cached`). Its parts see the database as it
/// was before the statement — none sees another's rows, though foreign keys and `AFTER` triggers
/// see them all — so parts must not depend on each other's effects (a `BEFORE` trigger that reads
/// a row inserted beside it would not find it). SQLite runs them one by one (in-process, a round
/// trip costs nothing there, and it has no data-modifying `WITH`).
pub fn write_together(
    conn: &mut DbConnection,
    statements: Vec<Box<dyn Write + '_>>,
) -> Result<(), AppError> {
    match conn {
        DbConnection::Pg(pg) if statements.len() > 1 => {
            Cached(Together(statements)).execute(pg)?;
        }
        DbConnection::Pg(pg) => {
            for s in &statements {
                Cached(Part(s.as_ref())).execute(pg)?;
            }
        }
        DbConnection::Sqlite(lite) => {
            for s in &statements {
                Cached(Part(s.as_ref())).execute(lite)?;
            }
        }
    }
    Ok(())
}

/// The statements of `write_together`, as PostgreSQL's one.
struct Together<'a>(Vec<Box<dyn Write + 'a>>);

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Together<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        let last = self.0.len().saturating_sub(1);
        for (i, statement) in self.0.iter().enumerate() {
            if i < last {
                out.push_sql(if i == 0 { "WITH " } else { ", " });
                out.push_sql(&format!("w{i} AS ("));
            }
            diesel::query_builder::QueryFragment::<diesel::pg::Pg>::walk_ast(
                statement.as_ref(),
                out.reborrow(),
            )?;
            if i < last {
                out.push_sql(if i + 1 == last { ") " } else { ")" });
            }
        }
        Ok(())
    }
}

/// One statement of `write_together`, run alone.
struct Part<'a>(&'a dyn Write);

/// On each backend a `Write` is written for.
impl<'a, DB> diesel::query_builder::QueryFragment<DB> for Part<'a>
where
    DB: diesel::backend::Backend,
    dyn Write + 'a: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

/// The `LIKE` pattern for "contains `text`"; the wildcards `%` and `_` in the text are dropped
/// (portable: SQLite and PostgreSQL differ in their escape rules).
pub fn contains_pattern(text: &str) -> String {
    format!("%{}%", text.replace(['%', '_'], ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of `size` connections over the SQLite file at `path`.
    fn file_pool(path: &std::path::Path, size: u32) -> Pool {
        build_pool(&DatabaseSettings {
            url: format!("sqlite://{}", path.display()),
            pool_size: size,
            connect_timeout_seconds: 5,
            sqlite_busy_timeout_ms: 1000,
        })
        .expect("pool")
    }

    /// The bundled SQLite is built as `.cargo/config.toml` says: a page cache per connection,
    /// so that concurrent readers do not queue on one process-wide mutex.
    #[test]
    fn sqlite_is_built_with_a_page_cache_per_connection() {
        let mut conn = SqliteConnection::establish(":memory:").expect("sqlite");
        assert!(!sqlite_has_unified_page_cache(&mut conn).expect("compile options"));
    }

    /// A holder that panics inside `BEGIN IMMEDIATE` must not return the open transaction to the
    /// pool: the connection is dropped as broken and the next one starts clean.
    #[test]
    fn a_panic_inside_a_transaction_does_not_poison_the_pool() {
        let dir = tempfile::tempdir().expect("tmp");
        let pool = file_pool(&dir.path().join("t.db"), 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut conn = pool.get().expect("conn");
            let _ = write_tx(&mut conn, |_| -> Result<(), AppError> {
                panic!("holder dies inside the transaction")
            });
        }));
        assert!(panicked.is_err());
        let mut conn = pool.get().expect("a fresh connection");
        if let DbConnection::Sqlite(inner) = &mut *conn {
            use diesel::connection::{AnsiTransactionManager, TransactionManager};
            let depth = AnsiTransactionManager::transaction_manager_status_mut(inner)
                .transaction_depth()
                .expect("status");
            assert_eq!(
                depth, None,
                "the pool handed out a connection inside a transaction"
            );
        }
        write_tx(&mut conn, |c| {
            c.batch_execute("CREATE TABLE t (x INTEGER)")?;
            Ok(())
        })
        .expect("a new transaction starts");
    }

    /// The rows the database file itself holds (its WAL left aside): a copy of the file alone.
    fn rows_in_file_alone(path: &std::path::Path, dir: &std::path::Path) -> i64 {
        let copy = dir.join("alone.db");
        let _ = std::fs::remove_file(&copy);
        std::fs::copy(path, &copy).expect("copy the database file");
        let mut conn = SqliteConnection::establish(&copy.to_string_lossy()).expect("open copy");
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<N>(&mut conn)
            .map_or(0, |r| r.n)
    }

    /// A checkpoint request from a writer is carried out by the checkpoint thread, on its own
    /// connection: the committed rows reach the database file without the writer running it.
    /// A file deleted since is not created again.
    #[test]
    fn checkpoints_run_on_their_own_thread() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.db");
        let pool = file_pool(&path, 1);
        let mut conn = pool.get().expect("conn");
        let DbConnection::Sqlite(inner) = &mut *conn else {
            panic!("a SQLite pool")
        };
        // written without `write_tx`, whose commits count towards the process's checkpoints
        inner
            .batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            .expect("write");
        let file = database_file(inner).expect("file").expect("not in memory");
        assert_eq!(file.canonicalize().ok(), path.canonicalize().ok());
        // the connection never checkpoints by itself (wal_autocheckpoint = 0)
        assert_eq!(rows_in_file_alone(&path, dir.path()), 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // asked again while waiting: another test's request may hold the queue's one place
        while rows_in_file_alone(&path, dir.path()) != 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "the checkpoint thread did not copy the WAL into the file"
            );
            checkpointer::request(Some(file.clone()), inner);
            std::thread::sleep(Duration::from_millis(20));
        }
        let gone = dir.path().join("gone.db");
        assert!(checkpointer::open(&gone).is_err());
        assert!(
            !gone.exists(),
            "a checkpoint created a missing database file"
        );
    }

    /// Writes one after another, checkpointed by the thread: the WAL is copied to its end now
    /// and then, so writers start it again from its beginning and the file stays small (with
    /// writes going on during the whole checkpoint it grew by every write: 176 MB after 1,500
    /// intakes).
    #[test]
    fn the_wal_is_started_again_under_steady_writes() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.db");
        let pool = file_pool(&path, 2);
        let mut conn = pool.get().expect("conn");
        write_tx(&mut conn, |c| {
            c.batch_execute("CREATE TABLE b (x BLOB)")?;
            Ok(())
        })
        .expect("table");
        // each commit writes two or three pages of 4 KiB: 2,000 commits, never rewound, are
        // 25 MB of WAL; a pause between them as between requests, too short for a checkpoint
        for _ in 0..2000 {
            write_tx(&mut conn, |c| {
                c.batch_execute("INSERT INTO b VALUES (randomblob(4000))")?;
                Ok(())
            })
            .expect("write");
            std::thread::sleep(Duration::from_micros(100));
        }
        let wal = std::fs::metadata(dir.path().join("w.db-wal"))
            .expect("wal")
            .len();
        assert!(wal < 8_000_000, "the WAL grew to {wal} bytes");
    }

    /// PostgreSQL receives writes together as one statement, its binds numbered across the parts;
    /// one write alone stays as it is.
    #[test]
    fn writes_together_are_one_statement_on_postgres() {
        use schema::{hotspot_tickets, ticket_events};
        let three: Vec<Box<dyn Write>> = vec![
            Box::new(diesel::insert_into(hotspot_tickets::table).values((
                hotspot_tickets::alert_id.eq("a"),
                hotspot_tickets::ticket_id.eq("t"),
            ))),
            Box::new(
                diesel::update(ticket_events::table.find("e")).set(ticket_events::public.eq(true)),
            ),
            Box::new(diesel::delete(
                hotspot_tickets::table.filter(hotspot_tickets::alert_id.eq("b")),
            )),
        ];
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&Together(three)).to_string();
        assert!(
            sql.starts_with(
                "WITH w0 AS (INSERT INTO \"hotspot_tickets\" (\"alert_id\", \"ticket_id\") VALUES ($1, $2)), \
                 w1 AS (UPDATE \"ticket_events\" SET \"public\" = $3 WHERE (\"ticket_events\".\"id\" = $4)) \
                 DELETE FROM \"hotspot_tickets\" WHERE (\"hotspot_tickets\".\"alert_id\" = $5)"
            ),
            "{sql}"
        );
        let one: Vec<Box<dyn Write>> = vec![Box::new(diesel::delete(hotspot_tickets::table))];
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&Together(one)).to_string();
        assert!(sql.starts_with("DELETE FROM \"hotspot_tickets\""), "{sql}");
    }
}
