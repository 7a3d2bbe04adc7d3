"""The batched H(k) (factorized over the last periodic axis) equals the literal
Bloch sum with atomic positions in the phase, for H and dH/dk, bulk and film."""
import numpy as np
import pytest

from hpcorb.models.materials import material_model
from hpcorb.parallel.kmesh import KMesh


def literal(model, kfrac):
    """H_ab(k) = sum_R e^{i k.(R + tau_b - tau_a)} H_ab(R), dH/dk = its k-gradient, one k at a time."""
    n = model.norb
    d = kfrac.shape[1]
    out_H, out_dH = [], []
    for kf in kfrac:
        kc = kf @ model.reciprocal[:d]
        H = np.zeros((n, n), complex)
        dH = np.zeros((3, n, n), complex)
        for r, h in zip(model.R, model.H):
            dvec = (r @ model.lattice)[None, None, :] + model.positions[None, :, :] - model.positions[:, None, :]
            ph = np.exp(1j * dvec @ kc)
            H += ph * h
            dH += np.moveaxis(1j * dvec, 2, 0) * ph * h
        out_H.append(H)
        out_dH.append(dH)
    return np.array(out_H), np.array(out_dH)


@pytest.mark.parametrize("case", ["bulk_chunk", "bulk_random", "film_chunk"])
def test_batched_equals_literal(case):
    if case.startswith("bulk"):
        m = material_model("Pt", "sk", spin=True)
        mesh = KMesh((8, 8, 8), shift=(0.5, 0.0, 0.5))
    else:
        m = material_model("W", "sk", spin=True, surface="110", layers=3)
        mesh = KMesh((10, 10))
    k = mesh.frac(17, 17 + 64) if case.endswith("chunk") else np.random.default_rng(1).random((40, 3))
    H, dH = m.hk_dhk(k)
    Hl, dHl = literal(m, k)
    scale = np.abs(Hl).max()
    assert np.abs(H - Hl).max() < 1e-12 * scale
    assert np.abs(dH - dHl).max() < 1e-12 * np.abs(dHl).max()
    # the factorized path is really taken for a mesh chunk (few distinct outer k)
    if case.endswith("chunk"):
        outer = np.unique(k[:, :-1], axis=0)
        assert 3 * len(outer) <= len(k)
