"""Hostile decks over all seven calculations (issue 11): outputs that are or
resolve to inputs, sizes nobody can afford, numeric extremes.  Each case:
exit code 2, exactly one stderr line ``hpcorb: error: ...`` naming the key
(or file), no traceback, every existing file byte-identical, nothing new.
"""
import copy
import os
import shutil

import pytest

from helpers import REPO, SP_MODEL, write_deck

FIT_CSV = os.path.join(REPO, "inputs", "data", "bilayer_fit_synthetic.csv")

BASE = {
    "dos": {"calculation": {"type": "dos"},
            "model": {"hr_file": "sp_hr.dat", "electrons": 3.0},
            "kmesh": {"size": [4, 4, 4]}, "dos": {"broadening": 0.1}},
    "bands": {"calculation": {"type": "bands"},
              "model": {"builtin": "cubic", "electrons": 1.0}, "kmesh": {"size": [4, 4, 4]}},
    "diffusion": {"calculation": {"type": "diffusion"},
                  "model": {"builtin": "bcc_p", "electrons": 2.0}, "kmesh": {"size": [4, 4, 4]}},
    "slab_kubo": {"calculation": {"type": "slab_kubo"},
                  "model": {"material": "W", "surface": "110", "layers": 3, "spin": True},
                  "kmesh": {"size": [4, 4]}, "slab_kubo": {"surface_layers": 1}},
    "bilayer": {"calculation": {"type": "bilayer"}, "bilayer": {"points": 11}},
    "trilayer": {"calculation": {"type": "trilayer"}, "trilayer": {"nx": 6, "ny": 4}},
    "interface": {"calculation": {"type": "interface"}, "interface": {"nz": 11}},
}


def setk(dotted, value):
    def f(t, folder):
        *tables, key = dotted.split(".")
        d = t
        for name in tables:
            d = d.setdefault(name, {})
        d[key] = value(folder) if callable(value) else value
    return f


def symlink_to(target, name="link.h5"):
    def f(t, folder):
        os.symlink(os.path.join(folder, target), os.path.join(folder, name))
        t.setdefault("output", {})["file"] = name
    return f


def hardlink_to(target, name="hard.h5"):
    def f(t, folder):
        os.link(os.path.join(folder, target), os.path.join(folder, name))
        t.setdefault("output", {})["file"] = name
    return f


def existing(name, content, then):
    def f(t, folder):
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(content)
        then(t, folder)
    return f


def fake_checkpoint(name):
    def f(t, folder):
        import h5py
        with h5py.File(os.path.join(folder, name), "w") as h5:
            h5.attrs["hpcorb_checkpoint"] = 2
            h5.attrs["physics_hash"] = "another run"
        t.setdefault("output", {})["file"] = name
    return f


def both(*fs):
    def f(t, folder):
        for g in fs:
            g(t, folder)
    return f


CASES = {
    # ---- outputs that are (or resolve to) inputs: the class of issue 11's data loss
    "dos: output is the deck": ("dos", setk("output.file", "deck.toml"), "output.file"),
    "dos: output is the hr model": ("dos", setk("output.file", "sp_hr.dat"), "output.file"),
    "dos: output via .. is the deck": ("dos", setk("output.file", lambda d: f"../{os.path.basename(d)}/deck.toml"),
                                       "output.file"),
    "dos: output symlink to the deck": ("dos", symlink_to("deck.toml"), "output.file"),
    "dos: output hard link of the model": ("dos", hardlink_to("sp_hr.dat"), "output.file"),
    "dos: checkpoint is the deck": ("dos", setk("output.checkpoint_file", "deck.toml"), "output.checkpoint_file"),
    "dos: checkpoint is the model": ("dos", setk("output.checkpoint_file", "sp_hr.dat"), "output.checkpoint_file"),
    "dos: checkpoint is the results file": ("dos", setk("output.checkpoint_file", "out.h5"), "output.checkpoint_file"),
    "interface: output symlink to the deck": ("interface", symlink_to("deck.toml"), "output.file"),
    "dos: checkpoint is the log": ("dos", setk("output.checkpoint_file", "out.log"), "output.checkpoint_file"),
    "dos: output is another run's checkpoint": ("dos", fake_checkpoint("other.h5.ckpt"), "output.file"),
    "dos: overwrite of a non-results file": ("dos", existing("notes.h5", b"my notes\n", setk("output.file", "notes.h5")),
                                             "output.file"),
    "bands: output is the deck": ("bands", setk("output.file", "deck.toml"), "output.file"),
    "bilayer: output is the fit data": ("bilayer", both(
        setk("bilayer.fit.data", "fit.csv"), setk("bilayer.fit.parameters", ["lambda_o_F"]),
        setk("output.file", "fit.csv")), "output.file"),
    "trilayer: checkpoint symlink to the deck": ("trilayer", both(
        lambda t, d: os.symlink(os.path.join(d, "deck.toml"), os.path.join(d, "ck.lnk")),
        setk("output.checkpoint_file", "ck.lnk")), "output.checkpoint_file"),
    "interface: output is the deck": ("interface", setk("output.file", "deck.toml"), "output.file"),
    "slab_kubo: output is the deck": ("slab_kubo", setk("output.file", "deck.toml"), "output.file"),
    "diffusion: output is the deck": ("diffusion", setk("output.file", "deck.toml"), "output.file"),
    # ---- sizes nobody can afford: refused before any model is built
    "dos: 1e5^3 k-mesh": ("dos", setk("kmesh.size", [100000, 100000, 100000]), "kmesh.size"),
    "dos: max_memory_gb below the estimate": ("dos", both(setk("kmesh.size", [400, 400, 400]),
                                                          setk("parallel.max_memory_gb", 0.05)), "kmesh.size"),
    "bands: 1e9 path points": ("bands", setk("bands.npoints", 1_000_000_000), "bands.npoints"),
    "diffusion: 1e9 energies": ("diffusion", setk("diffusion.energies", {"start": 0, "stop": 1, "num": 10 ** 9}),
                                "diffusion.energies.num"),
    "diffusion: 1e6 energies": ("diffusion", setk("diffusion.energies", {"start": -1, "stop": 1, "num": 10 ** 6}),
                                "diffusion.energies"),
    "slab_kubo: 1e6 layers": ("slab_kubo", setk("model.layers", 1_000_000), "model.layers"),
    "slab_kubo: 9000 layers": ("slab_kubo", setk("model.layers", 9000), "model.layers"),
    "bilayer: 1e9 sweep points": ("bilayer", setk("bilayer.sweep", {"parameter": "d_F", "values":
                                                                    {"start": 1, "stop": 2, "num": 10 ** 9}}),
                                  "bilayer.sweep.values.num"),
    "trilayer: nx = 1e6": ("trilayer", setk("trilayer.nx", 1_000_000), "trilayer.nx"),
    "trilayer: sparse beyond max_memory_gb": ("trilayer", both(
        setk("trilayer.solver", "sparse"), setk("trilayer.nx", 400), setk("trilayer.ny", 400),
        setk("parallel.max_memory_gb", 0.5)), "trilayer"),
    "interface: 1e9 sweep points": ("interface", setk("interface.sweep", {"parameter": "U", "values":
                                                                          {"start": 0, "stop": 0.5, "num": 10 ** 9}}),
                                    "interface.sweep.values.num"),
    "interface: 1e8 z points": ("interface", setk("interface.nz", 100_000_000), "interface.nz"),
    # ---- runs that fit in memory but would take longer than parallel.max_hours
    "slab_kubo: 1e5^2 film mesh (a 1,000-hour run)": ("slab_kubo", setk("kmesh.size", [100000, 100000]),
                                                      "kmesh.size"),
    "dos: 400^3 mesh beyond max_hours = 0.01": ("dos", both(setk("kmesh.size", [400, 400, 400]),
                                                            setk("parallel.max_hours", 0.01)), "kmesh.size"),
    "bands: a 200^3 mesh with max_hours = 1e-4": ("bands", both(setk("kmesh.size", [200, 200, 200]),
                                                                setk("parallel.max_hours", 1e-4)), "kmesh.size"),
    "trilayer: dense 10800 states beyond max_hours": ("trilayer", both(
        setk("trilayer.solver", "dense"), setk("trilayer.nx", 60), setk("trilayer.ny", 60),
        setk("parallel.max_hours", 0.5)), "trilayer.nx"),
    "interface: max_hours = 0": ("interface", setk("parallel.max_hours", 0.0), "parallel.max_hours"),
    # ---- numeric extremes that broke the numerics
    "bilayer: lambda_J = 1e-300": ("bilayer", setk("bilayer.lambda_J", 1e-300), "bilayer.lambda_J"),
    "bilayer: lambda_sf = 1e300": ("bilayer", setk("bilayer.lambda_sf", 1e300), "bilayer.lambda_sf"),
    "bilayer: d_N = 1e-300": ("bilayer", setk("bilayer.d_N", 1e-300), "bilayer.d_N"),
    "slab_kubo: energy_resolution = 1e-300": ("slab_kubo", setk("slab_kubo.energy_resolution", 1e-300),
                                              "slab_kubo.energy_resolution"),
    "slab_kubo: surface_layers beyond the film": ("slab_kubo", setk("slab_kubo.surface_layers", 10),
                                                  "slab_kubo.surface_layers"),
    "slab_kubo: zero lattice constant": ("slab_kubo", setk("model.lattice_constant", 0.0), "model.lattice_constant"),
    "dos: zero lattice constant (builtin)": ("dos", both(setk("model.hr_file", None),
                                                         setk("model.builtin", "cubic"),
                                                         setk("model.params", {"a": 0.0})), "model.params.a"),
    "bands: zero lattice constant (builtin)": ("bands", setk("model.params", {"a": 0.0}), "model.params.a"),
    "interface: U = -1e300": ("interface", setk("interface.U", -1e300), "interface.U"),
    "interface: sweep U to -1e300": ("interface", setk("interface.sweep", {"parameter": "U", "values": [0.1, -1e300]}),
                                     "interface.sweep.values"),
    "dos: broadening = 1e300": ("dos", setk("dos.broadening", 1e300), "dos.broadening"),
    "bands: broadening = 1e-300": ("bands", setk("bands.broadening", 1e-300), "bands.broadening"),
    "diffusion: gamma = 1e300": ("diffusion", setk("diffusion.gamma", 1e300), "diffusion.gamma"),
    "diffusion: gamma = 1e-300": ("diffusion", setk("diffusion.gamma", 1e-300), "diffusion.gamma"),
    "slab_kubo: eta = 1e-300": ("slab_kubo", setk("slab_kubo.eta", 1e-300), "slab_kubo.eta"),
    "interface: r = 1e300": ("interface", setk("interface.r", 1e300), "interface.r"),
    "interface: alpha = 1e300": ("interface", setk("interface.alpha", 1e300), "interface.alpha"),
    "dos: grid list of 1e7+1 numbers is refused by num": ("dos", setk("dos.energies", {"start": 0, "stop": 1,
                                                                                       "num": 10 ** 7 + 1}),
                                                          "dos.energies.num"),
    "diffusion: k-mesh 1e6 per direction": ("diffusion", setk("kmesh.size", [2_000_000, 4, 4]), "kmesh.size"),
}

SENTINEL = b"previous results - must survive\n"


def snapshot(folder):
    out = {}
    for root, dirs, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, folder)] = open(p, "rb").read() if not os.path.islink(p) else os.readlink(p)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_deck(name, tmp_path, cli):
    calc, mutate, key = CASES[name]
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(SP_MODEL, folder / "sp_hr.dat")
    shutil.copy(FIT_CSV, folder / "fit.csv")
    (folder / "out.h5").write_bytes(SENTINEL)
    tables = copy.deepcopy(BASE[calc])
    tables["output"] = {"file": "out.h5", "overwrite": True, "plots": False}
    write_deck(folder / "deck.toml", tables)          # mutations may need the deck on disk
    mutate(tables, str(folder))
    write_deck(folder / "deck.toml", tables)
    before = snapshot(folder)
    r = cli([str(folder / "deck.toml")], timeout=120)
    assert r.returncode == 2, (name, r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("hpcorb: error:") and key in lines[0], (key, lines[0])
    assert snapshot(folder) == before                 # byte-identical, nothing new


def test_case_count_and_coverage():
    calcs = {c for c, _, _ in CASES.values()}
    assert calcs == set(BASE) and len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(n for n in CASES if ("max_hours" in n or "1,000-hour" in n)
                                         and CASES[n][2] != "parallel.max_hours"))
def test_time_refusals_name_the_estimate(name, tmp_path, cli):
    """The time refusals are the time check (not the memory one): the line gives the
    expected core-hours, the time class and the limit."""
    calc, mutate, key = CASES[name]
    folder = tmp_path / "d"
    folder.mkdir()
    tables = copy.deepcopy(BASE[calc])
    shutil.copy(SP_MODEL, folder / "sp_hr.dat")
    tables["output"] = {"file": "out.h5", "plots": False}
    mutate(tables, str(folder))
    write_deck(folder / "deck.toml", tables)
    r = cli([str(folder / "deck.toml")], timeout=120)
    assert r.returncode == 2 and "core-hours" in r.stderr and "parallel.max_hours" in r.stderr, r.stderr


def test_check_prints_memory_and_time_estimate(tmp_path, cli):
    """./run check DECK -n RANKS: the estimate a physicist sizes a job with (memory per
    rank, core-hours, time class on those ranks); the 400^2 film on 256 ranks is minutes."""
    tables = copy.deepcopy(BASE["slab_kubo"])
    tables["model"]["layers"] = 33
    tables["kmesh"]["size"] = [400, 400]
    tables["output"] = {"file": "out.h5"}
    write_deck(tmp_path / "deck.toml", tables)
    r = cli(["check", str(tmp_path / "deck.toml"), "-n", "256"], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "MB per rank" in r.stdout and "core-hours" in r.stdout and "minutes on 256 ranks" in r.stdout
    assert not os.path.exists(tmp_path / "out.h5")
