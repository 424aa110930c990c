"""The operator's dashboard at ``/ui``: server-rendered pages (Jinja + htmx) over the store and run control."""

from hub.ui.app import template_config, ui_handlers

__all__ = ["template_config", "ui_handlers"]
