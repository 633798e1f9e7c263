"""The API's short forms as the spec's: ``"random"`` for a strategy dict, ``(low, high)`` or
``(low, high, "log")`` for a range, a list for a choice, an int for a trial budget, a metric's
name for its dict. What the store keeps is always the spec's form; anything else is handed to
the spec's parser, which names the field that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tuning_core.engine.errors import SpecError, brief

StrategyOption = str | Mapping[str, Any]


def _typed(value: StrategyOption | None, field: str) -> dict[str, Any] | None:
    """``"random"`` means ``{"type": "random"}``; a dict is taken as the spec writes it."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise SpecError(
        f"{field} must be a type name such as {'random' if field == 'strategy' else 'median'} "
        f"or a dict as a spec file writes it, not {brief(value)}."
    )


def _range(name: str, value: tuple[Any, ...]) -> dict[str, Any]:
    """``(low, high)`` or ``(low, high, "log")`` as the spec's range: int when both bounds
    are ints, else float."""
    bounds = value[:2]
    log = len(value) == 3 and value[2] == "log"
    numbers = all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    if len(value) not in (2, 3) or (len(value) == 3 and not log) or not numbers:
        raise SpecError(
            f'space.{name} must be (low, high) or (low, high, "log") as a tuple, a list of '
            f"choices, a fixed value or a spec range dict, not {brief(value)}."
        )
    whole = all(isinstance(b, int) for b in bounds)
    return {"type": "int" if whole else "float", "low": bounds[0], "high": bounds[1], "log": log}


def _space(space: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's ``space`` from the API's: a spec dict as is, plus two short forms, a tuple
    for a range and a list for a choice (what the store keeps is always the spec's form)."""
    if not isinstance(space, Mapping):
        return space  # parse_spec says what a space must be
    out: dict[str, Any] = {}
    for name, value in space.items():
        if isinstance(value, tuple):
            out[name] = _range(name, value)
        elif isinstance(value, list):
            out[name] = {"type": "choice", "values": value}
        else:
            out[name] = value
    return out


def _budget(value: int | Mapping[str, Any]) -> dict[str, Any]:
    """An int is the trial budget; a dict is the spec's ``budget`` (trials, seconds, epochs)."""
    if isinstance(value, Mapping):
        return dict(value)
    return {"trials": value}


def _metrics(metrics: Sequence[str | Mapping[str, Any]] | None) -> list[Any] | None:
    """The spec's ``metrics`` list from the API's: a name stands for ``{"name": name}`` (its
    natural direction); anything else is handed to the spec's parser, which names what is
    wrong."""
    if metrics is None:
        return None
    if isinstance(metrics, (str, Mapping)) or not isinstance(metrics, Sequence):
        return metrics  # type: ignore[return-value]  # parse_spec says what metrics must be
    return [{"name": item} if isinstance(item, str) else item for item in metrics]
