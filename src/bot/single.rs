//! One process per SQLite file: an exclusive advisory lock on `<db>.lock`, held for the process's life.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use crate::config::{DatabaseConfig, Dialect};

/// The held lock; dropping it (the process ends, or a test stops the bot) releases it.
/// The operating system releases it too when the process dies, even by `kill -9`, so a
/// stale file never blocks a restart — which is why this is a lock and not a PID file.
#[derive(Debug)]
pub(crate) struct SqliteLock {
    _file: File,
}

/// Takes the lock when the database is SQLite (PostgreSQL needs none: replicas elect a
/// leader there instead); a second process on the same file is refused with what to do.
/// The error is the message for `BotError::Setup`.
pub(crate) fn acquire(config: &DatabaseConfig) -> Result<Option<SqliteLock>, String> {
    if config.dialect != Dialect::Sqlite {
        return Ok(None);
    }
    let Some(path) = lock_path(config.url.expose()) else {
        return Ok(None);
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "cannot open the lock file {} beside the SQLite database ({}): {e}",
                path.display(),
                config.display_url
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(SqliteLock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(format!(
            "another sharebot process already runs on the SQLite database {} (it holds {}): \
             SQLite serves one process only. Stop the other process, or to run several replicas \
             point every one at one PostgreSQL database (database.url = postgres://…)",
            config.display_url,
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!(
            "cannot lock {} beside the SQLite database ({}): {e}",
            path.display(),
            config.display_url
        )),
    }
}

/// `<db>.lock` for `sqlite://<db>[?options]`; none for an in-memory database.
fn lock_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let file = rest.split('?').next().unwrap_or(rest);
    if file.is_empty() || file == ":memory:" {
        return None;
    }
    Some(PathBuf::from(format!("{file}.lock")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_database() {
        assert_eq!(
            lock_path("sqlite:///var/lib/sharebot/sharebot.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/sharebot/sharebot.db.lock"))
        );
        assert_eq!(
            lock_path("sqlite://sharebot.db"),
            Some(PathBuf::from("sharebot.db.lock"))
        );
        assert_eq!(lock_path("sqlite://:memory:"), None);
        assert_eq!(lock_path("postgres://h/db"), None);
    }
}
