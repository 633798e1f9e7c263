"""The names of a curve chart's lines at their ends ("lr = 0.1", "adam", "trial 3"): which
lines are named and where their labels sit so that ends that meet stay readable. Pure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tuning_core.engine.states import TrialState

# Up to this many lines, each is named at its end in its own colour; beyond it a gradient
# carries the colour and only the best and the running trials are named.
MAX_LABELLED_LINES = 10


def line_label(color_field: str | None, value: Any, number: int) -> str:
    """How a line is named at its end: "lr = 0.1", "batch_size = 64", "adam" (a choice of
    names names itself), or "trial 3"."""
    if color_field is None or value is None or (not isinstance(value, str) and pd.isna(value)):
        return f"trial {int(number)}"
    if isinstance(value, str):
        return value
    name = "lr" if color_field == "learning_rate" else color_field
    shown = f"{float(value):.3g}" if isinstance(value, (int, float, np.number)) else str(value)
    return f"{name} = {shown}"


def direct_labels_fit(curves: pd.DataFrame) -> bool:
    """Whether a chart of ``curves`` names every line (at most MAX_LABELLED_LINES trials)."""
    return curves.empty or curves["number"].nunique() <= MAX_LABELLED_LINES


def line_range(data: pd.DataFrame) -> tuple[float, float] | None:
    """The lowest and highest value of the lines of a chart of :func:`curves_data` rows (of
    every line, named or not: the axis spans them all); None without a line."""
    values = data.loc[data["kind"] == "curve", "value"].dropna()
    return (float(values.min()), float(values.max())) if len(values) else None


def label_gap(data: pd.DataFrame) -> float:
    """How far apart the labels of a chart of :func:`curves_data` rows sit: a tenth of its
    :func:`line_range`, 0.1 where the lines are flat, 0 without a line."""
    lines = line_range(data)
    return 0.1 * ((lines[1] - lines[0]) or 1.0) if lines else 0.0


def end_labels(
    data: pd.DataFrame, color_field: str | None, best_number: int | None = None
) -> list[dict]:
    """The ``end`` rows of :func:`curves_data`: every line's label when there are at most
    MAX_LABELLED_LINES, else only the best and the running trials' (never a diverged or pruned
    line's: their markers name them). ``label_value`` nudges labels apart vertically (by
    :func:`label_gap`), so ends that meet stay readable, and keeps them between the lowest
    and the highest line where they fit, so that a label does not stretch the axis
    (val_accuracy past 1); more than fit there rise above, as far apart."""
    # Masks first and one take of the rows named at the end: at a few hundred lines, copying
    # every row of the chart twice cost more than the labels.
    curve = (data["kind"] == "curve") & data["value"].notna()
    if not curve.any():
        return []
    low, top = line_range(data)
    every_line = data.loc[curve, "number"].nunique()
    # A diverged line is named in its blow-up label instead, and pruned lines by their rung's
    # one label ("5 pruned at epoch 1"): named one by one, they piled up at the rung.
    named = curve & ~data["state"].isin([TrialState.DIVERGED.value, TrialState.PRUNED.value])
    if not named.any():
        return []
    if every_line > MAX_LABELLED_LINES:
        # Only the best and the running lines are named (a trial's state is the same on each
        # of its rows).
        chosen = data["state"] == TrialState.RUNNING.value
        if best_number is not None:
            chosen |= data["number"] == best_number
        named &= chosen
    lines = data[named]
    # Each line's last epoch, in trial order; its other columns are the same on every row.
    ends = lines.sort_values("epoch").drop_duplicates("number", keep="last").sort_values("number")
    if ends.empty:
        return []
    gap = label_gap(data)
    ends = ends.sort_values("value")
    placed: list[float] = []
    for value in ends["value"].astype(float):
        placed.append(max(value, placed[-1] + gap) if placed else value)
    # Then back down from the highest line where the stack rose past it, and up again from
    # the lowest where that took it below: the labels always stay a gap apart, and within
    # the lines' range whenever they fit there (up to 11; more than 10 lines are named only
    # on a gradient chart, the best and every running trial).
    for index in reversed(range(len(placed))):
        ceiling = top if index == len(placed) - 1 else placed[index + 1] - gap
        placed[index] = min(placed[index], ceiling)
    for index in range(len(placed)):
        floor = low if index == 0 else placed[index - 1] + gap
        placed[index] = max(placed[index], floor)
    rows = []
    for (_, end), label_value in zip(ends.iterrows(), placed, strict=True):
        row = {column: end[column] for column in ends.columns if column != "kind"}
        row.update(
            kind="end", marker=True, label_value=label_value,
            label=line_label(color_field, end.get(color_field), int(end["number"])),
        )  # fmt: skip
        rows.append(row)
    return rows
