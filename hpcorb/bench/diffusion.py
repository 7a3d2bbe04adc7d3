"""``./run bench diffusion``: the diffusion kernel and the whole paper-000 Fig. 2 deck, old vs new.

Everything in one run, per-process CPU time (``time.process_time``; BLAS one
thread), medians of ``--repeats`` interleaved repeats (the machine is shared:
the load is printed with the results, and the minimum is printed next to
the median).

1. Per k-point on NRL Ta with SOC (18 bands, every level a Kramers pair),
   100 and 31 energies, random k: the bare eigendecomposition
   (``numpy.linalg.eigh`` with vectors, batches of 32), H(k) + dH/dk
   (Loewdin; per SOC scale of the two-scale deck, which shares S(k)^-1/2),
   the kernel before issue 13 (:mod:`hpcorb.bench._diffusion_baseline`,
   "old", at its default batch of 32 and at the new default of 4) and the
   current one ("new": eigendecomposition, residues and energy sum, batch 4)
   for the full 333-component tensor and for the components the cubic
   symmetry projection reads (what runs per irreducible k).  Ratios to eigh;
   the target is new per irreducible k <= 12 x eigh.
2. The whole ``inputs/diffusion_fig2_Ta.toml`` deck (NRL Ta, SOC 0 and 1,
   31 energies, Fermi levels from the electron count), side by side in this
   run: "old" = today's code before issue 13 (the old kernel, batch 32, the
   full mesh, one Loewdin factor per SOC scale), "new" = the current code
   (symmetry, batch 4).  Each code runs on two meshes; the whole calculation
   is timed (model, Fermi stage, H(k), kernel, rebuild).  Stated for 50^3
   from cost = fixed + slope * points fitted to the two meshes (points = k
   for old, irreducible k for new; the fixed part holds the model set-up and
   the symmetry search), and the measured ratio on the common mesh is printed
   too; the new code is also run on the 50^3 deck itself (``--no-full`` skips
   it).  Target: >= 30x.  The results of old and new agree to ~1e-13.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from ..api import diffusion as physics
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


NEW_BATCH = cd.SCHEMA.key("batch").default          # the deck default the new code runs with


def _cpu(fn):
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _gemm_rate(n=1200):
    a = np.random.default_rng(0).random((n, n)) * (1 + 1j)
    return 8 * n ** 3 / min(_cpu(lambda: a @ a) for _ in range(3)) / 1e9


def _deck(mesh, symmetry, batch=None):
    d = {"energies": {"start": -1.5, "stop": 1.5, "num": 31}, "gamma": 0.1, "soc_scales": [0.0, 1.0]}
    if batch is not None:
        d["batch"] = batch
    return deck_from_dict({
        "calculation": {"type": "diffusion"},
        "model": {"material": "Ta", "parametrization": "nrl", "spin": True},
        "kmesh": {"size": [mesh] * 3, "symmetry": symmetry}, "diffusion": d})


def _batched(fn, H, dH, batch):
    def run():
        for b in range(0, len(H), batch):
            fn(H[b:b + batch], dH[b:b + batch])
    return run


def _old_code_run(n):
    """The deck as today's code before issue 13 ran it: old kernel, batch 32, full mesh,
    one Loewdin factor per SOC scale (restored after the run)."""
    real_kernel, real_same = physics.diffusion_kernel, physics._same_overlap

    def old_kernel(H, dH, sigma, L, energies, gamma, eigen=None, weights=None, support=None):
        assert support is None and (weights is None or np.all(np.asarray(weights) == 1.0))
        return base.diffusion_kernel(H, dH, sigma, L, energies, gamma, eigen)

    physics.diffusion_kernel, physics._same_overlap = old_kernel, (lambda models: False)
    try:
        t0 = time.process_time()
        res = cd.run(_deck(n, False, batch=32), SerialComm(), NullLogger(), None)
        return time.process_time() - t0, res
    finally:
        physics.diffusion_kernel, physics._same_overlap = real_kernel, real_same


def _new_code_run(n):
    t0 = time.process_time()
    res = cd.run(_deck(n, True), SerialComm(), NullLogger(), None)
    return time.process_time() - t0, res


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench diffusion", description=__doc__.splitlines()[0])
    ap.add_argument("--nk", type=int, default=64, help="random k-points per timing (part 1)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--old-meshes", type=int, nargs=2, default=(8, 12), help="meshes of the old code (part 2)")
    ap.add_argument("--new-meshes", type=int, nargs=2, default=(12, 24), help="meshes of the new code (part 2)")
    ap.add_argument("--skip-deck", action="store_true", help="part 1 only")
    ap.add_argument("--no-full", action="store_true", help="do not also run the new code on the 50^3 deck itself")
    a = ap.parse_args(argv)
    if comm.rank != 0:
        return 0
    print(f"hpcorb diffusion benchmark; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', '?')}; zgemm {_gemm_rate():.1f} GFLOP/s now "
          "(the issue's quiet-machine peak: 75); per-process CPU time, medians [minima]")
    kw = {"material": "Ta", "parametrization": "nrl", "spin": True}
    models = [build_model(validate_table(MODEL, dict(kw, soc_scale=s), "model", "."), periodic=3)
              for s in (0.0, 1.0)]
    m = models[1]
    kf = np.random.default_rng(1).random((a.nk, 3))
    H, dH = lowdin.hk_dhk(m, kf)
    sig, L = cd.operators(m)
    E = np.linalg.eigvalsh(H)
    ops, _trs = common_symmetry(models, lowdin.hk, lambda mm: cd.operators(mm)[::-1])
    rots = np.array([o.R for o in ops])
    sup = kd.support_of(rots)
    nsup = int(sup[0].sum() + sup[1].sum())
    blocks = np.bincount(kd._blocks(E, 0.1), minlength=3)
    print(f"1. per k, NRL Ta ({m.norb} bands, {len(m.R)} R), {a.nk} random k: {blocks[2]} clean Kramers-pair "
          f"spectra, {blocks[1]} non-degenerate, {blocks[0]} other; cubic symmetry ({len(ops)} operations) "
          f"leaves {nsup} of 333 components to evaluate")
    hk1, hk2 = physics.hamiltonians_for([m]), physics.hamiltonians_for(models)
    t_h0, t_h1, t_h2 = [], [], []
    for _ in range(a.repeats):
        t_h0.append(_cpu(lambda: lowdin.hk_dhk(m, kf)) / a.nk)
        t_h1.append(_cpu(lambda: list(hk1(kf))) / a.nk)
        t_h2.append(_cpu(lambda: list(hk2(kf))) / a.nk / 2)
    t_h0, t_h1, t_h2 = (statistics.median(x) for x in (t_h0, t_h1, t_h2))
    print(f"   H(k) + dH/dk per k and SOC scale: {t_h2 * 1e6:.0f} us in the two-scale deck, {t_h1 * 1e6:.0f} us "
          f"for one model ({t_h0 * 1e6:.0f} us through models.lowdin.hk_dhk)")
    for nE in (100, 31):
        eps = float(np.median(E)) + np.linspace(-1.5, 1.5, nE)
        runs = {
            "eigh": _batched(lambda h, d: np.linalg.eigh(h), H, dH, 32),
            "old (batch 32)": _batched(lambda h, d: base.diffusion_kernel(h, d, sig, L, eps, 0.1), H, dH, 32),
            f"old (batch {NEW_BATCH})": _batched(lambda h, d: base.diffusion_kernel(h, d, sig, L, eps, 0.1), H, dH, NEW_BATCH),
            "new, full tensor": _batched(lambda h, d: kd.diffusion_kernel(h, d, sig, L, eps, 0.1), H, dH, NEW_BATCH),
            "new, symmetry": _batched(lambda h, d: kd.diffusion_kernel(h, d, sig, L, eps, 0.1, support=sup),
                                      H, dH, NEW_BATCH),
        }
        ts = {k: [] for k in runs}
        for _ in range(a.repeats):                        # interleaved: load hits all alike
            for k, fn in runs.items():
                ts[k].append(_cpu(fn) / a.nk)
        med = {k: statistics.median(v) for k, v in ts.items()}
        mn = {k: min(v) for k, v in ts.items()}
        te = med["eigh"]
        c0, t0_ = base.diffusion_kernel(H, dH, sig, L, eps, 0.1)
        c1, t1_ = kd.diffusion_kernel(H, dH, sig, L, eps, 0.1)
        dev = max(np.abs(c0 - c1).max() / np.abs(c0).max(), np.abs(t0_ - t1_).max() / np.abs(t0_).max())
        print(f"   {nE} energies (new vs old results differ by {dev:.1e}):")
        for k in runs:
            print(f"     {k:18s} {med[k] * 1e6:7.0f} us [{mn[k] * 1e6:5.0f}]  {med[k] / te:5.1f} x eigh "
                  f"[{mn[k] / mn['eigh']:5.1f}]")
        ns = med["new, symmetry"]
        print(f"     per irreducible k: kernel {ns / te:.1f} x eigh (target <= 12); with H(k) + dH/dk per SOC "
              f"scale of the two-scale deck {(ns + t_h2) / te:.1f} x eigh (one model: {(ns + t_h1) / te:.1f} x); "
              f"new vs old (batch 32): {med['old (batch 32)'] / ns:.2f}x faster")
    if a.skip_deck:
        return 0

    # ---- 2. the whole deck, side by side, each code on two meshes (cost = fixed + slope * points)
    def mesh_irr(n):
        mesh = KMesh((n,) * 3)
        return irreducible(mesh, mesh_preserving(mesh, [o.kmat for o in ops])).n
    t_old, t_new, r_old, r_new = {}, {}, {}, {}
    for n in sorted(set(a.old_meshes) | set(a.new_meshes)):
        if n in a.old_meshes:
            t_old[n], r_old[n] = _old_code_run(n)
        if n in a.new_meshes:
            t_new[n], r_new[n] = _new_code_run(n)
    p_old = {n: n ** 3 for n in t_old}
    p_new = {n: int(r_new[n].attrs["irreducible_k"]) for n in t_new}

    def fit(t, p):
        (n1, n2) = sorted(t)
        b = (t[n2] - t[n1]) / max(1, p[n2] - p[n1])
        return t[n2] - b * p[n2], b
    a_old, b_old = fit(t_old, p_old)
    a_new, b_new = fit(t_new, p_new)
    irr50 = mesh_irr(50)
    old50, new50 = a_old + b_old * 50 ** 3, a_new + b_new * irr50
    print(f"2. diffusion_fig2_Ta deck (2 SOC scales, 31 energies, Fermi levels from the electron count); "
          f"old = today's code before issue 13 (old kernel, full mesh), new = current code "
          f"(symmetry: {len(ops)} operations):")
    for n in sorted(t_old):
        print(f"   old {n}^3: {t_old[n]:6.1f} s CPU ({p_old[n]} k)")
    for n in sorted(t_new):
        print(f"   new {n}^3: {t_new[n]:6.1f} s CPU ({p_new[n]} irreducible k of {n ** 3})")
    common = sorted(set(t_old) & set(t_new))
    for n in common:
        dev = max(np.abs(r_old[n]["tensor"] - r_new[n]["tensor"]).max() / np.abs(r_old[n]["tensor"]).max(),
                  np.abs(r_old[n]["charge"] - r_new[n]["charge"]).max() / np.abs(r_old[n]["charge"]).max())
        print(f"   same mesh {n}^3, measured side by side: {t_old[n] / t_new[n]:.1f}x faster; "
              f"results agree to {dev:.1e}")
    print(f"   fitted: old {a_old:.1f} s + {b_old * 1e3:.2f} ms per k; new {a_new:.1f} s + {b_new * 1e3:.2f} ms "
          f"per irreducible k ({b_old / b_new:.2f}x cheaper per point, {50 ** 3 / irr50:.1f}x fewer points)")
    print(f"   stated for 50^3 ({irr50} irreducible of 125000): old {old50 / 60:.1f} min, new {new50 / 60:.2f} min "
          f"CPU -> {old50 / new50:.0f}x faster (target >= 30)")
    if not a.no_full:
        t50, _ = _new_code_run(50)
        print(f"   new code on the 50^3 deck itself: {t50:.1f} s CPU = {t50 / 60:.2f} min -> {old50 / t50:.0f}x "
              f"faster than the old code's fitted 50^3 cost")
    return 0
