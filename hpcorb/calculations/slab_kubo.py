"""``type = "slab_kubo"``: layer-resolved direct and inverse orbital/spin Hall
responses of films (paper 003), and the same kernel for bulk crystals.

Stages (k-mesh engine: MPI, chunks, checkpoint/restart):

1. ``fermi`` (only without ``fermi_energy``): eigenvalue histogram on the
   same k-mesh, Fermi level from the electron count.
2. ``kubo``: per k the band- and layer-resolved contributions
   (:mod:`hpcorb.kernels.kubo`) accumulated into an energy histogram; every
   requested Fermi energy / the temperature is applied afterwards.

Output (``/slab_kubo``): ``energies`` [nE] eV relative to E_F, ``layer_z``
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

from ..config import Key, Table, engine_options, kspace_estimate
from ..errors import DeckError, InputError
from ..io.results import Results
from ..kernels import kubo as K
from ..kernels import kubo_tensor as KT
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..parallel.kmesh import KMesh
from ..symmetry import find_symmetry, full_mesh, keeps_z, layer_permutation, mesh_for, rebuild

SCHEMA = Table("slab_kubo", [
    Key("energies", "grid", [0.0], "Fermi energies relative to E_F: list or {start, stop, num}", units="eV"),
    Key("eta", "float", 0.1, "broadening eta of the Kubo formula", units="eV", ge=1e-6, le=100.0),
    Key("temperature", "float", 0.0, "temperature of the Fermi function", units="K", ge=0.0, le=1e5),
    Key("fermi_energy", "float", None, "absolute Fermi energy (default: from the electron count "
        "on the same k-mesh)", units="eV"),
    Key("surface_layers", "int", None, "layers counted as surface at each vacuum side (Table 1); "
        "default 3, or half the film when it is thinner; at most half the film", ge=0),
    Key("mode", "str", "film", "film: layer-resolved 2D film; bulk: 3D crystal (one 'layer')",
        choices=("film", "bulk")),
    Key("precision", "str", "double", "arithmetic after the complex128 eigensolve: double (complex128) or "
        "mixed (complex64 products, ~2x faster; measured relative change of the Table-1 numbers in "
        "docs/speed.md)", choices=("double", "mixed")),
    Key("energy_resolution", "float", None, "energy-histogram bin width (default: exact at T = 0 "
        "with the requested energies as bin edges; kT/10 at T > 0)", units="eV", ge=1e-6, le=10.0),
], "layer-resolved direct/inverse orbital and spin Hall responses (paper 003)")

KINDS = ("direct", "inverse")
OPS = ("orbital", "spin")
PARTS = ("conventional", "torque_dipole", "proper")
K_B = 8.617333262e-5   # eV/K


def check_deck(deck):
    p = deck["slab_kubo"]
    k = deck["kmesh"]
    if k["size"] is None:
        want = "[n1, n2]" if p["mode"] == "film" else "[n1, n2, n3]"
        raise DeckError("kmesh.size", "(missing)", f"a slab_kubo deck needs [kmesh] size = {want}")
    dim = 2 if p["mode"] == "film" else 3
    if len(k["size"]) != dim:
        raise DeckError("kmesh.size", k["size"], f"mode = \"{p['mode']}\" needs {dim} mesh sizes")
    if k["shift"] is not None and len(k["shift"]) != dim:
        raise DeckError("kmesh.shift", k["shift"], f"expected {dim} entries, one per mesh direction")
    if p["mode"] == "film" and deck["model"].get("material") and not deck["model"].get("surface"):
        raise DeckError("model.surface", None, "mode = \"film\" with a material needs surface and layers "
                        "(or use mode = \"bulk\")")
    if p["mode"] == "bulk" and deck["model"].get("surface"):
        raise DeckError("slab_kubo.mode", "bulk", "a film model (surface set) needs mode = \"film\"")
    e = np.asarray(p["energies"])
    if len(np.unique(e)) != len(e):
        raise DeckError("slab_kubo.energies", e.tolist(), "energies must be distinct")
    layers = deck["model"].get("layers")
    if p["mode"] == "film" and layers is not None and p["surface_layers"] is not None \
            and 2 * p["surface_layers"] > layers:
        raise DeckError("slab_kubo.surface_layers", p["surface_layers"],
                        f"at most {layers // 2} (half of model.layers = {layers}) per side")


# ---- setup shared by run, the tests and the benchmark ----------------------

class Setup:
    """Everything k-independent: the layer-sorted model, operators, layout."""

    def __init__(self, model, mode="film", eta=0.1, precision="double"):
        from ..models.orbitals import layer_index, model_operators
        self.mode = mode
        self.bulk = mode == "bulk"
        self.eta = float(eta)
        self.precision = precision
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
        from ..models import lowdin
        H, dH = lowdin.hk_dhk(self.model, np.atleast_2d(kfrac))
        return H[0], dH[0]

    def hk_batch(self, kfrac):
        """H (nk, N, N) and dH (nk, 3, N, N) for a batch of k (one transform over R)."""
        from ..models import lowdin
        return lowdin.hk_dhk(self.model, np.atleast_2d(kfrac))

    def k_contrib(self, kfrac, w_lo, w_hi, holes):
        H, dH = self.hk(kfrac)
        return self.contrib(H, dH, w_lo, w_hi, holes)[:2]

    def contrib(self, H, dH, w_lo, w_hi, holes, tensor=False):
        """(E of the bands used, film/bulk contributions, bulk tensor contributions or None)."""
        E, U = np.linalg.eigh(H)
        cols, always = K.band_window(E, w_lo, w_hi, holes)
        vb, qb = K.current_blocks(self.layout, H, dH, self.z, self.O, bulk=self.bulk)
        c = K.kubo_k(self.layout, E, U, vb, qb, self.eta, cols, always, holes, precision=self.precision)
        t = KT.tensor_k(E, U, dH, self.O, self.eta, cols) if tensor else None
        return E[cols], c, t


def _permuted(model, p):
    if np.all(p == np.arange(len(p))):
        return model
    H = model.H[:, p][:, :, p]
    S = None if model.S is None else model.S[:, p][:, :, p]
    return model.with_hoppings(H, S=S, positions=model.positions[p], atoms=model.atoms[p],
                               orbitals=[model.orbitals[i] for i in p], spins=model.spins[p])


def _prepare(deck):
    from ..models.build import build_model
    p = deck["slab_kubo"]
    dim = 2 if p["mode"] == "film" else 3
    model = build_model(deck["model"], periodic=dim)
    if model.periodic != dim:
        raise DeckError("kmesh.size", deck["kmesh"]["size"],
                        f"the model is periodic in {model.periodic} directions; mode = \"{p['mode']}\" needs {dim}")
    model.require_geometry("slab_kubo (velocities and the cell volume)")
    mesh = KMesh(deck["kmesh"]["size"], deck["kmesh"]["shift"])
    if p["fermi_energy"] is None and model.electrons is None:
        raise DeckError("slab_kubo.fermi_energy", None, "give fermi_energy (eV) or [model] electrons "
                        "(no electron count is known for this model)")
    return model, mesh


def validate(deck):
    _prepare(deck)


def run(deck, comm, log, checkpoint):
    p = deck["slab_kubo"]
    model, mesh = _prepare(deck)
    st = Setup(model, p["mode"], p["eta"], p["precision"])
    if p["mode"] == "film" and p["surface_layers"] is not None and 2 * p["surface_layers"] > st.nl:
        raise DeckError("slab_kubo.surface_layers", p["surface_layers"],
                        f"at most {st.nl // 2} (half of the {st.nl} layers) per side")
    kT = K_B * p["temperature"]
    opts = engine_options(deck)
    irr, sym = _symmetry(st, mesh, deck["kmesh"]["symmetry"], log)
    chunk = deck["kmesh"]["chunk_size"] or default_chunk_size(irr.n, cost_hint=max(1.0, (st.model.norb / 40.0) ** 3))
    log(f"slab_kubo: {model.name}, mode {p['mode']}, {st.model.norb} bands, {st.nl} layer(s), "
        f"layer bandwidth {st.layout.bandwidth}, mesh {mesh} ({mesh.n} k), eta {p['eta']:g} eV, T {p['temperature']:g} K")

    # ---- Fermi level
    g_spin = 1 if st.model.n_spin == 2 else 2
    if p["fermi_energy"] is not None:
        ef = float(p["fermi_energy"])
        ef_source = "deck"
    else:
        ef = _fermi_level(st, irr, model.electrons / g_spin, kT, comm, log, checkpoint, chunk, opts)
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
    out = run_chunks(Plan(irr.n, chunk), kernel, tmpl, comm, checkpoint=checkpoint,
                     stage="kubo", log=log, label="k-points", **opts)
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
        "symmetry": bool(deck["kmesh"]["symmetry"]), "symmetry_ops": len(sym), "irreducible_k": irr.n,
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
    return res


def _fermi_level(st, mesh, n_el_bands, kT, comm, log, checkpoint, chunk, opts):
    from ..models import lowdin
    E0 = np.linalg.eigvalsh(st.hk(np.zeros(mesh.dim))[0])
    span = E0.max() - E0.min()
    lo, hi = E0.min() - span - 10.0, E0.max() + span + 10.0
    de = 5e-4
    edges = lo + de * np.arange(int(np.ceil((hi - lo) / de)) + 1)

    def kernel(start, stop):
        e = np.linalg.eigvalsh(lowdin.hk(st.model, mesh.frac(start, stop)))
        b = np.searchsorted(edges, e.ravel(), side="right")
        w = np.repeat(mesh.weights(start, stop), e.shape[1])      # orbit sizes (1 without symmetry)
        return {"counts": np.bincount(b, weights=w, minlength=len(edges) + 1)}

    out = run_chunks(Plan(mesh.n, chunk * 4), kernel, {"counts": ((len(edges) + 1,), float)}, comm,
                     checkpoint=checkpoint, stage="fermi", log=log, label="k-points", **opts)
    return K.fermi_from_counts(edges, out["counts"], n_el_bands * mesh.mesh.n, kT)


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
    from ..models import lowdin
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


# ---- presentation -------------------------------------------------------------

# Table 1 rows of paper 003: (label, kind, o, gamma, beta, sign)
TABLE1_ROWS = [
    ("sigma_dir,zx^Ly", "direct", "orbital", 1, 0, +1),
    ("-sigma_inv,xz^Ly", "inverse", "orbital", 1, 0, -1),
    ("sigma_dir,zx^Sy", "direct", "spin", 1, 0, +1),
    ("-sigma_inv,xz^Sy", "inverse", "spin", 1, 0, -1),
    ("-sigma_dir,zy^Lx", "direct", "orbital", 0, 1, -1),
    ("sigma_inv,yz^Lx", "inverse", "orbital", 0, 1, +1),
    ("-sigma_dir,zy^Sx", "direct", "spin", 0, 1, -1),
    ("sigma_inv,yz^Sx", "inverse", "spin", 0, 1, +1),
]


def decompose(profile, surface_layers):
    """Layer profile (..., Nl) -> bulk, surface, total contributions to the global mean."""
    nl = profile.shape[-1]
    s = min(surface_layers, nl // 2)
    surf = np.zeros(nl, dtype=bool)
    surf[:s] = True
    surf[nl - s:] = True
    bulk = profile[..., ~surf].sum(axis=-1) / nl
    surface = profile[..., surf].sum(axis=-1) / nl
    return bulk, surface, bulk + surface


def table1(h5, energy_index=None, part="proper"):
    """Rows (label, bulk, surface, total) at the Fermi energy closest to 0."""
    g = h5["slab_kubo"]
    e = g["energies"][...]
    i = int(np.argmin(np.abs(e))) if energy_index is None else energy_index
    s = int(g.attrs["surface_layers"])
    rows = []
    for label, kind, o, gm, b, sign in TABLE1_ROWS:
        prof = sign * g[f"{kind}/{o}/{part}"][i, :, gm, b]
        rows.append((label,) + tuple(float(x) for x in decompose(prof, s)))
    return e[i], rows


def summary(h5) -> str:
    g = h5["slab_kubo"]
    a = g.attrs
    e0, _ = table1(h5)
    lines = [f"slab_kubo: {a.get('model', '?')}, mode {a['mode']}, {int(a['n_layers'])} layer(s), "
             f"k-mesh {'x'.join(str(int(x)) for x in a['kmesh'])}, eta {float(a['eta_eV']):g} eV, "
             f"T {float(a['temperature_K']):g} K, E_F = {float(a['fermi_energy_eV']):.4f} eV",
             f"units {a['units']}; E - E_F = {e0:+.3f} eV; surface = {int(a['surface_layers'])} layers per side"]
    if a["mode"] == "film":
        for part in PARTS:
            _, rows = table1(h5, part=part)
            lines.append("")
            lines.append(f"{part.replace('_', ' ')}  (Table 1 layout)")
            lines.append(f"  {'':18s} {'bulk':>10s} {'surface':>10s} {'total':>10s}")
            for label, b, s, t in rows:
                lines.append(f"  {label:18s} {b:+10.1f} {s:+10.1f} {t:+10.1f}")
    else:
        i = int(np.argmin(np.abs(g["energies"][...])))
        lines.append("")
        lines.append("bulk conductivities (conventional current; proper where different)")
        for o, sym in (("spin", "S"), ("orbital", "L")):
            c = g[f"direct/{o}/conventional"][i, 0]
            pr = g[f"direct/{o}/proper"][i, 0]
            lines.append(f"  sigma_zx^{sym}y = {c[1, 0]:+10.1f}   sigma_zy^{sym}x = {c[0, 1]:+10.1f}"
                         f"   (proper {pr[1, 0]:+.1f}, {pr[0, 1]:+.1f})")
        if "tensor" in g:
            lines.append("")
            lines.append("full tensor sigma^gamma_alpha beta (gamma polarization, alpha flow, beta field)")
            for o, sym in (("spin", "S"), ("orbital", "L")):
                T = g[f"tensor/{o}/conventional"][i]
                parts = [f"sigma_{a}{b}^{sym}{gm} {KT.component(T, gm, a, b):+8.1f}" for gm, a, b in KT.COMPONENTS]
                lines.append("  " + "  ".join(parts))
    return "\n".join(lines)


def plot(h5, stem):
    from ..plot import plt, save_figure
    g = h5["slab_kubo"]
    a = g.attrs
    e = g["energies"][...]
    z = g["layer_z"][...]
    i0 = int(np.argmin(np.abs(e)))
    paths = []
    if a["mode"] == "film" and len(z) > 1:
        fig, ax = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
        for col, (o, sym) in enumerate((("orbital", "L"), ("spin", "S"))):
            conv = g[f"direct/{o}/conventional"][i0, :, 1, 0]
            tor = g[f"direct/{o}/torque_dipole"][i0, :, 1, 0]
            ax[0, col].plot(z, conv, "s-", color="tab:red", label="conventional current")
            ax[0, col].plot(z, tor, "o-", color="tab:blue", label="torque dipole")
            ax[0, col].set_title(f"direct: $\\sigma_{{zx}}^{{{sym}_y}}(z)$")
            prop = g[f"direct/{o}/proper"][i0, :, 1, 0]
            inv = -g[f"inverse/{o}/proper"][i0, :, 1, 0]
            ax[1, col].plot(z, prop, "^-", color="tab:orange", label="proper current (direct)")
            ax[1, col].plot(z, inv, "*-", color="tab:green", label="$-\\sigma_{inv,xz}$ (charge current)")
            ax[1, col].set_xlabel("z (Angstrom)")
            for r in range(2):
                ax[r, col].axhline(0, color="k", lw=0.5)
                ax[r, col].legend(fontsize=8)
                ax[r, col].set_ylabel(a["units"])
        fig.suptitle(f"{a.get('model', '')}: layer profiles at E - E_F = {e[i0]:+.3f} eV (cf. paper 003 Fig. 1 a,b,e,f)")
        fig.tight_layout()
        paths.append(save_figure(fig, stem, "_profiles.png", dpi=110))
    if len(e) > 1:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        for col, (o, sym) in enumerate((("orbital", "L"), ("spin", "S"))):
            def glob(kind, part):
                return g[f"{kind}/{o}/{part}"][:, :, 1, 0].mean(axis=1)
            ax[col].plot(e, glob("direct", "conventional"), "-", color="tab:red", label="conventional")
            ax[col].plot(e, glob("direct", "torque_dipole"), "--", color="tab:blue", label="torque dipole")
            ax[col].plot(e, glob("direct", "proper"), "-.", color="tab:orange", label="proper")
            ax[col].plot(e, -glob("inverse", "proper"), "*", color="tab:green", ms=4, label="$-\\sigma_{inv}$")
            ax[col].axhline(0, color="k", lw=0.5)
            ax[col].set_xlabel("$E_F$ shift (eV)")
            ax[col].set_ylabel(a["units"])
            ax[col].set_title(f"global $\\sigma_{{zx}}^{{{sym}_y}}$")
            ax[col].legend(fontsize=8)
        fig.suptitle("Fermi-energy dependence (cf. paper 003 Fig. 1 c,d)")
        fig.tight_layout()
        paths.append(save_figure(fig, stem, "_energy.png", dpi=110))
    return paths


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["slab_kubo"]
    n_e = len(np.atleast_1d(p["energies"]))
    layers = deck["model"].get("layers") or 1
    bins, key = 4 * n_e + 8, "slab_kubo.energies"
    if p["energy_resolution"] is not None:            # histogram over ~40 eV of bands
        bins, key = max(bins, 40.0 / p["energy_resolution"]), "slab_kubo.energy_resolution"
    hist = bins * 2 * 4 * 2 * layers * 8.0
    return kspace_estimate(deck, n_ranks, template_bytes=hist, per_k_matrices=10,
                           extra_bytes=2 * hist, extra_key=key)
