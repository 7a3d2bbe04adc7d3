"""``hpcorb.slab_kubo``: layer-resolved direct and inverse orbital/spin Hall
responses of films (paper 003), and the same kernel for bulk crystals.

Stages (k-mesh engine: MPI, chunks, checkpoint/restart):

1. ``fermi`` (only without ``fermi_energy``): eigenvalue histogram on the
   same k-mesh, Fermi level from the electron count.
2. ``kubo``: per k the band- and layer-resolved contributions
   (:mod:`hpcorb.kernels.kubo`) accumulated into an energy histogram; every
   requested Fermi energy / the temperature is applied afterwards.

Output (``/slab_kubo`` in the results file): ``energies`` [nE] eV relative to E_F, ``layer_z``
[Nl] Angstrom (relative to the film centre), and
``{direct,inverse}/{orbital,spin}/{conventional,torque_dipole,proper}``
[nE, Nl, 3, 2] in (hbar/e)(Ohm cm)^-1: axis 2 polarization (x, y, z), axis 3
in-plane direction beta (x, y).  Direct: sigma^gamma_{dir, z beta}(z)
(response of the z-flowing current of O_gamma in layer z to E_beta).
Inverse: sigma^gamma_{inv, beta z}(z) (charge current along beta in layer z
driven by the O_gamma voltage).  Main-text signs of paper 003 (Eqs. 9, 11):
the global responses obey sigma_dir,z beta = -sigma_inv,beta z.
Global response = mean over layers (Eq. 13).
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError, InputError
from ..io.results import Results
from ..kernels import kubo as K
from ..kernels import kubo_tensor as KT
from ..models import lowdin
from ..models.orbitals import layer_index, model_operators
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..parallel.kmesh import KMesh
from ..result import Result
from ..symmetry import find_symmetry, full_mesh, keeps_z, layer_permutation, mesh_for, rebuild
from .kspace import fermi_level_kT, spin_degeneracy

KINDS = ("direct", "inverse")
OPS = ("orbital", "spin")
PARTS = ("conventional", "torque_dipole", "proper")
K_B = 8.617333262e-5   # eV/K


# ---- setup shared by the physics, the tests and the benchmark ----------------------

class Setup:
    """Everything k-independent: the layer-sorted model, operators, layout."""

    def __init__(self, model, mode="film", eta=0.1, precision="double"):
        self.precision = precision
        self.pairs = None           # (gamma, beta) combinations the kernel computes (None: all)
        self.mode = mode
        self.bulk = mode == "bulk"
        self.eta = float(eta)
        if self.bulk:
            layer = np.zeros(model.norb, dtype=int)
            layer_z = np.zeros(1)
        else:
            layer, layer_z = layer_index(model.positions[:, 2])
        order = np.argsort(layer, kind="stable")
        self.order = order
        self.model = _permuted(model, order)
        self.layer = layer[order]
        nl = int(self.layer.max()) + 1
        starts = np.searchsorted(self.layer, np.arange(nl + 1))
        z = self.model.positions[:, 2]
        if self.bulk:
            self.centre = float(np.mean(z))
            self.layer_z = np.zeros(1)
        else:
            self.centre = 0.5 * (layer_z.min() + layer_z.max())
            self.layer_z = layer_z - self.centre
        self.z = z - self.centre
        L, S = model_operators(self.model)
        self.O = np.concatenate([L, S])
        self._check_onsite(starts)
        bw = K.layer_bandwidth(self.layer, self.model.H, self.model.S)
        self.layout = K.Layout(starts, bw)
        self.nl = nl
        if self.bulk:
            self.volume = self.model.cell_volume
            self.D = float("nan")
        else:
            D = self.model.meta.get("interlayer_distance")
            if D is None:
                D = (layer_z.max() - layer_z.min()) / (nl - 1) if nl > 1 else float(np.linalg.norm(self.model.lattice[2]))
            self.D = float(D)
            self.volume = self.model.cell_volume * self.D

    def _check_onsite(self, starts):
        off = self.O.copy()
        for a, b in zip(starts[:-1], starts[1:]):
            off[:, a:b, a:b] = 0
        if np.abs(off).max() > 0:
            raise InputError("orbital/spin operators couple different layers (basis metadata inconsistent)")

    def hk(self, kfrac):
        """H (N, N) and dH (3, N, N) at one k (orthonormal basis)."""
        H, dH = lowdin.hk_dhk(self.model, np.atleast_2d(kfrac))
        return H[0], dH[0]

    def hk_batch(self, kfrac):
        """H (nk, N, N) and dH (nk, 3, N, N) for a batch of k (one transform over R)."""
        return lowdin.hk_dhk(self.model, np.atleast_2d(kfrac))

    def k_contrib(self, kfrac, w_lo, w_hi, holes):
        H, dH = self.hk(kfrac)
        return self.contrib(H, dH, w_lo, w_hi, holes)[:2]

    def contrib(self, H, dH, w_lo, w_hi, holes, tensor=False):
        """(E of the bands used, film/bulk contributions, bulk tensor contributions or None)."""
        E, U = np.linalg.eigh(H)
        cols, always = K.band_window(E, w_lo, w_hi, holes)
        vb, qb = K.current_blocks(self.layout, H, dH, self.z, self.O, bulk=self.bulk)
        c = K.kubo_k(self.layout, E, U, vb, qb, self.eta, cols, always, holes, precision=self.precision,
                     pairs=self.pairs)
        t = KT.tensor_k(E, U, dH, self.O, self.eta, cols) if tensor else None
        return E[cols], c, t


def _permuted(model, p):
    if np.all(p == np.arange(len(p))):
        return model
    H = model.H[:, p][:, :, p]
    S = None if model.S is None else model.S[:, p][:, :, p]
    return model.with_hoppings(H, S=S, positions=model.positions[p], atoms=model.atoms[p],
                               orbitals=[model.orbitals[i] for i in p], spins=model.spins[p])


def prepare(model, kmesh, mode, fermi_energy):
    """The mesh; DeckError for inconsistent input."""
    dim = 2 if mode == "film" else 3
    if model.periodic != dim:
        raise DeckError("kmesh.size", kmesh["size"],
                        f"the model is periodic in {model.periodic} directions; mode = \"{mode}\" needs {dim}")
    model.require_geometry("slab_kubo (velocities and the cell volume)")
    mesh = KMesh(kmesh["size"], kmesh["shift"])
    if fermi_energy is None and model.electrons is None:
        raise DeckError("slab_kubo.fermi_energy", None, "give fermi_energy (eV) or [model] electrons "
                        "(no electron count is known for this model)")
    return mesh


def slab_kubo(model, *, kmesh, context, energies, eta, temperature, fermi_energy, surface_layers, mode,
              energy_resolution, precision):
    """Layer-resolved Hall responses; keys as in the [slab_kubo] table (validated)."""
    p = {"energies": energies, "eta": eta, "temperature": temperature, "fermi_energy": fermi_energy,
         "surface_layers": surface_layers, "mode": mode, "energy_resolution": energy_resolution,
         "precision": precision}
    ctx, log = context, context.log
    mesh = prepare(model, kmesh, mode, fermi_energy)
    st = Setup(model, p["mode"], p["eta"], p["precision"])
    if p["mode"] == "film" and p["surface_layers"] is not None and 2 * p["surface_layers"] > st.nl:
        raise DeckError("slab_kubo.surface_layers", p["surface_layers"],
                        f"at most {st.nl // 2} (half of the {st.nl} layers) per side")
    kT = K_B * p["temperature"]
    irr, sym = _symmetry(st, mesh, kmesh["symmetry"], log)
    st.pairs = needed_pairs(sym)
    if not st.pairs.all():
        log("slab_kubo: the symmetry leaves the (polarization, field) pairs "
            + ", ".join(f"({'xyz'[g]}, {'xy'[b]})" for g, b in zip(*np.nonzero(st.pairs)))
            + "; the others vanish and are not computed")
    chunk = kmesh["chunk_size"] or default_chunk_size(irr.n, cost_hint=max(1.0, (st.model.norb / 40.0) ** 3))
    log(f"slab_kubo: {model.name}, mode {p['mode']}, {st.model.norb} bands, {st.nl} layer(s), "
        f"layer bandwidth {st.layout.bandwidth}, mesh {mesh} ({mesh.n} k), eta {p['eta']:g} eV, T {p['temperature']:g} K")

    # ---- Fermi level
    g_spin = spin_degeneracy(st.model)
    if p["fermi_energy"] is not None:
        ef = float(p["fermi_energy"])
        ef_source = "deck"
    else:
        ef = fermi_level_kT(st.model, irr, model.electrons / g_spin, kT, ctx, chunk * 4,
                            st.hk(np.zeros(mesh.dim))[0])
        ef_source = f"electron count {model.electrons:g} on the same k-mesh"
        log(f"slab_kubo: Fermi energy {ef:.6f} eV ({ef_source})")
    energies = np.asarray(p["energies"], dtype=float)
    mu = ef + energies
    edges = K.histogram_edges(mu, kT, p["energy_resolution"])
    w_lo, w_hi = K.window(mu, kT)
    E0 = np.linalg.eigvalsh(st.hk(np.zeros(mesh.dim))[0])
    holes = bool(np.sum(E0 >= w_lo) < np.sum(E0 < w_hi))
    nb = len(edges) + 1
    shape = (nb, 2, K.N_OPS, 2, st.nl)
    log(f"slab_kubo: {len(energies)} Fermi energies, histogram of {nb} bins, "
        f"{'hole' if holes else 'electron'} side")

    kernel = make_kernel(st, irr, edges, w_lo, w_hi, holes, moments=kT > 0)
    tmpl = {"hist": (shape, float)}
    if kT > 0:
        tmpl["hist1"] = (shape, float)
    if st.bulk:
        tmpl.update({k: ((nb, 2, 3, 3, 3), float) for k in (("tensor", "tensor1") if kT > 0 else ("tensor",))})
    out = run_chunks(Plan(irr.n, chunk), kernel, tmpl, ctx.comm,
                     stage="kubo", label="k-points", **ctx.engine())
    # full-mesh sums: film/bulk histograms [bin, kind, (O, part, gamma), beta, layer]; the bulk
    # tensor [bin, O, gamma (axial), alpha (polar), beta (polar)]
    out = {n: (rebuild(a, np.array([R for R, _ in sym]), ("axial", "polar", "polar")) if n.startswith("tensor")
               else _rebuild_hist(a, sym)) for n, a in out.items()}
    sig = finish(out["hist"], edges, mu, kT, holes, st.volume, mesh.n, out.get("hist1"))

    res = Results("slab_kubo")
    res.add("energies", energies, "eV", "Fermi energies relative to E_F")
    res.add("layer_z", st.layer_z, "Angstrom", "layer positions (z, relative to the film centre)")
    res.add("symmetry_rotations", np.array([R for R, _ in sym]), "1", "Cartesian rotations of the verified "
            "point-group operations used for the k-sum (identity only without symmetry)")
    units = "(hbar/e)(Ohm cm)^-1"
    arrays = to_contract(sig)
    for kind in KINDS:
        for o in OPS:
            for part in PARTS:
                what = ("sigma^gamma_dir,z beta(z): z-current of " if kind == "direct" else
                        "sigma^gamma_inv,beta z(z): charge current along beta in layer z driven by the voltage of ")
                res.add(f"{kind}/{o}/{part}", arrays[kind][o][part], units,
                        what + ("L" if o == "orbital" else "S") + f"_gamma, {part.replace('_', ' ')}; "
                        "axes [energy, layer, gamma (x,y,z), beta (x,y)]")
    res.attrs.update(model.provenance())
    if st.bulk:
        T = KT.finish(out["tensor"], edges, mu, kT, holes, st.volume, mesh.n, out.get("tensor1"))
        for o, oname in enumerate(OPS):
            res.add(f"tensor/{oname}/conventional", T[:, o], units,
                    f"sigma^gamma_alpha beta: alpha-current (1/2){{v_alpha, {'L' if o == 0 else 'S'}_gamma}} "
                    "driven by E_beta; axes [energy, gamma (x,y,z), alpha flow (x,y,z), beta field (x,y,z)]")
    s = min(3, st.nl // 2) if p["surface_layers"] is None else p["surface_layers"]
    res.attrs.update({
        "units": units, "eta_eV": p["eta"], "temperature_K": p["temperature"], "kmesh": list(mesh.size),
        "kmesh_shift": mesh.shift.tolist(), "fermi_energy_eV": ef, "fermi_energy_source": ef_source,
        "surface_layers": s, "mode": p["mode"], "n_layers": st.nl, "n_bands": st.model.norb,
        "interlayer_distance_A": st.D, "cell_volume_A3": st.volume, "model": model.name,
        "histogram_bins": nb, "histogram_side": "holes" if holes else "electrons",
        "layer_bandwidth": st.layout.bandwidth, "precision": p["precision"],
        "symmetry": bool(kmesh["symmetry"]), "symmetry_ops": len(sym), "irreducible_k": irr.n,
        "convention": ("paper 003 main-text signs (Eqs. 9, 11): sigma = -(e hbar/D) Int d2k/(2pi)^2 sum "
                       "(f_n - f_n') Im[<n|A(z)|n'><n'|B|n>]/((E_n-E_n')^2+eta^2); the supplement's S10 "
                       "has the opposite sign for the inverse. Global = mean over layers; "
                       "sigma_dir,z beta = -sigma_inv,beta z globally. L in units of hbar, S = sigma/2. "
                       "Film: v_z = i[H,Z]/hbar, Z atom-centred, origin at the film centre; torque dipole "
                       "(1/2){Z, [O,H]/(i hbar)}; proper = conventional + torque dipole."),
        "bulk_note": ("mode bulk: v_z = dH/dk_z/hbar; the torque dipole uses the atom-centred z inside "
                      "the cell (origin at the centroid): zero for one-atom cells, where proper = "
                      "conventional") if st.bulk else "",
        "operators": ("L block-diagonal per atom; for non-orthogonal (NRL) models H and v are Loewdin-"
                      "orthogonalized and L, S, Z taken unchanged in the Loewdin basis") if model.S is not None
        else "L block-diagonal per atom (atom-centred approximation)",
    })
    return Result(res, ctx.comm)


def make_kernel(st, mesh, edges, w_lo, w_hi, holes, moments=False):
    """The engine kernel: k-points start..stop-1 -> histogram(s) of contributions."""
    shape = (len(edges) + 1, 2, K.N_OPS, 2, st.nl)
    centres = K.bin_centres(edges)

    tshape = (len(edges) + 1, 2, 3, 3, 3)
    batch = max(1, 2 ** 18 // st.model.norb ** 2)        # H, dH of a batch: <= ~16 MB (1 k for big films)

    def kernel(start, stop):
        hist = np.zeros(shape)
        hist1 = np.zeros(shape) if moments else None
        th = np.zeros(tshape) if st.bulk else None
        th1 = np.zeros(tshape) if (st.bulk and moments) else None
        kf = mesh.frac(start, stop)
        ws = mesh.weights(start, stop) if hasattr(mesh, "weights") else np.ones(stop - start)
        for b in range(0, len(kf), batch):
            Hs, dHs = st.hk_batch(kf[b:b + batch])
            for H, dH, w in zip(Hs, dHs, ws[b:b + batch]):
                E, c, t = st.contrib(H, dH, w_lo, w_hi, holes, tensor=st.bulk)
                K.accumulate(hist, edges, E, c if w == 1 else w * c, hist1, centres)
                if st.bulk:
                    K.accumulate(th, edges, E, t if w == 1 else w * t, th1, centres)
        out = {"hist": hist}
        if moments:
            out["hist1"] = hist1
        if st.bulk:
            out["tensor"] = th
            if moments:
                out["tensor1"] = th1
        return out
    return kernel


def _symmetry(st, mesh, use, log):
    """(irreducible mesh, [(R, layer permutation)]) of the film/bulk k-sum.

    Only operations that keep the z axis (the current direction of every
    response) are used; each is verified on H(k), L and S
    (:func:`hpcorb.symmetry.find_symmetry`).  Time reversal is not used.
    """
    if not use:
        return full_mesh(mesh), [(np.eye(3), np.arange(st.nl))]
    L, S = st.O[:3], st.O[3:]
    found = find_symmetry(st.model, lambda k: lowdin.hk(st.model, k), operators=(L, S), time_reversal=False)
    zabs = st.layer_z + st.centre
    ops, sym = [], []
    for op in found.ops:
        perm = np.zeros(1, dtype=int) if st.bulk else layer_permutation(op, zabs)
        if keeps_z(op) and perm is not None:
            ops.append(op)
            sym.append((op.R, perm))
    irr, rots = mesh_for(mesh, ops)
    sym = [s for s in sym if any(np.abs(s[0] - R).max() < 1e-9 for R in rots)]
    log(f"slab_kubo: symmetry: {len(sym)} operations keep the z axis and the mesh, "
        f"{irr.n} of {mesh.n} k-points")
    return irr, sym


def needed_pairs(sym, tol=1e-9):
    """bool (3, 2) over (polarization gamma, field beta): the combinations whose
    k-sum can contribute to the symmetrized result of :func:`_rebuild_hist`.

    The rebuild maps component (gamma, beta, layer l) to (c, e, perm[l]) with
    weight R_zz (det R R)[c, gamma] R[e, beta] per operation; a component is
    not needed when, for every target layer, these weights summed over the
    operations vanish (e.g. the mirrors of a (110) film keep only (x, y) and
    (y, x)).  Without operations every combination is needed.
    """
    need = np.zeros((3, 2), dtype=bool)
    nl = len(sym[0][1])
    for layer in range(nl):
        acc = {}
        for R, perm in sym:
            w = R[2, 2] * np.kron(np.linalg.det(R) * R, R[:2, :2])       # [(c, e), (gamma, beta)]
            acc[perm[layer]] = acc.get(perm[layer], 0.0) + w
        for w in acc.values():
            need |= (np.abs(w).max(axis=0) > tol).reshape(3, 2)
    return need


def _rebuild_hist(h, sym):
    """Full-mesh histogram from the irreducible one: (1/|G|) sum_g rho(g) h.

    h[bin, kind, op (O, part, gamma), beta, layer]: gamma axial (det(R) R),
    the current direction z polar (R_zz), beta polar in the plane (R[:2, :2]),
    layer l -> perm[l].
    """
    if len(sym) == 1:
        return h
    nb, nk_, nop, nbeta, nl = h.shape
    out = np.zeros_like(h)
    hh = h.reshape(nb, nk_, 2, 2, 3, nbeta, nl)                      # [.., O, part, gamma, beta, layer]
    for R, perm in sym:
        Ra = np.linalg.det(R) * R
        t = np.einsum("cg,bzopgdl->bzopcdl", Ra, hh) * R[2, 2]
        t = np.einsum("ed,bzopcdl->bzopcel", R[:2, :2], t)
        o = np.empty_like(t)
        o[..., perm] = t
        out += o.reshape(h.shape)
    return out / len(sym)


def finish(hist, edges, mu, kT, holes, volume, nk, hist1=None):
    """Histogram(s) -> sigma (2, 12, 2, nE, Nl) in (hbar/e)(Ohm cm)^-1."""
    F = K.occupation_weights(edges, mu, kT, holes)                 # (nE, nbins)
    s = np.tensordot(F, hist, axes=(1, 0))                         # (nE, 2, 12, 2, Nl)
    if hist1 is not None:
        s += np.tensordot(K.occupation_weights(edges, mu, kT, holes, derivative=True), hist1, axes=(1, 0))
    s *= -K.SIGMA_UNIT / (volume * nk)
    return np.moveaxis(s, 0, 3)


def to_contract(sig):
    """(2, 12, 2, nE, Nl) -> {kind: {o: {part: (nE, Nl, 3, 2)}}}."""
    out = {}
    for ki, kind in enumerate(KINDS):
        out[kind] = {}
        for o, oname in enumerate(OPS):
            parts = {}
            for pi, pname in enumerate(PARTS[:2]):
                idx = [K.op_index(o, pi, g) for g in range(3)]
                a = sig[ki][idx]                                   # (3, 2, nE, Nl)
                parts[pname] = np.ascontiguousarray(a.transpose(2, 3, 0, 1))
            parts["proper"] = parts["conventional"] + parts["torque_dipole"]
            out[kind][oname] = parts
    return out
