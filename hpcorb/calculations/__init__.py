"""Calculations: one module per ``[calculation] type``.

Each module provides
  ``SCHEMA``            a :class:`hpcorb.config.Table` named after the type;
  ``check_deck(deck)``  (optional) cross-key checks, raising DeckError;
  ``run(deck, comm, log, checkpoint) -> Results``;
  ``summary(h5) -> str`` text for ``./run show`` (h5: an open h5py.File);
  ``plot(h5, stem) -> list[str]`` PNG files written (``stem`` + suffix).
See docs/developing.md.
"""
from __future__ import annotations

import importlib

_MODULES = {
    "dos": "dos",
    "bands": "bands",
    "diffusion": "diffusion",
    "slab_kubo": "slab_kubo",
    "bilayer": "bilayer",
    "trilayer": "trilayer",
    "interface": "interface",
}


def get_calculation(name: str):
    from ..errors import DeckError
    if name not in _MODULES:
        raise DeckError("calculation.type", name, "one of " + ", ".join(_MODULES))
    try:
        return importlib.import_module(f"{__name__}.{_MODULES[name]}")
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{_MODULES[name]}":
            raise DeckError("calculation.type", name,
                            "this calculation is not available in this version of hpcorb") from None
        raise


def all_calculations() -> dict:
    out = {}
    for name in _MODULES:
        try:
            out[name] = get_calculation(name)
        except Exception:
            continue
    return out
