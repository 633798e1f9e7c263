"""The Pareto front and its hypervolume, for studies with several metrics.

A point is one trial's metric values, in the order of ``directions`` (one ``Direction`` per
metric). Point ``a`` *dominates* ``b`` when ``a`` is no worse than ``b`` in every metric and
strictly better in at least one; the *front* is the points no other point dominates.

Rules every function here keeps:

- Identical points do not dominate each other, so every copy of a front point is on the front.
- A point with a NaN or infinite component (a failed or diverged measure) is never on the front,
  never dominates and adds no hypervolume.
- Maximised metrics are negated internally, so the arithmetic always minimises.

The *hypervolume* of a set of points with respect to a reference point is the volume (area in
2-D) of the region that some point dominates and that is strictly better than the reference:
one number that grows when the front moves towards the better corner or widens. It compares
fronts only when they share the reference point (``reference_point`` makes one from all the
points being compared).

Pure Python and numpy: the engine imports no pandas.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from tuning_core.engine.states import Direction

Point = Sequence[float]

# A study optimises at most this many metrics: the exact hypervolume by slicing costs about
# O(front^(m-1)), 0.04 s for a 3-D front of 300 points but 0.9 s for a 5-D front of 60 and 16 s
# for its hypervolume after each trial, so a spec, recording or race of more would hang a page.
MAX_METRICS = 3
# With three metrics, how many changes of the front hypervolume_by_trial measures exactly.
MAX_EXACT_UPDATES = 50


def _directions(directions: Sequence[Direction | str]) -> list[Direction]:
    """The directions as members; a string that is not one of them gets one sentence."""
    if len(directions) == 0:
        raise ValueError("directions must name at least one metric's direction.")
    members = []
    for i, direction in enumerate(directions):
        try:
            members.append(Direction(direction))
        except ValueError:
            raise ValueError(
                f"directions[{i}] is {direction!r}; it must be 'minimize' or 'maximize'."
            ) from None
    return members


def _signs(directions: Sequence[Direction]) -> np.ndarray:
    return np.array([d.sign for d in directions], dtype=float)


def _as_losses(points: Sequence[Point], directions: Sequence[Direction]) -> np.ndarray:
    """The points as an (n, m) float array to minimise (maximised columns negated)."""
    m = len(directions)
    for i, point in enumerate(points):
        if len(point) != m:
            raise ValueError(
                f"points[{i}] has {len(point)} values; each point needs one per direction ({m})."
            )
    array = np.asarray(points, dtype=float).reshape(len(points), m)
    return array * _signs(directions)


def _reference_losses(reference: Point, directions: Sequence[Direction]) -> np.ndarray:
    if len(reference) != len(directions):
        raise ValueError(
            f"reference has {len(reference)} values; it needs one per direction "
            f"({len(directions)})."
        )
    ref = np.asarray(reference, dtype=float)
    if not np.all(np.isfinite(ref)):
        raise ValueError(f"reference must be finite in every metric, not {list(reference)}.")
    return ref * _signs(directions)


def dominates(a: Point, b: Point, directions: Sequence[Direction | str]) -> bool:
    """Whether ``a`` dominates ``b``: no worse in every metric, strictly better in one.

    False when either point has a NaN or infinite component, and for identical points.
    """
    losses = _as_losses([a, b], _directions(directions))
    if not np.all(np.isfinite(losses)):
        return False
    return bool(np.all(losses[0] <= losses[1]) and np.any(losses[0] < losses[1]))


def _front_mask(losses: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of a finite (n, m) array to minimise."""
    n, m = losses.shape
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    # Lexicographic order: a point can only be dominated by points before it or by none.
    order = np.lexsort(losses.T[::-1])
    ordered = losses[order]
    # Where each run of identical points starts, so copies never count against each other.
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    if m == 1:
        mask[order] = ordered[:, 0] == ordered[0, 0]
        return mask
    if m == 2:
        # Sweep: every point before a run (in lexicographic order) is no worse in the first
        # metric and differs from it, so it dominates the run iff its second value is <= ours.
        y = ordered[:, 1]
        before = np.concatenate(([np.inf], np.minimum.accumulate(y)))[run_start]
        mask[order] = y < before
        return mask
    # m >= 3: compare each point with the front found so far (transitivity: a dominated point
    # is dominated by some front point earlier in the order).
    front = np.empty_like(ordered)
    size = 0
    for k in range(n):
        if k != run_start[k]:  # a copy of the previous point: the same verdict
            on = mask[order[k - 1]]
        else:
            current = front[:size]
            on = not np.any(
                np.all(current <= ordered[k], axis=1) & np.any(current < ordered[k], axis=1)
            )
        if on:
            front[size] = ordered[k]
            size += 1
        mask[order[k]] = on
    return mask


def front_indices(points: Sequence[Point], directions: Sequence[Direction | str]) -> list[int]:
    """Indices of the non-dominated points, in input order.

    All copies of an identical front point are on the front; points with a NaN or infinite
    component are never on it. Two metrics: a sort and one sweep, O(n log n). More: each point
    is checked against the front so far, O(n * front size).
    """
    losses = _as_losses(points, _directions(directions))
    finite = np.all(np.isfinite(losses), axis=1)
    where = np.flatnonzero(finite)
    mask = _front_mask(losses[where])
    return [int(i) for i in where[mask]]


def _area_2d(losses: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by finite 2-D points (all strictly below ``ref``), dominated ones too."""
    order = np.lexsort((losses[:, 1], losses[:, 0]))
    x, y = losses[order, 0], losses[order, 1]
    # Sweep by x: a point whose y beats every earlier y adds the slab [x, ref_x) x [y, lowest).
    lowest = np.concatenate(([ref[1]], np.minimum.accumulate(y)[:-1]))
    gain = y < lowest
    return float(np.sum((ref[0] - x[gain]) * (lowest[gain] - y[gain])))


def _volume(losses: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of points strictly below ``ref`` (any dimension, by slicing)."""
    n, m = losses.shape
    if n == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - losses[:, 0].min())
    if m == 2:
        return _area_2d(losses, ref)
    # Only the front matters, without copies; then slice along the last metric: between two
    # consecutive values, the section is the (m-1)-D volume of the points at or below it.
    losses = np.unique(losses[_front_mask(losses)], axis=0)
    losses = losses[np.argsort(losses[:, -1], kind="stable")]
    z = np.concatenate((losses[:, -1], [ref[-1]]))
    total = 0.0
    for k in range(len(losses)):
        depth = z[k + 1] - z[k]
        if depth > 0:
            total += depth * _volume(losses[: k + 1, :-1], ref[:-1])
    return total


def _inside(losses: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Rows that are finite and strictly better than the reference in every metric."""
    return np.all(np.isfinite(losses), axis=1) & np.all(losses < ref, axis=1)


def hypervolume(
    points: Sequence[Point],
    directions: Sequence[Direction | str],
    reference: Point,
) -> float:
    """The exact hypervolume the points dominate with respect to ``reference``.

    A point that is not strictly better than the reference in every metric, or that has a
    NaN or infinite component, adds nothing; no points give 0.0. Two metrics: one sweep,
    O(n log n). Three or more: slicing along one metric over the front, exact and meant for
    fronts up to a few hundred points. ``reference`` must be finite, one value per metric.
    """
    members = _directions(directions)
    losses = _as_losses(points, members)
    ref = _reference_losses(reference, members)
    return _volume(losses[_inside(losses, ref)], ref)


def hypervolume_by_trial(
    points_in_trial_order: Sequence[Point],
    directions: Sequence[Direction | str],
    reference: Point,
) -> list[float]:
    """The hypervolume of the first k points, for k = 1..n (one value per point).

    Non-decreasing, and the last value is ``hypervolume`` of all the points. A point that
    leaves the front unchanged (dominated, a copy, non-finite or outside the reference)
    repeats the previous value; otherwise only the current front is measured again. With
    three metrics or more and over ``MAX_EXACT_UPDATES`` changes of the front, only that many
    are measured (evenly spread, the last included): between them a value repeats, a lower
    bound of the exact one.
    """
    members = _directions(directions)
    losses = _as_losses(points_in_trial_order, members)
    ref = _reference_losses(reference, members)
    inside = _inside(losses, ref)
    if len(members) == 2:
        return _area_by_point(losses, inside, ref)
    # Which points change the front, and the front after each of them (cheap: no volume yet).
    front = np.empty((0, len(members)))
    fronts: dict[int, np.ndarray] = {}
    for k in range(len(losses)):
        point = losses[k]
        if inside[k] and not np.any(np.all(front <= point, axis=1)):
            # Not weakly dominated: it joins the front and drops the points it dominates.
            keep = ~np.all(point <= front, axis=1)
            front = np.vstack((front[keep], point))
            fronts[k] = front
    # Each exact volume costs O(front^(m-1)); past MAX_EXACT_UPDATES changes of the front, only
    # that many (evenly spread, the last always) are measured and the others repeat the value
    # before them, so the curve stays a lower bound that ends exact, in bounded time.
    changes = sorted(fronts)
    if len(changes) > MAX_EXACT_UPDATES:
        picks = np.linspace(0, len(changes) - 1, MAX_EXACT_UPDATES).round().astype(int)
        changes = [changes[i] for i in sorted(set(picks.tolist()))]
    measured = {k: _volume(fronts[k], ref) for k in changes}
    volume = 0.0
    volumes: list[float] = []
    for k in range(len(losses)):
        volume = measured.get(k, volume)
        volumes.append(volume)
    return volumes


def _area_by_point(losses: np.ndarray, inside: np.ndarray, ref: np.ndarray) -> list[float]:
    """2-D ``hypervolume_by_trial``: each new front point adds only its own staircase slab.

    The front is kept sorted by the first metric (so the second decreases); a new point's
    gain is the area under the old staircase and above it, walked over the front points it
    dominates, which it then replaces. O(n log n) plus list inserts, where recomputing the
    area at each change would be O(n^2 log n) when every point lands on the front.
    """
    xs: list[float] = []
    ys: list[float] = []
    area = 0.0
    areas: list[float] = []
    for k in range(len(losses)):
        px, py = float(losses[k, 0]), float(losses[k, 1])
        below = bisect.bisect_right(xs, px)
        if inside[k] and not (below > 0 and ys[below - 1] <= py):
            start = bisect.bisect_left(xs, px)
            height = ys[start - 1] if start > 0 else float(ref[1])
            x, end = px, start
            while end < len(xs) and ys[end] > py:  # no better in x, worse in y: dominated
                area += (xs[end] - x) * (height - py)
                x, height = xs[end], ys[end]
                end += 1
            area += ((xs[end] if end < len(xs) else float(ref[0])) - x) * (height - py)
            xs[start:end] = [px]
            ys[start:end] = [py]
        areas.append(area)
    return areas


def reference_point(
    points: Sequence[Point],
    directions: Sequence[Direction | str],
    margin: float = 0.1,
) -> tuple[float, ...]:
    """A default reference point: per metric, just beyond the worst finite value.

    Per metric, over the finite values of that metric: the worst value (the largest when
    minimised, the smallest when maximised) moved further in the worse direction by
    ``margin`` times the range of the values, or times |worst| when the range is 0, or by
    ``margin`` itself when that is 0 too. So every finite point, the worst ones included,
    adds a little volume. Compute it once over all the studies being compared, so their
    hypervolumes share it. A metric with no finite value gets one sentence.
    """
    members = _directions(directions)
    losses = _as_losses(points, members)
    if not (margin >= 0 and np.isfinite(margin)):
        raise ValueError(f"margin must be a finite number >= 0, not {margin!r}.")
    reference = []
    for j, direction in enumerate(members):
        column = losses[:, j]
        column = column[np.isfinite(column)]
        if len(column) == 0:
            raise ValueError(f"metric {j} has no finite value to place a reference point by.")
        worst, spread = float(column.max()), float(column.max() - column.min())
        scale = spread if spread > 0 else abs(worst) if worst != 0 else 1.0
        reference.append(direction.sign * (worst + margin * scale))
    return tuple(reference)
