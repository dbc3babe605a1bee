"""The command line (``kit`` or ``python -m kit``): batch runs that mirror the notebook helpers,
plus ``resume``, ``journal``, ``sandbox`` and ``demo``.  ``kit COMMAND --help`` for each."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEMO_INPUTS = [
    "williamhgates",
    "https://www.linkedin.com/in/satyanadella/",
    "ana-almeida-data",
    "https://linkedin.com/in/ben-okafor-7a1b2c",
    "chloe-dubois",
    "www.linkedin.com/in/david-chen-ml?trk=public_profile",
    "elena-rossi-phd",
    "farid-haddad",
    "grace-kowalski",
    "hiro-tanaka-42",
    "https://www.linkedin.com/in/ines-garcia/",
    "jonas-becker",
    "kavya-patel",
    "liam-quinn-econ",
    "maya-singh",
    "noah-jansen",
    "ghost-profile-404",  # the sandbox refuses this one, as OutX refuses a bad slug
    "olga-varga",
    "priya-nakamura",
    "quentin-lopez",
    "rosa-muller",
    "samir-ahmed",
    "tara-eriksen",
    "umar-yilmaz",
    "williamhgates",  # a duplicate: fetched once, both rows filled
]


def demo(args: argparse.Namespace) -> int:
    import pandas as pd

    import kit

    out_dir = Path(args.output).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidRequest(f"demo -o: {str(out_dir)!r} is a file; give a folder for the tables.")
    out_dir.mkdir(parents=True, exist_ok=True)  # the demo's own folder (-o names a folder)
    started = time.perf_counter()
    with kit.Sandbox(speed=args.speed, seed=args.seed, outx_reject={"ghost-profile-404"}) as sb:
        print(f"kit demo: sandbox at {sb.url} (service time x{sb.speed:g}); fetching "
              f"{len(DEMO_INPUTS)} LinkedIn profiles through the OutX client, at OutX's pace "
              "(at most 5 LinkedIn actions a minute and 50 an hour, spread out)\n",
              file=sys.stderr)
        df = kit.profiles(DEMO_INPUTS)
        outx = sb.stats()["outx"]
    wall = time.perf_counter() - started
    with pd.option_context("display.width", 200):
        print(df[["input", "profile_slug", "status", "error", "name", "headline",
                  "followers"]].to_string(max_colwidth=40))
    csv = kit.export(df, f"{out_dir}/profiles.csv")
    parquet = kit.export(df, f"{out_dir}/profiles.parquet")
    counts = df["status"].value_counts().to_dict()
    print(f"\n{len(df)} rows ({', '.join(f'{n} {s}' for s, n in counts.items())}) "
          f"in {wall:.1f} s; written to {csv} and {parquet}")
    flagged = "flagged" if outx["flagged_teams"] else "not flagged"
    print(f"LinkedIn actions: {outx['creates']} sent, {outx['executions']} worked by the team's "
          f"extension, at most {outx['max_actions_per_minute']} in any minute and "
          f"{outx['max_actions_per_hour']} in any hour of service time; the "
          f"sandbox's team was {flagged} (at x{args.speed:g}, {wall:.0f} s here are "
          f"{wall * args.speed / 60:.0f} minutes of pace)")
    return 0


def sandbox(args: argparse.Namespace) -> int:
    import kit

    sb = kit.Sandbox(speed=args.speed, seed=args.seed, host="127.0.0.1", port=args.port,
                     activate=False, outx_extensions=args.outx_extensions,
                     outx_flag=None if args.no_flagging else (10, 120, 21600.0))
    names = [f"{service.upper()}_{part}" for service in ("outx", "linkup", "agora")
             for part in ("BASE_URL", "API_KEY")] + ["KIT_TIME_SCALE", "KIT_JOURNAL"]

    def announce() -> None:  # once the port is bound: a port in use announces nothing
        print(f"kit sandbox on http://127.0.0.1:{args.port} (service time x{args.speed:g}); "
              "sandbox keys open nothing real:")
        for service in ("outx", "linkup", "agora"):
            name = service.upper()
            print(f"  export {name}_BASE_URL=http://127.0.0.1:{args.port} "
                  f"{name}_API_KEY={sb.api_key(service)}")
        # One journal for every command pointed at this sandbox (kept out of your real one),
        # so that `kit jobs`, `kit journal` and `kit resume` see what the batches did.
        print(f"  export KIT_TIME_SCALE={args.speed:g} KIT_JOURNAL={sb.journal}   # kit's "
              "intervals and pace run as fast; this sandbox's journal\n"
              "Ctrl-C stops it (its tasks and journal go with it).", flush=True)

    sb.serve_forever(announce)
    # The exports outlive the sandbox: a scaled pace against a real service would be a burst.
    print(f"kit sandbox stopped; before using the real services: unset {' '.join(names)}",
          flush=True)
    return 0


# -- batch runs --------------------------------------------------------------------------------
from .core.errors import InvalidRequest  # noqa: E402  (light: no pandas, no aiohttp)
from .core.wording import plural  # noqa: E402

# What the first line of a one-column CSV says when it is a header, not an input.
HEADER_NAMES = {"slug", "slugs", "profile", "profiles", "profile_slug", "profile_url", "url",
                "urls", "link", "links", "linkedin", "linkedin_url", "profile_urn", "urn",
                "company", "company_slug", "companies", "query", "queries", "question",
                "questions", "q", "contract", "contracts", "contract_address", "address", "token",
                "tokens", "input", "inputs", "name"}


def read_inputs(source: str | None, column: str | None) -> list[str]:
    """One input per line (blank lines and # comments skipped), or a CSV column."""
    if source in (None, "-"):
        if sys.stdin is None or sys.stdin.isatty():
            raise InvalidRequest("no inputs: give a file, or pipe them on stdin (one per line)")
        text, name = sys.stdin.read(), "stdin"
    else:
        path = Path(source)
        if not path.exists():
            raise InvalidRequest(f"{source}: no such file")
        text, name = path.read_text(encoding="utf-8-sig"), path.name
    if column is not None or name.lower().endswith(".csv"):
        import io

        import pandas as pd

        frame = pd.read_csv(io.StringIO(text), dtype=str)
        if column is None:
            column = frame.columns[0]
            if len(frame.columns) == 1 and str(column).strip().lower() not in HEADER_NAMES:
                # One column whose first line is no header name: that line is an input.
                print(f"kit: {name}: no header line, so its first line is an input "
                      "(--column NAME reads a named column)", file=sys.stderr)
                frame = pd.read_csv(io.StringIO(text), dtype=str, header=None, names=["input"])
                column = "input"
            elif len(frame.columns) > 1:  # a guess could spend actions on names, not slugs
                raise InvalidRequest(f"{name} has {len(frame.columns)} columns "
                                     f"({', '.join(map(str, frame.columns))}): say which holds "
                                     "the inputs with --column NAME; nothing was sent.")
        if column not in frame.columns:
            raise InvalidRequest(f"{name} has no column {column!r}; it has "
                                 f"{', '.join(frame.columns)}")
        return [v for v in frame[column].dropna().str.strip() if v]
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def write_output(df: Any, output: str | None) -> None:
    import kit

    if output:
        path = kit.export(df, output)
        print(f"kit: wrote {plural(len(df), 'row')} to {path}", file=sys.stderr)
    else:
        import pandas as pd

        from .export import json_cells, neutralized

        # To a terminal: service text must not move the cursor or retitle the window.
        shown = neutralized(json_cells(df))
        shown.columns = [printable(str(c)) for c in shown.columns]
        for column in shown.columns:
            dtype = shown[column].dtype
            if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
                shown[column] = shown[column].map(
                    lambda v: printable(v) if isinstance(v, str) else v)
        shown.to_csv(sys.stdout, index=False)


def summary(df: Any) -> str:
    if "status" not in df.columns or df.empty:
        return plural(len(df), "row")
    counts = df["status"].value_counts()
    return f"{plural(len(df), 'row')}: " + ", ".join(f"{n} {s}" for s, n in counts.items())


def check_output(args: argparse.Namespace) -> None:
    """The output file's format, library and folder, checked before any request: never lose
    the work to a last-step error."""
    if getattr(args, "output", None):
        from .export import check_target

        check_target(args.output)


def existing_journal(args: argparse.Namespace) -> str | None:
    """The journal to read: ``--path``, which must exist (a typo must not make a new one), or
    the default one; ``None`` when the default does not exist yet (reading makes no file)."""
    if args.path is not None:
        if not Path(args.path).expanduser().is_file():
            raise InvalidRequest(f"{args.path}: no journal there; without --path kit reads its "
                                 "own (KIT_JOURNAL, or the per-user one).")
        return str(args.path)
    from .core.journal import default_path

    path = default_path()
    if not path.is_file():
        where = "KIT_JOURNAL" if os.environ.get("KIT_JOURNAL") else "the per-user journal"
        print(f"kit: no journal at {path} ({where}) yet: nothing has run with it", file=sys.stderr)
        return None
    return str(path)


def batch(args: argparse.Namespace) -> int:
    import kit

    check_output(args)
    inputs = read_inputs(args.inputs, args.column)
    options: dict[str, Any] = {"timeout": args.timeout, "fresh": args.fresh,
                               "errors": args.errors, "base_url": args.base_url}
    options = {k: v for k, v in options.items() if v is not None}
    helper = getattr(kit, args.helper)
    if args.command == "search":
        chosen = {"depth": args.depth, "output_type": args.output_type}
        options.update({k: v for k, v in chosen.items() if v is not None})
    if args.command == "deep-dives":
        options.update(confirm=args.confirm)
    if getattr(args, "max_cost", None) is not None:
        options["max_cost"] = args.max_cost
    if args.command in LINKEDIN_COMMANDS:
        options.update(pace=linkedin_pace(args))
        if args.patience is not None:
            options["patience"] = args.patience
    if args.speed is not None and not args.sandbox:  # a real service's clock cannot be sped up
        raise InvalidRequest("--speed goes with --sandbox (the embedded sandbox's clock); a real "
                             "service runs at its own speed.")
    sandbox = (kit.Sandbox(speed=args.speed or 30.0).start() if args.sandbox
               else contextlib.nullcontext())
    with sandbox:
        try:
            df = helper(inputs, progress=not args.quiet and None, **options)
        except kit.PaymentRequired as exc:
            frame = getattr(exc, "frame", None)
            if frame is not None:
                write_output(frame, args.output)
            print(f"kit: error: {printable(str(exc))}", file=sys.stderr)
            return 3
    write_output(df, args.output)
    print(f"kit: {summary(df)}", file=sys.stderr)
    if worker_away(df):
        return 4
    if args.command == "deep-dives" and not args.confirm and (df["status"] == "pending").any():
        waiting = int((df["status"] == "pending").sum())
        print(f"kit: {plural(waiting, 'deep dive')} {'awaits' if waiting == 1 else 'await'} "
              "confirmation: run the same command "
              "with --confirm to start them (one Agora credit each; the tasks are reused, not "
              "created again)", file=sys.stderr)
    return 0


def linkedin_pace(args: argparse.Namespace) -> Any:
    """The pace the LinkedIn options ask for (kit's default where one is left out)."""
    import kit

    chosen = {"per_hour": args.per_hour, "per_minute": args.per_minute,
              "pending": args.pending, "hours": args.hours, "days": args.days, "tz": args.tz}
    try:
        return kit.Pace(**{k: v for k, v in chosen.items() if v is not None})
    except ValueError as exc:  # in the command line's words: its flags, not Python's fields
        message = str(exc)
        for name in chosen:
            message = message.replace(f"Pace({name}=...)", "--" + name.replace("_", "-"))
        raise InvalidRequest(message + ".") from None


def resume(args: argparse.Namespace) -> int:
    import kit

    check_output(args)
    services = args.service or ["outx", "linkup", "agora"]
    options = {} if args.patience is None else {"patience": args.patience}
    df = kit.resume(services=services, timeout=args.timeout, progress=not args.quiet and None,
                    **options)
    if df.empty:
        print("kit: nothing to resume (no unfinished job or task for the keys at hand); "
              "`kit jobs` lists the jobs", file=sys.stderr)
        return 0
    write_output(df, args.output)
    print(f"kit: resumed {summary(df)}", file=sys.stderr)
    return 4 if worker_away(df) else 0


def worker_away(df: Any) -> bool:
    """Did the batch stop because the team's OutX extension picked nothing up?  Says so."""
    from .background import WORKER_AWAY

    reason = df.attrs.get(WORKER_AWAY)
    if reason:
        print(f"kit: stopped, {printable(reason)}; `kit resume` carries on (exit 4)",
              file=sys.stderr)
    return bool(reason)


def positive_seconds(text: str) -> float:
    """An argparse type: a positive number of (service) seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def jobs(args: argparse.Namespace) -> int:
    import kit

    check_output(args)
    path = existing_journal(args)
    if path is None:
        return 0
    df = kit.jobs(path)
    if args.output:
        write_output(df, args.output)
    elif not len(df):
        print("the journal has no jobs")
    else:
        columns = ["job_id", "label", "state", "inputs", "queued", "created", "completed",
                   "failed", "unknown", "created_at"]
        shown = df[columns].assign(created_at=df["created_at"].dt.strftime("%Y-%m-%d %H:%M"))
        print(shown.to_string(index=False))
    return 0


def journal(args: argparse.Namespace) -> int:
    import kit

    purge: Any = args.purge
    if purge is not None and purge.removesuffix("d").isdigit():
        purge = int(purge.removesuffix("d"))  # "30d" or "30": what ended over 30 days ago
    check_output(args)
    path = existing_journal(args)
    if path is None:
        return 0
    df = kit.journal(path, purge=purge)
    if purge is not None:
        print(f"kit: purged; {len(df)} tasks left in the journal", file=sys.stderr)
    if args.output:
        write_output(df, args.output)
    else:
        columns = ["service", "kind", "task_id", "status", "created_at", "error"]
        print(df[columns].to_string(index=False) if len(df) else "the journal is empty")
    return 0


# Each create of these is a LinkedIn action: they take the pace's options.
LINKEDIN_COMMANDS = {"profiles", "posts", "companies", "company-posts"}
BATCHES = {
    "profiles": ("profiles", "LinkedIn profiles through OutX (slugs or profile URLs)"),
    "posts": ("posts", "recent LinkedIn posts through OutX (profile URNs, slugs or profile URLs)"),
    "companies": ("companies", "LinkedIn company pages through OutX (slugs or company URLs)"),
    "company-posts": ("company_posts", "recent posts of LinkedIn company pages through OutX"),
    "search": ("search", "Linkup searches (one question per line)"),
    "fetch-pages": ("fetch_pages", "Linkup page fetches (one URL per line)"),
    "research": ("research", "Linkup research tasks (one question per line; minutes each)"),
    "deep-dives": ("deep_dives", "Agora deep dives (one token contract address per line)"),
    "onchain": ("onchain_data", "Agora on-chain data (one token contract address per line; "
                "one credit each)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kit",
        description="Drive asynchronous research-data APIs (OutX, Linkup, Agora): inputs in, "
                    "one table row per input out.  Keys come from OUTX_API_KEY, LINKUP_API_KEY "
                    "and AGORA_API_KEY; --sandbox tries it all without a key.",
        epilog="Exit status: 0 done (failed rows are in the output), 2 bad input or a "
               "whole-call error (key, permission, base URL), 3 out of credits (what was "
               "created is still written), 4 stopped because the team's OutX Chrome extension "
               "picked nothing up for --patience (rows written; `kit resume` carries on).",
    )
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("kit-research")
    except PackageNotFoundError:  # run from a checkout without installing
        installed = "(not installed)"
    parser.add_argument("--version", action="version", version=f"kit-research {installed}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_batch_commands(sub)
    _add_job_commands(sub)
    _add_sandbox_commands(sub)
    return parser


def _add_batch_commands(sub: Any) -> None:
    """One command per helper: inputs from a file or stdin, the table to -o."""
    for command, (helper, text) in BATCHES.items():
        p = sub.add_parser(command, help=text, description=f"{text}. Reads inputs from FILE "
                           "(one per line, or a CSV column) or stdin; writes the table to -o "
                           "(.csv, .parquet, .xlsx, .json, .jsonl) or CSV on stdout.  The work "
                           "is a job in kit's journal (KIT_JOURNAL): Ctrl-C or SIGTERM stops it "
                           "(exit 130/143) and `kit resume` carries it on, sending nothing twice.")
        p.add_argument("inputs", nargs="?", metavar="FILE", help="input file; - or none: stdin")
        p.add_argument("-o", "--output", help="output file; the format follows the suffix")
        p.add_argument("--column", help="read this column of a CSV file")
        p.add_argument("--timeout", type=float,
                       help="stop waiting for a task this many seconds after it was created "
                            "(default: the service's; kit resume reads it again later)")
        p.add_argument("--fresh", action="store_true",
                       help="create new tasks even where the journal has them")
        p.add_argument("--errors", choices=["raise", "rows"], default="raise",
                       help="bad inputs: stop before sending (raise) or keep as failed rows")
        p.add_argument("--base-url", help="the service's origin (default: its public API)")
        p.add_argument("--sandbox", action="store_true",
                       help="run against the embedded sandbox (no key needed)")
        p.add_argument("--speed", type=float,
                       help="with --sandbox: service time runs SPEED times faster (default 30)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
        if command == "search":
            from .services.linkup import CHOICES, SENT_DEFAULTS

            default = SENT_DEFAULTS["search"]
            p.add_argument("--depth", choices=CHOICES[("search", "depth")],
                           help=f"default {default['depth']}")
            p.add_argument("--output-type", choices=["sourcedAnswer", "searchResults"],
                           help=f"default {default['outputType']}")
        if command == "deep-dives":
            p.add_argument("--confirm", action="store_true",
                           help="confirm each task: SPENDS ONE AGORA CREDIT PER TASK")
        if command in LINKEDIN_COMMANDS:
            p.add_argument("--per-hour", type=float, metavar="N",
                           help="LinkedIn actions per hour (default 50, OutX's guidance; more "
                                "risks your team's LinkedIn account)")
            p.add_argument("--per-minute", type=float, metavar="N",
                           help="LinkedIn actions per minute (default 5)")
            p.add_argument("--pending", type=int, metavar="N",
                           help="send only while fewer of your team's tasks than this wait for "
                                "its Chrome extension to pick them up (default 1: no backlog "
                                "that the extension would work in a burst)")
            p.add_argument("--hours", metavar="HH:MM-HH:MM",
                           help="send only between these hours, e.g. 08:00-19:00")
            p.add_argument("--days", metavar="DAYS", help="send only on these days, e.g. Mon-Fri")
            p.add_argument("--tz", metavar="ZONE",
                           help="the time zone of --hours and --days, e.g. Europe/Paris "
                                "(default: this machine's)")
            p.add_argument("--patience", type=positive_seconds, metavar="SECONDS",
                           help="stop (resumably: exit 4, `kit resume` carries on) when the "
                                "extension has picked nothing up for this long (default 900)")
        else:
            p.add_argument("--max-cost", type=float, metavar="AMOUNT",
                           help="refuse the batch, before sending anything, if it could cost "
                                "more (USD for Linkup, credits for Agora; published prices)")
        p.set_defaults(parser=p, func=batch, helper=helper)



# An embedded sandbox (--sandbox, the demo) ends with its command, its tasks and journal too.
EMBEDDED_SANDBOX = ("the embedded sandbox lives only as long as its command, and its tasks and "
                    "journal with it. For work to stop, list and resume across commands, run "
                    "`kit sandbox` in another terminal and export what it prints (its journal "
                    "too): then every command sees that sandbox's journal.")
JOURNAL_COMMANDS = ("resume", "jobs", "journal")


def _add_job_commands(sub: Any) -> None:
    """resume, jobs, journal: what the journal holds."""
    p = sub.add_parser("resume", help="carry on the journal's unfinished jobs",
                       description="Carry on every unfinished job (for the keys in the "
                                   "environment): send the inputs never sent, at the pace, and "
                                   "poll the rest to the end. Nothing is sent twice: a create "
                                   "that may have reached the service is looked up or reported "
                                   "as 'may exist', never repeated.")
    p.add_argument("-o", "--output", help="output file; the format follows the suffix")
    p.add_argument("--service", action="append", choices=["outx", "linkup", "agora"],
                   help="only this service (repeatable)")
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    p.add_argument("--patience", type=positive_seconds, metavar="SECONDS",
                   help="stop (resumably) when the team's OutX extension has picked nothing up "
                        "for this long (default: what the job was started with, else 900)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(parser=p, func=resume)

    p = sub.add_parser("jobs", help="list the journal's jobs and their progress",
                       description="Every job kit ran or runs (a helper call or a command), its "
                                   "state and how many inputs are queued, created, failed.")
    p.add_argument("-o", "--output", help="export to this file instead of printing")
    p.add_argument("--path", help="journal file (default: KIT_JOURNAL or the per-user one)")
    p.set_defaults(parser=p, func=jobs)

    p = sub.add_parser("journal", help="show or export the task journal",
                       description="The journal of every task kit created (key fingerprints, "
                                   "never keys).")
    p.add_argument("-o", "--output", help="export to this file instead of printing")
    p.add_argument("--path", help="journal file (default: KIT_JOURNAL or the per-user one)")
    p.add_argument("--purge", metavar="WHAT",
                   help="forget: 'all', a job id, or an age such as 30d (finished tasks and "
                        "ended jobs older than that); what is forgotten may be sent again")
    p.set_defaults(parser=p, func=journal)
    for command in JOURNAL_COMMANDS:  # a flag a newcomer tries: it says where to look
        sub.choices[command].add_argument(
            "--sandbox", action="store_true",
            help="explains where a sandbox's journal is (see `kit sandbox`)")



def _add_sandbox_commands(sub: Any) -> None:
    """demo and sandbox: the embedded emulation of the services."""
    p = sub.add_parser("demo", help="fetch ~25 profiles from the embedded sandbox, write tables",
                       description="Start the embedded sandbox, fetch 25 LinkedIn profiles "
                                   "through the OutX client with live progress, print the table "
                                   "and write it as CSV and Parquet.")
    p.add_argument("-o", "--output", default="demo-output", help="folder for profiles.csv/.parquet")
    p.add_argument("--speed", type=float, default=360.0,
                   help="how much faster than real service time the sandbox runs (default 360: "
                        "an hour of OutX's pace in 10 s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sandbox's data")
    p.set_defaults(parser=p, func=demo, sandbox=True)  # its sandbox ends with it

    p = sub.add_parser("sandbox", help="serve the sandbox in the foreground",
                       description="Serve the emulation of OutX, Linkup and Agora on a loopback "
                                   "port and print the environment to point kit at it.")
    p.add_argument("--port", type=int, default=8765, help="loopback port (default 8765)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="service time runs this many times faster (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sandbox's data and timings")
    p.add_argument("--outx-extensions", type=int, default=4, metavar="N",
                   help="OutX Chrome extensions per team, each working one task at a time")
    p.add_argument("--no-flagging", action="store_true",
                   help="never flag an OutX team that bursts (the model of OutX's warning)")
    p.set_defaults(parser=p, func=sandbox)


def printable(text: str) -> str:
    """Service text made safe for a terminal: control characters (escape sequences that could
    move the cursor or rewrite the screen) become visible escapes; tabs and line breaks stay."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def interrupted(args: argparse.Namespace) -> str:
    """What an interrupted command left, and how to carry on (the progress line said how many
    tasks the journal holds)."""
    output = getattr(args, "output", None)
    unwritten = f"nothing was written{f' to {output}' if output else ''}"
    if getattr(args, "sandbox", False):  # an embedded sandbox: --sandbox, or the demo's own
        return f"stopped; {unwritten}; nothing to resume: {EMBEDDED_SANDBOX}"
    again = "kit resume" + (f" -o {output}" if output else "")
    return f"stopped; {unwritten}. `{again}` carries on and writes the table; `kit jobs` lists jobs."


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that a job stops as cleanly as on Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # the subcommand's usage, not the top level's
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extras)}")
    from .core.errors import KitError

    if args.command in JOURNAL_COMMANDS and args.sandbox:
        print(f"kit: error: {args.command} --sandbox: {EMBEDDED_SANDBOX}", file=sys.stderr)
        return 2

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.func(args)
    except KitError as exc:
        print(f"kit: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"kit: {interrupted(args)}", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
