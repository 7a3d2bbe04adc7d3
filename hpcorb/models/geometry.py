"""Crystal geometry: bcc/fcc bulk and films of N atomic layers.

Lengths in Angstrom.  A :class:`Crystal` is a cell (rows of ``lattice``),
atom positions in the *model frame* and ``frame``: the rows are the model's
x, y, z axes written in cubic coordinates (identity for bulk), so that a
cubic vector v has model coordinates ``frame @ v``.

Films (``periodic = 2``): z is the film normal, layer j (0-based) sits at
``z = j D`` (D the interlayer distance); the in-plane axes follow paper 003:

=========  ===========  ===========  ===========  ===========================
structure  surface      x            y            z
=========  ===========  ===========  ===========  ===========================
bcc        001          [100]        [010]        [001], D = a/2
bcc        110          [-110]       [001]        [110], D = a/sqrt2
fcc        001          [100]        [010]        [001], D = a/2
fcc        111          [-110]       [-1-12]      [111], D = a/sqrt3
=========  ===========  ===========  ===========  ===========================

Each film is built from a primitive basis (A1, A2, T) of the bulk lattice
with A1, A2 in the surface plane and T the stacking vector; layer j is the
atom at ``j T`` (wrapped into the in-plane cell).  ``closed=True`` makes the
stack periodic along T (a bulk supercell of N layers, ``periodic = 3``),
whose eigenvalues are the bulk ones folded onto the film's zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

S2, S3, S6 = np.sqrt(2.0), np.sqrt(3.0), np.sqrt(6.0)

# primitive vectors in units of a (cubic coordinates)
BULK = {
    "bcc": np.array([[0.5, 0.5, -0.5], [0.5, -0.5, 0.5], [-0.5, 0.5, 0.5]]),
    "fcc": np.array([[0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]),
}

# (frame rows x, y, z), A1, A2, T  -- all cubic, units of a
FILMS = {
    ("bcc", "001"): (np.eye(3), [1, 0, 0], [0, 1, 0], [0.5, 0.5, 0.5]),
    ("bcc", "110"): (np.array([[-1 / S2, 1 / S2, 0], [0, 0, 1], [1 / S2, 1 / S2, 0]]),
                     [0, 0, 1], [-0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
    ("fcc", "001"): (np.eye(3), [0.5, 0.5, 0], [0.5, -0.5, 0], [0.5, 0, 0.5]),
    ("fcc", "111"): (np.array([[-1 / S2, 1 / S2, 0], [-1 / S6, -1 / S6, 2 / S6], [1 / S3, 1 / S3, 1 / S3]]),
                     [-0.5, 0.5, 0], [0, -0.5, 0.5], [0.5, 0, 0.5]),
}

SURFACES = {"bcc": ("001", "110"), "fcc": ("001", "111")}


@dataclass
class Crystal:
    lattice: np.ndarray            # (3, 3) rows, Angstrom, model frame
    positions: np.ndarray          # (nat, 3) Angstrom, model frame
    periodic: int
    frame: np.ndarray              # (3, 3) rows: model axes in cubic coordinates
    structure: str
    a: float
    surface: str | None = None
    layers: int | None = None
    spacing: float | None = None   # interlayer distance D (films)
    info: dict = field(default_factory=dict)

    @property
    def nat(self):
        return len(self.positions)


def bulk(structure: str, a: float) -> Crystal:
    if structure not in BULK:
        raise ValueError(f"unknown structure {structure!r}; known: {', '.join(BULK)}")
    return Crystal(lattice=a * BULK[structure], positions=np.zeros((1, 3)), periodic=3,
                   frame=np.eye(3), structure=structure, a=a)


def film(structure: str, a: float, surface: str, layers: int, closed: bool = False,
         vacuum: float = 20.0) -> Crystal:
    """A film of ``layers`` atomic layers (or, closed, the periodic N-layer supercell)."""
    key = (structure, surface)
    if key not in FILMS:
        raise ValueError(f"surface {surface!r} is not available for {structure}; "
                         f"available: {', '.join(SURFACES.get(structure, ()))}")
    if layers < 1:
        raise ValueError("layers must be >= 1")
    F, A1, A2, T = (np.asarray(v, dtype=float) for v in FILMS[key])
    A1, A2, T = (a * (F @ v) for v in (A1, A2, T))      # model frame
    assert abs(A1[2]) < 1e-12 and abs(A2[2]) < 1e-12 and T[2] > 0
    D = T[2]
    pos = np.arange(layers)[:, None] * T[None, :]
    # wrap in-plane into the A1, A2 cell (pure translations: same crystal)
    M2 = np.array([A1[:2], A2[:2]])
    frac = np.linalg.solve(M2.T, pos[:, :2].T).T
    pos[:, :2] -= np.floor(frac + 1e-9) @ M2
    if closed:
        lattice = np.array([A1, A2, layers * T])
        periodic = 3
    else:
        lattice = np.array([A1, A2, [0.0, 0.0, layers * D + vacuum]])
        periodic = 2
    return Crystal(lattice=lattice, positions=pos, periodic=periodic, frame=F, structure=structure,
                   a=a, surface=surface, layers=layers, spacing=D, info={"closed": closed})


def neighbours(cr: Crystal, rcut: float, tol: float = 1e-6):
    """All pairs within ``rcut`` (Angstrom), excluding self at R = 0.

    Returns ``i, j, R (npair, 3) int, d (npair, 3)`` with ``d = R.lattice + tau_j - tau_i``.
    """
    lat = cr.lattice
    recip = 2 * np.pi * np.linalg.inv(lat).T
    nmax = [int(np.ceil(rcut * np.linalg.norm(recip[c]) / (2 * np.pi))) + 1 if c < cr.periodic else 0
            for c in range(3)]
    grids = np.meshgrid(*[np.arange(-n, n + 1) for n in nmax], indexing="ij")
    Rs = np.stack([g.ravel() for g in grids], axis=1)                # (nR, 3)
    Rc = Rs @ lat
    tau = cr.positions
    d = Rc[:, None, None, :] + tau[None, None, :, :] - tau[None, :, None, :]   # (nR, i, j, 3)
    dist = np.linalg.norm(d, axis=-1)
    sel = (dist <= rcut + tol) & (dist > 1e-8)
    r, i, j = np.nonzero(sel)
    return i, j, Rs[r], d[r, i, j]


def shell_distances(structure: str, a: float, nshell: int) -> np.ndarray:
    """Distances (Angstrom) and neighbour counts of the first ``nshell`` bulk shells."""
    cr = bulk(structure, a)
    _, _, _, d = neighbours(cr, 2.5 * a)
    dist = np.linalg.norm(d, axis=1)
    u = np.unique(np.round(dist / a, 8))
    shells = u[:nshell] * a
    counts = np.array([np.sum(np.abs(dist - s) < 1e-6 * a) for s in shells])
    return shells, counts
