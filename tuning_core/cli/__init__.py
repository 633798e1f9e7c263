"""The command line: ``python -m tuning_core run|race|list|export|stop|delete|explain|lr-find``,
``audit``, ``app``, ``record`` and ``replay``.

One module per command (or family of commands), the parser in ``parser.py``; this module
runs one and turns what it raises into an exit status. Bad input exits with status 2 and
one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from tuning_core.cli.app import command_app
from tuning_core.cli.audit import command_audit
from tuning_core.cli.explain import command_explain
from tuning_core.cli.export import command_export
from tuning_core.cli.lr_find import command_lr_find
from tuning_core.cli.parser import build_parser
from tuning_core.cli.race import command_race
from tuning_core.cli.recordings import command_record, command_replay
from tuning_core.cli.run import command_run
from tuning_core.cli.studies import command_delete, command_list, command_stop
from tuning_core.engine.errors import ClusterError, DatasetError, SpecError, brief

__all__ = ["COMMANDS", "Terminated", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a ``run`` or ``race`` stops as Ctrl-C stops it
    (its running trials interrupted, the study stopped), not killed mid-write."""


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (from the main thread only; a
    caller on another thread, such as a test, keeps its own handling)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        # A second SIGTERM must not cut short the cleanup the first one started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated("the process was sent SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


COMMANDS = {
    "run": command_run,
    "race": command_race,
    "list": command_list,
    "export": command_export,
    "stop": command_stop,
    "delete": command_delete,
    "explain": command_explain,
    "lr-find": command_lr_find,
    "app": command_app,
    "record": command_record,
    "replay": command_replay,
    "audit": command_audit,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command not in ("run", "race", "audit"):
            return COMMANDS[args.command](args)
        with _stop_on_sigterm():
            return COMMANDS[args.command](args)
    except (SpecError, DatasetError, ClusterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Terminated as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("TUNING_LAB_DEBUG"):
            raise
        print(
            f"error: {type(error).__name__}: {brief(str(error))} (set TUNING_LAB_DEBUG=1 for the "
            "traceback)",
            file=sys.stderr,
        )
        return 1
