"""``./run`` and ``hpcorb``: the command line.

    ./run DECK.toml [-n RANKS]   run a deck (mpiexec locally, srun inside Slurm)
    ./run check DECK.toml        validate a deck (and its model) without running
    ./run show FILE.h5           provenance, datasets with units, and a summary
    ./run plot FILE.h5           PNG figures next to the file
    ./run test [PYTEST ARGS]     the test suite: serial, then MPI tests on 2 and 3 ranks
    ./run bench NAME [ARGS]      benchmarks (engine, hamiltonian, diffusion, slab_kubo, ...)
    ./run keys                   every deck key with default and allowed values
    ./run export DECK.toml [SEED]  write the deck's model as Wannier90 files SEED.win,
                                 SEED_hr.dat, SEED_centres.xyz, SEED_tb.dat (default SEED:
                                 the deck's name + "_w90", beside the deck)
    ./run setup                  install (done automatically when needed)

Exit codes: 0 success, 2 bad input (one line on stderr, nothing written),
75 stopped by SIGTERM/SIGUSR1/SIGINT -- to the launcher, mpiexec/srun, a rank
or the process group -- after a checkpoint (run the same command to resume),
1 failure (message names the rank, or the file the system refused to write).
"""
from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback

from .context import RunContext
from .errors import (EXIT_CHECKPOINTED, EXIT_FAILED, EXIT_INPUT, CheckpointStop, InputError,
                     SystemFault, os_reason)
from .public import load
from .result import open_h5
from .registry import get_adapter
from .version import __version__
from .config import check_resources, checkpoint_path, keys_markdown, load_deck, require_writable_output
from .io.results import now_iso, verify_results, write_results
from .io.wannier90 import export_model
from .log import Logger, capture_warnings
from .models.build import build_model
from .models.materials import orthogonalized_model
from .parallel import signals, world
from .parallel.checkpoint import Checkpoint
from .parallel.engine import PeerLost, RankFailure

HELP = __doc__


def _err(msg: str) -> None:
    print(f"hpcorb: error: {msg}", file=sys.stderr, flush=True)


def _python() -> str:
    return sys.executable


def in_slurm() -> bool:
    """Inside a Slurm allocation (sbatch, salloc) with srun available."""
    return "SLURM_JOB_ID" in os.environ and shutil.which("srun") is not None


def slurm_step_tasks() -> int:
    """Number of tasks of the Slurm job step this process is in (0 outside a step).

    ``srun -n 4 ./run DECK`` makes every task a rank of its own: the launcher
    must then run the deck, not start another srun inside the step.  The batch
    shell of ``sbatch`` and the ``salloc`` shell are not in a step."""
    if "SLURM_STEP_ID" not in os.environ or not in_slurm():
        return 0
    try:    # set by srun for its tasks only (SLURM_NTASKS is the allocation's, also in batch shells)
        return int(os.environ.get("SLURM_STEP_NUM_TASKS") or 1)
    except ValueError:
        return 1


def _mpi_wired_up() -> bool:
    """False in a multi-task srun step that gave Open MPI no PMIx server
    (srun --mpi=none): MPI_Init would abort with a page of text on every rank."""
    if any(k in os.environ for k in ("PMIX_RANK", "PMI_RANK", "PMI_FD", "OMPI_COMM_WORLD_SIZE")):
        return True
    return _mpi_vendor() != "Open MPI"


def _quiet(cmd: list[str]) -> str:
    """stdout+stderr of a short helper command ('' if it fails to run)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout + r.stderr if r.returncode == 0 else ""


def _mpi_vendor() -> str:
    """'Open MPI', 'MPICH', ... as mpi4py reports it, without initializing MPI
    (in a child process: this one may start MPI later)."""
    code = ("from mpi4py import rc; rc.initialize = rc.finalize = False\n"
            "from mpi4py import MPI; print(MPI.get_vendor()[0])")
    return _quiet([_python(), "-c", code]).strip()


def _srun_mpi_plugins() -> list[str]:
    """The MPI plugin types this srun offers (``srun --mpi=list``): e.g. pmix, pmi2, none."""
    names = []
    for line in _quiet(["srun", "--mpi=list"]).splitlines():
        word = line.strip().removeprefix("srun:").strip().removeprefix("mpi/")
        if re.fullmatch(r"[a-z0-9_]+", word):
            names.append(word)
    return names


def srun_mpi_args(env=None) -> list[str]:
    """srun options for starting MPI ranks: the MPI plugin, then HPCORB_SRUN_ARGS.

    An explicit choice wins: ``--mpi=...`` in ``HPCORB_SRUN_ARGS``, or
    ``SLURM_MPI_TYPE`` (read by srun itself), or a site ``MpiDefault`` other
    than ``none``.  Otherwise (Slurm's default ``MpiDefault=none``, with which
    Open MPI aborts in MPI_Init) pass the plugin the MPI library can use:
    ``pmix`` for Open MPI (its only Slurm wire-up), ``pmi2`` for the MPICH
    family, whichever of the two this srun offers (``srun --mpi=list``).
    ``HPCORB_SRUN_ARGS`` (split like a shell) is appended for odd sites."""
    env = os.environ if env is None else env
    extra = shlex.split(env.get("HPCORB_SRUN_ARGS", ""))
    if any(a == "--mpi" or a.startswith("--mpi=") for a in extra) or env.get("SLURM_MPI_TYPE"):
        return extra
    m = re.search(r"^MpiDefault\s*=\s*(\S+)", _quiet(["scontrol", "show", "config"]), re.M)
    if m and m.group(1).lower() != "none":
        return extra
    offered = _srun_mpi_plugins()
    order = ("pmix", "pmi2") if _mpi_vendor() in ("Open MPI", "") else ("pmi2", "pmix")
    # older srun versions list only versioned names (pmix_v3): take those too
    choice = next((o for p in order for o in offered if o == p or o.startswith(p + "_v")), None)
    return ([f"--mpi={choice}"] if choice else []) + extra


def mpi_command(n: int | None, argv: list[str]) -> list[str]:
    """How to start ``python -m hpcorb.launch ARGV`` on n ranks (the last four
    items are always that python command).  Inside a Slurm allocation: srun
    with all tasks of the allocation (or n) and the MPI plugin of
    ``srun_mpi_args``; elsewhere mpiexec."""
    py = [_python(), "-P", "-m", "hpcorb.launch", *argv]
    if in_slurm():
        # inside a step already (`srun --pty bash`): the ranks must share its CPUs
        overlap = ["--overlap"] if "SLURM_STEP_ID" in os.environ else []
        return ["srun", *([f"--ntasks={n}"] if n else []), "--kill-on-bad-exit=1", *overlap,
                *srun_mpi_args(), *py]
    mpiexec = shutil.which("mpiexec") or "mpiexec"
    return [mpiexec, "-n", str(n), "--bind-to", "none", *py]


# Open MPI's mpiexec, when it is signalled (SIGTERM, SIGINT) or a rank dies, sends
# the ranks SIGCONT, waits this long, sends SIGTERM, waits this long again and
# sends SIGKILL.  Its default (1 s) is too short for a checkpoint on a busy
# machine; a user's own OMPI_MCA_odls_base_sigkill_timeout is kept.
MPIEXEC_GRACE_S = 10


def _die_with_parent():
    """In the child before exec: SIGTERM when the launcher dies (even by SIGKILL),
    so mpiexec ends its ranks (after its grace period) instead of leaving them
    orphaned; the ranks themselves notice the launcher's death sooner
    (``signals.watch``) and checkpoint."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))    # PR_SET_PDEATHSIG
    except Exception:
        pass


def _run_folder(near: str | None):
    """A private folder for the launcher's status and signal files: a hidden one
    beside the results file when it can be made there (the output's file
    system is the one every node of a Slurm job sees, the batch node's /tmp is
    not), else in the system's temporary folder."""
    if near:
        try:
            return tempfile.TemporaryDirectory(prefix=".hpcorb-run-", dir=near)
        except OSError:
            pass
    return tempfile.TemporaryDirectory(prefix="hpcorb-run-")


def run_child(cmd: list[str], near: str | None = None) -> int:
    """Run mpiexec/srun; the one signal model on the launcher's side.

    The child runs in its own process group, so SIGTERM/SIGUSR1/SIGINT sent to
    the launcher or to its whole process group (Ctrl-C) reach the launcher
    only; it records the name in HPCORB_SIGNAL_FILE (the ranks log it) and
    sends SIGUSR1 to the child, which Open MPI and srun forward to every rank,
    where the engine checkpoints.  Rank 0 writes its exit code into
    HPCORB_STATUS_FILE: 75 is returned even when mpiexec itself was
    signalled and exits 1.  These two files live in a private folder beside
    the results file (``near``: every rank can reach it, on any node).
    One BLAS/OpenMP thread per rank unless the user set OMP_NUM_THREADS.

    The ranks learn the launcher's PID (``HPCORB_LAUNCHER``) and stop with a
    checkpoint when it dies without a word (kill -9), and mpiexec gets the
    grace period MPIEXEC_GRACE_S between its SIGTERM and SIGKILL to the ranks
    (when mpiexec itself is signalled, or a rank dies)."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["HPCORB_LAUNCHER"] = signals.launcher_env()
    env.setdefault("OMPI_MCA_odls_base_sigkill_timeout", str(MPIEXEC_GRACE_S))
    with _run_folder(near) as tmp:
        status = os.path.join(tmp, "status")
        sigfile = os.path.join(tmp, "signal")
        env["HPCORB_STATUS_FILE"] = status
        env["HPCORB_SIGNAL_FILE"] = sigfile
        received = []
        proc = None

        def forward(signum, frame):
            name = signal.Signals(signum).name
            first = not received
            received.append(name)
            if received.count("SIGINT") >= 3 and proc is not None:
                # a third Ctrl-C: the user will not wait for the checkpoint
                print("hpcorb: error: third interrupt: killing the run without a checkpoint",
                      file=sys.stderr, flush=True)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            if first:
                try:
                    with open(sigfile, "w") as f:
                        f.write(f"{name} (to the launcher, pid {os.getpid()})")
                except OSError:
                    pass
            if proc is not None:
                try:
                    proc.send_signal(signal.SIGUSR1)
                except ProcessLookupError:
                    pass

        names = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
        old = {s: signal.signal(s, forward) for s in names}
        try:
            # stdin from /dev/null: in a process group of its own, mpiexec reading the
            # terminal (it forwards stdin to rank 0) would be stopped by SIGTTIN
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, process_group=0,
                                    preexec_fn=_die_with_parent)
            if received:        # a signal came while starting
                proc.send_signal(signal.SIGUSR1)
            rc = proc.wait()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        code = None
        try:
            with open(status) as f:
                code = int(f.read().strip())
        except (OSError, ValueError):
            pass
    if received.count("SIGINT") >= 3:
        return 130
    if rc == 0 and code is None:
        # Rank 0 writes its exit code before it leaves (0 included): without it the
        # ranks never ran, whatever mpiexec/srun says (srun can exit 0 after a
        # failed step launch on a node that is still cleaning up an earlier step).
        _err(f"{os.path.basename(cmd[0])} exited 0 but rank 0 never reported: the ranks did not run, "
             "nothing was computed (see the messages above); run the same command again")
        return EXIT_FAILED
    if code is not None:
        # rank 0's own verdict (written after the last collective step): 75 while
        # mpiexec, itself signalled, says 1; 0 when the run finished and its
        # results were verified before mpiexec's SIGTERM reached the ranks
        return code
    return rc if rc >= 0 else 128 - rc


# --------------------------------------------------------------------------
# lock file: one run per output

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:       # a recycled PID that is no hpcorb process does not hold the lock
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"hpcorb" in f.read()
    except OSError:
        return True


def _slurm_incarnation():
    """(job id, restart count) of the Slurm job this process belongs to, or None.

    A requeued job (``scontrol requeue``, a node failure, preemption) keeps its
    job id and counts up SLURM_RESTART_COUNT; Slurm ends every process of the
    earlier incarnation before it starts the next one, on whatever node."""
    job = os.environ.get("SLURM_JOB_ID", "").strip()
    if not job.isdigit():
        return None
    restart = os.environ.get("SLURM_RESTART_COUNT", "0").strip()
    return job, restart if restart.isdigit() else "0"


def _lock_text() -> str:
    """The lock's content: PID, host and, inside Slurm, job id and restart count."""
    fields = [str(os.getpid()), socket.gethostname()]
    slurm = _slurm_incarnation()
    if slurm:
        fields += list(slurm)
    return " ".join(fields) + "\n"


def lock_holder(path: str):
    """(pid, host) of a live run holding ``path``, or None (free or stale).

    Stale: the holder ran on this host and its process is gone, or it ran in an
    earlier incarnation of this Slurm job (same job id, another restart count:
    the job was requeued, possibly onto another node, after its processes were
    killed).  A lock from another host is otherwise taken as live: its process
    cannot be looked at from here."""
    try:
        with open(path) as f:
            fields = f.read().split()
        pid, host = int(fields[0]), fields[1]
    except (OSError, ValueError, IndexError):
        return None
    slurm = _slurm_incarnation()
    if slurm and len(fields) >= 4 and fields[2] == slurm[0] and fields[3] != slurm[1]:
        return None
    if host == socket.gethostname() and not _alive(pid):
        return None
    return pid, host


def _lock_message(out, path, holder):
    pid, host = holder
    return (f"output.file {out} is in use by another run (pid {pid} on {host}, lock file {path}); "
            "wait for it to finish, or remove the lock file if that run is gone")


def acquire_lock(out: str) -> str:
    """Create ``out.lock`` (PID, host, Slurm job); take over a stale one; refuse a live one."""
    path = out + ".lock"
    me = _lock_text()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock_holder(path)
            if holder is not None and holder[0] != os.getpid():
                raise InputError(_lock_message(out, path, holder))
            try:
                os.remove(path)       # stale: its process is gone
            except FileNotFoundError:
                pass
            continue
        except OSError as exc:
            raise SystemFault(f"cannot write lock file {path}: {os_reason(exc)}") from None
        try:
            os.write(fd, me.encode())
        except OSError as exc:
            os.close(fd)
            os.remove(path)
            raise SystemFault(f"cannot write lock file {path}: {os_reason(exc)}") from None
        os.close(fd)
        return path
    raise InputError(f"output.file {out}: cannot take the lock file {path} (another run keeps creating it)")


def release_lock(path: str | None):
    if not path:
        return
    try:
        with open(path) as f:
            if f.read().split(" ")[0] != str(os.getpid()):
                return
        os.remove(path)
    except OSError:
        pass


# --------------------------------------------------------------------------
def validate(path: str, *, build=True, n_ranks: int = 1, local: bool = True):
    """Everything that can be checked before starting ranks; raises InputError.

    Order: deck and its schema ranges, the resource estimate (before any
    model is built), the model, the output paths (never an input, writable,
    not locked by a live run), the checkpoint (checksums)."""
    deck = load_deck(path)
    est = check_resources(deck, n_ranks, n_ranks if local else None)
    module = get_adapter(deck.type)
    if build and hasattr(module, "validate"):
        module.validate(deck)
    require_writable_output(deck)
    out = deck["output"]["file"]
    holder = lock_holder(out + ".lock")
    if holder is not None:
        raise InputError(_lock_message(out, out + ".lock", holder))
    Checkpoint(checkpoint_path(deck), deck.physics_hash()).verify()
    return deck, module, est


def cmd_check(args) -> int:
    n = 1
    if len(args) == 3 and args[1] in ("-n", "--ranks", "--np") and args[2].isdigit() and int(args[2]) > 0:
        n, args = int(args[2]), args[:1]
    if len(args) != 1:
        _err("usage: ./run check DECK.toml [-n RANKS]")
        return EXIT_INPUT
    deck, module, est = validate(args[0], n_ranks=n, local=n == 1)
    print(f"{args[0]}: valid {deck.type} deck; results -> {deck['output']['file']}")
    if est is not None:
        print(f"estimate: ~{est.bytes_per_rank / 1024 ** 2:.0f} MB per rank, {est.what or f'{est.items:.4g} work items'}"
              + (f"; {est.time_text(n)}" if est.core_seconds else ""))
    return 0


def cmd_run_deck(args) -> int:
    n = None
    rest = []
    it = iter(args)
    for a in it:
        if a in ("-n", "--ranks", "--np"):
            try:
                n = int(next(it))
            except (StopIteration, ValueError):
                _err("-n needs a positive integer (number of MPI ranks)")
                return EXIT_INPUT
            if n < 1:
                _err(f"-n = {n}: expected a positive integer (number of MPI ranks)")
                return EXIT_INPUT
        elif a.startswith("-n") and a[2:].isdigit():
            n = int(a[2:])
        else:
            rest.append(a)
    if len(rest) != 1:
        _err("usage: ./run DECK.toml [-n RANKS]")
        return EXIT_INPUT
    path = rest[0]
    if slurm_step_tasks() > 1:   # `srun ./run DECK`: this process is one of the ranks already
        if not _mpi_wired_up():
            if os.environ.get("SLURM_PROCID", "0") == "0":
                _err("srun started the ranks without an MPI plugin (MpiDefault=none): run ./run DECK "
                     "inside the allocation (it picks one), or use srun --mpi=pmix")
            return EXIT_INPUT
        return run_deck(path)
    # one-line errors before any rank starts
    slurm = in_slurm()
    # inside an allocation srun starts SLURM_NTASKS ranks unless -n says otherwise
    ranks = n or (int(os.environ.get("SLURM_NTASKS", "1") or 1) if slurm else 1)
    deck, _, _ = validate(path, n_ranks=ranks, local=not slurm)
    near = os.path.dirname(os.path.abspath(deck["output"]["file"]))
    if in_slurm():
        return run_child(mpi_command(n, ["_run", path]), near)
    if n is None or n == 1:
        return run_deck(path)
    return run_child(mpi_command(n, ["_run", path]), near)


def _agree(comm, fn):
    """Run ``fn`` on rank 0; its InputError/SystemFault is raised on every rank."""
    err = None
    if comm.rank == 0:
        try:
            fn()
        except InputError as e:
            err = ("input", str(e))
        except SystemFault as e:
            err = ("system", str(e))
    err = comm.bcast(err)
    if err:
        raise (InputError if err[0] == "input" else SystemFault)(err[1])


def run_deck(path: str) -> int:
    """Run a deck on this process's ranks (called on every rank).

    Rank 0 reads the deck (and, through the run context, the model's input
    files) and broadcasts; the run context (communicator, logger, checkpoint,
    engine options) is built here once and passed to the calculation."""

    signals.install(signals.NAMES)   # SIGTERM/SIGUSR1/SIGINT -> checkpoint at the next sync, not death
    comm = world()
    if comm.size > 1:
        signals.watch()              # the launcher or mpiexec killed outright -> the same as SIGTERM
    started = now_iso()
    log = Logger(comm)
    capture_warnings(lambda text: log.warning(text))
    stage = "setup"
    lock = None
    code = EXIT_FAILED
    try:
        deck = load_deck(path, comm)
        out = deck["output"]["file"]
        _agree(comm, lambda: require_writable_output(deck))
        hosts = comm.allgather(socket.gethostname())
        est = []
        _agree(comm, lambda: est.append(check_resources(deck, comm.size,
                                                        hosts.count(socket.gethostname()))))

        def take_lock():
            nonlocal lock
            lock = acquire_lock(out)
        _agree(comm, take_lock)     # before the checkpoint: never judge a live run's file
        ckpt = Checkpoint(checkpoint_path(deck), comm.bcast(deck.physics_hash() if comm.rank == 0 else None))
        _agree(comm, ckpt.verify)

        def open_log():
            nonlocal log
            try:
                log = Logger(comm, path=os.path.splitext(out)[0] + ".log")
            except OSError as exc:
                raise SystemFault(f"cannot write log {os.path.splitext(out)[0]}.log: {os_reason(exc)}") from None
        _agree(comm, open_log)
        if comm.rank != 0:
            log = Logger(comm)
        capture_warnings(lambda text: log.warning(text))
        log(f"hpcorb {deck.type}: deck {deck.path} on {comm.size} rank{'s' if comm.size > 1 else ''}")
        if os.environ.get("HPCORB_BLAS_NOTE"):
            log(os.environ["HPCORB_BLAS_NOTE"])
        e = est[0] if est else None
        if e is not None:
            log(f"estimate: ~{e.bytes_per_rank / 1024 ** 2:.0f} MB per rank, {e.items:.4g} work items"
                + (f" ({e.what})" if e.what else "")
                + (f"; time {e.time_text(comm.size)} from the benchmark constants" if e.core_seconds else ""))
        module = get_adapter(deck.type)
        stage = "run"
        ctx = RunContext.from_deck(deck, comm, log, ckpt)
        results = module.call(deck, ctx)
        _log_ok(comm, log)
        bad = _non_finite(results)
        if bad:     # never silent: NaN/inf in a result is named in the log
            log.warning("non-finite values (NaN or inf) in " + ", ".join(bad[:8]) +
                        (" ..." if len(bad) > 8 else ""))
        stage = "write"
        write_results(out, results, comm, log, deck_text=deck.text, deck_path=deck.path,
                      started=started)
        verify_results(out, results, comm)
        log(f"results written to {out}")
        _log_ok(comm, log)
        if comm.rank == 0:
            ckpt.remove()       # only now: the results file is complete and verified
            _after_run(out, deck, module, log)
        comm.barrier()
        code = 0
    except CheckpointStop:
        log.info("checkpoint written; exiting with code 75 (run the same command again to resume)")
        code = EXIT_CHECKPOINTED
    except SystemFault as e:
        if comm.rank == 0:
            _err(str(e))
            if log.file:
                log._write("ERROR " + str(e) + "\n")
        code = EXIT_FAILED
    except PeerLost as e:
        # a rank is dead: no collective can complete, MPI_Finalize included.
        # Say so from whichever rank noticed, free the lock, leave at once.
        log.error(str(e))
        _finish(comm, log, lock, EXIT_FAILED)
        sys.stderr.flush()
        os._exit(EXIT_FAILED)
    except RankFailure as e:
        if comm.rank == 0:
            log.error(str(e))
        code = EXIT_FAILED
    except InputError as e:
        if stage == "setup" or comm.size == 1:
            if comm.rank == 0:
                _err(str(e))
            code = EXIT_INPUT
        else:
            log.error(str(e))
            _finish(comm, log, lock, EXIT_INPUT)
            comm.abort(EXIT_INPUT)
    except KeyboardInterrupt:       # a third Ctrl-C (signals.py): stop now, no checkpoint
        _finish(comm, log, lock, 130)
        raise
    except Exception as e:  # a bug or a system problem: full traceback into the log
        log.error(f"{type(e).__name__}: {e} (during {stage}; traceback follows)")
        if log.file:
            traceback.print_exc(file=log.file)
        else:
            traceback.print_exc()
        if comm.size > 1:
            _finish(comm, log, lock, EXIT_FAILED)
            comm.abort(EXIT_FAILED)
        code = EXIT_FAILED
    _finish(comm, log, lock, code)
    return code


def _non_finite(results) -> list[str]:
    import numpy as np
    bad = []
    for e in results.entries:
        a = e.data if e.data is not None else e.local
        if a is not None and a.dtype.kind in "fc" and a.size and not np.all(np.isfinite(a)):
            bad.append(e.name)
    return bad


def _log_ok(comm, log):
    """A log that could not be written ends the run (exit 1) at a safe point."""
    err = comm.bcast(log.write_error if comm.rank == 0 else None)
    if err:
        raise SystemFault(f"cannot write log {log.path}: {err}")


def _finish(comm, log, lock, code):
    if comm.rank == 0:
        release_lock(lock)
        signals.write_status(code)
    log.close()


def _after_run(out, deck, module, log):
    try:
        result = load(out)
        text = result.summary()
        if text:
            print(text, flush=True)
        if deck["output"]["plots"]:
            for p in result.plot(os.path.splitext(out)[0]):
                log(f"figure: {p}")
    except Exception as e:  # a figure must never cost the results
        log(f"warning: summary/plot failed ({type(e).__name__}: {e}); results are intact")


# --------------------------------------------------------------------------
def _open_results(path):
    h5 = open_h5(path)
    if "calculation" not in h5.attrs:
        h5.close()
        raise InputError(f"{path}: not an hpcorb results file (no 'calculation' attribute)")
    return h5


def _attr_str(v):
    import numpy as np
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "S":
            return "[" + ", ".join(x.decode() for x in v.ravel()) + "]"
        return np.array2string(v, threshold=8, precision=6)
    return str(v)


def cmd_show(args) -> int:
    if len(args) != 1:
        _err("usage: ./run show FILE.h5")
        return EXIT_INPUT
    with _open_results(args[0]) as h5:
        calc = _attr_str(h5.attrs["calculation"])
        print(f"== {args[0]}: hpcorb {calc} results")
        for k in ("hpcorb_version", "calculation", "mpi_size", "started", "finished", "host",
                  "git_commit", "h5_driver", "deck_path"):
            if k in h5.attrs:
                print(f"  {k:15s} {_attr_str(h5.attrs[k])}")
        print("== attributes of /" + calc)
        for k, v in h5[calc].attrs.items():
            print(f"  {k:22s} {_attr_str(v)}")
        print("== datasets")

        def visit(name, obj):
            if hasattr(obj, "shape"):
                units = _attr_str(obj.attrs.get("units", ""))
                desc = _attr_str(obj.attrs.get("description", ""))
                shape = "x".join(map(str, obj.shape)) or "scalar"
                print(f"  /{name:40s} {shape:16s} {str(obj.dtype):10s} [{units}] {desc}")
        h5.visititems(visit)
        try:
            module = get_adapter(calc)
        except InputError:
            module = None
        if module is not None and hasattr(module, "summary"):
            print("== summary")
            print(module.summary(h5))
        print("== deck")
        print(_attr_str(h5.attrs.get("deck", "")).rstrip())
    return 0


def cmd_plot(args) -> int:
    if len(args) != 1:
        _err("usage: ./run plot FILE.h5")
        return EXIT_INPUT
    with _open_results(args[0]) as h5:
        module = get_adapter(_attr_str(h5.attrs["calculation"]))
        if not hasattr(module, "plot"):
            _err("this calculation has no plots")
            return EXIT_INPUT
        for p in module.plot(h5, os.path.splitext(args[0])[0]):
            print(p)
    return 0


def cmd_keys(args) -> int:
    text = keys_markdown()
    if args and args[0] == "--write":
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(here, "docs", "deck.md"), "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


# --------------------------------------------------------------------------
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def _pytest(cmd, env) -> tuple[int, dict]:
    counts = {}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    last = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if re.search(r"(passed|failed|error|no tests ran)", line) and " in " in line:
            last = line
    rc = proc.wait()
    for num, word in _SUMMARY.findall(last):
        word = {"errors": "error"}.get(word, word)
        counts[word] = counts.get(word, 0) + int(num)
    return rc, counts


def cmd_test(args) -> int:
    """Serial pytest, then the tests marked ``mpi`` under 2 and 3 ranks.

    ``./run test [FILES or -k EXPR ...]``: positional arguments select test
    files (default: all of tests/); options are passed to pytest;
    ``--no-mpi`` skips the MPI runs.
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    with_mpi = "--no-mpi" not in args
    args = [a for a in args if a != "--no-mpi"]
    files = [a for a in args if not a.startswith("-") and os.path.exists(a)]
    options = [a for a in args if a not in files]
    selection = [os.path.abspath(f) for f in files] or [os.path.join(here, "tests")]
    base = ["-P", "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider"]
    total = {}
    failed = False
    print("== hpcorb tests: serial", flush=True)
    rc, c = _pytest([_python(), *base, *selection, *options], env)
    failed |= rc not in (0, 5)
    for k, v in c.items():
        total[k] = total.get(k, 0) + v
    if with_mpi:
        for n in (2, 3):
            print(f"== hpcorb tests: MPI, {n} ranks (tests marked mpi)", flush=True)
            cmd = mpi_command(n, [])[:-4] + [_python(), *base, "-m", "mpi", *selection, *options]
            rc, c = _pytest(cmd, env)
            failed |= rc not in (0, 5)
            for k, v in c.items():
                total[k] = total.get(k, 0) + v
    passed, nfail = total.get("passed", 0), total.get("failed", 0) + total.get("error", 0)
    print(f"tests: {passed} passed, {nfail} failed" +
          (f", {total['skipped']} skipped" if total.get("skipped") else ""), flush=True)
    return 1 if failed or nfail else 0


def cmd_bench(args) -> int:
    import importlib
    if not args:
        names = sorted(os.path.basename(p)[:-3] for p in
                       glob.glob(os.path.join(os.path.dirname(__file__), "bench", "[a-z]*.py")))
        _err("usage: ./run bench NAME [ARGS]; available: " + ", ".join(names))
        return EXIT_INPUT
    name = args[0]
    if not re.fullmatch(r"[a-z_]+", name):
        _err(f"bench = {name!r}: expected a benchmark name")
        return EXIT_INPUT
    try:
        mod = importlib.import_module(f"hpcorb.bench.{name}")
    except ModuleNotFoundError:
        return cmd_bench([])
    return int(mod.main(args[1:], world()) or 0)


def cmd_export(args) -> int:
    """Write the deck's model as Wannier90 files (io.wannier90.export_model)."""
    if len(args) not in (1, 2):
        _err("usage: ./run export DECK.toml [SEEDNAME]")
        return EXIT_INPUT
    deck = load_deck(args[0])
    seed = args[1] if len(args) == 2 else os.path.splitext(args[0])[0] + "_w90"
    size = deck.get("kmesh", {}).get("size")
    model = build_model(deck["model"], periodic=None if size is None else len(size))
    if model.S is not None:
        if size is None or len(size) != model.periodic:
            raise InputError("kmesh.size = (missing): a non-orthogonal model is exported "
                             "Loewdin-orthogonalized on the deck's k-mesh; give [kmesh] size")
        model = orthogonalized_model(model, tuple(size))
    targets = [seed + s for s in (".win", "_hr.dat", "_centres.xyz", "_tb.dat")]
    exist = [t for t in targets if os.path.exists(t)]
    if exist:
        raise InputError(f"export: {exist[0]} exists; remove it or give another SEEDNAME")
    if not os.path.isdir(os.path.dirname(os.path.abspath(seed))):
        raise InputError(f"export: SEEDNAME = {seed!r}: no such folder")
    paths = export_model(model, seed)
    for k in ("win", "hr_file", "centres_file", "tb_file"):
        print(paths[k])
    return 0


COMMANDS = {"export": cmd_export, "check": cmd_check, "show": cmd_show, "plot": cmd_plot, "test": cmd_test,
            "bench": cmd_bench, "keys": cmd_keys}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("help", "-h", "--help"):
        print(HELP)
        return 0
    cmd, rest = argv[0], argv[1:]
    capture_warnings(lambda text: print(f"hpcorb: warning: {text}", file=sys.stderr, flush=True))
    try:
        if cmd == "_run":       # a rank started by run_child (mpiexec/srun)
            return signals.rank_exit_code(run_deck(rest[0]), world().rank)
        if cmd == "version":
            print(__version__)
            return 0
        if cmd in COMMANDS:
            return COMMANDS[cmd](rest)
        if cmd.endswith(".toml") or os.path.isfile(cmd):
            return cmd_run_deck(argv)
        _err(f"unknown command {cmd!r}; try ./run help")
        return EXIT_INPUT
    except InputError as e:
        _err(str(e))
        return EXIT_INPUT
    except SystemFault as e:
        _err(str(e))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:     # ./run show FILE | head
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
