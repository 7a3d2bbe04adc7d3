"""Keldysh Fermi-surface diffusivities (paper 000, Eqs. 7-13), batched over k.

Pure numpy.  For a chunk of k-points with H(k), dH/dk in an orthonormal
basis, the density/current operators sigma (= 2 S) and L, a list of
energies and the broadening Gamma this returns, summed over the chunk,

    S[X beta j, Y alpha i](eps) = f_X c_Y Im Tr[ J'_{X beta j} G^R O_{Y alpha} G^A dH_i G^A ]

with G^{R/A} = (eps - H +/- i Gamma)^-1 and (hbar-free operators)

    charge  J' = dH_j                      O = 1        f = c = 1
    spin    J' = {dH_j, sigma_beta}, f = 1/4;   O = sigma_alpha, c = 2
    orbital J' = {dH_j, L_beta},     f = 1/2;   O = L_alpha,     c = 1

(PHYSICS.md section 2: J_s = (hbar/4){v, sigma}, J_l = (hbar/2){v, L},
v = dH/dk / hbar, c_XY = 2 for spin densities, 1 for orbital ones, hbar for
charge.)  ``Re Tr[J Im[M]] = Im Tr[J M]`` for Hermitian J, which is what is
evaluated.  Units of S: Angstrom^2/eV (dH in eV Angstrom, G in 1/eV).
:func:`to_siemens_per_metre` turns the k-average into Ohm^-1 m^-1:

    D = (e^2 / (pi hbar)) * Gamma * S / (n_k V_cell)

Algorithm (all energies at once, exact)
---------------------------------------
In the eigenbasis of H(k) (energies E_n) the Green's functions are diagonal,
g_n(eps) = 1/(eps - E_n + i Gamma), and

    T(eps) = sum_{n,l,m} J_mn O_nl v_lm g_n g_l^* g_m^* .

With a_nx = 1/(E_n - E_x - 2 i Gamma) (never singular),
g_n g_x^* = a_nx (g_n - g_x^*), so

    T = sum_{n,m} J_mn [A o ((O o A) v)]_nm (g_n - g_m^*)
        - sum_{l,m} [J (O o A)]_ml v_lm g_l^* g_m^* .

The last product of two advanced functions is split into simple poles
(g_l^* - g_m^*)/(E_l - E_m) when |E_l - E_m| >= delta, and expanded
g_l^* g_m^* = g_l^*2 + d g_l^*3 + d^2 g_l^*4 (d = E_m - E_l) inside
(near-)degenerate groups (|d| < delta = 1e-4 Gamma: truncation and
cancellation errors both ~1e-12 relative; the d, d^2 terms are kept only
when some pair in the batch is split by more than 1e-11 Gamma, i.e. not for
exact Kramers/symmetry degeneracies).  Since only Im T is needed, the
retarded poles are folded onto the advanced ones, Im(c g) = -Im(c^* g^*), so

    Im T(eps) = Im sum_n [c1_n g_n^* + c2_n g_n^*2 (+ c3_n g_n^*3 + c4_n g_n^*4)]

with per-k residues from a handful of matrix products per k:
P = (O o A)[v | v o D] (one GEMM), c1_m = sum_n J_mn Y_nm with
Y = (O o A)(v o D) - A o ((O o A) v) - h.c., the row sums of the
non-degenerate term sum_n [(v o D) J]_ln (O o A)_nl (one GEMM), and the
diagonal (J (O o A))_ll.  All energies then follow from one real GEMM
(n_E x 4 P) @ (4 P x components) per batch (:func:`pole_sum`), P poles.

Kramers pairs.  With spin-orbit coupling and inversion every level is a
Kramers pair: eigh returns the two bands of a pair next to each other, so
where a k-point's spectrum is clean pairs (E_2a = E_2a+1 within delta, pairs
at least delta apart; :func:`_kramers`) the degenerate terms are taken per
pair as one batched product over contiguous 2-band blocks (no gathers of
index lists), and the two residues of a pair are summed into one pole
(P = N/2 per k).  Other k-points (accidental or symmetry degeneracies beyond
pairs, spinless models) take the general pair-list path; a batch may mix both.
:mod:`hpcorb.kernels.diffusion_slow` evaluates the same quantity literally
(explicit inverses) for the tests.

Cost (18 bands, 100 energies): about 1.0e6 complex multiply-adds per k for
the residues (the (v o D) J products for 54 current/gradient pairs dominate)
plus 2.4e6 real multiply-adds for the energy GEMM -- some 30-50 times the
flops of one 18 x 18 eigendecomposition; ``./run bench diffusion`` measures it.

Output layout: ``charge[e, i, j]`` (i gradient, j current) and
``tensor[e, X, beta, j, Y, alpha, i]`` (X current kind, Y density kind:
0 spin, 1 orbital).
"""
from __future__ import annotations

import numpy as np
from scipy import constants as C

F_CURRENT = (0.25, 0.5)     # f_X: spin (hbar/4){v, sigma}, orbital (hbar/2){v, L}
C_DENSITY = (2.0, 1.0)      # c_Y: spin density (Eqs. 10, 12), orbital density (Eqs. 11, 13)
DEGENERACY = 1e-4           # delta / Gamma


def to_siemens_per_metre(S, gamma, n_k, cell_volume):
    """k-sum S (Angstrom^2/eV) -> conductivity units Ohm^-1 m^-1."""
    return (C.e ** 2 / (np.pi * C.hbar)) * gamma * np.asarray(S) / (n_k * cell_volume) * 1e10


def _dag(X):
    return np.conj(np.swapaxes(X, -1, -2))


def _group(J, O, A, v, VD, kram, deg_pairs):
    """Pole residues of one (currents, densities) group.

    J (nk, nJ, N, N) currents, O (nk, nO, N, N) densities, A (nk, N, N) = a_nx,
    v (nk, 3, N, N), VD = v o D (D_lm = 1/(E_l - E_m), 0 inside degenerate
    groups); kram (nk,) bool: k whose spectrum is clean Kramers pairs
    (bands 2a, 2a+1 degenerate, pairs apart); deg_pairs = (kk, l, m)
    off-diagonal degenerate pairs of the other k.
    Returns c1 (nk, N, nJ, nO, 3), the coefficient of g^*; c2k (nkr, N/2,
    nJ, nO, 3), the g^*2 coefficient of each Kramers pair a (poles 2a, 2a+1
    summed) for the kram k; c2 (nko, N, nJ, nO, 3), the diagonal g^*2
    coefficient of the other k; K (npairs, nJ, nO, 3) = -W_ml v_lm of their
    off-diagonal degenerate pairs (W = J (O o A)).
    """
    nk, nJ, N = J.shape[0], J.shape[1], J.shape[-1]
    nO = O.shape[1]
    OA = O * A[:, None]
    # P = OA [v | VD]:  P[k, o, n, (s, i, m)]
    vv = np.concatenate([v, VD], axis=1).transpose(0, 2, 1, 3).reshape(nk, N, 6 * N)
    P = (OA.reshape(nk, nO * N, N) @ vv).reshape(nk, nO, N, 2, 3, N)
    AP = P[:, :, :, 0] * A[:, None, :, None, :]                         # [A o (OA v_i)]_nm
    # terms 1, 2 (retarded part folded: Im(c g) = -Im(c^* g^*)) and the column sums of term 3:
    #   c1_m = sum_n J_mn Y_nm,  Y = OA VD - A o (OA v) - (A o (OA v))^dagger, laid out [k, m, n, o, i]
    Ym = (P[:, :, :, 1].transpose(0, 4, 2, 1, 3) - AP.transpose(0, 4, 2, 1, 3)
          - np.conj(AP.transpose(0, 2, 4, 1, 3))).reshape(nk, N, N, nO * 3)
    Jm = np.ascontiguousarray(J.transpose(0, 2, 1, 3))                  # Jm[k, m, J, n] = J_mn
    c1 = (Jm @ Ym).reshape(nk, N, nJ, nO, 3)
    # row sums of term 3: c1_l -= sum_m W_ml VD_lm = sum_n [VD J]_ln OA_nl
    VDl = np.ascontiguousarray(VD.transpose(0, 2, 1, 3)).reshape(nk, 3 * N, N)        # [k, (l, i), m]
    Q = (VDl @ Jm.reshape(nk, N, nJ * N)).reshape(nk, N, 3 * nJ, N)    # [k, l, (i, J), n]
    OAl = np.ascontiguousarray(OA.transpose(0, 3, 2, 1))                # [k, l, n, o]
    c1 -= (Q @ OAl).reshape(nk, N, 3, nJ, nO).transpose(0, 1, 3, 4, 2)
    # degenerate groups: -sum_lm W_ml v_lm g_l^* g_m^*
    c2k = c2 = K = None
    kr = np.flatnonzero(kram)
    if len(kr):
        # Kramers pairs are contiguous blocks: W_ml for l, m in the same pair a
        # from one batched product per pair, no gathers (diagonal included)
        h = N // 2
        Jb = Jm[kr].reshape(len(kr), h, 2, 1, nJ, N)
        OAb = OAl[kr].reshape(len(kr), h, 1, 2, N, nO)
        W4 = (Jb @ OAb).reshape(len(kr), h, 4, nJ * nO)                # [k, a, (m', l'), (J, o)]
        blk = np.arange(h)
        vb = v[kr].reshape(len(kr), 3, h, 2, h, 2)[:, :, blk, :, blk, :]  # [a, k, i, l', m']
        vb = vb.transpose(1, 0, 4, 3, 2).reshape(len(kr), h, 4, 3)      # [k, a, (m', l'), i]
        c2k = -(np.swapaxes(W4, 2, 3) @ vb).reshape(len(kr), h, nJ, nO, 3)
    ko = np.flatnonzero(~kram)
    if len(ko):
        Wd = Jm[ko] @ OAl[ko]                                           # [k, l, J, o] = (J OA)_ll
        vd = np.diagonal(v[ko], axis1=2, axis2=3).transpose(0, 2, 1)    # [k, l, i]
        c2 = -Wd[..., None] * vd[:, :, None, None, :]
        kk, l_, m_ = deg_pairs
        if len(kk):
            Wp = Jm[kk, m_] @ OAl[kk, l_]                               # W_ml per pair: (p, J, o)
            K = -Wp[..., None] * v[kk, :, l_, m_][:, None, None, :]
    return c1, c2k, c2, K


def _kramers(E, delta):
    """(nk,) bool: spectrum is clean Kramers pairs -- E_2a = E_2a+1 within
    delta and every pair at least delta from the next one."""
    nk, N = E.shape
    if N % 2:
        return np.zeros(nk, dtype=bool)
    d = np.diff(E, axis=1)
    return np.all(d[:, 0::2] < delta, axis=1) & np.all(d[:, 1::2] >= delta, axis=1)


def diffusion_kernel(H, dH, sigma, L, energies, gamma, eigen=None, weights=None):
    """Sum over the k-chunk of the diffusion traces, all energies at once.

    H (nk, N, N), dH (nk, 3, N, N) (eV, eV Angstrom, orthonormal basis);
    sigma, L (3, N, N) (k-independent); energies (nE,) absolute eV; gamma eV.
    eigen: optional precomputed (E, U) of H.  weights: optional (nk,) weight
    of each k in the sum (irreducible points: orbit sizes; default 1).
    Returns (charge (nE, 3, 3) [e, i, j], tensor (nE, 2, 3, 3, 2, 3, 3)
    [e, X, beta, j, Y, alpha, i]) in Angstrom^2/eV (see module doc).
    """
    energies = np.atleast_1d(np.asarray(energies, dtype=float))
    nE = len(energies)
    poles, coefs = diffusion_poles(H, dH, sigma, L, gamma, eigen, weights)
    outs = pole_sum(poles, coefs, energies, gamma)
    charge = outs[0].reshape(nE, 3, 1, 3)[:, :, 0, :]                   # [e, j, i]
    charge = np.swapaxes(charge, 1, 2)                                  # [e, i, j]
    tensor = outs[1].reshape(nE, 2, 3, 3, 2, 3, 3)                      # [e, X, b, j, Y, a, i]
    return charge, tensor


def diffusion_poles(H, dH, sigma, L, gamma, eigen=None, weights=None):
    """The k-chunk's diffusion traces as advanced poles with residues.

    Returns (poles, coefs): poles (P,) eV, the pole positions E_x (one per
    Kramers pair where the spectrum is clean pairs, else one per band);
    coefs: for the charge group (9 components [j, i]) and the tensor group
    (324 components [X, b, j, Y, a, i]) a list [c1, c2, c3, c4] of (P, ncomp)
    complex arrays (c3, c4 None when no near-degeneracy needs them) with
    Im T(eps) = Im sum_x sum_p c_p,x g_x^*(eps)^p, g_x^* = 1/(eps - E_x - i Gamma).
    weights (nk,): every residue of a k is multiplied by its weight.
    """
    nk, N = H.shape[0], H.shape[-1]
    E, U = np.linalg.eigh(H) if eigen is None else eigen
    Ud = _dag(U)
    # operators in the eigenbasis
    v = Ud[:, None] @ dH @ U[:, None]                                   # (nk, 3, N, N)
    ops = np.concatenate([sigma, L])                                    # (6, N, N)
    opsE = Ud[:, None] @ ops[None] @ U[:, None]                         # (nk, 6, N, N)
    # currents: spin (beta, j), orbital (beta, j); {v_j, A_b} = A v + (A v)^dagger
    Av = (opsE[:, :, None] @ v[:, None]).reshape(nk, 2, 9, N, N)        # [k, X, (b, j)]
    Jt = (Av + _dag(Av)) * np.array(F_CURRENT)[None, :, None, None, None]
    Jt = Jt.reshape(nk, 18, N, N)
    # densities c_Y (sigma_a, L_a)
    Ot = opsE * np.repeat(C_DENSITY, 3)[None, :, None, None]

    dE = E[:, :, None] - E[:, None, :]                                  # E_n - E_x
    A = 1.0 / (dE - 2j * gamma)                                         # a_nx
    delta = DEGENERACY * gamma
    deg = np.abs(dE) < delta
    Dn = np.where(deg, 0.0, 1.0 / np.where(deg, 1.0, dE))               # 1/(E_l - E_m)
    VD = v * Dn[:, None]

    kram = _kramers(E, delta)
    ko = np.flatnonzero(~kram)
    offdeg = deg[ko] & ~np.eye(N, dtype=bool)[None]
    pk, pl, pm = np.nonzero(offdeg)
    pairs = (ko[pk], pl, pm)
    near = bool(len(pk)) and bool(np.any(np.abs(dE[pairs]) > 1e-11 * gamma))
    kr = np.flatnonzero(kram)
    # poles: one per Kramers pair (its two bands' residues summed), one per band elsewhere
    poles = np.concatenate([E[kr][:, 0::2].ravel(), E[ko].ravel()])
    coefs = []
    for J, O in ((v, np.broadcast_to(np.eye(N), (nk, 1, N, N))), (Jt, Ot)):
        c1, c2k, c2, K = _group(J, O, A, v, VD, kram, pairs)
        ncomp = c1[0, 0].size
        c1 = c1.reshape(nk, N, ncomp)
        parts1 = [(c1[kr, 0::2] + c1[kr, 1::2]).reshape(-1, ncomp), c1[ko].reshape(-1, ncomp)]
        parts2 = [np.zeros((0, ncomp), complex) if c2k is None else c2k.reshape(-1, ncomp),
                  np.zeros((0, ncomp), complex) if c2 is None else c2.reshape(-1, ncomp)]
        c3 = c4 = None
        if K is not None:
            # g_l^* g_m^* = g_l^*2 + d g_l^*3 + d^2 g_l^*4 (d = E_m - E_l) on the pole l
            K = K.reshape(len(pk), ncomp)
            c2o = parts2[1]
            flat = pk * N + pl                                          # sorted (np.nonzero order)
            starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
            u = flat[starts]
            c2o[u] += np.add.reduceat(K, starts, axis=0)
            if near:
                d = (E[pairs[0], pm] - E[pairs[0], pl])[:, None]
                c3 = np.zeros((len(poles), ncomp), complex)
                c4 = np.zeros((len(poles), ncomp), complex)
                off = len(kr) * (N // 2)
                c3[off + u] = np.add.reduceat(K * d, starts, axis=0)
                c4[off + u] = np.add.reduceat(K * d * d, starts, axis=0)
        coefs.append([np.concatenate(parts1), np.concatenate(parts2), c3, c4])
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        wp = np.concatenate([np.repeat(w[kr], N // 2), np.repeat(w[ko], N)])[:, None]
        coefs = [[None if c is None else c * wp for c in cs] for cs in coefs]
    return poles, coefs


def pole_sum(poles, coefs, energies, gamma):
    """out[group][e, comp] = Im sum_{x, p} c_p,x[comp] g_x^*(eps_e)^p (one real GEMM per group)."""
    nE = len(energies)
    x = energies[:, None] - poles[None, :]                              # (nE, P)
    r = 1.0 / (x * x + gamma * gamma)
    # (Re, Im) of g*, g*^2; Im(c g) = Re c Im g + Im c Re g
    fams = [(x * r, gamma * r), ((x * x - gamma * gamma) * r * r, 2 * gamma * x * r * r)]
    need34 = any(c[2] is not None for c in coefs)
    if need34:
        ga = (x + 1j * gamma) * r
        g3 = ga ** 3
        g4 = g3 * ga
        fams += [(g3.real, g3.imag), (g4.real, g4.imag)]
    F = np.concatenate([np.concatenate([im, re], axis=1) for re, im in fams], axis=1)   # (nE, nf*2P)
    outs = []
    for cs in coefs:
        ncomp = cs[0].shape[1]
        blocks = []
        for f in range(len(fams)):
            c = cs[f] if cs[f] is not None else np.zeros((len(poles), ncomp), complex)
            blocks += [c.real, c.imag]
        outs.append(F @ np.concatenate(blocks, axis=0))
    return outs
