"""Fault injection (issue 11): signals to every process of a run, kill -9,
corrupted checkpoints, full and read-only file systems, concurrent runs.

Three tiny calculations stand for the three kinds of checkpointable stage:
a k-space engine run (dos), an interface sweep, and the sparse (SLEPc)
trilayer windows.  Every interrupted run is resumed on a different number of
ranks and compared with an uninterrupted serial run (rtol = atol = 1e-12,
quantities in their natural units: states/eV, t, hbar...).

The signal matrix covers every (target, signal) pair once -- targets
launcher, mpiexec, rank 0, the launcher's process group; signals SIGTERM,
SIGUSR1, SIGINT -- and deals the pairs over the three calculations so that
each calculation meets every target and every signal (12 runs, not 36).
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from helpers import write_deck

from hpcorb.errors import InputError
from hpcorb.launch import acquire_lock, lock_holder, release_lock
from hpcorb.parallel import signals, world
from hpcorb.parallel.comm import SerialComm
from hpcorb.parallel.engine import PeerLost, Plan, _Sync, run_chunks

CALCS = ("kspace", "sweep", "sparse")


def tables(calc, out="r.h5", **output):
    o = {"file": out, "overwrite": True, "plots": False, **output}
    if calc == "kspace":
        return {"calculation": {"type": "dos"},
                "model": {"builtin": "cubic", "params": {"t": 1.0}, "electrons": 0.8},
                "kmesh": {"size": [30, 30, 30], "shift": [0.5, 0.5, 0.5], "chunk_size": 500,
                          "symmetry": False},    # the full mesh: enough chunks for the fault points
                "dos": {"broadening": 0.05, "bins": 20000}, "output": o,
                "parallel": {"sync_interval": 0.0}}
    if calc == "sweep":
        return {"calculation": {"type": "interface"},
                "interface": {"nz": 11, "tolerance": 1e-6, "limits_tolerance": 1e-8,
                              "sweep": {"parameter": "U", "values": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}},
                "output": o, "parallel": {"sync_interval": 0.0}}
    return {"calculation": {"type": "trilayer"},
            "trilayer": {"nx": 6, "ny": 4, "n_fm": 1, "mu": -1.0, "temperature": 0.05,
                         "m_left": [1.0, 0.0, 0.0], "m_right": [0.0, 1.0, 0.0], "disorder": 0.5,
                         "seed": 3, "solver": "sparse", "sparse": {"window_nev": 12}},
            "output": o, "parallel": {"sync_interval": 0.0, "progress_interval": 0.5}}


def _env(extra=None):
    e = dict(os.environ)
    # idle ranks yield the core: on a busy 2-core machine busy-polling ranks crawl
    e.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    for k in ("HPCORB_FAULT", "HPCORB_FAULT_READY", "HPCORB_FAULT_SLOW"):
        e.pop(k, None)
    e.update(extra or {})
    return e


def _session(sid):
    """Live (not zombie) processes of session ``sid``: a launcher started with
    start_new_session, its mpiexec (own process group, same session) and the ranks."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] not in "ZX":
            out.append(int(d))
    return out


def _kill_session(sid):
    """SIGKILL every process of session ``sid`` (a test that timed out leaves nothing behind)."""
    for pid in _session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _no_leftovers(sid, timeout=60):
    """Wait until session ``sid`` is empty; fail (after killing what is left) if it is not."""
    t0 = time.time()
    while _session(sid):
        if time.time() - t0 > timeout:
            left = _session(sid)
            _kill_session(sid)
            raise AssertionError(f"processes outlived the run: {left}")
        time.sleep(0.1)


def cli(args, cwd, env=None, timeout=300):
    """Run the launcher in a session of its own; on a timeout everything it
    started (mpiexec, ranks) is killed too, and the test fails."""
    proc = subprocess.Popen([sys.executable, "-P", "-m", "hpcorb.launch", *args], cwd=cwd, env=_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(proc.pid)
        out, err = proc.communicate()
        raise AssertionError(f"run timed out after {timeout} s: {err[-3000:]}") from None
    finally:
        if proc.poll() is None:
            _kill_session(proc.pid)
            proc.wait()
    _no_leftovers(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if hasattr(obj, "shape") and obj.dtype.kind in "fc" and "seconds" not in name:  # wall times differ
                out[name] = obj[()]
        f.visititems(visit)
    return out


def assert_same(path, ref):
    a, b = datasets(path), datasets(ref)
    assert a.keys() == b.keys()
    for name in b:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """Uninterrupted serial runs of the three calculations."""
    d = tmp_path_factory.mktemp("refs")
    out = {}
    for calc in CALCS:
        deck = write_deck(d / f"{calc}.toml", tables(calc, out=f"{calc}.h5"))
        r = cli([deck], cwd=d)
        assert r.returncode == 0, r.stderr
        out[calc] = str(d / f"{calc}.h5")
    return out


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _wait_for(path, proc, timeout=120):
    t0 = time.time()
    while not os.path.exists(path) or not open(path).read().strip():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, "run never reached its first work item"
        time.sleep(0.05)
    return int(open(path).read())


SIGS = ("SIGTERM", "SIGUSR1", "SIGINT")
TARGETS = ("launcher", "mpiexec", "rank0", "group")
# the full product: every signal to every target on every calculation (36 cases), run on
# 2 ranks and resumed on 1 or 3
MATRIX = [(t, s, c, (1, 3)[(i + j + k) % 2])
          for i, t in enumerate(TARGETS) for j, s in enumerate(SIGS) for k, c in enumerate(CALCS)]


MATRIX_PARAMS = [pytest.param(*m, id=f"{m[0]}-{m[1]}-{m[2]}") for m in MATRIX]


@pytest.mark.parametrize("target,sig,calc,resume_ranks", MATRIX_PARAMS)
def test_signal_checkpoint_exit75_and_resume(tmp_path, refs, target, sig, calc, resume_ranks):
    deck = write_deck(tmp_path / "d.toml", tables(calc))
    ready = tmp_path / "ready"
    # mpiexec passes SIGTERM/SIGINT on only after its grace period (launch.MPIEXEC_GRACE_S):
    # the run must still be going then (k-space: 54 chunks on 2 ranks, each followed by this
    # sleep; the sweep and the sparse solve have only a handful of points / windows)
    slow = {"kspace": "0.8", "sweep": "3", "sparse": "4"}[calc] if target == "mpiexec" else "0.3"
    env = _env({"HPCORB_FAULT_SLOW": slow, "HPCORB_FAULT_READY": str(ready)})
    proc = subprocess.Popen([sys.executable, "-P", "-m", "hpcorb.launch", deck, "-n", "2"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        rank0 = _wait_for(str(ready), proc)
        signum = getattr(signal, sig)
        if target == "launcher":
            os.kill(proc.pid, signum)
        elif target == "mpiexec":
            os.kill(_children(proc.pid)[0], signum)
        elif target == "rank0":
            os.kill(rank0, signum)
        else:
            os.killpg(proc.pid, signum)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            _kill_session(proc.pid)
            proc.wait()
    _no_leftovers(proc.pid)
    assert proc.returncode == 75, (proc.returncode, err[-3000:])
    # the log names the signal received: the launcher's own, or the rank's
    # (mpiexec turns SIGINT into SIGTERM for its ranks: that is what they received)
    want = {"launcher": f"received {sig} (to the launcher", "group": f"received {sig} (to the launcher",
            "rank0": f"received {sig}", "mpiexec": "received SIGTERM" if sig == "SIGINT" else f"received {sig}"}
    assert want[target] in err, err[-3000:]
    assert "checkpoint written" in err
    assert os.path.exists(tmp_path / "r.h5.ckpt") and not os.path.exists(tmp_path / "r.h5")
    assert not glob.glob(str(tmp_path / ".hpcorb-run-*"))      # the launcher's status folder is gone
    r = cli([deck, "-n", str(resume_ranks)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from checkpoint" in r.stderr
    assert_same(tmp_path / "r.h5", refs[calc])
    assert not os.path.exists(tmp_path / "r.h5.ckpt") and not os.path.exists(tmp_path / "r.h5.lock")


KILLS = [("kspace", 3), ("kspace", 25), ("sweep", 2), ("sparse", 2), ("sparse", 6)]


@pytest.mark.parametrize("calc,at", [pytest.param(c, n, id=f"{c}-{n}") for c, n in KILLS])
def test_kill9_on_two_ranks_and_resume_serially(tmp_path, refs, calc, at):
    """Rank 0 is killed (SIGKILL) after its at-th work item (chunk, sweep point or
    sparse window) of a 2-rank run; the run resumes on 1 rank."""
    deck = write_deck(tmp_path / "d.toml", tables(calc, checkpoint_interval=1e-6))
    r = cli([deck, "-n", "2"], cwd=tmp_path, env={"HPCORB_FAULT": f"kill:{at}"})   # no process left (cli)
    assert r.returncode not in (0, 75), r.stderr[-2000:]
    if calc != "sparse":    # the engine's sync: the survivor says who died instead of waiting
        assert "rank 0 (pid" in r.stderr and "died while rank 1 waited" in r.stderr, r.stderr[-2000:]
    assert os.path.exists(tmp_path / "r.h5.ckpt") and not os.path.exists(tmp_path / "r.h5")
    assert not glob.glob(str(tmp_path / "*.tmp*"))
    r = cli([deck], cwd=tmp_path)          # the dead run's lock is stale: taken over
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from checkpoint" in r.stderr
    assert_same(tmp_path / "r.h5", refs[calc])


# ---- corrupted checkpoints --------------------------------------------------

def _flip(path, dataset):
    with h5py.File(path, "r") as f:
        d = f[dataset]
        pos = d.id.get_offset() + d.id.get_storage_size() // 2
    with open(path, "r+b") as fh:
        fh.seek(pos)
        b = fh.read(1)
        fh.seek(pos)
        fh.write(bytes([b[0] ^ 0x01]))


def _ckpt_datasets(path):
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append(n) if hasattr(o, "shape") else None)
    return names


@pytest.mark.parametrize("calc,at", [("kspace", 20), ("sparse", 3)])
def test_flipped_byte_in_every_dataset_refused_good_checkpoint_resumes(tmp_path, refs, calc, at):
    deck = write_deck(tmp_path / "d.toml", tables(calc, checkpoint_interval=1e-6))
    assert cli([deck], cwd=tmp_path, env={"HPCORB_FAULT": f"kill:{at}"}).returncode == -9
    ck = tmp_path / "r.h5.ckpt"
    good = ck.read_bytes()
    names = _ckpt_datasets(ck)
    assert len(names) >= 3
    for name in names:
        ck.write_bytes(good)
        _flip(ck, name)
        bad = ck.read_bytes()
        r = cli([deck], cwd=tmp_path)
        assert r.returncode == 2, (name, r.stderr[-2000:])
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "corrupted" in lines[0] and name.split("/", 1)[1] in lines[0], lines
        assert not ck.exists()                                  # renamed aside, never deleted
        aside = sorted(glob.glob(str(ck) + ".corrupt*"))[-1]
        assert open(aside, "rb").read() == bad
        assert not (tmp_path / "r.h5").exists()
    ck.write_bytes(good)
    r = cli([deck, "-n", "2"] if calc == "kspace" else [deck], cwd=tmp_path)
    assert r.returncode == 0 and "resuming from checkpoint" in r.stderr, r.stderr[-2000:]
    assert_same(tmp_path / "r.h5", refs[calc])


# ---- file systems --------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MB tmpfs mounted for the test (root only), unmounted afterwards."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    mounted = []

    def mount(opts="size=1m"):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)], capture_output=True)
        if r.returncode != 0:
            pytest.skip("cannot mount a tmpfs (needs root)")
        mounted.append(mnt)
        return mnt
    yield mount
    for m in mounted:
        subprocess.run(["umount", str(m)], check=False)


def _fill(folder, leave):
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(folder, "filler"), "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def _one_error(stderr):
    errs = [ln for ln in stderr.splitlines() if ln.startswith("hpcorb: error")]
    assert len(errs) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return errs[0]


def test_disk_full_checkpoint_results_untouched(tmp_path, refs, tmpfs):
    fs = tmpfs()
    shutil.copy(refs["kspace"], fs / "r.h5")                 # previous results of this deck
    before = (fs / "r.h5").read_bytes()
    deck = write_deck(tmp_path / "d.toml", tables("kspace", out=str(fs / "r.h5"), checkpoint_interval=1e-6))
    _fill(fs, 40_000)
    r = cli([deck], cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    line = _one_error(r.stderr)
    assert "checkpoint" in line and "No space left" in line
    assert (fs / "r.h5").read_bytes() == before
    assert sorted(os.listdir(fs)) == ["filler", "r.h5", "r.log"]     # no temp file, no lock


def test_disk_full_results_keeps_checkpoint_then_resumes(tmp_path, refs, tmpfs):
    fs = tmpfs()
    deck = write_deck(tmp_path / "d.toml", tables("kspace", out=str(fs / "r.h5"),
                                                  checkpoint_file=str(tmp_path / "c.ckpt")))
    _fill(fs, 30_000)
    r = cli([deck], cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    line = _one_error(r.stderr)
    assert "results" in line and str(fs / "r.h5") in line
    assert sorted(os.listdir(fs)) == ["filler", "r.log"]
    assert (tmp_path / "c.ckpt").exists()                   # the work is kept
    os.remove(fs / "filler")
    r = cli([deck], cwd=tmp_path)
    assert r.returncode == 0 and "resuming from checkpoint" in r.stderr, r.stderr[-2000:]
    assert_same(fs / "r.h5", refs["kspace"])


def test_read_only_checkpoint_folder_refused_by_check(tmp_path, tmpfs):
    fs = tmpfs("size=1m,ro")
    deck = write_deck(tmp_path / "d.toml", tables("kspace", checkpoint_file=str(fs / "c.ckpt")))
    for args in (["check", deck], [deck]):
        r = cli(args, cwd=tmp_path)
        assert r.returncode == 2
        line = _one_error(r.stderr)
        assert "output.checkpoint_file" in line and "not writable" in line
    assert sorted(os.listdir(tmp_path)) == ["d.toml", "fs"]


# ---- concurrent runs --------------------------------------------------------------

def test_second_concurrent_run_refused_then_stale_lock_taken_over(tmp_path):
    deck = write_deck(tmp_path / "d.toml", tables("kspace"))
    ready = tmp_path / "ready"
    first = subprocess.Popen([sys.executable, "-P", "-m", "hpcorb.launch", deck], cwd=tmp_path,
                             env=_env({"HPCORB_FAULT_SLOW": "0.2", "HPCORB_FAULT_READY": str(ready)}),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(str(ready), first)
        lock = (tmp_path / "r.h5.lock").read_text().split()
        assert int(lock[0]) == first.pid and len(lock) == 2            # PID and host
        r = cli([deck], cwd=tmp_path)
        assert r.returncode == 2
        line = _one_error(r.stderr)
        assert "in use by another run" in line and str(first.pid) in line
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
        assert first.returncode == 75
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # a lock left by a process that is gone (kill -9) is taken over
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "r.h5.lock").write_text(f"{dead.pid} {os.uname().nodename}\n")
    r = cli([deck], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (tmp_path / "r.h5.lock").exists()


def test_lock_of_an_earlier_incarnation_of_this_slurm_job_is_taken_over(tmp_path, monkeypatch):
    """A Slurm job killed (kill -9, node failure) and requeued keeps its job id and
    counts SLURM_RESTART_COUNT up, maybe on another node: its old lock is stale.
    A lock of the same incarnation on another node (a second step of this job),
    of another job, or without a job stays live: refused."""
    out = str(tmp_path / "r.h5")
    lock = tmp_path / "r.h5.lock"
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    lock.write_text("12345 node-that-died 4242 0\n")
    assert lock_holder(str(lock)) is None
    assert acquire_lock(out) == str(lock)
    assert lock.read_text().split() == [str(os.getpid()), socket.gethostname(), "4242", "1"]
    release_lock(str(lock))
    assert not lock.exists()
    for text in ("12345 othernode 4242 1\n", "12345 othernode 777 0\n", "12345 othernode\n"):
        lock.write_text(text)
        with pytest.raises(InputError, match=r"in use by another run \(pid 12345 on othernode"):
            acquire_lock(out)
        assert lock.read_text() == text                    # a live run's lock is never touched
    # the same through the command line: ./run check judges the lock the same way
    deck = write_deck(tmp_path / "d.toml", tables("kspace"))
    lock.write_text("12345 node-that-died 4242 0\n")
    slurm = {"SLURM_JOB_ID": "4242", "SLURM_RESTART_COUNT": "1"}
    assert cli(["check", deck], cwd=tmp_path, env=slurm).returncode == 0
    r = cli(["check", deck], cwd=tmp_path, env={**slurm, "SLURM_RESTART_COUNT": "0"})
    assert r.returncode == 2 and "in use by another run" in _one_error(r.stderr)


def test_warnings_become_one_log_line():
    import io
    import warnings

    from hpcorb.log import Logger, capture_warnings
    buf = io.StringIO()
    log = Logger(None, stream=buf)
    with warnings.catch_warnings():          # restores showwarning afterwards
        warnings.simplefilter("always")
        capture_warnings(log.warning)
        np.log(np.zeros(2))                  # RuntimeWarning: divide by zero
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 and "warning: RuntimeWarning: divide by zero" in lines[0], lines


def test_numpy_warning_in_a_run_is_one_log_line(tmp_path):
    """An overflow inside a kernel (cosh of d/lambda = 1e8) used to print the raw
    RuntimeWarning with its source line; now it is one log line."""
    deck = write_deck(tmp_path / "d.toml", {
        "calculation": {"type": "bilayer"},
        "bilayer": {"d_N": 1e5, "lambda_s_N": 1e-3, "points": 11},
        "output": {"file": "r.h5", "plots": False}})
    r = cli([deck], cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    hits = [ln for ln in r.stderr.splitlines() if "Warning" in ln]
    assert hits and all(ln.startswith("[hpcorb") and "warning: RuntimeWarning" in ln for ln in hits), hits
    assert "np.cosh" not in r.stderr                     # no source line echoed
    assert "RuntimeWarning" in (tmp_path / "r.log").read_text()


def test_kill9_of_the_launcher_leaves_a_checkpoint_and_no_orphans(tmp_path, refs):
    """kill -9 of the launcher: no handler runs, nothing is forwarded.  The ranks
    watch the launcher (signals.watch) and treat its death like a SIGTERM:
    checkpoint at the next sync, exit 75 (said in the log, nobody is left to get
    the code); mpiexec (PR_SET_PDEATHSIG -> SIGTERM) ends after its grace
    period at the latest.  Nothing of the run is left afterwards."""
    deck = write_deck(tmp_path / "d.toml", tables("kspace"))
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-P", "-m", "hpcorb.launch", deck, "-n", "2"], cwd=tmp_path,
                            env=_env({"HPCORB_FAULT_SLOW": "0.3", "HPCORB_FAULT_READY": str(ready)}),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(str(ready), proc)
        assert len(_session(proc.pid)) >= 4           # launcher, mpiexec, 2 ranks
        proc.kill()
        proc.wait()
        _no_leftovers(proc.pid, timeout=90)           # mpiexec and both ranks, not only rank 0
    finally:
        _kill_session(proc.pid)
    log = (tmp_path / "r.log").read_text()
    assert "the launcher (pid" in log and "is gone" in log, log[-2000:]
    assert "checkpoint written" in log and "exiting with code 75" in log, log[-2000:]
    assert (tmp_path / "r.h5.ckpt").exists() and not (tmp_path / "r.h5.lock").exists()
    assert not (tmp_path / "r.h5").exists()
    assert not glob.glob(str(tmp_path / ".hpcorb-run-*"))      # rank 0 removed the dead launcher's folder
    r = cli([deck, "-n", "2"], cwd=tmp_path)
    assert r.returncode == 0 and "resuming from checkpoint" in r.stderr, r.stderr[-2000:]
    assert_same(tmp_path / "r.h5", refs["kspace"])


def test_third_ctrl_c_stops_at_once(tmp_path):
    """Two Ctrl-C mean 'checkpoint and stop'; a third one means 'now' (exit 130)."""
    deck = write_deck(tmp_path / "d.toml", tables("kspace"))
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-P", "-m", "hpcorb.launch", deck], cwd=tmp_path,
                            env=_env({"HPCORB_FAULT_SLOW": "2", "HPCORB_FAULT_READY": str(ready)}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(str(ready), proc)
        for _ in range(3):
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.1)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert not (tmp_path / "r.h5").exists() and not (tmp_path / "r.h5.lock").exists()


# ---- the engine's waits end ----------------------------------------------------

def _count_kernel(start, stop):
    return {"n": np.array([float(stop - start)]), "s": np.array([float(sum(range(start, stop)))])}


@pytest.mark.mpi
def test_static_dealing_with_a_sync_interval_ends(monkeypatch):
    """Static (lock-step) dealing posts one sync per chunk whatever sync_seconds
    says: a rank that skipped a post because its sync was not yet due waited
    for ever in _Sync.wait, and so did every other rank (a hang under
    HPCORB_STATIC_DEAL=1 or fault injection with the default 2 s interval)."""
    monkeypatch.setenv("HPCORB_STATIC_DEAL", "1")
    out = run_chunks(Plan(41, 4), _count_kernel, {"n": ((1,), float), "s": ((1,), float)}, world(),
                     sync_seconds=3600.0)
    assert out["n"][0] == 41 and out["s"][0] == 41 * 40 / 2


class _NeverComm(SerialComm):
    """Two ranks whose non-blocking sum never completes (the other rank is gone)."""
    size = 2

    def iallreduce_sum(self, array):
        class Never:
            def Test(self):
                return False
        return Never(), np.zeros_like(array)


def test_sync_wait_ends_when_a_peer_on_this_host_is_dead():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sync = _Sync(_NeverComm(), peers=[(1, dead.pid, None)])
    sync.CHECK_EVERY = 0.05
    sync.post([0, 0, 0, 0, 0])
    with pytest.raises(PeerLost, match=f"rank 1 \\(pid {dead.pid}\\) died"):
        sync.wait()
    # a live peer is waited for (until it posts): no false alarm
    sync = _Sync(_NeverComm(), peers=[(1, os.getpid(), signals.proc_start(os.getpid()))])
    sync.CHECK_EVERY = 0.01
    assert sync._lost(1.0) is None


def test_rank_exit_codes_under_the_launcher(monkeypatch):
    """A rank started by the launcher tells mpiexec 0 when rank 0 recorded the
    run's code (mpiexec would abort the job on 75 and wait out its grace
    period); without the status file the code is passed on."""
    monkeypatch.delenv("HPCORB_STATUS_FILE", raising=False)
    assert signals.rank_exit_code(75, 0) == 75 and signals.rank_exit_code(75, 1) == 75
    monkeypatch.setenv("HPCORB_STATUS_FILE", "/nonexistent/folder/status")
    monkeypatch.setattr(signals.STATE, "caught", None)
    assert not signals.write_status(75)
    assert signals.rank_exit_code(75, 0) == 75          # rank 0 could not record it
    assert signals.rank_exit_code(75, 1) == 0
    assert signals.rank_exit_code(0, 0) == 0
