"""`python -m platform_backup {run,serve,decrypt,restore-postgres,healthcheck}`.

Exit codes: 0 ok, 1 the operation failed (the message says what), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import config as config_module
from . import crypto, metrics, offsite, retention
from .runner import run_backup
from .schedule import Cron

log = logging.getLogger("platform_backup")


def run_once(config: config_module.BackupConfig) -> bool:
    result = run_backup(config)
    removed = retention.prune(config.local_path, config.retention_days, datetime.now(UTC))
    for path in removed:
        log.info("pruned %s (older than %d days)", path.name, config.retention_days)
    if config.offsite is not None and result.success:
        try:
            keys = offsite.upload_run(result.path, config.offsite)
            log.info("copied %d files to s3://%s", len(keys), config.offsite.bucket)
        except Exception as exc:  # noqa: BLE001 - any off-site failure is reported, the local run stands
            log.error("off-site copy failed: %s", exc)
            return False
    if not result.success:
        log.error("backup run %s finished with %d failure(s)", result.path.name, len(result.failures))
    return result.success


def serve(config: config_module.BackupConfig) -> None:
    alive = threading.Event()
    alive.set()
    metrics.serve(config.local_path, config.metrics_port, alive)
    cron, zone = Cron.parse(config.schedule), ZoneInfo(config.timezone)
    try:
        while True:
            due = cron.next_after(datetime.now(zone))
            log.info("next backup at %s", due.isoformat())
            while (wait := (due - datetime.now(zone)).total_seconds()) > 0:
                time.sleep(min(wait, 60))
            run_once(config)
    finally:
        alive.clear()


def restore_postgres(key_file: Path, encrypted: Path, dbname: str) -> None:
    """Decrypt a `pg_dump -Fc` file to a private temp file and `pg_restore` it into `dbname`."""
    key = crypto.load_key(key_file)
    with tempfile.TemporaryDirectory(prefix="restore-") as scratch:
        os.chmod(scratch, 0o700)
        plain = Path(scratch) / "dump.pgdump"
        crypto.decrypt_file(encrypted, plain, key)
        subprocess.run(["pg_restore", "--exit-on-error", "--no-owner", "--dbname", dbname, str(plain)], check=True)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="platform_backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "serve"):
        sub = commands.add_parser(name)
        sub.add_argument("--config", type=Path, default=Path(os.environ.get("BACKUP_CONFIG", "/etc/backup/backup.json")))
    decrypt = commands.add_parser("decrypt", help="decrypt one .enc file")
    decrypt.add_argument("--key-file", type=Path, required=True)
    decrypt.add_argument("source", type=Path)
    decrypt.add_argument("target", type=Path)
    restore = commands.add_parser("restore-postgres", help="decrypt a .pgdump.enc and pg_restore it")
    restore.add_argument("--key-file", type=Path, required=True)
    restore.add_argument("--dbname", required=True, help="libpq connection string of the (empty) target database")
    restore.add_argument("source", type=Path)
    health = commands.add_parser("healthcheck")
    health.add_argument("--port", type=int, default=9101)
    args = parser.parse_args(argv)

    try:
        if args.command == "run":
            return 0 if run_once(config_module.load(args.config)) else 1
        if args.command == "serve":
            serve(config_module.load(args.config))
            return 1
        if args.command == "decrypt":
            size = crypto.decrypt_file(args.source, args.target, crypto.load_key(args.key_file))
            log.info("decrypted %s (%d bytes)", args.target, size)
            return 0
        if args.command == "restore-postgres":
            restore_postgres(args.key_file, args.source, args.dbname)
            return 0
        with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=5) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except (crypto.DecryptionError, config_module.ConfigError, ValueError, OSError, subprocess.CalledProcessError) as exc:
        print(f"platform_backup {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
