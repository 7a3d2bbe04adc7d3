"""Symmetry of k-sums: verified operations, irreducible meshes (Burnside count),
and results with and without symmetry (dos, diffusion) on 1 and several ranks."""
import sys
import os

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_diffusion import deck as diffusion_deck, run as diffusion_run  # noqa: E402

from hpcorb.calculations import dos as cdos  # noqa: E402
from hpcorb.config import MODEL, deck_from_dict, validate_table  # noqa: E402
from hpcorb.errors import DeckError  # noqa: E402
from hpcorb.log import NullLogger  # noqa: E402
from hpcorb.models import lowdin  # noqa: E402
from hpcorb.models.build import build_model  # noqa: E402
from hpcorb.models.orbitals import model_operators  # noqa: E402
from hpcorb.parallel import SerialComm, world  # noqa: E402
from hpcorb.parallel.kmesh import KMesh  # noqa: E402
from hpcorb.symmetry import find_symmetry, irreducible, mesh_for, mesh_preserving  # noqa: E402


def model_of(**m):
    return build_model(validate_table(MODEL, m, "model", "."), periodic=2 if "surface" in m else 3)


def rel(a, b):
    """Relative difference; arrays that vanish (e.g. bulk torque dipoles) must vanish in both."""
    big = np.abs(b).max()
    return np.abs(a - b).max() / big if big > 0 else np.abs(a).max()


def test_bcc_operations_and_burnside_count():
    m = model_of(material="W", parametrization="sk", spin=True)
    L, S = model_operators(m)
    sym = find_symmetry(m, lambda k: lowdin.hk(m, k), operators=(L, S))
    assert len(sym.ops) == 48 and sym.time_reversal            # O_h, every op checked on H(k)
    rng = np.random.default_rng(5)
    for op in sym.ops[:: 7]:                                   # independent re-check at new k
        k = rng.random((2, 3))
        H1 = lowdin.hk(m, k @ op.kmat)
        H0 = lowdin.hk(m, k)
        assert np.abs(H1 - op.D @ H0 @ op.D.conj().T).max() < 1e-10 * np.abs(H0).max()
    for size, shift in (((6, 6, 6), None), ((5, 5, 5), (0.5, 0.5, 0.5)), ((4, 4, 6), None)):
        mesh = KMesh(size, shift)
        mats = mesh_preserving(mesh, sym.kmats())
        irr = irreducible(mesh, mats)
        assert irr.weight.sum() == mesh.n
        # Burnside: number of orbits = mean number of fixed points
        kf = mesh.frac()
        n = np.asarray(mesh.size)
        fixed = 0
        for M in mats:
            x = np.round((kf @ M) * n - mesh.shift).astype(int) % n
            fixed += np.sum(np.ravel_multi_index(tuple(x.T), mesh.size) == np.arange(mesh.n))
        assert irr.n * len(mats) == fixed


def test_magnetized_model_keeps_fewer_operations():
    """An exchange field along z breaks time reversal and every op that flips the z axial vector."""
    m = model_of(material="W", parametrization="sk", spin=True)
    L, S = model_operators(m)
    H = m.H.copy()
    r0 = int(np.flatnonzero(np.all(m.R == 0, axis=1))[0])
    H[r0] += 0.3 * S[2]
    mm = m.with_hoppings(H)
    sym = find_symmetry(mm, lambda k: lowdin.hk(mm, k), operators=(L, S))
    assert not sym.time_reversal
    assert len(sym.ops) == 8                                    # 4/m: the unitary part of 4/mm'm'
    for op in sym.ops:
        Ra = np.linalg.det(op.R) * op.R
        assert abs(Ra[2, 2] - 1.0) < 1e-9                       # keeps the magnetization


def test_unknown_orbitals_identity_only():
    m = model_of(material="W", parametrization="sk", spin=True)
    m.orbitals = ["x"] * m.norb
    sym = find_symmetry(m, lambda k: lowdin.hk(m, k))
    assert len(sym.ops) == 1 and not sym.time_reversal


def _dos(model, size, symmetry, comm=None):
    d = deck_from_dict({"calculation": {"type": "dos"}, "model": model,
                        "kmesh": {"size": list(size), "symmetry": symmetry}, "dos": {"bins": 20000}})
    return cdos.run(d, comm or SerialComm(), NullLogger(), None)


@pytest.mark.parametrize("model,size", [
    ({"material": "W", "parametrization": "sk", "spin": True}, (6, 6, 6)),
    ({"material": "Ta", "parametrization": "nrl", "spin": True}, (4, 4, 4)),
    ({"material": "W", "parametrization": "sk", "spin": True, "surface": "110", "layers": 3}, (6, 6)),
])
def test_dos_with_and_without_symmetry(model, size):
    a, b = _dos(model, size, True), _dos(model, size, False)
    assert a.attrs["irreducible_k"] < b.attrs["irreducible_k"] == int(np.prod(size))
    assert a["symmetry_rotations"].shape == (a.attrs["symmetry_ops"], 3, 3) and b.attrs["symmetry_ops"] == 1
    assert rel(a["dos"], b["dos"]) < 1e-10 and rel(a["integrated"], b["integrated"]) < 1e-10
    assert abs(a.attrs["fermi_energy"] - b.attrs["fermi_energy"]) < 1e-10


def test_diffusion_with_and_without_symmetry():
    model = {"material": "Ta", "parametrization": "nrl", "spin": True}
    a = diffusion_run(diffusion_deck(model, size=(4, 4, 4), energies=[-0.2, 0.3], soc_scales=[0.0, 1.0]))
    dk = diffusion_deck(model, size=(4, 4, 4), energies=[-0.2, 0.3], soc_scales=[0.0, 1.0])
    dk["kmesh"]["symmetry"] = False
    b = diffusion_run(dk)
    assert a.attrs["symmetry_ops"] == 48 and b.attrs["symmetry_ops"] == 1
    assert rel(a["tensor"], b["tensor"]) < 1e-10 and rel(a["charge"], b["charge"]) < 1e-10


def test_shifted_mesh_keeps_only_mesh_operations():
    m = model_of(material="W", parametrization="sk", spin=True)
    sym = find_symmetry(m, lambda k: lowdin.hk(m, k))
    mesh = KMesh((4, 4, 4), (0.5, 0.0, 0.0))
    irr, rots = mesh_for(mesh, sym.ops)
    assert 1 <= len(rots) < 48 and irr.weight.sum() == mesh.n


def test_symmetry_key_validated():
    with pytest.raises(DeckError) as e:
        deck_from_dict({"calculation": {"type": "dos"}, "model": {"builtin": "bcc_p"},
                        "kmesh": {"size": [2, 2, 2], "symmetry": "yes"}})
    assert e.value.key == "kmesh.symmetry"


@pytest.mark.mpi
@pytest.mark.parametrize("symmetry", [True, False])
def test_dos_and_diffusion_rank_independent(symmetry):
    comm = world()
    model = {"material": "W", "parametrization": "sk", "spin": True}
    a, b = _dos(model, (6, 6, 6), symmetry, comm), _dos(model, (6, 6, 6), symmetry)
    assert rel(a["dos"], b["dos"]) < 1e-12
    from hpcorb.calculations import diffusion as cd
    dk = diffusion_deck({"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0}, size=(4, 4, 4),
                        energies=[0.0, 0.3])
    dk["kmesh"]["symmetry"] = symmetry
    dk["kmesh"]["chunk_size"] = 2
    x = cd.run(dk, comm, NullLogger(), None)
    y = cd.run(dk, SerialComm(), NullLogger(), None)
    assert rel(x["tensor"], y["tensor"]) < 1e-12 and rel(x["charge"], y["charge"]) < 1e-12


def _film(symmetry, comm=None, layers=3, size=(6, 6), T=0.0, mode="film"):
    from hpcorb.calculations import slab_kubo as sk
    model = {"material": "W", "parametrization": "sk", "spin": True}
    if mode == "film":
        model.update(surface="110", layers=layers)
    d = deck_from_dict({"calculation": {"type": "slab_kubo"}, "model": model,
                        "kmesh": {"size": list(size), "symmetry": symmetry},
                        "slab_kubo": {"energies": [-0.3, 0.0, 0.4], "eta": 0.1, "temperature": T,
                                      "mode": mode}})
    return sk.run(d, comm or SerialComm(), NullLogger(), None)


def _worst(a, b):
    return max(rel(a[n], b[n]) for n in a.names() if n.startswith(("direct", "inverse", "tensor")))


@pytest.mark.parametrize("kw", [{}, {"layers": 4, "T": 300.0}, {"mode": "bulk", "size": (4, 4, 4)}])
def test_slab_kubo_with_and_without_symmetry(kw):
    a, b = _film(True, **kw), _film(False, **kw)
    assert a.attrs["symmetry_ops"] > 1 and a.attrs["irreducible_k"] < b.attrs["irreducible_k"]
    assert a["symmetry_rotations"].shape == (a.attrs["symmetry_ops"], 3, 3)
    assert _worst(a, b) < 1e-10
    assert a.attrs["fermi_energy_eV"] == pytest.approx(b.attrs["fermi_energy_eV"], abs=1e-12)


@pytest.mark.mpi
@pytest.mark.parametrize("symmetry", [True, False])
def test_slab_kubo_film_rank_independent(symmetry):
    a, b = _film(symmetry, world()), _film(symmetry)
    assert _worst(a, b) < 1e-12


def test_bands_dos_with_and_without_symmetry():
    from hpcorb.calculations import bands as cb
    out = []
    for sym in (True, False):
        d = deck_from_dict({"calculation": {"type": "bands"},
                            "model": {"material": "Ta", "parametrization": "nrl", "spin": True},
                            "kmesh": {"size": [6, 6, 6], "symmetry": sym}, "bands": {"npoints": 20}})
        out.append(cb.run(d, SerialComm(), NullLogger(), None))
    a, b = out
    assert a.attrs["irreducible_k"] < b.attrs["irreducible_k"] == 216
    assert rel(a["dos"], b["dos"]) < 1e-10
    assert abs(a.attrs["fermi_energy"] - b.attrs["fermi_energy"]) < 1e-10


@pytest.mark.parametrize("symmetry", [True, False])
def test_slab_kubo_fast_vs_slow_literal(symmetry):
    """The calculation's path (irreducible points, weights, rebuilt histogram) against the
    literal projected-operator formula summed over the full mesh."""
    from test_kubo_kernel import max_rel
    from hpcorb.api import slab_kubo as api_sk
    from hpcorb.calculations import slab_kubo as sk
    from hpcorb.kernels import kubo as K
    from hpcorb.kernels import kubo_slow
    m = model_of(material="W", parametrization="sk", spin=True, surface="110", layers=3)
    st = sk.Setup(m, "film", 0.15)
    mesh = KMesh((4, 4))
    E = np.linalg.eigvalsh(st.hk([0.1, 0.3])[0])
    mu = float(np.median(E)) + np.array([-0.2, 0.1])
    irr, sym = sk._symmetry(st, mesh, symmetry, lambda *a: None)
    assert (len(sym) == 8) == symmetry
    st.pairs = api_sk.needed_pairs(sym)       # as the calculation does: only (x, y), (y, x) with symmetry
    assert st.pairs.sum() == (2 if symmetry else 6)
    edges = K.histogram_edges(mu, 0.0)
    w_lo, w_hi = K.window(mu, 0.0)
    out = sk.make_kernel(st, irr, edges, w_lo, w_hi, False)(0, irr.n)
    hist = sk._rebuild_hist(out["hist"], sym)
    fast = sk.to_contract(sk.finish(hist, edges, mu, 0.0, False, st.volume, mesh.n))
    Hs, dHs = zip(*[st.hk(kf) for kf in mesh.frac()])
    slow = kubo_slow.slow_response(np.array(Hs), np.array(dHs), st.z, st.layer, st.O, st.eta, mu, 0.0,
                                   st.volume, bulk=st.bulk)
    assert max_rel(fast, slow) < 1e-10


@pytest.mark.parametrize("symmetry", [True, False])
def test_diffusion_fast_vs_literal(symmetry):
    from hpcorb.calculations import diffusion as cd
    from hpcorb.kernels.diffusion import to_siemens_per_metre
    from hpcorb.kernels.diffusion_slow import diffusion_literal
    dk = diffusion_deck({"builtin": "bcc_p", "params": {"xi": 0.4}, "electrons": 2.0}, size=(3, 3, 3),
                        energies=[-0.5, 0.0, 0.7], fermi_energy=-0.6)
    dk["kmesh"]["symmetry"] = symmetry
    res = diffusion_run(dk)
    assert (res.attrs["symmetry_ops"] > 1) == symmetry
    _, models, mesh = cd._prepare(dk)
    H, dH = lowdin.hk_dhk(models[0], mesh.frac())
    sig, L = cd.operators(models[0])
    c, t = diffusion_literal(H, dH, sig, L, -0.6 + np.array([-0.5, 0.0, 0.7]), 0.1)
    V = models[0].cell_volume
    assert rel(res["charge"][0], to_siemens_per_metre(c, 0.1, mesh.n, V)) < 1e-10
    assert rel(res["tensor"][0], to_siemens_per_metre(t, 0.1, mesh.n, V)) < 1e-10


def test_operation_sets_that_are_not_groups_are_reduced_to_a_closed_subset():
    """A set that lost operations (a failed check) is not used as a group: mesh_for keeps a
    closed subset, and the irreducible weights still add up to the mesh."""
    from types import SimpleNamespace
    from hpcorb.symmetry import closed_subset, mesh_for

    def op(R):
        R = np.asarray(R, dtype=float)
        return SimpleNamespace(R=R, kmat=R.T)

    I, Mx, My = np.eye(3), np.diag([-1.0, 1, 1]), np.diag([1.0, -1, 1])
    C2z = Mx @ My
    group = [op(I), op(Mx), op(My), op(C2z)]
    assert len(closed_subset(group)) == 4
    broken = [op(I), op(Mx), op(My)]                      # Mx My = C2z missing
    kept = closed_subset(broken)
    assert len(kept) == 2 and any(np.allclose(o.R, I) for o in kept)
    irr, rots = mesh_for(KMesh((6, 6, 1)), broken)
    assert len(rots) == 2 and irr.weights().sum() == 36
