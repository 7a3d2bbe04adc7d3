"""Two-centre Slater-Koster matrix elements for s, p, d orbitals.

Bond integrals (hpcorb order, also the order of :data:`BONDS`):
``sss, sps, pps, ppp, sds, pds, pdp, dds, ddp, ddd``.

Convention (Slater & Koster, Phys. Rev. 94, 1498 (1954), Table I): the
matrix element ``E_ab(d) = <a, 0|H|b, d>`` between orbital ``a`` on the
atom at the origin and orbital ``b`` on the atom at ``d``, with direction
cosines ``(l, m, n) = d/|d|``; e.g. ``E_s,x = l V_sps``,
``E_x,x = l^2 V_pps + (1 - l^2) V_ppp``.  Reversing the bond
(``E_ba(d) = E_ab(-d)``) flips the sign of the parity-odd (sp, pd) elements.

Implementation: in the bond frame (d along +z) the matrix is diagonal in
|m| (sigma, pi, delta) with ``E_s,z = V_sps``, ``E_z,s = -V_sps``,
``E_z,z2 = V_pds``, ``E_x,zx = E_y,yz = V_pdp`` (and minus for the reverse);
the general bond follows by the real-harmonic rotation
``E(d) = D(Q) E0 D(Q)^T`` with ``Q e_z = d/|d|``
(:mod:`hpcorb.models.rotations`).  The literal table of Slater and Koster is
reproduced in tests/test_slaterkoster.py as an independent check.
"""
from __future__ import annotations

import numpy as np

from .orbitals import ORBITALS
from .rotations import orbital_rotation, rotation_to

BONDS = ("sss", "sps", "pps", "ppp", "sds", "pds", "pdp", "dds", "ddp", "ddd")

_I = {o: i for i, o in enumerate(ORBITALS)}

# (row, col, bond index, sign) of the bond-frame matrix E0 (d along +z)
_BOND_FRAME = [
    ("s", "s", 0, 1), ("s", "pz", 1, 1), ("pz", "s", 1, -1),
    ("pz", "pz", 2, 1), ("px", "px", 3, 1), ("py", "py", 3, 1),
    ("s", "dz2", 4, 1), ("dz2", "s", 4, 1),
    ("pz", "dz2", 5, 1), ("dz2", "pz", 5, -1),
    ("px", "dzx", 6, 1), ("dzx", "px", 6, -1), ("py", "dyz", 6, 1), ("dyz", "py", 6, -1),
    ("dz2", "dz2", 7, 1), ("dzx", "dzx", 8, 1), ("dyz", "dyz", 8, 1),
    ("dxy", "dxy", 9, 1), ("dx2-y2", "dx2-y2", 9, 1),
]


def bond_frame_matrix(V) -> np.ndarray:
    """E0 (..., 9, 9) for bond integrals V (..., 10) with the bond along +z."""
    V = np.asarray(V, dtype=float)
    E0 = np.zeros(V.shape[:-1] + (9, 9))
    for a, b, k, s in _BOND_FRAME:
        E0[..., _I[a], _I[b]] = s * V[..., k]
    return E0


def sk_matrices(d, V, labels=ORBITALS) -> np.ndarray:
    """Hopping matrices E(d) (nb, n, n) for bond vectors d (nb, 3) and bond integrals V (nb, 10).

    ``labels``: the orbitals of the site (a subset of the s, p, d order).
    """
    d = np.atleast_2d(np.asarray(d, dtype=float))
    V = np.broadcast_to(np.asarray(V, dtype=float), (d.shape[0], 10))
    Q = rotation_to(d)
    D = orbital_rotation(Q)                       # (nb, 9, 9)
    E = D @ bond_frame_matrix(V) @ np.swapaxes(D, -1, -2)
    idx = [_I[o] for o in labels]
    return E[:, idx][:, :, idx]


def sk_element(a: str, b: str, lmn, V) -> float:
    """One matrix element E_ab for direction cosines lmn and bond integrals V (10,)."""
    E = sk_matrices(np.asarray(lmn, dtype=float)[None], np.asarray(V, dtype=float)[None])
    return float(E[0, _I[a], _I[b]])


def onsite_cubic(e_s, e_p, e_t2g, e_eg, Q=None, labels=ORBITALS) -> np.ndarray:
    """On-site matrix of a site with cubic crystal field, in axes rotated by Q.

    In the cubic axes it is diag(e_s, e_p x3, e_t2g x3, e_eg x2); in a frame
    whose axes are the rows of ``Q`` (film axes in cubic coordinates) it is
    ``D(Q) E D(Q)^T``.
    """
    E = np.diag([e_s, e_p, e_p, e_p, e_t2g, e_t2g, e_t2g, e_eg, e_eg]).astype(float)
    if Q is not None:
        D = orbital_rotation(np.asarray(Q, dtype=float))
        E = D @ E @ D.T
    idx = [_I[o] for o in labels]
    return E[np.ix_(idx, idx)]
