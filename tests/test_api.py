"""The Python API (hpcorb.model / hpcorb.<type> / Result / hpcorb.load) against the deck path.

* every calculation: ``./run DECK`` (the launcher, in process) and the API with the
  same inputs give bit-identical arrays and the same attributes;
* Result.save + hpcorb.load round-trips arrays, units, descriptions and attributes;
* bad keyword values raise a one-line DeckError (a ValueError) naming the key,
  the same message as the deck path;
* ``import hpcorb; hpcorb.slab_kubo(...)`` works where mpi4py, petsc4py and
  slepc4py cannot be imported;
* (mpi) comm=MPI.COMM_WORLD on 2 and 3 ranks equals the serial result to 1e-12.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hpcorb
from hpcorb import launch
from helpers import write_deck

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (model keys or None, calculation keys, kmesh table or None): small, seconds each
CASES = {
    "dos": ({"builtin": "cubic", "params": {"t": 1.0}, "electrons": 0.8},
            {"broadening": 0.05, "bins": 2000}, {"size": [6, 6, 6], "shift": [0.5, 0.5, 0.5]}),
    "bands": ({"builtin": "cubic", "params": {"t": 1.0}, "electrons": 0.8},
              {"npoints": 30, "bins": 2000}, {"size": [6, 6, 6]}),
    "diffusion": ({"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0},
                  {"energies": [0.0, 0.2], "soc_scales": [0.0, 1.0]}, {"size": [3, 3, 3]}),
    "slab_kubo": ({"material": "W", "surface": "110", "layers": 3, "spin": True},
                  {"energies": [-0.1, 0.0], "surface_layers": 1}, {"size": [3, 3]}),
    "bilayer": (None, {"sigma_SHE": 1e5, "sigma_OHE": 3e5, "sweep": {"parameter": "d_N", "values": [1.0, 2.0, 4.0]}},
                None),
    "interface": (None, {"z_max": 5.0, "nz": 11, "tolerance": 1e-6, "limits_tolerance": 1e-8,
                         "max_points": 256, "incident": ["x", "z"]}, None),
    "trilayer": (None, {"nx": 6, "ny": 4, "gamma": 0.5, "mu": -0.3, "temperature": 0.05,
                        "m_left": [1.0, 0.0, 0.0], "m_right": [0.0, 1.0, 0.0], "solver": "dense",
                        "rkky": {"nx": [5, 6]}}, None),
}


TIMINGS = {"quadrature/seconds"}


def api_run(name, **extra):
    mkeys, keys, kmesh = CASES[name]
    fn = getattr(hpcorb, name)
    if mkeys is not None:
        return fn(hpcorb.model(**mkeys), kmesh=kmesh, **keys, **extra)
    return fn(**keys, **extra)


def deck_run(name, folder):
    mkeys, keys, kmesh = CASES[name]
    tables = {"calculation": {"type": name}}
    if mkeys is not None:
        tables["model"] = mkeys
    if kmesh is not None:
        tables["kmesh"] = kmesh
    tables[name] = keys
    tables["output"] = {"file": "deck.h5", "plots": False}
    path = write_deck(os.path.join(folder, "deck.toml"), tables)
    assert launch.main([path]) == 0
    return hpcorb.load(os.path.join(folder, "deck.h5"))


def same_attr(a, b):
    if a is None or b is None:                       # None is written as "none"
        return {a, b} <= {None, "none"}
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("name", list(CASES))
def test_api_equals_deck_bitwise(name, tmp_path):
    r = api_run(name)
    d = deck_run(name, str(tmp_path))
    assert sorted(r.names()) == sorted(d.names())
    for path in r.names():
        a, b = r[path], d[path]
        if path in TIMINGS:                              # wall-clock seconds, not physics
            continue
        assert a.shape == b.shape and a.dtype.kind == b.dtype.kind, path
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), path      # bit-identical, not close
        else:
            assert np.array_equal(a, b), path
        assert r.units(path) == d.units(path) and r.description(path) == d.description(path)
    for k, v in r.attrs.items():
        assert same_attr(v, d.attrs[k]), k
    # the report works on both (the text may differ only in timings)
    assert r.summary().replace(" ", "")[:200] == d.summary().replace(" ", "")[:200]


@pytest.mark.parametrize("name", ["slab_kubo", "bilayer", "trilayer"])
def test_save_load_round_trip(name, tmp_path):
    r = api_run(name)
    path = r.save(str(tmp_path / "r.h5"))
    back = hpcorb.load(path)
    assert back.calculation == name and sorted(back.names()) == sorted(r.names())
    for p in r.names():
        assert np.array_equal(back[p], r[p], equal_nan=True), p
        assert back.units(p) == r.units(p) and back.description(p) == r.description(p)
        for k, v in r.dataset_attrs(p).items():
            assert same_attr(v, back.dataset_attrs(p)[k]), (p, k)
    for k, v in r.attrs.items():
        assert same_attr(v, back.attrs[k]), k
    for g, attrs in r.group_attrs.items():
        for k, v in attrs.items():
            assert same_attr(v, back[g].attrs[k]), (g, k)
    # provenance: the equivalent deck, version, times
    assert back.provenance["hpcorb_version"] == hpcorb.__version__
    assert f'type = "{name}"' in back.provenance["deck"] and back.provenance["started"]
    # saving what was loaded gives the same file contents again
    again = hpcorb.load(back.save(str(tmp_path / "again.h5")))
    for p in r.names():
        assert np.array_equal(again[p], r[p], equal_nan=True)
    assert back.summary() == r.summary()
    files = back.plot(str(tmp_path / "fig"))
    assert files and all(os.path.getsize(f) > 1000 for f in files)


def test_result_paths_and_groups():
    r = api_run("slab_kubo")
    a = r["direct/orbital/proper"]
    assert a.shape == (2, 3, 3, 2) and r.units("direct/orbital/proper") == "(hbar/e)(Ohm cm)^-1"
    assert np.array_equal(r["direct"]["orbital/proper"], a)         # group view
    assert "direct/orbital" in r and "nothing" not in r
    with pytest.raises(KeyError, match="no dataset"):
        r["direct/orbital/bogus"]


def test_model_and_keyword_errors_are_one_line_naming_the_key(tmp_path, capsys):
    with pytest.raises(ValueError) as e:
        hpcorb.model(material="W", surface="100", layers=3)
    msg = str(e.value)
    assert msg.startswith("model.surface = '100': ") and "\n" not in msg
    assert isinstance(e.value, hpcorb.DeckError)
    # the same message as the deck path (exit code 2, one line on stderr)
    path = write_deck(tmp_path / "bad.toml", {
        "calculation": {"type": "dos"}, "model": {"material": "W", "surface": "100", "layers": 3},
        "kmesh": {"size": [4, 4]}, "output": {"file": "x.h5"}})
    capsys.readouterr()
    assert launch.main([path]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"hpcorb: error: {msg}"
    assert not (tmp_path / "x.h5").exists()

    cubic = hpcorb.model(builtin="cubic", electrons=0.8)
    bad = [(lambda: hpcorb.dos(cubic, kmesh=[4, 4, 4], broadening=-1.0), "dos.broadening = -1.0: "),
           (lambda: hpcorb.dos(cubic, kmesh=[4, 4, 4], broadning=0.1), "dos.broadning = 0.1: unknown key "
            "(did you mean 'broadening'?)"),
           (lambda: hpcorb.dos(cubic, kmesh=[0, 4, 4]), "kmesh.size = [0, 4, 4]: "),
           (lambda: hpcorb.dos(cubic), "kmesh.size = '(missing)': "),
           (lambda: hpcorb.slab_kubo(cubic, kmesh=[4, 4, 4], mode="bulk", energies=[0.0, 0.0]),
            "slab_kubo.energies = [0.0, 0.0]: energies must be distinct"),
           (lambda: hpcorb.bilayer(d_N=0.0), "bilayer.d_N = 0.0: "),
           (lambda: hpcorb.interface(U=1.5), "interface.U = 1.5: "),
           (lambda: hpcorb.trilayer(nx=4), "trilayer.ny = '(missing)': ")]
    for call, start in bad:
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value).startswith(start), str(e.value)
        assert "\n" not in str(e.value)


def test_numpy_arguments_and_signature():
    """Arrays where the deck has lists; the signature lists the table's keys."""
    import inspect
    cubic = hpcorb.model(builtin="cubic", electrons=0.8)
    a = hpcorb.dos(cubic, kmesh=np.array([4, 4, 4]), energies=np.linspace(-3, 3, 7), bins=1000)
    b = hpcorb.dos(cubic, kmesh=[4, 4, 4], energies={"start": -3.0, "stop": 3.0, "num": 7}, bins=1000)
    assert np.array_equal(a["dos"], b["dos"])
    sig = inspect.signature(hpcorb.dos)
    assert list(sig.parameters)[:2] == ["model", "broadening"]
    assert {"kmesh", "comm", "checkpoint", "log"} <= set(sig.parameters)


def test_checkpoint_keyword_resumes_to_the_same_numbers(tmp_path):
    """checkpoint= a path: a finished run removes it; a stale one from other inputs is refused."""
    cubic = hpcorb.model(builtin="cubic", electrons=0.8)
    ck = str(tmp_path / "c.ckpt")
    a = hpcorb.dos(cubic, kmesh=[6, 6, 6], bins=1000, checkpoint=ck)
    assert not os.path.exists(ck)
    b = hpcorb.dos(cubic, kmesh=[6, 6, 6], bins=1000)
    assert np.array_equal(a["dos"], b["dos"])
    from hpcorb.parallel.checkpoint import Checkpoint
    from hpcorb.parallel.engine import Plan
    Checkpoint(ck, "another deck").save_stage("x", Plan(1, 1), "sum", np.ones(1, bool), {"a": np.zeros(1)})
    with pytest.raises(ValueError, match="different deck"):
        hpcorb.dos(cubic, kmesh=[6, 6, 6], bins=1000, checkpoint=ck)


BLOCKER = textwrap.dedent("""
    import sys

    class _Blocker:
        BLOCKED = ("mpi4py", "petsc4py", "slepc4py")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"{name} is blocked for this test")
            return None

    sys.meta_path.insert(0, _Blocker())
""")


def test_serial_api_without_mpi4py_petsc4py_slepc4py(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    script = textwrap.dedent("""
        import sys
        for m in ("mpi4py", "petsc4py", "slepc4py"):
            try:
                __import__(m)
            except ImportError:
                pass
            else:
                raise SystemExit(f"{m} was importable")
        import hpcorb
        w = hpcorb.model(material="W", spin=True)
        r = hpcorb.slab_kubo(w, mode="bulk", kmesh=[3, 3, 3], energies=[0.0])
        print(r["direct/orbital/proper"][0, 0, 1, 0], r.units("direct/orbital/proper"))
        t = hpcorb.trilayer(nx=5, ny=3, temperature=0.05, m_left=[1.0, 0, 0], solver="ky")
        print(t.attrs["solver"], "mpi-free:", not any(m.split(".")[0] in ("mpi4py", "petsc4py", "slepc4py")
                                                     for m in sys.modules))
    """)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_STEP_ID"):
        env.pop(k, None)
    p = subprocess.run([sys.executable, "-c", script], env=env, cwd=str(tmp_path), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "(hbar/e)(Ohm cm)^-1" in p.stdout and "ky mpi-free: True" in p.stdout


@pytest.mark.mpi
@pytest.mark.parametrize("name", ["dos", "slab_kubo", "diffusion", "bilayer", "trilayer", "interface"])
def test_api_with_mpi_comm_equals_serial(name):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    par = api_run(name, comm=comm)
    ser = api_run(name)                    # every rank: the serial result
    for path in ser.names():
        if path in TIMINGS:
            continue
        a, b = np.asarray(par[path]), np.asarray(ser[path])
        if path.startswith("quadrature/") and path.endswith("_error"):
            # achieved-accuracy estimates: differences of two quadrature levels, themselves
            # at round-off level (~1e-13), so compared absolutely
            assert np.abs(a - b).max() <= 1e-12, path
            continue
        if a.dtype.kind in "fc":
            scale = max(np.nanmax(np.abs(b)) if b.size else 0.0, 1e-300)
            assert np.nanmax(np.abs(a - b)) / scale <= 1e-12 if b.size else True, path
            assert np.array_equal(np.isnan(a), np.isnan(b)), path
        else:
            assert np.array_equal(a, b), path


@pytest.mark.parametrize("name", ["bilayer", "interface"])
def test_deck_parallel_options_reach_the_engine(name, tmp_path, monkeypatch):
    """[parallel] sync_interval and progress_interval and [output] checkpoint_interval
    reach every engine stage of the deck path (bilayer and interface used to drop sync_interval)."""
    import importlib
    mod = importlib.import_module(f"hpcorb.api.{name}")
    seen = []
    real = mod.run_chunks

    def spy(*a, **kw):
        seen.append({k: kw.get(k) for k in ("sync_seconds", "progress_interval", "checkpoint_interval")})
        return real(*a, **kw)
    monkeypatch.setattr(mod, "run_chunks", spy)
    mkeys, keys, kmesh = CASES[name]
    keys = dict(keys, sweep={"parameter": "d_N" if name == "bilayer" else "r", "values": [1.0, 2.0]})
    path = write_deck(tmp_path / "d.toml", {
        "calculation": {"type": name}, name: keys,
        "output": {"file": "o.h5", "plots": False, "checkpoint_interval": 7.0},
        "parallel": {"sync_interval": 0.25, "progress_interval": 3.0}})
    assert launch.main([path]) == 0
    assert seen and all(s == {"sync_seconds": 0.25, "progress_interval": 3.0, "checkpoint_interval": 7.0}
                        for s in seen), seen


@pytest.mark.mpi
def test_api_fit_reads_data_on_rank0_and_equals_serial():
    """A fit (its CSV read on rank 0 and broadcast) with comm= equals the serial fit."""
    from mpi4py import MPI
    from hpcorb.config import load_deck
    p = dict(load_deck(os.path.join(REPO, "inputs", "bilayer_fit_synthetic.toml"))["bilayer"])
    p["fit"] = dict(p["fit"], starts=3)
    par = hpcorb.bilayer(**p, comm=MPI.COMM_WORLD)
    ser = hpcorb.bilayer(**p)
    for path in ("fit/values", "fit/uncertainties", "fit/start_chi2", "torque"):
        a, b = par[path], ser[path]
        assert np.abs(a - b).max() <= 1e-12 * max(np.abs(b).max(), 1e-300), path
