"""H(k) and dH/dk in an orthonormal basis, for any model.

Orthogonal models: ``model.hk_dhk`` unchanged.  Non-orthogonal models (NRL
tight binding): per-k Loewdin orthogonalization,
``H'(k) = S(k)^-1/2 H(k) S(k)^-1/2``, and its *exact* k-derivative (the
velocity of the orthogonalized model), using the closed form of the
derivative of a matrix square root in the eigenbasis of S,
``s_i`` eigenvalues of S, ``dS~ = U^+ dS U``:

    d(S^-1/2)~_ij = - dS~_ij / (sqrt(s_i) sqrt(s_j) (sqrt(s_i) + sqrt(s_j)))

Operators that are on-site (L, S, layer projectors) are taken as the same
matrices in the Loewdin basis (block-diagonal per atom), the usual
approximation; calculations record this in their output.
"""
from __future__ import annotations

import numpy as np


def inv_sqrt_and_derivative(S, dS=None):
    """S^-1/2 (nk, N, N) and, if dS (nk, 3, N, N) is given, d(S^-1/2)/dk."""
    s, U = np.linalg.eigh(S)
    if np.any(s <= 0):
        raise ValueError(f"overlap matrix not positive definite (smallest eigenvalue {s.min():.3g})")
    r = np.sqrt(s)
    Uh = np.conj(np.swapaxes(U, -1, -2))
    Sinv = (U / r[:, None, :]) @ Uh
    if dS is None:
        return Sinv, None
    denom = r[:, :, None] * r[:, None, :] * (r[:, :, None] + r[:, None, :])
    dSt = Uh[:, None] @ dS @ U[:, None]
    dSinv = U[:, None] @ (-dSt / denom[:, None]) @ Uh[:, None]
    return Sinv, dSinv


def hk_dhk(model, kfrac):
    """(H, dH/dk) in an orthonormal basis: shapes (nk, N, N), (nk, 3, N, N)."""
    H, dH = model.hk_dhk(kfrac)
    if model.S is None:
        return H, dH
    S, dS = model.dsk(kfrac)
    X, dX = inv_sqrt_and_derivative(S, dS)
    Hp = X @ H @ X
    dHp = dX @ H[:, None] @ X[:, None] + X[:, None] @ dH @ X[:, None] + X[:, None] @ H[:, None] @ dX
    return Hp, dHp


def hk(model, kfrac):
    """H(k) in an orthonormal basis (nk, N, N)."""
    H = model.hk(kfrac)
    if model.S is None:
        return H
    X, _ = inv_sqrt_and_derivative(model.sk(kfrac))
    return X @ H @ X
