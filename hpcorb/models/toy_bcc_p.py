"""Toy model of paper 000's supplement: bcc lattice, three p orbitals per site.

Nearest neighbours only (the 8 vectors a/2 (+-1, +-1, +-1)), two-centre
Slater-Koster p-p bonds:

    E_{mu nu}(d) = l_mu l_nu pp_sigma + (delta_mu_nu - l_mu l_nu) pp_pi

(l = direction cosines of the bond), on-site energy ``eps``.  With
``spin = 1`` the basis is doubled (spin-major: index = spin * 3 + orb) and the
on-site SOC ``xi * soc_scale * L.S`` (orbitals.soc_matrix, L of PHYSICS.md
section 0) is added.  Parameters in eV and Angstrom; the defaults are
generic (a d-band-like width of a few eV), the physics is qualitative.
"""
from __future__ import annotations

import itertools

import numpy as np

from .orbitals import soc_matrix
from .tbmodel import TBModel

DEFAULTS = {"a": 3.0, "pp_sigma": 1.0, "pp_pi": -0.3, "eps": 0.0, "spin": 1.0, "xi": 0.2,
            "soc_scale": 1.0}
DOC = ("bcc, 3 p orbitals, nearest-neighbour pp_sigma/pp_pi (eV), a (Angstrom), eps (eV); "
       "spin = 0/1, on-site SOC xi * soc_scale L.S (eV)")


def bcc_lattice(a: float) -> np.ndarray:
    """Primitive bcc vectors (rows), Angstrom."""
    return 0.5 * a * np.array([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])


def p_block(d: np.ndarray, pps: float, ppp: float) -> np.ndarray:
    l = d / np.linalg.norm(d)
    return pps * np.outer(l, l) + ppp * (np.eye(3) - np.outer(l, l))


def toy_bcc_p(p: dict) -> TBModel:
    a = p["a"]
    spin = p["spin"]
    if spin not in (0.0, 1.0):
        raise ValueError("toy_bcc_p: spin must be 0 or 1")
    lat = bcc_lattice(a)
    inv = np.linalg.inv(lat)
    R = [(0, 0, 0)]
    blocks = [p["eps"] * np.eye(3, dtype=complex)]
    for s in itertools.product((1, -1), repeat=3):
        d = 0.5 * a * np.array(s, dtype=float)
        r = np.rint(d @ inv).astype(int)
        assert np.allclose(r @ lat, d)
        R.append(tuple(r))
        blocks.append(p_block(d, p["pp_sigma"], p["pp_pi"]).astype(complex))
    blocks = np.array(blocks)
    labels = ["px", "py", "pz"]
    if spin:
        H = np.array([np.kron(np.eye(2), b) for b in blocks])
        H[0] += soc_matrix(labels, p["xi"] * p["soc_scale"], 0.0)
        n = 6
        orbitals, spins = labels * 2, np.repeat([0, 1], 3)
    else:
        H = blocks
        n = 3
        orbitals, spins = labels, -np.ones(3, dtype=int)
    return TBModel(lattice=lat, R=np.array(R), H=H, positions=np.zeros((n, 3)), periodic=3,
                   atoms=np.zeros(n, dtype=int), orbitals=orbitals, spins=spins, name="bcc_p",
                   meta={"builtin": "bcc_p", "soc_scale": p["soc_scale"], "xi_eV": p["xi"]})


ENTRY = (toy_bcc_p, DEFAULTS, DOC)     # the BUILTINS registry entry (hpcorb/models/toys.py)
