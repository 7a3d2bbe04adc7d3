"""``hpcorb.dos``: density of states and Fermi level of a tight-binding model.

One pass over the k-mesh (engine, MPI, checkpoints) accumulates a fine
eigenvalue histogram (:mod:`hpcorb.kernels.dos`); the broadened DOS on the
output grid and the Fermi level from the electron count follow from it.

Output: ``energy`` [nE] eV, ``dos`` [nE] states/eV/cell (spin degeneracy
included), ``integrated`` [nE] states/cell below E (T = 0), attribute
``fermi_energy`` (eV; NaN when no electron count is known).
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from ..io.results import Results
from ..kernels import dos as kdos
from ..models import lowdin
from ..parallel.engine import default_chunk_size
from ..result import Result
from ..symmetry import reduce_mesh
from .kspace import band_bounds, eigenvalue_histogram, kmesh_of, spin_degeneracy


def prepare(model, kmesh, spin_deg=None):
    """Mesh and spin degeneracy; raises DeckError for inconsistent input."""
    mesh = kmesh_of(kmesh, model)
    g = spin_deg or spin_degeneracy(model)
    if model.electrons is not None and model.electrons > g * model.norb:
        raise DeckError("model.electrons", model.electrons,
                        f"at most {g * model.norb} ({model.norb} bands x spin degeneracy {g})")
    return mesh, g


def dos(model, *, kmesh, context, broadening, smearing, energies, bins, spin_degeneracy):
    """DOS and Fermi level; keys as in the [dos] table (validated)."""
    ctx, log = context, context.log
    mesh, g = prepare(model, kmesh, spin_degeneracy)
    n_states = g * model.norb
    electrons = model.electrons
    lo, hi = band_bounds(model)
    pad = 1e-6 * max(1.0, hi - lo)
    emin, emax = lo - pad, hi + pad
    nbins = bins
    de = (emax - emin) / nbins
    log(f"dos: {model.name}, {model.norb} bands, mesh {mesh}, {mesh.n} k-points, "
        f"histogram {nbins} bins of {de * 1e3:.3g} meV")

    # eigenvalues are invariant under the point group and time reversal: irreducible points, weighted
    irr, rots = reduce_mesh(model, mesh, lowdin.hk, use=kmesh["symmetry"], time_reversal=True)
    log(f"dos: symmetry {'on' if kmesh['symmetry'] else 'off'}: {len(rots)} operations"
        f"{' + time reversal' if irr.n_ops > len(rots) else ''}, {irr.n} of {mesh.n} k-points")

    chunk = kmesh["chunk_size"] or default_chunk_size(irr.n)
    out = eigenvalue_histogram([model], mesh, ctx, [emin], [de], nbins, chunk, stage="eigenvalues",
                               energy_sums=True, points=irr)
    counts, esum = out["counts"][0], out["esum"][0]
    occ = np.flatnonzero(counts > 0)
    band_lo, band_hi = emin + occ[0] * de, emin + (occ[-1] + 1) * de
    if energies is None:
        w = broadening
        energies = np.linspace(band_lo - 5 * w, band_hi + 5 * w, 2001)
    energies = np.asarray(energies, dtype=float)
    dos_ = g * kdos.broadened_dos(counts, esum, energies, broadening, smearing)
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    edges = emin + de * np.arange(nbins + 1)
    integrated = g * np.interp(energies, edges, cum)
    if electrons is not None:
        ef = kdos.fermi_level(counts, emin, de, electrons / g)
        log(f"dos: Fermi level {ef:.6f} eV for {electrons:g} electrons per cell")
    else:
        ef = float("nan")
        log("dos: no electron count ([model] electrons): Fermi level not computed")

    res = Results("dos")
    res.add("energy", energies, "eV", "energy grid (absolute)")
    res.add("dos", dos_, "states/eV/cell",
            f"{smearing}-broadened density of states, spin degeneracy {g} included")
    res.add("integrated", integrated, "states/cell", "number of states below E (T = 0, unbroadened)")
    res.attrs.update({
        "fermi_energy": ef, "electrons": np.nan if electrons is None else electrons,
        "broadening_eV": broadening, "smearing": smearing, "spin_degeneracy": g,
        "n_bands": model.norb, "n_states": n_states, "kmesh": list(mesh.size),
        "kmesh_shift": mesh.shift.tolist(), "band_min_eV": band_lo, "band_max_eV": band_hi,
        "histogram_bin_eV": de, "model": model.name,
        "symmetry": bool(kmesh["symmetry"]), "symmetry_ops": len(rots),
        "symmetry_time_reversal": bool(irr.n_ops > len(rots)), "irreducible_k": irr.n,
    })
    res.add("symmetry_rotations", rots, "1", "Cartesian rotations (proper and improper) of the verified "
            "point-group operations used for the k-sum (identity only without symmetry)")
    return Result(res, ctx.comm)
