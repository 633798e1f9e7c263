"""Exports of a study that tuned the user's own objective (``"type": "python"``).

Tuning Lab did not write the model or the training code of such a study, so it never writes
a built-in model's script for it (``keras_script`` refuses). What it can say truthfully is the
best trial's params (:func:`best_params_json`) and how to call the user's own function with
them (:func:`user_script`): a short script that imports the target and calls it.
"""

from __future__ import annotations

import json
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.records import best_trial
from tuning_core.engine.spec_parts import UserFunctionSpec, UserModelSpec
from tuning_core.engine.storage import Store, StudyRecord, TrialRecord


def _best(store: Store, study: StudyRecord) -> TrialRecord:
    best = best_trial(store.trials(study.id), study.spec.direction)
    if best is None:
        raise SpecError(f"name: the study {study.name!r} has no complete trial to export yet.")
    return best


def best_params_json(store: Store, study: StudyRecord) -> str:
    """``{"study", "trial", "metric", "value", "params"}`` of the best complete trial."""
    best = _best(store, study)
    document = {
        "study": study.name,
        "trial": best.number,
        "metric": study.spec.metric,
        "value": best.value,
        "params": best.params,
    }
    return json.dumps(document, indent=2) + "\n"


_HEADER = '''"""Best trial {number} of the Tuning Lab study {study!r}: {metric} {value:.6g}.

Written by `python -m tuning_core export {study} --format script`. It calls your own
{what} {target} with the best trial's params.
Run: python {filename}  (from a folder where the module {module} can be imported)
"""

'''

_FUNCTION_BODY = '''

class Trial:
    """What objective(trial) is given, outside a study: the params; reports are printed."""

    number = {number}
    params = BEST_PARAMS

    def report(self, epoch, metrics):
        print(f"epoch {{epoch}}: {{metrics}}")

    def should_prune(self):
        return False


if __name__ == "__main__":
    print("{metric}:", {name}(Trial()))
'''

_BUILD_MODEL_BODY = '''

if __name__ == "__main__":
    model = {name}(BEST_PARAMS)
    model.summary()
    # Train it on your data as the study did:
    # model.fit(x, y, epochs={epochs}, batch_size={batch_size}, {validation})
'''


def user_script(store: Store, study: StudyRecord, filename: str | None = None) -> str:
    """A script that imports the study's target and calls it with the best params.

    A target defined in ``__main__`` (a notebook, or a script run directly) or inside another
    function cannot be imported: the script says so, and keeps the params.
    """
    objective = study.spec.objective
    if not isinstance(objective, (UserFunctionSpec, UserModelSpec)):
        raise SpecError(
            f"name: the study {study.name!r} did not tune a function of yours; use --format "
            "keras-script for a Keras study."
        )
    best = _best(store, study)
    target = objective.target
    module, _, attribute = target.partition(":")
    build_model = isinstance(objective, UserModelSpec)
    importable = module != "__main__" and "<" not in attribute
    # Called as the target names it (module:Class.method calls Class.method); a lambda or a
    # nested function gets the name the script asks the user to paste it under.
    last = attribute.split(".")[-1]
    fallback = "build_model" if build_model else "objective"
    name = attribute if importable else last if last.isidentifier() else fallback
    params: dict[str, Any] = dict(best.params)
    lines = [
        _HEADER.format(
            number=best.number,
            study=study.name,
            metric=study.spec.metric,
            value=best.value,
            what="build_model" if build_model else "objective",
            target=target,
            filename=filename or f"{study.name}_best.py",
            module=module,
        )
    ]
    if importable:
        lines.append(f"from {module} import {attribute.split('.')[0]}\n")
    else:
        lines.append(
            f"# {target} was defined in a notebook, a script run directly or another function,\n"
            f"# so it cannot be imported: paste its definition here as {name}, or move it into a\n"
            "# module and import it.\n"
        )
    lines.append(f"\nBEST_PARAMS = {params!r}\n")
    if isinstance(objective, UserModelSpec):
        split = objective.validation_split
        validation = (
            f"validation_split={split}" if split is not None else "validation_data=(x_val, y_val)"
        )
        lines.append(
            _BUILD_MODEL_BODY.format(
                name=name,
                epochs=int(params.get("epochs", objective.epochs)),
                batch_size=int(params.get("batch_size", objective.batch_size)),
                validation=validation,
            )
        )
    else:
        lines.append(_FUNCTION_BODY.format(number=best.number, metric=study.spec.metric, name=name))
    return "".join(lines)
