"""Real-space solvers of the trilayer lattices (:class:`hpcorb.models.t2g.Lattice`).

  ky      periodic y and no disorder: H(k_y) blocks, exact; the half zone
          0 <= k_y <= pi (H(k_y) = H(-k_y)), k_y points distributed over ranks
          by the k-mesh engine (:func:`solve_ky`);
  dense   full diagonalization of the real-space Hamiltonian on rank 0
          (:func:`solve_dense`), broadcast;
  sparse  PETSc/SLEPc shift-and-invert windows, :mod:`hpcorb.solvers.slepc`
          (petsc4py/slepc4py are imported only when it runs).
:func:`solve` dispatches; :func:`free_energy` is the serial grand potential
used by the free-energy scans.  Energies in units of the hopping t.
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels import realspace as rs
from ..parallel.engine import Plan, run_chunks
from .slepc import column_split, solve_sparse  # noqa: F401 (column_split: one definition, re-exported)


def ky_points(ny):
    """Half zone 0 <= k <= pi of k = 2 pi j / ny with weights (sum = ny)."""
    j = np.arange(ny // 2 + 1)
    k = 2 * np.pi * j / ny
    w = np.where((j == 0) | (2 * j == ny), 1.0, 2.0)
    return k, w


def solve_ky(lat, T, comm, log=None, checkpoint=None, engine_kw=None, stage="ky"):
    """Column blocks (nrow = 1) and F by k_y blocks distributed over ranks."""
    if not lat.ky_even():
        raise ValueError("H(k_y) != H(-k_y): the half zone does not apply")
    k, w = ky_points(lat.ny)
    nx, no = lat.nx, lat.norb
    tmpl = {"on": ((nx + 2, 1, no, no), complex), "bx": ((nx + 1, 1, no, no), complex),
            "by": ((nx, 1, no, no), complex), "xx": ((nx, 1, no, no), complex),
            "yy": ((nx, 1, no, no), complex), "F": ((), float)}

    def kernel(start, stop):
        kk, ww = k[start:stop], w[start:stop]
        E, U = np.linalg.eigh(lat.hamiltonian_ky(kk))
        b = rs.ky_blocks(lat, E, U, kk, ww, T)
        out = b.arrays()
        out["F"] = np.asarray(b.F)
        return out

    chunk = max(1, min(64, math.ceil(len(k) / 64)))
    out = run_chunks(Plan(len(k), chunk), kernel, tmpl, comm, mode="sum", checkpoint=checkpoint,
                     stage=stage, log=log, label="k_y", **(engine_kw or {}))
    b = rs.Blocks(no, 0, nx, 1, True)
    for name in rs.BLOCK_NAMES:
        setattr(b, name, out[name] / lat.ny)
    b.F = float(out["F"])
    return b


def free_energy(lat, T, solver):
    """F of a whole lattice (serial): k_y eigenvalues or dense eigenvalues."""
    if solver == "ky":
        k, w = ky_points(lat.ny)
        F = 0.0
        for i in range(0, len(k), 64):
            E = np.linalg.eigvalsh(lat.hamiltonian_ky(k[i:i + 64]))
            F += float(np.sum(w[i:i + 64, None] * rs.grand_potential_terms(E, T)))
        return F
    E = np.linalg.eigvalsh(lat.hamiltonian().toarray())
    return float(np.sum(rs.grand_potential_terms(E, T)))


def solve_dense(lat, T, chunk=512):
    """Blocks of all sites from a full diagonalization, eigenvectors streamed in chunks."""
    E, U = np.linalg.eigh(lat.hamiltonian().toarray())
    b = rs.Blocks(lat.norb, 0, lat.nx, lat.ny, lat.periodic_y)
    for i in range(0, len(E), chunk):
        V = U[:, i:i + chunk].reshape(lat.nx, lat.ny, lat.norb, -1)
        b.add_vectors(V, E[i:i + chunk], T, lat.nx)
    return b, E


def solve(lat, T, solver, comm, log=None, checkpoint=None, engine_kw=None, sparse_opts=None):
    """Solve one lattice; returns dict with column observables (all ranks),
    per-site observables of this rank's columns (c0, c1, dict) or None, F, info."""
    info = {"solver": solver}
    if solver == "ky":
        b = solve_ky(lat, T, comm, log, checkpoint, engine_kw)
        site = rs.site_observables(lat, b)
        col = rs.column_average(site)
        return {"col": col, "site": None, "F": b.F, "info": info}
    if solver == "dense":
        res = None
        if comm.rank == 0:
            b, E = solve_dense(lat, T)
            site = rs.site_observables(lat, b)
            res = (rs.column_average(site), site, b.F)
        col, site_all, F = comm.bcast(res if comm.rank == 0 else None)
        site = (0, lat.nx, site_all) if comm.rank == 0 else (0, 0, {k: v[:0] for k, v in site_all.items()})
        return {"col": col, "site": site, "F": F, "info": info}
    if solver == "sparse":
        b, F, sinfo = solve_sparse(lat, T, comm, log=log, checkpoint=checkpoint,
                                   **(engine_kw or {}), **(sparse_opts or {}))
        info.update(sinfo)
        site = rs.site_observables(lat, b)
        colloc = rs.column_average(site)
        col = {}
        for k, v in colloc.items():
            full = np.zeros((lat.nx, 3))
            full[b.c0:b.c1] = v
            col[k] = comm.sum(full)
        return {"col": col, "site": (b.c0, b.c1, site), "F": F, "info": info}
    raise ValueError(solver)
