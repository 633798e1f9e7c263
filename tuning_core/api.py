"""The public Python API: tune your own function or Keras model, watch it on the dashboard.

    study = tuning_core.create_study("my-study", storage="tuning_lab.db", space={...})
    study.optimize(objective)            # objective(trial) -> number
    study.optimize_keras(build_model, x, y, epochs=10)
    study.optimize_table(frame, target="label")   # the built-in MLP for tables
    study.best_params, study.best_value, study.trials_dataframe()
    study.best_trials, study.best_values   # several metrics: the Pareto front

A :class:`Study` is a handle on a study in the SQLite store, the same file the dashboard
reads; it holds no results of its own. ``optimize`` builds the study spec (the JSON the CLI
runs) from the handle's options and the objective, and calls the engine's ``run_study`` in
this process, so a study run here shows live on the Live page, can be stopped from the
dashboard or ``python -m tuning_core stop``, and resumes when ``optimize`` is called again.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuning_core.engine.audit import AuditReport, audit_study
from tuning_core.engine.errors import DatasetError, ObjectiveError, SpecError, brief
from tuning_core.engine.objectives import Objective
from tuning_core.engine.records import best_trial, front_trials, study_best
from tuning_core.engine.spec import MAX_TRIALS, StudySpec, parse_spec
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import (
    MEMORY,
    Store,
    StudyRecord,
    TrialRecord,
    artifacts_dir,
    default_storage_path,
)
from tuning_core.engine.study import StudyRun, run_study
from tuning_core.engine.user_objectives import (
    Trial,
    TrialPruned,
    plain_objective,
    target_of,
)

if TYPE_CHECKING:  # pandas loads only when trials_dataframe is called
    import pandas as pd

__all__ = [
    "ObjectiveError",
    "Study",
    "Trial",
    "TrialPruned",
    "create_study",
    "load_study",
]

StrategyOption = str | Mapping[str, Any]


def _typed(value: StrategyOption | None, field: str) -> dict[str, Any] | None:
    """``"random"`` means ``{"type": "random"}``; a dict is taken as the spec writes it."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise SpecError(
        f"{field} must be a type name such as {'random' if field == 'strategy' else 'median'} "
        f"or a dict as a spec file writes it, not {brief(value)}."
    )


def _range(name: str, value: tuple[Any, ...]) -> dict[str, Any]:
    """``(low, high)`` or ``(low, high, "log")`` as the spec's range: int when both bounds
    are ints, else float."""
    bounds = value[:2]
    log = len(value) == 3 and value[2] == "log"
    numbers = all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    if len(value) not in (2, 3) or (len(value) == 3 and not log) or not numbers:
        raise SpecError(
            f'space.{name} must be (low, high) or (low, high, "log") as a tuple, a list of '
            f"choices, a fixed value or a spec range dict, not {brief(value)}."
        )
    whole = all(isinstance(b, int) for b in bounds)
    return {"type": "int" if whole else "float", "low": bounds[0], "high": bounds[1], "log": log}


def _space(space: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's ``space`` from the API's: a spec dict as is, plus two short forms, a tuple
    for a range and a list for a choice (what the store keeps is always the spec's form)."""
    if not isinstance(space, Mapping):
        return space  # parse_spec says what a space must be
    out: dict[str, Any] = {}
    for name, value in space.items():
        if isinstance(value, tuple):
            out[name] = _range(name, value)
        elif isinstance(value, list):
            out[name] = {"type": "choice", "values": value}
        else:
            out[name] = value
    return out


def _budget(value: int | Mapping[str, Any]) -> dict[str, Any]:
    """An int is the trial budget; a dict is the spec's ``budget`` (trials, seconds, epochs)."""
    if isinstance(value, Mapping):
        return dict(value)
    return {"trials": value}


class Study:
    """A handle on one study in a store; see :func:`create_study` and :func:`load_study`."""

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

    # The spec -----------------------------------------------------------------------------

    def _spec(self, objective: dict[str, Any], n_trials: int | None) -> StudySpec:
        """The study spec for ``objective``: validated as a spec file is, in one sentence."""
        options = dict(self._options)
        budget = dict(options.pop("budget"))
        if n_trials is not None:
            if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
                raise SpecError(
                    f"n_trials must be a whole number from 1 up, not {brief(n_trials)}."
                )
            # n_trials more trials than the study holds: the trial budget grows to fit them.
            budget["trials"] = min(self._trials_done() + n_trials, MAX_TRIALS)
        options.pop("stored_epochs", None)
        for key in ("metric", "direction", "metrics"):
            if options.get(key) is not None:
                objective.setdefault(key, options[key])
            options.pop(key, None)
        raw = {"name": self.name, "objective": objective, "budget": budget, **options}
        if raw.get("pruner") is None:
            raw.pop("pruner", None)
        return parse_spec(raw)

    def _trials_done(self) -> int:
        record, trials = self._read()
        return sum(t.state.counts_against_budget() for t in trials) if record else 0

    def _epochs(self, epochs: int | None) -> int | None:
        """The most epochs a trial reports: given, else the stored study's, else what the
        pruner's max_epochs says."""
        if epochs is not None:
            return epochs
        stored = self._options.get("stored_epochs")
        if stored is not None:
            return stored
        pruner = self._options.get("pruner") or {}
        return pruner.get("max_epochs")

    # Running --------------------------------------------------------------------------------

    def optimize(
        self,
        objective: Callable[[Trial], float],
        n_trials: int | None = None,
        *,
        epochs: int | None = None,
        show_progress: bool = True,
    ) -> None:
        """Run ``objective(trial) -> number`` until the budget is spent, the study is stopped,
        or Ctrl-C; blocks, printing a progress line per trial. Calling it again resumes.

        ``trial.params`` holds the trial's values; ``trial.report(epoch, metrics)`` records an
        epoch (epochs count from 0); ``trial.should_prune()`` says when to raise
        ``TrialPruned``. ``n_trials`` runs that many more trials (else up to the budget).
        ``epochs`` is the most epochs a trial reports: a pruner needs it (2 or more).
        """
        if not callable(objective):
            raise SpecError(
                f"objective must be a function objective(trial), not {brief(objective)}."
            )
        pruner = _typed(self._options.get("pruner"), "pruner")
        epochs = self._epochs(epochs)
        if pruner and pruner.get("type", "none") != "none" and epochs is None:
            raise SpecError(
                "epochs: a pruner stops trials between epochs, so optimize needs epochs=N, the "
                "most epochs a trial reports with trial.report (2 or more)."
            )
        fields: dict[str, Any] = {"type": "python", "target": target_of(objective)}
        if epochs is not None:
            fields["epochs"] = epochs
        spec = self._spec(fields, n_trials)
        if spec.parallel > 1:
            factory = functools.partial(shipped_objective, objective)
            self._run_on_dask(spec, factory, show_progress)
        else:
            self._run(spec, plain_objective(objective, spec.metric), show_progress)

    def optimize_keras(
        self,
        build_model: Callable[[Mapping[str, Any]], Any],
        x: Any,
        y: Any,
        *,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        n_trials: int | None = None,
        show_progress: bool = True,
    ) -> None:
        """Tune a Keras ``build_model(hp)`` that returns a compiled model: each trial fits it on
        ``x, y`` with Tuning Lab's callbacks (live curves, pruning, divergence, stop, the best
        epoch's model in ``<store>.artifacts/<study>/best.keras``), as ``model.fit`` would with
        these settings. ``hp`` is a read-only mapping of the trial's values. Validation is
        ``validation_data``, else the last ``validation_split`` (0.2) of ``x``, as in Keras.
        The study's metric is ``val_accuracy`` (maximized) unless create_study set another.
        """
        if validation_data is not None and validation_split is not None:
            raise SpecError("validation_split: give validation_data or validation_split, not both.")
        fields: dict[str, Any] = {
            "type": "python",
            "target": target_of(build_model),
            "form": "build_model",
            "epochs": epochs,
            "batch_size": batch_size,
            "validation_split": None if validation_data is not None else validation_split or 0.2,
        }
        spec = self._spec(fields, n_trials)
        if spec.parallel > 1:
            self._fit_on_dask(spec, build_model, x, y, validation_data, show_progress)
            return
        # Keras (and TensorFlow, seconds to import) load only for a Keras objective.
        from tuning_core.training.user_model import BuildModelObjective  # noqa: PLC0415

        keras_objective = BuildModelObjective(spec, build_model, x, y, validation_data)
        self._run(spec, keras_objective, show_progress)

    def optimize_table(
        self,
        data: Any,
        target: Any,
        *,
        task: str | None = None,
        impute: bool = False,
        test_split: float | None = None,
        epochs: int = 10,
        validation_split: float = 0.2,
        n_trials: int | None = None,
        show_progress: bool = True,
    ) -> None:
        """Tune the built-in MLP for tables on ``data``: a pandas DataFrame with ``target`` the
        name of the column to predict, or 2-D features ``x`` with ``target`` their ``y``.

        As ``run`` does for a CSV: the task is inferred (``task`` overrides it: classification
        or regression), the preparation (standardising, one-hot) is fitted on the training
        split only and listed in the study's summary, and a column it cannot use is refused in
        one sentence (``impute=True`` fills missing values). The data is saved beside the
        store (``<store>.artifacts/<study>/data-<hash>.csv`` or ``.npz``), so resume, export,
        the dashboard and Dask workers read the same rows. The space holds the built-in
        hyperparameters (learning_rate, units, hidden_layers, dropout, ...); the metric is the
        task's (val_accuracy, or val_mae for regression) unless create_study set another.
        """
        # Reads and prepares the table without Keras: bad data is a sentence, nothing stored.
        from tuning_core.training.data_files import save_table  # noqa: PLC0415
        from tuning_core.training.tables import complete_table_spec  # noqa: PLC0415

        path, column = save_table(data, target, self._artifacts())
        fields: dict[str, Any] = {
            "type": "keras",
            "dataset": str(path),
            "model": "mlp",
            "target": column,
            "epochs": epochs,
            "validation_split": validation_split,
            "impute": impute,
        }
        if task is not None:
            fields["task"] = task
        if test_split is not None:
            fields["test_split"] = test_split
        chosen = ("metric", "direction", "metrics")
        given = {key: self._options[key] for key in chosen if self._options.get(key)}
        try:
            spec = complete_table_spec(self._spec(dict(fields), n_trials), {**fields, **given})
        except (DatasetError, SpecError) as error:  # the sentence, without the reader's frames
            if self._read()[0] is None:  # no stored study names the file: leave nothing behind
                path.unlink(missing_ok=True)
            raise SpecError(str(error)).with_traceback(None) from None
        # The worker's objective, built from the spec as run builds it (Keras loads here).
        from tuning_core.training.factory import objective_for  # noqa: PLC0415
        from tuning_core.training.held_out import report_held_out  # noqa: PLC0415

        if spec.parallel > 1:
            self._run_on_dask(spec, objective_for, show_progress)
        else:
            self._run(spec, objective_for(spec), show_progress)
        with self._store() as store:  # the test split, scored once for the best trial
            report_held_out(spec, store, _Progress(show_progress))

    def _run_on_dask(
        self,
        spec: StudySpec,
        factory: Callable[[StudySpec], Objective],
        show_progress: bool,
    ) -> None:
        """``parallel`` trials at once as Dask tasks on a LocalCluster of that many worker
        processes; this process stays the store's only writer, and applies the
        first-trials-all-fail rule itself, as the CLI's driver does.

        ``factory`` builds the objective on each worker from the spec. A user's function
        travels to the workers in it as Dask pickles it (cloudpickle): one from an importable
        module is imported there by name, so the module must be on the workers' path; one
        defined in a notebook or a script run directly (``__main__``), a lambda or a nested
        function is shipped by value.
        """
        # Dask loads only here: a study with parallel 1 never imports it.
        from tuning_core.engine import parallel  # noqa: PLC0415

        def run(store: Store, progress: Callable[[str], None]) -> StudyRun:
            return parallel.run_parallel_study(spec, store, factory, log=progress)

        self._run(spec, None, show_progress, run)

    def _fit_on_dask(
        self,
        spec: StudySpec,
        build_model: Callable[[Mapping[str, Any]], Any],
        x: Any,
        y: Any,
        validation_data: tuple[Any, Any] | None,
        show_progress: bool,
    ) -> None:
        """``parallel`` build_model trials at once on a LocalCluster. ``build_model`` travels as
        :meth:`_run_on_dask` says a function does; the arrays do not travel with each task:
        they are saved once beside the store (``data-<hash>.npz``) and each worker process
        loads them at its first trial. Keras loads in the workers only."""
        from tuning_core.training.data_files import save_arrays  # noqa: PLC0415
        from tuning_core.training.user_model import shipped_build_model  # noqa: PLC0415

        arrays = {"x": x, "y": y}
        if validation_data is not None:
            arrays.update(x_val=validation_data[0], y_val=validation_data[1])
        data_file = save_arrays(self._artifacts(), arrays)
        factory = functools.partial(shipped_build_model, build_model, str(data_file))
        self._run_on_dask(spec, factory, show_progress)

    def _run(
        self,
        spec: StudySpec,
        objective: Any,
        show_progress: bool,
        runner: Callable[[Store, Callable[[str], None]], StudyRun] | None = None,
    ) -> None:
        progress = _Progress(show_progress)
        with self._store() as store:
            if hasattr(objective, "best_model_path"):
                _keep_best_model(objective, store, spec, self._artifacts())
            try:
                if runner is not None:
                    outcome = runner(store, progress)
                else:
                    outcome = run_study(spec, store, objective, log=progress)
            except KeyboardInterrupt:
                # The engine marked the trial interrupted and the study stopped; a new call
                # retries that trial first.
                progress(f"study {spec.name}: stopped (interrupted); call optimize again to resume")
                return
            except SpecError as error:  # ObjectiveError and the store's errors included
                # The sentence is the message; the engine's frames would only hide it.
                raise error.with_traceback(None) from None
        progress(f"study {spec.name}: {outcome.status.value} ({outcome.message})")

    def audit(self, sample: int, *, choose: str = "random", seed: int | None = None) -> AuditReport:
        """Would it have won? Train ``sample`` of this pruned study's pruned trials to the end,
        as new trials of the study ``NAME.audit`` (the study itself is not changed), and return
        the report: ``report.sentence()`` is the false-prune rate with its 95% interval, as
        ``python -m tuning_core audit`` prints it. ``choose`` is random or promising."""
        # Keras loads only for a Keras study's objective.
        from tuning_core.training.factory import objective_for  # noqa: PLC0415

        with self._store(create=False) as store:
            return audit_study(
                store, self.name, sample, objective_for, choose, seed, _Progress(True)
            )

    def stop(self) -> None:
        """Ask the process running this study to stop after its current epoch (as the
        dashboard's Stop button does)."""
        with self._store() as store:
            store.request_stop(self.name)

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


def shipped_objective(function: Callable[[Trial], float], spec: StudySpec) -> Objective:
    """The objective a Dask worker builds for ``function`` (the parallel factory's shape).

    A value that is not a number fails the trial there (an exception escaping a task reads as
    a broken worker); the Dask driver stops the study when that, or any error, repeats.
    """
    return plain_objective(function, spec.metric, stop_on_bad_value=False)


class _Progress:
    """Prints the engine's line for each trial behind a bar of the trial budget."""

    WIDTH = 20

    def __init__(self, show: bool) -> None:
        self.show = show

    def __call__(self, line: str) -> None:
        if not self.show:
            return
        done, _, rest = line.partition("] ")
        count = done.rpartition("[")[2]
        if rest and "/" in count and all(part.isdigit() for part in count.split("/")):
            finished, budget = (int(part) for part in count.split("/"))
            filled = self.WIDTH * min(finished, budget) // max(budget, 1)
            line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {line}"
        print(line, file=sys.stdout, flush=True)


def _keep_best_model(objective: Any, store: Store, spec: StudySpec, folder: Path) -> None:
    """Have a Keras objective keep a trial's best-epoch model whenever it beats the stored best
    (as ``run`` does for the built-in models)."""
    study = store.get_study(spec.name)
    best = best_trial(store.trials(study.id), spec.direction) if study else None
    objective.best_model_path = folder / "best.keras"
    saved = objective.best_model_path.is_file()
    objective.best_value = best.value if best is not None and saved else None


def _metrics(metrics: Sequence[str | Mapping[str, Any]] | None) -> list[Any] | None:
    """The spec's ``metrics`` list from the API's: a name stands for ``{"name": name}`` (its
    natural direction); anything else is handed to the spec's parser, which names what is
    wrong."""
    if metrics is None:
        return None
    if isinstance(metrics, (str, Mapping)) or not isinstance(metrics, Sequence):
        return metrics  # type: ignore[return-value]  # parse_spec says what metrics must be
    return [{"name": item} if isinstance(item, str) else item for item in metrics]


def create_study(
    name: str,
    *,
    space: Mapping[str, Any],
    storage: str | Path | None = None,
    strategy: StrategyOption = "random",
    pruner: StrategyOption | None = None,
    budget: int | Mapping[str, Any] = 20,
    parallel: int = 1,
    metric: str | None = None,
    direction: str | None = None,
    metrics: Sequence[str | Mapping[str, Any]] | None = None,
) -> Study:
    """A study handle for ``name`` in ``storage`` (default: $TUNING_LAB_STORAGE, else
    ./tuning_lab.db, the store the dashboard reads).

    ``space`` maps your own names to a range ``(low, high)`` (ints give an int range) or
    ``(low, high, "log")``, a list of choices, a fixed value, or a spec file's range dict
    (``{"type": "float", "low": …, "high": …, "log": …}``); ``strategy`` is ``"grid"``,
    ``"random"``, ``"bayesian"`` or a spec's strategy dict; ``pruner`` ``"median"``,
    ``"successive_halving"``, ``"hyperband"`` or a dict; ``budget`` a trial count or a spec's
    budget dict. ``metric`` names what the objective returns (default ``value``, minimized;
    ``val_accuracy``, maximized, for ``optimize_keras``). ``metrics`` optimises several
    instead: a list of names (each in its natural direction: accuracies and AUCs maximized)
    or of ``{"name": …, "direction": …}`` dicts; the objective then returns a dict of
    metrics, and ``best_trials`` is the Pareto front. The study is stored when
    ``optimize`` first runs; a study of this name already there is resumed by it (an
    objective, space or strategy that differs from a study with results is refused).
    """
    options: dict[str, Any] = {
        "space": _space(space),
        "strategy": _typed(strategy, "strategy"),
        "pruner": _typed(pruner, "pruner"),
        "budget": _budget(budget),
        "parallel": parallel,
        "metric": metric,
        "direction": direction,
        "metrics": _metrics(metrics),
    }
    study = Study(name, str(storage or default_storage_path()), options)
    # Validate now, so a bad option is one sentence here rather than at optimize.
    probe: dict[str, Any] = {"type": "python", "target": "check:objective"}
    pruned = options["pruner"] and options["pruner"].get("type", "none") != "none"
    if pruned:
        probe["epochs"] = int((options["pruner"] or {}).get("max_epochs") or 1000)
    study._spec(probe, None)
    return study


def load_study(name: str, *, storage: str | Path | None = None) -> Study:
    """A handle on the stored study ``name``: read its results, or optimize it again (with the
    same objective) to resume it."""
    path = str(storage or default_storage_path())
    with Store(path, create=False) as store:
        record = store.get_study(name)
        names = ", ".join(study.name for study in store.studies()) or "none yet"
    if record is None:
        raise SpecError(
            f"name: there is no study called {brief(name)} in {path} (studies: {names})."
        )
    spec = record.spec.to_json()
    objective = spec["objective"]
    options = {
        "space": spec["space"],
        "strategy": spec["strategy"],
        "pruner": spec["pruner"],
        "budget": spec["budget"],
        "parallel": spec.get("parallel", 1),
        "metric": objective.get("metric"),
        "direction": objective.get("direction"),
        "metrics": objective.get("metrics"),
        "stored_epochs": objective.get("epochs"),
    }
    return Study(name, path, options)
