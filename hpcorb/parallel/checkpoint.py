"""Checkpoint files: completed work and reduced partial sums per stage.

One HDF5 file per run (default: results file + ``.ckpt``), written by rank 0
only, always to a temporary name first and then renamed, so a kill at any
moment leaves either the previous or the new checkpoint, never half of one.
The file records a hash of the physics inputs; a checkpoint from another deck
is refused with a clear message.

Every dataset carries the SHA-256 digest of its bytes (attribute ``sha256``,
over dtype, shape and the C-ordered data), verified before anything is
used: a flipped bit in the data, which HDF5 itself does not notice, is a
refusal, not a wrong number.  A corrupted or unreadable checkpoint is never
deleted: it is renamed aside (``NAME.corrupt``, ``NAME.corrupt1``, ...) for
inspection and the run is refused with one line; the next run starts from
scratch.

Layout: attributes ``hpcorb_checkpoint`` (format version), ``physics_hash``;
one group per stage.  Engine stages (:mod:`hpcorb.parallel.engine`) have
attributes ``n_items``, ``chunk_size``, ``mode`` and datasets ``done``
[n_chunks] (bool) and ``sums/<name>``; other stages (the sparse trilayer
windows) store their own attributes and datasets via :meth:`save_group`.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from ..errors import InputError, SystemFault, os_reason

FORMAT = 2


def digest(arr) -> str:
    """SHA-256 of an array's dtype, shape and C-ordered bytes."""
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def _datasets(group, prefix=""):
    """(relative name, dataset) of every dataset below ``group``."""
    out = []
    for name, obj in group.items():
        if hasattr(obj, "shape"):
            out.append((prefix + name, obj))
        else:
            out.extend(_datasets(obj, prefix + name + "/"))
    return out


def aside_name(path: str) -> str:
    """First free name ``path.corrupt``, ``path.corrupt1``, ..."""
    cand, i = path + ".corrupt", 0
    while os.path.exists(cand):
        i += 1
        cand = f"{path}.corrupt{i}"
    return cand


class Checkpoint:
    def __init__(self, path: str, physics_hash: str):
        self.path = path
        self.physics_hash = physics_hash
        self._verified = False

    def exists(self) -> bool:
        return os.path.exists(self.path)

    # ---- refusal -------------------------------------------------------
    def _corrupt(self, why: str):
        """Rename the bad file aside (never delete it) and refuse with one line."""
        kept = ""
        try:
            dest = aside_name(self.path)
            os.replace(self.path, dest)
            kept = f"kept as {dest}; "
        except OSError as exc:
            kept = f"could not rename it aside ({os_reason(exc)}); "
        return InputError(f"checkpoint {self.path} is corrupted ({why}); {kept}"
                          "run the same command again to start from scratch")

    def _open_read(self):
        import h5py
        try:
            f = h5py.File(self.path, "r")
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise self._corrupt(f"unreadable, e.g. truncated: {msg}") from None
        if f.attrs.get("hpcorb_checkpoint") != FORMAT:
            f.close()
            raise InputError(f"checkpoint {self.path} is not an hpcorb checkpoint of format {FORMAT}; "
                             "delete it to start from scratch")
        if f.attrs.get("physics_hash") != self.physics_hash:
            f.close()
            raise InputError(
                f"checkpoint {self.path} was made from a different deck (the physics inputs changed); "
                "restore the original deck, or delete the checkpoint to start from scratch")
        return f

    def _read_checked(self, f, name):
        """Read dataset ``name`` and check its digest."""
        d = f[name]
        try:
            data = d[()]
        except Exception as exc:
            raise _Bad(f"dataset {name} unreadable: {os_reason(exc)}") from None
        want = d.attrs.get("sha256")
        if want is None:
            raise _Bad(f"dataset {name} has no checksum")
        if isinstance(want, bytes):
            want = want.decode()
        if digest(data) != want:
            raise _Bad(f"dataset {name} fails its SHA-256 check")
        return data

    def verify(self):
        """Refuse a foreign or corrupted checkpoint before any work starts."""
        if self.exists():
            f = self._open_read()
            try:
                for name, _ in _datasets(f):
                    self._read_checked(f, name)
            except _Bad as exc:
                f.close()
                raise self._corrupt(str(exc)) from None
            except Exception as exc:
                f.close()
                raise self._corrupt(f"unreadable: {os_reason(exc)}") from None
            f.close()
        self._verified = True

    # ---- generic groups ------------------------------------------------
    def load_group(self, stage):
        """``(attrs, {relative name: array})`` of a stage, or None when not saved."""
        if not self.exists():
            return None
        f = self._open_read()
        try:
            if stage not in f:
                return None
            g = f[stage]
            attrs = {k: v for k, v in g.attrs.items()}
            data = {name: self._read_checked(g, name) for name, _ in _datasets(g)}
            return attrs, data
        except _Bad as exc:
            f.close()
            raise self._corrupt(str(exc)) from None
        except InputError:
            raise
        except Exception as exc:
            f.close()
            raise self._corrupt(f"unreadable: {type(exc).__name__}: {exc}") from None
        finally:
            if f.id.valid:
                f.close()

    def save_group(self, stage, attrs: dict, arrays: dict):
        """Replace one stage (other stages kept), atomically; digests on every dataset.

        The file is built in memory and written with plain file I/O: a full
        disk is then an ordinary OSError (HDF5 failing inside a close can
        crash the process), the temporary file is removed and the previous
        checkpoint stays as it was."""
        import io

        import h5py
        buf = io.BytesIO()
        with h5py.File(buf, "w") as out:
            out.attrs["hpcorb_checkpoint"] = FORMAT
            out.attrs["physics_hash"] = self.physics_hash
            if self.exists():   # keep the other stages
                with self._open_read() as old:
                    for name in old:
                        if name != stage:
                            old.copy(old[name], out, name=name)
            g = out.create_group(stage)
            for k, v in attrs.items():
                g.attrs[k] = v
            for name, arr in arrays.items():
                arr = np.asarray(arr)
                d = g.create_dataset(name, data=arr)
                d.attrs["sha256"] = digest(arr)
        write_atomic(self.path, buf.getbuffer(), what="checkpoint")

    # ---- engine stages -------------------------------------------------
    def load_stage(self, stage, plan, full_shapes, mode):
        """Return {'done', 'sums'} for a stage, or None when nothing is saved."""
        got = self.load_group(stage)
        if got is None:
            return None
        attrs, data = got
        try:
            same = (int(attrs["n_items"]) == plan.n_items and
                    int(attrs["chunk_size"]) == plan.chunk_size and attrs["mode"] == mode)
        except KeyError:
            same = False
        if not same:
            raise InputError(f"checkpoint {self.path}: stage {stage!r} was made with a different "
                             "chunking; delete it to start from scratch")
        if "done" not in data:
            raise self._corrupt(f"stage {stage!r} lacks 'done'")
        sums = {}
        for name, shape in full_shapes.items():
            arr = data.get(f"sums/{name}")
            if arr is None or np.shape(arr) != tuple(shape):
                raise InputError(f"checkpoint {self.path}: stage {stage!r} lacks {name!r}; "
                                 "delete it to start from scratch")
            sums[name] = np.asarray(arr)
        return {"done": np.asarray(data["done"], dtype=bool), "sums": sums}

    def save_stage(self, stage, plan, mode, done, sums):
        arrays = {"done": np.asarray(done, dtype=bool)}
        arrays.update({f"sums/{name}": arr for name, arr in sums.items()})
        self.save_group(stage, {"n_items": plan.n_items, "chunk_size": plan.chunk_size, "mode": mode},
                        arrays)

    def remove(self):
        if os.path.exists(self.path):
            os.remove(self.path)


class _Bad(Exception):
    pass


def write_atomic(path: str, data, what: str = "file"):
    """Write bytes to ``path`` via a temporary file + fsync + rename; on any
    OSError the temporary file is removed and SystemFault names ``path``."""
    tmp = path + f".tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise SystemFault(f"cannot write {what} {path}: {os_reason(exc)}") from None


def _unlink(path):
    try:
        os.remove(path)
    except OSError:
        pass
