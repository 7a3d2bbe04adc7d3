"""Paper 000 diffusivities: invariants, independent limits, the literal formula.

Every check compares with something independent of the fast kernel: the
literal Eqs. 8, 10-13 (explicit inverses), the Kubo-Greenwood bubble written
out here, exact algebraic identities (no SOC: charge = spin), and symmetry.
"""
import numpy as np
import pytest
from scipy import constants as C

from hpcorb.calculations import diffusion as cd
from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError
from hpcorb.kernels.diffusion import diffusion_kernel, to_siemens_per_metre
from hpcorb.kernels.diffusion_slow import diffusion_literal
from hpcorb.log import NullLogger
from hpcorb.models import lowdin
from hpcorb.models.orbitals import PAULI
from hpcorb.parallel import SerialComm

rng = np.random.default_rng(12345)


def herm(n, *shape):
    X = rng.normal(size=shape + (n, n)) + 1j * rng.normal(size=shape + (n, n))
    return X + np.conj(np.swapaxes(X, -1, -2))


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def deck(model, size=(4, 4, 4), shift=None, **diff):
    d = {"calculation": {"type": "diffusion"}, "model": model, "kmesh": {"size": list(size)},
         "diffusion": {"gamma": 0.1, **diff}}
    if shift is not None:
        d["kmesh"]["shift"] = list(shift)
    return deck_from_dict(d)


def run(dk, comm=None):
    return cd.run(dk, comm or SerialComm(), NullLogger(), None)


def spinful_no_soc(n_orb, nk):
    """Random spin-degenerate model: H = 1_spin (x) h, sigma = pauli (x) 1, L = 1 (x) l."""
    h, dh, l = herm(n_orb, nk), herm(n_orb, nk, 3), herm(n_orb, 3)
    I2 = np.eye(2)
    H = np.einsum("st,kab->ksatb", I2, h).reshape(nk, 2 * n_orb, 2 * n_orb)
    dH = np.einsum("st,kcab->kcsatb", I2, dh).reshape(nk, 3, 2 * n_orb, 2 * n_orb)
    sigma = np.array([np.kron(p, np.eye(n_orb)) for p in PAULI])
    L = np.array([np.kron(I2, x) for x in l])
    return H, dH, sigma, L


# ---------------------------------------------------------------------------
# fast kernel vs the literal Eqs. 8, 10-13

def test_fast_equals_literal_random_with_degeneracies():
    N, nk = 6, 4
    H, dH, sig, L = herm(N, nk), herm(N, nk, 3), herm(N, 3), herm(N, 3)
    # exact degeneracies (also triple) and a near-degeneracy well inside the expansion window
    w, U = np.linalg.eigh(H[0])
    w[1] = w[0]
    w[4] = w[3] = w[2]
    H[0] = (U * w) @ U.conj().T
    w, U = np.linalg.eigh(H[1])
    w[3] = w[2] + 3e-7
    H[1] = (U * w) @ U.conj().T
    en = np.linspace(-4, 4, 9)
    c1, t1 = diffusion_kernel(H, dH, sig, L, en, 0.13)
    c2, t2 = diffusion_literal(H, dH, sig, L, en, 0.13)
    assert rel(c1, c2) < 1e-10
    assert rel(t1, t2) < 1e-10


def test_fast_equals_literal_kramers_model():
    H, dH, sig, L = spinful_no_soc(3, 3)
    H = H + 0.3 * np.einsum("ab,k->kab", np.kron(PAULI[2], np.diag([1.0, -1.0, 0.5])), np.ones(3))
    en = np.linspace(-3, 3, 5)
    c1, t1 = diffusion_kernel(H, dH, sig, L, en, 0.1)
    c2, t2 = diffusion_literal(H, dH, sig, L, en, 0.1)
    assert rel(c1, c2) < 1e-10 and rel(t1, t2) < 1e-10


def test_fast_equals_literal_toy_model_mesh():
    """The bcc p toy with SOC on a small mesh, through the same H(k), dH/dk path as the calculation."""
    dk = deck({"builtin": "bcc_p", "params": {"xi": 0.4}, "electrons": 2.0}, size=(3, 3, 3),
              energies=[-0.5, 0.0, 0.7], fermi_energy=-0.6)
    res = run(dk)
    _, models, mesh = cd._prepare(dk)
    model = models[0]
    H, dH = lowdin.hk_dhk(model, mesh.frac())
    sig, L = cd.operators(model)
    c, t = diffusion_literal(H, dH, sig, L, -0.6 + np.array([-0.5, 0.0, 0.7]), 0.1)
    V = model.cell_volume
    assert rel(res["charge"][0], to_siemens_per_metre(c, 0.1, mesh.n, V)) < 1e-10
    assert rel(res["tensor"][0], to_siemens_per_metre(t, 0.1, mesh.n, V)) < 1e-10


# ---------------------------------------------------------------------------
# no SOC: charge = spin, exactly, for any model

def test_no_soc_charge_equals_spin_random_model():
    H, dH, sig, L = spinful_no_soc(4, 5)
    c, t = diffusion_kernel(H, dH, sig, L, np.linspace(-3, 3, 7), 0.2)
    for a in range(3):
        # t[e, X=s, beta=a, j, Y=s, alpha=a, i] vs c[e, i, j]
        assert rel(np.swapaxes(t[:, 0, a, :, 0, a, :], 1, 2), c) < 1e-10
    # and no spin-flip/cross-polarization terms: D^{s b j}_{s a i} = 0 for a != b
    for a in range(3):
        for b in range(3):
            if a != b:
                assert np.abs(t[:, 0, b, :, 0, a, :]).max() < 1e-10 * np.abs(c).max()


def test_no_soc_charge_equals_spin_toy_calculation():
    dk = deck({"builtin": "bcc_p", "electrons": 2.5}, size=(5, 5, 5),
              energies={"start": -1.0, "stop": 1.0, "num": 5}, soc_scales=[0.0])
    res = run(dk)
    ch, te = res["charge"][0], res["tensor"][0]
    for a in range(3):
        assert rel(np.swapaxes(te[:, 0, a, :, 0, a, :], 1, 2), ch) < 1e-10


# ---------------------------------------------------------------------------
# single band: Keldysh charge diffusivity = Kubo-Greenwood conductivity (Einstein relation)

def kubo_greenwood_cubic(size, t, a, eps0, energy, gamma):
    """sigma_ij = (e^2 hbar / pi) Int d^3k/(2pi)^3 v_i v_j [Im G^R]^2 for E = eps0 - 2t sum cos(k a)."""
    n = np.array(size)
    idx = np.stack(np.meshgrid(*[np.arange(m) for m in n], indexing="ij"), -1).reshape(-1, 3)
    ka = 2 * np.pi * idx / n                               # k_c a on a Gamma-centred simple-cubic mesh
    Ek = eps0 - 2 * t * np.cos(ka).sum(1)
    dE = 2 * t * a * np.sin(ka)                            # dE/dk_c in eV Angstrom
    img = gamma / ((energy - Ek) ** 2 + gamma ** 2)         # -Im G^R, 1/eV
    s = np.einsum("ki,kj,k->ij", dE, dE, img ** 2)          # eV^2 A^2 / eV^2
    vol = a ** 3
    # (e^2 hbar/pi) (1/hbar^2) sum / (N V): Angstrom^2 / Angstrom^3 -> 1/m via 1e10
    return C.e ** 2 / (np.pi * C.hbar) * s / (len(Ek) * vol) * 1e10


@pytest.mark.parametrize("energy", [-1.3, 0.4, 2.9])
def test_einstein_relation_kubo_greenwood(energy):
    t, a, g = 0.8, 2.5, 0.07
    dk = deck({"builtin": "cubic", "params": {"t": t, "a": a}}, size=(9, 9, 9), energies=[energy],
              fermi_energy=0.0, gamma=g)
    res = run(dk)
    kg = kubo_greenwood_cubic((9, 9, 9), t, a, 0.0, energy, g)
    assert rel(res["charge"][0, 0], kg) < 1e-10
    assert kg[0, 0] > 0


# ---------------------------------------------------------------------------
# cubic symmetry and the Onsager relations of Eqs. 14-15

def forbidden_mask():
    """Components of a rank-4 cubic (O_h) tensor T[beta, j, alpha, i] that vanish:
    any Cartesian index appearing an odd number of times."""
    m = np.zeros((3, 3, 3, 3), bool)
    for idx in np.ndindex(3, 3, 3, 3):
        m[idx] = any(idx.count(c) % 2 for c in range(3))
    return m


def check_cubic(ch, te, tol=1e-10):
    """ch [nE, 3, 3], te [nE, 2, 3, 3, 2, 3, 3]."""
    big = np.abs(ch).max()
    for e in range(ch.shape[0]):
        d = np.diag(ch[e])
        assert np.ptp(d) < tol * big
        assert np.abs(ch[e] - np.diag(d)).max() < tol * big
    bigt = np.abs(te).max()
    fm = forbidden_mask()
    for X in range(2):
        for Y in range(2):
            blk = te[:, X, :, :, Y, :, :]                 # [e, beta, j, alpha, i]
            assert np.abs(blk[:, fm]).max() < tol * bigt


def onsager_pairs():
    """Eqs. 14-15 (and their cubic images): D^{X x x}_{Y y y} = D^{X y y}_{Y x x} (polarization
    conserving, gradient and current exchanged), D^{X y x}_{Y x y} = D^{X x y}_{Y y x} (swapping),
    D^{X y x}_{Y y x} = D^{X x y}_{Y x y}, for every pair of axes."""
    out = []
    for p in range(3):
        for q in range(3):
            if p != q:
                out.append(((p, p, q, q), (q, q, p, p)))
                out.append(((q, p, p, q), (p, q, q, p)))
                out.append(((q, p, q, p), (p, q, p, q)))
    return out


def check_onsager(te, tol):
    bigt = np.abs(te).max()
    worst = 0.0
    for X in range(2):
        for Y in range(2):
            for (b1, j1, a1, i1), (b2, j2, a2, i2) in onsager_pairs():
                d = te[:, X, b1, j1, Y, a1, i1] - te[:, X, b2, j2, Y, a2, i2]
                worst = max(worst, np.abs(d).max() / bigt)
    assert worst < tol, worst
    return worst


def test_cubic_symmetry_and_onsager_toy():
    dk = deck({"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0}, size=(6, 6, 6),
              energies=[-0.4, 0.0, 0.4])
    res = run(dk)
    ch, te = res["charge"][0], res["tensor"][0]
    check_cubic(ch, te)
    # Gamma-centred mesh: invariant under the cubic group, so the relations hold to round-off
    check_onsager(te, 1e-10)
    # swapping exists (nonzero) for every pair of kinds with SOC
    for X in range(2):
        for Y in range(2):
            assert abs(te[1, X, 0, 1, Y, 1, 0]) > 1e-6 * np.abs(te).max()


def test_orbital_swapping_without_soc():
    """Paper: orbital swapping needs no SOC; spin swapping and spin-orbit conversion do."""
    dk = deck({"builtin": "bcc_p", "electrons": 2.0}, size=(6, 6, 6), energies=[0.0], soc_scales=[0.0])
    te = run(dk)["tensor"][0, 0]
    big = np.abs(te).max()
    assert abs(te[1, 0, 1, 1, 1, 0]) > 1e-3 * big            # D^{l x y}_{l y x}
    assert abs(te[0, 0, 1, 0, 1, 0]) < 1e-10 * big           # spin swapping
    assert np.abs(te[0, :, :, 1]).max() < 1e-10 * big        # orbit -> spin
    assert np.abs(te[1, :, :, 0]).max() < 1e-10 * big        # spin -> orbit


def test_cubic_symmetry_and_onsager_nrl_ta():
    pytest.importorskip("hpcorb.models.materials")
    dk = deck({"material": "Ta", "parametrization": "nrl", "spin": True}, size=(5, 5, 5),
              energies=[0.0])
    res = run(dk)
    ch, te = res["charge"][0], res["tensor"][0]
    check_cubic(ch, te)
    check_onsager(te, 1e-10)


def test_onsager_shifted_mesh_holds():
    """A 0.5-shifted mesh with an even number of points per axis is still mapped onto itself
    by k -> -k, and the Onsager pairs only need time reversal: they hold to round-off on
    it, at every mesh size (the former check that the error *decreases* with the mesh
    compared two round-off numbers and failed at random)."""
    errs = []
    for n in (4, 8):
        dk = deck({"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0}, size=(n, n, n),
                  shift=(0.5, 0.5, 0.5), energies=[0.0], fermi_energy=-0.7)
        te = run(dk)["tensor"][0]
        bigt = np.abs(te).max()
        errs.append(max(np.abs(te[:, X, b1, j1, Y, a1, i1] - te[:, X, b2, j2, Y, a2, i2]).max() / bigt
                        for X in range(2) for Y in range(2)
                        for (b1, j1, a1, i1), (b2, j2, a2, i2) in onsager_pairs()))
    assert max(errs) < 1e-12, errs


# ---------------------------------------------------------------------------
# SOC scan shares the k-loop and equals separate runs

def test_soc_scan_equals_separate_runs():
    base = {"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0}
    scan = run(deck(base, size=(3, 3, 3), energies=[0.0, 0.2], soc_scales=[0.0, 0.5, 1.0]))
    for s_i, s in enumerate((0.0, 0.5, 1.0)):
        one = run(deck({**base, "params": {"xi": 0.3, "soc_scale": s}}, size=(3, 3, 3), energies=[0.0, 0.2]))
        assert rel(scan["tensor"][s_i], one["tensor"][0]) < 1e-12
        assert abs(scan["fermi_energy"][s_i] - one["fermi_energy"][0]) < 1e-12


# ---------------------------------------------------------------------------
# bad decks

GOOD = {"calculation": {"type": "diffusion"}, "model": {"builtin": "bcc_p", "electrons": 2.0},
        "kmesh": {"size": [4, 4, 4]}, "diffusion": {"gamma": 0.1, "energies": [0.0]}}


def with_(table, **kv):
    d = {k: dict(v) for k, v in GOOD.items()}
    d[table].update(kv)
    return d


@pytest.mark.parametrize("data,key", [
    (with_("diffusion", gamma=0.0), "diffusion.gamma"),
    (with_("diffusion", gamma=-0.1), "diffusion.gamma"),
    (with_("diffusion", gamma="0.1"), "diffusion.gamma"),
    (with_("diffusion", energies="0"), "diffusion.energies"),
    (with_("diffusion", energies={"start": 0, "stop": 1}), "diffusion.energies"),
    (with_("diffusion", soc_scales=[0.0, -1.0]), "diffusion.soc_scales"),
    (with_("diffusion", soc_scales=[]), "diffusion.soc_scales"),
    (with_("diffusion", fermi_energy="high"), "diffusion.fermi_energy"),
    (with_("diffusion", typo=1), "diffusion.typo"),
    (with_("kmesh", size=[4, 4]), "kmesh.size"),
    ({**GOOD, "kmesh": {}}, "kmesh.size"),
    (with_("model", builtin="cubic"), "diffusion.soc_scales"),   # + soc_scales below
])
def test_bad_decks(data, key):
    if key == "diffusion.soc_scales" and data["model"].get("builtin") == "cubic":
        data = {**data, "diffusion": {**data["diffusion"], "soc_scales": [0.0, 1.0]}}
    with pytest.raises(DeckError) as e:
        dk = deck_from_dict(data)
        cd.validate(dk)
    assert e.value.key.startswith(key)


def test_missing_electron_count_is_a_deck_error():
    d = with_("model", builtin="cubic")
    d["model"].pop("electrons")
    dk = deck_from_dict(d)
    with pytest.raises(DeckError) as e:
        cd.validate(dk)
    assert e.value.key == "diffusion.fermi_energy"


# ---------------------------------------------------------------------------
# results file, summary and plots

def test_results_summary_and_plots(tmp_path):
    import h5py
    from hpcorb.io.results import write_results
    dk = deck({"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0}, size=(3, 3, 3),
              energies={"start": -0.2, "stop": 0.2, "num": 3}, soc_scales=[0.0, 1.0])
    res = run(dk)
    path = str(tmp_path / "d.h5")
    write_results(path, res, SerialComm(), NullLogger())
    with h5py.File(path, "r") as f:
        g = f["diffusion"]
        assert g["charge"].shape == (2, 3, 3, 3)
        assert g["tensor"].shape == (2, 3, 2, 3, 3, 2, 3, 3)
        assert g["energies"].shape == (3,) and g["soc_scale"].shape == (2,)
        for k in ("units", "gamma_eV", "kmesh", "fermi_energy_eV"):
            assert k in g.attrs
        text = cd.summary(f)
        assert "P_l" in text and "eta_ll" in text
        paths = cd.plot(f, str(tmp_path / "d"))
    assert len(paths) == 3 and all((tmp_path / p).exists() for p in paths)


def test_derived_definitions():
    """Polarizations and swapping efficiencies from hand-made tensor entries."""
    te = np.zeros((2, 3, 3, 2, 3, 3))
    te[0, 0, 0, 0, 0, 0] = 10.0     # D^{s x x}_{s x x}
    te[1, 0, 0, 1, 0, 0] = 1.0      # D^{l x x}_{l x x}
    te[1, 0, 0, 0, 0, 0] = -2.0     # spin -> orbit
    te[0, 0, 0, 1, 0, 0] = 3.0      # orbit -> spin
    te[1, 0, 1, 1, 1, 0] = 0.5      # orbital swapping D^{l x y}_{l y x}
    d = cd.derived(te)
    assert d["P_l"] == pytest.approx(2 / 12)
    assert d["P_s"] == pytest.approx(3 / 4)
    assert d["eta_ll"] == pytest.approx(0.5)
    assert d["eta_ss"] == 0.0


def test_checkpoint_restart_gives_same_numbers(tmp_path):
    """A run that dies after some chunks resumes from its last checkpoint to the same numbers."""
    import hpcorb.api.diffusion as mod
    from hpcorb.parallel import engine
    from hpcorb.parallel.checkpoint import Checkpoint
    dk = deck({"builtin": "bcc_p", "params": {"xi": 0.3}, "electrons": 2.0}, size=(4, 4, 3),
              energies=[0.0, 0.3], soc_scales=[0.0, 1.0])
    dk["kmesh"]["chunk_size"] = 5
    dk["kmesh"]["symmetry"] = False     # the full 48-point mesh: enough chunks to die after the 6th
    ref = run(dk)
    ck = Checkpoint(str(tmp_path / "d.ckpt"), dk.physics_hash())
    real = engine.run_chunks

    def dying(plan, kernel, *a, **kw):
        if kw.get("stage") != "diffusion":
            return real(plan, kernel, *a, **kw)
        calls = []

        def k2(start, stop):
            calls.append(start)
            if len(calls) == 6:
                raise RuntimeError("node died")
            return kernel(start, stop)
        # checkpoint at every sync, sync after every round
        return real(plan, k2, *a, **{**kw, "sync_seconds": 0.0, "checkpoint_interval": 1e-9})

    mod.run_chunks = dying
    try:
        with pytest.raises(engine.RankFailure, match="node died"):
            cd.run(dk, SerialComm(), NullLogger(), ck)
    finally:
        mod.run_chunks = real
    import h5py
    with h5py.File(ck.path, "r") as f:
        assert 0 < f["diffusion/done"][...].sum() < 10          # partially done
    out = cd.run(dk, SerialComm(), NullLogger(), ck)
    assert rel(out["tensor"], ref["tensor"]) < 1e-12 and rel(out["charge"], ref["charge"]) < 1e-12
