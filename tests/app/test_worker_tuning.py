"""Per-process settings the app's workers run with: the collector's threshold after startup, Redis's C reply parser."""

from __future__ import annotations

import gc
from pathlib import Path

import redis.utils
from fastapi.testclient import TestClient

from app.api.main import GC_YOUNG_THRESHOLD, create_app
from app.settings import Settings


def test_startup_freezes_what_it_built_and_raises_the_young_generation_threshold(tmp_path: Path) -> None:
    before = gc.get_threshold()
    try:
        with TestClient(create_app(Settings(sqlite_path=tmp_path / "psra.sqlite3"))):
            assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
            assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_redis_replies_are_parsed_by_hiredis() -> None:
    # redis-py picks its C parser by itself when the hiredis package is installed (a pinned dependency)
    assert redis.utils.HIREDIS_AVAILABLE
