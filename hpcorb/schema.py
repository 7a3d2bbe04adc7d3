"""Deck schema machinery: :class:`Key`, :class:`Table`, coercion and validation,
and the tables shared by every calculation ([model], [kmesh], [output], [parallel]).

Imports no calculation (the calculations import it).  The same tables
validate a TOML deck (:mod:`hpcorb.config`) and the keyword arguments of the
Python API (:func:`api_keys`), so a bad value gives the same one-line
:class:`~hpcorb.errors.DeckError` (a ``ValueError``) on both paths:
``<table>.<key> = <value>: <what is allowed>``.
"""
from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DeckError

REQUIRED = object()
MAX_GRID = 10_000_000       # values of one grid key: beyond this no run is affordable


@dataclass
class Key:
    """One deck key.

    kind: ``float``, ``int``, ``bool``, ``str``, ``path`` (relative to the
    deck's folder), ``floats`` / ``ints`` (lists), ``strs``, ``grid`` (a list
    of floats or a table ``{start, stop, num}``; becomes a float array),
    ``any`` (validated by the calculation).
    Bounds: ``ge``/``gt``/``le``/``lt`` on numbers (each element of a list);
    ``length`` (int or tuple of allowed lengths) for lists; ``choices``.
    ``physics=False`` keeps the key out of the checkpoint hash.
    """
    name: str
    kind: str
    default: Any = REQUIRED
    doc: str = ""
    units: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple | None = None
    length: int | tuple | None = None
    physics: bool = True

    def allowed(self) -> str:
        parts = []
        kind_words = {
            "float": "a number", "int": "an integer", "bool": "true or false",
            "str": "a string", "path": "a file path (string)",
            "floats": "a list of numbers", "ints": "a list of integers",
            "strs": "a list of strings",
            "grid": "a list of numbers or a table {start, stop, num}",
            "any": "a value",
        }
        if self.choices is not None:
            parts.append("one of " + ", ".join(json.dumps(c) for c in self.choices))
        else:
            parts.append(kind_words.get(self.kind, self.kind))
        if self.length is not None:
            lens = self.length if isinstance(self.length, tuple) else (self.length,)
            parts.append("with " + " or ".join(str(n) for n in lens) + " entries")
        for op, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(self, op)
            if bound is not None:
                parts.append(f"{word} {bound:g}")
        return "expected " + ", ".join(parts)


@dataclass
class Table:
    """A deck table: its keys, sub-tables, and whether it must be present."""
    name: str
    keys: list[Key]
    doc: str = ""
    subtables: list["Table"] = field(default_factory=list)
    physics: bool = True

    def key(self, name):
        for k in self.keys:
            if k.name == name:
                return k
        raise KeyError(name)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool))


def _check_bounds(key: Key, dotted: str, value, shown):
    if not math.isfinite(value):
        raise DeckError(dotted, shown, key.allowed())
    if key.gt is not None and not value > key.gt:
        raise DeckError(dotted, shown, key.allowed())
    if key.ge is not None and not value >= key.ge:
        raise DeckError(dotted, shown, key.allowed())
    if key.lt is not None and not value < key.lt:
        raise DeckError(dotted, shown, key.allowed())
    if key.le is not None and not value <= key.le:
        raise DeckError(dotted, shown, key.allowed())


def coerce(key: Key, dotted: str, value, deck_dir: str = "."):
    """Check one value against its key; return the normalized value."""
    bad = DeckError(dotted, value, key.allowed())
    kind = key.kind
    if kind == "any":
        return value
    # Python callers pass tuples and numpy arrays where TOML gives lists;
    # validating an already validated value gives it back unchanged.
    if kind in ("floats", "ints", "strs") and isinstance(value, (tuple, np.ndarray)):
        value = np.asarray(value).tolist() if isinstance(value, np.ndarray) else list(value)
    if kind == "grid" and isinstance(value, (tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf":
            raise bad
        value = arr.astype(float).tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind in ("str", "path"):
        if not isinstance(value, str) or (kind == "path" and not value):
            raise bad
        if key.choices is not None and value not in key.choices:
            raise bad
        if kind == "path":
            return os.path.normpath(os.path.join(deck_dir, os.path.expanduser(value)))
        return value
    if kind == "int":
        if not _is_int(value):
            raise bad
        _check_bounds(key, dotted, value, value)
        if key.choices is not None and value not in key.choices:
            raise bad
        return value
    if kind == "float":
        if not _is_num(value):
            raise bad
        _check_bounds(key, dotted, float(value), value)
        return float(value)
    if kind in ("floats", "ints", "strs"):
        if not isinstance(value, list):
            raise bad
        if key.length is not None:
            lens = key.length if isinstance(key.length, tuple) else (key.length,)
            if len(value) not in lens:
                raise bad
        elif len(value) == 0:
            raise DeckError(dotted, value, key.allowed() + " (at least one)")
        out = []
        for v in value:
            if kind == "ints" and not _is_int(v):
                raise bad
            if kind == "floats" and not _is_num(v):
                raise bad
            if kind == "strs":
                if not isinstance(v, str):
                    raise bad
                if key.choices is not None and v not in key.choices:
                    raise bad
                out.append(v)
                continue
            _check_bounds(key, dotted, float(v), value)
            out.append(float(v) if kind == "floats" else v)
        return out
    if kind == "grid":
        if isinstance(value, dict):
            extra = set(value) - {"start", "stop", "num"}
            missing = {"start", "stop", "num"} - set(value)
            if extra or missing:
                raise DeckError(dotted, value, "a range table needs exactly the keys start, stop, num")
            if not (_is_num(value["start"]) and _is_num(value["stop"])):
                raise bad
            if not _is_int(value["num"]) or not 1 <= value["num"] <= MAX_GRID:
                raise DeckError(f"{dotted}.num", value["num"], f"expected an integer from 1 to {MAX_GRID}")
            arr = np.linspace(float(value["start"]), float(value["stop"]), value["num"])
        elif isinstance(value, list) and len(value) > MAX_GRID:
            raise DeckError(dotted, f"[{len(value)} numbers]", f"at most {MAX_GRID} values")
        elif isinstance(value, list) and value and all(_is_num(v) for v in value):
            arr = np.asarray(value, dtype=float)
        elif _is_num(value):
            arr = np.asarray([float(value)])
        else:
            raise bad
        for v in arr:
            _check_bounds(key, dotted, float(v), value)
        return arr
    raise AssertionError(f"unknown key kind {kind}")


def validate_table(table: Table, data, prefix: str, deck_dir: str) -> dict:
    """Validate one table's data (dict) and fill defaults."""
    if not isinstance(data, dict):
        raise DeckError(prefix, data, f"expected a table [{prefix}]")
    # None = not given (never produced by TOML; API callers and validated
    # tables use it for "default"), so validation is idempotent.
    data = {k: v for k, v in data.items() if v is not None}
    known = {k.name: k for k in table.keys}
    subs = {t.name: t for t in table.subtables}
    for name in data:
        if name not in known and name not in subs:
            allowed = sorted(list(known) + list(subs))
            close = _close_match(name, allowed)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise DeckError(f"{prefix}.{name}", data[name],
                            f"unknown key{hint}; allowed keys in [{prefix}]: " + ", ".join(allowed))
    out = {}
    for k in table.keys:
        dotted = f"{prefix}.{k.name}"
        if k.name in data:
            out[k.name] = coerce(k, dotted, data[k.name], deck_dir)
        elif k.default is REQUIRED:
            raise DeckError(dotted, "(missing)", "this key is required; " + k.allowed())
        else:
            out[k.name] = k.default
            if k.kind == "path" and isinstance(k.default, str):
                out[k.name] = os.path.normpath(os.path.join(deck_dir, k.default))
            if k.kind == "grid" and k.default is not None and not isinstance(k.default, np.ndarray):
                out[k.name] = coerce(k, dotted, k.default, deck_dir)
    for t in table.subtables:
        if t.name in data:
            out[t.name] = validate_table(t, data[t.name], f"{prefix}.{t.name}", deck_dir)
        else:
            out[t.name] = None
    return out


def _close_match(name, options):
    m = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return m[0] if m else None


# ---------------------------------------------------------------------------
# Common tables

MODEL = Table("model", [
    Key("wannier90", "path", None, "Wannier90 seedname (path without suffix): reads seedname.win "
        "(lattice, atoms, projections, spinors), _hr.dat or _tb.dat, _wsvec.dat and _centres.xyz "
        "when present; see docs/dft.md"),
    Key("spinor_order", "str", "auto", "spinful Wannier90 models: 'interleaved' (up, down per "
        "projection: Wannier90/QE), 'block' (all up, then all down: VASP), or 'auto' (fit of each "
        "atom's on-site block to crystal field + lambda L.S, see docs/dft.md)",
        choices=("auto", "interleaved", "block")),
    Key("hr_file", "path", None, "Wannier90 seedname_hr.dat (relative to the deck)"),
    Key("centres_file", "path", None, "Wannier90 seedname_centres.xyz (Wannier centres, Angstrom)"),
    Key("tb_file", "path", None, "Wannier90 seedname_tb.dat (lattice, hoppings and positions)"),
    Key("orbitals", "strs", None, "Wannier90 models: per Wannier function 'ATOM:CHARACTER', "
        "e.g. '0:dxy' (characters s, px, py, pz, dxy, dyz, dzx, dx2-y2, dz2, or 'x' for none); "
        "spinful models list the spin-up functions only and set spin = true"),
    Key("lattice", "any", None, "Wannier90 models without tb_file: 3 lattice vectors (rows, Angstrom)"),
    Key("material", "str", None, "bundled parameter set (element name), see docs/materials.md"),
    Key("parametrization", "str", "sk", "material parametrization", choices=("sk", "nrl")),
    Key("spin", "bool", False, "include spin (doubles the basis)"),
    Key("soc_scale", "float", 1.0, "scale of the on-site spin-orbit coupling (1 = material's own)", ge=0.0),
    Key("lattice_constant", "float", None, "override the material's lattice constant", units="Angstrom",
        ge=0.1, le=100.0),
    Key("surface", "str", None, "film surface (bulk when absent)", choices=("001", "110", "111")),
    Key("layers", "int", None, "number of atomic layers of a film", ge=1, le=10_000),
    Key("builtin", "str", None, "toy model name, see docs/models.md"),
    Key("electrons", "float", None, "electrons per cell (for the Fermi level); "
        "materials default to their valence count", ge=0.0),
    Key("params", "any", None, "parameters of a builtin toy model (table)"),
], "the Hamiltonian")

KMESH = Table("kmesh", [
    Key("size", "ints", None, "Monkhorst-Pack-style uniform mesh: 3 numbers bulk, 2 films", ge=1, le=1_000_000,
        length=(2, 3)),
    Key("shift", "floats", None, "shift in units of the mesh spacing (0 = Gamma-centred, 0.5 = shifted)",
        length=(2, 3)),
    Key("chunk_size", "int", None, "k-points per chunk (default: from the mesh size only, "
        "so chunk boundaries do not depend on the number of ranks)", ge=1),
    Key("symmetry", "bool", True, "sum over the irreducible k-points only, with the model's verified "
        "point-group operations (used by dos, bands (DOS), diffusion, slab_kubo; see docs/speed.md)"),
], "uniform k-mesh")

OUTPUT = Table("output", [
    Key("file", "path", "out.h5", "results file (HDF5), relative to the deck", physics=False),
    Key("checkpoint_interval", "float", 300.0, "seconds between checkpoints (0 = only on signals)",
        units="s", ge=0.0, physics=False),
    Key("checkpoint_file", "path", None, "checkpoint file (default: results file + '.ckpt')", physics=False),
    Key("overwrite", "bool", False, "replace an existing results file", physics=False),
    Key("plots", "bool", True, "write PNG figures next to the results file", physics=False),
], "where results go", physics=False)

PARALLEL = Table("parallel", [
    Key("progress_interval", "float", 10.0, "seconds between progress lines", units="s", gt=0.0, physics=False),
    Key("sync_interval", "float", 2.0, "seconds between the points where ranks agree on checkpoints, "
        "signals and failures (the latency of a SIGTERM)", units="s", ge=0.0, physics=False),
    Key("max_memory_gb", "float", None, "refuse a run whose estimated memory per rank exceeds this "
        "(default: the machine's memory shared by the ranks on it)", units="GB", gt=0.0, physics=False),
    Key("max_hours", "float", 168.0, "refuse a run whose expected wall time on the ranks given exceeds "
        "this (estimated up front from benchmark constants, optimistic: symmetry at its best; "
        "default one week)", units="h", gt=0.0, physics=False),
], "parallel execution", physics=False)

SHARED_TABLES = [MODEL, KMESH, OUTPUT, PARALLEL]


def api_keys(table: Table, keys: dict, deck_dir: str = ".") -> dict:
    """Validate the keyword arguments of an API call against ``table``.

    Same rules and messages as the deck (unknown key, type, range); a value
    of ``None`` means "not given" (the default).  Returns the table as the
    deck path sees it: every key present, defaults filled.
    """
    return validate_table(table, keys, table.name, deck_dir)
