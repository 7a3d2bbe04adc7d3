"""``./run bench peer``: hpcorb against WannierBerri on the same Wannier90 model and mesh.

The bulk intrinsic spin Hall conductivity tensor of a spinor Wannier90 model
(default: the shared QE + Wannier90 Pt model, ``../shared/data/dft/pt_qe/pt``)
on the same Gamma-centred ``--mesh``^3 k-mesh, the same Fermi energy (from
the electron count, hpcorb, on that mesh), the same Lorentzian broadening
eta of the Kubo denominator, T = 0, with each code:

* hpcorb: ``[model] wannier90 = seedname`` and the bulk tensor kernel
  (:mod:`hpcorb.kernels.kubo_tensor`); timed twice: the tensor alone (H(k),
  eigh, tensor), and the full bulk slab_kubo kernel (also the orbital Hall
  tensor and the film-style outputs) that a deck runs;
* WannierBerri (optional, never a dependency of hpcorb): ``get_system_hr`` of
  the same ``_hr.dat``, spin pairs interleaved (the order hpcorb detected),
  ``calculators.dynamic.SHC`` at omega = 0 with a Lorentzian of width eta
  (SHC_type "simple": (1/2){S, v}, no external terms); once on the full mesh
  (time per k) and once with its symmetry reduction (point group of the
  structure; time to the final number).

WannierBerri runs in its own virtual environment (``--python``, default
``.venv-peer/bin/python``); ``--install`` creates it with pip
(``wannierberri``, ``numba`` and ``spglib`` from PyPI).  Units: WannierBerri's SHC is
in (hbar/e) S/m with S = sigma/2 ... its tensor [flow, field, spin] times
0.01 is hpcorb's sigma^spin_flow,field in (hbar/e)(Ohm cm)^-1 (checked by
the printed relative difference).  Times are per-process CPU seconds (wall
beside them), with the load average; everything is measured in this run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED_PT = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "dft", "pt_qe", "pt"))

WB_SCRIPT = r'''
import json, sys, time
import numpy as np
t0, w0 = time.process_time(), time.perf_counter()
import wannierberri as wb
from wannierberri.system.system_hr import get_system_hr
from wannierberri.calculators.dynamic import SHC
a = json.loads(sys.argv[1])
system = get_system_hr(a["seed"], wannier_centers_cart=np.array(a["centres"]))
system.set_spin_pairs([tuple(p) for p in a["pairs"]])
if a["sym"]:
    system.set_structure(positions=a["atoms_frac"], atom_labels=a["labels"])
    system.set_pointgroup_from_structure()
grid = wb.Grid(system, NK=a["mesh"], NKFFT=a["nkfft"], use_symmetry=a["sym"])
calc = {"shc": SHC(Efermi=np.array([a["ef"]]), omega=np.array([0.0]), smr_fixed_width=a["eta"],
                   smr_type="Lorentzian", kBT=0, SHC_type="simple", kwargs_formula={"external_terms": False})}
t1, w1 = time.process_time(), time.perf_counter()
res = wb.run(system, grid=grid, calculators=calc, parallel=False, use_irred_kpt=a["sym"],
             symmetrize=a["sym"], print_progress_step_time=1e9, file_Klist_path=a["tmp"])
d = res.results["shc"].data[0, 0].real
print("WBRESULT " + json.dumps({"tensor": d.tolist(), "cpu": time.process_time() - t0,
      "wall": time.perf_counter() - w0, "cpu_run": time.process_time() - t1,
      "wall_run": time.perf_counter() - w1, "version": wb.__version__}))
'''


def _install(py_dir):
    subprocess.run([sys.executable, "-m", "venv", py_dir], check=True)
    subprocess.run([os.path.join(py_dir, "bin", "pip"), "install", "-q", "wannierberri", "numba", "spglib"], check=True)


def _run_wb(python, args, sym, cwd):
    r = subprocess.run([python, "-c", WB_SCRIPT, json.dumps({**args, "sym": sym})], cwd=cwd,
                       capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                            "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"})
    for line in r.stdout.splitlines():
        if line.startswith("WBRESULT "):
            return json.loads(line[9:])
    raise RuntimeError("WannierBerri failed:\n" + (r.stderr or r.stdout)[-3000:])


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench peer", description=__doc__.split("\n")[0])
    ap.add_argument("--seedname", default=SHARED_PT)
    ap.add_argument("--mesh", type=int, default=16)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--electrons", type=float, default=10.0)
    ap.add_argument("--python", default=os.path.join(REPO, ".venv-peer", "bin", "python"))
    ap.add_argument("--install", action="store_true", help="create the WannierBerri venv (pip, PyPI)")
    args = ap.parse_args(argv)
    if comm.rank != 0:
        return 0
    from ..calculations import slab_kubo as SK
    from ..kernels import kubo as K
    from ..kernels import kubo_tensor as KT
    from ..models.build import build_model
    from ..parallel.kmesh import KMesh

    if not os.path.isfile(args.seedname + ".win"):
        print(f"bench peer: no {args.seedname}.win (the shared QE Pt model beside the clone?)")
        return 2
    have_wb = os.path.isfile(args.python) and subprocess.run(
        [args.python, "-c", "import wannierberri, numba, spglib"], capture_output=True).returncode == 0
    if not have_wb and args.install:
        _install(os.path.dirname(os.path.dirname(args.python)))
        have_wb = True
    model = build_model({"wannier90": args.seedname})
    st = SK.Setup(model, "bulk", args.eta)
    mesh = KMesh((args.mesh,) * 3)
    N = mesh.n
    print(f"peer benchmark: {os.path.basename(args.seedname)} ({model.norb} WFs, {len(model.R)} R, "
          f"spinor order {model.meta.get('spinor_order')}), mesh {args.mesh}^3 = {N} k, eta {args.eta} eV, "
          f"T = 0; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # Fermi energy from the electron count on this mesh (both codes then use it)
    E = np.sort(np.concatenate([np.linalg.eigvalsh(h) for h in
                                (st.hk_batch(mesh.frac(a, min(N, a + 4096)))[0] for a in range(0, N, 4096))]).ravel())
    n_el = int(round(args.electrons * N))
    # E_F in the middle of the gap of the k-sampled spectrum nearest to the electron count
    # (never on a degenerate level, where occupations would hinge on round-off)
    gaps = np.flatnonzero(np.diff(E) > 1e-4)
    g = gaps[np.argmin(np.abs(gaps + 1 - n_el))]
    ef = float(0.5 * (E[g] + E[g + 1]))
    mu = np.array([ef])
    edges = K.histogram_edges(mu, 0.0)
    w_lo, w_hi = K.window(mu, 0.0)
    holes = bool(np.sum(E < w_lo) > N * model.norb / 2)

    # hpcorb: tensor alone
    c0, w0 = time.process_time(), time.perf_counter()
    hist = np.zeros((len(edges) + 1, 2, 3, 3, 3))
    for a in range(0, N, 256):
        Hs, dHs = st.hk_batch(mesh.frac(a, min(N, a + 256)))
        for H, dH in zip(Hs, dHs):
            e, U = np.linalg.eigh(H)
            cols, _ = K.band_window(e, w_lo, w_hi, holes)
            K.accumulate(hist, edges, e[cols], KT.tensor_k(e, U, dH, st.O, st.eta, cols))
    T = KT.finish(hist, edges, mu, 0.0, holes, st.volume, N)[0, 1]
    t_tensor = (time.process_time() - c0, time.perf_counter() - w0)
    # hpcorb: the full bulk slab_kubo kernel (what a deck runs)
    c0, w0 = time.process_time(), time.perf_counter()
    out = SK.make_kernel(st, mesh, edges, w_lo, w_hi, holes)(0, N)
    t_full = (time.process_time() - c0, time.perf_counter() - w0)
    T_full = KT.finish(out["tensor"], edges, mu, 0.0, holes, st.volume, N)[0, 1]
    assert np.abs(T_full - T).max() <= 1e-12 * np.abs(T).max()

    rows = [("hpcorb (tensor kernel)", T, t_tensor, t_tensor, "none in this build: full mesh"),
            ("hpcorb (bulk slab_kubo)", T_full, t_full, t_full, "none in this build: full mesh")]
    if have_wb:
        up = [i for i in range(model.norb) if model.spins[i] == 0]
        pairs = []
        for i in up:
            j = next(j for j in range(model.norb) if model.spins[j] == 1 and model.atoms[j] == model.atoms[i]
                     and model.orbitals[j] == model.orbitals[i] and (i, j) not in pairs
                     and all(j != p[1] for p in pairs))
            pairs.append((i, j))
        nat = int(model.atoms.max()) + 1
        atoms_frac = [(model.positions[np.flatnonzero(model.atoms == a)[0]] @ np.linalg.inv(model.lattice)).tolist()
                      for a in range(nat)]
        nkfft = max(d for d in range(1, min(args.mesh, 16) + 1) if args.mesh % d == 0)
        with tempfile.TemporaryDirectory() as tmp:
            wa = {"seed": os.path.abspath(args.seedname), "centres": model.positions.tolist(), "pairs": pairs,
                  "atoms_frac": atoms_frac, "labels": [str(model.atoms[0])] * nat if nat == 1 else list(range(nat)),
                  "mesh": args.mesh, "nkfft": nkfft, "ef": ef, "eta": args.eta, "tmp": os.path.join(tmp, "k")}
            full = _run_wb(args.python, wa, False, tmp)
            sym = _run_wb(args.python, wa, True, tmp)

        def to_hp(d):      # WannierBerri [flow, field, spin] (hbar/e) S/m -> hpcorb [spin, flow, field] S/cm
            return np.transpose(np.array(d), (2, 0, 1)) * 0.01
        Tw, Tws = to_hp(full["tensor"]), to_hp(sym["tensor"])
        rows.append((f"WannierBerri {full['version']}", Tw, (full["cpu_run"], full["wall_run"]),
                     (full["cpu_run"], full["wall_run"]), "none: full mesh"))
        rows.append((f"WannierBerri {full['version']} (sym)", Tws, (sym["cpu_run"], sym["wall_run"]),
                     (sym["cpu_run"], sym["wall_run"]), "its point group (irreducible K, symmetrized)"))
    else:
        print(f"  WannierBerri not importable with {args.python}: run with --install (creates it from PyPI), "
              "or give --python of an environment that has wannierberri and numba")
    print(f"  E_F = {ef:.6f} eV (electron count {args.electrons:g} on the mesh); sigma in (hbar/e)(Ohm cm)^-1")
    print(f"  {'code':34s} {'sigma^z_xy':>12s} {'sigma^x_yz':>12s} {'sigma^y_zx':>12s} "
          f"{'CPU s/k':>9s} {'to final (CPU s, wall s)':>25s}  symmetry")
    for name, Tx, t_k, t_final, symtxt in rows:
        comps = [KT.component(Tx, g, a, b) for g, a, b in (("z", "x", "y"), ("x", "y", "z"), ("y", "z", "x"))]
        per_k = f"{t_k[0] / N * 1e3:7.3f}ms" if "(sym)" not in name else f"{'-':>9s}"
        print(f"  {name:34s} {comps[0]:12.4f} {comps[1]:12.4f} {comps[2]:12.4f} {per_k} "
              f"{t_final[0]:12.2f} {t_final[1]:11.2f}  {symtxt}")
    if have_wb:
        rel = np.abs(Tw - T).max() / np.abs(T).max()
        print(f"  max |hpcorb - WannierBerri| / max |sigma| over all 27 components (same mesh, no symmetry): {rel:.2e}")
        print(f"  ratios: CPU per k WannierBerri / hpcorb tensor = {full['cpu_run'] / t_tensor[0]:.2f}, "
              f"/ hpcorb bulk slab_kubo = {full['cpu_run'] / t_full[0]:.2f}; time to final number "
              f"hpcorb bulk slab_kubo / WannierBerri with symmetry = {t_full[0] / sym['cpu_run']:.2f}")
    return 0
