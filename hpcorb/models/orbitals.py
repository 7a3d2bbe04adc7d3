"""Real-harmonic orbitals, orbital angular momentum L, spin S and on-site SOC.

Orbital order per site (any subset keeps this order):
``s, px, py, pz, dxy, dyz, dzx, dx2-y2, dz2``.
L = -i r x grad in units of hbar; its nonzero upper elements <row|L|col>
(PHYSICS.md section 0):

* p: <py|Lx|pz> = -i, <px|Ly|pz> = +i, <px|Lz|py> = -i
* d: <dxy|Lx|dzx> = -i, <dyz|Lx|dx2-y2> = -i, <dyz|Lx|dz2> = -i sqrt 3;
  <dxy|Ly|dyz> = +i, <dzx|Ly|dx2-y2> = -i, <dzx|Ly|dz2> = +i sqrt 3;
  <dxy|Lz|dx2-y2> = +2i, <dyz|Lz|dzx> = +i

Spin S = sigma / 2 (units of hbar), basis (up, down) along z.
Spinful states are ordered spin-major on each site: index = spin * n_orb + orb,
so single-site operators are ``kron(S_a, L_b)`` etc.
"""
from __future__ import annotations

import numpy as np

ORBITALS = ("s", "px", "py", "pz", "dxy", "dyz", "dzx", "dx2-y2", "dz2")
SHELL = {"s": 0, "px": 1, "py": 1, "pz": 1, "dxy": 2, "dyz": 2, "dzx": 2, "dx2-y2": 2, "dz2": 2}

_S3 = np.sqrt(3.0)


def _full_l() -> np.ndarray:
    """L (3, 9, 9) in the full s, p, d basis."""
    idx = {o: i for i, o in enumerate(ORBITALS)}
    L = np.zeros((3, 9, 9), dtype=complex)
    upper = [
        (0, "py", "pz", -1j), (1, "px", "pz", 1j), (2, "px", "py", -1j),
        (0, "dxy", "dzx", -1j), (0, "dyz", "dx2-y2", -1j), (0, "dyz", "dz2", -1j * _S3),
        (1, "dxy", "dyz", 1j), (1, "dzx", "dx2-y2", -1j), (1, "dzx", "dz2", 1j * _S3),
        (2, "dxy", "dx2-y2", 2j), (2, "dyz", "dzx", 1j),
    ]
    for a, r, c, v in upper:
        L[a, idx[r], idx[c]] = v
        L[a, idx[c], idx[r]] = np.conj(v)
    return L


L_FULL = _full_l()
PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
S_SPIN = PAULI / 2


def check_labels(labels):
    bad = [o for o in labels if o not in ORBITALS and o != "x"]
    if bad:
        raise ValueError(f"unknown orbital label(s) {bad}; allowed: {', '.join(ORBITALS)}, x")


def l_matrices(labels) -> np.ndarray:
    """L (3, n, n) for the orbitals ``labels`` of one atom (zero rows for 's', 'x')."""
    check_labels(labels)
    idx = [ORBITALS.index(o) if o != "x" else None for o in labels]
    n = len(labels)
    L = np.zeros((3, n, n), dtype=complex)
    for i, a in enumerate(idx):
        for j, b in enumerate(idx):
            if a is not None and b is not None:
                L[:, i, j] = L_FULL[:, a, b]
    return L


def soc_matrix(labels, xi_p: float, xi_d: float) -> np.ndarray:
    """On-site xi L.S (2n, 2n) for one atom, spin-major basis (spin * n + orb).

    xi per shell in eV; L.S couples only orbitals of the same shell, and L
    has no elements between shells, so xi_l L.S = sum_a kron(S_a, P_l L_a P_l).
    """
    L = l_matrices(labels)
    shell = np.array([SHELL.get(o, -1) for o in labels])
    xi = np.where(shell == 1, xi_p, np.where(shell == 2, xi_d, 0.0))
    Lxi = L * np.sqrt(xi)[None, :, None] * np.sqrt(xi)[None, None, :]
    return sum(np.kron(S_SPIN[a], Lxi[a]) for a in range(3))


def model_operators(model):
    """L and S (each (3, N, N)) in a model's basis, from its metadata.

    L acts within each atom (and spin), S within each atom and orbital;
    functions labelled 'x' get zero L.  Spinless models get S = 0.
    """
    n = model.norb
    atoms, orbs, spins = model.atoms, list(model.orbitals), model.spins
    check_labels(orbs)
    oidx = np.array([ORBITALS.index(o) if o != "x" else -1 for o in orbs])
    same_atom = atoms[:, None] == atoms[None, :]
    same_spin = spins[:, None] == spins[None, :]
    valid = (oidx[:, None] >= 0) & (oidx[None, :] >= 0)
    mask = same_atom & same_spin & valid
    L = np.zeros((3, n, n), dtype=complex)
    ii, jj = np.nonzero(mask)
    L[:, ii, jj] = L_FULL[:, oidx[ii], oidx[jj]]
    S = np.zeros((3, n, n), dtype=complex)
    if np.any(spins >= 0):
        same_orb = (oidx[:, None] == oidx[None, :]) & same_atom
        ii, jj = np.nonzero(same_orb & (spins[:, None] >= 0) & (spins[None, :] >= 0))
        S[:, ii, jj] = S_SPIN[:, spins[ii], spins[jj]]
    return L, S


def layer_index(z: np.ndarray, tol: float = 1e-3):
    """Group positions along z into layers: (layer of each state, layer z values)."""
    order = np.sort(np.unique(np.round(z / tol).astype(np.int64)))
    zs = []
    layer = np.empty(len(z), dtype=int)
    keys = np.round(z / tol).astype(np.int64)
    for i, k in enumerate(order):
        sel = keys == k
        layer[sel] = i
        zs.append(float(np.mean(z[sel])))
    return layer, np.array(zs)
