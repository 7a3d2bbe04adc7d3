"""Deck validation of `trilayer`: bad decks raise DeckError naming the key."""
import numpy as np
import pytest

from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError


def deck(**kw):
    t = dict(nx=10, ny=8, n_fm=1, m_left=[1.0, 0, 0], m_right=[0, 1.0, 0])
    sub = {k: kw.pop(k) for k in ("rkky", "angles", "mu_scan", "sparse") if k in kw}
    t.update(kw)
    t.update(sub)
    return deck_from_dict({"calculation": {"type": "trilayer"}, "trilayer": t})


def raises(match, **kw):
    with pytest.raises(DeckError, match=match):
        deck(**kw)


def test_good_deck_defaults():
    d = deck()
    p = d["trilayer"]
    assert p["bond_scale"] == 0.5 and p["interface_bond"] == "nm" and p["solver"] == "auto"
    assert p["disorder"] == 0.0 and p["temperature"] > 0


def test_n_fm_too_large():
    raises("trilayer.n_fm", n_fm=5)                 # 5 + 5 >= 10
    raises("trilayer.n_fm", n_fm=4, n_fm_right=6)

def test_n_fm_bilayer_ok():
    deck(n_fm=9, m_right=[0.0, 0.0, 0.0], ny=3)     # one NM column left
    with pytest.raises(DeckError, match="trilayer.n_fm"):
        deck(n_fm=10, m_right=[0.0, 0.0, 0.0])


def test_unknown_solver_and_keys():
    raises("trilayer.solver", solver="lanczos")
    raises("trilayer.normal_metal", normal_metal="p")
    raises("trilayer.interface_bond", interface_bond="mean")
    raises("trilayer.m_left", m_left=[1.0, 0.0])
    raises("trilayer.bogus", bogus=1)


def test_ky_solver_needs_clean_periodic():
    raises("trilayer.solver", solver="ky", disorder=0.5)
    raises("trilayer.solver", solver="ky", periodic_y=False)
    raises("trilayer.ny", ny=2)                     # periodic rows need ny >= 3


def test_impossible_memory_estimates():
    raises("trilayer.solver", solver="dense", nx=400, ny=400)               # 480,000 states dense
    raises("trilayer.solver", solver="dense", memory_limit_gb=1e-3)
    raises("trilayer.solver", solver="sparse", nx=2000, ny=100000, memory_limit_gb=1.0)
    raises("trilayer.nx", nx=4000, ny=10, memory_limit_gb=1.0)               # k_y blocks too big
    raises("trilayer.rkky", disorder=1.0, solver="dense", rkky={"nx": [10, 400]}, ny=400)


def test_zero_temperature():
    d = deck(temperature=0.0, solver="dense")       # supported: F = sum of E_n < 0
    assert d["trilayer"]["temperature"] == 0.0
    raises("trilayer.temperature", temperature=0.0, solver="sparse")
    raises("trilayer.temperature", temperature=-0.1)


def test_subtables():
    d = deck(rkky={"nx": [4, 6, 8]}, angles={"ntheta": 3, "nphi": 4}, mu_scan={"mu": [-1.0, 0.0]})
    assert d["trilayer"]["rkky"]["axis"] == "y"
    assert np.allclose(d["trilayer"]["mu_scan"]["mu"], [-1, 0])
    raises("trilayer.rkky.nx", rkky={"nx": [2, 6]})                    # 2 <= 1 + 1 FM columns
    raises("trilayer.rkky", rkky={"nx": [6]}, m_right=[0, 0, 0])       # needs two magnets
    raises("trilayer.angles.magnet", angles={"magnet": "right"}, m_right=[0, 0, 0])
    raises("trilayer.mu_scan.mu", mu_scan={})
    raises("trilayer.rkky.axis", rkky={"nx": [6], "axis": "w"})
