"""The learning-rate lab's logic: exact rates, fresh comparison names, the range test's
suggestions explained, and the preset links' query parameters. Pure; no Streamlit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.views.forms import format_number
from tuning_core.views.live import FINISHED, epochs_from_one

DEFAULT_RATES = (0.001, 0.1, 10.0)
# Runs trained at once at most: each is a process with its own TensorFlow and data copy.
MAX_PARALLEL_RUNS = 4
# Past this SGD explodes on any data set in one step; a typo such as "1000" is caught here.
MAX_LEARNING_RATE = 100.0
MAX_RATES = 8


def rate_ladder(
    low_exponent: int = -5, high_exponent: int = 1, extra: list[str] | None = None
) -> list[str]:
    """1, 2 and 5 per decade plus ``extra`` (e.g. a link's exact rates), in increasing order,
    written as :func:`format_number` writes them ("0.001", "5")."""
    rates = {
        mantissa * 10.0**exponent
        for exponent in range(low_exponent, high_exponent + 1)
        for mantissa in (1, 2, 5)
        if mantissa * 10.0**exponent <= MAX_LEARNING_RATE
    }
    for entry in extra or []:
        try:
            rates.add(float(entry))
        except ValueError:
            continue  # not a rate: the multiselect's own check reports typed ones
    return [format_number(rate) for rate in sorted(rates) if math.isfinite(rate) and rate > 0]


def parse_learning_rates(entries: list[str] | str) -> tuple[list[float], str | None]:
    """Exact rates from typed or picked entries ("0.001", "1e-3", "0.001, 0.1"), sorted and
    without repeats, or ``([], sentence)`` naming what is wrong.
    """
    if isinstance(entries, str):
        entries = [entries]
    pieces = [piece.strip() for entry in entries for piece in str(entry).split(",")]
    rates: set[float] = set()
    for piece in filter(None, pieces):
        try:
            rate = float(piece)
        except ValueError:
            return [], f"Learning rates: {piece!r} is not a number; type one such as 0.01."
        if not (math.isfinite(rate) and 0 < rate <= MAX_LEARNING_RATE):
            return [], (
                f"Learning rates: {piece} is out of range; each must be above 0 and at most "
                f"{format_number(MAX_LEARNING_RATE)}."
            )
        rates.add(float(f"{rate:.6g}"))
    if len(rates) < 2:
        return [], "Learning rates: pick at least two different rates to compare."
    if len(rates) > MAX_RATES:
        return [], f"Learning rates: at most {MAX_RATES} rates fit on one chart; drop some."
    return sorted(rates), None


def rates_query(rates: list[float]) -> str:
    """The ``rates`` query parameter of a preset link: "0.001,0.1,10"."""
    return ",".join(format_number(rate) for rate in rates)


def _identity_without_name(spec: StudySpec) -> str:
    data = json.loads(spec.search_identity())
    data.pop("name", None)
    return json.dumps(data, sort_keys=True)


def comparison_name(raw_spec: dict[str, Any], existing: Mapping[str, StudySpec]) -> str:
    """A name under which ``raw_spec`` can start: its own, or the first of name-2, name-3, …
    that is free or already holds this very comparison (which then resumes or is shown).

    A reused name with other rates made the worker refuse the spec and the page keep showing
    the old comparison; a fresh name means a new comparison always starts.
    """
    try:
        wanted = _identity_without_name(parse_spec(raw_spec))
    except SpecError:
        return raw_spec["name"]  # the page shows the spec's own problem instead
    base = raw_spec["name"][:60]
    for index in range(1, 1000):
        candidate = base if index == 1 else f"{base}-{index}"
        held = existing.get(candidate)
        if held is None or _identity_without_name(held) == wanted:
            return candidate
    raise ValueError(f"no free name left for {base!r}")


@dataclass(frozen=True)
class Suggestion:
    key: str
    title: str
    learning_rate: float
    explanation: str


SUGGESTION_TEXT = {
    "valley": (
        "valley (recommended)",
        "the middle of the longest stretch where the loss keeps falling: fast, yet well "
        "short of the blow-up.",
    ),
    "steep": (
        "steepest fall",
        "where the loss falls fastest per tenfold increase of the rate; often a little bold.",
    ),
    "minimum_div10": (
        "minimum ÷ 10",
        "a tenth of the rate with the lowest loss: the classic safe rule of thumb.",
    ),
}
RECOMMENDED = "valley"


def explain_suggestions(result: dict[str, Any]) -> list[Suggestion]:
    """The range test's suggestions in plain words, the recommended one first."""
    return [
        Suggestion(key, SUGGESTION_TEXT[key][0], float(result[key]), SUGGESTION_TEXT[key][1])
        for key in ("valley", "steep", "minimum_div10")
        if result.get(key) is not None
    ]


def outcome_notes(trials: Any) -> list[str]:
    """One sentence per run that diverged or ended at chance, as the trial table says it:
    "lr 5: ended at chance accuracy (10.0% validation accuracy; always predicting the most
    common class scores 10.1%)".
    """
    if trials.empty or "learning_rate" not in trials:
        return []
    lines = []
    for row in trials.sort_values("learning_rate").itertuples():
        text = (row.error if row.state == "diverged" else row.note) or ""
        if text:
            lines.append(f"lr {format_number(float(row.learning_rate))}: {epochs_from_one(text)}")
    return lines


def comparison_parallel(rates: int, cores: int | None) -> int:
    """How many runs of a comparison train at once: one per spare core (one core is left to
    the dashboard and the browser), at most one per rate and :data:`MAX_PARALLEL_RUNS`; 1, one
    after another, where fewer than two cores are spare (parallel runs go through Dask, whose
    start-up a single spare core would not repay)."""
    spare = (cores or 1) - 1
    return min(rates, spare, MAX_PARALLEL_RUNS) if spare >= 2 else 1


def finished_sentence(status: str, trials: Any, metric: str, direction: Any) -> str | None:
    """What the comparison's end looks like, or None while it runs: "Finished: all 3 learning
    rates trained; the best val_accuracy, 0.953, came from learning rate 0.1." ``trials`` is
    the study's trial frame; ``direction`` its :class:`~tuning_core.engine.states.Direction`."""
    if trials.empty:
        return None
    finished = trials[trials["state"].isin(FINISHED)]
    rates = int(finished["learning_rate"].nunique())
    if status == StudyStatus.STOPPED.value:
        plural = "s" if rates != 1 else ""
        return f"Stopped after {rates} learning rate{plural}: train again to finish the others."
    if status != StudyStatus.FINISHED.value:
        return None
    text = f"Finished: all {rates} learning rates trained"
    complete = finished[
        (finished["state"] == TrialState.COMPLETE.value) & finished["value"].notna()
    ]
    if len(complete):
        best = complete.loc[direction.best_index(complete["value"].astype(float))]
        text += (
            f"; the best {metric}, {float(best['value']):.3f}, came from learning rate "
            f"{format_number(float(best['learning_rate']))}"
        )
    return text + "."
