"""Input decks: TOML, one table per concern, validated against a schema.

A deck is read with :func:`load_deck` into a :class:`Deck`: every table is a
plain ``dict`` with defaults filled in.  The schema machinery and the shared
tables ([model], [kmesh], [output], [parallel]) are in :mod:`hpcorb.schema`;
``[calculation]`` is here, its ``type`` choices come from the one registry
of calculations (:mod:`hpcorb.registry`); each calculation's deck adapter
(``hpcorb/calculations/<type>.py``) declares its own table as ``SCHEMA``.

Every unknown key, wrong type or out-of-range value raises
:class:`hpcorb.errors.DeckError`, whose message names the key, the value
and what is allowed.  ``docs/deck.md`` is generated from these schemas
(``python -m hpcorb.launch keys``), so the defaults live in one place.
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib

import numpy as np

from .errors import DeckError, InputError
from .registry import ADAPTERS, CALCULATION_TYPES, get_adapter
from .schema import (KMESH, MODEL, OUTPUT, PARALLEL, REQUIRED, Key, Table,  # noqa: F401 (re-exported)
                     _close_match, coerce, validate_table)

CALCULATION = Table("calculation", [
    Key("type", "str", REQUIRED, "which calculation to run", choices=CALCULATION_TYPES),
    Key("title", "str", "", "free text stored with the results", physics=False),
], "what to compute")

COMMON_TABLES = [CALCULATION, MODEL, KMESH, OUTPUT, PARALLEL]


class Deck(dict):
    """A validated deck: ``deck["model"]["material"]`` etc.

    Attributes: ``path`` (absolute), ``dir`` (folder, base of relative paths),
    ``text`` (the deck as written), ``type`` (calculation type).
    """
    path: str
    dir: str
    text: str

    @property
    def type(self) -> str:
        return self["calculation"]["type"]

    @property
    def calc(self) -> dict:
        """The calculation's own table (``deck[deck.type]``)."""
        return self[self.type]

    def physics_hash(self, extra: dict | None = None) -> str:
        """Hash of every input that changes the numbers (not output/logging)."""
        tables = list(COMMON_TABLES) + [get_adapter(self.type).SCHEMA]
        payload = {}
        for t in tables:
            if t.physics and self.get(t.name) is not None:
                payload[t.name] = _physics_values(t, self[t.name])
        if extra:
            payload["extra"] = extra
        blob = json.dumps(payload, sort_keys=True, default=_json_default)
        return hashlib.sha256(blob.encode()).hexdigest()


def _physics_values(table: Table, data: dict) -> dict:
    out = {}
    for k in table.keys:
        if k.physics:
            v = data.get(k.name)
            if k.kind == "path" and isinstance(v, str) and os.path.isfile(v):
                # the contents of an input file matter, not its name
                with open(v, "rb") as f:
                    v = hashlib.sha256(f.read()).hexdigest()
            out[k.name] = v
    for t in table.subtables:
        if data.get(t.name) is not None:
            out[t.name] = _physics_values(t, data[t.name])
    return out


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def parse_toml(text: str, path: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None


def _read_deck_text(path: str) -> str:
    if not os.path.isfile(path):
        raise InputError(f"deck {path!r}: no such file")
    with open(path, encoding="utf-8") as f:
        try:
            return f.read()
        except UnicodeDecodeError:
            raise InputError(f"deck {path!r}: not a UTF-8 text file") from None


def load_deck(path: str, comm=None) -> Deck:
    """Read, parse and validate a deck; raise InputError/DeckError if bad.

    With a communicator, rank 0 reads the file and broadcasts the text (one
    reader per job, not one per rank); every rank then validates the same text.
    """
    if comm is None or comm.size == 1:
        text = _read_deck_text(path)
    else:
        got = None
        if comm.rank == 0:
            try:
                got = ("ok", _read_deck_text(path))
            except InputError as e:
                got = ("error", str(e))
        kind, text = comm.bcast(got)
        if kind == "error":
            raise InputError(text)
    data = parse_toml(text, path)
    return deck_on_root(data, path, text, comm)


def deck_on_root(data: dict, path: str = "<deck>", text: str | None = None, comm=None) -> "Deck":
    """:func:`deck_from_dict` for every rank of ``comm``: rank 0 runs the cross-checks
    (they may read input files, e.g. a fit's data) and broadcasts the verdict; the
    other ranks only validate the tables."""
    if comm is None or comm.size == 1:
        return deck_from_dict(data, path, text)
    msg = None
    if comm.rank == 0:
        try:
            deck = deck_from_dict(data, path, text)
        except InputError as e:
            msg = str(e)
    msg = comm.bcast(msg)
    if msg is not None:
        raise InputError(msg)
    return deck if comm.rank == 0 else deck_from_dict(data, path, text, checks=False)


def deck_from_dict(data: dict, path: str = "<deck>", text: str | None = None, checks: bool = True) -> Deck:
    """Validate a parsed deck (tables, defaults; with ``checks`` the calculation's
    cross-key checks too); raise DeckError/InputError if bad."""
    deck_dir = os.path.dirname(os.path.abspath(path))
    calc = data.get("calculation")
    if not isinstance(calc, dict) or "type" not in calc:
        raise DeckError("calculation.type", "(missing)",
                        "every deck needs [calculation] type = one of " + ", ".join(CALCULATION_TYPES))
    ctype = coerce(CALCULATION.key("type"), "calculation.type", calc["type"])
    module = get_adapter(ctype)
    tables = {t.name: t for t in COMMON_TABLES}
    tables[module.SCHEMA.name] = module.SCHEMA
    for name in data:
        if name not in tables:
            close = _close_match(name, list(tables))
            hint = f" (did you mean [{close}]?)" if close else ""
            raise DeckError(f"[{name}]", data[name] if not isinstance(data[name], dict) else "{...}",
                            f"unknown table{hint}; a {ctype} deck has tables " +
                            ", ".join(f"[{t}]" for t in tables))
    deck = Deck()
    for name, table in tables.items():
        deck[name] = validate_table(table, data.get(name, {}), name, deck_dir)
    deck.path = os.path.abspath(path)
    deck.dir = deck_dir
    deck.text = text if text is not None else ""
    if checks and hasattr(module, "check_deck"):
        module.check_deck(deck)
    return deck


def require_writable_output(deck: Deck):
    """The results file's folder must be writable and the file new (unless overwrite)."""
    out = deck["output"]["file"]
    folder = os.path.dirname(out) or "."
    if not os.path.isdir(folder):
        raise DeckError("output.file", out, f"folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise DeckError("output.file", out, f"folder {folder!r} is not writable")
    if os.path.isdir(out):
        raise DeckError("output.file", out, "is a folder; expected a file name")
    if os.path.exists(out) and not deck["output"]["overwrite"]:
        raise DeckError("output.file", out,
                        "exists already; remove it, choose another name, or set [output] overwrite = true")


def engine_options(deck: Deck) -> dict:
    """Keyword arguments of :func:`hpcorb.parallel.engine.run_chunks` set by the deck."""
    return {"checkpoint_interval": deck["output"]["checkpoint_interval"],
            "progress_interval": deck["parallel"]["progress_interval"],
            "sync_seconds": deck["parallel"]["sync_interval"]}


def checkpoint_path(deck: Deck) -> str:
    return deck["output"]["checkpoint_file"] or deck["output"]["file"] + ".ckpt"


def keys_markdown() -> str:
    """All deck keys with defaults, as Markdown (docs/deck.md)."""
    lines = ["# Deck keys", "",
             "Generated by `./run keys` from the schemas in the code; every key, "
             "its default and its allowed values. Paths are relative to the deck's folder.", ""]

    def emit(table: Table, prefix: str):
        lines.append(f"## [{prefix}]")
        if table.doc:
            lines.append("")
            lines.append(table.doc)
        lines.append("")
        lines.append("| key | default | units | allowed | meaning |")
        lines.append("|---|---|---|---|---|")
        for k in table.keys:
            d = "required" if k.default is REQUIRED else ("-" if k.default is None else json.dumps(k.default, default=_json_default))
            lines.append(f"| `{k.name}` | {d} | {k.units} | {k.allowed()[9:]} | {k.doc} |")
        lines.append("")
        for t in table.subtables:
            emit(t, f"{prefix}.{t.name}")

    for t in COMMON_TABLES:
        emit(t, t.name)
    for mod in ADAPTERS:
        emit(mod.SCHEMA, mod.SCHEMA.name)
    return "\n".join(lines) + "\n"
