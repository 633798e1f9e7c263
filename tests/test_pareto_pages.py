"""AppTest: the Live page's Pareto front and Compare's hypervolume for studies of several
metrics, against a real store seeded through the Store API; a study of one metric shows
neither."""

from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.seeding import seed_store
from tuning_core.engine import pareto
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.reports import frames
from tuning_core.views import live_front

APP = str(ROOT / "app.py")
GOALS = [
    {"name": "val_accuracy", "direction": "maximize"},
    {"name": "train_seconds", "direction": "minimize"},
    {"name": "parameters", "direction": "minimize"},
]


def two_metric_spec(name: str, metrics: int = 2, trials: int = 12) -> dict[str, Any]:
    """A digits MLP study of ``metrics`` metrics (val_accuracy, train_seconds, parameters)."""
    return {
        "name": name,
        "objective": {
            "type": "keras",
            "dataset": "digits",
            "model": "mlp",
            "epochs": 3,
            "metrics": GOALS[:metrics],
        },
        "space": {
            "units": {"type": "int", "low": 16, "high": 512, "log": True},
            "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
        },
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
    }


def trial_values(index: int, shift: float = 0.0) -> dict[str, float]:
    """A trade-off: wider MLPs score higher and train longer, with some wide ones wasted."""
    units = 16 * 2 ** (index % 6)
    accuracy = 0.80 + 0.025 * (index % 6) - (0.04 if index % 4 == 3 else 0.0) + shift
    seconds = 1.0 + 0.6 * (index % 6) + 0.05 * index
    return {
        "val_accuracy": round(accuracy, 4),
        "train_seconds": round(seconds, 3),
        "parameters": float(64 * units + 10 * units),
    }


def seed_multi_metric(
    path: Path,
    name: str = "two-metrics",
    metrics: int = 2,
    complete: int = 12,
    running: bool = True,
    shift: float = 0.0,
) -> dict[int, dict[str, float]]:
    """``complete`` trials with values and curves, one failed, and one running trial; returns
    each complete trial's values by number."""
    spec = parse_spec(two_metric_spec(name, metrics, complete + 4))
    seeded: dict[int, dict[str, float]] = {}
    with Store(path) as store:
        study_id = store.create_study(spec)
        store.set_status(
            study_id,
            StudyStatus.RUNNING if running else StudyStatus.FINISHED,
            worker_pid=os.getpid() if running else None,
        )
        for number in range(complete):
            values = trial_values(number, shift)
            params = {"units": 16 * 2 ** (number % 6), "learning_rate": 0.001 * 1.4**number}
            trial_id = store.start_trial(study_id, number, params)
            for epoch in range(3):
                share = (epoch + 1) / 3
                accuracy = values["val_accuracy"] * share
                store.add_epoch_metrics(
                    trial_id,
                    epoch,
                    {"loss": 2.3 - 2 * accuracy, "val_loss": 2.4 - 2 * accuracy,
                     "accuracy": accuracy, "val_accuracy": accuracy},
                )  # fmt: skip
            store.finish_trial(
                trial_id,
                TrialState.COMPLETE,
                values["val_accuracy"],
                values={name: values[name] for name in [g["name"] for g in GOALS[:metrics]]},
            )
            seeded[number] = values
        failed = store.start_trial(study_id, complete, {"units": 32, "learning_rate": 0.01})
        store.finish_trial(failed, TrialState.FAILED, error="out of memory")
        if running:
            current = store.start_trial(
                study_id, complete + 1, {"units": 64, "learning_rate": 0.02}
            )
            store.add_epoch_metrics(
                current, 0, {"loss": 1.0, "accuracy": 0.7, "val_loss": 1.1, "val_accuracy": 0.68}
            )
    return seeded


def expected_front(seeded: dict[int, dict[str, float]], metrics: int = 2) -> list[int]:
    names = [g["name"] for g in GOALS[:metrics]]
    numbers = sorted(seeded)
    points = [[seeded[n][m] for m in names] for n in numbers]
    directions = [g["direction"] for g in GOALS[:metrics]]
    return sorted(numbers[i] for i in pareto.front_indices(points, directions))


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(element.proto.spec) for element in at.get("vega_lite_chart")]


def charts_with_data(at: AppTest) -> list[tuple[dict, pd.DataFrame]]:
    """Each chart's Vega-Lite spec and its first dataset (as tests/test_pages.py reads them)."""
    found = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        blobs = ([element.proto.data.data] if element.proto.HasField("data") else []) + [
            d.data.data for d in element.proto.datasets
        ]
        tables = [pa.ipc.open_stream(io.BytesIO(blob)).read_pandas() for blob in blobs if blob]
        found.append((spec, tables[0] if tables else pd.DataFrame()))
    return found


def pareto_specs(at: AppTest) -> list[dict]:
    return [c for c in charts(at) if str(c.get("title", "")).startswith("Pareto front")]


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def plain(text: str) -> str:
    """What a reader sees of Markdown that escapes user text (dashboard.security)."""
    return re.sub(r"\\(.)", r"\1", text)


def test_the_trials_frame_gains_a_column_per_metric_only_for_several(storage: Path) -> None:
    seeded = seed_multi_metric(storage, running=False)
    seed_store(storage, running=False)
    with Store(storage) as store:
        study = store.get_study("two-metrics")
        both = frames.trials_frame(store.trials(study.id), study.spec, with_metrics=True)
        plain_frame = frames.trials_frame(store.trials(study.id), study.spec)
        single = store.get_study("seeded")
        one = frames.trials_frame(store.trials(single.id), single.spec, with_metrics=True)
    assert list(both.columns[-2:]) == ["val_accuracy", "train_seconds"]
    assert both.attrs["metric_columns"] == ("val_accuracy", "train_seconds")
    complete = both[both["state"] == "complete"].set_index("number")
    for number, values in seeded.items():
        assert complete.loc[number, "train_seconds"] == pytest.approx(values["train_seconds"])
    assert math.isnan(both.loc[both["state"] == "failed", "train_seconds"].iloc[0])
    # Without asking, and for one metric, the frame is as it was.
    assert "train_seconds" not in plain_frame and "train_seconds" not in one
    assert one.attrs.get("metric_columns", ()) == ()
    # The curves do not carry a trial's metrics on every epoch row.
    curves = frames.curves_frame([(0, 0, "loss", 1.0)], both)
    assert "train_seconds" not in curves and "units" in curves


def test_a_metric_named_like_a_column_gets_its_own_column() -> None:
    raw = two_metric_spec("clash")
    raw["objective"] = {"type": "python", "target": "mod:fn", "metrics": [
        {"name": "units", "direction": "maximize"}, {"name": "value", "direction": "minimize"},
    ]}  # fmt: skip
    spec = parse_spec(raw)
    assert frames.metric_columns(spec) == {"units": "units (metric)", "value": "value (metric)"}


def test_live_shows_the_front_and_its_sentence_for_two_metrics(storage: Path) -> None:
    seeded = seed_multi_metric(storage)
    front = expected_front(seeded)
    at = open_page("pages/live.py", study="two-metrics")
    shown = plain(texts(at))
    best = max(front, key=lambda n: (seeded[n]["val_accuracy"], -n))
    assert f"{len(front)} of {len(seeded)} complete trials are on the front" in shown
    assert f"is trial {best}." in shown
    specs = pareto_specs(at)
    assert len(specs) == 1, [c.get("title") for c in charts(at)]
    assert specs[0]["title"] == f"Pareto front: {len(front)} of {len(seeded)} complete trials"
    # Two metrics: no pair to pick.
    assert not [s for s in at.selectbox if s.key == "pareto_pair"]


def test_three_metrics_get_a_pair_picker_that_redraws_the_front(storage: Path) -> None:
    seeded = seed_multi_metric(storage, metrics=3)
    at = open_page("pages/live.py", study="two-metrics")
    picker = next(s for s in at.selectbox if s.key == "pareto_pair")
    assert picker.options == [
        "val_accuracy against train_seconds",
        "val_accuracy against parameters",
        "train_seconds against parameters",
    ]
    assert "all 3 metrics" in plain(texts(at))
    picker.set_value(("parameters", "train_seconds")).run()
    assert not at.exception
    spec = pareto_specs(at)[0]
    titles = {
        layer.get("encoding", {}).get("x", {}).get("title") for layer in spec.get("layer", [])
    }
    assert "parameters (lower is better)" in titles
    pair_front = expected_pair_front(seeded, "parameters", "train_seconds")
    assert spec["title"].startswith(f"Pareto front: {len(pair_front)} of")


def expected_pair_front(seeded: dict[int, dict[str, float]], x: str, y: str) -> list[int]:
    numbers = sorted(seeded)
    directions = {g["name"]: g["direction"] for g in GOALS}
    points = [[seeded[n][x], seeded[n][y]] for n in numbers]
    return [numbers[i] for i in pareto.front_indices(points, [directions[x], directions[y]])]


def test_a_single_metric_study_shows_no_front(storage: Path) -> None:
    seed_store(storage)
    at = open_page("pages/live.py", study="seeded")
    assert not pareto_specs(at)
    assert "on the front" not in texts(at)


def test_the_front_sentence_and_the_picked_point_in_words(storage: Path) -> None:
    seeded = seed_multi_metric(storage, running=False)
    with Store(storage) as store:
        study = store.get_study("two-metrics")
        trials = frames.trials_frame(store.trials(study.id), study.spec, with_metrics=True)
    front = live_front.study_front(trials, study.spec)
    assert list(front.numbers) == expected_front(seeded)
    on, off = front.numbers[0], next(n for n in seeded if n not in front.numbers)
    text = live_front.picked_point_text(trials, on, study.spec, front)
    assert text.startswith(f"Trial {on} (on the front): val_accuracy ")
    assert f"units {16 * 2 ** (on % 6)}" in text and text.endswith(".")
    below = live_front.picked_point_text(trials, on, study.spec, front, curves_below=True)
    assert below.endswith("Its curves are the solid lines below.")
    dominated = live_front.picked_point_text(trials, off, study.spec, front)
    assert dominated.startswith(f"Trial {off} (dominated): ")
    empty = live_front.study_front(trials.iloc[0:0], study.spec)
    assert live_front.front_sentence(empty, study.spec).startswith("No complete trial yet")
    # The seeded failed trial, then two more, are counted as not drawn, not silently left out.
    assert live_front.front_sentence(front, study.spec).endswith(
        " 1 finished trial is not drawn: failed, diverged or stopped before every metric was "
        "measured (see the table)."
    )
    broken = trials.copy()
    broken.loc[broken.index[:2], "state"] = ["failed", "diverged"]
    broken.loc[broken.index[:2], front_columns(study.spec)] = float("nan")
    sentence = live_front.front_sentence(live_front.study_front(broken, study.spec), study.spec)
    assert sentence.endswith(
        " 3 finished trials are not drawn: failed, diverged or stopped before every metric was "
        "measured (see the table)."
    )


def front_columns(spec) -> list[str]:
    return [column for column, _ in live_front.front_goals(spec)]


def test_compare_shows_hypervolume_for_two_studies_of_the_same_metrics(storage: Path) -> None:
    first = seed_multi_metric(storage, "front-a", running=False)
    second = seed_multi_metric(storage, "front-b", running=False, shift=0.02)
    at = open_page("pages/compare.py", study="front-a")
    overlay = next(m for m in at.multiselect if m.key == "overlay_front-a")
    overlay.set_value(["front-a", "front-b"]).run()
    assert not at.exception, [e.value for e in at.exception]
    found = [
        data for spec, data in charts_with_data(at)
        if spec.get("title") == "hypervolume over trials, by study"
    ]  # fmt: skip
    assert len(found) == 1
    shown = plain(texts(at))
    assert "measured from one corner for all studies: val_accuracy " in shown
    # What the chart draws is each study's hypervolume from the same corner, by engine.pareto.
    drawn = found[0]
    directions = ["maximize", "minimize"]
    points = {
        name: [[s[n]["val_accuracy"], s[n]["train_seconds"]] for n in sorted(s)]
        for name, s in (("front-a", first), ("front-b", second))
    }
    reference = pareto.reference_point(points["front-a"] + points["front-b"], directions)
    for name, study_points in points.items():
        line = drawn[drawn["study"] == f"{name} (random)"].sort_values("trial")
        # The failed trial finished too: the line keeps level there.
        expected = pareto.hypervolume_by_trial(study_points, directions, reference)
        assert list(line["hypervolume"])[: len(expected)] == pytest.approx(list(expected))
        assert line["hypervolume"].iloc[-1] == pytest.approx(
            pareto.hypervolume(study_points, directions, reference)
        )
    finals = drawn.groupby("study")["hypervolume"].last()
    assert finals["front-b (random)"] > finals["front-a (random)"]  # b: a's front, 0.02 higher


@pytest.mark.slow  # Compare with three studies, ~1.7 s; the two-metric Compare test stays fast
def test_compare_shows_no_hypervolume_for_a_single_metric_study(storage: Path) -> None:
    seed_store(storage, running=False)
    seed_multi_metric(storage, "front-a", running=False)
    at = open_page("pages/compare.py", study="seeded")
    overlay = next(m for m in at.multiselect if m.key == "overlay_seeded")
    overlay.set_value(["seeded", "front-a"]).run()
    assert not at.exception
    assert not [c for c in charts(at) if c.get("title") == "hypervolume over trials, by study"]


def test_the_front_grows_as_trials_finish(storage: Path) -> None:
    seeded = seed_multi_metric(storage)
    at = open_page("pages/live.py", study="two-metrics")
    before = expected_front(seeded)
    assert f"{len(before)} of {len(seeded)} complete trials" in plain(texts(at))
    # The running trial finishes faster and better than any: it alone is the front now.
    best = {"val_accuracy": 0.99, "train_seconds": 0.5}
    with Store(storage) as store:
        study = store.get_study("two-metrics")
        running = next(t for t in store.trials(study.id) if t.state == TrialState.RUNNING)
        store.finish_trial(running.id, TrialState.COMPLETE, 0.99, values=best)
    at.run()
    assert not at.exception
    after = expected_front({**seeded, running.number: best})
    assert after == [running.number]
    shown = plain(texts(at))
    assert f"1 of {len(seeded) + 1} complete trials is on the front" in shown
    assert f"is trial {running.number}." in shown
    assert pareto_specs(at)[0]["title"] == f"Pareto front: 1 of {len(seeded) + 1} complete trials"
