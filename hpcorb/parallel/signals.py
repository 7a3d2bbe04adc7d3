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
returns 75 even when mpiexec itself was signalled and returns 1; the ranks
then exit 0 towards mpiexec (:func:`rank_exit_code`), which would otherwise
abort the job -- and wait out its grace period -- on the first rank that
exits with 75.

A launcher that is killed outright (kill -9: no handler runs) cannot forward
anything.  The ranks therefore watch it themselves (:func:`watch`): the
launcher puts its PID, start time and host (with boot id and PID namespace)
into ``HPCORB_LAUNCHER``, and a daemon thread in every rank on that host
notes its death in ``STATE.caught``
(as :data:`LAUNCHER_GONE`) exactly as if a SIGTERM had come, so the ranks
checkpoint at their next sync point and exit with 75.  The same thread notes
the death of the rank's own parent (mpiexec, orted, slurmstepd) as
:data:`PARENT_GONE`.  Meanwhile mpiexec, which gets SIGTERM when the launcher
dies (PR_SET_PDEATHSIG, see ``launch.run_child``), ends the ranks after its
grace period at the latest, so nothing outlives the launcher for long.

Testing hooks (environment, rank 0 unless said otherwise):
``HPCORB_FAULT="kill:N"`` (SIGKILL) or ``"term:N"`` (SIGTERM) makes rank 0
signal itself after its N-th work item (engine chunk or sparse window);
``HPCORB_FAULT_READY=PATH`` creates PATH after the first item (a test then
knows the run is inside a checkpointable stage);
``HPCORB_FAULT_SLOW=SECONDS`` sleeps that long after every item on every
rank (a slow run without CPU load that a test, or a scheduler's signal in
tests/slurm, can interrupt at leisure).
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time


class _State:
    caught: str | None = None
    installed: set = set()
    chunks = 0
    interrupts = 0
    watching = False
    status_written = False
    gone: str | None = None        # what the watch thread saw die (for the log line)


STATE = _State()
NAMES = ("SIGTERM", "SIGUSR1", "SIGINT")
# pseudo signal names: a process the ranks depend on died without a signal they could catch
LAUNCHER_GONE = "LAUNCHER_GONE"
PARENT_GONE = "PARENT_GONE"


def _handler(signum, frame):
    name = signal.Signals(signum).name
    if name == "SIGINT":
        STATE.interrupts += 1
        if STATE.interrupts >= 3:      # the user will not wait for the checkpoint
            raise KeyboardInterrupt
    _note(name)


def _note(name):
    """Record a stop request; a real SIGTERM/SIGINT (or a death) outranks SIGUSR1,
    which is also what the launcher uses to carry other signals."""
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
    name into ``HPCORB_SIGNAL_FILE``; that is what the user sent.  A death
    noticed by :func:`watch` is described in words."""
    if caught in (LAUNCHER_GONE, PARENT_GONE):
        return f"notice that {STATE.gone or 'a process the ranks depend on'} is gone (killed?)"
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


def pick(names) -> str | None:
    """The most telling of the stop reasons gathered from the ranks (rank order,
    a SIGUSR1 only when nothing else was caught)."""
    names = [n for n in names if n]
    return next((n for n in names if n != "SIGUSR1"), names[0] if names else None)


# ---------------------------------------------------------------- process watch
def proc_start(pid: int) -> int | None:
    """Start time of process ``pid`` (clock ticks since boot, /proc/PID/stat
    field 22): with the PID it names one process, even after the PID is reused.
    None when the process is gone or a zombie, or /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()    # after "pid (comm) ": state is field 3
    if not fields or fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def proc_alive(pid: int, start: int | None = None) -> bool:
    """True while process ``pid`` runs (not a zombie) and, when ``start`` is
    given, is still the process that started then.  Without /proc (not Linux)
    only ``kill(pid, 0)`` is asked."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    got = proc_start(pid)
    return got is not None and (start is None or got == start)


def process_space() -> str:
    """Where a PID means something: host name, boot id and PID namespace (two
    containers on one machine may share a host name, not a PID namespace)."""
    parts = [socket.gethostname().replace(" ", "_")]
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            parts.append(f.read().strip())
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        pass
    return "/".join(parts)


def launcher_env() -> str:
    """Value of ``HPCORB_LAUNCHER`` for the ranks this process starts: PID, start
    time and process space (:func:`process_space`) of this process."""
    return f"{os.getpid()} {proc_start(os.getpid()) or 0} {process_space()}"


def watch(interval: float = 0.5) -> bool:
    """In a rank: start (once) a daemon thread that notes the death of the
    launcher (``HPCORB_LAUNCHER``, when its PID is visible here) or of this
    process's parent as a stop request (see the module doc).  It only reads
    /proc and sets ``STATE.caught``; it never calls MPI.  Returns True when a
    thread watches."""
    if STATE.watching:
        return True
    targets = []
    spec = os.environ.get("HPCORB_LAUNCHER", "").split()
    if len(spec) == 3 and spec[2] == process_space() and spec[0].isdigit():
        pid, start = int(spec[0]), int(spec[1]) if spec[1].isdigit() else 0
        if pid != os.getpid():
            targets.append((LAUNCHER_GONE, f"the launcher (pid {pid})", pid, start or None))
    ppid = os.getppid()
    if ppid > 1:
        targets.append((PARENT_GONE, f"this rank's parent process (pid {ppid})", ppid, proc_start(ppid)))
    if not targets:
        return False

    def run():
        while True:
            time.sleep(interval)
            for name, what, pid, start in targets:
                gone = not proc_alive(pid, start)
                if name == PARENT_GONE:
                    gone = gone or os.getppid() != pid      # re-parented
                if gone:
                    STATE.gone = what
                    _note(name)
                    return

    threading.Thread(target=run, name="hpcorb-watch", daemon=True).start()
    STATE.watching = True
    return True


def write_status(code: int) -> bool:
    """Rank 0: record the run's exit code for the launcher (see module doc).
    True when it is recorded."""
    path = os.environ.get("HPCORB_STATUS_FILE")
    STATE.status_written = False
    if path and STATE.caught == LAUNCHER_GONE:
        # nobody will read it: remove the dead launcher's files and their folder
        for p in (path, os.environ.get("HPCORB_SIGNAL_FILE")):
            try:
                os.remove(p)
            except (OSError, TypeError):
                pass
        try:
            os.rmdir(os.path.dirname(path))
        except OSError:
            pass
        return False
    if path:
        try:
            with open(path, "w") as f:
                f.write(str(int(code)))
            STATE.status_written = True
        except OSError:
            pass
    return STATE.status_written


def rank_exit_code(code: int, rank: int) -> int:
    """The exit status a rank started by the launcher hands to mpiexec/srun.

    The run's code (75, 1, 2: every rank agreed on it) reaches the user through
    rank 0's status file; mpiexec is told 0.  A rank that exits non-zero makes
    Open MPI abort the job, and its abort waits its grace period (seconds)
    before SIGKILL even for ranks that are about to exit by themselves; srun
    --kill-on-bad-exit likewise.  Without the status file (a rank started by
    hand, or rank 0 could not write it) the code is passed on unchanged."""
    if code == 0 or not os.environ.get("HPCORB_STATUS_FILE"):
        return code
    if rank == 0 and not STATE.status_written:
        return code
    return 0


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
    if n.isdigit() and STATE.chunks == int(n):
        os.kill(os.getpid(), signal.SIGKILL if kind == "kill" else signal.SIGTERM)
