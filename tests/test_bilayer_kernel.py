"""Bilayer drift-diffusion kernel (paper 001): analytic limits and invariants.

Every check is independent of the 8x8 solver: closed forms derived by hand
(paper Eqs. 13-21 and their re-derived exact versions, docs/bilayer.md), the
boundary conditions and balance laws evaluated on the computed profiles, and
a separate finite-difference solution with scipy's solve_bvp.
"""
import numpy as np
import pytest

from hpcorb.kernels import driftdiffusion as dd

# paper 001 Fig. 2 caption values, with sources and interface chosen for the tests
BASE = dict(d_N=5.0, d_F=5.0, lambda_s_N=3.0, lambda_o_N=5.0, lambda_o_F=5.0, lambda_sf=3.0,
            lambda_phi=1.0, lambda_J=0.5, sigma_s_N=1e6, sigma_o_N=1e6, sigma_s_F=1e6, sigma_o_F=1e6,
            sigma_SHE=1e5, sigma_OHE=0.0, E=1e4, P_os=0.0, P_so=0.0, G_s=1e15, G_o=1e15,
            G_os=0.0, G_so=0.0)
THICK_F = 60.0     # nm: exp(-2 alpha d_F) ~ 1e-85, "d_F >> dephasing length"


def P(**kw):
    return dict(BASE, **kw)


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b)))


# --------------------------------------------------------------------------
# Eq. 6

def test_q_and_corrected_eq6():
    lsf, lph, lJ = 3.0, 1.0, 0.5
    q = dd.q_F(lsf, lph, lJ)
    # q^2 is the coefficient of Eq. 5 in the complex convention
    assert abs(q ** 2 - (1 / lsf ** 2 + 1 / lph ** 2 - 1j / lJ ** 2)) < 1e-14
    al, be = dd.alpha_beta(lsf, lph, lJ)
    assert abs(q - (al - 1j * be)) < 1e-14
    # Eq. 6 as printed has (alpha - i beta)^2 = q^2 / 2, i.e. it is sqrt(2) too small
    ap, bp = dd.alpha_beta_as_printed(lsf, lph, lJ)
    assert abs((ap - 1j * bp) ** 2 - q ** 2 / 2) < 1e-13


# --------------------------------------------------------------------------
# Eqs. 13 + 16: transparent interface, no SOC, thick F (exact in that limit)

@pytest.mark.parametrize("d_N,lambda_s_N,sigma_s_N", [(5.0, 3.0, 1e6), (1.0, 3.0, 2e6), (12.0, 1.5, 4e5)])
def test_she_transparent_eq13_eq16(d_N, lambda_s_N, sigma_s_N):
    p = P(d_N=d_N, lambda_s_N=lambda_s_N, sigma_s_N=sigma_s_N, d_F=THICK_F)
    t = dd.torque(p, "transparent")
    # Eq. 13 with Eq. 16 written out by hand: eta = 1/(1 + GtN/GtF)
    GtN = sigma_s_N * np.tanh(d_N / lambda_s_N) / (lambda_s_N * 1e-9)
    a = 1 / 3.0 ** 2 + 1 / 1.0 ** 2
    b = 1 / 0.5 ** 2
    alpha = np.sqrt((np.hypot(a, b) + a) / 2)
    beta = np.sqrt((np.hypot(a, b) - a) / 2)
    GtF = 1e6 * (alpha - 1j * beta) / 1e-9
    expect = 1e5 * 1e4 * (1 - 1 / np.cosh(d_N / lambda_s_N)) / (1 + GtN / GtF)
    assert rel(t, expect) < 1e-8
    assert rel(t, dd.tau_eq13(p)) < 1e-8


def test_she_finite_interface_eq19():
    """No SOC, thick F, finite G_s: Eq. 16 with Gt_s^F -> G_mix of Eq. 19 (exact),
    and the mixing boundary condition (Eqs. 10-11) with Eq. 19's G_mix gives the same."""
    for Gs in (1e14, 1e15, 1e16):
        p = P(d_F=THICK_F, G_s=Gs)
        t = dd.torque(p, "conductance")
        expect = dd.tau_eq13(p, dd.eta_s_eq16(p, dd.G_mix_eq19(p)))
        assert rel(t, expect) < 1e-10
        assert rel(dd.torque(p, "mixing"), expect) < 1e-10
        # explicit G_mix passed by the user gives the same as the default (Eq. 19)
        assert rel(dd.torque(p, "mixing", dd.G_mix_eq19(p)), expect) < 1e-12


def test_eq19_exact_mixing_conductance():
    """The F side's exact response (no SOC, thick F) is Eq. 19."""
    for Gs, lJ in ((1e14, 0.5), (1e15, 0.5), (1e16, 2.0), (1e15, 0.1)):
        p = P(d_F=THICK_F, G_s=Gs, lambda_J=lJ)
        g = dd.mixing_conductances(p)
        GtF = 1e6 * dd.q_F(3.0, 1.0, lJ) / 1e-9
        assert rel(g["G_mix"], 1 / (1 / Gs + 1 / GtF)) < 1e-10


# --------------------------------------------------------------------------
# Eq. 17: OHE, bulk orbit-to-spin conversion, transparent, thick F

def _eq17_by_hand(p):
    GsN = p["sigma_s_N"] * np.tanh(p["d_N"] / p["lambda_s_N"]) / (p["lambda_s_N"] * 1e-9)
    GoN = p["sigma_o_N"] * np.tanh(p["d_N"] / p["lambda_o_N"]) / (p["lambda_o_N"] * 1e-9)
    GoF = p["sigma_o_F"] * np.tanh(p["d_F"] / p["lambda_o_F"]) / (p["lambda_o_F"] * 1e-9)
    GsF = p["sigma_s_F"] * dd.q_F(p["lambda_sf"], p["lambda_phi"], p["lambda_J"]) / 1e-9
    eta = p["P_os"] / (1 + GsF / GsN) / (1 + GoN / GoF)
    return eta * p["sigma_OHE"] * p["E"] * (1 - 1 / np.cosh(p["d_N"] / p["lambda_o_N"]))


def test_ohe_eq17_first_order_in_P():
    """P_so = 0: Eq. 17 holds to first order in P_os -- in fact exactly (the orbital
    problem does not see the spin, and the spin is linear in P_os; docs/bilayer.md).
    With P_so = P_os = P the relative error of Eq. 17 is second order, ~P^2."""
    d_F = 20.0    # spin: exp(-2 alpha d_F) ~ 1e-28; orbital thickness enters through Gt_o^F
    for Pos in (0.4, 0.1, 0.01):
        p = P(sigma_SHE=0.0, sigma_OHE=2e5, P_os=Pos, P_so=0.0, d_F=d_F)
        assert rel(dd.torque(p, "transparent"), _eq17_by_hand(p)) < 1e-10
    errs = []
    Ps = np.array([0.2, 0.1, 0.05, 0.025])
    for x in Ps:
        p = P(sigma_SHE=0.0, sigma_OHE=2e5, P_os=x, P_so=x, d_F=d_F)
        errs.append(rel(dd.torque(p, "transparent"), _eq17_by_hand(p)))
    errs = np.array(errs)
    slope = np.polyfit(np.log(Ps), np.log(errs), 1)[0]
    assert 1.9 < slope < 2.1, (errs, slope)
    assert errs[-1] < 1e-3


# --------------------------------------------------------------------------
# Eq. 18: interfacial orbit-to-spin conversion (P = G_so = 0, thick F)

def test_ohe_interface_conversion_eq18():
    for Gs, Go, Gos in ((2e15, 5e14, 3e14), (1e14, 2e15, -1e14), (1e17, 1e15, 2e14)):
        p = P(sigma_SHE=0.0, sigma_OHE=1e5, G_s=Gs, G_o=Go, G_os=Gos, d_F=THICK_F)
        t = dd.torque(p)
        # derived by hand: orbital injection through G_o in series with Gt_o^F; the interfacial
        # source G_os dmu_o drives the loop G_s || (Gt_s^N + Gt_s^F) (docs/bilayer.md)
        GsN = 1e6 * np.tanh(5.0 / 3.0) / 3e-9
        GoN = 1e6 * np.tanh(5.0 / 5.0) / 5e-9
        GoF = 1e6 * np.tanh(THICK_F / 5.0) / 5e-9
        GsF = 1e6 * dd.q_F(3.0, 1.0, 0.5) / 1e-9
        Jo = 1e5 * 1e4 * (1 - 1 / np.cosh(1.0)) / (1 + GoN * (1 / Go + 1 / GoF))
        expect = (Gos / Go) * Jo * (1 / Gs) / (1 / Gs + 1 / GsN + 1 / GsF)
        assert rel(t, expect) < 1e-10
        assert rel(t, dd.tau_eq14(p, dd.eta_o_eq18(p, exact=True))) < 1e-10
    # Eq. 18 as printed is the G_s >> |Gt_s^F| limit: error ~ |Gt_s^F|/G_s
    errs = []
    for Gs in (1e17, 1e18, 1e19):
        p = P(sigma_SHE=0.0, sigma_OHE=1e5, G_s=Gs, G_o=5e14, G_os=3e14, d_F=THICK_F)
        errs.append(rel(dd.torque(p), dd.tau_eq14(p, dd.eta_o_eq18(p, exact=False))))
    assert errs[0] < 0.05 and errs[1] < errs[0] / 8 and errs[2] < errs[1] / 8


def test_mixing_bc_interface_conversion_eq18_substitution():
    """Mixing BC (Eqs. 10-11): Eq. 18 with Gt_s^F, G_s -> G_mix."""
    p = P(sigma_SHE=0.0, sigma_OHE=1e5, G_s=2e15, G_o=5e14, G_os=3e14)
    Gm = 7e14 - 2e14j
    t = dd.torque(p, "mixing", Gm)
    GsN = 1e6 * np.tanh(5.0 / 3.0) / 3e-9
    GoN = 1e6 * np.tanh(1.0) / 5e-9
    GoF = 1e6 * np.tanh(1.0) / 5e-9
    eta = (3e14 / 5e14) / (1 + Gm / GsN) / (1 + GoN * (1 / 5e14 + 1 / GoF))
    assert rel(t, eta * 1e9 * (1 - 1 / np.cosh(1.0))) < 1e-10


# --------------------------------------------------------------------------
# Eqs. 20-21: orbit-spin-mixing conductance

def test_eq20_eq21_orbit_spin_mixing():
    GsF = 1e6 * dd.q_F(3.0, 1.0, 0.5) / 1e-9
    # interfacial conversion (Eq. 21): exact G_os G_mix/G_s = G_os GtF/(G_s + GtF)
    for Gs in (1e14, 1e15, 1e16):
        p = P(d_F=THICK_F, G_s=Gs, G_os=5e14)
        g = dd.mixing_conductances(p)
        assert rel(g["G_os_m"], 5e14 * GsF / (Gs + GsF)) < 1e-10
        assert abs(g["G_o_eff"] - 1e15) < 1e-10 * 1e15     # J_o = G_o dmu_o (G_so = 0)
    # bulk conversion (Eq. 20): exact G_o P_os G_s/(G_s + GtF)
    for Gs in (1e14, 1e15, 1e16):
        p = P(d_F=THICK_F, G_s=Gs, G_o=3e14, P_os=0.3)
        g = dd.mixing_conductances(p)
        assert rel(g["G_os_m"], 3e14 * 0.3 * Gs / (Gs + GsF)) < 1e-10
    # the printed Eqs. 20 and 21 are the G_s >> |GtF| limits
    for eq, kw in ((dd.G_os_m_eq20, dict(G_o=3e14, P_os=0.3)), (dd.G_os_m_eq21, dict(G_os=5e14))):
        e = [rel(dd.mixing_conductances(P(d_F=THICK_F, G_s=Gs, **kw))["G_os_m"],
                 eq(P(d_F=THICK_F, G_s=Gs, **kw), exact=False)) for Gs in (1e17, 1e18)]
        assert e[0] < 0.05 and 8 < e[0] / e[1] < 12


def test_mixing_conductance_reproduces_torque():
    """G_mix, G_os^m from the F-side response reproduce the full torque when used
    as a boundary condition on N (the torque is J_s = G_mix mu_s^N + G_os^m dmu_o)."""
    p = P(sigma_OHE=1e5, P_os=0.4, P_so=0.3, G_os=2e14, G_so=-1e14, G_s=7e14, G_o=4e14, d_F=7.0)
    sol = dd.solve(p)
    i = sol.interface()
    g = dd.mixing_conductances(p)
    Js = g["G_mix"] * i["mu_s_N"] + g["G_os_m"] * (i["mu_o_N"] - i["mu_o_F"])
    Jo = g["G_so_m"] * i["mu_s_N"] + g["G_o_eff"] * (i["mu_o_N"] - i["mu_o_F"])
    assert rel(Js, i["J_s_N"]) < 1e-10 and rel(Jo, i["J_o_N"]) < 1e-10


# --------------------------------------------------------------------------
# boundary conditions and balance laws on computed profiles

GENERAL = P(sigma_OHE=-3e5, P_os=0.45, P_so=-0.3, G_os=2e14, G_so=1e14, G_s=7e14, G_o=4e14,
            d_N=4.0, d_F=3.0, lambda_J=0.7)


@pytest.mark.parametrize("boundary", ["conductance", "transparent", "mixing"])
def test_boundary_conditions_on_profiles(boundary):
    p = GENERAL
    sol = dd.solve(p, boundary)
    z, (ms, mo, Js, Jo) = sol.profiles(101)
    j0 = abs(1e5 * 1e4) + abs(3e5 * 1e4)
    # outer surfaces: no current
    for J in (Js, Jo):
        assert abs(J[0]) / j0 < 1e-10 and abs(J[-1]) / j0 < 1e-10
    i = sol.interface()
    assert abs(i["J_o_N"] - i["J_o_F"]) / j0 < 1e-10
    dms, dmo = i["mu_s_N"] - i["mu_s_F"], i["mu_o_N"] - i["mu_o_F"]
    if boundary == "conductance":
        assert abs(i["J_s_N"] - i["J_s_F"]) / j0 < 1e-10
        assert abs(i["J_s_N"] - (p["G_s"] * dms + p["G_os"] * dmo)) / j0 < 1e-10     # Eq. 8
        assert abs(i["J_o_N"] - (p["G_o"] * dmo + p["G_so"] * dms)) / j0 < 1e-10     # Eq. 9
    elif boundary == "transparent":
        assert abs(i["J_s_N"] - i["J_s_F"]) / j0 < 1e-10
        assert abs(dms) * 1e15 / j0 < 1e-10 and abs(dmo) * 1e15 / j0 < 1e-10
    else:
        Gm = dd.G_mix_eq19(p)
        assert np.all(ms[z.size // 2:] == 0)
        assert abs(i["J_s_N"] - (Gm * i["mu_s_N"] + p["G_os"] * dmo)) / j0 < 1e-10   # Eq. 10
        assert abs(i["J_o_N"] - (p["G_o"] * dmo + p["G_so"] * i["mu_s_N"])) / j0 < 1e-10  # Eq. 11
    assert abs(sol.torque - i["J_s_N"]) == 0


def _gl(a, b, n=80):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


def test_current_balance_integrals():
    """J(z2) - J(z1) = -integral of the relaxation/precession/conversion sinks, by
    Gauss-Legendre quadrature of the computed mu profiles (Eqs. 1-5, 7); with the
    boundary conditions this is Eq. 12: torque = spin absorbed in F."""
    p = GENERAL
    sol = dd.solve(p)
    j0 = 3e9
    zN, wN = _gl(-p["d_N"], 0.0)
    zF, wF = _gl(0.0, p["d_F"])
    ms, mo, Js, Jo = sol.n_side(zN)
    i = sol.interface()
    nm = 1e-9
    lhs_s = i["J_s_N"] - 0.0
    rhs_s = -np.sum(wN * p["sigma_s_N"] * ms / (p["lambda_s_N"] ** 2 * nm))
    lhs_o = i["J_o_N"] - 0.0
    rhs_o = -np.sum(wN * p["sigma_o_N"] * mo / (p["lambda_o_N"] ** 2 * nm))
    assert abs(lhs_s - rhs_s) / j0 < 1e-10 and abs(lhs_o - rhs_o) / j0 < 1e-10
    ms, mo, Js, Jo = sol.f_side(zF)
    q2 = 1 / 3.0 ** 2 + 1 / 1.0 ** 2 - 1j / 0.7 ** 2
    sink_s = p["sigma_s_F"] * q2 * ms + p["P_os"] * p["sigma_o_F"] * mo / p["lambda_o_F"] ** 2
    sink_o = p["sigma_o_F"] * mo / p["lambda_o_F"] ** 2 + p["P_so"] * p["sigma_s_F"] * q2 * ms
    # 0 - J(0+) = -integral  =>  torque = J_s^F(0+) = integral of the spin sinks in F
    assert abs(i["J_s_F"] - np.sum(wF * sink_s) / nm) / j0 < 1e-10
    assert abs(i["J_o_F"] - np.sum(wF * sink_o) / nm) / j0 < 1e-10
    assert abs(sol.torque - np.sum(wF * sink_s) / nm) / j0 < 1e-10


def test_against_solve_bvp():
    """An independent finite-difference/collocation solution (scipy solve_bvp) of
    Eqs. 1-9 agrees with the exact solution."""
    from scipy.integrate import solve_bvp
    p = GENERAL
    dN, dF = p["d_N"], p["d_F"]
    s = {k: p[k] / 1e6 for k in ("sigma_s_N", "sigma_o_N", "sigma_s_F", "sigma_o_F")}
    G = {k: p[k] / 1e15 for k in ("G_s", "G_o", "G_os", "G_so")}
    jref = 1e9
    jS, jO = p["sigma_SHE"] * p["E"] / jref, p["sigma_OHE"] * p["E"] / jref
    q2 = 1 / p["lambda_sf"] ** 2 + 1 / p["lambda_phi"] ** 2 - 1j / p["lambda_J"] ** 2
    Pos, Pso = p["P_os"], p["P_so"]
    A = np.array([[s["sigma_s_F"], Pos * s["sigma_o_F"]], [Pso * s["sigma_s_F"], s["sigma_o_F"]]])
    Ainv = np.linalg.inv(A)
    # complex unknowns (nu = 1e15 mu / jref, lengths in nm, J / jref):
    # N: nu_s, nu_o, J_s, J_o at z = -dN (1 - t);  F: the same at z = dF (1 - t)
    def f(t, y):
        c = y[:8] + 1j * y[8:]
        ns, no, js, jo, fs, fo, gs, go = c
        dns = -(js - jS) / s["sigma_s_N"]
        dno = -(jo - jO) / s["sigma_o_N"]
        djs = -s["sigma_s_N"] * ns / p["lambda_s_N"] ** 2
        djo = -s["sigma_o_N"] * no / p["lambda_o_N"] ** 2
        dfs, dfo = -(Ainv @ np.array([gs, go]))
        dgs = -s["sigma_s_F"] * q2 * fs - Pos * s["sigma_o_F"] * fo / p["lambda_o_F"] ** 2
        dgo = -s["sigma_o_F"] * fo / p["lambda_o_F"] ** 2 - Pso * s["sigma_s_F"] * q2 * fs
        out = np.array([dN * dns, dN * dno, dN * djs, dN * djo,
                        -dF * dfs, -dF * dfo, -dF * dgs, -dF * dgo])
        return np.concatenate([out.real, out.imag])

    def bc(ya, yb):
        a = ya[:8] + 1j * ya[8:]
        b = yb[:8] + 1j * yb[8:]
        dms, dmo = b[0] - b[4], b[1] - b[5]
        r = np.array([a[2], a[3], a[6], a[7],                    # J = 0 at the outer faces
                      b[2] - b[6], b[3] - b[7],                    # continuity at z = 0
                      b[2] - G["G_s"] * dms - G["G_os"] * dmo,     # Eq. 8
                      b[3] - G["G_o"] * dmo - G["G_so"] * dms])    # Eq. 9
        return np.concatenate([r.real, r.imag])

    t = np.linspace(0, 1, 200)
    sol = solve_bvp(f, bc, t, np.zeros((16, t.size)), tol=1e-10, max_nodes=200000)
    assert sol.success, sol.message
    yb = sol.y[:, -1]
    torque_bvp = (yb[2] + 1j * yb[10]) * jref
    ex = dd.solve(p)
    assert abs(torque_bvp - ex.torque) / abs(ex.torque) < 1e-7
    # a profile point deep inside each layer
    zs = np.array([-0.5 * dN])
    ms_ex = ex.n_side(zs)[0][0]
    ms_bvp = sol.sol(0.5)[0] + 1j * sol.sol(0.5)[8]
    assert abs(ms_bvp * jref / 1e15 - ms_ex) / abs(ms_ex) < 1e-6
    js_ex = ex.f_side(np.array([0.5 * dF]))[2][0]
    js_bvp = (sol.sol(0.5)[6] + 1j * sol.sol(0.5)[14]) * jref
    assert abs(js_bvp - js_ex) / abs(ex.torque) < 1e-6


# --------------------------------------------------------------------------
# batching

def test_batch_equals_loop_and_extreme_thickness():
    rng = np.random.default_rng(3)
    n = 40
    p = {k: np.full(n, v) for k, v in GENERAL.items()}
    p["d_F"] = rng.uniform(0.05, 500.0, n)        # up to exp(-alpha d_F) underflow
    p["d_N"] = rng.uniform(0.05, 200.0, n)
    p["lambda_J"] = rng.uniform(0.1, 5.0, n)
    p["G_s"] = 10 ** rng.uniform(13, 17, n)
    for b in dd.BOUNDARIES:
        tb = dd.torque(p, b)
        tl = dd.torque_loop(p, b)
        assert np.all(np.isfinite(tb))
        assert np.max(np.abs(tb - tl) / np.abs(tl)) < 1e-12
    # 2-d batch shapes are kept
    p2 = dict(GENERAL, d_F=np.linspace(1, 10, 6)[:, None], lambda_o_F=np.array([2.0, 5.0, 10.0])[None, :])
    t2 = dd.torque(p2)
    assert t2.shape == (6, 3)
    assert abs(t2[2, 1] - dd.torque(dict(GENERAL, d_F=np.linspace(1, 10, 6)[2], lambda_o_F=5.0))) < 1e-9 * abs(t2[2, 1])


def test_linear_in_sources_and_superposition():
    """Torque is linear in sigma_SHE E and sigma_OHE E (Eqs. 13 + 14 superpose)."""
    a = dd.torque(dict(GENERAL, sigma_OHE=0.0))
    b = dd.torque(dict(GENERAL, sigma_SHE=0.0))
    c = dd.torque(GENERAL)
    assert abs(a + b - c) < 1e-12 * abs(c)
    assert abs(dd.torque(dict(GENERAL, E=2e4)) - 2 * c) < 1e-12 * abs(c)
