"""Real servers the backup tests need besides the shared ones: OpenBao with raft storage, restic's
REST server and an SFTP server (both off-site targets), and the restic binary itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.servers.fixtures import serve
from tests.servers.offsite import (
    RestServer,
    SftpServer,
    running_rest_server,
    running_sftp_server,
)
from tests.servers.openbao import OpenBaoDev
from tests.servers.openbao_raft import running_openbao_raft

RESTIC_MINIMUM = (0, 17)


@pytest.fixture(scope="session", autouse=True)
def restic_binary() -> str:
    """restic ≥ 0.17 on PATH (scripts/install-system-deps.sh builds it); fails loudly otherwise."""
    found = shutil.which("restic")
    if found is None:
        pytest.fail("restic is not installed: run scripts/install-system-deps.sh", pytrace=False)
    version = subprocess.run([found, "version"], capture_output=True, text=True, timeout=30, check=False).stdout
    match = re.search(r"restic (\d+)\.(\d+)", version)
    if match is None or tuple(map(int, match.groups())) < RESTIC_MINIMUM:
        pytest.fail(f"restic {version.strip()!r} is older than 0.17 (needs --stdin-from-command)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def openbao_raft() -> Iterator[OpenBaoDev]:
    yield from serve("OpenBao (raft)", running_openbao_raft)


@pytest.fixture(scope="session")
def rest_server() -> Iterator[RestServer]:
    yield from serve("restic REST server", running_rest_server)


@pytest.fixture(scope="session")
def sftp_server() -> Iterator[SftpServer]:
    yield from serve("sshd (SFTP)", running_sftp_server)
