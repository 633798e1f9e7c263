"""Search strategies behind one interface: ``ask()`` proposes params, ``tell()`` learns a loss.

Every strategy minimises: the study loop negates values of maximised metrics before telling.
scikit-optimize is used only here (and imported only for Bayesian search), so its quirks and
any future replacement stay in this module.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tuning_core.engine import snapshots
from tuning_core.engine.space import ChoiceDimension, NumericDimension, Scalar, SearchSpace

# How the GP's acquisition function is optimised. scikit-optimize's default (10,000 random
# candidates, then 5 L-BFGS restarts, for all three acquisitions of gp_hedge) costs ~0.45 s per
# trial on Hartmann-6; benchmarks/search_strategies.py measured these as both faster and as good.
GP_ACQUISITION_OPTIMIZER = {"n_points": 2000, "n_restarts_optimizer": 2}
# Fitting the GP's kernel hyperparameters (L-BFGS over the marginal likelihood, scikit-optimize
# starting it 1 + 2 restarts times) is ~90% of the tuner's time. Between refits the GP keeps its
# last kernel and is only conditioned on the new data, which costs one Cholesky factorisation.
# Hartmann-6, 100 trials, 5 seeds (benchmarks/search_strategies.py). The #25 figures are CPU
# s/trial of seed 0 on one BLAS thread: wall time on the 2 shared, loaded cores meant nothing
# (the old default, 0.067 s wall a trial on a quiet machine, took 0.44 s there):
#   refit every  restarts  median best   s/trial
#   10 (old)     2         -3.300/-3.305  0.080 CPU (0.067 wall, reference machine)
#   5            2         -3.315/-3.194  0.110 wall (first figure from an earlier run)
#   1            2         -3.311          0.30 wall
#   5 (now)      0         -3.316          0.042 CPU (about half the old default)
#   3            0         (seed 0: -3.313)  0.058 CPU
# One L-BFGS start (from scikit-optimize's initial kernel) fitted as well as three here, so the
# refits can be twice as frequent for half the time.
GP_KERNEL_REFIT_EVERY = 5
GP_KERNEL_FIT_RESTARTS = 0

# Failures (a diverged or failed trial). A Bayesian search keeps a second, cheap model beside
# its surrogate: the probability that a point runs without failing, a Gaussian-kernel estimate
# over the failed and the finished points in the surrogate's unit-scaled space,
#   P(feasible | x) = (S(x) + FEASIBILITY_PRIOR) / (F(x) + S(x) + FEASIBILITY_PRIOR),
# with F and S the kernel weights of failed and finished points (bandwidth FEASIBILITY_BANDWIDTH
# times sqrt(hyperparameters)). Far from any failure it is 1; on one failure 1/3, on two 1/5.
# When the acquisition's choice (or an initial random draw) falls below FEASIBLE_AT, the search
# takes instead, of FEASIBILITY_CANDIDATES random points and the acquisitions' own candidates,
# the one with the highest expected improvement times P(feasible) (the "constrained EI" of
# Gardner et al. 2014, as Optuna's and BoTorch's constrained searches weigh), among those at
# SAFE_AT or above (else FEASIBLE_AT): EI x P alone let a large EI outweigh a failed corner. A
# failure is still told to the surrogate as the worst loss so far (study._Teller).
# benchmarks/failure_aware.py, 5 seeds: proposals in a region that had already failed twice
# (per seed, total) and the median best, failures told as the worst loss only -> this model:
#   Branin, x1 > 7 fails, 30 trials:   2 3 3 0 8 (16), 0.3997  ->  1 0 1 0 0 (2), 0.4047
#   digits-lr stand-in, 20 trials:     0 3 1 0 3 (7), 0.9694   ->  0 0 0 0 1 (1), 0.9692
# (with the GP refitted every 10 tells, three starts: 16 -> 2, 0.644 -> 0.409; 9 -> 1,
# 0.9735 -> 0.9700).
# Also tried (Branin / digits-lr totals): this kernel at bandwidth 0.1 and FEASIBLE_AT 0.5
# without SAFE_AT, 13 / 9; a GP regression on the failure labels (ARD RBF), 5 / 3 but
# overconfident far from data; extra-trees, 8 / 3; 3 nearest neighbours, 3 / 2.
FEASIBILITY_PRIOR = 0.5
FEASIBILITY_BANDWIDTH = 0.2
FEASIBLE_AT = 0.75
SAFE_AT = 0.9
FEASIBILITY_CANDIDATES = 1000
FAILURE_MODES = ("avoid", "worst")  # "worst": the failure is only the worst loss (before #25)


class Strategy(Protocol):
    def ask(self) -> dict[str, Scalar] | None:
        """The next tuned params to try, or None when the strategy has nothing left."""

    def tell(self, params: dict[str, Scalar], loss: float, failed: bool = False) -> None:
        """Record the (finite) loss of params that ``ask`` proposed; ``failed`` says the trial
        failed or diverged and ``loss`` is the penalty the study chose for it."""


def _python_scalar(value: Any) -> Scalar:
    """numpy scalars to plain Python, so params serialise to JSON unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@contextlib.contextmanager
def _quiet_repeats() -> Iterator[None]:
    """scikit-optimize warns each time it proposes a point it has seen before; the study
    records repeats anyway. Scoped to its own calls: no process-wide filter is set."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The objective has been evaluated at")
        yield


@runtime_checkable
class SnapshotStrategy(Strategy, Protocol):
    """A strategy whose state is worth keeping: replaying it costs a surrogate fit a trial."""

    def snapshot(self) -> bytes: ...

    def restore(self, blob: bytes) -> None: ...


class GridStrategy:
    """Every combination of ``levels`` points per numeric dimension and every choice."""

    def __init__(self, space: SearchSpace, levels: int) -> None:
        self.space = space
        axes = [dimension.grid(levels) for dimension in space.dimensions]
        self._points: Iterator[tuple[Scalar, ...]] = itertools.product(*axes)

    def ask(self) -> dict[str, Scalar] | None:
        point = next(self._points, None)
        return None if point is None else dict(zip(self.space.names, point, strict=True))

    def tell(self, params: dict[str, Scalar], loss: float, failed: bool = False) -> None:
        pass


class RandomStrategy:
    """Independent draws from each dimension (log-uniform for log dimensions), seeded."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def _draw(self, dimension: NumericDimension | ChoiceDimension) -> Scalar:
        if isinstance(dimension, ChoiceDimension):
            return dimension.values[int(self.rng.integers(len(dimension.values)))]
        if dimension.kind == "int" and not dimension.log:
            return int(self.rng.integers(int(dimension.low), int(dimension.high) + 1))
        if dimension.log:
            value = math.exp(self.rng.uniform(math.log(dimension.low), math.log(dimension.high)))
        else:
            value = float(self.rng.uniform(dimension.low, dimension.high))
        if dimension.kind == "int":
            return int(min(max(round(value), dimension.low), dimension.high))
        return value

    def ask(self) -> dict[str, Scalar] | None:
        return {dimension.name: self._draw(dimension) for dimension in self.space.dimensions}

    def tell(self, params: dict[str, Scalar], loss: float, failed: bool = False) -> None:
        pass


class BayesianStrategy:
    """scikit-optimize's ``Optimizer``: a surrogate model plus an acquisition function."""

    def __init__(
        self,
        space: SearchSpace,
        surrogate: str,
        acquisition: str,
        initial_points: int,
        seed: int,
        acquisition_optimizer: dict[str, Any] | None = None,
        kernel_refit_every: int = GP_KERNEL_REFIT_EVERY,
        failures: str = "avoid",
        kernel_fit_restarts: int | None = GP_KERNEL_FIT_RESTARTS,
    ) -> None:
        if failures not in FAILURE_MODES:
            raise ValueError(f"failures: {failures!r} is not one of {', '.join(FAILURE_MODES)}")
        # scikit-optimize (and scikit-learn) load only when a study is Bayesian.
        from skopt import Optimizer  # noqa: PLC0415
        from skopt.space import Categorical, Integer, Real  # noqa: PLC0415

        self.space = space
        dimensions = []
        for dimension in space.dimensions:
            if isinstance(dimension, ChoiceDimension):
                dimensions.append(Categorical(list(dimension.values), name=dimension.name))
                continue
            prior = "log-uniform" if dimension.log else "uniform"
            kind = Integer if dimension.kind == "int" else Real
            dimensions.append(kind(dimension.low, dimension.high, prior=prior, name=dimension.name))
        self._optimizer = None
        self._told = 0
        self._ask_record: AskRecord | None = None
        self._avoid_failures = failures == "avoid"
        self._failed: list[list[Scalar]] = []  # the failed points, in the space's order
        self._kernel_refit_every = kernel_refit_every if surrogate == "GP" else 1
        if dimensions:
            options: dict[str, Any] = {}
            if surrogate == "GP":
                kwargs = (
                    GP_ACQUISITION_OPTIMIZER
                    if acquisition_optimizer is None
                    else acquisition_optimizer
                )
                # L-BFGS needs a numeric dimension to follow; a space of choices alone is
                # searched by sampling (scikit-optimize refuses lbfgs there).
                all_choices = all(isinstance(d, ChoiceDimension) for d in space.dimensions)
                options = {
                    "acq_optimizer": "sampling" if all_choices else "lbfgs",
                    "acq_optimizer_kwargs": dict(kwargs),
                }
            self._optimizer = Optimizer(
                dimensions,
                base_estimator=surrogate,
                acq_func=acquisition,
                n_initial_points=initial_points,
                random_state=seed,
                # Only the last surrogate is ever read (kernel reuse, partial dependence).
                model_queue_size=1,
                **options,
            )
            if kernel_fit_restarts is not None and surrogate == "GP":
                self._optimizer.base_estimator_.set_params(n_restarts_optimizer=kernel_fit_restarts)
            if self._kernel_refit_every > 1:
                template = self._optimizer.base_estimator_
                self._gp_defaults = {
                    k: template.get_params()[k] for k in ("kernel", "noise", "optimizer")
                }

    def ask(self) -> dict[str, Scalar] | None:
        if self._optimizer is None:
            return {}
        initial = _is_initial(self._optimizer)
        with _quiet_repeats():
            point = self._optimizer.ask()
        point, chance = self._avoid(self._optimizer, point, initial)
        self._ask_record = ask_record(self._optimizer, point, initial, chance)
        return {
            name: _python_scalar(value) for name, value in zip(self.space.names, point, strict=True)
        }

    def _avoid(
        self, optimizer: Any, point: list[Any], initial: bool
    ) -> tuple[list[Any], Feasibility | None]:
        """``point``, or a better bet when it falls where trials failed (see FEASIBLE_AT).

        Deterministic given the optimizer's state and the failures told, so a replayed study
        proposes what the first run did."""
        if not (self._avoid_failures and self._failed):
            return point, None
        space = optimizer.space
        failed = np.asarray(space.transform(self._failed), dtype=float)
        finished = [x for x in optimizer.Xi if x not in self._failed]
        done = np.asarray(space.transform(finished), dtype=float) if finished else failed[:0]
        chance_at = feasibility_model(failed, done, len(self.space.names))
        first = float(chance_at(np.asarray(space.transform([point]), dtype=float))[0])
        if first >= FEASIBLE_AT:
            return point, Feasibility(self._failed, first, first, False)
        with _quiet_repeats():
            candidates = space.rvs(n_samples=FEASIBILITY_CANDIDATES, random_state=optimizer.rng)
        transformed = np.asarray(space.transform(candidates), dtype=float)
        if not initial:
            own = [np.asarray(x, dtype=float) for x in getattr(optimizer, "next_xs_", [])]
            transformed = np.vstack([*own, transformed]) if own else transformed
        chances = chance_at(transformed)
        if initial:  # the first random candidate that clears the line: still a random draw
            score = (chances >= SAFE_AT).astype(float) + (chances >= FEASIBLE_AT)
        else:
            from skopt.acquisition import gaussian_ei  # noqa: PLC0415

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gain = gaussian_ei(transformed, optimizer.models[-1], y_opt=np.min(optimizer.yi))
            # A flat EI (zero everywhere) leaves the choice to feasibility alone.
            score = (np.asarray(gain, dtype=float) + 1e-12) * chances
        # A hard line: where failure is likelier than FEASIBLE_AT allows is never chosen while
        # a candidate clears it (EI x P alone let a large EI outweigh a failed corner).
        for line in (SAFE_AT, FEASIBLE_AT):
            if (chances >= line).any():
                score[chances < line] = -np.inf
                break
        else:
            score = chances
        best = int(np.argmax(score))
        chosen = space.inverse_transform(transformed[best].reshape((1, -1)))[0]
        return chosen, Feasibility(self._failed, first, float(chances[best]), True)

    def take_ask_record(self) -> AskRecord | None:
        """What the optimizer knew when it proposed the last asked point (see
        :func:`ask_record`), once: the study stores it beside that trial."""
        record, self._ask_record = self._ask_record, None
        return record

    def tell(self, params: dict[str, Scalar], loss: float, failed: bool = False) -> None:
        if self._optimizer is None:
            return
        self._told += 1
        if failed:
            self._failed.append([params[name] for name in self.space.names])
        if self._kernel_refit_every > 1:
            self._schedule_kernel_fit()
        with _quiet_repeats():
            self._optimizer.tell([params[name] for name in self.space.names], float(loss))

    def _schedule_kernel_fit(self) -> None:
        """Freeze the GP's kernel at its last fitted value, except on every n-th tell."""
        optimizer = self._optimizer
        template = optimizer.base_estimator_
        last_model = optimizer.models[-1] if optimizer.models else None
        refit = last_model is None or self._told % self._kernel_refit_every == 0
        if refit:
            template.set_params(**self._gp_defaults)
            return
        kernel = last_model.kernel_
        noise = getattr(last_model, "noise_", None)
        if noise is not None and hasattr(kernel, "k1"):
            # skopt adds the WhiteKernel itself on every fit; pass the fitted level as fixed noise.
            kernel = kernel.k1
        else:
            noise = self._gp_defaults["noise"]
        template.set_params(kernel=kernel, noise=noise, optimizer=None)

    def ask_with_pending(self, pending: list[dict[str, Scalar]]) -> dict[str, Scalar] | None:
        """The next params while ``pending`` ones are still being evaluated (parallel trials).

        Once the surrogate proposes (after the initial random points), ``ask`` would give
        the same point until the next tell. So a copy of the optimizer is told each pending
        point at the surrogate's own prediction there (the "Kriging believer": the copy's
        uncertainty there collapses, its belief elsewhere stays), and the copy is asked; the
        strategy itself learns only real results. benchmarks/parallel.py measured it on
        Branin (30 trials, 4 in flight, 10 seeds) at a median regret of 0.010 against 0.036
        for scikit-optimize's constant liar "cl_min" (0.006 sequential). A proposal that still
        equals a pending point is replaced by a random one, so two pending trials never share
        params.
        """
        optimizer = self._optimizer
        if optimizer is None or not pending:
            return self.ask()
        if optimizer._n_initial_points > 0 or not optimizer.models:
            # Random draws: each ask advances the generator, so pending points differ.
            proposal = self.ask()
        else:
            points = [[params[name] for name in self.space.names] for params in pending]
            believed = optimizer.models[-1].predict(optimizer.space.transform(points))
            believer = optimizer.copy(random_state=optimizer.rng.randint(0, 2**31 - 1))
            with _quiet_repeats():
                believer.tell(points, [float(y) for y in believed])
                point = believer.ask()
            point, chance = self._avoid(believer, point, _is_initial(believer))
            # The believer's surrogate chose this point: that is the one to explain.
            self._ask_record = ask_record(believer, point, _is_initial(believer), chance)
            proposal = {
                name: _python_scalar(value)
                for name, value in zip(self.space.names, point, strict=True)
            }
        if proposal in pending:
            point = optimizer.space.rvs(random_state=optimizer.rng)[0]
            self._ask_record = ask_record(optimizer, point, True)
            proposal = {
                name: _python_scalar(value)
                for name, value in zip(self.space.names, point, strict=True)
            }
        return proposal

    def snapshot(self) -> bytes:
        """This strategy's whole state (see engine/snapshots.py)."""
        return snapshots.dump((self._optimizer, self._told, self._failed))

    def restore(self, blob: bytes) -> None:
        """Take the state of :meth:`snapshot`; raises SnapshotError if it cannot be read (a
        snapshot from before failures were kept, too: the study then replays its trials)."""
        try:
            state = snapshots.load(blob)
            if len(state) == 2:
                raise snapshots.SnapshotError("the snapshot predates the failure model")
            optimizer, told, failed = state
            told = int(told)
            failed = [list(point) for point in failed]
        except snapshots.SnapshotError:
            raise
        except Exception as error:  # noqa: BLE001 - any other shape is a damaged snapshot
            raise snapshots.SnapshotError(f"the snapshot is damaged ({error})") from None
        if optimizer is not None and type(optimizer).__name__ != "Optimizer":
            raise snapshots.SnapshotError("the snapshot holds no scikit-optimize Optimizer")
        self._optimizer, self._told, self._failed = optimizer, told, failed

    @property
    def optimizer(self) -> Any:
        """The underlying ``skopt.Optimizer`` (for partial dependence plots)."""
        return self._optimizer


def feasibility_model(
    failed: np.ndarray, finished: np.ndarray, dimensions: int
) -> Callable[[np.ndarray], np.ndarray]:
    """P(a point runs without failing), learnt from the ``failed`` and ``finished`` points
    (rows in the surrogate's transformed space, where a choice is one-hot) of a space of
    ``dimensions`` hyperparameters; see FEASIBILITY_PRIOR."""
    bandwidth = FEASIBILITY_BANDWIDTH * math.sqrt(dimensions)

    def weight(points: np.ndarray, data: np.ndarray) -> np.ndarray:
        if len(data) == 0:
            return np.zeros(len(points))
        distance = ((points[:, None, :] - data[None, :, :]) ** 2).sum(axis=2)
        return np.exp(-distance / (2 * bandwidth**2)).sum(axis=1)

    def chance(points: np.ndarray) -> np.ndarray:
        fails, finishes = weight(points, failed), weight(points, finished)
        return (finishes + FEASIBILITY_PRIOR) / (fails + finishes + FEASIBILITY_PRIOR)

    return chance


@dataclass(frozen=True)
class Feasibility:
    """What the failure model said at one ask: the failed points, P(feasible) at the
    acquisition's (or random draw's) own choice and at the point proposed, and whether it
    moved the proposal."""

    failed: list[list[Scalar]]
    at_first: float
    at_chosen: float
    moved: bool

    def facts(self) -> dict[str, Any]:
        return {
            "failed": [[_python_scalar(v) for v in x] for x in self.failed],
            "at_first": self.at_first,
            "at_chosen": self.at_chosen,
            "moved": self.moved,
        }


def _is_initial(optimizer: Any) -> bool:
    """Whether the optimizer's next ask is one of its initial random points."""
    return optimizer._n_initial_points > 0 or not optimizer.models


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
    optimizer: Any, point: list[Any], initial: bool, failures: Feasibility | None = None
) -> AskRecord:
    """What ``optimizer`` knew when it proposed ``point``, for the "Why this point?" view.

    Right after a tell, scikit-optimize has fitted its surrogate (``models[-1]``) and chosen
    ``_next_x`` by minimising the acquisition over the transformed space; ``ask`` returns it
    (or, when it repeats a told point, another acquisition's candidate or a random point).
    The record keeps that fitted surrogate, the space, the acquisition and its options and
    the points told so far, so the view redraws exactly what the worker used, refitting
    nothing. An initial random point keeps only the told points (a few hundred bytes).
    Read back with ``snapshots.load`` (its allowed globals cover every surrogate).
    """
    record: dict[str, Any] = {
        "version": 1,
        "initial": bool(initial),
        "point": [_python_scalar(value) for value in point],
        "Xi": [[_python_scalar(value) for value in x] for x in optimizer.Xi],
        "yi": [float(y) for y in optimizer.yi],
        "acq_func": optimizer.acq_func,
    }
    if failures is not None:  # the failure model's word on this ask (absent: no failure yet)
        record["feasibility"] = failures.facts()
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


def import_scikit_optimize() -> None:
    """Import what Bayesian search and its ask records need (about 2 s, once a process): the
    dashboard calls it on a thread while its landing page is read."""
    import skopt.acquisition  # noqa: PLC0415
    import skopt.learning  # noqa: F401, PLC0415


def ask_facts(record: dict[str, Any]) -> dict[str, Any]:
    """The plain-JSON facts of an ask record (:func:`load_ask_record`'s dict)."""
    facts: dict[str, Any] = {
        "initial": bool(record["initial"]),
        "point": list(record["point"]),
        "Xi": [list(x) for x in record["Xi"]],
        "yi": [float(y) for y in record["yi"]],
    }
    if "feasibility" in record:  # plain already: the failed points and three numbers
        facts["feasibility"] = record["feasibility"]
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


def ask_record_from_facts(strategy: BayesianStrategy, facts: dict[str, Any]) -> AskRecord:
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


def ask_with_pending(
    strategy: Strategy, pending: list[dict[str, Scalar]]
) -> dict[str, Scalar] | None:
    """The strategy's next params while ``pending`` ones run: grid and random proposals never
    repeat a pending one on their own; a Bayesian search believes its own prediction for
    them (see :meth:`BayesianStrategy.ask_with_pending`)."""
    if isinstance(strategy, BayesianStrategy):
        return strategy.ask_with_pending(pending)
    return strategy.ask()


def make_strategy(space: SearchSpace, config: dict[str, Any]) -> Strategy:
    """Build the strategy that a spec's ``strategy`` object (already validated) names."""
    kind = config["type"]
    if kind == "grid":
        return GridStrategy(space, int(config["levels"]))
    if kind == "random":
        return RandomStrategy(space, int(config["seed"]))
    return BayesianStrategy(
        space,
        config["surrogate"],
        config["acquisition"],
        int(config["initial_points"]),
        int(config["seed"]),
    )
