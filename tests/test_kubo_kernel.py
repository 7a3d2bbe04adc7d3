"""slab_kubo kernel: fast diagonal-product evaluation vs the slow literal
formula, reciprocity, layer sums, proper current, histogram exactness."""
import numpy as np
import pytest

from test_kubo_models import random_film

from hpcorb.calculations import slab_kubo as SK
from hpcorb.kernels import kubo as K
from hpcorb.kernels import kubo_slow
from hpcorb.parallel.kmesh import KMesh


def fast(st, mesh, mu, kT, holes=False):
    edges = K.histogram_edges(mu, kT)
    w_lo, w_hi = K.window(mu, kT)
    out = SK.make_kernel(st, mesh, edges, w_lo, w_hi, holes, kT > 0)(0, mesh.n)
    return SK.to_contract(SK.finish(out["hist"], edges, mu, kT, holes, st.volume, mesh.n, out.get("hist1")))


def slow(st, mesh, mu, kT):
    Hs, dHs = zip(*[st.hk(kf) for kf in mesh.frac()])
    return kubo_slow.slow_response(np.array(Hs), np.array(dHs), st.z, st.layer, st.O, st.eta, mu, kT,
                                   st.volume, bulk=st.bulk)


def all_parts(d):
    for kind in SK.KINDS:
        for o in SK.OPS:
            for p in SK.PARTS:
                yield (kind, o, p), d[kind][o][p]


def max_rel(a, b):
    worst = 0.0
    for key, x in all_parts(a):
        y = b[key[0]][key[1]][key[2]]
        worst = max(worst, np.abs(x - y).max() / max(np.abs(y).max(), 1e-300))
    return worst


@pytest.fixture(scope="module")
def soc_film():
    """5 layers, 2 atoms per layer, d(t2g) orbitals, spinful with on-site SOC."""
    m = random_film(n_layers=5, atoms_per_layer=2, seed=3, xi=0.5)
    st = SK.Setup(m, "film", eta=0.25)
    E = np.linalg.eigvalsh(st.hk([0.2, 0.1])[0])
    return st, float(np.median(E))


@pytest.fixture(scope="module")
def w90_film(tmp_path_factory):
    """A random Hermitian film written as Wannier90 _hr.dat + centres and read back."""
    from hpcorb.models.export import write_model
    from hpcorb.models.build import build_model
    m = random_film(n_layers=5, atoms_per_layer=1, orbitals=("px", "py", "pz", "dxy", "dz2"),
                    spin=True, xi=0.0, seed=11, reach=2, scale=0.7)
    folder = tmp_path_factory.mktemp("w90")
    paths = write_model(m, str(folder / "film"))
    model = build_model({"hr_file": paths["hr_file"], "centres_file": paths["centres_file"],
                         "lattice": m.lattice.tolist(), "spin": True,
                         "orbitals": [f"{a}:{o}" for a, o, s in zip(m.atoms, m.orbitals, m.spins) if s == 0]},
                        periodic=2)
    assert model.norb == m.norb and np.allclose(model.positions, m.positions)
    st = SK.Setup(model, "film", eta=0.2)
    assert st.nl == 5
    E = np.linalg.eigvalsh(st.hk([0.3, 0.0])[0])
    return st, float(np.median(E))


@pytest.mark.parametrize("which", ["soc_film", "w90_film"])
def test_fast_equals_slow_layer_by_layer(which, request):
    """The fast diagonal-product path reproduces the literal projected-operator
    double band sum, layer by layer, on a 10x10 mesh, at several Fermi energies."""
    st, ef = request.getfixturevalue(which)
    mesh = KMesh((10, 10))
    mu = ef + np.array([-0.8, 0.0, 0.5])
    ref = slow(st, mesh, mu, 0.0)
    assert np.abs(ref["direct"]["orbital"]["proper"]).max() > 1.0   # nontrivial
    assert np.abs(ref["direct"]["spin"]["conventional"]).max() > 1.0
    for holes in (False, True):
        assert max_rel(fast(st, mesh, mu, 0.0, holes), ref) < 1e-10


def test_finite_temperature_close_to_slow(soc_film):
    """T > 0 via the histogram with first-moment correction (bins kT/10)."""
    st, ef = soc_film
    mesh = KMesh((4, 4))
    mu = ef + np.array([-0.3, 0.2])
    kT = 0.05
    assert max_rel(fast(st, mesh, mu, kT), slow(st, mesh, mu, kT)) < 2e-3


@pytest.mark.parametrize("which", ["soc_film", "w90_film"])
def test_global_reciprocity_each_part(which, request):
    """sum_z sigma_dir,z beta(z) = -sum_z sigma_inv,beta z(z) for conventional,
    torque dipole and proper separately (identity at every k, PHYSICS.md 5)."""
    st, ef = request.getfixturevalue(which)
    mesh = KMesh((6, 6), shift=(0.5, 0.5))
    res = fast(st, mesh, ef + np.array([-0.5, 0.0, 0.4]), 0.0)
    for o in SK.OPS:
        for p in SK.PARTS:
            d = res["direct"][o][p].mean(axis=1)
            i = res["inverse"][o][p].mean(axis=1)
            assert np.abs(d).max() > 1.0
            assert np.abs(d + i).max() <= 1e-10 * np.abs(d).max()


def test_layer_average_equals_global(soc_film):
    """Mean over layers of the layer-resolved response = the response of the
    unprojected operator divided by the film thickness (independent loop)."""
    st, ef = soc_film
    mesh = KMesh((5, 5))
    mu = np.array([ef])
    res = fast(st, mesh, mu, 0.0)
    Zm = np.diag(st.z)
    acc = np.zeros((2, 3, 2))      # o, gamma, beta: proper direct
    for kf in mesh.frac():
        H, dH = st.hk(kf)
        E, U = np.linalg.eigh(H)
        f = (E < mu[0]).astype(float)
        g = 1.0 / ((E[:, None] - E[None, :]) ** 2 + st.eta ** 2)
        for o in range(2):
            for gm in range(3):
                D = 0.5 * (Zm @ st.O[3 * o + gm] + st.O[3 * o + gm] @ Zm)
                J = U.conj().T @ ((D @ H - H @ D) / 1j) @ U
                for b in range(2):
                    v = U.conj().T @ dH[b] @ U
                    acc[o, gm, b] += np.sum((f[:, None] - f[None, :]) * g * np.imag(J * v.T))
    acc *= -K.SIGMA_UNIT / (st.volume * mesh.n * st.nl)
    for o, name in enumerate(SK.OPS):
        glob = res["direct"][name]["proper"][0].mean(axis=0)
        np.testing.assert_allclose(glob, acc[o], rtol=1e-10, atol=1e-10 * np.abs(acc).max())


def test_proper_current_is_time_derivative_of_dipole(soc_film):
    """j + P^T = [(1/2){Z, O}, H]/(i hbar) as operators (banded blocks vs dense)."""
    st, _ = soc_film
    H, dH = st.hk([0.37, 0.71])
    vb, qb = K.current_blocks(st.layout, H, dH, st.z, st.O)
    ref = K.proper_current(H, st.z, st.O)
    for o in range(2):
        for g in range(3):
            for z, (r, c) in enumerate(zip(st.layout.rows, st.layout.cols)):
                J = qb[z][K.op_index(o, 0, g)] + qb[z][K.op_index(o, 1, g)]
                np.testing.assert_allclose(J, ref[3 * o + g][r, c], atol=1e-12)
                # nothing outside the band of layers
                mask = np.ones(ref.shape[1], bool)
                mask[c] = False
                assert np.abs(ref[3 * o + g][r][:, mask]).max(initial=0) < 1e-12


def test_spin_torque_is_onsite_with_spin_conserving_hopping():
    """With spin-independent hopping and on-site SOC, T_S = [S, H]/(i hbar) is
    on-site, so the spin torque dipole of layer z is z times the local torque
    response; the middle layer (z = 0) has none. The orbital torque is not
    on-site (inter-layer parts of [L, H])."""
    m = random_film(n_layers=5, atoms_per_layer=1, seed=5, xi=0.6)
    # make hopping spin independent: H_R = kron(I_2, t_R) per atom pair (+ on-site SOC kept)
    no = 3
    n = m.norb
    Hs = m.H.copy()
    for r in range(len(m.R)):
        Hr = m.H[r].reshape(5, 2, no, 5, 2, no)
        up = Hr[:, 0, :, :, 0, :]
        new = np.zeros_like(Hr)
        new[:, 0, :, :, 0, :] = up
        new[:, 1, :, :, 1, :] = up
        Hs[r] = new.reshape(n, n)
    r0 = int(np.flatnonzero(np.all(m.R == 0, axis=1))[0])
    from hpcorb.models.orbitals import soc_matrix
    for a in range(5):
        sl = slice(a * 2 * no, (a + 1) * 2 * no)
        Hs[r0][sl, sl] += soc_matrix(["dxy", "dyz", "dzx"], 0.6, 0.6)
    m2 = m.with_hoppings(Hs)
    st = SK.Setup(m2, "film", eta=0.2)
    H, dH = st.hk([0.1, 0.3])
    _, qb = K.current_blocks(st.layout, H, dH, st.z, st.O)
    for z, (r, c) in enumerate(zip(st.layout.rows, st.layout.cols)):
        for g in range(3):
            PT = qb[z][K.op_index(1, 1, g)]
            off = PT.copy()
            off[:, r.start - c.start: r.stop - c.start] = 0
            assert np.abs(off).max() < 1e-12          # spin torque dipole on-site
    mid = st.nl // 2
    assert abs(st.layer_z[mid]) < 1e-12
    ef = float(np.median(np.linalg.eigvalsh(H)))
    res = fast(st, KMesh((6, 6)), np.array([ef]), 0.0)
    tor_s = res["direct"]["spin"]["torque_dipole"][0]
    assert np.abs(tor_s[mid]).max() < 1e-10 * np.abs(tor_s).max()
    tor_l = res["direct"]["orbital"]["torque_dipole"][0]
    assert np.abs(tor_l[mid]).max() > 1e-3 * np.abs(tor_l).max()   # orbital: inter-layer torque


def test_histogram_exact_at_bin_edges():
    """T = 0: the requested Fermi energies are bin edges, so the cumulative sum
    reproduces sum_n theta(mu - E_n) c_n exactly for any list of energies."""
    rng = np.random.default_rng(0)
    E = np.sort(rng.uniform(-3, 3, 200))
    c = rng.normal(size=(200, 4))
    mu = np.array([0.3, -1.2, 2.0, 0.31, -2.9])
    edges = K.histogram_edges(mu, 0.0)
    hist = np.zeros((len(edges) + 1, 4))
    K.accumulate(hist, edges, E, c)
    F = K.occupation_weights(edges, mu, 0.0, holes=False)
    got = F @ hist
    ref = np.array([c[E < m].sum(axis=0) for m in mu])
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    # hole side: -(1 - f) weights give the same when sum_n c_n = 0
    c0 = c - c.mean(axis=0)
    hist = np.zeros((len(edges) + 1, 4))
    K.accumulate(hist, edges, E, c0)
    got = K.occupation_weights(edges, mu, 0.0, holes=True) @ hist
    ref = np.array([c0[E < m].sum(axis=0) for m in mu])
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_fermi_from_counts():
    edges = np.linspace(-1, 1, 2001)
    e = np.linspace(-0.9995, 0.9995, 1000)     # one state per bin centre... every other bin
    counts = np.zeros(len(edges) + 1)
    np.add.at(counts, np.searchsorted(edges, e, side="right"), 1.0)
    mu = K.fermi_from_counts(edges, counts, 500.0, 0.0)
    assert e[499] <= mu <= e[500]


@pytest.mark.parametrize("precision", ["double", "mixed"])
def test_pair_subsets_equal_the_full_kernel(soc_film, precision):
    """kubo_k with a subset of (polarization, field) pairs: the marked pairs equal the
    all-pairs evaluation (direct and inverse, every operator and layer), the others
    are exact zeros; also with a Fermi window that splits the columns (wc and ac)."""
    st, e0 = soc_film
    H, dH = st.hk([0.31, 0.12])
    E, U = np.linalg.eigh(H)
    vb, qb = K.current_blocks(st.layout, H, dH, st.z, st.O)
    for mu in (np.array([e0]), e0 + np.array([-0.4, 0.0, 0.3])):
        w_lo, w_hi = K.window(mu, 0.0)
        for holes in (False, True):
            cols, always = K.band_window(E, w_lo, w_hi, holes)
            ref = K.kubo_k(st.layout, E, U, vb, qb, st.eta, cols, always, holes, precision=precision)
            scale = np.abs(ref).max()
            for pairs in ([[0, 1], [1, 0], [0, 0]], [[1, 1], [1, 1], [0, 0]], [[0, 0], [0, 0], [1, 0]]):
                pairs = np.array(pairs, dtype=bool)
                got = K.kubo_k(st.layout, E, U, vb, qb, st.eta, cols, always, holes, precision=precision,
                               pairs=pairs)
                keep = pairs[np.arange(K.N_OPS) % 3]                   # (12 Q, 2 beta)
                tol = 1e-12 if precision == "double" else 1e-5
                assert np.abs(got - ref)[:, :, keep].max() <= tol * scale
                assert not got[:, :, ~keep].any()
