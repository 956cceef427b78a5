"""Images we build pin the packages they install (apt `name=version`, apk `name=version`), or the
Dockerfile names the exception and says why in a comment. app/ has its own test (the origin app's)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL = re.compile(r"(?:apt-get|apt)\s+install\s+(?P<args>.*?)(?:&&|;|$)|apk\s+add\s+(?P<apk>.*?)(?:&&|;|$)", re.S)


def dockerfiles() -> list[Path]:
    found = [p for p in ROOT.rglob("Dockerfile*") if not {".venv", ".git", "node_modules", "app"} & set(p.relative_to(ROOT).parts)]
    return sorted(found)


def installs(text: str) -> list[str]:
    """Package arguments of every apt/apk install in the Dockerfile's RUN instructions."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    packages: list[str] = []
    for match in INSTALL.finditer(joined):
        args = match.group("args") or match.group("apk") or ""
        packages += [word for word in args.split() if not word.startswith("-") and "$" not in word]
    return packages


def test_installed_packages_are_pinned_or_justified() -> None:
    files = dockerfiles()
    assert ROOT / "backup" / "Dockerfile" in files
    unjustified = {}
    for path in files:
        text = path.read_text()
        comments = " ".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
        loose = [p for p in installs(text) if "=" not in p and p not in comments]
        if loose:
            unjustified[str(path.relative_to(ROOT))] = loose
    assert unjustified == {}


def test_the_check_reads_continued_install_lines() -> None:
    text = "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends \\\n       curl=8.1 wget \\\n    && rm -rf x\n"
    assert installs(text) == ["curl=8.1", "wget"]
    assert installs("RUN apk add --no-cache redis=7.2.5-r0 tini\n") == ["redis=7.2.5-r0", "tini"]
