"""Shared plotting helpers: matplotlib figures without pyplot.

Figures are plain :class:`matplotlib.figure.Figure` objects (no global
backend, no pyplot state), so importing hpcorb in a notebook leaves the
notebook's own matplotlib backend alone; ``save_figure`` writes PNG files.
``plt.subplots`` has pyplot's signature for the report code.
"""
import matplotlib
from matplotlib.figure import Figure

STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9}
_FIGURE_KEYS = ("figsize", "dpi", "facecolor", "edgecolor", "layout", "constrained_layout")


class _Figures:
    """The part of pyplot the reports use, on detached Figure objects."""

    @staticmethod
    def subplots(nrows=1, ncols=1, **kw):
        fig_kw = {k: kw.pop(k) for k in _FIGURE_KEYS if k in kw}
        with matplotlib.rc_context(STYLE):
            fig = Figure(**fig_kw)
            axes = fig.subplots(nrows, ncols, **kw)
        return fig, axes


plt = _Figures()


def save_figure(fig, stem: str, suffix: str, dpi=None) -> str:
    """Write ``fig`` to ``stem + suffix`` (PNG), return the path."""
    path = stem + suffix
    with matplotlib.rc_context(STYLE):
        fig.savefig(path, bbox_inches="tight", **({} if dpi is None else {"dpi": dpi}))
    return path


__all__ = ["plt", "save_figure", "Figure"]
