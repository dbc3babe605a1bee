"""The errors kit raises.

Catch ``KitError`` for everything; catch a subclass for one situation::

    KitError
     ├── InvalidRequest        400, or bad input caught before anything is sent
     ├── WholeCallError        about the whole call, not one input: kit stops and raises it
     │    ├── AuthenticationError   401: no key, or a key the service refuses
     │    ├── PermissionDenied      403 (OutX: no team member runs the Chrome extension)
     │    ├── PaymentRequired       402, or credits exhausted
     │    └── ServiceUnreachable    could not connect at all (also a TransportError)
     ├── NotFound              404: unknown task, or a task of another team
     ├── JournalError          the journal cannot be written: nothing more is sent
     ├── WorkerAway            nothing picked up for ``patience`` (OutX: the Chrome extension)
     ├── RateLimited           429 still answered after kit's retries
     ├── ServiceError          5xx or an unreadable answer, after kit's retries
     │    └── AnswerTooLarge        an answer over the endpoint's size cap
     └── TransportError        the network: connection refused, reset, timed out

Every message says what happened and what to do next, keeps the service's own words, and never
holds an API key (kit builds messages only from the status, the URL path and the response body).
"""

from __future__ import annotations

import math

# How to carry on unfinished work, for a notebook and for the command line alike.
RESUME_HINT = "kit.resume() or `kit resume`"


class KitError(Exception):
    """Base class of every error kit raises.

    ``status`` is the HTTP status when there was one, ``code`` the service's own error code
    (Linkup's ``TASKS_QUEUE_LIMIT_EXCEEDED`` for instance) and ``service`` the service's name.
    ``may_have_acted`` is true when a create failed in a way that leaves open whether the
    service acted (the answer was lost, unreadable or a 5xx): kit never repeats such a create.
    When a batch stops on an error, ``tasks`` holds what it created before (in input order,
    ``None`` where nothing was) and ``frame`` the table so far, when a helper built one.
    """

    tasks: list | None = None
    frame: object | None = None
    body: object | None = None  # the service's answer, read, when it had one (key redacted)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        service: str | None = None,
        may_have_acted: bool = False,
    ) -> None:
        message = _bounded(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.service = service
        self.may_have_acted = may_have_acted

    def __str__(self) -> str:  # the message as it stands (advice may be added on the way up)
        return self.message

    def __reduce__(self):  # keep keyword fields when pickled (multiprocessing, joblib)
        return (_rebuild, (type(self), self.message, self.status, self.code, self.service,
                           self.may_have_acted))


MESSAGE_HEAD, MESSAGE_TAIL = 1200, 400  # a message's start says what, its end what to do


def _bounded(message: str) -> str:
    """A message that quoted a huge value (a 1 MB input, a service's endless text) is cut in
    its middle, so that a batch of such errors does not take gigabytes."""
    kept = MESSAGE_HEAD + MESSAGE_TAIL
    if len(message) <= kept + 400:
        return message
    return (f"{message[:MESSAGE_HEAD]} … [{len(message) - kept:,} characters cut] … "
            f"{message[-MESSAGE_TAIL:]}")


def _rebuild(cls, message, status, code, service, may_have_acted=False):
    return cls(message, status=status, code=code, service=service, may_have_acted=may_have_acted)


class InvalidRequest(KitError, ValueError):
    """The request is wrong: a 400 from the service, or bad input kit caught before sending
    (a ``ValueError`` too, as Python's own bad-argument errors are)."""


class WholeCallError(KitError):
    """An error about the whole call (key, permission, money): waiting or sending on would only
    repeat it.  A batch raises it with what was done so far (``tasks``, ``frame``)."""


class JournalError(KitError):
    """The journal cannot be read or written (a full disk, a file deleted or damaged under kit,
    a lock held elsewhere for minutes): kit stops sending, as nothing may go out unjournaled."""


class AuthenticationError(WholeCallError):
    """No API key, or the service refused it (401)."""


class PermissionDenied(WholeCallError):
    """The service understood the key but refuses the action (403)."""


class NotFound(KitError):
    """The task or resource does not exist for this key (404)."""


class PaymentRequired(WholeCallError):
    """The account cannot pay for this (402, or credits exhausted)."""


class WorkerAway(KitError):
    """The service's worker (OutX: your team's Chrome extension) has picked nothing up for
    longer than ``patience``: a direct create is not sent onto a backlog.  Nothing failed: send
    it again once the worker is back."""


class RateLimited(KitError):
    """The service still answered 429 after kit waited and retried."""


class ServiceError(KitError):
    """The service failed (5xx) or answered something kit cannot read, after retries."""


class AnswerTooLarge(ServiceError):
    """An answer over the endpoint's size cap: reading it again would get the same, so the task
    it was about is failed, not read again."""


class TransportError(KitError):
    """The network failed: connection refused or reset, or no answer in time."""


class ServiceUnreachable(TransportError, WholeCallError):
    """kit could not even connect (no network, DNS, refused), after retries: nothing was sent,
    and the next request would fail the same way, so a batch stops (resumably) at once.  (Once
    a batch has reached the service, a status read that cannot connect is retried later.)"""


def error_for_status(status: int) -> type[KitError]:
    """The error class for an HTTP status that is not a success."""
    if status == 400 or status == 422:
        return InvalidRequest
    if status == 401:
        return AuthenticationError
    if status == 402:
        return PaymentRequired
    if status == 403:
        return PermissionDenied
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServiceError
    return KitError


def did_you_mean(name: str, known: list[str] | set[str]) -> str:
    """`` Did you mean 'x'?`` for a mistyped name (or nothing): one wording for every refusal."""
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def is_positive(value: object, *, infinite: bool = False) -> bool:
    """A real positive number: not a bool, not a string, not NaN (and finite unless
    ``infinite``: ``math.inf`` meaning no limit)."""
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0
            and (infinite or math.isfinite(value)))


def check_flag(value: object, name: str, where: str) -> bool:
    """An option that spends or repeats (``confirm``, ``fresh``): ``True`` or ``False`` and
    nothing else ('no' and 'False' are true in Python: they would spend)."""
    if not isinstance(value, bool):
        raise InvalidRequest(f"{where}: {name} must be True or False, not {value!r:.40}; "
                             "nothing was sent.")
    return value


def check_timeout(value: object, where: str) -> None:
    """A wait's ``timeout``: a positive number of seconds, ``None`` (the default) or
    ``math.inf`` (no limit); anything else is refused before anything is sent."""
    if value is None:
        return
    if not is_positive(value, infinite=True):
        raise InvalidRequest(f"{where}: timeout must be a positive number of seconds (or None "
                             f"for the default, math.inf for no limit), not {value!r:.40}.")
