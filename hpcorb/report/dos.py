"""Report of a dos result: summary text and the DOS figure."""
from __future__ import annotations

import numpy as np

from ..plot import plt, save_figure
from ..result import as_result


def summary(result) -> str:
    g = as_result(result)
    a = g.attrs
    e, d = g["energy"][...], g["dos"][...]
    lines = [
        f"density of states of {a.get('model', '?')}: {a['n_bands']} bands, spin degeneracy {a['spin_degeneracy']}, "
        f"k-mesh {'x'.join(str(int(x)) for x in a['kmesh'])}",
        f"  bands from {a['band_min_eV']:.4f} to {a['band_max_eV']:.4f} eV; "
        f"{a['smearing']} broadening {a['broadening_eV']:g} eV",
        f"  integral of DOS over the grid: {np.trapz(d, e):.6f} states/cell (of {a['n_states']})",
    ]
    ef = float(a["fermi_energy"])
    if np.isfinite(ef):
        lines.append(f"  Fermi energy: {ef:.6f} eV for {float(a['electrons']):g} electrons; "
                     f"DOS(E_F) = {np.interp(ef, e, d):.5f} states/eV/cell")
    return "\n".join(lines)


def plot(result, stem):
    g = as_result(result)
    e, d = g["energy"][...], g["dos"][...]
    ef = float(g.attrs["fermi_energy"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(e, d, lw=1.2)
    if np.isfinite(ef):
        ax.axvline(ef, color="k", ls="--", lw=0.8, label=f"$E_F$ = {ef:.3f} eV")
        ax.legend()
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel("DOS (states/eV/cell)")
    ax.set_title(f"DOS of {g.attrs.get('model', '')}")
    fig.tight_layout()
    return [save_figure(fig, stem, "_dos.png", dpi=120)]
