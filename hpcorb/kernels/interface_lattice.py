"""Finite-difference lattice version of the interface problem (independent check).

The same hermitian z-Hamiltonian as :mod:`hpcorb.kernels.scattering`
(PHYSICS.md section 4), discretized on sites z_n = n a with the interface at
site 0, for one transverse momentum (kappa, phi):

    (H psi)_n = -(1/a^2)[M_{n+1/2}(psi_{n+1} - psi_n) - M_{n-1/2}(psi_n - psi_{n-1})]
                - (i/4a)[r_n C (psi_{n+1} - psi_{n-1}) + r_{n+1} C psi_{n+1} - r_{n-1} C psi_{n-1}]
                + (kappa^2 + theta_n (U + r A^2) + delta_{n0} alpha Rop / a) psi_n

with bond values M_{n+1/2} = 1 + r theta(z_{n+1/2}) L_z^2, site values
r_n = r theta_n, theta_n = 0, 1/2, 1 for n < 0, n = 0, n > 0.  This is the
symmetric discretization of -d/dz M d/dz and of (1/2)(r C k_z + k_z r C),
so the matrix is hermitian and conserves the lattice probability current
exactly; nothing in it uses the continuum boundary conditions.

The semi-infinite leads are solved exactly: the left lead (free) has
psi_n = chi e^{i q n a} + rho e^{-i q n a} with the lattice dispersion
kappa^2 + (2/a^2)(1 - cos q a) = E; the right lead modes u lambda^n come from
the quadratic eigenproblem lambda^2 T + lambda (H_0 - E) + T^+ = 0 (decaying
|lambda| < 1, or |lambda| = 1 carrying current to the right).  The rows
n = -2 ... 2 around the interface are solved for rho, the right-lead
amplitudes and psi_{-1}, psi_0, psi_1.
"""
from __future__ import annotations

import numpy as np

from .scattering import EYE, LZ, transverse_matrices


class LatticeSolution:
    """Scattering solution on the lattice for one (kappa, phi) and spacing a."""

    def __init__(self, kappa, phi, U, r, alpha, chi, a, E=1.0):
        self.a, self.r = float(a), float(r)
        chi = np.asarray(chi, dtype=complex)
        if chi.ndim == 1:
            chi = chi[:, None]
        self.chi = chi
        A, C, Rop = (m[0] for m in transverse_matrices(np.array([kappa]), np.array([phi])))
        self.C = C
        kap2 = float(kappa) ** 2
        a = self.a
        MR = EYE + r * LZ @ LZ
        ML = EYE
        self.MR = MR
        # left lead
        cq = 1.0 - a * a * (E - kap2) / 2.0
        self.q = np.arccos(np.clip(cq, -1.0, 1.0)) / a
        # right lead bulk blocks
        self.T = -MR / a ** 2 - 1j * r * C / (2 * a)        # H_{n,n+1}
        H0 = 2 * MR / a ** 2 + (kap2 + U) * EYE + r * A @ A
        self.H0 = H0
        lam, U3 = self._right_modes(self.T, H0 - E * EYE)
        self.lam, self.u = lam, U3

        def theta(n):
            return 0.0 if n < 0 else (0.5 if n == 0 else 1.0)

        def Mbond(n):      # bond n -> n+1, midpoint (n + 1/2) a
            return MR if n >= 0 else ML

        def hop(n):        # H_{n, n+1}
            rn, rn1 = r * theta(n), r * theta(n + 1)
            return -Mbond(n) / a ** 2 - 1j * (rn + rn1) * C / (4 * a)

        def onsite(n):
            h = (Mbond(n) + Mbond(n - 1)) / a ** 2 + (kap2 + theta(n) * U) * EYE + theta(n) * r * A @ A
            if n == 0:
                h = h + alpha * Rop / a
            return h

        # unknowns: rho (3), t (3), psi_{-1}, psi_0, psi_1 (9)
        # psi_n for n <= -2: chi e^{iqna} + rho e^{-iqna};  n >= 2: u diag(lam^n) t
        nin = chi.shape[1]
        G = np.zeros((15, 15), dtype=complex)
        rhs = np.zeros((15, nin), dtype=complex)
        q = self.q

        def add(row, n, coef):
            """Add coef @ psi_n to equation block ``row``."""
            rs = slice(3 * row, 3 * row + 3)
            if n <= -2:
                G[rs, 0:3] += coef * np.exp(-1j * q * n * a)
                rhs[rs] -= coef @ chi * np.exp(1j * q * n * a)
            elif n >= 2:
                G[rs, 3:6] += coef @ (U3 * lam[None, :] ** n)
            else:
                c0 = 6 + 3 * (n + 1)
                G[rs, c0:c0 + 3] += coef

        for row, n in enumerate(range(-2, 3)):
            add(row, n - 1, hop(n - 1).conj().T)
            add(row, n, onsite(n) - E * EYE)
            add(row, n + 1, hop(n))
        x = np.linalg.solve(G, rhs)
        self.rho = x[0:3]
        self.t = x[3:6]
        self.core = x[6:15].reshape(3, 3, nin)       # psi_{-1}, psi_0, psi_1

    @staticmethod
    def _right_modes(T, D):
        """Decaying or right-moving solutions of lam^2 T + lam D + T^+ = 0."""
        Tinv = np.linalg.inv(T)
        comp = np.zeros((6, 6), dtype=complex)
        comp[:3, 3:] = EYE
        comp[3:, :3] = -Tinv @ T.conj().T
        comp[3:, 3:] = -Tinv @ D
        lam, vec = np.linalg.eig(comp)
        u = vec[:3] / np.linalg.norm(vec[:3], axis=0, keepdims=True)
        keep = []
        for j in range(6):
            m = abs(lam[j])
            if m < 1 - 1e-9:
                keep.append(j)
            elif m <= 1 + 1e-9:
                # bond current from n to n+1: -2 Im(u^+ T lam u)
                cur = -2.0 * np.imag(u[:, j].conj() @ T @ u[:, j] * lam[j])
                if cur > 0:
                    keep.append(j)
        if len(keep) != 3:
            raise RuntimeError(f"lattice right lead: found {len(keep)} outgoing modes, expected 3")
        return lam[keep], u[:, keep]

    def psi_site(self, n):
        """psi_n [3, ninc]."""
        a, q = self.a, self.q
        if n <= -2:
            return self.chi * np.exp(1j * q * n * a) + self.rho * np.exp(-1j * q * n * a)
        if n >= 2:
            return (self.u * self.lam[None, :] ** n) @ self.t
        return self.core[n + 1]

    def density(self, O, n):
        p = self.psi_site(n)
        return np.einsum("ai,ab,bi->i", p.conj(), O, p).real

    def bond_current(self, n):
        """Probability current on the bond n -> n+1 (right lead, n >= 2),
        in the continuum normalization (-> Re psi^+ v psi as a -> 0)."""
        p0, p1 = self.psi_site(n), self.psi_site(n + 1)
        return -2.0 * self.a * np.einsum("ai,ab,bi->i", p0.conj(), self.T, p1).imag

    def left_flux(self):
        """Incident minus reflected lattice flux (same normalization)."""
        v = 2.0 * np.sin(self.q * self.a) / self.a
        return v * (np.sum(np.abs(self.chi) ** 2, axis=0) - np.sum(np.abs(self.rho) ** 2, axis=0))
