"""kit: create tasks at asynchronous research-data APIs, poll them, get pandas DataFrames.

    import kit
    df = kit.profiles(["williamhgates", "https://www.linkedin.com/in/satyanadella/"])

    async with kit.OutX() as client:
        task = await client.fetch_profile("williamhgates")
        [task] = await client.wait([task])
"""

from . import frames, progress
from .background import Job
from .core.errors import (
    AuthenticationError,
    InvalidRequest,
    JournalError,
    KitError,
    NotFound,
    PaymentRequired,
    PermissionDenied,
    RateLimited,
    ServiceError,
    ServiceUnreachable,
    TransportError,
    WholeCallError,
    WorkerAway,
)
from .core.journal import Journal
from .core.pace import Pace
from .core.policy import PollSchedule, Rate, RetryPolicy
from .core.task import Status, Task
from .export import export
from .helpers import (
    companies,
    company_posts,
    deep_dives,
    fetch_pages,
    job,
    jobs,
    journal,
    onchain_data,
    posts,
    profiles,
    research,
    resume,
    search,
    search_profiles,
    to_frame,
)
from .sandbox import Sandbox
from .services.agora import Agora
from .services.linkup import Linkup
from .services.outx import OutX
from .sync import run

__version__ = "0.1.0"

__all__ = [
    "Agora",
    "AuthenticationError",
    "InvalidRequest",
    "Job",
    "Journal",
    "JournalError",
    "KitError",
    "Linkup",
    "NotFound",
    "OutX",
    "Pace",
    "PaymentRequired",
    "PermissionDenied",
    "PollSchedule",
    "Rate",
    "RateLimited",
    "RetryPolicy",
    "Sandbox",
    "ServiceError",
    "ServiceUnreachable",
    "Status",
    "Task",
    "TransportError",
    "WholeCallError",
    "WorkerAway",
    "companies",
    "company_posts",
    "deep_dives",
    "export",
    "fetch_pages",
    "frames",
    "job",
    "jobs",
    "journal",
    "onchain_data",
    "posts",
    "profiles",
    "progress",
    "research",
    "resume",
    "run",
    "search",
    "search_profiles",
    "to_frame",
]
