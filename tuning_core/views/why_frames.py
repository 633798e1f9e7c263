"""A "Why this point?" explanation (``Explanation.to_json()``) as the rows its charts draw:
the grid's surface, the trials seen, the chosen point, and the 1-D and 2-D views' frames (each
built once so that a chart spec can be reused with each trial's rows). Pure; no Streamlit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def surface_frame(explanation: dict[str, Any]) -> pd.DataFrame:
    """One row per grid point: the dims' values, mean, std, lower, upper, acquisition (and
    true_value for function objectives)."""
    frame = pd.DataFrame(explanation["grid"])
    frame["mean"] = explanation["mean"]
    frame["std"] = explanation["std"]
    frame["lower"] = frame["mean"] - 2 * frame["std"]
    frame["upper"] = frame["mean"] + 2 * frame["std"]
    frame["acquisition"] = explanation["acquisition_values"]
    if explanation.get("true_value") is not None:
        frame["true_value"] = explanation["true_value"]
    return frame


def observed_frame(explanation: dict[str, Any]) -> pd.DataFrame:
    """The trials the search had seen: the trial's order (0-based), its params and value."""
    rows = [
        {
            "seen": index,
            **point["params"],
            "value": point["value"],
            "failed": bool(point.get("failed", False)),
        }
        for index, point in enumerate(explanation["observed"])
    ]
    return pd.DataFrame(rows, columns=["seen", *explanation["chosen"], "value", "failed"])


def chosen_frame(explanation: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                **explanation["chosen"],
                "trial": explanation["trial"],
                "mean": explanation.get("chosen_mean"),
                "acquisition": explanation.get("acquisition_at_chosen"),
            }
        ]
    )


def curve_frame(explanation: dict[str, Any]) -> pd.DataFrame:
    """The 1-D view's rows in one frame, so its chart spec can be built once and reused with
    each trial's rows: ``role`` is "grid" (mean, lower, upper, acquisition), "observed" (a
    trial seen so far: value), "chosen" (trial N) or "peak" (the acquisition's maximum on the
    grid)."""
    dim = explanation["dims"][0]
    surface = surface_frame(explanation)
    observed = observed_frame(explanation)
    chosen = chosen_frame(explanation)
    peak = surface.loc[[surface["acquisition"].idxmax()]]
    return pd.concat(
        [
            surface[[dim, "mean", "lower", "upper", "acquisition"]].assign(role="grid"),
            observed[["seen", dim, "value", "failed"]].assign(role="observed"),
            chosen[[dim, "trial", "acquisition"]].assign(role="chosen"),
            peak[[dim, "acquisition"]].assign(role="peak"),
        ],
        ignore_index=True,
    )


def _edges(values: np.ndarray, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges around sorted grid values: midpoints (geometric ones on a log axis)."""
    if len(values) == 1:
        return values, values
    scaled = np.log(values) if log else values
    middles = (scaled[1:] + scaled[:-1]) / 2
    lower = np.concatenate([[scaled[0]], middles])
    upper = np.concatenate([middles, [scaled[-1]]])
    return (np.exp(lower), np.exp(upper)) if log else (lower, upper)


def _cells(surface: pd.DataFrame, dim: str, log: bool, categorical: bool) -> pd.DataFrame:
    if categorical:
        return surface.assign(**{f"{dim}_label": surface[dim].astype(str)})
    values = np.array(sorted(surface[dim].astype(float).unique()))
    lower, upper = _edges(values, log)
    to_lower = dict(zip(values, lower, strict=True))
    to_upper = dict(zip(values, upper, strict=True))
    column = surface[dim].astype(float)
    return surface.assign(**{f"{dim}_lo": column.map(to_lower), f"{dim}_hi": column.map(to_upper)})


def heatmaps_frame(
    explanation: dict[str, Any],
) -> pd.DataFrame:
    """The 2-D view's rows in one frame, so its chart spec can be built once and reused with
    each trial's rows: ``role`` is "cell" (a grid cell with its edges, mean, std,
    acquisition, true_value), "observed" (a trial seen so far) or "chosen" (trial N)."""
    dims = explanation["dims"]
    surface = surface_frame(explanation).drop(columns=["lower", "upper"])
    for dim in dims:
        surface = _cells(
            surface,
            dim,
            dim in explanation["log_dims"],
            dim in explanation["categorical_dims"],
        )
    observed = observed_frame(explanation)
    chosen = chosen_frame(explanation).rename(columns={"mean": "chosen_mean"})
    parts = [
        surface.assign(role="cell"),
        observed[["seen", *dims, "value", "failed"]].assign(role="observed"),
        chosen[[*dims, "trial"]].assign(role="chosen"),
    ]
    frame = pd.concat(parts, ignore_index=True)
    for dim in explanation["categorical_dims"]:
        frame[f"{dim}_label"] = frame[dim].astype(str)
        frame[dim] = frame[dim].astype(str)
    return frame
