"""Rank independence of the diffusion calculation (./run test runs this under mpiexec -n 2 and -n 3)."""
import numpy as np
import pytest

from hpcorb.calculations import diffusion as cd
from hpcorb.config import deck_from_dict
from hpcorb.log import NullLogger
from hpcorb.parallel import SerialComm, world


def make_deck(chunk):
    return deck_from_dict({
        "calculation": {"type": "diffusion"},
        "model": {"builtin": "bcc_p", "params": {"xi": 0.25}, "electrons": 2.0},
        "kmesh": {"size": [5, 4, 3], "chunk_size": chunk},
        "diffusion": {"gamma": 0.1, "energies": {"start": -0.3, "stop": 0.3, "num": 4},
                      "soc_scales": [0.0, 1.0]},
    })


@pytest.mark.mpi
@pytest.mark.parametrize("chunk", [1, 7])
def test_diffusion_rank_independent(chunk):
    deck = make_deck(chunk)
    ref = cd.run(deck, SerialComm(), NullLogger(), None)
    out = cd.run(deck, world(), NullLogger(), None)
    for name in ("charge", "tensor", "fermi_energy"):
        a, b = out[name], ref[name]
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), name
