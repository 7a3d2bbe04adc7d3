"""Measured torque vs thickness: CSV with columns thickness (nm), torque (A/m^2),
uncertainty (A/m^2) and a header line naming them (any order; '#' comments)."""
from __future__ import annotations

import math
import os

import numpy as np

from ..errors import InputError


def read_torque_csv(path):
    """Read thickness, torque, uncertainty columns; InputError (one line) if malformed."""
    if not os.path.isfile(path):
        raise InputError(f"bilayer.fit.data = {path!r}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"bilayer.fit.data = {path!r}: cannot read ({e})") from None
    need = ("thickness", "torque", "uncertainty")
    header, rows = None, []
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [x.strip() for x in s.split(",")]
        if header is None:
            header = [x.lower() for x in fields]
            missing = [c for c in need if c not in header]
            if missing:
                raise InputError(f"{path} line {no}: header {s!r} lacks column(s) {', '.join(missing)}; "
                                 "expected a header line 'thickness,torque,uncertainty'")
            continue
        if len(fields) != len(header):
            raise InputError(f"{path} line {no}: {len(fields)} fields, expected {len(header)} "
                             f"({','.join(header)})")
        try:
            vals = [float(x) for x in fields]
        except ValueError:
            raise InputError(f"{path} line {no}: {s!r} is not a row of numbers") from None
        row = {h: v for h, v in zip(header, vals)}
        if not all(math.isfinite(row[c]) for c in need):
            raise InputError(f"{path} line {no}: {s!r}: values must be finite numbers")
        if row["thickness"] <= 0:
            raise InputError(f"{path} line {no}: thickness {row['thickness']:g} nm: must be > 0")
        if row["uncertainty"] <= 0:
            raise InputError(f"{path} line {no}: uncertainty {row['uncertainty']:g}: must be > 0")
        rows.append([row[c] for c in need])
    if header is None:
        raise InputError(f"{path}: empty; expected a header 'thickness,torque,uncertainty' and data rows")
    if len(rows) < 2:
        raise InputError(f"{path}: {len(rows)} data row(s); at least 2 are needed")
    a = np.asarray(rows, dtype=float)
    return a[:, 0], a[:, 1], a[:, 2]
