"""``type = "trilayer"``: real-space multiorbital (t2g) and altermagnet lattices (paper 004).

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
  auto    ky when it applies, else dense up to ``dense_max_states`` states,
          else sparse.
See docs/trilayer.md for the conventions (all recorded as attributes).
"""
from __future__ import annotations

import math

import numpy as np

from ..config import REQUIRED, Estimate, Key, Table
from ..errors import DeckError
from ..io.results import Results
from ..kernels import realspace as rs
from ..models.t2g import build_lattice
from ..parallel.engine import Plan, run_chunks

AXES = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]), "z": np.array([0, 0, 1.0])}

SCHEMA = Table("trilayer", [
    Key("nx", "int", REQUIRED, "columns (hard walls in x), FM columns included", ge=2),
    Key("ny", "int", REQUIRED, "rows (periodic in y unless periodic_y = false)", ge=1),
    Key("n_fm", "int", 1, "FM columns at each end (left; right too unless n_fm_right)", ge=0),
    Key("n_fm_right", "int", None, "FM columns at the right end (default n_fm; 0 = bilayer)", ge=0),
    Key("gamma", "float", 1.0, "t2g NM: weak hopping (d_yz along x, d_xz along y), Eq. 3", units="t", ge=0.0),
    Key("t", "float", 1.0, "hopping t (the unit of energy in the paper)", units="t", gt=0.0),
    Key("t_prime", "float", None, "t2g NM: d_xy hopping t' (default t)", units="t", ge=0.0),
    Key("w", "float", 0.0, "altermagnet spin anisotropy w, Eq. 4", units="t"),
    Key("mu", "float", 0.0, "chemical potential", units="t"),
    Key("temperature", "float", 0.01, "temperature k_B T (0 allowed for ky/dense)", units="t", ge=0.0),
    Key("m_left", "floats", [1.0, 0.0, 0.0], "left FM magnetization (zero vector: no left FM)", length=3),
    Key("m_right", "floats", [0.0, 0.0, 0.0], "right FM magnetization (zero vector: bilayer)", length=3),
    Key("normal_metal", "str", "t2g", "normal-metal model", choices=("t2g", "altermagnet")),
    Key("bond_scale", "float", 0.5, "matrix element on a bond = bond_scale * T (1/2: Eq. 5 literally)", gt=0.0),
    Key("interface_bond", "str", "nm", "T of the FM/NM x-bond: NM matrix, -t 1, or their average",
        choices=("nm", "fm", "average")),
    Key("solver", "str", "auto", "eigensolver", choices=("auto", "ky", "dense", "sparse")),
    Key("disorder", "float", 0.0, "Anderson disorder: on-site V uniform in [-W/2, W/2]", units="t", ge=0.0),
    Key("seed", "int", 0, "random seed of the disorder", ge=0),
    Key("periodic_y", "bool", True, "periodic rows (false: finite flake, open in y)"),
    Key("site_output", "bool", True, "write per-site arrays /trilayer/site/* (real-space solvers)",
        physics=False),
    Key("dense_max_states", "int", 6000, "auto: largest real-space problem for the dense solver",
        ge=1, physics=False),
    Key("memory_limit_gb", "float", 16.0, "memory one rank may use; larger estimates are refused",
        units="GB", gt=0.0, physics=False),
], "real-space FM/NM/FM lattices of paper 004 (energies in units of t)", subtables=[
    Table("rkky", [
        Key("nx", "ints", None, "system lengths N_x (FM columns included)", ge=2),
        Key("axis", "str", "y", "m_L = |m_L| axis; P: m_R = |m_R| axis, AP: m_R = -|m_R| axis",
            choices=("x", "y", "z")),
    ], "orbital RKKY J = F_AP - F_P vs N_x (free energies of whole lattices; J also per row)"),
    Table("angles", [
        Key("ntheta", "int", 19, "polar angles in [0, pi]", ge=2),
        Key("nphi", "int", 37, "azimuthal angles in [0, 2 pi]", ge=2),
        Key("magnet", "str", "left", "which FM rotates (|m| kept from the deck)", choices=("left", "right")),
    ], "free-energy map F(theta, phi) of one FM's direction (paper Fig. 3)"),
    Table("mu_scan", [
        Key("mu", "grid", None, "chemical potentials", units="t"),
        Key("magnet", "str", "left", "which FM is turned along x, y, z", choices=("left", "right")),
    ], "F vs mu for the FM along x, y and z; preferred axis = lowest F (paper Fig. 4)"),
    Table("sparse", [
        Key("window_nev", "int", 96, "eigenpairs per shift-and-invert window", ge=4),
        Key("window_kt", "float", 40.0, "states up to mu + window_kt * T (occupation < exp(-window_kt))",
            gt=0.0),
        Key("tol", "float", 1e-13, "SLEPc relative tolerance", gt=0.0, physics=False),
        Key("factor", "str", "mumps", "parallel LU for shift-and-invert", choices=("mumps", "superlu_dist"),
            physics=False),
    ], "SLEPc path options"),
])


GB = 1024.0 ** 3


# ---------------------------------------------------------------------------
# deck checks

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


def check_deck(deck):
    p = deck["trilayer"]
    nx, ny = p["nx"], p["ny"]
    nl, nr = _n_fm(p)
    if nl + nr >= nx:
        raise DeckError("trilayer.n_fm", p["n_fm"],
                        f"the FM columns ({nl} left + {nr} right) must leave at least one NM column "
                        f"in nx = {nx}: at most {nx - 1} FM columns in all")
    if p["periodic_y"] and ny < 3:
        raise DeckError("trilayer.ny", ny, "at least 3 with periodic rows (or set periodic_y = false)")
    if p["normal_metal"] == "altermagnet" and p["t_prime"] is not None:
        raise DeckError("trilayer.t_prime", p["t_prime"], "only for normal_metal = \"t2g\"")
    solver = resolve_solver(p)
    if solver == "ky" and not (p["periodic_y"] and p["disorder"] == 0):
        raise DeckError("trilayer.solver", "ky", "k_y blocks need periodic_y = true and disorder = 0; "
                        "use \"dense\" or \"sparse\"")
    limit = p["memory_limit_gb"] * GB
    n_states = nx * ny * norb_of(p)
    if solver == "dense" and dense_bytes(n_states) > limit:
        raise DeckError("trilayer.solver", "dense",
                        f"{n_states} states need ~{dense_bytes(n_states) / GB:.3g} GB per rank, more than "
                        f"memory_limit_gb = {p['memory_limit_gb']:g}; use solver = \"sparse\"")
    if solver == "ky" and ky_bytes(p) > limit:
        raise DeckError("trilayer.nx", nx, f"k_y blocks of {nx * norb_of(p)} states need "
                        f"~{ky_bytes(p) / GB:.3g} GB, more than memory_limit_gb")
    if solver == "sparse":
        from ..solvers.slepc import estimate_bytes
        sp = deck["trilayer"]["sparse"] or {}
        est = estimate_bytes(nx, ny, norb_of(p), sp.get("window_nev", 96), 1)
        # even spread over one rank per column the estimate must fit
        est_min = estimate_bytes(nx, ny, norb_of(p), sp.get("window_nev", 96), nx)
        if est_min > limit:
            raise DeckError("trilayer.solver", "sparse",
                            f"~{est_min / GB:.3g} GB per rank even with one rank per column "
                            f"(1 rank: ~{est / GB:.3g} GB), more than memory_limit_gb")
        if p["temperature"] == 0:
            raise DeckError("trilayer.temperature", 0.0,
                            "> 0 with the sparse solver (states are computed up to mu + window_kt * T "
                            "and the free energy needs T > 0 there)")
    if p["disorder"] > 0 and solver == "ky":
        raise DeckError("trilayer.disorder", p["disorder"], "needs a real-space solver")
    # sub-tables
    r = p["rkky"]
    if r is not None:
        if r["nx"] is None:
            raise DeckError("trilayer.rkky.nx", "(missing)", "a list of system lengths")
        if not (np.any(p["m_left"]) and np.any(p["m_right"])):
            raise DeckError("trilayer.rkky", "{...}", "needs both magnets (nonzero m_left and m_right)")
        for n in r["nx"]:
            if nl + nr >= n:
                raise DeckError("trilayer.rkky.nx", r["nx"], f"every N_x > {nl + nr} (FM columns)")
        _check_items(p, max(r["nx"]), "trilayer.rkky.nx")
    for name in ("angles", "mu_scan"):
        a = p[name]
        if a is None:
            continue
        m = p["m_left"] if a["magnet"] == "left" else p["m_right"]
        if not np.any(m):
            raise DeckError(f"trilayer.{name}.magnet", a["magnet"], "that magnet is absent (zero m)")
        if name == "mu_scan" and a["mu"] is None:
            raise DeckError("trilayer.mu_scan.mu", "(missing)", "a list or {start, stop, num}")
        _check_items(p, nx, f"trilayer.{name}")


def _check_items(p, nx, key):
    s = item_solver(p, nx)
    n_states = nx * p["ny"] * norb_of(p)
    if s == "dense" and dense_bytes(n_states) > p["memory_limit_gb"] * GB:
        raise DeckError(key, "{...}", f"free-energy scans run the dense solver per point: {n_states} states "
                        f"need ~{dense_bytes(n_states) / GB:.3g} GB per rank (> memory_limit_gb)")


# ---------------------------------------------------------------------------
# solvers

def ky_points(ny):
    """Half zone 0 <= k <= pi of k = 2 pi j / ny with weights (sum = ny)."""
    j = np.arange(ny // 2 + 1)
    k = 2 * np.pi * j / ny
    w = np.where((j == 0) | (2 * j == ny), 1.0, 2.0)
    return k, w


def _engine_kw(deck):
    try:
        from ..config import engine_options
        return engine_options(deck)
    except Exception:
        return {"checkpoint_interval": deck["output"]["checkpoint_interval"],
                "progress_interval": deck["parallel"]["progress_interval"]}


def solve_ky(lat, T, comm, log=None, checkpoint=None, engine_kw=None, stage="ky"):
    """Column blocks (nrow = 1) and F by k_y blocks distributed over ranks."""
    if not lat.ky_even():
        raise ValueError("H(k_y) != H(-k_y): the half zone does not apply")
    k, w = ky_points(lat.ny)
    nx, no = lat.nx, lat.norb
    tmpl = {"on": ((nx + 2, 1, no, no), complex), "bx": ((nx + 1, 1, no, no), complex),
            "by": ((nx, 1, no, no), complex), "xx": ((nx, 1, no, no), complex),
            "yy": ((nx, 1, no, no), complex), "F": ((), float)}

    def kernel(start, stop):
        kk, ww = k[start:stop], w[start:stop]
        E, U = np.linalg.eigh(lat.hamiltonian_ky(kk))
        b = rs.ky_blocks(lat, E, U, kk, ww, T)
        out = b.arrays()
        out["F"] = np.asarray(b.F)
        return out

    chunk = max(1, min(64, math.ceil(len(k) / 64)))
    out = run_chunks(Plan(len(k), chunk), kernel, tmpl, comm, mode="sum", checkpoint=checkpoint,
                     stage=stage, log=log, label="k_y", **(engine_kw or {}))
    b = rs.Blocks(no, 0, nx, 1, True)
    for name in rs.BLOCK_NAMES:
        setattr(b, name, out[name] / lat.ny)
    b.F = float(out["F"])
    return b


def free_energy(lat, T, solver):
    """F of a whole lattice (serial): k_y eigenvalues or dense eigenvalues."""
    if solver == "ky":
        k, w = ky_points(lat.ny)
        F = 0.0
        for i in range(0, len(k), 64):
            E = np.linalg.eigvalsh(lat.hamiltonian_ky(k[i:i + 64]))
            F += float(np.sum(w[i:i + 64, None] * rs.grand_potential_terms(E, T)))
        return F
    E = np.linalg.eigvalsh(lat.hamiltonian().toarray())
    return float(np.sum(rs.grand_potential_terms(E, T)))


def solve_dense(lat, T, chunk=512):
    """Blocks of all sites from a full diagonalization, eigenvectors streamed in chunks."""
    E, U = np.linalg.eigh(lat.hamiltonian().toarray())
    b = rs.Blocks(lat.norb, 0, lat.nx, lat.ny, lat.periodic_y)
    for i in range(0, len(E), chunk):
        V = U[:, i:i + chunk].reshape(lat.nx, lat.ny, lat.norb, -1)
        b.add_vectors(V, E[i:i + chunk], T, lat.nx)
    return b, E


def column_split(nx, size, rank):
    """Columns owned by ``rank``: a balanced contiguous split."""
    return nx * rank // size, nx * (rank + 1) // size


def solve(lat, T, solver, comm, log=None, checkpoint=None, engine_kw=None, sparse_opts=None):
    """Solve one lattice; returns dict with column observables (all ranks),
    per-site observables of this rank's columns (c0, c1, dict) or None, F, info."""
    info = {"solver": solver}
    if solver == "ky":
        b = solve_ky(lat, T, comm, log, checkpoint, engine_kw)
        site = rs.site_observables(lat, b)
        col = rs.column_average(site)
        return {"col": col, "site": None, "F": b.F, "info": info}
    if solver == "dense":
        res = None
        if comm.rank == 0:
            b, E = solve_dense(lat, T)
            site = rs.site_observables(lat, b)
            res = (rs.column_average(site), site, b.F)
        col, site_all, F = comm.bcast(res if comm.rank == 0 else None)
        site = (0, lat.nx, site_all) if comm.rank == 0 else (0, 0, {k: v[:0] for k, v in site_all.items()})
        return {"col": col, "site": site, "F": F, "info": info}
    if solver == "sparse":
        from ..solvers.slepc import solve_sparse
        b, F, sinfo = solve_sparse(lat, T, comm, log=log, checkpoint=checkpoint,
                                   **(engine_kw or {}), **(sparse_opts or {}))
        info.update(sinfo)
        site = rs.site_observables(lat, b)
        colloc = rs.column_average(site)
        col = {}
        for k, v in colloc.items():
            full = np.zeros((lat.nx, 3))
            full[b.c0:b.c1] = v
            col[k] = comm.sum(full)
        return {"col": col, "site": (b.c0, b.c1, site), "F": F, "info": info}
    raise ValueError(solver)


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


def run(deck, comm, log, checkpoint):
    p = deck["trilayer"]
    q = _lattice_params(p)
    T = p["temperature"]
    solver = resolve_solver(p)
    engine_kw = _engine_kw(deck)
    lat = build_lattice(q)
    log(f"trilayer: {p['normal_metal']} nx = {lat.nx}, ny = {lat.ny}, {lat.n_states} states, "
        f"solver {solver}, FM columns {lat.info['n_fm_left']} + {lat.info['n_fm_right']}")
    if solver == "sparse":
        from ..solvers.slepc import estimate_bytes
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
    return res


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


# ---------------------------------------------------------------------------
# show / plot

def summary(h5) -> str:
    g = h5["trilayer"]
    a = g.attrs
    lines = [f"trilayer ({a.get('normal_metal', '?')}), solver {a.get('solver', '?')}, "
             f"bond scale {a.get('bond_scale', '?')}, interface bond {a.get('interface_bond', '?')}"]
    F = g["free_energy"]
    lines.append(f"free energy F = {float(F[()]):.10g} t  (per row {float(F.attrs['per_row']):.10g})")
    j = g["current_eq7"][...]
    lines.append("Eq. 7 current, max |j| over x per component: " +
                 ", ".join(f"{c} {np.abs(j[:, i]).max():.3e}" for i, c in enumerate("xyz")))
    lines.append(f"bond-form identity residual: {np.abs(g['continuity_residual_bond'][...]).max():.2e}")
    if "rkky" in g:
        lines.append("RKKY J per row: " + ", ".join(
            f"{int(n)}: {J:+.3e}" for n, J in zip(g["rkky/n_x"][...], g["rkky/J"][...])))
    if "angles" in g:
        lines.append(f"angle map minimum direction: {g['angles'].attrs.get('minimum_direction')}")
    if "mu_scan" in g:
        pref = g["mu_scan/preferred"][...]
        lines.append("preferred axis vs mu: " + ", ".join(
            f"{m:+.2f}:{'xyz-'[int(k)]}" for m, k in zip(g["mu_scan/mu"][...], pref)))
    return "\n".join(lines)


def plot(h5, stem) -> list:
    from ..plot import plt, save_figure
    g = h5["trilayer"]
    out = []
    x = g["x"][...]
    fig, axs = plt.subplots(1, 3, figsize=(10, 3))
    for i, c in enumerate("xyz"):
        axs[i].plot(x, g["current_eq7"][:, i], "o-", ms=3, label="Eq. 7 current")
        axs[i].plot(x, g["bond_current_x"][:, i], "s--", ms=3, label="bond current")
        axs[i].set_title(f"$j^L_{c}$")
        axs[i].set_xlabel("x")
    axs[0].legend()
    out.append(save_figure(fig, stem, "_currents.png"))
    if "angles" in g:
        th, ph, F = g["angles/theta"][...], g["angles/phi"][...], g["angles/F"][...]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        Fn = (F - F.min()) / max(F.max() - F.min(), 1e-300)
        im = ax.pcolormesh(ph, th, Fn, shading="auto")
        fig.colorbar(im, label="normalized F")
        ax.set_xlabel("phi"); ax.set_ylabel("theta")
        out.append(save_figure(fig, stem, "_angles.png"))
    if "mu_scan" in g:
        mu, F = g["mu_scan/mu"][...], g["mu_scan/F_per_row"][...]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        Fn = F - F.min(axis=1, keepdims=True)
        for i, c in enumerate("xyz"):
            ax.plot(mu, Fn[:, i], label=f"m || {c}")
        ax.set_xlabel("mu"); ax.set_ylabel("F - min F (per row)"); ax.legend()
        out.append(save_figure(fig, stem, "_mu_scan.png"))
    if "rkky" in g:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(g["rkky/n_x"][...], g["rkky/J"][...], "o-")
        ax.set_xlabel("N_x"); ax.set_ylabel("J (per row)")
        out.append(save_figure(fig, stem, "_rkky.png"))
    return out


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["trilayer"]
    solver = resolve_solver(p)
    n_states = p["nx"] * p["ny"] * norb_of(p)
    if solver == "dense":
        b = dense_bytes(n_states)
    elif solver == "ky":
        b = ky_bytes(p)
    else:
        from ..solvers.slepc import estimate_bytes
        b = estimate_bytes(p["nx"], p["ny"], norb_of(p), (p["sparse"] or {}).get("window_nev", 96), n_ranks)
    return Estimate(b + 100e6, n_states, "trilayer.nx", f"{n_states} states, solver {solver}")
