"""Real-space lattices of paper 004: t2g (L = 1) and altermagnet (spin) FM/NM/FM stacks.

Square lattice, ``nx`` columns (hard walls at x = 0 and x = nx - 1) times
``ny`` rows (periodic, or open for finite flakes).  State index
``((x * ny) + y) * norb + a``: a column is a contiguous block of rows of the
Hamiltonian, so a distributed matrix can give each rank whole columns.

Models (energies in units of t):

* ``t2g``: basis (d_yz, d_xz, d_xy), ``J = L`` with the matrices of the
  paper's Eq. 2 (they satisfy [Lx, Ly] = +i Lz; the literal projection of the
  d-orbital L onto t2g has the opposite sign, PHYSICS.md section 0).
  NM hopping (Eq. 3): T_x = diag(-gamma, -t, -t'), T_y = diag(-t, -gamma, -t').
* ``altermagnet``: basis (up, down), ``J = sigma`` (Pauli matrices, as in the
  paper, not sigma/2). NM hopping (Eq. 4): T_x = -t 1 + w sigma_z,
  T_y = -t 1 - w sigma_z.
* FM columns: on-site ``-m . J``, hopping ``-t 1`` (x and y).
* every site: ``-mu 1``; Anderson disorder ``V_n 1`` with V_n uniform in
  [-W/2, W/2] (numpy default_rng(seed), one value per site, all orbitals).

Bond normalization (PHYSICS.md section 6): Eq. 5 read literally, each bond
counted once, the matrix element on a bond is ``bond_scale * T`` (default
1/2).  The FM/NM interface x-bond uses the NM matrix (``interface_bond =
"nm"``), ``-t 1`` ("fm") or their average ("average").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# paper Eq. 2, basis (yz, xz, xy)
L_PAPER = np.array([
    [[0, 0, 0], [0, 0, 1j], [0, -1j, 0]],
    [[0, 0, -1j], [0, 0, 0], [1j, 0, 0]],
    [[0, -1j, 0], [1j, 0, 0], [0, 0, 0]],
], dtype=complex)

PAULI = np.array([
    [[0, 1], [1, 0]],
    [[0, -1j], [1j, 0]],
    [[1, 0], [0, -1]],
], dtype=complex)

REGION_NM, REGION_FM_LEFT, REGION_FM_RIGHT = 0, 1, 2


@dataclass
class Lattice:
    nx: int
    ny: int
    norb: int
    periodic_y: bool
    J: np.ndarray            # (3, norb, norb) angular-momentum matrices
    region: np.ndarray       # (nx,) REGION_* per column
    onsite: np.ndarray       # (nx, norb, norb) clean on-site block per column (incl. -mu)
    disorder: np.ndarray     # (nx, ny) on-site potential (times identity)
    tx: np.ndarray           # (nx-1, norb, norb) T of the x-bond x -> x+1 (unscaled)
    ty: np.ndarray           # (nx, norb, norb) T of the y-bonds in column x (unscaled)
    tloc_x: np.ndarray       # (nx, norb, norb) material T_x of column x (Eq. 10)
    tloc_y: np.ndarray       # (nx, norb, norb) material T_y of column x (Eq. 10)
    scale: float = 0.5
    model: str = "t2g"
    info: dict = field(default_factory=dict)

    # ------------------------------------------------------------------
    @property
    def n_sites(self) -> int:
        return self.nx * self.ny

    @property
    def n_states(self) -> int:
        return self.nx * self.ny * self.norb

    @property
    def clean(self) -> bool:
        return not np.any(self.disorder)

    def index(self, x, y, a=0):
        return ((np.asarray(x) * self.ny) + np.asarray(y)) * self.norb + np.asarray(a)

    def site_onsite(self, x0=0, x1=None) -> np.ndarray:
        """On-site blocks eps_n (x1-x0, ny, norb, norb) including disorder."""
        x1 = self.nx if x1 is None else x1
        eye = np.eye(self.norb)
        return (self.onsite[x0:x1, None, :, :]
                + self.disorder[x0:x1, :, None, None] * eye[None, None])

    def y_bonds(self):
        """Row pairs (y, y+1) of the y-bonds of a column (with wrap if periodic)."""
        ys = np.arange(self.ny)
        if self.periodic_y:
            return ys, (ys + 1) % self.ny
        return ys[:-1], ys[1:]

    # ------------------------------------------------------------------
    def hamiltonian_rows(self, x0: int = 0, x1: int | None = None):
        """Rows of columns x0..x1-1 as scipy CSR (global column indices).

        H[(n,a),(m,b)] = (s T_nm)_ab for every bond n -> m, plus its
        Hermitian conjugate for m -> n; on-site blocks eps_n.
        """
        import scipy.sparse as sp
        x1 = self.nx if x1 is None else x1
        no, ny, s = self.norb, self.ny, self.scale
        rows, cols, vals = [], [], []
        aa, bb = np.meshgrid(np.arange(no), np.arange(no), indexing="ij")
        aa, bb = aa.ravel(), bb.ravel()

        def put(n, m, block):
            # n, m arrays of site indices; block (len, no, no) or (no, no)
            block = np.broadcast_to(block, (len(n), no, no))
            keep = np.abs(block).reshape(len(n), -1) != 0
            r = (n[:, None] * no + aa[None, :])
            c = (m[:, None] * no + bb[None, :])
            v = block.reshape(len(n), -1)
            rows.append(r[keep]); cols.append(c[keep]); vals.append(v[keep])

        eps = self.site_onsite(x0, x1)
        ys = np.arange(ny)
        yb0, yb1 = self.y_bonds()
        for x in range(x0, x1):
            n = x * ny + ys
            put(n, n, eps[x - x0])
            # y-bonds: (x,y0) -> (x,y1) element s T, reverse s T^dagger
            hy = s * self.ty[x]
            put(x * ny + yb0, x * ny + yb1, hy)
            put(x * ny + yb1, x * ny + yb0, hy.conj().T)
            if x + 1 < self.nx:
                hx = s * self.tx[x]
                put(n, (x + 1) * ny + ys, hx)
            if x - 1 >= 0:
                hx = s * self.tx[x - 1]
                put(n, (x - 1) * ny + ys, hx.conj().T)
        r = np.concatenate(rows) - x0 * ny * no
        c = np.concatenate(cols)
        v = np.concatenate(vals)
        nrow = (x1 - x0) * ny * no
        h = sp.coo_matrix((v, (r, c)), shape=(nrow, self.n_states)).tocsr()
        h.sum_duplicates()
        return h

    def hamiltonian(self):
        """The whole Hamiltonian as scipy CSR."""
        return self.hamiltonian_rows(0, self.nx)

    def hamiltonian_ky(self, k) -> np.ndarray:
        """Bloch blocks H(k_y) (len(k), nx*norb, nx*norb) for a clean periodic lattice.

        psi(x, y) = exp(i k y) u(x) / sqrt(ny): on-site eps_x + s (T_y e^{ik} + T_y^dag e^{-ik}).
        """
        k = np.atleast_1d(np.asarray(k, dtype=float))
        no, nx, s = self.norb, self.nx, self.scale
        H = np.zeros((len(k), nx * no, nx * no), dtype=complex)
        ph = np.exp(1j * k)[:, None, None]
        for x in range(nx):
            sl = slice(x * no, (x + 1) * no)
            ty = s * self.ty[x]
            H[:, sl, sl] = self.onsite[x][None] + ty[None] * ph + ty.conj().T[None] * ph.conj()
            if x + 1 < nx:
                sr = slice((x + 1) * no, (x + 2) * no)
                H[:, sl, sr] = s * self.tx[x]
                H[:, sr, sl] = (s * self.tx[x]).conj().T
        return H

    def ky_even(self) -> bool:
        """H(k_y) = H(-k_y) exactly: true when every T_y is real symmetric."""
        return all(np.allclose(t, t.T) and np.allclose(t.imag, 0) for t in self.ty)


def _mvec(m):
    m = np.zeros(3) if m is None else np.asarray(m, dtype=float)
    return m


def build_lattice(p: dict, **override) -> Lattice:
    """Lattice from a ``[trilayer]`` table (dict); keyword overrides win.

    Keys used: nx, ny, n_fm, n_fm_right, gamma, t, t_prime, w, mu, m_left,
    m_right, normal_metal, bond_scale, interface_bond, disorder, seed,
    periodic_y.
    """
    q = dict(p)
    q.update(override)
    nx, ny = int(q["nx"]), int(q["ny"])
    t = float(q.get("t", 1.0))
    model = q.get("normal_metal", "t2g")
    mL, mR = _mvec(q.get("m_left")), _mvec(q.get("m_right"))
    n_fm = int(q.get("n_fm", 1))
    n_fm_r = q.get("n_fm_right")
    n_fm_r = n_fm if n_fm_r is None else int(n_fm_r)
    nl = n_fm if np.any(mL) else 0
    nr = n_fm_r if np.any(mR) else 0
    if nl + nr >= nx:
        raise ValueError(f"{nl} + {nr} FM columns leave no normal-metal column in nx = {nx}")
    if model == "t2g":
        J = L_PAPER.copy()
        g, tp = float(q.get("gamma", 1.0)), q.get("t_prime")
        tp = t if tp is None else float(tp)
        TX = np.diag([-g, -t, -tp]).astype(complex)
        TY = np.diag([-t, -g, -tp]).astype(complex)
    elif model == "altermagnet":
        J = PAULI.copy()
        w = float(q.get("w", 0.0))
        TX = (-t * np.eye(2) + w * PAULI[2]).astype(complex)
        TY = (-t * np.eye(2) - w * PAULI[2]).astype(complex)
    else:
        raise ValueError(f"normal_metal = {model!r}")
    norb = J.shape[1]
    TF = -t * np.eye(norb, dtype=complex)
    region = np.full(nx, REGION_NM)
    region[:nl] = REGION_FM_LEFT
    if nr:
        region[nx - nr:] = REGION_FM_RIGHT
    mu = float(q.get("mu", 0.0))
    onsite = np.zeros((nx, norb, norb), dtype=complex)
    for x in range(nx):
        onsite[x] = -mu * np.eye(norb)
        if region[x] == REGION_FM_LEFT:
            onsite[x] -= np.einsum("a,aij->ij", mL, J)
        elif region[x] == REGION_FM_RIGHT:
            onsite[x] -= np.einsum("a,aij->ij", mR, J)
    fm = region != REGION_NM
    tloc_x = np.array([TF if fm[x] else TX for x in range(nx)])
    tloc_y = np.array([TF if fm[x] else TY for x in range(nx)])
    ib = q.get("interface_bond", "nm")
    tx = np.zeros((max(nx - 1, 0), norb, norb), dtype=complex)
    for x in range(nx - 1):
        a, b = fm[x], fm[x + 1]
        if a and b:
            tx[x] = TF
        elif not a and not b:
            tx[x] = TX
        else:
            tx[x] = {"nm": TX, "fm": TF, "average": 0.5 * (TX + TF)}[ib]
    W = float(q.get("disorder", 0.0) or 0.0)
    if W > 0:
        rng = np.random.default_rng(q.get("seed", 0))
        dis = rng.uniform(-W / 2, W / 2, size=(nx, ny))
    else:
        dis = np.zeros((nx, ny))
    periodic = bool(q.get("periodic_y", True))
    return Lattice(nx=nx, ny=ny, norb=norb, periodic_y=periodic, J=J, region=region,
                   onsite=onsite, disorder=dis, tx=tx, ty=tloc_y.copy(), tloc_x=tloc_x,
                   tloc_y=tloc_y, scale=float(q.get("bond_scale", 0.5)), model=model,
                   info={"n_fm_left": nl, "n_fm_right": nr, "m_left": mL, "m_right": mR,
                         "interface_bond": ib, "mu": mu})


def bond_list(lat: Lattice):
    """All bonds (n, m, h) with h = s T the matrix element c_n^dag h c_m (each bond once)."""
    out_n, out_m, out_h = [], [], []
    ys = np.arange(lat.ny)
    yb0, yb1 = lat.y_bonds()
    for x in range(lat.nx):
        out_n.append(x * lat.ny + yb0); out_m.append(x * lat.ny + yb1)
        out_h.append(np.broadcast_to(lat.scale * lat.ty[x], (len(yb0), lat.norb, lat.norb)))
        if x + 1 < lat.nx:
            out_n.append(x * lat.ny + ys); out_m.append((x + 1) * lat.ny + ys)
            out_h.append(np.broadcast_to(lat.scale * lat.tx[x], (lat.ny, lat.norb, lat.norb)))
    return np.concatenate(out_n), np.concatenate(out_m), np.concatenate(out_h)
