"""SQLite store: studies, trials, per-epoch metrics and races; the single source of truth,
and the only package that speaks SQL (store_protocol.StudyStore names what others may call).

The worker is the only writer of its study; the dashboard and CLI read. WAL mode lets readers
run while a worker writes, and every write commits at once so readers see live progress.
A trigger makes finished trials immutable, whatever code path tries to change them.

One module per idea:

- ``opening.py``: where a store is (the default path, artifacts beside it), the checks on an
  untrusted file, the time-bounded connection and the retry of a locked write;
- ``schema.py``: the DDL and triggers, the check against objects we did not write, and the
  upgrade of a store made by an older version;
- ``records.py``: what the store hands back (StudyRecord, TrialRecord, TrialWorker);
- ``handle.py``: StoreHandle, an open store (its checks, ``transaction``, ``_write``);
- ``studies.py``, ``trials.py``, ``metrics.py``, ``strategy_state.py``, ``notes.py`` and
  ``races.py``: the named methods of each topic, each a StoreHandle subclass;
- ``store.py``: ``Store``, the one class assembled from them.

``Store`` stays one class, as callers and ``StudyStore`` see it: a mixin per topic keeps each
table's SQL beside its reader's contract without passing a connection around. This package
re-exports the names callers import, so ``tuning_core.engine.storage`` stays the one import
path.
"""

from __future__ import annotations

from tuning_core.engine.storage.notes import NOTE_MAX_CHARS
from tuning_core.engine.storage.opening import (
    DEFAULT_STORAGE_FILE,
    MEMORY,
    STORAGE_ENV,
    artifacts_dir,
    default_storage_path,
)
from tuning_core.engine.storage.records import StudyRecord, TrialRecord, TrialWorker
from tuning_core.engine.storage.store import Store

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "MEMORY",
    "NOTE_MAX_CHARS",
    "STORAGE_ENV",
    "Store",
    "StudyRecord",
    "TrialRecord",
    "TrialWorker",
    "artifacts_dir",
    "default_storage_path",
]
