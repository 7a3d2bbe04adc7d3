"""Build the TBModel a deck's ``[model]`` table describes.

Sources (exactly one): ``hr_file`` (Wannier90), ``builtin`` (toy models),
``material`` (bundled parameter sets; bulk, or a film with ``surface`` and
``layers``).  Errors name the deck key.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import DeckError, InputError
from .tbmodel import TBModel


def build_model(m: dict, periodic: int | None = None) -> TBModel:
    """``m`` is the validated ``[model]`` dict; ``periodic`` the k-mesh dimension, if known."""
    sources = [k for k in ("hr_file", "builtin", "material", "tb_file") if m.get(k)]
    if m.get("hr_file") and m.get("tb_file"):
        raise DeckError("model.tb_file", m["tb_file"], "give either hr_file or tb_file, not both")
    if len(set(sources) - {"tb_file"} if "hr_file" in sources else set(sources)) != 1:
        raise DeckError("model", "{" + ", ".join(sources) + "}",
                        "give exactly one Hamiltonian source: hr_file (or tb_file), builtin or material")
    if m.get("builtin"):
        from .toys import build_builtin
        model = build_builtin(m["builtin"], m.get("params"))
    elif m.get("hr_file"):
        model = _wannier90(m, periodic)
    elif m.get("material"):
        from . import materials   # provided by the materials layer
        model = materials.build_material_model(m)
    else:
        raise DeckError("model.tb_file", m["tb_file"], "reading _tb.dat is not supported yet; use hr_file")
    if m.get("electrons") is not None:
        model.electrons = m["electrons"]
    return model


def _wannier90(m, periodic):
    from ..io.wannier90 import read_hr
    path = m["hr_file"]
    if not os.path.isfile(path):
        raise DeckError("model.hr_file", path, "no such file")
    R, H = read_hr(path)
    n = H.shape[1]
    lattice = np.eye(3)
    if m.get("lattice") is not None:
        lat = m["lattice"]
        try:
            lattice = np.array(lat, dtype=float)
            assert lattice.shape == (3, 3) and abs(np.linalg.det(lattice)) > 1e-8
        except (ValueError, TypeError, AssertionError):
            raise DeckError("model.lattice", lat, "expected 3 linearly independent vectors "
                            "[[a1x,a1y,a1z],[a2x,...],[a3x,...]] in Angstrom") from None
    dim = 3 if periodic is None else periodic
    if dim == 2 and np.any(R[:, 2] != 0):
        raise DeckError("kmesh.size", "2 entries", f"{path} has hoppings along a3 (R3 != 0): "
                        "it is a bulk model; give 3 mesh sizes")
    model = TBModel(lattice=lattice, R=R, H=H, positions=np.zeros((n, 3)), periodic=dim,
                    name=os.path.basename(path), meta={"source": "wannier90", "hr_file": path})
    herm = model.check_hermitian()
    if herm > 1e-6 * max(1.0, float(np.abs(H).max())):
        raise InputError(f"{path}: H(R) is not Hermitian (|H(R) - H(-R)^+| up to {herm:.3g} eV, "
                         "or a -R block is missing)")
    return model
