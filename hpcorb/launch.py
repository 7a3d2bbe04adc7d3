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
75 checkpoint written after SIGTERM/SIGUSR1 (run the same command to resume),
1 failure (message names the rank).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import traceback

from .errors import EXIT_CHECKPOINTED, EXIT_FAILED, EXIT_INPUT, CheckpointStop, InputError

HELP = __doc__


def _err(msg: str) -> None:
    print(f"hpcorb: error: {msg}", file=sys.stderr, flush=True)


def _python() -> str:
    return sys.executable


def in_slurm() -> bool:
    return "SLURM_JOB_ID" in os.environ and shutil.which("srun") is not None


def mpi_command(n: int | None, argv: list[str]) -> list[str]:
    """How to start ``python -m hpcorb.launch ARGV`` on n ranks."""
    py = [_python(), "-P", "-m", "hpcorb.launch", *argv]
    if in_slurm():
        return ["srun", *([f"--ntasks={n}"] if n else []), "--kill-on-bad-exit=1", *py]
    mpiexec = shutil.which("mpiexec") or "mpiexec"
    return [mpiexec, "-n", str(n), "--bind-to", "none", *py]


def run_child(cmd: list[str]) -> int:
    """Run a launcher; SIGTERM/SIGUSR1 to us become SIGUSR1 to it (Open MPI and
    srun forward SIGUSR1 to every rank, where the engine checkpoints).
    One BLAS/OpenMP thread per rank unless the user set OMP_NUM_THREADS."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, frame):
        try:
            proc.send_signal(signal.SIGUSR1)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGUSR1)}
    old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends it to mpiexec too
    try:
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return rc if rc >= 0 else 128 - rc


# --------------------------------------------------------------------------
def validate(path: str, *, build=True):
    """Everything that can be checked before starting ranks; raises InputError."""
    from .calculations import get_calculation
    from .config import checkpoint_path, load_deck, require_writable_output
    from .parallel.checkpoint import Checkpoint
    deck = load_deck(path)
    require_writable_output(deck)
    module = get_calculation(deck.type)
    if build and hasattr(module, "validate"):
        module.validate(deck)
    Checkpoint(checkpoint_path(deck), deck.physics_hash()).verify()
    return deck, module


def cmd_check(args) -> int:
    if len(args) != 1:
        _err("usage: ./run check DECK.toml")
        return EXIT_INPUT
    deck, module = validate(args[0])
    print(f"{args[0]}: valid {deck.type} deck; results -> {deck['output']['file']}")
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
    validate(path)          # one-line errors before any rank starts
    if in_slurm():
        return run_child(mpi_command(n, ["_run", path]))
    if n is None or n == 1:
        return run_deck(path)
    return run_child(mpi_command(n, ["_run", path]))


def run_deck(path: str) -> int:
    """Run a deck on this process's ranks (called on every rank)."""
    from .calculations import get_calculation
    from .config import checkpoint_path, load_deck, require_writable_output
    from .io.results import now_iso, write_results
    from .log import Logger
    from .parallel import world
    from .parallel.checkpoint import Checkpoint
    from .parallel.engine import RankFailure

    from .parallel import signals
    signals.install()       # SIGTERM/SIGUSR1 -> checkpoint at the next sync, not death
    comm = world()
    started = now_iso()
    log = Logger(comm)
    stage = "setup"
    try:
        deck = load_deck(path)
        msg = None
        if comm.rank == 0:
            try:
                require_writable_output(deck)
            except InputError as e:
                msg = str(e)
        msg = comm.bcast(msg)
        if msg:
            raise InputError(msg)
        out = deck["output"]["file"]
        ckpt = Checkpoint(checkpoint_path(deck), deck.physics_hash())
        msg = None
        if comm.rank == 0:
            try:
                ckpt.verify()
            except InputError as e:
                msg = str(e)
        msg = comm.bcast(msg)
        if msg:
            raise InputError(msg)
        log = Logger(comm, path=os.path.splitext(out)[0] + ".log")
        log(f"hpcorb {deck.type}: deck {deck.path} on {comm.size} rank{'s' if comm.size > 1 else ''}")
        module = get_calculation(deck.type)
        stage = "run"
        results = module.run(deck, comm, log, ckpt)
        stage = "write"
        write_results(out, results, comm, log, deck_text=deck.text, deck_path=deck.path,
                      started=started)
        log(f"results written to {out}")
        if comm.rank == 0:
            ckpt.remove()
            _after_run(out, deck, module, log)
        comm.barrier()
        return 0
    except CheckpointStop:
        log.info("checkpoint written; exiting with code 75 (run the same command again to resume)")
        return EXIT_CHECKPOINTED
    except RankFailure as e:
        if comm.rank == 0:
            log.error(str(e))
        return EXIT_FAILED
    except InputError as e:
        if stage == "setup" or comm.size == 1:
            if comm.rank == 0:
                _err(str(e))
            return EXIT_INPUT
        log.error(str(e))
        comm.abort(EXIT_INPUT)
    except Exception as e:  # a bug or a system problem: full traceback into the log
        log.error(f"{type(e).__name__}: {e} (during {stage}; traceback follows)")
        traceback.print_exc()
        if log.file:
            traceback.print_exc(file=log.file)
        if comm.size > 1:
            comm.abort(EXIT_FAILED)
        return EXIT_FAILED
    finally:
        log.close()


def _after_run(out, deck, module, log):
    import h5py
    try:
        with h5py.File(out, "r") as h5:
            text = module.summary(h5) if hasattr(module, "summary") else ""
            if text:
                print(text, flush=True)
            if deck["output"]["plots"] and hasattr(module, "plot"):
                paths = module.plot(h5, os.path.splitext(out)[0])
                for p in paths:
                    log(f"figure: {p}")
    except Exception as e:  # a figure must never cost the results
        log(f"warning: summary/plot failed ({type(e).__name__}: {e}); results are intact")


# --------------------------------------------------------------------------
def _open_results(path):
    import h5py
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        h5 = h5py.File(path, "r")
    except Exception as e:
        raise InputError(f"{path}: not a readable HDF5 file ({e})") from None
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
    from .calculations import get_calculation
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
            module = get_calculation(calc)
        except InputError:
            module = None
        if module is not None and hasattr(module, "summary"):
            print("== summary")
            print(module.summary(h5))
        print("== deck")
        print(_attr_str(h5.attrs.get("deck", "")).rstrip())
    return 0


def cmd_plot(args) -> int:
    from .calculations import get_calculation
    if len(args) != 1:
        _err("usage: ./run plot FILE.h5")
        return EXIT_INPUT
    with _open_results(args[0]) as h5:
        module = get_calculation(_attr_str(h5.attrs["calculation"]))
        if not hasattr(module, "plot"):
            _err("this calculation has no plots")
            return EXIT_INPUT
        for p in module.plot(h5, os.path.splitext(args[0])[0]):
            print(p)
    return 0


def cmd_keys(args) -> int:
    from .config import keys_markdown
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
    from .parallel import world
    return int(mod.main(args[1:], world()) or 0)


def cmd_export(args) -> int:
    """Write the deck's model as Wannier90 files (io.wannier90.export_model)."""
    if len(args) not in (1, 2):
        _err("usage: ./run export DECK.toml [SEEDNAME]")
        return EXIT_INPUT
    from .config import load_deck
    from .io.wannier90 import export_model
    from .models.build import build_model
    deck = load_deck(args[0])
    seed = args[1] if len(args) == 2 else os.path.splitext(args[0])[0] + "_w90"
    size = deck.get("kmesh", {}).get("size")
    model = build_model(deck["model"], periodic=None if size is None else len(size))
    if model.S is not None:
        from .models.materials import orthogonalized_model
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
    try:
        if cmd == "_run":
            return run_deck(rest[0])
        if cmd == "version":
            from . import __version__
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
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:     # ./run show FILE | head
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
