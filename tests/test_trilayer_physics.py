"""Physics of paper 004 checked against independent facts (limits, symmetries, the paper's claims)."""
import numpy as np
import pytest

from hpcorb.calculations import trilayer as tc
from hpcorb.models.t2g import REGION_NM, build_lattice
from hpcorb.parallel import SerialComm

COMM = SerialComm()


def solve(p, solver="ky"):
    lat = build_lattice(p)
    return lat, tc.solve(lat, p["temperature"], solver, COMM)


@pytest.mark.parametrize("solver,ny", [("ky", 40), ("dense", 4)])
def test_isotropic_nm_conserves_current_along_mL_cross_mR(solver, ny):
    """gamma = t = t': torques vanish in the NM, the current is constant there and
    polarized along m_L x m_R (time reversal + SO(3) symmetry of the isotropic lattice)."""
    mL, mR = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.6, 0.8])
    p = dict(nx=10, ny=ny, n_fm=1, gamma=1.0, t=1.0, mu=-0.2, temperature=0.05,
             m_left=list(mL), m_right=list(mR))
    lat, s = solve(p, solver)
    col = s["col"]
    nm = np.flatnonzero(lat.region == REGION_NM)
    for k in ("bond_torque_x", "bond_torque_y", "torque_eq10", "exchange_torque"):
        assert np.abs(col[k][nm]).max() < 1e-14, k
    # bonds touching the NM (interface bonds use the NM matrix = -t 1 too)
    bonds = np.arange(nm[0] - 1, nm[-1] + 1)
    B = col["bond_current_x"][bonds]
    assert np.abs(B - B[0]).max() < 1e-13
    j7 = col["current_eq7"][nm]
    assert np.abs(j7 - j7[0]).max() < 1e-13
    n = np.cross(mL, mR)
    assert np.linalg.norm(B[0]) > 1e-6                     # a finite current ...
    assert np.linalg.norm(np.cross(B[0], n)) < 1e-12 * 1e3 * np.linalg.norm(B[0])   # ... along m_L x m_R


def test_anisotropy_damps_current_across_nm():
    """gamma < t: the NM current is no longer constant and decays away from the right FM,
    faster for larger anisotropy t - gamma (paper Fig. 2; N_y = 800 as in the paper: with
    N_y ~ 100 the discrete k_y leave a slowly decaying finite-size tail)."""
    base = dict(nx=25, ny=800, n_fm=1, t=1.0, mu=-0.2, temperature=0.01,
                m_left=[1.0, 0, 0], m_right=[0, 1.0, 0])
    ratio = {}
    for g in (1.0, 0.8, 0.3):
        lat, s = solve(dict(base, gamma=g))
        j = np.abs(s["col"]["current_eq7"][:, 2])
        ratio[g] = j[5:10].max() / j[-4:-1].max()          # left part of the NM / next to the right FM
    assert ratio[1.0] == pytest.approx(1.0, abs=1e-9)
    assert ratio[0.3] < 1e-6 < ratio[0.8] < 1.0


def test_time_reversal_F_even_in_m():
    """H(-m) = conj H(m) (real hopping, imaginary L): F(m) = F(-m), hence degenerate +-y minima."""
    p = dict(nx=12, ny=30, n_fm=1, n_fm_right=0, gamma=0.3, mu=-0.2, temperature=0.01,
             m_left=[0.3, 0.8, -0.5], m_right=[0, 0, 0])
    F1 = tc.free_energy(build_lattice(p), 0.01, "ky")
    F2 = tc.free_energy(build_lattice(p, m_left=[-0.3, -0.8, 0.5]), 0.01, "ky")
    assert abs(F1 - F2) < 1e-12 * abs(F1)


def bilayer(**kw):
    p = dict(nx=25, ny=100, n_fm=1, n_fm_right=0, gamma=0.3, mu=-0.2, temperature=0.01,
             m_left=[0, 1.0, 0], m_right=[0, 0, 0])
    p.update(kw)
    return p


def F_axes(p):
    return np.array([tc.free_energy(build_lattice(p, m_left=v), p["temperature"], "ky") for v in np.eye(3)])


def test_bilayer_minimum_along_y_for_gamma_03():
    """Paper Fig. 3(a): NM/FM bilayer, gamma = 0.3, mu = -0.2: lowest F along +-y, below x and z
    and below every other direction of a coarse sphere grid."""
    p = bilayer()
    F = F_axes(p)
    assert np.argmin(F) == 1
    rng = np.random.default_rng(0)
    for v in rng.normal(size=(6, 3)):
        v /= np.linalg.norm(v)
        assert tc.free_energy(build_lattice(p, m_left=v), 0.01, "ky") > F[1]


def test_preferred_axis_switches_y_z_x_with_mu():
    """Paper Fig. 4: the preferred FM axis goes y -> z -> x as |mu| grows."""
    pref = [int(np.argmin(F_axes(bilayer(mu=mu)))) for mu in (-0.2, -1.0, -2.0)]
    assert pref == [1, 2, 0]


def test_altermagnet_single_pole_and_sign_convention():
    """Paper Fig. 3(b): AM/FM bilayer (w = 0.4): one minimum on the z axis (not degenerate);
    which pole flips with the sign of w: F(theta; w) = F(pi - theta; -w)."""
    p = bilayer(normal_metal="altermagnet", w=0.4, m_left=[0, 0, 1.0])

    def F(theta, w, phi=0.3):
        m = [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]
        return tc.free_energy(build_lattice(p, w=w, m_left=m), 0.01, "ky")
    th = np.linspace(0, np.pi, 7)
    Fw = np.array([F(t, 0.4) for t in th])
    Fm = np.array([F(np.pi - t, -0.4) for t in th])
    assert np.abs(Fw - Fm).max() < 1e-12 * np.abs(Fw).max()
    assert np.argmin(Fw) in (0, len(th) - 1)                # a pole
    assert abs(Fw[0] - Fw[-1]) > 1e-3                       # a single pole, not +-z degenerate
    # spin z is conserved in the altermagnet (tau_z = 0, paper text below Eq. 11)
    lat, s = solve(dict(p, nx=10, ny=20, m_right=[1.0, 0, 0], n_fm_right=1))
    nm = lat.region == REGION_NM
    assert np.abs(s["col"]["torque_eq10"][nm, 2]).max() < 1e-15
    assert np.abs(s["col"]["bond_torque_x"][nm, 2]).max() < 1e-15


def zero_crossings(n, J):
    """Interpolated positions where J(N_x) changes sign."""
    out = []
    for i in range(len(n) - 1):
        if J[i] * J[i + 1] < 0:
            out.append(n[i] + J[i] / (J[i] - J[i + 1]))
    return np.array(out)


def test_rkky_period_and_damping():
    """Paper Fig. 5: J_y(N_x) oscillates with period ~4.5 sites for gamma = t and is damped
    much faster for larger anisotropy (gamma = 0.3)."""
    from hpcorb.config import deck_from_dict
    n = list(range(4, 23))
    J = {}
    for g in (1.0, 0.3):
        deck = deck_from_dict({"calculation": {"type": "trilayer"},
                               "trilayer": dict(nx=10, ny=800, gamma=g, mu=-0.2, temperature=0.01,
                                                m_left=[0, 1.0, 0], m_right=[0, 1.0, 0],
                                                rkky={"nx": n, "axis": "y"})})
        res = tc.run(deck, COMM, lambda *a: None, None)
        J[g] = res["rkky/J"]
    z = zero_crossings(np.array(n, float), J[1.0])
    period = 2 * np.mean(np.diff(z))
    assert 4.0 < period < 5.5
    env = lambda J, lo, hi: np.abs(J[(np.array(n) >= lo) & (np.array(n) <= hi)]).max()  # noqa: E731
    decay_t = env(J[1.0], 14, 18) / env(J[1.0], 4, 8)
    decay_03 = env(J[0.3], 14, 18) / env(J[0.3], 4, 8)
    assert decay_03 < 1e-3 * decay_t
