"""Deck adapter of ``type = "dos"``: the [dos] table, its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.dos`; report: :mod:`hpcorb.report.dos`.
"""
from __future__ import annotations

from ..api import dos as physics
from ..errors import DeckError
from ..report import dos as report
from ..resources import kspace_estimate
from ..schema import Key, Table
from .common import context, deck_model, model_from_keys

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

PHYSICS = physics.dos
REPORT = report
summary, plot = report.summary, report.plot


def check_deck(deck):
    k = deck["kmesh"]
    if k["size"] is None:
        raise DeckError("kmesh.size", "(missing)", "a dos deck needs [kmesh] size = [n1, n2, n3] (or 2 for films)")
    if k["shift"] is not None and len(k["shift"]) != len(k["size"]):
        raise DeckError("kmesh.shift", k["shift"], f"expected {len(k['size'])} entries, one per mesh direction")


def validate(deck):
    """Checks that need the model (run by ./run check and before ranks start)."""
    model = model_from_keys(deck["model"], periodic=len(deck["kmesh"]["size"]))
    physics.prepare(model, deck["kmesh"], deck["dos"]["spin_degeneracy"])


def call(deck, ctx, model=None):
    if model is None:
        model = deck_model(deck, ctx, periodic=len(deck["kmesh"]["size"]))
    return PHYSICS(model, kmesh=deck["kmesh"], context=ctx, **deck["dos"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["dos"]
    ne = 2001 if p["energies"] is None else len(p["energies"])
    return kspace_estimate(deck, n_ranks, template_bytes=16.0 * p["bins"],
                           extra_bytes=8.0 * (4 * p["bins"] + 3 * ne), extra_key="dos.bins",
                           per_k_eigh=0.6)          # eigenvalues only + histogram
