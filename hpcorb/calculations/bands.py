"""Deck adapter of ``type = "bands"``: the [bands] table, its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.bands`; report: :mod:`hpcorb.report.bands`.
"""
from __future__ import annotations

from ..api import bands as physics
from ..errors import DeckError
from ..report import bands as report
from ..resources import kspace_estimate, model_states
from ..schema import Key, Table
from .common import context, deck_model, model_from_keys

SCHEMA = Table("bands", [
    Key("npoints", "int", 300, "k-points along the whole path (shared by segment length)", ge=2),
    Key("path", "any", None, "custom path: list of points [\"LABEL\", f1, f2(, f3)] in fractional "
        "reciprocal coordinates; the string \"|\" starts a new branch (default: per lattice)"),
    Key("broadening", "float", 0.05, "Gaussian broadening of the DOS", units="eV", ge=1e-6, le=100.0),
    Key("bins", "int", 200000, "histogram bins for DOS and Fermi level", ge=100, le=50_000_000),
    Key("window", "floats", [-8.0, 6.0], "energy window of the plot, relative to E_F", units="eV", length=2),
], "band structure, DOS and Fermi level")

PHYSICS = physics.bands
REPORT = report
summary, plot = report.summary, report.plot


def check_deck(deck):
    k = deck["kmesh"]
    if k["shift"] is not None and k["size"] is not None and len(k["shift"]) != len(k["size"]):
        raise DeckError("kmesh.shift", k["shift"], f"expected {len(k['size'])} entries")
    lo, hi = deck["bands"]["window"]
    if not lo < hi:
        raise DeckError("bands.window", [lo, hi], "expected [lower, upper] with lower < upper")


def _periodic(deck):
    size = deck["kmesh"]["size"]
    return None if size is None else len(size)


def validate(deck):
    model = model_from_keys(deck["model"], periodic=_periodic(deck))
    if deck["bands"]["path"] is not None:
        physics.custom_path(model, deck["bands"]["path"])


def call(deck, ctx, model=None):
    if model is None:
        model = deck_model(deck, ctx, periodic=_periodic(deck))
    return PHYSICS(model, kmesh=deck["kmesh"], context=ctx, **deck["bands"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["bands"]
    n, _ = model_states(deck)
    path_bytes = 8.0 * 3 * p["npoints"] * n
    return kspace_estimate(deck, n_ranks, template_bytes=16.0 * p["bins"],
                           extra_bytes=8.0 * 4 * p["bins"] + path_bytes,
                           extra_key="bands.npoints" if path_bytes > 32.0 * p["bins"] else "bands.bins",
                           per_k_eigh=0.6, extra_items=p["npoints"])     # eigenvalues: mesh DOS + path
