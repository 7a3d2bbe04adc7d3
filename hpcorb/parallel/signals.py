"""Process-wide record of SIGTERM / SIGUSR1 (what Slurm and mpiexec send).

``install()`` replaces the default action (terminate) by a note in
``STATE.caught``; the engine reads it at its next sync point, writes a
checkpoint and stops with exit code 75.  A signal that arrives after the
last sync (while results are being written) is ignored: finishing is then
the faster way to a result.

Testing hook: ``HPCORB_FAULT="kill:N"`` (SIGKILL) or ``"term:N"`` (SIGTERM)
makes rank 0 signal itself after computing its N-th chunk -- a
deterministic kill point for the restart tests; ``"sleep:S"`` makes rank 0
sleep S seconds after every chunk (a slow run without CPU load, so that a
scheduler's signal lands mid-run: tests/slurm).
"""
from __future__ import annotations

import os
import signal
import time


class _State:
    caught: str | None = None
    installed = False
    chunks = 0


STATE = _State()
NAMES = ("SIGTERM", "SIGUSR1")


def _handler(signum, frame):
    STATE.caught = signal.Signals(signum).name


def install():
    if STATE.installed:
        return
    try:
        for name in NAMES:
            signal.signal(getattr(signal, name), _handler)
        STATE.installed = True
    except ValueError:     # not the main thread: leave the defaults
        pass


def reset():
    STATE.caught = None
    STATE.chunks = 0


def fault_point(rank: int):
    """Called by the engine after each chunk (testing hook, see module doc)."""
    spec = os.environ.get("HPCORB_FAULT")
    if not spec or rank != 0:
        return
    STATE.chunks += 1
    kind, _, n = spec.partition(":")
    if kind == "sleep":
        time.sleep(float(n))
        return
    if n.isdigit() and STATE.chunks == int(n):
        os.kill(os.getpid(), signal.SIGKILL if kind == "kill" else signal.SIGTERM)
