"""``explain``: why a Bayesian study proposed a trial (its surrogate and acquisition then), in
two sentences or as JSON."""

from __future__ import annotations

import argparse
import json

from tuning_core.cli.store_args import storage_path
from tuning_core.engine.explain import explain as explain_trial
from tuning_core.engine.storage import Store


def command_explain(args: argparse.Namespace) -> int:
    dims = [d.strip() for d in args.dims.split(",")] if args.dims else None
    with Store(storage_path(args), create=False) as store:
        result = explain_trial(store, args.name, args.trial, dims)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    chosen = ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in result.chosen.items()
    )
    if result.initial:
        print(
            f"trial {result.trial} was an initial random point ({chosen}): the search drew it "
            "at random, before fitting any model."
        )
        return 0
    told = len(result.observed)
    print(
        f"trial {result.trial} ({chosen}) maximised the {result.acquisition} acquisition of a "
        f"{result.surrogate} surrogate fitted on {told} trials"
        + (f" (gp_hedge chose {result.acquisition})" if result.acq_func == "gp_hedge" else "")
        + (" and replaced a repeat of a tried point" if result.replaced else "")
        + "."
    )
    spread = 2 * (result.chosen_std or 0.0)
    grid_best = max(result.acquisition_values)
    print(
        f"the surrogate predicted {result.metric} {result.chosen_mean:.4g} ± {spread:.3g} (2σ) "
        f"there; acquisition {result.acquisition_at_chosen:.4g} (the best on the "
        f"{'×'.join(result.dims)} grid: {grid_best:.4g})."
    )
    return 0
