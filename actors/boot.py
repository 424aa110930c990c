"""Entry module of ``dramatiq actors.boot`` (what ``hub worker`` runs): the actors on the configured broker."""

from __future__ import annotations

import actors
from hub.config import load_settings

broker = actors.setup(load_settings())
