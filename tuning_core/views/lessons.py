"""The lessons the landing page lists: what each shows, and where it opens.

Recorded lessons replay a study shipped in ``lessons/`` (tuning_core/reports/recording.py), so
the first chart appears in about a second, offline; the others start a quick live run of a
function objective (no Keras), which finishes in seconds.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from tuning_core.reports.recording import Recording


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
    recording: str | None = None  # a file in lessons/, replayed
    live_spec: dict[str, Any] | None = None  # a quick live run instead (function objectives)

    @property
    def study(self) -> str:
        return f"lesson-{self.key}"

    def recording_path(self) -> Path | None:
        return LESSONS_DIR / self.recording if self.recording else None

    def spec_path(self) -> Path:
        """The spec the recording was made from: "run it live instead" runs it."""
        return LESSONS_DIR / "specs" / f"{self.study}.json"


_BRANIN_SPACE = {
    "x1": {"type": "float", "low": -5, "high": 10},
    "x2": {"type": "float", "low": 0, "high": 15},
}

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
        "Grid, random and Bayesian search on Branin, three seeds each: which finds the "
        "minimum first?",
        "pages/race.py",
        live_spec={
            "name": "lesson-search-strategies",
            "objective": {"type": "function", "name": "branin"},
            "space": _BRANIN_SPACE,
            "budget": {"trials": 20},
            "seeds": 3,
            "strategies": [
                {"type": "grid"},
                {"type": "random"},
                {"type": "bayesian", "surrogate": "GP", "acquisition": "EI"},
            ],
        },
    ),
    Lesson(
        "why-this-point",
        "Why this point?",
        "What the Bayesian search knew when it chose each trial: its guess, its doubt, and "
        "where it hoped to gain most.",
        "pages/why.py",
        live_spec={
            "name": "lesson-why-this-point",
            "objective": {"type": "function", "name": "branin"},
            "space": _BRANIN_SPACE,
            "strategy": {"type": "bayesian", "surrogate": "GP", "acquisition": "EI", "seed": 0},
            "budget": {"trials": 20},
        },
    ),
)


def lesson_named(key: str | None) -> Lesson | None:
    """The lesson a link names, or None."""
    return next((lesson for lesson in LESSONS if lesson.key == key), None)


def lesson_of_study(name: str | None) -> Lesson | None:
    """The recorded lesson a study replays, or None."""
    return next((lesson for lesson in LESSONS if name and lesson.study == name), None)


def speed_of(raw: str | None) -> float | None:
    """The replay speed a link asks for (unknown: the default, ×10)."""
    return SPEEDS.get(raw or DEFAULT_SPEED, SPEEDS[DEFAULT_SPEED])


def preview_frame(recording: Recording) -> pd.DataFrame:
    """Each recorded trial's metric by epoch (from 1): number, epoch, value."""
    metric = recording.spec.metric
    return pd.DataFrame(
        [
            {"number": trial.number, "epoch": epoch.epoch + 1, "value": epoch.metrics.get(metric)}
            for trial in recording.trials
            for epoch in trial.epochs
            if epoch.metrics.get(metric) is not None
        ],
        columns=["number", "epoch", "value"],
    )


def preview_chart(frame: pd.DataFrame, metric: str) -> alt.Chart:
    """A lesson card's glimpse of what it shows: every trial's curve, small and unlabelled."""
    return (
        alt.Chart(frame)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("epoch:Q", axis=None, scale=alt.Scale(zero=False)),
            y=alt.Y("value:Q", axis=None, scale=alt.Scale(zero=False), title=metric),
            color=alt.Color("number:N", scale=alt.Scale(scheme="tableau10"), legend=None),
            detail="number:N",
        )
        .properties(height=60)
        .configure_view(stroke=None)
    )
