"""Slater-Koster table, real-harmonic rotations and angular-momentum algebra."""
import numpy as np
import pytest

from hpcorb.models.orbitals import ORBITALS, l_matrices, soc_matrix, L_FULL
from hpcorb.models.rotations import orbital_rotation, random_rotation, rotation_to, spin_rotation
from hpcorb.models.slaterkoster import BONDS, sk_element, sk_matrices

S3 = np.sqrt(3.0)


def literal_table(V, l, m, n):
    """Slater & Koster (1954) Table I, typed in independently (a, b, value)."""
    d = dict(zip(BONDS, V))
    return {
        ("s", "s"): d["sss"],
        ("s", "px"): l * d["sps"], ("s", "py"): m * d["sps"], ("s", "pz"): n * d["sps"],
        ("px", "px"): l * l * d["pps"] + (1 - l * l) * d["ppp"],
        ("py", "py"): m * m * d["pps"] + (1 - m * m) * d["ppp"],
        ("px", "py"): l * m * (d["pps"] - d["ppp"]),
        ("px", "pz"): l * n * (d["pps"] - d["ppp"]),
        ("s", "dxy"): S3 * l * m * d["sds"], ("s", "dyz"): S3 * m * n * d["sds"],
        ("s", "dx2-y2"): S3 / 2 * (l * l - m * m) * d["sds"],
        ("s", "dz2"): (n * n - (l * l + m * m) / 2) * d["sds"],
        ("px", "dxy"): S3 * l * l * m * d["pds"] + m * (1 - 2 * l * l) * d["pdp"],
        ("py", "dyz"): S3 * m * m * n * d["pds"] + n * (1 - 2 * m * m) * d["pdp"],   # cyclic of x,xy
        ("px", "dyz"): S3 * l * m * n * d["pds"] - 2 * l * m * n * d["pdp"],
        ("px", "dzx"): S3 * l * l * n * d["pds"] + n * (1 - 2 * l * l) * d["pdp"],
        ("px", "dx2-y2"): S3 / 2 * l * (l * l - m * m) * d["pds"] + l * (1 - l * l + m * m) * d["pdp"],
        ("py", "dx2-y2"): S3 / 2 * m * (l * l - m * m) * d["pds"] - m * (1 + l * l - m * m) * d["pdp"],
        ("pz", "dx2-y2"): S3 / 2 * n * (l * l - m * m) * d["pds"] - n * (l * l - m * m) * d["pdp"],
        ("px", "dz2"): l * (n * n - (l * l + m * m) / 2) * d["pds"] - S3 * l * n * n * d["pdp"],
        ("pz", "dz2"): n * (n * n - (l * l + m * m) / 2) * d["pds"] + S3 * n * (l * l + m * m) * d["pdp"],
        ("dxy", "dxy"): 3 * l * l * m * m * d["dds"] + (l * l + m * m - 4 * l * l * m * m) * d["ddp"]
        + (n * n + l * l * m * m) * d["ddd"],
        ("dxy", "dyz"): 3 * l * m * m * n * d["dds"] + l * n * (1 - 4 * m * m) * d["ddp"]
        + l * n * (m * m - 1) * d["ddd"],
        ("dxy", "dzx"): 3 * l * l * m * n * d["dds"] + m * n * (1 - 4 * l * l) * d["ddp"]
        + m * n * (l * l - 1) * d["ddd"],
        ("dxy", "dx2-y2"): 1.5 * l * m * (l * l - m * m) * d["dds"] + 2 * l * m * (m * m - l * l) * d["ddp"]
        + 0.5 * l * m * (l * l - m * m) * d["ddd"],
        ("dyz", "dx2-y2"): 1.5 * m * n * (l * l - m * m) * d["dds"] - m * n * (1 + 2 * (l * l - m * m)) * d["ddp"]
        + m * n * (1 + (l * l - m * m) / 2) * d["ddd"],
        ("dzx", "dx2-y2"): 1.5 * n * l * (l * l - m * m) * d["dds"] + n * l * (1 - 2 * (l * l - m * m)) * d["ddp"]
        - n * l * (1 - (l * l - m * m) / 2) * d["ddd"],
        ("dxy", "dz2"): S3 * l * m * (n * n - (l * l + m * m) / 2) * d["dds"] - 2 * S3 * l * m * n * n * d["ddp"]
        + S3 / 2 * l * m * (1 + n * n) * d["ddd"],
        ("dyz", "dz2"): S3 * m * n * (n * n - (l * l + m * m) / 2) * d["dds"]
        + S3 * m * n * (l * l + m * m - n * n) * d["ddp"] - S3 / 2 * m * n * (l * l + m * m) * d["ddd"],
        ("dx2-y2", "dx2-y2"): 0.75 * (l * l - m * m) ** 2 * d["dds"] + (l * l + m * m - (l * l - m * m) ** 2) * d["ddp"]
        + (n * n + (l * l - m * m) ** 2 / 4) * d["ddd"],
        ("dx2-y2", "dz2"): S3 / 2 * (l * l - m * m) * (n * n - (l * l + m * m) / 2) * d["dds"]
        + S3 * n * n * (m * m - l * l) * d["ddp"] + S3 / 4 * (1 + n * n) * (l * l - m * m) * d["ddd"],
        ("dz2", "dz2"): (n * n - (l * l + m * m) / 2) ** 2 * d["dds"] + 3 * n * n * (l * l + m * m) * d["ddp"]
        + 0.75 * (l * l + m * m) ** 2 * d["ddd"],
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table_both_directions(seed):
    rng = np.random.default_rng(seed)
    V = rng.normal(size=10)
    v = rng.normal(size=3)
    lmn = v / np.linalg.norm(v)
    for (a, b), val in literal_table(V, *lmn).items():
        assert abs(sk_element(a, b, lmn, V) - val) < 1e-13, (a, b)
        # reversed bond: E_ba(-d) = E_ab(d)
        assert abs(sk_element(b, a, -lmn, V) - val) < 1e-13, (b, a)
        # parity: E_ba(d) = (-1)^(la+lb) E_ab(d)
        la, lb = (0 if o == "s" else 1 if o[0] == "p" else 2 for o in (a, b))
        assert abs(sk_element(b, a, lmn, V) - (-1) ** (la + lb) * val) < 1e-13


def test_axis_bonds_and_hermiticity():
    V = np.arange(1, 11) / 10.0
    E = sk_matrices(np.array([[0, 0, 2.0], [0, 0, -2.0]]), V)
    d = dict(zip(BONDS, V))
    i = {o: k for k, o in enumerate(ORBITALS)}
    assert E[0, i["s"], i["pz"]] == pytest.approx(d["sps"])
    assert E[1, i["s"], i["pz"]] == pytest.approx(-d["sps"])
    assert E[0, i["dxy"], i["dxy"]] == pytest.approx(d["ddd"])
    assert E[0, i["dzx"], i["dzx"]] == pytest.approx(d["ddp"])
    # H(-d) = H(d)^T (real orbitals): the bond seen from the other atom
    assert np.allclose(E[1], E[0].T)


def test_rotation_representation():
    rng = np.random.default_rng(3)
    Q1, Q2 = random_rotation(rng), random_rotation(rng)
    D1, D2, D12 = orbital_rotation(Q1), orbital_rotation(Q2), orbital_rotation(Q1 @ Q2)
    assert np.allclose(D1 @ D1.T, np.eye(9), atol=1e-13)
    assert np.allclose(D1 @ D2, D12, atol=1e-13)
    Q = rotation_to(np.array([0.3, -0.2, 0.9]))
    assert np.allclose(Q @ [0, 0, 1], np.array([0.3, -0.2, 0.9]) / np.linalg.norm([0.3, -0.2, 0.9]))


def test_L_is_a_vector_operator():
    """D(Q) L_a D(Q)^T = sum_b Q_ba L_b: rotations and L are consistent."""
    rng = np.random.default_rng(4)
    Q = random_rotation(rng)
    D = orbital_rotation(Q)
    L = L_FULL
    lhs = np.einsum("ij,ajk,lk->ail", D, L, D)
    rhs = np.einsum("ba,bij->aij", Q, L)
    assert np.allclose(lhs, rhs, atol=1e-13)
    U = spin_rotation(Q)
    sig = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
    assert np.allclose(np.einsum("ij,ajk,lk->ail", U, sig, U.conj()), np.einsum("ba,bij->aij", Q, sig), atol=1e-13)


@pytest.mark.parametrize("labels,l", [(["px", "py", "pz"], 1), (["dxy", "dyz", "dzx", "dx2-y2", "dz2"], 2)])
def test_angular_momentum_algebra(labels, l):
    L = l_matrices(labels)
    assert np.allclose(L[0] @ L[1] - L[1] @ L[0], 1j * L[2], atol=1e-14)
    assert np.allclose(L[1] @ L[2] - L[2] @ L[1], 1j * L[0], atol=1e-14)
    L2 = sum(L[a] @ L[a] for a in range(3))
    assert np.allclose(L2, l * (l + 1) * np.eye(len(labels)), atol=1e-14)
    LS = soc_matrix(labels, 1.0, 1.0)
    w = np.linalg.eigvalsh(LS)
    expect = sorted([-(l + 1) / 2] * (2 * l) + [l / 2] * (2 * l + 2))
    assert np.allclose(w, expect, atol=1e-13)
