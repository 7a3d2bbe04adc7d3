"""``./run bench slab_kubo``: cost of the layer-resolved Kubo kernel (paper 003).

Measured in one run, on the 33-layer W(110) SK film with SOC (594 bands),
eta = 0.1 eV, every time the median over ``--repeat`` repetitions and
``--nk`` k-points (the machine is shared and noisy), BLAS single-threaded
(each measurement runs in its own process with OMP/OPENBLAS_NUM_THREADS=1):

1. per-k time of the full Table-1 operator set (orbital + spin,
   conventional + torque dipole, direct + inverse, polarizations x, y, z,
   fields x, y, all layers; one Fermi energy) divided by the per-k time of
   the bare eigendecomposition (numpy eigh of H(k)); target <= 2;
2. 1000 Fermi energies vs 1 (same k, histogram accumulation + the final
   weighting); target <= 1.1;
3. 2 ranks vs 1: the engine over the same k-points under mpiexec -n 1 and
   -n 2; speed-up t(1)/t(2), target >= 1.8;
4. the estimated wall time and memory per rank of the 400 x 400 production
   run on 256 ranks (inputs/slab_kubo_W110_sk_400.toml) from these numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from ..kernels import kubo as K
from ..calculations import slab_kubo as sk
from ..api.slab_kubo import needed_pairs
from ..calculations.slab_kubo import Setup, _symmetry, make_kernel
from ..config import deck_from_dict
from ..launch import mpi_command
from ..log import NullLogger
from ..models.build import build_model
from ..parallel import SerialComm, world
from ..parallel.engine import Plan, run_chunks
from ..parallel.kmesh import KMesh

ENV1 = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _setup(layers=33):
    m = build_model({"material": "W", "parametrization": "sk", "spin": True, "soc_scale": 1.0,
                     "surface": "110", "layers": layers}, periodic=2)
    return Setup(m, "film", 0.1)


def _kpoints(nk, seed=7):
    return np.random.default_rng(seed).random((nk, 2))


def worker_perk(nk, repeat, layers):
    """Per-k medians: eigh, H(k)+dH, blocks+kernel, histogram for 1 and 1000 energies."""
    st = _setup(layers)
    _, sym = _symmetry(st, KMesh((400, 400)), True, lambda *_: None)
    st.pairs = needed_pairs(sym)          # as the calculation does on the 400 x 400 mesh
    ks = _kpoints(nk)
    n_el = int(round(st.model.electrons))
    # a Fermi energy from these k (only sets the window; not a physics result)
    E_all = np.concatenate([np.linalg.eigvalsh(st.hk(k)[0]) for k in ks])
    ef = float(np.sort(E_all)[n_el * nk])
    res = {"eigh": [], "eigvalsh": [], "hk": [], "full1": [], "full1000": [], "full1000w": [], "finish1000": [],
           "m1": [], "m1000": [], "mixed1": [], "blocks": [], "err_mixed": [], "flops1": [], "allpairs1": []}
    mu1 = np.array([ef])
    mu1000 = ef + np.linspace(-0.25, 0.25, 1000)
    mu1000w = ef + np.linspace(-2.0, 2.0, 201)      # the production deck: 201 energies in E_F +- 2 eV
    E0 = np.linalg.eigvalsh(st.hk(np.zeros(2))[0])

    def run_one(H, dH, mu, hist, precision="double", keep=None, pairs=st.pairs):
        w_lo, w_hi = K.window(mu, 0.0)
        holes = bool(np.sum(E0 >= w_lo) < np.sum(E0 < w_hi))
        E, U = np.linalg.eigh(H)
        cols, always = K.band_window(E, w_lo, w_hi, holes)
        vb, qb = K.current_blocks(st.layout, H, dH, st.z, st.O)
        c = K.kubo_k(st.layout, E, U, vb, qb, st.eta, cols, always, holes, precision=precision, pairs=pairs)
        K.accumulate(hist, edges_of[id(mu)], E[cols], c)
        if keep is not None:
            keep.append((c.sum(axis=0), _flops(st.layout, cols, always, holes, len(E), pairs)))
        return cols.stop - cols.start

    edges_of = {id(mu1): K.histogram_edges(mu1, 0.0), id(mu1000): K.histogram_edges(mu1000, 0.0),
                id(mu1000w): K.histogram_edges(mu1000w, 0.0)}
    shape = lambda mu: (len(edges_of[id(mu)]) + 1, 2, K.N_OPS, 2, st.nl)  # noqa: E731
    for _ in range(repeat):
        for k in ks:
            t0 = time.process_time()
            H, dH = st.hk(k)
            res["hk"].append(time.process_time() - t0)
            t0 = time.process_time()
            np.linalg.eigh(H)
            res["eigh"].append(time.process_time() - t0)
            t0 = time.process_time()
            np.linalg.eigvalsh(H)
            res["eigvalsh"].append(time.process_time() - t0)
            t0 = time.process_time()
            K.current_blocks(st.layout, H, dH, st.z, st.O)
            res["blocks"].append(time.process_time() - t0)
            kept = {}
            for key, mu, prec in (("full1", mu1, "double"), ("mixed1", mu1, "mixed"),
                                  ("full1000", mu1000, "double"), ("full1000w", mu1000w, "double")):
                hist = np.zeros(shape(mu))
                kept[key] = []
                t0 = time.process_time()
                m = run_one(H, dH, mu, hist, prec, kept[key])
                res[key].append(time.process_time() - t0)
                if key in ("full1", "full1000"):
                    res["m1" if key == "full1" else "m1000"].append(m)
            hist = np.zeros(shape(mu1))
            t0 = time.process_time()
            run_one(H, dH, mu1, hist, "double", None, None)
            res["allpairs1"].append(time.process_time() - t0)
            a, b = kept["full1"][0][0], kept["mixed1"][0][0]
            res["err_mixed"].append(float(np.abs(a - b).max() / np.abs(a).max()))
            res["flops1"].append(kept["full1"][0][1])
    # the final weighting over 1000 energies (once per run, not per k)
    hist = np.random.default_rng(0).random(shape(mu1000))
    t0 = time.process_time()
    F = K.occupation_weights(edges_of[id(mu1000)], mu1000, 0.0, False)
    np.tensordot(F, hist, axes=(1, 0))
    res["finish1000"].append(time.process_time() - t0)
    out = {k: statistics.median(v) for k, v in res.items() if k != "flops1"}
    out["flops1"] = {n: statistics.median([f[n] for f in res["flops1"]]) for n in res["flops1"][0]}
    out["err_mixed_max"] = max(res["err_mixed"])
    out["gemm_peak"] = _gemm_peak()
    out["N"] = st.model.norb
    out["pairs"] = int(st.pairs.sum())
    out["nl"] = st.nl
    out["hist_bytes_201"] = 202 * 2 * K.N_OPS * 2 * st.nl * 8
    import resource
    out["maxrss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def _flops(layout, cols, always, holes, N, pairs=None):
    """Real flops of the kernel's products at one k: the two dense transforms
    (U^+ (op U) restricted, U W) and the banded products (8 flops per complex
    multiply-add; complex64 products count the same), for the operators that the
    (polarization, field) ``pairs`` need (:func:`hpcorb.kernels.kubo.pair_ops`)."""
    pairs, betas, qsel = K.pair_ops(pairs)
    npair = int(sum(pairs[q % 3, b] for q in qsel for b in betas))
    m = cols.stop - cols.start
    if always is None or always.stop <= always.start:
        rows_a, m_a = 0, 0
    else:
        m_a = always.stop - always.start
        rows_a = N - always.stop if not holes else always.start
    m_w = m - m_a
    nop = len(betas) + len(qsel)
    dense = 2 * 8 * nop * N * (m_w * N + m_a * rows_a)
    band = sum((r.stop - r.start) * (c.stop - c.start) for r, c in zip(layout.rows, layout.cols))
    banded = 8 * band * (nop * m + 2 * npair * m)       # op U; per pair: local op times U W
    return {"dense": int(dense), "banded": int(banded)}


def _gemm_peak(n=1500, repeat=3):
    """GFLOP/s of one large zgemm and cgemm (per-process CPU time, best of repeat)."""
    out = {"core": os.environ.get("OPENBLAS_CORETYPE", "OpenBLAS's own choice")}
    rng = np.random.default_rng(0)
    for name, dt in (("zgemm", np.complex128), ("cgemm", np.complex64)):
        a = (rng.random((n, n)) + 1j * rng.random((n, n))).astype(dt)
        ts = []
        for _ in range(repeat):
            t0 = time.process_time()
            a @ a
            ts.append(time.process_time() - t0)
        out[name] = 8 * n ** 3 / min(ts) / 1e9
    return out


def table1_precision(n, layers):
    """Table-1 numbers (bulk, surface, total of the 8 rows at E_F) with precision double and
    mixed on an n x n mesh of the film; returns (rows_double, rows_mixed, cpu_double, cpu_mixed)."""
    st = _setup(layers)
    ef = float(np.linalg.eigvalsh(st.hk(np.zeros(2))[0])[int(round(st.model.electrons))])
    out = {}
    for prec in ("double", "mixed"):
        d = deck_from_dict({"calculation": {"type": "slab_kubo"},
                            "model": {"material": "W", "parametrization": "sk", "spin": True, "surface": "110",
                                      "layers": layers},
                            "kmesh": {"size": [n, n]},
                            "slab_kubo": {"energies": [0.0], "eta": 0.1, "surface_layers": 3, "precision": prec,
                                          "fermi_energy": ef}})
        t0 = time.process_time()
        res = sk.run(d, SerialComm(), NullLogger(), None)
        t = time.process_time() - t0
        rows = [sk.decompose(sign * res[f"{kind}/{o}/proper"][0, :, gm, b], 3)
                for _, kind, o, gm, b, sign in sk.TABLE1_ROWS]
        out[prec] = (np.array(rows), t)
    return out["double"][0], out["mixed"][0], out["double"][1], out["mixed"][1]


def worker_engine(nk, layers):
    """The engine over nk k-points on world(); returns the wall time."""

    class Mesh:
        def __init__(self, ks):
            self.ks = ks
            self.n = len(ks)

        def frac(self, a, b):
            return self.ks[a:b]

    comm = world()
    st = _setup(layers)
    st.pairs = needed_pairs(_symmetry(st, KMesh((400, 400)), True, lambda *_: None)[1])
    ks = _kpoints(nk, seed=3)
    E0 = np.linalg.eigvalsh(st.hk(np.zeros(2))[0])
    ef = float(E0[int(round(st.model.electrons))])
    mu = ef + np.linspace(-0.5, 0.5, 21)
    edges = K.histogram_edges(mu, 0.0)
    kern = make_kernel(st, Mesh(ks), edges, *K.window(mu, 0.0), False)
    shape = (len(edges) + 1, 2, K.N_OPS, 2, st.nl)
    comm.barrier()
    t0 = time.perf_counter()
    out = run_chunks(Plan(nk, 1), kern, {"hist": (shape, float)}, comm)
    comm.barrier()
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return time.perf_counter() - t0, float(np.abs(out["hist"]).sum()), rss


def _sub(args, n=None):
    env = dict(os.environ, **ENV1)
    if n is None:
        cmd = [sys.executable, "-m", "hpcorb.launch", "bench", "slab_kubo", *args]
    else:
        cmd = mpi_command(n, ["bench", "slab_kubo", *args])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not line:
        raise RuntimeError(f"benchmark worker failed: {out.stderr[-800:]}")
    return json.loads(line[-1])


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench slab_kubo", description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nk", type=int, default=3, help="k-points per timing")
    ap.add_argument("--layers", type=int, default=33)
    ap.add_argument("--engine-nk", type=int, default=12, help="k-points of the 1-vs-2-rank job")
    ap.add_argument("--worker", choices=("perk", "engine"), help=argparse.SUPPRESS)
    ap.add_argument("--table1", type=int, default=0, metavar="N",
                    help="only compare the Table-1 numbers of precision double vs mixed on an N x N mesh "
                         "(docs/speed.md: N = 8, ~3 min)")
    a = ap.parse_args(argv)
    if a.table1:
        if comm.rank == 0:
            dbl, mix, td, tm = table1_precision(a.table1, a.layers)
            rel = np.abs(dbl - mix) / np.abs(dbl)
            print(f"Table 1 of the {a.layers}-layer W(110) film on {a.table1}x{a.table1} k, precision mixed vs "
                  f"double: largest relative change of one number {rel.max():.1e} (relative to the largest "
                  f"number {np.abs(dbl - mix).max() / np.abs(dbl).max():.1e}); CPU {tm:.0f} s vs {td:.0f} s")
        return 0
    if a.worker == "perk":
        if comm.rank == 0:
            print(json.dumps(worker_perk(a.nk, a.repeat, a.layers)), flush=True)
        return 0
    if a.worker == "engine":
        t, check, rss = worker_engine(a.engine_nk, a.layers)
        if comm.rank == 0:
            print(json.dumps({"time": t, "check": check, "rss": rss}), flush=True)
        return 0
    print(f"hpcorb slab_kubo benchmark: W(110) SK film, {a.layers} layers, eta 0.1 eV "
          f"(medians of {a.repeat} x {a.nk} k; BLAS 1 thread; machine: {os.cpu_count()} cores, shared)")
    r = _sub(["--worker", "perk", "--nk", str(a.nk), "--repeat", str(a.repeat), "--layers", str(a.layers)])
    ratio = r["full1"] / r["eigh"]
    ratio_m = r["mixed1"] / r["eigh"]
    print(f"   load {os.getloadavg()[0]:.2f}; per-process CPU time; zgemm {r['gemm_peak']['zgemm']:.1f} GFLOP/s, "
          f"cgemm {r['gemm_peak']['cgemm']:.1f} GFLOP/s measured now (the issue's quiet-machine zgemm peak: 75; "
          f"OpenBLAS core: {r['gemm_peak']['core']})")
    print(f"1. per k ({r['N']} bands): eigh {r['eigh'] * 1e3:.0f} ms; H(k)+dH/dk {r['hk'] * 1e3:.0f} ms; "
          f"operator blocks {r['blocks'] * 1e3:.0f} ms; eigh + blocks + full Table-1 set ({r['pairs']} of 6 "
          f"(polarization, field) pairs left by the film's symmetry x L/S x conventional/torque dipole x "
          f"direct/inverse x {r['nl']} layers) {r['full1'] * 1e3:.0f} ms ({r['m1']:.0f} of {r['N']} bands "
          f"needed) -> ratio {ratio:.2f} (target <= 2); all 6 pairs (symmetry off): "
          f"{r['allpairs1'] / r['eigh']:.2f}")
    fl = r["flops1"]
    kern = r["full1"] - r["eigh"] - r["blocks"]          # the products, element-wise work, histogram
    kern_m = r["mixed1"] - r["eigh"] - r["blocks"]
    tot = (fl["dense"] + fl["banded"]) / 1e9
    print(f"   precision mixed (complex64 products): eigh + blocks + kernel {r['mixed1'] * 1e3:.0f} ms "
          f"-> ratio {ratio_m:.2f}; kernel alone {kern * 1e3:.0f} ms (double) vs {kern_m * 1e3:.0f} ms (mixed) "
          f"= {kern / kern_m:.2f}x; largest relative change of a k's summed contributions {r['err_mixed_max']:.1e}")
    print(f"   kernel products: {fl['dense'] / 1e9:.2f} GFLOP dense transforms + {fl['banded'] / 1e9:.2f} GFLOP "
          f"banded = {tot:.2f} GFLOP per k -> {tot / kern:.1f} GFLOP/s double "
          f"({100 * tot / kern / r['gemm_peak']['zgemm']:.0f}% of the zgemm rate now), {tot / kern_m:.1f} GFLOP/s "
          f"mixed ({100 * tot / kern_m / r['gemm_peak']['cgemm']:.0f}% of the cgemm rate now)")
    r1000 = r["full1000"] / r["full1"]
    print(f"2. 1000 Fermi energies in E_F +- 0.25 eV vs 1: {r['full1000'] * 1e3:.0f} ms vs "
          f"{r['full1'] * 1e3:.0f} ms per k -> {r1000:.3f}x (target <= 1.1); final weighting of 1000 "
          f"energies once per run {r['finish1000'] * 1e3:.1f} ms; the production deck's 201 energies in "
          f"E_F +- 2 eV: {r['full1000w'] / r['full1']:.3f}x (more bands inside the window)")
    times = {1: [], 2: []}
    checks = {}
    rss = {}
    for _ in range(a.repeat):
        for n in (1, 2):
            d = _sub(["--worker", "engine", "--engine-nk", str(a.engine_nk), "--layers", str(a.layers)], n)
            times[n].append(d["time"])
            checks[n] = d["check"]
            rss[n] = d["rss"]
    small = _sub(["--worker", "engine", "--engine-nk", str(max(1, a.engine_nk // 4)), "--layers",
                  str(a.layers)], 1)
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    same = abs(checks[1] - checks[2]) <= 1e-10 * abs(checks[1])
    print(f"3. engine over {a.engine_nk} k: 1 rank {t1:.1f} s, 2 ranks {t2:.1f} s -> speed-up {t1 / t2:.2f}x "
          f"(target >= 1.8); results equal: {same}")
    print(f"   peak memory (RSS) of one rank: {small['rss']:.0f} MB for {max(1, a.engine_nk // 4)} k, "
          f"{rss[1]:.0f} MB for {a.engine_nk} k (flat: the accumulator is a fixed-size energy histogram); "
          f"per-k timing process {r['maxrss_MB']:.0f} MB")
    eff = min(1.0, (t1 / t2) / 2.0)
    t0 = time.process_time()
    irr, sym = _symmetry(_setup(a.layers), KMesh((400, 400)), True, lambda *_: None)
    t_sym = time.process_time() - t0
    nk = irr.n
    t_fermi = r["eigvalsh"] + r["hk"]             # Fermi pass: eigenvalues only + H(k)
    t_k = r["full1000w"] + r["hk"]                # the production deck: 201 energies in E_F +- 2 eV
    t_km = t_k - (r["full1"] - r["mixed1"])       # the same with precision = "mixed"
    t_1 = r["full1"] + r["hk"]                    # Table 1: one Fermi energy
    wall = nk * (t_k + t_fermi) / (256 * eff)
    wall1 = nk * (t_k + t_fermi) / 256
    job = nk * (t_k + t_fermi) / (400 * 400 * r["eigh"])
    job_m = nk * (t_km + t_fermi) / (400 * 400 * r["eigh"])
    print(f"4. 400x400 with symmetry: {len(sym)} operations, {nk} irreducible k of 160000 (finding them: "
          f"{t_sym:.0f} s CPU once per rank); whole job (Fermi pass + main pass, H(k) included) / "
          f"(160000 x one eigh): production deck (201 energies, E_F +- 2 eV) {job:.2f} double, "
          f"{job_m:.2f} mixed; Table-1 deck (one Fermi energy) "
          f"{nk * (t_1 + t_fermi) / (400 * 400 * r['eigh']):.2f} double, "
          f"{nk * t_1 / (400 * 400 * r['eigh']):.2f} with fermi_energy given (no Fermi pass) (target <= 0.6)")
    print(f"   estimate on 256 ranks: per irreducible k {t_k:.2f} s (+ {t_fermi:.2f} s Fermi pass) -> "
          f"{wall1 / 60:.0f} min wall at parallel efficiency 1 (the only "
          f"communication is one ~{r['hist_bytes_201'] / 1e6:.1f} MB reduction per checkpoint and at the end), "
          f"{wall / 60:.0f} min at the efficiency {eff:.2f} measured here; memory per rank "
          f"~{max(rss.values()):.0f} MB (measured peak RSS), independent of the k-mesh size")
    return 0
