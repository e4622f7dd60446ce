//! The chaos run's own PostgreSQL database: created at the start, dropped at the end, and the
//! leader's advisory-lock session found and terminated on demand.

use sqlx::{Connection, PgConnection};

use crate::bot::leader::LOCK_KEY;

/// A database made for one run on the server of `--database-url`.
pub struct RunDatabase {
    /// Where the server's maintenance database is (the URL given).
    admin_url: String,
    /// The run's database, for the replicas.
    pub url: String,
    pub name: String,
}

impl RunDatabase {
    /// Creates `sharebot_chaos_<time>_<pid>` on the server `admin_url` names.
    pub async fn create(admin_url: &str) -> Result<RunDatabase, String> {
        let mut parsed =
            url::Url::parse(admin_url).map_err(|e| format!("--database-url is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err("--database-url must be a postgres:// URL".into());
        }
        if parsed.path().trim_matches('/').is_empty() {
            parsed.set_path("/postgres");
        }
        let admin_url = parsed.to_string();
        let name = format!(
            "sharebot_chaos_{}_{}",
            crate::ids::now_ms() / 1000,
            std::process::id()
        );
        let mut conn = connect(&admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("cannot create the database {name}: {e}"))?;
        let _ = conn.close().await;
        let mut run = parsed.clone();
        run.set_path(&format!("/{name}"));
        Ok(RunDatabase {
            admin_url,
            url: run.to_string(),
            name,
        })
    }

    /// A connection to the run's database (for the checks).
    pub async fn connect(&self) -> Result<PgConnection, String> {
        connect(&self.url).await
    }

    /// The server process id of the session holding the leader's advisory lock, if any.
    pub async fn lock_holder(&self) -> Result<Option<i32>, String> {
        let mut conn = connect(&self.admin_url).await?;
        // A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32
        // bits) and objsubid 1.
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1
               AND l.classid::text::bigint = $2 AND l.objid::text::bigint = $3 AND l.objsubid = 1
             LIMIT 1",
        )
        .bind(&self.name)
        .bind((LOCK_KEY >> 32) & 0xffff_ffff)
        .bind(LOCK_KEY & 0xffff_ffff)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| format!("cannot read pg_locks: {e}"))?;
        let _ = conn.close().await;
        Ok(pid)
    }

    /// `pg_terminate_backend` of the lock holder's session; its pid, or `None` when no session
    /// held the lock.
    pub async fn terminate_lock_holder(&self) -> Result<Option<i32>, String> {
        let Some(pid) = self.lock_holder().await? else {
            return Ok(None);
        };
        let mut conn = connect(&self.admin_url).await?;
        let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("pg_terminate_backend: {e}"))?;
        let _ = conn.close().await;
        Ok(done.then_some(pid))
    }

    /// Drops the run's database, closing whatever sessions are left.
    pub async fn drop(self) -> Result<(), String> {
        let mut conn = connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot drop the database {}: {e}", self.name))?;
        let _ = conn.close().await;
        Ok(())
    }
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        PgConnection::connect(url),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("cannot connect to PostgreSQL: {e}")),
        Err(_) => Err("cannot connect to PostgreSQL: no answer within 5 s".into()),
    }
}
