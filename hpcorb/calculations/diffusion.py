"""``type = "diffusion"``: bulk charge, spin and orbital diffusivities (paper 000).

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

from ..config import Key, Table, engine_options, kspace_estimate, model_states
from ..errors import DeckError
from ..io.results import Results
from ..parallel.engine import Plan, default_chunk_size, run_chunks
from ..parallel.kmesh import KMesh
from ..symmetry import common_symmetry, full_mesh, mesh_for, rebuild

SCHEMA = Table("diffusion", [
    Key("energies", "grid", [0.0], "energies relative to the Fermi level: a list or {start, stop, num}",
        units="eV"),
    Key("gamma", "float", 0.1, "disorder broadening Gamma", units="eV", ge=1e-6, le=100.0),
    Key("soc_scales", "floats", None, "SOC strengths to scan in one run (0 = no SOC, 1 = the "
        "material's own); default [model] soc_scale (builtin toys: params.soc_scale)", ge=0.0),
    Key("fermi_energy", "float", None, "absolute Fermi energy (eV); default: from the electron count, "
        "for every SOC scale", units="eV"),
    Key("batch", "int", 32, "k-points per kernel call (memory ~ batch * 2 MB for 18 bands, 100 energies)",
        ge=1, le=4096, physics=False),
], "bulk diffusivity tensors (paper 000)")

UNITS = "Ohm^-1 m^-1"
KINDS = ("spin", "orbital")
AX = "xyz"


# ---------------------------------------------------------------------------
# deck checks and models

def check_deck(deck):
    k = deck["kmesh"]
    if k["size"] is None or len(k["size"]) != 3:
        raise DeckError("kmesh.size", k["size"] if k["size"] is not None else "(missing)",
                        "a diffusion deck needs a bulk mesh [kmesh] size = [n1, n2, n3]")
    if k["shift"] is not None and len(k["shift"]) != 3:
        raise DeckError("kmesh.shift", k["shift"], "expected 3 entries, one per mesh direction")
    m = deck["model"]
    if m.get("surface") is not None or m.get("layers") is not None:
        raise DeckError("model.surface", m.get("surface"), "diffusion is a bulk calculation; "
                        "remove [model] surface/layers")
    _soc_scales(deck)


def _soc_scales(deck):
    """The SOC scales and, per scale, the [model] dict that builds it."""
    m = dict(deck["model"])
    given = deck["diffusion"]["soc_scales"]
    if m.get("builtin"):
        from ..models.toys import BUILTINS
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


def _prepare(deck):
    from ..models.build import build_model
    scales, mdicts = _soc_scales(deck)
    models = [build_model(mm, periodic=3) for mm in mdicts]
    if models[0].periodic != 3:
        raise DeckError("kmesh.size", deck["kmesh"]["size"], "the model is not a bulk (3D) model")
    models[0].require_geometry("diffusion (velocities and the cell volume)")
    mesh = KMesh(deck["kmesh"]["size"], deck["kmesh"]["shift"])
    p = deck["diffusion"]
    if p["fermi_energy"] is None and models[0].electrons is None:
        raise DeckError("diffusion.fermi_energy", "(missing)",
                        "the model has no electron count: give [diffusion] fermi_energy (eV, absolute) "
                        "or [model] electrons")
    g = 1 if models[0].n_spin == 2 else 2
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


def validate(deck):
    _prepare(deck)


def operators(model):
    """(sigma, L), each (3, N, N), in the model's (orthonormalized) basis."""
    from ..models.orbitals import model_operators
    L, S = model_operators(model)
    return 2.0 * S, L


def _band_bounds(model):
    from ..kernels import dos as kdos
    from ..models import lowdin
    if model.S is None:
        return kdos.gershgorin_bounds(model.H)
    k = np.random.default_rng(0).random((64, 3))
    e = np.linalg.eigvalsh(lowdin.hk(model, k))
    span = e.max() - e.min()
    return e.min() - 0.5 * span, e.max() + 0.5 * span


def fermi_energies(models, mesh, comm, log, checkpoint, deck, nbins=100000, irr=None):
    """Fermi energy of each model from its electron count (one engine stage).

    irr: the irreducible points (with weights) to sum over; default the full mesh."""
    from ..kernels import dos as kdos
    from ..models import lowdin
    bounds = np.array([_band_bounds(m) for m in models])       # per model: a scan equals separate runs
    pad = 1e-6 * np.maximum(1.0, bounds[:, 1] - bounds[:, 0])
    emins, emaxs = bounds[:, 0] - pad, bounds[:, 1] + pad
    des = (emaxs - emins) / nbins
    nS = len(models)

    irr = irr or full_mesh(mesh)

    def kernel(start, stop):
        kf = irr.frac(start, stop)
        w = irr.weights(start, stop)
        counts = np.zeros((nS, nbins))
        for s, m in enumerate(models):
            eigs = np.linalg.eigvalsh(lowdin.hk(m, kf))
            for wk in np.unique(w):             # orbit sizes: a few distinct weights
                counts[s] += kdos.histogram(eigs[w == wk], wk * mesh.weight, emins[s], nbins, des[s])[0]
        return {"counts": counts}

    # histogram cost per chunk ~ nbins: larger chunks than the main stage (rank-count independent)
    chunk = deck["kmesh"]["chunk_size"] or max(default_chunk_size(irr.n), min(512, irr.n))
    out = run_chunks(Plan(irr.n, chunk), kernel, {"counts": ((nS, nbins), float)}, comm,
                     checkpoint=checkpoint, stage="fermi", log=log, label="k-points", **engine_options(deck))
    efs = []
    for s, m in enumerate(models):
        g = 1 if m.n_spin == 2 else 2
        efs.append(kdos.fermi_level(out["counts"][s], emins[s], des[s], m.electrons / g))
    de = float(des.max())
    return np.array(efs), de


# ---------------------------------------------------------------------------
# run

def run(deck, comm, log, checkpoint):
    from ..kernels.diffusion import diffusion_kernel, to_siemens_per_metre
    from ..models import lowdin
    p = deck["diffusion"]
    scales, models, mesh = _prepare(deck)
    energies = np.atleast_1d(np.asarray(p["energies"], dtype=float))
    gamma = p["gamma"]
    nS, nE, N = len(scales), len(energies), models[0].norb
    sigma, L = operators(models[0])
    spinful = models[0].n_spin == 2
    log(f"diffusion: {models[0].name}, {N} bands{' (spinful)' if spinful else ' (spinless: spin tensor is 0)'}, "
        f"mesh {mesh}, {mesh.n} k-points, {nE} energies, Gamma = {gamma:g} eV, SOC scales {scales}")

    # symmetry: the point-group operations every SOC scale keeps, verified on H(k), L and S;
    # the traces are not even under time reversal (G^R <-> G^A), the eigenvalues are
    if deck["kmesh"]["symmetry"]:
        ops, trs = common_symmetry(models, lowdin.hk, lambda m: operators(m)[::-1])
        irr, rots = mesh_for(mesh, ops)
        irr_e = mesh_for(mesh, ops, trs)[0]
    else:
        irr, rots = full_mesh(mesh), np.eye(3)[None]
        irr_e = irr
    log(f"diffusion: symmetry {'on' if deck['kmesh']['symmetry'] else 'off'}: {len(rots)} operations, "
        f"{irr.n} of {mesh.n} k-points")

    if p["fermi_energy"] is not None:
        efs = np.full(nS, float(p["fermi_energy"]))
        ef_source = "deck"
    else:
        efs, de = fermi_energies(models, mesh, comm, log, checkpoint, deck, irr=irr_e)
        ef_source = f"electron count {models[0].electrons:g} on the k-mesh (histogram bin {de * 1e3:.2g} meV)"
        for s, ef in zip(scales, efs):
            log(f"diffusion: SOC scale {s:g}: Fermi energy {ef:.6f} eV from {models[0].electrons:g} electrons")

    batch = p["batch"]
    lin = _linear_in_soc(models, scales)
    if lin is not None:
        log(f"diffusion: H is linear in the SOC scale: H(k) and dH/dk of {nS} scales from 2 models")

    def hamiltonians(kf):
        """(H, dH) per SOC scale for the k-points kf."""
        if lin is None:
            for m in models:
                yield lowdin.hk_dhk(m, kf)
            return
        a, b, ts = lin
        Ha, dHa = lowdin.hk_dhk(models[a], kf)
        Hb, dHb = lowdin.hk_dhk(models[b], kf)
        for t in ts:
            yield Ha + t * (Hb - Ha), dHa + t * (dHb - dHa)

    def kernel(start, stop):
        kf = irr.frac(start, stop)
        w = irr.weights(start, stop)
        ch = np.zeros((nS, nE, 3, 3))
        te = np.zeros((nS, nE, 2, 3, 3, 2, 3, 3))
        for s, (H, dH) in enumerate(hamiltonians(kf)):
            for b in range(0, len(kf), batch):
                c, t = diffusion_kernel(H[b:b + batch], dH[b:b + batch], sigma, L, efs[s] + energies, gamma,
                                        weights=w[b:b + batch])
                ch[s] += c
                te[s] += t
        return {"charge": ch, "tensor": te}

    chunk = deck["kmesh"]["chunk_size"] or default_chunk_size(irr.n)
    tmpl = {"charge": ((nS, nE, 3, 3), float), "tensor": ((nS, nE, 2, 3, 3, 2, 3, 3), float)}
    out = run_chunks(Plan(irr.n, chunk), kernel, tmpl, comm, checkpoint=checkpoint, stage="diffusion",
                     log=log, label="k-points", **engine_options(deck))
    # full-mesh sums from the irreducible ones: (1/|G|) sum_g rho(g) S; charge [i, j] polar x polar,
    # tensor [X, b, j, Y, a, i]: b, a axial (spin/orbital), j, i polar
    ch_full = rebuild(out["charge"], rots, ("polar", "polar"))
    te_full = rebuild(np.moveaxis(out["tensor"], (2, 5), (0, 1)), rots, ("axial", "polar", "axial", "polar"))
    te_full = np.moveaxis(te_full, (0, 1), (2, 5))
    V = models[0].cell_volume
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
        "symmetry": bool(deck["kmesh"]["symmetry"]), "symmetry_ops": len(rots), "irreducible_k": irr.n,
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
    return res


# ---------------------------------------------------------------------------
# derived quantities (from the stored tensor)

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


def summary(h5) -> str:
    g = h5["diffusion"]
    a = g.attrs
    E = g["energies"][...]
    S = g["soc_scale"][...]
    ch = g["charge"][...]
    te = g["tensor"][...]
    efs = np.atleast_1d(a["fermi_energy_eV"])
    d = derived(te, ch)
    ie = int(np.argmin(np.abs(E)))
    lines = [f"diffusivities of {a.get('model', '?')}: {int(a['n_bands'])} bands, Gamma = {float(a['gamma_eV']):g} eV, "
             f"k-mesh {'x'.join(str(int(n)) for n in a['kmesh'])}, units {a['units']}",
             f"  values at E - E_F = {E[ie]:+.3f} eV (index {ie} of {len(E)} energies)", ""]
    hdr = (f"  {'soc':>5} {'E_F/eV':>9} {'D_xx':>10} {'Ds_xx':>10} {'Ds_yx':>10} {'Dl_xx':>10} "
           f"{'Dl_yx':>10} {'Ds->l':>10} {'Dl->s':>10} {'P_l':>6} {'P_s':>6} "
           f"{'eta_ss':>8} {'eta_ll':>8} {'eta_sl':>8} {'eta_ls':>8}")
    lines.append(hdr)
    for k, s in enumerate(S):
        def f(name):
            return d[name][k, ie]
        lines.append(f"  {s:5.2f} {efs[min(k, len(efs) - 1)]:9.4f} {f('D_charge_xx'):10.3e} {f('D_s_xx'):10.3e} "
                     f"{f('D_s_yx'):10.3e} {f('D_l_xx'):10.3e} {f('D_l_yx'):10.3e} {f('D_s2l_xx'):10.3e} "
                     f"{f('D_l2s_xx'):10.3e} {f('P_l'):6.3f} {f('P_s'):6.3f} {f('eta_ss'):8.2e} "
                     f"{f('eta_ll'):8.2e} {f('eta_sl'):8.2e} {f('eta_ls'):8.2e}")
    lines += ["", "  D^{X a j}_{Y a i}: current kind X, density kind Y; Ds_yx = D^{s y x}_{s y x} (polarization y, "
              "gradient and current x); P_l = |D^l_s|/(|D^s_s|+|D^l_s|), P_s = |D^s_l|/(|D^l_l|+|D^s_l|) "
              "(a = x); eta_{Y->X} = |D^{X x y}_{Y y x}| / |D^{Y x x}_{Y x x}|"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# plots in the style of paper 000, Figs. 2-4

def _pos(y):
    """Round-off zeros (no SOC) left out of log plots."""
    y = np.array(y, dtype=float)
    y[~(y > 1e-12)] = np.nan
    return y


def plot(h5, stem) -> list:
    from ..plot import plt, save_figure
    g = h5["diffusion"]
    E = g["energies"][...]
    S = g["soc_scale"][...]
    d = derived(g["tensor"][...], g["charge"][...])
    paths = []
    i_with = int(np.argmax(S))
    i_without = int(np.argmin(S)) if S.min() == 0.0 and len(S) > 1 else None
    styles = [(i_with, "-", f"SOC x{S[i_with]:g}")]
    if i_without is not None:
        styles.append((i_without, "--", "no SOC"))

    # Fig. 2: charge/spin and orbital diffusivities vs energy
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    for k, ls, lab in styles:
        ax[0].plot(E, d["D_charge_xx"][k], "k" + ls, label=f"charge ({lab})")
        ax[0].plot(E, d["D_s_xx"][k], ls, color="darkred", label=f"$s_x$ ({lab})")
        ax[0].plot(E, d["D_s_yx"][k], ls, color="salmon", label=f"$s_y$ ({lab})")
        ax[1].plot(E, d["D_l_xx"][k], ls, color="darkblue", label=f"$l_x$ ({lab})")
        ax[1].plot(E, d["D_l_yx"][k], ls, color="lightskyblue", label=f"$l_y$ ({lab})")
    for a_, t in zip(ax, ("charge, spin", "orbital")):
        a_.set_xlabel("E - E$_F$ (eV)")
        a_.set_ylabel(r"$\mathcal{D}$ ($\Omega^{-1}$m$^{-1}$)")
        a_.set_title(t)
        a_.legend(fontsize=6)
    fig.tight_layout()
    paths.append(save_figure(fig, stem, "_diffusivity.png"))

    # Fig. 3: spin-to-orbit / orbit-to-spin diffusivities, polarization vs SOC
    ie = int(np.argmin(np.abs(E)))
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    k = i_with
    ax[0].plot(E, d["D_s2l_xx"][k], color="red", label=r"$s_x\to l_x$")
    ax[0].plot(E, d["D_l2s_xx"][k], color="blue", label=r"$l_x\to s_x$")
    ax[0].set_xlabel("E - E$_F$ (eV)")
    ax[0].set_ylabel(r"$\mathcal{D}$ ($\Omega^{-1}$m$^{-1}$)")
    ax[0].legend(fontsize=7)
    order = np.argsort(S)
    ax[1].plot(100 * S[order], 100 * d["P_l"][order, ie], "o-", color="red", label="spin-to-orbit $P_l$")
    ax[1].plot(100 * S[order], 100 * d["P_s"][order, ie], "o-", color="blue", label="orbit-to-spin $P_s$")
    ax[1].set_xlabel("SOC strength (%)")
    ax[1].set_ylabel(f"polarization (%) at E - E$_F$ = {E[ie]:+.2f} eV")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    paths.append(save_figure(fig, stem, "_polarization.png"))

    # Fig. 4: swapping diffusivities vs energy, efficiencies vs SOC
    fig, ax = plt.subplots(2, 2, figsize=(8, 6))
    for k, ls, lab in styles:
        ax[0, 0].plot(E, d["swap_ss"][k], ls, color="red", label=f"spin ({lab})")
        ax[0, 0].plot(E, d["swap_ll"][k], ls, color="blue", label=f"orbital ({lab})")
        ax[1, 0].plot(E, d["swap_sl"][k], ls, color="red", label=f"spin-to-orbit ({lab})")
        ax[1, 0].plot(E, d["swap_ls"][k], ls, color="blue", label=f"orbit-to-spin ({lab})")
    ax[0, 1].plot(100 * S[order], _pos(d["eta_ss"][order, ie]), "o-", color="red", label=r"$\eta_{s\to s}$")
    ax[0, 1].plot(100 * S[order], _pos(d["eta_ll"][order, ie]), "o-", color="blue", label=r"$\eta_{l\to l}$")
    ax[1, 1].plot(100 * S[order], _pos(d["eta_sl"][order, ie]), "o-", color="red", label=r"$\eta_{s\to l}$")
    ax[1, 1].plot(100 * S[order], _pos(d["eta_ls"][order, ie]), "o-", color="blue", label=r"$\eta_{l\to s}$")
    for a_ in ax[:, 0]:
        a_.set_xlabel("E - E$_F$ (eV)")
        a_.set_ylabel(r"swapping $\mathcal{D}$ ($\Omega^{-1}$m$^{-1}$)")
        a_.legend(fontsize=6)
    for a_ in ax[:, 1]:
        a_.set_xlabel("SOC strength (%)")
        a_.set_ylabel("efficiency")
        if any(np.any(np.isfinite(ln.get_ydata())) for ln in a_.get_lines()):
            a_.set_yscale("log")          # zero (no SOC) points are left out
        a_.legend(fontsize=7)
    fig.tight_layout()
    paths.append(save_figure(fig, stem, "_swapping.png"))
    return paths


def estimate(deck, n_ranks):
    """Up-front memory per rank and work items (hpcorb.config.check_resources)."""
    p = deck["diffusion"]
    n, _ = model_states(deck)
    n_e = len(np.atleast_1d(p["energies"]))
    n_s = len(p["soc_scales"] or [1])
    per_batch = p["batch"] * (6 + 4 * n_e) * 16.0 * n * n        # Green's functions per energy
    return kspace_estimate(deck, n_ranks, template_bytes=8.0 * n_s * (n_e * 64 + 100000),
                           extra_bytes=per_batch, extra_key="diffusion.energies")
