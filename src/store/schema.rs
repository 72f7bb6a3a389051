//! Versioned schema migrations. Each entry upgrades the schema by one version,
//! runs in its own transaction and is recorded in `schema_migrations`. Append
//! new migrations at the end; never edit one that has shipped.

use std::path::Path;

use rusqlite::Connection;

use super::{Result, StoreError};

/// One migration: its version (1-based, consecutive), what it does, its SQL.
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "catalog: items, inbox files, reception register, purges, search index",
        sql: r#"
CREATE TABLE items (
    id              INTEGER PRIMARY KEY,
    blake3          TEXT NOT NULL UNIQUE,
    size            INTEGER NOT NULL,
    title           TEXT NOT NULL,
    path            BLOB NOT NULL,
    path_display    TEXT NOT NULL,
    category        TEXT NOT NULL,
    subject         TEXT,
    grade           TEXT,
    edition         TEXT,
    kind            TEXT NOT NULL,
    corrected       INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL CHECK (state IN ('present', 'gone')),
    kept            INTEGER NOT NULL DEFAULT 0,
    library_path    BLOB,
    kept_at         TEXT,
    media_json      TEXT,
    media_error     TEXT,
    probed          INTEGER NOT NULL DEFAULT 0,
    first_received  TEXT NOT NULL,
    last_received   TEXT NOT NULL,
    receptions      INTEGER NOT NULL DEFAULT 0,
    uses            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX items_category ON items(category, id);
CREATE INDEX items_probe ON items(probed) WHERE probed = 0;

CREATE TABLE inbox_files (
    path            BLOB PRIMARY KEY,
    path_display    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('receiving', 'complete', 'broken', 'gone', 'purged')),
    item_id         INTEGER REFERENCES items(id),
    first_seen      TEXT NOT NULL,
    updated         TEXT NOT NULL,
    note            TEXT
);
CREATE INDEX inbox_files_state ON inbox_files(state);
CREATE INDEX inbox_files_item ON inbox_files(item_id);

CREATE TABLE receptions (
    id              INTEGER PRIMARY KEY,
    item_id         INTEGER NOT NULL REFERENCES items(id),
    received_at     TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    uptime_ms       INTEGER NOT NULL,
    path            BLOB NOT NULL,
    path_display    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    blake3          TEXT NOT NULL,
    UNIQUE (path, mtime_ns, size, blake3)
);
CREATE INDEX receptions_at ON receptions(received_at);
CREATE INDEX receptions_item ON receptions(item_id);

CREATE TABLE purges (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    path            BLOB NOT NULL,
    path_display    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    item_id         INTEGER REFERENCES items(id),
    reason          TEXT NOT NULL,
    free_before     INTEGER NOT NULL
);

CREATE VIRTUAL TABLE items_fts USING fts5(
    text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
);
"#,
    },
    Migration {
        // VCD part (issue 4); the lead renumbers this at merge if needed.
        version: 2,
        description: "vcd: disc-making jobs (queued/transcoding/authoring/done/failed/cancelled)",
        sql: r#"
CREATE TABLE vcd_jobs (
    id                  INTEGER PRIMARY KEY,
    state               TEXT NOT NULL CHECK (state IN
                            ('queued', 'transcoding', 'authoring', 'done', 'failed', 'cancelled')),
    request_json        TEXT NOT NULL,
    progress            REAL NOT NULL DEFAULT 0,
    message             TEXT NOT NULL DEFAULT '',
    images_json         TEXT NOT NULL DEFAULT '[]',
    error               TEXT,
    cancel_requested    INTEGER NOT NULL DEFAULT 0,
    attempts            INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX vcd_jobs_state ON vcd_jobs(state, id);
"#,
    },
];

/// The schema version this binary writes.
pub fn current_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// Brings the database at `path` up to [`current_version`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = current_version();
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        let err = |source| StoreError::Migration {
            version: m.version,
            source,
        };
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .map_err(err)?;
        tx.execute_batch(m.sql).map_err(err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.description, chrono::Utc::now().to_rfc3339()],
        )
        .map_err(err)?;
        tx.pragma_update(None, "user_version", m.version)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.description);
        }
    }

    #[test]
    fn migrates_fresh_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.sqlite3");
        let mut c = Connection::open(&p).unwrap();
        migrate(&mut c, &p).unwrap();
        migrate(&mut c, &p).unwrap(); // idempotent
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, current_version());
        c.pragma_update(None, "user_version", current_version() + 1)
            .unwrap();
        let e = migrate(&mut c, &p).unwrap_err().to_string();
        assert!(e.contains("newer"), "{e}");
    }
}
