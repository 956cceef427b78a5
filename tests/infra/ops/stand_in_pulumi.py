"""A stand-in `pulumi` for what the real CLI (tests/servers/pulumi_cli.py) cannot do here.

Only two cases need it: an engine failure inside a provider (the real CLI stops earlier, at the
missing language host and provider plugins, which cannot be had on these machines), and a CLI
whose `pulumi version` does not parse (a broken install, which the real build never is).

STAND_IN_PULUMI_MODE selects the behaviour ("fail", or "" to accept stack selection);
STAND_IN_PULUMI_VERSION is what `pulumi version` prints; STAND_IN_PULUMI_LOG collects every
argv (one JSON list per line) so tests can prove what was and was not asked of the CLI.
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

ENGINE_FAILURE = "error: update failed: 1 resource failed to create: docker:index/container:Container (traefik): port is already allocated"
OPERATIONS = {"up", "preview", "refresh", "destroy"}


def main(argv: list[str]) -> int:
    log = os.environ.get("STAND_IN_PULUMI_LOG")
    if log:
        with Path(log).open("a") as handle:
            handle.write(json.dumps(argv) + "\n")
    args = [a for a in argv if a != "--non-interactive"]
    if args[:1] == ["version"]:
        print(os.environ.get("STAND_IN_PULUMI_VERSION", f"v{version('pulumi')}"))
        return 0
    if args[:2] in (["stack", "select"], ["stack", "init"]):
        return 0
    if args[:1] and args[0] in OPERATIONS and os.environ.get("STAND_IN_PULUMI_MODE") == "fail":
        print(ENGINE_FAILURE, file=sys.stderr)
        return 255
    print(f"stand-in pulumi: unexpected {argv}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
