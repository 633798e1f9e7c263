"""A strategy race's verdict in plain words: who ended best in the median over seeds, whether
the bands say that is clear, the seeds each strategy won, how soon the winner got there, and
the wall-clock chart's title read off its own lines. Pure: frames in, sentences out."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from tuning_core.views.race_frames import _measure, convergence_frame


def _reached_by(curve: pd.DataFrame, target: float, lower_is_better: bool) -> int | None:
    hit = curve["median"] <= target if lower_is_better else curve["median"] >= target
    return int(curve.loc[hit, "trial"].iloc[0]) if hit.any() else None


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def final_values(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per study: label, seed, trials reached and ``final``, its last best so far (its
    regret, where the optimum is known); studies without a value yet are left out."""
    column = _measure(frame)
    known = frame.dropna(subset=[column]).sort_values(["study", "trial"], kind="stable")
    if known.empty:
        return pd.DataFrame(columns=["study", "label", "seed", "trials", "final"])
    last = known.groupby("study", sort=False).tail(1)
    finals = last[["study", "label", "seed", "trial", column]]
    return finals.rename(columns={"trial": "trials", column: "final"}).reset_index(drop=True)


def seed_wins(finals: pd.DataFrame, lower_is_better: bool) -> tuple[dict[str, int], int, int]:
    """(seeds won per label, seeds tied, seeds compared): on each seed the strategies' final
    values meet; a strategy run once (grid, deterministic) meets every seed with its one value.
    A seed where some strategy has no value yet is not compared."""
    labels = list(dict.fromkeys(finals["label"]))
    wins = dict.fromkeys(labels, 0)
    once = {label for label in labels if (finals["label"] == label).sum() == 1}
    seeded = finals[~finals["label"].isin(once)]
    seeds = sorted(set(seeded["seed"])) if len(seeded) else sorted(set(finals["seed"]))
    ties = compared = 0
    for seed in seeds:
        values = {}
        for label in labels:
            rows = finals[finals["label"] == label]
            match = rows if label in once else rows[rows["seed"] == seed]
            if len(match):
                values[label] = float(match["final"].iloc[0])
        if len(values) < len(labels) or len(values) < 2:
            continue
        compared += 1
        best = min(values.values()) if lower_is_better else max(values.values())
        winners = [label for label, value in values.items() if value == best]
        if len(winners) > 1:
            ties += 1
        else:
            wins[winners[0]] += 1
    return wins, ties, compared


def _band(values: pd.Series) -> tuple[float, float]:
    """The middle half of the seeds' final values, as the chart's band draws it."""
    return float(values.quantile(0.25)), float(values.quantile(0.75))


def _span(low: float, high: float) -> str:
    return _fmt(low) if _fmt(low) == _fmt(high) else f"{_fmt(low)}–{_fmt(high)}"


def has_clear_winner(frame: pd.DataFrame, direction: str, measure: str) -> bool:
    """Whether :func:`verdict` names a winner: over two seeds or more, the best median's band
    does not overlap the runner-up's."""
    finals = final_values(frame)
    lower_is_better = measure == "regret" or direction == "minimize"
    by_label = {label: rows["final"] for label, rows in finals.groupby("label", sort=False)}
    if len(by_label) < 2 or max(len(values) for values in by_label.values()) < 2:
        return False
    medians = {label: float(values.median()) for label, values in by_label.items()}
    winner, runner = sorted(medians, key=medians.__getitem__, reverse=not lower_is_better)[:2]
    (low_w, high_w), (low_r, high_r) = _band(by_label[winner]), _band(by_label[runner])
    return medians[winner] != medians[runner] and max(low_w, low_r) > min(high_w, high_r)


def verdict(
    frame: pd.DataFrame,
    titles: Mapping[str, str],
    direction: str,
    measure: str,
    finished: bool = True,
) -> str:
    """Who ended best in the median over seeds, and whether that is clear: the winner's and
    the runner-up's bands (the middle half of their seeds' final values) overlap or not, how
    many seeds each strategy won, and by which trial the winner reached the runner-up's final
    median. ``frame`` is :func:`trial_frame`'s; ``measure`` names the value ("regret",
    "val_accuracy"); ``finished=False`` says "so far"."""
    finals = final_values(frame)
    if finals.empty:
        return "No trial has finished yet."
    lower_is_better = measure == "regret" or direction == "minimize"
    so_far = "" if finished else " so far"
    by_label = {label: rows["final"] for label, rows in finals.groupby("label", sort=False)}
    medians = {label: float(values.median()) for label, values in by_label.items()}
    ranked = sorted(medians, key=medians.__getitem__, reverse=not lower_is_better)
    name = {label: titles.get(label, label) for label in medians}
    seeds = max(len(values) for values in by_label.values())
    over = "one seed" if seeds == 1 else f"{seeds} seeds"
    winner = ranked[0]
    if len(ranked) == 1:
        return (
            f"Only {name[winner]} has results{so_far}: median {measure} "
            f"{_fmt(medians[winner])} over {over}."
        )
    runner = ranked[1]
    won, lost = medians[winner], medians[runner]
    (low_w, high_w), (low_r, high_r) = _band(by_label[winner]), _band(by_label[runner])
    bands = f"{_span(low_w, high_w)} and {_span(low_r, high_r)}"
    clear = has_clear_winner(frame, direction, measure)
    if won == lost:
        text = (
            f"No clear winner over {over}{so_far}: {name[winner]} and {name[runner]} tie at "
            f"median {measure} {_fmt(won)}."
        )
    elif seeds == 1:
        text = (
            f"{name[winner]} is ahead{so_far} on one seed: {measure} {_fmt(won)} against "
            f"{_fmt(lost)} for {name[runner]}; one seed cannot tell a better strategy from a "
            "luckier one."
        )
    elif not clear:
        text = (
            f"No clear winner over {over}{so_far}: {name[winner]}'s median {measure} "
            f"{_fmt(won)} and {name[runner]}'s {_fmt(lost)} have overlapping bands ({bands}, "
            "the middle half of the seeds)."
        )
    else:
        how = "ended best" if finished else "leads so far"
        text = (
            f"{name[winner]} {how} over {over}: median {measure} {_fmt(won)} against "
            f"{_fmt(lost)} for {name[runner]}, and their bands do not overlap ({bands}, the "
            "middle half of the seeds)."
        )
    wins, ties, compared = seed_wins(finals, lower_is_better)
    if seeds > 1 and compared:
        counts = ", ".join(f"{name[label]} {wins[label]}" for label in ranked)
        tied = f", {ties} tied" if ties else ""
        once = [name[label] for label in ranked if len(by_label[label]) == 1]
        note = f" ({' and '.join(once)} ran once and meets every seed)" if once else ""
        text += f" Seeds won of {compared}: {counts}{tied}{note}."
    if clear:
        # How soon, only for a clear winner: with overlapping bands the pace is noise too.
        curves = {
            label: rows.sort_values("trial")
            for label, rows in convergence_frame(frame, titles).groupby("label")
        }
        reached = _reached_by(curves[winner], lost, lower_is_better)
        needed = _reached_by(curves[runner], lost, lower_is_better)
        if reached is not None and needed is not None and reached < needed:
            text += (
                f" In the median, {name[winner]} reached {name[runner]}'s final {_fmt(lost)} by "
                f"trial {reached}; {name[runner]} needed {needed}."
            )
        elif reached is not None and reached == needed:
            text += (
                f" In the median, {name[winner]} and {name[runner]} both reached {_fmt(lost)} by "
                f"trial {needed}; {name[winner]} kept improving."
            )
    others = ranked[2:]
    if others:
        rest = ", ".join(f"{name[label]} {_fmt(medians[label])}" for label in others)
        text += f" Others (median): {rest}."
    return text


def time_title(time_bands: pd.DataFrame, measure: str, lower_is_better: bool) -> list[str]:
    """The wall-clock chart's title lines, read off its own lines: which strategy's median
    first reached the level every strategy reached (the worst final median), and when; and,
    when another ended lower, a second line saying when that one reached its final median."""
    if time_bands.empty:
        return ["Best so far by wall-clock time"]
    curves = {
        str(rows["strategy"].iloc[0]): rows.sort_values("seconds")
        for _, rows in time_bands.groupby("label")
    }
    finals = {title: float(curve["median"].iloc[-1]) for title, curve in curves.items()}
    worst = max if lower_is_better else min
    target = worst(finals.values())

    def first_at(title: str, level: float) -> float:
        curve = curves[title]
        hit = curve["median"] <= level if lower_is_better else curve["median"] >= level
        return float(curve.loc[hit, "seconds"].iloc[0])

    when = {title: first_at(title, target) for title in curves}
    first = min(when, key=when.__getitem__)
    text = (
        f"By wall-clock time, {first} reached {measure} {_fmt(target)} first ({when[first]:.2g} s"
    )
    others = sorted((t for t in when if t != first), key=when.__getitem__)
    text += f"; {others[0]} {when[others[0]]:.2g} s)" if others else ")"
    best = (min if lower_is_better else max)(finals, key=finals.__getitem__)
    if best != first and finals[best] != finals[first]:
        at = first_at(best, finals[best])
        return [text, f"{best} ended best: {measure} {_fmt(finals[best])}, reached at {at:.2g} s"]
    return [text]
