"""The public Python API: ``hpcorb.model``, ``hpcorb.<type>(...)``, ``hpcorb.load``.

Every calculation function validates its keyword arguments exactly as the
deck path validates a deck (same :class:`~hpcorb.schema.Key` tables, same
cross-key checks, same one-line :class:`~hpcorb.errors.DeckError`, a
``ValueError``), builds a :class:`~hpcorb.context.RunContext` from ``comm=``,
``checkpoint=`` and ``log=``, and calls the same deck adapter -> physics
function as ``./run DECK``, so both give bit-identical arrays.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os

import numpy as np

from .calculations.common import model_from_keys
from .config import deck_on_root
from .context import RunContext, wrap_comm
from .io.results import now_iso
from .registry import ADAPTERS, get_adapter
from .result import read
from .schema import KMESH, MODEL, REQUIRED, validate_table

def model(**keys):
    """A tight-binding model from the keys of the deck's [model] table.

    ``hpcorb.model(material="W", spin=True)``, ``hpcorb.model(material="W",
    surface="110", layers=9, spin=True)``, ``hpcorb.model(builtin="cubic")``,
    ``hpcorb.model(hr_file="wannier90_hr.dat", lattice=[...], ...)``.  Relative
    file paths are relative to the current directory.  Bad keys or values
    raise :class:`hpcorb.errors.DeckError` (a ValueError) with the deck's
    one-line message, e.g. ``model.surface = '100': expected one of ...``.
    """
    m = validate_table(MODEL, keys, "model", os.getcwd())
    return model_from_keys(m)


def _kmesh_table(kmesh):
    if kmesh is None:
        return {}
    if isinstance(kmesh, dict):
        return dict(kmesh)
    return {"size": list(np.asarray(kmesh).tolist()) if isinstance(kmesh, np.ndarray) else list(kmesh)}


def _fingerprint(model) -> str:
    """Hash of a model's numbers (for the checkpoint of an API call)."""
    h = hashlib.sha256()
    for a in (model.lattice, model.R, model.H, model.S, model.positions):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(model.electrons).encode())
    return h.hexdigest()


def _toml_value(v):
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return repr(float(v)) if isinstance(v, (float, np.floating)) else str(int(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    return json.dumps(str(v))


def deck_text(name: str, tables: dict, note: str = "") -> str:
    """The deck equivalent to an API call (stored as the results' provenance)."""
    lines = [f"# hpcorb.{name}(...) called from Python{note}", "[calculation]", f'type = "{name}"']
    for t, keys in tables.items():
        if not keys:
            continue
        lines.append(f"[{t}]")
        for k, v in keys.items():
            if v is not None:
                lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _public(adapter):
    name = adapter.SCHEMA.name
    # k-space calculations take a tight-binding model first (their physics' first parameter)
    with_model = next(iter(inspect.signature(adapter.PHYSICS).parameters)) == "model"

    def calculation(*args, kmesh=None, comm=None, checkpoint=None, log=None, **keys):
        started = now_iso()
        if with_model:
            if len(args) != 1:
                raise TypeError(f"hpcorb.{name}(model, **keys) takes one positional argument, the model")
            mdl = args[0]
        elif args:
            raise TypeError(f"hpcorb.{name}(**keys) takes keyword arguments only")
        data = {"calculation": {"type": name}, name: dict(keys)}
        if kmesh is not None:
            data["kmesh"] = _kmesh_table(kmesh)
        model_keys = None
        if with_model:
            model_keys = {k: v for k, v in (mdl.meta.get("deck_keys") or {}).items() if v is not None}
            data["model"] = model_keys
        c = wrap_comm(comm)
        deck = deck_on_root(data, os.path.join(os.getcwd(), "<api>"), None, c)
        phash = None
        if checkpoint is not None:          # rank 0 hashes the inputs (files included)
            extra = {"model": _fingerprint(mdl)} if with_model else None
            phash = c.bcast(deck.physics_hash(extra) if c.rank == 0 else None)
        ctx = RunContext.for_api(c, checkpoint, log, physics_hash=phash)
        result = adapter.call(deck, ctx, mdl) if with_model else adapter.call(deck, ctx)
        if ctx.checkpoint is not None and ctx.comm.rank == 0:
            ctx.checkpoint.remove()
        tables = {name: keys, "kmesh": data.get("kmesh")}
        note = ""
        if with_model:
            if model_keys:
                tables = {"model": model_keys, **tables}
            else:
                note = f" with a model built in Python ({mdl.name})"
        result.report = adapter.REPORT
        result.provenance.update(deck=deck_text(name, tables, note), started=started,
                                 deck_path="(Python API)")
        return result

    calculation.__name__ = calculation.__qualname__ = name
    calculation.__module__ = "hpcorb"
    calculation.__doc__ = _doc(adapter, with_model)
    calculation.__signature__ = _signature(adapter, with_model)
    return calculation


def _signature(adapter, with_model):
    P = inspect.Parameter
    params = [P("model", P.POSITIONAL_ONLY)] if with_model else []
    for k in adapter.SCHEMA.keys:
        params.append(P(k.name, P.KEYWORD_ONLY, default=P.empty if k.default is REQUIRED else k.default))
    for t in adapter.SCHEMA.subtables:
        params.append(P(t.name, P.KEYWORD_ONLY, default=None))
    for extra in ("kmesh", "comm", "checkpoint", "log"):
        params.append(P(extra, P.KEYWORD_ONLY, default=None))
    return inspect.Signature(params)


def _doc(adapter, with_model):
    t = adapter.SCHEMA
    head = (f"hpcorb.{t.name}({'model, ' if with_model else ''}**keys, kmesh=None, comm=None, "
            f"checkpoint=None, log=None) -> Result\n\n{t.doc}.\n\n"
            f"Keywords: the keys of the [{t.name}] table (docs/deck.md)")
    lines = [head + ":", ""]
    for k in t.keys:
        d = "required" if k.default is REQUIRED else f"default {k.default!r}"
        lines.append(f"  {k.name} ({k.kind}{', ' + k.units if k.units else ''}; {d}): {k.doc}")
    for s in t.subtables:
        lines.append(f"  {s.name} (dict): the [{t.name}.{s.name}] table")
    lines += ["", "  kmesh: [n1, n2(, n3)] or a dict with size, shift, chunk_size ([kmesh])",
              "  comm: an mpi4py communicator (default: serial); checkpoint: a file path;",
              "  log: True (progress on stderr), a file path, or a callable",
              "Bad values raise hpcorb.errors.DeckError (a ValueError) naming the key."]
    return "\n".join(lines)


CALCULATIONS = {a.SCHEMA.name: _public(a) for a in ADAPTERS}


def load(path: str):
    """A :class:`~hpcorb.result.Result` from any hpcorb results file."""
    r = read(path)
    try:
        r.report = get_adapter(r.calculation).REPORT
    except ValueError:
        r.report = None
    return r


__all__ = ["model", "load", "CALCULATIONS", "KMESH"]
