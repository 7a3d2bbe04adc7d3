"""Generate inputs/models/sp_cubic_hr.dat: s and p orbitals on a simple cubic
lattice (a = 3 Angstrom) with nearest-neighbour two-centre hoppings (eV):
ss-sigma = -1.0, sp-sigma = 0.8, pp-sigma = 1.2, pp-pi = -0.3, on-site
e_s = -2.0, e_p = 2.5.  Written in Wannier90 _hr.dat format with hpcorb's own
writer; 4 Wannier functions (s, px, py, pz), 7 R vectors.

    .venv/bin/python inputs/models/make_sp_cubic.py
"""
import os

import numpy as np

from hpcorb.io.wannier90 import write_hr

ss, sp, pps, ppp, es, ep = -1.0, 0.8, 1.2, -0.3, -2.0, 2.5
R = [(0, 0, 0)]
H = [np.diag([es, ep, ep, ep]).astype(complex)]
for axis in range(3):
    for sign in (1, -1):
        d = np.zeros(3, dtype=int)
        d[axis] = sign
        h = np.zeros((4, 4), complex)
        h[0, 0] = ss
        h[0, 1 + axis] = sign * sp         # <s|H|p_axis at +d> = l * sp-sigma
        h[1 + axis, 0] = -sign * sp
        for b in range(3):
            h[1 + b, 1 + b] = pps if b == axis else ppp
        R.append(tuple(d))
        H.append(h)
here = os.path.dirname(os.path.abspath(__file__))
write_hr(os.path.join(here, "sp_cubic_hr.dat"), np.array(R), np.array(H),
         comment="hpcorb example: s+p simple cubic, a = 3 Angstrom (inputs/models/make_sp_cubic.py)")
