"""slab_kubo calculation: decks, rank and restart independence, output
contract, bulk mode (Pt intrinsic spin Hall conductivity), W(110) signs."""
import os

import numpy as np
import pytest

from test_kubo_models import random_film

from hpcorb.calculations import slab_kubo as SK
from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError
from hpcorb.kernels import kubo as K
from hpcorb.parallel import SerialComm, world
from hpcorb.parallel.checkpoint import Checkpoint
from hpcorb.parallel.engine import Plan, RankFailure, run_chunks
from hpcorb.parallel.kmesh import KMesh


def film_files(folder, seed=2, layers=4):
    from hpcorb.models.export import write_model
    m = random_film(n_layers=layers, atoms_per_layer=1, seed=seed, xi=0.4)
    paths = write_model(m, os.path.join(str(folder), "film"))
    model = {"hr_file": paths["hr_file"], "centres_file": paths["centres_file"],
             "lattice": m.lattice.tolist(), "spin": True,
             "orbitals": [f"{a}:{o}" for a, o, s in zip(m.atoms, m.orbitals, m.spins) if s == 0],
             "electrons": float(m.norb // 2)}
    return model


def deck(folder, model=None, size=(6, 6), **kubo):
    data = {"calculation": {"type": "slab_kubo"},
            "model": model or film_files(folder),
            "kmesh": {"size": list(size)},
            "slab_kubo": {"energies": [-0.5, 0.0, 0.5], "eta": 0.2, **kubo},
            "output": {"file": os.path.join(str(folder), "out.h5"), "overwrite": True, "plots": False}}
    return data


# ---- decks ---------------------------------------------------------------------

@pytest.mark.parametrize("change, key", [
    ({"slab_kubo": {"eta": -0.1}}, "slab_kubo.eta"),
    ({"slab_kubo": {"eta": 0.0}}, "slab_kubo.eta"),
    ({"slab_kubo": {"temperature": -5.0}}, "slab_kubo.temperature"),
    ({"slab_kubo": {"mode": "slab"}}, "slab_kubo.mode"),
    ({"slab_kubo": {"surface_layers": -1}}, "slab_kubo.surface_layers"),
    ({"slab_kubo": {"energies": [0.0, 0.0]}}, "slab_kubo.energies"),
    ({"slab_kubo": {"energies": {"start": 0, "stop": 1}}}, "slab_kubo.energies"),
    ({"slab_kubo": {"etta": 0.1}}, "slab_kubo.etta"),
    ({"kmesh": {"size": [4, 4, 4]}}, "kmesh.size"),
    ({"slab_kubo": {"mode": "bulk"}}, "kmesh.size"),
])
def test_bad_decks_raise_deck_error(tmp_path, change, key):
    d = deck(tmp_path)
    for table, kv in change.items():
        d[table].update(kv)
    with pytest.raises(DeckError) as e:
        deck_from_dict(d, str(tmp_path / "deck.toml"))
    assert e.value.key == key


def test_bulk_mode_with_film_model_refused(tmp_path):
    d = deck(tmp_path, model={"material": "W", "spin": True, "surface": "110", "layers": 3},
             size=(4, 4, 4), mode="bulk")
    with pytest.raises(DeckError):
        deck_from_dict(d, str(tmp_path / "deck.toml"))


def test_missing_electron_count_refused(tmp_path):
    d = deck(tmp_path)
    del d["model"]["electrons"]
    dk = deck_from_dict(d, str(tmp_path / "deck.toml"))
    with pytest.raises(DeckError) as e:
        SK.validate(dk)
    assert e.value.key == "slab_kubo.fermi_energy"


# ---- runs ----------------------------------------------------------------------

def _run(d, folder, comm=None, checkpoint=None):
    from hpcorb.log import NullLogger
    dk = deck_from_dict(d, str(folder / "deck.toml"))
    return SK.run(dk, comm or SerialComm(), NullLogger(), checkpoint)


def test_output_contract(tmp_path):
    res = _run(deck(tmp_path, temperature=100.0), tmp_path)
    names = res.names()
    assert "energies" in names and "layer_z" in names
    for kind in ("direct", "inverse"):
        for o in ("orbital", "spin"):
            for p in ("conventional", "torque_dipole", "proper"):
                a = res[f"{kind}/{o}/{p}"]
                assert a.shape == (3, 4, 3, 2)
                assert np.all(np.isfinite(a))
    e = [x for x in res.entries if x.name == "direct/spin/proper"][0]
    assert e.units == "(hbar/e)(Ohm cm)^-1"
    for a in ("units", "eta_eV", "temperature_K", "kmesh", "fermi_energy_eV", "surface_layers"):
        assert a in res.attrs
    np.testing.assert_allclose(res["layer_z"], [-3.0, -1.0, 1.0, 3.0])   # D = 2, centred
    np.testing.assert_allclose(res["direct/orbital/proper"],
                               res["direct/orbital/conventional"] + res["direct/orbital/torque_dipole"])


@pytest.mark.mpi
def test_rank_independence(tmp_path_factory):
    """The same deck on all ranks of world() and on one rank: same numbers."""
    import pathlib
    comm = world()
    folder = comm.bcast(str(tmp_path_factory.mktemp("sk")) if comm.rank == 0 else None)
    model = film_files(folder) if comm.rank == 0 else None
    model = comm.bcast(model)
    folder = pathlib.Path(folder)
    d = deck(folder, model=model, size=(5, 4))
    d["kmesh"]["chunk_size"] = 3          # 7 chunks: uneven over 2 and 3 ranks
    par = _run(d, folder, comm)
    ser = _run(d, folder, SerialComm())
    for name in ser.names():
        a, b = np.asarray(par[name]), np.asarray(ser[name])
        assert np.abs(a - b).max() <= 1e-12 * max(1.0, np.abs(b).max()), name
    assert par.attrs["fermi_energy_eV"] == pytest.approx(ser.attrs["fermi_energy_eV"], abs=1e-12)


def test_restart_independence(tmp_path):
    """A run interrupted after a few chunks resumes from its checkpoint and gives
    the uninterrupted result; the resumed run skips the finished chunks."""
    m = random_film(n_layers=3, seed=4)
    st = SK.Setup(m, "film", 0.2)
    mesh = KMesh((4, 5))
    ef = float(np.median(np.linalg.eigvalsh(st.hk([0.0, 0.0])[0])))
    mu = ef + np.array([-0.3, 0.0, 0.3])
    edges = K.histogram_edges(mu, 0.0)
    w_lo, w_hi = K.window(mu, 0.0)
    kern = SK.make_kernel(st, mesh, edges, w_lo, w_hi, False)
    shape = (len(edges) + 1, 2, K.N_OPS, 2, st.nl)
    plan = Plan(mesh.n, 2)
    ref = run_chunks(plan, kern, {"hist": (shape, float)}, SerialComm())["hist"]

    calls = []

    def failing(start, stop):
        calls.append(start)
        if len(calls) > 4:
            raise RuntimeError("node died")
        return kern(start, stop)

    ck = Checkpoint(str(tmp_path / "run.ckpt"), "hash")
    with pytest.raises(RankFailure):
        run_chunks(plan, failing, {"hist": (shape, float)}, SerialComm(), checkpoint=ck,
                   checkpoint_interval=1e-9, sync_seconds=1e-9)
    assert ck.exists()
    resumed = []

    def counting(start, stop):
        resumed.append(start)
        return kern(start, stop)
    out = run_chunks(plan, counting, {"hist": (shape, float)}, SerialComm(), checkpoint=ck,
                     checkpoint_interval=1e-9, sync_seconds=1e-9)["hist"]
    assert len(resumed) < plan.n_chunks
    assert np.abs(out - ref).max() <= 1e-12 * np.abs(ref).max()


def test_bulk_pt_spin_hall():
    """Bulk fcc Pt (SK with SOC): intrinsic spin Hall conductivity at E_F of the
    order of the first-principles ~2000 (hbar/e)(Ohm cm)^-1, positive, and
    sigma^x_zy = -sigma^y_zx (cubic symmetry)."""
    from hpcorb.models.build import build_model
    m = build_model({"material": "Pt", "parametrization": "sk", "spin": True}, periodic=3)
    st = SK.Setup(m, "bulk", 0.1)
    mesh = KMesh((12, 12, 12), shift=(0.5, 0.5, 0.5))
    E = np.sort(np.concatenate([np.linalg.eigvalsh(st.hk(k)[0]) for k in mesh.frac()]))
    n_el = int(round(m.electrons * mesh.n))          # spinful: one electron per band
    ef = 0.5 * (E[n_el - 1] + E[n_el])
    mu = np.array([ef])
    edges = K.histogram_edges(mu, 0.0)
    out = SK.make_kernel(st, mesh, edges, *K.window(mu, 0.0), True)(0, mesh.n)
    s = SK.to_contract(SK.finish(out["hist"], edges, mu, 0.0, True, st.volume, mesh.n))
    shc = s["direct"]["spin"]["conventional"][0, 0]
    assert 1200 < shc[1, 0] < 3000
    assert shc[0, 1] == pytest.approx(-shc[1, 0], rel=1e-2)     # up to the k-mesh symmetry
    # one-atom cell: no torque dipole, proper = conventional
    assert np.abs(s["direct"]["spin"]["torque_dipole"]).max() < 1e-9 * abs(shc[1, 0])


def test_nrl_film_loewdin_path():
    """A non-orthogonal (NRL) W(110) film runs through the Loewdin path: the
    layer bandwidth is dense, results are finite and globally reciprocal."""
    from hpcorb.models.build import build_model
    m = build_model({"material": "W", "parametrization": "nrl", "spin": True, "surface": "110",
                     "layers": 3}, periodic=2)
    st = SK.Setup(m, "film", 0.2)
    assert st.layout.bandwidth == st.nl - 1
    mesh = KMesh((2, 2))
    E = np.sort(np.concatenate([np.linalg.eigvalsh(st.hk(k)[0]) for k in mesh.frac()]))
    mu = np.array([E[int(m.electrons) * mesh.n]])
    edges = K.histogram_edges(mu, 0.0)
    out = SK.make_kernel(st, mesh, edges, *K.window(mu, 0.0), False)(0, mesh.n)
    s = SK.to_contract(SK.finish(out["hist"], edges, mu, 0.0, False, st.volume, mesh.n))
    d = s["direct"]["orbital"]["proper"].mean(axis=1)
    i = s["inverse"]["orbital"]["proper"].mean(axis=1)
    assert np.all(np.isfinite(d)) and np.abs(d).max() > 1.0
    assert np.abs(d + i).max() <= 1e-10 * np.abs(d).max()
