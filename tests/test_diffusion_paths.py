"""The diffusion kernel's code paths against each other and against the literal formula.

Paths: single-level blocks (non-degenerate spectra), Kramers-pair blocks, the
general pair-list path (other degeneracies, near-degeneracies); batches vs
one k at a time; the symmetry support (only the components the projection
reads); SOC scans sharing S(k)^-1/2.  References: the literal Eqs. 8, 10-13
(explicit inverses) and the general path, never numbers the code printed.
"""
import numpy as np
import pytest

from hpcorb.api import diffusion as physics
from hpcorb.config import MODEL, validate_table
from hpcorb.kernels import diffusion as kd
from hpcorb.kernels.diffusion_slow import diffusion_literal
from hpcorb.models import lowdin
from hpcorb.models.build import build_model
from hpcorb.models.orbitals import PAULI
from hpcorb.symmetry import rebuild
from test_speed_diffusion import kramers_model  # H, dH with exact Kramers pairs

rng = np.random.default_rng(2024)
PAU = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def herm(n, *shape):
    X = rng.normal(size=shape + (n, n)) + 1j * rng.normal(size=shape + (n, n))
    return X + np.conj(np.swapaxes(X, -1, -2))


def general_only(monkeypatch):
    """Send every k-point through the general pair-list path."""
    monkeypatch.setattr(kd, "_blocks", lambda E, gamma: np.zeros(len(E), dtype=int))


def test_single_level_blocks_equal_literal():
    N, nk = 6, 4
    H, dH, sig, L = herm(N, nk), herm(N, nk, 3), herm(N, 3), herm(N, 3)
    assert (kd._blocks(np.linalg.eigvalsh(H), 0.12) == 1).all()
    en = np.linspace(-5, 5, 7)
    c1, t1 = kd.diffusion_kernel(H, dH, sig, L, en, 0.12)
    c2, t2 = diffusion_literal(H, dH, sig, L, en, 0.12)
    assert rel(c1, c2) < 1e-10 and rel(t1, t2) < 1e-10


@pytest.mark.parametrize("model", ["random", "kramers"])
def test_block_paths_equal_general_path(model, monkeypatch):
    if model == "random":
        N, nk = 6, 3
        H, dH, sig, L = herm(N, nk), herm(N, nk, 3), herm(N, 3), herm(N, 3)
    else:
        H, dH, sig, L = kramers_model(4, 3)
    en = np.linspace(-4, 4, 6)
    b = kd._blocks(np.linalg.eigvalsh(H), 0.1)
    assert (b == (1 if model == "random" else 2)).all()
    c1, t1 = kd.diffusion_kernel(H, dH, sig, L, en, 0.1)
    general_only(monkeypatch)
    c2, t2 = kd.diffusion_kernel(H, dH, sig, L, en, 0.1)
    assert rel(c1, c2) < 1e-12 and rel(t1, t2) < 1e-12


def test_batch_equals_one_k_at_a_time_with_weights():
    """A batch mixing Kramers k, a k with an extra (accidental) degeneracy and a
    near-degenerate k equals the weighted sum of single-k calls."""
    H, dH, sig, L = kramers_model(4, 4)
    w, U = np.linalg.eigh(H[1])
    w[2:4] = w[0]                                        # four-fold: general path
    H[1] = (U * w) @ U.conj().T
    w, U = np.linalg.eigh(H[3])
    w[2:4] = w[0:2] + 2e-7                               # two pairs 2e-7 apart (< delta): near-degenerate
    H[3] = (U * w) @ U.conj().T
    g = 0.1
    assert list(kd._blocks(np.linalg.eigvalsh(H), g)) == [2, 0, 2, 0]
    en = np.linspace(-3, 3, 5)
    wts = np.array([1.0, 6.0, 12.0, 48.0])
    cb, tb = kd.diffusion_kernel(H, dH, sig, L, en, g, weights=wts)
    parts = [kd.diffusion_kernel(H[k:k + 1], dH[k:k + 1], sig, L, en, g) for k in range(4)]
    cs = sum(wk * p[0] for wk, p in zip(wts, parts))
    ts = sum(wk * p[1] for wk, p in zip(wts, parts))
    assert rel(cb, cs) < 1e-12 and rel(tb, ts) < 1e-12
    cl, tl = diffusion_literal(H[3:], dH[3:], sig, L, en, g)
    assert rel(parts[3][0], cl) < 1e-10 and rel(parts[3][1], tl) < 1e-10


def test_spinful_without_soc_degeneracies():
    """Spin-degenerate model (no SOC) with an orbital degeneracy on top: pairs and a 4-fold level."""
    n, nk = 3, 3
    h, dh, l = herm(n, nk), herm(n, nk, 3), herm(n, 3)
    w, U = np.linalg.eigh(h[2])
    w[1] = w[0]
    h[2] = (U * w) @ U.conj().T
    I2 = np.eye(2)
    H = np.einsum("st,kab->ksatb", I2, h).reshape(nk, 2 * n, 2 * n)
    dH = np.einsum("st,kcab->kcsatb", I2, dh).reshape(nk, 3, 2 * n, 2 * n)
    sig = np.array([np.kron(p, np.eye(n)) for p in PAULI])
    L = np.array([np.kron(I2, x) for x in l])
    # spin-major basis: sort into Kramers-like pairs only through eigh; the 4-fold k takes the general path
    assert kd._blocks(np.linalg.eigvalsh(H), 0.1)[2] == 0
    en = np.linspace(-3, 3, 5)
    c1, t1 = kd.diffusion_kernel(H, dH, sig, L, en, 0.1)
    c2, t2 = diffusion_literal(H, dH, sig, L, en, 0.1)
    assert rel(c1, c2) < 1e-10 and rel(t1, t2) < 1e-10


def cubic_rotations():
    """The 48 operations of O_h as signed permutation matrices."""
    from itertools import permutations, product
    out = []
    for p in permutations(range(3)):
        for s in product((1, -1), repeat=3):
            R = np.zeros((3, 3))
            R[range(3), p] = s
            out.append(R)
    return np.array(out)


def test_support_cubic_is_even_components():
    ch, te = kd.support_of(cubic_rotations())
    assert (ch == np.eye(3, dtype=bool)).all()
    idx = np.indices((3, 3, 3, 3)).reshape(4, -1).T
    even = np.array([all(np.count_nonzero(r == a) % 2 == 0 for a in range(3)) for r in idx]).reshape(3, 3, 3, 3)
    assert (te == even[None, :, :, None]).all() and te.sum() == 84
    ch1, te1 = kd.support_of(np.eye(3)[None])
    assert ch1.all() and te1.all()


@pytest.mark.parametrize("group", ["cubic", "tetragonal"])
def test_support_kernel_equals_full_after_rebuild(group):
    """Evaluating only the supported components changes nothing after the symmetrization."""
    rots = cubic_rotations()
    if group == "tetragonal":                       # the subgroup that keeps z (16 operations)
        rots = rots[np.abs(rots[:, 2, 2]) == 1]
    H, dH, sig, L = kramers_model(3, 2)
    en = np.linspace(-2, 2, 3)
    sup = kd.support_of(rots)
    cf, tf = kd.diffusion_kernel(H, dH, sig, L, en, 0.1)
    cs, ts = kd.diffusion_kernel(H, dH, sig, L, en, 0.1, support=sup)
    assert np.all(cs[:, ~sup[0]] == 0) and np.all(ts[:, ~sup[1]] == 0)
    assert rel(cs[:, sup[0]], cf[:, sup[0]]) < 1e-13 and rel(ts[:, sup[1]], tf[:, sup[1]]) < 1e-13
    axes = ("axial", "polar", "axial", "polar")
    full = np.moveaxis(rebuild(np.moveaxis(tf, (1, 4), (0, 1)), rots, axes), (0, 1), (1, 4))
    part = np.moveaxis(rebuild(np.moveaxis(ts, (1, 4), (0, 1)), rots, axes), (0, 1), (1, 4))
    assert rel(part, full) < 1e-13
    assert rel(rebuild(cs, rots, ("polar", "polar")), rebuild(cf, rots, ("polar", "polar"))) < 1e-13


def test_soc_scan_shares_overlap_and_bloch_sums():
    kw = {"material": "Ta", "parametrization": "nrl", "spin": True}
    models = [build_model(validate_table(MODEL, dict(kw, soc_scale=s), "model", "."), periodic=3)
              for s in (0.0, 0.4, 1.0)]
    assert physics._same_overlap(models)
    D = physics._onsite_difference(models[2], models[0])
    assert D is not None and np.abs(D).max() > 0.01             # the SOC term, on-site
    kf = rng.random((5, 3))
    (H, dH), = physics.hamiltonians_for(models[2:])(kf)          # one model alone
    H0, dH0 = lowdin.hk_dhk(models[2], kf)
    assert rel(H, H0) < 1e-13 and rel(dH, dH0) < 1e-13
    for lin in (None, physics._linear_in_soc(models, [0.0, 0.4, 1.0])):
        shared = list(physics.hamiltonians_for(models, lin)(kf))
        for m, (H, dH) in zip(models, shared):
            H0, dH0 = lowdin.hk_dhk(m, kf)
            assert rel(H, H0) < 1e-13 and rel(dH, dH0) < 1e-13


def test_onsite_difference_refuses_hopping_changes():
    kw = {"material": "Ta", "parametrization": "nrl", "spin": True}
    m0 = build_model(validate_table(MODEL, kw, "model", "."), periodic=3)
    m1 = build_model(validate_table(MODEL, kw, "model", "."), periodic=3)
    m1.H = m1.H.copy()
    r = int(np.flatnonzero(np.any(m1.R != 0, axis=1))[0])
    m1.H[r] = m1.H[r] * 1.01
    assert physics._onsite_difference(m1, m0) is None


def test_bench_old_code_runs_the_baseline_kernel(monkeypatch):
    """./run bench diffusion's "old" deck run really goes through the pre-issue-13 kernel
    (the API binds the kernel's name, so the benchmark patches the API module), and the
    API is restored afterwards; old and new give the same tensor."""
    from hpcorb.bench import _diffusion_baseline as base
    from hpcorb.bench import diffusion as bd
    calls = []
    real = base.diffusion_kernel
    monkeypatch.setattr(base, "diffusion_kernel", lambda *a, **k: calls.append(1) or real(*a, **k))
    _, old = bd._old_code_run(3)
    assert calls and physics.diffusion_kernel is kd.diffusion_kernel
    n_old = len(calls)
    _, new = bd._new_code_run(3)
    assert len(calls) == n_old
    assert rel(new["tensor"], old["tensor"]) < 1e-10 and rel(new["charge"], old["charge"]) < 1e-10


def test_spin_rep_of_pi_rotations_with_rounding():
    """A pi rotation whose matrix carries 1e-16 rounding (as when built from the lattice
    vectors) still gets its SU(2) matrix (the angle test used to miss it: V lost 18 of 48)."""
    from hpcorb.symmetry import spin_rep
    for R in (np.diag([-1.0, -1.0, 1.0]), np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, -1]])):
        for eps in (0.0, 2e-16, -2e-16):
            Rn = R + eps * np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])
            U = spin_rep(Rn)
            assert np.abs(U.conj().T @ U - np.eye(2)).max() < 1e-12
            # rotating the spin vector: U^+ sigma_a U = sum_b R_ab sigma_b (proper part)
            lhs = np.array([U.conj().T @ p @ U for p in PAU])
            rhs = np.einsum("ab,bjk->ajk", R, PAU)
            assert np.abs(lhs - rhs).max() < 1e-12


def test_vanadium_has_the_full_cubic_group_and_symmetry_agrees():
    from hpcorb.calculations import diffusion as cd
    from hpcorb.config import deck_from_dict
    from hpcorb.log import NullLogger
    from hpcorb.parallel import SerialComm
    from hpcorb.symmetry import closed_subset, common_symmetry
    kw = {"material": "V", "parametrization": "nrl", "spin": True}
    models = [build_model(validate_table(MODEL, dict(kw, soc_scale=s), "model", "."), periodic=3)
              for s in (0.0, 1.0)]
    ops, _ = common_symmetry(models, lowdin.hk, lambda m: physics.operators(m)[::-1])
    assert len(ops) == 48 and len(closed_subset(ops)) == 48          # the whole O_h, a group
    out = []
    for sym in (True, False):
        d = {"calculation": {"type": "diffusion"}, "model": kw, "kmesh": {"size": [4, 4, 4], "symmetry": sym},
             "diffusion": {"gamma": 0.1, "energies": [-0.3, 0.2], "soc_scales": [0.0, 1.0]}}
        out.append(cd.run(deck_from_dict(d), SerialComm(), NullLogger(), None))
    assert out[0].attrs["symmetry_ops"] == 48
    assert rel(out[0]["tensor"], out[1]["tensor"]) < 1e-10 and rel(out[0]["charge"], out[1]["charge"]) < 1e-10
