"""Benchmark: the restic backup job on real servers (127.0.0.1): backup and restore times, repository size.

Starts PostgreSQL, MariaDB and Redis (tests/servers), fills them (ROWS rows per database,
REDIS_KEYS keys), runs the backup job twice (the second run on unchanged data shows
deduplication), the restore drill, and restores each database with plain restic piped into
psql / mariadb. Prints one line per figure. `ROWS` is the first argument (default 500000).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backup.platform_backup.config import Target, parse  # noqa: E402
from backup.platform_backup.credentials import Credentials  # noqa: E402
from backup.platform_backup.jobs import run_backup, run_drill  # noqa: E402
from tests.servers.mariadb import running_mariadb  # noqa: E402
from tests.servers.postgres import running_postgres  # noqa: E402
from tests.servers.redis_server import running_redis  # noqa: E402

REDIS_KEYS = 100_000


def secret(directory: Path, name: str, value: str) -> Path:
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def main(rows: int) -> None:
    with ExitStack() as stack:
        pg, maria, redis = (stack.enter_context(f()) for f in (running_postgres, running_mariadb, running_redis))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="backup-bench-")))
        pg.create_database("psra_production")
        with pg.connect("psra_production") as conn:
            conn.execute(
                "CREATE TABLE calculations AS SELECT i AS id, now() - i * interval '1 minute' AS created, "
                "md5(i::text) AS product, (i %% 97) * 1.5 AS value, repeat(md5((i * 3)::text), 3) AS payload FROM generate_series(1, %s) i",
                (rows,),
            )
        maria.create_database("wpcs_production")
        maria.query(
            "wpcs_production",
            "CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(64), total DECIMAL(12,2), note TEXT);"
            f"INSERT INTO orders SELECT seq, MD5(seq), seq * 0.25, REPEAT(MD5(seq * 3), 3) FROM seq_1_to_{rows};",
        )
        client = redis.client()
        pipe = client.pipeline()
        for i in range(REDIS_KEYS):
            pipe.set(f"session:{i}", secrets.token_hex(32))
        pipe.execute()
        keys = work / "keys"
        keys.mkdir(mode=0o700)
        targets = [
            Target(name="psra-db", engine="postgres", host=pg.host, port=pg.port, user=pg.user, password_file=secret(keys, "pg", pg.password), databases=("psra_production",)),
            Target(name="wpcs-db", engine="mysql", host=maria.host, port=maria.port, user=maria.user, password_file=secret(keys, "maria", maria.password), databases=("wpcs_production",)),
            Target(name="psra-redis", engine="redis", host=redis.host, port=redis.port, user="default", password_file=secret(keys, "redis", redis.password)),
        ]
        (work / "secrets").mkdir(mode=0o700)
        config = parse({
            "environment": "bench", "repository": str(work / "repository"), "state_dir": str(work / "state"), "secrets_dir": str(work / "secrets"),
            "retention": {"postgres": {"local_days": 7}, "mysql": {"local_days": 7}, "redis": {"local_days": 7}},
            "openbao": {"address": "http://127.0.0.1:9", "role_id_file": "/none", "secret_id_file": "/none", "mount": "sevensa", "password_key": "k", "snapshot": False},
            "targets": [t.model_dump(mode="json") for t in targets],
        })
        password = secret(keys, "restic", secrets.token_hex(24))
        credentials = Credentials(password_file=password, offsite=None, openbao_token_file=keys / "none")
        print(f"data: PostgreSQL {rows} rows, MariaDB {rows} rows, Redis {REDIS_KEYS} keys")
        for run in (1, 2):
            result = run_backup(config, credentials)
            assert result["success"], result["failures"]
            for name, item in sorted(result["datasets"].items()):
                print(f"backup run {run}: {name}: {item['seconds']:.2f} s, {item['bytes'] / 1e6:.1f} MB read, {item['added_bytes'] / 1e6:.2f} MB new")
            print(f"backup run {run}: whole job {result['seconds']:.1f} s (incl. forget/prune/stats), repository {result['repository_bytes'] / 1e6:.1f} MB")
        drill = run_drill(config, credentials)
        assert drill["success"], drill["failures"]
        for name, item in sorted(drill["datasets"].items()):
            print(f"restore drill: {name}: {item['seconds']:.2f} s ({item['rows']} rows compared)")
        base = f"restic -r {config.repository} --password-file {password}"
        pg.create_database("restored")
        maria.create_database("restored")
        for name, command in (
            ("psra-db.psra_production", f"{base} dump --tag dataset:psra-db.psra_production latest /psra_production.sql | psql -X -q -v ON_ERROR_STOP=1 --single-transaction '{pg.conninfo('restored')}' > /dev/null"),
            ("wpcs-db.wpcs_production", f"{base} dump --tag dataset:wpcs-db.wpcs_production latest /wpcs_production.sql | MYSQL_PWD='{maria.password}' mariadb --no-defaults -h {maria.host} -P {maria.port} -u {maria.user} restored"),
            ("psra-redis", f"{base} dump --tag dataset:psra-redis latest /dump.rdb > {work / 'dump.rdb'}"),
        ):
            started = time.monotonic()
            subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, timeout=3600)
            print(f"restore with plain restic: {name}: {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000)
