"""The Pareto front and hypervolume (engine/pareto.py): hand-made points, then random ones
checked against the definitions (pairwise dominance, a count of grid cells)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tuning_core.engine.pareto import (
    dominates,
    front_indices,
    hypervolume,
    hypervolume_by_trial,
    reference_point,
)
from tuning_core.engine.states import Direction

MIN, MAX = Direction.MINIMIZE, Direction.MAXIMIZE
NAN, INF = float("nan"), float("inf")


def brute_front(points, directions):
    """The definition: finite points that no point dominates."""
    return [
        i
        for i, p in enumerate(points)
        if all(math.isfinite(v) for v in p) and not any(dominates(q, p, directions) for q in points)
    ]


def grid_volume(points, reference):
    """Unit cells of the integer grid below ``reference`` (all minimised) that a point covers.

    With integer coordinates a cell [c, c+1) is covered exactly when some point is <= c."""
    lows = np.min(np.asarray(points), axis=0)
    ranges = [range(int(lo), int(r)) for lo, r in zip(lows, reference, strict=True)]
    return sum(
        1 for cell in itertools.product(*ranges) if any(all(np.asarray(p) <= cell) for p in points)
    )


# --- dominance and the front ---------------------------------------------------------------


def test_dominates_needs_no_worse_everywhere_and_better_somewhere():
    assert dominates([1, 1], [2, 2], [MIN, MIN])
    assert dominates([1, 2], [2, 2], [MIN, MIN])  # better in one, equal in the other
    assert not dominates([1, 3], [2, 2], [MIN, MIN])  # a trade-off
    assert not dominates([1, 1], [1, 1], [MIN, MIN])  # identical points
    assert dominates([0.9, 10], [0.8, 20], [MAX, MIN])  # more accurate and faster
    assert not dominates([0.9, 30], [0.8, 20], [MAX, MIN])
    assert dominates([0.9, 10], [0.8, 20], ["maximize", "minimize"])  # stored strings


def test_non_finite_points_never_dominate_nor_are_dominated():
    assert not dominates([NAN, 0], [1, 1], [MIN, MIN])
    assert not dominates([0, 0], [NAN, 5], [MIN, MIN])
    assert not dominates([-INF, 0], [1, 1], [MIN, MIN])


def test_front_of_accuracy_against_seconds_with_ties_duplicates_and_nan():
    # (val_accuracy, train_seconds): maximise the first, minimise the second.
    trials = [
        (0.90, 12.0),  # 0 front
        (0.95, 30.0),  # 1 front: the most accurate
        (0.90, 12.0),  # 2 a copy of 0: on the front too
        (0.85, 12.0),  # 3 as fast as 0, less accurate: dominated
        (0.80, 5.0),  # 4 front: the fastest
        (0.95, 31.0),  # 5 as accurate as 1, slower: dominated
        (NAN, 1.0),  # 6 a failed measure: never on the front...
        (0.99, INF),  # 7 ...and neither is an infinite one
        (0.92, 20.0),  # 8 front: between 0 and 1
        (0.91, 25.0),  # 9 dominated by 8
    ]
    assert front_indices(trials, [MAX, MIN]) == [0, 1, 2, 4, 8]
    # The NaN point did not knock out the point it would beat.
    assert 4 in front_indices(trials, [MAX, MIN])


def test_front_with_directions_flipped_is_the_other_corner():
    points = [(1, 1), (2, 2), (1, 2), (2, 1)]
    assert front_indices(points, [MIN, MIN]) == [0]
    assert front_indices(points, [MAX, MAX]) == [1]
    assert front_indices(points, [MIN, MAX]) == [2]
    assert front_indices(points, [MAX, MIN]) == [3]


def test_front_edge_cases():
    assert front_indices([], [MIN, MAX]) == []
    assert front_indices([(NAN, NAN)], [MIN, MIN]) == []
    assert front_indices([(3,), (1,), (1,), (2,)], [MIN]) == [1, 2]  # one metric: the best ties
    assert front_indices([(5, 5, 5)] * 3, [MIN, MIN, MIN]) == [0, 1, 2]


@pytest.mark.parametrize("metrics", [2, 3, 4])
def test_front_matches_pairwise_dominance_on_random_points(metrics):
    rng = np.random.default_rng(7 + metrics)
    for _ in range(60):
        n = int(rng.integers(1, 40))
        # Few distinct values, so ties and copies are common.
        points = rng.integers(0, 4, size=(n, metrics)).astype(float)
        if rng.random() < 0.4:
            points[rng.integers(n), rng.integers(metrics)] = rng.choice([NAN, INF, -INF])
        directions = [MIN if rng.random() < 0.5 else MAX for _ in range(metrics)]
        listed = points.tolist()
        assert front_indices(listed, directions) == brute_front(listed, directions)


def test_bad_input_gets_one_sentence_naming_the_field():
    with pytest.raises(ValueError, match=r"points\[1\] has 3 values"):
        front_indices([(1, 2), (1, 2, 3)], [MIN, MIN])
    with pytest.raises(ValueError, match=r"directions\[1\] is 'up'"):
        front_indices([(1, 2)], [MIN, "up"])
    with pytest.raises(ValueError, match="reference has 1 values"):
        hypervolume([(1, 2)], [MIN, MIN], [3])
    with pytest.raises(ValueError, match="reference must be finite"):
        hypervolume([(1, 2)], [MIN, MIN], [3, NAN])


# --- hypervolume -----------------------------------------------------------------------------


def test_hypervolume_of_a_2d_staircase_by_hand():
    # Unions of [x, 4) x [y, 4): columns of height 1, 2 and 3.
    assert hypervolume([(1, 3), (2, 2), (3, 1)], [MIN, MIN], (4, 4)) == pytest.approx(6.0)
    # Accuracy (maximised) against seconds: boxes [acc_ref, acc] x [s, s_ref).
    # (0.9, 10) covers 0.4 x 20 = 8; (0.7, 5) adds 0.2 x 5 = 1.
    trials = [(0.9, 10.0), (0.7, 5.0)]
    assert hypervolume(trials, [MAX, MIN], (0.5, 30.0)) == pytest.approx(9.0)


def test_hypervolume_of_3d_boxes_by_hand():
    assert hypervolume([(0, 0, 0)], [MIN] * 3, (1, 2, 3)) == pytest.approx(6.0)
    # Boxes of 4 and 2 sharing the unit cube [1,2)^3: 4 + 2 - 1.
    assert hypervolume([(0, 0, 1), (1, 1, 0)], [MIN] * 3, (2, 2, 2)) == pytest.approx(5.0)
    # The same with the last two metrics maximised (negated around the reference).
    assert hypervolume([(0, 0, -1), (1, -1, 0)], [MIN, MAX, MAX], (2, -2, -2)) == pytest.approx(5.0)


def test_points_not_strictly_inside_the_reference_add_nothing():
    reference = (4, 4)
    assert hypervolume([], [MIN, MIN], reference) == 0.0
    assert hypervolume([(4, 1), (1, 5), (NAN, 0), (0, INF)], [MIN, MIN], reference) == 0.0
    inside = hypervolume([(2, 2)], [MIN, MIN], reference)
    with_outside = hypervolume([(2, 2), (0, 4), (5, 0), (NAN, 0)], [MIN, MIN], reference)
    assert with_outside == inside == pytest.approx(4.0)


@pytest.mark.parametrize("metrics", [2, 3, 4])
def test_hypervolume_equals_a_count_of_grid_cells(metrics):
    rng = np.random.default_rng(100 + metrics)
    reference = [6] * metrics
    for _ in range(15):
        points = rng.integers(0, 6, size=(int(rng.integers(1, 12)), metrics)).tolist()
        assert hypervolume(points, [MIN] * metrics, reference) == pytest.approx(
            grid_volume(points, reference)
        )


def test_hypervolume_against_monte_carlo_with_mixed_directions():
    rng = np.random.default_rng(3)
    directions = [MAX, MIN, MIN]
    points = np.c_[rng.random(30), rng.random(30), rng.random(30)]
    reference = (0.0, 1.0, 1.0)
    samples = rng.random((200_000, 3))
    covered = np.zeros(len(samples), dtype=bool)
    for p in points:
        covered |= (samples[:, 0] < p[0]) & (samples[:, 1] > p[1]) & (samples[:, 2] > p[2])
    estimate = covered.mean()  # the reference box is the unit cube
    assert hypervolume(points.tolist(), directions, reference) == pytest.approx(estimate, abs=0.01)


@pytest.mark.parametrize("metrics", [2, 3])
def test_hypervolume_ignores_order_and_dominated_points(metrics):
    rng = np.random.default_rng(11)
    points = rng.random((40, metrics))
    reference = [1.1] * metrics
    volume = hypervolume(points, [MIN] * metrics, reference)
    assert hypervolume(points[rng.permutation(40)], [MIN] * metrics, reference) == pytest.approx(
        volume
    )
    front = points[front_indices(points, [MIN] * metrics)]
    assert hypervolume(front, [MIN] * metrics, reference) == pytest.approx(volume)
    worse = points + rng.random((40, metrics)) * 0.05  # each dominated by its original
    both = np.vstack((points, worse, points))  # and copies
    assert hypervolume(both, [MIN] * metrics, reference) == pytest.approx(volume)


@pytest.mark.parametrize("metrics", [2, 3])
def test_hypervolume_by_trial_grows_to_the_total(metrics):
    rng = np.random.default_rng(21)
    directions = [MAX] + [MIN] * (metrics - 1)
    points = rng.integers(0, 8, size=(60, metrics)).astype(float)  # copies and ties
    points[5, 1] = NAN
    reference = reference_point(points, directions)
    volumes = hypervolume_by_trial(points, directions, reference)
    assert len(volumes) == len(points)
    assert all(b >= a for a, b in itertools.pairwise(volumes))
    for k in (0, 4, 5, 17, 59):  # each value is the volume of the trials so far
        assert volumes[k] == pytest.approx(hypervolume(points[: k + 1], directions, reference))
    assert volumes[-1] > volumes[0] > 0


def test_hypervolume_by_trial_when_every_point_joins_the_front():
    # Anti-correlated points: each new one lands on the front and may replace others.
    rng = np.random.default_rng(5)
    x = rng.random(2000)
    points = np.c_[x, 1 - x + rng.normal(0, 0.01, 2000)]
    volumes = hypervolume_by_trial(points, [MIN, MIN], (1.5, 1.5))
    assert all(b >= a for a, b in itertools.pairwise(volumes))
    assert volumes[-1] == pytest.approx(hypervolume(points, [MIN, MIN], (1.5, 1.5)))


def test_reference_point_is_just_beyond_the_worst_value():
    trials = [(0.9, 10.0), (0.8, 30.0), (NAN, 99.0)]
    acc_ref, seconds_ref = reference_point(trials, [MAX, MIN], margin=0.1)
    assert acc_ref == pytest.approx(0.8 - 0.1 * 0.1)  # worst accuracy minus a tenth of the range
    assert seconds_ref == pytest.approx(99.0 + 0.1 * 89.0)  # 99 is finite: it counts
    assert hypervolume(trials, [MAX, MIN], (acc_ref, seconds_ref)) > 0
    # A range of 0: a tenth of |worst|; a worst of 0 as well: the margin itself.
    assert reference_point([(2.0, 0.0), (2.0, 0.0)], [MIN, MAX]) == pytest.approx((2.2, -0.1))
    with pytest.raises(ValueError, match="metric 1 has no finite value"):
        reference_point([(1.0, NAN)], [MIN, MIN])


def test_every_finite_point_adds_volume_with_the_default_reference():
    rng = np.random.default_rng(2)
    points = rng.random((20, 2))
    reference = reference_point(points, [MIN, MIN])
    for i in front_indices(points, [MIN, MIN]):
        assert hypervolume(points[[i]], [MIN, MIN], reference) > 0
