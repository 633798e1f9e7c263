"""The dashboard side of parallel trials, on stores made by real parallel studies.

Real ``python -m tuning_core run`` drivers with ``"parallel": 2`` (a LocalCluster of two Dask
workers, function objectives with a fidelity) fill the stores; the worker timeline, the running
trials' losses, New study's parallel controls and the Live page are then checked on them.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import APP_TEST_SCRIPT_EXIT, branin_spec, cli_env, run_cli, write_spec
from tests.test_pages import _title, charts_on, open_page, shown
from tests.test_parallel import wait_until
from tuning_core import workers
from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.records import IN_PROCESS_LANE, TimelineBar, worker_timeline
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, TrialRecord, TrialWorker
from tuning_core.engine.study import run_study
from tuning_core.reports import frames
from tuning_core.views import chart_style, forms, live, live_charts

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def _records(storage: Path, name: str) -> tuple[list[TrialRecord], dict[int, TrialWorker]]:
    with Store(storage) as store:
        study = store.get_study(name)
        return store.trials(study.id), store.trial_workers(study.id)


@pytest.fixture(scope="module")
def finished_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished parallel study on two LocalCluster workers, some of its trials pruned."""
    folder = tmp_path_factory.mktemp("finished")
    storage = folder / "store.db"
    spec = branin_spec("finished-parallel", trials=10, trial_seconds=0.6, epochs=4)
    spec["parallel"] = 2
    spec["pruner"] = {"type": "median", "warmup_trials": 2, "warmup_epochs": 0}
    result = run_cli("run", str(write_spec(folder, spec)), storage=storage, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    return storage


@pytest.fixture(scope="module")
def running_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A parallel study caught while two trials run (long ones), with a few epochs written."""
    folder = tmp_path_factory.mktemp("running")
    storage = folder / "store.db"
    # Four epochs a second: the dozen rows waited for come in under two seconds, and the
    # trials still run for a minute, past every test that reads them running.
    spec = branin_spec("running-parallel", trials=4, trial_seconds=60.0, epochs=240)
    spec["parallel"] = 2
    driver = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(write_spec(folder, spec))],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def two_trials_with_epochs() -> bool:
        if not storage.exists():
            return False
        with Store(storage) as store:
            study = store.get_study("running-parallel")
            if study is None or len(store.trial_workers(study.id)) < 2:
                return False
            rows = store.epoch_metrics(study.id, finished=False)
        return len({number for number, _, _, _ in rows}) == 2 and len(rows) >= 12

    try:
        wait_until(two_trials_with_epochs, 120, "two running trials with epochs")
        yield storage
    finally:
        with Store(storage) as store:
            store.request_stop("running-parallel")
        try:
            driver.wait(timeout=60)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()


# The timeline's data and chart ------------------------------------------------------------


@pytest.mark.dask
@pytest.mark.subprocess
def test_the_timeline_has_one_lane_per_worker_and_a_bar_from_start_to_finish(
    finished_store: Path,
) -> None:
    trials, ran_on = _records(finished_store, "finished-parallel")
    timeline = frames.timeline_frame(worker_timeline(trials, ran_on), now=time.time())
    assert timeline.lanes == ["worker 0", "worker 1"]
    assert timeline.unit == "seconds" and timeline.waiting == 0
    bars = timeline.bars.set_index("number")
    assert sorted(bars.index) == sorted(trial.number for trial in trials)
    origin = min(worker.started_at for worker in ran_on.values())
    for trial in trials:
        bar = bars.loc[trial.number]
        assert bar["lane"] == f"worker {ran_on[trial.number].worker}"
        assert bar["state"] == trial.state.value
        assert bar["start"] == pytest.approx(ran_on[trial.number].started_at - origin)
        assert bar["finish"] == pytest.approx(trial.finished_at - origin)
    states = set(bars["state"])
    assert {"complete", "pruned"} <= states, states
    # Both workers worked most of the time: the lanes are nearly full.
    assert all(0.5 < share <= 1.0 for share in timeline.busy.values()), timeline.busy
    for _, lane in timeline.bars.groupby("lane"):
        # One trial at a time per worker (the driver records a finish a moment late).
        ordered = lane.sort_values("start")
        overlap = ordered["finish"].iloc[:-1].to_numpy() - ordered["start"].iloc[1:].to_numpy()
        assert (overlap < 0.5).all(), ordered


@pytest.mark.dask
@pytest.mark.subprocess
def test_the_timeline_chart_draws_lanes_bars_and_state_colours(finished_store: Path) -> None:
    trials, ran_on = _records(finished_store, "finished-parallel")
    timeline = frames.timeline_frame(worker_timeline(trials, ran_on), now=time.time())
    spec = live_charts.timeline_chart(timeline.bars, timeline.unit).to_dict()
    bars_layer = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "bar")
    encoding = bars_layer["encoding"]
    assert encoding["y"]["field"] == "lane" and encoding["y"]["type"] == "nominal"
    assert encoding["y"]["sort"] == ["worker 0", "worker 1"]
    assert encoding["x"]["field"] == "start" and encoding["x2"]["field"] == "finish"
    assert encoding["x"]["title"] == "seconds since the first trial began"
    colour = encoding["color"]
    assert colour["field"] == "state"
    palette = dict(zip(colour["scale"]["domain"], colour["scale"]["range"], strict=True))
    assert set(palette) == {
        "complete", "running", "pruned", "failed", "diverged", "interrupted",
    }  # fmt: skip
    assert palette["pruned"] == chart_style.PRUNED_COLOUR
    assert palette["running"] != palette["complete"]
    assert len(set(palette.values())) == len(palette), "two states share a colour"
    (rows,) = spec["datasets"].values()
    drawn = pd.DataFrame(rows).set_index("number")
    by_number = {trial.number: trial.state.value for trial in trials}
    assert drawn["state"].to_dict() == by_number
    # Each lane is a band of its own height, so lanes never collapse into each other.
    assert spec["height"] == {"step": live_charts.TIMELINE_LANE_HEIGHT}
    labels = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "text")
    assert labels["encoding"]["text"]["field"] == "number"


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_running_bar_reaches_now_and_the_running_losses_have_a_line_per_trial(
    running_store: Path,
) -> None:
    trials, ran_on = _records(running_store, "running-parallel")
    running = [trial.number for trial in trials if trial.state == TrialState.RUNNING]
    assert len(running) == 2
    now = time.time()
    timeline = frames.timeline_frame(worker_timeline(trials, ran_on), now=now)
    origin = min(worker.started_at for worker in ran_on.values())
    live_bars = timeline.bars[timeline.bars["state"] == "running"]
    assert sorted(live_bars["number"]) == running
    assert live_bars["finish"].tolist() == pytest.approx([now - origin] * 2)
    assert set(live_bars["lane"]) == {"worker 0", "worker 1"}

    with Store(running_store) as store:
        study = store.get_study("running-parallel")
        spec = study.spec
        rows = store.epoch_metrics(study.id, finished=False)
    curves = frames.curves_frame(rows, frames.trials_frame(trials, spec))
    losses = frames.running_losses_frame([], curves, running, spec.metric)
    assert sorted(losses["number"].unique()) == running
    assert set(losses["trial"]) == {f"trial {n}" for n in running}
    # Function trials write no in-epoch losses: each line is the metric per epoch so far.
    for number in running:
        values = curves[(curves["number"] == number) & (curves["metric"] == "value")]
        line = losses[losses["number"] == number]
        assert line["progress"].tolist() == (values["epoch"] + 1).astype(float).tolist()
        assert line["loss"].tolist() == pytest.approx(values["value"].tolist())
    chart = live_charts.running_losses_chart(losses, "2 running trials", "value", "epoch").to_dict()
    lines = chart["layer"][0]
    assert lines["mark"]["type"] == "line"
    assert lines["encoding"]["detail"]["field"] == "number"
    assert lines["encoding"]["x"]["field"] == "progress"
    assert lines["encoding"]["y"]["field"] == "loss"
    assert chart["layer"][0]["encoding"]["color"]["scale"]["domain"] == [
        f"trial {n}" for n in running
    ]
    assert chart["layer"][-1]["encoding"]["text"]["field"] == "trial"
    # Each running trial its own colour, picked by its number (it keeps it as others finish).
    colours = chart["layer"][0]["encoding"]["color"]["scale"]["range"]
    assert colours == [
        live_charts.TRIAL_PALETTE[n % len(live_charts.TRIAL_PALETTE)] for n in running
    ]
    assert len(set(colours)) == 2


def test_in_epoch_losses_come_first_and_waiting_trials_have_no_lane() -> None:
    curves = pd.DataFrame(
        {"number": [3, 3, 4], "epoch": [0, 1, 0], "metric": "loss", "value": [2.0, 1.5, 2.2],
         "within_epoch": False}
    )  # fmt: skip
    batches = [(3, 0.25, 2.3), (3, 0.5, 2.1), (9, 0.5, 1.0)]
    losses = frames.running_losses_frame(batches, curves, [3, 4], "loss")
    # Trial 3's in-epoch losses, not its epochs; trial 4 (no batches) by epoch; 9 is not running.
    assert losses[["number", "progress", "loss"]].values.tolist() == [
        [3, 0.25, 2.3], [3, 0.5, 2.1], [4, 1.0, 2.2],
    ]  # fmt: skip
    bars = [
        TimelineBar(0, "0", 100.0, 130.0, TrialState.COMPLETE),
        TimelineBar(1, "1", 101.0, None, TrialState.RUNNING),
        TimelineBar(2, IN_PROCESS_LANE, 102.0, None, TrialState.RUNNING),
        TimelineBar(3, "10", 131.0, 160.0, TrialState.FAILED),
    ]
    timeline = frames.timeline_frame(bars, now=200.0)
    assert timeline.waiting == 1 and 2 not in set(timeline.bars["number"])
    assert timeline.lanes == ["worker 0", "worker 1", "worker 10"]  # by number, not as text
    assert timeline.busy == pytest.approx({"worker 0": 0.3, "worker 1": 0.99, "worker 10": 0.29})
    assert "worker 0 30%" in live.timeline_caption(timeline.busy_text(), timeline.waiting)
    assert "; 1 trial sent to Dask and not yet begun by a worker" in live.timeline_caption(
        timeline.busy_text(), 1
    )
    assert live.timeline_caption("", 2).startswith("2 trials sent to Dask and not yet begun")
    assert live.timeline_caption("", 0) == ""


# New study -------------------------------------------------------------------------------


def test_new_study_parallel_trials_write_the_spec_and_divide_the_estimate(storage: Path) -> None:
    at = open_page("pages/new_study.py")
    control = at.number_input(key="parallel")
    assert control.value == 1 and control.max == forms.parallel_limit()
    assert "parallel" not in at.session_state["form_spec"]
    one_at_a_time = forms.estimate_seconds(at.session_state["form_spec"])
    control.set_value(2).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    raw = at.session_state["form_spec"]
    assert raw["parallel"] == 2 and parse_spec(raw).parallel == 2
    two_at_a_time = forms.estimate_seconds(raw)
    # 10 trials in 5 waves of 2, plus the workers' start.
    trial_time = one_at_a_time - 5.0
    assert two_at_a_time == pytest.approx(trial_time / 2 + 5.0 + forms.DASK_START_SECONDS)
    # A loaded spec brings its parallel back into the control (and past the core count).
    linked = {**raw, "name": "linked", "parallel": 64}
    at.session_state["spec_for_new_study"] = linked
    at.run()
    assert at.number_input(key="parallel@1").value == 64
    assert at.session_state["form_spec"]["parallel"] == 64
    assert forms.form_values(linked)["parallel"] == 64


def test_a_bad_scheduler_address_names_the_field_and_disables_start(storage: Path) -> None:
    at = open_page("pages/new_study.py")
    at.text_input(key="dask_address").set_value("10.0.0.5 port 8786").run()
    # As a reader sees it: Markdown escapes and the zero-width spaces that stop autolinks gone.
    errors = [shown(e.value).replace("\u200b", "") for e in at.error]
    assert errors == [workers.dask_address_problem("10.0.0.5 port 8786")]
    assert errors[0].startswith("Dask scheduler address: '10.0.0.5 port 8786' is not a Dask")
    assert "tcp://10.0.0.5:8786" in errors[0]
    assert at.button(key="start").disabled
    at.text_input(key="dask_address").set_value("tcp://10.0.0.5:8786").run()
    assert not at.error and not at.button(key="start").disabled


@pytest.mark.parametrize(
    "address",
    [
        "tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://scheduler.lab:8786", "ucx://[::1]:9000",
        "inproc://host/1/2", "localhost:8786", "tcp://10.0.0.5", "http://10.0.0.5:8786",
        "10.0.0.5 8786", "tcp://:8786", "", "tcp://host:87865",
    ],
)  # fmt: skip
def test_the_form_accepts_exactly_the_addresses_run_dask_accepts(address: str) -> None:
    # Imported here, not at the top: only this test loads Dask.
    from tuning_core.engine.parallel import check_address

    try:
        check_address(address)
        engine_accepts = True
    except SpecError:
        engine_accepts = False
    if address:  # an empty field means "no scheduler", which run never sees
        assert (workers.dask_address_problem(address) is None) == engine_accepts


@pytest.mark.subprocess
def test_start_with_an_address_runs_the_worker_with_dask(storage: Path, tmp_path: Path) -> None:
    """The worker really gets --dask: nothing listens at the address, so it says so and exits 2;
    a resume from Live goes to the same address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    raw: dict[str, Any] = branin_spec("to-a-cluster", trials=2)
    child = workers.launch_study(str(storage), raw, address)
    # Started at once: the first worker spends seconds waiting for a scheduler to answer.
    local = workers.launch_study(str(storage), branin_spec("on-this-machine", trials=1), "")
    assert child.wait(timeout=120) == 2
    log = workers.worker_log_tail(str(storage), "to-a-cluster", lines=20)
    assert "--dask: no Dask scheduler answered at" in log and address in log
    assert workers.dask_address_of(str(storage), "to-a-cluster") == address
    with pytest.raises(ValueError, match="Dask scheduler address"):
        workers.launch_study(str(storage), raw, "not-an-address")
    assert local.wait(timeout=120) == 0
    assert workers.dask_address_of(str(storage), "on-this-machine") is None


# Live ------------------------------------------------------------------------------------


@pytest.mark.timing
@pytest.mark.dask
@pytest.mark.subprocess
def test_live_shows_every_running_trial_and_the_timeline(
    running_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNING_LAB_STORAGE", str(running_store))
    # The summed time must exceed the wall time clearly: the later trial has run a few seconds.
    _, started = _records(running_store, "running-parallel")
    time.sleep(max(0.0, max(w.started_at for w in started.values()) + 5 - time.time()))
    at = open_page("pages/live.py", study="running-parallel")
    trials, ran_on = _records(running_store, "running-parallel")
    running = sorted(t.number for t in trials if t.state == TrialState.RUNNING)
    found = {_title(spec): (spec, data) for spec, data in charts_on(at)}
    assert "worker timeline" in found, list(found)
    _, timeline_rows = found["worker timeline"]
    assert set(timeline_rows["lane"]) == {"worker 0", "worker 1"}
    assert sorted(timeline_rows.loc[timeline_rows["state"] == "running", "number"]) == running
    losses_title = "2 running trials: value per epoch so far"
    assert losses_title in found, list(found)
    assert sorted(found[losses_title][1]["number"].unique()) == running
    captions = [caption.value for caption in at.caption]
    assert any(c.startswith("One lane per worker") and "worker 1" in c for c in captions)
    markdown = " ".join(m.value for m in at.markdown)
    assert f"**Running trials** {running[0]}, {running[1]}" in markdown
    # Two trials at once: elapsed is the wall time since they began, not their summed time.
    progress = at.get("progress")[0].proto.text
    elapsed = float(re.search(r"· (\d+) s elapsed", progress).group(1))
    wall = time.time() - min(worker.started_at for worker in ran_on.values())
    summed = sum(time.time() - trial.started_at for trial in trials if trial.started_at)
    assert abs(elapsed - wall) <= 3 < summed - wall, (progress, wall, summed)


def test_live_has_no_timeline_for_a_study_run_one_trial_at_a_time(storage: Path) -> None:
    spec = parse_spec(branin_spec("sequential", trials=3, epochs=3))
    with Store(storage) as store:
        run_study(spec, store, function_objective("branin", 0, 3), log=lambda _: None)
    at = open_page("pages/live.py", study="sequential")
    titles = [_title(spec) for spec, _ in charts_on(at)]
    assert "value per epoch" in titles and "worker timeline" not in titles
    assert not any(c.value.startswith("One lane per worker") for c in at.caption)


@pytest.mark.dask
@pytest.mark.subprocess
def test_the_ui_process_never_imports_dask(finished_store: Path) -> None:
    """New study (with an address typed in), Live and Compare of a parallel study, in a fresh
    interpreter: neither dask nor distributed is loaded."""
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=60)
at.query_params["study"] = "finished-parallel"
at.run()
at.switch_page("pages/new_study.py").run()  # the root is the lessons' landing page
at.text_input(key="dask_address").set_value("tcp://10.0.0.5:8786").run()
for page in ("pages/live.py", "pages/compare.py"):
    at.switch_page(page).run()
    assert not at.exception, (page, [e.value for e in at.exception])
print("LOADED:" + ",".join(sorted(m for m in ("dask", "distributed") if m in sys.modules)))
{APP_TEST_SCRIPT_EXIT}"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=cli_env(finished_store),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("LOADED:"), result.stdout
