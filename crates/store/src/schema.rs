//! Schema migrations, compiled into the binary and tracked by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a database from version `i` to `i + 1`; version 0 is
//! an empty file. Each step runs in its own IMMEDIATE transaction that also
//! sets `user_version`, so a crash leaves the file at the old or the new
//! version, never between. A file newer than this binary is refused rather
//! than used: an old tandem must not write rows it does not understand.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Context, StoreError};

/// The SQL of each schema version, in order. Released files never change.
pub const MIGRATIONS: &[&str] = &[
    include_str!("schema/v1.sql"),
    include_str!("schema/v2.sql"),
    include_str!("schema/v3.sql"),
    include_str!("schema/v4.sql"),
    include_str!("schema/v5.sql"),
    include_str!("schema/v6.sql"),
    include_str!("schema/v7.sql"),
    include_str!("schema/v8.sql"),
];

/// The schema version this binary writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The file's schema version (`PRAGMA user_version`).
pub fn version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("pragma user_version", [], |r| r.get(0))
        .context("reading the schema version")
}

/// Brings the database to [`CURRENT_VERSION`]; does nothing when it is there
/// already. Refuses a database newer than this binary.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two
        // processes opening a new file at once do not both run a step.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a schema migration")?;
        let found = version(&tx)?;
        if found > CURRENT_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                known: CURRENT_VERSION,
            });
        }
        if found < 0 {
            return Err(StoreError::Corrupt(format!(
                "schema version {found} is negative; this is not a tandem store"
            )));
        }
        if found == CURRENT_VERSION {
            return Ok(());
        }
        let step = MIGRATIONS[found as usize];
        let next = found + 1;
        tx.execute_batch(step)
            .context(&format!("migrating the schema to version {next}"))?;
        tx.pragma_update(None, "user_version", next)
            .context("recording the schema version")?;
        tx.commit()
            .context(&format!("committing schema version {next}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column of every table carries a comment (a `--` line above it),
    /// as the schema's readers (and STYLE.md) rely on.
    #[test]
    fn every_column_is_commented() {
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let mut in_table = false;
            let mut previous = "";
            for line in sql.lines().map(str::trim) {
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("create table") {
                    in_table = true;
                } else if in_table && line.starts_with(')') {
                    in_table = false;
                } else if in_table
                    && !line.is_empty()
                    && !line.starts_with("--")
                    && ![
                        "primary key",
                        "unique",
                        "check",
                        "foreign key",
                        "constraint",
                    ]
                    .iter()
                    .any(|k| lower.starts_with(k))
                {
                    let column = line.split_whitespace().next().unwrap_or(line);
                    assert!(
                        previous.starts_with("--") || line.contains("--"),
                        "v{}.sql: column `{column}` has no comment",
                        i + 1
                    );
                }
                previous = line;
            }
        }
    }
}
