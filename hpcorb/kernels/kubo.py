"""Layer-resolved intrinsic Kubo responses of films (paper 003), fast path.

Pure numpy, no MPI, no I/O.  Everything is per k-point; the calculation
(:mod:`hpcorb.calculations.slab_kubo`) loops over k and sums.

Operators (orbital basis, basis sorted by layer so every layer is a
contiguous block of rows; all "current-like" operators are multiplied by
hbar so they are in eV Angstrom, torques in eV):

* ``hbar v_x, hbar v_y = dH/dk_x, dH/dk_y`` (Cartesian, atomic positions in
  the Bloch phase, so this is ``i[H, r]``);
* film: ``hbar v_z = i[H, Z]`` with ``Z`` the diagonal atom-centred z
  (origin at the film centre); bulk: ``hbar v_z = dH/dk_z``;
* ``hbar T_g = [O_g, H]/i`` for ``O = L`` (units of hbar) or ``S = sigma/2``;
* conventional ``hbar j = (1/2){hbar v_z, O_g}``, torque dipole
  ``hbar P^T = (1/2){Z, hbar T_g}``; proper = conventional + torque dipole
  (identically ``[(1/2){Z, O_g}, H]/i``, see :func:`proper_current`).

Layer projection ``A(z) = (1/2){A, P(z)}``.  Per band n and layer z the
kernel returns ``c_n(z) = 2 R_n(z)`` with

    R_n(z) = sum_n' g_nn' Im[A(z)_nn' B_n'n],   g = 1/((E_n - E_n')^2 + eta^2)

(in Angstrom^2), so that ``sum_{n != n'} (f_n - f_n') g Im[A(z)_nn' B_n'n] =
sum_n f_n c_n(z)``: the ``C_n(z)`` of PHYSICS.md equals ``-R_n(z)`` for
Hermitian ``A(z)`` and ``B``, so ``R - C = 2R``.  Direct: ``A = Q`` (j or
P^T) projected, ``B = v_beta``; inverse: ``A = v_beta`` projected, ``B = Q``.

Fast evaluation (never forming N_layer projected matrices): with
``X = A U`` (orbital x band), ``W = g o (U^+ B U)`` and ``Y = U W``,

    2 R_n(z) = Im sum_{i in z} [ conj(X_in) Y_in + conj(U_in) (A Y)_in ]

i.e. per perturbation B two N x N x m products (``U^+ (B U)`` and ``U W``)
and per observable A only layer-banded products ``A U``, ``A Y`` (A couples
only nearby layers), followed by an elementwise product and a segment sum
over the rows of each layer.  ``m`` is the number of bands that are needed:
since ``sum_n c_n(z) = 0`` exactly (antisymmetry of the summand), either the
bands below the top of the Fermi-energy window (electrons, weight f_n) or
the bands above its bottom (holes, weight -(1 - f_n)) suffice; bands outside
carry f = 1 or 0 for every requested Fermi energy.

Energy histogram: the contributions ``c_n(z)`` do not depend on the Fermi
level or the temperature; they are accumulated into bins of E_n
(:func:`histogram_edges`).  At T = 0 the bin edges include every requested
Fermi energy, so the occupied set {n: E_n < mu} is a union of whole bins and
the cumulative sum over bins is exact (no binning error at all).  At T > 0
the bins are uniform with width ``kT/10`` (or the user's resolution) inside
``[min mu - 40 kT, max mu + 40 kT]``; each bin also accumulates the first
moment sum_n c_n (E_n - centre), and f is expanded to first order about the
bin centre, so the error per band is ~ f'' width^2 / 8 (~1e-4 of the
thermal smearing for width kT/10).  Any number of Fermi energies costs one evaluation.
"""
from __future__ import annotations

import numpy as np
from scipy import constants as _c

# sigma [(hbar/e)(Ohm cm)^-1] = -SIGMA_UNIT * sum(...) / (A_cell D N_k), sums in Angstrom^2,
# A_cell D in Angstrom^3:  e^2/hbar [S] * 1e10 [1/m per 1/Angstrom] / 100 [cm/m].
SIGMA_UNIT = _c.e ** 2 / _c.hbar * 1e8

N_OPS = 12   # (O in L, S) x (part in conventional, torque dipole) x (gamma in x, y, z)
MARGIN_KT = 40.0


def op_index(o: int, part: int, gamma: int) -> int:
    """Index of Q = (O, part, gamma) in the stack of 12 current operators."""
    return (o * 2 + part) * 3 + gamma


class Layout:
    """Layer blocks of a layer-sorted basis and the layer bandwidth of H.

    starts: (Nl + 1) row offsets of the layers; bandwidth: the largest
    |layer(a) - layer(b)| with H_ab(k) != 0 (Nl - 1 = dense).
    """

    def __init__(self, starts, bandwidth: int):
        self.starts = np.asarray(starts, dtype=int)
        self.nl = len(self.starts) - 1
        self.n = int(self.starts[-1])
        b = int(max(0, min(bandwidth, self.nl - 1)))
        self.bandwidth = b
        s = self.starts
        self.rows = [slice(s[z], s[z + 1]) for z in range(self.nl)]
        self.cols = [slice(s[max(0, z - b)], s[min(self.nl, z + b + 1)]) for z in range(self.nl)]

    def blocks(self, M):
        """Row blocks of a dense (..., N, N) operator: list over layers of (..., nr, nc)."""
        return [M[..., r, c] for r, c in zip(self.rows, self.cols)]

    def apply(self, blocks, M):
        """(stack of banded operators) @ M: blocks[z] (nop, nr, nc), M (N, K) -> (N, nop, K)."""
        nop = blocks[0].shape[0]
        K = M.shape[1]
        out = np.empty((self.n, nop, K), dtype=np.result_type(blocks[0].dtype, M.dtype))
        for r, c, blk in zip(self.rows, self.cols, blocks):
            nr = r.stop - r.start
            res = blk.reshape(nop * nr, -1) @ M[c]
            out[r] = res.reshape(nop, nr, K).transpose(1, 0, 2)
        return out

    def local_response(self, blocks, M, Ucc, XA, out):
        """Fused banded product, element-wise work and layer sum (one layer at a time).

        For the local operators A (``blocks[z]`` (nA, nr, nc)) and the global
        perturbations B (``M`` = U W_B, (N, nB, m)):

            out[z, a, b, n] = sum_{i in z} Im[ conj(U_in) (A_a M_b)_in + conj(XA_ian) M_ibn ]

        with ``Ucc`` = conj(U[:, cols]) (N, m), ``XA`` = A U[:, cols] (N, nA, m).
        Each layer's rows are finished while they are in cache: the (N, nA,
        nB, m) product is never stored.  out (Nl, nA, nB, m) float64.
        """
        nA = blocks[0].shape[0]
        nB, m = M.shape[1], M.shape[2]
        Mf = M.reshape(self.n, nB * m)
        for z, (r, c, blk) in enumerate(zip(self.rows, self.cols, blocks)):
            nr = r.stop - r.start
            P = (blk.reshape(nA * nr, -1) @ Mf[c]).reshape(nA, nr, nB, m)
            P *= Ucc[None, r, None, :]
            P += np.conj(XA[r]).transpose(1, 0, 2)[:, :, None, :] * M[None, r]
            out[z] = P.imag.sum(axis=1)
        return out

    def local_response_one(self, blocks, M, Uc, XA, out):
        """:meth:`local_response` for one local operator A and several global B.

        Uses A Hermitian: sum_{i in z} conj(U_in) (A M_b)_in = sum_j conj(V_jn) M_jbn
        with V = A[:, z] U[z, :] = (A[z, cols(z)])^+ U[z], so the banded product is
        one (nc x nr)(nr x m) per layer for any number of B instead of nB of them.
        ``blocks[z]`` (1, nr, nc), ``M`` (N, nB, m), ``Uc`` = U[:, cols] (N, m),
        ``XA`` = A U[:, cols] (N, 1, m).  out (Nl, 1, nB, m) float64.
        """
        for z, (r, c, blk) in enumerate(zip(self.rows, self.cols, blocks)):
            V = blk[0].conj().T @ Uc[r]                                   # (nc, m)
            V[r.start - c.start:r.stop - c.start] += XA[r, 0]            # + the second term (rows of z)
            np.conj(V, out=V)
            out[z, 0] = np.einsum("jbn,jn->bn", M[c], V).imag
        return out

    def layer_sum(self, A):
        """Sum over the rows of each layer: (N, ...) -> (Nl, ...)."""
        return np.add.reduceat(A, self.starts[:-1], axis=0)


def layer_bandwidth(layer, H_R, S_R=None) -> int:
    """Largest layer distance coupled by H(R) (dense if an overlap is present: Loewdin)."""
    layer = np.asarray(layer)
    nl = int(layer.max()) + 1
    if S_R is not None:
        return nl - 1
    mask = np.any(np.abs(H_R) > 0, axis=0)
    i, j = np.nonzero(mask)
    return int(np.abs(layer[i] - layer[j]).max()) if len(i) else 0


def current_blocks(layout: Layout, H, dH, z, O, bulk=False):
    """Banded row blocks of the operators of one k-point.

    H (N, N), dH (3, N, N) (eV, eV Angstrom), z (N,) atom-centred z (Angstrom,
    origin at the film centre), O (6, N, N) on-site operators (Lx, Ly, Lz, Sx,
    Sy, Sz).  Returns (vb, qb): lists over layers of (2, nr, nc) [hbar v_x,
    hbar v_y] and (12, nr, nc) [hbar j, hbar P^T] in the order of
    :func:`op_index`.
    """
    vb, qb = [], []
    for r, c in zip(layout.rows, layout.cols):
        Hb = H[r, c]
        zr, zc = z[r], z[c]
        if bulk:
            vz = dH[2][r, c]
        else:
            vz = 1j * Hb * (zc[None, :] - zr[:, None])
        Od = O[:, r, r]                       # on-site: layer r of O
        Oc = O[:, c, c]                       # on-site: block diagonal over the layers in c
        T = -1j * (Od @ Hb - Hb @ Oc)         # hbar T = [O, H]/i
        j = 0.5 * (vz @ Oc + Od @ vz)
        PT = 0.5 * (zr[:, None] + zc[None, :]) * T
        q = np.empty((N_OPS,) + Hb.shape, dtype=complex)
        for o in range(2):
            for g in range(3):
                q[op_index(o, 0, g)] = j[3 * o + g]
                q[op_index(o, 1, g)] = PT[3 * o + g]
        vb.append(np.stack([dH[0][r, c], dH[1][r, c]]))
        qb.append(q)
    return vb, qb


def proper_current(H, z, O):
    """Dense reference: hbar J = [(1/2){Z, O}, H]/i for each O (nop, N, N)."""
    D = 0.5 * (z[None, :, None] * O + O * z[None, None, :])
    return -1j * (D @ H - H @ D)


def band_window(E, w_lo, w_hi, holes: bool):
    """Bands needed at this k: (cols, always) slices into the ascending eigenvalues.

    cols: the bands whose contributions are accumulated; always: the part of
    cols with the same occupation for every requested Fermi energy (f = 1
    below ``w_lo`` on the electron side, f = 0 above ``w_hi`` on the hole
    side).  Those bands all fall into one histogram bin, so the pairs inside
    ``always`` x ``always`` cancel exactly (antisymmetric summand) and are
    skipped.
    """
    nb = int(np.searchsorted(E, w_lo, side="left"))
    na = int(np.searchsorted(E, w_hi, side="left"))
    if holes:
        return slice(nb, len(E)), slice(na, len(E))
    return slice(0, na), slice(0, nb)


def _project(U, X, g, W_rows, ac, wc):
    """Y = U (g o (U^+ X)): the operators in the band basis, weighted, and back.

    X (N, nop, m) = op U[:, cols]; g (N, m).  Columns ``wc`` use every band
    n' (all rows of U^+ X); columns ``ac`` (bands whose occupation never
    changes, see :func:`band_window`) only the bands ``W_rows`` on the other
    side of the window -- the pairs inside ``ac`` cancel.  Two GEMMs per
    column group; the band-basis matrices exist only for the rows used.
    """
    N, nop, m = X.shape
    Y = np.empty_like(X)
    for cs, rows in ((wc, slice(0, N)), (ac, W_rows)):
        k = cs.stop - cs.start
        if k <= 0:
            continue
        Ur = U[:, rows]
        nr = Ur.shape[1]
        Xs = X if k == m else np.ascontiguousarray(X[:, :, cs])
        Bt = (Ur.conj().T @ Xs.reshape(N, nop * k)).reshape(nr, nop, k)
        Bt *= g[rows, None, cs]
        Yc = (Ur @ Bt.reshape(nr, nop * k)).reshape(N, nop, k)
        if k == m:                      # wc and ac split the columns: this group is all of them
            return Yc
        Y[:, :, cs] = Yc
    return Y


def pair_ops(pairs):
    """The operators one k needs for the (polarization gamma, field beta) pairs ``pairs``
    (bool (3, 2); None = all): (betas, Q indices of :func:`op_index`)."""
    if pairs is None:
        pairs = np.ones((3, 2), dtype=bool)
    pairs = np.asarray(pairs, dtype=bool)
    betas = [b for b in range(2) if pairs[:, b].any()]
    qsel = [op_index(o, part, g) for o in range(2) for part in range(2) for g in range(3) if pairs[g].any()]
    return pairs, betas, sorted(qsel)


def kubo_k(layout: Layout, E, U, vb, qb, eta: float, cols: slice, always: slice | None = None,
           holes: bool = False, precision: str = "double", pairs=None):
    """Per-band layer-resolved contributions at one k.

    precision: "double" (complex128 throughout) or "mixed": the eigenvectors
    (from a complex128 eigensolve) and the operator blocks are rounded to
    complex64 and every product after the eigensolve runs in single
    precision; the result is still accumulated in float64.  Relative error
    per k ~1e-7 (``./run bench slab_kubo`` measures it; docs in the
    calculation's ``precision`` key).

    pairs: bool (3, 2) over (polarization gamma, field beta), or None for
    all six.  Only the marked combinations are computed (the operators of
    the other polarizations and fields are never transformed); the others
    are returned as exact zeros.  The calculation passes the combinations
    that the symmetry of its k-sum does not force to vanish.

    Returns c (m, 2, 12, 2, Nl) real, Angstrom^2: axis 1 direct/inverse,
    axis 2 the operator Q (:func:`op_index`), axis 3 beta (x, y), for the
    bands ``cols``.  With ``always`` (see :func:`band_window`) the pairs
    inside it are left out: then only the sum of c over ``always`` is
    meaningful (it is exact), the single values are not.
    """
    N = layout.n
    pairs, betas, qsel = pair_ops(pairs)
    nv, nq = len(betas), len(qsel)
    if precision == "mixed":
        # after the complex128 eigensolve: products in complex64 (2x the flop rate, half the memory)
        U = U.astype(np.complex64)
    dt = U.dtype
    # the operators this k needs: v_beta for the fields, then Q for the polarizations
    pb = [np.concatenate([v[betas], q[qsel]]).astype(dt, copy=False) for v, q in zip(vb, qb)]
    Uc = U[:, cols]
    m = Uc.shape[1]
    nl = layout.nl
    out = np.zeros((m, 2, N_OPS, 2, nl))
    if m == 0 or nv + nq == 0:
        return out
    if always is None or always.stop <= always.start:
        ac, wc, W_rows = slice(0, 0), slice(0, m), slice(0, N)
    elif not holes:                                    # electrons: always = the first bands of cols
        assert always.start == cols.start
        na = always.stop - always.start
        ac, wc, W_rows = slice(0, na), slice(na, m), slice(always.stop, N)
    else:                                              # holes: always = the last bands of cols
        assert always.stop == cols.stop
        ac, wc, W_rows = slice(always.start - cols.start, m), slice(0, always.start - cols.start), \
            slice(0, always.start)
    Ec = E[cols]
    g = (1.0 / ((E[:, None] - Ec[None, :]) ** 2 + eta ** 2)).astype(U.real.dtype)   # (N, m)
    X = layout.apply(pb, Uc)                                         # (N, nop, m): op U
    Y = _project(U, X, g, W_rows, ac, wc)                            # U (g o U^+ op U)
    Ucc = Uc.conj()
    gamma_of = np.array([q % 3 for q in qsel])
    for iv, b in enumerate(betas):
        sel = np.flatnonzero(pairs[gamma_of, b])                     # the Q paired with this field
        if len(sel) == 0:
            continue
        qs = [qsel[i] for i in sel]
        # direct: A = Q (local), B = v_beta (global)
        d = layout.local_response([blk[nv + sel] for blk in pb], Y[:, iv:iv + 1], Ucc, X[:, nv + sel],
                                  np.empty((nl, len(sel), 1, m)))
        out[:, 0, qs, b] = d[:, :, 0].transpose(2, 1, 0)
        # inverse: A = v_beta (local), B = Q (global)
        r = layout.local_response_one([blk[iv:iv + 1] for blk in pb], Y[:, nv + sel], Uc, X[:, iv:iv + 1],
                                      np.empty((nl, 1, len(sel), m)))
        out[:, 1, qs, b] = r[:, 0].transpose(2, 1, 0)
    return out


# ---- energy histogram -------------------------------------------------------

def histogram_edges(mu_abs, temperature_eV: float, resolution: float | None = None):
    """Bin edges (absolute eV) for the band-resolved accumulation.

    T = 0: the sorted requested Fermi energies themselves (exact).  T > 0: a
    uniform grid of width ``resolution`` (default kT/10) over
    [min mu - 40 kT, max mu + 40 kT], plus the requested energies.
    """
    mu = np.unique(np.asarray(mu_abs, dtype=float))
    if temperature_eV <= 0:
        if resolution:
            lo, hi = mu.min(), mu.max()
            n = int(np.ceil((hi - lo) / resolution)) if hi > lo else 0
            grid = lo + resolution * np.arange(n + 1)
            return np.unique(np.concatenate([grid[grid <= hi], mu]))
        return mu
    kT = temperature_eV
    d = resolution or kT / 10.0
    lo, hi = mu.min() - MARGIN_KT * kT, mu.max() + MARGIN_KT * kT
    n = int(np.ceil((hi - lo) / d))
    grid = lo + d * np.arange(n + 1)
    return np.unique(np.concatenate([grid, mu]))


def window(mu_abs, temperature_eV: float):
    """(w_lo, w_hi): bands outside have f = 1 (below) or 0 (above) for every mu."""
    mu = np.asarray(mu_abs, dtype=float)
    m = MARGIN_KT * temperature_eV if temperature_eV > 0 else 0.0
    return float(mu.min() - m), float(mu.max() + m)


def bin_centres(edges):
    """Centres of the len(edges)+1 bins (0 for the open under/overflow bins)."""
    edges = np.asarray(edges, dtype=float)
    c = np.zeros(len(edges) + 1)
    c[1:-1] = 0.5 * (edges[1:] + edges[:-1])
    return c


def accumulate(hist, edges, E, c, hist1=None, centres=None):
    """hist[(nbins, ...)] += contributions c[(m, ...)] of bands with energies E (ascending).

    With ``hist1`` (T > 0) also the first moment sum c_n (E_n - centre_b), which
    makes the Fermi-function weighting exact to second order in the bin width.
    """
    if len(E) == 0:
        return
    b = np.searchsorted(edges, E, side="right")          # bin b: edges[b-1] <= E < edges[b]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    hist[b[starts]] += np.add.reduceat(c, starts, axis=0)
    if hist1 is not None:
        inner = (b > 0) & (b < len(edges))
        dE = np.where(inner, E - centres[b], 0.0)
        hist1[b[starts]] += np.add.reduceat(c * dE.reshape((-1,) + (1,) * (c.ndim - 1)), starts, axis=0)


def occupation_weights(edges, mu_abs, temperature_eV: float, holes: bool, derivative=False):
    """F[(nE, nbins)] with sigma(mu) = sum_b F[mu, b] hist[b] (+ F'[mu, b] hist1[b]).

    Electrons: F = f(bin); holes: F = -(1 - f(bin)).  T = 0: f = 1 for the
    bins entirely below mu (mu is an edge, exact).  T > 0: Fermi function at
    the bin centres (and its energy derivative for the first-moment
    correction); the under/overflow bins lie beyond 40 kT.
    """
    edges = np.asarray(edges)
    mu = np.asarray(mu_abs, dtype=float)
    nb = len(edges) + 1
    if temperature_eV <= 0:
        j = np.searchsorted(edges, mu, side="left")       # mu == edges[j]
        f = (np.arange(nb)[None, :] <= j[:, None]).astype(float)
        if derivative:
            return np.zeros_like(f)
    else:
        centres = bin_centres(edges)
        x = (centres[None, 1:-1] - mu[:, None]) / temperature_eV
        f = np.empty((len(mu), nb))
        if derivative:
            f[:, 1:-1] = -0.25 / np.cosh(0.5 * x) ** 2 / temperature_eV
            f[:, 0] = f[:, -1] = 0.0
            return f
        f[:, 1:-1] = 0.5 * (1.0 - np.tanh(0.5 * x))
        f[:, 0] = 1.0
        f[:, -1] = 0.0
    return -(1.0 - f) if holes else f


def fermi_from_counts(edges, counts, n_target, temperature_eV: float):
    """Chemical potential with sum_b counts_b f(e_b) = n_target (states, k-summed).

    counts has len(edges) + 1 bins (under/overflow at the ends).  T = 0:
    linear interpolation inside the bin where the cumulative count crosses
    n_target.  T > 0: bisection with f at the bin centres.
    """
    counts = np.asarray(counts, dtype=float)
    if temperature_eV <= 0:
        cum = np.cumsum(counts)
        b = int(np.searchsorted(cum, n_target - 1e-9 * max(1.0, n_target), side="left"))
        b = min(max(b, 1), len(edges) - 1)
        before = cum[b - 1]
        inside = counts[b]
        lo, hi = edges[b - 1], edges[b]
        frac = 0.5 if inside <= 0 else np.clip((n_target - before) / inside, 0.0, 1.0)
        return float(lo + frac * (hi - lo))
    centres = 0.5 * (edges[1:] + edges[:-1])
    inner = counts[1:-1]

    def n_of(mu):
        return counts[0] + float(np.sum(inner * 0.5 * (1.0 - np.tanh(0.5 * (centres - mu) / temperature_eV))))
    lo, hi = float(edges[0]), float(edges[-1])
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if n_of(mid) < n_target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
