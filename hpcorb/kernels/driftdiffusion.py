"""Spin and orbital drift-diffusion in an N/F bilayer (paper 001): pure numpy.

Geometry: N occupies -d_N < z < 0, F occupies 0 < z < d_F; E along x, the
Hall-generated polarization along y, m perpendicular to y.  Transverse spin
and orbital quantities are complex numbers c = c_y + i c_{m x y}: the real
part is along m x (y x m) (damping-like), the imaginary part along m x y
(field-like).  Paper Eq. 5 then reads mu_s'' = q^2 mu_s in F with
q^2 = 1/l_sf^2 + 1/l_phi^2 - i/l_J^2 (q = alpha - i beta, Re q > 0).

Units: lengths in nm at the interface of this module (converted to m
inside), conductivities in Ohm^-1 m^-1, interface conductances in
Ohm^-1 m^-2, E in V/m; chemical potentials come out in V, currents in A/m^2
(charge-current units, as in the paper).

Parameters are passed as a mapping ``{name: float or array}`` with the deck
names (:data:`PARAMS`); arrays broadcast against each other to one batch
shape, and every parameter point is an independent 8x8 complex linear system
(:func:`solve`); the systems of a batch are solved together by a vectorized
Gaussian elimination (:func:`batched_solve`), in blocks of :data:`BLOCK` points.

Unknowns (8 complex per point), in exponentials that never overflow:

    N:  mu_s = A_s e^{z/l_sN} + B_s e^{-(z+d_N)/l_sN}   (orbital: A_o, B_o, l_oN)
    F:  mu_s = C_s e^{-q z} + D_s e^{q (z-d_F)}          (orbital: C_o, D_o, p = 1/l_oF)

Currents (Eqs. 1-4): J_s^N = -s_sN mu_s' + s_SHE E, J_o^N = -s_oN mu_o' + s_OHE E,
J_s^F = -s_sF mu_s' - P_os s_oF mu_o', J_o^F = -s_oF mu_o' - P_so s_sF mu_s'.
Boundary conditions: J = 0 at z = -d_N and z = d_F; at z = 0 the currents
are continuous and (``boundary="conductance"``, Eqs. 8-9)
J_s = G_s dmu_s + G_os dmu_o, J_o = G_o dmu_o + G_so dmu_s with
dmu = mu^N(0) - mu^F(0); ``"transparent"``: dmu_s = dmu_o = 0;
``"mixing"`` (Eqs. 10-11): spin not resolved in F (mu_s^F = 0),
J_s^N = G_mix mu_s^N + G_os dmu_o, J_o = G_o dmu_o + G_so mu_s^N.
Torque (Eq. 12) = J_s^N(0), complex (damping-like + i field-like).
"""
from __future__ import annotations

import numpy as np

NM = 1e-9
HBAR_OVER_E = 6.582119569509066e-16      # V s  (scipy.constants.hbar / e)

LENGTHS = ("d_N", "d_F", "lambda_s_N", "lambda_o_N", "lambda_o_F", "lambda_sf", "lambda_phi",
           "lambda_J")
CONDUCTIVITIES = ("sigma_s_N", "sigma_o_N", "sigma_s_F", "sigma_o_F")
HALL = ("sigma_SHE", "sigma_OHE")
INTERFACE = ("G_s", "G_o", "G_os", "G_so")
PARAMS = LENGTHS + CONDUCTIVITIES + HALL + ("E", "P_os", "P_so") + INTERFACE
BOUNDARIES = ("conductance", "transparent", "mixing")
BLOCK = 2048          # parameter points per vectorized solve


# ---------------------------------------------------------------------------
# helpers

def batch(params, names=PARAMS):
    """Broadcast the named parameters to one batch shape; return (dict, shape)."""
    arrs = [np.asarray(params[n], dtype=float) for n in names]
    b = np.broadcast_arrays(*arrs)
    shape = b[0].shape if b else ()
    return {n: np.array(a, dtype=float) for n, a in zip(names, b)}, shape


def q_F(lambda_sf, lambda_phi, lambda_J):
    """Complex inverse length of the transverse spin in F, q = alpha - i beta (1/nm).

    q^2 = 1/l_sf^2 + 1/l_phi^2 - i/l_J^2, principal root (Re q > 0, Im q <= 0).
    """
    q2 = (1.0 / np.asarray(lambda_sf, float) ** 2 + 1.0 / np.asarray(lambda_phi, float) ** 2
          - 1j / np.asarray(lambda_J, float) ** 2)
    return np.sqrt(q2)


def alpha_beta(lambda_sf, lambda_phi, lambda_J):
    """alpha, beta (1/nm) of Eq. 6 in its corrected form (see docs/bilayer.md):

    alpha = sqrt((sqrt(a^2 + b^2) + a) / 2), beta = sqrt((sqrt(a^2 + b^2) - a) / 2),
    a = 1/l_sf^2 + 1/l_phi^2, b = 1/l_J^2.  (The paper prints a prefactor 1/2
    in front of the square root; then (alpha - i beta)^2 != q^2.)
    """
    a = 1.0 / np.asarray(lambda_sf, float) ** 2 + 1.0 / np.asarray(lambda_phi, float) ** 2
    b = 1.0 / np.asarray(lambda_J, float) ** 2
    r = np.hypot(a, b)
    return np.sqrt((r + a) / 2.0), np.sqrt((r - a) / 2.0)


def alpha_beta_as_printed(lambda_sf, lambda_phi, lambda_J):
    """Eq. 6 exactly as printed in paper 001 (a factor sqrt(2) too small)."""
    al, be = alpha_beta(lambda_sf, lambda_phi, lambda_J)
    return al / np.sqrt(2.0), be / np.sqrt(2.0)


# ---------------------------------------------------------------------------
# analytic formulas of paper 001 (Eqs. 13-21); lengths in nm

def G_tilde(sigma, lam, d):
    """Eq. 15 for a layer of thickness d: sigma / (lam coth(d/lam)) (Ohm^-1 m^-2)."""
    lam = np.asarray(lam, float)
    return np.asarray(sigma, float) * np.tanh(np.asarray(d, float) / lam) / (lam * NM)


def G_tilde_sF(sigma_s_F, lambda_sf, lambda_phi, lambda_J):
    """Eq. 15 for the transverse spin in a thick F: sigma_s^F (alpha - i beta)."""
    return np.asarray(sigma_s_F, float) * q_F(lambda_sf, lambda_phi, lambda_J) / NM


def accumulation(d, lam):
    """The factor (1 - 1/cosh(d/lam)) of Eqs. 13-14."""
    return 1.0 - 1.0 / np.cosh(np.asarray(d, float) / np.asarray(lam, float))


def eta_s_eq16(p, G_F=None):
    """Spin transmission efficiency Eq. 16, (1 + Gt_s^N / Gt_s^F)^-1.

    ``G_F``: the F-side absorbing conductance (default sigma_s^F (alpha - i
    beta), transparent interface); pass Eq. 19's G_mix for a finite G_s.
    """
    GN = G_tilde(p["sigma_s_N"], p["lambda_s_N"], p["d_N"])
    if G_F is None:
        G_F = G_tilde_sF(p["sigma_s_F"], p["lambda_sf"], p["lambda_phi"], p["lambda_J"])
    return 1.0 / (1.0 + GN / G_F)


def tau_eq13(p, eta=None):
    """SHE torque Eq. 13: eta_s sigma_SHE E (1 - 1/cosh(d_N/l_sN)) (A/m^2)."""
    eta = eta_s_eq16(p) if eta is None else eta
    return eta * p["sigma_SHE"] * p["E"] * accumulation(p["d_N"], p["lambda_s_N"])


def tau_eq14(p, eta):
    """OHE torque Eq. 14: eta_o sigma_OHE E (1 - 1/cosh(d_N/l_oN)) (A/m^2)."""
    return eta * p["sigma_OHE"] * p["E"] * accumulation(p["d_N"], p["lambda_o_N"])


def eta_o_eq17(p):
    """Orbital efficiency with bulk orbit-to-spin conversion in F, Eq. 17
    (transparent interface, thick F): P_os (1 + Gt_s^F/Gt_s^N)^-1 (1 + Gt_o^N/Gt_o^F)^-1."""
    GsN = G_tilde(p["sigma_s_N"], p["lambda_s_N"], p["d_N"])
    GsF = G_tilde_sF(p["sigma_s_F"], p["lambda_sf"], p["lambda_phi"], p["lambda_J"])
    GoN = G_tilde(p["sigma_o_N"], p["lambda_o_N"], p["d_N"])
    GoF = G_tilde(p["sigma_o_F"], p["lambda_o_F"], p["d_F"])
    return p["P_os"] / (1.0 + GsF / GsN) / (1.0 + GoN / GoF)


def eta_o_eq18(p, exact=True):
    """Orbital efficiency with interfacial orbit-to-spin conversion, Eq. 18
    (P_os = P_so = G_so = 0, thick F).

    ``exact=False``: as printed, gamma_os (Gt_s^F/G_s) (1 + Gt_s^F/Gt_s^N)^-1
    [1 + Gt_o^N (1/G_o + 1/Gt_o^F)]^-1 with gamma_os = G_os/G_o, valid for
    G_s >> |Gt_s^F|.  ``exact=True`` (re-derived): Gt_s^F -> G_mix of Eq. 19
    in both places, which is exact in this limit for any G_s.
    """
    GsN = G_tilde(p["sigma_s_N"], p["lambda_s_N"], p["d_N"])
    GsF = G_tilde_sF(p["sigma_s_F"], p["lambda_sf"], p["lambda_phi"], p["lambda_J"])
    GoN = G_tilde(p["sigma_o_N"], p["lambda_o_N"], p["d_N"])
    GoF = G_tilde(p["sigma_o_F"], p["lambda_o_F"], p["d_F"])
    G = G_mix_eq19(p) if exact else GsF
    gamma = p["G_os"] / p["G_o"]
    return gamma * (G / p["G_s"]) / (1.0 + G / GsN) / (1.0 + GoN * (1.0 / p["G_o"] + 1.0 / GoF))


def G_mix_eq19(p):
    """Spin-mixing conductance Eq. 19: [1/G_s + 1/(sigma_s^F (alpha - i beta))]^-1."""
    GsF = G_tilde_sF(p["sigma_s_F"], p["lambda_sf"], p["lambda_phi"], p["lambda_J"])
    return 1.0 / (1.0 / p["G_s"] + 1.0 / GsF)


def G_os_m_eq20(p, exact=True):
    """Orbit-spin-mixing conductance, bulk conversion (Eq. 20: G_o P_os).

    ``exact=True`` (re-derived, thick F, P_so = G_os = G_so = 0):
    G_o P_os G_mix / (sigma_s^F (alpha - i beta)) = G_o P_os G_s / (G_s + Gt_s^F);
    Eq. 20 is its G_s >> |Gt_s^F| limit.
    """
    if not exact:
        return p["G_o"] * p["P_os"] * np.ones_like(G_mix_eq19(p))
    GsF = G_tilde_sF(p["sigma_s_F"], p["lambda_sf"], p["lambda_phi"], p["lambda_J"])
    return p["G_o"] * p["P_os"] * G_mix_eq19(p) / GsF


def G_os_m_eq21(p, exact=True):
    """Orbit-spin-mixing conductance, interfacial conversion (Eq. 21:
    (G_os/G_s) sigma_s^F (alpha - i beta)).

    ``exact=True`` (re-derived, thick F, P_os = P_so = 0): G_os G_mix / G_s
    = G_os Gt_s^F / (G_s + Gt_s^F); Eq. 21 is its G_s >> |Gt_s^F| limit.
    """
    GsF = G_tilde_sF(p["sigma_s_F"], p["lambda_sf"], p["lambda_phi"], p["lambda_J"])
    if not exact:
        return p["G_os"] / p["G_s"] * GsF
    return p["G_os"] * G_mix_eq19(p) / p["G_s"]


# ---------------------------------------------------------------------------
# the exact boundary-value problem

def batched_solve(A, b):
    """Solve A x = b for a stack of small systems: A (n, m, m), b (n, m) or (n, m, r).

    Gaussian elimination with partial pivoting, vectorized over the stack in
    plain numpy.  For 8x8 systems this is as fast as LAPACK's gesv called
    through ``numpy.linalg.solve`` with one BLAS thread, and it does not slow
    down ~30x when OpenBLAS starts threads per tiny matrix (which it does by
    default on a multi-core node).
    """
    A = np.asarray(A)
    vec = np.ndim(b) == A.ndim - 1
    B = np.asarray(b)
    if vec:
        B = B[..., None]
    n, m, r = A.shape[0], A.shape[1], B.shape[2]
    # augmented matrices with the stack as the last (contiguous) axis
    Ab = np.empty((m, m + r, n), complex)
    Ab[:, :m, :] = A.transpose(1, 2, 0)
    Ab[:, m:, :] = B.transpose(1, 2, 0)
    cols = np.arange(n)
    for k in range(m):
        piv = k + np.argmax(np.abs(Ab[k:, k, :]), axis=0)
        if np.any(piv != k):
            rk = Ab[k].copy()
            Ab[k] = Ab[piv, :, cols].T
            Ab[piv, :, cols] = rk.T
        if k + 1 < m:
            f = Ab[k + 1:, k, :] / Ab[k, k, :]
            Ab[k + 1:, k + 1:, :] -= f[:, None, :] * Ab[k, None, k + 1:, :]
    X = np.empty((m, r, n), complex)
    for k in range(m - 1, -1, -1):
        acc = Ab[k, m:, :] - np.einsum("jn,jrn->rn", Ab[k, k + 1:m, :], X[k + 1:])
        X[k] = acc / Ab[k, k, :]
    X = X.transpose(2, 0, 1)
    return X[..., 0] if vec else X


class Solution:
    """Coefficients of the exact solution for a batch of parameter points.

    ``coef[..., 8]`` = (A_s, B_s, A_o, B_o, C_s, D_s, C_o, D_o) in V.
    """

    def __init__(self, p, shape, coef, boundary, G_mix):
        self.p, self.shape, self.coef, self.boundary, self.G_mix = p, shape, coef, boundary, G_mix
        self.q = q_F(p["lambda_sf"], p["lambda_phi"], p["lambda_J"])   # 1/nm

    # -- layer functions: value and z-derivative (per m) at z (nm) -------
    def _n_side(self, which, z):
        p = self.p
        lam = p["lambda_s_N"] if which == "s" else p["lambda_o_N"]
        A, B = (self.coef[..., 0], self.coef[..., 1]) if which == "s" else (self.coef[..., 2], self.coef[..., 3])
        lam, A, B = lam[..., None], A[..., None], B[..., None]
        d = p["d_N"][..., None]
        ea, eb = np.exp(z / lam), np.exp(-(z + d) / lam)
        return A * ea + B * eb, (A * ea - B * eb) / (lam * NM)

    def _f_side(self, which, z):
        p = self.p
        k = self.q if which == "s" else 1.0 / p["lambda_o_F"] + 0j
        C, D = (self.coef[..., 4], self.coef[..., 5]) if which == "s" else (self.coef[..., 6], self.coef[..., 7])
        k, C, D = k[..., None], C[..., None], D[..., None]
        d = p["d_F"][..., None]
        ec, ed = np.exp(-k * z), np.exp(k * (z - d))
        return C * ec + D * ed, k * (-C * ec + D * ed) / NM

    def n_side(self, z):
        """mu_s, mu_o, J_s, J_o in N at z (nm, broadcast against the batch + [nz])."""
        p = self.p
        z = np.asarray(z, float)
        ms, dms = self._n_side("s", z)
        mo, dmo = self._n_side("o", z)
        Js = -p["sigma_s_N"][..., None] * dms + (p["sigma_SHE"] * p["E"])[..., None]
        Jo = -p["sigma_o_N"][..., None] * dmo + (p["sigma_OHE"] * p["E"])[..., None]
        return ms, mo, Js, Jo

    def f_side(self, z):
        """mu_s, mu_o, J_s, J_o in F at z (nm)."""
        p = self.p
        z = np.asarray(z, float)
        ms, dms = self._f_side("s", z)
        mo, dmo = self._f_side("o", z)
        if self.boundary == "mixing":      # spin not resolved in F
            ms, dms = np.zeros_like(ms), np.zeros_like(dms)
        sF, oF = p["sigma_s_F"][..., None], p["sigma_o_F"][..., None]
        Js = -sF * dms - p["P_os"][..., None] * oF * dmo
        Jo = -oF * dmo - p["P_so"][..., None] * sF * dms
        if self.boundary == "mixing":
            Js = np.zeros_like(Js)
        return ms, mo, Js, Jo

    @property
    def torque(self):
        """J_s^N(0) (A/m^2), complex: damping-like + i field-like (Eq. 12)."""
        return self.n_side(np.zeros(1))[2][..., 0]

    def interface(self):
        """Dict of the interface values (0^- and 0^+) of mu_s, mu_o, J_s, J_o."""
        zero = np.zeros(1)
        n = [a[..., 0] for a in self.n_side(zero)]
        f = [a[..., 0] for a in self.f_side(zero)]
        keys = ("mu_s", "mu_o", "J_s", "J_o")
        out = {k + "_N": v for k, v in zip(keys, n)}
        out.update({k + "_F": v for k, v in zip(keys, f)})
        return out

    def profiles(self, nz_per_layer=201):
        """z (nm) [2 nz] and mu_s, mu_o, J_s, J_o [..., 2 nz]; z = 0 appears twice
        (0^- in N, then 0^+ in F), so interface jumps show."""
        t = np.linspace(0.0, 1.0, nz_per_layer)
        if self.shape != ():
            raise ValueError("profiles() needs a single parameter point")
        zN = -self.p["d_N"] * (1.0 - t)
        zF = self.p["d_F"] * t
        n, f = self.n_side(zN), self.f_side(zF)
        z = np.concatenate([zN, zF])
        return z, [np.concatenate([a, b]) for a, b in zip(n, f)]


def _coef_rows(p, boundary, G_mix):
    """The 8x8 matrices and right-hand sides, batch shape (n,)."""
    n = p["d_N"].shape[0]
    M = np.zeros((n, 8, 8), complex)
    rhs = np.zeros((n, 8), complex)
    lsN, loN, loF = p["lambda_s_N"] * NM, p["lambda_o_N"] * NM, p["lambda_o_F"] * NM
    dN, dF = p["d_N"] * NM, p["d_F"] * NM
    q = q_F(p["lambda_sf"], p["lambda_phi"], p["lambda_J"]) / NM
    k = 1.0 / loF
    eNs, eNo = np.exp(-dN / lsN), np.exp(-dN / loN)
    eFs, eFo = np.exp(-q * dF), np.exp(-k * dF)
    gs, go = p["sigma_s_N"] / lsN, p["sigma_o_N"] / loN
    sF, oF = p["sigma_s_F"], p["sigma_o_F"]
    jS, jO = p["sigma_SHE"] * p["E"], p["sigma_OHE"] * p["E"]
    Pos, Pso = p["P_os"], p["P_so"]
    As, Bs, Ao, Bo, Cs, Ds, Co, Do = range(8)

    # value and derivative coefficient rows at the interface / outer faces
    # N at 0: mu = A + B eN ; -sigma mu' = -g (A - B eN)
    # F at 0: mu = C + D eF ; mu' = k(-C + D eF)
    # F at d_F: mu' = k(-C eF + D)
    # R0, R1: J^N(-d_N) = 0: -g (A eN - B) + j = 0
    M[:, 0, As], M[:, 0, Bs], rhs[:, 0] = -gs * eNs, gs, -jS
    M[:, 1, Ao], M[:, 1, Bo], rhs[:, 1] = -go * eNo, go, -jO
    # R2, R3: J^F(d_F) = 0
    dmsC, dmsD = -q * eFs, q                    # mu_s'(d_F) = dmsC Cs + dmsD Ds
    dmoC, dmoD = -k * eFo, k
    M[:, 2, Cs], M[:, 2, Ds] = -sF * dmsC, -sF * dmsD
    M[:, 2, Co], M[:, 2, Do] = -Pos * oF * dmoC, -Pos * oF * dmoD
    M[:, 3, Co], M[:, 3, Do] = -oF * dmoC, -oF * dmoD
    M[:, 3, Cs], M[:, 3, Ds] = -Pso * sF * dmsC, -Pso * sF * dmsD
    # J^N(0) rows (coefficients and source) and J^F(0) rows
    JsN = np.zeros((n, 8), complex); JsN[:, As], JsN[:, Bs] = -gs, gs * eNs
    JoN = np.zeros((n, 8), complex); JoN[:, Ao], JoN[:, Bo] = -go, go * eNo
    dms0C, dms0D = -q, q * eFs                  # mu_s'(0+)
    dmo0C, dmo0D = -k, k * eFo
    JsF = np.zeros((n, 8), complex)
    JsF[:, Cs], JsF[:, Ds] = -sF * dms0C, -sF * dms0D
    JsF[:, Co], JsF[:, Do] = -Pos * oF * dmo0C, -Pos * oF * dmo0D
    JoF = np.zeros((n, 8), complex)
    JoF[:, Co], JoF[:, Do] = -oF * dmo0C, -oF * dmo0D
    JoF[:, Cs], JoF[:, Ds] = -Pso * sF * dms0C, -Pso * sF * dms0D
    # interface potential drops dmu = mu^N(0) - mu^F(0)
    dms = np.zeros((n, 8), complex); dms[:, As], dms[:, Bs], dms[:, Cs], dms[:, Ds] = 1, eNs, -1, -eFs
    dmo = np.zeros((n, 8), complex); dmo[:, Ao], dmo[:, Bo], dmo[:, Co], dmo[:, Do] = 1, eNo, -1, -eFo
    # R4, R5: continuity  J^N(0) - J^F(0) = 0  (source to the rhs)
    M[:, 4], rhs[:, 4] = JsN - JsF, -jS
    M[:, 5], rhs[:, 5] = JoN - JoF, -jO
    if boundary == "conductance":
        M[:, 6] = JsN - p["G_s"][:, None] * dms - p["G_os"][:, None] * dmo
        M[:, 7] = JoN - p["G_o"][:, None] * dmo - p["G_so"][:, None] * dms
        rhs[:, 6], rhs[:, 7] = -jS, -jO
    elif boundary == "transparent":
        M[:, 6] = gs[:, None] * dms
        M[:, 7] = go[:, None] * dmo
    elif boundary == "mixing":
        # spin in F not resolved: C_s = D_s = 0 replace the F-spin rows
        M[:, 2] = 0; M[:, 2, Cs] = gs
        M[:, 4] = 0; M[:, 4, Ds] = gs
        rhs[:, 2] = rhs[:, 4] = 0
        M[:, 6] = JsN - G_mix[:, None] * dms - p["G_os"][:, None] * dmo
        M[:, 7] = JoN - p["G_o"][:, None] * dmo - p["G_so"][:, None] * dms
        rhs[:, 6], rhs[:, 7] = -jS, -jO
    else:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, not {boundary!r}")
    return M, rhs


def solve(params, boundary="conductance", G_mix=None):
    """Solve the bilayer BVP for every point of a batch; return a :class:`Solution`.

    params: ``{name: float or array}`` for every name in :data:`PARAMS`
    (lengths in nm).  G_mix: complex spin-mixing conductance for
    ``boundary="mixing"`` (default: Eq. 19 from G_s and F's lengths).
    """
    p, shape = batch(params)
    flat = {k: v.reshape(-1) for k, v in p.items()}
    Gm = None
    if boundary == "mixing":
        Gm = G_mix_eq19(flat) if G_mix is None else np.broadcast_to(
            np.asarray(G_mix, complex), shape).reshape(-1)
    n = flat["d_N"].size
    coef = np.empty((n, 8), complex)
    for lo in range(0, n, BLOCK):      # blocks keep the temporaries in cache
        hi = min(n, lo + BLOCK)
        M, rhs = _coef_rows({k: v[lo:hi] for k, v in flat.items()}, boundary,
                            None if Gm is None else Gm[lo:hi])
        # row equilibration: rows mix conductances ~1e15 and O(1) coefficients
        scale = np.abs(M).max(axis=2)
        scale[scale == 0] = 1.0
        coef[lo:hi] = batched_solve(M / scale[..., None], rhs / scale)
    sol = Solution({k: v.reshape(shape) for k, v in flat.items()}, shape,
                   coef.reshape(shape + (8,)), boundary,
                   None if Gm is None else Gm.reshape(shape))
    return sol


def torque(params, boundary="conductance", G_mix=None):
    """Complex torque J_s^N(0) (A/m^2) for a batch of parameter points."""
    return solve(params, boundary, G_mix).torque


def torque_loop(params, boundary="conductance", G_mix=None):
    """Reference: the same torques, one parameter point at a time (slow)."""
    p, shape = batch(params)
    flat = {k: v.reshape(-1) for k, v in p.items()}
    n = flat["d_N"].size
    out = np.empty(n, complex)
    for i in range(n):
        pi = {k: v[i] for k, v in flat.items()}
        out[i] = solve(pi, boundary, None if G_mix is None else np.asarray(G_mix).reshape(-1)[i]
                       if np.ndim(G_mix) else G_mix).torque
    return out.reshape(shape)


# ---------------------------------------------------------------------------
# conductance (Onsager) matrix of the F side seen from N, Eqs. 19-23

def f_side_response(params):
    """Eliminate F (and the interface, boundary = "conductance") exactly.

    For prescribed N-side interface potentials (mu_s^N(0), mu_o^N(0)) the
    F layer with its interface (Eqs. 3-9, J^F(d_F) = 0) carries interface
    currents (J_s, J_o) and potential drops (dmu_s, dmu_o).  Returns a dict of
    complex arrays (batch shape + (2, 2)):

    ``Y``: (J_s, J_o) = Y (mu_s^N, mu_o^N), the F side's admittance;
    ``K``: (J_s, J_o) = K (mu_s^N, dmu_o), the response matrix of Eq. 22 in
    the paper's variables (spin accumulation in N, orbital drop across the
    interface): K = [[G_mix, G_os^m], [G_so^m, G_o^eff]].
    """
    p, shape = batch(params)
    f = {k: v.reshape(-1) for k, v in p.items()}
    n = f["d_F"].size
    q = q_F(f["lambda_sf"], f["lambda_phi"], f["lambda_J"]) / NM
    k = 1.0 / (f["lambda_o_F"] * NM) + 0j
    dF = f["d_F"] * NM
    eFs, eFo = np.exp(-q * dF), np.exp(-k * dF)
    sF, oF, Pos, Pso = f["sigma_s_F"], f["sigma_o_F"], f["P_os"], f["P_so"]
    Cs, Ds, Co, Do = range(4)
    # J_s^F, J_o^F at d_F and at 0 as rows over (Cs, Ds, Co, Do)
    def J_rows(ms_C, ms_D, mo_C, mo_D):
        Js = np.stack([-sF * ms_C, -sF * ms_D, -Pos * oF * mo_C, -Pos * oF * mo_D], axis=-1)
        Jo = np.stack([-Pso * sF * ms_C, -Pso * sF * ms_D, -oF * mo_C, -oF * mo_D], axis=-1)
        return Js, Jo
    JsD, JoD = J_rows(-q * eFs, q + 0 * eFs, -k * eFo, k + 0 * eFo)
    Js0, Jo0 = J_rows(-q + 0 * eFs, q * eFs, -k + 0 * eFo, k * eFo)
    mus0 = np.stack([np.ones(n), eFs, np.zeros(n), np.zeros(n)], axis=-1).astype(complex)
    muo0 = np.stack([np.zeros(n), np.zeros(n), np.ones(n), eFo], axis=-1).astype(complex)
    Gs, Go, Gos, Gso = (f[x][:, None] for x in ("G_s", "G_o", "G_os", "G_so"))
    # J_s^F(0) = G_s (mu_sN - mu_sF) + G_os (mu_oN - mu_oF)  ->  J + G_s mu_sF + G_os mu_oF = G_s mu_sN + G_os mu_oN
    M = np.stack([JsD, JoD, Js0 + Gs * mus0 + Gos * muo0, Jo0 + Go * muo0 + Gso * mus0], axis=1)
    R = np.zeros((n, 4, 2), complex)
    R[:, 2, 0], R[:, 2, 1] = f["G_s"], f["G_os"]
    R[:, 3, 0], R[:, 3, 1] = f["G_so"], f["G_o"]
    scale = np.abs(M).max(axis=2)
    x = batched_solve(M / scale[..., None], R / scale[..., None])          # (n, 4, 2)
    J = np.stack([np.einsum("nk,nkc->nc", Js0, x), np.einsum("nk,nkc->nc", Jo0, x)], axis=1)  # (n,2,2)
    muF_s = np.einsum("nk,nkc->nc", mus0, x)
    muF_o = np.einsum("nk,nkc->nc", muo0, x)
    # forces of column c: mu_sN = delta_c0, mu_oN = delta_c1
    dmo = np.stack([-muF_o[:, 0], 1.0 - muF_o[:, 1]], axis=-1)     # (n, 2)
    dms = np.stack([1.0 - muF_s[:, 0], -muF_s[:, 1]], axis=-1)
    # change of forces (mu_s^N, mu_o^N) -> (mu_s^N, dmu_o): F = [[1, 0], [dmo_0, dmo_1]],
    # F^-1 = [[1, 0], [-dmo_0/dmo_1, 1/dmo_1]] (written out: LAPACK on 2x2 stacks is slow).
    # The interface law J = Gint (dmu_s, dmu_o) holds exactly, so K = Gint T with
    # T = d(dmu_s, dmu_o)/d(mu_s^N, dmu_o) = [[t0, t1], [0, 1]]; this keeps
    # K_os = G_so t0 exactly 0 for G_so = 0.
    t0 = dms[:, 0] - dms[:, 1] * dmo[:, 0] / dmo[:, 1]
    t1 = dms[:, 1] / dmo[:, 1]
    K = np.empty((n, 2, 2), complex)
    K[:, 0, 0] = f["G_s"] * t0
    K[:, 0, 1] = f["G_s"] * t1 + f["G_os"]
    K[:, 1, 0] = f["G_so"] * t0
    K[:, 1, 1] = f["G_so"] * t1 + f["G_o"]
    return {"Y": J.reshape(shape + (2, 2)), "K": K.reshape(shape + (2, 2)),
            "mu_F": np.stack([muF_s, muF_o], axis=1).reshape(shape + (2, 2))}


def mixing_conductances(params):
    """Exact G_mix, G_os^m, G_so^m, G_o^eff (Ohm^-1 m^-2, complex) of Eq. 22."""
    K = f_side_response(params)["K"]
    return {"G_mix": K[..., 0, 0], "G_os_m": K[..., 0, 1], "G_so_m": K[..., 1, 0],
            "G_o_eff": K[..., 1, 1]}


def pumping(params, d_F_m=None, M_s=None):
    """Spin and orbital pumping coefficients (Eqs. 22-23).

    J_s = (hbar/e) G_mix m x dm/dt and J_o = (hbar/e) G_so^m m x dm/dt:
    returns ``spin``, ``orbital`` (A s m^-2, complex), and, when the magnet's
    thickness (m) and saturation magnetization (A/m) are given, the Onsager
    coefficients L_sm = L_ms = mu_B G_mix/(e^2 d M_s), L_om = mu_B G_os^m/(e^2 d M_s),
    L_mo = mu_B G_so^m/(e^2 d M_s).
    """
    g = mixing_conductances(params)
    out = {"spin": HBAR_OVER_E * g["G_mix"], "orbital": HBAR_OVER_E * g["G_so_m"]}
    if d_F_m is not None and M_s is not None:
        mu_B, e = 9.2740100783e-24, 1.602176634e-19
        c = mu_B / (e ** 2 * d_F_m * M_s)
        out.update({"L_sm": c * g["G_mix"], "L_om": c * g["G_os_m"], "L_mo": c * g["G_so_m"]})
    return out
