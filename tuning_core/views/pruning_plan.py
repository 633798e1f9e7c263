"""What a pruner will do, shown before Start: its rungs or brackets, the trials that reach
each, and the epochs in all, as a sentence and a small chart (New study)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import PlanStage, pruner_for
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.spec_parts import PrunerSpec

PLAN_COLUMNS = ["row", "bracket", "start_epoch", "end_epoch", "trials", "label", "epochs"]


def _row(stage: PlanStage) -> str:
    if stage.bracket is None:
        return "all trials"
    return f"bracket {stage.bracket + 1}"


def plan_frame(stages: list[PlanStage]) -> pd.DataFrame:
    """One row per stage: its bracket's row name, the epochs it spans, the trials in it."""
    return pd.DataFrame(
        [
            {
                "row": _row(stage),
                "bracket": stage.bracket,
                "start_epoch": stage.start_epoch,
                "end_epoch": stage.end_epoch,
                "trials": stage.trials,
                "label": f"{stage.trials} trial{'s' if stage.trials != 1 else ''}",
                "epochs": stage.epochs,
            }
            for stage in stages
        ],
        columns=PLAN_COLUMNS,
    )


def plan_sentence(pruner: PrunerSpec, trials: int, epochs_per_trial: int) -> str | None:
    """The plan in words, with the total epochs against a full search's; None without one."""
    rule = pruner_for(pruner)
    stages = rule.plan(trials)
    if not stages:
        return None
    total = sum(stage.epochs for stage in stages)
    full = trials * epochs_per_trial
    share = f" ({total / full:.0%})" if full else ""
    if stages[0].bracket is None:  # one bracket: successive halving
        first, *rest = stages
        steps = "; ".join(
            [f"all {first.trials} train to epoch {first.end_epoch}"]
            + [
                f"about {stage.trials} {'goes' if stage.trials == 1 else 'go'} on to epoch "
                f"{stage.end_epoch}"
                for stage in rest
            ]
        )
        head = f"{rule.label}: {steps}"
    else:
        brackets = sorted({stage.bracket for stage in stages if stage.bracket is not None})
        firsts = [next(s for s in stages if s.bracket == b) for b in brackets]
        head = f"{rule.label}: {len(brackets)} brackets of " + ", ".join(
            f"{first.trials} trials (first cut at epoch {first.end_epoch})"
            if first.end_epoch < epochs_per_trial
            else f"{first.trials} trials (never cut)"
            for first in firsts
        )
    return (
        f"{head}. About {total:,} epochs in all, of the {full:,} a full search trains{share}, "
        "if each rung keeps exactly its top share; a trial that leads its rung while few have "
        "reached it goes on too, so a run trains a little more."
    )


def plan_for_spec(raw: dict[str, Any]) -> tuple[str, pd.DataFrame] | None:
    """The plan of a form's spec (sentence, frame), or None: no rung pruner, or a spec that
    does not parse yet (the form shows that problem itself)."""
    try:
        spec = parse_spec(raw)
    except SpecError:
        return None
    # A grid of fewer points than its budget ends once they are tried: its points are planned.
    trials = spec.planned_trials
    sentence = plan_sentence(spec.pruner, trials, spec.pruner.max_epochs or 0)
    if sentence is None:
        return None
    return sentence, plan_frame(pruner_for(spec.pruner).plan(trials))


def plan_chart(plan: pd.DataFrame) -> alt.LayerChart:
    """Each bracket a row; each stage a bar from the epoch it starts at to its rung, labelled
    with how many trials train it."""
    rows = list(dict.fromkeys(plan["row"]))
    y = alt.Y("row:N", title=None, sort=rows, axis=alt.Axis(labelFontWeight="bold"))
    base = alt.Chart(plan).encode(
        y=y,
        tooltip=[
            alt.Tooltip("row:N", title="bracket"),
            alt.Tooltip("start_epoch:Q", title="from epoch"),
            alt.Tooltip("end_epoch:Q", title="to epoch"),
            alt.Tooltip("trials:Q"),
            alt.Tooltip("epochs:Q", title="epochs trained"),
        ],
    )
    x = alt.X(
        "start_epoch:Q",
        title="epochs done",
        axis=alt.Axis(tickMinStep=1, format="d"),
        scale=alt.Scale(domainMin=0, nice=False),
    )
    bars = base.mark_bar(stroke="white", strokeWidth=2, height={"band": 0.7}).encode(
        x=x,
        x2="end_epoch:Q",
        # Fewer trials, paler: the colour fades as the rungs thin the field.
        opacity=alt.Opacity("trials:Q", scale=alt.Scale(range=[0.35, 1.0]), legend=None),
        color=alt.value("#6baed6"),
    )
    labels = base.mark_text(color="black", fontWeight="bold").encode(
        x=alt.X("middle:Q"), text="label:N"
    )
    return alt.layer(
        bars, labels.transform_calculate(middle="(datum.start_epoch + datum.end_epoch) / 2")
    ).properties(height=40 + 44 * len(rows), title="What the pruner will do")
