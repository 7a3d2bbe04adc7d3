"""``hpcorb.bilayer``: spin and orbital drift-diffusion in N/F bilayers (paper 001).

One parameter point (the ``[bilayer]`` table) gives the profiles of the
spin/orbital chemical potentials and currents across the stack and the
interface torque; ``[bilayer.sweep]`` sweeps any parameter (or a grid of
two) through the engine (all ranks, checkpoints); ``[bilayer.fit]`` fits
chosen parameters to measured torque vs thickness (multi-start least
squares; the starts are distributed over the ranks).

Output (``/bilayer`` in the results file): ``z`` [nz] nm; ``mu_s``, ``mu_o`` [nz] V and ``J_s``,
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
from scipy.optimize import least_squares

from ..io.results import Results
from ..io.torque_csv import read_torque_csv
from ..kernels import driftdiffusion as dd
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..result import Result
from ..schema import Key

G0 = 1e15   # Ohm^-1 m^-2, the paper's scale of chemical potentials in Fig. 2

# the physical parameters: keyword arguments of hpcorb.bilayer and keys of the [bilayer] table
PARAM_KEYS = [
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
PARAM_NAMES = tuple(k.name for k in PARAM_KEYS)
assert set(PARAM_NAMES) == set(dd.PARAMS)
_KEYS = {k.name: k for k in PARAM_KEYS}
THICKNESSES = ("d_F", "d_N")


def _sweep_values(s, which):
    key, vals, scale = (("parameter", "values", "scale") if which == 1 else
                        ("parameter2", "values2", "scale2"))
    v = np.asarray(s[vals], dtype=float)
    if s[scale] == "log" and len(v) > 1:
        v = np.geomspace(v[0], v[-1], len(v))
    return s[key], v


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
# physics

def params_of(p):
    """The physical parameters of a [bilayer] table as a dict of floats."""
    return {n: float(p[n]) for n in PARAM_NAMES}


def _g_mix(p):
    if p["boundary"] == "mixing" and p["G_mix_r"] is not None:
        return complex(p["G_mix_r"], p["G_mix_i"])
    return None


def bilayer(*, context, **p):
    """N/F bilayer profiles, torque, sweeps and fits; keys as in the [bilayer] table (validated)."""
    ctx, log = context, context.log
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
        _sweep(p, par, ctx, res)
    if p["fit"] is not None:
        _fit(p, par, ctx, res)
    return Result(res, ctx.comm)


def _sweep(p, par, ctx, res):
    log = ctx.log
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
    out = run_chunks(Plan(n, default_chunk_size(n, 0.01)), kernel, tmpl, ctx.comm, mode="stack",
                     stage="sweep", label="points", **ctx.engine())
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

    def __init__(self, p, par, data=None):
        f = p["fit"]
        self.names = list(f["parameters"])
        self.par = dict(par)
        self.bnd = p["boundary"]
        self.gmix = _g_mix(p)
        self.thick = f["thickness"]
        self.comp = f["component"]
        self.t, self.y, self.u = read_torque_csv(f["data"]) if data is None else data
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


def fit_model(p, par, starts_x=None, data=None):
    """Serial fit (used by the physics and by tests): returns a dict of results.
    ``data``: (thickness, torque, uncertainty) arrays (default: read fit.data)."""
    m = _Model(p, par, data)
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


def _fit(p, par, ctx, res):
    comm, log = ctx.comm, ctx.log
    f = p["fit"]
    data = ctx.on_root(read_torque_csv, f["data"])      # rank 0 reads the file
    m = _Model(p, par, data)
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
                     stage="fit", label="fit starts", **ctx.engine())
    best = int(np.argmin(out["chi2"]))
    fr = None
    if comm.rank == 0:
        fr = fit_model(p, par, starts_x=out["x"][best], data=data)
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
