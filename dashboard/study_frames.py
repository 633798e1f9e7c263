"""A study's cached frames: its trials and curves, pruning, audit, running losses and partial
dependence, each read through the run's :class:`~dashboard.read_model.ReadModel`.

Reads go through ``st.cache_data`` keyed on the study's fingerprint, so a rerun of an idle
study costs one small query; finished trials' curves are read once, since they never change.
(The Live page reads its curves incrementally instead: see live_rows.py.) Each cached
function takes the read model as ``_reads``, which Streamlit does not hash: the store path,
the study's name and its fingerprint are the key, and the read model is asked on a miss only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.read_model import AuditReport, ReadModel, StudyRecord
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import TrialState
from tuning_core.reports import frames
from tuning_core.views import pruning_marks


@st.cache_data(max_entries=32, show_spinner=False)
def _finished_curves(
    path: str, study_id: int, finished_count: int, trials: pd.DataFrame, _reads: ReadModel
) -> pd.DataFrame:
    """Curves of finished trials: they never change, so one read per newly finished trial.

    Diverged trials also bring their in-epoch losses, the only trace of a run that blew up in
    its first epoch.
    """
    diverged = (
        trials.loc[trials["state"] == TrialState.DIVERGED.value, "number"] if len(trials) else []
    )
    batch_rows = [
        (int(number), progress, loss)
        for number in diverged
        for progress, loss in _reads.batch_losses(study_id, int(number))
    ]
    return frames.curves_frame(_reads.epoch_metrics(study_id, finished=True), trials, batch_rows)


@st.cache_data(max_entries=32, show_spinner=False)
def _frames(
    path: str, name: str, fingerprint: tuple[Any, ...], _reads: ReadModel
) -> tuple[pd.DataFrame, pd.DataFrame]:
    study = _reads.study(name)
    # Running trials' rows first, then the trials: a trial that finishes in between is then
    # read twice (deduplicated below) rather than missed, which made the epoch count dip.
    live_rows = _reads.epoch_metrics(study.id, finished=False)
    records = _reads.trials(study.id, with_values=study.spec.multi_metric)
    trials = frames.trials_frame(records, study.spec, with_metrics=True)
    finished = trials[trials["state"] != TrialState.RUNNING] if not trials.empty else trials
    done = _finished_curves(path, study.id, len(finished), finished, _reads)
    running = frames.curves_frame(live_rows, trials)
    if not len(running):
        return trials, done
    curves = pd.concat([done, running], ignore_index=True)
    return trials, curves.drop_duplicates(["number", "epoch", "metric"], keep="first")


def study_frames(
    reads: ReadModel, name: str
) -> tuple[StudyRecord | None, pd.DataFrame, pd.DataFrame, tuple[Any, ...]]:
    """(study, trials, curves, fingerprint); the DataFrames are cached until the study changes."""
    study = reads.study(name)
    if study is None:
        return None, pd.DataFrame(), pd.DataFrame(), ()
    fingerprint = reads.fingerprint(study.id)
    trials, curves = _frames(reads.path, name, fingerprint, reads)
    return study, trials, curves, fingerprint


@st.cache_data(max_entries=32, show_spinner=False)
def _pruning(
    path: str, name: str, fingerprint: tuple[Any, ...], _reads: ReadModel
) -> tuple[pd.DataFrame, pd.DataFrame]:
    study = _reads.study(name)
    decisions = _reads.prune_decisions(study.id)
    _, curves = _frames(path, name, fingerprint, _reads)  # cached under the same fingerprint
    return (
        frames.pruning_frame(decisions, study.spec.metric),
        frames.pruning_guides(study.spec, curves),
    )


@dataclass(frozen=True)
class Pruning:
    """A pruned study's extra frames: why each pruned trial stopped, and the rungs or median
    it was measured against (see :func:`frames.pruning_frame`, :func:`frames.pruning_guides`).
    """

    pruned: pd.DataFrame
    guides: pd.DataFrame


def pruning_frames(
    reads: ReadModel, study: StudyRecord, fingerprint: tuple[Any, ...]
) -> Pruning | None:
    """The study's pruning frames, cached until it changes; None when it has no pruner."""
    if not frames.has_pruner(study.spec):
        return None
    pruned, guides = _pruning(reads.path, study.name, fingerprint, reads)
    return Pruning(pruned, guides)


@st.cache_data(max_entries=16, show_spinner=False)
def _audit_report(
    path: str, name: str, fingerprints: tuple[tuple[Any, ...], ...], _reads: ReadModel
) -> AuditReport | None:
    return _reads.audit_report(name)


@dataclass(frozen=True)
class Audit:
    """A pruned study's audit (engine/audit.py): the report, and its full runs' curves as
    :func:`pruning_marks.audited_frame` draws them over the study's cuts."""

    report: AuditReport
    curves: pd.DataFrame


def audit_of(reads: ReadModel, study: StudyRecord, fingerprint: tuple[Any, ...]) -> Audit | None:
    """The study's audit so far, cached until it or its audit study changes; None when it has
    none (``python -m tuning_core audit NAME`` makes one)."""
    if not frames.has_pruner(study.spec):
        return None
    audit = reads.audit_of(study.name)
    if audit is None:
        return None
    audit_fingerprint = reads.fingerprint(audit.id)
    report = _audit_report(reads.path, study.name, (fingerprint, audit_fingerprint), reads)
    if report is None:
        return None
    _, _, curves, _ = study_frames(reads, audit.name)
    return Audit(report, pruning_marks.audited_frame(report, curves))


@st.cache_data(max_entries=16, show_spinner=False)
def _batch_rows(
    path: str, name: str, numbers: tuple[int, ...], fingerprint: tuple[Any, ...], _reads: ReadModel
) -> list[tuple[int, float, float | None]]:
    study = _reads.study(name)
    if study is None:
        return []
    return [
        (number, progress, loss)
        for number in numbers
        for progress, loss in _reads.batch_losses(study.id, number)
    ]


def running_losses(
    reads: ReadModel,
    name: str,
    running: tuple[int, ...],
    curves: pd.DataFrame,
    metric: str,
    fingerprint: tuple[Any, ...],
) -> pd.DataFrame:
    """Every running trial's live loss (:func:`frames.running_losses_frame`): in-epoch training
    losses, or the metric per epoch for trials that write none; cached until the study changes.
    """
    rows = _batch_rows(reads.path, name, running, fingerprint, reads)
    return frames.running_losses_frame(rows, curves, list(running), metric)


@st.cache_data(max_entries=16, show_spinner="Fitting the surrogate…")
def _partial_dependence(
    path: str, name: str, fingerprint: tuple[Any, ...], _spec: StudySpec, trials: pd.DataFrame
) -> pd.DataFrame:
    # The store path, study name and fingerprint identify the spec, so it is not hashed.
    return frames.partial_dependence_frame(_spec, trials)


def partial_dependence(
    reads: ReadModel, study: StudyRecord, fingerprint: tuple[Any, ...], trials: pd.DataFrame
) -> pd.DataFrame:
    """:func:`frames.partial_dependence_frame` of a Bayesian study, fitted once per change."""
    return _partial_dependence(reads.path, study.name, fingerprint, study.spec, trials)
