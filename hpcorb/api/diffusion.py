"""``hpcorb.diffusion``: bulk charge, spin and orbital diffusivities (paper 000).

Keldysh Fermi-surface formula (PHYSICS.md section 2, paper Eqs. 8, 10-13),

    D^{X beta j}_{Y alpha i} = (e^2 Gamma / pi) c_XY Re Tr_k[J^beta_{X,j} Im[G^R O^Y_alpha G^A v_i G^A]]

in conductivity units (Ohm^-1 m^-1), for a list of energies (relative to
E_F) and a list of SOC strengths in one pass over the k-mesh (engine: MPI,
checkpoint/restart).  Kernel: :mod:`hpcorb.kernels.diffusion`.

Output (``/diffusion``):
  energies [nE] eV relative to E_F; soc_scale [nS];
  charge [nS, nE, 3, 3]                  (i gradient, j current);
  tensor [nS, nE, 2, 3, 3, 2, 3, 3]      (X current kind 0 spin 1 orbital, beta, j,
                                          Y density kind, alpha, i);
  fermi_energy [nS] eV (absolute);
  attributes units, gamma_eV, kmesh, fermi_energy_eV ([nS]), conventions.
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from ..io.results import Results
from ..kernels.diffusion import diffusion_kernel, support_of, to_siemens_per_metre
from ..models import lowdin
from ..models.build import build_model
from ..models.orbitals import model_operators
from ..models.toys import BUILTINS
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..parallel.kmesh import KMesh
from ..result import Result
from ..symmetry import common_symmetry, full_mesh, mesh_for, rebuild
from .kspace import band_bounds, eigenvalue_histogram, fermi_levels, spin_degeneracy

UNITS = "Ohm^-1 m^-1"
KINDS = ("spin", "orbital")
AX = "xyz"


def soc_scales_of(m, given):
    """The SOC scales and, per scale, the [model] dict that builds it
    (``m``: the validated [model] keys; ``given``: the soc_scales key)."""
    m = dict(m)
    if m.get("builtin"):
        name = m["builtin"]
        if name not in BUILTINS:
            raise DeckError("model.builtin", name, "one of " + ", ".join(sorted(BUILTINS)))
        defaults = BUILTINS[name][1]
        if "soc_scale" not in defaults:
            if given is not None:
                raise DeckError("diffusion.soc_scales", given,
                                f"builtin {name!r} has no spin-orbit coupling to scale; remove the key")
            return [1.0], [m]
        params = dict(m.get("params") or {})
        scales = given if given is not None else [float(params.get("soc_scale", defaults["soc_scale"]))]
        out = []
        for s in scales:
            mm = dict(m)
            mm["params"] = dict(params, soc_scale=float(s))
            out.append(mm)
        return [float(s) for s in scales], out
    if m.get("material"):
        scales = given if given is not None else [m["soc_scale"]]
        return [float(s) for s in scales], [dict(m, soc_scale=float(s)) for s in scales]
    if given is not None:
        raise DeckError("diffusion.soc_scales", given,
                        "only bundled materials and builtin toys with SOC can be scaled; remove the key")
    return [1.0], [m]


def soc_models(model, soc_scales, ctx):
    """The SOC scales and one model per scale.  Without a scan (``soc_scales``
    None) the model itself; a scan rebuilds the model from its [model] keys
    (``model.meta["deck_keys"]``, set by hpcorb.model and the deck path) on
    rank 0, broadcast to every rank."""
    keys = model.meta.get("deck_keys")
    if keys is None:
        if soc_scales is not None:
            raise DeckError("diffusion.soc_scales", soc_scales, "a SOC scan needs a model built from "
                            "[model] keys (hpcorb.model(...)); remove the key")
        return [1.0], [model]
    scales, mdicts = soc_scales_of(keys, soc_scales)
    if soc_scales is None:
        return scales, [model]
    return scales, ctx.on_root(lambda: [build_model(mm, periodic=3) for mm in mdicts])


def prepare(model, kmesh, fermi_energy, soc_scales, ctx):
    """SOC scales, one model per scale, and the mesh; DeckError for inconsistent input."""
    scales, models = soc_models(model, soc_scales, ctx)
    if models[0].periodic != 3:
        raise DeckError("kmesh.size", kmesh["size"], "the model is not a bulk (3D) model")
    models[0].require_geometry("diffusion (velocities and the cell volume)")
    mesh = KMesh(kmesh["size"], kmesh["shift"])
    if fermi_energy is None and models[0].electrons is None:
        raise DeckError("diffusion.fermi_energy", "(missing)",
                        "the model has no electron count: give [diffusion] fermi_energy (eV, absolute) "
                        "or [model] electrons")
    g = spin_degeneracy(models[0])
    if models[0].electrons is not None and models[0].electrons > g * models[0].norb:
        raise DeckError("model.electrons", models[0].electrons,
                        f"at most {g * models[0].norb} ({models[0].norb} bands x spin degeneracy {g})")
    return scales, models, mesh


def _linear_in_soc(models, scales, tol=1e-13):
    """(a, b, t_s) when every model is H_a + t_s (H_b - H_a) with the same R and overlaps.

    SOC enters as an on-site term proportional to the scale, and the Loewdin
    transformation is linear in H at fixed S, so H(k) and dH/dk of any scale
    follow from two of them (exactly, to round-off).  None when not (or < 3 scales).
    """
    if len(models) < 3:
        return None
    a = 0
    others = [i for i in range(len(scales)) if scales[i] != scales[a]]
    if not others:
        return None
    b = max(others, key=lambda i: abs(scales[i] - scales[a]))     # interpolate, do not extrapolate
    Ma, Mb = models[a], models[b]
    ts = []
    for m, s in zip(models, scales):
        if m.R.shape != Ma.R.shape or np.any(m.R != Ma.R) or m.H.shape != Ma.H.shape:
            return None
        if (m.S is None) != (Ma.S is None) or (m.S is not None and np.any(m.S != Ma.S)):
            return None
        t = (s - scales[a]) / (scales[b] - scales[a])
        scale = max(1.0, float(np.abs(Ma.H).max()))
        if np.abs(m.H - (Ma.H + t * (Mb.H - Ma.H))).max() > tol * scale:
            return None
        ts.append(t)
    return a, b, ts


def _same_overlap(models):
    """True when every model is non-orthogonal with the same R vectors and overlaps
    (the SOC scales of a material): S(k)^-1/2 and its derivative are then shared."""
    m0 = models[0]
    if m0.S is None:
        return False
    return all(m.S is not None and m.R.shape == m0.R.shape and np.all(m.R == m0.R)
               and m.S.shape == m0.S.shape and np.all(m.S == m0.S) for m in models[1:])


def _onsite_difference(m, m0):
    """D (N, N) when H_m(k) = H_m0(k) + D for every k, else None.

    True when the two models have the same R vectors and differ only at R = 0
    between orbitals at the same position (the SOC term of a scan): the Bloch
    phases of such entries are 1 and their k-derivative vanishes."""
    if m.R.shape != m0.R.shape or np.any(m.R != m0.R) or m.H.shape != m0.H.shape:
        return None
    d = m.H - m0.H
    changed = np.flatnonzero(np.abs(d).reshape(len(d), -1).max(axis=1) > 0)
    r0 = np.flatnonzero(np.all(m.R == 0, axis=1))
    if len(changed) == 0:
        return np.zeros(d.shape[1:], dtype=complex)
    if len(r0) != 1 or list(changed) != [r0[0]]:
        return None
    D = d[r0[0]]
    same = np.all(m.positions[:, None, :] == m.positions[None, :, :], axis=-1)
    return None if np.any(D[~same] != 0) else D


def hamiltonians_for(models, lin=None):
    """hk(kf) -> iterator of (H, dH/dk) per model in the orthonormal (Loewdin) basis.

    lin: :func:`_linear_in_soc`'s result (H and dH/dk of every scale from two
    models).  Non-orthogonal models with a common overlap (a SOC scan, or one
    model) share one S(k)^-1/2 = X and its derivative per k-point, and a model that differs
    from the first only by an on-site term (:func:`_onsite_difference`) reuses
    its Bloch sums.  The Loewdin velocity is dX H X + (dX H X)^dagger + X dH X
    (X, dX, H Hermitian): 11 products of N x N per k instead of 20; the same
    quantities as :func:`hpcorb.models.lowdin.hk_dhk` to round-off."""
    base = models if lin is None else [models[lin[0]], models[lin[1]]]
    shared = _same_overlap(base)                    # (one non-orthogonal model: the 11-product velocity)
    onsite = [_onsite_difference(m, base[0]) for m in base] if shared else None

    def build(kf):
        if not shared:
            return [lowdin.hk_dhk(m, kf) for m in base]
        S, dS = base[0].dsk(kf)
        X, dX = lowdin.inv_sqrt_and_derivative(S, dS)
        first = base[0].hk_dhk(kf)
        out = []
        for m, D in zip(base, onsite):
            H, dH = first if D is not None else m.hk_dhk(kf)
            if D is not None and np.any(D):
                H = H + D
            Y = H @ X
            M = dX @ Y[:, None]
            dHp = X[:, None] @ dH @ X[:, None] + M + np.conj(np.swapaxes(M, -1, -2))
            out.append((X @ Y, dHp))
        return out

    def hk(kf):
        pairs = build(kf)
        if lin is None:
            yield from pairs
            return
        (Ha, dHa), (Hb, dHb) = pairs
        for t in lin[2]:
            yield Ha + t * (Hb - Ha), dHa + t * (dHb - dHa)
    return hk


def operators(model):
    """(sigma, L), each (3, N, N), in the model's (orthonormalized) basis."""
    L, S = model_operators(model)
    return 2.0 * S, L


def fermi_energies(models, mesh, ctx, chunk_size=None, nbins=100000, irr=None):
    """Fermi energy of each model from its electron count (one engine stage).

    irr: the irreducible points (with weights) to sum over; default the full mesh."""
    irr = irr or full_mesh(mesh)
    bounds = np.array([band_bounds(m) for m in models])       # per model: a scan equals separate runs
    pad = 1e-6 * np.maximum(1.0, bounds[:, 1] - bounds[:, 0])
    emins, emaxs = bounds[:, 0] - pad, bounds[:, 1] + pad
    des = (emaxs - emins) / nbins
    # histogram cost per chunk ~ nbins: larger chunks than the main stage (rank-count independent)
    chunk = chunk_size or max(default_chunk_size(irr.n), min(512, irr.n))
    out = eigenvalue_histogram(models, mesh, ctx, emins, des, nbins, chunk, stage="fermi", points=irr)
    efs = fermi_levels(out["counts"], emins, des, [m.electrons for m in models],
                       [spin_degeneracy(m) for m in models])
    de = float(des.max())
    return efs, de


def diffusion(model, *, kmesh, context, energies, gamma, soc_scales, fermi_energy, batch):
    """Diffusivity tensors; keys as in the [diffusion] table (validated)."""
    p = {"energies": energies, "gamma": gamma, "soc_scales": soc_scales, "fermi_energy": fermi_energy,
         "batch": batch}
    ctx, log = context, context.log
    scales, models, mesh = prepare(model, kmesh, fermi_energy, soc_scales, ctx)
    energies = np.atleast_1d(np.asarray(p["energies"], dtype=float))
    gamma = p["gamma"]
    nS, nE, N = len(scales), len(energies), models[0].norb
    sigma, L = operators(models[0])
    spinful = models[0].n_spin == 2
    log(f"diffusion: {models[0].name}, {N} bands{' (spinful)' if spinful else ' (spinless: spin tensor is 0)'}, "
        f"mesh {mesh}, {mesh.n} k-points, {nE} energies, Gamma = {gamma:g} eV, SOC scales {scales}")

    # symmetry: the point-group operations every SOC scale keeps, verified on H(k), L and S;
    # the traces are not even under time reversal (G^R <-> G^A), the eigenvalues are
    if kmesh["symmetry"]:
        ops, trs = common_symmetry(models, lowdin.hk, lambda m: operators(m)[::-1])
        irr, rots = mesh_for(mesh, ops)
        # k -> -k adds nothing when the kept operations already hold -1 (inversion): same points
        kept = [op.kmat for op in ops if any(np.abs(op.R - R).max() < 1e-9 for R in rots)]
        closed = all(any(np.abs(M + M2).max() < 1e-9 for M2 in kept) for M in kept)
        irr_e = irr if (closed or not trs) else mesh_for(mesh, ops, trs)[0]
    else:
        irr, rots = full_mesh(mesh), np.eye(3)[None]
        irr_e = irr
    log(f"diffusion: symmetry {'on' if kmesh['symmetry'] else 'off'}: {len(rots)} operations, "
        f"{irr.n} of {mesh.n} k-points")

    if p["fermi_energy"] is not None:
        efs = np.full(nS, float(p["fermi_energy"]))
        ef_source = "deck"
    else:
        efs, de = fermi_energies(models, mesh, ctx, kmesh["chunk_size"], irr=irr_e)
        ef_source = f"electron count {models[0].electrons:g} on the k-mesh (histogram bin {de * 1e3:.2g} meV)"
        for s, ef in zip(scales, efs):
            log(f"diffusion: SOC scale {s:g}: Fermi energy {ef:.6f} eV from {models[0].electrons:g} electrons")

    batch = p["batch"]
    lin = _linear_in_soc(models, scales)
    if lin is not None:
        log(f"diffusion: H is linear in the SOC scale: H(k) and dH/dk of {nS} scales from 2 models")

    hamiltonians = hamiltonians_for(models, lin)
    # with symmetry only the components that the rebuild below reads are evaluated
    support = support_of(rots) if len(rots) > 1 else None

    def kernel(start, stop):
        kf = irr.frac(start, stop)
        w = irr.weights(start, stop)
        ch = np.zeros((nS, nE, 3, 3))
        te = np.zeros((nS, nE, 2, 3, 3, 2, 3, 3))
        for s, (H, dH) in enumerate(hamiltonians(kf)):
            for b in range(0, len(kf), batch):
                c, t = diffusion_kernel(H[b:b + batch], dH[b:b + batch], sigma, L, efs[s] + energies, gamma,
                                        weights=w[b:b + batch], support=support)
                ch[s] += c
                te[s] += t
        return {"charge": ch, "tensor": te}

    chunk = kmesh["chunk_size"] or default_chunk_size(irr.n)
    tmpl = {"charge": ((nS, nE, 3, 3), float), "tensor": ((nS, nE, 2, 3, 3, 2, 3, 3), float)}
    out = run_chunks(Plan(irr.n, chunk), kernel, tmpl, ctx.comm, stage="diffusion",
                     label="k-points", **ctx.engine())
    V = models[0].cell_volume
    # full-mesh sums from the irreducible ones: (1/|G|) sum_g rho(g) S; charge [i, j] polar x polar,
    # tensor [X, b, j, Y, a, i]: b, a axial (spin/orbital), j, i polar
    ch_full = rebuild(out["charge"], rots, ("polar", "polar"))
    te_full = rebuild(np.moveaxis(out["tensor"], (2, 5), (0, 1)), rots, ("axial", "polar", "axial", "polar"))
    te_full = np.moveaxis(te_full, (0, 1), (2, 5))
    charge = to_siemens_per_metre(ch_full, gamma, mesh.n, V)
    tensor = to_siemens_per_metre(te_full, gamma, mesh.n, V)

    res = Results("diffusion")
    res.attrs.update(models[0].provenance())
    res.add("energies", energies, "eV", "energies relative to the Fermi level")
    res.add("soc_scale", np.asarray(scales, dtype=float), "1", "SOC strength (1 = the material's own)")
    res.add("fermi_energy", efs, "eV", "absolute Fermi energy per SOC scale")
    res.add("charge", charge, UNITS, "charge diffusivity D_ij (e^2 N_F D, Einstein: = conductivity); "
            "indices [soc, energy, i gradient, j current]")
    res.add("symmetry_rotations", rots, "1", "Cartesian rotations (proper and improper) of the verified "
            "point-group operations used for the k-sum (identity only without symmetry)")
    res.add("tensor", tensor, UNITS, "spin/orbital diffusivity D^{X beta j}_{Y alpha i}; indices "
            "[soc, energy, X current kind (0 spin, 1 orbital), beta, j, Y density kind, alpha, i]")
    res.attrs.update({
        "units": UNITS, "gamma_eV": gamma, "kmesh": list(mesh.size), "kmesh_shift": mesh.shift.tolist(),
        "fermi_energy_eV": efs, "fermi_energy_source": ef_source, "model": models[0].name,
        "n_bands": N, "spinful": spinful, "cell_volume_A3": V,
        "symmetry": bool(kmesh["symmetry"]), "symmetry_ops": len(rots), "irreducible_k": irr.n,
        "conventions": ("D = (e^2 Gamma/pi) c_XY Re Tr_k[J Im(G^R O G^A v_i G^A)]; charge J = v_j, "
                        "O = 1, c = hbar; spin J = (hbar/4){v_j, sigma_beta}, orbital J = (hbar/2)"
                        "{v_j, L_beta}; O = sigma_alpha (c = 2) or L_alpha (c = 1); v = dH/dk/hbar; "
                        "Tr_k = int d^3k/(2pi)^3 Tr (PHYSICS.md section 2, paper 000 Eqs. 8, 10-13)"),
        "operators": ("L block-diagonal per atom (PHYSICS.md section 0), S = sigma/2; for "
                      "non-orthogonal (NRL) models both are taken as the same matrices in the "
                      "Loewdin-orthogonalized basis, H and dH/dk are the exact Loewdin ones"
                      if models[0].S is not None else
                      "L block-diagonal per atom (PHYSICS.md section 0), S = sigma/2, orthogonal basis"),
        "spin_note": "" if spinful else "spinless model: sigma = 0, spin components vanish; charge counts one spin",
    })
    return Result(res, ctx.comm)


def derived(tensor, charge=None):
    """Named curves from tensor [..., 2, 3, 3, 2, 3, 3] (leading axes kept).

    Longitudinal (gradient and current along x): D^{X a x}_{Y a x}.
    Polarizations (paper text, a = x): the fraction of the total
    angular-momentum current that a gradient of one kind carries in the other
    kind, P_l = |D^l_s| / (|D^s_s| + |D^l_s|) (spin-to-orbit),
    P_s = |D^s_l| / (|D^l_l| + |D^s_l|) (orbit-to-spin); the formulas as
    printed in the paper (``P_*_printed``) are given too.
    Swapping: gradient d_x of polarization y -> current along y polarized x,
    D^{X x y}_{Y y x}; efficiency eta_{Y->X} = |swap| / |D^{Y x x}_{Y x x}|
    (normalized by the longitudinal diffusivity of the injected kind).
    """
    T = np.asarray(tensor)
    s, l = 0, 1
    x, y = 0, 1

    def lon(X, Y, a):
        return T[..., X, a, x, Y, a, x]

    def swap(X, Y):
        return T[..., X, x, y, Y, y, x]

    d = {
        "D_s_xx": lon(s, s, x), "D_s_yx": lon(s, s, y),
        "D_l_xx": lon(l, l, x), "D_l_yx": lon(l, l, y),
        "D_s2l_xx": lon(l, s, x), "D_l2s_xx": lon(s, l, x),
        "swap_ss": swap(s, s), "swap_ll": swap(l, l), "swap_sl": swap(l, s), "swap_ls": swap(s, l),
    }
    if charge is not None:
        d["D_charge_xx"] = np.asarray(charge)[..., 0, 0]
    a = {k: np.abs(v) for k, v in d.items() if k.startswith(("D_", "swap"))}
    with np.errstate(divide="ignore", invalid="ignore"):
        d["P_l"] = a["D_s2l_xx"] / (a["D_s_xx"] + a["D_s2l_xx"])
        d["P_s"] = a["D_l2s_xx"] / (a["D_l_xx"] + a["D_l2s_xx"])
        d["P_l_printed"] = a["D_s2l_xx"] / (a["D_s_xx"] + a["D_l2s_xx"])
        d["P_s_printed"] = a["D_l2s_xx"] / (a["D_l_xx"] + a["D_s_xx"])
        d["eta_ss"] = a["swap_ss"] / a["D_s_xx"]
        d["eta_ll"] = a["swap_ll"] / a["D_l_xx"]
        d["eta_sl"] = a["swap_sl"] / a["D_s_xx"]       # spin -> orbit swapping
        d["eta_ls"] = a["swap_ls"] / a["D_l_xx"]       # orbit -> spin swapping
    return d
