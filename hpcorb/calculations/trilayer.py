"""Deck adapter of ``type = "trilayer"``: the [trilayer] table, its cross-checks, the deck -> API call.

Physics: :mod:`hpcorb.api.trilayer`; solvers: :mod:`hpcorb.solvers.realspace`,
:mod:`hpcorb.solvers.slepc`; report: :mod:`hpcorb.report.trilayer`.
"""
from __future__ import annotations

import numpy as np

from ..api import trilayer as physics
from ..api.trilayer import GB, _check_items, _n_fm, dense_bytes, ky_bytes, norb_of, resolve_solver
from ..errors import DeckError
from ..models.t2g import build_lattice  # noqa: F401 (tests and benchmarks use it from here)
from ..report import trilayer as report
from ..resources import Estimate, eigh_seconds
from ..schema import REQUIRED, Key, Table
from ..solvers import realspace as solvers
from ..solvers.slepc import estimate_bytes
from .common import context

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

PHYSICS = physics.trilayer
REPORT = report
summary, plot = report.summary, report.plot
# names the tests and benchmarks use
solve, solve_dense, solve_ky, free_energy, ky_points = (solvers.solve, solvers.solve_dense, solvers.solve_ky,
                                                        solvers.free_energy, solvers.ky_points)
AXES, conventions, _lattice_params, item_solver = (physics.AXES, physics.conventions, physics._lattice_params,
                                                   physics.item_solver)


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


def call(deck, ctx, model=None):
    return PHYSICS(context=ctx, **deck["trilayer"])


def run(deck, comm, log=None, checkpoint=None):
    return call(deck, context(deck, comm, log, checkpoint))


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["trilayer"]
    solver = resolve_solver(p)
    n_states = p["nx"] * p["ny"] * norb_of(p)
    # time: the eigendecompositions (x 3 for the density matrix and the observables); sparse:
    # ~2.5 ms per state, growing like sqrt(N) with the factorization (12 x 30 t2g sites,
    # 1080 states: 2.7 s for the windows)
    if solver == "dense":
        b = dense_bytes(n_states)
        seconds = 3 * eigh_seconds(n_states)
    elif solver == "ky":
        b = ky_bytes(p)
        seconds = 3 * p["ny"] * eigh_seconds(p["nx"] * norb_of(p))
    else:
        b = estimate_bytes(p["nx"], p["ny"], norb_of(p), (p["sparse"] or {}).get("window_nev", 96), n_ranks)
        seconds = 2.5e-3 * n_states * max(1.0, n_states / 1000.0) ** 0.5
    return Estimate(b + 100e6, n_states, "trilayer.nx", f"{n_states} states, solver {solver}",
                    seconds, "trilayer.nx")
