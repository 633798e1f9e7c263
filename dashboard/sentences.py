"""Engine sentences in the pages' words: a sentence that opens with the CLI option it is about
("--trial: ...", see engine/errors.py) names, on a page, the field as the page labels it."""

from __future__ import annotations

from tuning_core.engine.errors import cli_field

# The CLI option -> what the pages call it (the Why page's slider and picker, the Dask field
# of New study; the dashboard's store is $TUNING_LAB_STORAGE, it has no --storage).
FIELD_WORDS = {
    "storage": "The store (TUNING_LAB_STORAGE)",
    "trial": "Trial",
    "dims": "Hyperparameters to draw",
    "dask": "Dask scheduler address",
}


def in_page_words(sentence: str | BaseException) -> str:
    """``sentence`` (an error's) with its leading CLI option in the page's words; an option
    with no words here is named without its dashes."""
    field, rest = cli_field(str(sentence))
    if field is None:
        return rest
    return FIELD_WORDS.get(field, field.replace("-", " ").capitalize()) + rest
