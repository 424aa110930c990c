"""Just enough of the Prometheus text exposition format: labelled counters, gauges and histograms."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

__all__ = ["Counter", "Gauge", "Histogram", "escape_label", "exposition"]

LabelValues = tuple[str, ...]


def escape_label(value: str) -> str:
    """Escape a label value as the text format requires (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{escape_label(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help_text = help_text
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_format_number(v)}" for k, v in items]


class Gauge(_Metric):
    """A value per label set that is replaced wholesale on each refresh."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def replace(self, values: Iterable[tuple[LabelValues, float]]) -> None:
        with self._lock:
            self._values = dict(values)

    def set(self, *labels: str, value: float) -> None:
        with self._lock:
            self._values[labels] = value

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_format_number(v)}" for k, v in items]


class Histogram(_Metric):
    """Cumulative buckets, sum and count per label set. Bucket bounds are in the metric's unit (seconds)."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = (), buckets: Sequence[float] = ()) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = (*sorted(buckets), math.inf)
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(labels, [0] * len(self.buckets))
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[index] += 1
                    break
            self._sums[labels] = self._sums.get(labels, 0.0) + value

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v), self._sums[k]) for k, v in self._counts.items())
        out: list[str] = []
        for labels, counts, total in items:
            running = 0
            for bound, count in zip(self.buckets, counts, strict=True):
                running += count
                le = f'le="{_format_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {running}")
            out.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_format_number(total)}")
            out.append(f"{self.name}_count{_labels(self.label_names, labels)} {running}")
        return out


def exposition(metrics: Iterable[_Metric]) -> str:
    """The text format (version 0.0.4) for a set of metrics, ending with a newline."""
    lines: list[str] = []
    for metric in metrics:
        lines.extend(metric.header())
        lines.extend(metric.lines())
    return "\n".join(lines) + "\n"
