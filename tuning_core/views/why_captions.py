"""The words under a "Why this point?" chart: the acquisition's name, the captions, and
whether the drawn acquisition is flat (so a caption never says the chosen point sits on a
peak that is rounding noise).

Pure functions of an ``explain`` result (``Explanation.to_json()``). No Streamlit, no Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACQUISITION_WORDS = {
    "EI": "expected improvement",
    "PI": "probability of improvement",
    # scikit-optimize minimises mean - κσ; drawn negated, so that higher is more promising.
    "LCB": "minus the lower confidence bound",
}

CAPTIONS = {
    "surrogate_1d": (
        "The line is what the model believes the score is, the band where it could still be "
        "(±2σ): wide where nothing was tried yet, narrow near the trials it has seen (black; "
        "those tried with other values of the other hyperparameters sit off the line)."
    ),
    "acquisition_1d": (
        "The search picks the highest point of this curve (red): high where a good score is "
        "still likely, either because nothing was tried there (exploration) or because it is "
        "near the best so far (exploitation)."
    ),
    "bars_1d": (
        "Each bar is the model's belief for one value (with ±2σ); the search chose the value "
        "whose acquisition bar (below) is highest, shown in red."
    ),
    "heatmaps_2d": (
        "The model's belief, its uncertainty (dark where nothing was tried yet) and how "
        "promising each spot looked: the red cross, the chosen trial, sits on the acquisition's "
        "darkest green, with the tried points in white."
    ),
    "heatmaps_2d_off_peak": (
        "The model's belief, its uncertainty (dark where nothing was tried yet) and how "
        "promising each spot looked, with the tried points in white. The red cross, the chosen "
        "trial, is not on the acquisition's darkest green here: {why}."
    ),
    "flat_2d": (
        "The model's belief and its uncertainty, with the tried points in white. The "
        "acquisition panel is flat (its shades are rounding noise): no spot looked more "
        "promising than another, so the red cross, the chosen trial, is where the search "
        "happened to stop."
    ),
    "acquisition_1d_flat": (
        "This curve is flat (its ups and downs are rounding noise): no value looked more "
        "promising than another, so the chosen trial (red) is where the search happened to stop."
    ),
    "bars_1d_flat": (
        "Each bar is the model's belief for one value (with ±2σ). The acquisition bars below "
        "are equal (to within rounding), so the chosen value (red) was as good as any other."
    ),
    "true_2d": (
        "The true function beside the model's belief: as trials accumulate, the belief takes "
        "the shape of the real landscape where the search has looked."
    ),
}


def acquisition_label(name: str | None) -> str:
    if not name:
        return "acquisition"
    return f"{ACQUISITION_WORDS.get(name, name)} ({name})"


# An acquisition whose values span less than this fraction of its natural scale is flat: what
# varies is floating-point rounding (EI and PI underflow when the GP explains the scores as
# noise; a legend then runs 0.000…0 – 0.000…06).
FLAT_FRACTION = 1e-6
# The chosen point "sits on the darkest green" when its acquisition is within this fraction
# of the span below the grid's highest value (the grid is coarser than the optimiser).
PEAK_FRACTION = 0.05


def is_flat(values: list[float], scale: float = 1.0) -> bool:
    """Whether values are all the same up to rounding, relative to ``scale``."""
    if not values:
        return False
    return max(values) - min(values) <= FLAT_FRACTION * max(scale, 1e-300)


def acquisition_is_flat(explanation: dict[str, Any]) -> bool:
    """Whether the drawn acquisition is flat: PI against 1 (a probability), EI and LCB against
    the spread of the scores seen (they are in the metric's units)."""
    values = explanation.get("acquisition_values") or []
    if explanation.get("acquisition") == "PI":
        return is_flat(values)
    scores = [p["value"] for p in explanation.get("observed", []) if "value" in p]
    spread = max(scores) - min(scores) if len(scores) > 1 else 0.0
    return is_flat(values, spread if spread > 0 else 1.0)


def _off_peak_reason(explanation: dict[str, Any]) -> str | None:
    """Why the chosen point is not at the drawn acquisition's top, or None when it is."""
    values = explanation.get("acquisition_values") or []
    at_chosen = explanation.get("acquisition_at_chosen")
    if not values or at_chosen is None:
        return None
    top, span = max(values), max(values) - min(values)
    if at_chosen >= top - PEAK_FRACTION * span:
        return None
    if explanation.get("replaced"):
        return "the top had been tried already, so the search took its next candidate"
    if (explanation.get("feasibility") or {}).get("moved"):
        return "the top was likely to fail, like the trials marked with orange crosses"
    if len(explanation.get("chosen", {})) > len(explanation.get("dims", [])):
        return (
            "the search looked for the top over every hyperparameter at once, and this is one "
            "slice through its choice"
        )
    return "the search's optimiser stopped below the top this grid shows"


def captions(explanation: dict[str, Any]) -> list[str]:
    """The captions under an explanation's chart, saying only what the chart shows: a flat
    acquisition is called flat, and a chosen point off the top is not said to sit on it."""
    if explanation["initial"]:
        return []
    dims = explanation["dims"]
    flat = acquisition_is_flat(explanation)
    if len(dims) == 1 and dims[0] in explanation["categorical_dims"]:
        return [CAPTIONS["bars_1d_flat" if flat else "bars_1d"]]
    if len(dims) == 1:
        return [
            CAPTIONS["surrogate_1d"],
            CAPTIONS["acquisition_1d_flat" if flat else "acquisition_1d"],
        ]
    found = [CAPTIONS["true_2d"]] if explanation.get("true_value") is not None else []
    reason = None if flat else _off_peak_reason(explanation)
    if flat:
        found.append(CAPTIONS["flat_2d"])
    elif reason:
        found.append(CAPTIONS["heatmaps_2d_off_peak"].format(why=reason))
    else:
        found.append(CAPTIONS["heatmaps_2d"])
    return found


def latest_informative(
    numbers: list[int], initial: set[int], flat: Callable[[int], bool], look_back: int = 25
) -> int | None:
    """The latest trial chosen by the model with a non-flat acquisition, looking back over at
    most ``look_back`` model-chosen trials (each needs its explanation); None if there is none."""
    model_chosen = [n for n in reversed(numbers) if n not in initial][:look_back]
    return next((n for n in model_chosen if not flat(n)), None)
