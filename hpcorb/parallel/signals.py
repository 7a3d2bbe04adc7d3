"""One signal model for every way a run is stopped.

SIGTERM, SIGUSR1 and SIGINT (what Slurm, mpiexec, ``kill`` and Ctrl-C send)
never kill a rank (a third SIGINT does: the user will not wait): :func:`install` replaces their default action by a note
in ``STATE.caught``.  Whoever computes reads it at its next sync point (the
k-mesh engine, the sparse trilayer windows), writes a checkpoint and stops
with exit code 75.  A signal that arrives after the last sync (while
results are being written) is ignored: finishing is then the faster way to
a result.

The launcher (``./run DECK -n N``) starts mpiexec in its own process group,
so a signal to the launcher's group reaches only the launcher; the launcher
writes the name of the signal it received into ``HPCORB_SIGNAL_FILE`` and
sends SIGUSR1 to mpiexec, which Open MPI and srun forward to every rank.
:func:`received` prefers that name, so the log names the signal the user
actually sent (``SIGTERM (to the launcher)``), not the SIGUSR1 carrying it.
Rank 0 records its exit code in ``HPCORB_STATUS_FILE`` so that the launcher
returns 75 even when mpiexec itself was signalled and returns 1.

Testing hooks (environment, rank 0 unless said otherwise):
``HPCORB_FAULT="kill:N"`` (SIGKILL) or ``"term:N"`` (SIGTERM) makes rank 0
signal itself after its N-th work item (engine chunk or sparse window);
``HPCORB_FAULT_READY=PATH`` creates PATH after the first item (a test then
knows the run is inside a checkpointable stage);
``HPCORB_FAULT_SLOW=SECONDS`` sleeps that long after every item on every
rank (a slow run that a test can interrupt at leisure);
``HPCORB_FAULT="sleep:S"`` makes rank 0 sleep S seconds after every item (a
slow run without CPU load, so that a scheduler's signal lands mid-run:
tests/slurm).
"""
from __future__ import annotations

import os
import signal
import time


class _State:
    caught: str | None = None
    installed: set = set()
    chunks = 0
    interrupts = 0


STATE = _State()
NAMES = ("SIGTERM", "SIGUSR1", "SIGINT")


def _handler(signum, frame):
    name = signal.Signals(signum).name
    if name == "SIGINT":
        STATE.interrupts += 1
        if STATE.interrupts >= 3:      # the user will not wait for the checkpoint
            raise KeyboardInterrupt
    if STATE.caught is None or STATE.caught == "SIGUSR1":
        STATE.caught = name


def install(names=("SIGTERM", "SIGUSR1")):
    """Note these signals instead of dying.  The engine installs SIGTERM and
    SIGUSR1 only (a notebook keeps its Ctrl-C); the launcher's ``run_deck``
    installs all of NAMES, SIGINT included."""
    try:
        for name in names:
            if name not in STATE.installed:
                signal.signal(getattr(signal, name), _handler)
                STATE.installed.add(name)
    except ValueError:     # not the main thread: leave the defaults
        pass


def reset():
    STATE.caught = None
    STATE.chunks = 0


def received(caught: str | None) -> str:
    """The name of the signal that stopped the run, for the log line.

    When the launcher forwarded a signal (as SIGUSR1) it wrote the original
    name into ``HPCORB_SIGNAL_FILE``; that is what the user sent."""
    path = os.environ.get("HPCORB_SIGNAL_FILE")
    if path:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            pass
    return caught or "a signal"


def write_status(code: int):
    """Rank 0: record the run's exit code for the launcher (see module doc)."""
    path = os.environ.get("HPCORB_STATUS_FILE")
    if path:
        try:
            with open(path, "w") as f:
                f.write(str(int(code)))
        except OSError:
            pass


def fault_point(rank: int):
    """Called after each work item (testing hooks, see module doc)."""
    slow = os.environ.get("HPCORB_FAULT_SLOW")
    if slow:
        time.sleep(float(slow))
    if rank != 0:
        return
    STATE.chunks += 1
    ready = os.environ.get("HPCORB_FAULT_READY")
    if ready and STATE.chunks == 1:
        with open(ready, "w") as f:
            f.write(str(os.getpid()))
    spec = os.environ.get("HPCORB_FAULT")
    if not spec:
        return
    kind, _, n = spec.partition(":")
    if kind == "sleep":
        time.sleep(float(n))
        return
    if n.isdigit() and STATE.chunks == int(n):
        os.kill(os.getpid(), signal.SIGKILL if kind == "kill" else signal.SIGTERM)
