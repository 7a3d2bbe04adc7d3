"""The diffusion kernel as it was before issue 13 (commit c652b95), kept
unchanged as the baseline of ``./run bench diffusion`` ("today's code"
measured side by side with the new one).  Not used by any calculation.
"""
from __future__ import annotations

import numpy as np

F_CURRENT = (0.25, 0.5)     # f_X: spin (hbar/4){v, sigma}, orbital (hbar/2){v, L}
C_DENSITY = (2.0, 1.0)      # c_Y: spin density (Eqs. 10, 12), orbital density (Eqs. 11, 13)
DEGENERACY = 1e-4           # delta / Gamma


def _dag(X):
    return np.conj(np.swapaxes(X, -1, -2))


def _group(J, O, A, v, VD, deg_pairs):
    """Pole residues of one (currents, densities) group.

    J (nk, nJ, N, N) currents, O (nk, nO, N, N) densities, A (nk, N, N) = a_nx,
    v (nk, 3, N, N), VD = v o D (D_lm = 1/(E_l - E_m), 0 inside degenerate
    groups), deg_pairs = (kk, l, m) off-diagonal degenerate pairs.
    Returns (c1, c2, K) of shape (nk, N, nJ, nO, 3) and (npairs, nJ, nO, 3):
    c1 the coefficient of g^*, c2 of g^*2 (diagonal part), K = -W_ml v_lm of
    the off-diagonal degenerate pairs (W = J (O o A)).
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
    # degenerate groups: -sum_lm W_ml v_lm g_l^* g_m^*, diagonal l = m here
    Wd = Jm @ OAl                                                       # [k, l, J, o] = (J OA)_ll
    vd = np.diagonal(v, axis1=2, axis2=3).transpose(0, 2, 1)            # [k, l, i]
    c2 = -Wd[..., None] * vd[:, :, None, None, :]
    kk, l_, m_ = deg_pairs
    K = None
    if len(kk):
        Wp = Jm[kk, m_] @ OAl[kk, l_]                                   # W_ml per pair: (p, J, o)
        K = -Wp[..., None] * v[kk, :, l_, m_][:, None, None, :]
    return c1, c2, K


def diffusion_kernel(H, dH, sigma, L, energies, gamma, eigen=None):
    """Sum over the k-chunk of the diffusion traces, all energies at once.

    H (nk, N, N), dH (nk, 3, N, N) (eV, eV Angstrom, orthonormal basis);
    sigma, L (3, N, N) (k-independent); energies (nE,) absolute eV; gamma eV.
    eigen: optional precomputed (E, U) of H.
    Returns (charge (nE, 3, 3) [e, i, j], tensor (nE, 2, 3, 3, 2, 3, 3)
    [e, X, beta, j, Y, alpha, i]) in Angstrom^2/eV (see module doc).
    """
    energies = np.atleast_1d(np.asarray(energies, dtype=float))
    nk, N = H.shape[0], H.shape[-1]
    nE = len(energies)
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

    offdeg = deg & ~np.eye(N, dtype=bool)[None]
    pairs = np.nonzero(offdeg)
    near = bool(len(pairs[0])) and bool(np.any(np.abs(dE[pairs]) > 1e-11 * gamma))
    res = []
    for J, O in ((v, np.broadcast_to(np.eye(N), (nk, 1, N, N))), (Jt, Ot)):
        c1, c2, K = _group(J, O, A, v, VD, pairs)
        ncomp = c1[0, 0].size
        c1, c2 = c1.reshape(nk, N, ncomp), c2.reshape(nk, N, ncomp)
        c3 = c4 = None
        if K is not None:
            # g_l^* g_m^* = g_l^*2 + d g_l^*3 + d^2 g_l^*4 (d = E_m - E_l) on the pole l
            K = K.reshape(len(pairs[0]), ncomp)
            kk, l_, m_ = pairs
            flat = kk * N + l_                                          # sorted (np.nonzero order)
            starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
            u = flat[starts]
            c2.reshape(nk * N, ncomp)[u] += np.add.reduceat(K, starts, axis=0)
            if near:
                d = (E[kk, m_] - E[kk, l_])[:, None]
                c3 = np.zeros((nk * N, ncomp), complex)
                c4 = np.zeros((nk * N, ncomp), complex)
                c3[u] = np.add.reduceat(K * d, starts, axis=0)
                c4[u] = np.add.reduceat(K * d * d, starts, axis=0)
                c3, c4 = c3.reshape(nk, N, ncomp), c4.reshape(nk, N, ncomp)
        res.append((c1, c2, c3, c4))

    # ---- energy dependence: out[e, comp] = Im sum_{k,n,p} c_p g^*p
    x = energies[None, None, :] - E[:, :, None]                         # (nk, N, nE)
    r = 1.0 / (x * x + gamma * gamma)
    fams = [(x * r, gamma * r), ((x * x - gamma * gamma) * r * r, 2 * gamma * x * r * r)]  # (Re, Im) g*, g*^2
    need34 = any(c[2] is not None for c in res)
    if need34:
        ga = (x + 1j * gamma) * r
        g3 = ga ** 3
        g4 = g3 * ga
        fams += [(g3.real, g3.imag), (g4.real, g4.imag)]
    nf = len(fams)
    F = np.empty((nE, 2, nf, nk, N))
    for f, (re, im) in enumerate(fams):
        F[:, 0, f] = np.moveaxis(im, -1, 0)
        F[:, 1, f] = np.moveaxis(re, -1, 0)
    F = F.reshape(nE, -1)
    outs = []
    for c1, c2, c3, c4 in res:
        cs = [c1, c2]
        if need34:
            z = np.zeros_like(c1)
            cs += [z if c3 is None else c3, z if c4 is None else c4]
        Cm = np.stack(cs, axis=0)                                       # (nf, nk, N, ncomp)
        Cm = np.stack([Cm.real, Cm.imag], axis=0).reshape(-1, Cm.shape[-1])
        outs.append(F @ Cm)
    charge = outs[0].reshape(nE, 3, 1, 3)[:, :, 0, :]                   # [e, j, i]
    charge = np.swapaxes(charge, 1, 2)                                  # [e, i, j]
    tensor = outs[1].reshape(nE, 2, 3, 3, 2, 3, 3)                      # [e, X, b, j, Y, a, i]
    return charge, tensor
