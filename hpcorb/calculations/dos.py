"""``type = "dos"``: density of states and Fermi level of a tight-binding model.

One pass over the k-mesh (engine, MPI, checkpoints) accumulates a fine
eigenvalue histogram (:mod:`hpcorb.kernels.dos`); the broadened DOS on the
output grid and the Fermi level from the electron count follow from it.

Output: ``/dos/energy`` [nE] eV, ``/dos/dos`` [nE] states/eV/cell (spin
degeneracy included), ``/dos/integrated`` [nE] states/cell below E (T = 0),
attribute ``fermi_energy`` (eV; NaN when no electron count is known).
"""
from __future__ import annotations

import numpy as np

from ..config import Key, Table, engine_options, kspace_estimate
from ..errors import DeckError
from ..io.results import Results
from ..kernels import dos as kdos
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..parallel.kmesh import KMesh
from ..symmetry import reduce_mesh

SCHEMA = Table("dos", [
    Key("broadening", "float", 0.05, "width of the broadening function", units="eV", gt=0.0,
        le=100.0),
    Key("smearing", "str", "gaussian", "broadening function (Gaussian sigma or Lorentzian HWHM)",
        choices=("gaussian", "lorentzian")),
    Key("energies", "grid", None, "output energies, absolute (default: band range +- 5 broadening, "
        "2001 points)", units="eV"),
    Key("bins", "int", 200000, "histogram bins over the band range (Fermi level resolution)", ge=100,
        le=50_000_000),
    Key("spin_degeneracy", "int", None, "states per band (default 2 for spinless models, 1 for spinful)",
        choices=(1, 2)),
], "density of states and Fermi level")


def check_deck(deck):
    k = deck["kmesh"]
    if k["size"] is None:
        raise DeckError("kmesh.size", "(missing)", "a dos deck needs [kmesh] size = [n1, n2, n3] (or 2 for films)")
    if k["shift"] is not None and len(k["shift"]) != len(k["size"]):
        raise DeckError("kmesh.shift", k["shift"], f"expected {len(k['size'])} entries, one per mesh direction")


def _model(deck):
    from ..models.build import build_model
    return build_model(deck["model"], periodic=len(deck["kmesh"]["size"]))


def _prepare(deck):
    """Model, mesh and spin degeneracy; raises DeckError for inconsistent input."""
    model = _model(deck)
    mesh = KMesh(deck["kmesh"]["size"], deck["kmesh"]["shift"])
    if mesh.dim != model.periodic:
        raise DeckError("kmesh.size", deck["kmesh"]["size"],
                        f"the model is periodic in {model.periodic} directions; give {model.periodic} sizes")
    g = deck["dos"]["spin_degeneracy"] or (1 if model.n_spin == 2 else 2)
    if model.electrons is not None and model.electrons > g * model.norb:
        raise DeckError("model.electrons", model.electrons,
                        f"at most {g * model.norb} ({model.norb} bands x spin degeneracy {g})")
    return model, mesh, g


def validate(deck):
    """Checks that need the model (run by ./run check and before ranks start)."""
    _prepare(deck)


def run(deck, comm, log, checkpoint):
    p = deck["dos"]
    model, mesh, g = _prepare(deck)
    n_states = g * model.norb
    electrons = model.electrons
    lo, hi = _energy_bounds(model)
    pad = 1e-6 * max(1.0, hi - lo)
    emin, emax = lo - pad, hi + pad
    nbins = p["bins"]
    de = (emax - emin) / nbins
    log(f"dos: {model.name}, {model.norb} bands, mesh {mesh}, {mesh.n} k-points, "
        f"histogram {nbins} bins of {de * 1e3:.3g} meV")

    from ..models import lowdin
    # eigenvalues are invariant under the point group and time reversal: irreducible points, weighted
    irr, rots = reduce_mesh(model, mesh, lowdin.hk, use=deck["kmesh"]["symmetry"], time_reversal=True)
    log(f"dos: symmetry {'on' if deck['kmesh']['symmetry'] else 'off'}: {len(rots)} operations"
        f"{' + time reversal' if irr.n_ops > len(rots) else ''}, {irr.n} of {mesh.n} k-points")

    def kernel(start, stop):
        kf = irr.frac(start, stop)
        w = irr.weights(start, stop)
        eigs = np.linalg.eigvalsh(lowdin.hk(model, kf))
        counts = np.zeros(nbins)
        esum = np.zeros(nbins)
        for wk in np.unique(w):                 # orbit sizes: a few distinct weights
            c, e = kdos.histogram(eigs[w == wk], wk * mesh.weight, emin, nbins, de)
            counts += c
            esum += e
        return {"counts": counts, "esum": esum}

    chunk = deck["kmesh"]["chunk_size"] or default_chunk_size(irr.n)
    tmpl = {"counts": ((nbins,), float), "esum": ((nbins,), float)}
    out = run_chunks(Plan(irr.n, chunk), kernel, tmpl, comm, checkpoint=checkpoint, stage="eigenvalues",
                     log=log, label="k-points", **engine_options(deck))
    counts, esum = out["counts"], out["esum"]
    occ = np.flatnonzero(counts > 0)
    band_lo, band_hi = emin + occ[0] * de, emin + (occ[-1] + 1) * de
    energies = p["energies"]
    if energies is None:
        w = p["broadening"]
        energies = np.linspace(band_lo - 5 * w, band_hi + 5 * w, 2001)
    energies = np.asarray(energies, dtype=float)
    dos = g * kdos.broadened_dos(counts, esum, energies, p["broadening"], p["smearing"])
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
    res.add("dos", dos, "states/eV/cell",
            f"{p['smearing']}-broadened density of states, spin degeneracy {g} included")
    res.add("integrated", integrated, "states/cell", "number of states below E (T = 0, unbroadened)")
    res.attrs.update({
        "fermi_energy": ef, "electrons": np.nan if electrons is None else electrons,
        "broadening_eV": p["broadening"], "smearing": p["smearing"], "spin_degeneracy": g,
        "n_bands": model.norb, "n_states": n_states, "kmesh": list(mesh.size),
        "kmesh_shift": mesh.shift.tolist(), "band_min_eV": band_lo, "band_max_eV": band_hi,
        "histogram_bin_eV": de, "model": model.name,
        "symmetry": bool(deck["kmesh"]["symmetry"]), "symmetry_ops": len(rots),
        "symmetry_time_reversal": bool(irr.n_ops > len(rots)), "irreducible_k": irr.n,
    })
    res.add("symmetry_rotations", rots, "1", "Cartesian rotations (proper and improper) of the verified "
            "point-group operations used for the k-sum (identity only without symmetry)")
    return res


def _energy_bounds(model):
    """Bounds on all eigenvalues: rigorous (Gershgorin) for orthogonal models;
    for non-orthogonal ones a sample of k widened by the sampled band width."""
    if model.S is None:
        return kdos.gershgorin_bounds(model.H)
    from ..models import lowdin
    k = np.random.default_rng(0).random((64, model.periodic))
    e = np.linalg.eigvalsh(lowdin.hk(model, k))
    span = e.max() - e.min()
    return e.min() - 0.5 * span, e.max() + 0.5 * span


def summary(h5) -> str:
    g = h5["dos"]
    a = g.attrs
    e, d = g["energy"][...], g["dos"][...]
    lines = [
        f"density of states of {a.get('model', '?')}: {a['n_bands']} bands, spin degeneracy {a['spin_degeneracy']}, "
        f"k-mesh {'x'.join(str(int(x)) for x in a['kmesh'])}",
        f"  bands from {a['band_min_eV']:.4f} to {a['band_max_eV']:.4f} eV; "
        f"{a['smearing']} broadening {a['broadening_eV']:g} eV",
        f"  integral of DOS over the grid: {np.trapz(d, e):.6f} states/cell (of {a['n_states']})",
    ]
    ef = float(a["fermi_energy"])
    if np.isfinite(ef):
        lines.append(f"  Fermi energy: {ef:.6f} eV for {float(a['electrons']):g} electrons; "
                     f"DOS(E_F) = {np.interp(ef, e, d):.5f} states/eV/cell")
    return "\n".join(lines)


def plot(h5, stem):
    from ..plot import plt, save_figure
    g = h5["dos"]
    e, d = g["energy"][...], g["dos"][...]
    ef = float(g.attrs["fermi_energy"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(e, d, lw=1.2)
    if np.isfinite(ef):
        ax.axvline(ef, color="k", ls="--", lw=0.8, label=f"$E_F$ = {ef:.3f} eV")
        ax.legend()
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel("DOS (states/eV/cell)")
    ax.set_title(f"DOS of {g.attrs.get('model', '')}")
    fig.tight_layout()
    return [save_figure(fig, stem, "_dos.png", dpi=120)]


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["dos"]
    ne = 2001 if p["energies"] is None else len(p["energies"])
    return kspace_estimate(deck, n_ranks, template_bytes=16.0 * p["bins"],
                           extra_bytes=8.0 * (4 * p["bins"] + 3 * ne), extra_key="dos.bins")
