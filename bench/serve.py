"""A sandbox process for one contender: ``python -m bench.serve PORT SPEED OPTIONS_JSON``.

Like ``python -m kit sandbox`` but with every option of ``kit.Sandbox`` (the Linkup queue limit,
the OutX task durations, ``durations_by_input``), so the benchmark needs no flag in kit's CLI.
Prints one JSON line (origin and keys), then serves until terminated.
"""

from __future__ import annotations

import json
import sys

import kit


def main(argv: list[str]) -> None:
    port, speed, options = int(argv[0]), float(argv[1]), json.loads(argv[2])
    if options.get("outx_delay") is not None:
        options["outx_delay"] = tuple(options["outx_delay"])
    sb = kit.Sandbox(speed=speed, host="127.0.0.1", port=port, activate=False, **options)
    url = f"http://127.0.0.1:{port}"
    env = {f"{service.upper()}_BASE_URL": url for service in ("outx", "linkup", "agora")}
    env.update({f"{service.upper()}_API_KEY": sb.api_key(service)
                for service in ("outx", "linkup", "agora")})
    print(json.dumps({"url": url, "env": env}), flush=True)
    sb.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
