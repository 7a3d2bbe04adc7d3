"""Deck adapter of ``type = "bilayer"``: the [bilayer] table (+ [bilayer.sweep],
[bilayer.fit]), its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.bilayer`; report: :mod:`hpcorb.report.bilayer`.
"""
from __future__ import annotations

import numpy as np

from ..api import bilayer as physics
from ..api.bilayer import _KEYS, PARAM_NAMES, THICKNESSES, _sweep_values, fit_bounds
from ..errors import DeckError, InputError
from ..io.torque_csv import read_torque_csv
from ..kernels import driftdiffusion as dd
from ..report import bilayer as report
from ..resources import Estimate
from ..schema import Key, Table, coerce
from .common import context

SWEEP = Table("sweep", [
    Key("parameter", "str", None, "the [bilayer] parameter to sweep", choices=PARAM_NAMES),
    Key("values", "grid", None, "its values (list, or {start, stop, num})"),
    Key("parameter2", "str", None, "optional second parameter: a grid parameter x parameter2",
        choices=PARAM_NAMES),
    Key("values2", "grid", None, "values of parameter2 (list, or {start, stop, num})"),
    Key("scale", "str", "linear", "'log': replace values by num geometrically spaced numbers between "
        "the first and the last (for conductances)", choices=("linear", "log")),
    Key("scale2", "str", "linear", "the same for values2", choices=("linear", "log")),
], "sweep of one parameter, or a grid of two; every point is an exact solution")

FIT = Table("fit", [
    Key("data", "path", None, "CSV file with columns thickness (nm), torque (A/m^2), uncertainty (A/m^2)"),
    Key("parameters", "strs", None, "[bilayer] parameters to fit (start values: the table's values)",
        choices=PARAM_NAMES),
    Key("lower", "floats", None, "lower bounds, one per fitted parameter (default: 1e-6 x start "
        "for positive-only parameters, the key's own bound (P: -1) for others, else -inf)"),
    Key("upper", "floats", None, "upper bounds, one per fitted parameter (default: the key's own bound (P: 1), else +inf)"),
    Key("thickness", "str", "d_F", "which thickness the CSV column 'thickness' is", choices=THICKNESSES),
    Key("component", "str", "damping", "which torque component the CSV holds: damping-like (real "
        "part) or field-like (imaginary part)", choices=("damping", "field")),
    Key("starts", "int", 1, "number of starting points (the first is the deck's values, the others "
        "random within the bounds; distributed over the ranks)", ge=1, le=100000),
    Key("seed", "int", 0, "seed of the random starting points", ge=0),
    Key("curve_points", "int", 200, "points of the model curve written with the fit", ge=2, le=100000,
        physics=False),
], "least-squares fit of measured torque vs thickness")

SCHEMA = Table("bilayer", physics.PARAM_KEYS + [
    Key("boundary", "str", "conductance", "interface: 'conductance' (Eqs. 8-9), 'transparent' "
        "(continuous potentials), or 'mixing' (spin absorbed at the interface, Eqs. 10-11)",
        choices=dd.BOUNDARIES),
    Key("G_mix_r", "float", None, "boundary = 'mixing': real part of G_mix (default: Eq. 19)",
        units="Ohm^-1 m^-2", gt=0.0),
    Key("G_mix_i", "float", None, "boundary = 'mixing': imaginary part of G_mix (default: Eq. 19)",
        units="Ohm^-1 m^-2"),
    Key("M_s", "float", None, "saturation magnetization of F, for the Onsager coefficients of "
        "Eq. 23 (optional)", units="A/m", gt=0.0),
    Key("points", "int", 201, "profile points per layer", ge=2, le=1_000_000, physics=False),
], "N/F bilayer: spin and orbital drift-diffusion, torque, mixing conductances (paper 001)",
    subtables=[SWEEP, FIT])


PHYSICS = physics.bilayer
REPORT = report
summary, plot = report.summary, report.plot
params_of, fit_model = physics.params_of, physics.fit_model


def check_deck(deck):
    p = deck["bilayer"]
    if p["boundary"] == "mixing":
        if (p["G_mix_r"] is None) != (p["G_mix_i"] is None):
            raise DeckError("bilayer.G_mix_i" if p["G_mix_i"] is None else "bilayer.G_mix_r", "(missing)",
                            "give both G_mix_r and G_mix_i, or neither (then Eq. 19 is used)")
    elif p["G_mix_r"] is not None or p["G_mix_i"] is not None:
        raise DeckError("bilayer.G_mix_r", p["G_mix_r"], "only with boundary = \"mixing\"")
    s = p["sweep"]
    if s is not None:
        if s["parameter"] is None or s["values"] is None:
            k = "parameter" if s["parameter"] is None else "values"
            raise DeckError(f"bilayer.sweep.{k}", "(missing)",
                            "a sweep needs parameter = one of " + ", ".join(PARAM_NAMES) + " and values")
        if (s["parameter2"] is None) != (s["values2"] is None):
            k = "values2" if s["values2"] is None else "parameter2"
            raise DeckError(f"bilayer.sweep.{k}", "(missing)", "parameter2 and values2 go together")
        if s["parameter2"] is not None and s["parameter2"] == s["parameter"]:
            raise DeckError("bilayer.sweep.parameter2", s["parameter2"], "must differ from parameter")
        for which in (1, 2):
            if which == 2 and s["parameter2"] is None:
                continue
            vkey = "values" if which == 1 else "values2"
            if s["scale" if which == 1 else "scale2"] == "log" and np.any(np.asarray(s[vkey]) <= 0):
                raise DeckError(f"bilayer.sweep.{vkey}", np.asarray(s[vkey]).tolist(),
                                "scale = \"log\" needs values > 0")
            name, vals = _sweep_values(s, which)
            key = _KEYS[name]
            for v in vals:
                try:
                    coerce(key, f"bilayer.sweep.{vkey}", float(v))
                except DeckError:
                    raise DeckError(f"bilayer.sweep.{vkey}", float(v),
                                    f"values of {name}: " + key.allowed()) from None
    f = p["fit"]
    if f is not None:
        if f["data"] is None:
            raise DeckError("bilayer.fit.data", "(missing)", "a fit needs data = \"FILE.csv\"")
        if f["parameters"] is None:
            raise DeckError("bilayer.fit.parameters", "(missing)",
                            "a fit needs parameters = [...], names from " + ", ".join(PARAM_NAMES))
        names = f["parameters"]
        if len(set(names)) != len(names):
            raise DeckError("bilayer.fit.parameters", names, "each parameter at most once")
        if f["thickness"] in names:
            raise DeckError("bilayer.fit.parameters", names,
                            f"{f['thickness']} is the thickness axis of the data; it cannot be fitted")
        for b in ("lower", "upper"):
            if f[b] is not None and len(f[b]) != len(names):
                raise DeckError(f"bilayer.fit.{b}", f[b], f"expected {len(names)} numbers, one per parameter")
        lo, hi = fit_bounds(p)
        for i, n in enumerate(names):
            if not lo[i] < hi[i]:
                raise DeckError("bilayer.fit.lower", float(lo[i]), f"must be < upper ({hi[i]:g}) for {n}")
            if not lo[i] <= p[n] <= hi[i]:
                raise DeckError(f"bilayer.{n}", p[n], f"the fit starts here: must lie within the bounds "
                                f"[{lo[i]:g}, {hi[i]:g}]")
            key = _KEYS[n]
            if key.gt is not None and lo[i] <= key.gt or key.ge is not None and lo[i] < key.ge:
                raise DeckError("bilayer.fit.lower", float(lo[i]), f"bound for {n}: {key.allowed()}")
            if key.le is not None and hi[i] > key.le or key.lt is not None and hi[i] >= key.lt:
                raise DeckError("bilayer.fit.upper", float(hi[i]), f"bound for {n}: {key.allowed()}")
        t, y, u = read_torque_csv(f["data"])
        if len(t) <= len(names):
            raise InputError(f"{f['data']}: {len(t)} data rows for {len(names)} fitted parameters; "
                             f"need more rows than parameters")


def call(deck, ctx, model=None):
    return PHYSICS(context=ctx, **deck["bilayer"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["bilayer"]
    s = p["sweep"]
    n = 1.0
    key = "bilayer.points"
    if s is not None and s["values"] is not None:
        n = float(len(s["values"])) * (len(s["values2"]) if s["values2"] is not None else 1)
        key = "bilayer.sweep.values"
    per_point = 64 * 16.0 * 2 * p["points"]           # profiles of one point
    total = n * 32 * 8.0 + per_point * max(1.0, min(n, 64.0)) + 100e6
    # ~10 us per profile point and sweep point (inputs/bilayer_fig3a: 300 x 201 in 0.5 s CPU)
    seconds = 1e-5 * n * p["points"]
    if n * 64 > per_point:
        return Estimate(total, n, key, f"{n:.3g} sweep points", seconds, key)
    return Estimate(total, n, "bilayer.points", f"{n:.3g} points of {p['points']} profile points",
                    seconds, "bilayer.points")
