"""Build the TBModel a deck's ``[model]`` table describes.

Sources (exactly one): ``wannier90`` (a Wannier90 seedname: ``.win`` for
lattice, atoms, projections and spinors, ``_hr.dat`` or ``_tb.dat``,
``_wsvec.dat`` and ``_centres.xyz`` when present), ``hr_file`` or ``tb_file``
(Wannier90; with ``centres_file`` and ``orbitals`` for positions and
orbital/spin characters),
``builtin`` (toy models), ``material`` (bundled parameter sets, see
docs/materials.md; bulk, or a film with ``surface`` and ``layers``).  Errors
name the deck key.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import DeckError, InputError
from . import spinor
from .seedname import build_seedname
from .tbmodel import TBModel


def build_model(m: dict, periodic: int | None = None) -> TBModel:
    """``m`` is the validated ``[model]`` dict; ``periodic`` the k-mesh dimension, if known."""
    sources = [k for k in ("wannier90", "hr_file", "builtin", "material", "tb_file") if m.get(k)]
    if m.get("hr_file") and m.get("tb_file"):
        raise DeckError("model.tb_file", m["tb_file"], "give either hr_file or tb_file, not both")
    if len(sources) != 1:
        raise DeckError("model", "{" + ", ".join(sources) + "}",
                        "give exactly one Hamiltonian source: wannier90, hr_file (or tb_file), builtin or material")
    if not m.get("material"):
        for k in ("surface", "layers", "lattice_constant"):
            if m.get(k) is not None:
                raise DeckError(f"model.{k}", m[k], "only for material models ([model] material)")
    if m.get("wannier90"):
        for k in ("centres_file", "orbitals", "lattice"):
            if m.get(k) is not None:
                raise DeckError(f"model.{k}", m[k], "not with wannier90 (the seedname's .win, "
                                "_centres.xyz and _tb.dat give it); use hr_file to set it by hand")
    elif not (m.get("hr_file") or m.get("tb_file")):
        for k in ("centres_file", "orbitals", "lattice"):
            if m.get(k) is not None:
                raise DeckError(f"model.{k}", m[k], "only for Wannier90 models (hr_file or tb_file)")
    if m.get("spinor_order", "auto") != "auto" and not (m.get("wannier90") or m.get("hr_file")
                                                         or m.get("tb_file")):
        raise DeckError("model.spinor_order", m["spinor_order"], "only for Wannier90 models")
    if m.get("wannier90"):
        model = build_seedname(m, periodic)
    elif m.get("builtin"):
        from .toys import build_builtin
        model = build_builtin(m["builtin"], m.get("params"))
    elif m.get("hr_file") or m.get("tb_file"):
        model = _wannier90(m, periodic)
    elif m.get("material"):
        from . import materials   # provided by the materials layer
        model = materials.build_material_model(m)
        if periodic is not None and periodic != model.periodic:
            what = "a film (2 mesh sizes)" if model.periodic == 2 else "a bulk crystal (3 mesh sizes)"
            raise DeckError("kmesh.size", f"{periodic} entries", f"the model is {what}")
    if m.get("electrons") is not None:
        model.electrons = m["electrons"]
    return model


def _wannier90(m, periodic):
    """Wannier90 model: ``hr_file`` (+ ``lattice``, ``centres_file``) or ``tb_file``.

    Positions: from ``tb_file`` (diagonal of the position matrix at R = 0),
    else the Wannier centres of ``centres_file``; when ``orbitals`` names atoms
    and the centres file lists atoms, each function sits on its atom
    (atom-centred positions, PHYSICS.md section 5).  Without either, all at 0.
    ``orbitals``: per Wannier function 'ATOM:CHARACTER' (spin = true: the
    spin-up functions only, the file holding 2x as many in Wannier90's spinor
    order up, down per projection), or 'ATOM:CHARACTER:up|down' for every
    function (any order).
    """
    from ..io.wannier90 import read_centres, read_hr, read_tb
    positions = None
    missing = None
    if m.get("tb_file"):
        path = m["tb_file"]
        if not os.path.isfile(path):
            raise DeckError("model.tb_file", path, "no such file")
        lattice, R, H, r = read_tb(path)
        r0 = np.flatnonzero(np.all(R == 0, axis=1))
        if len(r0):
            positions = np.real(np.einsum("cii->ic", r[r0[0]]))
        if m.get("lattice") is not None:
            raise DeckError("model.lattice", m["lattice"], "tb_file carries the lattice; remove lattice")
    else:
        path = m["hr_file"]
        if not os.path.isfile(path):
            raise DeckError("model.hr_file", path, "no such file")
        R, H = read_hr(path)
        lattice = np.eye(3)
        missing = ("model.lattice: the lattice vectors (Angstrom) of this hr_file; give lattice = "
                   "[[a1x,a1y,a1z],[a2x,...],[a3x,...]], or use wannier90 = seedname or tb_file")
        if m.get("lattice") is not None:
            missing = None
            lat = m["lattice"]
            try:
                lattice = np.array(lat, dtype=float)
                assert lattice.shape == (3, 3) and abs(np.linalg.det(lattice)) > 1e-8
            except (ValueError, TypeError, AssertionError):
                raise DeckError("model.lattice", lat, "expected 3 linearly independent vectors "
                                "[[a1x,a1y,a1z],[a2x,...],[a3x,...]] in Angstrom") from None
    n = H.shape[1]
    spin = bool(m.get("spin", False))
    atoms = orbitals = spins = None
    spinor_meta = {}
    if m.get("orbitals") is not None:
        r0 = np.flatnonzero(np.all(R == 0, axis=1))
        H0 = H[r0[0]] if len(r0) else None
        atoms, orbitals, spins, spinor_meta = _parse_orbitals(m["orbitals"], n, spin, path, H0,
                                                              m.get("spinor_order", "auto") or "auto")
    elif spin:
        raise DeckError("model.spin", True, "a spinful Wannier90 model needs [model] orbitals "
                        "(the character of each Wannier function), or set spin = false")
    if m.get("centres_file"):
        cpath = m["centres_file"]
        if not os.path.isfile(cpath):
            raise DeckError("model.centres_file", cpath, "no such file")
        centres, atom_list = read_centres(cpath)
        if len(centres) != n:
            raise DeckError("model.centres_file", cpath,
                            f"has {len(centres)} Wannier centres but {os.path.basename(path)} has {n} functions")
        positions = centres
        if atoms is not None and atom_list and atoms.max() < len(atom_list):
            positions = np.array([atom_list[a][1] for a in atoms])
    if positions is None:
        positions = np.zeros((n, 3))
        n_sites = n if atoms is None else len(np.unique(atoms))
        if n_sites > 1 and missing is None:
            missing = ("model.centres_file: the position of each Wannier function (seedname_centres.xyz); "
                       f"{os.path.basename(path)} has {n_sites} sites and without positions all would "
                       "sit at the origin")
    dim = 3 if periodic is None else periodic
    if dim == 2 and np.any(R[:, 2] != 0):
        raise DeckError("kmesh.size", "2 entries", f"{path} has hoppings along a3 (R3 != 0): "
                        "it is a bulk model; give 3 mesh sizes")
    model = TBModel(lattice=lattice, R=R, H=H, positions=positions, periodic=dim,
                    atoms=atoms, orbitals=orbitals, spins=spins,
                    name=os.path.basename(path), meta={"source": "wannier90", "hr_file": path, **spinor_meta})
    if missing:
        model.meta["missing_geometry"] = missing
    if spin:
        model.meta["soc"] = "as contained in the Wannier90 Hamiltonian (soc_scale does not apply)"
    herm = model.check_hermitian()
    if herm > 1e-6 * max(1.0, float(np.abs(H).max())):
        raise InputError(f"{path}: H(R) is not Hermitian (|H(R) - H(-R)^+| up to {herm:.3g} eV, "
                         "or a -R block is missing)")
    return model


def _parse_orbitals(specs, n, spin, path, H0=None, order="auto"):
    """(atoms, orbitals, spins, meta); spin-up-only lists are paired in ``order``
    (:mod:`hpcorb.models.spinor`; 'auto' fits the on-site block H0)."""
    from .orbitals import ORBITALS
    key = "model.orbitals"
    parsed = []
    for s in specs:
        parts = s.split(":")
        if len(parts) not in (2, 3) or not parts[0].strip().isdigit():
            raise DeckError(key, s, "expected 'ATOM:CHARACTER' or 'ATOM:CHARACTER:up|down', e.g. '0:dxy'")
        ch = parts[1].strip()
        if ch not in ORBITALS and ch != "x":
            raise DeckError(key, s, "character one of " + ", ".join(ORBITALS) + ", x")
        sp = None
        if len(parts) == 3:
            sp = {"up": 0, "u": 0, "down": 1, "dn": 1, "d": 1}.get(parts[2].strip().lower())
            if sp is None:
                raise DeckError(key, s, "spin suffix 'up' or 'down'")
        parsed.append((int(parts[0]), ch, sp))
    explicit = [p[2] is not None for p in parsed]
    if any(explicit) and not all(explicit):
        raise DeckError(key, specs, "give a spin suffix on every entry or on none")
    if all(explicit):
        if not spin:
            raise DeckError(key, specs, "spin suffixes need spin = true")
        if len(parsed) != n:
            raise DeckError(key, f"{len(parsed)} entries",
                            f"{os.path.basename(path)} has {n} Wannier functions; give one entry per function")
        if order != "auto":
            raise DeckError("model.spinor_order", order, "orbitals with explicit :up/:down suffixes "
                            "give the order already; remove spinor_order")
        atoms = np.array([p[0] for p in parsed])
        return atoms, [p[1] for p in parsed], np.array([p[2] for p in parsed]), {}
    want = 2 * len(parsed) if spin else len(parsed)
    if want != n:
        how = (f"{len(parsed)} spin-up entries x 2 = {want}" if spin else f"{len(parsed)} entries")
        raise DeckError(key, f"{len(parsed)} entries",
                        f"{os.path.basename(path)} has {n} Wannier functions but orbitals describe {how}"
                        + ("" if spin else " (spinful file? set spin = true)"))
    if not spin:
        if order != "auto":
            raise DeckError("model.spinor_order", order, "only for spinful models (spin = true)")
        return np.array([p[0] for p in parsed]), [p[1] for p in parsed], None, {}
    atoms_up = [p[0] for p in parsed]
    labels_up = [p[1] for p in parsed]
    chosen, res = spinor.choose(order, H0, atoms_up, labels_up, legacy="interleaved")
    cand = spinor.candidate(chosen, len(parsed))
    meta = {"spinor_order": chosen, "spinor_order_requested": order,
            "spinor_residual_interleaved_eV": res["interleaved"], "spinor_residual_block_eV": res["block"]}
    return (np.array([atoms_up[p] for p, _ in cand]), [labels_up[p] for p, _ in cand],
            np.array([s for _, s in cand]), meta)
