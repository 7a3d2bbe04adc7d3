"""``./run bench diffusion``: the diffusion kernel and the whole paper-000 Fig. 2 deck, old vs new.

Everything in one run, per-process CPU time (``time.process_time``; BLAS one
thread), medians of ``--repeats``; the machine is shared, so the load is
printed with the results.

1. Kernel per k-point on NRL Ta with SOC (18 bands, every level a Kramers
   pair), batches of 32 random k, 31 and 100 energies: the bare
   eigendecomposition (numpy eigh with vectors), the kernel before issue 13
   (:mod:`hpcorb.bench._diffusion_baseline`, "old") and the current one
   ("new", including its own eigh); ratios to eigh (target: new <= 12).
2. The whole ``inputs/diffusion_fig2_Ta.toml`` deck (NRL Ta, SOC 0 and 1,
   31 energies, Fermi levels from the electron count) on two smaller meshes
   (``--mesh`` - 4 and ``--mesh``, cubed), side by side: old = the old kernel
   on the full mesh (``[kmesh] symmetry = false``), new = the current code
   (symmetry on).  Both runs time the whole calculation (model, Fermi stage,
   H(k), kernel).  Stated for 50^3 from cost = fixed + per point fitted to
   the two meshes (per k-point for old, per irreducible point for new; the
   new fixed part includes finding the symmetry) (target: >= 30x).  The results of the two runs are compared (they must
   agree to ~1e-12).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from ..calculations import diffusion as cd
from ..config import MODEL, deck_from_dict, validate_table
from ..kernels import diffusion as kd
from ..log import NullLogger
from ..models import lowdin
from ..models.build import build_model
from ..parallel import SerialComm
from ..parallel.kmesh import KMesh
from ..symmetry import common_symmetry, irreducible, mesh_preserving
from . import _diffusion_baseline as base


def _cpu(fn, repeat):
    ts = []
    for _ in range(max(1, repeat)):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return statistics.median(ts)


def _gemm_rate(n=1200):
    a = np.random.default_rng(0).random((n, n)) * (1 + 1j)
    return 8 * n ** 3 / min(_cpu(lambda: a @ a, 1) for _ in range(3)) / 1e9


def _deck(mesh, symmetry):
    return deck_from_dict({
        "calculation": {"type": "diffusion"},
        "model": {"material": "Ta", "parametrization": "nrl", "spin": True},
        "kmesh": {"size": [mesh] * 3, "symmetry": symmetry},
        "diffusion": {"energies": {"start": -1.5, "stop": 1.5, "num": 31}, "gamma": 0.1,
                      "soc_scales": [0.0, 1.0]}})


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench diffusion", description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--mesh", type=int, default=12, help="mesh of the side-by-side deck run")
    a = ap.parse_args(argv)
    if comm.rank != 0:
        return 0
    print(f"hpcorb diffusion benchmark; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', '?')}; zgemm {_gemm_rate():.1f} GFLOP/s now "
          "(the issue's quiet-machine peak: 75); per-process CPU time, medians")
    m = build_model(validate_table(MODEL, {"material": "Ta", "parametrization": "nrl", "spin": True},
                                   "model", "."), periodic=3)
    kf = np.random.default_rng(1).random((a.batch, 3))
    H, dH = lowdin.hk_dhk(m, kf)
    sig, L = cd.operators(m)
    E = np.linalg.eigvalsh(H)
    print(f"1. kernel per k, NRL Ta ({m.norb} bands), batch {a.batch}; Kramers-pair k: "
          f"{100 * kd._kramers(E, kd.DEGENERACY * 0.1).mean():.0f}%")
    t_h = _cpu(lambda: lowdin.hk_dhk(m, kf), a.repeats) / a.batch
    for nE in (31, 100):
        eps = float(np.median(E)) + np.linspace(-1.5, 1.5, nE)
        te, to, tn = [], [], []
        for _ in range(a.repeats):                        # interleaved: load hits all three alike
            te.append(_cpu(lambda: np.linalg.eigh(H), 1))
            to.append(_cpu(lambda: base.diffusion_kernel(H, dH, sig, L, eps, 0.1), 1))
            tn.append(_cpu(lambda: kd.diffusion_kernel(H, dH, sig, L, eps, 0.1), 1))
        te, to, tn = (statistics.median(x) / a.batch for x in (te, to, tn))
        c0, t0_ = base.diffusion_kernel(H, dH, sig, L, eps, 0.1)
        c1, t1_ = kd.diffusion_kernel(H, dH, sig, L, eps, 0.1)
        dev = max(np.abs(c0 - c1).max() / np.abs(c0).max(), np.abs(t0_ - t1_).max() / np.abs(t0_).max())
        print(f"   {nE:3d} energies: eigh {te * 1e6:6.0f} us; old kernel {to * 1e6:6.0f} us ({to / te:5.1f}x eigh); "
              f"new {tn * 1e6:6.0f} us ({tn / te:5.1f}x eigh; target <= 12); new/old {to / tn:4.2f}x faster; "
              f"results differ by {dev:.1e}")
    print(f"   H(k) + dH/dk (Loewdin, {len(m.R)} R): {t_h * 1e6:.0f} us per k and SOC scale")

    # ---- 2. the whole deck, side by side, on two meshes (cost = fixed + per point, fitted)
    real = kd.diffusion_kernel

    def old_kernel(H, dH, sigma, L, energies, gamma, eigen=None, weights=None):
        assert weights is None or np.all(np.asarray(weights) == 1.0)
        return base.diffusion_kernel(H, dH, sigma, L, energies, gamma, eigen)

    meshes = (max(2, a.mesh - 4), a.mesh)
    t_old, t_new, n_irr = {}, {}, {}
    for n in meshes:
        kd.diffusion_kernel = old_kernel
        try:
            t0 = time.process_time()
            old = cd.run(_deck(n, False), SerialComm(), NullLogger(), None)
            t_old[n] = time.process_time() - t0
        finally:
            kd.diffusion_kernel = real
        t0 = time.process_time()
        new = cd.run(_deck(n, True), SerialComm(), NullLogger(), None)
        t_new[n] = time.process_time() - t0
        n_irr[n] = int(new.attrs["irreducible_k"])
    n1, n2 = meshes
    b_old = (t_old[n2] - t_old[n1]) / (n2 ** 3 - n1 ** 3)          # per k-point
    a_old = t_old[n2] - b_old * n2 ** 3                              # fixed (model, bounds, ...)
    b_new = (t_new[n2] - t_new[n1]) / max(1, n_irr[n2] - n_irr[n1])  # per irreducible point
    a_new = t_new[n2] - b_new * n_irr[n2]                            # fixed, symmetry search included
    scales, models, _ = cd._prepare(_deck(n2, True))
    t0 = time.process_time()
    ops, _trs = common_symmetry(models, lowdin.hk, lambda mm: cd.operators(mm)[::-1])
    t_sym = time.process_time() - t0
    mesh50 = KMesh((50, 50, 50))
    irr50 = irreducible(mesh50, mesh_preserving(mesh50, [o.kmat for o in ops])).n
    dev = max(np.abs(old["tensor"] - new["tensor"]).max() / np.abs(old["tensor"]).max(),
              np.abs(old["charge"] - new["charge"]).max() / np.abs(old["charge"]).max())
    print(f"2. diffusion_fig2_Ta deck (2 SOC scales, 31 energies, Fermi levels from the electron count), "
          f"old = old kernel on the full mesh, new = current code with symmetry ({len(ops)} operations, "
          f"found and verified in {t_sym:.1f} s):")
    for n in meshes:
        print(f"   {n}^3: old {t_old[n]:.1f} s CPU ({n ** 3} k), new {t_new[n]:.1f} s CPU ({n_irr[n]} irreducible k) "
              f"-> {t_old[n] / t_new[n]:.1f}x")
    print(f"   results of the two codes agree to {dev:.1e}; fitted cost = fixed + per point: old {a_old:.1f} s + "
          f"{b_old * 1e3:.1f} ms per k, new {a_new:.1f} s + {b_new * 1e3:.1f} ms per irreducible k")
    old50 = a_old + b_old * 50 ** 3
    new50 = a_new + b_new * irr50
    print(f"   stated for 50^3 ({irr50} irreducible of 125000): old {old50 / 60:.1f} min, new {new50 / 60:.2f} min "
          f"CPU -> {old50 / new50:.0f}x faster (target >= 30)")
    return 0
