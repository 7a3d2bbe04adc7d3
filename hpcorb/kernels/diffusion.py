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

Blocks (the fast path).  Where a k-point's spectrum is clean blocks --
every level alone (block size b = 1) or clean Kramers pairs (b = 2: with
spin-orbit coupling and inversion; eigh returns the two bands of a pair next
to each other, split by less than EXACT * Gamma, pairs at least delta apart;
:func:`_blocks`) -- the degenerate terms live on contiguous b x b diagonal
blocks and the b residues of a block are summed into one pole (P = N/b per
k).  :func:`_block_residues` keeps every operator as [k, operator, row, col]
(stacks of N x N GEMMs; the Green's-function weights broadcast over whole
N x N blocks), the row contractions sum_n X_xn Y_xn run as GEMMs batched
over (k, x) on strided views, the pole-l product (v o D) J is one
(3N x N) @ (N x 18N) GEMM per k in [row, operator, column] layout, and the
double-pole term needs W = J (O o A) only on the diagonal blocks (one
(18b x N) @ (N x 6b) product per block).  Transposes are limited to single
N x N blocks and to the 18 currents once per k.  Other k-points
(accidental or symmetry degeneracies beyond pairs, near-degeneracies) take
the general pair-list path (:func:`_general_poles`); a batch may mix both.
:mod:`hpcorb.kernels.diffusion_slow` evaluates the same quantity literally
(explicit inverses) for the tests.

Energies.  Each pole contributes a closed form in eps (Lorentzian powers),
so the energy dependence is exact: all energies follow from one complex GEMM
(n_E x P) @ (P x components) per pole power per batch (:func:`pole_sum`).  A
histogram of pole energies (binning the poles, weighting the bins at the
end) is exact only with a Taylor expansion in the offset from each bin
centre (~12 moments per pole for 1e-12 with bins of Gamma/5); every pole
reaches every energy through the Lorentzian tails, so the final weighting
would cost n_E x bins x moments x components per chunk, more than the direct
sum (~20 us per k with the cubic support, ~4 % of the kernel).

Symmetry.  With a point group the k-sum is rebuilt as (1/|G|) sum_g rho(g) S;
components whose column of that projector vanishes never reach the result
(:func:`support_of`; cubic: 87 of the 333), so the energy sum evaluates only
the others (``support``).

Cost (18 bands, 100 energies, NRL Ta): about 160 N^3 complex multiply-adds
per k (rotations 18, currents 18, (O o A)[v | v o D] 36, (v o D) J 54, the
row contractions ~35) plus the energy GEMM; ``./run bench diffusion``
measures it against the eigendecomposition.

Output layout: ``charge[e, i, j]`` (i gradient, j current) and
``tensor[e, X, beta, j, Y, alpha, i]`` (X current kind, Y density kind:
0 spin, 1 orbital).
"""
from __future__ import annotations

import numpy as np
from scipy import constants as C

F_CURRENT = (0.25, 0.5)     # f_X: spin (hbar/4){v, sigma}, orbital (hbar/2){v, L}
C_DENSITY = (2.0, 1.0)      # c_Y: spin density (Eqs. 10, 12), orbital density (Eqs. 11, 13)
DEGENERACY = 1e-4           # delta / Gamma: closer levels are (near-)degenerate
EXACT = 1e-11               # splitting / Gamma below which a degenerate group is exact
NCOMP = 9 + 324             # charge [j, i], tensor [X, beta, j, Y, alpha, i]


def to_siemens_per_metre(S, gamma, n_k, cell_volume):
    """k-sum S (Angstrom^2/eV) -> conductivity units Ohm^-1 m^-1."""
    return (C.e ** 2 / (np.pi * C.hbar)) * gamma * np.asarray(S) / (n_k * cell_volume) * 1e10


def _dag(X):
    return np.conj(np.swapaxes(X, -1, -2))


def _group(J, O, A, v, VD, deg_pairs):
    """Pole residues of one (currents, densities) group, general path (one pole per band).

    J (nk, nJ, N, N) currents, O (nk, nO, N, N) densities, A (nk, N, N) = a_nx,
    v (nk, 3, N, N), VD = v o D (D_lm = 1/(E_l - E_m), 0 inside (near-)degenerate
    groups); deg_pairs = (kk, l, m) the off-diagonal (near-)degenerate pairs.
    Returns c1 (nk, N, nJ, nO, 3), the coefficient of g^*; c2 (nk, N, nJ, nO, 3),
    the diagonal g^*2 coefficient; K (npairs, nJ, nO, 3) = -W_ml v_lm of the
    off-diagonal degenerate pairs (W = J (O o A)), or None without pairs.
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
    # degenerate groups: -sum_lm W_ml v_lm g_l^* g_m^*; the diagonal l = m ...
    Wd = Jm @ OAl                                                       # [k, l, J, o] = (J OA)_ll
    vd = np.diagonal(v, axis1=2, axis2=3).transpose(0, 2, 1)            # [k, l, i]
    c2 = -Wd[..., None] * vd[:, :, None, None, :]
    # ... and the off-diagonal pairs (l != m in one group)
    K = None
    kk, l_, m_ = deg_pairs
    if len(kk):
        Wp = Jm[kk, m_] @ OAl[kk, l_]                                   # W_ml per pair: (p, J, o)
        K = -Wp[..., None] * v[kk, :, l_, m_][:, None, None, :]
    return c1, c2, K


def _blocks(E, gamma):
    """(nk,) int: the degeneracy structure of each k's spectrum (E sorted ascending).

    1: every level at least delta = DEGENERACY * Gamma from its neighbours;
    2: clean pairs -- E_2a, E_2a+1 equal to EXACT * Gamma (Kramers pairs) and
    every pair at least delta from the next; 0: anything else (the general path)."""
    nk, N = E.shape
    delta = DEGENERACY * gamma
    d = np.diff(E, axis=1)
    out = np.where(np.all(d >= delta, axis=1), 1, 0)
    if N % 2 == 0:
        pairs = np.all(d[:, 0::2] <= EXACT * gamma, axis=1) & np.all(d[:, 1::2] >= delta, axis=1)
        out[pairs] = 2
    return out


def _kramers(E, delta):
    """(nk,) bool: clean Kramers pairs: E_2a = E_2a+1 within EXACT * Gamma and pairs
    at least delta apart (delta = DEGENERACY * Gamma)."""
    return _blocks(E, delta / DEGENERACY) == 2


def _block_sum(X, b):
    """X (nk, h, b, ...) summed over its block axis 2 (explicit adds: b is 1 or 2)."""
    out = X[:, :, 0]
    for t in range(1, b):
        out = out + X[:, :, t]
    return out


def _block_residues(E, U, dH, opsJ, ratio, gamma, b):
    """Pole residues of k-points whose degenerate groups are contiguous blocks of b bands.

    E (nk, N), U (nk, N, N) eigenpairs of H; dH (nk, 3, N, N); opsJ (6, N, N):
    f_X sigma_beta, f_X L_beta (the current prefactors folded in); ratio (6,):
    c_Y / f_X, turning the same rotated operators into the densities c_Y O.
    b = 1 (non-degenerate) or 2 (clean Kramers pairs).  Operators are
    [k, operator, row, col] so that the products are stacks of N x N GEMMs and
    the Green's-function weights broadcast over contiguous N x N blocks; the
    currents are [k, row, operator, col] (Jx), the left operand of the row
    contractions and, reshaped, the right operand of the pole-l GEMM.  Row
    contractions sum_n X_xn Y_xn are GEMMs batched over (k, x) on strided views.
    Work arrays are taken one density kind / one gradient at a time: the
    working set of a batch of 4 then stays in a 2 MB L2 cache.
    Returns c1, c2 (nk, N // b, NCOMP) complex: the g^* and g^*2 coefficients of
    the pole of each block (its b bands' residues summed); components
    [charge (j, i) | tensor (X beta j, Y alpha, i)].
    """
    nk, N = E.shape
    h = N // b
    s = 0.5j / gamma                                                    # a_nn, the charge "density" O = 1
    Ud = _dag(U)
    v = Ud[:, None] @ dH @ U[:, None]                                   # (nk, 3, N, N)
    Aop = Ud[:, None] @ (opsJ @ U[:, None])                             # (nk, 6, N, N), f_X folded in
    # currents {v_j, A_b} = A v + (A v)^dagger in [k, x, (X, b, j), n] layout (Jx): one
    # (6N x N) @ (N x 3N) product per k, and Jx reshaped is the right operand of the pole-l GEMM
    Ar = np.ascontiguousarray(Aop.transpose(0, 2, 1, 3)).reshape(nk, 6 * N, N)       # [k, (x, o), p]
    vr = np.ascontiguousarray(v.transpose(0, 2, 1, 3)).reshape(nk, N, 3 * N)         # [k, p, (j, n)]
    AV = (Ar @ vr).reshape(nk, N, 18, N)
    Jx = np.conjugate(AV.transpose(0, 3, 2, 1), order="C")              # (A v)^dagger, [k, x, c, n]
    Jx += AV
    dE = E[:, :, None] - E[:, None, :]                                  # E_n - E_x
    A = 1.0 / (dE - 2j * gamma)                                         # a_nx
    blk = np.arange(N) // b
    same = blk[:, None] == blk[None, :]
    D = np.where(same, 0.0, 1.0 / np.where(same, 1.0, dE))              # 1/(E_l - E_m), 0 in a block
    VV = np.empty((nk, 6, N, N), dtype=complex)                         # [v_i | (v o D)_i]
    VV[:, :3] = v
    np.multiply(v, D[:, None], out=VV[:, 3:])
    VD = VV[:, 3:]
    OA = Aop * (ratio[:, None, None] * A[:, None])                      # c_Y O_a o A, (nk, 6, N, N)
    # c1_x = sum_n J_xn Y_nx - sum_n (VD J)_xn OA_nx (the second with OA_nx = -conj(OA_xn)), with
    # Y = OA VD - A o (OA v) - h.c. stored transposed, Yt[k, (a, i), x, n] = Y_nx; one density
    # kind Y (3 densities) at a time keeps the working set small
    c1 = np.empty((nk, N, 18, 2, 9), dtype=complex)                     # [k, x, c, Y, (a, i)]
    Yt = np.empty((nk, 3, 3, N, N), dtype=complex)
    cA = np.conj(A)[:, None, None]                                      # A^T = -conj(A)
    for y in range(2):
        P = OA[:, 3 * y:3 * y + 3, None] @ VV[:, None]                  # (nk, 3, 6, N, N): OA v | OA VD
        # Yt = (OA VD)^T - (A o OA v)^T - conj(A o OA v) = P2^T + conj(A) o (P0^T - conj(P0))
        P0 = P[:, :, :3]
        np.subtract(np.swapaxes(P0, -1, -2), np.conj(P0), out=Yt)
        Yt *= cA
        Yt += np.swapaxes(P[:, :, 3:], -1, -2)
        c1[:, :, :, y] = Jx @ Yt.reshape(nk, 9, N, N).transpose(0, 2, 3, 1)
    c1 = c1.reshape(nk, N, 18, 6, 3)
    # the pole-l term: per gradient i one (N x N) @ (N x 18N) GEMM per k (J in [row, operator,
    # column] layout), contracted at once with conj(OA) (three passes keep the working set small)
    Jr = Jx.reshape(nk, N, 18 * N)                                      # [k, l, (c, n)]
    cOAr = np.conj(OA.transpose(0, 2, 1, 3)).reshape(nk * N, 6, N)      # [(k, x), d, n] = conj(OA_xn)
    cOArT = np.swapaxes(cOAr, 1, 2)
    for i in range(3):
        Q = (VD[:, i] @ Jr).reshape(nk * N, 18, N)                      # [(k, x), c, n]
        c1[..., i] += (Q @ cOArT).reshape(nk, N, 18, 6)
    # degenerate blocks: c2 = -sum_{l, m in block a} W_ml v_lm, W_ml = sum_n J_mn OA_nl
    # = -sum_n J_mn conj(OA_ln): one (b*18 x N) @ (N x b*6) product per block, from Jr and cOAr
    W = Jr.reshape(nk, h, b * 18, N) @ np.swapaxes(cOAr.reshape(nk, h, b * 6, N), -1, -2)
    W = W.reshape(nk, h, b, 18, b, 6).transpose(0, 1, 3, 5, 2, 4).reshape(nk, h, 108, b * b)
    vb = v.reshape(nk, 3, h, b, h, b)[:, :, np.arange(h), :, np.arange(h), :]   # [a, k, i, l', m']
    vb = vb.transpose(1, 0, 4, 3, 2).reshape(nk, h, b * b, 3)           # [k, a, (m', l'), i] = v_lm
    c2 = (W @ vb).reshape(nk, h, 324)                                   # -W v, with W's sign
    # charge (J = v_j, O = 1, OA = s 1): Y = s (VD - A o v) - h.c.
    Av = A[:, None] * v
    Y1t = s * (np.swapaxes(VD - Av, -1, -2) + np.conj(Av))              # [k, i, x, n] = Y_nx
    cc1 = v.transpose(0, 2, 1, 3) @ Y1t.transpose(0, 2, 3, 1)           # [k, x, j, i]
    cc1 -= s * np.einsum("kixn,kjnx->kxji", VD, v)
    # charge: c2 = -s sum_{l, m in block} v^j_ml v^i_lm, v^j_ml = conj(v^j_lm)
    cc2 = -s * np.einsum("kamj,kami->kaji", np.conj(vb), vb).reshape(nk, h, 9)
    out1 = np.empty((nk, h, NCOMP), dtype=complex)
    out1[:, :, :9] = _block_sum(cc1.reshape(nk, h, b, 9), b)
    out1[:, :, 9:] = _block_sum(c1.reshape(nk, h, b, 324), b)
    out2 = np.concatenate([cc2, c2], axis=2)
    return out1, out2


def diffusion_kernel(H, dH, sigma, L, energies, gamma, eigen=None, weights=None, support=None):
    """Sum over the k-chunk of the diffusion traces, all energies at once.

    H (nk, N, N), dH (nk, 3, N, N) (eV, eV Angstrom, orthonormal basis);
    sigma, L (3, N, N) (k-independent); energies (nE,) absolute eV; gamma eV.
    eigen: optional precomputed (E, U) of H.  weights: optional (nk,) weight
    of each k in the sum (irreducible points: orbit sizes; default 1).
    support: optional (charge (3, 3) [i, j], tensor (2, 3, 3, 2, 3, 3)) bool
    masks of the components to evaluate (the others are returned as 0): the
    ones a symmetry projection reads (:func:`support_of`).
    Returns (charge (nE, 3, 3) [e, i, j], tensor (nE, 2, 3, 3, 2, 3, 3)
    [e, X, beta, j, Y, alpha, i]) in Angstrom^2/eV (see module doc).
    """
    energies = np.atleast_1d(np.asarray(energies, dtype=float))
    nE = len(energies)
    sel = _flat_support(support)
    poles, coefs = diffusion_poles(H, dH, sigma, L, gamma, eigen, weights, sel)
    flat = np.zeros((nE, NCOMP))
    if len(poles):
        flat[:, sel] = pole_sum(poles, coefs, energies, gamma)          # (nE, nsel)
    charge = np.swapaxes(flat[:, :9].reshape(nE, 3, 3), 1, 2)           # [e, j, i] -> [e, i, j]
    tensor = flat[:, 9:].reshape(nE, 2, 3, 3, 2, 3, 3)                  # [e, X, b, j, Y, a, i]
    return charge, tensor


def _flat_support(support):
    """Flat component indices (charge [j, i], then tensor) of a support pair (or all)."""
    if support is None:
        return np.arange(NCOMP)
    ch, te = support
    ch = np.swapaxes(np.asarray(ch, dtype=bool).reshape(3, 3), 0, 1)    # [i, j] -> [j, i]
    return np.flatnonzero(np.concatenate([ch.ravel(), np.asarray(te, dtype=bool).ravel()]))


def support_of(rotations, tol=1e-12):
    """Components that the symmetrization (1/|G|) sum_g rho(g) reads.

    rotations (nG, 3, 3) Cartesian (proper and improper).  Charge [i, j] is
    polar x polar; tensor [X, beta, j, Y, alpha, i] has beta, alpha axial
    (det(R) R) and j, i polar.  A component whose column of the projector is
    zero never reaches the result, so the kernel need not evaluate it.
    Returns (charge (3, 3), tensor (2, 3, 3, 2, 3, 3)) bool.
    """
    R = np.asarray(rotations, dtype=float)
    ax = np.linalg.det(R)[:, None, None] * R
    P2 = np.einsum("gia,gjb->ijab", R, R).reshape(9, 9) / len(R)
    P4 = np.einsum("gbB,gjJ,gaA,giI->bjaiBJAI", ax, R, ax, R).reshape(81, 81) / len(R)
    ch = (np.abs(P2).max(axis=0) > tol).reshape(3, 3)
    t4 = (np.abs(P4).max(axis=0) > tol).reshape(3, 3, 3, 3)             # [beta, j, alpha, i]
    te = np.broadcast_to(t4[None, :, :, None], (2, 3, 3, 2, 3, 3)).copy()
    return ch, te


def diffusion_poles(H, dH, sigma, L, gamma, eigen=None, weights=None, sel=None):
    """The k-chunk's diffusion traces as advanced poles with residues.

    Returns (poles, coefs): poles (P,) eV, the pole positions E_x (one per
    degenerate block -- Kramers pair or single level -- where the spectrum is
    clean blocks, else one per band); coefs [c1, c2, c3, c4] of (P, nsel)
    complex arrays (c3, c4 None when no near-degeneracy needs them) over the
    components ``sel`` of [charge (9, [j, i]) | tensor (324, [X, b, j, Y, a, i])]
    with Im T(eps) = Im sum_x sum_p c_p,x g_x^*(eps)^p, g_x^* = 1/(eps - E_x - i Gamma).
    weights (nk,): every residue of a k is multiplied by its weight.
    """
    sel = np.arange(NCOMP) if sel is None else np.asarray(sel)
    nk, N = H.shape[0], H.shape[-1]
    E, U = np.linalg.eigh(H) if eigen is None else eigen
    w = np.ones(nk) if weights is None else np.asarray(weights, dtype=float)
    kind = _blocks(E, gamma)
    ops = np.concatenate([sigma, L])
    fx = np.repeat(F_CURRENT, 3)
    opsJ = ops * fx[:, None, None]
    ratio = np.repeat(C_DENSITY, 3) / fx
    poles, parts = [], []
    for b in (1, 2):
        kk = np.flatnonzero(kind == b)
        if not len(kk):
            continue
        if len(kk) == nk:
            c1, c2 = _block_residues(E, U, dH, opsJ, ratio, gamma, b)
        else:
            c1, c2 = _block_residues(E[kk], U[kk], dH[kk], opsJ, ratio, gamma, b)
        poles.append(E[kk][:, ::b].ravel())
        c1 = c1.reshape(-1, NCOMP)[:, sel]
        c2 = c2.reshape(-1, NCOMP)[:, sel]
        if weights is not None:
            wk = np.repeat(w[kk], N // b)[:, None]
            c1 *= wk
            c2 *= wk
        parts.append([c1, c2, None, None])
    kk = np.flatnonzero(kind == 0)
    if len(kk):
        p, cs = _general_poles(E[kk], U[kk], dH[kk], sigma, L, gamma)
        poles.append(p)
        wk = np.repeat(w[kk], N)[:, None]
        parts.append([None if c is None else c[:, sel] * wk for c in cs])
    if len(parts) == 1:
        return poles[0], parts[0]
    coefs = []
    for f in range(4):
        if all(pt[f] is None for pt in parts):
            coefs.append(None)
            continue
        coefs.append(np.concatenate([np.zeros((len(p), len(sel)), complex) if pt[f] is None else pt[f]
                                     for p, pt in zip(poles, parts)]))
    return np.concatenate(poles) if poles else np.zeros(0), coefs


def _general_poles(E, U, dH, sigma, L, gamma):
    """Residues for k-points with degeneracies other than clean blocks (pair lists).

    Same conventions as :func:`diffusion_poles` (all NCOMP components, one
    pole per band); exact degeneracies and near-degeneracies (|d| < delta,
    expansion to g^*4) through explicit lists of degenerate pairs.
    """
    nk, N = E.shape
    Ud = _dag(U)
    v = Ud[:, None] @ dH @ U[:, None]                                   # (nk, 3, N, N)
    ops = np.concatenate([sigma, L])                                    # (6, N, N)
    opsE = Ud[:, None] @ ops[None] @ U[:, None]                         # (nk, 6, N, N)
    Av = (opsE[:, :, None] @ v[:, None]).reshape(nk, 2, 9, N, N)        # [k, X, (b, j)]
    Jt = (Av + _dag(Av)) * np.array(F_CURRENT)[None, :, None, None, None]
    Jt = Jt.reshape(nk, 18, N, N)
    Ot = opsE * np.repeat(C_DENSITY, 3)[None, :, None, None]
    dE = E[:, :, None] - E[:, None, :]                                  # E_n - E_x
    A = 1.0 / (dE - 2j * gamma)                                         # a_nx
    delta = DEGENERACY * gamma
    deg = np.abs(dE) < delta
    Dn = np.where(deg, 0.0, 1.0 / np.where(deg, 1.0, dE))               # 1/(E_l - E_m)
    VD = v * Dn[:, None]
    offdeg = deg & ~np.eye(N, dtype=bool)[None]
    pk, pl, pm = np.nonzero(offdeg)
    pairs = (pk, pl, pm)
    near = bool(len(pk)) and bool(np.any(np.abs(dE[pairs]) > EXACT * gamma))
    poles = E.ravel()
    out = [[], [], [], []]
    for J, O in ((v, np.broadcast_to(np.eye(N), (nk, 1, N, N))), (Jt, Ot)):
        c1, c2, K = _group(J, O, A, v, VD, pairs)
        ncomp = c1[0, 0].size
        c1 = c1.reshape(nk * N, ncomp)
        c2 = c2.reshape(nk * N, ncomp)
        c3 = c4 = None
        if K is not None:
            # g_l^* g_m^* = g_l^*2 + d g_l^*3 + d^2 g_l^*4 (d = E_m - E_l) on the pole l
            K = K.reshape(len(pk), ncomp)
            flat = pk * N + pl                                          # sorted (np.nonzero order)
            starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
            u = flat[starts]
            c2[u] += np.add.reduceat(K, starts, axis=0)
            if near:
                d = (E[pk, pm] - E[pk, pl])[:, None]
                c3 = np.zeros((nk * N, ncomp), complex)
                c4 = np.zeros((nk * N, ncomp), complex)
                c3[u] = np.add.reduceat(K * d, starts, axis=0)
                c4[u] = np.add.reduceat(K * d * d, starts, axis=0)
        for f, c in enumerate((c1, c2, c3, c4)):
            out[f].append(c)
    coefs = [None if out[f][0] is None and out[f][1] is None else
             np.concatenate([np.zeros((nk * N, n), complex) if c is None else c
                             for c, n in zip(out[f], (9, 324))], axis=1) for f in range(4)]
    return poles, coefs


def pole_sum(poles, coefs, energies, gamma):
    """out[e, comp] = Im sum_{x, p} c_p,x[comp] g_x^*(eps_e)^p: one complex GEMM per power p."""
    energies = np.asarray(energies, dtype=float)
    g = 1.0 / (energies[:, None] - poles[None, :] - 1j * gamma)         # g^* (nE, P)
    acc = g @ coefs[0]
    gp = g * g
    acc += gp @ coefs[1]
    for c in coefs[2:]:
        gp = gp * g
        if c is not None:
            acc += gp @ c
    return acc.imag
