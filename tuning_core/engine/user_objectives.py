"""User objectives: a plain function ``objective(trial) -> float`` (or a dict of metrics,
name -> number, for a study of several) run as a study's objective,
and the ``module:function`` targets that name one in a spec file.

The engine calls every objective as ``objective(params, reporter) -> TrialOutcome``
(engine/objectives.py). A user's function sees a :class:`Trial` instead: its params, ``report``
to record an epoch's metrics, and ``should_prune`` to ask the study's pruner (or a stop
request). :func:`plain_objective` adapts one to the other, and turns what the function does
wrong into the trial states the rest of Tuning Lab knows: an exception fails the trial, NaN or
infinity diverges it, a value that is not a number stops the study with one sentence.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tuning_core.engine import objectives
from tuning_core.engine.errors import ObjectiveError, brief
from tuning_core.engine.objectives import Objective, Reporter, TrialOutcome, TrialStopped

# "package.module:function" or "module:Class.method"; "<lambda>" and "<locals>" are allowed in
# the attribute path so that a notebook's lambda still gets a (non-importable) name on record.
TARGET_PATTERN = re.compile(
    r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_<][\w<>]*(\.[A-Za-z_<][\w<>]*)*$"
)
# How many first trials failing with the same error stop a study (see first_trials_all_fail).
FAILURE_REPEATS = 3
# Stored errors are clipped: a user's exception may carry a megabyte of text.
ERROR_LIMIT = 300


class TrialPruned(objectives.TrialPruned):
    """Raise it from an objective when ``trial.should_prune()`` is true: the trial ends
    ``pruned`` (or ``interrupted``, when a stop request made should_prune true)."""

    def __init__(self, message: str = "pruned by the objective") -> None:
        Exception.__init__(self, message)
        self.epoch = -1  # the adapter replaces it with the trial's last reported epoch


class Trial:
    """What a user's objective is given: ``params``, ``report`` and ``should_prune``."""

    def __init__(
        self, number: int, params: Mapping[str, Any], reporter: Reporter, metric: str
    ) -> None:
        self.number = number
        self.params: dict[str, Any] = dict(params)
        self.metric = metric
        self._reporter = reporter
        self.last_epoch: int | None = None

    def report(self, epoch: int, metrics: float | Mapping[str, float]) -> None:
        """Record epoch ``epoch``'s metrics (0-based); a bare number is the study's metric.

        The row is written to the store at once, so the dashboard draws it live, and pruners
        compare trials at the same epoch by the study's metric.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ObjectiveError(
                f"trial.report: epoch must be a whole number from 0 up, not {brief(epoch)}."
            )
        if not isinstance(metrics, Mapping):
            metrics = {self.metric: metrics}
        row: dict[str, float] = {}
        for name, value in metrics.items():
            number = as_number(value)
            if not isinstance(name, str) or number is None:
                raise ObjectiveError(
                    f"trial.report: metric {brief(name)} must be a number, not {brief(value)}."
                )
            row[name] = number
        self._reporter.report(epoch, row)
        self.last_epoch = epoch

    def should_prune(self) -> bool:
        """Whether to stop this trial now (then raise ``TrialPruned``): the study's pruner
        stops it after the last reported epoch, or someone asked the study to stop."""
        if self._reporter.should_stop():
            return True
        return self.last_epoch is not None and self._reporter.should_prune(self.last_epoch)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params!r})"


def as_number(value: Any) -> float | None:
    """``value`` as a float (NaN and infinity included), or None if it is not a number.

    numpy scalars, 0-d arrays and framework scalars convert through ``__float__``; bools,
    strings and containers do not count as numbers.
    """
    if isinstance(value, (bool, str, bytes)) or not hasattr(type(value), "__float__"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def exception_line(error: BaseException) -> str:
    """``Type: the message's last line``, clipped: what a trial's error column shows."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[-1]}" if lines else type(error).__name__
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def target_of(function: Callable[..., Any]) -> str:
    """``module:qualname`` naming ``function`` (what a spec file would write)."""
    module = getattr(function, "__module__", None) or "__main__"
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"{module}:{name}"


def import_target(target: str) -> Callable[..., Any]:
    """The callable ``module:function`` names. Whatever stops the import (a missing module or
    attribute, a syntax error, an exception while the module runs) is one sentence."""
    module_name, _, attribute_path = target.partition(":")
    field = f"objective.target {brief(target)}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or module_name
        raise ObjectiveError(
            f"{field} cannot be imported: there is no module named {missing!r} in the spec "
            "file's folder or on the Python path."
        ) from None
    except SyntaxError as error:
        where = f"{error.filename}, line {error.lineno}" if error.filename else module_name
        raise ObjectiveError(
            f"{field} cannot be imported: a syntax error in {where} ({error.msg})."
        ) from None
    except Exception as error:  # noqa: BLE001 - the user's module ran and raised: one sentence
        raise ObjectiveError(
            f"{field} cannot be imported: importing {module_name} raised {exception_line(error)}."
        ) from None
    found: Any = module
    for part in attribute_path.split("."):
        if not hasattr(found, part):
            raise ObjectiveError(
                f"{field} cannot be imported: {module_name} has no attribute {attribute_path!r}."
            )
        found = getattr(found, part)
    if not callable(found):
        raise ObjectiveError(
            f"{field} names {type(found).__name__!s} {attribute_path!r}, not a function."
        )
    return found


def module_file(target: str, search_path: Sequence[str]) -> Path | None:
    """The file ``import`` would load for ``target``'s module when ``search_path`` is sys.path,
    or None when no file would be found (a built-in module, or none at all).

    Found by the import system's own path finder without running anything: not the module,
    and not a package's ``__init__`` on the way to a submodule, so a page can show what a spec
    would run before anyone agrees to run it.
    """
    parts = target.partition(":")[0].split(".")
    locations: list[str] | None = [str(folder) for folder in search_path]
    found = None
    for depth in range(1, len(parts) + 1):
        if locations is None:
            return None  # a plain module has no submodules
        found = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), locations)
        if found is None:
            return None
        search = found.submodule_search_locations
        locations = list(search) if search is not None else None
    if found is None or not found.has_location or found.origin is None:
        return None
    return Path(found.origin).resolve()


def importable(target: str) -> bool:
    """Whether ``target`` could be imported by another process (not ``__main__``, a lambda or a
    function defined inside another)."""
    module, _, attribute = target.partition(":")
    return module != "__main__" and "<" not in attribute and module in sys.modules


def plain_objective(
    function: Callable[[Trial], Any], metric: str, stop_on_bad_value: bool = True
) -> Objective:
    """Adapt ``function(trial) -> number`` to the engine's objective protocol.

    - it raises: the trial fails with the exception's last line;
    - it raises TrialPruned: the trial is pruned, or interrupted if a stop request was the
      reason (it is retried when the study resumes);
    - it returns NaN or infinity: the trial diverged (the engine's rule);
    - it returns a dict of metrics (name -> number): every one is kept, the study's first
      metric is the trial's value, and one the study optimises but the dict lacks stops the
      study (study.run_objective);
    - it returns something that is not a number: :class:`ObjectiveError`, the study stops
      (with ``stop_on_bad_value`` False, as on a Dask worker, whose errors read as a broken
      worker: a TypeError with the same sentence fails the trial instead).
    """

    def objective(params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        trial = Trial(getattr(reporter, "trial_number", None) or 0, params, reporter, metric)
        try:
            value = function(trial)
        except objectives.TrialPruned:
            stop_reason = getattr(reporter, "stop_reason", None)
            if stop_reason is not None:
                raise TrialStopped(stop_reason) from None
            # Pruned by the study's pruner (its decision carries the value and the note), or by
            # the function on its own, at the last epoch it reported.
            raise objectives.TrialPruned(max(trial.last_epoch or 0, 0)) from None
        # Anything else it raises propagates: the engine fails the trial with the exception's
        # last line (study.run_objective), and stops the study on an ObjectiveError.
        if isinstance(value, Mapping):
            # Several metrics: run_objective reads the study's own from them, and stops the
            # study when one is missing.
            values = _metric_values(value, metric)
            if isinstance(values, str):
                raise ObjectiveError(values) if stop_on_bad_value else TypeError(values)
            return TrialOutcome(values.get(metric, math.nan), values=values)
        number = as_number(value)
        if number is None:
            sentence = (
                f"the objective returned {brief(value)} ({type(value).__name__}); it must return "
                f"a number, the trial's {metric}."
            )
            raise ObjectiveError(sentence) if stop_on_bad_value else TypeError(sentence)
        return TrialOutcome(number)

    return objective


def _metric_values(returned: Mapping[Any, Any], metric: str) -> dict[str, float] | str:
    """A returned dict of metrics as name -> number, or the sentence saying which entry is not
    a metric (a name that is not text, a value that is not a number)."""
    values: dict[str, float] = {}
    for name, value in returned.items():
        number = as_number(value)
        if not isinstance(name, str) or number is None:
            return (
                f"the objective returned {brief(name)}: {brief(value)} in its dict of metrics; "
                f"each entry must be a metric name and a number (e.g. {{{metric!r}: 0.93}})."
            )
        values[name] = number
    return values


def first_trials_all_fail(errors: list[str | None]) -> str | None:
    """The sentence that stops a study whose first ``FAILURE_REPEATS`` trials all failed with
    the same error, or None. ``errors`` are those trials' errors, None for one that did not
    fail. A bug in the user's function would otherwise spend the whole budget on it."""
    if len(errors) < FAILURE_REPEATS:
        return None
    first = errors[:FAILURE_REPEATS]
    if first[0] is None or any(error != first[0] for error in first):
        return None
    return (
        f"every trial fails: {first[0]} (the first {FAILURE_REPEATS} trials all failed this way, "
        "so the study stopped before spending its budget; fix the objective and run it again to "
        "resume)."
    )
