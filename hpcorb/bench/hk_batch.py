"""``./run bench hk_batch``: cost per k of H(k) and dH/dk against the number of R vectors.

Three ways of evaluating H(k), dH/dk for the k-points of one engine chunk
(``--chunk`` consecutive points of a ``--mesh``^3 uniform mesh), measured in
one run, medians of ``--repeat``, per-process CPU time (the machine is
shared; wall time is printed beside it):

* ``per-k``: one k-point per call (what the bulk Kubo loop did before),
* ``gemm``: the whole chunk in one product of the phase matrix with H(R)
  (cost ~ nR per k),
* ``batched``: the chunk through TBModel's factorized sum (one product per
  distinct outer k, then a short sum over the inner R component), cost per
  k ~ (n_outer / nk) nR + n_inner.

Models: the bundled SK Pt (spinful, 18 bands, few R) and, when it is beside
the clone, the shared QE + Wannier90 Pt model (18 bands, 1163 R).  The
ratios per-k / batched and gemm / batched are the point; also printed: the
time per k divided by the time of one 18 x 18 eigh (the work H(k) is for).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

SHARED_PT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "dft", "pt_qe", "pt")


def _times(fn, repeat):
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench hk_batch", description=__doc__.split("\n")[0])
    ap.add_argument("--mesh", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seedname", default=os.path.normpath(SHARED_PT),
                    help="Wannier90 seedname of a large-R model (default: the shared QE Pt)")
    args = ap.parse_args(argv)
    if comm.rank != 0:
        return 0
    from ..models.build import build_model
    from ..parallel.kmesh import KMesh
    models = [("SK Pt (bundled)", build_model({"material": "Pt", "parametrization": "sk", "spin": True}))]
    if os.path.isfile(args.seedname + ".win"):
        models.append((os.path.basename(args.seedname) + " (Wannier90)", build_model({"wannier90": args.seedname})))
    else:
        print(f"(no {args.seedname}.win: only the bundled model)")
    mesh = KMesh((args.mesh,) * 3)
    start = (mesh.n // 2 // args.chunk) * args.chunk
    k = mesh.frac(start, min(mesh.n, start + args.chunk))
    nk = len(k)
    print(f"hk_batch benchmark: chunk of {nk} k of a {args.mesh}^3 mesh, median of {args.repeat}, "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  {'model':28s} {'nR':>5s} {'per-k':>9s} {'gemm':>9s} {'batched':>9s}   (CPU us per k; wall)"
          f"  per-k/batched  gemm/batched  batched/eigh")
    for name, m in models:
        m.hk_dhk(k[:2])
        H0 = m.hk(k[:1])[0]

        def per_k():
            for kk in k:
                m.hk_dhk(kk[None])

        def gemm():
            old = m.SEPARABLE_MAX_BYTES
            m.SEPARABLE_MAX_BYTES = -1           # force the plain phase-matrix product
            try:
                m.hk_dhk(k)
            finally:
                m.SEPARABLE_MAX_BYTES = old

        def batched():
            m.hk_dhk(k)

        def eigh():
            for _ in range(nk):
                np.linalg.eigh(H0)
        H1, D1 = m.hk_dhk(k)
        gemm()
        m.SEPARABLE_MAX_BYTES, old = -1, m.SEPARABLE_MAX_BYTES
        H2, D2 = m.hk_dhk(k)
        m.SEPARABLE_MAX_BYTES = old
        err = max(np.abs(H1 - H2).max() / np.abs(H2).max(), np.abs(D1 - D2).max() / np.abs(D2).max())
        t = {f.__name__: _times(f, args.repeat) for f in (per_k, gemm, batched, eigh)}
        us = {key: (c / nk * 1e6, w / nk * 1e6) for key, (c, w) in t.items()}
        print(f"  {name:28s} {len(m.R):5d} {us['per_k'][0]:9.1f} {us['gemm'][0]:9.1f} {us['batched'][0]:9.1f}"
              f"   ({us['per_k'][1]:.1f}, {us['gemm'][1]:.1f}, {us['batched'][1]:.1f})"
              f"  {us['per_k'][0] / us['batched'][0]:13.1f}  {us['gemm'][0] / us['batched'][0]:12.1f}"
              f"  {us['batched'][0] / us['eigh'][0]:12.2f}")
        print(f"  {'':28s} max relative difference batched vs gemm: {err:.1e}")
    return 0
