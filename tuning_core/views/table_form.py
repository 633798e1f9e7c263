"""New study's "Your data (CSV)": the upload's bounds, where it is kept, and what the page
shows before a study starts (5 rows, the inferred task, the class balance or the target's
histogram, the columns that would be refused and why). Pure page logic: pandas and Altair,
no Streamlit; the table is read by ``training.tables``, exactly as the worker reads it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from tuning_core.engine.errors import DatasetError, SpecError, brief
from tuning_core.engine.memory import size_words
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.tasks import CLASSIFICATION, MAX_INFERRED_CLASSES, infer_task
from tuning_core.training import tables
from tuning_core.workers import PROJECT_ROOT

# An upload is read whole into the dashboard's memory, so it is bounded well below the
# worker's own limit; a larger table runs from the command line.
MAX_UPLOAD_BYTES = 20_000_000
UPLOAD_FIELD = "Your data (CSV)"
PREVIEW_ROWS = 5


def uploads_dir(storage: str) -> Path:
    """Where uploaded tables are kept, beside the store (as its specs and artifacts are)."""
    return Path(f"{storage}.uploads")


def upload_problem(filename: str, size: int) -> str | None:
    """Why an upload is refused, in one sentence naming the field, or None."""
    if not filename.lower().endswith(".csv"):
        return f"{UPLOAD_FIELD}: {filename!r} is not a .csv file; save the table as CSV."
    if size > MAX_UPLOAD_BYTES:
        return (
            f"{UPLOAD_FIELD}: {filename!r} is {size_words(size)}, over the "
            f"{size_words(MAX_UPLOAD_BYTES)} an upload may be; run it with python -m "
            "tuning_core run, which reads larger files."
        )
    return None


def save_upload(data: bytes, filename: str, storage: str) -> Path:
    """Keep an uploaded CSV under a name of its own (its stem and a hash of its bytes), so the
    spec can name it and a study can be run again on exactly these bytes."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip(".-")[:40] or "table"
    digest = hashlib.sha256(data).hexdigest()[:10]
    folder = uploads_dir(storage)
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / f"{stem}-{digest}.csv").resolve()
    if not path.is_file():
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # never a half-written file under the final name
    return path


@dataclass
class TablePreview:
    """What the page shows about an uploaded table and its chosen target."""

    columns: list[str]
    head: pd.DataFrame
    target: str
    task: str
    task_text: str
    target_values: pd.DataFrame  # classification: class, count; regression: value
    refused: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # why no study can start on it as it is (one sentence)
    summary: str | None = None  # the preparation's summary when it can be fitted


def _head(table: tables.Table) -> pd.DataFrame:
    data = {}
    for column in table.columns:
        values = column.values[:PREVIEW_ROWS].tolist()
        if column.kind == "integer":
            values = [None if v != v else int(v) for v in values]
        elif column.kind == "bool":
            values = [None if v != v else bool(v) for v in values]
        data[column.name] = values
    return pd.DataFrame(data)


def preview(table: tables.Table, target: str, task: str | None = None) -> TablePreview:
    """The preview of ``table`` predicting ``target`` (``task`` to override the inference)."""
    column = table.column(target)
    if column is None:
        raise SpecError(f"{UPLOAD_FIELD}: {target!r} is not a column of the table.")
    distinct = len(set(column.present().tolist()))
    chosen = task or infer_task(column.kind, distinct)
    if chosen == CLASSIFICATION:
        counts = pd.Series(column.present().tolist()).astype(str).value_counts()
        target_values = pd.DataFrame({"class": counts.index, "count": counts.to_numpy()})
        kind = "binary" if distinct == 2 else f"{distinct}-class"
        task_text = f"{kind} classification"
    else:
        target_values = pd.DataFrame({"value": column.present().astype(float)})
        task_text = "regression"
    how = "as chosen" if task else "inferred"
    task_text += (
        f" ({how}: {column.kind} values, {distinct:,} distinct; classes are bool, text or whole "
        f"numbers with at most {MAX_INFERRED_CLASSES} values)"
    )
    result = TablePreview(
        table.names,
        _head(table),
        target,
        chosen,
        task_text,
        target_values,
        tables.column_problems(table, target),
    )
    try:
        result.summary = tables.fit_preparation(table, target, task=task)["summary"]
    except (DatasetError, SpecError) as error:
        result.problem = str(error)
    return result


def target_chart(info: TablePreview) -> alt.Chart:
    """The class balance (bars, most common first) or the target's histogram."""
    if info.task == CLASSIFICATION:
        return (
            alt.Chart(info.target_values, title=f"class balance of {info.target}")
            .mark_bar()
            .encode(
                x=alt.X("count:Q", title="rows"),
                y=alt.Y("class:N", sort="-x", title=info.target),
                tooltip=["class:N", "count:Q"],
            )
            # A band per class: a fixed total height left the bars no room in the browser
            # (Streamlit fits the title and axes into it), as the worker timeline found.
            .properties(height=alt.Step(28))
        )
    return (
        alt.Chart(info.target_values, title=f"histogram of {info.target}")
        .mark_bar()
        .encode(
            x=alt.X("value:Q", bin=alt.Bin(maxbins=30), title=info.target),
            y=alt.Y("count():Q", title="rows"),
        )
        .properties(height=200)
    )


@functools.lru_cache(maxsize=8)
def _checked(
    path: str, stamp: tuple[int, int], objective: tuple[Any, ...], seed: int
) -> str | None:
    """The table problem of one objective (its KerasObjectiveSpec's field values, hashable)
    on one version of a file (cached: the form reruns on every widget change, and reading the
    table each time would lag it)."""
    try:
        table = tables.read_table(path)
        tables.fit_objective_preparation(table, KerasObjectiveSpec(*objective), seed)
    except (DatasetError, SpecError) as error:
        return str(error)
    return None


def readable_here(path: Path, storage: str | None) -> bool:
    """Whether the form may read a table at ``path``: an upload beside the store, or a file
    inside the project's folder. Elsewhere the form says only that it cannot read it, so a
    visitor cannot learn what other files hold from the form's sentences."""
    try:
        resolved = path.expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    roots = [PROJECT_ROOT] + ([uploads_dir(storage).resolve()] if storage else [])
    return resolved.is_file() and any(resolved.is_relative_to(root) for root in roots)


def table_problem(spec: StudySpec, storage: str | None = None) -> str | None:
    """Why the spec's table cannot be trained on, in the sentence `run` would print, or None
    (also for a spec whose objective is not a built-in Keras model, which reads no table)."""
    if not isinstance(spec.objective, KerasObjectiveSpec):
        return None
    dataset = spec.objective.dataset
    path = Path(dataset)
    if not readable_here(path, storage):
        return (
            f"dataset: {brief(dataset)} cannot be read here; upload the CSV "
            "under Your data (CSV), or name a file inside the project's folder."
        )
    stat = path.stat()
    # Without the stored preparation (a dict, and not what fitting reads), every field hashes.
    table = spec.objective.table
    objective = replace(spec.objective, table=table and replace(table, preparation=None))
    return _checked(
        str(path.resolve()),
        (stat.st_mtime_ns, stat.st_size),
        tuple(getattr(objective, part.name) for part in fields(objective)),
        spec.seed,
    )
