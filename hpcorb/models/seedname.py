"""``[model] wannier90 = "path/to/seedname"``: a TBModel from Wannier90's own files.

Files (``seedname`` + suffix):

* ``.win`` (required): lattice (``unit_cell_cart``), atoms, ``projections``
  (orbital characters, sites, local axes, hybrids), ``spinors``, ``num_wann``
  (:mod:`hpcorb.io.win`);
* ``_hr.dat`` or, when there is none, ``_tb.dat`` (its lattice must agree
  with the ``.win``);
* ``_wsvec.dat`` when present: the Wigner-Seitz shifts of ``use_ws_distance``
  are applied (:func:`hpcorb.io.wannier90.apply_wsvec`), so that H(k) is
  Wannier90's own interpolation;
* ``_centres.xyz`` when present: the Wannier centres are compared with the
  projection sites (recorded in ``meta``); the basis stays atom-centred
  (PHYSICS.md section 5: positions = projection sites).

Basis: one state per projection (per spinor component), labelled by
hpcorb's real harmonics.  Projections with local axes (``z=``, ``x=``) or
hybrids (``sp3``, ...) are rotated back to the global s, p, d harmonics by a
real orthogonal transformation on their site, which needs the site's
functions to span whole shells (e.g. ``sp3`` = s + p, ``sp3d2;dxy;dxz;dyz`` =
s + p + d); otherwise the projection is refused in one line (its L is not
defined).  f orbitals are refused (hpcorb has no l = 3 operators).
Spinors: ``[model] spinor_order`` (:mod:`hpcorb.models.spinor`).
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import DeckError, InputError
from ..io.wannier90 import apply_wsvec, read_centres, read_hr, read_tb, read_tb_lattice, read_wsvec
from ..io.win import HPCORB_LABEL, coefficients, read_win
from . import spinor
from .orbitals import ORBITALS, SHELL
from .tbmodel import TBModel

KEY = "model.wannier90"


def seed_files(seed: str) -> dict:
    return {k: seed + s for k, s in (("win", ".win"), ("hr", "_hr.dat"), ("tb", "_tb.dat"),
                                     ("wsvec", "_wsvec.dat"), ("centres", "_centres.xyz"))}


def _site_basis(win, projs):
    """Per spinless projection: (site index, hpcorb label), and the real orthogonal
    matrix T (n, n) with new basis = T @ old, or None when no rotation is needed."""
    sites = {}
    site_of = []
    for p in projs:
        key = p.atom if p.atom >= 0 else tuple(np.round(p.site, 6))
        site_of.append(sites.setdefault(key, len(sites)))
    n = len(projs)
    labels = [None] * n
    T = np.eye(n)
    rotated_any = False
    for s in range(len(sites)):
        idx = [i for i in range(n) if site_of[i] == s]
        for i in idx:
            if projs[i].l == 3:
                raise InputError(f"{win.path}:{projs[i].lineno}: projection {projs[i].line!r}: "
                                 f"{projs[i].name} is an f orbital; hpcorb has no l = 3 operators (L)")
        simple = all(projs[i].l >= 0 and not projs[i].rotated for i in idx)
        if simple:
            for i in idx:
                labels[i] = HPCORB_LABEL[(projs[i].l, projs[i].mr)]
            continue
        rotated_any = True
        C = np.array([coefficients(projs[i]) for i in idx])          # (n_site, 9)
        used = np.flatnonzero(np.abs(C).max(axis=0) > 1e-9)
        shells = sorted({SHELL[ORBITALS[j]] for j in used})
        cols = [j for j in range(9) if SHELL[ORBITALS[j]] in shells]
        Cs = C[:, cols]
        bad = next((projs[i] for i in idx if projs[i].rotated or projs[i].l < 0), projs[idx[0]])
        if Cs.shape[0] != Cs.shape[1] or np.abs(Cs @ Cs.T - np.eye(len(idx))).max() > 1e-8:
            raise InputError(f"{win.path}:{bad.lineno}: projection {bad.line!r}: its functions on this "
                             f"site ({', '.join(projs[i].name for i in idx)}) do not make whole s/p/d "
                             "shells in the global axes, so L is not defined for them; project whole "
                             "shells (e.g. sp3 with all four, or d with all five) or drop the local axes")
        # functions w_a = sum_j C_aj phi_j  =>  phi_j = sum_a C_aj w_a: new basis = Cs^T @ old
        T[np.ix_(idx, idx)] = Cs.T
        for pos, j in zip(idx, cols):
            labels[pos] = ORBITALS[j]
    return site_of, labels, (T if rotated_any else None)


def build_seedname(m: dict, periodic) -> TBModel:
    seed = m["wannier90"]
    f = seed_files(seed)
    if not os.path.isfile(f["win"]):
        raise DeckError(KEY, seed, f"no {os.path.basename(f['win'])} (give the seedname: the path "
                        "without .win/_hr.dat)")
    win = read_win(f["win"])
    if win.lattice is None:
        raise DeckError(KEY, seed, f"{f['win']} has no unit_cell_cart (the lattice is required)")
    lattice = win.lattice
    if os.path.isfile(f["hr"]):
        R, H = read_hr(f["hr"])
        hpath = f["hr"]
        if os.path.isfile(f["tb"]):
            lat_tb = read_tb_lattice(f["tb"])
            if np.abs(lat_tb - lattice).max() > 1e-4:
                raise InputError(f"{f['tb']}: lattice differs from {f['win']}'s unit_cell_cart")
    elif os.path.isfile(f["tb"]):
        lat_tb, R, H, _ = read_tb(f["tb"])
        hpath = f["tb"]
        if np.abs(lat_tb - lattice).max() > 1e-4:
            raise InputError(f"{f['tb']}: lattice differs from {f['win']}'s unit_cell_cart")
    else:
        raise DeckError(KEY, seed, f"neither {os.path.basename(f['hr'])} nor {os.path.basename(f['tb'])} exists")
    n = H.shape[1]
    if win.num_wann is not None and win.num_wann != n:
        raise InputError(f"{f['win']}: num_wann = {win.num_wann} but {os.path.basename(hpath)} has {n} functions")
    ws_note = "no _wsvec.dat (plain Fourier sum over the R of the Hamiltonian file)"
    if win.use_ws_distance is None:
        ws_note += ("; the .win does not set use_ws_distance (Wannier90 >= 3.0 defaults to true: then "
                    "copy seedname_wsvec.dat beside the model)")
    if win.use_ws_distance and not os.path.isfile(f["wsvec"]):
        raise DeckError(KEY, seed, f"{os.path.basename(f['win'])} sets use_ws_distance = true but "
                        f"{os.path.basename(f['wsvec'])} is missing: without its Wigner-Seitz shifts the "
                        "_hr.dat does not reproduce Wannier90's interpolation (copy it beside the model)")
    if os.path.isfile(f["wsvec"]):
        shifts = read_wsvec(f["wsvec"], R, n)
        nshift = sum(len(d) for d in shifts)
        R, H = apply_wsvec(R, H, shifts)
        ws_note = f"_wsvec.dat applied ({nshift} (R, m, n) elements with Wigner-Seitz shifts; {len(R)} R)"
    if win.random or not win.projections:
        raise DeckError(KEY, seed, f"{f['win']} has no projections block with orbitals (random "
                        "projections carry no orbital character); use hr_file with orbitals instead")
    projs = win.projections
    if len(projs) != n:
        raise InputError(f"{f['win']}: the projections describe {len(projs)} functions but "
                         f"{os.path.basename(hpath)} has {n}")
    meta = {"source": "wannier90", "seedname": seed, "hr_file": hpath, "ws_distance": ws_note}
    order_key = m.get("spinor_order", "auto") or "auto"
    if win.spinors:
        if any(p.spin < 0 for p in projs) or sum(p.spin == 0 for p in projs) * 2 != n:
            raise InputError(f"{f['win']}: spinors = .true. needs an up and a down function per projection")
        up = [p for p in projs if p.spin == 0]                 # Wannier90's order, spin-up halves
        site_of, labels_up, T_up = _site_basis(win, up)
        atoms_up = np.array(site_of)
        r0 = int(np.flatnonzero(np.all(R == 0, axis=1))[0])
        order, res = spinor.choose(order_key, H[r0], atoms_up, labels_up)
        cand = spinor.candidate(order, len(up))
        atoms = np.array([atoms_up[p] for p, _ in cand])
        orbitals = [labels_up[p] for p, _ in cand]
        spins = np.array([s for _, s in cand])
        positions = np.array([up[p].site for p, _ in cand])
        T = None
        if T_up is not None:
            T = np.zeros((n, n))
            for a, (pa, sa) in enumerate(cand):
                for b, (pb, sb) in enumerate(cand):
                    if sa == sb:
                        T[a, b] = T_up[pa, pb]
        meta.update({"spinor_order": order, "spinor_order_requested": order_key,
                     "spinor_residual_interleaved_eV": res["interleaved"],
                     "spinor_residual_block_eV": res["block"]})
    else:
        if order_key != "auto":
            raise DeckError("model.spinor_order", order_key, f"{f['win']} has spinors = .false.")
        site_of, orbitals, T = _site_basis(win, projs)
        atoms, spins = np.array(site_of), None
        positions = np.array([p.site for p in projs])
    if T is not None:
        H = np.einsum("ab,rbc,dc->rad", T, H, T)
        meta["rotated"] = "local axes / hybrids rotated to global s, p, d harmonics"
    if os.path.isfile(f["centres"]):
        centres, _ = read_centres(f["centres"])
        if len(centres) == n:
            # compare modulo lattice vectors: Wannier90 may put a centre in another cell
            d = centres - positions
            frac = d @ np.linalg.inv(lattice)
            d = (frac - np.round(frac)) @ lattice
            meta["max_centre_offset_A"] = float(np.linalg.norm(d, axis=1).max())
    dim = 3 if periodic is None else periodic
    if dim == 2 and np.any(R[:, 2] != 0):
        raise DeckError("kmesh.size", "2 entries", f"{hpath} has hoppings along a3 (R3 != 0): "
                        "it is a bulk model; give 3 mesh sizes")
    model = TBModel(lattice=lattice, R=R, H=H, positions=positions, periodic=dim, atoms=atoms,
                    orbitals=orbitals, spins=spins, name=os.path.basename(seed), meta=meta)
    if win.spinors:
        model.meta["soc"] = "as contained in the Wannier90 Hamiltonian (soc_scale does not apply)"
    herm = model.check_hermitian()
    if herm > 1e-6 * max(1.0, float(np.abs(H).max())):
        raise InputError(f"{hpath}: H(R) is not Hermitian (|H(R) - H(-R)^+| up to {herm:.3g} eV, "
                         "or a -R block is missing)")
    return model
