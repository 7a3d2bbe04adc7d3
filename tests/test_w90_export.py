"""./run export: a model written as Wannier90 .win/_hr/_centres/_tb and read back
with [model] wannier90 = seedname is the same model (basis in Wannier90's order)."""
import os

import numpy as np

from hpcorb.io.wannier90 import export_model, read_tb
from hpcorb.io.win import read_win
from hpcorb.models.build import build_model
from hpcorb.models.materials import material_model
from hpcorb.models.orbitals import model_operators
from helpers import copy_model, write_deck


def _same(m, back, order, dim):
    k = np.random.default_rng(0).random((5, dim))
    assert np.abs(back.hk(k) - m.hk(k)[:, order][:, :, order]).max() < 1e-12
    H0, dH0 = m.hk_dhk(k)
    H1, dH1 = back.hk_dhk(k)
    assert np.abs(dH1 - dH0[:, :, order][:, :, :, order]).max() < 1e-11
    L0, S0 = model_operators(m)
    L1, S1 = model_operators(back)
    assert np.array_equal(L1, L0[:, order][:, :, order]) and np.array_equal(S1, S0[:, order][:, :, order])
    assert np.allclose(back.positions, m.positions[order]) and np.allclose(back.lattice, m.lattice)


def test_export_command_round_trip_bulk(tmp_path, cli):
    t = {"calculation": {"type": "dos"},
         "model": {"material": "Pt", "parametrization": "sk", "spin": True},
         "kmesh": {"size": [4, 4, 4]}, "dos": {"broadening": 0.1}}
    deck = write_deck(tmp_path / "pt.toml", t)
    r = cli(["export", deck])
    assert r.returncode == 0, r.stderr
    seed = str(tmp_path / "pt_w90")
    assert r.stdout.split() == [seed + s for s in (".win", "_hr.dat", "_centres.xyz", "_tb.dat")]
    win = read_win(seed + ".win")
    assert win.spinors and win.num_wann == 18
    assert [p.name for p in win.projections[::2]] == ["s", "pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy"]
    m = material_model("Pt", "sk", spin=True)
    back = build_model({"wannier90": seed})
    assert back.meta["spinor_order"] == "interleaved"
    order = np.array([m.orbitals.index(o) + 9 * s for o in
                      ("s", "pz", "px", "py", "dz2", "dzx", "dyz", "dx2-y2", "dxy") for s in (0, 1)])
    _same(m, back, order, 3)
    assert np.allclose(read_tb(seed + "_tb.dat")[0], m.lattice)
    # a second export to the same seedname touches nothing
    before = os.stat(seed + "_hr.dat").st_mtime_ns
    r = cli(["export", deck])
    assert r.returncode == 2 and "exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert os.stat(seed + "_hr.dat").st_mtime_ns == before


def test_export_round_trip_film(tmp_path):
    m = material_model("W", "sk", spin=True, surface="110", layers=2)
    paths = export_model(m, str(tmp_path / "w"))
    back = build_model({"wannier90": str(tmp_path / "w")}, periodic=2)
    _same(m, back, paths["order"], 2)
    assert len({a for a in back.atoms}) == 2
    os.remove(paths["hr_file"])                       # without _hr.dat the _tb.dat is read
    back_tb = build_model({"wannier90": str(tmp_path / "w")}, periodic=2)
    assert back_tb.meta["hr_file"].endswith("_tb.dat")
    _same(m, back_tb, paths["order"], 2)


def test_export_refuses_functions_without_character(tmp_path, cli):
    copy_model(tmp_path)                   # an hr_file without orbitals: characters unknown ('x')
    t = {"calculation": {"type": "dos"}, "model": {"hr_file": "sp_hr.dat"},
         "kmesh": {"size": [4, 4, 4]}, "dos": {"broadening": 0.1}}
    r = cli(["export", write_deck(tmp_path / "c.toml", t)])
    assert r.returncode == 2 and "orbital character" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not any(f.startswith("c_w90") for f in os.listdir(tmp_path))
