"""``./run bench engine``: ratios of the k-mesh engine, measured in one run.

1. overhead: the engine with a trivial per-k kernel vs a bare Python loop
   over the same k-points calling the same per-k function (ratio ~1 is
   ideal; the engine adds chunk bookkeeping and sync points);
2. parallel speed: the same compute-bound job (eigenvalues of a
   48-orbital random tight-binding model on a k-mesh) on 1 and on 2 ranks,
   each started as its own mpiexec job; speed-up = t(1) / t(2);
3. checkpoint overhead at the default interval (300 s): the time of one
   checkpoint of a realistic size divided by 300 s, and a direct measurement
   with a 1 s interval scaled to 300 s.
Every time is the median of ``--repeat`` runs (default 5); the machine is
shared and noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

from ..parallel import SerialComm
from ..parallel.checkpoint import Checkpoint
from ..parallel.engine import Plan, run_chunks
from ..parallel.kmesh import KMesh
from ..launch import mpi_command
from ..models.tbmodel import TBModel
from ..parallel import world


def _random_model(n=48, seed=1):
    rng = np.random.default_rng(seed)
    R = [(0, 0, 0)]
    for v in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1)]:
        R += [v, tuple(-x for x in v)]
    H = np.zeros((len(R), n, n), complex)
    H[0] = rng.normal(size=(n, n))
    H[0] = H[0] + H[0].T
    for i in range(1, len(R), 2):
        h = 0.3 * (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        H[i], H[i + 1] = h, h.conj().T
    return TBModel(lattice=np.eye(3) * 3, R=R, H=H, positions=np.zeros((n, 3)))


def _trivial(k):
    return k[0] * k[1] + k[2]


def bench_overhead(repeat):
    mesh = KMesh((40, 40, 40))
    plan = Plan(mesh.n, 256)

    def kernel(start, stop):
        kf = mesh.frac(start, stop)
        return {"s": np.array(sum(_trivial(k) for k in kf))}

    t_eng, t_bare = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_chunks(plan, kernel, {"s": ((), float)}, SerialComm())
        t_eng.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s = 0.0
        for k in mesh.frac(0, mesh.n):
            s += _trivial(k)
        t_bare.append(time.perf_counter() - t0)
    return statistics.median(t_eng), statistics.median(t_bare), mesh.n


def compute_job(nk_side):
    """The compute-bound job (run by the worker on each rank count)."""
    comm = world()
    model = _random_model()
    mesh = KMesh((nk_side,) * 3)

    def kernel(start, stop):
        e = np.linalg.eigvalsh(model.hk(mesh.frac(start, stop)))
        return {"s": e.sum(axis=0)}

    comm.barrier()
    t0 = time.perf_counter()
    out = run_chunks(Plan(mesh.n, 16), kernel, {"s": ((model.norb,), float)}, comm)
    comm.barrier()
    return time.perf_counter() - t0, float(out["s"].sum())


def bench_parallel(repeat, nk_side):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    times = {1: [], 2: []}
    checks = {}
    for _ in range(repeat):
        for n in (1, 2):
            cmd = mpi_command(n, ["bench", "engine", "--worker", str(nk_side)])
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode or not line:
                raise RuntimeError(f"worker on {n} ranks failed: {out.stderr[-500:]}")
            data = json.loads(line[-1])
            times[n].append(data["time"])
            checks[n] = data["check"]
    return statistics.median(times[1]), statistics.median(times[2]), checks


def bench_checkpoint(repeat):
    """One checkpoint of a large-ish state (a 2e5-bin histogram and a
    [1000 energies x 33 layers x 36] layer-resolved array, ~12 MB)."""
    sums = {"hist": np.random.default_rng(0).random(200000),
            "layers": np.random.default_rng(1).random((1000, 33, 36))}
    plan = Plan(160000, 40)
    done = np.zeros(plan.n_chunks, bool)
    done[: plan.n_chunks // 2] = True
    ts = []
    with tempfile.TemporaryDirectory() as d:
        ck = Checkpoint(os.path.join(d, "b.ckpt"), "bench")
        for _ in range(repeat):
            t0 = time.perf_counter()
            ck.save_stage("main", plan, "sum", done, sums)
            ts.append(time.perf_counter() - t0)
    size_mb = sum(a.nbytes for a in sums.values()) / 1e6
    return statistics.median(ts), size_mb


class _CountingCheckpoint(Checkpoint):
    saves = 0

    def save_stage(self, *args):
        self.saves += 1
        super().save_stage(*args)


def bench_checkpoint_direct(repeat):
    """The same run with checkpoints every 0.25 s and without any; the extra
    time divided by the number of checkpoints actually written."""
    mesh = KMesh((40, 40, 40))
    model = _random_model(24)

    def kernel(start, stop):
        return {"s": np.linalg.eigvalsh(model.hk(mesh.frac(start, stop))).sum(axis=0),
                "h": np.zeros(200000)}

    tmpl = {"s": ((24,), float), "h": ((200000,), float)}
    per = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(repeat):
            t0 = time.perf_counter()
            run_chunks(Plan(mesh.n, 16), kernel, tmpl, SerialComm(), sync_seconds=0.05)
            t_no = time.perf_counter() - t0
            ck = _CountingCheckpoint(os.path.join(d, f"c{i}.ckpt"), "bench")
            t0 = time.perf_counter()
            run_chunks(Plan(mesh.n, 16), kernel, tmpl, SerialComm(), checkpoint=ck,
                       checkpoint_interval=0.25, sync_seconds=0.05)
            t_ck = time.perf_counter() - t0
            per.append((t_ck - t_no) / ck.saves)
    return statistics.median(per), ck.saves


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench engine", description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nk", type=int, default=28, help="mesh side of the compute-bound job")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        t, check = compute_job(a.worker)
        if comm.rank == 0:
            print(json.dumps({"time": t, "check": check}), flush=True)
        return 0
    print(f"hpcorb engine benchmark (medians of {a.repeat}; machine: {os.cpu_count()} cores)")
    te, tb, nk = bench_overhead(a.repeat)
    print(f"1. overhead: engine {te * 1e3:.1f} ms vs bare loop {tb * 1e3:.1f} ms over {nk} k "
          f"-> ratio engine/bare = {te / tb:.3f}")
    t1, t2, checks = bench_parallel(a.repeat, a.nk)
    same = abs(checks[1] - checks[2]) <= 1e-12 * abs(checks[1])
    print(f"2. parallel: {a.nk}^3 k x eigvalsh(48x48): 1 rank {t1:.2f} s, 2 ranks {t2:.2f} s "
          f"-> speed-up 2 vs 1 = {t1 / t2:.2f}x (target >= 1.8); results equal: {same}")
    tw, mb = bench_checkpoint(a.repeat)
    print(f"3. checkpoint: one write of {mb:.1f} MB takes {tw * 1e3:.1f} ms -> at the default "
          f"interval of 300 s the overhead is {100 * tw / 300:.4f}% of run time (target < 2%)")
    per, nck = bench_checkpoint_direct(a.repeat)
    print(f"   direct: a run with {nck} checkpoints (0.25 s interval) vs none: "
          f"{per * 1e3:.1f} ms extra per checkpoint -> {100 * max(per, 0) / 300:.4f}% at 300 s")
    return 0
