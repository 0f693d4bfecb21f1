"""relay/loops.py: RELAY_EVENT_LOOP picks the event loop every process of `relay serve`
runs on (auto, uvloop, asyncio), and a bad value stops `relay serve` before it starts."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from relay import loops
from relay.errors import ConfigError

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a platform with no uvloop build: ``import uvloop`` fails (a None entry in
    sys.modules makes the import system raise ImportError)."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def run_with(monkeypatch: pytest.MonkeyPatch, value: str | None) -> str:
    if value is None:
        monkeypatch.delenv(loops.ENV, raising=False)
    else:
        monkeypatch.setenv(loops.ENV, value)
    return loops.run(loop_module())


def test_asyncio_runs_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_with(monkeypatch, "asyncio").startswith("asyncio")


@needs_uvloop
def test_auto_and_uvloop_run_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_with(monkeypatch, None).startswith("uvloop")
    assert run_with(monkeypatch, "auto").startswith("uvloop")
    assert run_with(monkeypatch, " UVLOOP ").startswith("uvloop")


@pytest.mark.usefixtures("without_uvloop")
def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_with(monkeypatch, None).startswith("asyncio")
    assert run_with(monkeypatch, "auto").startswith("asyncio")


@pytest.mark.usefixtures("without_uvloop")
def test_uvloop_required_but_missing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loops.loop_factory({loops.ENV: "uvloop"})


def test_an_unknown_value_is_a_config_error_and_the_coroutine_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(loops.ENV, "trio")
    main = loop_module()
    with pytest.raises(ConfigError, match="RELAY_EVENT_LOOP='trio': expected one of"):
        loops.run(main)
    assert main.cr_frame is None  # closed, never awaited (warnings are errors here)


def test_relay_serve_refuses_a_bad_value_before_starting(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "RELAY_HOME": str(tmp_path), "RELAY_EVENT_LOOP": "fast"}
    result = subprocess.run(
        [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "RELAY_EVENT_LOOP='fast'" in result.stderr
    assert not (tmp_path / "localorg").exists()  # nothing was started
