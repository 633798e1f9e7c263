"""The worker timeline as a DataFrame: one bar per trial in its worker's lane, on an axis in
seconds, minutes or hours, with each lane's busy share and the trials still waiting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tuning_core.engine.records import IN_PROCESS_LANE, TimelineBar
from tuning_core.engine.states import TrialState

TIMELINE_COLUMNS = ["number", "lane", "lane_order", "state", "start", "finish", "duration_s"]
# The time unit of a timeline's axis, by the span it covers: (unit, seconds in one, longest span).
_TIME_UNITS = (("seconds", 1.0, 180.0), ("minutes", 60.0, 3 * 3600.0), ("hours", 3600.0, None))


@dataclass(frozen=True)
class Timeline:
    """What the worker timeline draws (see :func:`timeline_frame`).

    ``bars``: one row per trial that a worker began: number, lane (``worker 0``…), lane_order,
    state (``running`` until it finishes), start and finish in ``unit`` since the first trial
    began (a running trial's finish is now) and duration_s. ``lanes`` in drawing order,
    ``busy`` each lane's share of the whole span spent running a trial, ``waiting`` the
    trials sent to Dask that no worker has begun yet (they have no lane), and ``wall_seconds``
    the time during which any trial ran (what the time budget counts, engine/study/session.py).
    """

    bars: pd.DataFrame
    unit: str
    lanes: list[str]
    busy: dict[str, float]
    waiting: int
    wall_seconds: float = 0.0

    def busy_text(self) -> str:
        """Each lane's busy share in lane order, as in "worker 0 96%, worker 1 91%"."""
        return ", ".join(f"{lane} {self.busy[lane]:.0%}" for lane in self.lanes)


def lane_label(worker: str) -> str:
    """A timeline lane's name: Dask's numbered LocalCluster workers read "worker 0"; named or
    addressed workers keep their name (clipped to 40 characters)."""
    if worker.isdigit():
        return f"worker {worker}"
    return worker if len(worker) <= 40 else worker[:39] + "…"


def _lane_key(worker: str) -> tuple[int, int, str]:
    # The in-process lane first (it ran before any worker), then numbered workers by number.
    if worker == IN_PROCESS_LANE:
        return (0, 0, "")
    return (1, int(worker), "") if worker.isdigit() else (2, 0, worker)


def timeline_frame(bars: list[TimelineBar], now: float, on_dask: bool = True) -> Timeline:
    """The worker timeline of ``bars`` (``records.worker_timeline``) at time ``now``.

    With ``on_dask`` a running trial that no worker has begun (still in the in-process lane,
    where ``worker_timeline`` puts trials without a worker) is waiting in Dask's queue: it is
    counted in ``waiting``, not drawn.
    """
    waiting = [
        bar for bar in bars
        if on_dask and bar.worker == IN_PROCESS_LANE and bar.state == TrialState.RUNNING
    ]  # fmt: skip
    waiting_numbers = {bar.number for bar in waiting}
    drawn = [bar for bar in bars if bar.number not in waiting_numbers]
    if not drawn:
        empty = pd.DataFrame(columns=TIMELINE_COLUMNS)
        return Timeline(empty, "seconds", [], {}, len(waiting))
    origin = min(bar.started_at for bar in drawn)
    ends = [max(bar.finished_at or now, bar.started_at) for bar in drawn]
    span = max(ends) - origin
    unit, seconds, _ = next(u for u in _TIME_UNITS if u[2] is None or span <= u[2])
    workers = sorted({bar.worker for bar in drawn}, key=_lane_key)
    order = {worker: index for index, worker in enumerate(workers)}
    frame = pd.DataFrame(
        [
            {
                "number": bar.number,
                "lane": lane_label(bar.worker),
                "lane_order": order[bar.worker],
                "state": bar.state.value,
                "start": (bar.started_at - origin) / seconds,
                "finish": (end - origin) / seconds,
                "duration_s": end - bar.started_at,
            }
            for bar, end in zip(drawn, ends, strict=True)
        ],
        columns=TIMELINE_COLUMNS,
    )
    busy = {
        lane_label(worker): (
            _covered(frame[frame["lane"] == lane_label(worker)]) / (span / seconds)
            if span > 0
            else 1.0
        )
        for worker in workers
    }
    lanes = [lane_label(worker) for worker in workers]
    return Timeline(frame, unit, lanes, busy, len(waiting), _covered(frame) * seconds)


def _covered(bars: pd.DataFrame) -> float:
    """The length of the union of the bars' [start, finish] intervals, in their unit."""
    covered, reach = 0.0, -np.inf
    for start, finish in sorted(zip(bars["start"], bars["finish"], strict=True)):
        # Overlaps (a trial recorded just after its successor began) are counted once.
        covered += max(0.0, finish - max(start, reach))
        reach = max(reach, finish)
    return covered
