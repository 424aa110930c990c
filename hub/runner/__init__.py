"""``hub run``: the API, the scheduler and the workers in one process."""

from __future__ import annotations

from hub.runner.banner import banner
from hub.runner.embedded import InProcess, stop_timeout_s
from hub.runner.recovery import RecoveryReport, fan_outs_owed, recover

__all__ = ["InProcess", "RecoveryReport", "banner", "fan_outs_owed", "recover", "stop_timeout_s"]
