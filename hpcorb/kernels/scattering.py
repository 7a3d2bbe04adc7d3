"""Continuum p-orbital interface scattering (paper 002, PHYSICS.md section 4).

Pure numpy, no MPI, no I/O.  Internal units: hbar = 1, 2m = 1, k_F = 1,
E_F = 1, so energies are in E_F, lengths in 1/k_F, ``r`` and ``alpha`` in
hbar^2/2m (the paper's r/(1/2m) and alpha_R k_F^2/E_F map directly).

Basis m_l = +1, 0, -1 with the L matrices of the paper's Eq. 2.  For a
transverse momentum (kappa, phi) the z-problem is

    H = -d/dz M(z) d/dz + (1/2)[r(z) C k_z + k_z r(z) C] + kappa^2
        + theta(z) (U + r A^2) + alpha Rop delta(z),

A = kappa (cos phi L_x + sin phi L_y), C = {A, L_z}, M = 1 + r(z) L_z^2,
Rop = kappa (sin phi L_x - cos phi L_y) = L.(k x z).  Boundary conditions:
psi continuous and M_R psi'(0+) - psi'(0-) + (i/2) r C psi(0) - alpha Rop psi(0) = 0.

Right-layer modes (Im k_z > 0 or right-moving): helicity +-1 at
k_z^t = sqrt(k_t^2 - kappa^2), k_t^2 = (1 - U)/(1 + r), and helicity 0 at
k_z^r = sqrt(k_r^2 - kappa^2), k_r^2 = 1 - U, with the paper's Eq. 4 vectors.

Velocity v = dH/dk_z = 2 M k_z + r C; operator current J_O = Re[psi^+ O (v psi)]
(internal units: hbar * hbar k_F/(2m) per unit incident amplitude);
torque tau_O = dJ_O/dz.

Fermi-surface average (PHYSICS.md): <O>(z) = 1/pi Int_0^{2pi} dphi Int_0^1 kappa dkappa O.
The phi dependence of every (kappa, phi) observable is a trigonometric
polynomial of degree <= 4 (rotation covariance about z), so an equally
spaced phi rule with N_PHI >= 9 points is exact; the kappa integral is split
at the thresholds k_t, k_r (and ends at 1 where the incident k_z vanishes)
and done by Gauss-Legendre in theta with kappa = a + (b - a)(1 - cos theta)/2,
which turns the square-root branch points at both ends into smooth behaviour.
"""
from __future__ import annotations

import numpy as np

SQ2 = np.sqrt(2.0)
LX = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=complex) / SQ2
LY = np.array([[0, 1, 0], [-1, 0, 1], [0, -1, 0]], dtype=complex) / (SQ2 * 1j)
LZ = np.diag([1.0, 0.0, -1.0]).astype(complex)
EYE = np.eye(3, dtype=complex)
DIPOLES = np.array([LX, LY, LZ])


def _anti(a, b):
    return 0.5 * (a @ b + b @ a)


QUADRUPOLES = np.array([
    _anti(LX, LY), _anti(LY, LZ), _anti(LZ, LX),
    0.5 * (LX @ LX - LY @ LY),
    0.5 * (3.0 * LZ @ LZ - 2.0 * EYE),
])
QUAD_NAMES = ("xy", "yz", "zx", "x2-y2", "z2")
DIPOLE_NAMES = ("x", "y", "z")
INCIDENT_STATES = {
    "x": np.array([0.5, 1.0 / SQ2, 0.5], dtype=complex),
    "y": np.array([0.5, 1j / SQ2, -0.5], dtype=complex),
    "z": np.array([1.0, 0.0, 0.0], dtype=complex),
}
N_PHI = 10           # exact for the degree-4 phi dependence (any N_PHI >= 9)

# ---------------------------------------------------------------------------
# Bands and modes


def thresholds(U, r):
    """(k_t, k_r) in units of k_F: helicity +-1 and helicity 0 Fermi momenta."""
    kr = np.sqrt(1.0 - U)
    kt = np.sqrt((1.0 - U) / (1.0 + r))
    return kt, kr


def kz_branch(k2, kappa):
    """sqrt(k2 - kappa^2): real >= 0 when propagating, +i sqrt(kappa^2 - k2) when evanescent."""
    d = k2 - np.asarray(kappa, dtype=float) ** 2
    return np.where(d >= 0, np.sqrt(np.abs(d)) + 0j, 1j * np.sqrt(np.abs(d)))


def transverse_matrices(kappa, phi):
    """A, C = {A, L_z}, Rop = L.(k x z), each of shape (..., 3, 3)."""
    kappa = np.asarray(kappa, dtype=float)[..., None, None]
    phi = np.asarray(phi, dtype=float)[..., None, None]
    A = kappa * (np.cos(phi) * LX + np.sin(phi) * LY)
    C = A @ LZ + LZ @ A
    Rop = kappa * (np.sin(phi) * LX - np.cos(phi) * LY)
    return A, C, Rop


def helicity_vectors(kappa, phi, kz, k):
    """The paper's Eq. 4 eigenvectors as columns (..., 3, 3): lambda = +1, -1, 0.

    Written without cancellation: k_z - k = -kappa^2/(k_z + k), and the
    lambda = +-1 vectors are divided by (k_z + k)^2 and kappa^2 respectively
    (so they stay finite at kappa -> 0); each column is then normalized.
    Valid for complex (evanescent) k_z; k = sqrt(kappa^2 + k_z^2) is real.
    """
    kappa = np.asarray(kappa, dtype=float)
    e1 = np.exp(1j * np.asarray(phi, dtype=float))
    kz = np.asarray(kz, dtype=complex)
    s = kz + k
    x = kappa / s
    vp = np.stack([np.ones_like(s), SQ2 * x * e1, x * x * e1 * e1], axis=-1)
    vm = np.stack([x * x, -SQ2 * x * e1, e1 * e1 * np.ones_like(s)], axis=-1)
    v0 = np.stack([-kappa / e1, SQ2 * kz, kappa * e1], axis=-1) / (SQ2 * np.asarray(k)[..., None])
    V = np.stack([vp, vm, v0], axis=-1)
    return V / np.linalg.norm(V, axis=-2, keepdims=True)


def right_matrices(kappa, phi, U, r, E=1.0):
    """Coefficients of the quadratic eigenproblem (k_z^2 M + k_z r C + W) v = 0."""
    A, C, _ = transverse_matrices(kappa, phi)
    M = EYE + r * LZ @ LZ
    kap = np.asarray(kappa, dtype=float)[..., None, None]
    W = (kap ** 2 + U - E) * EYE + r * A @ A
    return np.broadcast_to(M, C.shape), r * C, W


def numerical_modes(kappa, phi, U, r, E=1.0):
    """Independent mode solver: companion linearization of the 3x3 quadratic
    eigenproblem (6 roots).  Returns (kz[6], vectors[3, 6]) for one (kappa, phi)."""
    M, B, W = right_matrices(kappa, phi, U, r, E)
    Minv = np.linalg.inv(M)
    comp = np.zeros((6, 6), dtype=complex)
    comp[:3, 3:] = EYE
    comp[3:, :3] = -Minv @ W
    comp[3:, 3:] = -Minv @ B
    kz, vec = np.linalg.eig(comp)
    v = vec[:3]
    v = v / np.linalg.norm(v, axis=0, keepdims=True)
    return kz, v


def right_modes(kappa, U, r):
    """(kz_t, kz_r) for the right layer (complex arrays)."""
    kt, kr = thresholds(U, r)
    return kz_branch(kt * kt, kappa), kz_branch(kr * kr, kappa)


# ---------------------------------------------------------------------------
# Scattering solution


class Solution:
    """Scattering states for arrays of (kappa, phi), all incident states at once.

    Attributes (N = number of (kappa, phi) points, ninc = incident states):
    q [N] incident k_z; kt, kr [N] right k_z; V [N,3,3] mode vectors;
    chi [3, ninc]; rho [N,3,ninc] reflected spinor; t [N,3,ninc] mode amplitudes;
    bt, br [N,3,ninc] helicity +-1 and 0 parts of psi_R(0); C, Rop [N,3,3].
    """

    def __init__(self, kappa, phi, U, r, alpha, chi, bc_factor=0.5):
        self.kappa = np.atleast_1d(np.asarray(kappa, dtype=float)).ravel()
        self.phi = np.broadcast_to(np.asarray(phi, dtype=float), np.shape(kappa)).ravel()
        self.U, self.r, self.alpha = float(U), float(r), float(alpha)
        chi = np.asarray(chi, dtype=complex)
        if chi.ndim == 1:
            chi = chi[:, None]
        self.chi = chi
        n = self.kappa.size
        self.q = np.sqrt(np.clip(1.0 - self.kappa ** 2, 0.0, None)) + 0j
        self.kt, self.kr = right_modes(self.kappa, U, r)
        kt_abs, kr_abs = thresholds(U, r)
        Vt = helicity_vectors(self.kappa, self.phi, self.kt, kt_abs)
        Vr = helicity_vectors(self.kappa, self.phi, self.kr, kr_abs)
        self.V = np.concatenate([Vt[..., :2], Vr[..., 2:]], axis=-1)
        self.K = np.stack([self.kt, self.kt, self.kr], axis=-1)          # [N,3]
        _, self.C, self.Rop = transverse_matrices(self.kappa, self.phi)
        self.M = EYE + self.r * LZ @ LZ
        # 6x6 matching: [I, -V; iq + (i/2) r C - alpha Rop, i M V K] x = rhs
        G = np.zeros((n, 6, 6), dtype=complex)
        q = self.q[:, None, None]
        G[:, :3, :3] = EYE
        G[:, :3, 3:] = -self.V
        # bc_factor = 1/2 is the hermitian (flux-conserving) boundary condition;
        # other values exist only to study the paper's conventions (they break conservation)
        P = 1j * q * EYE + 1j * bc_factor * self.r * self.C - self.alpha * self.Rop
        G[:, 3:, :3] = P
        G[:, 3:, 3:] = 1j * self.M @ (self.V * self.K[:, None, :])
        Q = 1j * q * EYE - 1j * bc_factor * self.r * self.C + self.alpha * self.Rop
        rhs = np.concatenate([-np.broadcast_to(chi, (n,) + chi.shape),
                              Q @ chi], axis=1)
        x = np.linalg.solve(G, rhs)
        self.rho = x[:, :3]
        self.t = x[:, 3:]
        self.bt = self.V[:, :, :2] @ self.t[:, :2]
        self.br = self.V[:, :, 2:] @ self.t[:, 2:]

    # -- wavefunctions (pointwise, for tests and checks) ---------------------
    def psi(self, z):
        """psi(z) and psi'(z), shape [N, 3, ninc], for a scalar z (left if z < 0)."""
        if z < 0:
            ein = np.exp(1j * self.q * z)[:, None, None]
            eout = np.exp(-1j * self.q * z)[:, None, None]
            q = self.q[:, None, None]
            p = self.chi[None] * ein + self.rho * eout
            dp = 1j * q * (self.chi[None] * ein - self.rho * eout)
            return p, dp
        et = np.exp(1j * self.kt * z)[:, None, None]
        er = np.exp(1j * self.kr * z)[:, None, None]
        p = self.bt * et + self.br * er
        dp = 1j * (self.kt[:, None, None] * self.bt * et + self.kr[:, None, None] * self.br * er)
        return p, dp

    def velocity_psi(self, z):
        """v psi with v = 2 M k_z + r C (right) or 2 k_z (left)."""
        p, dp = self.psi(z)
        if z < 0:
            return -2j * dp
        return -2j * (self.M @ dp) + self.r * self.C @ p

    def density(self, O, z):
        p, _ = self.psi(z)
        return np.einsum("nai,ab,nbi->ni", p.conj(), O, p).real

    def current(self, O, z):
        p, _ = self.psi(z)
        return np.einsum("nai,ab,nbi->ni", p.conj(), O, self.velocity_psi(z)).real

    def heisenberg_source(self, O, z):
        """<[O, r (L.k)^2]>/i with symmetrized k_z (right layer, z > 0):
        -i psi'^+ [O, M] psi' + r Re(psi'^+ [O, C] psi) - i psi^+ [O, r A^2] psi."""
        p, dp = self.psi(z)
        A, _, _ = transverse_matrices(self.kappa, self.phi)
        cM = O @ self.M - self.M @ O
        cC = O @ self.C - self.C @ O
        AA = self.r * A @ A
        cW = O @ AA - AA @ O
        s = (-1j * np.einsum("nai,ab,nbi->ni", dp.conj(), cM, dp)
             + self.r * np.einsum("nai,nab,nbi->ni", dp.conj(), cC, p).real
             - 1j * np.einsum("nai,nab,nbi->ni", p.conj(), cW, p))
        return s.real

    def left_current(self, O):
        """J_O(0-) = Re[(chi + rho)^+ O 2q (chi - rho)], shape [N, ninc]."""
        a = self.chi[None] + self.rho
        b = self.chi[None] - self.rho
        return (2.0 * self.q[:, None] * np.einsum("nai,ab,nbi->ni", a.conj(), O, b)).real

    def propagating_flux(self):
        """Transmitted probability flux carried by the propagating modes only."""
        out = np.zeros((self.kappa.size, self.chi.shape[1]))
        for part, k in ((self.bt, self.kt), (self.br, self.kr)):
            real = np.abs(k.imag) == 0
            vb = 2.0 * k[:, None, None] * (self.M @ part) + self.r * self.C @ part
            f = np.einsum("nai,nai->ni", part.conj(), vb).real
            out += np.where(real[:, None], f, 0.0)
        return out

    # -- pair coefficients for fast z profiles -------------------------------
    def pair_coefficients(self, ops):
        """Coefficients c[p, N, ninc, nops] of the three mode pairs p = (tt, rr, tr)
        for densities, currents and torques of the operators ``ops`` [nops,3,3].

        density(z) = Re sum_p c_p E_p(z), E_tt = exp(i(kt - kt*) z), E_rr = exp(i(kr - kr*) z),
        E_tr = exp(i(kr - kt*) z); torque = d current/dz.
        """
        ops = np.asarray(ops)
        bt, br = self.bt, self.br
        vt = 2.0 * self.kt[:, None, None] * (self.M @ bt) + self.r * self.C @ bt
        vr = 2.0 * self.kr[:, None, None] * (self.M @ br) + self.r * self.C @ br

        def sand(a, b):
            return np.einsum("nai,oab,nbi->nio", a.conj(), ops, b)

        dens = np.stack([sand(bt, bt), sand(br, br), 2.0 * sand(bt, br)])
        cur = np.stack([sand(bt, vt), sand(br, vr), sand(bt, vr) + sand(br, vt).conj()])
        g = self.exponents()
        tor = cur * (1j * g)[:, :, None, None]
        return dens, cur, tor

    def exponents(self):
        """g[p, N] with E_p(z) = exp(i g_p z)."""
        kt, kr = self.kt, self.kr
        return np.stack([kt - kt.conj(), kr - kr.conj(), kr - kt.conj()])

    def persistent(self):
        """mask[p, N]: pairs that neither decay nor oscillate (z -> infinity)."""
        g = self.exponents()
        return g == 0


# ---------------------------------------------------------------------------
# Quadrature


def breakpoints(U, r):
    """0, the thresholds k_t, k_r inside (0, 1), and 1."""
    kt, kr = thresholds(U, r)
    pts = [0.0] + sorted({float(k) for k in (kt, kr) if 0.0 < k < 1.0}) + [1.0]
    return np.array(pts)


def kappa_rule(U, r, n):
    """Nodes and weights for 2 Int_0^1 kappa dkappa f(kappa) (the phi-averaged
    Fermi average), n Gauss-Legendre points per sub-interval in theta."""
    x, w = np.polynomial.legendre.leggauss(int(n))
    th = 0.5 * np.pi * (x + 1.0)
    wt = 0.5 * np.pi * w
    nodes, weights = [], []
    bp = breakpoints(U, r)
    for a, b in zip(bp[:-1], bp[1:]):
        kap = a + 0.5 * (b - a) * (1.0 - np.cos(th))
        jac = 0.5 * (b - a) * np.sin(th)
        nodes.append(kap)
        weights.append(2.0 * kap * jac * wt)
    return np.concatenate(nodes), np.concatenate(weights)


def phi_rule(n_phi=N_PHI):
    phi = 2.0 * np.pi * (np.arange(n_phi) + 0.5) / n_phi
    return phi, np.full(n_phi, 1.0 / n_phi)


def incident_matrix(incident=("x", "y", "z")):
    return np.stack([INCIDENT_STATES[s] for s in incident], axis=1)


ALL_OPS = np.concatenate([DIPOLES, QUADRUPOLES])        # 8 operators: 3 dipoles, 5 quadrupoles


def node_coefficients(kappa, U, r, alpha, chi, n_phi=N_PHI):
    """phi-averaged pair coefficients for a set of kappa nodes (no kappa weights).

    Returns dict with dens/cur/tor [3 pairs, Nk, ninc, 8 ops], g [3, Nk],
    persist [3, Nk], JL0 [Nk, ninc, 8] (left currents at 0-),
    JR0 [Nk, ninc, 8] (right currents at 0+), flux_err [Nk] (max conservation error).
    """
    kappa = np.asarray(kappa, dtype=float)
    nk = kappa.size
    phi, wphi = phi_rule(n_phi)
    K = np.repeat(kappa, n_phi)
    P = np.tile(phi, nk)
    sol = Solution(K, P, U, r, alpha, chi)
    dens, cur, tor = sol.pair_coefficients(ALL_OPS)
    ninc = chi.shape[1]

    def avg(a):
        return (a.reshape(a.shape[0], nk, n_phi, *a.shape[2:]) * wphi[None, None, :, None, None]).sum(axis=2)

    JL = np.stack([sol.left_current(O) for O in ALL_OPS], axis=-1)
    JL = (JL.reshape(nk, n_phi, ninc, 8) * wphi[None, :, None, None]).sum(axis=1)
    JR = cur.sum(axis=0).real
    JR = (JR.reshape(nk, n_phi, ninc, 8) * wphi[None, :, None, None]).sum(axis=1)
    # probability flux: left 2q(1 - |rho|^2) vs right current at z = 0
    jl = 2.0 * sol.q.real[:, None] * (np.sum(np.abs(chi) ** 2, axis=0)[None] - np.sum(np.abs(sol.rho) ** 2, axis=1))
    jr = sol.current(EYE, 0.0)
    ferr = np.abs(jl - jr).max(axis=1).reshape(nk, n_phi).max(axis=1)
    g = sol.exponents().reshape(3, nk, n_phi)[:, :, 0]
    return {"dens": avg(dens), "cur": avg(cur), "tor": avg(tor), "g": g,
            "persist": g == 0, "JL0": JL, "JR0": JR, "flux_err": ferr}


def fermi_limits(kappa, weights, U, r, alpha, chi, n_phi=N_PHI):
    """Fermi-averaged interface values and z -> infinity limits over the given nodes.

    Returns dict (arrays summed over the nodes with ``weights``):
    dens0, densinf [ninc, 8]; cur0, curinf [ninc, 8] (right side, z = 0+ and infinity);
    JL0 [ninc, 8] (left side, z = 0-); flux_err (max over nodes).
    """
    c = node_coefficients(kappa, U, r, alpha, chi, n_phi)
    w = np.asarray(weights)[None, :, None, None]
    pers = c["persist"][:, :, None, None]
    out = {
        "dens0": (c["dens"] * w).sum(axis=(0, 1)).real,
        "densinf": (np.where(pers, c["dens"], 0) * w).sum(axis=(0, 1)).real,
        "cur0": (c["cur"] * w).sum(axis=(0, 1)).real,
        "curinf": (np.where(pers, c["cur"], 0) * w).sum(axis=(0, 1)).real,
        "JL0": (c["JL0"] * w[0]).sum(axis=0),
        "flux_err": np.array(float(c["flux_err"].max()) if c["flux_err"].size else 0.0),
    }
    return out


def fermi_profiles(kappa, weights, U, r, alpha, chi, z, n_phi=N_PHI):
    """Fermi-averaged profiles over the given nodes: dens [ninc, 8, nz],
    cur [ninc, 8, nz], tor [ninc, 8, nz] plus the limits of :func:`fermi_limits`."""
    c = node_coefficients(kappa, U, r, alpha, chi, n_phi)
    z = np.asarray(z, dtype=float)
    w = np.asarray(weights)
    nk = c["g"].shape[1]
    E = np.exp(1j * c["g"].reshape(3 * nk)[:, None] * z[None, :])   # [3 Nk, nz]
    out = {}
    for name in ("dens", "cur", "tor"):
        a = c[name] * w[None, :, None, None]                        # [3, Nk, ninc, 8]
        ninc = a.shape[2]
        prod = a.reshape(3 * nk, ninc * 8).T @ E                    # [ninc 8, nz]
        out[name] = prod.real.reshape(ninc, 8, z.size)
    pers = c["persist"][:, :, None, None]
    wb = w[None, :, None, None]
    out["dens0"] = (c["dens"] * wb).sum(axis=(0, 1)).real
    out["densinf"] = (np.where(pers, c["dens"], 0) * wb).sum(axis=(0, 1)).real
    out["cur0"] = (c["cur"] * wb).sum(axis=(0, 1)).real
    out["curinf"] = (np.where(pers, c["cur"], 0) * wb).sum(axis=(0, 1)).real
    out["JL0"] = (c["JL0"] * w[:, None, None]).sum(axis=0)
    out["flux_err"] = np.array(float(c["flux_err"].max()) if c["flux_err"].size else 0.0)
    return out


# ---------------------------------------------------------------------------
# Derived quantities


def memory_loss(ratio, transparency, ratio_tol=1e-12):
    """delta >= 0 solving ratio = cosh(delta) + transparency * delta * sinh(delta) (Eq. 9).

    ratio = J_L(0)/J_R(0).  Returns nan when ratio < 1 (no real solution) or
    the currents have opposite signs.
    """
    ratio = float(ratio)
    p = float(transparency)
    if not np.isfinite(ratio) or ratio <= 1.0 + ratio_tol:
        # within round-off of 1 (delta ~ sqrt(2 (ratio - 1)/(1 + 2p)) would amplify noise)
        return float("nan") if ratio < 1.0 - ratio_tol else 0.0
    f = lambda d: np.cosh(d) + p * d * np.sinh(d) - ratio   # noqa: E731  increasing in d >= 0
    lo, hi = 0.0, 1.0
    while f(hi) < 0:
        hi *= 2.0
        if hi > 1e3:
            return float("nan")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def angular_acceleration(X, k_F, D, mass):
    """omega_dot = X * 2 pi^2 hbar^2 k_F / (m_e D M) (the paper's recipe), rad/s^2.

    X: torque integral Int tau d(k_F z) in units of hbar^2 k_F^2/m; k_F in 1/m,
    D (right-layer thickness) in m, mass M in kg.
    """
    from scipy.constants import hbar, m_e
    return np.asarray(X) * 2.0 * np.pi ** 2 * hbar ** 2 * k_F / (m_e * D * mass)


def oscillation_wavelength(U, r):
    """2 pi/(k_r - k_t) (units of 1/k_F): the kappa = 0 beat of the two bands."""
    kt, kr = thresholds(U, r)
    return 2.0 * np.pi / (kr - kt) if kr > kt else float("inf")
