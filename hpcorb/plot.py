"""Shared plotting setup: matplotlib with the Agg backend (no display needed)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                     "font.size": 9, "savefig.bbox": "tight"})

__all__ = ["plt"]
