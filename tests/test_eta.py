"""Live's time left, fitted to the study's own timed epochs, and what New study's estimate
assumes. The real-run test times a CPU-bound study with and without other processes loading
the machine, and holds the estimates after the first trial to 25% of the time left (median)."""

from __future__ import annotations

import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, cli_env
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.reports import frames
from tuning_core.views import eta

EPOCHS = 4
TRIALS = 8


def _spec(name: str = "eta", **extra) -> dict:
    return {
        "name": name,
        "objective": {"type": "python", "target": "burner:objective", "epochs": EPOCHS},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": TRIALS},
        **extra,
    }


def test_rates_are_fitted_from_durations_and_epochs() -> None:
    # Pruned trials trained 1, 3 and 9 epochs at 2 s an epoch after 1.5 s of set-up.
    epochs = np.array([1, 1, 3, 9])
    per_epoch, per_trial = eta.fit_rates(1.5 + 2.0 * epochs, epochs)
    assert per_epoch == pytest.approx(2.0) and per_trial == pytest.approx(1.5)
    # Equal epochs: no set-up can be told apart, the plain rate.
    assert eta.fit_rates(np.array([10.0, 12.0]), np.array([5, 5])) == (2.2, 0.0)


def test_the_time_left_prices_the_running_and_the_remaining_trials() -> None:
    spec = parse_spec({**_spec(), "budget": {"trials": 10}})
    trials = pd.DataFrame(
        {
            "number": [0, 1, 2],
            "state": [TrialState.COMPLETE.value, TrialState.COMPLETE.value, "running"],
            "duration_s": [8.0, 8.0, 3.0],
        }
    )
    fitted = eta.fitted_eta(spec, trials, pd.Series({0: 4, 1: 4, 2: 1}), 10)
    assert fitted.per_epoch == pytest.approx(2.0) and fitted.epochs_per_trial == 4
    # Seven trials not started at 8 s, and the running one's 3 epochs left at 2 s.
    assert fitted.seconds == pytest.approx(7 * 8.0 + 6.0)
    assert "2 s an epoch" in fitted.basis()
    # Two at a time: half the wall time.
    parallel = parse_spec({**_spec(), "budget": {"trials": 10}, "parallel": 2})
    assert eta.fitted_eta(parallel, trials, pd.Series({0: 4, 1: 4, 2: 1}), 10).seconds == (
        pytest.approx((7 * 8.0 + 6.0) / 2)
    )
    # Nothing finished yet: no fit, no figure.
    assert eta.fitted_eta(spec, trials.iloc[2:], pd.Series({2: 1}), 10) is None


def test_new_studys_estimate_says_what_it_assumes() -> None:
    digits = {
        "name": "d",
        "objective": {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": 9},
        "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}},
        "strategy": {"type": "random"},
        "budget": {"trials": 12},
    }
    said = eta.estimate_assumptions(digits)
    assert "12 trials, 9 epochs each on an idle 2-core CPU" in said and "fitted" in said
    halving = eta.estimate_assumptions({**digits, "pruner": {"type": "successive_halving"}})
    assert "the share a pruner is expected to keep" in halving
    assert eta.estimate_assumptions({"name": "broken"}) is None


def _burn_forever() -> None:
    while True:
        sum(range(10_000))


BURNER = """
import time
def objective(trial):
    for epoch in range({epochs}):
        # CPU-bound, so that other processes on the machine slow it down.
        deadline, spins = time.process_time() + 0.12, 0
        while time.process_time() < deadline:
            spins += sum(range(2_000))
        trial.report(epoch, {{"value": trial.params["x"] + epoch}})
    return trial.params["x"]
"""


def _samples_while_running(storage: Path, name: str, spec_path: Path) -> tuple[list, float]:
    """(seconds since start, fitted seconds left, finished trials) every 0.3 s, and the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "--storage", str(storage), "run", str(spec_path)],
        cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    samples, started = [], time.time()
    while process.poll() is None:
        time.sleep(0.3)
        if not storage.exists():
            continue
        with Store(storage) as store:
            study = store.get_study(name)
            if study is None:
                continue
            trials = frames.trials_frame(store.trials(study.id), study.spec)
            curves = frames.curves_frame(store.epoch_metrics(study.id), trials)
        if trials.empty:
            continue
        fitted = eta.fitted_eta(
            study.spec, trials, frames.epochs_by_trial(curves), study.spec.budget["trials"]
        )
        finished = int(trials["state"].isin(eta.FINISHED).sum())
        if fitted is not None:
            samples.append((time.time() - started, fitted.seconds, finished))
    assert process.returncode == 0, process.stderr.read().decode()[-2000:]
    # The study ends when its last trial does (the store's clock is this machine's), not when
    # the process has also exited.
    with Store(storage) as store:
        last = max(trial.finished_at for trial in store.trials(store.get_study(name).id))
    return samples, last - started


@pytest.mark.timing
@pytest.mark.subprocess
@pytest.mark.parametrize("loaders", [0, 2], ids=["idle", "loaded"])
def test_after_the_first_trial_the_time_left_is_within_a_quarter(
    tmp_path: Path, loaders: int
) -> None:
    (tmp_path / "burner.py").write_text(BURNER.format(epochs=EPOCHS))
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(_spec()))
    # The load runs from before the first trial to the end: as a shared machine would.
    load = [multiprocessing.Process(target=_burn_forever, daemon=True) for _ in range(loaders)]
    for process in load:
        process.start()
    try:
        samples, ended = _samples_while_running(tmp_path / "store.db", "eta", spec_path)
    finally:
        for process in load:
            process.kill()
            process.join()
    # Only while 2 s or more are left: near the end half a trial's jitter is a large share.
    judged = [(at, left, ended - at) for at, left, _ in samples if ended - at >= 2.0]
    assert len(judged) >= 3, (samples, ended)
    errors = [abs(left - real) / real for _, left, real in judged]
    print(
        f"{loaders} loaders: study {ended:.1f} s; time left fitted vs real: "
        + ", ".join(f"{left:.1f}/{real:.1f}" for _, left, real in judged)
    )
    # The target is 25%. One sample is one reading of a noisy clock: a third process on these
    # 2 cores (another test run beside this one) pushed single loaded samples to 29-37% while
    # the rest stayed near 10%. So the typical sample (the median) is held to the target, and
    # every sample to twice it, which a fit that ignored the load would still break.
    shown = [(round(left, 1), round(real, 1)) for _, left, real in judged]
    assert statistics.median(errors) <= 0.25, shown
    assert max(errors) <= 0.5, shown
