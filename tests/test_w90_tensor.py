"""Bulk slab_kubo: the full spin/orbital Hall tensor [nE, gamma, alpha, beta]."""
import h5py
import numpy as np
import pytest

from hpcorb.calculations import slab_kubo as SK
from hpcorb.kernels import kubo as K
from hpcorb.kernels import kubo_tensor as KT
from hpcorb.models.build import build_model
from hpcorb.parallel.kmesh import KMesh
from helpers import write_deck

EPS = np.zeros((3, 3, 3))
for (a, b, c), sgn in {(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1, (0, 2, 1): -1, (2, 1, 0): -1, (1, 0, 2): -1}.items():
    EPS[a, b, c] = sgn


@pytest.fixture(scope="module")
def pt_bulk():
    m = build_model({"material": "Pt", "parametrization": "sk", "spin": True}, periodic=3)
    st = SK.Setup(m, "bulk", 0.1)
    mesh = KMesh((6, 6, 6))                # Gamma-centred: invariant under the cubic point group
    E = np.sort(np.concatenate([np.linalg.eigvalsh(h) for h in st.hk_batch(mesh.frac())[0]]))
    n_el = int(round(m.electrons * mesh.n))
    ef = 0.5 * (E[n_el - 1] + E[n_el])
    mu = ef + np.array([-0.5, 0.0, 0.4])
    # each mu in the middle of a gap of the k-sampled spectrum: occupations do not hinge on
    # round-off inside degenerate levels (that would break the symmetry of the sum)
    gaps = np.flatnonzero(np.diff(E) > 1e-4)
    mids = 0.5 * (E[gaps] + E[gaps + 1])
    mu = np.array([mids[np.argmin(np.abs(mids - x))] for x in mu])
    edges = K.histogram_edges(mu, 0.0)
    out = SK.make_kernel(st, mesh, edges, *K.window(mu, 0.0), True)(0, mesh.n)
    T = KT.finish(out["tensor"], edges, mu, 0.0, True, st.volume, mesh.n)
    s = SK.to_contract(SK.finish(out["hist"], edges, mu, 0.0, True, st.volume, mesh.n))
    return T, s


def test_cubic_relations(pt_bulk):
    """O_h: sigma^gamma_alpha beta = sigma eps_{gamma alpha beta} for spin and orbital."""
    T, _ = pt_bulk
    for o in range(2):
        for e in range(T.shape[0]):
            t = T[e, o]
            sig = t[2, 0, 1]                                       # sigma^z_xy
            assert abs(sig) > 50.0                                 # non-trivial
            assert np.abs(t - sig * EPS).max() < 1e-9 * abs(sig), (o, e)


def test_sigma_y_zx_equals_the_bulk_output(pt_bulk):
    T, s = pt_bulk
    for o, name in enumerate(("orbital", "spin")):
        conv = s["direct"][name]["conventional"][:, 0]             # [nE, gamma, beta(x, y)]
        for beta in range(2):
            ref = conv[:, :, beta]
            got = T[:, o, :, 2, beta]                              # alpha = z
            assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


def test_tensor_kernel_equals_literal_double_sum():
    """tensor_k against the literal sum over band pairs of (1/2){v_a, O_g} and v_b."""
    m = build_model({"material": "Pt", "parametrization": "sk", "spin": True}, periodic=3)
    st = SK.Setup(m, "bulk", 0.07)
    H, dH = st.hk_batch(np.array([[0.13, 0.31, 0.77]]))
    E, U = np.linalg.eigh(H[0])
    cols = slice(0, 10)
    c = KT.tensor_k(E, U, dH[0], st.O, 0.07, cols)
    N = len(E)
    ref = np.zeros((10, 2, 3, 3, 3))
    for o in range(2):
        for g in range(3):
            Og = st.O[3 * o + g]
            for a in range(3):
                A = U.conj().T @ (0.5 * (dH[0][a] @ Og + Og @ dH[0][a])) @ U
                for b in range(3):
                    B = U.conj().T @ dH[0][b] @ U
                    for n in range(10):
                        ref[n, o, g, a, b] = 2 * sum((A[n, q] * B[q, n]).imag / ((E[n] - E[q]) ** 2 + 0.07 ** 2)
                                                     for q in range(N))
    assert np.abs(c - ref).max() < 1e-10 * np.abs(ref).max()


def test_deck_writes_tensor_and_show_prints_components(tmp_path, cli):
    t = {"calculation": {"type": "slab_kubo"},
         "model": {"material": "Pt", "parametrization": "sk", "spin": True},
         "kmesh": {"size": [4, 4, 4]},
         "slab_kubo": {"mode": "bulk", "energies": [0.0, 0.2], "eta": 0.1},
         "output": {"file": "t.h5", "overwrite": True, "plots": False}}
    deck = write_deck(tmp_path / "d.toml", t)
    r = cli([deck])
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "t.h5") as f:
        for o in ("orbital", "spin"):
            d = f[f"slab_kubo/tensor/{o}/conventional"]
            assert d.shape == (2, 3, 3, 3) and d.attrs["units"] == "(hbar/e)(Ohm cm)^-1"
            conv = f[f"slab_kubo/direct/{o}/conventional"][:, 0]
            assert np.allclose(d[:, 1, 2, 0], conv[:, 1, 0], rtol=1e-12, atol=0)
    r = cli(["show", str(tmp_path / "t.h5")])
    assert r.returncode == 0, r.stderr
    for comp in ("xy^Sz", "yz^Sx", "zx^Sy", "yx^Sz", "zy^Sx", "xz^Sy", "xy^Lz"):
        assert comp in r.stdout, r.stdout


@pytest.mark.mpi
def test_tensor_rank_independence(tmp_path_factory):
    """Bulk tensor on all ranks of world() and on one rank, T > 0 (moments too): same numbers."""
    import pathlib
    from hpcorb.config import deck_from_dict
    from hpcorb.log import NullLogger
    from hpcorb.parallel import SerialComm, world
    comm = world()
    folder = pathlib.Path(comm.bcast(str(tmp_path_factory.mktemp("tq")) if comm.rank == 0 else None))
    d = {"calculation": {"type": "slab_kubo"},
         "model": {"material": "Pt", "parametrization": "sk", "spin": True},
         "kmesh": {"size": [3, 3, 4], "chunk_size": 5},
         "slab_kubo": {"mode": "bulk", "energies": [-0.2, 0.0, 0.3], "temperature": 300.0},
         "output": {"file": "t.h5"}}
    dk = deck_from_dict(d, str(folder / "deck.toml"))
    par = SK.run(dk, comm, NullLogger(), None)
    ser = SK.run(dk, SerialComm(), NullLogger(), None)
    for o in ("orbital", "spin"):
        a, b = np.asarray(par[f"tensor/{o}/conventional"]), np.asarray(ser[f"tensor/{o}/conventional"])
        assert np.abs(b).max() > 10.0
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
