"""The compiled-template cache: same output as compiling, and no cache rather than an unsafe or broken one."""

from __future__ import annotations

import stat
from pathlib import Path

import jinja2

import templates
from templates import OPTIONS, UserBytecodeCache, cache_dir


def _environment(source: Path, cache: Path) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(source), bytecode_cache=UserBytecodeCache(str(cache)), **OPTIONS)


def test_a_cached_template_renders_as_a_compiled_one(tmp_path: Path) -> None:
    source, cache = tmp_path / "src", cache_dir(tmp_path / "cache")
    assert cache is not None
    source.mkdir()
    (source / "t.conf").write_text("{% for x in xs %}\n  {{ x }}\n{% endfor %}\nend\n")
    first = _environment(source, cache).get_template("t.conf").render(xs=[1, 2])
    assert len(list(cache.iterdir())) == 1
    second_env = _environment(source, cache)
    compiled: list[str] = []
    second_env.compile = lambda *args, **kwargs: compiled.append("compiled")  # type: ignore[method-assign]
    assert second_env.get_template("t.conf").render(xs=[1, 2]) == first == "  1\n  2\nend\n"
    assert compiled == []  # read from the cache
    (source / "t.conf").write_text("changed {{ xs }}\n")
    assert _environment(source, cache).get_template("t.conf").render(xs=[3]) == "changed [3]\n"


def test_no_cache_when_the_directory_cannot_be_made_or_others_can_write_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert cache_dir(tmp_path / "file") is None
    shared = cache_dir(tmp_path / "shared")
    assert shared is not None
    shared.chmod(stat.S_IRWXU | stat.S_IWGRP | stat.S_IXGRP)
    assert cache_dir(tmp_path / "shared") is None


def test_a_cache_that_cannot_be_written_or_read_only_compiles(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "t.conf").write_text("{{ a }}\n")
    gone = tmp_path / "gone"  # writing into it fails
    assert _environment(source, gone).get_template("t.conf").render(a=1) == "1\n"
    unreadable = tmp_path / "dir"
    unreadable.mkdir()
    env = _environment(source, unreadable)
    key = env.bytecode_cache.get_cache_key("t.conf", str(source / "t.conf"))  # type: ignore[union-attr]
    (unreadable / f"__jinja2_{key}.cache").mkdir()  # opening it fails with an OSError
    (unreadable / f"__jinja2_{key}.cache" / "x").write_text("")
    assert env.get_template("t.conf").render(a=2) == "2\n"


def test_the_project_environment_keeps_its_cache_in_the_user_cache_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    templates.environment.cache_clear()
    try:
        env = templates.environment()
        assert isinstance(env.bytecode_cache, UserBytecodeCache)
        assert Path(env.bytecode_cache.directory).parent == tmp_path / "sevensa-platform"
    finally:
        templates.environment.cache_clear()
