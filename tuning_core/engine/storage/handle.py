"""The open handle every part of the store builds on: opening the file (its checks, its
schema), whether it can take a write, and the two ways to write (one statement, committed at
once, or a transaction)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from tuning_core.engine.errors import SpecError, StoreError, StoreGoneError, brief
from tuning_core.engine.storage.opening import (
    MEMORY,
    check_store_path,
    connect,
    file_identity,
    read_only_folder,
    reason,
    retry_while_locked,
)
from tuning_core.engine.storage.schema import foreign_schema_object, upgrade_older_store


class StoreHandle:
    """A connection to one store file, opened as :class:`~tuning_core.engine.storage.Store`
    describes; the topic classes (studies, trials, metrics, ...) add the named methods."""

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
            check_store_path(location, create)
            if not location.exists():
                location.parent.mkdir(parents=True, exist_ok=True)
            self.read_only = read_only_folder(location)
            if self.read_only and not location.exists():
                raise StoreError(
                    f"--storage: the folder of {brief(self.path)} cannot be written, so no store "
                    "can be made there; name a file in a writable folder."
                )
        try:
            self.connection = connect(self.path, self.read_only, busy_timeout_s)
            self._check_schema()
            if not self.read_only:
                retry_while_locked(self._set_up)
            self.connection.execute("SELECT id, name, spec, status FROM studies LIMIT 0")
        except sqlite3.DatabaseError as error:
            with contextlib.suppress(AttributeError):
                self.connection.close()
            raise SpecError(
                f"--storage: {brief(self.path)} is not a Tuning Lab store ({reason(error)}); "
                "name another file."
            ) from None
        except StoreError:
            self.connection.close()
            raise
        if not self.in_memory and not self.read_only:
            self._identity = file_identity(self.path)

    def _check_schema(self) -> None:
        rows = self.connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        foreign = foreign_schema_object([tuple(row) for row in rows])
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
        upgrade_older_store(self.connection)

    def _check_writable(self) -> None:
        """Raise the sentence that says why this store cannot take a write, if it cannot."""
        if self.read_only:
            raise StoreError(
                f"--storage: {brief(self.path)} is read-only (its folder or the file cannot be "
                "written), so it can be read but not changed; copy it to a writable folder "
                "first."
            )
        if self._identity is not None and file_identity(self.path) != self._identity:
            raise StoreGoneError(
                f"--storage: {brief(self.path)} was deleted or replaced while this process "
                "wrote to it, so nothing more would be kept; the run stops (restore the file, "
                "or run the study again)."
            )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Self:
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
        retry_while_locked(lambda: self.connection.execute("BEGIN IMMEDIATE"))
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
        return retry_while_locked(lambda: self.connection.execute(sql, parameters))
