"""Command-line interface: ``hub``. Each sub-command lives in its own module and registers on the group."""

from __future__ import annotations

import importlib

from hub.cli.app import main

# One module per command (or command family); each decorates functions with ``@main.command()``.
_COMMANDS = [
    "hub.cli.check",
    "hub.cli.render",
    "hub.cli.fake_twilio",
    "hub.cli.db",
    "hub.cli.api",
    "hub.cli.worker",
    "hub.cli.send",
    "hub.cli.status",
    "hub.cli.scheduler",
    "hub.cli.run",
    "hub.cli.templates",
    "hub.cli.runs",
    "hub.cli.export",
    "hub.cli.contacts",
]

for _name in _COMMANDS:
    importlib.import_module(_name)

__all__ = ["main"]
