"""type = "bands": path, energies relative to E_F, DOS, Fermi level, plots, bad decks."""
import h5py
import numpy as np
import pytest

from hpcorb.calculations import bands
from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError
from hpcorb.io.results import write_results
from hpcorb.log import NullLogger
from hpcorb.models.build import build_model
from hpcorb.models.materials import eigenvalues, fermi_from_eigenvalues, uniform_mesh
from hpcorb.parallel import SerialComm


def deck(model, size=None, **b):
    d = {"calculation": {"type": "bands"}, "model": model, "bands": {"npoints": 60, "bins": 20000, **b}}
    if size:
        d["kmesh"] = {"size": list(size)}
    return deck_from_dict(d)


def run(dk):
    return bands.run(dk, SerialComm(), NullLogger(), None)


def test_cubic_band_analytic_and_fermi_level():
    """s band on the simple cubic lattice: E = -2t(cos kx a + cos ky a + cos kz a); half filling -> E_F = 0."""
    dk = deck({"builtin": "cubic", "params": {"t": 1.0, "a": 2.0}, "electrons": 1.0}, size=(20, 20, 20))
    res = run(dk)
    k = res["kpath"]
    e_exact = -2 * np.cos(k * 2.0).sum(axis=1)
    ef = res.attrs["fermi_energy"]
    assert abs(ef) < 0.05                                # particle-hole symmetric band
    assert np.allclose(res["energies"][:, 0] + ef, e_exact, atol=1e-12)
    assert res["labels"][0] == "G" and res["label_index"][-1] == len(k) - 1
    de = res["dos_energy"]
    assert abs(np.trapz(res["dos"], de) - 2.0) < 1e-3     # 1 band x spin 2


def test_material_bands_fermi_level_matches_direct_count():
    dk = deck({"material": "W", "parametrization": "sk"}, size=(12, 12, 12))
    res = run(dk)
    m = build_model(dk["model"], 3)
    direct = fermi_from_eigenvalues(eigenvalues(m, uniform_mesh(12)), 6, False)
    # histogram Fermi level: interpolated within the count step around the direct one
    assert abs(res.attrs["fermi_energy"] - direct) < 0.05
    labels = list(res["labels"])
    assert labels[:5] == ["G", "H", "N", "G", "P"] and "H|P" in labels
    # H point: |k| = 2 pi / a
    a = m.meta["lattice_constant"]
    kH = res["kpath"][res["label_index"][1]]
    assert np.isclose(np.linalg.norm(kH), 2 * np.pi / a)
    assert res["energies"].shape == (len(res["kpath"]), 9)


def test_film_path_and_output_file(tmp_path):
    dk = deck({"material": "W", "surface": "110", "layers": 2, "spin": True}, size=(6, 6))
    res = run(dk)
    assert list(res["labels"]) == ["G", "N", "S", "H", "G"]
    assert np.allclose(res["kpath"][:, 2], 0.0)
    out = str(tmp_path / "b.h5")
    write_results(out, res, SerialComm(), NullLogger())
    with h5py.File(out, "r") as h5:
        assert h5["bands/energies"].attrs["units"] == "eV"
        assert np.isfinite(h5["bands"].attrs["fermi_energy"])
        txt = bands.summary(h5)
        paths = bands.plot(h5, str(tmp_path / "b"))
    assert "Fermi energy" in txt
    assert paths and paths[0].endswith("_bands.png")


def test_custom_path_and_bad_path():
    dk = deck({"material": "Pt"}, size=(6, 6, 6), path=[["G", 0, 0, 0], ["L", 0.5, 0.5, 0.5], "|",
                                                           ["X", 0.5, 0, 0.5], ["G", 0, 0, 0]])
    res = run(dk)
    assert list(res["labels"]) == ["G", "L|X", "G"]
    with pytest.raises(DeckError, match="bands.path"):
        bands.validate(deck({"material": "Pt"}, path=[["G", 0, 0], ["X", 1, 0]]))


def test_bad_deck_errors():
    with pytest.raises(DeckError, match="bands.npoints"):
        deck({"material": "W"}, npoints=1)
    with pytest.raises(DeckError, match="model.material"):
        bands.validate(deck({"material": "Kryptonite"}))
    with pytest.raises(DeckError, match="kmesh.size"):
        bands.validate(deck({"material": "W", "surface": "110", "layers": 3}, size=(4, 4, 4)))


@pytest.mark.mpi
def test_bands_same_on_any_rank_count():
    from hpcorb.parallel import world
    dk = deck({"material": "Ta", "parametrization": "nrl", "spin": True}, size=(6, 6, 6), npoints=30)
    serial = run(dk)
    par = bands.run(dk, world(), NullLogger(), None)
    assert np.allclose(par["energies"], serial["energies"], atol=1e-12)
    assert abs(par.attrs["fermi_energy"] - serial.attrs["fermi_energy"]) < 1e-12
    assert np.allclose(par["dos"], serial["dos"], rtol=1e-10, atol=1e-12)


def test_cli_exit_code_2_for_bad_material(tmp_path):
    from hpcorb import launch
    p = tmp_path / "bad.toml"
    p.write_text('[calculation]\ntype = "bands"\n[model]\nmaterial = "Xx"\n')
    assert launch.main(["check", str(p)]) == 2
    p.write_text('[calculation]\ntype = "bands"\n[model]\nmaterial = "W"\nsoc_scale = 0.3\n')
    assert launch.main(["check", str(p)]) == 2
