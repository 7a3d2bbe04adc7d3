"""Symmetry of Brillouin-zone sums: operations of a model, irreducible k-meshes.

Operations.  Candidates come from the lattice (the rotations, proper and
improper, that map the lattice onto itself; for films only those that keep
the film plane) and the basis (each candidate needs a translation t that
maps every basis function's centre onto the centre of one with the same
orbital/spin content, modulo the periodic lattice).  For each candidate the
representation on the basis,

    D(g) = (atom permutation) x (spin rotation, SU(2) of the proper part)
           x (real-harmonic rotation of each shell: s, p, d),

is built, and the operation is accepted only after checking it on the
model itself: ``H(g k) = D(g) H(k) D(g)^+`` to 1e-10 (relative to the
largest |H|) at a few random k, and L and S transform as axial vectors,
``D^+ A_a D = sum_b det(R) R_ab A_b``.  A model of lower symmetry (a
Wannier90 model whose orbitals are unknown, a magnetization) simply keeps
fewer operations -- at least the identity.  In hpcorb's atomic gauge
(``H_ab(k) = sum_R e^{ik.(R + tau_b - tau_a)} H_ab(R)``) D does not depend
on k.

Time reversal (``H(-k) = T H(k)^* T^+``, T = i sigma_y on spin, the
identity on real orbitals) is checked the same way; only calculations whose
per-k quantity is even under it (eigenvalues: dos, Fermi levels) use it.

Meshes.  :func:`irreducible` keeps the operations that map the uniform mesh
onto itself, and returns one point per orbit with its weight (the orbit
size).  A k-sum is rebuilt from the irreducible points as

    sum_k f(k) = (1/|G|) sum_g rho(g) sum_irr w_k f(k)

where ``f(g k) = rho(g) f(k)`` is the representation of the output
(identity for scalars; R and det(R) R on polar and axial indices).

Index conventions: rotations ``R`` are 3 x 3 Cartesian matrices acting on
column vectors (``r' = R r``); ``kmats`` are the same operations on
fractional k as row vectors (``kf' = kf @ M``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
from scipy import sparse

TOL = 1e-10


# ---------------------------------------------------------------- representations
def _d_functions(r):
    """The five real d harmonics (order dxy, dyz, dzx, dx2-y2, dz2), common normalization."""
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    s3 = np.sqrt(3.0)
    return np.stack([s3 * x * y, s3 * y * z, s3 * z * x, 0.5 * s3 * (x * x - y * y),
                     z * z - 0.5 * (x * x + y * y)], axis=-1)


_PTS = np.random.default_rng(12345).normal(size=(40, 3))


def shell_rep(R):
    """{shell: D} with (O_g f_mu)(r) = f_mu(R^-1 r) = sum_nu D[nu, mu] f_nu(r); shells 0, 1, 2."""
    Rinv = np.linalg.inv(R)
    Fd = _d_functions(_PTS)                                  # (P, 5)
    Gd = _d_functions(_PTS @ Rinv.T)                         # f_mu(R^-1 r)
    Dd = np.linalg.lstsq(Fd, Gd, rcond=None)[0]              # Fd @ Dd = Gd
    return {0: np.ones((1, 1)), 1: np.asarray(R, dtype=float), 2: Dd}


def spin_rep(R):
    """SU(2) matrix (basis up, down along z) of the proper part det(R) R."""
    P = np.linalg.det(R) * np.asarray(R, dtype=float)
    # classify by the trace, not the angle: arccos is steep at +-1, so a rounding error of
    # 1e-16 in a rotation matrix built from lattice vectors moves a pi rotation's angle by ~1e-8
    tr = np.trace(P)
    if tr > 3.0 - 1e-9:
        return np.eye(2, dtype=complex)
    angle = np.pi if tr < -1.0 + 1e-9 else np.arccos(np.clip(0.5 * (tr - 1.0), -1.0, 1.0))
    if angle == np.pi:
        # axis from P + 1 = 2 n n^T
        M = P + np.eye(3)
        n = M[np.argmax(np.linalg.norm(M, axis=0))]
        n = n / np.linalg.norm(n)
    else:
        n = np.array([P[2, 1] - P[1, 2], P[0, 2] - P[2, 0], P[1, 0] - P[0, 1]]) / (2 * np.sin(angle))
    sx = np.array([[0, 1], [1, 0]], dtype=complex)
    sy = np.array([[0, -1j], [1j, 0]])
    sz = np.array([[1, 0], [0, -1]], dtype=complex)
    ns = n[0] * sx + n[1] * sy + n[2] * sz
    return np.cos(angle / 2) * np.eye(2) - 1j * np.sin(angle / 2) * ns


_SHELL = {"s": (0, 0), "px": (1, 0), "py": (1, 1), "pz": (1, 2), "dxy": (2, 0), "dyz": (2, 1),
          "dzx": (2, 2), "dx2-y2": (2, 3), "dz2": (2, 4)}


# ---------------------------------------------------------------- lattice candidates
def lattice_rotations(lattice, periodic):
    """Cartesian rotations (proper and improper) that map the periodic lattice onto itself.

    Bulk: integer matrices with entries in {-1, 0, 1} (on a reduced basis)
    preserving the metric.  Film: the same in the plane of a1, a2, combined
    with z -> +-z along the plane normal.
    """
    A = np.asarray(lattice, dtype=float)
    out = []
    if periodic == 3:
        G = A @ A.T
        Ms = np.array(list(product((-1, 0, 1), repeat=9)), dtype=float).reshape(-1, 3, 3)
        ok = np.abs(np.abs(np.linalg.det(Ms)) - 1) < 1e-9
        Ms = Ms[ok]
        ok = np.abs(Ms @ G @ np.swapaxes(Ms, 1, 2) - G).max(axis=(1, 2)) < 1e-8 * np.abs(G).max()
        for M in Ms[ok]:
            # lattice vectors as rows: a' = M a  ->  R with (R a_i^T) = sum_j M_ij a_j
            out.append(np.linalg.solve(A, M @ A).T)
    elif periodic == 2:
        a = A[:2]
        nrm = np.cross(a[0], a[1])
        nrm /= np.linalg.norm(nrm)
        G = a @ a.T
        B = np.vstack([a, nrm])
        for e in product((-1, 0, 1), repeat=4):
            M = np.array(e, dtype=float).reshape(2, 2)
            if abs(abs(np.linalg.det(M)) - 1) > 1e-9 or not np.allclose(M @ G @ M.T, G, atol=1e-8 * np.abs(G).max()):
                continue
            for sz in (1.0, -1.0):
                M3 = np.zeros((3, 3))
                M3[:2, :2] = M
                M3[2, 2] = sz
                out.append(np.linalg.solve(B, M3 @ B).T)
    else:
        out.append(np.eye(3))
    return out


# ---------------------------------------------------------------- operations of a model
@dataclass
class SymOp:
    R: np.ndarray          # (3, 3) Cartesian rotation
    t: np.ndarray          # (3,) translation, Angstrom
    D: np.ndarray          # (N, N) representation on the basis
    kmat: np.ndarray       # (periodic, periodic) action on fractional k (row vectors)

    @property
    def det(self) -> float:
        return float(round(np.linalg.det(self.R)))


@dataclass
class Symmetry:
    ops: list = field(default_factory=list)       # unitary operations (identity first)
    time_reversal: bool = False
    periodic: int = 3

    def rotations(self):
        return np.array([op.R for op in self.ops])

    def kmats(self, with_time_reversal=False):
        m = [op.kmat for op in self.ops]
        if with_time_reversal and self.time_reversal:
            m = m + [-x for x in m]
        return m


def _signatures(model):
    """Per atom: (tuple of (orbital, spin) labels, its position)."""
    atoms = np.asarray(model.atoms)
    sig, pos, members = {}, {}, {}
    for i, a in enumerate(atoms):
        sig.setdefault(a, []).append((model.orbitals[i], int(model.spins[i])))
        members.setdefault(a, []).append(i)
        pos[a] = model.positions[i]
    return {a: tuple(sorted(v)) for a, v in sig.items()}, pos, members


def _representation(model, R, amap, members):
    """D (N, N) for rotation R and atom map amap {a: g(a)}; None if labels unknown."""
    N = model.norb
    reps = shell_rep(R)
    U = spin_rep(R)
    D = np.zeros((N, N), dtype=complex)
    for a, b in amap.items():
        # index of each (orbital, spin) of atom b
        where = {(model.orbitals[j], int(model.spins[j])): j for j in members[b]}
        for i in members[a]:
            o, s = model.orbitals[i], int(model.spins[i])
            if o not in _SHELL:
                return None
            sh, mu = _SHELL[o]
            col = reps[sh][:, mu]
            for nu, c in enumerate(col):
                if abs(c) < 1e-14:
                    continue
                o2 = [k for k, v in _SHELL.items() if v == (sh, nu)][0]
                for s2 in ((s,) if s < 0 else (0, 1)):
                    j = where.get((o2, s2))
                    f = c if s < 0 else c * U[s2, s]
                    if abs(f) < 1e-14:
                        continue
                    if j is None:
                        return None
                    D[j, i] += f
    return D


def _frac_kmat(model, R):
    p = model.periodic
    B = model.reciprocal[:p]                             # rows b_i
    # kc' = R kc (kc row: kf @ B) -> kf' = kf @ B @ R^T @ pinv(B)
    return B @ R.T @ np.linalg.pinv(B)


def find_symmetry(model, hk, *, tol=TOL, nk=3, seed=0, time_reversal=True, operators=None):
    """Operations of ``model`` verified on ``hk(kfrac) -> (nk, N, N)`` (the
    Hamiltonian the calculation uses, e.g. Loewdin-orthogonalized).

    operators: optional (L, S), each (3, N, N), that must transform as axial
    vectors.  Returns a :class:`Symmetry` (identity always included).
    """
    p = model.periodic
    rng = np.random.default_rng(seed)
    ks = rng.random((nk, p))
    Hs = hk(ks)
    scale = max(1.0, float(np.abs(Hs).max()))
    sig, pos, members = _signatures(model)
    lat = np.asarray(model.lattice, dtype=float)
    per = lat[:p]
    atoms = sorted(sig)
    if not all(o in _SHELL for o in model.orbitals):
        R_list = [np.eye(3)]                            # unknown orbital characters: identity only
    else:
        R_list = lattice_rotations(lat, p)
    ops = []

    proj = np.linalg.pinv(per.T)                         # Cartesian -> fractional (periodic part)

    def wrap(d):
        """True when d is a vector of the periodic lattice."""
        f = proj @ d
        rest = d - per.T @ f
        return np.abs(f - np.round(f)).max() < 1e-6 and np.abs(rest).max() < 1e-6

    for R in R_list:
        a0 = atoms[0]
        found = None
        for b0 in atoms:
            if sig[b0] != sig[a0]:
                continue
            t = pos[b0] - R @ pos[a0]
            amap = {}
            for a in atoms:
                img = R @ pos[a] + t
                hit = [b for b in atoms if sig[b] == sig[a] and wrap(pos[b] - img)]
                if len(hit) != 1:
                    amap = None
                    break
                amap[a] = hit[0]
            if amap is None or len(set(amap.values())) != len(atoms):
                continue
            D = _representation(model, R, amap, members)
            if D is None:
                continue
            M = _frac_kmat(model, R)
            H2 = hk(ks @ M)
            Ds = sparse.csr_matrix(D)                   # a few entries per row: sparse products
            err = max(np.abs(H2[i] - (Ds @ (Ds @ Hs[i].conj().T).conj().T)).max() for i in range(len(ks)))
            if err > tol * scale:
                continue
            if operators is not None and not _axial_ok(D, R, operators):
                continue
            found = SymOp(R=R, t=t, D=D, kmat=M)
            break
        if found is not None:
            ops.append(found)
    ops.sort(key=lambda o: (np.abs(o.R - np.eye(3)).max() > 1e-9,))   # identity first
    if not ops or np.abs(ops[0].R - np.eye(3)).max() > 1e-9:
        ops.insert(0, SymOp(R=np.eye(3), t=np.zeros(3), D=np.eye(model.norb), kmat=np.eye(p)))
    trs = False
    if time_reversal:
        T = _time_reversal_matrix(model)
        if T is not None:
            Hm = hk(-ks)
            trs = np.abs(Hm - T[None] @ Hs.conj() @ T.conj().T[None]).max() <= tol * scale
    return Symmetry(ops=ops, time_reversal=bool(trs), periodic=p)


def _axial_ok(D, R, operators, tol=1e-9):
    Ra = np.linalg.det(R) * R
    for A in operators:
        if A is None or np.abs(A).max() == 0:
            continue
        Ds = sparse.csr_matrix(D)
        lhs = np.array([(Ds.conj().T @ (Ds.T @ a.T).T) for a in A])     # D^+ A D
        rhs = np.einsum("ab,bjk->ajk", Ra, A)
        if np.abs(lhs - rhs).max() > tol * max(1.0, np.abs(A).max()):
            return False
    return True


def _time_reversal_matrix(model):
    """T with Theta = T K: i sigma_y on spin (up, down), identity on real orbitals."""
    N = model.norb
    if not all(o in _SHELL for o in model.orbitals):
        return None
    spins = np.asarray(model.spins)
    if np.all(spins < 0):
        return np.eye(N)
    T = np.zeros((N, N))
    key = {(int(a), o, int(s)): i for i, (a, o, s) in enumerate(zip(model.atoms, model.orbitals, spins))}
    for i, (a, o, s) in enumerate(zip(model.atoms, model.orbitals, spins)):
        j = key.get((int(a), o, 1 - int(s)))
        if j is None:
            return None
        # i sigma_y = [[0, 1], [-1, 0]]: up <- down (+1), down <- up (-1)
        T[i, j] = 1.0 if s == 0 else -1.0
    return T


# ---------------------------------------------------------------- irreducible meshes
def mesh_preserving(mesh, kmats, tol=1e-8):
    """The matrices that map every point of the uniform mesh onto a mesh point."""
    n = np.asarray(mesh.size, dtype=float)
    kf = mesh.frac()
    keep = []
    for M in kmats:
        x = (kf @ M) * n - mesh.shift
        if np.abs(x - np.round(x)).max() < tol:
            keep.append(M)
    return keep


@dataclass
class IrreducibleMesh:
    """Irreducible points of a uniform mesh: ``frac(a, b)``, ``weights(a, b)``
    (orbit sizes; they add up to the full mesh size), ``n`` points."""
    mesh: object
    index: np.ndarray          # flat indices into the full mesh
    weight: np.ndarray         # orbit sizes
    n_ops: int

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def dim(self) -> int:
        return self.mesh.dim

    @property
    def size(self):
        return self.mesh.size

    @property
    def shift(self):
        return self.mesh.shift

    def frac(self, start=0, stop=None):
        stop = self.n if stop is None else stop
        idx = self.index[start:stop]
        return (np.stack(np.unravel_index(idx, self.mesh.size), axis=1) + self.mesh.shift) / np.asarray(
            self.mesh.size)

    def weights(self, start=0, stop=None):
        stop = self.n if stop is None else stop
        return self.weight[start:stop]

    def __repr__(self):
        return f"{self.mesh!r} -> {self.n} irreducible points ({self.n_ops} operations)"


def irreducible(mesh, kmats):
    """One point per orbit of the group generated by ``kmats`` (which must be a
    group, e.g. from :func:`mesh_preserving` of a model's operations)."""
    n = np.asarray(mesh.size)
    kf = mesh.frac()
    rep = np.arange(mesh.n)
    for M in kmats:
        x = np.round((kf @ M) * n - mesh.shift).astype(np.int64) % n
        img = np.ravel_multi_index(tuple(x.T), mesh.size)
        rep = np.minimum(rep, img)
    index = np.flatnonzero(rep == np.arange(mesh.n))
    weight = np.bincount(rep, minlength=mesh.n)[index].astype(float)
    return IrreducibleMesh(mesh, index, weight, len(kmats))


def rebuild(S, rotations, axes):
    """(1/|G|) sum_g rho(g) S for an output S whose trailing axes are Cartesian.

    axes: one entry per trailing axis, "polar" (R) or "axial" (det(R) R); the
    leading axes of S are left alone.  rotations: (nG, 3, 3).
    """
    S = np.asarray(S)
    k = len(axes)
    out = np.zeros_like(S)
    for R in rotations:
        T = S
        for i, ax in enumerate(axes):
            M = np.linalg.det(R) * R if ax == "axial" else R
            # apply M to trailing axis i (counted from the first trailing axis), one axis at a time
            axis = S.ndim - k + i
            T = np.moveaxis(np.tensordot(T, M, axes=([axis], [1])), -1, axis)
        out += T
    return out / len(rotations)


def full_mesh(mesh):
    """The mesh itself as an :class:`IrreducibleMesh` (identity only, weights 1)."""
    return IrreducibleMesh(mesh, np.arange(mesh.n), np.ones(mesh.n), 1)


def common_symmetry(models, hk, operators=None):
    """(ops, time_reversal) shared by every model (e.g. the SOC scales of a scan).

    hk(model, kfrac) -> H (nk, N, N), the Hamiltonian the calculation
    diagonalizes; operators(model) -> (L, S) or None.
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    syms = [find_symmetry(m, lambda k, m=m: hk(m, k),
                          operators=None if operators is None else operators(m)) for m in models]
    ops = [op for op in syms[0].ops
           if all(any(np.abs(op.R - o.R).max() < 1e-9 for o in s.ops) for s in syms[1:])]
    return ops, all(s.time_reversal for s in syms)


def closed_subset(ops, tol=1e-6):
    """The largest closed subset found greedily: ``ops`` itself when their rotations are
    closed under products (a finite closed set is a group), otherwise the operations
    taking part in the most missing products are dropped one at a time (never the
    identity).  The irreducible mesh and the rebuild (1/|G|) sum_g rho(g) are exact only
    for a group; a set that lost an operation to a failed check (rounding, a model of
    lower symmetry) must not be used as one."""
    ops = list(ops)
    while len(ops) > 1:
        R = np.array([op.R for op in ops])
        bad = np.zeros(len(ops))
        for a in range(len(ops)):
            prod = R[a] @ R                                             # R_a R_b for every b
            found = np.abs(prod[:, None] - R[None]).max(axis=(2, 3)).min(axis=1) < tol
            bad[a] += np.sum(~found)
            bad += ~found
        if not bad.any():
            break
        bad[[i for i, op in enumerate(ops) if np.abs(op.R - np.eye(3)).max() < tol]] = -1
        ops.pop(int(np.argmax(bad)))
    return ops


def mesh_for(mesh, ops, time_reversal=False):
    """(IrreducibleMesh, rotations (nG, 3, 3)) of ``mesh`` under the operations
    ``ops`` that map it onto itself (plus k -> -k when ``time_reversal``); only a
    closed set of them (:func:`closed_subset`) is used."""
    ops = closed_subset([op for op in ops if mesh_preserving(mesh, [op.kmat])])
    kmats = [op.kmat for op in ops]
    if time_reversal:
        kmats = kmats + [-M for M in kmats if mesh_preserving(mesh, [-M])]
    return irreducible(mesh, kmats), np.array([op.R for op in ops])


def reduce_mesh(models, mesh, hk, *, use=True, time_reversal=False, operators=None):
    """(IrreducibleMesh, rotations (nG, 3, 3)) for a k-sum over ``mesh``
    (:func:`common_symmetry` then :func:`mesh_for`); time_reversal: also use
    k -> -k (only for per-k quantities even under it, e.g. eigenvalues).
    use=False: the full mesh, identity only."""
    if not use:
        return full_mesh(mesh), np.eye(3)[None]
    ops, trs = common_symmetry(models, hk, operators)
    return mesh_for(mesh, ops, time_reversal and trs)


def layer_permutation(op, layer_z, tol=1e-3):
    """perm[l] = the layer that layer l is mapped onto by ``op`` (films: z -> R_zz z + t_z).

    layer_z: absolute z of each layer (Angstrom).  None if some layer has no image.
    """
    z2 = op.R[2, 2] * np.asarray(layer_z) + op.t[2]
    d = np.abs(z2[:, None] - np.asarray(layer_z)[None, :])
    perm = np.argmin(d, axis=1)
    if np.any(d[np.arange(len(perm)), perm] > tol) or len(set(perm.tolist())) != len(perm):
        return None
    return perm


def keeps_z(op, tol=1e-9):
    """True when the operation maps the z axis onto itself (R_zz = +-1)."""
    return abs(abs(op.R[2, 2]) - 1.0) < tol
