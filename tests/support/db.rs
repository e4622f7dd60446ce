//! Throwaway databases for tests: a SQLite file in a temporary directory, and a fresh
//! PostgreSQL database (dropped afterwards) on the server named by `SHAREBOT_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sharebot::store::Store;
use sqlx::{Connection, Executor};

/// The PostgreSQL server used when `SHAREBOT_TEST_DATABASE_URL` is not set.
pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Names of test databases start with this, followed by their creation time in seconds.
const PREFIX: &str = "sharebot_test_";

/// A migrated store on a database that is removed by [`TestDb::finish`].
pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh SQLite database file.
    pub async fn sqlite() -> TestDb {
        let db = TestDb::sqlite_unmigrated().await;
        db.store.migrate().await.expect("migrate SQLite");
        db
    }

    /// A fresh SQLite database file with no schema yet (for tests of a migration).
    pub async fn sqlite_unmigrated() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("sharebot.db").display());
        let store = Store::connect_url(&url, &url, 4)
            .await
            .expect("open SQLite");
        TestDb {
            store,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a plain notice on the terminal) when the
    /// server cannot be reached outside CI. With `CI=true` an unreachable server fails the test.
    pub async fn postgres() -> Option<TestDb> {
        let db = TestDb::postgres_unmigrated().await?;
        db.store.migrate().await.expect("migrate PostgreSQL");
        Some(db)
    }

    /// Like [`TestDb::postgres`], with no schema yet (for tests of a migration).
    pub async fn postgres_unmigrated() -> Option<TestDb> {
        let admin_url =
            std::env::var("SHAREBOT_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.to_string());
        sqlx::any::install_default_drivers();
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::AnyConnection::connect(&admin_url),
        )
        .await;
        let mut admin = match connected {
            Ok(Ok(conn)) => conn,
            failure => {
                let why = match failure {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer within 5 s".to_string(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "PostgreSQL is unreachable at {} ({why}) and CI=true: the PostgreSQL half of the storage tests must run in CI. Start PostgreSQL or set SHAREBOT_TEST_DATABASE_URL.",
                        redact(&admin_url)
                    );
                }
                notice_skipped(&admin_url, &why);
                return None;
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        sweep_stale(&mut admin, now).await;
        let name = format!("{PREFIX}{now}_{}", sharebot::ids::new_id());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("SHAREBOT_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        let url = url.to_string();
        let store = Store::connect_url(&url, &redact(&url), 4)
            .await
            .expect("open PostgreSQL");
        Some(TestDb {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// Closes the store and removes the database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup {
            if let Ok(mut admin) = sqlx::AnyConnection::connect(&admin_url).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// Drops test databases left behind by runs that crashed more than an hour ago.
async fn sweep_stale(admin: &mut sqlx::AnyConnection, now: u64) {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'sharebot_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for (name,) in rows {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + 3600 < now)
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

/// Says once per test binary, on the real terminal (past the test harness's capture), that the
/// PostgreSQL half was skipped and how to enable it.
fn notice_skipped(url: &str, why: &str) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nNOTICE: PostgreSQL storage tests SKIPPED: cannot reach {} ({why}).\n\
             \x20       Only the SQLite half ran. To run both, start PostgreSQL or point\n\
             \x20       SHAREBOT_TEST_DATABASE_URL at a server where the user may create databases.\n",
            redact(url)
        );
    });
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("********"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
