"""API keys: kept out of reprs, messages and files, and never sent in the clear off this machine."""

from __future__ import annotations

import hashlib
import ipaddress
from urllib.parse import urlsplit

from .errors import InvalidRequest


class Secret:
    """An API key that does not show itself.

    ``repr``, ``str`` and formatting print a mask; only :meth:`reveal` gives the key, and kit
    calls it in one place: when it builds the request headers.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self, salt: bytes) -> str:
        """A short digest that tells keys apart without disclosing them: keyed by ``salt`` (the
        journal's own) and slow (PBKDF2), so that a leaked journal does not give short keys
        away to a brute force (an unsalted sha256 gave a 5-character key in 30 s)."""
        return _keyed_digest(self._value, salt)

    @property
    def legacy_fingerprint(self) -> str:
        """The unsalted digest journals before schema 3 hold (only to re-key their rows)."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:12]

    @property
    def pace_key(self) -> str:
        """A digest for this process's rate limiters: never written anywhere."""
        return hashlib.sha256(self._value.encode()).hexdigest()

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):
        raise TypeError("kit.Secret is not picklable: pass the key again in the other process")


# (sha256 of a key, salt) -> its fingerprint: computed once per process (PBKDF2 is slow on
# purpose), without keeping the key itself in the cache.
_FINGERPRINTS: dict[tuple[str, bytes], str] = {}


def _keyed_digest(value: str, salt: bytes) -> str:
    cache_key = (hashlib.sha256(value.encode()).hexdigest(), salt)
    if cache_key not in _FINGERPRINTS:
        _FINGERPRINTS[cache_key] = hashlib.pbkdf2_hmac("sha256", value.encode(), salt,
                                                       100_000).hex()[:16]
    return _FINGERPRINTS[cache_key]


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":  # resolved locally; "localhost." would go to DNS
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, service: str) -> str:
    """Return the origin without a trailing slash, or refuse a URL a key must not travel to."""
    parts = urlsplit(base_url)
    if parts.username or parts.password:
        raise InvalidRequest(
            f"{service}: base_url must not carry credentials; pass the key as api_key=.",
            service=service,
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            f"{service}: base_url {base_url!r} is not an http(s) URL; "
            "give the service's origin, e.g. 'https://api.example.com'.",
            service=service,
        )
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url or not all(
            " " < c < "\x7f" for c in base_url):
        raise InvalidRequest(
            f"{service}: base_url must be the service's origin, without a query, a fragment, "
            f"spaces or control characters (got {base_url[:80]!r}); e.g. "
            "'https://api.example.com'.",
            service=service,
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InvalidRequest(
            f"{service}: refusing to send an API key over plain http to {parts.hostname!r}; "
            "use an https:// base_url (plain http is allowed only to a loopback address "
            "such as the kit sandbox).",
            service=service,
        )
    return base_url.rstrip("/")
