//! What both backends' migration runners share: which steps a database still needs.
//!
//! Each backend keeps its schema as an ordered list of steps; a database records the
//! number of steps applied (SQLite in `PRAGMA user_version`, PostgreSQL in the
//! `satchel_schema` table). A relay applies the missing steps in order, each in its own
//! transaction together with the new version, and refuses a database that a newer relay
//! has already moved past what it knows (downgrades are not supported: restore the
//! backup taken before the upgrade instead).

use std::ops::Range;

use super::StoreError;

/// The indexes of the steps a database at `found` still needs, given `known` steps.
///
/// # Errors
/// [`StoreError::Schema`] if the database is newer than this relay.
pub(crate) fn pending_steps(
    backend: &str,
    found: i64,
    known: usize,
) -> Result<Range<usize>, StoreError> {
    let found = usize::try_from(found).map_err(|_| {
        StoreError::Schema(format!(
            "the {backend} database has a negative schema version"
        ))
    })?;
    if found > known {
        return Err(StoreError::Schema(format!(
            "the {backend} database has schema version {found}, this relay knows up to \
             {known}; run a newer relay (or restore the backup taken before the upgrade)"
        )));
    }
    Ok(found..known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_steps_run_and_newer_databases_are_refused() {
        assert_eq!(pending_steps("x", 0, 3).ok(), Some(0..3));
        assert_eq!(pending_steps("x", 2, 3).ok(), Some(2..3));
        assert_eq!(pending_steps("x", 3, 3).ok(), Some(3..3));
        let newer = pending_steps("PostgreSQL", 4, 3)
            .err()
            .map(|e| e.to_string());
        assert!(newer.is_some_and(|m| m.contains("schema version 4") && m.contains("newer")));
        assert!(pending_steps("x", -1, 3).is_err());
    }
}
