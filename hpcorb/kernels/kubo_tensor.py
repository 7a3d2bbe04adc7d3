"""Full intrinsic spin and orbital Hall conductivity tensor of a bulk crystal.

Pure numpy, no MPI, no I/O.  Per k-point, for the bands ``cols`` (see
:func:`hpcorb.kernels.kubo.band_window`), the per-band contribution

    c_n[o, gamma, alpha, beta] = 2 sum_n' g_nn' Im[ A_nn' (B_beta)_n'n ],
    g_nn' = 1 / ((E_n - E_n')^2 + eta^2),

with the conventional current ``hbar A = (1/2){hbar v_alpha, O_gamma}`` of
``O = L`` (o = 0, units of hbar) or ``S = sigma/2`` (o = 1) flowing along
alpha, and the perturbation ``hbar B_beta = dH/dk_beta`` (field along beta).
Velocities are the Cartesian dH/dk of the model (atomic positions in the
Bloch phase, PHYSICS.md section 5), in eV Angstrom; c is in Angstrom^2.
This is the same summand as the film kernel's direct response
(:mod:`hpcorb.kernels.kubo`) with the layer projector equal to 1, for all
27 (gamma, alpha, beta) at once: ``c[:, o, gamma, 2, beta]`` equals the bulk
``direct/{orbital,spin}/conventional`` of slab_kubo for beta = x, y.

sigma^gamma_{alpha beta}(mu) = -SIGMA_UNIT / (V N_k) sum_k sum_n F_n(mu) c_n
[(hbar/e)(Ohm cm)^-1] (:func:`finish`), V the cell volume in Angstrom^3 and
F the occupation weights of the energy histogram (exact at T = 0).

Index convention of the result: [energy, gamma (polarization x, y, z),
alpha (flow x, y, z), beta (field x, y, z)].
"""
from __future__ import annotations

import numpy as np

from .kubo import SIGMA_UNIT, occupation_weights


def tensor_k(E, U, dH, O, eta: float, cols: slice):
    """Per-band contributions c (m, 2, 3, 3, 3) at one k.

    E (N,) ascending eigenvalues (eV), U (N, N) eigenvectors (columns), dH
    (3, N, N) Cartesian dH/dk (eV Angstrom), O (6, N, N) = (Lx, Ly, Lz, Sx,
    Sy, Sz) in the orbital basis, eta (eV); cols the bands to return.
    """
    N = len(E)
    Ec = E[cols]
    m = len(Ec)
    if m == 0:
        return np.zeros((0, 2, 3, 3, 3))
    Uh = U.conj().T
    Vt = Uh[None] @ dH @ U[None]                                  # (3, N, N) band basis
    Ot = Uh[None] @ O @ U[None]                                   # (6, N, N)
    Vr, Or = Vt[:, cols, :], Ot[:, cols, :]                       # rows n in cols
    # A[a, g, n, q] = (1/2)(V_a O_g + O_g V_a)_nq, rows n only
    A = 0.5 * (np.einsum("anp,gpq->agnq", Vr, Ot, optimize=True)
               + np.einsum("gnp,apq->agnq", Or, Vt, optimize=True))
    B = Vt[:, :, cols]                                            # (3, N, m): (B_b)_{q n}
    g = 1.0 / ((Ec[:, None] - E[None, :]) ** 2 + eta ** 2)        # (m, N)
    c = 2.0 * np.einsum("nq,agnq,bqn->ngab", g, A, B, optimize=True).imag    # (m, 6, 3, 3)
    return c.reshape(m, 2, 3, 3, 3)


def finish(hist, edges, mu, kT, holes, volume, nk, hist1=None):
    """Histogram(s) (nbins, ...) -> sigma (nE, ...) in (hbar/e)(Ohm cm)^-1."""
    F = occupation_weights(edges, mu, kT, holes)                  # (nE, nbins)
    s = np.tensordot(F, hist, axes=(1, 0))
    if hist1 is not None:
        s = s + np.tensordot(occupation_weights(edges, mu, kT, holes, derivative=True), hist1, axes=(1, 0))
    return s * (-SIGMA_UNIT / (volume * nk))


# the independent components quoted in published tables of cubic crystals, and partners
COMPONENTS = [("z", "x", "y"), ("x", "y", "z"), ("y", "z", "x"),
              ("z", "y", "x"), ("x", "z", "y"), ("y", "x", "z")]


def component(T, gamma: str, alpha: str, beta: str):
    """T[..., gamma, alpha, beta] by axis names ('x', 'y', 'z')."""
    i = "xyz".index
    return T[..., i(gamma), i(alpha), i(beta)]
