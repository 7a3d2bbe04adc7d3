"""``hpcorb.interface``: orbital transmission across a metallic interface (paper 002).

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

from ..io.results import Results
from ..kernels import scattering as sc
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..result import Result

SWEEP_PARAMETERS = ("U", "r", "alpha")

INC_ORDER = ("x", "y", "z")


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
                   checkpoint=None, engine=None, stage="level"):
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
    kw = dict(engine or {})         # interval options of the run context
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
             log=None, checkpoint=None, engine=None, stage="q"):
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
        o = _compute_level(U, r, alpha, chi, z, n, with_profiles, comm, log, checkpoint, engine,
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
# physics

def _params(p, name=None, value=None):
    U, r, alpha = p["U"], p["r"], p["alpha"]
    if name == "U":
        U = value
    elif name == "r":
        r = value
    elif name == "alpha":
        alpha = value
    return float(U), float(r), float(alpha)


def interface(*, context, **p):
    """Orbital transmission; keys as in the [interface] table (validated)."""
    ctx, log = context, context.log
    incident = list(p["incident"])
    chi = sc.incident_matrix(incident)
    z = np.linspace(0.0, p["z_max"], p["nz"])
    U, r, alpha = _params(p)
    kt, kr = sc.thresholds(U, r)
    log(f"interface: U = {U:g} E_F, r = {r:g}, alpha = {alpha:g}; k_t = {kt:.6f}, k_r = {kr:.6f} k_F; "
        f"incident {','.join(incident)}")
    o, info = converge(U, r, alpha, chi, z, tol=p["tolerance"], ltol=p["limits_tolerance"],
                       max_points=p["max_points"], with_profiles=True, comm=ctx.comm, log=log,
                       checkpoint=ctx.checkpoint, engine=ctx.intervals(), stage="profiles")
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
        _run_sweep(p, ctx, res, incident, chi, z)
    return Result(res, ctx.comm)


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


def _run_sweep(p, ctx, res, incident, chi, z):
    log = ctx.log
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
    out = run_chunks(Plan(nv, 1), kernel, template, ctx.comm, mode="stack",
                     stage="sweep", label="sweep points", **ctx.engine())
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
