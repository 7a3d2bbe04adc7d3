"""Results files: one self-describing HDF5 file per run.

Root attributes: ``hpcorb_version``, ``calculation``, ``deck`` (full text),
``deck_path``, ``mpi_size``, ``started``, ``finished`` (ISO 8601, UTC),
``host``, ``git_commit`` (when the code is a git checkout), ``h5_driver``.
Datasets live under ``/<calculation>/`` and carry ``units`` and
``description`` attributes.

With more than one rank and an MPI build of h5py the file is opened with
``driver='mpio'`` on all ranks; metadata (groups, datasets, attributes) is
created collectively and every rank writes its own slice: a slice along axis
0 of a distributed array (:meth:`Results.add_slice`), or its share of the
rows of a replicated array.  Without parallel h5py the slices are gathered to
rank 0 (logged).  The file is written under a temporary name and renamed
when complete, so a results file is never half-written.
"""
from __future__ import annotations

import datetime
import os
import socket
import subprocess
from dataclasses import dataclass, field

import numpy as np

from ..version import __version__


@dataclass
class Entry:
    name: str
    data: np.ndarray | None          # replicated (same on every rank), or None
    units: str
    description: str
    attrs: dict = field(default_factory=dict)
    local: np.ndarray | None = None  # this rank's rows of a distributed array
    start: int = 0                   # first row of ``local`` in the global array
    shape: tuple | None = None       # global shape of a distributed array
    dtype: object = None


class Results:
    """Named, shaped arrays with units, collected by a calculation."""

    def __init__(self, calculation: str):
        self.calculation = calculation
        self.entries: list[Entry] = []
        self.attrs: dict = {}               # attributes of /<calculation>
        self.group_attrs: dict = {}         # {"sweep": {...}} attributes of subgroups

    def add(self, name, data, units="1", description="", **attrs):
        """A dataset that is the same on every rank (any shape, or a scalar)."""
        self.entries.append(Entry(name, np.asarray(data), units, description, attrs))

    def add_slice(self, name, local, start, shape, units="1", description="", **attrs):
        """A dataset distributed over ranks along axis 0: rows start..start+len(local)."""
        local = np.asarray(local)
        self.entries.append(Entry(name, None, units, description, attrs, local=local,
                                  start=int(start), shape=tuple(shape), dtype=local.dtype))

    def __getitem__(self, name):
        for e in self.entries:
            if e.name == name:
                return e.data
        raise KeyError(name)

    def names(self):
        return [e.name for e in self.entries]


def _git_commit() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return ""


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _h5_has_mpi() -> bool:
    """Parallel HDF5 usable?  ``HPCORB_H5_GATHER=1`` forces the gather path
    (for file systems where MPI-IO misbehaves, and for the tests)."""
    import h5py
    if os.environ.get("HPCORB_H5_GATHER") == "1":
        return False
    return bool(h5py.get_config().mpi)


def _attr_value(v):
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, str) for x in v):
        return np.array(v, dtype="S")
    return v


def write_results(path: str, results: Results, comm, log, *, deck_text: str = "",
                  deck_path: str = "", started: str = "", extra_root_attrs: dict | None = None):
    """Write ``results`` to ``path`` (collectively); atomic rename at the end."""
    import h5py
    tmp = comm.bcast(f"{path}.tmp{os.getpid()}" if comm.rank == 0 else None)
    parallel = comm.size > 1 and _h5_has_mpi()
    if comm.size > 1 and not parallel:
        log("results gathered to rank 0 for writing (h5py without MPI, or HPCORB_H5_GATHER=1)")
    root_attrs = {
        "hpcorb_version": __version__,
        "calculation": results.calculation,
        "deck": deck_text,
        "deck_path": deck_path,
        "mpi_size": comm.size,
        "started": started,
        "finished": now_iso(),
        "host": socket.gethostname(),
        "git_commit": _git_commit() if comm.rank == 0 else "",
        "h5_driver": "mpio" if parallel else "serial",
    }
    root_attrs = comm.bcast(root_attrs)
    root_attrs.update(extra_root_attrs or {})

    if parallel:
        f = h5py.File(tmp, "w", driver="mpio", comm=comm.comm)
        _write_all(f, results, root_attrs, comm, collective=True)
        f.close()
    else:
        gathered = {}
        for e in results.entries:
            if e.local is not None:
                pieces = comm.gather((e.start, e.local))
                if comm.rank == 0:
                    full = np.zeros(e.shape, dtype=e.dtype)
                    for start, loc in pieces:
                        full[start:start + len(loc)] = loc
                    gathered[e.name] = full
        if comm.rank == 0:
            with h5py.File(tmp, "w") as f:
                _write_all(f, results, root_attrs, comm, collective=False, gathered=gathered)
    comm.barrier()
    if comm.rank == 0:
        os.replace(tmp, path)
    comm.barrier()


def _write_all(f, results, root_attrs, comm, collective, gathered=None):
    for k, v in root_attrs.items():
        f.attrs[k] = _attr_value(v)
    g = f.require_group(results.calculation)
    for k, v in results.attrs.items():
        g.attrs[k] = _attr_value(v)
    for e in results.entries:
        if e.local is not None:
            shape, dtype = e.shape, e.dtype
        else:
            shape, dtype = e.data.shape, e.data.dtype
        if dtype.kind == "U":
            # fixed-length bytes: variable-length strings cannot be written with mpio
            dtype = np.dtype(f"S{max(1, dtype.itemsize // 4)}")
        d = g.create_dataset(e.name, shape=shape, dtype=dtype)
        d.attrs["units"] = e.units
        d.attrs["description"] = e.description
        for k, v in e.attrs.items():
            d.attrs[k] = _attr_value(v)
        if e.local is not None:
            if collective:
                if len(e.local):
                    d[e.start:e.start + len(e.local)] = e.local
            else:
                d[...] = gathered[e.name]
            continue
        data = e.data.astype(dtype) if dtype != e.data.dtype else e.data
        if data.ndim == 0 or not collective:
            if not collective or comm.rank == 0:
                d[...] = data
        else:
            # each rank writes its share of the rows of a replicated array
            n = data.shape[0]
            lo, hi = n * comm.rank // comm.size, n * (comm.rank + 1) // comm.size
            if hi > lo:
                d[lo:hi] = data[lo:hi]
    for grp, attrs in results.group_attrs.items():
        sub = g.require_group(grp)
        for k, v in attrs.items():
            sub.attrs[k] = _attr_value(v)

