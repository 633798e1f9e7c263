"""Epochs in text shown to people, counted from 1: a module with no dependencies, so the CLI's
lines (engine/study/progress.py) and the pages' tables (views/live_table.py) share it without
the views loading the study loop."""

from __future__ import annotations

import re

_EPOCH_IN_TEXT = re.compile(r"\b(at|in) epoch (\d+)\b")


def epochs_from_one(text: str) -> str:
    """The store counts epochs from 0 ("diverged at epoch 0"); shown text counts them from 1,
    as Keras prints "Epoch 1/10" and the charts' axes do: the CLI's lines, as the pages."""
    return _EPOCH_IN_TEXT.sub(lambda m: f"{m.group(1)} epoch {int(m.group(2)) + 1}", text)
