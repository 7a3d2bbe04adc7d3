"""Random film models for the slab_kubo tests (imported by test_kubo_kernel and test_slab_kubo)."""
import numpy as np

from hpcorb.models.orbitals import soc_matrix
from hpcorb.models.tbmodel import TBModel


def random_film(n_layers=5, atoms_per_layer=1, orbitals=("dxy", "dyz", "dzx"), spin=True, xi=0.4,
                seed=0, reach=1, D=2.0, scale=1.0, in_plane=((1, 0), (0, 1), (1, 1)), electrons=None):
    """A random Hermitian film: H(-R) = H(R)^+, in-plane R only, couplings between
    layers up to ``reach`` apart, on-site SOC xi L.S (spinful)."""
    rng = np.random.default_rng(seed)
    no = len(orbitals)
    ns = 2 if spin else 1
    nat = n_layers * atoms_per_layer
    n = nat * ns * no
    atom_layer = np.repeat(np.arange(n_layers), atoms_per_layer)
    apos = np.zeros((nat, 3))
    apos[:, 0] = rng.uniform(0, 2.5, nat)
    apos[:, 1] = rng.uniform(0, 2.5, nat)
    apos[:, 2] = atom_layer * D
    atoms = np.repeat(np.arange(nat), ns * no)
    spins = np.tile(np.repeat(np.arange(ns), no), nat) if spin else -np.ones(n, dtype=int)
    orbs = list(orbitals) * (nat * ns)
    pos = apos[atoms]
    Rs = [(0, 0)] + list(in_plane)
    H = {}
    coupled = np.abs(atom_layer[atoms][:, None] - atom_layer[atoms][None, :]) <= reach
    same_spin = spins[:, None] == spins[None, :]
    for R in Rs:
        M = (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))) * scale
        if spin:
            # mostly spin-conserving hopping plus a weak spin-flip part
            M = np.where(same_spin, M, 0.15 * M)
        M = M * coupled
        if R == (0, 0):
            M = 0.5 * (M + M.conj().T)
            H[R] = M
        else:
            H[R] = M
            H[(-R[0], -R[1])] = M.conj().T
    if spin and xi:
        for a in range(nat):
            sl = slice(a * 2 * no, (a + 1) * 2 * no)
            H[(0, 0)][sl, sl] += soc_matrix(list(orbitals), xi, xi)
    keys = sorted(H)
    R = np.array([(k[0], k[1], 0) for k in keys])
    Hs = np.array([H[k] for k in keys])
    lattice = np.array([[2.5, 0.0, 0.0], [0.7, 2.4, 0.0], [0.0, 0.0, 30.0]])
    return TBModel(lattice=lattice, R=R, H=Hs, positions=pos, periodic=2, atoms=atoms,
                   orbitals=orbs, spins=spins, name="random film", electrons=electrons,
                   meta={"interlayer_distance": D})


def test_random_film_is_a_hermitian_film():
    m = random_film(n_layers=3, atoms_per_layer=2, seed=1)
    assert m.check_hermitian() < 1e-12
    assert m.periodic == 2 and np.all(m.R[:, 2] == 0)
    H = m.hk([[0.3, 0.7]])[0]
    assert np.abs(H - H.conj().T).max() < 1e-12
