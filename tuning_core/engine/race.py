"""Strategy races: one objective, space and trial budget, searched by several strategies with
K seeds each, stored as a group of ordinary studies.

A race spec (JSON) names the objective, the space, the budget, the seeds and the strategies;
:func:`parse_race_spec` validates it into one :class:`StudySpec` per member study, named
``<race>.<strategy label>.s<seed>``. Grid search is deterministic, so it runs once (seed
``first_seed``), not K times. :func:`run_race` runs the members one after another through
:func:`~tuning_core.engine.study.run_study`; run again after a kill, it skips finished members
and resumes the interrupted one as ``run`` does. A race's rows (tables ``races`` and
``race_studies``, made when the first race opens) are read and written through the store's
race methods; this module gives them meaning.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objectives import Objective
from tuning_core.engine.pruners import pruner_class
from tuning_core.engine.records import process_alive
from tuning_core.engine.spec import NAME_PATTERN, StudySpec, json_from_file, parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.store_protocol import StudyStore
from tuning_core.engine.study import StudyRun, run_study

RACE_FIELDS = (
    "name",
    "objective",
    "space",
    "budget",
    "seeds",
    "first_seed",
    "strategies",
    "parallel",
)
STRATEGY_KEYS = {"type", "label", "levels", "surrogate", "acquisition", "initial_points", "pruner"}
MAX_RACE_NAME = 40
MAX_SEEDS = 50
MAX_STRATEGIES = 10
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{0,15}$")


@dataclass(frozen=True)
class RaceMember:
    """One study of a race: its strategy's label and title, its seed and its full spec."""

    label: str
    title: str
    seed: int
    spec: StudySpec


@dataclass(frozen=True)
class RaceSpec:
    name: str
    raw: dict[str, Any]  # the document as given, for the store and for resuming
    members: tuple[RaceMember, ...]

    @property
    def objective(self) -> dict[str, Any]:
        return self.members[0].spec.objective

    @property
    def parallel(self) -> int:
        """Trials each study runs at once (every member has the race's ``parallel``)."""
        return self.members[0].spec.parallel

    def labels(self) -> list[str]:
        return list(dict.fromkeys(member.label for member in self.members))

    def titles(self) -> dict[str, str]:
        return {member.label: member.title for member in self.members}


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def strategy_label(entry: dict[str, Any]) -> str:
    """``grid``, ``random``, ``gp-ei``… with ``-median``, ``-sh`` or ``-hyperband`` for a pruner."""
    kind = entry["type"]
    label = (
        f"{entry['surrogate']}-{entry['acquisition']}".lower().replace("_", "")
        if kind == "bayesian"
        else kind
    )
    short = pruner_class((entry.get("pruner") or {}).get("type", "none")).short
    return f"{label}-{short}" if short else label


def strategy_title(entry: dict[str, Any]) -> str:
    """What a page and the verdict call a strategy: "Bayesian (GP, EI)", "Random + Hyperband"."""
    kind = entry["type"]
    title = (
        f"Bayesian ({entry['surrogate']}, {entry['acquisition']})"
        if kind == "bayesian"
        else kind.capitalize()
    )
    words = pruner_class((entry.get("pruner") or {}).get("type", "none")).in_title
    return f"{title} + {words}" if words else title


def _grid_levels(space_raw: Any, trials: int) -> int:
    """Levels whose grid fills the budget at most: floor((trials / choice combinations) **
    (1 / numeric dimensions)), since a grid enumerates every value of every choice."""
    tuned = [v for v in (space_raw or {}).values() if isinstance(v, dict)]
    numeric = [v for v in tuned if v.get("type") != "choice"]
    if not numeric:
        return 3
    choices = [v for v in tuned if v.get("type") == "choice"]
    combinations = math.prod(len(v.get("values") or [1]) for v in choices)
    per_combination = max(1.0, trials / combinations)
    return max(1, min(100, int(math.floor(per_combination ** (1 / len(numeric)) + 1e-9))))


def _member_error(error: SpecError, index: int) -> SpecError:
    """A member spec's sentence, pointed at the race's ``strategies[i]`` where it is its own."""
    text = str(error)
    for prefix in ("strategy.", "pruner"):
        if text.startswith(prefix):
            rest = text.removeprefix("strategy.")
            return SpecError(f"strategies[{index}].{rest}")
    return error


def parse_race_spec(raw: Any) -> RaceSpec:
    """Validate a race document; every problem raises :class:`SpecError` naming the field."""
    _expect(
        isinstance(raw, dict),
        "The race spec must be a JSON object with name, objective, space, budget, seeds and "
        "strategies.",
    )
    unknown = sorted(set(raw) - set(RACE_FIELDS))
    _expect(
        not unknown,
        f"{unknown[0] if unknown else ''} is not a race spec field; use {', '.join(RACE_FIELDS)}.",
    )
    name = raw.get("name")
    _expect(
        isinstance(name, str)
        and bool(NAME_PATTERN.fullmatch(name))
        and len(name) <= MAX_RACE_NAME
        and "." not in name,
        f"name must be 1 to {MAX_RACE_NAME} letters, digits, dashes or underscores (no dots: "
        f"they separate the race's study names), not {brief(name)}.",
    )
    seeds = raw.get("seeds", 3)
    _expect(
        isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= MAX_SEEDS,
        f"seeds must be a whole number of seeds per strategy from 1 to {MAX_SEEDS}, not "
        f"{brief(seeds)}.",
    )
    first_seed = raw.get("first_seed", 0)
    _expect(
        isinstance(first_seed, int)
        and not isinstance(first_seed, bool)
        and 0 <= first_seed <= 2**32 - 1 - seeds,
        f"first_seed must be a whole number from 0 to {2**32 - 1 - seeds:,}, not "
        f"{brief(first_seed)}.",
    )
    strategies = raw.get("strategies")
    _expect(
        isinstance(strategies, list) and 2 <= len(strategies) <= MAX_STRATEGIES,
        f"strategies must be a list of 2 to {MAX_STRATEGIES} strategies to race, not "
        f"{brief(strategies)}.",
    )
    budget = raw.get("budget", {"trials": 20})
    trials = budget.get("trials", 20) if isinstance(budget, dict) else 20
    members: list[RaceMember] = []
    labels: list[str] = []
    for index, entry in enumerate(strategies):
        where = f"strategies[{index}]"
        _expect(
            isinstance(entry, dict),
            f"{where} must be an object with a type of grid, random or bayesian, not "
            f"{brief(entry)}.",
        )
        extra = sorted(set(entry) - STRATEGY_KEYS)
        _expect(
            not extra,
            f"{where}.{extra[0] if extra else ''} is not a race strategy key; use "
            f"{', '.join(sorted(STRATEGY_KEYS))} (seeds come from the race's seeds).",
        )
        strategy = {k: v for k, v in entry.items() if k not in ("label", "pruner")}
        if strategy.get("type") == "grid" and "levels" not in strategy and isinstance(trials, int):
            strategy["levels"] = _grid_levels(raw.get("space"), trials)
        if (
            strategy.get("type") == "bayesian"
            and "initial_points" not in strategy
            and isinstance(trials, int)
        ):
            # The study default (10) would leave a short race nothing but random points.
            strategy["initial_points"] = min(10, max(2, trials // 3))
        member_seeds = [first_seed] if strategy.get("type") == "grid" else range(seeds)
        for offset in member_seeds:
            seed = first_seed + offset if strategy.get("type") != "grid" else first_seed
            document = {
                "name": "placeholder",
                "objective": raw.get("objective"),
                "space": raw.get("space"),
                "strategy": {**strategy, "seed": seed},
                "budget": budget,
                "pruner": entry.get("pruner"),
                "parallel": raw.get("parallel", 1),
            }
            try:
                spec = parse_spec(document)
            except SpecError as error:
                raise _member_error(error, index) from None
            described = {**spec.strategy, "pruner": spec.pruner}
            label = entry.get("label", strategy_label(described))
            _expect(
                isinstance(label, str) and bool(LABEL_PATTERN.fullmatch(label)),
                f"{where}.label must be 1 to 16 lower-case letters, digits or dashes, not "
                f"{brief(label)}.",
            )
            if offset == member_seeds[0]:
                _expect(
                    label not in labels,
                    f"{where} races as {label!r} like an earlier strategy; give it another "
                    "label or drop it.",
                )
                labels.append(label)
            study_name = f"{name}.{label}.s{seed}"
            _expect(
                len(study_name) <= 64,
                f"name: the study name {study_name!r} would pass 64 characters; shorten the "
                "race name.",
            )
            members.append(
                RaceMember(
                    label,
                    # A label the user gave is shown: two strategies may share a title
                    # (GP-EI with 2 and with 10 initial points) and must stay apart.
                    f"{strategy_title(described)} [{label}]"
                    if "label" in entry
                    else strategy_title(described),
                    seed,
                    parse_spec({**document, "name": study_name}),
                )
            )
    return RaceSpec(name, raw, tuple(members))


def load_race_spec(path: str | Path) -> RaceSpec:
    """Read and validate a race spec file; a file that cannot be one gets one sentence."""
    return parse_race_spec(json_from_file(path, "race spec"))


# The store's race tables ------------------------------------------------------------------


@dataclass(frozen=True)
class RaceRecord:
    id: int
    name: str
    spec: RaceSpec
    status: StudyStatus
    stop_requested: bool
    worker_pid: int | None
    message: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RaceStudy:
    """A member study as the race lists it (the study row may not exist yet)."""

    position: int
    study_name: str
    label: str
    seed: int


def _race(row: Any) -> RaceRecord:
    return RaceRecord(
        id=row["id"],
        name=row["name"],
        spec=parse_race_spec(json.loads(row["spec"])),
        status=StudyStatus(row["status"]),
        stop_requested=bool(row["stop_requested"]),
        worker_pid=row["worker_pid"],
        message=row["message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get_race(store: StudyStore, name: str) -> RaceRecord | None:
    row = store.race_row(name)
    return None if row is None else _race(row)


def races(store: StudyStore) -> list[RaceRecord]:
    return [_race(row) for row in store.race_rows()]


def race_studies(store: StudyStore, race_id: int) -> list[RaceStudy]:
    return [RaceStudy(*member) for member in store.race_members(race_id)]


def request_race_stop(store: StudyStore, name: str) -> bool:
    """Ask a race's worker to stop: the race stops starting studies, and the study it runs
    stops as ``stop`` stops any study. False when there is no such race."""
    race = get_race(store, name)
    if race is None:
        return False
    with store.transaction():
        store.set_race_stop(race.id, True)
        for member in race_studies(store, race.id):
            study = store.get_study(member.study_name)
            if study is not None and study.status == StudyStatus.RUNNING:
                store.request_stop(member.study_name)
    return True


def open_race(store: StudyStore, race: RaceSpec) -> int:
    """Create the race and list every member study, or find the same race to resume it."""
    store.ensure_race_tables()
    with store.transaction():
        existing = get_race(store, race.name)
        if existing is not None:
            if existing.spec.raw != race.raw:
                raise SpecError(
                    f"name: a race called {race.name!r} already exists with another spec; choose "
                    "another name, or run the same spec to resume it."
                )
            if (
                existing.status == StudyStatus.RUNNING
                and existing.worker_pid != os.getpid()
                and (process_alive(existing.worker_pid))
            ):
                raise SpecError(
                    f"name: the race {race.name!r} is already running (process "
                    f"{existing.worker_pid}); stop it first."
                )
            race_id = existing.id
        else:
            members = [(m.spec.name, m.label, m.seed) for m in race.members]
            race_id = store.create_race(race.name, json.dumps(race.raw), members)
        # A new run of a stopped race clears its stop; a worker recycling itself (exec keeps
        # its pid) must not, or a stop sent while it restarted would be lost.
        if existing is None or existing.worker_pid != os.getpid():
            store.set_race_stop(race_id, False)
        store.set_race_status(race_id, StudyStatus.RUNNING, os.getpid(), "running")
    return race_id


@dataclass
class RaceRun:
    race_id: int
    status: StudyStatus
    message: str
    recycle: bool = False


def run_race(
    race: RaceSpec,
    store: Store,
    objective_for: Callable[[StudySpec], Objective],
    log: Callable[[str], None] = print,
    max_trials_this_process: int | None = None,
    run_on_dask: Callable[[StudySpec], StudyRun] | None = None,
) -> RaceRun:
    """Run the race's studies one after another, skipping the finished ones.

    With ``max_trials_this_process`` the call returns ``recycle=True`` once a study asks for a
    fresh process (Keras leaks memory per fit); the caller starts one, which resumes the race.
    With ``run_on_dask`` (the caller's ``parallel.run_parallel_study`` on one client for the
    whole race) each study runs its ``parallel`` trials at once there instead.
    """
    race_id = open_race(store, race)
    try:
        left = max_trials_this_process
        for index, member in enumerate(race.members, start=1):
            study = store.get_study(member.spec.name)
            if study is not None and study.status == StudyStatus.FINISHED:
                continue
            if store.race_stop_requested(race_id):
                store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
                return RaceRun(race_id, StudyStatus.STOPPED, "stopped on request")
            log(f"race {race.name}: study {index}/{len(race.members)} {member.spec.name}")
            if run_on_dask is not None:
                outcome = run_on_dask(member.spec)
                if outcome.status == StudyStatus.STOPPED:
                    store.set_race_status(race_id, StudyStatus.STOPPED, None, outcome.message)
                    return RaceRun(race_id, StudyStatus.STOPPED, "stopped on request")
                continue
            outcome = run_study(
                member.spec,
                store,
                objective_for(member.spec),
                log=log,
                max_trials_this_process=left,
                stop_also_when=lambda: store.race_stop_requested(race_id),
            )
            if outcome.recycle:
                return RaceRun(race_id, StudyStatus.RUNNING, "recycling", recycle=True)
            if left is not None:
                left = max(1, left - outcome.trials_run)
            if outcome.status == StudyStatus.STOPPED:
                store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
                return RaceRun(race_id, StudyStatus.STOPPED, "stopped on request")
        message = f"all {len(race.members)} studies finished"
        store.set_race_status(race_id, StudyStatus.FINISHED, None, message)
        return RaceRun(race_id, StudyStatus.FINISHED, message)
    except BaseException as error:
        status = StudyStatus.STOPPED if isinstance(error, KeyboardInterrupt) else StudyStatus.FAILED
        store.set_race_status(race_id, status, None, str(error) or type(error).__name__)
        raise


def race_running(race: RaceRecord) -> bool:
    return race.status == StudyStatus.RUNNING and process_alive(race.worker_pid)


# What the views read: plain rows, no pandas ----------------------------------------------


@dataclass(frozen=True)
class RaceTrialRow:
    """One finished trial of a member study, for the race views."""

    study: str
    label: str
    seed: int
    trial: int  # 1-based count of trials that used the budget, in the order they finished
    value: float | None  # None for a trial that gave no value (failed, diverged)
    state: str
    elapsed_s: float  # wall seconds since the study began, counting from trial ends


# A gap this much longer than the trial itself is a stop and a resume, not search time.
RESUME_GAP_S = 60.0


def race_trial_rows(store: StudyStore, race_id: int) -> list[RaceTrialRow]:
    """Every finished trial of every member study, with its wall time since the study began.

    Elapsed time adds up the time between successive trial ends (so it includes the time the
    strategy took to propose each trial), except across a stop and resume, where only the
    trial's own duration counts.
    """
    rows: list[RaceTrialRow] = []
    for member in race_studies(store, race_id):
        study = store.get_study(member.study_name)
        if study is None:
            continue
        done: list[TrialRecord] = [
            t
            for t in store.trials(study.id)
            if t.state.counts_against_budget() and t.finished_at is not None
        ]
        done.sort(key=lambda t: t.finished_at or 0.0)
        elapsed, previous_end = 0.0, None
        for count, trial in enumerate(done, start=1):
            duration = trial.duration_s or 0.0
            step = duration if previous_end is None else trial.finished_at - previous_end
            if step > duration + RESUME_GAP_S or step < 0:
                step = duration
            elapsed += step
            previous_end = trial.finished_at
            value = trial.value if trial.state == TrialState.COMPLETE else None
            rows.append(
                RaceTrialRow(
                    member.study_name,
                    member.label,
                    member.seed,
                    count,
                    value,
                    trial.state.value,
                    elapsed,
                )
            )
    return rows


def member_statuses(store: StudyStore, race_id: int) -> list[tuple[RaceStudy, str, int, int]]:
    """(member, status, trials done, budget) for every member, "waiting" before it starts."""
    found = []
    for member in race_studies(store, race_id):
        study = store.get_study(member.study_name)
        if study is None:
            found.append((member, "waiting", 0, 0))
            continue
        done = sum(t.state.counts_against_budget() for t in store.trials(study.id))
        found.append((member, study.status.value, done, int(study.spec.budget["trials"])))
    return found
