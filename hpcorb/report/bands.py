"""Report of a bands result: summary text and the band-structure + DOS figure."""
from __future__ import annotations

import numpy as np

from ..plot import plt, save_figure
from ..result import as_result


def summary(result) -> str:
    g = as_result(result)
    a = g.attrs
    e = g["energies"][...]
    labels = [x.decode() if isinstance(x, bytes) else str(x) for x in g["labels"][...]]
    idx = g["label_index"][...]
    ef = float(a["fermi_energy"])
    lines = [f"bands of {a.get('model', '?')}: {int(a['n_bands'])} bands, {e.shape[0]} k-points along "
             f"{'-'.join(labels)}; Fermi mesh {'x'.join(str(int(x)) for x in a['kmesh'])}",
             f"  Fermi energy {ef:.6f} eV (absolute) for {float(a['electrons']):g} electrons"
             if np.isfinite(ef) else "  no electron count: energies absolute"]
    d, de = g["dos"][...], g["dos_energy"][...]
    if np.isfinite(ef):
        lines.append(f"  DOS(E_F) = {np.interp(0.0, de, d):.4f} states/eV/cell")
    for lab, i in zip(labels, idx):
        row = e[i]
        near = np.sort(row[np.argsort(np.abs(row))[:8]])
        lines.append(f"  {lab:>5s}: {np.sum(np.abs(row) < 1.0):4d} levels within +-1 eV; nearest: "
                     + " ".join(f"{x:+.3f}" for x in near))
    return "\n".join(lines)


def _pretty(lab):
    return "|".join("Γ" if s in ("G", "Gamma") else s for s in lab.split("|"))


def plot(result, stem):
    g = as_result(result)
    a = g.attrs
    x, e = g["distance"][...], g["energies"][...]
    labels = [s.decode() if isinstance(s, bytes) else str(s) for s in g["labels"][...]]
    idx = g["label_index"][...]
    lo, hi = a["window"]
    fig, (ax, axd) = plt.subplots(1, 2, figsize=(7.5, 4.2), sharey=True,
                                  gridspec_kw={"width_ratios": [3, 1], "wspace": 0.05})
    jumps = np.flatnonzero(np.diff(x) == 0) + 1       # branch jumps: break the lines
    xs = np.insert(x, jumps, np.nan)
    es = np.insert(e, jumps, np.nan, axis=0)
    ax.plot(xs, es, color="C0", lw=0.8 if e.shape[1] <= 60 else 0.4)
    for i in idx:
        ax.axvline(x[i], color="0.6", lw=0.6)
    ax.set_xticks([x[i] for i in idx])
    ax.set_xticklabels([_pretty(s) for s in labels])
    ax.set_xlim(np.nanmin(x), np.nanmax(x))
    ax.set_ylim(lo, hi)
    ax.axhline(0.0, color="k", ls="--", lw=0.7)
    ax.set_ylabel("E - E_F (eV)" if np.isfinite(float(a["fermi_energy"])) else "E (eV)")
    ax.set_title(str(a.get("model", "")))
    ax.grid(False)
    de, d = g["dos_energy"][...], g["dos"][...]
    sel = (de >= lo) & (de <= hi)
    axd.plot(d[sel], de[sel], color="C1", lw=0.9)
    axd.axhline(0.0, color="k", ls="--", lw=0.7)
    axd.set_xlabel("DOS (1/eV/cell)")
    axd.set_xlim(left=0)
    return [save_figure(fig, stem, "_bands.png", dpi=130)]
