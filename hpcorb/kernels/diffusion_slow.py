"""Literal evaluation of paper 000, Eqs. 8 and 10-13, for the tests.

Per k-point and energy: explicit inverses G^R = (eps - H + i Gamma)^-1,
G^A = (eps - H - i Gamma)^-1 in the orbital basis, the literal
``Im[X] = (X - X^dagger) / 2i`` and ``Re Tr[J Im[G^R O G^A v_i G^A]]`` with
the current operators written out as anticommutators.  Same output layout,
prefactors and units (Angstrom^2/eV, summed over k) as
:func:`hpcorb.kernels.diffusion.diffusion_kernel`.  Slow by design.
"""
from __future__ import annotations

import numpy as np

from .diffusion import C_DENSITY, F_CURRENT


def _im(X):
    return (X - X.conj().T) / 2j


def diffusion_literal(H, dH, sigma, L, energies, gamma):
    energies = np.atleast_1d(np.asarray(energies, dtype=float))
    nk, N = H.shape[0], H.shape[-1]
    nE = len(energies)
    charge = np.zeros((nE, 3, 3))
    tensor = np.zeros((nE, 2, 3, 3, 2, 3, 3))
    dens = (sigma, L)
    one = np.eye(N)
    for k in range(nk):
        v = dH[k]
        currents = {}
        for X in range(2):
            for b in range(3):
                for j in range(3):
                    A = dens[X][b]
                    currents[X, b, j] = F_CURRENT[X] * (v[j] @ A + A @ v[j])
        for e, eps in enumerate(energies):
            GR = np.linalg.inv((eps + 1j * gamma) * one - H[k])
            GA = np.linalg.inv((eps - 1j * gamma) * one - H[k])
            for i in range(3):
                # Eq. 8: D_ij = hbar Re Tr[v_j Im[G^R G^A v_i G^A]]
                M = _im(GR @ GA @ v[i] @ GA)
                for j in range(3):
                    charge[e, i, j] += np.trace(v[j] @ M).real
                for Y in range(2):
                    for a in range(3):
                        M = _im(GR @ (C_DENSITY[Y] * dens[Y][a]) @ GA @ v[i] @ GA)
                        for X in range(2):
                            for b in range(3):
                                for j in range(3):
                                    tensor[e, X, b, j, Y, a, i] += np.trace(currents[X, b, j] @ M).real
    return charge, tensor
