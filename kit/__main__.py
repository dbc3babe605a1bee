"""The command line: ``python -m kit demo`` and ``python -m kit sandbox``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

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

    out_dir = args.output
    started = time.perf_counter()
    with kit.Sandbox(speed=args.speed, seed=args.seed, outx_reject={"ghost-profile-404"}) as sb:
        print(f"kit demo: sandbox at {sb.url} (service time x{sb.speed:g}); fetching "
              f"{len(DEMO_INPUTS)} LinkedIn profiles through the OutX client\n", file=sys.stderr)
        df = kit.profiles(DEMO_INPUTS)
    wall = time.perf_counter() - started
    with pd.option_context("display.width", 200):
        print(df[["input", "profile_slug", "status", "error", "name", "headline",
                  "followers"]].to_string(max_colwidth=40))
    csv = kit.export(df, f"{out_dir}/profiles.csv")
    parquet = kit.export(df, f"{out_dir}/profiles.parquet")
    counts = df["status"].value_counts().to_dict()
    print(f"\n{len(df)} rows ({', '.join(f'{n} {s}' for s, n in counts.items())}) "
          f"in {wall:.1f} s; written to {csv} and {parquet}")
    return 0


def sandbox(args: argparse.Namespace) -> int:
    import kit

    sb = kit.Sandbox(speed=args.speed, seed=args.seed, host="127.0.0.1", port=args.port,
                     activate=False)
    print(f"kit sandbox on http://127.0.0.1:{args.port} (service time x{args.speed:g}); "
          "sandbox keys open nothing real:")
    for service in ("outx", "linkup", "agora"):
        name = service.upper()
        print(f"  export {name}_BASE_URL=http://127.0.0.1:{args.port} "
              f"{name}_API_KEY={sb.api_key(service)}")
    print("Ctrl-C stops it.", flush=True)
    sb.serve_forever()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kit", description="Drive asynchronous research-data APIs; tables out."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="fetch ~25 profiles from the embedded sandbox, write tables",
                       description="Start the embedded sandbox, fetch 25 LinkedIn profiles "
                                   "through the OutX client with live progress, print the table "
                                   "and write it as CSV and Parquet.")
    p.add_argument("-o", "--output", default="demo-output", help="folder for profiles.csv/.parquet")
    p.add_argument("--speed", type=float, default=20.0,
                   help="how much faster than real service time the sandbox runs (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sandbox's data")
    p.set_defaults(func=demo)
    p = sub.add_parser("sandbox", help="serve the sandbox in the foreground",
                       description="Serve the emulation of the services on a loopback port.")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
