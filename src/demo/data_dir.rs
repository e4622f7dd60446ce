//! The demo's data folder: an earlier demo's databases are removed (its sandboxes lived in
//! memory and are gone), anything else there is left alone and the demo refuses the folder.

use std::path::Path;

/// The files a demo writes: each bot's SQLite database and its WAL companions.
fn is_demo_file(name: &str) -> bool {
    ["org-a.db", "org-b.db"]
        .iter()
        .any(|db| name == *db || name == format!("{db}-wal") || name == format!("{db}-shm"))
}

/// Removes an earlier demo's files from `dir` and returns their names; refuses (touching
/// nothing) when `dir` holds anything else.
pub fn start_fresh(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        format!(
            "cannot read the demo's data folder {}: {err}",
            dir.display()
        )
    })?;
    let mut ours = Vec::new();
    let mut others = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_demo_file(&name) {
            ours.push(name);
        } else {
            others.push(name);
        }
    }
    if !others.is_empty() {
        others.sort();
        return Err(format!(
            "the data folder {} holds files that are not the demo's ({}); give --data-dir an empty or new folder",
            dir.display(),
            others.join(", ")
        ));
    }
    ours.sort();
    for name in &ours {
        std::fs::remove_file(dir.join(name))
            .map_err(|err| format!("cannot remove {name} from {}: {err}", dir.display()))?;
    }
    Ok(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_demos_files_are_removed_and_other_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(start_fresh(dir.path()).unwrap(), Vec::<String>::new());
        for name in ["org-a.db", "org-a.db-wal", "org-b.db"] {
            std::fs::write(dir.path().join(name), "old").unwrap();
        }
        assert_eq!(
            start_fresh(dir.path()).unwrap(),
            vec!["org-a.db", "org-a.db-wal", "org-b.db"]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        std::fs::write(dir.path().join("org-a.db"), "old").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let err = start_fresh(dir.path()).unwrap_err();
        assert!(
            err.contains("notes.txt") && err.contains("--data-dir"),
            "{err}"
        );
        assert!(dir.path().join("org-a.db").exists(), "nothing touched");
    }
}
