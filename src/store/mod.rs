//! Persistence with sqlx: a SQLite file by default, PostgreSQL by URL, the same queries and
//! behaviour on both (through sqlx's `Any` driver); migrations in `migrations/<dialect>/`.

mod audit;
mod commands;
mod kv;
mod notifications;
mod policies;
mod requests;
mod stats;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use audit::AuditEntry;
pub use commands::{CommandClaim, WaitingShare};
pub use notifications::NotificationPost;
pub use policies::{ConnectionPolicy, Policy};
pub use requests::{Decision, NewRequest, PendingPages, RequestState, ReviewRequest};
pub use stats::RequestCount;

use crate::config::{DatabaseConfig, Dialect};

/// What can go wrong in the store. Details stay in logs; users see [`StoreError::user_message`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database ({0}): {1}")]
    Connect(String, #[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("unexpected value in column {column}: {value}")]
    Corrupt { column: &'static str, value: String },
}

impl StoreError {
    /// Text for a chat user: no SQL, no connection string.
    pub fn user_message(&self) -> &'static str {
        "sharebot's database is not answering right now; nothing was changed. Try again in a minute."
    }
}

/// The database handle; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
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
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Connect(display.to_string(), e))?;
        Ok(Store { pool, dialect })
    }

    /// Connects as configured and applies the pending migrations: what every command that
    /// uses the database does first.
    pub async fn open(config: &DatabaseConfig) -> Result<Store, StoreError> {
        let store = Store::connect(config).await?;
        store.migrate().await?;
        Ok(store)
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
