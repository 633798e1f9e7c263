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
        instead = (
            f"drew again, until a point had {chance}"
            if explanation.get("initial")
            else f"took the most promising point that had a good one ({chance})"
        )
        return (
            f" It had seen {count} (orange crosses) and kept away from them: its first choice "
            f"had a {feasibility['at_first']:.0%} chance of running without failing, so it "
            f"{instead}."
        )
    return (
        f" It had seen {count} (orange crosses); this point looked far enough from them, with "
        f"a {chance} chance of running without failing."
    )
