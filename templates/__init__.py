"""Render the config files containers need from `templates/` (jinja2, StrictUndefined).

Templates receive typed values, never raw config: a missing variable is an error, not an
empty string in a production config file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket

TEMPLATE_DIR = Path(__file__).resolve().parent

OPTIONS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "keep_trailing_newline": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "autoescape": False,
}


class UserBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept across processes (a plan compiles each template it renders, some
    0.05 s of CPU), in a directory only this user can write. A cache that cannot be read or written
    is no cache: the template is compiled, as without one."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def cache_dir(base: Path | None = None) -> Path | None:
    """This user's cache of compiled templates (a jinja2 version and these options each get their
    own: the cache's key is only the template's name, file and source), or None when it cannot be
    made, or someone else could write into it (its code is loaded and run)."""
    if base is None:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    options = repr(sorted((key, getattr(value, "__name__", value)) for key, value in OPTIONS.items()))
    tag = hashlib.sha256(f"{jinja2.__version__}|{options}".encode()).hexdigest()[:16]
    directory = base / "sevensa-platform" / f"jinja2-{tag}"  # beside the Keycloak and Pulumi CLI caches
    try:
        directory.mkdir(mode=stat.S_IRWXU, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return directory


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    directory = cache_dir()
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        bytecode_cache=UserBytecodeCache(str(directory)) if directory is not None else None,
        **OPTIONS,
    )


def render(name: str, **values: Any) -> str:
    """Render `templates/<name>` with `values`; raises on any undefined variable."""
    return environment().get_template(name).render(**values)
