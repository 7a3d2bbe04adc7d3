"""Client-side helpers for the Slurm tests: the ``Slurm`` handle on the
private cluster (slurmcluster.py), the test deck, results comparison."""
from __future__ import annotations

import contextlib
import os
import subprocess
import time

import h5py
import numpy as np

import slurmcluster

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB_SCRIPT = os.path.join(REPO, "slurm", "hpcorb_job.sbatch")
ARRAY_SCRIPT = os.path.join(REPO, "slurm", "hpcorb_array.sbatch")
# The production scripts ask for 2 nodes x 64 tasks and hours; a test job is
# 2 tasks on this one node.
SMALL = ["--nodes=1", "--ntasks=2", "--ntasks-per-node=2", "--mem-per-cpu=300M", "--time=10"]
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def _parse(line: str) -> dict:
    """One ``scontrol show job -o`` record -> {key: value} (values without spaces
    except the last key Command/..., which we do not need)."""
    out = {}
    for word in line.split():
        if "=" in word:
            k, v = word.split("=", 1)
            out.setdefault(k, v)
    return out


class Slurm:
    """Client side of the private cluster: every command gets its SLURM_CONF."""

    def __init__(self, folder, env):
        self.dir = folder
        self.env = env

    def environ(self, **extra) -> dict:
        e = dict(self.env)
        e.pop("HPCORB", None)
        for k in ("HPCORB_FAULT", "HPCORB_FAULT_SLOW", "HPCORB_FAULT_READY"):
            e.pop(k, None)
        e.pop("HPCORB_SRUN_ARGS", None)
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def run(self, cmd, cwd=None, env=None, check=True):
        r = subprocess.run(cmd, cwd=cwd, env=env or self.environ(), capture_output=True, text=True,
                           timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def sbatch(self, args, cwd, env=None) -> str:
        r = self.run(["sbatch", "--parsable", *args], cwd=cwd, env=env)
        return r.stdout.strip().split(";")[0]

    def records(self, job) -> list[dict]:
        """``scontrol show job`` records (one per array task)."""
        r = self.run(["scontrol", "show", "job", "-o", str(job)], check=False)
        return [_parse(ln) for ln in r.stdout.splitlines() if ln.strip()]

    def state(self, job) -> dict:
        recs = self.records(job)
        return recs[0] if recs else {}

    def wait(self, job, *, timeout=180, restarts=0, out=None) -> dict:
        """Wait for a final JobState (after at least `restarts` restarts)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            recs = self.records(job)
            if recs and all(r.get("JobState") in FINAL for r in recs) \
                    and all(int(r.get("Restarts", 0)) >= restarts for r in recs):
                return recs[0] if len(recs) == 1 else recs
            time.sleep(0.3)
        raise AssertionError(f"job {job} not finished after {timeout} s: {self.records(job)}\n"
                             + self.diagnostics(out))

    def wait_for(self, what, ok, timeout=120, out=None):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if ok():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n" + self.diagnostics(out))

    def diagnostics(self, out=None) -> str:
        parts = []
        if out and os.path.exists(out):
            parts.append(f"--- {out}\n" + open(out).read()[-4000:])
        for name in ("slurmctld.log", "slurmd.log"):
            parts.append(f"--- {name}\n" + slurmcluster._tail(os.path.join(self.dir, name), 20))
        return "\n".join(parts)

    @contextlib.contextmanager
    def mpi_default(self, value):
        slurmcluster.set_mpi_default(self.dir, value)
        try:
            yield
        finally:
            slurmcluster.set_mpi_default(self.dir, "none")


# ---------------------------------------------------------------------------
def dos_deck(out, *, checkpoint_interval=None, broadening=0.05):
    """A small cubic-model DOS deck: 20^3 k in 160 chunks of 50 (one sync per
    round, so that a signal is acted on within one chunk)."""
    return {
        "calculation": {"type": "dos"},
        "model": {"builtin": "cubic", "params": {"t": 1.0}, "electrons": 0.8},
        "kmesh": {"size": [20, 20, 20], "shift": [0.5, 0.5, 0.5], "chunk_size": 50,
                  "symmetry": False},            # the full mesh: 160 chunks
        "dos": {"broadening": broadening, "bins": 2000},
        "output": {"file": out, "overwrite": True, "plots": False,
                   "checkpoint_interval": checkpoint_interval},
        "parallel": {"sync_interval": 0.0},
    }


def read_results(path):
    with h5py.File(path, "r") as f:
        return (f["dos/dos"][...], float(f["dos"].attrs["fermi_energy"]), int(f.attrs["mpi_size"]))


def assert_same(path, ref):
    dos, ef, _ = read_results(path)
    np.testing.assert_allclose(dos, ref[0], rtol=1e-12, atol=1e-12 * ref[0].max())
    assert abs(ef - ref[1]) <= 1e-12 * max(1.0, abs(ref[1]))
