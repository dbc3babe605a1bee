"""Where a client's key, origin and clock come from: the argument, a running sandbox, the environment."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import AuthenticationError, InvalidRequest, is_positive
from .secrets import Secret, check_base_url, is_loopback_host


@dataclass(frozen=True)
class Target:
    """A place clients talk to by default: a running kit.Sandbox registers one."""

    url: str
    keys: dict[str, Secret] = field(repr=False)
    speed: float = 1.0
    journal: str | None = None  # the sandbox's own journal: sandbox tasks stay out of yours


_targets: list[Target] = []
_lock = threading.Lock()


def push_target(target: Target) -> None:
    with _lock:
        _targets.append(target)


def remove_target(target: Target) -> None:
    with _lock:
        if target in _targets:
            _targets.remove(target)


def active_target() -> Target | None:
    with _lock:
        return _targets[-1] if _targets else None


@dataclass(frozen=True)
class Settings:
    key: Secret = field(repr=False)
    base_url: str
    time_scale: float
    journal: str | None = None


def _env_scale() -> float:
    """``KIT_TIME_SCALE`` as a number (1 when unset)."""
    text = os.environ.get("KIT_TIME_SCALE") or "1"
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(f"KIT_TIME_SCALE={text!r:.40} is not a number: set it to the "
                             "sandbox's speed (e.g. 60) or unset it.") from None


def resolve(
    service: str,
    *,
    label: str,
    api_key: str | Secret | None,
    base_url: str | None,
    default_origin: str,
    time_scale: float | None,
) -> Settings:
    """Settle key, origin and clock scale, in this order: argument, running sandbox, environment.

    A running :class:`kit.Sandbox` comes before the environment because starting one is an
    explicit act in the same program; an explicit argument always wins.
    """
    env = service.upper()
    target = active_target()
    if base_url is None:
        base_url = target.url if target else os.environ.get(f"{env}_BASE_URL") or default_origin
    if not isinstance(base_url, str):
        raise InvalidRequest(f"{label}: base_url must be a URL such as 'https://api.example.com'"
                             f", not {base_url!r:.40}.", service=service)
    url = check_base_url(base_url, label)  # first: where the key would go
    on_target = target is not None and url == target.url.rstrip("/")
    if api_key is None and on_target and target is not None:
        api_key = target.keys.get(service)
    if api_key is None:
        api_key = os.environ.get(f"{env}_API_KEY")
    if isinstance(api_key, str):
        api_key = api_key.strip()
    if not api_key:
        raise AuthenticationError(
            f"{label}: no API key. Pass api_key=... or set the environment variable "
            f"{env}_API_KEY (in Colab: add it in the Secrets panel and read it with "
            "google.colab.userdata). To try kit without a key, use the sandbox: kit.Sandbox() in "
            "Python, --sandbox on the command line.",
            service=service,
        )
    if not isinstance(api_key, (str, Secret)):
        raise AuthenticationError(
            f"{label}: api_key must be a string, not {type(api_key).__name__}.", service=service
        )
    key = api_key if isinstance(api_key, Secret) else Secret(api_key)
    # A header carries visible ASCII only: a line break, NUL, DEL or a non-ASCII character is
    # a copy-paste slip (and would be refused at the first request, in aiohttp's words).
    if not all(" " < c < "\x7f" for c in key.reveal()):
        raise AuthenticationError(
            f"{label}: the API key holds a space, line break or other character no key has (a "
            "copy-paste slip?); paste the key alone.", service=service)
    from_env = time_scale is None and not on_target and bool(os.environ.get("KIT_TIME_SCALE"))
    if time_scale is None:
        # KIT_TIME_SCALE: a sandbox served by another process (`kit sandbox --speed`) says it.
        time_scale = target.speed if on_target and target else _env_scale()
    if not is_positive(time_scale):
        name = "KIT_TIME_SCALE" if from_env else "time_scale"
        raise InvalidRequest(f"{label}: {name} must be a positive number (how many times "
                             f"faster a sandbox's clock runs; 1 for a real service), not "
                             f"{time_scale!r:.40}.", service=service)
    host = urlsplit(url).hostname
    if time_scale != 1 and not is_loopback_host(host):
        # Scaled time shortens every interval, OutX's pace included: against a real service
        # that is a burst of public actions (a leftover export is the usual cause).
        raise InvalidRequest(
            f"{label}: time_scale={time_scale:g}{' (KIT_TIME_SCALE)' if from_env else ''} runs "
            f"kit's intervals and pace {time_scale:g} times faster: that is for a sandbox on this "
            f"machine, not {host}. Unset KIT_TIME_SCALE (a leftover of `kit sandbox`?) or pass "
            "time_scale=1.", service=service)
    journal = target.journal if on_target and target else None
    return Settings(key=key, base_url=url, time_scale=float(time_scale), journal=journal)
