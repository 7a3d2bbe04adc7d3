"""k_y-block, dense and SLEPc solvers of `trilayer` agree (1, 2 and 3 ranks).

Observables to 1e-10 (absolute; they are O(1e-2..1)), F to 1e-10 relative;
the exact bond form of the continuity equation holds on every solved system.
"""
import numpy as np
import pytest

from hpcorb.calculations import trilayer as tc
from hpcorb.kernels import realspace as rs
from hpcorb.models.t2g import build_lattice
from hpcorb.parallel import world

T = 0.05
SYSTEMS = {
    "t2g": dict(nx=7, ny=6, n_fm=1, gamma=0.5, t=1.0, mu=-0.3, temperature=T,
                m_left=[1.0, 0.0, 0.0], m_right=[0.0, 0.6, 0.8]),
    "t2g_avg_bond_scale": dict(nx=6, ny=5, n_fm=1, gamma=0.2, t_prime=0.7, mu=-1.0, temperature=T,
                               m_left=[0.0, 0.0, 1.2], m_right=[0.0, 1.0, 0.0], interface_bond="average",
                               bond_scale=1.0),
    "altermagnet": dict(nx=8, ny=4, n_fm=2, n_fm_right=1, normal_metal="altermagnet", w=0.4, mu=-0.5,
                        temperature=T, m_left=[0.3, 0.4, 0.5], m_right=[0.0, -1.0, 0.0]),
}


def have_slepc():
    try:
        import petsc4py  # noqa: F401
        import slepc4py  # noqa: F401
        from petsc4py import PETSc
        return np.dtype(PETSc.ScalarType).kind == "c"
    except Exception:
        return False


needs_slepc = pytest.mark.skipif(not have_slepc(), reason="complex petsc4py/slepc4py not available")


def check_bond_form(sol, lat):
    assert np.abs(rs.bond_form_residual(sol["col"])).max() < 1e-12
    assert np.abs(rs.eq7_from_bonds(sol["col"], lat.scale) - sol["col"]["current_eq7"]).max() < 1e-12


def compare(a, b, what):
    for k in rs.COLUMN_NAMES:
        err = np.abs(a["col"][k] - b["col"][k]).max()
        assert err < 1e-10, f"{what}: {k} differs by {err:.2e}"
    assert abs(a["F"] - b["F"]) < 1e-10 * abs(b["F"]), f"{what}: F {a['F']} vs {b['F']}"


@pytest.mark.mpi
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_ky_equals_dense(name):
    comm = world()
    lat = build_lattice(SYSTEMS[name])
    ky = tc.solve(lat, T, "ky", comm)
    de = tc.solve(lat, T, "dense", comm)
    compare(ky, de, "ky vs dense")
    check_bond_form(ky, lat)
    check_bond_form(de, lat)


@pytest.mark.mpi
@needs_slepc
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_sparse_equals_dense_and_ky(name):
    comm = world()
    lat = build_lattice(SYSTEMS[name])
    de = tc.solve(lat, T, "dense", comm)
    sp = tc.solve(lat, T, "sparse", comm, sparse_opts={"nev": 16, "window_kt": 40.0, "tol": 1e-13})
    ky = tc.solve(lat, T, "ky", comm)
    compare(sp, de, "sparse vs dense")
    compare(sp, ky, "sparse vs ky")
    check_bond_form(sp, lat)
    assert sp["info"]["windows"] > 2                      # really stitched from several windows
    # per-site arrays of this rank's columns equal the dense ones
    c0, c1, site = sp["site"]
    _, _, dsite = de["site"]
    dsite = comm.bcast(dsite if comm.rank == 0 else None)
    for k in site:
        assert np.abs(site[k] - dsite[k][c0:c1]).max() < 1e-10


@pytest.mark.mpi
@needs_slepc
def test_sparse_disordered_equals_dense(factor="mumps"):
    comm = world()
    p = dict(SYSTEMS["t2g"], nx=9, ny=5, disorder=1.5, seed=42)
    lat = build_lattice(p)
    assert not lat.clean
    de = tc.solve(lat, T, "dense", comm)
    sp = tc.solve(lat, T, "sparse", comm, sparse_opts={"nev": 24, "window_kt": 40.0, "tol": 1e-13,
                                                        "factor": factor})
    compare(sp, de, "sparse vs dense (disorder)")
    check_bond_form(sp, lat)
    c0, c1, site = sp["site"]
    dsite = comm.bcast(de["site"][2] if comm.rank == 0 else None)
    # per-site exact identity (disorder breaks translation symmetry: check every site)
    for k in site:
        assert np.abs(site[k] - dsite[k][c0:c1]).max() < 1e-10


@pytest.mark.mpi
@needs_slepc
def test_sparse_open_flake_equals_dense():
    comm = world()
    lat = build_lattice(dict(SYSTEMS["altermagnet"], periodic_y=False, disorder=0.4, seed=3))
    de = tc.solve(lat, T, "dense", comm)
    sp = tc.solve(lat, T, "sparse", comm, sparse_opts={"nev": 12, "window_kt": 40.0, "tol": 1e-13})
    compare(sp, de, "sparse vs dense (open flake)")


@pytest.mark.mpi
def test_run_identical_on_all_ranks():
    """The calculation's replicated results are the same on every rank."""
    from hpcorb.config import deck_from_dict
    comm = world()
    deck = deck_from_dict({"calculation": {"type": "trilayer"},
                           "trilayer": dict(SYSTEMS["t2g"], solver="ky",
                                            rkky={"nx": [4, 5, 6]}, mu_scan={"mu": [-0.3, -1.0]})})
    res = tc.run(deck, comm, lambda *a: None, None)
    for e in res.entries:
        if e.data is not None:
            allv = comm.allgather(e.data)
            for v in allv:
                assert np.array_equal(v, e.data)
