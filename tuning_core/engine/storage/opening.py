"""Opening a store file, which is untrusted input: where the store is (the default path,
the artifacts beside it), the checks made before anything is written there, the connection
whose every statement is bounded in time, and the retry of a write that found it locked."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tuning_core.engine.errors import SpecError, brief

DEFAULT_STORAGE_FILE = "tuning_lab.db"
STORAGE_ENV = "TUNING_LAB_STORAGE"
# SQLite's own name for a private in-memory database: Store(MEMORY) is a throwaway store that
# lives as long as its one connection (no file, so no WAL, read-only mount or file identity).
MEMORY = ":memory:"


def default_storage_path() -> str:
    """The store the CLI and dashboard share: $TUNING_LAB_STORAGE, else ./tuning_lab.db."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE_FILE


def artifacts_dir(storage_path: str | os.PathLike[str], study_name: str) -> Path:
    """Files kept beside the store for one study (the best trial's .keras model, logs)."""
    return Path(f"{storage_path}.artifacts") / study_name


def check_store_path(path: Path, create: bool) -> None:
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


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def reason(error: sqlite3.DatabaseError) -> str:
    """SQLite's words for why a store could not be read; "interrupted" means our time bound."""
    if "interrupted" in str(error):
        return f"a query ran past {QUERY_LIMIT_S:g} s and was stopped"
    return str(error)


def retry_while_locked(operation: Callable[[], _Result]) -> _Result:
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


# A store is untrusted input (a file mailed with a course): no statement may run longer than
# this, so a crafted or damaged file cannot hang a command or a page. The longest honest read,
# every epoch row of 10,000 trials x 30 epochs, takes about a second here.
QUERY_LIMIT_S = 15.0
# SQLite calls the progress handler every this many virtual-machine steps (~1 ms of work).
_PROGRESS_STEPS = 20_000


class BoundedConnection(sqlite3.Connection):
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


def read_only_folder(path: Path) -> bool:
    """Whether the store at ``path`` must be opened read-only: its folder or the file cannot
    be written (a read-only mount, a shared course drive), so WAL's side files cannot be made."""
    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(folder, os.W_OK):
        return True
    return path.exists() and not os.access(path, os.W_OK)


def connect(path: str, read_only: bool, busy_timeout_s: float) -> sqlite3.Connection:
    """A bounded connection: read-write, or read-only (immutable when even the WAL's side
    files are missing, as on a read-only mount where nothing can be writing)."""
    options: dict[str, Any] = {
        "timeout": busy_timeout_s,
        # Autocommit: each write is visible to readers at once; multi-row writes use
        # `with store.transaction()`.
        "isolation_level": None,
        "check_same_thread": False,
        "factory": BoundedConnection,
    }
    if not read_only:
        connection = sqlite3.connect(path, **options)
    else:
        uri = Path(path).resolve().as_uri()
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
