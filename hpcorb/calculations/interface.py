"""``type = "interface"``: orbital transmission across a metallic interface (paper 002).

Continuum p-orbital model (PHYSICS.md section 4): free-electron left layer,
right layer with crystal field r (L.k)^2 and potential U, interfacial orbital
Rashba alpha L.(k x z) delta(z).  For each incident dipole |L_x>, |L_y>, |L_z>
the scattering states are Fermi-averaged over the transverse momentum
(kappa, phi) and give, as functions of z in the right layer, the dipoles,
the five quadrupoles, the dipole currents and the lattice torque
tau = dJ/dz; interface (z = 0) values and z -> infinity limits are computed
analytically (the persistent mode pairs), not read off the window.

Derived: torque integral X = J(inf) - J(0+) (units hbar^2 k_F^2/m),
angular acceleration (paper's recipe), memory loss delta (Eq. 9), conversion
efficiencies eta = Q_R(0+)/J_L(0-).

Quadrature: the phi rule is exact (trigonometric polynomial of degree 4);
the kappa integral is split at k_t, k_r and 1 and done with Gauss-Legendre
after kappa = a + (b - a)(1 - cos theta)/2; the number of points per
sub-interval doubles until two levels agree to ``tolerance`` (profiles) and
``limits_tolerance`` (interface values, limits, torque integral); the last
difference is stored as the achieved accuracy.

Internal units hbar = 2m = k_F = E_F = 1.  Outputs: densities in hbar
(dipoles) and hbar^2 (quadrupoles) per unit incident amplitude; currents in
hbar^2 k_F/m (the internal current, in hbar * hbar k_F/(2m), divided by 2),
torques in hbar^2 k_F^2/m; z in 1/k_F.  See docs/interface.md.
"""
from __future__ import annotations

import time

import numpy as np

from ..config import Estimate, Key, Table, REQUIRED
from ..errors import DeckError
from ..io.results import Results
from ..kernels import scattering as sc
from ..parallel.engine import Plan, run_chunks, default_chunk_size

SWEEP_PARAMETERS = ("U", "r", "alpha")

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

INC_ORDER = ("x", "y", "z")


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


# ---------------------------------------------------------------------------
# one quadrature level


def _level_kernel(U, r, alpha, chi, z, nodes, weights, with_profiles):
    """kernel(start, stop) -> partial sums over kappa nodes start..stop-1."""
    def kernel(start, stop):
        k, w = nodes[start:stop], weights[start:stop]
        if with_profiles:
            o = sc.fermi_profiles(k, w, U, r, alpha, chi, z)
        else:
            o = sc.fermi_limits(k, w, U, r, alpha, chi)
        return o
    return kernel


def _template(ninc, nz, with_profiles):
    t = {n: ((ninc, 8), float) for n in ("dens0", "densinf", "cur0", "curinf", "JL0")}
    t["flux_err"] = ((1,), float)       # (1,): MPI reductions return at least 1-d arrays
    if with_profiles:
        for n in ("dens", "cur", "tor"):
            t[n] = ((ninc, 8, nz), float)
    return t


def _compute_level(U, r, alpha, chi, z, n, with_profiles, comm=None, log=None,
                   checkpoint=None, deck=None, stage="level"):
    nodes, weights = sc.kappa_rule(U, r, n)
    kernel = _level_kernel(U, r, alpha, chi, z, nodes, weights, with_profiles)
    template = _template(chi.shape[1], len(z), with_profiles)
    chunk = max(8, min(64, default_chunk_size(nodes.size)))
    plan = Plan(nodes.size, chunk)
    if comm is None:              # serial (inside a sweep point)
        out = {k: np.zeros(s, dtype=d) for k, (s, d) in template.items()}
        for c in range(plan.n_chunks):
            part = kernel(*plan.bounds(c))
            for k in out:
                out[k] += part[k]
        return out
    kw = {}
    if deck is not None:
        kw = dict(checkpoint_interval=deck["output"]["checkpoint_interval"],
                  progress_interval=deck["parallel"]["progress_interval"])
    return run_chunks(plan, kernel, template, comm, mode="sum", checkpoint=checkpoint,
                      stage=stage, log=log, label="kappa nodes", **kw)


def _profile_arrays(o):
    """Output-unit arrays from a level result (currents/torques: internal/2)."""
    return {
        "dipole": o["dens"][:, 0:3],
        "quadrupole": o["dens"][:, 3:8],
        "current": 0.5 * o["cur"][:, 0:3],
        "torque": 0.5 * o["tor"][:, 0:3],
    }


def _limit_arrays(o):
    return {
        "dipole_0": o["dens0"][:, 0:3], "dipole_inf": o["densinf"][:, 0:3],
        "quadrupole_0": o["dens0"][:, 3:8], "quadrupole_inf": o["densinf"][:, 3:8],
        "current_0": 0.5 * o["cur0"][:, 0:3], "current_inf": 0.5 * o["curinf"][:, 0:3],
        "current_left_0": 0.5 * o["JL0"][:, 0:3],
        "quadrupole_current_0": 0.5 * o["cur0"][:, 3:8],
    }


def _maxdiff(a, b, keys):
    return max(float(np.max(np.abs(a[k] - b[k]))) if np.size(a[k]) else 0.0 for k in keys)


def converge(U, r, alpha, chi, z, *, tol, ltol, max_points, with_profiles, comm=None,
             log=None, checkpoint=None, deck=None, stage="q"):
    """Double the points per kappa sub-interval until two levels agree.

    Returns (level result of the finest level, info dict with n, the
    differences of the last two levels and the number of nodes)."""
    z = np.asarray(z, dtype=float)
    zmax = float(z.max()) if z.size else 0.0
    n = 16 if not with_profiles else int(max(16, 8 * np.ceil(zmax / 8.0)))
    n = min(n, max(8, max_points // 2))
    prev = None
    t0 = time.time()
    history = []
    while True:
        o = _compute_level(U, r, alpha, chi, z, n, with_profiles, comm, log, checkpoint, deck,
                           stage=f"{stage}_n{n}")
        if prev is not None:
            el = _maxdiff(_limit_arrays(o), _limit_arrays(prev), ("dipole_0", "dipole_inf",
                          "quadrupole_0", "quadrupole_inf", "current_0", "current_inf",
                          "current_left_0", "quadrupole_current_0"))
            ep = _maxdiff(_profile_arrays(o), _profile_arrays(prev),
                          ("dipole", "quadrupole", "current", "torque")) if with_profiles else 0.0
            history.append((n, ep, el))
            if log:
                log(f"quadrature: {n} points per interval: profile change {ep:.2e}, "
                    f"limit change {el:.2e}")
            if (ep <= tol or not with_profiles) and el <= ltol:
                break
            if 2 * n > max_points:
                if log:
                    log(f"quadrature: max_points = {max_points} reached before the tolerance "
                        f"(profiles {ep:.2e} > {tol:.1e} or limits {el:.2e} > {ltol:.1e})")
                break
        prev = o
        n *= 2
    nodes = n * (len(sc.breakpoints(U, r)) - 1)
    info = {"n_per_interval": n, "n_kappa": nodes, "n_phi": sc.N_PHI,
            "profile_error": history[-1][1] if history else np.nan,
            "limit_error": history[-1][2] if history else np.nan,
            "seconds": time.time() - t0, "flux_error": float(o["flux_err"])}
    return o, info


# ---------------------------------------------------------------------------
# derived quantities


def _mass(p):
    if p["mass"] is not None:
        return p["mass"]
    return p["density"] * np.pi * (p["radius"] * 1e-9) ** 2 * (p["height"] * 1e-9)


def derived(lim, incident, p):
    """Torque integral, angular acceleration, memory loss, efficiencies."""
    idx = [INC_ORDER.index(s) for s in incident]
    ninc = len(incident)
    tmat = lim["current_inf"] - lim["current_0"]                     # [ninc, 3]
    tdiag = np.array([tmat[i, idx[i]] for i in range(ninc)])
    acc = sc.angular_acceleration(tdiag, p["k_F"], p["D"] * 1e-9, _mass(p))
    JL = np.array([lim["current_left_0"][i, idx[i]] for i in range(ninc)])
    JR = np.array([lim["current_0"][i, idx[i]] for i in range(ninc)])
    trans = np.asarray(p["transparency"], dtype=float)
    delta = np.array([[sc.memory_loss(JL[i] / JR[i], t) for i in range(ninc)] for t in trans])
    eta = lim["quadrupole_current_0"] / JL[:, None]
    return {"torque_integral": tdiag, "torque_integral_matrix": tmat,
            "angular_acceleration": acc, "J_left_0": JL, "J_right_0": JR,
            "memory_loss": delta, "efficiency": eta}


# ---------------------------------------------------------------------------
# run


def _params(p, name=None, value=None):
    U, r, alpha = p["U"], p["r"], p["alpha"]
    if name == "U":
        U = value
    elif name == "r":
        r = value
    elif name == "alpha":
        alpha = value
    return float(U), float(r), float(alpha)


def run(deck, comm, log, checkpoint) -> Results:
    p = deck["interface"]
    incident = list(p["incident"])
    chi = sc.incident_matrix(incident)
    z = np.linspace(0.0, p["z_max"], p["nz"])
    U, r, alpha = _params(p)
    kt, kr = sc.thresholds(U, r)
    log(f"interface: U = {U:g} E_F, r = {r:g}, alpha = {alpha:g}; k_t = {kt:.6f}, k_r = {kr:.6f} k_F; "
        f"incident {','.join(incident)}")
    o, info = converge(U, r, alpha, chi, z, tol=p["tolerance"], ltol=p["limits_tolerance"],
                       max_points=p["max_points"], with_profiles=True, comm=comm, log=log,
                       checkpoint=checkpoint, deck=deck, stage="profiles")
    prof = _profile_arrays(o)
    lim = _limit_arrays(o)
    der = derived(lim, incident, p)
    log(f"interface: {info['n_kappa']} kappa x {info['n_phi']} phi points; achieved accuracy "
        f"profiles {info['profile_error']:.1e}, limits {info['limit_error']:.1e}; "
        f"flux conservation {info['flux_error']:.1e}")

    res = Results("interface")
    res.add("z", z, units="1/k_F", description="distance from the interface into the right layer")
    res.add("dipole", prof["dipole"], units="hbar",
            description="<L_i^j>(z): [incident j, component i (x,y,z), z], Fermi-averaged")
    res.add("quadrupole", prof["quadrupole"], units="hbar^2",
            description="quadrupoles [incident, (xy, yz, zx, x2-y2, z2), z]")
    res.add("current", prof["current"], units="hbar^2 k_F/m",
            description="dipole currents J_i = Re[psi^+ L_i v psi] [incident, component, z]")
    res.add("torque", prof["torque"], units="hbar^2 k_F^2/m",
            description="lattice torque tau_i = dJ_i/dz [incident, component, z]")
    where = {"0": "at z = 0 (right side)", "inf": "z -> infinity (analytic: persistent mode pairs)",
             "left_0": "at z = 0- (left layer)"}
    for k in ("dipole_0", "dipole_inf"):
        res.add(f"limits/{k}", lim[k], units="hbar",
                description=f"dipoles [incident, component] {where[k.split('_', 1)[1]]}")
    for k in ("quadrupole_0", "quadrupole_inf"):
        res.add(f"limits/{k}", lim[k], units="hbar^2",
                description=f"quadrupoles [incident, (xy,yz,zx,x2-y2,z2)] {where[k.split('_', 1)[1]]}")
    for k in ("current_0", "current_inf", "current_left_0"):
        res.add(f"limits/{k}", lim[k], units="hbar^2 k_F/m",
                description=f"dipole currents [incident, component] {where[k.split('_', 1)[1]]}")
    res.add("limits/quadrupole_current_0", lim["quadrupole_current_0"], units="hbar^3 k_F/m",
            description="quadrupole currents at 0+ [incident, (xy,yz,zx,x2-y2,z2)]")
    res.add("torque_integral", der["torque_integral"], units="hbar^2 k_F^2/m",
            description="X = Int_0^inf tau_j d(k_F z) = J_j(inf) - J_j(0+) for incident j, component j")
    res.add("torque_integral_matrix", der["torque_integral_matrix"], units="hbar^2 k_F^2/m",
            description="Int tau_i d(k_F z) [incident, component]")
    res.add("angular_acceleration", der["angular_acceleration"], units="rad/s^2",
            description="X * 2 pi^2 hbar^2 k_F/(m_e D M) (paper's recipe) per incident state")
    res.add("transparency", np.asarray(p["transparency"]), units="1",
            description="rho_R l_R/AR_I values of memory_loss")
    res.add("memory_loss", der["memory_loss"], units="1",
            description="delta [transparency, incident] from J_L(0)/J_R(0) (Eq. 9); nan if J_L < J_R")
    res.add("efficiency", der["efficiency"], units="1",
            description="eta = Q_R(0+)/(hbar J_L(0-)) [incident, (xy,yz,zx,x2-y2,z2)]")
    res.add("k_t", kt, units="k_F", description="helicity +-1 Fermi momentum")
    res.add("k_r", kr, units="k_F", description="helicity 0 Fermi momentum")
    res.add("wavelength", sc.oscillation_wavelength(U, r), units="1/k_F",
            description="2 pi/(k_r - k_t)")
    qdesc = {
        "n_per_interval": "Gauss-Legendre points per kappa sub-interval (final level)",
        "n_kappa": "kappa points (final level)",
        "n_phi": "phi points (exact rule)",
        "profile_error": "achieved accuracy of the profiles: max change between the last two levels",
        "limit_error": "achieved accuracy of interface values and limits: max change between the last two levels",
        "seconds": "wall time of the quadrature",
        "flux_error": "max probability-flux conservation error over the nodes (incident - reflected - transmitted)",
    }
    for k, v in info.items():
        res.add(f"quadrature/{k}", v, units="1" if k != "seconds" else "s", description=qdesc[k])
    res.attrs.update(_attrs(p, incident, info))

    sw = p.get("sweep")
    if sw is not None:
        _run_sweep(deck, comm, log, checkpoint, res, incident, chi, z)
    return res


def _attrs(p, incident, info):
    return {
        "incident": incident,
        "U": p["U"], "r": p["r"], "alpha": p["alpha"],
        "mass_kg": _mass(p),
        "convention": ("hbar = 2m = k_F = E_F = 1 internally; basis m_l = +1,0,-1 (paper Eq. 2); "
                       "Fermi average 1/(pi k_F^2) Int dphi Int_0^k_F kappa dkappa (uniform in the "
                       "transverse disk), unit-amplitude incident states; BC: psi continuous, "
                       "M_R psi'(0+) - psi'(0-) + (i/2) r C psi(0) - alpha Rop psi(0) = 0; "
                       "J_O = Re[psi^+ O v psi], v = dH/dk_z; tau = dJ/dz; "
                       "currents in hbar^2 k_F/m, torques in hbar^2 k_F^2/m"),
        "achieved_profile_accuracy": info["profile_error"],
        "achieved_limit_accuracy": info["limit_error"],
    }


def _run_sweep(deck, comm, log, checkpoint, res, incident, chi, z):
    p = deck["interface"]
    sw = p["sweep"]
    name = sw["parameter"]
    values = np.asarray(sw["values"], dtype=float)
    nv = values.size
    ninc = len(incident)
    ntr = len(p["transparency"])
    nz = len(z)
    with_prof = bool(sw["profiles"])
    template = {
        "dipole_0": ((ninc, 3), float), "dipole_inf": ((ninc, 3), float),
        "quadrupole_0": ((ninc, 5), float), "quadrupole_inf": ((ninc, 5), float),
        "current_0": ((ninc, 3), float), "current_inf": ((ninc, 3), float),
        "current_left_0": ((ninc, 3), float), "quadrupole_current_0": ((ninc, 5), float),
        "torque_integral": ((ninc,), float), "angular_acceleration": ((ninc,), float),
        "memory_loss": ((ntr, ninc), float), "efficiency": ((ninc, 5), float),
        "k_t": ((), float), "k_r": ((), float), "wavelength": ((), float),
        "limit_error": ((), float), "profile_error": ((), float), "flux_error": ((), float),
        "n_kappa": ((), float),
    }
    if with_prof:
        for k, nc in (("dipole", 3), ("quadrupole", 5), ("current", 3), ("torque", 3)):
            template[k] = ((ninc, nc, nz), float)

    def kernel(start, stop):
        out = {k: np.zeros((stop - start,) + s, dtype=d) for k, (s, d) in template.items()}
        for j, v in enumerate(values[start:stop]):
            U, r, alpha = _params(p, name, v)
            o, info = converge(U, r, alpha, chi, z if with_prof else np.zeros(0),
                               tol=p["tolerance"], ltol=p["limits_tolerance"],
                               max_points=p["max_points"], with_profiles=with_prof)
            lim = _limit_arrays(o)
            der = derived(lim, incident, p)
            kt, kr = sc.thresholds(U, r)
            row = dict(lim)
            row.update({k: der[k] for k in ("torque_integral", "angular_acceleration",
                                            "memory_loss", "efficiency")})
            row.update(k_t=kt, k_r=kr, wavelength=sc.oscillation_wavelength(U, r),
                       limit_error=info["limit_error"], profile_error=info["profile_error"],
                       flux_error=info["flux_error"], n_kappa=info["n_kappa"])
            if with_prof:
                row.update(_profile_arrays(o))
            for k in template:
                out[k][j] = row[k]
        return out

    log(f"interface sweep: {name} over {nv} values" + (" (with profiles)" if with_prof else ""))
    out = run_chunks(Plan(nv, 1), kernel, template, comm, mode="stack", checkpoint=checkpoint,
                     stage="sweep", log=log, label="sweep points",
                     checkpoint_interval=deck["output"]["checkpoint_interval"],
                     progress_interval=deck["parallel"]["progress_interval"])
    units = {"dipole_0": "hbar", "dipole_inf": "hbar", "quadrupole_0": "hbar^2",
             "quadrupole_inf": "hbar^2", "current_0": "hbar^2 k_F/m", "current_inf": "hbar^2 k_F/m",
             "current_left_0": "hbar^2 k_F/m", "quadrupole_current_0": "hbar^3 k_F/m",
             "torque_integral": "hbar^2 k_F^2/m", "angular_acceleration": "rad/s^2",
             "k_t": "k_F", "k_r": "k_F", "wavelength": "1/k_F", "dipole": "hbar",
             "quadrupole": "hbar^2", "current": "hbar^2 k_F/m", "torque": "hbar^2 k_F^2/m"}
    res.add("sweep/values", values, units={"U": "E_F", "r": "hbar^2/2m", "alpha": "hbar^2/2m"}[name],
            description=f"values of {name}")
    for k in template:
        res.add(f"sweep/{k}", out[k], units=units.get(k, "1"),
                description=f"{k} for every sweep point (first axis)")
    res.group_attrs["sweep"] = {"parameter": name, "profiles": with_prof}


# ---------------------------------------------------------------------------
# show / plot

def _s(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def _incident(g):
    inc = g.attrs.get("incident", INC_ORDER)
    return [_s(s) for s in np.atleast_1d(inc)]


def summary(h5) -> str:
    g = h5["interface"]
    inc = _incident(g)
    lines = [f"interface: U = {g.attrs['U']:g} E_F, r = {g.attrs['r']:g} hbar^2/2m, "
             f"alpha = {g.attrs['alpha']:g} hbar^2/2m; k_t = {g['k_t'][()]:.6f}, "
             f"k_r = {g['k_r'][()]:.6f} k_F",
             f"quadrature: {int(g['quadrature/n_kappa'][()])} kappa x {int(g['quadrature/n_phi'][()])} phi; "
             f"achieved accuracy profiles {g['quadrature/profile_error'][()]:.1e}, "
             f"limits {g['quadrature/limit_error'][()]:.1e}; flux conservation "
             f"{g['quadrature/flux_error'][()]:.1e}", ""]
    lines.append("incident | <L_j>(0)  <L_j>(inf) | J_L(0-)  J_R(0+)  J(inf) [hbar^2 k_F/m] | "
                 "X [hbar^2 k_F^2/m] | omega_dot [rad/s^2]")
    for i, s in enumerate(inc):
        j = INC_ORDER.index(s)
        lines.append(f"  L_{s}    | {g['limits/dipole_0'][i, j]:8.5f} {g['limits/dipole_inf'][i, j]:8.5f} | "
                     f"{g['limits/current_left_0'][i, j]:8.5f} {g['limits/current_0'][i, j]:8.5f} "
                     f"{g['limits/current_inf'][i, j]:8.5f} | {g['torque_integral'][i]:9.5f} | "
                     f"{g['angular_acceleration'][i]:9.1f}")
    lines.append("")
    lines.append("quadrupoles (xy, yz, zx, x2-y2, z2) at z = 0 and z -> inf; efficiency eta:")
    for i, s in enumerate(inc):
        q0 = " ".join(f"{v:8.5f}" for v in g["limits/quadrupole_0"][i])
        qi = " ".join(f"{v:8.5f}" for v in g["limits/quadrupole_inf"][i])
        et = " ".join(f"{v:8.5f}" for v in g["efficiency"][i])
        lines.append(f"  L_{s}  0: {q0}\n        inf: {qi}\n        eta: {et}")
    tr = g["transparency"][()]
    for t, row in zip(tr, g["memory_loss"][()]):
        lines.append(f"memory loss delta (rho_R l_R/AR_I = {t:g}): " +
                     ", ".join(f"L_{s}: {d:.5f}" for s, d in zip(inc, row)))
    if "sweep" in g:
        sw = g["sweep"]
        name = _s(sw.attrs.get("parameter", "?"))
        lines.append("")
        lines.append(f"sweep over {name}: {name:>6} | X per incident | omega_dot per incident")
        for k, v in enumerate(sw["values"][()]):
            X = " ".join(f"{x:9.5f}" for x in sw["torque_integral"][k])
            A = " ".join(f"{x:9.1f}" for x in sw["angular_acceleration"][k])
            lines.append(f"  {v:10.4g} | {X} | {A}")
    return "\n".join(lines)


def plot(h5, stem) -> list:
    from ..plot import plt, save_figure
    g = h5["interface"]
    inc = _incident(g)
    z = g["z"][()]
    dip, quad = g["dipole"][()], g["quadrupole"][()]
    tor = g["torque"][()]
    files = []
    colors = ("C0", "C3", "C2", "C1", "C4")
    # Fig. 1: dipoles and quadrupoles for each incident state
    fig, ax = plt.subplots(2, len(inc), figsize=(4 * len(inc), 6), squeeze=False)
    for i, s in enumerate(inc):
        for c in range(3):
            ax[0, i].plot(z, dip[i, c], color=colors[c], label=f"<L_{'xyz'[c]}^{s}>")
        for c, qn in enumerate(sc.QUAD_NAMES):
            ax[1, i].plot(z, quad[i, c], color=colors[c], label=f"<L_{qn}^{s}>")
        ax[0, i].set_title(f"incident |L_{s}>")
        ax[1, i].set_xlabel("k_F z")
        for a in ax[:, i]:
            a.legend(fontsize=7)
            a.axhline(0, color="k", lw=0.5)
    ax[0, 0].set_ylabel("dipole (hbar)")
    ax[1, 0].set_ylabel("quadrupole (hbar^2)")
    fig.tight_layout()
    files.append(save_figure(fig, stem, "_profiles.png", dpi=110))
    # Fig. 4: torque
    fig, ax = plt.subplots(1, len(inc), figsize=(4 * len(inc), 3.2), squeeze=False)
    for i, s in enumerate(inc):
        j = INC_ORDER.index(s)
        ax[0, i].plot(z, tor[i, j], color="C0")
        ax[0, i].set_title(f"tau_{s} for |L_{s}>, X = {g['torque_integral'][i]:.4f}")
        ax[0, i].set_xlabel("k_F z")
    ax[0, 0].set_ylabel("torque (hbar^2 k_F^2/m)")
    fig.tight_layout()
    files.append(save_figure(fig, stem, "_torque.png", dpi=110))
    if "sweep" in g:
        files += _plot_sweep(g, inc, stem, plt)
    return files


def _plot_sweep(g, inc, stem, plt):
    from ..plot import save_figure
    sw = g["sweep"]
    name = _s(sw.attrs.get("parameter", "?"))
    x = sw["values"][()]
    files = []
    fig, ax = plt.subplots(2, 3, figsize=(13, 7))
    for i, s in enumerate(inc):
        j = INC_ORDER.index(s)
        ax[0, 0].plot(x, sw["dipole_0"][:, i, j], "o-", ms=3, label=f"<L_{s}^{s}>(0)")
        ax[0, 1].plot(x, sw["dipole_inf"][:, i, j], "o-", ms=3, label=f"<L_{s}^{s}>(inf)")
        ax[1, 0].plot(x, sw["angular_acceleration"][:, i], "o-", ms=3, label=f"|L_{s}>")
        for c, qn in enumerate(sc.QUAD_NAMES):
            e = sw["efficiency"][:, i, c]
            if np.max(np.abs(e)) > 1e-10:
                ax[1, 1].plot(x, e, "o-", ms=3, label=f"eta_{qn}^{s}")
            q = sw["quadrupole_inf"][:, i, c]
            if np.max(np.abs(q)) > 1e-10:
                ax[0, 1].plot(x, q, "s--", ms=3, label=f"<L_{qn}^{s}>(inf)")
            q0 = sw["quadrupole_0"][:, i, c]
            if np.max(np.abs(q0)) > 1e-10:
                ax[0, 0].plot(x, q0, "s--", ms=3, label=f"<L_{qn}^{s}>(0)")
        for t in range(sw["memory_loss"].shape[1]):
            ax[1, 2].plot(x, sw["memory_loss"][:, t, i], "o-", ms=3,
                          label=f"|L_{s}>, rho l/AR = {g['transparency'][t]:g}")
    ax[0, 2].plot(x, sw["wavelength"][()], "o-", ms=3, label="2 pi/(k_r - k_t)")
    titles = ["z = 0", "z -> inf", "oscillation wavelength (1/k_F)", "angular acceleration (rad/s^2)",
              "conversion efficiency eta", "memory loss delta"]
    for a, t in zip(ax.ravel(), titles):
        a.set_title(t, fontsize=9)
        a.set_xlabel(name)
        a.legend(fontsize=6)
    fig.tight_layout()
    files.append(save_figure(fig, stem, "_sweep.png", dpi=110))
    if bool(sw.attrs.get("profiles", False)) and "dipole" in sw:
        z = g["z"][()]
        fig, ax = plt.subplots(3, len(inc), figsize=(4 * len(inc), 8), squeeze=False)
        for i, s in enumerate(inc):
            j = INC_ORDER.index(s)
            for k, v in enumerate(x):
                ax[0, i].plot(z, sw["dipole"][k, i, j], label=f"{name} = {v:g}")
                ax[1, i].plot(z, sw["quadrupole"][k, i, 1 if s == "x" else (2 if s == "y" else 4)],
                              label=f"{name} = {v:g}")
                ax[2, i].plot(z, sw["torque"][k, i, j], label=f"{name} = {v:g}")
            ax[0, i].set_title(f"<L_{s}^{s}>")
            ax[1, i].set_title({"x": "<L_yz^x>", "y": "<L_zx^y>", "z": "<L_z2^z>"}[s])
            ax[2, i].set_title(f"tau_{s} (hbar^2 k_F^2/m)")
            ax[2, i].set_xlabel("k_F z")
            for a in ax[:, i]:
                a.legend(fontsize=6)
        fig.tight_layout()
        files.append(save_figure(fig, stem, "_sweep_profiles.png", dpi=110))
    return files


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
    return Estimate(total, nv, key, f"{nv} point{'s' if nv > 1 else ''} x {p['nz']} z values")
