"""Real-harmonic rotation matrices (s, p, d) in hpcorb's orbital order.

For a proper or improper orthogonal 3x3 matrix ``Q`` (Cartesian, acting on
column vectors), ``D(Q)`` is the matrix with

    phi_alpha(Q^-1 r) = sum_beta phi_beta(r) D_beta,alpha(Q)

for the real harmonics ``s, px, py, pz, dxy, dyz, dzx, dx2-y2, dz2``: the
function ``phi_alpha`` carried along by the rotation.  For p orbitals
``D = Q``; for d orbitals the five functions are the quadratic forms
``r^T M_alpha r`` (``M`` symmetric traceless, all with Frobenius norm^2 3/2),
so ``D_beta,alpha = (2/3) tr(M_beta Q M_alpha Q^T)``.

The two-centre (Slater-Koster) matrix element of a bond d transforms as
``E(Q d) = D(Q) E(d) D(Q)^T`` -- used by :mod:`hpcorb.models.slaterkoster`
and by the rotation-invariance tests.
"""
from __future__ import annotations

import numpy as np

from .orbitals import ORBITALS

_S3 = np.sqrt(3.0)


def _d_forms() -> np.ndarray:
    """M (5, 3, 3) for dxy, dyz, dzx, dx2-y2, dz2 (normalized as 3 xy, etc.)."""
    M = np.zeros((5, 3, 3))
    h = _S3 / 2
    M[0, 0, 1] = M[0, 1, 0] = h          # sqrt3 xy
    M[1, 1, 2] = M[1, 2, 1] = h          # sqrt3 yz
    M[2, 2, 0] = M[2, 0, 2] = h          # sqrt3 zx
    M[3, 0, 0], M[3, 1, 1] = h, -h       # sqrt3/2 (x^2 - y^2)
    M[4] = np.diag([-0.5, -0.5, 1.0])    # (3 z^2 - r^2) / 2
    return M


D_FORMS = _d_forms()


def d_rotation(Q) -> np.ndarray:
    """D^(l=2)(Q), shape (..., 5, 5), batched over leading axes of Q (..., 3, 3)."""
    Q = np.asarray(Q, dtype=float)
    rot = np.einsum("...ij,ajk,...lk->...ail", Q, D_FORMS, Q)        # Q M_a Q^T
    return (2.0 / 3.0) * np.einsum("bij,...aij->...ba", D_FORMS, rot)


def p_rotation(Q) -> np.ndarray:
    return np.asarray(Q, dtype=float)


def orbital_rotation(Q, labels=ORBITALS) -> np.ndarray:
    """D(Q) (n, n) (or batched) for a subset of orbitals of one site, in ``labels`` order."""
    Q = np.asarray(Q, dtype=float)
    full = np.zeros(Q.shape[:-2] + (9, 9))
    full[..., 0, 0] = 1.0
    full[..., 1:4, 1:4] = Q
    full[..., 4:9, 4:9] = d_rotation(Q)
    idx = [ORBITALS.index(o) for o in labels]
    return full[..., idx, :][..., :, idx]


def spin_rotation(Q) -> np.ndarray:
    """SU(2) matrix U (2, 2) of a proper rotation Q: U sigma_a U^+ = sum_b sigma_b Q_ba."""
    from scipy.spatial.transform import Rotation
    rv = Rotation.from_matrix(Q).as_rotvec()
    ang = np.linalg.norm(rv)
    if ang < 1e-15:
        return np.eye(2, dtype=complex)
    n = rv / ang
    sig = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
    return np.cos(ang / 2) * np.eye(2) - 1j * np.sin(ang / 2) * np.einsum("a,aij->ij", n, sig)


def random_rotation(rng) -> np.ndarray:
    """A random proper rotation (3, 3) from a numpy Generator."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def rotation_to(d) -> np.ndarray:
    """Proper rotations Q (..., 3, 3) with Q e_z = d / |d| (batched over d (..., 3))."""
    d = np.asarray(d, dtype=float)
    n = d / np.linalg.norm(d, axis=-1, keepdims=True)
    # helper axis not parallel to n
    helper = np.where(np.abs(n[..., 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    e1 = np.cross(helper, n)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(n, e1)
    return np.stack([e1, e2, n], axis=-1)           # columns: images of x, y, z
