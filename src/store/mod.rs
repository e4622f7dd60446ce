//! Persistence with sqlx: a SQLite file by default, PostgreSQL by URL, the same queries and
//! behaviour on both (through sqlx's `Any` driver); migrations in `migrations/<dialect>/`.

mod audit;
mod buttons;
mod commands;
mod decisions;
mod kv;
mod leader;
mod notifications;
mod policies;
mod requests;
mod rules;
mod share_requests;
mod stats;
mod watch;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, Connection};
use sqlx::{AnyPool, Executor};

pub use audit::{AuditConnection, AuditEntry, AuditQuery, AUDIT_ACTIONS};
pub use buttons::ButtonPost;
pub use commands::{CommandClaim, WaitingShare};
pub use decisions::{Claim, Decider, How, Verdict, SHAREBOT};
pub use leader::Leadership;
pub use notifications::NotificationPost;
pub use policies::{ConnectionPolicy, Policy};
pub use requests::{Decision, NewRequest, PendingPages, RequestState, ReviewRequest};
pub use rules::{NewRule, RuleAction, RuleAudit, StoredRule, RULE_AUDIT};
pub use share_requests::{NewShareRequest, SharePost, ShareRequest, ShareState};
pub use stats::RequestCount;
pub use watch::Health;

use crate::config::{DatabaseConfig, Dialect};

/// What can go wrong in the store. Details stay in logs; users see [`StoreError::user_message`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database ({0}): {1}")]
    Connect(String, #[source] sqlx::Error),
    /// The first connection failed, for the reason [`Unreachable`] names.
    #[error("cannot connect to the database ({url}): {cause}")]
    Unreachable { url: String, cause: Unreachable },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(sqlx::Error),
    /// A write for the leader's loops after another replica took over (see `leader_epoch`).
    #[error("refused: leader epoch {0} is over, another replica leads now")]
    Fenced(i64),
    #[error("unexpected value in column {column}: {value}")]
    Corrupt { column: &'static str, value: String },
}

/// SQLSTATE of the fence trigger's refusal (migration 0012).
const FENCED: &str = "SBF01";

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            if db.code().as_deref() == Some(FENCED) {
                // The message names the epoch; the number is for the log only.
                let epoch = db
                    .message()
                    .split_whitespace()
                    .find_map(|w| w.parse().ok())
                    .unwrap_or(0);
                return StoreError::Fenced(epoch);
            }
        }
        StoreError::Query(err)
    }
}

impl StoreError {
    /// True when a leader's write was refused because another replica leads now.
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Fenced(_))
    }

    /// Text for a chat user: no SQL, no connection string.
    pub fn user_message(&self) -> &'static str {
        "sharebot's database is not answering right now; nothing was changed. Try again in a minute."
    }

    /// What to check next when the database could not be reached at all.
    pub fn hint(&self) -> Option<String> {
        let StoreError::Unreachable { cause, .. } = self else {
            return None;
        };
        Some(match cause {
            Unreachable::Refused | Unreachable::NoRoute(_) => "is PostgreSQL running and listening on that host and port? Check database.url (SHAREBOT_DATABASE__URL), or use SQLite (sqlite://sharebot.db) to try sharebot without a database server.".into(),
            Unreachable::NoAnswer => "nothing answered in time: check the host and port in database.url (SHAREBOT_DATABASE__URL) and any firewall between sharebot and the database.".into(),
            Unreachable::Authentication => "check the user in database.url and the password (SHAREBOT_DATABASE__PASSWORD or database.password_file), and that pg_hba.conf lets this user connect from this host.".into(),
            Unreachable::UnknownDatabase => "create the database (`createdb <name>`, or CREATE DATABASE as a PostgreSQL admin) or fix its name at the end of database.url; sharebot creates its tables itself.".into(),
            Unreachable::Other(_) => return None,
        })
    }
}

/// How long the first connection to the database may take before start-up gives up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the first connection to the database failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing listens there.
    Refused,
    /// The host cannot be reached (the operating system's words).
    NoRoute(String),
    /// No answer within [`CONNECT_TIMEOUT`].
    NoAnswer,
    /// The server refused the user or the password.
    Authentication,
    /// The server has no database of that name.
    UnknownDatabase,
    /// Anything else, as the driver says it.
    Other(String),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreachable::Refused => f.write_str("connection refused"),
            Unreachable::NoRoute(why) => write!(f, "the host cannot be reached ({why})"),
            Unreachable::NoAnswer => write!(f, "no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            Unreachable::Authentication => f.write_str("authentication failed"),
            Unreachable::UnknownDatabase => f.write_str("the database does not exist"),
            Unreachable::Other(why) => f.write_str(why),
        }
    }
}

impl Unreachable {
    /// Names the cause of a failed connection; PostgreSQL's SQLSTATE codes tell an
    /// authentication failure (class 28) and an unknown database (3D000) apart.
    fn of(err: &sqlx::Error) -> Unreachable {
        match err {
            sqlx::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Unreachable::Refused,
                std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable => Unreachable::NoRoute(io.to_string()),
                std::io::ErrorKind::TimedOut => Unreachable::NoAnswer,
                _ => Unreachable::Other(err.to_string()),
            },
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some(code) if code.starts_with("28") => Unreachable::Authentication,
                Some("3D000") => Unreachable::UnknownDatabase,
                _ => Unreachable::Other(err.to_string()),
            },
            sqlx::Error::PoolTimedOut => Unreachable::NoAnswer,
            _ => Unreachable::Other(err.to_string()),
        }
    }
}

/// The database handle; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// The leader epoch this store's writes are fenced with (PostgreSQL replicas' loops);
    /// `None`: unfenced (callbacks, SQLite, tools).
    fence: Option<i64>,
}

impl Store {
    /// Connects as configured (does not migrate).
    pub async fn connect(config: &DatabaseConfig) -> Result<Store, StoreError> {
        Store::connect_url(
            config.url.expose(),
            &config.display_url,
            config.max_connections,
        )
        .await
    }

    /// Connects to `url` (`display` is the same URL with the password masked, for errors).
    pub async fn connect_url(
        url: &str,
        display: &str,
        max_connections: u32,
    ) -> Result<Store, StoreError> {
        Store::connect_with(url, display, max_connections, None).await
    }

    /// Connects to `url` (PostgreSQL) with every connection's writes fenced with leader
    /// `epoch`: the database refuses them once another replica has raised the epoch. A
    /// connection left inside a transaction for longer than `idle` (a paused process) is ended
    /// by the server, so it cannot hold up the next leader.
    pub async fn connect_fenced(
        config: &DatabaseConfig,
        epoch: i64,
        idle: Duration,
    ) -> Result<Store, StoreError> {
        Store::connect_with(
            config.url.expose(),
            &config.display_url,
            config.max_connections,
            Some((epoch, idle)),
        )
        .await
    }

    async fn connect_with(
        url: &str,
        display: &str,
        max_connections: u32,
        fence: Option<(i64, Duration)>,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if let Some(rest) = url.strip_prefix("sqlite://") {
            // Create the file when missing, unless the URL chose a mode itself.
            let url = if rest.contains("mode=") {
                url.to_string()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Dialect::Sqlite, url)
        } else {
            (Dialect::Postgres, url.to_string())
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Connect(display.to_string(), e))?;
        // One direct connection first: the pool would retry a refused connection until its
        // acquire timeout and then say only "pool timed out".
        let unreachable = |cause| StoreError::Unreachable {
            url: display.to_string(),
            cause,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(err)) => return Err(unreachable(Unreachable::of(&err))),
            Err(_) => return Err(unreachable(Unreachable::NoAnswer)),
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers work during a write; foreign keys are off by default in SQLite.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        // With WAL, NORMAL syncs at checkpoints rather than at every commit: a
                        // killed process loses nothing committed (the WAL is written before
                        // the commit returns); only a power cut can drop the last commits,
                        // and the database stays consistent either way.
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                    }
                    if let (Dialect::Postgres, Some((epoch, idle))) = (dialect, fence) {
                        sqlx::query("SELECT set_config('sharebot.fence', $1, false)")
                            .bind(epoch.to_string())
                            .execute(&mut *conn)
                            .await?;
                        let idle = format!("{}ms", idle.as_millis().max(1));
                        sqlx::query(
                            "SELECT set_config('idle_in_transaction_session_timeout', $1, false)",
                        )
                        .bind(idle)
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Connect(display.to_string(), e))?;
        Ok(Store {
            pool,
            dialect,
            fence: fence
                .filter(|_| dialect == Dialect::Postgres)
                .map(|(e, _)| e),
        })
    }

    /// Connects as configured and applies the pending migrations: what every command that
    /// uses the database does first.
    pub async fn open(config: &DatabaseConfig) -> Result<Store, StoreError> {
        let store = Store::connect(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes fails at
    /// once with "database is locked" when another connection wrote meanwhile, whatever the
    /// busy timeout, whereas an immediate one waits its turn.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// Applies the pending migrations of this dialect.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Dialect::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Applies this dialect's migrations up to `version` only, so a test of a later
    /// migration can start from the schema before it (and the rows that schema allowed).
    #[doc(hidden)]
    pub async fn migrate_up_to_for_tests(&self, version: i64) -> Result<(), StoreError> {
        let mut migrator = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.migrations = migrator
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Versions of the migrations applied so far, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
