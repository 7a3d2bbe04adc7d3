"""``Result``: what every calculation returns, in memory or read back from a file.

``result[path]`` is the numpy array of the dataset at ``/<type>/<path>`` of
the results file (e.g. ``r["direct/orbital/proper"]``), ``result.attrs`` the
attributes of ``/<type>``, ``result.units(path)`` and
``result.description(path)`` those of one dataset, ``result.summary()`` the
text ``./run show`` prints, ``result.plot(stem)`` the figures (PNG files
``stem + suffix``; returns their paths), ``result.save(path)`` the results
file the deck path writes (provenance included).  :func:`read` (exposed as
``hpcorb.load``) gives the same object from any results file.  A group path
(``result["sweep"]``) gives a view with its own ``attrs`` and ``[name]``.

Distributed arrays (a calculation's ``Results.add_slice``) are gathered to
every rank in memory; ``save`` still writes them collectively, each rank its
own rows.  The report functions (``hpcorb/report/<type>.py``) take a Result.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import InputError
from .io.results import Entry, Results, write_results
from .log import NullLogger
from .parallel.comm import SerialComm

PROVENANCE = ("hpcorb_version", "calculation", "deck", "deck_path", "mpi_size", "started",
              "finished", "host", "git_commit", "h5_driver")


def _py(v):
    """HDF5 attribute values as plain Python/numpy values (bytes -> str)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return [x.decode() for x in v.ravel()]
    return v


class _Group:
    """A sub-group of a Result: ``attrs``, ``[name]``, ``in``."""

    def __init__(self, result, prefix):
        self._r, self._p = result, prefix
        self.attrs = result.group_attrs.setdefault(prefix, {})

    def __getitem__(self, name):
        return self._r[f"{self._p}/{name}"]

    def __contains__(self, name):
        return f"{self._p}/{name}" in self._r

    def keys(self):
        return self._r._children(self._p + "/")


class Result:
    """Named arrays with units and attributes; see the module docstring."""

    def __init__(self, results: Results, comm=None, report=None, provenance: dict | None = None):
        self.calculation = results.calculation
        self.entries = results.entries              # what save() writes (distributed rows stay local)
        self.attrs = results.attrs
        self.group_attrs = results.group_attrs
        self.report = report
        self.provenance = dict(provenance or {})
        self._comm = comm if comm is not None else SerialComm()
        self._arrays = {}
        for e in results.entries:
            if e.local is None:
                self._arrays[e.name] = e.data
            else:
                full = np.zeros(e.shape, dtype=e.dtype)
                for start, loc in self._comm.allgather((e.start, e.local)):
                    full[start:start + len(loc)] = loc
                self._arrays[e.name] = full
        self._meta = {e.name: e for e in results.entries}

    # ---- access --------------------------------------------------------------
    def __getitem__(self, path):
        path = path.strip("/")
        if path in self._arrays:
            return self._arrays[path]
        if path in self.group_attrs or any(n.startswith(path + "/") for n in self._arrays):
            return _Group(self, path)
        raise KeyError(f"{self.calculation}: no dataset {path!r}; datasets: " + ", ".join(self._arrays))

    def __contains__(self, path):
        path = path.strip("/")
        return path in self._arrays or path in self.group_attrs or any(
            n.startswith(path + "/") for n in self._arrays)

    def _children(self, prefix):
        out = []
        for n in self._arrays:
            if n.startswith(prefix):
                head = n[len(prefix):].split("/")[0]
                if head not in out:
                    out.append(head)
        return out

    def keys(self):
        return self._children("")

    def names(self) -> list[str]:
        """Every dataset path."""
        return list(self._arrays)

    def units(self, path) -> str:
        return self._meta[path.strip("/")].units

    def description(self, path) -> str:
        return self._meta[path.strip("/")].description

    def dataset_attrs(self, path) -> dict:
        """Attributes of one dataset other than units and description."""
        return dict(self._meta[path.strip("/")].attrs)

    def __repr__(self):
        return f"<hpcorb Result {self.calculation}: {len(self._arrays)} datasets>"

    # ---- report --------------------------------------------------------------
    def summary(self) -> str:
        """The text ``./run show`` prints for this result."""
        if self.report is None:
            raise InputError(f"no report is known for calculation {self.calculation!r}")
        return self.report.summary(self)

    def plot(self, stem: str) -> list[str]:
        """Write the figures ``stem + suffix`` (PNG); return their paths."""
        if self.report is None or not hasattr(self.report, "plot"):
            return []
        return self.report.plot(self, stem)

    # ---- files ---------------------------------------------------------------
    def save(self, path: str, comm=None, log=None, **provenance) -> str:
        """Write the results file (collective over the communicator the result was
        computed on).  Root attributes: provenance (deck text, times, host, commit)."""
        comm = comm if comm is not None else self._comm
        prov = dict(self.provenance, **provenance)
        extra = {k: v for k, v in prov.items() if k not in PROVENANCE}
        write_results(path, self, comm, log or NullLogger(), deck_text=prov.get("deck", ""),
                      deck_path=prov.get("deck_path", ""), started=prov.get("started", ""),
                      extra_root_attrs=extra)
        return path

    @classmethod
    def from_h5(cls, h5, report=None) -> "Result":
        """A Result from an open results file (h5py.File)."""
        if "calculation" not in h5.attrs:
            raise InputError(f"{h5.filename}: not an hpcorb results file (no 'calculation' attribute)")
        calc = _py(h5.attrs["calculation"])
        res = Results(calc)
        grp = h5[calc]
        res.attrs.update({k: _py(v) for k, v in grp.attrs.items()})

        def visit(name, obj):
            if hasattr(obj, "shape"):            # a dataset
                a = {k: _py(v) for k, v in obj.attrs.items()}
                data = obj[()]
                if isinstance(data, bytes):
                    data = data.decode()
                data = np.asarray(data)
                if data.dtype.kind == "S":
                    data = data.astype(str)
                res.entries.append(Entry(name, data, str(a.pop("units", "1")),
                                         str(a.pop("description", "")), a))
            elif len(obj.attrs):                  # a group with attributes
                res.group_attrs[name] = {k: _py(v) for k, v in obj.attrs.items()}
        grp.visititems(visit)
        prov = {k: _py(v) for k, v in h5.attrs.items()}
        return cls(res, report=report, provenance=prov)


def open_h5(path: str):
    """An open, read-only h5py.File of ``path`` (InputError, one line, if it is none)."""
    import h5py                 # h5py (and with it MPI) only when a file is read
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except Exception as e:
        raise InputError(f"{path}: not a readable HDF5 file ({e})") from None


def read(path: str, report=None) -> Result:
    """Read a results file into a Result (InputError if it is not one)."""
    with open_h5(path) as h5:
        return Result.from_h5(h5, report=report)


def as_result(obj) -> Result:
    """A Result, or an open results file (h5py.File) read into one."""
    return obj if isinstance(obj, Result) else Result.from_h5(obj)
