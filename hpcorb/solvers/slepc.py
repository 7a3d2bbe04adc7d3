"""SLEPc path for real-space lattices: distributed MPIAIJ + shift-and-invert windows.

Layout: rank r owns the columns c0..c1-1 (balanced contiguous split) and
assembles exactly the Hamiltonian rows of its columns (global column
indices) into a PETSc MPIAIJ matrix.

Strategy (why not SLEPc's built-in spectrum slicing): Krylov-Schur slicing
needs matrix inertia (Sylvester counts) from the factorization; PETSc's
complex builds provide no MatGetInertia for MUMPS (the only parallel
Cholesky with inertia), and our Hamiltonians are complex Hermitian whenever
m has components along the imaginary L matrices.  So the interval
[E_min, mu + window_kt T] is covered by a sequence of shift-and-invert
windows (the same building block slicing uses), left to right:

* E_min = Gershgorin lower bound (nothing below it);
* window at shift sigma: the nev eigenvalues nearest sigma (Krylov-Schur,
  LU by MUMPS or SuperLU_dist).  All eigenvalues closer to sigma than the
  outermost returned *level* are then known; the trust radius R is taken
  half-way between the outermost level and the next one inside, so window
  boundaries sit in spectral gaps and degenerate levels are never split;
* a window is accepted only when it covers the left boundary a
  (sigma - R <= a); its eigenpairs in [a, sigma + R) are "owned" and
  streamed; the next window starts at a = sigma + R.  Otherwise the shift
  moves closer to a and the window is redone.
* only the inner ``trust`` (default 75 %) of the returned eigenvalues (by
  distance from the shift) are trusted: Krylov-Schur converges the levels
  nearest the shift first, and a missed member of a degenerate pair (every
  level of a clean periodic lattice is two-fold, k_y and -k_y) sits at the
  rim.  (With trust = 1 a stress test of random systems missed levels in
  2 of 6 cases; with 0.75 none, also with subspace sizes 16 and 48.)
* consistency check: eigenvalues of a window that fall in the previous
  window's owned range must match in number; a window with fewer is redone
  with twice the nev, a previous window with fewer is an error.
* the cut at mu + window_kt T (default 40 T, occupation < 4e-18) instead of
  the suggested 10 T (4.5e-5, too coarse for 1e-10 agreement with the
  dense solver); window_kt is a deck key.

Checkpoints, signals, progress: after every window the ranks agree (one
small allreduce) on a SIGTERM/SIGUSR1/SIGINT received anywhere and on the
checkpoint interval; the checkpoint stage ``sparse_windows`` holds the
window loop's state (left edge a, step h, the previous window's owned
eigenvalues, counters) and the density-matrix blocks summed into global
column arrays, so a resumed run -- on any number of ranks -- skips the
completed windows.  Rank 0 logs windows done, states found, rate and ETA
(from the covered fraction of [E_min, mu + window_kt T]).

Streaming: for each owned eigenpair the distributed eigenvector is
scattered to this rank's columns plus one ghost column on either side, and
the window's vectors are folded into column-local density-matrix blocks
(:class:`hpcorb.kernels.realspace.Blocks`).  No rank ever holds more than
one window of (row-distributed) eigenvectors; the free energy comes from
the eigenvalues (identical on every rank).
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..errors import CheckpointStop, InputError, SystemFault
from ..kernels import realspace as rs
from ..log import fmt_seconds
from ..parallel import signals

STAGE = "sparse_windows"


def column_split(nx, size, rank):
    return nx * rank // size, nx * (rank + 1) // size


def estimate_bytes(nx, ny, norb, nev, size):
    """Rough peak memory per rank (bytes) of the sparse path on ``size`` ranks."""
    N = nx * ny * norb
    cols = math.ceil(nx / max(1, min(size, nx)))
    nloc = cols * ny * norb
    ncv = 2 * nev + 16
    krylov = nloc * ncv * 16 * 2                   # basis + eigenvectors, row-distributed
    window = (nloc + 2 * ny * norb) * nev * 16      # scattered local vectors of a window
    matrix = nloc * (7 * norb) * 24 * 2             # AIJ + copy for the shifted matrix
    sep = min(nx, ny) * norb
    factor = (30.0 * N * max(1.0, math.log2(N)) * 16) / max(1, size) + 16.0 * sep * sep
    # x 1.5: calibrated on the measured peaks of ./run bench trilayer (600-3,600 states)
    return float(1.5 * (krylov + window + matrix + factor) + 70e6)


def _petsc(comm):
    import petsc4py
    petsc4py.init([])
    from petsc4py import PETSc
    from slepc4py import SLEPc
    pcomm = PETSc.COMM_SELF if comm.size == 1 else PETSc.Comm(comm.comm)
    return PETSc, SLEPc, pcomm


def assemble(lat, comm):
    """MPIAIJ matrix with this rank's rows (its columns c0..c1-1); returns (A, c0, c1, Hloc)."""
    PETSc, _, pcomm = _petsc(comm)
    c0, c1 = column_split(lat.nx, comm.size, comm.rank)
    Hloc = lat.hamiltonian_rows(c0, c1)
    nloc, N = Hloc.shape[0], lat.n_states
    A = PETSc.Mat().createAIJ(size=((nloc, N), (nloc, N)), comm=pcomm,
                              csr=(Hloc.indptr.astype(PETSc.IntType),
                                   Hloc.indices.astype(PETSc.IntType),
                                   Hloc.data.astype(PETSc.ScalarType)))
    A.assemble()
    A.setOption(PETSc.Mat.Option.HERMITIAN, True)
    return A, c0, c1, Hloc


def gershgorin(Hloc, comm, row0):
    """Global lower and upper Gershgorin bounds."""
    H = Hloc.tocoo()
    diag = np.zeros(Hloc.shape[0])
    rad = np.zeros(Hloc.shape[0])
    on = H.col == H.row + row0
    np.add.at(diag, H.row[on], H.data[on].real)
    np.add.at(rad, H.row[~on], np.abs(H.data[~on]))
    lo = float(np.min(diag - rad)) if len(diag) else np.inf
    hi = float(np.max(diag + rad)) if len(diag) else -np.inf
    return -comm.max(-lo), comm.max(hi)


def _global_blocks(blocks, nx, comm):
    """Sum of every rank's owned block entries in global column arrays (rank 0)."""
    c0, c1 = blocks.c0, blocks.c1
    shp = blocks.on.shape[1:]
    g = {"on": np.zeros((nx + 2,) + shp, complex), "bx": np.zeros((nx + 1,) + shp, complex)}
    for k in ("by", "xx", "yy"):
        g[k] = np.zeros((nx,) + shp, complex)
    g["on"][c0 + 1:c1 + 1] = blocks.on[1:-1]
    g["bx"][c0:c1] = blocks.bx[:-1]
    for k in ("by", "xx", "yy"):
        g[k][c0:c1] = getattr(blocks, k)
    return {k: comm.sum(v, root=0) for k, v in g.items()}


def _restore_blocks(blocks, glob):
    """This rank's columns (with ghosts) from the global arrays of a checkpoint."""
    c0, c1 = blocks.c0, blocks.c1
    blocks.on[...] = glob["on"][c0:c1 + 2]
    blocks.bx[...] = glob["bx"][c0:c1 + 1]
    for k in ("by", "xx", "yy"):
        getattr(blocks, k)[...] = glob[k][c0:c1]


def _save_windows(checkpoint, blocks, state, nx, comm):
    glob = _global_blocks(blocks, nx, comm)
    msg = None
    if comm.rank == 0:
        arrays = {f"blocks/{k}": v for k, v in glob.items()}
        arrays["prev_owned"] = state.pop("prev_owned")
        try:
            checkpoint.save_group(STAGE, state, arrays)
        except SystemFault as exc:
            msg = str(exc)
    msg = comm.bcast(msg)
    if msg:
        raise SystemFault(msg)


def solve_sparse(lat, T, comm, log=None, nev=96, window_kt=40.0, tol=1e-13, factor="mumps",
                 max_retries=30, trust=0.75, method="krylovschur", checkpoint=None,
                 checkpoint_interval=300.0, progress_interval=10.0, sync_seconds=None):
    """Blocks of this rank's columns (and F) from SLEPc shift-and-invert windows.

    ``checkpoint``: a :class:`hpcorb.parallel.checkpoint.Checkpoint` (or None):
    completed windows are stored every ``checkpoint_interval`` seconds and on
    a signal (then :class:`CheckpointStop` on every rank), and skipped when
    the same deck runs again.  ``sync_seconds`` is accepted for symmetry with
    the engine (the ranks meet after every window anyway)."""
    PETSc, SLEPc, pcomm = _petsc(comm)
    t0 = time.time()
    log = log or (lambda *a: None)
    signals.install()
    A, c0, c1, Hloc = assemble(lat, comm)
    nx, ny, no = lat.nx, lat.ny, lat.norb
    N = lat.n_states
    row0 = c0 * ny * no
    e_lo, e_hi = gershgorin(Hloc, comm, row0)
    span = max(e_hi - e_lo, 1e-12)
    e_cut = window_kt * T if T > 0 else 0.0
    gap_tol = 1e-9 * max(1.0, span)
    a = e_lo - 1e-6 * span
    nev = int(min(nev, max(1, N - 1)))
    h = 0.5 * nev * span / N

    lo, hi = max(c0 - 1, 0), min(c1 + 1, nx)
    blocks = rs.Blocks(no, c0, c1, ny, lat.periodic_y)
    vr = A.createVecRight()
    nghost = (hi - lo) * ny * no
    is_from = PETSc.IS().createStride(nghost, lo * ny * no, 1, comm=PETSc.COMM_SELF)
    vloc = PETSc.Vec().createSeq(nghost, comm=PETSc.COMM_SELF)
    scatter = PETSc.Scatter().create(vr, is_from, vloc, None)

    n_windows = n_solves = n_mismatch = 0
    prev_owned = np.empty(0)
    prev_a = a
    peak_nev = nev
    e_stop = min(e_cut, e_hi)
    complete = False
    # ---- resume: completed windows are skipped
    saved = None
    if checkpoint is not None:
        if comm.rank == 0:
            saved = checkpoint.load_group(STAGE)
        saved = comm.bcast(saved)
    if saved is not None:
        attrs, arrays = saved
        if (int(attrs["nx"]), int(attrs["ny"]), int(attrs["norb"]), int(attrs["nev"])) != (nx, ny, no, nev):
            raise InputError(f"checkpoint {checkpoint.path}: stage {STAGE!r} is of another lattice; "
                             "delete it to start from scratch")
        _restore_blocks(blocks, {k: arrays[f"blocks/{k}"] for k in rs.BLOCK_NAMES})
        a, h, prev_a = float(attrs["a"]), float(attrs["h"]), float(attrs["prev_a"])
        prev_owned = np.asarray(arrays["prev_owned"], dtype=float)
        n_windows, n_solves, n_mismatch = int(attrs["windows"]), int(attrs["solves"]), int(attrs["redone"])
        peak_nev = int(attrs["peak_nev"])
        blocks.F, blocks.n_levels = float(attrs["F"]), int(attrs["levels"])
        complete = bool(attrs["complete"])
        log(f"sparse: resuming from checkpoint, {n_windows} windows done, {blocks.n_levels} states found"
            + (" (all windows)" if complete else ""))
    windows_start, t_start = n_windows, time.time()
    t_ckpt = t_progress = t_start
    a_start = a

    def state(done):
        return {"nx": nx, "ny": ny, "norb": no, "nev": nev, "a": a, "h": h, "prev_a": prev_a,
                "windows": n_windows, "solves": n_solves, "redone": n_mismatch, "peak_nev": peak_nev,
                "F": blocks.F, "levels": blocks.n_levels, "complete": int(done),
                "prev_owned": np.asarray(prev_owned, dtype=float)}

    while not complete and a <= e_stop:
        cur_nev = nev
        retries = 0
        while True:
            sigma = a + 0.8 * h
            eps = SLEPc.EPS().create(pcomm)
            eps.setOperators(A)
            eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
            eps.setType(method)
            eps.setDimensions(nev=cur_nev)
            eps.setTarget(sigma)
            eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
            eps.setTolerances(tol, 10000)
            st = eps.getST()
            st.setType(SLEPc.ST.Type.SINVERT)
            st.setShift(sigma)
            ksp = st.getKSP()
            ksp.setType(PETSc.KSP.Type.PREONLY)
            pc = ksp.getPC()
            pc.setType(PETSc.PC.Type.LU)
            pc.setFactorSolverType(factor)
            eps.solve()
            n_solves += 1
            nconv = eps.getConverged()
            lam = np.array([eps.getEigenvalue(i).real for i in range(nconv)])
            if nconv < cur_nev:
                eps.destroy()
                raise RuntimeError(f"SLEPc converged {nconv} of {cur_nev} eigenpairs near {sigma:.6g}")
            d = np.sort(np.abs(lam - sigma))
            # trust only the inner part of the returned set: Krylov-Schur converges the
            # eigenvalues nearest the shift first, a missed degenerate partner is at the rim
            dmax = d[max(0, int(math.ceil(trust * len(d))) - 1)]
            inner = d[d < dmax - gap_tol]
            if len(inner) == 0:
                eps.destroy()
                if cur_nev >= N - 1:
                    raise RuntimeError("sparse windows: a degenerate cluster as large as the matrix")
                cur_nev = min(2 * cur_nev, N - 1)    # a degenerate cluster wider than the window
                peak_nev = max(peak_nev, cur_nev)
                retries += 1
                if retries > max_retries:
                    raise RuntimeError("sparse windows: cannot resolve a degenerate cluster")
                continue
            else:
                R = 0.5 * (dmax + inner.max())
            if sigma - R > a:
                eps.destroy()
                h = 0.9 * R                            # higher density near a: move the shift closer
                retries += 1
                if retries > max_retries:
                    raise RuntimeError("sparse windows: shift does not converge to a covering window")
                continue
            # consistency with the previous window's owned eigenvalues
            lo_chk = max(sigma - R, prev_a)
            n_prev = int(np.sum((prev_owned >= lo_chk) & (prev_owned < a)))
            n_here = int(np.sum((lam >= lo_chk) & (lam < a)))
            if n_here < n_prev and retries < max_retries and cur_nev < N - 1:
                eps.destroy()                          # this window missed a level: redo it larger
                cur_nev = min(2 * cur_nev, N - 1)
                peak_nev = max(peak_nev, cur_nev)
                retries += 1
                n_mismatch += 1
                continue
            if n_prev != n_here:
                eps.destroy()
                raise RuntimeError(f"sparse windows disagree on [{lo_chk:.6g}, {a:.6g}): "
                                   f"{n_prev} vs {n_here} eigenvalues (incomplete Krylov result)")
            break
        b_edge = sigma + R
        owned = np.flatnonzero((lam >= a) & (lam < b_edge))
        use = owned[lam[owned] <= e_cut] if T > 0 else owned[lam[owned] <= 0]
        if len(use):
            V = np.empty((nghost, len(use)), dtype=complex)
            for j, i in enumerate(use):
                eps.getEigenvector(int(i), vr)
                scatter.scatter(vr, vloc, PETSc.InsertMode.INSERT_VALUES, PETSc.ScatterMode.FORWARD)
                V[:, j] = vloc.getArray(readonly=True)
            blocks.add_vectors(V.reshape(hi - lo, ny, no, -1), lam[use], T, nx)
        eps.destroy()
        n_windows += 1
        prev_owned, prev_a = lam[owned], a
        a = b_edge
        h = R
        signals.fault_point(comm.rank)
        # ---- sync: signals anywhere, checkpoint interval (rank 0's clock), progress
        now = time.time()
        due = comm.bcast(checkpoint is not None and checkpoint_interval > 0 and
                         now - t_ckpt >= checkpoint_interval and a <= e_stop)
        caught = comm.allgather(signals.STATE.caught)
        caught = [c for c in caught if c]
        if checkpoint is not None and (due or caught):
            _save_windows(checkpoint, blocks, state(False), nx, comm)
            t_ckpt = time.time()
            log(f"sparse: checkpoint written ({n_windows} windows, {blocks.n_levels} states) "
                f"in {t_ckpt - now:.2f} s -> {checkpoint.path}")
        if caught:
            log(f"sparse: received {signals.received(caught[0])}; stopping after the checkpoint "
                "(run the same command again to resume)")
            raise CheckpointStop(caught[0])
        if now - t_progress >= progress_interval and a <= e_stop:
            frac = (a - a_start) / max(e_stop - a_start, 1e-300)
            el = now - t_start
            rate = (n_windows - windows_start) / max(el, 1e-9)
            eta = el * (1 - frac) / frac if frac > 0 else float("inf")
            log(f"sparse: windows {n_windows}, {blocks.n_levels} states found, up to E = {a:.6g} of "
                f"{e_stop:.6g} ({100 * min(frac, 1):.0f}%), {rate:.2f} windows/s, ETA {fmt_seconds(eta)}")
            t_progress = now
    if checkpoint is not None and not complete:
        _save_windows(checkpoint, blocks, state(True), nx, comm)
    info = {"windows": n_windows, "solves": n_solves, "levels": int(blocks.n_levels),
            "window_nev": int(peak_nev), "e_cut": float(e_cut), "e_min": float(e_lo),
            "seconds": time.time() - t0, "factor": factor,
            "redone_windows": n_mismatch, "trust": trust}
    log(f"sparse: {n_windows} windows ({n_solves} solves), {blocks.n_levels} levels below "
        f"mu + {window_kt:g} T, {info['seconds']:.2f} s")
    scatter.destroy(); vloc.destroy(); vr.destroy(); is_from.destroy(); A.destroy()
    return blocks, blocks.F, info
