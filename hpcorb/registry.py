"""The registry of calculation types: one name per calculation.

Each entry is a calculation's deck adapter, ``hpcorb/calculations/<type>.py``
(its ``SCHEMA`` table, cross-key checks, and the deck -> API call), which
names its physics entry point (``PHYSICS``, in ``hpcorb/api/<type>.py``) and
its report (``REPORT``: summary text and figures, ``hpcorb/report/<type>.py``).
The launcher, the ``[calculation] type`` choices, ``docs/deck.md`` and the
public functions ``hpcorb.<type>(...)`` are all derived from ``ADAPTERS``.
Adding a calculation: one physics module, one adapter, one report, and its
name on the two lines below.
"""
from __future__ import annotations

from .calculations import bands, bilayer, diffusion, dos, interface, slab_kubo, trilayer
from .errors import DeckError

ADAPTERS = (dos, bands, diffusion, slab_kubo, bilayer, trilayer, interface)

CALCULATION_TYPES = tuple(a.SCHEMA.name for a in ADAPTERS)
_BY_NAME = dict(zip(CALCULATION_TYPES, ADAPTERS))


def get_adapter(name: str):
    """The deck adapter module of calculation ``name`` (DeckError if unknown)."""
    if name not in _BY_NAME:
        raise DeckError("calculation.type", name, "one of " + ", ".join(CALCULATION_TYPES))
    return _BY_NAME[name]
