"""Real-space lattice observables of paper 004 (pure numpy; no MPI, no I/O).

Density matrix convention: rho = sum_n f(E_n) |n><n|, so that
<c_i^dag c_j> = rho_ji and <c^dag X c> = Tr(X rho).  ``rho_mn`` is the
(norb x norb) block of rows of site m and columns of site n:
(rho_mn)_ab = <c_nb^dag c_ma>.

Everything is computed from a few families of density-matrix blocks, which
are accumulated eigenvector block by eigenvector block (so a distributed
solver never needs all eigenvectors at once) or taken from a dense rho, or
summed over k_y (translation-invariant lattices):

  on[x, y] = rho_(x,y),(x,y)       bx[x, y] = rho_(x+1,y),(x,y)
  by[x, y] = rho_(x,y+1),(x,y)     xx[x, y] = rho_(x+1,y),(x-1,y)
  yy[x, y] = rho_(x,y+1),(x,y-1)

Observables per site, polarization alpha = x, y, z (last axis), with
h_b = s T the matrix element of bond n -> m (c_n^dag h_b c_m):

  density           <J_alpha>_n = Tr(J_alpha rho_nn)
  bond current      Jb(n->m)  = -Im Tr({h_b, J_alpha} rho_mn)
  bond torque       tau_b(n,m) = -Im Tr([h_b, J_alpha] rho_mn)   (symmetric in n, m)
  exchange torque   tau_ex(n) = i Tr([eps_n, J_alpha] rho_nn)
  Eq. 7 current     j = -(1/2) Im[Tr(J T_{n,n+x} rho_{n+x,n}) - Tr(J T_{n,n-x} rho_{n-x,n})]
                    (each bond's own unscaled T; hard wall: missing neighbour = 0)
  Eq. 10 torque     tau_k = Re{ i Tr(C_k rho_nn) - (i/2) <d_k c^dag C_k d_k c> },
                    C_k = [T^loc_k, J_alpha] with T^loc the material matrix of the
                    column, d_k c_n = (c_{n+k} - c_{n-k}) / 2.

Exact identities (tests): for any state
  dJ_n/dt + sum_m Jb(n->m) = tau_ex(n) + sum_m tau_b(n,m),  dJ_n/dt = i Tr([H, J^(n)] rho);
in equilibrium (y-averaged columns)
  B(x) - B(x-1) = tau_ex(x) + S(x) + S(x-1) + 2 S_y(x);
and  j_7(x) = [B(x) + B(x-1)] / (4 s) - [S(x) - S(x-1)] / (4 s).
"""
from __future__ import annotations

import numpy as np

BLOCK_NAMES = ("on", "bx", "by", "xx", "yy")


# ---------------------------------------------------------------------------
# thermodynamics

def fermi(E, T):
    E = np.asarray(E, dtype=float)
    if T > 0:
        from scipy.special import expit
        return expit(-E / T)
    return (E < 0).astype(float) + 0.5 * (E == 0)


def grand_potential_terms(E, T):
    """-T ln(1 + exp(-E/T)) per level (E measured from mu); T = 0: min(E, 0)."""
    E = np.asarray(E, dtype=float)
    if T > 0:
        return -T * np.logaddexp(0.0, -E / T)
    return np.minimum(E, 0.0)


# ---------------------------------------------------------------------------
# block accumulation

class Blocks:
    """Density-matrix blocks for the owned columns c0..c1-1 of a lattice.

    ``on`` covers columns c0-1..c1 (ghosts zero outside the lattice), ``bx``
    the x-bonds c0-1 -> c0 .. c1-1 -> c1, the others the owned columns.
    ``nrow`` is ny for real-space blocks and 1 for k_y sums (translation
    invariant: the same block for every row).
    """

    def __init__(self, norb, c0, c1, nrow, periodic_y=True):
        self.c0, self.c1, self.nrow, self.norb = c0, c1, nrow, norb
        self.periodic_y = periodic_y
        n = c1 - c0
        z = lambda m: np.zeros((m, nrow, norb, norb), dtype=complex)  # noqa: E731
        self.on, self.bx, self.by, self.xx, self.yy = z(n + 2), z(n + 1), z(n), z(n), z(n)
        self.F = 0.0
        self.n_levels = 0

    def arrays(self):
        return {k: getattr(self, k) for k in BLOCK_NAMES}

    def add_vectors(self, V, E, T, nx, F=True):
        """Add eigenvectors V (ncol, ny, norb, ne) given on columns lo..hi-1,
        lo = max(c0-1, 0), hi = min(c1+1, nx); energies E (ne,) from mu."""
        c0, c1 = self.c0, self.c1
        lo, hi = max(c0 - 1, 0), min(c1 + 1, nx)
        f = fermi(E, T)
        ne = V.shape[-1]
        Vp = np.zeros((c1 - c0 + 2,) + V.shape[1:], dtype=complex)
        Vp[lo - (c0 - 1): hi - (c0 - 1)] = V
        Vf = Vp * f                         # (ncol+2, ny, norb, ne)
        Vh = Vp.conj().swapaxes(-1, -2)     # (ncol+2, ny, ne, norb)
        self.on += Vf @ Vh
        self.bx += Vf[1:] @ Vh[:-1]
        Vo, Vho = Vf[1:-1], Vh[1:-1]
        if self.periodic_y:
            up = np.roll(Vo, -1, axis=1)
            dn_h = np.roll(Vho, 1, axis=1)
            self.by += up @ Vho
            self.yy += up @ dn_h
        else:
            self.by[:, :-1] += Vo[:, 1:] @ Vho[:, :-1]
            self.yy[:, 1:-1] += Vo[:, 2:] @ Vho[:, :-2]
        self.xx += Vf[2:] @ Vh[:-2]
        if F:
            self.F += float(np.sum(grand_potential_terms(E, T)))
        self.n_levels += ne

    @classmethod
    def from_rho(cls, rho, nx, ny, norb, c0=0, c1=None, periodic_y=True):
        """Blocks of an arbitrary (dense) single-particle density matrix rho."""
        c1 = nx if c1 is None else c1
        b = cls(norb, c0, c1, ny, periodic_y)
        R = rho.reshape(nx, ny, norb, nx, ny, norb)
        ys = np.arange(ny)

        def blk(x1, y1, x2, y2):
            # rho_{(x1,y1),(x2,y2)} over arrays of rows; zero outside
            out = np.zeros((len(ys), norb, norb), dtype=complex)
            if not (0 <= x1 < nx and 0 <= x2 < nx):
                return out
            ok = np.ones(len(ys), bool)
            if periodic_y:
                y1, y2 = y1 % ny, y2 % ny
            else:
                ok = (y1 >= 0) & (y1 < ny) & (y2 >= 0) & (y2 < ny)
                y1, y2 = np.clip(y1, 0, ny - 1), np.clip(y2, 0, ny - 1)
            out[ok] = R[x1, y1, :, x2, y2, :][ok]
            return out

        for i, x in enumerate(range(c0 - 1, c1 + 1)):
            b.on[i] = blk(x, ys, x, ys)
        for i, x in enumerate(range(c0 - 1, c1)):
            b.bx[i] = blk(x + 1, ys, x, ys)
        for i, x in enumerate(range(c0, c1)):
            b.by[i] = blk(x, ys + 1, x, ys)
            b.xx[i] = blk(x + 1, ys, x - 1, ys)
            b.yy[i] = blk(x, ys + 1, x, ys - 1)
        return b


def ky_blocks(lat, E, U, k, weight, T, symmetric=True):
    """Blocks (nrow = 1, all columns) summed over k_y Bloch eigenpairs.

    E (nk, M), U (nk, M, M) eigenpairs of H(k) (M = nx*norb), weights w_k
    such that sum_k w_k = ny over the whole zone; symmetric: H(-k) = H(k)
    and the half zone is used (phases cos k, cos 2k), else exp(ik), exp(2ik).
    Returns a Blocks object (not yet divided by ny) plus F (sum w_k phi(E)).
    """
    nx, no = lat.nx, lat.norb
    b = Blocks(no, 0, nx, 1, True)
    f = fermi(E, T)
    rho = (U * f[:, None, :]) @ U.conj().swapaxes(-1, -2)          # (nk, M, M)
    rho = rho.reshape(len(k), nx, no, nx, no)
    w = np.asarray(weight, dtype=float)
    ph1 = np.cos(k) if symmetric else np.exp(1j * k)
    ph2 = np.cos(2 * k) if symmetric else np.exp(2j * k)
    xs = np.arange(nx)
    diag = rho[:, xs, :, xs, :]                                       # (nx, nk, no, no)
    diag = np.moveaxis(diag, 1, 0)                                    # (nk, nx, no, no)
    b.on[1:-1, 0] = np.einsum("k,kxab->xab", w, diag)
    b.by[:, 0] = np.einsum("k,kxab->xab", w * ph1, diag)
    b.yy[:, 0] = np.einsum("k,kxab->xab", w * ph2, diag)
    if nx > 1:
        off = np.moveaxis(rho[:, xs[1:], :, xs[:-1], :], 1, 0)        # rho_{x+1,x}
        b.bx[1:-1, 0] = np.einsum("k,kxab->xab", w, off)
    if nx > 2:
        off2 = np.moveaxis(rho[:, xs[2:], :, xs[:-2], :], 1, 0)       # rho_{x+1,x-1}
        b.xx[1:-1, 0] = np.einsum("k,kxab->xab", w, off2)
    b.F = float(np.sum(w[:, None] * grand_potential_terms(E, T)))
    b.n_levels = E.size
    return b


def scale_blocks(b, factor):
    for name in BLOCK_NAMES:
        setattr(b, name, getattr(b, name) * factor)
    return b


# ---------------------------------------------------------------------------
# observables

def _tr(A, B):
    """Tr(A B) over the last two axes with broadcasting."""
    return np.einsum("...ab,...ba->...", A, B)


def _pol(fn, J):
    """Stack fn(J_alpha) over alpha as the last axis."""
    return np.stack([fn(J[a]) for a in range(3)], axis=-1)


def site_observables(lat, b: Blocks, onsite=None) -> dict:
    """Per-site observables (ncol, nrow, 3) for the owned columns of ``b``.

    onsite: eps_n for the owned columns (ncol, nrow, norb, norb); default
    the lattice's clean on-site blocks (k_y blocks) or with disorder.
    """
    J = lat.J
    c0, c1 = b.c0, b.c1
    nx, s = lat.nx, lat.scale
    no = lat.norb
    if onsite is None:
        if b.nrow == 1:
            onsite = lat.onsite[c0:c1, None]
        else:
            onsite = lat.site_onsite(c0, c1)
    zero = np.zeros((no, no), dtype=complex)
    # bond matrices h = s T for bonds c0-1 .. c1-1 (zero outside the lattice)
    hx = np.array([s * lat.tx[x] if 0 <= x < nx - 1 else zero for x in range(c0 - 1, c1)])
    Tx = hx / s
    hy = s * lat.ty[c0:c1]
    on_own = b.on[1:-1]
    out = {}
    out["density"] = _pol(lambda A: _tr(A, on_own).real, J)
    out["exchange_torque"] = _pol(
        lambda A: (1j * _tr(onsite @ A - A @ onsite, on_own)).real, J)
    hxb = hx[:, None]
    Bx = _pol(lambda A: -_tr(hxb @ A + A @ hxb, b.bx).imag, J)       # (ncol+1, nrow, 3)
    Sx = _pol(lambda A: -_tr(hxb @ A - A @ hxb, b.bx).imag, J)
    out["bond_current_x"] = Bx[1:]
    out["bond_torque_x"] = Sx[1:]
    out["bond_current_x_in"] = Bx[:-1]
    out["bond_torque_x_in"] = Sx[:-1]
    hyb = hy[:, None]
    out["bond_current_y"] = _pol(lambda A: -_tr(hyb @ A + A @ hyb, b.by).imag, J)
    out["bond_torque_y"] = _pol(lambda A: -_tr(hyb @ A - A @ hyb, b.by).imag, J)
    # Eq. 7 (x direction): T_{n,n+1} = T_x(x), T_{n,n-1} = T_x(x-1)^dagger
    Tr_ = Tx[1:, None]
    Tl = Tx[:-1, None].conj().swapaxes(-1, -2)
    rho_r = b.bx[1:]                                   # rho_{n+1,n}
    rho_l = b.bx[:-1].conj().swapaxes(-1, -2)          # rho_{n-1,n}
    out["current_eq7"] = _pol(
        lambda A: -0.5 * (_tr(A @ Tr_, rho_r) - _tr(A @ Tl, rho_l)).imag, J)
    # Eq. 10
    on_r, on_l = b.on[2:], b.on[:-2]
    if b.nrow == 1 or b.periodic_y:
        on_u, on_d = np.roll(on_own, -1, axis=1), np.roll(on_own, 1, axis=1)
    else:
        on_u = np.zeros_like(on_own); on_u[:, :-1] = on_own[:, 1:]
        on_d = np.zeros_like(on_own); on_d[:, 1:] = on_own[:, :-1]

    def eq10(Tloc, rpp, rmm, rpm):
        T = Tloc[:, None]
        rmp = rpm.conj().swapaxes(-1, -2)

        def one(A):
            C = T @ A - A @ T
            grad = 0.25 * (_tr(C, rpp) - _tr(C, rmp) - _tr(C, rpm) + _tr(C, rmm))
            return (1j * _tr(C, on_own) - 0.5j * grad).real
        return _pol(one, J)

    out["torque_eq10_x"] = eq10(lat.tloc_x[c0:c1], on_r, on_l, b.xx)
    out["torque_eq10_y"] = eq10(lat.tloc_y[c0:c1], on_u, on_d, b.yy)
    out["torque_eq10"] = out["torque_eq10_x"] + out["torque_eq10_y"]
    return out


COLUMN_NAMES = ("density", "bond_current_x", "bond_torque_x", "bond_current_y",
                "bond_torque_y", "exchange_torque", "current_eq7", "torque_eq10",
                "torque_eq10_x", "torque_eq10_y")


def column_average(site: dict) -> dict:
    """y-average of per-site observables: (ncol, 3)."""
    return {k: site[k].mean(axis=1) for k in COLUMN_NAMES}


def bond_form_residual(col: dict) -> np.ndarray:
    """B(x) - B(x-1) - tau_ex - S(x) - S(x-1) - 2 S_y(x) for full-lattice columns."""
    B, S = col["bond_current_x"], col["bond_torque_x"]
    Bl = np.vstack([np.zeros((1, 3)), B[:-1]])
    Sl = np.vstack([np.zeros((1, 3)), S[:-1]])
    return B - Bl - col["exchange_torque"] - S - Sl - 2 * col["bond_torque_y"]


def continuity_residual(col: dict) -> np.ndarray:
    """Literal Eq. 9 in equilibrium with the centred lattice divergence of Eq. 7:
    [j7(x+1) - j7(x-1)]/2 - tau_eq10(x) (y-divergence averages out for periodic y).
    Not an exact lattice identity: nonzero when gamma != t (PHYSICS.md 6)."""
    j = col["current_eq7"]
    jp = np.vstack([j[1:], np.zeros((1, 3))])
    jm = np.vstack([np.zeros((1, 3)), j[:-1]])
    return 0.5 * (jp - jm) - col["torque_eq10"]


def eq7_from_bonds(col: dict, s: float) -> np.ndarray:
    B, S = col["bond_current_x"], col["bond_torque_x"]
    Bl = np.vstack([np.zeros((1, 3)), B[:-1]])
    Sl = np.vstack([np.zeros((1, 3)), S[:-1]])
    return (B + Bl) / (4 * s) - (S - Sl) / (4 * s)
