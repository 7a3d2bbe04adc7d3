"""Wannier90 I/O: round trips of hpcorb models, centres, tb.dat, orbital characters."""
import tomllib

import numpy as np
import pytest

from hpcorb.config import MODEL, validate_table
from hpcorb.errors import DeckError, InputError
from hpcorb.io.wannier90 import read_centres, read_hr, read_tb, write_hr
from hpcorb.models.export import write_model
from hpcorb.models.build import build_model
from hpcorb.models.materials import eigenvalues, material_model, uniform_mesh
from hpcorb.models.orbitals import model_operators


def deck_model(d, folder):
    return validate_table(MODEL, d, "model", str(folder))


def dos(model, n, dim):
    e = eigenvalues(model, uniform_mesh(n, dim=dim))
    return np.histogram(e.ravel(), bins=np.linspace(-20, 40, 601))[0]


def test_round_trip_film_hr_centres(tmp_path):
    m = material_model("W", "sk", spin=True, surface="001", layers=2)
    paths = write_model(m, str(tmp_path / "wfilm"))
    with open(paths["deck"], "rb") as f:
        snippet = tomllib.load(f)["model"]
    back = build_model(deck_model(snippet, tmp_path), periodic=2)
    o = paths["order"]                         # Wannier90 spinor order: (up, down) pairs
    assert list(back.spins) == [0, 1] * (m.norb // 2)
    k = np.random.default_rng(0).random((5, 2))
    assert np.abs(back.hk(k) - m.hk(k)[:, o][:, :, o]).max() < 1e-12
    assert np.allclose(back.positions, m.positions[o])
    L0, S0 = model_operators(m)
    L1, S1 = model_operators(back)
    assert np.array_equal(L0[:, o][:, :, o], L1) and np.array_equal(S0[:, o][:, :, o], S1)
    # the model's own order, with explicit spin suffixes: identical H(k)
    p2 = write_model(m, str(tmp_path / "own"), spinor_order_w90=False)
    with open(p2["deck"], "rb") as f:
        back2 = build_model(deck_model(tomllib.load(f)["model"], tmp_path), periodic=2)
    assert np.abs(back2.hk(k) - m.hk(k)).max() < 1e-12
    assert np.array_equal(model_operators(back2)[1], S0)
    assert back.electrons == m.electrons
    assert np.array_equal(dos(back, 10, 2), dos(m, 10, 2))


def test_round_trip_bulk_tb_dat(tmp_path):
    m = material_model("Pt", "sk")
    paths = write_model(m, str(tmp_path / "pt"))
    lattice, R, H, r = read_tb(paths["tb_file"])
    assert np.allclose(lattice, m.lattice)
    back = build_model(deck_model({"tb_file": paths["tb_file"]}, tmp_path))
    k = np.random.default_rng(1).random((5, 3))
    assert np.abs(back.hk(k) - m.hk(k)).max() < 1e-12
    assert np.array_equal(dos(back, 8, 3), dos(m, 8, 3))
    centres, atoms = read_centres(paths["centres_file"])
    assert centres.shape == (9, 3) and len(atoms) == 1


def test_hr_degeneracies_divided(tmp_path):
    """A hand-written _hr.dat with Wigner-Seitz weight 2 on R = +-1."""
    p = tmp_path / "chain_hr.dat"
    p.write_text("comment\n1\n3\n1 2 2\n"
                 "0 0 0 1 1 0.5 0.0\n1 0 0 1 1 -2.0 0.0\n-1 0 0 1 1 -2.0 0.0\n")
    R, H = read_hr(str(p))
    assert H[1, 0, 0] == -1.0 and H[0, 0, 0] == 0.5


def test_spinor_order_and_characters(tmp_path):
    m = material_model("W", "sk", spin=True)
    # rewrite in Wannier90 spinor order: (orbital, spin) with spin fastest
    perm = np.array([s * 9 + o for o in range(9) for s in range(2)])
    H = m.H[:, perm][:, :, perm]
    write_hr(str(tmp_path / "w_hr.dat"), m.R, H)
    orbs = [f"0:{o}" for o in m.orbitals[:9]]
    back = build_model(deck_model({"hr_file": "w_hr.dat", "lattice": m.lattice.tolist(), "spin": True,
                                   "orbitals": orbs}, tmp_path))
    assert list(back.spins) == [0, 1] * 9
    L, S = model_operators(back)
    L0, S0 = model_operators(m)
    assert np.allclose(L, L0[:, perm][:, :, perm]) and np.allclose(S, S0[:, perm][:, :, perm])
    k = np.random.default_rng(2).random((3, 3))
    assert np.allclose(eigenvalues(back, k), eigenvalues(m, k), atol=1e-12)


@pytest.mark.parametrize("extra,match", [
    ({"orbitals": ["0:s", "0:px"]}, "9 Wannier functions"),
    ({"orbitals": ["0:s"] * 9, "spin": True}, "spin-up entries"),
    ({"orbitals": ["0:fxyz"] * 9}, "character"),
    ({"orbitals": ["0:s:up"] + ["0:s"] * 8, "spin": True}, "every entry"),
    ({"spin": True}, "orbitals"),
    ({"surface": "110"}, "only for material"),
])
def test_bad_wannier_decks(tmp_path, extra, match):
    m = material_model("W", "sk")
    write_hr(str(tmp_path / "w_hr.dat"), m.R, m.H)
    d = {"hr_file": "w_hr.dat", "lattice": m.lattice.tolist()}
    d.update(extra)
    with pytest.raises(DeckError, match=match) as e:
        build_model(deck_model(d, tmp_path))
    assert "\n" not in str(e.value)


def test_centres_count_mismatch(tmp_path):
    m = material_model("W", "sk")
    paths = write_model(m, str(tmp_path / "w"))
    (tmp_path / "few.xyz").write_text("2\nc\nX 0 0 0\nX 1 1 1\n")
    with pytest.raises(DeckError, match="centres"):
        build_model(deck_model({"hr_file": paths["hr_file"], "centres_file": "few.xyz"}, tmp_path))


def test_nonorthogonal_refused(tmp_path):
    with pytest.raises(InputError, match="non-orthogonal"):
        write_model(material_model("W", "nrl"), str(tmp_path / "x"))


def test_nrl_written_through_loewdin_mesh(tmp_path):
    """NRL: the Loewdin H'(k) Fourier transformed on a mesh is exact on the mesh and converges between."""
    from hpcorb.models import lowdin
    from hpcorb.models.materials import orthogonalized_model
    m = material_model("W", "nrl", spin=True, surface="001", layers=2)
    o = orthogonalized_model(m, (8, 8))
    k_mesh = uniform_mesh(8, dim=2)[::7]
    assert np.abs(o.hk(k_mesh) - lowdin.hk(m, k_mesh)).max() < 1e-11
    kr = np.random.default_rng(3).random((6, 2))
    err8 = np.abs(eigenvalues(o, kr) - eigenvalues(m, kr)).max()
    err12 = np.abs(eigenvalues(orthogonalized_model(m, (12, 12)), kr) - eigenvalues(m, kr)).max()
    assert err12 < 0.2 * err8 and err12 < 0.02
    paths = write_model(m, str(tmp_path / "nrl"), mesh=(8, 8))
    with open(paths["deck"], "rb") as f:
        back = build_model(deck_model(tomllib.load(f)["model"], tmp_path), periodic=2)
    o_ = paths["order"]
    assert np.abs(back.hk(kr) - o.hk(kr)[:, o_][:, :, o_]).max() < 1e-12
