"""The lessons the landing page lists: what each shows, and where it opens.

Every lesson replays a recording shipped in ``lessons/`` (tuning_core/reports/recording/), so
the first chart appears in about a second, offline: a study on the bundled digits data (one of
two metrics, accuracy against training time, for "Bigger is not always better"), or, for the
race and "Why this point?", studies of the Branin test function (a race is 205 trials, and a
surrogate's picture is clearest in two dimensions with the true function beside it).
"Run it live instead" runs the recording's spec (``lessons/specs/``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd

from tuning_core.engine import pareto
from tuning_core.engine.spec_parts import FunctionObjectiveSpec
from tuning_core.engine.states import TrialState
from tuning_core.reports.recording import RaceRecording, Recording


def _lessons_dir() -> Path:
    """The recorded lessons: the checkout's lessons/, else the installed copy that
    pyproject.toml ships inside the package tuning_lab_app (beside app.py)."""
    checkout = Path(__file__).resolve().parents[2] / "lessons"
    if checkout.is_dir():
        return checkout
    installed = importlib.util.find_spec("tuning_lab_app")
    locations = installed.submodule_search_locations if installed else None
    return Path(next(iter(locations))) / "lessons" if locations else checkout


LESSONS_DIR = _lessons_dir()
DEFAULT_SPEED = "x10"
# The landing page's speeds, as they appear in a link (?speed=x10): times the recorded pace,
# None for all at once.
SPEEDS: dict[str, float | None] = {"instant": None, "x10": 10.0, "real": 1.0}
SPEED_LABELS = {"instant": "instant", "x10": "×10", "real": "real time"}


@dataclass(frozen=True)
class Lesson:
    key: str  # in the link: ?lesson=learning-rate
    title: str
    question: str  # what the class should look for
    page: str  # the page it opens on
    recording: str  # a file in lessons/, replayed

    @property
    def study(self) -> str:
        return f"lesson-{self.key}"

    def recording_path(self) -> Path:
        return LESSONS_DIR / self.recording

    def spec_path(self) -> Path:
        """The spec the recording was made from: "run it live instead" runs it."""
        return LESSONS_DIR / "specs" / f"{self.study}.json"


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "learning-rate",
        "Learning rate: too small, right, too large",
        "The same model at 0.001, 0.1 and 10: one crawls, one learns, one blows up.",
        "pages/lr_lab.py",
        recording="lesson-learning-rate.json",
    ),
    Lesson(
        "batch-size",
        "Batch size",
        "Batches of 4, 32 and 256 at one learning rate: noisy and slow per epoch, or smooth "
        "and too few steps?",
        "pages/live.py",
        recording="lesson-batch-size.json",
    ),
    Lesson(
        "optimizers",
        "Optimizers",
        "SGD, Adam and RMSprop at one learning rate: who gets there first?",
        "pages/live.py",
        recording="lesson-optimizers.json",
    ),
    Lesson(
        "early-stopping",
        "Early stopping",
        "Successive halving stops the weak trials at each rung: look for the scissors.",
        "pages/live.py",
        recording="lesson-early-stopping.json",
    ),
    Lesson(
        "search-strategies",
        "Search strategies raced",
        "Grid, random and Bayesian search on Branin, 30 trials each (three seeds): which finds "
        "the minimum first?",
        "pages/race.py",
        recording="lesson-search-strategies.json",
    ),
    Lesson(
        "why-this-point",
        "Why this point?",
        "What the Bayesian search knew when it chose each trial: its guess, its doubt, and "
        "where it hoped to gain most.",
        "pages/why.py",
        recording="lesson-why-this-point.json",
    ),
    Lesson(
        "bigger-is-not-better",
        "Bigger is not always better",
        "Wider nets and smaller batches cost training time: which trials are worth it? Look "
        "for the front.",
        "pages/live.py",
        recording="lesson-bigger-is-not-better.json",
    ),
)


def lesson_named(key: str | None) -> Lesson | None:
    """The lesson a link names, or None."""
    return next((lesson for lesson in LESSONS if lesson.key == key), None)


def lesson_of_study(name: str | None) -> Lesson | None:
    """The lesson a study (or race) replays, or None."""
    return next((lesson for lesson in LESSONS if name and lesson.study == name), None)


def speed_of(raw: str | None) -> float | None:
    """The replay speed a link asks for (unknown: the default, ×10)."""
    return SPEEDS.get(raw or DEFAULT_SPEED, SPEEDS[DEFAULT_SPEED])


def preview_frame(recording: Recording | RaceRecording) -> pd.DataFrame:
    """A lesson card's lines (number, epoch, value): each recorded trial's metric by epoch
    (from 1); for a test function (one value a trial) or a race, each study's best so far by
    trial, one line a study; for a study of several metrics, its Pareto front on the first
    two, one line (``epoch``: the second metric, ``value``: the first), since the front, not
    any one curve, is what such a lesson shows."""
    if isinstance(recording, Recording) and recording.spec.multi_metric:
        return _front_line(recording)
    if isinstance(recording, Recording) and not isinstance(
        recording.spec.objective, FunctionObjectiveSpec
    ):
        metric = recording.spec.metric
        rows = [
            {"number": trial.number, "epoch": epoch.epoch + 1, "value": epoch.metrics.get(metric)}
            for trial in recording.trials
            for epoch in trial.epochs
            if epoch.metrics.get(metric) is not None
        ]
        return pd.DataFrame(rows, columns=["number", "epoch", "value"])
    rows = []
    for index, study in enumerate(recording.studies):
        better = min if study.spec.direction.value == "minimize" else max
        best = None
        for count, trial in enumerate(sorted(study.trials, key=lambda t: t.finished), start=1):
            if trial.value is not None:
                best = trial.value if best is None else better(best, trial.value)
            if best is not None:
                rows.append({"number": index, "epoch": count, "value": best})
    return pd.DataFrame(rows, columns=["number", "epoch", "value"])


def _front_line(recording: Recording) -> pd.DataFrame:
    """The front of the recording's first two metrics, ordered along the second."""
    first, second = recording.spec.metrics[:2]
    measured = [
        (trial.values[second.name], trial.values[first.name])
        for trial in recording.trials
        if trial.state == TrialState.COMPLETE
        and all(
            isinstance(trial.values.get(goal.name), float) for goal in (first, second)
        )  # a value the recording left null is no point
    ]
    chosen = pareto.front_indices(
        [(y, x) for x, y in measured], [first.direction, second.direction]
    )
    rows = [{"number": 0, "epoch": x, "value": y} for x, y in sorted(measured[i] for i in chosen)]
    return pd.DataFrame(rows, columns=["number", "epoch", "value"])


def preview_chart(frame: pd.DataFrame) -> alt.Chart:
    """A lesson card's glimpse of what it shows: every line, small and unlabelled; on a log
    scale when the values span more than 50x (a test function's best so far)."""
    values = frame["value"]
    log = bool(len(frame)) and values.min() > 0 and values.max() > 50 * values.min()
    return (
        alt.Chart(frame)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("epoch:Q", axis=None, scale=alt.Scale(zero=False)),
            y=alt.Y(
                "value:Q", axis=None, scale=alt.Scale(type="log") if log else alt.Scale(zero=False)
            ),
            color=alt.Color("number:N", scale=alt.Scale(scheme="tableau10"), legend=None),
            detail="number:N",
        )
        .properties(height=60)
        .configure_view(stroke=None)
    )
