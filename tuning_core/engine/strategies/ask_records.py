"""Ask records: what a Bayesian search knew when it proposed a point, for "Why this point?".

A record is a signed pickle (engine/snapshots.py) of plain values and scikit-optimize's own
objects (its fitted surrogate and space), which the allow-list there covers; no class of ours
is pickled, so moving this code moves nothing stored. A recording carries the plain facts
instead (:func:`ask_facts`), and :func:`ask_record_from_facts` signs them back into a record.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tuning_core.engine import snapshots
from tuning_core.engine.space import SearchSpace
from tuning_core.engine.strategies.feasibility import Feasibility
from tuning_core.engine.strategies.protocol import python_scalar


class SurrogateStrategy(Protocol):
    """What :func:`ask_record_from_facts` reads of a Bayesian strategy."""

    space: SearchSpace

    @property
    def optimizer(self) -> Any: ...


@dataclass(frozen=True)
class AskRecord:
    """One ask's record: the pickled state, and the two facts the pages list per trial."""

    state: bytes
    initial: bool
    acquisition: str | None  # the acquisition that chose the point (None for random ones)


def _without_derived_matrices(model: Any) -> Any:
    """A GP's copy without ``K_inv_``, which scikit-optimize derives from ``L_`` in ``fit``:
    an n x n matrix, half of a GP record. :func:`load_ask_record` derives it again."""
    if getattr(model, "K_inv_", None) is None or getattr(model, "L_", None) is None:
        return model
    lighter = copy.copy(model)
    lighter.K_inv_ = None
    return lighter


def load_ask_record(blob: bytes) -> dict[str, Any]:
    """An ask record as :func:`ask_record` stored it, its GP's ``K_inv_`` derived from ``L_``
    by the same two operations scikit-optimize's ``fit`` uses (so the same numbers)."""
    record = snapshots.load(blob)
    model = record.get("model")
    lightened = getattr(model, "L_", None) is not None and getattr(model, "K_inv_", 0) is None
    if lightened:
        from scipy.linalg import solve_triangular  # noqa: PLC0415 - scikit-optimize's own

        l_inv = solve_triangular(model.L_.T, np.eye(model.L_.shape[0]))
        model.K_inv_ = l_inv.dot(l_inv.T)
    return record


def ask_record(
    optimizer: Any,
    point: list[Any],
    initial: bool,
    failures: Feasibility | None = None,
    weights: list[float] | None = None,
    losses: list[tuple[float, ...]] | None = None,
) -> AskRecord:
    """What ``optimizer`` knew when it proposed ``point``, for the "Why this point?" view.

    Right after a tell, scikit-optimize has fitted its surrogate (``models[-1]``) and chosen
    ``_next_x`` by minimising the acquisition over the transformed space; ``ask`` returns it
    (or, when it repeats a told point, another acquisition's candidate or a random point).
    The record keeps that fitted surrogate, the space, the acquisition and its options and
    the points told so far, so the view redraws exactly what the worker used, refitting
    nothing. An initial random point keeps only the told points (a few hundred bytes).
    Read back with ``snapshots.load`` (its allowed globals cover every surrogate). A
    multi-metric search adds the ask's ParEGO ``weights`` and the told ``losses`` per trial
    ("yi" then holds what the surrogate was fitted to: them scalarised with those weights, by
    default as ranks).
    """
    record: dict[str, Any] = {
        "version": 1,
        "initial": bool(initial),
        "point": [python_scalar(value) for value in point],
        "Xi": [[python_scalar(value) for value in x] for x in optimizer.Xi],
        "yi": [float(y) for y in optimizer.yi],
        "acq_func": optimizer.acq_func,
    }
    if failures is not None:  # the failure model's word on this ask (absent: no failure yet)
        record["feasibility"] = failures.facts()
    if weights is not None:  # multi-metric: "yi" are the told losses scalarised with these
        # (by default their ranks, see parego.ranks)
        record["weights"] = [float(w) for w in weights]
        record["losses"] = [[float(v) for v in x] for x in losses or []]
    if not initial:
        chosen_x = np.asarray(optimizer.space.transform([list(point)])[0], dtype=float)
        next_xs = [np.asarray(x, dtype=float) for x in getattr(optimizer, "next_xs_", [])]
        proposed = np.asarray(optimizer.space.transform([optimizer._next_x])[0], dtype=float)
        candidates = list(optimizer.cand_acq_funcs_)
        chosen_acq = None
        for name, x in zip(candidates, next_xs, strict=False):
            # As scikit-optimize picked it: the candidate in the original space (rounded ints).
            if optimizer.space.inverse_transform(x.reshape((1, -1)))[0] == optimizer._next_x:
                chosen_acq = name
                break
        record.update(
            model=_without_derived_matrices(optimizer.models[-1]),
            space=optimizer.space,
            acq_func_kwargs=dict(optimizer.acq_func_kwargs or {}),
            acq_optimizer=optimizer.acq_optimizer,
            n_points=int(optimizer.n_points),
            n_restarts_optimizer=int(getattr(optimizer, "n_restarts_optimizer", 0) or 0),
            y_opt=float(np.min(optimizer.yi)),
            candidate_acquisitions=candidates,
            candidate_points=[x.tolist() for x in next_xs],
            chosen_acquisition=chosen_acq,
            # ask() replaced the acquisition's choice because it had been told already.
            replaced=not np.allclose(chosen_x, proposed, atol=1e-9)
            and not (failures is not None and failures.moved),
            gains=[float(g) for g in getattr(optimizer, "gains_", [])],
        )
    acquisition = None
    if not initial:
        acquisition = record["chosen_acquisition"] or (
            record["acq_func"] if record["acq_func"] != "gp_hedge" else None
        )
    return AskRecord(snapshots.dump(record), bool(initial), acquisition)


# Ask facts: what a recording carries instead of the signed pickle --------------------------

# A recording (reports/recording.py) is plain JSON mailed with a course: it cannot carry an ask
# record, whose pickle only this user's key may open. It carries these facts instead, and a
# replay rebuilds the record from them with a fresh strategy of the same spec (same space,
# same surrogate settings and random state): a GP is conditioned on the told points with its
# recorded kernel hyperparameters fixed (one Cholesky, no optimiser, so the same numbers); a
# tree surrogate is refitted with its fixed random state. The rebuilt record is signed here.

# Ask facts: what a recording carries instead of the signed pickle --------------------------

# A recording (reports/recording.py) is plain JSON mailed with a course: it cannot carry an ask
# record, whose pickle only this user's key may open. It carries these facts instead, and a
# replay rebuilds the record from them with a fresh strategy of the same spec (same space,
# same surrogate settings and random state): a GP is conditioned on the told points with its
# recorded kernel hyperparameters fixed (one Cholesky, no optimiser, so the same numbers); a
# tree surrogate is refitted with its fixed random state. The rebuilt record is signed here.


def ask_facts(record: dict[str, Any]) -> dict[str, Any]:
    """The plain-JSON facts of an ask record (:func:`load_ask_record`'s dict)."""
    facts: dict[str, Any] = {
        "initial": bool(record["initial"]),
        "point": list(record["point"]),
        "Xi": [list(x) for x in record["Xi"]],
        "yi": [float(y) for y in record["yi"]],
    }
    for plain in ("feasibility", "weights", "losses"):  # plain already: lists and numbers
        if plain in record:
            facts[plain] = record[plain]
    if record["initial"]:
        return facts
    model = record["model"]
    facts["acquisition"] = record.get("chosen_acquisition")
    facts["replaced"] = bool(record.get("replaced"))
    facts["acq_func_kwargs"] = {
        str(k): float(v)
        for k, v in (record.get("acq_func_kwargs") or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    kernel = getattr(model, "kernel_", None)
    if kernel is not None:  # a GP: its fitted kernel, less the noise scikit-optimize adds
        noise = getattr(model, "noise_", None)
        if noise is not None and hasattr(kernel, "k1"):
            kernel = kernel.k1
        facts["kernel_theta"] = [float(v) for v in kernel.theta]
        facts["noise"] = None if noise is None else float(noise)
    return facts


def ask_record_from_facts(strategy: SurrogateStrategy, facts: dict[str, Any]) -> AskRecord:
    """The signed ask record that ``facts`` (:func:`ask_facts`) describe, rebuilt with
    ``strategy`` (a fresh one of the recorded spec). Raises ValueError for facts that do not
    fit its space or surrogate."""
    from sklearn.base import clone  # noqa: PLC0415 - with scikit-optimize, only here

    optimizer = strategy.optimizer
    if optimizer is None:
        raise ValueError("the spec tunes nothing")
    dims = len(strategy.space.names)
    points = [*facts["Xi"], facts["point"]]
    if any(len(x) != dims for x in points) or len(facts["Xi"]) != len(facts["yi"]):
        raise ValueError(f"each point must give {dims} values, one loss each")
    record: dict[str, Any] = {
        "version": 1,
        "initial": bool(facts["initial"]),
        "point": list(facts["point"]),
        "Xi": [list(x) for x in facts["Xi"]],
        "yi": [float(y) for y in facts["yi"]],
        "acq_func": optimizer.acq_func,
    }
    if "feasibility" in facts:
        record["feasibility"] = dict(facts["feasibility"])
    if "weights" in facts:
        record["weights"] = [float(w) for w in facts["weights"]]
        record["losses"] = [[float(v) for v in x] for x in facts.get("losses", [])]
    acquisition = None
    if not facts["initial"]:
        if not facts["Xi"]:
            raise ValueError("a model-chosen point needs the points told before it")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transformed = optimizer.space.transform(record["Xi"])
            optimizer.space.transform([record["point"]])  # in the space, or ValueError
            model = clone(optimizer.base_estimator_)
            if "kernel_theta" in facts:
                base = model.get_params()["kernel"]
                theta = np.asarray(facts["kernel_theta"], dtype=float)
                if base is None or theta.shape != base.theta.shape:
                    raise ValueError("the kernel's hyperparameters do not fit this surrogate")
                noise = facts.get("noise")
                model.set_params(
                    kernel=base.clone_with_theta(theta),
                    noise=model.get_params()["noise"] if noise is None else float(noise),
                    optimizer=None,
                )
            model.fit(transformed, record["yi"])
        chosen = facts.get("acquisition")
        if optimizer.acq_func != "gp_hedge":
            chosen = optimizer.acq_func
        record.update(
            model=_without_derived_matrices(model),
            space=optimizer.space,
            acq_func_kwargs={**dict(optimizer.acq_func_kwargs or {}), **facts["acq_func_kwargs"]},
            acq_optimizer=optimizer.acq_optimizer,
            n_points=int(optimizer.n_points),
            n_restarts_optimizer=int(getattr(optimizer, "n_restarts_optimizer", 0) or 0),
            y_opt=float(np.min(record["yi"])),
            candidate_acquisitions=[],
            candidate_points=[],
            chosen_acquisition=chosen,
            replaced=bool(facts["replaced"]),
            gains=[],
        )
        acquisition = chosen
    return AskRecord(snapshots.dump(record), bool(facts["initial"]), acquisition)
