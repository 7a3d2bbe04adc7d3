"""``hpcorb.trilayer``: real-space multiorbital (t2g) and altermagnet lattices (paper 004).

FM/NM/FM (or NM/FM bilayer) stacks on a square lattice, nx columns (hard
walls) x ny rows (periodic or open).  Equilibrium OAM (or spin) densities,
bond currents and bond torques, exchange torque, the paper's Eq. 7 current
and Eq. 10 torques, continuity residuals, the free energy (grand potential
measured from mu), the orbital RKKY coupling J = F_AP - F_P vs nx, free-energy
maps over the magnetization angles and the preferred axis vs mu.

Solvers (``solver``):
  ky      periodic y and no disorder: H(k_y) blocks, exact; the half zone
          0 <= k_y <= pi (H(k_y) = H(-k_y) because the y-bond matrices are
          real and diagonal), k_y points distributed over ranks by the engine;
  dense   full diagonalization of the real-space Hamiltonian (rank 0);
  sparse  PETSc MPIAIJ, each rank the rows of its columns; SLEPc
          shift-and-invert windows covering [E_min, mu + window_kt * T],
          eigenvectors streamed into column-local density-matrix blocks
          (hpcorb.solvers.slepc);
  (k_y and dense solvers: hpcorb.solvers.realspace)
  auto    ky when it applies, else dense up to ``dense_max_states`` states,
          else sparse.
See docs/trilayer.md for the conventions (all recorded as attributes).
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from ..io.results import Results
from ..kernels import realspace as rs
from ..models.t2g import build_lattice
from ..parallel.engine import Plan, run_chunks
from ..result import Result
from ..solvers.realspace import free_energy, solve
from ..solvers.slepc import estimate_bytes

AXES = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]), "z": np.array([0, 0, 1.0])}

GB = 1024.0 ** 3


def _n_fm(p):
    nl = p["n_fm"] if np.any(p["m_left"]) else 0
    nr = (p["n_fm"] if p["n_fm_right"] is None else p["n_fm_right"]) if np.any(p["m_right"]) else 0
    return nl, nr


def norb_of(p):
    return 3 if p["normal_metal"] == "t2g" else 2


def dense_bytes(n_states):
    """H, eigenvectors, rho and LAPACK work: ~4 complex N x N arrays."""
    return 4 * 16.0 * n_states ** 2


def ky_bytes(p):
    m = p["nx"] * norb_of(p)
    return 64 * 16.0 * m * m  # a chunk of k_y blocks, eigenvectors and rho


def resolve_solver(p, nx=None):
    nx = p["nx"] if nx is None else nx
    s = p["solver"]
    if s != "auto":
        return s
    if p["periodic_y"] and p["disorder"] == 0:
        return "ky"
    if nx * p["ny"] * norb_of(p) <= p["dense_max_states"]:
        return "dense"
    return "sparse"


def item_solver(p, nx):
    """Solver for free-energy-only items (RKKY, angle maps, mu scans)."""
    if p["periodic_y"] and p["disorder"] == 0 and p["solver"] in ("auto", "ky"):
        return "ky"
    return "dense"



def _check_items(p, nx, key):
    s = item_solver(p, nx)
    n_states = nx * p["ny"] * norb_of(p)
    if s == "dense" and dense_bytes(n_states) > p["memory_limit_gb"] * GB:
        raise DeckError(key, "{...}", f"free-energy scans run the dense solver per point: {n_states} states "
                        f"need ~{dense_bytes(n_states) / GB:.3g} GB per rank (> memory_limit_gb)")


# ---------------------------------------------------------------------------
# the calculation

def _lattice_params(p):
    q = dict(p)
    for k in ("rkky", "angles", "mu_scan", "sparse"):
        q.pop(k, None)
    return q


def _sparse_opts(p):
    sp = p["sparse"] or {}
    return {"nev": sp.get("window_nev", 96), "window_kt": sp.get("window_kt", 40.0),
            "tol": sp.get("tol", 1e-13), "factor": sp.get("factor", "mumps")}


def _unit_m(p, magnet):
    m = np.asarray(p["m_left"] if magnet == "left" else p["m_right"], dtype=float)
    return float(np.linalg.norm(m))


def trilayer(*, context, **p):
    """Real-space trilayer lattices; keys as in the [trilayer] table (validated)."""
    ctx = context
    comm, log, checkpoint = ctx.comm, ctx.log, ctx.checkpoint
    q = _lattice_params(p)
    T = p["temperature"]
    solver = resolve_solver(p)
    engine_kw = ctx.intervals()
    lat = build_lattice(q)
    log(f"trilayer: {p['normal_metal']} nx = {lat.nx}, ny = {lat.ny}, {lat.n_states} states, "
        f"solver {solver}, FM columns {lat.info['n_fm_left']} + {lat.info['n_fm_right']}")
    if solver == "sparse":
        est = estimate_bytes(lat.nx, lat.ny, lat.norb, _sparse_opts(p)["nev"], comm.size)
        if est > p["memory_limit_gb"] * GB:
            raise DeckError("trilayer.solver", "sparse",
                            f"~{est / GB:.3g} GB per rank on {comm.size} ranks exceeds memory_limit_gb; "
                            "use more ranks")
    sol = solve(lat, T, solver, comm, log, checkpoint, engine_kw, _sparse_opts(p))
    col, F = sol["col"], sol["F"]

    res = Results("trilayer")
    desc_pol = "last axis = polarization x, y, z (L for t2g, sigma for the altermagnet)"
    res.add("x", np.arange(lat.nx, dtype=float), units="a", description="column position (lattice units)")
    res.add("region", lat.region.astype(np.int64), units="1",
            description="0 = normal metal (t2g or altermagnet), 1 = left FM, 2 = right FM")
    texts = {
        "density": "<J_alpha> per site, y-averaged",
        "bond_current_x": "bond current Jb(x -> x+1) = -Im Tr({h_b, J} rho_(x+1),x), y-averaged",
        "bond_torque_x": "bond torque tau_b(x, x+1) = -Im Tr([h_b, J] rho_(x+1),x), y-averaged",
        "bond_current_y": "y-bond current Jb(y -> y+1) in column x, y-averaged",
        "bond_torque_y": "y-bond torque tau_b(y, y+1) in column x, y-averaged",
        "exchange_torque": "i <c^dag [eps_n, J] c> per site, y-averaged",
        "current_eq7": "paper Eq. 7 current along x (each bond's own T; hard walls), y-averaged",
        "torque_eq10": "paper Eq. 10 torque, sum of the x and y terms (T = material matrix of the column)",
        "torque_eq10_x": "paper Eq. 10 torque, x term",
        "torque_eq10_y": "paper Eq. 10 torque, y term",
    }
    for name, text in texts.items():
        res.add(name, col[name], units="t", description=f"{text}; {desc_pol}")
    res.add("continuity_residual", rs.continuity_residual(col), units="t",
            description="literal Eq. 9 in equilibrium: [j7(x+1) - j7(x-1)]/2 - tau_eq10(x) "
                        "(a continuum statement, nonzero for gamma != t)")
    res.add("continuity_residual_bond", rs.bond_form_residual(col), units="t",
            description="exact lattice identity B(x) - B(x-1) - tau_ex - S(x) - S(x-1) - 2 S_y (round-off)")
    res.add("free_energy", np.asarray(F), units="t",
            description="grand potential F = -T sum_n ln(1 + exp(-E_n/T)), E_n from mu, whole lattice",
            per_row=F / lat.ny)
    if sol["site"] is not None and p["site_output"]:
        c0, c1, site = sol["site"]
        for name in ("density", "bond_current_x", "bond_torque_x", "bond_current_y", "bond_torque_y",
                     "exchange_torque", "current_eq7", "torque_eq10"):
            res.add_slice(f"site/{name}", site[name], c0, (lat.nx, lat.ny, 3), units="t",
                          description=f"per site [x, y, alpha]: {texts[name]}")
    # --- RKKY -----------------------------------------------------------
    r = p["rkky"]
    if r is not None:
        axis = AXES[r["axis"]]
        mLn, mRn = _unit_m(p, "left"), _unit_m(p, "right")
        nxs = list(r["nx"])

        def kern(start, stop):
            out = np.zeros((stop - start, 2))
            for i in range(start, stop):
                n, ap = nxs[i // 2], i % 2
                lat_i = build_lattice(q, nx=n, m_left=mLn * axis, m_right=(-1 if ap else 1) * mRn * axis)
                out[i - start, ap] = free_energy(lat_i, T, item_solver(p, n))
            return {"F": out}
        o = run_chunks(Plan(2 * len(nxs), 1), kern, {"F": ((2,), float)}, comm, mode="stack",
                       checkpoint=checkpoint, stage="rkky", log=log, label="free energies", **engine_kw)
        Fp = o["F"][0::2, 0]
        Fap = o["F"][1::2, 1]
        res.add("rkky/n_x", np.asarray(nxs, dtype=np.int64), units="1", description="system length N_x")
        res.add("rkky/J", (Fap - Fp) / lat.ny, units="t per row",
                description=f"J_{r['axis']} = (F_AP - F_P) / N_y (per row, the paper's normalization)")
        res.add("rkky/J_total", Fap - Fp, units="t", description="F_AP - F_P of the whole lattice")
        res.add("rkky/F_P", Fp, units="t", description="F, both magnets along +axis")
        res.add("rkky/F_AP", Fap, units="t", description="F, left +axis, right -axis")
        res.group_attrs["rkky"] = {"axis": r["axis"], "normalization": "per row (F / N_y)"}
    # --- angle map --------------------------------------------------------
    a = p["angles"]
    if a is not None:
        th = np.linspace(0, np.pi, a["ntheta"])
        ph = np.linspace(0, 2 * np.pi, a["nphi"])
        mag = _unit_m(p, a["magnet"])
        nphi = len(ph)

        def kern(start, stop):
            out = np.zeros(stop - start)
            for i in range(start, stop):
                t_, f_ = th[i // nphi], ph[i % nphi]
                m = mag * np.array([np.sin(t_) * np.cos(f_), np.sin(t_) * np.sin(f_), np.cos(t_)])
                lat_i = build_lattice(q, **{f"m_{a['magnet']}": m})
                out[i - start] = free_energy(lat_i, T, item_solver(p, lat.nx))
            return {"F": out}
        n = len(th) * nphi
        o = run_chunks(Plan(n, max(1, min(16, n // 64 or 1))), kern, {"F": ((), float)}, comm,
                       mode="stack", checkpoint=checkpoint, stage="angles", log=log, label="angles",
                       **engine_kw)
        Fm = o["F"].reshape(len(th), nphi)
        res.add("angles/theta", th, units="rad", description="polar angle of the rotating FM")
        res.add("angles/phi", ph, units="rad", description="azimuthal angle of the rotating FM")
        res.add("angles/F", Fm, units="t", description="free energy of the whole lattice [theta, phi]")
        res.add("angles/F_per_row", Fm / lat.ny, units="t", description="free energy per row")
        i, j = np.unravel_index(np.argmin(Fm), Fm.shape)
        mmin = [np.sin(th[i]) * np.cos(ph[j]), np.sin(th[i]) * np.sin(ph[j]), np.cos(th[i])]
        res.group_attrs["angles"] = {"magnet": a["magnet"], "minimum_direction": np.round(mmin, 6)}
    # --- mu scan --------------------------------------------------------
    s = p["mu_scan"]
    if s is not None:
        mus = np.asarray(s["mu"], dtype=float)
        mag = _unit_m(p, s["magnet"])

        def kern(start, stop):
            out = np.zeros(stop - start)
            for i in range(start, stop):
                mu_i, ax = mus[i // 3], "xyz"[i % 3]
                lat_i = build_lattice(q, mu=mu_i, **{f"m_{s['magnet']}": mag * AXES[ax]})
                out[i - start] = free_energy(lat_i, T, item_solver(p, lat.nx))
            return {"F": out}
        o = run_chunks(Plan(3 * len(mus), 3), kern, {"F": ((), float)}, comm, mode="stack",
                       checkpoint=checkpoint, stage="mu_scan", log=log, label="points", **engine_kw)
        Fm = o["F"].reshape(len(mus), 3)
        res.add("mu_scan/mu", mus, units="t", description="chemical potential")
        res.add("mu_scan/F", Fm, units="t", description="free energy with the FM along x, y, z [mu, axis]")
        res.add("mu_scan/F_per_row", Fm / lat.ny, units="t", description="free energy per row")
        spread = (Fm.max(axis=1) - Fm.min(axis=1)) / lat.ny
        pref = np.where(spread > 1e-12, np.argmin(Fm, axis=1), -1).astype(np.int64)
        res.add("mu_scan/preferred", pref, units="1",
                description="preferred axis: 0 = x, 1 = y, 2 = z (lowest F); -1 = degenerate "
                            "(spread of F per row <= 1e-12, e.g. an empty lattice)")
    res.attrs.update(conventions(lat, p, solver))
    for k, v in sol["info"].items():
        if k != "solver" and isinstance(v, (int, float, str)):
            res.attrs[f"sparse_{k}"] = v
    return Result(res, comm)


def conventions(lat, p, solver) -> dict:
    return {
        "solver": solver,
        "normal_metal": p["normal_metal"],
        "bond_scale": lat.scale,
        "bond_normalization": f"matrix element on a bond = {lat.scale:g} * T (Eq. 5: each bond once, 1/2)",
        "interface_bond": p["interface_bond"],
        "L_matrices": ("paper Eq. 2 (basis d_yz, d_xz, d_xy), [Lx, Ly] = +i Lz; not the literal t2g "
                       "projection of the d-orbital L (which has [Lx, Ly] = -i Lz)")
        if p["normal_metal"] == "t2g" else "altermagnet: J = Pauli matrices sigma (not sigma/2)",
        "fm_coupling": "on-site -m.J in FM columns, hopping -t 1 inside FMs",
        "free_energy": "grand potential F = -T sum ln(1 + exp(-E_n/T)), E_n measured from mu, "
                       "whole lattice; attribute per_row = F / N_y; T = 0: sum of E_n < 0",
        "rho_convention": "rho = sum f |n><n|, <c^dag X c> = Tr(X rho), rho_mn = block (m rows, n cols)",
        "eq7_convention": "Eq. 7 with each bond's own unscaled T, c = 0 beyond hard walls",
        "eq10_convention": "Eq. 10 with the column's material T (NM: T_x, T_y; FM: -t 1), centred "
                           "differences, sum of x and y terms in torque_eq10",
        "disorder": "Anderson: V_n uniform in [-W/2, W/2], numpy default_rng(seed), one value per site",
        "energy_units": "t (the hopping; t = 1 in the paper's decks)",
        "periodic_y": bool(p["periodic_y"]),
        "temperature": p["temperature"],
        "mu": p["mu"],
        "ky_half_zone": "0 <= k_y <= pi, weights 1 (k = 0, pi) and 2, since H(k_y) = H(-k_y)",
    }
