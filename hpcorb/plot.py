"""Shared plotting setup: matplotlib with the Agg backend (no display needed)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                     "font.size": 9, "savefig.bbox": "tight"})



def save_figure(fig, stem: str, suffix: str, dpi=None) -> str:
    """Write ``fig`` to ``stem + suffix`` (PNG), close it, return the path."""
    path = stem + suffix
    fig.savefig(path, **({} if dpi is None else {"dpi": dpi}))
    plt.close(fig)
    return path


__all__ = ["plt", "save_figure"]
