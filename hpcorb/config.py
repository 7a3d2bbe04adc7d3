"""Input decks: TOML, one table per concern, validated against a schema.

A deck is read with :func:`load_deck` into a :class:`Deck`: every table is a
plain ``dict`` with defaults filled in.  The schema of the common tables
(``[calculation]``, ``[model]``, ``[kmesh]``, ``[output]``, ``[parallel]``)
is here; each calculation module declares the schema of its own table
(named after the calculation) as a :class:`Table` in its ``SCHEMA``.

Every unknown key, wrong type or out-of-range value raises
:class:`hpcorb.errors.DeckError`, whose message names the key, the value
and what is allowed.  ``docs/deck.md`` is generated from these schemas
(``python -m hpcorb.launch keys``), so the defaults live in one place.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DeckError, InputError

REQUIRED = object()
MAX_GRID = 10_000_000       # values of one grid key: beyond this no run is affordable
GB = 1024.0 ** 3

CALCULATION_TYPES = ("dos", "bands", "diffusion", "slab_kubo", "bilayer",
                     "trilayer", "interface")


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
    import difflib
    m = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return m[0] if m else None


# ---------------------------------------------------------------------------
# Common tables

CALCULATION = Table("calculation", [
    Key("type", "str", REQUIRED, "which calculation to run", choices=CALCULATION_TYPES),
    Key("title", "str", "", "free text stored with the results", physics=False),
], "what to compute")

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
], "parallel execution", physics=False)

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
        from .calculations import get_calculation
        tables = list(COMMON_TABLES) + [get_calculation(self.type).SCHEMA]
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


def load_deck(path: str) -> Deck:
    """Read, parse and validate a deck; raise InputError/DeckError if bad."""
    if not os.path.isfile(path):
        raise InputError(f"deck {path!r}: no such file")
    with open(path, encoding="utf-8") as f:
        try:
            text = f.read()
        except UnicodeDecodeError:
            raise InputError(f"deck {path!r}: not a UTF-8 text file") from None
    data = parse_toml(text, path)
    return deck_from_dict(data, path, text)


def deck_from_dict(data: dict, path: str = "<deck>", text: str | None = None) -> Deck:
    from .calculations import get_calculation
    deck_dir = os.path.dirname(os.path.abspath(path))
    calc = data.get("calculation")
    if not isinstance(calc, dict) or "type" not in calc:
        raise DeckError("calculation.type", "(missing)",
                        "every deck needs [calculation] type = one of " + ", ".join(CALCULATION_TYPES))
    ctype = coerce(CALCULATION.key("type"), "calculation.type", calc["type"])
    module = get_calculation(ctype)
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
    if hasattr(module, "check_deck"):
        module.check_deck(deck)
    return deck


def _probe_writable(folder: str) -> str | None:
    """Why ``folder`` cannot take a new file (None if it can): a real create +
    remove, since permission bits say nothing for root or read-only mounts."""
    import tempfile
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
    from .calculations import get_calculation
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
    for t in list(COMMON_TABLES) + [get_calculation(deck.type).SCHEMA]:
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
        import h5py
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


def machine_memory() -> float:
    """Physical memory of this machine in bytes (0 if unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0.0


@dataclass
class Estimate:
    """Up-front cost of a run: ``bytes_per_rank`` peak memory of one rank,
    ``items`` work items (k-points, points, windows), ``key`` the deck key that
    drives the size (named in a refusal)."""
    bytes_per_rank: float
    items: float
    key: str
    what: str = ""


def check_resources(deck: Deck, n_ranks: int, ranks_here: int | None = None) -> Estimate | None:
    """Refuse (exit 2, naming the key and the estimate) a run whose memory per
    rank exceeds ``[parallel] max_memory_gb`` or this machine's memory shared by
    the ranks on it.  Returns the estimate (None when the calculation has none)."""
    from .calculations import get_calculation
    module = get_calculation(deck.type)
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


def _fmt_bytes(n: float) -> str:
    for unit, f in (("TB", 1024.0 ** 4), ("GB", GB), ("MB", 1024.0 ** 2)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{n / 1024:.3g} kB"


def kmesh_engine_bytes(n_k: float, chunk: int | None, template_bytes: float) -> float:
    """Memory of the engine's bookkeeping: chunk flags + 3 copies of the sums."""
    from .parallel.engine import default_chunk_size
    c = chunk or default_chunk_size(int(min(n_k, 2 ** 62)))
    return n_k / c + 3 * template_bytes


def model_states(deck: Deck) -> tuple[int, str]:
    """Rough basis size of ``[model]`` without building it (estimates must not
    allocate), and the key that sets it."""
    m = deck["model"]
    spin = 2 if m.get("spin") else 1
    if m.get("material"):
        layers = m.get("layers")
        return 9 * spin * (layers or 2), ("model.layers" if layers else "model.material")
    seed = m.get("wannier90")
    candidates = [(m.get(k), k, f"model.{k}") for k in ("hr_file", "tb_file")]
    if seed:
        candidates += [(seed + "_hr.dat", "hr_file", "model.wannier90"), (seed + "_tb.dat", "tb_file", "model.wannier90")]
    for path, kind, key in candidates:
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = [f.readline() for _ in range(5)]
                num = int((lines[1] if kind == "hr_file" else lines[4]).split()[0])
                return max(1, num), key
            except (ValueError, IndexError, OSError):
                return 64, key
    return 8 * spin, "model.builtin"


def kspace_estimate(deck: Deck, n_ranks: int, *, template_bytes: float, per_k_matrices: float = 6,
                    extra_bytes: float = 0.0, extra_key: str | None = None) -> Estimate:
    """Memory per rank of a k-mesh calculation: engine bookkeeping (``kmesh.size``),
    one chunk of ``per_k_matrices`` N x N complex matrices per k (``model.*``)
    and ``extra_bytes`` set by ``extra_key`` (energy grids, histograms)."""
    from .parallel.engine import default_chunk_size
    size = deck["kmesh"]["size"] or [1]
    n_k = float(np.prod(np.asarray(size, dtype=float)))
    n, model_key = model_states(deck)
    chunk = deck["kmesh"]["chunk_size"] or default_chunk_size(int(min(n_k, 2 ** 62)),
                                                              cost_hint=max(1.0, (n / 40.0) ** 3))
    parts = {"kmesh.size": kmesh_engine_bytes(n_k, chunk, template_bytes),
             model_key: chunk * per_k_matrices * 16.0 * n * n}
    if extra_key:
        parts[extra_key] = parts.get(extra_key, 0.0) + extra_bytes
    key = max(parts, key=parts.get)
    total = sum(parts.values()) + 100e6          # + the interpreter and libraries
    return Estimate(total, n_k, key, f"{n_k:.3g} k-points, {n} states")


def engine_options(deck: Deck) -> dict:
    """Keyword arguments of :func:`hpcorb.parallel.engine.run_chunks` set by the deck."""
    return {"checkpoint_interval": deck["output"]["checkpoint_interval"],
            "progress_interval": deck["parallel"]["progress_interval"],
            "sync_seconds": deck["parallel"]["sync_interval"]}


def checkpoint_path(deck: Deck) -> str:
    return deck["output"]["checkpoint_file"] or deck["output"]["file"] + ".ckpt"


def keys_markdown() -> str:
    """All deck keys with defaults, as Markdown (docs/deck.md)."""
    from .calculations import all_calculations
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
    for name, mod in all_calculations().items():
        emit(mod.SCHEMA, mod.SCHEMA.name)
    return "\n".join(lines) + "\n"
