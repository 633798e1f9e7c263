"""Keep TensorFlow's native start-up chatter off the user's terminal.

Importing TensorFlow prints absl's "All log messages before absl::InitializeLog() ..." line,
oneDNN notices and cpu_feature_guard advice straight to file descriptor 2, from C++, so
neither ``sys.stderr`` nor (in every environment) ``TF_CPP_MIN_LOG_LEVEL`` can silence them.
:func:`import_keras` imports Keras with descriptor 2 pointed at a temporary file, then writes
back every captured line except that known chatter: real errors still show.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

# absl's info and warning lines look like "I0000 00:00:1795835697.020782    4309 port.cc:153] ...";
# errors (E) and fatal messages (F) are kept.
_ABSL_INFO_OR_WARNING = re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_CHATTER = (
    "All log messages before absl::InitializeLog() is called",
    "To enable the following instructions:",
    "rebuild TensorFlow with the appropriate compiler flags",
)


def is_startup_chatter(line: str) -> bool:
    """Whether ``line`` is TensorFlow's informational start-up output rather than an error."""
    return bool(_ABSL_INFO_OR_WARNING.match(line)) or any(text in line for text in _CHATTER)


@contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Capture descriptor 2 for the block, then pass on every line that is not chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [
                line for line in text.splitlines() if line.strip() and not is_startup_chatter(line)
            ]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def import_keras() -> ModuleType:
    """Import Keras (and its TensorFlow backend) without native start-up chatter."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    # Quietens TensorFlow's later C++ logging too; an explicit user setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_filtered():
        import keras  # noqa: PLC0415 - the point of this module: a filtered, first import

        # Creating the first tensor initialises the CPU device, which logs on some builds.
        keras.ops.zeros(1)
    return keras


@functools.cache
def has_gpu() -> bool:
    """Whether TensorFlow, Keras' backend, sees a GPU (asked once a process)."""
    import_keras()
    import tensorflow as tf  # noqa: PLC0415 - loaded already, as Keras' backend

    return bool(tf.config.list_physical_devices("GPU"))
