"""[bilayer] decks: validation errors, the output contract, sweeps (also on
2 and 3 ranks), summary/plots and the launcher."""
import copy
import os

import numpy as np
import pytest

from hpcorb.calculations import bilayer
from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError, InputError
from hpcorb.kernels import driftdiffusion as dd
from hpcorb.log import NullLogger
from hpcorb.parallel import SerialComm, world

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD_CSV = "thickness,torque,uncertainty\n1,1e6,1e5\n2,2e6,1e5\n3,2.5e6,1e5\n4,2.7e6,1e5\n"


def base(**bil):
    d = {"calculation": {"type": "bilayer"},
         "bilayer": {"sigma_SHE": 1e5, "sigma_OHE": 5e4, "P_os": 0.3, "P_so": 0.2, **bil},
         "output": {"file": "out.h5", "plots": False}}
    return d


def err(data):
    with pytest.raises(InputError) as e:
        deck_from_dict(data)
    msg = str(e.value)
    assert "\n" not in msg
    return e.value, msg


# --------------------------------------------------------------------------
# bad decks

@pytest.mark.parametrize("key,value", [
    ("d_N", -1.0), ("d_F", 0.0), ("lambda_s_N", -3.0), ("lambda_o_F", 0), ("lambda_J", 0.0),
    ("lambda_J", -0.5), ("lambda_phi", 0.0), ("sigma_s_N", -1e6), ("sigma_o_F", 0.0),
    ("G_s", -1e15), ("G_o", 0.0), ("P_os", 1.5), ("boundary", "magic"), ("E", "big"),
])
def test_bad_values(key, value):
    e, msg = err(base(**{key: value}))
    assert isinstance(e, DeckError)
    assert e.key == f"bilayer.{key}"
    assert f"bilayer.{key}" in msg and repr(value) in msg and "expected" in msg


def test_unknown_key_suggests():
    e, msg = err(base(lamda_J=0.5))
    assert "bilayer.lamda_J" in msg and "lambda_J" in msg


def test_unknown_sweep_parameter():
    d = base()
    d["bilayer"]["sweep"] = {"parameter": "thickness", "values": [1.0, 2.0]}
    e, msg = err(d)
    assert e.key == "bilayer.sweep.parameter" and "'thickness'" in msg and "d_F" in msg


@pytest.mark.parametrize("sweep,key", [
    ({"parameter": "d_F", "values": [1.0, -2.0]}, "bilayer.sweep.values"),
    ({"parameter": "lambda_J", "values": {"start": 0.0, "stop": 1.0, "num": 3}}, "bilayer.sweep.values"),
    ({"parameter": "G_s", "values": [1e14, 0.0]}, "bilayer.sweep.values"),
    ({"parameter": "d_F", "values": [1.0], "parameter2": "d_F", "values2": [2.0]}, "bilayer.sweep.parameter2"),
    ({"parameter": "d_F", "values": [1.0], "parameter2": "d_N"}, "bilayer.sweep.values2"),
    ({"parameter": "d_F"}, "bilayer.sweep.values"),
    ({"parameter": "d_F", "values": {"start": 1, "stop": 2}}, "bilayer.sweep.values"),
    ({"parameter": "d_F", "values": [1.0, 2.0], "scale": "log", "parameter2": "G_os",
      "values2": [-1.0, 1.0], "scale2": "log"}, "bilayer.sweep.values2"),
])
def test_bad_sweeps(sweep, key):
    d = base()
    d["bilayer"]["sweep"] = sweep
    e, msg = err(d)
    assert e.key == key, msg


@pytest.mark.parametrize("text,needle", [
    ("thickness,torque\n1,2\n2,3\n3,4\n", "lacks column(s) uncertainty"),
    ("thickness,torque,uncertainty\n1,2e6,1e5\n2,abc,1e5\n3,1,1\n", "line 3"),
    ("thickness,torque,uncertainty\n1,2e6,1e5\n2,3e6\n3,1,1\n", "line 3: 2 fields"),
    ("thickness,torque,uncertainty\n1,2e6,0\n2,3e6,1e5\n3,1,1\n", "uncertainty 0"),
    ("thickness,torque,uncertainty\n-1,2e6,1e5\n2,3e6,1e5\n3,1,1\n", "thickness -1"),
    ("thickness,torque,uncertainty\n1,nan,1e5\n2,3e6,1e5\n3,1,1\n", "finite"),
    ("", "empty"),
    ("thickness,torque,uncertainty\n1,2e6,1e5\n", "at least 2"),
    ("thickness,torque,uncertainty\n1,2e6,1e5\n2,3e6,1e5\n", "more rows than parameters"),
])
def test_malformed_csv(tmp_path, text, needle):
    path = tmp_path / "data.csv"
    path.write_text(text)
    d = base()
    d["bilayer"]["fit"] = {"data": str(path), "parameters": ["lambda_o_F", "P_os"]}
    e, msg = err(d)
    assert needle in msg and str(path) in msg, msg


def test_missing_csv_and_bad_fit_tables(tmp_path):
    d = base()
    d["bilayer"]["fit"] = {"data": str(tmp_path / "nothere.csv"), "parameters": ["P_os"]}
    e, msg = err(d)
    assert "no such file" in msg and "bilayer.fit.data" in msg
    good = tmp_path / "d.csv"
    good.write_text(GOOD_CSV)
    for fit, key in (({"data": str(good), "parameters": ["P_oss"]}, "bilayer.fit.parameters"),
                     ({"data": str(good), "parameters": ["d_F"]}, "bilayer.fit.parameters"),
                     ({"data": str(good), "parameters": ["P_os", "P_os"]}, "bilayer.fit.parameters"),
                     ({"data": str(good), "parameters": ["P_os"], "lower": [0.0, 1.0]}, "bilayer.fit.lower"),
                     ({"data": str(good), "parameters": ["P_os"], "lower": [0.5], "upper": [0.1]},
                      "bilayer.fit.lower"),
                     ({"data": str(good), "parameters": ["P_os"], "lower": [0.5], "upper": [0.9]},
                      "bilayer.P_os"),
                     ({"data": str(good), "parameters": ["lambda_J"], "lower": [-1.0]}, "bilayer.fit.lower"),
                     ({"parameters": ["P_os"]}, "bilayer.fit.data")):
        d = base()
        d["bilayer"]["fit"] = fit
        e, msg = err(d)
        assert e.key == key, (fit, msg)


def test_mixing_keys():
    e, msg = err(base(G_mix_r=1e15))
    assert e.key == "bilayer.G_mix_r"
    e, msg = err(base(boundary="mixing", G_mix_r=1e15))
    assert e.key == "bilayer.G_mix_i"
    deck_from_dict(base(boundary="mixing", G_mix_r=1e15, G_mix_i=-2e14))


# --------------------------------------------------------------------------
# output contract

def _run(data, comm=None):
    deck = deck_from_dict(data)
    return deck, bilayer.run(deck, comm or SerialComm(), NullLogger(), None)


def test_single_point_contract():
    deck, res = _run(base(points=51))
    names = res.names()
    for n in ("z", "mu_s", "mu_o", "J_s", "J_o", "torque"):
        assert n in names
    z = res["z"]
    assert z.shape == (102,) and z[0] == -5.0 and z[-1] == 5.0
    for n in ("mu_s", "mu_o", "J_s", "J_o"):
        assert res[n].shape == z.shape and np.iscomplexobj(res[n])
    assert res["torque"].shape == () and np.iscomplexobj(res["torque"])
    units = {e.name: e.units for e in res.entries}
    assert units["z"] == "nm" and units["mu_s"] == "V" and units["J_s"] == "A/m^2" and units["torque"] == "A/m^2"
    p = bilayer.params_of(deck["bilayer"])
    assert res["torque"] == dd.torque(p)
    # torque = spin current arriving at the interface from N
    assert abs(res["J_s"][50] - res["torque"]) < 1e-12 * abs(res["torque"])
    assert "conductance/G_mix" in names and "pumping/spin" in names and "analytic/tau_eq13" in names


def test_sweep_1d_and_grid():
    d = base()
    d["bilayer"]["sweep"] = {"parameter": "d_F", "values": {"start": 1.0, "stop": 10.0, "num": 7}}
    deck, res = _run(d)
    x = res["sweep/d_F"]
    assert np.allclose(x, np.linspace(1, 10, 7))
    t = res["sweep/torque"]
    assert t.shape == (7,) and np.iscomplexobj(t)
    p = bilayer.params_of(deck["bilayer"])
    for i in (0, 3, 6):
        assert abs(t[i] - dd.torque(dict(p, d_F=x[i]))) <= 1e-13 * abs(t[i])
    d["bilayer"]["sweep"] = {"parameter": "d_F", "values": [1.0, 2.0, 4.0, 8.0],
                             "parameter2": "G_s", "values2": {"start": 1e14, "stop": 1e16, "num": 3},
                             "scale2": "log"}
    deck, res = _run(d)
    t = res["sweep/torque"]
    assert t.shape == (4, 3)
    assert np.allclose(res["sweep/G_s"], [1e14, 1e15, 1e16])
    assert abs(t[2, 1] - dd.torque(dict(p, d_F=4.0, G_s=1e15))) <= 1e-13 * abs(t[2, 1])
    assert res["sweep/G_mix"].shape == (4, 3)
    assert abs(res["sweep/G_mix"][0, 0] - dd.mixing_conductances(dict(p, d_F=1.0, G_s=1e14))["G_mix"]) < 1e-3


@pytest.mark.mpi
def test_sweep_on_all_ranks_matches_serial():
    comm = world()
    d = base()
    d["bilayer"]["sweep"] = {"parameter": "lambda_o_F", "values": {"start": 0.5, "stop": 20.0, "num": 37},
                             "parameter2": "d_N", "values2": [1.0, 3.0, 9.0]}
    _, res = _run(d, comm)
    _, ref = _run(copy.deepcopy(d), SerialComm())
    np.testing.assert_allclose(res["sweep/torque"], ref["sweep/torque"], rtol=1e-13)
    np.testing.assert_allclose(res["sweep/G_os_m"], ref["sweep/G_os_m"], rtol=1e-12)


@pytest.mark.mpi
def test_fit_starts_on_all_ranks(tmp_path_factory):
    comm = world()
    path = os.path.join(REPO, "inputs", "data", "bilayer_fit_synthetic.csv")
    d = base(sigma_SHE=0.0, sigma_OHE=1e5, P_so=0.5, P_os=0.3, lambda_o_F=4.0)
    d["bilayer"]["fit"] = {"data": path, "parameters": ["lambda_o_F", "P_os"], "lower": [0.5, 0.0],
                           "upper": [50.0, 1.0], "starts": 5}
    _, res = _run(d, comm)
    _, ref = _run(copy.deepcopy(d), SerialComm())
    np.testing.assert_allclose(res["fit/values"], ref["fit/values"], rtol=1e-8)
    assert res["fit/start_chi2"].shape == (5,)


# --------------------------------------------------------------------------
# results file, summary, plots, launcher

def test_write_summary_plot(tmp_path):
    import h5py
    from hpcorb.io.results import write_results
    d = base()
    d["bilayer"]["sweep"] = {"parameter": "G_s", "values": {"start": 1e14, "stop": 1e16, "num": 9},
                             "scale": "log"}
    csv = tmp_path / "d.csv"
    csv.write_text(GOOD_CSV)
    d["bilayer"]["fit"] = {"data": str(csv), "parameters": ["sigma_OHE"]}
    deck, res = _run(d)
    out = str(tmp_path / "r.h5")
    write_results(out, res, SerialComm(), NullLogger(), deck_text="")
    with h5py.File(out, "r") as h5:
        g = h5["bilayer"]
        assert g["z"].attrs["units"] == "nm" and g["sweep/torque"].attrs["units"] == "A/m^2"
        assert g["sweep/torque"].dtype.kind == "c" and g["sweep/G_s"].shape == (9,)
        text = bilayer.summary(h5)
        assert "torque" in text and "sweep over G_s" in text and "sigma_OHE" in text
        files = bilayer.plot(h5, str(tmp_path / "r"))
    assert len(files) == 4 and all(os.path.getsize(f) > 1000 for f in files)


def test_launcher_run_and_bad_deck(tmp_path, cli):
    deck = tmp_path / "b.toml"
    deck.write_text('[calculation]\ntype = "bilayer"\n[bilayer]\nsigma_OHE = 1e5\nP_os = 0.5\n'
                    '[bilayer.sweep]\nparameter = "d_F"\nvalues = [1.0, 2.0, 3.0]\n'
                    '[output]\nfile = "b.h5"\nplots = false\n')
    r = cli([str(deck)])
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(tmp_path / "b.h5")
    r = cli(["show", str(tmp_path / "b.h5")])
    assert r.returncode == 0 and "sweep over d_F" in r.stdout, r.stdout + r.stderr
    deck.write_text('[calculation]\ntype = "bilayer"\n[bilayer]\nlambda_J = 0.0\n')
    r = cli([str(deck)])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "bilayer.lambda_J = 0.0" in lines[0], r.stderr


def test_mixing_boundary_and_onsager_coefficients():
    deck, res = _run(base(boundary="mixing", G_mix_r=8e14, G_mix_i=-1e14, points=11))
    p = bilayer.params_of(deck["bilayer"])
    assert res["torque"] == dd.torque(p, "mixing", 8e14 - 1e14j)
    assert np.all(res["mu_s"][11:] == 0) and np.all(res["J_s"][11:] == 0)   # spin not resolved in F
    assert "conductance/G_mix" not in res.names()
    deck, res = _run(base(M_s=1.4e6, d_F=2.0))
    mu_B, e, hbar = 9.2740100783e-24, 1.602176634e-19, 1.054571817e-34
    G = res["conductance/G_mix"]
    assert abs(res["pumping/L_sm"] - mu_B * G / (e ** 2 * 2e-9 * 1.4e6)) < 1e-12 * abs(res["pumping/L_sm"])
    assert abs(res["pumping/spin"] - hbar / e * G) < 1e-9 * abs(res["pumping/spin"])


def test_sweep_resumes_from_checkpoint(tmp_path):
    """A sweep whose chunks are all in the checkpoint is not recomputed, and gives the same numbers."""
    from hpcorb.parallel.checkpoint import Checkpoint
    d = base()
    d["bilayer"]["sweep"] = {"parameter": "d_N", "values": {"start": 1.0, "stop": 9.0, "num": 40}}
    deck = deck_from_dict(d)
    ck = Checkpoint(str(tmp_path / "c.ckpt"), deck.physics_hash())
    r1 = bilayer.run(deck, SerialComm(), NullLogger(), ck)
    assert ck.exists()
    calls = []
    orig = dd.torque
    try:
        dd.torque = lambda *a, **k: calls.append(1) or orig(*a, **k)
        r2 = bilayer.run(deck, SerialComm(), NullLogger(), ck)
    finally:
        dd.torque = orig
    assert calls == []                        # nothing recomputed
    np.testing.assert_array_equal(r1["sweep/torque"], r2["sweep/torque"])
