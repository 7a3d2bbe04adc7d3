"""NRL reader and formulas (native files, old/new style, pt_par quirk)."""
import os

import numpy as np
import pytest

from hpcorb.errors import InputError
from hpcorb.models.materials import DATA, eigenvalues, material_model
from hpcorb.models.nrl import read_nrl


def test_old_style_w_values_by_label():
    p = read_nrl(os.path.join(DATA, "w_par"))
    assert p.style == "old" and (p.R0, p.Rc, p.ell) == (14.0, 16.5, 0.5)
    assert p.lam == pytest.approx(1.32674311025)
    assert p.onsite["s"] == pytest.approx([4.33397404963e-01, 1.42839878531, 4.00731590931e2, 0.0])
    assert p.hop[0] == pytest.approx([4.59796726097, -1.06278503707, 0.0, 7.81632018050e-01])   # ss sigma
    assert p.ovl[9] == pytest.approx([-1.38362153653e1, 6.70559734660, 0.0, 1.19251069086])     # dd delta
    # formulas at one distance, written out here
    R = 5.5
    F = 1 / (1 + np.exp((R - 14.0) / 0.5))
    H, S = p.bonds(np.array([R]))
    e, f, fb, g = p.hop[7]
    assert H[0, 7] == pytest.approx((e + f * R + fb * R * R) * np.exp(-g * g * R) * F)
    e, f, fb, g = p.ovl[0]
    assert S[0, 0] == pytest.approx((e + f * R + fb * R * R) * np.exp(-g * g * R) * F)
    assert p.cutoff(np.array([16.5, 17.0])).tolist() == [0.0, 0.0]


def test_new_style_overlap_has_unit_same_type_term():
    p = read_nrl(os.path.join(DATA, "nb_par_125"))
    assert p.style == "new" and p.lam < 0 and p.Rc == 12.5
    R = 6.0
    F = 1 / (1 + np.exp((R - 10.0) / 0.5))
    _, S = p.bonds(np.array([R]))
    for k, delta in ((0, 1.0), (1, 0.0), (3, 1.0), (9, 1.0), (6, 0.0)):
        e, f, fb, g = p.ovl[k]
        assert S[0, k] == pytest.approx((delta + e * R + f * R ** 2 + fb * R ** 3) * np.exp(-g * g * R) * F)


def test_pt_par_quirk_read_by_label():
    p = read_nrl(os.path.join(DATA, "pt_par"))
    assert len(p.powers) == 5 and p.powers[1] == pytest.approx(1 / 3)
    assert p.onsite["t2g"] == p.onsite["eg"]
    assert p.onsite["t2g"][0] == pytest.approx(4.98287869238e-02)       # a_d
    assert p.onsite["s"][3] == pytest.approx(-2.04104996463e4)          # b3_s
    rho = 0.07
    h = p.onsite_energies(rho)
    c = p.onsite["p"]
    assert h["p"] == pytest.approx(c[0] + c[1] * rho ** (1 / 3) + c[2] * rho ** (2 / 3)
                                   + c[3] * rho ** (4 / 3) + c[4] * rho ** 2)
    # a sensible Pt: the fcc d bands lie below and at E_F (five d bands fill ~10 electrons)
    m = material_model("Pt", "nrl")
    e = eigenvalues(m, np.zeros((1, 3)))[0]
    assert np.sum(np.diff(e[:6]) > -1) == 5


def test_native_file_as_material(tmp_path):
    from hpcorb.config import MODEL, validate_table
    from hpcorb.models.build import build_model
    from hpcorb.errors import DeckError
    path = os.path.join(DATA, "mo_par")
    m = build_model(validate_table(MODEL, {"material": path, "parametrization": "nrl",
                                           "lattice_constant": 3.147, "params": {"structure": "bcc"}},
                                   "model", "."))
    assert m.norb == 9 and m.electrons == 6
    with pytest.raises(DeckError, match="structure"):
        build_model(validate_table(MODEL, {"material": path, "parametrization": "nrl",
                                           "lattice_constant": 3.147}, "model", "."))


def test_malformed_files(tmp_path):
    bad = tmp_path / "x_par"
    bad.write_text("XX00000\nname\n1\n14 16.5 0.5\n9\n1\n1 0 1\n1.0 0 1 lambda\n")
    with pytest.raises(InputError, match="type code"):
        read_nrl(str(bad))
    src = open(os.path.join(DATA, "w_par")).read().splitlines()
    src[40] = "   nonsense"
    bad.write_text("\n".join(src))
    with pytest.raises(InputError, match=":41:"):
        read_nrl(str(bad))
