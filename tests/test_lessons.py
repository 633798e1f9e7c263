"""Recordings and lessons: record a study, load it as untrusted input, replay it (at once, or at
a speed, as if live), the lessons shipped in lessons/, and the landing page's links."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.seeding import seed_store
from tuning_core.cli import main
from tuning_core.engine import explain, snapshots
from tuning_core.engine import race as races
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.reports import recording
from tuning_core.views import lessons

APP = str(ROOT / "app.py")


def _finished_seeded_store(path: Path) -> None:
    seed_store(path, running=False)  # nine complete trials and a diverged one


def _rows(store: Store, name: str) -> tuple[list, list, dict]:
    study = store.get_study(name)
    trials = [(t.number, t.params, t.state, t.value, t.error) for t in store.trials(study.id)]
    metrics = store.epoch_metrics(study.id)
    losses = {t.number: store.batch_losses(study.id, t.number) for t in store.trials(study.id)}
    return trials, metrics, losses


def test_a_recorded_study_replays_into_another_store_with_the_same_numbers(tmp_path: Path) -> None:
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    _finished_seeded_store(source)
    output = tmp_path / "seeded.json"
    assert main(["--storage", str(source), "record", "seeded", "--output", str(output)]) == 0
    loaded = recording.load_recording(output)
    assert len(loaded.trials) == 10 and output.stat().st_size < 20_000
    # Epoch times rise within each trial, between its start and its end.
    for trial in loaded.trials:
        moments = [epoch.at for epoch in trial.epochs]
        assert moments == sorted(moments)
        assert all(trial.started <= at <= trial.finished for at in moments)
    assert main(["--storage", str(target), "replay", str(output)]) == 0
    with Store(source) as before, Store(target) as after:
        trials, metrics, losses = _rows(after, "seeded")
        # The running trial was not recorded; everything finished is the same, number for number.
        expected = _rows(before, "seeded")
        finished = {row[0] for row in expected[0] if row[2].is_finished()}
        assert trials == [row for row in expected[0] if row[0] in finished]
        assert metrics == [row for row in expected[1] if row[0] in finished]
        assert losses == {n: v for n, v in expected[2].items() if n in finished}
        assert after.get_study("seeded").status == StudyStatus.FINISHED


def test_pruned_trials_keep_why_they_stopped(tmp_path: Path) -> None:
    path = lessons.LESSONS_DIR / "lesson-early-stopping.json"
    loaded = recording.load_recording(path)
    with Store(tmp_path / "store.db") as store:
        recording.replay(store, loaded)
        study = store.get_study("lesson-early-stopping")
        decisions = store.prune_decisions(study.id)
    pruned = [t for t in loaded.trials if t.state == TrialState.PRUNED]
    assert pruned and [d.trial_number for d in decisions] == [t.number for t in pruned]
    assert all(d.rule == "successive_halving" and d.rung is not None for d in decisions)


def test_a_replay_at_a_speed_writes_in_the_recorded_order_and_pace(tmp_path: Path) -> None:
    speed = 10.0
    loaded = recording.load_recording(lessons.LESSONS_DIR / "lesson-batch-size.json")
    waits: list[float] = []
    seen: list[tuple[int, int]] = []
    with Store(tmp_path / "store.db") as store:

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            study = store.get_study("lesson-batch-size")
            seen.append((len(store.trials(study.id)), len(store.epoch_metrics(study.id))))
            assert study.status == StudyStatus.RUNNING and study.worker_pid == 4242
            time.sleep(seconds)  # the replay's clock is real: each wait is what is left

        # ×10 (0.8 s): the schedule outweighs the time the writes take on a loaded machine
        # (the replay waits for the schedule less what has really passed; at ×1000 the whole
        # schedule was ~8 ms, and slow writes under load left too few waits to judge).
        recording.replay(store, loaded, speed=speed, sleep=sleep, worker_pid=4242)
        assert store.get_study("lesson-batch-size").status == StudyStatus.FINISHED
    # Rows arrive a few at a time, never all at once, and the waits add up to about the
    # recorded time (after the first epoch) at that speed.
    assert len(seen) > 5 and seen == sorted(seen) and seen[0][1] <= 4
    first_epoch = min(e.at for t in loaded.trials for e in t.epochs)
    assert sum(waits) <= (loaded.seconds - first_epoch) / speed + 0.05


def test_a_stop_request_ends_a_replay(tmp_path: Path) -> None:
    loaded = recording.load_recording(lessons.LESSONS_DIR / "lesson-optimizers.json")
    with Store(tmp_path / "store.db") as store:

        def sleep(_seconds: float) -> None:
            store.request_stop("lesson-optimizers")

        recording.replay(store, loaded, speed=1.0, sleep=sleep)
        study = store.get_study("lesson-optimizers")
        assert study.status == StudyStatus.STOPPED
        assert len(store.trials(study.id)) < len(loaded.trials) or any(
            t.state == TrialState.INTERRUPTED for t in store.trials(study.id)
        )


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda r: "not json {", "is not a JSON file"),
        (lambda r: json.dumps({**r, "format": "pickle"}), "not a Tuning Lab recording"),
        (lambda r: json.dumps({**r, "version": 9}), "version 9"),
        (lambda r: json.dumps({**r, "trials": []}), "1 to 500 trials"),
        (lambda r: json.dumps({**r, "spec": {"name": "x"}}), "its spec is invalid"),
        (
            lambda r: json.dumps({**r, "trials": [{**r["trials"][0], "value": "NaN"}]}),
            "value: must be a finite number",
        ),
        (
            lambda r: json.dumps({**r, "trials": [{**r["trials"][0], "params": {}}]}),
            "params: must name every hyperparameter",
        ),
        (
            lambda r: json.dumps({**r, "trials": [{**r["trials"][0], "state": "running"}]}),
            "must have finished",
        ),
        (lambda r: " " * (recording.MAX_BYTES + 1), "over the 2,000,000-byte limit"),
    ],
)
def test_a_bad_recording_is_one_sentence(tmp_path: Path, mangle, words: str) -> None:
    raw = json.loads((lessons.LESSONS_DIR / "lesson-learning-rate.json").read_text())
    path = tmp_path / "bad.json"
    path.write_text(mangle(raw))
    with pytest.raises(recording.RecordingError) as caught:
        recording.load_recording(path)
    message = str(caught.value)
    assert words in message and message.count(". ") == 0 and "\n" not in message


def test_the_replay_command_refuses_a_bad_recording_in_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    assert main(["--storage", str(tmp_path / "s.db"), "replay", str(path)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_every_lesson_ships_a_small_recording_of_its_own_spec() -> None:
    assert [lesson.key for lesson in lessons.LESSONS] == [
        "learning-rate", "batch-size", "optimizers", "early-stopping", "search-strategies",
        "why-this-point", "bigger-is-not-better",
    ]  # fmt: skip
    for lesson in lessons.LESSONS:
        path = lesson.recording_path()
        loaded = recording.load_recording(path)
        shipped = json.loads(lesson.spec_path().read_text())
        assert loaded.name == lesson.study
        if isinstance(loaded, recording.RaceRecording):
            # 7 studies of 25-30 trials of a test function: no model, a few bytes a trial.
            assert path.stat().st_size < 40_000, path
            assert loaded.race.raw == parse_race_spec(shipped).raw
            objective = loaded.race.objective
            assert (objective["type"], objective["name"]) == ("function", "branin")
            assert [len(study.trials) for study in loaded.studies] == [25] + [30] * 6
            continue
        assert path.stat().st_size < 30_000, path
        assert loaded.spec.to_json() == parse_spec(shipped).to_json()
        objective = loaded.spec.objective
        if lesson.key == "why-this-point":
            assert (objective["type"], objective["name"]) == ("function", "branin")
            assert len(loaded.trials) == 20 and all(t.ask for t in loaded.trials)
            continue
        if lesson.key == "bigger-is-not-better":
            # Two metrics over a 4 x 3 grid of units and batch sizes on all of digits: every
            # trial carries both, so the front replays without training.
            assert [(g.name, g.direction.value) for g in loaded.spec.metrics] == [
                ("val_accuracy", "maximize"), ("train_seconds", "minimize")
            ]  # fmt: skip
            assert objective["dataset"] == "digits" and objective["epochs"] <= 8
            assert len(loaded.trials) == 12 and path.stat().st_size < 60_000
            assert all(
                t.values["val_accuracy"] > 0 and t.values["train_seconds"] > 0
                for t in loaded.trials
            )
            continue
        assert objective["dataset"] == "digits" and objective["train_limit"] <= 500
        assert objective["epochs"] <= 8 and len(loaded.trials) <= 9
    learning_rates = recording.load_recording(lessons.LESSONS_DIR / "lesson-learning-rate.json")
    states = {t.params["learning_rate"]: t.state for t in learning_rates.trials}
    assert states == {0.001: TrialState.COMPLETE, 0.1: TrialState.COMPLETE,
                      10.0: TrialState.DIVERGED}  # fmt: skip


def _use_a_new_key(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Act as another user: a config folder of their own, so another signing key."""
    monkeypatch.setenv(snapshots.CONFIG_DIR_ENV, str(folder))
    monkeypatch.setattr(snapshots, "_keys", {})


def _explanations(store: Store, name: str) -> dict[int, dict]:
    study = store.get_study(name)
    return {n: explain.explain(store, name, n).to_json() for n in store.asked_trials(study.id)}


def test_the_why_lessons_spec_rerun_explains_each_trial_as_its_replay_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recording carries plain numbers, no signed pickle: a user with another key replays
    it, and every trial's surrogate, doubt and acquisition are those of the spec run afresh
    (a seeded test function: the same numbers, to rounding)."""
    lesson = lessons.lesson_named("why-this-point")
    shipped = recording.load_recording(lesson.recording_path())
    assert b"tuning-lab signed" not in lesson.recording_path().read_bytes()
    fresh_path, replayed_path = tmp_path / "fresh.db", tmp_path / "replayed.db"
    assert main(["--storage", str(fresh_path), "run", str(lesson.spec_path())]) == 0
    with Store(fresh_path) as store:
        expected = _explanations(store, lesson.study)
        trials = {t.number: t for t in store.trials(store.get_study(lesson.study).id)}
    for trial in shipped.trials:
        assert trials[trial.number].params == pytest.approx(trial.params, abs=1e-9)
        assert trials[trial.number].value == pytest.approx(trial.value, rel=1e-6)
    _use_a_new_key(monkeypatch, tmp_path / "another-user")
    with Store(replayed_path) as store:
        recording.replay(store, shipped)
        replayed = _explanations(store, lesson.study)
    assert replayed.keys() == expected.keys() and len(replayed) == 20
    model_chosen = [n for n, data in expected.items() if not data["initial"]]
    assert len(model_chosen) == 10
    for number in model_chosen:
        for key in ("mean", "std", "acquisition_values"):
            assert replayed[number][key] == pytest.approx(expected[number][key], abs=1e-6)
        assert replayed[number]["chosen"] == pytest.approx(expected[number]["chosen"])
        assert replayed[number]["acquisition"] == expected[number]["acquisition"] == "EI"


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda ask: {**ask, "kernel_theta": [0.1]}, "does not fit the spec"),
        (lambda ask: {**ask, "point": [1.0]}, "must give 2 numbers or texts"),
        (lambda ask: {**ask, "point": [99.0, 1.0]}, "does not fit the spec"),
        (lambda ask: {**ask, "told_before": 400}, "shares 400 told points"),
        (lambda ask: {**ask, "acquisition": "os.system"}, "must be one of EI, PI, LCB"),
    ],
)
def test_an_ask_that_does_not_fit_its_spec_is_one_sentence(
    tmp_path: Path, mangle, words: str
) -> None:
    raw = json.loads((lessons.LESSONS_DIR / "lesson-why-this-point.json").read_text())
    raw["trials"][-1]["ask"] = mangle(raw["trials"][-1]["ask"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with Store(tmp_path / "store.db") as store:
        with pytest.raises(recording.RecordingError) as caught:
            recording.replay(store, recording.load_recording(path))
        assert store.get_study("lesson-why-this-point") is None  # nothing written
    message = str(caught.value)
    assert words in message and message.count(". ") == 0 and "\n" not in message


def test_a_race_replays_as_a_race_and_records_back_to_the_same_trials(tmp_path: Path) -> None:
    lesson = lessons.lesson_named("search-strategies")
    shipped = recording.load_recording(lesson.recording_path())
    storage = tmp_path / "store.db"
    with Store(storage) as store:
        recording.replay(store, shipped)
        recording.replay(store, shipped)  # again: the lesson starts afresh, not resumed
        race = races.get_race(store, lesson.study)
        assert race.status == StudyStatus.FINISHED
        assert [s for _, s, _, _ in races.member_statuses(store, race.id)] == ["finished"] * 7
        rows = races.race_trial_rows(store, race.id)
    assert len(rows) == sum(len(study.trials) for study in shipped.studies)
    output = tmp_path / "again.json"
    assert main(["--storage", str(storage), "record", lesson.study, "--output", str(output)]) == 0
    again = recording.load_recording(output)
    assert isinstance(again, recording.RaceRecording) and again.race.raw == shipped.race.raw
    for before, after in zip(shipped.studies, again.studies, strict=True):
        assert [(t.number, t.params, t.state, t.value) for t in after.trials] == [
            (t.number, t.params, t.state, t.value) for t in before.trials
        ]


def test_a_bayesian_replay_starts_at_its_first_model_chosen_trial(tmp_path: Path) -> None:
    """At a speed, "Why this point?" is drawn once the replay has started: by then the first
    trial the model chose is in, with its ask (the random points before it came at once)."""
    loaded = recording.load_recording(lessons.LESSONS_DIR / "lesson-why-this-point.json")
    seen: list[dict[int, tuple[bool, str | None]]] = []
    with Store(tmp_path / "store.db") as store:

        def started() -> None:
            seen.append(store.asks(store.get_study(loaded.name).id))

        recording.replay(store, loaded, speed=1000.0, started=started)
    assert len(seen) == 1
    assert [n for n, (initial, _) in seen[0].items() if not initial] == [10]


@pytest.mark.slow  # a 205-trial race, its three Bayesian studies refitting a GP: ~15 s
def test_the_race_lessons_spec_rerun_gives_its_recorded_numbers(tmp_path: Path) -> None:
    lesson = lessons.lesson_named("search-strategies")
    shipped = recording.load_recording(lesson.recording_path())
    storage = tmp_path / "store.db"
    assert main(["--storage", str(storage), "race", str(lesson.spec_path())]) == 0
    with Store(storage) as store:
        fresh = recording.parse_recording(recording.record(store, lesson.study))
    for before, after in zip(shipped.studies, fresh.studies, strict=True):
        assert [t.value for t in after.trials] == pytest.approx(
            [t.value for t in before.trials], rel=1e-6
        )


def test_a_link_opens_its_lesson_replayed_on_its_page(storage: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception and at.title[0].value == "Tuning Lab"
    links = [element.proto for element in at.get("page_link")]
    assert [link.query_string.split("&")[0] for link in links] == [
        f"lesson={lesson.key}" for lesson in lessons.LESSONS
    ]
    assert links[0].page == "lr_lab" and "speed=x10" in links[0].query_string
    # The link's query, as app.py sees it before any page runs (the browser test follows the
    # real link to its page).
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lesson": "batch-size", "speed": "instant"})
    at.run()
    assert dict(at.query_params) == {"study": "lesson-batch-size"}  # lesson and speed consumed
    at.switch_page("pages/live.py").run()
    assert not at.exception
    assert any(r"lesson\-batch\-size" in markdown.value for markdown in at.markdown)
    with Store(storage) as store:
        study = store.get_study("lesson-batch-size")
        assert study.status == StudyStatus.FINISHED and len(store.trials(study.id)) == 3
    assert any("recorded lesson" in caption.value for caption in at.caption)


@pytest.mark.parametrize(
    ("key", "page", "shown"),
    [
        ("why-this-point", "pages/why.py", "expected improvement"),
        ("search-strategies", "pages/race.py", "lesson-search-strategies · finished · 7/7"),
    ],
)
def test_the_race_and_why_lessons_open_replayed(storage: Path, key, page, shown) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lesson": key, "speed": "instant"})
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    texts = (
        [m.value for m in at.markdown] + [i.value for i in at.info] + [s.value for s in at.success]
    )
    assert any(shown in text.replace("\\", "") for text in texts), texts
    assert any("recorded lesson" in caption.value for caption in at.caption)
    assert at.button(key="run_live")  # "Run it live instead"


# That opening a lesson never imports TensorFlow is checked in the fresh interpreter of
# test_pages.test_no_tensorflow_in_the_ui_process, which opens every page too.


@pytest.mark.keras
def test_the_learning_rate_lessons_spec_rerun_gives_its_recorded_numbers(tmp_path: Path) -> None:
    """The cheapest lesson (3 runs x 6 epochs on 400 digits) trained again: each rate ends as
    recorded, its final validation accuracy within noise. Through the CLI's main() in this
    process, as the race lesson above: a worker would import TensorFlow again (~7 s)."""
    lesson = lessons.lesson_named("learning-rate")
    storage = tmp_path / "store.db"
    run = ["--storage", str(storage), "run", str(lesson.spec_path()), "--recycle-every", "0"]
    assert main(run) == 0
    recorded = recording.load_recording(lesson.recording_path())
    with Store(storage) as store:
        fresh = recording.parse_recording(recording.record(store, lesson.study))
    by_rate = {t.params["learning_rate"]: t for t in fresh.trials}
    for trial in recorded.trials:
        again = by_rate[trial.params["learning_rate"]]
        assert again.state == trial.state
        if trial.value is not None:
            assert again.value == pytest.approx(trial.value, abs=0.05)
            final = trial.epochs[-1].metrics["val_loss"]
            assert again.epochs[-1].metrics["val_loss"] == pytest.approx(final, rel=0.1)


def test_trials_pruned_together_at_a_rung_draw_one_pair_of_scissors(tmp_path: Path) -> None:
    """The early-stopping lesson prunes five trials at epoch 1 with accuracies 0.12-0.21: one
    mark with a count, not a pile of five."""
    from tuning_core.reports import frames
    from tuning_core.views import curve_charts

    loaded = recording.load_recording(lessons.LESSONS_DIR / "lesson-early-stopping.json")
    with Store(tmp_path / "store.db") as store:
        recording.replay(store, loaded)
        study = store.get_study(loaded.spec.name)
        trials = frames.trials_frame(store.trials(study.id), study.spec)
        curves = frames.curves_frame(store.epoch_metrics(study.id), trials)
        pruned = frames.pruning_frame(store.prune_decisions(study.id), study.spec.metric)
    rows = curve_charts.curves_data(curves, "val_accuracy", "learning_rate", None, pruned)
    first_rung = rows[(rows["kind"] == "pruned") & (rows["epoch"] == 1)]
    assert len(first_rung) == 5  # every pruned trial keeps its row (its tooltip)
    drawn = first_rung[~first_rung["stacked"].astype(bool)]
    assert len(drawn) < len(first_rung)
    assert drawn["count"].fillna(1).sum() == len(first_rung)
    assert (first_rung["label"] == "5 pruned at epoch 1").sum() == 1
