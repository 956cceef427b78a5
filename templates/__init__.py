"""Render the config files containers need from `templates/` (jinja2, StrictUndefined).

Templates receive typed values, never raw config: a missing variable is an error, not an
empty string in a production config file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(name: str, **values: Any) -> str:
    """Render `templates/<name>` with `values`; raises on any undefined variable."""
    return environment().get_template(name).render(**values)
