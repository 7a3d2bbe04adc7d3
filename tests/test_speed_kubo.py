"""slab_kubo precision = "mixed": single-precision products after a double eigensolve."""
import numpy as np
import pytest

from test_slab_kubo import _run, deck

from hpcorb.config import deck_from_dict
from hpcorb.errors import DeckError


def test_mixed_agrees_with_double_to_single_precision(tmp_path):
    d = _run(deck(tmp_path), tmp_path)
    m = _run(deck(tmp_path, precision="mixed"), tmp_path)
    assert m.attrs["precision"] == "mixed" and d.attrs["precision"] == "double"
    for name in ("direct/orbital/proper", "inverse/spin/conventional", "direct/spin/torque_dipole"):
        a, b = d[name], m[name]
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
        assert np.abs(a - b).max() > 0           # it did run in single precision


def test_bad_precision_is_a_deck_error(tmp_path):
    dd = deck(tmp_path, precision="quad")
    with pytest.raises(DeckError) as e:
        deck_from_dict(dd, str(tmp_path / "deck.toml"))
    assert e.value.key == "slab_kubo.precision" and "double" in str(e.value)
