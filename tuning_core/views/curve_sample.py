"""Which trials a curve chart draws when a study has too many to draw each: a sample (the
best, the running and selected ones, a fixed hash-ordered share of the rest), the grey band of
every finished trial behind it, and the title that says so. Pure; no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.states import Direction, TrialState

# Beyond this many trials a curve chart draws a sample (see :func:`sample_trials`): 10,000
# lines took seconds to send and draw, and read as one blot.
MAX_DRAWN_TRIALS = 300
# Of the drawn lines, up to this share are the best trials; the rest a fixed sample.
BEST_SHARE = 0.5
# The band drawn behind a sample: these quantiles of every finished trial at each epoch.
BAND_QUANTILES = (0.1, 0.9)


@dataclass(frozen=True)
class CurveSample:
    """Which trials a curve chart draws: ``numbers`` (None: all of them), of ``total``."""

    numbers: frozenset[int] | None
    total: int
    best: int = 0  # how many of the drawn are the best trials by value

    @property
    def shown(self) -> int:
        return self.total if self.numbers is None else len(self.numbers)

    def sentence(self, band_trials: int = 0, band_of: int | None = None) -> str:
        """What the chart leaves out, in one sentence; empty when it draws every trial.
        ``band_of``: the band's ``band_trials`` are a sample of that many finished trials."""
        if self.numbers is None:
            return ""
        low, high = (round(100 * q) for q in BAND_QUANTILES)
        over = (
            f"a fixed sample of {band_trials:,} of the {band_of:,}"
            if band_of
            else f"all {band_trials:,}"
        )
        band = (
            f"; the grey band spans the {low}th to {high}th percentile of {over} "
            "finished trials at each epoch"
            if band_trials
            else ""
        )
        return (
            f"Showing {self.shown:,} of {self.total:,} trials: the {self.best:,} best, the "
            f"running and selected ones, and a fixed sample of the rest{band}."
        )


def sample_trials(
    trials: pd.DataFrame,
    direction: Direction | str,
    always: Iterable[int] = (),
    cap: int = MAX_DRAWN_TRIALS,
) -> CurveSample:
    """The trials a curve chart draws: all of them up to ``cap``; beyond it the best complete
    trials by value (up to BEST_SHARE of ``cap``), every trial in ``always`` (running,
    selected, best: even past the cap) and a fixed pseudo-random sample of the rest to fill
    ``cap``. The sample hashes trial numbers, so a drawn trial stays drawn as trials arrive.
    """
    total = len(trials)
    if total <= cap:
        return CurveSample(None, total)
    numbers = trials["number"].astype(int)
    keep = {int(n) for n in always} & set(numbers)
    complete = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    ascending = Direction(direction) is Direction.MINIMIZE
    best = complete.sort_values("value", ascending=ascending, kind="stable")["number"]
    best = [int(n) for n in best.head(max(0, int(cap * BEST_SHARE) - len(keep)))]
    keep.update(best)
    room = cap - len(keep)
    if room > 0:
        rest = numbers[~numbers.isin(keep)]
        # Knuth's multiplicative hash: a fixed, well-spread order that ignores arrival order.
        order = (rest.to_numpy(dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
        keep.update(int(n) for n in rest.to_numpy()[np.argsort(order, kind="stable")[:room]])
    return CurveSample(frozenset(keep), total, len(best))


def band_frame(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per epoch (counted from 1), the BAND_QUANTILES of ``metric`` over the trials in
    ``curves``: epoch, low, high, trials. ``curves`` is the long form of
    :func:`frames.curves_frame` (in-epoch rows are left out)."""
    rows = curves[curves["metric"] == metric]
    if "within_epoch" in rows:
        rows = rows[~rows["within_epoch"].astype(bool)]
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return pd.DataFrame(columns=["epoch", "low", "high", "trials"])
    grouped = rows.groupby("epoch")["value"]
    low, high = BAND_QUANTILES
    band = pd.DataFrame(
        {
            "low": grouped.quantile(low),
            "high": grouped.quantile(high),
            "trials": grouped.size(),
        }
    ).reset_index()
    band["epoch"] = band["epoch"].astype(float) + 1
    return band


def sampled_title(
    title: str,
    sample: CurveSample | None,
    band: pd.DataFrame | None = None,
    band_of: int | None = None,
) -> str | alt.TitleParams:
    """The chart's title, with a subtitle saying how many trials it draws when it samples,
    and over what its band is drawn on a second line (on one, it was cut off at 1366 px);
    ``band_of``: the band is drawn over a sample of that many finished trials."""
    if sample is None or sample.numbers is None:
        return title
    subtitle: str | list[str] = f"{sample.shown:,} of {sample.total:,} trials drawn"
    if band is not None and not band.empty:
        low, high = (round(100 * q) for q in BAND_QUANTILES)
        over = (
            f"a sample of {int(band['trials'].max()):,} of {band_of:,} finished trials"
            if band_of
            else "all finished trials"
        )
        subtitle = [subtitle, f"grey band: {low}th-{high}th percentile of {over}"]
    return alt.TitleParams(title, subtitle=subtitle, subtitleColor="#555555")
