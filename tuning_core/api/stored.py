"""The reading side of a :class:`~tuning_core.api.study.Study` handle: where the study lives
(a store file, or a memory store the handle keeps), its store for one call, its artifacts'
folder, and what the store holds of it (status, the best trial, the Pareto front, the trials
as a DataFrame). It holds no results of its own: every read asks the store.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.records import best_trial, front_trials, study_best
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import MEMORY, Store, StudyRecord, TrialRecord, artifacts_dir

if TYPE_CHECKING:  # pandas loads only when trials_dataframe is called
    import pandas as pd


class StoredStudy:
    """A handle on one study in a store, for reading it; :class:`Study` adds running it."""

    def __init__(self, name: str, storage: str, options: dict[str, Any]) -> None:
        self.name = name
        self.storage = storage
        # Everything of the spec but the objective, which optimize adds: space, strategy,
        # pruner, budget, parallel, and the metric and direction when the user set them.
        self._options = options
        # A memory store lives as long as its one connection, so the handle keeps it (and a
        # temporary folder for its artifacts); a file store is opened anew for each call.
        self._memory: Store | None = None
        self._memory_artifacts: tempfile.TemporaryDirectory[str] | None = None

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, storage={self.storage!r})"

    @contextlib.contextmanager
    def _store(self, create: bool = True) -> Iterator[Store]:
        """The study's store for one call: the file, opened and closed around it, or the
        handle's own memory store (``storage=":memory:"``), which stays open."""
        if self.storage == MEMORY:
            if self._memory is None:
                self._memory = Store(MEMORY)
            yield self._memory
            return
        with Store(self.storage, create=create) as store:
            yield store

    def _artifacts(self) -> Path:
        """Where the study's files go: beside the store, or for a memory store a temporary
        folder that goes with the handle."""
        if self.storage != MEMORY:
            return artifacts_dir(self.storage, self.name)
        if self._memory_artifacts is None:
            self._memory_artifacts = tempfile.TemporaryDirectory(prefix="tuning_lab-memory-")
        return Path(self._memory_artifacts.name) / self.name

    # Reading --------------------------------------------------------------------------------

    def _read(self) -> tuple[StudyRecord | None, list[TrialRecord]]:
        if self.storage != MEMORY and not Path(self.storage).exists():
            return None, []
        with self._store(create=False) as store:
            record = store.get_study(self.name)
            return record, store.trials(record.id) if record else []

    def _best(self) -> TrialRecord:
        record, trials = self._read()
        best = study_best(trials, record.spec) if record else None
        if best is None:
            raise SpecError(
                f"the study {self.name!r} has no complete trial yet; run study.optimize first."
            )
        return best

    @property
    def status(self) -> StudyStatus | None:
        """The stored study's status, or None before it first runs."""
        record, _ = self._read()
        return record.status if record else None

    @property
    def best_params(self) -> dict[str, Any]:
        """The best complete trial's values (fixed ones included), as a plain dict."""
        return dict(self._best().params)

    @property
    def best_value(self) -> float:
        """The best complete trial's value of the study's (first) metric."""
        return float(self._best().value)  # type: ignore[arg-type]

    @property
    def best_values(self) -> dict[str, float]:
        """Every metric of the best trial (the one ``best_params`` names: the best on the
        first metric, always on the front), by name; for a trial that stored none (an older
        store), the first metric's value alone."""
        best = self._best()
        return dict(best.values) or {self._metric_names()[0]: float(best.value)}  # type: ignore[arg-type]

    @property
    def best_trials(self) -> list[dict[str, Any]]:
        """The Pareto front: the complete trials that no other complete trial beats on every
        metric, by number, each a dict of ``number``, ``params``, ``value`` (the first
        metric's) and ``values`` (every metric by name). With one metric, the best trial
        alone. Pick another point than ``best_params``' by its number (``export --trial N``)."""
        record, trials = self._read()
        if record is None:
            return []
        spec = record.spec
        chosen = front_trials(trials, spec.metrics) if spec.multi_metric else []
        if not spec.multi_metric:
            best = best_trial(trials, spec.direction)
            chosen = [best] if best is not None else []
        return [
            {
                "number": trial.number,
                "params": dict(trial.params),
                "value": trial.value,
                "values": dict(trial.values) or {spec.metric: trial.value},
            }
            for trial in chosen
        ]

    def _metric_names(self) -> list[str]:
        record, _ = self._read()
        return [goal.name for goal in record.spec.metrics] if record else []

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial, as the dashboard and ``export --format csv`` show them: number,
        state, value, duration_s, note, error, then one column per hyperparameter, then
        ``values``: every metric the trial measured, a dict by name (empty when none was
        stored)."""
        from tuning_core.reports.frames import trials_frame  # noqa: PLC0415 - loads pandas

        record, trials = self._read()
        if record is None:
            raise SpecError(f"the study {self.name!r} has not run yet; run study.optimize first.")
        frame = trials_frame(trials, record.spec)
        by_number = {trial.number: dict(trial.values) for trial in trials}
        frame["values"] = [by_number.get(number, {}) for number in frame["number"]]
        return frame
