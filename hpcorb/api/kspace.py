"""Stages shared by the k-space calculations (dos, bands, diffusion, slab_kubo).

* :func:`spin_degeneracy` -- states per band: 2 for spinless models, 1 for spinful;
* :func:`kmesh_of` -- the :class:`KMesh` of a validated ``[kmesh]`` table,
  checked against the model's periodicity;
* :func:`band_bounds` -- energy bounds of every band (eV);
* :func:`eigenvalue_histogram` / :func:`fermi_levels` -- the one Fermi-level
  stage: a fine eigenvalue histogram over the k-mesh (k-mesh engine: MPI,
  chunks, checkpoint) and the energy where it holds the electron count.
  slab_kubo's Fermi level at finite temperature uses the same histogram with
  its own (fixed-width) bins and the Fermi function (:func:`fermi_level_kT`).
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from ..kernels import dos as kdos
from ..kernels import kubo as K
from ..models import lowdin
from ..parallel.engine import Plan, run_chunks
from ..parallel.kmesh import KMesh
from ..symmetry import full_mesh


def spin_degeneracy(model) -> int:
    """Electrons per band and cell: 1 for spinful models (n_spin == 2), else 2."""
    return 1 if model.n_spin == 2 else 2


def kmesh_of(kmesh: dict, model=None, *, default=None) -> KMesh:
    """KMesh from a validated [kmesh] table (``default`` size when none given)."""
    size = kmesh["size"] or default
    mesh = KMesh(size, kmesh["shift"])
    if model is not None and mesh.dim != model.periodic:
        raise DeckError("kmesh.size", size,
                        f"the model is periodic in {model.periodic} directions; give {model.periodic} sizes")
    return mesh


def lowdin_eigenvalues(model, kfrac):
    """Band energies (nk, N), eV, of the Loewdin-orthogonalized H(k)."""
    return np.linalg.eigvalsh(lowdin.hk(model, kfrac))


def band_bounds(model):
    """Bounds on all eigenvalues: rigorous (Gershgorin) for orthogonal models;
    for non-orthogonal ones a sample of k widened by the sampled band width."""
    if model.S is None:
        return kdos.gershgorin_bounds(model.H)
    k = np.random.default_rng(0).random((64, model.periodic))
    e = np.linalg.eigvalsh(lowdin.hk(model, k))
    span = e.max() - e.min()
    return e.min() - 0.5 * span, e.max() + 0.5 * span


def eigenvalue_histogram(models, mesh, ctx, emins, des, nbins, chunk, *, stage="fermi",
                         eigenvalues=lowdin_eigenvalues, energy_sums=False, points=None):
    """Weighted eigenvalue counts per model on the mesh: ``counts`` (nS, nbins)
    (and ``esum`` (nS, nbins), the weighted eigenvalue sums per bin), bins
    ``[emins[s] + i des[s], ...)``.  ``points``: the irreducible points with
    their weights (orbit sizes, :mod:`hpcorb.symmetry`) to sum over; default
    the full mesh.  Identical on every rank."""
    nS = len(models)
    points = points or full_mesh(mesh)

    def kernel(start, stop):
        kf = points.frac(start, stop)
        w = points.weights(start, stop)
        counts = np.zeros((nS, nbins))
        esum = np.zeros((nS, nbins)) if energy_sums else None
        for s, m in enumerate(models):
            eigs = eigenvalues(m, kf)
            for wk in np.unique(w):             # orbit sizes: a few distinct weights
                c, e = kdos.histogram(eigs[w == wk], wk * mesh.weight, emins[s], nbins, des[s])
                counts[s] += c
                if energy_sums:
                    esum[s] += e
        return {"counts": counts, "esum": esum} if energy_sums else {"counts": counts}

    tmpl = {"counts": ((nS, nbins), float)}
    if energy_sums:
        tmpl["esum"] = ((nS, nbins), float)
    return run_chunks(Plan(points.n, chunk), kernel, tmpl, ctx.comm, stage=stage, label="k-points",
                      **ctx.engine())


def fermi_levels(counts, emins, des, electrons, degeneracies):
    """Per model: the energy (eV) below which the histogram holds ``electrons``."""
    return np.array([kdos.fermi_level(counts[s], emins[s], des[s], electrons[s] / degeneracies[s])
                     for s in range(len(counts))])


def fermi_level_kT(model, mesh, n_el_bands, kT, ctx, chunk, hk0, *, de=5e-4, stage="fermi"):
    """Fermi level at temperature kT (eV) from a fixed-width (``de``) eigenvalue
    histogram on the mesh (slab_kubo): ``n_el_bands`` electrons per cell per
    spin degeneracy; ``hk0`` is H at Gamma (sets the histogram range).
    ``mesh``: irreducible points with weights (``.mesh`` the full mesh)."""
    E0 = np.linalg.eigvalsh(hk0)
    span = E0.max() - E0.min()
    lo, hi = E0.min() - span - 10.0, E0.max() + span + 10.0
    edges = lo + de * np.arange(int(np.ceil((hi - lo) / de)) + 1)

    def kernel(start, stop):
        e = np.linalg.eigvalsh(lowdin.hk(model, mesh.frac(start, stop)))
        b = np.searchsorted(edges, e.ravel(), side="right")
        w = np.repeat(mesh.weights(start, stop), e.shape[1])      # orbit sizes (1 without symmetry)
        return {"counts": np.bincount(b, weights=w, minlength=len(edges) + 1)}

    out = run_chunks(Plan(mesh.n, chunk), kernel, {"counts": ((len(edges) + 1,), float)}, ctx.comm,
                     stage=stage, label="k-points", **ctx.engine())
    return K.fermi_from_counts(edges, out["counts"], n_el_bands * mesh.mesh.n, kT)
