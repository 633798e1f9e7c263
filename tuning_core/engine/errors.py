"""Errors a user can cause, each carrying one sentence that names the field."""

from __future__ import annotations

import re


class SpecError(ValueError):
    """A study spec, CLI argument or form value is invalid.

    The message is one sentence that names the field and says what would be right; the CLI
    shows it as is, without a traceback. A field that is a CLI option opens the sentence as
    the CLI spells it ("--trial: ..."); a page shows the field in its own words instead
    (:func:`cli_field`, dashboard/sentences.py), so each sentence is written once.
    """


class StoreError(SpecError):
    """The store file cannot be used as asked: crafted, read-only, too slow to answer, or
    deleted while a study ran. The message is one sentence naming ``--storage``."""


class StoreGoneError(StoreError):
    """The store file was deleted or replaced while this process wrote to it: nothing it
    writes from now on would be kept, so the run stops."""


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says where to put the files."""


class ObjectiveError(SpecError):
    """A user's objective cannot run at all: its target does not import, it returns something
    that is not a number, or every trial fails the same way. The study stops with this one
    sentence (exit 2 in the CLI) instead of spending its budget."""


class ClusterError(RuntimeError):
    """Dask workers cannot run trials at all (e.g. Tuning Lab is not installed on them); the
    message says so in one sentence."""


# Echoed values are clipped: a 50 MB name must not come back as a 50 MB error message.
ECHO_LIMIT = 60


def brief(value: object) -> str:
    """``repr(value)`` clipped to about ECHO_LIMIT characters, for error messages."""
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"


# "--trial: the study has no trial 9." or "--dims takes one or two ...": the option, then the rest.
_CLI_FIELD = re.compile(r"--([a-z][a-z0-9-]*)(?=[: ])")


def cli_field(message: str) -> tuple[str | None, str]:
    """The CLI option a sentence opens with, without its dashes, and the rest of the sentence
    (from the ": " or " " after it); (None, message) when it opens with none."""
    match = _CLI_FIELD.match(message)
    if match is None:
        return None, message
    return match.group(1), message[match.end() :]
