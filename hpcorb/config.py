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
import tempfile
import tomllib

import numpy as np

from .errors import DeckError, InputError
from .registry import ADAPTERS, CALCULATION_TYPES, get_adapter
from .resources import GB, Estimate, _fmt_bytes, machine_memory  # noqa: F401 (Estimate re-exported)
from .schema import (KMESH, MAX_GRID, MODEL, OUTPUT, PARALLEL, REQUIRED, Key, Table,  # noqa: F401 (re-exported)
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


def _probe_writable(folder: str) -> str | None:
    """Why ``folder`` cannot take a new file (None if it can): a real create +
    remove, since permission bits say nothing for root or read-only mounts."""
    try:
        fd, name = tempfile.mkstemp(prefix=".hpcorb-probe-", dir=folder)
        os.close(fd)
        os.remove(name)
        return None
    except OSError as exc:
        return exc.strerror or str(exc)


def input_paths(deck: Deck) -> list[str]:
    """Every file the deck reads: the deck, each ``path`` key outside [output]
    (model, parameter, centres, tb, data files) and a Wannier90 seedname's
    sibling files."""
    paths = [deck.path]

    def walk(table: Table, data):
        if data is None or table.name == "output":
            return
        for k in table.keys:
            v = data.get(k.name)
            if k.kind == "path" and isinstance(v, str):
                paths.append(v)
        for t in table.subtables:
            walk(t, data.get(t.name))
    for t in list(COMMON_TABLES) + [get_adapter(deck.type).SCHEMA]:
        if t.name in deck:
            walk(t, deck[t.name])
    for key in ("hr_file", "tb_file"):
        v = deck["model"].get(key)
        if isinstance(v, str):
            seed = v.rsplit("_", 1)[0] if "_" in os.path.basename(v) else os.path.splitext(v)[0]
            paths += [seed + sfx for sfx in ("_hr.dat", "_tb.dat", "_centres.xyz", ".win", "_wsvec.dat")]
    seed = deck["model"].get("wannier90")
    if isinstance(seed, str):
        paths += [seed + sfx for sfx in ("_hr.dat", "_tb.dat", "_centres.xyz", ".win", "_wsvec.dat")]
    return paths


def output_paths(deck: Deck) -> dict:
    """Files a run writes, by the key that names them."""
    out = deck["output"]["file"]
    stem = os.path.splitext(out)[0]
    return {"output.file": out, "output.checkpoint_file": checkpoint_path(deck),
            "output.file (log)": stem + ".log", "output.file (lock)": out + ".lock"}


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)       # hard links
    except OSError:
        return False


def _hdf5_kind(path: str) -> str:
    """'results', 'checkpoint', 'hdf5' (other) or 'other' for an existing file."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                return "other"
        import h5py             # only here: importing hpcorb needs no h5py (nor MPI)
        with h5py.File(path, "r") as h5:
            if "hpcorb_checkpoint" in h5.attrs:
                return "checkpoint"
            if "calculation" in h5.attrs:
                return "results"
    except Exception:
        return "other"
    return "hdf5"


def require_writable_output(deck: Deck):
    """The files a run writes must be writable, new (or hpcorb results with
    overwrite = true), and never one of the files the deck reads.

    Exit-2 refusals naming the key: a folder that is missing or refuses a
    new file (probed), an output that is or resolves to (symlink, ``..``,
    hard link) the deck, a model/parameter/centres/tb/data file or a
    checkpoint; an existing file that is not an hpcorb results file."""
    outs = output_paths(deck)
    ins = input_paths(deck)
    out = outs["output.file"]
    for key, path in outs.items():
        for src in ins:
            if _same(path, src):
                raise DeckError(key.split(" ")[0], path, f"is the input file {src}; choose another name "
                                "(a run never writes over what it reads)")
    ck = outs["output.checkpoint_file"]
    if _same(out, ck):
        raise DeckError("output.checkpoint_file", ck, "is the results file; choose another name")
    names = list(outs)
    for i, a in enumerate(names):           # results, checkpoint, log and lock are four files
        for b in names[i + 1:]:
            if _same(outs[a], outs[b]):
                label = {"output.file": "results", "output.checkpoint_file": "checkpoint",
                         "output.file (log)": "log", "output.file (lock)": "lock"}
                key = "output.checkpoint_file" if "checkpoint" in a + b else "output.file"
                raise DeckError(key, deck["output"]["checkpoint_file"] or deck["output"]["file"]
                                if key == "output.checkpoint_file" else out,
                                f"the run's {label[a]} and {label[b]} files would be the same file "
                                f"({outs[b]}); choose another name")
    for key in ("output.file", "output.checkpoint_file"):
        path = outs[key]
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise DeckError(key, path, f"folder {folder!r} does not exist")
        why = _probe_writable(folder)
        if why:
            raise DeckError(key, path, f"folder {folder!r} is not writable ({why})")
    if os.path.isdir(out):
        raise DeckError("output.file", out, "is a folder; expected a file name")
    if os.path.isdir(ck):
        raise DeckError("output.checkpoint_file", ck, "is a folder; expected a file name")
    if os.path.lexists(out):
        if not deck["output"]["overwrite"]:
            raise DeckError("output.file", out,
                            "exists already; remove it, choose another name, or set [output] overwrite = true")
        kind = _hdf5_kind(out)
        if kind == "checkpoint":
            raise DeckError("output.file", out, "is an hpcorb checkpoint (of another run); choose another name")
        if kind != "results":
            raise DeckError("output.file", out, "exists and is not an hpcorb results file; overwrite = true "
                            "replaces results files only (remove it or choose another name)")
    if os.path.lexists(ck) and _hdf5_kind(ck) == "results":
        raise DeckError("output.checkpoint_file", ck, "is an hpcorb results file; choose another name")
    log = outs["output.file (log)"]
    if os.path.isdir(log):
        raise DeckError("output.file", out, f"the log {log} is a folder")


def check_resources(deck: Deck, n_ranks: int, ranks_here: int | None = None) -> Estimate | None:
    """Refuse (exit 2, naming the key and the estimate) a run whose memory per
    rank exceeds ``[parallel] max_memory_gb`` or this machine's memory shared by
    the ranks on it.  Returns the estimate (None when the calculation has none)."""
    module = get_adapter(deck.type)
    if not hasattr(module, "estimate"):
        return None
    est = module.estimate(deck, max(1, n_ranks))
    limit_key = "parallel.max_memory_gb"
    limit = deck["parallel"]["max_memory_gb"]
    if limit is not None:
        limit = limit * GB
    machine = machine_memory()
    if machine > 0:
        share = 0.9 * machine / max(1, ranks_here or min(n_ranks, os.cpu_count() or 1))
        if limit is None or share < limit:
            limit, limit_key = share, "the machine's memory"
    if limit is not None and est.bytes_per_rank > limit:
        where = (f"{limit_key} = {deck['parallel']['max_memory_gb']:g} GB"
                 if limit_key.startswith("parallel") else
                 f"{limit / GB:.3g} GB per rank ({limit_key}: {machine / GB:.3g} GB)")
        raise DeckError(est.key, _shown(deck, est.key),
                        f"needs ~{_fmt_bytes(est.bytes_per_rank)} per rank on {n_ranks} "
                        f"rank{'s' if n_ranks > 1 else ''} ({est.what or f'{est.items:.3g} work items'}), "
                        f"more than {where}")
    hours = deck["parallel"]["max_hours"]
    if est.core_seconds and hours is not None and est.wall_seconds(n_ranks) > hours * 3600.0:
        key = est.time_key or est.key
        raise DeckError(key, _shown(deck, key),
                        f"expected {est.time_text(n_ranks)} ({est.what or f'{est.items:.3g} work items'}), "
                        f"more than parallel.max_hours = {hours:g}: use more ranks, a smaller problem, "
                        f"or raise parallel.max_hours")
    return est


def _shown(deck, dotted):
    table, _, rest = dotted.partition(".")
    v = deck.get(table)
    for part in rest.split("."):
        if isinstance(v, dict) and part in v:
            v = v[part]
        else:
            return "(see estimate)"
    if isinstance(v, np.ndarray):
        return f"[{len(v)} values]"
    return v


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
