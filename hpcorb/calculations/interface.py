"""Deck adapter of ``type = "interface"``: the [interface] table, its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.interface`; report: :mod:`hpcorb.report.interface`.
"""
from __future__ import annotations

import numpy as np

from ..api import interface as physics
from ..api.interface import SWEEP_PARAMETERS
from ..errors import DeckError
from ..report import interface as report
from ..resources import Estimate
from ..schema import REQUIRED, Key, Table
from .common import context

SCHEMA = Table("interface", [
    Key("U", "float", 0.5, "potential step of the right layer (must be below E_F)", units="E_F", ge=-1e4,
        lt=1.0),
    Key("r", "float", 0.5, "crystal-field strength r of r (L.k)^2", units="hbar^2/2m", ge=0.0,
        le=1e4),
    Key("alpha", "float", 0.0, "interfacial orbital Rashba alpha_R (alpha_R k_F^2/E_F)", units="hbar^2/2m",
        ge=-1e4, le=1e4),
    Key("incident", "strs", ["x", "y", "z"], "incident dipole states |L_x>, |L_y>, |L_z>",
        choices=("x", "y", "z")),
    Key("z_max", "float", 30.0, "end of the z window of the profiles", units="1/k_F", gt=0.0),
    Key("nz", "int", 601, "number of z points (0 ... z_max)", ge=2),
    Key("tolerance", "float", 1e-8, "target absolute accuracy of the Fermi-averaged profiles",
        gt=0.0),
    Key("limits_tolerance", "float", 1e-10, "target absolute accuracy of the interface values, "
        "z -> infinity limits and torque integral", gt=0.0),
    Key("max_points", "int", 4096, "most Gauss-Legendre points per kappa sub-interval", ge=16),
    Key("transparency", "floats", [2.0], "rho_R l_R / AR_I values for the memory loss (Eq. 9)", ge=0.0),
    Key("k_F", "float", 1.0e10, "Fermi wave vector (torque scale)", units="1/m", gt=0.0),
    Key("D", "float", 10.0, "thickness of the right layer (torque average)", units="nm", gt=0.0),
    Key("radius", "float", 1.0, "radius of the rotated cylinder", units="nm", gt=0.0),
    Key("height", "float", 10.0, "height of the rotated cylinder", units="nm", gt=0.0),
    Key("density", "float", 2700.0, "mass density of the cylinder (aluminium)", units="kg/m^3", gt=0.0),
    Key("mass", "float", None, "cylinder mass (overrides density * volume; paper: 8.48e-23)",
        units="kg", gt=0.0),
], "orbital transmission across a metallic interface (paper 002)", subtables=[
    Table("sweep", [
        Key("parameter", "str", REQUIRED, "deck key scanned", choices=SWEEP_PARAMETERS),
        Key("values", "grid", REQUIRED, "values of the parameter (list or {start, stop, num})"),
        Key("profiles", "bool", False, "also store the z profiles of every point"),
    ], "scan of one parameter; each point is a full calculation (distributed over ranks)"),
])

PHYSICS = physics.interface
REPORT = report
summary, plot = report.summary, report.plot
# names the tests and benchmarks use
converge, derived, INC_ORDER = physics.converge, physics.derived, physics.INC_ORDER
_profile_arrays, _limit_arrays, _mass = physics._profile_arrays, physics._limit_arrays, physics._mass


def check_deck(deck):
    p = deck["interface"]
    inc = p["incident"]
    if len(set(inc)) != len(inc):
        raise DeckError("interface.incident", inc, "each of \"x\", \"y\", \"z\" at most once")
    sw = p.get("sweep")
    if sw is not None:
        vals = np.asarray(sw["values"], dtype=float)
        name = sw["parameter"]
        if name == "U" and np.any((vals >= 1.0) | (vals < -1e4)):
            raise DeckError("interface.sweep.values", vals.tolist(), "U must stay in [-1e4, 1) E_F")
        if name == "r" and np.any(vals < 0.0):
            raise DeckError("interface.sweep.values", vals.tolist(), "r must be >= 0")


def call(deck, ctx, model=None):
    return PHYSICS(context=ctx, **deck["interface"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["interface"]
    sw = p.get("sweep")
    nv = len(sw["values"]) if sw is not None else 1
    profiles = sw is None or sw["profiles"]
    per_point = (3 * 3 + 3 * 5 + 3 * 3 + 16) * 8.0 * p["nz"]
    quad = 2 * p["max_points"] * 64 * 16.0 * max(1, p["nz"] // 64)
    total = (nv if profiles else 1) * per_point + nv * 256 + quad + 100e6
    key = "interface.sweep.values" if nv > 1 and nv * 256 > per_point else "interface.nz"
    # ~1.5 ms per z value and sweep point (inputs/interface_fig2abc: 4 x 601 in 3.5 s CPU)
    return Estimate(total, nv, key, f"{nv} point{'s' if nv > 1 else ''} x {p['nz']} z values",
                    core_seconds=1.5e-3 * nv * p["nz"], time_key="interface.nz")
