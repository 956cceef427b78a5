"""`python -m platform_backup {serve,run,healthcheck,openbao-snapshot}`.

`run --job backup|check|drill` runs one job now; `serve` runs them on their schedules and
serves /metrics. Exit codes: 0 ok, 1 the job failed (the log says what), 2 usage error.
Restores need no part of this package: they are plain `restic` commands (README, Backups).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import config as config_module
from . import jobs, metrics, schedule
from .credentials import CredentialsError, fetched

log = logging.getLogger("platform_backup")
JOBS = {"backup": jobs.run_backup, "check": jobs.run_check, "drill": jobs.run_drill}
SNAPSHOT_CHUNK = 1 << 20


def run_job(config: config_module.BackupConfig, job: str) -> bool:
    try:
        with fetched(config.openbao, config.secrets_dir) as credentials:
            result = JOBS[job](config, credentials)
    except CredentialsError as exc:
        log.error("%s: %s", job, exc)
        jobs.record_failure(config, job, str(exc))
        return False
    for failure in result["failures"]:
        log.error("%s: %s", job, failure)
    log.info("%s %s in %.1f s", job, "succeeded" if result["success"] else "FAILED", result["seconds"])
    return bool(result["success"])


def serve(config: config_module.BackupConfig) -> None:
    running = {"alive": True}
    metrics.serve(config.state_dir, config.metrics_port, lambda: running["alive"])
    zone = ZoneInfo(config.timezone)
    try:
        while True:
            due, job = schedule.next_due(config.schedules, zone, datetime.now(zone))
            log.info("next job: %s at %s", job, due.isoformat())
            while (wait := (due - datetime.now(zone)).total_seconds()) > 0:
                time.sleep(min(wait, 60))
            run_job(config, job)
    finally:
        running["alive"] = False


def openbao_snapshot(address: str, token_file: Path) -> None:
    """Stream OpenBao's raft snapshot to stdout (the command `restic backup --stdin-from-command` runs)."""
    import hvac

    client = hvac.Client(url=address.rstrip("/"), token=token_file.read_text().strip(), timeout=300)
    try:
        response = client.sys.take_raft_snapshot()
    except hvac.exceptions.VaultError as exc:
        raise OSError(f"OpenBao refused the raft snapshot ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise OSError(f"OpenBao refused the raft snapshot (HTTP {response.status_code})")
    for chunk in response.iter_content(SNAPSHOT_CHUNK):
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="platform_backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    default_config = Path(os.environ.get("BACKUP_CONFIG", "/etc/backup/backup.json"))
    commands.add_parser("serve").add_argument("--config", type=Path, default=default_config)
    run = commands.add_parser("run", help="run one job now")
    run.add_argument("--config", type=Path, default=default_config)
    run.add_argument("--job", choices=sorted(JOBS), default="backup")
    commands.add_parser("healthcheck").add_argument("--port", type=int, default=9101)
    snapshot = commands.add_parser("openbao-snapshot", help="stream OpenBao's raft snapshot to stdout")
    snapshot.add_argument("--address", required=True)
    snapshot.add_argument("--token-file", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return 0 if run_job(config_module.load(args.config), args.job) else 1
        if args.command == "serve":
            serve(config_module.load(args.config))
            return 1
        if args.command == "openbao-snapshot":
            openbao_snapshot(args.address, args.token_file)
            return 0
        with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=5) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except (config_module.ConfigError, OSError) as exc:
        print(f"platform_backup {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
