"""Live tests: a real Docker engine (Debian's 20.10, API 1.41) and the lab on it.

The engine is installed and started by `scripts/install-docker.sh` when absent; a test that
needs it fails loudly when it cannot be had. `live_lab` brings the lab stack up (converging:
fast when it is up already) and gives the plan it was made from beside the engine; a lab the
tests brought up is taken down when they end (volumes included), one that was up before is left.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from infra.ops.lab import checks, lab
from infra.ops.lab.state import LabState

BUSYBOX_IMAGE = "sevensa-lab-test/busybox:1"
BUSYBOX = Path("/usr/bin/busybox")
APPLETS = ("sh", "cat", "ls", "id", "sleep", "stat", "test", "touch", "wget", "nc", "echo")


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    completed = subprocess.run(["bash", str(lab.INSTALL_DOCKER)], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        pytest.fail(f"the Docker engine cannot be had: {completed.stderr[-1500:]}")
    client = docker.from_env(timeout=600)
    assert client.version()["ApiVersion"] == "1.41", "the lab proves Debian stable's engine (API 1.41)"
    return client


@pytest.fixture(scope="session")
def busybox_image(engine: docker.DockerClient) -> str:
    """A tiny image from the machine's static busybox (apt: busybox-static), for the applier's tests."""
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static (scripts/install-system-deps.sh)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(BUSYBOX, "bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for directory in ("tmp", "etc", "run", "var/run"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
    engine.api.import_image_from_data(buffer.getvalue(), repository=BUSYBOX_IMAGE.split(":")[0], tag="1", changes=['CMD ["sh"]'])
    return BUSYBOX_IMAGE


@pytest.fixture(scope="session")
def live_lab(engine: docker.DockerClient) -> Iterator[checks.LiveLab]:
    """The lab stack, up (converged) on the engine, with its plan."""
    was_up = LabState(lab.DEFAULT_STACK).secrets_file.exists()  # `lab down` removes it
    try:
        result = lab.up(lab.DEFAULT_STACK, engine=False)
    except Exception as exc:  # noqa: BLE001 - the lab must come up: fail loudly with why
        if not was_up:
            lab.down(lab.DEFAULT_STACK)
        pytest.fail(f"the lab did not come up: {type(exc).__name__}: {exc}")
    yield checks.LiveLab(engine, result.document, lab=lab.DEFAULT_STACK)
    if not was_up:
        lab.down(lab.DEFAULT_STACK)


def assert_passed(result: checks.CheckResult) -> None:
    assert result.passed, f"{result.name}: {result.detail}"
