"""``lr-find``: the LR range test of a Keras spec, its suggested learning rates printed or
written as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tuning_core.cli.preflight import refuse_what_cannot_fit
from tuning_core.engine.errors import SpecError
from tuning_core.engine.spec import load_spec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.training.lr_find import lr_range_test_for_spec
from tuning_core.training.tables import objective_is_table


def command_lr_find(args: argparse.Namespace) -> int:
    if not 0 < args.start < args.end:
        raise SpecError(f"--start ({args.start}) must be positive and below --end ({args.end}).")
    if args.steps < 5:
        raise SpecError(f"--steps must be at least 5, not {args.steps}.")
    spec = load_spec(args.spec)
    if not isinstance(spec.objective, KerasObjectiveSpec):
        raise SpecError(
            f"objective.type must be keras (a built-in model) for an LR range test, not "
            f"{spec.objective.type}."
        )
    if objective_is_table(spec.objective):
        raise SpecError(
            "objective.dataset: lr-find trains on images for now; for a table, tune "
            "learning_rate over a log range with run instead."
        )
    refuse_what_cannot_fit(spec, None)
    result = lr_range_test_for_spec(spec, start=args.start, end=args.end, steps=args.steps)
    if args.output:
        Path(args.output).write_text(json.dumps(result.to_json()), encoding="utf-8")
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"valley:        {result.valley:.3g}")
        print(f"steep:         {result.steep:.3g}")
        print(f"minimum/10:    {result.minimum_div10:.3g}")
        print(f"points: {len(result.learning_rates)}, stopped: {result.stop_reason}")
    return 0
