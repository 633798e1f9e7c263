"""Pruned studies on the Live and Compare pages: a pruned trial's curve is kept and drawn cut at
its epoch, under the cut-off it missed, with the rungs or the median it was measured against,
and the epochs pruning saved. Every store comes from a real study run (Branin with 9 epochs of
fidelity, milliseconds per trial)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import branin_spec
from tests.test_pages import charts_on, open_page, shown
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.pruners import PruneDecision, SuccessiveHalving, read_curves
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, StudyRecord, TrialRecord
from tuning_core.engine.study import run_study
from tuning_core.reports import frames
from tuning_core.views import compare, curve_charts, live, pruning_marks

EPOCHS = 9


@dataclass
class PrunedStudy:
    study: StudyRecord
    records: list[TrialRecord]
    decisions: list[PruneDecision]
    trials: pd.DataFrame
    curves: pd.DataFrame
    epochs_trained: int


def _run(storage: Path, name: str, pruner: dict[str, Any], trials: int = 15) -> PrunedStudy:
    raw = branin_spec(name, {"type": "random", "seed": 1}, trials, epochs=EPOCHS)
    raw["pruner"] = pruner
    spec = parse_spec(raw)
    with Store(storage) as store:
        run_study(spec, store, function_objective("branin", 0, EPOCHS), log=lambda _: None)
        study = store.get_study(name)
        records = store.trials(study.id)
        trials_frame = frames.trials_frame(records, study.spec)
        return PrunedStudy(
            study,
            records,
            store.prune_decisions(study.id),
            trials_frame,
            frames.curves_frame(store.epoch_metrics(study.id), trials_frame),
            store.epochs_trained(study.id),
        )


@pytest.fixture
def halving(storage: Path) -> PrunedStudy:
    run = _run(storage, "halving", {"type": "successive_halving"})
    pruned = [t for t in run.records if t.state == TrialState.PRUNED]
    assert pruned and len(run.decisions) == len(pruned), "the study must prune some trials"
    return run


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer") or [spec]


def _rows(spec: dict) -> pd.DataFrame:
    return pd.DataFrame(next(iter(spec["datasets"].values())))


def _filter(layer: dict) -> str:
    return " ".join(str(t.get("filter", "")) for t in layer.get("transform", []))


def _mark(layer: dict) -> dict:
    mark = layer["mark"]
    return mark if isinstance(mark, dict) else {"type": mark}


def test_a_pruned_trials_curve_is_kept_and_drawn_cut_under_its_cutoff(halving: PrunedStudy) -> None:
    spec = halving.study.spec
    pruned = frames.pruning_frame(halving.decisions, spec.metric)
    guides = frames.pruning_guides(spec, halving.curves)
    chart = curve_charts.curves_chart(
        halving.curves, spec.metric, "x1", False, pruned=pruned, guides=guides
    ).to_dict()
    rows = _rows(chart)
    curve_rows = rows[rows["kind"] == "curve"]
    notes = {t.number: t.note for t in halving.records}
    for decision in halving.decisions:
        # Its curve is kept, every epoch it trained, and ends at the epoch it was pruned.
        own = curve_rows[curve_rows["number"] == decision.trial_number]
        assert own["epoch"].tolist() == [e + 1.0 for e in range(decision.epoch + 1)]
        assert own["pruned"].all()
        # Scissors at its last point, saying why, in the words of the trial's note.
        cut = rows[(rows["kind"] == "pruned") & (rows["number"] == decision.trial_number)]
        assert cut["epoch"].tolist() == [decision.epoch + 1]
        assert cut["value"].tolist() == [own["value"].iloc[-1]]
        assert cut["why"].tolist() == [notes[decision.trial_number]]
        # The cut-off it failed to reach, at the same epoch, as stored.
        tick = rows[(rows["kind"] == "cutoff") & (rows["number"] == decision.trial_number)]
        assert tick["epoch"].tolist() == [decision.epoch + 1]
        assert tick["value"].tolist() == pytest.approx([decision.cutoff])
    # Complete trials are not drawn as pruned.
    complete = {t.number for t in halving.records if t.state == TrialState.COMPLETE}
    assert not curve_rows[curve_rows["number"].isin(complete)]["pruned"].any()
    # One label per epoch where trials were cut, counting them.
    labels = rows[(rows["kind"] == "pruned") & (rows["label"] != "")]
    by_epoch = pd.Series([d.epoch + 1 for d in halving.decisions]).value_counts()
    assert sorted(labels["epoch"]) == sorted(by_epoch.index)
    for epoch, label in zip(labels["epoch"], labels["label"], strict=True):
        count, where = by_epoch[epoch], f"pruned at epoch {int(epoch)}"
        assert label == (where if count == 1 else f"{count} {where}")
    # The rungs are where successive halving compares: each decision was taken at one.
    rungs = SuccessiveHalving.from_options(spec.pruner).rungs()
    assert sorted(rows.loc[rows["kind"] == "rung", "epoch"]) == rungs
    assert {d.rung for d in halving.decisions} <= set(rungs)
    assert rows.loc[rows["kind"] == "rung", "label"].iloc[-1] == "rung: top 1/3 go on"

    layers = _layers(chart)
    lines = next(la for la in layers if _mark(la)["type"] == "line" and "curve" in _filter(la))
    assert "datum.pruned" in str(lines["encoding"]["strokeWidth"])
    assert lines["encoding"]["strokeOpacity"]["condition"]["test"] == "datum.pruned"
    scissors = next(la for la in layers if "'pruned'" in _filter(la) and "shape" in _mark(la))
    assert _mark(scissors)["shape"] == pruning_marks.SCISSORS_SHAPE
    assert any(t.get("field") == "why" for t in scissors["encoding"]["tooltip"])
    ticks = next(la for la in layers if "'cutoff'" in _filter(la))
    assert _mark(ticks)["shape"] == pruning_marks.CUTOFF_SHAPE
    rules = next(la for la in layers if "'rung'" in _filter(la) and _mark(la)["type"] == "rule")
    assert rules["encoding"]["x"]["field"] == "epoch" and "y" not in rules["encoding"]


def test_cutoffs_only_on_the_chart_of_the_metric_the_pruner_compared(halving: PrunedStudy) -> None:
    """A Keras study prunes on validation accuracy: its loss chart shows the scissors but no
    cut-off, which is in other units."""
    other = frames.pruning_frame(halving.decisions, "val_accuracy")
    rows = curve_charts.curves_data(halving.curves, "value", "x1", pruned=other)
    assert set(rows.loc[rows["kind"] == "pruned", "number"]) == {
        d.trial_number for d in halving.decisions
    }
    assert (rows["kind"] == "cutoff").sum() == 0
    assert rows.loc[rows["kind"] == "pruned", "cutoff"].isna().all()
    # Without pruning frames the chart is as it always was: no pruning layers, no extra rows.
    plain = curve_charts.curves_chart(halving.curves, "value", "x1", False).to_dict()
    assert set(_rows(plain)["kind"]) == {"curve"}
    assert not any("'pruned'" in _filter(layer) for layer in _layers(plain))


def test_the_median_line_is_the_median_of_complete_trials_best_so_far(storage: Path) -> None:
    run = _run(storage, "median", {"type": "median", "warmup_trials": 2}, trials=12)
    spec = run.study.spec
    assert run.decisions, "the study must prune some trials"
    guides = frames.pruning_guides(spec, run.curves)
    median = guides[guides["kind"] == "median"]
    with Store(storage) as store:
        stored = read_curves(store, run.study.id, spec.metric)
    complete = [c for c in stored if c.state == TrialState.COMPLETE]
    first, last = spec.pruner["warmup_epochs"], spec.pruner["max_epochs"] - 2
    assert median["epoch"].tolist() == list(range(first, last + 1))
    for epoch, value in zip(median["epoch"], median["value"], strict=True):
        best_so_far = [min(v for e, v in c.values.items() if e <= epoch) for c in complete]
        assert value == pytest.approx(statistics.median(best_so_far))
    rows = curve_charts.curves_data(
        run.curves, spec.metric, "x1", pruned=frames.pruning_frame(run.decisions, spec.metric),
        guides=guides,
    )  # fmt: skip
    drawn = rows[rows["kind"] == "median"]
    assert drawn["epoch"].tolist() == [e + 1.0 for e in median["epoch"]]
    assert not (rows["kind"] == "rung").any()
    caption = live.pruning_caption(spec)
    assert "median" in caption and f"from epoch {first + 1} on" in caption


def test_epochs_saved_counts_what_the_pruned_trials_did_not_train(halving: PrunedStudy) -> None:
    spec = halving.study.spec
    saved = frames.epochs_saved(spec, halving.trials, halving.curves)
    assert saved is not None
    # No trial was interrupted, so every epoch in the store belongs to a counted trial.
    assert saved.trained == halving.epochs_trained
    assert saved.trials == len(halving.records)
    assert saved.pruned == len(halving.decisions)
    # Branin never diverges: unpruned, every trial would have trained all its epochs.
    assert saved.full == EPOCHS * len(halving.records)
    assert saved.trained < saved.full
    assert saved.sentence() == (
        f"Epochs trained: {saved.trained} of the {saved.full} a full search of these "
        f"{saved.trials} trials would train ({1 - saved.trained / saved.full:.0%} saved; "
        f"{saved.pruned} trials pruned)."
    )
    # A study without a pruner says nothing about it.
    unpruned = parse_spec(branin_spec("plain", epochs=EPOCHS))
    assert frames.epochs_saved(unpruned, halving.trials, halving.curves) is None
    assert live.pruning_caption(unpruned) == ""


def test_the_trial_table_shows_where_each_pruned_trial_stopped(halving: PrunedStudy) -> None:
    table = live.trial_table(halving.trials, frames.epochs_by_trial(halving.curves)).set_index(
        "number"
    )
    assert list(table.columns[:3]) == ["state", live.EPOCHS_TRAINED, "value"]
    for decision in halving.decisions:
        row = table.loc[decision.trial_number]
        assert row["state"] == TrialState.PRUNED.value
        assert row[live.EPOCHS_TRAINED] == decision.epoch + 1
        # The note already counts from 1: shown as written, not shifted once more.
        assert row["flag"].startswith(f"pruned at epoch {decision.epoch + 1}: ")
    complete = [t.number for t in halving.records if t.state == TrialState.COMPLETE]
    assert (table.loc[complete, live.EPOCHS_TRAINED] == EPOCHS).all()


# A narrow column at 1366 px showed about 11 characters of its header ("epochs trai"); one
# less leaves room for the sort arrow.
NARROW_HEADER_CHARACTERS = 10


def test_the_tables_short_columns_are_narrow_with_headers_that_fit(
    halving: PrunedStudy,
) -> None:
    brackets = pd.Series({t.number: 0 for t in halving.records})
    table = live.trial_table(halving.trials, frames.epochs_by_trial(halving.curves), brackets)
    config = live.table_column_config()
    assert {"number", "state", "value", "flag", live.EPOCHS_TRAINED, live.BRACKET} <= set(config)
    assert set(config) <= set(table.columns)
    for column in set(config) - {"flag"}:
        assert config[column]["width"] == "small", column
        header = str(config[column].get("label", column))
        assert len(header) <= NARROW_HEADER_CHARACTERS, header
    assert config[live.EPOCHS_TRAINED]["help"].startswith("Epochs trained")


def test_compare_leaves_pruned_trials_out_of_the_complete_ones(halving: PrunedStudy) -> None:
    spec: StudySpec = halving.study.spec
    convergence = frames.convergence_frame(halving.trials, spec.direction)
    complete = [t.number for t in halving.records if t.state == TrialState.COMPLETE]
    assert convergence["number"].tolist() == complete
    summary = compare.plain_summary(spec, halving.trials, pd.DataFrame())
    assert summary is not None
    assert f"{len(halving.decisions)} of {len(halving.records)} trials were pruned" in summary


@pytest.mark.slow  # three pages, 4-9 s; the pruned views are tested fast above
def test_live_and_compare_pages_draw_the_pruned_study(storage: Path) -> None:
    run = _run(storage, "halving-pages", {"type": "successive_halving"})
    pruned_numbers = {d.trial_number for d in run.decisions}
    saved = frames.epochs_saved(run.study.spec, run.trials, run.curves)
    assert saved is not None and pruned_numbers

    at = open_page("pages/live.py", study="halving-pages")
    assert saved.sentence() in [shown(m.value) for m in at.markdown]
    found = charts_on(at)
    rows = next(d for s, d in found if "kind" in d and (d["kind"] == "pruned").any())
    assert set(rows.loc[rows["kind"] == "pruned", "number"]) == pruned_numbers
    ticks = rows[rows["kind"] == "cutoff"].set_index("number")["value"]
    assert ticks.to_dict() == pytest.approx({d.trial_number: d.cutoff for d in run.decisions})
    assert any("orange scissors" in c.value for c in at.caption)
    table = at.dataframe[0].value.set_index("number")
    assert (table.loc[sorted(pruned_numbers), "state"] == "pruned").all()
    assert live.EPOCHS_TRAINED in table.columns

    at = open_page("pages/compare.py", study="halving-pages")
    assert "Early stopping" in [h.value for h in at.subheader]
    assert saved.sentence() in [shown(m.value) for m in at.markdown]
    charts_found = charts_on(at)
    cut = next(d for s, d in charts_found if "kind" in d and (d["kind"] == "cutoff").any())
    assert set(cut.loc[cut["kind"] == "cutoff", "number"]) == pruned_numbers
    assert any("trials were pruned" in i.value for i in at.info)

    at = open_page("pages/studies.py")
    studies = at.dataframe[0].value.set_index("name")
    assert studies.loc["halving-pages", "pruner"] == "successive_halving"
