"""Built-in toy models (``[model] builtin = NAME``, parameters in ``[model] params``).

Each entry: ``name -> (builder(params: dict) -> TBModel, {param: default}, doc)``.
They are small, analytic models for tests and tutorials.
"""
from __future__ import annotations

import numpy as np

from ..errors import DeckError
from .tbmodel import TBModel
from .toy_bcc_p import ENTRY as BCC_P


def cubic(p):
    """One s orbital on a simple cubic lattice: E(k) = eps - 2t (cos kx a + cos ky a + cos kz a)."""
    a, t, eps = p["a"], p["t"], p["eps"]
    R = [(0, 0, 0)] + [tuple(s * e) for e in np.eye(3, dtype=int) for s in (1, -1)]
    H = np.zeros((7, 1, 1), complex)
    H[0, 0, 0] = eps
    H[1:, 0, 0] = -t
    return TBModel(lattice=a * np.eye(3), R=R, H=H, positions=np.zeros((1, 3)), periodic=3,
                   orbitals=["s"], name="cubic", meta={"builtin": "cubic"})


def square(p):
    """One s orbital on a square lattice (film, 2D): E(k) = eps - 2t (cos kx a + cos ky a)."""
    a, t, eps = p["a"], p["t"], p["eps"]
    R = [(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0)]
    H = np.zeros((5, 1, 1), complex)
    H[0, 0, 0] = eps
    H[1:, 0, 0] = -t
    return TBModel(lattice=np.diag([a, a, 10.0]), R=R, H=H, positions=np.zeros((1, 3)), periodic=2,
                   orbitals=["s"], name="square", meta={"builtin": "square"})


BUILTINS = {
    "cubic": (cubic, {"a": 1.0, "t": 1.0, "eps": 0.0}, "1 s orbital, simple cubic, nearest-neighbour t (eV), a (Angstrom)"),
    "square": (square, {"a": 1.0, "t": 1.0, "eps": 0.0}, "1 s orbital, square lattice film, nearest-neighbour t (eV)"),
    "bcc_p": BCC_P,   # paper 000 supplement (toy_bcc_p.py)
}


def build_builtin(name: str, params: dict | None) -> TBModel:
    if name not in BUILTINS:
        raise DeckError("model.builtin", name, "one of " + ", ".join(sorted(BUILTINS)))
    builder, defaults, _ = BUILTINS[name]
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise DeckError("model.params", params, "expected a table of parameters")
    for k, v in params.items():
        if k not in defaults:
            raise DeckError(f"model.params.{k}", v, f"unknown parameter of builtin {name!r}; allowed: "
                            + ", ".join(sorted(defaults)))
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
            raise DeckError(f"model.params.{k}", v, "expected a number")
        if k == "a" and not 0.1 <= v <= 100.0:    # a zero cell makes the reciprocal lattice singular
            raise DeckError(f"model.params.{k}", v, "expected a lattice constant from 0.1 to 100 Angstrom")
    full = dict(defaults)
    full.update({k: float(v) for k, v in params.items()})
    return builder(full)
