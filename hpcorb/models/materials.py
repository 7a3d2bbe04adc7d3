"""Material models: bundled Slater-Koster and NRL parameter sets -> TBModel.

Deck (``[model]``): ``material`` (element of a bundled set, see
:func:`available`), ``parametrization = "sk" | "nrl"``, ``spin``,
``soc_scale``, ``lattice_constant`` (Angstrom), and for films ``surface``
("001", "110" for bcc; "001", "111" for fcc) with ``layers``.
``params`` (optional table) may override the spin-orbit strengths,
``xi_p`` / ``xi_d`` in eV, and, for a native NRL file given as
``material = "path/to/x_par"``, name the ``structure`` ("bcc" | "fcc";
``lattice_constant`` is then required).

Conventions
-----------
* Basis: s, px, py, pz, dxy, dyz, dzx, dx2-y2, dz2 on every atom, in the
  model frame (bulk: cubic axes; films: the axes of
  :mod:`hpcorb.models.geometry`).  State index
  ``((atom * n_spin) + spin) * 9 + orb``.
* Units: eV and Angstrom (the Ry/bohr of the parameter files converted with
  scipy.constants).
* Spin-orbit coupling: on-site ``H_SO = soc_scale * lambda_l L.S`` per shell
  (S = sigma/2), lambda from the parameter set (Ry -> eV).  Spinless models
  have no SOC: ``spin = false`` with ``soc_scale`` other than 1 (the default)
  or 0 is a deck error.  In NRL models H_SO is added to the on-site block of
  H(R=0) in the non-orthogonal basis (on-site overlap = 1).
* NRL models are non-orthogonal (``model.S``): eigenvalues solve
  H c = E S c; k-space calculations use the Loewdin form
  (:mod:`hpcorb.models.lowdin`) with L, S block-diagonal per atom.
* ``model.electrons`` = valence electrons per atom (the sum of the set's
  s, p, d occupations, rounded to an integer) times the number of atoms.
* SK sets have fixed shell integrals: ``lattice_constant`` rescales the
  geometry only.  NRL sets are distance dependent: it changes the physics.
"""
from __future__ import annotations

import os
import tomllib

import numpy as np
from scipy.constants import physical_constants

from ..errors import DeckError, InputError
from . import geometry
from .nrl import NRLParameters, read_nrl
from .orbitals import ORBITALS, soc_matrix
from .slaterkoster import BONDS, onsite_cubic, sk_matrices
from .tbmodel import TBModel
from .lowdin import hk as lowdin_hk

RY = physical_constants["Rydberg constant times hc in eV"][0]        # eV
BOHR = physical_constants["Bohr radius"][0] * 1e10                   # Angstrom
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "materials")
NORB = 9


def available() -> dict:
    """{parametrization: sorted element names} of the bundled sets."""
    out = {"sk": [], "nrl": []}
    for f in sorted(os.listdir(DATA)):
        if f.endswith("_sk.toml"):
            out["sk"].append(f[:-8])
        elif f.endswith("_nrl.toml"):
            out["nrl"].append(f[:-9])
    return out


def _lookup(material: str, parametrization: str) -> str:
    names = available()[parametrization]
    for n in names:
        if n.lower() == material.lower():
            return n
    return ""


def load_set(material: str, parametrization: str = "sk") -> dict:
    """The bundled parameter set as a dict (units of the file: Ry, bohr)."""
    name = _lookup(material, parametrization)
    if not name:
        raise KeyError(material)
    path = os.path.join(DATA, f"{name}_{parametrization}.toml")
    with open(path, "rb") as f:
        p = tomllib.load(f)
    p["file"] = path
    if parametrization == "nrl":
        p["nrl"] = read_nrl(os.path.join(DATA, p["native_file"]))
    return p


# ---------------------------------------------------------------------------
# assembling H(R)

def _assemble(cr: geometry.Crystal, i, j, R, blocks, onsite, S_blocks=None):
    """H(R) (nR, nat*9, nat*9) from bond blocks and on-site blocks (nat, 9, 9)."""
    nat = cr.nat
    R0 = np.zeros((1, 3), dtype=int)
    allR = np.concatenate([R0, R], axis=0)
    uniq, inv = np.unique(allR, axis=0, return_inverse=True)
    inv = inv.ravel()
    r0 = inv[0]
    rb = inv[1:]

    def build(bl, ons):
        H = np.zeros((len(uniq), nat, NORB, nat, NORB))
        H[rb, i, :, j, :] = bl
        a = np.arange(nat)
        H[r0, a, :, a, :] = ons
        return H

    H = build(blocks, onsite)
    S = None
    if S_blocks is not None:
        S = build(S_blocks, np.broadcast_to(np.eye(NORB), (nat, NORB, NORB)))
    return uniq, H, S


def _spinful(H5, soc=None):
    """(nR, nat, 9, nat, 9) -> (nR, N, N) with N = nat*2*9, spin-diagonal + on-site SOC at R=0."""
    nR, nat = H5.shape[0], H5.shape[1]
    out = np.zeros((nR, nat, 2, NORB, nat, 2, NORB), dtype=complex)
    for s in range(2):
        out[:, :, s, :, :, s, :] = H5
    out = out.reshape(nR, nat * 2 * NORB, nat * 2 * NORB)
    return out


def _metadata(nat, spin):
    ns = 2 if spin else 1
    atoms = np.repeat(np.arange(nat), ns * NORB)
    orbitals = list(ORBITALS) * (nat * ns)
    spins = np.tile(np.repeat(np.arange(ns), NORB), nat) if spin else -np.ones(nat * NORB, dtype=int)
    return atoms, orbitals, spins


def crystal_model(cr: geometry.Crystal, kind: str, pset: dict, *, spin=False, soc_scale=1.0,
                  xi_p=None, xi_d=None, name="material") -> TBModel:
    """TBModel for a crystal (bulk or film) from a parameter set (``load_set`` dict).

    ``kind`` "sk" or "nrl"; ``xi_p``/``xi_d`` (eV) override the set's SOC.
    """
    a = cr.a
    Qf = cr.frame
    meta = {}
    if kind == "sk":
        shells = pset["shells"]
        dist = np.array([float(s["distance"]) for s in shells]) * a
        V = np.array([[float(s[b]) for b in BONDS] for s in shells]) * RY
        i, j, R, d = geometry.neighbours(cr, dist[-1] * (1 + 1e-6))
        r = np.linalg.norm(d, axis=1)
        sh = np.argmin(np.abs(r[:, None] - dist[None, :]), axis=1)
        if np.any(np.abs(r - dist[sh]) > 1e-6 * a):
            raise InputError(f"{pset['file']}: a neighbour distance matches no shell")
        blocks = sk_matrices(d, V[sh])
        o = pset["onsite"]
        ons = onsite_cubic(*(RY * o[k] for k in ("s", "p", "t2g", "eg")), Q=Qf)
        onsite = np.broadcast_to(ons, (cr.nat, NORB, NORB))
        Rl, H5, S5 = _assemble(cr, i, j, R, blocks, onsite)
        nn = np.bincount(i, minlength=cr.nat)
        meta["neighbours_per_atom_max"] = int(nn.max())
        meta["fermi_energy_reference"] = float(pset["fermi_energy"]) * RY
        meta["fermi_energy_reference_note"] = "Fermi energy printed in the parameter file (eV), bulk"
        electrons_atom = float(np.round(sum(pset["occupations"])))
    elif kind == "nrl":
        p: NRLParameters = pset["nrl"]
        i, j, R, d = geometry.neighbours(cr, p.Rc * BOHR)
        rb = np.linalg.norm(d, axis=1) / BOHR                       # bohr
        keep = p.cutoff(rb) != 0.0
        i, j, R, d, rb = i[keep], j[keep], R[keep], d[keep], rb[keep]
        rho = np.bincount(i, weights=p.density_terms(rb), minlength=cr.nat)
        h = p.onsite_energies(rho)                                  # Ry, per atom
        onsite = np.stack([onsite_cubic(h["s"][n] * RY, h["p"][n] * RY, h["t2g"][n] * RY,
                                        h["eg"][n] * RY, Q=Qf) for n in range(cr.nat)])
        Vh, Vs = p.bonds(rb)
        blocks = sk_matrices(d, Vh * RY)
        sblocks = sk_matrices(d, Vs)
        Rl, H5, S5 = _assemble(cr, i, j, R, blocks, onsite, sblocks)
        nn = np.bincount(i, minlength=cr.nat)
        meta["neighbours_per_atom_max"] = int(nn.max())
        meta["nrl_density"] = rho.tolist()
        meta["nrl_style"] = p.style
        meta["nrl_cutoff"] = f"F(R) = 1/(1+exp((R-{p.R0})/{p.ell})) for R < {p.Rc} bohr"
        if p.quirks:
            meta["nrl_quirks"] = p.quirks
        meta["nonorthogonal"] = ("generalized eigenproblem H c = E S c; Loewdin H' = S^-1/2 H S^-1/2 "
                                 "per k for velocities; L, S taken block-diagonal per atom in the "
                                 "orthogonalized basis")
        electrons_atom = float(np.round(sum(p.valence)))
    else:
        raise ValueError(kind)

    lam_p = float(pset.get("lambda_p", 0.0)) * RY if xi_p is None else float(xi_p)
    lam_d = float(pset.get("lambda_d", 0.0)) * RY if xi_d is None else float(xi_d)
    nat = cr.nat
    if spin:
        H = _spinful(H5)
        S = None if S5 is None else _spinful(S5)
        r0 = int(np.flatnonzero(np.all(Rl == 0, axis=1))[0])
        soc = soc_matrix(ORBITALS, soc_scale * lam_p, soc_scale * lam_d)
        for n in range(nat):
            sl = slice(n * 2 * NORB, (n + 1) * 2 * NORB)
            H[r0, sl, sl] += soc
    else:
        H = H5.reshape(len(Rl), nat * NORB, nat * NORB).astype(complex)
        S = None if S5 is None else S5.reshape(len(Rl), nat * NORB, nat * NORB).astype(complex)
    atoms, orbitals, spins = _metadata(nat, spin)
    ns = 2 if spin else 1
    positions = np.repeat(cr.positions, ns * NORB, axis=0)
    meta.update({
        "source": pset.get("source", ""),
        "parameter_file": os.path.basename(pset.get("file", "")),
        "parametrization": kind,
        "structure": cr.structure,
        "lattice_constant": cr.a,
        "units": "eV, Angstrom (converted from Ry, bohr: 1 Ry = %.9f eV, 1 bohr = %.9f Angstrom)" % (RY, BOHR),
        "basis": "s px py pz dxy dyz dzx dx2-y2 dz2 per atom; index ((atom*n_spin)+spin)*9+orb",
        "soc": (f"H_SO = soc_scale * lambda_l L.S, S = sigma/2; lambda_p = {lam_p:.6g} eV, "
                f"lambda_d = {lam_d:.6g} eV, soc_scale = {soc_scale:g}") if spin else "none (spinless)",
        "soc_scale": float(soc_scale) if spin else 0.0,
        "frame": "bulk: cubic axes" if cr.surface is None else
                 f"film ({cr.surface}): x, y in-plane, z normal; axes (cubic) x={np.round(Qf[0], 6).tolist()}, "
                 f"y={np.round(Qf[1], 6).tolist()}, z={np.round(Qf[2], 6).tolist()}",
        "bloch_convention": "H_ab(k) = sum_R exp(i k.(R + tau_b - tau_a)) H_ab(R), atom-centred positions",
    })
    if pset.get("lambda_source"):
        meta["soc_source"] = pset["lambda_source"]
    if cr.surface is not None:
        meta.update({"surface": cr.surface, "layers": int(cr.layers), "interlayer_distance": float(cr.spacing)})
    model = TBModel(lattice=cr.lattice, R=Rl, H=H, positions=positions, periodic=cr.periodic, S=S,
                    atoms=atoms, orbitals=orbitals, spins=spins, name=name,
                    electrons=electrons_atom * nat, meta=meta)
    return model


def material_model(material: str, parametrization: str = "sk", *, spin=False, soc_scale=1.0,
                   lattice_constant=None, surface=None, layers=None, closed=False,
                   xi_p=None, xi_d=None, structure=None) -> TBModel:
    """Python entry: a bulk or film model of a bundled material (or native NRL file)."""
    if parametrization == "nrl" and os.path.isfile(material):
        if structure is None or lattice_constant is None:
            raise InputError(f"native NRL file {material}: give the structure (bcc/fcc) and lattice_constant")
        pset = {"nrl": read_nrl(material), "file": material, "source": f"native NRL file {material}",
                "structure": structure}
        name = os.path.basename(material)
    else:
        pset = load_set(material, parametrization)
        name = pset["element"]
    struct = pset["structure"]
    a = lattice_constant if lattice_constant is not None else pset["lattice_constant"] * BOHR
    if surface is None:
        cr = geometry.bulk(struct, a)
    else:
        cr = geometry.film(struct, a, surface, layers, closed=closed)
    label = f"{name} ({parametrization})" + ("" if surface is None else f" ({surface}) {layers} layers")
    model = crystal_model(cr, parametrization, pset, spin=spin, soc_scale=soc_scale, xi_p=xi_p, xi_d=xi_d,
                          name=label)
    model.meta["element"] = str(pset.get("element", name))
    if parametrization == "sk":
        model.meta["occupations"] = list(pset["occupations"])
    return model


def build_material_model(m: dict) -> TBModel:
    """Deck entry (``[model]`` dict, validated): errors name the deck key."""
    material = m["material"]
    par = m.get("parametrization") or "sk"
    avail = available()
    native = par == "nrl" and os.path.isfile(material)
    if not native and not _lookup(material, par):
        other = "nrl" if par == "sk" else "sk"
        hint = f" (also available as parametrization = \"{other}\")" if _lookup(material, other) else ""
        raise DeckError("model.material", material,
                        f"no bundled {par} set{hint}; {par} sets: " + ", ".join(avail[par]) +
                        ("" if par == "sk" else "; or the path of a native NRL file"))
    params = m.get("params") or {}
    if not isinstance(params, dict):
        raise DeckError("model.params", params, "expected a table, e.g. {xi_d = 0.3}")
    allowed = {"xi_p", "xi_d"} | ({"structure"} if native else set())
    for k, v in params.items():
        if k not in allowed:
            raise DeckError(f"model.params.{k}", v, "material models accept " + ", ".join(sorted(allowed)))
        if k != "structure" and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
            raise DeckError(f"model.params.{k}", v, "expected a number >= 0 (eV)")
    spin = bool(m.get("spin", False))
    soc_scale = m.get("soc_scale")
    soc_scale = 1.0 if soc_scale is None else float(soc_scale)
    if not spin and soc_scale not in (0.0, 1.0):
        raise DeckError("model.soc_scale", soc_scale,
                        "spin-orbit coupling needs spin = true (spinless models have no SOC)")
    if not spin and ("xi_p" in params or "xi_d" in params):
        raise DeckError("model.params", params, "spin-orbit strengths need spin = true")
    surface, layers = m.get("surface"), m.get("layers")
    if native:
        struct = params.get("structure")
        if struct not in ("bcc", "fcc"):
            raise DeckError("model.params.structure", struct, "a native NRL file needs structure = \"bcc\" or \"fcc\"")
        if m.get("lattice_constant") is None:
            raise DeckError("model.lattice_constant", None, "required with a native NRL file (Angstrom)")
    else:
        struct = load_set(material, par)["structure"]
    if surface is None and layers is not None:
        raise DeckError("model.layers", layers, "a film needs surface = " +
                        " or ".join(f'"{s}"' for s in geometry.SURFACES[struct]))
    if surface is not None:
        if surface not in geometry.SURFACES[struct]:
            raise DeckError("model.surface", surface, f"{struct} {material} films: one of " +
                            ", ".join(f'"{s}"' for s in geometry.SURFACES[struct]))
        if layers is None:
            raise DeckError("model.layers", "(missing)", "a film needs layers (an integer >= 1)")
        if layers < 1:
            raise DeckError("model.layers", layers, "expected an integer >= 1")
    return material_model(material, par, spin=spin, soc_scale=soc_scale,
                          lattice_constant=m.get("lattice_constant"), surface=surface, layers=layers,
                          xi_p=params.get("xi_p"), xi_d=params.get("xi_d"), structure=params.get("structure"))


# ---------------------------------------------------------------------------
# helpers shared by calculations and tests

def eigenvalues(model: TBModel, kfrac) -> np.ndarray:
    """Band energies (nk, N) in eV; generalized problem for non-orthogonal models
    (batched Cholesky: H' = L^-1 H L^-H with S = L L^+)."""
    H = model.hk(kfrac)
    S = model.sk(kfrac)
    if S is None:
        return np.linalg.eigvalsh(H)
    Lc = np.linalg.cholesky(S)
    Li = np.linalg.inv(Lc)
    Hp = Li @ H @ np.conj(np.swapaxes(Li, -1, -2))
    return np.linalg.eigvalsh(0.5 * (Hp + np.conj(np.swapaxes(Hp, -1, -2))))


def fermi_from_eigenvalues(eigs, electrons: float, spinful: bool) -> float:
    """Fermi level (eV) of a uniform mesh of eigenvalues (nk, nbands) at T = 0.

    Each band holds 1 (spinful) or 2 (spinless) electrons per cell.  The Fermi
    level is the midpoint between the last filled and the first empty state of
    the sorted mesh eigenvalues.
    """
    e = np.sort(np.asarray(eigs).ravel())
    nk = np.asarray(eigs).shape[0]
    per = 1.0 if spinful else 2.0
    n = electrons / per * nk                  # states to fill
    k = int(np.floor(n + 1e-9))
    if k <= 0:
        return float(e[0])
    if k >= len(e):
        return float(e[-1])
    frac = n - k
    if frac > 1e-9:
        return float(e[k])
    return float(0.5 * (e[k - 1] + e[k]))


def uniform_mesh(n, dim=3, shift=0.0) -> np.ndarray:
    """Fractional k of an n^dim mesh (Gamma-centred, optional shift in mesh units)."""
    g = (np.arange(n) + shift) / n
    grids = np.meshgrid(*([g] * dim), indexing="ij")
    return np.stack([x.ravel() for x in grids], axis=1)


def orthogonalized_model(model: TBModel, mesh) -> TBModel:
    """An orthogonal R-space model equal to the Loewdin form S^-1/2 H S^-1/2 of a
    non-orthogonal model on the k-mesh ``mesh`` (n1, n2[, n3]; Gamma-centred).

    H'(R) is the discrete Fourier transform of the Loewdin H'(k) on the mesh; every
    (atom pair, R mod supercell) goes to the image(s) with the shortest bond
    ``R + tau_b - tau_a`` (Wigner-Seitz, equal weights for ties), so that H'(k) is
    reproduced exactly on the mesh and smoothly interpolated between (the Loewdin
    Hamiltonian has infinite range: convergence with the mesh, not exactness).
    Used to write NRL models as Wannier90 files.
    """
    if model.S is None:
        return model
    mesh = tuple(int(n) for n in mesh)
    dim = model.periodic
    if len(mesh) != dim:
        raise ValueError(f"mesh needs {dim} entries")
    grids = np.meshgrid(*[np.arange(n) / n for n in mesh], indexing="ij")
    kf = np.stack([g.ravel() for g in grids], axis=1)
    Hk = lowdin_hk(model, kf)                                     # (nk, N, N), atom-position phases
    kc = model.kcart(kf)
    pos = model.positions
    # periodic part G_ab(k) = exp(-i k.(tau_b - tau_a)) H'_ab(k)
    ph = np.exp(-1j * kc @ pos.T)                                 # (nk, N): e^{-i k tau}
    G = ph.conj()[:, :, None] * Hk * ph[:, None, :]
    # R0 on the supercell grid, centred
    r_axes = [np.arange(n) - n // 2 for n in mesh] + [np.array([0])] * (3 - dim)
    R0 = np.stack([g.ravel() for g in np.meshgrid(*r_axes, indexing="ij")], axis=1)     # (nR0, 3)
    phase = np.exp(-1j * 2 * np.pi * (kf @ R0[:, :dim].T))       # (nk, nR0)
    HR0 = np.einsum("kr,kab->rab", phase, G) / len(kf)            # (nR0, N, N)
    # Wigner-Seitz images per atom pair
    shifts = np.stack([g.ravel() for g in np.meshgrid(*([np.arange(-1, 2)] * dim + [np.array([0])] * (3 - dim)),
                                                       indexing="ij")], axis=1) * np.array(list(mesh) + [1] * (3 - dim))
    atoms = model.atoms
    nat = int(atoms.max()) + 1
    apos = np.array([pos[np.flatnonzero(atoms == a)[0]] for a in range(nat)])
    lat = model.lattice
    entries = {}
    for a in range(nat):
        ia = np.flatnonzero(atoms == a)
        for b in range(nat):
            ib = np.flatnonzero(atoms == b)
            cand = R0[:, None, :] + shifts[None, :, :]                    # (nR0, ns, 3)
            d = np.linalg.norm(cand @ lat + (apos[b] - apos[a]), axis=-1)
            dmin = d.min(axis=1, keepdims=True)
            best = np.abs(d - dmin) < 1e-6 * max(1.0, float(dmin.max()))
            w = 1.0 / best.sum(axis=1)
            for r in range(len(R0)):
                block = HR0[r][np.ix_(ia, ib)] * w[r]
                for s in np.flatnonzero(best[r]):
                    key = tuple(int(x) for x in cand[r, s])
                    if key not in entries:
                        entries[key] = np.zeros((model.norb, model.norb), dtype=complex)
                    entries[key][np.ix_(ia, ib)] += block
    Rl = np.array(sorted(entries))
    H = np.array([entries[tuple(r)] for r in Rl])
    meta = dict(model.meta)
    meta["orthogonalized"] = (f"Loewdin S^-1/2 H S^-1/2 on a {'x'.join(map(str, mesh))} mesh, Fourier "
                              "transformed (exact on the mesh, interpolated between)")
    return TBModel(lattice=model.lattice, R=Rl, H=H, positions=model.positions, periodic=model.periodic,
                   S=None, atoms=model.atoms, orbitals=model.orbitals, spins=model.spins,
                   name=model.name + " (orthogonalized)", electrons=model.electrons, meta=meta)
