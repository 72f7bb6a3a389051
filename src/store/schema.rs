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
CREATE VIRTUAL TABLE items_tri USING fts5(
    text, content = '', contentless_delete = 1, tokenize = 'trigram'
);
"#,
    },
    Migration {
        version: 2,
        description: "village outreach: VCD jobs and the disc register",
        sql: r#"
CREATE TABLE vcd_jobs (
    id              INTEGER PRIMARY KEY,
    title           TEXT NOT NULL,
    item_ids        TEXT NOT NULL,
    standard        TEXT NOT NULL CHECK (standard IN ('pal', 'ntsc')),
    disc_minutes    INTEGER NOT NULL CHECK (disc_minutes IN (74, 80)),
    menu            INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'transcoding', 'authoring', 'done', 'failed', 'cancelled')),
    progress        REAL NOT NULL DEFAULT 0,
    message         TEXT,
    plan_json       TEXT,
    discs_json      TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL
);
CREATE INDEX vcd_jobs_state ON vcd_jobs(state);

CREATE TABLE disc_register (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER REFERENCES vcd_jobs(id),
    disc_no         INTEGER NOT NULL,
    titles          TEXT NOT NULL,
    category        TEXT NOT NULL,
    copies          INTEGER NOT NULL CHECK (copies > 0),
    recipient       TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    made_at         TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    note            TEXT
);
"#,
    },
    Migration {
        version: 3,
        description: "equipment: state intervals, lamp hours, lessons, calendar and plan documents",
        sql: r#"
CREATE TABLE equipment_intervals (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('on', 'warming', 'cooling', 'standby', 'error', 'unknown')),
    detail          TEXT NOT NULL DEFAULT '',
    start_at        TEXT NOT NULL,
    end_at          TEXT,
    last_seen       TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    closed_by       TEXT CHECK (closed_by IN ('change', 'shutdown', 'restart'))
);
CREATE INDEX equipment_intervals_device ON equipment_intervals(device_id, start_at);
CREATE INDEX equipment_intervals_start ON equipment_intervals(start_at);
CREATE UNIQUE INDEX equipment_intervals_open ON equipment_intervals(device_id) WHERE end_at IS NULL;

CREATE TABLE equipment_lamp (
    device_id       TEXT NOT NULL,
    day             TEXT NOT NULL,
    hours           INTEGER NOT NULL,
    at              TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
);

CREATE TABLE lessons (
    id              INTEGER PRIMARY KEY,
    room            TEXT NOT NULL,
    period          TEXT,
    start_at        TEXT NOT NULL,
    end_at          TEXT NOT NULL,
    teacher         TEXT NOT NULL DEFAULT '',
    class           TEXT NOT NULL DEFAULT '',
    subject         TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX lessons_room ON lessons(room, start_at);
CREATE INDEX lessons_start ON lessons(start_at);

CREATE TABLE lesson_items (
    lesson_id       INTEGER NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    item_id         INTEGER NOT NULL REFERENCES items(id),
    PRIMARY KEY (lesson_id, item_id)
);
CREATE INDEX lesson_items_item ON lesson_items(item_id);

CREATE TABLE equipment_documents (
    name            TEXT PRIMARY KEY,
    text            TEXT NOT NULL,
    source          TEXT NOT NULL,
    imported_at     TEXT NOT NULL
);
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
