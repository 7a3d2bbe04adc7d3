"""Tests of type = "interface" (paper 002, PHYSICS.md section 4).

Every check compares with an independent fact: closed formulas, a separate
mode solver, a finite-difference lattice, exact symmetries, conservation laws,
or the paper's statements -- never with numbers printed by the code.
"""
import math

import numpy as np
import pytest

from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError
from hpcorb.kernels import scattering as sc
from hpcorb.kernels.interface_lattice import LatticeSolution
from hpcorb.calculations import interface as calc

CHI = sc.incident_matrix()
RNG = np.random.default_rng(20260422)


def _deck(**kw):
    sweep = kw.pop("sweep", None)
    table = dict(kw)
    if sweep is not None:
        table["sweep"] = sweep
    return deck_from_dict({"calculation": {"type": "interface"}, "interface": table},
                          "/tmp/interface_test_deck.toml")


# ---------------------------------------------------------------------------
# operators and states (paper text below Eq. 2)

def test_operators_and_incident_states():
    L = sc.DIPOLES
    # [L_x, L_y] = i L_z and L^2 = l(l+1) = 2
    assert np.allclose(L[0] @ L[1] - L[1] @ L[0], 1j * L[2], atol=1e-15)
    assert np.allclose(sum(m @ m for m in L), 2 * np.eye(3), atol=1e-15)
    names = "xyz"
    for i, s in enumerate(names):
        v = sc.INCIDENT_STATES[s]
        assert abs(np.vdot(v, v) - 1) < 1e-15
        for j in range(3):     # <L_i|L_j|L_i> = hbar delta_ij
            assert abs(np.vdot(v, L[j] @ v) - (i == j)) < 1e-15
        for q in range(3):     # torsional quadrupoles vanish in the incident states
            assert abs(np.vdot(v, sc.QUADRUPOLES[q] @ v)) < 1e-15
        # polarization quadrupoles do not all vanish (paper: intrinsic association)
        assert max(abs(np.vdot(v, sc.QUADRUPOLES[q] @ v)) for q in (3, 4)) > 0.1


def test_thresholds_paper_values():
    kt, kr = sc.thresholds(0.5, 0.5)
    assert abs(kt - math.sqrt(1 / 3)) < 1e-15
    assert abs(kr - math.sqrt(1 / 2)) < 1e-15
    # the numerical mode solver at kappa = 0 finds k_z = +-k_t (twice) and +-k_r
    kz, _ = sc.numerical_modes(0.0, 0.3, 0.5, 0.5)
    got = np.sort(np.abs(kz.real))
    want = np.sort([math.sqrt(1 / 3)] * 4 + [math.sqrt(1 / 2)] * 2)
    assert np.allclose(got, want, atol=1e-12) and np.abs(kz.imag).max() < 1e-12


@pytest.mark.parametrize("kappa", [0.05, 0.4, 0.62, 0.69, 0.8, 0.97])
def test_eq4_eigenvectors_match_numerical_mode_solver(kappa):
    U, r, phi = 0.5, 0.5, 1.234
    kt, kr = sc.thresholds(U, r)
    kzt, kzr = sc.right_modes(np.array([kappa]), U, r)
    V = sc.helicity_vectors(np.array([kappa] * 3), np.array([phi] * 3),
                            np.array([kzt[0], kzt[0], kzr[0]]), np.array([kt, kt, kr]))
    V = np.stack([V[0][:, 0], V[1][:, 1], V[2][:, 2]], axis=1)
    kz, vec = sc.numerical_modes(kappa, phi, U, r)
    for j, k in enumerate((kzt[0], kzt[0], kzr[0])):
        sel = np.abs(kz - k) < 1e-8
        assert sel.sum() == (2 if j < 2 else 1)
        # the closed-form vector lies in the numerical eigenspace of that root
        B = vec[:, sel]
        coef, *_ = np.linalg.lstsq(B, V[:, j], rcond=None)
        assert np.linalg.norm(B @ coef - V[:, j]) < 1e-10
    # the two helicity +-1 vectors are independent (span the degenerate space)
    assert abs(np.linalg.det(V)) > 1e-6


# ---------------------------------------------------------------------------
# conservation, continuity, Heisenberg source

def _random_solution(n=40, alpha=None):
    U = RNG.uniform(-0.5, 0.9)
    r = RNG.uniform(0.0, 3.0)
    a = RNG.uniform(-2, 2) if alpha is None else alpha
    kap = RNG.uniform(0.0, 1.0, n)
    phi = RNG.uniform(0, 2 * np.pi, n)
    return sc.Solution(kap, phi, U, r, a, CHI)


@pytest.mark.parametrize("trial", range(4))
def test_probability_current_conservation(trial):
    sol = _random_solution(alpha=0.0 if trial == 0 else None)
    assert trial == 0 or sol.alpha != 0.0
    incoming = 2 * sol.q.real[:, None] * 1.0                  # |chi|^2 = 1
    reflected = 2 * sol.q.real[:, None] * np.sum(np.abs(sol.rho) ** 2, axis=1)
    for z in (0.0, 0.37, 1.9, 6.5, 23.0):
        jr = sol.current(sc.EYE, z)                          # evanescent terms included
        assert np.abs(jr - (incoming - reflected)).max() < 1e-10
    for z in (-0.4, -3.0):
        assert np.abs(sol.current(sc.EYE, z) - (incoming - reflected)).max() < 1e-10
    # far away only the propagating modes carry it
    assert np.abs(sol.propagating_flux() - (incoming - reflected)).max() < 1e-10


def test_wavefunction_satisfies_boundary_conditions_and_equation():
    sol = _random_solution()
    pl, dl = sol.psi(-0.0 - 1e-300)
    pr, dr = sol.psi(0.0)
    assert np.abs(pl - pr).max() < 1e-13
    bc = sol.M @ dr - dl + 0.5j * sol.r * sol.C @ pr - sol.alpha * sol.Rop @ pr
    assert np.abs(bc).max() < 1e-12
    # H_R psi = E psi in the bulk of the right layer (second derivative by finite differences)
    z, h = 0.8, 1e-3
    M, B, W = sc.right_matrices(sol.kappa, sol.phi, sol.U, sol.r)
    p = [sol.psi(z + s * h)[0] for s in (-2, -1, 0, 1, 2)]
    d2 = (-p[0] + 16 * p[1] - 30 * p[2] + 16 * p[3] - p[4]) / (12 * h * h)
    d1 = sol.psi(z)[1]
    resid = -M @ d2 + B @ (-1j * d1) + W @ p[2]
    assert np.abs(resid).max() < 1e-6


def test_all_currents_continuous_at_alpha_zero_and_delta_zero():
    sol = _random_solution(n=60, alpha=0.0)
    for O in sc.ALL_OPS:
        assert np.abs(sol.left_current(O) - sol.current(O, 0.0)).max() < 1e-12
    o, _ = calc.converge(0.5, 0.5, 0.0, CHI, np.zeros(0), tol=1e-8, ltol=1e-11,
                         max_points=1024, with_profiles=False)
    lim = calc._limit_arrays(o)
    assert np.abs(lim["current_left_0"] - lim["current_0"]).max() < 1e-12
    p = dict(transparency=[0.5, 2.0], k_F=1e10, D=10.0, mass=8.48e-23)
    der = calc.derived(lim, ["x", "y", "z"], p)
    assert np.all(der["memory_loss"] == 0.0)
    # with the orbital Rashba term the dipole current jumps and delta > 0
    o, _ = calc.converge(0.5, 0.5, 1.0, CHI, np.zeros(0), tol=1e-8, ltol=1e-11,
                         max_points=1024, with_profiles=False)
    der = calc.derived(calc._limit_arrays(o), ["x", "y", "z"], p)
    assert np.all(der["J_left_0"] > der["J_right_0"]) and np.all(der["memory_loss"] > 0.05)


def test_memory_loss_inverts_eq9():
    for delta, p in ((0.3, 2.0), (1.7, 0.5), (0.01, 10.0)):
        ratio = math.cosh(delta) + p * delta * math.sinh(delta)
        assert abs(sc.memory_loss(ratio, p) - delta) < 1e-12
    assert sc.memory_loss(1.0, 2.0) == 0.0
    assert math.isnan(sc.memory_loss(0.9, 2.0))


@pytest.mark.parametrize("op", [2, 0, 4, 7])
def test_heisenberg_source_equals_current_divergence(op):
    O = sc.ALL_OPS[op]
    sol = _random_solution(n=30)
    dens, cur, tor = sol.pair_coefficients(sc.ALL_OPS)
    g = sol.exponents()
    for z in (0.2, 1.3, 4.0):
        src = sol.heisenberg_source(O, z)
        h = 1e-3          # 6th-order central difference of the current
        J = {s: sol.current(O, z + s * h) for s in (-3, -2, -1, 1, 2, 3)}
        dJ = (J[3] - 9 * J[2] + 45 * J[1] - 45 * J[-1] + 9 * J[-2] - J[-3]) / (60 * h)
        scale = 1 + np.abs(src).max()
        assert np.abs(src - dJ).max() < 1e-8 * scale
        # the production torque (pair coefficients times i g) is the same function
        tau = np.einsum("pni,pn->ni", tor[:, :, :, op], np.exp(1j * g * z)).real
        assert np.abs(src - tau).max() < 1e-11 * scale


# ---------------------------------------------------------------------------
# lattice discretization

@pytest.mark.parametrize("point", [(0.3, 0.7, 0.5, 0.5, 0.0), (0.65, 1.9, 0.3, 1.2, 0.8),
                                   (0.9, 4.0, 0.5, 0.5, -0.4)])
def test_lattice_converges_to_continuum(point):
    kap, phi, U, r, al = point
    c = sc.Solution([kap], [phi], U, r, al, CHI)
    cw = sc.Solution([kap], [phi], U, r, al, CHI, bc_factor=1.0)   # a wrong BC, for contrast
    errs, errs_wrong, rho = [], [], []
    Ns = [20, 40, 80, 160]
    for N in Ns:
        lat = LatticeSolution(kap, phi, U, r, al, CHI, 1.0 / N)
        # exact lattice flux conservation
        assert np.abs(lat.bond_current(3) - lat.left_flux()).max() < 1e-9
        e_rho = np.abs(lat.rho - c.rho[0]).max()
        e_den = max(np.abs(lat.density(O, N) - c.density(O, 1.0)[0]).max() for O in sc.ALL_OPS)
        errs.append(max(e_rho, e_den))
        errs_wrong.append(np.abs(lat.rho - cw.rho[0]).max())
        rho.append(lat.rho)
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert errs[-1] < 2e-3
    assert np.all(orders > 0.8), orders                        # first order (interface step)
    # Richardson extrapolation removes the O(a) term
    assert np.abs(2 * rho[-1] - rho[-2] - c.rho[0]).max() < 0.1 * errs[-1]
    # and the lattice does not approach the solution with the wrong interface coefficient
    assert errs_wrong[-1] > 20 * errs[-1]


# ---------------------------------------------------------------------------
# Fermi-averaged observables

@pytest.fixture(scope="module")
def fig1():
    z = np.linspace(0.0, 20.0, 81)
    out = {}
    for alpha in (0.0, 0.7):
        o, info = calc.converge(0.5, 0.5, alpha, CHI, z, tol=1e-9, ltol=1e-11, max_points=1024,
                                with_profiles=True)
        out[alpha] = (o, info)
    return z, out


def test_phi_rule_is_exact():
    k, w = sc.kappa_rule(0.5, 0.5, 16)
    a = sc.fermi_profiles(k, w, 0.5, 0.5, 0.7, CHI, np.array([0.0, 2.5]), n_phi=sc.N_PHI)
    b = sc.fermi_profiles(k, w, 0.5, 0.5, 0.7, CHI, np.array([0.0, 2.5]), n_phi=31)
    for key in ("dens", "cur", "tor"):
        assert np.abs(a[key] - b[key]).max() < 1e-13


def test_vanishing_components(fig1):
    _, out = fig1
    for alpha, (o, _) in out.items():
        prof = calc._profile_arrays(o)
        lim = calc._limit_arrays(o)
        off = ~np.eye(3, dtype=bool)
        # no conversion between dipoles; currents and torques only along the incident dipole
        for key in ("dipole", "current", "torque"):
            assert np.abs(prof[key][off]).max() < 1e-12, key
        for key in ("dipole_0", "dipole_inf", "current_0", "current_inf"):
            assert np.abs(lim[key][off]).max() < 1e-12, key
        q = np.concatenate([prof["quadrupole"], lim["quadrupole_0"][..., None],
                            lim["quadrupole_inf"][..., None]], axis=-1)
        # |L_x>: only yz, x2-y2, z2; |L_y>: only zx, x2-y2, z2; |L_z>: only z2 (paper text)
        zero = {0: (0, 2), 1: (0, 1), 2: (0, 1, 2, 3)}
        for i, comps in zero.items():
            assert np.abs(q[i, list(comps)]).max() < 1e-12
        assert np.abs(q[0, 1]).max() > 1e-3 and np.abs(q[2, 4]).max() > 1e-3
        # L_z incident: [L_z, (k_x L_x + k_y L_y)^2] averages to 0 -> no torsional quadrupole
        assert np.abs(q[2, :3]).max() < 1e-12


def test_Lyy_equals_Lxx_and_antisymmetric_polarization(fig1):
    _, out = fig1
    for alpha, (o, _) in out.items():
        prof = calc._profile_arrays(o)
        assert np.abs(prof["dipole"][1, 1] - prof["dipole"][0, 0]).max() < 1e-12
        assert np.abs(prof["torque"][1, 1] - prof["torque"][0, 0]).max() < 1e-12
        # |L_x> vs |L_y>: x2-y2 antisymmetric, z2 symmetric, yz <-> -zx
        qx, qy = prof["quadrupole"][0], prof["quadrupole"][1]
        assert np.abs(qx[3] + qy[3]).max() < 1e-12
        assert np.abs(qx[4] - qy[4]).max() < 1e-12
        assert np.abs(qx[1] + qy[2]).max() < 1e-12


def test_quadrature_accuracy_reported_honestly(fig1):
    z, out = fig1
    for alpha, (o, info) in out.items():
        assert info["profile_error"] < 1e-9
        k, w = sc.kappa_rule(0.5, 0.5, 400)
        ref = sc.fermi_profiles(k, w, 0.5, 0.5, alpha, CHI, z)
        err = max(np.abs(o[n] - ref[n]).max() for n in ("dens", "cur", "tor"))
        assert err <= max(info["profile_error"], 1e-12)
        assert info["flux_error"] < 1e-10


def test_torque_integral_equals_integrated_torque_profile(fig1):
    # X = Int_0^Z tau dz + (J(inf) - J(Z)); check the first part against the profile
    z, out = fig1
    o, _ = out[0.0]
    prof = calc._profile_arrays(o)
    zz = np.linspace(0.0, 20.0, 4001)
    k, w = sc.kappa_rule(0.5, 0.5, 64)
    fine = calc._profile_arrays(sc.fermi_profiles(k, w, 0.5, 0.5, 0.0, CHI, zz))
    for i in range(3):
        integ = np.trapz(fine["torque"][i, i], zz)
        assert abs(integ - (prof["current"][i, i, -1] - prof["current"][i, i, 0])) < 1e-6


def test_z_infinity_limit_is_the_long_window_average():
    # the Fermi average approaches the limit like 1/z; its mean over a long window
    # [Z, 2Z] converges to the analytic limit
    k, w = sc.kappa_rule(0.5, 0.5, 600)
    zz = np.linspace(400.0, 800.0, 801)
    o = sc.fermi_profiles(k, w, 0.5, 0.5, 0.0, CHI, zz)
    lim = sc.fermi_limits(k, w, 0.5, 0.5, 0.0, CHI)
    for key, lk in (("dens", "densinf"), ("cur", "curinf")):
        mean = np.trapz(o[key], zz, axis=-1) / 400.0
        assert np.abs(mean - lim[lk]).max() < 2e-3


def test_no_crystal_field_is_a_scalar_potential_step():
    """r = 0: psi_R = t chi e^{i k_z z}, t = 2q/(q + k_z) -- closed form, then an
    independent adaptive integral (scipy.quad) of the Fermi average."""
    from scipy.integrate import quad
    U = 0.5
    kr = math.sqrt(1 - U)

    def t2(kap, z):
        q = math.sqrt(1 - kap * kap)
        if kap < kr:
            k = math.sqrt(kr * kr - kap * kap)
            return (2 * q / (q + k)) ** 2
        s = math.sqrt(kap * kap - kr * kr)
        return abs(2 * q / (q + 1j * s)) ** 2 * math.exp(-2 * s * z)

    z = np.array([0.0, 0.5, 3.0])
    k, w = sc.kappa_rule(U, 0.0, 64)
    o = sc.fermi_profiles(k, w, U, 0.0, 0.0, CHI, z)
    for iz, zz in enumerate(z):
        want = sum(quad(lambda kk: 2 * kk * t2(kk, zz), a, b, epsabs=1e-13, epsrel=1e-13)[0]
                   for a, b in ((0, kr), (kr, 1)))
        for i in range(3):        # every incident dipole survives unchanged: <L_i^i> = |t|^2
            assert abs(o["dens"][i, i, iz] - want) < 1e-10
    # no crystal field: no torque
    assert np.abs(o["tor"]).max() < 1e-12


def test_angular_acceleration_recipe():
    # PHYSICS.md: omega_dot = X * 2 pi^2 hbar^2 k_F/(m D M) = X * 2841.8 rad/s^2
    assert abs(sc.angular_acceleration(1.0, 1e10, 1e-8, 8.48e-23) - 2841.8) < 0.1
    p = {"mass": None, "density": 2700.0, "radius": 1.0, "height": 10.0}
    assert abs(calc._mass(p) - 8.48e-23) < 0.01e-23     # the paper's Al cylinder


# ---------------------------------------------------------------------------
# decks, run, output contract

@pytest.mark.parametrize("bad", [
    {"U": 1.0}, {"U": 1.5}, {"r": -0.1}, {"incident": ["x", "w"]}, {"incident": ["x", "x"]},
    {"tolerance": 0.0}, {"tolerance": -1e-8}, {"nz": 1}, {"z_max": 0.0},
    {"sweep": {"parameter": "U", "values": [0.2, 1.0]}},
    {"sweep": {"parameter": "r", "values": [0.5, -1.0]}},
    {"sweep": {"parameter": "kappa", "values": [1.0]}},
    {"bogus": 1},
])
def test_bad_decks_raise_deck_error(bad):
    with pytest.raises(DeckError):
        _deck(**bad)


def test_deck_defaults_are_the_paper_values():
    d = _deck()
    p = d["interface"]
    assert (p["U"], p["r"], p["alpha"]) == (0.5, 0.5, 0.0)
    assert p["incident"] == ["x", "y", "z"]
    assert p["k_F"] == 1e10 and p["D"] == 10.0 and p["radius"] == 1.0 and p["height"] == 10.0


@pytest.mark.mpi
def test_run_output_contract_and_sweep(tmp_path):
    import h5py
    from hpcorb.parallel import world
    from hpcorb.log import NullLogger
    from hpcorb.io.results import write_results
    comm = world()
    d = _deck(z_max=10.0, nz=41, tolerance=1e-8, transparency=[1.0, 2.0],
              sweep={"parameter": "alpha", "values": [0.0, 0.5, 1.0]})
    res = calc.run(d, comm, NullLogger(), None)
    shapes = {"z": (41,), "dipole": (3, 3, 41), "quadrupole": (3, 5, 41), "current": (3, 3, 41),
              "torque": (3, 3, 41), "limits/dipole_0": (3, 3), "limits/dipole_inf": (3, 3),
              "limits/quadrupole_0": (3, 5), "limits/quadrupole_inf": (3, 5),
              "torque_integral": (3,), "angular_acceleration": (3,),
              "sweep/values": (3,), "sweep/memory_loss": (3, 2, 3)}
    for name, shape in shapes.items():
        assert res[name].shape == shape, name
    # sweep point alpha = 0 equals the main run (same parameters)
    assert np.abs(res["sweep/torque_integral"][0] - res["torque_integral"]).max() < 1e-10
    assert np.all(res["sweep/memory_loss"][0] == 0) and np.all(res["sweep/memory_loss"][1:] > 0)
    # torque integral is the difference of the current limits (component of the incident dipole)
    assert np.allclose(res["torque_integral"],
                       np.diag(res["limits/current_inf"] - res["limits/current_0"]), atol=1e-14)
    path = str(tmp_path / "iface.h5")
    path = comm.bcast(path)
    write_results(path, res, comm, NullLogger(), deck_text="")
    if comm.rank == 0:
        with h5py.File(path) as f:
            text = calc.summary(f)
            assert "L_z" in text and "sweep over alpha" in text
            files = calc.plot(f, str(tmp_path / "iface"))
            assert len(files) == 3


def test_paper_trends_efficiency_and_memory_loss():
    """Qualitative statements of the paper (Fig. 3): eta_yz^x vanishes at r = 0, grows,
    then changes sign with r; eta_x2-y2^x starts finite; delta grows with alpha_R and
    falls with rho_R l_R/AR_I."""
    p = dict(transparency=[0.5, 2.0, 5.0], k_F=1e10, D=10.0, mass=8.48e-23)

    def der(r, alpha):
        o, _ = calc.converge(0.5, r, alpha, CHI, np.zeros(0), tol=1e-8, ltol=1e-11,
                             max_points=1024, with_profiles=False)
        return calc.derived(calc._limit_arrays(o), ["x", "y", "z"], p)

    e0, e05, e3 = (der(r, 0.0)["efficiency"][0] for r in (0.0, 0.5, 3.0))
    assert abs(e0[1]) < 1e-12 and e05[1] > 1e-3 and e3[1] < -1e-3
    assert abs(e0[3]) > 0.1
    d = [der(0.5, a)["memory_loss"] for a in (0.25, 1.0, 2.0)]
    for k in range(3):
        assert np.all(np.diff([x[k] for x in d], axis=0) > 0)        # grows with alpha
    assert np.all(np.diff(d[1], axis=0) < 0)                          # falls with transparency
