"""Deck adapter of ``type = "slab_kubo"``: the [slab_kubo] table, its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.slab_kubo`; report: :mod:`hpcorb.report.slab_kubo`.
"""
from __future__ import annotations

import numpy as np

from ..api import slab_kubo as physics
from ..errors import DeckError
from ..report import slab_kubo as report
from ..resources import kspace_estimate
from ..schema import Key, Table
from .common import context, deck_model, model_from_keys

SCHEMA = Table("slab_kubo", [
    Key("energies", "grid", [0.0], "Fermi energies relative to E_F: list or {start, stop, num}", units="eV"),
    Key("eta", "float", 0.1, "broadening eta of the Kubo formula", units="eV", ge=1e-6, le=100.0),
    Key("temperature", "float", 0.0, "temperature of the Fermi function", units="K", ge=0.0, le=1e5),
    Key("fermi_energy", "float", None, "absolute Fermi energy (default: from the electron count "
        "on the same k-mesh)", units="eV"),
    Key("surface_layers", "int", None, "layers counted as surface at each vacuum side (Table 1); "
        "default 3, or half the film when it is thinner; at most half the film", ge=0),
    Key("mode", "str", "film", "film: layer-resolved 2D film; bulk: 3D crystal (one 'layer')",
        choices=("film", "bulk")),
    Key("precision", "str", "double", "arithmetic after the complex128 eigensolve: double (complex128) or "
        "mixed (complex64 products, ~2x faster; measured relative change of the Table-1 numbers in "
        "docs/speed.md)", choices=("double", "mixed")),
    Key("energy_resolution", "float", None, "energy-histogram bin width (default: exact at T = 0 "
        "with the requested energies as bin edges; kT/10 at T > 0)", units="eV", ge=1e-6, le=10.0),
], "layer-resolved direct/inverse orbital and spin Hall responses (paper 003)")

PHYSICS = physics.slab_kubo
REPORT = report
summary, plot = report.summary, report.plot
# names the tests and benchmarks use
Setup, make_kernel, finish, to_contract = physics.Setup, physics.make_kernel, physics.finish, physics.to_contract
_symmetry, _rebuild_hist = physics._symmetry, physics._rebuild_hist
KINDS, OPS, PARTS, K_B = physics.KINDS, physics.OPS, physics.PARTS, physics.K_B
decompose, table1, TABLE1_ROWS = report.decompose, report.table1, report.TABLE1_ROWS


def check_deck(deck):
    p = deck["slab_kubo"]
    k = deck["kmesh"]
    if k["size"] is None:
        want = "[n1, n2]" if p["mode"] == "film" else "[n1, n2, n3]"
        raise DeckError("kmesh.size", "(missing)", f"a slab_kubo deck needs [kmesh] size = {want}")
    dim = 2 if p["mode"] == "film" else 3
    if len(k["size"]) != dim:
        raise DeckError("kmesh.size", k["size"], f"mode = \"{p['mode']}\" needs {dim} mesh sizes")
    if k["shift"] is not None and len(k["shift"]) != dim:
        raise DeckError("kmesh.shift", k["shift"], f"expected {dim} entries, one per mesh direction")
    if p["mode"] == "film" and deck["model"].get("material") and not deck["model"].get("surface"):
        raise DeckError("model.surface", None, "mode = \"film\" with a material needs surface and layers "
                        "(or use mode = \"bulk\")")
    if p["mode"] == "bulk" and deck["model"].get("surface"):
        raise DeckError("slab_kubo.mode", "bulk", "a film model (surface set) needs mode = \"film\"")
    e = np.asarray(p["energies"])
    if len(np.unique(e)) != len(e):
        raise DeckError("slab_kubo.energies", e.tolist(), "energies must be distinct")
    layers = deck["model"].get("layers")
    if p["mode"] == "film" and layers is not None and p["surface_layers"] is not None \
            and 2 * p["surface_layers"] > layers:
        raise DeckError("slab_kubo.surface_layers", p["surface_layers"],
                        f"at most {layers // 2} (half of model.layers = {layers}) per side")


def _periodic(deck):
    return 2 if deck["slab_kubo"]["mode"] == "film" else 3


def validate(deck):
    p = deck["slab_kubo"]
    model = model_from_keys(deck["model"], periodic=_periodic(deck))
    physics.prepare(model, deck["kmesh"], p["mode"], p["fermi_energy"])


def call(deck, ctx, model=None):
    if model is None:
        model = deck_model(deck, ctx, periodic=_periodic(deck))
    return PHYSICS(model, kmesh=deck["kmesh"], context=ctx, **deck["slab_kubo"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["slab_kubo"]
    n_e = len(np.atleast_1d(p["energies"]))
    layers = deck["model"].get("layers") or 1
    bins, key = 4 * n_e + 8, "slab_kubo.energies"
    if p["energy_resolution"] is not None:            # histogram over ~40 eV of bands
        bins, key = max(bins, 40.0 / p["energy_resolution"]), "slab_kubo.energy_resolution"
    hist = bins * 2 * 4 * 2 * layers * 8.0
    # time per irreducible k: eigh + operator blocks + kernel (~1.9 eigh, ./run bench slab_kubo)
    # + the wider window of many energies + the Fermi pass: ~3 eigh
    return kspace_estimate(deck, n_ranks, template_bytes=hist, per_k_matrices=10,
                           extra_bytes=2 * hist, extra_key=key, per_k_eigh=3.0,
                           per_k_overhead=1e-3)   # the kernel's numpy calls (bulk Pt, 18 bands: ~1 ms per k)
