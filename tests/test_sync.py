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
    # Jupyter and Colab run cells inside a running loop; sync helpers must still work there,
    # without touching that loop, and other tasks on it are not run inside the cell.
    out = _python("""
        import asyncio, kit
        ran_inside = []
        async def next_cell():
            ran_inside.append(True)
        async def cell():
            asyncio.get_running_loop().create_task(next_cell())  # queued, like the next cell
            with kit.Sandbox(speed=200):
                first = kit.profiles(["williamhgates"], progress=False)
                second = kit.profiles(["satyanadella", "williamhgates"], progress=False)
            return first.loc[0, "name"], list(second["name"]), list(ran_inside)
        loop = asyncio.new_event_loop()
        print(loop.run_until_complete(cell()))
        print(getattr(type(loop), "_nest_patched", False), hasattr(asyncio, "_nest_patched"))
    """)
    lines = out.splitlines()
    assert lines[0] == "('Bill Gates', ['Satya Nadella', 'Bill Gates'], [])"
    assert lines[1] == "False False"  # nothing patched


def test_nest_mode_runs_on_the_running_loop():
    out = _python("""
        import asyncio, kit
        async def where():
            return id(asyncio.get_running_loop())
        async def cell():
            return id(asyncio.get_running_loop()) == kit.run(where(), mode="nest")
        loop = asyncio.new_event_loop()
        print(loop.run_until_complete(cell()), getattr(type(loop), "_nest_patched", False))
    """)
    assert out.split() == ["True", "True"]


def test_errors_and_results_cross_the_thread():
    out = _python("""
        import asyncio, kit
        async def boom():
            raise kit.InvalidRequest("bad")
        async def cell():
            try:
                kit.run(boom())
            except kit.InvalidRequest as exc:
                return f"caught {exc}"
        print(asyncio.new_event_loop().run_until_complete(cell()))
    """)
    assert out.strip() == "caught bad"


def test_run_rejects_non_coroutines():
    with pytest.raises(TypeError, match="coroutine"):
        kit.run(lambda: 1)
