"""``create_study`` and ``load_study``: the two ways to a :class:`Study` handle, one for a name
(with its options checked now, in one sentence) and one for a study already stored (its
options read back from its spec).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuning_core.api.options import StrategyOption, _budget, _metrics, _space, _typed
from tuning_core.api.study import Study
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.storage import Store, default_storage_path


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
