"""Bayesian search: scikit-optimize's ``Optimizer`` behind one adapter.

scikit-optimize is imported only here (and only once a study is Bayesian), so its quirks and
any future replacement stay in this module; ask_records.py reads the state of the Optimizer
that this module hands it. One metric is told as one loss; several metrics as a tuple of
losses, scalarised afresh before each ask (ParEGO, parego.py).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from tuning_core.engine import snapshots
from tuning_core.engine.space import ChoiceDimension, Scalar, SearchSpace
from tuning_core.engine.strategies.ask_records import AskRecord, ask_record
from tuning_core.engine.strategies.feasibility import (
    FAILURE_MODES,
    FEASIBILITY_CANDIDATES,
    FEASIBLE_AT,
    SAFE_AT,
    Feasibility,
    feasibility_model,
)
from tuning_core.engine.strategies.parego import parego_weights, ranks, scalarise
from tuning_core.engine.strategies.protocol import Loss, python_scalar

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
#   5 (now)      0         -3.316          0.042 CPU (about half the old default); 0.056 wall,
#                                          quiet machine, all threads (2026-12-02)
#   3            0         (seed 0: -3.313)  0.058 CPU
# One L-BFGS start (from scikit-optimize's initial kernel) fitted as well as three here, so the
# refits can be twice as frequent for half the time.
GP_KERNEL_REFIT_EVERY = 5
GP_KERNEL_FIT_RESTARTS = 0
# What a multi-metric search fits its surrogate to: the ranks of the scalarised losses (the
# default, see parego.py for why), or the scalarised values themselves (ParEGO as published).
SCALARISED_FITS = ("ranks", "values")


@contextlib.contextmanager
def _quiet_repeats() -> Iterator[None]:
    """scikit-optimize warns each time it proposes a point it has seen before; the study
    records repeats anyway. Scoped to its own calls: no process-wide filter is set."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The objective has been evaluated at")
        yield


class BayesianStrategy:
    """scikit-optimize's ``Optimizer``: a surrogate model plus an acquisition function.

    Told one loss per trial, the surrogate is fitted to the losses. Told a tuple of losses
    (a multi-metric study, see protocol.Loss), it is ParEGO: before each ask, weights drawn
    on the simplex for that ask (parego_weights, from the seed and the number of asks so far)
    scalarise every told tuple afresh (parego.scalarise), and the same surrogate, refitted to
    their ranks (``scalarised_fit="ranks"``) or to the values themselves, proposes; the
    failure model and the believer of ``ask_with_pending`` read what it was fitted to as they
    read single losses.
    """

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
        scalarised_fit: str = "ranks",
    ) -> None:
        if failures not in FAILURE_MODES:
            raise ValueError(f"failures: {failures!r} is not one of {', '.join(FAILURE_MODES)}")
        if scalarised_fit not in SCALARISED_FITS:
            raise ValueError(
                f"scalarised_fit: {scalarised_fit!r} is not one of {', '.join(SCALARISED_FITS)}"
            )
        self._fit_ranks = scalarised_fit == "ranks"
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
        self._seed = seed
        self._asks = 0  # every ask so far: ParEGO's weights are drawn per ask
        # Multi-metric only (None until a tuple is told): the told losses per trial, the told
        # count at the surrogate's last kernel fit, and the weights of the last ask.
        self._losses: list[tuple[float, ...]] | None = None
        self._kernel_told: int | None = None
        self._weights: list[float] | None = None
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
        self._scalarise_for_ask()
        return self._ask_fitted()

    def _ask_fitted(self) -> dict[str, Scalar]:
        """The optimizer's proposal as it stands (fitted to this ask's losses)."""
        initial = _is_initial(self._optimizer)
        with _quiet_repeats():
            point = self._optimizer.ask()
        point, chance = self._avoid(self._optimizer, point, initial)
        self._ask_record = ask_record(
            self._optimizer, point, initial, chance, self._weights, self._losses
        )
        return {
            name: python_scalar(value) for name, value in zip(self.space.names, point, strict=True)
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

    def tell(self, params: dict[str, Scalar], loss: Loss, failed: bool = False) -> None:
        """Learn ``loss`` at ``params``: a float, or (multi-metric) a tuple of one loss per
        metric; a study tells the one kind throughout, with as many metrics each time."""
        losses = self._check_kind(loss)
        if self._optimizer is None:
            return
        self._told += 1
        if failed:
            self._failed.append([params[name] for name in self.space.names])
        x = [params[name] for name in self.space.names]
        if losses is not None:
            self._losses.append(losses)  # type: ignore[union-attr]
            # Unfitted: the next ask scalarises every told tuple with its own weights and
            # fits then. Until then the told value is a placeholder, the first loss.
            with _quiet_repeats():
                self._optimizer.tell(x, losses[0], fit=False)
            return
        if self._kernel_refit_every > 1:
            self._schedule_kernel_fit(self._told % self._kernel_refit_every == 0)
        with _quiet_repeats():
            self._optimizer.tell(x, float(loss))  # type: ignore[arg-type]

    def _check_kind(self, loss: Loss) -> tuple[float, ...] | None:
        """The tuple of losses a multi-metric tell carries (None for one float); ValueError
        when the kind or the number of metrics changes within a study."""
        if not isinstance(loss, (tuple, list)):
            if self._losses is not None:
                raise ValueError("loss: this search was told one loss per metric, not one")
            return None
        losses = tuple(float(v) for v in loss)
        if self._losses is None:
            if self._told:
                raise ValueError("loss: this search was told single losses, not a tuple")
            if not losses:
                raise ValueError("loss: a tuple of losses needs one loss per metric")
            self._losses = []
        elif self._losses and len(losses) != len(self._losses[0]):
            raise ValueError(
                f"loss: {len(losses)} losses told where {len(self._losses[0])} metrics were"
            )
        return losses

    def _scalarise_for_ask(self) -> None:
        """Multi-metric: draw this ask's weights, scalarise every told tuple with them, and
        (past the initial points) refit the surrogate to those values (or their ranks) and
        let it propose.

        The Optimizer cannot re-tell a told point, so its last point is taken back and told
        again with the rest of ``yi`` replaced: one fit, as a single-metric tell costs. Its
        kernel is refitted once ``kernel_refit_every`` tells have come since the last refit
        (between refits the values change, the kernel's length scales hardly do)."""
        index, self._asks = self._asks, self._asks + 1
        if not self._losses:
            return
        weights = parego_weights(self._seed, index, len(self._losses[0]))
        self._weights = [float(w) for w in weights]
        scalarised = scalarise(np.asarray(self._losses), weights)
        values = [float(v) for v in (ranks(scalarised) if self._fit_ranks else scalarised)]
        optimizer = self._optimizer
        if optimizer._n_initial_points > 0:
            optimizer.yi[:] = values  # still random draws: nothing to fit
            return
        if self._kernel_refit_every > 1:
            refit = (
                self._kernel_told is None
                or self._told - self._kernel_told >= self._kernel_refit_every
            )
            if refit:
                self._kernel_told = self._told
            self._schedule_kernel_fit(refit)
        last = optimizer.Xi.pop()
        optimizer.yi.pop()
        optimizer._n_initial_points += 1
        optimizer.yi[:] = values[:-1]
        with _quiet_repeats():
            optimizer.tell(last, values[-1])

    def _schedule_kernel_fit(self, refit: bool) -> None:
        """Freeze the GP's kernel at its last fitted value, unless ``refit``."""
        optimizer = self._optimizer
        template = optimizer.base_estimator_
        last_model = optimizer.models[-1] if optimizer.models else None
        if refit or last_model is None:
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
        self._scalarise_for_ask()
        if optimizer._n_initial_points > 0 or not optimizer.models:
            # Random draws: each ask advances the generator, so pending points differ.
            proposal = self._ask_fitted()
        else:
            points = [[params[name] for name in self.space.names] for params in pending]
            believed = optimizer.models[-1].predict(optimizer.space.transform(points))
            believer = optimizer.copy(random_state=optimizer.rng.randint(0, 2**31 - 1))
            with _quiet_repeats():
                believer.tell(points, [float(y) for y in believed])
                point = believer.ask()
            point, chance = self._avoid(believer, point, _is_initial(believer))
            # The believer's surrogate chose this point: that is the one to explain.
            self._ask_record = ask_record(
                believer, point, _is_initial(believer), chance, self._weights, self._losses
            )
            proposal = {
                name: python_scalar(value)
                for name, value in zip(self.space.names, point, strict=True)
            }
        if proposal in pending:
            point = optimizer.space.rvs(random_state=optimizer.rng)[0]
            self._ask_record = ask_record(optimizer, point, True, None, self._weights, self._losses)
            proposal = {
                name: python_scalar(value)
                for name, value in zip(self.space.names, point, strict=True)
            }
        return proposal

    def snapshot(self) -> bytes:
        """This strategy's whole state (see engine/snapshots.py): a single-metric search's as
        before multi-metric studies, a multi-metric one's with its told losses and counts."""
        state: tuple[Any, ...] = (self._optimizer, self._told, self._failed)
        if self._losses is not None:
            multi = {"losses": self._losses, "asks": self._asks, "kernel_told": self._kernel_told}
            state = (*state, multi)
        return snapshots.dump(state)

    def restore(self, blob: bytes) -> None:
        """Take the state of :meth:`snapshot`; raises SnapshotError if it cannot be read (a
        snapshot from before failures were kept, too: the study then replays its trials)."""
        try:
            state = snapshots.load(blob)
            if len(state) == 2:
                raise snapshots.SnapshotError("the snapshot predates the failure model")
            optimizer, told, failed, *rest = state
            told = int(told)
            failed = [list(point) for point in failed]
            losses, asks, kernel_told = None, 0, None
            if rest:
                (multi,) = rest
                losses = [tuple(float(v) for v in x) for x in multi["losses"]]
                asks = int(multi["asks"])
                kernel_told = None if multi["kernel_told"] is None else int(multi["kernel_told"])
        except snapshots.SnapshotError:
            raise
        except Exception as error:  # noqa: BLE001 - any other shape is a damaged snapshot
            raise snapshots.SnapshotError(f"the snapshot is damaged ({error})") from None
        if optimizer is not None and type(optimizer).__name__ != "Optimizer":
            raise snapshots.SnapshotError("the snapshot holds no scikit-optimize Optimizer")
        self._optimizer, self._told, self._failed = optimizer, told, failed
        self._losses, self._asks, self._kernel_told = losses, asks, kernel_told

    @property
    def optimizer(self) -> Any:
        """The underlying ``skopt.Optimizer`` (for partial dependence plots)."""
        return self._optimizer


def _is_initial(optimizer: Any) -> bool:
    """Whether the optimizer's next ask is one of its initial random points."""
    return optimizer._n_initial_points > 0 or not optimizer.models


def import_scikit_optimize() -> None:
    """Import what Bayesian search and its ask records need (about 2 s, once a process): the
    dashboard calls it on a thread while its landing page is read."""
    import skopt.acquisition  # noqa: PLC0415
    import skopt.learning  # noqa: F401, PLC0415
