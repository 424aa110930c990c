"""The hand-written Prometheus text exposition (pure)."""

from __future__ import annotations

from hub.api.prometheus import Counter, Gauge, Histogram, escape_label, exposition


def test_counter_exposition_with_labels() -> None:
    counter = Counter("hub_x_total", "X things", ("route", "status"))
    counter.inc("/v1/runs/{run_id}", "200")
    counter.inc("/v1/runs/{run_id}", "200")
    assert exposition([counter]).splitlines() == [
        "# HELP hub_x_total X things",
        "# TYPE hub_x_total counter",
        'hub_x_total{route="/v1/runs/{run_id}",status="200"} 2',
    ]


def test_label_values_are_escaped() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    histogram = Histogram("hub_t_seconds", "T", ("kind",), (0.1, 1.0))
    for value in (0.05, 0.5, 2.0):
        histogram.observe(value, "status")
    assert histogram.lines() == [
        'hub_t_seconds_bucket{kind="status",le="0.1"} 1',
        'hub_t_seconds_bucket{kind="status",le="1"} 2',
        'hub_t_seconds_bucket{kind="status",le="+Inf"} 3',
        'hub_t_seconds_sum{kind="status"} 2.55',
        'hub_t_seconds_count{kind="status"} 3',
    ]


def test_gauge_replace_drops_old_label_sets() -> None:
    gauge = Gauge("hub_messages", "rows", ("status",))
    gauge.replace([(("pending",), 3.0), (("sent",), 1.0)])
    gauge.replace([(("sent",), 4.0)])
    assert gauge.lines() == ['hub_messages{status="sent"} 4']
