"""The Live page's trial table: newest first, a trial's error and note in one flag (epochs
counted from 1), the epochs it trained and its Hyperband bracket, shown a page at a time.
Pure; no Streamlit."""

from __future__ import annotations

import math

import pandas as pd

from tuning_core.engine.epoch_text import epochs_from_one
from tuning_core.engine.pruners import bracket_of
from tuning_core.engine.spec import StudySpec


def hyperband_brackets(spec: StudySpec, trials: pd.DataFrame) -> pd.Series | None:
    """Each trial's Hyperband bracket, counted from 1 (None without Hyperband): by its place
    among the trials, as the pruner assigns it (a retried trial keeps its original's bracket in
    the pruner; here it is placed by its own number)."""
    if spec.pruner.type != "hyperband" or trials.empty:
        return None
    order = sorted(int(n) for n in trials["number"])
    return pd.Series(
        {n: bracket_of(spec.pruner, position) + 1 for position, n in enumerate(order)},
        name=BRACKET,
    )


def trial_table(
    trials: pd.DataFrame, epochs: pd.Series | None = None, brackets: pd.Series | None = None
) -> pd.DataFrame:
    """The trial table as shown: newest first, error and note merged into one column (epochs
    counted from 1), and with ``epochs`` (whole epochs recorded per trial number, from
    :func:`frames.epochs_by_trial`) an "epochs trained" column, where a pruned trial stopped;
    with ``brackets`` (:func:`hyperband_brackets`) a "bracket" column beside it.
    """
    table = trials.copy()
    # Errors count epochs from 0 as stored ("diverged at epoch 0"); notes are written for
    # people and already count from 1 ("pruned at epoch 3: ..."), so only errors are shifted.
    table["flag"] = (
        table["error"].fillna("").map(epochs_from_one) + " " + table["note"].fillna("")
    ).str.strip()
    table = table.drop(columns=["error", "note"])
    ordered = ["number", "state", "value", "flag"]
    if epochs is not None:
        table[EPOCHS_TRAINED] = table["number"].map(epochs).fillna(0).astype(int)
        ordered.insert(2, EPOCHS_TRAINED)
    if brackets is not None:
        table[BRACKET] = table["number"].map(brackets).astype("Int64")
        ordered.insert(2, BRACKET)
    # The flag right after the state: at the far right it was cut off at 1366 px.
    table = table[ordered + [c for c in table.columns if c not in ordered]]
    return table.sort_values("number", ascending=False).reset_index(drop=True)


# The trial table shows this many rows at a time: 10,000 rows took ~0.5 s to send each rerun.
TABLE_PAGE_SIZE = 100


def table_pages(count: int, size: int = TABLE_PAGE_SIZE) -> int:
    """How many pages the trial table has for ``count`` trials (at least one)."""
    return max(1, math.ceil(count / size))


def table_page(trials: pd.DataFrame, page: int, size: int = TABLE_PAGE_SIZE) -> pd.DataFrame:
    """Page ``page`` (from 1) of the trials, newest first, as :func:`trial_table` orders them;
    a page past the last is the last."""
    page = min(max(1, page), table_pages(len(trials), size))
    newest = trials.sort_values("number", ascending=False)
    return newest.iloc[(page - 1) * size : page * size]


def table_page_caption(count: int, page: int, size: int = TABLE_PAGE_SIZE) -> str:
    """The caption of a paged table ("Trials 101-200 of 10,000, newest first."); empty on one
    page."""
    if count <= size:
        return ""
    page = min(max(1, page), table_pages(count, size))
    first, last = (page - 1) * size + 1, min(page * size, count)
    return f"Trials {first:,}-{last:,} of {count:,}, newest first."


EPOCHS_TRAINED = "epochs trained"
BRACKET = "bracket"
# The flag holds a pruned trial's whole reason: given room (taken from the short columns), it
# reads to its end at 1366 px.
FLAG_WIDTH_PX = 820
NARROW_COLUMNS = ("number", "state", "value", EPOCHS_TRAINED, BRACKET)


def table_column_config() -> dict[str, dict[str, object]]:
    """How the trial table's columns show (st.dataframe's ``column_config``, as plain dicts):
    the flag gets the room, the short columns are narrow, and "epochs trained" is headed
    "epochs", which fits a narrow column at 1366 px ("epochs trai" did not); its help says the
    rest. The table's own CSV download (its toolbar) keeps the column's full name."""
    config: dict[str, dict[str, object]] = {name: {"width": "small"} for name in NARROW_COLUMNS}
    config["flag"] = {"width": FLAG_WIDTH_PX}
    config[EPOCHS_TRAINED] = {
        "width": "small",
        "label": "epochs",
        "help": "Epochs trained: where a pruned trial stopped.",
    }
    return config
