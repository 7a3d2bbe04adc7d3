"""Material models: invariances, limits and the facts quoted with the parameter sets."""
import numpy as np
import pytest

from hpcorb.config import MODEL, validate_table
from hpcorb.errors import DeckError
from hpcorb.models import geometry, lowdin
from hpcorb.models.build import build_model
from hpcorb.models.materials import (RY, available, crystal_model, eigenvalues, fermi_from_eigenvalues,
                                     load_set, material_model, uniform_mesh)
from hpcorb.models.rotations import random_rotation


def model_dict(**kw):
    return validate_table(MODEL, kw, "model", ".")


def cart_to_frac(model, kc):
    return np.atleast_2d(kc) @ model.lattice[: model.periodic].T / (2 * np.pi)


# ---- rotation invariance ---------------------------------------------------

@pytest.mark.parametrize("par,el,spin", [("sk", "W", False), ("sk", "Pt", True), ("nrl", "W", True),
                                         ("nrl", "Ta", False)])
def test_rotation_invariance(par, el, spin):
    """Rotating the crystal (and the orbitals with it) leaves the eigenvalues unchanged."""
    rng = np.random.default_rng(7)
    pset = load_set(el, par)
    a = pset["lattice_constant"] * 0.529177210903
    cr = geometry.bulk(pset["structure"], a)
    m0 = crystal_model(cr, par, pset, spin=spin)
    Q = random_rotation(rng)
    crr = geometry.Crystal(lattice=cr.lattice @ Q.T, positions=cr.positions @ Q.T, periodic=3,
                           frame=Q @ cr.frame, structure=cr.structure, a=a)
    m1 = crystal_model(crr, par, pset, spin=spin)
    kc = rng.normal(size=(6, 3))
    e0 = eigenvalues(m0, cart_to_frac(m0, kc))
    e1 = eigenvalues(m1, cart_to_frac(m1, kc @ Q.T))
    assert np.abs(e0 - e1).max() < 1e-12


# ---- hermiticity, overlap, velocities -------------------------------------

@pytest.mark.parametrize("par", ["sk", "nrl"])
def test_hermitian_overlap_and_velocity(par):
    m = material_model("W", par, spin=True, surface="110", layers=3)
    rng = np.random.default_rng(1)
    k = rng.random((3, 2))
    H = m.hk(k)
    assert np.abs(H - np.conj(np.swapaxes(H, 1, 2))).max() < 1e-12
    assert m.check_hermitian() < 1e-14
    if par == "nrl":
        S = m.sk(k)
        assert np.abs(S - np.conj(np.swapaxes(S, 1, 2))).max() < 1e-12
        assert np.linalg.eigvalsh(S).min() > 0
    # dH/dk (orthonormal form, the velocity consumers use) vs central differences
    Hp, dH = lowdin.hk_dhk(m, k[:1])
    h = 1e-5
    for c in range(2):          # in-plane Cartesian directions
        dk = np.zeros(3)
        dk[c] = h
        kp = cart_to_frac(m, k[:1] @ m.reciprocal[:2] + dk)
        km = cart_to_frac(m, k[:1] @ m.reciprocal[:2] - dk)
        fd = (lowdin.hk(m, kp) - lowdin.hk(m, km)) / (2 * h)
        assert np.abs(fd - dH[:, c]).max() < 1e-7


def test_spin_ordering_and_soc():
    m = material_model("Pt", "sk", spin=True)
    assert m.norb == 18
    assert list(m.spins) == [0] * 9 + [1] * 9
    lam_d = load_set("Pt", "sk")["lambda_d"] * RY
    # at R = 0 the spin-flip block is the SOC alone: <dxy up|H|dzx dn> etc.; its norm
    r0 = int(np.flatnonzero(np.all(m.R == 0, axis=1))[0])
    off = m.H[r0, :9, 9:]
    from hpcorb.models.orbitals import soc_matrix, ORBITALS
    assert np.allclose(off, soc_matrix(ORBITALS, 0.0, lam_d)[:9, 9:])
    # soc_scale = 0 gives two copies of the spinless bands
    m0 = material_model("Pt", "sk", spin=True, soc_scale=0.0)
    ms = material_model("Pt", "sk")
    k = np.random.default_rng(2).random((3, 3))
    e0 = eigenvalues(m0, k)
    es = eigenvalues(ms, k)
    assert np.allclose(e0, np.sort(np.concatenate([es, es], axis=1), axis=1), atol=1e-12)


# ---- parameter-set facts ------------------------------------------------------

FERMI_SETS = ["W", "Nb", "Pt", "Cu", "Au", "Fe", "Co"]


@pytest.mark.parametrize("el", FERMI_SETS)
def test_fermi_energy_from_electron_count(el):
    """E_F from the s+p+d occupations on a 24^3 shifted mesh vs the value printed in the file."""
    m = material_model(el, "sk")
    e = eigenvalues(m, uniform_mesh(24, shift=0.5))
    ef = fermi_from_eigenvalues(e, m.electrons, spinful=False)
    assert abs(ef - m.meta["fermi_energy_reference"]) < 10e-3 * RY


@pytest.mark.parametrize("el,par,width", [("V", "nrl", 6.5), ("Ta", "nrl", 10.8), ("W", "nrl", 10.8),
                                          ("Nb", "nrl", 9.5), ("W", "sk", 10.8)])
def test_bcc_d_band_width(el, par, width):
    """d-band width H25' - H12 of data/README.md (independent evaluation), within 0.2 eV."""
    m = material_model(el, par)
    a = m.meta["lattice_constant"]
    eH = eigenvalues(m, cart_to_frac(m, np.array([0, 0, 2 * np.pi / a])))[0]
    # H12 (2-fold, lower) and H25' (3-fold, upper) among the d levels
    vals = np.round(eH, 6)
    u, c = np.unique(vals, return_counts=True)
    h12 = u[c == 2].min()
    h25 = u[(c == 3) & (u > h12)].min()
    assert abs((h25 - h12) - width) < 0.2


def test_pt_nrl_d_band_width_and_neighbours():
    m = material_model("Pt", "nrl")
    a = m.meta["lattice_constant"]
    eX = np.sort(eigenvalues(m, cart_to_frac(m, np.array([0, 0, 2 * np.pi / a])))[0])
    # fcc X5 - X1: top (2-fold X5) minus bottom d level (X1) of the six lowest levels
    assert abs((eX[4] - eX[0]) - 7.8) < 0.3
    assert m.meta["neighbours_per_atom_max"] == 176


@pytest.mark.parametrize("el,n", [("W", 168), ("V", 180), ("Cu", 86), ("Nb", 64)])
def test_nrl_neighbour_counts(el, n):
    assert material_model(el, "nrl").meta["neighbours_per_atom_max"] == n


def test_sk_shells():
    for el, counts in (("W", [8, 6, 12]), ("Pt", [12, 6])):
        s = load_set(el, "sk")
        _, c = geometry.shell_distances(s["structure"], 1.0, len(s["shells"]))
        assert list(c) == counts == [sh["neighbours"] for sh in s["shells"]]


def test_w_sk_vs_nrl_near_fermi_level():
    """Both W sets: bands within +-1 eV of E_F agree (index by index) to better than 1 eV
    on Gamma-H-N-Gamma-P-H (largest deviation found: 0.78 eV, the Gamma12 level near Gamma)."""
    ms, mn = material_model("W", "sk"), material_model("W", "nrl")
    mesh = uniform_mesh(16, shift=0.5)
    efs = fermi_from_eigenvalues(eigenvalues(ms, mesh), 6, False)
    efn = fermi_from_eigenvalues(eigenvalues(mn, mesh), 6, False)
    a = ms.meta["lattice_constant"]
    pts = np.array([[0, 0, 0], [0, 0, 1], [.5, .5, 0], [0, 0, 0], [.5, .5, .5], [0, 0, 1]]) * 2 * np.pi / a
    path = np.concatenate([np.linspace(p, q, 20) for p, q in zip(pts[:-1], pts[1:])])
    es = eigenvalues(ms, cart_to_frac(ms, path)) - efs
    en = eigenvalues(mn, cart_to_frac(mn, path)) - efn
    near = (np.abs(es) < 1.0) | (np.abs(en) < 1.0)
    assert near.sum() > 20
    assert np.abs(es - en)[near].max() < 1.0
    assert np.median(np.abs(es - en)[near]) < 0.35


@pytest.mark.parametrize("el,par,lo,hi", [("W", "sk", -1.0, 1.0), ("W", "nrl", -1.0, 1.0),
                                          ("Ta", "nrl", 0.5, 2.5), ("V", "nrl", 0.5, 2.5)])
def test_bcc_pseudogap_position(el, par, lo, hi):
    """data/README.md: the bcc pseudogap sits near 6 electrons (W has E_F at it; V, Ta below it)."""
    m = material_model(el, par)
    e = eigenvalues(m, uniform_mesh(16, shift=0.5))
    e = e - fermi_from_eigenvalues(e, m.electrons, False)
    x = np.linspace(-2.5, 2.5, 101)
    dos = np.exp(-((e.ravel()[None, :] - x[:, None]) / 0.2) ** 2).sum(axis=1)
    assert lo <= x[np.argmin(dos)] <= hi


# ---- films --------------------------------------------------------------------

@pytest.mark.parametrize("el,par,surf", [("W", "sk", "110"), ("W", "nrl", "001"), ("Pt", "sk", "111"),
                                         ("Pt", "nrl", "001")])
def test_closed_film_is_folded_bulk(el, par, surf):
    N = 3
    bulk = material_model(el, par, spin=True)
    fc = material_model(el, par, spin=True, surface=surf, layers=N, closed=True)
    F = geometry.FILMS[(bulk.meta["structure"], surf)][0]
    rng = np.random.default_rng(5)
    kf = rng.random((2, 3))
    ef = eigenvalues(fc, kf)
    B = fc.reciprocal
    for kc, e in zip(kf @ B, ef):
        ks = np.array([kc + m * B[2] for m in range(N)]) @ F       # model frame -> cubic
        eb = np.sort(eigenvalues(bulk, cart_to_frac(bulk, ks)).ravel())
        assert np.abs(eb - e).max() < 1e-10


def test_thick_film_approaches_bulk_and_geometry():
    m = material_model("W", "sk", surface="110", layers=5)
    assert m.periodic == 2 and m.norb == 45
    a = m.meta["lattice_constant"]
    z = np.unique(np.round(m.positions[:, 2], 8))
    assert np.allclose(np.diff(z), a / np.sqrt(2))
    # in-plane axes of paper 003: x || [-110] (length of a1 along y = a for [001])
    assert np.allclose(m.lattice[0], [0, a, 0])
    assert np.isclose(m.lattice[1][0], a / np.sqrt(2))
    p = material_model("Pt", "sk", surface="111", layers=3)
    ap = p.meta["lattice_constant"]
    assert np.isclose(np.linalg.norm(p.lattice[0]), ap / np.sqrt(2))
    assert np.isclose(p.lattice[0][1], 0.0)              # a1 || x || [-110]
    assert np.allclose(np.diff(np.unique(np.round(p.positions[:, 2], 8))), ap / np.sqrt(3))
    # an open film's bulk-like states: every film eigenvalue at Gamma lies inside the bulk band range
    bulk = material_model("W", "sk")
    eb = eigenvalues(bulk, uniform_mesh(12))
    ef = eigenvalues(m, np.zeros((1, 2)))
    assert ef.min() > eb.min() - 1.0 and ef.max() < eb.max() + 1.0


def test_film_from_deck_and_counts():
    m = build_model(model_dict(material="W", surface="110", layers=33, spin=True), periodic=2)
    assert m.norb == 594 and m.electrons == 33 * 6
    with pytest.raises(DeckError, match="kmesh.size"):
        build_model(model_dict(material="W", surface="110", layers=2), periodic=3)


# ---- bad decks --------------------------------------------------------------

@pytest.mark.parametrize("kw,key", [
    (dict(material="Unobtainium"), "model.material"),
    (dict(material="V", parametrization="sk"), "model.material"),
    (dict(material="W", surface="111", layers=3), "model.surface"),
    (dict(material="Pt", surface="110", layers=3), "model.surface"),
    (dict(material="W", surface="110"), "model.layers"),
    (dict(material="W", layers=4), "model.layers"),
    (dict(material="W", soc_scale=0.5), "model.soc_scale"),
    (dict(material="W", params={"xi_d": 0.3}), "model.params"),
    (dict(material="W", params={"foo": 1}), "model.params.foo"),
])
def test_bad_material_decks(kw, key):
    with pytest.raises(DeckError) as e:
        build_model(model_dict(**kw))
    assert str(e.value).startswith(key) and "\n" not in str(e.value)


@pytest.mark.parametrize("kw,key", [(dict(material="W", layers=0, surface="110"), "model.layers"),
                                    (dict(material="W", surface="100", layers=3), "model.surface")])
def test_schema_rejects(kw, key):
    with pytest.raises(DeckError) as e:
        model_dict(**kw)
    assert str(e.value).startswith(key)


def test_available_and_metadata():
    av = available()
    for el in ("W", "Nb", "Pt", "Cu"):
        assert el in av["sk"]
    for el in ("V", "Ta", "W", "Pt"):
        assert el in av["nrl"]
    m = material_model("Ta", "nrl", spin=True)
    assert "Mehl" in m.meta["source"] and m.electrons == 5
    assert m.S is not None and m.meta["nrl_style"] == "old"


def test_lattice_constant_override_and_xi():
    m1 = material_model("W", "nrl", lattice_constant=3.0)
    m2 = material_model("W", "nrl", lattice_constant=3.2)
    assert m1.meta["nrl_density"][0] > m2.meta["nrl_density"][0]
    m = build_model(model_dict(material="W", spin=True, params={"xi_d": 0.0}))
    e = eigenvalues(m, np.random.default_rng(0).random((2, 3)))
    assert np.allclose(e[:, ::2], e[:, 1::2], atol=1e-10)      # no SOC: Kramers pairs at every k
