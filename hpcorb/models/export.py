"""Write any hpcorb model as Wannier90 files (``write_model``): the models' side of
the Wannier90 format; the readers and low-level writers are :mod:`hpcorb.io.wannier90`."""
from __future__ import annotations

import json
import os

import numpy as np

from ..errors import InputError
from ..io.wannier90 import write_centres, write_hr, write_tb
from .materials import orthogonalized_model


def orbital_specs(model) -> list:
    """The ``[model] orbitals`` entries describing a model's basis ('ATOM:CHAR[:up|down]')."""
    out = []
    for a, o, s in zip(model.atoms, model.orbitals, model.spins):
        out.append(f"{int(a)}:{o}" + ("" if s < 0 else (":up" if s == 0 else ":down")))
    return out


def spinor_order(model):
    """Permutation putting a spinful model into Wannier90's spinor order (up, down per
    function), or None when the states cannot be paired (then written as they are)."""
    spins = np.asarray(model.spins)
    if not np.all(spins >= 0):
        return None
    perm, used = [], set()
    for i in np.flatnonzero(spins == 0):
        partner = [j for j in np.flatnonzero(spins == 1)
                   if j not in used and model.atoms[j] == model.atoms[i]
                   and model.orbitals[j] == model.orbitals[i]
                   and np.allclose(model.positions[j], model.positions[i])]
        if not partner:
            return None
        used.add(partner[0])
        perm += [int(i), int(partner[0])]
    return np.array(perm) if len(perm) == len(spins) else None


def write_model(model, seedname: str, comment: str | None = None, spinor_order_w90: bool = True,
                mesh=None) -> dict:
    """Write any orthogonal hpcorb model as ``seedname_hr.dat``, ``seedname_centres.xyz``,
    ``seedname_tb.dat`` and a deck snippet ``seedname_model.toml`` ([model] keys that read it
    back with the same basis metadata).  Returns the paths (and ``"order"``: the model's state
    index of each written Wannier function).

    Spinful models are written in Wannier90's spinor order (for each spin-up function, it
    and its spin-down partner; hpcorb's own order is per atom all up, then all down), so
    external codes read them as a Wannier90 spinor model and the deck snippet lists the
    spin-up functions only; ``spinor_order_w90=False`` keeps the model's order (the
    snippet then carries explicit ':up'/':down' suffixes).
    Non-orthogonal models (NRL) have no finite R-space orthonormal form: with ``mesh``
    (e.g. (14, 14, 14)) the Loewdin Hamiltonian on that k-mesh is Fourier transformed
    (:func:`hpcorb.models.materials.orthogonalized_model`: exact on the mesh,
    interpolated between); without it they are refused.
    """
    if model.S is not None:
        if mesh is None:
            raise InputError(f"model {model.name!r} is non-orthogonal (NRL); Wannier90 files need an "
                             "orthonormal basis: give a k-mesh to orthogonalize on (mesh=...)")
        model = orthogonalized_model(model, mesh)
    comment = comment or f"written by hpcorb from model {model.name}"
    paths = {"hr_file": seedname + "_hr.dat", "centres_file": seedname + "_centres.xyz",
             "tb_file": seedname + "_tb.dat", "deck": seedname + "_model.toml"}
    spin = bool(np.any(model.spins >= 0))
    perm = spinor_order(model) if (spin and spinor_order_w90) else None
    order = np.arange(model.norb) if perm is None else perm
    H = model.H[:, order][:, :, order]
    pos = model.positions[order]
    write_hr(paths["hr_file"], model.R, H, comment)
    nat = int(model.atoms.max()) + 1
    atom_pos = [model.positions[np.flatnonzero(model.atoms == a)[0]] for a in range(nat)]
    sym = str(model.meta.get("element", ""))[:2]
    if not sym or not sym[0].isalpha() or sym == "X":
        sym = "Xx"                       # "X" lines are Wannier centres in centres.xyz
    write_centres(paths["centres_file"], pos, [(sym, p) for p in atom_pos], comment)
    write_tb(paths["tb_file"], model.lattice, model.R, H, pos, comment)
    if perm is not None:
        specs = [f"{int(model.atoms[i])}:{model.orbitals[i]}" for i in order[::2]]
    else:
        specs = [orbital_specs(model)[i] for i in order]
    with open(paths["deck"], "w", encoding="utf-8") as f:
        f.write(f"# [model] table reading back {os.path.basename(paths['hr_file'])} (hpcorb)\n[model]\n")
        f.write(f'hr_file = "{os.path.basename(paths["hr_file"])}"\n')
        f.write(f'centres_file = "{os.path.basename(paths["centres_file"])}"\n')
        f.write("lattice = " + json.dumps(np.asarray(model.lattice).tolist()) + "\n")
        f.write(f"spin = {'true' if spin else 'false'}\n")
        if model.electrons is not None:
            f.write(f"electrons = {float(model.electrons)!r}\n")
        f.write("orbitals = " + json.dumps(specs) + "\n")
    paths["order"] = order
    return paths
