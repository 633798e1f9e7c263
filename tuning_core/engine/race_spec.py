"""A strategy race's spec: one objective, space and trial budget, searched by several
strategies with K seeds each.

A race spec (JSON) names the objective, the space, the budget, the seeds and the strategies;
:func:`parse_race_spec` validates it into one :class:`StudySpec` per member study, named
``<race>.<strategy label>.s<seed>``. Grid search is deterministic, so it runs once (seed
``first_seed``), not K times. engine/race.py runs a race and reads its stored rows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.pruners import pruner_class
from tuning_core.engine.spec import NAME_PATTERN, StudySpec, json_from_file, parse_spec
from tuning_core.engine.spec_fields import expect
from tuning_core.engine.spec_parts import ObjectiveSpec

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
    def objective(self) -> ObjectiveSpec:
        return self.members[0].spec.objective

    @property
    def parallel(self) -> int:
        """Trials each study runs at once (every member has the race's ``parallel``)."""
        return self.members[0].spec.parallel

    def labels(self) -> list[str]:
        return list(dict.fromkeys(member.label for member in self.members))

    def titles(self) -> dict[str, str]:
        return {member.label: member.title for member in self.members}


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
    expect(
        isinstance(raw, dict),
        "The race spec must be a JSON object with name, objective, space, budget, seeds and "
        "strategies.",
    )
    unknown = sorted(set(raw) - set(RACE_FIELDS))
    expect(
        not unknown,
        f"{unknown[0] if unknown else ''} is not a race spec field; use {', '.join(RACE_FIELDS)}.",
    )
    name = raw.get("name")
    expect(
        isinstance(name, str)
        and bool(NAME_PATTERN.fullmatch(name))
        and len(name) <= MAX_RACE_NAME
        and "." not in name,
        f"name must be 1 to {MAX_RACE_NAME} letters, digits, dashes or underscores (no dots: "
        f"they separate the race's study names), not {brief(name)}.",
    )
    seeds = raw.get("seeds", 3)
    expect(
        isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= MAX_SEEDS,
        f"seeds must be a whole number of seeds per strategy from 1 to {MAX_SEEDS}, not "
        f"{brief(seeds)}.",
    )
    first_seed = raw.get("first_seed", 0)
    expect(
        isinstance(first_seed, int)
        and not isinstance(first_seed, bool)
        and 0 <= first_seed <= 2**32 - 1 - seeds,
        f"first_seed must be a whole number from 0 to {2**32 - 1 - seeds:,}, not "
        f"{brief(first_seed)}.",
    )
    strategies = raw.get("strategies")
    expect(
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
        expect(
            isinstance(entry, dict),
            f"{where} must be an object with a type of grid, random or bayesian, not "
            f"{brief(entry)}.",
        )
        extra = sorted(set(entry) - STRATEGY_KEYS)
        expect(
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
            expect(
                isinstance(label, str) and bool(LABEL_PATTERN.fullmatch(label)),
                f"{where}.label must be 1 to 16 lower-case letters, digits or dashes, not "
                f"{brief(label)}.",
            )
            if offset == member_seeds[0]:
                expect(
                    label not in labels,
                    f"{where} races as {label!r} like an earlier strategy; give it another "
                    "label or drop it.",
                )
                labels.append(label)
            study_name = f"{name}.{label}.s{seed}"
            expect(
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
