"""Slow, literal layer-resolved Kubo formula of paper 003 (for tests only).

Everything as written in PHYSICS.md section 5, no shortcuts: dense
operators, one explicit projector P(z) per layer, A(z) = (1/2){A, P(z)}
transformed to the band basis, and the explicit double band sum

    sigma(z) = -(e hbar / D) (1/(A N_k)) sum_k sum_{n != n'} (f_n - f_n')
               Im[A(z)_nn' B_n'n] / ((E_n - E_n')^2 + eta^2)

at each requested Fermi energy and temperature.  Shapes follow the output
contract: result[kind][o][part] (nE, Nl, 3, 2) with kind in (direct,
inverse), o in (orbital, spin), part in (conventional, torque_dipole,
proper).
"""
from __future__ import annotations

import numpy as np
from scipy import constants as C


def fermi(E, mu, kT):
    if kT <= 0:
        return (E < mu).astype(float)
    return 0.5 * (1.0 - np.tanh(0.5 * (E - mu) / kT))


def slow_response(H_list, dH_list, z, layer, O, eta, mu_list, kT, volume, bulk=False):
    """H_list (nk, N, N), dH_list (nk, 3, N, N), z (N,), layer (N,) int,
    O (6, N, N) = (Lx, Ly, Lz, Sx, Sy, Sz); volume = A_cell * D (film) or V_cell
    (bulk), Angstrom^3.  Returns nested dicts of (nE, Nl, 3, 2) arrays in
    (hbar/e)(Ohm cm)^-1."""
    nl = int(layer.max()) + 1
    N = len(z)
    Zm = np.diag(z).astype(complex)
    P = [np.diag((layer == l).astype(float)).astype(complex) for l in range(nl)]
    nE = len(mu_list)
    acc = np.zeros((2, 2, 2, nE, nl, 3, 2))     # kind, o, part(conv, torque), E, z, gamma, beta
    for H, dH in zip(H_list, dH_list):
        E, U = np.linalg.eigh(H)
        Uh = U.conj().T
        vz = dH[2] if bulk else 1j * (H @ Zm - Zm @ H)
        v = [dH[0], dH[1]]
        dE = E[:, None] - E[None, :]
        g = 1.0 / (dE ** 2 + eta ** 2)
        occ = [fermi(E, mu, kT) for mu in mu_list]
        df = [f[:, None] - f[None, :] for f in occ]
        offdiag = ~np.eye(N, dtype=bool)
        vt = [Uh @ vb @ U for vb in v]
        vt_loc = [[Uh @ (0.5 * (vb @ Pz + Pz @ vb)) @ U for Pz in P] for vb in v]
        for o in range(2):
            for gm in range(3):
                Op = O[3 * o + gm]
                T = (Op @ H - H @ Op) / 1j
                ops = [0.5 * (vz @ Op + Op @ vz), 0.5 * (Zm @ T + T @ Zm)]
                for part, Q in enumerate(ops):
                    Qt = Uh @ Q @ U
                    for l, Pz in enumerate(P):
                        Ql = Uh @ (0.5 * (Q @ Pz + Pz @ Q)) @ U
                        for b in range(2):
                            # direct: <n|Q(z)|n'><n'|v_b|n>; inverse: <n|v_b(z)|n'><n'|Q|n>
                            Xd = np.imag(Ql * vt[b].T) * g
                            Xi = np.imag(vt_loc[b][l] * Qt.T) * g
                            for e in range(nE):
                                w = df[e] * offdiag
                                acc[0, o, part, e, l, gm, b] += np.sum(w * Xd)
                                acc[1, o, part, e, l, gm, b] += np.sum(w * Xi)
    pref = -C.e ** 2 / C.hbar * 1e10 / 100.0 / (volume * len(H_list))
    acc *= pref
    out = {}
    for ki, kind in enumerate(("direct", "inverse")):
        out[kind] = {}
        for o, name in enumerate(("orbital", "spin")):
            conv, tor = acc[ki, o, 0], acc[ki, o, 1]
            out[kind][name] = {"conventional": conv, "torque_dipole": tor, "proper": conv + tor}
    return out
