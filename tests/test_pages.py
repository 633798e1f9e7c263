"""AppTest drives every page through app.py against a real store (and, for Start, a real worker)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_TEST_SCRIPT_EXIT, ROOT, cli_env
from tests.seeding import seed_store
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import Store
from tuning_core.views import forms

APP = str(ROOT / "app.py")
PAGES = [
    "pages/new_study.py",
    "pages/live.py",
    "pages/compare.py",
    "pages/why.py",
    "pages/race.py",
    "pages/lr_lab.py",
    "pages/studies.py",
]


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(markdown: str) -> str:
    """The text a reader sees in a Markdown body that escapes user text (dashboard.security)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def charts_on(at: AppTest) -> list[tuple[dict, pd.DataFrame]]:
    """Each Altair chart on the page: its Vega-Lite spec and its first dataset."""
    found = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        blobs = ([element.proto.data.data] if element.proto.HasField("data") else []) + [
            d.data.data for d in element.proto.datasets
        ]
        frames = [pa.ipc.open_stream(io.BytesIO(blob)).read_pandas() for blob in blobs if blob]
        found.append((spec, frames[0] if frames else pd.DataFrame()))
    return found


def find_encoding(spec: dict, channel: str) -> list[dict]:
    layers = spec.get("layer") or spec.get("vconcat") or spec.get("hconcat") or [spec]
    out = []
    for layer in layers:
        out += (
            find_encoding(layer, channel)
            if ("layer" in layer or "vconcat" in layer)
            else [layer.get("encoding", {}).get(channel, {})]
        )
    return out


@pytest.mark.subprocess
@pytest.mark.keras
def test_new_study_writes_the_spec_and_starts_a_worker(storage: Path) -> None:
    at = open_page("pages/new_study.py")
    at.text_input(key="name").set_value("apptest-study")
    at.radio(key="strategy").set_value("random")
    at.number_input(key="trials").set_value(2)
    at.number_input(key="train_limit").set_value(200)
    at.slider(key="epochs").set_value(1)
    at.select_slider(key="learning_rate_range").set_range(0.001, 0.5)
    at.multiselect(key="optimizer").set_value(["sgd", "adam"])
    at.run()
    assert not at.error, [e.value for e in at.error]
    shown_markdown = [shown(m.value) for m in at.markdown]
    assert "**Search space**  \ncontinuous, 2 tuned dimensions" in shown_markdown
    start = at.button(key="start")
    assert not start.disabled
    start.click().run()
    spec_file = Path(f"{storage}.specs") / "apptest-study.json"
    written = json.loads(spec_file.read_text())
    assert written["space"]["learning_rate"] == {
        "type": "float",
        "low": 0.001,
        "high": 0.5,
        "log": True,
    }
    assert written["space"]["optimizer"] == {"type": "choice", "values": ["sgd", "adam"]}
    assert written["objective"] == {
        "type": "keras",
        "dataset": "digits",
        "model": "mlp",
        "epochs": 1,
        "train_limit": 200,
    }
    assert written["strategy"]["type"] == "random" and written["budget"]["trials"] == 2
    parse_spec(written)
    deadline = time.time() + 120  # the worker really runs: wait for both trials
    while time.time() < deadline:
        time.sleep(0.1)
        with Store(storage) as store:
            study = store.get_study("apptest-study")
            if study and study.status == StudyStatus.FINISHED:
                assert len(store.trials(study.id)) == 2
                break
    else:
        pytest.fail("the worker started from the page did not finish its 2 trials")


def test_new_study_offers_pruners_explains_them_and_shortens_the_estimate(storage: Path) -> None:
    at = open_page("pages/new_study.py")
    at.slider(key="epochs").set_value(9)
    at.run()

    def estimate() -> str:
        return next(m.value for m in at.metric if m.label == "Estimated run time")

    full = estimate()
    assert "pruner" not in at.session_state["form_spec"]
    pruner = at.selectbox(key="pruner")
    assert pruner.options == ["None", "Median rule", "Successive halving", "Hyperband"]
    pruner.set_value("successive_halving").run()
    assert at.session_state["form_spec"]["pruner"] == {"type": "successive_halving"}
    assert any("best third" in c.value for c in at.caption)
    assert parse_spec(at.session_state["form_spec"]).pruner["max_epochs"] == 9
    pruned = estimate()
    assert _seconds(pruned) < _seconds(full), (full, pruned)
    # The training time (after the start-up and per-trial model building) shrinks by the
    # share of epochs successive halving trains: 7/27 of a 9-epoch search with eta 3 (1 epoch
    # for all, 2 more for a third, 6 more for a ninth).
    spec = at.session_state["form_spec"]
    fixed = 5.0 + spec["budget"]["trials"] * 1.0
    unpruned = {key: value for key, value in spec.items() if key != "pruner"}
    training = forms.estimate_seconds(unpruned) - fixed
    assert forms.estimate_seconds(spec) - fixed == pytest.approx(7 / 27 * training)
    at.slider(key="epochs").set_value(1).run()
    assert any("pruner.type successive_halving" in shown(e.value) for e in at.error)
    assert at.button(key="start").disabled


def _seconds(duration: str) -> float:
    """Seconds in a duration as the page writes it ("45 s", "3 min", "1.5 h")."""
    number, unit = duration.split()
    return float(number) * {"s": 1, "min": 60, "h": 3600}[unit]


@pytest.mark.slow  # many reruns, 3-6 s; test_spec_loading refuses bad input fast
def test_new_study_bad_inputs_show_errors_and_disable_start(storage: Path) -> None:
    at = open_page("pages/new_study.py")
    at.text_input(key="name").set_value("bad name!").run()
    assert any("name must be" in shown(e.value) for e in at.error)
    assert at.button(key="start").disabled
    at.text_input(key="name").set_value("fine-name")
    at.select_slider(key="learning_rate_range").set_range(0.01, 0.01).run()
    assert any("learning_rate: the range is a single value" in shown(e.value) for e in at.error)
    assert at.button(key="start").disabled
    at.select_slider(key="learning_rate_range").set_range(0.001, 0.1)
    at.radio(key="strategy").set_value("bayesian")
    at.number_input(key="initial_points").set_value(50).run()
    assert any("initial points (50) exceed the trial budget" in shown(e.value) for e in at.error)
    at.number_input(key="initial_points").set_value(3)
    at.selectbox(key="dataset").set_value("folder")
    at.run()
    at.text_input(key="folder").set_value("/no/such/folder").run()
    missing = [shown(e.value) for e in at.error if "cannot be read as a dataset" in e.value]
    # An existing file that is no dataset reads the same: the form reveals no paths.
    at.text_input(key="folder").set_value(str(ROOT / "README.md")).run()
    existing = [shown(e.value) for e in at.error if "cannot be read as a dataset" in e.value]
    assert len(missing) == len(existing) == 1
    assert missing[0].replace("/no/such/folder", "X") == existing[0].replace(
        str(ROOT / "README.md"), "X"
    )
    assert not at.exception


def test_new_study_refuses_a_name_the_store_holds_with_other_settings(storage: Path) -> None:
    # The page reads the store's objection (reports/start_check) and the form shows it.
    seed_store(storage, running=False)
    at = open_page("pages/new_study.py")
    at.text_input(key="name").set_value("seeded").run()
    clash = [shown(e.value) for e in at.error if "already exists with a different" in e.value]
    assert len(clash) == 1 and clash[0].startswith("name: a study called 'seeded'")
    assert at.button(key="start").disabled
    at.text_input(key="name").set_value("fresh-name").run()
    assert not [e for e in at.error if "already exists" in e.value]
    assert not at.exception


def test_live_page_charts_the_seeded_study(storage: Path) -> None:
    seed_store(storage)
    at = open_page("pages/live.py", study="seeded")
    assert "10 of 12 trials" in at.get("progress")[0].proto.text
    assert at.metric[0].value.startswith("0.95")
    found = charts_on(at)
    loss_spec, loss_data = next(
        (s, d)
        for s, d in found
        if s.get("title") == "training loss" or s["layer"][0].get("title") == "training loss"
    )
    color = find_encoding(loss_spec, "color")[0]
    assert color["field"] == "learning_rate" and color["scale"]["type"] == "log"
    # Fixed from the study's space, so no curve changes colour as trials arrive.
    assert color["scale"]["domain"] == [0.0001, 10.0]
    assert any(e.get("field") == "optimizer" for e in find_encoding(loss_spec, "shape"))
    assert any(
        "datum.number == 4" in str(e.get("condition", ""))
        for e in find_encoding(loss_spec, "strokeWidth")
    )  # the best trial is drawn thick
    assert any("best trial (4)" in c.value for c in at.caption)
    assert at.selectbox(key="colour_by").options == ["learning_rate", "units"]
    # A click on one chart (its selection state) highlights that trial on both charts.
    at.session_state["loss_chart"] = {"selection": {"trials": [{"number": 4}]}}
    at.run()
    for _spec, rows in charts_on(at)[:2]:
        highlighted = rows.groupby("number")["highlighted"].first()
        assert highlighted[highlighted].index.tolist() == [4]
    assert set(loss_data["number"]) == set(range(11))
    assert loss_data.loc[loss_data["diverged"], "number"].unique().tolist() == [9]
    in_epoch = next(
        d for s, d in found if s.get("title") == "running trial: training loss within epochs"
    )
    assert in_epoch["number"].unique().tolist() == [10]
    assert in_epoch["progress"].tolist() == pytest.approx([1.2, 1.4, 1.6, 1.8, 2.0])
    table = at.dataframe[0].value
    assert table["number"].iloc[0] == 10 and set(table["state"]) == {
        "complete",
        "diverged",
        "running",
    }
    assert any("epochs recorded across 11 trials" in c.value for c in at.caption)
    # The worker adds an epoch; the fragment's next run shows it.
    with Store(storage) as store:
        study = store.get_study("seeded")
        running = store.trials(study.id)[-1]
        store.add_epoch_metrics(
            running.id, 1, {"loss": 0.8, "accuracy": 0.75, "val_loss": 0.9, "val_accuracy": 0.74}
        )
    at.run()
    assert any(
        "epochs recorded across 11 trials" in c.value and c.value.startswith("48")
        for c in at.caption
    )


@pytest.mark.slow  # 3 s; Live stays in the fast tier (test_live_page_charts_the_seeded_study)
def test_live_page_hides_start_up_notices_offers_resume_and_the_best_model(storage: Path) -> None:
    from tuning_core.engine.states import StudyStatus as Status
    from tuning_core.engine.storage import artifacts_dir

    seed_store(storage, running=False)
    artifacts = artifacts_dir(str(storage), "seeded")
    artifacts.mkdir(parents=True, exist_ok=True)
    notice = (
        "I tensorflow/core/util/port.cc:153] oneDNN custom operations are on. You may see "
        "slightly different numerical results due to floating-point round-off errors."
    )
    (artifacts / "worker.log").write_text(notice + "\n")
    (artifacts / "best.keras").write_bytes(b"model bytes")
    with Store(storage) as store:
        store.set_status(store.get_study("seeded").id, Status.STOPPED)
    at = open_page("pages/live.py", study="seeded")
    assert not at.error and not at.get("code")  # no red box for TensorFlow's notice
    assert at.button(key="resume").label == "Resume"
    assert at.get("download_button")[0].proto.label == "Best model"
    # A failed study shows its last real error, in one line.
    (artifacts / "worker.log").write_text(
        notice + "\nTraceback (most recent call last):\nValueError: objective.dataset: bad.\n"
    )
    with Store(storage) as store:
        store.set_status(store.get_study("seeded").id, Status.FAILED)
    at.run()
    assert [shown(e.value) for e in at.error] == [
        "The worker failed: ValueError: objective.dataset: bad."
    ]


def test_compare_page_has_log_slices_importance_and_partial_dependence(storage: Path) -> None:
    seed_store(storage, running=False)
    at = open_page("pages/compare.py", study="seeded")
    specs = [s for s, _ in charts_on(at)]
    x_scales = {
        enc.get("field"): enc.get("scale", {}).get("type")
        for s in specs
        for enc in find_encoding(s, "x")
    }
    assert x_scales["learning_rate"] == "log"
    assert any(s.get("title") == "hyperparameter importance" for s in specs)
    assert at.info[0].value.startswith("The best trial (4) used Adam at learning rate 0.01")
    assert at.multiselect(key="overlay_seeded").value == ["seeded"]
    assert any("concat" in s for s in specs)  # partial dependence, one panel per dimension
    assert not any(
        "importance needs at least" in w.value for w in at.warning
    )  # 9 complete trials are enough
    assert any("correlation ratio" in c.value for c in at.caption)


@pytest.mark.slow  # reruns, 3-6 s; test_framing keeps a delete on the Studies page fast
def test_studies_page_deletes_only_after_confirmation(storage: Path) -> None:
    seed_store(storage, running=False)
    at = open_page("pages/studies.py")
    assert at.dataframe[0].value["name"].tolist() == ["seeded"]
    assert at.button(key="delete").disabled
    # Deleting takes the study's name, typed (tests/test_framing.py tries wrong names).
    at.text_input(key="confirm_delete_seeded").input("seeded").run()
    at.button(key="delete").click().run()
    with Store(storage) as store:
        assert store.get_study("seeded") is None
    # The confirmation outlives the rerun that follows the delete.
    assert [s.value for s in at.success] == ["Deleted 'seeded' and all its trials."]


@pytest.mark.slow  # every preset, 5-11 s; test_classroom checks them without a page
def test_lr_lab_playground_presets(storage: Path) -> None:
    at = open_page("pages/lr_lab.py")
    # The comparison's tab is open: the playground keeps its setup out of the address, so a
    # link copied from here opens here.
    assert "function" not in at.query_params and "preset" not in at.query_params
    at.session_state["lr_tab"] = "Gradient-descent playground"  # the user opens its tab
    at.run()
    assert any("theta_{t+1}" in latex.value for latex in at.latex)
    at.radio(key="pg_preset").set_value("diverging").run()
    assert any(e.value.startswith("Diverging") for e in at.error)
    at.radio(key="pg_preset").set_value("just right").run()
    assert any(s.value.startswith("Converged to the minimum") for s in at.success)
    at.selectbox(key="pg_function").set_value("bowl").run()
    assert not at.exception
    # Rosenbrock's presets teach all four lessons; none of them diverges but "diverging".
    at.selectbox(key="pg_function").set_value("rosenbrock").run()
    verdicts = {}
    for preset in ("too small", "just right", "oscillating", "diverging"):
        at.radio(key="pg_preset").set_value(preset).run()
        assert not at.exception
        verdicts[preset] = [e.value for e in at.success] + [e.value for e in at.error]
    assert verdicts["too small"][0].startswith("Still descending")
    assert verdicts["oscillating"][0].startswith("Oscillating")
    assert verdicts["diverging"][0].startswith("Diverging")
    assert not verdicts["just right"][0].startswith("Diverging")
    # The setup lives in the URL: a preset link opens it as it was.
    assert at.query_params["function"] == "rosenbrock"
    assert at.query_params["preset"] == "diverging"
    linked = open_page("pages/lr_lab.py", function="rosenbrock", preset="oscillating")
    assert linked.session_state["lr_tab"] == "Gradient-descent playground"  # opens on it
    assert linked.query_params["function"] == "rosenbrock"
    assert linked.selectbox(key="pg_function").value == "rosenbrock"
    assert linked.radio(key="pg_preset").value == "oscillating"
    assert any(s.value.startswith("Oscillating") for s in linked.success)


@pytest.mark.subprocess
@pytest.mark.keras
def test_lr_lab_compares_learning_rates_in_a_real_worker(storage: Path) -> None:
    """The lesson: 0.001, 0.1 and 10 on digits, three curves, the last drawn as diverged."""
    at = open_page("pages/lr_lab.py", rates="0.001,0.1,10")
    assert at.multiselect(key="lr_rates").value == ["0.001", "0.1", "10"]
    at.number_input(key="lr_train_limit").set_value(200)
    at.slider(key="lr_epochs").set_value(2).run()
    at.button(key="lr_start").click().run()
    name = "lr-digits-mlp-sgd"
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.1)
        with Store(storage) as store:
            study = store.get_study(name)
            if study and study.status == StudyStatus.FINISHED:
                break
    at.run()
    found = charts_on(at)
    specs = [s for s, _ in found]
    bars = next(s for s in specs if s.get("title") == "final validation accuracy by learning rate")
    assert bars["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    with Store(storage) as store:
        study = store.get_study(name)
        trials = store.trials(study.id)
        blown = next(t for t in trials if t.params["learning_rate"] == 10.0)
        blown_losses = store.batch_losses(study.id, blown.number)
    assert sorted(t.params["learning_rate"] for t in trials) == [0.001, 0.1, 10.0]
    assert blown.state.value == "diverged"
    # The loss that blew up is stored before the trial stops.
    assert blown_losses and blown_losses[-1][1] is None or blown_losses[-1][1] > 46
    loss_rows = next(
        rows for spec, rows in found if spec.get("title", {}) == "loss" or _title(spec) == "loss"
    )
    assert set(loss_rows.loc[~loss_rows["marker"], "learning_rate"]) == {0.001, 0.1, 10.0}
    marker = loss_rows[loss_rows["marker"] & (loss_rows["kind"] == "diverged")]
    assert marker["learning_rate"].tolist() == [10.0]
    # Each line is named where it ends (direct labels): the two that trained at their last
    # epoch, the diverged one at its blow-up, whose label leads with its name.
    ends = loss_rows[loss_rows["marker"] & (loss_rows["kind"] == "end")]
    assert sorted(ends["learning_rate"].tolist()) == [0.001, 0.1]
    assert "diverged at epoch 1: loss " in marker["label"].iloc[0]
    assert any(w.value.startswith("lr 10: diverged at epoch 1") for w in at.warning)

    # Other rates never reuse (and clash with) that study: a fresh name, and it starts.
    at.multiselect(key="lr_rates").set_value(["0.01", "0.0003"]).run()
    assert not at.error
    assert at.button(key="lr_start").disabled is False
    assert any("lr-digits-mlp-sgd-2" in c.value for c in at.caption)
    # A typed name that clashes says so in one sentence and cannot start.
    at.text_input(key="lr_name").set_value(name).run()
    assert at.button(key="lr_start").disabled is True
    assert any(shown(e.value).startswith("name: a study called") for e in at.error)


def _title(spec: dict) -> str | None:
    """A layered chart's title, wherever Altair put it."""
    for layer in [spec, *spec.get("layer", [])]:
        title = layer.get("title")
        if title:
            return title if isinstance(title, str) else title.get("text")
    return None


@pytest.mark.subprocess
def test_no_tensorflow_in_the_ui_process(storage: Path) -> None:
    """Run every page, then open the learning-rate lesson replayed on the LR lab, in a fresh
    interpreter (this one may have imported Keras for other tests). One interpreter for both:
    starting another costs ~3 s."""
    seed_store(storage)
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=60)
at.query_params["study"] = "seeded"
at.run()
for page in {PAGES!r}:
    at.switch_page(page).run()
    assert not at.exception, (page, [e.value for e in at.exception])
lesson = AppTest.from_file({APP!r}, default_timeout=60)
lesson.query_params["lesson"] = "learning-rate"
lesson.query_params["speed"] = "instant"
lesson.run()
lesson.switch_page("pages/lr_lab.py").run()
assert not lesson.exception, [e.value for e in lesson.exception]
heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
{APP_TEST_SCRIPT_EXIT}"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=cli_env(storage),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY:\n" in result.stdout or result.stdout.strip().endswith("HEAVY:"), result.stdout


def test_presenter_mode_hides_the_controls_and_enlarges_the_text(storage: Path) -> None:
    from dashboard.presenter import PRESENTER_CSS, is_presenting

    assert is_presenting({"present": "1"}) and not is_presenting({})
    for selector in ("stToolbar", "stAppDeployButton", "stSidebar", ".stButton", ".stSlider"):
        assert selector in PRESENTER_CSS
    # app.py applies it on every page; the browser test checks what it hides on the lab.
    presenting = AppTest.from_file(APP, default_timeout=60)
    presenting.query_params["present"] = "1"
    presenting.run()
    assert any("stToolbar" in element.proto.body for element in presenting.get("html"))
    plain = AppTest.from_file(APP, default_timeout=60).run()
    assert not any("stToolbar" in element.proto.body for element in plain.get("html"))
