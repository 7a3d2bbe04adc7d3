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
import io
import os
import socket
import subprocess
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..errors import SystemFault, os_reason


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


IN_MEMORY_MAX = 1 << 30     # results up to 1 GiB are built in memory before touching the disk


def results_nbytes(results: Results) -> int:
    """Bytes of data in ``results`` (global shapes), for the free-space check."""
    n = 0
    for e in results.entries:
        if e.local is not None:
            n += int(np.prod(e.shape)) * e.dtype.itemsize
        else:
            n += e.data.nbytes
    return n


def free_bytes(folder: str) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write_results(path: str, results: Results, comm, log, *, deck_text: str = "",
                  deck_path: str = "", started: str = "", extra_root_attrs: dict | None = None):
    """Write ``results`` to ``path`` (collectively); atomic rename at the end.

    A full disk or an unwritable folder raises :class:`SystemFault` on every
    rank with one line; the temporary file is removed and an existing file
    at ``path`` is untouched (it is only ever replaced by the rename)."""
    import h5py
    tmp = comm.bcast(f"{path}.tmp{os.getpid()}" if comm.rank == 0 else None)
    parallel = comm.size > 1 and _h5_has_mpi()
    if comm.size > 1 and not parallel:
        log("results gathered to rank 0 for writing (h5py without MPI, or HPCORB_H5_GATHER=1)")
    msg = None
    if comm.rank == 0:      # refuse before writing rather than fill the disk
        folder = os.path.dirname(os.path.abspath(path))
        need = results_nbytes(results) + 65536 + len(deck_text)
        try:
            free = free_bytes(folder)
            if free < need:
                msg = (f"cannot write results {path}: No space left on device "
                       f"(~{need / 1e3:.0f} kB needed, {free / 1e3:.0f} kB free in {folder})")
        except OSError as exc:
            msg = f"cannot write results {path}: {os_reason(exc)}"
    msg = comm.bcast(msg)
    if msg:
        raise SystemFault(msg)
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

    err = None
    if parallel:
        try:
            f = h5py.File(tmp, "w", driver="mpio", comm=comm.comm)
            try:
                _write_all(f, results, root_attrs, comm, collective=True)
            finally:
                f.close()
        except Exception as exc:
            err = os_reason(exc)
        errs = [e for e in comm.allgather(err) if e]
        err = errs[0] if errs else None
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
        if comm.rank == 0 and results_nbytes(results) > IN_MEMORY_MAX:
            try:        # too large to hold twice: HDF5 writes the file (free space checked above)
                with h5py.File(tmp, "w") as f:
                    _write_all(f, results, root_attrs, comm, collective=False, gathered=gathered)
            except Exception as exc:
                err = os_reason(exc)
        elif comm.rank == 0:
            # built in memory and written with plain file I/O: a full disk is then
            # an ordinary OSError (HDF5 failing inside a close can crash the process)
            buf = io.BytesIO()
            with h5py.File(buf, "w") as f:
                _write_all(f, results, root_attrs, comm, collective=False, gathered=gathered)
            try:
                with open(tmp, "wb") as fh:
                    fh.write(buf.getbuffer())
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                err = os_reason(exc)
            del buf
        err = comm.bcast(err)
    if err is None and comm.rank == 0:
        try:
            if parallel or results_nbytes(results) > IN_MEMORY_MAX:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            err = os_reason(exc)
    err = comm.bcast(err)
    if err:
        if comm.rank == 0:
            _remove(tmp)
        comm.barrier()
        raise SystemFault(f"cannot write results {path}: {err}")
    comm.barrier()


def verify_results(path: str, results: Results, comm) -> None:
    """Rank 0 reads the written file back: every dataset present with its shape,
    replicated data equal to what was computed.  Raises SystemFault on every
    rank otherwise (the checkpoint is then kept)."""
    import h5py
    msg = None
    if comm.rank == 0:
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("calculation") != results.calculation or "finished" not in f.attrs:
                    msg = "provenance attributes missing"
                g = f[results.calculation]
                for e in results.entries:
                    if msg:
                        break
                    if e.name not in g:
                        msg = f"dataset {e.name} missing"
                        break
                    d = g[e.name]
                    shape = e.shape if e.local is not None else e.data.shape
                    if d.shape != tuple(shape):
                        msg = f"dataset {e.name} has shape {d.shape}, expected {tuple(shape)}"
                        break
                    data = d[()]
                    if e.local is None and e.data.dtype.kind in "biufc" and \
                            not np.array_equal(np.asarray(data), e.data, equal_nan=e.data.dtype.kind in "fc"):
                        msg = f"dataset {e.name} reads back different values"
        except Exception as exc:
            msg = os_reason(exc)
    msg = comm.bcast(msg)
    if msg:
        raise SystemFault(f"results {path} failed verification after writing: {msg}")


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

