"""What pruning did to a study, as DataFrames: one row per pruned trial, the guides a
pruner measures trials against (drawn behind the curves) and the epochs pruning saved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tuning_core.engine.pruners import Curve, PruneDecision, pruner_for
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import TrialState


def has_pruner(spec: StudySpec) -> bool:
    """Whether the study stops trials early (its pruner is not "none")."""
    return spec.pruner.get("type", "none") != "none"


PRUNING_COLUMNS = [
    "number", "epoch", "value", "cutoff", "rule", "rung", "bracket", "compared", "kept", "metric",
]  # fmt: skip


def pruning_frame(decisions: list[PruneDecision], metric: str) -> pd.DataFrame:
    """One row per pruned trial: why it stopped (see PruneDecision), epochs 0-based as stored.

    ``metric`` is the study's metric, the one the value and the cut-off are measured in, so a
    chart of another metric (the training loss) can leave the cut-off out.
    """
    rows = [
        {
            "number": decision.trial_number,
            "epoch": decision.epoch,
            "value": decision.value,
            "cutoff": decision.cutoff,
            "rule": decision.rule,
            "rung": decision.rung,
            "bracket": decision.bracket,
            "compared": decision.compared,
            "kept": decision.kept,
            "metric": metric,
        }
        for decision in decisions
    ]
    return pd.DataFrame(rows, columns=PRUNING_COLUMNS)


GUIDE_COLUMNS = ["kind", "epoch", "value", "metric", "label", "why"]


def pruning_guides(spec: StudySpec, curves: pd.DataFrame) -> pd.DataFrame:
    """What the study's pruner measures trials against, drawn behind the curves: kind, epoch
    (0-based), value, metric, label and why (a sentence for the tooltip); the rule draws them
    (Pruner.guides) from the study's curves of its metric.

    * ``rung`` rows (successive halving, Hyperband): one per rung, value NaN.
    * ``median`` rows (the median rule): at each epoch where the rule applies, the cut-off a
      trial there meets now.
    Empty for a study without a pruner.
    """
    guides = pruner_for(spec.pruner).guides(spec.direction, _stored_curves(curves, spec.metric))
    rows = [
        {
            "kind": guide.kind,
            "epoch": guide.epoch,
            "value": guide.value,
            # A guide with a value is in the study's metric; a rung is only an epoch.
            "metric": "" if np.isnan(guide.value) else spec.metric,
            "label": guide.label,
            "why": guide.why,
        }
        for guide in guides
    ]
    return pd.DataFrame(rows, columns=GUIDE_COLUMNS)


def _stored_curves(curves: pd.DataFrame, metric: str) -> list[Curve]:
    """The curves of ``metric`` as the store holds them (whole epochs with a value), for a
    pruner to read; every trial is its own bracket key (guides do not depend on brackets)."""
    if curves.empty or "state" not in curves.columns:
        return []
    within = curves.get("within_epoch", pd.Series(False, index=curves.index)).astype(bool)
    rows = curves[(curves["metric"] == metric) & ~within].dropna(subset=["value", "state"])
    return [
        Curve(
            int(number),
            TrialState(group["state"].iloc[0]),
            dict(zip(group["epoch"].astype(int), group["value"].astype(float), strict=True)),
            int(number),
        )
        for number, group in rows.groupby("number")
    ]


@dataclass(frozen=True)
class EpochsSaved:
    """Epochs the finished trials trained against what they would have trained unpruned."""

    trained: int
    full: int
    trials: int
    pruned: int

    @property
    def saved_share(self) -> float:
        return 1 - self.trained / self.full if self.full else 0.0

    def sentence(self) -> str:
        """E.g. "Epochs trained: 74 of the 135 a full search of these 15 trials would train
        (45% saved; 11 trials pruned)."""
        trials = "trial" if self.trials == 1 else "trials"
        pruned = "trial" if self.pruned == 1 else "trials"
        return (
            f"Epochs trained: {self.trained} of the {self.full} a full search of these "
            f"{self.trials} {trials} would train ({self.saved_share:.0%} saved; {self.pruned} "
            f"{pruned} pruned)."
        )


def epochs_saved(
    spec: StudySpec, trials: pd.DataFrame, curves: pd.DataFrame | pd.Series
) -> EpochsSaved | None:
    """What pruning saved, over the finished trials that count against the budget; None for a
    study without a pruner. ``curves``: the long form of :func:`curves_frame`, or the epochs
    each trial trained (:func:`epochs_by_trial`), which a page that holds only some trials'
    rows counts without them.

    A pruned trial would have trained its own epochs (its ``epochs`` param, else the
    objective's); every other finished trial trained what it would have anyway (a diverged one
    stops by itself), so it counts the same on both sides. Running and interrupted trials are
    left out of both.
    """
    if not has_pruner(spec):
        return None
    counted = {state.value for state in TrialState if state.counts_against_budget()}
    finished = trials[trials["state"].isin(counted)] if not trials.empty else trials
    trained_by_trial = curves if isinstance(curves, pd.Series) else epochs_by_trial(curves)
    default_epochs = int(spec.objective.get("epochs") or spec.pruner["max_epochs"])
    trained = full = pruned = 0
    for row in finished.itertuples(index=False):
        done = int(trained_by_trial.get(row.number, 0))
        trained += done
        if row.state == TrialState.PRUNED.value:
            pruned += 1
            own = getattr(row, "epochs", None) if "epochs" in finished else None
            full += int(own) if own is not None and not pd.isna(own) else default_epochs
        else:
            full += done
    return EpochsSaved(trained, full, len(finished), pruned)


def epochs_by_trial(curves: pd.DataFrame) -> pd.Series:
    """Whole epochs recorded per trial number (a diverged run's in-epoch losses are not)."""
    if curves.empty:
        return pd.Series(dtype=int)
    whole = curves[~curves["within_epoch"]] if "within_epoch" in curves else curves
    return whole.drop_duplicates(["number", "epoch"]).groupby("number").size()
