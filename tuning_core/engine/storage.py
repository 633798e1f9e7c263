"""SQLite store: studies, trials, per-epoch metrics and races; the single source of truth,
and the only module that speaks SQL (store_protocol.StudyStore names what others may call).

The worker is the only writer of its study; the dashboard and CLI read. WAL mode lets readers
run while a worker writes, and every write commits at once so readers see live progress.
A trigger makes finished trials immutable, whatever code path tries to change them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from tuning_core.engine.errors import SpecError, StoreError, StoreGoneError, brief
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import StudyStatus, TrialState

DEFAULT_STORAGE_FILE = "tuning_lab.db"
STORAGE_ENV = "TUNING_LAB_STORAGE"
# SQLite's own name for a private in-memory database: Store(MEMORY) is a throwaway store that
# lives as long as its one connection (no file, so no WAL, read-only mount or file identity).
MEMORY = ":memory:"


_SCHEMA = """
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
_RACE_SCHEMA = """
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


# A note is a few paragraphs of plain text, not a document.
NOTE_MAX_CHARS = 5000


def _checked_note(text: str) -> str:
    """The note to keep: stripped, within NOTE_MAX_CHARS, or SpecError in one sentence."""
    if not isinstance(text, str):
        raise SpecError(f"note: a note is plain text, not {brief(text)}.")
    text = text.replace("\x00", "").strip()
    if len(text) > NOTE_MAX_CHARS:
        raise SpecError(
            f"note: a note holds at most {NOTE_MAX_CHARS:,} characters, not {len(text):,}; "
            "shorten it."
        )
    return text


def default_storage_path() -> str:
    """The store the CLI and dashboard share: $TUNING_LAB_STORAGE, else ./tuning_lab.db."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE_FILE


def artifacts_dir(storage_path: str | os.PathLike[str], study_name: str) -> Path:
    """Files kept beside the store for one study (the best trial's .keras model, logs)."""
    return Path(f"{storage_path}.artifacts") / study_name


def _check_store_path(path: Path, create: bool) -> None:
    """Refuse, in one sentence, a store path that is not (and cannot become) a SQLite file."""
    if path.is_dir():
        raise SpecError(
            f"--storage: {brief(str(path))} is a directory; name a file such as tuning_lab.db."
        )
    if path.exists() and not path.is_file():
        raise SpecError(
            f"--storage: {brief(str(path))} is not a regular file; name a file such as "
            "tuning_lab.db."
        )
    if not path.exists() and not create:
        raise SpecError(
            f"--storage: there is no store at {brief(str(path))}; run a study first, or check the "
            "path."
        )


# Back-off between retries of a write that found the database locked.
LOCK_RETRY_FIRST_S = 0.05
LOCK_RETRY_MAX_S = 2.0

_Result = TypeVar("_Result")


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def _reason(error: sqlite3.DatabaseError) -> str:
    """SQLite's words for why a store could not be read; "interrupted" means our time bound."""
    if "interrupted" in str(error):
        return f"a query ran past {QUERY_LIMIT_S:g} s and was stopped"
    return str(error)


def _retry_while_locked(operation: Callable[[], _Result]) -> _Result:
    """Run ``operation`` until it does not fail with "database is locked" (or busy)."""
    delay = LOCK_RETRY_FIRST_S
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        time.sleep(delay)
        delay = min(delay * 2, LOCK_RETRY_MAX_S)


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class StudyRecord:
    """A study row, with its spec parsed (it was validated when the study was created)."""

    id: int
    name: str
    spec: StudySpec
    status: StudyStatus
    stop_requested: bool
    worker_pid: int | None
    message: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class TrialRecord:
    id: int
    number: int
    params: dict[str, Any]
    state: TrialState
    value: float | None
    error: str | None
    note: str | None
    retry_of: int | None
    started_at: float | None
    finished_at: float | None
    # Every metric the trial measured, by name (its value is the study's first metric's);
    # empty for a trial that measured only its value, and for trials of older stores.
    values: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return end - self.started_at


@dataclass(frozen=True)
class TrialWorker:
    """The Dask worker that ran a trial: its name (a lane of the timeline), its address (which
    changes when the worker restarts) and when the driver heard that it started the trial (by
    the driver's clock, as the trial's finished_at is)."""

    worker: str
    address: str
    started_at: float


# A store is untrusted input (a file mailed with a course): no statement may run longer than
# this, so a crafted or damaged file cannot hang a command or a page. The longest honest read,
# every epoch row of 10,000 trials x 30 epochs, takes about a second here.
QUERY_LIMIT_S = 15.0
# SQLite calls the progress handler every this many virtual-machine steps (~1 ms of work).
_PROGRESS_STEPS = 20_000


def _expected_schema() -> dict[tuple[str, str], str]:
    """(type, name) -> normalised SQL of every object _SCHEMA creates."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.executescript(_SCHEMA)
        rows = scratch.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        scratch.close()
    return {(kind, name): _normalised(sql) for kind, name, sql in rows}


def _normalised(sql: str | None) -> str:
    return " ".join((sql or "").split())


_EXPECTED_SCHEMA = _expected_schema()


def _foreign_schema_object(rows: list[tuple[str, str, str | None]]) -> str | None:
    """The first object in a store's schema that Tuning Lab did not write and that could run
    work when the store is read (a view, a trigger, a virtual table), named for the user, or
    None. Plain tables and indexes cannot run code or queries of their own, so older stores'
    tables and indexes pass."""
    for kind, name, sql in rows:
        if kind in ("view", "trigger"):
            if _EXPECTED_SCHEMA.get((kind, name)) != _normalised(sql):
                return f"a {kind} named {brief(name)}"
        elif kind == "table" and _normalised(sql).upper().startswith("CREATE VIRTUAL TABLE"):
            return f"a virtual table named {brief(name)}"
    return None


class _BoundedConnection(sqlite3.Connection):
    """A connection whose every statement must finish within ``QUERY_LIMIT_S``.

    Each ``execute`` starts the clock; SQLite's progress handler interrupts the statement
    (rows fetched later included) once it runs past the limit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + QUERY_LIMIT_S
        self.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.deadline = time.monotonic() + QUERY_LIMIT_S
        return super().execute(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        self.deadline = time.monotonic() + QUERY_LIMIT_S
        return super().executescript(script)


def _read_only_folder(path: Path) -> bool:
    """Whether the store at ``path`` must be opened read-only: its folder or the file cannot
    be written (a read-only mount, a shared course drive), so WAL's side files cannot be made."""
    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(folder, os.W_OK):
        return True
    return path.exists() and not os.access(path, os.W_OK)


class Store:
    """A handle on one SQLite file. Cheap to open; one per process or thread.

    The file is untrusted: on open, SQLite's ``trusted_schema`` is turned off, a schema holding
    a view, trigger or virtual table that Tuning Lab did not write is refused, and every
    statement is bounded in time. A store whose folder cannot be written opens read-only:
    reads work, and writes raise :class:`StoreError`. Every write first checks that the file
    is still the one opened, so a store deleted or replaced under a running study stops it
    (:class:`StoreGoneError`) instead of training into a file nobody can see.

    ``Store(MEMORY)`` is the same store in SQLite's private in-memory database: the same
    schema, SQL and triggers, gone when it is closed. One connection holds it, so keep the one
    object (a second ``Store(MEMORY)`` is another, empty store).
    """

    def __init__(
        self, path: str | os.PathLike[str], create: bool = True, busy_timeout_s: float = 30.0
    ) -> None:
        """Open the store at ``path``; with ``create=False`` a missing file is an error.

        A path that is not a store (a directory, a device, a text file, a damaged database,
        a crafted schema) raises :class:`SpecError` naming ``--storage``, before anything is
        written there. A write that finds the database locked past ``busy_timeout_s`` is
        retried with back-off until it goes through: a trial never fails because of a lock.
        """
        self.path = str(path)
        self.in_memory = self.path == MEMORY
        self.read_only = False
        self._identity: tuple[int, int] | None = None
        if not self.in_memory:
            location = Path(self.path)
            _check_store_path(location, create)
            if not location.exists():
                location.parent.mkdir(parents=True, exist_ok=True)
            self.read_only = _read_only_folder(location)
            if self.read_only and not location.exists():
                raise StoreError(
                    f"--storage: the folder of {brief(self.path)} cannot be written, so no store "
                    "can be made there; name a file in a writable folder."
                )
        try:
            self.connection = self._connect(busy_timeout_s)
            self._check_schema()
            if not self.read_only:
                _retry_while_locked(self._set_up)
            self.connection.execute("SELECT id, name, spec, status FROM studies LIMIT 0")
        except sqlite3.DatabaseError as error:
            with contextlib.suppress(AttributeError):
                self.connection.close()
            raise SpecError(
                f"--storage: {brief(self.path)} is not a Tuning Lab store ({_reason(error)}); "
                "name another file."
            ) from None
        except StoreError:
            self.connection.close()
            raise
        if not self.in_memory and not self.read_only:
            self._identity = _file_identity(self.path)

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        """A bounded connection: read-write, or read-only (immutable when even the WAL's side
        files are missing, as on a read-only mount where nothing can be writing)."""
        options: dict[str, Any] = {
            "timeout": busy_timeout_s,
            # Autocommit: each write is visible to readers at once; multi-row writes use
            # `with self.transaction()`.
            "isolation_level": None,
            "check_same_thread": False,
            "factory": _BoundedConnection,
        }
        if not self.read_only:
            connection = sqlite3.connect(self.path, **options)
        else:
            uri = Path(self.path).resolve().as_uri()
            connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, **options)
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                connection.close()
                connection = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, **options)
        connection.row_factory = sqlite3.Row
        # A schema's functions and virtual tables run only where the schema is trusted.
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection

    def _check_schema(self) -> None:
        rows = self.connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        foreign = _foreign_schema_object([tuple(row) for row in rows])
        if foreign is not None:
            raise StoreError(
                f"--storage: {brief(self.path)} holds {foreign} that Tuning Lab did not write, "
                "so it is not opened (a crafted store could run queries of its own); name "
                "another file."
            )

    def _set_up(self) -> None:
        # WAL lets other processes read a file while it is written; a memory store has no
        # other reader (and SQLite keeps its journal in memory whatever is asked).
        if not self.in_memory:
            if self.connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.execute("PRAGMA synchronous = NORMAL")
        # A store made by an older version gains the tables and triggers it lacks.
        present = {
            (row[0], row[1])
            for row in self.connection.execute("SELECT type, name FROM sqlite_master")
        }
        if not set(_EXPECTED_SCHEMA) <= present:
            self.connection.executescript(_SCHEMA)  # every statement is IF NOT EXISTS

    def _check_writable(self) -> None:
        """Raise the sentence that says why this store cannot take a write, if it cannot."""
        if self.read_only:
            raise StoreError(
                f"--storage: {brief(self.path)} is read-only (its folder or the file cannot be "
                "written), so it can be read but not changed; copy it to a writable folder "
                "first."
            )
        if self._identity is not None and _file_identity(self.path) != self._identity:
            raise StoreGoneError(
                f"--storage: {brief(self.path)} was deleted or replaced while this process "
                "wrote to it, so nothing more would be kept; the run stops (restore the file, "
                "or run the study again)."
            )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: BEGIN IMMEDIATE takes the write lock up front (retried while
        another writer holds it), and everything inside commits together or not at all."""
        if self.connection.in_transaction:  # already inside one: join it
            yield
            return
        self._check_writable()
        _retry_while_locked(lambda: self.connection.execute("BEGIN IMMEDIATE"))
        try:
            yield
            self.connection.execute("COMMIT")
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise

    def _write(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One write statement, committed at once (autocommit) and retried while locked."""
        self._check_writable()
        if self.connection.in_transaction:
            return self.connection.execute(sql, parameters)
        return _retry_while_locked(lambda: self.connection.execute(sql, parameters))

    # Studies -----------------------------------------------------------------------------

    def create_study(self, spec: StudySpec) -> int:
        now = time.time()
        cursor = self._write(
            "INSERT INTO studies (name, spec, status, created_at, updated_at) VALUES (?, ?, ?, ?, "
            "?)",
            (spec.name, json.dumps(spec.to_json()), StudyStatus.CREATED.value, now, now),
        )
        return int(cursor.lastrowid)

    def restart_study(self, study_id: int, spec: StudySpec) -> None:
        """Give a study that finished no trial a new spec, dropping its interrupted attempts
        (a start that crashed on bad data, corrected under the same name)."""
        with self.transaction():
            self._write("DELETE FROM trials WHERE study_id = ?", (study_id,))
            self._write("DELETE FROM strategy_snapshots WHERE study_id = ?", (study_id,))
            self._write("DELETE FROM strategy_asks WHERE study_id = ?", (study_id,))
            self.update_spec(study_id, spec)

    def update_spec(self, study_id: int, spec: StudySpec) -> None:
        self._write(
            "UPDATE studies SET spec = ?, updated_at = ? WHERE id = ?",
            (json.dumps(spec.to_json()), time.time(), study_id),
        )

    @staticmethod
    def _study(row: sqlite3.Row) -> StudyRecord:
        return StudyRecord(
            id=row["id"],
            name=row["name"],
            spec=parse_spec(json.loads(row["spec"])),
            status=StudyStatus(row["status"]),
            stop_requested=bool(row["stop_requested"]),
            worker_pid=row["worker_pid"],
            message=row["message"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def get_study(self, name: str) -> StudyRecord | None:
        row = self.connection.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._study(row)

    def studies(self) -> list[StudyRecord]:
        rows = self.connection.execute("SELECT * FROM studies ORDER BY created_at, id").fetchall()
        return [self._study(row) for row in rows]

    def set_status(
        self,
        study_id: int,
        status: StudyStatus,
        worker_pid: int | None = None,
        message: str | None = None,
    ) -> None:
        self._write(
            "UPDATE studies SET status = ?, worker_pid = ?, message = ?, updated_at = ? WHERE id "
            "= ?",
            (status.value, worker_pid, message, time.time(), study_id),
        )

    def request_stop(self, name: str) -> bool:
        """Ask the study's worker to stop; False when no such study exists."""
        cursor = self._write(
            "UPDATE studies SET stop_requested = 1, updated_at = ? WHERE name = ?",
            (time.time(), name),
        )
        return cursor.rowcount > 0

    def clear_stop(self, study_id: int) -> None:
        self._write("UPDATE studies SET stop_requested = 0 WHERE id = ?", (study_id,))

    def stop_requested(self, study_id: int) -> bool:
        row = self.connection.execute(
            "SELECT stop_requested FROM studies WHERE id = ?", (study_id,)
        ).fetchone()
        return bool(row and row[0])

    def delete_study(self, name: str) -> bool:
        with self.transaction():
            cursor = self._write("DELETE FROM studies WHERE name = ?", (name,))
        return cursor.rowcount > 0

    # Trials ------------------------------------------------------------------------------

    def start_trial(
        self, study_id: int, number: int, params: dict[str, Any], retry_of: int | None = None
    ) -> int:
        cursor = self._write(
            "INSERT INTO trials (study_id, number, params, state, retry_of, started_at) VALUES "
            "(?, ?, ?, ?, ?, ?)",
            (study_id, number, json.dumps(params), TrialState.RUNNING.value, retry_of, time.time()),
        )
        return int(cursor.lastrowid)

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        value: float | None = None,
        error: str | None = None,
        note: str | None = None,
        pruned: PruneDecision | None = None,
        values: Mapping[str, float] | None = None,
    ) -> float:
        """Record how the trial ended (and, for a pruned trial, why, and every metric it
        measured: ``values``, name -> number; NaN and infinity are kept as no value);
        returns the time it finished at."""
        assert state.is_finished(), state
        finished_at = time.time()
        with self.transaction():
            if values:  # before the trial is final: a trigger refuses values after
                self.connection.executemany(
                    "INSERT OR REPLACE INTO trial_values (trial_id, name, value) VALUES (?, ?, ?)",
                    [(trial_id, str(name), _finite_or_none(v)) for name, v in values.items()],
                )
            if pruned is not None:
                self.connection.execute(
                    "INSERT OR REPLACE INTO prune_decisions (trial_id, epoch, value, cutoff, rule, "
                    "rung, bracket, compared, kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        trial_id,
                        pruned.epoch,
                        pruned.value,
                        pruned.cutoff,
                        pruned.rule,
                        pruned.rung,
                        pruned.bracket,
                        pruned.compared,
                        pruned.kept,
                    ),
                )
            self.connection.execute(
                "UPDATE trials SET state = ?, value = ?, error = ?, note = ?, finished_at = ? "
                "WHERE id = ?",
                (state.value, _finite_or_none(value), error, note, finished_at, trial_id),
            )
        return finished_at

    def prune_decisions(self, study_id: int) -> list[PruneDecision]:
        """Why each pruned trial stopped, by trial number."""
        rows = self.connection.execute(
            """SELECT t.number, p.epoch, p.value, p.cutoff, p.rule, p.rung, p.bracket, p.compared,
                      p.kept
               FROM prune_decisions p JOIN trials t ON t.id = p.trial_id
               WHERE t.study_id = ? ORDER BY t.number""",
            (study_id,),
        ).fetchall()
        return [PruneDecision(*row) for row in rows]

    def trial_rows(self, study_id: int) -> list[tuple[int, str, int | None]]:
        """Every trial of the study as a pruner needs it: number, state and the number it
        retries (None for an original), by number."""
        rows = self.connection.execute(
            "SELECT number, state, retry_of FROM trials WHERE study_id = ? ORDER BY number",
            (study_id,),
        ).fetchall()
        return [(int(number), str(state), retry_of) for number, state, retry_of in rows]

    def metric_rows_after(
        self, study_id: int, metric: str, after: int = 0
    ) -> list[tuple[int, int, int, float | None]]:
        """The study's finished epochs of ``metric`` whose rowid is past ``after``: rowid,
        trial number, epoch and value (None where it was not finite), by rowid.

        Rowids only grow (a rewritten row gets a new one), so a reader that keeps the last it
        read gets every later row, whichever process wrote it. An epoch's row exists only once
        that epoch has finished.
        """
        if after <= 0:  # the whole study: through its trials' rows of the metrics index
            query = """SELECT m.rowid, t.number, m.epoch, m.value FROM trials t
                       JOIN epoch_metrics m ON m.trial_id = t.id
                       WHERE t.study_id = ? AND m.name = ? ORDER BY m.rowid"""
            return self.connection.execute(query, (study_id, metric)).fetchall()
        # Only the newest rows: CROSS JOIN makes SQLite walk the rowid range first, instead of
        # every row of every trial of the study.
        query = """SELECT m.rowid, t.number, m.epoch, m.value FROM epoch_metrics m
                   CROSS JOIN trials t ON t.id = m.trial_id
                   WHERE m.rowid > ? AND t.study_id = ? AND m.name = ? ORDER BY m.rowid"""
        return self.connection.execute(query, (after, study_id, metric)).fetchall()

    def epochs_trained(self, study_id: int) -> int:
        """Epochs finished over all of the study's trials (retried ones included)."""
        row = self.connection.execute(
            """SELECT COUNT(*) FROM (SELECT DISTINCT m.trial_id, m.epoch FROM epoch_metrics m
               JOIN trials t ON t.id = m.trial_id WHERE t.study_id = ?)""",
            (study_id,),
        ).fetchone()
        return int(row[0])

    def interrupt_running_trials(self, study_id: int, reason: str) -> int:
        """Mark trials that a dead worker left running as interrupted; returns how many."""
        cursor = self._write(
            "UPDATE trials SET state = ?, error = ?, finished_at = ? WHERE study_id = ? AND state "
            "= ?",
            (TrialState.INTERRUPTED.value, reason, time.time(), study_id, TrialState.RUNNING.value),
        )
        return cursor.rowcount

    @staticmethod
    def _trial(row: sqlite3.Row) -> TrialRecord:
        return TrialRecord(
            id=row["id"],
            number=row["number"],
            params=json.loads(row["params"]),
            state=TrialState(row["state"]),
            value=row["value"],
            error=row["error"],
            note=row["note"],
            retry_of=row["retry_of"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    def trials(self, study_id: int) -> list[TrialRecord]:
        rows = self.connection.execute(
            "SELECT * FROM trials WHERE study_id = ? ORDER BY number", (study_id,)
        ).fetchall()
        values = self.trial_values(study_id)
        trials = [self._trial(row) for row in rows]
        return [replace(t, values=values[t.number]) if t.number in values else t for t in trials]

    def trial_values(self, study_id: int) -> dict[int, dict[str, float]]:
        """Trial number -> every finite metric that trial measured (name -> value, in the
        order stored), for the trials that have any. A store from before trial values has
        none."""
        values: dict[int, dict[str, float]] = {}
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store from before
            rows = self.connection.execute(
                """SELECT t.number, v.name, v.value FROM trial_values v
                   JOIN trials t ON t.id = v.trial_id WHERE t.study_id = ?
                   ORDER BY t.number, v.rowid""",
                (study_id,),
            ).fetchall()
            for number, name, value in rows:
                if value is not None:  # NaN and infinity were stored as NULL: not a value
                    values.setdefault(int(number), {})[str(name)] = float(value)
        return values

    def record_trial_worker(
        self, trial_id: int, worker: str, address: str, started_at: float
    ) -> None:
        """Which Dask worker (its name and address) started the trial, and when it did; the
        trial's own start moves there too, so its duration leaves out the wait in the queue."""
        with self.transaction():
            self.connection.execute(
                "INSERT OR REPLACE INTO trial_workers (trial_id, worker, address, started_at) "
                "VALUES (?, ?, ?, ?)",
                (trial_id, worker, address, started_at),
            )
            self.connection.execute(
                "UPDATE trials SET started_at = ? WHERE id = ? AND state IN ('queued', 'running')",
                (started_at, trial_id),
            )

    def trial_workers(self, study_id: int) -> dict[int, TrialWorker]:
        """The Dask worker of each trial that ran on one, by trial number."""
        rows = self.connection.execute(
            """SELECT t.number, w.worker, w.address, w.started_at FROM trial_workers w
               JOIN trials t ON t.id = w.trial_id WHERE t.study_id = ? ORDER BY t.number""",
            (study_id,),
        ).fetchall()
        return {row[0]: TrialWorker(row[1], row[2], row[3]) for row in rows}

    # User notes ----------------------------------------------------------------------------
    # A person's plain-text notes on a study or a trial, edited in the dashboard. They live in
    # tables of their own: a finished trial's row is immutable (a trigger), and trials.note is
    # the engine's own note (why a trial was pruned or ended at chance).

    def set_study_note(self, study_id: int, text: str) -> None:
        """Keep ``text`` as the study's note (an empty or blank text removes it)."""
        text = _checked_note(text)
        if not text:
            self._write("DELETE FROM study_notes WHERE study_id = ?", (study_id,))
            return
        self._write(
            "INSERT INTO study_notes (study_id, text, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (study_id) DO UPDATE SET text = excluded.text, "
            "updated_at = excluded.updated_at",
            (study_id, text, time.time()),
        )

    def set_trial_note(self, study_id: int, number: int, text: str) -> None:
        """Keep ``text`` as the note of trial ``number`` of the study (blank removes it)."""
        text = _checked_note(text)
        row = self.connection.execute(
            "SELECT id FROM trials WHERE study_id = ? AND number = ?", (study_id, number)
        ).fetchone()
        if row is None:
            raise SpecError(f"trial: this study has no trial {number}; pick one from the list.")
        if not text:
            self._write("DELETE FROM trial_notes WHERE trial_id = ?", (row[0],))
            return
        self._write(
            "INSERT INTO trial_notes (trial_id, text, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (trial_id) DO UPDATE SET text = excluded.text, "
            "updated_at = excluded.updated_at",
            (row[0], text, time.time()),
        )

    def study_note(self, study_id: int) -> str:
        """The study's note, "" when it has none (or the store predates notes)."""
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store from before
            row = self.connection.execute(
                "SELECT text FROM study_notes WHERE study_id = ?", (study_id,)
            ).fetchone()
            return "" if row is None else str(row[0])
        return ""

    def trial_notes(self, study_id: int) -> dict[int, str]:
        """Trial number -> its note, for the trials that have one."""
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store from before
            rows = self.connection.execute(
                """SELECT t.number, n.text FROM trial_notes n JOIN trials t ON t.id = n.trial_id
                   WHERE t.study_id = ? ORDER BY t.number""",
                (study_id,),
            ).fetchall()
            return {int(row[0]): str(row[1]) for row in rows}
        return {}

    # Strategy snapshots ------------------------------------------------------------------

    def save_snapshot(self, study_id: int, trial_number: int, state: bytes) -> None:
        """Keep the strategy's state as it was when it proposed trial ``trial_number``."""
        self._write(
            "INSERT OR REPLACE INTO strategy_snapshots (study_id, trial_number, state) "
            "VALUES (?, ?, ?)",
            (study_id, trial_number, state),
        )

    def load_snapshot(self, study_id: int) -> tuple[int, bytes] | None:
        row = self.connection.execute(
            "SELECT trial_number, state FROM strategy_snapshots WHERE study_id = ?", (study_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def save_ask(
        self,
        study_id: int,
        trial_number: int,
        state: bytes,
        initial: bool,
        acquisition: str | None = None,
    ) -> None:
        """Keep what the strategy knew when it proposed trial ``trial_number``
        (``strategies.ask_record``), for the "Why this point?" view: whether it was an initial
        random point and which acquisition chose it are columns, readable without the blob."""
        self._write(
            "INSERT OR REPLACE INTO strategy_asks "
            "(study_id, trial_number, initial, acquisition, state) VALUES (?, ?, ?, ?, ?)",
            (study_id, trial_number, int(initial), acquisition, state),
        )

    def load_ask(self, study_id: int, trial_number: int) -> bytes | None:
        row = self.connection.execute(
            "SELECT state FROM strategy_asks WHERE study_id = ? AND trial_number = ?",
            (study_id, trial_number),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def asked_trials(self, study_id: int) -> list[int]:
        """The trial numbers with a recorded ask, in order."""
        return list(self.asks(study_id))

    def asks(self, study_id: int) -> dict[int, tuple[bool, str | None]]:
        """Trial number -> (initial random point?, acquisition that chose it), in order."""
        rows = self.connection.execute(
            "SELECT trial_number, initial, acquisition FROM strategy_asks WHERE study_id = ? "
            "ORDER BY trial_number",
            (study_id,),
        ).fetchall()
        return {int(row[0]): (bool(row[1]), row[2]) for row in rows}

    # Metrics -----------------------------------------------------------------------------

    def add_epoch_metrics(self, trial_id: int, epoch: int, metrics: dict[str, float]) -> None:
        rows = [(trial_id, epoch, name, _finite_or_none(value)) for name, value in metrics.items()]
        with self.transaction():
            self.connection.executemany(
                "INSERT OR REPLACE INTO epoch_metrics (trial_id, epoch, name, value) VALUES (?, "
                "?, ?, ?)",
                rows,
            )

    def add_batch_loss(self, trial_id: int, progress: float, loss: float) -> None:
        self.add_batch_losses(trial_id, [(progress, loss)])

    def add_batch_losses(self, trial_id: int, points: Sequence[tuple[float, float]]) -> None:
        """Store in-epoch (progress, training loss) points of a trial, in one transaction."""
        rows = [(trial_id, progress, _finite_or_none(loss)) for progress, loss in points]
        with self.transaction():
            self.connection.executemany(
                "INSERT INTO batch_losses (trial_id, progress, loss) VALUES (?, ?, ?)", rows
            )

    def epoch_metrics(
        self, study_id: int, finished: bool | None = None
    ) -> list[tuple[int, int, str, float | None]]:
        """(trial number, epoch, metric name, value) rows, ordered by trial and epoch.

        ``finished=True`` reads only finished trials (whose rows never change, so readers can
        cache them), ``False`` only queued and running ones, ``None`` all.
        """
        states = {
            True: "AND t.state NOT IN ('queued', 'running')",
            False: "AND t.state IN ('queued', 'running')",
            None: "",
        }
        return [
            tuple(row)
            for row in self.connection.execute(
                f"""SELECT t.number, m.epoch, m.name, m.value FROM epoch_metrics m
                   JOIN trials t ON t.id = m.trial_id
                   WHERE t.study_id = ? {states[finished]} ORDER BY t.number, m.epoch""",
                (study_id,),
            )
        ]

    def batch_losses(self, study_id: int, trial_number: int) -> list[tuple[float, float | None]]:
        return [
            tuple(row)
            for row in self.connection.execute(
                """SELECT b.progress, b.loss FROM batch_losses b JOIN trials t ON t.id = b.trial_id
                   WHERE t.study_id = ? AND t.number = ? ORDER BY b.progress""",
                (study_id, trial_number),
            )
        ]

    def fingerprint(self, study_id: int) -> tuple[Any, ...]:
        """Changes whenever the study, its trials or its metrics change; one cheap query.

        Readers key their caches on it, so an idle study is never re-read.
        """
        row = self.connection.execute(
            """SELECT s.updated_at, s.status,
                      (SELECT count(*) FROM trials t WHERE t.study_id = s.id),
                      (SELECT count(*) FROM trials t
                        WHERE t.study_id = s.id AND t.state NOT IN ('queued', 'running')),
                      (SELECT max(m.rowid) FROM epoch_metrics m
                        JOIN trials t ON t.id = m.trial_id WHERE t.study_id = s.id),
                      (SELECT max(b.rowid) FROM batch_losses b
                        JOIN trials t ON t.id = b.trial_id WHERE t.study_id = s.id)
               FROM studies s WHERE s.id = ?""",
            (study_id,),
        ).fetchone()
        return tuple(row) if row else ()

    def studies_fingerprint(self, names: list[str]) -> tuple[Any, ...]:
        """Changes whenever one of the named studies is created or updated, or one of their
        trials finishes (or a second one starts): one cheap query for a race's cache key."""
        marks = ",".join("?" * len(names))
        row = self.connection.execute(
            f"""SELECT count(*), max(t.finished_at), max(s.updated_at)
                  FROM studies s LEFT JOIN trials t ON t.study_id = s.id
                 WHERE s.name IN ({marks})""",
            names,
        ).fetchone()
        return tuple(row)

    # Races -------------------------------------------------------------------------------
    # A race's rows: its spec (as JSON), status and stop flag, and its member studies in
    # order. engine/race.py gives them meaning; a store that never ran a race has no tables.

    def ensure_race_tables(self) -> None:
        """Make the race tables if this store has none yet."""
        tables = self.connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('races', 'race_studies')"
        ).fetchone()[0]
        if tables == 2:  # nothing to make (and a script would commit the caller's transaction)
            return
        self._check_writable()
        self.connection.executescript(_RACE_SCHEMA)

    def _has_race_tables(self) -> bool:
        return bool(
            self.connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'races'").fetchone()
        )

    def race_row(self, name: str) -> dict[str, Any] | None:
        """The race called ``name`` as its stored columns, or None (no race tables yet, too)."""
        if not self._has_race_tables():
            return None
        row = self.connection.execute("SELECT * FROM races WHERE name = ?", (name,)).fetchone()
        return None if row is None else dict(row)

    def race_rows(self) -> list[dict[str, Any]]:
        """Every race as its stored columns, oldest first."""
        if not self._has_race_tables():
            return []
        rows = self.connection.execute("SELECT * FROM races ORDER BY created_at, id").fetchall()
        return [dict(row) for row in rows]

    def race_members(self, race_id: int) -> list[tuple[int, str, str, int]]:
        """(position, study name, label, seed) of each member study of the race, in order."""
        rows = self.connection.execute(
            "SELECT * FROM race_studies WHERE race_id = ? ORDER BY position", (race_id,)
        ).fetchall()
        return [(r["position"], r["study_name"], r["label"], r["seed"]) for r in rows]

    def create_race(self, name: str, spec_json: str, members: list[tuple[str, str, int]]) -> int:
        """Store a new race (status created) and its members, (study name, label, seed) in
        order, in one transaction; returns the race's id."""
        now = time.time()
        with self.transaction():
            cursor = self._write(
                "INSERT INTO races (name, spec, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, spec_json, StudyStatus.CREATED.value, now, now),
            )
            race_id = int(cursor.lastrowid)
            for position, (study_name, label, seed) in enumerate(members):
                self._write(
                    "INSERT INTO race_studies (race_id, position, study_name, label, seed) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (race_id, position, study_name, label, seed),
                )
        return race_id

    def set_race_status(
        self, race_id: int, status: StudyStatus, worker_pid: int | None, message: str | None
    ) -> None:
        self._write(
            "UPDATE races SET status = ?, worker_pid = ?, message = ?, updated_at = ? WHERE id = ?",
            (status.value, worker_pid, message, time.time(), race_id),
        )

    def set_race_stop(self, race_id: int, requested: bool) -> None:
        """Ask the race's worker to stop (``True``), or clear that request."""
        self._write("UPDATE races SET stop_requested = ? WHERE id = ?", (int(requested), race_id))

    def race_stop_requested(self, race_id: int) -> bool:
        row = self.connection.execute(
            "SELECT stop_requested FROM races WHERE id = ?", (race_id,)
        ).fetchone()
        return bool(row and row[0])

    def delete_race(self, name: str) -> None:
        """Remove the race called ``name`` and its member list (not its studies)."""
        self.ensure_race_tables()
        with self.transaction():
            self._write(
                "DELETE FROM race_studies WHERE race_id IN (SELECT id FROM races WHERE name = ?)",
                (name,),
            )
            self._write("DELETE FROM races WHERE name = ?", (name,))
