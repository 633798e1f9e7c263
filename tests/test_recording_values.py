"""Recordings carry every metric a trial measured (its ``values``): recorded, validated as
untrusted input, replayed with ``finish_trial(values=...)``; a recording made before studies
kept them replays as it always did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuning_core.cli import main
from tuning_core.engine import explain, pareto
from tuning_core.engine.records import front_trials
from tuning_core.engine.storage import Store
from tuning_core.reports import recording
from tuning_core.views import lessons


def _zdt_spec(path: Path) -> Path:
    spec = {
        "name": "zdt-rec",
        "objective": {"type": "function", "name": "zdt1"},
        "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 4)},
        "strategy": {"type": "random", "seed": 3},
        "budget": {"trials": 8},
    }
    path.write_text(json.dumps(spec))
    return path


def _recorded_zdt(tmp_path: Path) -> tuple[Path, Path]:
    """A two-metric study run through the CLI, and its recording."""
    source, output = tmp_path / "source.db", tmp_path / "zdt.json"
    assert main(["--storage", str(source), "run", str(_zdt_spec(tmp_path / "spec.json"))]) == 0
    assert main(["--storage", str(source), "record", "zdt-rec", "--output", str(output)]) == 0
    return source, output


def _values(store: Store, name: str) -> dict[int, dict[str, float]]:
    return {t.number: t.values for t in store.trials(store.get_study(name).id)}


def test_a_recording_keeps_every_metric_and_the_replay_writes_them(tmp_path: Path) -> None:
    source, output = _recorded_zdt(tmp_path)
    loaded = recording.load_recording(output)
    assert all(set(t.values) == {"f1", "f2"} for t in loaded.trials)
    target = tmp_path / "target.db"
    assert main(["--storage", str(target), "replay", str(output)]) == 0
    with Store(source) as before, Store(target) as after:
        expected, replayed = _values(before, "zdt-rec"), _values(after, "zdt-rec")
        assert replayed == expected and len(replayed) == 8
        spec = after.get_study("zdt-rec").spec
        # The front a page reads from the replay is the run's own.
        front = [t.number for t in front_trials(after.trials(after.get_study("zdt-rec").id),
                                                spec.metrics)]  # fmt: skip
        assert front == [t.number for t in front_trials(
            before.trials(before.get_study("zdt-rec").id), spec.metrics)]  # fmt: skip
    # Recorded back from the replay: the same values again.
    again = tmp_path / "again.json"
    assert main(["--storage", str(target), "record", "zdt-rec", "--output", str(again)]) == 0
    assert [t.values for t in recording.load_recording(again).trials] == [
        t.values for t in loaded.trials
    ]


def test_a_recording_without_values_replays_as_before(tmp_path: Path) -> None:
    """A lesson recorded before trials kept their values has none, and its replay stores none
    (a one-metric page reads the trial's value, as it did)."""
    lesson = lessons.lesson_named("batch-size")
    raw = json.loads(lesson.recording_path().read_text())
    assert all("values" not in trial for trial in raw["trials"])
    loaded = recording.load_recording(lesson.recording_path())
    assert all(t.values == {} for t in loaded.trials)
    with Store(tmp_path / "store.db") as store:
        recording.replay(store, loaded)
        trials = store.trials(store.get_study(lesson.study).id)
    assert all(t.values == {} for t in trials)
    assert [t.value for t in trials] == [t.value for t in loaded.trials]


def test_a_null_value_stays_no_value(tmp_path: Path) -> None:
    _, output = _recorded_zdt(tmp_path)
    raw = json.loads(output.read_text())
    raw["trials"][0]["values"]["f2"] = None
    path = tmp_path / "null.json"
    path.write_text(json.dumps(raw))
    loaded = recording.load_recording(path)
    assert loaded.trials[0].values["f2"] is None
    with Store(tmp_path / "replayed.db") as store:
        recording.replay(store, loaded)
        first = store.trials(store.get_study("zdt-rec").id)[0]
    assert "f2" not in first.values and first.values["f1"] == loaded.trials[0].values["f1"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ([1.0, 2.0], "must map at most 20 metric names to numbers"),
        ({f"m{i}": 1.0 for i in range(21)}, "must map at most 20 metric names to numbers"),
        ({"f1; DROP TABLE": 1.0}, "is not a metric name"),
        ({"": 1.0}, "is not a metric name"),
        ({"x" * 65: 1.0}, "is not a metric name"),
        ({"f1": "0.5"}, "values.f1: must be a finite number"),
        ({"f1": True}, "values.f1: must be a finite number"),
        ({"f1": 1e400}, "values.f1: must be a finite number"),
        ({"f1": [0.5]}, "values.f1: must be a finite number"),
    ],
)
def test_bad_values_are_one_sentence(tmp_path: Path, values, words: str) -> None:
    raw = json.loads((lessons.LESSONS_DIR / "lesson-bigger-is-not-better.json").read_text())
    raw["trials"][2]["values"] = values
    path = tmp_path / "bad.json"
    # 1e400 is no JSON number Python writes: put the literal in by hand.
    path.write_text(json.dumps(raw).replace("Infinity", "1e400"))
    with pytest.raises(recording.RecordingError) as caught:
        recording.load_recording(path)
    message = str(caught.value)
    assert words in message and "trials[2].values" in message
    assert message.count(". ") == 0 and "\n" not in message


def test_the_bigger_lesson_replays_its_front(tmp_path: Path) -> None:
    """The two-metric lesson's replay holds both metrics of every trial, and its front is the
    one its recorded values give (what Live draws)."""
    lesson = lessons.lesson_named("bigger-is-not-better")
    loaded = recording.load_recording(lesson.recording_path())
    with Store(tmp_path / "store.db") as store:
        recording.replay(store, loaded)
        study = store.get_study(lesson.study)
        trials = store.trials(study.id)
        front = [t.number for t in front_trials(trials, study.spec.metrics)]
    points = [(t.values["val_accuracy"], t.values["train_seconds"]) for t in loaded.trials]
    expected = pareto.front_indices(points, ["maximize", "minimize"])
    assert front == sorted(loaded.trials[i].number for i in expected)
    assert 2 <= len(front) < len(trials)  # a trade-off: some trials are not worth their time
    # The card's preview is that front, along the training time.
    preview = lessons.preview_frame(loaded)
    assert len(preview) == len(front) and preview["epoch"].is_monotonic_increasing
    assert sorted(preview["value"]) == sorted(t.values["val_accuracy"] for t in trials
                                              if t.number in front)  # fmt: skip


def _bayesian_zdt(tmp_path: Path) -> Path:
    spec = json.loads(_zdt_spec(tmp_path / "spec.json").read_text())
    spec.update(name="zdt-gp", strategy={"type": "bayesian", "seed": 1, "initial_points": 4})
    spec["budget"]["trials"] = 7
    path = tmp_path / "gp.json"
    path.write_text(json.dumps(spec))
    return path


def test_a_two_metric_bayesian_recording_explains_each_trial_as_the_run_did(
    tmp_path: Path,
) -> None:
    """ParEGO's asks carry their weights and told losses: the replay's "Why this point?" is
    the run's, weights included."""
    source, target, output = tmp_path / "s.db", tmp_path / "t.db", tmp_path / "gp-rec.json"
    assert main(["--storage", str(source), "run", str(_bayesian_zdt(tmp_path))]) == 0
    assert main(["--storage", str(source), "record", "zdt-gp", "--output", str(output)]) == 0
    assert main(["--storage", str(target), "replay", str(output)]) == 0
    explained = []
    for path in (source, target):
        with Store(path) as store:
            asked = store.asked_trials(store.get_study("zdt-gp").id)
            explained.append({n: explain.explain(store, "zdt-gp", n).to_json() for n in asked})
    run, replayed = explained
    assert replayed.keys() == run.keys() and len(run) == 7
    # Every ask after the first tell drew weights (the first had nothing to scalarise).
    assert [n for n, facts in run.items() if len(facts.get("weights") or []) == 2] == [*range(1, 7)]
    for number, facts in run.items():
        for key in ("weights", "mean", "std", "chosen", "initial"):
            assert replayed[number].get(key) == pytest.approx(facts.get(key)), (number, key)


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda ask: {**ask, "weights": []}, "weights: a list of 1 to 20 numbers"),
        (lambda ask: {**ask, "weights": [0.5, "x"]}, "weights: must be a finite number"),
        (lambda ask: {**ask, "losses": [[1.0]]}, "losses: each must list 2 numbers"),
        (lambda ask: {**ask, "losses": [[1.0, None]]}, "losses: must be a finite number"),
    ],
)
def test_bad_weights_or_losses_are_one_sentence(tmp_path: Path, mangle, words: str) -> None:
    source, output = tmp_path / "s.db", tmp_path / "gp-rec.json"
    assert main(["--storage", str(source), "run", str(_bayesian_zdt(tmp_path))]) == 0
    assert main(["--storage", str(source), "record", "zdt-gp", "--output", str(output)]) == 0
    raw = json.loads(output.read_text())
    raw["trials"][-1]["ask"] = mangle(raw["trials"][-1]["ask"])
    output.write_text(json.dumps(raw))
    with pytest.raises(recording.RecordingError) as caught:
        recording.load_recording(output)
    message = str(caught.value)
    assert words in message and "trials[6].ask" in message
    assert message.count(". ") == 0 and "\n" not in message
