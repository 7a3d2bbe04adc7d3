"""Deck adapter of ``type = "diffusion"``: the [diffusion] table, its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.diffusion`; report: :mod:`hpcorb.report.diffusion`.
"""
from __future__ import annotations

import numpy as np

from ..api import diffusion as physics
from ..context import RunContext
from ..errors import DeckError
from ..report import diffusion as report
from ..resources import kspace_estimate, model_states
from ..schema import Key, Table
from .common import context, deck_model, model_from_keys

SCHEMA = Table("diffusion", [
    Key("energies", "grid", [0.0], "energies relative to the Fermi level: a list or {start, stop, num}",
        units="eV"),
    Key("gamma", "float", 0.1, "disorder broadening Gamma", units="eV", ge=1e-6, le=100.0),
    Key("soc_scales", "floats", None, "SOC strengths to scan in one run (0 = no SOC, 1 = the "
        "material's own); default [model] soc_scale (builtin toys: params.soc_scale)", ge=0.0),
    Key("fermi_energy", "float", None, "absolute Fermi energy (eV); default: from the electron count, "
        "for every SOC scale", units="eV"),
    Key("batch", "int", 4, "k-points per kernel call (4: the kernel's temporaries stay in cache; "
        "memory ~ batch * 2 MB for 18 bands, 100 energies)",
        ge=1, le=4096, physics=False),
], "bulk diffusivity tensors (paper 000)")

PHYSICS = physics.diffusion
REPORT = report
summary, plot = report.summary, report.plot
derived, operators = physics.derived, physics.operators


def check_deck(deck):
    k = deck["kmesh"]
    if k["size"] is None or len(k["size"]) != 3:
        raise DeckError("kmesh.size", k["size"] if k["size"] is not None else "(missing)",
                        "a diffusion deck needs a bulk mesh [kmesh] size = [n1, n2, n3]")
    if k["shift"] is not None and len(k["shift"]) != 3:
        raise DeckError("kmesh.shift", k["shift"], "expected 3 entries, one per mesh direction")
    m = deck["model"]
    if m.get("surface") is not None or m.get("layers") is not None:
        raise DeckError("model.surface", m.get("surface"), "diffusion is a bulk calculation; "
                        "remove [model] surface/layers")
    physics.soc_scales_of(deck["model"], deck["diffusion"]["soc_scales"])


def _prepare(deck, ctx=None):
    """(SOC scales, models, mesh) of a deck."""
    p = deck["diffusion"]
    model = model_from_keys(deck["model"], periodic=3)
    return physics.prepare(model, deck["kmesh"], p["fermi_energy"], p["soc_scales"], ctx or RunContext())


def validate(deck):
    _prepare(deck)


def call(deck, ctx, model=None):
    if model is None:
        model = deck_model(deck, ctx, periodic=3)
    return PHYSICS(model, kmesh=deck["kmesh"], context=ctx, **deck["diffusion"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["diffusion"]
    n, _ = model_states(deck)
    n_e = len(np.atleast_1d(p["energies"]))
    n_s = len(p["soc_scales"] or [1])
    # one kernel call: ~100 N x N complex work arrays per k; per energy the energy sum's g^*, g^*2
    # (poles <= batch * N), its complex result, its real part and the full-layout copy (333
    # components), and the chunk's charge/tensor sums per SOC scale with their update temporaries
    per_batch = 16.0 * p["batch"] * 100 * n * n + n_e * (48.0 * p["batch"] * n + (40.0 + 16.0 * n_s) * 333)
    # time per (irreducible) k and SOC scale: ./run bench diffusion, NRL Ta (18 bands), whole deck:
    # ~0.7-1.0 ms (kernel ~11 eigendecompositions, H(k), the Fermi stage; numpy overhead dominates)
    # results: charge (9) and tensor (324) per energy and SOC scale, float64
    return kspace_estimate(deck, n_ranks, template_bytes=8.0 * n_s * (n_e * 333 + 100000),
                           extra_bytes=per_batch, extra_key="diffusion.energies",
                           per_k_eigh=12.0 * n_s, per_k_overhead=0.8e-3 * n_s)
