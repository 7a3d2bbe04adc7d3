"""``hpcorb.bands``: band structure along a high-symmetry path, DOS and Fermi level.

Path: default per lattice (bcc: G-H-N-G-P-H|P-N; fcc: G-X-W-K-G-L-U-W-L-K|U-X;
films: bcc(001)/fcc(001) G-X-M-G, bcc(110) G-N-S-H-G, fcc(111) G-M-K-G;
other models: G-X-M-G(-R) in fractional coordinates), or ``[bands] path``.
The Fermi level comes from the electron count (``model.electrons``; each
band holds 2 electrons in spinless models, 1 in spinful ones) on the
``[kmesh]`` mesh (default 24^3 bulk, 48^2 films), from a fine eigenvalue
histogram accumulated by the k-mesh engine (MPI, checkpoints).
Non-orthogonal (NRL) models solve H c = E S c.

Output (``/bands``): ``kpath`` [nk, 3] Cartesian 1/Angstrom (model frame),
``distance`` [nk] 1/Angstrom, ``energies`` [nk, nbands] eV relative to E_F,
``labels`` and ``label_index``, ``dos_energy`` [nE] eV relative to E_F,
``dos`` [nE] states/eV/cell; attribute ``fermi_energy`` (eV, absolute).
Without an electron count E_F is NaN and energies are absolute.
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from ..io.results import Results
from ..kernels import dos as kdos
from ..models import lowdin
from ..models.materials import eigenvalues
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..parallel.kmesh import KMesh
from ..result import Result
from ..symmetry import reduce_mesh
from .kspace import eigenvalue_histogram, spin_degeneracy

TWO_PI = 2 * np.pi

BCC = {"G": (0, 0, 0), "H": (0, 0, 1), "N": (0.5, 0.5, 0), "P": (0.5, 0.5, 0.5)}
FCC = {"G": (0, 0, 0), "X": (1, 0, 0), "W": (1, 0.5, 0), "K": (0.75, 0.75, 0), "L": (0.5, 0.5, 0.5),
       "U": (1, 0.25, 0.25)}
DEFAULT = {
    "bcc": (BCC, ["G", "H", "N", "G", "P", "H", "|", "P", "N"]),
    "fcc": (FCC, ["G", "X", "W", "K", "G", "L", "U", "W", "L", "K", "|", "U", "X"]),
}


def default_path(model):
    """[(label, kcart (3,))...] with '|' breaks, for a model (Cartesian 1/Angstrom)."""
    meta = model.meta
    struct, surface = meta.get("structure"), meta.get("surface")
    B = model.reciprocal
    pts = []
    if model.periodic == 3 and struct in DEFAULT and surface is None:
        a = float(meta["lattice_constant"])
        corners, labels = DEFAULT[struct]
        for lab in labels:
            pts.append((lab, None) if lab == "|" else (lab, np.array(corners[lab], float) * TWO_PI / a))
        return pts
    if model.periodic == 2 and surface is not None:
        a = float(meta["lattice_constant"])
        if surface == "110":          # centred rectangular zone of bcc(110), x || [-110], y || [001]
            c = {"G": (0, 0), "N": (np.sqrt(2) * np.pi / a, 0), "S": (np.pi / (np.sqrt(2) * a), np.pi / a),
                 "H": (0, 1.5 * np.pi / a)}
            seq = ["G", "N", "S", "H", "G"]
            return [(s, np.array([*c[s], 0.0])) for s in seq]
        if surface == "111":          # hexagonal zone, a1 || x
            ah = a / np.sqrt(2)
            c = {"G": (0, 0), "M": (0, TWO_PI / (np.sqrt(3) * ah)),
                 "K": (4 * np.pi / (3 * ah) * 0.5, 4 * np.pi / (3 * ah) * np.sqrt(3) / 2)}
            return [(s, np.array([*c[s], 0.0])) for s in ["G", "M", "K", "G"]]
    # square-like / generic: fractional coordinates
    if model.periodic == 2:
        frac = [("G", (0, 0)), ("X", (0.5, 0)), ("M", (0.5, 0.5)), ("G", (0, 0))]
    else:
        frac = [("G", (0, 0, 0)), ("X", (0.5, 0, 0)), ("M", (0.5, 0.5, 0)), ("G", (0, 0, 0)),
                ("R", (0.5, 0.5, 0.5))]
    return [(s, np.asarray(f, float) @ B[: model.periodic]) for s, f in frac]


def custom_path(model, spec):
    if not isinstance(spec, list) or len(spec) < 2:
        raise DeckError("bands.path", spec, "expected a list of at least 2 points [\"LABEL\", f1, f2(, f3)]")
    out = []
    for p in spec:
        if p == "|":
            out.append(("|", None))
            continue
        ok = (isinstance(p, list) and len(p) == 1 + model.periodic and isinstance(p[0], str)
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p[1:]))
        if not ok:
            raise DeckError("bands.path", p, f"each point is [\"LABEL\", {model.periodic} fractional coordinates]")
        out.append((p[0], np.asarray(p[1:], float) @ model.reciprocal[: model.periodic]))
    return out


def sample_path(points, npoints):
    """Cartesian k along the path, distances, labels and their indices."""
    branches, cur = [], []
    for lab, k in points:
        if lab == "|":
            if cur:
                branches.append(cur)
            cur = []
        else:
            cur.append((lab, k))
    if cur:
        branches.append(cur)
    segs = [(b[i], b[i + 1]) for b in branches for i in range(len(b) - 1)]
    if not segs:
        raise DeckError("bands.path", [p[0] for p in points], "needs at least one segment")
    lengths = np.array([np.linalg.norm(q[1] - p[1]) for p, q in segs])
    total = lengths.sum() if lengths.sum() > 0 else 1.0
    ks, dist, labels, lidx = [], [], [], []
    x = 0.0
    for bi, br in enumerate(branches):
        for si in range(len(br) - 1):
            p, q = br[si], br[si + 1]
            L = float(np.linalg.norm(q[1] - p[1]))
            n = max(2, int(round(npoints * L / total)))
            t = np.linspace(0.0, 1.0, n)
            if si > 0:
                t = t[1:]                       # the corner is the previous segment's end
            elif bi > 0:
                labels[-1] = f"{labels[-1]}|{p[0]}"   # branch jump: same x, merged label
            else:
                labels.append(p[0])
                lidx.append(0)
            for tj in t:
                ks.append(p[1] + tj * (q[1] - p[1]))
                dist.append(x + tj * L)
            x += L
            labels.append(q[0])
            lidx.append(len(ks) - 1)
    return np.array(ks), np.array(dist), labels, lidx


def bands(model, *, kmesh, context, npoints, path, broadening, bins, window):
    """Bands along a path, DOS and Fermi level; keys as in the [bands] table (validated)."""
    p = {"npoints": npoints, "path": path, "broadening": broadening, "bins": bins, "window": window}
    ctx, log = context, context.log
    size = kmesh["size"] or ([24, 24, 24] if model.periodic == 3 else [48, 48])
    if len(size) != model.periodic:
        raise DeckError("kmesh.size", size, f"the model is periodic in {model.periodic} directions")
    mesh = KMesh(size, kmesh["shift"])
    g = spin_degeneracy(model)
    points = custom_path(model, p["path"]) if p["path"] is not None else default_path(model)
    kc, dist, labels, lidx = sample_path(points, p["npoints"])
    kfrac = kc[:, : 3] @ model.lattice[: model.periodic].T / TWO_PI
    nk = len(kc)
    nb = model.norb
    log(f"bands: {model.name}, {nb} bands, path {'-'.join(labels)} ({nk} k), "
        f"Fermi-level mesh {mesh} ({mesh.n} k)")

    def path_kernel(start, stop):
        return {"e": eigenvalues(model, kfrac[start:stop])}

    out = run_chunks(Plan(nk, 16), path_kernel, {"e": ((nb,), float)}, ctx.comm, mode="stack",
                     stage="path", label="path k-points", **ctx.engine())
    e_path = out["e"]

    lo, hi = _bounds(model, e_path)
    nbins = p["bins"]
    de = (hi - lo) / nbins

    # eigenvalues: point group and time reversal, verified on the (Loewdin) H(k); irreducible k, weighted
    irr, rots = reduce_mesh(model, mesh, lowdin.hk, use=kmesh["symmetry"], time_reversal=True)

    chunk = kmesh["chunk_size"] or default_chunk_size(irr.n, cost_hint=max(1.0, nb / 64))
    res_mesh = eigenvalue_histogram([model], mesh, ctx, [lo], [de], nbins, chunk, stage="mesh",
                                    eigenvalues=eigenvalues, energy_sums=True, points=irr)
    counts, esum = res_mesh["counts"][0], res_mesh["esum"][0]
    if model.electrons is not None:
        if model.electrons > g * nb:
            raise DeckError("model.electrons", model.electrons, f"at most {g * nb}")
        ef = float(kdos.fermi_level(counts, lo, de, model.electrons / g))
        log(f"bands: Fermi level {ef:.6f} eV for {model.electrons:g} electrons per cell")
        shift = ef
    else:
        ef = float("nan")
        shift = 0.0
        log("bands: no electron count: energies are absolute, Fermi level not computed")
    w = p["broadening"]
    occ = np.flatnonzero(counts > 0)
    ewin = np.linspace(lo + occ[0] * de - 5 * w, lo + (occ[-1] + 1) * de + 5 * w, 3001)
    dos = g * kdos.broadened_dos(counts, esum, ewin, w, "gaussian")

    res = Results("bands")
    kpath = np.zeros((nk, 3))
    kpath[:, : kc.shape[1]] = kc
    res.add("kpath", kpath, "1/Angstrom", "k-points of the path, Cartesian (model frame)")
    res.add("distance", dist, "1/Angstrom", "cumulative path length")
    res.add("energies", e_path - shift, "eV", "band energies along the path, relative to E_F")
    res.add("labels", np.array(labels), "1", "labels of the path corners (G = Gamma; A|B = branch jump)")
    res.add("label_index", np.array(lidx, dtype=int), "1", "index into kpath of each label")
    res.add("dos_energy", ewin - shift, "eV", "energies of the DOS, relative to E_F")
    res.add("dos", dos, "states/eV/cell", f"Gaussian-broadened DOS (sigma {w:g} eV), spin degeneracy {g} "
            "included")
    res.add("symmetry_rotations", rots, "1", "Cartesian rotations of the verified point-group operations "
            "used for the DOS mesh (identity only without symmetry)")
    res.attrs.update({
        "fermi_energy": ef, "fermi_energy_units": "eV (absolute energy scale of the model)",
        "electrons": np.nan if model.electrons is None else float(model.electrons),
        "spin_degeneracy": g, "n_bands": nb, "kmesh": list(mesh.size), "kmesh_shift": mesh.shift.tolist(),
        "broadening_eV": w, "model": model.name, "window": list(p["window"]),
        "eigenproblem": "generalized H c = E S c (Cholesky)" if model.S is not None else "orthogonal",
        "histogram_bin_eV": de,
        "symmetry": bool(kmesh["symmetry"]), "symmetry_ops": len(rots), "irreducible_k": irr.n,
    })
    for k, v in model.meta.items():
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            res.attrs[f"model_{k}"] = v
    return Result(res, ctx.comm)


def _bounds(model, e_path):
    if model.S is None:
        lo, hi = kdos.gershgorin_bounds(model.H)
    else:
        k = np.random.default_rng(0).random((32, model.periodic))
        e = np.concatenate([eigenvalues(model, k).ravel(), e_path.ravel()])
        span = e.max() - e.min()
        lo, hi = e.min() - 0.5 * span, e.max() + 0.5 * span
    pad = 1e-6 * max(1.0, hi - lo)
    return lo - pad, hi + pad
