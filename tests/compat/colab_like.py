"""Colab-like conditions, on demand: a throwaway venv per (Python, ipywidgets) pair runs the
example notebooks in a kernel (a loop already running, cells executed as Colab does) and checks
that every cell ran and every progress display ended in its final state.

    python tests/compat/colab_like.py            # Python 3.10 + ipywidgets 7, 3.12 + 8

Not part of the test run (it installs packages); its last results are in the README's notes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYENV = Path.home() / ".pyenv" / "versions"
MATRIX = [("3.10", "ipywidgets>=7.7,<8"), ("3.12", "ipywidgets>=8,<9"),
          ("3.10", "ipywidgets>=8,<9"), ("3.12", "ipywidgets>=7.7,<8")]

CHECK = r'''
import json, sys, nbformat
from nbclient import NotebookClient
failures = []
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    finals = [o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.get("output_type") == "display_data"
              and "[kit]" in o.get("data", {}).get("text/plain", "")]
    ok = finals and all("finished" in f for f in finals)
    print(json.dumps({"notebook": path.rsplit("/", 1)[-1], "progress": finals, "ok": bool(ok)}))
    failures += [] if ok else [path]
sys.exit(1 if failures else 0)
'''


def python_for(version: str) -> Path:
    found = sorted(PYENV.glob(f"{version}.*"))
    if not found:
        raise SystemExit(f"Python {version} is not installed under {PYENV}")
    return found[-1] / "bin" / "python"


def run(version: str, widgets: str) -> bool:
    venv = Path(tempfile.mkdtemp(prefix=f"kit-compat-{version}-"))
    try:
        subprocess.run([str(python_for(version)), "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-e", f"{ROOT}[notebook]", widgets, "nbclient"], check=True)
        notebooks = [str(p) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
        copies = []
        for nb in notebooks:
            copy = venv / Path(nb).name
            shutil.copy(nb, copy)
            copies.append(str(copy))
        out = subprocess.run([str(venv / "bin" / "python"), "-c", CHECK, *copies],
                             capture_output=True, text=True)
        version_line = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sys, ipywidgets, pandas; print(sys.version.split()[0], ipywidgets.__version__, "
             "pandas.__version__)"], capture_output=True, text=True).stdout.strip()
        print(f"== Python/ipywidgets/pandas {version_line}: "
              f"{'ok' if out.returncode == 0 else 'FAILED'}")
        for line in out.stdout.splitlines():
            print("   ", json.loads(line))
        if out.returncode != 0:
            print(out.stderr[-2000:])
        return out.returncode == 0
    finally:
        shutil.rmtree(venv, ignore_errors=True)


if __name__ == "__main__":
    results = [run(v, w) for v, w in MATRIX]
    sys.exit(0 if all(results) else 1)
