"""New study's step before a spec that runs the user's own code (objective type ``python``):
which file it would import, in words, so that nothing runs before the user has seen the file
and agreed.

A spec file can name any ``module:function``; an uploaded spec or a preset link is text from
anywhere, so the page resolves the module to a file the way the worker's import would (without
running it) and shows that path before Start can be pressed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuning_core.engine.errors import brief
from tuning_core.engine.user_objectives import module_file

FOLDER_FIELD = "Folder of your code"


@dataclass(frozen=True)
class UserCode:
    """What a python objective's spec would run: its target, the file found for its module
    (None when none is), the folder put on the import path, and the one sentence that stops
    it (None when it may start)."""

    target: str
    form: str
    file: Path | None
    folder: str | None
    problem: str | None

    def sentence(self) -> str:
        """What Start would do, naming the file."""
        module, _, function = self.target.partition(":")
        call = (
            f"{function}(hp) to build each trial's model"
            if self.form == "build_model"
            else (f"{function}(trial) for each trial")
        )
        return (
            f"Starting this study imports {self.file} (module {module}) and calls {call}, in a "
            "worker process with your permissions: that runs the file's code, so start it only "
            "if you trust that file."
        )


def resolve_user_code(
    raw_spec: dict[str, Any], folder: str, import_path: Callable[[str], Sequence[str]]
) -> UserCode:
    """Find the file ``raw_spec``'s target would import, ``folder`` going on the worker's
    import path; ``import_path(folder)`` is that path, in the worker's order."""
    objective = raw_spec["objective"]
    target, form = objective["target"], objective.get("form", "function")
    where = Path(folder).expanduser()
    if not folder.strip() or not where.is_dir():
        problem = f"{FOLDER_FIELD}: {brief(folder)} is not a folder on this machine."
        return UserCode(target, form, None, None, problem)
    resolved = str(where.resolve())
    found = module_file(target, import_path(resolved))
    if found is None:
        module = target.partition(":")[0]
        problem = (
            f"objective.target {brief(target)}: there is no file for module {module!r} in "
            f"{resolved} or on the worker's Python path; put it in a folder and give that "
            f"folder as {FOLDER_FIELD}."
        )
        return UserCode(target, form, None, resolved, problem)
    return UserCode(target, form, found, resolved, None)


def spec_lines(raw_spec: dict[str, Any]) -> list[str]:
    """The spec in a few plain lines: what the user agrees to run, besides the file."""
    objective, budget = raw_spec["objective"], raw_spec.get("budget", {})
    tuned = [
        name
        for name, value in raw_spec.get("space", {}).items()
        if isinstance(value, dict) and "type" in value
    ]
    strategy = raw_spec.get("strategy", {}).get("type", "random")
    pruner = (raw_spec.get("pruner") or {}).get("type", "none")
    lines = [
        f"Study: {raw_spec['name']}",
        f"Objective: {objective['target']} "
        + ("(a Keras build_model)" if objective.get("form") == "build_model" else "(a function)"),
        f"Tunes: {', '.join(tuned) or 'nothing (every value fixed)'}",
        f"Search: {strategy}, {budget.get('trials', 20)} trials"
        + (f", pruner {pruner}" if pruner != "none" else "")
        + (f", {raw_spec['parallel']} at once" if raw_spec.get("parallel", 1) > 1 else ""),
    ]
    if objective.get("dataset") is not None:
        lines.append(f"Data: {objective['dataset']}")
    return lines
