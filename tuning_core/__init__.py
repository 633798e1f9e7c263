"""Tuning Lab: tune your own function or Keras model, and watch it live in the dashboard.

    import tuning_core
    study = tuning_core.create_study("my-study", space={"lr": {"type": "float", ...}})
    study.optimize(objective)

The public names load on first use (see tuning_core/api/), so ``import tuning_core`` stays
light: no TensorFlow, no pandas, no scikit-optimize until a study is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuning_core.api import (
        ObjectiveError,
        Study,
        Trial,
        TrialPruned,
        create_study,
        load_study,
    )

__all__ = ["ObjectiveError", "Study", "Trial", "TrialPruned", "create_study", "load_study"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tuning_core import api  # noqa: PLC0415 - loaded on first use, as the docstring says

        return getattr(api, name)
    raise AttributeError(f"module 'tuning_core' has no attribute {name!r}")
