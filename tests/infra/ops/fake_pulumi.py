"""A stand-in `pulumi` CLI that fails the way the real one does (tests put it on PATH).

FAKE_PULUMI_MODE selects the failure; FAKE_PULUMI_LOG collects every argv (one JSON list
per line) so tests can prove what was and was not asked of the CLI; `config set --secret`
appends the key and the value it got on stdin to FAKE_PULUMI_CONFIG. The messages are the
real CLI's wording, which the Automation API's error classes match on.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

MESSAGES = {
    "lock": (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file "
        "with `pulumi cancel`.\n  file:///state/.pulumi/locks/organization/sevensa-platform/prod/0f3c.json: "
        "created by deploy@ci (pid 4242) at 2026-11-26T00:00:00Z"
    ),
    "passphrase-missing": (
        "error: getting secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
        "PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
    ),
    "passphrase-wrong": (
        "error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase or set "
        "PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase"
    ),
    "fail": "error: update failed: 1 resource failed to create: docker:index/container:Container (traefik): port is already allocated",
}
OPERATIONS = {"up", "preview", "refresh", "destroy"}


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_PULUMI_LOG")
    if log:
        with Path(log).open("a") as handle:
            handle.write(json.dumps(argv) + "\n")
    args = [a for a in argv if a != "--non-interactive"]
    if args[:1] == ["version"]:
        print("v3.272.0")
        return 0
    mode = os.environ.get("FAKE_PULUMI_MODE", "")
    stack = args[args.index("--stack") + 1] if "--stack" in args else "dev"
    if args[:2] == ["stack", "select"] or args[:2] == ["stack", "init"]:
        if mode == "unknown-stack":
            print(f"error: no stack named '{stack}' found", file=sys.stderr)
            return 255
        return 0
    if args[:3] == ["config", "set", "--secret"]:
        # `pulumi config set --secret [--stack S] [--cwd D] KEY`, the value on stdin: kept for the test
        with Path(os.environ["FAKE_PULUMI_CONFIG"]).open("a") as handle:
            handle.write(json.dumps({"stack": stack, "key": args[-1], "value": sys.stdin.read()}) + "\n")
        return 0
    if args[:2] == ["stack", "export"]:
        source = os.environ["FAKE_PULUMI_EXPORT_DECRYPTED" if "--show-secrets" in args else "FAKE_PULUMI_EXPORT"]
        sys.stdout.write(Path(source).read_text())
        return 0
    if args[:1] and args[0] in OPERATIONS and mode in MESSAGES:
        print(MESSAGES[mode], file=sys.stderr)
        return 255
    print(f"fake pulumi: unexpected {argv}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
