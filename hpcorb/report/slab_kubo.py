"""Report of a slab_kubo result: Table 1 of paper 003 (film) or the bulk conductivities,
layer profiles (Fig. 1 a,b,e,f) and the Fermi-energy dependence (Fig. 1 c,d)."""
from __future__ import annotations

import numpy as np

from ..api.slab_kubo import PARTS
from ..kernels import kubo_tensor as KT
from ..plot import plt, save_figure
from ..result import as_result

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


def table1(result, energy_index=None, part="proper"):
    """Rows (label, bulk, surface, total) at the Fermi energy closest to 0."""
    g = as_result(result)
    e = g["energies"][...]
    i = int(np.argmin(np.abs(e))) if energy_index is None else energy_index
    s = int(g.attrs["surface_layers"])
    rows = []
    for label, kind, o, gm, b, sign in TABLE1_ROWS:
        prof = sign * g[f"{kind}/{o}/{part}"][i, :, gm, b]
        rows.append((label,) + tuple(float(x) for x in decompose(prof, s)))
    return e[i], rows


def summary(result) -> str:
    g = as_result(result)
    a = g.attrs
    e0, _ = table1(g)
    lines = [f"slab_kubo: {a.get('model', '?')}, mode {a['mode']}, {int(a['n_layers'])} layer(s), "
             f"k-mesh {'x'.join(str(int(x)) for x in a['kmesh'])}, eta {float(a['eta_eV']):g} eV, "
             f"T {float(a['temperature_K']):g} K, E_F = {float(a['fermi_energy_eV']):.4f} eV",
             f"units {a['units']}; E - E_F = {e0:+.3f} eV; surface = {int(a['surface_layers'])} layers per side"]
    if a["mode"] == "film":
        for part in PARTS:
            _, rows = table1(g, part=part)
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


def plot(result, stem):
    g = as_result(result)
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
