"""End-to-end runs through the launcher: provenance, show/plot, rank
independence (1, 2, 3 ranks), SIGKILL at three points + resume, SIGTERM ->
checkpoint + exit code 75, foreign/truncated checkpoints refused."""

import h5py
import numpy as np
import pytest

from helpers import write_deck


def cubic_tables(out, size=(30, 30, 30), chunk=500, **output):
    return {
        "calculation": {"type": "dos"},
        "model": {"builtin": "cubic", "params": {"t": 1.0}, "electrons": 0.8},
        "kmesh": {"size": list(size), "shift": [0.5, 0.5, 0.5], "chunk_size": chunk,
                  "symmetry": False},   # the full mesh: enough chunks for the fault points
        "dos": {"broadening": 0.05, "bins": 20000},
        "output": {"file": out, "overwrite": True, "plots": False, **output},
        "parallel": {"sync_interval": 0.0},
    }


def read(path):
    with h5py.File(path, "r") as f:
        return f["dos/dos"][...], float(f["dos"].attrs["fermi_energy"]), dict(f.attrs)


def test_provenance_units_and_show(tmp_path, cli):
    deck = write_deck(tmp_path / "d.toml", cubic_tables("r.h5", size=(8, 8, 8), chunk=64, plots=True))
    r = cli([deck])
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "r.h5", "r") as f:
        for k in ("hpcorb_version", "calculation", "deck", "mpi_size", "started", "finished", "host", "git_commit"):
            assert k in f.attrs, k
        assert f.attrs["calculation"] == "dos"
        assert "builtin" in f.attrs["deck"]
        for name in ("energy", "dos", "integrated"):
            assert f["dos"][name].attrs["units"] and f["dos"][name].attrs["description"]
        assert f["dos/energy"].attrs["units"] == "eV"
        assert "fermi_energy" in f["dos"].attrs
    assert (tmp_path / "r_dos.png").stat().st_size > 1000
    assert not (tmp_path / "r.h5.ckpt").exists()          # removed after success
    s = cli(["show", str(tmp_path / "r.h5")])
    assert s.returncode == 0
    for word in ("hpcorb_version", "started", "finished", "host", "[eV]", "[states/eV/cell]", "Fermi energy"):
        assert word in s.stdout, word
    p = cli(["plot", str(tmp_path / "r.h5")])
    assert p.returncode == 0 and p.stdout.strip().endswith("r_dos.png")


def test_show_rejects_non_results(tmp_path, cli):
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    r = cli(["show", str(tmp_path / "x.h5")])
    assert r.returncode == 2 and "not a readable HDF5" in r.stderr


def _mpi_run(cli, deck, n, env=None):
    return cli([deck, "-n", str(n)], env=env)


def test_same_result_on_1_2_3_ranks(tmp_path, cli):
    results = {}
    for n in (1, 2, 3):
        deck = write_deck(tmp_path / f"d{n}.toml", cubic_tables(f"r{n}.h5", size=(20, 20, 20), chunk=100))
        r = _mpi_run(cli, deck, n)
        assert r.returncode == 0, r.stderr
        results[n] = read(tmp_path / f"r{n}.h5")
        assert results[n][2]["mpi_size"] == n
    for n in (2, 3):
        np.testing.assert_allclose(results[n][0], results[1][0], rtol=1e-12, atol=1e-12 * results[1][0].max())
        assert abs(results[n][1] - results[1][1]) <= 1e-12 * max(1.0, abs(results[1][1]))


@pytest.mark.parametrize("kill_at", [3, 21, 44])
def test_sigkill_and_resume(tmp_path, cli, kill_at):
    """Killed (SIGKILL) after kill_at chunks, restarted: same numbers as uninterrupted."""
    ref_deck = write_deck(tmp_path / "ref.toml", cubic_tables("ref.h5"))
    assert cli([ref_deck]).returncode == 0
    deck = write_deck(tmp_path / "d.toml", cubic_tables("r.h5", checkpoint_interval=1e-6))
    r = cli([deck], env={"HPCORB_FAULT": f"kill:{kill_at}"})
    assert r.returncode == -9                      # really killed
    assert not (tmp_path / "r.h5").exists()        # no half-written results
    assert (tmp_path / "r.h5.ckpt").exists()
    r = cli([deck])
    assert r.returncode == 0, r.stderr
    assert "resuming from checkpoint" in r.stderr
    done = int(r.stderr.split("resuming from checkpoint, ")[1].split("/")[0])
    assert 0 < done <= kill_at
    d, ef, _ = read(tmp_path / "r.h5")
    d0, ef0, _ = read(tmp_path / "ref.h5")
    np.testing.assert_allclose(d, d0, rtol=1e-12, atol=1e-12 * d0.max())
    assert abs(ef - ef0) <= 1e-12


def test_sigterm_checkpoints_and_exits_75_then_resume_on_other_rank_count(tmp_path, cli):
    ref_deck = write_deck(tmp_path / "ref.toml", cubic_tables("ref.h5"))
    assert cli([ref_deck]).returncode == 0
    deck = write_deck(tmp_path / "d.toml", cubic_tables("r.h5"))   # default interval: only the signal
    r = _mpi_run(cli, deck, 2, env={"HPCORB_FAULT": "term:10"})
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "received SIGTERM" in r.stderr and "checkpoint written" in r.stderr
    assert (tmp_path / "r.h5.ckpt").exists() and not (tmp_path / "r.h5").exists()
    r = _mpi_run(cli, deck, 3)
    assert r.returncode == 0, r.stderr
    d, ef, _ = read(tmp_path / "r.h5")
    d0, ef0, _ = read(tmp_path / "ref.h5")
    np.testing.assert_allclose(d, d0, rtol=1e-12, atol=1e-12 * d0.max())


def test_checkpoint_from_other_deck_refused(tmp_path, cli):
    deck = write_deck(tmp_path / "d.toml", cubic_tables("r.h5", checkpoint_interval=1e-6))
    r = cli([deck], env={"HPCORB_FAULT": "kill:5"})
    assert r.returncode == -9
    t = cubic_tables("r.h5", checkpoint_interval=1e-6)
    t["dos"]["broadening"] = 0.07                     # a physics input changed
    deck2 = write_deck(tmp_path / "d.toml", t)
    r = cli([deck2])
    assert r.returncode == 2 and "different deck" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.h5").exists()


def test_truncated_checkpoint_refused_by_run(tmp_path, cli):
    deck = write_deck(tmp_path / "d.toml", cubic_tables("r.h5", checkpoint_interval=1e-6))
    assert cli([deck], env={"HPCORB_FAULT": "kill:5"}).returncode == -9
    ck = tmp_path / "r.h5.ckpt"
    ck.write_bytes(ck.read_bytes()[:300])
    r = cli([deck])
    assert r.returncode == 2 and "unreadable" in r.stderr
    assert not (tmp_path / "r.h5").exists()
