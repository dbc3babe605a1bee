"""kit.run in its three situations: a script, a running loop (Jupyter/Colab), twice in a row."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import kit


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Unclosed" not in result.stderr, result.stderr
    return result.stdout


def test_import_patches_nothing():
    out = _python("""
        import asyncio
        original = asyncio.run
        import kit
        print(asyncio.run is original, hasattr(asyncio, "_nest_patched"))
    """)
    assert out.split() == ["True", "False"]


def test_plain_script_and_twice_in_a_row():
    out = _python("""
        import asyncio, kit
        async def answer(x):
            await asyncio.sleep(0)
            return x
        print(kit.run(answer(1)), kit.run(answer(2)))
        with kit.Sandbox(speed=200):
            a = kit.profiles(["williamhgates"], progress=False)
            b = kit.profiles(["satyanadella"], progress=False)
        print(a.loc[0, "name"], "|", b.loc[0, "name"])
        import asyncio
        print(hasattr(asyncio, "_nest_patched"))
    """)
    assert out.splitlines() == ["1 2", "Bill Gates | Satya Nadella", "False"]


def test_inside_a_running_loop_like_jupyter():
    # Jupyter and Colab run cells inside a running loop; sync helpers must still work there.
    out = _python("""
        import asyncio, kit
        async def cell():
            with kit.Sandbox(speed=200):
                first = kit.profiles(["williamhgates"], progress=False)
                second = kit.profiles(["satyanadella", "williamhgates"], progress=False)
            return first.loc[0, "name"], list(second["name"])
        loop = asyncio.new_event_loop()
        print(loop.run_until_complete(cell()))
        print(getattr(type(loop), "_nest_patched", False))
    """)
    lines = out.splitlines()
    assert lines[0] == "('Bill Gates', ['Satya Nadella', 'Bill Gates'])"
    assert lines[1] == "True"  # nest-asyncio was applied, to the running loop, when needed


def test_run_rejects_non_coroutines():
    with pytest.raises(TypeError, match="coroutine"):
        kit.run(lambda: 1)
