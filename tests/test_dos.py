"""DOS and Fermi level against independent, analytic band energies.

Simple cubic s band: E(k) = -2t (cos k1 + cos k2 + cos k3) on the mesh
k_a = 2 pi (i_a + s) / n; square lattice likewise in 2D.
"""
import numpy as np
import pytest

from hpcorb.calculations import dos as dos_calc
from hpcorb.config import deck_from_dict
from hpcorb.log import NullLogger
from hpcorb.parallel import SerialComm, world


def make_deck(builtin, size, shift, electrons, broadening=0.05, bins=200000, smearing="gaussian"):
    return deck_from_dict({
        "calculation": {"type": "dos"},
        "model": {"builtin": builtin, "params": {"t": 1.0}, "electrons": electrons},
        "kmesh": {"size": list(size), "shift": list(shift)},
        "dos": {"broadening": broadening, "bins": bins, "smearing": smearing,
                "energies": {"start": -8.0, "stop": 8.0, "num": 3201}},
    })


def analytic_eigs(size, shift, t=1.0):
    axes = [2 * np.pi * (np.arange(n) + s) / n for n, s in zip(size, shift)]
    grids = np.meshgrid(*axes, indexing="ij")
    return (-2 * t * sum(np.cos(g) for g in grids)).ravel()


def run(deck, comm=None):
    res = dos_calc.run(deck, comm or SerialComm(), NullLogger(), None)
    return res["energy"], res["dos"], res.attrs["fermi_energy"], res


@pytest.mark.parametrize("smearing", ["gaussian", "lorentzian"])
def test_broadened_dos_equals_direct_sum(smearing):
    size, shift = (12, 12, 12), (0.5, 0.5, 0.5)
    e, d, _, _ = run(make_deck("cubic", size, shift, 1.0, broadening=0.1, smearing=smearing))
    eig = analytic_eigs(size, shift)
    x = e[:, None] - eig[None, :]
    if smearing == "gaussian":
        g = np.exp(-0.5 * (x / 0.1) ** 2) / (0.1 * np.sqrt(2 * np.pi))
    else:
        g = (0.1 / np.pi) / (x ** 2 + 0.1 ** 2)
    direct = 2 * g.mean(axis=1)                      # spin degeneracy 2
    np.testing.assert_allclose(d, direct, atol=1e-6 * direct.max())


def test_dos_integrates_to_number_of_states():
    e, d, _, res = run(make_deck("cubic", (16, 16, 16), (0.5,) * 3, 1.0, broadening=0.05))
    assert abs(np.trapz(d, e) - 2.0) < 1e-6
    assert res.attrs["n_states"] == 2
    assert abs(res["integrated"][-1] - 2.0) < 1e-12


@pytest.mark.parametrize("electrons", [0.3, 0.8, 1.55])
def test_fermi_level_reproduces_electron_count(electrons):
    size, shift = (20, 20, 20), (0.5, 0.5, 0.5)
    deck = make_deck("cubic", size, shift, electrons)
    _, _, ef, res = run(deck)
    eig = analytic_eigs(size, shift)
    count = 2 * np.mean(eig <= ef)
    # exact up to the discreteness of the mesh (the states at E_F) and one bin
    step = 2 * np.mean(np.abs(eig - ef) <= res.attrs["histogram_bin_eV"])
    assert abs(count - electrons) <= step + 2.0 / eig.size


def test_half_filling_is_particle_hole_symmetric():
    _, _, ef, res = run(make_deck("cubic", (16, 16, 16), (0.5,) * 3, 1.0))
    assert abs(ef) <= res.attrs["histogram_bin_eV"]


def test_film_mesh_square_lattice():
    size, shift = (40, 40), (0.5, 0.5)
    e, d, ef, _ = run(make_deck("square", size, shift, 1.0))
    assert abs(np.trapz(d, e) - 2.0) < 1e-6
    eig = analytic_eigs(size, shift)
    assert abs(2 * np.mean(eig <= ef) - 1.0) <= 2 * np.mean(np.abs(eig - ef) < 1e-3) + 1e-12


@pytest.mark.mpi
def test_dos_rank_independent():
    deck = make_deck("cubic", (14, 14, 14), (0.0, 0.0, 0.0), 0.7)
    e1, d1, ef1, _ = run(deck)
    e2, d2, ef2, _ = run(deck, world())
    np.testing.assert_allclose(d2, d1, rtol=1e-12, atol=1e-13 * d1.max())
    assert abs(ef2 - ef1) <= 1e-12
