"""The project's files agree with each other: pyproject, environment.yml, py.typed, ruff."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent


def _name_and_spec(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert m, requirement
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pyproject() -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    wanted = dict(_name_and_spec(r) for r in project["dependencies"])
    for extra in ("notebook", "test"):
        wanted.update(_name_and_spec(r) for r in project["optional-dependencies"][extra])
    listed = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        # conda packages, and pip's (PyPI-only) under "- pip:"
        # (a requirement with an environment marker is quoted)
        m = re.match(r"^(?:  |      )- (?:\"([^\"]+)\"|([A-Za-z][^\s#]*))\s*(?:#.*)?$", line)
        requirement = m and (m.group(1) or m.group(2))
        if requirement and not requirement.startswith(("python", "pip")):
            name, spec = _name_and_spec(requirement)
            listed[name] = spec
    assert listed == wanted


def test_python_requirement_matches():
    assert _pyproject()["project"]["requires-python"] == ">=3.10"
    assert "python>=3.10" in (ROOT / "environment.yml").read_text()


def test_typed_marker_ships():
    assert (ROOT / "kit" / "py.typed").exists()


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", "kit", "tests", "bench", "notebooks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    pytest.importorskip("mypy", reason="mypy is in the test extras from Python 3.11")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                            text=True)  # (the packages and settings: pyproject's [tool.mypy])
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_surface_matches_design():
    import kit

    for name in ["OutX", "Task", "Status", "KitError", "InvalidRequest", "AuthenticationError",
                 "PermissionDenied", "NotFound", "PaymentRequired", "RateLimited", "ServiceError",
                 "TransportError", "profiles", "posts", "to_frame", "run", "Sandbox"]:
        assert hasattr(kit, name), name
    assert [s.value for s in kit.Status] == ["queued", "pending", "running", "completed", "failed",
                                             "expired", "unknown"]
    for cls in (kit.InvalidRequest, kit.AuthenticationError, kit.PermissionDenied, kit.NotFound,
                kit.PaymentRequired, kit.RateLimited, kit.ServiceError, kit.TransportError):
        assert issubclass(cls, kit.KitError)
