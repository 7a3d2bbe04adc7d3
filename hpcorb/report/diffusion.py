"""Report of a diffusion result: summary table and the figures of paper 000 (Figs. 2-4)."""
from __future__ import annotations

import numpy as np

from ..api.diffusion import derived
from ..plot import plt, save_figure
from ..result import as_result


def summary(result) -> str:
    g = as_result(result)
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


def _pos(y):
    """Round-off zeros (no SOC) left out of log plots."""
    y = np.array(y, dtype=float)
    y[~(y > 1e-12)] = np.nan
    return y


def plot(result, stem) -> list:
    g = as_result(result)
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
