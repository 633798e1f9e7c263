"""The :class:`Study` handle's running side: the study spec built from the handle's options
and an objective, and ``optimize`` (a plain function), ``optimize_keras`` (a user's
``build_model(hp)``) and ``optimize_table`` (the built-in MLP on a table), each run by the
engine in this process or, with ``parallel`` above 1, as Dask tasks; ``audit`` and ``stop``.
Reading what the study holds is :class:`~tuning_core.api.stored.StoredStudy`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from tuning_core.api.options import _typed
from tuning_core.api.running import _keep_best_model, _Progress, shipped_objective
from tuning_core.api.stored import StoredStudy
from tuning_core.engine.audit import AuditReport, audit_study
from tuning_core.engine.errors import DatasetError, SpecError, brief
from tuning_core.engine.objectives import Objective
from tuning_core.engine.spec import MAX_TRIALS, StudySpec, parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.study import StudyRun, run_study
from tuning_core.engine.user_objectives import Trial, plain_objective, target_of


class Study(StoredStudy):
    """A handle on one study in a store; see :func:`create_study` and :func:`load_study`."""

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
