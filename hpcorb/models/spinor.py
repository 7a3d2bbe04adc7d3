"""Which spinor order a spinful Wannier90 basis is in, from its on-site blocks.

Two conventions exist for spinor Wannier functions built from projections
p = 0..n-1 (each with an up and a down component):

* ``interleaved`` (Wannier90's own projection order, Quantum ESPRESSO's
  pw2wannier90): function 2p is (p, up), 2p + 1 is (p, down);
* ``block`` (VASP's interface): function p is (p, up), n + p is (p, down).

A wrong guess mislabels orbitals and spins silently.  The on-site block of
every atom tells them apart: in the right labelling it is, to a good
approximation, a spin-independent crystal field plus lambda_l L.S per shell,

    H_onsite = CF (x) 1_spin + sum_l lambda_l P_l (L.S) P_l,

with CF any Hermitian matrix over the atom's orbitals.  :func:`fit_residual`
fits that form by linear least squares (all CF elements and one lambda per
p or d shell are free) and returns the root-mean-square misfit per state,

    residual = ||H_onsite - fit||_F / sqrt(2 n_atom)        (eV),

the largest over atoms.  A wrong order cannot be fitted (it mixes unlike
orbitals, or up and down), so its residual is of the order of the crystal
field splitting; the right one leaves the small non-spherical SOC and
magnetic-like terms (meV in Pt).

Choice (:func:`choose`): a candidate *fits* when its residual is below
``FIT_THRESHOLD`` (0.05 eV); ``auto`` takes a fitting candidate whose residual
is at least ``CLEAR_RATIO`` (5) times smaller than the other's; anything else
(neither fits, or both fit about equally) is refused.  An explicit order is
refused when it does not fit and the other one does ``CLEAR_RATIO`` times better.
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from .orbitals import S_SPIN, SHELL, l_matrices

FIT_THRESHOLD = 0.05    # eV
CLEAR_RATIO = 5.0
ORDERS = ("interleaved", "block")


def candidate(order: str, n_up: int):
    """For each of the 2 n_up functions: (spinless orbital index, spin 0/1)."""
    if order == "interleaved":
        return [(p, s) for p in range(n_up) for s in (0, 1)]
    return [(p, s) for s in (0, 1) for p in range(n_up)]


def _fit_block(H0, labels, spins):
    """Residual (eV, RMS per state) of CF (x) 1 + sum_l lambda_l L.S fitted to H0 (m, m).

    ``labels`` (m,): per state (spinless orbital id, orbital label); ``spins`` (m,) 0/1.
    """
    m = H0.shape[0]
    orb_ids = [o for o, _ in labels]
    uniq = sorted(set(orb_ids))
    pos = {o: i for i, o in enumerate(uniq)}
    idx = np.array([pos[o] for o in orb_ids])
    spins = np.asarray(spins)
    same_spin = spins[:, None] == spins[None, :]
    basis = []
    n = len(uniq)
    for a in range(n):
        for b in range(a, n):
            sel = (idx[:, None] == a) & (idx[None, :] == b) & same_spin
            selT = (idx[:, None] == b) & (idx[None, :] == a) & same_spin
            re_ = np.zeros((m, m), complex)
            re_[sel] = 1
            re_[selT] = 1
            basis.append(re_)
            if a != b:
                im = np.zeros((m, m), complex)
                im[sel] = 1j
                im[selT] = -1j
                basis.append(im)
    lab_of = {o: lab for o, lab in labels}
    ulabs = [lab_of[o] for o in uniq]
    L = l_matrices([x if x in SHELL else "x" for x in ulabs])     # (3, n, n)
    shell = np.array([SHELL.get(x, -1) for x in ulabs])
    for sh in (1, 2):
        mask = (shell[:, None] == sh) & (shell[None, :] == sh)
        if not mask.any():
            continue
        LS = np.zeros((m, m), complex)
        for c in range(3):
            Lc = np.where(mask, L[c], 0)
            LS += Lc[idx][:, idx] * S_SPIN[c][spins][:, spins]
        basis.append(LS)
    A = np.array([b.ravel() for b in basis]).T                      # (m*m, nparam)
    y = H0.ravel()
    Ar = np.concatenate([A.real, A.imag])
    yr = np.concatenate([y.real, y.imag])
    coef = np.linalg.lstsq(Ar, yr, rcond=None)[0]
    res = yr - Ar @ coef
    return float(np.sqrt(np.sum(res ** 2) / m))


def fit_residual(H_onsite, atoms_up, labels_up, order: str) -> float:
    """Largest per-atom residual (eV) of the on-site form for ``order``.

    ``H_onsite`` (2n, 2n) the R = 0 block of the file; ``atoms_up`` /
    ``labels_up`` (n,) atom and label of the spinless orbital of each projection.
    """
    n_up = len(labels_up)
    cand = candidate(order, n_up)
    atoms = np.array([atoms_up[p] for p, _ in cand])
    worst = 0.0
    for a in np.unique(atoms):
        f = np.flatnonzero(atoms == a)
        labs = [(cand[i][0], labels_up[cand[i][0]]) for i in f]
        sp = [cand[i][1] for i in f]
        worst = max(worst, _fit_block(H_onsite[np.ix_(f, f)], labs, sp))
    return worst


def choose(requested: str, H_onsite, atoms_up, labels_up, key="model.spinor_order", legacy=None):
    """(order, {order: residual}) or DeckError naming ``key`` and both residuals.

    ``legacy``: an order to keep under ``auto`` when the fit cannot decide (the
    ``hr_file`` + ``orbitals`` path, whose documented order was interleaved);
    it is still refused when the other order fits clearly better.
    """
    res = {o: fit_residual(H_onsite, atoms_up, labels_up, o) for o in ORDERS}
    text = f"residuals interleaved {res['interleaved']:.3g} eV, block {res['block']:.3g} eV"
    best = min(ORDERS, key=lambda o: res[o])
    other = ORDERS[1 - ORDERS.index(best)]
    clear = res[best] < FIT_THRESHOLD and res[other] >= CLEAR_RATIO * max(res[best], 1e-12)
    if requested == "auto":
        if clear:
            return best, res
        if legacy is not None:
            return legacy, res
        why = ("neither order fits crystal field + lambda L.S" if res[best] >= FIT_THRESHOLD
               else "both orders fit about equally")
        raise DeckError(key, requested, f"{why} ({text}; threshold {FIT_THRESHOLD} eV, "
                        f"ratio {CLEAR_RATIO:g}): set \"interleaved\" or \"block\" if you know the order, "
                        "or check the orbitals/projections")
    if requested != best and res[requested] >= FIT_THRESHOLD and \
            res[requested] >= CLEAR_RATIO * max(res[best], 1e-12):
        raise DeckError(key, requested, f"the on-site blocks fit {best!r} far better ({text}); "
                        f"use \"{best}\" or \"auto\"")
    return requested, res
