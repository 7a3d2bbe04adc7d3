"""``./run bench bilayer``: parameter points per second of the bilayer solver.

1. the batched solver (:func:`hpcorb.kernels.driftdiffusion.torque`: one
   ``numpy.linalg.solve`` over an (n, 8, 8) stack) vs a per-point Python loop
   calling the same solver one point at a time (same numbers, checked);
2. the same sweep through the engine (``run_chunks``, mode "stack") on the
   ranks this benchmark was started with (``./run bench bilayer`` is serial;
   ``mpiexec -n N python -m hpcorb.launch bench bilayer`` uses N ranks).
Every rate is the median of ``--repeat`` timings; the ratio batched/loop is
printed from the same run.
"""
from __future__ import annotations

import argparse

import numpy as np

from ..kernels import driftdiffusion as dd
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from .timing import median_time

PARAMS = dict(d_N=5.0, d_F=5.0, lambda_s_N=3.0, lambda_o_N=5.0, lambda_o_F=5.0, lambda_sf=3.0,
              lambda_phi=1.0, lambda_J=0.5, sigma_s_N=1e6, sigma_o_N=1e6, sigma_s_F=1e6, sigma_o_F=1e6,
              sigma_SHE=1e5, sigma_OHE=1e5, E=1e4, P_os=0.5, P_so=0.5, G_s=1e15, G_o=1e15,
              G_os=1e14, G_so=1e14)


def _points(n):
    p = {k: np.full(n, v) for k, v in PARAMS.items()}
    p["d_F"] = np.linspace(0.2, 30.0, n)
    p["lambda_o_F"] = np.linspace(1.0, 20.0, n)[::-1].copy()
    return p



def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench bilayer", description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=20000, help="points of the batched solve (default 20000)")
    ap.add_argument("--loop-points", type=int, default=1000, help="points of the per-point loop (default 1000)")
    ap.add_argument("--repeat", type=int, default=5, help="timings per measurement; the median is used")
    ap.add_argument("--boundary", default="conductance", choices=dd.BOUNDARIES)
    a = ap.parse_args(argv)
    if a.points < 1 or a.loop_points < 1 or a.repeat < 1:
        print("bench bilayer: --points, --loop-points, --repeat must be >= 1")
        return 2
    rank0 = comm.rank == 0
    out = {}
    if rank0:
        pb, pl = _points(a.points), _points(a.loop_points)
        # same numbers both ways (on the loop's points)
        chk = np.max(np.abs(dd.torque(pl, a.boundary) - dd.torque_loop(pl, a.boundary))
                     / np.abs(dd.torque(pl, a.boundary)))
        tb = median_time(lambda: dd.torque(pb, a.boundary), a.repeat)
        tl = median_time(lambda: dd.torque_loop(pl, a.boundary), a.repeat)
        out = {"batched": a.points / tb, "loop": a.loop_points / tl, "check": chk}
    # engine sweep on all ranks
    pe = _points(a.points)
    n = a.points

    def kernel(start, stop):
        return {"torque": dd.torque({k: v[start:stop] for k, v in pe.items()}, a.boundary)}

    def sweep():
        return run_chunks(Plan(n, default_chunk_size(n, 0.01)), kernel, {"torque": ((), complex)}, comm,
                          mode="stack", label="points")
    comm.barrier()
    te = median_time(sweep, a.repeat)
    if rank0:
        print(f"bench bilayer: boundary = {a.boundary}, median of {a.repeat} timings")
        print(f"  batched solver        {out['batched']:14.4g} points/s  ({a.points} points in one call)")
        print(f"  per-point Python loop {out['loop']:14.4g} points/s  ({a.loop_points} points)")
        print(f"  ratio batched / loop  {out['batched'] / out['loop']:14.1f}")
        print(f"  max relative difference batched vs loop: {out['check']:.1e}")
        print(f"  engine sweep (run_chunks stack, chunk {default_chunk_size(n, 0.01)}) on {comm.size} rank"
              f"{'s' if comm.size > 1 else ''}: {n / te:.4g} points/s")
    return 0
