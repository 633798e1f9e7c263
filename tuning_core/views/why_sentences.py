"""Why this point? in words: how a trial was chosen, what the search knew of failures
(why_failures.py), and for a study of several metrics what the surrogate's one score a trial
weighs (ParEGO, engine/strategies/parego.py)."""

from __future__ import annotations

import math
from typing import Any

from tuning_core.views import why_charts
from tuning_core.views.why_failures import failure_sentence


def weights_sentence(explanation: dict[str, Any]) -> str:
    """For a study of several metrics, what the model's one score a trial weighs (ParEGO's
    weights of this ask); empty for one metric and for an initial point."""
    weights, metrics = explanation.get("weights"), explanation.get("metrics")
    if not weights or not metrics or explanation["initial"]:
        return ""
    weighed = " and ".join(
        f"{metric} at {weight:.0%}" for metric, weight in zip(metrics, weights, strict=False)
    )
    return (
        f" With several metrics the model learns one score a trial: for this step, {weighed} "
        "(each metric scaled to its range so far; the weights are drawn afresh each step, so "
        "the search aims at another part of the front)."
    )


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def summary_sentence(explanation: dict[str, Any]) -> str:
    """One sentence on how trial N was chosen (more for failures and several metrics)."""
    chosen = ", ".join(f"{k} = {_format(v)}" for k, v in explanation["chosen"].items())
    trial = explanation["trial"]
    if explanation["initial"]:
        return (
            f"Trial {trial} ({chosen}) was an initial random point: the search drew it at "
            "random to get a first picture, before it fitted any model."
        ) + failure_sentence(explanation)
    seen, acquisition = len(explanation["observed"]), explanation.get("acquisition")
    text = (
        f"Trial {trial} ({chosen}) is where the {explanation['surrogate']} model, fitted on the "
        f"{seen} trials before it, gave the highest {why_charts.acquisition_label(acquisition)}"
    )
    if explanation.get("acq_func") == "gp_hedge":
        text += "; gp_hedge chose this acquisition for this step"
    if explanation.get("replaced"):
        text += " (its first choice had been tried already, so it took the next candidate)"
    if (explanation.get("feasibility") or {}).get("moved"):
        text += " among the points likely to run without failing"
    text += "."
    if why_charts.acquisition_is_flat(explanation):
        text += (
            " Here the acquisition is flat (equal everywhere, to within rounding): the model "
            "put the scores' differences down to noise, found no spot more promising than "
            "another, and the choice was as good as random."
        )
    return text + weights_sentence(explanation) + failure_sentence(explanation)
