"""``type = "bilayer"``: spin and orbital drift-diffusion in N/F bilayers (paper 001).

One parameter point (the ``[bilayer]`` table) gives the profiles of the
spin/orbital chemical potentials and currents across the stack and the
interface torque; ``[bilayer.sweep]`` sweeps any parameter (or a grid of
two) through the engine (all ranks, checkpoints); ``[bilayer.fit]`` fits
chosen parameters to measured torque vs thickness (multi-start least
squares; the starts are distributed over the ranks).

Output (``/bilayer``): ``z`` [nz] nm; ``mu_s``, ``mu_o`` [nz] V and ``J_s``,
``J_o`` [nz] A/m^2 (complex: real = m x (y x m), damping-like; imaginary =
m x y, field-like); ``torque`` complex scalar A/m^2 (= J_s^N(0));
``analytic/*`` the paper's closed forms at this point; ``conductance/*``
exact mixing conductances (Eq. 22 matrix) and ``pumping/*``; for sweeps
``sweep/<parameter>`` [n1] (and ``sweep/<parameter2>`` [n2]),
``sweep/torque`` [n1] or [n1, n2] and ``sweep/G_mix``, ``sweep/G_os_m``,
``sweep/G_so_m``; for fits ``fit/*``.  See docs/bilayer.md.
"""
from __future__ import annotations

import math

import numpy as np

from ..config import Estimate, Key, Table, coerce
from ..errors import DeckError, InputError
from ..io.results import Results
from ..kernels import driftdiffusion as dd
from ..parallel.engine import Plan, default_chunk_size, run_chunks

G0 = 1e15   # Ohm^-1 m^-2, the paper's scale of chemical potentials in Fig. 2

_PARAM_KEYS = [
    Key("d_N", "float", 5.0, "thickness of the nonmagnetic layer N", units="nm", ge=1e-4, le=1e7),
    Key("d_F", "float", 5.0, "thickness of the ferromagnet F", units="nm", ge=1e-4, le=1e7),
    Key("lambda_s_N", "float", 3.0, "spin relaxation length in N", units="nm", ge=1e-4, le=1e7),
    Key("lambda_o_N", "float", 5.0, "orbital relaxation length in N", units="nm", ge=1e-4, le=1e7),
    Key("lambda_o_F", "float", 5.0, "orbital relaxation length in F", units="nm", ge=1e-4, le=1e7),
    Key("lambda_sf", "float", 3.0, "spin diffusion length in F", units="nm", ge=1e-4, le=1e7),
    Key("lambda_phi", "float", 1.0, "spin dephasing length in F", units="nm", ge=1e-4, le=1e7),
    Key("lambda_J", "float", 0.5, "spin precession length in F", units="nm", ge=1e-4, le=1e7),
    Key("sigma_s_N", "float", 1e6, "spin conductivity of N", units="Ohm^-1 m^-1", gt=0.0),
    Key("sigma_o_N", "float", 1e6, "orbital conductivity of N", units="Ohm^-1 m^-1", gt=0.0),
    Key("sigma_s_F", "float", 1e6, "spin conductivity of F", units="Ohm^-1 m^-1", gt=0.0),
    Key("sigma_o_F", "float", 1e6, "orbital conductivity of F", units="Ohm^-1 m^-1", gt=0.0),
    Key("sigma_SHE", "float", 0.0, "spin Hall conductivity of N (any sign)", units="Ohm^-1 m^-1"),
    Key("sigma_OHE", "float", 0.0, "orbital Hall conductivity of N (any sign)", units="Ohm^-1 m^-1"),
    Key("E", "float", 1e4, "electric field along x", units="V/m"),
    Key("P_os", "float", 0.0, "orbit-to-spin polarization in F (Eq. 3)", ge=-1.0, le=1.0),
    Key("P_so", "float", 0.0, "spin-to-orbit polarization in F (Eq. 4)", ge=-1.0, le=1.0),
    Key("G_s", "float", 1e15, "interfacial spin conductance (Eq. 8)", units="Ohm^-1 m^-2", gt=0.0),
    Key("G_o", "float", 1e15, "interfacial orbital conductance (Eq. 9)", units="Ohm^-1 m^-2", gt=0.0),
    Key("G_os", "float", 0.0, "interfacial orbit-to-spin conductance (Eq. 8, any sign)", units="Ohm^-1 m^-2"),
    Key("G_so", "float", 0.0, "interfacial spin-to-orbit conductance (Eq. 9, any sign)", units="Ohm^-1 m^-2"),
]
PARAM_NAMES = tuple(k.name for k in _PARAM_KEYS)
assert set(PARAM_NAMES) == set(dd.PARAMS)
_KEYS = {k.name: k for k in _PARAM_KEYS}
THICKNESSES = ("d_F", "d_N")

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

SCHEMA = Table("bilayer", _PARAM_KEYS + [
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


# ---------------------------------------------------------------------------
# deck checks

def read_torque_csv(path):
    """Read thickness, torque, uncertainty columns; InputError (one line) if malformed."""
    import os
    if not os.path.isfile(path):
        raise InputError(f"bilayer.fit.data = {path!r}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"bilayer.fit.data = {path!r}: cannot read ({e})") from None
    need = ("thickness", "torque", "uncertainty")
    header, rows = None, []
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [x.strip() for x in s.split(",")]
        if header is None:
            header = [x.lower() for x in fields]
            missing = [c for c in need if c not in header]
            if missing:
                raise InputError(f"{path} line {no}: header {s!r} lacks column(s) {', '.join(missing)}; "
                                 "expected a header line 'thickness,torque,uncertainty'")
            continue
        if len(fields) != len(header):
            raise InputError(f"{path} line {no}: {len(fields)} fields, expected {len(header)} "
                             f"({','.join(header)})")
        try:
            vals = [float(x) for x in fields]
        except ValueError:
            raise InputError(f"{path} line {no}: {s!r} is not a row of numbers") from None
        row = {h: v for h, v in zip(header, vals)}
        if not all(math.isfinite(row[c]) for c in need):
            raise InputError(f"{path} line {no}: {s!r}: values must be finite numbers")
        if row["thickness"] <= 0:
            raise InputError(f"{path} line {no}: thickness {row['thickness']:g} nm: must be > 0")
        if row["uncertainty"] <= 0:
            raise InputError(f"{path} line {no}: uncertainty {row['uncertainty']:g}: must be > 0")
        rows.append([row[c] for c in need])
    if header is None:
        raise InputError(f"{path}: empty; expected a header 'thickness,torque,uncertainty' and data rows")
    if len(rows) < 2:
        raise InputError(f"{path}: {len(rows)} data row(s); at least 2 are needed")
    a = np.asarray(rows, dtype=float)
    return a[:, 0], a[:, 1], a[:, 2]


def _sweep_values(s, which):
    key, vals, scale = (("parameter", "values", "scale") if which == 1 else
                        ("parameter2", "values2", "scale2"))
    v = np.asarray(s[vals], dtype=float)
    if s[scale] == "log" and len(v) > 1:
        v = np.geomspace(v[0], v[-1], len(v))
    return s[key], v


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


def fit_bounds(p):
    f = p["fit"]
    names = f["parameters"]
    lo = np.array(f["lower"], float) if f["lower"] is not None else np.array(
        [1e-6 * p[n] if (_KEYS[n].gt is not None and _KEYS[n].gt >= 0 and p[n] > 0) else
         (_KEYS[n].ge if _KEYS[n].ge is not None else -np.inf) for n in names], float)
    hi = np.array(f["upper"], float) if f["upper"] is not None else np.array(
        [_KEYS[n].le if _KEYS[n].le is not None else np.inf for n in names], float)
    return lo, hi


# ---------------------------------------------------------------------------
# run

def params_of(p):
    """The physical parameters of a [bilayer] table as a dict of floats."""
    return {n: float(p[n]) for n in PARAM_NAMES}


def _g_mix(p):
    if p["boundary"] == "mixing" and p["G_mix_r"] is not None:
        return complex(p["G_mix_r"], p["G_mix_i"])
    return None


def run(deck, comm, log, checkpoint):
    p = deck["bilayer"]
    par = params_of(p)
    bnd = p["boundary"]
    res = Results("bilayer")
    sol = dd.solve(par, bnd, _g_mix(p))
    z, (mu_s, mu_o, J_s, J_o) = sol.profiles(p["points"])
    tq = complex(sol.torque)
    log(f"bilayer: boundary {bnd}, d_N = {par['d_N']:g} nm, d_F = {par['d_F']:g} nm: "
        f"torque = {tq.real:.6g} {tq.imag:+.6g}i A/m^2")
    desc = "(complex: real = m x (y x m) damping-like, imaginary = m x y field-like)"
    res.add("z", z, "nm", "position; N is -d_N..0, F is 0..d_F; z = 0 appears twice (0^- in N, 0^+ in F)")
    res.add("mu_s", mu_s, "V", "spin chemical potential " + desc)
    res.add("mu_o", mu_o, "V", "orbital chemical potential " + desc)
    res.add("J_s", J_s, "A/m^2", "spin current along z, charge-current units " + desc)
    res.add("J_o", J_o, "A/m^2", "orbital current along z, charge-current units " + desc)
    res.add("torque", tq, "A/m^2", "interface torque J_s^N(0) = damping-like + i field-like (Eq. 12)")

    # the paper's closed forms at this point (their limits: docs/bilayer.md)
    al, be = dd.alpha_beta(par["lambda_sf"], par["lambda_phi"], par["lambda_J"])
    an = {
        "eta_s_eq16": (dd.eta_s_eq16(par), "1", "Eq. 16, transparent interface, thick F, no SOC"),
        "tau_eq13": (dd.tau_eq13(par), "A/m^2", "Eq. 13 with Eq. 16"),
        "eta_o_eq17": (dd.eta_o_eq17(par), "1", "Eq. 17, bulk orbit-to-spin conversion, transparent, thick F"),
        "tau_eq14_eq17": (dd.tau_eq14(par, dd.eta_o_eq17(par)), "A/m^2", "Eq. 14 with Eq. 17"),
        "eta_o_eq18": (dd.eta_o_eq18(par, exact=False), "1", "Eq. 18 as printed (G_s >> |sigma_s^F q|)"),
        "eta_o_eq18_exact": (dd.eta_o_eq18(par, exact=True), "1",
                             "Eq. 18 re-derived (sigma_s^F q -> G_mix of Eq. 19), exact for P = G_so = 0, thick F"),
        "G_mix_eq19": (dd.G_mix_eq19(par), "Ohm^-1 m^-2", "Eq. 19"),
        "G_os_m_eq20": (dd.G_os_m_eq20(par, exact=False), "Ohm^-1 m^-2", "Eq. 20 as printed, G_o P_os"),
        "G_os_m_eq21": (dd.G_os_m_eq21(par, exact=False), "Ohm^-1 m^-2", "Eq. 21 as printed"),
    }
    for name, (val, units, d) in an.items():
        res.add("analytic/" + name, np.complex128(val), units, d)
    res.attrs.update({"boundary": bnd, "alpha_per_nm": float(al), "beta_per_nm": float(be),
                      "convention": "complex c = c_y + i c_(m x y); torque = J_s^N(0); N at -d_N<z<0, F at 0<z<d_F",
                      "G0_plot_scale": G0})
    if bnd == "mixing":
        res.attrs["G_mix_used"] = str(complex(sol.G_mix))
        if par["P_os"] or par["P_so"]:
            log("bilayer: note: boundary = \"mixing\" does not resolve the spin in F, so the bulk "
                "polarizations P_os, P_so play no role (use boundary = \"conductance\")")
    if par["sigma_SHE"] * par["E"] == 0 and par["sigma_OHE"] * par["E"] == 0:
        log("bilayer: note: no source (sigma_SHE E = sigma_OHE E = 0): all profiles and torques vanish")
    if bnd == "conductance":
        g = dd.mixing_conductances(par)
        for name, d in (("G_mix", "exact spin-mixing conductance (Eq. 22 matrix, F eliminated)"),
                        ("G_os_m", "exact orbit-spin-mixing conductance: dJ_s/d(dmu_o) at fixed mu_s^N"),
                        ("G_so_m", "exact spin-orbit-mixing conductance: dJ_o/d(mu_s^N) at fixed dmu_o"),
                        ("G_o_eff", "dJ_o/d(dmu_o) at fixed mu_s^N")):
            res.add("conductance/" + name, np.complex128(g[name]), "Ohm^-1 m^-2", d)
        res.add("conductance/Y", dd.f_side_response(par)["Y"], "Ohm^-1 m^-2",
                "F side + interface admittance: (J_s, J_o)(0) = Y (mu_s^N(0), mu_o^N(0)), rows/columns (s, o)")
        pm = dd.pumping(par, par["d_F"] * 1e-9, p["M_s"])
        res.add("pumping/spin", np.complex128(pm["spin"]), "A s m^-2",
                "spin pumping J_s = (hbar/e) G_mix m x dm/dt: coefficient (hbar/e) G_mix")
        res.add("pumping/orbital", np.complex128(pm["orbital"]), "A s m^-2",
                "orbital pumping J_o = (hbar/e) G_so^m m x dm/dt: coefficient (hbar/e) G_so^m")
        if "L_sm" in pm:
            for k in ("L_sm", "L_om", "L_mo"):
                res.add("pumping/" + k, np.complex128(pm[k]), "m^2 V^-1 s^-1 A^-1 (SI of mu_B G/(e^2 d M_s))",
                        f"Onsager coefficient {k} of Eq. 23")

    if p["sweep"] is not None:
        _sweep(p, par, comm, log, checkpoint, deck, res)
    if p["fit"] is not None:
        _fit(p, par, comm, log, checkpoint, deck, res)
    return res


def _sweep(p, par, comm, log, checkpoint, deck, res):
    s = p["sweep"]
    bnd = p["boundary"]
    name1, v1 = _sweep_values(s, 1)
    grid = s["parameter2"] is not None
    if grid:
        name2, v2 = _sweep_values(s, 2)
    n1, n2 = len(v1), (len(v2) if grid else 1)
    n = n1 * n2
    gmix = _g_mix(p)
    want_g = bnd == "conductance"
    log(f"bilayer: sweep {name1} ({n1} values)" + (f" x {name2} ({n2} values)" if grid else "")
        + f": {n} points")

    def kernel(start, stop):
        idx = np.arange(start, stop)
        q = {k: np.full(len(idx), v) for k, v in par.items()}
        q[name1] = v1[idx // n2]
        if grid:
            q[name2] = v2[idx % n2]
        out = {"torque": dd.torque(q, bnd, gmix), "G_mix_eq19": dd.G_mix_eq19(q)}
        if want_g:
            g = dd.mixing_conductances(q)
            out.update({k: g[k] for k in ("G_mix", "G_os_m", "G_so_m")})
            out["G_os_m_eq20"] = dd.G_os_m_eq20(q, exact=False) + 0j
            out["G_os_m_eq21"] = dd.G_os_m_eq21(q, exact=False)
        return out

    names = ["torque", "G_mix_eq19"] + (["G_mix", "G_os_m", "G_so_m", "G_os_m_eq20", "G_os_m_eq21"]
                                        if want_g else [])
    tmpl = {k: ((), complex) for k in names}
    out = run_chunks(Plan(n, default_chunk_size(n, 0.01)), kernel, tmpl, comm, mode="stack",
                     checkpoint=checkpoint, stage="sweep", log=log, label="points",
                     checkpoint_interval=deck["output"]["checkpoint_interval"],
                     progress_interval=deck["parallel"]["progress_interval"])
    shape = (n1, n2) if grid else (n1,)
    res.add(f"sweep/{name1}", v1, _KEYS[name1].units or "1", f"swept parameter {name1} (axis 0)")
    if grid:
        res.add(f"sweep/{name2}", v2, _KEYS[name2].units or "1", f"second parameter {name2} (axis 1)")
    res.add("sweep/torque", out["torque"].reshape(shape), "A/m^2",
            "torque J_s^N(0) = damping-like + i field-like at every point")
    descr = {"G_mix": "exact spin-mixing conductance", "G_os_m": "exact orbit-spin-mixing conductance",
             "G_so_m": "exact spin-orbit-mixing conductance", "G_mix_eq19": "Eq. 19",
             "G_os_m_eq20": "Eq. 20 as printed (G_o P_os)", "G_os_m_eq21": "Eq. 21 as printed"}
    for k in names[1:]:
        res.add(f"sweep/{k}", out[k].reshape(shape), "Ohm^-1 m^-2", descr[k])
    res.group_attrs["sweep"] = {"parameter": name1, "parameter2": name2 if grid else "none",
                                "scale": s["scale"], "scale2": s["scale2"]}
    # pick the best of the sweep for the log
    t = out["torque"].real
    i = int(np.argmax(np.abs(t)))
    log(f"bilayer: sweep done; largest |damping-like torque| {t[i]:.6g} A/m^2 at {name1} = "
        f"{v1[i // n2]:g}" + (f", {name2} = {v2[i % n2]:g}" if grid else ""))


# ---------------------------------------------------------------------------
# fit

class _Model:
    """Torque vs thickness as a function of the fitted parameters (scaled by x_scale)."""

    def __init__(self, p, par):
        f = p["fit"]
        self.names = list(f["parameters"])
        self.par = dict(par)
        self.bnd = p["boundary"]
        self.gmix = _g_mix(p)
        self.thick = f["thickness"]
        self.comp = f["component"]
        self.t, self.y, self.u = read_torque_csv(f["data"])
        start = np.array([par[n] for n in self.names], float)
        self.scale = np.where(start != 0, np.abs(start), 1.0)
        self.x0 = start / self.scale

    def values(self, x):
        return np.asarray(x, float) * self.scale

    def torque(self, x, t):
        q = dict(self.par)
        for n, v in zip(self.names, self.values(x)):
            q[n] = v
        q = {k: np.full(len(t), v, dtype=float) for k, v in q.items()}
        q[self.thick] = np.asarray(t, float)
        tq = dd.torque(q, self.bnd, self.gmix)
        return tq.real if self.comp == "damping" else tq.imag

    def residuals(self, x):
        return (self.torque(x, self.t) - self.y) / self.u


def fit_model(p, par, starts_x=None):
    """Serial fit (used by run and by tests): returns a dict of results."""
    from scipy.optimize import least_squares
    m = _Model(p, par)
    lo, hi = fit_bounds(p)
    xlo, xhi = lo / m.scale, hi / m.scale
    x0 = np.clip(m.x0, xlo, xhi) if starts_x is None else starts_x
    r = least_squares(m.residuals, x0, bounds=(xlo, xhi), method="trf", x_scale="jac",
                      xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
    return _finish(m, r)


def _finish(m, r):
    J = r.jac
    JTJ = J.T @ J
    try:
        cov_x = np.linalg.inv(JTJ)
        singular = not np.all(np.isfinite(cov_x))
    except np.linalg.LinAlgError:
        cov_x, singular = np.linalg.pinv(JTJ), True
    cov = cov_x * np.outer(m.scale, m.scale)
    err = np.sqrt(np.abs(np.diag(cov)))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(err, err)
    dof = max(1, len(m.t) - len(m.names))
    chi2 = float(2.0 * r.cost)
    return {"names": m.names, "values": m.values(r.x), "errors": err, "cov": cov, "corr": corr,
            "chi2": chi2, "chi2_red": chi2 / dof, "dof": dof, "nfev": int(r.nfev), "status": int(r.status),
            "singular": singular, "x": r.x, "model": m}


def _fit(p, par, comm, log, checkpoint, deck, res):
    from scipy.optimize import least_squares
    f = p["fit"]
    m = _Model(p, par)
    lo, hi = fit_bounds(p)
    xlo, xhi = lo / m.scale, hi / m.scale
    n_start = f["starts"]
    rng = np.random.default_rng(f["seed"])
    X0 = np.empty((n_start, len(m.names)))
    X0[0] = np.clip(m.x0, xlo, xhi)
    for i in range(1, n_start):
        for j in range(len(m.names)):
            a, b = xlo[j], xhi[j]
            if np.isfinite(a) and np.isfinite(b) and a > 0 and b / a > 10:
                X0[i, j] = math.exp(rng.uniform(math.log(a), math.log(b)))
            elif np.isfinite(a) and np.isfinite(b):
                X0[i, j] = rng.uniform(a, b)
            else:   # unbounded: spread around the start
                X0[i, j] = X0[0, j] * math.exp(rng.normal(0.0, 1.0)) if X0[0, j] > 0 else X0[0, j] + rng.normal()
                X0[i, j] = min(max(X0[i, j], a), b)
    log(f"bilayer: fit of {', '.join(m.names)} to {len(m.t)} points of {f['data']} "
        f"({f['component']}-like torque vs {m.thick}), {n_start} start(s)")

    def kernel(start, stop):
        xs, cs = [], []
        for i in range(start, stop):
            try:
                r = least_squares(m.residuals, X0[i], bounds=(xlo, xhi), method="trf", x_scale="jac",
                                  xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
                xs.append(r.x)
                cs.append(2.0 * r.cost)
            except (ValueError, np.linalg.LinAlgError):
                xs.append(X0[i])
                cs.append(np.inf)
        return {"x": np.array(xs), "chi2": np.array(cs)}

    out = run_chunks(Plan(n_start, 1 if n_start < 64 else default_chunk_size(n_start, 8.0)), kernel,
                     {"x": ((len(m.names),), float), "chi2": ((), float)}, comm, mode="stack",
                     checkpoint=checkpoint, stage="fit", log=log, label="fit starts",
                     checkpoint_interval=deck["output"]["checkpoint_interval"],
                     progress_interval=deck["parallel"]["progress_interval"])
    best = int(np.argmin(out["chi2"]))
    fr = None
    if comm.rank == 0:
        fr = fit_model(p, par, starts_x=out["x"][best])
        fr.pop("model")
    fr = comm.bcast(fr)
    for n, v, e in zip(fr["names"], fr["values"], fr["errors"]):
        log(f"bilayer: fit {n} = {v:.6g} +- {e:.3g} {_KEYS[n].units}")
    log(f"bilayer: fit chi2/dof = {fr['chi2_red']:.4g} (dof {fr['dof']}), best of {n_start} start(s): #{best}")
    res.add("fit/parameters", np.array(fr["names"]), "1", "fitted parameters")
    res.add("fit/values", fr["values"], "mixed", "best values (units of each [bilayer] key: "
            + ", ".join(f"{n} {_KEYS[n].units or '1'}" for n in fr["names"]) + ")")
    res.add("fit/uncertainties", fr["errors"], "mixed", "1-sigma uncertainties, sqrt(diag((J^T J)^-1)) "
            "with residuals weighted by the data uncertainties")
    res.add("fit/covariance", fr["cov"], "mixed", "covariance matrix of the fitted parameters")
    res.add("fit/correlation", fr["corr"], "1", "correlation matrix of the fitted parameters")
    res.add("fit/chi2_reduced", fr["chi2_red"], "1", f"chi^2 / dof (dof = {fr['dof']})")
    res.add("fit/start_chi2", out["chi2"], "1", "chi^2 reached from every start")
    res.add("fit/thickness", m.t, "nm", f"data: {m.thick}")
    res.add("fit/torque_data", m.y, "A/m^2", f"data: {f['component']}-like torque")
    res.add("fit/uncertainty_data", m.u, "A/m^2", "data: uncertainty")
    xb = fr["values"] / m.scale
    res.add("fit/torque_model", m.torque(xb, m.t), "A/m^2", "best-fit model at the data thicknesses")
    tc = np.linspace(0.5 * m.t.min(), 1.1 * m.t.max(), f["curve_points"])
    res.add("fit/curve_thickness", tc, "nm", "thicknesses of the model curve")
    res.add("fit/curve_torque", m.torque(xb, tc), "A/m^2", "best-fit model curve")
    res.group_attrs["fit"] = {"thickness": m.thick, "component": f["component"], "singular": fr["singular"],
                              "starts": n_start, "best_start": best}


# ---------------------------------------------------------------------------
# summary and plots

def _c(v):
    v = complex(v)
    return f"{v.real:.6g} {v.imag:+.6g}i"


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def summary(h5) -> str:
    g = h5["bilayer"]
    a = g.attrs
    lines = [f"N/F bilayer (paper 001), boundary {_s(a.get('boundary', '?'))}: "
             f"alpha = {float(a['alpha_per_nm']):.5g} /nm, beta = {float(a['beta_per_nm']):.5g} /nm",
             f"  torque J_s^N(0) = {_c(g['torque'][()])} A/m^2 (damping-like + i field-like)"]
    if "analytic" in g:
        an = g["analytic"]
        lines.append(f"  closed forms here: Eq.13+16 {_c(an['tau_eq13'][()])} A/m^2, "
                     f"Eq.14+17 {_c(an['tau_eq14_eq17'][()])} A/m^2, G_mix Eq.19 {_c(an['G_mix_eq19'][()])}")
    if "conductance" in g:
        c = g["conductance"]
        lines.append(f"  mixing conductances (exact, Ohm^-1 m^-2): G_mix {_c(c['G_mix'][()])}, "
                     f"G_os^m {_c(c['G_os_m'][()])}, G_so^m {_c(c['G_so_m'][()])}")
    if "pumping" in g:
        pm = g["pumping"]
        lines.append(f"  pumping coefficients (A s m^-2): spin {_c(pm['spin'][()])}, orbital {_c(pm['orbital'][()])}")
    if "sweep" in g:
        s = g["sweep"]
        n1, n2 = _s(s.attrs["parameter"]), _s(s.attrs["parameter2"])
        t = s["torque"][...]
        x1 = s[n1][...]
        lines.append(f"  sweep over {n1}" + (f" x {n2}" if n2 != "none" else "") + f": {t.size} points")
        if t.ndim == 1:
            idx = np.unique(np.linspace(0, len(x1) - 1, min(8, len(x1))).astype(int))
            lines.append(f"    {n1:>12}  {'Re torque':>13}  {'Im torque':>13}")
            for i in idx:
                lines.append(f"    {x1[i]:12.5g}  {t[i].real:13.6g}  {t[i].imag:13.6g}")
        else:
            x2 = s[n2][...]
            i, j = np.unravel_index(np.argmax(np.abs(t.real)), t.shape)
            lines.append(f"    largest |Re torque| {t[i, j].real:.6g} A/m^2 at {n1} = {x1[i]:g}, {n2} = {x2[j]:g}")
    if "fit" in g:
        f = g["fit"]
        names = [_s(x) for x in f["parameters"][...]]
        vals, errs, corr = f["values"][...], f["uncertainties"][...], f["correlation"][...]
        lines.append(f"  fit to {len(f['thickness'])} points ({_s(f.attrs['component'])}-like torque vs "
                     f"{_s(f.attrs['thickness'])}): chi2/dof = {float(f['chi2_reduced'][()]):.4g}")
        for n, v, e in zip(names, vals, errs):
            lines.append(f"    {n:>12} = {v:.6g} +- {e:.3g}")
        if len(names) > 1:
            lines.append("    correlations: " + "; ".join(
                f"{names[i]}/{names[j]} {corr[i, j]:+.3f}" for i in range(len(names)) for j in range(i + 1, len(names))))
    return "\n".join(lines)


def plot(h5, stem):
    from ..plot import plt, save_figure
    g = h5["bilayer"]
    files = []
    z = g["z"][...]
    fig, ax = plt.subplots(2, 2, figsize=(8, 6), sharex=True)
    panels = [("J_s", "$J_s$", 1.0, "spin current (A/m$^2$)"), ("J_o", "$J_o$", 1.0, "orbital current (A/m$^2$)"),
              ("mu_s", r"$G_0\mu_s$", G0, r"$G_0\mu_s$ (A/m$^2$)"), ("mu_o", r"$G_0\mu_o$", G0, r"$G_0\mu_o$ (A/m$^2$)")]
    for a, (key, lab, sc, ylab) in zip(ax.ravel(), panels):
        v = g[key][...] * sc
        a.plot(z, v.real, "C0-", label=lab + "$^R$")
        a.plot(z, v.imag, "C3--", label=lab + "$^I$")
        a.axvline(0.0, color="k", lw=0.6)
        a.set_ylabel(ylab)
        a.legend(fontsize=7)
    for a in ax[1]:
        a.set_xlabel("z (nm)")
    fig.suptitle("profiles (paper 001 Fig. 2 style): N at z < 0, F at z > 0")
    files.append(save_figure(fig, stem, "_profiles.png"))
    if "sweep" in g:
        s = g["sweep"]
        n1, n2 = _s(s.attrs["parameter"]), _s(s.attrs["parameter2"])
        x1, t = s[n1][...], s["torque"][...]
        logx = _s(s.attrs["scale"]) == "log"
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
        if t.ndim == 1:
            ax[0].plot(x1, t.real, "C0-o", ms=2)
            ax[1].plot(x1, t.imag, "C3-o", ms=2)
        else:
            x2 = s[n2][...]
            for j in range(len(x2)):
                ax[0].plot(x1, t[:, j].real, "-", color=f"C{j % 10}", label=f"{n2} = {x2[j]:g}")
                ax[1].plot(x1, t[:, j].imag, "--", color=f"C{j % 10}", label=f"{n2} = {x2[j]:g}")
            ax[0].legend(fontsize=7)
        ax[0].set_ylabel("damping-like torque Re J$_s^N$(0) (A/m$^2$)")
        ax[1].set_ylabel("field-like torque Im J$_s^N$(0) (A/m$^2$)")
        for a in ax:
            a.set_xlabel(f"{n1} ({_KEYS[n1].units or '1'})")
            if logx:
                a.set_xscale("log")
        fig.suptitle("torque vs " + n1 + " (paper 001 Fig. 3 style)")
        files.append(save_figure(fig, stem, "_sweep.png"))
        if "G_mix" in s and t.ndim == 1:
            fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
            for a, key, paper, lab in ((ax[0], "G_mix", "G_mix_eq19", r"$G_{\uparrow\downarrow}$"),
                                       (ax[1], "G_os_m", "G_os_m_eq21", r"$G_{os}^m$")):
                v, w = s[key][...], s[paper][...]
                a.plot(x1, v.real, "C0-", label=lab + " real (exact)")
                a.plot(x1, v.imag, "C3-", label=lab + " imag (exact)")
                a.plot(x1, w.real, "C0:", label=f"real ({paper.split('_')[-1]} as printed)")
                a.plot(x1, w.imag, "C3:", label=f"imag ({paper.split('_')[-1]} as printed)")
                a.set_xlabel(f"{n1} ({_KEYS[n1].units or '1'})")
                a.set_ylabel(lab + r" ($\Omega^{-1}$m$^{-2}$)")
                a.legend(fontsize=7)
                if logx:
                    a.set_xscale("log")
            fig.suptitle("mixing conductances vs " + n1 + " (paper 001 Fig. 4 style)")
            files.append(save_figure(fig, stem, "_mixing.png"))
    if "fit" in g:
        f = g["fit"]
        fig, ax = plt.subplots(figsize=(5, 3.6))
        ax.errorbar(f["thickness"][...], f["torque_data"][...], yerr=f["uncertainty_data"][...], fmt="ko",
                    ms=3, label="data")
        ax.plot(f["curve_thickness"][...], f["curve_torque"][...], "C0-", label="best fit")
        ax.set_xlabel(f"{_s(f.attrs['thickness'])} (nm)")
        ax.set_ylabel(f"{_s(f.attrs['component'])}-like torque (A/m$^2$)")
        ax.legend(fontsize=8)
        files.append(save_figure(fig, stem, "_fit.png"))
    return files


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
    if n * 64 > per_point:
        return Estimate(total, n, key, f"{n:.3g} sweep points")
    return Estimate(total, n, "bilayer.points", f"{n:.3g} points of {p['points']} profile points")
