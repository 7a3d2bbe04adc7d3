"""The example notebooks (examples/*.ipynb) execute without errors.

Each runs with Debian's jupyter-nbconvert in a temporary copy (its files stay
out of the repository) on a kernel that is this interpreter (the project's
.venv python): a ``python3`` kernelspec written to a temporary JUPYTER_PATH,
which takes precedence over the system one.  The notebooks hold their own
physics checks (symmetries, fit within its uncertainty), so executing them
tests them.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "examples", "*.ipynb")))
NBCONVERT = shutil.which("jupyter-nbconvert")


def test_there_are_three_notebooks():
    assert len(NOTEBOOKS) == 3


@pytest.mark.skipif(NBCONVERT is None, reason="jupyter-nbconvert not installed (./run setup installs it)")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (hpcorb .venv)", "language": "python"}))
    work = tmp_path / "run"
    work.mkdir()
    nb = work / os.path.basename(path)
    shutil.copy(path, nb)
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path / "jupyter"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               IPYTHONDIR=str(tmp_path / "ipython"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    env.pop("MPLBACKEND", None)           # the kernel's own inline backend, as for a user
    t0 = time.time()
    p = subprocess.run([NBCONVERT, "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=240",
                        "--ExecutePreprocessor.kernel_name=python3", "--output", "executed.ipynb", str(nb)],
                       cwd=str(work), env=env, capture_output=True, text=True, timeout=600)
    print(f"{os.path.basename(path)}: {time.time() - t0:.1f} s wall")
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads((work / "executed.ipynb").read_text())
    kinds = [o.get("output_type") for c in out["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert "error" not in kinds
    # the figures were drawn inline (display_data with a PNG)
    pngs = [o for c in out["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert pngs
