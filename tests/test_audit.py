"""Would it have won? ``audit NAME --sample K`` trains pruned trials to the end as trials of
NAME.audit, leaves the pruned study as it was, and prints the false-prune rate (engine/audit.py);
Compare draws the full runs over their cuts (views/pruning_marks.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tuning_core
from tests.conftest import branin_spec, digits_spec, run_cli, write_spec
from tests.test_pages import charts_on, open_page, shown
from tuning_core import TrialPruned, cli
from tuning_core.engine.audit import audit_study, read_audit, wilson_interval
from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import TEST_FUNCTIONS, function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study
from tuning_core.reports import frames
from tuning_core.training.factory import objective_for
from tuning_core.views import curve_charts, pruning_marks

HALVING = {"type": "successive_halving", "min_epochs": 1, "reduction_factor": 3}


def _branin_study(store: Store, name: str = "br", pruner: dict | None = None, trials: int = 16):
    """A finished Branin study with 9-epoch fidelity curves, pruned by successive halving."""
    raw = branin_spec(name, trials=trials, epochs=9)
    raw["pruner"] = HALVING if pruner is None else pruner
    spec = parse_spec(raw)
    run_study(spec, store, function_objective("branin", 0.0, 9), log=lambda _: None)
    return spec


def _snapshot(store: Store, name: str) -> tuple[list[Any], list[Any]]:
    """Everything stored of a study's trials: the records and every epoch row."""
    study = store.get_study(name)
    return store.trials(study.id), store.epoch_metrics(study.id)


def _printed_counts(sentence: str) -> tuple[int, int]:
    found = re.search(r"(\d+) of (\d+) audited trials would have beaten", sentence)
    assert found, sentence
    return int(found[1]), int(found[2])


def test_wilson_interval_matches_published_values() -> None:
    # Wilson score intervals at 95% (Newcombe 1998, Table I; Brown, Cai & DasGupta 2001).
    assert wilson_interval(0, 3) == pytest.approx((0.0, 0.5615), abs=1e-4)
    assert wilson_interval(1, 2) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_audit_trains_pruned_trials_to_the_end_as_new_trials(storage: Path) -> None:
    lines: list[str] = []
    with Store(storage) as store:
        spec = _branin_study(store)
        before = _snapshot(store, "br")
        originals = {trial.number: trial for trial in before[0]}
        pruned = {n for n, t in originals.items() if t.state == TrialState.PRUNED}
        best = min(t.value for t in originals.values() if t.state == TrialState.COMPLETE)
        report = audit_study(store, "br", 3, objective_for, log=lines.append)

        assert _snapshot(store, "br") == before  # no trial or epoch of the pruned study changed
        audit = store.get_study("br.audit")
        assert audit.status == StudyStatus.FINISHED and audit.spec.pruner.type == "none"
        assert audit.spec.seed == spec.seed
        runs = store.trials(audit.id)
        assert len(runs) == 3 and {run.number for run in runs} <= pruned
        epochs = store.epoch_metrics(audit.id)
        for run in runs:
            assert run.state == TrialState.COMPLETE
            assert run.params == originals[run.number].params
            assert sorted(e for n, e, *_ in epochs if n == run.number) == list(range(9))
            # Trained to the end, a fidelity curve ends at the function's own value.
            x = np.array([run.params["x1"], run.params["x2"]])
            assert run.value == pytest.approx(TEST_FUNCTIONS["branin"].function(x))
        wins = sum(run.value < best for run in runs)
        assert (report.wins, len(report.counted)) == (wins, 3)
        assert _printed_counts(report.sentence()) == (wins, 3)
        low, high = wilson_interval(wins, 3)
        assert f"95% Wilson interval {low:.0%} to {high:.0%}" in report.sentence()
        assert len([line for line in lines if line.startswith("trial ")]) == 3

        # A second audit takes other pruned trials, and the rate covers all five.
        again = audit_study(store, "br", 2, objective_for, log=lines.append)
        numbers = [run.number for run in store.trials(audit.id)]
        assert len(numbers) == 5 == len(set(numbers)) and len(again.counted) == 5
        assert _snapshot(store, "br") == before

        # The most promising: the unaudited pruned trials with the best values at their cut.
        left = sorted(
            (originals[n].value, n) for n in pruned - set(numbers) if originals[n].value is not None
        )
        last = audit_study(store, "br", 2, objective_for, choose="promising", log=lines.append)
        newest = {run.number for run in store.trials(audit.id)} - set(numbers)
        assert newest == {number for _, number in left[:2]}
        assert read_audit(store, "br") == last and len(last.trials) == 7


def test_audit_refuses_bad_input_in_one_sentence(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(storage) as store:
        _branin_study(store, "br", trials=8)
        _branin_study(store, "unpruned", pruner={"type": "none"}, trials=3)
        _branin_study(store, "no-cuts", trials=1)  # one trial: nothing to compare it with
        _branin_study(store, "busy", trials=8)
        store.set_status(store.get_study("busy").id, StudyStatus.RUNNING, worker_pid=os.getpid())

    def refused(*args: str) -> str:
        assert cli.main(["--storage", str(storage), "audit", *args]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and error.count("\n") == 1, error
        return error

    assert "no study called 'nope'" in refused("nope", "--sample", "2")
    assert "has no pruner" in refused("unpruned", "--sample", "2")
    assert "no pruned trial" in refused("no-cuts", "--sample", "2")
    assert "--sample must be" in refused("br", "--sample", "0")
    assert "still running" in refused("busy", "--sample", "1")
    with Store(storage) as store:
        assert not [s.name for s in store.studies() if s.name.endswith(".audit")]


def test_audited_runs_are_drawn_over_their_cuts(storage: Path) -> None:
    with Store(storage) as store:
        spec = _branin_study(store)
        report = audit_study(store, "br", 3, objective_for, log=lambda _: None)
        original, audit = store.get_study("br"), store.get_study("br.audit")
        trials = frames.trials_frame(store.trials(original.id), spec)
        curves = frames.curves_frame(store.epoch_metrics(original.id), trials)
        audit_trials = frames.trials_frame(store.trials(audit.id), audit.spec)
        audit_curves = frames.curves_frame(store.epoch_metrics(audit.id), audit_trials)
        decisions = store.prune_decisions(original.id)
    audited = pruning_marks.audited_frame(report, audit_curves)
    assert set(audited["number"]) == {trial.number for trial in report.trials}
    # Each run is drawn from its cut (where the pruned line ends) to its ninth epoch.
    for trial in report.trials:
        epochs = sorted(audited.loc[audited["number"] == trial.number, "epoch"])
        assert epochs == list(range(trial.cut_epoch - 1, 9))

    chart = curve_charts.curves_chart(
        curves,
        "value",
        "x1",
        False,
        pruned=frames.pruning_frame(decisions, "value"),
        audited=audited,
    )
    spec_dict = chart.to_dict()
    data = next(iter(spec_dict["datasets"].values()))
    ends = [row for row in data if row["kind"] == "audit_end"]
    assert sorted(row["number"] for row in ends) == sorted(t.number for t in report.trials)
    for row in ends:
        trial = next(t for t in report.trials if t.number == row["number"])
        assert row["epoch"] == 9 and row["value"] == pytest.approx(trial.value)
        assert row["label"].startswith(f"trial {trial.number} in full")
        assert ("would have won" in row["label"]) == trial.beats_best
    layers = spec_dict["layer"]
    run_layers = [
        layer
        for layer in layers
        if {"filter": "datum.kind == 'audit'"} in layer.get("transform", [])
    ]
    assert len(run_layers) == 1
    line = run_layers[0]
    assert line["mark"]["type"] == "line" and line["encoding"]["detail"]["field"] == "number"
    colour = line["encoding"]["color"]
    assert colour["condition"]["value"] == pruning_marks.AUDIT_WON_COLOUR
    assert colour["value"] == pruning_marks.PRUNED_COLOUR
    # Drawn in front of the cuts: after the scissors and cut-off layers.
    kinds = [json.dumps(layer.get("transform", [])) for layer in layers]
    assert max(i for i, k in enumerate(kinds) if "'pruned'" in k) < layers.index(line)
    # On another metric's chart, the audit draws nothing.
    assert not pruning_marks.audit_rows(audited, "loss")


@pytest.mark.slow  # an audited study and the Compare page, ~2 s; the engine's audit tests stay fast
def test_compare_page_shows_the_audit(storage: Path) -> None:
    with Store(storage) as store:
        _branin_study(store)
        report = audit_study(store, "br", 2, objective_for, log=lambda _: None)
    at = open_page("pages/compare.py", study="br")
    texts = [shown(m.value) for m in at.markdown]
    assert any(text.startswith("false-prune rate:") for text in texts), texts
    wins, total = _printed_counts(next(t for t in texts if t.startswith("false-prune rate:")))
    assert (wins, total) == (report.wins, 2)
    drawn = [frame for _, frame in charts_on(at) if "kind" in frame]
    assert any((frame["kind"] == "audit_end").sum() == 2 for frame in drawn)


@pytest.mark.keras
@pytest.mark.subprocess
def test_audit_of_a_real_pruned_digits_study(tmp_path: Path, storage: Path) -> None:
    """6 digits trials x 4 epochs under successive halving, then ``audit --sample 2``."""
    raw = digits_spec(
        "digits-cut",
        space={"learning_rate": {"type": "float", "low": 0.0005, "high": 0.3, "log": True}},
        trials=6,
        epochs=4,
    )
    raw["pruner"] = {"type": "successive_halving", "min_epochs": 1, "reduction_factor": 2}
    # The study runs through the CLI's main() in this process (a worker would import
    # TensorFlow again, ~7 s); the audit below is a real CLI process reading what it stored.
    spec_path = str(write_spec(tmp_path, raw))
    assert cli.main(["--storage", str(storage), "run", spec_path, "--recycle-every", "0"]) == 0
    with Store(storage) as store:
        before = _snapshot(store, "digits-cut")
    originals = {trial.number: trial for trial in before[0]}
    pruned = {n for n, t in originals.items() if t.state == TrialState.PRUNED}
    assert len(pruned) >= 2, [t.state for t in before[0]]
    best = max(t.value for t in originals.values() if t.state == TrialState.COMPLETE)

    audited = run_cli("audit", "digits-cut", "--sample", "2", storage=storage)
    assert audited.returncode == 0, audited.stderr[-2000:]
    with Store(storage) as store:
        assert _snapshot(store, "digits-cut") == before
        audit = store.get_study("digits-cut.audit")
        runs = store.trials(audit.id)
        rows = store.epoch_metrics(audit.id)
    assert len(runs) == 2 and {run.number for run in runs} <= pruned
    for run in runs:
        assert run.state == TrialState.COMPLETE and run.params == originals[run.number].params
        accuracy = {e: v for n, e, m, v in rows if n == run.number and m == "val_accuracy"}
        assert sorted(accuracy) == [0, 1, 2, 3]  # the spec's 4 epochs, no pruner
        assert run.value == pytest.approx(max(accuracy.values()))
        # The same params and seed train the same model up to its cut.
        cut = {e: v for n, e, m, v in before[1] if n == run.number and m == "loss"}
        again = {e: v for n, e, m, v in rows if n == run.number and m == "loss"}
        assert {e: again[e] for e in cut} == pytest.approx(cut, rel=1e-4)
    wins = sum(run.value > best for run in runs)
    assert _printed_counts(audited.stdout) == (wins, 2)
    low, high = wilson_interval(wins, 2)
    assert f"95% Wilson interval {low:.0%} to {high:.0%}" in audited.stdout
    for run in runs:
        verdict = "would have won" if run.value > best else "would not have won"
        assert re.search(
            rf"^trial {run.number} \[\d/2\] complete in full: .*{verdict}", audited.stdout, re.M
        )


def test_audit_labels_keep_off_each_other_and_the_lines_labels() -> None:
    # Two runs that end where a line's own label sits (0.919444..., the digits study's best).
    value = 0.9194444417953491
    audited = pd.DataFrame(
        {
            "number": [3, 6],
            "epoch": [5.0, 5.0],
            "value": [value, value],
            "metric": "val_accuracy",
            "won": [False, True],
            "label": ["trial 3 in full", "trial 6 in full: would have won"],
            "why": ["", ""],
        }
    )
    gap = 0.1 * (value - 0.0861111)
    ends = [
        r
        for r in pruning_marks.audit_rows(audited, "val_accuracy", [value], gap)
        if r["kind"] == "audit_end"
    ]
    heights = sorted([value] + [row["label_value"] for row in ends])
    assert all(b - a >= 0.99 * gap for a, b in zip(heights, heights[1:], strict=False))
    assert [row["value"] for row in ends] == [value, value]  # the dots stay on the lines


# Your own objective, with a fidelity that ranks late: small |x - 1| wins only at the end.
OWN_OBJECTIVE = """
import tuning_core


def objective(trial):
    x = trial.params["x"]
    for epoch in range(4):
        trial.report(epoch, {"value": (x - 1) ** 2 + 1.0 / (epoch + 1)})
        if trial.should_prune():
            raise tuning_core.TrialPruned()
    return (x - 1) ** 2
"""


@pytest.mark.subprocess
def test_audit_imports_your_own_objective_as_run_did(tmp_path: Path, storage: Path) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "own_audit_objective.py").write_text(OWN_OBJECTIVE)
    spec = {
        "name": "own",
        "objective": {"type": "python", "target": "own_audit_objective:objective", "epochs": 4},
        "space": {"x": {"type": "float", "low": -3.0, "high": 3.0}},
        "strategy": {"type": "random", "seed": 2},
        "budget": {"trials": 10},
        "pruner": {"type": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
    }
    ran = run_cli("run", str(write_spec(folder, spec)), storage=storage)
    assert ran.returncode == 0, ran.stderr[-2000:]
    # From another folder: the target is found where run imported it from.
    audited = run_cli("audit", "own", "--sample", "2", storage=storage)
    assert audited.returncode == 0, audited.stderr[-2000:]
    with Store(storage) as store:
        originals = {t.number: t for t in store.trials(store.get_study("own").id)}
        runs = store.trials(store.get_study("own.audit").id)
    best = min(t.value for t in originals.values() if t.state == TrialState.COMPLETE)
    assert len(runs) == 2
    for run in runs:
        assert originals[run.number].state == TrialState.PRUNED
        assert run.value == pytest.approx((run.params["x"] - 1) ** 2)
    assert _printed_counts(audited.stdout) == (sum(run.value < best for run in runs), 2)


def late_bloomer(trial: Any) -> float:
    """An objective for the API test: a 4-epoch curve ending at (x - 1)^2."""
    x = trial.params["x"]
    for epoch in range(4):
        trial.report(epoch, {"value": (x - 1) ** 2 + 1.0 / (epoch + 1)})
        if trial.should_prune():
            raise TrialPruned()
    return (x - 1) ** 2


def test_study_audit_from_the_api(storage: Path) -> None:
    study = tuning_core.create_study(
        "api-cut",
        storage=storage,
        space={"x": (-3.0, 3.0)},
        pruner={"type": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
        budget=10,
    )
    study.optimize(late_bloomer, epochs=4, show_progress=False)
    report = study.audit(sample=2)
    with Store(storage) as store:
        runs = store.trials(store.get_study("api-cut.audit").id)
    assert len(runs) == 2 and len(report.counted) == 2
    assert report.wins == sum(run.value < study.best_value for run in runs)
    with pytest.raises(SpecError, match="--sample must be"):
        study.audit(sample=0)
