"""Keys never show: not in a repr, a log line, an exception, a traceback, a frame or a notebook."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest

import kit
from kit.core.secrets import Secret, check_base_url
from tests.conftest import FAST_RETRY
from tests.fakes import KEY, fake

CANARY = "sk-live-CANARY-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


def _chain(exc: BaseException) -> list[BaseException]:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _texts(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(exc) + str(
        exc.__dict__)


async def test_key_never_appears_anywhere(sandbox, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    real = sandbox.api_key("outx")
    seen: list[str] = []
    errors: list[BaseException] = []

    async with kit.OutX(base_url=sandbox.url, api_key=CANARY, retry=FAST_RETRY) as bad:
        seen.append(repr(bad))
        try:
            await bad.fetch_profile("williamhgates")
        except kit.KitError as exc:
            errors.append(exc)

    async with kit.OutX(base_url=sandbox.url, api_key=real, retry=FAST_RETRY) as good:
        seen += [repr(good), repr(good.http), repr(good._key), str(good._key), f"{good._key}"]
        task = await good.fetch_profile("williamhgates")
        sandbox.faults.add("5xx", times=10, path="/linkedin-agent/get-task-status")
        try:
            await good.get_task(task.id)
        except kit.KitError as exc:
            errors.append(exc)
        sandbox.faults.clear()
        sandbox.faults.add("drop", times=1, method="POST")
        try:
            await good.like_post("urn:li:activity:1")
        except kit.KitError as exc:
            errors.append(exc)
        sandbox.faults.clear()
        [task] = await good.wait([task], progress=False)
        seen.append(repr(task))

    async with kit.OutX(base_url="http://127.0.0.1:9", api_key=CANARY,
                        retry=kit.RetryPolicy(attempts=1)) as down:
        try:
            await down.fetch_profile("x-y-z")
        except kit.KitError as exc:
            errors.append(exc)

    assert len(errors) == 4
    for exc in errors:
        seen.append(_texts(exc))
        # No aiohttp exception (their request_info carries the headers) hangs off kit's errors.
        assert all(isinstance(e, kit.KitError) for e in _chain(exc)), _chain(exc)

    df = kit.profiles(["williamhgates", "ghost-profile-404"], api_key=real, progress=False)
    seen += [df.to_string(), df.to_csv(), repr(df.to_dict())]
    seen += [r.getMessage() + str(r.args) for r in caplog.records]
    assert any("get-task-status" in r.getMessage() for r in caplog.records)  # logging did happen
    blob = "\n".join(seen)
    assert CANARY not in blob and real not in blob


def test_key_from_environment_and_missing_key(monkeypatch):
    monkeypatch.setenv("OUTX_API_KEY", CANARY)
    c = kit.OutX(base_url="https://api.outx.ai")
    assert c.key_fingerprint == Secret(CANARY).fingerprint(c.book.salt)
    assert CANARY not in repr(c)
    monkeypatch.delenv("OUTX_API_KEY")
    with pytest.raises(kit.AuthenticationError, match="OUTX_API_KEY"):
        kit.OutX(base_url="https://api.outx.ai")


@pytest.mark.parametrize("url", ["http://api.outx.ai", "http://10.0.0.5:8080", "http://192.168.1.2",
                                 "http://example.com/"])
def test_plain_http_off_loopback_is_refused(url):
    with pytest.raises(kit.InvalidRequest, match="plain http") as info:
        kit.OutX(base_url=url, api_key=CANARY)
    assert CANARY not in str(info.value) and "https://" in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80",
                                 "http://127.8.9.10", "https://api.outx.ai/"])
def test_loopback_http_and_https_are_allowed(url):
    assert check_base_url(url, "OutX") == url.rstrip("/")


def test_credentials_in_url_are_refused_without_echo():
    with pytest.raises(kit.InvalidRequest) as info:
        kit.OutX(base_url=f"https://user:{CANARY}@api.outx.ai", api_key="k")
    assert CANARY not in str(info.value)


def test_secret_is_not_picklable():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(CANARY))


def test_stored_notebooks_hold_no_key():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = nb.read_text()
        assert "sbx-" not in text, nb  # sandbox keys look like sbx-<team>-<hex>
        data = json.loads(text)
        for cell in data["cells"]:
            source = "".join(cell.get("source", ""))
            assert "api_key=\"" not in source and "api_key='" not in source, nb


async def test_a_key_the_service_echoes_back_is_redacted_from_errors():
    from aiohttp import web

    async def echo(request):
        return web.json_response({"error": f"Invalid API Key {request.headers.get('x-api-key')}"},
                                 status=400)

    async with fake(kit.OutX, echo) as client:
        with pytest.raises(kit.InvalidRequest) as info:
            await client.fetch_profile("williamhgates")
    assert KEY not in str(info.value) and "***" in str(info.value)


async def test_a_task_id_that_would_change_the_path_is_refused():
    from aiohttp import web

    seen: list[str] = []

    async def create(request):
        seen.append(request.path)
        return web.json_response({"success": True, "api_agent_task_id": ".."})

    async with fake(kit.OutX, create) as client:
        with pytest.raises(kit.ServiceError, match="usable") as info:
            await client.fetch_profile("williamhgates")
    assert info.value.may_have_acted  # never created again by kit
    assert seen == ["/linkedin-agent/fetch-profile"]  # no status read at a strange path


def test_messages_stay_short_and_terminal_text_stays_inert():
    from kit.__main__ import printable

    with pytest.raises(kit.InvalidRequest) as info:
        kit.profiles(["x" * 1_000_000 + "!"])
    assert len(str(info.value)) < 400
    assert printable("bad \x1b[2J\x1b]0;owned\x07 text\nnext") == (
        "bad \\x1b[2J\\x1b]0;owned\\x07 text\nnext")


def test_export_paths_expand_home_and_refuse_a_folder(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("HOME", str(tmp_path))
    df = pd.DataFrame({"a": [1]})
    assert kit.export(df, "~/out.csv") == tmp_path / "out.csv" and (tmp_path / "out.csv").exists()
    with pytest.raises(kit.InvalidRequest, match="is a folder"):
        kit.export(df, tmp_path)


def test_csv_on_the_terminal_keeps_service_text_inert(capsys):
    import pandas as pd

    from kit.__main__ import write_output

    df = pd.DataFrame({"name": ["Bill\x1b]0;PWNED\x07\x1b[2J", "=HYPERLINK(\"http://x\")"],
                       "\x1b[31mcol": [1, 2]})
    write_output(df, None)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "Bill\\x1b]0;PWNED\\x07\\x1b[2J" in out and "'=HYPERLINK" in out
