"""Execute the example notebooks in place, storing their real outputs (needs nbclient).

    python notebooks/execute.py                      # all notebooks
    python notebooks/execute.py notebooks/01-*.ipynb

nbval then checks, on every test run, that a fresh run gives the same outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    print(f"executed {path}")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    paths = [Path(p) for p in sys.argv[1:]] or sorted(here.glob("*.ipynb"))
    for p in paths:
        execute(p)
