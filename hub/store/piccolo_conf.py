"""Piccolo configuration for the ``piccolo`` CLI (``PICCOLO_CONF=hub.store.piccolo_conf``).

``DB`` is looked up on each access: the engine bound by :func:`hub.store.db.connect` when there is one,
else one built from the settings (``config.yaml`` / ``DATABASE_URL``), which is the edge for the CLI.
"""

from __future__ import annotations

from typing import Any

from piccolo.conf.apps import AppRegistry

APP_REGISTRY = AppRegistry(apps=["hub.store.piccolo_app"])


def __getattr__(name: str) -> Any:
    if name == "DB":
        from hub.store.db import engine_for_piccolo

        return engine_for_piccolo()
    raise AttributeError(name)
