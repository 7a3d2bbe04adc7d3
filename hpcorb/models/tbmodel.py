"""The tight-binding model object shared by every k-space calculation.

Conventions
-----------
* ``lattice`` (3, 3): rows are the lattice vectors a1, a2, a3 in Angstrom.
  The first ``periodic`` of them are periodic (3 bulk, 2 film: then a3 is
  the film normal, its length is irrelevant).
* ``R`` (nR, 3) integer lattice translations (third entry 0 for films).
* ``H`` (nR, N, N) complex, eV: ``H[r, a, b] = <a, 0 | H | b, R_r>``;
  ``S`` the overlaps likewise (None for an orthogonal basis).
* ``positions`` (N, 3): Cartesian centre of each basis function, Angstrom.
* Bloch sums with atomic positions in the phase (PHYSICS.md section 5):
  ``H_ab(k) = sum_R exp(i k.(R + tau_b - tau_a)) H_ab(R)``, k Cartesian in
  1/Angstrom, so that dH/dk is the velocity ``i[H, r]`` (times hbar) of the
  same atom-centred position operator that gives layer positions.
* Basis metadata, one entry per basis state: ``atoms`` (atom index),
  ``orbitals`` (real-harmonic label: s, px, py, pz, dxy, dyz, dzx, dx2-y2,
  dz2, or 'x' for unknown), ``spins`` (0 up, 1 down, -1 spinless).
  hpcorb's own models order states as ((atom * n_spin) + spin) * n_orb + orb.

k-points are passed as fractional coordinates (units of the reciprocal
lattice vectors), shape (nk, periodic); everything is batched over k.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DeckError


@dataclass
class TBModel:
    lattice: np.ndarray
    R: np.ndarray
    H: np.ndarray
    positions: np.ndarray
    periodic: int = 3
    S: np.ndarray | None = None
    atoms: np.ndarray | None = None
    orbitals: list | None = None
    spins: np.ndarray | None = None
    name: str = "model"
    electrons: float | None = None        # electrons per cell, when known
    meta: dict = field(default_factory=dict)   # provenance and conventions (stored as attributes)

    def __post_init__(self):
        self.lattice = np.asarray(self.lattice, dtype=float)
        self.R = np.asarray(self.R, dtype=int).reshape(-1, 3)
        self.H = np.asarray(self.H, dtype=complex)
        self.positions = np.asarray(self.positions, dtype=float).reshape(-1, 3)
        n = self.H.shape[1]
        if self.H.shape != (len(self.R), n, n):
            raise ValueError(f"H has shape {self.H.shape}, expected ({len(self.R)}, N, N)")
        if self.positions.shape != (n, 3):
            raise ValueError(f"positions has shape {self.positions.shape}, expected ({n}, 3)")
        if self.S is not None:
            self.S = np.asarray(self.S, dtype=complex)
        if self.atoms is None:
            self.atoms = np.arange(n)
        if self.orbitals is None:
            self.orbitals = ["x"] * n
        if self.spins is None:
            self.spins = -np.ones(n, dtype=int)
        self.atoms = np.asarray(self.atoms, dtype=int)
        self.spins = np.asarray(self.spins, dtype=int)
        self._flat = None
        self._cache = {}

    def provenance(self) -> dict:
        """``meta`` entries that are numbers or strings, as ``model_KEY`` result attributes
        (source files, spinor order and its fit residuals, Wigner-Seitz note...)."""
        out = {}
        for k, v in self.meta.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                out[f"model_{k}"] = v
        return out

    # ---- geometry ---------------------------------------------------------
    def require_geometry(self, what: str = "this calculation"):
        """Refuse (DeckError naming the deck key) when the lattice or the positions
        were not given: velocities, areas and volumes need them.  Builders record a
        missing one as ``meta["missing_geometry"] = "model.KEY: why"``."""
        miss = self.meta.get("missing_geometry")
        if miss:
            key, why = miss.split(": ", 1)
            raise DeckError(key, None, f"{what} needs it: {why}")

    @property
    def norb(self) -> int:
        return self.H.shape[1]

    @property
    def n_spin(self) -> int:
        return 2 if np.any(self.spins >= 0) else 1

    @property
    def orthogonal(self) -> bool:
        return self.S is None

    @property
    def reciprocal(self) -> np.ndarray:
        """Rows b_i with a_i . b_j = 2 pi delta_ij (1/Angstrom)."""
        return 2 * np.pi * np.linalg.inv(self.lattice).T

    @property
    def cell_volume(self) -> float:
        """Volume (bulk, Angstrom^3) or area (film, Angstrom^2) of the cell."""
        self.require_geometry("a cell volume or area")
        if self.periodic == 3:
            return abs(np.linalg.det(self.lattice))
        return float(np.linalg.norm(np.cross(self.lattice[0], self.lattice[1])))

    def kcart(self, kfrac) -> np.ndarray:
        kfrac = np.atleast_2d(np.asarray(kfrac, dtype=float))
        return kfrac @ self.reciprocal[: kfrac.shape[1]]

    # ---- Bloch sums -------------------------------------------------------
    def _prepare(self):
        if self._flat is None:
            n = self.norb
            self._flat = self.H.reshape(len(self.R), n * n)
            self._flatS = None if self.S is None else self.S.reshape(len(self.R), n * n)
            self._dtau = self.positions[None, :, :] - self.positions[:, None, :]  # tau_b - tau_a
        return self._flat

    # H(k) for a batch: sum_R e^{2 pi i k.R} H(R) is factorized over the last periodic axis
    # ("inner"): first, for each distinct outer part (k1[, k2]) of the batch, one product of
    # the outer phases with H(R) per value of R_inner (stage A, cost n_outer * nR * N^2);
    # then per k a sum over the few R_inner values (stage B, cost nk * n_inner * N^2).  A chunk
    # of a uniform mesh has few distinct outer parts, so the cost per k no longer grows with
    # nR.  The sum is the same (reordered); the direct product is used when it is not cheaper.
    SEPARABLE_MAX_BYTES = 64 * 2 ** 20

    def _inner_groups(self, d):
        key = ("groups", d)
        if key not in self._cache:
            inner = self.R[:, d - 1]
            order = np.argsort(inner, kind="stable")
            u, starts = np.unique(inner[order], return_index=True)
            self._cache[key] = (order, u, np.r_[starts, len(order)])
        return self._cache[key]

    def _sums(self, flat, kfrac, derivative):
        """S0 = sum_R e^{2 pi i k.R} H(R) and, with derivative, S_d = sum_R R_d e^{..} H(R)
        for each periodic axis d: arrays (nk, N*N) (and (dim, nk, N*N))."""
        nk, d = kfrac.shape
        R = self.R[:, :d]
        nn = flat.shape[1]
        outer, inv = np.unique(kfrac[:, :d - 1], axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        order, u, bounds = self._inner_groups(d)
        nw = d if derivative else 1
        sep_bytes = len(outer) * len(u) * nn * 16 * nw
        if d < 2 or 3 * len(outer) > nk or sep_bytes > self.SEPARABLE_MAX_BYTES:
            phase = np.exp(2j * np.pi * kfrac @ R.T)                      # (nk, nR)
            S0 = phase @ flat
            if not derivative:
                return S0, None
            return S0, np.stack([(phase * R[:, c]) @ flat for c in range(d)])
        Ro = R[order]
        fl = flat[order]
        P = np.exp(2j * np.pi * outer @ Ro[:, :d - 1].T)                   # (n_outer, nR)
        weights = [None] + ([c for c in range(d - 1)] if derivative else [])
        G = np.empty((len(weights), len(outer), len(u), nn), dtype=complex)
        for w, c in enumerate(weights):
            Pw = P if c is None else P * Ro[:, c]
            for j in range(len(u)):
                sl = slice(bounds[j], bounds[j + 1])
                G[w, :, j] = Pw[:, sl] @ fl[sl]
        S0 = np.empty((nk, nn), dtype=complex)
        Sd = np.empty((d, nk, nn), dtype=complex) if derivative else None
        for p in range(len(outer)):
            idx = np.flatnonzero(inv == p)
            ph = np.exp(2j * np.pi * kfrac[idx, d - 1][:, None] * u[None, :])  # (nk_p, n_inner)
            S0[idx] = ph @ G[0, p]
            if derivative:
                for c in range(d - 1):
                    Sd[c, idx] = ph @ G[1 + c, p]
                Sd[d - 1, idx] = (ph * u[None, :]) @ G[0, p]
        return S0, Sd

    # Films and large cells couple only nearby atoms: most of the N^2 matrix elements
    # vanish for every R.  The Bloch sum and the phase factors are then evaluated on the
    # columns that are non-zero for some R (one index list per matrix, cached) and
    # scattered into the dense result: the cost follows the non-zeros, not N^2.
    COMPACT_BELOW = 0.5

    def _columns(self, flat):
        """Indices of the columns of ``flat`` (R, N*N) that are non-zero for some R,
        or None when more than COMPACT_BELOW of them are (dense is then cheaper)."""
        key = ("nz", id(flat))
        if key not in self._cache:
            nz = np.flatnonzero(np.any(flat != 0, axis=0))
            self._cache[key] = (nz if len(nz) < self.COMPACT_BELOW * flat.shape[1] else None, flat)
        return self._cache[key][0]

    def _bloch(self, flat, kfrac, derivative=False):
        nz = self._columns(flat)
        if nz is not None:
            return self._bloch_compact(flat, nz, kfrac, derivative)
        n = self.norb
        kfrac = np.atleast_2d(np.asarray(kfrac, dtype=float))
        kc = self.kcart(kfrac)
        S0, Sd = self._sums(flat, kfrac, derivative)
        tau_phase = np.exp(-1j * kc @ self.positions.T)       # (nk, N): e^{-i k.tau_a}
        Hk = S0.reshape(-1, n, n)
        Hk = tau_phase[:, :, None] * Hk * tau_phase.conj()[:, None, :]
        if not derivative:
            return Hk
        d = kfrac.shape[1]
        dH = np.empty((kc.shape[0], 3, n, n), dtype=complex)
        for c in range(3):
            # dH/dk_c = i sum_R Rcart_c e^{ik.R} H(R), Rcart_c = sum_d R_d a_d,c (then the tau phases)
            dR = 1j * np.tensordot(self.lattice[:d, c], Sd, axes=(0, 0)).reshape(-1, n, n)
            dR = tau_phase[:, :, None] * dR * tau_phase.conj()[:, None, :]
            dH[:, c] = dR + 1j * self._dtau[None, :, :, c] * Hk
        return Hk, dH

    def hk(self, kfrac) -> np.ndarray:
        """H(k), shape (nk, N, N), eV."""
        flat = self._prepare()
        return self._bloch(flat, kfrac)

    def sk(self, kfrac) -> np.ndarray | None:
        """Overlap S(k) (nk, N, N), or None for an orthogonal basis."""
        self._prepare()
        if self._flatS is None:
            return None
        return self._bloch(self._flatS, kfrac)

    def hk_dhk(self, kfrac):
        """H(k) (nk, N, N) and dH/dk (nk, 3, N, N) in eV and eV Angstrom (Cartesian)."""
        self.require_geometry("a velocity dH/dk")
        flat = self._prepare()
        return self._bloch(flat, kfrac, derivative=True)

    def dsk(self, kfrac):
        """S(k) and dS/dk, or (None, None) for an orthogonal basis."""
        self._prepare()
        if self._flatS is None:
            return None, None
        return self._bloch(self._flatS, kfrac, derivative=True)

    def eigh(self, kfrac, vectors=True):
        """Eigenvalues (nk, N) and eigenvectors (nk, N, N) (columns; S-orthonormal if S)."""
        from scipy.linalg import eigh as geigh
        Hk = self.hk(kfrac)
        Sk = self.sk(kfrac)
        if Sk is None:
            if vectors:
                return np.linalg.eigh(Hk)
            return np.linalg.eigvalsh(Hk), None
        ws, vs = [], []
        for h, s in zip(Hk, Sk):
            if vectors:
                w, v = geigh(h, s)
                vs.append(v)
            else:
                w = geigh(h, s, eigvals_only=True)
            ws.append(w)
        return np.array(ws), (np.array(vs) if vectors else None)

    def with_hoppings(self, H, S=None, **changes):
        """A copy with other hopping (and overlap) matrices on the same R."""
        kw = dict(lattice=self.lattice, R=self.R, H=H, positions=self.positions,
                  periodic=self.periodic, S=S if S is not None else self.S, atoms=self.atoms,
                  orbitals=self.orbitals, spins=self.spins, name=self.name,
                  electrons=self.electrons, meta=dict(self.meta))
        kw.update(changes)
        return TBModel(**kw)

    def check_hermitian(self, tol=1e-10) -> float:
        """Largest |H(R) - H(-R)^dagger|; models must satisfy this."""
        index = {tuple(r): i for i, r in enumerate(self.R)}
        worst = 0.0
        for i, r in enumerate(self.R):
            j = index.get(tuple(-r))
            if j is None:
                return float("inf")
            worst = max(worst, float(np.abs(self.H[i] - self.H[j].conj().T).max()))
        return worst

    def _bloch_compact(self, flat, nz, kfrac, derivative):
        """:meth:`_bloch` on the non-zero columns ``nz`` only (same sums, same phases)."""
        n = self.norb
        kfrac = np.atleast_2d(np.asarray(kfrac, dtype=float))
        kc = self.kcart(kfrac)
        key = ("nzflat", id(flat))
        if key not in self._cache:
            a, b = np.divmod(nz, n)
            self._cache[key] = (np.ascontiguousarray(flat[:, nz]), a, b,
                                [np.ascontiguousarray(self._dtau[a, b, c]) for c in range(3)])
        fc, a, b, dtau = self._cache[key]
        S0, Sd = self._sums(fc, kfrac, derivative)
        tau_phase = np.exp(-1j * kc @ self.positions.T)       # (nk, N): e^{-i k.tau_a}
        tp = tau_phase[:, a] * tau_phase[:, b].conj()          # (nk, nnz): e^{-i k.(tau_a - tau_b)}
        Hc = S0 * tp
        nk = kfrac.shape[0]
        Hk = np.zeros((nk, n * n), dtype=complex)
        Hk[:, nz] = Hc
        Hk = Hk.reshape(nk, n, n)
        if not derivative:
            return Hk
        d = kfrac.shape[1]
        dH = np.zeros((nk, 3, n * n), dtype=complex)
        for c in range(3):
            dR = 1j * np.tensordot(self.lattice[:d, c], Sd, axes=(0, 0))
            dH[:, c, nz] = dR * tp + 1j * dtau[c][None, :] * Hc
        return Hk, dH.reshape(nk, 3, n, n)
