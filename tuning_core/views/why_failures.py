"""What "Why this point?" says about failed trials: one sentence on what the search's failure
model (engine/strategies.py, ``Feasibility``) knew at an ask. The chart marks the failed
trials themselves (why_charts)."""

from __future__ import annotations

from typing import Any


def failure_sentence(explanation: dict[str, Any]) -> str:
    """What the search knew about failed trials at this ask (" " and one sentence), or ""
    before any failure."""
    feasibility = explanation.get("feasibility")
    failed = explanation.get("failed") or []
    if not feasibility or not failed:
        return ""
    count = f"{len(failed)} failed trial" + ("s" if len(failed) > 1 else "")
    chance = f"{feasibility['at_chosen']:.0%}"
    if feasibility["moved"]:
        return (
            f" It had seen {count} (orange crosses): its first choice had a "
            f"{feasibility['at_first']:.0%} chance of running without failing, this point "
            f"{chance}."
        )
    return (
        f" It had seen {count} (orange crosses); this point looked far enough from them, with "
        f"a {chance} chance of running without failing."
    )
