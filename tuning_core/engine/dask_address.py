"""A Dask scheduler's address: what one looks like, and the variable that names the default.

Kept apart from engine/parallel/, the only package that imports Dask: the CLI and the
dashboard's process check an address without loading Dask.
"""

from __future__ import annotations

import re

# The scheduler `run` and `race` send trials to when --dask is not given (tuning_core/cli/);
# New study's address field starts with it (tuning_core/workers.py).
DASK_ENV = "TUNING_LAB_DASK"

_DASK_ADDRESS = re.compile(
    r"^(?:(?:tcp|tls|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-_]*):\d{1,5}$"
    r"|^inproc://\S+$"
)


def is_dask_address(address: str) -> bool:
    """Whether ``address`` (surrounding spaces aside) is a Dask scheduler address."""
    return _DASK_ADDRESS.fullmatch(address.strip()) is not None
