"""Would it have won? Train some of a pruned study's pruned trials to the end, and say how often
pruning stopped a trial that would have beaten the study's best: the false-prune rate, with a
95% Wilson interval.

Each audited run is a trial of its own in a separate study, ``NAME.audit``, never a change to
``NAME``: finished trials are immutable (a trigger in the store), and a full run added to the
pruned study itself would change what that study is (its best, its budget, the history its
strategy replays on resume). The audit study has the original's objective, space and strategy
(so the same seed), no pruner, and ``parallel`` 1; each of its trials carries the number of the
trial it audits (a retry of an interrupted audit run takes a new number, with ``retry_of`` that
number), so the pages, ``list`` and ``export`` read it as any study, and a chart joins the two
studies on the trial number. The audit study is recognised by its name and its spec (the
original's with no pruner), so a user's own study that happens to be called ``NAME.audit`` is
never mistaken for one.

Keras-free: the caller passes the objective factory (``training.factory.objective_for``), and
the trials run through the study loop's trial runner (:func:`study._run_trial`).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objectives import Objective
from tuning_core.engine.records import best_trial, worker_running
from tuning_core.engine.spec import NAME_PATTERN, StudySpec
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import Store, StudyRecord, TrialRecord
from tuning_core.engine.study import StudyRun, _run_trial, claim_and_run

AUDIT_SUFFIX = ".audit"
CHOICES = ("random", "promising")
# The normal quantile for a two-sided 95% interval.
Z_95 = 1.959963984540054


def audit_name(name: str) -> str:
    """The name of the study that holds ``name``'s audited runs."""
    return f"{name}{AUDIT_SUFFIX}"


def audit_spec(spec: StudySpec) -> StudySpec:
    """The audit study's spec: the pruned study's objective, space and strategy (its seed, so
    a trial trains as it did up to its cut), with no pruner and one trial at a time."""
    return dataclasses.replace(
        spec,
        name=audit_name(spec.name),
        pruner={"type": "none"},  # type: ignore[arg-type]  # parsed by StudySpec
        budget={"trials": 1},  # type: ignore[arg-type]  # set to the audited count when run
        parallel=1,
        dask={},  # type: ignore[arg-type]
    )


def wilson_interval(wins: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``wins`` successes in ``total`` trials (95% by default):
    unlike the normal approximation it stays inside [0, 1] and is not empty at 0 of K."""
    if total <= 0:
        return 0.0, 1.0
    share = wins / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class AuditedTrial:
    """One pruned trial and its run to the end."""

    number: int  # the pruned trial, in the original study
    audit_number: int  # its full run, in the audit study
    cut_epoch: int | None  # epochs it had trained when it was pruned
    cut_value: float | None  # its value then (the best so far)
    state: TrialState  # how the full run ended
    value: float | None  # the full run's value
    beats_best: bool  # whether that value beats the original study's best

    @property
    def counted(self) -> bool:
        """Whether the run answers the question: it finished, or diverged (then it would not
        have won); a run that failed on an error, or was interrupted, says nothing."""
        return self.state in (TrialState.COMPLETE, TrialState.DIVERGED)


@dataclass(frozen=True)
class AuditReport:
    """What the audit of a pruned study found so far, over every audited run."""

    study: str
    audit_study: str
    metric: str
    direction: Direction
    best_number: int  # the original study's best complete trial
    best_value: float
    pruned_trials: int  # how many trials of the original were pruned
    trials: tuple[AuditedTrial, ...]

    @property
    def counted(self) -> list[AuditedTrial]:
        return [trial for trial in self.trials if trial.counted]

    @property
    def wins(self) -> int:
        return sum(trial.beats_best for trial in self.counted)

    @property
    def rate(self) -> float | None:
        """The false-prune rate: the share of audited trials that would have won."""
        counted = len(self.counted)
        return self.wins / counted if counted else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.wins, len(self.counted))

    def trial_sentence(self, trial: AuditedTrial) -> str:
        """One audited trial: where it was cut, where it ended, and whether it would have won."""
        cut = (
            f"pruned at epoch {trial.cut_epoch} at {trial.cut_value:.4g}"
            if trial.cut_epoch is not None and trial.cut_value is not None
            else "pruned"
        )
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            verdict = "would have won" if trial.beats_best else "would not have won"
            ended = f"{self.metric} {trial.value:.4g} in full"
        elif trial.state == TrialState.DIVERGED:
            verdict, ended = "would not have won", "diverged in full"
        else:
            verdict, ended = "not counted", f"{trial.state.value} in full"
        return f"trial {trial.number}: {cut}, {ended}: {verdict}"

    def sentence(self) -> str:
        """The false-prune rate with its 95% interval, and the counts it rests on."""
        counted = len(self.counted)
        best = f"{self.metric} {self.best_value:.4g}, trial {self.best_number}"
        if not counted:
            return (
                f"false-prune rate: no audited run of {self.study} has finished yet "
                f"({len(self.trials)} started), so there is no rate."
            )
        low, high = self.interval
        rate = self.rate or 0.0
        left_out = len(self.trials) - counted
        note = f"; {left_out} failed run(s) left out" if left_out else ""
        return (
            f"false-prune rate: {self.wins} of {counted} audited trials would have beaten the "
            f"study's best ({best}): {rate:.0%}, 95% Wilson interval {low:.0%} to {high:.0%} "
            f"({counted} of the {self.pruned_trials} pruned trials audited{note})."
        )


def audited_number(trial: TrialRecord) -> int:
    """The original trial an audit run audits: its own number, or the one its retry names."""
    return trial.retry_of if trial.retry_of is not None else trial.number


def _audit_record(store: Store, original: StudyRecord) -> StudyRecord | None:
    """The original's audit study, or None (none yet, or a study of that name that is not one)."""
    record = store.get_study(audit_name(original.name))
    if record is None:
        return None
    expected = audit_spec(original.spec).search_identity()
    return record if record.spec.search_identity() == expected else None


def read_audit(store: Store, name: str) -> AuditReport | None:
    """The audit of the pruned study ``name`` so far, or None when it has none (or no best)."""
    original = store.get_study(name)
    if original is None or not original.spec.pruner.enabled:
        return None
    record = _audit_record(store, original)
    best = best_trial(store.trials(original.id), original.spec.direction)
    if record is None or best is None or best.value is None:
        return None
    return _report(store, original, record, best)


def _report(
    store: Store, original: StudyRecord, record: StudyRecord, best: TrialRecord
) -> AuditReport:
    direction = original.spec.direction
    trials = store.trials(original.id)
    cuts = {decision.trial_number: decision for decision in store.prune_decisions(original.id)}
    by_number = {trial.number: trial for trial in trials}
    audited: dict[int, AuditedTrial] = {}
    for run in store.trials(record.id):
        if not run.state.is_finished():
            continue
        number = audited_number(run)
        pruned = by_number.get(number)
        cut = cuts.get(number)
        value = run.value if run.state == TrialState.COMPLETE else None
        result = AuditedTrial(
            number=number,
            audit_number=run.number,
            cut_epoch=None if cut is None else cut.epoch + 1,
            cut_value=pruned.value if pruned is not None else None,
            state=run.state,
            value=value,
            beats_best=value is not None and direction.better(value, best.value),  # type: ignore[arg-type]
        )
        # A later run of the same trial (a retry) replaces an interrupted one.
        if number not in audited or not audited[number].counted:
            audited[number] = result
    return AuditReport(
        study=original.name,
        audit_study=record.name,
        metric=original.spec.metric,
        direction=direction,
        best_number=best.number,
        best_value=float(best.value),  # type: ignore[arg-type]
        pruned_trials=sum(trial.state == TrialState.PRUNED for trial in trials),
        trials=tuple(sorted(audited.values(), key=lambda trial: trial.number)),
    )


def check_audit(store: Store, name: str, sample: int, choose: str = "random") -> StudyRecord:
    """The study to audit, or SpecError in one sentence: no such study, no pruner, no pruned
    trial, no complete trial to compare with, still running, or a bad ``sample``/``choose``."""
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise SpecError(f"--sample must be a whole number of trials, 1 or more, not {sample}.")
    if choose not in CHOICES:
        raise SpecError(f"--choose must be random or promising, not {brief(choose)}.")
    original = store.get_study(name)
    if original is None:
        names = ", ".join(s.name for s in store.studies()) or "none yet"
        raise SpecError(
            f"name: there is no study called {brief(name)} in this store (studies: {names})."
        )
    if not original.spec.pruner.enabled:
        raise SpecError(
            f"name: the study {brief(name)} has no pruner, so no trial was stopped early to "
            "audit; audit a study run with a pruner."
        )
    if worker_running(original):
        raise SpecError(
            f"name: the study {brief(name)} is still running (worker process "
            f"{original.worker_pid}); audit it once it has finished."
        )
    trials = store.trials(original.id)
    if not any(trial.state == TrialState.PRUNED for trial in trials):
        raise SpecError(f"name: the study {brief(name)} has no pruned trial to audit.")
    if best_trial(trials, original.spec.direction) is None:
        raise SpecError(
            f"name: the study {brief(name)} has no complete trial, so there is no best for an "
            "audited trial to beat."
        )
    if not NAME_PATTERN.fullmatch(audit_name(name)):
        raise SpecError(
            f"name: {brief(name)} is too long to name its audit study {brief(audit_name(name))} "
            "(64 characters at most)."
        )
    existing = store.get_study(audit_name(name))
    if existing is not None and _audit_record(store, original) is None:
        raise SpecError(
            f"name: a study called {brief(audit_name(name))} already exists and is not an audit "
            f"of {brief(name)}; rename or delete it first."
        )
    if existing is not None and worker_running(existing):
        raise SpecError(
            f"name: an audit of {brief(name)} is already running (worker process "
            f"{existing.worker_pid}); wait for it, or stop {brief(audit_name(name))}."
        )
    return original


def choose_trials(
    candidates: list[TrialRecord], sample: int, choose: str, seed: int, direction: Direction
) -> list[TrialRecord]:
    """Up to ``sample`` of the pruned ``candidates``: drawn at random (seeded), or the most
    promising, those with the best value at their cut-off first; returned by number."""
    if choose == "promising":
        ranked = sorted(
            candidates,
            key=lambda t: (t.value is None, direction.sign * (t.value or 0.0), t.number),
        )
        chosen = ranked[:sample]
    else:
        ordered = sorted(candidates, key=lambda t: t.number)
        chosen = random.Random(seed).sample(ordered, min(sample, len(ordered)))
    return sorted(chosen, key=lambda t: t.number)


def audit_study(
    store: Store,
    name: str,
    sample: int,
    objective_for: Callable[[StudySpec], Objective],
    choose: str = "random",
    seed: int | None = None,
    log: Callable[[str], None] = print,
) -> AuditReport:
    """Train ``sample`` of the pruned study ``name``'s pruned trials that no audit has run yet
    to the end, each as a new trial of ``NAME.audit`` with the same params and seed and no
    pruner; returns the report over every audited run. ``seed`` (default: the study's) draws
    the random sample. Bad input is SpecError in one sentence, before anything is stored."""
    original = check_audit(store, name, sample, choose)
    spec = audit_spec(original.spec)
    objective = objective_for(spec)  # a target that cannot be imported fails here, in one line
    record = _audit_record(store, original)
    runs = store.trials(record.id) if record is not None else []
    done = {audited_number(run) for run in runs if run.state.counts_against_budget()}
    candidates = [
        trial
        for trial in store.trials(original.id)
        if trial.state == TrialState.PRUNED and trial.number not in done
    ]
    seed = original.spec.seed if seed is None else seed
    chosen = choose_trials(candidates, sample, choose, seed, original.spec.direction)
    pruned = sum(trial.state == TrialState.PRUNED for trial in store.trials(original.id))
    if not chosen:
        log(f"every one of the {pruned} pruned trials of {name} has been audited already")
    else:
        how = "at random" if choose == "random" else "as the most promising"
        epochs = spec.objective.epochs
        log(
            f"audit of {name}: training {len(chosen)} of its {len(candidates)} unaudited pruned "
            f"trials to the end ({epochs} epochs, no pruner), chosen {how}"
            + (f" (seed {seed})" if choose == "random" else "")
            + f", as trials of the study {spec.name}"
        )
        spec = dataclasses.replace(
            spec,
            budget={"trials": len(done) + len(chosen)},  # type: ignore[arg-type]
        )
        claim_and_run(
            spec,
            store,
            lambda study_id: _run_audits(spec, store, study_id, chosen, objective, original, log),
        )
    audit = _audit_record(store, original)
    best = best_trial(store.trials(original.id), original.spec.direction)
    assert audit is not None and best is not None  # checked above, and the audit ran
    return _report(store, original, audit, best)


def _run_audits(
    spec: StudySpec,
    store: Store,
    study_id: int,
    chosen: list[TrialRecord],
    objective: Objective,
    original: StudyRecord,
    log: Callable[[str], None],
) -> StudyRun:
    """The audit study's loop, once this process has claimed it: one full run per chosen trial."""
    # A killed audit left its trial running: it is interrupted, and its trial may be audited again.
    store.interrupt_running_trials(study_id, "the audit stopped before the trial finished")
    runs = store.trials(study_id)
    taken = {run.number for run in runs} | {t.number for t in store.trials(original.id)}
    best = best_trial(store.trials(original.id), original.spec.direction)
    for position, trial in enumerate(chosen, start=1):
        if trial.number in {run.number for run in runs}:
            # An interrupted audit of this trial holds its number: the retry takes a new one.
            number, retry_of = max(taken) + 1, trial.number
        else:
            number, retry_of = trial.number, None
        taken.add(number)
        finished = _run_trial(
            store, study_id, number, dict(trial.params), retry_of, objective, None, spec
        )
        if finished.state == TrialState.INTERRUPTED:
            store.set_status(study_id, StudyStatus.STOPPED, message=finished.error)
            return StudyRun(study_id, StudyStatus.STOPPED, finished.error or "stopped", position)
        shown = f"{finished.value:.6g}" if finished.value is not None else finished.state.value
        verdict = ""
        if best is not None and finished.state == TrialState.COMPLETE:
            wins = original.spec.direction.better(finished.value, best.value)  # type: ignore[arg-type]
            verdict = "  would have won" if wins else "  would not have won"
        cut = f"pruned at {trial.value:.6g}" if trial.value is not None else "pruned"
        log(
            f"trial {trial.number} [{position}/{len(chosen)}] {finished.state.value} in full: "
            f"{spec.metric}={shown} ({cut}; best {best.value:.6g}, trial {best.number})"  # type: ignore[union-attr]
            f"{verdict}  ({finished.duration_s or 0.0:.1f} s)"
            + (f"  error: {finished.error}" if finished.error else "")
        )
    message = f"audited {len(chosen)} pruned trials of {original.name}"
    store.set_status(study_id, StudyStatus.FINISHED, worker_pid=None, message=message)
    return StudyRun(study_id, StudyStatus.FINISHED, message, len(chosen))
