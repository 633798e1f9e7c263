"""The Pareto front and hypervolume (engine/pareto.py): hand-made points, then random ones
checked against the definitions (pairwise dominance, a count of grid cells); then the charts
(views/pareto_charts.py) on chart.to_dict()."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from tuning_core.engine.pareto import (
    MAX_EXACT_UPDATES,
    dominates,
    front_indices,
    hypervolume,
    hypervolume_by_trial,
    reference_point,
)
from tuning_core.engine.states import Direction
from tuning_core.views import chart_style, pareto_charts

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


def test_hypervolume_by_trial_in_3d_measures_a_bounded_number_of_fronts_and_ends_exact():
    # Every point on the sphere's octant joins the front: 300 changes, of which only
    # MAX_EXACT_UPDATES are measured, so a recording or race of such points cannot hang a page.
    rng = np.random.default_rng(9)
    points = np.abs(rng.normal(size=(300, 3)))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    directions, reference = [MIN] * 3, (1.1, 1.1, 1.1)
    volumes = hypervolume_by_trial(points, directions, reference)
    assert len(volumes) == len(points)
    assert all(b >= a for a, b in itertools.pairwise(volumes))
    assert len(set(volumes)) <= MAX_EXACT_UPDATES
    assert volumes[-1] == pytest.approx(hypervolume(points, directions, reference))
    for k in (0, 40, 150, 299):  # a value repeated between measured fronts is a lower bound
        exact = hypervolume(points[: k + 1], directions, reference)
        assert volumes[k] <= exact + 1e-12
        assert volumes[k] > 0


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


# --- charts (views/pareto_charts.py), asserted on chart.to_dict() ---------------------------

GOALS = [("val_accuracy", MAX), ("train_seconds", MIN)]


def trials_frame():
    """Ten finished trials of accuracy against seconds, with a tie, a copy and failures."""
    rows = [
        (0, "complete", 0.90, 12.0),  # front
        (1, "complete", 0.95, 30.0),  # front
        (2, "complete", 0.90, 12.0),  # a copy of 0: front
        (3, "complete", 0.85, 12.0),  # dominated by 0
        (4, "complete", 0.80, 5.0),  # front
        (5, "failed", NAN, NAN),
        (6, "pruned", 0.99, 1.0),  # an early epoch's values: never on the front
        (7, "complete", 0.92, 20.0),  # front
        (8, "complete", 0.91, 25.0),  # dominated by 7
        (9, "diverged", 0.10, INF),
    ]
    return pd.DataFrame(rows, columns=["number", "state", "val_accuracy", "train_seconds"])


def _layer(spec, mark, filtered=None):
    for layer in spec["layer"]:
        kind = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        filters = [t["filter"] for t in layer.get("transform", []) if "filter" in t]
        if kind == mark and (filtered is None or filtered in filters):
            return layer
    raise AssertionError(f"no {mark} layer filtered by {filtered}")


def _rows(spec):
    return pd.DataFrame(next(iter(spec["datasets"].values())))


def test_front_frame_marks_complete_finite_front_trials_and_ranks_them():
    frame = pareto_charts.front_frame(trials_frame(), GOALS)
    assert frame.loc[frame["on_front"], "number"].tolist() == [0, 1, 2, 4, 7]
    # The same rule as the engine's, over the complete trials only.
    complete = trials_frame().query("state == 'complete'")
    engine_front = front_indices(complete[["val_accuracy", "train_seconds"]].values, [MAX, MIN])
    assert complete.iloc[engine_front]["number"].tolist() == [0, 1, 2, 4, 7]
    # Ranked along the front by the first goal's value: 0.80, 0.90, 0.90, 0.92, 0.95.
    ranked = frame[frame["on_front"]].sort_values("front_rank")["number"].tolist()
    assert ranked[0] == 4 and sorted(ranked[1:3]) == [0, 2] and ranked[3:] == [7, 1]
    assert frame.loc[~frame["on_front"], "front_rank"].isna().all()
    assert frame["val_accuracy"].equals(trials_frame()["val_accuracy"])  # columns kept
    with pytest.raises(ValueError, match="no column for the metric 'parameters'"):
        pareto_charts.front_frame(trials_frame(), [("parameters", MIN)])
    with pytest.raises(ValueError, match="a metric twice"):
        pareto_charts.front_frame(trials_frame(), [GOALS[0], GOALS[0]])


def test_pareto_chart_highlights_the_front_and_pales_the_rest():
    chart = pareto_charts.pareto_chart(trials_frame(), "train_seconds", "val_accuracy", dict(GOALS))
    spec = chart.to_dict()
    points = _layer(spec, "point")
    opacity = points["encoding"]["opacity"]
    assert opacity["condition"] == {"test": "datum.on_front", "value": 1.0}
    assert opacity["value"] == pareto_charts.DOMINATED_OPACITY < 0.5
    colour = points["encoding"]["color"]["scale"]
    assert colour["domain"] == ["on the front", "dominated"]
    assert colour["range"][0] == chart_style.STATE_COLOURS["complete"]
    # The front's line joins only front points, in front order.
    line = _layer(spec, "line", "datum.on_front")
    assert line["encoding"]["order"]["field"] == "front_rank"
    # Only complete trials with finite values are drawn; the front is the pair's.
    rows = _rows(spec)
    assert sorted(rows["number"]) == [0, 1, 2, 3, 4, 7, 8]
    assert sorted(rows.loc[rows["on_front"], "number"]) == [0, 1, 2, 4, 7]
    assert set(rows.loc[rows["on_front"], "role"]) == {"on the front"}
    assert set(rows.loc[~rows["on_front"], "role"]) == {"dominated"}
    assert "Pareto front: 5 of 7" in spec["title"]
    # Few front points: each is labelled with its trial number.
    labels = _layer(spec, "text", "datum.on_front")
    assert labels["encoding"]["text"]["field"] == "label"


def test_pareto_chart_axes_and_tooltip_say_which_way_is_better():
    spec = pareto_charts.pareto_chart(
        trials_frame(), "train_seconds", "val_accuracy", [MIN, MAX]
    ).to_dict()
    points = _layer(spec, "point")
    assert points["encoding"]["x"]["title"] == "train_seconds (lower is better)"
    assert points["encoding"]["y"]["title"] == "val_accuracy (higher is better)"
    tooltip = {t["title"]: t["field"] for t in points["encoding"]["tooltip"]}
    assert tooltip["trial"] == "number"
    assert tooltip["train_seconds"] == "x" and tooltip["val_accuracy"] == "y"
    rows = _rows(spec).set_index("number")
    assert rows.loc[7, "x"] == 20.0 and rows.loc[7, "y"] == 0.92


def test_the_staircase_turns_at_the_corner_the_front_attains():
    # x minimised: a point's level holds until the next point; x maximised: from the last one.
    for x_direction, step in ((MIN, "step-after"), (MAX, "step-before")):
        spec = pareto_charts.pareto_chart(
            trials_frame(), "train_seconds", "val_accuracy", [x_direction, MAX]
        ).to_dict()
        assert _layer(spec, "line")["mark"]["interpolate"] == step


def test_pareto_chart_selection_is_named_for_streamlit_and_rings_the_selected_trial():
    spec = pareto_charts.pareto_chart(
        trials_frame(), "train_seconds", "val_accuracy", dict(GOALS)
    ).to_dict()
    params = spec["params"]  # Altair lifts a layer's params to the top, naming their view
    assert len(params) == 1
    points = _layer(spec, "point")
    assert params[0]["views"] == [points["name"]]  # clicks land on the trials' points
    assert params[0]["name"] == "trials"  # what st.altair_chart(on_select=...) reports
    assert params[0]["select"]["type"] == "point" and params[0]["select"]["fields"] == ["number"]
    assert not any(
        "datum.number ===" in str(layer.get("transform", "")) for layer in spec["layer"]
    )  # no ring without a selected trial
    ringed = pareto_charts.pareto_chart(
        trials_frame(), "train_seconds", "val_accuracy", dict(GOALS), selected=8
    ).to_dict()
    ring = _layer(ringed, "point", "(datum.number === 8)")
    assert ring["mark"]["filled"] is False and ring["mark"]["size"] > 300


def test_pareto_chart_with_many_front_points_drops_labels_and_odd_metric_names():
    x = np.linspace(0, 1, 30)
    frame = pd.DataFrame(
        {"number": range(30), "state": "complete", "top5.acc": x, "size[MB]": x * 10}
    )
    spec = pareto_charts.pareto_chart(frame, "size[MB]", "top5.acc", [MIN, MAX]).to_dict()
    assert not any(layer["mark"]["type"] == "text" for layer in spec["layer"])
    assert _rows(spec)["on_front"].all()  # a straight trade-off: every point on the front
    assert _layer(spec, "point")["encoding"]["x"]["title"] == "size[MB] (lower is better)"


def test_pareto_chart_of_no_complete_trial_is_empty_not_an_error():
    frame = trials_frame().assign(state="failed")
    spec = pareto_charts.pareto_chart(frame, "train_seconds", "val_accuracy", dict(GOALS))
    assert "0 of 0" in spec.to_dict()["title"]


def test_metric_pairs_put_the_earlier_metric_on_y():
    assert pareto_charts.metric_pairs(["val_accuracy"]) == []
    assert pareto_charts.metric_pairs(["val_accuracy", "train_seconds"]) == [
        ("train_seconds", "val_accuracy")
    ]
    assert pareto_charts.metric_pairs(["a", "b", "c"]) == [("b", "a"), ("c", "a"), ("c", "b")]
    with pytest.raises(ValueError, match="must differ"):
        pareto_charts.metric_pairs(["a", "a"])


def _two_studies():
    first = trials_frame()
    second = trials_frame().assign(
        val_accuracy=lambda f: f["val_accuracy"] - 0.02, train_seconds=lambda f: f["train_seconds"]
    )
    second.loc[10] = [10, "running", 0.99, 0.5]  # unfinished: no point on the line
    return {"bayesian": first, "random": second}


def test_hypervolume_frame_shares_one_reference_across_studies():
    studies = _two_studies()
    frame = pareto_charts.hypervolume_frame(studies, GOALS)
    complete = pd.concat(s[s["state"] == "complete"] for s in studies.values())
    expected_reference = reference_point(
        complete[["val_accuracy", "train_seconds"]].values, [MAX, MIN]
    )
    assert list(frame.attrs["reference"].values()) == pytest.approx(expected_reference)
    assert list(frame.attrs["reference"]) == ["val_accuracy", "train_seconds"]
    for study, trials in studies.items():
        line = frame[frame["study"] == study]
        assert line["trial"].tolist() == list(range(1, 11))  # the running trial left out
        assert line["hypervolume"].is_monotonic_increasing
        done = trials[trials["state"] == "complete"]
        total = hypervolume(done[["val_accuracy", "train_seconds"]].values, [MAX, MIN],
                            expected_reference)  # fmt: skip
        assert line["hypervolume"].iloc[-1] == pytest.approx(total)
        # The pruned trial 6 would beat everything; it keeps the line level instead.
        assert line.loc[line["number"] == 6, "hypervolume"].item() == pytest.approx(
            line.loc[line["number"] == 5, "hypervolume"].item()
        )
    # The shifted study is beaten everywhere, so its line ends lower under the shared corner.
    ends = frame.groupby("study")["hypervolume"].last()
    assert ends["bayesian"] > ends["random"]
    assert "val_accuracy" in pareto_charts.reference_caption(frame)


def test_hypervolume_frame_with_a_given_reference_or_no_complete_trial():
    frame = pareto_charts.hypervolume_frame({"a": trials_frame()}, GOALS, reference=(0.0, 100.0))
    assert frame.attrs["reference"] == {"val_accuracy": 0.0, "train_seconds": 100.0}
    assert frame["hypervolume"].iloc[0] == pytest.approx(0.90 * 88.0)  # trial 0's box
    empty = pareto_charts.hypervolume_frame({"a": trials_frame().assign(state="failed")}, GOALS)
    assert empty.empty and pareto_charts.reference_caption(empty) == ""


def test_hypervolume_chart_draws_one_step_line_per_study():
    frame = pareto_charts.hypervolume_frame(_two_studies(), GOALS)
    spec = pareto_charts.hypervolume_chart(frame).to_dict()
    assert spec["mark"]["type"] == "line" and spec["mark"]["interpolate"] == "step-after"
    assert spec["encoding"]["x"]["field"] == "trial"
    assert spec["encoding"]["y"]["field"] == "hypervolume"
    assert spec["encoding"]["y"]["title"] == "hypervolume (higher is better)"
    colour = spec["encoding"]["color"]
    assert colour["field"] == "study" and colour["scale"]["domain"] == ["bayesian", "random"]
    rows = _rows(spec)
    assert rows.groupby("study").size().to_dict() == {"bayesian": 10, "random": 10}
