"""No silent geometry: a Wannier90 hr_file without lattice (or a multi-site one
without centres) is refused where velocities, areas or volumes enter (exit 2,
one line naming the key, nothing written); DOS, which needs neither, still runs."""
import os

import pytest

from hpcorb.models.export import write_model
from hpcorb.models.materials import material_model
from helpers import write_deck

SENTINEL = b"previous results - must survive\n"


@pytest.fixture
def pt_files(tmp_path):
    return write_model(material_model("Pt", "sk"), str(tmp_path / "pt"))


def _tables(calc, model, out="out.h5"):
    t = {"calculation": {"type": calc}, "model": {**model, "electrons": 10.0},
         "kmesh": {"size": [2, 2, 2]}, "output": {"file": out, "overwrite": True, "plots": False}}
    if calc == "slab_kubo":
        t["slab_kubo"] = {"mode": "bulk"}
    return t


@pytest.mark.parametrize("calc, drop, key", [
    ("diffusion", "lattice", "model.lattice"),          # issue 11: ran in a 1 Angstrom cube
    ("slab_kubo", "lattice", "model.lattice"),
    ("slab_kubo", "centres_file", "model.centres_file"),
])
def test_missing_geometry_is_refused(tmp_path, cli, pt_files, calc, drop, key):
    model = {"hr_file": os.path.basename(pt_files["hr_file"]),
             "centres_file": os.path.basename(pt_files["centres_file"]),
             "lattice": [[0, 1.96, 1.96], [1.96, 0, 1.96], [1.96, 1.96, 0]],
             "orbitals": ["0:s", "0:px", "0:py", "0:pz", "0:dxy", "0:dyz", "0:dzx", "0:dx2-y2", "0:dz2"]}
    model.pop(drop)
    if drop == "centres_file":       # two sites named, no positions
        model["orbitals"] = ["0:s", "1:px", "1:py", "1:pz", "0:dxy", "0:dyz", "0:dzx", "0:dx2-y2", "0:dz2"]
    deck = write_deck(tmp_path / "d.toml", _tables(calc, model))
    out = tmp_path / "out.h5"
    out.write_bytes(SENTINEL)
    before = set(os.listdir(tmp_path))
    for args in (["check", deck], [deck]):
        r = cli(args)
        assert r.returncode == 2, (r.returncode, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and key in lines[0] and "Traceback" not in r.stderr, lines
    assert out.read_bytes() == SENTINEL
    assert set(os.listdir(tmp_path)) == before


def test_dos_needs_no_lattice(tmp_path, cli, pt_files):
    model = {"hr_file": os.path.basename(pt_files["hr_file"])}
    t = _tables("dos", model)
    t["dos"] = {"broadening": 0.1}
    r = cli([write_deck(tmp_path / "d.toml", t)])
    assert r.returncode == 0, r.stderr


def test_output_may_not_overwrite_a_seedname_file(tmp_path, cli):
    """The files of [model] wannier90 = seedname are inputs: an output on one is refused."""
    from hpcorb.io.wannier90 import export_model
    paths = export_model(material_model("Pt", "sk", spin=True), str(tmp_path / "pt"))
    before = open(paths["hr_file"], "rb").read()
    t = {"calculation": {"type": "dos"}, "model": {"wannier90": "pt", "electrons": 10.0},
         "kmesh": {"size": [2, 2, 2]}, "dos": {"broadening": 0.1},
         "output": {"file": "pt_hr.dat", "overwrite": True, "plots": False}}
    r = cli([write_deck(tmp_path / "d.toml", t)])
    assert r.returncode == 2 and "output.file" in r.stderr and "is the input file" in r.stderr, r.stderr
    assert open(paths["hr_file"], "rb").read() == before
