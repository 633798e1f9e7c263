"""The SQLite store, one class: its open handle (handle.py) and the named methods of each
topic, one module each (studies, trials, metrics, strategy state, notes, races)."""

from __future__ import annotations

from tuning_core.engine.storage.metrics import MetricMethods
from tuning_core.engine.storage.notes import NoteMethods
from tuning_core.engine.storage.races import RaceMethods
from tuning_core.engine.storage.strategy_state import StrategyStateMethods
from tuning_core.engine.storage.studies import StudyMethods
from tuning_core.engine.storage.trials import TrialMethods


class Store(
    StudyMethods, TrialMethods, MetricMethods, StrategyStateMethods, NoteMethods, RaceMethods
):
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
