"""A store's schema: the tables, indexes and triggers Tuning Lab writes (DDL), the race
tables made when a store first runs a race, the check that refuses a schema object we did not
write, and the upgrade that gives a store made by an older version what it lacks."""

from __future__ import annotations

import sqlite3

from tuning_core.engine.errors import brief

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    message TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    value REAL,
    error TEXT,
    note TEXT,
    retry_of INTEGER,
    started_at REAL,
    finished_at REAL,
    UNIQUE (study_id, number)
);
CREATE TABLE IF NOT EXISTS epoch_metrics (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, epoch, name)
);
CREATE TABLE IF NOT EXISTS batch_losses (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    progress REAL NOT NULL,
    loss REAL
);
CREATE INDEX IF NOT EXISTS batch_losses_trial ON batch_losses (trial_id);
CREATE TABLE IF NOT EXISTS strategy_snapshots (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id) ON DELETE CASCADE,
    trial_number INTEGER NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS strategy_asks (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    trial_number INTEGER NOT NULL,
    initial INTEGER NOT NULL,
    acquisition TEXT,
    state BLOB NOT NULL,
    PRIMARY KEY (study_id, trial_number)
);
CREATE TABLE IF NOT EXISTS prune_decisions (
    trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    value REAL NOT NULL,
    cutoff REAL NOT NULL,
    rule TEXT NOT NULL,
    rung INTEGER,
    bracket INTEGER,
    compared INTEGER NOT NULL,
    kept INTEGER
);
CREATE TABLE IF NOT EXISTS trial_values (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, name)
);
CREATE TABLE IF NOT EXISTS trial_workers (
    trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    address TEXT NOT NULL,
    started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS study_notes (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trial_notes (
    trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS finished_trials_are_final
BEFORE UPDATE ON trials WHEN OLD.state NOT IN ('queued', 'running')
BEGIN SELECT RAISE(ABORT, 'finished trials are never modified'); END;
CREATE TRIGGER IF NOT EXISTS finished_trials_take_no_values
BEFORE INSERT ON trial_values
WHEN (SELECT state FROM trials WHERE id = NEW.trial_id) NOT IN ('queued', 'running')
BEGIN SELECT RAISE(ABORT, 'finished trials are never modified'); END;
CREATE TRIGGER IF NOT EXISTS finished_trials_take_no_metrics
BEFORE INSERT ON epoch_metrics
WHEN (SELECT state FROM trials WHERE id = NEW.trial_id) NOT IN ('queued', 'running')
BEGIN SELECT RAISE(ABORT, 'finished trials are never modified'); END;
"""


# A race's tables, made when the first race opens (a store that never ran a race has none).
RACE_SCHEMA = """
CREATE TABLE IF NOT EXISTS races (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    message TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS race_studies (
    race_id INTEGER NOT NULL REFERENCES races(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    study_name TEXT NOT NULL,
    label TEXT NOT NULL,
    seed INTEGER NOT NULL,
    PRIMARY KEY (race_id, position)
);
"""


def _expected_schema() -> dict[tuple[str, str], str]:
    """(type, name) -> normalised SQL of every object SCHEMA creates."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.executescript(SCHEMA)
        rows = scratch.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        scratch.close()
    return {(kind, name): _normalised(sql) for kind, name, sql in rows}


def _normalised(sql: str | None) -> str:
    return " ".join((sql or "").split())


EXPECTED_SCHEMA = _expected_schema()


def foreign_schema_object(rows: list[tuple[str, str, str | None]]) -> str | None:
    """The first object in a store's schema that Tuning Lab did not write and that could run
    work when the store is read (a view, a trigger, a virtual table), named for the user, or
    None. Plain tables and indexes cannot run code or queries of their own, so older stores'
    tables and indexes pass."""
    for kind, name, sql in rows:
        if kind in ("view", "trigger"):
            if EXPECTED_SCHEMA.get((kind, name)) != _normalised(sql):
                return f"a {kind} named {brief(name)}"
        elif kind == "table" and _normalised(sql).upper().startswith("CREATE VIRTUAL TABLE"):
            return f"a virtual table named {brief(name)}"
    return None


def upgrade_older_store(connection: sqlite3.Connection) -> None:
    """Give a store made by an older version the tables and triggers it lacks."""
    present = {
        (row[0], row[1]) for row in connection.execute("SELECT type, name FROM sqlite_master")
    }
    if not set(EXPECTED_SCHEMA) <= present:
        connection.executescript(SCHEMA)  # every statement is IF NOT EXISTS
