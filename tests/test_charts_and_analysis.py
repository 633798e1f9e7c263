"""Pure data and chart functions, asserted on DataFrames and chart.to_dict()."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import MNIST_DIR, digits_spec
from tests.seeding import SEEDED_SPEC, seed_store
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.reports import frames, start_check
from tuning_core.views import (
    chart_style,
    compare_charts,
    curve_charts,
    forms,
    lab_charts,
    live,
    pruning_marks,
)


@pytest.fixture
def seeded(storage: Path):
    seed_store(storage)
    with Store(storage) as store:
        study = store.get_study("seeded")
        trials = frames.trials_frame(store.trials(study.id), study.spec)
        curves = frames.curves_frame(store.epoch_metrics(study.id), trials)
    return study, trials, curves


def _layers(chart_dict: dict) -> list[dict]:
    return chart_dict.get("layer") or [chart_dict]


def _chart_rows(spec: dict) -> pd.DataFrame:
    return pd.DataFrame(
        spec["datasets"][spec["data"]["name"]]
        if "data" in spec
        else next(iter(spec["datasets"].values()))
    )


def test_curves_chart_colours_by_learning_rate_on_a_log_scale_and_marks_divergence(seeded) -> None:
    _, _, curves = seeded
    spec = curve_charts.curves_chart(
        curves,
        "loss",
        "learning_rate",
        True,
        chart_style.trial_selection(),
        color_domain=(1e-4, 10.0),
    ).to_dict()
    # Eleven trials: past the direct-label limit, so the gradient and its bar stay.
    lines, points, crosses, labels, *_, legend = _layers(spec)
    assert (
        legend["encoding"]["color"]["scale"]["type"] == "log"
        and lines["encoding"]["color"].get("legend") is None
    )
    assert lines["encoding"]["color"]["field"] == "learning_rate"
    assert lines["encoding"]["color"]["scale"]["type"] == "log"
    # The domain is the study's range, so colours stay put as trials arrive.
    assert lines["encoding"]["color"]["scale"]["domain"] == [1e-4, 10.0]
    assert lines["encoding"]["strokeDash"]["condition"]["test"] == "datum.diverged"
    assert crosses["mark"]["shape"] == chart_style.DIVERGED_SHAPE  # an ×, as the captions say
    assert labels["mark"]["type"] == "text" and labels["encoding"]["text"]["field"] == "label"
    data = _chart_rows(spec)
    assert set(data["number"]) == set(range(11))  # nine complete, one diverged, one running
    assert (
        data["value"].max() <= 1.5 * data.loc[~data["diverged"], "value"].max()
    )  # a diverged loss is clipped
    assert data.loc[data["diverged"], "number"].unique().tolist() == [9]
    # Epochs are counted from 1, as Keras prints them.
    assert (data[(data["number"] == 0) & ~data["marker"]]["epoch"].tolist()) == [1, 2, 3, 4, 5]
    marker = data[data["kind"] == "diverged"]
    assert marker["number"].tolist() == [9]
    rate = data.loc[data["number"] == 9, "learning_rate"].iloc[0]
    assert marker["label"].tolist() == [f"lr = {rate:.3g}, diverged at epoch 1: loss 60"]
    # Beyond ten lines only the running trial (10) is named at its end (no best was given).
    ends = data[data["kind"] == "end"]
    assert ends["number"].tolist() == [10] and ends["label"].iloc[0].startswith("lr = ")


def test_up_to_ten_lines_are_named_at_their_ends_in_discrete_colours(seeded) -> None:
    _, _, curves = seeded
    few = curves[curves["number"] < 5]
    spec = curve_charts.curves_chart(few, "loss", "learning_rate", True, best_number=2).to_dict()
    layers = _layers(spec)
    lines = layers[0]
    assert lines["encoding"]["color"]["field"] == "number"
    assert lines["encoding"]["color"]["type"] == "nominal"
    assert lines["encoding"]["color"]["legend"] is None
    # No gradient bar: no layer carries a colour legend.
    assert all(
        layer.get("encoding", {}).get("color", {}).get("legend", None) is None
        for layer in layers
        if "encoding" in layer and "color" in layer["encoding"]
    )
    names = [layer for layer in layers if "datum.kind == 'end'" in str(layer.get("transform"))]
    assert any(layer["mark"].get("color") != "white" for layer in names)
    data = _chart_rows(spec)
    ends = data[data["kind"] == "end"].sort_values("number")
    expected = [curve_charts.line_label("learning_rate", rate, 0) for rate in ends["learning_rate"]]
    assert ends["number"].tolist() == [0, 1, 2, 3, 4] and ends["label"].tolist() == expected
    assert all(label.startswith("lr = ") for label in expected)
    # Labels that would meet are pushed apart by at least 10% of the value range.
    gaps = ends["label_value"].sort_values().diff().dropna()
    span = (
        data.loc[data["kind"] == "curve", "value"].max()
        - data.loc[data["kind"] == "curve", "value"].min()
    )
    assert (gaps >= 0.1 * span - 1e-12).all()


def _accuracy_curves(ends: dict[int, float], state_of: dict[int, str]) -> pd.DataFrame:
    """val_accuracy curves of 5 epochs rising from 0.1 to each trial's end value."""
    rows = [
        (number, epoch, "val_accuracy", 0.1 + (end - 0.1) * epoch / 4,
         state_of.get(number, TrialState.COMPLETE.value), 10.0 ** (-3 + number / 4))
        for number, end in ends.items()
        for epoch in range(5)
    ]  # fmt: skip
    columns = ["number", "epoch", "metric", "value", "state", "learning_rate"]
    return pd.DataFrame(rows, columns=columns)


def test_end_labels_keep_a_tenth_of_the_axis_apart_and_under_its_highest_line() -> None:
    # Twelve lines (a gradient): only the best (7) and the running (3) are named, and they end
    # close together; the tenth is of every line's range, not of the two named ones'.
    ends = {number: 0.2 + 0.06 * number for number in range(12)}
    ends.update({3: 0.701, 7: 0.71})
    curves = _accuracy_curves(ends, {3: TrialState.RUNNING.value})
    rows = _chart_rows(curve_charts.curves_chart(curves, "val_accuracy", best_number=7).to_dict())
    named = rows[rows["kind"] == "end"].set_index("number")["label_value"]
    assert sorted(named.index) == [3, 7]
    span = curves["value"].max() - curves["value"].min()
    assert abs(named[7] - named[3]) >= 0.1 * span - 1e-12
    # Four lines ending near the top: named apart, and none above the highest line's end, so
    # the axis of an accuracy does not run past 1.
    top = {0: 0.95, 1: 0.96, 2: 0.97, 3: 0.975}
    rows = _chart_rows(
        curve_charts.curves_chart(_accuracy_curves(top, {}), "val_accuracy").to_dict()
    )
    heights = rows.loc[rows["kind"] == "end", "label_value"].sort_values()
    assert len(heights) == 4 and heights.max() <= 0.975 + 1e-12
    gap = 0.1 * (0.975 - 0.1)
    assert (heights.diff().dropna() >= gap - 1e-12).all()
    # An audited run ending among them is labelled below the top too, off the lines' labels.
    audited = pd.DataFrame(
        {"number": [5], "epoch": [4.0], "value": [0.96], "metric": ["val_accuracy"],
         "won": [False], "label": ["trial 5 in full"], "why": [""]}
    )  # fmt: skip
    taken = heights.tolist()
    end = pruning_marks.audit_rows(audited, "val_accuracy", taken, gap, 0.975)[-1]
    assert end["kind"] == "audit_end" and end["label_value"] <= 0.975 + 1e-12
    assert min(abs(end["label_value"] - h) for h in taken) >= 0.999 * gap
    # Fourteen running lines named on a gradient: more than fit in the range, still apart, and
    # none below the lowest line.
    many = {number: 0.9 + 0.001 * number for number in range(14)}
    running = {number: TrialState.RUNNING.value for number in many}
    rows = _chart_rows(
        curve_charts.curves_chart(_accuracy_curves(many, running), "val_accuracy").to_dict()
    )
    heights = rows.loc[rows["kind"] == "end", "label_value"].sort_values()
    assert len(heights) == 14 and heights.min() >= 0.1 - 1e-12
    assert (heights.diff().dropna() >= 0.1 * (0.913 - 0.1) - 1e-12).all()


def test_line_labels_read_as_a_lecturer_would_say_them() -> None:
    assert curve_charts.line_label("learning_rate", 0.1, 3) == "lr = 0.1"
    assert curve_charts.line_label("learning_rate", 0.001, 0) == "lr = 0.001"
    assert curve_charts.line_label("batch_size", 64, 0) == "batch_size = 64"
    assert curve_charts.line_label(None, None, 7) == "trial 7"
    assert curve_charts.line_label("optimizer", "adam", 1) == "adam"


def test_lines_without_a_numeric_colour_are_named_by_their_shape_without_a_legend(seeded) -> None:
    _, _, curves = seeded
    few = curves[curves["number"] < 4]
    spec = curve_charts.curves_chart(few, "loss", None, shape_field="optimizer").to_dict()
    ends = _chart_rows(spec).query("kind == 'end'")
    assert set(ends["label"]) == {"sgd", "adam"}
    shapes = [
        layer["encoding"]["shape"]
        for layer in _layers(spec)
        if "shape" in layer.get("encoding", {})
    ]
    assert shapes and all(shape["legend"] is None for shape in shapes)


def _store_with_a_run_that_blew_up_in_its_first_epoch(storage: Path) -> tuple:
    """Like the lab's lr 10 on digits: one good run, one that blew up mid-epoch 1, so the
    diverged run has in-epoch losses but no epoch row."""
    spec = parse_spec(
        forms.learning_rate_comparison_spec(
            "blowup", "digits", "mlp", "sgd", [0.1, 10.0], 3, 32, 200
        )
    )
    with Store(storage) as store:
        study_id = store.create_study(spec)
        good = store.start_trial(study_id, 0, {"learning_rate": 0.1})
        for epoch in range(3):
            store.add_epoch_metrics(
                good, epoch, {"loss": 1.5 - 0.4 * epoch, "val_accuracy": 0.6 + 0.1 * epoch}
            )
        store.finish_trial(good, TrialState.COMPLETE, 0.8)
        bad = store.start_trial(study_id, 1, {"learning_rate": 10.0})
        for progress, loss in [(0.25, 2.4), (0.5, 9.0), (0.75, 353.0)]:
            store.add_batch_loss(bad, progress, loss)
        store.finish_trial(
            bad,
            TrialState.DIVERGED,
            error="diverged at epoch 0: the loss exploded to 353",
        )
        study = store.get_study("blowup")
        trials = frames.trials_frame(store.trials(study.id), study.spec)
        batch_rows = [(1, p, v) for p, v in store.batch_losses(study.id, 1)]
        curves = frames.curves_frame(store.epoch_metrics(study.id), trials, batch_rows)
    return study, trials, curves


def test_a_run_that_diverged_in_its_first_epoch_is_drawn_up_to_its_blow_up(storage: Path) -> None:
    study, trials, curves = _store_with_a_run_that_blew_up_in_its_first_epoch(storage)
    colouring = live.curve_colouring(study.spec)
    assert colouring == live.Colouring("learning_rate", True, (0.1, 10.0))
    loss = curve_charts.curves_chart(
        curves, "loss", colouring.field, colouring.log, color_domain=colouring.domain
    ).to_dict()
    rows = _chart_rows(loss)
    blown = rows[rows["number"] == 1]
    # Its in-epoch losses, inside epoch 1, clipped to 1.5x the other run's highest loss.
    assert blown.loc[~blown["marker"], "epoch"].tolist() == [0.25, 0.5, 0.75]
    assert blown["value"].max() == pytest.approx(1.5 * 1.5)
    assert blown["diverged"].all()
    assert blown.loc[blown["marker"], "label"].tolist() == [
        "lr = 10, diverged at epoch 1: loss 353"
    ]
    # The accuracy chart marks where it blew up too, at the bottom of the others' range.
    accuracy = _chart_rows(
        curve_charts.curves_chart(curves, "val_accuracy", colouring.field, colouring.log).to_dict()
    )
    marker = accuracy[accuracy["kind"] == "diverged"]
    assert marker["label"].tolist() == ["lr = 10, diverged at epoch 1"]
    assert accuracy.loc[accuracy["kind"] == "end", "label"].tolist() == ["lr = 0.1"]
    assert marker["epoch"].tolist() == [0.75] and marker["value"].tolist() == [0.6]
    # Its in-epoch rows are not epochs.
    assert live.epochs_recorded(curves) == 3
    # The lab's bars: the diverged run is labelled, not a zero-height bar.
    finals = frames.final_metrics(curves, trials)
    assert finals.set_index("learning_rate")["outcome"].to_dict() == {
        0.1: "80%",
        10.0: "diverged",
    }
    bars = lab_charts.final_accuracy_bars(finals).to_dict()
    assert [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in bars["layer"]
    ] == ["bar", "point", "text"]


def _trial_colour_domains(spec: dict) -> list[list[int]]:
    """The domains of the per-trial colour scales in a curves chart's layers."""
    return [
        layer["encoding"]["color"]["scale"].get("domain")
        for layer in _layers(spec)
        if layer.get("encoding", {}).get("color", {}).get("field") == "number"
    ]


def test_a_trial_keeps_its_colour_on_every_chart_when_another_has_no_line(
    storage: Path,
) -> None:
    # Trial 1 blew up in its first epoch: it has a loss line but no validation line. Colours
    # assigned over each chart's own lines would shift every later trial's colour between the
    # two charts, so a click on a curve would pick out a differently coloured line below.
    _, _, curves = _store_with_a_run_that_blew_up_in_its_first_epoch(storage)
    domains = {
        metric: _trial_colour_domains(
            curve_charts.curves_chart(curves, metric, "learning_rate", True).to_dict()
        )
        for metric in ("loss", "val_accuracy")
    }
    every_trial = sorted(int(n) for n in curves["number"].unique())
    assert every_trial == [0, 1]
    for found in domains.values():
        assert found and all(domain == every_trial for domain in found), domains


def test_convergence_and_slices(seeded) -> None:
    study, trials, _ = seeded
    convergence = frames.convergence_frame(trials, Direction.MAXIMIZE)
    assert convergence["best_so_far"].is_monotonic_increasing
    assert convergence["best_so_far"].iloc[-1] == pytest.approx(trials["value"].max())
    assert 9 not in convergence["number"].tolist()  # the diverged trial has no value
    slice_spec = compare_charts.slice_chart(trials, "learning_rate", log=True).to_dict()
    assert slice_spec["encoding"]["x"]["scale"]["type"] == "log"
    units_x = compare_charts.slice_chart(trials, "units", log=False).to_dict()["encoding"]["x"]
    assert units_x["scale"]["type"] == "linear"
    optimizer_x = compare_charts.slice_chart(trials, "optimizer", log=False).to_dict()["encoding"]
    assert optimizer_x["x"]["type"] == "nominal"
    assert frames.log_scaled_dimensions(study.spec) == ["learning_rate", "units"]


def test_parallel_coordinates_scale_each_axis_to_unit_range(seeded) -> None:
    _, trials, _ = seeded
    frame = compare_charts.parallel_frame(
        trials, ["learning_rate", "units", "optimizer"], ["learning_rate", "units"]
    )
    assert set(frame["dimension"]) == {"learning_rate", "units", "optimizer", "value"}
    assert frame["position"].between(0, 1).all()
    lr = frame[frame["dimension"] == "learning_rate"].sort_values("position")
    assert lr["position"].iloc[0] == 0 and lr["position"].iloc[-1] == 1
    # log scale: the geometric middle of 1e-4..1 sits at the middle of the axis
    middle = lr.iloc[len(lr) // 2]
    assert float(middle["label"]) == pytest.approx(0.01) and middle["position"] == pytest.approx(
        0.5
    )
    linked = compare_charts.linked_parallel_and_curves(
        frame, ["learning_rate", "units", "optimizer", "value"], seeded[2], "loss"
    ).to_dict()
    top, bottom = linked["vconcat"]
    params = linked.get("params", []) + top.get(
        "params", []
    )  # Altair hoists concat params to the top
    assert [p["name"] for p in params] == ["trials"]
    assert top["layer"][0]["encoding"]["opacity"]["condition"]["param"] == "trials"
    assert bottom["layer"][0]["encoding"]["opacity"]["condition"]["param"] == "trials"


def test_parallel_axes_show_real_values_and_trials_keep_the_curves_colour(seeded) -> None:
    study, trials, curves = seeded
    dimensions, log_dimensions = ["learning_rate", "units", "optimizer"], ["learning_rate", "units"]
    parallel = compare_charts.parallel_frame(trials, dimensions, log_dimensions, "learning_rate")
    ticks = compare_charts.parallel_ticks(trials, dimensions, log_dimensions)
    lr_ticks = ticks[ticks["dimension"] == "learning_rate"]
    assert lr_ticks["label"].tolist() == ["0.0001", "0.01", "1"]
    assert set(ticks.loc[ticks["dimension"] == "optimizer", "label"]) == {"adam", "sgd"}
    colouring = live.curve_colouring(study.spec)
    linked = compare_charts.linked_parallel_and_curves(
        parallel,
        [*dimensions, "value"],
        curves,
        "loss",
        ticks,
        colouring.field,
        colouring.log,
        colouring.domain,
    ).to_dict()
    top, bottom = linked["vconcat"]
    axes, lines, labels = top["layer"]
    assert lines["encoding"]["y"]["axis"] is None  # no "position in range" axis
    assert labels["encoding"]["text"]["field"] == "label"
    top_colour = lines["encoding"]["color"]
    bottom_colour = bottom["layer"][0]["encoding"]["color"]
    for key in ("field", "scale"):
        assert top_colour[key] == bottom_colour[key]
    assert top_colour["scale"]["domain"] == [1e-4, 10.0]


def test_compare_summary_says_what_won_and_what_mattered(seeded) -> None:
    from tuning_core.views import compare

    study, trials, _ = seeded
    importance = frames.importance(trials, study.spec.space.names)
    assert compare.plain_summary(study.spec, trials, importance) == (
        "The best trial (4) used Adam at learning rate 0.01, units 32 and reached val_accuracy "
        "0.950; the learning rate mattered most: its value alone explains 67% of the score's "
        "variance (η²). 1 of 11 trials diverged."
    )
    # One number for one idea: the bar the importance chart labels is the same 67%.
    spec = compare_charts.importance_chart(importance).to_dict()
    assert spec["layer"][1]["encoding"]["text"] == {
        "field": "eta_squared",
        "format": ".0%",
        "type": "quantitative",
    }
    assert f"{importance['eta_squared'].iloc[0]:.0%}" == "67%"
    assert (
        "share of the score's variance its value alone explains"
        in (spec["layer"][0]["encoding"]["x"]["title"])
    )


def test_importance_finds_the_hyperparameter_that_drives_the_score() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "number": range(40),
            "state": "complete",
            "x": rng.uniform(0, 1, 40),
            "noise": rng.uniform(0, 1, 40),
            "kind": rng.choice(["a", "b"], 40),
        }
    )
    frame["value"] = 3 * frame["x"] + 0.05 * rng.normal(size=40)
    importance = frames.importance(frame, ["x", "noise", "kind"])
    assert importance["hyperparameter"].iloc[0] == "x"
    assert list(importance.columns) == ["hyperparameter", "eta_squared"]
    assert importance.set_index("hyperparameter").loc["x", "eta_squared"] > 0.7
    spec = compare_charts.importance_chart(importance).to_dict()
    bars, labels = spec["layer"]
    assert bars["encoding"]["y"]["sort"] == "-x"
    # A fixed band per bar (bars never collapse to a line) on a 0-100% axis, each labelled.
    assert spec["height"] == {"step": 34}
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert labels["mark"]["type"] == "text" and labels["encoding"]["text"]["format"] == ".0%"
    assert len(_chart_rows(spec)) == 3


def test_partial_dependence_follows_the_score(seeded) -> None:
    study, trials, _ = seeded
    frame = frames.partial_dependence_frame(study.spec, trials, points=9, samples=50)
    assert set(frame["dimension"]) == {"learning_rate", "units", "optimizer"}
    lr = frame[frame["dimension"] == "learning_rate"].reset_index(drop=True)
    best_x = lr.loc[lr["score"].idxmax(), "x"]
    assert 1e-3 <= best_x <= 1e-1  # the seeded score peaks at lr 0.01
    chart = compare_charts.partial_dependence_chart(frame, ["learning_rate", "units"]).to_dict()
    panels = chart["concat"]
    assert chart["columns"] == 3 and all(panel["width"] == 220 for panel in panels)
    assert panels[0]["encoding"]["x"]["scale"]["type"] == "log"
    # Each axis is the search range, not a "nice" widening of it (16-256 drew as 10-1000+).
    ranges = {
        name: [float(d.low), float(d.high)]
        for name in ("learning_rate", "units")
        for d in [study.spec.space.dimension(name)]
    }
    for panel in panels[:2]:
        name = panel["encoding"]["x"]["title"]
        assert panel["encoding"]["x"]["scale"]["domain"] == ranges[name], name
        assert panel["encoding"]["x"]["scale"]["nice"] is False
    # One honest y scale for every panel.
    # Vega-Lite resolves a scale as shared or independent: one honest scale for every panel.
    assert chart["resolve"]["scale"]["y"] != "independent"
    domains = {tuple(panel["encoding"]["y"]["scale"]["domain"]) for panel in panels}
    assert len(domains) == 1


def test_partial_dependence_says_flat_when_a_dimension_barely_moves() -> None:
    frame = pd.DataFrame(
        {
            "dimension": ["learning_rate"] * 3 + ["units"] * 3,
            "x": [1e-3, 1e-2, 1e-1, 32, 128, 512],
            "score": [0.926510, 0.926514, 0.926518, 0.80, 0.88, 0.93],
        }
    )
    panels = compare_charts.partial_dependence_panels(frame).set_index("dimension")
    assert panels["flat"].to_dict() == {"learning_rate": True, "units": False}
    chart = compare_charts.partial_dependence_chart(frame, ["learning_rate", "units"]).to_dict()
    assert [panel["title"] for panel in chart["concat"]] == ["learning_rate (flat)", "units"]


def test_final_metrics_score_diverged_runs_as_zero(seeded) -> None:
    _, trials, curves = seeded
    finals = frames.final_metrics(curves, trials)
    assert 10 not in finals["number"].tolist()  # still running
    assert finals.set_index("number").loc[9, "val_accuracy"] == 0.0
    assert finals.set_index("number").loc[4, "val_accuracy"] == pytest.approx(
        trials.set_index("number").loc[4, "value"]
    )
    bars = lab_charts.final_accuracy_bars(finals).to_dict()
    assert bars["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"


def test_live_status_reports_progress_best_and_current_trial(seeded) -> None:
    study, trials, curves = seeded
    status = live.live_summary(study, trials, 0.0)
    assert (status.done, status.budget, status.running) == (10, 12, True)
    assert status.progress == pytest.approx(10 / 12)
    assert status.current_number == 10 and status.current_params["learning_rate"] == 0.02
    assert status.best_text == f"{trials['value'].max():.4f}"
    assert live.epochs_recorded(curves) == 9 * 5 + 1 + 1
    # With an epoch budget, epochs are what end the study: progress and time left count them.
    by_epochs = dataclasses.replace(
        study, spec=dataclasses.replace(study.spec, budget={"trials": 1000, "epochs": 94})
    )
    status = live.live_summary(by_epochs, trials, 0.0, live.epochs_recorded(curves))
    assert status.progress == pytest.approx(47 / 94)
    assert status.progress_text.startswith("47 of 94 epochs (10 trials)")
    # A grid of fewer points than the trial budget ends with its grid: progress counts those
    # (a finished grid of 2 points with a budget of 3 showed 2 of 3).
    by_grid = dataclasses.replace(
        study,
        spec=dataclasses.replace(
            study.spec, strategy={"type": "grid", "levels": 3}, budget={"trials": 1000}
        ),
    )
    points = by_grid.spec.space.grid_size(3)
    assert 10 < points < 1000 and by_grid.spec.planned_trials == points
    status = live.live_summary(by_grid, trials, 0.0)
    assert status.budget == points and status.progress == pytest.approx(10 / points)
    assert status.progress_text.startswith(f"10 of {points} trials")
    assert live.curve_colouring(study.spec) == live.Colouring("learning_rate", True, (1e-4, 10.0))
    assert live.colour_choices(study.spec) == ["learning_rate", "units"]
    assert live.curve_colouring(study.spec, "units") == live.Colouring("units", True, (32, 512))
    assert live.best_trial_number(trials, study.spec.direction) == 4
    table = live.trial_table(trials)
    assert table["number"].iloc[0] == 10 and "exploded" in table.set_index("number").loc[9, "flag"]


def test_form_builds_a_valid_spec_and_explains_problems(storage: Path) -> None:
    controls = [
        forms.Control("learning_rate", True, low=0.0001, high=1.0),
        forms.Control("optimizer", True, values=["sgd", "adam"]),
        forms.Control("batch_size", False, value=32),
        forms.Control("epochs", True, low=2, high=6),
    ]
    raw = forms.build_spec(
        "form-test", "digits", "mlp", controls, {"type": "grid", "levels": 3}, 20, 5.0
    )
    spec = parse_spec(raw)
    assert spec.space.dimension("learning_rate").log and spec.space.fixed["batch_size"] == 32
    assert spec.objective["epochs"] == 6 and spec.budget["seconds"] == 300
    assert forms.space_size(raw).startswith("18 grid points")
    assert forms.form_problems(raw, controls, str(storage)) == []
    single = [forms.Control("learning_rate", True, low=0.01, high=0.01)]
    problems = forms.form_problems(
        forms.build_spec("x", "digits", "mlp", single, {"type": "random"}, 5, None), single
    )
    assert any("learning_rate: the range is a single value" in p for p in problems)
    bad_name = forms.form_problems(
        forms.build_spec("bad name!", "digits", "mlp", controls, {"type": "random"}, 5, None),
        controls,
    )
    assert bad_name and bad_name[0].startswith("name must be")
    short, long = (forms.estimate_seconds({**raw, "budget": {"trials": t}}) for t in (2, 20))
    assert 0 < short < long
    # An epoch budget caps the trials at what it allows: 100,000 trials of 10 epochs with a
    # 20-epoch budget run as the 2 trials the budget pays for, not for days.
    epochs = digits_spec(space={"learning_rate": 0.01}, epochs=10)
    capped = forms.estimate_seconds({**epochs, "budget": {"trials": 100_000, "epochs": 20}})
    assert capped == pytest.approx(forms.estimate_seconds({**epochs, "budget": {"trials": 2}}))
    assert (
        forms.format_number(1e-5) == "0.00001"
        and forms.format_number(0.0005) == "0.0005"
        and forms.format_number(1.0) == "1"
    )
    assert forms.log_spaced(1e-4, 1.0, 5) == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert forms.count_training_examples(str(MNIST_DIR)) == 8000


@pytest.mark.subprocess
def test_a_study_whose_worker_died_is_not_shown_running_and_can_be_restarted(storage: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    seed_store(storage, worker_pid=dead.pid)
    with Store(storage) as store:
        study = store.get_study("seeded")
        trials = frames.trials_frame(store.trials(study.id), study.spec)
    status = live.live_summary(study, trials, 0.0)
    assert not status.running and "worker is gone" in status.status_line
    controls = [forms.Control("learning_rate", True, low=0.0001, high=10.0)]
    raw = parse_spec(SEEDED_SPEC).to_json()
    conflict = start_check.start_conflict(str(storage), raw)
    assert conflict is None  # resuming it is allowed
    assert forms.form_problems(raw, controls, str(storage), start_conflict=conflict) == []


@pytest.mark.subprocess
def test_a_study_with_a_live_worker_cannot_be_started_twice(storage: Path) -> None:
    seed_store(storage)  # owned by this live process
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Store(storage) as store:
            store.set_status(
                store.get_study("seeded").id, StudyStatus.RUNNING, worker_pid=other.pid
            )
        raw = parse_spec(SEEDED_SPEC).to_json()
        conflict = start_check.start_conflict(str(storage), raw)
        problems = forms.form_problems(raw, [], str(storage), start_conflict=conflict)
    finally:
        other.kill()
    assert problems == [
        f"name: the study 'seeded' is already running in worker process {other.pid}; stop it first."
    ]


def test_learning_rate_comparisons_are_recognised_and_checked() -> None:
    def comparison(rates: list[float]) -> dict:
        return forms.learning_rate_comparison_spec(
            "lr-test", "digits", "mlp", "sgd", rates, 2, 32, None
        )

    assert forms.learning_rate_comparison_problem(comparison([1e-3, 1e-1])) is None
    assert forms.is_learning_rate_comparison(parse_spec(comparison([1e-3, 1e-1])))
    assert forms.learning_rate_comparison_problem(comparison([0.01])).startswith(
        "Pick a range wide enough"
    )
    assert "must not repeat" in forms.learning_rate_comparison_problem(comparison([0.01, 0.01]))
    assert not forms.is_learning_rate_comparison(parse_spec(SEEDED_SPEC))


def test_presenter_mode_sizes_every_chart_text_for_a_projector(seeded) -> None:
    _, _, curves = seeded
    chart = curve_charts.curves_chart(curves[curves["number"] < 4], "loss", "learning_rate", True)
    # Off the projector the chart leaves its text sizes to the theme.
    assert "fontSize" not in chart.to_dict().get("config", {}).get("axis", {})
    for shown in (
        chart_style.for_projector(chart).to_dict(),
        chart_style.for_projector(chart.to_dict()),
    ):
        assert shown["config"]["axis"]["labelFontSize"] >= 16
        assert shown["config"]["axis"]["titleFontSize"] >= 16
        assert shown["config"]["text"]["fontSize"] >= 16
        assert shown["config"]["title"]["fontSize"] > shown["config"]["axis"]["titleFontSize"]
        texts = [layer["mark"] for layer in shown["layer"] if layer["mark"]["type"] == "text"]
        assert texts and all(mark.get("fontSize", 16) >= 16 for mark in texts)
        assert shown["height"] >= chart_style.PROJECTOR_MIN_HEIGHT > chart_style.CURVE_HEIGHT


def test_presenter_sizes_keep_a_charts_own_config_and_leave_the_chart_as_it_was() -> None:
    import altair as alt

    chart = (
        alt.Chart(pd.DataFrame({"a": [1.0]}))
        .mark_text(fontSize=11)
        .encode(x="a:Q", text="a:Q")
        .properties(height=200)
        .configure_title(fontSize=18, anchor="start")
    )
    before = chart.to_dict()
    shown = chart_style.for_projector(chart).to_dict()
    assert shown["config"]["title"] == {"anchor": "start", "fontSize": 22}
    assert shown["mark"]["fontSize"] == 16 and shown["height"] == chart_style.PROJECTOR_MIN_HEIGHT
    assert chart.to_dict() == before


def test_trials_that_diverge_at_the_same_spot_share_one_readable_label() -> None:
    # Two rates too large blow up in epoch 1 (their losses clipped to the same height, so
    # their labels used to be drawn over each other); a third diverges alone, later.
    fine = [(0, e, "loss", 2.0 - 0.3 * e, TrialState.COMPLETE.value, 0.01, False) for e in range(4)]
    blown = [
        (1, -0.5, "loss", 161.0, TrialState.DIVERGED.value, 100.0, True),
        (2, -0.4, "loss", 1.48e5, TrialState.DIVERGED.value, 100.0, True),
        (3, 0.0, "loss", 1.9, TrialState.DIVERGED.value, 30.0, False),
        (3, 1.5, "loss", 900.0, TrialState.DIVERGED.value, 30.0, True),
    ]
    columns = ["number", "epoch", "metric", "value", "state", "learning_rate", "within_epoch"]
    curves = pd.DataFrame(fine + blown, columns=columns)
    data = curve_charts.curves_data(curves, "loss", "learning_rate")
    marks = data[data["kind"] == "diverged"].set_index("number")["label"]
    assert marks[1] == "lr = 100: 2 diverged at epoch 1, loss up to 1.48e+05"
    assert marks[2] == ""
    assert marks[3] == "lr = 30, diverged at epoch 3: loss 900"
    # On another metric's chart: no losses in the label.
    accuracy = pd.concat(
        [curves, curves.assign(metric="val_accuracy", value=0.1)], ignore_index=True
    )
    data = curve_charts.curves_data(accuracy, "val_accuracy", "learning_rate")
    marks = data[data["kind"] == "diverged"].set_index("number")["label"]
    assert (marks[1], marks[2]) == ("lr = 100: 2 diverged at epoch 1", "")
