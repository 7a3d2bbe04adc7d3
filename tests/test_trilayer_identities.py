"""Exact lattice identities of PHYSICS.md section 6 (paper 004), checked at every site.

The operator identity is tested for an arbitrary (non-equilibrium) state
against a literal dense commutator i Tr([H, J^(n)] rho); Eq. 7 and Eq. 10
against literal operator matrices built here from the paper's formulas.
"""
import numpy as np
import pytest

from hpcorb.kernels import realspace as rs
from hpcorb.models.t2g import L_PAPER, PAULI, build_lattice

BASE = dict(nx=6, ny=4, n_fm=1, gamma=0.4, t=1.0, mu=-0.2, temperature=0.05,
            m_left=[0.8, 0.0, 0.6], m_right=[0.0, 1.0, 0.3])

CASES = {
    "t2g": dict(),
    "t2g_disorder_average_bond": dict(disorder=1.0, seed=7, interface_bond="average", bond_scale=0.7),
    "t2g_open_y_fm_bond": dict(periodic_y=False, interface_bond="fm", gamma=0.0, t_prime=0.6),
    "altermagnet": dict(normal_metal="altermagnet", w=0.4, disorder=0.3, seed=1),
    "bilayer_3fm": dict(n_fm=2, n_fm_right=0, ny=3),
}


def lattice(name):
    return build_lattice({**BASE, **CASES[name]})


def site_J(lat, x, y, a):
    """J_alpha on site (x, y) as a full matrix."""
    N, no = lat.n_states, lat.norb
    M = np.zeros((N, N), dtype=complex)
    i = lat.index(x, y, 0)
    M[i:i + no, i:i + no] = lat.J[a]
    return M


def random_rho(N, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))
    return (X + X.conj().T) / 2


def neighbours_y(lat, arr):
    """value at (x, y-1) for y-bond arrays defined on (x, y) -> (x, y+1)."""
    if lat.periodic_y:
        return np.roll(arr, 1, axis=1)
    out = np.zeros_like(arr)
    out[:, 1:] = arr[:, :-1]
    return out


def test_angular_momentum_algebra():
    for J in (L_PAPER, PAULI / 2):
        for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
            assert np.allclose(J[a] @ J[b] - J[b] @ J[a], 1j * J[c], atol=1e-15)
    assert np.allclose(sum(L @ L for L in L_PAPER), 2 * np.eye(3))   # l(l+1) = 2


@pytest.mark.parametrize("name", list(CASES))
def test_operator_identity_any_state(name):
    """dJ_n/dt + sum_m Jb(n->m) = tau_ex(n) + sum_m tau_b(n,m) for an arbitrary rho, every site."""
    lat = lattice(name)
    H = lat.hamiltonian().toarray()
    assert np.abs(H - H.conj().T).max() == 0
    rho = random_rho(lat.n_states, seed=len(name))
    b = rs.Blocks.from_rho(rho, lat.nx, lat.ny, lat.norb, periodic_y=lat.periodic_y)
    s = rs.site_observables(lat, b)
    lhs_bonds = (s["bond_current_x"] - s["bond_current_x_in"]
                 + s["bond_current_y"] - neighbours_y(lat, s["bond_current_y"]))
    rhs = (s["exchange_torque"] + s["bond_torque_x"] + s["bond_torque_x_in"]
           + s["bond_torque_y"] + neighbours_y(lat, s["bond_torque_y"]))
    worst = 0.0
    for x in range(lat.nx):
        for y in range(lat.ny):
            for a in range(3):
                Jn = site_J(lat, x, y, a)
                dJ = (1j * np.trace((H @ Jn - Jn @ H) @ rho)).real
                worst = max(worst, abs(dJ + lhs_bonds[x, y, a] - rhs[x, y, a]))
    assert worst < 1e-12


def literal_eq7(lat, x, y, a):
    """(i/4)[c_n^dag J T_{n,n+x} c_{n+x} - c_n^dag J T_{n,n-x} c_{n-x}] + h.c. as a matrix."""
    N, no, s = lat.n_states, lat.norb, lat.scale
    H = lat.hamiltonian().toarray()
    O = np.zeros((N, N), dtype=complex)
    n = lat.index(x, y, 0)
    for dx, sign in ((1, 1), (-1, -1)):
        if 0 <= x + dx < lat.nx:
            m = lat.index(x + dx, y, 0)
            T = H[n:n + no, m:m + no] / s           # hopping matrix n -> m (disorder is on-site only)
            O[n:n + no, m:m + no] += sign * 0.25j * lat.J[a] @ T
    return O + O.conj().T


def literal_eq10(lat, x, y, a, k):
    """i c^dag C c - (i/2) d c^dag C d c, C = [T_loc, J], d c = (c_{n+k} - c_{n-k})/2."""
    N, no = lat.n_states, lat.norb
    T = (lat.tloc_x if k == 0 else lat.tloc_y)[x]
    C = T @ lat.J[a] - lat.J[a] @ T
    O = np.zeros((N, N), dtype=complex)
    n = lat.index(x, y, 0)
    O[n:n + no, n:n + no] += 1j * C
    nb = []
    for sgn in (1, -1):
        xx, yy = (x + sgn, y) if k == 0 else (x, y + sgn)
        if k == 1 and lat.periodic_y:
            yy %= lat.ny
        if 0 <= xx < lat.nx and 0 <= yy < lat.ny:
            nb.append((sgn, lat.index(xx, yy, 0)))
    for sp, p in nb:
        for sq, q in nb:
            O[p:p + no, q:q + no] += -0.5j * 0.25 * sp * sq * C
    return O


@pytest.mark.parametrize("name", list(CASES))
def test_eq7_eq10_literal_and_bond_form(name):
    lat = lattice(name)
    rho = random_rho(lat.n_states, seed=3)
    b = rs.Blocks.from_rho(rho, lat.nx, lat.ny, lat.norb, periodic_y=lat.periodic_y)
    s = rs.site_observables(lat, b)
    worst7 = worst10 = 0.0
    for x in range(lat.nx):
        for y in range(lat.ny):
            for a in range(3):
                j = np.trace(literal_eq7(lat, x, y, a) @ rho)
                worst7 = max(worst7, abs(j - s["current_eq7"][x, y, a]))
                for k, key in ((0, "torque_eq10_x"), (1, "torque_eq10_y")):
                    tau = np.trace(literal_eq10(lat, x, y, a, k) @ rho)
                    worst10 = max(worst10, abs(tau - s[key][x, y, a]))
    assert worst7 < 1e-12 and worst10 < 1e-12
    # Eq. 7 in terms of bond currents and torques, every site (any state)
    sc = lat.scale
    eq7 = ((s["bond_current_x"] + s["bond_current_x_in"]) / (4 * sc)
           - (s["bond_torque_x"] - s["bond_torque_x_in"]) / (4 * sc))
    assert np.abs(eq7 - s["current_eq7"]).max() < 1e-12


@pytest.mark.parametrize("name", list(CASES))
def test_equilibrium_bond_form_every_site(name):
    """Equilibrium (dJ/dt = 0): per site and y-averaged bond form of the continuity equation."""
    lat = lattice(name)
    H = lat.hamiltonian().toarray()
    E, U = np.linalg.eigh(H)
    rho = (U * rs.fermi(E, 0.05)) @ U.conj().T
    assert np.abs(rho @ H - H @ rho).max() < 1e-12          # a stationary state
    b = rs.Blocks.from_rho(rho, lat.nx, lat.ny, lat.norb, periodic_y=lat.periodic_y)
    s = rs.site_observables(lat, b)
    res = (s["bond_current_x"] - s["bond_current_x_in"]
           + s["bond_current_y"] - neighbours_y(lat, s["bond_current_y"])
           - s["exchange_torque"] - s["bond_torque_x"] - s["bond_torque_x_in"]
           - s["bond_torque_y"] - neighbours_y(lat, s["bond_torque_y"]))
    assert np.abs(res).max() < 1e-12
    col = rs.column_average(s)
    assert np.abs(rs.bond_form_residual(col)).max() < 1e-12
    assert np.abs(rs.eq7_from_bonds(col, lat.scale) - col["current_eq7"]).max() < 1e-12


def test_bond_current_antisymmetric_torque_symmetric():
    """Jb(m->n) = -Jb(n->m), tau_b(m,n) = tau_b(n,m), from the literal definitions."""
    lat = lattice("altermagnet")
    rho = random_rho(lat.n_states, seed=11)
    no = lat.norb
    H = lat.hamiltonian().toarray()
    n, m = lat.index(2, 1, 0), lat.index(3, 1, 0)
    for a in range(3):
        J = lat.J[a]
        hnm, hmn = H[n:n + no, m:m + no], H[m:m + no, n:n + no]
        rmn, rnm = rho[m:m + no, n:n + no], rho[n:n + no, m:m + no]
        jnm = -np.trace((hnm @ J + J @ hnm) @ rmn).imag
        jmn = -np.trace((hmn @ J + J @ hmn) @ rnm).imag
        tnm = -np.trace((hnm @ J - J @ hnm) @ rmn).imag
        tmn = -np.trace((hmn @ J - J @ hmn) @ rnm).imag
        assert abs(jnm + jmn) < 1e-14 and abs(tnm - tmn) < 1e-14


def test_streamed_blocks_equal_dense_rho():
    """Accumulating eigenvector chunks gives the blocks of rho = U f U^dag."""
    lat = lattice("t2g_disorder_average_bond")
    E, U = np.linalg.eigh(lat.hamiltonian().toarray())
    rho = (U * rs.fermi(E, 0.05)) @ U.conj().T
    for c0, c1 in ((0, lat.nx), (0, 2), (2, 5), (5, 6)):
        ref_part = rs.Blocks.from_rho(rho, lat.nx, lat.ny, lat.norb, c0, c1)
        acc = rs.Blocks(lat.norb, c0, c1, lat.ny)
        lo, hi = max(c0 - 1, 0), min(c1 + 1, lat.nx)
        V = U.reshape(lat.nx, lat.ny, lat.norb, -1)[lo:hi]
        for i in range(0, len(E), 13):
            acc.add_vectors(V[..., i:i + 13], E[i:i + 13], 0.05, lat.nx)
        for name in rs.BLOCK_NAMES:
            assert np.abs(getattr(acc, name) - getattr(ref_part, name)).max() < 1e-13
    assert abs(acc.F - np.sum(-0.05 * np.log1p(np.exp(-E / 0.05)))) < 1e-12 * abs(acc.F)


def test_eq11_commutators():
    """Eq. 10 -> Eq. 11: i[T_k, L_a] = c |L_a| with the paper's coefficients; 11a and 11b agree,
    11c comes out with the opposite overall sign (PHYSICS.md section 6)."""
    g, t = 0.3, 1.0
    lat = build_lattice(dict(nx=3, ny=3, gamma=g, t=t, m_left=[0, 0, 0], m_right=[0, 0, 0]))
    Tx, Ty = lat.tloc_x[1], lat.tloc_y[1]
    absL = np.abs(L_PAPER)

    def onsite_coef(T, a):        # i [T, L_a] = c |L_a|  -> c
        M = 1j * (T @ L_PAPER[a] - L_PAPER[a] @ T)
        c = M[absL[a] > 0][0].real
        assert np.allclose(M, c * absL[a])
        return c
    d = t - g
    # on-site terms: 11a: -(t-gamma)|Lx| (from the y bonds), 11b: +(t-gamma)|Ly| (x bonds), 11c: none
    assert np.isclose(onsite_coef(Tx, 0) + onsite_coef(Ty, 0), -d)
    assert np.isclose(onsite_coef(Tx, 1) + onsite_coef(Ty, 1), d)
    assert np.isclose(onsite_coef(Tx, 2) + onsite_coef(Ty, 2), 0)
    # gradient terms -(i/2) d c^dag [T, L] d c = -(1/2) c |L|: coefficient -(1/2) onsite_coef
    assert np.isclose(-0.5 * onsite_coef(Ty, 0), 0.5 * d)      # 11a: +(1/2)(t-gamma) dy|Lx|dy
    assert np.isclose(-0.5 * onsite_coef(Tx, 1), -0.5 * d)     # 11b: -(1/2)(t-gamma) dx|Ly|dx
    # 11c as printed: +(1/2)(t-gamma) dx|Lz|dx - (1/2)(t-gamma) dy|Lz|dy; Eq. 10 gives the negative
    assert np.isclose(-0.5 * onsite_coef(Tx, 2), -0.5 * d)
    assert np.isclose(-0.5 * onsite_coef(Ty, 2), 0.5 * d)
