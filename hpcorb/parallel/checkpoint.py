"""Checkpoint files: completed chunk ids and reduced partial sums per stage.

One HDF5 file per run (default: results file + ``.ckpt``), written by rank 0
only, always to a temporary name first and then renamed, so a kill at any
moment leaves either the previous or the new checkpoint, never half of one.
The file records a hash of the physics inputs; a checkpoint from another deck
or an unreadable (e.g. truncated) file is refused with a clear message.

Layout: attributes ``hpcorb_checkpoint`` (format version), ``physics_hash``;
one group per engine stage with attributes ``n_items``, ``chunk_size``,
``mode`` and datasets ``done`` [n_chunks] (bool) and ``sums/<name>``.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError

FORMAT = 1


class Checkpoint:
    def __init__(self, path: str, physics_hash: str):
        self.path = path
        self.physics_hash = physics_hash
        self._verified = False

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def _open_read(self):
        import h5py
        try:
            f = h5py.File(self.path, "r")
        except Exception as exc:
            raise InputError(
                f"checkpoint {self.path} is unreadable (truncated or corrupted: {exc}); "
                "delete it to start the run from scratch") from None
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

    def verify(self):
        """Refuse a foreign or corrupted checkpoint before any work starts."""
        if self.exists():
            with self._open_read() as f:
                for name in f:
                    grp = f[name]
                    grp["done"][...]
                    for d in grp["sums"]:
                        grp["sums"][d][...]
        self._verified = True

    def load_stage(self, stage, plan, full_shapes, mode):
        """Return {'done', 'sums'} for a stage, or None when nothing is saved."""
        if not self.exists():
            return None
        try:
            with self._open_read() as f:
                if stage not in f:
                    return None
                g = f[stage]
                same = (int(g.attrs["n_items"]) == plan.n_items and
                        int(g.attrs["chunk_size"]) == plan.chunk_size and g.attrs["mode"] == mode)
                if not same:
                    raise InputError(f"checkpoint {self.path}: stage {stage!r} was made with a different "
                                     "chunking; delete it to start from scratch")
                done = np.asarray(g["done"][...], dtype=bool)
                sums = {}
                for name, shape in full_shapes.items():
                    if name not in g["sums"] or g["sums"][name].shape != tuple(shape):
                        raise InputError(f"checkpoint {self.path}: stage {stage!r} lacks {name!r}; "
                                         "delete it to start from scratch")
                    sums[name] = g["sums"][name][...]
                return {"done": done, "sums": sums}
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"checkpoint {self.path} is unreadable ({type(exc).__name__}: {exc}); "
                             "delete it to start from scratch") from None

    def save_stage(self, stage, plan, mode, done, sums):
        import h5py
        tmp = self.path + f".tmp{os.getpid()}"
        with h5py.File(tmp, "w") as out:
            out.attrs["hpcorb_checkpoint"] = FORMAT
            out.attrs["physics_hash"] = self.physics_hash
            if self.exists():   # keep the other stages
                with self._open_read() as old:
                    for name in old:
                        if name != stage:
                            old.copy(old[name], out, name=name)
            g = out.create_group(stage)
            g.attrs["n_items"] = plan.n_items
            g.attrs["chunk_size"] = plan.chunk_size
            g.attrs["mode"] = mode
            g.create_dataset("done", data=done)
            s = g.create_group("sums")
            for name, arr in sums.items():
                s.create_dataset(name, data=arr)
            out.flush()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def remove(self):
        if os.path.exists(self.path):
            os.remove(self.path)
