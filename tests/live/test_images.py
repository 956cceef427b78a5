"""The lab's local images keep the contracts of the catalog images they replace.

Each test runs the built image on the real engine (the `engine` fixture) and pins what the
plan relies on: uid/gid, data and config paths, ports, entrypoint and its environment contract
(e.g. POSTGRES_PASSWORD_FILE and init scripts), and the versions the lab claims. Containers talk
only to each other on a Docker network the test creates, or to themselves on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from components.monitoring import AlertThresholds, ScrapeJob, alert_rules
from infra.ops.lab import images
from templates import render

PREFIX = "sevensa-lab-imgtest"


@pytest.fixture(scope="module")
def lab_images(engine: docker.DockerClient) -> dict[str, str]:
    """Every lab image built (or found cached by its input hash): recipe name -> tag."""
    builder = images.Builder(engine)
    return {recipe.name: builder.build(recipe).tag for recipe in images.build_order()}


@pytest.fixture(scope="module")
def network(engine: docker.DockerClient) -> Iterator[str]:
    """An internal network of the test's own: containers reach each other, nothing else."""
    name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    net = engine.networks.create(name, driver="bridge", internal=True, labels={PREFIX: "1"})
    yield name
    for container in engine.containers.list(all=True, filters={"label": PREFIX}):
        container.remove(force=True, v=True)
    for volume in engine.volumes.list(filters={"label": PREFIX}):
        volume.remove(force=True)
    net.remove()


@pytest.fixture
def run(engine: docker.DockerClient, network: str) -> Iterator[Callable[..., docker.models.containers.Container]]:
    """Start a container on the test network (removed with its anonymous volumes afterwards)."""
    started: list[docker.models.containers.Container] = []

    def start(image: str, command: list[str] | None = None, **kwargs) -> docker.models.containers.Container:
        kwargs.setdefault("network", network)
        kwargs.setdefault("name", f"{PREFIX}-{uuid.uuid4().hex[:8]}")
        labels = {PREFIX: "1", **kwargs.pop("labels", {})}
        container = engine.containers.run(image, command, detach=True, labels=labels, **kwargs)
        started.append(container)
        return container

    yield start
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


def output(engine: docker.DockerClient, image: str, *command: str, entrypoint: str | list[str] | None = None, user: str | None = None) -> str:
    """What a one-off command prints in the image (network none; stdout and stderr). The container is
    removed with its anonymous volumes: `run(remove=True)` keeps them, one per VOLUME of the image."""
    kwargs = {"entrypoint": entrypoint} if entrypoint is not None else {}
    if user is not None:
        kwargs["user"] = user
    container = engine.containers.create(image, list(command), network_mode="none", **kwargs)
    try:
        container.start()
        status = container.wait(timeout=120)["StatusCode"]
        printed = container.logs(stdout=True, stderr=True).decode()
    finally:
        container.remove(force=True, v=True)
    if status != 0:
        raise docker.errors.ContainerError(container, status, list(command), image, printed)
    return printed


def exec_ok(container, command: list[str] | str, user: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = container.exec_run(command, user=user or "", environment=env)
    return result.exit_code, result.output.decode(errors="replace")


def wait_until(check: Callable[[], bool], what: str, container, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            pytest.fail(f"{what}: the container exited:\n{container.logs().decode()[-3000:]}")
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout}s; logs:\n{container.logs().decode()[-3000:]}")


def secrets_dir(tmp_path: Path, files: dict[str, str], owner: int) -> str:
    """A host directory of secret files readable by `owner` only, bind-mounted read-only."""
    directory = tmp_path / f"secrets-{uuid.uuid4().hex[:6]}"
    directory.mkdir()
    directory.chmod(0o755)
    for name, content in files.items():
        path = directory / name
        path.write_text(content)
        path.chmod(0o400)
        os.chown(path, owner, owner)
    return str(directory)


# --- image metadata: the contract table -----------------------------------------------

CONTRACTS = {
    # name: (user, exposed ports, entrypoint, cmd (None: not pinned), workdir (None: not pinned))
    "traefik": ("", {"80/tcp"}, ["/entrypoint.sh"], ["traefik"], None),
    "oauth2-proxy": ("65532:65532", {"4180/tcp"}, ["/bin/oauth2-proxy"], None, None),
    "pebble": ("65532:65532", {"14000/tcp", "15000/tcp"}, ["/usr/local/bin/pebble"], ["-config", "/etc/pebble/pebble-config.json"], None),
    "openbao": ("100:1000", {"8200/tcp"}, ["docker-entrypoint.sh"], ["server", "-dev", "-dev-no-store-token"], None),
    "keycloak": ("1000", {"8080/tcp", "8443/tcp", "9000/tcp"}, ["/opt/keycloak/bin/kc.sh"], None, None),
    "postgres": ("", {"5432/tcp"}, ["docker-entrypoint.sh"], ["postgres"], None),
    "redis": ("", {"6379/tcp"}, ["docker-entrypoint.sh"], ["redis-server"], "/data"),
    "mariadb": ("", {"3306/tcp"}, ["docker-entrypoint.sh"], ["mysqld"], None),
    "prometheus": ("65534:65534", {"9090/tcp"}, ["/bin/prometheus"], ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"], "/prometheus"),
    "alertmanager": ("65534:65534", {"9093/tcp"}, ["/bin/alertmanager"], ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"], "/alertmanager"),
    "socket-proxy": ("", {"2375/tcp"}, ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"], None, None),
    "psra-api": ("10001:10001", {"8000/tcp"}, None, ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"], "/srv"),
    "platform-backup": ("", set(), ["python3", "-m", "platform_backup"], ["serve", "--config", "/etc/backup/backup.json"], "/app"),
    "stand-in": ("1000:1000", {"3000/tcp", "3100/tcp", "5678/tcp", "8000/tcp", "9080/tcp"}, ["python3", "/opt/stand-in/server.py"], None, None),
    "static": ("", set(), None, None, None),
}


def test_a_one_off_command_leaves_no_anonymous_volume(engine: docker.DockerClient, lab_images: dict[str, str]) -> None:
    """The postgres image declares a VOLUME; a leaked one per command piled up 20 volumes per test run."""
    before = {volume.name for volume in engine.volumes.list()}
    assert output(engine, lab_images["postgres"], "-c", "echo ok", entrypoint="/bin/sh") == "ok\n"
    assert {volume.name for volume in engine.volumes.list()} == before


def test_every_recipe_has_a_pinned_contract_and_a_contract_file() -> None:
    assert set(CONTRACTS) == set(images.RECIPES)
    for name in images.RECIPES:
        assert (images.IMAGES_DIR / name / "Dockerfile").is_file(), name
        assert (images.IMAGES_DIR / name / "CONTRACT.md").is_file(), name


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_image_config_matches_the_contract(engine: docker.DockerClient, lab_images: dict[str, str], name: str) -> None:
    user, ports, entrypoint, cmd, workdir = CONTRACTS[name]
    config = engine.images.get(lab_images[name]).attrs["Config"]
    assert (config.get("User") or "") == user
    assert set(config.get("ExposedPorts") or {}) == ports
    if entrypoint is not None:
        assert config["Entrypoint"] == entrypoint
    if cmd is not None:
        assert config["Cmd"] == cmd
    if workdir is not None:
        assert config["WorkingDir"] == workdir
    labels = config["Labels"]
    recipe = images.RECIPES[name]
    assert labels[images.INPUTS_LABEL] == images.Builder(engine).recipe_hash(recipe)
    assert labels[images.STAND_IN_LABEL] == ("true" if name == "stand-in" else "false")
    assert labels[images.REPLACES_LABEL] == ",".join(recipe.replaced)


def test_a_rebuild_with_nothing_changed_is_cached(engine: docker.DockerClient, lab_images: dict[str, str]) -> None:
    builder = images.Builder(engine)
    started = time.monotonic()
    results = [builder.build(recipe) for recipe in images.build_order()]
    assert {result.status for result in results} == {"cached"}
    assert time.monotonic() - started < 30


def test_override_map_covers_every_catalog_image(lab_images: dict[str, str], tmp_path: Path) -> None:
    path = images.write_overrides(tmp_path / "overrides.json")
    document = json.loads(path.read_text())
    assert document["images"]["postgres:16.10-alpine"] == "sevensa-lab/postgres:16.10"
    assert document["images"]["traefik:v3.7.15"] == "sevensa-lab/traefik:3.7.15"
    assert document["imageOverrides"]["psra-db"] == "sevensa-lab/postgres:16.10"
    assert document["imageOverrides"]["wpcs-db"] == "sevensa-lab/mariadb:10.11-bookworm"
    assert document["imageOverrides"]["grafana"] == "sevensa-lab/stand-in:1"
    assert set(document["imageOverrides"].values()) <= set(lab_images.values())
    declared = {entry["name"]: entry["image"] for entry in images.catalog_entries()}
    assert document["standIns"] == [name for name, image in declared.items() if image not in document["images"]]
    assert {"grafana", "loki", "promtail", "n8n", "origin-engine"} <= set(document["standIns"])
    assert not {"psra-api", "backup", "traefik", "keycloak", "openbao", "psra-db", "wpcs-db"} & set(document["standIns"])
    # images built from this repository follow the catalog's tag
    assert document["imageOverrides"]["backup"] == f"sevensa-lab/platform-backup:{declared['backup'].rsplit(':', 1)[1]}"


# --- versions the lab claims ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "entrypoint", "command", "expected"),
    [
        ("traefik", "traefik", ["version"], "3.7.15"),
        ("oauth2-proxy", None, ["--version"], "v7.15.6"),
        ("openbao", "bao", ["version"], "v2.7.2"),
        ("postgres", "postgres", ["--version"], "(PostgreSQL) 16.10"),
        ("postgres", "psql", ["--version"], "(PostgreSQL) 16.2"),
        ("postgres", "pg_isready", ["--version"], "(PostgreSQL) 16.2"),
        ("redis", "redis-server", ["--version"], "v=7.0."),
        ("mariadb", "mariadbd", ["--version"], "10.11."),
        ("prometheus", None, ["--version"], "prometheus, version 2.42."),
        ("alertmanager", None, ["--version"], "alertmanager, version 0.25."),
        ("socket-proxy", "haproxy", ["-v"], "HAProxy version 2.6."),
        ("platform-backup", "pg_dump", ["--version"], "(PostgreSQL) 16.2"),
        ("platform-backup", "restic", ["version"], "restic 0.18.1"),
        ("psra-api", "python", ["--version"], "Python 3.11."),
    ],
)
def test_versions(engine: docker.DockerClient, lab_images: dict[str, str], name: str, entrypoint: str | None, command: list[str], expected: str) -> None:
    assert expected in output(engine, lab_images[name], *command, entrypoint=entrypoint)


# --- accounts and paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "script", "expected"),
    [
        ("postgres", "id postgres; stat -c '%u:%g %a' /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d",
         "uid=70(postgres) gid=70(postgres) groups=70(postgres)\n70:70 700\n70:70 3777\n0:0 755\n"),
        ("redis", "id redis; stat -c '%u:%g' /data", "uid=999(redis) gid=1000(redis) groups=1000(redis)\n999:1000\n"),
        ("mariadb", "id mysql; stat -c '%u:%g' /var/lib/mysql /var/run/mysqld", "uid=999(mysql) gid=999(mysql) groups=999(mysql)\n999:999\n999:999\n"),
        ("openbao", "stat -c '%u:%g' /openbao/config /openbao/data /openbao/logs /openbao/file", "100:1000\n100:1000\n100:1000\n100:1000\n"),
        ("keycloak", "id -u; id -g; stat -c '%u:%g' /opt/keycloak /opt/keycloak/lib/quarkus", "1000\n0\n1000:0\n1000:0\n"),
        ("prometheus", "id -u; stat -c '%u:%g' /prometheus", "65534\n65534:65534\n"),
        ("alertmanager", "id -u; stat -c '%u:%g' /alertmanager; test -x /bin/amtool && echo amtool", "65534\n65534:65534\namtool\n"),
    ],
)
def test_accounts_and_paths(engine: docker.DockerClient, lab_images: dict[str, str], name: str, script: str, expected: str) -> None:
    assert output(engine, lab_images[name], "-c", script, entrypoint="/bin/sh") == expected


@pytest.mark.parametrize("name", ["oauth2-proxy", "openbao", "pebble", "traefik", "prometheus", "alertmanager", "socket-proxy", "stand-in"])
def test_healthcheck_tool_wget_is_there(engine: docker.DockerClient, lab_images: dict[str, str], name: str) -> None:
    """The plan probes these with `wget -qO- http://127.0.0.1:<port>/...` (busybox wget upstream)."""
    assert "Usage" in output(engine, lab_images[name], "-c", "wget --help 2>&1 | head -3", entrypoint="/bin/sh")


# --- entrypoint contracts, run for real ---------------------------------------------------------


def test_postgres_honours_the_official_entrypoint_contract(engine, lab_images, run, tmp_path: Path) -> None:
    image = lab_images["postgres"]
    secrets = secrets_dir(tmp_path, {"postgres-password": "s3cret-admin", "app-password": "s3cret-app"}, owner=70)
    init = tmp_path / "init"
    init.mkdir()
    # the plan's init script, rendered as components/datastore.py does, plus a *.sql file
    (init / "10-app-role.sh").write_text(
        render("datastore/postgres-init.sh.j2", app_password_file="/run/secrets/app-password", user="psra", database="psra_production")
    )
    (init / "20-table.sql").write_text("CREATE TABLE marker (id int); INSERT INTO marker VALUES (42);\n")
    volume = engine.volumes.create(f"{PREFIX}-pgdata-{uuid.uuid4().hex[:6]}", labels={PREFIX: "1"})
    server = run(
        image,
        user="70:70",
        read_only=True,
        tmpfs={"/tmp": "", "/var/run/postgresql": "uid=70,gid=70,mode=0700"},
        environment={"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres-password", "POSTGRES_DB": "labdb"},
        volumes={secrets: {"bind": "/run/secrets", "mode": "ro"}, str(init): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}, volume.name: {"bind": "/var/lib/postgresql/data", "mode": "rw"}},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
    )
    ready = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]
    wait_until(lambda: exec_ok(server, ready)[0] == 0, "postgres accepts TCP", server)
    assert "listen_addresses=''" not in exec_ok(server, ["cat", "/proc/1/cmdline"])[1]
    client = run(image, entrypoint=["sleep", "300"], user="70:70")

    def sql(user: str, password: str, database: str, query: str) -> tuple[int, str]:
        return exec_ok(client, ["psql", "-h", server.name, "-U", user, "-d", database, "-tAc", query], env={"PGPASSWORD": password})

    assert sql("postgres", "s3cret-admin", "labdb", "SELECT id FROM marker") == (0, "42\n")
    assert sql("psra", "s3cret-app", "psra_production", "SELECT current_user") == (0, "psra\n")
    assert sql("psra", "s3cret-app", "psra_production", "SELECT rolsuper FROM pg_roles WHERE rolname = 'psra'") == (0, "f\n")
    code, out = sql("postgres", "wrong", "labdb", "SELECT 1")
    assert code != 0 and "password authentication failed" in out
    assert exec_ok(server, ["id", "-u"])[1] == "70\n"

    # data survives `docker restart` (tmpfs comes back with the service's uid)
    server.restart(timeout=20)
    wait_until(lambda: exec_ok(server, ready)[0] == 0, "postgres after restart", server)
    assert sql("postgres", "s3cret-admin", "labdb", "SELECT id FROM marker") == (0, "42\n")


def test_postgres_initializes_with_no_init_scripts(engine, lab_images, run) -> None:
    server = run(lab_images["postgres"], user="70:70", environment={"POSTGRES_PASSWORD": "pw"}, tmpfs={"/var/run/postgresql": "uid=70,gid=70"})
    ready = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]
    wait_until(lambda: exec_ok(server, ready)[0] == 0, "postgres with an empty /docker-entrypoint-initdb.d", server)
    code, output = exec_ok(server, ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", "select count(*) from pg_database where not datistemplate"], env={"PGPASSWORD": "pw"})
    assert (code, output.strip()) == (0, "1"), output  # only the default database: no init script ran


def test_postgres_refuses_to_initialize_without_a_password(engine, lab_images) -> None:
    container = engine.containers.run(lab_images["postgres"], detach=True, user="70:70", network_mode="none", labels={PREFIX: "1"})
    try:
        assert container.wait(timeout=60)["StatusCode"] == 1
        assert "superuser password is not specified" in container.logs().decode()
    finally:
        container.remove(force=True, v=True)


def test_mariadb_honours_the_mysql_entrypoint_contract(engine, lab_images, run, tmp_path: Path) -> None:
    image = lab_images["mariadb"]
    secrets = secrets_dir(tmp_path, {"mysql-root-password": "root-pw", "mysql-password": "app-pw"}, owner=999)
    server = run(
        image,
        user="999:999",
        read_only=True,
        tmpfs={"/tmp": "", "/var/run/mysqld": "uid=999,gid=999,mode=0700"},
        environment={
            "MYSQL_DATABASE": "wpcs_production",
            "MYSQL_USER": "wpcs",
            "MYSQL_PASSWORD_FILE": "/run/secrets/mysql-password",
            "MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/mysql-root-password",
        },
        volumes={secrets: {"bind": "/run/secrets", "mode": "ro"}},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
    )
    ping = ["mysqladmin", "ping", "-h", "127.0.0.1", "--silent"]
    wait_until(lambda: exec_ok(server, ping)[0] == 0 and b"initialization complete" in server.logs(), "mariadb ready", server, timeout=120)
    client = run(image, entrypoint=["sleep", "300"])
    code, out = exec_ok(client, ["mariadb", "-h", server.name, "-u", "wpcs", "-papp-pw", "wpcs_production", "-Nse", "CREATE TABLE t (i int); INSERT INTO t VALUES (7); SELECT i FROM t"])
    assert (code, out) == (0, "7\n")
    code, out = exec_ok(client, ["mariadb", "-h", server.name, "-u", "root", "-proot-pw", "-Nse", "SELECT 1"])
    assert (code, out) == (0, "1\n")
    code, out = exec_ok(client, ["mariadb", "-h", server.name, "-u", "wpcs", "-pwrong", "-Nse", "SELECT 1"])
    assert code != 0 and "Access denied" in out
    server.restart(timeout=20)
    wait_until(lambda: exec_ok(server, ping)[0] == 0, "mariadb after restart", server)
    code, out = exec_ok(client, ["mariadb", "-h", server.name, "-u", "wpcs", "-papp-pw", "wpcs_production", "-Nse", "SELECT i FROM t"])
    assert (code, out) == (0, "7\n")


def test_redis_runs_the_plan_config_as_999_1000(engine, lab_images, run, tmp_path: Path) -> None:
    config = secrets_dir(tmp_path, {"redis.conf": "port 6379\nrequirepass lab-pw\ndir /data\nappendonly yes\n", "redis-password": "lab-pw"}, owner=999)
    server = run(
        lab_images["redis"], ["redis-server", "/etc/redis/conf/redis.conf"], user="999:1000", read_only=True, tmpfs={"/tmp": ""},
        volumes={config: {"bind": "/etc/redis/conf", "mode": "ro"}}, cap_drop=["ALL"], security_opt=["no-new-privileges"],
    )
    # the plan's probe (components/datastore.py), with the secret file at this test's path
    probe = 'REDISCLI_AUTH="$(cat /etc/redis/conf/redis-password)" redis-cli -h 127.0.0.1 ping | grep -q PONG'
    wait_until(lambda: exec_ok(server, ["sh", "-c", probe])[0] == 0, "redis answers PONG", server)
    assert exec_ok(server, ["redis-cli", "-h", "127.0.0.1", "ping"])[1].startswith("NOAUTH")
    assert exec_ok(server, ["redis-cli", "-a", "lab-pw", "--no-auth-warning", "set", "k", "v"])[1] == "OK\n"
    server.restart(timeout=20)
    wait_until(lambda: exec_ok(server, ["sh", "-c", probe])[0] == 0, "redis after restart", server)
    assert exec_ok(server, ["redis-cli", "-a", "lab-pw", "--no-auth-warning", "get", "k"])[1] == "v\n"


def test_openbao_server_command_reads_the_config_directory(engine, lab_images, run, tmp_path: Path) -> None:
    config = tmp_path / "bao"
    config.mkdir()
    (config / "openbao.hcl").write_text(
        'storage "raft" {\n  path = "/openbao/data"\n  node_id = "t1"\n}\n'
        'listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_disable = true\n}\n'
        'api_addr = "http://127.0.0.1:8200"\ncluster_addr = "http://127.0.0.1:8201"\ndisable_mlock = true\n'
    )
    (config / "openbao.hcl").chmod(0o644)
    server = run(
        lab_images["openbao"], ["server"], user="100", tmpfs={"/openbao/data": "uid=100,gid=1000"},
        volumes={str(config): {"bind": "/openbao/config", "mode": "ro"}},
        environment={"SKIP_SETCAP": "true", "SKIP_CHOWN": "true"}, read_only=True, cap_drop=["ALL"],
    )
    health = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8200/v1/sys/health?uninitcode=204&sealedcode=204&standbycode=204"]
    wait_until(lambda: exec_ok(server, health)[0] == 0, "openbao API answers", server)
    code, out = exec_ok(server, ["wget", "-qO-", "http://127.0.0.1:8200/v1/sys/seal-status"])
    assert code == 0 and json.loads(out)["initialized"] is False


def test_traefik_entrypoint_runs_flags_and_answers_its_healthcheck(engine, lab_images, run) -> None:
    flags = ["--ping=true", "--entryPoints.ping.address=:8081", "--ping.entryPoint=ping"]
    server = run(lab_images["traefik"], flags, read_only=True, cap_drop=["ALL"], cap_add=["NET_BIND_SERVICE"])
    health = ["traefik", "healthcheck", *flags]
    wait_until(lambda: exec_ok(server, health)[0] == 0, "traefik healthcheck", server)
    assert exec_ok(server, ["wget", "-qO-", "http://127.0.0.1:8081/ping"]) == (0, "OK")


PEBBLE_CLIENT = """
import socket, ssl, sys
context = ssl.create_default_context(cafile="/ca/pebble.minica.pem")
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as raw:
    with context.wrap_socket(raw, server_hostname="pebble") as tls:
        tls.sendall(("GET " + sys.argv[3] + " HTTP/1.0\\r\\nHost: pebble\\r\\nUser-Agent: lab-test\\r\\n\\r\\n").encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
print(data.split(b"\\r\\n\\r\\n", 1)[1].decode())
"""


def test_pebble_serves_acme_trusted_by_the_exported_ca(engine, lab_images, run) -> None:
    server = run(lab_images["pebble"], read_only=True, cap_drop=["ALL"])
    wait_until(lambda: b"ACME directory available" in server.logs(), "pebble listening", server, timeout=30)
    exported = images.CACHE_DIR / "pebble"
    ca = (exported / "pebble.minica.pem").read_text()
    assert output(engine, lab_images["pebble"], "/etc/pebble/certs/pebble.minica.pem", entrypoint="cat") == ca
    client = run(lab_images["stand-in"], entrypoint=["sleep", "300"], volumes={str(exported): {"bind": "/ca", "mode": "ro"}})
    code, out = exec_ok(client, ["python3", "-c", PEBBLE_CLIENT, server.name, "14000", "/dir"])
    assert code == 0, out
    assert "newAccount" in json.loads(out) and "newOrder" in json.loads(out)
    code, out = exec_ok(client, ["python3", "-c", PEBBLE_CLIENT, server.name, "15000", "/roots/0"])
    assert code == 0 and out.startswith("-----BEGIN CERTIFICATE-----"), out


def test_socket_proxy_allows_only_the_sections_its_environment_enables(engine, lab_images, run) -> None:
    proxy = run(
        lab_images["socket-proxy"], user="0", environment={"CONTAINERS": "1", "EVENTS": "1", "PING": "1", "VERSION": "1", "POST": "0"},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}}, cap_drop=["ALL"],
    )

    def status(path: str, post: bool = False) -> str:
        command = ["wget", "-S", "-qO", "/dev/null", *(["--post-data", "{}"] if post else []), f"http://127.0.0.1:2375{path}"]
        _, out = exec_ok(proxy, command)
        lines = [line.strip() for line in out.splitlines() if line.strip().startswith("HTTP/")]
        return lines[-1].split()[1] if lines else out

    wait_until(lambda: status("/_ping") == "200", "socket proxy answers /_ping", proxy)
    assert status("/v1.41/version") == "200"
    assert status("/v1.41/containers/json") == "200"
    assert status("/v1.41/images/json") == "403"
    assert status("/v1.41/networks") == "403"
    assert status("/v1.41/containers/create", post=True) == "403"


def test_prometheus_and_alertmanager_load_the_plans_rendered_configs(engine, lab_images, run, tmp_path: Path) -> None:
    prom = tmp_path / "prometheus"
    (prom / "rules").mkdir(parents=True)
    (prom / "prometheus.yml").write_text(
        render("prometheus/prometheus.yml.j2", scrape_interval="30s", platform="sevensa", rules_dir="/etc/prometheus/rules",
               alertmanager="alertmanager:9093", jobs=(ScrapeJob("psra-api", ("psra-api:8000",)),))
    )
    (prom / "rules" / "alerts.yml").write_text(alert_rules(AlertThresholds()))
    for path in (prom, prom / "rules", prom / "prometheus.yml", prom / "rules" / "alerts.yml"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    server = run(lab_images["prometheus"], volumes={str(prom): {"bind": "/etc/prometheus", "mode": "ro"}}, read_only=True, cap_drop=["ALL"])
    wait_until(lambda: exec_ok(server, ["wget", "-qO-", "http://127.0.0.1:9090/-/healthy"])[0] == 0, "prometheus healthy", server)
    code, out = exec_ok(server, ["promtool", "check", "config", "/etc/prometheus/prometheus.yml"])
    assert code == 0, out

    am = tmp_path / "alertmanager"
    am.mkdir()
    am.chmod(0o755)
    (am / "alertmanager.yml").write_text(render("alertmanager/alertmanager.yml.j2", webhook_file="/tmp/slack-webhook", slack_channel="#lab"))
    (am / "alertmanager.yml").chmod(0o644)
    (am / "start.sh").write_text(
        render("alertmanager/start.sh.j2", webhook_file="/tmp/slack-webhook", approle="monitoring-role", secret_api_path="sevensa/data/shared/api/slack-webhook")
    )
    (am / "start.sh").chmod(0o644)
    server = run(
        lab_images["alertmanager"],
        ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--cluster.listen-address="],
        entrypoint=["/bin/sh", "/etc/alertmanager/start.sh"],
        volumes={str(am): {"bind": "/etc/alertmanager", "mode": "ro"}}, tmpfs={"/tmp": "", "/alertmanager": "uid=65534"},
        read_only=True, cap_drop=["ALL"],
    )
    wait_until(lambda: exec_ok(server, ["wget", "-qO-", "http://127.0.0.1:9093/-/healthy"])[0] == 0, "alertmanager healthy", server)


def test_psra_api_starts_read_only_and_is_healthy(engine, lab_images, run) -> None:
    server = run(lab_images["psra-api"], read_only=True, tmpfs={"/tmp": ""}, cap_drop=["ALL"], security_opt=["no-new-privileges"])
    wait_until(lambda: server.attrs["State"].get("Health", {}).get("Status") == "healthy", "psra-api healthy", server, timeout=120)
    assert exec_ok(server, ["id", "-u"])[1] == "10001\n"


def test_backup_image_runs_the_repositorys_package(engine, lab_images) -> None:
    text = output(engine, lab_images["platform-backup"], "--help")
    assert "usage" in text.lower()
    tools = output(engine, lab_images["platform-backup"], "-c", "mysqldump --version && redis-cli --version", entrypoint="/bin/sh")
    assert "MariaDB" in tools and "redis-cli 7.0" in tools
    assert output(engine, lab_images["platform-backup"], "-c", "import croniter, hvac, psycopg, pydantic; print('ok')", entrypoint="python3") == "ok\n"


def test_stand_in_says_it_is_one_and_passes_the_plans_probes(engine, lab_images, run) -> None:
    image = engine.images.get(lab_images["stand-in"])
    assert image.labels[images.STAND_IN_LABEL] == "true"
    assert "stand-in" in image.labels["org.opencontainers.image.title"]
    server = run(lab_images["stand-in"], ["-config.file=/etc/loki/loki.yml"], user="472", read_only=True, cap_drop=["ALL"],
                 environment={"STAND_IN_SERVICE": "grafana"})
    probe = ["wget", "-qO-", "http://127.0.0.1:3000/api/health"]
    wait_until(lambda: exec_ok(server, probe)[0] == 0, "stand-in answers", server, timeout=30)
    body = json.loads(exec_ok(server, probe)[1])
    assert body == {"status": "ok", "stand_in": True, "service": "grafana", "port": 3000}
    # Promtail's probe (bash /dev/tcp, components/monitoring.py) and a Loki push
    promtail = "exec 3<>/dev/tcp/127.0.0.1/9080 && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"
    assert exec_ok(server, ["bash", "-c", promtail])[0] == 0
    assert exec_ok(server, ["wget", "-qO-", "--post-data", "{}", "http://127.0.0.1:3100/loki/api/v1/push"])[0] == 0
    assert 'stand_in_up{service="grafana"} 1' in exec_ok(server, ["wget", "-qO-", "http://127.0.0.1:8000/metrics"])[1]


def test_keycloak_starts_and_answers_the_plans_readiness_probe(engine, lab_images, run) -> None:
    server = run(
        lab_images["keycloak"], ["start-dev", "--health-enabled=true", "--http-port=8080"], user="1000",
        environment={"KC_BOOTSTRAP_ADMIN_USERNAME": "admin", "KC_BOOTSTRAP_ADMIN_PASSWORD": uuid.uuid4().hex}, mem_limit="1g",
    )
    probe = (
        "exec 3<>/dev/tcp/127.0.0.1/9000 && "
        "printf 'GET /health/ready HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && grep -q '\"UP\"' <&3"
    )
    wait_until(lambda: exec_ok(server, ["bash", "-c", probe])[0] == 0, "keycloak ready", server, timeout=240)
    assert "Keycloak 26.5.6" in server.logs().decode()
