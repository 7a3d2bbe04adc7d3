"""The diffusion kernel's Kramers-pair path against the literal formula."""
import numpy as np

from hpcorb.kernels.diffusion import _kramers, diffusion_kernel
from hpcorb.kernels.diffusion_slow import diffusion_literal

rng = np.random.default_rng(7)


def kramers_model(n, nk):
    """Random H, dH with a PT-like antiunitary symmetry (K i sigma_y, squares to -1):
    H = h0 (x) 1 + i sum_a h_a (x) sigma_a with h0 real symmetric, h_a real
    antisymmetric -- every level is exactly two-fold degenerate."""
    pauli = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])

    def one():
        a = rng.normal(size=(n, n))
        M = np.kron(a + a.T, np.eye(2)).astype(complex)
        for s in pauli:
            b = rng.normal(size=(n, n)) * 0.4
            M += 1j * np.kron(b - b.T, s)
        return M
    H = np.array([one() for _ in range(nk)])
    dH = np.array([[one() for _ in range(3)] for _ in range(nk)])
    ops = np.array([one() for _ in range(6)])
    return H, dH, ops[:3], ops[3:]


def test_kramers_path_equals_literal():
    H, dH, sig, L = kramers_model(4, 3)
    E = np.linalg.eigvalsh(H)
    assert _kramers(E, 1e-5 * 0.1).all()                # the block path is the one tested
    en = np.linspace(-4, 4, 7)
    c1, t1 = diffusion_kernel(H, dH, sig, L, en, 0.1)
    c2, t2 = diffusion_literal(H, dH, sig, L, en, 0.1)
    rel = lambda a, b: np.abs(a - b).max() / np.abs(b).max()   # noqa: E731
    assert rel(c1, c2) < 1e-10 and rel(t1, t2) < 1e-10


def test_mixed_batch_kramers_and_generic():
    """k with clean pairs and k with an extra (accidental) degeneracy in one batch."""
    H, dH, sig, L = kramers_model(4, 3)
    w, U = np.linalg.eigh(H[1])
    w[2:4] = w[0]                                        # four-fold: the generic pair path
    H[1] = (U * w) @ U.conj().T
    E = np.linalg.eigvalsh(H)
    assert list(_kramers(E, 1e-5)) == [True, False, True]
    en = np.linspace(-4, 4, 5)
    c1, t1 = diffusion_kernel(H, dH, sig, L, en, 0.13)
    c2, t2 = diffusion_literal(H, dH, sig, L, en, 0.13)
    rel = lambda a, b: np.abs(a - b).max() / np.abs(b).max()   # noqa: E731
    assert rel(c1, c2) < 1e-10 and rel(t1, t2) < 1e-10
