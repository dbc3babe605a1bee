from __future__ import annotations

import pytest

import kit

FAST_RETRY = kit.RetryPolicy(attempts=4, base_delay=0.02, max_delay=0.1, seed=1)


@pytest.fixture(scope="session")
def sandbox():
    # Service time x200: the docs' 10-60 s tasks finish in 0.05-0.3 s.  Enough extensions that
    # no task waits for one, and no flagging: these tests are about other things (the pace and
    # the worker model have tests of their own).
    with kit.Sandbox(speed=200, seed=7, outx_reject={"ghost-profile-404"},
                     outx_stuck={"stuck-forever"}, outx_extensions=10_000, outx_flag=None) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _clean_faults(sandbox):
    sandbox.faults.clear()
    yield
    sandbox.faults.clear()


@pytest.fixture
async def outx(sandbox):
    async with kit.OutX(base_url=sandbox.url, api_key=sandbox.api_key("outx"), retry=FAST_RETRY) as c:
        yield c


@pytest.fixture(autouse=True, scope="session")
def _journal_in_tmp(tmp_path_factory):
    # Tests never write to the user's journal: one journal file for the session.
    import os

    path = tmp_path_factory.mktemp("journal") / "journal.sqlite3"
    old = os.environ.get("KIT_JOURNAL")
    os.environ["KIT_JOURNAL"] = str(path)
    yield path
    if old is None:
        os.environ.pop("KIT_JOURNAL", None)
    else:
        os.environ["KIT_JOURNAL"] = old
