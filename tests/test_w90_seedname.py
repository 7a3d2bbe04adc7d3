"""[model] wannier90 = seedname: the .win reader, rotated/hybrid projections,
Wigner-Seitz shifts (_wsvec.dat), spinor order, and Wannier90's own bands of
the shared Quantum ESPRESSO Pt model."""
import itertools
import os
import shutil

import numpy as np
import pytest

from hpcorb.config import MODEL, validate_table
from hpcorb.errors import DeckError, InputError
from hpcorb.io.wannier90 import read_hr, write_centres, write_hr
from hpcorb.io.win import BOHR, read_win
from hpcorb.models.build import build_model
from hpcorb.models.orbitals import model_operators

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PT = os.path.join(REPO, "..", "shared", "data", "dft", "pt_qe")
need_pt = pytest.mark.skipif(not os.path.isfile(os.path.join(PT, "pt_hr.dat")),
                             reason="shared QE Pt model (../shared/data/dft/pt_qe) not beside the clone")


def model_from(d, folder):
    return build_model(validate_table(MODEL, d, "model", str(folder)))


# ---------------------------------------------------------------------------
# .win reader

WIN_2ATOM = """! two species, Cartesian cell in bohr
num_wann = {nw}
begin unit_cell_cart
bohr
 {a} 0 0
 0 {a} 0
 0 0 {a}
end unit_cell_cart
begin atoms_frac
Ga 0.0 0.0 0.0
As 0.25 0.25 0.25
end atoms_frac
begin projections
As : l=1 ; s        # p and s on As, in file order d... p first here
Ga:dxz,dz2
end projections
"""


def test_win_units_atoms_and_projection_order(tmp_path):
    p = tmp_path / "x.win"
    p.write_text(WIN_2ATOM.format(nw=6, a=10.0))
    w = read_win(str(p))
    assert np.allclose(w.lattice, 10.0 * BOHR * np.eye(3))
    assert [a[0] for a in w.atoms] == ["Ga", "As"]
    assert np.allclose(w.atoms[1][1], 2.5 * BOHR * np.ones(3))
    # Wannier90 expands each line by l = -5..3 then m_r: s before p however written;
    # names and (l, mr) codes give the same functions (dxz = l=2,mr=2; dz2 = mr=1)
    assert [(q.atom, q.name) for q in w.projections] == [
        (1, "s"), (1, "pz"), (1, "px"), (1, "py"), (0, "dz2"), (0, "dxz")]
    # atoms_cart in Angstrom gives the same positions
    q = tmp_path / "y.win"
    q.write_text(WIN_2ATOM.format(nw=6, a=10.0).replace(
        "begin atoms_frac\nGa 0.0 0.0 0.0\nAs 0.25 0.25 0.25\nend atoms_frac",
        f"begin atoms_cart\nang\nGa 0 0 0\nAs {2.5 * BOHR} {2.5 * BOHR} {2.5 * BOHR}\nend atoms_cart"))
    assert np.allclose(read_win(str(q)).atoms[1][1], w.atoms[1][1])


def test_win_refusals_are_one_line(tmp_path):
    p = tmp_path / "bad.win"
    p.write_text("begin unit_cell_cart\n1 0 0\n0 1 0\n0 0 1\nend unit_cell_cart\n"
                 "begin atoms_cart\nC 0 0 0\nend atoms_cart\nbegin projections\nC: dq\nend projections\n")
    with pytest.raises(InputError) as e:
        read_win(str(p))
    assert "unknown orbital 'dq'" in str(e.value) and "\n" not in str(e.value)
    p.write_text("begin unit_cell_cart\n1 0 0\n0 1 0\nend unit_cell_cart\n")
    with pytest.raises(InputError, match="3 lattice vectors"):
        read_win(str(p))


def _write_seed(folder, name, win_text, R, H):
    (folder / f"{name}.win").write_text(win_text)
    write_hr(str(folder / f"{name}_hr.dat"), R, H)
    return str(folder / name)


def _write_hr_deg(path, R, H, deg):
    """_hr.dat as Wannier90 writes it: printed value H_mn(R), divided by deg on reading."""
    nR, n, _ = H.shape
    with open(path, "w") as f:
        f.write("test\n%12d\n%12d\n" % (n, nR))
        for j in range(0, nR, 15):
            f.write("".join("%5d" % d for d in deg[j:j + 15]) + "\n")
        for r in range(nR):
            for b in range(n):
                for a in range(n):
                    h = H[r, a, b] * deg[r]
                    f.write("%5d%5d%5d%5d%5d%24.16e%24.16e\n" % (*R[r], a + 1, b + 1, h.real, h.imag))


def _random_hermitian_model(n, R, rng, scale=1.0):
    """H(R) with H(-R) = H(R)^+ on a symmetric R list."""
    index = {tuple(r): i for i, r in enumerate(R)}
    H = np.zeros((len(R), n, n), complex)
    for i, r in enumerate(R):
        j = index[tuple(-np.asarray(r))]
        if j < i:
            continue
        h = scale * (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))) / (1 + np.abs(r).sum()) ** 2
        if i == j:
            h = h + h.conj().T
        H[i] = h
        H[j] = h.conj().T
    return H


# ---------------------------------------------------------------------------
# rotated local axes and hybrids

def _cubic_R(rmax=1):
    return np.array(list(itertools.product(range(-rmax, rmax + 1), repeat=3)))


CUBIC_WIN = """begin unit_cell_cart
ang
3 0 0
0 3 0
0 0 3
end unit_cell_cart
begin atoms_cart
ang
X 0.2 0.1 0.0
end atoms_cart
begin projections
{proj}
end projections
"""


def test_rotated_p_shell_is_rotated_back_to_global_harmonics(tmp_path):
    rng = np.random.default_rng(3)
    R = _cubic_R()
    Hg = _random_hermitian_model(3, R, rng)              # global basis px, py, pz
    z = np.array([0.0, 1.0, 1.0]) / np.sqrt(2)
    x = np.array([1.0, 0.0, 0.0])
    y = np.cross(z, x)
    # Wannier90 p order (mr = 1, 2, 3) = local pz', px', py'; p_a' = sum_i (e_a')_i p_i
    C = np.array([z, x, y])
    Hw = np.einsum("ai,rij,bj->rab", C, Hg, C)
    seed = _write_seed(tmp_path, "rot", CUBIC_WIN.format(proj="X: p : z=0,1,1 : x=1,0,0"), R, Hw)
    m = model_from({"wannier90": seed}, tmp_path)
    assert m.orbitals == ["px", "py", "pz"]
    assert np.abs(m.H - Hg).max() < 1e-10
    assert np.allclose(m.positions, [[0.2, 0.1, 0.0]] * 3)
    k = rng.random((4, 3))
    assert np.allclose(np.linalg.eigvalsh(m.hk(k)), np.linalg.eigvalsh(
        np.einsum("kr,rij->kij", np.exp(2j * np.pi * k @ R.T), Hw)), atol=1e-10)


def test_rotated_d_shell_axial_field_commutes_with_L_along_local_z(tmp_path):
    """Only dz2' (m = 0 about the local z') raised: in the global basis hpcorb builds, that
    on-site term commutes with z'.L (and not with L_z) -- an independent check of the rotation."""
    R = np.zeros((1, 3), int)
    Hw = np.diag([0.7, 0.0, 0.0, 0.0, 0.0]).astype(complex)[None]     # Wannier90 d order: dz2 first
    z = np.array([1.0, 1.0, 1.0]) / np.sqrt(3)
    x = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
    seed = _write_seed(tmp_path, "rotd", CUBIC_WIN.format(proj="X: d : z=1,1,1 : x=1,-1,0"), R, Hw)
    m = model_from({"wannier90": seed}, tmp_path)
    assert sorted(m.orbitals) == sorted(["dxy", "dyz", "dzx", "dx2-y2", "dz2"])
    L, _ = model_operators(m)
    H0 = m.H[0]
    Lz_local = np.einsum("a,aij->ij", z, L)
    assert np.abs(H0 @ Lz_local - Lz_local @ H0).max() < 1e-12
    assert np.abs(H0 @ L[2] - L[2] @ H0).max() > 0.1
    assert np.allclose(np.linalg.eigvalsh(H0), [0, 0, 0, 0, 0.7])
    # the same for a local px' (the m = 0 state about x'): its projector commutes with x'.L
    Hp = np.diag([0.0, 0.5, 0.0]).astype(complex)[None]                 # p order: pz, px, py
    seed = _write_seed(tmp_path, "rotp", CUBIC_WIN.format(proj="X: p : z=1,1,1 : x=1,-1,0"), R, Hp)
    mp = model_from({"wannier90": seed}, tmp_path)
    Lp, _ = model_operators(mp)
    Lx_local = np.einsum("a,aij->ij", x, Lp)
    assert np.abs(mp.H[0] @ Lx_local - Lx_local @ mp.H[0]).max() < 1e-12     # px' is m=0 about x'
    assert np.abs(mp.H[0] @ Lp[0] - Lp[0] @ mp.H[0]).max() > 0.1


def test_sp3_hybrids_become_s_and_p(tmp_path):
    rng = np.random.default_rng(4)
    R = _cubic_R()
    Hg = _random_hermitian_model(4, R, rng)              # global basis s, px, py, pz
    C = 0.5 * np.array([[1, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]])  # user guide
    Hw = np.einsum("ai,rij,bj->rab", C, Hg, C)
    seed = _write_seed(tmp_path, "sp3", CUBIC_WIN.format(proj="X: sp3"), R, Hw)
    m = model_from({"wannier90": seed}, tmp_path)
    assert m.orbitals == ["s", "px", "py", "pz"]
    assert np.abs(m.H - Hg).max() < 1e-10
    # an incomplete hybrid set has no L: refused in one line naming the projection
    Hw2 = Hw[:, :3, :3]
    seed = _write_seed(tmp_path, "sp2", CUBIC_WIN.format(proj="X: sp2"), R, Hw2)
    with pytest.raises(InputError) as e:
        model_from({"wannier90": seed}, tmp_path)
    msg = str(e.value)
    assert "projection 'X: sp2'" in msg and "whole s/p/d shells" in msg and "\n" not in msg


# ---------------------------------------------------------------------------
# Wigner-Seitz shifts: a two-site model whose second centre is off the lattice points

def _ws_supercell_R(lattice, mp):
    """Wannier90's R list: points of the mp-grid supercell's Wigner-Seitz cell, with degeneracy."""
    out, deg = [], []
    sup = [np.array(t) * mp for t in itertools.product(range(-2, 3), repeat=3)]
    rng_ = [range(-mp[i], mp[i] + 1) for i in range(3)]
    for n in itertools.product(*rng_):
        d = [np.linalg.norm((np.array(n) - s) @ lattice) for s in sup]
        dmin = min(d)
        if abs(np.linalg.norm(np.array(n) @ lattice) - dmin) < 1e-7:
            out.append(n)
            deg.append(sum(abs(x - dmin) < 1e-7 for x in d))
    return np.array(out), np.array(deg)


def _ws_shifts(lattice, mp, centres, R):
    """Wannier90's documented use_ws_distance rule, literally: for each (R, i, j) the
    supercell translations T minimising |R + T + c_j - c_i| (all ties, tolerance 1e-5)."""
    shifts = {}
    cand = [np.array(t) * mp for t in itertools.product(range(-3, 4), repeat=3)]
    for r in R:
        for i, ci in enumerate(centres):
            for j, cj in enumerate(centres):
                d = np.array([np.linalg.norm((r + t) @ lattice + cj - ci) for t in cand])
                shifts[(tuple(r), i, j)] = [cand[q] for q in np.flatnonzero(d < d.min() + 1e-5)]
    return shifts


def test_wsvec_reproduces_wannier90_ws_interpolation(tmp_path):
    rng = np.random.default_rng(7)
    lattice = np.array([[3.0, 0, 0], [0.4, 2.8, 0], [0, 0.3, 3.3]])
    mp = np.array([3, 3, 2])
    R, deg = _ws_supercell_R(lattice, mp)
    assert abs(np.sum(1.0 / deg) - np.prod(mp)) < 1e-9       # Wannier90's sum rule
    frac_b = np.array([0.45, 0.35, 0.6])
    centres = np.array([[0.0, 0, 0], frac_b @ lattice])
    ham_r = _random_hermitian_model(2, R, rng)      # Wannier90's ham_r (printed as is, divided by deg)
    win = ("begin unit_cell_cart\n" + "\n".join(" ".join(map(str, v)) for v in lattice)
           + "\nend unit_cell_cart\nbegin atoms_frac\nA 0 0 0\nB " + " ".join(map(str, frac_b))
           + "\nend atoms_frac\nbegin projections\nA: s\nB: s\nend projections\n"
           + "mp_grid = 3 3 2\nuse_ws_distance = true\n")
    (tmp_path / "ws.win").write_text(win)
    _write_hr_deg(tmp_path / "ws_hr.dat", R, ham_r / deg[:, None, None], deg)
    Rr, Hr = read_hr(str(tmp_path / "ws_hr.dat"))
    sh = _ws_shifts(lattice, mp, centres, R)
    with open(tmp_path / "ws_wsvec.dat", "w") as f:
        f.write("## written by the test with use_ws_distance=.true.\n")
        for r in R:
            for i in range(2):
                for j in range(2):
                    T = sh[(tuple(r), i, j)]
                    f.write("%5d%5d%5d%5d%5d\n%5d\n" % (*r, i + 1, j + 1, len(T)))
                    for t in T:
                        f.write("%5d%5d%5d\n" % tuple(t))
    assert any(len(T) > 1 or np.any(T[0] != 0) for T in sh.values())    # shifts are not trivial
    write_centres(str(tmp_path / "ws_centres.xyz"), centres)
    m = model_from({"wannier90": str(tmp_path / "ws")}, tmp_path)
    k = rng.random((6, 3))
    # Wannier90's interpolation, literally: sum_R sum_T e^{2 pi i k.(R+T)} H_ij(R) / (deg ndeg)
    Hk = np.zeros((len(k), 2, 2), complex)
    for q, kk in enumerate(k):
        for ir, r in enumerate(R):
            for i in range(2):
                for j in range(2):
                    T = sh[(tuple(r), i, j)]
                    for t in T:
                        Hk[q, i, j] += np.exp(2j * np.pi * kk @ (r + t)) * ham_r[ir, i, j] / (deg[ir] * len(T))
    ref = np.linalg.eigvalsh(Hk)
    got = np.linalg.eigvalsh(m.hk(k))
    assert np.abs(got - ref).max() < 1e-12
    plain = np.linalg.eigvalsh(np.einsum("kr,rij->kij", np.exp(2j * np.pi * k @ Rr.T), Hr))
    assert np.abs(plain - ref).max() > 1e-3                   # without the shifts it differs
    assert "wsvec" in m.meta["ws_distance"]
    # use_ws_distance = true without the _wsvec.dat: refused (the plain sum is not Wannier90's)
    os.remove(tmp_path / "ws_wsvec.dat")
    with pytest.raises(DeckError) as e:
        model_from({"wannier90": str(tmp_path / "ws")}, tmp_path)
    assert "ws_wsvec.dat is missing" in str(e.value) and str(e.value).startswith("model.wannier90")


# ---------------------------------------------------------------------------
# the shared QE + Wannier90 Pt model

@pytest.fixture(scope="module")
def pt_model():
    if not os.path.isfile(os.path.join(PT, "pt_hr.dat")):
        pytest.skip("shared QE Pt model not present")
    return build_model({"wannier90": os.path.join(PT, "pt")})


@need_pt
def test_pt_basis_from_win(pt_model):
    m = pt_model
    assert m.norb == 18 and m.meta["spinor_order"] == "interleaved"
    assert m.orbitals[::2] == ["s", "pz", "px", "py", "dz2", "dzx", "dyz", "dx2-y2", "dxy"]
    assert list(m.spins) == [0, 1] * 9
    assert np.allclose(m.lattice, [[-1.96, 0, 1.96], [0, 1.96, 1.96], [-1.96, 1.96, 0]])
    assert m.meta["spinor_residual_interleaved_eV"] < 0.05 < m.meta["spinor_residual_block_eV"]


def _w90_band_path(win, reciprocal):
    """k-points of Wannier90's bands_plot (user guide: first segment bands_num_points,
    the others in proportion to their length, nint)."""
    segs = win.kpoint_path
    lens = [np.linalg.norm((b - a) @ reciprocal) for _, a, _, b in segs]
    pts = [segs[0][1]]
    for i, ((_, a, _, b), ln) in enumerate(zip(segs, lens)):
        n = win.bands_num_points if i == 0 else int(np.floor(win.bands_num_points * ln / lens[0] + 0.5))
        pts += [a + (b - a) * q / n for q in range(1, n + 1)]
    return np.array(pts)


@need_pt
def test_pt_bands_equal_wannier90s_own(pt_model):
    m = pt_model
    win = read_win(os.path.join(PT, "pt.win"))
    k = _w90_band_path(win, m.reciprocal)
    kfile = np.loadtxt(os.path.join(PT, "pt_band.kpt"), skiprows=1)[:, :3]
    assert k.shape == kfile.shape and np.abs(k - kfile).max() < 1e-6      # same path (file: 6 decimals)
    E = np.loadtxt(os.path.join(PT, "pt_band.dat"))[:, 1].reshape(m.norb, len(k)).T
    e = np.linalg.eigvalsh(m.hk(k))
    # exactly the plain Fourier sum of the printed file (use_ws_distance = false) ...
    R, H = read_hr(os.path.join(PT, "pt_hr.dat"))
    plain = np.linalg.eigvalsh(np.einsum("kr,rij->kij", np.exp(2j * np.pi * k @ R.T), H))
    assert np.abs(e - plain).max() < 1e-10
    # ... and Wannier90's own bands up to the 1e-6 eV rounding of every printed H(R)
    # element (1163 R: a coherent sum at Gamma reaches 1e-4 eV; typical 2e-5 eV)
    err = e - E
    assert np.sqrt(np.mean(err ** 2)) < 3e-5
    assert np.abs(err).max() < 2e-4


BLOCK = np.r_[np.arange(0, 18, 2), np.arange(1, 18, 2)]          # VASP-style: all up, then all down
SCRAMBLED = np.random.default_rng(5).permutation(18)


@pytest.fixture(scope="module")
def pt_seeds(tmp_path_factory):
    """Copies of the QE Pt model with the basis permuted (block order; scrambled)."""
    if not os.path.isfile(os.path.join(PT, "pt_hr.dat")):
        pytest.skip("shared QE Pt model not present")
    folder = tmp_path_factory.mktemp("ptperm")
    R, H = read_hr(os.path.join(PT, "pt_hr.dat"))
    out = {}
    for name, perm in (("block", BLOCK), ("scrambled", SCRAMBLED)):
        shutil.copy(os.path.join(PT, "pt.win"), folder / f"{name}.win")
        write_hr(str(folder / f"{name}_hr.dat"), R, H[:, perm][:, :, perm])
        out[name] = str(folder / name)
    return out


@need_pt
def test_spinor_order_auto_block_and_scrambled(tmp_path, pt_model, pt_seeds):
    block = BLOCK
    seed = pt_seeds["block"]
    mb = model_from({"wannier90": seed}, tmp_path)
    assert mb.meta["spinor_order"] == "block"
    assert mb.meta["spinor_residual_block_eV"] < 0.05 < mb.meta["spinor_residual_interleaved_eV"]
    m = pt_model
    k = np.random.default_rng(2).random((3, 3))
    assert np.abs(mb.hk(k) - m.hk(k)[:, block][:, :, block]).max() < 1e-12
    L0, S0 = model_operators(m)
    L1, S1 = model_operators(mb)
    assert np.array_equal(L1, L0[:, block][:, :, block]) and np.array_equal(S1, S0[:, block][:, :, block])
    # an explicit order that fits far worse is refused, naming the key and both residuals
    with pytest.raises(DeckError) as e:
        model_from({"wannier90": seed, "spinor_order": "interleaved"}, tmp_path)
    msg = str(e.value)
    assert msg.startswith("model.spinor_order = 'interleaved'") and "block" in msg and "\n" not in msg
    assert model_from({"wannier90": seed, "spinor_order": "block"}, tmp_path).meta["spinor_order"] == "block"
    # a scrambled basis fits neither: refused
    seed2 = pt_seeds["scrambled"]
    with pytest.raises(DeckError) as e:
        model_from({"wannier90": seed2}, tmp_path)
    msg = str(e.value)
    assert msg.startswith("model.spinor_order = 'auto'") and "neither order fits" in msg
    assert "interleaved" in msg and "block" in msg and "\n" not in msg


@need_pt
def test_hr_file_with_orbitals_uses_spinor_order(tmp_path, pt_seeds):
    seed = pt_seeds["block"]
    orbs = [f"0:{o}" for o in ("s", "pz", "px", "py", "dz2", "dzx", "dyz", "dx2-y2", "dxy")]
    d = {"hr_file": seed + "_hr.dat", "spin": True, "orbitals": orbs,
         "lattice": [[-1.96, 0, 1.96], [0, 1.96, 1.96], [-1.96, 1.96, 0]]}
    m = model_from(d, tmp_path)
    assert list(m.spins) == [0] * 9 + [1] * 9 and m.meta["spinor_order"] == "block"
    with pytest.raises(DeckError, match="model.spinor_order"):
        model_from({**d, "spinor_order": "interleaved"}, tmp_path)


@need_pt
def test_shipped_deck_checks_from_the_clone(cli):
    """inputs/slab_kubo_pt_qe_bulk.toml names the model by a path relative to the deck
    (../../shared/...): valid from a clone with shared/ beside it."""
    r = cli(["check", os.path.join(REPO, "inputs", "slab_kubo_pt_qe_bulk.toml")])
    assert r.returncode == 0, r.stderr


@need_pt
def test_results_record_spinor_order_and_block_gives_the_same_shc(tmp_path, cli, pt_seeds):
    """The chosen order and both residuals are in the results file; the VASP-style block
    copy of the model gives the same Hall tensors as the QE original (it is the same model)."""
    import h5py
    from helpers import write_deck
    seeds = {"interleaved": os.path.join(PT, "pt"), "block": pt_seeds["block"]}
    T = {}
    for order, seed in seeds.items():
        t = {"calculation": {"type": "slab_kubo"}, "model": {"wannier90": seed, "electrons": 10.0},
             "kmesh": {"size": [3, 3, 3]}, "slab_kubo": {"mode": "bulk", "energies": [0.0, 0.3]},
             "output": {"file": f"{order}.h5", "plots": False}}
        r = cli([write_deck(tmp_path / f"{order}.toml", t)])
        assert r.returncode == 0, r.stderr
        with h5py.File(tmp_path / f"{order}.h5") as f:
            a = f["slab_kubo"].attrs
            assert a["model_spinor_order"] == order and a["model_spinor_order_requested"] == "auto"
            assert a[f"model_spinor_residual_{order}_eV"] < 0.05
            other = "block" if order == "interleaved" else "interleaved"
            assert a[f"model_spinor_residual_{other}_eV"] > 1.0
            T[order] = (f["slab_kubo/tensor/spin/conventional"][...], f["slab_kubo/tensor/orbital/conventional"][...])
    for i in range(2):
        assert np.abs(T["block"][i] - T["interleaved"][i]).max() < 1e-9 * np.abs(T["interleaved"][i]).max()


@need_pt
def test_scrambled_basis_refused_by_the_command_line(tmp_path, cli, pt_seeds):
    from helpers import write_deck
    t = {"calculation": {"type": "slab_kubo"}, "model": {"wannier90": pt_seeds["scrambled"], "electrons": 10.0},
         "kmesh": {"size": [2, 2, 2]}, "slab_kubo": {"mode": "bulk"}, "output": {"file": "s.h5"}}
    r = cli(["check", write_deck(tmp_path / "s.toml", t)])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("hpcorb: error: model.spinor_order = 'auto'") and "block" in lines[0]
    assert not (tmp_path / "s.h5").exists()
